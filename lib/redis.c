#include "redis.h"

#include <curl/curl.h>
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K_EPOCH "wskit:epoch"
#define K_SEQ "wskit:seq"
#define K_STATE "wskit:state"
#define K_STREAM "wskit:stream"
#define K_LEASE "wskit:lease"
#define CHANNEL "wskit:updates"

/* Once per tick: make sure an epoch exists (a Redis that came back empty
 * starts a new one), take or renew the lease, and report the epoch, the
 * lease and the newest seq. */
static const char tick_lua[] =
    "redis.call('SET', KEYS[2], ARGV[3], 'NX')\n"
    "local ep = redis.call('GET', KEYS[2])\n"
    "local owner = redis.call('GET', KEYS[1])\n"
    "local lead = 0\n"
    "if owner == ARGV[1] then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2]) lead = 1\n"
    "elseif not owner then\n"
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) lead = 1\n"
    "end\n"
    "return {ep, lead, tonumber(redis.call('GET', KEYS[3]) or '0')}\n";

/* The leader's change: the next seq, the stream, the state and the
 * publication in one step, so no instance can see them out of order. The
 * epoch check keeps a change made before a flush out of the new epoch. */
static const char publish_lua[] =
    "if redis.call('GET', KEYS[4]) ~= ARGV[5] then\n"
    "  return redis.error_reply('EPOCH changed')\n"
    "end\n"
    "if redis.call('GET', KEYS[5]) ~= ARGV[7] then\n"
    "  return redis.error_reply('LEASE lost')\n"
    "end\n"
    "local seq = redis.call('INCR', KEYS[1])\n"
    "local msg = '{\"type\":\"UPDATE\",\"seq\":' .. seq .. ',\"ts\":' .. "
    "ARGV[3] .. ',\"data\":' .. ARGV[2] .. '}'\n"
    "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], seq .. '-0', 'm', "
    "msg)\n"
    "redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])\n"
    "redis.call('PUBLISH', ARGV[6], ARGV[5] .. ' ' .. msg)\n"
    "return seq\n";

struct wsk_redis {
	uv_loop_t *loop;
	struct wsk_redis_opts opts;
	struct wsk_redis_cbs cbs;
	void *arg;
	char host[256], addr[300];
	int port, db;
	char id[24]; /* this instance, for the lease */
	redisAsyncContext *cmd, *sub;
	uv_timer_t tick, retry;
	unsigned backoff_ms;
	uint64_t sent_at; /* loop time of the oldest unanswered command */
	int pending;	  /* commands without a reply yet */
	int up, leader, loaded, catching_up, closing;
	char epoch[64]; /* the epoch of what we delivered */
	uint64_t last;	/* the newest seq delivered */
	uint64_t seen;	/* the newest seq seen while catching up */
	void (*done)(void *);
	void *done_arg;
	int handles;
};

static void go_down(struct wsk_redis *r, const char *why);
static void catch_up(struct wsk_redis *r);

/* ---- commands with a deadline ---- */

static void sent(struct wsk_redis *r)
{
	if (r->pending++ == 0)
		r->sent_at = uv_now(r->loop);
}

static void answered(struct wsk_redis *r)
{
	if (r->pending > 0 && --r->pending == 0)
		r->sent_at = 0;
	else
		r->sent_at = uv_now(r->loop);
}

/* A reply callback's common start: NULL means the context went away. */
static int reply_ok(struct wsk_redis *r, redisAsyncContext *c,
		    redisReply *reply)
{
	if (c != r->cmd)
		return 0; /* a context already given up */
	answered(r);
	if (!reply) {
		go_down(r, c->errstr[0] ? c->errstr : "connection lost");
		return 0;
	}
	return 1;
}

/* ---- delivering ---- */

static uint64_t msg_seq(const char *m)
{
	const char *p = strstr(m, "\"seq\":");

	return p ? strtoull(p + 6, NULL, 10) : 0;
}

/* Hands the UPDATE m on in seq order; while loading an epoch it only
 * rebuilds the caller's history (replay), since its clients get the
 * snapshot when the load is done. */
static void deliver(struct wsk_redis *r, const char *m, size_t len, int replay)
{
	uint64_t seq = msg_seq(m);

	if (seq <= r->last)
		return;
	if (seq != r->last + 1) {
		/* The stream was trimmed past what we had: start the history
		 * anew here; clients see the gap as after any loss. */
		r->cbs.reset(r->arg, r->epoch, seq - 1);
	}
	r->last = seq;
	if (replay)
		r->cbs.replay(r->arg, seq, m, len);
	else
		r->cbs.update(r->arg, seq, m, len);
}

/* XRANGE replies: [[id, [field, value, ...]], ...]. */
static void deliver_entries(struct wsk_redis *r, redisReply *a, int replay)
{
	size_t i, n = a->elements;

	for (i = 0; i < n; i++) {
		redisReply *e = a->element[i], *f;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 2)
			continue;
		f = e->element[1];
		if (f->type == REDIS_REPLY_ARRAY && f->elements >= 2 &&
		    f->element[1]->type == REDIS_REPLY_STRING)
			deliver(r, f->element[1]->str, f->element[1]->len,
				replay);
	}
}

static void on_range(redisAsyncContext *c, void *rep, void *priv)
{
	struct wsk_redis *r = priv;
	redisReply *reply = rep;

	if (!reply_ok(r, c, reply))
		return;
	r->catching_up = 0;
	if (reply->type == REDIS_REPLY_ARRAY)
		deliver_entries(r, reply, 0);
	/* Publications seen meanwhile that the range did not reach. */
	if (r->seen > r->last)
		catch_up(r);
}

static void catch_up(struct wsk_redis *r)
{
	char from[32];

	if (r->catching_up || !r->cmd || !r->loaded)
		return;
	snprintf(from, sizeof(from), "%llu-0", (unsigned long long)r->last + 1);
	r->catching_up = 1;
	if (redisAsyncCommand(r->cmd, on_range, r, "XRANGE %s %s + COUNT %d",
			      K_STREAM, from, 100000) == REDIS_OK)
		sent(r);
}

static void on_message(redisAsyncContext *c, void *rep, void *priv)
{
	struct wsk_redis *r = priv;
	redisReply *reply = rep, *m;
	size_t elen;
	char *sp;
	uint64_t seq;

	if (c != r->sub || !reply || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 3)
		return;
	m = reply->element[2];
	if (m->type != REDIS_REPLY_STRING ||
	    strcmp(reply->element[0]->str, "message") != 0)
		return;
	/* "EPOCH {json}": a message of another epoch waits for the tick,
	 * which reloads. */
	sp = memchr(m->str, ' ', m->len);
	if (!sp)
		return;
	elen = (size_t)(sp - m->str);
	if (!r->loaded || elen != strlen(r->epoch) ||
	    memcmp(m->str, r->epoch, elen) != 0)
		return;
	seq = msg_seq(sp + 1);
	if (r->catching_up) {
		if (seq > r->seen)
			r->seen = seq;
		return;
	}
	if (seq == r->last + 1)
		deliver(r, sp + 1, m->len - elen - 1, 0);
	else if (seq > r->last + 1) {
		r->seen = seq;
		catch_up(r);
	}
}

/* ---- loading an epoch ---- */

static void on_load_stream(redisAsyncContext *c, void *rep, void *priv)
{
	struct wsk_redis *r = priv;
	redisReply *reply = rep;

	if (!reply_ok(r, c, reply))
		return;
	if (reply->type == REDIS_REPLY_ARRAY)
		deliver_entries(r, reply, 1);
	r->loaded = 1;
	r->catching_up = 0;
	r->cbs.loaded(r->arg);
	catch_up(r); /* anything newer than the newest entry read */
}

static void on_load_state(redisAsyncContext *c, void *rep, void *priv)
{
	struct wsk_redis *r = priv;
	redisReply *reply = rep;
	size_t i;

	if (!reply_ok(r, c, reply))
		return;
	if (reply->type == REDIS_REPLY_ARRAY)
		for (i = 1; i < reply->elements; i += 2)
			if (reply->element[i]->type == REDIS_REPLY_STRING)
				r->cbs.state(r->arg, reply->element[i]->str,
					     reply->element[i]->len);
}

/* A new (or first) epoch: start the caller's history at the oldest entry
 * the stream still has, then replay the stream into it. */
static void on_hsetnx(redisAsyncContext *c, void *rep, void *priv)
{
	(void)reply_ok(priv, c, rep);
}

static void load(struct wsk_redis *r, const char *epoch, uint64_t seq)
{
	uint64_t keep = r->opts.history < seq ? r->opts.history : seq;
	char from[32];
	int i;

	snprintf(r->epoch, sizeof(r->epoch), "%s", epoch);
	r->loaded = 0;
	r->catching_up = 1;
	r->seen = 0;
	r->last = seq - keep;
	r->cbs.reset(r->arg, r->epoch, r->last);
	/* The first instance to get here defines the state of the events the
	 * new epoch has not changed yet; the others read it back below. */
	for (i = 0;; i++) {
		const char *id;
		size_t len;
		char *json = r->cbs.own_state(r->arg, i, &id, &len);

		if (!json)
			break;
		if (redisAsyncCommand(r->cmd, on_hsetnx, r, "HSETNX %s %s %b",
				      K_STATE, id, json, len) == REDIS_OK)
			sent(r);
		free(json);
	}
	if (redisAsyncCommand(r->cmd, on_load_state, r, "HGETALL %s",
			      K_STATE) == REDIS_OK)
		sent(r);
	/* From the first entry wanted by its id (entry ids are "SEQ-0"), not
	 * the newest ones by count: entries added since seq was read would
	 * push the oldest wanted ones out of a count. Newer ones than these
	 * come from catch_up once this reply is in. */
	snprintf(from, sizeof(from), "%llu-0", (unsigned long long)r->last + 1);
	if (redisAsyncCommand(r->cmd, on_load_stream, r,
			      "XRANGE %s %s + COUNT %llu", K_STREAM, from,
			      (unsigned long long)(keep ? keep : 1)) ==
	    REDIS_OK)
		sent(r);
}

/* ---- the tick: liveness, epoch, lease ---- */

static void new_epoch(char out[16])
{
	static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
				     "opqrstuvwxyz0123456789-_";
	unsigned char raw[11];
	int i;

	RAND_bytes(raw, sizeof(raw));
	for (i = 0; i < 11; i++)
		out[i] = b64url[raw[i] & 63];
	out[11] = '\0';
}

static void on_tick_reply(redisAsyncContext *c, void *rep, void *priv)
{
	struct wsk_redis *r = priv;
	redisReply *reply = rep;
	const char *epoch;
	uint64_t seq;
	int lead;

	if (!reply_ok(r, c, reply))
		return;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING) {
		go_down(r, reply->type == REDIS_REPLY_ERROR
			       ? reply->str
			       : "unexpected reply");
		return;
	}
	epoch = reply->element[0]->str;
	lead = (int)reply->element[1]->integer;
	seq = (uint64_t)reply->element[2]->integer;
	if (!r->up) {
		r->up = 1;
		r->backoff_ms = 0;
		r->cbs.link(r->arg, 1, NULL);
	}
	if (strcmp(epoch, r->epoch) != 0)
		load(r, epoch, seq);
	else if (seq > r->last && !r->catching_up)
		catch_up(r); /* a publication the subscription missed */
	if (lead != r->leader) {
		r->leader = lead;
		r->cbs.leader(r->arg, lead);
	}
}

static void on_tick(uv_timer_t *t)
{
	struct wsk_redis *r = t->data;
	char lease[16], epoch[16];

	if (!r->cmd)
		return;
	/* No reply within two ticks: Redis is stopped or the network is. */
	if (r->pending &&
	    uv_now(r->loop) - r->sent_at > 2 * r->opts.lease_ms / 3) {
		go_down(r, "no reply in time");
		return;
	}
	snprintf(lease, sizeof(lease), "%u", r->opts.lease_ms);
	new_epoch(epoch);
	if (redisAsyncCommand(r->cmd, on_tick_reply, r,
			      "EVAL %s 3 %s %s %s %s %s %s", tick_lua, K_LEASE,
			      K_EPOCH, K_SEQ, r->id, lease, epoch) == REDIS_OK)
		sent(r);
}

/* ---- connections ---- */

static void on_publish_reply(redisAsyncContext *c, void *rep, void *priv)
{
	struct wsk_redis *r = priv;

	(void)reply_ok(r, c, rep);
}

void wsk_redis_publish(struct wsk_redis *r, const char *id, const char *data,
		       size_t len, int64_t ts)
{
	char ts_s[32], maxlen[32];

	if (!r->up || !r->leader || !r->cmd || !r->loaded)
		return;
	snprintf(ts_s, sizeof(ts_s), "%lld", (long long)ts);
	snprintf(maxlen, sizeof(maxlen), "%zu",
		 r->opts.history ? r->opts.history : 1);
	if (redisAsyncCommand(r->cmd, on_publish_reply, r,
			      "EVAL %s 5 %s %s %s %s %s %s %b %s %s %s %s %s",
			      publish_lua, K_SEQ, K_STREAM, K_STATE, K_EPOCH,
			      K_LEASE, id, data, len, ts_s, maxlen, r->epoch,
			      CHANNEL, r->id) == REDIS_OK)
		sent(r);
}

static void connect_all(struct wsk_redis *r);

static void on_retry(uv_timer_t *t)
{
	connect_all(t->data);
}

static void drop(redisAsyncContext **cp)
{
	redisAsyncContext *c = *cp;

	*cp = NULL;
	if (c)
		redisAsyncFree(c); /* pending callbacks run with NULL replies */
}

static void go_down(struct wsk_redis *r, const char *why)
{
	/* Down already, with the retry set (the second context's callback).
	 * Both NULL with no retry set is a connect that failed at once, as
	 * when the name does not resolve: that retries too. */
	if (!r->cmd && !r->sub && uv_is_active((uv_handle_t *)&r->retry))
		return;
	drop(&r->cmd);
	drop(&r->sub);
	r->pending = 0;
	r->catching_up = 0;
	if (r->leader) {
		r->leader = 0;
		r->cbs.leader(r->arg, 0);
	}
	if (r->up || r->backoff_ms == 0)
		r->cbs.link(r->arg, 0, why);
	r->up = 0;
	if (r->closing)
		return;
	r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : 250;
	if (r->backoff_ms > 5000)
		r->backoff_ms = 5000;
	uv_timer_start(&r->retry, on_retry, r->backoff_ms, 0);
}

static void on_connect(const redisAsyncContext *c, int status)
{
	struct wsk_redis *r = c->data;

	if (status != REDIS_OK && (c == r->cmd || c == r->sub)) {
		/* hiredis frees the context after this callback. */
		if (c == r->cmd)
			r->cmd = NULL;
		else
			r->sub = NULL;
		go_down(r, c->errstr);
	}
}

static void on_disconnect(const redisAsyncContext *c, int status)
{
	struct wsk_redis *r = c->data;

	(void)status;
	if (c == r->cmd || c == r->sub) {
		if (c == r->cmd)
			r->cmd = NULL;
		else
			r->sub = NULL;
		go_down(r, c->errstr[0] ? c->errstr : "connection closed");
	}
}

static redisAsyncContext *open_ctx(struct wsk_redis *r)
{
	redisAsyncContext *c = redisAsyncConnect(r->host, r->port);

	if (!c)
		return NULL;
	if (c->err || redisLibuvAttach(c, r->loop) != REDIS_OK) {
		redisAsyncFree(c);
		return NULL;
	}
	c->data = r;
	redisAsyncSetConnectCallback(c, on_connect);
	redisAsyncSetDisconnectCallback(c, on_disconnect);
	if (r->db)
		redisAsyncCommand(c, NULL, NULL, "SELECT %d", r->db);
	return c;
}

static void connect_all(struct wsk_redis *r)
{
	if (r->closing)
		return;
	r->cmd = open_ctx(r);
	r->sub = open_ctx(r);
	if (!r->cmd || !r->sub) {
		go_down(r, "cannot create a connection");
		return;
	}
	/* Subscribe first: what is published while the epoch loads is then
	 * seen, and the catch-up after loading covers the rest. After an
	 * outage the first tick finds the same epoch and catches up from the
	 * last seq delivered, or a new one and loads it. */
	redisAsyncCommand(r->sub, on_message, r, "SUBSCRIBE %s", CHANNEL);
	on_tick(&r->tick);
}

/* ---- start and stop ---- */

static int parse_url(struct wsk_redis *r, const char *url, char *err,
		     size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	int ok = 0;

	if (u &&
	    curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) ==
		CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    strcmp(scheme, "redis") == 0 &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    strlen(host) < sizeof(r->host)) {
		snprintf(r->host, sizeof(r->host), "%s", host);
		r->port = 6379;
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
			r->port = atoi(port);
		r->db = 0;
		ok = r->port > 0 && r->port < 65536;
		if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK &&
		    path[0] == '/' && path[1]) {
			/* The database number, digits only. */
			ok = ok && strlen(path + 1) < 6 &&
			     strspn(path + 1, "0123456789") == strlen(path + 1);
			r->db = atoi(path + 1);
		}
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	if (!ok)
		snprintf(err, errlen,
			 "'%s' is not a redis://HOST[:PORT][/DB] URL", url);
	return ok ? 0 : -1;
}

int wsk_redis_start(struct wsk_redis **out, uv_loop_t *loop,
		    const struct wsk_redis_opts *opts,
		    const struct wsk_redis_cbs *cbs, void *arg, char *err,
		    size_t errlen)
{
	struct wsk_redis *r = calloc(1, sizeof(*r));
	unsigned char raw[8];
	int i;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (parse_url(r, opts->url, err, errlen) < 0) {
		free(r);
		return -1;
	}
	r->loop = loop;
	r->opts = *opts;
	r->cbs = *cbs;
	r->arg = arg;
	snprintf(r->addr, sizeof(r->addr), "%s:%d", r->host, r->port);
	RAND_bytes(raw, sizeof(raw));
	for (i = 0; i < 8; i++)
		snprintf(r->id + 2 * i, 3, "%02x", raw[i]);
	uv_timer_init(loop, &r->tick);
	uv_timer_init(loop, &r->retry);
	r->tick.data = r->retry.data = r;
	r->handles = 2;
	uv_timer_start(&r->tick, on_tick, opts->lease_ms / 3,
		       opts->lease_ms / 3);
	connect_all(r);
	*out = r;
	return 0;
}

int wsk_redis_check_url(const char *url, char *err, size_t errlen)
{
	struct wsk_redis *r = calloc(1, sizeof(*r));
	int rc;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = parse_url(r, url, err, errlen);
	free(r);
	return rc;
}

int wsk_redis_is_up(const struct wsk_redis *r)
{
	return r->up;
}

int wsk_redis_is_leader(const struct wsk_redis *r)
{
	return r->leader;
}

const char *wsk_redis_addr(const struct wsk_redis *r)
{
	return r->addr;
}

static void on_closed(uv_handle_t *h)
{
	struct wsk_redis *r = h->data;

	if (--r->handles == 0) {
		void (*done)(void *) = r->done;
		void *arg = r->done_arg;

		free(r);
		if (done)
			done(arg);
	}
}

void wsk_redis_close(struct wsk_redis *r, void (*done)(void *arg), void *arg)
{
	r->closing = 1;
	r->done = done;
	r->done_arg = arg;
	drop(&r->cmd);
	drop(&r->sub);
	uv_close((uv_handle_t *)&r->tick, on_closed);
	uv_close((uv_handle_t *)&r->retry, on_closed);
}
