#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct wsk_chunk *wsk_chunk_new(size_t cap)
{
	struct wsk_chunk *c;

	if (cap > UINT32_MAX)
		return NULL;
	c = malloc(sizeof(*c) + cap);
	if (!c)
		return NULL;
	c->refs = 1;
	c->cap = (uint32_t)cap;
	c->len = 0;
	c->alt = NULL;
	return c;
}

struct wsk_chunk *wsk_chunk_dup(const void *p, size_t len)
{
	struct wsk_chunk *c = wsk_chunk_new(len);

	if (!c)
		return NULL;
	if (len)
		memcpy(c->data, p, len);
	c->len = len;
	return c;
}

struct wsk_chunk *wsk_chunk_ref(struct wsk_chunk *c)
{
	c->refs++;
	return c;
}

void wsk_chunk_unref(struct wsk_chunk *c)
{
	if (c && --c->refs == 0) {
		wsk_chunk_unref(c->alt);
		free(c);
	}
}

void wsk_chunk_seal(struct wsk_chunk *c)
{
	c->cap = (uint32_t)c->len;
}

static int ring_grow(struct wsk_outq *q)
{
	uint32_t ncap = q->cap ? q->cap * 2 : 4, i;
	struct wsk_chunk **n = malloc(ncap * sizeof(*n));

	if (!n)
		return -ENOMEM;
	/* Unwrap the ring so the head lands at index 0. */
	for (i = 0; i < q->count; i++)
		n[i] = q->ring[(q->head + i) & (q->cap - 1)];
	free(q->ring);
	q->ring = n;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

int wsk_outq_push(struct wsk_outq *q, struct wsk_chunk *c)
{
	if (q->count == q->cap && ring_grow(q) < 0)
		return -ENOMEM;
	q->ring[(q->head + q->count) & (q->cap - 1)] = wsk_chunk_ref(c);
	q->count++;
	q->bytes += c->len;
	return 0;
}

int wsk_outq_append(struct wsk_outq *q, const void *p, size_t len)
{
	struct wsk_chunk *tail, *c;
	int r;

	if (q->count) {
		tail = q->ring[(q->head + q->count - 1) & (q->cap - 1)];
		/* An owned, unsealed tail takes the bytes in place: wslay hands
		 * a frame over as header then payload, and they belong
		 * together. */
		if (tail->refs == 1 && tail->cap - tail->len >= len) {
			memcpy(tail->data + tail->len, p, len);
			tail->len += len;
			q->bytes += len;
			return 0;
		}
	}
	c = wsk_chunk_new(len < 1024 ? 1024 : len);
	if (!c)
		return -ENOMEM;
	memcpy(c->data, p, len);
	c->len = len;
	r = wsk_outq_push(q, c);
	wsk_chunk_unref(c);
	return r;
}

unsigned wsk_outq_iov(const struct wsk_outq *q, unsigned skip, uv_buf_t *iov,
		      unsigned max)
{
	unsigned n = 0, i;

	for (i = skip; i < q->count && n < max; i++) {
		struct wsk_chunk *c = q->ring[(q->head + i) & (q->cap - 1)];
		size_t off = i == 0 ? q->head_off : 0;

		iov[n++] = uv_buf_init((char *)c->data + off,
				       (unsigned)(c->len - off));
	}
	return n;
}

void wsk_outq_consume(struct wsk_outq *q, size_t n)
{
	q->bytes -= n;
	while (n && q->count) {
		struct wsk_chunk *c = q->ring[q->head];
		size_t left = c->len - q->head_off;

		if (n < left) {
			q->head_off += n;
			return;
		}
		n -= left;
		wsk_chunk_unref(c);
		q->head = (q->head + 1) & (q->cap - 1);
		q->count--;
		q->head_off = 0;
	}
	/* Drop empty chunks at the head too (a zero-length append). */
	while (q->count && q->ring[q->head]->len == 0) {
		wsk_chunk_unref(q->ring[q->head]);
		q->head = (q->head + 1) & (q->cap - 1);
		q->count--;
	}
}

void wsk_outq_release(struct wsk_outq *q)
{
	while (q->count) {
		wsk_chunk_unref(q->ring[q->head]);
		q->head = (q->head + 1) & (q->cap - 1);
		q->count--;
	}
	free(q->ring);
	memset(q, 0, sizeof(*q));
}
