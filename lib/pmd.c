#include "pmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* ---- Sec-WebSocket-Extensions ------------------------------------------
 * extension-list = 1#( token *( OWS ";" OWS param ) )
 * param = token [ "=" ( token / quoted-string ) ]       (RFC 6455 9.1) */

enum { P_SNCT = 1, P_CNCT = 2, P_SBITS = 4, P_CBITS = 8 };

/* One element of the list as read: its name and the permessage-deflate
 * parameters it carries. */
struct element {
	int pmd;	  /* the name is permessage-deflate */
	int bad;	  /* unknown or repeated parameter, or a bad value */
	unsigned seen;	  /* P_* present */
	unsigned novalue; /* P_* present without a value */
	int sbits, cbits;
};

static int is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static const char *ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static const char *token(const char *s, size_t *n)
{
	const char *e = s;

	while (is_tchar((unsigned char)*e))
		e++;
	*n = (size_t)(e - s);
	return e;
}

/* A window size: "8".."15", the quoted form being the same text. */
static int window_bits(const char *v, size_t n)
{
	int bits;

	if (n == 1 && v[0] == '8')
		return 8;
	if (n == 1 && v[0] == '9')
		return 9;
	if (n != 2 || v[0] != '1' || v[1] < '0' || v[1] > '5')
		return -1;
	bits = 10 + (v[1] - '0');
	return bits;
}

static void param(struct element *el, const char *name, size_t nlen,
		  const char *val, size_t vlen, int has_value)
{
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = {
	    {"server_no_context_takeover", P_SNCT},
	    {"client_no_context_takeover", P_CNCT},
	    {"server_max_window_bits", P_SBITS},
	    {"client_max_window_bits", P_CBITS},
	};
	unsigned bit = 0;
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].name) == nlen &&
		    strncasecmp(known[i].name, name, nlen) == 0)
			bit = known[i].bit;
	if (!bit || (el->seen & bit)) {
		el->bad = 1;
		return;
	}
	el->seen |= bit;
	if (!has_value) {
		el->novalue |= bit;
		return;
	}
	if (bit == P_SNCT || bit == P_CNCT) {
		el->bad = 1; /* these take no value */
		return;
	}
	if (bit == P_SBITS)
		el->sbits = window_bits(val, vlen);
	else
		el->cbits = window_bits(val, vlen);
	if ((bit == P_SBITS ? el->sbits : el->cbits) < 0)
		el->bad = 1;
}

/* Reads one element from s into el. Returns where the next element
 * starts (past the comma, or at the NUL), or NULL on a syntax error. */
static const char *element(const char *s, struct element *el)
{
	const char *name, *val;
	size_t n, vn;
	char q[8];

	memset(el, 0, sizeof(*el));
	s = ows(s);
	name = s;
	s = token(s, &n);
	if (!n)
		return NULL;
	el->pmd = n == 18 && strncasecmp(name, "permessage-deflate", n) == 0;
	for (;;) {
		s = ows(s);
		if (*s == ',')
			return s + 1;
		if (!*s)
			return s;
		if (*s != ';')
			return NULL;
		s = ows(s + 1);
		name = s;
		s = token(s, &n);
		if (!n)
			return NULL;
		s = ows(s);
		if (*s != '=') {
			param(el, name, n, NULL, 0, 0);
			continue;
		}
		s = ows(s + 1);
		if (*s == '"') {
			/* A quoted value must read as a token once unquoted
			 * (RFC 7692 5.1); window sizes are short. */
			vn = 0;
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				if (vn < sizeof(q))
					q[vn] = *s;
				vn++;
			}
			if (*s != '"')
				return NULL;
			s++;
			param(el, name, n, q, vn <= sizeof(q) ? vn : 0, 1);
		} else {
			val = s;
			s = token(s, &vn);
			if (!vn)
				return NULL;
			param(el, name, n, val, vn, 1);
		}
	}
}

int wsk_pmd_server_accept(const struct wsk_http *req, struct wsk_pmd_params *p)
{
	struct element el;
	unsigned pos = 0;
	const char *v, *s;

	while (
	    (v = wsk_http_header_next(req, "Sec-WebSocket-Extensions", &pos))) {
		for (s = v; s && *ows(s);) {
			s = element(s, &el);
			/* A malformed list is declined as a whole: we cannot
			 * tell where its offers end. */
			if (!s)
				break;
			/* server_max_window_bits needs a value in an offer;
			 * client_max_window_bits may have one or none. */
			if (!el.pmd || el.bad || (el.novalue & P_SBITS))
				continue;
			memset(p, 0, sizeof(*p));
			p->server_nct = 1;
			p->client_nct = 1;
			if (el.seen & P_SBITS)
				p->server_bits = (uint8_t)el.sbits;
			return 1;
		}
	}
	return 0;
}

int wsk_pmd_client_check(const struct wsk_http *resp, int offered,
			 struct wsk_pmd_params *p, const char **why)
{
	struct element el;
	unsigned pos = 0;
	const char *v, *s;
	int found = 0;

	memset(p, 0, sizeof(*p));
	while ((
	    v = wsk_http_header_next(resp, "Sec-WebSocket-Extensions", &pos))) {
		for (s = v; *ows(s);) {
			s = element(s, &el);
			if (!s) {
				*why = "malformed Sec-WebSocket-Extensions";
				return -1;
			}
			if (!offered || !el.pmd) {
				*why = "server agreed to an extension we did "
				       "not offer";
				return -1;
			}
			if (found) {
				*why = "server agreed to permessage-deflate "
				       "twice";
				return -1;
			}
			/* An answer's window sizes always carry a value. */
			if (el.bad || (el.novalue & (P_SBITS | P_CBITS))) {
				*why = "bad permessage-deflate parameters";
				return -1;
			}
			found = 1;
			p->server_nct = !!(el.seen & P_SNCT);
			p->client_nct = !!(el.seen & P_CNCT);
			p->server_bits = (uint8_t)el.sbits;
			p->client_bits = (uint8_t)el.cbits;
		}
	}
	return found;
}

int wsk_pmd_format(const struct wsk_pmd_params *p, char *buf, size_t size)
{
	char sb[32] = "", cb[32] = "";
	int n;

	if (p->server_bits)
		snprintf(sb, sizeof(sb), "; server_max_window_bits=%u",
			 p->server_bits);
	if (p->client_bits)
		snprintf(cb, sizeof(cb), "; client_max_window_bits=%u",
			 p->client_bits);
	n = snprintf(buf, size, "permessage-deflate%s%s%s%s",
		     p->server_nct ? "; server_no_context_takeover" : "",
		     p->client_nct ? "; client_no_context_takeover" : "", sb,
		     cb);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

/* ---- the zlib streams ---------------------------------------------------
 * Each owns one output buffer that grows to the largest message seen. */

struct wsk_deflater {
	z_stream z;
	uint8_t *buf;
	size_t cap;
};

struct wsk_inflater {
	z_stream z;
	uint8_t *buf;
	size_t cap;
};

static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};

static int grow(uint8_t **buf, size_t *cap, size_t want)
{
	uint8_t *n;

	if (want <= *cap)
		return 0;
	n = realloc(*buf, want);
	if (!n)
		return -ENOMEM;
	*buf = n;
	*cap = want;
	return 0;
}

struct wsk_deflater *wsk_deflater_new(int level)
{
	struct wsk_deflater *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	/* Raw deflate (negative window bits: no zlib header), the largest
	 * window: the peer's limit is honoured by message size (pmd.h). */
	if (deflateInit2(&d->z, level, Z_DEFLATED, -15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(d);
		return NULL;
	}
	return d;
}

void wsk_deflater_free(struct wsk_deflater *d)
{
	if (!d)
		return;
	deflateEnd(&d->z);
	free(d->buf);
	free(d);
}

long wsk_deflate(struct wsk_deflater *d, const void *in, size_t len,
		 const uint8_t **out)
{
	/* deflateBound covers the stream with its end; a sync flush adds at
	 * most an empty stored block (5 bytes) and the bits before it. */
	size_t bound = deflateBound(&d->z, (uLong)len) + 16, n;
	int r;

	if (len > UINT32_MAX || grow(&d->buf, &d->cap, bound) < 0)
		return -ENOMEM;
	d->z.next_in = (Bytef *)(uintptr_t)in;
	d->z.avail_in = (uInt)len;
	d->z.next_out = d->buf;
	d->z.avail_out = (uInt)d->cap;
	r = deflate(&d->z, Z_SYNC_FLUSH);
	n = d->cap - d->z.avail_out;
	deflateReset(&d->z);
	/* With room for the bound, one call takes everything and ends with
	 * the sync flush's empty stored block, whose 00 00 FF FF the RFC has
	 * us strip. */
	if (r != Z_OK || d->z.avail_in != 0 || n < 4 ||
	    memcmp(d->buf + n - 4, tail, 4) != 0)
		return -ENOMEM;
	*out = d->buf;
	return (long)(n - 4);
}

long wsk_pmd_compress(struct wsk_deflater *d, unsigned bits, const void *in,
		      size_t len, const uint8_t **out)
{
	long n;

	if (len < WSK_PMD_MIN_SIZE || len > wsk_pmd_max_for(bits))
		return 0;
	n = wsk_deflate(d, in, len, out);
	return n < 0 || (size_t)n < len ? n : 0;
}

struct wsk_inflater *wsk_inflater_new(void)
{
	struct wsk_inflater *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	if (inflateInit2(&f->z, -15) != Z_OK) {
		free(f);
		return NULL;
	}
	return f;
}

void wsk_inflater_free(struct wsk_inflater *f)
{
	if (!f)
		return;
	inflateEnd(&f->z);
	free(f->buf);
	free(f);
}

long wsk_inflate(struct wsk_inflater *f, const void *in, size_t len, size_t max,
		 int keep, const uint8_t **out)
{
	size_t got = 0, want;
	int r, fed_tail = 0;
	long ret;

	if (len > UINT32_MAX)
		return WSK_PMD_E_BIG;
	f->z.next_in = (Bytef *)(uintptr_t)in;
	f->z.avail_in = (uInt)len;
	for (;;) {
		if (got == f->cap) {
			/* Grow in steps, never past max + 1: one byte over is
			 * enough to know the message is too big. */
			want = f->cap ? f->cap * 2 : 4096;
			if (want > max + 1)
				want = max + 1;
			if (want <= f->cap) {
				ret = WSK_PMD_E_BIG;
				goto reset;
			}
			if (grow(&f->buf, &f->cap, want) < 0) {
				ret = -ENOMEM;
				goto reset;
			}
		}
		f->z.next_out = f->buf + got;
		f->z.avail_out = (uInt)(f->cap - got);
		r = inflate(&f->z, Z_SYNC_FLUSH);
		got = f->cap - f->z.avail_out;
		if (got > max) {
			ret = WSK_PMD_E_BIG;
			goto reset;
		}
		if (r == Z_STREAM_END) {
			/* The sender ended the stream (BFINAL): nothing may
			 * follow in this message, and the next one starts a
			 * new stream. */
			if (f->z.avail_in != 0 && !fed_tail) {
				ret = WSK_PMD_E_DATA;
				goto reset;
			}
			*out = f->buf;
			inflateReset(&f->z);
			return (long)got;
		}
		if (r != Z_OK && r != Z_BUF_ERROR) {
			ret = r == Z_MEM_ERROR ? -ENOMEM : WSK_PMD_E_DATA;
			goto reset;
		}
		if (f->z.avail_in == 0 && f->z.avail_out != 0) {
			if (fed_tail)
				break;
			/* The payload is in: add the 00 00 FF FF the sender
			 * stripped, which ends the flushed block. */
			f->z.next_in = (Bytef *)(uintptr_t)tail;
			f->z.avail_in = sizeof(tail);
			fed_tail = 1;
		} else if (r == Z_BUF_ERROR && f->z.avail_out != 0) {
			ret = WSK_PMD_E_DATA; /* no progress with room left */
			goto reset;
		}
	}
	*out = f->buf;
	if (!keep)
		inflateReset(&f->z);
	return (long)got;
reset:
	inflateReset(&f->z);
	return ret;
}
