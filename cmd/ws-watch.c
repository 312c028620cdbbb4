/* ws-watch: print every message of a WebSocket stream as one line, and
 * keep the stream going across disconnects without losing an update.
 * Options, output and the resume bookkeeping; the connection itself is
 * lib/client.c. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "tool.h"
#include "client.h"
#include "tls.h"
#include "url.h"

static const char *prog = "ws-watch";

#define DEFAULT_URL "ws://localhost:3000/"
/* Reading stdin pauses while this much waits to be sent. */
#define STDIN_HIGH_WATER (1u << 20)
/* A connection that stays up this long resets the backoff. */
#define STABLE_MS 10000
/* --echo: a peer that sends faster than it reads our echoes gets dropped
 * once this much waits to go back. */
#define ECHO_HIGH_WATER (64u << 20)

enum binfmt { BIN_BASE64, BIN_HEX, BIN_RAW };

struct options {
	const char *url;
	enum binfmt binary;
	int envelope, quiet, verbose, use_stdin, keep_open, no_reconnect;
	int echo, insecure, deflate;
	double linger, timeout, duration, backoff_min, backoff_max;
	double connect_timeout, ping_interval;
	long long count, retry, since; /* -1: not set */
	uint64_t max_message;
	const char **sends, **types, **headers;
	size_t nsends, ntypes, nheaders;
	const char *origin, *protocol;
	const char *cacert; /* --cacert FILE, or NULL: the system's CAs */
	const char *token;  /* --token or $WS_TOKEN, or NULL */
};

/* A line from stdin waiting for an open connection. */
struct line {
	struct line *next;
	size_t len;
	char data[];
};

struct watch {
	const struct options *o;
	uv_loop_t loop;
	struct wsk_client_loop *cl;
	struct wsk_tls_ctx *tls; /* for wss://, else NULL */
	struct wsk_client *c;	 /* the current connection, or NULL */
	int open;		 /* c has fired on_open */
	struct wsk_url url;	 /* edited with since/epoch for each connect */
	uv_timer_t retry_t, ping_t, idle_t, duration_t, linger_t;
	uv_signal_t sigint, sigterm;
	uv_prepare_t flusher; /* flushes a stdout that is a regular file */
	int line_flush, stdout_dead;

	/* stdin: a stream handle, or uv_fs reads for files. */
	union {
		uv_pipe_t pipe;
		uv_tty_t tty;
	} in;
	int in_kind; /* 0 none, 1 stream, 2 file */
	uv_fs_t fsreq;
	int fs_busy, in_paused, in_eof, lingering;
	char fsbuf[65536];
	/* The line being read: what is kept of it (at most max_message + 1
	 * bytes, enough to know it is too long), its length so far and its
	 * last byte. */
	char *partial;
	size_t partial_len, partial_total;
	char partial_last;
	struct line *lines, **lines_tail;
	size_t lines_bytes;

	/* Resume state: the epoch and the last UPDATE seq seen. */
	char *epoch;
	long long last_seq;
	int have_seq;

	long long printed;
	uint64_t opened_at;
	long long retries; /* reconnect attempts since the last open */
	long long failed;  /* failed connection attempts in a row */
	int backoff_n;
	int ping_waiting;
	/* Why we dropped the connection ourselves, for on_close to say. */
	char dropped[96];
	int stopping, status, signals;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ws-watch [-hkqVv] [-H header] [-m message] [-n count]\n"
	    "                [--backoff min-max] [--binary hex|base64|raw]\n"
	    "                [--cacert file] [--connect-timeout secs]\n"
	    "                [--duration secs] [--echo] [--envelope]\n"
	    "                [--keep-open] [--linger secs]\n"
	    "                [--max-message bytes] [--no-deflate] "
	    "[--no-reconnect]\n"
	    "                [--origin origin] [--ping-interval secs]\n"
	    "                [--protocol name] [--retry n] [--since seq]\n"
	    "                [--stdin] [--timeout secs] [--token token]\n"
	    "                [--type type] [url] [-]\n"
	    "\n"
	    "  url                      ws:// or wss:// URL (default "
	    "$WS_URL, else " DEFAULT_URL ")\n"
	    "  -, --stdin               send each line of stdin as a text "
	    "message\n"
	    "  -m, --send MSG           send MSG after each (re)connect "
	    "(repeatable)\n"
	    "      --linger SECS        after EOF on stdin, wait this long "
	    "(default 1)\n"
	    "      --keep-open          stay connected after EOF on stdin\n"
	    "      --echo               send every message received back "
	    "unchanged\n"
	    "      --type T             print only messages whose \"type\" is "
	    "T (repeatable)\n"
	    "  -n, --count N            exit after printing N messages\n"
	    "      --timeout SECS       exit 1 if nothing was printed for "
	    "SECS\n"
	    "      --duration SECS      exit after SECS\n"
	    "      --binary FMT         binary messages as base64 (default), "
	    "hex or raw\n"
	    "      --envelope           print messages and events as JSON "
	    "objects\n"
	    "      --no-reconnect       do not reconnect after a disconnect\n"
	    "      --retry N            reconnect attempts after a failure "
	    "(default unlimited)\n"
	    "      --backoff MIN-MAX    reconnect delay in seconds (default "
	    "0.5-30)\n"
	    "      --since SEQ          resume after update SEQ\n"
	    "  -H, --header 'NAME: VAL' extra handshake header (repeatable)\n"
	    "      --origin ORIGIN      Origin header\n"
	    "      --protocol NAME      ask for subprotocol NAME\n"
	    "      --no-deflate         do not offer permessage-deflate "
	    "(offered by\n"
	    "                           default; --deflate offers it)\n"
	    "      --token TOKEN        send Authorization: Bearer TOKEN "
	    "(default $WS_TOKEN)\n"
	    "      --cacert FILE        verify wss:// servers with the CAs "
	    "in FILE\n"
	    "  -k, --insecure           do not verify the server "
	    "certificate\n"
	    "      --connect-timeout SECS  connect and handshake limit "
	    "(default 10)\n"
	    "      --ping-interval SECS ping every SECS; no pong by the next "
	    "one reconnects\n"
	    "      --max-message BYTES  largest message accepted (default "
	    "16M)\n"
	    "  -q, --quiet              no diagnostics on stderr\n"
	    "  -v, --verbose            also show handshake details\n"
	    "  -h, --help               show this help\n"
	    "  -V, --version            show the version\n");
}

/* Diagnostics. note() is silenced by -q, info() shows with -v only and
 * say() always prints: it explains a non-zero exit status. */
static void vsay(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static void note(const struct watch *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(const struct watch *w, const char *fmt, ...)
{
	va_list ap;

	if (w->o->quiet)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static void info(const struct watch *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void info(const struct watch *w, const char *fmt, ...)
{
	va_list ap;

	if (w->o->quiet || !w->o->verbose)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

/* note() or, when loud, say(). */
static void report(const struct watch *w, int loud, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(const struct watch *w, int loud, const char *fmt, ...)
{
	va_list ap;

	if (w->o->quiet && !loud)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		say("out of memory");
		exit(WSK_EXIT_FAIL);
	}
	return p;
}

static void push_arg(const char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

enum {
	OPT_BACKOFF = 256,
	OPT_BINARY,
	OPT_CACERT,
	OPT_CONNECT_TIMEOUT,
	OPT_DEFLATE,
	OPT_DURATION,
	OPT_ECHO,
	OPT_ENVELOPE,
	OPT_KEEP_OPEN,
	OPT_LINGER,
	OPT_MAX_MESSAGE,
	OPT_NO_DEFLATE,
	OPT_NO_RECONNECT,
	OPT_ORIGIN,
	OPT_PING_INTERVAL,
	OPT_PROTOCOL,
	OPT_RETRY,
	OPT_SINCE,
	OPT_STDIN,
	OPT_TIMEOUT,
	OPT_TOKEN,
	OPT_TYPE,
};

static const struct option longopts[] = {
    {"backoff", required_argument, NULL, OPT_BACKOFF},
    {"binary", required_argument, NULL, OPT_BINARY},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"count", required_argument, NULL, 'n'},
    {"deflate", no_argument, NULL, OPT_DEFLATE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"echo", no_argument, NULL, OPT_ECHO},
    {"envelope", no_argument, NULL, OPT_ENVELOPE},
    {"header", required_argument, NULL, 'H'},
    {"help", no_argument, NULL, 'h'},
    {"insecure", no_argument, NULL, 'k'},
    {"keep-open", no_argument, NULL, OPT_KEEP_OPEN},
    {"linger", required_argument, NULL, OPT_LINGER},
    {"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
    {"no-deflate", no_argument, NULL, OPT_NO_DEFLATE},
    {"no-reconnect", no_argument, NULL, OPT_NO_RECONNECT},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"ping-interval", required_argument, NULL, OPT_PING_INTERVAL},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"quiet", no_argument, NULL, 'q'},
    {"retry", required_argument, NULL, OPT_RETRY},
    {"send", required_argument, NULL, 'm'},
    {"since", required_argument, NULL, OPT_SINCE},
    {"stdin", no_argument, NULL, OPT_STDIN},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"type", required_argument, NULL, OPT_TYPE},
    {"verbose", no_argument, NULL, 'v'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* The name of the long option being parsed, for messages. */
static const char *opt_name(int c)
{
	const struct option *l;

	for (l = longopts; l->name; l++)
		if (l->val == c)
			return l->name;
	return "?";
}

/* A time option, validated by seconds_arg, in the loop's milliseconds. */
static uint64_t to_ms(double secs)
{
	return (uint64_t)llround(secs * 1000);
}

static double seconds_arg(int c, const char *s, int positive)
{
	char name[32];
	double v;

	snprintf(name, sizeof(name), "--%s", opt_name(c));
	v = wsk_cli_seconds(name, s, 86400.0 * 365);
	/* The loop's timers count whole milliseconds: a smaller time would
	 * become 0, which means "none" to a timeout. */
	if (positive && v < 0.001)
		wsk_cli_usage_error("%s: '%s' must be at least 0.001", name, s);
	if (v > 0 && v < 0.001)
		wsk_cli_usage_error("%s: '%s' must be 0 or at least 0.001",
				    name, s);
	return v;
}

static long long int_arg(int c, const char *s, long long min, long long max)
{
	char name[32];

	snprintf(name, sizeof(name), "--%s", opt_name(c));
	return wsk_cli_int(name, s, min, max);
}

static void parse_args(struct options *o, int argc, char **argv)
{
	char err[WSK_ERRLEN];
	int c, retry_set = 0, linger_set = 0;

	memset(o, 0, sizeof(*o));
	o->linger = 1;
	o->backoff_min = 0.5;
	o->backoff_max = 30;
	o->connect_timeout = 10;
	o->count = o->retry = o->since = -1;
	o->max_message = WSK_CLIENT_MAX_MESSAGE;
	o->deflate = 1;
	while ((c = getopt_long(argc, argv, ":hH:km:n:qvV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'h': usage(stdout); exit(WSK_EXIT_OK);
		case 'V': printf("%s %s\n", prog, WSK_VERSION); exit(0);
		case 'q': o->quiet = 1; break;
		case 'v': o->verbose = 1; break;
		case 'm': push_arg(&o->sends, &o->nsends, optarg); break;
		case 'n': o->count = int_arg(c, optarg, 1, LLONG_MAX); break;
		case 'H':
			if (wsk_client_check_header(optarg, err, sizeof(err)) <
			    0)
				wsk_cli_usage_error("--header: %s", err);
			push_arg(&o->headers, &o->nheaders, optarg);
			break;
		case OPT_TYPE: push_arg(&o->types, &o->ntypes, optarg); break;
		case OPT_STDIN: o->use_stdin = 1; break;
		case OPT_KEEP_OPEN: o->keep_open = 1; break;
		case OPT_ENVELOPE: o->envelope = 1; break;
		case OPT_ECHO: o->echo = 1; break;
		case OPT_DEFLATE: o->deflate = 1; break;
		case OPT_NO_DEFLATE: o->deflate = 0; break;
		case OPT_CACERT: o->cacert = optarg; break;
		case 'k': o->insecure = 1; break;
		case OPT_TOKEN:
			if (!*optarg || strpbrk(optarg, "\r\n"))
				wsk_cli_usage_error(
				    "--token: the token is empty or holds "
				    "a line break");
			o->token = optarg;
			break;
		case OPT_NO_RECONNECT: o->no_reconnect = 1; break;
		case OPT_ORIGIN: o->origin = optarg; break;
		case OPT_PROTOCOL:
			if (!*optarg || strpbrk(optarg, "\r\n"))
				wsk_cli_usage_error(
				    "--protocol: '%s' is not a protocol "
				    "name",
				    optarg);
			o->protocol = optarg;
			break;
		case OPT_LINGER:
			o->linger = seconds_arg(c, optarg, 0);
			linger_set = 1;
			break;
		case OPT_TIMEOUT: o->timeout = seconds_arg(c, optarg, 1); break;
		case OPT_DURATION:
			o->duration = seconds_arg(c, optarg, 1);
			break;
		case OPT_CONNECT_TIMEOUT:
			o->connect_timeout = seconds_arg(c, optarg, 1);
			break;
		case OPT_PING_INTERVAL:
			o->ping_interval = seconds_arg(c, optarg, 1);
			break;
		case OPT_RETRY:
			o->retry = int_arg(c, optarg, 0, LLONG_MAX);
			retry_set = 1;
			break;
		case OPT_SINCE:
			o->since = int_arg(c, optarg, 0, LLONG_MAX);
			break;
		case OPT_BACKOFF:
			if (wsk_parse_range(optarg, 3600, 0, &o->backoff_min,
					    &o->backoff_max, err,
					    sizeof(err)) < 0)
				wsk_cli_usage_error("--backoff: %s", err);
			if (o->backoff_max <= 0)
				wsk_cli_usage_error(
				    "--backoff: '%s' must allow more "
				    "than 0 s",
				    optarg);
			if (o->backoff_min <= 0)
				o->backoff_min = o->backoff_max / 64;
			break;
		case OPT_BINARY:
			if (strcmp(optarg, "base64") == 0)
				o->binary = BIN_BASE64;
			else if (strcmp(optarg, "hex") == 0)
				o->binary = BIN_HEX;
			else if (strcmp(optarg, "raw") == 0)
				o->binary = BIN_RAW;
			else
				wsk_cli_usage_error(
				    "--binary: '%s' is not hex, base64 "
				    "or raw",
				    optarg);
			break;
		case OPT_MAX_MESSAGE:
			if (wsk_parse_size(optarg, 1, 1u << 31, &o->max_message,
					   err, sizeof(err)) < 0)
				wsk_cli_usage_error("--max-message: %s", err);
			break;
		default: wsk_cli_bad_option(c, argv[optind - 1], optopt);
		}
	}
	for (; optind < argc; optind++) {
		if (strcmp(argv[optind], "-") == 0)
			o->use_stdin = 1;
		else if (!o->url)
			o->url = argv[optind];
		else
			wsk_cli_usage_error("too many arguments: '%s'",
					    argv[optind]);
	}
	if (o->quiet && o->verbose)
		wsk_cli_usage_error(
		    "--quiet and --verbose cannot be used together");
	if (o->no_reconnect && retry_set)
		wsk_cli_usage_error(
		    "--no-reconnect and --retry cannot be used together");
	if (o->keep_open && linger_set)
		wsk_cli_usage_error(
		    "--keep-open and --linger cannot be used together");
	if ((o->keep_open || linger_set) && !o->use_stdin)
		wsk_cli_usage_error("--%s needs --stdin",
				    o->keep_open ? "keep-open" : "linger");
	if (o->retry == 0)
		o->no_reconnect = 1;
	wsk_cli_check_cacert(o->cacert);
	if (!o->token) {
		const char *t = wsk_cli_env("WS_TOKEN");

		if (t && strpbrk(t, "\r\n"))
			wsk_cli_usage_error(
			    "WS_TOKEN: the token holds a line break");
		o->token = t;
	}
}

/* Time for envelopes: milliseconds since 1970 with a fraction. */
static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void stop(struct watch *w, int status);

/* stdout */

/* A failed write to stdout ends the program: quietly with 0 when the
 * reader went away (EPIPE), with 1 otherwise. */
static int check_stdout(struct watch *w)
{
	if (!ferror(stdout))
		return 0;
	if (!w->stdout_dead) {
		w->stdout_dead = 1;
		if (errno != EPIPE)
			say("error writing to stdout: %s", strerror(errno));
		stop(w, errno == EPIPE ? WSK_EXIT_OK : WSK_EXIT_FAIL);
	}
	return -1;
}

static void end_line(struct watch *w)
{
	putchar('\n');
	if (w->line_flush)
		fflush(stdout);
	check_stdout(w);
}

static void on_prepare(uv_prepare_t *h)
{
	struct watch *w = h->data;

	fflush(stdout);
	check_stdout(w);
}

/* Writes s as a JSON string. */
static void put_json_string(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	char *d = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

	fputs(d ? d : "null", stdout);
	free(d);
	json_decref(j);
}

/* Starts an envelope event line; the caller adds fields and ends it. */
static int event_start(struct watch *w, const char *name)
{
	if (!w->o->envelope || w->stdout_dead)
		return 0;
	printf("{\"t\":%.3f,\"event\":\"%s\"", now_ms(), name);
	return 1;
}

static void event_end(struct watch *w)
{
	putchar('}');
	end_line(w);
}

/* Text: a line break inside a message would split it in two. In JSON, CR
 * and LF can only be whitespace between tokens (strings must escape
 * them), so they become spaces and the JSON stays valid. Other text gets
 * them as the two characters \n and \r. */
static void put_text(const uint8_t *p, size_t len, int is_json)
{
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		if (p[i] != '\n' && p[i] != '\r')
			continue;
		fwrite(p + start, 1, i - start, stdout);
		if (is_json)
			putchar(' ');
		else
			fputs(p[i] == '\n' ? "\\n" : "\\r", stdout);
		start = i + 1;
	}
	fwrite(p + start, 1, len - start, stdout);
}

static void put_base64(const uint8_t *p, size_t len)
{
	unsigned char out[4 * 768 / 3 + 1];
	size_t i;

	/* Whole 3-byte groups per block keep the pieces joinable. */
	for (i = 0; i < len; i += 768) {
		size_t n = len - i < 768 ? len - i : 768;
		int k = EVP_EncodeBlock(out, p + i, (int)n);

		fwrite(out, 1, (size_t)k, stdout);
	}
}

static void put_hex(const uint8_t *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		putchar(hex[p[i] >> 4]);
		putchar(hex[p[i] & 15]);
	}
}

static void print_message(struct watch *w, int opcode, const uint8_t *p,
			  size_t len, int is_json, double t)
{
	if (w->stdout_dead)
		return;
	if (w->o->envelope) {
		printf("{\"t\":%.3f,\"op\":\"%s\",\"len\":%zu,\"data\":", t,
		       opcode == WSK_WS_TEXT ? "text" : "binary", len);
		if (opcode != WSK_WS_TEXT) {
			putchar('"');
			put_base64(p, len);
			putchar('"');
		} else if (is_json) {
			put_text(p, len, 1);
		} else {
			put_json_string((const char *)p, len);
		}
		putchar('}');
	} else if (opcode == WSK_WS_TEXT) {
		put_text(p, len, is_json);
	} else if (w->o->binary == BIN_HEX) {
		put_hex(p, len);
	} else if (w->o->binary == BIN_RAW) {
		fwrite(p, 1, len, stdout);
	} else {
		put_base64(p, len);
	}
	end_line(w);
}

/* Resume bookkeeping */

static void report_gap(struct watch *w, long long from, long long to)
{
	if (from == to)
		note(w, "gap: update %lld was lost", from);
	else
		note(w, "gap: updates %lld-%lld were lost", from, to);
	if (event_start(w, "gap")) {
		printf(",\"from\":%lld,\"to\":%lld", from, to);
		event_end(w);
	}
}

static void report_epoch(struct watch *w, const char *epoch, const char *why)
{
	note(w, "new epoch '%s'%s", epoch, why);
	if (event_start(w, "epoch")) {
		fputs(",\"epoch\":", stdout);
		put_json_string(epoch, strlen(epoch));
		fputs(",\"previous\":", stdout);
		if (w->epoch)
			put_json_string(w->epoch, strlen(w->epoch));
		else
			fputs("null", stdout);
		event_end(w);
	}
}

/* An INITIAL replaces the state. Compared with what was seen before, it
 * tells whether updates were lost or the server started a new sequence. */
static void on_initial(struct watch *w, json_t *j)
{
	const char *epoch = json_string_value(json_object_get(j, "epoch"));
	json_t *sj = json_object_get(j, "seq");
	long long seq;
	char why[96];

	if (!json_is_integer(sj))
		return;
	seq = json_integer_value(sj);
	if (epoch && w->epoch && strcmp(epoch, w->epoch) != 0) {
		snprintf(why, sizeof(why),
			 " (was '%s'): taking a fresh snapshot", w->epoch);
		report_epoch(w, epoch, why);
	} else if (w->have_seq && seq > w->last_seq) {
		report_gap(w, w->last_seq + 1, seq);
	} else if (w->have_seq && seq < w->last_seq && epoch) {
		snprintf(why, sizeof(why),
			 ": the server is at seq %lld, not %lld", seq,
			 w->last_seq);
		report_epoch(w, epoch, why);
	}
	if (epoch) {
		free(w->epoch);
		w->epoch = strdup(epoch);
	}
	w->last_seq = seq;
	w->have_seq = 1;
}

/* Returns 0 for an UPDATE already seen (a duplicate to drop), else 1. */
static int on_update(struct watch *w, json_t *j)
{
	json_t *sj = json_object_get(j, "seq");
	long long seq;

	if (!json_is_integer(sj))
		return 1;
	seq = json_integer_value(sj);
	if (w->have_seq && seq <= w->last_seq)
		return 0;
	if (w->have_seq && seq > w->last_seq + 1)
		report_gap(w, w->last_seq + 1, seq - 1);
	w->last_seq = seq;
	w->have_seq = 1;
	return 1;
}

static int type_selected(const struct watch *w, const char *type)
{
	size_t i;

	if (!w->o->ntypes)
		return 1;
	for (i = 0; type && i < w->o->ntypes; i++)
		if (strcmp(type, w->o->types[i]) == 0)
			return 1;
	return 0;
}

/* The connection */

static void send_pending(struct watch *w);
static void do_connect(struct watch *w);
static void ping_cb(uv_timer_t *t);

static void on_open(struct wsk_client *c, const struct wsk_client_open *op,
		    void *ud)
{
	struct watch *w = ud;
	char addr[64] = "?";
	size_t i;

	(void)c;
	w->open = 1;
	w->opened_at = uv_now(&w->loop);
	w->retries = 0;
	w->failed = 0;
	w->ping_waiting = 0;
	if (op->peer->sa_family == AF_INET6)
		uv_ip6_name((const struct sockaddr_in6 *)op->peer, addr,
			    sizeof(addr));
	else
		uv_ip4_name((const struct sockaddr_in *)op->peer, addr,
			    sizeof(addr));
	note(w, "connected to '%s'", w->url.text);
	if (w->tls)
		info(w,
		     "peer %s, tcp connect %.3f ms, tls %.3f ms, handshake "
		     "%.3f ms",
		     addr, (double)op->connect_us / 1000,
		     (double)op->tls_us / 1000,
		     (double)op->handshake_us / 1000);
	else
		info(w, "peer %s, tcp connect %.3f ms, handshake %.3f ms", addr,
		     (double)op->connect_us / 1000,
		     (double)op->handshake_us / 1000);
	if (!w->o->quiet && w->o->verbose) {
		const char *s = op->request, *e;
		const struct wsk_http *h = op->response;

		for (; (e = strstr(s, "\r\n")) && e != s; s = e + 2) {
			/* The token stays off terminals and logs. */
			if (strncasecmp(s, "Authorization:", 14) == 0)
				say("> %.14s (hidden)", s);
			else
				say("> %.*s", (int)(e - s), s);
		}
		say("< HTTP/1.1 %d", wsk_http_status(h));
		for (i = 0; i < h->nhdr; i++)
			say("< %s: %s", h->buf + h->hdr[i].name,
			    h->hdr[i].value_len ? h->buf + h->hdr[i].value
						: "");
	}
	if (event_start(w, "open")) {
		fputs(",\"url\":", stdout);
		put_json_string(w->url.text, strlen(w->url.text));
		event_end(w);
	}
	for (i = 0; i < w->o->nsends && w->c; i++)
		wsk_client_send(w->c, WSK_WS_TEXT, w->o->sends[i],
				strlen(w->o->sends[i]));
	if (w->o->ping_interval > 0) {
		uint64_t ms = to_ms(w->o->ping_interval);

		uv_timer_start(&w->ping_t, ping_cb, ms, ms);
	}
	send_pending(w);
}

static void on_message(struct wsk_client *c, int opcode, const uint8_t *p,
		       size_t len, void *ud)
{
	struct watch *w = ud;
	double t = now_ms();
	const char *type = NULL;
	json_t *j = NULL;

	if (w->stopping)
		return;
	if (w->o->echo) {
		/* Back as it came, before the message can end the program
		 * (-n), so the echo goes out ahead of our close. */
		if (wsk_client_queued(c) > ECHO_HIGH_WATER) {
			snprintf(w->dropped, sizeof(w->dropped),
				 "echo: over %u MiB wait to be sent",
				 ECHO_HIGH_WATER >> 20);
			wsk_client_abort(c);
			return;
		}
		wsk_client_send(c, opcode, p, len);
	}
	if (opcode == WSK_WS_TEXT)
		j = json_loadb((const char *)p, len, JSON_DECODE_ANY, NULL);
	if (json_is_object(j)) {
		type = json_string_value(json_object_get(j, "type"));
		if (type && strcmp(type, "INITIAL") == 0) {
			on_initial(w, j);
		} else if (type && strcmp(type, "UPDATE") == 0 &&
			   !on_update(w, j)) {
			json_decref(j);
			return;
		}
	}
	if (type_selected(w, type)) {
		print_message(w, opcode, p, len, j != NULL, t);
		w->printed++;
		if (w->o->timeout > 0)
			uv_timer_again(&w->idle_t);
		if (w->o->count > 0 && w->printed >= w->o->count)
			stop(w, WSK_EXIT_OK);
	}
	json_decref(j);
}

static void on_pong(struct wsk_client *c, const uint8_t *p, size_t len,
		    void *ud)
{
	struct watch *w = ud;

	(void)c, (void)p, (void)len;
	w->ping_waiting = 0;
}

static void on_drain(struct wsk_client *c, void *ud)
{
	(void)c;
	send_pending(ud);
}

static void retry_cb(uv_timer_t *t)
{
	do_connect(t->data);
}

/* Full jitter: a random delay between 0 and a window that doubles with
 * every attempt, from MIN up to MAX. */
static double backoff_delay(struct watch *w)
{
	double win = w->o->backoff_min * pow(2, w->backoff_n);
	uint32_t r = 0;

	if (win > w->o->backoff_max)
		win = w->o->backoff_max;
	if (w->backoff_n < 60)
		w->backoff_n++;
	uv_random(NULL, NULL, &r, sizeof(r), 0, NULL);
	return win * ((double)r / 4294967296.0);
}

static void shutdown_all(struct watch *w);

/* What a 401 reply means here. */
static const char *token_hint(const struct watch *w, int http_status)
{
	if (http_status != 401)
		return "";
	return w->o->token ? " (the token was refused)"
			   : " (a token is needed: --token or WS_TOKEN)";
}

/* A refusal that asking again cannot change (a 4xx answer to the
 * handshake other than 408 and 429, a certificate that does not verify)
 * ends the run at once instead of retrying forever. */
static int permanent(const struct wsk_client_close *ci)
{
	if (ci->opened)
		return 0;
	if (ci->error == WSK_CLIENT_E_TLS)
		return 1;
	return ci->http_status >= 400 && ci->http_status < 500 &&
	       ci->http_status != 408 && ci->http_status != 429;
}

static void on_close(struct wsk_client *c, const struct wsk_client_close *ci,
		     void *ud)
{
	struct watch *w = ud;
	int was_open = w->open, retry, status, loud;
	double delay;

	(void)c;
	w->c = NULL;
	w->open = 0;
	uv_timer_stop(&w->ping_t);
	uv_timer_stop(&w->linger_t);
	w->lingering = 0;
	retry = !w->stopping && !w->o->no_reconnect && !permanent(ci) &&
		(w->o->retry < 0 || w->retries < w->o->retry);
	/* What the end would mean for the exit status. */
	if (!ci->opened)
		status = WSK_EXIT_CONNECT;
	else if (!ci->error && (ci->code == 1000 || ci->code == 1001))
		status = WSK_EXIT_OK;
	else
		status = WSK_EXIT_FAIL;

	if (ci->opened && event_start(w, "close")) {
		printf(",\"code\":%u,\"reason\":", ci->code);
		put_json_string(ci->reason, strlen(ci->reason));
		if (ci->error) {
			fputs(",\"error\":", stdout);
			put_json_string(ci->message, strlen(ci->message));
		}
		event_end(w);
	}
	if (!ci->opened && event_start(w, "error")) {
		fputs(",\"error\":", stdout);
		put_json_string(ci->message, strlen(ci->message));
		event_end(w);
	}
	if (w->stopping) {
		*w->dropped = '\0';
		if (ci->error && ci->error != WSK_CLIENT_E_ABORTED)
			info(w, "closed: %s", ci->message);
		else
			info(w, "closed: %u", ci->code);
		shutdown_all(w);
		return;
	}
	/* The explanation of a non-zero exit prints even with -q; whether
	 * a reconnect follows is said after it. */
	loud = !retry && status != WSK_EXIT_OK;
	if (ci->error == WSK_CLIENT_E_ABORTED && *w->dropped)
		report(w, loud, "connection dropped: %s", w->dropped);
	else if (!ci->opened)
		report(w, loud, "cannot connect to '%s': %s%s", w->url.text,
		       ci->message, token_hint(w, ci->http_status));
	else if (ci->error == WSK_CLIENT_E_LOST)
		report(w, loud, "connection lost: %s", ci->message);
	else if (ci->error && ci->error != WSK_CLIENT_E_ABORTED)
		report(w, loud, "connection failed: %s", ci->message);
	else if (!ci->error)
		report(w, loud, "closed by server: %u%s%s", ci->code,
		       *ci->reason ? " " : "", ci->reason);
	*w->dropped = '\0';
	if (!ci->opened)
		w->failed++;
	if (!retry) {
		if (!ci->opened && w->failed > 1)
			say("giving up after %lld attempts", w->failed);
		w->status = status;
		w->stopping = 1;
		shutdown_all(w);
		return;
	}
	if (was_open && uv_now(&w->loop) - w->opened_at >= STABLE_MS)
		w->backoff_n = 0;
	delay = backoff_delay(w);
	w->retries++;
	note(w, "reconnecting in %.2f s", delay);
	if (event_start(w, "reconnecting")) {
		printf(",\"delay\":%.3f", delay);
		event_end(w);
	}
	uv_timer_start(&w->retry_t, retry_cb, (uint64_t)(delay * 1000), 0);
}

static void do_connect(struct watch *w)
{
	static const struct wsk_client_cbs cbs = {
	    .on_open = on_open,
	    .on_message = on_message,
	    .on_pong = on_pong,
	    .on_drain = on_drain,
	    .on_close = on_close,
	};
	struct wsk_client_opts co = {0};
	char err[WSK_ERRLEN], num[32];
	int r = 0;

	if (w->have_seq) {
		snprintf(num, sizeof(num), "%lld", w->last_seq);
		r = wsk_url_set_param(&w->url, "since", num);
		if (r == 0 && w->epoch)
			r = wsk_url_set_param(&w->url, "epoch", w->epoch);
	}
	co.url = &w->url;
	co.headers = w->o->headers;
	co.nheaders = w->o->nheaders;
	co.origin = w->o->origin;
	co.protocol = w->o->protocol;
	co.user_agent = "ws-watch/" WSK_VERSION;
	co.bearer = w->o->token;
	co.tls = w->tls;
	co.connect_timeout_ms = to_ms(w->o->connect_timeout);
	co.max_message = w->o->max_message;
	co.deflate = w->o->deflate;
	note(w, "connecting to '%s'", w->url.text);
	if (r == 0)
		r = wsk_client_connect(&w->c, w->cl, &co, &cbs, w, err,
				       sizeof(err));
	else
		snprintf(err, sizeof(err), "out of memory");
	if (r < 0) {
		say("cannot connect to '%s': %s", w->url.text, err);
		w->c = NULL;
		stop(w, WSK_EXIT_CONNECT);
	}
}

/* Ping frames detect a dead peer: a ping still unanswered when the next
 * one is due means the connection is gone, even if TCP has not noticed. */
static void ping_cb(uv_timer_t *t)
{
	struct watch *w = t->data;

	if (!w->c || !w->open)
		return;
	if (w->ping_waiting) {
		snprintf(w->dropped, sizeof(w->dropped), "no pong within %g s",
			 w->o->ping_interval);
		wsk_client_abort(w->c);
		return;
	}
	if (wsk_client_ping(w->c, "ws-watch", 8) == 0)
		w->ping_waiting = 1;
}

static void idle_cb(uv_timer_t *t)
{
	struct watch *w = t->data;

	say("timeout: no message for %g s", w->o->timeout);
	stop(w, WSK_EXIT_FAIL);
}

static void duration_cb(uv_timer_t *t)
{
	stop(t->data, WSK_EXIT_OK);
}

static void linger_cb(uv_timer_t *t)
{
	stop(t->data, WSK_EXIT_OK);
}

static void signal_cb(uv_signal_t *s, int signum)
{
	struct watch *w = s->data;

	(void)signum;
	if (++w->signals > 1 && w->c) {
		wsk_client_abort(w->c);
		return;
	}
	stop(w, WSK_EXIT_OK);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Closes every handle of the program; uv_run returns once they are gone.
 * The connection has ended already (on_close ran or none existed). */
static void shutdown_all(struct watch *w)
{
	if (w->fs_busy)
		uv_cancel((uv_req_t *)&w->fsreq);
	uv_walk(&w->loop, close_walk, NULL);
}

/* Ends the program with status: closes the connection cleanly (1000) if
 * it is open, or drops an attempt under way. */
static void stop(struct watch *w, int status)
{
	if (w->stopping)
		return;
	w->stopping = 1;
	w->status = status;
	if (w->in_kind == 1)
		uv_read_stop((uv_stream_t *)&w->in);
	if (w->c && w->open)
		wsk_client_close(w->c, 1000, NULL, 1000);
	else if (w->c)
		wsk_client_abort(w->c);
	else
		shutdown_all(w);
}

/* stdin */

static void stdin_read(struct watch *w);

static void maybe_linger(struct watch *w)
{
	if (!w->in_eof || w->lines || w->lingering || w->o->keep_open ||
	    !w->c || !w->open || wsk_client_queued(w->c) || w->stopping)
		return;
	w->lingering = 1;
	uv_timer_start(&w->linger_t, linger_cb, to_ms(w->o->linger), 0);
}

/* Sends the stdin lines waiting, while the connection takes them, and
 * reads more stdin when little is left. */
static void send_pending(struct watch *w)
{
	while (w->lines && w->c && w->open) {
		struct line *l = w->lines;

		if (wsk_client_queued(w->c) > STDIN_HIGH_WATER)
			break;
		if (wsk_client_send(w->c, WSK_WS_TEXT, l->data, l->len) < 0)
			break;
		w->lines = l->next;
		if (!w->lines)
			w->lines_tail = &w->lines;
		w->lines_bytes -= l->len;
		free(l);
	}
	if (w->in_paused && w->lines_bytes < STDIN_HIGH_WATER / 2 &&
	    (!w->c || wsk_client_queued(w->c) < STDIN_HIGH_WATER)) {
		w->in_paused = 0;
		stdin_read(w);
	}
	maybe_linger(w);
}

/* Queues a line of stdin of len bytes without its "\n"; last is its last
 * byte. p holds the line, or its first max_message + 1 bytes when it is
 * longer, and then it is dropped. */
static void add_line(struct watch *w, const char *p, size_t len, char last)
{
	struct line *l;

	if (len && last == '\r')
		len--;
	if (len == 0)
		return;
	if (len > w->o->max_message) {
		note(w,
		     "warning: stdin line of %zu bytes is over %llu and was "
		     "dropped",
		     len, (unsigned long long)w->o->max_message);
		return;
	}
	l = xrealloc(NULL, sizeof(*l) + len);
	l->next = NULL;
	l->len = len;
	memcpy(l->data, p, len);
	*w->lines_tail = l;
	w->lines_tail = &l->next;
	w->lines_bytes += len;
}

/* Adds n bytes to the line being read, keeping no more than one byte
 * over the limit. */
static void keep_partial(struct watch *w, const char *p, size_t n)
{
	size_t room = w->o->max_message + 1 - w->partial_len;

	if (n == 0)
		return;
	w->partial_total += n;
	w->partial_last = p[n - 1];
	if (n > room)
		n = room;
	w->partial = xrealloc(w->partial, w->partial_len + n + 1);
	memcpy(w->partial + w->partial_len, p, n);
	w->partial_len += n;
}

static void end_partial(struct watch *w)
{
	add_line(w, w->partial, w->partial_total, w->partial_last);
	w->partial_len = w->partial_total = 0;
}

/* Splits input into lines; a line may span reads. */
static void stdin_input(struct watch *w, const char *p, size_t n)
{
	const char *nl;

	while (n && (nl = memchr(p, '\n', n))) {
		size_t k = (size_t)(nl - p);

		if (w->partial_total) {
			keep_partial(w, p, k);
			end_partial(w);
		} else {
			add_line(w, p, k, k ? p[k - 1] : 0);
		}
		p += k + 1;
		n -= k + 1;
	}
	keep_partial(w, p, n);
}

static void stdin_eof(struct watch *w)
{
	w->in_eof = 1;
	if (w->partial_total)
		end_partial(w);
	info(w, "end of stdin");
	send_pending(w);
}

static void stdin_after_input(struct watch *w)
{
	send_pending(w);
	if (w->lines_bytes >= STDIN_HIGH_WATER ||
	    (w->c && wsk_client_queued(w->c) >= STDIN_HIGH_WATER))
		w->in_paused = 1;
}

static void in_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct watch *w = h->data;

	(void)hint;
	*buf = uv_buf_init(w->fsbuf, sizeof(w->fsbuf));
}

static void in_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct watch *w = s->data;

	if (n == 0)
		return;
	if (n < 0) {
		uv_read_stop(s);
		if (n != UV_EOF)
			note(w, "warning: reading stdin: %s",
			     uv_strerror((int)n));
		stdin_eof(w);
		return;
	}
	stdin_input(w, buf->base, (size_t)n);
	stdin_after_input(w);
	if (w->in_paused)
		uv_read_stop(s);
}

static void fs_read_cb(uv_fs_t *req)
{
	struct watch *w = req->data;
	ssize_t n = req->result;

	uv_fs_req_cleanup(req);
	w->fs_busy = 0;
	if (w->stopping)
		return;
	if (n <= 0) {
		if (n < 0)
			note(w, "warning: reading stdin: %s",
			     uv_strerror((int)n));
		stdin_eof(w);
		return;
	}
	stdin_input(w, w->fsbuf, (size_t)n);
	stdin_after_input(w);
	if (!w->in_paused)
		stdin_read(w);
}

/* Starts (or resumes) reading stdin. */
static void stdin_read(struct watch *w)
{
	uv_buf_t b = uv_buf_init(w->fsbuf, sizeof(w->fsbuf));
	int r;

	if (w->in_eof || w->stopping)
		return;
	if (w->in_kind == 1) {
		r = uv_read_start((uv_stream_t *)&w->in, in_alloc, in_read);
	} else {
		if (w->fs_busy)
			return;
		w->fsreq.data = w;
		r = uv_fs_read(&w->loop, &w->fsreq, 0, &b, 1, -1, fs_read_cb);
		if (r == 0)
			w->fs_busy = 1;
	}
	if (r < 0) {
		note(w, "warning: reading stdin: %s", uv_strerror(r));
		stdin_eof(w);
	}
}

/* Pipes, sockets and terminals are streams for libuv; files (and
 * /dev/null) are read through the thread pool with uv_fs_read. */
static void stdin_open(struct watch *w)
{
	uv_handle_type t = uv_guess_handle(0);
	int r = -1;

	if (t == UV_TTY) {
		r = uv_tty_init(&w->loop, &w->in.tty, 0, 1);
	} else if (t == UV_NAMED_PIPE || t == UV_TCP) {
		r = uv_pipe_init(&w->loop, &w->in.pipe, 0);
		if (r == 0) {
			r = uv_pipe_open(&w->in.pipe, 0);
			if (r < 0)
				uv_close((uv_handle_t *)&w->in.pipe, NULL);
		}
	}
	if (r == 0) {
		w->in_kind = 1;
		w->in.pipe.data = w;
	} else {
		w->in_kind = 2;
	}
	stdin_read(w);
}

int main(int argc, char **argv)
{
	static struct watch w;
	struct options o;
	char err[WSK_ERRLEN];
	const char *url;
	struct stat st;
	int r;

	wsk_cli_prog = prog;
	parse_args(&o, argc, argv);
	url = o.url;
	if (!url) {
		url = wsk_cli_env("WS_URL");
		if (!url)
			url = DEFAULT_URL;
	}
	if (wsk_url_parse(&w.url, url, err, sizeof(err)) < 0)
		wsk_cli_usage_error("%s", err);
	/* One TLS context for every connection of the run. A CA file that
	 * does not load is a bad option value. */
	if (w.url.is_tls && wsk_tls_client_ctx(&w.tls, o.cacert, o.insecure,
					       err, sizeof(err)) < 0)
		wsk_cli_usage_error("%s", err);
	signal(SIGPIPE, SIG_IGN);

	w.o = &o;
	w.lines_tail = &w.lines;
	w.last_seq = o.since;
	w.have_seq = o.since >= 0;
	if (uv_loop_init(&w.loop) < 0) {
		say("cannot start the event loop");
		return WSK_EXIT_FAIL;
	}
	w.cl = wsk_client_loop_new(&w.loop);
	if (!w.cl) {
		say("out of memory");
		return WSK_EXIT_FAIL;
	}
	uv_timer_init(&w.loop, &w.retry_t);
	uv_timer_init(&w.loop, &w.ping_t);
	uv_timer_init(&w.loop, &w.idle_t);
	uv_timer_init(&w.loop, &w.duration_t);
	uv_timer_init(&w.loop, &w.linger_t);
	w.retry_t.data = w.ping_t.data = w.idle_t.data = &w;
	w.duration_t.data = w.linger_t.data = &w;
	uv_signal_init(&w.loop, &w.sigint);
	uv_signal_init(&w.loop, &w.sigterm);
	w.sigint.data = w.sigterm.data = &w;
	uv_signal_start(&w.sigint, signal_cb, SIGINT);
	uv_signal_start(&w.sigterm, signal_cb, SIGTERM);
	/* Lines reach a pipe or terminal as they come; a file gets them
	 * before the loop waits for more. */
	w.line_flush = !(fstat(1, &st) == 0 && S_ISREG(st.st_mode));
	if (!w.line_flush) {
		uv_prepare_init(&w.loop, &w.flusher);
		w.flusher.data = &w;
		uv_prepare_start(&w.flusher, on_prepare);
	}
	if (o.timeout > 0)
		uv_timer_start(&w.idle_t, idle_cb, to_ms(o.timeout),
			       to_ms(o.timeout));
	if (o.duration > 0)
		uv_timer_start(&w.duration_t, duration_cb, to_ms(o.duration),
			       0);
	if (o.use_stdin)
		stdin_open(&w);
	do_connect(&w);

	uv_run(&w.loop, UV_RUN_DEFAULT);
	r = uv_loop_close(&w.loop);
	if (r < 0)
		info(&w, "event loop not empty at exit: %s", uv_strerror(r));
	wsk_client_loop_free(w.cl);
	wsk_tls_ctx_free(w.tls);
	wsk_url_release(&w.url);
	free(w.epoch);
	free(w.partial);
	while (w.lines) {
		struct line *l = w.lines;

		w.lines = l->next;
		free(l);
	}
	free(o.sends);
	free(o.types);
	free(o.headers);
	if (!w.stdout_dead && (fflush(stdout) != 0 || ferror(stdout)) &&
	    errno != EPIPE) {
		say("error writing to stdout: %s", strerror(errno));
		return WSK_EXIT_FAIL;
	}
	if (fclose(stdout) != 0 && errno != EPIPE && !w.stdout_dead) {
		say("error writing to stdout: %s", strerror(errno));
		return WSK_EXIT_FAIL;
	}
	return w.status;
}
