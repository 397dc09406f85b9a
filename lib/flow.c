/* Flow control of task types: the rules of flow.h, over a backend's
 * queries. */
#include "flow.h"
#include "exitcode.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fair claims visit at most this many keys a cycle (blocked ones
 * included), so a cycle stays short however many tenants wait; the
 * cursor carries on from there next time. */
#define FAIR_VISITS_MAX 512
/* Per-key limits: the tasks looked at in claim order, beyond the free
 * slots, before the keys at their limit are passed over by key. */
#define KEYED_PAGE 64

void ac_flow_release(struct ac_flow *f)
{
	if (!f)
		return;
	free(f->type);
	free(f->reason);
	free(f->hold_reason);
	free(f->cursor);
	memset(f, 0, sizeof *f);
}

void ac_flow_free_array(struct ac_flow *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ac_flow_release(&f[i]);
	free(f);
}

void ac_flow_cands_release(struct ac_flow_cand *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i].key);
}

static void keys_release(struct ac_flow_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(keys[i].key);
		free(keys[i].hold_reason);
	}
	free(keys);
}

void ac_flow_plan_release(struct ac_flow_plan *p)
{
	ac_flow_cands_release(p->cands, p->ncands);
	free(p->cands);
	keys_release(p->keys, p->nkeys);
	memset(p, 0, sizeof *p);
}

double ac_flow_refill(double tokens, int64_t at, double rate, double burst,
		      int64_t now)
{
	double t;

	if (rate <= 0 || at <= 0)
		return burst;
	t = tokens + (double)(now - at) * rate / 1000.0;
	return t > burst ? burst : t;
}

static size_t key_index(const struct ac_flow_plan *p, const char *key,
			int *found)
{
	size_t lo = 0, hi = p->nkeys;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->keys[mid].key, key);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

struct ac_flow_key *ac_flow_key_find(struct ac_flow_plan *plan,
				     const char *key)
{
	int found;
	size_t i = key_index(plan, key, &found);

	return found ? &plan->keys[i] : NULL;
}

/* The plan's entry for key, added (sorted) when new; NULL when out of
 * memory. */
static struct ac_flow_key *key_entry(struct ac_flow_plan *p, const char *key)
{
	int found;
	size_t i = key_index(p, key, &found);
	struct ac_flow_key *grown;
	char *copy;

	if (found)
		return &p->keys[i];
	copy = ac_strdup(key);
	grown = copy ? realloc(p->keys, (p->nkeys + 1) * sizeof *grown) : NULL;
	if (!grown) {
		free(copy);
		return NULL;
	}
	p->keys = grown;
	memmove(&p->keys[i + 1], &p->keys[i], (p->nkeys - i) * sizeof *grown);
	memset(&p->keys[i], 0, sizeof p->keys[i]);
	p->keys[i].key = copy;
	p->nkeys++;
	return &p->keys[i];
}

static void wake_within(struct ac_flow_plan *p, int64_t ms)
{
	if (ms < 1)
		ms = 1;
	if (p->wake_ms == 0 || ms < p->wake_ms)
		p->wake_ms = ms;
}

/* Milliseconds until a bucket with `tokens` holds a whole one. */
static int64_t refill_ms(double tokens, double rate)
{
	return (int64_t)ceil((1.0 - tokens) * 1000.0 / rate);
}

/* How many more tasks of key k this plan may take now (LONG_MAX: no
 * limit); notes when a blocked key frees up. */
static long key_budget(const struct ac_flow *f, struct ac_flow_plan *p,
		       const struct ac_flow_key *k, int64_t now)
{
	long budget = LONG_MAX;

	if (k->hold_until > now) {
		wake_within(p, k->hold_until - now);
		return 0;
	}
	if (f->per_key > 0) {
		long left = f->per_key - k->running - k->claimed;

		if (left <= 0)
			p->capped = 1;
		budget = left < budget ? left : budget;
	}
	if (f->key_rate > 0) {
		double tokens = ac_flow_refill(k->tokens, k->tokens_at,
					       f->key_rate, f->burst, now) -
				(double)k->claimed;

		if (tokens < 1) {
			wake_within(p, refill_ms(tokens, f->key_rate));
			return 0;
		}
		if (floor(tokens) < (double)budget)
			budget = (long)floor(tokens);
	}
	return budget > 0 ? budget : 0;
}

/* Take candidate c (moved into the plan) for key entry k. */
static int take(struct ac_flow_plan *p, struct ac_flow_cand *c,
		struct ac_flow_key *k, size_t cap)
{
	if (!p->cands) {
		p->cands = calloc(cap, sizeof *p->cands);
		if (!p->cands)
			return -1;
	}
	p->cands[p->ncands++] = *c;
	c->key = NULL;
	k->claimed++;
	k->last_id = c->id;
	return 0;
}

static int load_keys(const struct ac_flow_ops *ops, void *ctx,
		     const struct ac_flow *f, struct ac_flow_plan *p,
		     int with_running, long *total, struct ac_error *err)
{
	struct ac_flow_key *rows = NULL;
	size_t n = 0;

	*total = 0;
	if (with_running) {
		if (ops->running(ctx, f->type, &rows, &n, total, err) < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			struct ac_flow_key *k = key_entry(p, rows[i].key);

			if (!k) {
				keys_release(rows, n);
				return ac_error_set(err, AC_EXIT_FAILED,
						    "out of memory");
			}
			k->running = rows[i].running;
		}
		keys_release(rows, n);
		rows = NULL;
		n = 0;
	}
	if (f->no_key_rows)
		return 0;
	if (ops->key_rows(ctx, f->type, &rows, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct ac_flow_key *k = key_entry(p, rows[i].key);

		if (!k) {
			keys_release(rows, n);
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
		k->hold_until = rows[i].hold_until;
		k->tokens = rows[i].tokens;
		k->tokens_at = rows[i].tokens_at;
		k->hold_reason = rows[i].hold_reason;
		rows[i].hold_reason = NULL;
	}
	keys_release(rows, n);
	return 0;
}

/* The keys that may take nothing more now, as a JSON array in out;
 * *count gets how many. */
static int blocked_keys(const struct ac_flow *f, struct ac_flow_plan *p,
			int64_t now, struct ac_buf *out, size_t *count,
			struct ac_error *err)
{
	int any = 0;

	*count = 0;
	out->len = 0;
	if (ac_buf_append(out, "[", 1) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	for (size_t i = 0; i < p->nkeys; i++) {
		json_t *s;
		char *text;
		int rc;

		if (key_budget(f, p, &p->keys[i], now) > 0)
			continue;
		s = json_string(p->keys[i].key);
		text = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
		json_decref(s);
		rc = text ? ac_buf_printf(out, "%s%s", any ? "," : "", text) : -1;
		free(text);
		if (rc < 0)
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		any = 1;
		(*count)++;
	}
	if (ac_buf_append(out, "]", 1) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	return 0;
}

static int taken_already(const struct ac_flow_plan *p, int64_t id)
{
	for (size_t i = 0; i < p->ncands; i++)
		if (p->cands[i].id == id)
			return 1;
	return 0;
}

/* Claim order (priority, then oldest), each key within its budget. */
static int plan_ordered(const struct ac_flow_ops *ops, void *ctx,
			struct ac_flow *f, struct ac_flow_plan *p,
			size_t allow, int64_t now, struct ac_error *err)
{
	struct ac_buf skip = { 0 };
	size_t cap = allow, blocked_before = (size_t)-1;
	int rc = 0;

	while (allow > 0) {
		struct ac_flow_cand *c = NULL;
		size_t n = 0, limit = p->ncands + allow + 8, blocked = 0;

		if (blocked_keys(f, p, now, &skip, &blocked, err) < 0) {
			rc = -1;
			break;
		}
		/* Nothing new is blocked, yet the last page gave nothing:
		 * there is no more to find. */
		if (blocked == blocked_before)
			break;
		blocked_before = blocked;
		if (ops->candidates(ctx, f->type, skip.data, limit, &c, &n,
				    err) < 0) {
			rc = -1;
			break;
		}
		for (size_t i = 0; i < n && allow > 0; i++) {
			struct ac_flow_key *k;

			if (taken_already(p, c[i].id))
				continue;
			k = key_entry(p, c[i].key);
			if (!k) {
				rc = ac_error_set(err, AC_EXIT_FAILED,
						  "out of memory");
				break;
			}
			if (key_budget(f, p, k, now) == 0)
				continue;
			if (take(p, &c[i], k, cap) < 0) {
				rc = ac_error_set(err, AC_EXIT_FAILED,
						  "out of memory");
				break;
			}
			allow--;
			blocked_before = (size_t)-1;
		}
		ac_flow_cands_release(c, n);
		free(c);
		if (rc < 0 || n < limit)
			break;
	}
	ac_buf_release(&skip);
	return rc;
}

/* The oldest queued task of the next key of priority prio after *after
 * (NULL: the first key), with *after moved on to its key and *k the
 * plan's entry for it; *found 0 past the last key.  0, or -1. */
static int next_key_head(const struct ac_flow_ops *ops, void *ctx,
			 const struct ac_flow *f, struct ac_flow_plan *p,
			 int prio, char **after, struct ac_flow_cand *c,
			 int *found, int *claimable, struct ac_flow_key **k,
			 struct ac_error *err)
{
	if (ops->key_head(ctx, f->type, prio, *after, c, found, claimable,
			  err) < 0)
		return -1;
	if (!*found)
		return 0;
	free(*after);
	*after = ac_strdup(c->key);
	*k = key_entry(p, c->key);
	if (!*after || !*k) {
		free(c->key);
		c->key = NULL;
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	return 0;
}

/* Per-key limits past a page of keys at their limit: the keys of each
 * priority in key order, one seek a key, the next task of each key that
 * may take more (one round; the next cycle goes on).  Bounded however
 * many tasks the blocked keys have queued (the index of claims by key,
 * made with the limit, makes each seek one). */
static int plan_by_keys(const struct ac_flow_ops *ops, void *ctx,
			struct ac_flow *f, struct ac_flow_plan *p,
			size_t *allow, size_t cap, int64_t now,
			struct ac_error *err)
{
	int prio = INT32_MAX, found = 0, visits = 0;
	char *after = NULL;

	while (*allow > 0 && visits < FAIR_VISITS_MAX) {
		if (ops->top_priority(ctx, f->type, prio, &prio, &found, err) < 0)
			goto fail;
		if (!found)
			break;
		free(after);
		after = NULL;
		while (*allow > 0 && visits++ < FAIR_VISITS_MAX) {
			struct ac_flow_cand c = { 0 };
			struct ac_flow_key *k;
			int claimable = 0;

			if (next_key_head(ops, ctx, f, p, prio, &after, &c,
					  &found, &claimable, &k, err) < 0)
				goto fail;
			if (!found)
				break;
			if (!claimable || key_budget(f, p, k, now) == 0) {
				free(c.key);
				continue;
			}
			/* Its oldest is in the plan already: the next one. */
			if (taken_already(p, c.id)) {
				free(c.key);
				c.key = NULL;
				if (ops->key_next(ctx, f->type, prio, k->key,
						  k->last_id, &c, &found, err) < 0)
					goto fail;
				if (!found)
					continue;
			}
			if (take(p, &c, k, cap) < 0) {
				free(c.key);
				goto oom;
			}
			(*allow)--;
		}
	}
	free(after);
	return 0;
oom:
	ac_error_set(err, AC_EXIT_FAILED, "out of memory");
fail:
	free(after);
	return -1;
}

/* Per-key limits: one page in claim order, each key within its budget;
 * when the page is spent on keys at their limit and slots are left, the
 * rest by key (plan_by_keys), so that a key with a deep backlog at its
 * limit costs a claim one page, not a scan of its backlog. */
static int plan_keyed(const struct ac_flow_ops *ops, void *ctx,
		      struct ac_flow *f, struct ac_flow_plan *p, size_t allow,
		      int64_t now, struct ac_error *err)
{
	struct ac_flow_cand *c = NULL;
	size_t n = 0, cap = allow, limit = allow + KEYED_PAGE;
	int rc = 0;

	if (ops->candidates(ctx, f->type, NULL, limit, &c, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && allow > 0; i++) {
		struct ac_flow_key *k = key_entry(p, c[i].key);

		if (!k) {
			rc = ac_error_set(err, AC_EXIT_FAILED, "out of memory");
			break;
		}
		if (key_budget(f, p, k, now) == 0)
			continue;
		if (take(p, &c[i], k, cap) < 0) {
			rc = ac_error_set(err, AC_EXIT_FAILED, "out of memory");
			break;
		}
		allow--;
	}
	ac_flow_cands_release(c, n);
	free(c);
	if (rc == 0 && allow > 0 && n == limit)
		rc = plan_by_keys(ops, ctx, f, p, &allow, cap, now, err);
	return rc;
}

/* Round-robin across the keys of one priority, from the cursor on. */
static int plan_fair_round(const struct ac_flow_ops *ops, void *ctx,
			   struct ac_flow *f, struct ac_flow_plan *p, int prio,
			   size_t *allow, size_t cap, int64_t now,
			   struct ac_error *err)
{
	char *start = f->cursor ? ac_strdup(f->cursor) : NULL;
	char *after = start ? ac_strdup(start) : NULL;
	int wrapped = !start, visits = 0, rc = 0;

	if (f->cursor && (!start || !after)) {
		free(start);
		free(after);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	while (*allow > 0 && visits++ < FAIR_VISITS_MAX) {
		struct ac_flow_cand c = { 0 };
		struct ac_flow_key *k;
		int found = 0, claimable = 0;

		if (next_key_head(ops, ctx, f, p, prio, &after, &c, &found,
				  &claimable, &k, err) < 0) {
			rc = -1;
			break;
		}
		if (!found) {
			if (wrapped)
				break;
			wrapped = 1;
			free(after);
			after = NULL;
			continue;
		}
		/* Round the circle once: stop past the starting key. */
		if (wrapped && start && strcmp(c.key, start) > 0) {
			free(c.key);
			break;
		}
		if (!claimable || key_budget(f, p, k, now) == 0) {
			k->exhausted = 1;
			free(c.key);
			continue;
		}
		if (take(p, &c, k, cap) < 0) {
			free(c.key);
			rc = ac_error_set(err, AC_EXIT_FAILED, "out of memory");
			break;
		}
		(*allow)--;
		free(f->cursor);
		f->cursor = ac_strdup(k->key);
		if (!f->cursor) {
			rc = ac_error_set(err, AC_EXIT_FAILED, "out of memory");
			break;
		}
		if (wrapped && start && !strcmp(k->key, start))
			break;
	}
	free(start);
	free(after);
	if (rc < 0)
		return -1;
	/* Slots left over: more rounds over the keys served, one task each
	 * a round, while any has more. */
	while (*allow > 0) {
		int progress = 0;

		for (size_t i = 0; i < p->nkeys && *allow > 0; i++) {
			struct ac_flow_key *k = &p->keys[i];
			struct ac_flow_cand c = { 0 };
			int found = 0;

			if (!k->last_id || k->exhausted)
				continue;
			if (key_budget(f, p, k, now) == 0) {
				k->exhausted = 1;
				continue;
			}
			if (ops->key_next(ctx, f->type, prio, k->key, k->last_id,
					  &c, &found, err) < 0)
				return -1;
			if (!found) {
				k->exhausted = 1;
				continue;
			}
			if (take(p, &c, k, cap) < 0) {
				free(c.key);
				return ac_error_set(err, AC_EXIT_FAILED,
						    "out of memory");
			}
			(*allow)--;
			progress = 1;
		}
		if (!progress)
			break;
	}
	return 0;
}

static int plan_fair(const struct ac_flow_ops *ops, void *ctx,
		     struct ac_flow *f, struct ac_flow_plan *p, size_t allow,
		     int64_t now, struct ac_error *err)
{
	size_t cap = allow;
	int prio = INT32_MAX, found = 0;

	while (allow > 0) {
		if (ops->top_priority(ctx, f->type, prio, &prio, &found, err) < 0)
			return -1;
		if (!found)
			break;
		for (size_t i = 0; i < p->nkeys; i++) {
			p->keys[i].last_id = 0;
			p->keys[i].exhausted = 0;
		}
		if (plan_fair_round(ops, ctx, f, p, prio, &allow, cap, now,
				    err) < 0)
			return -1;
	}
	return 0;
}

/* A plan that empties the bucket says when the next token comes, in case
 * more tasks wait. */
static void rate_wake(const struct ac_flow *f, struct ac_flow_plan *p)
{
	double left = f->tokens - (double)p->ncands;

	if (f->rate > 0 && left < 1)
		wake_within(p, refill_ms(left, f->rate));
}

int ac_flow_plan(const struct ac_flow_ops *ops, void *ctx, struct ac_flow *f,
		 size_t want, int64_t now, struct ac_flow_plan *plan,
		 struct ac_error *err)
{
	size_t allow = want;
	long total = 0;
	int keyed;

	memset(plan, 0, sizeof *plan);
	if (f->burst < 1)
		f->burst = 1;
	if (f->paused || want == 0)
		return 0;
	if (f->hold_until > now) {
		wake_within(plan, f->hold_until - now);
		return 0;
	}
	if (f->rate > 0) {
		f->tokens = ac_flow_refill(f->tokens, f->tokens_at, f->rate,
					   f->burst, now);
		f->tokens_at = now;
		if (f->tokens < 1) {
			wake_within(plan, refill_ms(f->tokens, f->rate));
			return 0;
		}
		if (floor(f->tokens) < (double)allow)
			allow = (size_t)floor(f->tokens);
	}
	if (load_keys(ops, ctx, f, plan, f->concurrency > 0 || f->per_key > 0,
		      &total, err) < 0) {
		ac_flow_plan_release(plan);
		return -1;
	}
	if (f->concurrency > 0) {
		long left = f->concurrency - total;

		if ((size_t)(left > 0 ? left : 0) < want)
			plan->capped = 1;
		if (left <= 0)
			return 0;
		if ((size_t)left < allow)
			allow = (size_t)left;
	}
	keyed = f->per_key > 0 || f->key_rate > 0 || f->fair;
	for (size_t i = 0; i < plan->nkeys && !keyed; i++)
		keyed = plan->keys[i].hold_until > now;
	if (!keyed) {
		struct ac_flow_cand *c = NULL;
		size_t n = 0;

		if (ops->candidates(ctx, f->type, NULL, allow, &c, &n, err) < 0) {
			ac_flow_plan_release(plan);
			return -1;
		}
		plan->cands = c;
		plan->ncands = n;
		rate_wake(f, plan);
		return 0;
	}
	/* Fair and per-key types have the index of claims by key; a type
	 * with only held keys has not, and filters them out instead. */
	if ((f->fair ? plan_fair : f->per_key > 0 || f->key_rate > 0 ?
	     plan_keyed : plan_ordered)(ops, ctx, f, plan, allow, now,
					err) < 0) {
		ac_flow_plan_release(plan);
		return -1;
	}
	rate_wake(f, plan);
	return 0;
}

void ac_flow_claimed(struct ac_flow *f, struct ac_flow_plan *plan,
		     const char *const *keys, size_t n, int64_t now)
{
	if (f->rate > 0) {
		f->tokens -= (double)n;
		f->tokens_at = now;
	}
	for (size_t i = 0; i < plan->nkeys; i++)
		plan->keys[i].claimed = 0;
	for (size_t i = 0; i < n; i++) {
		struct ac_flow_key *k = ac_flow_key_find(plan, keys[i]);

		if (k)
			k->claimed++;
	}
	if (f->key_rate <= 0)
		return;
	for (size_t i = 0; i < plan->nkeys; i++) {
		struct ac_flow_key *k = &plan->keys[i];

		if (!k->claimed)
			continue;
		k->tokens = ac_flow_refill(k->tokens, k->tokens_at, f->key_rate,
					   f->burst, now) - (double)k->claimed;
		k->tokens_at = now;
	}
}

int ac_flow_parse_rate(const char *text, double *per_second)
{
	char *end;
	double n;

	if (!strcmp(text, "off") || !strcmp(text, "none") ||
	    !strcmp(text, "0")) {
		*per_second = 0;
		return 0;
	}
	errno = 0;
	n = strtod(text, &end);
	if (errno || end == text || !isfinite(n) || n <= 0 || *end != '/')
		return -1;
	if (!strcmp(end, "/s"))
		*per_second = n;
	else if (!strcmp(end, "/m"))
		*per_second = n / 60.0;
	else if (!strcmp(end, "/h"))
		*per_second = n / 3600.0;
	else
		return -1;
	return *per_second > 1e6 ? -1 : 0;
}

void ac_flow_format_rate(double per_second, char *out, size_t size)
{
	static const struct {
		double seconds;
		const char *unit;
	} units[] = { { 1, "s" }, { 60, "m" }, { 3600, "h" } };

	/* The first unit in which the rate is a whole number (to 1e-6),
	 * else per second with decimals. */
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		double n = per_second * units[i].seconds;

		if (n >= 1 && fabs(n - round(n)) < 1e-6 * n) {
			snprintf(out, size, "%.0f/%s", round(n), units[i].unit);
			return;
		}
	}
	snprintf(out, size, "%g/s", per_second);
}
