/* Draining workers: the request kept in the store, and waiting for the
 * drained workers' running tasks to end. */
#ifndef AC_DRAIN_H
#define AC_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

/* Wait until none of the n workers holds a running task.  timeout_ms <= 0
 * waits for ever.  0 when done, 1 when the wait ran out, -1 with err. */
int ac_drain_wait(struct ac_store *store, const char *const *ids, size_t n,
		  int64_t timeout_ms, struct ac_error *err);

#endif
