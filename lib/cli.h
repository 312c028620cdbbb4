/* Command-line conventions shared by the four programs: exit codes and
 * option value parsing. The wsk_parse_* functions never print; errors are
 * described in a caller-supplied buffer. The wsk_cli_* functions are for
 * the programs' option parsing only: they print a usage error and exit, so
 * that all four word it the same way. */
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

/* The program name that prefixes usage errors. main sets it once, before
 * parsing options, and it stays unchanged after that. */
extern const char *wsk_cli_prog;

/* Prints "Try 'PROG --help' for more information." to stderr and exits
 * with WSK_EXIT_USAGE. */
void wsk_cli_try_help(void) __attribute__((noreturn));

/* Prints "PROG: " and the formatted message as one line to stderr, then
 * does what wsk_cli_try_help() does. */
void wsk_cli_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Turns getopt_long's complaints into a usage error, for programs that
 * set opterr = 0 and start the short options with ':'. c is what
 * getopt_long returned (':' for a missing value), word is
 * argv[optind - 1] and opt is optopt. */
void wsk_cli_bad_option(int c, const char *word, int opt)
    __attribute__((noreturn));

/* wsk_parse_seconds, wsk_parse_int and wsk_parse_size for an option
 * value: on failure they call wsk_cli_usage_error with "NAME: " and the
 * parser's message, so name is what the user typed, such as "--port". */
double wsk_cli_seconds(const char *name, const char *arg, double max);
long long wsk_cli_int(const char *name, const char *arg, long long min,
		      long long max);
uint64_t wsk_cli_size(const char *name, const char *arg, uint64_t min,
		      uint64_t max);

/* getenv(name), but NULL when the variable is set to the empty string:
 * an empty WS_URL means the default, as in a shell's ${WS_URL:-...}. */
const char *wsk_cli_env(const char *name);

/* Opens /dev/null on any of descriptors 0-2 that is closed, so that a
 * socket opened later cannot take one and receive the program's output.
 * Exits with WSK_EXIT_FAIL if that fails. */
void wsk_cli_hold_std_fds(void);

#endif
