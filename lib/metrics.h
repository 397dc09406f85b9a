/* A worker's metrics, rendered in the Prometheus text format (0.0.4).
 *
 * Counters and histograms live in struct ac_metrics, updated by the worker's
 * loop (one thread: no locking).  Everything the struct points to is owned
 * by it; ac_metrics_release() frees it. */
#ifndef AC_METRICS_H
#define AC_METRICS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define AC_HISTOGRAM_MAX_BUCKETS 16

struct ac_histogram {
	const double *bounds;        /* upper bounds, ascending; static */
	size_t nbounds;
	uint64_t counts[AC_HISTOGRAM_MAX_BUCKETS]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

struct ac_type_metrics {
	char *type;
	uint64_t started, completed, failed, retried;
	struct ac_histogram duration;
};

struct ac_metrics {
	struct ac_type_metrics *types;
	size_t ntypes;
	struct ac_histogram store_latency;
	uint64_t store_errors;
};

/* What the worker knows at the moment of a scrape. */
struct ac_metrics_state {
	const char *worker_id;
	const char *version;
	const char *store_kind;      /* "sqlite" or "postgres" */
	int running;
	int concurrency;
	int draining;
	int store_up;
	double heartbeat_age_s;      /* since the last heartbeat the store took */
	double uptime_s;
	json_t *queue_depth;         /* the store's queue_depth array, or NULL */
	/* Span export (lib/otel.h); all 0 when the worker exports none. */
	uint64_t spans_exported, spans_dropped, span_requests_failed;
	size_t spans_queued;
};

int ac_metrics_init(struct ac_metrics *m, const char *const *types,
		    size_t ntypes);
void ac_metrics_release(struct ac_metrics *m);
/* A series for type from now on (a handler added by a reload); nothing
 * when it has one.  Series are never dropped: a counter that vanished
 * mid-life would read as a reset.  0, or -1 (out of memory). */
int ac_metrics_add_type(struct ac_metrics *m, const char *type);

void ac_metrics_started(struct ac_metrics *m, const char *type);
/* outcome: "completed", "failed" (for good) or "retried". */
void ac_metrics_ended(struct ac_metrics *m, const char *type,
		      const char *outcome, double seconds);
void ac_metrics_store_request(struct ac_metrics *m, double seconds, int ok);

void ac_histogram_observe(struct ac_histogram *h, double value);

/* Append the exposition text to out; 0 or -1 (out of memory). */
int ac_metrics_render(const struct ac_metrics *m,
		      const struct ac_metrics_state *state, struct ac_buf *out);

#endif
