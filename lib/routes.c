#include "routes.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_STATIC (4 << 20)

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

int wsk_reply_send(const struct wsk_reply *r, int status, const char *type,
		   const char *extra, const void *body, size_t len)
{
	char hdr[1536], clen[48] = "";
	int cors_echo = r->cors && strcmp(r->cors, "*") != 0;
	int n;

	/* A 204 has no body and must not state a length (RFC 9110 8.6). A
	 * 304 carries no body and, here, no length: the length it could state
	 * would be the 200's, which it does not have at hand. */
	if (status != 204 && status != 304)
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", len);
	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %d %s\r\n"
		     "Server: ws-serve/" WSK_VERSION "\r\n"
		     "%s%s%s%s"
		     "Access-Control-Allow-Origin: %.300s\r\n"
		     "%s%s"
		     "Connection: %s\r\n\r\n",
		     status, reason(status), type ? "Content-Type: " : "",
		     type ? type : "", type ? "\r\n" : "", clen,
		     r->cors ? r->cors : "*",
		     cors_echo ? "Vary: Origin\r\n" : "", extra ? extra : "",
		     r->last ? "close" : "keep-alive");
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return -ENOMEM;
	if (wsk_outq_append(r->out, hdr, (size_t)n) < 0)
		return -ENOMEM;
	if (!r->head && len && wsk_outq_append(r->out, body, len) < 0)
		return -ENOMEM;
	return 0;
}

int wsk_reply_error(const struct wsk_reply *r, int status, const char *msg,
		    const char *id, const char *extra)
{
	json_t *j = id ? json_pack("{s:s,s:s}", "error", msg, "id", id) : NULL;

	/* An id that is not UTF-8 cannot be a JSON string: leave it out. */
	if (!j)
		j = json_pack("{s:s}", "error", msg);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc;

	json_decref(j);
	if (!s)
		return -ENOMEM;
	rc = wsk_reply_send(r, status, "application/json", extra, s, strlen(s));
	free(s);
	return rc < 0 ? rc : status;
}

/* Sends and frees a JSON body made by one of the wsk_events_json_*. */
static int send_json(const struct wsk_reply *r, char *s, size_t len,
		     const char *extra)
{
	int rc;

	if (!s)
		return -ENOMEM;
	rc = wsk_reply_send(r, 200, "application/json", extra, s, len);
	free(s);
	return rc < 0 ? rc : 200;
}

static const char *content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".html", "text/html; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".mjs", "text/javascript; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".json", "application/json"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	    {".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(path, '.');
	size_t i;

	for (i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/* A decoded path is served only if every segment is a plain name: no
 * "..", no hidden files, no backslashes. Then the file must be a regular
 * file below web_dir; symlinks inside web_dir are followed on purpose
 * (it is the operator's folder). */
static int static_path_ok(const char *p)
{
	const char *s = p;

	if (*s != '/' || strchr(p, '\\'))
		return 0;
	while (*s == '/') {
		s++;
		if (*s == '.' || *s == '/')
			return 0;
		s = strchrnul(s, '/');
	}
	return 1;
}

static int serve_static(const struct wsk_routes *rt, const char *path,
			const struct wsk_reply *r)
{
	char full[4096];
	struct stat st;
	struct wsk_chunk *body;
	ssize_t n = 0;
	int fd, rc;

	if (!rt->web_dir || !static_path_ok(path))
		return wsk_reply_error(r, 404, "not found", NULL, NULL);
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	if ((size_t)snprintf(full, sizeof(full), "%s%s", rt->web_dir, path) >=
	    sizeof(full))
		return wsk_reply_error(r, 404, "not found", NULL, NULL);
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return wsk_reply_error(r, 404, "not found", NULL, NULL);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return wsk_reply_error(r, 404, "not found", NULL, NULL);
	}
	/* The file is there, so 404 would mislead: say what the server
	 * cannot do. It serves a page, not downloads. */
	if (st.st_size > MAX_STATIC) {
		close(fd);
		return wsk_reply_error(
		    r, 500, "file too large to serve (4 MiB at most)", NULL,
		    NULL);
	}
	/* Small files read whole: the page is a few kilobytes, and a blocking
	 * read of a local file is cheaper than a thread-pool round trip. */
	body = wsk_chunk_new((size_t)st.st_size);
	if (!body) {
		close(fd);
		return -ENOMEM;
	}
	if (!r->head)
		n = read(fd, body->data, (size_t)st.st_size);
	close(fd);
	if (n < 0 || (!r->head && n != st.st_size)) {
		wsk_chunk_unref(body);
		return wsk_reply_error(r, 500, "cannot read file", NULL, NULL);
	}
	rc = wsk_reply_send(r, 200, content_type(path),
			    "Cache-Control: no-cache\r\n", body->data,
			    (size_t)st.st_size);
	wsk_chunk_unref(body);
	return rc < 0 ? rc : 200;
}

int wsk_routes_answer(const struct wsk_routes *rt, const struct wsk_http *req,
		      struct wsk_outq *out, int *last)
{
	const char *method = wsk_http_method(req);
	const char *url = wsk_http_url(req);
	struct wsk_reply r = {out, strcmp(method, "HEAD") == 0,
			      !wsk_http_keep_alive(req), "*"};
	char path[WSK_HTTP_MAX_HEAD];
	const char *q = strchr(url, '?');
	size_t plen = q ? (size_t)(q - url) : strlen(url);
	char etag[64], extra[128];
	size_t len = 0;
	char *json;
	int i, rc;

	*last = r.last;
	if (wsk_access_origin(rt->access, req, &r.cors))
		return wsk_reply_error(&r, 403, "origin not allowed", NULL,
				       NULL);
	if (!r.head && strcmp(method, "GET") != 0)
		return wsk_reply_error(&r, 405, "method not allowed", NULL,
				       "Allow: GET, HEAD\r\n");
	if (url[0] != '/' || wsk_pct_decode(url, plen, path) < 0) {
		*last = r.last = 1;
		return wsk_reply_error(&r, 400, "bad request target", NULL,
				       NULL);
	}
	if ((strcmp(path, "/events") == 0 ||
	     strncmp(path, "/events/", 8) == 0 ||
	     strcmp(path, "/metrics") == 0) &&
	    wsk_access_token(rt->access, req))
		return wsk_reply_error(&r, 401, "unauthorized", NULL,
				       "WWW-Authenticate: Bearer\r\n");
	if (strcmp(path, "/events") == 0 || strcmp(path, "/events/") == 0) {
		const char *inm = wsk_http_header(req, "If-None-Match");

		/* The state changes only with seq, so epoch and seq name it. */
		snprintf(etag, sizeof(etag), "\"%s-%llu\"", rt->events->epoch,
			 (unsigned long long)rt->events->seq);
		snprintf(extra, sizeof(extra),
			 "ETag: %s\r\nCache-Control: no-cache\r\n", etag);
		if (inm && (strstr(inm, etag) || strcmp(inm, "*") == 0)) {
			rc = wsk_reply_send(&r, 304, NULL, extra, NULL, 0);
			return rc < 0 ? rc : 304;
		}
		json = wsk_events_json_all(rt->events, &len);
		return send_json(&r, json, len, extra);
	}
	if (strncmp(path, "/events/", 8) == 0) {
		i = wsk_events_find(rt->events, path + 8);
		if (i < 0)
			return wsk_reply_error(&r, 404, "not found", path + 8,
					       NULL);
		json = wsk_events_json_one(rt->events, i, &len);
		return send_json(&r, json, len, "Cache-Control: no-cache\r\n");
	}
	if (strcmp(path, "/metrics") == 0) {
		json = rt->metrics(rt->arg, &len);
		if (!json)
			return -ENOMEM;
		rc = wsk_reply_send(&r, 200, "text/plain; version=0.0.4",
				    "Cache-Control: no-cache\r\n", json, len);
		free(json);
		return rc < 0 ? rc : 200;
	}
	if (strcmp(path, "/health") == 0) {
		json = rt->health(rt->arg, &len);
		return send_json(&r, json, len, "Cache-Control: no-cache\r\n");
	}
	return serve_static(rt, path, &r);
}
