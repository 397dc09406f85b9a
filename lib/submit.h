/* Submitting tasks and waiting for them: input checks and the wait loop
 * behind ac-submit.  What to print is the caller's: results reach it
 * through a sink, in input order. */
#ifndef AC_SUBMIT_H
#define AC_SUBMIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

/* Check that text (len bytes) is one JSON value within the payload limit.
 * On success *compact is a new malloc'd compact rendering of it. */
int ac_submit_parse_data(const char *text, size_t len, char **compact,
			 struct ac_error *err);

struct ac_submit_sink {
	void *ctx;
	/* Task index (input order) has ended; end is borrowed. */
	void (*ended)(void *ctx, size_t index, const struct ac_task_end *end);
	/* done of total have ended (called after each run of ends). */
	void (*progress)(void *ctx, size_t done, size_t total);
	/* One-off notices, such as "no live worker handles TYPE". */
	void (*notice)(void *ctx, const char *text);
	/* The running task whose handler waits (a sub-task's parent), or 0:
	 * it is marked as waiting for its sub-tasks meanwhile, and a notice
	 * says so once when every slot of the live workers able to run the
	 * sub-tasks is held by such a waiting parent (a deadlock, until a
	 * worker is added). */
	int64_t parent;
};

/* 1 when every slot of the live workers that run type is held by a task
 * waiting for its sub-tasks (*holders: their ids, a new JSON array), 0
 * when not, -1 with err. */
int ac_submit_deadlocked(struct ac_store *store, const char *type,
			 json_t **holders, struct ac_error *err);

/* Route the n tasks (all of one type, tags and key): set each spec's
 * assigned worker by the strategy, from the live workers able to run it.
 * The names point into *holder, which the caller keeps until the tasks
 * are submitted and then json_decref()s.  No capable worker: no
 * assignment (any worker that comes will do). */
#include "route.h"
int ac_submit_route(struct ac_store *store, enum ac_route route,
		    struct ac_task_spec *specs, size_t n, json_t **holder,
		    struct ac_error *err);

/* Watching for task ends through the workers' events.  Start it before
 * submitting, so that no end is missed; NULL is allowed (the wait then
 * only polls the store). */
struct ac_submit_watch;

int ac_submit_watch_start(struct ac_submit_watch **out, struct ac_store *store,
			  const char *type, const char *token,
			  struct ac_error *err);
void ac_submit_watch_stop(struct ac_submit_watch *watch);

/* Wake the live workers that can run type (or only `only`, when not
 * NULL): they claim at once instead of at their next poll.  The first one
 * announces the tasks as task.queued events.  Best effort: a worker that
 * cannot be reached is skipped. */
void ac_submit_poke(struct ac_store *store, const char *type,
		    const char *only, const int64_t *ids, size_t n,
		    const char *token);

/* Tell the live workers that can run type of a change of its flow
 * control (ac-queue pause, resume): each gets a poke with no tasks, so
 * that it claims at once, and the first one reached announces event (a
 * JSON object with at least "event"; borrowed) in its event stream,
 * adding ts and worker.  Best effort: a worker that cannot be reached is
 * skipped, and no worker at all is no error. */
void ac_submit_announce(struct ac_store *store, const char *type,
			json_t *event, const char *token);

/* Pokes from a long-lived submitter (a client library, a producer): the
 * live workers are looked up at most once a second and their control
 * sockets kept open, so that a poke costs one request rather than a
 * store query and a connection each time.  store is borrowed and must
 * outlive the poker. */
struct ac_submit_poker;

int ac_submit_poker_open(struct ac_submit_poker **out, struct ac_store *store,
			 const char *token, struct ac_error *err);
void ac_submit_poker_poke(struct ac_submit_poker *p, const char *type,
			  const int64_t *ids, size_t n);
void ac_submit_poker_close(struct ac_submit_poker *p);

/* Wait until the n tasks have ended, reporting each in order.  timeout_ms
 * <= 0 waits for ever.  Returns 0 when all ended, 1 when the wait ran out,
 * -1 with err.  With a watch, an event of a task's end wakes the wait; the
 * store is still read for every result (it is the truth) and looked at
 * every second in case an event was lost. */
int ac_submit_wait(struct ac_store *store, struct ac_submit_watch *watch,
		   const int64_t *ids, size_t n, const char *type,
		   int64_t timeout_ms, const struct ac_submit_sink *sink,
		   struct ac_error *err);

#endif
