/* What the four programs' mains share and lib/ must not do: print a usage
 * error and exit, so that all four word it the same way; read the
 * environment; guard descriptors 0-2. Linked into every program (see the
 * Makefile), never into the library. */
#ifndef WSK_TOOL_H
#define WSK_TOOL_H

#include <stdint.h>

#include "cli.h"

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

/* --cacert FILE: a file that cannot be read or holds no certificate is a
 * usage error in every client and whatever the URL's scheme, as a bad
 * value of any other option is. Does nothing for NULL. */
void wsk_cli_check_cacert(const char *file);

/* getenv(name), but NULL when the variable is set to the empty string:
 * an empty WS_URL means the default, as in a shell's ${WS_URL:-...}. */
const char *wsk_cli_env(const char *name);

/* Opens /dev/null on any of descriptors 0-2 that is closed, so that a
 * socket opened later cannot take one and receive the program's output.
 * Exits with WSK_EXIT_FAIL if that fails. */
void wsk_cli_hold_std_fds(void);

#endif
