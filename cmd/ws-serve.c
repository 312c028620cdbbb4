/* ws-serve: the WebSocket + HTTP event server. Options, wiring and log
 * output; the server itself is lib/server.c. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "cli.h"
#include "events.h"
#include "server.h"

static const char *prog = "ws-serve";

struct options {
	struct wsk_server_opts srv;
	int quiet, verbose, json_log;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ws-serve [-hqVv] [-p port] [--host addr] [--web dir]\n"
	    "                [--interval min-max] [--seed n] [--history n]\n"
	    "                [--max-message bytes] [--max-queue bytes]\n"
	    "                [--log-format text|json]\n"
	    "\n"
	    "  -p, --port PORT         TCP port (default 3000; 0 picks a free "
	    "one)\n"
	    "      --host ADDR         address to bind (default 127.0.0.1)\n"
	    "      --web DIR           web page folder (default: web/ of the\n"
	    "                          checkout when run from one, else the\n"
	    "                          installed page)\n"
	    "      --interval MIN-MAX  ms between updates of one event "
	    "(default 2000-7000)\n"
	    "      --seed N            make the simulation reproducible\n"
	    "      --history N         updates kept for resuming clients "
	    "(default 1024)\n"
	    "      --max-message BYTES largest client message (default 64K)\n"
	    "      --max-queue BYTES   unsent bytes before a slow client is "
	    "closed\n"
	    "                          with 1008 (default 1M)\n"
	    "      --log-format FMT    text (default) or json\n"
	    "  -q, --quiet             log only warnings and errors\n"
	    "  -v, --verbose           also log every HTTP request\n"
	    "  -h, --help              show this help\n"
	    "  -V, --version           show the version\n");
}

static void die_usage(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	exit(WSK_EXIT_USAGE);
}

static void log_cb(void *arg, const struct wsk_log_rec *r)
{
	const struct options *o = arg;
	static const char *const lv[] = {"info", "warning", "error"};

	if (o->quiet && r->level == WSK_LOG_INFO)
		return;
	if (o->json_log) {
		json_t *j =
		    json_pack("{s:I,s:s,s:s}", "t", (json_int_t)wsk_now_ms(),
			      "level", lv[r->level], "event", r->event);
		char *s;

		if (!j)
			return;
		if (r->peer)
			json_object_set_new(j, "peer", json_string(r->peer));
		if (r->clients >= 0)
			json_object_set_new(j, "clients",
					    json_integer(r->clients));
		if (r->code)
			json_object_set_new(j, "code", json_integer(r->code));
		if (r->detail)
			json_object_set_new(j, "detail",
					    json_string(r->detail));
		s = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (s) {
			fprintf(stderr, "%s\n", s);
			free(s);
		}
		return;
	}
	fprintf(stderr, "%s: %s%s", prog,
		r->level == WSK_LOG_WARN    ? "warning: "
		: r->level == WSK_LOG_ERROR ? "error: "
					    : "",
		r->event);
	if (r->peer)
		fprintf(stderr, " %s", r->peer);
	if (r->code)
		fprintf(stderr, " %d", r->code);
	if (r->detail)
		fprintf(stderr, ": %s", r->detail);
	if (r->clients >= 0)
		fprintf(stderr, " (clients %ld)", r->clients);
	fputc('\n', stderr);
}

/* The page lives in the checkout's web/ when run from there (bin/ws-serve,
 * or build/asan/bin/ws-serve), in DATADIR/web once installed. */
static const char *default_web_dir(void)
{
	static const char *const up[] = {"/..", "/../../.."};
	static char dir[4200];
	char exe[4096], probe[4300];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;
	char *slash;
	size_t i;

	if (n <= 0)
		return WSK_DATADIR "/web";
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return WSK_DATADIR "/web";
	*slash = '\0';
	for (i = 0; i < sizeof(up) / sizeof(up[0]); i++) {
		if (snprintf(probe, sizeof(probe), "%s%s/web/index.html", exe,
			     up[i]) >= (int)sizeof(probe))
			continue;
		if (stat(probe, &st) == 0 &&
		    snprintf(dir, sizeof(dir), "%s%s/web", exe, up[i]) <
			(int)sizeof(dir))
			return dir;
	}
	return WSK_DATADIR "/web";
}

static void parse(int argc, char **argv, struct options *o)
{
	enum {
		OPT_HOST = 256,
		OPT_WEB,
		OPT_INTERVAL,
		OPT_SEED,
		OPT_HISTORY,
		OPT_MAXMSG,
		OPT_MAXQUEUE,
		OPT_LOGFMT,
	};
	static const struct option longopts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"host", required_argument, NULL, OPT_HOST},
	    {"web", required_argument, NULL, OPT_WEB},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"history", required_argument, NULL, OPT_HISTORY},
	    {"max-message", required_argument, NULL, OPT_MAXMSG},
	    {"max-queue", required_argument, NULL, OPT_MAXQUEUE},
	    {"log-format", required_argument, NULL, OPT_LOGFMT},
	    {"quiet", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	char err[WSK_ERRLEN];
	long long v;
	double lo, hi;
	uint64_t sz;
	int c;

	memset(o, 0, sizeof(*o));
	o->srv.host = "127.0.0.1";
	o->srv.port = 3000;
	o->srv.interval_min = 2000;
	o->srv.interval_max = 7000;
	o->srv.history = 1024;
	o->srv.max_message = 64 * 1024;
	o->srv.max_queue = 1024 * 1024;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:qvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (wsk_parse_int(optarg, 0, 65535, &v, err,
					  sizeof(err)))
				die_usage("--port: %s%s", err, "");
			o->srv.port = (int)v;
			break;
		case OPT_HOST: o->srv.host = optarg; break;
		case OPT_WEB: o->srv.web_dir = optarg; break;
		case OPT_INTERVAL:
			if (wsk_parse_range(optarg, 86400000, 1, &lo, &hi, err,
					    sizeof(err)))
				die_usage("--interval: %s%s", err, "");
			if (lo < 1)
				die_usage(
				    "--interval: '%s' must be at least 1 ms%s",
				    optarg, "");
			o->srv.interval_min = (unsigned)lo;
			o->srv.interval_max = (unsigned)hi;
			break;
		case OPT_SEED:
			if (wsk_parse_int(optarg, 0, INT64_MAX, &v, err,
					  sizeof(err)))
				die_usage("--seed: %s%s", err, "");
			o->srv.have_seed = 1;
			o->srv.seed = (uint64_t)v;
			break;
		case OPT_HISTORY:
			if (wsk_parse_int(optarg, 0, 10000000, &v, err,
					  sizeof(err)))
				die_usage("--history: %s%s", err, "");
			o->srv.history = (size_t)v;
			break;
		case OPT_MAXMSG:
			if (wsk_parse_size(optarg, 125, 16 << 20, &sz, err,
					   sizeof(err)))
				die_usage("--max-message: %s%s", err, "");
			o->srv.max_message = (size_t)sz;
			break;
		case OPT_MAXQUEUE:
			if (wsk_parse_size(optarg, 1024, (uint64_t)1 << 32, &sz,
					   err, sizeof(err)))
				die_usage("--max-queue: %s%s", err, "");
			o->srv.max_queue = (size_t)sz;
			break;
		case OPT_LOGFMT:
			if (strcmp(optarg, "json") == 0)
				o->json_log = 1;
			else if (strcmp(optarg, "text") != 0)
				die_usage(
				    "--log-format: '%s' is not text or json%s",
				    optarg, "");
			break;
		case 'q': o->quiet = 1; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("ws-serve %s\n", WSK_VERSION); exit(0);
		case ':':
			die_usage("option '%s' needs a value%s",
				  argv[optind - 1], "");
			break;
		default:
			die_usage("unknown option '%s'%s", argv[optind - 1],
				  "");
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'%s", argv[optind], "");
	if (o->quiet && o->verbose)
		die_usage("--quiet and --verbose conflict%s%s", "", "");
	if (!o->srv.web_dir)
		o->srv.web_dir = default_web_dir();
	o->srv.log_requests = o->verbose;
	o->srv.log = log_cb;
	o->srv.log_arg = o;
}

struct app {
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	struct wsk_server *srv;
	const struct options *opts;
};

static void on_closed_signal(uv_handle_t *h)
{
	(void)h;
}

static void on_server_done(void *arg)
{
	struct app *a = arg;

	uv_close((uv_handle_t *)&a->sigint, on_closed_signal);
	uv_close((uv_handle_t *)&a->sigterm, on_closed_signal);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct app *a = h->data;

	if (!a->opts->quiet)
		fprintf(stderr, "%s: %s: closing connections\n", prog,
			signum == SIGINT ? "interrupt" : "terminated");
	wsk_server_shutdown(a->srv, on_server_done, a);
}

/* One process may hold as many sockets as the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct options o;
	struct app a = {0};
	char err[WSK_ERRLEN];
	int r;

	parse(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	a.opts = &o;
	uv_loop_init(&a.loop);
	r = wsk_server_start(&a.srv, &a.loop, &o.srv, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		uv_loop_close(&a.loop);
		return WSK_EXIT_FAIL;
	}
	uv_signal_init(&a.loop, &a.sigint);
	uv_signal_init(&a.loop, &a.sigterm);
	a.sigint.data = a.sigterm.data = &a;
	uv_signal_start(&a.sigint, on_signal, SIGINT);
	uv_signal_start(&a.sigterm, on_signal, SIGTERM);
	/* Tests and scripts wait for this line; it is printed even with -q. */
	fprintf(stderr, "%s: listening on http://%s%s%s:%d/\n", prog,
		strchr(o.srv.host, ':') ? "[" : "", o.srv.host,
		strchr(o.srv.host, ':') ? "]" : "", wsk_server_port(a.srv));
	uv_run(&a.loop, UV_RUN_DEFAULT);
	wsk_server_free(a.srv);
	r = uv_loop_close(&a.loop);
	if (r != 0 && !o.quiet)
		fprintf(stderr, "%s: warning: handles left open at exit\n",
			prog);
	return 0;
}
