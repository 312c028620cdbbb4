#include "access.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

int wsk_access_origin(const struct wsk_access *a, const struct wsk_http *req,
		      const char **cors)
{
	const char *origin = wsk_http_header(req, "Origin");
	int i;

	*cors = "*";
	if (!a->norigins || !origin)
		return 0;
	for (i = 0; i < a->norigins; i++) {
		/* Scheme and host are case-insensitive; browsers send them
		 * lower-case, operators may not type them so. */
		if (strcasecmp(origin, a->origins[i]) == 0) {
			*cors = origin;
			return 0;
		}
	}
	return 403;
}

/* Compares digests rather than the strings, so neither the length nor
 * the first differing byte of a guess shows in the time taken. */
static int same_secret(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)a, alen, da);
	SHA256((const unsigned char *)b, blen, db);
	return CRYPTO_memcmp(da, db, sizeof(da)) == 0;
}

int wsk_access_token(const struct wsk_access *a, const struct wsk_http *req)
{
	const char *auth;
	char got[512];
	size_t tlen;

	if (!a->token)
		return 0;
	tlen = strlen(a->token);
	auth = wsk_http_header(req, "Authorization");
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
		auth += 7;
		while (*auth == ' ')
			auth++;
		if (same_secret(auth, strlen(auth), a->token, tlen))
			return 0;
	}
	/* Browsers cannot set headers on a WebSocket: ?token= serves them. */
	if (wsk_http_query(wsk_http_url(req), "token", got, sizeof(got)) > 0 &&
	    same_secret(got, strlen(got), a->token, tlen))
		return 0;
	return 401;
}
