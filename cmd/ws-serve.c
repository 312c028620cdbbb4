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

#include "tool.h"
#include "events.h"
#include "redis.h"
#include "server.h"

static const char *prog = "ws-serve";

#define MAX_ORIGINS 64

struct options {
	struct wsk_server_opts srv;
	struct wsk_access access;
	const char *origins[MAX_ORIGINS];
	const char *tls_cert, *tls_key;
	int quiet, verbose, json_log;
};

static void usage(FILE *f)
{
	static const char text[] =
	    "usage: ws-serve [-hqVv] [-p port] [--host addr] [--web dir]\n"
	    "                [--interval min-max] [--seed n] [--history n]\n"
	    "                [--max-message bytes] [--max-queue bytes]\n"
	    "                [--max-clients n] [--msg-rate n/s] [--msg-burst "
	    "n]\n"
	    "                [--handshake-timeout secs] [--heartbeat secs]\n"
	    "                [--token token | --token-file file]\n"
	    "                [--allow-origin origin] [--echo] [--no-deflate]\n"
	    "                [--tls-cert file --tls-key file]\n"
	    "                [--redis url] [--lease secs] [--reuseport]\n"
	    "                [--stats-interval secs] [--log-format text|json]\n"
	    "\n"
	    "  -p, --port PORT           TCP port (default 3000; 0: a free "
	    "one)\n"
	    "      --host ADDR           address to bind (default 127.0.0.1)\n"
	    "      --web DIR             web page folder (default: web/ of "
	    "the\n"
	    "                            checkout run from, else the "
	    "installed\n"
	    "                            page)\n"
	    "      --interval MIN-MAX    ms between updates of one event\n"
	    "                            (default 2000-7000)\n"
	    "      --seed N              make the simulation reproducible\n"
	    "      --history N           updates kept for resuming clients\n"
	    "                            (default 1024)\n"
	    "      --max-message BYTES   largest client message (default 64K)\n"
	    "      --max-queue BYTES     unsent bytes before a client is slow\n"
	    "                            (default 1M)\n"
	    "      --max-clients N       open WebSockets; more get 503\n"
	    "                            (default 20000)\n"
	    "      --msg-rate N/s        messages per second per client\n"
	    "                            (default 1000/s; 0: no limit)\n"
	    "      --msg-burst N         messages at once (default 1000)\n"
	    "      --handshake-timeout S seconds to send a request (default "
	    "5)\n"
	    "      --heartbeat S         ping clients every S seconds "
	    "(default\n"
	    "                            30; 0: never)\n"
	    "      --token TOKEN         require Authorization: Bearer TOKEN\n"
	    "      --token-file FILE     the same, with the token read from "
	    "FILE\n"
	    "      --allow-origin ORIGIN allow this Origin only (repeatable)\n"
	    "      --echo                echo every message; no simulator\n"
	    "      --no-deflate          refuse permessage-deflate (offered\n"
	    "                            by browsers; on by default)\n"
	    "      --deflate             accept it (the default)\n"
	    "      --tls-cert FILE       serve wss:// and https:// with this "
	    "PEM\n"
	    "                            certificate chain\n"
	    "      --tls-key FILE        and this PEM private key\n"
	    "      --redis URL           share the stream with other "
	    "instances\n"
	    "                            through redis://HOST[:PORT][/DB]\n"
	    "      --lease SECS          simulator lease in Redis (default 3)\n"
	    "      --reuseport           share the port with other instances\n"
	    "                            started with --reuseport\n"
	    "                            (SO_REUSEPORT)\n"
	    "      --stats-interval SECS log a summary line every SECS "
	    "seconds\n"
	    "      --log-format FMT      text (default) or json\n"
	    "  -q, --quiet               log only warnings and errors\n"
	    "  -v, --verbose             also log every HTTP request\n"
	    "  -h, --help                show this help\n"
	    "  -V, --version             show the version\n";

	fputs(text, f);
}

static void log_cb(void *arg, const struct wsk_log_rec *r)
{
	const struct options *o = arg;
	static const char *const lv[] = {"info", "warning", "error"};

	/* The server drops its own records below log_min before making
	 * them; ws-serve's own, such as the shutdown line, meet it here. */
	if (r->level < o->srv.log_min)
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

static int readable_dir(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return 0;
	}
	return access(dir, R_OK | X_OK) == 0;
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

/* Reads the token from the first line of path into a static buffer. */
static const char *read_token(const char *path)
{
	static char tok[512];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		wsk_cli_usage_error("--token-file: cannot read '%s': %s", path,
				    strerror(errno));
	if (!fgets(tok, sizeof(tok), f))
		tok[0] = '\0';
	fclose(f);
	n = strcspn(tok, "\r\n");
	tok[n] = '\0';
	if (n == 0)
		wsk_cli_usage_error("--token-file: '%s' holds no token", path);
	return tok;
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
		OPT_MAXCLIENTS,
		OPT_MSGRATE,
		OPT_MSGBURST,
		OPT_HSTIMEOUT,
		OPT_HEARTBEAT,
		OPT_TOKEN,
		OPT_TOKENFILE,
		OPT_ORIGIN,
		OPT_ECHO,
		OPT_DEFLATE,
		OPT_NODEFLATE,
		OPT_TLSCERT,
		OPT_TLSKEY,
		OPT_REDIS,
		OPT_LEASE,
		OPT_REUSEPORT,
		OPT_STATS,
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
	    {"max-clients", required_argument, NULL, OPT_MAXCLIENTS},
	    {"msg-rate", required_argument, NULL, OPT_MSGRATE},
	    {"msg-burst", required_argument, NULL, OPT_MSGBURST},
	    {"handshake-timeout", required_argument, NULL, OPT_HSTIMEOUT},
	    {"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
	    {"token", required_argument, NULL, OPT_TOKEN},
	    {"token-file", required_argument, NULL, OPT_TOKENFILE},
	    {"allow-origin", required_argument, NULL, OPT_ORIGIN},
	    {"echo", no_argument, NULL, OPT_ECHO},
	    {"deflate", no_argument, NULL, OPT_DEFLATE},
	    {"no-deflate", no_argument, NULL, OPT_NODEFLATE},
	    {"tls-cert", required_argument, NULL, OPT_TLSCERT},
	    {"tls-key", required_argument, NULL, OPT_TLSKEY},
	    {"redis", required_argument, NULL, OPT_REDIS},
	    {"lease", required_argument, NULL, OPT_LEASE},
	    {"reuseport", no_argument, NULL, OPT_REUSEPORT},
	    {"stats-interval", required_argument, NULL, OPT_STATS},
	    {"log-format", required_argument, NULL, OPT_LOGFMT},
	    {"quiet", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	char err[WSK_ERRLEN], rate[64];
	double lo, hi;
	size_t n;
	int c, token_file = 0; /* how many of --token, --token-file */

	memset(o, 0, sizeof(*o));
	o->srv.host = "127.0.0.1";
	o->srv.port = 3000;
	o->srv.interval_min = 2000;
	o->srv.interval_max = 7000;
	o->srv.history = 1024;
	o->srv.max_message = 64 * 1024;
	o->srv.max_queue = 1024 * 1024;
	o->srv.max_clients = 20000;
	o->srv.msg_rate = 1000;
	o->srv.msg_burst = 1000;
	o->srv.handshake_timeout_ms = 5000;
	o->srv.heartbeat_ms = 30000;
	o->srv.lease_ms = 3000;
	o->srv.deflate = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:qvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->srv.port =
			    (int)wsk_cli_int("--port", optarg, 0, 65535);
			break;
		case OPT_HOST: o->srv.host = optarg; break;
		case OPT_WEB: o->srv.web_dir = optarg; break;
		case OPT_INTERVAL:
			if (wsk_parse_range(optarg, 86400000, 1, &lo, &hi, err,
					    sizeof(err)))
				wsk_cli_usage_error("--interval: %s", err);
			if (lo < 1)
				wsk_cli_usage_error(
				    "--interval: '%s' must be at least 1 ms",
				    optarg);
			o->srv.interval_min = (unsigned)lo;
			o->srv.interval_max = (unsigned)hi;
			break;
		case OPT_SEED:
			o->srv.have_seed = 1;
			o->srv.seed = (uint64_t)wsk_cli_int("--seed", optarg, 0,
							    INT64_MAX);
			break;
		case OPT_HISTORY:
			o->srv.history = (size_t)wsk_cli_int(
			    "--history", optarg, 0, 10000000);
			break;
		case OPT_MAXMSG:
			o->srv.max_message = (size_t)wsk_cli_size(
			    "--max-message", optarg, 125, 16 << 20);
			break;
		case OPT_MAXQUEUE:
			o->srv.max_queue = (size_t)wsk_cli_size(
			    "--max-queue", optarg, 1024, (uint64_t)1 << 32);
			break;
		case OPT_MAXCLIENTS:
			o->srv.max_clients = (long)wsk_cli_int(
			    "--max-clients", optarg, 1, 10000000);
			break;
		case OPT_MSGRATE:
			/* "N/s" as written in the docs, or a bare N. */
			n = strlen(optarg);
			if (n >= sizeof(rate))
				wsk_cli_usage_error(
				    "--msg-rate: '%s' is too long", optarg);
			memcpy(rate, optarg, n + 1);
			if (n > 2 && strcmp(rate + n - 2, "/s") == 0)
				rate[n - 2] = '\0';
			if (wsk_parse_seconds(rate, 1e9, &o->srv.msg_rate, err,
					      sizeof(err)) < 0)
				wsk_cli_usage_error(
				    "--msg-rate: '%s' is not a rate of 0 to "
				    "1e9 messages a second, such as 20/s",
				    optarg);
			break;
		case OPT_MSGBURST:
			o->srv.msg_burst = (double)wsk_cli_int(
			    "--msg-burst", optarg, 1, 1000000);
			break;
		case OPT_HSTIMEOUT:
			o->srv.handshake_timeout_ms =
			    (unsigned)(1000 *
				       wsk_cli_seconds("--handshake-timeout",
						       optarg, 3600));
			if (o->srv.handshake_timeout_ms == 0)
				wsk_cli_usage_error(
				    "--handshake-timeout: must be above 0");
			break;
		case OPT_HEARTBEAT:
			o->srv.heartbeat_ms =
			    (unsigned)(1000 * wsk_cli_seconds("--heartbeat",
							      optarg, 86400));
			break;
		case OPT_TOKEN:
			o->access.token = optarg;
			token_file++;
			break;
		case OPT_TOKENFILE:
			o->access.token = read_token(optarg);
			token_file++;
			break;
		case OPT_ORIGIN:
			if (o->access.norigins == MAX_ORIGINS)
				wsk_cli_usage_error(
				    "--allow-origin: at most %d origins",
				    MAX_ORIGINS);
			o->origins[o->access.norigins++] = optarg;
			break;
		case OPT_ECHO: o->srv.echo = 1; break;
		case OPT_DEFLATE: o->srv.deflate = 1; break;
		case OPT_NODEFLATE: o->srv.deflate = 0; break;
		case OPT_TLSCERT: o->tls_cert = optarg; break;
		case OPT_TLSKEY: o->tls_key = optarg; break;
		case OPT_REDIS:
			if (wsk_redis_check_url(optarg, err, sizeof(err)) < 0)
				wsk_cli_usage_error("--redis: %s", err);
			o->srv.redis_url = optarg;
			break;
		case OPT_STATS:
			o->srv.stats_ms =
			    (unsigned)(1000 *
				       wsk_cli_seconds("--stats-interval",
						       optarg, 86400));
			break;
		case OPT_LEASE:
			o->srv.lease_ms =
			    (unsigned)(1000 * wsk_cli_seconds("--lease", optarg,
							      3600));
			if (o->srv.lease_ms < 300)
				wsk_cli_usage_error(
				    "--lease: at least 0.3 seconds");
			break;
		case OPT_REUSEPORT: o->srv.reuseport = 1; break;
		case OPT_LOGFMT:
			if (strcmp(optarg, "json") == 0)
				o->json_log = 1;
			else if (strcmp(optarg, "text") != 0)
				wsk_cli_usage_error(
				    "--log-format: '%s' is not text or json",
				    optarg);
			break;
		case 'q': o->quiet = 1; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("ws-serve %s\n", WSK_VERSION); exit(0);
		default: wsk_cli_bad_option(c, argv[optind - 1], optopt);
		}
	}
	if (optind < argc)
		wsk_cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (o->srv.redis_url && o->srv.echo)
		wsk_cli_usage_error("--redis and --echo conflict");
	if (!o->tls_cert != !o->tls_key)
		wsk_cli_usage_error("--tls-cert and --tls-key go together");
	if (o->quiet && o->verbose)
		wsk_cli_usage_error("--quiet and --verbose conflict");
	if (token_file > 1)
		wsk_cli_usage_error("--token and --token-file conflict");
	if (o->access.token && !o->access.token[0])
		wsk_cli_usage_error("--token: the token is empty");
	if (o->srv.web_dir && !readable_dir(o->srv.web_dir))
		wsk_cli_usage_error("--web: cannot read the folder '%s': %s",
				    o->srv.web_dir, strerror(errno));
	if (!o->srv.web_dir)
		o->srv.web_dir = default_web_dir();
	o->access.origins = o->origins;
	o->srv.access = &o->access;
	o->srv.log_requests = o->verbose;
	o->srv.log = log_cb;
	o->srv.log_arg = o;
	o->srv.log_min = o->quiet ? WSK_LOG_WARN : WSK_LOG_INFO;
}

struct app {
	uv_loop_t loop;
	/* SIGINT, SIGTERM and SIGHUP: a clean shutdown for each. */
	uv_signal_t sig[3];
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
	int i;

	for (i = 0; i < 3; i++)
		uv_close((uv_handle_t *)&a->sig[i], on_closed_signal);
}

/* A server with no page still streams; say why GET / will be a 404. */
static void warn_no_page(const struct options *o)
{
	char path[4200], detail[4300];
	struct wsk_log_rec rec = {WSK_LOG_WARN, "web", NULL, -1, 0, detail};

	snprintf(path, sizeof(path), "%s/index.html", o->srv.web_dir);
	if (access(path, R_OK) == 0)
		return;
	snprintf(detail, sizeof(detail), "no page: cannot read '%s': %s", path,
		 strerror(errno));
	log_cb((void *)o, &rec);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct app *a = h->data;
	struct wsk_log_rec rec = {WSK_LOG_INFO,
				  "shutdown",
				  NULL,
				  -1,
				  0,
				  signum == SIGINT   ? "interrupt"
				  : signum == SIGHUP ? "hangup"
						     : "terminated"};

	log_cb((void *)a->opts, &rec);
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
	int r, i;

	wsk_cli_prog = prog;
	parse(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	a.opts = &o;
	if (o.tls_cert && wsk_tls_server_ctx(&o.srv.tls, o.tls_cert, o.tls_key,
					     err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return WSK_EXIT_FAIL;
	}
	uv_loop_init(&a.loop);
	r = wsk_server_start(&a.srv, &a.loop, &o.srv, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		uv_loop_close(&a.loop);
		wsk_tls_ctx_free(o.srv.tls);
		return WSK_EXIT_FAIL;
	}
	/* SIGHUP too: the terminal of `make run` closing must not cut the
	 * clients without their 1001. There is no configuration to reload. */
	for (i = 0; i < 3; i++) {
		static const int signals[3] = {SIGINT, SIGTERM, SIGHUP};

		uv_signal_init(&a.loop, &a.sig[i]);
		a.sig[i].data = &a;
		uv_signal_start(&a.sig[i], on_signal, signals[i]);
	}
	/* Tests and scripts wait for this line; it is printed even with -q. */
	fprintf(stderr, "%s: listening on %s://%s%s%s:%d/\n", prog,
		o.srv.tls ? "https" : "http",
		strchr(o.srv.host, ':') ? "[" : "", o.srv.host,
		strchr(o.srv.host, ':') ? "]" : "", wsk_server_port(a.srv));
	warn_no_page(&o);
	uv_run(&a.loop, UV_RUN_DEFAULT);
	wsk_server_free(a.srv);
	wsk_tls_ctx_free(o.srv.tls);
	r = uv_loop_close(&a.loop);
	if (r != 0 && !o.quiet)
		fprintf(stderr, "%s: warning: handles left open at exit\n",
			prog);
	return 0;
}
