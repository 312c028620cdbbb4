#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	int status;
	const char *reason;
} rejects[WSK_METRICS_REJECTS] = {
    {400, "bad_request"},
    {401, "unauthorized"},
    {403, "forbidden"},
    {404, "not_found"},
    {413, "body_too_large"},
    {426, "bad_version"},
    {431, "header_too_large"},
    {503, "too_many_clients"},
    {0, "timeout"},
    {-1, "tls"},
    {1, "other"},
};

static const double bounds[WSK_FANOUT_BUCKETS - 1] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
    0.005,   0.01,   0.025,   0.05,   0.1,
};

void wsk_metrics_reject(struct wsk_metrics *m, int status)
{
	size_t i;

	for (i = 0; i < WSK_METRICS_REJECTS - 1; i++)
		if (rejects[i].status == status)
			break;
	m->rejects[i]++;
}

void wsk_metrics_close(struct wsk_metrics *m, int code)
{
	if (code >= 1000 && code <= 1015)
		m->closes[code - 1000]++;
}

void wsk_metrics_fanout(struct wsk_metrics *m, double seconds)
{
	size_t i;

	for (i = 0; i < WSK_FANOUT_BUCKETS - 1 && seconds > bounds[i]; i++)
		;
	m->fanout[i]++;
	m->fanout_sum += seconds;
	m->fanout_count++;
}

struct out {
	char *buf;
	size_t len, cap;
	int failed;
};

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		char *nb = realloc(o->buf, o->cap * 2 + (size_t)n);

		if (!nb) {
			o->failed = 1;
			return;
		}
		o->buf = nb;
		o->cap = o->cap * 2 + (size_t)n;
	}
}

static void counter(struct out *o, const char *name, const char *help,
		    uint64_t v)
{
	put(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name,
	    name, (unsigned long long)v);
}

static void gauge(struct out *o, const char *name, const char *help, long v)
{
	put(o, "# HELP %s %s\n# TYPE %s gauge\n%s %ld\n", name, help, name,
	    name, v);
}

char *wsk_metrics_render(const struct wsk_metrics *m, size_t *len)
{
	struct out o = {malloc(4096), 0, 4096, 0};
	uint64_t cum = 0;
	size_t i;

	if (!o.buf)
		return NULL;
	gauge(&o, "wskit_connections_open", "Open TCP connections.",
	      m->conns_open);
	counter(&o, "wskit_connections_total", "TCP connections accepted.",
		m->conns_total);
	gauge(&o, "wskit_websocket_clients", "Open WebSocket clients.",
	      m->clients_open);
	gauge(&o, "wskit_sse_clients", "Open Server-Sent Events streams.",
	      m->sse_open);
	gauge(&o, "wskit_long_polls", "Long-poll requests waiting.",
	      m->pollers);
	counter(&o, "wskit_handshakes_total", "WebSocket handshakes completed.",
		m->ws_total);
	counter(&o, "wskit_handshakes_deflate_total",
		"WebSocket handshakes that agreed on permessage-deflate.",
		m->ws_deflate);
	put(&o, "# HELP wskit_handshakes_failed_total Requests refused, by "
		"reason.\n# TYPE wskit_handshakes_failed_total counter\n");
	for (i = 0; i < WSK_METRICS_REJECTS; i++)
		put(&o, "wskit_handshakes_failed_total{reason=\"%s\"} %llu\n",
		    rejects[i].reason, (unsigned long long)m->rejects[i]);
	put(&o, "# HELP wskit_closes_total Close frames sent by the server, "
		"by code.\n# TYPE wskit_closes_total counter\n");
	for (i = 0; i < 16; i++)
		if (m->closes[i])
			put(&o, "wskit_closes_total{code=\"%zu\"} %llu\n",
			    1000 + i, (unsigned long long)m->closes[i]);
	counter(&o, "wskit_messages_received_total",
		"Data messages received from clients.", m->msgs_in);
	counter(&o, "wskit_bytes_received_total",
		"Payload bytes of data messages received.", m->bytes_in);
	counter(&o, "wskit_messages_sent_total",
		"Messages queued to clients (each delivery counts).",
		m->msgs_out);
	counter(&o, "wskit_bytes_sent_total", "Bytes written to sockets.",
		m->bytes_out);
	counter(&o, "wskit_slow_client_drops_total",
		"Updates skipped for clients over --max-queue.", m->slow_drops);
	counter(&o, "wskit_slow_clients_total",
		"Times a client went over --max-queue.", m->slow_clients);
	put(&o, "# HELP wskit_broadcast_fanout_seconds Time to queue one "
		"update to every client.\n"
		"# TYPE wskit_broadcast_fanout_seconds histogram\n");
	for (i = 0; i < WSK_FANOUT_BUCKETS; i++) {
		cum += m->fanout[i];
		if (i < WSK_FANOUT_BUCKETS - 1)
			put(&o,
			    "wskit_broadcast_fanout_seconds_bucket{le=\"%g\"} "
			    "%llu\n",
			    bounds[i], (unsigned long long)cum);
		else
			put(&o,
			    "wskit_broadcast_fanout_seconds_bucket{le=\"+Inf\"}"
			    " "
			    "%llu\n",
			    (unsigned long long)cum);
	}
	put(&o, "wskit_broadcast_fanout_seconds_sum %.9f\n", m->fanout_sum);
	put(&o, "wskit_broadcast_fanout_seconds_count %llu\n",
	    (unsigned long long)m->fanout_count);
	put(&o,
	    "# HELP wskit_seq Sequence number of the newest update.\n"
	    "# TYPE wskit_seq gauge\nwskit_seq %llu\n",
	    (unsigned long long)m->seq);
	if (m->redis >= 0)
		gauge(&o, "wskit_redis_up", "1 when Redis is reachable.",
		      m->redis);
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
