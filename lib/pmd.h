/* permessage-deflate (RFC 7692): negotiation and the zlib streams.
 *
 * Our senders never use context takeover: each message is compressed on
 * its own, so one deflater serves a whole server (or a client loop) and a
 * broadcast is compressed once for every client. The server also asks
 * clients to compress without context takeover (client_no_context_takeover,
 * which RFC 7692 7.1.1.2 lets it require), so it inflates every client with
 * one shared inflater too: a connection holds no zlib state at all.
 *
 * Window bits: a peer may ask for a window smaller than 2^15. A message
 * compressed on its own only refers back inside itself, so a message no
 * longer than 2^bits bytes fits any window of that size whatever zlib was
 * set to; longer ones go out uncompressed for such a peer (RSV1 clear),
 * which the RFC allows for any message. That also covers 8 bits, which
 * zlib cannot produce. */
#ifndef WSK_PMD_H
#define WSK_PMD_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* Messages shorter than this go out uncompressed: deflate cannot win much
 * on them and the CPU is better spent elsewhere. */
#define WSK_PMD_MIN_SIZE 64

/* What a client offers: it accepts any answer the RFC allows. */
#define WSK_PMD_OFFER "permessage-deflate; client_max_window_bits"

/* The terms agreed on, as the server's answer states them. */
struct wsk_pmd_params {
	uint8_t server_nct; /* server_no_context_takeover */
	uint8_t client_nct; /* client_no_context_takeover */
	/* server_max_window_bits and client_max_window_bits, 8..15; 0 when
	 * the answer does not name the parameter (15 then). */
	uint8_t server_bits, client_bits;
};

/* Server side: picks the first acceptable permessage-deflate offer among
 * the request's Sec-WebSocket-Extensions headers. Returns 1 with the
 * answer in *p (always both no_context_takeover parameters, and the
 * server_max_window_bits the client asked for), 0 when there is no offer
 * or none we can accept (the connection then goes on uncompressed). */
int wsk_pmd_server_accept(const struct wsk_http *req, struct wsk_pmd_params *p);

/* Client side: checks the server's answer to WSK_PMD_OFFER. Returns 1
 * when it accepted, with the terms in *p; 0 when it named no extension;
 * -1 with a short reason in *why when the answer is not one RFC 7692
 * allows (an extension we did not offer, an unknown or repeated
 * parameter, a bad window size). offered: whether we offered at all. */
int wsk_pmd_client_check(const struct wsk_http *resp, int offered,
			 struct wsk_pmd_params *p, const char **why);

/* Writes the Sec-WebSocket-Extensions value for p into buf. Returns its
 * length, or -1 when buf is too small. */
int wsk_pmd_format(const struct wsk_pmd_params *p, char *buf, size_t size);

/* The largest message a peer with window bits w (0 = 15) can take
 * compressed (see above). */
static inline size_t wsk_pmd_max_for(unsigned bits)
{
	return bits == 0 || bits >= 15 ? SIZE_MAX : (size_t)1 << bits;
}

/* Errors of wsk_inflate besides -ENOMEM. */
#define WSK_PMD_E_DATA (-1201) /* not a valid deflate stream */
#define WSK_PMD_E_BIG (-1202)  /* inflates to more than the limit */

struct wsk_deflater;
struct wsk_inflater;

/* level: zlib's 0..9, or -1 for its default. NULL when out of memory. */
struct wsk_deflater *wsk_deflater_new(int level);
void wsk_deflater_free(struct wsk_deflater *d);

/* Compresses one message on its own (no context takeover): the deflate
 * blocks less the final 00 00 FF FF, as RFC 7692 7.2.1 sends them.
 * Returns the length with *out pointing into d's buffer, valid until the
 * next call; -ENOMEM. */
long wsk_deflate(struct wsk_deflater *d, const void *in, size_t len,
		 const uint8_t **out);

/* The one policy of both sides: compresses a message when that pays.
 * Returns 0 (send it plain) when it is shorter than WSK_PMD_MIN_SIZE,
 * longer than a peer with window bits (0 = 15) can take compressed, or
 * does not come out smaller; else the compressed length, with *out as
 * wsk_deflate sets it; -ENOMEM. */
long wsk_pmd_compress(struct wsk_deflater *d, unsigned bits, const void *in,
		      size_t len, const uint8_t **out);

/* NULL when out of memory. */
struct wsk_inflater *wsk_inflater_new(void);
void wsk_inflater_free(struct wsk_inflater *f);

/* Inflates one message's payload. keep: the peer uses context takeover,
 * so the window carries over to its next message; else the stream starts
 * afresh. Returns the length with *out pointing into f's buffer (valid
 * until the next call), WSK_PMD_E_BIG as soon as more than max bytes come
 * out (a small message cannot make us allocate a large buffer),
 * WSK_PMD_E_DATA, or -ENOMEM. After an error the stream is reset. */
long wsk_inflate(struct wsk_inflater *f, const void *in, size_t len, size_t max,
		 int keep, const uint8_t **out);

#endif
