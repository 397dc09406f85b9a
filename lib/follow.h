/* Following the events of every live worker: one long-poll per worker
 * (see events.h), each in a thread of its own, merged into one callback.
 * Workers are found through the store (their control addresses), and
 * ac_follow_refresh() picks up workers that joined later. */
#ifndef AC_FOLLOW_H
#define AC_FOLLOW_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

struct ac_follow_filter {
	int64_t task;          /* 0 = any */
	const char *type;      /* NULL = any */
	const char *worker;    /* NULL = any */
};

/* Called for each event, one call at a time (under the follow's lock),
 * from a follower thread; event is borrowed. */
typedef void (*ac_follow_fn)(void *ctx, json_t *event);

struct ac_follow;

/* token may be NULL.  The filter's strings are copied. */
int ac_follow_start(struct ac_follow **out,
		    const struct ac_follow_filter *filter, const char *token,
		    ac_follow_fn fn, void *ctx, struct ac_error *err);
/* Follow live workers (from the store) not followed yet.  Workers that
 * started after the follow began are followed from their first event.
 * It waits on each new worker's socket (up to 2 s for one that does not
 * answer). */
int ac_follow_refresh(struct ac_follow *f, struct ac_store *store,
		      struct ac_error *err);
/* The same for a worker list already read (workers_list's array,
 * borrowed), so that the waiting can happen in a thread that does not
 * own the store.  Calls must not overlap; it may run while
 * ac_follow_stop() is called, and then does nothing more. */
void ac_follow_add(struct ac_follow *f, json_t *workers);
/* How many workers are being followed now. */
int ac_follow_count(struct ac_follow *f);
/* Stop delivering events.  For a program about to exit: follower threads
 * blocked in a long-poll are left to end with the process. */
void ac_follow_stop(struct ac_follow *f);

#endif
