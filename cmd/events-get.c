/* events-get: reads the REST API of ws-serve with libcurl, so that shell
 * scripts can combine a snapshot of the events with the live stream.
 *
 * One blocking easy handle does every request; it keeps the connection
 * alive between the IDs of one run and between the polls of --watch. */
#include "tool.h"

#include <curl/curl.h>
#include <jansson.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#define PROG "events-get"
#define DEFAULT_URL "http://localhost:3000"
/* A response body larger than this is an error rather than a memory hog. */
#define BODY_MAX ((size_t)64 << 20)
#define SECS_MAX 86400.0
#define RETRY_MAX 1000
#define BACKOFF_FIRST 1.0
#define BACKOFF_MAX 60.0

/* Long-only options, numbered past any character. */
enum {
	OPT_CACERT = 256,
	OPT_CONNECT_TIMEOUT,
	OPT_MAX_TIME,
	OPT_RETRY,
	OPT_TOKEN,
	OPT_URL,
	OPT_WATCH,
};

static const struct option long_options[] = {
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"header", required_argument, NULL, 'H'},
    {"help", no_argument, NULL, 'h'},
    {"insecure", no_argument, NULL, 'k'},
    {"lines", no_argument, NULL, 'l'},
    {"max-time", required_argument, NULL, OPT_MAX_TIME},
    {"quiet", no_argument, NULL, 'q'},
    {"retry", required_argument, NULL, OPT_RETRY},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"url", required_argument, NULL, OPT_URL},
    {"verbose", no_argument, NULL, 'v'},
    {"version", no_argument, NULL, 'V'},
    {"watch", required_argument, NULL, OPT_WATCH},
    {NULL, 0, NULL, 0},
};

/* Everything the command line and the environment say; const once parsed. */
struct options {
	const char *url;   /* base URL as given, never NULL after parsing */
	const char *token; /* bearer token, or NULL */
	const char *cacert;
	char **headers; /* the -H values, in order */
	size_t nheaders;
	double connect_timeout; /* seconds, 0 = libcurl's default */
	double max_time;	/* seconds, 0 = no limit */
	double watch;		/* seconds between polls, 0 = no --watch */
	long retry;
	int insecure;
	int lines;
	int quiet;
	int verbose;
	char **ids;
	int nids;
};

/* One resource to fetch: the list, or one event. */
struct target {
	char *url;   /* the request URL, encoded */
	char *shown; /* the same without its password, for messages */
	char *label; /* subject of HTTP errors: the ID, or the quoted URL */
	char *etag;  /* ETag of the last 2xx answer, for If-None-Match */
};

struct body {
	char *data;
	size_t len;
	size_t cap;
	int too_large;
};

struct fetcher {
	CURL *curl;
	const struct options *opt;
	struct body body;
	char errbuf[CURL_ERROR_SIZE];
	sigset_t run_mask; /* signal mask while waiting or transferring */
};

/* Set by the SIGINT/SIGTERM handler of --watch; read by the loops and by
 * libcurl's progress callback, which aborts the transfer. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static void usage_synopsis(FILE *fp)
{
	fputs("usage: " PROG " [-hklqVv] [--cacert file] [--connect-timeout "
	      "secs]\n"
	      "                  [-H header] [--max-time secs] [--retry n] "
	      "[--token token]\n"
	      "                  [--url url] [--watch secs] [id ...]\n",
	      fp);
}

static void help(void)
{
	static const char *const text[] = {
	    "",
	    "Print the events of the ws-serve REST API as JSON, one document",
	    "per line: the list when no ID is given, else each event.",
	    "",
	    "  --url url          base URL; default $EVENTS_URL, $WS_URL, or",
	    "                     " DEFAULT_URL "; ws(s):// maps to http(s)://",
	    "  -l, --lines        print the items of an array one per line",
	    "  --watch secs       poll every secs seconds and print the events",
	    "                     whose updatedAt changed, until interrupted",
	    "  --connect-timeout secs",
	    "                     give up connecting after secs seconds",
	    "  --max-time secs    give up a request after secs seconds",
	    "  --retry n          retry connection failures and 5xx n times",
	    "  -H, --header 'Name: value'",
	    "                     add a request header (repeatable)",
	    "  --token token      send 'Authorization: Bearer token'",
	    "                     (default $WS_TOKEN)",
	    "  --cacert file      verify the server with the CAs in file",
	    "  -k, --insecure     do not verify the server certificate",
	    "  -q, --quiet        print no diagnostics",
	    "  -v, --verbose      print libcurl's trace on standard error",
	    "  -h, --help         print this help and exit",
	    "  -V, --version      print the version and exit",
	    "",
	    "Exit status: 0 ok, 1 failed answer, 2 usage, 3 cannot connect.",
	};
	size_t i;

	usage_synopsis(stdout);
	for (i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		puts(text[i]);
}

/* Closes stdout and returns the exit status: a failed write turns success
 * into 1, except that a reader who went away (EPIPE) is no error. */
static int close_stdout(int quiet, int status)
{
	if (fclose(stdout) == 0 || errno == EPIPE)
		return status;
	if (!quiet)
		fprintf(stderr, PROG ": cannot write to standard output: %s\n",
			strerror(errno));
	return status == WSK_EXIT_OK ? WSK_EXIT_FAIL : status;
}

/* Runtime diagnostic, silenced by -q. */
static void diag(const struct options *o, const char *fmt, ...)
{
	va_list ap;

	if (o->quiet)
		return;
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* -v: libcurl's trace with curl's marks ("*" about the transfer, ">"
 * sent, "<" received), a line each under our name, bodies left out. The
 * token stays off terminals and logs, as in ws-watch -v. */
static int on_trace(CURL *c, curl_infotype type, char *data, size_t size,
		    void *arg)
{
	const char *mark, *p = data, *end = data + size, *e;
	size_t n;

	(void)c, (void)arg;
	switch (type) {
	case CURLINFO_TEXT: mark = "*"; break;
	case CURLINFO_HEADER_OUT: mark = ">"; break;
	case CURLINFO_HEADER_IN: mark = "<"; break;
	default: return 0;
	}
	for (; p < end; p = e < end ? e + 1 : end) {
		e = memchr(p, '\n', (size_t)(end - p));
		if (!e)
			e = end;
		n = (size_t)(e - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		if (type == CURLINFO_HEADER_OUT && n >= 14 &&
		    strncasecmp(p, "Authorization:", 14) == 0)
			fprintf(stderr, PROG ": %s %.14s (hidden)\n", mark, p);
		else
			fprintf(stderr, PROG ": %s %.*s\n", mark, (int)n, p);
	}
	return 0;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL) {
		fputs(PROG ": out of memory\n", stderr);
		exit(WSK_EXIT_FAIL);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

/* A copy of s that is safe on a terminal: control bytes become '?'. */
static char *printable(const char *s)
{
	char *copy = xstrdup(s);
	char *p;

	for (p = copy; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return copy;
}

/* Accepts "Name: value" (curl's "Name:" removes a header libcurl would
 * send). CR and LF would smuggle in extra header lines. */
static void check_header(const char *h)
{
	size_t n = strcspn(h, ": \t");

	if (n == 0 || h[n] != ':' || strpbrk(h, "\r\n") != NULL)
		wsk_cli_usage_error("bad header '%s': expected 'Name: value'",
				    h);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	char err[WSK_ERRLEN];
	long long n;
	int c;

	memset(o, 0, sizeof(*o));
	o->headers = xmalloc(sizeof(*o->headers) * (size_t)argc);
	opterr = 0;
	for (;;) {
		c = getopt_long(argc, argv, ":H:hklqVv", long_options, NULL);
		if (c == -1)
			break;
		switch (c) {
		case OPT_CACERT: o->cacert = optarg; break;
		case OPT_CONNECT_TIMEOUT:
			o->connect_timeout = wsk_cli_seconds(
			    "--connect-timeout", optarg, SECS_MAX);
			break;
		case 'H':
			check_header(optarg);
			o->headers[o->nheaders++] = optarg;
			break;
		case 'h': help(); exit(close_stdout(0, WSK_EXIT_OK));
		case 'k': o->insecure = 1; break;
		case 'l': o->lines = 1; break;
		case OPT_MAX_TIME:
			o->max_time =
			    wsk_cli_seconds("--max-time", optarg, SECS_MAX);
			break;
		case 'q': o->quiet = 1; break;
		case OPT_RETRY:
			if (wsk_parse_int(optarg, 0, RETRY_MAX, &n, err,
					  sizeof(err)) < 0)
				wsk_cli_usage_error("--retry: %s", err);
			o->retry = (long)n;
			break;
		case OPT_TOKEN:
			if (*optarg == '\0' || strpbrk(optarg, "\r\n") != NULL)
				wsk_cli_usage_error("--token: bad token");
			o->token = optarg;
			break;
		case OPT_URL: o->url = optarg; break;
		case 'V':
			printf(PROG " %s\n", WSK_VERSION);
			exit(close_stdout(0, WSK_EXIT_OK));
		case 'v': o->verbose = 1; break;
		case OPT_WATCH:
			o->watch = wsk_cli_seconds("--watch", optarg, SECS_MAX);
			if (o->watch <= 0)
				wsk_cli_usage_error(
				    "--watch: '%s' must be more than 0",
				    optarg);
			break;
		default: wsk_cli_bad_option(c, argv[optind - 1], optopt);
		}
	}
	if (o->quiet && o->verbose)
		wsk_cli_usage_error(
		    "--quiet and --verbose cannot be used together");
	wsk_cli_check_cacert(o->cacert);
	o->ids = argv + optind;
	o->nids = argc - optind;
	for (c = 0; c < o->nids; c++)
		if (o->ids[c][0] == '\0')
			wsk_cli_usage_error("empty event ID");
	if (o->url == NULL)
		o->url = wsk_cli_env("EVENTS_URL");
	if (o->url == NULL)
		o->url = wsk_cli_env("WS_URL");
	if (o->url == NULL)
		o->url = DEFAULT_URL;
	if (o->token == NULL) {
		o->token = wsk_cli_env("WS_TOKEN");
		if (o->token != NULL && strpbrk(o->token, "\r\n") != NULL)
			wsk_cli_usage_error("WS_TOKEN: bad token");
	}
}

/* Percent-encodes every byte of id except RFC 3986's unreserved ones, so
 * '#', '/', '%', spaces and non-ASCII bytes all arrive as data. The dots
 * of "." and ".." are encoded too, or they would be read as path steps. */
static char *encode_id(const char *id)
{
	static const char hex[] = "0123456789ABCDEF";
	int dots = strcmp(id, ".") == 0 || strcmp(id, "..") == 0;
	char *out = xmalloc(strlen(id) * 3 + 1);
	char *p = out;
	const unsigned char *s;

	for (s = (const unsigned char *)id; *s != '\0'; s++) {
		if (((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		     (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		     *s == '~' || *s == '.') &&
		    !(dots && *s == '.')) {
			*p++ = (char)*s;
		} else {
			*p++ = '%';
			*p++ = hex[*s >> 4];
			*p++ = hex[*s & 15];
		}
	}
	*p = '\0';
	return out;
}

/* Parses the base URL into *base and its path prefix (no trailing slash)
 * into *prefix. ws:// and wss:// become http:// and https:// with the same
 * host and port, without path or query, so one $WS_URL serves every tool.
 * Returns 0, or -1 with a message in err. */
static int parse_base(const char *url, CURLU **base, char **prefix, char *err,
		      size_t errlen)
{
	CURLU *u = curl_url();
	CURLUcode rc;
	char *scheme = NULL;
	char *path = NULL;
	int ws = 0;
	size_t n;

	if (u == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = curl_url_set(u, CURLUPART_URL, url,
			  CURLU_NON_SUPPORT_SCHEME | CURLU_GUESS_SCHEME);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	if (rc != CURLUE_OK) {
		snprintf(err, errlen, "bad URL '%s': %s", url,
			 curl_url_strerror(rc));
		goto fail;
	}
	if (strcasecmp(scheme, "ws") == 0 || strcasecmp(scheme, "wss") == 0) {
		ws = 1;
		rc = curl_url_set(u, CURLUPART_SCHEME,
				  scheme[2] == '\0' ? "http" : "https", 0);
	} else if (strcasecmp(scheme, "http") != 0 &&
		   strcasecmp(scheme, "https") != 0) {
		snprintf(err, errlen, "bad URL '%s': unsupported scheme '%s'",
			 url, scheme);
		goto fail;
	}
	if (rc == CURLUE_OK && ws)
		rc = curl_url_set(u, CURLUPART_QUERY, NULL, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (rc == CURLUE_OK && !ws)
		rc = curl_url_get(u, CURLUPART_PATH, &path, 0);
	if (rc != CURLUE_OK) {
		snprintf(err, errlen, "bad URL '%s': %s", url,
			 curl_url_strerror(rc));
		goto fail;
	}
	n = path != NULL ? strlen(path) : 0;
	while (n > 0 && path[n - 1] == '/')
		n--;
	*prefix = xmalloc(n + 1);
	memcpy(*prefix, path != NULL ? path : "", n);
	(*prefix)[n] = '\0';
	curl_free(path);
	curl_free(scheme);
	*base = u;
	return 0;
fail:
	curl_free(path);
	curl_free(scheme);
	curl_url_cleanup(u);
	return -1;
}

/* Sets t->url to {base}/events, or to {base}/events/{id} when id is set,
 * and t->shown to the same URL without a password. Returns 0, or -1 with
 * a message in err. */
static int request_url(struct target *t, CURLU *base, const char *prefix,
		       const char *id, char *err, size_t errlen)
{
	CURLU *u = curl_url_dup(base);
	char *enc = id != NULL ? encode_id(id) : NULL;
	char *path, *url = NULL, *shown = NULL;
	CURLUcode rc = CURLUE_OUT_OF_MEMORY;

	path = xmalloc(strlen(prefix) + sizeof("/events/") +
		       (enc != NULL ? strlen(enc) : 0));
	sprintf(path, "%s/events%s%s", prefix, enc != NULL ? "/" : "",
		enc != NULL ? enc : "");
	if (u != NULL)
		rc = curl_url_set(u, CURLUPART_PATH, path, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_URL, &url, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_URL, &shown, 0);
	if (rc == CURLUE_OK) {
		t->url = xstrdup(url);
		t->shown = xstrdup(shown);
	} else {
		snprintf(err, errlen, "bad URL for '%s': %s", path,
			 curl_url_strerror(rc));
	}
	curl_free(shown);
	curl_free(url);
	curl_url_cleanup(u);
	free(path);
	free(enc);
	return rc == CURLUE_OK ? 0 : -1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct body *b = userp;
	size_t n = size * nmemb;
	size_t cap;
	char *p;

	if (n > BODY_MAX - b->len) {
		b->too_large = 1;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap != 0 ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL)
			return 0;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Lets a signal of --watch abort a transfer in progress. */
static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	(void)userp;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return stop_signal != 0;
}

static int has_header(const struct options *o, const char *name)
{
	size_t n = strlen(name);
	size_t i;

	for (i = 0; i < o->nheaders; i++)
		if (strncasecmp(o->headers[i], name, n) == 0 &&
		    o->headers[i][n] == ':')
			return 1;
	return 0;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *h)
{
	struct curl_slist *l = curl_slist_append(list, h);

	if (l == NULL) {
		fputs(PROG ": out of memory\n", stderr);
		exit(WSK_EXIT_FAIL);
	}
	return l;
}

/* The request headers: defaults the user did not replace, the -H ones,
 * and If-None-Match when an ETag is known. */
static struct curl_slist *build_headers(const struct options *o,
					const char *etag)
{
	struct curl_slist *list = NULL;
	char *line;
	size_t i;

	if (!has_header(o, "Accept"))
		list = add_header(list, "Accept: application/json");
	if (o->token != NULL && !has_header(o, "Authorization")) {
		line = xmalloc(strlen(o->token) + sizeof("Authorization: "
							 "Bearer "));
		sprintf(line, "Authorization: Bearer %s", o->token);
		list = add_header(list, line);
		free(line);
	}
	for (i = 0; i < o->nheaders; i++)
		list = add_header(list, o->headers[i]);
	if (etag != NULL) {
		line = xmalloc(strlen(etag) + sizeof("If-None-Match: "));
		sprintf(line, "If-None-Match: %s", etag);
		list = add_header(list, line);
		free(line);
	}
	return list;
}

static long to_ms(double secs)
{
	long ms = (long)(secs * 1000.0 + 0.5);

	/* A tiny positive limit must not turn into "no limit". */
	return secs > 0 && ms == 0 ? 1 : ms;
}

static int fetcher_init(struct fetcher *f, const struct options *o)
{
	CURL *c = curl_easy_init();

	memset(f, 0, sizeof(*f));
	if (c == NULL)
		return -1;
	f->curl = c;
	f->opt = o;
	/* Never NULL, so an empty body is an empty string. */
	f->body.data = calloc(1, 1);
	if (f->body.data == NULL) {
		curl_easy_cleanup(c);
		return -1;
	}
	f->body.cap = 1;
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, PROG "/" WSK_VERSION);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f->body);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	if (o->connect_timeout > 0)
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
				 to_ms(o->connect_timeout));
	if (o->max_time > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, to_ms(o->max_time));
	if (o->cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
	if (o->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (o->verbose) {
		curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_trace);
		curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
	}
	return 0;
}

static void fetcher_release(struct fetcher *f)
{
	curl_easy_cleanup(f->curl);
	free(f->body.data);
}

/* Whether a failed transfer means "could not connect" (exit 3, worth a
 * retry) rather than a connected peer that gave no usable answer. */
static int is_connect_error(CURL *c, CURLcode rc)
{
	long sent = 0;

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_PROXY:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE: return 1;
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		/* The same codes serve before and after connecting: only a
		 * failure before any request went out is a connect failure. */
		curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
		return sent == 0;
	default: return 0;
	}
}

/* curl's error text, with the detail of the error buffer when it adds
 * something ("Timeout was reached (Connection timed out after 1001 ms)"). */
static void curl_error_text(const struct fetcher *f, CURLcode rc, char *buf,
			    size_t len)
{
	const char *text = curl_easy_strerror(rc);

	if (f->errbuf[0] != '\0' && strstr(f->errbuf, text) == NULL)
		snprintf(buf, len, "%s (%s)", text, f->errbuf);
	else
		snprintf(buf, len, "%s", text);
}

static const char *http_reason(long code)
{
	switch (code) {
	case 400: return "bad request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not found";
	case 405: return "method not allowed";
	case 406: return "not acceptable";
	case 408: return "request timeout";
	case 410: return "gone";
	case 413: return "content too large";
	case 414: return "URI too long";
	case 429: return "too many requests";
	case 500: return "internal server error";
	case 501: return "not implemented";
	case 502: return "bad gateway";
	case 503: return "service unavailable";
	case 504: return "gateway timeout";
	default: break;
	}
	return code >= 500   ? "server error"
	       : code >= 400 ? "client error"
			     : "unexpected answer";
}

/* Sleeps for secs seconds or until a stop signal. Returns -1 when a
 * signal ended the wait. pselect unblocks the signals atomically, so one
 * that arrives just before the wait is not lost. */
static int pause_for(const struct fetcher *f, double secs)
{
	struct timespec now, end, left;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)secs;
	end.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if (stop_signal)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = end.tv_sec - now.tv_sec;
		left.tv_nsec = end.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec < 0)
			return 0;
		pselect(0, NULL, NULL, NULL, &left, &f->run_mask);
	}
}

/* One GET of t->url, with If-None-Match when etag is set. */
static CURLcode perform_once(struct fetcher *f, const struct target *t,
			     const char *etag, long *code)
{
	struct curl_slist *headers = build_headers(f->opt, etag);
	sigset_t saved;
	CURLcode rc;

	f->body.len = 0;
	f->body.too_large = 0;
	f->errbuf[0] = '\0';
	*code = 0;
	curl_easy_setopt(f->curl, CURLOPT_URL, t->url);
	curl_easy_setopt(f->curl, CURLOPT_HTTPHEADER, headers);
	/* Stop signals stay blocked outside transfers and waits. */
	sigprocmask(SIG_SETMASK, &f->run_mask, &saved);
	rc = curl_easy_perform(f->curl);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	curl_easy_setopt(f->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	if (rc == CURLE_OK)
		curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, code);
	return rc;
}

/* GETs t->url, retrying connection failures and 5xx answers --retry times
 * with a doubling pause. Returns 0 with the HTTP status in *code and the
 * body in f->body; -1 when a stop signal came; or an exit status after
 * printing why the transfer failed. */
static int fetch(struct fetcher *f, const struct target *t, const char *etag,
		 long *code)
{
	const struct options *o = f->opt;
	double delay = BACKOFF_FIRST;
	char text[CURL_ERROR_SIZE + 128];
	CURLcode rc;
	long attempt;
	int connect;

	for (attempt = 0;; attempt++) {
		rc = perform_once(f, t, etag, code);
		if (stop_signal)
			return -1;
		connect = rc != CURLE_OK && is_connect_error(f->curl, rc);
		if (rc == CURLE_OK && (*code < 500 || *code > 599))
			return 0;
		if (rc != CURLE_OK && !connect)
			break;
		if (attempt >= o->retry)
			break;
		if (connect) {
			curl_error_text(f, rc, text, sizeof(text));
			diag(o,
			     "warning: cannot connect to '%s': %s; retry %ld "
			     "of %ld in %g s",
			     t->shown, text, attempt + 1, o->retry, delay);
		} else {
			diag(o,
			     "warning: %s: %s (%ld); retry %ld of %ld in %g s",
			     t->label, http_reason(*code), *code, attempt + 1,
			     o->retry, delay);
		}
		if (pause_for(f, delay) < 0)
			return -1;
		delay = delay * 2 > BACKOFF_MAX ? BACKOFF_MAX : delay * 2;
	}
	/* A 5xx after the last retry is an answer: the caller reports it. */
	if (rc == CURLE_OK)
		return 0;
	if (rc == CURLE_WRITE_ERROR && f->body.too_large) {
		diag(o, "'%s': response larger than %zu MiB", t->shown,
		     BODY_MAX >> 20);
		return WSK_EXIT_FAIL;
	}
	curl_error_text(f, rc, text, sizeof(text));
	if (connect) {
		diag(o, "cannot connect to '%s': %s", t->shown, text);
		return WSK_EXIT_CONNECT;
	}
	diag(o, "'%s': %s", t->shown, text);
	return WSK_EXIT_FAIL;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Removes the whitespace between the tokens of valid JSON text in place and
 * returns the new length. Unlike a jansson round trip this keeps numbers,
 * escapes and key order exactly as the server wrote them. */
static size_t json_compact(char *s, size_t len)
{
	size_t i, j = 0;
	int in_string = 0;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (in_string) {
			s[j++] = c;
			if (c == '\\' && i + 1 < len)
				s[j++] = s[++i];
			else if (c == '"')
				in_string = 0;
		} else if (!is_space(c)) {
			s[j++] = c;
			if (c == '"')
				in_string = 1;
		}
	}
	return j;
}

/* Finds the next element of a valid JSON array: *p points after '[' or
 * after the previous element. Returns 1 with the element in [*start, *start
 * + *n), or 0 at the closing ']'. */
static int json_next_item(const char **p, const char *end, const char **start,
			  size_t *n)
{
	const char *s = *p;
	const char *last;
	int depth = 0, in_string = 0;

	while (s < end && (is_space(*s) || *s == ','))
		s++;
	if (s >= end || *s == ']')
		return 0;
	*start = s;
	for (; s < end; s++) {
		if (in_string) {
			if (*s == '\\')
				s++;
			else if (*s == '"')
				in_string = 0;
		} else if (*s == '"') {
			in_string = 1;
		} else if (*s == '[' || *s == '{') {
			depth++;
		} else if (*s == ']' || *s == '}') {
			if (depth == 0)
				break;
			depth--;
		} else if (*s == ',' && depth == 0) {
			break;
		}
	}
	last = s;
	while (last > *start && is_space(last[-1]))
		last--;
	*n = (size_t)(last - *start);
	*p = s;
	return 1;
}

/* Writes one line and flushes it, so that a reader sees each result as it
 * comes, not when a later target's retries are over. Returns 0 written,
 * 1 a write error (reported), -1 the reader went away, which ends the
 * program quietly. */
static int out_line(const struct options *o, const char *s, size_t n)
{
	if (fwrite(s, 1, n, stdout) == n && putchar('\n') != EOF &&
	    fflush(stdout) == 0)
		return 0;
	if (errno == EPIPE)
		return -1;
	diag(o, "cannot write to standard output: %s", strerror(errno));
	return 1;
}

/* Checks the body of a 2xx answer and trims it to one line of JSON: the
 * text as received when it is one line already, else compacted. Returns
 * the parsed document, or NULL after reporting the error. */
static json_t *take_body(struct fetcher *f, const struct target *t,
			 const char **text, size_t *len)
{
	struct body *b = &f->body;
	json_error_t jerr;
	json_t *doc;
	char *s = b->data;
	size_t n = b->len;

	/* Integers as reals: a big number is still valid JSON. */
	doc = json_loadb(
	    s, n, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL,
	    &jerr);
	if (doc == NULL) {
		diag(f->opt,
		     "%s: response is not JSON: %s (line %d, column %d)",
		     t->label, jerr.text, jerr.line, jerr.column);
		return NULL;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;
	while (n > 0 && is_space(*s)) {
		s++;
		n--;
	}
	if (memchr(s, '\n', n) != NULL || memchr(s, '\r', n) != NULL)
		n = json_compact(s, n);
	*text = s;
	*len = n;
	return doc;
}

static void remember_etag(struct fetcher *f, struct target *t)
{
	struct curl_header *h;

	free(t->etag);
	t->etag = NULL;
	if (curl_easy_header(f->curl, "ETag", 0, CURLH_HEADER, -1, &h) ==
		CURLHE_OK &&
	    h->value[0] != '\0')
		t->etag = xstrdup(h->value);
}

/* Reports an answer that is neither 2xx nor 304. */
static int http_failure(const struct fetcher *f, const struct target *t,
			long code)
{
	diag(f->opt, "%s: %s (%ld)", t->label, http_reason(code), code);
	return WSK_EXIT_FAIL;
}

/* Fetches and prints each target once. Returns the exit status: the
 * worst of the answers, but a connection failure stops at once. */
static int fetch_all(struct fetcher *f, struct target *t, size_t nt)
{
	const struct options *o = f->opt;
	int status = WSK_EXIT_OK;
	const char *text, *p, *item;
	size_t i, len, n;
	json_t *doc;
	long code;
	int rc;

	for (i = 0; i < nt; i++) {
		rc = fetch(f, &t[i], NULL, &code);
		if (rc == WSK_EXIT_CONNECT)
			return rc;
		if (rc != 0) {
			status = WSK_EXIT_FAIL;
			continue;
		}
		if (code == 304 || code == 204)
			continue;
		if (code < 200 || code > 299) {
			status = http_failure(f, &t[i], code);
			continue;
		}
		doc = take_body(f, &t[i], &text, &len);
		if (doc == NULL) {
			status = WSK_EXIT_FAIL;
			continue;
		}
		rc = 0;
		if (o->lines && json_is_array(doc)) {
			p = text + 1;
			while (rc == 0 &&
			       json_next_item(&p, text + len, &item, &n))
				rc = out_line(o, item, n);
		} else {
			rc = out_line(o, text, len);
		}
		json_decref(doc);
		if (rc < 0)
			return status;
		if (rc > 0)
			return WSK_EXIT_FAIL;
	}
	return status;
}

/* Prints the events of one --watch answer whose updatedAt differs from the
 * one last printed for their id. seen maps id -> updatedAt (as JSON text);
 * an item without an id is keyed by its whole text. */
static int print_changes(const struct options *o, json_t *seen, json_t *doc,
			 const char *text, size_t len)
{
	const char *p = text + 1, *item;
	json_t *one, *id, *stamp;
	const char *key;
	char *mark;
	size_t i = 0, n, keylen;
	int rc = 0;

	for (;;) {
		if (json_is_array(doc)) {
			if (!json_next_item(&p, text + len, &item, &n))
				break;
			one = json_array_get(doc, i++);
		} else {
			if (i++ > 0)
				break;
			item = text;
			n = len;
			one = doc;
		}
		id = json_object_get(one, "id");
		stamp = json_object_get(one, "updatedAt");
		if (json_is_string(id)) {
			key = json_string_value(id);
			keylen = json_string_length(id);
			mark = stamp != NULL
				   ? json_dumps(stamp, JSON_ENCODE_ANY)
				   : NULL;
		} else {
			key = item;
			keylen = n;
			mark = NULL;
		}
		if (mark == NULL) {
			mark = xmalloc(n + 1);
			memcpy(mark, item, n);
			mark[n] = '\0';
		}
		stamp = json_object_getn(seen, key, keylen);
		if (stamp == NULL ||
		    strcmp(json_string_value(stamp), mark) != 0) {
			json_object_setn_new(seen, key, keylen,
					     json_string(mark));
			rc = out_line(o, item, n);
		}
		free(mark);
		if (rc != 0)
			break;
	}
	return rc;
}

/* --watch: polls every target each o->watch seconds, conditional on the
 * last ETag, until a signal (exit 0) or an error (its exit status). */
static int watch(struct fetcher *f, struct target *t, size_t nt)
{
	const struct options *o = f->opt;
	json_t *seen = json_object();
	struct timespec start, now;
	const char *text;
	json_t *doc;
	size_t i, len;
	double spent;
	long code;
	int rc = 0;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &start);
		for (i = 0; i < nt && rc == 0; i++) {
			rc = fetch(f, &t[i], t[i].etag, &code);
			if (rc != 0 || code == 304 || code == 204)
				continue;
			if (code < 200 || code > 299) {
				rc = http_failure(f, &t[i], code);
				continue;
			}
			doc = take_body(f, &t[i], &text, &len);
			if (doc == NULL) {
				rc = WSK_EXIT_FAIL;
				continue;
			}
			remember_etag(f, &t[i]);
			rc = print_changes(o, seen, doc, text, len);
			json_decref(doc);
		}
		if (rc != 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		spent = (double)(now.tv_sec - start.tv_sec) +
			(double)(now.tv_nsec - start.tv_nsec) / 1e9;
		if (spent < o->watch && pause_for(f, o->watch - spent) < 0)
			break;
	}
	json_decref(seen);
	/* A signal or a reader that went away is a normal end. */
	return rc < 0 ? WSK_EXIT_OK : rc;
}

/* In --watch, SIGINT and SIGTERM end the program with status 0. They are
 * blocked except while libcurl transfers (its progress callback sees the
 * flag) and while pause_for waits in pselect. */
static void watch_signals(struct fetcher *f)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &f->run_mask);
	sigdelset(&f->run_mask, SIGINT);
	sigdelset(&f->run_mask, SIGTERM);
}

int main(int argc, char **argv)
{
	struct options opt;
	struct fetcher f;
	struct target *t;
	char err[WSK_ERRLEN + 256];
	CURLU *base = NULL;
	char *prefix = NULL;
	size_t nt, i;
	int status, n;

	wsk_cli_prog = PROG;
	wsk_cli_hold_std_fds();
	signal(SIGPIPE, SIG_IGN);
	parse_options(argc, argv, &opt);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs(PROG ": cannot initialise libcurl\n", stderr);
		return WSK_EXIT_FAIL;
	}
	if (parse_base(opt.url, &base, &prefix, err, sizeof(err)) < 0)
		wsk_cli_usage_error("%s", err);
	nt = opt.nids > 0 ? (size_t)opt.nids : 1;
	t = xmalloc(sizeof(*t) * nt);
	for (i = 0; i < nt; i++) {
		const char *id = opt.nids > 0 ? opt.ids[i] : NULL;

		if (request_url(&t[i], base, prefix, id, err, sizeof(err)) < 0)
			wsk_cli_usage_error("%s", err);
		if (id != NULL) {
			t[i].label = printable(id);
		} else {
			n = snprintf(NULL, 0, "'%s'", t[i].shown);
			t[i].label = xmalloc((size_t)n + 1);
			sprintf(t[i].label, "'%s'", t[i].shown);
		}
		t[i].etag = NULL;
	}
	curl_url_cleanup(base);
	free(prefix);
	if (fetcher_init(&f, &opt) < 0) {
		fputs(PROG ": cannot initialise libcurl\n", stderr);
		return WSK_EXIT_FAIL;
	}
	sigprocmask(SIG_SETMASK, NULL, &f.run_mask);
	if (opt.watch > 0) {
		watch_signals(&f);
		status = watch(&f, t, nt);
	} else {
		status = fetch_all(&f, t, nt);
	}
	fetcher_release(&f);
	for (i = 0; i < nt; i++) {
		free(t[i].url);
		free(t[i].shown);
		free(t[i].label);
		free(t[i].etag);
	}
	free(t);
	free(opt.headers);
	curl_global_cleanup();
	return close_stdout(opt.quiet, status);
}
