/* The client-message handler of the event protocol (man ws-protocol 7):
 * one text message in, at most one reply out. No I/O, so it can be fuzzed
 * and unit-tested alone. */
#ifndef WSK_PROTO_H
#define WSK_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Answers the client text message msg[0..len): a PONG for a PING, an ERROR
 * for anything else. Returns the reply JSON, newly allocated (free() it),
 * and its length in *out_len; NULL when out of memory. */
char *wsk_proto_reply(const char *msg, size_t len, int64_t now_ms,
		      size_t *out_len);

#endif
