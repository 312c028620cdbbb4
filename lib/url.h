/* ws:// and wss:// URLs.
 *
 * Parsing is libcurl's (curl_url); this module adds what a WebSocket
 * client needs on top: the default ports, the request target, the value of
 * the Host header, and editing of query parameters on the target so that a
 * reconnecting client can ask to resume (?since=SEQ&epoch=E). */
#ifndef WSK_URL_H
#define WSK_URL_H

#include <stddef.h>
#include <stdint.h>

struct wsk_url {
	char *host;	 /* to resolve: "example.com", "127.0.0.1", "::1" */
	char *authority; /* Host header: host ([::1] for IPv6) plus ":port"
			    when the port is not the scheme's default */
	char *target;	 /* request target: path and query, at least "/" */
	char *text;	 /* the whole URL: scheme://authority + target */
	uint16_t port;	 /* given, or 80 for ws:// and 443 for wss:// */
	int is_tls;	 /* 1 for wss:// */
};

/* Parses s into u, which the caller owns and releases with
 * wsk_url_release. A string without "://" is taken as "ws://" + s, so
 * "localhost:3000" works. User names, passwords and fragments are
 * dropped. Returns 0, or -1 with u untouched and a message in err such as
 * "'http://x/': scheme must be ws:// or wss://". */
int wsk_url_parse(struct wsk_url *u, const char *s, char *err, size_t errlen);

/* Frees the strings of u and zeroes it. A zeroed u is fine too. */
void wsk_url_release(struct wsk_url *u);

/* Sets query parameter name to value on u->target (and u->text),
 * replacing every parameter of that name, or appends it. value is
 * percent-encoded; NULL removes the parameter. name is used as is.
 * Returns 0 or -ENOMEM (u unchanged). */
int wsk_url_set_param(struct wsk_url *u, const char *name, const char *value);

#endif
