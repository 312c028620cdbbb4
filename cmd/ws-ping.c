/* ws-ping: measures how fast a WebSocket server answers, the way ping(8)
 * does for ICMP, and drives many connections at once for load tests.
 *
 * Structure. The main thread owns a control loop: signals, the -w
 * deadline, and a wake-up async through which the workers report. Each
 * worker thread owns a uv_loop_t, its share of the connections, and its
 * own histograms and counters; the main thread merges them after joining
 * the threads, so nothing is shared while probes run except a few fields
 * under run.lock.
 *
 * The first connection is a scout: it alone resolves the host and tries
 * every address. Once it is open, every other connection goes straight to
 * the address that worked, so ten thousand clients cost one lookup and no
 * refused attempts on addresses the server does not listen on.
 *
 * A connection keeps its outstanding probes in a ring indexed by seq:
 * the send time of each, 0 once answered or timed out. One timer per
 * connection watches the oldest outstanding probe (they all have the same
 * -W), so timeouts cost one timer and no per-probe allocation.
 *
 * Two more load modes serve scripts/bench. --subscribe opens connections
 * that only listen, and measures the server's fan-out: deliveries per
 * second, the delay from each UPDATE's "ts" to its arrival, the spread of
 * arrivals of one update across clients, and gaps in seq. Its window
 * opens when every client is connected, which the main thread announces
 * through run.measure_t0. --storm makes each client connect, complete the
 * handshake, close and start again, counting handshakes. */
#include "tool.h"
#include "client.h"
#include "hist.h"
#include "hrtimer.h"
#include "tls.h"
#include "url.h"

#include <jansson.h>
#include <uv.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PROG "ws-ping"
#define DEFAULT_URL "ws://localhost:3000/"
#define SECS_MAX 1e7
#define CONNECT_TIMEOUT_DEFAULT 10.0
#define CLIENTS_MAX 1000000
#define PIPELINE_MAX 65536
#define THREADS_MAX 256
#define SIZE_MAX_APP ((uint64_t)16 << 20)
#define FRAME_PAYLOAD_MAX 125
/* Connection attempts in progress at a time, over all threads: a burst
 * of thousands of SYNs would overflow the server's accept queue and turn
 * into one-second retransmissions, which is no measure of the server. */
#define CONNECT_WINDOW 512
/* Probes whose slot comes within this much of now go with the one being
 * sent: on this kind of VM each wake-up of the pacer costs about what a
 * probe does, and at 20,000 probes a second (a slot every 50 us) waking
 * for each one kept ws-ping at 90-99% of its CPU. With 100 us, two or
 * three go together, ws-ping ran at 40-61%, and the RTT percentiles did
 * not get worse (p99 0.24-0.43 ms in five runs, 0.30-0.38 without). */
#define PACE_SLACK_NS 100000

/* How long a closing connection waits for the server's close frame. */
#define CLOSE_TIMEOUT_MS 1000
/* Descriptors kept aside for stdio, the loops and the resolver. */
#define FDS_PER_LOOP 4
#define FDS_SPARE 8
/* --source addresses, at most. */
#define SOURCES_MAX 256

enum {
	OPT_CONNECT_RATE = 256,
	OPT_CONNECT_TIMEOUT,
	OPT_JSON,
	OPT_MODE,
	OPT_ORIGIN,
	OPT_PIPELINE,
	OPT_PROTOCOL,
	OPT_SOURCE,
	OPT_STORM,
	OPT_SUBSCRIBE,
	OPT_THREADS,
	OPT_CACERT,
	OPT_TOKEN,
	OPT_DEFLATE,
	OPT_NO_DEFLATE,
};

static const struct option long_options[] = {
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"deflate", no_argument, NULL, OPT_DEFLATE},
    {"no-deflate", no_argument, NULL, OPT_NO_DEFLATE},
    {"clients", required_argument, NULL, 'C'},
    {"connect-rate", required_argument, NULL, OPT_CONNECT_RATE},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"count", required_argument, NULL, 'c'},
    {"deadline", required_argument, NULL, 'w'},
    {"header", required_argument, NULL, 'H'},
    {"help", no_argument, NULL, 'h'},
    {"insecure", no_argument, NULL, 'k'},
    {"interval", required_argument, NULL, 'i'},
    {"json", no_argument, NULL, OPT_JSON},
    {"mode", required_argument, NULL, OPT_MODE},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"pipeline", required_argument, NULL, OPT_PIPELINE},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"quiet", no_argument, NULL, 'q'},
    {"size", required_argument, NULL, 's'},
    {"source", required_argument, NULL, OPT_SOURCE},
    {"storm", no_argument, NULL, OPT_STORM},
    {"subscribe", no_argument, NULL, OPT_SUBSCRIBE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"timeout", required_argument, NULL, 'W'},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"verbose", no_argument, NULL, 'v'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

enum mode { MODE_APP, MODE_FRAME };

/* What a load-mode connection does: probe (the default), only listen
 * (--subscribe), or open and close over and over (--storm). */
enum load { LOAD_PROBE, LOAD_SUBSCRIBE, LOAD_STORM };

/* Seqs whose arrivals the spread table keeps, at most, per thread: 4M
 * updates are hours at any rate the simulator makes. */
#define SPREAD_MAX ((size_t)1 << 22)

/* Everything the command line and the environment say; const once parsed. */
struct options {
	struct wsk_url url;
	const char **headers;
	size_t nheaders;
	const char *origin;
	const char *protocol;
	/* --token or $WS_TOKEN, --cacert and -k, and the TLS settings made
	 * from them for wss://, one for every thread. */
	const char *token, *cacert;
	int insecure;
	int deflate; /* offer permessage-deflate */
	struct wsk_tls_ctx *tls;
	/* --source: local addresses the clients bind to, in turn. */
	struct sockaddr_storage *sources;
	size_t nsources;
	uint64_t count;	      /* probes per connection; 0 = until stopped */
	uint64_t interval_ns; /* between probes; 0 = back to back */
	uint64_t timeout_ns;  /* -W: wait for each reply */
	uint64_t deadline_ms; /* -w: the whole run; 0 = none */
	uint64_t connect_timeout_ms;
	uint64_t size;	     /* pad each probe to this many bytes */
	long clients;	     /* connections */
	double connect_rate; /* new connections per second; 0 = no limit */
	unsigned pipeline;   /* probes in flight per connection with -i 0 */
	unsigned threads;
	enum mode mode;
	enum load kind;
	int load; /* -C, --subscribe or --storm given: load mode */
	int json, quiet, verbose;
};

struct worker;

enum conn_state { C_IDLE, C_CONNECTING, C_OPEN, C_CLOSING, C_DONE };

struct conn {
	struct worker *w;
	struct wsk_client *client; /* NULL before connect and after on_close */
	uv_timer_t timeout_timer;  /* -W: the oldest outstanding probe */
	uint64_t *sent;		   /* ring: send time (ns) by seq, 0 = done */
	uint64_t mask;		   /* ring size - 1 */
	uint64_t lo;		   /* oldest seq that may be outstanding */
	uint64_t next;		   /* seq of the next probe; the first is 1 */
	uint64_t inflight;
	int64_t last_seq; /* --subscribe: newest seq seen, -1 before INITIAL */
	uint64_t cycles;  /* --storm: handshakes made */
	int handles;	  /* handles not yet closed */
	enum conn_state st;
	int ours; /* we began the close */
};

/* --subscribe: when each update reached the first and the last client
 * of this thread, and how many clients it reached, indexed by seq - base. */
struct arrival {
	uint64_t first, last; /* uv_hrtime() */
	uint32_t count;
};

struct spread {
	uint64_t base; /* seq of e[0]; set by the first update measured */
	size_t size, cap;
	struct arrival *e;
	uint64_t overflow; /* arrivals not kept: past SPREAD_MAX or too old */
};

/* One thread: a loop, its connections and its results. */
struct worker {
	struct run *run;
	const struct options *o;
	unsigned id;
	uv_thread_t thread;
	uv_loop_t loop;
	uv_async_t stop_async;
	uv_timer_t rate_timer;
	/* -i > 0: probes leave one at a time, every interval / nconns, to
	 * the connections in turn, so that each sends one per interval and
	 * the server sees them evenly spread, not in bursts. */
	struct wsk_hrtimer pacer;
	int pacer_init;
	uint64_t pace_due, pace_step;
	long pace_next;
	struct wsk_client_loop *cl;
	uv_mutex_t lock;
	int ready;	/* under lock: stop_async exists */
	int closed;	/* under lock: stop_async is closed */
	int stop_level; /* under lock: what the main thread asked for */

	struct conn *conns;
	long first; /* index of conns[0] among all the run's clients */
	long nconns, started, connecting, live;
	long window;
	double rate; /* connections per second for this worker; 0 = any */
	uint64_t rate_t0;
	int rate_timer_on;
	int scouting; /* worker 0 until its first connection ends setup */
	int stopping; /* stop level applied */
	int use_addr;
	struct sockaddr_storage addr;
	char *buf; /* probe text */
	size_t bufsize;

	/* Results, read by the main thread after the join. */
	struct wsk_hist *rtt, *hs, *tcp;
	uint64_t sent, received, timeouts, late, ignored;
	long connected, failed, dropped;
	int first_error;
	char first_msg[200];
	uint64_t t_first, t_last; /* first probe sent; last probe resolved */
	uint64_t connect_us, handshake_us; /* of the first connection */
	/* --subscribe and --storm. */
	int steady;	      /* every connection of this thread has opened
				 or failed; told to the main thread once */
	uint64_t t_open_last; /* the last on_open */
	struct wsk_hist *lat; /* UPDATE ts to arrival, microseconds */
	struct spread sp;
	uint64_t deliveries, missed, disorder;
	/* --subscribe: bytes read from the sockets before the window's first
	 * delivery and up to its last one, and the messages' own bytes. */
	uint64_t wire0, wire1, msg_bytes;
	long close_errors;
};

/* The control side, on the main thread. */
struct run {
	const struct options *o;
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	uv_timer_t deadline;
	uv_async_t wake;
	uv_mutex_t lock;
	/* Under lock, written by the workers. */
	int scout;	  /* 0 under way, 1 open, -1 failed */
	int stop_request; /* standard output went away */
	int out_error;	  /* errno of a failed write to stdout, or 0 */
	unsigned done;	  /* workers whose loop has ended */
	unsigned steady;  /* workers whose connections have all opened */
	char peer[INET6_ADDRSTRLEN + 16];
	struct sockaddr_storage addr; /* where the scout connected */
	/* Main thread only. */
	struct worker *workers;
	unsigned nworkers, started;
	int stopping; /* 0, 1 close politely, 2 drop at once */
	int deadline_hit, signalled, closing;
	uint64_t t_start, t_stop; /* the run began; the first stop */
	/* --subscribe: the start of the measured window, 0 before; written
	 * by the main thread, read by the workers atomically. */
	uint64_t measure_t0;
};

static void usage_synopsis(FILE *fp)
{
	fputs("usage: " PROG " [-hkqVv] [-C clients] [-c count] [-H header] "
	      "[-i interval]\n"
	      "               [-s size] [-W timeout] [-w deadline] "
	      "[--cacert file]\n"
	      "               [--connect-rate rate] [--connect-timeout secs] "
	      "[--deflate]\n"
	      "               [--json] [--mode app|frame] [--origin origin] "
	      "[--pipeline k]\n"
	      "               [--protocol proto] [--source addr[,addr...]]\n"
	      "               [--storm | --subscribe] [--threads n] "
	      "[--token token]\n"
	      "               [url]\n",
	      fp);
}

static void help(void)
{
	static const char *const text[] = {
	    "",
	    "Send probes to a WebSocket server and print the round-trip time",
	    "of each reply, like ping(8). url defaults to $WS_URL, else",
	    DEFAULT_URL ".",
	    "",
	    "  -c, --count n          stop after n probes (per client with -C)",
	    "  -i, --interval secs    wait secs between probes (default 1);",
	    "                         0 sends the next one when a reply comes",
	    "  -W, --timeout secs     wait secs for each reply (default 5)",
	    "  -w, --deadline secs    stop after secs seconds in all",
	    "  -s, --size bytes       pad each probe to bytes",
	    "  --mode app|frame       probe with PING messages (app, default)",
	    "                         or with ping control frames (frame)",
	    "  --json                 print one JSON object per reply and one",
	    "                         for the summary",
	    "  -q, --quiet            print the summary only",
	    "  -v, --verbose          print the handshake and more detail",
	    "  -H, --header 'Name: value'",
	    "                         add a handshake header (repeatable)",
	    "  --origin origin        send Origin: origin",
	    "  --protocol proto       ask for subprotocol proto",
	    "  --connect-timeout secs give up connecting after secs (default "
	    "10)",
	    "  --source addr[,addr...]",
	    "                         bind the clients to these local IP",
	    "                         addresses, in turn",
	    "  --token token          send Authorization: Bearer token",
	    "                         (default $WS_TOKEN)",
	    "  --cacert file          verify wss:// servers with the CAs in",
	    "                         file (default: the system's)",
	    "  -k, --insecure         do not verify the server certificate",
	    "  --deflate              offer permessage-deflate (default: not;",
	    "                         --no-deflate undoes it)",
	    "Load mode:",
	    "  -C, --clients n        open n connections, each probing",
	    "  --connect-rate rate    open at most rate connections a second",
	    "  --pipeline k           keep k probes in flight with -i 0",
	    "  --threads n            spread the clients over n threads",
	    "  --subscribe            only listen, and report deliveries/s,",
	    "                         UPDATE latency, fan-out spread and",
	    "                         missed updates",
	    "  --storm                connect, handshake, close, repeat; -c",
	    "                         counts handshakes per client",
	    "",
	    "  -h, --help             print this help and exit",
	    "  -V, --version          print the version and exit",
	    "",
	    "Exit status: 0 a reply came, 1 no reply, 2 usage, 3 cannot "
	    "connect.",
	};
	size_t i;

	usage_synopsis(stdout);
	for (i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		puts(text[i]);
}

static void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errmsg(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL) {
		errmsg("out of memory");
		exit(WSK_EXIT_FAIL);
	}
	return p;
}

static double option_positive(const char *name, const char *arg)
{
	double v = wsk_cli_seconds(name, arg, SECS_MAX);

	if (v < 0.001)
		wsk_cli_usage_error("%s: '%s' must be at least 0.001", name,
				    arg);
	return v;
}

static unsigned cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > THREADS_MAX ? THREADS_MAX : (unsigned)n;
}

/* Adds the comma-separated IP literals of --source to o->sources. They
 * must be of one family: every client but the first connects to the
 * address the first one reached, which a source of the other family
 * cannot. */
static void parse_sources(struct options *o, const char *arg)
{
	const char *p = arg, *end;
	char ip[INET6_ADDRSTRLEN + 1];
	struct sockaddr_storage *ss;
	size_t n;

	do {
		end = strchr(p, ',');
		n = end ? (size_t)(end - p) : strlen(p);
		if (n == 0 || n >= sizeof(ip))
			wsk_cli_usage_error(
			    "--source: '%.*s' is not an IP address", (int)n, p);
		memcpy(ip, p, n);
		ip[n] = '\0';
		if (o->nsources == SOURCES_MAX)
			wsk_cli_usage_error("--source: at most %d addresses",
					    SOURCES_MAX);
		if (o->sources == NULL)
			o->sources = xcalloc(SOURCES_MAX, sizeof(*o->sources));
		ss = &o->sources[o->nsources];
		if (uv_ip4_addr(ip, 0, (struct sockaddr_in *)ss) != 0 &&
		    uv_ip6_addr(ip, 0, (struct sockaddr_in6 *)ss) != 0)
			wsk_cli_usage_error(
			    "--source: '%s' is not an IP address", ip);
		if (o->nsources > 0 && ss->ss_family != o->sources[0].ss_family)
			wsk_cli_usage_error(
			    "--source: '%s' and the first address are "
			    "not both IPv4 or both IPv6",
			    ip);
		o->nsources++;
		p = end ? end + 1 : NULL;
	} while (p != NULL);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	char err[WSK_ERRLEN];
	const char *url;
	double v;
	int c, given_rate = 0, given_pipeline = 0, given_threads = 0;
	int given_count = 0;
	const char *probe_opt = NULL; /* an option that only probing uses */
	uint64_t size = 0;

	memset(o, 0, sizeof(*o));
	o->headers = xcalloc((size_t)argc, sizeof(*o->headers));
	o->interval_ns = 1000000000ull;
	o->timeout_ns = 5000000000ull;
	o->connect_timeout_ms = (uint64_t)(CONNECT_TIMEOUT_DEFAULT * 1000);
	o->clients = 1;
	o->pipeline = 1;
	opterr = 0;
	for (;;) {
		c = getopt_long(argc, argv,
				":C:c:H:hi:kqs:VvW:w:", long_options, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'C':
			o->clients = (long)wsk_cli_int("--clients", optarg, 1,
						       CLIENTS_MAX);
			o->load = 1;
			break;
		case OPT_CONNECT_RATE:
			o->connect_rate =
			    wsk_cli_seconds("--connect-rate", optarg, SECS_MAX);
			if (o->connect_rate <= 0)
				wsk_cli_usage_error(
				    "--connect-rate: '%s' must be more "
				    "than 0",
				    optarg);
			given_rate = 1;
			break;
		case OPT_CONNECT_TIMEOUT:
			v = option_positive("--connect-timeout", optarg);
			o->connect_timeout_ms = (uint64_t)llround(v * 1000);
			break;
		case 'c':
			o->count = (uint64_t)wsk_cli_int("--count", optarg, 1,
							 1000000000);
			given_count = 1;
			break;
		case 'H':
			if (wsk_client_check_header(optarg, err, sizeof(err)) <
			    0)
				wsk_cli_usage_error("--header: %s", err);
			o->headers[o->nheaders++] = optarg;
			break;
		case 'h': help(); exit(WSK_EXIT_OK);
		case 'i':
			v = wsk_cli_seconds("--interval", optarg, SECS_MAX);
			if (v > 0 && v < 0.001)
				wsk_cli_usage_error(
				    "--interval: '%s' is below 1 ms "
				    "(0 sends back to back)",
				    optarg);
			/* To the microsecond: with -C 50 -i 0.0025 the rate is
			 * 20000 probes a second, not 16667. */
			o->interval_ns = (uint64_t)llround(v * 1e6) * 1000;
			probe_opt = "--interval";
			break;
		case OPT_JSON: o->json = 1; break;
		case OPT_MODE:
			if (strcmp(optarg, "app") == 0)
				o->mode = MODE_APP;
			else if (strcmp(optarg, "frame") == 0)
				o->mode = MODE_FRAME;
			else
				wsk_cli_usage_error(
				    "--mode: '%s' is not app or frame", optarg);
			probe_opt = "--mode";
			break;
		case OPT_ORIGIN:
			if (strpbrk(optarg, "\r\n") != NULL)
				wsk_cli_usage_error("--origin: bad origin");
			o->origin = optarg;
			break;
		case OPT_PIPELINE:
			o->pipeline = (unsigned)wsk_cli_int(
			    "--pipeline", optarg, 1, PIPELINE_MAX);
			given_pipeline = 1;
			probe_opt = "--pipeline";
			break;
		case OPT_PROTOCOL:
			if (*optarg == '\0' || strpbrk(optarg, "\r\n") != NULL)
				wsk_cli_usage_error("--protocol: bad protocol");
			o->protocol = optarg;
			break;
		case OPT_TOKEN:
			if (*optarg == '\0' || strpbrk(optarg, "\r\n") != NULL)
				wsk_cli_usage_error("--token: bad token");
			o->token = optarg;
			break;
		case OPT_CACERT: o->cacert = optarg; break;
		case OPT_DEFLATE: o->deflate = 1; break;
		case OPT_NO_DEFLATE: o->deflate = 0; break;
		case OPT_SOURCE: parse_sources(o, optarg); break;
		case 'k': o->insecure = 1; break;
		case 'q': o->quiet = 1; break;
		case 's':
			if (wsk_parse_size(optarg, 0, SIZE_MAX_APP, &size, err,
					   sizeof(err)) < 0)
				wsk_cli_usage_error("--size: %s", err);
			o->size = size;
			probe_opt = "--size";
			break;
		case OPT_STORM:
		case OPT_SUBSCRIBE:
			if (o->kind != LOAD_PROBE &&
			    o->kind !=
				(c == OPT_STORM ? LOAD_STORM : LOAD_SUBSCRIBE))
				wsk_cli_usage_error(
				    "--storm and --subscribe cannot be "
				    "used together");
			o->kind = c == OPT_STORM ? LOAD_STORM : LOAD_SUBSCRIBE;
			o->load = 1;
			break;
		case OPT_THREADS:
			o->threads = (unsigned)wsk_cli_int("--threads", optarg,
							   1, THREADS_MAX);
			given_threads = 1;
			break;
		case 'V': printf(PROG " %s\n", WSK_VERSION); exit(WSK_EXIT_OK);
		case 'v': o->verbose = 1; break;
		case 'W':
			v = option_positive("--timeout", optarg);
			o->timeout_ns = (uint64_t)llround(v * 1e9);
			probe_opt = "--timeout";
			break;
		case 'w':
			v = option_positive("--deadline", optarg);
			o->deadline_ms = (uint64_t)llround(v * 1000);
			break;
		default: wsk_cli_bad_option(c, argv[optind - 1], optopt);
		}
	}
	if (o->quiet && o->verbose)
		wsk_cli_usage_error(
		    "--quiet and --verbose cannot be used together");
	if (o->kind != LOAD_PROBE && probe_opt != NULL)
		wsk_cli_usage_error("%s and %s cannot be used together",
				    o->kind == LOAD_STORM ? "--storm"
							  : "--subscribe",
				    probe_opt);
	if (o->kind == LOAD_SUBSCRIBE && given_count)
		wsk_cli_usage_error(
		    "--subscribe and --count cannot be used together");
	if (given_pipeline && o->interval_ns != 0)
		wsk_cli_usage_error("--pipeline needs --interval 0");
	if (given_rate && !o->load)
		wsk_cli_usage_error("--connect-rate needs --clients");
	if (given_threads && !o->load)
		wsk_cli_usage_error("--threads needs --clients");
	if (o->mode == MODE_FRAME && o->size > FRAME_PAYLOAD_MAX)
		wsk_cli_usage_error(
		    "--size: a ping frame holds at most %d bytes",
		    FRAME_PAYLOAD_MAX);
	if (argc - optind > 1)
		wsk_cli_usage_error("too many arguments: '%s'",
				    argv[optind + 1]);
	url = optind < argc ? argv[optind] : wsk_cli_env("WS_URL");
	if (url == NULL)
		url = DEFAULT_URL;
	if (wsk_url_parse(&o->url, url, err, sizeof(err)) < 0)
		wsk_cli_usage_error("bad URL %s", err);
	if (o->token == NULL) {
		o->token = wsk_cli_env("WS_TOKEN");
		if (o->token != NULL && strpbrk(o->token, "\r\n") != NULL)
			wsk_cli_usage_error("WS_TOKEN: bad token");
	}
	wsk_cli_check_cacert(o->cacert);
	if (o->url.is_tls && wsk_tls_client_ctx(&o->tls, o->cacert, o->insecure,
						err, sizeof(err)) < 0)
		wsk_cli_usage_error("%s", err);
	if (!o->load)
		o->threads = 1;
	else if (!given_threads)
		o->threads = cpu_count();
	if ((long)o->threads > o->clients)
		o->threads = (unsigned)o->clients;
}

/* Counts the descriptors open now. */
static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	long n = 0;

	if (d == NULL)
		return 3;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	/* ".", ".." and the directory's own descriptor. */
	return n > 3 ? n - 3 : 0;
}

/* Raises the soft limit on open files to the hard one and refuses a
 * --clients this process could not hold. */
static void check_fd_limit(const struct options *o)
{
	struct rlimit rl;
	long cap;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = rl;

		if (want.rlim_max == RLIM_INFINITY)
			want.rlim_cur = 1 << 20;
		else
			want.rlim_cur = want.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	if (rl.rlim_cur == RLIM_INFINITY || !o->load)
		return;
	cap = (long)rl.rlim_cur - open_fds() - FDS_SPARE -
	      FDS_PER_LOOP * (long)(o->threads + 1);
	if (o->clients > cap)
		wsk_cli_usage_error(
		    "--clients: %ld is more than this process can "
		    "hold (%ld with an open file limit of %llu)",
		    o->clients, cap < 0 ? 0 : cap,
		    (unsigned long long)rl.rlim_cur);
}

/* "127.0.0.1:3000" or "[::1]:3000". */
static void format_addr(const struct sockaddr *sa, char *out, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(out, size, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, size, "%s:%u", host, ntohs(s4->sin_port));
	}
}

/* ---- Output, from worker 0 in single mode. ---- */

/* Ends a line of data: flushes it, and when standard output has gone
 * away asks the main thread to stop (quietly if it was EPIPE). */
static void out_flush(struct worker *w)
{
	struct run *r = w->run;
	int err;

	if (fflush(stdout) == 0 && !ferror(stdout))
		return;
	err = errno ? errno : EIO;
	uv_mutex_lock(&r->lock);
	if (!r->stop_request) {
		r->stop_request = 1;
		r->out_error = err;
	}
	uv_mutex_unlock(&r->lock);
	uv_async_send(&r->wake);
}

static int printing(const struct worker *w)
{
	return !w->o->load && !w->o->quiet && !w->run->stop_request;
}

static void print_reply(struct worker *w, uint64_t seq, uint64_t us)
{
	if (!printing(w))
		return;
	if (w->o->json)
		printf("{\"seq\":%llu,\"time_ms\":%.3f}\n",
		       (unsigned long long)seq, (double)us / 1000);
	else
		printf("PONG from %s: seq=%llu time=%.3f ms\n", w->run->peer,
		       (unsigned long long)seq, (double)us / 1000);
	out_flush(w);
}

static void print_timeout(struct worker *w, uint64_t seq)
{
	if (!printing(w))
		return;
	if (w->o->json)
		printf("{\"seq\":%llu,\"timeout\":true}\n",
		       (unsigned long long)seq);
	else
		printf("timeout: seq=%llu\n", (unsigned long long)seq);
	out_flush(w);
}

/* -v: the handshake on standard error, curl-style. */
static void print_handshake(const struct wsk_client_open *info)
{
	const struct wsk_http *h = info->response;
	const char *p = info->request, *e;
	unsigned i;

	while (*p != '\0' && *p != '\r') {
		e = strstr(p, "\r\n");
		if (e == NULL)
			break;
		/* The token stays off terminals and logs, as in ws-watch. */
		if (strncasecmp(p, "Authorization:", 14) == 0)
			fprintf(stderr, "> %.14s (hidden)\n", p);
		else
			fprintf(stderr, "> %.*s\n", (int)(e - p), p);
		p = e + 2;
	}
	fprintf(stderr, "< HTTP/1.1 %d\n", wsk_http_status(h));
	for (i = 0; i < h->nhdr; i++)
		fprintf(stderr, "< %.*s: %.*s\n", (int)h->hdr[i].name_len,
			h->buf + h->hdr[i].name, (int)h->hdr[i].value_len,
			h->buf + h->hdr[i].value);
	fprintf(stderr,
		PROG ": resolve %.3f ms, connect %.3f ms, handshake "
		     "%.3f ms\n",
		(double)info->resolve_us / 1000,
		(double)info->connect_us / 1000,
		(double)info->handshake_us / 1000);
}

/* ---- Probes. ---- */

static void conn_finish(struct conn *k);
static void start_more(struct worker *w);
static void worker_check_done(struct worker *w);

static void touch_last(struct worker *w, uint64_t now)
{
	if (now > w->t_last)
		w->t_last = now;
}

/* Makes room in the ring for one more seq past next. */
static int ring_reserve(struct conn *k)
{
	uint64_t size = k->mask + 1, nsize, s, *ns;

	if (k->next - k->lo < size)
		return 0;
	nsize = size * 2;
	ns = calloc(nsize, sizeof(*ns));
	if (ns == NULL)
		return -1;
	for (s = k->lo; s < k->next; s++)
		ns[s & (nsize - 1)] = k->sent[s & k->mask];
	free(k->sent);
	k->sent = ns;
	k->mask = nsize - 1;
	return 0;
}

/* The probe text for seq in w->buf; returns its length. App mode:
 * {"type":"PING","timestamp":SEQ} padded to --size with a "pad" member,
 * or with blanks where a member would not fit. Frame mode: SEQ in decimal,
 * padded with dots. */
static size_t make_probe(struct worker *w, uint64_t seq)
{
	const struct options *o = w->o;
	char *b = w->buf;
	size_t n, pad;

	if (o->mode == MODE_FRAME) {
		n = (size_t)snprintf(b, w->bufsize, "%llu",
				     (unsigned long long)seq);
		if (o->size > n) {
			memset(b + n, '.', o->size - n);
			n = o->size;
		}
		return n;
	}
	n = (size_t)snprintf(b, w->bufsize,
			     "{\"type\":\"PING\",\"timestamp\":%llu",
			     (unsigned long long)seq);
	/* n + 1 for the closing brace; ,"pad":"" takes 9 more. */
	if (o->size >= n + 1 + 9) {
		pad = o->size - (n + 1 + 9);
		memcpy(b + n, ",\"pad\":\"", 8);
		n += 8;
		memset(b + n, 'x', pad);
		n += pad;
		b[n++] = '"';
	} else if (o->size > n + 1) {
		pad = o->size - (n + 1);
		memset(b + n, ' ', pad);
		n += pad;
	}
	b[n++] = '}';
	return n;
}

static void on_timeout_timer(uv_timer_t *t);

static void arm_timeout(struct conn *k, uint64_t now)
{
	const struct options *o = k->w->o;
	uint64_t t, due, ms;

	while (k->lo < k->next && k->sent[k->lo & k->mask] == 0)
		k->lo++;
	if (k->lo == k->next) {
		uv_timer_stop(&k->timeout_timer);
		return;
	}
	if (uv_is_active((uv_handle_t *)&k->timeout_timer))
		return;
	t = k->sent[k->lo & k->mask];
	due = t + o->timeout_ns;
	ms = due > now ? (due - now + 999999) / 1000000 : 0;
	uv_timer_start(&k->timeout_timer, on_timeout_timer, ms ? ms : 1, 0);
}

static void send_probe(struct conn *k)
{
	struct worker *w = k->w;
	uint64_t seq = k->next, now;
	size_t n;
	int r;

	if (ring_reserve(k) < 0) {
		conn_finish(k);
		return;
	}
	n = make_probe(w, seq);
	now = uv_hrtime();
	if (w->o->mode == MODE_FRAME)
		r = wsk_client_ping(k->client, w->buf, n);
	else
		r = wsk_client_send(k->client, WSK_WS_TEXT, w->buf, n);
	if (r < 0) {
		/* -EPIPE: the server began closing; on_close follows. */
		if (r != -EPIPE)
			conn_finish(k);
		return;
	}
	k->sent[seq & k->mask] = now;
	k->next++;
	k->inflight++;
	w->sent++;
	if (w->t_first == 0 || now < w->t_first)
		w->t_first = now;
	arm_timeout(k, now);
}

static int all_sent(const struct conn *k)
{
	return k->w->o->count != 0 && k->next - 1 >= k->w->o->count;
}

/* After a probe was answered or timed out: keep -i 0 going, and end the
 * connection once -c probes are all accounted for. */
static void probe_resolved(struct conn *k)
{
	const struct options *o = k->w->o;

	if (k->st != C_OPEN)
		return;
	if (o->interval_ns == 0)
		while (k->st == C_OPEN && k->inflight < o->pipeline &&
		       !all_sent(k))
			send_probe(k);
	if (k->st == C_OPEN && all_sent(k) && k->inflight == 0)
		conn_finish(k);
}

static void got_reply(struct conn *k, uint64_t seq)
{
	struct worker *w = k->w;
	uint64_t now = uv_hrtime(), t, us;

	if (seq < k->lo || seq >= k->next || k->sent[seq & k->mask] == 0) {
		w->late++;
		return;
	}
	t = k->sent[seq & k->mask];
	k->sent[seq & k->mask] = 0;
	k->inflight--;
	us = (now - t) / 1000;
	wsk_hist_record(w->rtt, us);
	w->received++;
	touch_last(w, now);
	print_reply(w, seq, us);
	arm_timeout(k, now);
	probe_resolved(k);
}

static void on_timeout_timer(uv_timer_t *t)
{
	struct conn *k = t->data;
	struct worker *w = k->w;
	uint64_t now = uv_hrtime(), sent;
	int expired = 0;

	while (k->lo < k->next) {
		sent = k->sent[k->lo & k->mask];
		if (sent != 0 && sent + w->o->timeout_ns > now)
			break;
		if (sent != 0) {
			k->sent[k->lo & k->mask] = 0;
			k->inflight--;
			w->timeouts++;
			expired++;
			touch_last(w, now);
			print_timeout(w, k->lo);
		}
		k->lo++;
	}
	arm_timeout(k, now);
	if (expired)
		probe_resolved(k);
}

static void pace_arm(struct worker *w);
static void worker_stop(struct worker *w, int level);

/* Sends the probes whose time has come and sleeps until the next one.
 * Slots advance by exactly interval / nconns from the first, each to the
 * next connection in turn; a connection that is not open (or has sent -c
 * probes) lets its slot go by. A timer with nanosecond resolution keeps
 * the spacing: at 20,000 probes a second a slot is 50 us, and libuv's
 * millisecond timers would send twenty at once (PACE_SLACK_NS lets two or
 * three go together). After a stall of more than a second the schedule
 * starts afresh rather than send a burst. */
static void on_pace(struct wsk_hrtimer *t)
{
	struct worker *w = t->data;
	uint64_t now = uv_hrtime();
	struct conn *k;
	long n = 0;

	while (!w->stopping && w->pace_due <= now + PACE_SLACK_NS &&
	       n++ < w->nconns) {
		k = &w->conns[w->pace_next];
		if (++w->pace_next == w->nconns)
			w->pace_next = 0;
		w->pace_due += w->pace_step;
		if (k->st == C_OPEN && !all_sent(k))
			send_probe(k);
	}
	if (w->pace_due + 1000000000ull < now)
		w->pace_due = now + w->pace_step;
	if (!w->stopping && w->live > 0)
		pace_arm(w);
}

static void pace_arm(struct worker *w)
{
	int r = wsk_hrtimer_start(&w->pacer, on_pace, w->pace_due);

	if (r < 0) {
		errmsg("cannot set the probe timer: %s", uv_strerror(r));
		worker_stop(w, 2);
	}
}

/* A connection opened: its first probe goes now if the pacer is idle,
 * as ping(8) sends its first at once, else at its slot. */
static void pace_open(struct conn *k)
{
	struct worker *w = k->w;

	if (wsk_hrtimer_is_set(&w->pacer))
		return;
	w->pace_due = uv_hrtime();
	w->pace_next = k - w->conns;
	pace_arm(w);
}

/* Reads the decimal number (19 digits at most) at the start of
 * p[0..len) into *out; returns how many digits it took, 0 if none. */
static size_t read_uint(const uint8_t *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len && p[i] >= '0' && p[i] <= '9' && i < 19; i++)
		v = v * 10 + (uint64_t)(p[i] - '0');
	if (i > 0)
		*out = v;
	return i;
}

/* ---- --subscribe. ---- */

enum sub_msg { SUB_OTHER, SUB_INITIAL, SUB_UPDATE };

/* The unsigned integer after key (such as "\"seq\":") in p[0..len).
 * Returns -1 when the key is absent or no digits follow. The quotes of a
 * key cannot occur inside a JSON string, where they would be escaped, so
 * the first match is a member's; the protocol's events hold no "seq" or
 * "ts" of their own. */
static int member_uint(const uint8_t *p, size_t len, const char *key,
		       uint64_t *out)
{
	size_t klen = strlen(key), at;
	const uint8_t *m = memmem(p, len, key, klen);

	if (m == NULL)
		return -1;
	at = (size_t)(m - p) + klen;
	return read_uint(p + at, len - at, out) > 0 ? 0 : -1;
}

/* What a message is, with its seq and (UPDATE) ts. Both servers write
 * compact JSON, read here without a parse; anything else is parsed. */
static enum sub_msg sub_classify(const uint8_t *p, size_t len, uint64_t *seq,
				 uint64_t *ts, int *has_ts)
{
	enum sub_msg kind = SUB_OTHER;
	json_t *doc, *v;
	json_error_t jerr;
	const char *type;

	*has_ts = 0;
	if (memmem(p, len, "\"type\":\"UPDATE\"", 15) != NULL)
		kind = SUB_UPDATE;
	else if (memmem(p, len, "\"type\":\"INITIAL\"", 16) != NULL)
		kind = SUB_INITIAL;
	if (kind != SUB_OTHER && member_uint(p, len, "\"seq\":", seq) == 0) {
		if (kind == SUB_UPDATE)
			*has_ts = member_uint(p, len, "\"ts\":", ts) == 0;
		return kind;
	}
	doc = json_loadb((const char *)p, len, 0, &jerr);
	type = json_string_value(json_object_get(doc, "type"));
	v = json_object_get(doc, "seq");
	kind = SUB_OTHER;
	if (type != NULL && json_is_integer(v) && json_integer_value(v) >= 0) {
		*seq = (uint64_t)json_integer_value(v);
		if (strcmp(type, "INITIAL") == 0)
			kind = SUB_INITIAL;
		else if (strcmp(type, "UPDATE") == 0)
			kind = SUB_UPDATE;
		v = json_object_get(doc, "ts");
		if (kind == SUB_UPDATE && json_is_integer(v) &&
		    json_integer_value(v) >= 0) {
			*ts = (uint64_t)json_integer_value(v);
			*has_ts = 1;
		}
	}
	json_decref(doc);
	return kind;
}

/* Counts one arrival of seq at time now in the thread's spread table. */
static void spread_add(struct spread *sp, uint64_t seq, uint64_t now)
{
	struct arrival *a;
	size_t i, ncap;

	if (sp->cap == 0)
		sp->base = seq;
	/* Before base: some client had it before the window opened. */
	if (seq < sp->base || seq - sp->base >= SPREAD_MAX) {
		sp->overflow++;
		return;
	}
	i = (size_t)(seq - sp->base);
	if (i >= sp->cap) {
		ncap = sp->cap ? sp->cap : 4096;
		while (ncap <= i)
			ncap *= 2;
		a = realloc(sp->e, ncap * sizeof(*a));
		if (a == NULL) {
			sp->overflow++;
			return;
		}
		memset(a + sp->cap, 0, (ncap - sp->cap) * sizeof(*a));
		sp->e = a;
		sp->cap = ncap;
	}
	if (i >= sp->size)
		sp->size = i + 1;
	a = &sp->e[i];
	if (a->count == 0 || now < a->first)
		a->first = now;
	if (now > a->last)
		a->last = now;
	a->count++;
}

/* An INITIAL or UPDATE on a listening connection: seq gaps always, and
 * inside the window (all clients open, not stopping) the delivery, its
 * latency from "ts" and its arrival time. */
static void sub_message(struct conn *k, const uint8_t *data, size_t len)
{
	struct worker *w = k->w;
	uint64_t seq = 0, ts = 0, t0, now, ts_us, real_us;
	struct timespec tv;
	int has_ts;
	enum sub_msg kind = sub_classify(data, len, &seq, &ts, &has_ts);

	if (kind == SUB_OTHER) {
		w->ignored++;
		return;
	}
	if (kind == SUB_INITIAL) {
		k->last_seq = (int64_t)seq;
		return;
	}
	if (k->last_seq >= 0) {
		if (seq > (uint64_t)k->last_seq + 1)
			w->missed += seq - (uint64_t)k->last_seq - 1;
		if (seq <= (uint64_t)k->last_seq)
			w->disorder++;
		else
			k->last_seq = (int64_t)seq;
	}
	t0 = __atomic_load_n(&w->run->measure_t0, __ATOMIC_ACQUIRE);
	if (t0 == 0 || w->stopping)
		return;
	now = uv_hrtime();
	/* The window's bytes run from the start of the read that carried its
	 * first delivery to the end of the one that carried its last. */
	if (w->deliveries++ == 0)
		w->wire0 = wsk_client_loop_bytes_in(w->cl) -
			   wsk_client_loop_last_read(w->cl);
	w->wire1 = wsk_client_loop_bytes_in(w->cl);
	w->msg_bytes += len;
	if (has_ts) {
		/* The server's wall clock is ours: same machine. ts counts
		 * whole milliseconds, so this is up to 1 ms too high. */
		clock_gettime(CLOCK_REALTIME, &tv);
		real_us =
		    (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_nsec / 1000;
		ts_us = ts * 1000;
		wsk_hist_record(w->lat, real_us > ts_us ? real_us - ts_us : 0);
	}
	spread_add(&w->sp, seq, now);
}

/* The seq echoed by a PONG in the compact form both servers write,
 * {"type":"PONG","timestamp":SEQ,...}, read without a parse: jansson was
 * a tenth of ws-ping's CPU in back-to-back load. Returns -1 for any other
 * form, which on_message then parses. */
static int pong_seq(const uint8_t *p, size_t len, uint64_t *seq)
{
	static const char pre[] = "{\"type\":\"PONG\",\"timestamp\":";
	const size_t n = sizeof(pre) - 1;
	uint64_t v;
	size_t d;

	if (len < n + 2 || memcmp(p, pre, n) != 0 || p[len - 1] != '}')
		return -1;
	d = read_uint(p + n, len - n, &v);
	/* Digits, then the end of the member; a leading 0 only alone. */
	if (d == 0 || (p[n + d] != ',' && p[n + d] != '}') ||
	    (p[n] == '0' && d > 1))
		return -1;
	*seq = v;
	return 0;
}

static void on_message(struct wsk_client *c, int opcode, const uint8_t *data,
		       size_t len, void *user_data)
{
	struct conn *k = user_data;
	json_t *doc, *ts;
	const char *type;
	json_error_t jerr;
	double d;
	uint64_t seq = 0;
	int found = 0;

	(void)c;
	if (k->w->o->kind == LOAD_SUBSCRIBE && opcode == WSK_WS_TEXT) {
		sub_message(k, data, len);
		return;
	}
	/* UPDATEs and INITIALs go by without the cost of a parse. */
	if (k->w->o->mode != MODE_APP || opcode != WSK_WS_TEXT ||
	    memmem(data, len, "PONG", 4) == NULL) {
		k->w->ignored++;
		return;
	}
	if (pong_seq(data, len, &seq) == 0) {
		got_reply(k, seq);
		return;
	}
	doc = json_loadb((const char *)data, len, 0, &jerr);
	type = json_string_value(json_object_get(doc, "type"));
	ts = json_object_get(doc, "timestamp");
	if (type != NULL && strcmp(type, "PONG") == 0) {
		/* The echo equals what was sent, though it may be spelt
		 * differently (3.0 for 3). */
		if (json_is_integer(ts) && json_integer_value(ts) >= 0) {
			seq = (uint64_t)json_integer_value(ts);
			found = 1;
		} else if (json_is_real(ts)) {
			d = json_real_value(ts);
			if (d >= 0 && d < 9e15 && d == floor(d)) {
				seq = (uint64_t)d;
				found = 1;
			}
		}
	}
	json_decref(doc);
	if (found)
		got_reply(k, seq);
	else
		k->w->ignored++;
}

static void on_pong(struct wsk_client *c, const uint8_t *data, size_t len,
		    void *user_data)
{
	struct conn *k = user_data;
	uint64_t seq;

	(void)c;
	if (k->w->o->mode != MODE_FRAME || read_uint(data, len, &seq) == 0) {
		k->w->ignored++;
		return;
	}
	got_reply(k, seq);
}

/* ---- Connections. ---- */

static void conn_start(struct worker *w, struct conn *k);

/* --subscribe: tells the main thread once that every connection of this
 * thread has opened or failed, so that the window may open. */
static void worker_steady(struct worker *w)
{
	struct run *r = w->run;

	if (w->o->kind != LOAD_SUBSCRIBE || w->steady || w->scouting ||
	    w->started < w->nconns || w->connecting > 0)
		return;
	w->steady = 1;
	uv_mutex_lock(&r->lock);
	r->steady++;
	uv_mutex_unlock(&r->lock);
	uv_async_send(&r->wake);
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct conn *k = h->data;
	struct worker *w = k->w;

	if (--k->handles > 0)
		return;
	free(k->sent);
	k->sent = NULL;
	k->st = C_DONE;
	w->live--;
	/* --storm: the same client goes round again, -c times at most. */
	if (w->o->kind == LOAD_STORM && !w->stopping && !w->scouting &&
	    (w->o->count == 0 || k->cycles < w->o->count))
		conn_start(w, k);
	start_more(w);
	worker_check_done(w);
}

static void conn_release(struct conn *k)
{
	uv_close((uv_handle_t *)&k->timeout_timer, conn_handle_closed);
}

/* Stops probing and closes politely; outstanding probes count as lost. */
static void conn_finish(struct conn *k)
{
	struct worker *w = k->w;
	int r;

	if (k->st != C_OPEN)
		return;
	k->st = C_CLOSING;
	k->ours = 1;
	uv_timer_stop(&k->timeout_timer);
	/* The run lasts until probing stops, as ping's time does. */
	touch_last(w, uv_hrtime());
	r = wsk_client_close(k->client, 1000, NULL, CLOSE_TIMEOUT_MS);
	/* -EPIPE: the server's close is under way already. */
	if (r < 0 && r != -EPIPE)
		wsk_client_abort(k->client);
}

/* Tells the main thread how the scout did. */
static void scout_report(struct worker *w, int state, const char *peer)
{
	struct run *r = w->run;

	uv_mutex_lock(&r->lock);
	r->scout = state;
	if (peer != NULL) {
		snprintf(r->peer, sizeof(r->peer), "%s", peer);
		r->addr = w->addr;
	}
	uv_mutex_unlock(&r->lock);
	uv_async_send(&r->wake);
}

static void on_open(struct wsk_client *c, const struct wsk_client_open *info,
		    void *user_data)
{
	struct conn *k = user_data;
	struct worker *w = k->w;
	const struct options *o = w->o;
	char peer[INET6_ADDRSTRLEN + 16];
	size_t size;

	(void)c;
	w->connecting--;
	w->connected++;
	k->st = C_OPEN;
	wsk_hist_record(w->tcp, info->connect_us);
	wsk_hist_record(w->hs, info->handshake_us);
	if (w->scouting) {
		w->scouting = 0;
		w->connect_us = info->connect_us;
		w->handshake_us = info->handshake_us;
		memcpy(&w->addr, info->peer,
		       info->peer->sa_family == AF_INET6
			   ? sizeof(struct sockaddr_in6)
			   : sizeof(struct sockaddr_in));
		w->use_addr = 1;
		format_addr(info->peer, peer, sizeof(peer));
		scout_report(w, 1, peer);
		if (o->verbose && !o->load)
			print_handshake(info);
		if (!o->quiet && !o->json) {
			if (o->load)
				printf("WS-PING %s (%s): %ld clients, %u "
				       "thread%s\n",
				       o->url.text, peer, o->clients,
				       o->threads, o->threads == 1 ? "" : "s");
			else
				printf("WS-PING %s (%s): connect %.3f ms, "
				       "handshake %.3f ms\n",
				       o->url.text, peer,
				       (double)info->connect_us / 1000,
				       (double)info->handshake_us / 1000);
			out_flush(w);
		}
	}
	w->t_open_last = uv_hrtime();
	if (w->stopping || o->kind == LOAD_STORM) {
		/* --storm: the handshake is done; close, and go round again
		 * from conn_handle_closed. */
		conn_finish(k);
		start_more(w);
		return;
	}
	if (o->kind == LOAD_SUBSCRIBE) {
		k->last_seq = -1;
		start_more(w);
		worker_steady(w);
		return;
	}
	size = o->interval_ns == 0 ? o->pipeline : 8;
	size = size < 8 ? 8 : size;
	while (size & (size - 1))
		size++;
	k->sent = calloc(size, sizeof(*k->sent));
	if (k->sent == NULL) {
		k->st = C_CLOSING;
		wsk_client_abort(k->client);
		return;
	}
	k->mask = size - 1;
	k->lo = k->next = 1;
	if (o->interval_ns == 0) {
		probe_resolved(k);
	} else {
		pace_open(k);
	}
	start_more(w);
}

static void record_failure(struct worker *w, int error, const char *message)
{
	w->failed++;
	if (w->first_error == 0) {
		w->first_error = error ? error : -1;
		snprintf(w->first_msg, sizeof(w->first_msg), "%s",
			 message && *message ? message
					     : wsk_client_strerror(error));
	}
	if (w->o->verbose && w->o->load)
		errmsg("a client could not connect: %s",
		       message && *message ? message
					   : wsk_client_strerror(error));
}

static void on_close(struct wsk_client *c, const struct wsk_client_close *info,
		     void *user_data)
{
	struct conn *k = user_data;
	struct worker *w = k->w;
	const struct options *o = w->o;

	(void)c;
	k->client = NULL;
	uv_timer_stop(&k->timeout_timer);
	if (!info->opened) {
		w->connecting--;
		/* Giving up at a stop is not the server's failure, except for
		 * the scout: without it nothing was measured. */
		if (!w->stopping || w->scouting)
			record_failure(w, info->error, info->message);
		if (w->scouting) {
			w->scouting = 0;
			/* Nothing else starts on this worker. */
			w->stopping = w->stopping ? w->stopping : 1;
			scout_report(w, -1, NULL);
		}
		worker_steady(w);
	} else if (o->kind == LOAD_STORM && k->ours) {
		touch_last(w, uv_hrtime());
		if (info->error && info->error != WSK_CLIENT_E_ABORTED) {
			w->close_errors++;
			if (o->verbose)
				errmsg("a close failed: %s", info->message);
		}
	} else if (!k->ours) {
		touch_last(w, uv_hrtime());
		w->dropped++;
		if (!o->quiet && (!o->load || o->verbose)) {
			if (info->error)
				errmsg("connection to '%s' lost: %s",
				       o->url.text, info->message);
			else
				errmsg("connection to '%s' closed by the "
				       "server: %u%s%s",
				       o->url.text, info->code,
				       *info->reason ? " " : "", info->reason);
		}
	} else if (o->verbose && !o->load) {
		errmsg("closed: sent %u, received %u%s%s", info->sent_code,
		       info->code, info->error ? ": " : "",
		       info->error ? info->message : "");
	}
	k->st = C_CLOSING;
	conn_release(k);
}

static const struct wsk_client_cbs client_cbs = {
    .on_open = on_open,
    .on_message = on_message,
    .on_pong = on_pong,
    .on_close = on_close,
};

static void conn_start(struct worker *w, struct conn *k)
{
	const struct options *o = w->o;
	struct wsk_client_opts co;
	char err[WSK_ERRLEN];
	int r;

	k->w = w;
	uv_timer_init(&w->loop, &k->timeout_timer);
	k->timeout_timer.data = k;
	k->handles = 1;
	k->st = C_CONNECTING;
	k->ours = 0;
	k->cycles++;
	w->live++;
	w->connecting++;
	memset(&co, 0, sizeof(co));
	co.url = &o->url;
	co.headers = o->headers;
	co.nheaders = o->nheaders;
	co.origin = o->origin;
	co.protocol = o->protocol;
	co.user_agent = PROG "/" WSK_VERSION;
	co.connect_timeout_ms = o->connect_timeout_ms;
	co.bearer = o->token;
	co.tls = o->tls;
	co.deflate = o->deflate;
	if (w->use_addr)
		co.addr = (const struct sockaddr *)&w->addr;
	/* By the client's place in the run, so that the sources take
	 * equal shares whatever the threads, and a --storm client keeps
	 * its own. */
	if (o->nsources) {
		size_t i = (size_t)(w->first + (k - w->conns)) % o->nsources;

		co.bind = (const struct sockaddr *)&o->sources[i];
	}
	r = wsk_client_connect(&k->client, w->cl, &co, &client_cbs, k, err,
			       sizeof(err));
	if (r < 0) {
		k->client = NULL;
		w->connecting--;
		record_failure(w, r, err);
		if (w->scouting) {
			w->scouting = 0;
			w->stopping = 1;
			scout_report(w, -1, NULL);
		}
		k->st = C_CLOSING;
		conn_release(k);
		worker_steady(w);
	}
}

/* ---- Workers. ---- */

static void on_rate_timer(uv_timer_t *t)
{
	start_more(t->data);
}

/* Starts connections while the window and --connect-rate allow. */
static void start_more(struct worker *w)
{
	uint64_t allowed;
	double period;

	while (!w->stopping && !w->scouting && w->started < w->nconns &&
	       w->connecting < w->window) {
		if (w->rate > 0) {
			allowed =
			    (uint64_t)((double)(uv_hrtime() - w->rate_t0) /
				       1e9 * w->rate) +
			    1;
			if ((uint64_t)w->started >= allowed) {
				if (!w->rate_timer_on) {
					period = 1000 / w->rate;
					uv_timer_start(
					    &w->rate_timer, on_rate_timer,
					    period < 1 ? 1 : (uint64_t)period,
					    period < 1 ? 1 : (uint64_t)period);
					w->rate_timer_on = 1;
				}
				return;
			}
		}
		conn_start(w, &w->conns[w->started++]);
	}
	if (w->rate_timer_on && (w->stopping || w->started == w->nconns)) {
		uv_timer_stop(&w->rate_timer);
		w->rate_timer_on = 0;
	}
}

static void worker_check_done(struct worker *w)
{
	if (w->live > 0 || w->scouting ||
	    (!w->stopping && w->started < w->nconns))
		return;
	uv_mutex_lock(&w->lock);
	if (!w->closed) {
		w->closed = 1;
		uv_close((uv_handle_t *)&w->stop_async, NULL);
		uv_close((uv_handle_t *)&w->rate_timer, NULL);
		if (w->pacer_init)
			wsk_hrtimer_close(&w->pacer, NULL);
	}
	uv_mutex_unlock(&w->lock);
}

static void on_stop_async(uv_async_t *a)
{
	struct worker *w = a->data;
	int level;

	uv_mutex_lock(&w->lock);
	level = w->stop_level;
	uv_mutex_unlock(&w->lock);
	worker_stop(w, level);
}

/* Level 1 closes the connections politely, 2 drops them at once. */
static void worker_stop(struct worker *w, int level)
{
	long i;

	if (level <= w->stopping)
		return;
	w->stopping = level;
	for (i = 0; i < w->started; i++) {
		struct conn *k = &w->conns[i];

		if (k->client == NULL)
			continue;
		if (k->st == C_OPEN && level < 2) {
			conn_finish(k);
			continue;
		}
		/* A close handshake under way may finish unless hurried. */
		if (k->st == C_CLOSING && level < 2)
			continue;
		if (k->st == C_OPEN)
			touch_last(w, uv_hrtime());
		k->ours = 1;
		wsk_client_abort(k->client);
	}
	start_more(w);
	worker_check_done(w);
}

static void worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	int pr = 0;

	uv_loop_init(&w->loop);
	w->cl = wsk_client_loop_new(&w->loop);
	uv_async_init(&w->loop, &w->stop_async, on_stop_async);
	w->stop_async.data = w;
	uv_timer_init(&w->loop, &w->rate_timer);
	w->rate_timer.data = w;
	w->rate_t0 = uv_hrtime();
	if (r->o->interval_ns > 0 && r->o->kind == LOAD_PROBE) {
		pr = wsk_hrtimer_init(&w->loop, &w->pacer);
		w->pacer_init = pr == 0;
		w->pacer.data = w;
		w->pace_step = r->o->interval_ns / (uint64_t)w->nconns;
	}
	uv_mutex_lock(&w->lock);
	w->ready = 1;
	/* A stop that came before stop_async existed. */
	if (w->stop_level > 0)
		uv_async_send(&w->stop_async);
	uv_mutex_unlock(&w->lock);
	if (w->id > 0) {
		uv_mutex_lock(&r->lock);
		w->addr = r->addr;
		uv_mutex_unlock(&r->lock);
		w->use_addr = 1;
	}
	if (w->cl == NULL || pr < 0) {
		w->stopping = 2;
		record_failure(w, pr < 0 ? pr : -ENOMEM,
			       pr < 0 ? "cannot make a timer"
				      : "out of memory");
		if (w->id == 0)
			scout_report(w, -1, NULL);
		w->scouting = 0;
	} else if (w->id == 0) {
		/* The scout alone, until it is open. */
		w->scouting = 1;
		w->started = 1;
		conn_start(w, &w->conns[0]);
	} else {
		start_more(w);
	}
	worker_check_done(w);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	uv_loop_close(&w->loop);
	wsk_client_loop_free(w->cl);
	uv_mutex_lock(&r->lock);
	r->done++;
	uv_mutex_unlock(&r->lock);
	uv_async_send(&r->wake);
}

static void worker_init(struct worker *w, struct run *r, unsigned id,
			long nconns)
{
	const struct options *o = r->o;

	memset(w, 0, sizeof(*w));
	w->run = r;
	w->o = o;
	w->id = id;
	w->nconns = nconns;
	w->conns = xcalloc((size_t)nconns, sizeof(*w->conns));
	w->window = CONNECT_WINDOW / (long)o->threads;
	if (w->window < 1)
		w->window = 1;
	w->rate = o->connect_rate / o->threads;
	w->bufsize = (size_t)o->size + 64;
	w->buf = xcalloc(1, w->bufsize);
	w->rtt = xcalloc(1, sizeof(*w->rtt));
	w->hs = xcalloc(1, sizeof(*w->hs));
	w->tcp = xcalloc(1, sizeof(*w->tcp));
	w->lat = xcalloc(1, sizeof(*w->lat));
	wsk_hist_init(w->lat);
	wsk_hist_init(w->rtt);
	wsk_hist_init(w->hs);
	wsk_hist_init(w->tcp);
	uv_mutex_init(&w->lock);
}

/* ---- The main thread. ---- */

static void stop_all(struct run *r, int level)
{
	unsigned i;

	if (level <= r->stopping)
		return;
	if (r->stopping == 0)
		r->t_stop = uv_hrtime();
	r->stopping = level;
	uv_timer_stop(&r->deadline);
	for (i = 0; i < r->started; i++) {
		struct worker *w = &r->workers[i];

		uv_mutex_lock(&w->lock);
		w->stop_level = level;
		if (w->ready && !w->closed)
			uv_async_send(&w->stop_async);
		uv_mutex_unlock(&w->lock);
	}
}

static void start_worker(struct run *r, unsigned i)
{
	int e;

	e = uv_thread_create(&r->workers[i].thread, worker_main,
			     &r->workers[i]);
	if (e < 0) {
		errmsg("cannot start a thread: %s", uv_strerror(e));
		stop_all(r, 1);
		return;
	}
	r->started++;
}

static void on_wake(uv_async_t *a)
{
	struct run *r = a->data;
	int scout, stop_request;
	unsigned done, steady, i;

	uv_mutex_lock(&r->lock);
	scout = r->scout;
	stop_request = r->stop_request;
	done = r->done;
	steady = r->steady;
	uv_mutex_unlock(&r->lock);
	/* --subscribe: every client is connected; the window opens. */
	if (steady == r->nworkers && r->measure_t0 == 0 && !r->stopping) {
		__atomic_store_n(&r->measure_t0, uv_hrtime(), __ATOMIC_RELEASE);
		if (r->o->verbose)
			errmsg(
			    "every client has opened or failed after %.0f ms; "
			    "measuring",
			    (double)(r->measure_t0 - r->t_start) / 1e6);
	}
	if (stop_request)
		stop_all(r, 2);
	if (scout == 1 && r->started == 1 && !r->stopping)
		for (i = 1; i < r->nworkers; i++)
			start_worker(r, i);
	if (done == r->started && !r->closing) {
		r->closing = 1;
		uv_close((uv_handle_t *)&r->sigint, NULL);
		uv_close((uv_handle_t *)&r->sigterm, NULL);
		uv_close((uv_handle_t *)&r->deadline, NULL);
		uv_close((uv_handle_t *)&r->wake, NULL);
	}
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct run *r = s->data;

	(void)signum;
	r->signalled = 1;
	/* A second signal drops the connections without waiting. */
	stop_all(r, r->stopping ? 2 : 1);
}

static void on_deadline(uv_timer_t *t)
{
	struct run *r = t->data;

	r->deadline_hit = 1;
	stop_all(r, 1);
}

/* ---- Summary. ---- */

struct totals {
	struct wsk_hist rtt, hs, tcp;
	uint64_t sent, received, timeouts, late, ignored;
	long connected, failed, dropped;
	uint64_t t_first, t_last;
	int first_error;
	const char *first_msg;
	/* --subscribe and --storm. */
	struct wsk_hist lat, spread;
	uint64_t deliveries, missed, disorder;
	uint64_t wire_bytes, msg_bytes; /* in the window */
	uint64_t updates;		/* seqs seen in the window */
	uint64_t spread_updates;	/* of those, reached every client */
	uint64_t t_open_last;
	long close_errors;
	double open_ms;	  /* first connect to last open */
	double window_ms; /* --subscribe: the measured window */
};

static void add_totals(struct totals *t, const struct worker *w)
{
	wsk_hist_merge(&t->rtt, w->rtt);
	wsk_hist_merge(&t->hs, w->hs);
	wsk_hist_merge(&t->tcp, w->tcp);
	t->sent += w->sent;
	t->received += w->received;
	t->timeouts += w->timeouts;
	t->late += w->late;
	t->ignored += w->ignored;
	t->connected += w->connected;
	t->failed += w->failed;
	t->dropped += w->dropped;
	if (w->t_first && (t->t_first == 0 || w->t_first < t->t_first))
		t->t_first = w->t_first;
	if (w->t_last > t->t_last)
		t->t_last = w->t_last;
	wsk_hist_merge(&t->lat, w->lat);
	t->deliveries += w->deliveries;
	t->wire_bytes += w->wire1 - w->wire0;
	t->msg_bytes += w->msg_bytes;
	t->missed += w->missed;
	t->disorder += w->disorder;
	t->close_errors += w->close_errors;
	if (w->t_open_last > t->t_open_last)
		t->t_open_last = w->t_open_last;
	if (t->first_error == 0 && w->first_error != 0) {
		t->first_error = w->first_error;
		t->first_msg = w->first_msg;
	}
}

/* --subscribe: merges the threads' arrival tables and counts, for every
 * update that reached as many clients as the most reached one, the time
 * from its first arrival to its last. Updates that reached fewer were
 * under way when the window opened or closed, or went to a client that
 * was dropped. */
static void spread_totals(const struct run *r, struct totals *t)
{
	struct arrival *all, *a;
	const struct spread *sp;
	uint64_t lo = UINT64_MAX, hi = 0, n, j;
	uint32_t most = 0;
	unsigned i;

	for (i = 0; i < r->started; i++) {
		sp = &r->workers[i].sp;
		if (sp->size == 0)
			continue;
		lo = sp->base < lo ? sp->base : lo;
		hi = sp->base + sp->size > hi ? sp->base + sp->size : hi;
	}
	if (hi == 0)
		return;
	n = hi - lo;
	all = r->started == 1 ? r->workers[0].sp.e : calloc(n, sizeof(*all));
	if (all == NULL)
		return;
	for (i = 0; r->started > 1 && i < r->started; i++) {
		sp = &r->workers[i].sp;
		for (j = 0; j < sp->size; j++) {
			const struct arrival *b = &sp->e[j];

			if (b->count == 0)
				continue;
			a = &all[sp->base - lo + j];
			if (a->count == 0 || b->first < a->first)
				a->first = b->first;
			if (b->last > a->last)
				a->last = b->last;
			a->count += b->count;
		}
	}
	for (j = 0; j < n; j++)
		if (all[j].count > most)
			most = all[j].count;
	for (j = 0; j < n; j++) {
		if (all[j].count == 0)
			continue;
		t->updates++;
		if (all[j].count == most) {
			t->spread_updates++;
			wsk_hist_record(&t->spread,
					(all[j].last - all[j].first) / 1000);
		}
	}
	if (all != r->workers[0].sp.e)
		free(all);
}

/* A number with up to three decimals and no trailing zeros. */
static const char *num(char *buf, size_t size, double v)
{
	char *p;

	snprintf(buf, size, "%.3f", v);
	p = buf + strlen(buf) - 1;
	while (*p == '0')
		*p-- = '\0';
	if (*p == '.')
		*p = '\0';
	if (strcmp(buf, "-0") == 0)
		strcpy(buf, "0");
	return buf;
}

static double ms(uint64_t us)
{
	return (double)us / 1000;
}

static void print_text_summary(const struct options *o, const struct totals *t,
			       double elapsed_ms)
{
	const struct wsk_hist *h = &t->rtt;
	double loss =
	    t->sent ? 100.0 * (double)(t->sent - t->received) / (double)t->sent
		    : 0;
	char b[64];

	printf("--- %s ws-ping statistics ---\n", o->url.text);
	printf("%llu probes sent, %llu received, %s%% loss, time %.0f ms\n",
	       (unsigned long long)t->sent, (unsigned long long)t->received,
	       num(b, sizeof(b), loss), elapsed_ms);
	if (o->load) {
		printf("%ld clients, %ld connected, %ld connect failures, %ld "
		       "dropped\n",
		       o->clients, t->connected, t->failed, t->dropped);
		if (wsk_hist_count(&t->hs))
			printf("handshake p50/p90/p99/max = "
			       "%.3f/%.3f/%.3f/%.3f ms\n",
			       ms(wsk_hist_percentile(&t->hs, 50)),
			       ms(wsk_hist_percentile(&t->hs, 90)),
			       ms(wsk_hist_percentile(&t->hs, 99)),
			       ms(wsk_hist_max(&t->hs)));
		printf("%llu round trips, %s round trips/s\n",
		       (unsigned long long)t->received,
		       num(b, sizeof(b),
			   elapsed_ms > 0 ? floor((double)t->received * 1000 /
						      elapsed_ms * 10 +
						  0.5) /
						10
					  : 0));
	}
	if (wsk_hist_count(h) == 0)
		return;
	printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n",
	       ms(wsk_hist_min(h)), wsk_hist_mean(h) / 1000,
	       ms(wsk_hist_max(h)), wsk_hist_stddev(h) / 1000);
	printf("rtt p50/p90/p99/p99.9 = %.3f/%.3f/%.3f/%.3f ms\n",
	       ms(wsk_hist_percentile(h, 50)), ms(wsk_hist_percentile(h, 90)),
	       ms(wsk_hist_percentile(h, 99)),
	       ms(wsk_hist_percentile(h, 99.9)));
}

static void json_ms(const char *name, int have, double v)
{
	char b[64];

	if (have)
		printf(",\"%s\":%s", name, num(b, sizeof(b), v));
	else
		printf(",\"%s\":null", name);
}

static void print_json_summary(const struct options *o, const struct run *r,
			       const struct worker *w0, const struct totals *t,
			       double elapsed_ms)
{
	const struct wsk_hist *h = &t->rtt;
	int have = wsk_hist_count(h) != 0, hs = wsk_hist_count(&t->hs) != 0;
	json_t *s = json_string(o->url.text);
	char *url = json_dumps(s, JSON_ENCODE_ANY);
	char b[64];

	printf("{\"url\":%s,\"address\":\"%s\",\"mode\":\"%s\"",
	       url ? url : "null", r->peer,
	       o->mode == MODE_APP ? "app" : "frame");
	free(url);
	json_decref(s);
	if (!o->load) {
		json_ms("connect_ms", 1, ms(w0->connect_us));
		json_ms("handshake_ms", 1, ms(w0->handshake_us));
	}
	printf(",\"sent\":%llu,\"received\":%llu,\"timeouts\":%llu",
	       (unsigned long long)t->sent, (unsigned long long)t->received,
	       (unsigned long long)t->timeouts);
	printf(",\"loss_pct\":%s",
	       num(b, sizeof(b),
		   t->sent ? 100.0 * (double)(t->sent - t->received) /
				 (double)t->sent
			   : 0));
	json_ms("time_ms", 1, elapsed_ms);
	json_ms("min_ms", have, ms(wsk_hist_min(h)));
	json_ms("avg_ms", have, wsk_hist_mean(h) / 1000);
	json_ms("max_ms", have, ms(wsk_hist_max(h)));
	json_ms("mdev_ms", have, wsk_hist_stddev(h) / 1000);
	json_ms("p50_ms", have, ms(wsk_hist_percentile(h, 50)));
	json_ms("p90_ms", have, ms(wsk_hist_percentile(h, 90)));
	json_ms("p99_ms", have, ms(wsk_hist_percentile(h, 99)));
	json_ms("p999_ms", have, ms(wsk_hist_percentile(h, 99.9)));
	if (o->load) {
		printf(",\"clients\":%ld,\"connected\":%ld,"
		       "\"connect_failures\":%ld,\"dropped\":%ld",
		       o->clients, t->connected, t->failed, t->dropped);
		json_ms("handshake_p50_ms", hs,
			ms(wsk_hist_percentile(&t->hs, 50)));
		json_ms("handshake_p90_ms", hs,
			ms(wsk_hist_percentile(&t->hs, 90)));
		json_ms("handshake_p99_ms", hs,
			ms(wsk_hist_percentile(&t->hs, 99)));
		json_ms("handshake_max_ms", hs, ms(wsk_hist_max(&t->hs)));
		printf(",\"round_trips\":%llu",
		       (unsigned long long)t->received);
		json_ms("round_trips_per_s", 1,
			elapsed_ms > 0 ? (double)t->received * 1000 / elapsed_ms
				       : 0);
	}
	printf("}\n");
}

/* "p50/p90/p99/max = a/b/c/d ms" of a histogram of microseconds. */
static void print_quantiles(const char *what, const struct wsk_hist *h)
{
	printf("%s p50/p90/p99/max = %.3f/%.3f/%.3f/%.3f ms", what,
	       ms(wsk_hist_percentile(h, 50)), ms(wsk_hist_percentile(h, 90)),
	       ms(wsk_hist_percentile(h, 99)), ms(wsk_hist_max(h)));
}

static void json_quantiles(const char *prefix, const struct wsk_hist *h)
{
	int have = wsk_hist_count(h) != 0;
	char name[64];

	snprintf(name, sizeof(name), "%s_avg_ms", prefix);
	json_ms(name, have, wsk_hist_mean(h) / 1000);
	snprintf(name, sizeof(name), "%s_p50_ms", prefix);
	json_ms(name, have, ms(wsk_hist_percentile(h, 50)));
	snprintf(name, sizeof(name), "%s_p90_ms", prefix);
	json_ms(name, have, ms(wsk_hist_percentile(h, 90)));
	snprintf(name, sizeof(name), "%s_p99_ms", prefix);
	json_ms(name, have, ms(wsk_hist_percentile(h, 99)));
	snprintf(name, sizeof(name), "%s_max_ms", prefix);
	json_ms(name, have, ms(wsk_hist_max(h)));
}

static double per_s(uint64_t n, double elapsed_ms)
{
	return elapsed_ms > 0 ? (double)n * 1000 / elapsed_ms : 0;
}

static double per_n(uint64_t total, uint64_t n)
{
	return n ? (double)total / (double)n : 0;
}

/* One decimal, for rates people read. */
static const char *rate(char *buf, size_t size, double v)
{
	return num(buf, size, floor(v * 10 + 0.5) / 10);
}

/* The summary of --subscribe and --storm, as text or one JSON object. */
static void print_other_summary(const struct options *o, const struct run *r,
				const struct totals *t, double elapsed_ms)
{
	int sub = o->kind == LOAD_SUBSCRIBE;
	double hs_rate =
	    per_s((uint64_t)t->connected, sub ? t->open_ms : elapsed_ms);
	char b[64];

	if (o->json) {
		json_t *js = json_string(o->url.text);
		char *url = json_dumps(js, JSON_ENCODE_ANY);

		printf("{\"url\":%s,\"address\":\"%s\",\"mode\":\"%s\"",
		       url ? url : "null", r->peer,
		       sub ? "subscribe" : "storm");
		free(url);
		json_decref(js);
		printf(",\"clients\":%ld", o->clients);
		if (sub)
			printf(",\"connected\":%ld", t->connected);
		else
			printf(",\"handshakes\":%ld", t->connected);
		printf(",\"connect_failures\":%ld,\"dropped\":%ld", t->failed,
		       t->dropped);
		if (sub)
			json_ms("open_ms", 1, t->open_ms);
		else
			printf(",\"close_errors\":%ld", t->close_errors);
		json_ms("handshakes_per_s", 1, hs_rate);
		json_quantiles("handshake", &t->hs);
		json_ms("time_ms", 1, sub ? t->window_ms : elapsed_ms);
		if (sub) {
			printf(",\"updates\":%llu,\"deliveries\":%llu",
			       (unsigned long long)t->updates,
			       (unsigned long long)t->deliveries);
			json_ms("deliveries_per_s", 1,
				per_s(t->deliveries, t->window_ms));
			json_ms("wire_bytes_per_delivery", 1,
				per_n(t->wire_bytes, t->deliveries));
			json_ms("message_bytes_per_delivery", 1,
				per_n(t->msg_bytes, t->deliveries));
			json_quantiles("latency", &t->lat);
			printf(",\"spread_updates\":%llu",
			       (unsigned long long)t->spread_updates);
			json_quantiles("spread", &t->spread);
			printf(",\"missed\":%llu,\"out_of_order\":%llu",
			       (unsigned long long)t->missed,
			       (unsigned long long)t->disorder);
		}
		printf("}\n");
		return;
	}
	printf("--- %s ws-ping statistics ---\n", o->url.text);
	if (!sub) {
		printf("%ld clients, %ld handshakes, %ld connect failures, %ld "
		       "close errors, time %.0f ms\n",
		       o->clients, t->connected, t->failed, t->close_errors,
		       elapsed_ms);
		printf("%s handshakes/s\n", rate(b, sizeof(b), hs_rate));
		if (wsk_hist_count(&t->hs)) {
			print_quantiles("handshake", &t->hs);
			putchar('\n');
		}
		return;
	}
	printf("%ld clients, %ld connected, %ld connect failures, %ld "
	       "dropped\n",
	       o->clients, t->connected, t->failed, t->dropped);
	printf("%ld opened in %.0f ms, %s handshakes/s\n", t->connected,
	       t->open_ms, rate(b, sizeof(b), hs_rate));
	if (wsk_hist_count(&t->hs)) {
		print_quantiles("handshake", &t->hs);
		putchar('\n');
	}
	printf("%llu updates, %llu deliveries in %.0f ms, %s deliveries/s, "
	       "%llu missed\n",
	       (unsigned long long)t->updates,
	       (unsigned long long)t->deliveries, t->window_ms,
	       rate(b, sizeof(b), per_s(t->deliveries, t->window_ms)),
	       (unsigned long long)t->missed);
	if (t->deliveries)
		printf("%.1f bytes on the wire per delivery, messages of "
		       "%.1f bytes\n",
		       per_n(t->wire_bytes, t->deliveries),
		       per_n(t->msg_bytes, t->deliveries));
	if (wsk_hist_count(&t->lat)) {
		print_quantiles("latency", &t->lat);
		putchar('\n');
	}
	if (wsk_hist_count(&t->spread)) {
		print_quantiles("spread", &t->spread);
		printf(" over %llu updates\n",
		       (unsigned long long)t->spread_updates);
	}
}

static void run_release(struct run *r, struct options *o)
{
	unsigned i;

	for (i = 0; i < r->nworkers; i++) {
		struct worker *w = &r->workers[i];

		free(w->conns);
		free(w->buf);
		free(w->rtt);
		free(w->hs);
		free(w->tcp);
		free(w->lat);
		free(w->sp.e);
		uv_mutex_destroy(&w->lock);
	}
	free(r->workers);
	uv_mutex_destroy(&r->lock);
	free(o->headers);
	free(o->sources);
	wsk_tls_ctx_free(o->tls);
	wsk_url_release(&o->url);
}

int main(int argc, char **argv)
{
	static struct options opts;
	static struct run run;
	static struct totals tot;
	const struct options *o = &opts;
	struct run *r = &run;
	long per, extra;
	double elapsed_ms;
	unsigned i;
	int rc;

	wsk_cli_prog = PROG;
	wsk_cli_hold_std_fds();
	signal(SIGPIPE, SIG_IGN);
	parse_options(argc, argv, &opts);
	check_fd_limit(o);

	r->o = o;
	uv_loop_init(&r->loop);
	uv_mutex_init(&r->lock);
	uv_async_init(&r->loop, &r->wake, on_wake);
	r->wake.data = r;
	uv_signal_init(&r->loop, &r->sigint);
	uv_signal_init(&r->loop, &r->sigterm);
	r->sigint.data = r->sigterm.data = r;
	uv_signal_start(&r->sigint, on_signal, SIGINT);
	uv_signal_start(&r->sigterm, on_signal, SIGTERM);
	uv_timer_init(&r->loop, &r->deadline);
	r->deadline.data = r;
	if (o->deadline_ms)
		uv_timer_start(&r->deadline, on_deadline, o->deadline_ms, 0);

	r->nworkers = o->threads;
	r->workers = xcalloc(r->nworkers, sizeof(*r->workers));
	per = o->clients / (long)r->nworkers;
	extra = o->clients % (long)r->nworkers;
	for (i = 0; i < r->nworkers; i++) {
		worker_init(&r->workers[i], r, i,
			    per + ((long)i < extra ? 1 : 0));
		r->workers[i].first =
		    i == 0 ? 0
			   : r->workers[i - 1].first + r->workers[i - 1].nconns;
	}
	r->t_start = uv_hrtime();
	start_worker(r, 0);
	if (r->started == 0)
		return WSK_EXIT_FAIL;
	uv_run(&r->loop, UV_RUN_DEFAULT);
	uv_loop_close(&r->loop);
	for (i = 0; i < r->started; i++)
		uv_thread_join(&r->workers[i].thread);

	wsk_hist_init(&tot.rtt);
	wsk_hist_init(&tot.hs);
	wsk_hist_init(&tot.tcp);
	wsk_hist_init(&tot.lat);
	wsk_hist_init(&tot.spread);
	for (i = 0; i < r->started; i++)
		add_totals(&tot, &r->workers[i]);
	if (r->t_stop == 0)
		r->t_stop = uv_hrtime();

	if (tot.connected == 0) {
		if (tot.first_error == WSK_CLIENT_E_ABORTED)
			errmsg("cannot connect to '%s': %s", o->url.text,
			       r->deadline_hit ? "deadline reached"
					       : "interrupted");
		else
			errmsg("cannot connect to '%s': %s", o->url.text,
			       tot.first_msg ? tot.first_msg : "failed");
		run_release(r, &opts);
		return WSK_EXIT_CONNECT;
	}
	if (o->kind == LOAD_STORM && tot.failed && !o->quiet)
		errmsg("warning: %ld connection attempts failed: %s",
		       tot.failed, tot.first_msg ? tot.first_msg : "failed");
	else if (o->load && tot.failed && !o->quiet)
		errmsg("warning: %ld of %ld clients could not connect: %s",
		       tot.failed, o->clients,
		       tot.first_msg ? tot.first_msg : "failed");
	if (o->verbose)
		errmsg("late or unknown replies: %llu, other messages: %llu",
		       (unsigned long long)tot.late,
		       (unsigned long long)tot.ignored);
	elapsed_ms = tot.t_first && tot.t_last > tot.t_first
			 ? (double)(tot.t_last - tot.t_first) / 1e6
			 : 0;
	rc = tot.received > 0 ? WSK_EXIT_OK : WSK_EXIT_FAIL;
	if (o->kind != LOAD_PROBE) {
		spread_totals(r, &tot);
		tot.open_ms = tot.t_open_last > r->t_start
				  ? (double)(tot.t_open_last - r->t_start) / 1e6
				  : 0;
		tot.window_ms = r->measure_t0 && r->t_stop > r->measure_t0
				    ? (double)(r->t_stop - r->measure_t0) / 1e6
				    : 0;
		elapsed_ms = (double)(r->t_stop - r->t_start) / 1e6;
		rc = WSK_EXIT_OK;
	}
	if (o->kind == LOAD_SUBSCRIBE && !o->quiet && r->measure_t0 == 0)
		errmsg("warning: the run ended before every client had "
		       "connected; nothing was measured");
	if (o->kind == LOAD_SUBSCRIBE && tot.missed) {
		errmsg("%llu updates missed: gaps in seq after INITIAL",
		       (unsigned long long)tot.missed);
		rc = WSK_EXIT_FAIL;
	}
	if (o->kind == LOAD_STORM && tot.close_errors && !o->quiet)
		errmsg("warning: %ld closes failed", tot.close_errors);
	if (!r->stop_request && o->kind != LOAD_PROBE) {
		print_other_summary(o, r, &tot, elapsed_ms);
	} else if (!r->stop_request) {
		if (o->json)
			print_json_summary(o, r, &r->workers[0], &tot,
					   elapsed_ms);
		else
			print_text_summary(o, &tot, elapsed_ms);
	}
	if (fflush(stdout) != 0 || ferror(stdout) || r->out_error) {
		if (r->out_error != EPIPE && errno != EPIPE) {
			errmsg("cannot write to standard output: %s",
			       strerror(r->out_error ? r->out_error : errno));
			rc = WSK_EXIT_FAIL;
		}
	}
	if (fclose(stdout) != 0 && errno != EPIPE && rc == WSK_EXIT_OK) {
		errmsg("cannot write to standard output: %s", strerror(errno));
		rc = WSK_EXIT_FAIL;
	}
	run_release(r, &opts);
	return rc;
}
