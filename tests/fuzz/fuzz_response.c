/* Fuzz target: the client side of the opening handshake, as ws-watch and
 * ws-ping read a server's reply: wsk_http_feed in response mode, in pieces,
 * then wsk_hs_check_response and the header lookups lib/client.c makes.
 *
 * Invariants checked besides memory safety:
 * - WSK_HTTP_AGAIN takes every byte;
 * - WSK_HTTP_DONE stops right after the LF that ends the head, so the
 *   bytes after it (the first frames) are not cut or shifted;
 * - an accepted reply is a 101 carrying the right Sec-WebSocket-Accept. */
#include <string.h>

#include "fuzz.h"
#include "handshake.h"
#include "http.h"

/* RFC 6455's sample key and its accept value. */
#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wsk_http *h;
	struct fuzz_cut cut;
	const char *p, *why;
	size_t left, n, used;
	int r = WSK_HTTP_AGAIN;

	if (size < 1)
		return 0;
	h = malloc(sizeof(*h));
	if (!h)
		return 0;
	wsk_http_init(h, WSK_HTTP_RESPONSE);
	fuzz_cut_init(&cut, data[0]);
	p = (const char *)data + 1;
	left = size - 1;
	while (left && r == WSK_HTTP_AGAIN) {
		n = fuzz_cut_next(&cut, left);
		r = wsk_http_feed(h, p, n, &used);
		FUZZ_ASSERT(used <= n);
		if (r == WSK_HTTP_AGAIN)
			FUZZ_ASSERT(used == n);
		if (r == WSK_HTTP_DONE)
			FUZZ_ASSERT(used > 0 && p[used - 1] == '\n');
		p += n;
		left -= n;
	}
	if (r == WSK_HTTP_DONE) {
		(void)wsk_http_header(h, "Sec-WebSocket-Protocol");
		(void)wsk_http_header(h, "Sec-WebSocket-Extensions");
		if (wsk_hs_check_response(h, KEY, &why) == 0) {
			FUZZ_ASSERT(wsk_http_status(h) == 101);
			FUZZ_ASSERT(
			    strcmp(wsk_http_header(h, "Sec-WebSocket-Accept"),
				   ACCEPT) == 0);
		} else {
			FUZZ_ASSERT(why && *why);
		}
	} else {
		FUZZ_ASSERT(r == WSK_HTTP_AGAIN || r == WSK_HTTP_ERR_BAD ||
			    r == WSK_HTTP_ERR_BIG);
	}
	free(h);
	return 0;
}
