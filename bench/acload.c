/* acload: the benchmarks' producer, a long-lived client of libac.
 *
 * The peer queues of ../shared/bench/peers are driven by one long-lived
 * producer process each; timing ac through a new ac-submit process per
 * task would mostly measure process launch.  acload submits the way a
 * client library would (a store submit call, then a poke of the workers),
 * from one process, and reads the results from the store:
 *
 *   acload latency TYPE N RATE   N tasks one at a time, paced at RATE/s;
 *                                p50/p99 of submit -> handler end
 *   acload drain TYPE N [BATCH]  N tasks in calls of BATCH (500), the
 *                                workers already running; enqueue and
 *                                drain rates
 *
 * Each task's data is the peers' payload, {"id","t0","w","kind","pad"}
 * padded to 200 bytes, with t0 the wall clock (seconds) taken just before
 * its submit call.  Latency is result.t1 - data.t0 when the handler answers
 * with a "t1" (the benchmarks' noop does), else the store's finished time
 * - t0 (ms resolution: an exec-mode /bin/true prints no result).
 *
 * One JSON object on stdout; exit 0 only when every task completed (1 when
 * some did not, 3 when the wait ran out, 69 when the store failed). */
#include "cli.h"
#include "config.h"
#include "control.h"
#include "exitcode.h"
#include "store.h"
#include "submit.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char synopsis[] =
	"acload [--store URL] [--timeout SEC] latency TYPE N RATE | drain TYPE N [BATCH]";

/* The peers pad their payload to about this many bytes. */
#define PAYLOAD_BYTES 200
/* Task ends named on stderr before the rest are only counted. */
#define REPORT_MAX 5

_Noreturn static void usage(void)
{
	printf("usage: acload [options] latency TYPE N RATE\n"
	       "       acload [options] drain TYPE N [BATCH]\n\n"
	       "Submit benchmark tasks from one process and measure them.\n\n"
	       "  latency TYPE N RATE   N tasks one at a time (submit + poke each) at\n"
	       "                        RATE/s; p50/p99 of submit -> handler end, ms\n"
	       "  drain TYPE N [BATCH]  N tasks in submit calls of BATCH (default 500),\n"
	       "                        each poked; enqueue and drain rates per second\n\n"
	       "  --store URL           the store (default $AC_STORE, else $AC_HOME/ac.db)\n"
	       "  --timeout SEC         give up waiting for the results after SEC (300)\n"
	       "  -h, --help            show this help\n"
	       "      --version         show the version\n\n"
	       "One JSON object on stdout.  Exit status: 0 every task completed, 1 some\n"
	       "did not, 2 usage, 3 the wait ran out, 69 store unavailable.\n");
	exit(AC_EXIT_OK);
}

/* What the sink learns of each task as it ends, by input index. */
struct tally {
	size_t n;
	const double *t0;        /* wall clock at submit, seconds */
	double *lat_ms;          /* from the result's t1; NAN until known */
	unsigned char *need_finished; /* completed without a t1 */
	size_t completed;
	size_t not_completed;
	size_t wrong_id;         /* result.id that is not the task's index */
};

static double wall_seconds(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void on_ended(void *ctx, size_t index, const struct ac_task_end *end)
{
	struct tally *t = ctx;
	json_t *result, *t1, *id;

	if (end->status != AC_TASK_COMPLETED) {
		if (t->not_completed++ < REPORT_MAX)
			fprintf(stderr, "%s: task %lld %s%s%s\n", ac_prog,
				(long long)end->id,
				ac_task_status_name(end->status),
				end->error ? ": " : "",
				end->error ? end->error : "");
		return;
	}
	t->completed++;
	result = end->result ? json_loads(end->result, JSON_DECODE_ANY, NULL) :
		 NULL;
	/* The noop echoes the task's own id: a result that names another
	 * task would mean results were crossed, which a benchmark must not
	 * hide. */
	id = json_object_get(result, "id");
	if (json_is_integer(id) && json_integer_value(id) != (json_int_t)index)
		t->wrong_id++;
	t1 = json_object_get(result, "t1");
	if (json_is_number(t1))
		t->lat_ms[index] = (json_number_value(t1) - t->t0[index]) * 1000;
	else
		t->need_finished[index] = 1;
	json_decref(result);
}

static void on_notice(void *ctx, const char *text)
{
	(void)ctx;
	fprintf(stderr, "%s: %s\n", ac_prog, text);
}

/* Milliseconds since the epoch of an RFC 3339 UTC time with milliseconds
 * (what the store's task records hold); -1 when it is not one. */
static int64_t parse_time_ms(const char *s)
{
	struct tm tm = { 0 };
	const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	int64_t ms = 0, scale = 100;
	time_t secs;

	if (!rest)
		return -1;
	if (*rest == '.')
		for (rest++; *rest >= '0' && *rest <= '9'; rest++) {
			ms += (*rest - '0') * scale;
			scale /= 10;
		}
	if (strcmp(rest, "Z"))
		return -1;
	secs = timegm(&tm);
	if (secs == (time_t)-1)
		return -1;
	return (int64_t)secs * 1000 + ms;
}

/* Latency of the tasks that completed without a t1: the store's finished
 * time - t0. */
static int fill_finished(struct ac_store *store, const int64_t *ids,
			 struct tally *t, struct ac_error *err)
{
	for (size_t i = 0; i < t->n; i++) {
		json_t *task;
		int64_t ms;

		if (!t->need_finished[i])
			continue;
		if (store->ops->task_get(store, ids[i], &task, err) < 0)
			return -1;
		ms = parse_time_ms(json_string_value(json_object_get(task,
								     "finished")));
		json_decref(task);
		if (ms < 0)
			return ac_error_set(err, AC_EXIT_FAILED,
					    "task %lld has no finished time",
					    (long long)ids[i]);
		t->lat_ms[i] = (double)ms - t->t0[i] * 1000;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank percentile q (0..100) of the n sorted values. */
static double percentile(const double *sorted, size_t n, double q)
{
	double rank = ceil(q / 100 * (double)n);
	size_t k = rank < 1 ? 0 : (size_t)rank - 1;

	return sorted[k < n ? k : n - 1];
}

/* The peers' payload for task index i: compact JSON in buf. */
static int make_payload(struct ac_buf *buf, size_t i, double t0,
			const char *type)
{
	static const char tail[] = "\"}";
	size_t pad;

	ac_buf_reset(buf);
	if (ac_buf_printf(buf, "{\"id\":%zu,\"t0\":%.6f,\"w\":\"%s\",\"kind\":\"bench.task\",\"pad\":\"",
			  i, t0, type) < 0)
		return -1;
	pad = buf->len + sizeof tail - 1 < PAYLOAD_BYTES ?
	      PAYLOAD_BYTES - buf->len - (sizeof tail - 1) : 0;
	while (pad--)
		if (ac_buf_append(buf, "x", 1) < 0)
			return -1;
	return ac_buf_append(buf, tail, sizeof tail - 1);
}

static void sleep_until(double mono_target)
{
	double d = mono_target - ac_seconds_now();
	struct timespec ts;

	if (d <= 0)
		return;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

struct run {
	struct ac_store *store;
	const char *type;
	char *token;
	struct ac_submit_poker *poker; /* the workers, kept at hand */
	size_t n;
	int64_t *ids;
	double *t0;
};

/* Submit tasks [first, first + m) in one call and poke the workers. */
static int submit_some(struct run *r, size_t first, size_t m,
		       struct ac_buf *bufs, struct ac_task_spec *specs,
		       struct ac_submitted *out, struct ac_error *err)
{
	for (size_t j = 0; j < m; j++) {
		r->t0[first + j] = wall_seconds();
		if (make_payload(&bufs[j], first + j, r->t0[first + j],
				 r->type) < 0)
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		specs[j] = (struct ac_task_spec){
			.type = r->type,
			.data = bufs[j].data,
			.data_len = bufs[j].len,
			.priority = 5,
			.max_reclaims = 3,
		};
	}
	if (r->store->ops->submit(r->store, specs, m, out, err) < 0)
		return -1;
	for (size_t j = 0; j < m; j++)
		r->ids[first + j] = out[j].id;
	ac_submit_poker_poke(r->poker, r->type, &r->ids[first], m);
	return 0;
}

enum { OPT_STORE = 256, OPT_TIMEOUT, OPT_VERSION };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, OPT_STORE },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_opt = NULL, *mode;
	int64_t timeout_ms = 300 * 1000;
	long long n_arg, batch_arg = 500;
	double rate = 0, started, enqueued, drained;
	struct tally tally = { 0 };
	struct ac_submit_sink sink = { &tally, on_ended, NULL, on_notice, 0 };
	struct ac_submit_watch *watch = NULL;
	struct run r = { 0 };
	struct ac_buf *bufs;
	struct ac_task_spec *specs;
	struct ac_submitted *out;
	struct ac_error err;
	size_t batch, valid = 0;
	char *url, *end;
	int c, latency, waited, rc;

	ac_cli_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_STORE:
			store_opt = optarg;
			break;
		case OPT_TIMEOUT:
			timeout_ms = ac_cli_seconds(synopsis, "--timeout", optarg);
			break;
		case 'h':
			usage();
		case OPT_VERSION:
			ac_cli_version();
		default:
			ac_cli_bad_option(synopsis, c, argv[optind - 1]);
		}
	}
	if (argc - optind < 3)
		ac_cli_usage_error(synopsis, "too few arguments");
	mode = argv[optind];
	latency = !strcmp(mode, "latency");
	if (!latency && strcmp(mode, "drain"))
		ac_cli_usage_error(synopsis, "unknown mode '%s' (latency or drain)",
				   mode);
	r.type = argv[optind + 1];
	if (!ac_name_valid(r.type))
		ac_cli_usage_error(synopsis, "invalid task type '%s'", r.type);
	if (ac_parse_int(argv[optind + 2], 1, 10 * 1000 * 1000, &n_arg) < 0)
		ac_cli_usage_error(synopsis, "N wants a number from 1 to 10000000, not '%s'",
				   argv[optind + 2]);
	r.n = (size_t)n_arg;
	if (latency) {
		if (argc - optind != 4)
			ac_cli_usage_error(synopsis, "latency wants TYPE N RATE");
		errno = 0;
		rate = strtod(argv[optind + 3], &end);
		if (errno || end == argv[optind + 3] || *end || !(rate > 0) ||
		    rate > 1e6)
			ac_cli_usage_error(synopsis, "RATE wants a positive number of tasks per second, not '%s'",
					   argv[optind + 3]);
	} else {
		if (argc - optind > 4)
			ac_cli_usage_error(synopsis, "drain wants TYPE N [BATCH]");
		if (argc - optind == 4 &&
		    ac_parse_int(argv[optind + 3], 1, 100000, &batch_arg) < 0)
			ac_cli_usage_error(synopsis, "BATCH wants a number from 1 to 100000, not '%s'",
					   argv[optind + 3]);
	}
	/* One task at a time is what makes it a latency run. */
	batch = latency ? 1 : (size_t)batch_arg;
	if (batch > r.n)
		batch = r.n;

	r.ids = calloc(r.n, sizeof *r.ids);
	r.t0 = calloc(r.n, sizeof *r.t0);
	tally.lat_ms = malloc(r.n * sizeof *tally.lat_ms);
	tally.need_finished = calloc(r.n, 1);
	bufs = calloc(batch, sizeof *bufs);
	specs = calloc(batch, sizeof *specs);
	out = calloc(batch, sizeof *out);
	if (!r.ids || !r.t0 || !tally.lat_ms || !tally.need_finished ||
	    !bufs || !specs || !out)
		ac_cli_die(AC_EXIT_FAILED, "out of memory");
	for (size_t i = 0; i < r.n; i++)
		tally.lat_ms[i] = NAN;
	tally.n = r.n;
	tally.t0 = r.t0;

	url = ac_config_store_url(store_opt, 1, &err);
	if (!url || ac_store_open(url, 1, &r.store, &err) < 0)
		ac_cli_die_error(&err);
	if (ac_ctl_token(NULL, &r.token, &err) < 0 ||
	    ac_submit_poker_open(&r.poker, r.store, r.token, &err) < 0)
		ac_cli_die_error(&err);
	/* In a drain run the end of the last task is what is timed: the
	 * workers' events tell of it at once, where polling the store would
	 * add its period.  Without a watch (no worker reachable) the wait
	 * polls the store instead.  A latency run is timed by t1, so it
	 * needs none. */
	if (!latency &&
	    ac_submit_watch_start(&watch, r.store, r.type, r.token, &err) < 0) {
		fprintf(stderr, "%s: no event watch (%s); polling the store\n",
			ac_prog, err.msg);
		watch = NULL;
	}

	started = ac_seconds_now();
	for (size_t first = 0; first < r.n; first += batch) {
		size_t m = r.n - first < batch ? r.n - first : batch;

		if (latency)
			sleep_until(started + (double)first / rate);
		if (submit_some(&r, first, m, bufs, specs, out, &err) < 0)
			ac_cli_die_error(&err);
	}
	enqueued = ac_seconds_now();
	waited = ac_submit_wait(r.store, watch, r.ids, r.n, r.type, timeout_ms,
				&sink, &err);
	drained = ac_seconds_now();
	if (waited < 0)
		ac_cli_die_error(&err);
	if (waited == 1)
		ac_cli_die(AC_EXIT_TIMEOUT, "gave up after %lld ms: %zu of %zu tasks ended",
			   (long long)timeout_ms,
			   tally.completed + tally.not_completed, r.n);
	printf("{\"mode\":\"%s\",\"type\":\"%s\",\"n\":%zu,\"completed\":%zu",
	       mode, r.type, r.n, tally.completed);
	if (latency) {
		size_t from_store = 0;

		if (fill_finished(r.store, r.ids, &tally, &err) < 0)
			ac_cli_die_error(&err);
		/* The tasks that did not complete have no latency; the rest
		 * are packed to the front for sorting. */
		for (size_t i = 0; i < r.n; i++) {
			from_store += tally.need_finished[i];
			if (!isnan(tally.lat_ms[i]))
				tally.lat_ms[valid++] = tally.lat_ms[i];
		}
		qsort(tally.lat_ms, valid, sizeof *tally.lat_ms, cmp_double);
		printf(",\"rate\":%g", rate);
		if (valid)
			printf(",\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f",
			       percentile(tally.lat_ms, valid, 50),
			       percentile(tally.lat_ms, valid, 99),
			       tally.lat_ms[valid - 1]);
		printf(",\"latency_end\":\"%s\"", from_store == 0 ? "t1" :
		       from_store == valid ? "finished" : "mixed");
	} else {
		printf(",\"batch\":%zu,\"enqueue_per_s\":%.1f,\"drain_per_s\":%.1f",
		       batch, (double)r.n / (enqueued - started),
		       (double)r.n / (drained - started));
	}
	printf("}\n");
	if (fflush(stdout) != 0)
		ac_cli_die(AC_EXIT_FAILED, "cannot write the output: %s",
			   strerror(errno));

	rc = AC_EXIT_OK;
	if (tally.not_completed) {
		fprintf(stderr, "%s: %zu of %zu tasks did not complete\n",
			ac_prog, tally.not_completed, r.n);
		rc = AC_EXIT_FAILED;
	}
	if (tally.wrong_id) {
		fprintf(stderr, "%s: %zu results name another task's id\n",
			ac_prog, tally.wrong_id);
		rc = AC_EXIT_FAILED;
	}
	ac_submit_watch_stop(watch);
	ac_submit_poker_close(r.poker);
	ac_store_close(r.store);
	for (size_t j = 0; j < batch; j++)
		ac_buf_release(&bufs[j]);
	free(bufs);
	free(specs);
	free(out);
	free(url);
	free(r.token);
	free(r.ids);
	free(r.t0);
	free(tally.lat_ms);
	free(tally.need_finished);
	return rc;
}
