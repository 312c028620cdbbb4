/* The WebSocket phase: wslay glue and the event protocol (see srv.h). */
#include "srv.h"

static void ctx_put(struct wsk_server *s, wslay_event_context_ptr ctx);
static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
			  int flags, void *arg);
static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
			  size_t len, int flags, void *arg);
static void ws_frame_start(wslay_event_context_ptr ctx,
			   const struct wslay_event_on_frame_recv_start_arg *a,
			   void *arg);
static void ws_frame_chunk(wslay_event_context_ptr ctx,
			   const struct wslay_event_on_frame_recv_chunk_arg *a,
			   void *arg);
static void ws_frame_end(wslay_event_context_ptr ctx, void *arg);
static void send_msg(struct conn *c, uint8_t opcode, const void *p, size_t len);
static int rate_ok(struct conn *c);
static int inflate_msg(struct conn *c, uint8_t opcode, const uint8_t **msg,
		       size_t *len);
static void ws_msg(wslay_event_context_ptr ctx,
		   const struct wslay_event_on_msg_recv_arg *a, void *arg);
static wslay_event_context_ptr ctx_get(struct conn *c);
static int ctx_idle(const struct conn *c);

static void ctx_put(struct wsk_server *s, wslay_event_context_ptr ctx)
{
	if (s->npool < CTX_POOL)
		s->pool[s->npool++] = ctx;
	else
		wslay_event_context_free(ctx);
}

/* A pooled rx keeps a message buffer of a usual size, not the largest
 * message it ever took. */
#define RX_KEEP 4096

static void rx_put(struct wsk_server *s, struct conn *c)
{
	struct conn_rx *rx = c->rx;

	c->rx = NULL;
	if (!rx)
		return;
	if (rx->cap > RX_KEEP) {
		free(rx->msg);
		rx->msg = NULL;
		rx->cap = 0;
	}
	if (s->nrx < CTX_POOL) {
		s->rx_pool[s->nrx++] = rx;
	} else {
		free(rx->msg);
		free(rx);
	}
}

void srv_ws_release(struct conn *c)
{
	/* Closed from inside one of wslay's callbacks: wslay_event_recv is
	 * still using the context, and srv_conn_ws_input releases it once
	 * that returns. */
	if (c->srv->in_recv && c->srv->cur == c)
		return;
	if (c->ws) {
		/* A context that saw a close or an error carries state: free
		 * it rather than pool it. */
		wslay_event_context_free(c->ws);
		c->ws = NULL;
	}
	rx_put(c->srv, c);
}

/* Sends a close frame and waits for the peer's. With a live wslay context
 * the context sends it, so that it knows; without one the frame is encoded
 * here and a context made later is told (see ctx_get). */
void srv_ws_close(struct conn *c, uint16_t code, const char *why)
{
	struct wsk_server *s = c->srv;
	struct wsk_chunk *ch;

	if (c->close_sent || c->closing)
		return;
	wsk_metrics_close(&s->m, code);
	srv_hub_remove(c);
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
			srv_conn_close(c);
			return;
		}
		srv_push(c, ch);
		wsk_chunk_unref(ch);
		c->close_sent = 1;
	}
	c->state = ST_CLOSING;
	if (!c->closing)
		srv_arm_close_timer(c);
}

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
			  int flags, void *arg)
{
	struct conn *c = ((struct wsk_server *)arg)->cur;
	const struct wsk_server_opts *o = &c->srv->opts;

	(void)flags;
	/* Answers waiting past --max-queue stop the input here, between two
	 * of wslay's reads of at most its 4 KiB buffer, not after the whole
	 * read: one read of compressed PINGs could otherwise queue hundreds
	 * of inflated PONGs. srv_conn_ws_input keeps the rest for later. */
	if (c->inlen == 0 || c->big || unsent(c) > o->max_queue) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (len > c->inlen)
		len = c->inlen;
	/* A compressed message may inflate a thousandfold, and so may the
	 * answer to it: a deflate client's input goes to wslay in small
	 * pieces, so that the check above comes every few messages. */
	if (c->pmd_bits && len > PMD_RECV_PIECE)
		len = PMD_RECV_PIECE;
	/* wslay looks at a frame's length only once payload comes: a header
	 * that announces a message over --max-message is found here, and
	 * wslay gets the bytes up to its end, never what follows. */
	c->big = (uint8_t)wsk_frame_scan(&c->rx->scan, c->in, len,
					 o->max_message, &len);
	memcpy(buf, c->in, len);
	c->in += len;
	c->inlen -= len;
	c->fed += len;
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
	srv_mark_dirty(c);
	return (ssize_t)len;
}

static void ws_frame_start(wslay_event_context_ptr ctx,
			   const struct wslay_event_on_frame_recv_start_arg *a,
			   void *arg)
{
	struct conn *c = ((struct wsk_server *)arg)->cur;
	uint64_t hdr = 2 + 4; /* client frames are masked */
	int starts =
	    a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME;

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
	/* wslay has checked the order of the opcodes by now: a text or
	 * binary frame starts a message, a continuation goes on with it. */
	if (starts) {
		c->frag = !a->fin;
		c->rx->len = 0;
	} else if (a->opcode == WSLAY_CONTINUATION_FRAME && a->fin) {
		c->frag = 0;
	}
	c->rx->data = starts || a->opcode == WSLAY_CONTINUATION_FRAME;
}

/* A piece of a frame's payload, unmasked; control frames wslay keeps
 * itself. The scanner has held the message to --max-message already. */
static void ws_frame_chunk(wslay_event_context_ptr ctx,
			   const struct wslay_event_on_frame_recv_chunk_arg *a,
			   void *arg)
{
	struct conn *c = ((struct wsk_server *)arg)->cur;
	struct conn_rx *rx = c->rx;
	size_t need = rx->len + a->data_length, cap;
	uint8_t *p;

	(void)ctx;
	if (!rx->data || a->data_length == 0 || c->closing)
		return;
	if (need > rx->cap) {
		cap = rx->cap ? rx->cap * 2 : 256;
		if (cap < need)
			cap = need;
		p = realloc(rx->msg, cap);
		if (!p) {
			srv_conn_close(c);
			return;
		}
		rx->msg = p;
		rx->cap = cap;
	}
	memcpy(rx->msg + rx->len, a->data, a->data_length);
	rx->len = need;
}

static void ws_frame_end(wslay_event_context_ptr ctx, void *arg)
{
	struct conn *c = ((struct wsk_server *)arg)->cur;

	(void)ctx;
	c->framed += c->cur_frame;
	c->cur_frame = 0;
}

/* The RSV1 frame of a message for clients with window bits (0 = 15), or
 * NULL when deflate is off or does not pay (wsk_pmd_compress): the plain
 * frame is then the one to send. *oom is set when memory ran out. */
static struct wsk_chunk *deflated(struct wsk_server *s, unsigned bits,
				  uint8_t opcode, const void *p, size_t len,
				  int *oom)
{
	const uint8_t *z;
	long n =
	    s->deflater ? wsk_pmd_compress(s->deflater, bits, p, len, &z) : 0;

	if (n <= 0) {
		*oom = n < 0;
		return NULL;
	}
	return wsk_encode_rsv(s->enc, opcode, WSLAY_RSV1_BIT, z, (size_t)n);
}

struct wsk_chunk *srv_text_frame(struct wsk_server *s, const char *json,
				 size_t len)
{
	struct wsk_chunk *ch = wsk_encode(s->enc, WSLAY_TEXT_FRAME, json, len);
	int oom = 0;

	if (!ch)
		return NULL;
	/* Made for the largest window; srv_push checks a client's. Only
	 * while some client can take it: compressing a small update costs
	 * about as much as writing it to one client. */
	if (s->deflate_clients > 0)
		ch->alt = deflated(s, 0, WSLAY_TEXT_FRAME, json, len, &oom);
	if (oom && !ch->alt) {
		wsk_chunk_unref(ch);
		return NULL;
	}
	return ch;
}

/* Sends a message of c's own (a reply, an echo): compressed when c
 * negotiated permessage-deflate and its window takes the message. */
static void send_msg(struct conn *c, uint8_t opcode, const void *p, size_t len)
{
	struct wsk_server *s = c->srv;
	struct wsk_chunk *ch = NULL;
	int oom = 0;

	if (c->pmd_bits)
		ch = deflated(s, c->pmd_bits, opcode, p, len, &oom);
	if (!ch && !oom)
		ch = wsk_encode(s->enc, opcode, p, len);
	if (!ch) {
		srv_conn_close(c);
		return;
	}
	srv_push(c, ch);
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
	int data =
	    a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME;
	/* wslay hands over control frames; data it left to ws_frame_chunk. */
	const uint8_t *msg = !data	  ? a->msg
			     : c->rx->len ? c->rx->msg
					  : (const uint8_t *)"";
	size_t msg_len = data ? c->rx->len : a->msg_length, len;
	char *reply;

	(void)ctx;
	if (c->state != ST_WS || c->closing)
		return;
	if (data) {
		s->m.msgs_in++;
		if (!rate_ok(c)) {
			static const char err[] =
			    "{\"type\":\"ERROR\",\"error\":\"rate limit "
			    "exceeded\"}";

			srv_log(s, c, WSK_LOG_WARN, "close", 1008,
				"rate limit exceeded", 0);
			send_msg(c, WSLAY_TEXT_FRAME, err, sizeof(err) - 1);
			srv_ws_close(c, 1008, "rate limit exceeded");
			return;
		}
		/* Inflated only once the rate limit let it through. wslay
		 * lets RSV1 through only on the first frame of a data message
		 * of a client that negotiated permessage-deflate (ctx_get). */
		if ((a->rsv & WSLAY_RSV1_BIT) &&
		    inflate_msg(c, a->opcode, &msg, &msg_len) < 0)
			return;
		s->m.bytes_in += msg_len;
	}
	if (s->opts.echo && data) {
		send_msg(c, a->opcode, msg, msg_len);
		return;
	}
	if (a->opcode == WSLAY_TEXT_FRAME) {
		reply = wsk_proto_reply((const char *)msg, msg_len,
					wsk_now_ms(), &len);
		if (!reply) {
			srv_conn_close(c);
			return;
		}
		send_msg(c, WSLAY_TEXT_FRAME, reply, len);
		free(reply);
	} else if (a->opcode == WSLAY_BINARY_FRAME) {
		srv_log(s, c, WSK_LOG_WARN, "close", 1003, "binary message", 0);
		srv_ws_close(c, 1003, "binary messages are not accepted");
	} else if (a->opcode == WSLAY_CONNECTION_CLOSE) {
		/* wslay answers it; the connection ends once that is written.
		 */
		srv_hub_remove(c);
		c->state = ST_CLOSING;
	}
}

/* Inflates a compressed message in the server's one inflater: clients
 * compress without context takeover, as our answer told them. wslay does
 * not check the UTF-8 of a text message with RSV1 set, so it is checked
 * here, on the inflated text. Returns 0, or -1 after closing c. */
static int inflate_msg(struct conn *c, uint8_t opcode, const uint8_t **msg,
		       size_t *len)
{
	struct wsk_server *s = c->srv;
	long n =
	    wsk_inflate(s->inflater, *msg, *len, s->opts.max_message, 0, msg);
	uint16_t code = 0;
	const char *why = NULL;

	if (n == WSK_PMD_E_BIG) {
		code = 1009;
		why = "message too big";
	} else if (n == WSK_PMD_E_DATA) {
		code = 1007;
		why = "invalid compressed data";
	} else if (n < 0) {
		srv_conn_close(c);
		return -1;
	} else if (opcode == WSLAY_TEXT_FRAME &&
		   !wsk_utf8_valid(*msg, (size_t)n)) {
		code = 1007;
		why = "invalid UTF-8";
	}
	if (code) {
		srv_log(s, c, WSK_LOG_WARN, "close", code, why, 0);
		srv_ws_close(c, code, why);
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

static wslay_event_context_ptr ctx_get(struct conn *c)
{
	static const struct wslay_event_callbacks cbs = {
	    ws_recv_cb,	    ws_send_cb,	  NULL,	  ws_frame_start,
	    ws_frame_chunk, ws_frame_end, ws_msg,
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
		/* Data messages are put together in c->rx (see srv.h). */
		wslay_event_config_set_no_buffering(ctx, 1);
	}
	c->rx = s->nrx ? s->rx_pool[--s->nrx] : calloc(1, sizeof(*c->rx));
	if (!c->rx) {
		wslay_event_context_free(ctx);
		return NULL;
	}
	wsk_frame_scan_init(&c->rx->scan);
	c->rx->len = 0;
	c->rx->data = 0;
	/* Pooled contexts serve clients with and without deflate. */
	wslay_event_config_set_allowed_rsv_bits(
	    ctx, c->pmd_bits ? WSLAY_RSV1_BIT : WSLAY_RSV_NONE);
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

void srv_conn_ws_input(struct conn *c, const uint8_t *p, size_t len)
{
	struct wsk_server *s = c->srv;
	int r;

	if (!c->ws) {
		c->ws = ctx_get(c);
		if (!c->ws) {
			srv_conn_close(c);
			return;
		}
	}
	s->cur = c;
	c->in = p;
	c->inlen = len;
	s->in_recv = 1;
	r = wslay_event_recv(c->ws);
	s->in_recv = 0;
	if (c->bad_close && !c->closing)
		r = WSLAY_ERR_CALLBACK_FAILURE; /* answered below with 1002 */
	if (r == 0 && !c->closing)
		r = wslay_event_send(c->ws);
	if (c->closing) {
		srv_ws_release(c); /* deferred if closed inside wslay */
		return;
	}
	if (r == WSLAY_ERR_CALLBACK_FAILURE && !c->cb_failed) {
		/* The frame layer rejected the input (a fragmented or oversized
		 * control frame, a bad length): wslay then queues a close with
		 * no status, so drop its context and send 1002 ourselves. */
		srv_log(s, c, WSK_LOG_WARN, "close", 1002, "protocol error", 0);
		srv_ws_release(c);
		c->state = ST_WS;
		srv_ws_close(c, 1002, "protocol error");
		srv_conn_finish(c);
		return;
	}
	if (r != 0) {
		srv_conn_close(c);
		return;
	}
	if (!wslay_event_want_read(c->ws)) {
		uint16_t code = wslay_event_get_status_code_sent(c->ws);

		/* Counted here unless srv_ws_close counted it: a close of
		 * wslay's, or the answer to the client's. */
		if (!c->close_sent)
			wsk_metrics_close(&s->m, code);
		if (c->state == ST_WS && code != 1000 && code != 1001)
			srv_log(s, c, WSK_LOG_WARN, "close", code,
				code == 1002   ? "protocol error"
				: code == 1007 ? "invalid UTF-8"
				: code == 1009 ? "message too big"
					       : NULL,
				0);
		/* wslay stops reading after a close it received or an error it
		 * answered with a close: nothing more will be said. */
		c->state = ST_CLOSING;
		c->close_sent = 1;
		c->got_close = wslay_event_get_close_received(c->ws);
		srv_conn_finish(c);
		return;
	}
	if (c->big) {
		/* The frames before the header were handled above (a Pong they
		 * asked for is queued); the close goes out through the context
		 * after them. The rest of the stream cannot be followed, so
		 * nothing more is read. */
		if (c->state == ST_WS)
			srv_log(s, c, WSK_LOG_WARN, "close", 1009,
				"message too big", 0);
		wslay_event_shutdown_read(c->ws);
		srv_ws_close(c, 1009, "message too big");
		srv_conn_finish(c);
		return;
	}
	if (ctx_idle(c)) {
		ctx_put(s, c->ws);
		c->ws = NULL;
		rx_put(s, c);
		c->fed = c->framed = 0;
	}
	/* A client that asks (PINGs) but does not read the answers is not
	 * read either until they drain: its requests wait in its own socket
	 * buffers, not in our memory, but for the rest of this read, which
	 * waits in the stash (at most one read). The heartbeat or the
	 * slow-client policy ends it if it never reads again. */
	if (unsent(c) <= s->opts.max_queue)
		return;
	if (!c->paused) {
		s->m.slow_clients++;
		/* Once: a client that asks for more than it reads comes back
		 * here at every drain. */
		if (!c->told_slow)
			srv_log(s, c, WSK_LOG_WARN, "slow-client", 0,
				"over --max-queue, not reading its messages",
				0);
		c->told_slow = 1;
	}
	if (c->inlen)
		srv_stash(c, (const char *)c->in, c->inlen); /* pauses too */
	else
		srv_pause_reading(c);
}

/* The INITIAL frame is built once per state and shared like a broadcast:
 * a burst of new clients costs no JSON work each. */
void srv_send_initial(struct conn *c)
{
	struct wsk_server *s = c->srv;
	size_t len;
	char *json;

	if (!s->initial) {
		json = wsk_events_json_initial(&s->events, &len);
		if (json)
			s->initial = srv_text_frame(s, json, len);
		free(json);
	}
	if (!s->initial) {
		srv_conn_close(c);
		return;
	}
	srv_push(c, s->initial);
}

void srv_state_changed(struct wsk_server *s)
{
	wsk_chunk_unref(s->initial);
	s->initial = NULL;
}

/* Sends what a new client needs: the missed UPDATEs when it resumes inside
 * the ring of the current epoch, the INITIAL snapshot otherwise. */
void srv_greet(struct conn *c, const char *url)
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
				srv_push(c, wsk_history_get(&s->history, q));
			return;
		}
	}
	srv_send_initial(c);
}
