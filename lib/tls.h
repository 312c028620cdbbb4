/* TLS for both sides, on memory BIOs.
 *
 * The socket stays a plain uv_tcp_t: ciphertext read from it is fed in,
 * plaintext comes out; plaintext to send goes in, ciphertext comes out as
 * chunks appended to an output queue that the connection writes like any
 * other. So nothing above a connection knows whether it is encrypted, and
 * TLS never blocks or touches a file descriptor. */
#ifndef WSK_TLS_H
#define WSK_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct wsk_tls_ctx; /* shared settings: certificates, verification */
struct wsk_tls;	    /* one connection's TLS state */

/* A server context from PEM files (TLS 1.2 and later, OpenSSL's default
 * ciphers). Returns 0 and sets *out, or -1 with a message in err. */
int wsk_tls_server_ctx(struct wsk_tls_ctx **out, const char *cert,
		       const char *key, char *err, size_t errlen);

/* A client context: verifies the peer against cafile (NULL: the system's
 * store) unless insecure is set. Returns 0 or -1 with a message in err. */
int wsk_tls_client_ctx(struct wsk_tls_ctx **out, const char *cafile,
		       int insecure, char *err, size_t errlen);

void wsk_tls_ctx_free(struct wsk_tls_ctx *ctx);

/* Per-connection state; host (client side) is used for SNI and for the
 * name check. NULL when out of memory. */
struct wsk_tls *wsk_tls_new_server(struct wsk_tls_ctx *ctx);
struct wsk_tls *wsk_tls_new_client(struct wsk_tls_ctx *ctx, const char *host);
void wsk_tls_free(struct wsk_tls *t);

/* Gives len bytes of ciphertext from the socket. Returns 0 or -1. */
int wsk_tls_feed(struct wsk_tls *t, const void *data, size_t len);

/* Reads plaintext into buf. Returns the bytes read, 0 when more
 * ciphertext is needed (or the handshake is still under way), -2 when the
 * peer closed TLS cleanly (close_notify), or -1 on a TLS error, with a
 * message in err. */
ssize_t wsk_tls_read(struct wsk_tls *t, void *buf, size_t len, char *err,
		     size_t errlen);

/* Encrypts len bytes of plaintext. Before the handshake completes the
 * bytes wait inside OpenSSL. Returns 0 or -1. */
int wsk_tls_write(struct wsk_tls *t, const void *data, size_t len);

/* Starts a client handshake (the ClientHello is then ready to take). */
int wsk_tls_connect(struct wsk_tls *t);

/* Moves the ciphertext waiting to be sent into q. Returns the bytes moved,
 * or -ENOMEM. */
ssize_t wsk_tls_take(struct wsk_tls *t, struct wsk_outq *q);

/* 1 once the handshake has completed. */
int wsk_tls_ready(const struct wsk_tls *t);

/* Queues a close_notify alert (take it with wsk_tls_take), once, after
 * the handshake; nothing may be written after it. Without one, a peer
 * cannot tell the end of the stream from a cut (OpenSSL 3 reports
 * "unexpected eof while reading"). Returns 0 or -1. */
int wsk_tls_shutdown(struct wsk_tls *t);

#endif
