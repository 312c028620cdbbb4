/* Plain HTTP requests: the REST API (/events, /events/{id}, /health) and
 * the web page's static files. The answer is appended to an output queue;
 * this module knows nothing of sockets or WebSocket framing. */
#ifndef WSK_ROUTES_H
#define WSK_ROUTES_H

#include "buf.h"
#include "events.h"
#include "http.h"

struct wsk_routes {
	const struct wsk_events *events;
	const char *web_dir;	    /* NULL: no static files */
	long (*clients)(void *arg); /* open WebSocket clients, for /health */
	void *arg;
	int64_t started_ms;
};

/* Answers req into out. Returns the HTTP status sent, or -ENOMEM. Sets
 * *close when the connection must close after the answer. */
int wsk_routes_answer(const struct wsk_routes *rt, const struct wsk_http *req,
		      struct wsk_outq *out, int *last);

/* Appends a complete response with a JSON or text body. extra holds
 * additional header lines, each ending in CRLF, or NULL. A HEAD request
 * (head set) gets the headers only. Returns 0 or -ENOMEM. */
int wsk_http_respond(struct wsk_outq *out, int status, const char *type,
		     const char *extra, const void *body, size_t len, int head,
		     int last);

#endif
