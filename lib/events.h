/* The event model: five events whose scores change at random intervals,
 * the sequence numbers of those changes, and their JSON.
 *
 * The simulator runs on the caller's loop with one timer per event. Every
 * change gets the next seq and is handed to on_update as the UPDATE
 * message's JSON text, serialized once; what happens to it next (framing,
 * fan-out, history) is the caller's business. */
#ifndef WSK_EVENTS_H
#define WSK_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define WSK_NEVENTS 5
#define WSK_EPOCH_LEN 12 /* characters plus NUL */

struct wsk_event {
	char id[24];
	char name[40];
	long long score;
	int64_t updated_ms; /* ms since the Unix epoch */
};

/* Called for every change with the UPDATE JSON (not NUL-terminated, valid
 * only during the call). */
typedef void (*wsk_update_cb)(void *arg, uint64_t seq, const char *json,
			      size_t len);

struct wsk_events {
	uv_loop_t *loop;
	uv_timer_t timers[WSK_NEVENTS];
	uint64_t due[WSK_NEVENTS]; /* loop time each timer is meant to fire */
	struct wsk_event ev[WSK_NEVENTS];
	uint64_t seq;
	char epoch[WSK_EPOCH_LEN];
	uint64_t rng;
	unsigned min_ms, max_ms;
	wsk_update_cb on_update;
	/* Set for shared sequencing (Redis): the simulator proposes changes
	 * here instead of committing them (see wsk_events_apply). */
	void (*publish)(void *arg, const char *id, const char *data, size_t len,
			int64_t ts);
	void *arg;
	int closing;
};

/* Initializes the model: scores from the seed (a random seed when
 * have_seed is 0), a fresh random epoch, seq 0. Returns 0 or -errno. */
int wsk_events_init(struct wsk_events *e, uv_loop_t *loop, unsigned min_ms,
		    unsigned max_ms, int have_seed, uint64_t seed,
		    wsk_update_cb cb, void *arg);
/* Starts the timers. Returns 0 or a libuv error. */
int wsk_events_start(struct wsk_events *e);
/* Stops and closes the timers; they are closed when the loop has run
 * their close callbacks (no memory is owned besides e itself). */
void wsk_events_close(struct wsk_events *e);

/* Stops (paused set) or restarts the simulator's timers. */
void wsk_events_pause(struct wsk_events *e, int paused);

/* Takes an UPDATE message sequenced elsewhere: sets its event's state and
 * the current seq. Returns 0 and sets *seq, or -1 if it does not parse. */
int wsk_events_apply(struct wsk_events *e, const char *json, size_t len,
		     uint64_t *seq);

/* Sets one event's state from its JSON object. Returns 0 or -1. */
int wsk_events_set_one(struct wsk_events *e, const char *json, size_t len);

/* Returns the index of the event with that id, or -1. */
int wsk_events_find(const struct wsk_events *e, const char *id);

/* JSON texts, newly allocated (free() them), or NULL when out of memory:
 * the array of all events; one event; the INITIAL message. */
char *wsk_events_json_all(const struct wsk_events *e, size_t *len);
char *wsk_events_json_one(const struct wsk_events *e, int i, size_t *len);
char *wsk_events_json_initial(const struct wsk_events *e, size_t *len);

/* Milliseconds since the Unix epoch, from the real-time clock. */
int64_t wsk_now_ms(void);
/* Formats ms as ISO-8601 UTC with milliseconds into out (25 bytes). */
void wsk_iso8601(int64_t ms, char out[25]);

#endif
