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
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

int wsk_http_respond(struct wsk_outq *out, int status, const char *type,
		     const char *extra, const void *body, size_t len, int head,
		     int last)
{
	char hdr[1024], clen[48] = "";
	int n;

	/* A 304 carries no body and, here, no length: the length it could
	 * state would be the 200's, which it does not have at hand. */
	if (status != 304)
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", len);
	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %d %s\r\n"
		     "Server: ws-serve/" WSK_VERSION "\r\n"
		     "%s%s%s%s"
		     "Access-Control-Allow-Origin: *\r\n"
		     "%s"
		     "Connection: %s\r\n\r\n",
		     status, reason(status), type ? "Content-Type: " : "",
		     type ? type : "", type ? "\r\n" : "", clen,
		     extra ? extra : "", last ? "close" : "keep-alive");
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return -ENOMEM;
	if (wsk_outq_append(out, hdr, (size_t)n) < 0)
		return -ENOMEM;
	if (!head && len && wsk_outq_append(out, body, len) < 0)
		return -ENOMEM;
	return 0;
}

static int json_error(struct wsk_outq *out, int status, const char *msg,
		      const char *id, const char *extra, int head, int last)
{
	json_t *j = id ? json_pack("{s:s,s:s}", "error", msg, "id", id)
		       : json_pack("{s:s}", "error", msg);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int r;

	json_decref(j);
	if (!s)
		return -ENOMEM;
	r = wsk_http_respond(out, status, "application/json", extra, s,
			     strlen(s), head, last);
	free(s);
	return r < 0 ? r : status;
}

static int send_json(struct wsk_outq *out, char *s, size_t len,
		     const char *extra, int head, int last)
{
	int r;

	if (!s)
		return -ENOMEM;
	r = wsk_http_respond(out, 200, "application/json", extra, s, len, head,
			     last);
	free(s);
	return r < 0 ? r : 200;
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
			struct wsk_outq *out, int head, int last)
{
	char full[4096];
	struct stat st;
	struct wsk_chunk *body;
	ssize_t n;
	int fd, r;

	if (!rt->web_dir || !static_path_ok(path))
		return json_error(out, 404, "not found", NULL, NULL, head,
				  last);
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	if ((size_t)snprintf(full, sizeof(full), "%s%s", rt->web_dir, path) >=
	    sizeof(full))
		return json_error(out, 404, "not found", NULL, NULL, head,
				  last);
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return json_error(out, 404, "not found", NULL, NULL, head,
				  last);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > MAX_STATIC) {
		close(fd);
		return json_error(out, 404, "not found", NULL, NULL, head,
				  last);
	}
	/* Small files read whole: the page is a few kilobytes, and a blocking
	 * read of a local file is cheaper than a thread-pool round trip. */
	body = wsk_chunk_new((size_t)st.st_size);
	if (!body) {
		close(fd);
		return -ENOMEM;
	}
	n = head ? 0 : read(fd, body->data, (size_t)st.st_size);
	close(fd);
	if (n < 0) {
		wsk_chunk_unref(body);
		return json_error(out, 500, "cannot read file", NULL, NULL,
				  head, 1);
	}
	r = wsk_http_respond(out, 200, content_type(path),
			     "Cache-Control: no-cache\r\n", body->data,
			     head ? (size_t)st.st_size : (size_t)n, head, last);
	wsk_chunk_unref(body);
	return r < 0 ? r : 200;
}

int wsk_routes_answer(const struct wsk_routes *rt, const struct wsk_http *req,
		      struct wsk_outq *out, int *last)
{
	const char *method = wsk_http_method(req);
	const char *url = wsk_http_url(req);
	int head = strcmp(method, "HEAD") == 0;
	char path[WSK_HTTP_MAX_HEAD];
	const char *q = strchr(url, '?');
	size_t plen = q ? (size_t)(q - url) : strlen(url);
	char etag[64];
	char extra[128];
	char *json;
	size_t len = 0;
	int i;

	*last = !wsk_http_keep_alive(req);
	if (!head && strcmp(method, "GET") != 0)
		return json_error(out, 405, "method not allowed", NULL,
				  "Allow: GET, HEAD\r\n", 0, *last);
	if (url[0] != '/' || wsk_pct_decode(url, plen, path) < 0) {
		*last = 1;
		return json_error(out, 400, "bad request target", NULL, NULL,
				  head, 1);
	}
	if (strcmp(path, "/events") == 0 || strcmp(path, "/events/") == 0) {
		const char *inm = wsk_http_header(req, "If-None-Match");

		/* The state changes only with seq, so epoch and seq name it. */
		snprintf(etag, sizeof(etag), "\"%s-%llu\"", rt->events->epoch,
			 (unsigned long long)rt->events->seq);
		snprintf(extra, sizeof(extra),
			 "ETag: %s\r\nCache-Control: no-cache\r\n", etag);
		if (inm && (strstr(inm, etag) || strcmp(inm, "*") == 0)) {
			int r = wsk_http_respond(out, 304, NULL, extra, NULL, 0,
						 1, *last);
			return r < 0 ? r : 304;
		}
		json = wsk_events_json_all(rt->events, &len);
		return send_json(out, json, len, extra, head, *last);
	}
	if (strncmp(path, "/events/", 8) == 0) {
		i = wsk_events_find(rt->events, path + 8);
		if (i < 0)
			return json_error(out, 404, "not found", path + 8, NULL,
					  head, *last);
		json = wsk_events_json_one(rt->events, i, &len);
		return send_json(out, json, len, "Cache-Control: no-cache\r\n",
				 head, *last);
	}
	if (strcmp(path, "/health") == 0) {
		json_t *j = json_pack(
		    "{s:s,s:I,s:s,s:I,s:I}", "status", "ok", "clients",
		    (json_int_t)rt->clients(rt->arg), "epoch",
		    rt->events->epoch, "seq", (json_int_t)rt->events->seq,
		    "uptime_ms", (json_int_t)(wsk_now_ms() - rt->started_ms));
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

		json_decref(j);
		return send_json(out, s, s ? strlen(s) : 0,
				 "Cache-Control: no-cache\r\n", head, *last);
	}
	return serve_static(rt, path, out, head, *last);
}
