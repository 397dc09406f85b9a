#include "submit.h"
#include "config.h"
#include "exitcode.h"
#include "util.h"

#include <string.h>
#include <time.h>

#define WAIT_TICK_MS 2
#define WAIT_FORCE_MS 250
#define WORKER_CHECK_MS 2000

int ac_submit_parse_data(const char *text, size_t len, char **compact,
			 struct ac_error *err)
{
	json_error_t jerr;
	json_t *v;
	char *out;

	if (len > 2 * (size_t)AC_MAX_PAYLOAD)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "task data exceeds the limit of %u bytes",
				    AC_MAX_PAYLOAD);
	v = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
	if (!v)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "malformed JSON: %s (line %d, column %d)",
				    jerr.text, jerr.line, jerr.column);
	out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	if (!out)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (strlen(out) > AC_MAX_PAYLOAD) {
		free(out);
		return ac_error_set(err, AC_EXIT_USAGE,
				    "task data exceeds the limit of %u bytes",
				    AC_MAX_PAYLOAD);
	}
	*compact = out;
	return 0;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* 1 when a live, undrained worker handles type. */
static int live_worker_for(struct ac_store *store, const char *type,
			   struct ac_error *err)
{
	json_t *workers, *w;
	size_t i;
	int found = 0;

	if (store->ops->workers_list(store, &workers, err) < 0)
		return -1;
	json_array_foreach(workers, i, w) {
		const char *status = json_string_value(json_object_get(w, "status"));
		json_t *handlers = json_object_get(w, "handlers"), *h;
		size_t j;

		if (!status || !strcmp(status, "stopped") ||
		    !strcmp(status, "lost") || !strcmp(status, "draining"))
			continue;
		json_array_foreach(handlers, j, h)
			if (json_is_string(h) && !strcmp(json_string_value(h), type))
				found = 1;
	}
	json_decref(workers);
	return found;
}

int ac_submit_wait(struct ac_store *store, const int64_t *ids, size_t n,
		   const char *type, int64_t timeout_ms,
		   const struct ac_submit_sink *sink, struct ac_error *err)
{
	int64_t start = ac_mono_ms(), last_check = 0, last_worker_check = -1;
	size_t next = 0;
	int warned = 0;

	/* The store is polled for change (a cheap version number for
	 * SQLite), and the next task in order is looked at only when
	 * something changed, so a waiting submit costs next to nothing. */
	while (next < n) {
		int64_t now = ac_mono_ms();
		int changed = 0;

		if (timeout_ms > 0 && now - start >= timeout_ms)
			return 1;
		if (!warned && type &&
		    (last_worker_check < 0 ||
		     now - last_worker_check >= WORKER_CHECK_MS)) {
			int live = live_worker_for(store, type, err);

			if (live < 0)
				return -1;
			last_worker_check = now;
			if (!live && sink->notice) {
				struct ac_buf msg = { 0 };

				if (ac_buf_printf(&msg, "no live worker handles '%s'; waiting (the task stays queued)", type) == 0)
					sink->notice(sink->ctx, msg.data);
				ac_buf_release(&msg);
				warned = 1;
			}
		}
		if (store->ops->changed(store, &changed, err) < 0)
			return -1;
		if (!changed && now - last_check < WAIT_FORCE_MS) {
			sleep_ms(WAIT_TICK_MS);
			continue;
		}
		last_check = now;
		while (next < n) {
			enum ac_task_status status;
			json_t *task;

			if (store->ops->task_states(store, &ids[next], 1,
						    &status, err) < 0)
				return -1;
			if (!ac_task_status_final(status))
				break;
			if (store->ops->task_get(store, ids[next], &task,
						 err) < 0)
				return -1;
			sink->ended(sink->ctx, next, task);
			json_decref(task);
			next++;
			if (sink->progress)
				sink->progress(sink->ctx, next, n);
		}
	}
	return 0;
}
