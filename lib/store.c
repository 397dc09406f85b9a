/* The store interface: backend dispatch and the JSON shapes all backends
 * share, so that `ac-status` prints the same objects whatever the store. */
#include "store.h"
#include "schedule.h"
#include "compress.h"
#include "exitcode.h"
#include "flow.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[AC_TASK_STATUS_COUNT] = {
	"pending", "queued", "running", "completed",
	"failed", "cancelled", "timeout", "expired",
};

const char *ac_task_status_name(enum ac_task_status status)
{
	if ((unsigned)status >= AC_TASK_STATUS_COUNT)
		return "unknown";
	return status_names[status];
}

int ac_task_status_parse(const char *name, enum ac_task_status *out)
{
	for (int i = 0; i < AC_TASK_STATUS_COUNT; i++)
		if (!strcmp(name, status_names[i])) {
			*out = (enum ac_task_status)i;
			return 0;
		}
	return -1;
}

int ac_task_status_final(enum ac_task_status status)
{
	return status >= AC_TASK_COMPLETED;
}

int ac_priority_parse(const char *s, int *out)
{
	static const struct { const char *name; int value; } names[] = {
		{ "low", 0 }, { "normal", 5 }, { "high", 10 }, { "critical", 20 },
	};
	long long v;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(s, names[i].name)) {
			*out = names[i].value;
			return 0;
		}
	if (ac_parse_int(s, -1000000, 1000000, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

void ac_claimed_release(struct ac_claimed *task)
{
	if (!task)
		return;
	free(task->type);
	free(task->data);
	free(task->route_key);
	free(task->checkpoint);
	free(task->parents);
	free(task->traceparent);
	memset(task, 0, sizeof *task);
}

void ac_claimed_free_array(struct ac_claimed *tasks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ac_claimed_release(&tasks[i]);
	free(tasks);
}

char *ac_store_url_masked(const char *url)
{
	const char *scheme = strstr(url, "://"), *at, *colon;
	struct ac_buf b = { 0 };

	if (!scheme)
		return ac_strdup(url);
	scheme += 3;
	at = strchr(scheme, '@');
	colon = memchr(scheme, ':', at ? (size_t)(at - scheme) : 0);
	if (!at || !colon)
		return ac_strdup(url);
	if (ac_buf_append(&b, url, (size_t)(colon + 1 - url)) < 0 ||
	    ac_buf_append(&b, "***", 3) < 0 ||
	    ac_buf_append(&b, at, strlen(at)) < 0) {
		ac_buf_release(&b);
		return NULL;
	}
	return b.data;
}

int ac_store_url_is_pg(const char *url)
{
	return !strncmp(url, "postgres://", 11) ||
	       !strncmp(url, "postgresql://", 13);
}

int ac_store_open(const char *url, int create, struct ac_store **out,
		  struct ac_error *err)
{
	if (ac_store_url_is_pg(url))
		return ac_store_pg_ops.open(url, create, out, err);
	if (strstr(url, "://"))
		return ac_error_set(err, AC_EXIT_USAGE,
				    "store '%s': unknown kind of store URL (use a path, sqlite:PATH or postgres://...)",
				    url);
	return ac_store_sqlite_ops.open(url, create, out, err);
}

void ac_store_close(struct ac_store *store)
{
	if (store)
		store->ops->close(store);
}

/* JSON text from the store is trusted (we wrote it), but a damaged row must
 * not crash a reader: fall back to the raw string. */
static json_t *json_or_null(const char *text)
{
	json_t *v;

	if (!text)
		return json_null();
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	return v ? v : json_string(text);
}

static json_t *time_or_null(int64_t ms)
{
	char buf[40];

	if (ms <= 0)
		return json_null();
	return json_string(ac_format_time(ms, buf, sizeof buf));
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *ac_task_row_json(const struct ac_task_row *row)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(row->id));
	json_object_set_new(o, "type", json_string(row->type));
	json_object_set_new(o, "status", json_string(row->status));
	json_object_set_new(o, "priority", json_integer(row->priority));
	json_object_set_new(o, "attempt", json_integer(row->attempt));
	json_object_set_new(o, "max_retries", json_integer(row->max_retries));
	json_object_set_new(o, "failures", json_integer(row->failures));
	json_object_set_new(o, "timeout_s", row->timeout_ms > 0 ?
			    json_real((double)row->timeout_ms / 1000.0) :
			    json_null());
	json_object_set_new(o, "worker", string_or_null(row->worker));
	json_object_set_new(o, "key", string_or_null(row->route_key));
	json_object_set_new(o, "assigned", string_or_null(row->assigned));
	json_object_set_new(o, "tags", row->tags ? json_or_null(row->tags) :
			    json_array());
	json_object_set_new(o, "meta", row->meta ? json_or_null(row->meta) :
			    json_object());
	json_object_set_new(o, "idempotency_key",
			    string_or_null(row->idempotency_key));
	json_object_set_new(o, "data", json_or_null(row->data));
	json_object_set_new(o, "result", json_or_null(row->result));
	json_object_set_new(o, "error", string_or_null(row->error));
	json_object_set_new(o, "checkpoint", json_or_null(row->checkpoint));
	json_object_set_new(o, "progress", row->progress >= 0 ?
			    json_real(row->progress) : json_null());
	json_object_set_new(o, "usage", row->usage ? json_or_null(row->usage) :
			    json_object());
	json_object_set_new(o, "log", string_or_null(row->log));
	json_object_set_new(o, "reclaims", json_integer(row->reclaims));
	json_object_set_new(o, "max_reclaims", json_integer(row->max_reclaims));
	json_object_set_new(o, "cancel_requested",
			    json_boolean(row->cancel_requested));
	json_object_set_new(o, "created", time_or_null(row->created));
	json_object_set_new(o, "due", time_or_null(row->held ? 0 :
							  row->run_at));
	json_object_set_new(o, "started", time_or_null(row->started));
	json_object_set_new(o, "finished", time_or_null(row->finished));
	json_object_set_new(o, "lease_until", time_or_null(row->lease_until));
	json_object_set_new(o, "parent", row->parent > 0 ?
			    json_integer(row->parent) : json_null());
	json_object_set_new(o, "batch", row->batch > 0 ?
			    json_integer(row->batch) : json_null());
	json_object_set_new(o, "after_policy", string_or_null(row->after_policy));
	json_object_set_new(o, "waiting_for", json_integer(row->waiting));
	json_object_set_new(o, "awaiting_children",
			    json_boolean(row->awaiting));
	json_object_set_new(o, "traceparent", string_or_null(row->traceparent));
	json_object_set_new(o, "budget", string_or_null(row->budget));
	json_object_set_new(o, "held", json_boolean(row->held));
	if (row->attempts)
		json_object_set_new(o, "attempts", row->attempts);
	return o;
}

json_t *ac_schedule_row_json(const struct ac_schedule_row *row)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "name", json_string(row->name));
	json_object_set_new(o, "cron", json_string(row->cron));
	json_object_set_new(o, "tz", json_string(row->tz ? row->tz : "UTC"));
	json_object_set_new(o, "type", json_string(row->type));
	json_object_set_new(o, "data", json_or_null(row->data));
	json_object_set_new(o, "priority", json_integer(row->priority));
	json_object_set_new(o, "retries", json_integer(row->max_retries));
	json_object_set_new(o, "timeout_s", row->timeout_ms > 0 ?
			    json_real((double)row->timeout_ms / 1000.0) :
			    json_null());
	json_object_set_new(o, "expires_s", row->expires_ms > 0 ?
			    json_real((double)row->expires_ms / 1000.0) :
			    json_null());
	json_object_set_new(o, "key", string_or_null(row->route_key));
	json_object_set_new(o, "require", row->tags ? json_or_null(row->tags) :
			    json_array());
	json_object_set_new(o, "meta", row->meta ? json_or_null(row->meta) :
			    json_object());
	json_object_set_new(o, "overlap",
			    json_string(ac_overlap_name(row->overlap)));
	json_object_set_new(o, "catch_up_s",
			    json_real((double)row->catch_up_ms / 1000.0));
	json_object_set_new(o, "paused", json_boolean(row->paused));
	json_object_set_new(o, "paused_reason", string_or_null(row->reason));
	json_object_set_new(o, "next", row->paused ? json_null() :
			    time_or_null(row->next_at));
	json_object_set_new(o, "last_slot", time_or_null(row->last_slot));
	json_object_set_new(o, "last_task", row->last_task > 0 ?
			    json_integer(row->last_task) : json_null());
	json_object_set_new(o, "last_status", string_or_null(row->last_status));
	json_object_set_new(o, "fired", json_integer(row->fired));
	json_object_set_new(o, "skipped", json_integer(row->skipped));
	json_object_set_new(o, "missed", json_integer(row->missed));
	json_object_set_new(o, "created", time_or_null(row->created));
	json_object_set_new(o, "updated", time_or_null(row->updated));
	return o;
}

json_t *ac_batch_json(int64_t id, const char *created, int64_t total,
		      json_t *counts, int64_t then_id, const char *then_status)
{
	json_int_t ended = 0;

	for (int i = 0; i < AC_TASK_STATUS_COUNT; i++)
		if (ac_task_status_final(i))
			ended += json_integer_value(json_object_get(counts,
					ac_task_status_name(i)));
	return json_pack("{s:I,s:s,s:I,s:I,s:b,s:o,s:o,s:o}", "batch",
			 (json_int_t)id, "created", created, "total",
			 (json_int_t)total, "ended", ended, "done",
			 ended >= total, "counts", counts, "then",
			 then_id > 0 ? json_integer(then_id) : json_null(),
			 "then_status", then_status ? json_string(then_status) :
			 json_null());
}

char *ac_budget_own_name(const char *what, int64_t id)
{
	struct ac_buf b = { 0 };

	if (ac_buf_printf(&b, "%s-%lld", what, (long long)id) < 0) {
		ac_buf_release(&b);
		return NULL;
	}
	return b.data;
}

int ac_budget_spent(const char *limits, const char *usage)
{
	json_t *lim = json_loads(limits, 0, NULL);
	json_t *used = usage ? json_loads(usage, 0, NULL) : NULL;
	const char *key;
	json_t *v;
	int spent = 0;

	json_object_foreach(lim, key, v) {
		json_t *u = json_object_get(used, key);

		if (json_is_number(v) && json_is_number(u) &&
		    json_number_value(u) >= json_number_value(v))
			spent = 1;
	}
	json_decref(lim);
	json_decref(used);
	return spent;
}

int ac_budget_next(const char *limits, const char *usage,
		   const char *new_limits, int reset, const char *add,
		   char **limits_out, char **usage_out, int *spent)
{
	const char *base = reset ? NULL : usage;

	*limits_out = ac_strdup(new_limits ? new_limits : limits);
	*usage_out = NULL;
	if (add)
		*usage_out = ac_usage_sum(base, add);
	else if (base)
		*usage_out = ac_strdup(base);
	if (!*limits_out || ((add || base) && !*usage_out)) {
		free(*limits_out);
		free(*usage_out);
		*limits_out = *usage_out = NULL;
		return -1;
	}
	*spent = ac_budget_spent(*limits_out, *usage_out);
	return 0;
}

void ac_graph_place_release(struct ac_graph_place *g)
{
	free(g->after);
	free(g->after_done);
	memset(g, 0, sizeof *g);
}

static int id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Mark task id as having dependents and read its status and depth: 0, 1
 * when there is no such task, -1 on error. */
int ac_graph_place(ac_graph_link_fn *link, struct ac_store *store,
		   const struct ac_task_spec *t, struct ac_graph_place *g,
		   struct ac_error *err)
{
	enum ac_task_status status;
	int depth = 0, rc;

	memset(g, 0, sizeof *g);
	if (t->parent > 0) {
		rc = link(store, t->parent, &status, &depth, err);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			g->parent = t->parent;
			g->depth = depth + 1;
		} else if (!t->parent_soft) {
			return ac_error_set(err, AC_EXIT_FAILED,
					    "no task %lld (the parent)",
					    (long long)t->parent);
		}
	}
	if (t->nafter) {
		g->after = malloc(t->nafter * sizeof *g->after);
		g->after_done = calloc(t->nafter, 1);
		if (!g->after || !g->after_done)
			return ac_error_set(err, AC_EXIT_FAILED,
					    "out of memory");
		memcpy(g->after, t->after, t->nafter * sizeof *g->after);
		qsort(g->after, t->nafter, sizeof *g->after, id_cmp);
		for (size_t i = 0; i < t->nafter; i++)
			if (!g->nafter || g->after[g->nafter - 1] != g->after[i])
				g->after[g->nafter++] = g->after[i];
	}
	for (size_t i = 0; i < g->nafter; i++) {
		rc = link(store, g->after[i], &status, &depth, err);
		if (rc < 0)
			return -1;
		if (rc > 0)
			return ac_error_set(err, AC_EXIT_FAILED,
					    "no task %lld (--after)",
					    (long long)g->after[i]);
		if (depth + 1 > g->depth)
			g->depth = depth + 1;
		if (!ac_task_status_final(status)) {
			g->waiting++;
			continue;
		}
		g->after_done[i] = 1;
		if (status != AC_TASK_COMPLETED &&
		    t->after_policy == AC_AFTER_ALL_OK && !g->doomed_by) {
			g->doomed_by = g->after[i];
			g->doomed_status = ac_task_status_name(status);
		}
	}
	if (g->depth > AC_GRAPH_DEPTH_MAX)
		return ac_error_set(err, AC_EXIT_FAILED,
				    "a chain of tasks waiting for each other may be at most %d long",
				    AC_GRAPH_DEPTH_MAX);
	return 0;
}

int ac_budget_for_task(ac_budget_apply_fn *apply, struct ac_store *store,
		       const struct ac_task_spec *t,
		       struct ac_budget_check *check, struct ac_error *err)
{
	int rc;

	if (!t->budget || (check->name && strcmp(check->name, t->budget) == 0))
		return 0;
	rc = apply(store, t->budget, t->budget_limits, t->budget_limits != NULL,
		   &check->spent, err);
	if (rc > 0)
		return ac_error_set(err, AC_EXIT_FAILED,
				    "no budget named '%s' (make it with ac-budget set)",
				    t->budget);
	if (rc == 0)
		check->name = t->budget;
	return rc;
}

int ac_budget_count_add(json_t *counts, const char *budget,
			const char *status, int held, int64_t n)
{
	json_t *one = json_object_get(counts, budget), *tasks, *have;

	if (!one) {
		one = json_pack("{s:{},s:I}", "tasks", "held", (json_int_t)0);
		if (!one || json_object_set_new(counts, budget, one) < 0)
			return -1;
	}
	tasks = json_object_get(one, "tasks");
	have = json_object_get(tasks, status);
	if (json_object_set_new(tasks, status, json_integer(
			json_integer_value(have) + n)) < 0)
		return -1;
	if (held)
		json_object_set_new(one, "held", json_integer(
			json_integer_value(json_object_get(one, "held")) + n));
	return 0;
}

json_t *ac_budget_json(const struct ac_budget_row *row, json_t *counts)
{
	json_t *mine = json_object_get(counts, row->name);
	json_t *tasks = json_object_get(mine, "tasks");
	json_t *limits = json_loads(row->limits, 0, NULL);
	json_t *usage = row->usage ? json_loads(row->usage, 0, NULL) : NULL;
	json_t *remaining = json_object();
	const char *key;
	json_t *v;

	if (!json_is_object(limits)) {
		json_decref(limits);
		limits = json_object();
	}
	if (!json_is_object(usage)) {
		json_decref(usage);
		usage = json_object();
	}
	if (!limits || !usage || !remaining) {
		json_decref(limits);
		json_decref(usage);
		json_decref(remaining);
		return NULL;
	}
	/* What is left of each limit, never below zero. */
	json_object_foreach(limits, key, v) {
		json_t *u = json_object_get(usage, key);
		double left = json_number_value(v) -
			(json_is_number(u) ? json_number_value(u) : 0);

		if (left < 0)
			left = 0;
		json_object_set_new(remaining, key, json_is_integer(v) &&
				    (!u || json_is_integer(u)) ?
				    json_integer((json_int_t)left) :
				    json_real(left));
	}
	return json_pack("{s:s,s:o,s:o,s:o,s:b,s:o,s:o,s:I,s:o,s:o}",
			 "name", row->name, "limits", limits, "usage", usage,
			 "remaining", remaining, "spent", row->spent,
			 "spent_at", time_or_null(row->spent_at),
			 "tasks", tasks ? json_incref(tasks) : json_object(),
			 "held", json_integer_value(json_object_get(mine,
								    "held")),
			 "created", time_or_null(row->created),
			 "updated", time_or_null(row->updated));
}

int ac_usage_report(struct ac_store *store, json_t **out,
		    struct ac_error *err)
{
	json_t *types = NULL, *budgets = NULL;

	if (store->ops->usage_by_type(store, &types, err) < 0)
		return -1;
	if (store->ops->budgets_list(store, NULL, &budgets, err) < 0) {
		json_decref(types);
		return -1;
	}
	*out = json_pack("{s:o,s:o}", "types", types, "budgets", budgets);
	return *out ? 0 : ac_error_set(err, AC_EXIT_FAILED, "out of memory");
}

json_t *ac_usage_rows(json_t *report)
{
	json_t *rows = json_array(), *usage, *b;
	const char *type;
	size_t i;

	json_object_foreach(json_object_get(report, "types"), type, usage)
		json_array_append_new(rows, json_pack("{s:s,s:s,s:O,s:n,s:n,s:n}",
			"of", "type", "name", type, "usage", usage, "limits",
			"spent", "held"));
	json_array_foreach(json_object_get(report, "budgets"), i, b)
		json_array_append_new(rows, json_pack("{s:s,s:O,s:O,s:O,s:O,s:O}",
			"of", "budget", "name", json_object_get(b, "name"),
			"usage", json_object_get(b, "usage"), "limits",
			json_object_get(b, "limits"), "spent",
			json_object_get(b, "spent"), "held",
			json_object_get(b, "held")));
	return rows;
}

int ac_budget_name_check(const char *name, struct ac_error *err)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64 ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		   "0123456789_.:-") != len)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "bad budget name '%s': use 1-64 of A-Z a-z 0-9 _ . : -",
				    name);
	return 0;
}

int ac_schedule_fire_one(const struct ac_schedule_fire_ops *ops,
			 struct ac_store *store,
			 const struct ac_schedule_row *r, int64_t now,
			 struct ac_fired **fired, size_t *nfired,
			 struct ac_error *err)
{
	struct ac_schedule_step step;
	enum ac_task_status last = AC_TASK_COMPLETED;
	int64_t task = 0, cancelled = 0;
	int skipped = 0, existed = 0, oom = 0, rc;

	if (ac_schedule_step(r->cron, r->tz, r->next_at, r->catch_up_ms, now,
			     &step, err) < 0)
		return -1;
	/* Overlap: while the last task is unfinished, skip the slot or
	 * cancel that task first. */
	if (step.fire_slot && r->last_task > 0 &&
	    r->overlap != AC_OVERLAP_ALLOW) {
		rc = ops->task_status(store, r->last_task, &last, err);
		if (rc < 0)
			return -1;
		if (rc == 0 && !ac_task_status_final(last)) {
			if (r->overlap == AC_OVERLAP_SKIP) {
				skipped = 1;
			} else {
				if (ops->cancel(store, r->last_task,
						last == AC_TASK_RUNNING, now,
						err) < 0)
					return -1;
				cancelled = r->last_task;
			}
		}
	}
	if (step.fire_slot && !skipped &&
	    ops->submit(store, r, step.fire_slot, now, &task, &existed,
			err) < 0)
		return -1;
	if (ops->update(store, r, &step, task, task && !existed, skipped,
			err) < 0)
		return -1;
	if (step.missed)
		oom |= ac_fired_append(fired, nfired, r, AC_FIRED_MISSED, 0,
				       0, 0, step.missed) < 0;
	if (skipped)
		oom |= ac_fired_append(fired, nfired, r, AC_FIRED_SKIPPED,
				       step.fire_slot, r->last_task, 0, 0) < 0;
	else if (task && !existed)
		oom |= ac_fired_append(fired, nfired, r, AC_FIRED_TASK,
				       step.fire_slot, task, cancelled, 0) < 0;
	return oom ? ac_error_set(err, AC_EXIT_FAILED, "out of memory") : 0;
}

void ac_schedule_row_release(struct ac_schedule_row *row)
{
	free(row->name);
	free(row->cron);
	free(row->tz);
	free(row->type);
	free(row->data);
	free(row->route_key);
	free(row->tags);
	free(row->meta);
	free(row->reason);
	free(row->last_status);
	memset(row, 0, sizeof *row);
}

void ac_schedule_rows_free(struct ac_schedule_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ac_schedule_row_release(&rows[i]);
	free(rows);
}

int ac_schedule_row_task(const struct ac_schedule_row *row, int64_t slot,
			 int64_t now, struct ac_task_spec *t, char **meta,
			 char **key, struct ac_error *err)
{
	*meta = ac_schedule_meta(row->meta, row->name, slot);
	*key = ac_schedule_key(row->name, slot, now);
	if (!*meta || !*key) {
		free(*meta);
		free(*key);
		*meta = *key = NULL;
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	*t = (struct ac_task_spec){
		.type = row->type, .data = row->data,
		.data_len = strlen(row->data), .priority = row->priority,
		.max_retries = row->max_retries, .timeout_ms = row->timeout_ms,
		.route_key = row->route_key, .tags = row->tags, .meta = *meta,
		.idempotency_key = *key, .max_reclaims = row->max_reclaims,
		.expires_ms = row->expires_ms,
	};
	return 0;
}

int ac_fired_append(struct ac_fired **list, size_t *n,
		    const struct ac_schedule_row *row, enum ac_fired_kind kind,
		    int64_t slot, int64_t task, int64_t cancelled,
		    int64_t missed)
{
	struct ac_fired *grown = realloc(*list, (*n + 1) * sizeof **list);
	struct ac_fired *f;

	if (!grown)
		return -1;
	*list = grown;
	f = &grown[*n];
	*f = (struct ac_fired){ .kind = kind, .slot_ms = slot,
				.task_id = task, .cancelled_id = cancelled,
				.missed = missed };
	f->name = ac_strdup(row->name);
	f->type = ac_strdup(row->type);
	if (!f->name || !f->type) {
		free(f->name);
		free(f->type);
		return -1;
	}
	(*n)++;
	return 0;
}

void ac_fired_free(struct ac_fired *fired, size_t n)
{
	if (!fired)
		return;
	for (size_t i = 0; i < n; i++) {
		free(fired[i].name);
		free(fired[i].type);
	}
	free(fired);
}

json_t *ac_worker_row_json(const struct ac_worker_row *row, int64_t now_ms)
{
	json_t *o = json_object();
	const char *status = row->status;
	int64_t age = row->heartbeat_age_ms;

	if (!o)
		return NULL;
	/* A worker that stopped heartbeating is lost, whatever it last said. */
	if (strcmp(status, "stopped") && age > row->lease_ms)
		status = "lost";
	json_object_set_new(o, "id", json_string(row->id));
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "host", json_string(row->host));
	json_object_set_new(o, "pid", json_integer(row->pid));
	json_object_set_new(o, "concurrency", json_integer(row->concurrency));
	json_object_set_new(o, "running", json_integer(row->running));
	json_object_set_new(o, "completed", json_integer(row->completed));
	json_object_set_new(o, "failed", json_integer(row->failed));
	json_object_set_new(o, "tags", json_or_null(row->tags));
	json_object_set_new(o, "handlers", json_or_null(row->handlers));
	json_object_set_new(o, "started", time_or_null(row->started));
	json_object_set_new(o, "heartbeat", time_or_null(row->heartbeat));
	json_object_set_new(o, "uptime_s", json_integer(
		strcmp(status, "stopped") && strcmp(status, "lost") ?
		(now_ms - row->started) / 1000 :
		(row->heartbeat - row->started) / 1000));
	json_object_set_new(o, "heartbeat_age_s",
			    json_real((double)age / 1000.0));
	json_object_set_new(o, "listen", string_or_null(row->listen));
	json_object_set_new(o, "metrics", string_or_null(row->metrics));
	json_object_set_new(o, "drained", json_boolean(row->drain));
	json_object_set_new(o, "drain_reason",
			    string_or_null(row->drain ? row->drain_reason : NULL));
	return o;
}

json_t *ac_queue_key_json(const char *key, int64_t until, const char *reason,
			  int64_t now_store, int64_t now_wall)
{
	return json_pack("{s:s,s:o,s:o}", "key", key, "until",
			 time_or_null(until ? until - now_store + now_wall : 0),
			 "reason", string_or_null(reason));
}

static json_t *rate_or_null(double per_second)
{
	char text[48];

	if (per_second <= 0)
		return json_null();
	ac_flow_format_rate(per_second, text, sizeof text);
	return json_string(text);
}

json_t *ac_queue_row_json(const struct ac_flow *f, json_t *keys,
			  int64_t now_store, int64_t now_wall)
{
	json_t *o = json_object();
	int held = f->hold_until > now_store;

	if (!o) {
		json_decref(keys);
		return NULL;
	}
	json_object_set_new(o, "type", json_string(f->type));
	json_object_set_new(o, "paused", json_boolean(f->paused));
	json_object_set_new(o, "reason", string_or_null(f->paused ?
							 f->reason : NULL));
	json_object_set_new(o, "paused_at", time_or_null(f->paused ?
							  f->paused_at : 0));
	json_object_set_new(o, "held_until", time_or_null(
		held ? f->hold_until - now_store + now_wall : 0));
	json_object_set_new(o, "hold_reason", string_or_null(
		held ? f->hold_reason : NULL));
	json_object_set_new(o, "concurrency", f->concurrency > 0 ?
			    json_integer(f->concurrency) : json_null());
	json_object_set_new(o, "per_key", f->per_key > 0 ?
			    json_integer(f->per_key) : json_null());
	json_object_set_new(o, "rate", rate_or_null(f->rate));
	json_object_set_new(o, "key_rate", rate_or_null(f->key_rate));
	json_object_set_new(o, "burst", f->rate > 0 || f->key_rate > 0 ?
			    json_real(f->burst) : json_null());
	json_object_set_new(o, "fair", json_boolean(f->fair));
	json_object_set_new(o, "keys_held", keys ? keys : json_array());
	return o;
}

int ac_value_shown(const void *frame, size_t len, char **text)
{
	struct ac_error err;
	struct ac_buf b = { 0 };
	size_t n;

	if (ac_compress_decode(frame, len, text, &n, &err) == 0)
		return 0;
	if (errno == ENOMEM ||
	    ac_buf_printf(&b, "damaged value: %s", err.msg) < 0)
		return -1;
	*text = b.data;
	return 0;
}

char *ac_usage_sum(const char *total_text, const char *add_text)
{
	json_t *total = total_text ? json_loads(total_text, 0, NULL) : NULL;
	json_t *add = json_loads(add_text, 0, NULL);
	const char *key;
	json_t *v;
	char *out = NULL;

	if (!json_is_object(total)) {
		json_decref(total);
		total = json_object();
	}
	if (!total || !json_is_object(add))
		goto done;
	json_object_foreach(add, key, v) {
		json_t *have = json_object_get(total, key);

		if (json_is_number(v) && json_is_number(have)) {
			if (json_is_integer(v) && json_is_integer(have))
				json_object_set_new(total, key, json_integer(
					json_integer_value(have) +
					json_integer_value(v)));
			else
				json_object_set_new(total, key, json_real(
					json_number_value(have) +
					json_number_value(v)));
		} else {
			json_object_set(total, key, v);
		}
	}
	/* 15 significant digits: sums of costs such as 0.03 stay short. */
	out = json_dumps(total, JSON_COMPACT | JSON_REAL_PRECISION(15));
done:
	json_decref(total);
	json_decref(add);
	return out;
}

int ac_log_append(struct ac_buf *out, const char *old, const char *line)
{
	size_t oldlen = old ? strlen(old) : 0, addlen = strlen(line);

	/* Keep the last AC_LOG_KEEP bytes, whole lines first. */
	if (oldlen + addlen + 1 > AC_LOG_KEEP && oldlen) {
		size_t drop = oldlen + addlen + 1 > AC_LOG_KEEP + oldlen ?
			oldlen : oldlen + addlen + 1 - AC_LOG_KEEP;
		const char *nl = memchr(old + drop, '\n', oldlen - drop);

		old = nl ? nl + 1 : old + oldlen;
		oldlen = strlen(old);
	}
	if ((oldlen && ac_buf_append(out, old, oldlen) < 0) ||
	    ac_buf_append(out, line,
			  addlen > AC_LOG_KEEP ? AC_LOG_KEEP : addlen) < 0 ||
	    ac_buf_append(out, "\n", 1) < 0)
		return -1;
	return 0;
}

void ac_task_ends_release(struct ac_task_end *ends, size_t n)
{
	for (size_t i = 0; ends && i < n; i++) {
		free(ends[i].result);
		free(ends[i].error);
		ends[i].result = ends[i].error = NULL;
	}
}

static int kind_cmp(const struct ac_task_spec *x, const struct ac_task_spec *y)
{
	int c = x->type == y->type ? 0 : strcmp(x->type, y->type);

	if (c)
		return c;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return (x->delay_ms > 0) - (y->delay_ms > 0);
}

static int kind_ptr_cmp(const void *a, const void *b)
{
	return kind_cmp(*(const struct ac_task_spec *const *)a,
			*(const struct ac_task_spec *const *)b);
}

int ac_task_kinds(const struct ac_task_spec *specs, size_t n,
		  const struct ac_submitted *out, struct ac_task_kind **kinds,
		  size_t *nkinds)
{
	const struct ac_task_spec *first = NULL, **added;
	struct ac_task_kind *k;
	size_t m = 0, nk = 0;
	int mixed = 0;

	*kinds = NULL;
	*nkinds = 0;
	/* A batch is one kind of task nearly always: counted in one pass. */
	for (size_t i = 0; i < n; i++) {
		if (out[i].existed)
			continue;
		if (!first)
			first = &specs[i];
		else if (kind_cmp(first, &specs[i]))
			mixed = 1;
		m++;
	}
	if (m == 0)
		return 0;
	if (!mixed) {
		if (!(k = malloc(sizeof *k)))
			return -1;
		k->type = first->type;
		k->priority = first->priority;
		k->status = first->delay_ms > 0 ? AC_TASK_PENDING : AC_TASK_QUEUED;
		k->n = m;
		*kinds = k;
		*nkinds = 1;
		return 0;
	}
	/* Mixed: sorted by kind, then counted run by run. */
	added = malloc(m * sizeof *added);
	k = malloc(m * sizeof *k);
	if (!added || !k) {
		free(added);
		free(k);
		return -1;
	}
	m = 0;
	for (size_t i = 0; i < n; i++)
		if (!out[i].existed)
			added[m++] = &specs[i];
	qsort(added, m, sizeof *added, kind_ptr_cmp);
	for (size_t i = 0, j; i < m; i = j) {
		for (j = i + 1; j < m && !kind_cmp(added[i], added[j]); j++)
			;
		k[nk].type = added[i]->type;
		k[nk].priority = added[i]->priority;
		k[nk].status = added[i]->delay_ms > 0 ? AC_TASK_PENDING :
			AC_TASK_QUEUED;
		k[nk].n = j - i;
		nk++;
	}
	free(added);
	*kinds = k;
	*nkinds = nk;
	return 0;
}
