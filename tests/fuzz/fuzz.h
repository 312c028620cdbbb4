/* Shared by the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Each target defines LLVMFuzzerTestOneInput. Built with clang's
 * -fsanitize=fuzzer it is a libFuzzer program (make fuzz); linked with
 * replay.c instead it feeds every file of its corpus once, under ASan and
 * UBSan, and prints TAP (make fuzz-replay, run by make test).
 *
 * Inputs that model bytes arriving from a socket are cut into pieces, as
 * reads would cut them: the first byte of the input seeds the cut, and the
 * rest is the stream. */
#ifndef WSK_FUZZ_H
#define WSK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: a violation is a finding, so it
 * aborts like a crash and libFuzzer saves the input. */
#define FUZZ_ASSERT(c)                                                         \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
				__FILE__, __LINE__, #c);                       \
			abort();                                               \
		}                                                              \
	} while (0)

struct fuzz_cut {
	uint32_t state; /* 0: the stream arrives in one piece */
};

/* Seed 0 gives one piece; any other seed gives pieces of 1 to 64 bytes
 * from a small xorshift generator, so the corpus pins the cut too. */
static inline void fuzz_cut_init(struct fuzz_cut *c, uint8_t seed)
{
	c->state = seed ? 0x9e3779b9u * seed : 0;
}

/* Returns the size of the next piece of a stream with left bytes left. */
static inline size_t fuzz_cut_next(struct fuzz_cut *c, size_t left)
{
	size_t n;

	if (!c->state)
		return left;
	c->state ^= c->state << 13;
	c->state ^= c->state >> 17;
	c->state ^= c->state << 5;
	n = 1 + c->state % 64;
	return n < left ? n : left;
}

#endif
