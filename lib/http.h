/* HTTP/1.1 message parsing on http-parser, behind our own names.
 *
 * A wsk_http holds one message at a time (request on the server, response
 * on a client doing the handshake). Header names and values can arrive
 * split across reads; they are gathered into one bounded buffer, so a peer
 * cannot make it grow past WSK_HTTP_MAX_HEAD bytes. The parser pauses after
 * each complete message, which makes pipelined requests come out one by one.
 * upstream http-parser is unmaintained: nothing outside this module names it.
 */
#ifndef WSK_HTTP_H
#define WSK_HTTP_H

#include <http_parser.h>
#include <stddef.h>

#define WSK_HTTP_MAX_HEAD 8192
#define WSK_HTTP_MAX_HEADERS 64
/* No route reads a request body; one is passed over up to this size. */
#define WSK_HTTP_MAX_BODY (1 << 20)

enum wsk_http_kind { WSK_HTTP_REQUEST, WSK_HTTP_RESPONSE };

/* wsk_http_feed results besides a byte count. */
enum wsk_http_status {
	WSK_HTTP_AGAIN = 0,	/* need more bytes */
	WSK_HTTP_DONE = 1,	/* a whole message (or upgrade head) is ready */
	WSK_HTTP_ERR_BAD = -2,	/* malformed: answer 400 */
	WSK_HTTP_ERR_BIG = -3,	/* head over WSK_HTTP_MAX_HEAD: answer 431 */
	WSK_HTTP_ERR_BODY = -4, /* body over WSK_HTTP_MAX_BODY: answer 413 */
};

struct wsk_http_hdr {
	unsigned name, name_len, value, value_len; /* offsets into buf */
};

struct wsk_http {
	http_parser p;
	char buf[WSK_HTTP_MAX_HEAD];
	unsigned used;
	unsigned url, url_len;
	struct wsk_http_hdr hdr[WSK_HTTP_MAX_HEADERS];
	unsigned nhdr;
	int state; /* 0 url, 1 field, 2 value: what the last callback fed */
	int done, too_big, body_too_big;
	size_t body_len;
};

/* Prepares h for a new message of the given kind. */
void wsk_http_init(struct wsk_http *h, enum wsk_http_kind kind);

/* Parses up to len bytes. Returns WSK_HTTP_DONE with *used set to the
 * bytes that belong to the message (the rest is the next message, or
 * WebSocket frames after an upgrade), WSK_HTTP_AGAIN when every byte was
 * taken and the message is not complete, or a negative WSK_HTTP_ERR_*. */
int wsk_http_feed(struct wsk_http *h, const char *data, size_t len,
		  size_t *used);

/* Request method as a string ("GET"), HTTP version, status (responses). */
const char *wsk_http_method(const struct wsk_http *h);
/* Returns 1 for HTTP/1.1 or a later 1.x, which a WebSocket upgrade needs
 * (RFC 6455 4.1: "HTTP/1.1 or higher"). */
int wsk_http_version_at_least_11(const struct wsk_http *h);
/* Returns 1 for a message of HTTP/1.x, 0 for any other major version
 * (HTTP/0.9, a text "HTTP/2.0", "HTTP/9.9"), which a server answers with
 * 505. A later minor, as in HTTP/1.2, counts: RFC 9110 section 2.5 asks
 * that it be read as the highest 1.x the recipient knows. */
int wsk_http_version_is_1x(const struct wsk_http *h);
int wsk_http_status(const struct wsk_http *h);
int wsk_http_keep_alive(const struct wsk_http *h);

/* The request target (NUL-terminated, inside h). */
const char *wsk_http_url(const struct wsk_http *h);

/* Returns the value of the first header named name (any case) as a
 * NUL-terminated string inside h, or NULL. */
const char *wsk_http_header(const struct wsk_http *h, const char *name);

/* Iterates over every header named name, in order: start with *pos = 0;
 * returns the next value, or NULL when there are no more. */
const char *wsk_http_header_next(const struct wsk_http *h, const char *name,
				 unsigned *pos);

/* Returns 1 if token (not empty) is one of the comma-separated items of
 * list, blanks around them aside, compared in any case when nocase. */
int wsk_list_has_token(const char *list, const char *token, int nocase);

/* Returns 1 if some header named name holds token among its
 * comma-separated values (any case), else 0. */
int wsk_http_header_has_token(const struct wsk_http *h, const char *name,
			      const char *token);

/* Percent-decodes src[0..len) into dst (at least len+1 bytes), NUL-ending
 * it. Returns the decoded length, or -1 for a malformed escape or a
 * decoded NUL byte. '+' is left as is (it is a path, not a form). */
long wsk_pct_decode(const char *src, size_t len, char *dst);

/* Finds the query parameter name in url and percent-decodes its value into
 * out. Returns 1 when found, 0 when absent, -1 when the value is malformed
 * or does not fit in outlen bytes. */
int wsk_http_query(const char *url, const char *name, char *out, size_t outlen);

#endif
