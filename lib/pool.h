/* The pool supervisor: one libevent loop that keeps N local ac-worker
 * processes, NAME-1 ... NAME-N, running.
 *
 * Workers are its children, each in a process group of its own (a ^C on
 * the terminal reaches the supervisor only, which passes on one SIGTERM)
 * and with PR_SET_PDEATHSIG, so that they drain and exit should the
 * supervisor die.  A dead worker is started again under the same id (it
 * takes its own running tasks back at once), with back-off when it died
 * young.  Shrinking never kills: the supervisor drains the
 * highest-numbered workers with a stop request and lets them exit on
 * their own.  Requests arrive on the pool's socket (see poolctl.h):
 *
 *   {"op":"status"}                         -> {"ok":true,"state":STATE}
 *   {"op":"scale","target":N[,"args":[..]]} -> the same, after the change
 *   {"op":"auto","min":A,"max":B,"up":Q,"down":Q,"cooldown_ms":MS
 *    [,"args":[..]]}                        -> the same
 *
 * "args", when present, must equal the workers' arguments (a pool runs
 * one kind of worker); a refusal is {"ok":false,"error":TEXT,"code":C}.
 * STATE is {"pool","target","auto":{min,max,up,down,cooldown_s,backlog}
 * or null,"workers":[{"id","pid","status","restarts"}],"supervisor_pid"},
 * a worker's status one of running, draining, starting, backoff. */
#ifndef AC_POOL_H
#define AC_POOL_H

#include <stddef.h>

#include "error.h"
#include "poolctl.h"

struct ac_pool_config {
	const struct ac_pool_paths *paths;   /* borrowed */
	const char *store_url;               /* borrowed: the supervisor's */
	const char *store_option;            /* --store to pass on, or NULL */
	const char *worker_path;             /* borrowed: ac-worker */
	const char *const *worker_args;      /* borrowed, nworker_args long */
	size_t nworker_args;
	int target;                          /* workers, unless autoscale */
	int autoscale;
	struct ac_pool_auto autos;           /* when autoscale is set */
	int lock_fd;                         /* from ac_pool_lock; closed on
					      * return */
	int ready_fd;                        /* -1, or ac_pool_detach's: told
					      * once the socket is up */
};

/* Supervise until SIGTERM/SIGINT, then stop every worker (each finishes
 * its running tasks) and return 0 once all are gone, with the pid file
 * and the socket removed.  -1 with err when the supervisor could not
 * start (the store, the socket); it has then started no worker. */
int ac_pool_supervise(const struct ac_pool_config *cfg, struct ac_error *err);

#endif
