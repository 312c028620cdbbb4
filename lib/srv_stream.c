/* Server-Sent Events and long polls (see srv.h). */
#include "srv.h"

static const char *frame_payload(const struct wsk_chunk *f, size_t *len);
static int can_resume(const struct wsk_server *s, const char *epoch,
		      const char *since, uint64_t *out);
static void sse_start(struct conn *c, const struct wsk_reply *r);
static char *poll_body(const struct wsk_server *s, uint64_t since, size_t *len);
static void poll_start(struct conn *c, const struct wsk_reply *r);

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
struct wsk_chunk *srv_sse_event(const struct wsk_server *s, uint64_t seq,
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
		srv_conn_close(c);
		return;
	}
	srv_mark_dirty(c);
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

					if (srv_push_owned(
						c, srv_sse_event(s, q, p, len)))
						return;
				}
				goto live;
			}
		}
	}
	json = wsk_events_json_initial(&s->events, &len);
	if (!json) {
		srv_conn_close(c);
		return;
	}
	n = srv_push_owned(c, srv_sse_event(s, s->events.seq, json, len));
	free(json);
	if (n)
		return;
live:
	free(c->http);
	c->http = NULL;
	srv_list_add(c, L_SSE);
	srv_log(s, c, WSK_LOG_INFO, "sse", 0, NULL, 0);
}

/* Answers a long poll with a JSON array of protocol messages. */
void srv_poll_answer(struct conn *c, int status, const char *body, size_t len)
{
	struct wsk_reply r = {&c->out, 0, c->poll_last,
			      c->poll_cors ? c->poll_cors : "*"};
	int rc;

	srv_hub_remove(c);
	c->state = ST_HTTP;
	rc = wsk_reply_send(&r, status,
			    status == 204 ? NULL : "application/json",
			    "Cache-Control: no-cache\r\n", body, len);
	free(c->poll_cors);
	c->poll_cors = NULL;
	if (rc < 0) {
		srv_conn_close(c);
		return;
	}
	srv_mark_dirty(c);
	c->deadline = now32(c->srv) + c->srv->opts.handshake_timeout_ms;
	if (c->poll_last) {
		srv_conn_finish(c);
		return;
	}
	/* Requests that came while the poll was parked. */
	if (c->paused)
		srv_maybe_resume_reading(c);
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
	if (has_tmo < 0 ||
	    (has_tmo > 0 &&
	     wsk_parse_seconds(tmo, 120, &secs, err, sizeof(err)))) {
		struct wsk_reply rr = *r;

		wsk_reply_error(&rr, 400, "timeout must be 0 to 120 seconds",
				NULL, NULL);
		srv_mark_dirty(c);
		if (r->last)
			srv_conn_finish(c);
		else
			wsk_http_init(c->http, WSK_HTTP_REQUEST);
		return;
	}
	/* The answer goes out after the request is freed, even when it goes
	 * at once: keep the Origin it echoes, which points into the request. */
	if (strcmp(r->cors, "*") != 0) {
		c->poll_cors = strdup(r->cors);
		if (!c->poll_cors) {
			srv_conn_close(c);
			return;
		}
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
			srv_conn_close(c);
			return;
		}
		srv_poll_answer(c, 200, body, len + 2);
		free(body);
		return;
	}
	if (since < s->events.seq) {
		body = poll_body(s, since, &len);
		if (!body) {
			srv_conn_close(c);
			return;
		}
		srv_poll_answer(c, 200, body, len);
		free(body);
		return;
	}
	/* Up to date: wait for the next update or the timeout. The sweeper
	 * looks at the deadline once a second. */
	c->state = ST_POLL;
	c->deadline = now32(s) + (uint32_t)(secs * 1000);
	srv_list_add(c, L_POLL);
}

/* Decodes the request's path (without the query) when it is short enough
 * to be one of the streaming endpoints. */
int srv_stream_path(const struct wsk_http *h, char *out, size_t outlen)
{
	const char *url = wsk_http_url(h);
	const char *q = strchr(url, '?');
	size_t n = q ? (size_t)(q - url) : strlen(url);

	return n < outlen && wsk_pct_decode(url, n, out) >= 0;
}

/* Routes the two streaming endpoints, which need the subscriber lists.
 * Returns 1 when the request was one of them. */
int srv_stream_route(struct conn *c, const char *path)
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
	srv_mark_dirty(c);
	if (r.last)
		srv_conn_finish(c);
	else
		wsk_http_init(c->http, WSK_HTTP_REQUEST);
	return 1;
}
