/* A connection's I/O and lifetime (see srv.h). */
#include "srv.h"

static void peer_name(const struct conn *c, char *buf, size_t len);
static int tls_encrypt(struct conn *c);
static void on_write(uv_write_t *req, int status);
static void check_caught_up(struct conn *c);
static void conn_flush(struct conn *c);
static void on_conn_closed(uv_handle_t *h);
static void on_timer_closed(uv_handle_t *h);
static void on_close_timeout(uv_timer_t *t);
static void on_shutdown_done(uv_shutdown_t *req, int status);
static void conn_linger(struct conn *c);
static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void dispatch(struct conn *c, char *p, size_t len);
static void tls_input(struct conn *c, char *buf, size_t len);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

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

void srv_log(struct wsk_server *s, const struct conn *c,
	     enum wsk_log_level level, const char *event, int code,
	     const char *detail, int with_clients)
{
	struct wsk_log_rec rec = {level, event, NULL, -1, code, detail};
	char peer[64];

	if (!s->opts.log || level < s->opts.log_min)
		return;
	if (c) {
		peer_name(c, peer, sizeof(peer));
		rec.peer = peer;
	}
	if (with_clients)
		rec.clients = s->nlist[L_HUB];
	s->opts.log(s->opts.log_arg, &rec);
}

/* Moves queued plaintext through TLS into the wire queue, and at the end
 * of a connection its close_notify after the last byte. Returns 0 or -1. */
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
	if (c->finishing && !c->out.count && wsk_tls_shutdown(c->tls->t) < 0)
		return -1;
	return wsk_tls_take(c->tls->t, &c->tls->wire) < 0 ? -1 : 0;
}

void srv_mark_dirty(struct conn *c)
{
	if (c->dirty || c->closing)
		return;
	c->dirty = 1;
	c->dirty_next = c->srv->dirty;
	c->srv->dirty = c;
}

static void on_write(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	free(req);
	c->writing = 0;
	if (c->closing)
		return;
	if (status < 0) {
		srv_conn_close(c);
		return;
	}
	wsk_outq_consume(wire(c), c->wbytes);
	c->srv->m.bytes_out += c->wbytes;
	c->wrote += (uint32_t)c->wbytes;
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
		srv_log(c->srv, c, WSK_LOG_INFO, "slow-client", 0,
			"caught up, sending a fresh INITIAL", 0);
		srv_send_initial(c);
	}
}

/* Writes what the queue holds: first with uv_try_write, which costs no
 * allocation, then the rest with one uv_write that keeps the chunks
 * referenced by the queue until it completes. */
static void conn_flush(struct conn *c)
{
	uv_buf_t iov[IOV_MAX_WRITE];
	struct wsk_outq *q;
	uv_write_t *req;
	unsigned n, i;
	int r;

	if (c->writing || c->closing)
		return;
	check_caught_up(c);
	if (c->tls && tls_encrypt(c) < 0) {
		srv_conn_close(c);
		return;
	}
	q = wire(c);
	while (q->count) {
		n = wsk_outq_iov(q, 0, iov, IOV_MAX_WRITE);
		r = uv_try_write((uv_stream_t *)&c->tcp, iov, n);
		if (r == UV_EAGAIN || r == 0)
			break;
		if (r < 0) {
			srv_conn_close(c);
			return;
		}
		wsk_outq_consume(q, (size_t)r);
		c->srv->m.bytes_out += (size_t)r;
		c->wrote += (uint32_t)r;
	}
	/* Again now that the queue is shortest: a lagging client that drained
	 * in the writes above gets no update that would bring it back here,
	 * and would be closed at its deadline although it caught up. */
	check_caught_up(c);
	if (q->count) {
		n = wsk_outq_iov(q, 0, iov, IOV_MAX_WRITE);
		c->wbytes = 0;
		for (i = 0; i < n; i++)
			c->wbytes += iov[i].len;
		/* The request lives only while the kernel is behind: an idle
		 * connection does not carry one. */
		req = malloc(sizeof(*req));
		if (!req) {
			srv_conn_close(c);
			return;
		}
		req->data = c;
		r = uv_write(req, (uv_stream_t *)&c->tcp, iov, n, on_write);
		if (r < 0) {
			free(req);
			srv_conn_close(c);
			return;
		}
		c->writing = 1;
		return;
	}
	srv_maybe_resume_reading(c);
	if (c->finishing)
		conn_linger(c);
}

void srv_on_prepare(uv_prepare_t *h)
{
	struct wsk_server *s = h->data;
	struct conn *c;

	while ((c = s->dirty)) {
		s->dirty = c->dirty_next;
		c->dirty = 0;
		if (c->reaped)
			free(c);
		else
			conn_flush(c);
	}
}

void srv_push(struct conn *c, struct wsk_chunk *ch)
{
	/* A shared frame's compressed twin, for a client whose window takes
	 * it: the plain frame's length bounds the message's. */
	if (ch->alt && c->pmd_bits && ch->len <= wsk_pmd_max_for(c->pmd_bits))
		ch = ch->alt;
	if (wsk_outq_push(&c->out, ch) < 0) {
		srv_conn_close(c);
		return;
	}
	c->srv->m.msgs_out++;
	srv_mark_dirty(c);
}

void srv_hub_remove(struct conn *c)
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

void srv_list_add(struct conn *c, enum list which)
{
	struct wsk_server *s = c->srv;

	srv_hub_remove(c);
	c->list = (uint8_t)which;
	c->hprev = NULL;
	c->hnext = s->lists[which];
	if (c->hnext)
		c->hnext->hprev = c;
	s->lists[which] = c;
	s->nlist[which]++;
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
	free(c->poll_cors);
	c->http = NULL;
	c->pend = NULL;
	c->poll_cors = NULL;
	c->tls = NULL;
	/* Still on the dirty list (it closed after a write was queued this
	 * turn): the flusher frees it when it gets there. */
	if (c->dirty)
		c->reaped = 1;
	else
		free(c);
	s->nconns--;
	srv_maybe_done(s);
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h);
}

/* Closes the socket; the memory goes in the close callback. Safe to call
 * from inside any of the connection's callbacks, and more than once. */
void srv_conn_close(struct conn *c)
{
	struct wsk_server *s = c->srv;

	if (c->closing)
		return;
	c->closing = 1;
	if (c->pmd_bits)
		s->deflate_clients--;
	srv_hub_remove(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv_ws_release(c);
	if (c->close_timer) {
		uv_close((uv_handle_t *)c->close_timer, on_timer_closed);
		c->close_timer = NULL;
	}
	if (c->opened)
		srv_log(s, c, WSK_LOG_INFO, "disconnect", 0, NULL, 1);
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_close_timeout(uv_timer_t *t)
{
	srv_conn_close(t->data);
}

static void on_shutdown_done(uv_shutdown_t *req, int status)
{
	(void)status;
	free(req);
}

/* The end of a connection: send FIN once everything is written, then read
 * and discard until the peer closes too (or the close timer fires).
 * Closing at once could make the kernel answer unread input with a reset
 * that destroys our last response or close frame before the peer reads it.
 * A plain connection whose peer sent its close frame first has no more
 * input coming (RFC 6455 5.5.1), so it closes at once: the server closes
 * first and keeps the TIME_WAIT (7.1.1), at no extra wake-up. Under TLS
 * the peer's close_notify may still follow. */
static void conn_linger(struct conn *c)
{
	uv_shutdown_t *req;

	if (c->out.count || wire(c)->count || c->writing || c->closing)
		return;
	if (c->finishing == 2)
		return;
	if (c->got_close && !c->tls) {
		srv_conn_close(c);
		return;
	}
	c->finishing = 2;
	srv_arm_close_timer(c);
	if (c->closing)
		return;
	req = malloc(sizeof(*req));
	if (!req ||
	    uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown_done) < 0) {
		free(req);
		srv_conn_close(c);
		return;
	}
	/* Reading again whatever stopped it (a pause, a replayed request
	 * that asked to close): the peer's FIN must be seen. libuv may say
	 * it reads already. */
	c->paused = 0;
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

/* Ends the connection after what is queued has been written. */
void srv_conn_finish(struct conn *c)
{
	if (c->closing || c->finishing)
		return;
	c->finishing = 1;
	srv_hub_remove(c);
	/* Under TLS the flush also writes the close_notify. */
	if (c->out.count || wire(c)->count || c->tls)
		srv_mark_dirty(c);
	else
		conn_linger(c);
}

/* Starts the wait for the peer's close frame, bounded in time. */
void srv_arm_close_timer(struct conn *c)
{
	if (c->close_timer)
		return;
	c->close_timer = malloc(sizeof(*c->close_timer));
	if (!c->close_timer) {
		srv_conn_close(c);
		return;
	}
	uv_timer_init(c->srv->loop, c->close_timer);
	c->close_timer->data = c;
	uv_timer_start(c->close_timer, on_close_timeout, CLOSE_WAIT_MS, 0);
}

void srv_maybe_resume_reading(struct conn *c)
{
	size_t n;
	char *p;

	size_t low =
	    (c->state == ST_HTTP ? HTTP_OUT_HIGH : c->srv->opts.max_queue) / 2;

	/* A waiting poll keeps what was pipelined behind it until it is
	 * answered (srv_poll_answer comes back here). */
	if (!c->paused || c->state == ST_POLL || unsent(c) >= low)
		return;
	c->paused = 0;
	if (c->pend) {
		n = c->pendlen;
		p = c->pend;
		c->pend = NULL;
		c->pendlen = 0;
		dispatch(c, p, n);
		free(p);
	}
	if (c->tls && !c->paused && !c->closing && !c->finishing)
		tls_input(c, c->srv->rbuf, 0);
	if (!c->paused && !c->closing && !c->finishing)
		uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->srv->rbuf, READ_BUF);
}

/* Input kept while reading is paused, bounded to one read: pipelined
 * requests behind a parked long poll, or behind answers that have not
 * drained, or WebSocket frames behind answers past --max-queue. The
 * connection stops reading until srv_maybe_resume_reading. */
void srv_stash(struct conn *c, const char *p, size_t len)
{
	char *n;

	if (c->pendlen + len > READ_BUF) {
		srv_conn_close(c);
		return;
	}
	n = realloc(c->pend, c->pendlen + len);
	if (!n) {
		srv_conn_close(c);
		return;
	}
	memcpy(n + c->pendlen, p, len);
	c->pend = n;
	c->pendlen += len;
	srv_pause_reading(c);
}

void srv_pause_reading(struct conn *c)
{
	if (c->paused)
		return;
	c->paused = 1;
	uv_read_stop((uv_stream_t *)&c->tcp);
}

static void dispatch(struct conn *c, char *p, size_t len)
{
	switch (c->state) {
	case ST_HTTP: srv_http_input(c, p, len); break;
	case ST_WS:
	case ST_CLOSING: srv_conn_ws_input(c, (const uint8_t *)p, len); break;
	case ST_POLL: srv_stash(c, p, len); break;
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
		srv_conn_close(c);
		return;
	}
	/* A paused connection leaves the rest inside OpenSSL, as a plain one
	 * leaves it in the socket: srv_maybe_resume_reading comes back for
	 * it with len 0. */
	while (!c->closing && !c->finishing && !c->paused) {
		n = wsk_tls_read(c->tls->t, buf, READ_BUF, err, sizeof(err));
		if (n == -2) {
			/* close_notify: the end of the input, as a FIN is on a
			 * plain connection; what was asked is still answered.
			 */
			srv_conn_finish(c);
			break;
		}
		if (n < 0) {
			srv_log(c->srv, c, WSK_LOG_WARN, "tls", 0, err, 0);
			if (!c->opened)
				wsk_metrics_reject(&c->srv->m, -1);
			srv_conn_close(c);
			return;
		}
		if (n == 0)
			break;
		dispatch(c, buf, (size_t)n);
	}
	/* Handshake records, or plaintext queued before the handshake ended. */
	if (!c->closing)
		srv_mark_dirty(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = st->data;

	if (nread < 0) {
		srv_conn_close(c);
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

void srv_on_connection(uv_stream_t *l, int status)
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
		srv_conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (s->opts.tls) {
		c->tls = calloc(1, sizeof(*c->tls));
		if (c->tls)
			c->tls->t = wsk_tls_new_server(s->opts.tls);
		if (!c->tls || !c->tls->t) {
			srv_conn_close(c);
			return;
		}
	}
	n = sizeof(c->peer);
	uv_tcp_getpeername(&c->tcp, &c->peer.sa, &n);
	c->deadline = now32(s) + s->opts.handshake_timeout_ms;
	c->stall_ms = now32(s);
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read) < 0)
		srv_conn_close(c);
}

int srv_push_owned(struct conn *c, struct wsk_chunk *ch)
{
	if (!ch) {
		srv_conn_close(c);
		return -1;
	}
	srv_push(c, ch);
	wsk_chunk_unref(ch);
	return c->closing ? -1 : 0;
}
