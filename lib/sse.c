#include "sse.h"
#include "exitcode.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

struct sse_client {
	struct ac_sse_hub *hub;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct sse_client *prev, *next;
};

struct queued {
	struct queued *next;
	size_t len;
	char text[];
};

/* A message as sent: "id: RUN-SEQ", "data: TEXT" and a blank line. */
struct sent {
	uint64_t seq;
	size_t len;
	char text[];
};

/* Sent to the streams per turn of the loop: a burst goes out in slices,
 * so that the streams' output is written between them and a client that
 * reads keeps up, while one that does not falls max_pending behind. */
#define SLICE_BYTES (64 * 1024)

struct ac_sse_hub {
	struct event_base *base;
	struct ac_sse_limits limits;
	pthread_mutex_t lock;        /* guards the queue and wake_pending */
	struct queued *head, *tail;
	size_t nqueued;
	int wake_pending;            /* a byte is in the pipe: no need for more */
	int wake[2];                 /* self-pipe: posting threads -> loop */
	struct event *wake_ev;
	struct event *keepalive_ev;
	struct event *slice_ev;      /* the next slice of the backlog */
	struct queued *backlog, *backlog_tail; /* taken from the queue, to send */
	size_t nbacklog;
	struct sse_client *clients;  /* loop thread only, as what follows */
	size_t nclients;
	char run[24];                /* this hub's id prefix: see ac_sse_hub_new */
	uint64_t seq;                /* of the last message sent */
	struct sent **ring;          /* the last limits.replay messages */
	size_t ring_next;            /* where the next one goes */
};

static void unlink_client(struct sse_client *c)
{
	struct ac_sse_hub *hub = c->hub;

	if (c->prev)
		c->prev->next = c->next;
	else
		hub->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	hub->nclients--;
}

/* The client went away (or the server is being freed).  On a peer's EOF
 * evhttp detaches the unfinished request from its connection and leaves
 * it to us; otherwise the connection frees it. */
static void on_client_close(struct evhttp_connection *conn, void *arg)
{
	struct sse_client *c = arg;

	(void)conn;
	unlink_client(c);
	if (!evhttp_request_get_connection(c->req))
		evhttp_request_free(c->req);
	free(c);
}

/* Drop a stream that does not keep up: its output is thrown away. */
static void drop_client(struct sse_client *c)
{
	struct evhttp_connection *conn = c->conn;

	unlink_client(c);
	evhttp_connection_set_closecb(conn, NULL, NULL);
	free(c);
	evhttp_connection_free(conn);
}

/* Bytes written to the client's connection and not yet taken by the
 * kernel. */
static size_t pending(struct sse_client *c)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);

	return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

/* Send the same bytes to every stream, dropping those too far behind. */
static void broadcast(struct ac_sse_hub *hub, const char *data, size_t len)
{
	struct sse_client *c, *next;

	for (c = hub->clients; c; c = next) {
		struct evbuffer *b;

		next = c->next;
		if (pending(c) + len > hub->limits.max_pending) {
			drop_client(c);
			continue;
		}
		b = evbuffer_new();
		if (!b || evbuffer_add(b, data, len) < 0) {
			if (b)
				evbuffer_free(b);
			continue;
		}
		evhttp_send_reply_chunk(c->req, b);
		evbuffer_free(b);
	}
}

/* Number text as the next message, send it to every stream and keep it
 * for the streams that connect later. */
static void send_message(struct ac_sse_hub *hub, const char *text,
			 size_t len)
{
	char head[64];
	int hlen;
	struct sent *m;

	hub->seq++;
	hlen = snprintf(head, sizeof head, "id: %s-%llu\ndata: ", hub->run,
			(unsigned long long)hub->seq);
	if (hlen < 0 || (size_t)hlen >= sizeof head)
		return;
	m = malloc(sizeof *m + (size_t)hlen + len + 2);
	if (!m)
		return;
	m->seq = hub->seq;
	memcpy(m->text, head, (size_t)hlen);
	memcpy(m->text + hlen, text, len);
	memcpy(m->text + (size_t)hlen + len, "\n\n", 2);
	m->len = (size_t)hlen + len + 2;
	broadcast(hub, m->text, m->len);
	if (!hub->ring) {
		free(m);
		return;
	}
	free(hub->ring[hub->ring_next]);
	hub->ring[hub->ring_next] = m;
	hub->ring_next = (hub->ring_next + 1) % hub->limits.replay;
}

/* The sequence number of a Last-Event-ID this hub gave; 0 for none or
 * for one of another run (a server restarted since: all is new). */
static uint64_t last_seen(struct ac_sse_hub *hub, const char *last_id)
{
	size_t rl = strlen(hub->run);
	long long seq;

	if (!last_id || strncmp(last_id, hub->run, rl) || last_id[rl] != '-' ||
	    ac_parse_int(last_id + rl + 1, 1, INT64_MAX, &seq) < 0)
		return 0;
	return (uint64_t)seq;
}

/* The kept messages after seq, oldest first, to one new stream. */
static void replay(struct ac_sse_hub *hub, struct evhttp_request *req,
		   uint64_t after)
{
	size_t n = hub->limits.replay;
	struct evbuffer *b;

	if (!hub->ring || !(b = evbuffer_new()))
		return;
	for (size_t i = 0; i < n; i++) {
		struct sent *m = hub->ring[(hub->ring_next + i) % n];

		if (m && m->seq > after)
			evbuffer_add(b, m->text, m->len);
	}
	if (evbuffer_get_length(b))
		evhttp_send_reply_chunk(req, b);
	evbuffer_free(b);
}

/* Send a slice of the backlog; the rest waits for the next turn. */
static void send_slice(struct ac_sse_hub *hub)
{
	static const struct timeval next_turn = { 0, 0 };
	size_t sent = 0;
	struct queued *q;

	while (sent < SLICE_BYTES && (q = hub->backlog)) {
		hub->backlog = q->next;
		if (!hub->backlog)
			hub->backlog_tail = NULL;
		hub->nbacklog--;
		send_message(hub, q->text, q->len);
		sent += q->len;
		free(q);
	}
	/* A timer of no time runs after the loop's next poll, which writes
	 * what this slice queued. */
	if (hub->backlog)
		evtimer_add(hub->slice_ev, &next_turn);
}

static void on_slice(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_slice(arg);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct ac_sse_hub *hub = arg;
	struct queued *list, *q;
	char drain[64];

	(void)what;
	while (read(fd, drain, sizeof drain) > 0)
		;
	pthread_mutex_lock(&hub->lock);
	list = hub->head;
	hub->head = hub->tail = NULL;
	hub->nqueued = 0;
	hub->wake_pending = 0;
	pthread_mutex_unlock(&hub->lock);
	while ((q = list)) {
		list = q->next;
		q->next = NULL;
		if (hub->nbacklog >= hub->limits.max_queued) {
			/* Still behind: the oldest message goes. */
			struct queued *old = hub->backlog;

			hub->backlog = old->next;
			if (!hub->backlog)
				hub->backlog_tail = NULL;
			hub->nbacklog--;
			free(old);
		}
		if (hub->backlog_tail)
			hub->backlog_tail->next = q;
		else
			hub->backlog = q;
		hub->backlog_tail = q;
		hub->nbacklog++;
	}
	if (!evtimer_pending(hub->slice_ev, NULL))
		send_slice(hub);
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
	static const char comment[] = ": keepalive\n\n";

	(void)fd;
	(void)what;
	broadcast(arg, comment, sizeof comment - 1);
}

int ac_sse_hub_new(struct ac_sse_hub **out, struct event_base *base,
		   const struct ac_sse_limits *limits, struct ac_error *err)
{
	struct ac_sse_hub *hub = calloc(1, sizeof *hub);
	struct timeval every;

	*out = NULL;
	if (!hub)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	hub->base = base;
	hub->limits = *limits;
	hub->wake[0] = hub->wake[1] = -1;
	/* Ids are RUN-SEQ, RUN this hub's start: a client that reconnects
	 * to a restarted server gives an id of another run and gets all. */
	snprintf(hub->run, sizeof hub->run, "%llx", (unsigned long long)ac_now_ms());
	if (limits->replay &&
	    !(hub->ring = calloc(limits->replay, sizeof *hub->ring))) {
		free(hub);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	if (pthread_mutex_init(&hub->lock, NULL) != 0) {
		free(hub->ring);
		free(hub);
		return ac_error_set(err, AC_EXIT_FAILED, "cannot make a lock");
	}
	if (pipe2(hub->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot make a pipe: %s",
			     strerror(errno));
		goto fail;
	}
	hub->wake_ev = event_new(base, hub->wake[0], EV_READ | EV_PERSIST,
				 on_wake, hub);
	hub->keepalive_ev = event_new(base, -1, EV_PERSIST, on_keepalive, hub);
	hub->slice_ev = evtimer_new(base, on_slice, hub);
	every.tv_sec = limits->keepalive_ms / 1000;
	every.tv_usec = (limits->keepalive_ms % 1000) * 1000;
	if (!hub->wake_ev || !hub->keepalive_ev || !hub->slice_ev ||
	    event_add(hub->wake_ev, NULL) < 0 ||
	    event_add(hub->keepalive_ev, &every) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot set up the event stream");
		goto fail;
	}
	*out = hub;
	return 0;
fail:
	ac_sse_hub_free(hub);
	return -1;
}

void ac_sse_hub_free(struct ac_sse_hub *hub)
{
	struct queued *q;

	if (!hub)
		return;
	while (hub->clients)
		drop_client(hub->clients);
	if (hub->wake_ev)
		event_free(hub->wake_ev);
	if (hub->keepalive_ev)
		event_free(hub->keepalive_ev);
	if (hub->slice_ev)
		event_free(hub->slice_ev);
	if (hub->wake[0] >= 0)
		close(hub->wake[0]);
	if (hub->wake[1] >= 0)
		close(hub->wake[1]);
	while ((q = hub->head)) {
		hub->head = q->next;
		free(q);
	}
	while ((q = hub->backlog)) {
		hub->backlog = q->next;
		free(q);
	}
	for (size_t i = 0; hub->ring && i < hub->limits.replay; i++)
		free(hub->ring[i]);
	free(hub->ring);
	pthread_mutex_destroy(&hub->lock);
	free(hub);
}

int ac_sse_hub_add(struct ac_sse_hub *hub, struct evhttp_request *req)
{
	/* A client reconnecting after a drop waits this long (ms). */
	static const char hello[] = "retry: 2000\n\n";
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct sse_client *c;
	struct evbuffer *b;

	if (hub->nclients >= hub->limits.max_clients ||
	    !(c = calloc(1, sizeof *c))) {
		evhttp_add_header(h, "Content-Type", "application/json");
		evhttp_add_header(h, "Retry-After", "5");
		b = evbuffer_new();
		if (b)
			evbuffer_add_printf(b, "{\"error\":\"too many event streams open\"}\n");
		evhttp_send_reply(req, 503, "Service Unavailable", b);
		if (b)
			evbuffer_free(b);
		return -1;
	}
	c->hub = hub;
	c->req = req;
	c->conn = evhttp_request_get_connection(req);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	/* Proxies such as nginx would otherwise hold the stream back. */
	evhttp_add_header(h, "X-Accel-Buffering", "no");
	evhttp_send_reply_start(req, 200, "OK");
	c->next = hub->clients;
	if (hub->clients)
		hub->clients->prev = c;
	hub->clients = c;
	hub->nclients++;
	evhttp_connection_set_closecb(c->conn, on_client_close, c);
	/* libevent writes 16 KiB a turn by default: less than a slice, which
	 * would leave even a reading client ever further behind. */
	if (evhttp_connection_get_bufferevent(c->conn))
		bufferevent_set_max_single_write(evhttp_connection_get_bufferevent(c->conn),
						 SLICE_BYTES);
	b = evbuffer_new();
	if (b && evbuffer_add(b, hello, sizeof hello - 1) == 0)
		evhttp_send_reply_chunk(req, b);
	if (b)
		evbuffer_free(b);
	replay(hub, req, last_seen(hub, evhttp_find_header(
		evhttp_request_get_input_headers(req), "Last-Event-ID")));
	return 0;
}

int ac_sse_hub_post(struct ac_sse_hub *hub, const char *text, size_t len)
{
	struct queued *q = malloc(sizeof *q + len);
	int wake;

	if (!q)
		return -1;
	memcpy(q->text, text, len);
	q->len = len;
	q->next = NULL;
	pthread_mutex_lock(&hub->lock);
	if (hub->nqueued >= hub->limits.max_queued && hub->head) {
		/* The loop is behind: the oldest message goes. */
		struct queued *old = hub->head;

		hub->head = old->next;
		if (!hub->head)
			hub->tail = NULL;
		hub->nqueued--;
		free(old);
	}
	if (hub->tail)
		hub->tail->next = q;
	else
		hub->head = q;
	hub->tail = q;
	hub->nqueued++;
	wake = !hub->wake_pending;
	hub->wake_pending = 1;
	pthread_mutex_unlock(&hub->lock);
	/* A full pipe already wakes the loop: losing this byte is fine. */
	if (wake && write(hub->wake[1], "", 1) < 0 && errno != EAGAIN) {
		pthread_mutex_lock(&hub->lock);
		hub->wake_pending = 0;
		pthread_mutex_unlock(&hub->lock);
	}
	return 0;
}

size_t ac_sse_hub_clients(struct ac_sse_hub *hub)
{
	return hub->nclients;
}
