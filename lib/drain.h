/* Draining workers: the request kept in the store, and waiting for the
 * drained workers' running tasks to end. */
#ifndef AC_DRAIN_H
#define AC_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

/* Drain, stop or undo (flags: enum ac_drain_flags) the n workers named
 * by ids, as ac-drain does: the request is written to the store first
 * (all ids must exist, else nothing changes and err says which, exit code
 * AC_EXIT_USAGE), then each worker that can be reached is told at once
 * over its control socket, with token (the workers' shared token, may be
 * NULL); the others see the store at their next heartbeat.  reason may be
 * NULL.  0, or -1 with err. */
int ac_drain_apply(struct ac_store *store, const char *const *ids, size_t n,
		   const char *reason, int flags, const char *token,
		   struct ac_error *err);

/* Wait until none of the n workers holds a running task.  timeout_ms <= 0
 * waits for ever.  0 when done, 1 when the wait ran out, -1 with err. */
int ac_drain_wait(struct ac_store *store, const char *const *ids, size_t n,
		  int64_t timeout_ms, struct ac_error *err);

#endif
