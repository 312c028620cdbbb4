/* The history ring: the last N broadcast UPDATE frames by seq, kept as
 * shared chunks so a resuming client gets the very bytes everyone else
 * got, by reference. */
#ifndef WSK_HISTORY_H
#define WSK_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct wsk_history {
	struct wsk_chunk **slot; /* cap entries; slot[seq % cap] */
	size_t cap, count;
	uint64_t last; /* newest seq stored, 0 when empty */
};

/* Prepares a ring for cap entries (0 keeps nothing). Returns 0 or -ENOMEM. */
int wsk_history_init(struct wsk_history *h, size_t cap);
void wsk_history_release(struct wsk_history *h);

/* Stores a reference to frame as seq, which must be last + 1. */
void wsk_history_push(struct wsk_history *h, uint64_t seq,
		      struct wsk_chunk *frame);

/* Returns 1 if every update after since up to the newest is in the ring
 * (since == newest included), 0 otherwise. */
int wsk_history_covers(const struct wsk_history *h, uint64_t since,
		       uint64_t newest);

/* Returns the frame stored for seq (no reference taken), or NULL. */
struct wsk_chunk *wsk_history_get(const struct wsk_history *h, uint64_t seq);

#endif
