/* A one-shot timer with nanosecond resolution on a libuv loop.
 *
 * libuv's timers count whole milliseconds: a load generator pacing
 * 20,000 probes a second with them sends about twenty at once every
 * millisecond, and then measures its own bursts rather than the server.
 * This timer is a Linux timerfd watched by a uv_poll_t, set to an
 * absolute time on uv_hrtime()'s clock (CLOCK_MONOTONIC).
 *
 * Like a uv_timer_t it belongs to one loop and one thread, keeps the loop
 * alive while set, and must be closed before its loop ends. */
#ifndef WSK_HRTIMER_H
#define WSK_HRTIMER_H

#include <stdint.h>
#include <uv.h>

struct wsk_hrtimer;
typedef void (*wsk_hrtimer_cb)(struct wsk_hrtimer *t);

struct wsk_hrtimer {
	uv_poll_t poll;
	int fd;
	int armed; /* set, and not yet fired or stopped */
	wsk_hrtimer_cb cb;
	void (*close_cb)(struct wsk_hrtimer *t);
	void *data; /* the caller's */
};

/* Makes t, stopped. Returns 0 or a negative errno. */
int wsk_hrtimer_init(uv_loop_t *loop, struct wsk_hrtimer *t);

/* Calls cb once, at or soon after due (uv_hrtime() nanoseconds); a due
 * time already past fires on the next loop turn. Replaces any earlier
 * setting. Returns 0 or a negative errno. */
int wsk_hrtimer_start(struct wsk_hrtimer *t, wsk_hrtimer_cb cb, uint64_t due);

void wsk_hrtimer_stop(struct wsk_hrtimer *t);

/* 1 while t is set and has not fired (nor been stopped). */
static inline int wsk_hrtimer_is_set(const struct wsk_hrtimer *t)
{
	return t->armed;
}

/* Stops t and releases it; close_cb (may be NULL) runs once libuv has
 * let go of it, after which t's memory is the caller's again. */
void wsk_hrtimer_close(struct wsk_hrtimer *t,
		       void (*close_cb)(struct wsk_hrtimer *t));

#endif
