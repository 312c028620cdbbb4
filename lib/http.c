#include "http.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* The buffer stores each string followed by a NUL so lookups can hand out
 * C strings; append() grows the string that the last callback started. */
static int append(struct wsk_http *h, const char *at, size_t len)
{
	if (len >= sizeof(h->buf) - h->used) {
		h->too_big = 1;
		return -1;
	}
	/* Overwrite the previous terminator, then terminate again. */
	memcpy(h->buf + h->used, at, len);
	h->used += (unsigned)len;
	h->buf[h->used] = '\0';
	return 0;
}

static int start(struct wsk_http *h, unsigned *off)
{
	/* Leave the previous string's NUL in place and start after it. */
	if (h->used + 1 >= sizeof(h->buf)) {
		h->too_big = 1;
		return -1;
	}
	h->used++;
	h->buf[h->used] = '\0';
	*off = h->used;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct wsk_http *h = p->data;

	if (h->url_len == 0 && start(h, &h->url) < 0)
		return -1;
	if (append(h, at, len) < 0)
		return -1;
	h->url_len += (unsigned)len;
	return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
	struct wsk_http *h = p->data;
	struct wsk_http_hdr *hd;

	if (h->state != 1) {
		if (h->nhdr == WSK_HTTP_MAX_HEADERS) {
			h->too_big = 1;
			return -1;
		}
		hd = &h->hdr[h->nhdr++];
		memset(hd, 0, sizeof(*hd));
		if (start(h, &hd->name) < 0)
			return -1;
		h->state = 1;
	}
	hd = &h->hdr[h->nhdr - 1];
	if (append(h, at, len) < 0)
		return -1;
	hd->name_len += (unsigned)len;
	return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
	struct wsk_http *h = p->data;
	struct wsk_http_hdr *hd = &h->hdr[h->nhdr - 1];

	if (h->state != 2) {
		if (start(h, &hd->value) < 0)
			return -1;
		h->state = 2;
	}
	if (append(h, at, len) < 0)
		return -1;
	hd->value_len += (unsigned)len;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct wsk_http *h = p->data;

	(void)at;
	/* Bodies are not used by any route: count them, keep none. */
	h->body_len += len;
	if (h->body_len > WSK_HTTP_MAX_BODY) {
		h->body_too_big = 1;
		return -1;
	}
	return 0;
}

/* A client only needs the head of a handshake response: a refusal may
 * carry a body that runs until the server closes. */
static int on_headers_complete(http_parser *p)
{
	struct wsk_http *h = p->data;

	if (p->type == HTTP_RESPONSE) {
		h->done = 1;
		http_parser_pause(p, 1);
		return 0;
	}
	/* A stated length too large is refused before its bytes come. */
	if ((p->flags & F_CONTENTLENGTH) &&
	    p->content_length > WSK_HTTP_MAX_BODY) {
		h->body_too_big = 1;
		return -1;
	}
	return 0;
}

static int on_complete(http_parser *p)
{
	struct wsk_http *h = p->data;

	h->done = 1;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

void wsk_http_init(struct wsk_http *h, enum wsk_http_kind kind)
{
	http_parser_init(&h->p, kind == WSK_HTTP_REQUEST ? HTTP_REQUEST
							 : HTTP_RESPONSE);
	h->p.data = h;
	h->used = 0;
	h->buf[0] = '\0';
	h->url = h->url_len = 0;
	h->nhdr = 0;
	h->state = 0;
	h->done = h->too_big = h->body_too_big = 0;
	h->body_len = 0;
}

int wsk_http_feed(struct wsk_http *h, const char *data, size_t len,
		  size_t *used)
{
	size_t n = http_parser_execute(&h->p, &settings, data, len);
	enum http_errno e = HTTP_PARSER_ERRNO(&h->p);

	*used = n;
	if (h->too_big)
		return WSK_HTTP_ERR_BIG;
	if (e == HPE_PAUSED) {
		/* Resume the parser for the next message; *used is where this
		 * one ended. http-parser stops just before the byte after the
		 * message when paused from on_message_complete. */
		http_parser_pause(&h->p, 0);
		/* Paused from on_headers_complete (responses), it stops on
		 * the byte that ends the head without counting it; Debian's
		 * non-strict build takes any byte there, not only LF. */
		if (h->p.type == HTTP_RESPONSE && n < len) {
			/* A handshake reply whose head does not end in LF is
			 * not one we trust to find the first frame after. */
			if (data[n] != '\n')
				return WSK_HTTP_ERR_BAD;
			*used = n + 1;
		}
		return WSK_HTTP_DONE;
	}
	if (e != HPE_OK)
		return h->body_too_big ? WSK_HTTP_ERR_BODY : WSK_HTTP_ERR_BAD;
	if (h->p.upgrade) {
		/* An upgrade ends parsing after the head; the rest is frames.
		 */
		return WSK_HTTP_DONE;
	}
	if (h->done)
		return WSK_HTTP_DONE;
	return WSK_HTTP_AGAIN;
}

const char *wsk_http_method(const struct wsk_http *h)
{
	return http_method_str((enum http_method)h->p.method);
}

int wsk_http_version_at_least_11(const struct wsk_http *h)
{
	return h->p.http_major == 1 && h->p.http_minor >= 1;
}

int wsk_http_version_is_1x(const struct wsk_http *h)
{
	return h->p.http_major == 1;
}

int wsk_http_status(const struct wsk_http *h)
{
	return (int)h->p.status_code;
}

int wsk_http_keep_alive(const struct wsk_http *h)
{
	return http_should_keep_alive(&h->p);
}

const char *wsk_http_url(const struct wsk_http *h)
{
	return h->url_len ? h->buf + h->url : "";
}

const char *wsk_http_header(const struct wsk_http *h, const char *name)
{
	unsigned pos = 0;

	return wsk_http_header_next(h, name, &pos);
}

const char *wsk_http_header_next(const struct wsk_http *h, const char *name,
				 unsigned *pos)
{
	unsigned i;

	for (i = *pos; i < h->nhdr; i++) {
		const struct wsk_http_hdr *hd = &h->hdr[i];

		if (strcasecmp(h->buf + hd->name, name) == 0) {
			*pos = i + 1;
			return hd->value_len ? h->buf + hd->value : "";
		}
	}
	*pos = h->nhdr;
	return NULL;
}

int wsk_list_has_token(const char *list, const char *token, int nocase)
{
	size_t tlen = strlen(token);
	const char *s = list;

	while (*s) {
		const char *e;
		size_t n;

		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		e = s;
		while (*e && *e != ',')
			e++;
		n = (size_t)(e - s);
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n && n == tlen &&
		    (nocase ? strncasecmp(s, token, n)
			    : strncmp(s, token, n)) == 0)
			return 1;
		s = e;
	}
	return 0;
}

int wsk_http_header_has_token(const struct wsk_http *h, const char *name,
			      const char *token)
{
	unsigned i;

	/* A header may repeat, and each holds a comma-separated list. */
	for (i = 0; i < h->nhdr; i++) {
		const struct wsk_http_hdr *hd = &h->hdr[i];

		if (strcasecmp(h->buf + hd->name, name) == 0 && hd->value_len &&
		    wsk_list_has_token(h->buf + hd->value, token, 1))
			return 1;
	}
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

long wsk_pct_decode(const char *src, size_t len, char *dst)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)src[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return -1;
			hi = hexval((unsigned char)src[i + 1]);
			lo = hexval((unsigned char)src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			if (c == 0)
				return -1;
			i += 2;
		}
		dst[n++] = (char)c;
	}
	dst[n] = '\0';
	return (long)n;
}

int wsk_http_query(const char *url, const char *name, char *out, size_t outlen)
{
	const char *q = strchr(url, '?');
	size_t nlen = strlen(name);

	while (q) {
		const char *v, *e;

		q++;
		e = strchrnul(q, '&');
		if (strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
			v = q + nlen + 1;
			if ((size_t)(e - v) >= outlen ||
			    wsk_pct_decode(v, (size_t)(e - v), out) < 0)
				return -1;
			return 1;
		}
		q = *e ? e : NULL;
	}
	return 0;
}
