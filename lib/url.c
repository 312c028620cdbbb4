#include "url.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A message for the curl_url_set failures a user can cause by typing. */
static const char *parse_error(CURLUcode rc)
{
	switch (rc) {
	case CURLUE_BAD_PORT_NUMBER: return "bad port number";
	case CURLUE_NO_HOST: return "no host";
	case CURLUE_BAD_IPV6: return "bad IPv6 address";
	case CURLUE_BAD_HOSTNAME: return "bad host name";
	case CURLUE_BAD_SCHEME:
	case CURLUE_UNSUPPORTED_SCHEME:
	case CURLUE_NO_SCHEME: return "scheme must be ws:// or wss://";
	case CURLUE_OUT_OF_MEMORY: return "out of memory";
	default: return curl_url_strerror(rc);
	}
}

static char *make_text(int is_tls, const char *authority, const char *target)
{
	size_t n = strlen(authority) + strlen(target) + sizeof("wss://");
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s://%s%s", is_tls ? "wss" : "ws", authority,
			 target);
	return s;
}

/* Fills n from the parsed handle h. Returns 0, or -1 with err set; the
 * caller releases n either way. */
static int fill(struct wsk_url *n, CURLU *h, const char *s, char *err,
		size_t errlen)
{
	char *scheme = NULL, *host = NULL, *zone = NULL, *port = NULL;
	char *path = NULL, *query = NULL;
	const char *why = NULL;
	unsigned long pnum = 0;
	size_t len;
	int r = -1;

	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "ws") != 0 && strcmp(scheme, "wss") != 0)) {
		why = "scheme must be ws:// or wss://";
		goto out;
	}
	n->is_tls = strcmp(scheme, "wss") == 0;
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host[0] == '\0' || strcmp(host, "[]") == 0) {
		why = "no host";
		goto out;
	}
	if (curl_url_get(h, CURLUPART_PORT, &port, 0) == CURLUE_OK) {
		char *end;

		errno = 0;
		pnum = strtoul(port, &end, 10);
		if (errno || *end || pnum == 0 || pnum > 65535) {
			why = "bad port number";
			goto out;
		}
	}
	if (curl_url_get(h, CURLUPART_ZONEID, &zone, 0) != CURLUE_OK)
		zone = NULL;
	if (curl_url_get(h, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		path = NULL;
	if (curl_url_get(h, CURLUPART_QUERY, &query, 0) != CURLUE_OK)
		query = NULL;

	n->port = (uint16_t)(pnum ? pnum : n->is_tls ? 443 : 80);
	/* curl keeps the brackets of an IPv6 literal: the Host header wants
	 * them, the resolver does not; a zone goes to both (RFC 6874). */
	len = strlen(host) + (zone ? strlen(zone) + 3 : 0) + 8;
	n->host = malloc(len);
	n->authority = malloc(len);
	len += (path ? strlen(path) : 0) + (query ? strlen(query) : 0);
	n->target = malloc(len + 3);
	if (!n->host || !n->authority || !n->target) {
		why = "out of memory";
		goto out;
	}
	if (host[0] == '[') {
		size_t hl = strlen(host) - 2;

		snprintf(n->host, len, "%.*s%s%s", (int)hl, host + 1,
			 zone ? "%" : "", zone ? zone : "");
		snprintf(n->authority, len, "[%.*s%s%s]", (int)hl, host + 1,
			 zone ? "%25" : "", zone ? zone : "");
	} else {
		snprintf(n->host, len, "%s", host);
		snprintf(n->authority, len, "%s", host);
	}
	if (pnum && pnum != (n->is_tls ? 443u : 80u))
		snprintf(n->authority + strlen(n->authority), 8, ":%lu", pnum);
	snprintf(n->target, len + 3, "%s%s%s",
		 path && path[0] == '/' ? path : "/", query ? "?" : "",
		 query ? query : "");
	n->text = make_text(n->is_tls, n->authority, n->target);
	if (!n->text) {
		why = "out of memory";
		goto out;
	}
	r = 0;
out:
	if (why)
		snprintf(err, errlen, "'%s': %s", s, why);
	curl_free(query);
	curl_free(path);
	curl_free(zone);
	curl_free(port);
	curl_free(host);
	curl_free(scheme);
	return r;
}

/* The length of the scheme that s starts with, as in "ws://", or 0 when
 * s has none: "localhost:3000/?next=http://x" has none, although "://"
 * comes later in its query (RFC 3986 3.1: a letter, then letters, digits,
 * "+", "-" or "."). */
static size_t scheme_len(const char *s)
{
	size_t n = 0;

	if (!isalpha((unsigned char)s[0]))
		return 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' ||
	       s[n] == '.')
		n++;
	return strncmp(s + n, "://", 3) == 0 ? n : 0;
}

int wsk_url_parse(struct wsk_url *u, const char *s, char *err, size_t errlen)
{
	struct wsk_url n = {0};
	char *full = NULL;
	const char *in = s;
	CURLU *h;
	CURLUcode rc;
	int r;

	if (s[0] == '\0') {
		snprintf(err, errlen, "empty URL");
		return -1;
	}
	if (!scheme_len(s)) {
		size_t len = strlen(s) + sizeof("ws://");

		full = malloc(len);
		if (!full) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		snprintf(full, len, "ws://%s", s);
		in = full;
	}
	/* curl takes "ws:///path" as host "path"; a user meant no host. */
	if (strncmp(in + scheme_len(in), ":///", 4) == 0) {
		free(full);
		snprintf(err, errlen, "'%s': no host", s);
		return -1;
	}
	h = curl_url();
	if (!h) {
		free(full);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = curl_url_set(h, CURLUPART_URL, in, CURLU_NON_SUPPORT_SCHEME);
	if (rc != CURLUE_OK) {
		snprintf(err, errlen, "'%s': %s", s, parse_error(rc));
		r = -1;
	} else {
		r = fill(&n, h, s, err, errlen);
	}
	curl_url_cleanup(h);
	free(full);
	if (r < 0) {
		wsk_url_release(&n);
		return -1;
	}
	*u = n;
	return 0;
}

void wsk_url_release(struct wsk_url *u)
{
	free(u->host);
	free(u->authority);
	free(u->target);
	free(u->text);
	memset(u, 0, sizeof(*u));
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

int wsk_url_set_param(struct wsk_url *u, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *q = strchr(u->target, '?'), *p;
	size_t nlen = strlen(name);
	size_t pathlen = q ? (size_t)(q - u->target) : strlen(u->target);
	size_t cap = strlen(u->target) + nlen + 3;
	char *t, *o, *text;
	char sep = '?';

	if (value)
		cap += 3 * strlen(value);
	t = malloc(cap);
	if (!t)
		return -ENOMEM;
	memcpy(t, u->target, pathlen);
	o = t + pathlen;
	/* Keep every other non-empty parameter, in order. */
	for (p = q ? q + 1 : NULL; p && *p;) {
		const char *e = strchr(p, '&');
		size_t plen = e ? (size_t)(e - p) : strlen(p);

		if (plen && !(strncmp(p, name, nlen) == 0 &&
			      (plen == nlen || p[nlen] == '='))) {
			*o++ = sep;
			sep = '&';
			memcpy(o, p, plen);
			o += plen;
		}
		p = e ? e + 1 : NULL;
	}
	if (value) {
		*o++ = sep;
		memcpy(o, name, nlen);
		o += nlen;
		*o++ = '=';
		for (p = value; *p; p++) {
			unsigned char c = (unsigned char)*p;

			if (unreserved(c)) {
				*o++ = (char)c;
			} else {
				*o++ = '%';
				*o++ = hex[c >> 4];
				*o++ = hex[c & 15];
			}
		}
	}
	*o = '\0';
	text = make_text(u->is_tls, u->authority, t);
	if (!text) {
		free(t);
		return -ENOMEM;
	}
	free(u->target);
	free(u->text);
	u->target = t;
	u->text = text;
	return 0;
}
