/* The store: the one source of truth for tasks and workers.
 *
 * Every backend is a `const struct ac_store_ops` (SQLite in store_sqlite.c,
 * PostgreSQL in store_pg.c) and passes the same contract tests.  Callers use the
 * ac_store_* wrappers below.  Strings passed in are borrowed for the length
 * of the call.  JSON trees returned through json_t ** are new references the
 * caller must json_decref().  Every function returns 0 on success or -1 with
 * err filled (exit code AC_EXIT_UNAVAILABLE when the store itself failed). */
#ifndef AC_STORE_H
#define AC_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum ac_task_status {
	AC_TASK_PENDING,   /* delayed or waiting out a retry back-off */
	AC_TASK_QUEUED,    /* due: any capable worker may claim it */
	AC_TASK_RUNNING,
	AC_TASK_COMPLETED,
	AC_TASK_FAILED,
	AC_TASK_CANCELLED,
	AC_TASK_TIMEOUT,
	AC_TASK_EXPIRED,
	AC_TASK_STATUS_COUNT
};

const char *ac_task_status_name(enum ac_task_status status);
int ac_task_status_parse(const char *name, enum ac_task_status *out);
int ac_task_status_final(enum ac_task_status status);

/* Priority names of DESIGN.md; an integer is taken as is. */
int ac_priority_parse(const char *s, int *out);

/* A new task, as ac-submit hands it to the store. */
struct ac_task_spec {
	const char *type;
	const char *data;            /* compact JSON text, data_len bytes,
				      * NUL-terminated there */
	size_t data_len;
	int priority;
	int max_retries;
	int64_t timeout_ms;          /* per attempt; 0 = none */
	int64_t delay_ms;            /* 0 = due at once */
	const char *route_key;       /* NULL = none */
	const char *tags;            /* JSON array of required tags, or NULL */
	const char *meta;            /* JSON object, or NULL */
	const char *idempotency_key; /* NULL = none */
	int max_reclaims;            /* lost attempts before it fails (poison) */
	const char *assigned;        /* worker chosen by routing, or NULL */
	int64_t expires_ms;          /* not started within this long of the
				      * submit: it ends expired, never run;
				      * 0 = never */
	/* Task graphs.  parent: the task whose handler submits this one
	 * (ac-submit inside a handler: AC_TASK_ID), shown as its parent; a
	 * cancel of the parent cancels it while unfinished.  An unknown
	 * parent is an error, unless parent_soft (the id came from the
	 * environment and may name a task of another store): then none. */
	int64_t parent;              /* 0 = none */
	int parent_soft;
	/* after: the task stays pending until each of these has ended; with
	 * AC_AFTER_ALL_OK a parent that did not complete cancels it (and,
	 * through it, its own dependents under all-ok).  Each id must exist;
	 * one that already ended counts at once.  Chains deeper than
	 * AC_GRAPH_DEPTH_MAX are refused. */
	const int64_t *after;
	size_t nafter;
	int after_policy;            /* enum ac_after_policy */
	/* W3C trace context of the submitter (validated by the caller), kept
	 * with the task for its handler and its spans; NULL = none. */
	const char *traceparent;
	/* Budgets (budget_set has the rules): the task is charged to the
	 * budget named `budget`, which must exist unless budget_limits is
	 * given: then it is made or its limits set to these, in the same
	 * transaction.  budget_limits without a name: a budget of the task's
	 * own, named "task-ID" (or the batch's: ac_batch_spec).  NULL =
	 * none. */
	const char *budget;
	const char *budget_limits;   /* JSON object {"tokens":N,...} */
};

enum ac_after_policy {
	AC_AFTER_ALL_OK = 0,         /* run once all completed; else cancelled */
	AC_AFTER_ALL_DONE = 1        /* run once all ended, however */
};

/* The longest chain of dependencies and sub-tasks a task may end: a
 * cancel travels down it inside one transaction, by triggers, which both
 * stores nest only so deep. */
#define AC_GRAPH_DEPTH_MAX 100

/* A batch of tasks (ac-submit --batch) with an optional continuation:
 * submit_many records the batch and sets ids. */
struct ac_batch_spec {
	const struct ac_task_spec *then; /* run once every task of the batch
					  * has ended, with data {"batch":ID,
					  * "completed":[ids],"failed":[ids]}
					  * (its own data is replaced); or NULL */
	const char *budget_limits;   /* one budget for the whole batch, named
				      * "batch-ID", with these limits (JSON
				      * object); its tasks have no budget of
				      * their own; or NULL */
	/* out: */
	int64_t id;
	int64_t then_id;             /* 0 without a continuation */
};

struct ac_submitted {
	int64_t id;
	int existed;                 /* 1: the idempotency key named an old task */
};

/* A cron schedule (ac-schedule; cron.h has the syntax): the workers fire
 * it, exactly one task per slot across the cluster. */
enum ac_overlap {
	AC_OVERLAP_ALLOW = 0,        /* a slot fires whatever runs */
	AC_OVERLAP_SKIP = 1,         /* skipped while the last task is unfinished */
	AC_OVERLAP_CANCEL = 2        /* cancel-previous: the last one is cancelled */
};

struct ac_schedule_spec {
	const char *name;            /* [A-Za-z0-9_.-], 1-64 bytes */
	const char *cron;            /* the expression as given */
	const char *tz;              /* IANA zone; NULL = UTC */
	int overlap;                 /* enum ac_overlap */
	int64_t catch_up_ms;         /* a slot missed by no more than this
				      * (all workers down) still fires once */
	struct ac_task_spec task;    /* what each slot submits (its
				      * idempotency key, parent and after are
				      * not used) */
};

/* What firing schedules did (schedules_fire, schedule_run). */
enum ac_fired_kind {
	AC_FIRED_TASK,               /* a task was submitted for the slot */
	AC_FIRED_SKIPPED,            /* overlap skip: the last task runs on */
	AC_FIRED_MISSED              /* slots past their catch-up window */
};

struct ac_fired {
	char *name;                  /* owned */
	char *type;                  /* owned */
	enum ac_fired_kind kind;
	int64_t slot_ms;             /* the slot (wall clock); 0 = a manual run */
	int64_t task_id;             /* AC_FIRED_TASK; else the one still
				      * running (SKIPPED) or 0 */
	int64_t cancelled_id;        /* cancel-previous: the task cancelled */
	int64_t missed;              /* slots missed (MISSED) */
};

void ac_fired_free(struct ac_fired *fired, size_t n);

enum ac_schedule_change {
	AC_SCHEDULE_PAUSE,
	AC_SCHEDULE_RESUME,
	AC_SCHEDULE_REMOVE
};

/* A worker as it registers itself. */
struct ac_worker_record {
	const char *id;
	const char *host;
	long pid;
	int concurrency;
	const char *tags;            /* JSON array */
	const char *handlers;        /* JSON array of task types */
	const char *listen;          /* NULL until there is a control socket */
	const char *metrics;         /* NULL when not serving metrics */
	int64_t heartbeat_ms;
	int64_t lease_ms;
};

/* What a worker reports of itself on every write. */
struct ac_worker_state {
	const char *status;          /* idle, busy, draining, stopped, error */
	int running;
	int64_t completed;
	int64_t failed;
};

/* What the store tells a worker back: operators' requests kept in the store. */
struct ac_worker_control {
	int drain;                   /* drained by ac-drain: claim nothing */
	int stop;                    /* ac-drain --stop: exit once idle */
	int64_t wake_ms;             /* out of a cycle: queued tasks were left
				      * by a rate limit or a hold that allows
				      * a claim again in this many ms (claim
				      * then); 0 = none */
	int capped;                  /* out of a cycle: a concurrency cap held
				      * claims back, so an end of a task may
				      * make room (claim again once ends are
				      * recorded) */
};

struct ac_claim_request {
	const char *const *types;    /* task types this worker handles */
	size_t ntypes;
	const char *tags;            /* JSON array of the worker's tags */
	size_t max;                  /* free slots */
	int64_t lease_ms;
	/* Tasks of this worker whose handlers have exited but whose ends
	 * are still on their way to the store (a committer's): a
	 * concurrency cap does not count them as running.  NULL when none. */
	const int64_t *ended;
	size_t nended;
};

/* A claimed task; owned by the caller, freed with ac_claimed_release(). */
struct ac_claimed {
	int64_t id;
	char *type;
	char *data;
	size_t data_len;
	int priority;
	int attempt;
	int64_t timeout_ms;
	char *route_key;
	char *checkpoint;            /* JSON text of the last checkpoint, or NULL */
	int has_after;               /* it waited for other tasks (task_parents) */
	char *parents;               /* the worker's: task_parents as JSON text,
				      * or NULL */
	char *traceparent;           /* the submitter's trace context, or NULL */
};

void ac_claimed_release(struct ac_claimed *task);

/* How a task stands, for a waiting submitter (task_ends). */
struct ac_task_end {
	int64_t id;
	enum ac_task_status status;
	char *result;                /* compact JSON once completed (owned) */
	char *error;                 /* once it ended otherwise (owned), or NULL */
};

void ac_task_ends_release(struct ac_task_end *ends, size_t n);
void ac_claimed_free_array(struct ac_claimed *tasks, size_t n);

enum ac_outcome_kind {
	AC_OUTCOME_COMPLETED,
	AC_OUTCOME_FAILED,          /* uses an attempt; retried while any remain */
	AC_OUTCOME_TEMPFAIL,        /* exit 75: retried without using an attempt */
	AC_OUTCOME_TIMEOUT,         /* uses an attempt; final status timeout */
	AC_OUTCOME_CANCELLED,       /* ended by ac-cancel: final */
	AC_OUTCOME_RELEASED,        /* handed back by a stopping worker: queued
				     * again at once, no attempt used */
	AC_OUTCOME_CRASHED,         /* a stream handler died mid-task: queued
				     * again at once, counted as a reclaim
				     * (failed as a poison task after
				     * max_reclaims), no attempt used */
	AC_OUTCOME_SNOOZED          /* {"snooze":SEC}: pending for delay_ms,
				     * no attempt used */
};

/* The end of one attempt, fenced by (id, attempt, worker). */
struct ac_outcome {
	int64_t id;
	int attempt;
	enum ac_outcome_kind kind;
	const char *result;          /* compact JSON when completed */
	size_t result_len;
	const char *error;           /* text when not completed */
	int64_t delay_ms;            /* TEMPFAIL, SNOOZED: due again after this
				      * long (0: TEMPFAIL's default) */
	int64_t hold_ms;             /* TEMPFAIL with retry_after: hold the
				      * task's type across the cluster this
				      * long (0: none) ... */
	int hold_key;                /* ... or only its route key (1) */
	/* out: */
	int accepted;                /* 0: refused, the attempt no longer owns it */
	enum ac_task_status status;  /* the task's status after the write */
};

struct ac_task_filter {
	int has_status;
	enum ac_task_status status;
	const char *type;            /* NULL = any */
	long limit;                  /* newest first */
};

/* Ended tasks, for the dead-letter set (ac-queue failed, requeue). */
struct ac_ended_filter {
	unsigned statuses;           /* bits 1 << status; 0 = failed, timeout */
	const char *type;            /* NULL = any */
	int64_t since_ms;            /* ended within this long; 0 = any time */
	long limit;                  /* newest first; 0 = all */
};

/* A change of one type's flow control (ac-queue; flow.h has the rules).
 * `set` says which fields apply. */
enum ac_queue_field {
	AC_QUEUE_CONCURRENCY = 1 << 0,
	AC_QUEUE_PER_KEY = 1 << 1,
	AC_QUEUE_RATE = 1 << 2,
	AC_QUEUE_KEY_RATE = 1 << 3,
	AC_QUEUE_BURST = 1 << 4,
	AC_QUEUE_FAIR = 1 << 5,
	AC_QUEUE_PAUSE = 1 << 6,     /* paused, with reason */
	AC_QUEUE_RESUME = 1 << 7,    /* lift the pause and every hold (or only
				      * key's hold, when key is set) */
	AC_QUEUE_HOLD = 1 << 8,      /* hold the type (or key) for hold_ms */
	AC_QUEUE_CLEAR = 1 << 9      /* drop every limit (not the pause) */
};

struct ac_queue_change {
	unsigned set;
	long concurrency;            /* 0 = no cap */
	long per_key;                /* 0 = no cap */
	double rate;                 /* per second; 0 = none */
	double key_rate;             /* per second and key; 0 = none */
	double burst;                /* bucket size, >= 1 */
	int fair;
	const char *reason;          /* PAUSE, HOLD: why, or NULL */
	int64_t hold_ms;
	const char *key;             /* HOLD, RESUME: one route key, or NULL */
};

/* A running attempt a worker holds. */
struct ac_lease {
	int64_t id;
	int attempt;
};

/* What a handler reported on its side channel; unset fields are skipped. */
struct ac_report {
	double progress;             /* 0..1, or < 0 for none */
	const char *usage;           /* JSON object, added to the task's totals */
	const char *log;             /* text appended to the task's log */
};

enum ac_drain_flags {
	AC_DRAIN_SET = 0,
	AC_DRAIN_UNDO = 1,
	AC_DRAIN_STOP = 2
};

struct ac_store;

struct ac_store_ops {
	const char *name;
	int (*open)(const char *url, int create, struct ac_store **out,
		    struct ac_error *err);
	void (*close)(struct ac_store *store);

	/* All n tasks in one transaction: all or nothing. */
	int (*submit)(struct ac_store *store, const struct ac_task_spec *specs,
		      size_t n, struct ac_submitted *out, struct ac_error *err);
	/* The same for a batch too big to hold as one array of specs: the
	 * tasks next() hands over, a chunk at a time, in one transaction,
	 * all or nothing.  next(ctx, specs, max) fills up to max specs (their
	 * strings valid until it is called again) and returns how many, 0
	 * at the end; once a chunk is inserted, stored(ctx, out, n) gets its
	 * results in order (to be used only if this returns 0). */
	int (*submit_many)(struct ac_store *store,
			   size_t (*next)(void *ctx, struct ac_task_spec *specs,
					  size_t max),
			   void (*stored)(void *ctx,
					  const struct ac_submitted *out,
					  size_t n),
			   void *ctx, struct ac_batch_spec *batch,
			   struct ac_error *err);
	/* Put a failed, timed-out, cancelled or expired task back in the queue. */
	int (*retry)(struct ac_store *store, int64_t id, struct ac_error *err);
	/* Statuses of ids; an unknown id is an error. */
	int (*task_states)(struct ac_store *store, const int64_t *ids, size_t n,
			   enum ac_task_status *out, struct ac_error *err);
	int (*task_get)(struct ac_store *store, int64_t id, json_t **out,
			struct ac_error *err);
	/* Status of each of n tasks, with the result and error of those that
	 * ended: what a waiting submitter prints, many tasks a call.  An
	 * unknown id is an error; out[i].id is ids[i]. */
	int (*task_ends)(struct ac_store *store, const int64_t *ids, size_t n,
			 struct ac_task_end *out, struct ac_error *err);
	int (*tasks_list)(struct ac_store *store,
			  const struct ac_task_filter *filter, json_t **out,
			  struct ac_error *err);
	int (*queue_depth)(struct ac_store *store, json_t **out,
			   struct ac_error *err);
	/* Task counts by status: {"queued":N,...} */
	int (*task_counts)(struct ac_store *store, json_t **out,
			   struct ac_error *err);

	int (*workers_list)(struct ac_store *store, json_t **out,
			    struct ac_error *err);
	/* Register or re-register a worker; refuses an id that is alive
	 * elsewhere. */
	int (*worker_register)(struct ac_store *store,
			       const struct ac_worker_record *rec,
			       struct ac_worker_control *ctl,
			       struct ac_error *err);
	/* Replace the task types (a JSON array) of a worker's row after it
	 * re-read its handlers.  Nothing else of the row changes, unlike a
	 * register, which starts the worker afresh and takes its tasks back:
	 * the tasks it runs keep their leases.  An unknown id is an error
	 * (exit code 1). */
	int (*worker_set_handlers)(struct ac_store *store,
				   const char *worker_id, const char *handlers,
				   struct ac_error *err);
	/* One transaction: record outcomes (each fenced), update the worker's
	 * row, then, unless claim is NULL or the worker is drained, claim up to
	 * claim->max tasks.  *claimed is a new array (or NULL) of *nclaimed. */
	int (*worker_cycle)(struct ac_store *store, const char *worker_id,
			    const struct ac_worker_state *state,
			    struct ac_outcome *outcomes, size_t noutcomes,
			    const struct ac_claim_request *claim,
			    struct ac_claimed **claimed, size_t *nclaimed,
			    struct ac_worker_control *ctl, struct ac_error *err);
	/* Renew the worker's heartbeat and the leases it holds: renewed[i]
	 * says whether held[i] still belongs to it (a lease that ran out is
	 * never renewed: another attempt may own the task). */
	int (*worker_heartbeat)(struct ac_store *store, const char *worker_id,
				const struct ac_worker_state *state,
				int64_t lease_ms, const struct ac_lease *held,
				size_t nheld, int *renewed,
				struct ac_worker_control *ctl,
				struct ac_error *err);
	/* Take back every task whose lease ran out (any worker may do this):
	 * queued again after a back-off, or failed once it was lost
	 * max_reclaims times, or cancelled if a cancel was asked for. */
	int (*sweep)(struct ac_store *store, size_t *reclaimed,
		     struct ac_error *err);
	/* Mark workers whose heartbeat is older than their lease as lost;
	 * *ids is a malloc'd array of the *n newly lost (each malloc'd). */
	int (*mark_lost)(struct ac_store *store, char ***ids, size_t *n,
			 struct ac_error *err);
	/* Store a checkpoint of a running attempt, durably.  0 stored, 1
	 * refused (the attempt no longer owns the task), -1 error. */
	int (*task_checkpoint)(struct ac_store *store, const char *worker_id,
			       const struct ac_lease *lease, const char *json,
			       size_t len, struct ac_error *err);
	/* Keep progress, usage and log lines on a running attempt's task;
	 * 0, 1 refused, -1 error. */
	int (*task_report)(struct ac_store *store, const char *worker_id,
			   const struct ac_lease *lease,
			   const struct ac_report *report,
			   struct ac_error *err);
	/* Cancel tasks: queued or pending ones at once, running ones by a
	 * request their worker carries out.  All ids must exist and be
	 * unfinished, or nothing changes.  status[i] is the status after. */
	int (*cancel)(struct ac_store *store, const int64_t *ids, size_t n,
		      enum ac_task_status *status, struct ac_error *err);
	/* The worker's running tasks that an operator asked to cancel: a
	 * malloc'd array of *n ids (or NULL). */
	int (*worker_cancels)(struct ac_store *store, const char *worker_id,
			      int64_t **ids, size_t *n, struct ac_error *err);
	/* Drain, undo or stop workers: all ids must exist or nothing changes. */
	int (*drain)(struct ac_store *store, const char *const *ids, size_t n,
		     const char *reason, int flags, struct ac_error *err);
	/* Read the operators' requests for a worker, without writing. */
	int (*worker_control)(struct ac_store *store, const char *worker_id,
			      struct ac_worker_control *ctl,
			      struct ac_error *err);
	/* How many tasks the worker holds running. */
	int (*worker_running)(struct ac_store *store, const char *worker_id,
			      long *running, struct ac_error *err);
	/* Add n to the named counter and return its value before (for
	 * round-robin routing across submitters). */
	int (*counter_add)(struct ac_store *store, const char *name, int64_t n,
			   int64_t *before, struct ac_error *err);
	/* Cheap check whether anything was committed by anyone since the last
	 * call (1) or not (0); backends without a cheap way always say 1. */
	int (*changed)(struct ac_store *store, int *changed,
		       struct ac_error *err);
	/* Remove tasks that ended (any final status, or only `status` when
	 * has_status is set) more than older_than_ms ago, with their
	 * attempts; at most `limit` in one call (0 = all).  *removed gets how
	 * many went.  Their idempotency keys are free again. */
	int (*prune)(struct ac_store *store, int64_t older_than_ms,
		     int has_status, enum ac_task_status status, long limit,
		     size_t *removed, struct ac_error *err);
	/* Tasks that ended as the filter says, newest first: an array of
	 * task objects (as tasks_list). */
	int (*tasks_ended)(struct ac_store *store,
			   const struct ac_ended_filter *filter, json_t **out,
			   struct ac_error *err);
	/* Queue ended tasks again with fresh attempts (retries and reclaims
	 * counted from zero), in one transaction: the n ids (each must have
	 * ended failed, timeout, cancelled or expired, or nothing changes),
	 * or, when n is 0, every task the filter names (of those statuses
	 * only, whatever it names; its limit is not used).  *ids_out is a new
	 * array (or NULL) of the *nout requeued. */
	int (*requeue)(struct ac_store *store, const int64_t *ids, size_t n,
		       const struct ac_ended_filter *filter, int64_t **ids_out,
		       size_t *nout, struct ac_error *err);
	/* Change a type's flow control (limits, pause, holds); a type need
	 * not have tasks yet. */
	int (*queue_set)(struct ac_store *store, const char *type,
			 const struct ac_queue_change *change,
			 struct ac_error *err);
	/* The flow control of every type that has any (or of type, when not
	 * NULL: an empty array when it has none): an array of objects
	 * (ac_queue_row_json). */
	int (*queues_list)(struct ac_store *store, const char *type,
			   json_t **out, struct ac_error *err);

	/* Task graphs.  The tasks a task waited for, as {"ID":{"status",
	 * "result","error"}} (what AC_PARENTS names). */
	int (*task_parents)(struct ac_store *store, int64_t id, json_t **out,
			    struct ac_error *err);
	/* One task's place in its graph: {"id","type","status","parent",
	 * "after":[ids it waits for],"children":[ids it spawned],
	 * "dependents":[ids that wait for it]}.  An unknown id is an error
	 * (exit 2, as task_get). */
	int (*task_links)(struct ac_store *store, int64_t id, json_t **out,
			  struct ac_error *err);
	/* A batch's progress: {"batch","created","total","counts":{status:n},
	 * "then","then_status"}; an unknown id is an error (exit 2). */
	int (*batch_get)(struct ac_store *store, int64_t id, json_t **out,
			 struct ac_error *err);
	/* Mark a running task as waiting for its sub-tasks (a handler's
	 * ac-submit waits) or no longer (on = 0). */
	int (*task_awaiting)(struct ac_store *store, int64_t id, int on,
			     struct ac_error *err);

	/* Schedules.  Add one (replace: or change the one of that name,
	 * keeping its counters; else an existing name is an error, exit 1);
	 * its first slot is the first after now by the store's clock. */
	int (*schedule_add)(struct ac_store *store,
			    const struct ac_schedule_spec *spec, int replace,
			    struct ac_error *err);
	/* Pause, resume (slots passed while paused are not caught up) or
	 * remove; an unknown name is an error (exit 1). */
	int (*schedule_change)(struct ac_store *store, const char *name,
			       enum ac_schedule_change change,
			       const char *reason, struct ac_error *err);
	/* Every schedule (or the named one: an unknown name is an error) as
	 * an array of objects (ac_schedule_row_json). */
	int (*schedules_list)(struct ac_store *store, const char *name,
			      json_t **out, struct ac_error *err);
	/* Fire every schedule whose slot has come, by the store's clock, in
	 * one transaction: a slot belongs to the first caller, so many
	 * workers calling at once submit one task per slot.  *fired is a new
	 * array (or NULL) of *nfired; *next_in_ms the time until the next
	 * slot of any active schedule (-1: none). */
	int (*schedules_fire)(struct ac_store *store, struct ac_fired **fired,
			      size_t *nfired, int64_t *next_in_ms,
			      struct ac_error *err);
	/* Submit the named schedule's task now, outside its slots. */
	int (*schedule_run)(struct ac_store *store, const char *name,
			    struct ac_fired *fired, struct ac_error *err);
	/* Budgets: token and cost accounts shared by every worker.  A
	 * handler's usage reports ({"usage":{"tokens":N,"cost":X}}) are added
	 * to its task's budget and to its type's totals as they come; once
	 * any limit is reached (usage >= limit) the budget is spent, and its
	 * tasks are held: not claimed, shown pending with "held", until the
	 * budget is raised, reset or removed.  Tasks already running finish.
	 *
	 * Make a budget or change it: limits (a JSON object of positive
	 * numbers, e.g. {"tokens":100000,"cost":5}) replace the old ones when
	 * not NULL; reset sets its usage to zero.  Its tasks are held or
	 * released as it now stands.  At least one of the two is given. */
	int (*budget_set)(struct ac_store *store, const char *name,
			  const char *limits, int reset, struct ac_error *err);
	/* Remove a budget: its held tasks are released and charged to none.
	 * An unknown name is an error (exit 1). */
	int (*budget_remove)(struct ac_store *store, const char *name,
			     struct ac_error *err);
	/* Every budget (or the named one: unknown is an error, exit 1) as an
	 * array of objects (ac_budget_json). */
	int (*budgets_list)(struct ac_store *store, const char *name,
			    json_t **out, struct ac_error *err);
	/* The usage every type's tasks reported, summed: {"TYPE":{"tokens":
	 * N,...},...}. */
	int (*usage_by_type)(struct ac_store *store, json_t **out,
			     struct ac_error *err);

	/* A descriptor that turns readable when another process may have
	 * changed something (PostgreSQL: the connection that LISTENs), or -1
	 * when the backend has none.  It may change after a reconnect, so
	 * callers ask again rather than keep it. */
	int (*wait_fd)(struct ac_store *store);
	/* The longest one request to a networked store may take (connecting
	 * included) before the connection is given up and opened again
	 * later; 0 = the backend's default.  A worker keeps it well under
	 * its lease, so that a cut network never holds its loop long. */
	void (*set_deadline)(struct ac_store *store, int64_t ms);

	/* Optional (NULL: outcomes go with worker_cycle).  A store whose
	 * commit waits for a disk flush gives a worker a second handle, a
	 * committer, that writes ends of attempts in the background while the
	 * first one claims.  outcomes_begin sends one durable transaction of
	 * n fenced outcomes (borrowed, with their strings, until the batch is
	 * done) and returns at once; outcomes_fd is the descriptor to watch
	 * while it is in flight (-1 when none is); outcomes_end, called when
	 * it turns readable (and now and then, for the deadline), returns 1
	 * once the batch is durable (accepted and status set on each), 0 while
	 * it is not yet answered, -1 when it did not land (none taken; the
	 * caller tries again later).  A committer handle does nothing else. */
	int (*outcomes_begin)(struct ac_store *store, const char *worker_id,
			      struct ac_outcome *outcomes, size_t n,
			      struct ac_error *err);
	int (*outcomes_fd)(struct ac_store *store);
	int (*outcomes_end)(struct ac_store *store, struct ac_error *err);
};

/* Every backend's handle starts with this. */
struct ac_store {
	const struct ac_store_ops *ops;
};

extern const struct ac_store_ops ac_store_sqlite_ops;
extern const struct ac_store_ops ac_store_pg_ops;

/* 1 when url names a PostgreSQL store (postgres:// or postgresql://). */
int ac_store_url_is_pg(const char *url);
/* The URL to show people: a password in it becomes "***".  New string
 * (NULL when out of memory). */
char *ac_store_url_masked(const char *url);

/* Open the store named by url (see config.h for how the url is chosen).
 * With create = 0 a missing SQLite file is an error rather than created. */
int ac_store_open(const char *url, int create, struct ac_store **out,
		  struct ac_error *err);
void ac_store_close(struct ac_store *store);

/* Shared by the backends: the JSON shapes of DESIGN.md. */
struct ac_task_row {
	int64_t id;
	const char *type;
	const char *status;
	int priority;
	int attempt;
	int max_retries;
	int failures;
	int64_t timeout_ms;
	const char *worker;
	const char *route_key;
	const char *tags;       /* JSON text or NULL */
	const char *meta;       /* JSON text or NULL */
	const char *data;       /* JSON text */
	const char *result;     /* JSON text or NULL */
	const char *error;
	const char *checkpoint; /* JSON text or NULL */
	double progress;        /* < 0 = none */
	const char *usage;      /* JSON text or NULL */
	const char *log;
	int reclaims;
	int max_reclaims;
	int cancel_requested;
	json_t *attempts;       /* array, or NULL; stolen by the JSON built */
	const char *idempotency_key;
	const char *assigned;
	int64_t created, run_at, started, finished, lease_until; /* 0 = none */
	int64_t parent;         /* 0 = none */
	int64_t batch;          /* 0 = none */
	const char *after_policy; /* "all-ok", "all-done", NULL: waits for none */
	int waiting;            /* tasks it still waits for */
	int awaiting;           /* its handler waits for its sub-tasks */
	const char *traceparent;  /* or NULL */
	const char *budget;     /* or NULL */
	int held;               /* pending because its budget is spent */
};
json_t *ac_task_row_json(const struct ac_task_row *row);

/* Shared by the backends: one schedule as a backend reads it, its strings
 * owned (ac_schedule_row_release frees them). */
struct ac_schedule_row {
	char *name, *cron, *tz, *type;
	char *data;             /* JSON text */
	char *route_key, *tags, *meta;  /* or NULL */
	char *reason;           /* why paused, or NULL */
	char *last_status;      /* of last_task, or NULL */
	int priority, max_retries, max_reclaims, overlap, paused;
	int64_t timeout_ms, expires_ms, catch_up_ms;
	int64_t next_at, last_slot, last_task;  /* 0 = none */
	int64_t fired, skipped, missed, created, updated;
};
void ac_schedule_row_release(struct ac_schedule_row *row);
void ac_schedule_rows_free(struct ac_schedule_row *rows, size_t n);
/* As JSON (ac-schedule list). */
json_t *ac_schedule_row_json(const struct ac_schedule_row *row);
/* The task a schedule submits for slot (0: a run by hand): *t filled,
 * its meta and idempotency key new strings in *meta and *key, which the
 * caller frees once the task is stored.  0, or -1 when out of memory. */
int ac_schedule_row_task(const struct ac_schedule_row *row, int64_t slot,
			 int64_t now, struct ac_task_spec *t, char **meta,
			 char **key, struct ac_error *err);
/* One more entry of a fired list (schedules_fire): 0, or -1 when out of
 * memory (the list is unchanged). */
int ac_fired_append(struct ac_fired **list, size_t *n,
		    const struct ac_schedule_row *row, enum ac_fired_kind kind,
		    int64_t slot, int64_t task, int64_t cancelled,
		    int64_t missed);

/* Budgets, shared by the backends.  The name a budget of one task or
 * one batch gets ("task-ID", "batch-ID"), a new string (NULL when out of
 * memory). */
char *ac_budget_own_name(const char *what, int64_t id);
/* 1 when usage (JSON object text, NULL = nothing used) has reached any
 * of limits (JSON object text), else 0. */
int ac_budget_spent(const char *limits, const char *usage);
/* A budget's next state, for budget_set and the charging of usage: its
 * limits (new_limits, when not NULL, replace limits) and its usage (zero
 * when reset, then with add's numbers added, when not NULL), as new
 * strings in *limits_out and *usage_out (NULL: none used), and whether it
 * is now spent.  0, or -1 when out of memory. */
int ac_budget_next(const char *limits, const char *usage,
		   const char *new_limits, int reset, const char *add,
		   char **limits_out, char **usage_out, int *spent);
/* Shared by the backends' submits: a new task's place in its graph, from
 * its parent and the tasks it waits for (--after), read and linked by the
 * backend's link (each marked as having dependents; 0 with its status
 * and depth, 1 when there is no such task, -1): its depth, how many it
 * still waits for, and whether an all-ok parent that ended otherwise
 * dooms it.  Unknown parents and chains deeper than AC_GRAPH_DEPTH_MAX
 * are errors (exit 1).  Parents are linked in the order of their ids,
 * the spawning one first, so that concurrent submits lock rows in one
 * order. */
struct ac_graph_place {
	int64_t parent;        /* the spawning task, 0 = none */
	int depth;
	int waiting;           /* parents not ended yet */
	int64_t doomed_by;     /* an all-ok parent that ended otherwise */
	const char *doomed_status;
	int64_t *after;        /* sorted, without repeats (owned) */
	size_t nafter;
	unsigned char *after_done;  /* owned; after[i] has ended */
};
typedef int ac_graph_link_fn(struct ac_store *store, int64_t id,
			     enum ac_task_status *status, int *depth,
			     struct ac_error *err);
int ac_graph_place(ac_graph_link_fn *link, struct ac_store *store,
		   const struct ac_task_spec *t, struct ac_graph_place *g,
		   struct ac_error *err);
void ac_graph_place_release(struct ac_graph_place *g);

/* Shared by the backends' submits: the budget a new task is charged to,
 * checked before it is inserted (made or changed when limits come with
 * it, else it must exist: exit 1).  check caches the last budget checked
 * in a submit, so that a batch checks its budget once, and whether it is
 * spent (its new tasks are then held).  apply is the backend's
 * budget_set step: 0, 1 when there is no such budget to change, -1. */
struct ac_budget_check {
	const char *name;
	int spent;
};
typedef int ac_budget_apply_fn(struct ac_store *store, const char *name,
			       const char *limits, int create, int *spent,
			       struct ac_error *err);
int ac_budget_for_task(ac_budget_apply_fn *apply, struct ac_store *store,
		       const struct ac_task_spec *t,
		       struct ac_budget_check *check, struct ac_error *err);
/* The run_at of a held task: never due, so that promotion passes it by. */
#define AC_HELD_RUN_AT 9007199254740991LL
#define AC_HELD_RUN_AT_SQL "9007199254740991"   /* the same, in SQL text */
/* A budget as JSON: {name, limits, usage, remaining, spent, spent_at,
 * tasks: {status: n}, held, created, updated}; tasks is stolen. */
struct ac_budget_row {
	const char *name, *limits, *usage;
	int spent;
	int64_t spent_at, created, updated;  /* wall clock ms; 0 = none */
};
/* counts: what ac_budget_count_add gathered ({"NAME":{"tasks":{status:n},
 * "held":n}}, borrowed), read for row's budget; NULL = none. */
json_t *ac_budget_json(const struct ac_budget_row *row, json_t *counts);
/* One row of a budget listing's task counts (by budget, status and held),
 * added to counts, so that a listing reads them in one query rather than
 * one per budget.  0, or -1 when out of memory. */
int ac_budget_count_add(json_t *counts, const char *budget,
			const char *status, int held, int64_t n);
/* What ac-status --usage shows: {"types": usage_by_type, "budgets":
 * budgets_list}.  0, or -1 with err. */
int ac_usage_report(struct ac_store *store, json_t **out,
		    struct ac_error *err);
/* The same as rows for a table: {"of":"type"|"budget","name","usage",
 * "limits","spent","held"}; a new array, or NULL when out of memory. */
json_t *ac_usage_rows(json_t *report);

/* Check a budget's name ([A-Za-z0-9_.:-], 1-64 bytes): 0, or -1 with err
 * (exit code 2). */
int ac_budget_name_check(const char *name, struct ac_error *err);

/* Shared by the backends' schedules_fire: one due schedule (locked by the
 * caller's transaction) moved past its slot, with ac_schedule_step's
 * rules and the overlap policy: its task submitted (or the slot skipped,
 * or the last task cancelled first), its row updated, and what happened
 * appended to *fired.  The backend's steps: */
struct ac_schedule_row;
struct ac_schedule_step;
struct ac_schedule_fire_ops {
	/* A task's status: 0, 1 when there is no such task (pruned: it
	 * ended), -1. */
	int (*task_status)(struct ac_store *store, int64_t id,
			   enum ac_task_status *status, struct ac_error *err);
	/* Cancel a task: a running one by a request, else at once. */
	int (*cancel)(struct ac_store *store, int64_t id, int running,
		      int64_t now, struct ac_error *err);
	/* Submit the schedule's task for slot. */
	int (*submit)(struct ac_store *store, const struct ac_schedule_row *r,
		      int64_t slot, int64_t now, int64_t *task, int *existed,
		      struct ac_error *err);
	/* Write the schedule's row: its next slot, the slot dealt with, its
	 * task (0 = none), and its counters' increments. */
	int (*update)(struct ac_store *store, const struct ac_schedule_row *r,
		      const struct ac_schedule_step *step, int64_t task,
		      int fired, int skipped, struct ac_error *err);
};
int ac_schedule_fire_one(const struct ac_schedule_fire_ops *ops,
			 struct ac_store *store,
			 const struct ac_schedule_row *r, int64_t now,
			 struct ac_fired **fired, size_t *nfired,
			 struct ac_error *err);

/* Shared by the backends' batch_get: counts (an object by status) is
 * stolen; then_id 0 = no continuation. */
json_t *ac_batch_json(int64_t id, const char *created, int64_t total,
		      json_t *counts, int64_t then_id, const char *then_status);

struct ac_worker_row {
	const char *id;
	const char *status;
	const char *host;
	long pid;
	int concurrency;
	int running;
	int64_t completed, failed;
	const char *tags, *handlers, *listen, *metrics;
	int64_t started, heartbeat, lease_ms;
	int64_t heartbeat_age_ms;  /* by the store's clock */
	int drain;
	const char *drain_reason;
	int stop;
};
json_t *ac_worker_row_json(const struct ac_worker_row *row, int64_t now_ms);

/* Shared by the backends: one type's flow control as JSON (ac-queue
 * show).  keys is a JSON array of held keys ({"key","until","reason"},
 * stolen).  now_store and now_wall convert store-clock times to wall
 * clock for display. */
struct ac_flow;
json_t *ac_queue_row_json(const struct ac_flow *f, json_t *keys,
			  int64_t now_store, int64_t now_wall);
json_t *ac_queue_key_json(const char *key, int64_t until, const char *reason,
			  int64_t now_store, int64_t now_wall);

/* Shared by the backends' reads for display (task_get, tasks_list): the
 * text of a stored lz4 frame (compress.h) as a new string in *text, which
 * the caller frees.  A frame that does not decode gives a text naming the
 * damage instead, which ac_task_row_json shows as a JSON string (as it
 * shows any damaged value), so that one damaged row never hides a whole
 * listing.  0, or -1 when out of memory. */
int ac_value_shown(const void *frame, size_t len, char **text);

/* Shared by the backends' task_report: the task's usage totals with the
 * numbers of `add` added (both JSON object texts; new compact text, or
 * NULL), and its log with one more line, keeping the last AC_LOG_KEEP bytes
 * (whole lines first) in out (0, or -1 when out of memory). */
#define AC_LOG_KEEP 4096
char *ac_usage_sum(const char *total_text, const char *add_text);
struct ac_buf;
int ac_log_append(struct ac_buf *out, const char *old, const char *line);

/* Shared by the backends' submit, which count the tasks they insert
 * themselves (schema: task_counts): the n specs whose out[i].existed is
 * 0, counted by kind.  *kinds is a new array (free()) of *nkinds, NULL
 * when none; its type names point into specs.  0, or -1 when out of
 * memory. */
struct ac_task_kind {
	const char *type;
	int priority;
	enum ac_task_status status;  /* as inserted: queued, or pending */
	size_t n;
};
int ac_task_kinds(const struct ac_task_spec *specs, size_t n,
		  const struct ac_submitted *out, struct ac_task_kind **kinds,
		  size_t *nkinds);

#endif
