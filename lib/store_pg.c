/* The PostgreSQL backend of the store: workers on many hosts share one
 * database through libpq.
 *
 * The server's clock decides every lease and heartbeat (NOW_MS below), so
 * the hosts' own clocks never matter.  Claims take rows with FOR UPDATE
 * SKIP LOCKED, so competing workers neither block one another nor take the
 * same task.  Writes that make work available NOTIFY the channel ac_wake;
 * workers LISTEN on it and sleep on the connection's socket (wait_fd).
 *
 * Every statement with a value in it is a prepared statement, prepared on
 * first use on each connection.  Every round trip has a deadline: a store
 * that stops answering (a cut network) costs a bounded wait, after which
 * the connection is dropped and opened again later with back-off.  A
 * transaction cut at COMMIT is never guessed at: its effects, if any, are
 * undone by the leases (claims) or refused by fencing (outcomes). */
#include "store.h"
#include "compress.h"
#include "exitcode.h"
#include "flow.h"
#include "pq.h"
#include "schedule.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA_VERSION 7
#define DEADLINE_DEFAULT_MS 10000
#define DEADLINE_MIN_MS 200
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define BACKOFF_BASE_MS 1000
#define TEMPFAIL_DELAY_MS 1000
#define RECLAIM_BACKOFF_MS 1000
/* Tasks expired by one statement: a cycle stays short however many
 * expire at once (the claim refuses the rest meanwhile). */
#define EXPIRE_BATCH 1000
#define EXPIRED_ERROR "not started within its --expires time"
/* Any fixed number: the key of the advisory lock taken while migrating. */
#define MIGRATE_LOCK_KEY 0x61632d6d6967LL
/* And of the one taken while folding task count changes (schema v4), as
 * SQL text: "ac-cnt" in ASCII, like the one above. */
#define COUNT_FOLD_LOCK_KEY "107078591147636"

/* Milliseconds since the epoch by the server's clock, as it is at the
 * moment the expression runs. */
#define NOW_MS "(extract(epoch from clock_timestamp()) * 1000)::bigint"

enum stmt_id {
	ST_INSERT_TASK, ST_FIND_IDEM, ST_TASK_STATUS, ST_TASK_GET, ST_RETRY,
	ST_PROMOTE, ST_CLAIM, ST_DONE, ST_FAIL, ST_TEMPFAIL, ST_CANCEL_DONE,
	ST_RELEASE, ST_WORKER_STATE, ST_WORKER_CTL, ST_RENEW, ST_WORKER_FIND,
	ST_WORKER_UPSERT, ST_WORKER_EXISTS, ST_WORKER_HANDLERS, ST_DRAIN, ST_UNDRAIN,
	ST_WORKER_RUNNING, ST_COUNTS, ST_DEPTH, ST_WORKERS, ST_ATTEMPTS,
	ST_SWEEP, ST_REQUEUE_OWN, ST_CHECKPOINT, ST_REPORT_READ, ST_REPORT,
	ST_CANCEL_NOW, ST_CANCEL_ASK, ST_CANCELS, ST_UNASSIGN_GONE,
	ST_UNASSIGN_WORKER, ST_COUNTER_ADD, ST_MARK_LOST, ST_PRUNE, ST_NOTIFY,
	ST_LIST_ALL, ST_LIST_STATUS, ST_LIST_TYPE, ST_LIST_BOTH,
	ST_CYCLE_STATE, ST_CRASHED, ST_TASK_END,
	ST_DAMAGED, ST_COUNTED, ST_COUNT_ADD, ST_COUNT_FOLD, ST_COUNT_TRIM,
	ST_SNOOZE, ST_EXPIRE, ST_ENDED, ST_REQUEUE_CHECK, ST_REQUEUE_IDS,
	ST_REQUEUE_FILTER, ST_QUEUE_LOCK, ST_QUEUE_PUT, ST_QUEUE_KEY_HOLD,
	ST_QUEUE_KEYS_RESUME, ST_QUEUE_KEYS_TIDY,
	ST_QUEUE_DROP, ST_QUEUES_LIST, ST_QUEUE_KEYS_LIST, ST_CONTROLLED,
	ST_FLOW_LOCK, ST_FLOW_CANDS, ST_FLOW_HEAD, ST_FLOW_HEAD_AFTER,
	ST_FLOW_NEXT, ST_FLOW_TOP, ST_FLOW_RUNNING, ST_FLOW_KEYS,
	ST_FLOW_SAVE, ST_FLOW_SAVE_KEYS, ST_CLAIM_CANDS, ST_CLAIM_IDS,
	ST_SWEEP_KEYS, ST_SWEEP_QUEUES, ST_NOTIFY_CAPPED,
	ST_NOW, ST_LINK, ST_AFTER_ADD, ST_GRAPH_SET, ST_BATCH_NEW,
	ST_BATCH_DONE, ST_THEN_EDGES, ST_THEN_SET, ST_PARENTS, ST_LINKS_TASK,
	ST_LINKS_AFTER, ST_LINKS_CHILDREN, ST_LINKS_DEPENDENTS, ST_BATCH_GET,
	ST_BATCH_COUNTS, ST_AWAITING, ST_SCHED_NEXT, ST_SCHED_DUE,
	ST_SCHED_GET, ST_SCHED_LIST, ST_SCHED_UPDATE, ST_SCHED_RAN,
	ST_SCHED_INSERT, ST_SCHED_REPLACE, ST_SCHED_PAUSE, ST_SCHED_RESUME,
	ST_SCHED_REMOVE,
	ST_BUDGET_GET, ST_BUDGET_GET_SHARED, ST_BUDGET_INSERT, ST_BUDGET_UPDATE,
	ST_BUDGET_HOLD,
	ST_BUDGET_HOLD_ONE,
	ST_BUDGET_RELEASE, ST_BUDGET_UNLINK, ST_BUDGET_DELETE, ST_BUDGET_LIST,
	ST_BUDGET_ONE, ST_BUDGET_TASKS, ST_BUDGET_TASKS_ONE, ST_TASK_BUDGET,
	ST_TYPE_USAGE_GET,
	ST_TYPE_USAGE_PUT, ST_TYPE_USAGE_LIST,
	ST_COUNT
};

/* Not past its --expires time (a task that started once never expires). */
#define NOT_EXPIRED(t) \
	"(" t "expires_at IS NULL OR " t "attempt > 0 OR " t "expires_at > " \
	NOW_MS ")"

/* Per type of $1 for which `which` holds (of u.t), the best $4 unassigned
 * tasks and the best $4 routed to worker $2 with tags $3, locked with
 * SKIP LOCKED: the CTE `cand` (id, priority). */
#define CLAIM_CANDS(which) \
	"ty AS (SELECT u.t FROM unnest($1::text[]) AS u(t) WHERE " which \
	"), cand AS (" \
	"(SELECT x.id, x.priority FROM ty CROSS JOIN LATERAL (SELECT id, " \
	"priority FROM tasks WHERE status = 'queued' AND type = ty.t AND " \
	"assigned IS NULL AND (tags IS NULL OR tags <@ $3::jsonb) AND " \
	NOT_EXPIRED("") " " \
	"ORDER BY priority DESC, id LIMIT $4 FOR UPDATE SKIP LOCKED) x) " \
	"UNION ALL " \
	"(SELECT x.id, x.priority FROM ty CROSS JOIN LATERAL (SELECT id, " \
	"priority FROM tasks WHERE status = 'queued' AND type = ty.t AND " \
	"assigned IS NOT NULL AND assigned = $2 AND (tags IS NULL OR tags " \
	"<@ $3::jsonb) AND " NOT_EXPIRED("") " " \
	"ORDER BY priority DESC, id LIMIT $4 FOR UPDATE SKIP LOCKED) x))"

/* A claim of the tasks in `pick` (id) by worker $2 for a lease of `lease`
 * ms (a parameter): each still queued and not expired is taken, with its
 * attempt opened. */
#define CLAIM_PICKED(lease) \
	"claimed AS (UPDATE tasks t SET status = 'running', worker = $2, " \
	"attempt = t.attempt + 1, lease_until = " NOW_MS " + " lease \
	"::bigint, started = " NOW_MS ", finished = NULL FROM pick " \
	"WHERE t.id = pick.id AND t.status = 'queued' AND " \
	NOT_EXPIRED("t.") " RETURNING t.id, " \
	"t.type, t.data, t.priority, t.attempt, t.timeout_ms, " \
	"t.route_key, t.checkpoint, t.data_lz4, t.checkpoint_lz4, " \
	"(t.after_policy IS NOT NULL)::int AS has_after, t.traceparent), " \
	"opened AS (INSERT INTO attempts (task_id, attempt, worker, " \
	"started) SELECT id, attempt, $2, " NOW_MS " FROM claimed " \
	"ON CONFLICT (task_id, attempt) DO UPDATE SET worker = " \
	"excluded.worker, started = excluded.started, finished = NULL, " \
	"outcome = NULL, error = NULL) " \
	"SELECT id, type, data, priority, attempt, timeout_ms, " \
	"route_key, checkpoint, data_lz4, checkpoint_lz4, has_after, " \
	"traceparent " \
	"FROM claimed " \
	"ORDER BY priority DESC, id"

/* A type's flow control (flow.h: struct ac_flow), as read_flow() takes
 * it, followed by the store's clock. */
#define QUEUE_COLS "type, paused, reason, paused_at, hold_until, " \
	"hold_reason, concurrency, per_key, rate, key_rate, burst, fair, " \
	"cursor, tokens, tokens_at, " NOW_MS

/* A queues row with nothing left in it: no pause, no hold in force, no
 * limit.  Burst, bucket and cursor are state, not settings. */
#define QUEUE_IDLE \
	"paused = 0 AND (hold_until IS NULL OR hold_until <= " NOW_MS ") " \
	"AND concurrency = 0 AND per_key = 0 AND rate = 0 AND " \
	"key_rate = 0 AND fair = 0"

/* A key's stored state that says nothing: its hold is over and its
 * bucket (of the type q) is full again, or there is no key rate. */
#define KEY_IDLE(k, q) \
	"(" k ".hold_until IS NULL OR " k ".hold_until <= " NOW_MS ") AND " \
	"(" k ".tokens_at IS NULL OR " q ".key_rate <= 0 OR " k ".tokens + " \
	"(" NOW_MS " - " k ".tokens_at) * " q ".key_rate / 1000.0 >= " \
	q ".burst)"

/* Put an ended task back in the queue, as new: no failures, reclaims,
 * cancel, result or expiry left over. */
#define REQUEUE_SET \
	"status = 'queued', failures = 0, reclaims = 0, " \
	"cancel_requested = 0, error = NULL, result = NULL, " \
	"result_lz4 = NULL, expires_at = NULL, worker = NULL, " \
	"lease_until = NULL, finished = NULL, run_at = " NOW_MS

/* The route key as flow control orders keys: bytewise, like strcmp() in
 * flow.c, whatever the database's collation. */
#define FLOW_KEY "(coalesce(route_key, '') COLLATE \"C\")"

#define TASK_COLS "id, type, status, priority, attempt, max_retries, " \
	"failures, timeout_ms, worker, route_key, tags::text, meta, data, " \
	"result, error, checkpoint, progress, idempotency_key, created, " \
	"run_at, started, finished, lease_until, usage, log, reclaims, " \
	"max_reclaims, cancel_requested, assigned, data_lz4, result_lz4, " \
	"checkpoint_lz4, parent, batch, after_policy, waiting, awaiting, " \
	"traceparent, budget, held"

#define SQL_ENDED "('completed', 'failed', 'cancelled', 'timeout', 'expired')"

/* The ids of the tasks task waited for whose status is (or is not:
 * op "<>") completed, ascending, as the text of a JSON array's inside. */
#define THEN_IDS(task, op) \
	"coalesce((SELECT string_agg(t.id::text, ',' ORDER BY t.id) FROM " \
	"task_after a JOIN tasks t ON t.id = a.parent WHERE a.task = " task \
	" AND t.status " op " 'completed'), '')"
/* A batch continuation's data, built from the tasks it waited for, as
 * compact as SQLite's json_object(): {"batch":B,"completed":[ids],
 * "failed":[ids]}. */
#define THEN_DATA(task, batch) \
	"'{\"batch\":' || " batch " || ',\"completed\":[' || " \
	THEN_IDS(task, "=") " || '],\"failed\":[' || " THEN_IDS(task, "<>") \
	" || ']}'"

/* A schedule row (sched_read), the status of its last task last. */
#define SCHED_COLS "name, cron, tz, type, data, priority, max_retries, " \
	"timeout_ms, expires_ms, route_key, tags, meta, max_reclaims, " \
	"overlap, catch_up_ms, paused, reason, next_at, last_slot, " \
	"last_task, fired, skipped, missed, created, updated, " \
	"(SELECT status FROM tasks WHERE id = last_task)"

/* The end of an attempt, written with the task's change in one statement:
 * `changed` is the UPDATE of tasks, RETURNING id, attempt and status. */
#define END_ATTEMPT(outcome, error) \
	", ended AS (UPDATE attempts a SET finished = " NOW_MS ", " \
	"outcome = " outcome ", error = " error " FROM changed c " \
	"WHERE a.task_id = c.id AND a.attempt = c.attempt AND " \
	"a.finished IS NULL) SELECT status FROM changed"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_INSERT_TASK] =
		"INSERT INTO tasks (type, status, priority, data, max_retries, "
		"timeout_ms, route_key, tags, meta, idempotency_key, run_at, "
		"created, max_reclaims, assigned, data_lz4, expires_at, parent, "
		"batch, depth, dependents, traceparent, budget) VALUES ($1, "
		"CASE WHEN $10::bigint > 0 THEN 'pending' ELSE 'queued' END, $2, "
		"$3, $4, $5, $6, $7::jsonb, $8, $9, " NOW_MS " + $10::bigint, "
		NOW_MS ", $11, $12, $13::bytea, CASE WHEN $14::bigint > 0 THEN "
		NOW_MS " + $14::bigint END, $15, $16, $17, $18, $19, $20) "
		"ON CONFLICT (idempotency_key) WHERE "
		"idempotency_key IS NOT NULL DO NOTHING RETURNING id",
	[ST_FIND_IDEM] = "SELECT id FROM tasks WHERE idempotency_key = $1",
	[ST_TASK_STATUS] = "SELECT status FROM tasks WHERE id = $1",
	[ST_TASK_GET] = "SELECT " TASK_COLS " FROM tasks WHERE id = $1",
	[ST_RETRY] =
		"UPDATE tasks SET status = 'queued', failures = 0, reclaims = 0, "
		"cancel_requested = 0, error = NULL, result = NULL, "
		"result_lz4 = NULL, expires_at = NULL, "
		"worker = NULL, lease_until = NULL, finished = NULL, "
		"run_at = " NOW_MS " WHERE id = $1 AND status IN "
		"('failed', 'timeout', 'cancelled', 'expired')",
	/* Rows another worker is promoting are skipped, not waited for;
	 * tasks still waiting for others (schema_v6) are passed over. */
	[ST_PROMOTE] =
		"UPDATE tasks SET status = 'queued' WHERE id IN (SELECT id FROM "
		"tasks WHERE status = 'pending' AND run_at <= " NOW_MS
		" AND waiting = 0 FOR UPDATE SKIP LOCKED)",
	/* One round trip: per type, the best $4 unassigned tasks and the
	 * best $4 routed here (each an index seek, however deep the queue),
	 * locked with SKIP LOCKED; the best $4 of those are taken, with
	 * their attempts opened.  Rows locked but not taken are left
	 * queued and free again at COMMIT.  Types under flow control (a row
	 * in queues) must be planned (claim_controlled): while any of the
	 * worker's types is, this takes nothing, so that claims stay in
	 * order across its types.  A task past its expiry is never taken. */
	[ST_CLAIM] =
		"WITH " CLAIM_CANDS("NOT EXISTS (SELECT 1 FROM queues q WHERE "
				    "q.type = ANY($1::text[]))") ", "
		"pick AS (SELECT id FROM cand WHERE NOT EXISTS (SELECT 1 FROM "
		"workers WHERE id = $2 AND (drain <> 0 OR stop <> 0)) "
		"ORDER BY priority DESC, id LIMIT $4), " CLAIM_PICKED("$5"),
	[ST_DONE] =
		"WITH changed AS (UPDATE tasks SET status = 'completed', "
		"result = $4, result_lz4 = $5::bytea, error = NULL, "
		"finished = " NOW_MS ", "
		"lease_until = NULL WHERE id = $1 AND attempt = $2 AND "
		"worker = $3 AND status = 'running' AND lease_until >= " NOW_MS
		" RETURNING id, attempt, status)"
		END_ATTEMPT("'completed'", "NULL"),
	[ST_FAIL] =
		"WITH changed AS (UPDATE tasks SET failures = failures + 1, "
		"error = $4, lease_until = NULL, "
		"status = CASE WHEN failures + 1 > max_retries THEN $5 "
		"ELSE 'pending' END, "
		"finished = CASE WHEN failures + 1 > max_retries THEN " NOW_MS
		" ELSE NULL END, "
		"run_at = CASE WHEN failures + 1 > max_retries THEN run_at "
		"ELSE " NOW_MS " + $6::bigint * (1 << least(failures, 8)) + "
		"$7::bigint END "
		"WHERE id = $1 AND attempt = $2 AND worker = $3 AND "
		"status = 'running' AND lease_until >= " NOW_MS
		" RETURNING id, attempt, status)"
		END_ATTEMPT("$8", "$4"),
	/* Due again in $5 ms.  With $6 > 0 (retry_after), the task's type
	 * ($7 = 0) or its route key ($7 = 1) is held that long across the
	 * cluster, the later hold winning (the reason is the newest): the
	 * queues row made when missing
	 * (and locked either way: a sweep must not drop it meanwhile). */
	[ST_TEMPFAIL] =
		"WITH changed AS (UPDATE tasks SET status = 'pending', "
		"error = $4, lease_until = NULL, run_at = " NOW_MS
		" + $5::bigint WHERE id = $1 AND attempt = $2 AND worker = $3 "
		"AND status = 'running' AND lease_until >= " NOW_MS
		" RETURNING id, attempt, status, type, "
		"coalesce(route_key, '') AS key), "
		"ended AS (UPDATE attempts a SET finished = " NOW_MS ", "
		"outcome = 'tempfail', error = $4 FROM changed c "
		"WHERE a.task_id = c.id AND a.attempt = c.attempt AND "
		"a.finished IS NULL), "
		"held AS (INSERT INTO queues AS q (type, hold_until, hold_reason) "
		"SELECT type, CASE WHEN $7::int = 0 THEN " NOW_MS " + $6::bigint "
		"END, CASE WHEN $7::int = 0 THEN $4 END FROM changed "
		"WHERE $6::bigint > 0 ON CONFLICT (type) DO UPDATE SET "
		"hold_until = CASE WHEN excluded.hold_until IS NULL OR "
		"excluded.hold_until < coalesce(q.hold_until, 0) THEN "
		"q.hold_until ELSE excluded.hold_until END, "
		"hold_reason = CASE WHEN excluded.hold_until IS NULL THEN "
		"q.hold_reason ELSE excluded.hold_reason END), "
		"keyheld AS (INSERT INTO queue_keys AS k (type, key, hold_until, "
		"hold_reason) SELECT type, key, " NOW_MS " + $6::bigint, $4 "
		"FROM changed WHERE $6::bigint > 0 AND $7::int = 1 "
		"ON CONFLICT (type, key) DO UPDATE SET "
		"hold_until = CASE WHEN k.hold_until > excluded.hold_until THEN "
		"k.hold_until ELSE excluded.hold_until END, "
		"hold_reason = excluded.hold_reason) "
		"SELECT status FROM changed",
	/* {"snooze":SEC}: due again in $5 ms; no failure is counted. */
	[ST_SNOOZE] =
		"WITH changed AS (UPDATE tasks SET status = 'pending', "
		"error = $4, lease_until = NULL, run_at = " NOW_MS
		" + $5::bigint WHERE id = $1 AND attempt = $2 AND worker = $3 "
		"AND status = 'running' AND lease_until >= " NOW_MS
		" RETURNING id, attempt, status)"
		END_ATTEMPT("'snoozed'", "$4"),
	[ST_CANCEL_DONE] =
		"WITH changed AS (UPDATE tasks SET status = 'cancelled', "
		"error = $4, finished = " NOW_MS ", lease_until = NULL "
		"WHERE id = $1 AND attempt = $2 AND worker = $3 AND "
		"status = 'running' RETURNING id, attempt, status)"
		END_ATTEMPT("'cancelled'", "$4"),
	/* Handed back by a stopping worker: no attempt, no reclaim counted. */
	[ST_RELEASE] =
		"WITH changed AS (UPDATE tasks SET status = 'queued', "
		"worker = NULL, lease_until = NULL, error = $4 WHERE id = $1 "
		"AND attempt = $2 AND worker = $3 AND status = 'running' "
		"RETURNING id, attempt, status)"
		END_ATTEMPT("'released'", "$4"),
	/* A stream handler died with the attempt in flight: run again at
	 * once, counted as a reclaim (a poison task fails in the end). */
	[ST_TASK_END] =
		"SELECT id, status, result, error, result_lz4 FROM tasks "
		"WHERE id = ANY($1::bigint[])",
	[ST_CRASHED] =
		"WITH changed AS (UPDATE tasks SET reclaims = reclaims + 1, "
		"worker = NULL, lease_until = NULL, "
		"status = CASE WHEN reclaims + 1 > max_reclaims THEN 'failed' "
		"ELSE 'queued' END, "
		"error = CASE WHEN reclaims + 1 > max_reclaims THEN $4 || ' (' "
		"|| (reclaims + 1) || ' times: a poison task?)' ELSE $4 END, "
		"finished = CASE WHEN reclaims + 1 > max_reclaims THEN " NOW_MS
		" ELSE NULL END WHERE id = $1 AND attempt = $2 AND worker = $3 "
		"AND status = 'running' AND lease_until >= " NOW_MS
		" RETURNING id, attempt, status)"
		END_ATTEMPT("'crashed'", "$4"),
	[ST_WORKER_STATE] =
		"UPDATE workers SET status = $2, running = $3, completed = $4, "
		"failed = $5, heartbeat = " NOW_MS ", heartbeat_mono = " NOW_MS
		" WHERE id = $1",
	[ST_WORKER_CTL] = "SELECT drain, stop FROM workers WHERE id = $1",
	/* The worker's row at the end of a cycle: what it holds is counted
	 * here, claims of this cycle included. */
	[ST_CYCLE_STATE] =
		"UPDATE workers w SET running = r.n, completed = $3, "
		"failed = $4, heartbeat = " NOW_MS ", heartbeat_mono = " NOW_MS
		", status = CASE WHEN w.drain <> 0 AND $2 <> 'stopped' THEN "
		"'draining' WHEN $2 = 'idle' AND r.n > 0 THEN 'busy' ELSE $2 END "
		"FROM (SELECT count(*) AS n FROM tasks WHERE worker = $1 AND "
		"status = 'running') r WHERE w.id = $1",
	/* Only a lease still held is renewed. */
	[ST_RENEW] =
		"UPDATE tasks t SET lease_until = " NOW_MS " + $2::bigint FROM "
		"unnest($3::bigint[], $4::int[]) AS h(id, attempt) WHERE "
		"t.id = h.id AND t.attempt = h.attempt AND t.worker = $1 AND "
		"t.status = 'running' AND t.lease_until >= " NOW_MS
		" RETURNING t.id, t.attempt",
	[ST_WORKER_FIND] =
		"SELECT host, pid, status, " NOW_MS " - heartbeat_mono, lease_ms "
		"FROM workers WHERE id = $1 FOR UPDATE",
	[ST_WORKER_UPSERT] =
		"INSERT INTO workers (id, host, pid, concurrency, tags, handlers, "
		"listen, metrics, status, running, completed, failed, started, "
		"heartbeat, heartbeat_mono, heartbeat_ms, lease_ms, drain, stop) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'idle', 0, 0, 0, "
		NOW_MS ", " NOW_MS ", " NOW_MS ", $9, $10, 0, 0) "
		"ON CONFLICT (id) DO UPDATE SET host = $2, pid = $3, "
		"concurrency = $4, tags = $5, handlers = $6, listen = $7, "
		"metrics = $8, status = CASE WHEN workers.drain <> 0 THEN "
		"'draining' ELSE 'idle' END, running = 0, completed = 0, "
		"failed = 0, started = " NOW_MS ", heartbeat = " NOW_MS ", "
		"heartbeat_mono = " NOW_MS ", heartbeat_ms = $9, lease_ms = $10, "
		"stop = 0",
	[ST_WORKER_EXISTS] = "SELECT 1 FROM workers WHERE id = $1",
	[ST_WORKER_HANDLERS] = "UPDATE workers SET handlers = $2 WHERE id = $1",
	[ST_DRAIN] =
		"UPDATE workers SET drain = 1, drain_reason = $2, stop = $3 "
		"WHERE id = $1",
	[ST_UNDRAIN] =
		"UPDATE workers SET drain = 0, drain_reason = NULL, stop = 0 "
		"WHERE id = $1",
	[ST_WORKER_RUNNING] =
		"SELECT count(*) FROM tasks WHERE worker = $1 AND "
		"status = 'running'",
	/* Counts are task_counts plus the changes not yet folded into it
	 * (schema v4): a few rows, not a scan of the tasks. */
	[ST_COUNTS] =
		"SELECT status, sum(n) FROM (SELECT status, n FROM task_counts "
		"UNION ALL SELECT status, n FROM task_count_changes) c "
		"GROUP BY status",
	[ST_DEPTH] =
		"SELECT type, priority, status, sum(n) FROM (SELECT type, "
		"priority, status, n FROM task_counts UNION ALL SELECT type, "
		"priority, status, n FROM task_count_changes) c WHERE status IN "
		"('pending', 'queued', 'running') GROUP BY type, priority, "
		"status HAVING sum(n) > 0 ORDER BY type, priority DESC",
	[ST_WORKERS] =
		"SELECT id, status, host, pid, concurrency, running, completed, "
		"failed, tags, handlers, listen, metrics, started, heartbeat, "
		"lease_ms, drain, drain_reason, stop, " NOW_MS
		" - heartbeat_mono, " NOW_MS " FROM workers ORDER BY id",
	[ST_ATTEMPTS] =
		"SELECT attempt, worker, started, finished, outcome, error "
		"FROM attempts WHERE task_id = $1 ORDER BY attempt",
	/* A lost attempt: queued again after a back-off, failed for good as
	 * a poison task once lost too often, cancelled if that was asked. */
	[ST_SWEEP] =
		"WITH changed AS (UPDATE tasks SET reclaims = reclaims + 1, "
		"worker = NULL, lease_until = NULL, "
		"status = CASE WHEN cancel_requested <> 0 THEN 'cancelled' "
		"WHEN reclaims + 1 > max_reclaims THEN 'failed' ELSE 'pending' END, "
		"error = CASE WHEN cancel_requested <> 0 THEN 'cancelled' "
		"WHEN reclaims + 1 > max_reclaims THEN 'lost ' || (reclaims + 1) || "
		"' times: its worker died or hung each time (a poison task?)' "
		"ELSE 'attempt ' || attempt || ' lost: the lease of worker ' || "
		"worker || ' ran out' END, "
		"finished = CASE WHEN cancel_requested <> 0 OR reclaims + 1 > "
		"max_reclaims THEN " NOW_MS " ELSE NULL END, "
		"run_at = " NOW_MS " + $1::bigint * (1 << least(reclaims, 5)) "
		"WHERE id IN (SELECT id FROM tasks WHERE status = 'running' AND "
		"lease_until < " NOW_MS " FOR UPDATE SKIP LOCKED) "
		"RETURNING id, attempt, status, error), "
		"ended AS (UPDATE attempts a SET finished = " NOW_MS ", "
		"outcome = 'lost', error = c.error FROM changed c WHERE "
		"a.task_id = c.id AND a.attempt = c.attempt AND "
		"a.finished IS NULL) SELECT count(*) FROM changed",
	/* A worker back under its own id: its running tasks are its dead
	 * predecessor's, to be run again at once. */
	[ST_REQUEUE_OWN] =
		"WITH changed AS (UPDATE tasks SET reclaims = reclaims + 1, "
		"worker = NULL, lease_until = NULL, "
		"status = CASE WHEN cancel_requested <> 0 THEN 'cancelled' "
		"WHEN reclaims + 1 > max_reclaims THEN 'failed' ELSE 'queued' END, "
		"error = CASE WHEN cancel_requested <> 0 THEN 'cancelled' "
		"WHEN reclaims + 1 > max_reclaims THEN 'lost ' || (reclaims + 1) || "
		"' times: its worker died or hung each time (a poison task?)' "
		"ELSE 'attempt ' || attempt || ' lost: worker ' || worker || "
		"' restarted' END, "
		"finished = CASE WHEN cancel_requested <> 0 OR reclaims + 1 > "
		"max_reclaims THEN " NOW_MS " ELSE NULL END "
		"WHERE worker = $1 AND status = 'running' "
		"RETURNING id, attempt, status, error), "
		"ended AS (UPDATE attempts a SET finished = " NOW_MS ", "
		"outcome = 'lost', error = c.error FROM changed c WHERE "
		"a.task_id = c.id AND a.attempt = c.attempt AND "
		"a.finished IS NULL) SELECT count(*) FROM changed",
	[ST_CHECKPOINT] =
		"UPDATE tasks SET checkpoint = $4, checkpoint_lz4 = $5::bytea "
		"WHERE id = $1 AND attempt = $2 AND worker = $3 AND "
		"status = 'running' AND lease_until >= " NOW_MS,
	[ST_REPORT_READ] =
		"SELECT usage, log, budget, type FROM tasks WHERE id = $1 AND "
		"attempt = $2 AND worker = $3 AND status = 'running' AND "
		"lease_until >= " NOW_MS " FOR UPDATE",
	[ST_REPORT] =
		"UPDATE tasks SET progress = coalesce($4::double precision, "
		"progress), usage = coalesce($5, usage), log = coalesce($6, log) "
		"WHERE id = $1 AND attempt = $2 AND worker = $3",
	[ST_CANCEL_NOW] =
		"UPDATE tasks SET status = 'cancelled', finished = " NOW_MS ", "
		"error = 'cancelled before it ran' WHERE id = $1 AND status IN "
		"('pending', 'queued')",
	[ST_CANCEL_ASK] =
		"UPDATE tasks SET cancel_requested = 1 WHERE id = $1 AND "
		"status = 'running'",
	[ST_CANCELS] =
		"SELECT id FROM tasks WHERE worker = $1 AND status = 'running' "
		"AND cancel_requested = 1",
	/* Tasks routed to a worker that is draining, stopped or lost go to
	 * any capable worker instead. */
	[ST_UNASSIGN_GONE] =
		"UPDATE tasks SET assigned = NULL WHERE assigned IS NOT NULL AND "
		"status IN ('queued', 'pending') AND assigned IN (SELECT id FROM "
		"workers WHERE drain = 1 OR stop = 1 OR status IN ('draining', "
		"'stopped') OR " NOW_MS " - heartbeat_mono > lease_ms)",
	[ST_UNASSIGN_WORKER] =
		"UPDATE tasks SET assigned = NULL WHERE assigned = $1 AND "
		"status IN ('queued', 'pending')",
	[ST_COUNTER_ADD] =
		"INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) "
		"DO UPDATE SET value = (meta.value::bigint + $2::bigint)::text "
		"RETURNING value::bigint - $2::bigint",
	[ST_MARK_LOST] =
		"UPDATE workers SET status = 'lost' WHERE status NOT IN "
		"('stopped', 'lost') AND " NOW_MS " - heartbeat_mono > lease_ms "
		"RETURNING id",
	/* Oldest first, a bounded number at a time. */
	[ST_PRUNE] =
		"WITH gone AS (DELETE FROM tasks WHERE id IN (SELECT id FROM "
		"tasks WHERE finished IS NOT NULL AND finished < " NOW_MS
		" - $1::bigint AND status IN ('completed', 'failed', "
		"'cancelled', 'timeout', 'expired') AND ($2::text IS NULL OR "
		"status = $2) ORDER BY finished LIMIT $3 FOR UPDATE SKIP LOCKED) "
		"RETURNING id), "
		"history AS (DELETE FROM attempts WHERE task_id IN (SELECT id "
		"FROM gone)) SELECT count(*) FROM gone",
	[ST_NOTIFY] = "SELECT pg_notify('ac_wake', '')",
	/* Four fixed statements, so that each can use its index. */
	[ST_LIST_ALL] = "SELECT " TASK_COLS " FROM tasks ORDER BY id DESC "
		"LIMIT $1",
	[ST_LIST_STATUS] = "SELECT " TASK_COLS " FROM tasks WHERE "
		"status = $1 ORDER BY id DESC LIMIT $2",
	[ST_LIST_TYPE] = "SELECT " TASK_COLS " FROM tasks WHERE type = $1 "
		"ORDER BY id DESC LIMIT $2",
	[ST_LIST_BOTH] = "SELECT " TASK_COLS " FROM tasks WHERE "
		"status = $1 AND type = $2 ORDER BY id DESC LIMIT $3",
	/* A claimed task whose stored value does not decode (claimed_from). */
	[ST_DAMAGED] =
		"WITH changed AS (UPDATE tasks SET status = 'failed', "
		"error = $4, finished = " NOW_MS ", lease_until = NULL "
		"WHERE id = $1 AND attempt = $2 AND worker = $3 AND "
		"status = 'running' RETURNING id, attempt, status)"
		END_ATTEMPT("'failed'", "$4"),
	/* The rest of this transaction inserts tasks the trigger does not
	 * count: the submit counts them itself, one row per kind. */
	[ST_COUNTED] = "SELECT set_config('ac.counted', 'on', true)",
	[ST_COUNT_ADD] =
		"INSERT INTO task_count_changes (type, priority, status, n) "
		"VALUES ($1, $2, $3, $4)",
	/* One folder at a time (the others skip): the changes it can see
	 * move into task_counts; changes committed meanwhile stay for the
	 * next fold, so none is counted twice or lost. */
	[ST_COUNT_FOLD] =
		"WITH moved AS (DELETE FROM task_count_changes WHERE (SELECT "
		"pg_try_advisory_xact_lock(" COUNT_FOLD_LOCK_KEY ")) "
		"RETURNING type, priority, status, n) "
		"INSERT INTO task_counts AS c (type, priority, status, n) "
		"SELECT type, priority, status, sum(n) FROM moved "
		"GROUP BY type, priority, status "
		"ON CONFLICT (type, priority, status) DO UPDATE SET "
		"n = c.n + excluded.n",
	[ST_COUNT_TRIM] =
		"DELETE FROM task_counts WHERE n = 0 AND (SELECT "
		"pg_try_advisory_xact_lock(" COUNT_FOLD_LOCK_KEY "))",
	/* Up to $1 tasks never started whose --expires time is over (an
	 * index seek of tasks_expiry: the clock read once, by a subquery, is
	 * a bound the index can use); rows another is changing are
	 * skipped. */
	[ST_EXPIRE] =
		"WITH gone AS (UPDATE tasks SET status = 'expired', finished = "
		NOW_MS ", error = '" EXPIRED_ERROR "', lease_until = NULL "
		"WHERE id IN (SELECT id FROM tasks WHERE expires_at IS NOT NULL "
		"AND attempt = 0 AND status IN ('pending', 'queued') AND "
		"expires_at <= (SELECT " NOW_MS ") LIMIT $1 FOR UPDATE SKIP "
		"LOCKED) "
		"AND attempt = 0 AND status IN ('pending', 'queued') "
		"RETURNING id) SELECT count(*) FROM gone",
	[ST_ENDED] =
		"SELECT " TASK_COLS " FROM tasks WHERE finished IS NOT NULL AND "
		"status = ANY($1::text[]) AND ($2::text IS NULL OR type = $2) "
		"AND ($3::bigint <= 0 OR finished >= " NOW_MS " - $3::bigint) "
		"ORDER BY finished DESC, id DESC LIMIT $4",
	[ST_REQUEUE_CHECK] =
		"SELECT id, status FROM tasks WHERE id = ANY($1::bigint[]) "
		"FOR UPDATE",
	[ST_REQUEUE_IDS] =
		"UPDATE tasks SET " REQUEUE_SET " WHERE id = ANY($1::bigint[]) "
		"AND status IN ('failed', 'timeout', 'cancelled', 'expired') "
		"RETURNING id",
	/* Every task ST_ENDED lists (whatever its limit), newest first. */
	[ST_REQUEUE_FILTER] =
		"WITH picked AS (SELECT id, finished FROM tasks WHERE "
		"finished IS NOT NULL AND status = ANY($1::text[]) AND "
		"status IN ('failed', 'timeout', 'cancelled', 'expired') AND "
		"($2::text IS NULL OR type = $2) AND ($3::bigint <= 0 OR "
		"finished >= " NOW_MS " - $3::bigint) FOR UPDATE), "
		"done AS (UPDATE tasks t SET " REQUEUE_SET " FROM picked "
		"WHERE t.id = picked.id RETURNING t.id) "
		"SELECT picked.id FROM picked JOIN done ON done.id = picked.id "
		"ORDER BY picked.finished DESC, picked.id DESC",
	/* The type's row, made when missing, locked either way. */
	[ST_QUEUE_LOCK] =
		"INSERT INTO queues AS q (type) VALUES ($1) ON CONFLICT (type) "
		"DO UPDATE SET type = q.type RETURNING " QUEUE_COLS,
	[ST_QUEUE_PUT] =
		"UPDATE queues SET paused = $2, reason = $3, paused_at = $4, "
		"hold_until = $5, hold_reason = $6, concurrency = $7, "
		"per_key = $8, rate = $9, key_rate = $10, burst = $11, "
		"fair = $12, cursor = $13, tokens = $14, tokens_at = $15 "
		"WHERE type = $1",
	[ST_QUEUE_KEY_HOLD] =
		"INSERT INTO queue_keys (type, key, hold_until, hold_reason) "
		"VALUES ($1, $2, CASE WHEN $3::bigint > 0 THEN " NOW_MS
		" + $3::bigint END, $4) ON CONFLICT (type, key) DO UPDATE SET "
		"hold_until = excluded.hold_until, "
		"hold_reason = excluded.hold_reason",
	[ST_QUEUE_KEYS_RESUME] =
		"UPDATE queue_keys SET hold_until = NULL, hold_reason = NULL "
		"WHERE type = $1 AND ($2::text IS NULL OR key = $2)",
	[ST_QUEUE_KEYS_TIDY] =
		"DELETE FROM queue_keys k USING queues q WHERE k.type = $1 AND "
		"q.type = k.type AND " KEY_IDLE("k", "q"),
	/* Rows the caller has locked: read again now (a hold may have come
	 * with a key row meanwhile). */
	[ST_QUEUE_DROP] =
		"DELETE FROM queues q WHERE type = ANY($1::text[]) AND "
		QUEUE_IDLE " AND NOT EXISTS (SELECT 1 FROM queue_keys k WHERE "
		"k.type = q.type)",
	[ST_QUEUES_LIST] =
		"SELECT " QUEUE_COLS " FROM queues WHERE ($1::text IS NULL OR "
		"type = $1) ORDER BY type COLLATE \"C\"",
	[ST_QUEUE_KEYS_LIST] =
		"SELECT type, key, hold_until, hold_reason FROM queue_keys "
		"WHERE ($1::text IS NULL OR type = $1) AND hold_until > " NOW_MS
		" ORDER BY type COLLATE \"C\", key COLLATE \"C\"",
	/* Which of the worker's types have flow control. */
	[ST_CONTROLLED] =
		"SELECT type FROM queues WHERE type = ANY($1::text[]) "
		"ORDER BY type COLLATE \"C\"",
	/* The rows of the worker's controlled types, locked in one order
	 * by every claimer (no deadlock): one claimer at a time plans a
	 * type, so a cap holds across workers and hosts. */
	[ST_FLOW_LOCK] =
		"SELECT " QUEUE_COLS ", EXISTS (SELECT 1 FROM queue_keys k "
		"WHERE k.type = queues.type) FROM queues WHERE "
		"type = ANY($1::text[]) ORDER BY type COLLATE \"C\" FOR UPDATE",
	/* flow.h's queries (struct ac_flow_ops), for worker $2 with tags
	 * $3 where it claims. */
	[ST_FLOW_CANDS] =
		"SELECT id, priority, k FROM ("
		"(SELECT id, priority, coalesce(route_key, '') AS k FROM tasks "
		"WHERE status = 'queued' AND type = $1 AND assigned IS NULL AND "
		"(tags IS NULL OR tags <@ $3::jsonb) AND " NOT_EXPIRED("")
		" AND ($4::jsonb IS NULL OR NOT "
		"$4::jsonb ? coalesce(route_key, '')) "
		"ORDER BY priority DESC, id LIMIT $5) UNION ALL "
		"(SELECT id, priority, coalesce(route_key, '') AS k FROM tasks "
		"WHERE status = 'queued' AND type = $1 AND assigned IS NOT NULL "
		"AND assigned = $2 AND (tags IS NULL OR tags <@ $3::jsonb) AND "
		NOT_EXPIRED("") " AND ($4::jsonb "
		"IS NULL OR NOT $4::jsonb ? coalesce(route_key, '')) "
		"ORDER BY priority DESC, id LIMIT $5)) c "
		"ORDER BY priority DESC, id LIMIT $5",
	/* Fair order, by key then oldest: seeks of tasks_fair when
	 * queue_set made it. */
	[ST_FLOW_HEAD] =
		"SELECT id, priority, " FLOW_KEY ", (assigned IS NULL OR "
		"assigned = $3) AND (tags IS NULL OR tags <@ $4::jsonb) "
		"FROM tasks WHERE status = 'queued' AND type = $1 AND "
		"priority = $2 AND " NOT_EXPIRED("")
		" ORDER BY " FLOW_KEY ", id LIMIT 1",
	[ST_FLOW_HEAD_AFTER] =
		"SELECT id, priority, " FLOW_KEY ", (assigned IS NULL OR "
		"assigned = $3) AND (tags IS NULL OR tags <@ $4::jsonb) "
		"FROM tasks WHERE status = 'queued' AND type = $1 AND "
		"priority = $2 AND " FLOW_KEY " > $5 AND " NOT_EXPIRED("")
		" ORDER BY " FLOW_KEY ", id LIMIT 1",
	[ST_FLOW_NEXT] =
		"SELECT id, priority, " FLOW_KEY " FROM tasks WHERE "
		"status = 'queued' AND type = $1 AND priority = $2 AND "
		FLOW_KEY " = $3 AND id > $4 AND (assigned IS NULL OR "
		"assigned = $5) AND (tags IS NULL OR tags <@ $6::jsonb) AND "
		NOT_EXPIRED("") " ORDER BY " FLOW_KEY ", id LIMIT 1",
	[ST_FLOW_TOP] =
		"SELECT greatest((SELECT priority FROM tasks WHERE "
		"status = 'queued' AND type = $1 AND assigned IS NULL AND "
		"priority < $2 ORDER BY priority DESC LIMIT 1), (SELECT priority "
		"FROM tasks WHERE status = 'queued' AND type = $1 AND "
		"assigned IS NOT NULL AND priority < $2 "
		"ORDER BY priority DESC LIMIT 1))",
	[ST_FLOW_RUNNING] =
		"SELECT coalesce(route_key, ''), count(*) FROM tasks WHERE "
		"status = 'running' AND type = $1 AND ($2::bigint[] IS NULL "
		"OR id <> ALL ($2::bigint[])) GROUP BY 1",
	[ST_FLOW_KEYS] =
		"SELECT key, hold_until, hold_reason, tokens, tokens_at "
		"FROM queue_keys WHERE type = $1",
	[ST_FLOW_SAVE] =
		"UPDATE queues SET tokens = $2, tokens_at = $3, cursor = $4 "
		"WHERE type = $1",
	[ST_FLOW_SAVE_KEYS] =
		"INSERT INTO queue_keys (type, key, tokens, tokens_at) "
		"SELECT $1, u.k, u.t, $4 FROM unnest($2::text[], "
		"$3::double precision[]) AS u(k, t) ON CONFLICT (type, key) DO "
		"UPDATE SET tokens = excluded.tokens, "
		"tokens_at = excluded.tokens_at",
	/* A claim under flow control: the uncontrolled types' candidates,
	 * merged with the plans before anything is taken (ST_CLAIM_IDS). */
	[ST_CLAIM_CANDS] =
		"WITH " CLAIM_CANDS("NOT EXISTS (SELECT 1 FROM queues q WHERE "
				    "q.type = u.t)")
		" SELECT id, priority FROM cand "
		"ORDER BY priority DESC, id LIMIT $4",
	[ST_CLAIM_IDS] =
		"WITH pick AS (SELECT unnest($1::bigint[]) AS id), "
		CLAIM_PICKED("$3"),
	/* Key rows that say nothing any more; those of a type a claimer
	 * holds are left for another sweep. */
	[ST_SWEEP_KEYS] =
		"DELETE FROM queue_keys d USING (SELECT k.type, k.key FROM "
		"queue_keys k JOIN queues q ON q.type = k.type WHERE "
		KEY_IDLE("k", "q") " FOR UPDATE OF k, q SKIP LOCKED) g "
		"WHERE d.type = g.type AND d.key = g.key",
	/* Ends of tasks ($1) of a type with a cap on what runs: room for
	 * another, which the workers (this one too: the committer is another
	 * connection) should claim now, not at their next poll. */
	[ST_NOTIFY_CAPPED] =
		"SELECT pg_notify('ac_wake', '') FROM queues WHERE "
		"(concurrency > 0 OR per_key > 0) AND type IN (SELECT type FROM "
		"tasks WHERE id = ANY($1::bigint[])) LIMIT 1",
	/* Queue rows with nothing left in them, locked (ST_QUEUE_DROP then
	 * deletes those still so). */
	[ST_SWEEP_QUEUES] =
		"SELECT type FROM queues WHERE " QUEUE_IDLE
		" FOR UPDATE SKIP LOCKED",
	[ST_NOW] = "SELECT " NOW_MS,
	/* Task graphs (schema_v6).  The row lock taken here is what orders
	 * a new dependent against its parent's end: an end that comes
	 * first is seen here; one that comes later waits for this commit,
	 * and its trigger then sees the new edge. */
	[ST_LINK] =
		"UPDATE tasks SET dependents = 1 WHERE id = $1 "
		"RETURNING status, depth",
	[ST_AFTER_ADD] =
		"INSERT INTO task_after (parent, task, done) SELECT u.p, "
		"$2::bigint, u.d FROM unnest($1::bigint[], $3::int[]) AS u(p, d) "
		"ON CONFLICT DO NOTHING",
	[ST_GRAPH_SET] =
		"UPDATE tasks SET after_policy = $2, waiting = $3, "
		"status = coalesce($4, status), error = $5, "
		"finished = CASE WHEN $4::text = 'cancelled' THEN " NOW_MS
		" END WHERE id = $1",
	[ST_BATCH_NEW] =
		"INSERT INTO batches (created, total) VALUES (" NOW_MS ", 0) "
		"RETURNING id",
	[ST_BATCH_DONE] =
		"UPDATE batches SET total = total + $2, "
		"then_task = coalesce($3, then_task), first_id = $4, "
		"last_id = $5 WHERE id = $1",
	/* The continuation waits for those of its edges not settled yet. */
	[ST_THEN_EDGES] =
		"WITH e AS (INSERT INTO task_after (parent, task, done) "
		"SELECT id, $2::bigint, CASE WHEN status IN " SQL_ENDED
		" THEN 1 ELSE 0 END FROM tasks WHERE id BETWEEN $3 AND $4 AND "
		"batch = $1 RETURNING done) "
		"SELECT count(*) FILTER (WHERE done = 0) FROM e",
	[ST_THEN_SET] =
		"UPDATE tasks SET then_batch = $2, after_policy = 'all-done', "
		"waiting = $3, status = CASE WHEN $3 > 0 THEN 'pending' ELSE "
		"status END, data = CASE WHEN $3 = 0 THEN "
		THEN_DATA("$1::bigint", "$2::bigint") " ELSE data END, "
		"data_lz4 = CASE WHEN $3 = 0 THEN NULL ELSE data_lz4 END "
		"WHERE id = $1",
	[ST_PARENTS] =
		"SELECT t.id, t.status, t.result, t.error, t.result_lz4 FROM "
		"task_after a JOIN tasks t ON t.id = a.parent WHERE a.task = $1 "
		"ORDER BY t.id",
	[ST_LINKS_TASK] =
		"SELECT id, type, status, parent, after_policy, batch FROM tasks "
		"WHERE id = $1",
	[ST_LINKS_AFTER] =
		"SELECT parent FROM task_after WHERE task = $1 ORDER BY parent",
	[ST_LINKS_CHILDREN] =
		"SELECT id FROM tasks WHERE parent = $1 ORDER BY id",
	[ST_LINKS_DEPENDENTS] =
		"SELECT task FROM task_after WHERE parent = $1 ORDER BY task",
	[ST_BATCH_GET] =
		"SELECT created, total, then_task, (SELECT status FROM tasks "
		"WHERE id = then_task), first_id, last_id FROM batches "
		"WHERE id = $1",
	[ST_BATCH_COUNTS] =
		"SELECT status, count(*) FROM tasks WHERE id BETWEEN $2 AND $3 "
		"AND batch = $1 GROUP BY status",
	[ST_AWAITING] =
		"UPDATE tasks SET awaiting = $2 WHERE id = $1 AND "
		"status = 'running'",
	/* Schedules (schema_v6), by the store's clock. */
	[ST_SCHED_NEXT] =
		"SELECT min(next_at), " NOW_MS " FROM schedules WHERE paused = 0",
	/* The due rows, locked in one order by every firer: one that waited
	 * for another's lock finds the row again with its next slot moved
	 * past $1, and leaves it. */
	[ST_SCHED_DUE] =
		"SELECT " SCHED_COLS " FROM schedules WHERE paused = 0 AND "
		"next_at <= $1 ORDER BY name COLLATE \"C\" FOR UPDATE",
	[ST_SCHED_GET] =
		"SELECT " SCHED_COLS " FROM schedules WHERE name = $1",
	[ST_SCHED_LIST] =
		"SELECT " SCHED_COLS " FROM schedules "
		"ORDER BY name COLLATE \"C\"",
	[ST_SCHED_UPDATE] =
		"UPDATE schedules SET next_at = $2, "
		"last_slot = coalesce($3, last_slot), "
		"last_task = coalesce($4, last_task), fired = fired + $5, "
		"skipped = skipped + $6, missed = missed + $7 WHERE name = $1",
	[ST_SCHED_RAN] =
		"UPDATE schedules SET last_task = $2 WHERE name = $1",
	[ST_SCHED_INSERT] =
		"INSERT INTO schedules (name, cron, tz, type, data, priority, "
		"max_retries, timeout_ms, expires_ms, route_key, tags, meta, "
		"max_reclaims, overlap, catch_up_ms, next_at, created, updated) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
		"$14, $15, $16, $17, $17) ON CONFLICT (name) DO NOTHING",
	[ST_SCHED_REPLACE] =
		"UPDATE schedules SET cron = $2, tz = $3, type = $4, data = $5, "
		"priority = $6, max_retries = $7, timeout_ms = $8, "
		"expires_ms = $9, route_key = $10, tags = $11, meta = $12, "
		"max_reclaims = $13, overlap = $14, catch_up_ms = $15, "
		"next_at = $16, updated = $17 WHERE name = $1",
	[ST_SCHED_PAUSE] =
		"UPDATE schedules SET paused = 1, reason = $2, updated = $3 "
		"WHERE name = $1",
	[ST_SCHED_RESUME] =
		"UPDATE schedules SET paused = 0, reason = NULL, next_at = $2, "
		"updated = $3 WHERE name = $1",
	[ST_SCHED_REMOVE] = "DELETE FROM schedules WHERE name = $1",
	/* Budgets (schema_v7), by the store's clock.  The row lock orders
	 * the charges of many workers to one budget. */
	[ST_BUDGET_GET] =
		"SELECT limits, usage, spent FROM budgets WHERE name = $1 "
		"FOR UPDATE",
	[ST_BUDGET_GET_SHARED] =
		"SELECT limits, usage, spent FROM budgets WHERE name = $1 "
		"FOR SHARE",
	[ST_BUDGET_INSERT] =
		"INSERT INTO budgets (name, limits, usage, spent, spent_at, "
		"created, updated) VALUES ($1, $2, $3, $4, CASE WHEN $4::int <> 0 "
		"THEN " NOW_MS " END, " NOW_MS ", " NOW_MS ")",
	[ST_BUDGET_UPDATE] =
		"UPDATE budgets SET limits = $2, usage = $3, spent = $4, "
		"spent_at = CASE WHEN $4::int = 0 THEN NULL WHEN spent = 0 THEN "
		NOW_MS " ELSE spent_at END, updated = " NOW_MS " WHERE name = $1",
	[ST_BUDGET_HOLD] =
		"UPDATE tasks SET status = 'pending', held = 1, "
		"run_at = " AC_HELD_RUN_AT_SQL " WHERE budget = $1 AND "
		"status = 'queued'",
	/* A task just submitted to a spent budget (inserts have no trigger:
	 * one would cost every submit). */
	[ST_BUDGET_HOLD_ONE] =
		"UPDATE tasks SET status = 'pending', held = 1, "
		"run_at = " AC_HELD_RUN_AT_SQL " WHERE id = $1 AND "
		"status = 'queued'",
	[ST_BUDGET_RELEASE] =
		"UPDATE tasks SET status = 'queued', held = 0, run_at = " NOW_MS
		" WHERE budget = $1 AND held <> 0 AND status = 'pending'",
	[ST_BUDGET_UNLINK] =
		"UPDATE tasks SET budget = NULL, held = 0, "
		"status = CASE WHEN held <> 0 AND status = 'pending' THEN 'queued' "
		"ELSE status END, "
		"run_at = CASE WHEN held <> 0 AND status = 'pending' THEN "
		NOW_MS " ELSE run_at END "
		"WHERE budget = $1",
	[ST_BUDGET_DELETE] = "DELETE FROM budgets WHERE name = $1",
	[ST_BUDGET_LIST] =
		"SELECT name, limits, usage, spent, spent_at, created, updated "
		"FROM budgets ORDER BY name COLLATE \"C\"",
	[ST_BUDGET_ONE] =
		"SELECT name, limits, usage, spent, spent_at, created, updated "
		"FROM budgets WHERE name = $1",
	/* A listing's task counts in one query (ac_budget_count_add). */
	[ST_BUDGET_TASKS] =
		"SELECT budget, status, (held <> 0 AND status = 'pending')::int, "
		"count(*) FROM tasks WHERE budget IS NOT NULL GROUP BY 1, 2, 3",
	[ST_BUDGET_TASKS_ONE] =
		"SELECT budget, status, (held <> 0 AND status = 'pending')::int, "
		"count(*) FROM tasks WHERE budget = $1 GROUP BY 1, 2, 3",
	[ST_TASK_BUDGET] = "UPDATE tasks SET budget = $2 WHERE id = $1",
	[ST_TYPE_USAGE_GET] =
		"WITH made AS (INSERT INTO type_usage (type, usage, updated) "
		"VALUES ($1, '{}', " NOW_MS ") ON CONFLICT (type) DO NOTHING) "
		"SELECT usage FROM type_usage WHERE type = $1 FOR UPDATE",
	[ST_TYPE_USAGE_PUT] =
		"INSERT INTO type_usage (type, usage, updated) VALUES ($1, $2, "
		NOW_MS ") ON CONFLICT (type) DO UPDATE SET usage = excluded.usage, "
		"updated = excluded.updated",
	[ST_TYPE_USAGE_LIST] =
		"SELECT type, usage FROM type_usage ORDER BY type COLLATE \"C\"",
};

/* Each version's step, run in order in one transaction under the
 * migration lock. */
static const char schema_v1[] =
	"CREATE TABLE tasks ("
	" id bigserial PRIMARY KEY,"
	" type text NOT NULL,"
	" status text NOT NULL,"
	" priority integer NOT NULL DEFAULT 5,"
	" data text NOT NULL,"
	" attempt integer NOT NULL DEFAULT 0,"
	" failures integer NOT NULL DEFAULT 0,"
	" max_retries integer NOT NULL DEFAULT 0,"
	" timeout_ms bigint NOT NULL DEFAULT 0,"
	" worker text,"
	" route_key text,"
	" tags jsonb,"
	" meta text,"
	" idempotency_key text,"
	" result text,"
	" error text,"
	" checkpoint text,"
	" progress double precision,"
	" usage text,"
	" log text,"
	" reclaims integer NOT NULL DEFAULT 0,"
	" max_reclaims integer NOT NULL DEFAULT 3,"
	" cancel_requested integer NOT NULL DEFAULT 0,"
	" assigned text,"
	" created bigint NOT NULL,"
	" run_at bigint NOT NULL,"
	" started bigint,"
	" finished bigint,"
	" lease_until bigint);"
	/* The claim's two seeks, each an ordered index scan that stops at
	 * the LIMIT: unassigned tasks, and tasks routed to one worker.  The
	 * predicates match the claim's exactly, so the planner takes them
	 * even before the table has statistics. */
	"CREATE INDEX tasks_claim_any ON tasks (type, priority DESC, id)"
	" WHERE status = 'queued' AND assigned IS NULL;"
	"CREATE INDEX tasks_claim_routed ON tasks (type, assigned, priority DESC, id)"
	" WHERE status = 'queued' AND assigned IS NOT NULL;"
	"CREATE INDEX tasks_due ON tasks (run_at) WHERE status = 'pending';"
	"CREATE INDEX tasks_running ON tasks (worker) WHERE status = 'running';"
	"CREATE INDEX tasks_lease ON tasks (lease_until) WHERE status = 'running';"
	"CREATE INDEX tasks_status ON tasks (status, type, priority);"
	"CREATE INDEX tasks_assigned ON tasks (assigned) WHERE assigned IS NOT NULL;"
	"CREATE UNIQUE INDEX tasks_idempotency ON tasks (idempotency_key)"
	" WHERE idempotency_key IS NOT NULL;"
	"CREATE TABLE workers ("
	" id text PRIMARY KEY,"
	" host text NOT NULL,"
	" pid bigint NOT NULL,"
	" concurrency integer NOT NULL,"
	" tags text NOT NULL,"
	" handlers text NOT NULL,"
	" listen text,"
	" metrics text,"
	" status text NOT NULL,"
	" running integer NOT NULL DEFAULT 0,"
	" completed bigint NOT NULL DEFAULT 0,"
	" failed bigint NOT NULL DEFAULT 0,"
	" started bigint NOT NULL,"
	" heartbeat bigint NOT NULL,"
	" heartbeat_mono bigint NOT NULL,"
	" heartbeat_ms bigint NOT NULL,"
	" lease_ms bigint NOT NULL,"
	" drain integer NOT NULL DEFAULT 0,"
	" drain_reason text,"
	" stop integer NOT NULL DEFAULT 0);"
	"CREATE TABLE attempts ("
	" task_id bigint NOT NULL,"
	" attempt integer NOT NULL,"
	" worker text NOT NULL,"
	" started bigint NOT NULL,"
	" finished bigint,"
	" outcome text,"
	" error text,"
	" PRIMARY KEY (task_id, attempt));";

static const char schema_v2[] =
	"CREATE INDEX tasks_finished ON tasks (finished)"
	" WHERE finished IS NOT NULL;";

/* Version 3: lz4 frames (compress.h).  Data, result and checkpoint each
 * get a bytea twin that holds the value when it is compressed, the text
 * column staying NULL then; a value is in exactly one of the two (at most
 * one for result and checkpoint).  Rows written before stay as they are:
 * no table rewrite, and no scan under the lock either, hence NOT VALID
 * (old rows meet the checks trivially; new rows are checked all the
 * same).  The frames are stored EXTERNAL: out of line like any large
 * value, but without TOAST compressing them a second time. */
static const char schema_v3[] =
	"ALTER TABLE tasks"
	" ADD COLUMN data_lz4 bytea,"
	" ADD COLUMN result_lz4 bytea,"
	" ADD COLUMN checkpoint_lz4 bytea,"
	" ALTER COLUMN data DROP NOT NULL,"
	" ALTER COLUMN data_lz4 SET STORAGE EXTERNAL,"
	" ALTER COLUMN result_lz4 SET STORAGE EXTERNAL,"
	" ALTER COLUMN checkpoint_lz4 SET STORAGE EXTERNAL,"
	" ADD CONSTRAINT tasks_data_once"
	"  CHECK (num_nonnulls(data, data_lz4) = 1) NOT VALID,"
	" ADD CONSTRAINT tasks_result_once"
	"  CHECK (num_nonnulls(result, result_lz4) <= 1) NOT VALID,"
	" ADD CONSTRAINT tasks_checkpoint_once"
	"  CHECK (num_nonnulls(checkpoint, checkpoint_lz4) <= 1) NOT VALID;";

/* Version 4: the number of tasks of each type, priority and status, so
 * that the summary and the queue depth read a few rows instead of
 * counting a million.  Triggers record every change as rows appended to
 * task_count_changes, in the transaction that makes it: appending never
 * waits on another transaction, where one counter row updated by every
 * claim would queue all workers behind each other (and deadlock them).
 * Sweeps fold the changes into task_counts (ST_COUNT_FOLD); readers add
 * the two.  A submit sets ac.counted and counts its own inserts, one row
 * per kind instead of one per task.  The triggers exist before the
 * existing tasks are counted: creating them waits for every writer and
 * keeps new ones out until this commits, so no change is missed.
 *
 * tasks_status (status, type, priority) goes: it offered the planner a
 * claim by status and type that sorts every queued task, which it took
 * on a table without statistics yet (a new store after a big submit).
 * Listing tasks that ended, by status, newest first, keeps an index that
 * no claim, promotion or sweep can use. */
static const char schema_v4[] =
	"CREATE TABLE task_counts ("
	" type text NOT NULL,"
	" priority integer NOT NULL,"
	" status text NOT NULL,"
	" n bigint NOT NULL,"
	" PRIMARY KEY (type, priority, status));"
	"CREATE TABLE task_count_changes ("
	" type text NOT NULL,"
	" priority integer NOT NULL,"
	" status text NOT NULL,"
	" n bigint NOT NULL);"
	"CREATE FUNCTION ac_count_task() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  IF TG_OP = 'UPDATE' THEN"
	"   INSERT INTO task_count_changes VALUES"
	"    (OLD.type, OLD.priority, OLD.status, -1),"
	"    (NEW.type, NEW.priority, NEW.status, 1);"
	"  ELSIF TG_OP = 'INSERT' THEN"
	"   INSERT INTO task_count_changes VALUES"
	"    (NEW.type, NEW.priority, NEW.status, 1);"
	"  ELSE"
	"   INSERT INTO task_count_changes VALUES"
	"    (OLD.type, OLD.priority, OLD.status, -1);"
	"  END IF;"
	"  RETURN NULL;"
	" END $$;"
	"CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks FOR EACH ROW"
	" WHEN (current_setting('ac.counted', true) IS DISTINCT FROM 'on')"
	" EXECUTE FUNCTION ac_count_task();"
	"CREATE TRIGGER tasks_count_update"
	" AFTER UPDATE OF type, priority, status ON tasks FOR EACH ROW"
	" WHEN (OLD.status IS DISTINCT FROM NEW.status"
	"  OR OLD.type IS DISTINCT FROM NEW.type"
	"  OR OLD.priority IS DISTINCT FROM NEW.priority)"
	" EXECUTE FUNCTION ac_count_task();"
	"CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks FOR EACH ROW"
	" EXECUTE FUNCTION ac_count_task();"
	"INSERT INTO task_counts (type, priority, status, n)"
	" SELECT type, priority, status, count(*) FROM tasks"
	" GROUP BY type, priority, status;"
	"DROP INDEX tasks_status;"
	"CREATE INDEX tasks_ended ON tasks (status, id)"
	" WHERE status IN ('completed', 'failed', 'cancelled', 'timeout',"
	" 'expired');";

/* Version 5: flow control (flow.h, ac-queue).  A task's expiry (store
 * clock, NULL = never), found by a partial index as small as the set of
 * tasks that have one and have not started; the flow control of each
 * type that has any (a row in queues makes a type "controlled": its claims
 * go through flow.c), and the stored state of route keys (holds, rate
 * buckets).  Adding a column without a default rewrites nothing.  Each
 * step may meet its work done (a store an older ac was pointed at after
 * this one): IF NOT EXISTS. */
static const char schema_v5[] =
	"ALTER TABLE tasks ADD COLUMN IF NOT EXISTS expires_at bigint;"
	"CREATE INDEX IF NOT EXISTS tasks_expiry ON tasks (expires_at)"
	" WHERE expires_at IS NOT NULL AND attempt = 0"
	" AND status IN ('pending', 'queued');"
	"CREATE TABLE IF NOT EXISTS queues ("
	" type text PRIMARY KEY,"
	" paused integer NOT NULL DEFAULT 0,"
	" reason text,"
	" paused_at bigint,"
	" hold_until bigint,"
	" hold_reason text,"
	" concurrency integer NOT NULL DEFAULT 0,"
	" per_key integer NOT NULL DEFAULT 0,"
	" rate double precision NOT NULL DEFAULT 0,"
	" key_rate double precision NOT NULL DEFAULT 0,"
	" burst double precision NOT NULL DEFAULT 1,"
	" fair integer NOT NULL DEFAULT 0,"
	" cursor text,"
	" tokens double precision NOT NULL DEFAULT 0,"
	" tokens_at bigint);"
	"CREATE TABLE IF NOT EXISTS queue_keys ("
	" type text NOT NULL,"
	" key text NOT NULL,"
	" hold_until bigint,"
	" hold_reason text,"
	" tokens double precision NOT NULL DEFAULT 0,"
	" tokens_at bigint,"
	" PRIMARY KEY (type, key));";

/* Version 6: task graphs and schedules (ac-schedule), as in the SQLite
 * backend (its schema_v6 says more).
 *
 * A task may wait for others (task_after: one row per edge, `done` once
 * the parent's end was counted) and counts how many it still waits for
 * (waiting); it stays pending meanwhile, and the promotion of due tasks
 * passes it over.  A task spawned by a running handler names it
 * (parent).  What happens when a task ends is done by one trigger, so
 * that every way a task can end (a handler's outcome on the committer's
 * connection, a sweep, a cancel, an expiry) is covered: children under
 * all-ok of a parent that did not complete are cancelled, the others
 * count one parent fewer and are queued when none is left (a batch
 * continuation gets its data then), and a cancelled task's spawned
 * children are cancelled (running ones by request); workers are woken
 * when any of that gives them work.  It runs only for tasks with
 * dependents, so a task nobody waits for pays one comparison.  A cancel
 * travels down a chain by the trigger firing itself, one nesting a link:
 * depth bounds chains at AC_GRAPH_DEPTH_MAX, and the server's default
 * max_stack_depth (2MB) carries some 600 links.
 *
 * Under READ COMMITTED each statement of the trigger reads a snapshot
 * of its own, taken after the row locks its predecessors waited for: the
 * continuation's data is built by a statement of its own, after the
 * count that released it, so that a parent ended by a transaction that
 * committed meanwhile is read as it ended.  Deleting a task (prune)
 * takes its edges along.  A batch's tasks are found by their id range
 * (kept in batches) and their batch column, not by an index on every
 * task of every batch, which would slow every batch submit.
 *
 * Schedules keep the next slot not dealt with (next_at, ms by the
 * store's clock) and their counters; schedule.h has the rules.  Each
 * step may meet its work done (IF NOT EXISTS, OR REPLACE), as schema_v5
 * does. */
static const char schema_v6[] =
	"ALTER TABLE tasks"
	" ADD COLUMN IF NOT EXISTS parent bigint,"
	" ADD COLUMN IF NOT EXISTS batch bigint,"
	" ADD COLUMN IF NOT EXISTS then_batch bigint,"
	" ADD COLUMN IF NOT EXISTS after_policy text,"
	" ADD COLUMN IF NOT EXISTS waiting integer NOT NULL DEFAULT 0,"
	" ADD COLUMN IF NOT EXISTS dependents integer NOT NULL DEFAULT 0,"
	" ADD COLUMN IF NOT EXISTS depth integer NOT NULL DEFAULT 0,"
	" ADD COLUMN IF NOT EXISTS awaiting integer NOT NULL DEFAULT 0;"
	"CREATE INDEX IF NOT EXISTS tasks_parent ON tasks (parent)"
	" WHERE parent IS NOT NULL;"
	"CREATE TABLE IF NOT EXISTS task_after ("
	" parent bigint NOT NULL,"
	" task bigint NOT NULL,"
	" done integer NOT NULL DEFAULT 0,"
	" PRIMARY KEY (parent, task));"
	"CREATE INDEX IF NOT EXISTS task_after_task ON task_after (task);"
	"CREATE TABLE IF NOT EXISTS batches ("
	" id bigserial PRIMARY KEY,"
	" created bigint NOT NULL,"
	" total bigint NOT NULL DEFAULT 0,"
	" first_id bigint,"
	" last_id bigint,"
	" then_task bigint);"
	"CREATE TABLE IF NOT EXISTS schedules ("
	" name text PRIMARY KEY,"
	" cron text NOT NULL,"
	" tz text,"
	" type text NOT NULL,"
	" data text NOT NULL,"
	" priority integer NOT NULL,"
	" max_retries integer NOT NULL,"
	" timeout_ms bigint NOT NULL,"
	" expires_ms bigint NOT NULL,"
	" route_key text,"
	" tags text,"
	" meta text,"
	" max_reclaims integer NOT NULL,"
	" overlap integer NOT NULL,"
	" catch_up_ms bigint NOT NULL,"
	" paused integer NOT NULL DEFAULT 0,"
	" reason text,"
	" next_at bigint,"
	" last_slot bigint,"
	" last_task bigint,"
	" fired bigint NOT NULL DEFAULT 0,"
	" skipped bigint NOT NULL DEFAULT 0,"
	" missed bigint NOT NULL DEFAULT 0,"
	" created bigint NOT NULL,"
	" updated bigint NOT NULL);"
	"CREATE OR REPLACE FUNCTION ac_graph_end() RETURNS trigger"
	" LANGUAGE plpgsql AS $$"
	" DECLARE"
	"  made bigint[];"
	"  woken boolean;"
	"  asked boolean := false;"
	" BEGIN"
	"  IF NEW.status <> 'completed' THEN"
	"   UPDATE tasks SET status = 'cancelled', waiting = 0,"
	"    finished = " NOW_MS ","
	"    error = 'task ' || NEW.id || ' it waited for ended ' || NEW.status"
	"    WHERE after_policy = 'all-ok' AND status = 'pending'"
	"    AND waiting > 0 AND id IN"
	"    (SELECT task FROM task_after WHERE parent = NEW.id AND done = 0);"
	"  END IF;"
	"  WITH counted AS (UPDATE tasks SET waiting = waiting - 1,"
	"    status = CASE WHEN waiting = 1 AND run_at <= " NOW_MS
	"     THEN 'queued' ELSE status END"
	"    WHERE status = 'pending' AND waiting > 0 AND id IN"
	"    (SELECT task FROM task_after WHERE parent = NEW.id AND done = 0)"
	"    RETURNING id, waiting, status, then_batch)"
	"   SELECT array_agg(id) FILTER (WHERE waiting = 0"
	"    AND then_batch IS NOT NULL), coalesce(bool_or(status = 'queued'),"
	"    false) INTO made, woken FROM counted;"
	"  IF made IS NOT NULL THEN"
	"   UPDATE tasks SET data = " THEN_DATA("tasks.id", "then_batch") ","
	"    data_lz4 = NULL WHERE id = ANY (made);"
	"  END IF;"
	"  UPDATE task_after SET done = 1 WHERE parent = NEW.id AND done = 0;"
	"  IF NEW.status = 'cancelled' THEN"
	"   UPDATE tasks SET status = 'cancelled', waiting = 0,"
	"    finished = " NOW_MS ","
	"    error = 'its parent task ' || NEW.id || ' was cancelled'"
	"    WHERE parent = NEW.id AND status IN ('pending', 'queued');"
	"   UPDATE tasks SET cancel_requested = 1"
	"    WHERE parent = NEW.id AND status = 'running';"
	"   asked := FOUND;"
	"  END IF;"
	"  IF woken OR asked THEN"
	"   PERFORM pg_notify('ac_wake', '');"
	"  END IF;"
	"  RETURN NULL;"
	" END $$;"
	/* A cancel asked of a running task cancels its sub-tasks now, not
	 * when its end is written: a committer may write that end after the
	 * worker freed the slot, and a queued sub-task would take it. */
	"CREATE OR REPLACE FUNCTION ac_graph_cancel() RETURNS trigger"
	" LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  UPDATE tasks SET status = 'cancelled', waiting = 0,"
	"   finished = " NOW_MS ","
	"   error = 'its parent task ' || NEW.id || ' was cancelled'"
	"   WHERE parent = NEW.id AND status IN ('pending', 'queued');"
	"  UPDATE tasks SET cancel_requested = 1"
	"   WHERE parent = NEW.id AND status = 'running'"
	"   AND cancel_requested = 0;"
	"  IF FOUND THEN"
	"   PERFORM pg_notify('ac_wake', '');"
	"  END IF;"
	"  RETURN NULL;"
	" END $$;"
	"DROP TRIGGER IF EXISTS tasks_graph_cancel ON tasks;"
	"CREATE TRIGGER tasks_graph_cancel AFTER UPDATE OF cancel_requested"
	" ON tasks FOR EACH ROW WHEN (NEW.cancel_requested <> 0"
	"  AND OLD.cancel_requested = 0 AND NEW.dependents <> 0)"
	" EXECUTE FUNCTION ac_graph_cancel();"
	"DROP TRIGGER IF EXISTS tasks_graph_end ON tasks;"
	"CREATE TRIGGER tasks_graph_end AFTER UPDATE OF status ON tasks"
	" FOR EACH ROW WHEN (NEW.dependents <> 0 AND NEW.status IN " SQL_ENDED
	"  AND OLD.status NOT IN " SQL_ENDED ")"
	" EXECUTE FUNCTION ac_graph_end();"
	"CREATE OR REPLACE FUNCTION ac_graph_delete() RETURNS trigger"
	" LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  DELETE FROM task_after WHERE parent = OLD.id;"
	"  DELETE FROM task_after WHERE task = OLD.id;"
	"  RETURN NULL;"
	" END $$;"
	"DROP TRIGGER IF EXISTS tasks_graph_delete ON tasks;"
	"CREATE TRIGGER tasks_graph_delete AFTER DELETE ON tasks FOR EACH ROW"
	" WHEN (OLD.dependents <> 0 OR OLD.after_policy IS NOT NULL)"
	" EXECUTE FUNCTION ac_graph_delete();";

/* Version 7: trace context and budgets.  A task charged to a spent
 * budget is held: pending with held = 1 and a run_at that never comes,
 * so that neither promotion nor a claim sees it.  The trigger holds a
 * task whenever it would become queued (promoted, released by a graph,
 * retried), so every way into the queue is covered; its WHEN clause is
 * all a task without a budget pays.  It runs after the row is written,
 * so that the counts (task_counts) see the move to pending.  A submit
 * holds what it inserts itself (ST_BUDGET_HOLD_ONE): a trigger on every
 * insert would slow every submit. */
static const char schema_v7[] =
	"ALTER TABLE tasks"
	" ADD COLUMN IF NOT EXISTS traceparent text,"
	" ADD COLUMN IF NOT EXISTS budget text,"
	" ADD COLUMN IF NOT EXISTS held integer NOT NULL DEFAULT 0;"
	"CREATE INDEX IF NOT EXISTS tasks_budget ON tasks (budget)"
	" WHERE budget IS NOT NULL;"
	"CREATE TABLE IF NOT EXISTS budgets ("
	" name text PRIMARY KEY,"
	" limits text NOT NULL,"
	" usage text,"
	" spent integer NOT NULL DEFAULT 0,"
	" spent_at bigint,"
	" created bigint NOT NULL,"
	" updated bigint NOT NULL);"
	"CREATE TABLE IF NOT EXISTS type_usage ("
	" type text PRIMARY KEY,"
	" usage text NOT NULL,"
	" updated bigint NOT NULL);"
	"CREATE OR REPLACE FUNCTION ac_budget_hold() RETURNS trigger"
	" LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  UPDATE tasks SET status = 'pending', held = 1,"
	"   run_at = " AC_HELD_RUN_AT_SQL " WHERE id = NEW.id AND EXISTS"
	"   (SELECT 1 FROM budgets WHERE name = NEW.budget AND spent <> 0);"
	"  RETURN NULL;"
	" END $$;"
	"DROP TRIGGER IF EXISTS tasks_budget_hold ON tasks;"
	"CREATE TRIGGER tasks_budget_hold AFTER UPDATE OF status"
	" ON tasks FOR EACH ROW WHEN (NEW.budget IS NOT NULL"
	"  AND NEW.status = 'queued')"
	" EXECUTE FUNCTION ac_budget_hold();"
	/* A held task that leaves pending any other way (cancelled,
	 * expired) is held no more, so that a release never queues it. */
	"CREATE OR REPLACE FUNCTION ac_budget_unhold() RETURNS trigger"
	" LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  UPDATE tasks SET held = 0 WHERE id = NEW.id;"
	"  RETURN NULL;"
	" END $$;"
	"DROP TRIGGER IF EXISTS tasks_budget_unhold ON tasks;"
	"CREATE TRIGGER tasks_budget_unhold AFTER UPDATE OF status ON tasks"
	" FOR EACH ROW WHEN (NEW.held <> 0 AND NEW.status <> 'pending')"
	" EXECUTE FUNCTION ac_budget_unhold();";

/* Fair claims walk the queued tasks of one type and priority by key,
 * oldest first in each (ST_FLOW_HEAD, ST_FLOW_NEXT), and so do per-key
 * limits past keys at their limit: made when a type first turns fair or
 * gets a per-key limit (queue_set), so that a store without them never
 * maintains it.  Without it those queries still work, by a sort. */
static const char fair_index[] =
	"CREATE INDEX IF NOT EXISTS tasks_fair ON tasks (type, priority, "
	"(coalesce(route_key, '') COLLATE \"C\"), id) WHERE status = 'queued'";

struct pg_store {
	struct ac_store base;
	PGconn *conn;
	char *url;                /* as given; may hold a password */
	char *shown;              /* for messages: the password masked */
	unsigned char prepared[ST_COUNT];
	int in_tx;
	int wake;                 /* changed() answers 1 once: set on connect */
	int backoff_ms;
	int64_t next_connect_mono;
	int64_t deadline_ms;      /* the longest one request may take */
	/* A committer (outcomes_begin): this connection only writes ends
	 * of attempts, in the background; it does not LISTEN. */
	int committer;
	struct ac_outcome *fly;   /* the batch in flight (borrowed), or NULL */
	size_t nfly;
	size_t fly_nsent;         /* statements sent, BEGIN and COMMIT too */
	size_t fly_next;          /* the statement whose answer comes next */
	size_t fly_outcome;       /* the outcome that answer belongs to */
	int fly_failed;           /* a statement failed: the batch did not land */
	int fly_separator;        /* a NULL ends the last answer: skip it */
	int64_t fly_deadline;
	struct ac_error fly_err;
	/* Which of this worker's types are under flow control, as the
	 * last cycle saw (a text array literal), or NULL for none. */
	char *controlled;
};

/* libpq's messages end with a newline and may span lines: one line. */
static const char *one_line(const char *msg, char *buf, size_t size)
{
	size_t n = 0;

	for (; msg && *msg && n + 1 < size; msg++) {
		char c = *msg == '\n' || *msg == '\t' ? ' ' : *msg;

		if (c == ' ' && (n == 0 || buf[n - 1] == ' '))
			continue;
		buf[n++] = c;
	}
	while (n && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return buf;
}

static void drop_connection(struct pg_store *s)
{
	if (s->conn)
		PQfinish(s->conn);
	s->conn = NULL;
	s->in_tx = 0;
	memset(s->prepared, 0, sizeof s->prepared);
}

static int unreachable(struct pg_store *s, struct ac_error *err,
		       const char *what, const char *why)
{
	char line[400];

	return ac_error_set(err, AC_EXIT_UNAVAILABLE,
			    "store '%s' unreachable: %s: %s", s->shown, what,
			    one_line(why, line, sizeof line));
}

/* Wait for the answer to what was sent, within the round-trip deadline;
 * the last result is returned (NULL with err filled when there is none). */
static PGresult *wait_result(struct pg_store *s, const char *what,
			     struct ac_error *err)
{
	int64_t deadline = ac_mono_ms() + s->deadline_ms;
	PGresult *last = NULL, *res;
	int fd = PQsocket(s->conn);

	for (;;) {
		int flushed = PQflush(s->conn);

		while (flushed == 1 || (flushed == 0 && PQisBusy(s->conn))) {
			struct pollfd p = { fd, POLLIN, 0 };
			int64_t left = deadline - ac_mono_ms();
			int rc;

			if (flushed == 1)
				p.events |= POLLOUT;
			if (left <= 0) {
				PQclear(last);
				drop_connection(s);
				unreachable(s, err, what, "no answer in time");
				return NULL;
			}
			rc = poll(&p, 1, (int)left);
			if (rc < 0 && errno != EINTR)
				goto broken;
			if (rc <= 0)
				continue;
			if (flushed == 1)
				flushed = PQflush(s->conn);
			if ((p.revents & (POLLIN | POLLERR | POLLHUP)) &&
			    !PQconsumeInput(s->conn))
				goto broken;
		}
		if (flushed < 0)
			goto broken;
		res = PQgetResult(s->conn);
		if (!res)
			break;
		PQclear(last);
		last = res;
		if (PQstatus(s->conn) == CONNECTION_BAD)
			break;
	}
	if (PQstatus(s->conn) == CONNECTION_BAD) {
		char msg[400];

		one_line(PQerrorMessage(s->conn), msg, sizeof msg);
		PQclear(last);
		drop_connection(s);
		unreachable(s, err, what, msg[0] ? msg : "connection lost");
		return NULL;
	}
	if (!last)
		ac_error_set(err, AC_EXIT_UNAVAILABLE, "store '%s': %s: no result",
			     s->shown, what);
	return last;
broken:
	{
		char msg[400];

		one_line(PQerrorMessage(s->conn), msg, sizeof msg);
		PQclear(last);
		drop_connection(s);
		unreachable(s, err, what, msg[0] ? msg : "connection lost");
		return NULL;
	}
}

/* A failed statement: the error's class decides the exit code. */
static int statement_error(struct pg_store *s, PGresult *res,
			   struct ac_error *err, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	int code = AC_EXIT_UNAVAILABLE;
	char line[400];

	if (!msg)
		msg = PQerrorMessage(s->conn);
	/* Serialization failures, deadlocks, lock and statement timeouts,
	 * a server in recovery or shutting down: try again later. */
	if (state && (!strncmp(state, "40", 2) || !strcmp(state, "55P03") ||
		      !strcmp(state, "57014") || !strncmp(state, "57P", 3) ||
		      !strcmp(state, "25006")))
		code = AC_EXIT_TEMPFAIL;
	if (state && !strcmp(state, "25006"))
		drop_connection(s);  /* a read-only server: look for the primary */
	return ac_error_set(err, code, "store '%s': %s: %s%s%s%s", s->shown,
			    what, one_line(msg, line, sizeof line),
			    state ? " (SQLSTATE " : "", state ? state : "",
			    state ? ")" : "");
}

/* Run a simple fixed command (no values in it). */
static int run_simple(struct pg_store *s, const char *sql, const char *what,
		      struct ac_error *err)
{
	PGresult *res;
	ExecStatusType st;

	/* The simple protocol: a fixed text may hold several commands. */
	if (!PQsendQuery(s->conn, sql)) {
		char msg[400];

		one_line(PQerrorMessage(s->conn), msg, sizeof msg);
		drop_connection(s);
		return unreachable(s, err, what, msg);
	}
	res = wait_result(s, what, err);
	if (!res)
		return -1;
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		statement_error(s, res, err, what);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Drive a connection started with PQconnectStartParams to its end, never
 * waiting past the deadline: a worker's loop must not hang on a host that
 * drops packets.  0 connected, -1 not. */
static int finish_connecting(struct pg_store *s)
{
	int64_t deadline = ac_mono_ms() + s->deadline_ms;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (PQstatus(s->conn) == CONNECTION_BAD)
		return -1;
	while (st != PGRES_POLLING_OK) {
		struct pollfd p = { PQsocket(s->conn), 0, 0 };
		int64_t left = deadline - ac_mono_ms();
		int rc;

		if (st == PGRES_POLLING_FAILED || p.fd < 0 || left <= 0)
			return -1;
		p.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		rc = poll(&p, 1, (int)left);
		if (rc < 0 && errno != EINTR)
			return -1;
		if (rc > 0)
			st = PQconnectPoll(s->conn);
	}
	return PQstatus(s->conn) == CONNECTION_OK ? 0 : -1;
}

static int connect_store(struct pg_store *s, struct ac_error *err)
{
	/* Our defaults come first so that the URL's own settings win. */
	static const char *const keys[] = {
		"connect_timeout", "application_name", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "tcp_user_timeout",
		"dbname", NULL
	};
	const char *values[] = { "10", "ac", "10", "3", "3", "15000", s->url, NULL };
	int64_t now = ac_mono_ms();

	if (now < s->next_connect_mono)
		return ac_error_set(err, AC_EXIT_UNAVAILABLE,
				    "store '%s' unreachable: trying again in %lld ms",
				    s->shown,
				    (long long)(s->next_connect_mono - now));
	s->conn = PQconnectStartParams(keys, values, 1);
	if (!s->conn)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (finish_connecting(s) < 0) {
		char msg[400];

		one_line(PQerrorMessage(s->conn), msg, sizeof msg);
		if (!msg[0])
			snprintf(msg, sizeof msg, "no answer in time");
		drop_connection(s);
		s->next_connect_mono = ac_mono_ms() + s->backoff_ms;
		s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ?
			BACKOFF_MAX_MS : s->backoff_ms * 2;
		return ac_error_set(err, AC_EXIT_UNAVAILABLE,
				    "store '%s' unreachable: %s", s->shown, msg);
	}
	/* The server's notices and warnings are not for our users' stderr:
	 * what matters comes back as an error. */
	PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
	if (run_simple(s, "SET client_min_messages = warning", "setting up",
		       err) < 0 ||
	    (!s->committer &&
	     run_simple(s, "LISTEN ac_wake", "listening for wake-ups", err) < 0)) {
		drop_connection(s);
		return -1;
	}
	s->backoff_ms = BACKOFF_FIRST_MS;
	s->next_connect_mono = 0;
	/* A notification may have been missed while we were away: whoever
	 * asks what changed gets a yes, and does one full poll. */
	s->wake = 1;
	return 0;
}

static int ensure_connected(struct pg_store *s, struct ac_error *err)
{
	if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
		return 0;
	drop_connection(s);
	return connect_store(s, err);
}

static const char *stmt_name(enum stmt_id id, char name[16])
{
	snprintf(name, 16, "ac%d", (int)id);
	return name;
}

/* Prepare statement id on this connection, once (named "ac<id>"). */
static int prepare(struct pg_store *s, enum stmt_id id, const char *what,
		   struct ac_error *err)
{
	char name[16];
	PGresult *res;

	if (s->prepared[id])
		return 0;
	snprintf(name, sizeof name, "ac%d", (int)id);
	if (!PQsendPrepare(s->conn, name, stmt_sql[id], 0, NULL)) {
		char msg[400];

		one_line(PQerrorMessage(s->conn), msg, sizeof msg);
		drop_connection(s);
		return unreachable(s, err, what, msg);
	}
	res = wait_result(s, what, err);
	if (!res)
		return -1;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		statement_error(s, res, err, "preparing a statement");
		PQclear(res);
		return -1;
	}
	PQclear(res);
	s->prepared[id] = 1;
	return 0;
}

/* run() with the formats of the values (NULL: all text; 1 = binary, of
 * lengths[i] bytes) and of the result (0 text, 1 binary: the readers of
 * stored values take lz4 frames as the bytes they are, not as hex). */
static PGresult *run_with(struct pg_store *s, enum stmt_id id, int n,
			  const char *const *values, const int *lengths,
			  const int *formats, int result_format,
			  const char *what, struct ac_error *err)
{
	char name[16];
	PGresult *res;
	ExecStatusType st;

	if (!s->in_tx && ensure_connected(s, err) < 0)
		return NULL;
	if (!s->conn)
		return unreachable(s, err, what, "connection lost"), NULL;
	snprintf(name, sizeof name, "ac%d", (int)id);
	if (prepare(s, id, what, err) < 0)
		return NULL;
	if (!PQsendQueryPrepared(s->conn, name, n, values, lengths, formats,
				 result_format)) {
		char msg[400];

		one_line(PQerrorMessage(s->conn), msg, sizeof msg);
		drop_connection(s);
		return unreachable(s, err, what, msg), NULL;
	}
	res = wait_result(s, what, err);
	if (!res)
		return NULL;
	st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		statement_error(s, res, err, what);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Run prepared statement id with n text values (NULL = SQL NULL);
 * returns its result (PGRES_TUPLES_OK or PGRES_COMMAND_OK) or NULL with
 * err filled.  Outside a transaction a lost connection is opened again
 * first; inside one, the transaction is gone with it. */
static PGresult *run(struct pg_store *s, enum stmt_id id, int n,
		     const char *const *values, const int *lengths,
		     const char *what, struct ac_error *err)
{
	return run_with(s, id, n, values, lengths, NULL, 0, what, err);
}

/* Run and discard the rows; *changed (if asked) gets the rows changed. */
static int run_command(struct pg_store *s, enum stmt_id id, int n,
		       const char *const *values, const char *what,
		       long *changed, struct ac_error *err)
{
	PGresult *res = run(s, id, n, values, NULL, what, err);

	if (!res)
		return -1;
	if (changed) {
		const char *t = PQcmdTuples(res);

		*changed = t && *t ? strtol(t, NULL, 10) : 0;
	}
	PQclear(res);
	return 0;
}

static int tx_begin(struct pg_store *s, struct ac_error *err)
{
	if (ensure_connected(s, err) < 0)
		return -1;
	if (run_simple(s, "BEGIN", "starting a transaction", err) < 0)
		return -1;
	s->in_tx = 1;
	return 0;
}

static int tx_commit(struct pg_store *s, struct ac_error *err)
{
	int rc;

	if (!s->conn)
		return unreachable(s, err, "committing", "connection lost");
	rc = run_simple(s, "COMMIT", "committing", err);
	s->in_tx = 0;
	return rc;
}

static void tx_rollback(struct pg_store *s)
{
	struct ac_error ignored;

	if (!s->in_tx)
		return;
	s->in_tx = 0;
	if (s->conn && run_simple(s, "ROLLBACK", "rolling back", &ignored) < 0)
		drop_connection(s);
}

static int notify_wake(struct pg_store *s, struct ac_error *err)
{
	return run_command(s, ST_NOTIFY, 0, NULL, "waking workers", NULL, err);
}

/* Number formatting for parameters: buffers of this size hold any int64. */
#define NUM 24

static const char *num(char buf[NUM], int64_t v)
{
	snprintf(buf, NUM, "%lld", (long long)v);
	return buf;
}

/* A binary field as the unsigned big-endian number it holds. */
static uint64_t get_be(const PGresult *res, int row, int col)
{
	const unsigned char *p =
		(const unsigned char *)PQgetvalue(res, row, col);
	int len = PQgetlength(res, row, col);
	uint64_t v = 0;

	for (int i = 0; i < len && i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* An integer field, of a text or a binary result (smallint, integer or
 * bigint: 2, 4 or 8 bytes in network order). */
static int64_t get_i64(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	if (PQfformat(res, col) == 0)
		return strtoll(PQgetvalue(res, row, col), NULL, 10);
	switch (PQgetlength(res, row, col)) {
	case 2:
		return (int16_t)(uint16_t)get_be(res, row, col);
	case 4:
		return (int32_t)(uint32_t)get_be(res, row, col);
	case 8:
		return (int64_t)get_be(res, row, col);
	default:
		return 0;
	}
}

/* A double precision field, of a text or a binary result (IEEE 754 in
 * network order); -1 for NULL. */
static double get_double(const PGresult *res, int row, int col)
{
	uint64_t bits;
	double d;

	if (PQgetisnull(res, row, col))
		return -1.0;
	if (PQfformat(res, col) == 0)
		return strtod(PQgetvalue(res, row, col), NULL);
	if (PQgetlength(res, row, col) != 8)
		return -1.0;
	bits = get_be(res, row, col);
	memcpy(&d, &bits, sizeof d);
	return d;
}

static const char *get_text(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static char *dup_text(const PGresult *res, int row, int col, size_t *len)
{
	const char *t = get_text(res, row, col);
	size_t n = t ? (size_t)PQgetlength(res, row, col) : 0;
	char *p;

	if (len)
		*len = n;
	if (!t)
		return NULL;
	p = malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, t, n);
	p[n] = '\0';
	return p;
}

/* A value to store (task data, a result, a checkpoint; NULL for SQL NULL)
 * as the parameters of its two columns (schema_v3): v[t] for the text
 * column, v[f] for its _lz4 twin.  When compressing pays, v[f] is the
 * frame, sent in binary (libpq carries its bytes as they are: the "on the
 * wire" half of compression) and v[t] is NULL; else v[t] is the text,
 * NUL-terminated at len, and v[f] NULL.  Compression is only a saving:
 * without memory for it the text goes.  Returns the frame, which the
 * caller frees once the statement is sent, or NULL. */
static unsigned char *value_params(const char *text, size_t len, int t,
				   int f, const char **v, int *lengths,
				   int *formats)
{
	unsigned char *frame = NULL;
	size_t flen = 0;

	v[t] = text;
	v[f] = NULL;
	formats[f] = 1;
	if (text && ac_compress_encode(text, len, &frame, &flen) == 1) {
		v[t] = NULL;
		v[f] = (const char *)frame;
		lengths[f] = (int)flen;
	}
	return frame;
}

/* The stored value of row r: text column t, or, when its _lz4 twin f is
 * set, that frame decoded (a binary result has its bytes as they are).
 * New text in *out (NULL when both are NULL), of *len bytes when len is
 * given.  0, or -1 with err set (out of memory, or a damaged frame). */
static int row_value(const PGresult *res, int r, int t, int f, char **out,
		     size_t *len, struct ac_error *err)
{
	size_t n = 0;

	if (!PQgetisnull(res, r, f)) {
		if (PQfformat(res, f) != 1) {
			*out = NULL;
			return ac_error_set(err, AC_EXIT_FAILED,
					    "a compressed value read as text (a binary result is needed)");
		}
		if (ac_compress_decode(PQgetvalue(res, r, f),
				       (size_t)PQgetlength(res, r, f), out, &n,
				       err) < 0)
			return -1;
	} else {
		*out = dup_text(res, r, t, &n);
		if (!*out && !PQgetisnull(res, r, t))
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	if (len)
		*len = n;
	return 0;
}

/* The stored value of row r for display: text column t, or its _lz4 twin
 * f decoded into *owned (the caller frees it; see ac_value_shown).  NULL
 * with *oom set when there was no memory for it. */
static const char *row_value_shown(const PGresult *res, int r, int t, int f,
				   char **owned, int *oom)
{
	if (PQgetisnull(res, r, f))
		return get_text(res, r, t);
	if (ac_value_shown(PQgetvalue(res, r, f),
			   (size_t)PQgetlength(res, r, f), owned) < 0) {
		*oom = 1;
		return NULL;
	}
	return *owned;
}

/* A PostgreSQL array literal of texts: {"a","b"} with quotes and
 * backslashes escaped. */
static int text_array(struct ac_buf *b, const char *const *items, size_t n)
{
	if (ac_buf_append(b, "{", 1) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((i && ac_buf_append(b, ",", 1) < 0) ||
		    ac_buf_append(b, "\"", 1) < 0)
			return -1;
		for (const char *p = items[i]; *p; p++)
			if (((*p == '"' || *p == '\\') &&
			     ac_buf_append(b, "\\", 1) < 0) ||
			    ac_buf_append(b, p, 1) < 0)
				return -1;
		if (ac_buf_append(b, "\"", 1) < 0)
			return -1;
	}
	return ac_buf_append(b, "}", 1);
}

/* A bigint array literal of n ids. */
static int id_array(struct ac_buf *b, const int64_t *ids, size_t n)
{
	if (ac_buf_append(b, "{", 1) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (ac_buf_printf(b, "%s%lld", i ? "," : "",
				  (long long)ids[i]) < 0)
			return -1;
	return ac_buf_append(b, "}", 1);
}

/* Row r of QUEUE_COLS into f (its strings new), and the store's clock
 * in *now.  0, or -1 when out of memory. */
static int read_flow(const PGresult *res, int r, struct ac_flow *f,
		     int64_t *now)
{
	memset(f, 0, sizeof *f);
	f->type = dup_text(res, r, 0, NULL);
	f->paused = (int)get_i64(res, r, 1);
	f->reason = dup_text(res, r, 2, NULL);
	f->paused_at = get_i64(res, r, 3);
	f->hold_until = get_i64(res, r, 4);
	f->hold_reason = dup_text(res, r, 5, NULL);
	f->concurrency = (long)get_i64(res, r, 6);
	f->per_key = (long)get_i64(res, r, 7);
	f->rate = get_double(res, r, 8);
	f->key_rate = get_double(res, r, 9);
	f->burst = get_double(res, r, 10);
	f->fair = (int)get_i64(res, r, 11);
	f->cursor = dup_text(res, r, 12, NULL);
	f->tokens = get_double(res, r, 13);
	f->tokens_at = get_i64(res, r, 14);
	*now = get_i64(res, r, 15);
	/* The claim's lock says whether the type has key rows at all:
	 * without any, the plan need not ask for them (a round trip). */
	if (PQnfields(res) > 16)
		f->no_key_rows = PQgetvalue(res, r, 16)[0] == 'f';
	if (!f->type || (!f->reason && !PQgetisnull(res, r, 2)) ||
	    (!f->hold_reason && !PQgetisnull(res, r, 5)) ||
	    (!f->cursor && !PQgetisnull(res, r, 12))) {
		ac_flow_release(f);
		return -1;
	}
	return 0;
}

/* Replace a string of f: 0, or -1 when out of memory. */
static int set_text(char **field, const char *value)
{
	char *copy = value ? ac_strdup(value) : NULL;

	if (value && !copy)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

/* Creates the schema or brings it up to date, under an advisory lock so
 * that workers starting together do it once. */
static int migrate(struct pg_store *s, struct ac_error *err)
{
	char lock_sql[80], version_sql[] =
		"SELECT value FROM meta WHERE key = 'schema_version'";
	PGresult *res;
	int version = 0;

	if (tx_begin(s, err) < 0)
		return -1;
	snprintf(lock_sql, sizeof lock_sql, "SELECT pg_advisory_xact_lock(%lld)",
		 (long long)MIGRATE_LOCK_KEY);
	if (run_simple(s, lock_sql, "locking the schema", err) < 0 ||
	    run_simple(s, "CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL)",
		       "creating the schema", err) < 0)
		goto fail;
	if (!PQsendQueryParams(s->conn, version_sql, 0, NULL, NULL, NULL, NULL, 0)) {
		unreachable(s, err, "reading the schema version",
			    PQerrorMessage(s->conn));
		drop_connection(s);
		return -1;
	}
	res = wait_result(s, "reading the schema version", err);
	if (!res)
		goto fail;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		statement_error(s, res, err, "reading the schema version");
		PQclear(res);
		goto fail;
	}
	if (PQntuples(res) > 0)
		version = (int)get_i64(res, 0, 0);
	PQclear(res);
	if (version > SCHEMA_VERSION) {
		ac_error_set(err, AC_EXIT_UNAVAILABLE,
			     "store '%s' has schema version %d, newer than this ac knows (%d): upgrade ac",
			     s->shown, version, SCHEMA_VERSION);
		goto fail;
	}
	if (version == SCHEMA_VERSION) {
		tx_rollback(s);
		return 0;
	}
	if ((version < 1 && run_simple(s, schema_v1, "creating the schema", err) < 0) ||
	    (version < 2 && run_simple(s, schema_v2, "migrating the schema to version 2", err) < 0) ||
	    (version < 3 && run_simple(s, schema_v3, "migrating the schema to version 3", err) < 0))
		goto fail;
	if ((version < 4 &&
	     run_simple(s, schema_v4, "migrating the schema to version 4", err) < 0) ||
	    (version < 5 &&
	     run_simple(s, schema_v5, "migrating the schema to version 5", err) < 0) ||
	    (version < 6 &&
	     run_simple(s, schema_v6, "migrating the schema to version 6", err) < 0) ||
	    (version < 7 &&
	     run_simple(s, schema_v7, "migrating the schema to version 7", err) < 0))
		goto fail;
	{
		char sql[120];

		snprintf(sql, sizeof sql,
			 "INSERT INTO meta (key, value) VALUES ('schema_version', '%d') "
			 "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			 SCHEMA_VERSION);
		if (run_simple(s, sql, "writing the schema version", err) < 0)
			goto fail;
	}
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	return -1;
}

static void pg_close(struct ac_store *base)
{
	struct pg_store *s = (struct pg_store *)base;

	if (!s)
		return;
	drop_connection(s);
	free(s->url);
	free(s->shown);
	free(s->controlled);
	free(s);
}

static int pg_open(const char *url, int create, struct ac_store **out,
		   struct ac_error *err)
{
	struct pg_store *s = calloc(1, sizeof *s);

	(void)create;  /* the database must exist; the schema is made here */
	if (!s)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (ac_pq_load(err) < 0) {
		free(s);
		return -1;
	}
	s->base.ops = &ac_store_pg_ops;
	s->url = ac_strdup(url);
	s->shown = ac_store_url_masked(url);
	s->backoff_ms = BACKOFF_FIRST_MS;
	s->deadline_ms = DEADLINE_DEFAULT_MS;
	if (!s->url || !s->shown) {
		pg_close(&s->base);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	if (connect_store(s, err) < 0 || migrate(s, err) < 0) {
		pg_close(&s->base);
		return -1;
	}
	*out = &s->base;
	return 0;
}

static PGresult *pipe_next(struct pg_store *s, int64_t deadline,
			   int *broken);

/* Inserts go in pipelines of this many: one round trip each. */
#define SUBMIT_PIPELINE 500

/* The values of ST_INSERT_TASK for one task: its spec, its place in a
 * graph (parent 0 = none) and its batch (0 = none).  frame, when set,
 * is the compressed data, to be freed once the statement is sent. */
/* The parameters of ST_INSERT_TASK. */
#define INSERT_NPARAMS 20

struct insert_args {
	const char *v[INSERT_NPARAMS];
	int lengths[INSERT_NPARAMS], formats[INSERT_NPARAMS];
	unsigned char *frame;
	char prio[NUM], retries[NUM], timeout[NUM], delay[NUM],
		reclaims[NUM], expires[NUM], parent[NUM], batch[NUM],
		depth[NUM];
};

static void insert_args(const struct ac_task_spec *t, int64_t parent,
			int64_t batch, int depth, int dependents,
			struct insert_args *a)
{
	memset(a->lengths, 0, sizeof a->lengths);
	memset(a->formats, 0, sizeof a->formats);
	a->v[0] = t->type;
	a->v[1] = num(a->prio, t->priority);
	a->v[3] = num(a->retries, t->max_retries);
	a->v[4] = num(a->timeout, t->timeout_ms);
	a->v[5] = t->route_key;
	a->v[6] = t->tags;
	a->v[7] = t->meta;
	a->v[8] = t->idempotency_key;
	a->v[9] = num(a->delay, t->delay_ms > 0 ? t->delay_ms : 0);
	a->v[10] = num(a->reclaims, t->max_reclaims);
	a->v[11] = t->assigned;
	a->v[13] = num(a->expires, t->expires_ms > 0 ? t->expires_ms : 0);
	a->v[14] = parent > 0 ? num(a->parent, parent) : NULL;
	a->v[15] = batch > 0 ? num(a->batch, batch) : NULL;
	a->v[16] = num(a->depth, depth);
	a->v[17] = dependents ? "1" : "0";
	a->v[18] = t->traceparent;
	a->v[19] = t->budget;
	/* t->data is NUL-terminated at data_len (ac_task_spec). */
	a->frame = value_params(t->data, t->data_len, 2, 12, a->v, a->lengths,
				a->formats);
}

/* Send the inserts of specs[from, to) (none in a graph) in one pipeline
 * inside the open transaction and read their ids; a task whose
 * idempotency key is taken gets id 0 here (looked up by the caller).
 * batch, then: as insert_tasks().  0 or -1. */
static int submit_chunk(struct pg_store *s, const struct ac_task_spec *specs,
			size_t from, size_t to, struct ac_submitted *out,
			int64_t batch, int then, struct ac_error *err)
{
	char name[16];
	int64_t deadline;
	int broken = 0, failed = 0;

	if (prepare(s, ST_INSERT_TASK, "adding a task", err) < 0)
		return -1;
	if (!PQenterPipelineMode(s->conn)) {
		unreachable(s, err, "starting a pipeline", PQerrorMessage(s->conn));
		drop_connection(s);
		return -1;
	}
	stmt_name(ST_INSERT_TASK, name);
	for (size_t i = from; i < to; i++) {
		struct insert_args a;
		int sent;

		insert_args(&specs[i], 0, batch, 0, then, &a);
		/* libpq has copied the values once this returns. */
		sent = PQsendQueryPrepared(s->conn, name, INSERT_NPARAMS, a.v,
					   a.lengths,
					   a.formats, 0);
		free(a.frame);
		if (!sent) {
			broken = 1;
			break;
		}
	}
	if (!broken && !PQpipelineSync(s->conn))
		broken = 1;
	deadline = ac_mono_ms() + s->deadline_ms;
	for (size_t i = from; i < to && !broken; i++) {
		PGresult *res = pipe_next(s, deadline, &broken);

		if (!res)
			break;
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			out[i].existed = 0;
			out[i].id = PQntuples(res) == 1 ? get_i64(res, 0, 0) : 0;
		} else if (!failed) {
			failed = 1;
			statement_error(s, res, err, "adding a task");
		}
		PQclear(res);
		PQclear(pipe_next(s, deadline, &broken));
	}
	if (!broken) {
		PGresult *res = pipe_next(s, deadline, &broken);

		if (!res || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
			broken = 1;
		PQclear(res);
	}
	if (broken || !PQexitPipelineMode(s->conn)) {
		char msg[400];

		one_line(PQerrorMessage(s->conn), msg, sizeof msg);
		drop_connection(s);
		if (!failed)
			unreachable(s, err, "adding tasks", broken == 2 ?
				    "no answer in time" :
				    msg[0] ? msg : "connection lost");
		return -1;
	}
	return failed ? -1 : 0;
}

/* The tasks a submit inserted (not those an idempotency key found),
 * counted by kind: one change row per type, priority and status, which
 * for a batch is one row however many tasks it holds.  A task in a graph
 * is counted as inserted (pending when delayed, else queued): the status
 * it gets next is counted by the trigger, as any change is. */
static int count_submitted(struct pg_store *s, const struct ac_task_spec *specs,
			   size_t n, const struct ac_submitted *out,
			   struct ac_error *err)
{
	struct ac_task_kind *kinds;
	size_t nkinds;
	int rc = 0;

	if (ac_task_kinds(specs, n, out, &kinds, &nkinds) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	for (size_t i = 0; i < nkinds && rc == 0; i++) {
		char prio[NUM], count[NUM];
		const char *v[4] = {
			kinds[i].type, num(prio, kinds[i].priority),
			ac_task_status_name(kinds[i].status),
			num(count, (int64_t)kinds[i].n),
		};

		rc = run_command(s, ST_COUNT_ADD, 4, v, "counting tasks", NULL,
				 err);
	}
	free(kinds);
	return rc;
}

/* The task of an idempotency key, if any: 1 found (*id set), 0 none,
 * -1 on error. */
static int find_key(struct pg_store *s, const char *key, int64_t *id,
		    struct ac_error *err)
{
	PGresult *res = run(s, ST_FIND_IDEM, 1, &key, NULL,
			    "looking up an idempotency key", err);
	int found;

	if (!res)
		return -1;
	found = PQntuples(res) == 1;
	if (found)
		*id = get_i64(res, 0, 0);
	PQclear(res);
	return found;
}

static int link_task(struct ac_store *base, int64_t id,
		     enum ac_task_status *status, int *depth,
		     struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	char idb[NUM];
	const char *v[1] = { num(idb, id) };
	PGresult *res = run(s, ST_LINK, 1, v, NULL, "linking tasks", err);

	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 1;
	}
	if (ac_task_status_parse(PQgetvalue(res, 0, 0), status) < 0)
		*status = AC_TASK_QUEUED;
	*depth = (int)get_i64(res, 0, 1);
	PQclear(res);
	return 0;
}


/* A new task that waits for others: its edges, and pending (or
 * cancelled at once, when an all-ok parent already failed).  The change
 * of its status is counted by trigger. */
static int graph_wait(struct pg_store *s, int64_t id,
		      const struct ac_task_spec *t,
		      const struct ac_graph_place *g, struct ac_error *err)
{
	struct ac_buf parents = { 0 }, done = { 0 }, why = { 0 };
	char idb[NUM], waiting[NUM];
	const char *v[5];
	int rc = -1;

	if (id_array(&parents, g->after, g->nafter) < 0 ||
	    ac_buf_append(&done, "{", 1) < 0)
		goto oom;
	for (size_t i = 0; i < g->nafter; i++)
		if (ac_buf_printf(&done, "%s%d", i ? "," : "",
				  g->after_done[i]) < 0)
			goto oom;
	if (ac_buf_append(&done, "}", 1) < 0)
		goto oom;
	v[0] = parents.data;
	v[1] = num(idb, id);
	v[2] = done.data;
	if (run_command(s, ST_AFTER_ADD, 3, v, "linking tasks", NULL, err) < 0)
		goto out;
	v[1] = t->after_policy == AC_AFTER_ALL_DONE ? "all-done" : "all-ok";
	v[0] = num(idb, id);
	v[2] = num(waiting, g->doomed_by ? 0 : g->waiting);
	v[3] = NULL;
	v[4] = NULL;
	if (g->doomed_by) {
		if (ac_buf_printf(&why, "task %lld it waited for ended %s",
				  (long long)g->doomed_by,
				  g->doomed_status) < 0)
			goto oom;
		v[3] = "cancelled";
		v[4] = why.data;
	} else if (g->waiting) {
		v[3] = "pending";
	}
	rc = run_command(s, ST_GRAPH_SET, 5, v, "linking tasks", NULL, err);
	goto out;
oom:
	ac_error_set(err, AC_EXIT_FAILED, "out of memory");
out:
	ac_buf_release(&parents);
	ac_buf_release(&done);
	ac_buf_release(&why);
	return rc;
}

/* Make, change or charge the budget `name` (ac_budget_next has the
 * rules), then hold or release its tasks as it now stands.  0, 1 when
 * there is no such budget and it is not to be made (create = 0, or no
 * limits), -1 on error. */
static int budget_apply(struct pg_store *s, const char *name,
			const char *limits, int reset, const char *add,
			int create, int *spent_out, struct ac_error *err)
{
	const char *v[4] = { name, NULL, NULL, NULL };
	char *new_limits = NULL, *new_usage = NULL;
	int change = limits || reset || add, exists, old_spent = 0, spent, rc;
	/* A look that changes nothing (a submit charging the budget) shares
	 * the row: submits go on side by side, and a charge that would
	 * spend the budget waits for them, so that its hold sees their
	 * tasks. */
	PGresult *res = run(s, change ? ST_BUDGET_GET : ST_BUDGET_GET_SHARED,
			    1, v, NULL, "reading a budget", err);

	if (!res)
		return -1;
	exists = PQntuples(res) > 0;
	if (exists)
		old_spent = get_i64(res, 0, 2) != 0;
	if (exists && !change) {
		PQclear(res);
		if (spent_out)
			*spent_out = old_spent;
		return 0;
	}
	if (!exists && (!create || !limits))
		rc = 1;
	else if (ac_budget_next(exists ? get_text(res, 0, 0) : NULL,
				exists ? get_text(res, 0, 1) : NULL, limits,
				reset, add, &new_limits, &new_usage,
				&spent) < 0)
		rc = ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	else
		rc = 0;
	PQclear(res);
	if (rc != 0)
		return rc;
	v[1] = new_limits;
	v[2] = new_usage;
	v[3] = spent ? "1" : "0";
	rc = run_command(s, exists ? ST_BUDGET_UPDATE : ST_BUDGET_INSERT, 4, v,
			 "writing a budget", NULL, err);
	free(new_limits);
	free(new_usage);
	if (rc == 0 && spent_out)
		*spent_out = spent;
	if (rc < 0 || spent == old_spent)
		return rc;
	if (run_command(s, spent ? ST_BUDGET_HOLD : ST_BUDGET_RELEASE, 1, v,
			spent ? "holding a budget's tasks" :
			"releasing a budget's tasks", NULL, err) < 0)
		return -1;
	return spent ? 0 : notify_wake(s, err);
}

/* ac_budget_for_task's step. */
static int budget_check_step(struct ac_store *base, const char *name,
			     const char *limits, int create, int *spent,
			     struct ac_error *err)
{
	return budget_apply((struct pg_store *)base, name, limits, 0, NULL, create,
			    spent, err);
}

/* A budget of a task's or a batch's own (limits without a name),
 * "task-ID" or "batch-ID"; task > 0: charge that task to it. */
static int budget_own(struct pg_store *s, const char *what, int64_t id,
		      const char *limits, int64_t task, char **name_out,
		      struct ac_error *err)
{
	char *name = ac_budget_own_name(what, id), idb[NUM];
	const char *v[2] = { num(idb, task), name };
	int rc;

	if (!name)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	rc = budget_apply(s, name, limits, 0, NULL, 1, NULL, err);
	if (rc == 0 && task > 0)
		rc = run_command(s, ST_TASK_BUDGET, 2, v,
				 "charging a task to its budget", NULL, err);
	if (rc == 0 && name_out)
		*name_out = name;
	else
		free(name);
	return rc;
}

/* One task with a parent or tasks to wait for, on its own, inside the
 * caller's transaction: its key looked up, its parents linked, then
 * inserted and made to wait. */
static int insert_linked(struct pg_store *s, const struct ac_task_spec *t,
			 struct ac_submitted *out, int64_t batch, int then,
			 struct ac_error *err)
{
	struct ac_graph_place g;
	struct insert_args a;
	PGresult *res;
	int rc;

	out->id = 0;
	out->existed = 0;
	if (t->idempotency_key) {
		rc = find_key(s, t->idempotency_key, &out->id, err);
		if (rc != 0) {
			out->existed = rc > 0;
			return rc < 0 ? -1 : 0;
		}
	}
	if (ac_graph_place(link_task, &s->base, t, &g, err) < 0) {
		ac_graph_place_release(&g);
		return -1;
	}
	insert_args(t, g.parent, batch, g.depth, then, &a);
	res = run_with(s, ST_INSERT_TASK, INSERT_NPARAMS, a.v, a.lengths,
		       a.formats, 0,
		       "adding a task", err);
	free(a.frame);
	if (!res) {
		ac_graph_place_release(&g);
		return -1;
	}
	if (PQntuples(res) == 1)
		out->id = get_i64(res, 0, 0);
	PQclear(res);
	/* No id: the key was taken meanwhile (insert_tasks looks it up). */
	rc = out->id && t->nafter ? graph_wait(s, out->id, t, &g, err) : 0;
	ac_graph_place_release(&g);
	return rc;
}

static int in_graph(const struct ac_task_spec *t)
{
	return t->parent > 0 || t->nafter > 0;
}

/* Insert n tasks inside the caller's transaction (begun by
 * begin_submit()): those in no graph in pipelines, the others one by
 * one (insert_linked), in the order given.  batch: the batch they
 * belong to (0 = none); then: whether it has a continuation (each task
 * then has a dependent). */
static int insert_tasks(struct pg_store *s, const struct ac_task_spec *specs,
			size_t n, struct ac_submitted *out, int64_t batch,
			int then, struct ac_error *err)
{
	struct ac_budget_check budget = { NULL, 0 };
	size_t from = 0, to;

	for (size_t i = 0; i < n; i++) {
		if (specs[i].data[specs[i].data_len] != '\0')
			return ac_error_set(err, AC_EXIT_FAILED,
					    "task data must end at its length");
		if (ac_budget_for_task(budget_check_step, &s->base,
				       &specs[i], &budget, err) < 0)
			return -1;
	}
	for (; from < n; from = to) {
		to = from + 1;
		if (in_graph(&specs[from])) {
			if (insert_linked(s, &specs[from], &out[from], batch,
					  then, err) < 0)
				return -1;
		} else {
			while (to < n && to - from < SUBMIT_PIPELINE &&
			       !in_graph(&specs[to]))
				to++;
			if (submit_chunk(s, specs, from, to, out, batch, then,
					 err) < 0)
				return -1;
		}
		/* A key that named a task already there (or earlier in this
		 * call): that task's id. */
		for (size_t i = from; i < to; i++) {
			const char *key = specs[i].idempotency_key;
			int rc;

			if (out[i].id)
				continue;
			rc = key ? find_key(s, key, &out[i].id, err) : 0;
			if (rc < 0)
				return -1;
			if (rc == 0)
				return ac_error_set(err, AC_EXIT_TEMPFAIL,
						    "store '%s': idempotency key '%s' is being used by another submit; try again",
						    s->shown, key ? key : "");
			out[i].existed = 1;
		}
	}
	/* New tasks of a spent budget are held (the check above again, from
	 * its cache); a task's budget of its own is made. */
	budget.name = NULL;
	for (size_t i = 0; i < n; i++) {
		char idb[NUM];
		const char *v[1] = { num(idb, out[i].id) };

		if (out[i].existed)
			continue;
		if (specs[i].budget &&
		    (ac_budget_for_task(budget_check_step, &s->base,
					&specs[i], &budget, err) < 0 ||
		     (budget.spent &&
		      run_command(s, ST_BUDGET_HOLD_ONE, 1, v,
				  "holding a task of a spent budget", NULL,
				  err) < 0)))
			return -1;
		if (specs[i].budget_limits && !specs[i].budget &&
		    budget_own(s, "task", out[i].id, specs[i].budget_limits,
			       out[i].id, NULL, err) < 0)
			return -1;
	}
	return count_submitted(s, specs, n, out, err);
}

/* A submit's transaction: the tasks it inserts are counted by
 * count_submitted(), not one by one by the trigger. */
static int begin_submit(struct pg_store *s, struct ac_error *err)
{
	if (tx_begin(s, err) < 0)
		return -1;
	if (run_command(s, ST_COUNTED, 0, NULL, "adding tasks", NULL, err) < 0) {
		tx_rollback(s);
		return -1;
	}
	return 0;
}

/* The workers are woken in the transaction: NOTIFY is sent at COMMIT. */
static int end_submit(struct pg_store *s, struct ac_error *err)
{
	if (notify_wake(s, err) < 0 || tx_commit(s, err) < 0) {
		tx_rollback(s);
		return -1;
	}
	return 0;
}

/* All n tasks in one transaction. */
static int pg_submit(struct ac_store *base, const struct ac_task_spec *specs,
		     size_t n, struct ac_submitted *out, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;

	if (begin_submit(s, err) < 0)
		return -1;
	if (insert_tasks(s, specs, n, out, 0, 0, err) < 0) {
		tx_rollback(s);
		return -1;
	}
	return end_submit(s, err);
}

/* The id of a single-row, single-column answer. */
static int64_t answer_id(PGresult *res)
{
	int64_t id = PQntuples(res) == 1 ? get_i64(res, 0, 0) : 0;

	PQclear(res);
	return id;
}

/* The batch's size and id range (first to last: tasks of other submits
 * may be in it too), and its continuation: waiting for every task of
 * the batch, its data made when the last one ends (or now, when none is
 * left to wait for). */
static int batch_finish(struct pg_store *s, struct ac_batch_spec *batch,
			int64_t id, int64_t total, int64_t first, int64_t last,
			struct ac_error *err)
{
	struct ac_submitted then = { 0 };
	struct ac_task_spec spec;
	char idb[NUM], thenb[NUM], totalb[NUM], waiting[NUM], firstb[NUM],
		lastb[NUM];
	const char *v[5] = { num(idb, id), NULL, NULL, num(firstb, first),
			     num(lastb, last) };
	PGresult *res;

	batch->id = id;
	batch->then_id = 0;
	if (batch->then) {
		spec = *batch->then;
		spec.idempotency_key = NULL;
		spec.nafter = 0;
		if (insert_tasks(s, &spec, 1, &then, 0, 0, err) < 0)
			return -1;
		v[1] = num(thenb, then.id);
		v[2] = firstb;
		v[3] = lastb;
		res = run(s, ST_THEN_EDGES, 4, v, NULL,
			  "linking a continuation", err);
		if (!res)
			return -1;
		v[0] = thenb;
		v[1] = idb;
		v[2] = num(waiting, answer_id(res));
		if (run_command(s, ST_THEN_SET, 3, v, "linking a continuation",
				NULL, err) < 0)
			return -1;
		batch->then_id = then.id;
	}
	v[0] = idb;
	v[1] = num(totalb, total);
	v[2] = then.id ? num(thenb, then.id) : NULL;
	v[3] = first ? firstb : NULL;
	v[4] = last ? lastb : NULL;
	return run_command(s, ST_BATCH_DONE, 5, v, "recording a batch", NULL,
			   err);
}

static int pg_submit_many(struct ac_store *base,
			  size_t (*next)(void *, struct ac_task_spec *, size_t),
			  void (*stored)(void *, const struct ac_submitted *,
					 size_t),
			  void *ctx, struct ac_batch_spec *batch,
			  struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	struct ac_task_spec *specs = calloc(SUBMIT_PIPELINE, sizeof *specs);
	struct ac_submitted *out = calloc(SUBMIT_PIPELINE, sizeof *out);
	int64_t batch_id = 0, total = 0, first = 0, last = 0;
	char *budget = NULL;
	size_t n;
	int rc = -1;

	if (!specs || !out) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto done;
	}
	if (begin_submit(s, err) < 0)
		goto done;
	if (batch) {
		PGresult *res = run(s, ST_BATCH_NEW, 0, NULL, NULL,
				    "recording a batch", err);

		if (!res)
			goto fail;
		batch_id = answer_id(res);
	}
	if (batch && batch->budget_limits &&
	    budget_own(s, "batch", batch_id, batch->budget_limits, 0, &budget,
		       err) < 0)
		goto fail;
	while ((n = next(ctx, specs, SUBMIT_PIPELINE)) > 0) {
		for (size_t i = 0; budget && i < n; i++) {
			specs[i].budget = budget;
			specs[i].budget_limits = NULL;
		}
		if (insert_tasks(s, specs, n, out, batch_id,
				 batch && batch->then, err) < 0)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			if (out[i].existed)
				continue;
			total++;
			if (!first || out[i].id < first)
				first = out[i].id;
			if (out[i].id > last)
				last = out[i].id;
		}
		stored(ctx, out, n);
	}
	if (batch && batch_finish(s, batch, batch_id, total, first, last,
				  err) < 0)
		goto fail;
	rc = end_submit(s, err);
	goto done;
fail:
	tx_rollback(s);
done:
	free(budget);
	free(specs);
	free(out);
	return rc;
}

static int read_status(struct pg_store *s, int64_t id,
		       enum ac_task_status *status, struct ac_error *err)
{
	char idb[NUM];
	const char *v[1] = { num(idb, id) };
	PGresult *res = run(s, ST_TASK_STATUS, 1, v, NULL, "reading a task", err);
	int rc = 0;

	if (!res)
		return -1;
	if (PQntuples(res) == 0)
		rc = ac_error_set(err, AC_EXIT_USAGE, "no task %lld",
				  (long long)id);
	else if (ac_task_status_parse(PQgetvalue(res, 0, 0), status) < 0)
		rc = ac_error_set(err, AC_EXIT_UNAVAILABLE,
				  "task %lld has an unknown status",
				  (long long)id);
	PQclear(res);
	return rc;
}

static int pg_retry(struct ac_store *base, int64_t id, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	enum ac_task_status status;
	char idb[NUM];
	const char *v[1] = { num(idb, id) };

	if (tx_begin(s, err) < 0)
		return -1;
	if (read_status(s, id, &status, err) < 0)
		goto fail;
	if (status != AC_TASK_FAILED && status != AC_TASK_TIMEOUT &&
	    status != AC_TASK_CANCELLED && status != AC_TASK_EXPIRED) {
		ac_error_set(err, AC_EXIT_USAGE,
			     "task %lld is %s: only a failed, timed-out, cancelled or expired task can be retried",
			     (long long)id, ac_task_status_name(status));
		goto fail;
	}
	if (run_command(s, ST_RETRY, 1, v, "requeueing a task", NULL, err) < 0 ||
	    notify_wake(s, err) < 0)
		goto fail;
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	return -1;
}

static int pg_task_states(struct ac_store *base, const int64_t *ids, size_t n,
			  enum ac_task_status *out, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;

	for (size_t i = 0; i < n; i++)
		if (read_status(s, ids[i], &out[i], err) < 0)
			return -1;
	return 0;
}

/* One statement for all n: a waiting submitter's round trips do not grow
 * with its batch. */
static int pg_task_ends(struct ac_store *base, const int64_t *ids, size_t n,
			struct ac_task_end *out, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	struct ac_buf list = { 0 };
	const char *v[1];
	char *found;
	PGresult *res;
	size_t i;
	int rc = 0, rows;

	memset(out, 0, n * sizeof *out);
	if (n == 0)
		return 0;
	found = calloc(n, 1);
	rc = found ? ac_buf_append(&list, "{", 1) : -1;
	for (i = 0; i < n; i++) {
		out[i].id = ids[i];
		if (rc == 0)
			rc = ac_buf_printf(&list, "%s%lld", i ? "," : "",
					   (long long)ids[i]);
	}
	if (rc < 0 || ac_buf_append(&list, "}", 1) < 0) {
		free(found);
		ac_buf_release(&list);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	v[0] = list.data;
	res = run_with(s, ST_TASK_END, 1, v, NULL, NULL, 1, "reading tasks",
		       err);
	ac_buf_release(&list);
	if (!res) {
		free(found);
		return -1;
	}
	rows = PQntuples(res);
	/* Rows come in any order; batches are small enough to match them by
	 * a scan. */
	for (int r = 0; r < rows && rc == 0; r++) {
		int64_t id = get_i64(res, r, 0);
		enum ac_task_status status;

		if (ac_task_status_parse(PQgetvalue(res, r, 1), &status) < 0) {
			rc = ac_error_set(err, AC_EXIT_UNAVAILABLE,
					  "task %lld has an unknown status",
					  (long long)id);
			break;
		}
		for (i = 0; i < n && rc == 0; i++) {
			if (ids[i] != id || found[i])
				continue;
			found[i] = 1;
			out[i].status = status;
			if (!ac_task_status_final(status))
				continue;
			if (row_value(res, r, 2, 4, &out[i].result, NULL,
				      err) < 0) {
				rc = -1;
				break;
			}
			out[i].error = dup_text(res, r, 3, NULL);
			if (!out[i].error && !PQgetisnull(res, r, 3))
				rc = ac_error_set(err, AC_EXIT_FAILED,
						  "out of memory");
		}
	}
	PQclear(res);
	for (i = 0; i < n && rc == 0; i++)
		if (!found[i])
			rc = ac_error_set(err, AC_EXIT_USAGE, "no task %lld",
					  (long long)ids[i]);
	free(found);
	if (rc < 0)
		ac_task_ends_release(out, n);
	return rc;
}

/* Rows of TASK_COLS, read with a binary result (run_with). */
static json_t *task_json_from_row(const PGresult *res, int r, json_t *attempts)
{
	char *shown[3] = { NULL, NULL, NULL };  /* decoded frames */
	int oom = 0;
	json_t *j;
	struct ac_task_row row = {
		.id = get_i64(res, r, 0),
		.type = get_text(res, r, 1),
		.status = get_text(res, r, 2),
		.priority = (int)get_i64(res, r, 3),
		.attempt = (int)get_i64(res, r, 4),
		.max_retries = (int)get_i64(res, r, 5),
		.failures = (int)get_i64(res, r, 6),
		.timeout_ms = get_i64(res, r, 7),
		.worker = get_text(res, r, 8),
		.route_key = get_text(res, r, 9),
		.tags = get_text(res, r, 10),
		.meta = get_text(res, r, 11),
		.data = row_value_shown(res, r, 12, 29, &shown[0], &oom),
		.result = row_value_shown(res, r, 13, 30, &shown[1], &oom),
		.error = get_text(res, r, 14),
		.checkpoint = row_value_shown(res, r, 15, 31, &shown[2], &oom),
		.progress = get_double(res, r, 16),
		.idempotency_key = get_text(res, r, 17),
		.created = get_i64(res, r, 18),
		.run_at = get_i64(res, r, 19),
		.started = get_i64(res, r, 20),
		.finished = get_i64(res, r, 21),
		.lease_until = get_i64(res, r, 22),
		.usage = get_text(res, r, 23),
		.log = get_text(res, r, 24),
		.reclaims = (int)get_i64(res, r, 25),
		.max_reclaims = (int)get_i64(res, r, 26),
		.cancel_requested = (int)get_i64(res, r, 27),
		.assigned = get_text(res, r, 28),
		.parent = get_i64(res, r, 32),
		.batch = get_i64(res, r, 33),
		.after_policy = get_text(res, r, 34),
		.waiting = (int)get_i64(res, r, 35),
		.awaiting = (int)get_i64(res, r, 36),
		.traceparent = get_text(res, r, 37),
		.budget = get_text(res, r, 38),
		.held = (int)get_i64(res, r, 39),
		.attempts = attempts,
	};

	j = oom ? NULL : ac_task_row_json(&row);
	if (!j)
		json_decref(attempts);
	for (int i = 0; i < 3; i++)
		free(shown[i]);
	return j;
}

static int read_attempts(struct pg_store *s, int64_t id, json_t **out,
			 struct ac_error *err)
{
	char idb[NUM];
	const char *v[1] = { num(idb, id) };
	PGresult *res = run(s, ST_ATTEMPTS, 1, v, NULL, "reading attempts", err);
	json_t *arr;

	if (!res)
		return -1;
	arr = json_array();
	for (int r = 0; arr && r < PQntuples(res); r++) {
		char started[40], finished[40];
		json_t *a = json_pack("{s:i,s:s,s:s,s:s?,s:s?,s:s?}",
			"attempt", (int)get_i64(res, r, 0),
			"worker", get_text(res, r, 1),
			"started", ac_format_time(get_i64(res, r, 2), started,
						  sizeof started),
			"finished", PQgetisnull(res, r, 3) ? NULL :
				ac_format_time(get_i64(res, r, 3), finished,
					       sizeof finished),
			"outcome", get_text(res, r, 4),
			"error", get_text(res, r, 5));

		if (!a || json_array_append_new(arr, a) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	PQclear(res);
	if (!arr)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	*out = arr;
	return 0;
}

static int pg_task_get(struct ac_store *base, int64_t id, json_t **out,
		       struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	char idb[NUM];
	const char *v[1] = { num(idb, id) };
	json_t *attempts = NULL;
	PGresult *res;

	if (read_attempts(s, id, &attempts, err) < 0)
		return -1;
	res = run_with(s, ST_TASK_GET, 1, v, NULL, NULL, 1, "reading a task",
		       err);
	if (!res) {
		json_decref(attempts);
		return -1;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		json_decref(attempts);
		return ac_error_set(err, AC_EXIT_USAGE, "no task %lld",
				    (long long)id);
	}
	*out = task_json_from_row(res, 0, attempts);
	PQclear(res);
	return *out ? 0 : ac_error_set(err, AC_EXIT_FAILED, "out of memory");
}

/* The rows of TASK_COLS (a binary result) as a new JSON array in *out. */
static int rows_json(PGresult *res, json_t **out, struct ac_error *err)
{
	json_t *arr = json_array();

	for (int r = 0; arr && r < PQntuples(res); r++) {
		json_t *t = task_json_from_row(res, r, NULL);

		if (!t || json_array_append_new(arr, t) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	PQclear(res);
	if (!arr)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	*out = arr;
	return 0;
}

static int pg_tasks_list(struct ac_store *base,
			 const struct ac_task_filter *filter, json_t **out,
			 struct ac_error *err)
{
	static const enum stmt_id which[4] = {
		ST_LIST_ALL, ST_LIST_STATUS, ST_LIST_TYPE, ST_LIST_BOTH,
	};
	struct pg_store *s = (struct pg_store *)base;
	char limit[NUM];
	const char *v[3];
	int k = (filter->has_status ? 1 : 0) | (filter->type ? 2 : 0), n = 0;
	PGresult *res;

	/* Each statement takes only the values it uses, in order. */
	if (filter->has_status)
		v[n++] = ac_task_status_name(filter->status);
	if (filter->type)
		v[n++] = filter->type;
	v[n++] = num(limit, filter->limit);
	res = run_with(s, which[k], n, v, NULL, NULL, 1, "listing tasks", err);
	if (!res)
		return -1;
	return rows_json(res, out, err);
}

static int pg_task_counts(struct ac_store *base, json_t **out,
			  struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	PGresult *res = run(s, ST_COUNTS, 0, NULL, NULL, "counting tasks", err);
	json_t *o;

	if (!res)
		return -1;
	o = json_object();
	if (!o) {
		PQclear(res);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	for (int i = 0; i < AC_TASK_STATUS_COUNT; i++)
		json_object_set_new(o, ac_task_status_name(i), json_integer(0));
	for (int r = 0; r < PQntuples(res); r++)
		json_object_set_new(o, PQgetvalue(res, r, 0),
				    json_integer(get_i64(res, r, 1)));
	PQclear(res);
	*out = o;
	return 0;
}

static int pg_queue_depth(struct ac_store *base, json_t **out,
			  struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	PGresult *res = run(s, ST_DEPTH, 0, NULL, NULL, "reading queue depth", err);
	json_t *arr, *cur = NULL;

	if (!res)
		return -1;
	arr = json_array();
	for (int r = 0; arr && r < PQntuples(res); r++) {
		const char *type = PQgetvalue(res, r, 0);
		int prio = (int)get_i64(res, r, 1);

		if (!cur || strcmp(json_string_value(json_object_get(cur, "type")),
				   type) ||
		    json_integer_value(json_object_get(cur, "priority")) != prio) {
			cur = json_pack("{s:s,s:i,s:i,s:i,s:i}", "type", type,
					"priority", prio, "queued", 0,
					"pending", 0, "running", 0);
			if (!cur || json_array_append_new(arr, cur) < 0) {
				json_decref(arr);
				arr = NULL;
				break;
			}
		}
		json_object_set_new(cur, PQgetvalue(res, r, 2),
				    json_integer(get_i64(res, r, 3)));
	}
	PQclear(res);
	if (!arr)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	*out = arr;
	return 0;
}

static int pg_workers_list(struct ac_store *base, json_t **out,
			   struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	PGresult *res = run(s, ST_WORKERS, 0, NULL, NULL, "listing workers", err);
	json_t *arr;

	if (!res)
		return -1;
	arr = json_array();
	for (int r = 0; arr && r < PQntuples(res); r++) {
		struct ac_worker_row row = {
			.id = get_text(res, r, 0),
			.status = get_text(res, r, 1),
			.host = get_text(res, r, 2),
			.pid = (long)get_i64(res, r, 3),
			.concurrency = (int)get_i64(res, r, 4),
			.running = (int)get_i64(res, r, 5),
			.completed = get_i64(res, r, 6),
			.failed = get_i64(res, r, 7),
			.tags = get_text(res, r, 8),
			.handlers = get_text(res, r, 9),
			.listen = get_text(res, r, 10),
			.metrics = get_text(res, r, 11),
			.started = get_i64(res, r, 12),
			.heartbeat = get_i64(res, r, 13),
			.lease_ms = get_i64(res, r, 14),
			.drain = (int)get_i64(res, r, 15),
			.drain_reason = get_text(res, r, 16),
			.stop = (int)get_i64(res, r, 17),
			.heartbeat_age_ms = get_i64(res, r, 18),
		};
		json_t *w = ac_worker_row_json(&row, get_i64(res, r, 19));

		if (!w || json_array_append_new(arr, w) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	PQclear(res);
	if (!arr)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	*out = arr;
	return 0;
}

static int read_control(struct pg_store *s, const char *worker_id,
			struct ac_worker_control *ctl, struct ac_error *err)
{
	PGresult *res = run(s, ST_WORKER_CTL, 1, &worker_id, NULL,
			    "reading the worker's state", err);

	if (!res)
		return -1;
	ctl->drain = ctl->stop = 0;
	if (PQntuples(res) == 1) {
		ctl->drain = (int)get_i64(res, 0, 0);
		ctl->stop = (int)get_i64(res, 0, 1);
	}
	PQclear(res);
	return 0;
}

static int pg_worker_register(struct ac_store *base,
			      const struct ac_worker_record *rec,
			      struct ac_worker_control *ctl,
			      struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	char pid[NUM], conc[NUM], hb[NUM], lease[NUM];
	const char *up[10] = {
		rec->id, rec->host, num(pid, rec->pid),
		num(conc, rec->concurrency), rec->tags, rec->handlers,
		rec->listen, rec->metrics, num(hb, rec->heartbeat_ms),
		num(lease, rec->lease_ms),
	};
	PGresult *res;

	if (tx_begin(s, err) < 0)
		return -1;
	res = run(s, ST_WORKER_FIND, 1, &rec->id, NULL, "looking up the worker", err);
	if (!res)
		goto fail;
	if (PQntuples(res) == 1) {
		const char *host = PQgetvalue(res, 0, 0);
		long other = (long)get_i64(res, 0, 1);
		const char *status = PQgetvalue(res, 0, 2);
		int64_t age = get_i64(res, 0, 3), lease_ms = get_i64(res, 0, 4);
		int alive = strcmp(status, "stopped") && age <= lease_ms;

		/* On this host the pid tells for sure; elsewhere the heartbeat
		 * must have gone stale before the id may be taken over. */
		if (alive && !strcmp(host, rec->host))
			alive = other != rec->pid &&
				(kill((pid_t)other, 0) == 0 || errno == EPERM);
		if (alive) {
			ac_error_set(err, AC_EXIT_FAILED,
				     "worker id '%s' is in use by pid %ld on %s",
				     rec->id, other, host);
			PQclear(res);
			goto fail;
		}
	}
	PQclear(res);
	if (run_command(s, ST_WORKER_UPSERT, 10, up, "registering the worker",
			NULL, err) < 0 ||
	    read_control(s, rec->id, ctl, err) < 0)
		goto fail;
	res = run(s, ST_REQUEUE_OWN, 1, &rec->id, NULL, "reclaiming tasks", err);
	if (!res)
		goto fail;
	if (get_i64(res, 0, 0) > 0 && notify_wake(s, err) < 0) {
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	return -1;
}

static int pg_worker_set_handlers(struct ac_store *base,
				  const char *worker_id, const char *handlers,
				  struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	const char *v[2] = { worker_id, handlers };
	long changed = 0;

	if (run_command(s, ST_WORKER_HANDLERS, 2, v,
			"updating the worker's handlers", &changed, err) < 0)
		return -1;
	if (changed == 0)
		return ac_error_set(err, AC_EXIT_FAILED, "unknown worker '%s'",
				    worker_id);
	return 0;
}

static int write_worker_state(struct pg_store *s, const char *worker_id,
			      const struct ac_worker_state *state,
			      struct ac_error *err)
{
	char running[NUM], completed[NUM], failed[NUM];
	const char *v[5] = {
		worker_id, state->status, num(running, state->running),
		num(completed, state->completed), num(failed, state->failed),
	};

	return run_command(s, ST_WORKER_STATE, 5, v, "updating the worker",
			   NULL, err);
}

/* The statement and values of one attempt's end, fenced: it changes the
 * task only while this attempt of this worker holds a lease that has not
 * run out.  The values point into bufs and into o. */
struct outcome_args {
	enum stmt_id id;
	int n;
	const char *v[8];
	int lengths[8], formats[8];
	unsigned char *frame;      /* a compressed result, freed once sent */
	char idb[NUM], att[NUM], base_ms[NUM], jitter[NUM], delay[NUM],
		hold[NUM];
};

static void outcome_args(const struct ac_outcome *o, const char *worker_id,
			 struct outcome_args *a)
{
	memset(a->lengths, 0, sizeof a->lengths);
	memset(a->formats, 0, sizeof a->formats);
	a->frame = NULL;
	a->v[0] = num(a->idb, o->id);
	a->v[1] = num(a->att, o->attempt);
	a->v[2] = worker_id;
	a->n = 4;
	switch (o->kind) {
	case AC_OUTCOME_COMPLETED:
		a->id = ST_DONE;
		/* o->result is NUL-terminated at result_len. */
		a->frame = value_params(o->result, o->result_len, 3, 4, a->v,
					a->lengths, a->formats);
		a->n = 5;
		break;
	case AC_OUTCOME_TEMPFAIL:
		a->id = ST_TEMPFAIL;
		a->v[3] = o->error;
		a->v[4] = num(a->delay, o->delay_ms > 0 ? o->delay_ms :
			      TEMPFAIL_DELAY_MS);
		a->v[5] = num(a->hold, o->hold_ms > 0 ? o->hold_ms : 0);
		a->v[6] = o->hold_key ? "1" : "0";
		a->n = 7;
		break;
	case AC_OUTCOME_SNOOZED:
		a->id = ST_SNOOZE;
		a->v[3] = o->error;
		a->v[4] = num(a->delay, o->delay_ms > 0 ? o->delay_ms : 0);
		a->n = 5;
		break;
	case AC_OUTCOME_CANCELLED:
		a->id = ST_CANCEL_DONE;
		a->v[3] = o->error;
		break;
	case AC_OUTCOME_RELEASED:
		a->id = ST_RELEASE;
		a->v[3] = o->error;
		break;
	case AC_OUTCOME_CRASHED:
		a->id = ST_CRASHED;
		a->v[3] = o->error;
		break;
	default:
		a->id = ST_FAIL;
		a->v[3] = o->error;
		a->v[4] = o->kind == AC_OUTCOME_TIMEOUT ? "timeout" : "failed";
		a->v[5] = num(a->base_ms, BACKOFF_BASE_MS);
		/* Up to a quarter of the base, so retries of a burst spread. */
		a->v[6] = num(a->jitter,
			      (int64_t)(random() % (BACKOFF_BASE_MS / 4)));
		a->v[7] = a->v[4];
		a->n = 8;
		break;
	}
}

static int claimed_cmp(const void *a, const void *b)
{
	const struct ac_claimed *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* A claimed task whose stored data or checkpoint does not decode
 * (compress.h): it is not handed out, and ends failed with the reason as
 * its error (fail_damaged). */
struct damaged {
	int64_t id;
	int attempt;
	char why[sizeof ((struct ac_error *)0)->msg + 40];
};

/* The rows of a claim, as a new array in claim order; the rows whose values
 * do not decode go to *damaged instead (a new array of *ndamaged). */
static int claimed_from(const PGresult *res, struct ac_claimed **claimed,
			size_t *nclaimed, struct damaged **damaged,
			size_t *ndamaged, struct ac_error *err)
{
	int n = PQntuples(res), kept = 0;
	struct ac_claimed *tasks;

	if (n == 0)
		return 0;
	tasks = calloc((size_t)n, sizeof *tasks);
	*damaged = calloc((size_t)n, sizeof **damaged);
	if (!tasks || !*damaged) {
		free(tasks);
		free(*damaged);
		*damaged = NULL;
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	for (int r = 0; r < n; r++) {
		struct ac_claimed *t = &tasks[kept];
		const char *what = "data";

		t->id = get_i64(res, r, 0);
		t->type = dup_text(res, r, 1, NULL);
		t->priority = (int)get_i64(res, r, 3);
		t->attempt = (int)get_i64(res, r, 4);
		t->timeout_ms = get_i64(res, r, 5);
		t->route_key = dup_text(res, r, 6, NULL);
		t->has_after = (int)get_i64(res, r, 10);
		t->traceparent = dup_text(res, r, 11, NULL);
		if (!t->type || (!t->route_key && !PQgetisnull(res, r, 6)) ||
		    (!t->traceparent && !PQgetisnull(res, r, 11)))
			goto oom;
		errno = 0;
		if (row_value(res, r, 2, 8, &t->data, &t->data_len, err) == 0) {
			what = "checkpoint";
			if (row_value(res, r, 7, 9, &t->checkpoint, NULL,
				      err) == 0) {
				kept++;
				continue;
			}
		}
		if (errno != EBADMSG)
			goto oom;
		(*damaged)[*ndamaged].id = t->id;
		(*damaged)[*ndamaged].attempt = t->attempt;
		snprintf((*damaged)[*ndamaged].why,
			 sizeof (*damaged)[*ndamaged].why,
			 "stored %s does not decode: %s", what, err->msg);
		(*ndamaged)++;
		ac_claimed_release(t);
	}
	if (kept == 0) {
		free(tasks);
		return 0;
	}
	qsort(tasks, (size_t)kept, sizeof *tasks, claimed_cmp);
	*claimed = tasks;
	*nclaimed = (size_t)kept;
	return 0;
oom:
	ac_claimed_free_array(tasks, (size_t)n);
	free(*damaged);
	*damaged = NULL;
	*ndamaged = 0;
	return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
}

/* Fail the claimed tasks whose stored values do not decode, each fenced
 * by its attempt: no handler runs on damaged data, no retry could mend
 * it, and later claims move on to other tasks instead of stumbling on
 * these every time.  Best effort, after the cycle committed: if the store
 * fails now, such a task is taken back when its lease runs out and met
 * here again. */
static void fail_damaged(struct pg_store *s, const char *worker_id,
			 const struct damaged *damaged, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char idb[NUM], att[NUM];
		const char *v[4] = { num(idb, damaged[i].id),
				     num(att, damaged[i].attempt), worker_id,
				     damaged[i].why };
		struct ac_error ignored;

		if (run_command(s, ST_DAMAGED, 4, v,
				"failing a task with damaged data", NULL,
				&ignored) < 0)
			return;
	}
}

/* The next result of a pipeline (NULL between statements), waiting no
 * longer than the deadline; *broken is set when the connection failed. */
static PGresult *pipe_next(struct pg_store *s, int64_t deadline, int *broken)
{
	while (PQisBusy(s->conn)) {
		struct pollfd p = { PQsocket(s->conn), POLLIN, 0 };
		int64_t left = deadline - ac_mono_ms();
		int rc;

		if (PQflush(s->conn) == 1)
			p.events |= POLLOUT;
		if (left <= 0) {
			*broken = 2;
			return NULL;
		}
		rc = poll(&p, 1, (int)left);
		if ((rc < 0 && errno != EINTR) ||
		    (rc > 0 && !PQconsumeInput(s->conn))) {
			*broken = 1;
			return NULL;
		}
	}
	return PQgetResult(s->conn);
}

/* A worker's cycle is one pipeline: BEGIN, every outcome, the operators'
 * requests, the promotion of due tasks, the expiry of tasks never
 * started, the claim, the worker's row and COMMIT are sent at once and
 * their answers read back in order, so a cycle costs one round trip
 * however much it carries.  The claim checks the drain itself, and the
 * worker's row counts what it holds, so that no statement needs the
 * answer of another.
 *
 * Types under flow control (a row in queues) are not claimed that way:
 * their claims must be planned (flow.c) with the type's row locked.  The
 * pipeline asks which of the worker's types are controlled and keeps the
 * answer (pg_store.controlled); a worker that has any sends the first
 * half of the pipeline with those rows locked (ST_FLOW_LOCK) instead of
 * the claim, plans and claims in a few more round trips
 * (claim_controlled), and commits with a second pipeline.  A worker with
 * none pays one index lookup a type.  When a type came under control
 * since the last cycle, the fast claim takes nothing (ST_CLAIM checks)
 * and a second transaction plans the claim at once, so that no claim
 * ever passes a limit or goes out of order for a stale view. */
enum piped_kind { P_BEGIN, P_SETTING, P_LOCK, P_OUTCOME, P_CONTROL,
		  P_PROMOTE, P_EXPIRE, P_CONTROLLED, P_CLAIM, P_STATE,
		  P_NOTIFY, P_COMMIT };

/* What one cycle sends and reads back. */
struct cycle {
	struct pg_store *s;
	const char *worker_id;
	const struct ac_claim_request *claim;
	struct ac_outcome *outcomes;
	size_t noutcomes, outcome_at;
	struct ac_worker_control *ctl;
	struct ac_claimed *claimed;
	size_t nclaimed;
	struct damaged *damaged;
	size_t ndamaged;
	struct ac_flow *flows;       /* P_LOCK: the controlled types' rows */
	size_t nflows;
	int64_t now;                 /* P_LOCK: the store's clock */
	int seen;                    /* controlled was read this cycle */
	struct ac_buf controlled;    /* ... as a text array literal */
	enum piped_kind *kinds;      /* the statements in flight */
	size_t nsent, cap;
	int sent_ok;
};

/* The rows of a claim added to the cycle's (claimed_from). */
static int claimed_add(struct cycle *c, const PGresult *res,
		       struct ac_error *err)
{
	struct ac_claimed *tasks = NULL, *grown;
	struct damaged *damaged = NULL;
	size_t n = 0, nd = 0;

	if (claimed_from(res, &tasks, &n, &damaged, &nd, err) < 0)
		return -1;
	if (n) {
		grown = realloc(c->claimed, (c->nclaimed + n) * sizeof *grown);
		if (!grown) {
			ac_claimed_free_array(tasks, n);
			free(damaged);
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
		memcpy(grown + c->nclaimed, tasks, n * sizeof *tasks);
		c->claimed = grown;
		c->nclaimed += n;
		free(tasks);
	}
	if (nd) {
		struct damaged *more = realloc(c->damaged, (c->ndamaged + nd) *
					       sizeof *more);

		if (!more) {
			free(damaged);
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
		memcpy(more + c->ndamaged, damaged, nd * sizeof *damaged);
		c->damaged = more;
		c->ndamaged += nd;
	}
	free(damaged);
	return 0;
}

/* The types named by column col of every row, as a text array literal in
 * c->controlled (empty when there are none). */
static int controlled_from(struct cycle *c, const PGresult *res, int col)
{
	int rows = PQntuples(res);
	const char **names;
	int rc;

	c->seen = 1;
	c->controlled.len = 0;
	if (rows == 0)
		return 0;
	names = calloc((size_t)rows, sizeof *names);
	if (!names)
		return -1;
	for (int r = 0; r < rows; r++)
		names[r] = PQgetvalue(res, r, col);
	rc = text_array(&c->controlled, names, (size_t)rows);
	free(names);
	return rc;
}

static int locked_from(struct cycle *c, const PGresult *res,
		       struct ac_error *err)
{
	int rows = PQntuples(res);

	if (controlled_from(c, res, 0) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (rows == 0)
		return 0;
	c->flows = calloc((size_t)rows, sizeof *c->flows);
	if (!c->flows)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	for (int r = 0; r < rows; r++) {
		if (read_flow(res, r, &c->flows[r], &c->now) < 0)
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		c->nflows++;
	}
	return 0;
}

static void pipe_add(struct cycle *c, enum piped_kind kind, int sent)
{
	c->sent_ok &= sent != 0;
	if (c->nsent < c->cap)
		c->kinds[c->nsent++] = kind;
	else
		c->sent_ok = 0;
}

static void pipe_text(struct cycle *c, enum piped_kind kind, const char *sql)
{
	pipe_add(c, kind, PQsendQueryParams(c->s->conn, sql, 0, NULL, NULL,
					    NULL, NULL, 0));
}

static void pipe_stmt(struct cycle *c, enum piped_kind kind, enum stmt_id id,
		      int n, const char *const *v, int binary)
{
	char name[16];

	pipe_add(c, kind, PQsendQueryPrepared(c->s->conn, stmt_name(id, name),
					      n, v, NULL, NULL, binary));
}

/* One answer of the pipeline, read into the cycle. */
static int pipe_answer(struct cycle *c, enum piped_kind kind,
		       const PGresult *res, struct ac_error *err)
{
	switch (kind) {
	case P_OUTCOME: {
		struct ac_outcome *o = &c->outcomes[c->outcome_at];

		o->accepted = PQntuples(res) > 0;
		if (o->accepted &&
		    ac_task_status_parse(PQgetvalue(res, 0, 0), &o->status) < 0)
			o->status = AC_TASK_PENDING;
		return 0;
	}
	case P_CONTROL:
		if (PQntuples(res) == 1) {
			c->ctl->drain = (int)get_i64(res, 0, 0);
			c->ctl->stop = (int)get_i64(res, 0, 1);
		}
		return 0;
	case P_CLAIM:
		return claimed_add(c, res, err);
	case P_CONTROLLED:
		return controlled_from(c, res, 0) < 0 ?
			ac_error_set(err, AC_EXIT_FAILED, "out of memory") : 0;
	case P_LOCK:
		return locked_from(c, res, err);
	default:
		return 0;
	}
}

/* Send what was queued with pipe_*() (in pipeline mode), read every
 * answer in order and leave pipeline mode.  0; or -1 with err, the
 * transaction then rolled back or the connection dropped. */
static int pipe_run(struct cycle *c, struct ac_error *err)
{
	struct pg_store *s = c->s;
	int64_t deadline;
	int failed_at = -1, broken = 0;

	if (!c->sent_ok || !PQpipelineSync(s->conn)) {
		unreachable(s, err, "sending a cycle", PQerrorMessage(s->conn));
		drop_connection(s);
		return -1;
	}
	deadline = ac_mono_ms() + s->deadline_ms;
	for (size_t i = 0; i < c->nsent && !broken; i++) {
		PGresult *res = pipe_next(s, deadline, &broken);
		ExecStatusType st;

		if (!res)
			break;
		st = PQresultStatus(res);
		if (st == PGRES_FATAL_ERROR && failed_at < 0) {
			failed_at = (int)i;
			statement_error(s, res, err, "recording a cycle");
		}
		if ((st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) &&
		    failed_at < 0 && pipe_answer(c, c->kinds[i], res, err) < 0)
			failed_at = (int)i;
		if (c->kinds[i] == P_OUTCOME)
			c->outcome_at++;
		PQclear(res);
		/* Each statement's answer ends with a NULL. */
		res = pipe_next(s, deadline, &broken);
		PQclear(res);
	}
	if (!broken) {
		PGresult *res = pipe_next(s, deadline, &broken);

		if (res && PQresultStatus(res) != PGRES_PIPELINE_SYNC)
			broken = 1;
		PQclear(res);
	}
	c->nsent = 0;
	if (broken || !PQexitPipelineMode(s->conn)) {
		char msg[400];

		one_line(PQerrorMessage(s->conn), msg, sizeof msg);
		drop_connection(s);
		if (failed_at < 0)
			unreachable(s, err, "recording a cycle", broken == 2 ?
				    "no answer in time" :
				    msg[0] ? msg : "connection lost");
		return -1;
	}
	if (failed_at >= 0) {
		/* The transaction is left failed (or open): end it. */
		s->in_tx = 1;
		tx_rollback(s);
		return -1;
	}
	return 0;
}

static int pipe_start(struct cycle *c, struct ac_error *err)
{
	if (!PQenterPipelineMode(c->s->conn)) {
		unreachable(c->s, err, "starting a pipeline",
			    PQerrorMessage(c->s->conn));
		drop_connection(c->s);
		return -1;
	}
	c->sent_ok = 1;
	c->nsent = 0;
	return 0;
}

/* flow.h's queries, inside the cycle's transaction. */
struct flow_ctx {
	struct pg_store *s;
	const char *worker_id;
	const char *tags;
	const char *ended;        /* bigint[] of the claim's ended tasks, or
				   * NULL (struct ac_claim_request) */
};

static int flow_candidates(void *ctx, const char *type, const char *skip_keys,
			   size_t limit, struct ac_flow_cand **out, size_t *n,
			   struct ac_error *err)
{
	struct flow_ctx *x = ctx;
	char lim[NUM];
	const char *v[5] = { type, x->worker_id, x->tags, skip_keys,
			     num(lim, (int64_t)limit) };
	PGresult *res = run(x->s, ST_FLOW_CANDS, 5, v, NULL,
			    "finding tasks to claim", err);
	int rows;

	*out = NULL;
	*n = 0;
	if (!res)
		return -1;
	rows = PQntuples(res);
	if (rows > 0) {
		*out = calloc((size_t)rows, sizeof **out);
		if (!*out) {
			PQclear(res);
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
	}
	for (int r = 0; r < rows; r++) {
		struct ac_flow_cand *c = &(*out)[r];

		c->id = get_i64(res, r, 0);
		c->priority = (int)get_i64(res, r, 1);
		c->key = dup_text(res, r, 2, NULL);
		*n = (size_t)r + 1;
		if (!c->key) {
			PQclear(res);
			ac_flow_cands_release(*out, *n);
			free(*out);
			*out = NULL;
			*n = 0;
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
	}
	PQclear(res);
	return 0;
}

/* Row 0 of res (id, priority, key) into out; *found 0 when none. */
static int flow_cand_from(PGresult *res, struct ac_flow_cand *out,
			  int *found, struct ac_error *err)
{
	*found = PQntuples(res) > 0;
	if (*found) {
		out->id = get_i64(res, 0, 0);
		out->priority = (int)get_i64(res, 0, 1);
		out->key = dup_text(res, 0, 2, NULL);
		if (!out->key) {
			*found = 0;
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
	}
	return 0;
}

static int flow_key_head(void *ctx, const char *type, int prio,
			 const char *after, struct ac_flow_cand *out,
			 int *found, int *claimable, struct ac_error *err)
{
	struct flow_ctx *x = ctx;
	char pr[NUM];
	const char *v[5] = { type, num(pr, prio), x->worker_id, x->tags,
			     after };
	PGresult *res = run(x->s, after ? ST_FLOW_HEAD_AFTER : ST_FLOW_HEAD,
			    after ? 5 : 4, v, NULL, "finding tasks to claim",
			    err);
	int rc;

	*found = *claimable = 0;
	if (!res)
		return -1;
	rc = flow_cand_from(res, out, found, err);
	if (*found)
		*claimable = !strcmp(PQgetvalue(res, 0, 3), "t");
	PQclear(res);
	return rc;
}

static int flow_key_next(void *ctx, const char *type, int prio,
			 const char *key, int64_t after_id,
			 struct ac_flow_cand *out, int *found,
			 struct ac_error *err)
{
	struct flow_ctx *x = ctx;
	char pr[NUM], after[NUM];
	const char *v[6] = { type, num(pr, prio), key, num(after, after_id),
			     x->worker_id, x->tags };
	PGresult *res = run(x->s, ST_FLOW_NEXT, 6, v, NULL,
			    "finding tasks to claim", err);
	int rc;

	*found = 0;
	if (!res)
		return -1;
	rc = flow_cand_from(res, out, found, err);
	PQclear(res);
	return rc;
}

static int flow_top_priority(void *ctx, const char *type, int below,
			     int *prio, int *found, struct ac_error *err)
{
	struct flow_ctx *x = ctx;
	char b[NUM];
	const char *v[2] = { type, num(b, below) };
	PGresult *res = run(x->s, ST_FLOW_TOP, 2, v, NULL,
			    "finding tasks to claim", err);

	*found = 0;
	if (!res)
		return -1;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		*found = 1;
		*prio = (int)get_i64(res, 0, 0);
	}
	PQclear(res);
	return 0;
}

/* The rows of res as new ac_flow_keys, column 0 the key; fill(res, r, k)
 * sets the rest. */
static int flow_keys_from(PGresult *res, struct ac_flow_key **keys,
			  size_t *n,
			  int (*fill)(PGresult *, int, struct ac_flow_key *),
			  struct ac_error *err)
{
	int rows = PQntuples(res);

	*keys = NULL;
	*n = 0;
	if (rows == 0)
		return 0;
	*keys = calloc((size_t)rows, sizeof **keys);
	if (!*keys)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	for (int r = 0; r < rows; r++) {
		struct ac_flow_key *k = &(*keys)[r];

		*n = (size_t)r + 1;
		k->key = dup_text(res, r, 0, NULL);
		if (!k->key || fill(res, r, k) < 0) {
			for (size_t i = 0; i < *n; i++) {
				free((*keys)[i].key);
				free((*keys)[i].hold_reason);
			}
			free(*keys);
			*keys = NULL;
			*n = 0;
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
	}
	return 0;
}

static int fill_running(PGresult *res, int r, struct ac_flow_key *k)
{
	k->running = (long)get_i64(res, r, 1);
	return 0;
}

static int flow_running(void *ctx, const char *type, struct ac_flow_key **keys,
			size_t *n, long *total, struct ac_error *err)
{
	struct flow_ctx *x = ctx;
	const char *v[2] = { type, x->ended };
	PGresult *res = run(x->s, ST_FLOW_RUNNING, 2, v, NULL,
			    "counting running tasks", err);
	int rc;

	*total = 0;
	if (!res)
		return -1;
	rc = flow_keys_from(res, keys, n, fill_running, err);
	for (size_t i = 0; rc == 0 && i < *n; i++)
		*total += (*keys)[i].running;
	PQclear(res);
	return rc;
}

static int fill_key_row(PGresult *res, int r, struct ac_flow_key *k)
{
	k->hold_until = get_i64(res, r, 1);
	k->hold_reason = dup_text(res, r, 2, NULL);
	k->tokens = get_double(res, r, 3);
	k->tokens_at = get_i64(res, r, 4);
	return !k->hold_reason && !PQgetisnull(res, r, 2) ? -1 : 0;
}

static int flow_key_rows(void *ctx, const char *type, struct ac_flow_key **keys,
			 size_t *n, struct ac_error *err)
{
	struct flow_ctx *x = ctx;
	PGresult *res = run(x->s, ST_FLOW_KEYS, 1, &type, NULL,
			    "reading a queue's keys", err);
	int rc;

	if (!res)
		return -1;
	rc = flow_keys_from(res, keys, n, fill_key_row, err);
	PQclear(res);
	return rc;
}

static const struct ac_flow_ops pg_flow_ops = {
	.candidates = flow_candidates,
	.key_head = flow_key_head,
	.key_next = flow_key_next,
	.top_priority = flow_top_priority,
	.running = flow_running,
	.key_rows = flow_key_rows,
};

/* One list of candidates to merge (claim_controlled): a type's plan, or
 * the uncontrolled types' best. */
struct merge_list {
	const int64_t *ids;          /* NULL: take them from cands */
	const int *prios;
	const struct ac_flow_cand *cands;
	size_t n, taken;
};

static int64_t list_id(const struct merge_list *l, size_t i)
{
	return l->cands ? l->cands[i].id : l->ids[i];
}

static int list_prio(const struct merge_list *l, size_t i)
{
	return l->cands ? l->cands[i].priority : l->prios[i];
}

/* A fair type's plan taken only up to m (the merge left the rest): the
 * cursor goes back to the last key served first in its round, as if the
 * plan had stopped there (flow.c: later rounds do not move it). */
static int cursor_at(struct ac_flow *f, const struct ac_flow_plan *p,
		     size_t m)
{
	size_t last = 0;

	for (size_t j = 0; j < m; j++) {
		int first = 1;

		for (size_t i = 0; i < j && first; i++)
			first = p->cands[i].priority != p->cands[j].priority ||
				strcmp(p->cands[i].key, p->cands[j].key);
		if (first)
			last = j;
	}
	return m ? set_text(&f->cursor, p->cands[last].key) : 0;
}

/* Save a type's bucket and cursor, and, with a key rate, the buckets of
 * the keys it claimed. */
static int flow_save(struct pg_store *s, const struct ac_flow *f,
		     const struct ac_flow_plan *p, int64_t now,
		     struct ac_error *err)
{
	char tokens[40], at[NUM];
	const char *v[4] = { f->type, tokens,
			     f->tokens_at ? num(at, f->tokens_at) : NULL,
			     f->cursor };
	struct ac_buf keys = { 0 }, toks = { 0 };
	const char **names = NULL;
	size_t n = 0;
	int rc;

	snprintf(tokens, sizeof tokens, "%.17g", f->tokens);
	if (run_command(s, ST_FLOW_SAVE, 4, v, "saving a queue", NULL,
			err) < 0)
		return -1;
	if (f->key_rate <= 0 || p->nkeys == 0)
		return 0;
	names = calloc(p->nkeys, sizeof *names);
	rc = names && ac_buf_append(&toks, "{", 1) == 0 ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < p->nkeys; i++) {
		if (!p->keys[i].claimed)
			continue;
		rc = ac_buf_printf(&toks, "%s%.17g", n ? "," : "",
				   p->keys[i].tokens);
		names[n++] = p->keys[i].key;
	}
	if (rc == 0)
		rc = ac_buf_append(&toks, "}", 1) < 0 ||
		     text_array(&keys, names, n) < 0 ? -1 : 0;
	free(names);
	if (rc < 0) {
		ac_buf_release(&keys);
		ac_buf_release(&toks);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	if (n) {
		const char *kv[4] = { f->type, keys.data, toks.data,
				      num(at, now) };

		rc = run_command(s, ST_FLOW_SAVE_KEYS, 4, kv, "saving a queue",
				 NULL, err);
	}
	ac_buf_release(&keys);
	ac_buf_release(&toks);
	return rc;
}

/* The uncontrolled types' best `want` candidates (locked; ST_CLAIM_CANDS)
 * into l (ids and prios new arrays). */
static int uncontrolled_cands(struct cycle *c, const char *types,
			      size_t want, struct merge_list *l, int64_t **ids,
			      int **prios, struct ac_error *err)
{
	char max[NUM];
	const char *v[4] = { types, c->worker_id,
			     c->claim->tags ? c->claim->tags : "[]",
			     num(max, (int64_t)want) };
	PGresult *res = run(c->s, ST_CLAIM_CANDS, 4, v, NULL,
			    "finding tasks to claim", err);
	int rows;

	if (!res)
		return -1;
	rows = PQntuples(res);
	if (rows > 0) {
		*ids = calloc((size_t)rows, sizeof **ids);
		*prios = calloc((size_t)rows, sizeof **prios);
		if (!*ids || !*prios) {
			PQclear(res);
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
	}
	for (int r = 0; r < rows; r++) {
		(*ids)[r] = get_i64(res, r, 0);
		(*prios)[r] = (int)get_i64(res, r, 1);
	}
	PQclear(res);
	l->ids = *ids;
	l->prios = *prios;
	l->n = (size_t)rows;
	return 0;
}

/* Claim under flow control, in the cycle's open transaction with the
 * controlled types' rows locked: each controlled type planned (flow.c)
 * for every free slot, the uncontrolled types' best added, and the best
 * of all those, in claim order (priority, then each list's own order:
 * oldest first, or fair), taken in one statement.  Then each type's
 * buckets and cursor are saved.  Claims never pass claim->max. */
static int claim_controlled(struct cycle *c, const char *types,
			    struct ac_error *err)
{
	size_t nf = c->nflows, nlists = nf + 1, npicked = 0, want;
	const struct ac_claim_request *req = c->claim;
	struct flow_ctx fx = { c->s, c->worker_id,
			       req->tags ? req->tags : "[]", NULL };
	struct ac_buf ended = { 0 };
	struct ac_flow_plan *plans = calloc(nf + 1, sizeof *plans);
	struct merge_list *lists = calloc(nlists, sizeof *lists);
	int64_t *uids = NULL, *picked = NULL;
	int *uprios = NULL, rc = -1;
	struct ac_buf idlist = { 0 };
	char **cursors = calloc(nf + 1, sizeof *cursors);

	if (!plans || !lists || !cursors) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto done;
	}
	/* The slots an earlier pass of this cycle left. */
	want = req->max > c->nclaimed ? req->max - c->nclaimed : 0;
	if (want == 0) {
		rc = 0;
		goto done;
	}
	if (req->nended) {
		for (size_t i = 0; i < req->nended; i++)
			if (ac_buf_printf(&ended, "%s%lld", i ? "," : "{",
					  (long long)req->ended[i]) < 0) {
				ac_error_set(err, AC_EXIT_FAILED, "out of memory");
				goto done;
			}
		if (ac_buf_append(&ended, "}", 1) < 0) {
			ac_error_set(err, AC_EXIT_FAILED, "out of memory");
			goto done;
		}
		fx.ended = ended.data;
	}
	for (size_t i = 0; i < nf; i++) {
		struct ac_flow *f = &c->flows[i];

		if (f->cursor && !(cursors[i] = ac_strdup(f->cursor))) {
			ac_error_set(err, AC_EXIT_FAILED, "out of memory");
			goto done;
		}
		if (ac_flow_plan(&pg_flow_ops, &fx, f, want, c->now,
				 &plans[i], err) < 0)
			goto done;
		if (plans[i].wake_ms > 0 && (c->ctl->wake_ms == 0 ||
					     plans[i].wake_ms < c->ctl->wake_ms))
			c->ctl->wake_ms = plans[i].wake_ms;
		c->ctl->capped |= plans[i].capped;
		lists[i].cands = plans[i].cands;
		lists[i].n = plans[i].ncands;
	}
	if (req->ntypes > nf &&
	    uncontrolled_cands(c, types, want, &lists[nf], &uids, &uprios,
			       err) < 0)
		goto done;
	/* Merge: the best head of all lists, each list kept in its order. */
	picked = calloc(want, sizeof *picked);
	if (!picked) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto done;
	}
	while (npicked < want) {
		struct merge_list *best = NULL;

		for (size_t i = 0; i < nlists; i++) {
			struct merge_list *l = &lists[i];

			if (l->taken == l->n)
				continue;
			if (!best || list_prio(l, l->taken) >
				     list_prio(best, best->taken) ||
			    (list_prio(l, l->taken) ==
				     list_prio(best, best->taken) &&
			     list_id(l, l->taken) < list_id(best, best->taken)))
				best = l;
		}
		if (!best)
			break;
		picked[npicked++] = list_id(best, best->taken++);
	}
	if (npicked) {
		char lease[NUM];
		const char *v[3] = { idlist.data, c->worker_id,
				     num(lease, req->lease_ms) };
		PGresult *res;

		if (id_array(&idlist, picked, npicked) < 0) {
			ac_error_set(err, AC_EXIT_FAILED, "out of memory");
			goto done;
		}
		v[0] = idlist.data;
		res = run_with(c->s, ST_CLAIM_IDS, 3, v, NULL, NULL, 1,
			       "claiming tasks", err);
		if (!res)
			goto done;
		if (claimed_add(c, res, err) < 0) {
			PQclear(res);
			goto done;
		}
		PQclear(res);
	}
	/* Each type's buckets and cursor, for what it got. */
	for (size_t i = 0; i < nf; i++) {
		struct ac_flow *f = &c->flows[i];
		struct ac_flow_plan *p = &plans[i];
		const char **keys;
		size_t n = 0;

		if (lists[i].taken == 0)
			continue;
		keys = calloc(lists[i].taken, sizeof *keys);
		if (!keys) {
			ac_error_set(err, AC_EXIT_FAILED, "out of memory");
			goto done;
		}
		for (size_t j = 0; j < lists[i].taken; j++)
			for (size_t k = 0; k < c->nclaimed; k++)
				if (c->claimed[k].id == p->cands[j].id) {
					keys[n++] = p->cands[j].key;
					break;
				}
		/* The damaged were claimed too: their attempts are open. */
		for (size_t j = 0; j < lists[i].taken; j++)
			for (size_t k = 0; k < c->ndamaged; k++)
				if (c->damaged[k].id == p->cands[j].id) {
					keys[n++] = p->cands[j].key;
					break;
				}
		if (f->fair && lists[i].taken < p->ncands) {
			free(f->cursor);
			f->cursor = cursors[i];
			cursors[i] = NULL;
			if (cursor_at(f, p, lists[i].taken) < 0) {
				free(keys);
				ac_error_set(err, AC_EXIT_FAILED, "out of memory");
				goto done;
			}
		}
		ac_flow_claimed(f, p, keys, n, c->now);
		free(keys);
		if (flow_save(c->s, f, p, c->now, err) < 0)
			goto done;
	}
	rc = 0;
done:
	for (size_t i = 0; plans && i < nf; i++)
		ac_flow_plan_release(&plans[i]);
	for (size_t i = 0; cursors && i < nf; i++)
		free(cursors[i]);
	free(cursors);
	free(plans);
	free(lists);
	free(uids);
	free(uprios);
	free(picked);
	ac_buf_release(&idlist);
	ac_buf_release(&ended);
	return rc;
}

/* One transaction of a cycle.  The first carries the outcomes, the
 * operators' requests, promotion and expiry; with `controlled`, the
 * controlled types' rows are locked first thing and the claim is planned
 * (claim_controlled) before the second half is sent; else the fast claim
 * goes in the one pipeline.  A pass that is not the first only claims
 * (planned) and writes the worker's row. */
static int cycle_pass(struct cycle *c, const char *types,
		      const struct ac_worker_state *state, int controlled,
		      int first, struct ac_error *err)
{
	const struct ac_claim_request *claim = c->claim;
	const char *v[5];
	char max[NUM], lease[NUM], completed[NUM], failed[NUM], batch[NUM];
	int wake = 0;

	if (pipe_start(c, err) < 0)
		return -1;
	pipe_text(c, P_BEGIN, "BEGIN");
	/* A transaction that records no end need not wait for the disk:
	 * should the server crash before its claims reach the WAL on disk,
	 * those tasks are simply queued again (their late ends refused by
	 * fencing), which at-least-once allows.  Every end of an attempt is
	 * durable before anyone is told. */
	if (!first || c->noutcomes == 0)
		pipe_text(c, P_SETTING, "SET LOCAL synchronous_commit TO off");
	/* First, so that every claimer takes these locks in one order. */
	if (controlled) {
		v[0] = types;
		pipe_stmt(c, P_LOCK, ST_FLOW_LOCK, 1, v, 0);
	}
	for (size_t i = 0; first && i < c->noutcomes && c->sent_ok; i++) {
		struct outcome_args a;
		char name[16];

		outcome_args(&c->outcomes[i], c->worker_id, &a);
		pipe_add(c, P_OUTCOME,
			 PQsendQueryPrepared(c->s->conn, stmt_name(a.id, name),
					     a.n, a.v, a.lengths, a.formats, 0));
		free(a.frame);
		if (c->outcomes[i].kind == AC_OUTCOME_RELEASED ||
		    c->outcomes[i].kind == AC_OUTCOME_CRASHED)
			wake = 1;
	}
	if (first) {
		pipe_stmt(c, P_CONTROL, ST_WORKER_CTL, 1, &c->worker_id, 0);
		if (claim) {
			v[0] = num(batch, EXPIRE_BATCH);
			pipe_stmt(c, P_PROMOTE, ST_PROMOTE, 0, NULL, 0);
			pipe_stmt(c, P_EXPIRE, ST_EXPIRE, 1, v, 0);
		}
	}
	if (types && !controlled) {
		v[0] = types;
		v[1] = c->worker_id;
		v[2] = claim->tags ? claim->tags : "[]";
		v[3] = num(max, (int64_t)claim->max);
		v[4] = num(lease, claim->lease_ms);
		pipe_stmt(c, P_CONTROLLED, ST_CONTROLLED, 1, v, 0);
		/* A binary result: compressed data and checkpoints come as
		 * their bytes (claimed_from). */
		pipe_stmt(c, P_CLAIM, ST_CLAIM, 5, v, 1);
	}
	if (controlled) {
		if (pipe_run(c, err) < 0)
			return -1;
		c->s->in_tx = 1;
		if (!c->ctl->drain && !c->ctl->stop &&
		    claim_controlled(c, types, err) < 0) {
			tx_rollback(c->s);
			return -1;
		}
		if (pipe_start(c, err) < 0)
			return -1;
	}
	if (state) {
		v[0] = c->worker_id;
		v[1] = state->status;
		v[2] = num(completed, state->completed);
		v[3] = num(failed, state->failed);
		pipe_stmt(c, P_STATE, ST_CYCLE_STATE, 4, v, 0);
	}
	/* A task handed back is work for the others. */
	if (wake)
		pipe_stmt(c, P_NOTIFY, ST_NOTIFY, 0, NULL, 0);
	pipe_text(c, P_COMMIT, "COMMIT");
	if (pipe_run(c, err) < 0)
		return -1;
	c->s->in_tx = 0;
	return 0;
}

/* What a cycle saw of the worker's controlled types, kept for the next
 * (without memory for it, the old view stays: only a hint). */
static void controlled_keep(struct pg_store *s, const struct cycle *c)
{
	const char *now = c->controlled.len ? c->controlled.data : NULL;
	char *copy;

	if (!c->seen || (!now && !s->controlled) ||
	    (now && s->controlled && !strcmp(now, s->controlled)))
		return;
	copy = now ? ac_strdup(now) : NULL;
	if (now && !copy)
		return;
	free(s->controlled);
	s->controlled = copy;
}

static int pg_worker_cycle(struct ac_store *base, const char *worker_id,
			   const struct ac_worker_state *state,
			   struct ac_outcome *outcomes, size_t noutcomes,
			   const struct ac_claim_request *claim,
			   struct ac_claimed **claimed, size_t *nclaimed,
			   struct ac_worker_control *ctl, struct ac_error *err)
{
	static const enum stmt_id needed[] = {
		ST_DONE, ST_FAIL, ST_TEMPFAIL, ST_SNOOZE, ST_CANCEL_DONE,
		ST_RELEASE, ST_CRASHED, ST_WORKER_CTL, ST_PROMOTE, ST_EXPIRE,
		ST_CONTROLLED, ST_FLOW_LOCK, ST_CLAIM, ST_CYCLE_STATE,
		ST_NOTIFY,
	};
	struct pg_store *s = (struct pg_store *)base;
	struct cycle c = {
		.s = s, .worker_id = worker_id, .claim = claim,
		.outcomes = outcomes, .noutcomes = noutcomes, .ctl = ctl,
		.cap = noutcomes + 16,
	};
	struct ac_buf types = { 0 };
	int controlled;

	*claimed = NULL;
	*nclaimed = 0;
	ctl->drain = ctl->stop = 0;
	ctl->wake_ms = 0;
	ctl->capped = 0;
	c.kinds = calloc(c.cap, sizeof *c.kinds);
	if (!c.kinds)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (ensure_connected(s, err) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
		if (prepare(s, needed[i], "preparing a statement", err) < 0)
			goto fail;
	if (claim && claim->ntypes && claim->max &&
	    text_array(&types, claim->types, claim->ntypes) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto fail;
	}
	/* As the last cycle saw it. */
	controlled = types.data && s->controlled;
	if (cycle_pass(&c, types.data, state, controlled, 1, err) < 0)
		goto fail;
	controlled_keep(s, &c);
	/* Some of the worker's types came under flow control since: the
	 * fast claim took nothing, and the claim is planned now.  The ends
	 * of attempts are recorded already, so a failure here only costs
	 * this cycle's claims. */
	if (types.data && !controlled && s->controlled && !ctl->drain &&
	    !ctl->stop) {
		struct ac_error ignored;

		c.seen = 0;
		if (cycle_pass(&c, types.data, state, 1, 0, &ignored) < 0) {
			ac_claimed_free_array(c.claimed, c.nclaimed);
			c.claimed = NULL;
			c.nclaimed = 0;
			ctl->wake_ms = 0;
		} else {
			controlled_keep(s, &c);
		}
	}
	if (c.nclaimed > 1)
		qsort(c.claimed, c.nclaimed, sizeof *c.claimed, claimed_cmp);
	*claimed = c.claimed;
	*nclaimed = c.nclaimed;
	fail_damaged(s, worker_id, c.damaged, c.ndamaged);
	free(c.damaged);
	free(c.kinds);
	ac_flow_free_array(c.flows, c.nflows);
	ac_buf_release(&c.controlled);
	ac_buf_release(&types);
	return 0;
fail:
	ac_buf_release(&types);
	free(c.damaged);
	free(c.kinds);
	ac_flow_free_array(c.flows, c.nflows);
	ac_buf_release(&c.controlled);
	ac_claimed_free_array(c.claimed, c.nclaimed);
	ctl->wake_ms = 0;
	for (size_t i = 0; i < noutcomes; i++)
		outcomes[i].accepted = 0;
	return -1;
}

/* The tasks of n outcomes as a bigint array literal: 0, or -1 when out
 * of memory. */
static int outcome_ids(struct ac_buf *b, const struct ac_outcome *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ac_buf_printf(b, "%s%lld", i ? "," : "{",
				  (long long)o[i].id) < 0)
			return -1;
	return ac_buf_append(b, "}", 1);
}

/* The committer: a worker's second connection writes the ends of
 * attempts in the background, in one durable transaction per batch, while
 * its first connection goes on claiming.  A PostgreSQL commit waits for
 * the WAL to reach the disk (milliseconds here); a claim need not, so the
 * slots of a busy worker no longer idle for every fsync, and every end
 * that arrives meanwhile rides in the next batch (a group commit).  The
 * worker announces an end only once its batch is durable. */
static int pg_outcomes_begin(struct ac_store *base, const char *worker_id,
			     struct ac_outcome *outcomes, size_t n,
			     struct ac_error *err)
{
	static const enum stmt_id needed[] = {
		ST_DONE, ST_FAIL, ST_TEMPFAIL, ST_SNOOZE, ST_CANCEL_DONE,
		ST_RELEASE, ST_CRASHED, ST_NOTIFY, ST_NOTIFY_CAPPED,
	};
	struct pg_store *s = (struct pg_store *)base;
	struct ac_buf ids = { 0 };
	int sent_ok = 1, wake = 0;
	char name[16];

	if (s->fly)
		return ac_error_set(err, AC_EXIT_FAILED,
				    "a batch of ends is in flight already");
	if (!s->committer) {
		/* Not a listener: its notifications would pile up unread. */
		s->committer = 1;
		if (s->conn && PQstatus(s->conn) == CONNECTION_OK &&
		    run_simple(s, "UNLISTEN *", "setting up", err) < 0)
			return -1;
	}
	if (ensure_connected(s, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
		if (prepare(s, needed[i], "preparing a statement", err) < 0)
			return -1;
	if (!PQenterPipelineMode(s->conn)) {
		unreachable(s, err, "starting a pipeline", PQerrorMessage(s->conn));
		drop_connection(s);
		return -1;
	}
	s->fly_nsent = 0;
	sent_ok &= PQsendQueryParams(s->conn, "BEGIN", 0, NULL, NULL, NULL,
				     NULL, 0);
	s->fly_nsent++;
	for (size_t i = 0; i < n && sent_ok; i++) {
		struct outcome_args a;

		outcome_args(&outcomes[i], worker_id, &a);
		sent_ok &= PQsendQueryPrepared(s->conn, stmt_name(a.id, name),
					       a.n, a.v, a.lengths, a.formats,
					       0);
		free(a.frame);
		s->fly_nsent++;
		outcomes[i].accepted = 0;
		if (outcomes[i].kind == AC_OUTCOME_RELEASED ||
		    outcomes[i].kind == AC_OUTCOME_CRASHED)
			wake = 1;
	}
	/* A task handed back is work for the others. */
	if (wake) {
		sent_ok &= PQsendQueryPrepared(s->conn, stmt_name(ST_NOTIFY, name),
					       0, NULL, NULL, NULL, 0);
		s->fly_nsent++;
	}
	/* This worker's claims run on its other connection and count these
	 * tasks running until this commits: under a cap that binds, that
	 * connection must hear when it does (so must the others).  Without
	 * memory for it, they hear at their next poll. */
	if (n && outcome_ids(&ids, outcomes, n) < 0)
		ac_buf_release(&ids);
	if (ids.data && sent_ok) {
		const char *v[1] = { ids.data };

		sent_ok &= PQsendQueryPrepared(s->conn,
					       stmt_name(ST_NOTIFY_CAPPED, name),
					       1, v, NULL, NULL, 0);
		s->fly_nsent++;
	}
	ac_buf_release(&ids);
	sent_ok &= PQsendQueryParams(s->conn, "COMMIT", 0, NULL, NULL, NULL,
				     NULL, 0);
	s->fly_nsent++;
	if (!sent_ok || !PQpipelineSync(s->conn)) {
		unreachable(s, err, "sending the ends of attempts",
			    PQerrorMessage(s->conn));
		drop_connection(s);
		return -1;
	}
	s->fly = outcomes;
	s->nfly = n;
	s->fly_next = 0;
	s->fly_outcome = 0;
	s->fly_failed = 0;
	s->fly_separator = 0;
	s->fly_deadline = ac_mono_ms() + s->deadline_ms;
	ac_error_clear(&s->fly_err);
	return 0;
}

static int pg_outcomes_fd(struct ac_store *base)
{
	struct pg_store *s = (struct pg_store *)base;

	return s->fly && s->conn ? PQsocket(s->conn) : -1;
}

/* The batch failed or was cut: nothing of it is taken for recorded (a
 * commit that did land refuses the same ends a second time, by fencing). */
static int fly_fail(struct pg_store *s, struct ac_error *err, const char *why)
{
	char msg[400];

	if (s->conn)
		one_line(PQerrorMessage(s->conn), msg, sizeof msg);
	else
		msg[0] = '\0';
	drop_connection(s);
	for (size_t i = 0; i < s->nfly; i++)
		s->fly[i].accepted = 0;
	s->fly = NULL;
	s->nfly = 0;
	if (s->fly_err.msg[0])
		*err = s->fly_err;
	else
		unreachable(s, err, "recording the ends of attempts",
			    why ? why : msg[0] ? msg : "connection lost");
	return -1;
}

static int pg_outcomes_end(struct ac_store *base, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;

	if (!s->fly)
		return 1;
	if (!PQconsumeInput(s->conn))
		return fly_fail(s, err, NULL);
	while (!PQisBusy(s->conn)) {
		PGresult *res = PQgetResult(s->conn);
		ExecStatusType st;

		if (!res) {
			/* The end of one statement's answer. */
			if (!s->fly_separator)
				return fly_fail(s, err, "a pipeline out of step");
			s->fly_separator = 0;
			continue;
		}
		st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			if (!PQexitPipelineMode(s->conn))
				return fly_fail(s, err, NULL);
			if (s->fly_failed) {
				/* The transaction is left failed: end it. */
				s->in_tx = 1;
				tx_rollback(s);
				*err = s->fly_err;
				for (size_t i = 0; i < s->nfly; i++)
					s->fly[i].accepted = 0;
				s->fly = NULL;
				s->nfly = 0;
				return -1;
			}
			s->fly = NULL;
			s->nfly = 0;
			return 1;
		}
		if (st == PGRES_FATAL_ERROR && !s->fly_failed) {
			s->fly_failed = 1;
			statement_error(s, res, &s->fly_err,
					"recording the ends of attempts");
		}
		/* Statement fly_next: BEGIN, the outcomes, NOTIFY?, COMMIT. */
		if (s->fly_next >= 1 && s->fly_outcome < s->nfly &&
		    s->fly_next == s->fly_outcome + 1) {
			struct ac_outcome *o = &s->fly[s->fly_outcome++];

			o->accepted = st == PGRES_TUPLES_OK && PQntuples(res) > 0;
			if (o->accepted &&
			    ac_task_status_parse(PQgetvalue(res, 0, 0),
						 &o->status) < 0)
				o->status = AC_TASK_PENDING;
		}
		s->fly_next++;
		s->fly_separator = 1;
		PQclear(res);
	}
	if (ac_mono_ms() > s->fly_deadline)
		return fly_fail(s, err, "no answer in time");
	return 0;
}

static int pg_worker_heartbeat(struct ac_store *base, const char *worker_id,
			       const struct ac_worker_state *state,
			       int64_t lease_ms, const struct ac_lease *held,
			       size_t nheld, int *renewed,
			       struct ac_worker_control *ctl,
			       struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	struct ac_buf ids = { 0 }, attempts = { 0 };
	struct ac_worker_state st;
	char lease[NUM];
	const char *v[4];
	PGresult *res;
	int oom = 0;

	if (tx_begin(s, err) < 0)
		return -1;
	if (read_control(s, worker_id, ctl, err) < 0)
		goto fail;
	st = *state;
	if (ctl->drain && strcmp(st.status, "stopped"))
		st.status = "draining";
	if (write_worker_state(s, worker_id, &st, err) < 0)
		goto fail;
	if (nheld) {
		oom |= ac_buf_append(&ids, "{", 1) < 0 ||
		       ac_buf_append(&attempts, "{", 1) < 0;
		for (size_t i = 0; i < nheld && !oom; i++)
			oom |= ac_buf_printf(&ids, "%s%lld", i ? "," : "",
					     (long long)held[i].id) < 0 ||
			       ac_buf_printf(&attempts, "%s%d", i ? "," : "",
					     held[i].attempt) < 0;
		oom |= ac_buf_append(&ids, "}", 1) < 0 ||
		       ac_buf_append(&attempts, "}", 1) < 0;
		if (oom) {
			ac_error_set(err, AC_EXIT_FAILED, "out of memory");
			goto fail;
		}
		v[0] = worker_id;
		v[1] = num(lease, lease_ms);
		v[2] = ids.data;
		v[3] = attempts.data;
		/* Only a lease still held is renewed: one that ran out may
		 * already belong to another attempt. */
		res = run(s, ST_RENEW, 4, v, NULL, "renewing leases", err);
		if (!res)
			goto fail;
		for (size_t i = 0; i < nheld; i++) {
			renewed[i] = 0;
			for (int r = 0; r < PQntuples(res); r++)
				if (get_i64(res, r, 0) == held[i].id &&
				    get_i64(res, r, 1) == held[i].attempt)
					renewed[i] = 1;
		}
		PQclear(res);
	}
	ac_buf_release(&ids);
	ac_buf_release(&attempts);
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	ac_buf_release(&ids);
	ac_buf_release(&attempts);
	tx_rollback(s);
	return -1;
}

/* Every live worker sweeps every heartbeat (and ac-cancel folds too), so
 * the task count changes waiting to be folded are those of about one
 * heartbeat. */
static int fold_counts(struct pg_store *s, struct ac_error *err)
{
	return run_command(s, ST_COUNT_FOLD, 0, NULL, "folding task counts",
			   NULL, err) < 0 ||
		run_command(s, ST_COUNT_TRIM, 0, NULL, "trimming task counts",
			    NULL, err) < 0 ? -1 : 0;
}

/* Flow control's rows that say nothing any more: key rows whose hold is
 * over and whose bucket is full, then queue rows with nothing set (the
 * type's claims are the fast ones again).  Rows a claimer holds are
 * skipped, never waited for: the sweep holds tasks' locks by now. */
static int tidy_flow(struct pg_store *s, struct ac_error *err)
{
	struct ac_buf types = { 0 };
	PGresult *res;
	int rc = 0, rows;

	if (run_command(s, ST_SWEEP_KEYS, 0, NULL, "tidying queues", NULL,
			err) < 0)
		return -1;
	res = run(s, ST_SWEEP_QUEUES, 0, NULL, NULL, "tidying queues", err);
	if (!res)
		return -1;
	rows = PQntuples(res);
	if (rows > 0) {
		const char **names = calloc((size_t)rows, sizeof *names);

		for (int r = 0; names && r < rows; r++)
			names[r] = PQgetvalue(res, r, 0);
		if (!names || text_array(&types, names, (size_t)rows) < 0)
			rc = ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		free(names);
	}
	PQclear(res);
	if (rc == 0 && rows > 0) {
		const char *v[1] = { types.data };

		rc = run_command(s, ST_QUEUE_DROP, 1, v, "tidying queues", NULL,
				 err);
	}
	ac_buf_release(&types);
	return rc;
}

static int pg_sweep(struct ac_store *base, size_t *reclaimed,
		    struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	char backoff[NUM];
	const char *v[1] = { num(backoff, RECLAIM_BACKOFF_MS) };
	char batch[NUM];
	const char *expire_max = num(batch, EXPIRE_BATCH);
	PGresult *res;

	*reclaimed = 0;
	if (tx_begin(s, err) < 0)
		return -1;
	res = run(s, ST_SWEEP, 1, v, NULL, "reclaiming tasks", err);
	if (!res)
		goto fail;
	*reclaimed = (size_t)get_i64(res, 0, 0);
	PQclear(res);
	if (run_command(s, ST_UNASSIGN_GONE, 0, NULL, "rerouting tasks", NULL,
			err) < 0 ||
	    run_command(s, ST_EXPIRE, 1, &expire_max, "expiring tasks", NULL,
			err) < 0 ||
	    fold_counts(s, err) < 0 || tidy_flow(s, err) < 0)
		goto fail;
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	*reclaimed = 0;
	tx_rollback(s);
	return -1;
}

static int pg_task_checkpoint(struct ac_store *base, const char *worker_id,
			      const struct ac_lease *lease, const char *json,
			      size_t len, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	char idb[NUM], att[NUM], *copy = NULL;
	const char *v[5] = { num(idb, lease->id), num(att, lease->attempt),
			     worker_id, NULL, NULL };
	int lengths[5] = { 0 }, formats[5] = { 0 };
	unsigned char *frame;
	const char *t;
	long changed;
	PGresult *res;

	if (json[len] != '\0') {
		copy = malloc(len + 1);
		if (!copy)
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		memcpy(copy, json, len);
		copy[len] = '\0';
		json = copy;
	}
	frame = value_params(json, len, 3, 4, v, lengths, formats);
	/* One statement outside a transaction commits on its own. */
	res = run_with(s, ST_CHECKPOINT, 5, v, lengths, formats, 0,
		       "storing a checkpoint", err);
	free(frame);
	free(copy);
	if (!res)
		return -1;
	t = PQcmdTuples(res);
	changed = t && *t ? strtol(t, NULL, 10) : 0;
	PQclear(res);
	return changed > 0 ? 0 : 1;
}

/* A report's usage, added to its type's totals and its budget's account
 * (which it may spend). */
static int charge_usage(struct pg_store *s, const char *type,
			const char *budget, const char *add,
			struct ac_error *err)
{
	const char *v[2] = { type, NULL };
	PGresult *res = run(s, ST_TYPE_USAGE_GET, 1, v, NULL,
			    "reading a type's usage", err);
	char *total;
	int rc;

	if (!res)
		return -1;
	total = ac_usage_sum(PQntuples(res) ? get_text(res, 0, 0) : NULL, add);
	PQclear(res);
	if (!total)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	v[1] = total;
	rc = run_command(s, ST_TYPE_USAGE_PUT, 2, v,
			 "adding to a type's usage", NULL, err);
	free(total);
	if (rc < 0 || !budget)
		return rc;
	return budget_apply(s, budget, NULL, 0, add, 0, NULL, err) < 0 ? -1 : 0;
}

static int pg_task_report(struct ac_store *base, const char *worker_id,
			  const struct ac_lease *lease,
			  const struct ac_report *report, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	char idb[NUM], att[NUM], progress[40];
	const char *key[3] = { num(idb, lease->id), num(att, lease->attempt),
			       worker_id };
	const char *v[6];
	struct ac_buf log = { 0 };
	char *usage = NULL, *budget = NULL, *type = NULL;
	PGresult *res;

	if (tx_begin(s, err) < 0)
		return -1;
	res = run(s, ST_REPORT_READ, 3, key, NULL, "reading a task", err);
	if (!res)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		tx_rollback(s);
		return 1;
	}
	if (report->usage) {
		usage = ac_usage_sum(get_text(res, 0, 0), report->usage);
		budget = get_text(res, 0, 2) ? ac_strdup(get_text(res, 0, 2)) :
			NULL;
		type = ac_strdup(get_text(res, 0, 3));
	}
	if ((report->usage && (!usage || !type ||
			       (!budget && get_text(res, 0, 2)))) ||
	    (report->log &&
	     ac_log_append(&log, get_text(res, 0, 1), report->log) < 0)) {
		PQclear(res);
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto fail;
	}
	PQclear(res);
	/* The usage is charged to the task's budget (one removed meanwhile
	 * is no longer charged) and to its type's totals. */
	if (report->usage &&
	    charge_usage(s, type, budget, report->usage, err) < 0)
		goto fail;
	if (report->progress >= 0)
		snprintf(progress, sizeof progress, "%.17g", report->progress);
	v[0] = key[0];
	v[1] = key[1];
	v[2] = key[2];
	v[3] = report->progress >= 0 ? progress : NULL;
	v[4] = usage;
	v[5] = log.data;
	if (run_command(s, ST_REPORT, 6, v, "keeping a report", NULL, err) < 0)
		goto fail;
	free(usage);
	free(budget);
	free(type);
	ac_buf_release(&log);
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	free(usage);
	free(budget);
	free(type);
	ac_buf_release(&log);
	tx_rollback(s);
	return -1;
}

static int pg_cancel(struct ac_store *base, const int64_t *ids, size_t n,
		     enum ac_task_status *status, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;

	if (tx_begin(s, err) < 0)
		return -1;
	/* All or nothing: check every id before changing any. */
	for (size_t i = 0; i < n; i++) {
		if (read_status(s, ids[i], &status[i], err) < 0)
			goto fail;
		if (ac_task_status_final(status[i])) {
			ac_error_set(err, AC_EXIT_FAILED,
				     "task %lld has already ended (%s); nothing was cancelled",
				     (long long)ids[i],
				     ac_task_status_name(status[i]));
			goto fail;
		}
	}
	for (size_t i = 0; i < n; i++) {
		char idb[NUM];
		const char *v[1] = { num(idb, ids[i]) };
		int running = status[i] == AC_TASK_RUNNING;
		long changed = 0;

		if (run_command(s, running ? ST_CANCEL_ASK : ST_CANCEL_NOW, 1,
				v, "cancelling a task", &changed, err) < 0)
			goto fail;
		/* A task that started or ended meanwhile is looked at again. */
		if (!changed) {
			if (read_status(s, ids[i], &status[i], err) < 0)
				goto fail;
			if (ac_task_status_final(status[i])) {
				ac_error_set(err, AC_EXIT_FAILED,
					     "task %lld has already ended (%s); nothing was cancelled",
					     (long long)ids[i],
					     ac_task_status_name(status[i]));
				goto fail;
			}
			i--;
			continue;
		}
		if (!running)
			status[i] = AC_TASK_CANCELLED;
	}
	/* Cancelling many tasks while no worker sweeps would leave their
	 * count changes for every reader to add up. */
	if (notify_wake(s, err) < 0 || fold_counts(s, err) < 0)
		goto fail;
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	return -1;
}

static int pg_worker_cancels(struct ac_store *base, const char *worker_id,
			     int64_t **ids, size_t *n, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	PGresult *res = run(s, ST_CANCELS, 1, &worker_id, NULL,
			    "reading cancels", err);
	int rows;

	*ids = NULL;
	*n = 0;
	if (!res)
		return -1;
	rows = PQntuples(res);
	if (rows > 0) {
		*ids = calloc((size_t)rows, sizeof **ids);
		if (!*ids) {
			PQclear(res);
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
		for (int r = 0; r < rows; r++)
			(*ids)[r] = get_i64(res, r, 0);
		*n = (size_t)rows;
	}
	PQclear(res);
	return 0;
}

static int pg_drain(struct ac_store *base, const char *const *ids, size_t n,
		    const char *reason, int flags, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;

	if (tx_begin(s, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		PGresult *res = run(s, ST_WORKER_EXISTS, 1, &ids[i], NULL,
				    "looking up a worker", err);
		int found;

		if (!res)
			goto fail;
		found = PQntuples(res) > 0;
		PQclear(res);
		if (!found) {
			ac_error_set(err, AC_EXIT_USAGE, "unknown worker '%s'",
				     ids[i]);
			goto fail;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *v[3] = { ids[i], reason,
				     (flags & AC_DRAIN_STOP) ? "1" : "0" };

		if (flags & AC_DRAIN_UNDO) {
			if (run_command(s, ST_UNDRAIN, 1, v, "undoing a drain",
					NULL, err) < 0)
				goto fail;
		} else if (run_command(s, ST_DRAIN, 3, v, "draining a worker",
				       NULL, err) < 0 ||
			   run_command(s, ST_UNASSIGN_WORKER, 1, v,
				       "rerouting tasks", NULL, err) < 0) {
			goto fail;
		}
	}
	if (notify_wake(s, err) < 0)
		goto fail;
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	return -1;
}

static int pg_worker_control(struct ac_store *base, const char *worker_id,
			     struct ac_worker_control *ctl, struct ac_error *err)
{
	return read_control((struct pg_store *)base, worker_id, ctl, err);
}

static int pg_worker_running(struct ac_store *base, const char *worker_id,
			     long *running, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	PGresult *res = run(s, ST_WORKER_RUNNING, 1, &worker_id, NULL,
			    "counting a worker's tasks", err);

	*running = 0;
	if (!res)
		return -1;
	*running = (long)get_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

static int pg_counter_add(struct ac_store *base, const char *name, int64_t n,
			  int64_t *before, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	char nb[NUM];
	const char *v[2] = { name, num(nb, n) };
	PGresult *res = run(s, ST_COUNTER_ADD, 2, v, NULL, "counting", err);

	if (!res)
		return -1;
	*before = get_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

static int pg_mark_lost(struct ac_store *base, char ***ids, size_t *n,
			struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	PGresult *res = run(s, ST_MARK_LOST, 0, NULL, NULL,
			    "marking lost workers", err);
	int rows;

	*ids = NULL;
	*n = 0;
	if (!res)
		return -1;
	rows = PQntuples(res);
	if (rows > 0) {
		*ids = calloc((size_t)rows, sizeof **ids);
		if (!*ids) {
			PQclear(res);
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
		for (int r = 0; r < rows; r++) {
			(*ids)[*n] = dup_text(res, r, 0, NULL);
			if ((*ids)[*n])
				(*n)++;
		}
	}
	PQclear(res);
	return 0;
}

static int pg_prune(struct ac_store *base, int64_t older_than_ms,
		    int has_status, enum ac_task_status status, long limit,
		    size_t *removed, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	char age[NUM], lim[NUM];
	const char *v[3] = {
		num(age, older_than_ms),
		has_status ? ac_task_status_name(status) : NULL,
		limit > 0 ? num(lim, limit) : NULL,
	};
	PGresult *res = run(s, ST_PRUNE, 3, v, NULL, "pruning tasks", err);

	*removed = 0;
	if (!res)
		return -1;
	*removed = (size_t)get_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

/* The statuses of a filter of ended tasks (ac_ended_filter: 0 = failed
 * and timeout) as a text array literal. */
static int statuses_array(unsigned bits, struct ac_buf *b)
{
	const char *names[AC_TASK_STATUS_COUNT];
	size_t n = 0;

	if (!bits)
		bits = 1u << AC_TASK_FAILED | 1u << AC_TASK_TIMEOUT;
	for (int i = 0; i < AC_TASK_STATUS_COUNT; i++)
		if (bits & 1u << i)
			names[n++] = ac_task_status_name((enum ac_task_status)i);
	return text_array(b, names, n);
}

static int pg_tasks_ended(struct ac_store *base,
			  const struct ac_ended_filter *filter, json_t **out,
			  struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	struct ac_buf statuses = { 0 };
	char since[NUM], limit[NUM];
	const char *v[4];
	PGresult *res;

	if (statuses_array(filter->statuses, &statuses) < 0) {
		ac_buf_release(&statuses);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	v[0] = statuses.data;
	v[1] = filter->type;
	v[2] = num(since, filter->since_ms > 0 ? filter->since_ms : 0);
	v[3] = filter->limit > 0 ? num(limit, filter->limit) : NULL;
	res = run_with(s, ST_ENDED, 4, v, NULL, NULL, 1, "listing ended tasks",
		       err);
	ac_buf_release(&statuses);
	if (!res)
		return -1;
	return rows_json(res, out, err);
}

static int requeuable(enum ac_task_status status)
{
	return status == AC_TASK_FAILED || status == AC_TASK_TIMEOUT ||
	       status == AC_TASK_CANCELLED || status == AC_TASK_EXPIRED;
}

/* The n ids, each ended so that it may be queued again: checked (and
 * locked) all before any changes. */
static int requeue_check(struct pg_store *s, const int64_t *ids, size_t n,
			 const char *list, struct ac_error *err)
{
	PGresult *res = run(s, ST_REQUEUE_CHECK, 1, &list, NULL,
			    "reading tasks", err);
	int rc = 0;

	if (!res)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		enum ac_task_status status = AC_TASK_PENDING;
		int r, rows = PQntuples(res);

		for (r = 0; r < rows; r++)
			if (get_i64(res, r, 0) == ids[i])
				break;
		/* Named twice: the second time, it is queued already. */
		for (size_t j = 0; j < i && r < rows; j++)
			if (ids[j] == ids[i])
				rc = ac_error_set(err, AC_EXIT_FAILED,
						  "task %lld is queued: only a failed, timed-out, cancelled or expired task can be requeued",
						  (long long)ids[i]);
		if (rc < 0)
			break;
		if (r == rows)
			rc = ac_error_set(err, AC_EXIT_FAILED, "no task %lld",
					  (long long)ids[i]);
		else if (ac_task_status_parse(PQgetvalue(res, r, 1),
					      &status) < 0 ||
			 !requeuable(status))
			rc = ac_error_set(err, AC_EXIT_FAILED,
					  "task %lld is %s: only a failed, timed-out, cancelled or expired task can be requeued",
					  (long long)ids[i],
					  PQgetvalue(res, r, 1));
	}
	PQclear(res);
	return rc;
}

static int pg_requeue(struct ac_store *base, const int64_t *ids, size_t n,
		      const struct ac_ended_filter *filter, int64_t **ids_out,
		      size_t *nout, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	struct ac_buf list = { 0 };
	char since[NUM];
	PGresult *res;
	int rows;

	*ids_out = NULL;
	*nout = 0;
	if (n ? id_array(&list, ids, n) < 0 :
	    statuses_array(filter ? filter->statuses : 0, &list) < 0) {
		ac_buf_release(&list);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	if (tx_begin(s, err) < 0)
		goto fail;
	if (n) {
		const char *v[1] = { list.data };

		if (requeue_check(s, ids, n, list.data, err) < 0)
			goto fail;
		res = run(s, ST_REQUEUE_IDS, 1, v, NULL, "requeueing tasks",
			  err);
	} else {
		/* Every task the filter names: its limit is for listing. */
		const char *v[3] = {
			list.data, filter ? filter->type : NULL,
			num(since, filter && filter->since_ms > 0 ?
			    filter->since_ms : 0),
		};

		res = run(s, ST_REQUEUE_FILTER, 3, v, NULL, "requeueing tasks",
			  err);
	}
	if (!res)
		goto fail;
	rows = PQntuples(res);
	if (rows > 0) {
		*ids_out = calloc((size_t)rows, sizeof **ids_out);
		if (!*ids_out) {
			PQclear(res);
			ac_error_set(err, AC_EXIT_FAILED, "out of memory");
			goto fail;
		}
	}
	if (n) {
		/* In the order asked (each once: requeue_check). */
		for (size_t i = 0; i < n && *nout < (size_t)rows; i++)
			(*ids_out)[(*nout)++] = ids[i];
	} else {
		for (int r = 0; r < rows; r++)
			(*ids_out)[(*nout)++] = get_i64(res, r, 0);
	}
	PQclear(res);
	/* Requeueing a thousand tasks while no worker sweeps would leave
	 * their count changes for every reader to add up. */
	if ((*nout && notify_wake(s, err) < 0) || fold_counts(s, err) < 0)
		goto fail;
	ac_buf_release(&list);
	if (tx_commit(s, err) < 0) {
		tx_rollback(s);
		goto fail_done;
	}
	return 0;
fail:
	tx_rollback(s);
	ac_buf_release(&list);
fail_done:
	free(*ids_out);
	*ids_out = NULL;
	*nout = 0;
	return -1;
}

/* The type's change, on its row f (locked) at store time now; what the
 * key rows need is left to the caller.  0, or -1 when out of memory. */
static int flow_apply(struct ac_flow *f, const struct ac_queue_change *c,
		      int64_t now)
{
	unsigned set = c->set;

	if (set & AC_QUEUE_CLEAR) {
		f->concurrency = f->per_key = 0;
		f->rate = f->key_rate = 0;
		f->burst = 1;
		f->fair = 0;
	}
	if (set & AC_QUEUE_CONCURRENCY)
		f->concurrency = c->concurrency;
	if (set & AC_QUEUE_PER_KEY)
		f->per_key = c->per_key;
	if (set & AC_QUEUE_RATE)
		f->rate = c->rate;
	if (set & AC_QUEUE_KEY_RATE)
		f->key_rate = c->key_rate;
	if (set & AC_QUEUE_BURST)
		f->burst = c->burst >= 1 ? c->burst : 1;
	/* A rate (re)set starts from a full bucket. */
	if (set & (AC_QUEUE_RATE | AC_QUEUE_BURST)) {
		f->tokens = f->burst;
		f->tokens_at = now;
	}
	if (set & AC_QUEUE_FAIR)
		f->fair = c->fair;
	if (set & AC_QUEUE_PAUSE) {
		if (set_text(&f->reason, c->reason) < 0)
			return -1;
		if (!f->paused)
			f->paused_at = now;
		f->paused = 1;
	}
	if ((set & AC_QUEUE_HOLD) && !c->key) {
		if (set_text(&f->hold_reason, c->reason) < 0)
			return -1;
		f->hold_until = c->hold_ms > 0 ? now + c->hold_ms : 0;
	}
	if ((set & AC_QUEUE_RESUME) && !c->key) {
		f->paused = 0;
		f->paused_at = 0;
		f->hold_until = 0;
		if (set_text(&f->reason, NULL) < 0 ||
		    set_text(&f->hold_reason, NULL) < 0)
			return -1;
	}
	return 0;
}

static int flow_put(struct pg_store *s, const struct ac_flow *f,
		    struct ac_error *err)
{
	char paused[NUM], paused_at[NUM], hold[NUM], conc[NUM], per_key[NUM],
		rate[40], key_rate[40], burst[40], fair[NUM], tokens[40],
		tokens_at[NUM];
	const char *v[15] = {
		f->type, num(paused, f->paused), f->reason,
		f->paused_at ? num(paused_at, f->paused_at) : NULL,
		f->hold_until ? num(hold, f->hold_until) : NULL,
		f->hold_reason, num(conc, f->concurrency),
		num(per_key, f->per_key), rate, key_rate, burst,
		num(fair, f->fair), f->cursor, tokens,
		f->tokens_at ? num(tokens_at, f->tokens_at) : NULL,
	};

	snprintf(rate, sizeof rate, "%.17g", f->rate);
	snprintf(key_rate, sizeof key_rate, "%.17g", f->key_rate);
	snprintf(burst, sizeof burst, "%.17g", f->burst);
	snprintf(tokens, sizeof tokens, "%.17g", f->tokens);
	return run_command(s, ST_QUEUE_PUT, 15, v, "changing a queue", NULL,
			   err);
}

static int pg_queue_set(struct ac_store *base, const char *type,
			const struct ac_queue_change *change,
			struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	struct ac_flow f = { 0 };
	struct ac_buf one = { 0 };
	const char *key = change->key;
	char hold[NUM];
	int64_t now = 0;
	PGresult *res;

	if (text_array(&one, &type, 1) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	/* Outside the transaction: building the index blocks writers of
	 * tasks until it is done, not until this commits. */
	if (((change->set & AC_QUEUE_FAIR && change->fair) ||
	     (change->set & AC_QUEUE_PER_KEY && change->per_key > 0) ||
	     (change->set & AC_QUEUE_KEY_RATE && change->key_rate > 0)) &&
	    (ensure_connected(s, err) < 0 ||
	     run_simple(s, fair_index, "indexing tasks for fair claims",
			err) < 0))
		goto fail;
	if (tx_begin(s, err) < 0)
		goto fail;
	res = run(s, ST_QUEUE_LOCK, 1, &type, NULL, "reading a queue", err);
	if (!res)
		goto fail;
	if (PQntuples(res) != 1 || read_flow(res, 0, &f, &now) < 0) {
		PQclear(res);
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto fail;
	}
	PQclear(res);
	if (flow_apply(&f, change, now) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto fail;
	}
	if (flow_put(s, &f, err) < 0)
		goto fail;
	/* A hold, then a resume (as the type's own: flow_apply). */
	if ((change->set & AC_QUEUE_HOLD) && key) {
		const char *v[4] = {
			type, key,
			num(hold, change->hold_ms > 0 ? change->hold_ms : 0),
			change->reason,
		};

		if (run_command(s, ST_QUEUE_KEY_HOLD, 4, v, "holding a key",
				NULL, err) < 0)
			goto fail;
	}
	if (change->set & AC_QUEUE_RESUME) {
		const char *v[2] = { type, key };

		if (run_command(s, ST_QUEUE_KEYS_RESUME, 2, v,
				"changing a queue", NULL, err) < 0)
			goto fail;
	}
	/* What is back to nothing goes: a type without a row is not
	 * controlled, and its claims are the fast ones again. */
	{
		const char *v[1] = { one.data };

		if (run_command(s, ST_QUEUE_KEYS_TIDY, 1, &type,
				"changing a queue", NULL, err) < 0 ||
		    run_command(s, ST_QUEUE_DROP, 1, v, "changing a queue",
				NULL, err) < 0)
			goto fail;
	}
	/* Resumed, or allowed more: the workers look again. */
	if (notify_wake(s, err) < 0)
		goto fail;
	ac_flow_release(&f);
	ac_buf_release(&one);
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	ac_flow_release(&f);
	ac_buf_release(&one);
	return -1;
}

static int pg_queues_list(struct ac_store *base, const char *type,
			  json_t **out, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	PGresult *res, *keys;
	json_t *arr;
	int k = 0, nkeys;

	res = run(s, ST_QUEUES_LIST, 1, &type, NULL, "listing queues", err);
	if (!res)
		return -1;
	keys = run(s, ST_QUEUE_KEYS_LIST, 1, &type, NULL, "listing queues",
		   err);
	if (!keys) {
		PQclear(res);
		return -1;
	}
	nkeys = PQntuples(keys);
	arr = json_array();
	for (int r = 0; arr && r < PQntuples(res); r++) {
		struct ac_flow f;
		int64_t now;
		json_t *held = json_array(), *row = NULL;

		if (held && read_flow(res, r, &f, &now) == 0) {
			/* Both are sorted by type. */
			while (k < nkeys && strcmp(PQgetvalue(keys, k, 0),
						   f.type) < 0)
				k++;
			for (; held && k < nkeys &&
			       !strcmp(PQgetvalue(keys, k, 0), f.type); k++) {
				json_t *one = ac_queue_key_json(
					PQgetvalue(keys, k, 1),
					get_i64(keys, k, 2),
					get_text(keys, k, 3), now, now);

				if (!one || json_array_append_new(held, one) < 0) {
					json_decref(held);
					held = NULL;
				}
			}
			/* PostgreSQL's store clock is the wall clock. */
			row = held ? ac_queue_row_json(&f, held, now, now) : NULL;
			held = NULL;
			ac_flow_release(&f);
		}
		json_decref(held);
		if (!row || json_array_append_new(arr, row) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	PQclear(res);
	PQclear(keys);
	if (!arr)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	*out = arr;
	return 0;
}

/* Notifications are read off the socket without a round trip; our own
 * are not news to us.  After a (re)connect the answer is yes once. */
static int pg_changed(struct ac_store *base, int *changed,
		      struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	PGnotify *note;

	*changed = 0;
	if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
		if (ensure_connected(s, err) < 0)
			return -1;
	} else if (!PQconsumeInput(s->conn)) {
		char msg[400];

		one_line(PQerrorMessage(s->conn), msg, sizeof msg);
		drop_connection(s);
		return unreachable(s, err, "waiting for wake-ups", msg);
	}
	while ((note = PQnotifies(s->conn))) {
		if (note->be_pid != PQbackendPID(s->conn))
			*changed = 1;
		PQfreemem(note);
	}
	if (s->wake) {
		*changed = 1;
		s->wake = 0;
	}
	return 0;
}

static void pg_set_deadline(struct ac_store *base, int64_t ms)
{
	struct pg_store *s = (struct pg_store *)base;

	s->deadline_ms = ms <= 0 ? DEADLINE_DEFAULT_MS :
		ms < DEADLINE_MIN_MS ? DEADLINE_MIN_MS : ms;
}

static int pg_wait_fd(struct ac_store *base)
{
	struct pg_store *s = (struct pg_store *)base;

	return s->conn && PQstatus(s->conn) == CONNECTION_OK ?
		PQsocket(s->conn) : -1;
}

/* ------------------------------------------------------------ graphs */

static int pg_task_parents(struct ac_store *base, int64_t id, json_t **out,
			   struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	char idb[NUM];
	const char *v[1] = { num(idb, id) };
	PGresult *res;
	json_t *o;

	/* A binary result: compressed results come as their bytes. */
	res = run_with(s, ST_PARENTS, 1, v, NULL, NULL, 1,
		       "reading the tasks a task waited for", err);
	if (!res)
		return -1;
	o = json_object();
	for (int r = 0; o && r < PQntuples(res); r++) {
		char key[NUM], *result = NULL;
		json_t *entry;

		if (row_value(res, r, 2, 4, &result, NULL, err) < 0) {
			PQclear(res);
			json_decref(o);
			return -1;
		}
		entry = json_pack("{s:s,s:o,s:s?}", "status",
				  get_text(res, r, 1), "result", result ?
				  json_loads(result, JSON_DECODE_ANY, NULL) :
				  json_null(),
				  "error", get_text(res, r, 3));
		free(result);
		if (!entry ||
		    json_object_set_new(o, num(key, get_i64(res, r, 0)),
					entry) < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	PQclear(res);
	if (!o)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	*out = o;
	return 0;
}

/* The ids a statement of one id answers, as a new JSON array. */
static int id_list(struct pg_store *s, enum stmt_id which, int64_t id,
		   json_t **out, struct ac_error *err)
{
	char idb[NUM];
	const char *v[1] = { num(idb, id) };
	PGresult *res = run(s, which, 1, v, NULL, "reading a task graph", err);
	json_t *arr;

	if (!res)
		return -1;
	arr = json_array();
	for (int r = 0; arr && r < PQntuples(res); r++)
		if (json_array_append_new(arr, json_integer(get_i64(res, r,
								    0))) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	PQclear(res);
	if (!arr)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	*out = arr;
	return 0;
}

/* Column c of row 0 as a JSON integer, or null. */
static json_t *id_or_null(const PGresult *res, int c)
{
	return PQgetisnull(res, 0, c) ? json_null() :
		json_integer(get_i64(res, 0, c));
}

static int pg_task_links(struct ac_store *base, int64_t id, json_t **out,
			 struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	char idb[NUM];
	const char *v[1] = { num(idb, id) };
	json_t *o, *after = NULL, *children = NULL, *dependents = NULL;
	PGresult *res = run(s, ST_LINKS_TASK, 1, v, NULL,
			    "reading a task graph", err);

	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ac_error_set(err, AC_EXIT_USAGE, "no task %lld",
				    (long long)id);
	}
	o = json_pack("{s:I,s:s,s:s,s:o,s:s?,s:o}", "id", (json_int_t)id,
		      "type", get_text(res, 0, 1), "status",
		      get_text(res, 0, 2), "parent", id_or_null(res, 3),
		      "after_policy", get_text(res, 0, 4), "batch",
		      id_or_null(res, 5));
	PQclear(res);
	if (!o)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (id_list(s, ST_LINKS_AFTER, id, &after, err) < 0 ||
	    id_list(s, ST_LINKS_CHILDREN, id, &children, err) < 0 ||
	    id_list(s, ST_LINKS_DEPENDENTS, id, &dependents, err) < 0) {
		json_decref(o);
		json_decref(after);
		json_decref(children);
		return -1;
	}
	json_object_set_new(o, "after", after);
	json_object_set_new(o, "children", children);
	json_object_set_new(o, "dependents", dependents);
	*out = o;
	return 0;
}

static int pg_batch_get(struct ac_store *base, int64_t id, json_t **out,
			struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	char idb[NUM], created[40];
	const char *v[3] = { num(idb, id), NULL, NULL };
	json_t *o = NULL, *by;
	PGresult *res, *counts;

	res = run(s, ST_BATCH_GET, 1, v, NULL, "reading a batch", err);
	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ac_error_set(err, AC_EXIT_USAGE, "no batch %lld",
				    (long long)id);
	}
	/* Its tasks, by its id range (NULL, NULL for an empty batch). */
	v[1] = get_text(res, 0, 4);
	v[2] = get_text(res, 0, 5);
	counts = run(s, ST_BATCH_COUNTS, 3, v, NULL, "reading a batch", err);
	if (!counts) {
		PQclear(res);
		return -1;
	}
	by = json_object();
	for (int i = 0; by && i < AC_TASK_STATUS_COUNT; i++)
		json_object_set_new(by, ac_task_status_name(i),
				    json_integer(0));
	for (int r = 0; by && r < PQntuples(counts); r++)
		json_object_set_new(by, PQgetvalue(counts, r, 0),
				    json_integer(get_i64(counts, r, 1)));
	PQclear(counts);
	if (by)
		o = ac_batch_json(id, ac_format_time(get_i64(res, 0, 0),
						     created, sizeof created),
				  get_i64(res, 0, 1), by, get_i64(res, 0, 2),
				  get_text(res, 0, 3));
	PQclear(res);
	if (!o)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	*out = o;
	return 0;
}

static int pg_task_awaiting(struct ac_store *base, int64_t id, int on,
			    struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	char idb[NUM];
	const char *v[2] = { num(idb, id), on ? "1" : "0" };

	return run_command(s, ST_AWAITING, 2, v, "marking a task as waiting",
			   NULL, err);
}

/* --------------------------------------------------------- schedules */

/* The store's clock, now. */
static int store_now(struct pg_store *s, int64_t *now, struct ac_error *err)
{
	PGresult *res = run(s, ST_NOW, 0, NULL, NULL, "reading the clock", err);

	if (!res)
		return -1;
	*now = answer_id(res);
	return 0;
}


/* Text column c of row r, copied: 0, or -1 when out of memory. */
static int copy_text(const PGresult *res, int r, int c, char **out)
{
	*out = dup_text(res, r, c, NULL);
	return *out || PQgetisnull(res, r, c) ? 0 : -1;
}

static int sched_read(const PGresult *res, int r, struct ac_schedule_row *o)
{
	int bad = 0;

	memset(o, 0, sizeof *o);
	bad |= copy_text(res, r, 0, &o->name);
	bad |= copy_text(res, r, 1, &o->cron);
	bad |= copy_text(res, r, 2, &o->tz);
	bad |= copy_text(res, r, 3, &o->type);
	bad |= copy_text(res, r, 4, &o->data);
	o->priority = (int)get_i64(res, r, 5);
	o->max_retries = (int)get_i64(res, r, 6);
	o->timeout_ms = get_i64(res, r, 7);
	o->expires_ms = get_i64(res, r, 8);
	bad |= copy_text(res, r, 9, &o->route_key);
	bad |= copy_text(res, r, 10, &o->tags);
	bad |= copy_text(res, r, 11, &o->meta);
	o->max_reclaims = (int)get_i64(res, r, 12);
	o->overlap = (int)get_i64(res, r, 13);
	o->catch_up_ms = get_i64(res, r, 14);
	o->paused = (int)get_i64(res, r, 15);
	bad |= copy_text(res, r, 16, &o->reason);
	o->next_at = get_i64(res, r, 17);
	o->last_slot = get_i64(res, r, 18);
	o->last_task = get_i64(res, r, 19);
	o->fired = get_i64(res, r, 20);
	o->skipped = get_i64(res, r, 21);
	o->missed = get_i64(res, r, 22);
	o->created = get_i64(res, r, 23);
	o->updated = get_i64(res, r, 24);
	bad |= copy_text(res, r, 25, &o->last_status);
	if (bad || !o->name || !o->cron || !o->type || !o->data) {
		ac_schedule_row_release(o);
		return -1;
	}
	return 0;
}

/* The rows of res (freed here) into a new array of *n. */
static int sched_rows(PGresult *res, struct ac_schedule_row **rows, size_t *n,
		      struct ac_error *err)
{
	int count = PQntuples(res);
	struct ac_schedule_row *out = count ?
		calloc((size_t)count, sizeof *out) : NULL;

	*rows = NULL;
	*n = 0;
	if (count && !out) {
		PQclear(res);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	for (int r = 0; r < count; r++) {
		if (sched_read(res, r, &out[r]) < 0) {
			ac_schedule_rows_free(out, (size_t)r);
			PQclear(res);
			return ac_error_set(err, AC_EXIT_FAILED,
					    "out of memory");
		}
	}
	PQclear(res);
	*rows = out;
	*n = (size_t)count;
	return 0;
}

/* The schedule of one name, as rows (none when there is no such). */
static int sched_get(struct pg_store *s, const char *name,
		     struct ac_schedule_row **rows, size_t *n,
		     struct ac_error *err)
{
	PGresult *res = run(s, ST_SCHED_GET, 1, &name, NULL,
			    "reading schedules", err);

	if (!res)
		return -1;
	return sched_rows(res, rows, n, err);
}

/* The values of ST_SCHED_INSERT and ST_SCHED_REPLACE. */
struct sched_args {
	const char *v[17];
	char prio[NUM], retries[NUM], timeout[NUM], expires[NUM],
		reclaims[NUM], overlap[NUM], catch_up[NUM], next_at[NUM],
		now[NUM];
};

static void sched_args(const struct ac_schedule_spec *sp, int64_t next_at,
		       int64_t now, struct sched_args *a)
{
	const struct ac_task_spec *t = &sp->task;

	a->v[0] = sp->name;
	a->v[1] = sp->cron;
	a->v[2] = sp->tz;
	a->v[3] = t->type;
	a->v[4] = t->data;  /* NUL-terminated at data_len (ac_task_spec) */
	a->v[5] = num(a->prio, t->priority);
	a->v[6] = num(a->retries, t->max_retries);
	a->v[7] = num(a->timeout, t->timeout_ms);
	a->v[8] = num(a->expires, t->expires_ms);
	a->v[9] = t->route_key;
	a->v[10] = t->tags;
	a->v[11] = t->meta;
	a->v[12] = num(a->reclaims, t->max_reclaims);
	a->v[13] = num(a->overlap, sp->overlap);
	a->v[14] = num(a->catch_up, sp->catch_up_ms);
	a->v[15] = next_at > 0 ? num(a->next_at, next_at) : NULL;
	a->v[16] = num(a->now, now);
}

static int pg_schedule_add(struct ac_store *base,
			   const struct ac_schedule_spec *spec, int replace,
			   struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	struct sched_args a;
	int64_t now, next_at;
	long added = 0;

	if (store_now(s, &now, err) < 0 ||
	    ac_schedule_first(spec->cron, spec->tz, now, &next_at, err) < 0)
		return -1;
	sched_args(spec, next_at, now, &a);
	if (tx_begin(s, err) < 0)
		return -1;
	if (run_command(s, ST_SCHED_INSERT, 17, a.v, "adding a schedule",
			&added, err) < 0)
		goto fail;
	if (added == 0) {
		if (!replace) {
			ac_error_set(err, AC_EXIT_FAILED,
				     "schedule '%s' exists (--replace changes it)",
				     spec->name);
			goto fail;
		}
		if (run_command(s, ST_SCHED_REPLACE, 17, a.v,
				"changing a schedule", NULL, err) < 0)
			goto fail;
	}
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	return -1;
}

static int pg_schedule_change(struct ac_store *base, const char *name,
			      enum ac_schedule_change change,
			      const char *reason, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	struct ac_schedule_row *rows = NULL;
	size_t n = 0;
	int64_t now, next_at = 0;
	char nowb[NUM], nextb[NUM];
	const char *v[3] = { name, NULL, NULL };
	enum stmt_id id = ST_SCHED_REMOVE;
	int nv = 1;

	if (store_now(s, &now, err) < 0 || tx_begin(s, err) < 0)
		return -1;
	if (sched_get(s, name, &rows, &n, err) < 0)
		goto fail;
	if (n == 0) {
		ac_error_set(err, AC_EXIT_FAILED, "no schedule '%s'", name);
		goto fail;
	}
	switch (change) {
	case AC_SCHEDULE_PAUSE:
		id = ST_SCHED_PAUSE;
		v[1] = reason;
		v[2] = num(nowb, now);
		nv = 3;
		break;
	case AC_SCHEDULE_RESUME:
		/* Slots that passed while paused are not caught up. */
		if (ac_schedule_first(rows[0].cron, rows[0].tz, now, &next_at,
				      err) < 0)
			goto fail;
		id = ST_SCHED_RESUME;
		v[1] = next_at > 0 ? num(nextb, next_at) : NULL;
		v[2] = num(nowb, now);
		nv = 3;
		break;
	case AC_SCHEDULE_REMOVE:
		break;
	}
	if (run_command(s, id, nv, v, "changing a schedule", NULL, err) < 0)
		goto fail;
	ac_schedule_rows_free(rows, n);
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	ac_schedule_rows_free(rows, n);
	tx_rollback(s);
	return -1;
}

static int pg_schedules_list(struct ac_store *base, const char *name,
			     json_t **out, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	struct ac_schedule_row *rows;
	size_t n;
	json_t *arr;

	if (name) {
		if (sched_get(s, name, &rows, &n, err) < 0)
			return -1;
	} else {
		PGresult *res = run(s, ST_SCHED_LIST, 0, NULL, NULL,
				    "reading schedules", err);

		if (!res || sched_rows(res, &rows, &n, err) < 0)
			return -1;
	}
	if (name && n == 0) {
		ac_schedule_rows_free(rows, n);
		return ac_error_set(err, AC_EXIT_FAILED, "no schedule '%s'",
				    name);
	}
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		if (json_array_append_new(arr,
					  ac_schedule_row_json(&rows[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	ac_schedule_rows_free(rows, n);
	if (!arr)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	*out = arr;
	return 0;
}

/* Submit one task of schedule r for slot (0: a run by hand), in the
 * caller's transaction (begun by begin_submit()). */
static int sched_submit(struct pg_store *s, const struct ac_schedule_row *r,
			int64_t slot, int64_t now, int64_t *id, int *existed,
			struct ac_error *err)
{
	char *meta, *key;
	struct ac_task_spec t;
	struct ac_submitted out = { 0 };
	int rc;

	if (ac_schedule_row_task(r, slot, now, &t, &meta, &key, err) < 0)
		return -1;
	rc = insert_tasks(s, &t, 1, &out, 0, 0, err);
	free(meta);
	free(key);
	*id = out.id;
	*existed = out.existed;
	return rc;
}

/* One due schedule, its row locked, in the caller's transaction. */
static int sched_task_status(struct ac_store *base, int64_t id,
			     enum ac_task_status *status, struct ac_error *err)
{
	/* Any error but "no such task" has ended the transaction. */
	if (read_status((struct pg_store *)base, id, status, err) == 0)
		return 0;
	if (err->exit_code != AC_EXIT_USAGE)
		return -1;
	ac_error_clear(err);
	return 1;
}

static int sched_cancel(struct ac_store *base, int64_t id, int running,
			int64_t now, struct ac_error *err)
{
	char idb[NUM];
	const char *c[1] = { num(idb, id) };

	(void)now;
	return run_command((struct pg_store *)base,
			   running ? ST_CANCEL_ASK : ST_CANCEL_NOW, 1, c,
			   "cancelling a task", NULL, err);
}

static int sched_submit_step(struct ac_store *base,
			     const struct ac_schedule_row *r, int64_t slot,
			     int64_t now, int64_t *task, int *existed,
			     struct ac_error *err)
{
	return sched_submit((struct pg_store *)base, r, slot, now, task,
			    existed, err);
}

static int sched_update(struct ac_store *base, const struct ac_schedule_row *r,
			const struct ac_schedule_step *step, int64_t task,
			int fired, int skipped, struct ac_error *err)
{
	char nextb[NUM], slotb[NUM], taskb[NUM], missedb[NUM];
	const char *v[7] = {
		r->name,
		step->next_at > 0 ? num(nextb, step->next_at) : NULL,
		step->fire_slot ? num(slotb, step->fire_slot) : NULL,
		task ? num(taskb, task) : NULL,
		fired ? "1" : "0",
		skipped ? "1" : "0",
		num(missedb, step->missed),
	};

	return run_command((struct pg_store *)base, ST_SCHED_UPDATE, 7, v,
			   "moving a schedule on", NULL, err);
}

static const struct ac_schedule_fire_ops sched_fire_ops = {
	sched_task_status, sched_cancel, sched_submit_step, sched_update,
};

/* The time until the next slot of any active schedule (-1: none), by
 * the store's clock, which goes to *now when asked. */
static int sched_next_in(struct pg_store *s, int64_t *next_in, int64_t *now,
			 struct ac_error *err)
{
	PGresult *res = run(s, ST_SCHED_NEXT, 0, NULL, NULL,
			    "reading schedules", err);
	int64_t clock;

	*next_in = -1;
	if (!res)
		return -1;
	clock = get_i64(res, 0, 1);
	if (!PQgetisnull(res, 0, 0)) {
		int64_t at = get_i64(res, 0, 0);

		*next_in = at > clock ? at - clock : 0;
	}
	if (now)
		*now = clock;
	PQclear(res);
	return 0;
}

/* Nearly always nothing is due: one read, no lock.  When something is,
 * one transaction locks the due rows (a firer that waited for another's
 * lock finds their slots taken and leaves them), fires them by the
 * store's clock and wakes the workers. */
static int pg_schedules_fire(struct ac_store *base, struct ac_fired **fired,
			     size_t *nfired, int64_t *next_in,
			     struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	struct ac_schedule_row *rows = NULL;
	size_t n = 0;
	int64_t now;
	char nowb[NUM];
	const char *v[1];
	PGresult *res;

	*fired = NULL;
	*nfired = 0;
	if (sched_next_in(s, next_in, NULL, err) < 0)
		return -1;
	if (*next_in != 0)
		return 0;
	if (begin_submit(s, err) < 0)
		return -1;
	if (store_now(s, &now, err) < 0)
		goto fail;
	v[0] = num(nowb, now);
	res = run(s, ST_SCHED_DUE, 1, v, NULL, "locking schedules", err);
	if (!res || sched_rows(res, &rows, &n, err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (ac_schedule_fire_one(&sched_fire_ops, &s->base,
					 &rows[i], now, fired, nfired,
					 err) < 0) {
			ac_error_prefix(err, "schedule '%s'", rows[i].name);
			goto fail;
		}
	if (sched_next_in(s, next_in, NULL, err) < 0 ||
	    (*nfired && notify_wake(s, err) < 0) || tx_commit(s, err) < 0)
		goto fail;
	ac_schedule_rows_free(rows, n);
	return 0;
fail:
	ac_schedule_rows_free(rows, n);
	tx_rollback(s);
	ac_fired_free(*fired, *nfired);
	*fired = NULL;
	*nfired = 0;
	return -1;
}

static int pg_schedule_run(struct ac_store *base, const char *name,
			   struct ac_fired *fired, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	struct ac_fired *list = NULL;
	struct ac_schedule_row *rows = NULL;
	size_t n = 0, nlist = 0;
	int64_t now, task = 0;
	int existed;
	char taskb[NUM];
	const char *v[2] = { name, NULL };

	if (begin_submit(s, err) < 0)
		return -1;
	if (store_now(s, &now, err) < 0 || sched_get(s, name, &rows, &n,
						      err) < 0)
		goto fail;
	if (n == 0) {
		ac_error_set(err, AC_EXIT_FAILED, "no schedule '%s'", name);
		goto fail;
	}
	if (sched_submit(s, &rows[0], 0, now, &task, &existed, err) < 0)
		goto fail;
	v[1] = num(taskb, task);
	if (run_command(s, ST_SCHED_RAN, 2, v, "recording a run", NULL,
			err) < 0)
		goto fail;
	if (ac_fired_append(&list, &nlist, &rows[0], AC_FIRED_TASK, 0, task,
			    0, 0) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto fail;
	}
	if (notify_wake(s, err) < 0 || tx_commit(s, err) < 0)
		goto fail;
	*fired = list[0];
	free(list);
	ac_schedule_rows_free(rows, n);
	return 0;
fail:
	ac_fired_free(list, nlist);
	ac_schedule_rows_free(rows, n);
	tx_rollback(s);
	return -1;
}

static int pg_budget_set(struct ac_store *base, const char *name,
			 const char *limits, int reset, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	int rc;

	if (tx_begin(s, err) < 0)
		return -1;
	rc = budget_apply(s, name, limits, reset, NULL, 1, NULL, err);
	if (rc > 0)
		ac_error_set(err, AC_EXIT_FAILED,
			     "no budget named '%s' (give its limits to make it)",
			     name);
	if (rc != 0 || tx_commit(s, err) < 0) {
		tx_rollback(s);
		return -1;
	}
	return 0;
}

static int pg_budget_remove(struct ac_store *base, const char *name,
			    struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	const char *v[1] = { name };
	long removed = 0;

	if (tx_begin(s, err) < 0)
		return -1;
	/* Unlinked first: a held task queued again while its spent budget
	 * is still there would be held again by the trigger. */
	if (run_command(s, ST_BUDGET_UNLINK, 1, v,
			"releasing a budget's tasks", NULL, err) < 0 ||
	    run_command(s, ST_BUDGET_DELETE, 1, v, "removing a budget",
			&removed, err) < 0)
		goto fail;
	if (removed == 0) {
		ac_error_set(err, AC_EXIT_FAILED, "no budget named '%s'", name);
		goto fail;
	}
	if (notify_wake(s, err) < 0 || tx_commit(s, err) < 0)
		goto fail;
	return 0;
fail:
	tx_rollback(s);
	return -1;
}

static int pg_budgets_list(struct ac_store *base, const char *name,
			   json_t **out, struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	const char *v[1] = { name };
	PGresult *cnt = run(s, name ? ST_BUDGET_TASKS_ONE : ST_BUDGET_TASKS,
			    name ? 1 : 0, v, NULL, "counting budgets' tasks",
			    err), *res;
	json_t *counts = json_object(), *arr = json_array();
	int oom = !counts || !arr;

	if (!cnt) {
		json_decref(counts);
		json_decref(arr);
		return -1;
	}
	for (int r = 0; !oom && r < PQntuples(cnt); r++)
		oom = ac_budget_count_add(counts, get_text(cnt, r, 0),
					  get_text(cnt, r, 1),
					  (int)get_i64(cnt, r, 2),
					  get_i64(cnt, r, 3)) < 0;
	PQclear(cnt);
	res = oom ? NULL : run(s, name ? ST_BUDGET_ONE : ST_BUDGET_LIST,
			       name ? 1 : 0, v, NULL, "listing budgets", err);
	for (int r = 0; res && !oom && r < PQntuples(res); r++) {
		struct ac_budget_row row = {
			.name = get_text(res, r, 0),
			.limits = get_text(res, r, 1),
			.usage = get_text(res, r, 2),
			.spent = (int)get_i64(res, r, 3),
			.spent_at = get_i64(res, r, 4),
			.created = get_i64(res, r, 5),
			.updated = get_i64(res, r, 6),
		};

		oom = json_array_append_new(arr, ac_budget_json(&row,
								counts)) < 0;
	}
	json_decref(counts);
	if (!res || oom) {
		PQclear(res);
		json_decref(arr);
		return oom ? ac_error_set(err, AC_EXIT_FAILED, "out of memory") :
			-1;
	}
	PQclear(res);
	if (name && json_array_size(arr) == 0) {
		json_decref(arr);
		return ac_error_set(err, AC_EXIT_FAILED, "no budget named '%s'",
				    name);
	}
	*out = arr;
	return 0;
}

static int pg_usage_by_type(struct ac_store *base, json_t **out,
			    struct ac_error *err)
{
	struct pg_store *s = (struct pg_store *)base;
	PGresult *res = run(s, ST_TYPE_USAGE_LIST, 0, NULL, NULL,
			    "reading usage by type", err);
	json_t *o = json_object();

	if (!res) {
		json_decref(o);
		return -1;
	}
	for (int r = 0; o && r < PQntuples(res); r++) {
		json_t *u = json_loads(get_text(res, r, 1), 0, NULL);

		json_object_set_new(o, get_text(res, r, 0),
				    u ? u : json_object());
	}
	PQclear(res);
	if (!o)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	*out = o;
	return 0;
}

const struct ac_store_ops ac_store_pg_ops = {
	.name = "postgres",
	.open = pg_open,
	.close = pg_close,
	.submit = pg_submit,
	.submit_many = pg_submit_many,
	.retry = pg_retry,
	.task_states = pg_task_states,
	.task_ends = pg_task_ends,
	.outcomes_begin = pg_outcomes_begin,
	.outcomes_fd = pg_outcomes_fd,
	.outcomes_end = pg_outcomes_end,
	.task_get = pg_task_get,
	.tasks_list = pg_tasks_list,
	.queue_depth = pg_queue_depth,
	.task_counts = pg_task_counts,
	.workers_list = pg_workers_list,
	.worker_register = pg_worker_register,
	.worker_set_handlers = pg_worker_set_handlers,
	.worker_cycle = pg_worker_cycle,
	.worker_heartbeat = pg_worker_heartbeat,
	.sweep = pg_sweep,
	.task_checkpoint = pg_task_checkpoint,
	.task_report = pg_task_report,
	.cancel = pg_cancel,
	.worker_cancels = pg_worker_cancels,
	.drain = pg_drain,
	.worker_control = pg_worker_control,
	.worker_running = pg_worker_running,
	.counter_add = pg_counter_add,
	.mark_lost = pg_mark_lost,
	.changed = pg_changed,
	.prune = pg_prune,
	.tasks_ended = pg_tasks_ended,
	.requeue = pg_requeue,
	.queue_set = pg_queue_set,
	.queues_list = pg_queues_list,
	.wait_fd = pg_wait_fd,
	.set_deadline = pg_set_deadline,
	.task_parents = pg_task_parents,
	.task_links = pg_task_links,
	.batch_get = pg_batch_get,
	.task_awaiting = pg_task_awaiting,
	.schedule_add = pg_schedule_add,
	.schedule_change = pg_schedule_change,
	.schedules_list = pg_schedules_list,
	.schedules_fire = pg_schedules_fire,
	.schedule_run = pg_schedule_run,
	.budget_set = pg_budget_set,
	.budget_remove = pg_budget_remove,
	.budgets_list = pg_budgets_list,
	.usage_by_type = pg_usage_by_type,
};
