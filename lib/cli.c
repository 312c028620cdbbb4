#include "cli.h"

#include <errno.h>
#include <math.h>
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
