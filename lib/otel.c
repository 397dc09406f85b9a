/* The OTLP/HTTP JSON span exporter (see otel.h). */
#include "otel.h"

#include "exitcode.h"
#include "log.h"
#include "trace.h"
#include "util.h"

#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_MAX_QUEUE 2048
#define DEFAULT_MAX_BATCH 512
#define DEFAULT_DELAY_MS 1000
#define DEFAULT_TIMEOUT_MS 10000
/* A 429 or 503 answer: the one more try of the batch comes this much
 * later (a Retry-After header is not read). */
#define RETRY_DELAY_MS 1000

struct ac_otel {
	const struct ac_otel_config *cfg;
	struct event_base *base;
	struct evdns_base *dns;
	struct evhttp_connection *conn;
	char *host;              /* for the Host header */
	char *target;            /* path and query of the request */
	char *prefix;            /* the body up to the first span */
	char **queue;            /* rendered spans, a ring of max_queue */
	size_t head, len;
	struct ac_buf body;      /* the batch being sent (or to retry) */
	size_t body_spans;
	int in_flight;
	int retried;             /* the batch in body had its one more try */
	int retry_pending;       /* ev_retry is armed */
	int flushing;
	int failing;             /* the last request failed (told once) */
	struct event *ev_send;   /* sends now, outside the recorder's stack */
	struct event *ev_timer;  /* the schedule delay */
	struct event *ev_retry;
	struct ac_otel_counts counts;
};

int64_t ac_otel_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- Configuration ---------------------------------------------------- */

static void warn_once(struct ac_otel_config *c, const char *name,
		      const char *value)
{
	if (!c->warning[0])
		snprintf(c->warning, sizeof c->warning,
			 "ignoring %s='%.64s': not a valid value", name, value);
}

/* A positive integer setting, within max; the default when unset or bad. */
static int64_t env_number(struct ac_otel_config *c, const char *name,
			  int64_t def, int64_t max)
{
	const char *v = getenv(name);
	long long n;

	if (!v || !*v)
		return def;
	if (ac_parse_int(v, 1, max, &n) < 0) {
		warn_once(c, name, v);
		return def;
	}
	return n;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* len bytes of text, percent-decoded and trimmed of blanks, as a new
 * string; NULL when out of memory or a %XX is malformed. */
static char *decode_part(const char *text, size_t len)
{
	char *out, *o;

	while (len && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	out = malloc(len + 1);
	if (!out)
		return NULL;
	o = out;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '%') {
			int hi = i + 2 < len ? hex_digit(text[i + 1]) : -1;
			int lo = i + 2 < len ? hex_digit(text[i + 2]) : -1;

			if (hi < 0 || lo < 0) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi << 4 | lo);
			i += 2;
			continue;
		}
		*o++ = text[i];
	}
	*o = '\0';
	return out;
}

/* "k=v,k=v" (W3C Baggage-like, values percent-encoded) into a new JSON
 * object of strings; a malformed pair is skipped and named in warning. */
static json_t *parse_pairs(struct ac_otel_config *c, const char *name,
			   const char *text)
{
	json_t *obj = json_object();
	const char *p = text;

	if (!obj || !text)
		return obj;
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);
		char *key = NULL, *value = NULL;

		if (eq && eq > p) {
			key = decode_part(p, (size_t)(eq - p));
			value = decode_part(eq + 1, len - (size_t)(eq - p) - 1);
		}
		if (key && value && *key &&
		    json_object_set_new(obj, key, json_string(value)) == 0) {
			/* kept */
		} else if (len > 0) {
			warn_once(c, name, text);
		}
		free(key);
		free(value);
		p += len;
		if (*p == ',')
			p++;
	}
	return obj;
}

static int env_true(const char *name)
{
	const char *v = getenv(name);

	return v && !strcasecmp(v, "true");
}

int ac_otel_config_env(struct ac_otel_config *c, struct ac_error *err)
{
	const char *traces = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	const char *base = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	const char *exporter = getenv("OTEL_TRACES_EXPORTER");
	const char *service = getenv("OTEL_SERVICE_NAME");
	struct ac_buf url = { 0 };
	json_t *name;

	memset(c, 0, sizeof *c);
	if (env_true("OTEL_SDK_DISABLED") ||
	    (exporter && !strcmp(exporter, "none")))
		return 0;
	if (traces && *traces) {
		if (ac_buf_append(&url, traces, strlen(traces)) < 0)
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	} else if (base && *base) {
		size_t len = strlen(base);

		/* The signal's path goes after the base's own. */
		while (len && base[len - 1] == '/')
			len--;
		if (ac_buf_printf(&url, "%.*s/v1/traces", (int)len, base) < 0)
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	} else {
		return 0;
	}
	if (strncasecmp(url.data, "http://", 7)) {
		int tls = !strncasecmp(url.data, "https://", 8);

		ac_error_set(err, AC_EXIT_USAGE,
			     tls ? "OTLP endpoint '%s': https:// is not supported, only http:// (export to a local collector)" :
			     "OTLP endpoint '%s' is not an http:// URL",
			     url.data);
		ac_buf_release(&url);
		return -1;
	}
	c->url = url.data;
	c->max_queue = (size_t)env_number(c, "OTEL_BSP_MAX_QUEUE_SIZE",
					  DEFAULT_MAX_QUEUE, 1 << 20);
	c->max_batch = (size_t)env_number(c, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
					  DEFAULT_MAX_BATCH, 1 << 20);
	if (c->max_batch > c->max_queue)
		c->max_batch = c->max_queue;
	c->delay_ms = env_number(c, "OTEL_BSP_SCHEDULE_DELAY",
				 DEFAULT_DELAY_MS, 3600 * 1000);
	c->timeout_ms = env_number(c, "OTEL_EXPORTER_OTLP_TIMEOUT",
				   DEFAULT_TIMEOUT_MS, 3600 * 1000);
	c->timeout_ms = env_number(c, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
				   c->timeout_ms, 3600 * 1000);
	c->headers = parse_pairs(c, "OTEL_EXPORTER_OTLP_HEADERS",
				 getenv("OTEL_EXPORTER_OTLP_HEADERS"));
	c->resource = parse_pairs(c, "OTEL_RESOURCE_ATTRIBUTES",
				  getenv("OTEL_RESOURCE_ATTRIBUTES"));
	/* OTEL_SERVICE_NAME wins over a service.name among the attributes. */
	name = c->resource ? json_object_get(c->resource, "service.name") : NULL;
	c->service_name = ac_strdup(service && *service ? service :
				    name ? json_string_value(name) : "ac-worker");
	if (!c->headers || !c->resource || !c->service_name) {
		ac_otel_config_release(c);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	return 1;
}

void ac_otel_config_release(struct ac_otel_config *c)
{
	free(c->url);
	free(c->service_name);
	json_decref(c->headers);
	json_decref(c->resource);
	memset(c, 0, sizeof *c);
}

/* ---- Rendering --------------------------------------------------------- */

static json_t *attr_json(const char *key, const char *str, int64_t num)
{
	char digits[24];

	if (str)
		return json_pack("{s:s,s:{s:s}}", "key", key, "value",
				 "stringValue", str);
	/* proto3 JSON writes 64-bit integers as strings. */
	snprintf(digits, sizeof digits, "%lld", (long long)num);
	return json_pack("{s:s,s:{s:s}}", "key", key, "value", "intValue",
			 digits);
}

/* The request body before the spans: the resource and the scope. */
static char *render_prefix(const struct ac_otel_config *cfg,
			   const char *worker_id, const char *host)
{
	json_t *attrs = json_array(), *value;
	const char *key;
	char *text = NULL, *shell;
	struct ac_buf out = { 0 };

	if (!attrs)
		return NULL;
	json_array_append_new(attrs, attr_json("service.name",
					       cfg->service_name, 0));
	json_array_append_new(attrs, attr_json("service.instance.id",
					       worker_id, 0));
	json_array_append_new(attrs, attr_json("host.name", host, 0));
	json_array_append_new(attrs, attr_json("telemetry.sdk.name", "ac", 0));
	json_object_foreach(cfg->resource, key, value) {
		if (strcmp(key, "service.name") &&
		    strcmp(key, "service.instance.id") &&
		    strcmp(key, "host.name"))
			json_array_append_new(attrs, attr_json(key,
				json_string_value(value), 0));
	}
	/* The spans are spliced in as text: render the rest around an
	 * empty array and cut it open there. */
	value = json_pack("{s:[{s:{s:o},s:[{s:{s:s,s:s},s:[]}]}]}",
			  "resourceSpans", "resource", "attributes", attrs,
			  "scopeSpans", "scope", "name", "ac", "version",
			  AC_VERSION, "spans");
	if (!value)
		return NULL;
	shell = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(value);
	if (!shell)
		return NULL;
	/* The one empty array is the spans', at the end: "...[]}]}]}". */
	key = strstr(shell, "\"spans\":[]");
	if (key && ac_buf_append(&out, shell,
				 (size_t)(key - shell) + strlen("\"spans\":[")) == 0)
		text = out.data;
	else
		ac_buf_release(&out);
	free(shell);
	return text;
}

static const char suffix[] = "]}]}]}";

/* Append s as a JSON string.  Written by hand rather than through
 * jansson because every span is rendered on the task path: what a worker
 * puts in a span is mostly names, but an error text may hold anything, so
 * quotes, backslashes and control characters are escaped and bytes that
 * are not UTF-8 become U+FFFD. */
static int append_json_string(struct ac_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int rc = ac_buf_append(out, "\"", 1);

	while (rc == 0 && *p) {
		size_t run = 0, seq;

		/* The plain run up to the next byte that needs care. */
		while (p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' &&
		       p[run] != '\\')
			run++;
		if (run) {
			rc = ac_buf_append(out, p, run);
			p += run;
			continue;
		}
		if (*p == '"' || *p == '\\') {
			char esc[2] = { '\\', (char)*p };

			rc = ac_buf_append(out, esc, 2);
			p++;
			continue;
		}
		if (*p < 0x20) {
			rc = ac_buf_printf(out, "\\u%04x", *p);
			p++;
			continue;
		}
		/* A UTF-8 sequence: its lead byte says how long. */
		seq = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
			(*p & 0xf8) == 0xf0 ? 4 : 0;
		for (size_t i = 1; i < seq; i++)
			if ((p[i] & 0xc0) != 0x80)
				seq = 0;
		if (seq == 2 && *p < 0xc2)
			seq = 0;             /* overlong */
		if (seq) {
			rc = ac_buf_append(out, p, seq);
			p += seq;
		} else {
			rc = ac_buf_append(out, "\\ufffd", 6);
			p++;
		}
	}
	return rc < 0 ? -1 : ac_buf_append(out, "\"", 1);
}

static char *render_span(const struct ac_otel_span *s)
{
	char trace[2 * AC_TRACE_ID_LEN + 1], span[2 * AC_SPAN_ID_LEN + 1];
	char parent[2 * AC_SPAN_ID_LEN + 1];
	struct ac_buf out = { 0 };
	int rc;

	ac_trace_hex(s->trace_id, AC_TRACE_ID_LEN, trace);
	ac_trace_hex(s->span_id, AC_SPAN_ID_LEN, span);
	if (s->parent_id)
		ac_trace_hex(s->parent_id, AC_SPAN_ID_LEN, parent);
	rc = ac_buf_printf(&out, "{\"traceId\":\"%s\",\"spanId\":\"%s\",%s%s%s\"name\":",
			   trace, span, s->parent_id ? "\"parentSpanId\":\"" : "",
			   s->parent_id ? parent : "", s->parent_id ? "\"," : "");
	rc |= append_json_string(&out, s->name);
	/* proto3 JSON: 64-bit integers (times, intValue) as strings. */
	rc |= ac_buf_printf(&out, ",\"kind\":%d,\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\",\"attributes\":[",
			    (int)s->kind, (long long)s->start_ns,
			    (long long)s->end_ns);
	for (size_t i = 0; i < s->nattrs; i++) {
		const struct ac_otel_attr *a = &s->attrs[i];

		rc |= ac_buf_append(&out, i ? ",{\"key\":" : "{\"key\":", i ? 8 : 7);
		rc |= append_json_string(&out, a->key);
		if (a->str) {
			rc |= ac_buf_append(&out, ",\"value\":{\"stringValue\":", 24);
			rc |= append_json_string(&out, a->str);
			rc |= ac_buf_append(&out, "}}", 2);
		} else {
			rc |= ac_buf_printf(&out, ",\"value\":{\"intValue\":\"%lld\"}}",
					    (long long)a->num);
		}
	}
	rc |= ac_buf_append(&out, "]", 1);
	if (s->error) {
		rc |= ac_buf_append(&out, ",\"status\":{\"code\":2,\"message\":", 30);
		rc |= append_json_string(&out, s->error);
		rc |= ac_buf_append(&out, "}", 1);
	}
	rc |= ac_buf_append(&out, "}", 1);
	if (rc) {
		ac_buf_release(&out);
		return NULL;
	}
	return out.data;
}

/* ---- Sending ------------------------------------------------------------ */

static void send_batch(struct ac_otel *x);

static void arm(struct event *ev, int64_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

static void drop_body(struct ac_otel *x)
{
	x->counts.dropped += x->body_spans;
	ac_buf_reset(&x->body);
	x->body_spans = 0;
	x->retried = 0;
}

/* What is left after an answer: the next batch now when enough waits (or
 * at a flush), else on the schedule. */
static void next_step(struct ac_otel *x)
{
	if (x->in_flight || x->retry_pending)
		return;
	if (x->len >= x->cfg->max_batch || (x->flushing && x->len))
		event_active(x->ev_send, EV_TIMEOUT, 0);
	else if (x->len && !evtimer_pending(x->ev_timer, NULL))
		arm(x->ev_timer, x->cfg->delay_ms);
}

static void on_answer(struct evhttp_request *req, void *arg)
{
	struct ac_otel *x = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;

	x->in_flight = 0;
	if (code >= 200 && code < 300) {
		x->counts.exported += x->body_spans;
		ac_buf_reset(&x->body);
		x->body_spans = 0;
		x->retried = 0;
		if (x->failing)
			ac_log_info("OTLP export to %s works again", x->cfg->url);
		x->failing = 0;
	} else {
		x->counts.failed_requests++;
		if (!x->failing) {
			if (code)
				ac_log_warn("OTLP export to %s failing: HTTP %d; spans are dropped (ac_otel_spans_dropped_total) until it works",
					    x->cfg->url, code);
			else
				ac_log_warn("OTLP export to %s failing: no answer (refused, unreachable or timed out); spans are dropped (ac_otel_spans_dropped_total) until it works",
					    x->cfg->url);
		}
		x->failing = 1;
		if ((code == 429 || code == 503) && !x->retried) {
			x->retried = 1;
			x->retry_pending = 1;
			arm(x->ev_retry, RETRY_DELAY_MS);
			return;
		}
		drop_body(x);
	}
	next_step(x);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct ac_otel *x = arg;

	(void)fd;
	(void)what;
	x->retry_pending = 0;
	send_batch(x);
}

static void on_send(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_batch(arg);
}

/* Move up to max_batch queued spans into the body. */
static int fill_body(struct ac_otel *x)
{
	size_t n = x->len < x->cfg->max_batch ? x->len : x->cfg->max_batch;
	int ok = ac_buf_append(&x->body, x->prefix, strlen(x->prefix)) == 0;

	for (size_t i = 0; i < n; i++) {
		char *span = x->queue[x->head];

		x->queue[x->head] = NULL;
		x->head = (x->head + 1) % x->cfg->max_queue;
		x->len--;
		if (ok && ((x->body_spans && ac_buf_append(&x->body, ",", 1) < 0) ||
			   ac_buf_append(&x->body, span, strlen(span)) < 0))
			ok = 0;
		x->body_spans++;
		free(span);
	}
	if (!ok || ac_buf_append(&x->body, suffix, strlen(suffix)) < 0) {
		drop_body(x);
		return -1;
	}
	return 0;
}

static void send_batch(struct ac_otel *x)
{
	struct evhttp_request *req;
	struct evkeyvalq *headers;
	const char *name;
	json_t *value;

	if (x->in_flight || x->retry_pending)
		return;
	if (!x->body_spans && (!x->len || fill_body(x) < 0))
		return;
	evtimer_del(x->ev_timer);
	req = evhttp_request_new(on_answer, x);
	if (!req) {
		drop_body(x);
		return;
	}
	headers = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(headers, "Host", x->host) < 0 ||
	    evhttp_add_header(headers, "Content-Type", "application/json") < 0 ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), x->body.data,
			 x->body.len) < 0) {
		evhttp_request_free(req);
		drop_body(x);
		return;
	}
	json_object_foreach(x->cfg->headers, name, value)
		evhttp_add_header(headers, name, json_string_value(value));
	x->in_flight = 1;
	/* A failure (no socket could be made) has either answered already
	 * (on_answer: in_flight is 0 again) or left the request to libevent,
	 * which frees it on some paths and not on others: it is not freed
	 * here, a rare leak rather than a double free. */
	if (evhttp_make_request(x->conn, req, EVHTTP_REQ_POST, x->target) < 0 &&
	    x->in_flight) {
		x->in_flight = 0;
		x->counts.failed_requests++;
		drop_body(x);
	}
}

/* ---- The exporter ------------------------------------------------------- */

int ac_otel_open(struct ac_otel **out, const struct ac_otel_config *cfg,
		 struct event_base *base, const char *worker_id,
		 const char *host, struct ac_error *err)
{
	struct ac_otel *x = calloc(1, sizeof *x);
	struct evhttp_uri *uri = NULL;
	struct timeval tv = { .tv_sec = cfg->timeout_ms / 1000,
			      .tv_usec = (cfg->timeout_ms % 1000) * 1000 };
	struct ac_buf target = { 0 }, host_header = { 0 };
	const char *uri_host, *path, *query;
	int port;

	*out = NULL;
	if (!x)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	x->cfg = cfg;
	x->base = base;
	uri = evhttp_uri_parse(cfg->url);
	uri_host = uri ? evhttp_uri_get_host(uri) : NULL;
	if (!uri_host || !*uri_host) {
		ac_error_set(err, AC_EXIT_USAGE, "OTLP endpoint '%s' is not a valid URL",
			     cfg->url);
		goto fail;
	}
	port = evhttp_uri_get_port(uri);
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	if (ac_buf_printf(&target, "%s%s%s", path && *path ? path : "/",
			  query ? "?" : "", query ? query : "") < 0 ||
	    (port > 0 ? ac_buf_printf(&host_header, "%s:%d", uri_host, port) :
	     ac_buf_printf(&host_header, "%s", uri_host)) < 0)
		goto oom;
	x->target = target.data;
	x->host = host_header.data;
	target.data = host_header.data = NULL;
	/* Names are looked up without blocking the loop (numeric addresses
	 * need no lookup at all). */
	x->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
				EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	x->conn = evhttp_connection_base_new(base, x->dns, uri_host,
					     (unsigned short)(port > 0 ? port : 80));
	x->queue = calloc(cfg->max_queue, sizeof *x->queue);
	x->prefix = render_prefix(cfg, worker_id, host);
	x->ev_send = event_new(base, -1, 0, on_send, x);
	x->ev_timer = evtimer_new(base, on_send, x);
	x->ev_retry = evtimer_new(base, on_retry, x);
	if (!x->conn || !x->queue || !x->prefix || !x->ev_send ||
	    !x->ev_timer || !x->ev_retry)
		goto oom;
	evhttp_connection_set_timeout_tv(x->conn, &tv);
	/* No retries of libevent's own: a failed batch is dropped. */
	evhttp_connection_set_retries(x->conn, 0);
	evhttp_uri_free(uri);
	*out = x;
	return 0;
oom:
	ac_error_set(err, AC_EXIT_FAILED, "out of memory");
fail:
	ac_buf_release(&target);
	ac_buf_release(&host_header);
	if (uri)
		evhttp_uri_free(uri);
	ac_otel_close(x);
	return -1;
}

void ac_otel_close(struct ac_otel *x)
{
	if (!x)
		return;
	if (x->conn)
		evhttp_connection_free(x->conn);
	if (x->dns)
		evdns_base_free(x->dns, 0);
	drop_body(x);
	for (size_t i = 0; x->queue && i < x->len; i++) {
		free(x->queue[(x->head + i) % x->cfg->max_queue]);
		x->counts.dropped++;
	}
	free(x->queue);
	ac_buf_release(&x->body);
	if (x->ev_send)
		event_free(x->ev_send);
	if (x->ev_timer)
		event_free(x->ev_timer);
	if (x->ev_retry)
		event_free(x->ev_retry);
	free(x->prefix);
	free(x->target);
	free(x->host);
	free(x);
}

void ac_otel_record(struct ac_otel *x, const struct ac_otel_span *span)
{
	char *text;

	if (x->len == x->cfg->max_queue) {
		x->counts.dropped++;
		return;
	}
	text = render_span(span);
	if (!text) {
		x->counts.dropped++;
		return;
	}
	x->queue[(x->head + x->len) % x->cfg->max_queue] = text;
	x->len++;
	next_step(x);
}

void ac_otel_flush(struct ac_otel *x)
{
	x->flushing = 1;
	next_step(x);
}

int ac_otel_idle(const struct ac_otel *x)
{
	return !x->len && !x->in_flight && !x->body_spans;
}

void ac_otel_get_counts(const struct ac_otel *x, struct ac_otel_counts *out)
{
	*out = x->counts;
	out->queued = x->len + x->body_spans;
}
