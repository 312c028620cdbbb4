/* Server-side frames: encoding through wslay's frame layer, and a scan of
 * the headers of what a client sends.
 *
 * Frames from a server are never masked, so one encoding serves every
 * client: the encoder turns a message into a sealed chunk holding header and
 * payload, which any number of output queues can share. The encoder owns one
 * wslay frame context (about 4 KiB) for the whole loop, not one per client.
 *
 * wslay's frame layer reports a frame only with its first payload byte, so a
 * header announcing more than the server accepts would hold the connection
 * until payload came. The scanner follows the frame headers of a client's
 * byte stream, ahead of wslay and without keeping any payload, and sees each
 * length as soon as its header is complete. */
#ifndef WSK_FRAME_H
#define WSK_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct wsk_encoder;

/* Returns a new encoder, or NULL when out of memory. */
struct wsk_encoder *wsk_encoder_new(void);
void wsk_encoder_free(struct wsk_encoder *enc);

/* Encodes one unmasked, final frame with the given wslay opcode. Returns a
 * sealed chunk with one reference (the caller's), or NULL when out of
 * memory or when a control frame's payload exceeds 125 bytes. */
struct wsk_chunk *wsk_encode(struct wsk_encoder *enc, uint8_t opcode,
			     const void *payload, size_t len);

/* The same with reserved bits set (rsv as wslay has them: WSLAY_RSV1_BIT
 * marks a permessage-deflate message). */
struct wsk_chunk *wsk_encode_rsv(struct wsk_encoder *enc, uint8_t opcode,
				 uint8_t rsv, const void *payload, size_t len);

/* Encodes a close frame with a status code and a reason (cut to fit 123
 * bytes at a UTF-8 boundary). */
struct wsk_chunk *wsk_encode_close(struct wsk_encoder *enc, uint16_t code,
				   const char *reason);

struct wsk_frame_scan {
	uint8_t hdr[14];  /* the header being gathered */
	uint8_t have;	  /* its bytes so far */
	uint8_t in_msg;	  /* inside a fragmented data message */
	uint64_t skip;	  /* payload bytes still to pass over */
	uint64_t msg_len; /* payload of the current data message so far */
};

/* Prepares sc for the first byte after the opening handshake. Zeroed
 * memory is a fresh scanner too. */
void wsk_frame_scan_init(struct wsk_frame_scan *sc);

/* Scans the next len bytes of a client's stream. Returns 0 when they hold
 * no header of a data frame that takes its message past max payload bytes
 * (the frame's own length, plus the fragments before it in a fragmented
 * message), with *used set to len. Otherwise returns 1 with *used set to
 * the bytes up to the end of that header; the stream cannot be followed
 * past it, so sc must not scan again. Headers that break RFC 6455 in
 * another way (reserved bits, no mask, a continuation of nothing, a length
 * not in its shortest form) are passed over: the frame parser refuses them
 * as protocol errors. */
int wsk_frame_scan(struct wsk_frame_scan *sc, const uint8_t *p, size_t len,
		   uint64_t max, size_t *used);

#endif
