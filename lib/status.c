#include "status.h"
#include "exitcode.h"

#include <stdlib.h>
#include <string.h>

int ac_status_summary(struct ac_store *store, const char *url, json_t **out,
		      struct ac_error *err)
{
	static const char *const statuses[] = { "idle", "busy", "draining",
						"stopped", "lost", "error" };
	json_t *workers, *counts, *w, *by;
	char *shown;
	size_t i;

	*out = NULL;
	if (store->ops->workers_list(store, &workers, err) < 0)
		return -1;
	if (store->ops->task_counts(store, &counts, err) < 0) {
		json_decref(workers);
		return -1;
	}
	by = json_object();
	json_object_set_new(by, "total", json_integer((json_int_t)json_array_size(workers)));
	for (i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
		json_object_set_new(by, statuses[i], json_integer(0));
	json_array_foreach(workers, i, w) {
		const char *s = json_string_value(json_object_get(w, "status"));
		json_t *n = s ? json_object_get(by, s) : NULL;

		if (n)
			json_integer_set(n, json_integer_value(n) + 1);
	}
	shown = ac_store_url_masked(url);
	if (shown && by) {
		/* "o" steals by and counts, even when the pack fails. */
		*out = json_pack("{s:s,s:o,s:o}", "store", shown, "workers", by,
				 "tasks", counts);
	} else {
		json_decref(by);
		json_decref(counts);
	}
	free(shown);
	json_decref(workers);
	if (!*out)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	return 0;
}

/* Each row of the queue depth says whether its type is paused or held
 * (ac-queue), and why. */
static int mark_paused(struct ac_store *store, json_t *rows,
		       struct ac_error *err)
{
	json_t *queues = NULL, *row, *q;
	size_t i, j;

	if (store->ops->queues_list &&
	    store->ops->queues_list(store, NULL, &queues, err) < 0)
		return -1;
	json_array_foreach(rows, i, row) {
		const char *type = json_string_value(json_object_get(row, "type"));
		int paused = 0;
		json_t *reason = NULL;

		json_array_foreach(queues, j, q) {
			const char *qt = json_string_value(json_object_get(q, "type"));

			if (!type || !qt || strcmp(type, qt))
				continue;
			if (json_is_true(json_object_get(q, "paused"))) {
				paused = 1;
				reason = json_object_get(q, "reason");
			} else if (!json_is_null(json_object_get(q, "held_until"))) {
				paused = 1;
				reason = json_object_get(q, "hold_reason");
			}
		}
		json_object_set_new(row, "paused", json_boolean(paused));
		json_object_set(row, "paused_reason", reason ? reason : json_null());
	}
	json_decref(queues);
	return 0;
}

int ac_status_queue(struct ac_store *store, json_t **out,
		    struct ac_error *err)
{
	if (store->ops->queue_depth(store, out, err) < 0)
		return -1;
	if (mark_paused(store, *out, err) < 0) {
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int ac_status_task(struct ac_store *store, int64_t id, json_t **out,
		   struct ac_error *err)
{
	json_t *links = NULL;

	if (store->ops->task_get(store, id, out, err) < 0)
		return -1;
	if (store->ops->task_links(store, id, &links, err) < 0) {
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	json_object_set(*out, "after", json_object_get(links, "after"));
	json_object_set(*out, "children", json_object_get(links, "children"));
	json_object_set(*out, "dependents",
			json_object_get(links, "dependents"));
	json_decref(links);
	return 0;
}
