/* One WebSocket client connection on a caller's libuv loop.
 *
 * A client resolves the URL's host (uv_getaddrinfo), tries every address
 * in order until one accepts, for wss:// runs the TLS handshake
 * (lib/tls.h), sends the opening handshake, checks the reply, and then
 * exchanges messages through a wslay client context. Every byte it sends
 * goes through one struct wsk_outq, so wslay's own frames (pongs, close
 * replies) and the caller's messages stay in order; under TLS that queue
 * is encrypted into a second one, the ciphertext the socket writes, as
 * ws-serve does. Nothing here prints or exits, and there is no global
 * state: a program may run many clients on one loop, and one loop per
 * thread.
 *
 * Ownership. wsk_client_connect allocates the client; the library frees
 * it after on_close returns, never earlier, and never while one of its
 * callbacks is running. The caller must not use the pointer after
 * on_close. Options are copied during wsk_client_connect.
 *
 * Callbacks never fire from inside a wsk_client_* call: they run from the
 * loop. Inside any callback the caller may call any wsk_client_* function
 * on any client, including the one calling back.
 *
 * Errors: functions return 0 (or a count) on success and a negative value
 * on failure: -errno for system errors (-ENOMEM, -EINVAL...), or a
 * WSK_CLIENT_E_* code below -1000. wsk_client_strerror describes both. If
 * wsk_client_connect fails, no callback ever fires. */
#ifndef WSK_CLIENT_H
#define WSK_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "http.h"
#include "url.h"

enum wsk_client_error {
	/* Could not connect (on_close with opened == 0): */
	/* the host name did not resolve; */
	WSK_CLIENT_E_RESOLVE = -1101,
	/* TCP connect failed on every address; */
	WSK_CLIENT_E_CONNECT = -1102,
	/* DNS, TCP, TLS and the handshake did not finish within the timeout; */
	WSK_CLIENT_E_TIMEOUT = -1103,
	/* the server refused the upgrade, or its reply was wrong; */
	WSK_CLIENT_E_HANDSHAKE = -1104,
	/* the TLS handshake failed: "certificate verify failed: ...", a
	 * server that does not speak TLS... */
	WSK_CLIENT_E_TLS = -1109,

	/* Ended after on_open (on_close with opened == 1): */
	/* the connection ended without a close handshake (EOF, reset); */
	WSK_CLIENT_E_LOST = -1105,
	/* the server broke the protocol or sent too big a message, and the
	 * client closed with 1002, 1007 or 1009; */
	WSK_CLIENT_E_PROTOCOL = -1106,
	/* The close handshake did not finish within the close timeout:
	 * our close frame got no answer, or, when the server closed first
	 * or we failed the connection, our close frame could not be sent
	 * (WSK_CLIENT_CLOSE_TIMEOUT_MS then). */
	WSK_CLIENT_E_CLOSE_TIMEOUT = -1107,

	/* Either way: wsk_client_abort, or wsk_client_close before open. */
	WSK_CLIENT_E_ABORTED = -1108,
};

/* Message opcodes, the RFC 6455 (and wslay) values. */
enum wsk_client_opcode { WSK_WS_TEXT = 1, WSK_WS_BINARY = 2 };

/* Defaults used when the matching option is 0. */
#define WSK_CLIENT_MAX_MESSAGE (16u << 20)
#define WSK_CLIENT_CLOSE_TIMEOUT_MS 2000

/* State shared by every client on one loop: the read buffer (libuv calls
 * read_cb right after alloc_cb, so one 64 KiB buffer serves all of them
 * and an idle connection holds none; under TLS the plaintext is read back
 * into it), and the default TLS context for wss:// clients given none. */
struct wsk_client_loop;

/* Returns a new per-loop state for loop, or NULL when out of memory. */
struct wsk_client_loop *wsk_client_loop_new(uv_loop_t *loop);
/* Frees cl and its default TLS context. Every client made with it must
 * have called on_close. */
void wsk_client_loop_free(struct wsk_client_loop *cl);
/* Bytes read from the sockets of cl's clients so far (what the wire
 * carried, handshakes and TLS included). */
uint64_t wsk_client_loop_bytes_in(const struct wsk_client_loop *cl);
/* The length of the latest read, counted in the above: inside on_message,
 * the read that carried the message (with what else that read held). */
size_t wsk_client_loop_last_read(const struct wsk_client_loop *cl);

struct wsk_client;
struct wsk_tls_ctx;

struct wsk_client_opts {
	/* Required. */
	const struct wsk_url *url;
	/* nheaders extra "Name: value" lines; one named Host, Origin,
	 * User-Agent or Sec-WebSocket-Protocol replaces ours. */
	const char *const *headers;
	size_t nheaders;
	/* Origin header, or NULL. */
	const char *origin;
	/* Subprotocol to ask for (Sec-WebSocket-Protocol), or NULL; the
	 * reply must name it. */
	const char *protocol;
	/* User-Agent header, or NULL. */
	const char *user_agent;
	/* Sends "Authorization: Bearer <bearer>" unless a header line names
	 * Authorization; NULL for none. No CR, LF or NUL. */
	const char *bearer;
	/* For wss:// URLs: the client settings of lib/tls.h (CA file or the
	 * system's store, or no verification), shared by any number of
	 * clients and threads; it must outlive every client using it. NULL
	 * takes the loop's default, made on first use: verified against the
	 * system's store. Each connection verifies the certificate against
	 * url->host (a name or an IP address) and sends it as SNI. */
	struct wsk_tls_ctx *tls;
	/* Limit for DNS + TCP + TLS + handshake together; 0 = none. */
	uint64_t connect_timeout_ms;
	/* Largest message accepted; 0 = WSK_CLIENT_MAX_MESSAGE. */
	uint64_t max_message;
	/* Optional: connect to this address instead of resolving url->host
	 * (a load generator resolves once for thousands of clients), and
	 * bind to a local address first (to spread over 127.0.0.x). */
	const struct sockaddr *addr;
	const struct sockaddr *bind;
	/* Offer permessage-deflate (RFC 7692). When the server agrees,
	 * messages of WSK_PMD_MIN_SIZE bytes and more go out compressed and
	 * compressed ones are inflated before on_message. */
	int deflate;
};

/* What on_open reports. Pointers are valid during on_open only. */
struct wsk_client_open {
	/* Microseconds (uv_hrtime) spent resolving (0 when opts.addr was
	 * given), on the TCP connect to the address that worked, on the TLS
	 * handshake (0 for ws://), and from the request written to the 101
	 * reply parsed. */
	uint64_t resolve_us, connect_us, tls_us, handshake_us;
	/* The address connected to. */
	const struct sockaddr *peer;
	/* The handshake request sent, and the server's 101 reply head. */
	const char *request;
	const struct wsk_http *response;
	/* The subprotocol agreed on, or NULL. */
	const char *protocol;
	/* The permessage-deflate terms agreed on, as the server stated
	 * them (its Sec-WebSocket-Extensions value), or NULL. */
	const char *extensions;
};

/* What on_close reports. Pointers are valid during on_close only. */
struct wsk_client_close {
	/* 1 if on_open fired (the connection was closed or lost); 0 if it
	 * could not be established (see error). */
	int opened;
	/* 0 after a close handshake, whoever began it; else WSK_CLIENT_E_*
	 * or -ENOMEM. */
	int error;
	/* The close code the server sent; 1005 if its close frame had none,
	 * 1006 if none arrived. */
	uint16_t code;
	/* The close code we sent (ours or the echo), or 0. */
	uint16_t sent_code;
	/* The server's close reason, "" if none. */
	const char *reason;
	/* For people when error != 0, such as "connection refused",
	 * "server answered 404 instead of 101" or "certificate verify
	 * failed: unable to get local issuer certificate"; "" when
	 * error == 0. */
	const char *message;
	/* The reply's HTTP status for WSK_CLIENT_E_HANDSHAKE, else 0. */
	int http_status;
};

struct wsk_client_cbs {
	/* The handshake succeeded; messages may be sent from now on. */
	void (*on_open)(struct wsk_client *c, const struct wsk_client_open *o,
			void *user_data);
	/* A whole text (valid UTF-8, checked by wslay) or binary message
	 * arrived. data is valid during the call only. Not called after
	 * wsk_client_close or wsk_client_abort. */
	void (*on_message)(struct wsk_client *c, int opcode,
			   const uint8_t *data, size_t len, void *user_data);
	/* A pong frame arrived (an answer to wsk_client_ping). Optional. */
	void (*on_pong)(struct wsk_client *c, const uint8_t *data, size_t len,
			void *user_data);
	/* Everything queued was handed to the kernel, after a time when the
	 * socket could not take it at once. Optional. */
	void (*on_drain)(struct wsk_client *c, void *user_data);
	/* Required. Fires exactly once for every successful
	 * wsk_client_connect, as the last callback, after the socket is
	 * closed; c is freed when it returns. */
	void (*on_close)(struct wsk_client *c,
			 const struct wsk_client_close *info, void *user_data);
};

/* Starts connecting. Returns 0 with *out set, after which on_close will
 * fire exactly once; or a negative value with a message in err (and no
 * callback ever): -EINVAL for a malformed header or bearer token, -ENOMEM,
 * WSK_CLIENT_E_TLS when wss:// needs the loop's default TLS context and it
 * cannot be made (no system CA store), or a libuv error. */
int wsk_client_connect(struct wsk_client **out, struct wsk_client_loop *cl,
		       const struct wsk_client_opts *opts,
		       const struct wsk_client_cbs *cbs, void *user_data,
		       char *err, size_t errlen);

/* Checks an extra header line "Name: value": a token name, a colon, no
 * CR, LF or NUL. Returns 0, or -EINVAL with a message in err. */
int wsk_client_check_header(const char *line, char *err, size_t errlen);

/* Queues a text (WSK_WS_TEXT, must be UTF-8) or binary message. The bytes
 * are copied. Returns 0; -ENOTCONN before on_open; -EPIPE once closing;
 * -EINVAL for another opcode; -ENOMEM. */
int wsk_client_send(struct wsk_client *c, int opcode, const void *data,
		    size_t len);

/* Queues a ping frame with up to 125 bytes of payload. Same returns. */
int wsk_client_ping(struct wsk_client *c, const void *data, size_t len);

/* Starts the close handshake with code (1000 normal) and a reason (cut to
 * 123 bytes; NULL for none). The messages and pings queued before go out
 * first, then the close frame. When the server answers, on_close fires
 * with error 0; after timeout_ms (0 = WSK_CLIENT_CLOSE_TIMEOUT_MS) the TCP
 * connection is dropped and on_close reports WSK_CLIENT_E_CLOSE_TIMEOUT.
 * Before on_open this is wsk_client_abort. Returns 0; -EPIPE when the
 * client is already closing (no change); -EINVAL for a code an endpoint
 * may not send (1004-1006, 1012-2999, 5000 and up; 0 sends none);
 * -ENOMEM. */
int wsk_client_close(struct wsk_client *c, uint16_t code, const char *reason,
		     uint64_t timeout_ms);

/* Drops the connection at once without a close frame (dead peer, giving
 * up). on_close follows with WSK_CLIENT_E_ABORTED unless the client was
 * already ending for another reason. */
void wsk_client_abort(struct wsk_client *c);

/* Bytes queued and not yet handed to the kernel: the backpressure
 * measure. */
size_t wsk_client_queued(const struct wsk_client *c);

/* Returns a static description of a negative code from this module. */
const char *wsk_client_strerror(int err);

#endif
