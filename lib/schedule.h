/* Schedules (ac-schedule): the rules every backend follows when it fires
 * them, written once.  A backend keeps, per schedule, the next slot not yet
 * dealt with (next_at, wall-clock ms by the store's clock); when a worker
 * asks it to fire, it locks the due rows and lets ac_schedule_step say
 * what each does: fire its latest slot (once, however many passed while
 * every worker was down, if that slot is within the catch-up window),
 * count the slots that passed unfired, and move on to the first slot
 * after now.  Moving next_at forward in the same transaction as the
 * submit is what makes a slot fire once across the cluster; the task's
 * idempotency key (one per slot) makes sure of it. */
#ifndef AC_SCHEDULE_H
#define AC_SCHEDULE_H

#include <stdint.h>

#include "error.h"

/* A slot found this late still fires even with --catch-up 0: a worker's
 * timer and a commit take some time. */
#define AC_SCHEDULE_GRACE_MS 10000
/* Missed slots are counted up to this many in one step. */
#define AC_SCHEDULE_MISSED_MAX 100000
/* The catch-up window when none is given. */
#define AC_SCHEDULE_CATCH_UP_DEFAULT_MS (3600 * 1000)

/* 1 when name is 1-64 of [A-Za-z0-9_.-] (it is part of idempotency keys
 * and of file-like listings), else 0. */
int ac_schedule_name_ok(const char *name);

/* "allow", "skip", "cancel-previous" <-> enum ac_overlap (store.h). */
int ac_overlap_parse(const char *s, int *out);
const char *ac_overlap_name(int overlap);

/* The first slot strictly after now_ms in *next_at (0: the expression
 * never fires again).  -1 with err for a bad expression or zone. */
int ac_schedule_first(const char *cron, const char *tz, int64_t now_ms,
		      int64_t *next_at, struct ac_error *err);

struct ac_schedule_step {
	int64_t fire_slot;  /* the slot to submit a task for; 0 = none */
	int64_t missed;     /* slots that pass without a task */
	int64_t next_at;    /* the first slot after now; 0 = never again */
};

/* What a schedule whose next slot is next_at (<= now_ms) does now. */
int ac_schedule_step(const char *cron, const char *tz, int64_t next_at,
		     int64_t catch_up_ms, int64_t now_ms,
		     struct ac_schedule_step *out, struct ac_error *err);

/* The metadata of a schedule's task: the schedule's own (a JSON object
 * text, or NULL) with "schedule" and "slot" (RFC 3339, null for a run by
 * hand) added.  New string, or NULL when out of memory or meta is not an
 * object. */
char *ac_schedule_meta(const char *meta, const char *name, int64_t slot_ms);

/* The idempotency key of a slot's task: "ac-schedule:NAME:SLOT_MS" (slot
 * 0, a run by hand, gets "ac-schedule:NAME:run:NOW_MS").  New string or
 * NULL.  Listing a schedule's tasks is a range scan of these keys. */
char *ac_schedule_key(const char *name, int64_t slot_ms, int64_t now_ms);

#endif
