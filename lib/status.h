/* The views of ac-status, as JSON: one function per view, shared by the
 * command line (cmd/ac-status) and the dashboard (dashboard.h), so that
 * both print exactly the same objects.  The worker list and the task list
 * are the store's own workers_list and tasks_list. */
#ifndef AC_STATUS_H
#define AC_STATUS_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

/* The cluster summary: {"store": URL with its password masked, "workers":
 * counts by status and "total", "tasks": counts by status}.  *out is a new
 * reference. */
int ac_status_summary(struct ac_store *store, const char *url, json_t **out,
		      struct ac_error *err);

/* Queue depth by type and priority, each row with "paused" and
 * "paused_reason" (a type paused or held by ac-queue).  *out is a new
 * reference. */
int ac_status_queue(struct ac_store *store, json_t **out,
		    struct ac_error *err);

/* One task's whole record with its place in its graph ("after",
 * "children", "dependents").  An unknown id is an error with exit code
 * AC_EXIT_USAGE, as the store's task_get.  *out is a new reference. */
int ac_status_task(struct ac_store *store, int64_t id, json_t **out,
		   struct ac_error *err);

#endif
