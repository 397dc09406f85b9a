#include "cancel.h"
#include "control.h"

#include <jansson.h>

int ac_cancel_apply(struct ac_store *store, const int64_t *ids, size_t n,
		    enum ac_task_status *status, const char *token,
		    struct ac_error *err)
{
	if (store->ops->cancel(store, ids, n, status, err) < 0)
		return -1;
	/* Recorded; a worker that cannot be told now reads it from the store
	 * at its next heartbeat. */
	for (size_t i = 0; i < n; i++) {
		struct ac_error ignored;
		json_t *task;
		const char *worker;

		if (status[i] != AC_TASK_RUNNING ||
		    store->ops->task_get(store, ids[i], &task, &ignored) < 0)
			continue;
		worker = json_string_value(json_object_get(task, "worker"));
		if (worker)
			ac_ctl_notify(store, worker, "cancel", token);
		json_decref(task);
	}
	return 0;
}
