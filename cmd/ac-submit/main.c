/* ac-submit: put tasks in the store, wait, print their results. */
#include "batch.h"
#include "cli.h"
#include "config.h"
#include "control.h"
#include "exitcode.h"
#include "store.h"
#include "submit.h"
#include "trace.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char synopsis[] =
	"ac-submit [options] TYPE [FILE] | ac-submit --batch [options] TYPE [FILE] | ac-submit --retry ID";

_Noreturn static void usage(void)
{
	printf("usage: ac-submit [options] TYPE [FILE]\n"
	       "       ac-submit --batch [options] TYPE [FILE]\n"
	       "       ac-submit --retry ID [--async]\n\n"
	       "Submit a task (its data is JSON from FILE or stdin), wait, print its result.\n\n"
	       "  --async                 print the task id and return at once\n"
	       "  --batch                 one task per input line (JSON Lines), one transaction\n"
	       "  --envelope              print {\"id\",\"status\",\"result\",\"error\"} per task\n"
	       "  --priority NAME|INT     low=0, normal=5 (default), high=10, critical=20, or an integer\n"
	       "  --timeout SEC           time limit of each attempt (default none)\n"
	       "  --retries N             retries after a failure (default 0)\n"
	       "  --max-reclaims N        lost attempts (worker died) before it fails (default 3)\n"
	       "  --delay SEC             due SEC from now\n"
	       "  --expires SEC           not started within SEC of now: it ends expired, never run\n"
	       "  --key KEY               route key (e.g. a thread id), kept with the task\n"
	       "  --route STRATEGY        any (default), least-loaded, round-robin or\n"
	       "                          consistent-hash (by --key): a worker chosen now\n"
	       "  --require TAG           only workers offering TAG may run it (repeatable)\n"
	       "  --meta K=V              metadata kept with the task (repeatable)\n"
	       "  --idempotency-key K     a second submit with the same K returns the first task\n"
	       "  --after ID[,ID...]      pending until those tasks have ended (repeatable);\n"
	       "                          '-' reads the ids from stdin (data from FILE then),\n"
	       "                          @FILE from FILE: what --batch --async prints\n"
	       "  --after-policy P        all-ok (default: a parent that did not complete\n"
	       "                          cancels it) or all-done (it runs anyway)\n"
	       "  --then TYPE             with --batch: one more task of TYPE once every task\n"
	       "                          has ended, data {\"batch\",\"completed\",\"failed\"}\n"
	       "  --parent ID             record the task as a sub-task of ID (default\n"
	       "                          $AC_TASK_ID inside a handler)\n"
	       "  --no-parent             not a sub-task, even inside a handler\n"
	       "  --budget K=N[,K=N...]   stop claiming once its handlers have reported this\n"
	       "                          much usage (e.g. tokens=100000,cost=5): a budget of\n"
	       "                          the task's own, or the whole --batch's, or NAME's\n"
	       "  --budget-name NAME      charge the task to budget NAME (see ac-budget(1));\n"
	       "                          with --budget, NAME is made or its limits set\n"
	       "  --traceparent TP        W3C trace context the task joins (default\n"
	       "                          $TRACEPARENT); its handler gets TRACEPARENT\n"
	       "  --retry ID              put failed task ID back in the queue and wait for it\n"
	       "  --wait-timeout SEC      stop waiting after SEC (exit 3; the task stays)\n"
	       "  --store URL             the store (default $AC_STORE, else $AC_HOME/ac.db)\n"
	       "  -q, --quiet             no warnings and no progress bar\n"
	       "  -h, --help              show this help\n"
	       "      --version           show the version\n\n"
	       "Exit status: 0 completed, 1 failed, 2 usage or bad input, 3 timed out,\n"
	       "4 cancelled, 69 store unavailable.  See ac-submit(1).\n");
	exit(AC_EXIT_OK);
}

enum { OPT_ASYNC = 256, OPT_BATCH, OPT_ENVELOPE, OPT_PRIORITY, OPT_TIMEOUT,
       OPT_RETRIES, OPT_DELAY, OPT_KEY, OPT_REQUIRE, OPT_META, OPT_IDEM,
       OPT_RETRY, OPT_WAIT_TIMEOUT, OPT_STORE, OPT_VERSION,
       OPT_MAX_RECLAIMS, OPT_ROUTE, OPT_EXPIRES, OPT_AFTER, OPT_AFTER_POLICY,
       OPT_THEN, OPT_PARENT, OPT_NO_PARENT, OPT_BUDGET, OPT_BUDGET_NAME,
       OPT_TRACEPARENT };

/* The most tasks one task may wait for. */
#define AFTER_MAX 1000000

struct printer {
	int64_t batch_id;      /* shown in the progress bar */
	size_t completed, failed;
	int batch;
	int envelope;
	int quiet;
	int bar;               /* progress bar on stderr */
	int exit_code;         /* of the first task that did not complete */
	size_t bar_drawn;
};

static int status_exit(const char *status)
{
	if (!strcmp(status, "completed"))
		return AC_EXIT_OK;
	if (!strcmp(status, "timeout"))
		return AC_EXIT_TIMEOUT;
	if (!strcmp(status, "cancelled"))
		return AC_EXIT_CANCELLED;
	return AC_EXIT_FAILED;
}

static void clear_bar(struct printer *p)
{
	if (p->bar && p->bar_drawn) {
		fputs("\r\033[K", stderr);
		p->bar_drawn = 0;
	}
}

/* The store keeps results as compact JSON text: printed as they are. */
static void print_ended(void *ctx, size_t index, const struct ac_task_end *end)
{
	struct printer *p = ctx;
	const char *status = ac_task_status_name(end->status);
	int code = status_exit(status);

	(void)index;
	clear_bar(p);
	if (code == AC_EXIT_OK)
		p->completed++;
	else
		p->failed++;
	if (p->envelope) {
		json_t *error = end->error ? json_string(end->error) : json_null();
		char *error_text = error ? json_dumps(error, JSON_COMPACT |
						      JSON_ENCODE_ANY) : NULL;

		printf("{\"id\":%lld,\"status\":\"%s\",\"result\":%s,\"error\":%s}\n",
		       (long long)end->id, status,
		       end->result ? end->result : "null",
		       error_text ? error_text : "null");
		free(error_text);
		json_decref(error);
	} else if (code == AC_EXIT_OK) {
		puts(end->result ? end->result : "null");
	} else if (p->batch) {
		puts("null");
	}
	if (code != AC_EXIT_OK) {
		fprintf(stderr, "%s: task %lld %s%s%s\n", ac_prog,
			(long long)end->id,
			!strcmp(status, "timeout") ? "timed out" : status,
			end->error ? ": " : "", end->error ? end->error : "");
		if (p->exit_code == AC_EXIT_OK)
			p->exit_code = code;
	}
}

static void print_progress(void *ctx, size_t done, size_t total)
{
	struct printer *p = ctx;
	int width = 40, filled = total ? (int)(done * (size_t)width / total) : width;

	/* Results of a batch go out as they come, a run of them at a time. */
	if (p->batch)
		fflush(stdout);
	if (!p->bar)
		return;
	if (p->batch_id)
		fprintf(stderr, "\rbatch %lld ", (long long)p->batch_id);
	else
		fputc('\r', stderr);
	fprintf(stderr, "[%.*s%*s] %zu/%zu", filled,
		"########################################", width - filled, "",
		done, total);
	if (p->failed)
		fprintf(stderr, " (%zu completed, %zu did not)", p->completed,
			p->failed);
	p->bar_drawn = 1;
	if (done == total)
		clear_bar(p);
}

static void print_notice(void *ctx, const char *text)
{
	struct printer *p = ctx;

	if (p->quiet)
		return;
	clear_bar(p);
	fprintf(stderr, "%s: %s\n", ac_prog, text);
}

/* All of the input, within a bound that keeps one oversized task from
 * filling memory before it is refused. */
static void read_input(int fd, struct ac_buf *buf, size_t limit)
{
	if (ac_read_all(fd, buf, limit) < 0) {
		if (errno == EFBIG)
			ac_cli_die(AC_EXIT_USAGE, "task data exceeds the limit of %u bytes",
				   AC_MAX_PAYLOAD);
		ac_cli_die(AC_EXIT_FAILED, "cannot read the input: %s",
			   strerror(errno));
	}
}

/* Task ids separated by commas, blanks or newlines, appended to *ids. */
static void parse_ids(const char *text, const char *from, int64_t **ids,
		      size_t *n, size_t *cap)
{
	const char *p = text;

	while (*p) {
		char *end;
		long long v;

		if (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n' ||
		    *p == '\r') {
			p++;
			continue;
		}
		errno = 0;
		v = strtoll(p, &end, 10);
		if (end == p || errno || v <= 0 ||
		    (*end && !strchr(", \t\r\n", *end)))
			ac_cli_usage_error(synopsis, "--after: %s holds '%.*s', not a task id",
					   from, (int)strcspn(p, ", \t\r\n"), p);
		if (*n == AFTER_MAX)
			ac_cli_usage_error(synopsis, "--after: more than %d task ids",
					   AFTER_MAX);
		if (*n == *cap) {
			int64_t *grown;

			*cap = *cap ? *cap * 2 : 16;
			grown = realloc(*ids, *cap * sizeof **ids);
			if (!grown)
				ac_cli_die(AC_EXIT_FAILED, "out of memory");
			*ids = grown;
		}
		(*ids)[(*n)++] = v;
		p = end;
	}
}

/* --after's value: ids, '-' (stdin) or @FILE. */
static void read_after(const char *arg, int64_t **ids, size_t *n, size_t *cap)
{
	struct ac_buf text = { 0 };
	size_t before = *n;
	int fd;

	if (strcmp(arg, "-") && arg[0] != '@') {
		parse_ids(arg, "the list", ids, n, cap);
	} else {
		fd = !strcmp(arg, "-") ? STDIN_FILENO :
			open(arg + 1, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			ac_cli_die(AC_EXIT_USAGE, "--after: cannot open '%s': %s",
				   arg + 1, strerror(errno));
		if (ac_read_all(fd, &text, 32u << 20) < 0)
			ac_cli_die(AC_EXIT_USAGE, "--after: cannot read %s: %s",
				   fd == STDIN_FILENO ? "stdin" : arg + 1,
				   strerror(errno));
		if (fd != STDIN_FILENO)
			close(fd);
		parse_ids(text.data ? text.data : "",
			  fd == STDIN_FILENO ? "stdin" : arg + 1, ids, n, cap);
		ac_buf_release(&text);
	}
	if (*n == before)
		ac_cli_usage_error(synopsis, "--after %s names no task", arg);
}

/* The trace the tasks join: --traceparent (invalid: a usage error), else
 * $TRACEPARENT (inside a handler, the run of the task that submits;
 * invalid: a warning, and no trace).  Normalised to version 00 in out;
 * NULL when none. */
static const char *trace_context(const char *opt, int quiet, char *out)
{
	const char *env = getenv("TRACEPARENT");
	struct ac_trace_context tc;

	if (opt) {
		if (ac_traceparent_parse(opt, &tc) < 0)
			ac_cli_die(AC_EXIT_USAGE, "--traceparent wants a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>), not '%.80s'",
				   opt);
	} else if (env && *env) {
		if (ac_traceparent_parse(env, &tc) < 0) {
			if (!quiet)
				fprintf(stderr, "%s: warning: ignoring TRACEPARENT='%.80s': not a W3C traceparent\n",
					ac_prog, env);
			return NULL;
		}
	} else {
		return NULL;
	}
	ac_traceparent_format(&tc, out);
	return out;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "async", no_argument, NULL, OPT_ASYNC },
		{ "batch", no_argument, NULL, OPT_BATCH },
		{ "envelope", no_argument, NULL, OPT_ENVELOPE },
		{ "priority", required_argument, NULL, OPT_PRIORITY },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "max-reclaims", required_argument, NULL, OPT_MAX_RECLAIMS },
		{ "delay", required_argument, NULL, OPT_DELAY },
		{ "expires", required_argument, NULL, OPT_EXPIRES },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "route", required_argument, NULL, OPT_ROUTE },
		{ "require", required_argument, NULL, OPT_REQUIRE },
		{ "meta", required_argument, NULL, OPT_META },
		{ "idempotency-key", required_argument, NULL, OPT_IDEM },
		{ "retry", required_argument, NULL, OPT_RETRY },
		{ "after", required_argument, NULL, OPT_AFTER },
		{ "after-policy", required_argument, NULL, OPT_AFTER_POLICY },
		{ "then", required_argument, NULL, OPT_THEN },
		{ "parent", required_argument, NULL, OPT_PARENT },
		{ "no-parent", no_argument, NULL, OPT_NO_PARENT },
		{ "budget", required_argument, NULL, OPT_BUDGET },
		{ "budget-name", required_argument, NULL, OPT_BUDGET_NAME },
		{ "traceparent", required_argument, NULL, OPT_TRACEPARENT },
		{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct ac_task_spec spec = { .priority = 5, .max_reclaims = 3 };
	struct printer printer = { 0 };
	struct ac_submit_sink sink = { &printer, print_ended, print_progress,
				       print_notice, 0 };
	json_t *tags = json_array(), *meta = json_object();
	json_t *budget_limits = json_object();
	char *budget_text = NULL;
	const char *store_opt = NULL, *file = NULL;
	int async = 0, batch = 0, c, rc;
	int64_t wait_timeout_ms = 0, retry_id = 0;
	struct ac_task_spec *specs = NULL;
	struct ac_submitted *submitted = NULL;
	int64_t *ids = NULL;
	size_t n = 0;
	struct ac_buf input = { 0 };
	struct ac_batch *lines = NULL;
	struct ac_store *store;
	struct ac_error err;
	char *store_url, *tags_text = NULL, *meta_text = NULL, *token = NULL;
	struct ac_submit_watch *watch = NULL;
	enum ac_route route = AC_ROUTE_ANY;
	json_t *routing = NULL;
	long long v;
	int64_t *after = NULL;
	size_t nafter = 0, after_cap = 0;
	int after_stdin = 0, no_parent = 0, has_policy = 0;
	const char *then_type = NULL;
	struct ac_task_spec then_spec;
	struct ac_batch_spec batch_spec = { 0 };
	const char *traceparent_opt = NULL;
	char traceparent[AC_TRACEPARENT_LEN + 1];

	ac_cli_init(argv[0]);
	if (!tags || !meta || !budget_limits)
		ac_cli_die(AC_EXIT_FAILED, "out of memory");
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ASYNC:
			async = 1;
			break;
		case OPT_BATCH:
			batch = 1;
			break;
		case OPT_ENVELOPE:
			printer.envelope = 1;
			break;
		case OPT_PRIORITY:
			if (ac_priority_parse(optarg, &spec.priority) < 0)
				ac_cli_usage_error(synopsis, "--priority wants low, normal, high, critical or an integer, not '%s'",
						   optarg);
			break;
		case OPT_TIMEOUT:
			spec.timeout_ms = ac_cli_seconds(synopsis, "--timeout", optarg);
			break;
		case OPT_RETRIES:
			if (ac_parse_int(optarg, 0, 1000, &v) < 0)
				ac_cli_usage_error(synopsis, "--retries wants a number from 0 to 1000, not '%s'",
						   optarg);
			spec.max_retries = (int)v;
			break;
		case OPT_MAX_RECLAIMS:
			if (ac_parse_int(optarg, 0, 1000, &v) < 0)
				ac_cli_usage_error(synopsis, "--max-reclaims wants a number from 0 to 1000, not '%s'",
						   optarg);
			spec.max_reclaims = (int)v;
			break;
		case OPT_DELAY:
			if (ac_parse_duration_ms(optarg, &spec.delay_ms) < 0)
				ac_cli_usage_error(synopsis, "--delay wants a number of seconds, not '%s'",
						   optarg);
			break;
		case OPT_EXPIRES:
			if (ac_parse_duration_ms(optarg, &spec.expires_ms) < 0 ||
			    spec.expires_ms <= 0)
				ac_cli_usage_error(synopsis, "--expires wants a number of seconds above 0, not '%s'",
						   optarg);
			break;
		case OPT_KEY:
			if (!*optarg || strlen(optarg) > 1024)
				ac_cli_usage_error(synopsis, "--key wants 1 to 1024 characters");
			spec.route_key = optarg;
			break;
		case OPT_ROUTE:
			if (ac_route_parse(optarg, &route) < 0)
				ac_cli_usage_error(synopsis, "--route wants any, least-loaded, round-robin or consistent-hash, not '%s'",
						   optarg);
			break;
		case OPT_REQUIRE:
			if (!ac_name_valid(optarg))
				ac_cli_usage_error(synopsis, "invalid tag '%s' (use letters, digits and _.:@-)",
						   optarg);
			json_array_append_new(tags, json_string(optarg));
			break;
		case OPT_META: {
			char *eq = strchr(optarg, '=');

			if (!eq || eq == optarg)
				ac_cli_usage_error(synopsis, "--meta wants K=V, not '%s'",
						   optarg);
			*eq = '\0';
			if (json_object_set_new(meta, optarg,
						json_string(eq + 1)) < 0)
				ac_cli_usage_error(synopsis, "--meta: '%s' is not valid UTF-8",
						   optarg);
			break;
		}
		case OPT_IDEM:
			if (!*optarg || strlen(optarg) > 1024)
				ac_cli_usage_error(synopsis, "--idempotency-key wants 1 to 1024 characters");
			spec.idempotency_key = optarg;
			break;
		case OPT_RETRY:
			if (ac_parse_int(optarg, 1, INT64_MAX, &v) < 0)
				ac_cli_usage_error(synopsis, "--retry wants a task id, not '%s'",
						   optarg);
			retry_id = v;
			break;
		case OPT_AFTER:
			/* stdin is read once the arguments are known to
			 * name a FILE for the data. */
			if (!strcmp(optarg, "-")) {
				if (after_stdin)
					ac_cli_usage_error(synopsis, "--after - reads stdin once");
				after_stdin = 1;
				break;
			}
			read_after(optarg, &after, &nafter, &after_cap);
			break;
		case OPT_AFTER_POLICY:
			if (!strcmp(optarg, "all-ok"))
				spec.after_policy = AC_AFTER_ALL_OK;
			else if (!strcmp(optarg, "all-done"))
				spec.after_policy = AC_AFTER_ALL_DONE;
			else
				ac_cli_usage_error(synopsis, "--after-policy wants all-ok or all-done, not '%s'",
						   optarg);
			has_policy = 1;
			break;
		case OPT_THEN:
			if (!ac_name_valid(optarg))
				ac_cli_usage_error(synopsis, "invalid task type '%s' for --then (use letters, digits and _.:@-)",
						   optarg);
			then_type = optarg;
			break;
		case OPT_PARENT:
			if (ac_parse_int(optarg, 1, INT64_MAX, &v) < 0)
				ac_cli_usage_error(synopsis, "--parent wants a task id, not '%s'",
						   optarg);
			spec.parent = v;
			break;
		case OPT_NO_PARENT:
			no_parent = 1;
			break;
		case OPT_BUDGET:
			ac_cli_budget_limits(synopsis, "--budget", optarg,
					     budget_limits);
			break;
		case OPT_BUDGET_NAME:
			if (ac_budget_name_check(optarg, &err) < 0)
				ac_cli_usage_error(synopsis, "--budget-name: %s",
						   err.msg);
			spec.budget = optarg;
			break;
		case OPT_TRACEPARENT:
			traceparent_opt = optarg;
			break;
		case OPT_WAIT_TIMEOUT:
			wait_timeout_ms = ac_cli_seconds(synopsis, "--wait-timeout", optarg);
			break;
		case OPT_STORE:
			store_opt = optarg;
			break;
		case 'q':
			printer.quiet = 1;
			break;
		case 'h':
			usage();
		case OPT_VERSION:
			ac_cli_version();
		default:
			ac_cli_bad_option(synopsis, c, argv[optind - 1]);
		}
	}
	printer.batch = batch;
	printer.bar = batch && !async && !printer.quiet &&
		ac_cli_isatty(STDERR_FILENO);
	if (retry_id) {
		if (optind < argc)
			ac_cli_usage_error(synopsis, "--retry takes no TYPE or FILE");
		if (batch)
			ac_cli_usage_error(synopsis, "--retry and --batch do not go together");
	} else {
		if (optind >= argc)
			ac_cli_usage_error(synopsis, "no task TYPE given");
		spec.type = argv[optind++];
		if (!ac_name_valid(spec.type))
			ac_cli_usage_error(synopsis, "invalid task type '%s' (use letters, digits and _.:@-)",
					   spec.type);
		if (optind < argc)
			file = argv[optind++];
		if (optind < argc)
			ac_cli_usage_error(synopsis, "unexpected argument '%s'",
					   argv[optind]);
		if (route == AC_ROUTE_CONSISTENT_HASH && !spec.route_key)
			ac_cli_usage_error(synopsis, "--route consistent-hash needs --key KEY");
		if (batch && spec.idempotency_key)
			ac_cli_usage_error(synopsis, "--idempotency-key names one task; it does not go with --batch");
		if (then_type && !batch)
			ac_cli_usage_error(synopsis, "--then goes with --batch");
		if (after_stdin && (!file || !strcmp(file, "-")))
			ac_cli_usage_error(synopsis, "--after - reads the ids from stdin, so the task data must come from FILE");
		if (after_stdin)
			read_after("-", &after, &nafter, &after_cap);
		if (has_policy && !nafter)
			ac_cli_usage_error(synopsis, "--after-policy goes with --after");
	}
	if (retry_id && (nafter || after_stdin || spec.parent || no_parent))
		ac_cli_usage_error(synopsis, "--retry takes no --after or --parent");
	if (retry_id && (spec.budget || json_object_size(budget_limits)))
		ac_cli_usage_error(synopsis, "--retry takes no --budget: the task keeps its own");
	/* Limits with a name set that budget's; without one they make a
	 * budget of the task's own, or of the whole batch. */
	if (json_object_size(budget_limits)) {
		budget_text = json_dumps(budget_limits, JSON_COMPACT);
		if (!budget_text)
			ac_cli_die(AC_EXIT_FAILED, "out of memory");
		if (batch && !spec.budget)
			batch_spec.budget_limits = budget_text;
		else
			spec.budget_limits = budget_text;
	}
	spec.after = after;
	spec.nafter = nafter;
	/* Inside a handler, a new task is a sub-task of the one running;
	 * the id may name a task of another store, so it is a soft link. */
	if (!spec.parent && !no_parent && !retry_id) {
		const char *env = getenv("AC_TASK_ID");

		if (env && ac_parse_int(env, 1, INT64_MAX, &v) == 0) {
			spec.parent = v;
			spec.parent_soft = 1;
		}
	}
	if (no_parent)
		spec.parent = 0;
	if (!retry_id)
		spec.traceparent = trace_context(traceparent_opt, printer.quiet,
						 traceparent);
	else if (traceparent_opt)
		ac_cli_usage_error(synopsis, "--retry takes no --traceparent (the task keeps its own)");

	if (!retry_id) {
		int fd = STDIN_FILENO;

		if (file && strcmp(file, "-")) {
			fd = open(file, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				ac_cli_die(AC_EXIT_USAGE, "cannot open '%s': %s",
					   file, strerror(errno));
		}
		/* A batch is read whole and checked before the store is
		 * opened, each line held to the payload limit. */
		if (batch) {
			if (ac_batch_read(fd, &lines, &err) < 0)
				ac_cli_die_error(&err);
			n = ac_batch_count(lines);
		} else {
			read_input(fd, &input, 2 * (size_t)AC_MAX_PAYLOAD);
		}
		if (fd != STDIN_FILENO)
			close(fd);
		if (json_array_size(tags))
			tags_text = json_dumps(tags, JSON_COMPACT);
		if (json_object_size(meta))
			meta_text = json_dumps(meta, JSON_COMPACT);
		spec.tags = tags_text;
		spec.meta = meta_text;
		if (!batch) {
			char *data;

			if (ac_submit_parse_data(input.data ? input.data : "",
						 input.len, &data, &err) < 0)
				ac_cli_die_error(&err);
			specs = calloc(1, sizeof *specs);
			if (!specs)
				ac_cli_die(AC_EXIT_FAILED, "out of memory");
			specs[0] = spec;
			specs[0].data = data;
			specs[0].data_len = strlen(data);
			n = 1;
		}
	}

	store_url = ac_config_store_url(store_opt, 1, &err);
	if (!store_url || ac_store_open(store_url, 1, &store, &err) < 0)
		ac_cli_die_error(&err);
	if (ac_ctl_token(NULL, &token, &err) < 0)
		ac_cli_die_error(&err);
	/* Watch the workers' events before the tasks exist, so that no end
	 * can slip by; a worker that cannot be reached is simply not
	 * watched (the store is looked at anyway). */
	if (!async && !retry_id &&
	    ac_submit_watch_start(&watch, store, spec.type, token, &err) < 0)
		watch = NULL;
	if (retry_id) {
		json_t *task;

		if (store->ops->task_get(store, retry_id, &task, &err) < 0)
			ac_cli_die_error(&err);
		spec.type = ac_strdup(json_string_value(json_object_get(task, "type")));
		json_decref(task);
		n = 1;
		ids = malloc(sizeof *ids);
		if (!ids || !spec.type)
			ac_cli_die(AC_EXIT_FAILED, "out of memory");
		ids[0] = retry_id;
		if (!async &&
		    ac_submit_watch_start(&watch, store, spec.type, token, &err) < 0)
			watch = NULL;
		if (store->ops->retry(store, retry_id, &err) < 0)
			ac_cli_die_error(&err);
	} else if (batch) {
		ids = calloc(n, sizeof *ids);
		if (!ids)
			ac_cli_die(AC_EXIT_FAILED, "out of memory");
		if (then_type) {
			then_spec = spec;
			then_spec.type = then_type;
			then_spec.data = "{}";
			then_spec.data_len = 2;
			then_spec.route_key = NULL;
			then_spec.assigned = NULL;
			then_spec.delay_ms = 0;
			then_spec.expires_ms = 0;
			then_spec.after = NULL;
			then_spec.nafter = 0;
			then_spec.budget_limits = NULL;
			batch_spec.then = &then_spec;
		}
		if (ac_batch_submit(lines, store, &spec, route, ids, &batch_spec,
				    &err) < 0)
			ac_cli_die_error(&err);
		printer.batch_id = batch_spec.id;
		if (batch_spec.then_id)
			ac_submit_poke(store, then_type, NULL,
				       &batch_spec.then_id, 1, token);
		ac_batch_free(lines);
		lines = NULL;
	} else {
		submitted = calloc(n, sizeof *submitted);
		ids = calloc(n, sizeof *ids);
		if (!submitted || !ids)
			ac_cli_die(AC_EXIT_FAILED, "out of memory");
		if (ac_submit_route(store, route, specs, n, &routing, &err) < 0 ||
		    store->ops->submit(store, specs, n, submitted, &err) < 0)
			ac_cli_die_error(&err);
		for (size_t i = 0; i < n; i++)
			ids[i] = submitted[i].id;
	}
	ac_submit_poke(store, spec.type, NULL, ids, n, token);
	if (async) {
		for (size_t i = 0; i < n; i++)
			printf("%lld\n", (long long)ids[i]);
		rc = AC_EXIT_OK;
	} else {
		int waited;

		/* A handler waiting for its sub-tasks holds a slot meanwhile:
		 * marked so, for the deadlock check (best effort). */
		if (spec.parent && store->ops->task_awaiting(store, spec.parent, 1,
							     &err) == 0)
			sink.parent = spec.parent;
		waited = ac_submit_wait(store, watch, ids, n, spec.type,
					wait_timeout_ms, &sink, &err);
		if (sink.parent)
			store->ops->task_awaiting(store, sink.parent, 0, NULL);
		clear_bar(&printer);
		if (waited < 0)
			ac_cli_die_error(&err);
		if (waited == 1)
			ac_cli_die(AC_EXIT_TIMEOUT, "gave up waiting after %lld ms; the task stays where it is (ac-cancel ends it)",
				   (long long)wait_timeout_ms);
		rc = printer.exit_code;
	}
	if (fflush(stdout) != 0)
		ac_cli_die(AC_EXIT_FAILED, "cannot write the output: %s",
			   strerror(errno));
	ac_submit_watch_stop(watch);
	json_decref(routing);
	ac_store_close(store);
	free(token);
	for (size_t i = 0; i < n && specs; i++)
		free((char *)specs[i].data);
	free(specs);
	free(submitted);
	free(ids);
	free(after);
	free(tags_text);
	free(meta_text);
	free(store_url);
	if (retry_id)
		free((char *)spec.type);
	json_decref(tags);
	json_decref(meta);
	json_decref(budget_limits);
	free(budget_text);
	ac_buf_release(&input);
	ac_batch_free(lines);
	return rc;
}
