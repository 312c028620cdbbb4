#include "history.h"

#include <errno.h>
#include <stdlib.h>

int wsk_history_init(struct wsk_history *h, size_t cap)
{
	h->cap = cap;
	h->count = 0;
	h->last = 0;
	h->slot = NULL;
	if (cap) {
		h->slot = calloc(cap, sizeof(*h->slot));
		if (!h->slot)
			return -ENOMEM;
	}
	return 0;
}

void wsk_history_release(struct wsk_history *h)
{
	size_t i;

	for (i = 0; i < h->cap; i++)
		wsk_chunk_unref(h->slot[i]);
	free(h->slot);
	h->slot = NULL;
	h->cap = h->count = 0;
}

void wsk_history_push(struct wsk_history *h, uint64_t seq,
		      struct wsk_chunk *frame)
{
	h->last = seq;
	if (!h->cap)
		return;
	wsk_chunk_unref(h->slot[seq % h->cap]);
	h->slot[seq % h->cap] = wsk_chunk_ref(frame);
	if (h->count < h->cap)
		h->count++;
}

int wsk_history_covers(const struct wsk_history *h, uint64_t since,
		       uint64_t newest)
{
	if (since > newest)
		return 0;
	if (since == newest)
		return 1;
	/* The ring holds last-count+1 .. last, and last is newest. */
	return h->last == newest && since + h->count >= newest;
}

struct wsk_chunk *wsk_history_get(const struct wsk_history *h, uint64_t seq)
{
	if (!h->cap || seq > h->last || seq + h->count <= h->last)
		return NULL;
	return h->slot[seq % h->cap];
}
