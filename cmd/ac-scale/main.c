/* ac-scale: keep N local workers of a pool running (becoming the pool's
 * supervisor when none runs, else telling it), or say how many workers the
 * queue asks for. */
#include "cli.h"
#include "config.h"
#include "exitcode.h"
#include "log.h"
#include "pool.h"
#include "poolctl.h"
#include "render.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char synopsis[] =
	"ac-scale [--pool NAME] (N | --auto --min A --max B [--up Q] [--down Q] "
	"[--cooldown SEC]) [--daemon] [--store URL] [-- WORKER-ARGS...] | "
	"ac-scale [--pool NAME] [--status] [--json | --table] | "
	"ac-scale [--pool NAME] --recommend [--min A] [--max B] [--per-worker K]";

_Noreturn static void usage(void)
{
	printf("usage: ac-scale [--pool NAME] N [--daemon] [--store URL] [-- WORKER-ARGS...]\n"
	       "       ac-scale [--pool NAME] --auto --min A --max B [--up Q] [--down Q]\n"
	       "                [--cooldown SEC] [--daemon] [--store URL] [-- WORKER-ARGS...]\n"
	       "       ac-scale [--pool NAME] [--status] [--json | --table]\n"
	       "       ac-scale [--pool NAME] --recommend [--min A] [--max B] [--per-worker K]\n"
	       "                [--store URL]\n\n"
	       "Keep N local workers of a pool running: ac-worker processes with the ids\n"
	       "NAME-1 ... NAME-N and WORKER-ARGS.  When no supervisor of the pool\n"
	       "runs, ac-scale becomes it; when one runs, ac-scale tells it the new N and\n"
	       "prints the pool's state.  Shrinking drains workers, never kills a task.\n\n"
	       "  --pool NAME             the pool (default 'default'; letters, digits, -_.)\n"
	       "  N                       keep N workers (0 to 1024)\n"
	       "  --daemon                detach; log to $AC_HOME/log/pool-NAME.log\n"
	       "  --auto                  follow the queue between --min and --max workers\n"
	       "  --min A                 fewest workers (--auto), lowest answer (--recommend)\n"
	       "  --max B                 most workers (--auto), highest answer (--recommend)\n"
	       "  --up Q                  grow when queued tasks per worker exceed Q (default 4)\n"
	       "  --down Q                shrink when they fall below Q and the queue does not\n"
	       "                          grow (default 1)\n"
	       "  --cooldown SEC          no change sooner than SEC after one (default 10)\n"
	       "  --status                print the pool's state (also: no N and no --auto)\n"
	       "  --recommend             print the worker count the queue asks for: queued and\n"
	       "                          running tasks of the pool's types over --per-worker\n"
	       "  --per-worker K          tasks one worker runs at once: its concurrency\n"
	       "                          (default 1)\n"
	       "  --json                  JSON output (the default when stdout is not a terminal)\n"
	       "  --table                 aligned table (the default on a terminal)\n"
	       "  --store URL             the store (default $AC_STORE, else $AC_HOME/ac.db);\n"
	       "                          passed on to the workers\n"
	       "  -h, --help              show this help\n"
	       "      --version           show the version\n\n"
	       "SIGTERM or SIGINT to the supervisor drains every worker, then it exits 0;\n"
	       "a second signal stops the workers at once.\n\n"
	       "Exit status: 0 ok, 1 failed, 2 usage (nothing changed), 69 store\n"
	       "or supervisor unavailable (--status when no supervisor runs).\n"
	       "See ac-scale(1).\n");
	exit(AC_EXIT_OK);
}

enum { OPT_POOL = 256, OPT_DAEMON, OPT_STATUS, OPT_AUTO, OPT_MIN, OPT_MAX,
       OPT_UP, OPT_DOWN, OPT_COOLDOWN, OPT_RECOMMEND, OPT_PER_WORKER,
       OPT_JSON, OPT_TABLE, OPT_STORE, OPT_VERSION };

/* How long a request to a running supervisor may take. */
#define CALL_TIMEOUT_MS 10000
/* How long to wait for a supervisor that holds the lock but does not
 * listen yet (it is starting), and for a daemon to come up. */
#define STARTING_WAIT_MS 10000
#define DAEMON_WAIT_MS 60000

struct options {
	const char *pool;
	const char *store;
	int target;                 /* -1: none given */
	int daemon, status, autoscale, recommend, table;
	struct ac_pool_auto autos;
	int min_set, max_set, tuned;
	long long per_worker;
	int per_worker_set;
	char **worker_args;
	size_t nworker_args;
	int has_worker_args;        /* "--" was given */
};

static double parse_rate(const char *name, const char *value)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (errno || end == value || *end || !isfinite(v) || v < 0)
		ac_cli_usage_error(synopsis, "%s wants a number of tasks per worker (0 or more), not '%s'",
				   name, value);
	return v;
}

static int parse_count(const char *name, const char *value)
{
	long long v;

	if (ac_parse_int(value, 0, AC_POOL_MAX_WORKERS, &v) < 0)
		ac_cli_usage_error(synopsis, "%s wants a number of workers from 0 to %d, not '%s'",
				   name, AC_POOL_MAX_WORKERS, value);
	return (int)v;
}

static void parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "pool", required_argument, NULL, OPT_POOL },
		{ "daemon", no_argument, NULL, OPT_DAEMON },
		{ "status", no_argument, NULL, OPT_STATUS },
		{ "auto", no_argument, NULL, OPT_AUTO },
		{ "min", required_argument, NULL, OPT_MIN },
		{ "max", required_argument, NULL, OPT_MAX },
		{ "up", required_argument, NULL, OPT_UP },
		{ "down", required_argument, NULL, OPT_DOWN },
		{ "cooldown", required_argument, NULL, OPT_COOLDOWN },
		{ "recommend", no_argument, NULL, OPT_RECOMMEND },
		{ "per-worker", required_argument, NULL, OPT_PER_WORKER },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "table", no_argument, NULL, OPT_TABLE },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c, nargs = argc;

	/* WORKER-ARGS are ac-worker's, after the first "--": cut them off
	 * before getopt, which would otherwise move N past them. */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			o->worker_args = argv + i + 1;
			o->nworker_args = (size_t)(argc - i - 1);
			o->has_worker_args = 1;
			nargs = i;
			break;
		}
	opterr = 0;
	while ((c = getopt_long(nargs, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_POOL:
			if (!ac_pool_name_valid(optarg))
				ac_cli_usage_error(synopsis, "invalid pool name '%s' (use up to %d letters, digits and -_.)",
						   optarg, AC_POOL_NAME_MAX);
			o->pool = optarg;
			break;
		case OPT_DAEMON:
			o->daemon = 1;
			break;
		case OPT_STATUS:
			o->status = 1;
			break;
		case OPT_AUTO:
			o->autoscale = 1;
			break;
		case OPT_MIN:
			o->autos.min = parse_count("--min", optarg);
			o->min_set = 1;
			break;
		case OPT_MAX:
			o->autos.max = parse_count("--max", optarg);
			o->max_set = 1;
			break;
		case OPT_UP:
			o->autos.up = parse_rate("--up", optarg);
			o->tuned = 1;
			break;
		case OPT_DOWN:
			o->autos.down = parse_rate("--down", optarg);
			o->tuned = 1;
			break;
		case OPT_COOLDOWN:
			if (ac_parse_duration_ms(optarg, &o->autos.cooldown_ms) < 0)
				ac_cli_usage_error(synopsis, "--cooldown wants a number of seconds (0 or more), not '%s'",
						   optarg);
			o->tuned = 1;
			break;
		case OPT_RECOMMEND:
			o->recommend = 1;
			break;
		case OPT_PER_WORKER:
			if (ac_parse_int(optarg, 1, 1000000, &o->per_worker) < 0)
				ac_cli_usage_error(synopsis, "--per-worker wants a number from 1 to 1000000, not '%s'",
						   optarg);
			o->per_worker_set = 1;
			break;
		case OPT_JSON:
			o->table = 0;
			break;
		case OPT_TABLE:
			o->table = 1;
			break;
		case OPT_STORE:
			o->store = optarg;
			break;
		case 'h':
			usage();
		case OPT_VERSION:
			ac_cli_version();
		default:
			/* getopt reads "-1" as an option; it is a bad N. */
			if (c == '?' && optopt >= '0' && optopt <= '9')
				ac_cli_usage_error(synopsis, "N wants a number of workers from 0 to %d, not a negative number",
						   AC_POOL_MAX_WORKERS);
			ac_cli_bad_option(synopsis, c, argv[optind - 1]);
		}
	}
	if (optind < nargs) {
		o->target = parse_count("N", argv[optind]);
		if (optind + 1 < nargs)
			ac_cli_usage_error(synopsis, "unexpected argument '%s'",
					   argv[optind + 1]);
	}
}

/* Options that go together, and nothing else. */
static void check(struct options *o)
{
	int change = o->target >= 0 || o->autoscale;

	if (o->recommend) {
		if (change || o->status || o->daemon || o->tuned ||
		    o->has_worker_args)
			ac_cli_usage_error(synopsis, "--recommend takes only --pool, --min, --max, --per-worker and --store");
		if (o->min_set && o->max_set && o->autos.min > o->autos.max)
			ac_cli_usage_error(synopsis, "--min %d is above --max %d",
					   o->autos.min, o->autos.max);
		return;
	}
	if (o->per_worker_set)
		ac_cli_usage_error(synopsis, "--per-worker goes with --recommend");
	if (o->status && change)
		ac_cli_usage_error(synopsis, "--status takes no N and no --auto");
	if (o->target >= 0 && o->autoscale)
		ac_cli_usage_error(synopsis, "give N or --auto, not both");
	if (!change) {
		if (o->daemon || o->has_worker_args)
			ac_cli_usage_error(synopsis, "--daemon and WORKER-ARGS go with N or --auto");
		if (o->min_set || o->max_set || o->tuned)
			ac_cli_usage_error(synopsis, "--min, --max, --up, --down and --cooldown go with --auto");
		o->status = 1;
		return;
	}
	if (!o->autoscale && (o->min_set || o->max_set || o->tuned))
		ac_cli_usage_error(synopsis, "--min, --max, --up, --down and --cooldown go with --auto");
	if (o->autoscale) {
		struct ac_error err;

		if (!o->min_set || !o->max_set)
			ac_cli_usage_error(synopsis, "--auto needs --min and --max");
		if (ac_pool_auto_check(&o->autos, &err) < 0)
			ac_cli_usage_error(synopsis, "%s", err.msg);
	}
	for (size_t i = 0; i < o->nworker_args; i++) {
		const char *a = o->worker_args[i];

		if (!strcmp(a, "--id") || !strncmp(a, "--id=", 5))
			ac_cli_usage_error(synopsis, "WORKER-ARGS must not give --id: the workers are named %s-1 ... %s-N",
					   o->pool, o->pool);
		if (!strcmp(a, "--listen") || !strncmp(a, "--listen=", 9))
			ac_cli_usage_error(synopsis, "WORKER-ARGS must not give --listen: every worker needs a socket of its own");
	}
}

static void print_state(json_t *state, int table)
{
	static const char *const cols[] = { "id", "pid", "status", "restarts",
					    NULL };
	json_t *autos = json_object_get(state, "auto");
	int rc;

	if (!table) {
		rc = ac_render_json(stdout, state);
	} else {
		json_t *backlog = json_object_get(autos, "backlog");
		const char *pool = json_string_value(json_object_get(state, "pool"));

		printf("pool %s: %lld worker(s)", pool ? pool : "?",
		       (long long)json_integer_value(json_object_get(state, "target")));
		if (json_is_object(autos)) {
			printf(", auto %lld..%lld",
			       (long long)json_integer_value(json_object_get(autos, "min")),
			       (long long)json_integer_value(json_object_get(autos, "max")));
			if (json_is_integer(backlog))
				printf(" (%lld queued)",
				       (long long)json_integer_value(backlog));
		}
		printf(", supervisor pid %lld\n",
		       (long long)json_integer_value(json_object_get(state, "supervisor_pid")));
		rc = ac_render_table(stdout, json_object_get(state, "workers"),
				     cols);
	}
	if (rc < 0 || fflush(stdout) != 0)
		ac_cli_die(AC_EXIT_FAILED, "cannot write the output: %s",
			   strerror(errno));
}

/* Ask the pool's supervisor, print its state, and exit. */
_Noreturn static void call_and_print(const struct ac_pool_paths *paths,
				     json_t *req, int table)
{
	struct ac_error err;
	json_t *reply;

	if (ac_pool_call(paths, req, CALL_TIMEOUT_MS, &reply, &err) < 0)
		ac_cli_die_error(&err);
	print_state(json_object_get(reply, "state"), table);
	json_decref(reply);
	json_decref(req);
	exit(AC_EXIT_OK);
}

_Noreturn static void recommend(const struct options *o)
{
	struct ac_store *store;
	struct ac_error err;
	long long queued, running;
	json_t *types;
	char *url;

	url = ac_config_store_url(o->store, 0, &err);
	if (!url || ac_store_open(url, 0, &store, &err) < 0 ||
	    ac_pool_types(store, o->pool, &types, &err) < 0)
		ac_cli_die_error(&err);
	if (ac_pool_demand(store, types, &queued, &running, &err) < 0)
		ac_cli_die_error(&err);
	printf("%lld\n", ac_pool_recommend(queued + running,
					   o->per_worker_set ? o->per_worker : 1,
					   o->min_set ? o->autos.min : 0,
					   o->max_set ? o->autos.max : -1));
	if (fflush(stdout) != 0)
		ac_cli_die(AC_EXIT_FAILED, "cannot write the output: %s",
			   strerror(errno));
	json_decref(types);
	ac_store_close(store);
	free(url);
	exit(AC_EXIT_OK);
}

/* The request that tells a supervisor what ac-scale was asked. */
static json_t *change_request(const struct options *o)
{
	json_t *req, *args = NULL;

	if (o->autoscale)
		req = json_pack("{s:s,s:i,s:i,s:f,s:f,s:I}", "op", "auto",
				"min", o->autos.min, "max", o->autos.max,
				"up", o->autos.up, "down", o->autos.down,
				"cooldown_ms", (json_int_t)o->autos.cooldown_ms);
	else
		req = json_pack("{s:s,s:i}", "op", "scale", "target", o->target);
	if (req && o->has_worker_args) {
		args = json_array();
		for (size_t i = 0; args && i < o->nworker_args; i++)
			if (json_array_append_new(args, json_string(o->worker_args[i])) < 0) {
				json_decref(args);
				args = NULL;
			}
		if (!args || json_object_set_new(req, "args", args) < 0) {
			json_decref(req);
			req = NULL;
		}
	}
	if (!req)
		ac_cli_die(AC_EXIT_FAILED, "out of memory");
	return req;
}

/* Another process holds the lock: a supervisor that is starting.  Wait
 * for its socket. */
static int wait_for_supervisor(const struct ac_pool_paths *paths)
{
	struct timespec tick = { 0, 100 * 1000000L };
	int64_t deadline = ac_mono_ms() + STARTING_WAIT_MS;

	while (ac_mono_ms() < deadline) {
		if (ac_pool_probe(paths))
			return 0;
		nanosleep(&tick, NULL);
	}
	return -1;
}

/* Tell the running supervisor: print its state, or, in a daemon, give
 * the word to the process that waits for it (which prints the state). */
_Noreturn static void tell(const struct ac_pool_paths *paths, json_t *req,
			   int table, int ready_fd)
{
	struct ac_error err;
	json_t *reply;

	if (ready_fd < 0)
		call_and_print(paths, req, table);
	if (ac_pool_call(paths, req, CALL_TIMEOUT_MS, &reply, &err) < 0) {
		ac_pool_report_ready(ready_fd, &err);
		exit(err.exit_code);
	}
	json_decref(reply);
	json_decref(req);
	ac_pool_report_ready(ready_fd, NULL);
	exit(AC_EXIT_OK);
}

/* In a daemon, errors go to the waiting process as well as to the log. */
_Noreturn static void fail(const struct ac_error *err, int ready_fd)
{
	ac_pool_report_ready(ready_fd, err);
	ac_cli_die_error(err);
}

/* Become the pool's supervisor (in the foreground or as a daemon), or
 * tell the one that runs. */
_Noreturn static void scale(const struct options *o,
			    const struct ac_pool_paths *paths)
{
	struct ac_pool_config cfg = {
		.paths = paths,
		.store_option = o->store,
		.worker_args = (const char *const *)o->worker_args,
		.nworker_args = o->nworker_args,
		.target = o->target,
		.autoscale = o->autoscale,
		.autos = o->autos,
		.ready_fd = -1,
	};
	json_t *req = change_request(o);
	struct ac_error err;
	char *worker, *url;
	int rc;

	/* Detached first: nng, once used, cannot be used again in a child
	 * of the process that used it, and the daemon needs it. */
	if (o->daemon) {
		rc = ac_pool_detach(paths, &cfg.ready_fd, &err);
		if (rc < 0)
			ac_cli_die_error(&err);
		if (rc == 1) {
			if (ac_pool_await_ready(cfg.ready_fd, DAEMON_WAIT_MS,
						paths->log_path, &err) < 0)
				ac_cli_die_error(&err);
			json_decref(req);
			req = json_pack("{s:s}", "op", "status");
			if (!req)
				ac_cli_die(AC_EXIT_FAILED, "out of memory");
			call_and_print(paths, req, o->table);
		}
	}
	if (ac_pool_probe(paths))
		tell(paths, req, o->table, cfg.ready_fd);
	/* ac-worker wants at least its handlers: without arguments every
	 * worker would exit at once, for ever. */
	if (!o->nworker_args) {
		ac_error_set(&err, AC_EXIT_USAGE,
			     "no supervisor of pool '%s' runs, and starting one needs WORKER-ARGS (e.g. -- --handlers DIR)",
			     paths->name);
		fail(&err, cfg.ready_fd);
	}
	worker = ac_pool_find_worker(&err);
	url = worker ? ac_config_store_url(o->store, 1, &err) : NULL;
	if (!url)
		fail(&err, cfg.ready_fd);
	rc = ac_pool_lock(paths, &cfg.lock_fd, &err);
	if (rc < 0)
		fail(&err, cfg.ready_fd);
	if (rc == 1) {
		if (wait_for_supervisor(paths) < 0) {
			ac_error_set(&err, AC_EXIT_UNAVAILABLE,
				     "the supervisor of pool '%s' holds '%s' but does not answer",
				     paths->name, paths->pid_path);
			fail(&err, cfg.ready_fd);
		}
		tell(paths, req, o->table, cfg.ready_fd);
	}
	json_decref(req);
	cfg.worker_path = worker;
	cfg.store_url = url;
	ac_log_init(ac_prog, AC_LOG_INFO);
	/* On failure the supervisor has given the word itself. */
	if (ac_pool_supervise(&cfg, &err) < 0)
		ac_cli_die_error(&err);
	free(worker);
	free(url);
	exit(AC_EXIT_OK);
}

int main(int argc, char **argv)
{
	struct options o = {
		.pool = "default",
		.target = -1,
		.table = ac_cli_isatty(STDOUT_FILENO),
		.autos = { .up = 4, .down = 1, .cooldown_ms = 10000 },
	};
	struct ac_pool_paths paths;
	struct ac_error err;
	char *home;

	ac_cli_init(argv[0]);
	parse(argc, argv, &o);
	check(&o);
	if (o.recommend)
		recommend(&o);
	home = ac_config_home(&err);
	if (!home || ac_pool_paths_init(&paths, home, o.pool, &err) < 0)
		ac_cli_die_error(&err);
	free(home);
	if (o.status) {
		json_t *req = json_pack("{s:s}", "op", "status");

		if (!req)
			ac_cli_die(AC_EXIT_FAILED, "out of memory");
		call_and_print(&paths, req, o.table);
	}
	scale(&o, &paths);
}
