/* Fuzz target: the server's HTTP request path. The stream goes through
 * wsk_http_feed in pieces, as ws-serve's http_input gives it: each complete
 * request is either an upgrade (checked with wsk_hs_check_request, after
 * which the rest would be frames) or a plain request answered by
 * wsk_routes_answer, and pipelined requests follow on the same parser.
 *
 * Invariants checked besides memory safety:
 * - WSK_HTTP_AGAIN takes every byte, WSK_HTTP_DONE never more than given;
 * - an answer is a status from 200 to 599, never -ENOMEM (nothing runs out
 *   of memory here), and the bytes queued parse back as an HTTP response
 *   with that status. */
#include <errno.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "events.h"
#include "fuzz.h"
#include "handshake.h"
#include "http.h"
#include "routes.h"

#ifndef FUZZ_WEB_DIR
#define FUZZ_WEB_DIR "web"
#endif

static uv_loop_t loop;
static struct wsk_events events;
static const char *const origins[] = {"http://127.0.0.1:3000",
				      "https://example.test"};
static const struct wsk_access access_rules = {"s3cret", origins, 2};
static struct wsk_routes routes;

static void on_update(void *arg, uint64_t seq, const char *json, size_t len)
{
	(void)arg, (void)seq, (void)json, (void)len;
}

/* The server renders these from its own state; fixed texts do here. */
static char *render_health(void *arg, size_t *len)
{
	static const char body[] = "{\"status\":\"ok\",\"clients\":3}";

	(void)arg;
	*len = sizeof(body) - 1;
	return strdup(body);
}

static char *render_metrics(void *arg, size_t *len)
{
	static const char body[] = "wsk_clients 3\n";

	(void)arg;
	*len = sizeof(body) - 1;
	return strdup(body);
}

/* The loop is never run: the simulator only needs it to exist. */
static void init_once(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	uv_loop_init(&loop);
	if (wsk_events_init(&events, &loop, 1000, 2000, 1, 42, on_update,
			    NULL) < 0)
		abort();
	routes.events = &events;
	routes.access = &access_rules;
	routes.web_dir = FUZZ_WEB_DIR;
	routes.health = render_health;
	routes.metrics = render_metrics;
}

/* The queued answer must be one HTTP/1.1 response head with that status. */
static void check_answer(struct wsk_outq *out, int status)
{
	static struct wsk_http resp;
	uv_buf_t iov[64];
	unsigned n, i;
	size_t used;
	int r = WSK_HTTP_AGAIN;

	n = wsk_outq_iov(out, 0, iov, 64);
	FUZZ_ASSERT(n > 0);
	FUZZ_ASSERT(iov[0].len >= 12 &&
		    memcmp(iov[0].base, "HTTP/1.1 ", 9) == 0);
	wsk_http_init(&resp, WSK_HTTP_RESPONSE);
	for (i = 0; i < n && r == WSK_HTTP_AGAIN; i++)
		r = wsk_http_feed(&resp, iov[i].base, iov[i].len, &used);
	FUZZ_ASSERT(r == WSK_HTTP_DONE);
	FUZZ_ASSERT(wsk_http_status(&resp) == status);
	wsk_outq_consume(out, out->bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wsk_http *h;
	struct wsk_outq out = {0};
	struct fuzz_cut cut;
	const char *p, *key, *why;
	size_t left, n, used;
	int r, last, status;

	if (size < 1)
		return 0;
	init_once();
	h = malloc(sizeof(*h));
	if (!h)
		return 0;
	wsk_http_init(h, WSK_HTTP_REQUEST);
	fuzz_cut_init(&cut, data[0]);
	p = (const char *)data + 1;
	left = size - 1;
	while (left) {
		n = fuzz_cut_next(&cut, left);
		left -= n;
		/* One read: as http_input, parse requests until it is used. */
		while (n) {
			r = wsk_http_feed(h, p, n, &used);
			FUZZ_ASSERT(used <= n);
			if (r == WSK_HTTP_AGAIN) {
				FUZZ_ASSERT(used == n);
				p += n;
				n = 0;
				break;
			}
			if (r < 0) {
				FUZZ_ASSERT(r == WSK_HTTP_ERR_BAD ||
					    r == WSK_HTTP_ERR_BIG);
				goto end;
			}
			FUZZ_ASSERT(r == WSK_HTTP_DONE);
			p += used;
			n -= used;
			if (wsk_hs_is_upgrade(h)) {
				status = wsk_hs_check_request(h, &key, &why);
				FUZZ_ASSERT(status == 0 || status == 400 ||
					    status == 426);
				FUZZ_ASSERT(status == 0 || why);
				FUZZ_ASSERT(status != 0 || strlen(key) == 24);
				goto end; /* the rest would be frames */
			}
			status = wsk_routes_answer(&routes, h, &out, &last);
			FUZZ_ASSERT(status != -ENOMEM);
			FUZZ_ASSERT(status >= 200 && status < 600);
			check_answer(&out, status);
			if (last)
				goto end;
			wsk_http_init(h, WSK_HTTP_REQUEST);
		}
	}
end:
	wsk_outq_release(&out);
	free(h);
	return 0;
}
