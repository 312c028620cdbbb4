/* Server counters and their Prometheus text exposition (GET /metrics). */
#ifndef WSK_METRICS_H
#define WSK_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define WSK_FANOUT_BUCKETS 12

/* The reasons of wskit_handshakes_failed_total, "other" the last. */
#define WSK_METRICS_REJECTS 11

struct wsk_metrics {
	uint64_t conns_total; /* TCP connections accepted */
	uint64_t ws_total;    /* WebSocket handshakes completed */
	uint64_t ws_deflate;  /* of those, with permessage-deflate */
	/* handshake failures by reason, see metrics.c */
	uint64_t rejects[WSK_METRICS_REJECTS];
	uint64_t closes[16];	      /* server-sent close codes 1000..1015 */
	uint64_t msgs_in, bytes_in;   /* client data messages and payload */
	uint64_t msgs_out, bytes_out; /* messages queued, bytes written */
	uint64_t slow_drops;	      /* updates skipped for slow clients */
	uint64_t slow_clients;	      /* times a client went over --max-queue */
	uint64_t fanout[WSK_FANOUT_BUCKETS]; /* broadcast durations */
	double fanout_sum;
	uint64_t fanout_count;
	/* Sampled when rendering. */
	long conns_open, clients_open, sse_open, pollers;
	uint64_t seq;
	int redis; /* -1 not configured, 0 down, 1 up */
};

/* Counts a refused handshake or request: status is the HTTP status, or 0
 * for a request not completed in time, or -1 for a TLS failure. */
void wsk_metrics_reject(struct wsk_metrics *m, int status);
/* Counts a close frame the server sent. */
void wsk_metrics_close(struct wsk_metrics *m, int code);
/* Records one broadcast's duration. */
void wsk_metrics_fanout(struct wsk_metrics *m, double seconds);

/* Returns the exposition text, newly allocated (free() it), or NULL. */
char *wsk_metrics_render(const struct wsk_metrics *m, size_t *len);

#endif
