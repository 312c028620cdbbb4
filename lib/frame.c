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
