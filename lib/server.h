/* The ws-serve server: listener, connections, the broadcast hub and the
 * glue between the simulator, the history ring and the clients.
 *
 * Transport model (shared by every connection, and by TLS later): each
 * connection is a uv_tcp_t whose output is one wsk_outq. Everything a
 * connection sends goes through that queue in order; the queue is written
 * once per loop turn (a uv_prepare handle) with uv_try_write and, for what
 * the kernel does not take, one uv_write at a time. Reads use one buffer
 * per server, so an idle connection owns no buffer. A connection holds a
 * wslay event context only while it is in the middle of receiving frames:
 * the context is taken from a small pool on the first byte after the
 * handshake and given back when the parser is idle again, since most
 * clients of an event stream never send. Broadcast frames are encoded once
 * (frame.h) and shared by reference. */
#ifndef WSK_SERVER_H
#define WSK_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "access.h"
#include "tls.h"

struct wsk_server;

enum wsk_log_level { WSK_LOG_INFO, WSK_LOG_WARN, WSK_LOG_ERROR };

/* One log record; strings are valid only during the callback. */
struct wsk_log_rec {
	enum wsk_log_level level;
	const char
	    *event;	  /* "listen", "connect", "disconnect", "reject", ... */
	const char *peer; /* "127.0.0.1:5555", or NULL */
	long clients;	  /* open WebSocket clients after the event, or -1 */
	int code;	  /* HTTP status or close code, or 0 */
	const char *detail; /* a reason, or NULL */
};

struct wsk_server_opts {
	const char *host; /* IP literal or name, resolved at start */
	int port;	  /* 0: any free port */
	int reuseport;	  /* SO_REUSEPORT: instances share host:port */
	const char *web_dir;
	unsigned interval_min, interval_max; /* ms */
	int have_seed;
	uint64_t seed;
	size_t history;
	size_t max_message;
	size_t max_queue; /* unsent bytes past which a client is closed, 1008 */
	int log_requests; /* log every plain HTTP request ("request" event) */
	const struct wsk_access *access; /* token and Origin allowlist */
	long max_clients;		 /* open WebSockets; more get 503 */
	double msg_rate, msg_burst;    /* messages/s per client; 0: no limit */
	unsigned handshake_timeout_ms; /* to send a complete request */
	unsigned heartbeat_ms;	       /* server pings; 0: none */
	unsigned stats_ms;	       /* a "stats" log line; 0: none */
	int echo;		       /* echo every message, no simulator */
	int deflate;		 /* negotiate permessage-deflate (RFC 7692) */
	const char *redis_url;	 /* share the stream through Redis */
	unsigned lease_ms;	 /* the simulator lease */
	struct wsk_tls_ctx *tls; /* serve TLS on every connection */
	void (*log)(void *arg, const struct wsk_log_rec *rec);
	void *log_arg;
	/* Records below this level are not even made: a peer's address is
	 * formatted for every connect and disconnect line, a few percent of a
	 * handshake's CPU, wasted when --quiet drops them. */
	enum wsk_log_level log_min;
};

/* Creates a server on loop, binds and listens, starts the simulator.
 * Returns 0 and sets *out, or a negative error with a message in err. */
int wsk_server_start(struct wsk_server **out, uv_loop_t *loop,
		     const struct wsk_server_opts *opts, char *err,
		     size_t errlen);

/* The bound port and address, for the "listening on" line. */
int wsk_server_port(const struct wsk_server *s);

/* Stops listening and the simulator, sends close 1001 to every client and
 * closes every connection (those that do not answer within two seconds are
 * cut). done runs once every handle is closed; the caller then frees the
 * server with wsk_server_free. */
void wsk_server_shutdown(struct wsk_server *s, void (*done)(void *arg),
			 void *arg);
void wsk_server_free(struct wsk_server *s);

#endif
