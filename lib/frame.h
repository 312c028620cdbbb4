/* Server-side frame encoding through wslay's frame layer.
 *
 * Frames from a server are never masked, so one encoding serves every
 * client: the encoder turns a message into a sealed chunk holding header and
 * payload, which any number of output queues can share. The encoder owns one
 * wslay frame context (about 4 KiB) for the whole loop, not one per client. */
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

#endif
