/* ac-status: what the cluster is doing, as JSON for scripts or tables for
 * people. */
#include "cli.h"
#include "config.h"
#include "control.h"
#include "exitcode.h"
#include "follow.h"
#include "graph.h"
#include "render.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char synopsis[] =
	"ac-status [--workers | --tasks [--status S] [--type T] [--limit N] | "
	"--task ID [--tree] | --batch ID | --schedules | --queue | --usage | "
	"--follow [--task ID] [--type T] [--worker W]] "
	"[--json | --table] [--store URL]";

_Noreturn static void usage(void)
{
	printf("usage: ac-status [--json | --table] [--store URL]\n"
	       "       ac-status --workers [--json | --table]\n"
	       "       ac-status --tasks [--status S] [--type T] [--limit N] [--json | --table]\n"
	       "       ac-status --task ID [--tree] [--json | --table]\n"
	       "       ac-status --batch ID [--json | --table]\n"
	       "       ac-status --schedules [--json | --table]\n"
	       "       ac-status --queue [--json | --table]\n"
	       "       ac-status --usage [--json | --table]\n"
	       "       ac-status --follow [--task ID] [--type T] [--worker W]\n\n"
	       "Show the cluster: a summary, workers, tasks, one task, or queue depth.\n\n"
	       "  --workers               every worker the store knows\n"
	       "  --tasks                 tasks, newest first\n"
	       "  --status S              only tasks in status S (pending, queued, running,\n"
	       "                          completed, failed, cancelled, timeout, expired)\n"
	       "  --type T                only tasks of type T\n"
	       "  --limit N               at most N tasks (default 100)\n"
	       "  --task ID               one task's whole record, with what it waits for\n"
	       "                          (after), its sub-tasks (children) and the tasks\n"
	       "                          that wait for it (dependents)\n"
	       "  --tree                  with --task: the whole graph the task is in\n"
	       "  --batch ID              a batch's progress: counts by status, its --then\n"
	       "  --schedules             the schedules (as ac-schedule list)\n"
	       "  --queue                 depth by type and priority, and paused types\n"
	       "  --usage                 the usage handlers reported (tokens, cost, ...) per\n"
	       "                          task type, and every budget (see ac-budget(1))\n"
	       "  --follow                the live events of every worker, as JSON Lines,\n"
	       "                          until interrupted (--task, --type, --worker filter)\n"
	       "  --worker W              with --follow: only worker W's events\n"
	       "  --json                  JSON output (the default when stdout is not a terminal)\n"
	       "  --table                 aligned table (the default on a terminal)\n"
	       "  --store URL             the store (default $AC_STORE, else $AC_HOME/ac.db)\n"
	       "  -h, --help              show this help\n"
	       "      --version           show the version\n\n"
	       "Exit status: 0 ok, 2 usage or unknown task or batch, 69 store unavailable.\n"
	       "See ac-status(1).\n");
	exit(AC_EXIT_OK);
}

enum { OPT_WORKERS = 256, OPT_TASKS, OPT_STATUS, OPT_TYPE, OPT_LIMIT,
       OPT_TASK, OPT_QUEUE, OPT_JSON, OPT_TABLE, OPT_STORE, OPT_VERSION,
       OPT_FOLLOW, OPT_WORKER, OPT_TREE, OPT_BATCH, OPT_SCHEDULES,
       OPT_USAGE };

enum view { VIEW_SUMMARY, VIEW_WORKERS, VIEW_TASKS, VIEW_TASK, VIEW_QUEUE,
	    VIEW_FOLLOW, VIEW_BATCH, VIEW_SCHEDULES, VIEW_USAGE };

/* A task's record with its place in its graph. */
static int task_record(struct ac_store *store, int64_t id, json_t **out,
		       struct ac_error *err)
{
	json_t *links = NULL;

	if (store->ops->task_get(store, id, out, err) < 0)
		return -1;
	if (store->ops->task_links(store, id, &links, err) < 0) {
		json_decref(*out);
		return -1;
	}
	json_object_set(*out, "after", json_object_get(links, "after"));
	json_object_set(*out, "children", json_object_get(links, "children"));
	json_object_set(*out, "dependents",
			json_object_get(links, "dependents"));
	json_decref(links);
	return 0;
}

static void print_event(void *ctx, json_t *ev)
{
	(void)ctx;
	json_dumpf(ev, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Print every live worker's events until interrupted; workers that join
 * later are picked up every two seconds. */
_Noreturn static void follow(struct ac_store *store,
			     const struct ac_follow_filter *filter)
{
	struct ac_follow *f;
	struct ac_error err;
	char *token;
	struct timespec tick = { 2, 0 };

	if (ac_ctl_token(NULL, &token, &err) < 0 ||
	    ac_follow_start(&f, filter, token, print_event, NULL, &err) < 0)
		ac_cli_die_error(&err);
	for (;;) {
		if (ac_follow_refresh(f, store, &err) < 0)
			fprintf(stderr, "%s: %s\n", ac_prog, err.msg);
		nanosleep(&tick, NULL);
	}
}

static json_t *summary(struct ac_store *store, const char *url,
		       struct ac_error *err)
{
	static const char *const statuses[] = { "idle", "busy", "draining",
						"stopped", "lost", "error" };
	json_t *workers, *counts, *w, *out, *by;
	char *shown;
	size_t i;

	if (store->ops->workers_list(store, &workers, err) < 0)
		return NULL;
	if (store->ops->task_counts(store, &counts, err) < 0) {
		json_decref(workers);
		return NULL;
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
	if (shown) {
		out = json_pack("{s:s,s:o,s:o}", "store", shown, "workers", by,
				"tasks", counts);
	} else {
		json_decref(by);
		json_decref(counts);
		out = NULL;
	}
	free(shown);
	json_decref(workers);
	if (!out)
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	return out;
}

static void summary_table(json_t *s)
{
	json_t *w = json_object_get(s, "workers"), *t = json_object_get(s, "tasks");
	const char *key;
	json_t *v;
	int first = 1;

	printf("store    %s\n", json_string_value(json_object_get(s, "store")));
	printf("workers  %lld:", (long long)json_integer_value(json_object_get(w, "total")));
	json_object_foreach(w, key, v) {
		if (!strcmp(key, "total"))
			continue;
		printf("%s %lld %s", first ? "" : ",", (long long)json_integer_value(v), key);
		first = 0;
	}
	printf("\ntasks   ");
	first = 1;
	json_object_foreach(t, key, v) {
		printf("%s %lld %s", first ? "" : ",", (long long)json_integer_value(v), key);
		first = 0;
	}
	printf("\n");
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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "workers", no_argument, NULL, OPT_WORKERS },
		{ "tasks", no_argument, NULL, OPT_TASKS },
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "task", required_argument, NULL, OPT_TASK },
		{ "queue", no_argument, NULL, OPT_QUEUE },
		{ "follow", no_argument, NULL, OPT_FOLLOW },
		{ "worker", required_argument, NULL, OPT_WORKER },
		{ "tree", no_argument, NULL, OPT_TREE },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "schedules", no_argument, NULL, OPT_SCHEDULES },
		{ "usage", no_argument, NULL, OPT_USAGE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "table", no_argument, NULL, OPT_TABLE },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const worker_cols[] = {
		"id", "status", "host", "pid", "concurrency", "running",
		"completed", "failed", "handlers", "tags", "uptime_s",
		"drain_reason", NULL };
	static const char *const task_cols[] = {
		"id", "type", "status", "priority", "attempt", "worker",
		"created", "error", NULL };
	static const char *const queue_cols[] = {
		"type", "priority", "queued", "pending", "running", "paused",
		NULL };
	static const char *const schedule_cols[] = {
		"name", "cron", "tz", "type", "overlap", "paused", "next",
		"last_task", "last_status", "fired", "missed", NULL };
	static const char *const usage_cols[] = {
		"of", "name", "usage", "limits", "spent", "held", NULL };
	enum view view = VIEW_SUMMARY;
	struct ac_follow_filter ffilter = { 0 };
	int follow_mode = 0;
	struct ac_task_filter filter = { .limit = 100 };
	const char *store_opt = NULL;
	int table = ac_cli_isatty(STDOUT_FILENO), c, nviews = 0, filters = 0;
	int64_t task_id = 0, batch_id = 0;
	int tree = 0;
	struct ac_store *store;
	struct ac_error err;
	json_t *out = NULL;
	char *url;
	long long v;
	int rc;

	ac_cli_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_WORKERS:
			view = VIEW_WORKERS;
			nviews++;
			break;
		case OPT_TASKS:
			view = VIEW_TASKS;
			nviews++;
			break;
		case OPT_QUEUE:
			view = VIEW_QUEUE;
			nviews++;
			break;
		case OPT_FOLLOW:
			follow_mode = 1;
			break;
		case OPT_WORKER:
			if (!ac_name_valid(optarg))
				ac_cli_usage_error(synopsis, "invalid worker id '%s'",
						   optarg);
			ffilter.worker = optarg;
			break;
		case OPT_TASK:
			if (ac_parse_int(optarg, 1, INT64_MAX, &v) < 0)
				ac_cli_usage_error(synopsis, "--task wants a task id, not '%s'",
						   optarg);
			task_id = v;
			view = VIEW_TASK;
			nviews++;
			break;
		case OPT_TREE:
			tree = 1;
			break;
		case OPT_BATCH:
			if (ac_parse_int(optarg, 1, INT64_MAX, &v) < 0)
				ac_cli_usage_error(synopsis, "--batch wants a batch id, not '%s'",
						   optarg);
			batch_id = v;
			view = VIEW_BATCH;
			nviews++;
			break;
		case OPT_SCHEDULES:
			view = VIEW_SCHEDULES;
			nviews++;
			break;
		case OPT_USAGE:
			view = VIEW_USAGE;
			nviews++;
			break;
		case OPT_STATUS:
			if (ac_task_status_parse(optarg, &filter.status) < 0)
				ac_cli_usage_error(synopsis, "unknown status '%s'",
						   optarg);
			filter.has_status = 1;
			filters++;
			break;
		case OPT_TYPE:
			if (!ac_name_valid(optarg))
				ac_cli_usage_error(synopsis, "invalid task type '%s'",
						   optarg);
			filter.type = optarg;
			filters++;
			break;
		case OPT_LIMIT:
			if (ac_parse_int(optarg, 1, 1000000, &v) < 0)
				ac_cli_usage_error(synopsis, "--limit wants a number from 1 to 1000000, not '%s'",
						   optarg);
			filter.limit = (long)v;
			filters++;
			break;
		case OPT_JSON:
			table = 0;
			break;
		case OPT_TABLE:
			table = 1;
			break;
		case OPT_STORE:
			store_opt = optarg;
			break;
		case 'h':
			usage();
		case OPT_VERSION:
			ac_cli_version();
		default:
			ac_cli_bad_option(synopsis, c, argv[optind - 1]);
		}
	}
	if (optind < argc)
		ac_cli_usage_error(synopsis, "unexpected argument '%s'", argv[optind]);
	if (follow_mode) {
		/* --task and --type narrow the stream here. */
		if (nviews > (view == VIEW_TASK) || filter.has_status ||
		    filter.limit != 100)
			ac_cli_usage_error(synopsis, "--follow takes only --task, --type and --worker");
		ffilter.task = task_id;
		ffilter.type = filter.type;
		view = VIEW_FOLLOW;
	} else if (ffilter.worker) {
		ac_cli_usage_error(synopsis, "--worker goes with --follow");
	} else if (nviews > 1)
		ac_cli_usage_error(synopsis, "choose one of --workers, --tasks, --task, --batch, --schedules, --queue and --usage");
	if (tree && (view != VIEW_TASK || follow_mode))
		ac_cli_usage_error(synopsis, "--tree goes with --task ID");
	if (filters && view != VIEW_TASKS && view != VIEW_FOLLOW)
		ac_cli_usage_error(synopsis, "--status, --type and --limit go with --tasks");

	/* Looking must not create: a missing store is reported, not made. */
	url = ac_config_store_url(store_opt, 0, &err);
	if (!url || ac_store_open(url, 0, &store, &err) < 0)
		ac_cli_die_error(&err);
	if (view == VIEW_FOLLOW)
		follow(store, &ffilter);
	switch (view) {
	case VIEW_SUMMARY:
		out = summary(store, url, &err);
		rc = out ? 0 : -1;
		break;
	case VIEW_WORKERS:
		rc = store->ops->workers_list(store, &out, &err);
		break;
	case VIEW_TASKS:
		rc = store->ops->tasks_list(store, &filter, &out, &err);
		break;
	case VIEW_TASK:
		rc = tree ? ac_task_tree(store, task_id, &out, &err) :
			task_record(store, task_id, &out, &err);
		break;
	case VIEW_BATCH:
		rc = store->ops->batch_get(store, batch_id, &out, &err);
		break;
	case VIEW_SCHEDULES:
		rc = store->ops->schedules_list(store, NULL, &out, &err);
		break;
	case VIEW_USAGE:
		rc = ac_usage_report(store, &out, &err);
		break;
	default:
		rc = store->ops->queue_depth(store, &out, &err);
		if (rc == 0)
			rc = mark_paused(store, out, &err);
		break;
	}
	if (rc < 0)
		ac_cli_die_error(&err);
	if (!table)
		rc = ac_render_json(stdout, out);
	else if (view == VIEW_SUMMARY)
		summary_table(out), rc = 0;
	else if (view == VIEW_TASK && tree)
		rc = ac_task_tree_print(stdout, out, task_id);
	else if (view == VIEW_TASK || view == VIEW_BATCH)
		rc = ac_render_record(stdout, out);
	else if (view == VIEW_SCHEDULES)
		rc = ac_render_table(stdout, out, schedule_cols);
	else if (view == VIEW_USAGE) {
		json_t *rows = ac_usage_rows(out);

		rc = rows ? ac_render_table(stdout, rows, usage_cols) : -1;
		json_decref(rows);
	}
	else
		rc = ac_render_table(stdout, out,
				     view == VIEW_WORKERS ? worker_cols :
				     view == VIEW_TASKS ? task_cols : queue_cols);
	if (rc < 0 || fflush(stdout) != 0)
		ac_cli_die(AC_EXIT_FAILED, "cannot write the output: %s",
			   strerror(errno));
	json_decref(out);
	ac_store_close(store);
	free(url);
	return AC_EXIT_OK;
}
