/* The live feed of a server: every live worker's events, as ac-status
 * --follow prints them, posted to an SSE hub (sse.h).
 *
 * The follower threads of follow.h deliver the events; the hub carries
 * them to the loop.  Which workers to follow is read from the store on
 * the loop's thread (the only one that touches the store) every two
 * seconds, and the new ones are connected to in a thread of its own, so
 * that a worker that does not answer never stalls the loop. */
#ifndef AC_FEED_H
#define AC_FEED_H

#include "error.h"
#include "sse.h"
#include "store.h"

struct event_base;
struct ac_feed;

/* Start following the workers of store (borrowed, used on base's thread
 * only) into hub (borrowed; it must outlive the feed).  ctl_token is the
 * workers' control token (copied; may be NULL).  0 with *out, or -1 with
 * err. */
int ac_feed_start(struct ac_feed **out, struct event_base *base,
		  struct ac_store *store, struct ac_sse_hub *hub,
		  const char *ctl_token, struct ac_error *err);

/* Workers followed now. */
int ac_feed_workers(struct ac_feed *feed);

/* Stop and free the feed (NULL is fine).  No event reaches the hub after
 * it returns.  It waits for the connecting thread, which gives up after
 * the worker it is connecting to (2 s at most). */
void ac_feed_stop(struct ac_feed *feed);

#endif
