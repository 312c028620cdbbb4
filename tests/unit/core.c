/* Unit tests of the server-side core modules, with no sockets. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "buf.h"
#include "frame.h"
#include "handshake.h"
#include "history.h"
#include "http.h"
#include "proto.h"
#include "tap.h"

/* Puts s at the very end of a readable page followed by an unmapped one,
 * so a parser that reads one byte too far faults (picohttpparser's trick). */
static char *guarded(const char *s, size_t len, void **map, size_t *maplen)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t pages = (len + (size_t)pg - 1) / (size_t)pg + 1;
	char *m = mmap(NULL, pages * (size_t)pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	mprotect(m + (pages - 1) * (size_t)pg, (size_t)pg, PROT_NONE);
	*map = m;
	*maplen = pages * (size_t)pg;
	memcpy(m + (pages - 1) * (size_t)pg - len, s, len);
	return m + (pages - 1) * (size_t)pg - len;
}

static int parse_req(struct wsk_http *h, const char *s, size_t *used)
{
	void *map;
	size_t maplen, len = strlen(s);
	char *p = guarded(s, len, &map, &maplen);
	int r;

	wsk_http_init(h, WSK_HTTP_REQUEST);
	r = wsk_http_feed(h, p, len, used);
	munmap(map, maplen);
	return r;
}

static void test_accept(void)
{
	char out[WSK_ACCEPT_LEN];

	ok(wsk_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out) == 0 &&
	       strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
	   "RFC 6455 sample key gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_http(void)
{
	struct wsk_http *h = malloc(sizeof(*h));
	const char *why, *key;
	size_t used;
	int r;

	static const char up[] =
	    "GET /ws?since=3 HTTP/1.1\r\nHost: x\r\n"
	    "upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n\x81\x80";

	r = parse_req(h, up, &used);
	ok(r == WSK_HTTP_DONE, "upgrade request parses");
	ok(strcmp(wsk_http_url(h), "/ws?since=3") == 0, "target kept");
	ok(wsk_hs_is_upgrade(h), "Upgrade: WebSocket in any case");
	ok(wsk_hs_check_request(h, &key, &why) == 0, "valid upgrade accepted");
	ok(used == sizeof(up) - 3,
	   "bytes after the head are left for the frame parser");

	parse_req(
	    h,
	    "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    &used);
	ok(wsk_hs_check_request(h, &key, &why) == 400,
	   "key that is not 16 bytes: 400");
	parse_req(
	    h,
	    "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 8\r\n\r\n",
	    &used);
	ok(wsk_hs_check_request(h, &key, &why) == 426, "version 8: 426");
	parse_req(
	    h,
	    "GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n",
	    &used);
	ok(wsk_hs_check_request(h, &key, &why) == 400, "HTTP/1.0: 400");
	parse_req(
	    h,
	    "POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
	    &used);
	ok(wsk_hs_check_request(h, &key, &why) == 400, "POST: 400");

	/* Versions: 1.0 and 1.1 are spoken; another major gets 505. */
	parse_req(h, "GET / HTTP/1.0\r\n\r\n", &used);
	ok(wsk_http_version_is_1x(h) && !wsk_http_version_at_least_11(h),
	   "HTTP/1.0 is 1.x, below 1.1");
	parse_req(h, "GET / HTTP/1.1\r\n\r\n", &used);
	ok(wsk_http_version_is_1x(h) && wsk_http_version_at_least_11(h),
	   "HTTP/1.1 is 1.x, at least 1.1");
	parse_req(h,
		  "GET / HTTP/1.2\r\nUpgrade: websocket\r\nConnection: "
		  "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		  "Sec-WebSocket-Version: 13\r\n\r\n",
		  &used);
	ok(wsk_http_version_at_least_11(h) &&
	       wsk_hs_check_request(h, &key, &why) == 0,
	   "an upgrade on HTTP/1.2 is accepted (RFC 6455: 1.1 or higher)");
	r = parse_req(h, "GET / HTTP/9.9\r\n\r\n", &used);
	ok(r == WSK_HTTP_DONE && !wsk_http_version_is_1x(h),
	   "HTTP/9.9 parses and is not 1.x");
	r = parse_req(h, "GET /\r\n\r\n", &used);
	ok(r == WSK_HTTP_DONE && !wsk_http_version_is_1x(h),
	   "a request line without a version (HTTP/0.9) is not 1.x");

	/* Two pipelined requests come out one at a time. */
	r = parse_req(
	    h, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
	    &used);
	ok(r == WSK_HTTP_DONE && strcmp(wsk_http_url(h), "/a") == 0 &&
	       used == strlen("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"),
	   "pipelined requests: the first stops at its end");
	ok(parse_req(h, "GARBAGE\r\n\r\n", &used) == WSK_HTTP_ERR_BAD,
	   "malformed request line");

	/* A header split across reads is gathered. */
	wsk_http_init(h, WSK_HTTP_REQUEST);
	wsk_http_feed(h, "GET / HTTP/1.1\r\nX-Lo", 20, &used);
	wsk_http_feed(h, "ng: ab", 6, &used);
	r = wsk_http_feed(h, "c\r\n\r\n", 5, &used);
	ok(r == WSK_HTTP_DONE && wsk_http_header(h, "x-long") &&
	       strcmp(wsk_http_header(h, "x-long"), "abc") == 0,
	   "header name and value split across reads");

	{
		char *big = malloc(10000);

		strcpy(big, "GET / HTTP/1.1\r\nX: ");
		memset(big + strlen(big), 'a', 9000);
		strcpy(big + 9000, "\r\n\r\n");
		ok(parse_req(h, big, &used) == WSK_HTTP_ERR_BIG,
		   "head over 8 KiB: too big");
		free(big);
	}
	free(h);
}

static void test_pct(void)
{
	char out[64];

	ok(wsk_pct_decode("EVENT%2300", 10, out) == 8 &&
	       strcmp(out, "EVENT#00") == 0,
	   "EVENT%%2300 decodes to EVENT#00");
	ok(wsk_pct_decode("a%2Fb%20c+", 10, out) == 6 &&
	       strcmp(out, "a/b c+") == 0,
	   "%%2F and %%20 decode, + stays");
	ok(wsk_pct_decode("%e2%82%ac", 9, out) == 3 &&
	       strcmp(out, "\xe2\x82\xac") == 0,
	   "lower-case hex, multi-byte");
	ok(wsk_pct_decode("abc%2", 5, out) == -1, "truncated escape rejected");
	ok(wsk_pct_decode("abc%", 4, out) == -1, "lone %% rejected");
	ok(wsk_pct_decode("a%zzb", 5, out) == -1, "bad hex rejected");
	ok(wsk_pct_decode("a%00b", 5, out) == -1, "encoded NUL rejected");
}

static void test_token_list(void)
{
	ok(wsk_list_has_token("chat, superchat", "superchat", 0),
	   "a token after a comma and a blank");
	ok(wsk_list_has_token(" ,chat\t,", "chat", 0),
	   "blanks and empty items around it");
	ok(!wsk_list_has_token("superchat", "chat", 0),
	   "no match inside a token");
	ok(!wsk_list_has_token("chatter", "chat", 0), "no match on a prefix");
	ok(!wsk_list_has_token("Chat", "chat", 0) &&
	       wsk_list_has_token("Chat", "chat", 1),
	   "case counts unless nocase");
	ok(!wsk_list_has_token("a,,b", "", 0) && !wsk_list_has_token("", "", 1),
	   "an empty token matches nothing");
	ok(!wsk_list_has_token("a b, c", "a", 0),
	   "an item with an inner blank is one item");
}

static void test_outq(void)
{
	struct wsk_outq q = {0};
	struct wsk_chunk *shared = wsk_chunk_dup("BROADCAST", 9);
	uv_buf_t iov[8];
	unsigned n;

	wsk_chunk_seal(shared);
	wsk_outq_append(&q, "ab", 2);
	wsk_outq_append(&q, "cd", 2);
	wsk_outq_push(&q, shared);
	wsk_outq_append(&q, "ef", 2);
	n = wsk_outq_iov(&q, 0, iov, 8);
	ok(n == 3 && iov[0].len == 4 && memcmp(iov[0].base, "abcd", 4) == 0,
	   "owned appends coalesce into one chunk");
	ok(iov[1].base == (char *)shared->data && shared->refs == 2,
	   "a shared chunk is queued by reference");
	ok(q.bytes == 15, "byte count is the backpressure measure");
	wsk_outq_consume(&q, 6);
	n = wsk_outq_iov(&q, 0, iov, 8);
	ok(n == 2 && iov[0].len == 7 && memcmp(iov[0].base, "OADCAST", 7) == 0,
	   "partial write keeps the tail of a chunk");
	wsk_outq_consume(&q, 7);
	ok(shared->refs == 1, "a written shared chunk is released");
	wsk_outq_release(&q);
	ok(q.count == 0 && q.bytes == 0, "release empties the queue");
	wsk_chunk_unref(shared);
}

static void test_history(void)
{
	struct wsk_history h;
	struct wsk_chunk *c[10];
	uint64_t s;

	wsk_history_init(&h, 4);
	for (s = 1; s <= 6; s++) {
		c[s] = wsk_chunk_dup("x", 1);
		wsk_history_push(&h, s, c[s]);
		wsk_chunk_unref(c[s]);
	}
	ok(wsk_history_covers(&h, 6, 6), "since == newest is covered");
	ok(wsk_history_covers(&h, 2, 6), "since just before the oldest kept");
	ok(!wsk_history_covers(&h, 1, 6), "since older than the ring");
	ok(!wsk_history_covers(&h, 7, 6), "since beyond the newest");
	ok(wsk_history_get(&h, 3) && !wsk_history_get(&h, 2),
	   "get finds only what the ring holds");
	wsk_history_release(&h);
}

static void test_frame(void)
{
	struct wsk_encoder *e = wsk_encoder_new();
	struct wsk_chunk *c;
	char big[70000];

	c = wsk_encode(e, WSLAY_TEXT_FRAME, "hi", 2);
	ok(c && c->len == 4 && memcmp(c->data, "\x81\x02hi", 4) == 0,
	   "short text frame: unmasked, 2-byte header");
	wsk_chunk_unref(c);
	memset(big, 'a', sizeof(big));
	c = wsk_encode(e, WSLAY_TEXT_FRAME, big, 200);
	ok(c && c->len == 204 && c->data[1] == 126,
	   "126..65535: 16-bit length");
	wsk_chunk_unref(c);
	c = wsk_encode(e, WSLAY_BINARY_FRAME, big, sizeof(big));
	ok(c && c->len == sizeof(big) + 10 && c->data[1] == 127,
	   "over 65535: 64-bit length");
	wsk_chunk_unref(c);
	c = wsk_encode_close(e, 1001, "bye");
	ok(c && c->len == 7 &&
	       memcmp(c->data,
		      "\x88\x05\x03\xe9"
		      "bye",
		      7) == 0,
	   "close frame carries code and reason");
	wsk_chunk_unref(c);
	c = wsk_encode(e, WSLAY_PING, big, 126);
	ok(c == NULL, "control frame over 125 bytes refused");
	wsk_encoder_free(e);
}

/* A masked client frame header for opcode op (fin when fin), announcing n
 * payload bytes, into out; returns its length. */
static size_t client_head(uint8_t *out, int fin, int op, uint64_t n)
{
	size_t k = 2, i;

	out[0] = (uint8_t)((fin ? 0x80 : 0) | op);
	if (n < 126) {
		out[1] = (uint8_t)(0x80 | n);
	} else if (n < 65536) {
		out[1] = 0x80 | 126;
		out[2] = (uint8_t)(n >> 8);
		out[3] = (uint8_t)n;
		k = 4;
	} else {
		out[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(n >> (56 - 8 * i));
		k = 10;
	}
	memset(out + k, 0, 4); /* the mask key */
	return k + 4;
}

static void test_frame_scan(void)
{
	struct wsk_frame_scan sc;
	uint8_t buf[4096] = {0};
	size_t n = 0, used, i, a;
	int r;

	/* A 2^63-1 header alone is enough: its 14 bytes, nothing more. */
	wsk_frame_scan_init(&sc);
	n = client_head(buf, 1, WSLAY_TEXT_FRAME, 0x7fffffffffffffffULL);
	r = wsk_frame_scan(&sc, buf, n, 1024, &used);
	ok(r == 1 && used == 14, "a header over max is found at its end");

	/* A whole frame under max, then a header over it, fed byte by byte. */
	wsk_frame_scan_init(&sc);
	n = client_head(buf, 1, WSLAY_TEXT_FRAME, 300);
	memset(buf + n, 'a', 300);
	n += 300;
	n += client_head(buf + n, 1, WSLAY_BINARY_FRAME, 1025);
	r = 0;
	for (i = 0; i < n && !r; i++)
		r = wsk_frame_scan(&sc, buf + i, 1, 1024, &used);
	ok(r == 1 && i == n && used == 1,
	   "a header split byte by byte is found on its last byte");
	wsk_frame_scan_init(&sc);
	r = wsk_frame_scan(&sc, buf, n, 1024, &used);
	ok(r == 1 && used == n, "a frame under max passes, the next is found");

	/* Fragments: 600, a Ping, 400, then 24 (1024: taken) or 25 (not). */
	wsk_frame_scan_init(&sc);
	n = client_head(buf, 0, WSLAY_TEXT_FRAME, 600);
	n += 600;
	n += client_head(buf + n, 1, WSLAY_PING, 1);
	n += 1;
	n += client_head(buf + n, 0, WSLAY_CONTINUATION_FRAME, 400);
	n += 400;
	a = n;
	n += client_head(buf + n, 1, WSLAY_CONTINUATION_FRAME, 24);
	n += 24;
	r = wsk_frame_scan(&sc, buf, n, 1024, &used);
	ok(r == 0 && used == n, "fragments adding up to max pass");
	n = client_head(buf, 1, WSLAY_TEXT_FRAME, 1024);
	r = wsk_frame_scan(&sc, buf, n, 1024, &used);
	ok(r == 0 && used == n, "after it, a new message counts from 0");
	/* The same fragments (the first header rewritten), ending in 25. */
	wsk_frame_scan_init(&sc);
	client_head(buf, 0, WSLAY_TEXT_FRAME, 600);
	n = a + client_head(buf + a, 1, WSLAY_CONTINUATION_FRAME, 25);
	r = wsk_frame_scan(&sc, buf, n, 1024, &used);
	ok(r == 1 && used == n, "a fragment that takes the message over max");

	/* What the frame parser refuses as a protocol error is passed over. */
	wsk_frame_scan_init(&sc);
	n = client_head(buf, 1, WSLAY_TEXT_FRAME, 5000);
	buf[1] &= 0x7f; /* no mask */
	r = wsk_frame_scan(&sc, buf, n - 4, 1024, &used);
	ok(r == 0, "an unmasked header is not this scan's to refuse");
	wsk_frame_scan_init(&sc);
	n = client_head(buf, 1, WSLAY_CONTINUATION_FRAME, 5000);
	r = wsk_frame_scan(&sc, buf, n, 1024, &used);
	ok(r == 0, "nor a continuation of nothing");
	wsk_frame_scan_init(&sc);
	n = client_head(buf, 1, WSLAY_TEXT_FRAME, 0x8000000000000000ULL);
	r = wsk_frame_scan(&sc, buf, n, 1024, &used);
	ok(r == 0, "nor a length with its top bit set");
}

static char *proto_str(const char *msg, size_t *n)
{
	return wsk_proto_reply(msg, strlen(msg), 5, n);
}

static void test_proto(void)
{
	size_t n;
	char *r;

	r = wsk_proto_reply(
	    "{\"type\":\"PING\",\"timestamp\":9007199254740993}", 44, 5, &n);
	ok(r && strcmp(r, "{\"type\":\"PONG\",\"timestamp\":9007199254740993,"
			  "\"serverTime\":5}") == 0,
	   "PING echoes a large integer timestamp exactly");
	free(r);
	r = wsk_proto_reply("{\"type\":\"PING\"}",
			    strlen("{\"type\":\"PING\"}"), 5, &n);
	ok(r && strcmp(r, "{\"type\":\"PONG\",\"serverTime\":5}") == 0,
	   "PING without timestamp: PONG without one");
	free(r);
	r = wsk_proto_reply("[1]", strlen("[1]"), 5, &n);
	ok(r && strstr(r, "\"ERROR\"") && strstr(r, "not a JSON object"),
	   "array: ERROR");
	free(r);
	r = wsk_proto_reply("{\"type\":\"PING\"", strlen("{\"type\":\"PING\""),
			    5, &n);
	ok(r && strstr(r, "not valid JSON"), "truncated JSON: ERROR");
	free(r);
	r = wsk_proto_reply("{\"type\":\"PING\",\"timestamp\":-42}",
			    strlen("{\"type\":\"PING\",\"timestamp\":-42}"), 5,
			    &n);
	ok(r && strcmp(r, "{\"type\":\"PONG\",\"timestamp\":-42,"
			  "\"serverTime\":5}") == 0,
	   "a negative integer timestamp is echoed");
	free(r);
	r = wsk_proto_reply("{\"type\":\"PING\",\"timestamp\":007}",
			    strlen("{\"type\":\"PING\",\"timestamp\":007}"), 5,
			    &n);
	ok(r && strstr(r, "\"ERROR\""), "a leading zero is not JSON: ERROR");
	free(r);
	r = wsk_proto_reply(
	    "{\"type\":\"PING\",\"timestamp\":9223372036854775807}",
	    strlen("{\"type\":\"PING\",\"timestamp\":9223372036854775807}"), 5,
	    &n);
	ok(r && strstr(r, "\"timestamp\":9223372036854775807,"),
	   "a 19-digit timestamp takes the general path, same answer");
	free(r);
	r = wsk_proto_reply("{\"type\":\"PING\",\"timestamp\":1.5}",
			    strlen("{\"type\":\"PING\",\"timestamp\":1.5}"), 5,
			    &n);
	ok(r && strstr(r, "\"timestamp\":1.5,"), "a real timestamp is echoed");
	free(r);
	r = wsk_proto_reply("{\"type\":7}", strlen("{\"type\":7}"), 5, &n);
	ok(r && strstr(r, "unknown message type"), "non-string type: ERROR");
	free(r);
	r = proto_str("{\"type\":\"PING\",\"timestamp\":18446744073709551616}",
		      &n);
	ok(r && strcmp(r, "{\"type\":\"PONG\",\"timestamp\":1."
			  "8446744073709552e19,\"serverTime\":5}") == 0,
	   "an integer past 64 bits is valid JSON: echoed as a double");
	free(r);
	r = proto_str("{\"type\":\"PING\",\"timestamp\":1e309}", &n);
	ok(r && strcmp(r, "{\"type\":\"ERROR\",\"error\":\"a number in the "
			  "message is out of range\"}") == 0,
	   "a number past a double's range: ERROR saying so");
	free(r);
	r = proto_str("{\"type\":\"PING\",\"t\":-1e400,\"timestamp\":1}", &n);
	ok(r && strstr(r, "out of range"), "wherever the number is");
	free(r);
}

/* wslay 1.1.1 validates UTF-8 in text frames itself, failing on the first
 * bad byte with close 1007; these checks pin that down, since the core
 * relies on it instead of validating a second time. */
struct feed {
	const uint8_t *p;
	size_t len;
	uint8_t sent[256];
	size_t nsent;
	int msgs;
};

static ssize_t f_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
		      int flags, void *arg)
{
	struct feed *f = arg;

	(void)flags;
	if (!f->len) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (len > f->len)
		len = f->len;
	memcpy(buf, f->p, len);
	f->p += len;
	f->len -= len;
	return (ssize_t)len;
}

static ssize_t f_send(wslay_event_context_ptr ctx, const uint8_t *data,
		      size_t len, int flags, void *arg)
{
	struct feed *f = arg;

	(void)ctx, (void)flags;
	if (f->nsent + len <= sizeof(f->sent)) {
		memcpy(f->sent + f->nsent, data, len);
		f->nsent += len;
	}
	return (ssize_t)len;
}

static void f_msg(wslay_event_context_ptr ctx,
		  const struct wslay_event_on_msg_recv_arg *a, void *arg)
{
	(void)ctx, (void)a;
	((struct feed *)arg)->msgs++;
}

/* Feeds masked (zero mask) frames built from payload pieces; returns the
 * close code the server sent, or 0. */
static int utf8_case(const char *const *parts, const size_t *lens, int n,
		     int *msgs)
{
	static const struct wslay_event_callbacks cbs = {
	    f_recv, f_send, NULL, NULL, NULL, NULL, f_msg};
	uint8_t wire[512];
	size_t w = 0;
	struct feed f = {0};
	wslay_event_context_ptr ctx;
	int i;

	for (i = 0; i < n; i++) {
		wire[w++] =
		    (uint8_t)((i == n - 1 ? 0x80 : 0) | (i == 0 ? 1 : 0));
		wire[w++] = (uint8_t)(0x80 | lens[i]);
		memset(wire + w, 0, 4);
		w += 4;
		memcpy(wire + w, parts[i], lens[i]);
		w += lens[i];
	}
	f.p = wire;
	f.len = w;
	wslay_event_context_server_init(&ctx, &cbs, &f);
	wslay_event_recv(ctx);
	wslay_event_send(ctx);
	wslay_event_context_free(ctx);
	*msgs = f.msgs;
	if (f.nsent >= 4 && f.sent[0] == 0x88)
		return f.sent[2] << 8 | f.sent[3];
	return 0;
}

static void test_utf8(void)
{
	static const struct {
		const char *name, *a, *b;
		size_t alen, blen;
		int want;
	} cases[] = {
	    {"valid 2-, 3-, 4-byte text",
	     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", NULL, 9, 0, 0},
	    {"overlong encoding of '/'", "\xc0\xaf", NULL, 2, 0, 1007},
	    {"overlong 3-byte NUL", "\xe0\x80\x80", NULL, 3, 0, 1007},
	    {"UTF-16 surrogate U+D800", "\xed\xa0\x80", NULL, 3, 0, 1007},
	    {"code point over U+10FFFF", "\xf4\x90\x80\x80", NULL, 4, 0, 1007},
	    {"truncated sequence at message end", "ab\xe2\x82", NULL, 4, 0,
	     1007},
	    {"lone continuation byte", "\x80", NULL, 1, 0, 1007},
	    {"valid sequence split across fragments", "\xe2\x82", "\xac", 2, 1,
	     0},
	    {"invalid byte in second fragment", "ok", "\xff", 2, 1, 1007},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *parts[2] = {cases[i].a, cases[i].b};
		size_t lens[2] = {cases[i].alen, cases[i].blen};
		int msgs,
		    code = utf8_case(parts, lens, cases[i].b ? 2 : 1, &msgs);

		if (cases[i].want)
			ok(code == cases[i].want && msgs == 0,
			   "UTF-8: %s -> close %d", cases[i].name,
			   cases[i].want);
		else
			ok(code == 0 && msgs == 1, "UTF-8: %s accepted",
			   cases[i].name);
	}
}

int main(void)
{
	test_accept();
	test_http();
	test_pct();
	test_token_list();
	test_outq();
	test_history();
	test_frame();
	test_frame_scan();
	test_proto();
	test_utf8();
	return done();
}
