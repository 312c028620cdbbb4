/* Unit tests for lib/hrtimer: it fires once, never before its time, can be
 * set again from its own callback, and stopped or closed without firing.
 * Only lower bounds on time are checked: how late a timer fires depends
 * on the machine's load. */
#include "hrtimer.h"
#include "tap.h"

#include <uv.h>

struct probe {
	struct wsk_hrtimer t;
	uint64_t due[4];
	uint64_t fired[4];
	int n, want, closed;
};

static void on_closed(struct wsk_hrtimer *t)
{
	((struct probe *)t->data)->closed = 1;
}

static void on_fire(struct wsk_hrtimer *t)
{
	struct probe *p = t->data;

	p->fired[p->n++] = uv_hrtime();
	if (p->n < p->want) {
		/* 300 us apart: under libuv's millisecond resolution. */
		p->due[p->n] = p->due[p->n - 1] + 300000;
		ok(wsk_hrtimer_start(t, on_fire, p->due[p->n]) == 0,
		   "set again from its callback");
	} else {
		wsk_hrtimer_close(t, on_closed);
	}
}

static void never(struct wsk_hrtimer *t)
{
	((struct probe *)t->data)->n++;
}

int main(void)
{
	uv_loop_t loop;
	struct probe p = {0}, q = {0};
	int i, early = 0;

	uv_loop_init(&loop);

	/* Three expirations in a row, each set from the one before. */
	ok(wsk_hrtimer_init(&loop, &p.t) == 0, "init");
	p.t.data = &p;
	p.want = 3;
	p.due[0] = uv_hrtime() + 2000000;
	ok(wsk_hrtimer_start(&p.t, on_fire, p.due[0]) == 0, "start");
	uv_run(&loop, UV_RUN_DEFAULT);
	ok(p.n == 3, "fired three times (%d)", p.n);
	for (i = 0; i < p.n; i++)
		early += p.fired[i] < p.due[i];
	ok(early == 0, "never before its due time");
	ok(p.closed, "close callback ran");

	/* Stopped before its time: never fires, and the loop ends. */
	ok(wsk_hrtimer_init(&loop, &q.t) == 0, "init another");
	q.t.data = &q;
	ok(wsk_hrtimer_start(&q.t, never, uv_hrtime() + 1000000) == 0,
	   "start it");
	wsk_hrtimer_stop(&q.t);
	uv_run(&loop, UV_RUN_DEFAULT);
	ok(q.n == 0, "a stopped timer does not fire");

	/* A due time already past fires, once, and then the loop ends:
	 * fired and not set again, the timer holds the loop no longer.
	 * Closed after starting, it does not fire. */
	q.n = 0;
	ok(wsk_hrtimer_start(&q.t, never, 1) == 0, "start in the past");
	uv_run(&loop, UV_RUN_DEFAULT);
	ok(q.n == 1, "a past due time fires once (%d)", q.n);
	ok(wsk_hrtimer_start(&q.t, never, uv_hrtime() + 1000000) == 0,
	   "start again");
	wsk_hrtimer_close(&q.t, on_closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	ok(q.n == 1 && q.closed, "closed, it does not fire");

	ok(uv_loop_close(&loop) == 0, "no handle left on the loop");
	return done();
}
