/* ac-schedule: cron schedules, kept in the store and fired by the live
 * workers themselves (schedule.h has the rules; no scheduler daemon). */
#include "cli.h"
#include "config.h"
#include "control.h"
#include "cron.h"
#include "exitcode.h"
#include "render.h"
#include "schedule.h"
#include "store.h"
#include "submit.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char synopsis[] =
	"ac-schedule add NAME --cron EXPR TYPE [FILE] [OPTIONS] | "
	"ac-schedule (list | show NAME | pause NAME | resume NAME | rm NAME | "
	"run NAME | next (NAME | --cron EXPR)) [OPTIONS]";

_Noreturn static void usage(void)
{
	printf("usage: ac-schedule add NAME --cron EXPR TYPE [FILE] [--tz ZONE]\n"
	       "                          [--overlap allow|skip|cancel-previous] [--catch-up DURATION]\n"
	       "                          [--replace] [task options]\n"
	       "       ac-schedule list\n"
	       "       ac-schedule show NAME\n"
	       "       ac-schedule pause NAME [--reason TEXT]\n"
	       "       ac-schedule resume NAME\n"
	       "       ac-schedule rm NAME\n"
	       "       ac-schedule run NAME\n"
	       "       ac-schedule next (NAME | --cron EXPR [--tz ZONE]) [--count N]\n"
	       "       (each also takes [--json | --table] [--store URL])\n\n"
	       "Cron schedules, kept in the store and fired by the live workers themselves:\n"
	       "exactly one task per slot across the cluster, none while no worker runs (a\n"
	       "slot missed by no more than --catch-up fires once when one comes back).\n\n"
	       "  --cron EXPR             'MIN HOUR DOM MON DOW', or six fields with seconds\n"
	       "                          first; ranges, steps, lists, names; @daily etc.\n"
	       "  --tz ZONE               the zone EXPR is read in (default: this host's, %s)\n"
	       "  --overlap POLICY        a slot while the last task is unfinished: allow\n"
	       "                          (default), skip it, or cancel-previous\n"
	       "  --catch-up DURATION     a slot missed by at most this fires once when a\n"
	       "                          worker comes back (default 1h; 0 = only on time)\n"
	       "  --replace               add: change the schedule of that name if there is one\n"
	       "  --priority, --timeout, --retries, --max-reclaims, --expires, --key,\n"
	       "  --require, --meta       add: each task's options, as for ac-submit\n"
	       "  --reason TEXT           pause: why (shown by list and show)\n"
	       "  --count N               next: how many firings to show (default 5)\n"
	       "  --json                  JSON output (the default when stdout is not a terminal)\n"
	       "  --table                 aligned table (the default on a terminal)\n"
	       "  --store URL             the store (default $AC_STORE, else $AC_HOME/ac.db;\n"
	       "                          add creates a missing one)\n"
	       "  -h, --help              show this help\n"
	       "      --version           show the version\n\n"
	       "FILE is the JSON data of each task ('-' reads stdin; default {}).\n"
	       "DURATION: a number with an optional suffix ms, s (default), m, h or d.\n\n"
	       "Exit status: 0 ok, 1 the store refused (a name that exists or does not;\n"
	       "nothing changed), 2 usage (nothing changed), 69 store unavailable.\n"
	       "See ac-schedule(1).\n", "$TZ or /etc/localtime");
	exit(AC_EXIT_OK);
}

enum sub { SUB_ADD, SUB_LIST, SUB_SHOW, SUB_PAUSE, SUB_RESUME, SUB_RM,
	   SUB_RUN, SUB_NEXT, SUB_COUNT };

static const char *const sub_names[SUB_COUNT] = {
	"add", "list", "show", "pause", "resume", "rm", "run", "next"
};

enum { OPT_CRON = 256, OPT_TZ, OPT_OVERLAP, OPT_CATCH_UP, OPT_REPLACE,
       OPT_PRIORITY, OPT_TIMEOUT, OPT_RETRIES, OPT_MAX_RECLAIMS, OPT_EXPIRES,
       OPT_KEY, OPT_REQUIRE, OPT_META, OPT_REASON, OPT_COUNT_OPT, OPT_JSON,
       OPT_TABLE, OPT_STORE, OPT_VERSION, OPT_END };

#define S(x) (1u << (x))
#define ALL_SUBS (S(SUB_COUNT) - 1)
#define O(opt) ((opt) - OPT_CRON)
#define ADD S(SUB_ADD)

/* Which subcommands take each option. */
static const unsigned opt_subs[O(OPT_END)] = {
	[O(OPT_CRON)] = ADD | S(SUB_NEXT),
	[O(OPT_TZ)] = ADD | S(SUB_NEXT),
	[O(OPT_OVERLAP)] = ADD,
	[O(OPT_CATCH_UP)] = ADD,
	[O(OPT_REPLACE)] = ADD,
	[O(OPT_PRIORITY)] = ADD,
	[O(OPT_TIMEOUT)] = ADD,
	[O(OPT_RETRIES)] = ADD,
	[O(OPT_MAX_RECLAIMS)] = ADD,
	[O(OPT_EXPIRES)] = ADD,
	[O(OPT_KEY)] = ADD,
	[O(OPT_REQUIRE)] = ADD,
	[O(OPT_META)] = ADD,
	[O(OPT_REASON)] = S(SUB_PAUSE),
	[O(OPT_COUNT_OPT)] = S(SUB_NEXT),
	[O(OPT_JSON)] = ALL_SUBS,
	[O(OPT_TABLE)] = ALL_SUBS,
	[O(OPT_STORE)] = ALL_SUBS,
	[O(OPT_VERSION)] = ALL_SUBS,
};

static const struct option longopts[] = {
	{ "cron", required_argument, NULL, OPT_CRON },
	{ "tz", required_argument, NULL, OPT_TZ },
	{ "overlap", required_argument, NULL, OPT_OVERLAP },
	{ "catch-up", required_argument, NULL, OPT_CATCH_UP },
	{ "replace", no_argument, NULL, OPT_REPLACE },
	{ "priority", required_argument, NULL, OPT_PRIORITY },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "max-reclaims", required_argument, NULL, OPT_MAX_RECLAIMS },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "require", required_argument, NULL, OPT_REQUIRE },
	{ "meta", required_argument, NULL, OPT_META },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "count", required_argument, NULL, OPT_COUNT_OPT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "table", no_argument, NULL, OPT_TABLE },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static const char *const list_cols[] = {
	"name", "cron", "tz", "type", "overlap", "paused", "next", "last_task",
	"last_status", "fired", "missed", NULL
};

struct args {
	enum sub sub;
	const char *name;
	const char *cron;
	const char *tz;
	const char *file;
	const char *reason;
	int overlap;
	int64_t catch_up_ms;
	int replace;
	long count;
	struct ac_task_spec task;
	json_t *tags, *meta;
	int table;
	const char *store_opt;
	unsigned seen[O(OPT_END)];
};

static const char *opt_name(int opt)
{
	for (size_t i = 0; longopts[i].name; i++)
		if (longopts[i].val == opt)
			return longopts[i].name;
	return "?";
}

static void take_option(struct args *a, int c)
{
	long long v;

	switch (c) {
	case OPT_CRON:
		a->cron = optarg;
		break;
	case OPT_TZ:
		if (!ac_tz_known(optarg))
			ac_cli_usage_error(synopsis, "--tz: unknown time zone '%s' (an IANA name such as Europe/Berlin, or UTC)",
					   optarg);
		a->tz = optarg;
		break;
	case OPT_OVERLAP:
		if (ac_overlap_parse(optarg, &a->overlap) < 0)
			ac_cli_usage_error(synopsis, "--overlap wants allow, skip or cancel-previous, not '%s'",
					   optarg);
		break;
	case OPT_CATCH_UP:
		if (ac_parse_duration_ms(optarg, &a->catch_up_ms) < 0)
			ac_cli_usage_error(synopsis, "--catch-up wants a duration such as 0, 90s, 10m or 2h, not '%s'",
					   optarg);
		break;
	case OPT_REPLACE:
		a->replace = 1;
		break;
	case OPT_PRIORITY:
		if (ac_priority_parse(optarg, &a->task.priority) < 0)
			ac_cli_usage_error(synopsis, "--priority wants low, normal, high, critical or an integer, not '%s'",
					   optarg);
		break;
	case OPT_TIMEOUT:
		a->task.timeout_ms = ac_cli_seconds(synopsis, "--timeout", optarg);
		break;
	case OPT_RETRIES:
	case OPT_MAX_RECLAIMS:
		if (ac_parse_int(optarg, 0, 1000, &v) < 0)
			ac_cli_usage_error(synopsis, "--%s wants a number from 0 to 1000, not '%s'",
					   opt_name(c), optarg);
		if (c == OPT_RETRIES)
			a->task.max_retries = (int)v;
		else
			a->task.max_reclaims = (int)v;
		break;
	case OPT_EXPIRES:
		if (ac_parse_duration_ms(optarg, &a->task.expires_ms) < 0 ||
		    a->task.expires_ms <= 0)
			ac_cli_usage_error(synopsis, "--expires wants a number of seconds above 0, not '%s'",
					   optarg);
		break;
	case OPT_KEY:
		if (!*optarg || strlen(optarg) > 1024)
			ac_cli_usage_error(synopsis, "--key wants 1 to 1024 characters");
		a->task.route_key = optarg;
		break;
	case OPT_REQUIRE:
		if (!ac_name_valid(optarg))
			ac_cli_usage_error(synopsis, "invalid tag '%s' (use letters, digits and _.:@-)",
					   optarg);
		json_array_append_new(a->tags, json_string(optarg));
		break;
	case OPT_META: {
		char *eq = strchr(optarg, '=');

		if (!eq || eq == optarg)
			ac_cli_usage_error(synopsis, "--meta wants K=V, not '%s'",
					   optarg);
		*eq = '\0';
		if (!strcmp(optarg, "schedule") || !strcmp(optarg, "slot"))
			ac_cli_usage_error(synopsis, "--meta: '%s' is set by the schedule itself",
					   optarg);
		if (json_object_set_new(a->meta, optarg, json_string(eq + 1)) < 0)
			ac_cli_usage_error(synopsis, "--meta: '%s' is not valid UTF-8",
					   optarg);
		break;
	}
	case OPT_REASON:
		a->reason = optarg;
		break;
	case OPT_COUNT_OPT:
		if (ac_parse_int(optarg, 1, 1000, &v) < 0)
			ac_cli_usage_error(synopsis, "--count wants a number from 1 to 1000, not '%s'",
					   optarg);
		a->count = (long)v;
		break;
	case OPT_JSON:
		a->table = 0;
		break;
	case OPT_TABLE:
		a->table = 1;
		break;
	case OPT_STORE:
		a->store_opt = optarg;
		break;
	}
}

static void parse_args(int argc, char **argv, struct args *a)
{
	const char *positional[5];
	size_t npos = 0;
	int c;

	opterr = 0;
	/* Options may come anywhere; the first word names the subcommand. */
	while ((c = getopt_long(argc, argv, "-:h", longopts, NULL)) != -1) {
		if (c == 1) {
			if (npos == sizeof positional / sizeof *positional)
				ac_cli_usage_error(synopsis, "unexpected argument '%s'",
						   optarg);
			positional[npos++] = optarg;
			continue;
		}
		if (c == 'h')
			usage();
		if (c == OPT_VERSION)
			ac_cli_version();
		if (c < OPT_CRON || c >= OPT_END)
			ac_cli_bad_option(synopsis, c, argv[optind - 1]);
		a->seen[O(c)]++;
		take_option(a, c);
	}
	if (npos == 0)
		ac_cli_usage_error(synopsis, "no subcommand given (add, list, show, pause, resume, rm, run or next)");
	for (a->sub = 0; a->sub < SUB_COUNT; a->sub++)
		if (!strcmp(positional[0], sub_names[a->sub]))
			break;
	if (a->sub == SUB_COUNT)
		ac_cli_usage_error(synopsis, "unknown subcommand '%s'",
				   positional[0]);
	for (int o = 0; o < O(OPT_END); o++)
		if (a->seen[o] && !(opt_subs[o] & S(a->sub)))
			ac_cli_usage_error(synopsis, "--%s does not go with %s",
					   opt_name(o + OPT_CRON),
					   sub_names[a->sub]);
	if (a->sub == SUB_ADD) {
		if (npos < 3)
			ac_cli_usage_error(synopsis, "add wants NAME and TYPE");
		if (npos > 4)
			ac_cli_usage_error(synopsis, "unexpected argument '%s'",
					   positional[4]);
		a->name = positional[1];
		a->task.type = positional[2];
		a->file = npos > 3 ? positional[3] : NULL;
		if (!a->cron)
			ac_cli_usage_error(synopsis, "add wants --cron EXPR");
		if (!ac_name_valid(a->task.type))
			ac_cli_usage_error(synopsis, "invalid task type '%s' (use letters, digits and _.:@-)",
					   a->task.type);
	} else if (a->sub == SUB_LIST) {
		if (npos > 1)
			ac_cli_usage_error(synopsis, "unexpected argument '%s'",
					   positional[1]);
	} else if (a->sub == SUB_NEXT && a->cron) {
		if (npos > 1)
			ac_cli_usage_error(synopsis, "next takes NAME or --cron, not both");
	} else {
		if (npos < 2)
			ac_cli_usage_error(synopsis, "%s wants a schedule NAME",
					   sub_names[a->sub]);
		if (npos > 2)
			ac_cli_usage_error(synopsis, "unexpected argument '%s'",
					   positional[2]);
		a->name = positional[1];
		if (a->tz && a->sub == SUB_NEXT)
			ac_cli_usage_error(synopsis, "--tz goes with --cron (a schedule has its own)");
	}
	if (a->name && !ac_schedule_name_ok(a->name))
		ac_cli_usage_error(synopsis, "invalid schedule name '%s' (1 to 64 of letters, digits and _.-)",
				   a->name);
}

/* The task data of add: FILE, stdin for '-', else {}. */
static char *read_data(const char *file)
{
	struct ac_buf in = { 0 };
	struct ac_error err;
	char *data;
	int fd = STDIN_FILENO;

	if (!file)
		return ac_strdup("{}");
	if (strcmp(file, "-")) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			ac_cli_die(AC_EXIT_USAGE, "cannot open '%s': %s", file,
				   strerror(errno));
	}
	if (ac_read_all(fd, &in, 2 * (size_t)AC_MAX_PAYLOAD) < 0) {
		if (errno == EFBIG)
			ac_cli_die(AC_EXIT_USAGE, "task data exceeds the limit of %u bytes",
				   AC_MAX_PAYLOAD);
		ac_cli_die(AC_EXIT_FAILED, "cannot read the task data: %s",
			   strerror(errno));
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (ac_submit_parse_data(in.data ? in.data : "", in.len, &data,
				 &err) < 0)
		ac_cli_die_error(&err);
	ac_buf_release(&in);
	return data;
}

/* The next firings of EXPR in zone tz, from now. */
static json_t *next_times(const char *expr, const char *tz, long count)
{
	struct ac_cron c;
	struct ac_error err;
	json_t *times = json_array();
	int64_t t = ac_now_ms();
	char when[40];

	if (!times)
		ac_cli_die(AC_EXIT_FAILED, "out of memory");
	if (ac_cron_parse(expr, &c, &err) < 0)
		ac_cli_die_error(&err);
	for (long i = 0; i < count; i++) {
		int rc = ac_cron_next(&c, tz, t, &t, &err);

		if (rc < 0)
			ac_cli_die_error(&err);
		if (rc > 0)
			break;
		json_array_append_new(times, json_string(ac_format_time(t, when,
								sizeof when)));
	}
	return times;
}

/* Tell the workers that run type: they look at the schedules now (a new
 * one's first slot may be soon), and the first one reached announces the
 * change as an event. */
static void announce(struct ac_store *store, const char *type,
		     const char *event, const char *name)
{
	json_t *ev = json_pack("{s:s,s:s}", "event", event, "schedule", name);
	struct ac_error err;
	char *token = NULL;

	if (ev && ac_ctl_token(NULL, &token, &err) == 0)
		ac_submit_announce(store, type, ev, token);
	free(token);
	json_decref(ev);
}

static json_t *one_schedule(struct ac_store *store, const char *name)
{
	struct ac_error err;
	json_t *list, *one;

	if (store->ops->schedules_list(store, name, &list, &err) < 0)
		ac_cli_die_error(&err);
	one = json_incref(json_array_get(list, 0));
	json_decref(list);
	return one;
}

/* The schedule's latest tasks (by their metadata), newest first. */
static void add_recent(struct ac_store *store, json_t *sched)
{
	struct ac_task_filter f = { .type = json_string_value(
					    json_object_get(sched, "type")),
				    .limit = 1000 };
	const char *name = json_string_value(json_object_get(sched, "name"));
	struct ac_error err;
	json_t *tasks, *recent = json_array(), *t;
	size_t i;

	if (!recent || store->ops->tasks_list(store, &f, &tasks, &err) < 0) {
		json_decref(recent);
		return;
	}
	json_array_foreach(tasks, i, t) {
		const char *of = json_string_value(json_object_get(
				json_object_get(t, "meta"), "schedule"));

		if (of && name && !strcmp(of, name) &&
		    json_array_size(recent) < 10)
			json_array_append_new(recent, json_pack("{s:O,s:O,s:O,s:O}",
				"id", json_object_get(t, "id"),
				"status", json_object_get(t, "status"),
				"slot", json_object_get(json_object_get(t, "meta"),
							"slot"),
				"created", json_object_get(t, "created")));
	}
	json_decref(tasks);
	json_object_set_new(sched, "recent", recent);
}

int main(int argc, char **argv)
{
	struct args a = { .overlap = AC_OVERLAP_ALLOW,
			  .catch_up_ms = AC_SCHEDULE_CATCH_UP_DEFAULT_MS,
			  .count = 5,
			  .task = { .priority = 5, .max_reclaims = 3 } };
	struct ac_store *store = NULL;
	struct ac_error err;
	json_t *out = NULL;
	char *url, *data = NULL, *tz_local = NULL, *tags = NULL, *meta = NULL;
	int rc;

	ac_cli_init(argv[0]);
	a.table = ac_cli_isatty(STDOUT_FILENO);
	a.tags = json_array();
	a.meta = json_object();
	if (!a.tags || !a.meta)
		ac_cli_die(AC_EXIT_FAILED, "out of memory");
	parse_args(argc, argv, &a);

	if (a.sub == SUB_ADD || (a.sub == SUB_NEXT && a.cron)) {
		struct ac_cron c;

		if (ac_cron_parse(a.cron, &c, &err) < 0)
			ac_cli_usage_error(synopsis, "--cron: %s", err.msg);
		if (!a.tz) {
			tz_local = ac_tz_local_name();
			if (!tz_local)
				ac_cli_die(AC_EXIT_FAILED, "out of memory");
			a.tz = tz_local;
		}
	}
	if (a.sub == SUB_NEXT && a.cron) {
		out = json_pack("{s:s,s:s,s:o}", "cron", a.cron, "tz", a.tz,
				"next", next_times(a.cron, a.tz, a.count));
		goto print;
	}
	if (a.sub == SUB_ADD) {
		data = read_data(a.file);
		if (json_array_size(a.tags))
			tags = json_dumps(a.tags, JSON_COMPACT);
		if (json_object_size(a.meta))
			meta = json_dumps(a.meta, JSON_COMPACT);
		a.task.data = data;
		a.task.data_len = strlen(data);
		a.task.tags = tags;
		a.task.meta = meta;
	}

	url = ac_config_store_url(a.store_opt, a.sub == SUB_ADD, &err);
	if (!url || ac_store_open(url, a.sub == SUB_ADD, &store, &err) < 0)
		ac_cli_die_error(&err);
	free(url);
	switch (a.sub) {
	case SUB_ADD: {
		struct ac_schedule_spec sp = {
			.name = a.name, .cron = a.cron,
			.tz = strcmp(a.tz, "UTC") ? a.tz : NULL,
			.overlap = a.overlap, .catch_up_ms = a.catch_up_ms,
			.task = a.task,
		};

		if (store->ops->schedule_add(store, &sp, a.replace, &err) < 0)
			ac_cli_die_error(&err);
		announce(store, a.task.type, "schedule.added", a.name);
		out = one_schedule(store, a.name);
		break;
	}
	case SUB_LIST:
		if (store->ops->schedules_list(store, NULL, &out, &err) < 0)
			ac_cli_die_error(&err);
		break;
	case SUB_SHOW:
		out = one_schedule(store, a.name);
		add_recent(store, out);
		break;
	case SUB_PAUSE:
	case SUB_RESUME:
	case SUB_RM: {
		json_t *before = one_schedule(store, a.name);
		enum ac_schedule_change change =
			a.sub == SUB_PAUSE ? AC_SCHEDULE_PAUSE :
			a.sub == SUB_RESUME ? AC_SCHEDULE_RESUME :
			AC_SCHEDULE_REMOVE;

		if (store->ops->schedule_change(store, a.name, change, a.reason,
						&err) < 0)
			ac_cli_die_error(&err);
		announce(store, json_string_value(json_object_get(before, "type")),
			 a.sub == SUB_PAUSE ? "schedule.paused" :
			 a.sub == SUB_RESUME ? "schedule.resumed" :
			 "schedule.removed", a.name);
		if (a.sub == SUB_RM) {
			out = before;
		} else {
			json_decref(before);
			out = one_schedule(store, a.name);
		}
		break;
	}
	case SUB_RUN: {
		struct ac_fired f;
		char *token = NULL;

		if (store->ops->schedule_run(store, a.name, &f, &err) < 0)
			ac_cli_die_error(&err);
		if (ac_ctl_token(NULL, &token, &err) == 0)
			ac_submit_poke(store, f.type, NULL, &f.task_id, 1, token);
		free(token);
		out = json_pack("{s:s,s:s,s:I}", "schedule", f.name, "type",
				f.type, "task", (json_int_t)f.task_id);
		free(f.name);
		free(f.type);
		break;
	}
	case SUB_NEXT: {
		json_t *sched = one_schedule(store, a.name);
		const char *zone = json_string_value(json_object_get(sched, "tz"));

		out = json_pack("{s:s,s:O,s:s,s:o}", "name", a.name, "cron",
				json_object_get(sched, "cron"), "tz",
				zone ? zone : "UTC", "next",
				next_times(json_string_value(json_object_get(
					sched, "cron")), zone, a.count));
		json_decref(sched);
		break;
	}
	default:
		break;
	}
print:
	if (!out)
		ac_cli_die(AC_EXIT_FAILED, "out of memory");
	if (!a.table)
		rc = ac_render_json(stdout, out);
	else if (a.sub == SUB_LIST)
		rc = ac_render_table(stdout, out, list_cols);
	else
		rc = ac_render_record(stdout, out);
	if (rc < 0 || fflush(stdout) != 0)
		ac_cli_die(AC_EXIT_FAILED, "cannot write the output: %s",
			   strerror(errno));
	json_decref(out);
	json_decref(a.tags);
	json_decref(a.meta);
	ac_store_close(store);
	free(data);
	free(tags);
	free(meta);
	free(tz_local);
	return AC_EXIT_OK;
}
