/* Plain HTTP requests: the REST API (/events, /events/{id}, /health) and
 * the web page's static files. The answer is appended to an output queue;
 * this module knows nothing of sockets or WebSocket framing. */
#ifndef WSK_ROUTES_H
#define WSK_ROUTES_H

#include "access.h"
#include "buf.h"
#include "events.h"
#include "http.h"

struct wsk_routes {
	const struct wsk_events *events;
	const struct wsk_access *access;
	const char *web_dir; /* NULL: no static files */
	/* The /metrics text, newly allocated, or NULL when out of memory. */
	char *(*metrics)(void *arg, size_t *len);
	/* The /health JSON, newly allocated, or NULL when out of memory. */
	char *(*health)(void *arg, size_t *len);
	void *arg;
};

/* Where and how one answer goes. */
struct wsk_reply {
	struct wsk_outq *out;
	int head;	  /* HEAD request: headers only */
	int last;	  /* Connection: close */
	const char *cors; /* Access-Control-Allow-Origin value */
};

/* Answers req into out. Returns the HTTP status sent, or -ENOMEM. Sets
 * *last when the connection must close after the answer. */
int wsk_routes_answer(const struct wsk_routes *rt, const struct wsk_http *req,
		      struct wsk_outq *out, int *last);

/* Appends a complete response. extra holds additional header lines, each
 * ending in CRLF, or NULL. Returns 0 or -ENOMEM. */
int wsk_reply_send(const struct wsk_reply *r, int status, const char *type,
		   const char *extra, const void *body, size_t len);

/* Appends a JSON error response {"error":msg[,"id":id]}. Returns status or
 * -ENOMEM. */
int wsk_reply_error(const struct wsk_reply *r, int status, const char *msg,
		    const char *id, const char *extra);

#endif
