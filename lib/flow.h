/* Flow control of task types (ac-queue): concurrency caps, rate limits,
 * pauses and holds, fair claims across route keys.
 *
 * The rules live here once, in C; each store backend supplies a few
 * queries (struct ac_flow_ops) and runs the plan inside its claim
 * transaction, with the type's row locked (PostgreSQL: FOR UPDATE; SQLite
 * has one writer at a time), so a cap holds across every worker and host.
 *
 * Times are the store's clock in milliseconds (SQLite: the lease clock,
 * which a step of the wall clock does not move).  A task without a route
 * key counts under the empty key "".  Strings in these structures are
 * owned by them and freed by the matching release function. */
#ifndef AC_FLOW_H
#define AC_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* One type's stored controls. */
struct ac_flow {
	char *type;
	int paused;
	char *reason;             /* why paused, or NULL */
	int64_t paused_at;        /* wall clock, for display; 0 = none */
	int64_t hold_until;       /* store clock; 0 = no hold */
	char *hold_reason;
	long concurrency;         /* running tasks of the type; 0 = no cap */
	long per_key;             /* running tasks per key; 0 = no cap */
	double rate;              /* claims per second; 0 = none */
	double key_rate;          /* claims per second per key; 0 = none */
	double burst;             /* token bucket size (both buckets), >= 1 */
	int fair;                 /* round-robin across keys in one priority */
	char *cursor;             /* fair: the key served last, or NULL */
	double tokens;            /* type bucket, as of tokens_at */
	int64_t tokens_at;
	int no_key_rows;          /* the backend knows the type has no key
				   * rows: key_rows need not be asked */
};

void ac_flow_release(struct ac_flow *f);
void ac_flow_free_array(struct ac_flow *f, size_t n);

/* One route key's stored state (holds and its bucket), plus how many of
 * its tasks run (filled by the plan). */
struct ac_flow_key {
	char *key;
	int64_t hold_until;       /* 0 = none */
	char *hold_reason;
	double tokens;
	int64_t tokens_at;        /* 0 = no stored bucket: a full one */
	long running;
	long claimed;             /* by this plan */
	int64_t last_id;          /* fair: the last task taken of this key */
	int exhausted;            /* fair: no more tasks claimable here */
};

/* A task the plan would claim. */
struct ac_flow_cand {
	int64_t id;
	int priority;
	char *key;                /* "" when the task has none */
};

void ac_flow_cands_release(struct ac_flow_cand *c, size_t n);

/* The queries a backend answers, inside its claim transaction.  Each
 * returns 0, or -1 with err.  Candidates are claimable by this worker
 * (queued, routed to it or to nobody, tags matching). */
struct ac_flow_ops {
	/* Up to limit candidates of type in claim order (priority, then
	 * oldest), skipping tasks whose key is in the JSON array skip_keys
	 * (NULL: none).  *out is a new array of *n. */
	int (*candidates)(void *ctx, const char *type, const char *skip_keys,
			  size_t limit, struct ac_flow_cand **out, size_t *n,
			  struct ac_error *err);
	/* Fair order.  The oldest queued task of type at priority prio
	 * whose key sorts after `after` (NULL: any key), claimable by this
	 * worker or not: *found 0 when there is none; *claimable says
	 * whether this worker may take it. */
	int (*key_head)(void *ctx, const char *type, int prio,
			const char *after, struct ac_flow_cand *out,
			int *found, int *claimable, struct ac_error *err);
	/* The oldest claimable task of type, priority prio and key, with an
	 * id above after_id: *found 0 when none. */
	int (*key_next)(void *ctx, const char *type, int prio, const char *key,
			int64_t after_id, struct ac_flow_cand *out, int *found,
			struct ac_error *err);
	/* The highest priority of a queued task of type below `below`
	 * (INT32_MAX: any): *found 0 when none. */
	int (*top_priority)(void *ctx, const char *type, int below, int *prio,
			    int *found, struct ac_error *err);
	/* Running tasks of type, counted by key (new array of *n keys with
	 * only key and running set) and in all (*total). */
	int (*running)(void *ctx, const char *type, struct ac_flow_key **keys,
		       size_t *n, long *total, struct ac_error *err);
	/* The stored key rows of type (holds, buckets): new array of *n. */
	int (*key_rows)(void *ctx, const char *type, struct ac_flow_key **keys,
			size_t *n, struct ac_error *err);
};

/* What a plan decided for one type. */
struct ac_flow_plan {
	struct ac_flow_cand *cands;  /* in the order chosen */
	size_t ncands;
	struct ac_flow_key *keys;    /* sorted by key */
	size_t nkeys;
	int64_t wake_ms;             /* > 0: claimable again in this long
				      * (a bucket refills, a hold ends) */
	int capped;                  /* a concurrency cap (of the type or of
				      * a key) held claims back */
};

void ac_flow_plan_release(struct ac_flow_plan *p);

/* Plan the claims of type f->type for up to want free slots at time now.
 * f's bucket is refilled as of now (the caller saves it after claiming). */
int ac_flow_plan(const struct ac_flow_ops *ops, void *ctx, struct ac_flow *f,
		 size_t want, int64_t now, struct ac_flow_plan *plan,
		 struct ac_error *err);

/* The candidates actually claimed (their keys): take tokens from the
 * type's bucket and from each key's, and move the fair cursor.  The
 * caller then saves f (tokens, tokens_at = now, cursor) and, when
 * f->key_rate is set, the rows of plan->keys with claimed > 0. */
void ac_flow_claimed(struct ac_flow *f, struct ac_flow_plan *plan,
		     const char *const *keys, size_t n, int64_t now);

/* The key of a key-aware entry: the row of plan for key, or NULL. */
struct ac_flow_key *ac_flow_key_find(struct ac_flow_plan *plan,
				     const char *key);

/* A bucket of size burst, refilled at rate per second, from (tokens at
 * `at`) to now. */
double ac_flow_refill(double tokens, int64_t at, double rate, double burst,
		      int64_t now);

/* Parse a rate: "N/s", "N/m" or "N/h" (N a positive number, fractions
 * allowed), or "off"/"0" (none).  *per_second gets the rate; 0, or -1 on a
 * malformed rate. */
int ac_flow_parse_rate(const char *text, double *per_second);

/* "5/s", "30/m", "0.5/s": the shortest exact form of a rate. */
void ac_flow_format_rate(double per_second, char *out, size_t size);

#endif
