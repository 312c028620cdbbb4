/* floor: what this machine allows, measured without any WebSocket.
 *
 * The benchmark's absolute targets (fan-out p99, RTT p99) were set on
 * another machine. How close a server can come to them here is bounded
 * by what the kernel charges for the system calls every server must make,
 * so scripts/bench/run measures that first, with the same two CPUs:
 *
 *   syscall   one getppid(): the price of entering the kernel at all
 *   fan-out   one write of a 150-byte message to each of 1000 loopback
 *             TCP connections, the least a server does for one update;
 *             a thread on the other CPU reads them all back with epoll
 *   fan-out load
 *             the 1k fan-out scenario's load, sustained: 5 events that
 *             each change every 10-20 ms, 1000 connections. The writer
 *             goes round the connections without pause, giving each in
 *             one writev every update it lacks, and sleeps only when all
 *             have all; the reader on the other CPU takes each message's
 *             latency from the nanosecond time it carries. This is what
 *             the kernel alone makes of the scenario's load. It is not a
 *             strict bound: writing at once keeps both CPUs busy, and on
 *             a busy machine fewer, larger writes (what ws-serve's loop
 *             turns make) can come out ahead.
 *   rtt       round trips of a 40-byte message over one loopback TCP
 *             connection, back to back, between a client thread and an
 *             echo thread that sleep in read() while they wait: on the
 *             two CPUs, then both on the server's (no CPU to wake)
 *
 * Usage: floor SERVER_CPU LOAD_CPU. Prints one JSON object on stdout.
 * Built and run by scripts/bench/run; it needs nothing but libc. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FAN_CONNS 1000
#define FAN_MSG 150
#define FAN_ROUNDS 60
#define LOAD_EVENTS 5
#define LOAD_SECS 5
#define LOAD_MAX_UPDATES 4000 /* 5 events over 5 s make at most 2500 */
#define LOAD_BATCH 64	      /* updates in one writev at most */
#define RTT_MSG 40
#define RTT_COUNT 10000

static int server_cpu, load_cpu;

static void die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0-100) of v[0..n), sorted in place. */
static double pct(uint64_t *v, size_t n, double p)
{
	size_t i;

	qsort(v, n, sizeof(*v), cmp_u64);
	i = (size_t)(p / 100 * (double)(n - 1) + 0.5);
	return (double)v[i];
}

/* n connected pairs over 127.0.0.1: out[i] accepted (server side), in[i]
 * connecting (client side), both with TCP_NODELAY as ws-serve sets. */
static void pairs(int n, int *out, int *in)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int l, i, one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l, 4096) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		die("listen");
	for (i = 0; i < n; i++) {
		in[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (in[i] < 0 ||
		    connect(in[i], (struct sockaddr *)&a, sizeof(a)) < 0)
			die("connect");
		out[i] = accept(l, NULL, NULL);
		if (out[i] < 0)
			die("accept");
		setsockopt(out[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(in[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	close(l);
}

static double syscall_us(void)
{
	const int n = 200000;
	uint64_t t0;
	int i;

	t0 = now_ns();
	for (i = 0; i < n; i++)
		getppid();
	return (double)(now_ns() - t0) / n / 1000;
}

/* ---- fan-out ---- */

struct fan {
	int out[FAN_CONNS], in[FAN_CONNS];
	uint64_t expect; /* bytes the reader is to read in all */
	uint64_t got;	 /* bytes read, atomically */
};

static void *fan_reader(void *arg)
{
	struct fan *f = arg;
	struct epoll_event ev[256];
	char buf[65536];
	int ep, i, n;
	ssize_t r;

	pin(load_cpu);
	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1");
	for (i = 0; i < FAN_CONNS; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.fd = f->in[i]};

		if (epoll_ctl(ep, EPOLL_CTL_ADD, f->in[i], &e) < 0)
			die("epoll_ctl");
	}
	while (__atomic_load_n(&f->got, __ATOMIC_RELAXED) < f->expect) {
		n = epoll_wait(ep, ev, 256, 1000);
		for (i = 0; i < n; i++) {
			r = read(ev[i].data.fd, buf, sizeof(buf));
			if (r > 0)
				__atomic_add_fetch(&f->got, (uint64_t)r,
						   __ATOMIC_RELAXED);
		}
	}
	close(ep);
	return NULL;
}

/* Median and slowest time (ms) to write one message to every connection,
 * each round after the reader has caught up, as one update at a time. */
static void fanout(double *median_ms, double *max_ms)
{
	static struct fan f;
	uint64_t t[FAN_ROUNDS], t0, want = 0;
	char msg[FAN_MSG];
	pthread_t th;
	int r, i;

	memset(msg, 'x', sizeof(msg));
	pairs(FAN_CONNS, f.out, f.in);
	f.expect = (uint64_t)FAN_ROUNDS * FAN_CONNS * FAN_MSG;
	if (pthread_create(&th, NULL, fan_reader, &f) != 0)
		die("pthread_create");
	for (r = 0; r < FAN_ROUNDS; r++) {
		t0 = now_ns();
		for (i = 0; i < FAN_CONNS; i++)
			if (write(f.out[i], msg, sizeof(msg)) != sizeof(msg))
				die("write");
		t[r] = now_ns() - t0;
		want += (uint64_t)FAN_CONNS * FAN_MSG;
		while (__atomic_load_n(&f.got, __ATOMIC_RELAXED) < want)
			usleep(200);
		usleep(5000);
	}
	pthread_join(th, NULL);
	for (i = 0; i < FAN_CONNS; i++) {
		close(f.out[i]);
		close(f.in[i]);
	}
	*median_ms = pct(t, FAN_ROUNDS, 50) / 1e6;
	*max_ms = pct(t, FAN_ROUNDS, 100) / 1e6;
}

/* ---- fan-out under load ---- */

struct load {
	int out[FAN_CONNS], in[FAN_CONNS];
	uint64_t made[LOAD_MAX_UPDATES]; /* when each update was made, ns */
	uint64_t *lat;			 /* the reader's latencies, ns */
	size_t nlat, cap;
	int stop;
	double reader_cpu_s;
};

static double thread_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void *load_reader(void *arg)
{
	static char part[FAN_CONNS][FAN_MSG]; /* a message split over reads */
	static size_t have[FAN_CONNS];
	static char buf[65536];
	struct load *l = arg;
	struct epoll_event ev[256];
	uint64_t t, made;
	size_t take, p;
	ssize_t r;
	int ep, i, k, n;

	pin(load_cpu);
	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1");
	for (i = 0; i < FAN_CONNS; i++) {
		struct epoll_event e = {.events = EPOLLIN,
					.data.u32 = (uint32_t)i};

		if (epoll_ctl(ep, EPOLL_CTL_ADD, l->in[i], &e) < 0)
			die("epoll_ctl");
	}
	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
		n = epoll_wait(ep, ev, 256, 100);
		for (i = 0; i < n; i++) {
			k = (int)ev[i].data.u32;
			r = read(l->in[k], buf, sizeof(buf));
			t = now_ns();
			for (p = 0; r > 0 && p < (size_t)r; p += take) {
				take = FAN_MSG - have[k];
				if (take > (size_t)r - p)
					take = (size_t)r - p;
				memcpy(part[k] + have[k], buf + p, take);
				have[k] += take;
				if (have[k] < FAN_MSG)
					break;
				have[k] = 0;
				memcpy(&made, part[k], sizeof(made));
				if (l->nlat < l->cap)
					l->lat[l->nlat++] = t - made;
			}
		}
	}
	l->reader_cpu_s = thread_cpu_s();
	close(ep);
	return NULL;
}

static uint64_t load_delay_ns(void)
{
	return (uint64_t)(10 + rand() % 11) * 1000000;
}

/* Writes connection i every update from its next one up to nmade, in
 * one writev. */
static void load_write(struct load *l, int i, unsigned *next, unsigned nmade)
{
	static char msg[LOAD_BATCH][FAN_MSG];
	struct iovec iov[LOAD_BATCH];
	unsigned m = 0;

	for (; next[i] < nmade && m < LOAD_BATCH; next[i]++, m++) {
		memcpy(msg[m], &l->made[next[i]], sizeof(l->made[0]));
		iov[m].iov_base = msg[m];
		iov[m].iov_len = FAN_MSG;
	}
	if (writev(l->out[i], iov, (int)m) != (ssize_t)m * FAN_MSG)
		die("writev");
}

/* Update-to-reader latency percentiles (ms), updates made per second and
 * both threads' CPU (% of one CPU) under the 1k fan-out scenario's load. */
static void fanout_load(double *p50, double *p99, double *updates_s,
			double *writer_pct, double *reader_pct)
{
	static struct load l;
	static unsigned next[FAN_CONNS]; /* each connection's first unsent */
	uint64_t due[LOAD_EVENTS], t, start, end, wake;
	unsigned nmade = 0, e;
	struct timespec nap;
	pthread_t th;
	double cpu0;
	int i, cur = 0, left;

	pairs(FAN_CONNS, l.out, l.in);
	l.cap = (size_t)LOAD_MAX_UPDATES * FAN_CONNS;
	l.lat = malloc(l.cap * sizeof(*l.lat));
	if (!l.lat)
		die("malloc");
	if (pthread_create(&th, NULL, load_reader, &l) != 0)
		die("pthread_create");
	srand(1);
	cpu0 = thread_cpu_s();
	start = now_ns();
	end = start + (uint64_t)LOAD_SECS * 1000000000;
	for (e = 0; e < LOAD_EVENTS; e++)
		due[e] = start + load_delay_ns();
	while ((t = now_ns()) < end) {
		wake = end;
		for (e = 0; e < LOAD_EVENTS; e++) {
			if (due[e] <= t && nmade < LOAD_MAX_UPDATES) {
				l.made[nmade++] = t;
				due[e] += load_delay_ns();
			}
			if (due[e] < wake)
				wake = due[e];
		}
		/* One turn round the connections that lack an update. */
		for (left = FAN_CONNS; left > 0;
		     left--, cur = (cur + 1) % FAN_CONNS)
			if (next[cur] < nmade)
				break;
		if (left == 0) {
			if (wake > t) {
				nap.tv_sec = 0;
				nap.tv_nsec = (long)(wake - t);
				nanosleep(&nap, NULL);
			}
			continue;
		}
		for (i = 0; i < LOAD_BATCH && cur < FAN_CONNS; i++, cur++)
			if (next[cur] < nmade)
				load_write(&l, cur, next, nmade);
		cur %= FAN_CONNS;
	}
	*writer_pct = (thread_cpu_s() - cpu0) * 100 / LOAD_SECS;
	*updates_s = nmade / (double)LOAD_SECS;
	usleep(100000); /* the reader takes what is on its way */
	__atomic_store_n(&l.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	*reader_pct = l.reader_cpu_s * 100 / (LOAD_SECS + 0.1);
	for (i = 0; i < FAN_CONNS; i++) {
		close(l.out[i]);
		close(l.in[i]);
	}
	if (l.nlat == 0)
		die("no message read");
	*p50 = pct(l.lat, l.nlat, 50) / 1e6;
	*p99 = pct(l.lat, l.nlat, 99) / 1e6;
	free(l.lat);
}

/* ---- round trips ---- */

static void *echo(void *arg)
{
	int fd = *(int *)arg;
	char buf[RTT_MSG];
	ssize_t n;

	pin(server_cpu);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			break;
	return NULL;
}

/* Reads exactly len bytes. */
static void read_all(int fd, char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = read(fd, buf, len);
		if (n <= 0)
			die("read");
		buf += n;
		len -= (size_t)n;
	}
}

/* Round trips back to back over one connection, the echo on the server
 * CPU and this thread on client_cpu: percentiles (us) and the rate. Both
 * threads sleep in read() while they wait, as an idle server and client
 * sleep in epoll_wait, so each round trip wakes each of them once. */
static void rtt(int client_cpu, double *p50, double *p99, double *per_s)
{
	static uint64_t v[RTT_COUNT];
	char msg[RTT_MSG];
	pthread_t th;
	int srv, cli, i;
	uint64_t t0, start;

	memset(msg, 'p', sizeof(msg));
	pairs(1, &srv, &cli);
	if (pthread_create(&th, NULL, echo, &srv) != 0)
		die("pthread_create");
	pin(client_cpu);
	start = now_ns();
	for (i = 0; i < RTT_COUNT; i++) {
		t0 = now_ns();
		if (write(cli, msg, sizeof(msg)) != sizeof(msg))
			die("write");
		read_all(cli, msg, sizeof(msg));
		v[i] = now_ns() - t0;
	}
	*per_s = RTT_COUNT / ((double)(now_ns() - start) / 1e9);
	*p50 = pct(v, RTT_COUNT, 50) / 1000;
	*p99 = pct(v, RTT_COUNT, 99) / 1000;
	close(cli);
	pthread_join(th, NULL);
	close(srv);
	pin(server_cpu);
}

int main(int argc, char **argv)
{
	double sc, fmed, fmax, p50, p99, rate, s50, s99, srate;
	double l50, l99, lrate, lw, lr;

	if (argc != 3) {
		fputs("usage: floor SERVER_CPU LOAD_CPU\n", stderr);
		return 2;
	}
	server_cpu = atoi(argv[1]);
	load_cpu = atoi(argv[2]);
	pin(server_cpu);
	sc = syscall_us();
	fanout(&fmed, &fmax);
	fanout_load(&l50, &l99, &lrate, &lw, &lr);
	rtt(load_cpu, &p50, &p99, &rate);
	rtt(server_cpu, &s50, &s99, &srate);
	printf("{\"syscall_us\":%.3f,\"fanout_conns\":%d,\"fanout_msg_bytes\":"
	       "%d,\"fanout_write_ms\":%.3f,\"fanout_write_max_ms\":%.3f,"
	       "\"rtt_p50_us\":%.1f,\"rtt_p99_us\":%.1f,\"rtt_per_s\":%.0f,"
	       "\"rtt_one_cpu_p50_us\":%.1f,\"rtt_one_cpu_p99_us\":%.1f,"
	       "\"rtt_one_cpu_per_s\":%.0f,\"fanout_load_p50_ms\":%.2f,"
	       "\"fanout_load_p99_ms\":%.2f,\"fanout_load_updates_s\":%.1f,"
	       "\"fanout_load_writer_cpu\":%.1f,"
	       "\"fanout_load_reader_cpu\":%.1f}\n",
	       sc, FAN_CONNS, FAN_MSG, fmed, fmax, p50, p99, rate, s50, s99,
	       srate, l50, l99, lrate, lw, lr);
	return 0;
}
