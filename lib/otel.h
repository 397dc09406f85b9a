/* OpenTelemetry spans from a worker, exported over OTLP/HTTP with JSON
 * bodies (POST {endpoint}/v1/traces, an ExportTraceServiceRequest).
 * Engine layer: the exporter lives in the worker's libevent loop and never
 * blocks it.
 *
 * Recording a span only renders it to JSON and queues it (a bounded queue:
 * when full, the span is dropped and counted).  Batches go out when
 * max_batch spans wait or delay_ms after the first one came, one request
 * at a time, each bounded by timeout_ms.  A batch that fails is dropped
 * and counted, except that a 429 or 503 answer gets one more try a second
 * later: a collector that is down must cost the task path nothing but a
 * counter.  The log says once when export starts failing and once when it
 * works again.
 *
 * Only http:// endpoints: https:// is refused by ac_otel_config_env (no
 * TLS client here; a local collector or agent is the usual hop). */
#ifndef AC_OTEL_H
#define AC_OTEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct event_base;

/* OTLP span kinds and status codes (opentelemetry/proto/trace/v1). */
enum ac_otel_kind {
	AC_OTEL_KIND_INTERNAL = 1,
	AC_OTEL_KIND_SERVER = 2,
	AC_OTEL_KIND_CLIENT = 3,
	AC_OTEL_KIND_PRODUCER = 4,
	AC_OTEL_KIND_CONSUMER = 5
};

struct ac_otel_config {
	char *url;              /* the traces endpoint, http://HOST[:PORT]/PATH */
	char *service_name;     /* OTEL_SERVICE_NAME, default "ac-worker" */
	json_t *headers;        /* OTEL_EXPORTER_OTLP_HEADERS: name -> value */
	json_t *resource;       /* OTEL_RESOURCE_ATTRIBUTES: key -> value */
	size_t max_queue;       /* OTEL_BSP_MAX_QUEUE_SIZE, default 2048 */
	size_t max_batch;       /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE, default 512 */
	int64_t delay_ms;       /* OTEL_BSP_SCHEDULE_DELAY, default 1000 */
	int64_t timeout_ms;     /* OTEL_EXPORTER_OTLP_TIMEOUT, default 10000 */
	char warning[256];      /* a setting ignored as invalid, or "" */
};

/* Read the OTEL_* environment: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used
 * as it is), else OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces added;
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn export off.
 * Returns 1 with c filled (release it with ac_otel_config_release), 0
 * when nothing is to be exported (c empty), -1 with err (exit code 2) for
 * an endpoint that is not an http:// URL.  A bad number or header is
 * ignored, the first one named in c->warning for the caller to print. */
int ac_otel_config_env(struct ac_otel_config *c, struct ac_error *err);
void ac_otel_config_release(struct ac_otel_config *c);

/* One attribute: a string when str is not NULL, else the integer num. */
struct ac_otel_attr {
	const char *key;
	const char *str;
	int64_t num;
};

/* A finished span.  Everything is borrowed for the call only. */
struct ac_otel_span {
	const uint8_t *trace_id;    /* 16 bytes */
	const uint8_t *span_id;     /* 8 bytes */
	const uint8_t *parent_id;   /* 8 bytes, or NULL for a trace's root */
	const char *name;
	enum ac_otel_kind kind;
	int64_t start_ns, end_ns;   /* unix time in nanoseconds */
	const struct ac_otel_attr *attrs;
	size_t nattrs;
	const char *error;          /* status ERROR with this message, or NULL
				     * (status unset) */
};

struct ac_otel;

/* An exporter sending to cfg's endpoint from base's loop.  cfg and base
 * are borrowed and must outlive it; worker_id and host (for the
 * resource's service.instance.id and host.name) are copied.  0, or -1
 * with err. */
int ac_otel_open(struct ac_otel **out, const struct ac_otel_config *cfg,
		 struct event_base *base, const char *worker_id,
		 const char *host, struct ac_error *err);
/* Free the exporter; a request in flight is abandoned and whatever has
 * not been exported is counted as dropped.  NULL is allowed. */
void ac_otel_close(struct ac_otel *x);

/* Queue a copy of span for export; never blocks, never fails the caller
 * (a full queue or no memory: dropped and counted). */
void ac_otel_record(struct ac_otel *x, const struct ac_otel_span *span);

/* At a graceful stop: send everything queued, batch after batch, without
 * waiting for the schedule.  The caller runs the loop until
 * ac_otel_idle() or its own deadline. */
void ac_otel_flush(struct ac_otel *x);
/* 1 when nothing is queued and no request is in flight. */
int ac_otel_idle(const struct ac_otel *x);

struct ac_otel_counts {
	uint64_t exported;          /* spans the collector accepted */
	uint64_t dropped;           /* spans lost: queue full, batch failed */
	uint64_t failed_requests;   /* export requests that failed */
	size_t queued;              /* spans waiting now */
};

void ac_otel_get_counts(const struct ac_otel *x, struct ac_otel_counts *out);

/* Unix time now in nanoseconds (CLOCK_REALTIME), for span times. */
int64_t ac_otel_now_ns(void);

#endif
