/* The RFC 6455 opening handshake, both ways. */
#ifndef WSK_HANDSHAKE_H
#define WSK_HANDSHAKE_H

#include <stddef.h>

#include "http.h"

/* Length of a Sec-WebSocket-Accept value plus its NUL. */
#define WSK_ACCEPT_LEN 29
/* Length of a Sec-WebSocket-Key value plus its NUL. */
#define WSK_KEY_LEN 25

/* Computes base64(SHA-1(key + GUID)) into out. Returns 0 or -1. */
int wsk_accept_key(const char *key, char out[WSK_ACCEPT_LEN]);

/* Returns 1 if the request asks for a WebSocket (Upgrade: websocket). */
int wsk_hs_is_upgrade(const struct wsk_http *req);

/* Validates a WebSocket upgrade request. Returns 0 and sets *key, or the
 * HTTP status to answer (400, or 426 for a version other than 13) with a
 * short reason in *why. */
int wsk_hs_check_request(const struct wsk_http *req, const char **key,
			 const char **why);

/* Writes the 101 response for key into buf, with a
 * Sec-WebSocket-Extensions header when extensions is not NULL. Returns its
 * length, or -1 if buf is too small. */
int wsk_hs_response(char *buf, size_t size, const char *key,
		    const char *extensions);

/* Fills key with the Sec-WebSocket-Key for 16 fresh random bytes. */
void wsk_hs_client_key(char key[WSK_KEY_LEN], const unsigned char nonce[16]);

/* Checks a server's handshake reply against the key sent. Returns 0, or -1
 * with a short reason in *why ("server answered 404", "bad
 * Sec-WebSocket-Accept"...). */
int wsk_hs_check_response(const struct wsk_http *resp, const char *key,
			  const char **why);

#endif
