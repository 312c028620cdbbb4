/* Fuzz target: permessage-deflate (lib/pmd), what a peer controls.
 *
 * The first byte chooses what the rest is:
 * - 0..84, an offer: the value of a request's Sec-WebSocket-Extensions
 *   header. Whatever the server accepts it must answer with terms that our
 *   client, checking that answer, accepts and reads back the same. The
 *   value is also checked as if a server had answered with it (no crash).
 * - 85..169, a compressed message: inflated with a 64 KiB limit (with or
 *   without context takeover, per the low bit), it never yields more than
 *   the limit; a message that follows it on the same stream still inflates.
 * - 170..255, a message: deflated and inflated back, it comes out the same,
 *   and the compressed form never ends with the 00 00 FF FF the RFC strips.
 */
#include <string.h>

#include "fuzz.h"
#include "pmd.h"

#define LIMIT (64 * 1024)

static struct wsk_deflater *def;
static struct wsk_inflater *inf;

static int parse(struct wsk_http *h, enum wsk_http_kind kind, const char *head,
		 const uint8_t *value, size_t len)
{
	static char buf[WSK_HTTP_MAX_HEAD];
	size_t hl = strlen(head), used, n;

	if (hl + len + 4 > sizeof(buf))
		return -1;
	memcpy(buf, head, hl);
	memcpy(buf + hl, value, len);
	memcpy(buf + hl + len, "\r\n\r\n", 4);
	n = hl + len + 4;
	wsk_http_init(h, kind);
	return wsk_http_feed(h, buf, n, &used) == WSK_HTTP_DONE ? 0 : -1;
}

static void offer(const uint8_t *v, size_t len)
{
	static struct wsk_http req, resp;
	struct wsk_pmd_params p, q;
	const char *why;
	char ext[160];
	int n;

	/* A value holding CR, LF or NUL cannot be one header line. */
	if (memchr(v, '\r', len) || memchr(v, '\n', len) || memchr(v, 0, len))
		return;
	if (parse(&req, WSK_HTTP_REQUEST,
		  "GET / HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Extensions: ", v,
		  len) == 0 &&
	    wsk_pmd_server_accept(&req, &p)) {
		FUZZ_ASSERT(p.server_nct && p.client_nct);
		FUZZ_ASSERT(p.server_bits == 0 ||
			    (p.server_bits >= 8 && p.server_bits <= 15));
		n = wsk_pmd_format(&p, ext, sizeof(ext));
		FUZZ_ASSERT(n > 0);
		FUZZ_ASSERT(parse(&resp, WSK_HTTP_RESPONSE,
				  "HTTP/1.1 101 Switching Protocols\r\n"
				  "Sec-WebSocket-Extensions: ",
				  (const uint8_t *)ext, (size_t)n) == 0);
		FUZZ_ASSERT(wsk_pmd_client_check(&resp, 1, &q, &why) == 1);
		FUZZ_ASSERT(memcmp(&p, &q, sizeof(p)) == 0);
	}
	if (parse(&resp, WSK_HTTP_RESPONSE,
		  "HTTP/1.1 101 Switching Protocols\r\n"
		  "Sec-WebSocket-Extensions: ",
		  v, len) == 0)
		(void)wsk_pmd_client_check(&resp, 1, &q, &why);
}

static void compressed(const uint8_t *z, size_t len, int keep)
{
	static const char after[] = "{\"type\":\"PING\"}";
	const uint8_t *out, *zz;
	long n = wsk_inflate(inf, z, len, LIMIT, keep, &out);

	FUZZ_ASSERT(n <= LIMIT);
	FUZZ_ASSERT(n >= 0 || n == WSK_PMD_E_DATA || n == WSK_PMD_E_BIG);
	/* After an error the stream is reset; without takeover it is anyway:
	 * the next message must come out right. */
	if (n < 0 || !keep) {
		long zn = wsk_deflate(def, after, sizeof(after) - 1, &zz);

		FUZZ_ASSERT(zn > 0);
		n = wsk_inflate(inf, zz, (size_t)zn, LIMIT, 0, &out);
		FUZZ_ASSERT(n == (long)sizeof(after) - 1);
		FUZZ_ASSERT(memcmp(out, after, sizeof(after) - 1) == 0);
	} else {
		inf = (wsk_inflater_free(inf), wsk_inflater_new());
		FUZZ_ASSERT(inf);
	}
}

static void round_trip(const uint8_t *m, size_t len)
{
	static uint8_t copy[LIMIT];
	const uint8_t *z, *out;
	long zn, n;

	if (len > LIMIT)
		return;
	zn = wsk_deflate(def, m, len, &z);
	FUZZ_ASSERT(zn >= 0);
	FUZZ_ASSERT(zn < 4 || memcmp(z + zn - 4, "\0\0\xff\xff", 4) != 0 ||
		    len == 0);
	/* The inflater's input must not alias the deflater's buffer. */
	memcpy(copy, z, (size_t)zn);
	n = wsk_inflate(inf, copy, (size_t)zn, LIMIT, 0, &out);
	FUZZ_ASSERT(n == (long)len);
	FUZZ_ASSERT(len == 0 || memcmp(out, m, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!def)
		def = wsk_deflater_new(-1);
	if (!inf)
		inf = wsk_inflater_new();
	FUZZ_ASSERT(def && inf);
	if (size < 1)
		return 0;
	if (data[0] < 85)
		offer(data + 1, size - 1);
	else if (data[0] < 170)
		compressed(data + 1, size - 1, data[0] & 1);
	else
		round_trip(data + 1, size - 1);
	return 0;
}
