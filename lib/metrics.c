/* The worker's metrics in the Prometheus text format (see metrics.h). */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

/* Task durations: from a no-op to a long agent run. */
static const double duration_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
	1800,
};

/* Store requests: a commit on a local file to a slow database. */
static const double latency_bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5, 5, 10,
};

#define COUNT_OF(a) (sizeof (a) / sizeof (a)[0])

static void histogram_init(struct ac_histogram *h, const double *bounds,
			   size_t n)
{
	memset(h, 0, sizeof *h);
	h->bounds = bounds;
	h->nbounds = n < AC_HISTOGRAM_MAX_BUCKETS ? n : AC_HISTOGRAM_MAX_BUCKETS - 1;
}

void ac_histogram_observe(struct ac_histogram *h, double value)
{
	size_t i = 0;

	while (i < h->nbounds && value > h->bounds[i])
		i++;
	h->counts[i]++;      /* i == nbounds: only +Inf holds it */
	h->count++;
	h->sum += value;
}

int ac_metrics_init(struct ac_metrics *m, const char *const *types,
		    size_t ntypes)
{
	memset(m, 0, sizeof *m);
	histogram_init(&m->store_latency, latency_bounds, COUNT_OF(latency_bounds));
	m->types = calloc(ntypes ? ntypes : 1, sizeof *m->types);
	if (!m->types)
		return -1;
	for (size_t i = 0; i < ntypes; i++) {
		m->types[i].type = ac_strdup(types[i]);
		if (!m->types[i].type) {
			m->ntypes = i;
			ac_metrics_release(m);
			return -1;
		}
		histogram_init(&m->types[i].duration, duration_bounds,
			       COUNT_OF(duration_bounds));
	}
	m->ntypes = ntypes;
	return 0;
}

void ac_metrics_release(struct ac_metrics *m)
{
	for (size_t i = 0; i < m->ntypes; i++)
		free(m->types[i].type);
	free(m->types);
	memset(m, 0, sizeof *m);
}

static struct ac_type_metrics *find_type(struct ac_metrics *m, const char *type)
{
	for (size_t i = 0; type && i < m->ntypes; i++)
		if (!strcmp(m->types[i].type, type))
			return &m->types[i];
	return NULL;
}

int ac_metrics_add_type(struct ac_metrics *m, const char *type)
{
	struct ac_type_metrics *grown;
	char *copy;

	if (find_type(m, type))
		return 0;
	copy = ac_strdup(type);
	grown = copy ? realloc(m->types, (m->ntypes + 1) * sizeof *grown) : NULL;
	if (!grown) {
		free(copy);
		return -1;
	}
	m->types = grown;
	memset(&grown[m->ntypes], 0, sizeof grown[m->ntypes]);
	grown[m->ntypes].type = copy;
	histogram_init(&grown[m->ntypes].duration, duration_bounds,
		       COUNT_OF(duration_bounds));
	m->ntypes++;
	return 0;
}

void ac_metrics_started(struct ac_metrics *m, const char *type)
{
	struct ac_type_metrics *t = find_type(m, type);

	if (t)
		t->started++;
}

void ac_metrics_ended(struct ac_metrics *m, const char *type,
		      const char *outcome, double seconds)
{
	struct ac_type_metrics *t = find_type(m, type);

	if (!t)
		return;
	if (!strcmp(outcome, "completed"))
		t->completed++;
	else if (!strcmp(outcome, "retried"))
		t->retried++;
	else
		t->failed++;
	ac_histogram_observe(&t->duration, seconds);
}

void ac_metrics_store_request(struct ac_metrics *m, double seconds, int ok)
{
	ac_histogram_observe(&m->store_latency, seconds);
	if (!ok)
		m->store_errors++;
}

/* A label value with \, " and newlines escaped, as the format asks. */
static int label(struct ac_buf *out, const char *value)
{
	for (const char *p = value ? value : ""; *p; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" :
			*p == '\n' ? "\\n" : NULL;

		if (esc ? ac_buf_append(out, esc, strlen(esc)) < 0 :
		    ac_buf_append(out, p, 1) < 0)
			return -1;
	}
	return 0;
}

static int header(struct ac_buf *out, const char *name, const char *type,
		  const char *help)
{
	return ac_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
			     name, type);
}

/* One histogram's series; labels is "" or `type="x",` (with the comma). */
static int histogram(struct ac_buf *out, const char *name,
		     const char *labels, const struct ac_histogram *h)
{
	uint64_t cumulative = 0;
	size_t n = strlen(labels);
	/* Without other labels, the trailing comma goes. */
	int bare = n == 0;

	for (size_t i = 0; i < h->nbounds; i++) {
		cumulative += h->counts[i];
		if (ac_buf_printf(out, "%s_bucket{%sle=\"%g\"} %llu\n", name,
				  labels, h->bounds[i],
				  (unsigned long long)cumulative) < 0)
			return -1;
	}
	if (ac_buf_printf(out, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels,
			  (unsigned long long)h->count) < 0)
		return -1;
	if (bare)
		return ac_buf_printf(out, "%s_sum %.9g\n%s_count %llu\n", name,
				     h->sum, name,
				     (unsigned long long)h->count);
	return ac_buf_printf(out, "%s_sum{%.*s} %.9g\n%s_count{%.*s} %llu\n",
			     name, (int)(n - 1), labels, h->sum, name,
			     (int)(n - 1), labels,
			     (unsigned long long)h->count);
}

static int per_type_counter(struct ac_buf *out, const struct ac_metrics *m,
			    const char *name, const char *help, size_t field)
{
	if (header(out, name, "counter", help) < 0)
		return -1;
	for (size_t i = 0; i < m->ntypes; i++) {
		const struct ac_type_metrics *t = &m->types[i];
		uint64_t v = field == 0 ? t->started : field == 1 ? t->completed :
			field == 2 ? t->failed : t->retried;

		if (ac_buf_printf(out, "%s{type=\"", name) < 0 ||
		    label(out, t->type) < 0 ||
		    ac_buf_printf(out, "\"} %llu\n", (unsigned long long)v) < 0)
			return -1;
	}
	return 0;
}

int ac_metrics_render(const struct ac_metrics *m,
		      const struct ac_metrics_state *s, struct ac_buf *out)
{
	size_t i;
	json_t *row;

	if (header(out, "ac_worker_info", "gauge",
		   "The worker: its id, ac's version and the kind of store.") < 0 ||
	    ac_buf_append(out, "ac_worker_info{id=\"", 19) < 0 ||
	    label(out, s->worker_id) < 0 ||
	    ac_buf_append(out, "\",version=\"", 11) < 0 ||
	    label(out, s->version) < 0 ||
	    ac_buf_append(out, "\",store=\"", 9) < 0 ||
	    label(out, s->store_kind) < 0 ||
	    ac_buf_append(out, "\"} 1\n", 5) < 0)
		return -1;
	if (per_type_counter(out, m, "ac_tasks_started_total",
			     "Attempts this worker started, by task type.", 0) < 0 ||
	    per_type_counter(out, m, "ac_tasks_completed_total",
			     "Attempts that completed, by task type.", 1) < 0 ||
	    per_type_counter(out, m, "ac_tasks_failed_total",
			     "Attempts that failed for good (failed or timed out, no retries left, or cancelled), by task type.", 2) < 0 ||
	    per_type_counter(out, m, "ac_tasks_retried_total",
			     "Attempts that ended and left their task to be retried, by task type.", 3) < 0)
		return -1;
	if (header(out, "ac_task_duration_seconds", "histogram",
		   "How long attempts ran, by task type.") < 0)
		return -1;
	for (i = 0; i < m->ntypes; i++) {
		struct ac_buf labels = { 0 };
		int rc = ac_buf_append(&labels, "type=\"", 6) < 0 ||
			label(&labels, m->types[i].type) < 0 ||
			ac_buf_append(&labels, "\",", 2) < 0 ? -1 :
			histogram(out, "ac_task_duration_seconds", labels.data,
				  &m->types[i].duration);

		ac_buf_release(&labels);
		if (rc < 0)
			return -1;
	}
	if (header(out, "ac_tasks_running", "gauge",
		   "Tasks this worker is running now.") < 0 ||
	    ac_buf_printf(out, "ac_tasks_running %d\n", s->running) < 0 ||
	    header(out, "ac_worker_concurrency", "gauge",
		   "Slots of this worker (--concurrency).") < 0 ||
	    ac_buf_printf(out, "ac_worker_concurrency %d\n", s->concurrency) < 0 ||
	    header(out, "ac_worker_draining", "gauge",
		   "1 while the worker claims nothing new (drained or stopping).") < 0 ||
	    ac_buf_printf(out, "ac_worker_draining %d\n", s->draining) < 0 ||
	    header(out, "ac_worker_uptime_seconds", "gauge",
		   "Seconds since the worker started.") < 0 ||
	    ac_buf_printf(out, "ac_worker_uptime_seconds %.3f\n", s->uptime_s) < 0 ||
	    header(out, "ac_heartbeat_age_seconds", "gauge",
		   "Seconds since the store last took this worker's heartbeat.") < 0 ||
	    ac_buf_printf(out, "ac_heartbeat_age_seconds %.3f\n",
			  s->heartbeat_age_s) < 0 ||
	    header(out, "ac_store_up", "gauge",
		   "1 when the store answered this worker's last request.") < 0 ||
	    ac_buf_printf(out, "ac_store_up %d\n", s->store_up) < 0 ||
	    header(out, "ac_store_errors_total", "counter",
		   "Requests to the store that failed.") < 0 ||
	    ac_buf_printf(out, "ac_store_errors_total %llu\n",
			  (unsigned long long)m->store_errors) < 0 ||
	    header(out, "ac_store_request_seconds", "histogram",
		   "Round trips of this worker's store requests (cycles and heartbeats).") < 0 ||
	    histogram(out, "ac_store_request_seconds", "", &m->store_latency) < 0)
		return -1;
	if (header(out, "ac_otel_spans_exported_total", "counter",
		   "Spans the OTLP collector accepted.") < 0 ||
	    ac_buf_printf(out, "ac_otel_spans_exported_total %llu\n",
			  (unsigned long long)s->spans_exported) < 0 ||
	    header(out, "ac_otel_spans_dropped_total", "counter",
		   "Spans lost: the export queue was full or their batch failed.") < 0 ||
	    ac_buf_printf(out, "ac_otel_spans_dropped_total %llu\n",
			  (unsigned long long)s->spans_dropped) < 0 ||
	    header(out, "ac_otel_export_failures_total", "counter",
		   "OTLP export requests that failed (no answer, or not 2xx).") < 0 ||
	    ac_buf_printf(out, "ac_otel_export_failures_total %llu\n",
			  (unsigned long long)s->span_requests_failed) < 0 ||
	    header(out, "ac_otel_spans_queued", "gauge",
		   "Spans waiting to be exported.") < 0 ||
	    ac_buf_printf(out, "ac_otel_spans_queued %zu\n", s->spans_queued) < 0)
		return -1;
	if (header(out, "ac_queue_depth", "gauge",
		   "Unfinished tasks in the store, by type, priority and status (cluster-wide).") < 0)
		return -1;
	json_array_foreach(s->queue_depth, i, row) {
		static const char *const statuses[] = { "queued", "pending", "running" };
		const char *type = json_string_value(json_object_get(row, "type"));
		json_int_t prio = json_integer_value(json_object_get(row, "priority"));

		for (size_t k = 0; k < COUNT_OF(statuses); k++)
			if (ac_buf_append(out, "ac_queue_depth{type=\"", 21) < 0 ||
			    label(out, type) < 0 ||
			    ac_buf_printf(out, "\",priority=\"%lld\",status=\"%s\"} %lld\n",
					  (long long)prio, statuses[k],
					  (long long)json_integer_value(
						  json_object_get(row, statuses[k]))) < 0)
				return -1;
	}
	return 0;
}
