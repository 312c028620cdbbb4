/* Who may use the server: the bearer token and the Origin allowlist. */
#ifndef WSK_ACCESS_H
#define WSK_ACCESS_H

#include <stddef.h>

#include "http.h"

struct wsk_access {
	const char *token;	    /* NULL: no token needed */
	const char *const *origins; /* allowed Origin values */
	int norigins;		    /* 0: any Origin */
};

/* Checks the request's Origin. Returns 0 and sets *cors to the value for
 * Access-Control-Allow-Origin ("*" without an allowlist, else the request's
 * own Origin, which lives as long as req), or 403 when an Origin is present and
 * not allowed. A request without Origin (a command-line client) is allowed. */
int wsk_access_origin(const struct wsk_access *a, const struct wsk_http *req,
		      const char **cors);

/* Checks "Authorization: Bearer TOKEN" or "?token=TOKEN" in the target.
 * Returns 0 when allowed, 401 otherwise. The comparison takes the same time
 * whatever the candidate, so timing tells nothing about the token. */
int wsk_access_token(const struct wsk_access *a, const struct wsk_http *req);

#endif
