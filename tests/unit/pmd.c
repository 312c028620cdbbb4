/* TAP tests for lib/pmd (permessage-deflate negotiation and streams) and
 * lib/utf8 (the check of inflated text). */
#include "pmd.h"

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "utf8.h"

static struct wsk_http h;

/* Parses a message whose head is head plus one Sec-WebSocket-Extensions
 * line per value (NULL-terminated). */
static void parse(enum wsk_http_kind kind, const char *first,
		  const char *const *values)
{
	char buf[2048];
	size_t used;
	int n = snprintf(buf, sizeof(buf), "%s", first);

	for (; *values; values++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
			      "Sec-WebSocket-Extensions: %s\r\n", *values);
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
	wsk_http_init(&h, kind);
	wsk_http_feed(&h, buf, (size_t)n, &used);
}

static int offer(const char *v1, const char *v2, struct wsk_pmd_params *p)
{
	const char *values[] = {v1, v2, NULL};

	parse(WSK_HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: x\r\n", values);
	return wsk_pmd_server_accept(&h, p);
}

static int answer(const char *v, struct wsk_pmd_params *p, const char **why)
{
	const char *values[] = {v, NULL};

	parse(WSK_HTTP_RESPONSE, "HTTP/1.1 101 Switching Protocols\r\n",
	      values);
	return wsk_pmd_client_check(&h, 1, p, why);
}

static void test_server(void)
{
	static const struct {
		const char *v1, *v2;
		int accepted, bits;
	} cases[] = {
	    {"permessage-deflate", NULL, 1, 0},
	    {"permessage-deflate; client_max_window_bits", NULL, 1, 0},
	    {"permessage-deflate; client_max_window_bits=9", NULL, 1, 0},
	    {"permessage-deflate; server_max_window_bits=10", NULL, 1, 10},
	    {"permessage-deflate; server_max_window_bits=\"12\"", NULL, 1, 12},
	    {"PerMessage-Deflate ;Server_No_Context_Takeover", NULL, 1, 0},
	    {"permessage-deflate; server_max_window_bits", NULL, 0, 0},
	    {"permessage-deflate; server_max_window_bits=16", NULL, 0, 0},
	    {"permessage-deflate; server_max_window_bits=7", NULL, 0, 0},
	    {"permessage-deflate; server_max_window_bits=010", NULL, 0, 0},
	    {"permessage-deflate; client_no_context_takeover=1", NULL, 0, 0},
	    {"permessage-deflate; mystery", NULL, 0, 0},
	    {"permessage-deflate; client_max_window_bits; "
	     "client_max_window_bits",
	     NULL, 0, 0},
	    {"x-webkit-deflate-frame", NULL, 0, 0},
	    {"permessage-deflate; server_max_window_bits=\"1", NULL, 0, 0},
	    {"permessage-deflate; x=1, permessage-deflate; "
	     "server_max_window_bits=9",
	     NULL, 1, 9},
	    {"foo", "permessage-deflate; server_max_window_bits=11", 1, 11},
	    {";", "permessage-deflate", 1, 0},
	};
	struct wsk_pmd_params p;
	char buf[160];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = offer(cases[i].v1, cases[i].v2, &p);

		ok(r == cases[i].accepted &&
		       (!r || (p.server_nct && p.client_nct &&
			       p.server_bits == cases[i].bits)),
		   "offer %s%s%s: %s", cases[i].v1, cases[i].v2 ? " + " : "",
		   cases[i].v2 ? cases[i].v2 : "",
		   cases[i].accepted ? "accepted" : "declined");
	}
	offer("permessage-deflate; server_max_window_bits=10", NULL, &p);
	ok(wsk_pmd_format(&p, buf, sizeof(buf)) > 0 &&
	       strcmp(buf, "permessage-deflate; server_no_context_takeover; "
			   "client_no_context_takeover; "
			   "server_max_window_bits=10") == 0,
	   "the answer names both no_context_takeover and the window");
	ok(wsk_pmd_format(&p, buf, 20) == -1, "a short buffer is refused");
}

static void test_client(void)
{
	struct wsk_pmd_params p;
	const char *why = NULL;
	const char *values[] = {NULL};

	ok(answer("permessage-deflate; server_no_context_takeover; "
		  "client_max_window_bits=10",
		  &p, &why) == 1 &&
	       p.server_nct && !p.client_nct && p.client_bits == 10,
	   "an answer with terms is read back");
	ok(answer("permessage-deflate; client_max_window_bits", &p, &why) == -1,
	   "client_max_window_bits without a value in an answer: refused");
	ok(answer("permessage-deflate, permessage-deflate", &p, &why) == -1,
	   "an extension agreed twice: refused");
	ok(answer("x-webkit-deflate-frame", &p, &why) == -1,
	   "an extension not offered: refused");
	ok(answer("permessage-deflate; server_max_window_bits=99", &p, &why) ==
	       -1,
	   "a window out of range: refused (%s)", why ? why : "");
	parse(WSK_HTTP_RESPONSE, "HTTP/1.1 101 Switching Protocols\r\n",
	      values);
	ok(wsk_pmd_client_check(&h, 1, &p, &why) == 0,
	   "no extension in the answer: plain");
	parse(WSK_HTTP_RESPONSE, "HTTP/1.1 101 Switching Protocols\r\n",
	      (const char *[]){"permessage-deflate", NULL});
	ok(wsk_pmd_client_check(&h, 0, &p, &why) == -1,
	   "an answer to an offer never made: refused");
}

static void test_streams(void)
{
	static const char msg[] =
	    "{\"type\":\"UPDATE\",\"seq\":15,\"ts\":1795650658775,\"data\":{"
	    "\"id\":\"EVENT#00\",\"name\":\"Harbour Sprint\",\"score\":9}}";
	static uint8_t zeros[100000];
	struct wsk_deflater *d = wsk_deflater_new(-1);
	struct wsk_inflater *f = wsk_inflater_new();
	uint8_t copy[4096];
	const uint8_t *z, *out;
	long zn, n;

	ok(d && f, "streams made");
	zn = wsk_deflate(d, msg, sizeof(msg) - 1, &z);
	ok(zn > 0 && (size_t)zn < sizeof(msg) - 1,
	   "a JSON update shrinks (%ld of %zu bytes)", zn, sizeof(msg) - 1);
	memcpy(copy, z, (size_t)zn);
	n = wsk_inflate(f, copy, (size_t)zn, 4096, 0, &out);
	ok(n == (long)sizeof(msg) - 1 && memcmp(out, msg, (size_t)n) == 0,
	   "it inflates back");
	/* The same bytes again: without takeover each message stands alone. */
	n = wsk_inflate(f, copy, (size_t)zn, 4096, 0, &out);
	ok(n == (long)sizeof(msg) - 1, "and again, on a fresh stream");
	n = wsk_inflate(f, copy, (size_t)zn, 50, 0, &out);
	ok(n == WSK_PMD_E_BIG, "past the limit: too big");
	zn = wsk_deflate(d, zeros, sizeof(zeros), &z);
	memcpy(copy, z, (size_t)zn);
	n = wsk_inflate(f, copy, (size_t)zn, 65536, 0, &out);
	ok(zn < 200 && n == WSK_PMD_E_BIG,
	   "%ld bytes inflating to 100000: too big for 64 KiB", zn);
	n = wsk_inflate(f, (const uint8_t *)"\xff\xff\xff\xff", 4, 4096, 0,
			&out);
	ok(n == WSK_PMD_E_DATA, "garbage: bad data");
	zn = wsk_deflate(d, "", 0, &z);
	ok(zn == 1 && z[0] == 0, "an empty message compresses to 00");
	n = wsk_inflate(f, (const uint8_t *)"\x00", 1, 4096, 0, &out);
	ok(n == 0, "and 00 inflates to nothing");
	wsk_deflater_free(d);
	wsk_inflater_free(f);
}

static void test_utf8(void)
{
	static const struct {
		const char *s;
		size_t len;
		int valid;
		const char *name;
	} cases[] = {
	    {"", 0, 1, "empty"},
	    {"plain ASCII text, longer than eight", 35, 1, "ASCII"},
	    {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, 1, "2-, 3-, 4-byte"},
	    {"\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7, 1, "U+FFFF and U+10FFFF"},
	    {"\xc0\xaf", 2, 0, "overlong 2-byte"},
	    {"\xe0\x80\x80", 3, 0, "overlong 3-byte"},
	    {"\xf0\x80\x80\x80", 4, 0, "overlong 4-byte"},
	    {"\xed\xa0\x80", 3, 0, "surrogate U+D800"},
	    {"\xed\xbf\xbf", 3, 0, "surrogate U+DFFF"},
	    {"\xf4\x90\x80\x80", 4, 0, "past U+10FFFF"},
	    {"\xf5\x80\x80\x80", 4, 0, "F5 lead"},
	    {"ab\xe2\x82", 4, 0, "truncated at the end"},
	    {"\x80", 1, 0, "lone continuation"},
	    {"\xe2\x28\xa1", 3, 0, "bad second byte"},
	    {"abcdefgh\xff", 9, 0, "FF after an ASCII run"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(wsk_utf8_valid((const uint8_t *)cases[i].s, cases[i].len) ==
		       cases[i].valid,
		   "UTF-8 %s: %s", cases[i].name,
		   cases[i].valid ? "valid" : "invalid");
}

int main(void)
{
	test_server();
	test_client();
	test_streams();
	test_utf8();
	return done();
}
