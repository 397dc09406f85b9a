/* Server-Sent Events over libevent's evhttp: a hub that keeps the open
 * event streams of one HTTP server and sends every posted message to each
 * of them as one "data:" line.
 *
 * Messages may be posted from any thread: they wait in a locked queue and
 * a self-pipe wakes the loop, which alone touches the connections.  The
 * number of streams is bounded, and so is each stream's unsent output: a
 * client that does not read is dropped, never waited for.  A burst goes
 * out in slices, one per turn of the loop, so that a client that reads is
 * not mistaken for one that does not.  Every
 * keepalive period an SSE comment line (": keepalive") goes to each
 * stream, so that proxies and clients see the connection live.
 *
 * Each message has an id ("id: RUN-SEQ"), and the last few are kept: a
 * new stream starts with them (a page opened now shows what just
 * happened), and a client that reconnects with Last-Event-ID gets only
 * those it missed. */
#ifndef AC_SSE_H
#define AC_SSE_H

#include <stddef.h>

#include "error.h"

struct event_base;
struct evhttp_request;
struct ac_sse_hub;

struct ac_sse_limits {
	size_t max_clients;          /* open streams at once */
	size_t max_pending;          /* unsent bytes of one stream */
	size_t max_queued;           /* posted messages not yet sent (twice:
				      * posted and taken, waiting to go) */
	size_t replay;               /* messages kept for new streams */
	int keepalive_ms;
};

/* A hub on base's loop.  0 with *out, or -1 with err. */
int ac_sse_hub_new(struct ac_sse_hub **out, struct event_base *base,
		   const struct ac_sse_limits *limits, struct ac_error *err);
/* Close every stream and free the hub (loop thread only, after the
 * posting threads can no longer post: see ac_sse_hub_post). */
void ac_sse_hub_free(struct ac_sse_hub *hub);

/* Answer req (a GET) as an event stream and keep it until the client goes
 * away.  When the hub is full, req is answered 503 instead.  Loop thread
 * only.  0 when kept, -1 when refused (req is answered either way). */
int ac_sse_hub_add(struct ac_sse_hub *hub, struct evhttp_request *req);

/* Queue one message (len bytes, no newline in it) for every stream; any
 * thread.  The text is copied.  When max_queued messages already wait,
 * the oldest is dropped.  0, or -1 when out of memory. */
int ac_sse_hub_post(struct ac_sse_hub *hub, const char *text, size_t len);

/* Open streams now. */
size_t ac_sse_hub_clients(struct ac_sse_hub *hub);

#endif
