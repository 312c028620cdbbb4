/* Fuzz target: WebSocket upgrade validation, everything ws-serve's
 * upgrade() decides before it answers 101: wsk_hs_check_request, the path
 * (percent-decoded, / or /ws), the Origin allowlist, the token, and the
 * since/epoch query of a resuming client.
 *
 * Invariants checked besides memory safety:
 * - the status is 0, 400 or 426, with a reason unless 0;
 * - an accepted key gives a 101 that the client side (wsk_http_feed in
 *   response mode and wsk_hs_check_response) accepts for that same key. */
#include <string.h>

#include "access.h"
#include "fuzz.h"
#include "handshake.h"
#include "http.h"

static const char *const origins[] = {"http://127.0.0.1:3000",
				      "https://example.test"};
static const struct wsk_access access_rules = {"s3cret", origins, 2};
static const struct wsk_access open_rules = {NULL, NULL, 0};

/* The server's 101 must satisfy a client that sent key. */
static void round_trip(const char *key)
{
	static struct wsk_http resp;
	char buf[256];
	const char *why;
	size_t used;
	int n;

	n = wsk_hs_response(buf, sizeof(buf), key, NULL);
	FUZZ_ASSERT(n > 0);
	wsk_http_init(&resp, WSK_HTTP_RESPONSE);
	FUZZ_ASSERT(wsk_http_feed(&resp, buf, (size_t)n, &used) ==
		    WSK_HTTP_DONE);
	FUZZ_ASSERT(used == (size_t)n);
	FUZZ_ASSERT(wsk_hs_check_response(&resp, key, &why) == 0);
}

static void check(const struct wsk_http *h)
{
	const char *key = NULL, *why = NULL, *cors, *url = wsk_http_url(h);
	const char *q = strchr(url, '?');
	size_t plen = q ? (size_t)(q - url) : strlen(url);
	char path[WSK_HTTP_MAX_HEAD], since[32], epoch[64];
	int status, r;

	(void)wsk_hs_is_upgrade(h);
	status = wsk_hs_check_request(h, &key, &why);
	FUZZ_ASSERT(status == 0 || status == 400 || status == 426);
	if (status) {
		FUZZ_ASSERT(why && *why);
		return;
	}
	FUZZ_ASSERT(key && strlen(key) == 24);
	round_trip(key);
	FUZZ_ASSERT(plen < sizeof(path));
	if (wsk_pct_decode(url, plen, path) >= 0)
		FUZZ_ASSERT(strlen(path) <= plen);
	r = wsk_access_origin(&access_rules, h, &cors);
	FUZZ_ASSERT(r == 0 || r == 403);
	FUZZ_ASSERT(cors);
	FUZZ_ASSERT(wsk_access_origin(&open_rules, h, &cors) == 0);
	r = wsk_access_token(&access_rules, h);
	FUZZ_ASSERT(r == 0 || r == 401);
	FUZZ_ASSERT(wsk_access_token(&open_rules, h) == 0);
	r = wsk_http_query(url, "since", since, sizeof(since));
	FUZZ_ASSERT(r >= -1 && r <= 1);
	if (r > 0)
		FUZZ_ASSERT(strlen(since) < sizeof(since));
	r = wsk_http_query(url, "epoch", epoch, sizeof(epoch));
	FUZZ_ASSERT(r >= -1 && r <= 1);
	if (r > 0)
		FUZZ_ASSERT(strlen(epoch) < sizeof(epoch));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wsk_http *h = malloc(sizeof(*h));
	size_t used;

	if (!h)
		return 0;
	wsk_http_init(h, WSK_HTTP_REQUEST);
	if (wsk_http_feed(h, (const char *)data, size, &used) ==
	    WSK_HTTP_DONE) {
		FUZZ_ASSERT(used <= size);
		check(h);
	}
	free(h);
	return 0;
}
