/* The HTTP phase: requests, routes and the upgrade (see srv.h). */
#include "srv.h"

/* Appends len bytes of src to dst (size bytes, n used), as many as fit,
 * and returns the new length; dst stays NUL-terminated. */
static size_t put(char *dst, size_t size, size_t n, const char *src, size_t len)
{
	if (len > size - 1 - n)
		len = size - 1 - n;
	memcpy(dst + n, src, len);
	dst[n + len] = '\0';
	return n + len;
}

/* The method and target of a -v request line, every token=VALUE
 * parameter written token=... and the whole cut to fit. */
static void log_target(const struct wsk_http *h, char *line, size_t size)
{
	const char *u = wsk_http_url(h), *q = strchr(u, '?'), *p, *e;
	char url[260];
	size_t n =
	    put(url, sizeof(url), 0, u, q ? (size_t)(q - u) + 1 : strlen(u));

	for (p = q ? q + 1 : NULL; p; p = *e ? e + 1 : NULL) {
		e = strchrnul(p, '&');
		if (strncmp(p, "token=", 6) == 0)
			n = put(url, sizeof(url), n, "token=...", 9);
		else
			n = put(url, sizeof(url), n, p, (size_t)(e - p));
		if (*e)
			n = put(url, sizeof(url), n, "&", 1);
	}
	snprintf(line, size, "%s %.256s", wsk_http_method(h), url);
}

static void reject(struct conn *c, int status, const char *why)
{
	const char *extra =
	    status == 426 ? "Sec-WebSocket-Version: 13\r\n" : NULL;
	struct wsk_reply r = {&c->out, 0, 1, "*"};

	if (status == 401)
		extra = "WWW-Authenticate: Bearer\r\n";
	srv_log(c->srv, c, WSK_LOG_WARN, "reject", status, why, 0);
	wsk_metrics_reject(&c->srv->m, status);
	/* 401 and 403 say no more than their names: detail helps guessing. */
	if (wsk_reply_error(&r, status,
			    status == 401   ? "unauthorized"
			    : status == 403 ? "forbidden"
					    : why,
			    NULL, extra) < 0) {
		srv_conn_close(c);
		return;
	}
	srv_conn_finish(c);
}

/* RFC 9112 3.2: an HTTP/1.1 request must carry one Host field, and no
 * request two (a proxy and we could read different ones); HTTP/1.0 may
 * leave it out. A WebSocket handshake is 1.1 and needs it too (RFC 6455
 * 4.1). */
static int host_ok(const struct wsk_http *h)
{
	unsigned pos = 0;
	int n = 0;

	while (wsk_http_header_next(h, "host", &pos) && n < 2)
		n++;
	return n == 1 || (n == 0 && !wsk_http_version_at_least_11(h));
}

static void upgrade(struct conn *c, const char *rest, size_t restlen)
{
	struct wsk_server *s = c->srv;
	const char *key, *why, *url = wsk_http_url(c->http);
	struct wsk_pmd_params pmd;
	char resp[512], ext[160];
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
	/* The answer asks for no context takeover both ways, so that no
	 * connection keeps zlib state (pmd.h). */
	c->pmd_bits = 0;
	if (s->deflater && wsk_pmd_server_accept(c->http, &pmd) &&
	    wsk_pmd_format(&pmd, ext, sizeof(ext)) > 0)
		c->pmd_bits = pmd.server_bits ? pmd.server_bits : 15;
	s->deflate_clients += c->pmd_bits != 0;
	n = wsk_hs_response(resp, sizeof(resp), key, c->pmd_bits ? ext : NULL);
	if (n < 0 || wsk_outq_append(&c->out, resp, (size_t)n) < 0) {
		srv_conn_close(c);
		return;
	}
	srv_mark_dirty(c);
	c->state = ST_WS;
	c->tokens = (float)s->opts.msg_burst;
	c->tok_ms = now32(s);
	if (!s->opts.echo)
		srv_greet(c, url);
	if (c->closing)
		return;
	free(c->http);
	c->http = NULL;
	c->opened = 1;
	srv_list_add(c, L_HUB);
	s->m.ws_total++;
	s->m.ws_deflate += c->pmd_bits != 0;
	srv_log(s, c, WSK_LOG_INFO, "connect", 0, NULL, 1);
	if (restlen)
		srv_conn_ws_input(c, (const uint8_t *)rest, restlen);
}

void srv_http_input(struct conn *c, const char *p, size_t len)
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
			srv_stash(c, p, len);
			return;
		}
		if (!c->http) {
			c->http = malloc(sizeof(*c->http));
			if (!c->http) {
				srv_conn_close(c);
				return;
			}
			wsk_http_init(c->http, WSK_HTTP_REQUEST);
		}
		r = wsk_http_feed(c->http, p, len, &used);
		if (r == WSK_HTTP_AGAIN)
			return;
		if (r < 0) {
			reject(c,
			       r == WSK_HTTP_ERR_BIG	? 431
			       : r == WSK_HTTP_ERR_BODY ? 413
							: 400,
			       r == WSK_HTTP_ERR_BIG ? "request head too large"
			       : r == WSK_HTTP_ERR_BODY
				   ? "request body too large"
				   : "malformed request");
			return;
		}
		/* http-parser takes any one-digit version and this server
		 * speaks only 1.x: answering HTTP/9.9 as 1.1 would claim an
		 * understanding it does not have. */
		if (!wsk_http_version_is_1x(c->http)) {
			reject(c, 505, "HTTP version not supported");
			return;
		}
		if (!host_ok(c->http)) {
			reject(c, 400, "missing or repeated Host");
			return;
		}
		p += used;
		len -= used;
		if (wsk_hs_is_upgrade(c->http)) {
			upgrade(c, p, len);
			return;
		}
		if (srv_stream_path(c->http, path, sizeof(path)) &&
		    srv_stream_route(c, path)) {
			if (c->state == ST_POLL && len)
				srv_stash(c, p, len);
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
			srv_conn_close(c);
			return;
		}
		if (s->opts.log_requests) {
			char line[300];

			log_target(c->http, line, sizeof(line));
			srv_log(s, c, WSK_LOG_INFO, "request", r, line, 0);
		}
		srv_mark_dirty(c);
		if (close) {
			srv_conn_finish(c);
			return;
		}
		wsk_http_init(c->http, WSK_HTTP_REQUEST);
		/* The next request, on a kept-alive connection, gets as long.
		 */
		c->deadline = now32(s) + s->opts.handshake_timeout_ms;
		if (unsent(c) > HTTP_OUT_HIGH && len == 0)
			srv_pause_reading(c);
	}
	/* Keep-alive connections give the parser back between requests. */
	if (c->http && c->state == ST_HTTP && c->http->used == 0 &&
	    c->http->p.nread == 0) {
		free(c->http);
		c->http = NULL;
	}
}
