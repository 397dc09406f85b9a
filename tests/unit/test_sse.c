/* Unit tests of lib/sse.c on a real evhttp server on loopback: messages
 * posted from another thread reach a reading client as "id:"/"data:"
 * lines, a client that does not read is dropped once it is too far
 * behind (and the others are not), a new stream gets the kept messages
 * after its Last-Event-ID, and the hub refuses streams over its limit.
 * TAP-like output. */
#include "sse.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#define MESSAGES 400
#define MESSAGE_BYTES 16384

static int test_no, failures;

static void check(int ok, const char *name)
{
	test_no++;
	printf("%sok %d - %s\n", ok ? "" : "not ", test_no, name);
	if (!ok)
		failures++;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	ac_sse_hub_add(arg, req);
}

/* A client of 127.0.0.1:port that asks for the stream; rcvbuf > 0 makes
 * its receive buffer that small (a client that will not read). */
static int open_stream(int port, int rcvbuf, const char *last_id)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((unsigned short)port) };
	char req[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0), n;

	if (fd < 0)
		return -1;
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n = snprintf(req, sizeof req,
		     "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s\r\n",
		     last_id ? "Last-Event-ID: " : "", last_id ? last_id : "",
		     last_id ? "\r\n" : "");
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Append what fd has now to b (at most limit bytes kept in all). */
static void slurp(int fd, struct ac_buf *b, size_t limit)
{
	char chunk[65536];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof chunk)) > 0)
		if (b->len < limit)
			ac_buf_append(b, chunk, (size_t)n);
}

struct poster {
	struct ac_sse_hub *hub;
	int done;
};

/* MESSAGES messages of MESSAGE_BYTES, from a thread of its own, each
 * "m<N>" padded with x. */
static void *post_all(void *arg)
{
	struct poster *p = arg;
	char *text = malloc(MESSAGE_BYTES);

	if (text) {
		memset(text, 'x', MESSAGE_BYTES);
		for (int i = 1; i <= MESSAGES; i++) {
			int n = snprintf(text, 16, "m%d", i);

			text[n] = ' ';
			ac_sse_hub_post(p->hub, text, MESSAGE_BYTES);
			if (i % 20 == 0)
				usleep(2000);
		}
	}
	free(text);
	__atomic_store_n(&p->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Run the loop for up to ms, reading the given clients, until *cond. */
static void spin(struct event_base *base, int ms, int (*cond)(void *),
		 void *ctx, int *fds, struct ac_buf *bufs, size_t nfds)
{
	int64_t end = ac_mono_ms() + ms;

	while (ac_mono_ms() < end && !(cond && cond(ctx))) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		for (size_t i = 0; i < nfds; i++)
			slurp(fds[i], &bufs[i], 64u << 20);
		usleep(500);
	}
}

struct drop_wait {
	struct ac_sse_hub *hub;
	struct poster *poster;
};

struct clients_wait {
	struct ac_sse_hub *hub;
	size_t n;
};

static int clients_are(void *arg)
{
	struct clients_wait *w = arg;

	return ac_sse_hub_clients(w->hub) == w->n;
}

/* Each of the n buffers holds the text. */
struct text_wait {
	struct ac_buf *bufs;
	size_t n;
	const char *text;
};

static int texts_seen(void *arg)
{
	struct text_wait *w = arg;

	for (size_t i = 0; i < w->n; i++)
		if (!w->bufs[i].data || !strstr(w->bufs[i].data, w->text))
			return 0;
	return 1;
}

static int posted_and_dropped(void *arg)
{
	struct drop_wait *w = arg;

	return __atomic_load_n(&w->poster->done, __ATOMIC_SEQ_CST) &&
		ac_sse_hub_clients(w->hub) == 1;
}

int main(void)
{
	struct ac_sse_limits limits = { .max_clients = 3,
					.max_pending = 256 * 1024,
					.max_queued = 1000, .replay = 16,
					.keepalive_ms = 60000 };
	struct event_base *base = event_base_new();
	struct evhttp *http = base ? evhttp_new(base) : NULL;
	struct evhttp_bound_socket *bound;
	struct ac_sse_hub *hub = NULL;
	struct ac_error err;
	struct sockaddr_in addr;
	socklen_t alen = sizeof addr;
	struct ac_buf bufs[2] = { { 0 }, { 0 } }, late = { 0 }, extra = { 0 };
	int fds[2], port, late_fd, extra_fd, refused_fd;
	struct poster poster = { 0 };
	struct drop_wait w;
	pthread_t thread;
	char last_id[64], *p;

	signal(SIGPIPE, SIG_IGN);
	bound = http ? evhttp_bind_socket_with_handle(http, "127.0.0.1", 0) : NULL;
	if (!bound || ac_sse_hub_new(&hub, base, &limits, &err) < 0) {
		printf("not ok 1 - cannot set up the server\n1..1\n");
		return 1;
	}
	getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&addr,
		    &alen);
	port = ntohs(addr.sin_port);
	evhttp_set_gencb(http, on_request, hub);

	/* A reader and a client that never reads (tiny receive buffer). */
	fds[0] = open_stream(port, 0, NULL);
	fds[1] = open_stream(port, 4096, NULL);
	spin(base, 5000, clients_are, &(struct clients_wait){ hub, 2 }, fds, bufs, 1);
	spin(base, 5000, texts_seen, &(struct text_wait){ bufs, 1, "retry: " },
	     fds, bufs, 1);
	check(ac_sse_hub_clients(hub) == 2, "two streams open");
	check(bufs[0].data && strstr(bufs[0].data, "text/event-stream") &&
	      strstr(bufs[0].data, "retry: "), "the reader has the stream's head");

	poster.hub = hub;
	w.hub = hub;
	w.poster = &poster;
	if (pthread_create(&thread, NULL, post_all, &poster) != 0) {
		printf("not ok 3 - no thread\n1..3\n");
		return 1;
	}
	/* Only fds[0] is read: fds[1] falls behind. */
	spin(base, 20000, posted_and_dropped, &w, fds, bufs, 1);
	pthread_join(thread, NULL);
	spin(base, 5000, texts_seen, &(struct text_wait){ bufs, 1, "data: m400 " },
	     fds, bufs, 1);
	check(ac_sse_hub_clients(hub) == 1, "the client that does not read is dropped");
	check(bufs[0].data && strstr(bufs[0].data, "data: m1 xxx") &&
	      strstr(bufs[0].data, "data: m400 xxx"),
	      "the reader got the first and the last message");
	check(bufs[0].data && strstr(bufs[0].data, "-400\r\n") == NULL &&
	      strstr(bufs[0].data, "-400\n"), "each message has an id line");

	/* The id of message 398, to resume after it. */
	p = bufs[0].data ? strstr(bufs[0].data, "-398\n") : NULL;
	last_id[0] = '\0';
	if (p) {
		char *start = p;

		while (start > bufs[0].data && start[-1] != ' ')
			start--;
		snprintf(last_id, sizeof last_id, "%.*s", (int)(p - start + 4), start);
	}
	check(last_id[0] != '\0', "the id of message 398 is found");
	late_fd = open_stream(port, 0, last_id);
	extra_fd = open_stream(port, 0, NULL);
	{
		int lfds[2] = { late_fd, extra_fd };
		struct ac_buf lbufs[2] = { { 0 }, { 0 } };

		spin(base, 5000, texts_seen,
		     &(struct text_wait){ lbufs, 2, "data: m400 " }, lfds, lbufs, 2);
		late = lbufs[0];
		extra = lbufs[1];
	}
	check(late.data && strstr(late.data, "data: m399 ") &&
	      strstr(late.data, "data: m400 ") && !strstr(late.data, "data: m398 "),
	      "Last-Event-ID: only the messages after it are replayed");
	check(extra.data && strstr(extra.data, "data: m385 ") &&
	      strstr(extra.data, "data: m400 ") && !strstr(extra.data, "data: m384 "),
	      "a new stream gets the last 16 messages kept");
	check(ac_sse_hub_clients(hub) == 3, "three streams open (the limit)");
	refused_fd = open_stream(port, 0, NULL);
	{
		struct ac_buf r = { 0 };

		spin(base, 5000, texts_seen, &(struct text_wait){ &r, 1, " 503 " },
		     &refused_fd, &r, 1);
		check(r.data && strstr(r.data, " 503 "), "a fourth stream is refused (503)");
		ac_buf_release(&r);
	}
	/* A client that hangs up is let go. */
	close(late_fd);
	spin(base, 5000, clients_are, &(struct clients_wait){ hub, 2 }, NULL, NULL, 0);
	check(ac_sse_hub_clients(hub) == 2, "a closed stream is let go");

	ac_sse_hub_free(hub);
	evhttp_free(http);
	event_base_free(base);
	close(fds[0]);
	close(fds[1]);
	close(extra_fd);
	close(refused_fd);
	ac_buf_release(&bufs[0]);
	ac_buf_release(&bufs[1]);
	ac_buf_release(&late);
	ac_buf_release(&extra);
	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
