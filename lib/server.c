/* The server's lifecycle and everything that spans connections: start and
 * stop, the broadcast of each update, deadlines, the heartbeat, /health
 * and /metrics, and the glue to Redis. See srv.h for the other parts. */
#include "srv.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* An SSE client that falls behind is dropped rather than queued without
 * bound; its browser reconnects with Last-Event-ID and resumes. */
static void sse_push(struct wsk_server *s, struct conn *c,
		     struct wsk_chunk *data)
{
	if (unsent(c) > s->opts.max_queue) {
		s->m.slow_clients++;
		srv_log(s, c, WSK_LOG_WARN, "slow-client", 0,
			"SSE stream over --max-queue, closing", 0);
		srv_conn_close(c);
		return;
	}
	srv_push(c, data);
}

static void on_update(void *arg, uint64_t seq, const char *json, size_t len);
static char *render_health(void *arg, size_t *len);
static char *render_metrics(void *arg, size_t *len);
static void on_sweep(uv_timer_t *t);
static void on_heartbeat(uv_timer_t *t);
static void on_stats(uv_timer_t *t);
static void rd_publish(void *arg, const char *id, const char *data, size_t len,
		       int64_t ts);
static void rd_reset(void *arg, const char *epoch, uint64_t seq);
static void rd_state(void *arg, const char *json, size_t len);
static char *rd_own_state(void *arg, int i, const char **id, size_t *len);
static void rd_update(void *arg, uint64_t seq, const char *json, size_t len);
static void rd_replay(void *arg, uint64_t seq, const char *json, size_t len);
static void rd_loaded(void *arg);
static void rd_link(void *arg, int up, const char *why);
static void rd_leader(void *arg, int leader);
static void on_redis_closed(void *arg);
static int resolve(uv_loop_t *loop, const char *host, int port,
		   struct sockaddr_storage *ss, char *err, size_t errlen);
static int open_reuseport(uv_tcp_t *tcp, int family);
static void on_handle_closed(uv_handle_t *h);
static void on_shutdown_timeout(uv_timer_t *t);

void srv_maybe_done(struct wsk_server *s)
{
	if (!s->shutting_down)
		return;
	if (s->nconns == 0 && !s->final_close) {
		s->final_close = 1;
		uv_close((uv_handle_t *)&s->flusher, on_handle_closed);
		uv_close((uv_handle_t *)&s->shutdown_timer, on_handle_closed);
	}
	if (s->final_close && s->handles_open == 0 && s->done) {
		void (*done)(void *) = s->done;

		s->done = NULL;
		done(s->done_arg);
	}
}

static void on_update(void *arg, uint64_t seq, const char *json, size_t len)
{
	struct wsk_server *s = arg;
	struct wsk_chunk *frame = srv_text_frame(s, json, len);
	struct conn *c, *next;
	uint64_t t0;

	srv_state_changed(s);
	if (!frame) {
		/* Without memory for the frame this seq is lost: clients see
		 * the gap, as after any loss, and the log says why. */
		srv_log(s, NULL, WSK_LOG_ERROR, "broadcast", 0, "out of memory",
			0);
		return;
	}
	wsk_history_push(&s->history, seq, frame);
	t0 = uv_hrtime();
	for (c = s->lists[L_HUB]; c; c = next) {
		next = c->hnext;
		/* A client that does not read must not grow the server: past
		 * max_queue unsent bytes it gets no more updates; if it drains
		 * in time it gets a fresh INITIAL (the latest state of every
		 * event), else the sweeper closes it with 1008. */
		if (c->lagging) {
			s->m.slow_drops++;
			continue;
		}
		if (unsent(c) > s->opts.max_queue) {
			c->lagging = 1;
			c->deadline = now32(s) + SLOW_GRACE_MS;
			s->m.slow_drops++;
			s->m.slow_clients++;
			srv_log(s, c, WSK_LOG_WARN, "slow-client", 0,
				"over --max-queue, skipping updates", 0);
			continue;
		}
		srv_push(c, frame);
	}
	if (s->lists[L_SSE]) {
		struct wsk_chunk *ev = srv_sse_event(s, seq, json, len);

		for (c = s->lists[L_SSE]; ev && c; c = next) {
			next = c->hnext;
			sse_push(s, c, ev);
		}
		wsk_chunk_unref(ev);
	}
	for (c = s->lists[L_POLL]; c; c = next) {
		char *body = malloc(len + 2);

		next = c->hnext;
		if (!body) {
			srv_conn_close(c);
			continue;
		}
		body[0] = '[';
		memcpy(body + 1, json, len);
		body[len + 1] = ']';
		srv_poll_answer(c, 200, body, len + 2);
		free(body);
	}
	wsk_metrics_fanout(&s->m, (double)(uv_hrtime() - t0) / 1e9);
	wsk_chunk_unref(frame);
}

static char *render_health(void *arg, size_t *len)
{
	struct wsk_server *s = arg;
	json_t *j = json_pack(
	    "{s:s,s:I,s:I,s:I,s:s,s:I,s:I,s:s,s:b}", "status", "ok", "clients",
	    (json_int_t)s->nlist[L_HUB], "sse", (json_int_t)s->nlist[L_SSE],
	    "polls", (json_int_t)s->nlist[L_POLL], "epoch", s->events.epoch,
	    "seq", (json_int_t)s->events.seq, "uptime_ms",
	    (json_int_t)(wsk_now_ms() - s->started_ms), "redis",
	    !s->redis			? "off"
	    : wsk_redis_is_up(s->redis) ? "up"
					: "down",
	    "leader", !s->redis || wsk_redis_is_leader(s->redis));
	char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (out)
		*len = strlen(out);
	return out;
}

static char *render_metrics(void *arg, size_t *len)
{
	struct wsk_server *s = arg;

	s->m.conns_open = s->nconns;
	s->m.clients_open = s->nlist[L_HUB];
	s->m.sse_open = s->nlist[L_SSE];
	s->m.pollers = s->nlist[L_POLL];
	s->m.seq = s->events.seq;
	return wsk_metrics_render(&s->m, len);
}

/* Bytes of ours the socket holds that the client has not yet taken in
 * (SIOCOUTQ: sent but not acknowledged, or not sent). */
static uint32_t kernel_unsent(const struct conn *c)
{
	uv_os_fd_t fd;
	int n = 0;

	if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) < 0 ||
	    ioctl(fd, SIOCOUTQ, &n) < 0 || n < 0)
		return 0;
	return (uint32_t)n;
}

/* An HTTP answer, or the last bytes of a finishing connection, that the
 * client has not taken any of for SLOW_GRACE_MS: the client holds our
 * memory and a socket without reading. Returns 1 when it is time to cut;
 * sets *waiting when some of our bytes still wait on the client. */
static int write_stalled(struct wsk_server *s, struct conn *c, int *waiting)
{
	uint32_t outq, taken;

	*waiting = 0;
	if (c->state != ST_HTTP && !c->finishing)
		return 0;
	outq = kernel_unsent(c);
	*waiting = unsent(c) || outq;
	/* What the client took: what the kernel took from us (whole writes,
	 * and of the one in flight what libuv no longer holds) less what
	 * the kernel still holds. */
	taken = c->wrote +
		(uint32_t)(c->wbytes - uv_stream_get_write_queue_size(
					   (const uv_stream_t *)&c->tcp)) -
		outq;
	if (!*waiting || taken != c->stall_wrote) {
		c->stall_wrote = taken;
		c->stall_ms = now32(s);
		return 0;
	}
	return past(s, c->stall_ms + SLOW_GRACE_MS);
}

/* Once a second: cut connections that are too slow to send a request
 * (slowloris) and slow readers that did not drain in time. */
static void on_sweep(uv_timer_t *t)
{
	struct wsk_server *s = t->data;
	struct conn *c, *next;
	int waiting;

	for (c = s->conns; c; c = next) {
		next = c->next;
		if (write_stalled(s, c, &waiting)) {
			srv_log(s, c, WSK_LOG_WARN, "timeout", 0,
				"the client reads nothing of what it asked", 0);
			srv_conn_close(c);
			continue;
		}
		/* The next request is awaited once the answers have gone out
		 * and none is waiting behind them: until then the time does
		 * not count. */
		if (c->state == ST_HTTP && !c->finishing &&
		    (waiting || c->pend))
			c->deadline = now32(s) + s->opts.handshake_timeout_ms;
		if (c->state == ST_HTTP && !c->finishing &&
		    past(s, c->deadline)) {
			srv_log(s, c, WSK_LOG_WARN, "timeout", 0,
				"no complete request in time", 0);
			wsk_metrics_reject(&s->m, 0);
			srv_conn_close(c);
		} else if (c->state == ST_POLL && past(s, c->deadline)) {
			srv_poll_answer(c, 204, NULL, 0);
		} else if (c->lagging && c->state == ST_WS &&
			   past(s, c->deadline)) {
			srv_log(s, c, WSK_LOG_WARN, "close", 1008,
				"client too slow", 0);
			c->lagging = 0;
			srv_ws_close(c, 1008, "client too slow");
		}
	}
}

/* Every --heartbeat: a ping frame, encoded once, to every client; one that
 * sent nothing back for two beats is gone and is closed with 1001. */
/* Every --stats-interval: one line with the gauges and what the counters
 * did since the previous line. */
static void on_stats(uv_timer_t *t)
{
	struct wsk_server *s = t->data;
	const struct wsk_metrics *m = &s->m, *l = &s->last;
	char line[400];

	snprintf(line, sizeof(line),
		 "clients=%ld sse=%ld polls=%ld seq=%llu sent=%llu msgs "
		 "%llu bytes received=%llu msgs slow-drops=%llu",
		 s->nlist[L_HUB], s->nlist[L_SSE], s->nlist[L_POLL],
		 (unsigned long long)s->events.seq,
		 (unsigned long long)(m->msgs_out - l->msgs_out),
		 (unsigned long long)(m->bytes_out - l->bytes_out),
		 (unsigned long long)(m->msgs_in - l->msgs_in),
		 (unsigned long long)(m->slow_drops - l->slow_drops));
	s->last = *m;
	srv_log(s, NULL, WSK_LOG_INFO, "stats", 0, line, 0);
}

static void on_heartbeat(uv_timer_t *t)
{
	struct wsk_server *s = t->data;
	struct wsk_chunk *ping = wsk_encode(s->enc, WSLAY_PING, NULL, 0);
	struct conn *c, *next;

	if (!ping)
		return;
	for (c = s->lists[L_HUB]; c; c = next) {
		next = c->hnext;
		if (c->missed >= 2) {
			srv_log(s, c, WSK_LOG_WARN, "close", 1001, "no pong",
				0);
			srv_ws_close(c, 1001, "no pong");
			continue;
		}
		c->missed++;
		srv_push(c, ping);
	}
	wsk_chunk_unref(ping);
	/* SSE streams get a comment line, which keeps proxies from timing
	 * them out and lets a dead peer show as a write error. */
	if (s->lists[L_SSE]) {
		struct wsk_chunk *beat = wsk_chunk_dup(": ping\n\n", 8);

		for (c = s->lists[L_SSE]; beat && c; c = next) {
			next = c->hnext;
			sse_push(s, c, beat);
		}
		wsk_chunk_unref(beat);
	}
}

/* The leader's simulator proposes; Redis sequences. */
static void rd_publish(void *arg, const char *id, const char *data, size_t len,
		       int64_t ts)
{
	struct wsk_server *s = arg;

	wsk_redis_publish(s->redis, id, data, len, ts);
}

static void rd_reset(void *arg, const char *epoch, uint64_t seq)
{
	struct wsk_server *s = arg;

	srv_state_changed(s);
	if (strcmp(epoch, s->events.epoch) != 0)
		s->new_epoch = 1; /* clients get a snapshot once it is loaded */
	snprintf(s->events.epoch, sizeof(s->events.epoch), "%s", epoch);
	s->events.seq = seq;
	wsk_history_release(&s->history);
	if (wsk_history_init(&s->history, s->opts.history) < 0)
		wsk_history_init(&s->history, 0);
}

/* An UPDATE of the epoch being loaded: state and history, no fan-out. */
static void rd_replay(void *arg, uint64_t seq, const char *json, size_t len)
{
	struct wsk_server *s = arg;
	struct wsk_chunk *frame;
	uint64_t got;

	srv_state_changed(s);
	if (wsk_events_apply(&s->events, json, len, &got) < 0 || got != seq)
		return;
	frame = srv_text_frame(s, json, len);
	if (frame) {
		wsk_history_push(&s->history, seq, frame);
		wsk_chunk_unref(frame);
	}
}

/* A new run of the sequence is loaded: every client takes the snapshot,
 * WebSocket clients as an INITIAL, SSE streams as an INITIAL event and
 * parked polls as [INITIAL]. */
static void rd_loaded(void *arg)
{
	struct wsk_server *s = arg;
	struct conn *c, *next;
	size_t len;
	char *json, *body;

	if (!s->new_epoch)
		return;
	s->new_epoch = 0;
	for (c = s->lists[L_HUB]; c; c = next) {
		next = c->hnext;
		srv_send_initial(c);
	}
	json = wsk_events_json_initial(&s->events, &len);
	if (!json)
		return;
	for (c = s->lists[L_SSE]; c; c = next) {
		next = c->hnext;
		srv_push_owned(c, srv_sse_event(s, s->events.seq, json, len));
	}
	body = malloc(len + 2);
	for (c = s->lists[L_POLL]; body && c; c = next) {
		next = c->hnext;
		body[0] = '[';
		memcpy(body + 1, json, len);
		body[len + 1] = ']';
		srv_poll_answer(c, 200, body, len + 2);
	}
	free(body);
	free(json);
}

static char *rd_own_state(void *arg, int i, const char **id, size_t *len)
{
	struct wsk_server *s = arg;

	if (i >= WSK_NEVENTS)
		return NULL;
	*id = s->events.ev[i].id;
	return wsk_events_json_one(&s->events, i, len);
}

static void rd_state(void *arg, const char *json, size_t len)
{
	struct wsk_server *s = arg;

	srv_state_changed(s);
	wsk_events_set_one(&s->events, json, len);
}

static void rd_update(void *arg, uint64_t seq, const char *json, size_t len)
{
	struct wsk_server *s = arg;
	uint64_t got;

	if (wsk_events_apply(&s->events, json, len, &got) < 0 || got != seq)
		return;
	on_update(s, seq, json, len);
}

static void rd_link(void *arg, int up, const char *why)
{
	struct wsk_server *s = arg;
	char detail[300];

	s->m.redis = up;
	snprintf(detail, sizeof(detail), "%s %s", up ? "connected to" : "down:",
		 up ? wsk_redis_addr(s->redis) : why);
	srv_log(s, NULL, up ? WSK_LOG_INFO : WSK_LOG_WARN, "redis", 0, detail,
		0);
}

static void rd_leader(void *arg, int leader)
{
	struct wsk_server *s = arg;

	srv_log(s, NULL, WSK_LOG_INFO, "redis", 0,
		leader ? "leader" : "follower", 0);
	wsk_events_pause(&s->events, !leader);
}

static void on_redis_closed(void *arg)
{
	struct wsk_server *s = arg;

	s->redis = NULL;
	s->handles_open--;
	srv_maybe_done(s);
}

static int resolve(uv_loop_t *loop, const char *host, int port,
		   struct sockaddr_storage *ss, char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *ai;
	uv_getaddrinfo_t req;
	char ports[16];
	int r;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(ports, sizeof(ports), "%d", port);
	r = uv_getaddrinfo(loop, &req, NULL, host, ports, &hints);
	if (r < 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host,
			 uv_strerror(r));
		return r;
	}
	ai = req.addrinfo;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	uv_freeaddrinfo(ai);
	return 0;
}

/* Gives tcp a socket with SO_REUSEPORT, before it is bound, so that
 * several processes listening on one address and port share the incoming
 * connections (the kernel spreads them by a hash of the addresses and
 * ports). libuv 1.44, Debian 12's, has no UV_TCP_REUSEPORT flag for
 * uv_tcp_bind, hence the socket made here. Every listener on the port must
 * set it: one that does not keeps the others out, and is kept out by them. */
static int open_reuseport(uv_tcp_t *tcp, int family)
{
	int fd, on = 1, r;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = uv_tcp_open(tcp, fd);
	if (r < 0)
		close(fd);
	return r;
}

int wsk_server_start(struct wsk_server **out, uv_loop_t *loop,
		     const struct wsk_server_opts *opts, char *err,
		     size_t errlen)
{
	struct wsk_server *s = calloc(1, sizeof(*s));
	struct sockaddr_storage ss;
	int n = sizeof(ss), r;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->loop = loop;
	s->opts = *opts;
	s->enc = wsk_encoder_new();
	if (opts->deflate) {
		s->deflater = wsk_deflater_new(-1);
		s->inflater = wsk_inflater_new();
	}
	if (!s->enc || (opts->deflate && (!s->deflater || !s->inflater)) ||
	    wsk_history_init(&s->history, opts->history) < 0) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	r = wsk_events_init(&s->events, loop, opts->interval_min,
			    opts->interval_max, opts->have_seed, opts->seed,
			    on_update, s);
	if (r < 0) {
		snprintf(err, errlen, "cannot seed the simulator");
		goto fail;
	}
	s->routes.events = &s->events;
	s->routes.access = opts->access;
	s->routes.web_dir = opts->web_dir;
	s->routes.metrics = render_metrics;
	s->routes.health = render_health;
	s->started_ms = wsk_now_ms();
	s->m.redis = -1;
	s->routes.arg = s;
	r = resolve(loop, opts->host, opts->port, &ss, err, errlen);
	if (r < 0)
		goto fail;
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	s->handles_open++;
	r = opts->reuseport ? open_reuseport(&s->listener, ss.ss_family) : 0;
	if (r == 0)
		r = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&s->listener, 4096,
			      srv_on_connection);
	if (r < 0) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", opts->host,
			 opts->port, uv_strerror(r));
		goto fail_listener;
	}
	uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &n);
	s->port = ntohs(ss.ss_family == AF_INET6
			    ? ((struct sockaddr_in6 *)&ss)->sin6_port
			    : ((struct sockaddr_in *)&ss)->sin_port);
	uv_prepare_init(loop, &s->flusher);
	s->flusher.data = s;
	s->handles_open++;
	uv_prepare_start(&s->flusher, srv_on_prepare);
	uv_timer_init(loop, &s->sweeper);
	s->sweeper.data = s;
	s->handles_open++;
	uv_timer_start(&s->sweeper, on_sweep, 1000, 1000);
	uv_timer_init(loop, &s->heartbeat);
	s->heartbeat.data = s;
	s->handles_open++;
	if (opts->heartbeat_ms)
		uv_timer_start(&s->heartbeat, on_heartbeat, opts->heartbeat_ms,
			       opts->heartbeat_ms);
	uv_timer_init(loop, &s->stats);
	s->stats.data = s;
	s->handles_open++;
	if (opts->stats_ms)
		uv_timer_start(&s->stats, on_stats, opts->stats_ms,
			       opts->stats_ms);
	/* An echo server is a conformance peer: no simulator, no INITIAL. */
	r = opts->echo ? 0 : wsk_events_start(&s->events);
	if (r == 0 && opts->redis_url && !opts->echo) {
		static const struct wsk_redis_cbs cbs = {
		    .reset = rd_reset,
		    .own_state = rd_own_state,
		    .state = rd_state,
		    .update = rd_update,
		    .replay = rd_replay,
		    .loaded = rd_loaded,
		    .link = rd_link,
		    .leader = rd_leader,
		};
		struct wsk_redis_opts ro = {opts->redis_url, opts->lease_ms,
					    opts->history};

		/* Followers never simulate; the lease decides who does. */
		wsk_events_pause(&s->events, 1);
		s->events.publish = rd_publish;
		if (wsk_redis_start(&s->redis, loop, &ro, &cbs, s, err,
				    errlen) < 0) {
			r = -EINVAL;
			goto fail_listener;
		}
		s->handles_open++;
		s->m.redis = 0;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot start the simulator: %s",
			 uv_strerror(r));
		goto fail_listener;
	}
	*out = s;
	return 0;
fail_listener:
	/* The caller runs the loop once more to finish closing handles. */
	s->shutting_down = 1;
	uv_close((uv_handle_t *)&s->listener, NULL);
	if (uv_is_active((uv_handle_t *)&s->flusher))
		uv_close((uv_handle_t *)&s->flusher, NULL);
	if (s->sweeper.loop)
		uv_close((uv_handle_t *)&s->sweeper, NULL);
	if (s->heartbeat.loop)
		uv_close((uv_handle_t *)&s->heartbeat, NULL);
	if (s->stats.loop)
		uv_close((uv_handle_t *)&s->stats, NULL);
	wsk_events_close(&s->events);
	uv_run(loop, UV_RUN_NOWAIT);
fail:
	wsk_encoder_free(s->enc);
	wsk_deflater_free(s->deflater);
	wsk_inflater_free(s->inflater);
	wsk_history_release(&s->history);
	free(s);
	return r;
}

int wsk_server_port(const struct wsk_server *s)
{
	return s->port;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct wsk_server *s = h->data;

	s->handles_open--;
	srv_maybe_done(s);
}

static void on_shutdown_timeout(uv_timer_t *t)
{
	struct wsk_server *s = t->data;
	struct conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		srv_conn_close(c);
	}
}

void wsk_server_shutdown(struct wsk_server *s, void (*done)(void *arg),
			 void *arg)
{
	struct conn *c, *next;

	if (s->shutting_down)
		return;
	s->shutting_down = 1;
	s->done = done;
	s->done_arg = arg;
	uv_close((uv_handle_t *)&s->listener, on_handle_closed);
	uv_close((uv_handle_t *)&s->sweeper, on_handle_closed);
	if (s->redis)
		wsk_redis_close(s->redis, on_redis_closed, s);
	uv_close((uv_handle_t *)&s->heartbeat, on_handle_closed);
	uv_close((uv_handle_t *)&s->stats, on_handle_closed);
	wsk_events_close(&s->events);
	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->state == ST_WS)
			srv_ws_close(c, 1001, "server shutting down");
		else if (c->state != ST_CLOSING)
			srv_conn_finish(c);
	}
	uv_timer_init(s->loop, &s->shutdown_timer);
	s->shutdown_timer.data = s;
	s->handles_open++;
	uv_timer_start(&s->shutdown_timer, on_shutdown_timeout,
		       CLOSE_WAIT_MS + 500, 0);
	srv_maybe_done(s);
}

void wsk_server_free(struct wsk_server *s)
{
	if (!s)
		return;
	while (s->npool)
		wslay_event_context_free(s->pool[--s->npool]);
	while (s->nrx) {
		struct conn_rx *rx = s->rx_pool[--s->nrx];

		free(rx->msg);
		free(rx);
	}
	/* Connections that closed while on the dirty list. */
	while (s->dirty) {
		struct conn *c = s->dirty;

		s->dirty = c->dirty_next;
		free(c);
	}
	srv_state_changed(s);
	wsk_history_release(&s->history);
	wsk_encoder_free(s->enc);
	wsk_deflater_free(s->deflater);
	wsk_inflater_free(s->inflater);
	free(s);
}
