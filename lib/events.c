#include "events.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const names[WSK_NEVENTS] = {
    "Harbour Sprint", "Mountain Relay", "City Marathon",
    "River Regatta",  "Valley Derby",
};

/* splitmix64: small, fast, and reproducible from --seed. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int64_t wsk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void wsk_iso8601(int64_t ms, char out[25])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&secs, &tm);
	n = strftime(out, 25, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 25 - n, ".%03uZ", (unsigned)(ms % 1000));
}

static json_t *event_obj(const struct wsk_event *ev)
{
	char when[25];

	wsk_iso8601(ev->updated_ms, when);
	return json_pack("{s:s,s:s,s:I,s:s}", "id", ev->id, "name", ev->name,
			 "score", (json_int_t)ev->score, "updatedAt", when);
}

static char *dump(json_t *j, size_t *len)
{
	char *s;

	if (!j)
		return NULL;
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s)
		*len = strlen(s);
	return s;
}

static unsigned pick_delay(struct wsk_events *e)
{
	unsigned span = e->max_ms - e->min_ms;

	return e->min_ms +
	       (span ? (unsigned)(next_rand(&e->rng) % (span + 1)) : 0);
}

static void on_timer(uv_timer_t *t);

/* Schedules event i's next change from when the last one was due, not
 * from when a busy loop got round to it, so the rate holds under load;
 * a timer far behind (a paused simulator) starts afresh. */
static void schedule(struct wsk_events *e, int i, int fresh)
{
	uint64_t now = uv_now(e->loop), d = pick_delay(e);

	if (fresh || e->due[i] + e->max_ms < now)
		e->due[i] = now;
	e->due[i] += d;
	uv_timer_start(&e->timers[i], on_timer,
		       e->due[i] > now ? e->due[i] - now : 0, 0);
}

static void on_timer(uv_timer_t *t)
{
	struct wsk_events *e = t->data;
	int i = (int)(t - e->timers);
	struct wsk_event *ev = &e->ev[i];
	json_t *msg;
	char *s;
	size_t len;

	if (e->publish) {
		/* Shared sequencing: propose the change; it comes back through
		 * wsk_events_apply with its seq, on every instance alike. */
		struct wsk_event next = *ev;
		json_t *data;
		char *d;
		size_t dlen;

		next.score += 1 + (long long)(next_rand(&e->rng) % 3);
		next.updated_ms = wsk_now_ms();
		data = event_obj(&next);
		d = dump(data, &dlen);
		if (d) {
			e->publish(e->arg, next.id, d, dlen, next.updated_ms);
			free(d);
		}
		schedule(e, i, 0);
		return;
	}
	ev->score += 1 + (long long)(next_rand(&e->rng) % 3);
	ev->updated_ms = wsk_now_ms();
	e->seq++;
	msg = json_pack("{s:s,s:I,s:I,s:o}", "type", "UPDATE", "seq",
			(json_int_t)e->seq, "ts", (json_int_t)ev->updated_ms,
			"data", event_obj(ev));
	s = dump(msg, &len);
	if (s) {
		e->on_update(e->arg, e->seq, s, len);
		free(s);
	}
	schedule(e, i, 0);
}

int wsk_events_init(struct wsk_events *e, uv_loop_t *loop, unsigned min_ms,
		    unsigned max_ms, int have_seed, uint64_t seed,
		    wsk_update_cb cb, void *arg)
{
	static const char b64url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[WSK_EPOCH_LEN - 1];
	int64_t now = wsk_now_ms();
	int i;

	memset(e, 0, sizeof(*e));
	e->loop = loop;
	e->min_ms = min_ms;
	e->max_ms = max_ms;
	e->on_update = cb;
	e->arg = arg;
	/* The epoch must differ on every start, seeded or not: a client that
	 * resumes across a restart must see the sequence start anew. */
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	for (i = 0; i < WSK_EPOCH_LEN - 1; i++)
		e->epoch[i] = b64url[raw[i] & 63];
	if (have_seed)
		e->rng = seed;
	else if (RAND_bytes((unsigned char *)&e->rng, sizeof(e->rng)) != 1)
		return -EIO;
	for (i = 0; i < WSK_NEVENTS; i++) {
		struct wsk_event *ev = &e->ev[i];

		snprintf(ev->id, sizeof(ev->id), "EVENT#%02d", i);
		snprintf(ev->name, sizeof(ev->name), "%s", names[i]);
		ev->score = (long long)(next_rand(&e->rng) % 50);
		ev->updated_ms = now;
	}
	return 0;
}

int wsk_events_start(struct wsk_events *e)
{
	int i, r;

	for (i = 0; i < WSK_NEVENTS; i++) {
		r = uv_timer_init(e->loop, &e->timers[i]);
		if (r < 0)
			return r;
		e->timers[i].data = e;
		schedule(e, i, 1);
	}
	return 0;
}

void wsk_events_close(struct wsk_events *e)
{
	int i;

	if (e->closing)
		return;
	e->closing = 1;
	for (i = 0; i < WSK_NEVENTS; i++)
		if (e->timers[i].loop) /* started */
			uv_close((uv_handle_t *)&e->timers[i], NULL);
}

int wsk_events_find(const struct wsk_events *e, const char *id)
{
	int i;

	for (i = 0; i < WSK_NEVENTS; i++)
		if (strcmp(e->ev[i].id, id) == 0)
			return i;
	return -1;
}

static json_t *all_array(const struct wsk_events *e)
{
	json_t *a = json_array();
	int i;

	for (i = 0; a && i < WSK_NEVENTS; i++)
		json_array_append_new(a, event_obj(&e->ev[i]));
	return a;
}

char *wsk_events_json_all(const struct wsk_events *e, size_t *len)
{
	return dump(all_array(e), len);
}

char *wsk_events_json_one(const struct wsk_events *e, int i, size_t *len)
{
	return dump(event_obj(&e->ev[i]), len);
}

char *wsk_events_json_initial(const struct wsk_events *e, size_t *len)
{
	return dump(json_pack("{s:s,s:s,s:I,s:o}", "type", "INITIAL", "epoch",
			      e->epoch, "seq", (json_int_t)e->seq, "data",
			      all_array(e)),
		    len);
}

void wsk_events_pause(struct wsk_events *e, int paused)
{
	int i;

	if (e->closing)
		return;
	for (i = 0; i < WSK_NEVENTS; i++) {
		if (!e->timers[i].loop)
			continue;
		if (paused)
			uv_timer_stop(&e->timers[i]);
		else if (!uv_is_active((uv_handle_t *)&e->timers[i]))
			schedule(e, i, 1);
	}
}

/* "2026-11-25T20:40:26.123Z" to ms since the Unix epoch, or -1. */
static int64_t parse_iso(const char *s)
{
	struct tm tm = {0};
	unsigned ms = 0;
	char *end;

	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -1;
	if (*end == '.')
		ms = (unsigned)strtoul(end + 1, &end, 10);
	return (int64_t)timegm(&tm) * 1000 + ms;
}

int wsk_events_set_one(struct wsk_events *e, const char *json, size_t len)
{
	json_t *j = json_loadb(json, len, 0, NULL);
	const char *id, *when;
	json_int_t score;
	int i, r = -1;

	if (j && json_unpack(j, "{s:s,s:I,s:s}", "id", &id, "score", &score,
			     "updatedAt", &when) == 0) {
		i = wsk_events_find(e, id);
		if (i >= 0) {
			e->ev[i].score = score;
			e->ev[i].updated_ms = parse_iso(when);
			r = 0;
		}
	}
	json_decref(j);
	return r;
}

int wsk_events_apply(struct wsk_events *e, const char *json, size_t len,
		     uint64_t *seq)
{
	json_t *j = json_loadb(json, len, 0, NULL), *data;
	json_int_t s;
	char *d;
	int r = -1;

	if (j && json_unpack(j, "{s:I,s:o}", "seq", &s, "data", &data) == 0 &&
	    s > 0) {
		d = json_dumps(data, JSON_COMPACT);
		if (d && wsk_events_set_one(e, d, strlen(d)) == 0) {
			e->seq = (uint64_t)s;
			*seq = (uint64_t)s;
			r = 0;
		}
		free(d);
	}
	json_decref(j);
	return r;
}
