/* Cancelling tasks, as ac-cancel does: recorded in the store first, so
 * that a worker away now does not run the task later; then the workers of
 * running tasks are told at once when they can be reached. */
#ifndef AC_CANCEL_H
#define AC_CANCEL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

/* Cancel the n tasks ids.  status (n entries, the caller's) receives each
 * task's status as the cancel found it: a running one stays running until
 * its worker has ended it.  An unknown id is an error with exit
 * code AC_EXIT_USAGE, a task that already ended one with AC_EXIT_FAILED;
 * either way nothing is cancelled.  token is the workers' shared token
 * (may be NULL).  0, or -1 with err. */
int ac_cancel_apply(struct ac_store *store, const int64_t *ids, size_t n,
		    enum ac_task_status *status, const char *token,
		    struct ac_error *err);

#endif
