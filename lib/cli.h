/* Command-line conventions shared by the four programs: exit codes and
 * option value parsing. Like all of lib/, nothing here prints or exits:
 * errors are described in a caller-supplied buffer, and cmd/tool.h turns
 * them into usage errors. */
#ifndef WSK_CLI_H
#define WSK_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Exit status, the same table in every man page. */
enum wsk_exit {
	WSK_EXIT_OK = 0,    /* success */
	WSK_EXIT_FAIL = 1,  /* the peer answered with a failure, or no reply */
	WSK_EXIT_USAGE = 2, /* bad option, bad URL */
	WSK_EXIT_CONNECT = 3, /* could not connect: DNS, TCP, TLS, handshake,
				 retries exhausted */
};

#define WSK_ERRLEN 256

/* Parses a whole decimal integer in [min, max]. Returns 0, or -1 with a
 * message such as "'12x' is not a number" in err. */
int wsk_parse_int(const char *s, long long min, long long max, long long *out,
		  char *err, size_t errlen);

/* Parses a non-negative decimal number of seconds ("0.25", "3") no larger
 * than max. Returns 0, or -1 with a message in err. */
int wsk_parse_seconds(const char *s, double max, double *out, char *err,
		      size_t errlen);

/* Parses "MIN-MAX" (or a single value N meaning N-N) of non-negative
 * numbers with MIN <= MAX <= max; integer ranges when integral is set.
 * Returns 0, or -1 with a message in err. */
int wsk_parse_range(const char *s, double max, int integral, double *min_out,
		    double *max_out, char *err, size_t errlen);

/* Parses a byte count with an optional K, M or G suffix (powers of 1024)
 * in [min, max]. Returns 0, or -1 with a message in err. */
int wsk_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		   char *err, size_t errlen);

#endif
