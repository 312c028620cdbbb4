/* Reference-counted byte chunks and the per-connection output queue.
 *
 * Every byte a connection sends goes through one wsk_outq, in order: HTTP
 * responses, wslay's own frames (pongs, closes) and shared broadcast frames.
 * A broadcast is encoded once into a sealed chunk and each client's queue
 * holds a reference to it, so fan-out costs a reference and a share of one
 * writev per client instead of a copy. */
#ifndef WSK_BUF_H
#define WSK_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct wsk_chunk {
	uint32_t refs;
	uint32_t cap; /* bytes allocated in data; cap == len once sealed */
	size_t len;
	/* Another encoding of the same content, made on first need and
	 * owned by this chunk: a broadcast frame's permessage-deflate twin
	 * (lib/srv_ws.c). NULL when none was made. */
	struct wsk_chunk *alt;
	uint8_t data[];
};

/* Returns a chunk with room for cap bytes, one reference, len 0; NULL when
 * out of memory. */
struct wsk_chunk *wsk_chunk_new(size_t cap);
/* Returns a new chunk holding a copy of len bytes of p, sealed. */
struct wsk_chunk *wsk_chunk_dup(const void *p, size_t len);
/* Takes one more reference and returns c. */
struct wsk_chunk *wsk_chunk_ref(struct wsk_chunk *c);
/* Drops one reference; the last one frees the chunk. NULL is ignored. */
void wsk_chunk_unref(struct wsk_chunk *c);
/* Marks c as shared content: wsk_outq_append never writes into it. */
void wsk_chunk_seal(struct wsk_chunk *c);

struct wsk_outq {
	struct wsk_chunk **ring; /* allocated on first push, power-of-two cap */
	uint32_t head, count, cap;
	size_t head_off; /* bytes of the head chunk already written */
	size_t bytes;	 /* unsent bytes: the backpressure measure */
};

/* Queues a reference to c (taken here). Returns 0 or -ENOMEM. */
int wsk_outq_push(struct wsk_outq *q, struct wsk_chunk *c);
/* Queues a copy of len bytes, appending to the tail chunk when it is owned
 * by this queue and has room. Returns 0 or -ENOMEM. */
int wsk_outq_append(struct wsk_outq *q, const void *p, size_t len);
/* Fills up to max buffers with the unsent bytes, from skip chunks past the
 * head (skip 0 = from the head). Returns the number filled. */
unsigned wsk_outq_iov(const struct wsk_outq *q, unsigned skip, uv_buf_t *iov,
		      unsigned max);
/* Marks n bytes from the head as sent, dropping chunks wholly sent. */
void wsk_outq_consume(struct wsk_outq *q, size_t n);
/* Drops everything queued and frees the ring. */
void wsk_outq_release(struct wsk_outq *q);

#endif
