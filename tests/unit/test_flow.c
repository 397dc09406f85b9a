/* Unit tests of lib/flow.c: rates parsed and shown, buckets refilled, and
 * the claim plans (caps, per-key budgets, holds, fair round-robin) over an
 * in-memory backend, so that the rules are checked apart from any store.
 * TAP-like output; exit 1 on any failure. */
#include "error.h"
#include "flow.h"
#include "util.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_no, failures;

static void check(int ok, const char *name)
{
	test_no++;
	printf("%sok %d - %s\n", ok ? "" : "not ", test_no, name);
	if (!ok)
		failures++;
}

/* ---------------------------------------------------------------- fake */

struct fake_task {
	int64_t id;
	int priority;
	const char *key;
	int claimable;          /* routed here or to nobody */
	int running;            /* counts as running, not queued */
};

struct fake {
	struct fake_task *tasks;
	size_t n;
	struct ac_flow_key *rows; /* stored key rows (borrowed strings) */
	size_t nrows;
	int queries;
};

static int cand_of(const struct fake_task *t, struct ac_flow_cand *c)
{
	c->id = t->id;
	c->priority = t->priority;
	c->key = ac_strdup(t->key);
	return c->key ? 0 : -1;
}

static int in_skip(json_t *skip, const char *key)
{
	size_t i;
	json_t *v;

	json_array_foreach(skip, i, v)
		if (!strcmp(json_string_value(v), key))
			return 1;
	return 0;
}

/* Claim order: priority high first, then id. */
static int before(const struct fake_task *a, const struct fake_task *b)
{
	return a->priority != b->priority ? a->priority > b->priority :
		a->id < b->id;
}

static int fake_candidates(void *ctx, const char *type, const char *skip_keys,
			   size_t limit, struct ac_flow_cand **out, size_t *n,
			   struct ac_error *err)
{
	struct fake *f = ctx;
	json_t *skip = skip_keys ? json_loads(skip_keys, 0, NULL) : NULL;
	int *used = calloc(f->n + 1, sizeof *used);

	(void)type;
	(void)err;
	f->queries++;
	*out = calloc(limit + 1, sizeof **out);
	*n = 0;
	while (*out && used && *n < limit) {
		const struct fake_task *best = NULL;
		size_t bi = 0;

		for (size_t i = 0; i < f->n; i++) {
			const struct fake_task *t = &f->tasks[i];

			if (used[i] || t->running || !t->claimable ||
			    (skip && in_skip(skip, t->key)))
				continue;
			if (!best || before(t, best)) {
				best = t;
				bi = i;
			}
		}
		if (!best)
			break;
		used[bi] = 1;
		cand_of(best, &(*out)[(*n)++]);
	}
	free(used);
	json_decref(skip);
	return 0;
}

static int fake_key_head(void *ctx, const char *type, int prio,
			 const char *after, struct ac_flow_cand *out,
			 int *found, int *claimable, struct ac_error *err)
{
	struct fake *f = ctx;
	const struct fake_task *best = NULL;

	(void)type;
	(void)err;
	f->queries++;
	for (size_t i = 0; i < f->n; i++) {
		const struct fake_task *t = &f->tasks[i];
		int c;

		if (t->running || t->priority != prio ||
		    (after && strcmp(t->key, after) <= 0))
			continue;
		c = best ? strcmp(t->key, best->key) : -1;
		if (c < 0 || (c == 0 && t->id < best->id))
			best = t;
	}
	*found = best != NULL;
	if (best) {
		*claimable = best->claimable;
		cand_of(best, out);
	}
	return 0;
}

static int fake_key_next(void *ctx, const char *type, int prio,
			 const char *key, int64_t after_id,
			 struct ac_flow_cand *out, int *found,
			 struct ac_error *err)
{
	struct fake *f = ctx;
	const struct fake_task *best = NULL;

	(void)type;
	(void)err;
	f->queries++;
	for (size_t i = 0; i < f->n; i++) {
		const struct fake_task *t = &f->tasks[i];

		if (t->running || !t->claimable || t->priority != prio ||
		    strcmp(t->key, key) || t->id <= after_id)
			continue;
		if (!best || t->id < best->id)
			best = t;
	}
	*found = best != NULL;
	if (best)
		cand_of(best, out);
	return 0;
}

static int fake_top_priority(void *ctx, const char *type, int below,
			     int *prio, int *found, struct ac_error *err)
{
	struct fake *f = ctx;

	(void)type;
	(void)err;
	*found = 0;
	for (size_t i = 0; i < f->n; i++) {
		const struct fake_task *t = &f->tasks[i];

		if (t->running || t->priority >= below)
			continue;
		if (!*found || t->priority > *prio)
			*prio = t->priority;
		*found = 1;
	}
	return 0;
}

static int fake_running(void *ctx, const char *type, struct ac_flow_key **keys,
			size_t *n, long *total, struct ac_error *err)
{
	struct fake *f = ctx;

	(void)type;
	(void)err;
	*keys = calloc(f->n + 1, sizeof **keys);
	*n = 0;
	*total = 0;
	for (size_t i = 0; i < f->n && *keys; i++) {
		size_t j;

		if (!f->tasks[i].running)
			continue;
		(*total)++;
		for (j = 0; j < *n; j++)
			if (!strcmp((*keys)[j].key, f->tasks[i].key))
				break;
		if (j == *n)
			(*keys)[(*n)++].key = ac_strdup(f->tasks[i].key);
		(*keys)[j].running++;
	}
	return 0;
}

static int fake_key_rows(void *ctx, const char *type, struct ac_flow_key **keys,
			 size_t *n, struct ac_error *err)
{
	struct fake *f = ctx;

	(void)type;
	(void)err;
	*keys = calloc(f->nrows + 1, sizeof **keys);
	*n = 0;
	for (size_t i = 0; i < f->nrows && *keys; i++) {
		(*keys)[i] = f->rows[i];
		(*keys)[i].key = ac_strdup(f->rows[i].key);
		(*keys)[i].hold_reason = NULL;
		(*n)++;
	}
	return 0;
}

static const struct ac_flow_ops fake_ops = {
	fake_candidates, fake_key_head, fake_key_next, fake_top_priority,
	fake_running, fake_key_rows,
};

static struct ac_flow flow_of(void)
{
	struct ac_flow f;

	memset(&f, 0, sizeof f);
	f.type = ac_strdup("t");
	f.burst = 1;
	return f;
}

/* The plan's candidates as "id,id,...". */
static const char *ids(const struct ac_flow_plan *p)
{
	static char buf[512];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->ncands && len < sizeof buf - 24; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lld",
					i ? "," : "", (long long)p->cands[i].id);
	return buf;
}

static const char *plan_ids(struct fake *fk, struct ac_flow *f, size_t want,
			    int64_t now, int64_t *wake)
{
	struct ac_flow_plan p;
	struct ac_error err;
	const char *s;

	if (ac_flow_plan(&fake_ops, fk, f, want, now, &p, &err) < 0)
		return "(error)";
	s = ids(&p);
	if (wake)
		*wake = p.wake_ms;
	ac_flow_plan_release(&p);
	return s;
}

/* ---------------------------------------------------------------- tests */

static void test_rates(void)
{
	double r = -1;
	char text[32];

	check(ac_flow_parse_rate("5/s", &r) == 0 && r == 5, "rate: 5/s");
	check(ac_flow_parse_rate("30/m", &r) == 0 && r == 0.5, "rate: 30/m is 0.5/s");
	check(ac_flow_parse_rate("7200/h", &r) == 0 && r == 2, "rate: 7200/h is 2/s");
	check(ac_flow_parse_rate("0.5/s", &r) == 0 && r == 0.5, "rate: fractions");
	check(ac_flow_parse_rate("off", &r) == 0 && r == 0 &&
	      ac_flow_parse_rate("0", &r) == 0 && r == 0, "rate: off and 0 are none");
	check(ac_flow_parse_rate("5", &r) < 0 && ac_flow_parse_rate("5/d", &r) < 0 &&
	      ac_flow_parse_rate("-1/s", &r) < 0 && ac_flow_parse_rate("x/s", &r) < 0 &&
	      ac_flow_parse_rate("0/s", &r) < 0 && ac_flow_parse_rate("nan/s", &r) < 0 &&
	      ac_flow_parse_rate("2000000/s", &r) < 0 && ac_flow_parse_rate("", &r) < 0,
	      "rate: malformed ones are refused");
	ac_flow_format_rate(5, text, sizeof text);
	check(!strcmp(text, "5/s"), "rate shown: 5/s");
	ac_flow_format_rate(0.5, text, sizeof text);
	check(!strcmp(text, "30/m"), "rate shown: 0.5/s as 30/m");
	ac_flow_format_rate(1.0 / 3600, text, sizeof text);
	check(!strcmp(text, "1/h"), "rate shown: 1/h");
	ac_flow_format_rate(1.0 / 7, text, sizeof text);
	check(!strcmp(text, "0.142857/s"), "rate shown: no whole unit: per second");
}

static void test_refill(void)
{
	check(ac_flow_refill(0, 1000, 2, 2, 1250) == 0.5, "bucket: 2/s refills half a token in 250 ms");
	check(ac_flow_refill(0, 1000, 2, 2, 9000) == 2, "bucket: never above its size");
	check(ac_flow_refill(0.3, 0, 2, 4, 9000) == 4, "bucket: never used is full");
}

static void test_plans(void)
{
	struct fake_task ordered[] = {
		{ 1, 5, "a", 1, 0 }, { 2, 5, "a", 1, 0 }, { 3, 5, "a", 1, 0 },
		{ 4, 5, "b", 1, 0 }, { 5, 5, "", 1, 0 }, { 6, 9, "c", 1, 0 },
		{ 7, 5, "a", 1, 1 },
	};
	struct fake fk = { ordered, sizeof ordered / sizeof *ordered, NULL, 0, 0 };
	struct ac_flow f = flow_of();
	struct ac_flow_key held = { .key = "b", .hold_until = 5000 };
	int64_t wake = 0;

	check(!strcmp(plan_ids(&fk, &f, 3, 1000, NULL), "6,1,2"),
	      "plan: no limit: claim order, up to the free slots");
	f.concurrency = 3;
	check(!strcmp(plan_ids(&fk, &f, 8, 1000, NULL), "6,1"),
	      "plan: a cap of 3 with 1 running gives 2");
	f.concurrency = 1;
	check(!strcmp(plan_ids(&fk, &f, 8, 1000, NULL), ""),
	      "plan: a cap reached gives none");
	f.concurrency = 0;
	f.per_key = 1;
	check(!strcmp(plan_ids(&fk, &f, 8, 1000, NULL), "6,4,5"),
	      "plan: per key 1: a (1 running) is skipped, each other key once");
	f.per_key = 2;
	check(!strcmp(plan_ids(&fk, &f, 8, 1000, NULL), "6,1,4,5"),
	      "plan: per key 2: one more of a");
	fk.rows = &held;
	fk.nrows = 1;
	check(!strcmp(plan_ids(&fk, &f, 8, 1000, &wake), "6,1,5") && wake == 4000,
	      "plan: a held key is skipped, and the plan wakes when its hold ends");
	fk.rows = NULL;
	fk.nrows = 0;
	f.per_key = 0;
	f.rate = 2;
	f.burst = 2;
	f.tokens = 2;
	f.tokens_at = 1000;
	check(!strcmp(plan_ids(&fk, &f, 8, 1000, &wake), "6,1") && wake == 500,
	      "plan: a bucket of 2 gives 2 and wakes for the next token");
	f.tokens = 0;
	f.tokens_at = 1000;
	check(!strcmp(plan_ids(&fk, &f, 8, 1200, &wake), "") && wake == 300,
	      "plan: an empty bucket gives none and says when");
	f.rate = 0;
	f.paused = 1;
	check(!strcmp(plan_ids(&fk, &f, 8, 1000, NULL), ""), "plan: paused gives none");
	f.paused = 0;
	f.hold_until = 3000;
	check(!strcmp(plan_ids(&fk, &f, 8, 1000, &wake), "") && wake == 2000,
	      "plan: held gives none, and wakes when the hold ends");
	ac_flow_release(&f);
}

static void test_fair(void)
{
	struct fake_task t[40];
	struct fake fk = { t, 0, NULL, 0, 0 };
	struct ac_flow f = flow_of();
	const char *got;

	/* 30 tasks of A, then one each of B and C, and one of A that only
	 * another worker may take. */
	for (int i = 0; i < 30; i++)
		t[fk.n++] = (struct fake_task){ i + 1, 5, "A", 1, 0 };
	t[fk.n++] = (struct fake_task){ 31, 5, "B", 1, 0 };
	t[fk.n++] = (struct fake_task){ 32, 5, "C", 1, 0 };
	f.fair = 1;
	got = plan_ids(&fk, &f, 3, 1000, NULL);
	check(!strcmp(got, "1,31,32"), "fair: one of each key first");
	check(f.cursor && !strcmp(f.cursor, "C"), "fair: the cursor is the key served last");
	got = plan_ids(&fk, &f, 2, 1000, NULL);
	check(!strcmp(got, "1,31"), "fair: the next plan goes on after the cursor, round the circle");
	got = plan_ids(&fk, &f, 5, 1000, NULL);
	check(!strcmp(got, "32,1,31,2,3"),
	      "fair: slots left over go round again, one a key, while any has more");
	t[fk.n++] = (struct fake_task){ 33, 9, "Z", 1, 0 };
	free(f.cursor);
	f.cursor = NULL;
	got = plan_ids(&fk, &f, 3, 1000, NULL);
	check(!strcmp(got, "33,1,31"), "fair: within one priority: a higher one first");
	t[0].claimable = 0;
	free(f.cursor);
	f.cursor = NULL;
	fk.n--;
	got = plan_ids(&fk, &f, 2, 1000, NULL);
	check(!strcmp(got, "31,32"),
	      "fair: a key whose head another worker must take is passed over");
	ac_flow_release(&f);
}

/* A key at its limit with a backlog deeper than a page: the other key is
 * found by key, with a bounded number of queries. */
static void test_keyed_backlog(void)
{
	struct fake_task t[302];
	struct fake fk = { t, 0, NULL, 0, 0 };
	struct ac_flow f = flow_of();
	struct ac_flow_plan p;
	struct ac_error err;

	t[fk.n++] = (struct fake_task){ 1, 5, "a", 1, 1 };
	for (int i = 0; i < 300; i++)
		t[fk.n++] = (struct fake_task){ i + 2, 5, "a", 1, 0 };
	t[fk.n++] = (struct fake_task){ 1000, 5, "b", 1, 0 };
	f.per_key = 1;
	check(ac_flow_plan(&fake_ops, &fk, &f, 2, 1000, &p, &err) == 0 &&
	      !strcmp(ids(&p), "1000") && p.capped,
	      "per key: past a page of a key at its limit, the next key is found");
	check(fk.queries <= 6, "per key: in a few queries, not a scan of the backlog");
	ac_flow_plan_release(&p);
	ac_flow_release(&f);
}

int main(void)
{
	test_rates();
	test_refill();
	test_plans();
	test_fair();
	test_keyed_backlog();
	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
