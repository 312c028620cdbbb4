#include "handshake.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int wsk_accept_key(const char *key, char out[WSK_ACCEPT_LEN])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char buf[128];
	size_t klen = strlen(key);

	if (klen + sizeof(guid) > sizeof(buf))
		return -1;
	memcpy(buf, key, klen);
	memcpy(buf + klen, guid, sizeof(guid) - 1);
	SHA1((const unsigned char *)buf, klen + sizeof(guid) - 1, md);
	/* 20 bytes encode to 28 characters plus the NUL EVP writes. */
	EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
	return 0;
}

int wsk_hs_is_upgrade(const struct wsk_http *req)
{
	return wsk_http_header_has_token(req, "Upgrade", "websocket");
}

/* A key is valid when it is base64 of exactly 16 bytes: 24 characters
 * ending in "==". EVP_DecodeBlock does not reject every bad alphabet
 * character position, so check the shape by hand first. */
static int key_ok(const char *key)
{
	unsigned char raw[32];
	size_t i;

	if (strlen(key) != 24 || key[22] != '=' || key[23] != '=')
		return 0;
	for (i = 0; i < 22; i++) {
		char c = key[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return 0;
	}
	return EVP_DecodeBlock(raw, (const unsigned char *)key, 24) == 18;
}

int wsk_hs_check_request(const struct wsk_http *req, const char **key,
			 const char **why)
{
	const char *k, *v;

	if (strcmp(wsk_http_method(req), "GET") != 0) {
		*why = "upgrade needs GET";
		return 400;
	}
	if (!wsk_http_version_at_least_11(req)) {
		*why = "upgrade needs HTTP/1.1";
		return 400;
	}
	if (!wsk_http_header_has_token(req, "Connection", "upgrade")) {
		*why = "missing Connection: Upgrade";
		return 400;
	}
	v = wsk_http_header(req, "Sec-WebSocket-Version");
	if (!v) {
		*why = "missing Sec-WebSocket-Version";
		return 400;
	}
	if (strcmp(v, "13") != 0) {
		*why = "unsupported Sec-WebSocket-Version";
		return 426;
	}
	k = wsk_http_header(req, "Sec-WebSocket-Key");
	if (!k || !key_ok(k)) {
		*why =
		    k ? "bad Sec-WebSocket-Key" : "missing Sec-WebSocket-Key";
		return 400;
	}
	*key = k;
	return 0;
}

int wsk_hs_response(char *buf, size_t size, const char *key,
		    const char *extensions)
{
	char accept[WSK_ACCEPT_LEN];
	int n;

	if (wsk_accept_key(key, accept) < 0)
		return -1;
	n = snprintf(buf, size,
		     "HTTP/1.1 101 Switching Protocols\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Accept: %s\r\n"
		     "%s%s%s\r\n",
		     accept, extensions ? "Sec-WebSocket-Extensions: " : "",
		     extensions ? extensions : "", extensions ? "\r\n" : "");
	return n < 0 || (size_t)n >= size ? -1 : n;
}

void wsk_hs_client_key(char key[WSK_KEY_LEN], const unsigned char nonce[16])
{
	EVP_EncodeBlock((unsigned char *)key, nonce, 16);
}

int wsk_hs_check_response(const struct wsk_http *resp, const char *key,
			  const char **why)
{
	char want[WSK_ACCEPT_LEN];
	const char *got;

	if (wsk_http_status(resp) != 101) {
		*why = "server did not switch protocols";
		return -1;
	}
	if (!wsk_http_header_has_token(resp, "Upgrade", "websocket")) {
		*why = "reply lacks Upgrade: websocket";
		return -1;
	}
	if (!wsk_http_header_has_token(resp, "Connection", "upgrade")) {
		*why = "reply lacks Connection: Upgrade";
		return -1;
	}
	got = wsk_http_header(resp, "Sec-WebSocket-Accept");
	if (!got || wsk_accept_key(key, want) < 0 || strcmp(got, want) != 0) {
		*why = "bad Sec-WebSocket-Accept";
		return -1;
	}
	return 0;
}
