/* UTF-8 validation (RFC 3629), for text that wslay does not check.
 *
 * wslay validates the text frames it reassembles, except those with RSV1
 * set: a permessage-deflate message is checked here once inflated. */
#ifndef WSK_UTF8_H
#define WSK_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Returns 1 when p[0..len) is well-formed UTF-8: no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
 * sequence at the end. Else 0. */
int wsk_utf8_valid(const uint8_t *p, size_t len);

#endif
