/* claimbench: how long one worker cycle takes at a given queue depth.
 *
 *   claimbench STORE DEPTH [ROUNDS [BATCH]]
 *
 * Opens STORE, tops the queue of task type "bench" up to DEPTH queued tasks
 * (in transactions of 10,000, not timed), registers a worker and then runs
 * ROUNDS (default 2000) cycles the way ac-worker does: one worker_cycle()
 * that records the outcomes of the BATCH (default 8) tasks claimed in the
 * cycle before as completed and claims BATCH more, all in one transaction.
 * Before each cycle BATCH new tasks are submitted (not timed), so the depth
 * stays at DEPTH while it runs; DEPTH 0 measures a queue that only ever
 * holds the tasks about to be claimed.  Like a worker, it sweeps every
 * five seconds and once at the end (not timed).
 *
 * It times the store call itself, not a worker: ac-worker's --metrics
 * histogram would mix heartbeats, sweeps and claims paced by handler start
 * times into wide buckets, where a claim that grows with the depth could
 * hide.  Prints one JSON line: the depth measured before the rounds, the
 * median cycle time in milliseconds ("value") and its 99th percentile, and
 * how many tasks the cycles claimed.  Exit 0, or 1 with a line on stderr,
 * 2 for a usage error. */
#include "error.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FILL_CHUNK 10000
#define HEARTBEAT_S 5.0
#define TASK_TYPE "bench"

static const char *prog = "claimbench";

static void die(const char *what, const struct ac_error *err)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, err->msg);
	exit(1);
}

static double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The store's own count of queued tasks (every type). */
static long long queued_now(struct ac_store *store)
{
	struct ac_error err;
	json_t *counts;
	long long n;

	if (store->ops->task_counts(store, &counts, &err) < 0)
		die("counting tasks", &err);
	n = (long long)json_integer_value(json_object_get(counts, "queued"));
	json_decref(counts);
	return n;
}

/* Submit n tasks of TASK_TYPE in one transaction; specs and out hold at
 * least n entries. */
static void submit(struct ac_store *store, struct ac_task_spec *specs,
		   struct ac_submitted *out, size_t n)
{
	struct ac_error err;

	if (store->ops->submit(store, specs, n, out, &err) < 0)
		die("submitting tasks", &err);
}

int main(int argc, char **argv)
{
	static const char data[] = "{\"bench\":true}";
	const char *types[] = { TASK_TYPE };
	struct ac_worker_record rec = {
		.id = "claimbench", .host = "claimbench", .pid = (long)getpid(),
		.concurrency = 8, .tags = "[]", .handlers = "[\"" TASK_TYPE "\"]",
		.heartbeat_ms = 5000, .lease_ms = 300000,
	};
	struct ac_worker_state state = { .status = "idle" };
	struct ac_worker_control ctl;
	struct ac_claim_request req = {
		.types = types, .ntypes = 1, .tags = "[]", .lease_ms = 300000,
	};
	long long depth, rounds = 2000, batch = 8, have, claimed_total = 0;
	struct ac_task_spec *specs;
	struct ac_submitted *out;
	struct ac_outcome *outcomes;
	struct ac_claimed *claimed = NULL;
	size_t nclaimed = 0, fill;
	double *times, next_sweep;
	struct ac_store *store;
	struct ac_error err;

	if (argc < 3 || argc > 5 ||
	    ac_parse_int(argv[2], 0, 100000000, &depth) < 0 ||
	    (argc > 3 && ac_parse_int(argv[3], 1, 10000000, &rounds) < 0) ||
	    (argc > 4 && ac_parse_int(argv[4], 1, 1000, &batch) < 0)) {
		fprintf(stderr, "usage: %s STORE DEPTH [ROUNDS [BATCH]]\n", prog);
		return 2;
	}
	fill = FILL_CHUNK > (size_t)batch ? FILL_CHUNK : (size_t)batch;
	specs = calloc(fill, sizeof *specs);
	out = calloc(fill, sizeof *out);
	outcomes = calloc((size_t)batch, sizeof *outcomes);
	times = calloc((size_t)rounds, sizeof *times);
	if (!specs || !out || !outcomes || !times) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	for (size_t i = 0; i < fill; i++) {
		specs[i].type = TASK_TYPE;
		specs[i].data = data;
		specs[i].data_len = sizeof data - 1;
		specs[i].priority = 5;
		specs[i].max_reclaims = 3;
	}
	ac_error_clear(&err);
	if (ac_store_open(argv[1], 1, &store, &err) < 0)
		die("opening the store", &err);

	for (have = queued_now(store); have < depth; ) {
		size_t n = depth - have < (long long)fill ?
			(size_t)(depth - have) : fill;

		submit(store, specs, out, n);
		have += (long long)n;
	}
	have = queued_now(store);
	if (store->ops->worker_register(store, &rec, &ctl, &err) < 0)
		die("registering", &err);
	req.max = (size_t)batch;

	/* A few cycles first, so that statements are prepared and caches
	 * warm before anything is timed. */
	next_sweep = mono_seconds() + HEARTBEAT_S;
	for (long long r = -10; r < rounds; r++) {
		size_t noutcomes = nclaimed;
		double t0;

		submit(store, specs, out, (size_t)batch);
		for (size_t i = 0; i < nclaimed; i++) {
			outcomes[i] = (struct ac_outcome){
				.id = claimed[i].id, .attempt = claimed[i].attempt,
				.kind = AC_OUTCOME_COMPLETED, .result = "{}",
				.result_len = 2,
			};
		}
		ac_claimed_free_array(claimed, nclaimed);
		claimed = NULL;
		nclaimed = 0;
		state.running = 0;
		state.completed = claimed_total;
		t0 = mono_seconds();
		if (store->ops->worker_cycle(store, rec.id, &state, outcomes,
					     noutcomes, &req, &claimed,
					     &nclaimed, &ctl, &err) < 0)
			die("claiming", &err);
		if (r >= 0)
			times[r] = (mono_seconds() - t0) * 1000;
		for (size_t i = 0; i < noutcomes; i++)
			if (!outcomes[i].accepted) {
				fprintf(stderr, "%s: the completion of task %lld was refused\n",
					prog, (long long)outcomes[i].id);
				return 1;
			}
		if (nclaimed != (size_t)batch) {
			fprintf(stderr, "%s: claimed %zu tasks, not %lld: is another worker taking them?\n",
				prog, nclaimed, batch);
			return 1;
		}
		if (r >= 0)
			claimed_total += (long long)nclaimed;
		/* A worker sweeps on every heartbeat (ac-worker's default: 5 s),
		 * which on PostgreSQL also folds the task count changes; not
		 * timed. */
		if (mono_seconds() >= next_sweep) {
			size_t reclaimed;

			if (store->ops->sweep(store, &reclaimed, &err) < 0)
				die("sweeping", &err);
			next_sweep = mono_seconds() + HEARTBEAT_S;
		}
	}
	/* The last claims end too, and the worker stops, so that nothing is
	 * left running for a sweep to take back later. */
	for (size_t i = 0; i < nclaimed; i++)
		outcomes[i] = (struct ac_outcome){
			.id = claimed[i].id, .attempt = claimed[i].attempt,
			.kind = AC_OUTCOME_COMPLETED, .result = "{}",
			.result_len = 2,
		};
	state.status = "stopped";
	{
		struct ac_claimed *none = NULL;
		size_t nnone = 0, reclaimed;

		if (store->ops->worker_cycle(store, rec.id, &state, outcomes,
					     nclaimed, NULL, &none, &nnone,
					     &ctl, &err) < 0)
			die("completing the last tasks", &err);
		ac_claimed_free_array(none, nnone);
		if (store->ops->sweep(store, &reclaimed, &err) < 0)
			die("sweeping", &err);
	}
	ac_claimed_free_array(claimed, nclaimed);
	qsort(times, (size_t)rounds, sizeof *times, cmp_double);
	printf("{\"store\":\"%s\",\"measure\":\"claim_cycle\",\"depth\":%lld,"
	       "\"value\":%.3f,\"p99\":%.3f,\"unit\":\"ms\",\"rounds\":%lld,"
	       "\"batch\":%lld,\"claimed\":%lld}\n",
	       store->ops->name, have, times[rounds / 2],
	       times[(rounds * 99) / 100], rounds, batch, claimed_total);
	ac_store_close(store);
	free(specs);
	free(out);
	free(outcomes);
	free(times);
	return fflush(stdout) == 0 ? 0 : 1;
}
