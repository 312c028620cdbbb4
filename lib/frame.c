#include "frame.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

struct wsk_encoder {
	wslay_frame_context_ptr fc;
	struct wsk_chunk *out; /* the chunk being filled by send_cb */
};

/* wslay hands the header, then the payload; both go into one chunk sized
 * for the largest header (14 bytes) plus the payload. */
static ssize_t send_cb(const uint8_t *data, size_t len, int flags, void *arg)
{
	struct wsk_encoder *enc = arg;
	struct wsk_chunk *c = enc->out;

	(void)flags;
	if (c->cap - c->len < len)
		return -1; /* cannot happen: the chunk was sized for the frame
			    */
	memcpy(c->data + c->len, data, len);
	c->len += len;
	return (ssize_t)len;
}

static ssize_t recv_cb(uint8_t *buf, size_t len, int flags, void *arg)
{
	(void)buf, (void)len, (void)flags, (void)arg;
	return -1;
}

static int genmask_cb(uint8_t *buf, size_t len, void *arg)
{
	(void)buf, (void)len, (void)arg;
	return -1; /* server frames are never masked */
}

struct wsk_encoder *wsk_encoder_new(void)
{
	static const struct wslay_frame_callbacks cbs = {send_cb, recv_cb,
							 genmask_cb};
	struct wsk_encoder *enc = calloc(1, sizeof(*enc));

	if (!enc)
		return NULL;
	if (wslay_frame_context_init(&enc->fc, &cbs, enc) != 0) {
		free(enc);
		return NULL;
	}
	return enc;
}

void wsk_encoder_free(struct wsk_encoder *enc)
{
	if (!enc)
		return;
	wslay_frame_context_free(enc->fc);
	free(enc);
}

struct wsk_chunk *wsk_encode(struct wsk_encoder *enc, uint8_t opcode,
			     const void *payload, size_t len)
{
	return wsk_encode_rsv(enc, opcode, 0, payload, len);
}

struct wsk_chunk *wsk_encode_rsv(struct wsk_encoder *enc, uint8_t opcode,
				 uint8_t rsv, const void *payload, size_t len)
{
	struct wslay_frame_iocb iocb = {
	    .fin = 1,
	    .rsv = rsv,
	    .opcode = opcode,
	    .payload_length = len,
	    .data = payload,
	    .data_length = len,
	};
	ssize_t r;

	enc->out = wsk_chunk_new(len + 14);
	if (!enc->out)
		return NULL;
	r = wslay_frame_send(enc->fc, &iocb);
	if (r < 0 || (size_t)r != len) {
		/* The frame context keeps its half-sent state on failure; only
		 * an invalid argument gets here, before any state was set. */
		wsk_chunk_unref(enc->out);
		enc->out = NULL;
		return NULL;
	}
	wsk_chunk_seal(enc->out);
	return enc->out;
}

struct wsk_chunk *wsk_encode_close(struct wsk_encoder *enc, uint16_t code,
				   const char *reason)
{
	uint8_t buf[125];
	size_t n = reason ? strlen(reason) : 0;
	uint16_t be = htons(code);

	if (n > 123) {
		n = 123;
		/* Never cut inside a UTF-8 sequence: close reasons must be
		 * valid. */
		while (n && ((uint8_t)reason[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(buf, &be, 2);
	if (n)
		memcpy(buf + 2, reason, n);
	return wsk_encode(enc, WSLAY_CONNECTION_CLOSE, buf, n + 2);
}

void wsk_frame_scan_init(struct wsk_frame_scan *sc)
{
	memset(sc, 0, sizeof(*sc));
}

/* The length of a header, known from its first two bytes. */
static unsigned head_len(const uint8_t *h)
{
	unsigned n = (h[1] & 0x80) ? 2 + 4 : 2;

	if ((h[1] & 0x7f) == 126)
		n += 2;
	else if ((h[1] & 0x7f) == 127)
		n += 8;
	return n;
}

static uint64_t payload_len(const uint8_t *h)
{
	uint64_t n = h[1] & 0x7f;
	int i;

	if (n == 126)
		return (uint64_t)h[2] << 8 | h[3];
	if (n < 126)
		return n;
	n = 0;
	for (i = 2; i < 10; i++)
		n = n << 8 | h[i];
	return n;
}

/* Takes a complete header whose frame carries n payload bytes. Returns 1
 * when it is a valid data frame that takes its message past max. */
static int take_header(struct wsk_frame_scan *sc, uint64_t n, uint64_t max)
{
	const uint8_t *h = sc->hdr;
	unsigned op = h[0] & 0x0f, len7 = h[1] & 0x7f;
	uint64_t total;

	/* Control frames may come between fragments and are no part of the
	 * message. */
	if (op & 0x08)
		return 0;
	if ((h[0] & 0x70) || !(h[1] & 0x80) || (len7 == 126 && n < 126) ||
	    (len7 == 127 && (n < 65536 || n >> 63)))
		return 0;
	if (op == 0 && sc->in_msg)
		total = sc->msg_len + n;
	else if ((op == 1 || op == 2) && !sc->in_msg)
		total = n;
	else
		return 0;
	/* msg_len never passes max, and n is under 2^63: no overflow. */
	if (total > max)
		return 1;
	sc->msg_len = total;
	sc->in_msg = !(h[0] & 0x80);
	return 0;
}

int wsk_frame_scan(struct wsk_frame_scan *sc, const uint8_t *p, size_t len,
		   uint64_t max, size_t *used)
{
	size_t i = 0, n;
	uint64_t plen;

	while (i < len) {
		if (sc->skip) {
			n = len - i;
			if (n > sc->skip)
				n = (size_t)sc->skip;
			i += n;
			sc->skip -= n;
			continue;
		}
		sc->hdr[sc->have++] = p[i++];
		if (sc->have < 2 || sc->have < head_len(sc->hdr))
			continue;
		sc->have = 0;
		plen = payload_len(sc->hdr);
		sc->skip = plen;
		if (take_header(sc, plen, max)) {
			*used = i;
			return 1;
		}
	}
	*used = len;
	return 0;
}
