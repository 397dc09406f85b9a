/* ac-queue: flow control of task types (limits, pauses, holds) and the
 * dead-letter set (failed tasks: list, requeue, prune). */
#include "cli.h"
#include "config.h"
#include "control.h"
#include "exitcode.h"
#include "flow.h"
#include "render.h"
#include "store.h"
#include "submit.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char synopsis[] =
	"ac-queue (limit | pause | resume) TYPE [OPTIONS] | "
	"ac-queue (show [TYPE] | failed | requeue ID... | prune --older-than DURATION) [OPTIONS]";

_Noreturn static void usage(void)
{
	printf("usage: ac-queue limit TYPE [--concurrency N|off] [--per-key N|off] [--rate RATE|off]\n"
	       "                          [--key-rate RATE|off] [--burst N] [--fair | --no-fair] [--clear]\n"
	       "       ac-queue pause TYPE [--reason TEXT] [--for DURATION] [--key KEY]\n"
	       "       ac-queue resume TYPE [--key KEY]\n"
	       "       ac-queue show [TYPE]\n"
	       "       ac-queue failed [--type T] [--since DURATION] [--status S]... [--limit N]\n"
	       "       ac-queue requeue ID... | --type T [--since DURATION] [--status S]... | --all\n"
	       "       ac-queue prune --older-than DURATION [--status S]\n"
	       "       (each also takes [--json | --table] [--store URL])\n\n"
	       "Flow control of task types, kept in the store and obeyed by every worker:\n"
	       "limits on running tasks and on claims per second, pauses and holds.  And the\n"
	       "dead-letter set: tasks that ended failed or timed out, to list, queue again\n"
	       "or remove.  limit, pause and resume print the type's flow control; show that\n"
	       "of every type that has any.\n\n"
	       "  --concurrency N|off     limit: at most N tasks of TYPE run across the cluster\n"
	       "  --per-key N|off         limit: at most N run per route key (ac-submit --key)\n"
	       "  --rate RATE|off         limit: at most RATE claims, N/s, N/m or N/h (0.5/s)\n"
	       "  --key-rate RATE|off     limit: the same per route key\n"
	       "  --burst N               limit: claims a rate allows at once (default 1)\n"
	       "  --fair                  limit: claims take turns across route keys\n"
	       "  --no-fair               limit: claims in priority and age order (the default)\n"
	       "  --clear                 limit: drop every limit (a pause stays)\n"
	       "  --reason TEXT           pause: why (shown by show)\n"
	       "  --for DURATION          pause: a hold that ends by itself after DURATION\n"
	       "  --key KEY               pause: hold only route key KEY; resume: lift only it\n"
	       "  --type T                failed, requeue: only tasks of type T\n"
	       "  --since DURATION        failed, requeue: only tasks that ended within DURATION\n"
	       "  --status S              failed, requeue: only tasks that ended S (failed,\n"
	       "                          timeout, cancelled, expired; repeatable; default\n"
	       "                          failed and timeout); prune: only tasks that ended S\n"
	       "  --limit N               failed: at most N tasks, newest first (default 100,\n"
	       "                          0 = all)\n"
	       "  --all                   requeue: every task that ended failed or timeout\n"
	       "  --older-than DURATION   prune: remove tasks that ended more than DURATION ago\n"
	       "  --json                  JSON output (the default when stdout is not a terminal)\n"
	       "  --table                 aligned table (the default on a terminal)\n"
	       "  --store URL             the store (default $AC_STORE, else $AC_HOME/ac.db;\n"
	       "                          limit and pause create a missing one)\n"
	       "  -h, --help              show this help\n"
	       "      --version           show the version\n\n"
	       "DURATION: a number with an optional suffix ms, s (default), m, h or d.\n\n"
	       "Exit status: 0 ok, 1 the store refused the operation (nothing changed), 2 usage\n"
	       "(nothing changed), 69 store unavailable or without flow control.\n"
	       "See ac-queue(1).\n");
	exit(AC_EXIT_OK);
}

enum sub { SUB_LIMIT, SUB_PAUSE, SUB_RESUME, SUB_SHOW, SUB_FAILED,
	   SUB_REQUEUE, SUB_PRUNE, SUB_COUNT };

static const char *const sub_names[SUB_COUNT] = {
	"limit", "pause", "resume", "show", "failed", "requeue", "prune"
};

#define S(x) (1u << (x))
#define ALL_SUBS (S(SUB_COUNT) - 1)

enum { OPT_CONCURRENCY = 256, OPT_PER_KEY, OPT_RATE, OPT_KEY_RATE, OPT_BURST,
       OPT_FAIR, OPT_NO_FAIR, OPT_CLEAR, OPT_REASON, OPT_FOR, OPT_KEY,
       OPT_TYPE, OPT_SINCE, OPT_STATUS, OPT_LIMIT, OPT_ALL, OPT_OLDER_THAN,
       OPT_JSON, OPT_TABLE, OPT_STORE, OPT_VERSION, OPT_END };

/* Which subcommands take each option. */
#define O(opt) ((opt) - OPT_CONCURRENCY)
static const unsigned opt_subs[O(OPT_END)] = {
	[O(OPT_CONCURRENCY)] = S(SUB_LIMIT),
	[O(OPT_PER_KEY)] = S(SUB_LIMIT),
	[O(OPT_RATE)] = S(SUB_LIMIT),
	[O(OPT_KEY_RATE)] = S(SUB_LIMIT),
	[O(OPT_BURST)] = S(SUB_LIMIT),
	[O(OPT_FAIR)] = S(SUB_LIMIT),
	[O(OPT_NO_FAIR)] = S(SUB_LIMIT),
	[O(OPT_CLEAR)] = S(SUB_LIMIT),
	[O(OPT_REASON)] = S(SUB_PAUSE),
	[O(OPT_FOR)] = S(SUB_PAUSE),
	[O(OPT_KEY)] = S(SUB_PAUSE) | S(SUB_RESUME),
	[O(OPT_TYPE)] = S(SUB_FAILED) | S(SUB_REQUEUE),
	[O(OPT_SINCE)] = S(SUB_FAILED) | S(SUB_REQUEUE),
	[O(OPT_STATUS)] = S(SUB_FAILED) | S(SUB_REQUEUE) | S(SUB_PRUNE),
	[O(OPT_LIMIT)] = S(SUB_FAILED),
	[O(OPT_ALL)] = S(SUB_REQUEUE),
	[O(OPT_OLDER_THAN)] = S(SUB_PRUNE),
	[O(OPT_JSON)] = ALL_SUBS,
	[O(OPT_TABLE)] = ALL_SUBS,
	[O(OPT_STORE)] = ALL_SUBS,
	[O(OPT_VERSION)] = ALL_SUBS,
};

static const struct option longopts[] = {
	{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
	{ "per-key", required_argument, NULL, OPT_PER_KEY },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "key-rate", required_argument, NULL, OPT_KEY_RATE },
	{ "burst", required_argument, NULL, OPT_BURST },
	{ "fair", no_argument, NULL, OPT_FAIR },
	{ "no-fair", no_argument, NULL, OPT_NO_FAIR },
	{ "clear", no_argument, NULL, OPT_CLEAR },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "for", required_argument, NULL, OPT_FOR },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "older-than", required_argument, NULL, OPT_OLDER_THAN },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "table", no_argument, NULL, OPT_TABLE },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* A key hold without --for lasts until resumed: a hundred years. */
#define HOLD_FOREVER_MS (100LL * 36525 * 864000)

/* Everything the command line asked for. */
struct args {
	enum sub sub;
	const char *type;               /* limit, pause, resume, show */
	struct ac_queue_change change;
	struct ac_ended_filter filter;  /* failed, requeue */
	int64_t *ids;                   /* requeue */
	size_t nids;
	int all;
	int filtered;                   /* --type, --since or --status given */
	int64_t older_than_ms;          /* prune; -1 = not given */
	int has_status;                 /* prune */
	enum ac_task_status status;
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

/* N, or "off" (0), for --concurrency and --per-key. */
static long cap_value(const char *name, const char *value)
{
	long long v;

	if (!strcmp(value, "off"))
		return 0;
	if (ac_parse_int(value, 1, 1000000, &v) < 0)
		ac_cli_usage_error(synopsis, "--%s wants a number from 1 to 1000000 or 'off', not '%s'",
				   name, value);
	return (long)v;
}

static double rate_value(const char *name, const char *value)
{
	double r;

	if (ac_flow_parse_rate(value, &r) < 0)
		ac_cli_usage_error(synopsis, "--%s wants N/s, N/m or N/h (N > 0) or 'off', not '%s'",
				   name, value);
	return r;
}

static int64_t duration_value(const char *name, const char *value, int zero)
{
	int64_t ms;

	if (ac_parse_duration_ms(value, &ms) < 0 || (!zero && ms <= 0))
		ac_cli_usage_error(synopsis, "--%s wants a %sduration such as 90s, 10m, 2h or 7d, not '%s'",
				   name, zero ? "" : "positive ", value);
	return ms;
}

static void parse_options(int argc, char **argv, struct args *a)
{
	int c;
	long long v;
	enum ac_task_status st;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c >= OPT_CONCURRENCY && c < OPT_END)
			a->seen[O(c)]++;
		switch (c) {
		case OPT_CONCURRENCY:
			a->change.set |= AC_QUEUE_CONCURRENCY;
			a->change.concurrency = cap_value("concurrency", optarg);
			break;
		case OPT_PER_KEY:
			a->change.set |= AC_QUEUE_PER_KEY;
			a->change.per_key = cap_value("per-key", optarg);
			break;
		case OPT_RATE:
			a->change.set |= AC_QUEUE_RATE;
			a->change.rate = rate_value("rate", optarg);
			break;
		case OPT_KEY_RATE:
			a->change.set |= AC_QUEUE_KEY_RATE;
			a->change.key_rate = rate_value("key-rate", optarg);
			break;
		case OPT_BURST:
			if (ac_parse_int(optarg, 1, 1000000, &v) < 0)
				ac_cli_usage_error(synopsis, "--burst wants a number from 1 to 1000000, not '%s'",
						   optarg);
			a->change.set |= AC_QUEUE_BURST;
			a->change.burst = (double)v;
			break;
		case OPT_FAIR:
		case OPT_NO_FAIR:
			a->change.set |= AC_QUEUE_FAIR;
			a->change.fair = c == OPT_FAIR;
			break;
		case OPT_CLEAR:
			a->change.set |= AC_QUEUE_CLEAR;
			break;
		case OPT_REASON:
			if (strlen(optarg) > 1024)
				ac_cli_usage_error(synopsis, "--reason wants at most 1024 characters");
			a->change.reason = optarg;
			break;
		case OPT_FOR:
			a->change.hold_ms = duration_value("for", optarg, 0);
			break;
		case OPT_KEY:
			if (!*optarg || strlen(optarg) > 1024)
				ac_cli_usage_error(synopsis, "--key wants 1 to 1024 characters");
			a->change.key = optarg;
			break;
		case OPT_TYPE:
			if (!ac_name_valid(optarg))
				ac_cli_usage_error(synopsis, "invalid task type '%s'", optarg);
			a->filter.type = optarg;
			a->filtered = 1;
			break;
		case OPT_SINCE:
			a->filter.since_ms = duration_value("since", optarg, 0);
			a->filtered = 1;
			break;
		case OPT_STATUS:
			if (ac_task_status_parse(optarg, &st) < 0 ||
			    !ac_task_status_final(st))
				ac_cli_usage_error(synopsis, "--status wants a status a task ends in (completed, failed, cancelled, timeout, expired), not '%s'",
						   optarg);
			a->filter.statuses |= 1u << st;
			a->status = st;
			a->has_status = 1;
			a->filtered = 1;
			break;
		case OPT_LIMIT:
			if (ac_parse_int(optarg, 0, 1000000, &v) < 0)
				ac_cli_usage_error(synopsis, "--limit wants a number from 0 to 1000000, not '%s'",
						   optarg);
			a->filter.limit = (long)v;
			break;
		case OPT_ALL:
			a->all = 1;
			break;
		case OPT_OLDER_THAN:
			a->older_than_ms = duration_value("older-than", optarg, 1);
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
		case 'h':
			usage();
		case OPT_VERSION:
			ac_cli_version();
		default:
			ac_cli_bad_option(synopsis, c, argv[optind - 1]);
		}
	}
}

/* The subcommand and its operands; the options that go with it. */
static void check_args(int argc, char **argv, struct args *a)
{
	const char *word;
	int nargs;
	long long v;

	if (optind >= argc)
		ac_cli_usage_error(synopsis, "no subcommand given (limit, pause, resume, show, failed, requeue or prune)");
	word = argv[optind++];
	for (a->sub = 0; a->sub < SUB_COUNT; a->sub++)
		if (!strcmp(word, sub_names[a->sub]))
			break;
	if (a->sub == SUB_COUNT)
		ac_cli_usage_error(synopsis, "unknown subcommand '%s'", word);
	for (int o = OPT_CONCURRENCY; o < OPT_END; o++)
		if (a->seen[O(o)] &&
		    !(opt_subs[O(o)] & S(a->sub)))
			ac_cli_usage_error(synopsis, "--%s does not go with %s",
					   opt_name(o), word);
	if ((a->sub == SUB_FAILED || a->sub == SUB_REQUEUE) &&
	    (a->filter.statuses & (1u << AC_TASK_COMPLETED)))
		ac_cli_usage_error(synopsis, "%s: --status wants failed, timeout, cancelled or expired, not completed",
				   word);
	nargs = argc - optind;

	switch (a->sub) {
	case SUB_LIMIT:
	case SUB_PAUSE:
	case SUB_RESUME:
	case SUB_SHOW:
		if (nargs == 0 && a->sub != SUB_SHOW)
			ac_cli_usage_error(synopsis, "%s: no TYPE given", word);
		if (nargs > 1)
			ac_cli_usage_error(synopsis, "unexpected argument '%s'",
					   argv[optind + 1]);
		if (nargs == 1) {
			a->type = argv[optind];
			if (!ac_name_valid(a->type))
				ac_cli_usage_error(synopsis, "invalid task type '%s'",
						   a->type);
		}
		break;
	case SUB_FAILED:
		if (nargs > 0)
			ac_cli_usage_error(synopsis, "unexpected argument '%s'",
					   argv[optind]);
		break;
	case SUB_REQUEUE:
		if (nargs > 0 && (a->filtered || a->all))
			ac_cli_usage_error(synopsis, "requeue takes task ids or a filter, not both");
		if (a->all && a->filtered)
			ac_cli_usage_error(synopsis, "--all takes no --type, --since or --status");
		if (nargs == 0 && !a->filtered && !a->all)
			ac_cli_usage_error(synopsis, "requeue: no task ID and no filter given (--all for every failed or timed-out task)");
		a->nids = (size_t)nargs;
		if (nargs > 0 && !(a->ids = calloc(a->nids, sizeof *a->ids)))
			ac_cli_die(AC_EXIT_FAILED, "out of memory");
		for (size_t i = 0; i < a->nids; i++) {
			if (ac_parse_int(argv[optind + (int)i], 1, INT64_MAX, &v) < 0)
				ac_cli_usage_error(synopsis, "'%s' is not a task id",
						   argv[optind + (int)i]);
			a->ids[i] = v;
		}
		a->filter.limit = 0;
		break;
	case SUB_PRUNE:
		if (nargs > 0)
			ac_cli_usage_error(synopsis, "unexpected argument '%s'",
					   argv[optind]);
		if (a->older_than_ms < 0)
			ac_cli_usage_error(synopsis, "prune wants --older-than DURATION");
		if (a->seen[O(OPT_STATUS)] > 1)
			ac_cli_usage_error(synopsis, "prune takes one --status");
		break;
	default:
		break;
	}

	if (a->sub == SUB_LIMIT) {
		if (a->seen[O(OPT_FAIR)] &&
		    a->seen[O(OPT_NO_FAIR)])
			ac_cli_usage_error(synopsis, "choose one of --fair and --no-fair");
		if ((a->change.set & AC_QUEUE_CLEAR) &&
		    a->change.set != AC_QUEUE_CLEAR)
			ac_cli_usage_error(synopsis, "--clear takes no other limit");
	} else if (a->sub == SUB_PAUSE) {
		/* A pause, or a hold: of the type for a while, or of one key
		 * (until resumed, unless --for says how long). */
		if (a->change.key || a->change.hold_ms) {
			a->change.set = AC_QUEUE_HOLD;
			if (!a->change.hold_ms)
				a->change.hold_ms = HOLD_FOREVER_MS;
		} else {
			a->change.set = AC_QUEUE_PAUSE;
		}
	} else if (a->sub == SUB_RESUME) {
		a->change.set = AC_QUEUE_RESUME;
	}
}

/* The store's operation, or the error of a backend that has none. */
static void need_op(int have, const char *name)
{
	if (!have)
		ac_cli_die(AC_EXIT_UNAVAILABLE, "this store does not support %s", name);
}
#define NEED(store, op) need_op((store)->ops->op != NULL, #op)

/* Queued and running tasks of each flow control object's type. */
static int add_depths(struct ac_store *store, json_t *flows,
		      struct ac_error *err)
{
	json_t *depth, *f, *d;
	size_t i, j;

	if (store->ops->queue_depth(store, &depth, err) < 0)
		return -1;
	json_array_foreach(flows, i, f) {
		const char *type = json_string_value(json_object_get(f, "type"));
		json_int_t queued = 0, running = 0;

		json_array_foreach(depth, j, d) {
			const char *t = json_string_value(json_object_get(d, "type"));

			if (!type || !t || strcmp(type, t))
				continue;
			queued += json_integer_value(json_object_get(d, "queued"));
			running += json_integer_value(json_object_get(d, "running"));
		}
		if (json_object_set_new(f, "queued", json_integer(queued)) < 0 ||
		    json_object_set_new(f, "running", json_integer(running)) < 0) {
			json_decref(depth);
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
	}
	json_decref(depth);
	return 0;
}

/* The flow control of every type that has any, or of type alone (as an
 * array of one: the defaults when it has none), with depths. */
static json_t *flows(struct ac_store *store, const char *type)
{
	struct ac_error err;
	json_t *out;

	NEED(store, queues_list);
	if (store->ops->queues_list(store, type, &out, &err) < 0)
		ac_cli_die_error(&err);
	if (type && json_array_size(out) == 0) {
		struct ac_flow none = { .type = (char *)type, .burst = 1 };
		json_t *o = ac_queue_row_json(&none, NULL, 0, 0);

		if (!o || json_array_append_new(out, o) < 0)
			ac_cli_die(AC_EXIT_FAILED, "out of memory");
	}
	if (add_depths(store, out, &err) < 0)
		ac_cli_die_error(&err);
	return out;
}

/* The worker event of a pause, hold or resume (NULL: out of memory). */
static json_t *flow_event(const struct args *a)
{
	json_t *ev;

	if (a->sub == SUB_RESUME)
		ev = json_pack("{s:s,s:s}", "event", "queue.resumed", "type",
			       a->type);
	else
		ev = json_pack("{s:s,s:s,s:s?}", "event", "queue.paused", "type",
			       a->type, "reason", a->change.reason);
	if (ev && a->change.key &&
	    json_object_set_new(ev, "key", json_string(a->change.key)) < 0) {
		json_decref(ev);
		return NULL;
	}
	if (ev && a->sub == SUB_PAUSE && a->change.hold_ms &&
	    a->change.hold_ms != HOLD_FOREVER_MS) {
		char when[40];

		ac_format_time(ac_now_ms() + a->change.hold_ms, when, sizeof when);
		if (json_object_set_new(ev, "until", json_string(when)) < 0) {
			json_decref(ev);
			return NULL;
		}
	}
	return ev;
}

/* limit, pause, resume: change (when asked), tell the workers, and the
 * type's flow control as it is now. */
static json_t *set_flow(struct ac_store *store, const struct args *a)
{
	struct ac_error err;
	json_t *out, *one;

	if (a->change.set) {
		NEED(store, queue_set);
		NEED(store, queues_list);
		if (store->ops->queue_set(store, a->type, &a->change, &err) < 0)
			ac_cli_die_error(&err);
	}
	if (a->sub != SUB_LIMIT) {
		json_t *ev = flow_event(a);
		char *token = NULL;

		if (ev && ac_ctl_token(NULL, &token, &err) == 0)
			ac_submit_announce(store, a->type, ev, token);
		free(token);
		json_decref(ev);
	}
	out = flows(store, a->type);
	one = json_incref(json_array_get(out, 0));
	json_decref(out);
	return one;
}

/* Wake the workers of the requeued tasks' types, each with its own ids
 * (announced as task.queued).  Best effort. */
#define POKE_LOOKUPS 1000
static void poke_requeued(struct ac_store *store, const struct args *a,
			  const int64_t *ids, size_t n)
{
	struct ac_error err;
	json_t *by_type = json_object(), *list, *depth, *d;
	const char *type;
	char *token = NULL;
	size_t i;

	if (!n || !by_type || ac_ctl_token(NULL, &token, &err) < 0) {
		json_decref(by_type);
		return;
	}
	/* The type of each id: known from --type, else looked up (for the
	 * first POKE_LOOKUPS; the types of the rest are those with queued
	 * tasks). */
	for (i = 0; i < n && (a->filter.type || i < POKE_LOOKUPS); i++) {
		json_t *task = NULL;

		type = a->filter.type;
		if (!type) {
			if (store->ops->task_get(store, ids[i], &task, &err) < 0)
				continue;
			type = json_string_value(json_object_get(task, "type"));
		}
		list = type ? json_object_get(by_type, type) : NULL;
		if (type && !list && json_object_set_new(by_type, type,
							 list = json_array()) < 0)
			list = NULL;
		if (list)
			json_array_append_new(list, json_integer(ids[i]));
		json_decref(task);
	}
	if (i < n && store->ops->queue_depth(store, &depth, &err) == 0) {
		json_array_foreach(depth, i, d) {
			type = json_string_value(json_object_get(d, "type"));
			if (type && json_integer_value(json_object_get(d, "queued")) > 0 &&
			    !json_object_get(by_type, type))
				json_object_set_new(by_type, type, json_array());
		}
		json_decref(depth);
	}
	json_object_foreach(by_type, type, list) {
		size_t m = json_array_size(list);
		int64_t *these = m ? calloc(m, sizeof *these) : NULL;

		if (m && !these)
			continue;
		for (size_t j = 0; j < m; j++)
			these[j] = json_integer_value(json_array_get(list, j));
		ac_submit_poke(store, type, NULL, these, m, token);
		free(these);
	}
	free(token);
	json_decref(by_type);
}

static json_t *requeue(struct ac_store *store, const struct args *a)
{
	struct ac_error err;
	int64_t *ids = NULL;
	size_t n = 0;
	json_t *list = json_array(), *out;

	NEED(store, requeue);
	if (!list)
		ac_cli_die(AC_EXIT_FAILED, "out of memory");
	if (store->ops->requeue(store, a->ids, a->nids, &a->filter, &ids, &n,
				&err) < 0)
		ac_cli_die_error(&err);
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(list, json_integer(ids[i])) < 0)
			ac_cli_die(AC_EXIT_FAILED, "out of memory");
	poke_requeued(store, a, ids, n);
	free(ids);
	out = json_pack("{s:I,s:o}", "requeued", (json_int_t)n, "ids", list);
	if (!out)
		ac_cli_die(AC_EXIT_FAILED, "out of memory");
	return out;
}

int main(int argc, char **argv)
{
	static const char *const flow_cols[] = {
		"type", "paused", "reason", "held_until", "concurrency",
		"per_key", "rate", "key_rate", "burst", "fair", "keys_held",
		"queued", "running", NULL };
	static const char *const task_cols[] = {
		"id", "type", "status", "attempt", "worker", "finished", "error",
		NULL };
	struct args a = { .older_than_ms = -1, .filter.limit = 100 };
	struct ac_store *store;
	struct ac_error err;
	json_t *out = NULL;
	char *url;
	size_t removed;
	int rc, create;

	ac_cli_init(argv[0]);
	a.table = ac_cli_isatty(STDOUT_FILENO);
	parse_options(argc, argv, &a);
	check_args(argc, argv, &a);

	/* Limits and pauses may come before any worker or task: they
	 * create the store, as ac-worker and ac-submit do; the rest only
	 * read or change what is there. */
	create = a.sub == SUB_LIMIT || a.sub == SUB_PAUSE;
	url = ac_config_store_url(a.store_opt, create, &err);
	if (!url || ac_store_open(url, create, &store, &err) < 0)
		ac_cli_die_error(&err);
	switch (a.sub) {
	case SUB_LIMIT:
	case SUB_PAUSE:
	case SUB_RESUME:
		out = set_flow(store, &a);
		break;
	case SUB_SHOW:
		out = flows(store, a.type);
		break;
	case SUB_FAILED:
		NEED(store, tasks_ended);
		if (store->ops->tasks_ended(store, &a.filter, &out, &err) < 0)
			ac_cli_die_error(&err);
		break;
	case SUB_REQUEUE:
		out = requeue(store, &a);
		break;
	default:
		NEED(store, prune);
		if (store->ops->prune(store, a.older_than_ms, a.has_status,
				      a.status, 0, &removed, &err) < 0)
			ac_cli_die_error(&err);
		out = json_pack("{s:I}", "pruned", (json_int_t)removed);
		break;
	}
	if (!out)
		ac_cli_die(AC_EXIT_FAILED, "out of memory");
	if (!a.table)
		rc = ac_render_json(stdout, out);
	else if (json_is_array(out))
		rc = ac_render_table(stdout, out, a.sub == SUB_FAILED ?
				     task_cols : flow_cols);
	else
		rc = ac_render_record(stdout, out);
	if (rc < 0 || fflush(stdout) != 0)
		ac_cli_die(AC_EXIT_FAILED, "cannot write the output: %s",
			   strerror(errno));
	json_decref(out);
	ac_store_close(store);
	free(url);
	free(a.ids);
	return AC_EXIT_OK;
}
