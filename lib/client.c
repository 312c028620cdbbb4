#include "client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "buf.h"
#include "handshake.h"
#include "pmd.h"
#include "tls.h"
#include "utf8.h"

#define READ_BUF_SIZE 65536
#define MAX_IOV 16

struct wsk_client_loop {
	uv_loop_t *loop;
	/* For wss:// clients without opts.tls; made on first use. */
	struct wsk_tls_ctx *tls_default;
	/* permessage-deflate, made on first use: our messages are each
	 * compressed on their own, so one deflater serves every client; so
	 * does one inflater for servers that compress without context
	 * takeover (a server that keeps context needs one per client). */
	struct wsk_deflater *deflater;
	struct wsk_inflater *inflater;
	uint64_t bytes_in; /* read from sockets, TLS included */
	size_t last_read;  /* the latest read's length, in bytes_in */
	/* Random bytes for masking keys (ws_genmask), and how many of them
	 * were handed out already. */
	uint8_t rnd[4096];
	size_t rnd_used;
	char buf[READ_BUF_SIZE];
};

/* The states run in this order; ST_DONE means the handles are closing and
 * on_close is on its way. */
enum state {
	ST_RESOLVE,
	ST_CONNECT,
	ST_TLS, /* wss:// only: TCP is up, the TLS handshake is under way */
	ST_HANDSHAKE,
	ST_OPEN,
	ST_CLOSING,
	ST_DONE,
};

enum tcp_state { TCP_NONE, TCP_ACTIVE, TCP_RECYCLING };

/* Everything only needed until the connection opens: the resolver request,
 * the address list and the reply parser (about 9 KiB) would be dead weight
 * on an open connection, so they live apart and go at on_open. */
struct setup {
	uv_getaddrinfo_t gai;
	uv_connect_t creq;
	struct addrinfo *ai, *next;
	struct sockaddr_storage given, bind, peer;
	int has_given, given_used, has_bind, gai_active;
	char *host;
	char port[8];
	char *request;
	size_t request_len;
	char *protocol;	 /* asked for: comma-separated, or NULL */
	int pmd_offered; /* the request offers permessage-deflate */
	char key[WSK_KEY_LEN];
	uint64_t t_start, t_connect, t_tls, t_sent;
	uint64_t resolve_us, connect_us, tls_us;
	int last_err; /* libuv error of the last connect attempt */
	int bind_err; /* last_err came from binding to opts.bind */
	struct wsk_http http;
};

struct wsk_client {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wreq;
	struct wsk_client_loop *cl;
	struct wsk_client_cbs cbs;
	void *user_data;
	struct setup *setup;
	wslay_event_context_ptr ws;
	/* Plaintext: the request and wslay's frames. Without TLS the socket
	 * writes it; with TLS it is encrypted into wire once the TLS
	 * handshake is done, and the socket writes wire. */
	struct wsk_outq outq;
	struct wsk_outq wire;
	struct wsk_tls_ctx *tls_ctx; /* NULL for ws:// */
	struct wsk_tls *tls;	     /* from the TCP connect on, for wss:// */
	size_t inflight;   /* bytes handed to the uv_write under way */
	const uint8_t *in; /* the slice wslay's recv callback drains */
	size_t in_len;
	uint64_t max_message, connect_timeout_ms, close_timeout_ms;
	enum state st;
	enum tcp_state tcp_state;
	int pending; /* handle closes and resolver calls outstanding */
	int in_recv; /* inside wslay_event_recv: queue, do not send */
	int opened, failing, blocked;
	/* wsk_client_close waits for the messages queued before it: wslay
	 * puts control frames ahead of data and sends nothing after a close
	 * frame, so the close is queued only once they have gone out. */
	int close_pending;
	uint16_t close_code;
	char *close_reason; /* NULL for none */
	size_t close_reason_len;
	int error, http_status;
	/* permessage-deflate as agreed (pmd_on), and the inflater of a
	 * server that keeps context between messages. */
	int pmd_on;
	struct wsk_pmd_params pmd;
	struct wsk_inflater *inflater;
	/* Why we failed the connection from inside a callback (bad
	 * compressed data), for the close message; NULL otherwise. */
	const char *fail_why;
	char reason[124];
	char message[192];
};

static void flush(struct wsk_client *c);
static void on_timer(uv_timer_t *t);

const char *wsk_client_strerror(int err)
{
	switch (err) {
	case WSK_CLIENT_E_RESOLVE: return "cannot resolve host";
	case WSK_CLIENT_E_CONNECT: return "cannot connect";
	case WSK_CLIENT_E_TIMEOUT: return "connect timed out";
	case WSK_CLIENT_E_HANDSHAKE: return "handshake failed";
	case WSK_CLIENT_E_LOST: return "connection lost";
	case WSK_CLIENT_E_PROTOCOL: return "protocol error";
	case WSK_CLIENT_E_CLOSE_TIMEOUT: return "close timed out";
	case WSK_CLIENT_E_ABORTED: return "aborted";
	case WSK_CLIENT_E_TLS: return "TLS handshake failed";
	default: break;
	}
	/* libuv's codes are -errno on Unix, and its names cover both. */
	return err < 0 && err > -1000 ? uv_strerror(err) : "unknown error";
}

struct wsk_client_loop *wsk_client_loop_new(uv_loop_t *loop)
{
	struct wsk_client_loop *cl = malloc(sizeof(*cl));

	if (cl) {
		cl->loop = loop;
		cl->tls_default = NULL;
		cl->deflater = NULL;
		cl->inflater = NULL;
		cl->bytes_in = 0;
		cl->rnd_used = sizeof(cl->rnd); /* empty: filled on first use */
	}
	return cl;
}

void wsk_client_loop_free(struct wsk_client_loop *cl)
{
	if (!cl)
		return;
	wsk_tls_ctx_free(cl->tls_default);
	wsk_deflater_free(cl->deflater);
	wsk_inflater_free(cl->inflater);
	free(cl);
}

uint64_t wsk_client_loop_bytes_in(const struct wsk_client_loop *cl)
{
	return cl->bytes_in;
}

size_t wsk_client_loop_last_read(const struct wsk_client_loop *cl)
{
	return cl->last_read;
}

static void free_setup(struct setup *s)
{
	if (!s)
		return;
	if (s->ai)
		uv_freeaddrinfo(s->ai);
	free(s->host);
	free(s->request);
	free(s->protocol);
	free(s);
}

/* The last step: every handle is closed and no request is outstanding. */
static void complete(struct wsk_client *c)
{
	struct wsk_client_close info = {0};

	info.opened = c->opened;
	info.error = c->error;
	info.code = WSLAY_CODE_ABNORMAL_CLOSURE;
	if (c->ws && wslay_event_get_close_received(c->ws))
		info.code = wslay_event_get_status_code_received(c->ws);
	if (c->ws && wslay_event_get_close_sent(c->ws))
		info.sent_code = wslay_event_get_status_code_sent(c->ws);
	info.reason = c->reason;
	info.message = c->error ? c->message : "";
	info.http_status = c->http_status;
	c->cbs.on_close(c, &info, c->user_data);
	if (c->ws)
		wslay_event_context_free(c->ws);
	wsk_inflater_free(c->inflater);
	wsk_outq_release(&c->outq);
	wsk_outq_release(&c->wire);
	wsk_tls_free(c->tls);
	free(c->close_reason);
	free_setup(c->setup);
	free(c);
}

static void handle_closed(uv_handle_t *h)
{
	struct wsk_client *c = h->data;

	if (--c->pending == 0 && c->st == ST_DONE)
		complete(c);
}

/* Ends the connection: closes the handles, and on_close follows from the
 * last close callback. The first error recorded is the one reported. */
static void finish(struct wsk_client *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(struct wsk_client *c, int err, const char *fmt, ...)
{
	va_list ap;

	if (c->st == ST_DONE)
		return;
	c->st = ST_DONE;
	if (err && !c->error) {
		c->error = err;
		va_start(ap, fmt);
		vsnprintf(c->message, sizeof(c->message), fmt, ap);
		va_end(ap);
	}
	uv_close((uv_handle_t *)&c->timer, handle_closed);
	c->pending++;
	if (c->tcp_state == TCP_ACTIVE) {
		uv_close((uv_handle_t *)&c->tcp, handle_closed);
		c->pending++;
		c->tcp_state = TCP_NONE;
	}
	if (c->setup && c->setup->gai_active)
		uv_cancel((uv_req_t *)&c->setup->gai);
}

/* A read or write failed, or the peer hung up. */
static void fail_io(struct wsk_client *c, int err)
{
	if (c->st < ST_OPEN) {
		const char *why = uv_strerror(err);

		if (err == UV_EOF && c->st == ST_TLS)
			why = "server closed the connection during the TLS "
			      "handshake";
		else if (err == UV_EOF)
			why = "server closed the connection during the "
			      "handshake";
		finish(c,
		       c->st == ST_TLS ? WSK_CLIENT_E_TLS
				       : WSK_CLIENT_E_HANDSHAKE,
		       "%s", why);
	} else if (c->ws && wslay_event_get_close_received(c->ws)) {
		/* The server closed cleanly and did not wait for our echo. */
		finish(c, 0, NULL);
	} else {
		finish(c, WSK_CLIENT_E_LOST, "%s",
		       err == UV_EOF ? "connection closed without a close "
				       "frame"
				     : uv_strerror(err));
	}
}

/* The queue the socket writes: the ciphertext one under TLS. */
static struct wsk_outq *wire(struct wsk_client *c)
{
	return c->tls ? &c->wire : &c->outq;
}

/* Unsent bytes, plaintext and ciphertext: the backpressure measure. */
static size_t unsent(const struct wsk_client *c)
{
	return c->outq.bytes + c->wire.bytes;
}

/* After a close handshake, or after our protocol-error close went out,
 * nothing is left to do once the queue has reached the kernel. Under TLS
 * the close_notify alert goes last (RFC 8446 6.1: each side sends one
 * before it closes its write side); its write ends here again. */
static void check_done(struct wsk_client *c)
{
	if (c->st == ST_DONE || !c->ws || unsent(c) || c->inflight)
		return;
	if (!wslay_event_get_close_sent(c->ws) ||
	    (!wslay_event_get_close_received(c->ws) && !c->failing))
		return;
	if (c->tls && wsk_tls_shutdown(c->tls) == 0 &&
	    wsk_tls_take(c->tls, &c->wire) > 0) {
		flush(c);
		if (c->st == ST_DONE || c->inflight || unsent(c))
			return;
	}
	finish(c, 0, NULL);
}

static void write_cb(uv_write_t *req, int status)
{
	struct wsk_client *c = req->data;
	size_t n = c->inflight;

	c->inflight = 0;
	if (c->st == ST_DONE)
		return;
	if (status < 0) {
		fail_io(c, status);
		return;
	}
	wsk_outq_consume(wire(c), n);
	flush(c);
	if (c->st == ST_DONE || c->inflight || unsent(c))
		return;
	if (c->blocked) {
		c->blocked = 0;
		if (c->cbs.on_drain)
			c->cbs.on_drain(c, c->user_data);
	}
	check_done(c);
}

/* Moves the queued plaintext through TLS into the wire queue, and with it
 * whatever TLS itself has to send (handshake records). Before the TLS
 * handshake ends the plaintext waits in outq. Returns 0 or -1. */
static int tls_encrypt(struct wsk_client *c)
{
	uv_buf_t iov[MAX_IOV];
	unsigned n, i;

	while (c->outq.count && wsk_tls_ready(c->tls)) {
		n = wsk_outq_iov(&c->outq, 0, iov, MAX_IOV);
		for (i = 0; i < n; i++) {
			if (wsk_tls_write(c->tls, iov[i].base, iov[i].len) < 0)
				return -1;
			wsk_outq_consume(&c->outq, iov[i].len);
		}
	}
	return wsk_tls_take(c->tls, &c->wire) < 0 ? -1 : 0;
}

/* Writes what the socket takes now, and hands the rest to one uv_write;
 * the chunks stay referenced by the queue until write_cb consumes them. */
static void flush(struct wsk_client *c)
{
	uv_buf_t iov[MAX_IOV];
	struct wsk_outq *q = wire(c);
	unsigned n, i;
	size_t total;
	int r;

	if (c->inflight || c->tcp_state != TCP_ACTIVE || c->st == ST_DONE)
		return;
	if (c->tls && tls_encrypt(c) < 0) {
		finish(c,
		       c->st < ST_OPEN ? WSK_CLIENT_E_TLS : WSK_CLIENT_E_LOST,
		       "cannot encrypt the output");
		return;
	}
	while (q->bytes) {
		n = wsk_outq_iov(q, 0, iov, MAX_IOV);
		for (total = 0, i = 0; i < n; i++)
			total += iov[i].len;
		r = uv_try_write((uv_stream_t *)&c->tcp, iov, n);
		if (r == UV_EAGAIN)
			break;
		if (r < 0) {
			fail_io(c, r);
			return;
		}
		wsk_outq_consume(q, (size_t)r);
		if ((size_t)r < total)
			break;
	}
	if (!q->bytes)
		return;
	n = wsk_outq_iov(q, 0, iov, MAX_IOV);
	for (total = 0, i = 0; i < n; i++)
		total += iov[i].len;
	r = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, iov, n, write_cb);
	if (r < 0) {
		fail_io(c, r);
		return;
	}
	c->inflight = total;
	c->blocked = 1;
}

/* Hands wslay's queued frames to the output queue and the socket. */
/* The close handshake has begun, whoever began it. It ends when both close
 * frames have gone and ours has reached the kernel (check_done), or when
 * the timer fires first: a server that stops reading could otherwise hold
 * our answer, and us, for ever. timeout_ms 0 is the default. */
static void start_closing(struct wsk_client *c, uint64_t timeout_ms)
{
	c->st = ST_CLOSING;
	c->close_timeout_ms =
	    timeout_ms ? timeout_ms : WSK_CLIENT_CLOSE_TIMEOUT_MS;
	uv_timer_start(&c->timer, on_timer, c->close_timeout_ms, 0);
}

static void pump(struct wsk_client *c)
{
	int r;

	if (c->st == ST_DONE)
		return;
	r = wslay_event_send(c->ws);
	/* Our send callback takes everything, so an empty queue means every
	 * message queued before wsk_client_close is out: now the close. */
	if (r == 0 && c->close_pending &&
	    wslay_event_get_queued_msg_count(c->ws) == 0) {
		c->close_pending = 0;
		r = wslay_event_queue_close(c->ws, c->close_code,
					    (const uint8_t *)c->close_reason,
					    c->close_reason_len);
		/* NO_MORE_MSG: the server's close came first and wslay has
		 * answered it. */
		if (r == WSLAY_ERR_NO_MORE_MSG)
			r = 0;
		else if (r == 0)
			r = wslay_event_send(c->ws);
	}
	if (r < 0) {
		finish(c, r == WSLAY_ERR_NOMEM ? -ENOMEM : WSK_CLIENT_E_LOST,
		       "%s", "cannot queue output: out of memory");
		return;
	}
	flush(c);
	check_done(c);
}

static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data,
		       size_t len, int flags, void *arg)
{
	struct wsk_client *c = arg;

	(void)flags;
	if (wsk_outq_append(&c->outq, data, len) < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
		       int flags, void *arg)
{
	struct wsk_client *c = arg;
	size_t n = len < c->in_len ? len : c->in_len;

	(void)flags;
	if (n == 0 || c->st == ST_DONE) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, c->in, n);
	c->in += n;
	c->in_len -= n;
	return (ssize_t)n;
}

/* Masking keys and handshake nonces come from the loop's pool of
 * RAND_bytes output, filled 4 KiB at a time: OpenSSL checks for a fork
 * (getpid) on every call, which cost a load generator about 6% of its CPU
 * when taken per frame. Returns 0 or -1. */
static int loop_random(struct wsk_client_loop *cl, uint8_t *buf, size_t len)
{
	if (len > sizeof(cl->rnd))
		return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
	if (sizeof(cl->rnd) - cl->rnd_used < len) {
		if (RAND_bytes(cl->rnd, sizeof(cl->rnd)) != 1)
			return -1;
		cl->rnd_used = 0;
	}
	memcpy(buf, cl->rnd + cl->rnd_used, len);
	/* Used bytes are wiped: nothing of a key stays behind. */
	memset(cl->rnd + cl->rnd_used, 0, len);
	cl->rnd_used += len;
	return 0;
}

static int ws_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
		      void *arg)
{
	(void)ctx;
	return loop_random(((struct wsk_client *)arg)->cl, buf, len);
}

/* Inflates a message (wslay does not check the UTF-8 of compressed text:
 * it is checked here). On bad data, fails the connection as wslay does for
 * its own errors: a close frame, and no more reading. Returns 0 or -1. */
static int inflate_msg(struct wsk_client *c, wslay_event_context_ptr ctx,
		       uint8_t opcode, const uint8_t **msg, size_t *len)
{
	struct wsk_inflater **f =
	    c->pmd.server_nct ? &c->cl->inflater : &c->inflater;
	uint16_t code = 0;
	long n;

	if (!*f)
		*f = wsk_inflater_new();
	if (!*f) {
		code = WSLAY_CODE_INTERNAL_SERVER_ERROR;
		c->fail_why = "out of memory";
		goto fail;
	}
	n = wsk_inflate(*f, *msg, *len, c->max_message, !c->pmd.server_nct,
			msg);
	if (n == WSK_PMD_E_BIG) {
		code = WSLAY_CODE_MESSAGE_TOO_BIG;
	} else if (n < 0) {
		code = n == WSK_PMD_E_DATA
			   ? WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA
			   : WSLAY_CODE_INTERNAL_SERVER_ERROR;
		c->fail_why = n == WSK_PMD_E_DATA
				  ? "server sent bad compressed data"
				  : "out of memory";
	} else if (opcode == WSLAY_TEXT_FRAME &&
		   !wsk_utf8_valid(*msg, (size_t)n)) {
		code = WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA;
	} else {
		*len = (size_t)n;
		return 0;
	}
fail:
	wslay_event_queue_close(ctx, code, NULL, 0);
	wslay_event_shutdown_read(ctx);
	return -1;
}

static void ws_msg(wslay_event_context_ptr ctx,
		   const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
	struct wsk_client *c = ud;
	const uint8_t *msg = arg->msg ? arg->msg : (const uint8_t *)"";
	size_t len = arg->msg_length;

	switch (arg->opcode) {
	case WSLAY_TEXT_FRAME:
	case WSLAY_BINARY_FRAME:
		if (c->st != ST_OPEN)
			break;
		/* wslay lets RSV1 through only on the first frame of a data
		 * message, and only once permessage-deflate was agreed. */
		if ((arg->rsv & WSLAY_RSV1_BIT) &&
		    inflate_msg(c, ctx, arg->opcode, &msg, &len) < 0)
			break;
		if (c->cbs.on_message)
			c->cbs.on_message(c, arg->opcode, msg, len,
					  c->user_data);
		break;
	case WSLAY_PONG:
		if (c->st == ST_OPEN && c->cbs.on_pong)
			c->cbs.on_pong(c, msg, arg->msg_length, c->user_data);
		break;
	case WSLAY_CONNECTION_CLOSE:
		if (arg->msg_length > 2) {
			size_t n = arg->msg_length - 2;

			if (n > sizeof(c->reason) - 1)
				n = sizeof(c->reason) - 1;
			memcpy(c->reason, msg + 2, n);
			c->reason[n] = '\0';
		}
		if (c->st == ST_OPEN)
			start_closing(c, 0);
		break;
	default: break;
	}
}

static const char *failure_text(uint16_t code)
{
	switch (code) {
	case WSLAY_CODE_MESSAGE_TOO_BIG: return "server sent a message over";
	case WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA:
		return "server sent a text message that is not UTF-8";
	default: return "server broke the WebSocket protocol";
	}
}

/* Feeds bytes to wslay, then sends what it queued: pongs, the echo of a
 * close, or the close for a protocol error it found. */
static void ws_input(struct wsk_client *c, const uint8_t *data, size_t len)
{
	int r;

	c->in = data;
	c->in_len = len;
	c->in_recv = 1;
	r = wslay_event_recv(c->ws);
	c->in_recv = 0;
	c->in_len = 0;
	if (c->st == ST_DONE)
		return;
	if (r < 0) {
		finish(c,
		       r == WSLAY_ERR_NOMEM ? -ENOMEM : WSK_CLIENT_E_PROTOCOL,
		       "%s",
		       r == WSLAY_ERR_NOMEM ? "out of memory"
					    : "cannot read frames");
		return;
	}
	/* wslay stops reading without a close from the peer only when it
	 * fails the connection, and then it has queued a close frame. */
	if (!c->failing && !wslay_event_get_read_enabled(c->ws) &&
	    !wslay_event_get_close_received(c->ws)) {
		c->failing = 1;
		if (c->st == ST_OPEN)
			start_closing(c, 0);
		if (wslay_event_send(c->ws) < 0) {
			finish(c, -ENOMEM, "out of memory");
			return;
		}
		c->error = WSK_CLIENT_E_PROTOCOL;
		if (c->fail_why)
			snprintf(c->message, sizeof(c->message),
				 "%s (close %u)", c->fail_why,
				 wslay_event_get_status_code_sent(c->ws));
		else if (wslay_event_get_status_code_sent(c->ws) ==
			 WSLAY_CODE_MESSAGE_TOO_BIG)
			snprintf(c->message, sizeof(c->message),
				 "%s %llu bytes (close 1009)",
				 failure_text(WSLAY_CODE_MESSAGE_TOO_BIG),
				 (unsigned long long)c->max_message);
		else
			snprintf(c->message, sizeof(c->message),
				 "%s (close %u)",
				 failure_text(
				     wslay_event_get_status_code_sent(c->ws)),
				 wslay_event_get_status_code_sent(c->ws));
	}
	pump(c);
}

/* Checks the 101 reply beyond what wsk_hs_check_response knows: the
 * subprotocol must be one we asked for, and no extension was offered. */
static int check_reply(struct wsk_client *c)
{
	struct setup *s = c->setup;
	const struct wsk_http *h = &s->http;
	const char *why, *p, *x;
	int status = wsk_http_status(h);

	if (status != 101) {
		c->http_status = status;
		finish(c, WSK_CLIENT_E_HANDSHAKE,
		       "server answered %d instead of 101", status);
		return -1;
	}
	if (wsk_hs_check_response(h, s->key, &why) < 0) {
		finish(c, WSK_CLIENT_E_HANDSHAKE, "%s", why);
		return -1;
	}
	p = wsk_http_header(h, "Sec-WebSocket-Protocol");
	/* Subprotocol names are compared as sent (RFC 6455 4.1). */
	if (s->protocol && (!p || !wsk_list_has_token(s->protocol, p, 0))) {
		finish(c, WSK_CLIENT_E_HANDSHAKE,
		       "server did not accept protocol '%s'", s->protocol);
		return -1;
	}
	if (!s->protocol && p && *p) {
		finish(c, WSK_CLIENT_E_HANDSHAKE,
		       "server chose protocol '%s' that was not asked for", p);
		return -1;
	}
	c->pmd_on = wsk_pmd_client_check(h, s->pmd_offered, &c->pmd, &why);
	if (c->pmd_on < 0) {
		x = wsk_http_header(h, "Sec-WebSocket-Extensions");
		finish(c, WSK_CLIENT_E_HANDSHAKE, "%s: '%s'", why, x ? x : "");
		c->pmd_on = 0;
		return -1;
	}
	return 0;
}

static int make_ws(struct wsk_client *c)
{
	static const struct wslay_event_callbacks cbs = {
	    .recv_callback = ws_recv,
	    .send_callback = ws_send,
	    .genmask_callback = ws_genmask,
	    .on_msg_recv_callback = ws_msg,
	};

	if (wslay_event_context_client_init(&c->ws, &cbs, c) != 0) {
		c->ws = NULL;
		return -ENOMEM;
	}
	wslay_event_config_set_max_recv_msg_length(c->ws, c->max_message);
	if (c->pmd_on)
		wslay_event_config_set_allowed_rsv_bits(c->ws, WSLAY_RSV1_BIT);
	return 0;
}

static void handshake_input(struct wsk_client *c, const char *data, size_t len)
{
	struct setup *s = c->setup;
	struct wsk_client_open info = {0};
	size_t used = 0;
	int r = wsk_http_feed(&s->http, data, len, &used);

	if (r == WSK_HTTP_AGAIN)
		return;
	if (r < 0) {
		finish(c, WSK_CLIENT_E_HANDSHAKE, "%s",
		       r == WSK_HTTP_ERR_BIG ? "handshake reply head too large"
					     : "malformed handshake reply");
		return;
	}
	if (check_reply(c) < 0)
		return;
	if (make_ws(c) < 0) {
		finish(c, -ENOMEM, "out of memory");
		return;
	}
	uv_timer_stop(&c->timer);
	c->st = ST_OPEN;
	c->opened = 1;
	info.resolve_us = s->resolve_us;
	info.connect_us = s->connect_us;
	info.tls_us = s->tls_us;
	info.handshake_us = (uv_hrtime() - s->t_sent) / 1000;
	info.peer = (const struct sockaddr *)&s->peer;
	info.request = s->request;
	info.response = &s->http;
	info.protocol = wsk_http_header(&s->http, "Sec-WebSocket-Protocol");
	info.extensions =
	    c->pmd_on ? wsk_http_header(&s->http, "Sec-WebSocket-Extensions")
		      : NULL;
	if (c->cbs.on_open)
		c->cbs.on_open(c, &info, c->user_data);
	free_setup(c->setup);
	c->setup = NULL;
	if (c->st == ST_DONE)
		return;
	/* Bytes after the head are the first frames. */
	if (used < len)
		ws_input(c, (const uint8_t *)data + used, len - used);
	else
		pump(c);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct wsk_client *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->cl->buf, sizeof(c->cl->buf));
}

/* Plaintext from the socket, or from TLS. */
static void input(struct wsk_client *c, char *data, size_t len)
{
	if (c->st == ST_HANDSHAKE)
		handshake_input(c, data, len);
	else if (c->st == ST_OPEN || c->st == ST_CLOSING)
		ws_input(c, (const uint8_t *)data, len);
}

/* The TLS handshake is done: the WebSocket handshake request goes out
 * (flush encrypts it). */
static void tls_ready(struct wsk_client *c)
{
	struct setup *s = c->setup;

	s->t_sent = uv_hrtime();
	s->tls_us = (s->t_sent - s->t_tls) / 1000;
	c->st = ST_HANDSHAKE;
	if (wsk_outq_append(&c->outq, s->request, s->request_len) < 0)
		finish(c, -ENOMEM, "out of memory");
}

/* Ciphertext in, plaintext out to the same paths a plain connection
 * uses. The plaintext goes into the read buffer the ciphertext came in:
 * OpenSSL has copied it already. Then whatever TLS or the input produced
 * is sent: handshake records, the request, pongs. */
static void tls_input(struct wsk_client *c, char *buf, size_t len)
{
	char err[192];
	ssize_t n;

	if (wsk_tls_feed(c->tls, buf, len) < 0) {
		finish(c, -ENOMEM, "out of memory");
		return;
	}
	while (c->st != ST_DONE) {
		n = wsk_tls_read(c->tls, buf, READ_BUF_SIZE, err, sizeof(err));
		if (c->st == ST_TLS && wsk_tls_ready(c->tls))
			tls_ready(c);
		if (n == 0)
			break;
		if (n == -2) {
			/* close_notify: the end of the stream, like EOF. */
			fail_io(c, UV_EOF);
			return;
		}
		if (n < 0) {
			if (c->st < ST_OPEN)
				finish(c, WSK_CLIENT_E_TLS, "%s", err);
			else
				finish(c, WSK_CLIENT_E_LOST, "%s", err);
			return;
		}
		input(c, buf, (size_t)n);
	}
	flush(c);
}

static void read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
	struct wsk_client *c = stream->data;

	if (c->st == ST_DONE || n == 0)
		return;
	if (n < 0) {
		fail_io(c, (int)n);
		return;
	}
	c->cl->bytes_in += (uint64_t)n;
	c->cl->last_read = (size_t)n;
	if (c->tls)
		tls_input(c, buf->base, (size_t)n);
	else
		input(c, buf->base, (size_t)n);
}

static void connect_next(struct wsk_client *c);

static void tcp_recycled(uv_handle_t *h)
{
	struct wsk_client *c = h->data;

	c->pending--;
	c->tcp_state = TCP_NONE;
	if (c->st == ST_DONE) {
		if (c->pending == 0)
			complete(c);
		return;
	}
	connect_next(c);
}

/* A failed handle cannot connect again: close it, then try the next
 * address from the close callback with the same embedded handle. */
static void recycle_tcp(struct wsk_client *c)
{
	c->tcp_state = TCP_RECYCLING;
	c->pending++;
	uv_close((uv_handle_t *)&c->tcp, tcp_recycled);
}

static void on_connected(uv_connect_t *req, int status)
{
	struct wsk_client *c = req->data;
	struct setup *s = c->setup;
	int r;

	if (c->st == ST_DONE)
		return;
	if (status < 0) {
		s->last_err = status;
		s->bind_err = 0;
		recycle_tcp(c);
		return;
	}
	s->connect_us = (uv_hrtime() - s->t_connect) / 1000;
	if (c->tls_ctx) {
		/* The request waits for the TLS handshake (tls_ready). */
		c->st = ST_TLS;
		s->t_tls = uv_hrtime();
		c->tls = wsk_tls_new_client(c->tls_ctx, s->host);
		if (!c->tls) {
			finish(c, -ENOMEM, "out of memory");
			return;
		}
		if (wsk_tls_connect(c->tls) < 0) {
			finish(c, WSK_CLIENT_E_TLS, "cannot start TLS");
			return;
		}
	} else {
		c->st = ST_HANDSHAKE;
		r = wsk_outq_append(&c->outq, s->request, s->request_len);
		if (r < 0) {
			finish(c, -ENOMEM, "out of memory");
			return;
		}
		s->t_sent = uv_hrtime();
	}
	flush(c);
}

static const struct sockaddr *next_addr(struct setup *s)
{
	if (s->has_given) {
		if (s->given_used)
			return NULL;
		s->given_used = 1;
		return (const struct sockaddr *)&s->given;
	}
	while (s->next) {
		struct addrinfo *a = s->next;

		s->next = a->ai_next;
		if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
			return a->ai_addr;
	}
	return NULL;
}

static size_t sa_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

/* Binds the socket to opts.bind, leaving the port to connect(). A bind()
 * to port 0 must pick a port free towards every destination, searching
 * the ephemeral range through every socket bound there: slow with tens of
 * thousands of them, and it caps the address at one connection per port.
 * With IP_BIND_ADDRESS_NO_PORT (Linux 4.2) connect() picks the port, as
 * without a bind, knowing the destination. Where the option is missing,
 * bind() picks the port as before. */
static int bind_source(struct wsk_client *c)
{
	uv_os_fd_t fd;
	int on = 1;

#ifdef IP_BIND_ADDRESS_NO_PORT
	if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on,
			   sizeof(on));
#else
	(void)fd;
	(void)on;
#endif
	return uv_tcp_bind(&c->tcp, (const struct sockaddr *)&c->setup->bind,
			   0);
}

static void connect_next(struct wsk_client *c)
{
	struct setup *s = c->setup;
	const struct sockaddr *sa = next_addr(s);
	int r;

	/* A source address can only be bound by a socket of its family. */
	while (sa && s->has_bind && sa->sa_family != s->bind.ss_family) {
		s->last_err = UV_EAFNOSUPPORT;
		s->bind_err = 1;
		sa = next_addr(s);
	}
	if (!sa && s->bind_err) {
		/* Say which: a source address that is not this machine's
		 * looks like any connect failure otherwise. */
		char ip[INET6_ADDRSTRLEN] = "?";

		if (s->bind.ss_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((struct sockaddr_in6 *)&s->bind)->sin6_addr,
				  ip, sizeof(ip));
		else
			inet_ntop(AF_INET,
				  &((struct sockaddr_in *)&s->bind)->sin_addr,
				  ip, sizeof(ip));
		finish(c, WSK_CLIENT_E_CONNECT, "cannot bind to %s: %s", ip,
		       uv_strerror(s->last_err));
		return;
	}
	if (!sa) {
		finish(c, WSK_CLIENT_E_CONNECT, "%s",
		       s->last_err ? uv_strerror(s->last_err)
				   : "no address to connect to");
		return;
	}
	/* With a source address the socket must exist before the bind. */
	r = s->has_bind ? uv_tcp_init_ex(c->cl->loop, &c->tcp, sa->sa_family)
			: uv_tcp_init(c->cl->loop, &c->tcp);
	if (r < 0) {
		finish(c, WSK_CLIENT_E_CONNECT, "%s", uv_strerror(r));
		return;
	}
	c->tcp.data = c;
	c->tcp_state = TCP_ACTIVE;
	c->st = ST_CONNECT;
	memcpy(&s->peer, sa, sa_len(sa));
	r = s->has_bind ? bind_source(c) : 0;
	s->bind_err = r < 0;
	if (r == 0) {
		s->t_connect = uv_hrtime();
		r = uv_tcp_connect(&s->creq, &c->tcp, sa, on_connected);
	}
	/* Set now, the options go with the socket and the poller watches for
	 * input from the start: starting to read once connected would change
	 * the poller's entry a second time. */
	if (r == 0)
		r = uv_tcp_nodelay(&c->tcp, 1);
	if (r == 0)
		r = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
	if (r < 0) {
		s->last_err = r;
		recycle_tcp(c);
	}
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct wsk_client *c = req->data;
	struct setup *s = c->setup;

	s->gai_active = 0;
	c->pending--;
	if (c->st == ST_DONE) {
		if (res)
			uv_freeaddrinfo(res);
		if (c->pending == 0)
			complete(c);
		return;
	}
	s->resolve_us = (uv_hrtime() - s->t_start) / 1000;
	if (status < 0) {
		finish(c, WSK_CLIENT_E_RESOLVE, "cannot resolve '%s': %s",
		       s->host, uv_strerror(status));
		return;
	}
	s->ai = s->next = res;
	connect_next(c);
}

static void on_timer(uv_timer_t *t)
{
	struct wsk_client *c = t->data;
	double secs = (double)c->connect_timeout_ms / 1000;

	switch (c->st) {
	case ST_RESOLVE:
		finish(c, WSK_CLIENT_E_TIMEOUT,
		       "timed out resolving '%s' (%g s)", c->setup->host, secs);
		break;
	case ST_CONNECT:
		finish(c, WSK_CLIENT_E_TIMEOUT, "timed out connecting (%g s)",
		       secs);
		break;
	case ST_TLS:
		finish(c, WSK_CLIENT_E_TIMEOUT,
		       "timed out in the TLS handshake (%g s)", secs);
		break;
	case ST_HANDSHAKE:
		finish(c, WSK_CLIENT_E_TIMEOUT,
		       "timed out waiting for the handshake reply (%g s)",
		       secs);
		break;
	case ST_CLOSING:
		finish(c, WSK_CLIENT_E_CLOSE_TIMEOUT,
		       "the close handshake did not finish within %g s",
		       (double)c->close_timeout_ms / 1000);
		break;
	default: break;
	}
}

static int is_tchar(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

int wsk_client_check_header(const char *line, char *err, size_t errlen)
{
	const char *p = line;

	while (is_tchar((unsigned char)*p))
		p++;
	if (p == line || *p != ':') {
		snprintf(err, errlen, "'%s' is not a header 'Name: value'",
			 line);
		return -EINVAL;
	}
	if (strpbrk(p, "\r\n")) {
		snprintf(err, errlen, "header '%.40s...' holds a line break",
			 line);
		return -EINVAL;
	}
	return 0;
}

/* Returns the value of header name among the caller's lines, or NULL. */
static const char *user_header(const struct wsk_client_opts *o,
			       const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < o->nheaders; i++) {
		const char *h = o->headers[i];

		if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
			h += n + 1;
			while (*h == ' ' || *h == '\t')
				h++;
			return h;
		}
	}
	return NULL;
}

struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void add(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t ncap = (b->cap + (size_t)n) * 2;
			char *np = realloc(b->p, ncap);

			if (!np) {
				b->oom = 1;
				return;
			}
			b->p = np;
			b->cap = ncap;
		}
	}
}

static int build_request(struct setup *s, const struct wsk_client_opts *o)
{
	const struct wsk_url *u = o->url;
	struct sbuf b = {0};
	size_t i;

	b.cap = 512;
	b.p = malloc(b.cap);
	if (!b.p)
		return -ENOMEM;
	add(&b, "GET %s HTTP/1.1\r\n", u->target);
	if (!user_header(o, "Host"))
		add(&b, "Host: %s\r\n", u->authority);
	add(&b,
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
	    s->key);
	if (o->origin && !user_header(o, "Origin"))
		add(&b, "Origin: %s\r\n", o->origin);
	if (o->protocol && !user_header(o, "Sec-WebSocket-Protocol"))
		add(&b, "Sec-WebSocket-Protocol: %s\r\n", o->protocol);
	if (o->user_agent && !user_header(o, "User-Agent"))
		add(&b, "User-Agent: %s\r\n", o->user_agent);
	if (o->bearer && !user_header(o, "Authorization"))
		add(&b, "Authorization: Bearer %s\r\n", o->bearer);
	/* A header line of the caller's naming extensions replaces our offer,
	 * and then we accept none (we cannot speak what it offers). */
	s->pmd_offered =
	    o->deflate && !user_header(o, "Sec-WebSocket-Extensions");
	if (s->pmd_offered)
		add(&b, "Sec-WebSocket-Extensions: %s\r\n", WSK_PMD_OFFER);
	for (i = 0; i < o->nheaders; i++)
		add(&b, "%s\r\n", o->headers[i]);
	add(&b, "\r\n");
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	s->request = b.p;
	s->request_len = b.len;
	return 0;
}

static int setup_new(struct setup **out, struct wsk_client_loop *cl,
		     const struct wsk_client_opts *o, char *err, size_t errlen)
{
	struct setup *s = calloc(1, sizeof(*s));
	unsigned char nonce[16];
	const char *proto;

	if (!s)
		goto oom;
	wsk_http_init(&s->http, WSK_HTTP_RESPONSE);
	s->host = strdup(o->url->host);
	proto = o->protocol ? o->protocol
			    : user_header(o, "Sec-WebSocket-Protocol");
	if (proto) {
		s->protocol = strdup(proto);
		if (!s->protocol)
			goto oom;
	}
	if (!s->host || loop_random(cl, nonce, sizeof(nonce)) < 0)
		goto oom;
	wsk_hs_client_key(s->key, nonce);
	if (build_request(s, o) < 0)
		goto oom;
	snprintf(s->port, sizeof(s->port), "%u", o->url->port);
	if (o->addr) {
		memcpy(&s->given, o->addr, sa_len(o->addr));
		s->has_given = 1;
	}
	if (o->bind) {
		memcpy(&s->bind, o->bind, sa_len(o->bind));
		s->has_bind = 1;
	}
	*out = s;
	return 0;
oom:
	free_setup(s);
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

/* The loop's default TLS context, made on first use: the system's CA
 * store, verified. Returns NULL with a message in err if it cannot be
 * made. */
static struct wsk_tls_ctx *loop_tls(struct wsk_client_loop *cl, char *err,
				    size_t errlen)
{
	if (!cl->tls_default &&
	    wsk_tls_client_ctx(&cl->tls_default, NULL, 0, err, errlen) < 0)
		cl->tls_default = NULL;
	return cl->tls_default;
}

int wsk_client_connect(struct wsk_client **out, struct wsk_client_loop *cl,
		       const struct wsk_client_opts *o,
		       const struct wsk_client_cbs *cbs, void *user_data,
		       char *err, size_t errlen)
{
	struct addrinfo hints = {0};
	struct wsk_tls_ctx *tls;
	struct wsk_client *c;
	size_t i;
	int r;

	if (!o->url || !cbs->on_close) {
		snprintf(err, errlen, "no URL or no on_close callback");
		return -EINVAL;
	}
	for (i = 0; i < o->nheaders; i++) {
		r = wsk_client_check_header(o->headers[i], err, errlen);
		if (r < 0)
			return r;
	}
	if (o->bearer && (!*o->bearer || strpbrk(o->bearer, "\r\n"))) {
		snprintf(err, errlen, "bad bearer token: empty or multi-line");
		return -EINVAL;
	}
	tls = o->tls;
	if (o->url->is_tls && !tls) {
		tls = loop_tls(cl, err, errlen);
		if (!tls)
			return WSK_CLIENT_E_TLS;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = setup_new(&c->setup, cl, o, err, errlen);
	if (r < 0) {
		free(c);
		return r;
	}
	c->cl = cl;
	c->tls_ctx = o->url->is_tls ? tls : NULL;
	c->cbs = *cbs;
	c->user_data = user_data;
	c->max_message =
	    o->max_message ? o->max_message : WSK_CLIENT_MAX_MESSAGE;
	c->connect_timeout_ms = o->connect_timeout_ms;
	c->wreq.data = c;
	c->setup->creq.data = c;
	c->setup->gai.data = c;
	c->setup->t_start = uv_hrtime();
	/* The resolver goes first: it is the one step that can fail here,
	 * and no handle exists yet that would need an asynchronous close. */
	if (!c->setup->has_given) {
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		r = uv_getaddrinfo(cl->loop, &c->setup->gai, on_resolved,
				   c->setup->host, c->setup->port, &hints);
		if (r < 0) {
			snprintf(err, errlen, "cannot resolve '%s': %s",
				 c->setup->host, uv_strerror(r));
			free_setup(c->setup);
			free(c);
			return r;
		}
		c->setup->gai_active = 1;
		c->pending++;
	}
	uv_timer_init(cl->loop, &c->timer);
	c->timer.data = c;
	if (o->connect_timeout_ms)
		uv_timer_start(&c->timer, on_timer, o->connect_timeout_ms, 0);
	if (c->setup->has_given)
		connect_next(c);
	*out = c;
	return 0;
}

/* Compresses a data message when permessage-deflate was agreed and it
 * pays: each on its own, so the one deflater of the loop serves all. A
 * server that limits our window gets longer messages uncompressed (see
 * pmd.h). Returns 1 with m pointing at the compressed bytes, 0 to send as
 * is, or -ENOMEM. */
static int compress(struct wsk_client *c, struct wslay_event_msg *m)
{
	struct wsk_client_loop *cl = c->cl;
	const uint8_t *z;
	long n;

	/* The size check comes first too, so that a client sending only
	 * short messages never makes the loop's deflater (about 270 KB). */
	if (!c->pmd_on || m->opcode == WSLAY_PING ||
	    m->msg_length < WSK_PMD_MIN_SIZE)
		return 0;
	if (!cl->deflater)
		cl->deflater = wsk_deflater_new(-1);
	if (!cl->deflater)
		return -ENOMEM;
	n = wsk_pmd_compress(cl->deflater, c->pmd.client_bits, m->msg,
			     m->msg_length, &z);
	if (n <= 0)
		return (int)n;
	m->msg = z;
	m->msg_length = (size_t)n;
	return 1;
}

static int queue(struct wsk_client *c, uint8_t opcode, const void *data,
		 size_t len)
{
	struct wslay_event_msg m = {opcode, data, len};
	int r, z;

	if (c->st < ST_OPEN)
		return -ENOTCONN;
	if (c->st > ST_OPEN)
		return -EPIPE;
	z = compress(c, &m);
	if (z < 0)
		return z;
	/* wslay copies the bytes: the deflater's buffer is free again. */
	r = wslay_event_queue_msg_ex(c->ws, &m, z ? WSLAY_RSV1_BIT : 0);
	if (r == WSLAY_ERR_NOMEM)
		return -ENOMEM;
	if (r == WSLAY_ERR_NO_MORE_MSG)
		return -EPIPE;
	if (r < 0)
		return -EINVAL;
	/* Inside wslay_event_recv the frames go out when it returns. */
	if (!c->in_recv)
		pump(c);
	return 0;
}

int wsk_client_send(struct wsk_client *c, int opcode, const void *data,
		    size_t len)
{
	if (opcode != WSK_WS_TEXT && opcode != WSK_WS_BINARY)
		return -EINVAL;
	return queue(c, (uint8_t)opcode, data, len);
}

int wsk_client_ping(struct wsk_client *c, const void *data, size_t len)
{
	if (len > 125)
		return -EINVAL;
	return queue(c, WSLAY_PING, data, len);
}

/* The codes an endpoint may send (RFC 6455 7.4), as wslay checks them. */
static int close_code_ok(uint16_t code)
{
	return code == 0 ||
	       (code >= 1000 && code <= 1011 && code != 1004 && code != 1005 &&
		code != 1006) ||
	       (code >= 3000 && code <= 4999);
}

int wsk_client_close(struct wsk_client *c, uint16_t code, const char *reason,
		     uint64_t timeout_ms)
{
	size_t rlen = reason ? strlen(reason) : 0;

	if (c->st > ST_OPEN)
		return -EPIPE;
	if (c->st < ST_OPEN) {
		finish(c, WSK_CLIENT_E_ABORTED,
		       "closed before the handshake "
		       "ended");
		return 0;
	}
	/* A close frame carries at most 123 bytes of reason; cut at a UTF-8
	 * character boundary. */
	if (rlen > 123) {
		rlen = 123;
		while (rlen && ((unsigned char)reason[rlen] & 0xC0) == 0x80)
			rlen--;
	}
	if (!close_code_ok(code))
		return -EINVAL;
	if (rlen) {
		c->close_reason = malloc(rlen);
		if (!c->close_reason)
			return -ENOMEM;
		memcpy(c->close_reason, reason, rlen);
		c->close_reason_len = rlen;
	}
	c->close_code = code;
	c->close_pending = 1;
	start_closing(c, timeout_ms);
	if (!c->in_recv)
		pump(c);
	return 0;
}

void wsk_client_abort(struct wsk_client *c)
{
	finish(c, WSK_CLIENT_E_ABORTED, "aborted");
}

size_t wsk_client_queued(const struct wsk_client *c)
{
	return unsent(c);
}
