#include "dashboard.h"
#include "cancel.h"
#include "control.h"
#include "dashboard_assets.h"
#include "drain.h"
#include "exitcode.h"
#include "feed.h"
#include "sse.h"
#include "status.h"
#include "util.h"

#include <errno.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#define BODY_MAX 4096                /* a POST body: one small JSON object */
#define TASKS_DEFAULT 50
#define TASKS_MAX 1000
#define CANCEL_MAX 1000              /* ids in one cancel */
#define REASON_MAX 1024              /* as ac-drain --reason */

/* The page's script and style are served from here, never inline, so the
 * policy needs no 'unsafe-inline' and no hashes to keep in step. */
static const char csp[] =
	"default-src 'none'; script-src 'self'; style-src 'self'; "
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
	"form-action 'none'; frame-ancestors 'none'";

static const struct ac_sse_limits sse_limits = {
	.max_clients = 64,
	.max_pending = 256 * 1024,
	.max_queued = 4096,
	.replay = 200,
	.keepalive_ms = 15000,
};

struct ac_dashboard {
	struct event_base *base;
	struct evhttp *http;
	struct ac_sse_hub *hub;
	struct ac_feed *feed;
	struct event *sigint_ev, *sigterm_ev;
	struct ac_store *store;      /* borrowed, during ac_dashboard_run */
	int loopback;                /* listening on 127.0.0.0/8 or ::1 */
	char *url;
	char *store_url;
	char *token;
	char *ctl_token;
};

/* ------------------------------------------------------------ replies */

static void add_header(struct evhttp_request *req, const char *key,
		       const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), key, value);
}

static void reply_bytes(struct evhttp_request *req, int code,
			const char *type, const void *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	add_header(req, "Content-Type", type);
	if (b && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD &&
	    evbuffer_add(b, body, len) < 0) {
		evbuffer_free(b);
		b = NULL;
	}
	/* NULL reason: evhttp uses the standard phrase of the code. */
	evhttp_send_reply(req, code, NULL, b);
	if (b)
		evbuffer_free(b);
}

/* value (borrowed) as one line of JSON, as ac-status prints it: the
 * newline makes the body byte for byte the command's output. */
static void reply_json(struct evhttp_request *req, int code, json_t *value)
{
	static const char oom[] = "{\"error\":\"out of memory\"}\n";
	char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) :
		NULL;
	struct ac_buf body = { 0 };

	if (!text || ac_buf_printf(&body, "%s\n", text) < 0)
		reply_bytes(req, 500, "application/json", oom, sizeof oom - 1);
	else
		reply_bytes(req, code, "application/json", body.data, body.len);
	free(text);
	ac_buf_release(&body);
}

static void reply_error(struct evhttp_request *req, int code,
			const char *msg)
{
	json_t *e = json_pack("{s:s}", "error", msg);

	if (code == 401)
		add_header(req, "WWW-Authenticate", "Bearer realm=\"ac\"");
	reply_json(req, code, e);
	json_decref(e);
}

/* A failed store call: unknown things are 404 where the request named
 * one (by_name), an ended task 409, bad input 400, the rest 503. */
static void reply_store_error(struct evhttp_request *req,
			      const struct ac_error *err, int by_name)
{
	int code = 503;

	if (err->exit_code == AC_EXIT_USAGE)
		code = by_name ? 404 : 400;
	else if (err->exit_code == AC_EXIT_FAILED && by_name)
		code = 409;
	reply_error(req, code, err->msg);
}

/* A view's result: 200 with it, or the store's error. */
static void reply_view(struct evhttp_request *req, int rc, json_t *out,
		       const struct ac_error *err, int by_name)
{
	if (rc < 0)
		reply_store_error(req, err, by_name);
	else
		reply_json(req, 200, out);
	json_decref(out);
}

/* ------------------------------------------------------------ GET */

static int serve_asset(struct evhttp_request *req, const char *path)
{
	static const struct { const char *path, *name, *type; } routes[] = {
		{ "/", "index.html", "text/html; charset=utf-8" },
		{ "/index.html", "index.html", "text/html; charset=utf-8" },
		{ "/app.js", "app.js", "text/javascript; charset=utf-8" },
		{ "/app.css", "app.css", "text/css; charset=utf-8" },
	};

	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct ac_dashboard_asset *a;

		if (strcmp(path, routes[i].path))
			continue;
		for (a = ac_dashboard_assets; a->name; a++)
			if (!strcmp(a->name, routes[i].name)) {
				reply_bytes(req, 200, routes[i].type, a->data,
					    a->len);
				return 1;
			}
	}
	return 0;
}

/* /api/tasks?limit=N&status=S&type=T into filter (whose strings point
 * into params).  0, or -1 with a message for a 400. */
static int tasks_filter(const char *query, struct evkeyvalq *params,
			struct ac_task_filter *filter, char *why, size_t whylen)
{
	struct evkeyval *kv;
	long long v;

	filter->limit = TASKS_DEFAULT;
	if (!query)
		return 0;
	if (evhttp_parse_query_str(query, params) < 0) {
		snprintf(why, whylen, "malformed query string");
		return -1;
	}
	TAILQ_FOREACH(kv, params, next) {
		if (!strcmp(kv->key, "limit")) {
			if (ac_parse_int(kv->value, 1, TASKS_MAX, &v) < 0) {
				snprintf(why, whylen, "limit wants a number from 1 to %d",
					 TASKS_MAX);
				return -1;
			}
			filter->limit = (long)v;
		} else if (!strcmp(kv->key, "status")) {
			if (!*kv->value)
				continue;
			if (ac_task_status_parse(kv->value, &filter->status) < 0) {
				snprintf(why, whylen, "unknown status '%.64s'",
					 kv->value);
				return -1;
			}
			filter->has_status = 1;
		} else if (!strcmp(kv->key, "type")) {
			if (!*kv->value)
				continue;
			if (!ac_name_valid(kv->value)) {
				snprintf(why, whylen, "invalid task type '%.64s'",
					 kv->value);
				return -1;
			}
			filter->type = kv->value;
		} else {
			snprintf(why, whylen, "unknown parameter '%.64s'",
				 kv->key);
			return -1;
		}
	}
	return 0;
}

static void serve_tasks(struct ac_dashboard *d, struct evhttp_request *req,
			const char *query)
{
	struct evkeyvalq params;
	struct ac_task_filter filter = { 0 };
	struct ac_error err;
	char why[160];
	json_t *out = NULL;
	int rc;

	TAILQ_INIT(&params);
	if (tasks_filter(query, &params, &filter, why, sizeof why) < 0) {
		reply_error(req, 400, why);
	} else {
		rc = d->store->ops->tasks_list(d->store, &filter, &out, &err);
		reply_view(req, rc, out, &err, 0);
	}
	evhttp_clear_headers(&params);
}

static void serve_task(struct ac_dashboard *d, struct evhttp_request *req,
		       const char *id_text)
{
	struct ac_error err;
	json_t *out = NULL;
	long long id;
	int rc;

	if (ac_parse_int(id_text, 1, INT64_MAX, &id) < 0) {
		reply_error(req, 400, "a task id is a positive integer");
		return;
	}
	rc = ac_status_task(d->store, id, &out, &err);
	reply_view(req, rc, out, &err, 1);
}

static void serve_get(struct ac_dashboard *d, struct evhttp_request *req,
		      const char *path, const char *query)
{
	struct ac_error err;
	json_t *out = NULL;
	int rc;

	if (serve_asset(req, path))
		return;
	if (!strcmp(path, "/events")) {
		if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
			add_header(req, "Cache-Control", "no-cache");
			reply_bytes(req, 200, "text/event-stream", "", 0);
		} else {
			ac_sse_hub_add(d->hub, req);
		}
	} else if (!strcmp(path, "/healthz")) {
		out = json_pack("{s:b,s:I,s:i}", "ok", 1, "event_clients",
				(json_int_t)ac_sse_hub_clients(d->hub),
				"followed_workers", ac_feed_workers(d->feed));
		reply_view(req, 0, out, NULL, 0);
	} else if (!strcmp(path, "/api/config")) {
		out = json_pack("{s:b,s:s}", "actions", d->token != NULL,
				"version", AC_VERSION);
		reply_view(req, 0, out, NULL, 0);
	} else if (!strcmp(path, "/api/summary")) {
		rc = ac_status_summary(d->store, d->store_url, &out, &err);
		reply_view(req, rc, out, &err, 0);
	} else if (!strcmp(path, "/api/workers")) {
		rc = d->store->ops->workers_list(d->store, &out, &err);
		reply_view(req, rc, out, &err, 0);
	} else if (!strcmp(path, "/api/queue")) {
		rc = ac_status_queue(d->store, &out, &err);
		reply_view(req, rc, out, &err, 0);
	} else if (!strcmp(path, "/api/usage")) {
		rc = ac_usage_report(d->store, &out, &err);
		reply_view(req, rc, out, &err, 0);
	} else if (!strcmp(path, "/api/tasks")) {
		serve_tasks(d, req, query);
	} else if (!strncmp(path, "/api/task/", 10)) {
		serve_task(d, req, path + 10);
	} else {
		reply_error(req, 404, "not found");
	}
}

/* ------------------------------------------------------------ POST */

/* The request carries "Authorization: Bearer TOKEN" with our token.
 * Compared in constant time, as the control plane's token. */
static int authorized(struct ac_dashboard *d, struct evhttp_request *req)
{
	const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req),
					      "Authorization");

	return auth && !strncmp(auth, "Bearer ", 7) &&
		ac_ctl_token_equal(auth + 7, d->token);
}

/* The body as a JSON object (new reference), or NULL after a 400/413. */
static json_t *read_body(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char buf[BODY_MAX];
	json_error_t jerr;
	json_t *obj;

	if (len > sizeof buf) {
		reply_error(req, 413, "the body is over 4 KiB");
		return NULL;
	}
	if (evbuffer_copyout(in, buf, len) != (ev_ssize_t)len) {
		reply_error(req, 400, "cannot read the body");
		return NULL;
	}
	obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(obj)) {
		json_decref(obj);
		reply_error(req, 400, "the body must be a JSON object");
		return NULL;
	}
	return obj;
}

/* Every member of obj is one of names (NULL-terminated); else a 400. */
static int members_known(struct evhttp_request *req, json_t *obj,
			 const char *const *names)
{
	const char *key;
	json_t *v;
	char why[128];

	json_object_foreach(obj, key, v) {
		size_t i;

		for (i = 0; names[i] && strcmp(names[i], key); i++)
			;
		if (!names[i]) {
			snprintf(why, sizeof why, "unknown member '%.64s'", key);
			reply_error(req, 400, why);
			return 0;
		}
	}
	return 1;
}

static void post_drain(struct ac_dashboard *d, struct evhttp_request *req,
		       json_t *body)
{
	static const char *const names[] = { "worker", "reason", "undo", NULL };
	json_t *worker = json_object_get(body, "worker");
	json_t *reason = json_object_get(body, "reason");
	json_t *undo = json_object_get(body, "undo");
	const char *id = json_string_value(worker), *why = NULL;
	struct ac_error err;
	json_t *out;

	if (!members_known(req, body, names))
		return;
	if (!id || !ac_name_valid(id))
		why = "\"worker\" wants a worker id";
	else if (reason && !json_is_null(reason) &&
		 (!json_is_string(reason) ||
		  json_string_length(reason) > REASON_MAX))
		why = "\"reason\" wants a string of at most 1024 bytes";
	else if (undo && !json_is_boolean(undo))
		why = "\"undo\" wants true or false";
	else if (json_is_true(undo) && json_string_value(reason))
		why = "an undo takes no reason";
	if (why) {
		reply_error(req, 400, why);
		return;
	}
	if (ac_drain_apply(d->store, &id, 1, json_string_value(reason),
			   json_is_true(undo) ? AC_DRAIN_UNDO : AC_DRAIN_SET,
			   d->ctl_token, &err) < 0) {
		reply_store_error(req, &err, 1);
		return;
	}
	out = json_pack("{s:b,s:s,s:b}", "ok", 1, "worker", id, "drained",
			!json_is_true(undo));
	reply_view(req, 0, out, NULL, 0);
}

static void post_cancel(struct ac_dashboard *d, struct evhttp_request *req,
			json_t *body)
{
	static const char *const names[] = { "id", "ids", NULL };
	json_t *one = json_object_get(body, "id");
	json_t *many = json_object_get(body, "ids");
	int64_t *ids = NULL;
	enum ac_task_status *status = NULL;
	size_t n, i;
	struct ac_error err;
	json_t *v, *out;

	if (!members_known(req, body, names))
		return;
	if ((one != NULL) == (many != NULL) ||
	    (many && (!json_is_array(many) || !json_array_size(many) ||
		      json_array_size(many) > CANCEL_MAX))) {
		reply_error(req, 400, "give \"id\": N or \"ids\": [N, ...] (at most 1000)");
		return;
	}
	n = one ? 1 : json_array_size(many);
	ids = calloc(n, sizeof *ids);
	status = calloc(n, sizeof *status);
	if (!ids || !status) {
		reply_error(req, 500, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		v = one ? one : json_array_get(many, i);
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			reply_error(req, 400, "a task id is a positive integer");
			goto out;
		}
		ids[i] = json_integer_value(v);
	}
	if (ac_cancel_apply(d->store, ids, n, status, d->ctl_token, &err) < 0) {
		reply_store_error(req, &err, 1);
		goto out;
	}
	out = json_pack("{s:b,s:[]}", "ok", 1, "tasks");
	for (i = 0; out && i < n; i++)
		json_array_append_new(json_object_get(out, "tasks"),
				      json_pack("{s:I,s:s}", "id", (json_int_t)ids[i],
						"status", status[i] == AC_TASK_RUNNING ?
						"cancelling" : "cancelled"));
	reply_view(req, 0, out, NULL, 0);
out:
	free(ids);
	free(status);
}

static void serve_post(struct ac_dashboard *d, struct evhttp_request *req,
		       const char *path)
{
	int drain = !strcmp(path, "/api/drain");
	json_t *body;

	if (!drain && strcmp(path, "/api/cancel")) {
		add_header(req, "Allow", "GET, HEAD");
		reply_error(req, 405, "POST goes to /api/drain or /api/cancel");
		return;
	}
	if (!d->token) {
		reply_error(req, 403, "read-only: start with a token to allow actions");
		return;
	}
	if (!authorized(d, req)) {
		reply_error(req, 401, "unauthorized: send Authorization: Bearer TOKEN");
		return;
	}
	body = read_body(req);
	if (!body)
		return;
	if (drain)
		post_drain(d, req, body);
	else
		post_cancel(d, req, body);
	json_decref(body);
}

/* A Host header that names this machine's loopback: localhost,
 * 127.x.x.x or [::1], with any port. */
static int host_is_loopback(const char *host)
{
	struct in_addr a;
	char name[16];
	size_t len;

	if (!host)
		return 0;
	if (!strncmp(host, "[::1]", 5))
		return host[5] == '\0' || host[5] == ':';
	len = strcspn(host, ":");
	if (len == 9 && !strncasecmp(host, "localhost", 9))
		return 1;
	if (len >= sizeof name)
		return 0;
	memcpy(name, host, len);
	name[len] = '\0';
	return inet_pton(AF_INET, name, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct ac_dashboard *d = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	add_header(req, "X-Content-Type-Options", "nosniff");
	add_header(req, "Content-Security-Policy", csp);
	add_header(req, "Referrer-Policy", "no-referrer");
	add_header(req, "X-Frame-Options", "DENY");
	if (!path || !*path)
		path = "/";
	if (strcmp(path, "/events"))
		add_header(req, "Cache-Control", "no-store");
	/* Bound to loopback, a request must also say so: a page of another
	 * site whose name was made to resolve to 127.0.0.1 (DNS rebinding)
	 * names its own host, and is not let read the tasks. */
	if (d->loopback &&
	    !host_is_loopback(evhttp_find_header(evhttp_request_get_input_headers(req),
						 "Host"))) {
		reply_error(req, 403, "this server answers only requests for localhost");
		return;
	}
	if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD) {
		serve_get(d, req, path, evhttp_uri_get_query(uri));
	} else if (cmd == EVHTTP_REQ_POST) {
		serve_post(d, req, path);
	} else {
		add_header(req, "Allow", "GET, HEAD, POST");
		reply_error(req, 405, "method not allowed");
	}
}

/* ------------------------------------------------------------ events */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct ac_dashboard *d = arg;

	(void)sig;
	(void)what;
	event_base_loopexit(d->base, NULL);
}

/* ------------------------------------------------------------ lifecycle */

/* HOST:PORT or [V6]:PORT into host and port. */
static int parse_listen(const char *spec, struct ac_buf *host, char *port,
			size_t portlen, struct ac_error *err)
{
	const char *colon = strrchr(spec, ':');
	const char *h = spec;
	size_t hlen;
	long long p;

	if (!colon || colon == spec || ac_parse_int(colon + 1, 0, 65535, &p) < 0)
		goto bad;
	hlen = (size_t)(colon - spec);
	if (spec[0] == '[') {
		if (hlen < 3 || colon[-1] != ']')
			goto bad;
		h++;
		hlen -= 2;
	} else if (memchr(spec, ':', hlen)) {
		goto bad;        /* a bare IPv6 address needs its brackets */
	}
	if (ac_buf_append(host, h, hlen) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	snprintf(port, portlen, "%lld", p);
	return 0;
bad:
	return ac_error_set(err, AC_EXIT_USAGE,
			    "--serve wants HOST:PORT, not '%s'", spec);
}

/* A listening socket on spec; the real port in *port_out, and whether
 * the address is a loopback one in *loopback. */
static int listen_on(const char *spec, int *port_out, int *loopback,
		     struct ac_buf *host, struct ac_error *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai;
	struct sockaddr_storage addr;
	socklen_t alen = sizeof addr;
	char port[8];
	int fd, rc, one = 1;

	if (parse_listen(spec, host, port, sizeof port, err) < 0)
		return -1;
	rc = getaddrinfo(host->data, port, &hints, &ai);
	if (rc != 0)
		return ac_error_set(err, AC_EXIT_USAGE, "--serve %s: %s", spec,
				    gai_strerror(rc));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &alen) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot listen on %s: %s",
			     spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	if (addr.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;

		*port_out = ntohs(in6->sin6_port);
		*loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&addr;

		*port_out = ntohs(in4->sin_port);
		*loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
	}
	return fd;
}

static char *copy_opt(const char *s, int *oom)
{
	char *c = s ? ac_strdup(s) : NULL;

	if (s && !c)
		*oom = 1;
	return c;
}

int ac_dashboard_open(struct ac_dashboard **out,
		      const struct ac_dashboard_config *cfg,
		      struct ac_error *err)
{
	struct ac_dashboard *d = calloc(1, sizeof *d);
	struct ac_buf host = { 0 }, url = { 0 };
	int fd = -1, port = 0, oom = 0;

	*out = NULL;
	if (!d)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	d->store_url = copy_opt(cfg->store_url, &oom);
	d->token = copy_opt(cfg->token, &oom);
	d->ctl_token = copy_opt(cfg->ctl_token, &oom);
	if (oom) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto fail;
	}
	fd = listen_on(cfg->listen, &port, &d->loopback, &host, err);
	if (fd < 0)
		goto fail;
	if (ac_buf_printf(&url, strchr(host.data, ':') ? "http://[%s]:%d/" :
			  "http://%s:%d/", host.data, port) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto fail;
	}
	d->url = url.data;
	url.data = NULL;
	d->base = event_base_new();
	d->http = d->base ? evhttp_new(d->base) : NULL;
	if (!d->http) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot create the HTTP server");
		goto fail;
	}
	/* Small requests only; idle connections do not linger. */
	evhttp_set_max_headers_size(d->http, 8192);
	/* Bodies a little over the limit reach read_body(), which refuses
	 * them in JSON; evhttp refuses bigger ones itself (in HTML). */
	evhttp_set_max_body_size(d->http, 16 * BODY_MAX);
	evhttp_set_timeout(d->http, 30);
	evhttp_set_allowed_methods(d->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
				   EVHTTP_REQ_PATCH);
	evhttp_set_gencb(d->http, on_request, d);
	if (!evhttp_accept_socket_with_handle(d->http, fd)) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot serve on %s",
			     cfg->listen);
		goto fail;
	}
	fd = -1;             /* the server's now */
	ac_buf_release(&host);
	*out = d;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	ac_buf_release(&host);
	ac_buf_release(&url);
	ac_dashboard_free(d);
	return -1;
}

const char *ac_dashboard_url(const struct ac_dashboard *d)
{
	return d->url;
}

int ac_dashboard_run(struct ac_dashboard *d, struct ac_store *store,
		     struct ac_error *err)
{
	d->store = store;
	if (ac_sse_hub_new(&d->hub, d->base, &sse_limits, err) < 0 ||
	    ac_feed_start(&d->feed, d->base, store, d->hub, d->ctl_token,
			  err) < 0)
		return -1;
	d->sigint_ev = evsignal_new(d->base, SIGINT, on_signal, d);
	d->sigterm_ev = evsignal_new(d->base, SIGTERM, on_signal, d);
	if (!d->sigint_ev || !d->sigterm_ev ||
	    event_add(d->sigint_ev, NULL) < 0 ||
	    event_add(d->sigterm_ev, NULL) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "cannot set up the event loop");
	if (event_base_dispatch(d->base) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "the event loop failed");
	return 0;
}

void ac_dashboard_free(struct ac_dashboard *d)
{
	if (!d)
		return;
	/* First no more events from the feed, then no more streams to send
	 * them to. */
	ac_feed_stop(d->feed);
	ac_sse_hub_free(d->hub);
	if (d->sigint_ev)
		event_free(d->sigint_ev);
	if (d->sigterm_ev)
		event_free(d->sigterm_ev);
	if (d->http)
		evhttp_free(d->http);
	if (d->base)
		event_base_free(d->base);
	free(d->url);
	free(d->store_url);
	free(d->token);
	free(d->ctl_token);
	free(d);
}
