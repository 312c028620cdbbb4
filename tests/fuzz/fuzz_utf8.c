/* Fuzz target: UTF-8 validation of text messages, which ws-serve leaves to
 * wslay 1.1.1 (README "How the server is built"). Frames go through a wslay
 * server context with callbacks like the server's, as tests/unit/core.c
 * feeds them.
 *
 * The first byte chooses the mode and seeds the cut of the stream:
 * - bit 7 clear (structured): byte 1 gives the number of fragments (1-8,
 *   low three bits) and which fragment boundaries get a Ping (the other
 *   bits); the rest is the payload of one text message, sent as masked
 *   fragments. The message must arrive whole and unchanged exactly when
 *   the payload is valid UTF-8 (checked against a strict validator written
 *   here from RFC 3629), and otherwise be refused with close 1007.
 * - bit 7 set (raw): the rest is fed as client bytes, whatever they are;
 *   every text message delivered must be valid UTF-8.
 * Both modes also hold lib/utf8's validator (used on inflated text, which
 * wslay does not check) to the same verdict. */
#include <string.h>
#include <wslay/wslay.h>

#include "fuzz.h"
#include "utf8.h"

#define MAX_MESSAGE (64 * 1024)

struct feed {
	const uint8_t *p;
	size_t len;
	int msgs;
	uint8_t opcode;
	const uint8_t *want; /* structured mode: the expected payload */
	size_t want_len;
	int check_equal;
};

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0, k, need;
	uint32_t cp, min;

	while (i < n) {
		uint8_t c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		if (n - i - 1 < need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

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
	(void)ctx, (void)data, (void)flags, (void)arg;
	return (ssize_t)len;
}

static void f_msg(wslay_event_context_ptr ctx,
		  const struct wslay_event_on_msg_recv_arg *a, void *arg)
{
	struct feed *f = arg;

	(void)ctx;
	if (a->opcode == WSLAY_TEXT_FRAME) {
		FUZZ_ASSERT(utf8_valid(a->msg, a->msg_length));
		FUZZ_ASSERT(wsk_utf8_valid(a->msg, a->msg_length));
	}
	if (a->opcode != WSLAY_TEXT_FRAME && a->opcode != WSLAY_BINARY_FRAME)
		return;
	f->msgs++;
	f->opcode = a->opcode;
	if (f->check_equal)
		FUZZ_ASSERT(a->msg_length == f->want_len &&
			    (f->want_len == 0 ||
			     memcmp(a->msg, f->want, f->want_len) == 0));
}

static const struct wslay_event_callbacks cbs = {
    f_recv, f_send, NULL, NULL, NULL, NULL, f_msg,
};

/* Feeds the stream in pieces as the server would, until wslay stops
 * reading or fails. */
static void run(wslay_event_context_ptr ctx, struct feed *f, const uint8_t *p,
		size_t len, uint8_t seed)
{
	struct fuzz_cut cut;
	size_t n;

	fuzz_cut_init(&cut, seed);
	while (len && wslay_event_want_read(ctx)) {
		n = fuzz_cut_next(&cut, len);
		f->p = p;
		f->len = n;
		p += n;
		len -= n;
		if (wslay_event_recv(ctx) != 0)
			return;
		if (wslay_event_send(ctx) != 0)
			return;
	}
}

/* Appends one masked client frame to w; returns its length. */
static size_t put_frame(uint8_t *w, int fin, uint8_t op, const uint8_t *p,
			size_t n, const uint8_t key[4])
{
	size_t h = 0, i;

	w[h++] = (uint8_t)((fin ? 0x80 : 0) | op);
	if (n < 126) {
		w[h++] = (uint8_t)(0x80 | n);
	} else if (n < 65536) {
		w[h++] = 0x80 | 126;
		w[h++] = (uint8_t)(n >> 8);
		w[h++] = (uint8_t)n;
	} else {
		w[h++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			w[h++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	}
	memcpy(w + h, key, 4);
	h += 4;
	for (i = 0; i < n; i++)
		w[h + i] = p[i] ^ key[i % 4];
	return h + n;
}

static void structured(wslay_event_context_ptr ctx, struct feed *f,
		       const uint8_t *data, size_t size)
{
	const uint8_t *payload = data + 2;
	size_t plen = size - 2, nfrag = 1 + (data[1] & 7), i, off = 0, part,
	       w = 0;
	unsigned pings = data[1] >> 3;
	const uint8_t key[4] = {data[1], 0x5a, data[0], 0xa5};
	uint8_t *wire = malloc(plen + nfrag * 14 + nfrag * 7);
	int valid = utf8_valid(payload, plen);

	/* lib/utf8 checks what wslay does not see (inflated text): it must
	 * agree with this validator on every input. */
	FUZZ_ASSERT(wsk_utf8_valid(payload, plen) == valid);

	if (!wire)
		return;
	for (i = 0; i < nfrag; i++) {
		part = i == nfrag - 1 ? plen - off : plen / nfrag;
		w += put_frame(wire + w, i == nfrag - 1,
			       i == 0 ? WSLAY_TEXT_FRAME
				      : WSLAY_CONTINUATION_FRAME,
			       payload + off, part, key);
		off += part;
		if (i < nfrag - 1 && (pings >> i & 1))
			w += put_frame(wire + w, 1, WSLAY_PING,
				       (const uint8_t *)"p", 1, key);
	}
	f->want = payload;
	f->want_len = plen;
	f->check_equal = 1;
	run(ctx, f, wire, w, data[0]);
	if (valid) {
		FUZZ_ASSERT(f->msgs == 1 && f->opcode == WSLAY_TEXT_FRAME);
		FUZZ_ASSERT(!wslay_event_get_close_sent(ctx));
	} else {
		FUZZ_ASSERT(f->msgs == 0);
		FUZZ_ASSERT(wslay_event_get_close_sent(ctx));
		FUZZ_ASSERT(wslay_event_get_status_code_sent(ctx) == 1007);
	}
	free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wslay_event_context_ptr ctx;
	struct feed f = {0};

	if (size < 2 || size - 2 > MAX_MESSAGE)
		return 0;
	if (wslay_event_context_server_init(&ctx, &cbs, &f) != 0)
		return 0;
	wslay_event_config_set_max_recv_msg_length(ctx, MAX_MESSAGE);
	if (data[0] & 0x80)
		run(ctx, &f, data + 1, size - 1, data[0] & 0x7f);
	else
		structured(ctx, &f, data, size);
	wslay_event_context_free(ctx);
	return 0;
}
