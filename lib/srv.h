/* Internal to the server, shared by its parts:
 *   server.c      start and stop, the broadcast, deadlines, Redis glue
 *   srv_conn.c    a connection's I/O: output queue, TLS layering, reads,
 *                 lifetime and lingering close
 *   srv_http.c    the HTTP phase: requests, routes, the upgrade
 *   srv_ws.c      the WebSocket phase: wslay glue and the event protocol
 *   srv_stream.c  Server-Sent Events and long polls
 * Nothing outside lib/server*.c and lib/srv_*.c includes this. */
#ifndef WSK_SRV_H
#define WSK_SRV_H

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
#include "pmd.h"
#include "proto.h"
#include "redis.h"
#include "access.h"
#include "routes.h"
#include "tls.h"
#include "utf8.h"

#define READ_BUF (64 * 1024)
#define IOV_MAX_WRITE 64
#define CTX_POOL 64
#define CLOSE_WAIT_MS 2000
/* A client over --max-queue gets this long to drain before it is closed. */
#define SLOW_GRACE_MS 10000
/* A connection whose unsent bytes pass this stops reading requests until
 * they drain, so pipelined requests cannot grow the queue without bound. */
#define HTTP_OUT_HIGH (256 * 1024)
/* What wslay gets of a deflate client's input at a time (see ws_recv_cb):
 * a few compressed messages, whose answers may be a thousand times
 * larger. */
#define PMD_RECV_PIECE 512

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

/* What a client's input needs besides the wslay context: the frame
 * headers of its stream, read ahead of wslay to refuse a message over
 * --max-message at its header, and the data message being put together.
 * wslay buffers none of a data message (no_buffering, see ctx_get): its
 * buffering costs an allocation per fragment, about 90 bytes for a 1-byte
 * one, and a copy of the whole at the end. Here the message grows in one
 * buffer, which the scanner keeps within --max-message. */
struct conn_rx {
	struct wsk_frame_scan scan;
	uint8_t *msg; /* the message so far: len bytes of cap */
	size_t len, cap;
	uint8_t data; /* the frame being read carries data */
};

struct conn {
	uv_tcp_t tcp;
	struct wsk_server *srv;
	struct wsk_outq out;
	size_t wbytes; /* bytes in the uv_write in flight */
	struct wsk_http *http;
	wslay_event_context_ptr ws;
	uv_timer_t *close_timer;
	/* Bytes given to wslay and bytes of the frames it has finished: equal
	 * means no partial frame sits inside the context. */
	uint64_t fed, framed, cur_frame;
	/* Held, like ws, only while the client is in the middle of sending
	 * frames: a fresh one and an idle context are the same state
	 * (ctx_idle). */
	struct conn_rx *rx;
	const uint8_t *in;
	size_t inlen;
	struct conn *prev, *next;   /* all connections */
	struct conn *hprev, *hnext; /* the subscriber list it is on */
	struct conn *dirty_next;
	uint8_t state;
	uint8_t dirty, writing, frag, closing, close_sent, list, paused;
	struct conn_tls *tls; /* NULL on a plain connection */
	char *poll_cors;      /* the Origin a poll's answer echoes, owned;
			       * NULL for "*" */
	/* Pipelined requests not yet parsed while output drains (see
	 * srv_http_input); at most one read's worth. */
	char *pend;
	size_t pendlen;
	uint8_t
	    finishing;	  /* end after the queue is written (lingering close) */
	uint8_t drop_out; /* discard what wslay sends (see ctx_get) */
	uint8_t cb_failed; /* our own wslay callback failed (out of memory) */
	uint8_t bad_close; /* a close frame wslay accepts but must not */
	uint8_t reaped;	   /* closed; freed when it leaves the dirty list */
	uint8_t missed;	   /* heartbeats sent without a frame back */
	uint8_t lagging;   /* over --max-queue: updates are skipped */
	uint8_t got_close; /* its close frame came: it sends nothing more */
	/* permessage-deflate: 0 when not negotiated, else the window bits
	 * the client allows our messages (8..15; see pmd.h). */
	uint8_t pmd_bits;
	uint8_t big;	   /* a header of a message over --max-message came */
	uint8_t told_slow; /* its "not reading" warning was logged */
	float tokens;	   /* message rate limit bucket */
	uint32_t tok_ms; /* loop time of the last refill (wraps; differences) */
	uint32_t deadline; /* HTTP: the request must be complete by this loop
			    * time (ms, wraps); lagging: the drain deadline */
	/* Bytes the kernel has taken (wraps), the count at the last sweep and
	 * the loop time it last moved: an answer, or a finishing connection,
	 * that the client does not read is cut (see write_stalled). */
	uint32_t wrote, stall_wrote, stall_ms;
	uint8_t opened;	   /* the handshake completed: log the disconnect */
	uint8_t poll_last; /* a parked poll's Connection: close */
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
	uv_timer_t sweeper;	 /* deadlines: slow handshakes, slow readers */
	uv_timer_t heartbeat;	 /* server pings */
	uv_timer_t stats;	 /* --stats-interval */
	struct wsk_metrics last; /* the counters at the previous stats line */
	struct wsk_events events;
	struct wsk_history history;
	struct wsk_encoder *enc;
	/* permessage-deflate, NULL without it: one stream each way serves
	 * every connection, since neither side keeps context (pmd.h). */
	struct wsk_deflater *deflater;
	/* Connections that agreed permessage-deflate, open or closing: with
	 * none, a broadcast is not compressed at all. */
	long deflate_clients;
	struct wsk_inflater *inflater;
	struct wsk_routes routes;
	struct conn *conns, *dirty;
	struct conn *lists[L_COUNT]; /* heads of the subscriber lists */
	long nlist[L_COUNT];
	struct conn *cur; /* the connection wslay is working for */
	wslay_event_context_ptr pool[CTX_POOL];
	int npool;
	struct conn_rx *rx_pool[CTX_POOL]; /* with pool, the same */
	int nrx;
	long nconns;
	int port;
	int shutting_down, handles_open, final_close, in_recv;
	struct wsk_metrics m;
	struct wsk_redis *redis; /* NULL without --redis */
	int new_epoch; /* a new epoch is loading: snapshot clients when done */
	struct wsk_chunk *initial; /* the INITIAL frame of the current state */
	int64_t started_ms;
	void (*done)(void *);
	void *done_arg;
	char rbuf[READ_BUF];
};

static inline uint32_t now32(const struct wsk_server *s)
{
	return (uint32_t)uv_now(s->loop);
}

/* True when loop time t has been reached, across the 32-bit wrap. */
static inline int past(const struct wsk_server *s, uint32_t t)
{
	return (int32_t)(now32(s) - t) >= 0;
}

/* The queue the socket writes: the ciphertext one under TLS. */
static inline struct wsk_outq *wire(struct conn *c)
{
	return c->tls ? &c->tls->wire : &c->out;
}

/* Unsent bytes, plaintext and ciphertext: the backpressure measure. */
static inline size_t unsent(const struct conn *c)
{
	return c->out.bytes + (c->tls ? c->tls->wire.bytes : 0);
}

/* srv_conn.c: output, lifetime, input dispatch. */

/* Logs one record through the caller's log callback (lib never prints). */
void srv_log(struct wsk_server *s, const struct conn *c,
	     enum wsk_log_level level, const char *event, int code,
	     const char *detail, int with_clients);
/* Queues c for the next flush (once per loop turn, in srv_on_prepare). */
void srv_mark_dirty(struct conn *c);
void srv_on_prepare(uv_prepare_t *h);
/* Queues a reference to a shared chunk (push_owned also drops the
 * caller's reference, and closes c when ch is NULL: out of memory).
 * srv_push_owned returns -1 when c is closing afterwards. */
void srv_push(struct conn *c, struct wsk_chunk *ch);
int srv_push_owned(struct conn *c, struct wsk_chunk *ch);
/* The subscriber lists: a connection is on at most one. */
void srv_hub_remove(struct conn *c);
void srv_list_add(struct conn *c, enum list which);
/* Closes at once; memory goes in the close callback. Idempotent. */
void srv_conn_close(struct conn *c);
/* Closes after the queue is written, with a lingering FIN. */
void srv_conn_finish(struct conn *c);
/* Bounds the wait for the peer's close frame or FIN. */
void srv_arm_close_timer(struct conn *c);
/* Keeps input while reading is paused (see srv_conn.c). */
void srv_stash(struct conn *c, const char *p, size_t len);
/* Restarts reading once the queue drained, replaying stashed input. */
void srv_maybe_resume_reading(struct conn *c);
/* Stops reading c until srv_maybe_resume_reading; no-op when stopped. */
void srv_pause_reading(struct conn *c);
void srv_on_connection(uv_stream_t *l, int status);

/* server.c */
/* Calls the shutdown callback once every connection and handle is gone. */
void srv_maybe_done(struct wsk_server *s);

/* srv_http.c */
void srv_http_input(struct conn *c, const char *p, size_t len);

/* srv_ws.c */
/* Sends a close frame (through wslay when c has a context) and waits for
 * the peer's, bounded by the close timer. */
void srv_ws_close(struct conn *c, uint16_t code, const char *why);
void srv_conn_ws_input(struct conn *c, const uint8_t *p, size_t len);
/* Frees c's receive state (wslay context and frame scanner), if any. */
void srv_ws_release(struct conn *c);
void srv_send_initial(struct conn *c);
/* The frame of a text message every client may get (a broadcast, the
 * INITIAL): sealed, one reference, with its permessage-deflate twin as
 * ch->alt when the server offers deflate and it comes out smaller;
 * srv_push picks the one a client takes. NULL when out of memory. */
struct wsk_chunk *srv_text_frame(struct wsk_server *s, const char *json,
				 size_t len);
/* Drops what was derived from the events' state (the cached INITIAL). */
void srv_state_changed(struct wsk_server *s);
/* The first messages of a new client: the missed UPDATEs or INITIAL. */
void srv_greet(struct conn *c, const char *url);

/* srv_stream.c */
/* One SSE event chunk (sealed, one reference) for an UPDATE. */
struct wsk_chunk *srv_sse_event(const struct wsk_server *s, uint64_t seq,
				const char *json, size_t len);
/* Answers a parked or immediate long poll and returns c to HTTP. */
void srv_poll_answer(struct conn *c, int status, const char *body, size_t len);
/* Decodes a short request path; 0 when it cannot be a stream endpoint. */
int srv_stream_path(const struct wsk_http *h, char *out, size_t outlen);
/* Handles /events/stream and /events/poll; 0 for any other path. */
int srv_stream_route(struct conn *c, const char *path);

#endif
