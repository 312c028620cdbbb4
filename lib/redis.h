/* Scale-out on Redis: several ws-serve instances share one event stream.
 *
 * Redis holds the epoch, the seq counter, each event's state, the last
 * --history UPDATEs (a stream whose entry ids are the seqs) and a lease.
 * The lease holder (the leader) runs the simulator and publishes each
 * change through one Lua script that takes the next seq, appends to the
 * stream, stores the state and publishes, atomically. Every instance, the
 * leader included, takes UPDATEs from the subscription in seq order and
 * fills any gap from the stream, so all instances deliver the same seqs
 * in the same order. hiredis 0.14 has no async timeouts: a libuv timer
 * ticks every lease/3 and declares Redis down when a reply is late. */
#ifndef WSK_REDIS_H
#define WSK_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct wsk_redis;

struct wsk_redis_cbs {
	/* The sequence (re)starts at this epoch after seq: the caller drops
	 * its history; UPDATEs follow from seq + 1. */
	void (*reset)(void *arg, const char *epoch, uint64_t seq);
	/* This instance's state of event i (0 to n-1) as its id and JSON,
	 * newly allocated (free() the JSON), or NULL past the last event:
	 * offered to Redis (HSETNX) when an epoch is loaded, so that events
	 * not changed yet start out the same on every instance. */
	char *(*own_state)(void *arg, int i, const char **id, size_t *len);
	/* One event's stored state, while loading after a reset. */
	void (*state)(void *arg, const char *json, size_t len);
	/* The next UPDATE, seq one above the previous one. */
	void (*update)(void *arg, uint64_t seq, const char *json, size_t len);
	/* While loading after a reset: an UPDATE for the history only. */
	void (*replay)(void *arg, uint64_t seq, const char *json, size_t len);
	/* The epoch's state and history are loaded: clients may take a
	 * snapshot now. */
	void (*loaded)(void *arg);
	/* Redis reachable (up) or not, with a reason. */
	void (*link)(void *arg, int up, const char *why);
	/* This instance took (1) or lost (0) the lease. */
	void (*leader)(void *arg, int leader);
};

struct wsk_redis_opts {
	const char *url; /* redis://HOST[:PORT][/DB] */
	unsigned lease_ms;
	size_t history;
};

/* Parses the URL and starts connecting. Returns 0 and sets *out, or -1 with
 * a message in err (a bad URL); connection trouble is reported through
 * link() and retried with backoff forever. */
int wsk_redis_start(struct wsk_redis **out, uv_loop_t *loop,
		    const struct wsk_redis_opts *opts,
		    const struct wsk_redis_cbs *cbs, void *arg, char *err,
		    size_t errlen);

/* Leader only: proposes a change of event id to data (its JSON object).
 * Dropped silently when Redis is down or this instance is not leader. */
void wsk_redis_publish(struct wsk_redis *r, const char *id, const char *data,
		       size_t len, int64_t ts);

/* Checks a redis:// URL without connecting. Returns 0, or -1 with a
 * message in err. */
int wsk_redis_check_url(const char *url, char *err, size_t errlen);

int wsk_redis_is_up(const struct wsk_redis *r);
int wsk_redis_is_leader(const struct wsk_redis *r);
/* "HOST:PORT", for log lines. */
const char *wsk_redis_addr(const struct wsk_redis *r);

/* Disconnects and closes its handles; done runs when all are closed. The
 * lease is not released: another instance takes over when it expires. */
void wsk_redis_close(struct wsk_redis *r, void (*done)(void *arg), void *arg);

#endif
