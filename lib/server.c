#include "server.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "buf.h"
#include "cli.h"
#include "events.h"
#include "frame.h"
#include "handshake.h"
#include "history.h"
#include "metrics.h"
#include "http.h"
#include "proto.h"
#include "redis.h"
#include "access.h"
#include "routes.h"
#include "tls.h"

#define READ_BUF (64 * 1024)
#define IOV_MAX_WRITE 64
#define CTX_POOL 64
#define CLOSE_WAIT_MS 2000
/* A client over --max-queue gets this long to drain before it is closed. */
#define SLOW_GRACE_MS 10000
/* A connection whose unsent bytes pass this stops reading requests until
 * they drain, so pipelined requests cannot grow the queue without bound. */
#define HTTP_OUT_HIGH (256 * 1024)

enum conn_state { ST_HTTP, ST_WS, ST_CLOSING, ST_SSE, ST_POLL };

/* The subscriber lists a connection can be on: WebSocket clients (the
 * hub), Server-Sent Events streams, and parked long polls. */
enum list { L_NONE, L_HUB, L_SSE, L_POLL, L_COUNT };

/* A TLS connection's plaintext queue (conn.out) is encrypted into wire,
 * which is what the socket writes. */
struct conn_tls {
	struct wsk_tls *t;
	struct wsk_outq wire;
};

struct conn {
	uv_tcp_t tcp;
	struct wsk_server *srv;
	struct wsk_outq out;
	uv_write_t wreq;
	size_t wbytes; /* bytes in the uv_write in flight */
	struct wsk_http *http;
	wslay_event_context_ptr ws;
	uv_timer_t *close_timer;
	/* Bytes given to wslay and bytes of the frames it has finished: equal
	 * means no partial frame sits inside the context. */
	uint64_t fed, framed, cur_frame;
	const uint8_t *in;
	size_t inlen;
	struct conn *prev, *next;   /* all connections */
	struct conn *hprev, *hnext; /* the subscriber list it is on */
	struct conn *dirty_next;
	uint8_t state;
	uint8_t dirty, writing, frag, closing, close_sent, list, paused;
	struct conn_tls *tls;  /* NULL on a plain connection */
	const char *poll_cors; /* a parked poll's CORS value (static or the
				* allowlist's string) */
	uint8_t poll_last;     /* a parked poll's Connection: close */
	/* Pipelined requests not yet parsed while output drains (see
	 * http_input); at most one read's worth. */
	char *pend;
	size_t pendlen;
	uint8_t
	    finishing;	  /* end after the queue is written (lingering close) */
	uint8_t drop_out; /* discard what wslay sends (see ctx_get) */
	uint8_t cb_failed; /* our own wslay callback failed (out of memory) */
	uint8_t bad_close; /* a close frame wslay accepts but must not */
	uint8_t missed;	   /* heartbeats sent without a frame back */
	uint8_t lagging;   /* over --max-queue: updates are skipped */
	float tokens;	   /* message rate limit bucket */
	uint32_t tok_ms; /* loop time of the last refill (wraps; differences) */
	uint32_t deadline; /* HTTP: the request must be complete by this loop
			    * time (ms, wraps); lagging: the drain deadline */
	uint8_t opened;	   /* the handshake completed: log the disconnect */
	/* The peer's address, kept from accept: after a reset the socket no
	 * longer knows it, and the disconnect line still needs it. */
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} peer;
};

struct wsk_server {
	uv_loop_t *loop;
	struct wsk_server_opts opts;
	uv_tcp_t listener;
	uv_prepare_t flusher;
	uv_timer_t shutdown_timer;
	uv_timer_t sweeper;   /* deadlines: slow handshakes, slow readers */
	uv_timer_t heartbeat; /* server pings */
	struct wsk_events events;
	struct wsk_history history;
	struct wsk_encoder *enc;
	struct wsk_routes routes;
	struct conn *conns, *dirty;
	struct conn *lists[L_COUNT]; /* heads of the subscriber lists */
	long nlist[L_COUNT];
	struct conn *cur; /* the connection wslay is working for */
	wslay_event_context_ptr pool[CTX_POOL];
	int npool;
	long nconns;
	int port;
	int shutting_down, handles_open, final_close, in_recv;
	struct wsk_metrics m;
	struct wsk_redis *redis; /* NULL without --redis */
	int64_t started_ms;
	void (*done)(void *);
	void *done_arg;
	char rbuf[READ_BUF];
};

static void conn_close(struct conn *c);
static void conn_flush(struct conn *c);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void conn_ws_input(struct conn *c, const uint8_t *p, size_t len);

/* ---- logging ---- */

static void peer_name(const struct conn *c, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (c->peer.sa.sa_family == AF_INET6) {
		uv_ip6_name(&c->peer.in6, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%d", ip, ntohs(c->peer.in6.sin6_port));
	} else {
		uv_ip4_name(&c->peer.in4, ip, sizeof(ip));
		snprintf(buf, len, "%s:%d", ip, ntohs(c->peer.in4.sin_port));
	}
}

static void slog(struct wsk_server *s, const struct conn *c,
		 enum wsk_log_level level, const char *event, int code,
		 const char *detail, int with_clients)
{
	struct wsk_log_rec rec = {level, event, NULL, -1, code, detail};
	char peer[64];

	if (!s->opts.log)
		return;
	if (c) {
		peer_name(c, peer, sizeof(peer));
		rec.peer = peer;
	}
	if (with_clients)
		rec.clients = s->nlist[L_HUB];
	s->opts.log(s->opts.log_arg, &rec);
}

static uint32_t now32(const struct wsk_server *s)
{
	return (uint32_t)uv_now(s->loop);
}

/* True when loop time t has been reached, across the 32-bit wrap. */
static int past(const struct wsk_server *s, uint32_t t)
{
	return (int32_t)(now32(s) - t) >= 0;
}

/* ---- output ---- */

/* The queue the socket writes: the ciphertext one under TLS. */
static struct wsk_outq *wire(struct conn *c)
{
	return c->tls ? &c->tls->wire : &c->out;
}

/* Unsent bytes, plaintext and ciphertext: the backpressure measure. */
static size_t unsent(const struct conn *c)
{
	return c->out.bytes + (c->tls ? c->tls->wire.bytes : 0);
}

/* Moves queued plaintext through TLS into the wire queue. Returns 0 or -1. */
static int tls_encrypt(struct conn *c)
{
	uv_buf_t iov[IOV_MAX_WRITE];
	unsigned n, i;

	/* Before the handshake ends, plaintext waits in c->out. */
	while (c->out.count && wsk_tls_ready(c->tls->t)) {
		n = wsk_outq_iov(&c->out, 0, iov, IOV_MAX_WRITE);
		for (i = 0; i < n; i++) {
			if (wsk_tls_write(c->tls->t, iov[i].base, iov[i].len) <
			    0)
				return -1;
			wsk_outq_consume(&c->out, iov[i].len);
		}
	}
	return wsk_tls_take(c->tls->t, &c->tls->wire) < 0 ? -1 : 0;
}

static void mark_dirty(struct conn *c)
{
	if (c->dirty || c->closing)
		return;
	c->dirty = 1;
	c->dirty_next = c->srv->dirty;
	c->srv->dirty = c;
}

static void send_initial(struct conn *c);

static void check_caught_up(struct conn *c);

static void on_write(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	c->writing = 0;
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	wsk_outq_consume(wire(c), c->wbytes);
	c->srv->m.bytes_out += c->wbytes;
	c->wbytes = 0;
	conn_flush(c);
}

/* A lagging client that drained to half of --max-queue takes the current
 * state as a fresh INITIAL and gets live updates again. */
static void check_caught_up(struct conn *c)
{
	if (c->lagging && c->state == ST_WS &&
	    unsent(c) <= c->srv->opts.max_queue / 2) {
		c->lagging = 0;
		slog(c->srv, c, WSK_LOG_INFO, "slow-client", 0,
		     "caught up, sending a fresh INITIAL", 0);
		send_initial(c);
	}
}

static void maybe_resume_reading(struct conn *c);
static void conn_linger(struct conn *c);
static void arm_close_timer(struct conn *c);

/* Writes what the queue holds: first with uv_try_write, which costs no
 * allocation, then the rest with one uv_write that keeps the chunks
 * referenced by the queue until it completes. */
static void conn_flush(struct conn *c)
{
	uv_buf_t iov[IOV_MAX_WRITE];
	struct wsk_outq *q;
	unsigned n, i;
	int r;

	if (c->writing || c->closing)
		return;
	check_caught_up(c);
	if (c->tls && tls_encrypt(c) < 0) {
		conn_close(c);
		return;
	}
	q = wire(c);
	while (q->count) {
		n = wsk_outq_iov(q, 0, iov, IOV_MAX_WRITE);
		r = uv_try_write((uv_stream_t *)&c->tcp, iov, n);
		if (r == UV_EAGAIN || r == 0)
			break;
		if (r < 0) {
			conn_close(c);
			return;
		}
		wsk_outq_consume(q, (size_t)r);
		c->srv->m.bytes_out += (size_t)r;
	}
	if (q->count) {
		n = wsk_outq_iov(q, 0, iov, IOV_MAX_WRITE);
		c->wbytes = 0;
		for (i = 0; i < n; i++)
			c->wbytes += iov[i].len;
		c->wreq.data = c;
		r = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, iov, n,
			     on_write);
		if (r < 0) {
			conn_close(c);
			return;
		}
		c->writing = 1;
		return;
	}
	maybe_resume_reading(c);
	if (c->finishing)
		conn_linger(c);
}

static void on_prepare(uv_prepare_t *h)
{
	struct wsk_server *s = h->data;
	struct conn *c;

	while ((c = s->dirty)) {
		s->dirty = c->dirty_next;
		c->dirty = 0;
		conn_flush(c);
	}
}

static void push(struct conn *c, struct wsk_chunk *ch)
{
	if (wsk_outq_push(&c->out, ch) < 0) {
		conn_close(c);
		return;
	}
	c->srv->m.msgs_out++;
	mark_dirty(c);
}

/* ---- connection lifetime ---- */

static void hub_remove(struct conn *c)
{
	struct wsk_server *s = c->srv;

	if (c->list == L_NONE)
		return;
	if (c->hprev)
		c->hprev->hnext = c->hnext;
	else
		s->lists[c->list] = c->hnext;
	if (c->hnext)
		c->hnext->hprev = c->hprev;
	s->nlist[c->list]--;
	c->list = L_NONE;
	c->hprev = c->hnext = NULL;
}

static void list_add(struct conn *c, enum list which)
{
	struct wsk_server *s = c->srv;

	hub_remove(c);
	c->list = (uint8_t)which;
	c->hprev = NULL;
	c->hnext = s->lists[which];
	if (c->hnext)
		c->hnext->hprev = c;
	s->lists[which] = c;
	s->nlist[which]++;
}

static void ctx_put(struct wsk_server *s, wslay_event_context_ptr ctx)
{
	if (s->npool < CTX_POOL)
		s->pool[s->npool++] = ctx;
	else
		wslay_event_context_free(ctx);
}

static void on_handle_closed(uv_handle_t *h);

static void maybe_done(struct wsk_server *s)
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

static void on_conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct wsk_server *s = c->srv;

	wsk_outq_release(&c->out);
	if (c->tls) {
		wsk_outq_release(&c->tls->wire);
		wsk_tls_free(c->tls->t);
		free(c->tls);
	}
	free(c->http);
	free(c->pend);
	free(c);
	s->nconns--;
	maybe_done(s);
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h);
}

/* Closes the socket; the memory goes in the close callback. Safe to call
 * from inside any of the connection's callbacks, and more than once. */
static void conn_close(struct conn *c)
{
	struct wsk_server *s = c->srv;

	if (c->closing)
		return;
	c->closing = 1;
	hub_remove(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->ws) {
		/* A context that saw a close or an error carries state: free it
		 * rather than pool it. */
		wslay_event_context_free(c->ws);
		c->ws = NULL;
	}
	if (c->close_timer) {
		uv_close((uv_handle_t *)c->close_timer, on_timer_closed);
		c->close_timer = NULL;
	}
	if (c->opened)
		slog(s, c, WSK_LOG_INFO, "disconnect", 0, NULL, 1);
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_close_timeout(uv_timer_t *t)
{
	conn_close(t->data);
}

static void on_shutdown_done(uv_shutdown_t *req, int status)
{
	(void)status;
	free(req);
}

/* The end of a connection: send FIN once everything is written, then read
 * and discard until the peer closes too (or the close timer fires).
 * Closing at once could make the kernel answer unread input with a reset
 * that destroys our last response or close frame before the peer reads it. */
static void conn_linger(struct conn *c)
{
	uv_shutdown_t *req;

	if (c->out.count || wire(c)->count || c->writing || c->closing)
		return;
	if (c->finishing == 2)
		return;
	c->finishing = 2;
	arm_close_timer(c);
	if (c->closing)
		return;
	req = malloc(sizeof(*req));
	if (!req ||
	    uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown_done) < 0) {
		free(req);
		conn_close(c);
		return;
	}
	if (c->paused) {
		c->paused = 0;
		uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
	}
}

/* Ends the connection after what is queued has been written. */
static void conn_finish(struct conn *c)
{
	if (c->closing || c->finishing)
		return;
	c->finishing = 1;
	hub_remove(c);
	if (c->out.count || wire(c)->count)
		mark_dirty(c);
	else
		conn_linger(c);
}

/* Starts the wait for the peer's close frame, bounded in time. */
static void arm_close_timer(struct conn *c)
{
	if (c->close_timer)
		return;
	c->close_timer = malloc(sizeof(*c->close_timer));
	if (!c->close_timer) {
		conn_close(c);
		return;
	}
	uv_timer_init(c->srv->loop, c->close_timer);
	c->close_timer->data = c;
	uv_timer_start(c->close_timer, on_close_timeout, CLOSE_WAIT_MS, 0);
}

/* Sends a close frame and waits for the peer's. With a live wslay context
 * the context sends it, so that it knows; without one the frame is encoded
 * here and a context made later is told (see ctx_get). */
static void ws_close(struct conn *c, uint16_t code, const char *why)
{
	struct wsk_server *s = c->srv;
	struct wsk_chunk *ch;

	if (c->close_sent || c->closing)
		return;
	wsk_metrics_close(&s->m, code);
	hub_remove(c);
	if (c->ws) {
		s->cur = c;
		wslay_event_queue_close(c->ws, code, (const uint8_t *)why,
					why ? strlen(why) : 0);
		/* Inside wslay_event_recv the caller sends after it returns. */
		if (!s->in_recv)
			wslay_event_send(c->ws);
		c->close_sent = 1;
	} else {
		ch = wsk_encode_close(s->enc, code, why);
		if (!ch) {
			conn_close(c);
			return;
		}
		push(c, ch);
		wsk_chunk_unref(ch);
		c->close_sent = 1;
	}
	c->state = ST_CLOSING;
	if (!c->closing)
		arm_close_timer(c);
}

/* ---- wslay glue ---- */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
			  int flags, void *arg)
{
	struct conn *c = ((struct wsk_server *)arg)->cur;

	(void)flags;
	if (c->inlen == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (len > c->inlen)
		len = c->inlen;
	memcpy(buf, c->in, len);
	c->in += len;
	c->inlen -= len;
	return (ssize_t)len;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
			  size_t len, int flags, void *arg)
{
	struct conn *c = ((struct wsk_server *)arg)->cur;

	(void)flags;
	if (c->drop_out)
		return (ssize_t)len;
	if (wsk_outq_append(&c->out, data, len) < 0) {
		c->cb_failed = 1;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	mark_dirty(c);
	return (ssize_t)len;
}

static void ws_frame_start(wslay_event_context_ptr ctx,
			   const struct wslay_event_on_frame_recv_start_arg *a,
			   void *arg)
{
	struct conn *c = ((struct wsk_server *)arg)->cur;
	uint64_t hdr = 2 + 4; /* client frames are masked */

	(void)ctx;
	c->missed = 0; /* any frame shows the client is alive */
	if (a->payload_length > 65535)
		hdr += 8;
	else if (a->payload_length > 125)
		hdr += 2;
	c->cur_frame = hdr + a->payload_length;
	/* wslay takes a 1-byte close payload as "no status"; RFC 6455 5.5.1
	 * makes it a protocol error. */
	if (a->opcode == WSLAY_CONNECTION_CLOSE && a->payload_length == 1)
		c->bad_close = 1;
	if (a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME)
		c->frag = !a->fin;
	else if (a->opcode == WSLAY_CONTINUATION_FRAME && a->fin)
		c->frag = 0;
}

static void ws_frame_end(wslay_event_context_ptr ctx, void *arg)
{
	struct conn *c = ((struct wsk_server *)arg)->cur;

	(void)ctx;
	c->framed += c->cur_frame;
	c->cur_frame = 0;
}

static void send_text(struct conn *c, const char *json, size_t len)
{
	struct wsk_chunk *ch =
	    wsk_encode(c->srv->enc, WSLAY_TEXT_FRAME, json, len);

	if (!ch) {
		conn_close(c);
		return;
	}
	push(c, ch);
	wsk_chunk_unref(ch);
}

/* Token bucket: --msg-burst messages at once, --msg-rate per second. */
static int rate_ok(struct conn *c)
{
	const struct wsk_server *s = c->srv;
	uint32_t now = now32(s);

	if (s->opts.msg_rate <= 0)
		return 1;
	c->tokens += (float)((now - c->tok_ms) * s->opts.msg_rate / 1000.0);
	if (c->tokens > (float)s->opts.msg_burst)
		c->tokens = (float)s->opts.msg_burst;
	c->tok_ms = now;
	if (c->tokens < 1)
		return 0;
	c->tokens -= 1;
	return 1;
}

static void ws_msg(wslay_event_context_ptr ctx,
		   const struct wslay_event_on_msg_recv_arg *a, void *arg)
{
	struct wsk_server *s = arg;
	struct conn *c = s->cur;
	char *reply;
	size_t len;

	(void)ctx;
	if (c->state != ST_WS)
		return;
	if (a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME) {
		s->m.msgs_in++;
		s->m.bytes_in += a->msg_length;
		if (!rate_ok(c)) {
			static const char err[] =
			    "{\"type\":\"ERROR\",\"error\":\"rate limit "
			    "exceeded\"}";

			slog(s, c, WSK_LOG_WARN, "close", 1008,
			     "rate limit exceeded", 0);
			send_text(c, err, sizeof(err) - 1);
			ws_close(c, 1008, "rate limit exceeded");
			return;
		}
	}
	if (s->opts.echo && (a->opcode == WSLAY_TEXT_FRAME ||
			     a->opcode == WSLAY_BINARY_FRAME)) {
		struct wsk_chunk *ch =
		    wsk_encode(s->enc, a->opcode, a->msg, a->msg_length);

		if (!ch) {
			conn_close(c);
			return;
		}
		push(c, ch);
		wsk_chunk_unref(ch);
		return;
	}
	if (a->opcode == WSLAY_TEXT_FRAME) {
		reply = wsk_proto_reply((const char *)a->msg, a->msg_length,
					wsk_now_ms(), &len);
		if (!reply) {
			conn_close(c);
			return;
		}
		send_text(c, reply, len);
		free(reply);
	} else if (a->opcode == WSLAY_BINARY_FRAME) {
		slog(s, c, WSK_LOG_WARN, "close", 1003, "binary message", 0);
		ws_close(c, 1003, "binary messages are not accepted");
	} else if (a->opcode == WSLAY_CONNECTION_CLOSE) {
		/* wslay answers it; the connection ends once that is written.
		 */
		hub_remove(c);
		c->state = ST_CLOSING;
	}
}

static wslay_event_context_ptr ctx_get(struct conn *c)
{
	static const struct wslay_event_callbacks cbs = {
	    ws_recv_cb, ws_send_cb,   NULL,   ws_frame_start,
	    NULL,	ws_frame_end, ws_msg,
	};
	struct wsk_server *s = c->srv;
	wslay_event_context_ptr ctx;

	if (s->npool) {
		ctx = s->pool[--s->npool];
	} else {
		if (wslay_event_context_server_init(&ctx, &cbs, s) != 0)
			return NULL;
		wslay_event_config_set_max_recv_msg_length(ctx,
							   s->opts.max_message);
	}
	if (c->close_sent) {
		/* Our close went out already as an encoded frame: let the
		 * context believe it sent it, and drop its copy. */
		c->drop_out = 1;
		s->cur = c;
		wslay_event_queue_close(ctx, 1001, NULL, 0);
		wslay_event_send(ctx);
		c->drop_out = 0;
	}
	return ctx;
}

/* A context can go back to the pool when it holds nothing of this
 * connection: no partial frame, no fragmented message, nothing queued to
 * send, and no closing handshake under way. */
static int ctx_idle(const struct conn *c)
{
	wslay_event_context_ptr ws = c->ws;

	return c->fed == c->framed && !c->frag &&
	       wslay_event_get_queued_msg_count(ws) == 0 &&
	       !wslay_event_get_close_received(ws) &&
	       !wslay_event_get_close_sent(ws) && wslay_event_want_read(ws);
}

static void conn_ws_input(struct conn *c, const uint8_t *p, size_t len)
{
	struct wsk_server *s = c->srv;
	int r;

	if (!c->ws) {
		c->ws = ctx_get(c);
		if (!c->ws) {
			conn_close(c);
			return;
		}
	}
	s->cur = c;
	c->in = p;
	c->inlen = len;
	c->fed += len;
	s->in_recv = 1;
	r = wslay_event_recv(c->ws);
	s->in_recv = 0;
	if (c->bad_close && !c->closing)
		r = WSLAY_ERR_CALLBACK_FAILURE; /* answered below with 1002 */
	if (r == 0 && !c->closing)
		r = wslay_event_send(c->ws);
	if (c->closing)
		return;
	if (r == WSLAY_ERR_CALLBACK_FAILURE && !c->cb_failed) {
		/* The frame layer rejected the input (a fragmented or oversized
		 * control frame, a bad length): wslay then queues a close with
		 * no status, so drop its context and send 1002 ourselves. */
		slog(s, c, WSK_LOG_WARN, "close", 1002, "protocol error", 0);
		wslay_event_context_free(c->ws);
		c->ws = NULL;
		c->state = ST_WS;
		ws_close(c, 1002, "protocol error");
		conn_finish(c);
		return;
	}
	if (r != 0) {
		conn_close(c);
		return;
	}
	if (!wslay_event_want_read(c->ws)) {
		uint16_t code = wslay_event_get_status_code_sent(c->ws);

		if (c->state == ST_WS)
			wsk_metrics_close(&s->m, code);
		if (c->state == ST_WS && code != 1000 && code != 1001)
			slog(s, c, WSK_LOG_WARN, "close", code,
			     code == 1002   ? "protocol error"
			     : code == 1007 ? "invalid UTF-8"
			     : code == 1009 ? "message too big"
					    : NULL,
			     0);
		/* wslay stops reading after a close it received or an error it
		 * answered with a close: nothing more will be said. */
		c->state = ST_CLOSING;
		c->close_sent = 1;
		conn_finish(c);
		return;
	}
	if (ctx_idle(c)) {
		ctx_put(s, c->ws);
		c->ws = NULL;
		c->fed = c->framed = 0;
	}
}

/* ---- HTTP phase ---- */

/* "METHOD target" for the request log, with a ?token= value hidden. */
static void log_target(const struct wsk_http *h, char *line, size_t size)
{
	char *t, *e;

	snprintf(line, size, "%s %.256s", wsk_http_method(h), wsk_http_url(h));
	t = strstr(line, "token=");
	if (t && (t[-1] == '?' || t[-1] == '&')) {
		t += 6;
		e = strchrnul(t, '&');
		memmove(t + 3, e, strlen(e) + 1);
		memcpy(t, "...", 3);
	}
}

static void reject(struct conn *c, int status, const char *why)
{
	const char *extra =
	    status == 426 ? "Sec-WebSocket-Version: 13\r\n" : NULL;
	struct wsk_reply r = {&c->out, 0, 1, "*"};

	if (status == 401)
		extra = "WWW-Authenticate: Bearer\r\n";
	slog(c->srv, c, WSK_LOG_WARN, "reject", status, why, 0);
	wsk_metrics_reject(&c->srv->m, status);
	/* 401 and 403 say no more than their names: detail helps guessing. */
	if (wsk_reply_error(&r, status,
			    status == 401   ? "unauthorized"
			    : status == 403 ? "forbidden"
					    : why,
			    NULL, extra) < 0) {
		conn_close(c);
		return;
	}
	conn_finish(c);
}

static void send_initial(struct conn *c)
{
	size_t len;
	char *json = wsk_events_json_initial(&c->srv->events, &len);

	if (!json) {
		conn_close(c);
		return;
	}
	send_text(c, json, len);
	free(json);
}

/* Sends what a new client needs: the missed UPDATEs when it resumes inside
 * the ring of the current epoch, the INITIAL snapshot otherwise. */
static void greet(struct conn *c, const char *url)
{
	struct wsk_server *s = c->srv;
	char since_s[32], epoch[64];
	int has_since =
	    wsk_http_query(url, "since", since_s, sizeof(since_s)) > 0;
	int has_epoch = wsk_http_query(url, "epoch", epoch, sizeof(epoch)) > 0;
	uint64_t newest = s->events.seq, since, q;
	char *end;

	if (has_since && since_s[0] >= '0' && since_s[0] <= '9') {
		since = strtoull(since_s, &end, 10);
		if (*end == '\0' &&
		    (!has_epoch || strcmp(epoch, s->events.epoch) == 0) &&
		    wsk_history_covers(&s->history, since, newest)) {
			for (q = since + 1; q <= newest && !c->closing; q++)
				push(c, wsk_history_get(&s->history, q));
			return;
		}
	}
	send_initial(c);
}

static void upgrade(struct conn *c, const char *rest, size_t restlen)
{
	struct wsk_server *s = c->srv;
	const char *key, *why, *url = wsk_http_url(c->http);
	char resp[256];
	char path[WSK_HTTP_MAX_HEAD];
	const char *q = strchr(url, '?');
	size_t plen = q ? (size_t)(q - url) : strlen(url);
	int status, n;

	status = wsk_hs_check_request(c->http, &key, &why);
	if (status) {
		reject(c, status, why);
		return;
	}
	if (wsk_pct_decode(url, plen, path) < 0 ||
	    (strcmp(path, "/") != 0 && strcmp(path, "/ws") != 0)) {
		reject(c, 404, "no WebSocket endpoint here");
		return;
	}
	if (wsk_access_origin(s->opts.access, c->http, &why)) {
		reject(c, 403, "origin not allowed");
		return;
	}
	if (wsk_access_token(s->opts.access, c->http)) {
		reject(c, 401, "missing or wrong token");
		return;
	}
	if (s->nlist[L_HUB] >= s->opts.max_clients) {
		reject(c, 503, "too many clients");
		return;
	}
	n = wsk_hs_response(resp, sizeof(resp), key);
	if (n < 0 || wsk_outq_append(&c->out, resp, (size_t)n) < 0) {
		conn_close(c);
		return;
	}
	mark_dirty(c);
	c->state = ST_WS;
	c->tokens = (float)s->opts.msg_burst;
	c->tok_ms = now32(s);
	if (!s->opts.echo)
		greet(c, url);
	if (c->closing)
		return;
	free(c->http);
	c->http = NULL;
	c->opened = 1;
	list_add(c, L_HUB);
	s->m.ws_total++;
	slog(s, c, WSK_LOG_INFO, "connect", 0, NULL, 1);
	if (restlen)
		conn_ws_input(c, (const uint8_t *)rest, restlen);
}

static void http_input(struct conn *c, const char *p, size_t len);
static int stream_path(const struct wsk_http *h, char *out, size_t outlen);
static int stream_route(struct conn *c, const char *path);
static void stash(struct conn *c, const char *p, size_t len);

static void maybe_resume_reading(struct conn *c)
{
	size_t n;
	char *p;

	if (!c->paused || unsent(c) >= HTTP_OUT_HIGH / 2)
		return;
	c->paused = 0;
	if (c->pend) {
		n = c->pendlen;
		p = c->pend;
		c->pend = NULL;
		c->pendlen = 0;
		http_input(c, p, n);
		free(p);
	}
	if (!c->paused && !c->closing && !c->finishing)
		uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->srv->rbuf, READ_BUF);
}

static void http_input(struct conn *c, const char *p, size_t len)
{
	struct wsk_server *s = c->srv;
	char path[32];
	size_t used;
	int r, close = 0;

	while (len && c->state == ST_HTTP && !c->finishing && !c->closing) {
		if (unsent(c) > HTTP_OUT_HIGH) {
			/* A client that pipelines faster than it reads waits:
			 * keep the rest of this read and stop reading until its
			 * answers drain. */
			c->pend = malloc(len);
			if (!c->pend) {
				conn_close(c);
				return;
			}
			memcpy(c->pend, p, len);
			c->pendlen = len;
			c->paused = 1;
			uv_read_stop((uv_stream_t *)&c->tcp);
			return;
		}
		if (!c->http) {
			c->http = malloc(sizeof(*c->http));
			if (!c->http) {
				conn_close(c);
				return;
			}
			wsk_http_init(c->http, WSK_HTTP_REQUEST);
		}
		r = wsk_http_feed(c->http, p, len, &used);
		if (r == WSK_HTTP_AGAIN)
			return;
		if (r < 0) {
			reject(c, r == WSK_HTTP_ERR_BIG ? 431 : 400,
			       r == WSK_HTTP_ERR_BIG ? "request head too large"
						     : "malformed request");
			return;
		}
		p += used;
		len -= used;
		if (wsk_hs_is_upgrade(c->http)) {
			upgrade(c, p, len);
			return;
		}
		if (stream_path(c->http, path, sizeof(path)) &&
		    stream_route(c, path)) {
			if (c->state == ST_POLL && len)
				stash(c, p, len);
			if (c->state != ST_HTTP || c->closing || c->finishing)
				return;
			if (len) {
				/* Pipelined behind a finished stream request.
				 */
				continue;
			}
			return;
		}
		r = wsk_routes_answer(&s->routes, c->http, &c->out, &close);
		if (r < 0) {
			conn_close(c);
			return;
		}
		if (s->opts.log_requests) {
			char line[300];

			log_target(c->http, line, sizeof(line));
			slog(s, c, WSK_LOG_INFO, "request", r, line, 0);
		}
		mark_dirty(c);
		if (close) {
			conn_finish(c);
			return;
		}
		wsk_http_init(c->http, WSK_HTTP_REQUEST);
		/* The next request, on a kept-alive connection, gets as long.
		 */
		c->deadline = now32(s) + s->opts.handshake_timeout_ms;
		if (unsent(c) > HTTP_OUT_HIGH && len == 0) {
			c->paused = 1;
			uv_read_stop((uv_stream_t *)&c->tcp);
		}
	}
	/* Keep-alive connections give the parser back between requests. */
	if (c->http && c->state == ST_HTTP && c->http->used == 0 &&
	    c->http->p.nread == 0) {
		free(c->http);
		c->http = NULL;
	}
}

/* Input that arrives while a long poll is parked: pipelined requests,
 * kept (bounded) until the poll is answered. */
static void stash(struct conn *c, const char *p, size_t len)
{
	char *n;

	if (c->pendlen + len > READ_BUF) {
		conn_close(c);
		return;
	}
	n = realloc(c->pend, c->pendlen + len);
	if (!n) {
		conn_close(c);
		return;
	}
	memcpy(n + c->pendlen, p, len);
	c->pend = n;
	c->pendlen += len;
	if (!c->paused) {
		c->paused = 1;
		uv_read_stop((uv_stream_t *)&c->tcp);
	}
}

static void dispatch(struct conn *c, char *p, size_t len)
{
	switch (c->state) {
	case ST_HTTP: http_input(c, p, len); break;
	case ST_WS:
	case ST_CLOSING: conn_ws_input(c, (const uint8_t *)p, len); break;
	case ST_POLL: stash(c, p, len); break;
	default: break; /* an SSE client has nothing more to say */
	}
}

/* Ciphertext in, plaintext out to the same paths a plain connection
 * uses. The plaintext goes into the read buffer the ciphertext came in:
 * OpenSSL has copied it already. */
static void tls_input(struct conn *c, char *buf, size_t len)
{
	char err[256];
	ssize_t n;

	if (wsk_tls_feed(c->tls->t, buf, len) < 0) {
		conn_close(c);
		return;
	}
	while (!c->closing && !c->finishing) {
		n = wsk_tls_read(c->tls->t, buf, READ_BUF, err, sizeof(err));
		if (n < 0) {
			if (n == -1) {
				slog(c->srv, c, WSK_LOG_WARN, "tls", 0, err, 0);
				if (!c->opened)
					wsk_metrics_reject(&c->srv->m, -1);
			}
			conn_close(c);
			return;
		}
		if (n == 0)
			break;
		dispatch(c, buf, (size_t)n);
	}
	/* Handshake records, or plaintext queued before the handshake ended. */
	if (!c->closing)
		mark_dirty(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = st->data;

	if (nread < 0) {
		conn_close(c);
		return;
	}
	/* A finishing connection only waits for the peer's FIN. */
	if (nread == 0 || c->finishing)
		return;
	if (c->tls)
		tls_input(c, buf->base, (size_t)nread);
	else
		dispatch(c, buf->base, (size_t)nread);
}

static void on_connection(uv_stream_t *l, int status)
{
	struct wsk_server *s = l->data;
	struct conn *c;
	int n;

	if (status < 0 || s->shutting_down)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = s;
	s->m.conns_total++;
	uv_tcp_init(s->loop, &c->tcp);
	c->tcp.data = c;
	s->nconns++;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (s->opts.tls) {
		c->tls = calloc(1, sizeof(*c->tls));
		if (c->tls)
			c->tls->t = wsk_tls_new_server(s->opts.tls);
		if (!c->tls || !c->tls->t) {
			conn_close(c);
			return;
		}
	}
	n = sizeof(c->peer);
	uv_tcp_getpeername(&c->tcp, &c->peer.sa, &n);
	c->deadline = now32(s) + s->opts.handshake_timeout_ms;
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read) < 0)
		conn_close(c);
}

/* ---- Server-Sent Events and long polling ---- */

/* The JSON inside one of our own frames: server frames are unmasked, so
 * the payload follows a 2-, 4- or 10-byte header. */
static const char *frame_payload(const struct wsk_chunk *f, size_t *len)
{
	size_t h = (f->data[1] & 0x7f) == 126	? 4
		   : (f->data[1] & 0x7f) == 127 ? 10
						: 2;

	*len = f->len - h;
	return (const char *)f->data + h;
}

/* One SSE event: the id names the epoch too, so a client that resumes
 * with Last-Event-ID from an earlier run is recognized. */
static struct wsk_chunk *sse_event(const struct wsk_server *s, uint64_t seq,
				   const char *json, size_t len)
{
	struct wsk_chunk *c = wsk_chunk_new(len + 64);
	int n;

	if (!c)
		return NULL;
	n = snprintf((char *)c->data, 64,
		     "id: %s:%llu\ndata: ", s->events.epoch,
		     (unsigned long long)seq);
	memcpy(c->data + n, json, len);
	memcpy(c->data + n + len, "\n\n", 2);
	c->len = (size_t)n + len + 2;
	wsk_chunk_seal(c);
	return c;
}

static int push_owned(struct conn *c, struct wsk_chunk *ch)
{
	if (!ch) {
		conn_close(c);
		return -1;
	}
	push(c, ch);
	wsk_chunk_unref(ch);
	return c->closing ? -1 : 0;
}

/* Parses "EPOCH:SEQ" (an SSE id) or, for polls, separate values, and
 * tells whether the ring can bring the client up to date. */
static int can_resume(const struct wsk_server *s, const char *epoch,
		      const char *since, uint64_t *out)
{
	char *end;
	uint64_t v;

	if (!since || !(since[0] >= '0' && since[0] <= '9'))
		return 0;
	v = strtoull(since, &end, 10);
	if (*end != '\0' || (epoch && strcmp(epoch, s->events.epoch) != 0))
		return 0;
	*out = v;
	return wsk_history_covers(&s->history, v, s->events.seq);
}

static void sse_start(struct conn *c, const struct wsk_reply *r)
{
	struct wsk_server *s = c->srv;
	const char *last = wsk_http_header(c->http, "Last-Event-ID");
	char hdr[512], idbuf[96], *colon, *json;
	uint64_t since, q;
	size_t len;
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 200 OK\r\n"
		     "Server: ws-serve/" WSK_VERSION "\r\n"
		     "Content-Type: text/event-stream\r\n"
		     "Cache-Control: no-cache\r\n"
		     "Access-Control-Allow-Origin: %.300s\r\n"
		     "%s"
		     "X-Accel-Buffering: no\r\n\r\n"
		     "retry: 1000\n\n",
		     r->cors, strcmp(r->cors, "*") ? "Vary: Origin\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(hdr) ||
	    wsk_outq_append(&c->out, hdr, (size_t)n) < 0) {
		conn_close(c);
		return;
	}
	mark_dirty(c);
	/* The stream has no length: it ends when either side closes. */
	c->state = ST_SSE;
	c->opened = 1;
	if (last && strlen(last) < sizeof(idbuf)) {
		strcpy(idbuf, last);
		colon = strchr(idbuf, ':');
		if (colon) {
			*colon = '\0';
			if (can_resume(s, idbuf, colon + 1, &since)) {
				for (q = since + 1; q <= s->events.seq; q++) {
					const char *p = frame_payload(
					    wsk_history_get(&s->history, q),
					    &len);

					if (push_owned(c,
						       sse_event(s, q, p, len)))
						return;
				}
				goto live;
			}
		}
	}
	json = wsk_events_json_initial(&s->events, &len);
	if (!json) {
		conn_close(c);
		return;
	}
	n = push_owned(c, sse_event(s, s->events.seq, json, len));
	free(json);
	if (n)
		return;
live:
	free(c->http);
	c->http = NULL;
	list_add(c, L_SSE);
	slog(s, c, WSK_LOG_INFO, "sse", 0, NULL, 0);
}

/* Answers a long poll with a JSON array of protocol messages. */
static void poll_answer(struct conn *c, int status, const char *body,
			size_t len)
{
	struct wsk_reply r = {&c->out, 0, c->poll_last, c->poll_cors};

	hub_remove(c);
	c->state = ST_HTTP;
	if (wsk_reply_send(&r, status,
			   status == 204 ? NULL : "application/json",
			   "Cache-Control: no-cache\r\n", body, len) < 0) {
		conn_close(c);
		return;
	}
	mark_dirty(c);
	c->deadline = now32(c->srv) + c->srv->opts.handshake_timeout_ms;
	if (c->poll_last) {
		conn_finish(c);
		return;
	}
	/* Requests that came while the poll was parked. */
	if (c->paused)
		maybe_resume_reading(c);
}

/* Builds "[m1,m2,...]" from the ring's frames after since. */
static char *poll_body(const struct wsk_server *s, uint64_t since, size_t *len)
{
	size_t cap = 2, n = 0, l;
	uint64_t q;
	char *buf;

	for (q = since + 1; q <= s->events.seq; q++) {
		frame_payload(wsk_history_get(&s->history, q), &l);
		cap += l + 1;
	}
	buf = malloc(cap + 1);
	if (!buf)
		return NULL;
	buf[n++] = '[';
	for (q = since + 1; q <= s->events.seq; q++) {
		const char *p =
		    frame_payload(wsk_history_get(&s->history, q), &l);

		if (q > since + 1)
			buf[n++] = ',';
		memcpy(buf + n, p, l);
		n += l;
	}
	buf[n++] = ']';
	*len = n;
	return buf;
}

static void poll_start(struct conn *c, const struct wsk_reply *r)
{
	struct wsk_server *s = c->srv;
	const char *url = wsk_http_url(c->http);
	char since_s[32], epoch[64], tmo[32], err[WSK_ERRLEN];
	int has_since = wsk_http_query(url, "since", since_s, sizeof(since_s));
	int has_epoch = wsk_http_query(url, "epoch", epoch, sizeof(epoch));
	int has_tmo = wsk_http_query(url, "timeout", tmo, sizeof(tmo));
	double secs = 30;
	uint64_t since;
	char *body, *json;
	size_t len;

	c->poll_last = (uint8_t)r->last;
	c->poll_cors = r->cors;
	if (has_tmo < 0 ||
	    (has_tmo > 0 &&
	     wsk_parse_seconds(tmo, 120, &secs, err, sizeof(err)))) {
		struct wsk_reply rr = *r;

		wsk_reply_error(&rr, 400, "timeout must be 0 to 120 seconds",
				NULL, NULL);
		mark_dirty(c);
		if (r->last)
			conn_finish(c);
		else
			wsk_http_init(c->http, WSK_HTTP_REQUEST);
		return;
	}
	free(c->http);
	c->http = NULL;
	if (has_since <= 0 || has_epoch < 0 ||
	    !can_resume(s, has_epoch > 0 ? epoch : NULL, since_s, &since)) {
		json = wsk_events_json_initial(&s->events, &len);
		body = json ? malloc(len + 2) : NULL;
		if (body) {
			body[0] = '[';
			memcpy(body + 1, json, len);
			body[len + 1] = ']';
		}
		free(json);
		if (!body) {
			conn_close(c);
			return;
		}
		poll_answer(c, 200, body, len + 2);
		free(body);
		return;
	}
	if (since < s->events.seq) {
		body = poll_body(s, since, &len);
		if (!body) {
			conn_close(c);
			return;
		}
		poll_answer(c, 200, body, len);
		free(body);
		return;
	}
	/* Up to date: wait for the next update or the timeout. The sweeper
	 * looks at the deadline once a second. */
	c->state = ST_POLL;
	c->deadline = now32(s) + (uint32_t)(secs * 1000);
	list_add(c, L_POLL);
}

/* Decodes the request's path (without the query) when it is short enough
 * to be one of the streaming endpoints. */
static int stream_path(const struct wsk_http *h, char *out, size_t outlen)
{
	const char *url = wsk_http_url(h);
	const char *q = strchr(url, '?');
	size_t n = q ? (size_t)(q - url) : strlen(url);

	return n < outlen && wsk_pct_decode(url, n, out) >= 0;
}

/* Routes the two streaming endpoints, which need the subscriber lists.
 * Returns 1 when the request was one of them. */
static int stream_route(struct conn *c, const char *path)
{
	struct wsk_server *s = c->srv;
	const char *method = wsk_http_method(c->http);
	struct wsk_reply r = {&c->out, 0, !wsk_http_keep_alive(c->http), "*"};
	int sse = strcmp(path, "/events/stream") == 0;

	if (!sse && strcmp(path, "/events/poll") != 0)
		return 0;
	if (strcmp(method, "GET") != 0) {
		/* A stream has no head to show without starting it. */
		wsk_reply_error(&r, 405, "method not allowed", NULL,
				"Allow: GET\r\n");
	} else if (wsk_access_origin(s->opts.access, c->http, &r.cors)) {
		wsk_reply_error(&r, 403, "origin not allowed", NULL, NULL);
	} else if (wsk_access_token(s->opts.access, c->http)) {
		wsk_reply_error(&r, 401, "unauthorized", NULL,
				"WWW-Authenticate: Bearer\r\n");
	} else if (sse) {
		sse_start(c, &r);
		return 1;
	} else {
		poll_start(c, &r);
		return 1;
	}
	mark_dirty(c);
	if (r.last)
		conn_finish(c);
	else
		wsk_http_init(c->http, WSK_HTTP_REQUEST);
	return 1;
}

/* ---- broadcast ---- */

static void on_update(void *arg, uint64_t seq, const char *json, size_t len)
{
	struct wsk_server *s = arg;
	struct wsk_chunk *frame =
	    wsk_encode(s->enc, WSLAY_TEXT_FRAME, json, len);
	struct conn *c, *next;
	uint64_t t0;

	if (!frame) {
		/* Without memory for the frame this seq is lost: clients see
		 * the gap, as after any loss, and the log says why. */
		slog(s, NULL, WSK_LOG_ERROR, "broadcast", 0, "out of memory",
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
			slog(s, c, WSK_LOG_WARN, "slow-client", 0,
			     "over --max-queue, skipping updates", 0);
			continue;
		}
		push(c, frame);
	}
	if (s->lists[L_SSE]) {
		struct wsk_chunk *ev = sse_event(s, seq, json, len);

		for (c = s->lists[L_SSE]; ev && c; c = next) {
			next = c->hnext;
			/* An SSE client that falls behind is dropped; its
			 * browser reconnects with Last-Event-ID and resumes. */
			if (unsent(c) > s->opts.max_queue) {
				s->m.slow_clients++;
				slog(s, c, WSK_LOG_WARN, "slow-client", 0,
				     "SSE stream over --max-queue, closing", 0);
				conn_close(c);
				continue;
			}
			push(c, ev);
		}
		wsk_chunk_unref(ev);
	}
	for (c = s->lists[L_POLL]; c; c = next) {
		char *body = malloc(len + 2);

		next = c->hnext;
		if (!body) {
			conn_close(c);
			continue;
		}
		body[0] = '[';
		memcpy(body + 1, json, len);
		body[len + 1] = ']';
		poll_answer(c, 200, body, len + 2);
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

/* ---- deadlines ---- */

/* Once a second: cut connections that are too slow to send a request
 * (slowloris) and slow readers that did not drain in time. */
static void on_sweep(uv_timer_t *t)
{
	struct wsk_server *s = t->data;
	struct conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->state == ST_HTTP && !c->finishing &&
		    past(s, c->deadline)) {
			slog(s, c, WSK_LOG_WARN, "timeout", 0,
			     "no complete request in time", 0);
			wsk_metrics_reject(&s->m, 0);
			conn_close(c);
		} else if (c->state == ST_POLL && past(s, c->deadline)) {
			poll_answer(c, 204, NULL, 0);
		} else if (c->lagging && c->state == ST_WS &&
			   past(s, c->deadline)) {
			slog(s, c, WSK_LOG_WARN, "close", 1008,
			     "client too slow", 0);
			c->lagging = 0;
			ws_close(c, 1008, "client too slow");
		}
	}
}

/* Every --heartbeat: a ping frame, encoded once, to every client; one that
 * sent nothing back for two beats is gone and is closed with 1001. */
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
			slog(s, c, WSK_LOG_WARN, "close", 1001, "no pong", 0);
			ws_close(c, 1001, "no pong");
			continue;
		}
		c->missed++;
		push(c, ping);
	}
	wsk_chunk_unref(ping);
	/* SSE streams get a comment line, which keeps proxies from timing
	 * them out and lets a dead peer show as a write error. */
	if (s->lists[L_SSE]) {
		struct wsk_chunk *beat = wsk_chunk_dup(": ping\n\n", 8);

		for (c = s->lists[L_SSE]; beat && c; c = next) {
			next = c->hnext;
			push(c, beat);
		}
		wsk_chunk_unref(beat);
	}
}

/* ---- scale-out on Redis ---- */

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
	int changed = strcmp(epoch, s->events.epoch) != 0;
	struct conn *c, *next;

	snprintf(s->events.epoch, sizeof(s->events.epoch), "%s", epoch);
	s->events.seq = seq;
	wsk_history_release(&s->history);
	if (wsk_history_init(&s->history, s->opts.history) < 0)
		wsk_history_init(&s->history, 0);
	if (!changed)
		return;
	/* A new run of the sequence: every client takes a fresh snapshot. */
	for (c = s->lists[L_HUB]; c; c = next) {
		next = c->hnext;
		send_initial(c);
	}
}

static void rd_state(void *arg, const char *json, size_t len)
{
	struct wsk_server *s = arg;

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
	slog(s, NULL, up ? WSK_LOG_INFO : WSK_LOG_WARN, "redis", 0, detail, 0);
}

static void rd_leader(void *arg, int leader)
{
	struct wsk_server *s = arg;

	slog(s, NULL, WSK_LOG_INFO, "redis", 0, leader ? "leader" : "follower",
	     0);
	wsk_events_pause(&s->events, !leader);
}

static void on_redis_closed(void *arg)
{
	struct wsk_server *s = arg;

	s->redis = NULL;
	s->handles_open--;
	maybe_done(s);
}

/* ---- start and stop ---- */

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
	if (!s->enc || wsk_history_init(&s->history, opts->history) < 0) {
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
	r = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&s->listener, 4096, on_connection);
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
	uv_prepare_start(&s->flusher, on_prepare);
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
	/* An echo server is a conformance peer: no simulator, no INITIAL. */
	r = opts->echo ? 0 : wsk_events_start(&s->events);
	if (r == 0 && opts->redis_url && !opts->echo) {
		static const struct wsk_redis_cbs cbs = {
		    rd_reset, rd_state, rd_update, rd_link, rd_leader};
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
	wsk_events_close(&s->events);
	uv_run(loop, UV_RUN_NOWAIT);
fail:
	wsk_encoder_free(s->enc);
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
	maybe_done(s);
}

static void on_shutdown_timeout(uv_timer_t *t)
{
	struct wsk_server *s = t->data;
	struct conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		conn_close(c);
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
	wsk_events_close(&s->events);
	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->state == ST_WS)
			ws_close(c, 1001, "server shutting down");
		else if (c->state != ST_CLOSING)
			conn_finish(c);
	}
	uv_timer_init(s->loop, &s->shutdown_timer);
	s->shutdown_timer.data = s;
	s->handles_open++;
	uv_timer_start(&s->shutdown_timer, on_shutdown_timeout,
		       CLOSE_WAIT_MS + 500, 0);
	maybe_done(s);
}

void wsk_server_free(struct wsk_server *s)
{
	if (!s)
		return;
	while (s->npool)
		wslay_event_context_free(s->pool[--s->npool]);
	wsk_history_release(&s->history);
	wsk_encoder_free(s->enc);
	free(s);
}
