#include "utf8.h"

#include <string.h>

/* The table of well-formed byte sequences, RFC 3629 section 4: the lead
 * byte fixes how many continuation bytes follow and the range the first of
 * them must fall in (which is what rules out overlongs, surrogates and
 * code points past U+10FFFF); later ones are plain 80..BF. */
int wsk_utf8_valid(const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;

	while (p < end) {
		uint8_t b = *p, lo = 0x80, hi = 0xbf;
		int n;

		if (b < 0x80) {
			/* ASCII runs are the common case: skip 8 at a time. */
			uint64_t w;

			while (end - p >= 8) {
				memcpy(&w, p, 8);
				if (w & 0x8080808080808080ull)
					break;
				p += 8;
			}
			if (p < end && *p < 0x80)
				p++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf) {
			n = 1;
		} else if (b >= 0xe0 && b <= 0xef) {
			n = 2;
			if (b == 0xe0)
				lo = 0xa0; /* below U+0800: overlong */
			else if (b == 0xed)
				hi = 0x9f; /* U+D800..U+DFFF: surrogates */
		} else if (b >= 0xf0 && b <= 0xf4) {
			n = 3;
			if (b == 0xf0)
				lo = 0x90; /* below U+10000: overlong */
			else if (b == 0xf4)
				hi = 0x8f; /* past U+10FFFF */
		} else {
			return 0; /* 80..C1 and F5..FF never lead */
		}
		if (end - p <= n)
			return 0;
		if (p[1] < lo || p[1] > hi)
			return 0;
		for (int i = 2; i <= n; i++)
			if (p[i] < 0x80 || p[i] > 0xbf)
				return 0;
		p += n + 1;
	}
	return 1;
}
