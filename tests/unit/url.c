/* TAP tests for lib/url: parsing ws:// URLs and editing their query. */
#include "url.h"

#include <stdio.h>
#include <string.h>

#include "tap.h"

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

struct good {
	const char *in, *host, *authority, *target, *text;
	unsigned port;
	int tls;
};

static const struct good goods[] = {
    {"ws://localhost:3000", "localhost", "localhost:3000", "/",
     "ws://localhost:3000/", 3000, 0},
    {"ws://example.com/ws?a=1", "example.com", "example.com", "/ws?a=1",
     "ws://example.com/ws?a=1", 80, 0},
    {"wss://example.com", "example.com", "example.com", "/",
     "wss://example.com/", 443, 1},
    {"WS://Example.COM:80/x", "Example.COM", "Example.COM", "/x",
     "ws://Example.COM/x", 80, 0},
    {"ws://h/../a/./b", "h", "h", "/a/b", "ws://h/a/b", 80, 0},
    {"ws://[::1]:3000/", "::1", "[::1]:3000", "/", "ws://[::1]:3000/", 3000, 0},
    {"ws://[::1]/", "::1", "[::1]", "/", "ws://[::1]/", 80, 0},
    {"127.0.0.1:9000", "127.0.0.1", "127.0.0.1:9000", "/",
     "ws://127.0.0.1:9000/", 9000, 0},
    {"ws://u:p@h:1/p#frag", "h", "h:1", "/p", "ws://h:1/p", 1, 0},
    {"wss://h:443/", "h", "h", "/", "wss://h/", 443, 1},
    /* "://" in a query is not a scheme's, nor ":///" a missing host. */
    {"h:1/?next=http://x", "h", "h:1", "/?next=http://x",
     "ws://h:1/?next=http://x", 1, 0},
    {"ws://h:1/?next=file:///x", "h", "h:1", "/?next=file:///x",
     "ws://h:1/?next=file:///x", 1, 0},
};

static const char *const bads[][2] = {
    {"http://localhost:3000/", "scheme must be ws:// or wss://"},
    {"ftp://x/", "scheme must be ws:// or wss://"},
    {"ws:///path", "no host"},
    {"wss:///?next=ws://h/", "no host"},
    {"ws://", "no host"},
    {"ws://localhost:99999/", "bad port number"},
    {"ws://localhost:0/", "bad port number"},
    {"ws://localhost:x1/", "bad port number"},
    {"ws://[::1/", "bad"},
    {"", "empty URL"},
    {"ws://a b/", "bad host name"},
};

static void test_parse(void)
{
	char err[256], what[300];
	size_t i;

	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		struct wsk_url u;
		int r = wsk_url_parse(&u, g->in, err, sizeof(err));

		snprintf(what, sizeof(what), "parse '%s'", g->in);
		ok(r == 0 && streq(u.host, g->host) &&
		       streq(u.authority, g->authority) &&
		       streq(u.target, g->target) && streq(u.text, g->text) &&
		       u.port == g->port && u.is_tls == g->tls,
		   "%s", what);
		if (r == 0)
			wsk_url_release(&u);
		else
			printf("# %s\n", err);
	}
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct wsk_url u = {0};
		int r;

		err[0] = '\0';
		r = wsk_url_parse(&u, bads[i][0], err, sizeof(err));
		snprintf(what, sizeof(what), "reject '%s' (%s)", bads[i][0],
			 bads[i][1]);
		ok(r == -1 && strstr(err, bads[i][1]) && !u.host, "%s", what);
		if (r == 0)
			wsk_url_release(&u);
	}
}

static void test_param(void)
{
	char err[256];
	struct wsk_url u;

	if (wsk_url_parse(&u, "ws://h:1/ws?a=1&since=3&b&since=9", err,
			  sizeof(err)) < 0) {
		ok(0, "%s", err);
		return;
	}
	ok(wsk_url_set_param(&u, "since", "12") == 0 &&
	       streq(u.target, "/ws?a=1&b&since=12") &&
	       streq(u.text, "ws://h:1/ws?a=1&b&since=12"),
	   "set_param replaces every match and appends");
	ok(wsk_url_set_param(&u, "epoch", "a b&c") == 0 &&
	       streq(u.target, "/ws?a=1&b&since=12&epoch=a%20b%26c"),
	   "set_param percent-encodes the value");
	ok(wsk_url_set_param(&u, "epoch", "k3-J_d9.Q~") == 0 &&
	       streq(u.target, "/ws?a=1&b&since=12&epoch=k3-J_d9.Q~"),
	   "set_param keeps unreserved characters");
	ok(wsk_url_set_param(&u, "a", NULL) == 0 &&
	       wsk_url_set_param(&u, "b", NULL) == 0 &&
	       streq(u.target, "/ws?since=12&epoch=k3-J_d9.Q~"),
	   "set_param with NULL removes");
	ok(wsk_url_set_param(&u, "since", NULL) == 0 &&
	       wsk_url_set_param(&u, "epoch", NULL) == 0 &&
	       streq(u.target, "/ws") && streq(u.text, "ws://h:1/ws"),
	   "removing the last parameter drops the '?'");
	ok(wsk_url_set_param(&u, "sinc", "1") == 0 &&
	       wsk_url_set_param(&u, "since", "2") == 0 &&
	       streq(u.target, "/ws?sinc=1&since=2"),
	   "a name that is a prefix of another stays apart");
	wsk_url_release(&u);
	wsk_url_release(&u);
	ok(u.host == NULL, "release twice is harmless");
}

int main(void)
{
	test_parse();
	test_param();
	return done();
}
