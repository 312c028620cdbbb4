#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wsk_parse_int(const char *s, long long min, long long max, long long *out,
		  char *err, size_t errlen)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || s[0] == ' ' || s[0] == '+') {
		snprintf(err, errlen, "'%s' is not a whole number", s);
		return -1;
	}
	if (errno == ERANGE || v < min || v > max) {
		snprintf(err, errlen, "'%s' is out of range (%lld-%lld)", s,
			 min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_number(const char *s, const char **endp, double *out)
{
	char *end;

	/* strtod accepts hex, inf and nan: only plain decimals are wanted. */
	if (!(s[0] >= '0' && s[0] <= '9') && s[0] != '.')
		return -1;
	if (strpbrk(s, "xXnNiI"))
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	if (end == s || errno == ERANGE || !isfinite(*out))
		return -1;
	*endp = end;
	return 0;
}

int wsk_parse_seconds(const char *s, double max, double *out, char *err,
		      size_t errlen)
{
	const char *end;
	double v;

	if (parse_number(s, &end, &v) < 0 || *end != '\0') {
		snprintf(err, errlen, "'%s' is not a number of seconds", s);
		return -1;
	}
	if (v > max) {
		snprintf(err, errlen, "'%s' is out of range (0-%g)", s, max);
		return -1;
	}
	*out = v;
	return 0;
}

int wsk_parse_range(const char *s, double max, int integral, double *min_out,
		    double *max_out, char *err, size_t errlen)
{
	const char *end;
	double lo, hi;

	if (parse_number(s, &end, &lo) < 0)
		goto bad;
	if (*end == '\0') {
		hi = lo;
	} else if (*end == '-') {
		if (parse_number(end + 1, &end, &hi) < 0 || *end != '\0')
			goto bad;
	} else {
		goto bad;
	}
	if (integral && (lo != floor(lo) || hi != floor(hi)))
		goto bad;
	if (lo > hi) {
		snprintf(err, errlen, "'%s': MIN is larger than MAX", s);
		return -1;
	}
	if (hi > max) {
		snprintf(err, errlen, "'%s' is out of range (0-%g)", s, max);
		return -1;
	}
	*min_out = lo;
	*max_out = hi;
	return 0;
bad:
	snprintf(err, errlen, "'%s' is not a range MIN-MAX", s);
	return -1;
}

int wsk_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		   char *err, size_t errlen)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!(s[0] >= '0' && s[0] <= '9'))
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		goto range;
	if (*end != '\0') {
		switch (*end) {
		case 'k':
		case 'K': mul = 1024; break;
		case 'm':
		case 'M': mul = 1024 * 1024; break;
		case 'g':
		case 'G': mul = 1024 * 1024 * 1024; break;
		default: goto bad;
		}
		if (end[1] != '\0' && strcmp(end + 1, "iB") != 0 &&
		    strcmp(end + 1, "B") != 0)
			goto bad;
	}
	if (v > max / mul)
		goto range;
	v *= mul;
	if (v < min || v > max)
		goto range;
	*out = v;
	return 0;
bad:
	snprintf(err, errlen, "'%s' is not a size in bytes", s);
	return -1;
range:
	snprintf(err, errlen, "'%s' is out of range (%llu-%llu bytes)", s,
		 (unsigned long long)min, (unsigned long long)max);
	return -1;
}

const char *wsk_cli_prog = "wskit";

void wsk_cli_try_help(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n",
		wsk_cli_prog);
	exit(WSK_EXIT_USAGE);
}

void wsk_cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", wsk_cli_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	wsk_cli_try_help();
}

/* A missing value always ends the argument list, so word is the option
 * itself; an unknown short option may sit inside a cluster, so opt names
 * it. */
void wsk_cli_bad_option(int c, const char *word, int opt)
{
	const char *what = c == ':' ? "needs a value" : NULL;
	size_t n = strcspn(word, "=");
	int is_long = strncmp(word, "--", 2) == 0;

	if (is_long && what != NULL)
		wsk_cli_usage_error("option '%.*s' %s", (int)n, word, what);
	if (is_long && opt == 0)
		wsk_cli_usage_error("unknown option '%.*s'", (int)n, word);
	if (is_long && word[n] == '=')
		wsk_cli_usage_error("option '%.*s' takes no value", (int)n,
				    word);
	if (what != NULL)
		wsk_cli_usage_error("option '-%c' %s", opt, what);
	wsk_cli_usage_error("unknown option '-%c'", opt);
}

double wsk_cli_seconds(const char *name, const char *arg, double max)
{
	char err[WSK_ERRLEN];
	double v;

	if (wsk_parse_seconds(arg, max, &v, err, sizeof(err)) < 0)
		wsk_cli_usage_error("%s: %s", name, err);
	return v;
}

long long wsk_cli_int(const char *name, const char *arg, long long min,
		      long long max)
{
	char err[WSK_ERRLEN];
	long long v;

	if (wsk_parse_int(arg, min, max, &v, err, sizeof(err)) < 0)
		wsk_cli_usage_error("%s: %s", name, err);
	return v;
}

uint64_t wsk_cli_size(const char *name, const char *arg, uint64_t min,
		      uint64_t max)
{
	char err[WSK_ERRLEN];
	uint64_t v;

	if (wsk_parse_size(arg, min, max, &v, err, sizeof(err)) < 0)
		wsk_cli_usage_error("%s: %s", name, err);
	return v;
}

const char *wsk_cli_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

void wsk_cli_hold_std_fds(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", O_RDWR) != fd)
			exit(WSK_EXIT_FAIL);
}
