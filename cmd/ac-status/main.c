/* ac-status: what the cluster is doing, as JSON for scripts or tables for
 * people. */
#include "cli.h"
#include "config.h"
#include "control.h"
#include "dashboard.h"
#include "exitcode.h"
#include "follow.h"
#include "graph.h"
#include "render.h"
#include "status.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char synopsis[] =
	"ac-status [--workers | --tasks [--status S] [--type T] [--limit N] | "
	"--task ID [--tree] | --batch ID | --schedules | --queue | --usage | "
	"--follow [--task ID] [--type T] [--worker W] | "
	"--serve HOST:PORT [--token-file FILE]] "
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
	       "       ac-status --follow [--task ID] [--type T] [--worker W]\n"
	       "       ac-status --serve HOST:PORT [--token-file FILE]\n\n"
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
	       "  --serve HOST:PORT       serve the dashboard, a web page of all of this with\n"
	       "                          the live events, and its JSON, until SIGINT or\n"
	       "                          SIGTERM (port 0: any free port; the address is\n"
	       "                          printed); read-only without a token\n"
	       "  --token-file FILE       with --serve: allow drain and cancel from the page\n"
	       "                          to whoever sends the token in FILE's first line\n"
	       "                          (default $AC_TOKEN or $AC_TOKEN_FILE)\n"
	       "  --json                  JSON output (the default when stdout is not a terminal)\n"
	       "  --table                 aligned table (the default on a terminal)\n"
	       "  --store URL             the store (default $AC_STORE, else $AC_HOME/ac.db)\n"
	       "  -h, --help              show this help\n"
	       "      --version           show the version\n\n"
	       "Exit status: 0 ok, 1 --serve cannot listen, 2 usage or unknown task or batch,\n"
	       "69 store unavailable.\n"
	       "See ac-status(1).\n");
	exit(AC_EXIT_OK);
}

enum { OPT_WORKERS = 256, OPT_TASKS, OPT_STATUS, OPT_TYPE, OPT_LIMIT,
       OPT_TASK, OPT_QUEUE, OPT_JSON, OPT_TABLE, OPT_STORE, OPT_VERSION,
       OPT_FOLLOW, OPT_WORKER, OPT_TREE, OPT_BATCH, OPT_SCHEDULES,
       OPT_USAGE, OPT_SERVE, OPT_TOKEN_FILE };

enum view { VIEW_SUMMARY, VIEW_WORKERS, VIEW_TASKS, VIEW_TASK, VIEW_QUEUE,
	    VIEW_FOLLOW, VIEW_BATCH, VIEW_SCHEDULES, VIEW_USAGE };

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

/* --serve: the dashboard until SIGINT or SIGTERM.  The address is taken
 * first, so that a bad one is a usage error whatever the store does; the
 * line saying where it serves comes once the store has opened. */
static int serve(const char *addr, const char *token_file,
		 const char *store_opt)
{
	struct ac_dashboard_config cfg = { .listen = addr };
	struct ac_dashboard *d;
	struct ac_store *store;
	struct ac_error err;
	char *url, *token, *ctl_token;

	if (ac_ctl_token(token_file, &token, &err) < 0 ||
	    ac_ctl_token(NULL, &ctl_token, &err) < 0)
		ac_cli_die_error(&err);
	cfg.token = token;
	cfg.ctl_token = ctl_token;
	url = ac_config_store_url(store_opt, 0, &err);
	if (!url)
		ac_cli_die_error(&err);
	cfg.store_url = url;
	if (ac_dashboard_open(&d, &cfg, &err) < 0)
		ac_cli_die_error(&err);
	if (ac_store_open(url, 0, &store, &err) < 0)
		ac_cli_die_error(&err);
	/* A client that hangs up mid-reply is its loss, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "%s: serving %s (%s)\n", ac_prog, ac_dashboard_url(d),
		token ? "actions allowed with the token" : "read-only");
	if (ac_dashboard_run(d, store, &err) < 0)
		ac_cli_die_error(&err);
	ac_dashboard_free(d);
	ac_store_close(store);
	free(url);
	free(token);
	free(ctl_token);
	return AC_EXIT_OK;
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
		{ "serve", required_argument, NULL, OPT_SERVE },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
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
	const char *store_opt = NULL, *serve_addr = NULL, *token_file = NULL;
	int forced_format = 0;
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
		case OPT_SERVE:
			serve_addr = optarg;
			break;
		case OPT_TOKEN_FILE:
			token_file = optarg;
			break;
		case OPT_JSON:
			table = 0;
			forced_format = 1;
			break;
		case OPT_TABLE:
			table = 1;
			forced_format = 1;
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
	if (serve_addr && (nviews || follow_mode || filters || tree ||
			   ffilter.worker || forced_format))
		ac_cli_usage_error(synopsis, "--serve takes only --token-file and --store");
	if (token_file && !serve_addr)
		ac_cli_usage_error(synopsis, "--token-file goes with --serve");
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

	if (serve_addr)
		return serve(serve_addr, token_file, store_opt);
	/* Looking must not create: a missing store is reported, not made. */
	url = ac_config_store_url(store_opt, 0, &err);
	if (!url || ac_store_open(url, 0, &store, &err) < 0)
		ac_cli_die_error(&err);
	if (view == VIEW_FOLLOW)
		follow(store, &ffilter);
	switch (view) {
	case VIEW_SUMMARY:
		rc = ac_status_summary(store, url, &out, &err);
		break;
	case VIEW_WORKERS:
		rc = store->ops->workers_list(store, &out, &err);
		break;
	case VIEW_TASKS:
		rc = store->ops->tasks_list(store, &filter, &out, &err);
		break;
	case VIEW_TASK:
		rc = tree ? ac_task_tree(store, task_id, &out, &err) :
			ac_status_task(store, task_id, &out, &err);
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
		rc = ac_status_queue(store, &out, &err);
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
