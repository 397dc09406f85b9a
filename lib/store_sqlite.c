/* The SQLite backend of the store: one file, WAL, any number of processes
 * on one host.
 *
 * Every write transaction is BEGIN IMMEDIATE under a busy timeout, so a
 * contended store waits instead of failing tasks with "database is locked".
 * Statements are prepared once per connection and kept.
 *
 * Two clocks: times shown to people (created, started, ...) are wall-clock
 * milliseconds since the epoch; leases and heartbeats use CLOCK_BOOTTIME,
 * which every process of the host shares and which a step of the wall
 * clock does not move, so a clock change causes no early reclaim.  The
 * boot id kept in the store tells when that clock restarted (a reboot):
 * then every lease is over. */
#include "store.h"
#include "compress.h"
#include "schedule.h"
#include "flow.h"
#include "exitcode.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA_VERSION 7
#define BUSY_TIMEOUT_MS 10000
#define BUSY_RETRIES 3
#define BACKOFF_BASE_MS 1000
#define TEMPFAIL_DELAY_MS 1000
#define RECLAIM_BACKOFF_MS 1000

enum stmt_id {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_INSERT_TASK, ST_FIND_IDEM, ST_TASK_STATUS, ST_TASK_GET,
	ST_RETRY,
	ST_PROMOTE, ST_CANDIDATES, ST_CANDIDATES_MINE, ST_CLAIM,
	ST_DONE, ST_FAIL, ST_TEMPFAIL,
	ST_WORKER_STATE, ST_WORKER_CTL, ST_RENEW,
	ST_WORKER_FIND, ST_WORKER_UPSERT, ST_WORKER_EXISTS, ST_WORKER_HANDLERS,
	ST_DRAIN, ST_UNDRAIN, ST_WORKER_RUNNING,
	ST_COUNTS, ST_DEPTH, ST_WORKERS, ST_DATA_VERSION,
	ST_ATTEMPT_START, ST_ATTEMPT_END, ST_ATTEMPTS, ST_SWEEP, ST_REQUEUE_OWN,
	ST_CHECKPOINT, ST_REPORT_READ, ST_REPORT, ST_CANCEL_NOW,
	ST_CANCEL_ASK, ST_CANCELS, ST_CANCEL_DONE, ST_RELEASE,
	ST_UNASSIGN_GONE, ST_UNASSIGN_WORKER, ST_COUNTER_READ, ST_COUNTER_WRITE,
	ST_MARK_LOST, ST_PRUNE, ST_PRUNE_ATTEMPTS, ST_CRASHED, ST_TASK_END,
	ST_DAMAGED, ST_COUNTS_TRIM, ST_COUNT_ADD,
	ST_EXPIRE, ST_HOLD_TYPE, ST_HOLD_KEY, ST_QUEUE_ENSURE, ST_QUEUE_ENSURE_TASK, ST_QUEUES,
	ST_QUEUE_ONE, ST_QUEUE_WRITE, ST_QUEUE_SAVE, ST_QUEUE_DROP,
	ST_KEYS_DROP, ST_KEY_SAVE, ST_KEY_HOLD, ST_KEY_RESUME, ST_FLOW_CANDS,
	ST_FLOW_HEAD_FIRST, ST_FLOW_HEAD_AFTER, ST_FLOW_NEXT, ST_FLOW_TOP,
	ST_FLOW_RUNNING, ST_FLOW_KEYS, ST_KEYS_HELD, ST_ENDED, ST_REQUEUE_ALL,
	ST_LINK, ST_AFTER_ADD, ST_GRAPH_SET, ST_BATCH_NEW, ST_BATCH_DONE,
	ST_THEN_EDGES, ST_THEN_SET, ST_PARENTS, ST_LINKS_AFTER,
	ST_LINKS_CHILDREN, ST_LINKS_DEPENDENTS, ST_LINKS_TASK, ST_BATCH_GET,
	ST_BATCH_COUNTS, ST_AWAITING, ST_SCHED_NEXT, ST_SCHED_DUE,
	ST_SCHED_GET, ST_SCHED_UPDATE, ST_SCHED_RAN, ST_SCHED_INSERT,
	ST_SCHED_REPLACE, ST_SCHED_PAUSE, ST_SCHED_RESUME, ST_SCHED_REMOVE,
	ST_SCHED_LIST,
	ST_BUDGET_GET, ST_BUDGET_INSERT, ST_BUDGET_UPDATE, ST_BUDGET_HOLD,
	ST_BUDGET_HOLD_ONE,
	ST_BUDGET_RELEASE, ST_BUDGET_UNLINK, ST_BUDGET_DELETE, ST_BUDGET_LIST,
	ST_BUDGET_ONE, ST_BUDGET_TASKS, ST_BUDGET_TASKS_ONE, ST_TASK_BUDGET,
	ST_TYPE_USAGE_GET,
	ST_TYPE_USAGE_PUT, ST_TYPE_USAGE_LIST,
	ST_COUNT
};

#define TASK_COLS "id, type, status, priority, attempt, max_retries, " \
	"failures, timeout_ms, worker, route_key, tags, meta, data, result, " \
	"error, checkpoint, progress, idempotency_key, created, run_at, " \
	"started, finished, lease_until, usage, log, reclaims, max_reclaims, " \
	"cancel_requested, assigned, parent, batch, after_policy, waiting, " \
	"awaiting, traceparent, budget, held"

/* The wall clock inside SQL (triggers have no bound values). */
#define SQL_NOW_MS "CAST(round((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"
#define SQL_ENDED "('completed', 'failed', 'cancelled', 'timeout', 'expired')"
/* A batch continuation's data, built from the tasks it waited for. */
#define THEN_DATA(task, batch) \
	"json_object('batch', " batch ", 'completed', json((SELECT " \
	"json_group_array(id) FROM (SELECT t.id AS id FROM task_after a " \
	"JOIN tasks t ON t.id = a.parent WHERE a.task = " task " AND " \
	"t.status = 'completed' ORDER BY t.id))), 'failed', json((SELECT " \
	"json_group_array(id) FROM (SELECT t.id AS id FROM task_after a " \
	"JOIN tasks t ON t.id = a.parent WHERE a.task = " task " AND " \
	"t.status <> 'completed' ORDER BY t.id))))"

#define THEN_LEFT \
	"(SELECT count(*) FROM task_after WHERE task = ?1 AND done = 0)"

#define SCHED_COLS "name, cron, tz, type, data, priority, max_retries, " \
	"timeout_ms, expires_ms, route_key, tags, meta, max_reclaims, " \
	"overlap, catch_up_ms, paused, reason, next_at, last_slot, " \
	"last_task, fired, skipped, missed, created, updated, " \
	"(SELECT status FROM tasks WHERE id = last_task)"

#define QUEUE_COLS "type, paused, reason, paused_at, hold_until, " \
	"hold_reason, concurrency, per_key, rate, key_rate, burst, fair, " \
	"cursor, tokens, tokens_at"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_INSERT_TASK] =
		"INSERT INTO tasks (type, status, priority, data, max_retries, "
		"timeout_ms, route_key, tags, meta, idempotency_key, run_at, "
		"created, max_reclaims, assigned, expires_at, parent, batch, "
		"depth, dependents, traceparent, budget) VALUES (?1, ?2, ?3, ?4, "
		"?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
		"?19, ?20, ?21)",
	[ST_FIND_IDEM] = "SELECT id FROM tasks WHERE idempotency_key = ?1",
	[ST_TASK_STATUS] = "SELECT status FROM tasks WHERE id = ?1",
	[ST_TASK_END] = "SELECT status, result, error FROM tasks WHERE id = ?1",
	[ST_TASK_GET] = "SELECT " TASK_COLS " FROM tasks WHERE id = ?1",
	[ST_RETRY] =
		"UPDATE tasks SET status = 'queued', failures = 0, reclaims = 0, "
		"cancel_requested = 0, error = NULL, "
		"result = NULL, worker = NULL, lease_until = NULL, "
		"finished = NULL, expires_at = NULL, run_at = ?2 WHERE id = ?1 "
		"AND status IN ('failed', 'timeout', 'cancelled', 'expired')",
	/* The statements a worker runs every cycle or heartbeat name their
	 * partial index (INDEXED BY): with no statistics, SQLite's planner
	 * prefers an equality on tasks_status, and then a million queued
	 * tasks are read on every call. */
	[ST_PROMOTE] =
		"UPDATE tasks INDEXED BY tasks_due SET status = 'queued' "
		"WHERE status = 'pending' AND run_at <= ?1 AND waiting = 0",
	/* Two seeks per type, one for unassigned tasks and one for tasks
	 * routed to this worker, so that tasks routed elsewhere are never
	 * scanned past: each is O(log n) however deep the queue. */
	[ST_CANDIDATES] =
		"SELECT id, priority FROM tasks INDEXED BY tasks_claim WHERE "
		"status = 'queued' AND type = ?1 AND assigned IS NULL AND "
		"(tags IS NULL OR ac_tags_ok(tags, ?2)) "
		"ORDER BY priority DESC, id LIMIT ?3",
	[ST_CANDIDATES_MINE] =
		"SELECT id, priority FROM tasks INDEXED BY tasks_claim WHERE "
		"status = 'queued' AND type = ?1 AND assigned = ?4 AND "
		"(tags IS NULL OR ac_tags_ok(tags, ?2)) "
		"ORDER BY priority DESC, id LIMIT ?3",
	[ST_CLAIM] =
		"UPDATE tasks SET status = 'running', worker = ?2, "
		"attempt = attempt + 1, lease_until = ?3, started = ?4, "
		"finished = NULL WHERE id = ?1 AND status = 'queued' AND "
		"(expires_at IS NULL OR attempt > 0 OR expires_at > ?4) "
		"RETURNING type, data, priority, attempt, timeout_ms, route_key, "
		"checkpoint, after_policy IS NOT NULL, traceparent",
	[ST_DONE] =
		"UPDATE tasks SET status = 'completed', result = ?4, error = NULL, "
		"finished = ?5, lease_until = NULL WHERE id = ?1 AND attempt = ?2 "
		"AND worker = ?3 AND status = 'running' AND lease_until >= ?6",
	[ST_FAIL] =
		"UPDATE tasks SET failures = failures + 1, error = ?4, "
		"lease_until = NULL, "
		"status = CASE WHEN failures + 1 > max_retries THEN ?6 "
		"ELSE 'pending' END, "
		"finished = CASE WHEN failures + 1 > max_retries THEN ?5 "
		"ELSE NULL END, "
		"run_at = CASE WHEN failures + 1 > max_retries THEN run_at "
		"ELSE ?5 + ?7 * (1 << min(failures, 8)) + ?8 END "
		"WHERE id = ?1 AND attempt = ?2 AND worker = ?3 "
		"AND status = 'running' AND lease_until >= ?9 RETURNING status",
	[ST_TEMPFAIL] =
		"UPDATE tasks SET status = 'pending', error = ?4, "
		"lease_until = NULL, run_at = ?5 + ?6 WHERE id = ?1 "
		"AND attempt = ?2 AND worker = ?3 AND status = 'running' "
		"AND lease_until >= ?7",
	[ST_WORKER_STATE] =
		"UPDATE workers SET status = ?2, running = ?3, completed = ?4, "
		"failed = ?5, heartbeat = ?6, heartbeat_mono = ?7 WHERE id = ?1",
	[ST_WORKER_CTL] = "SELECT drain, stop FROM workers WHERE id = ?1",
	[ST_RENEW] =
		"UPDATE tasks SET lease_until = ?2 + ?3 WHERE id = ?4 AND "
		"attempt = ?5 AND worker = ?1 AND status = 'running' AND "
		"lease_until >= ?2",
	[ST_WORKER_FIND] =
		"SELECT host, pid, status, heartbeat_mono, lease_ms FROM workers "
		"WHERE id = ?1",
	[ST_WORKER_UPSERT] =
		"INSERT INTO workers (id, host, pid, concurrency, tags, handlers, "
		"listen, metrics, status, running, completed, failed, started, "
		"heartbeat, heartbeat_mono, heartbeat_ms, lease_ms, drain, stop) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, 0, 0, ?10, ?10, "
		"?13, ?11, ?12, 0, 0) ON CONFLICT (id) DO UPDATE SET host = ?2, "
		"pid = ?3, concurrency = ?4, tags = ?5, handlers = ?6, "
		"listen = ?7, metrics = ?8, "
		"status = CASE WHEN drain THEN 'draining' ELSE ?9 END, "
		"running = 0, completed = 0, failed = 0, started = ?10, "
		"heartbeat = ?10, heartbeat_mono = ?13, heartbeat_ms = ?11, "
		"lease_ms = ?12, stop = 0",
	[ST_WORKER_EXISTS] = "SELECT 1 FROM workers WHERE id = ?1",
	[ST_WORKER_HANDLERS] = "UPDATE workers SET handlers = ?2 WHERE id = ?1",
	[ST_DRAIN] =
		"UPDATE workers SET drain = 1, drain_reason = ?2, "
		"stop = ?3 WHERE id = ?1",
	[ST_UNDRAIN] =
		"UPDATE workers SET drain = 0, drain_reason = NULL, stop = 0 "
		"WHERE id = ?1",
	[ST_WORKER_RUNNING] =
		"SELECT count(*) FROM tasks WHERE worker = ?1 AND "
		"status = 'running'",
	/* Counts come from task_counts (schema_v4), kept in the
	 * transaction of every change: a few rows, not a scan of the
	 * tasks. */
	[ST_COUNTS] = "SELECT status, sum(n) FROM task_counts GROUP BY status",
	[ST_DEPTH] =
		"SELECT type, priority, status, n FROM task_counts WHERE status "
		"IN ('pending', 'queued', 'running') AND n > 0 "
		"ORDER BY type, priority DESC",
	[ST_WORKERS] =
		"SELECT id, status, host, pid, concurrency, running, completed, "
		"failed, tags, handlers, listen, metrics, started, heartbeat, "
		"lease_ms, drain, drain_reason, stop, ?1 - heartbeat_mono "
		"FROM workers ORDER BY id",
	[ST_DATA_VERSION] = "PRAGMA data_version",
	[ST_ATTEMPT_START] =
		"INSERT OR REPLACE INTO attempts (task_id, attempt, worker, "
		"started) VALUES (?1, ?2, ?3, ?4)",
	[ST_ATTEMPT_END] =
		"UPDATE attempts SET finished = ?3, outcome = ?4, error = ?5 "
		"WHERE task_id = ?1 AND attempt = ?2 AND finished IS NULL",
	[ST_ATTEMPTS] =
		"SELECT attempt, worker, started, finished, outcome, error "
		"FROM attempts WHERE task_id = ?1 ORDER BY attempt",
	/* A lost attempt: queued again after a back-off, failed for good as
	 * a poison task once lost too often, cancelled if that was asked. */
	[ST_SWEEP] =
		"UPDATE tasks INDEXED BY tasks_lease SET reclaims = reclaims + 1, "
		"worker = NULL, "
		"lease_until = NULL, "
		"status = CASE WHEN cancel_requested THEN 'cancelled' "
		"WHEN reclaims + 1 > max_reclaims THEN 'failed' ELSE 'pending' END, "
		"error = CASE WHEN cancel_requested THEN 'cancelled' "
		"WHEN reclaims + 1 > max_reclaims THEN 'lost ' || (reclaims + 1) || "
		"' times: its worker died or hung each time (a poison task?)' "
		"ELSE 'attempt ' || attempt || ' lost: the lease of worker ' || "
		"worker || ' ran out' END, "
		"finished = CASE WHEN cancel_requested OR reclaims + 1 > "
		"max_reclaims THEN ?2 ELSE NULL END, "
		"run_at = ?2 + ?3 * (1 << min(reclaims, 5)) "
		"WHERE status = 'running' AND lease_until < ?1 "
		"RETURNING id, attempt, status, error",
	/* A worker back under its own id: its running tasks are its dead
	 * predecessor's, to be run again at once. */
	[ST_REQUEUE_OWN] =
		"UPDATE tasks SET reclaims = reclaims + 1, worker = NULL, "
		"lease_until = NULL, "
		"status = CASE WHEN cancel_requested THEN 'cancelled' "
		"WHEN reclaims + 1 > max_reclaims THEN 'failed' ELSE 'queued' END, "
		"error = CASE WHEN cancel_requested THEN 'cancelled' "
		"WHEN reclaims + 1 > max_reclaims THEN 'lost ' || (reclaims + 1) || "
		"' times: its worker died or hung each time (a poison task?)' "
		"ELSE 'attempt ' || attempt || ' lost: worker ' || worker || "
		"' restarted' END, "
		"finished = CASE WHEN cancel_requested OR reclaims + 1 > "
		"max_reclaims THEN ?2 ELSE NULL END "
		"WHERE worker = ?1 AND status = 'running' "
		"RETURNING id, attempt, status, error",
	[ST_CHECKPOINT] =
		"UPDATE tasks SET checkpoint = ?4 WHERE id = ?1 AND attempt = ?2 "
		"AND worker = ?3 AND status = 'running' AND lease_until >= ?5",
	[ST_REPORT_READ] =
		"SELECT usage, log, budget, type FROM tasks WHERE id = ?1 AND "
		"attempt = ?2 AND worker = ?3 AND status = 'running' AND "
		"lease_until >= ?4",
	[ST_REPORT] =
		"UPDATE tasks SET progress = coalesce(?4, progress), "
		"usage = coalesce(?5, usage), log = coalesce(?6, log) "
		"WHERE id = ?1 AND attempt = ?2 AND worker = ?3",
	[ST_CANCEL_NOW] =
		"UPDATE tasks SET status = 'cancelled', finished = ?2, "
		"error = 'cancelled before it ran' WHERE id = ?1 AND status IN "
		"('pending', 'queued')",
	[ST_CANCEL_ASK] =
		"UPDATE tasks SET cancel_requested = 1 WHERE id = ?1 AND "
		"status = 'running'",
	[ST_CANCELS] =
		"SELECT id FROM tasks WHERE worker = ?1 AND status = 'running' "
		"AND cancel_requested = 1",
	[ST_CANCEL_DONE] =
		"UPDATE tasks SET status = 'cancelled', error = ?4, finished = ?5, "
		"lease_until = NULL WHERE id = ?1 AND attempt = ?2 AND worker = ?3 "
		"AND status = 'running'",
	/* Tasks routed to a worker that is draining, stopped or lost go to
	 * any capable worker instead. */
	[ST_UNASSIGN_GONE] =
		"UPDATE tasks INDEXED BY tasks_assigned SET assigned = NULL "
		"WHERE assigned IS NOT NULL AND "
		"status IN ('queued', 'pending') AND assigned IN (SELECT id FROM "
		"workers WHERE drain = 1 OR stop = 1 OR status IN ('draining', "
		"'stopped') OR ?1 - heartbeat_mono > lease_ms)",
	[ST_UNASSIGN_WORKER] =
		"UPDATE tasks SET assigned = NULL WHERE assigned = ?1 AND "
		"status IN ('queued', 'pending')",
	[ST_COUNTER_READ] = "SELECT value FROM meta WHERE key = ?1",
	[ST_MARK_LOST] =
		"UPDATE workers SET status = 'lost' WHERE status NOT IN "
		"('stopped', 'lost') AND ?1 - heartbeat_mono > lease_ms "
		"RETURNING id",
	[ST_COUNTER_WRITE] =
		"INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
	/* Handed back by a stopping worker: not the task's fault, so no
	 * attempt and no reclaim is counted against it. */
	[ST_RELEASE] =
		"UPDATE tasks SET status = 'queued', worker = NULL, "
		"lease_until = NULL, error = ?4 WHERE id = ?1 AND attempt = ?2 "
		"AND worker = ?3 AND status = 'running'",
	/* Oldest first, a bounded number at a time, so that a long backlog
	 * of finished tasks never holds the write lock for long. */
	[ST_PRUNE] =
		"DELETE FROM tasks WHERE id IN (SELECT id FROM tasks INDEXED BY "
		"tasks_finished WHERE finished IS NOT NULL AND finished < ?1 AND "
		"status IN "
		"('completed', 'failed', 'cancelled', 'timeout', 'expired') "
		"AND (?2 IS NULL OR status = ?2) ORDER BY finished LIMIT ?3) "
		"RETURNING id",
	[ST_PRUNE_ATTEMPTS] = "DELETE FROM attempts WHERE task_id = ?1",
	/* A stream handler died with the attempt in flight: like a lost
	 * attempt, run again (at once: the handler is restarted) and
	 * counted as a reclaim, so a task that kills its handler every time
	 * ends failed as a poison task. */
	[ST_CRASHED] =
		"UPDATE tasks SET reclaims = reclaims + 1, worker = NULL, "
		"lease_until = NULL, "
		"status = CASE WHEN reclaims + 1 > max_reclaims THEN 'failed' "
		"ELSE 'queued' END, "
		"error = CASE WHEN reclaims + 1 > max_reclaims THEN ?4 || "
		"' (' || (reclaims + 1) || ' times: a poison task?)' ELSE ?4 END, "
		"finished = CASE WHEN reclaims + 1 > max_reclaims THEN ?5 "
		"ELSE NULL END "
		"WHERE id = ?1 AND attempt = ?2 AND worker = ?3 AND "
		"status = 'running' AND lease_until >= ?6 RETURNING status",
	/* A claimed task whose stored value does not decode (fail_damaged). */
	[ST_DAMAGED] =
		"UPDATE tasks SET status = 'failed', error = ?4, finished = ?5, "
		"lease_until = NULL WHERE id = ?1 AND attempt = ?2 AND "
		"worker = ?3 AND status = 'running'",
	/* Counts of kinds of task that are all gone. */
	[ST_COUNTS_TRIM] = "DELETE FROM task_counts WHERE n = 0",
	/* Never started within its --expires time: never run. */
	[ST_EXPIRE] =
		"UPDATE tasks INDEXED BY tasks_expiry SET status = 'expired', "
		"finished = ?1, error = 'not started within its --expires time' "
		"WHERE expires_at IS NOT NULL AND expires_at <= ?1 AND "
		"attempt = 0 AND status IN ('pending', 'queued')",
	/* A handler's retry_after: its type, or its route key, is held
	 * across the cluster (the later hold wins). */
	[ST_HOLD_TYPE] =
		"INSERT INTO queues (type, hold_until, hold_reason) SELECT type, "
		"?2, ?3 FROM tasks WHERE id = ?1 ON CONFLICT (type) DO UPDATE "
		"SET hold_until = max(coalesce(hold_until, 0), "
		"excluded.hold_until), hold_reason = excluded.hold_reason",
	[ST_HOLD_KEY] =
		"INSERT INTO queue_keys (type, key, hold_until, hold_reason) "
		"SELECT type, coalesce(route_key, ''), ?2, ?3 FROM tasks WHERE "
		"id = ?1 ON CONFLICT (type, key) DO UPDATE SET hold_until = "
		"max(coalesce(hold_until, 0), excluded.hold_until), "
		"hold_reason = excluded.hold_reason",
	[ST_QUEUE_ENSURE] =
		"INSERT INTO queues (type) VALUES (?1) ON CONFLICT DO NOTHING",
	[ST_QUEUE_ENSURE_TASK] =
		"INSERT INTO queues (type) SELECT type FROM tasks WHERE id = ?1 "
		"ON CONFLICT DO NOTHING",
	[ST_QUEUES] = "SELECT " QUEUE_COLS " FROM queues ORDER BY type",
	[ST_QUEUE_ONE] = "SELECT " QUEUE_COLS " FROM queues WHERE type = ?1",
	[ST_QUEUE_WRITE] =
		"UPDATE queues SET paused = ?2, reason = ?3, paused_at = ?4, "
		"hold_until = ?5, hold_reason = ?6, concurrency = ?7, "
		"per_key = ?8, rate = ?9, key_rate = ?10, burst = ?11, "
		"fair = ?12, cursor = ?13, tokens = ?14, tokens_at = ?15 "
		"WHERE type = ?1",
	[ST_QUEUE_SAVE] =
		"UPDATE queues SET tokens = ?2, tokens_at = ?3, cursor = ?4 "
		"WHERE type = ?1",
	/* A type with nothing left to control is no longer controlled:
	 * its claims take the fast path again. */
	[ST_QUEUE_DROP] =
		"DELETE FROM queues WHERE (?1 IS NULL OR type = ?1) AND "
		"paused = 0 AND (hold_until IS NULL OR hold_until <= ?2) AND "
		"concurrency = 0 AND per_key = 0 AND rate = 0 AND "
		"key_rate = 0 AND fair = 0 AND NOT EXISTS (SELECT 1 FROM "
		"queue_keys k WHERE k.type = queues.type)",
	/* Key rows are kept while they hold something: a hold, or a bucket
	 * not yet full again. */
	[ST_KEYS_DROP] =
		"DELETE FROM queue_keys WHERE (?1 IS NULL OR type = ?1) AND "
		"(hold_until IS NULL OR hold_until <= ?2) AND coalesce((SELECT "
		"q.key_rate <= 0 OR ?2 - queue_keys.tokens_at >= "
		"1000.0 * q.burst / q.key_rate FROM queues q WHERE "
		"q.type = queue_keys.type), 1)",
	[ST_KEY_SAVE] =
		"INSERT INTO queue_keys (type, key, tokens, tokens_at) VALUES "
		"(?1, ?2, ?3, ?4) ON CONFLICT (type, key) DO UPDATE SET "
		"tokens = excluded.tokens, tokens_at = excluded.tokens_at",
	[ST_KEY_HOLD] =
		"INSERT INTO queue_keys (type, key, hold_until, hold_reason) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT (type, key) DO UPDATE SET "
		"hold_until = excluded.hold_until, "
		"hold_reason = excluded.hold_reason",
	[ST_KEY_RESUME] =
		"UPDATE queue_keys SET hold_until = NULL, hold_reason = NULL "
		"WHERE type = ?1 AND (?2 IS NULL OR key = ?2)",
	/* The flow queries of flow.h.  A task without a key is under "". */
	[ST_FLOW_CANDS] =
		"SELECT * FROM (SELECT id, priority, coalesce(route_key, '') "
		"FROM tasks INDEXED BY tasks_claim WHERE status = 'queued' AND "
		"type = ?1 AND assigned IS NULL AND "
		"(tags IS NULL OR ac_tags_ok(tags, ?2)) AND (?4 IS NULL OR "
		"coalesce(route_key, '') NOT IN (SELECT value FROM json_each(?4))) "
		"ORDER BY priority DESC, id LIMIT ?5) "
		"UNION ALL SELECT * FROM (SELECT id, priority, "
		"coalesce(route_key, '') FROM tasks INDEXED BY tasks_claim WHERE "
		"status = 'queued' AND type = ?1 AND assigned = ?3 AND "
		"(tags IS NULL OR ac_tags_ok(tags, ?2)) AND (?4 IS NULL OR "
		"coalesce(route_key, '') NOT IN (SELECT value FROM json_each(?4))) "
		"ORDER BY priority DESC, id LIMIT ?5) "
		"ORDER BY 2 DESC, 1 LIMIT ?5",
	[ST_FLOW_HEAD_FIRST] =
		"SELECT id, priority, coalesce(route_key, ''), "
		"(assigned IS NULL OR assigned = ?3) AND "
		"(tags IS NULL OR ac_tags_ok(tags, ?4)) FROM tasks WHERE "
		"status = 'queued' AND type = ?1 AND priority = ?2 "
		"ORDER BY coalesce(route_key, ''), id LIMIT 1",
	[ST_FLOW_HEAD_AFTER] =
		"SELECT id, priority, coalesce(route_key, ''), "
		"(assigned IS NULL OR assigned = ?3) AND "
		"(tags IS NULL OR ac_tags_ok(tags, ?4)) FROM tasks WHERE "
		"status = 'queued' AND type = ?1 AND priority = ?2 AND "
		"coalesce(route_key, '') > ?5 "
		"ORDER BY coalesce(route_key, ''), id LIMIT 1",
	[ST_FLOW_NEXT] =
		"SELECT id, priority, coalesce(route_key, '') FROM tasks WHERE "
		"status = 'queued' AND type = ?1 AND priority = ?2 AND "
		"coalesce(route_key, '') = ?5 AND id > ?6 AND "
		"(assigned IS NULL OR assigned = ?3) AND "
		"(tags IS NULL OR ac_tags_ok(tags, ?4)) ORDER BY id LIMIT 1",
	[ST_FLOW_TOP] =
		"SELECT max(priority) FROM tasks WHERE status = 'queued' AND "
		"type = ?1 AND priority < ?2",
	[ST_FLOW_RUNNING] =
		"SELECT coalesce(route_key, ''), count(*) FROM tasks INDEXED BY "
		"tasks_running WHERE status = 'running' AND type = ?1 AND "
		"(?2 IS NULL OR id NOT IN (SELECT value FROM json_each(?2))) "
		"GROUP BY 1",
	[ST_FLOW_KEYS] =
		"SELECT key, hold_until, hold_reason, tokens, tokens_at FROM "
		"queue_keys WHERE type = ?1",
	[ST_KEYS_HELD] =
		"SELECT key, hold_until, hold_reason FROM queue_keys WHERE "
		"type = ?1 AND hold_until > ?2 ORDER BY key",
	/* The dead-letter set: ended as asked, newest end first. */
	[ST_ENDED] =
		"SELECT " TASK_COLS " FROM tasks INDEXED BY tasks_finished WHERE "
		"finished IS NOT NULL AND finished >= ?1 AND status IN (SELECT "
		"value FROM json_each(?2)) AND (?3 IS NULL OR type = ?3) "
		"ORDER BY finished DESC, id DESC LIMIT ?4",
	[ST_REQUEUE_ALL] =
		"UPDATE tasks SET status = 'queued', failures = 0, reclaims = 0, "
		"cancel_requested = 0, error = NULL, result = NULL, "
		"worker = NULL, lease_until = NULL, finished = NULL, "
		"expires_at = NULL, run_at = ?4 WHERE id IN (SELECT id FROM "
		"tasks INDEXED BY tasks_finished WHERE finished IS NOT NULL AND "
		"finished >= ?1 AND status IN (SELECT value FROM json_each(?2)) "
		"AND status IN ('failed', 'timeout', 'cancelled', 'expired') "
		"AND (?3 IS NULL OR type = ?3)) RETURNING id",
	/* Task graphs (schema_v6). */
	[ST_LINK] =
		"UPDATE tasks SET dependents = 1 WHERE id = ?1 "
		"RETURNING status, depth",
	[ST_AFTER_ADD] =
		"INSERT OR IGNORE INTO task_after (parent, task, done) "
		"VALUES (?1, ?2, ?3)",
	[ST_GRAPH_SET] =
		"UPDATE tasks SET after_policy = ?2, waiting = ?3, "
		"status = coalesce(?4, status), error = ?5, "
		"finished = CASE WHEN ?4 = 'cancelled' THEN ?6 END WHERE id = ?1",
	[ST_BATCH_NEW] = "INSERT INTO batches (created, total) VALUES (?1, 0)",
	[ST_BATCH_DONE] =
		"UPDATE batches SET total = total + ?2, "
		"then_task = coalesce(?3, then_task), first_id = ?4, "
		"last_id = ?5 WHERE id = ?1",
	[ST_THEN_EDGES] =
		"INSERT INTO task_after (parent, task, done) SELECT id, ?2, "
		"status IN " SQL_ENDED " FROM tasks WHERE id BETWEEN ?3 AND ?4 "
		"AND batch = ?1",
	/* Waiting for the batch's tasks that have not ended (one may have
	 * been cancelled at once: it waited for a task that had failed). */
	[ST_THEN_SET] =
		"UPDATE tasks SET then_batch = ?2, after_policy = 'all-done', "
		"waiting = " THEN_LEFT ", status = CASE WHEN " THEN_LEFT " > 0 "
		"THEN 'pending' ELSE status END, data = CASE WHEN " THEN_LEFT
		" = 0 THEN " THEN_DATA("?1", "?2") " ELSE data END WHERE id = ?1",
	[ST_PARENTS] =
		"SELECT t.id, t.status, t.result, t.error FROM task_after a "
		"JOIN tasks t ON t.id = a.parent WHERE a.task = ?1 ORDER BY t.id",
	[ST_LINKS_TASK] =
		"SELECT id, type, status, parent, after_policy, batch FROM tasks "
		"WHERE id = ?1",
	[ST_LINKS_AFTER] =
		"SELECT parent FROM task_after WHERE task = ?1 ORDER BY parent",
	[ST_LINKS_CHILDREN] =
		"SELECT id FROM tasks WHERE parent = ?1 ORDER BY id",
	[ST_LINKS_DEPENDENTS] =
		"SELECT task FROM task_after WHERE parent = ?1 ORDER BY task",
	[ST_BATCH_GET] =
		"SELECT created, total, then_task, (SELECT status FROM tasks "
		"WHERE id = then_task), first_id, last_id FROM batches "
		"WHERE id = ?1",
	[ST_BATCH_COUNTS] =
		"SELECT status, count(*) FROM tasks WHERE id BETWEEN ?2 AND ?3 "
		"AND batch = ?1 GROUP BY status",
	[ST_AWAITING] =
		"UPDATE tasks SET awaiting = ?2 WHERE id = ?1 AND "
		"status = 'running'",
	/* Schedules (schema_v6). */
	[ST_SCHED_NEXT] =
		"SELECT min(next_at) FROM schedules WHERE paused = 0",
	[ST_SCHED_DUE] =
		"SELECT " SCHED_COLS " FROM schedules WHERE paused = 0 AND "
		"next_at <= ?1 ORDER BY name",
	[ST_SCHED_GET] =
		"SELECT " SCHED_COLS " FROM schedules WHERE name = ?1",
	[ST_SCHED_LIST] =
		"SELECT " SCHED_COLS " FROM schedules ORDER BY name",
	[ST_SCHED_UPDATE] =
		"UPDATE schedules SET next_at = ?2, "
		"last_slot = coalesce(?3, last_slot), "
		"last_task = coalesce(?4, last_task), fired = fired + ?5, "
		"skipped = skipped + ?6, missed = missed + ?7 WHERE name = ?1",
	[ST_SCHED_RAN] =
		"UPDATE schedules SET last_task = ?2 WHERE name = ?1",
	[ST_SCHED_INSERT] =
		"INSERT INTO schedules (name, cron, tz, type, data, priority, "
		"max_retries, timeout_ms, expires_ms, route_key, tags, meta, "
		"max_reclaims, overlap, catch_up_ms, next_at, created, updated) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
		"?14, ?15, ?16, ?17, ?17) ON CONFLICT (name) DO NOTHING",
	[ST_SCHED_REPLACE] =
		"UPDATE schedules SET cron = ?2, tz = ?3, type = ?4, data = ?5, "
		"priority = ?6, max_retries = ?7, timeout_ms = ?8, "
		"expires_ms = ?9, route_key = ?10, tags = ?11, meta = ?12, "
		"max_reclaims = ?13, overlap = ?14, catch_up_ms = ?15, "
		"next_at = ?16, updated = ?17 WHERE name = ?1",
	[ST_SCHED_PAUSE] =
		"UPDATE schedules SET paused = 1, reason = ?2, updated = ?3 "
		"WHERE name = ?1",
	[ST_SCHED_RESUME] =
		"UPDATE schedules SET paused = 0, reason = NULL, next_at = ?2, "
		"updated = ?3 WHERE name = ?1",
	[ST_SCHED_REMOVE] = "DELETE FROM schedules WHERE name = ?1",
	[ST_COUNT_ADD] =
		"INSERT INTO task_counts (type, priority, status, n) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT (type, priority, status) "
		"DO UPDATE SET n = n + excluded.n",
	/* Budgets (schema_v7). */
	[ST_BUDGET_GET] =
		"SELECT limits, usage, spent FROM budgets WHERE name = ?1",
	[ST_BUDGET_INSERT] =
		"INSERT INTO budgets (name, limits, usage, spent, spent_at, "
		"created, updated) VALUES (?1, ?2, ?3, ?4, CASE WHEN ?4 <> 0 "
		"THEN ?5 END, ?5, ?5)",
	[ST_BUDGET_UPDATE] =
		"UPDATE budgets SET limits = ?2, usage = ?3, spent = ?4, "
		"spent_at = CASE WHEN ?4 = 0 THEN NULL WHEN spent = 0 THEN ?5 "
		"ELSE spent_at END, updated = ?5 WHERE name = ?1",
	/* Queued tasks of a budget just spent: held (pending, never due);
	 * the trigger tasks_budget_hold holds any that are queued later. */
	[ST_BUDGET_HOLD] =
		"UPDATE tasks SET status = 'pending', held = 1, run_at = ?2 "
		"WHERE budget = ?1 AND status = 'queued'",
	/* A task just submitted to a spent budget (inserts have no trigger:
	 * one would cost every submit). */
	[ST_BUDGET_HOLD_ONE] =
		"UPDATE tasks SET status = 'pending', held = 1, run_at = ?2 "
		"WHERE id = ?1 AND status = 'queued'",
	[ST_BUDGET_RELEASE] =
		"UPDATE tasks SET status = 'queued', held = 0, run_at = ?2 "
		"WHERE budget = ?1 AND held <> 0 AND status = 'pending'",
	[ST_BUDGET_UNLINK] =
		"UPDATE tasks SET budget = NULL, held = 0, "
		"status = CASE WHEN held <> 0 AND status = 'pending' THEN 'queued' "
		"ELSE status END, "
		"run_at = CASE WHEN held <> 0 AND status = 'pending' THEN ?2 "
		"ELSE run_at END "
		"WHERE budget = ?1",
	[ST_BUDGET_DELETE] = "DELETE FROM budgets WHERE name = ?1",
	[ST_BUDGET_LIST] =
		"SELECT name, limits, usage, spent, spent_at, created, updated "
		"FROM budgets ORDER BY name",
	[ST_BUDGET_ONE] =
		"SELECT name, limits, usage, spent, spent_at, created, updated "
		"FROM budgets WHERE name = ?1",
	/* A listing's task counts in one query (ac_budget_count_add). */
	[ST_BUDGET_TASKS] =
		"SELECT budget, status, held <> 0 AND status = 'pending', "
		"count(*) FROM tasks WHERE budget IS NOT NULL GROUP BY 1, 2, 3",
	[ST_BUDGET_TASKS_ONE] =
		"SELECT budget, status, held <> 0 AND status = 'pending', "
		"count(*) FROM tasks WHERE budget = ?1 GROUP BY 1, 2, 3",
	[ST_TASK_BUDGET] = "UPDATE tasks SET budget = ?2 WHERE id = ?1",
	[ST_TYPE_USAGE_GET] = "SELECT usage FROM type_usage WHERE type = ?1",
	[ST_TYPE_USAGE_PUT] =
		"INSERT INTO type_usage (type, usage, updated) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (type) DO UPDATE SET usage = excluded.usage, "
		"updated = excluded.updated",
	[ST_TYPE_USAGE_LIST] =
		"SELECT type, usage FROM type_usage ORDER BY type",
};

static const char schema_v1[] =
	"CREATE TABLE tasks ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" type TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" priority INTEGER NOT NULL DEFAULT 5,"
	" data TEXT NOT NULL,"
	" attempt INTEGER NOT NULL DEFAULT 0,"
	" failures INTEGER NOT NULL DEFAULT 0,"
	" max_retries INTEGER NOT NULL DEFAULT 0,"
	" timeout_ms INTEGER NOT NULL DEFAULT 0,"
	" worker TEXT,"
	" route_key TEXT,"
	" tags TEXT,"
	" meta TEXT,"
	" idempotency_key TEXT,"
	" result TEXT,"
	" error TEXT,"
	" checkpoint TEXT,"
	" progress REAL,"
	" usage TEXT,"
	" log TEXT,"
	" reclaims INTEGER NOT NULL DEFAULT 0,"
	" max_reclaims INTEGER NOT NULL DEFAULT 3,"
	" cancel_requested INTEGER NOT NULL DEFAULT 0,"
	" assigned TEXT,"
	" created INTEGER NOT NULL,"
	" run_at INTEGER NOT NULL,"
	" started INTEGER,"
	" finished INTEGER,"
	" lease_until INTEGER);"
	/* The claim: per type, highest priority then oldest, queued only. */
	"CREATE INDEX tasks_claim ON tasks (type, assigned, priority DESC, id)"
	" WHERE status = 'queued';"
	"CREATE INDEX tasks_due ON tasks (run_at) WHERE status = 'pending';"
	"CREATE INDEX tasks_running ON tasks (worker) WHERE status = 'running';"
	"CREATE INDEX tasks_lease ON tasks (lease_until) WHERE status = 'running';"
	"CREATE INDEX tasks_status ON tasks (status, type, priority);"
	"CREATE INDEX tasks_assigned ON tasks (assigned) WHERE assigned IS NOT NULL;"
	"CREATE UNIQUE INDEX tasks_idempotency ON tasks (idempotency_key)"
	" WHERE idempotency_key IS NOT NULL;"
	"CREATE TABLE workers ("
	" id TEXT PRIMARY KEY,"
	" host TEXT NOT NULL,"
	" pid INTEGER NOT NULL,"
	" concurrency INTEGER NOT NULL,"
	" tags TEXT NOT NULL,"
	" handlers TEXT NOT NULL,"
	" listen TEXT,"
	" metrics TEXT,"
	" status TEXT NOT NULL,"
	" running INTEGER NOT NULL DEFAULT 0,"
	" completed INTEGER NOT NULL DEFAULT 0,"
	" failed INTEGER NOT NULL DEFAULT 0,"
	" started INTEGER NOT NULL,"
	" heartbeat INTEGER NOT NULL,"
	" heartbeat_mono INTEGER NOT NULL,"
	" heartbeat_ms INTEGER NOT NULL,"
	" lease_ms INTEGER NOT NULL,"
	" drain INTEGER NOT NULL DEFAULT 0,"
	" drain_reason TEXT,"
	" stop INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE attempts ("
	" task_id INTEGER NOT NULL,"
	" attempt INTEGER NOT NULL,"
	" worker TEXT NOT NULL,"
	" started INTEGER NOT NULL,"
	" finished INTEGER,"
	" outcome TEXT,"
	" error TEXT,"
	" PRIMARY KEY (task_id, attempt)) WITHOUT ROWID;"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

/* Version 2: retention pruning finds old finished tasks by an index. */
static const char schema_v2[] =
	"CREATE INDEX tasks_finished ON tasks (finished)"
	" WHERE finished IS NOT NULL;";

/* Version 4: the number of tasks of each type, priority and status, kept
 * in the same transaction as every change to a task (one writer at a
 * time, so a counter row is never contended), so that the summary and
 * the queue depth read a few rows instead of counting a million.
 * Triggers count changes of status and deletions; the submit counts the
 * tasks it inserts itself, one row per kind (ST_COUNT_ADD): any trigger
 * on INSERT makes SQLite keep a statement journal for every insert, and
 * a batch of a million then took 22 s instead of 8.  Whatever else comes
 * to insert tasks must count them the same way.  Existing tasks are
 * counted once here.  tasks_status becomes (status) alone: its entries
 * end with the rowid, so a listing by status, newest first, is a
 * backward walk with no sort. */
static const char schema_v4[] =
	"CREATE TABLE task_counts ("
	" type TEXT NOT NULL,"
	" priority INTEGER NOT NULL,"
	" status TEXT NOT NULL,"
	" n INTEGER NOT NULL,"
	" PRIMARY KEY (type, priority, status)) WITHOUT ROWID;"
	"INSERT INTO task_counts (type, priority, status, n)"
	" SELECT type, priority, status, count(*) FROM tasks"
	" GROUP BY type, priority, status;"
	"CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks BEGIN"
	" UPDATE task_counts SET n = n - 1 WHERE type = OLD.type"
	"  AND priority = OLD.priority AND status = OLD.status;"
	" END;"
	/* One statement for both rows: each statement in a trigger costs
	 * every claim and every end of a task. */
	"CREATE TRIGGER tasks_count_update"
	" AFTER UPDATE OF type, priority, status ON tasks"
	" WHEN NEW.status IS NOT OLD.status OR NEW.type IS NOT OLD.type"
	"  OR NEW.priority IS NOT OLD.priority BEGIN"
	" INSERT INTO task_counts (type, priority, status, n)"
	"  VALUES (OLD.type, OLD.priority, OLD.status, -1),"
	"  (NEW.type, NEW.priority, NEW.status, 1)"
	"  ON CONFLICT (type, priority, status) DO UPDATE SET n = n + excluded.n;"
	" END;"
	"DROP INDEX tasks_status;"
	"CREATE INDEX tasks_status ON tasks (status);";

/* Version 5: flow control (ac-queue).  `queues` has a row for each type
 * under control (limits, a pause, a hold); `queue_keys` the holds and
 * buckets of route keys.  Holds and buckets run on the lease clock.
 * Tasks may expire before they start.  The index that fair claims (and
 * per-key limits past keys at their limit) walk is made when fairness or
 * a per-key limit is first asked for (FAIR_INDEX), so that nobody else
 * pays for it on every insert and claim. */
static const char schema_v5[] =
	"ALTER TABLE tasks ADD COLUMN expires_at INTEGER;"
	"CREATE INDEX tasks_expiry ON tasks (expires_at) WHERE expires_at"
	" IS NOT NULL AND attempt = 0 AND status IN ('pending', 'queued');"
	"CREATE TABLE queues ("
	" type TEXT PRIMARY KEY,"
	" paused INTEGER NOT NULL DEFAULT 0,"
	" reason TEXT,"
	" paused_at INTEGER,"
	" hold_until INTEGER,"
	" hold_reason TEXT,"
	" concurrency INTEGER NOT NULL DEFAULT 0,"
	" per_key INTEGER NOT NULL DEFAULT 0,"
	" rate REAL NOT NULL DEFAULT 0,"
	" key_rate REAL NOT NULL DEFAULT 0,"
	" burst REAL NOT NULL DEFAULT 1,"
	" fair INTEGER NOT NULL DEFAULT 0,"
	" cursor TEXT,"
	" tokens REAL NOT NULL DEFAULT 0,"
	" tokens_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE queue_keys ("
	" type TEXT NOT NULL,"
	" key TEXT NOT NULL,"
	" hold_until INTEGER,"
	" hold_reason TEXT,"
	" tokens REAL NOT NULL DEFAULT 0,"
	" tokens_at INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (type, key)) WITHOUT ROWID;";

/* Version 6: task graphs and schedules (ac-schedule).
 *
 * A task may wait for others (task_after: one row per edge, `done` once
 * the parent's end was counted) and counts how many it still waits for
 * (waiting); it stays pending meanwhile, and the promotion of due tasks
 * passes it over.  A task spawned by a running handler names it
 * (parent).  What happens when a task ends is done by one trigger, so
 * that every way a task can end (a handler's outcome, a sweep, a cancel,
 * an expiry) is covered: children under all-ok of a parent that did not
 * complete are cancelled, the others count one parent fewer and are
 * queued when none is left (a batch continuation gets its data then), and
 * a cancelled task's spawned children are cancelled (running ones by
 * request).  It runs only for tasks with dependents, so a task nobody
 * waits for pays one comparison.  A cancel travels down a chain through
 * the trigger firing itself (recursive_triggers, set on every
 * connection), which SQLite nests 1000 deep: depth bounds chains at
 * AC_GRAPH_DEPTH_MAX.  Deleting a task (prune) takes its edges along.
 * A batch's tasks are found by their id range (kept in batches) and
 * their batch column, not by an index: one on every task of every batch
 * cost a batch submit 12% of its speed.
 *
 * Schedules keep the next slot not dealt with (next_at, wall-clock ms)
 * and their counters; schedule.h has the rules. */
static const char schema_v6[] =
	"ALTER TABLE tasks ADD COLUMN parent INTEGER;"
	"ALTER TABLE tasks ADD COLUMN batch INTEGER;"
	"ALTER TABLE tasks ADD COLUMN then_batch INTEGER;"
	"ALTER TABLE tasks ADD COLUMN after_policy TEXT;"
	"ALTER TABLE tasks ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN dependents INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN awaiting INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX tasks_parent ON tasks (parent) WHERE parent IS NOT NULL;"
	"CREATE TABLE task_after ("
	" parent INTEGER NOT NULL,"
	" task INTEGER NOT NULL,"
	" done INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (parent, task)) WITHOUT ROWID;"
	"CREATE INDEX task_after_task ON task_after (task);"
	"CREATE TABLE batches ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" created INTEGER NOT NULL,"
	" total INTEGER NOT NULL DEFAULT 0,"
	" first_id INTEGER,"
	" last_id INTEGER,"
	" then_task INTEGER);"
	"CREATE TRIGGER tasks_graph_end AFTER UPDATE OF status ON tasks"
	" WHEN NEW.dependents <> 0 AND NEW.status IN " SQL_ENDED
	"  AND OLD.status NOT IN " SQL_ENDED " BEGIN"
	" UPDATE tasks SET status = 'cancelled', waiting = 0,"
	"  finished = " SQL_NOW_MS ","
	"  error = 'task ' || NEW.id || ' it waited for ended ' || NEW.status"
	"  WHERE NEW.status <> 'completed' AND after_policy = 'all-ok'"
	"  AND status = 'pending' AND waiting > 0 AND id IN"
	"  (SELECT task FROM task_after WHERE parent = NEW.id AND done = 0);"
	" UPDATE tasks SET waiting = waiting - 1,"
	"  status = CASE WHEN waiting = 1 AND run_at <= " SQL_NOW_MS
	"   THEN 'queued' ELSE status END,"
	"  data = CASE WHEN waiting = 1 AND then_batch IS NOT NULL THEN "
	THEN_DATA("tasks.id", "then_batch") " ELSE data END"
	"  WHERE status = 'pending' AND waiting > 0 AND id IN"
	"  (SELECT task FROM task_after WHERE parent = NEW.id AND done = 0);"
	" UPDATE task_after SET done = 1 WHERE parent = NEW.id AND done = 0;"
	" UPDATE tasks SET status = 'cancelled', waiting = 0,"
	"  finished = " SQL_NOW_MS ","
	"  error = 'its parent task ' || NEW.id || ' was cancelled'"
	"  WHERE NEW.status = 'cancelled' AND parent = NEW.id"
	"  AND status IN ('pending', 'queued');"
	" UPDATE tasks SET cancel_requested = 1 WHERE NEW.status = 'cancelled'"
	"  AND parent = NEW.id AND status = 'running';"
	" END;"
	/* A cancel asked of a running task cancels its sub-tasks at once,
	 * not when its end is written (after its slot may have gone to one
	 * of them). */
	"CREATE TRIGGER tasks_graph_cancel AFTER UPDATE OF cancel_requested"
	" ON tasks WHEN NEW.cancel_requested <> 0 AND OLD.cancel_requested = 0"
	"  AND NEW.dependents <> 0 BEGIN"
	" UPDATE tasks SET status = 'cancelled', waiting = 0,"
	"  finished = " SQL_NOW_MS ","
	"  error = 'its parent task ' || NEW.id || ' was cancelled'"
	"  WHERE parent = NEW.id AND status IN ('pending', 'queued');"
	" UPDATE tasks SET cancel_requested = 1 WHERE parent = NEW.id"
	"  AND status = 'running' AND cancel_requested = 0;"
	" END;"
	"CREATE TRIGGER tasks_graph_delete AFTER DELETE ON tasks"
	" WHEN OLD.dependents <> 0 OR OLD.after_policy IS NOT NULL BEGIN"
	" DELETE FROM task_after WHERE parent = OLD.id;"
	" DELETE FROM task_after WHERE task = OLD.id;"
	" END;"
	"CREATE TABLE schedules ("
	" name TEXT PRIMARY KEY,"
	" cron TEXT NOT NULL,"
	" tz TEXT,"
	" type TEXT NOT NULL,"
	" data TEXT NOT NULL,"
	" priority INTEGER NOT NULL,"
	" max_retries INTEGER NOT NULL,"
	" timeout_ms INTEGER NOT NULL,"
	" expires_ms INTEGER NOT NULL,"
	" route_key TEXT,"
	" tags TEXT,"
	" meta TEXT,"
	" max_reclaims INTEGER NOT NULL,"
	" overlap INTEGER NOT NULL,"
	" catch_up_ms INTEGER NOT NULL,"
	" paused INTEGER NOT NULL DEFAULT 0,"
	" reason TEXT,"
	" next_at INTEGER,"
	" last_slot INTEGER,"
	" last_task INTEGER,"
	" fired INTEGER NOT NULL DEFAULT 0,"
	" skipped INTEGER NOT NULL DEFAULT 0,"
	" missed INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL,"
	" updated INTEGER NOT NULL);";

/* Version 7: trace context and budgets.  A task charged to a spent
 * budget is held: pending with held = 1 and a run_at that never comes,
 * so that neither promotion nor a claim sees it.  The trigger holds a task
 * whenever it would become queued (promoted, released by a graph,
 * retried), so every way into the queue is covered; its WHEN clause is
 * all a task without a budget pays.  A submit holds what it inserts
 * itself (ST_BUDGET_HOLD_ONE): a trigger on every insert would cost
 * every submit about a fifth of its speed. */
#define BUDGET_HOLD_BODY \
	" UPDATE tasks SET status = 'pending', held = 1," \
	"  run_at = " AC_HELD_RUN_AT_SQL " WHERE id = NEW.id AND EXISTS" \
	"  (SELECT 1 FROM budgets WHERE name = NEW.budget AND spent <> 0);" \
	" END;"
static const char schema_v7[] =
	"ALTER TABLE tasks ADD COLUMN traceparent TEXT;"
	"ALTER TABLE tasks ADD COLUMN budget TEXT;"
	"ALTER TABLE tasks ADD COLUMN held INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX tasks_budget ON tasks (budget) WHERE budget IS NOT NULL;"
	"CREATE TABLE budgets ("
	" name TEXT PRIMARY KEY,"
	" limits TEXT NOT NULL,"
	" usage TEXT,"
	" spent INTEGER NOT NULL DEFAULT 0,"
	" spent_at INTEGER,"
	" created INTEGER NOT NULL,"
	" updated INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE type_usage ("
	" type TEXT PRIMARY KEY,"
	" usage TEXT NOT NULL,"
	" updated INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TRIGGER tasks_budget_hold AFTER UPDATE OF status ON tasks"
	" WHEN NEW.budget IS NOT NULL AND NEW.status = 'queued' BEGIN"
	BUDGET_HOLD_BODY
	/* A held task that leaves pending any other way (cancelled,
	 * expired) is held no more, so that a release never queues it. */
	"CREATE TRIGGER tasks_budget_unhold AFTER UPDATE OF status ON tasks"
	" WHEN NEW.held <> 0 AND NEW.status <> 'pending' BEGIN"
	" UPDATE tasks SET held = 0 WHERE id = NEW.id;"
	" END;";

#define FAIR_INDEX \
	"CREATE INDEX IF NOT EXISTS tasks_fair ON tasks (type, priority, " \
	"coalesce(route_key, ''), id) WHERE status = 'queued'"

struct sqlite_store {
	struct ac_store base;
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmts[ST_COUNT];
	long long data_version;
	int in_tx;
	int64_t busy_since;      /* when the current wait for a lock began */
};

/* The lease clock: shared by the host's processes, immune to steps of the
 * wall clock. */
static int64_t lease_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int db_error(struct sqlite_store *s, struct ac_error *err,
		    const char *what)
{
	int code = sqlite3_errcode(s->db);
	int exit_code = AC_EXIT_UNAVAILABLE;

	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		exit_code = AC_EXIT_TEMPFAIL;
	if (code == SQLITE_READONLY)
		return ac_error_set(err, exit_code,
				    "store '%s' is not writable: %s", s->path,
				    sqlite3_errmsg(s->db));
	return ac_error_set(err, exit_code, "store '%s': %s: %s", s->path,
			    what, sqlite3_errmsg(s->db));
}

static sqlite3_stmt *stmt(struct sqlite_store *s, enum stmt_id id,
			  struct ac_error *err)
{
	if (!s->stmts[id] &&
	    sqlite3_prepare_v3(s->db, stmt_sql[id], -1,
			       SQLITE_PREPARE_PERSISTENT, &s->stmts[id],
			       NULL) != SQLITE_OK) {
		db_error(s, err, "preparing a statement");
		return NULL;
	}
	return s->stmts[id];
}

static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Run a statement that returns no rows. */
static int exec_stmt(struct sqlite_store *s, sqlite3_stmt *st,
		     struct ac_error *err, const char *what)
{
	int rc = sqlite3_step(st);

	done(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_error(s, err, what);
	return 0;
}

static int tx_begin(struct sqlite_store *s, struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_BEGIN, err);

	if (!st)
		return -1;
	/* The busy timeout already waits; this loop only rides out a storm
	 * longer than it before giving up with a temporary error. */
	for (int i = 0; i < BUSY_RETRIES; i++) {
		int rc = sqlite3_step(st);

		sqlite3_reset(st);
		if (rc == SQLITE_DONE) {
			s->in_tx = 1;
			return 0;
		}
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			break;
	}
	return db_error(s, err, "starting a transaction");
}

static int tx_commit(struct sqlite_store *s, struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_COMMIT, err);
	int rc;

	if (!st)
		return -1;
	for (int i = 0; i < BUSY_RETRIES; i++) {
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_DONE) {
			s->in_tx = 0;
			return 0;
		}
		if (rc != SQLITE_BUSY)
			break;
	}
	return db_error(s, err, "committing");
}

static void tx_rollback(struct sqlite_store *s)
{
	sqlite3_stmt *st;

	if (!s->in_tx)
		return;
	st = stmt(s, ST_ROLLBACK, NULL);
	if (st) {
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	s->in_tx = 0;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *text)
{
	if (text)
		sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static char *column_dup(sqlite3_stmt *st, int i, size_t *len)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);
	char *p;

	if (!t) {
		if (len)
			*len = 0;
		return NULL;
	}
	p = malloc((size_t)n + 1);
	if (!p)
		return NULL;
	memcpy(p, t, (size_t)n);
	p[n] = '\0';
	if (len)
		*len = (size_t)n;
	return p;
}

/* Bind a stored value (task data, a result, a checkpoint; NULL for SQL
 * NULL): an lz4 frame as a BLOB when compressing pays (compress.h), else
 * the text.  SQLite frees the frame when it is done with it.  Compression
 * is only a saving: without memory for it, the text is bound. */
static int bind_value(struct sqlite_store *s, sqlite3_stmt *st, int i,
		      const char *text, size_t len, struct ac_error *err)
{
	unsigned char *frame;
	size_t flen;
	int rc;

	if (!text)
		rc = sqlite3_bind_null(st, i);
	else if (ac_compress_encode(text, len, &frame, &flen) == 1)
		rc = sqlite3_bind_blob64(st, i, frame, flen, free);
	else
		rc = sqlite3_bind_text(st, i, text, (int)len, SQLITE_STATIC);
	return rc == SQLITE_OK ? 0 : db_error(s, err, "binding a value");
}

/* A stored value of column i as new text in *out (NULL for SQL NULL) of
 * *len bytes: a BLOB is a frame, decoded.  0, or -1 with err set (out of
 * memory, or a frame that does not decode). */
static int column_value(sqlite3_stmt *st, int i, char **out, size_t *len,
			struct ac_error *err)
{
	int type = sqlite3_column_type(st, i);
	size_t n = 0;

	if (type == SQLITE_BLOB) {
		/* blob before bytes, as SQLite asks. */
		const void *frame = sqlite3_column_blob(st, i);

		if (ac_compress_decode(frame,
				       (size_t)sqlite3_column_bytes(st, i),
				       out, &n, err) < 0)
			return -1;
	} else {
		*out = column_dup(st, i, &n);
		if (!*out && type != SQLITE_NULL)
			return ac_error_set(err, AC_EXIT_FAILED,
					    "out of memory");
	}
	if (len)
		*len = n;
	return 0;
}

/* Column i of a stored value for display: its text, or a BLOB frame's
 * text in *owned (the caller frees it; see ac_value_shown).  NULL with
 * *oom set when there was no memory for it. */
static const char *value_shown(sqlite3_stmt *st, int i, char **owned,
			       int *oom)
{
	const void *frame;

	if (sqlite3_column_type(st, i) != SQLITE_BLOB)
		return (const char *)sqlite3_column_text(st, i);
	frame = sqlite3_column_blob(st, i);
	if (ac_value_shown(frame, (size_t)sqlite3_column_bytes(st, i),
			   owned) < 0) {
		*oom = 1;
		return NULL;
	}
	return *owned;
}

static int end_attempt(struct sqlite_store *s, int64_t id, int attempt,
		       const char *outcome, const char *error, int64_t now,
		       struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_ATTEMPT_END, err);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, attempt);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_text(st, 4, outcome, -1, SQLITE_STATIC);
	bind_text_or_null(st, 5, error);
	return exec_stmt(s, st, err, "recording an attempt");
}

/* Run a reclaiming statement (sweep or requeue-own) and close the lost
 * attempts it returns. */
static int reclaim_rows(struct sqlite_store *s, sqlite3_stmt *st, int64_t now,
			size_t *count, struct ac_error *err)
{
	struct lost { int64_t id; int attempt; char *error; } *lost = NULL;
	size_t n = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			struct lost *grown;

			cap = cap ? cap * 2 : 16;
			grown = realloc(lost, cap * sizeof *lost);
			if (!grown) {
				rc = SQLITE_NOMEM;
				break;
			}
			lost = grown;
		}
		lost[n].id = sqlite3_column_int64(st, 0);
		lost[n].attempt = sqlite3_column_int(st, 1);
		lost[n].error = column_dup(st, 3, NULL);
		n++;
	}
	done(st);
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < n; i++)
			free(lost[i].error);
		free(lost);
		return rc == SQLITE_NOMEM ?
			ac_error_set(err, AC_EXIT_FAILED, "out of memory") :
			db_error(s, err, "reclaiming tasks");
	}
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (!rc && end_attempt(s, lost[i].id, lost[i].attempt, "lost",
				       lost[i].error, now, err) < 0)
			rc = -1;
		free(lost[i].error);
	}
	free(lost);
	if (count)
		*count = n;
	return rc;
}

/* ac_tags_ok(required, offered): 1 when every tag of the JSON array
 * `required` is in the JSON array `offered`. */
static void sql_tags_ok(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *req_text = (const char *)sqlite3_value_text(argv[0]);
	const char *offer_text = (const char *)sqlite3_value_text(argv[1]);
	json_t *req, *offer;
	int ok = 1;
	size_t i, j;

	(void)argc;
	if (!req_text) {
		sqlite3_result_int(ctx, 1);
		return;
	}
	req = json_loads(req_text, 0, NULL);
	offer = offer_text ? json_loads(offer_text, 0, NULL) : NULL;
	if (!json_is_array(req)) {
		ok = 0;
		goto out;
	}
	for (i = 0; ok && i < json_array_size(req); i++) {
		const char *want = json_string_value(json_array_get(req, i));
		int found = 0;

		for (j = 0; want && j < json_array_size(offer); j++) {
			const char *have =
				json_string_value(json_array_get(offer, j));
			if (have && !strcmp(want, have)) {
				found = 1;
				break;
			}
		}
		ok = found;
	}
out:
	json_decref(req);
	json_decref(offer);
	sqlite3_result_int(ctx, ok);
}

/* The schema, version by version (PRAGMA user_version). */
static const struct {
	int version;
	const char *sql;
} migrations[] = {
	{ 1, schema_v1 },
	{ 2, schema_v2 },
	{ 4, schema_v4 },
	{ 5, schema_v5 },
	{ 6, schema_v6 },
	{ 7, schema_v7 },
};

static int migrate(struct sqlite_store *s, struct ac_error *err)
{
	sqlite3_stmt *st;
	int version = 0;
	char *msg = NULL;

	if (tx_begin(s, err) < 0)
		return -1;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st,
			       NULL) != SQLITE_OK) {
		db_error(s, err, "reading the schema version");
		goto fail;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > SCHEMA_VERSION) {
		ac_error_set(err, AC_EXIT_UNAVAILABLE,
			     "store '%s' has schema version %d, newer than this ac knows (%d): upgrade ac",
			     s->path, version, SCHEMA_VERSION);
		goto fail;
	}
	/* One step at a time, in this same transaction.  Version 3 has
	 * no step: data, result and checkpoint may hold lz4 frames, as BLOBs
	 * (bind_value), which a TEXT column keeps as they are; the version
	 * is raised all the same, so that an older ac, which would read a
	 * frame as text and hand its bytes to a handler, refuses the store
	 * instead. */
	for (size_t i = 0; i < sizeof migrations / sizeof *migrations; i++) {
		if (version >= migrations[i].version)
			continue;
		if (sqlite3_exec(s->db, migrations[i].sql, NULL, NULL, &msg) !=
		    SQLITE_OK) {
			ac_error_set(err, AC_EXIT_UNAVAILABLE,
				     "store '%s': %s schema version %d: %s",
				     s->path, version < 1 ? "creating" :
				     "migrating to", migrations[i].version,
				     msg ? msg : "unknown error");
			sqlite3_free(msg);
			goto fail;
		}
	}
	/* PRAGMA takes no bound values; the number is ours, not input. */
	if (version != SCHEMA_VERSION) {
		char sql[40];

		snprintf(sql, sizeof sql, "PRAGMA user_version = %d",
			 SCHEMA_VERSION);
		if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			db_error(s, err, "writing the schema version");
			goto fail;
		}
	}
	return tx_commit(s, err);
fail:
	tx_rollback(s);
	return -1;
}

/* After a reboot the lease clock starts again from zero: every lease and
 * heartbeat recorded before it is over. */
static int check_boot(struct sqlite_store *s, struct ac_error *err)
{
	char boot_id[64] = "";
	sqlite3_stmt *st;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	int same = 0;

	if (!f)
		return 0;
	if (!fgets(boot_id, sizeof boot_id, f))
		boot_id[0] = '\0';
	fclose(f);
	boot_id[strcspn(boot_id, "\n")] = '\0';
	if (!boot_id[0])
		return 0;
	if (sqlite3_prepare_v2(s->db, "SELECT value = ?1 FROM meta WHERE key = 'boot_id'",
			       -1, &st, NULL) != SQLITE_OK)
		return db_error(s, err, "reading the boot id");
	sqlite3_bind_text(st, 1, boot_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		same = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (same || sqlite3_db_readonly(s->db, "main") == 1)
		return 0;
	if (tx_begin(s, err) < 0)
		return -1;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta (key, value) VALUES ('boot_id', ?1)",
			       -1, &st, NULL) != SQLITE_OK) {
		db_error(s, err, "writing the boot id");
		goto fail;
	}
	sqlite3_bind_text(st, 1, boot_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		db_error(s, err, "writing the boot id");
		goto fail;
	}
	sqlite3_finalize(st);
	if (sqlite3_exec(s->db,
			 "UPDATE tasks SET lease_until = 0 WHERE status = 'running';"
			 "UPDATE workers SET heartbeat_mono = -1000000000000;"
			 /* Holds and buckets ran on that clock too. */
			 "UPDATE queues SET hold_until = NULL, tokens_at = 0;"
			 "UPDATE queue_keys SET hold_until = NULL, tokens_at = 0;",
			 NULL, NULL, NULL) != SQLITE_OK) {
		db_error(s, err, "ending leases of a previous boot");
		goto fail;
	}
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	return -1;
}

/* WAL mode is a property of the file: set once, by whoever creates the
 * store.  Asking for it again takes a lock that a busy store may not
 * grant at once (and that request does not wait on the busy timeout), so
 * it is only asked for when missing, and retried while the store is busy. */
static int use_wal(struct sqlite_store *s, struct ac_error *err)
{
	for (int i = 0; i < 200; i++) {
		sqlite3_stmt *st;
		const char *mode;
		int rc, wal;

		if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st,
				       NULL) != SQLITE_OK)
			return db_error(s, err, "reading the journal mode");
		rc = sqlite3_step(st);
		mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
		wal = mode && !strcmp(mode, "wal");
		sqlite3_finalize(st);
		if (wal)
			return 0;
		if (rc == SQLITE_ROW) {
			rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL,
					  NULL, NULL);
			if (rc == SQLITE_OK)
				continue;  /* read it back */
		}
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			return db_error(s, err, "switching to WAL");
		{
			struct timespec ts = { 0, 50 * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	return ac_error_set(err, AC_EXIT_TEMPFAIL,
			    "store '%s' stayed locked while opening it", s->path);
}

static void sqlite_close(struct ac_store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;

	if (!s)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

/* Waiting for the write lock.  SQLite's own busy timeout sleeps 1, 2, 5,
 * 10 ... ms between tries, while a writer here holds the lock for well
 * under a millisecond (a worker's cycle, a submit): short sleeps, growing
 * to 2 ms, keep writers from idling while the lock is free.  The total
 * wait is bounded by BUSY_TIMEOUT_MS, measured on the monotonic clock. */
static int busy_wait(void *arg, int count)
{
	struct sqlite_store *s = arg;
	int64_t now = ac_mono_ms();
	long us;

	if (count == 0)
		s->busy_since = now;
	if (now - s->busy_since >= BUSY_TIMEOUT_MS)
		return 0;
	us = count < 6 ? 50L << count : 2000;
	{
		struct timespec ts = { 0, us * 1000 };

		nanosleep(&ts, NULL);
	}
	return 1;
}

/* Open path as a store connection: WAL, pragmas, functions, schema. */
static int open_connection(const char *path, int flags, int writer,
			   struct sqlite_store **out, struct ac_error *err)
{
	struct sqlite_store *s = calloc(1, sizeof *s);
	char *msg = NULL;

	if (!s)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	s->base.ops = &ac_store_sqlite_ops;
	s->data_version = -1;
	s->path = ac_strdup(path);
	if (!s->path) {
		free(s);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		if (!s->db)
			ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		else
			ac_error_set(err, AC_EXIT_UNAVAILABLE,
				     "cannot open store '%s': %s", path,
				     sqlite3_errmsg(s->db));
		sqlite_close(&s->base);
		return -1;
	}
	sqlite3_extended_result_codes(s->db, 0);
	if (sqlite3_busy_handler(s->db, busy_wait, s) != SQLITE_OK) {
		db_error(s, err, "setting the busy handler");
		goto fail;
	}
	if (writer && sqlite3_db_readonly(s->db, "main") == 1) {
		ac_error_set(err, AC_EXIT_UNAVAILABLE,
			     "store '%s' is not writable", path);
		goto fail;
	}
	/* WAL lets readers run beside the one writer; synchronous=NORMAL is
	 * durable across a process crash (the promise of ac), and the WAL is
	 * kept bounded by journal_size_limit plus the auto-checkpoint.  The
	 * page cache is 1 MiB, not SQLite's 2: in WAL mode every commit of
	 * another process empties it anyway, the claim's working set is a
	 * few dozen pages, and each worker would pay the difference in
	 * resident memory (claim and submit times at a million tasks did
	 * not change). */
	if (use_wal(s, err) < 0)
		goto fail;
	if (sqlite3_exec(s->db,
			 "PRAGMA synchronous = NORMAL;"
			 "PRAGMA journal_size_limit = 67108864;"
			 "PRAGMA cache_size = -1024;"
			 "PRAGMA foreign_keys = OFF;"
			 /* schema_v6: a cancel travels down a task graph. */
			 "PRAGMA recursive_triggers = ON;",
			 NULL, NULL, &msg) != SQLITE_OK) {
		ac_error_set(err, AC_EXIT_UNAVAILABLE,
			     "cannot use store '%s': %s", path,
			     msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		goto fail;
	}
	if (sqlite3_create_function(s->db, "ac_tags_ok", 2,
				    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				    sql_tags_ok, NULL, NULL) != SQLITE_OK) {
		db_error(s, err, "registering functions");
		goto fail;
	}
	if (migrate(s, err) < 0 || check_boot(s, err) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	sqlite_close(&s->base);
	return -1;
}

/* A new store is made whole under a temporary name and then linked into
 * place, so that no other process ever opens a file that is still being
 * set up (two processes turning a fresh, empty file to WAL at once can
 * lose what one of them writes).  If another process wins the race, its
 * store is used. */
static int create_store(const char *path, struct ac_error *err)
{
	struct ac_buf tmp = { 0 };
	struct sqlite_store *s;
	int rc = -1;

	if (ac_buf_printf(&tmp, "%s.new.%ld", path, (long)getpid()) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	unlink(tmp.data);
	if (open_connection(tmp.data, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, 1, &s,
			    err) < 0)
		goto out;
	/* Closing the only connection checkpoints the WAL into the file. */
	sqlite_close(&s->base);
	if (link(tmp.data, path) < 0 && errno != EEXIST) {
		ac_error_set(err, AC_EXIT_UNAVAILABLE,
			     "cannot create store '%s': %s", path,
			     strerror(errno));
		goto out;
	}
	rc = 0;
out:
	unlink(tmp.data);
	{
		struct ac_buf side = { 0 };

		if (ac_buf_printf(&side, "%s-wal", tmp.data) == 0)
			unlink(side.data);
		ac_buf_reset(&side);
		if (ac_buf_printf(&side, "%s-shm", tmp.data) == 0)
			unlink(side.data);
		ac_buf_release(&side);
	}
	ac_buf_release(&tmp);
	return rc;
}

static int sqlite_open(const char *url, int create, struct ac_store **out,
		       struct ac_error *err)
{
	const char *path = url;
	struct sqlite_store *s;
	struct stat sb;

	if (!strncmp(path, "sqlite:", 7))
		path += 7;
	if (!strncmp(path, "//", 2))
		path += 2;
	if (!*path)
		return ac_error_set(err, AC_EXIT_USAGE, "store URL '%s' names no file", url);
	if (stat(path, &sb) < 0) {
		if (errno != ENOENT || !create)
			return ac_error_set(err, AC_EXIT_UNAVAILABLE,
					    "store '%s' is not there: %s", path,
					    strerror(errno));
		if (create_store(path, err) < 0)
			return -1;
	} else if (!S_ISREG(sb.st_mode)) {
		return ac_error_set(err, AC_EXIT_UNAVAILABLE,
				    "store '%s' is not a regular file", path);
	}
	if (open_connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    create, &s, err) < 0)
		return -1;
	*out = &s->base;
	return 0;
}

/* The tasks a submit inserted (not those an idempotency key found),
 * counted by kind: one row per type, priority and status, which for a
 * batch is one row however many tasks it holds (see schema_v4). */
static int count_submitted(struct sqlite_store *s,
			   const struct ac_task_spec *specs, size_t n,
			   const struct ac_submitted *out, struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_COUNT_ADD, err);
	struct ac_task_kind *kinds;
	size_t nkinds;
	int rc = 0;

	if (!st)
		return -1;
	if (ac_task_kinds(specs, n, out, &kinds, &nkinds) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	for (size_t i = 0; i < nkinds && rc == 0; i++) {
		sqlite3_bind_text(st, 1, kinds[i].type, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, kinds[i].priority);
		sqlite3_bind_text(st, 3, ac_task_status_name(kinds[i].status),
				  -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)kinds[i].n);
		rc = exec_stmt(s, st, err, "counting tasks");
	}
	free(kinds);
	return rc;
}

static const char *col_text(sqlite3_stmt *st, int i);

static int link_task(struct ac_store *base, int64_t id,
		     enum ac_task_status *status, int *depth,
		     struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_LINK, err);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *name = col_text(st, 0);

		*depth = sqlite3_column_int(st, 1);
		if (!name || ac_task_status_parse(name, status) < 0)
			*status = AC_TASK_QUEUED;
		rc = sqlite3_step(st);
		done(st);
		return rc == SQLITE_DONE ? 0 : db_error(s, err, "linking tasks");
	}
	done(st);
	return rc == SQLITE_DONE ? 1 : db_error(s, err, "linking tasks");
}


/* A new task that waits for others: its edges, and pending (or
 * cancelled at once, when an all-ok parent already failed).  The counts
 * follow by trigger. */
static int graph_wait(struct sqlite_store *s, int64_t id,
		      const struct ac_task_spec *t,
		      const struct ac_graph_place *g, int64_t now,
		      struct ac_error *err)
{
	sqlite3_stmt *add = stmt(s, ST_AFTER_ADD, err);
	sqlite3_stmt *set = stmt(s, ST_GRAPH_SET, err);
	struct ac_buf why = { 0 };
	int rc;

	if (!add || !set)
		return -1;
	for (size_t i = 0; i < g->nafter; i++) {
		sqlite3_bind_int64(add, 1, g->after[i]);
		sqlite3_bind_int64(add, 2, id);
		sqlite3_bind_int(add, 3, g->after_done[i]);
		if (exec_stmt(s, add, err, "linking tasks") < 0)
			return -1;
	}
	sqlite3_bind_int64(set, 1, id);
	sqlite3_bind_text(set, 2, t->after_policy == AC_AFTER_ALL_DONE ?
			  "all-done" : "all-ok", -1, SQLITE_STATIC);
	sqlite3_bind_int(set, 3, g->doomed_by ? 0 : g->waiting);
	if (g->doomed_by) {
		if (ac_buf_printf(&why, "task %lld it waited for ended %s",
				  (long long)g->doomed_by,
				  g->doomed_status) < 0)
			return ac_error_set(err, AC_EXIT_FAILED,
					    "out of memory");
		sqlite3_bind_text(set, 4, "cancelled", -1, SQLITE_STATIC);
		sqlite3_bind_text(set, 5, why.data, -1, SQLITE_TRANSIENT);
	} else if (g->waiting) {
		sqlite3_bind_text(set, 4, "pending", -1, SQLITE_STATIC);
	}
	sqlite3_bind_int64(set, 6, now);
	rc = exec_stmt(s, set, err, "linking tasks");
	ac_buf_release(&why);
	return rc;
}

/* Insert n tasks inside the caller's transaction; batch: the batch they
 * belong to (0 = none), then: whether it has a continuation (each task
 * then has a dependent). */
/* Make, change or charge the budget `name` (ac_budget_next has the
 * rules), then hold or release its tasks as it now stands.  0, 1 when
 * there is no such budget and it is not to be made (create = 0, or no
 * limits), -1 on error. */
static int budget_apply(struct sqlite_store *s, const char *name,
			const char *limits, int reset, const char *add,
			int create, int *spent_out, struct ac_error *err)
{
	sqlite3_stmt *get = stmt(s, ST_BUDGET_GET, err), *put, *tasks;
	char *old_limits = NULL, *old_usage = NULL, *new_limits, *new_usage;
	int exists, old_spent = 0, spent, rc, oom = 0;
	int change = limits || reset || add;
	int64_t now = ac_now_ms();

	if (!get)
		return -1;
	sqlite3_bind_text(get, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(get);
	exists = rc == SQLITE_ROW;
	if (exists) {
		old_limits = column_dup(get, 0, NULL);
		old_usage = column_dup(get, 1, NULL);
		old_spent = sqlite3_column_int(get, 2) != 0;
		oom = !old_limits || (!old_usage &&
				      sqlite3_column_type(get, 1) != SQLITE_NULL);
	}
	done(get);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, err, "reading a budget");
	/* A look that changes nothing (a submit charging the budget) writes
	 * nothing. */
	if (exists && !change) {
		free(old_limits);
		free(old_usage);
		if (spent_out)
			*spent_out = old_spent;
		return 0;
	}
	if (oom)
		rc = ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	else if (!exists && (!create || !limits))
		rc = 1;
	else if (ac_budget_next(old_limits, old_usage, limits, reset, add,
				&new_limits, &new_usage, &spent) < 0)
		rc = ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	else
		rc = 0;
	free(old_limits);
	free(old_usage);
	if (rc != 0)
		return rc;
	put = stmt(s, exists ? ST_BUDGET_UPDATE : ST_BUDGET_INSERT, err);
	if (put) {
		sqlite3_bind_text(put, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(put, 2, new_limits, -1, SQLITE_STATIC);
		bind_text_or_null(put, 3, new_usage);
		sqlite3_bind_int(put, 4, spent);
		sqlite3_bind_int64(put, 5, now);
		rc = exec_stmt(s, put, err, "writing a budget");
	} else {
		rc = -1;
	}
	free(new_limits);
	free(new_usage);
	if (rc == 0 && spent_out)
		*spent_out = spent;
	if (rc < 0 || spent == old_spent)
		return rc;
	if (!(tasks = stmt(s, spent ? ST_BUDGET_HOLD : ST_BUDGET_RELEASE, err)))
		return -1;
	sqlite3_bind_text(tasks, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(tasks, 2, spent ? AC_HELD_RUN_AT : now);
	return exec_stmt(s, tasks, err, spent ? "holding a budget's tasks" :
			 "releasing a budget's tasks");
}

/* ac_budget_for_task's step. */
static int budget_check_step(struct ac_store *base, const char *name,
			     const char *limits, int create, int *spent,
			     struct ac_error *err)
{
	return budget_apply((struct sqlite_store *)base, name, limits, 0, NULL, create,
			    spent, err);
}

/* A task just inserted whose budget is spent is held at once. */
static int hold_one(struct sqlite_store *s, int64_t id, struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_BUDGET_HOLD_ONE, err);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, AC_HELD_RUN_AT);
	return exec_stmt(s, st, err, "holding a task of a spent budget");
}

/* A task's budget of its own (limits without a name): "task-ID". */
static int budget_own(struct sqlite_store *s, const char *what, int64_t id,
		      const char *limits, int64_t task, char **name_out,
		      struct ac_error *err)
{
	char *name = ac_budget_own_name(what, id);
	sqlite3_stmt *st;
	int rc;

	if (!name)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	rc = budget_apply(s, name, limits, 0, NULL, 1, NULL, err);
	if (rc == 0 && task > 0) {
		if (!(st = stmt(s, ST_TASK_BUDGET, err))) {
			rc = -1;
		} else {
			sqlite3_bind_int64(st, 1, task);
			sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
			rc = exec_stmt(s, st, err, "charging a task to its budget");
		}
	}
	if (rc == 0 && name_out)
		*name_out = name;
	else
		free(name);
	return rc;
}

static int insert_tasks(struct sqlite_store *s, const struct ac_task_spec *specs,
			size_t n, struct ac_submitted *out, int64_t batch,
			int then, struct ac_error *err)
{
	struct ac_budget_check budget = { NULL, 0 };

	sqlite3_stmt *ins = stmt(s, ST_INSERT_TASK, err);
	sqlite3_stmt *find = stmt(s, ST_FIND_IDEM, err);
	int64_t now = ac_now_ms();

	if (!ins || !find)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct ac_task_spec *t = &specs[i];
		struct ac_graph_place g = { 0 };

		out[i].existed = 0;
		if (t->idempotency_key) {
			int rc;

			sqlite3_bind_text(find, 1, t->idempotency_key, -1,
					  SQLITE_STATIC);
			rc = sqlite3_step(find);
			if (rc == SQLITE_ROW) {
				out[i].id = sqlite3_column_int64(find, 0);
				out[i].existed = 1;
				done(find);
				continue;
			}
			done(find);
			if (rc != SQLITE_DONE)
				return db_error(s, err,
						"looking up an idempotency key");
		}
		if (ac_budget_for_task(budget_check_step, &s->base, t,
				       &budget, err) < 0)
			return -1;
		if ((t->parent > 0 || t->nafter) &&
		    ac_graph_place(link_task, &s->base, t, &g, err) < 0) {
			ac_graph_place_release(&g);
			return -1;
		}
		sqlite3_bind_text(ins, 1, t->type, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, t->delay_ms > 0 ? "pending" : "queued",
				  -1, SQLITE_STATIC);
		sqlite3_bind_int(ins, 3, t->priority);
		if (bind_value(s, ins, 4, t->data, t->data_len, err) < 0) {
			done(ins);
			ac_graph_place_release(&g);
			return -1;
		}
		sqlite3_bind_int(ins, 5, t->max_retries);
		sqlite3_bind_int64(ins, 6, t->timeout_ms);
		bind_text_or_null(ins, 7, t->route_key);
		bind_text_or_null(ins, 8, t->tags);
		bind_text_or_null(ins, 9, t->meta);
		bind_text_or_null(ins, 10, t->idempotency_key);
		sqlite3_bind_int64(ins, 11, now + t->delay_ms);
		sqlite3_bind_int64(ins, 12, now);
		sqlite3_bind_int(ins, 13, t->max_reclaims);
		bind_text_or_null(ins, 14, t->assigned);
		if (t->expires_ms > 0)
			sqlite3_bind_int64(ins, 15, now + t->expires_ms);
		else
			sqlite3_bind_null(ins, 15);
		if (g.parent > 0)
			sqlite3_bind_int64(ins, 16, g.parent);
		else
			sqlite3_bind_null(ins, 16);
		if (batch > 0)
			sqlite3_bind_int64(ins, 17, batch);
		else
			sqlite3_bind_null(ins, 17);
		sqlite3_bind_int(ins, 18, g.depth);
		sqlite3_bind_int(ins, 19, then ? 1 : 0);
		bind_text_or_null(ins, 20, t->traceparent);
		bind_text_or_null(ins, 21, t->budget);
		if (exec_stmt(s, ins, err, "adding a task") < 0) {
			ac_graph_place_release(&g);
			return -1;
		}
		out[i].id = sqlite3_last_insert_rowid(s->db);
		if (t->budget && budget.spent &&
		    hold_one(s, out[i].id, err) < 0) {
			ac_graph_place_release(&g);
			return -1;
		}
		if (t->budget_limits && !t->budget &&
		    budget_own(s, "task", out[i].id, t->budget_limits,
			       out[i].id, NULL, err) < 0) {
			ac_graph_place_release(&g);
			return -1;
		}
		if (t->nafter && graph_wait(s, out[i].id, t, &g, now, err) < 0) {
			ac_graph_place_release(&g);
			return -1;
		}
		ac_graph_place_release(&g);
	}
	return count_submitted(s, specs, n, out, err);
}

static int sqlite_submit(struct ac_store *base, const struct ac_task_spec *specs,
			 size_t n, struct ac_submitted *out,
			 struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;

	if (tx_begin(s, err) < 0)
		return -1;
	if (insert_tasks(s, specs, n, out, 0, 0, err) < 0 ||
	    tx_commit(s, err) < 0) {
		tx_rollback(s);
		return -1;
	}
	return 0;
}

static int batch_start(struct sqlite_store *s, int64_t *id,
		       struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_BATCH_NEW, err);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, ac_now_ms());
	if (exec_stmt(s, st, err, "recording a batch") < 0)
		return -1;
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

/* The batch's size, and its continuation: waiting for every task of the
 * batch, its data made when the last one ends (or now, when none is
 * left to wait for). */
static int batch_finish(struct sqlite_store *s, struct ac_batch_spec *batch,
			int64_t id, int64_t total, int64_t first, int64_t last,
			struct ac_error *err)
{
	sqlite3_stmt *st;
	struct ac_submitted then = { 0 };
	struct ac_task_spec spec;

	batch->id = id;
	batch->then_id = 0;
	if (batch->then) {
		spec = *batch->then;
		spec.idempotency_key = NULL;
		spec.nafter = 0;
		if (insert_tasks(s, &spec, 1, &then, 0, 0, err) < 0)
			return -1;
		if (!(st = stmt(s, ST_THEN_EDGES, err)))
			return -1;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, then.id);
		sqlite3_bind_int64(st, 3, first);
		sqlite3_bind_int64(st, 4, last);
		if (exec_stmt(s, st, err, "linking a continuation") < 0)
			return -1;
		if (!(st = stmt(s, ST_THEN_SET, err)))
			return -1;
		sqlite3_bind_int64(st, 1, then.id);
		sqlite3_bind_int64(st, 2, id);
		if (exec_stmt(s, st, err, "linking a continuation") < 0)
			return -1;
		batch->then_id = then.id;
	}
	if (!(st = stmt(s, ST_BATCH_DONE, err)))
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, total);
	if (then.id)
		sqlite3_bind_int64(st, 3, then.id);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, first);
	sqlite3_bind_int64(st, 5, last);
	return exec_stmt(s, st, err, "recording a batch");
}

/* A submit_many takes this many specs at a time. */
#define SUBMIT_CHUNK 1024

static int sqlite_submit_many(struct ac_store *base,
			      size_t (*next)(void *, struct ac_task_spec *,
					     size_t),
			      void (*stored)(void *, const struct ac_submitted *,
					     size_t),
			      void *ctx, struct ac_batch_spec *batch,
			      struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	struct ac_task_spec *specs = calloc(SUBMIT_CHUNK, sizeof *specs);
	struct ac_submitted *out = calloc(SUBMIT_CHUNK, sizeof *out);
	int64_t batch_id = 0, total = 0, first = 0, last = 0;
	char *budget = NULL;
	size_t n;
	int rc = -1;

	if (!specs || !out) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto done;
	}
	if (tx_begin(s, err) < 0)
		goto done;
	if (batch && batch_start(s, &batch_id, err) < 0)
		goto fail;
	if (batch && batch->budget_limits &&
	    budget_own(s, "batch", batch_id, batch->budget_limits, 0, &budget,
		       err) < 0)
		goto fail;
	while ((n = next(ctx, specs, SUBMIT_CHUNK)) > 0) {
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
	if (tx_commit(s, err) < 0)
		goto fail;
	rc = 0;
	goto done;
fail:
	tx_rollback(s);
done:
	free(budget);
	free(specs);
	free(out);
	return rc;
}


static int read_status(struct sqlite_store *s, int64_t id,
		       enum ac_task_status *status, struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_TASK_STATUS, err);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		if (!name || ac_task_status_parse(name, status) < 0) {
			done(st);
			return ac_error_set(err, AC_EXIT_UNAVAILABLE,
					    "task %lld has an unknown status",
					    (long long)id);
		}
		done(st);
		return 0;
	}
	done(st);
	if (rc == SQLITE_DONE)
		return ac_error_set(err, AC_EXIT_USAGE, "no task %lld",
				    (long long)id);
	return db_error(s, err, "reading a task");
}

static int sqlite_retry(struct ac_store *base, int64_t id, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_RETRY, err);
	enum ac_task_status status;

	if (!st || tx_begin(s, err) < 0)
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
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, ac_now_ms());
	if (exec_stmt(s, st, err, "requeueing a task") < 0)
		goto fail;
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	return -1;
}

static int sqlite_task_states(struct ac_store *base, const int64_t *ids,
			      size_t n, enum ac_task_status *out,
			      struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;

	for (size_t i = 0; i < n; i++)
		if (read_status(s, ids[i], &out[i], err) < 0)
			return -1;
	return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int sqlite_task_ends(struct ac_store *base, const int64_t *ids,
			    size_t n, struct ac_task_end *out,
			    struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_TASK_END, err);
	size_t i;

	if (!st)
		return -1;
	memset(out, 0, n * sizeof *out);
	for (i = 0; i < n; i++) {
		const char *status;
		int rc;

		out[i].id = ids[i];
		sqlite3_bind_int64(st, 1, ids[i]);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			done(st);
			if (rc == SQLITE_DONE)
				ac_error_set(err, AC_EXIT_USAGE, "no task %lld",
					     (long long)ids[i]);
			else
				db_error(s, err, "reading a task");
			goto fail;
		}
		status = col_text(st, 0);
		if (!status || ac_task_status_parse(status, &out[i].status) < 0) {
			done(st);
			ac_error_set(err, AC_EXIT_UNAVAILABLE,
				     "task %lld has an unknown status",
				     (long long)ids[i]);
			goto fail;
		}
		if (ac_task_status_final(out[i].status)) {
			if (column_value(st, 1, &out[i].result, NULL, err) < 0) {
				done(st);
				goto fail;
			}
			out[i].error = column_dup(st, 2, NULL);
			if (!out[i].error && sqlite3_column_type(st, 2) != SQLITE_NULL) {
				done(st);
				ac_error_set(err, AC_EXIT_FAILED, "out of memory");
				goto fail;
			}
		}
		done(st);
	}
	return 0;
fail:
	ac_task_ends_release(out, i + 1 < n ? i + 1 : n);
	return -1;
}

static int64_t col_time(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 :
		sqlite3_column_int64(st, i);
}

static json_t *task_json_from_row(sqlite3_stmt *st, json_t *attempts)
{
	char *shown[3] = { NULL, NULL, NULL };  /* decoded frames */
	int oom = 0;
	json_t *j;
	struct ac_task_row row = {
		.id = sqlite3_column_int64(st, 0),
		.type = col_text(st, 1),
		.status = col_text(st, 2),
		.priority = sqlite3_column_int(st, 3),
		.attempt = sqlite3_column_int(st, 4),
		.max_retries = sqlite3_column_int(st, 5),
		.failures = sqlite3_column_int(st, 6),
		.timeout_ms = sqlite3_column_int64(st, 7),
		.worker = col_text(st, 8),
		.route_key = col_text(st, 9),
		.tags = col_text(st, 10),
		.meta = col_text(st, 11),
		.data = value_shown(st, 12, &shown[0], &oom),
		.result = value_shown(st, 13, &shown[1], &oom),
		.error = col_text(st, 14),
		.checkpoint = value_shown(st, 15, &shown[2], &oom),
		.progress = sqlite3_column_type(st, 16) == SQLITE_NULL ? -1.0 :
			sqlite3_column_double(st, 16),
		.idempotency_key = col_text(st, 17),
		.created = col_time(st, 18),
		.run_at = col_time(st, 19),
		.started = col_time(st, 20),
		.finished = col_time(st, 21),
		.lease_until = col_time(st, 22),
		.usage = col_text(st, 23),
		.log = col_text(st, 24),
		.reclaims = sqlite3_column_int(st, 25),
		.max_reclaims = sqlite3_column_int(st, 26),
		.cancel_requested = sqlite3_column_int(st, 27),
		.assigned = col_text(st, 28),
		.parent = col_time(st, 29),
		.batch = col_time(st, 30),
		.after_policy = col_text(st, 31),
		.waiting = sqlite3_column_int(st, 32),
		.awaiting = sqlite3_column_int(st, 33),
		.traceparent = col_text(st, 34),
		.budget = col_text(st, 35),
		.held = sqlite3_column_int(st, 36),
		.attempts = attempts,
	};

	/* Leases run on the lease clock; show them on the wall clock. */
	if (row.lease_until)
		row.lease_until = ac_now_ms() + (row.lease_until - lease_now());
	j = oom ? NULL : ac_task_row_json(&row);
	if (!j)
		json_decref(attempts);
	for (int i = 0; i < 3; i++)
		free(shown[i]);
	return j;
}

/* Step st (bound by the caller) to its end, turning each row into a JSON
 * value with row_json, into a new array *out.  The statement is reset,
 * or finalized when owned is set. */
typedef json_t *row_json_fn(sqlite3_stmt *st, void *arg);

static int collect_rows(struct sqlite_store *s, sqlite3_stmt *st, int owned,
			row_json_fn *row_json, void *arg, const char *what,
			json_t **out, struct ac_error *err)
{
	json_t *arr = json_array();
	int rc = SQLITE_NOMEM;

	while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *v = row_json(st, arg);

		if (!v || json_array_append_new(arr, v) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	if (owned)
		sqlite3_finalize(st);
	else
		done(st);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return rc == SQLITE_NOMEM ?
			ac_error_set(err, AC_EXIT_FAILED, "out of memory") :
			db_error(s, err, what);
	}
	*out = arr;
	return 0;
}

static json_t *attempt_json(sqlite3_stmt *st, void *arg)
{
	char started[40], finished[40];

	(void)arg;
	return json_pack("{s:i,s:s,s:s,s:s?,s:s?,s:s?}",
		"attempt", sqlite3_column_int(st, 0),
		"worker", col_text(st, 1),
		"started", ac_format_time(sqlite3_column_int64(st, 2),
					  started, sizeof started),
		"finished", sqlite3_column_type(st, 3) == SQLITE_NULL ?
			NULL : ac_format_time(sqlite3_column_int64(st, 3),
					      finished, sizeof finished),
		"outcome", col_text(st, 4),
		"error", col_text(st, 5));
}

static int read_attempts(struct sqlite_store *s, int64_t id, json_t **out,
			 struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_ATTEMPTS, err);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return collect_rows(s, st, 0, attempt_json, NULL, "reading attempts",
			    out, err);
}

static json_t *task_row_json(sqlite3_stmt *st, void *arg)
{
	(void)arg;
	return task_json_from_row(st, NULL);
}

static int sqlite_task_get(struct ac_store *base, int64_t id, json_t **out,
			   struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_TASK_GET, err);
	json_t *attempts = NULL;
	int rc;

	if (!st)
		return -1;
	if (read_attempts(s, id, &attempts, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = task_json_from_row(st, attempts);
		done(st);
		return *out ? 0 : ac_error_set(err, AC_EXIT_FAILED,
					       "out of memory");
	}
	done(st);
	json_decref(attempts);
	if (rc == SQLITE_DONE)
		return ac_error_set(err, AC_EXIT_USAGE, "no task %lld",
				    (long long)id);
	return db_error(s, err, "reading a task");
}

static int sqlite_tasks_list(struct ac_store *base,
			     const struct ac_task_filter *filter, json_t **out,
			     struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	/* Four fixed statements, so that each can use its index; values are
	 * always bound, never pasted into the SQL. */
	static const char *const sql[4] = {
		"SELECT " TASK_COLS " FROM tasks ORDER BY id DESC LIMIT ?3",
		"SELECT " TASK_COLS " FROM tasks WHERE status = ?1 "
		"ORDER BY id DESC LIMIT ?3",
		"SELECT " TASK_COLS " FROM tasks WHERE type = ?2 "
		"ORDER BY id DESC LIMIT ?3",
		"SELECT " TASK_COLS " FROM tasks WHERE status = ?1 AND "
		"type = ?2 ORDER BY id DESC LIMIT ?3",
	};
	int which = (filter->has_status ? 1 : 0) | (filter->type ? 2 : 0);
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(s->db, sql[which], -1, &st, NULL) != SQLITE_OK)
		return db_error(s, err, "listing tasks");
	if (filter->has_status)
		sqlite3_bind_text(st, 1, ac_task_status_name(filter->status),
				  -1, SQLITE_STATIC);
	if (filter->type)
		sqlite3_bind_text(st, 2, filter->type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, filter->limit);
	return collect_rows(s, st, 1, task_row_json, NULL, "listing tasks",
			    out, err);
}

static int sqlite_task_counts(struct ac_store *base, json_t **out,
			      struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_COUNTS, err);
	json_t *o;
	int rc;

	if (!st)
		return -1;
	o = json_object();
	if (!o)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	for (int i = 0; i < AC_TASK_STATUS_COUNT; i++)
		json_object_set_new(o, ac_task_status_name(i), json_integer(0));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_object_set_new(o, col_text(st, 0),
				    json_integer(sqlite3_column_int64(st, 1)));
	done(st);
	if (rc != SQLITE_DONE) {
		json_decref(o);
		return db_error(s, err, "counting tasks");
	}
	*out = o;
	return 0;
}

static int sqlite_queue_depth(struct ac_store *base, json_t **out,
			      struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_DEPTH, err);
	json_t *arr, *cur = NULL;
	int rc;

	if (!st)
		return -1;
	arr = json_array();
	if (!arr)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *type = col_text(st, 0);
		int prio = sqlite3_column_int(st, 1);

		if (!cur || strcmp(json_string_value(json_object_get(cur, "type")),
				   type) ||
		    json_integer_value(json_object_get(cur, "priority")) != prio) {
			cur = json_object();
			if (!cur)
				break;
			json_object_set_new(cur, "type", json_string(type));
			json_object_set_new(cur, "priority", json_integer(prio));
			json_object_set_new(cur, "queued", json_integer(0));
			json_object_set_new(cur, "pending", json_integer(0));
			json_object_set_new(cur, "running", json_integer(0));
			json_array_append_new(arr, cur);
		}
		json_object_set_new(cur, col_text(st, 2),
				    json_integer(sqlite3_column_int64(st, 3)));
	}
	done(st);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return db_error(s, err, "reading queue depth");
	}
	*out = arr;
	return 0;
}

static json_t *worker_json(sqlite3_stmt *st, void *arg)
{
	struct ac_worker_row row = {
		.id = col_text(st, 0),
		.status = col_text(st, 1),
		.host = col_text(st, 2),
		.pid = (long)sqlite3_column_int64(st, 3),
		.concurrency = sqlite3_column_int(st, 4),
		.running = sqlite3_column_int(st, 5),
		.completed = sqlite3_column_int64(st, 6),
		.failed = sqlite3_column_int64(st, 7),
		.tags = col_text(st, 8),
		.handlers = col_text(st, 9),
		.listen = col_text(st, 10),
		.metrics = col_text(st, 11),
		.started = sqlite3_column_int64(st, 12),
		.heartbeat = sqlite3_column_int64(st, 13),
		.lease_ms = sqlite3_column_int64(st, 14),
		.drain = sqlite3_column_int(st, 15),
		.drain_reason = col_text(st, 16),
		.stop = sqlite3_column_int(st, 17),
		.heartbeat_age_ms = sqlite3_column_int64(st, 18),
	};

	return ac_worker_row_json(&row, *(const int64_t *)arg);
}

static int sqlite_workers_list(struct ac_store *base, json_t **out,
			       struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_WORKERS, err);
	int64_t now = ac_now_ms();

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, lease_now());
	return collect_rows(s, st, 0, worker_json, &now, "listing workers",
			    out, err);
}

static int read_control(struct sqlite_store *s, const char *worker_id,
			struct ac_worker_control *ctl, struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_WORKER_CTL, err);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, worker_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		ctl->drain = sqlite3_column_int(st, 0);
		ctl->stop = sqlite3_column_int(st, 1);
	} else {
		ctl->drain = ctl->stop = 0;
	}
	done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, err, "reading the worker's state");
	return 0;
}

static int sqlite_worker_register(struct ac_store *base,
				  const struct ac_worker_record *rec,
				  struct ac_worker_control *ctl,
				  struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *find = stmt(s, ST_WORKER_FIND, err);
	sqlite3_stmt *up = stmt(s, ST_WORKER_UPSERT, err);
	sqlite3_stmt *own = stmt(s, ST_REQUEUE_OWN, err);
	int64_t now = ac_now_ms(), lnow = lease_now();
	int rc;

	if (!find || !up || !own || tx_begin(s, err) < 0)
		return -1;
	sqlite3_bind_text(find, 1, rec->id, -1, SQLITE_STATIC);
	rc = sqlite3_step(find);
	if (rc == SQLITE_ROW) {
		const char *host = col_text(find, 0);
		long pid = (long)sqlite3_column_int64(find, 1);
		const char *status = col_text(find, 2);
		int64_t hb = sqlite3_column_int64(find, 3);
		int64_t lease = sqlite3_column_int64(find, 4);
		int alive = strcmp(status, "stopped") && lnow - hb <= lease;

		/* On this host the pid tells for sure; elsewhere the heartbeat
		 * must have gone stale before the id may be taken over. */
		if (alive && !strcmp(host, rec->host))
			alive = pid != rec->pid &&
				(kill((pid_t)pid, 0) == 0 || errno == EPERM);
		if (alive) {
			ac_error_set(err, AC_EXIT_FAILED,
				     "worker id '%s' is in use by pid %ld on %s",
				     rec->id, pid, host);
			done(find);
			goto fail;
		}
	} else if (rc != SQLITE_DONE) {
		done(find);
		db_error(s, err, "looking up the worker");
		goto fail;
	}
	done(find);
	sqlite3_bind_text(up, 1, rec->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(up, 2, rec->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(up, 3, rec->pid);
	sqlite3_bind_int(up, 4, rec->concurrency);
	sqlite3_bind_text(up, 5, rec->tags, -1, SQLITE_STATIC);
	sqlite3_bind_text(up, 6, rec->handlers, -1, SQLITE_STATIC);
	bind_text_or_null(up, 7, rec->listen);
	bind_text_or_null(up, 8, rec->metrics);
	sqlite3_bind_text(up, 9, "idle", -1, SQLITE_STATIC);
	sqlite3_bind_int64(up, 10, now);
	sqlite3_bind_int64(up, 11, rec->heartbeat_ms);
	sqlite3_bind_int64(up, 12, rec->lease_ms);
	sqlite3_bind_int64(up, 13, lease_now());
	if (exec_stmt(s, up, err, "registering the worker") < 0 ||
	    read_control(s, rec->id, ctl, err) < 0)
		goto fail;
	sqlite3_bind_text(own, 1, rec->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(own, 2, now);
	if (reclaim_rows(s, own, now, NULL, err) < 0)
		goto fail;
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	return -1;
}

static int sqlite_worker_set_handlers(struct ac_store *base,
				      const char *worker_id,
				      const char *handlers,
				      struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_WORKER_HANDLERS, err);

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, worker_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, handlers, -1, SQLITE_STATIC);
	if (exec_stmt(s, st, err, "updating the worker's handlers") < 0)
		return -1;
	if (sqlite3_changes(s->db) == 0)
		return ac_error_set(err, AC_EXIT_FAILED, "unknown worker '%s'",
				    worker_id);
	return 0;
}

static int write_worker_state(struct sqlite_store *s, const char *worker_id,
			      const struct ac_worker_state *state, int64_t now,
			      struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_WORKER_STATE, err);

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, worker_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, state->status, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, state->running);
	sqlite3_bind_int64(st, 4, state->completed);
	sqlite3_bind_int64(st, 5, state->failed);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, lease_now());
	return exec_stmt(s, st, err, "updating the worker");
}

static const char *outcome_name(enum ac_outcome_kind kind)
{
	static const char *const names[] = {
		[AC_OUTCOME_COMPLETED] = "completed",
		[AC_OUTCOME_FAILED] = "failed",
		[AC_OUTCOME_TEMPFAIL] = "tempfail",
		[AC_OUTCOME_TIMEOUT] = "timeout",
		[AC_OUTCOME_CANCELLED] = "cancelled",
		[AC_OUTCOME_RELEASED] = "released",
		[AC_OUTCOME_CRASHED] = "crashed",
		[AC_OUTCOME_SNOOZED] = "snoozed",
	};
	return names[kind];
}

/* A handler hit an upstream limit (retry_after): hold its task's type, or
 * only its route key, across the cluster. */
static int hold_for_outcome(struct sqlite_store *s, const struct ac_outcome *o,
			    int64_t lnow, struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, o->hold_key ? ST_HOLD_KEY : ST_HOLD_TYPE,
				err);
	sqlite3_stmt *ensure = stmt(s, ST_QUEUE_ENSURE_TASK, err);

	if (!st || !ensure)
		return -1;
	sqlite3_bind_int64(st, 1, o->id);
	sqlite3_bind_int64(st, 2, lnow + o->hold_ms);
	bind_text_or_null(st, 3, o->error);
	if (exec_stmt(s, st, err, "holding a task type") < 0)
		return -1;
	if (!o->hold_key)
		return 0;
	/* A key hold makes its type controlled. */
	sqlite3_bind_int64(ensure, 1, o->id);
	return exec_stmt(s, ensure, err, "holding a route key");
}

/* One attempt's end, fenced: it changes the task only while this attempt
 * of this worker holds a lease that has not run out. */
static int write_outcome(struct sqlite_store *s, const char *worker_id,
			 struct ac_outcome *o, int64_t now,
			 struct ac_error *err)
{
	int64_t lnow = lease_now();
	sqlite3_stmt *st;
	int rc;

	switch (o->kind) {
	case AC_OUTCOME_COMPLETED:
		st = stmt(s, ST_DONE, err);
		break;
	case AC_OUTCOME_TEMPFAIL:
	case AC_OUTCOME_SNOOZED:
		st = stmt(s, ST_TEMPFAIL, err);
		break;
	case AC_OUTCOME_CANCELLED:
		st = stmt(s, ST_CANCEL_DONE, err);
		break;
	case AC_OUTCOME_RELEASED:
		st = stmt(s, ST_RELEASE, err);
		break;
	case AC_OUTCOME_CRASHED:
		st = stmt(s, ST_CRASHED, err);
		break;
	default:
		st = stmt(s, ST_FAIL, err);
		break;
	}
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, o->id);
	sqlite3_bind_int(st, 2, o->attempt);
	sqlite3_bind_text(st, 3, worker_id, -1, SQLITE_STATIC);
	switch (o->kind) {
	case AC_OUTCOME_COMPLETED:
		if (bind_value(s, st, 4, o->result, o->result_len, err) < 0) {
			done(st);
			return -1;
		}
		sqlite3_bind_int64(st, 5, now);
		sqlite3_bind_int64(st, 6, lnow);
		break;
	case AC_OUTCOME_TEMPFAIL:
	case AC_OUTCOME_SNOOZED:
		bind_text_or_null(st, 4, o->error);
		sqlite3_bind_int64(st, 5, now);
		sqlite3_bind_int64(st, 6, o->delay_ms > 0 ? o->delay_ms :
				   o->kind == AC_OUTCOME_SNOOZED ? 0 :
				   TEMPFAIL_DELAY_MS);
		sqlite3_bind_int64(st, 7, lnow);
		break;
	case AC_OUTCOME_CANCELLED:
		bind_text_or_null(st, 4, o->error);
		sqlite3_bind_int64(st, 5, now);
		break;
	case AC_OUTCOME_RELEASED:
		bind_text_or_null(st, 4, o->error);
		break;
	case AC_OUTCOME_CRASHED:
		bind_text_or_null(st, 4, o->error);
		sqlite3_bind_int64(st, 5, now);
		sqlite3_bind_int64(st, 6, lnow);
		break;
	default:
		bind_text_or_null(st, 4, o->error);
		sqlite3_bind_int64(st, 5, now);
		sqlite3_bind_text(st, 6, o->kind == AC_OUTCOME_TIMEOUT ?
				  "timeout" : "failed", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, BACKOFF_BASE_MS);
		/* Up to a quarter of the base, so retries of a burst spread. */
		sqlite3_bind_int64(st, 8, (int64_t)(random() % (BACKOFF_BASE_MS / 4)));
		sqlite3_bind_int64(st, 9, lnow);
		break;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *name = col_text(st, 0);

		if (name)
			ac_task_status_parse(name, &o->status);
		o->accepted = 1;
		done(st);
	} else {
		done(st);
		if (rc != SQLITE_DONE)
			return db_error(s, err, "recording a task's end");
		o->accepted = sqlite3_changes(s->db) > 0;
		switch (o->kind) {
		case AC_OUTCOME_COMPLETED:
			o->status = AC_TASK_COMPLETED;
			break;
		case AC_OUTCOME_CANCELLED:
			o->status = AC_TASK_CANCELLED;
			break;
		case AC_OUTCOME_RELEASED:
			o->status = AC_TASK_QUEUED;
			break;
		default:
			o->status = AC_TASK_PENDING;
			break;
		}
	}
	if (!o->accepted)
		return 0;
	if (o->kind == AC_OUTCOME_TEMPFAIL && o->hold_ms > 0 &&
	    hold_for_outcome(s, o, lnow, err) < 0)
		return -1;
	return end_attempt(s, o->id, o->attempt, outcome_name(o->kind),
			   o->error, now, err);
}

/* A claimed task whose stored data or checkpoint does not decode
 * (compress.h) ends failed at once, with the reason as its error: no
 * handler runs on damaged data, no retry could mend it, and later claims
 * move on to other tasks instead of stumbling on this one every time. */
static int fail_damaged(struct sqlite_store *s, const char *worker_id,
			const struct ac_claimed *t, const char *why,
			int64_t now, struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_DAMAGED, err);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, t->id);
	sqlite3_bind_int(st, 2, t->attempt);
	sqlite3_bind_text(st, 3, worker_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, why, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	if (exec_stmt(s, st, err, "failing a task with damaged data") < 0)
		return -1;
	return end_attempt(s, t->id, t->attempt, "failed", why, now, err);
}


/* ---------------------------------------------------------------- flow */

static int expire_tasks(struct sqlite_store *s, int64_t now,
			struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_EXPIRE, err);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	return exec_stmt(s, st, err, "expiring tasks");
}

/* Key rows and queue rows that control nothing any more (type NULL:
 * every type's). */
static int drop_idle_controls(struct sqlite_store *s, const char *type,
			      struct ac_error *err)
{
	sqlite3_stmt *keys = stmt(s, ST_KEYS_DROP, err);
	sqlite3_stmt *rows = stmt(s, ST_QUEUE_DROP, err);
	int64_t lnow = lease_now();

	if (!keys || !rows)
		return -1;
	bind_text_or_null(keys, 1, type);
	sqlite3_bind_int64(keys, 2, lnow);
	if (exec_stmt(s, keys, err, "tidying route keys") < 0)
		return -1;
	bind_text_or_null(rows, 1, type);
	sqlite3_bind_int64(rows, 2, lnow);
	return exec_stmt(s, rows, err, "tidying flow control");
}

static char *col_dup_or_null(sqlite3_stmt *st, int i, int *oom)
{
	const char *t = col_text(st, i);
	char *copy;

	if (!t)
		return NULL;
	copy = ac_strdup(t);
	if (!copy)
		*oom = 1;
	return copy;
}

/* One row of QUEUE_COLS. */
static int read_flow(sqlite3_stmt *st, struct ac_flow *f)
{
	int oom = 0;

	memset(f, 0, sizeof *f);
	f->type = col_dup_or_null(st, 0, &oom);
	f->paused = sqlite3_column_int(st, 1);
	f->reason = col_dup_or_null(st, 2, &oom);
	f->paused_at = sqlite3_column_int64(st, 3);
	f->hold_until = sqlite3_column_int64(st, 4);
	f->hold_reason = col_dup_or_null(st, 5, &oom);
	f->concurrency = (long)sqlite3_column_int64(st, 6);
	f->per_key = (long)sqlite3_column_int64(st, 7);
	f->rate = sqlite3_column_double(st, 8);
	f->key_rate = sqlite3_column_double(st, 9);
	f->burst = sqlite3_column_double(st, 10);
	f->fair = sqlite3_column_int(st, 11);
	f->cursor = col_dup_or_null(st, 12, &oom);
	f->tokens = sqlite3_column_double(st, 13);
	f->tokens_at = sqlite3_column_int64(st, 14);
	if (oom || !f->type) {
		ac_flow_release(f);
		return -1;
	}
	return 0;
}

/* Every controlled type's row (type NULL), or type's: a new array. */
static int load_flows(struct sqlite_store *s, const char *type,
		      struct ac_flow **out, size_t *n, struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, type ? ST_QUEUE_ONE : ST_QUEUES, err);
	struct ac_flow *rows = NULL;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	if (type)
		sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			struct ac_flow *grown;

			cap = cap ? cap * 2 : 8;
			grown = realloc(rows, cap * sizeof *grown);
			if (!grown) {
				rc = SQLITE_NOMEM;
				break;
			}
			rows = grown;
		}
		if (read_flow(st, &rows[*n]) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		(*n)++;
	}
	done(st);
	if (rc != SQLITE_DONE) {
		ac_flow_free_array(rows, *n);
		*n = 0;
		return rc == SQLITE_NOMEM ?
			ac_error_set(err, AC_EXIT_FAILED, "out of memory") :
			db_error(s, err, "reading flow control");
	}
	*out = rows;
	return 0;
}

static int save_flow(struct sqlite_store *s, const struct ac_flow *f,
		     struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_QUEUE_WRITE, err);

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, f->type, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, f->paused);
	bind_text_or_null(st, 3, f->reason);
	if (f->paused_at)
		sqlite3_bind_int64(st, 4, f->paused_at);
	else
		sqlite3_bind_null(st, 4);
	if (f->hold_until)
		sqlite3_bind_int64(st, 5, f->hold_until);
	else
		sqlite3_bind_null(st, 5);
	bind_text_or_null(st, 6, f->hold_reason);
	sqlite3_bind_int64(st, 7, f->concurrency);
	sqlite3_bind_int64(st, 8, f->per_key);
	sqlite3_bind_double(st, 9, f->rate);
	sqlite3_bind_double(st, 10, f->key_rate);
	sqlite3_bind_double(st, 11, f->burst);
	sqlite3_bind_int(st, 12, f->fair);
	bind_text_or_null(st, 13, f->cursor);
	sqlite3_bind_double(st, 14, f->tokens);
	sqlite3_bind_int64(st, 15, f->tokens_at);
	return exec_stmt(s, st, err, "writing flow control");
}

/* The flow queries (flow.h) of one claim. */
struct flow_ctx {
	struct sqlite_store *s;
	const char *worker_id;
	const char *tags;
	const char *ended;       /* JSON array of the claim's ended tasks
				  * (struct ac_claim_request), or NULL */
};

static int flow_cand(sqlite3_stmt *st, struct ac_flow_cand *c)
{
	const char *key = col_text(st, 2);

	c->id = sqlite3_column_int64(st, 0);
	c->priority = sqlite3_column_int(st, 1);
	c->key = ac_strdup(key ? key : "");
	return c->key ? 0 : -1;
}

static int flow_candidates(void *ctx, const char *type, const char *skip_keys,
			   size_t limit, struct ac_flow_cand **out, size_t *n,
			   struct ac_error *err)
{
	struct flow_ctx *fc = ctx;
	sqlite3_stmt *st = stmt(fc->s, ST_FLOW_CANDS, err);
	struct ac_flow_cand *c;
	int rc = SQLITE_DONE;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	c = calloc(limit ? limit : 1, sizeof *c);
	if (!c)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, fc->tags, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, fc->worker_id, -1, SQLITE_STATIC);
	bind_text_or_null(st, 4, skip_keys);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)limit);
	while (*n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (flow_cand(st, &c[*n]) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		(*n)++;
	}
	done(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		ac_flow_cands_release(c, *n);
		free(c);
		*n = 0;
		return rc == SQLITE_NOMEM ?
			ac_error_set(err, AC_EXIT_FAILED, "out of memory") :
			db_error(fc->s, err, "finding tasks to claim");
	}
	*out = c;
	return 0;
}

/* One row or none from st, which the caller has bound. */
static int flow_one(struct sqlite_store *s, sqlite3_stmt *st,
		    struct ac_flow_cand *out, int *found, int *claimable,
		    struct ac_error *err)
{
	int rc = sqlite3_step(st);

	*found = 0;
	if (rc == SQLITE_ROW) {
		if (flow_cand(st, out) < 0) {
			done(st);
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
		if (claimable)
			*claimable = sqlite3_column_int(st, 3);
		*found = 1;
		rc = SQLITE_DONE;
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, err, "finding tasks to claim");
}

static int flow_key_head(void *ctx, const char *type, int prio,
			 const char *after, struct ac_flow_cand *out,
			 int *found, int *claimable, struct ac_error *err)
{
	struct flow_ctx *fc = ctx;
	sqlite3_stmt *st = stmt(fc->s, after ? ST_FLOW_HEAD_AFTER :
				ST_FLOW_HEAD_FIRST, err);

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, prio);
	sqlite3_bind_text(st, 3, fc->worker_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, fc->tags, -1, SQLITE_STATIC);
	if (after)
		sqlite3_bind_text(st, 5, after, -1, SQLITE_STATIC);
	return flow_one(fc->s, st, out, found, claimable, err);
}

static int flow_key_next(void *ctx, const char *type, int prio,
			 const char *key, int64_t after_id,
			 struct ac_flow_cand *out, int *found,
			 struct ac_error *err)
{
	struct flow_ctx *fc = ctx;
	sqlite3_stmt *st = stmt(fc->s, ST_FLOW_NEXT, err);

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, prio);
	sqlite3_bind_text(st, 3, fc->worker_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, fc->tags, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, after_id);
	return flow_one(fc->s, st, out, found, NULL, err);
}

static int flow_top_priority(void *ctx, const char *type, int below,
			     int *prio, int *found, struct ac_error *err)
{
	struct flow_ctx *fc = ctx;
	sqlite3_stmt *st = stmt(fc->s, ST_FLOW_TOP, err);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, below);
	rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
	if (*found)
		*prio = sqlite3_column_int(st, 0);
	done(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
		db_error(fc->s, err, "finding tasks to claim");
}

/* Rows of (key, ...) into a new array of keys; fill sets the rest. */
static int flow_keys(struct sqlite_store *s, sqlite3_stmt *st,
		     void (*fill)(sqlite3_stmt *, struct ac_flow_key *, int *),
		     struct ac_flow_key **keys, size_t *n, struct ac_error *err)
{
	struct ac_flow_key *arr = NULL;
	size_t cap = 0;
	int rc, oom = 0;

	*keys = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			struct ac_flow_key *grown;

			cap = cap ? cap * 2 : 16;
			grown = realloc(arr, cap * sizeof *grown);
			if (!grown) {
				oom = 1;
				break;
			}
			arr = grown;
		}
		memset(&arr[*n], 0, sizeof arr[*n]);
		arr[*n].key = col_dup_or_null(st, 0, &oom);
		(*n)++;
		if (!oom)
			fill(st, &arr[*n - 1], &oom);
		if (oom)
			break;
	}
	done(st);
	if (oom || rc != SQLITE_DONE) {
		for (size_t i = 0; i < *n; i++) {
			free(arr[i].key);
			free(arr[i].hold_reason);
		}
		free(arr);
		*n = 0;
		return oom ? ac_error_set(err, AC_EXIT_FAILED, "out of memory") :
			db_error(s, err, "reading route keys");
	}
	*keys = arr;
	return 0;
}

static void fill_running(sqlite3_stmt *st, struct ac_flow_key *k, int *oom)
{
	(void)oom;
	k->running = (long)sqlite3_column_int64(st, 1);
}

static void fill_key_row(sqlite3_stmt *st, struct ac_flow_key *k, int *oom)
{
	k->hold_until = sqlite3_column_int64(st, 1);
	k->hold_reason = col_dup_or_null(st, 2, oom);
	k->tokens = sqlite3_column_double(st, 3);
	k->tokens_at = sqlite3_column_int64(st, 4);
}

static int flow_running(void *ctx, const char *type, struct ac_flow_key **keys,
			size_t *n, long *total, struct ac_error *err)
{
	struct flow_ctx *fc = ctx;
	sqlite3_stmt *st = stmt(fc->s, ST_FLOW_RUNNING, err);

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	bind_text_or_null(st, 2, fc->ended);
	if (flow_keys(fc->s, st, fill_running, keys, n, err) < 0)
		return -1;
	*total = 0;
	for (size_t i = 0; i < *n; i++)
		*total += (*keys)[i].running;
	return 0;
}

static int flow_key_rows(void *ctx, const char *type, struct ac_flow_key **keys,
			 size_t *n, struct ac_error *err)
{
	struct flow_ctx *fc = ctx;
	sqlite3_stmt *st = stmt(fc->s, ST_FLOW_KEYS, err);

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	return flow_keys(fc->s, st, fill_key_row, keys, n, err);
}

static const struct ac_flow_ops flow_ops = {
	.candidates = flow_candidates,
	.key_head = flow_key_head,
	.key_next = flow_key_next,
	.top_priority = flow_top_priority,
	.running = flow_running,
	.key_rows = flow_key_rows,
};

/* After the claim: take the tokens of what each controlled type got and
 * move its fair cursor. */
static int flow_after_claim(struct sqlite_store *s, struct ac_flow *f,
			    struct ac_flow_plan *plan, const char *const *keys,
			    size_t n, int64_t lnow, struct ac_error *err)
{
	sqlite3_stmt *st;

	ac_flow_claimed(f, plan, keys, n, lnow);
	if (f->rate > 0 || f->fair) {
		st = stmt(s, ST_QUEUE_SAVE, err);
		if (!st)
			return -1;
		sqlite3_bind_text(st, 1, f->type, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 2, f->tokens);
		sqlite3_bind_int64(st, 3, f->tokens_at);
		bind_text_or_null(st, 4, f->cursor);
		if (exec_stmt(s, st, err, "writing flow control") < 0)
			return -1;
	}
	if (f->key_rate <= 0)
		return 0;
	for (size_t i = 0; i < plan->nkeys; i++) {
		const struct ac_flow_key *k = &plan->keys[i];

		if (!k->claimed)
			continue;
		st = stmt(s, ST_KEY_SAVE, err);
		if (!st)
			return -1;
		sqlite3_bind_text(st, 1, f->type, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, k->key, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 3, k->tokens);
		sqlite3_bind_int64(st, 4, k->tokens_at);
		if (exec_stmt(s, st, err, "writing a route key's bucket") < 0)
			return -1;
	}
	return 0;
}

static struct ac_flow *flow_of(struct ac_flow *flows, size_t n,
			       const char *type)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(flows[i].type, type))
			return &flows[i];
	return NULL;
}

struct candidate {
	int64_t id;
	int priority;
	int flow;                /* index in the claim's flows, or -1 */
	const char *key;         /* of a controlled type's task (the plan's) */
};

static int candidate_cmp(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* The best candidates of the controlled types among the worker's, each by
 * its plan (flow.h), appended to cands. */
static int plan_flows(struct sqlite_store *s, const char *worker_id,
		      const struct ac_claim_request *req, struct ac_flow *flows,
		      size_t nflows, struct ac_flow_plan *plans,
		      struct candidate *cands, size_t *ncands, int64_t *wake_ms,
		      struct ac_error *err)
{
	struct flow_ctx fc = { s, worker_id, req->tags, NULL };
	struct ac_buf ended = { 0 };
	int64_t lnow = lease_now();
	int rc = 0;

	for (size_t i = 0; i < req->nended; i++)
		if (ac_buf_printf(&ended, "%s%lld", i ? "," : "[",
				  (long long)req->ended[i]) < 0 ||
		    (i + 1 == req->nended && ac_buf_append(&ended, "]", 1) < 0)) {
			ac_buf_release(&ended);
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
	fc.ended = ended.data;
	for (size_t t = 0; t < req->ntypes && rc == 0; t++) {
		struct ac_flow *f = flow_of(flows, nflows, req->types[t]);
		size_t fi;
		struct ac_flow_plan *p;

		if (!f)
			continue;
		fi = (size_t)(f - flows);
		p = &plans[fi];
		if (ac_flow_plan(&flow_ops, &fc, f, req->max, lnow, p, err) < 0) {
			rc = -1;
			break;
		}
		if (p->wake_ms > 0 && (*wake_ms == 0 || p->wake_ms < *wake_ms))
			*wake_ms = p->wake_ms;
		for (size_t i = 0; i < p->ncands; i++)
			cands[(*ncands)++] = (struct candidate){
				p->cands[i].id, p->cands[i].priority, (int)fi,
				p->cands[i].key };
	}
	ac_buf_release(&ended);
	return rc;
}

/* Claim one candidate; *got is set when the task is now this attempt's
 * (tasks[*ntasks - 1]). */
static int claim_one(struct sqlite_store *s, const char *worker_id,
		     const struct ac_claim_request *req,
		     const struct candidate *c, int64_t now,
		     struct ac_claimed *tasks, size_t *ntasks, int *got,
		     struct ac_error *err)
{
	sqlite3_stmt *claim = stmt(s, ST_CLAIM, err);
	struct ac_claimed *t = &tasks[*ntasks];
	char why[sizeof err->msg + 40] = "";
	int rc;

	*got = 0;
	if (!claim)
		return -1;
	sqlite3_bind_int64(claim, 1, c->id);
	sqlite3_bind_text(claim, 2, worker_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(claim, 3, lease_now() + req->lease_ms);
	sqlite3_bind_int64(claim, 4, now);
	rc = sqlite3_step(claim);
	if (rc == SQLITE_ROW) {
		t->id = c->id;
		t->type = column_dup(claim, 0, NULL);
		t->priority = sqlite3_column_int(claim, 2);
		t->attempt = sqlite3_column_int(claim, 3);
		t->timeout_ms = sqlite3_column_int64(claim, 4);
		t->route_key = column_dup(claim, 5, NULL);
		t->has_after = sqlite3_column_int(claim, 7);
		t->traceparent = column_dup(claim, 8, NULL);
		(*ntasks)++;
		errno = 0;
		if (!t->type) {
			ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		} else if (column_value(claim, 1, &t->data, &t->data_len,
					err) < 0) {
			if (errno == EBADMSG)
				snprintf(why, sizeof why,
					 "stored data does not decode: %s",
					 err->msg);
		} else if (column_value(claim, 6, &t->checkpoint, NULL,
					err) < 0 && errno == EBADMSG) {
			snprintf(why, sizeof why,
				 "stored checkpoint does not decode: %s",
				 err->msg);
		}
		/* Out of memory fails the cycle; damage fails the task,
		 * below, once its attempt is recorded. */
		if (!why[0] && (!t->type || !t->data ||
				(!t->checkpoint &&
				 sqlite3_column_type(claim, 6) != SQLITE_NULL) ||
				(!t->traceparent &&
				 sqlite3_column_type(claim, 8) != SQLITE_NULL))) {
			done(claim);
			return -1;
		}
		rc = sqlite3_step(claim);
	}
	done(claim);
	if (rc != SQLITE_DONE)
		return db_error(s, err, "claiming a task");
	if (*ntasks && tasks[*ntasks - 1].id == c->id) {
		sqlite3_stmt *att = stmt(s, ST_ATTEMPT_START, err);

		if (!att)
			return -1;
		sqlite3_bind_int64(att, 1, c->id);
		sqlite3_bind_int(att, 2, tasks[*ntasks - 1].attempt);
		sqlite3_bind_text(att, 3, worker_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(att, 4, now);
		if (exec_stmt(s, att, err, "recording an attempt") < 0 ||
		    (why[0] && fail_damaged(s, worker_id, &tasks[*ntasks - 1],
					    why, now, err) < 0))
			return -1;
		if (why[0])
			ac_claimed_release(&tasks[--(*ntasks)]);
		else
			*got = 1;
	}
	return 0;
}

static int claim_tasks(struct sqlite_store *s, const char *worker_id,
		       const struct ac_claim_request *req, int64_t now,
		       struct ac_claimed **claimed, size_t *nclaimed,
		       int64_t *wake_ms, int *capped, struct ac_error *err)
{
	sqlite3_stmt *promote = stmt(s, ST_PROMOTE, err);
	sqlite3_stmt *cand = stmt(s, ST_CANDIDATES, err);
	sqlite3_stmt *mine = stmt(s, ST_CANDIDATES_MINE, err);
	struct candidate *cands = NULL;
	struct ac_claimed *tasks = NULL;
	struct ac_flow *flows = NULL;
	struct ac_flow_plan *plans = NULL;
	const char **keys = NULL;
	size_t ncands = 0, cap, ntasks = 0, nflows = 0;
	int rc = -1;

	if (!promote || !cand || !mine)
		return -1;
	sqlite3_bind_int64(promote, 1, now);
	if (exec_stmt(s, promote, err, "promoting due tasks") < 0 ||
	    expire_tasks(s, now, err) < 0)
		return -1;
	if (req->ntypes == 0 || req->max == 0)
		return 0;
	if (load_flows(s, NULL, &flows, &nflows, err) < 0)
		return -1;
	/* Each type's best req->max (unassigned and routed here), merged:
	 * O(types * log n), whatever the depth of the queue.  Controlled
	 * types are planned by their rules instead. */
	cap = 2 * req->ntypes * req->max + nflows * req->max;
	cands = calloc(cap, sizeof *cands);
	plans = calloc(nflows ? nflows : 1, sizeof *plans);
	if (!cands || !plans) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto out;
	}
	for (size_t t = 0; t < 2 * req->ntypes; t++) {
		sqlite3_stmt *q = t % 2 ? mine : cand;
		int step;

		if (flow_of(flows, nflows, req->types[t / 2]))
			continue;
		sqlite3_bind_text(q, 1, req->types[t / 2], -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, req->tags, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, (sqlite3_int64)req->max);
		if (q == mine)
			sqlite3_bind_text(q, 4, worker_id, -1, SQLITE_STATIC);
		while ((step = sqlite3_step(q)) == SQLITE_ROW && ncands < cap) {
			cands[ncands].id = sqlite3_column_int64(q, 0);
			cands[ncands].priority = sqlite3_column_int(q, 1);
			cands[ncands].flow = -1;
			ncands++;
		}
		done(q);
		if (step != SQLITE_DONE && step != SQLITE_ROW) {
			db_error(s, err, "finding tasks to claim");
			goto out;
		}
	}
	if (nflows && plan_flows(s, worker_id, req, flows, nflows, plans,
				 cands, &ncands, wake_ms, err) < 0)
		goto out;
	for (size_t fi = 0; fi < nflows; fi++)
		*capped |= plans[fi].capped;
	if (ncands == 0) {
		rc = 0;
		goto out;
	}
	qsort(cands, ncands, sizeof *cands, candidate_cmp);
	if (ncands > req->max)
		ncands = req->max;
	tasks = calloc(ncands, sizeof *tasks);
	keys = calloc(ncands, sizeof *keys);
	if (!tasks || !keys) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < ncands; i++) {
		int got;

		if (claim_one(s, worker_id, req, &cands[i], now, tasks, &ntasks,
			      &got, err) < 0)
			goto out;
		/* What a controlled type got, for its buckets. */
		if (!got || cands[i].flow < 0)
			cands[i].flow = -1;
	}
	for (size_t fi = 0; fi < nflows; fi++) {
		size_t n = 0;

		if (!plans[fi].ncands)
			continue;
		for (size_t i = 0; i < ncands; i++)
			if (cands[i].flow == (int)fi)
				keys[n++] = cands[i].key;
		if (flow_after_claim(s, &flows[fi], &plans[fi], keys, n,
				     lease_now(), err) < 0)
			goto out;
	}
	*claimed = tasks;
	*nclaimed = ntasks;
	tasks = NULL;
	ntasks = 0;
	rc = 0;
out:
	ac_claimed_free_array(tasks, ntasks);
	for (size_t fi = 0; fi < nflows && plans; fi++)
		ac_flow_plan_release(&plans[fi]);
	free(plans);
	ac_flow_free_array(flows, nflows);
	free(keys);
	free(cands);
	return rc;
}

static int sqlite_worker_cycle(struct ac_store *base, const char *worker_id,
			       const struct ac_worker_state *state,
			       struct ac_outcome *outcomes, size_t noutcomes,
			       const struct ac_claim_request *claim,
			       struct ac_claimed **claimed, size_t *nclaimed,
			       struct ac_worker_control *ctl,
			       struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	int64_t now = ac_now_ms();

	*claimed = NULL;
	*nclaimed = 0;
	if (tx_begin(s, err) < 0)
		return -1;
	for (size_t i = 0; i < noutcomes; i++)
		if (write_outcome(s, worker_id, &outcomes[i], now, err) < 0)
			goto fail;
	if (read_control(s, worker_id, ctl, err) < 0)
		goto fail;
	ctl->wake_ms = 0;
	ctl->capped = 0;
	if (claim && !ctl->drain && !ctl->stop &&
	    claim_tasks(s, worker_id, claim, now, claimed, nclaimed,
			&ctl->wake_ms, &ctl->capped, err) < 0)
		goto fail;
	if (state) {
		struct ac_worker_state st = *state;

		st.running += (int)*nclaimed;
		if (st.running > 0 && !strcmp(st.status, "idle"))
			st.status = "busy";
		if (ctl->drain && strcmp(st.status, "stopped"))
			st.status = "draining";
		if (write_worker_state(s, worker_id, &st, now, err) < 0)
			goto fail;
	}
	if (tx_commit(s, err) < 0)
		goto fail;
	return 0;
fail:
	ac_claimed_free_array(*claimed, *nclaimed);
	*claimed = NULL;
	*nclaimed = 0;
	tx_rollback(s);
	return -1;
}

static int sqlite_worker_heartbeat(struct ac_store *base, const char *worker_id,
				   const struct ac_worker_state *state,
				   int64_t lease_ms, const struct ac_lease *held,
				   size_t nheld, int *renewed,
				   struct ac_worker_control *ctl,
				   struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *renew = stmt(s, ST_RENEW, err);
	int64_t now = ac_now_ms(), lnow = lease_now();
	struct ac_worker_state st;

	if (!renew || tx_begin(s, err) < 0)
		return -1;
	if (read_control(s, worker_id, ctl, err) < 0)
		goto fail;
	st = *state;
	if (ctl->drain && strcmp(st.status, "stopped"))
		st.status = "draining";
	if (write_worker_state(s, worker_id, &st, now, err) < 0)
		goto fail;
	/* Only a lease still held is renewed: one that ran out may already
	 * belong to another attempt. */
	for (size_t i = 0; i < nheld; i++) {
		sqlite3_bind_text(renew, 1, worker_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(renew, 2, lnow);
		sqlite3_bind_int64(renew, 3, lease_ms);
		sqlite3_bind_int64(renew, 4, held[i].id);
		sqlite3_bind_int(renew, 5, held[i].attempt);
		if (exec_stmt(s, renew, err, "renewing a lease") < 0)
			goto fail;
		renewed[i] = sqlite3_changes(s->db) > 0;
	}
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	return -1;
}

static int sqlite_sweep(struct ac_store *base, size_t *reclaimed,
			struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_SWEEP, err);
	int64_t now = ac_now_ms();

	*reclaimed = 0;
	if (!st || tx_begin(s, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, lease_now());
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, RECLAIM_BACKOFF_MS);
	if (reclaim_rows(s, st, now, reclaimed, err) < 0) {
		tx_rollback(s);
		return -1;
	}
	if (!(st = stmt(s, ST_UNASSIGN_GONE, err))) {
		tx_rollback(s);
		return -1;
	}
	sqlite3_bind_int64(st, 1, lease_now());
	if (exec_stmt(s, st, err, "rerouting tasks") < 0 ||
	    expire_tasks(s, now, err) < 0 ||
	    drop_idle_controls(s, NULL, err) < 0) {
		tx_rollback(s);
		return -1;
	}
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
}

static int sqlite_task_checkpoint(struct ac_store *base, const char *worker_id,
				  const struct ac_lease *lease,
				  const char *json, size_t len,
				  struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_CHECKPOINT, err);
	int changed;

	if (!st || tx_begin(s, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, lease->id);
	sqlite3_bind_int(st, 2, lease->attempt);
	sqlite3_bind_text(st, 3, worker_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, lease_now());
	if (bind_value(s, st, 4, json, len, err) < 0) {
		done(st);
		tx_rollback(s);
		return -1;
	}
	if (exec_stmt(s, st, err, "storing a checkpoint") < 0) {
		tx_rollback(s);
		return -1;
	}
	changed = sqlite3_changes(s->db) > 0;
	if (tx_commit(s, err) < 0) {
		tx_rollback(s);
		return -1;
	}
	return changed ? 0 : 1;
}

/* A report's usage, added to its type's totals and its budget's account
 * (which it may spend). */
static int charge_usage(struct sqlite_store *s, const char *type,
			const char *budget, const char *add,
			struct ac_error *err)
{
	sqlite3_stmt *get = stmt(s, ST_TYPE_USAGE_GET, err), *put;
	char *total;
	int rc;

	if (!get)
		return -1;
	sqlite3_bind_text(get, 1, type, -1, SQLITE_STATIC);
	rc = sqlite3_step(get);
	total = ac_usage_sum(rc == SQLITE_ROW ? col_text(get, 0) : NULL, add);
	done(get);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(total);
		return db_error(s, err, "reading a type's usage");
	}
	if (!total)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (!(put = stmt(s, ST_TYPE_USAGE_PUT, err))) {
		free(total);
		return -1;
	}
	sqlite3_bind_text(put, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(put, 2, total, -1, SQLITE_STATIC);
	sqlite3_bind_int64(put, 3, ac_now_ms());
	rc = exec_stmt(s, put, err, "adding to a type's usage");
	free(total);
	if (rc < 0 || !budget)
		return rc;
	return budget_apply(s, budget, NULL, 0, add, 0, NULL, err) < 0 ? -1 : 0;
}

static int sqlite_task_report(struct ac_store *base, const char *worker_id,
			      const struct ac_lease *lease,
			      const struct ac_report *report,
			      struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *rd = stmt(s, ST_REPORT_READ, err);
	sqlite3_stmt *up = stmt(s, ST_REPORT, err);
	char *usage = NULL, *budget = NULL, *type = NULL;
	struct ac_buf log = { 0 };
	int rc;

	if (!rd || !up || tx_begin(s, err) < 0)
		return -1;
	sqlite3_bind_int64(rd, 1, lease->id);
	sqlite3_bind_int(rd, 2, lease->attempt);
	sqlite3_bind_text(rd, 3, worker_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(rd, 4, lease_now());
	rc = sqlite3_step(rd);
	if (rc != SQLITE_ROW) {
		done(rd);
		tx_rollback(s);
		return rc == SQLITE_DONE ? 1 : db_error(s, err, "reading a task");
	}
	if (report->usage) {
		usage = ac_usage_sum(col_text(rd, 0), report->usage);
		budget = col_text(rd, 2) ? ac_strdup(col_text(rd, 2)) : NULL;
		type = ac_strdup(col_text(rd, 3));
	}
	if ((report->usage && (!usage || !type ||
			       (!budget && col_text(rd, 2)))) ||
	    (report->log &&
	     ac_log_append(&log, col_text(rd, 1), report->log) < 0)) {
		done(rd);
		free(usage);
		free(budget);
		free(type);
		ac_buf_release(&log);
		tx_rollback(s);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	done(rd);
	/* The usage is charged to the task's budget (one removed meanwhile
	 * is no longer charged) and to its type's totals. */
	rc = report->usage ? charge_usage(s, type, budget, report->usage, err) :
		0;
	free(budget);
	free(type);
	if (rc < 0) {
		free(usage);
		ac_buf_release(&log);
		tx_rollback(s);
		return -1;
	}
	sqlite3_bind_int64(up, 1, lease->id);
	sqlite3_bind_int(up, 2, lease->attempt);
	sqlite3_bind_text(up, 3, worker_id, -1, SQLITE_STATIC);
	if (report->progress >= 0)
		sqlite3_bind_double(up, 4, report->progress);
	else
		sqlite3_bind_null(up, 4);
	bind_text_or_null(up, 5, usage);
	bind_text_or_null(up, 6, log.data);
	rc = exec_stmt(s, up, err, "keeping a report");
	free(usage);
	ac_buf_release(&log);
	if (rc < 0 || tx_commit(s, err) < 0) {
		tx_rollback(s);
		return -1;
	}
	return 0;
}

static int sqlite_cancel(struct ac_store *base, const int64_t *ids, size_t n,
			 enum ac_task_status *status, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *now_st = stmt(s, ST_CANCEL_NOW, err);
	sqlite3_stmt *ask = stmt(s, ST_CANCEL_ASK, err);
	int64_t now = ac_now_ms();

	if (!now_st || !ask || tx_begin(s, err) < 0)
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
		sqlite3_stmt *st = status[i] == AC_TASK_RUNNING ? ask : now_st;

		sqlite3_bind_int64(st, 1, ids[i]);
		if (st == now_st)
			sqlite3_bind_int64(st, 2, now);
		if (exec_stmt(s, st, err, "cancelling a task") < 0)
			goto fail;
		if (st == now_st)
			status[i] = AC_TASK_CANCELLED;
	}
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	return -1;
}

static int sqlite_worker_cancels(struct ac_store *base, const char *worker_id,
				 int64_t **ids, size_t *n,
				 struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_CANCELS, err);
	int64_t *out = NULL;
	size_t cap = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, worker_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			int64_t *grown;

			cap = cap ? cap * 2 : 8;
			grown = realloc(out, cap * sizeof *out);
			if (!grown) {
				done(st);
				free(out);
				return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
			}
			out = grown;
		}
		out[(*n)++] = sqlite3_column_int64(st, 0);
	}
	done(st);
	if (rc != SQLITE_DONE) {
		free(out);
		*n = 0;
		return db_error(s, err, "reading cancels");
	}
	*ids = out;
	return 0;
}

static int sqlite_drain(struct ac_store *base, const char *const *ids, size_t n,
			const char *reason, int flags, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *exists = stmt(s, ST_WORKER_EXISTS, err);
	sqlite3_stmt *st = stmt(s, (flags & AC_DRAIN_UNDO) ? ST_UNDRAIN :
				ST_DRAIN, err);

	if (!exists || !st || tx_begin(s, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int rc;

		sqlite3_bind_text(exists, 1, ids[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(exists);
		done(exists);
		if (rc == SQLITE_DONE) {
			ac_error_set(err, AC_EXIT_USAGE, "unknown worker '%s'",
				     ids[i]);
			goto fail;
		}
		if (rc != SQLITE_ROW) {
			db_error(s, err, "looking up a worker");
			goto fail;
		}
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_text(st, 1, ids[i], -1, SQLITE_STATIC);
		if (!(flags & AC_DRAIN_UNDO)) {
			bind_text_or_null(st, 2, reason);
			sqlite3_bind_int(st, 3, (flags & AC_DRAIN_STOP) ? 1 : 0);
		}
		if (exec_stmt(s, st, err, "draining a worker") < 0)
			goto fail;
		if (!(flags & AC_DRAIN_UNDO)) {
			sqlite3_stmt *un = stmt(s, ST_UNASSIGN_WORKER, err);

			if (!un)
				goto fail;
			sqlite3_bind_text(un, 1, ids[i], -1, SQLITE_STATIC);
			if (exec_stmt(s, un, err, "rerouting tasks") < 0)
				goto fail;
		}
	}
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	return -1;
}

static int sqlite_worker_control(struct ac_store *base, const char *worker_id,
				 struct ac_worker_control *ctl,
				 struct ac_error *err)
{
	return read_control((struct sqlite_store *)base, worker_id, ctl, err);
}

static int sqlite_worker_running(struct ac_store *base, const char *worker_id,
				 long *running, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_WORKER_RUNNING, err);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, worker_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*running = rc == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;
	done(st);
	if (rc != SQLITE_ROW)
		return db_error(s, err, "counting a worker's tasks");
	return 0;
}

static int sqlite_changed(struct ac_store *base, int *changed,
			  struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_DATA_VERSION, err);
	long long v;
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	done(st);
	if (rc != SQLITE_ROW)
		return db_error(s, err, "reading the data version");
	/* data_version moves when another connection commits; our own
	 * commits are known to us anyway. */
	*changed = v != s->data_version;
	s->data_version = v;
	return 0;
}

static int sqlite_mark_lost(struct ac_store *base, char ***ids, size_t *n,
			    struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_MARK_LOST, err);
	char **out = NULL;
	size_t cap = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	if (!st || tx_begin(s, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, lease_now());
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char *id = column_dup(st, 0, NULL);

		if (*n == cap) {
			char **grown;

			cap = cap ? cap * 2 : 4;
			grown = realloc(out, cap * sizeof *out);
			if (!grown) {
				free(id);
				break;
			}
			out = grown;
		}
		if (id)
			out[(*n)++] = id;
	}
	done(st);
	if ((rc != SQLITE_DONE && rc != SQLITE_ROW) || tx_commit(s, err) < 0) {
		for (size_t i = 0; i < *n; i++)
			free(out[i]);
		free(out);
		*n = 0;
		if (rc != SQLITE_DONE && rc != SQLITE_ROW)
			db_error(s, err, "marking lost workers");
		tx_rollback(s);
		return -1;
	}
	*ids = out;
	return 0;
}

static int sqlite_counter_add(struct ac_store *base, const char *name,
			      int64_t n, int64_t *before, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *rd = stmt(s, ST_COUNTER_READ, err);
	sqlite3_stmt *wr = stmt(s, ST_COUNTER_WRITE, err);
	int rc;

	if (!rd || !wr || tx_begin(s, err) < 0)
		return -1;
	sqlite3_bind_text(rd, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(rd);
	*before = rc == SQLITE_ROW ? sqlite3_column_int64(rd, 0) : 0;
	done(rd);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_error(s, err, "reading a counter");
		tx_rollback(s);
		return -1;
	}
	sqlite3_bind_text(wr, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(wr, 2, *before + n);
	if (exec_stmt(s, wr, err, "writing a counter") < 0) {
		tx_rollback(s);
		return -1;
	}
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
}

static int sqlite_prune(struct ac_store *base, int64_t older_than_ms,
			int has_status, enum ac_task_status status, long limit,
			size_t *removed, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_PRUNE, err);
	sqlite3_stmt *att = stmt(s, ST_PRUNE_ATTEMPTS, err);
	sqlite3_stmt *trim = stmt(s, ST_COUNTS_TRIM, err);
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*removed = 0;
	if (!st || !att || !trim || tx_begin(s, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, ac_now_ms() - older_than_ms);
	if (has_status)
		sqlite3_bind_text(st, 2, ac_task_status_name(status), -1,
				  SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			int64_t *grown;

			cap = cap ? cap * 2 : 64;
			grown = realloc(ids, cap * sizeof *ids);
			if (!grown) {
				rc = SQLITE_NOMEM;
				break;
			}
			ids = grown;
		}
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	done(st);
	if (rc != SQLITE_DONE) {
		free(ids);
		if (rc == SQLITE_NOMEM)
			ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		else
			db_error(s, err, "pruning tasks");
		tx_rollback(s);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(att, 1, ids[i]);
		if (exec_stmt(s, att, err, "pruning attempts") < 0) {
			free(ids);
			tx_rollback(s);
			return -1;
		}
	}
	free(ids);
	if (n > 0 && exec_stmt(s, trim, err, "trimming task counts") < 0) {
		tx_rollback(s);
		return -1;
	}
	if (tx_commit(s, err) < 0) {
		tx_rollback(s);
		return -1;
	}
	*removed = n;
	return 0;
}

/* The statuses of a filter as a JSON array of names. */
static int statuses_json(unsigned mask, char *out, size_t size)
{
	size_t len = 0;

	if (!mask)
		mask = 1u << AC_TASK_FAILED | 1u << AC_TASK_TIMEOUT;
	len += (size_t)snprintf(out, size, "[");
	for (int i = 0; i < AC_TASK_STATUS_COUNT && len < size; i++)
		if (mask & 1u << i)
			len += (size_t)snprintf(out + len, size - len, "%s\"%s\"",
						len > 1 ? "," : "",
						ac_task_status_name(i));
	if (len + 2 > size)
		return -1;
	snprintf(out + len, size - len, "]");
	return 0;
}

static void bind_ended_filter(sqlite3_stmt *st, const struct ac_ended_filter *f,
			      const char *statuses)
{
	sqlite3_bind_int64(st, 1, f->since_ms > 0 ? ac_now_ms() - f->since_ms :
			   0);
	sqlite3_bind_text(st, 2, statuses, -1, SQLITE_TRANSIENT);
	bind_text_or_null(st, 3, f->type);
}

static int sqlite_tasks_ended(struct ac_store *base,
			      const struct ac_ended_filter *filter, json_t **out,
			      struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_ENDED, err);
	char statuses[160];

	if (!st)
		return -1;
	if (statuses_json(filter->statuses, statuses, sizeof statuses) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "bad status filter");
	bind_ended_filter(st, filter, statuses);
	sqlite3_bind_int64(st, 4, filter->limit > 0 ? filter->limit : -1);
	return collect_rows(s, st, 0, task_row_json, NULL, "listing ended tasks",
			    out, err);
}

static int push_id(int64_t **ids, size_t *n, size_t *cap, int64_t id)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		int64_t *grown = realloc(*ids, ncap * sizeof *grown);

		if (!grown)
			return -1;
		*ids = grown;
		*cap = ncap;
	}
	(*ids)[(*n)++] = id;
	return 0;
}

static int sqlite_requeue(struct ac_store *base, const int64_t *ids, size_t n,
			  const struct ac_ended_filter *filter,
			  int64_t **ids_out, size_t *nout, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, n ? ST_RETRY : ST_REQUEUE_ALL, err);
	int64_t *done_ids = NULL;
	size_t ndone = 0, cap = 0;
	int64_t now = ac_now_ms();
	char statuses[160];
	int rc;

	*ids_out = NULL;
	*nout = 0;
	if (!st || tx_begin(s, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		enum ac_task_status status;

		if (read_status(s, ids[i], &status, err) < 0) {
			if (err->exit_code == AC_EXIT_USAGE)
				err->exit_code = AC_EXIT_FAILED;
			goto fail;
		}
		if (status != AC_TASK_FAILED && status != AC_TASK_TIMEOUT &&
		    status != AC_TASK_CANCELLED && status != AC_TASK_EXPIRED) {
			ac_error_set(err, AC_EXIT_FAILED,
				     "task %lld is %s: only a failed, timed-out, cancelled or expired task can be requeued",
				     (long long)ids[i], ac_task_status_name(status));
			goto fail;
		}
		sqlite3_bind_int64(st, 1, ids[i]);
		sqlite3_bind_int64(st, 2, now);
		if (exec_stmt(s, st, err, "requeueing a task") < 0)
			goto fail;
		if (sqlite3_changes(s->db) > 0 &&
		    push_id(&done_ids, &ndone, &cap, ids[i]) < 0)
			goto oom;
	}
	if (!n) {
		if (statuses_json(filter->statuses, statuses,
				  sizeof statuses) < 0) {
			ac_error_set(err, AC_EXIT_FAILED, "bad status filter");
			goto fail;
		}
		bind_ended_filter(st, filter, statuses);
		sqlite3_bind_int64(st, 4, now);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			if (push_id(&done_ids, &ndone, &cap,
				    sqlite3_column_int64(st, 0)) < 0) {
				done(st);
				goto oom;
			}
		done(st);
		if (rc != SQLITE_DONE) {
			db_error(s, err, "requeueing tasks");
			goto fail;
		}
	}
	if (tx_commit(s, err) < 0)
		goto fail;
	*ids_out = done_ids;
	*nout = ndone;
	return 0;
oom:
	ac_error_set(err, AC_EXIT_FAILED, "out of memory");
fail:
	free(done_ids);
	tx_rollback(s);
	return -1;
}

static int sqlite_queue_set(struct ac_store *base, const char *type,
			    const struct ac_queue_change *c,
			    struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *ensure = stmt(s, ST_QUEUE_ENSURE, err);
	struct ac_flow *rows = NULL;
	size_t n = 0;
	int64_t lnow = lease_now();
	struct ac_flow *f;
	int refill = 0;

	if (!ensure || tx_begin(s, err) < 0)
		return -1;
	sqlite3_bind_text(ensure, 1, type, -1, SQLITE_STATIC);
	if (exec_stmt(s, ensure, err, "writing flow control") < 0 ||
	    load_flows(s, type, &rows, &n, err) < 0)
		goto fail;
	if (n != 1) {
		ac_error_set(err, AC_EXIT_UNAVAILABLE,
			     "flow control of '%s' vanished", type);
		goto fail;
	}
	f = &rows[0];
	if (c->set & AC_QUEUE_CLEAR) {
		f->concurrency = f->per_key = 0;
		f->rate = f->key_rate = 0;
		f->burst = 1;
		f->fair = 0;
	}
	if (c->set & AC_QUEUE_CONCURRENCY)
		f->concurrency = c->concurrency;
	if (c->set & AC_QUEUE_PER_KEY)
		f->per_key = c->per_key;
	if (c->set & AC_QUEUE_RATE) {
		f->rate = c->rate;
		refill = 1;
	}
	if (c->set & AC_QUEUE_KEY_RATE)
		f->key_rate = c->key_rate;
	if (c->set & AC_QUEUE_BURST) {
		f->burst = c->burst >= 1 ? c->burst : 1;
		refill = 1;
	}
	if (refill) {
		f->tokens = f->burst;
		f->tokens_at = lnow;
	}
	if (c->set & AC_QUEUE_FAIR)
		f->fair = c->fair;
	if ((f->fair || f->per_key > 0 || f->key_rate > 0) &&
	    sqlite3_exec(s->db, FAIR_INDEX, NULL, NULL, NULL) != SQLITE_OK) {
		db_error(s, err, "making the index of claims by key");
		goto fail;
	}
	if (c->set & AC_QUEUE_PAUSE) {
		char *reason = c->reason ? ac_strdup(c->reason) : NULL;

		if (c->reason && !reason)
			goto oom;
		free(f->reason);
		f->reason = reason;
		if (!f->paused)
			f->paused_at = ac_now_ms();
		f->paused = 1;
	}
	if (c->set & AC_QUEUE_HOLD && !c->key) {
		char *reason = c->reason ? ac_strdup(c->reason) : NULL;

		if (c->reason && !reason)
			goto oom;
		free(f->hold_reason);
		f->hold_reason = reason;
		f->hold_until = c->hold_ms > 0 ? lnow + c->hold_ms : 0;
	}
	if (c->set & AC_QUEUE_HOLD && c->key) {
		sqlite3_stmt *st = stmt(s, ST_KEY_HOLD, err);

		if (!st)
			goto fail;
		sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, c->key, -1, SQLITE_STATIC);
		if (c->hold_ms > 0)
			sqlite3_bind_int64(st, 3, lnow + c->hold_ms);
		else
			sqlite3_bind_null(st, 3);
		bind_text_or_null(st, 4, c->reason);
		if (exec_stmt(s, st, err, "holding a route key") < 0)
			goto fail;
	}
	if (c->set & AC_QUEUE_RESUME) {
		sqlite3_stmt *st = stmt(s, ST_KEY_RESUME, err);

		if (!c->key) {
			f->paused = 0;
			free(f->reason);
			f->reason = NULL;
			f->paused_at = 0;
			f->hold_until = 0;
			free(f->hold_reason);
			f->hold_reason = NULL;
		}
		if (!st)
			goto fail;
		sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
		bind_text_or_null(st, 2, c->key);
		if (exec_stmt(s, st, err, "lifting holds") < 0)
			goto fail;
	}
	if (save_flow(s, f, err) < 0 || drop_idle_controls(s, type, err) < 0)
		goto fail;
	ac_flow_free_array(rows, n);
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
oom:
	ac_error_set(err, AC_EXIT_FAILED, "out of memory");
fail:
	ac_flow_free_array(rows, n);
	tx_rollback(s);
	return -1;
}

static json_t *held_key_json(sqlite3_stmt *st, void *arg)
{
	const int64_t *now = arg;

	return ac_queue_key_json(col_text(st, 0), sqlite3_column_int64(st, 1),
				 col_text(st, 2), now[0], now[1]);
}

static int sqlite_queues_list(struct ac_store *base, const char *type,
			      json_t **out, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	struct ac_flow *rows = NULL;
	size_t n = 0;
	int64_t now[2] = { lease_now(), ac_now_ms() };
	json_t *arr;

	if (load_flows(s, type, &rows, &n, err) < 0)
		return -1;
	arr = json_array();
	if (!arr)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = stmt(s, ST_KEYS_HELD, err);
		json_t *keys = NULL, *row;

		if (!st)
			goto fail;
		sqlite3_bind_text(st, 1, rows[i].type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now[0]);
		if (collect_rows(s, st, 0, held_key_json, now, "reading held keys",
				 &keys, err) < 0)
			goto fail;
		row = ac_queue_row_json(&rows[i], keys, now[0], now[1]);
		if (!row || json_array_append_new(arr, row) < 0)
			goto oom;
	}
	ac_flow_free_array(rows, n);
	*out = arr;
	return 0;
oom:
	ac_error_set(err, AC_EXIT_FAILED, "out of memory");
fail:
	json_decref(arr);
	ac_flow_free_array(rows, n);
	return -1;
}

static int sqlite_wait_fd(struct ac_store *base)
{
	(void)base;
	return -1;
}

/* A local file has no network to wait on; the busy timeout bounds the
 * waits for other writers. */
static void sqlite_set_deadline(struct ac_store *base, int64_t ms)
{
	(void)base;
	(void)ms;
}

/* ------------------------------------------------------------ graphs */

static int sqlite_task_parents(struct ac_store *base, int64_t id,
			       json_t **out, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_PARENTS, err);
	json_t *o = json_object();
	int rc = SQLITE_NOMEM;

	if (!st || !o) {
		json_decref(o);
		return st ? ac_error_set(err, AC_EXIT_FAILED, "out of memory") :
			-1;
	}
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char key[24], *result = NULL;
		json_t *entry;

		if (column_value(st, 2, &result, NULL, err) < 0) {
			done(st);
			json_decref(o);
			return -1;
		}
		entry = json_pack("{s:s,s:o,s:s?}", "status", col_text(st, 1),
				  "result", result ? json_loads(result, JSON_DECODE_ANY,
							    NULL) :
				  json_null(), "error", col_text(st, 3));
		free(result);
		snprintf(key, sizeof key, "%lld",
			 (long long)sqlite3_column_int64(st, 0));
		if (!entry || json_object_set_new(o, key, entry) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	done(st);
	if (rc != SQLITE_DONE) {
		json_decref(o);
		return rc == SQLITE_NOMEM ?
			ac_error_set(err, AC_EXIT_FAILED, "out of memory") :
			db_error(s, err, "reading the tasks a task waited for");
	}
	*out = o;
	return 0;
}

static json_t *id_json(sqlite3_stmt *st, void *arg)
{
	(void)arg;
	return json_integer(sqlite3_column_int64(st, 0));
}

static int id_list(struct sqlite_store *s, enum stmt_id which, int64_t id,
		   json_t **out, struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, which, err);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return collect_rows(s, st, 0, id_json, NULL, "reading a task graph",
			    out, err);
}

static int sqlite_task_links(struct ac_store *base, int64_t id, json_t **out,
			     struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_LINKS_TASK, err);
	json_t *o = NULL, *after = NULL, *children = NULL, *dependents = NULL;
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		o = json_pack("{s:I,s:s,s:s,s:o,s:s?,s:o}", "id", (json_int_t)id,
			      "type", col_text(st, 1), "status", col_text(st, 2),
			      "parent", sqlite3_column_type(st, 3) == SQLITE_NULL ?
			      json_null() :
			      json_integer(sqlite3_column_int64(st, 3)),
			      "after_policy", col_text(st, 4),
			      "batch", sqlite3_column_type(st, 5) == SQLITE_NULL ?
			      json_null() :
			      json_integer(sqlite3_column_int64(st, 5)));
	done(st);
	if (rc == SQLITE_DONE)
		return ac_error_set(err, AC_EXIT_USAGE, "no task %lld",
				    (long long)id);
	if (rc != SQLITE_ROW)
		return db_error(s, err, "reading a task graph");
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

static int sqlite_batch_get(struct ac_store *base, int64_t id, json_t **out,
			    struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_BATCH_GET, err);
	sqlite3_stmt *counts = stmt(s, ST_BATCH_COUNTS, err);
	json_t *o = NULL, *by = json_object();
	char created[40], *then_status = NULL;
	int64_t created_ms = 0, total = 0, then = 0, first = 0, last = 0;
	int rc;

	if (!st || !counts || !by) {
		json_decref(by);
		return st && counts ?
			ac_error_set(err, AC_EXIT_FAILED, "out of memory") : -1;
	}
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		created_ms = sqlite3_column_int64(st, 0);
		total = sqlite3_column_int64(st, 1);
		then = col_time(st, 2);
		then_status = column_dup(st, 3, NULL);
		first = col_time(st, 4);
		last = col_time(st, 5);
	}
	done(st);
	if (rc != SQLITE_ROW) {
		json_decref(by);
		return rc == SQLITE_DONE ?
			ac_error_set(err, AC_EXIT_USAGE, "no batch %lld",
				     (long long)id) :
			db_error(s, err, "reading a batch");
	}
	for (int i = 0; i < AC_TASK_STATUS_COUNT; i++)
		json_object_set_new(by, ac_task_status_name(i),
				    json_integer(0));
	sqlite3_bind_int64(counts, 1, id);
	sqlite3_bind_int64(counts, 2, first);
	sqlite3_bind_int64(counts, 3, last);
	while ((rc = sqlite3_step(counts)) == SQLITE_ROW)
		json_object_set_new(by, col_text(counts, 0),
				    json_integer(sqlite3_column_int64(counts,
								      1)));
	done(counts);
	if (rc != SQLITE_DONE) {
		json_decref(by);
		free(then_status);
		return db_error(s, err, "reading a batch");
	}
	o = ac_batch_json(id, ac_format_time(created_ms, created,
					     sizeof created),
			  total, by, then, then_status);
	free(then_status);
	if (!o)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	*out = o;
	return 0;
}

static int sqlite_task_awaiting(struct ac_store *base, int64_t id, int on,
				struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_AWAITING, err);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, on ? 1 : 0);
	return exec_stmt(s, st, err, "marking a task as waiting");
}

/* --------------------------------------------------------- schedules */


static int sched_read(sqlite3_stmt *st, struct ac_schedule_row *r)
{
	memset(r, 0, sizeof *r);
	r->name = column_dup(st, 0, NULL);
	r->cron = column_dup(st, 1, NULL);
	r->tz = column_dup(st, 2, NULL);
	r->type = column_dup(st, 3, NULL);
	r->data = column_dup(st, 4, NULL);
	r->priority = sqlite3_column_int(st, 5);
	r->max_retries = sqlite3_column_int(st, 6);
	r->timeout_ms = sqlite3_column_int64(st, 7);
	r->expires_ms = sqlite3_column_int64(st, 8);
	r->route_key = column_dup(st, 9, NULL);
	r->tags = column_dup(st, 10, NULL);
	r->meta = column_dup(st, 11, NULL);
	r->max_reclaims = sqlite3_column_int(st, 12);
	r->overlap = sqlite3_column_int(st, 13);
	r->catch_up_ms = sqlite3_column_int64(st, 14);
	r->paused = sqlite3_column_int(st, 15);
	r->reason = column_dup(st, 16, NULL);
	r->next_at = col_time(st, 17);
	r->last_slot = col_time(st, 18);
	r->last_task = col_time(st, 19);
	r->fired = sqlite3_column_int64(st, 20);
	r->skipped = sqlite3_column_int64(st, 21);
	r->missed = sqlite3_column_int64(st, 22);
	r->created = sqlite3_column_int64(st, 23);
	r->updated = sqlite3_column_int64(st, 24);
	r->last_status = column_dup(st, 25, NULL);
	if (!r->name || !r->cron || !r->type || !r->data) {
		ac_schedule_row_release(r);
		return -1;
	}
	return 0;
}

/* Rows of st (bound) into a new array of *n. */
static int sched_rows(struct sqlite_store *s, sqlite3_stmt *st,
		      struct ac_schedule_row **rows, size_t *n,
		      struct ac_error *err)
{
	struct ac_schedule_row *out = NULL;
	size_t cap = 0;
	int rc;

	*rows = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			struct ac_schedule_row *grown;

			cap = cap ? cap * 2 : 4;
			grown = realloc(out, cap * sizeof *out);
			if (!grown)
				break;
			out = grown;
		}
		if (sched_read(st, &out[*n]) < 0)
			break;
		(*n)++;
	}
	done(st);
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < *n; i++)
			ac_schedule_row_release(&out[i]);
		free(out);
		*n = 0;
		return rc == SQLITE_ROW ?
			ac_error_set(err, AC_EXIT_FAILED, "out of memory") :
			db_error(s, err, "reading schedules");
	}
	*rows = out;
	return 0;
}

static void bind_schedule(sqlite3_stmt *st, const struct ac_schedule_spec *sp,
			  int64_t next_at, int64_t now)
{
	const struct ac_task_spec *t = &sp->task;

	sqlite3_bind_text(st, 1, sp->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sp->cron, -1, SQLITE_STATIC);
	bind_text_or_null(st, 3, sp->tz);
	sqlite3_bind_text(st, 4, t->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, t->data, (int)t->data_len, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, t->priority);
	sqlite3_bind_int(st, 7, t->max_retries);
	sqlite3_bind_int64(st, 8, t->timeout_ms);
	sqlite3_bind_int64(st, 9, t->expires_ms);
	bind_text_or_null(st, 10, t->route_key);
	bind_text_or_null(st, 11, t->tags);
	bind_text_or_null(st, 12, t->meta);
	sqlite3_bind_int(st, 13, t->max_reclaims);
	sqlite3_bind_int(st, 14, sp->overlap);
	sqlite3_bind_int64(st, 15, sp->catch_up_ms);
	if (next_at > 0)
		sqlite3_bind_int64(st, 16, next_at);
	else
		sqlite3_bind_null(st, 16);
	sqlite3_bind_int64(st, 17, now);
}

static int sqlite_schedule_add(struct ac_store *base,
			       const struct ac_schedule_spec *spec,
			       int replace, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *ins = stmt(s, ST_SCHED_INSERT, err);
	sqlite3_stmt *upd = stmt(s, ST_SCHED_REPLACE, err);
	int64_t now = ac_now_ms(), next_at;

	if (!ins || !upd)
		return -1;
	if (ac_schedule_first(spec->cron, spec->tz, now, &next_at, err) < 0)
		return -1;
	if (tx_begin(s, err) < 0)
		return -1;
	bind_schedule(ins, spec, next_at, now);
	if (exec_stmt(s, ins, err, "adding a schedule") < 0)
		goto fail;
	if (sqlite3_changes(s->db) == 0) {
		if (!replace) {
			ac_error_set(err, AC_EXIT_FAILED,
				     "schedule '%s' exists (--replace changes it)",
				     spec->name);
			goto fail;
		}
		bind_schedule(upd, spec, next_at, now);
		if (exec_stmt(s, upd, err, "changing a schedule") < 0)
			goto fail;
	}
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	tx_rollback(s);
	return -1;
}

static int sqlite_schedule_change(struct ac_store *base, const char *name,
				  enum ac_schedule_change change,
				  const char *reason, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *get = stmt(s, ST_SCHED_GET, err), *st = NULL;
	struct ac_schedule_row *rows = NULL;
	size_t n = 0;
	int64_t now = ac_now_ms(), next_at = 0;

	if (!get || tx_begin(s, err) < 0)
		return -1;
	sqlite3_bind_text(get, 1, name, -1, SQLITE_STATIC);
	if (sched_rows(s, get, &rows, &n, err) < 0)
		goto fail;
	if (n == 0) {
		ac_error_set(err, AC_EXIT_FAILED, "no schedule '%s'", name);
		goto fail;
	}
	switch (change) {
	case AC_SCHEDULE_PAUSE:
		if (!(st = stmt(s, ST_SCHED_PAUSE, err)))
			goto fail;
		bind_text_or_null(st, 2, reason);
		sqlite3_bind_int64(st, 3, now);
		break;
	case AC_SCHEDULE_RESUME:
		/* Slots that passed while paused are not caught up. */
		if (ac_schedule_first(rows[0].cron, rows[0].tz, now, &next_at,
				      err) < 0 ||
		    !(st = stmt(s, ST_SCHED_RESUME, err)))
			goto fail;
		if (next_at > 0)
			sqlite3_bind_int64(st, 2, next_at);
		else
			sqlite3_bind_null(st, 2);
		sqlite3_bind_int64(st, 3, now);
		break;
	case AC_SCHEDULE_REMOVE:
		if (!(st = stmt(s, ST_SCHED_REMOVE, err)))
			goto fail;
		break;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (exec_stmt(s, st, err, "changing a schedule") < 0)
		goto fail;
	ac_schedule_rows_free(rows, n);
	return tx_commit(s, err) < 0 ? (tx_rollback(s), -1) : 0;
fail:
	ac_schedule_rows_free(rows, n);
	tx_rollback(s);
	return -1;
}

static int sqlite_schedules_list(struct ac_store *base, const char *name,
				 json_t **out, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, name ? ST_SCHED_GET : ST_SCHED_LIST, err);
	struct ac_schedule_row *rows;
	size_t n;
	json_t *arr;

	if (!st)
		return -1;
	if (name)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sched_rows(s, st, &rows, &n, err) < 0)
		return -1;
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
 * caller's transaction. */
static int sched_submit(struct sqlite_store *s,
			const struct ac_schedule_row *r,
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

/* One due schedule, in the caller's transaction. */
static int sched_task_status(struct ac_store *base, int64_t id,
			     enum ac_task_status *status, struct ac_error *err)
{
	if (read_status((struct sqlite_store *)base, id, status, err) == 0)
		return 0;
	if (err->exit_code != AC_EXIT_USAGE)
		return -1;
	ac_error_clear(err);
	return 1;
}

static int sched_cancel(struct ac_store *base, int64_t id, int running,
			int64_t now, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *c = stmt(s, running ? ST_CANCEL_ASK : ST_CANCEL_NOW, err);

	if (!c)
		return -1;
	sqlite3_bind_int64(c, 1, id);
	if (!running)
		sqlite3_bind_int64(c, 2, now);
	return exec_stmt(s, c, err, "cancelling a task");
}

static int sched_submit_step(struct ac_store *base,
			     const struct ac_schedule_row *r, int64_t slot,
			     int64_t now, int64_t *task, int *existed,
			     struct ac_error *err)
{
	return sched_submit((struct sqlite_store *)base, r, slot, now, task,
			    existed, err);
}

static int sched_update(struct ac_store *base, const struct ac_schedule_row *r,
			const struct ac_schedule_step *step, int64_t task,
			int fired, int skipped, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *upd = stmt(s, ST_SCHED_UPDATE, err);

	if (!upd)
		return -1;
	sqlite3_bind_text(upd, 1, r->name, -1, SQLITE_STATIC);
	if (step->next_at > 0)
		sqlite3_bind_int64(upd, 2, step->next_at);
	else
		sqlite3_bind_null(upd, 2);
	if (step->fire_slot)
		sqlite3_bind_int64(upd, 3, step->fire_slot);
	else
		sqlite3_bind_null(upd, 3);
	if (task)
		sqlite3_bind_int64(upd, 4, task);
	else
		sqlite3_bind_null(upd, 4);
	sqlite3_bind_int(upd, 5, fired);
	sqlite3_bind_int(upd, 6, skipped);
	sqlite3_bind_int64(upd, 7, step->missed);
	return exec_stmt(s, upd, err, "moving a schedule on");
}

static const struct ac_schedule_fire_ops sched_fire_ops = {
	sched_task_status, sched_cancel, sched_submit_step, sched_update,
};

static int sched_next_in(struct sqlite_store *s, int64_t now,
			 int64_t *next_in, struct ac_error *err)
{
	sqlite3_stmt *st = stmt(s, ST_SCHED_NEXT, err);
	int rc;

	*next_in = -1;
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		int64_t at = sqlite3_column_int64(st, 0);

		*next_in = at > now ? at - now : 0;
	}
	done(st);
	return rc == SQLITE_ROW ? 0 : db_error(s, err, "reading schedules");
}

static int sqlite_schedules_fire(struct ac_store *base,
				 struct ac_fired **fired, size_t *nfired,
				 int64_t *next_in, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *due = stmt(s, ST_SCHED_DUE, err);
	struct ac_schedule_row *rows = NULL;
	size_t n = 0;
	int64_t now = ac_now_ms();

	*fired = NULL;
	*nfired = 0;
	if (!due)
		return -1;
	/* Nothing due, as nearly always: a read, no write lock. */
	if (sched_next_in(s, now, next_in, err) < 0)
		return -1;
	if (*next_in != 0)
		return 0;
	if (tx_begin(s, err) < 0)
		return -1;
	now = ac_now_ms();
	sqlite3_bind_int64(due, 1, now);
	if (sched_rows(s, due, &rows, &n, err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (ac_schedule_fire_one(&sched_fire_ops, &s->base,
					 &rows[i], now, fired, nfired,
					 err) < 0) {
			ac_error_prefix(err, "schedule '%s'", rows[i].name);
			goto fail;
		}
	if (sched_next_in(s, now, next_in, err) < 0 || tx_commit(s, err) < 0)
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

static int sqlite_schedule_run(struct ac_store *base, const char *name,
			       struct ac_fired *fired, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *get = stmt(s, ST_SCHED_GET, err);
	sqlite3_stmt *ran = stmt(s, ST_SCHED_RAN, err);
	struct ac_fired *list = NULL;
	struct ac_schedule_row *rows = NULL;
	size_t n = 0, nlist = 0;
	int64_t now = ac_now_ms(), task = 0;
	int existed;

	if (!get || !ran || tx_begin(s, err) < 0)
		return -1;
	sqlite3_bind_text(get, 1, name, -1, SQLITE_STATIC);
	if (sched_rows(s, get, &rows, &n, err) < 0)
		goto fail;
	if (n == 0) {
		ac_error_set(err, AC_EXIT_FAILED, "no schedule '%s'", name);
		goto fail;
	}
	if (sched_submit(s, &rows[0], 0, now, &task, &existed, err) < 0)
		goto fail;
	sqlite3_bind_text(ran, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ran, 2, task);
	if (exec_stmt(s, ran, err, "recording a run") < 0)
		goto fail;
	if (ac_fired_append(&list, &nlist, &rows[0], AC_FIRED_TASK, 0, task,
			    0, 0) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto fail;
	}
	if (tx_commit(s, err) < 0)
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

static int sqlite_budget_set(struct ac_store *base, const char *name,
			     const char *limits, int reset,
			     struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
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

static int sqlite_budget_remove(struct ac_store *base, const char *name,
				struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *unlink = stmt(s, ST_BUDGET_UNLINK, err);
	sqlite3_stmt *del = stmt(s, ST_BUDGET_DELETE, err);

	if (!unlink || !del || tx_begin(s, err) < 0)
		return -1;
	/* Unlinked first: a held task queued again while its spent budget
	 * is still there would be held again by the trigger. */
	sqlite3_bind_text(unlink, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(unlink, 2, ac_now_ms());
	sqlite3_bind_text(del, 1, name, -1, SQLITE_STATIC);
	if (exec_stmt(s, unlink, err, "releasing a budget's tasks") < 0 ||
	    exec_stmt(s, del, err, "removing a budget") < 0)
		goto fail;
	if (sqlite3_changes(s->db) == 0) {
		ac_error_set(err, AC_EXIT_FAILED, "no budget named '%s'", name);
		goto fail;
	}
	if (tx_commit(s, err) < 0)
		goto fail;
	return 0;
fail:
	tx_rollback(s);
	return -1;
}

static json_t *budget_row_json(sqlite3_stmt *st, void *counts)
{
	struct ac_budget_row row = {
		.name = col_text(st, 0),
		.limits = col_text(st, 1),
		.usage = col_text(st, 2),
		.spent = sqlite3_column_int(st, 3),
		.spent_at = col_time(st, 4),
		.created = col_time(st, 5),
		.updated = col_time(st, 6),
	};

	return ac_budget_json(&row, counts);
}

static int sqlite_budgets_list(struct ac_store *base, const char *name,
			       json_t **out, struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *cnt = stmt(s, name ? ST_BUDGET_TASKS_ONE : ST_BUDGET_TASKS,
				 err);
	sqlite3_stmt *st = stmt(s, name ? ST_BUDGET_ONE : ST_BUDGET_LIST, err);
	json_t *counts = json_object();
	int rc, oom = !counts;

	if (!cnt || !st) {
		json_decref(counts);
		return -1;
	}
	if (name)
		sqlite3_bind_text(cnt, 1, name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(cnt)) == SQLITE_ROW && !oom)
		oom = ac_budget_count_add(counts, col_text(cnt, 0),
					  col_text(cnt, 1),
					  sqlite3_column_int(cnt, 2),
					  sqlite3_column_int64(cnt, 3)) < 0;
	done(cnt);
	if (oom || (rc != SQLITE_DONE && rc != SQLITE_ROW)) {
		json_decref(counts);
		return oom ? ac_error_set(err, AC_EXIT_FAILED, "out of memory") :
			db_error(s, err, "counting budgets' tasks");
	}
	if (name)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = collect_rows(s, st, 0, budget_row_json, counts, "listing budgets",
			  out, err);
	json_decref(counts);
	if (rc < 0)
		return -1;
	if (name && json_array_size(*out) == 0) {
		json_decref(*out);
		*out = NULL;
		return ac_error_set(err, AC_EXIT_FAILED, "no budget named '%s'",
				    name);
	}
	return 0;
}

static int sqlite_usage_by_type(struct ac_store *base, json_t **out,
				struct ac_error *err)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_TYPE_USAGE_LIST, err);
	int rc;

	if (!st)
		return -1;
	if (!(*out = json_object()))
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *u = json_loads(col_text(st, 1), 0, NULL);

		json_object_set_new(*out, col_text(st, 0),
				    u ? u : json_object());
	}
	done(st);
	if (rc != SQLITE_DONE) {
		json_decref(*out);
		*out = NULL;
		return db_error(s, err, "reading usage by type");
	}
	return 0;
}

const struct ac_store_ops ac_store_sqlite_ops = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.submit = sqlite_submit,
	.submit_many = sqlite_submit_many,
	.retry = sqlite_retry,
	.task_states = sqlite_task_states,
	.task_ends = sqlite_task_ends,
	.task_get = sqlite_task_get,
	.tasks_list = sqlite_tasks_list,
	.queue_depth = sqlite_queue_depth,
	.task_counts = sqlite_task_counts,
	.workers_list = sqlite_workers_list,
	.worker_register = sqlite_worker_register,
	.worker_set_handlers = sqlite_worker_set_handlers,
	.worker_cycle = sqlite_worker_cycle,
	.worker_heartbeat = sqlite_worker_heartbeat,
	.sweep = sqlite_sweep,
	.task_checkpoint = sqlite_task_checkpoint,
	.task_report = sqlite_task_report,
	.cancel = sqlite_cancel,
	.worker_cancels = sqlite_worker_cancels,
	.drain = sqlite_drain,
	.worker_control = sqlite_worker_control,
	.worker_running = sqlite_worker_running,
	.counter_add = sqlite_counter_add,
	.mark_lost = sqlite_mark_lost,
	.changed = sqlite_changed,
	.prune = sqlite_prune,
	.tasks_ended = sqlite_tasks_ended,
	.requeue = sqlite_requeue,
	.queue_set = sqlite_queue_set,
	.queues_list = sqlite_queues_list,
	.wait_fd = sqlite_wait_fd,
	.set_deadline = sqlite_set_deadline,
	.task_parents = sqlite_task_parents,
	.task_links = sqlite_task_links,
	.batch_get = sqlite_batch_get,
	.task_awaiting = sqlite_task_awaiting,
	.schedule_add = sqlite_schedule_add,
	.schedule_change = sqlite_schedule_change,
	.schedules_list = sqlite_schedules_list,
	.schedules_fire = sqlite_schedules_fire,
	.schedule_run = sqlite_schedule_run,
	.budget_set = sqlite_budget_set,
	.budget_remove = sqlite_budget_remove,
	.budgets_list = sqlite_budgets_list,
	.usage_by_type = sqlite_usage_by_type,
};
