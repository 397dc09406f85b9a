/* Contract tests of the store (lib/store.h), one suite for every backend:
 * claim order, priorities, delays, required tags, leases and fencing,
 * retries and back-off, tempfail, idempotency keys, drain/undo, worker
 * registration, retention pruning, task counts kept by every change and
 * made when an older store is migrated, many claimers at once.
 *
 * AC_TEST_STORE chooses the backend: unset, empty or "sqlite" for SQLite
 * files in a new temporary directory (an existing directory instead puts
 * that temporary directory there); a postgres:// or postgresql:// URL for
 * that PostgreSQL database, whose public schema is dropped and made anew
 * for every group of tests (so never point it at a database you keep).
 * Each group starts on an empty store.  A few white-box helpers reach into
 * the tables (tasks, attempts) with the backend's own client library, to
 * skip a back-off or age a task; the schemas share table and column names.
 * Tests of one backend's own nature are reported "# SKIP" on the other.
 * TAP output; exit 1 on any failure. */
#include "error.h"
#include "exitcode.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int test_no, failures;
static char tmpdir[256];
static int store_seq;
static char cur_path[512];      /* SQLite: the current store's file */
static const char *pg_url;      /* PostgreSQL: the database; NULL = SQLite */
static PGconn *pg_admin;        /* white-box connection to pg_url */

static void check(int ok, const char *name)
{
	test_no++;
	printf("%sok %d - %s\n", ok ? "" : "not ", test_no, name);
	if (!ok)
		failures++;
}

/* A test that does not apply to this backend still gets its number, so
 * that both backends report the same plan. */
static void skip(const char *name, const char *why)
{
	test_no++;
	printf("ok %d - %s # SKIP %s\n", test_no, name, why);
}

static void diag(const char *what, const struct ac_error *err)
{
	printf("# %s: exit %d: %s\n", what, err->exit_code, err->msg);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The URL of the current store, for another handle or process. */
static const char *store_url(void)
{
	return pg_url ? pg_url : cur_path;
}

static void ignore_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static PGconn *admin_conn(void)
{
	if (pg_admin && PQstatus(pg_admin) == CONNECTION_OK)
		return pg_admin;
	PQfinish(pg_admin);
	pg_admin = PQconnectdb(pg_url);
	if (PQstatus(pg_admin) != CONNECTION_OK) {
		printf("# connecting to %s: %s", pg_url,
		       PQerrorMessage(pg_admin));
		PQfinish(pg_admin);
		pg_admin = NULL;
		return NULL;
	}
	/* DROP SCHEMA ... CASCADE lists what it dropped as notices. */
	PQsetNoticeProcessor(pg_admin, ignore_notice, NULL);
	return pg_admin;
}

/* PostgreSQL: an empty public schema, for the store to create its tables
 * in afresh.  lock_timeout: a handle a test forgot to close must fail the
 * test, not hang it. */
static int pg_reset(void)
{
	PGconn *c = admin_conn();
	PGresult *r;
	int ok;

	if (!c)
		return -1;
	r = PQexec(c, "SET lock_timeout = '20s'; "
		   "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		printf("# resetting %s: %s", pg_url, PQerrorMessage(c));
	PQclear(r);
	return ok ? 0 : -1;
}

/* An empty store that no handle has opened yet: a new file name on SQLite,
 * an empty schema on PostgreSQL. */
static int fresh_url(void)
{
	snprintf(cur_path, sizeof cur_path, "%s/store%d.db", tmpdir,
		 ++store_seq);
	return pg_url ? pg_reset() : 0;
}

static struct ac_store *fresh_store(void)
{
	struct ac_store *s = NULL;
	struct ac_error err;

	if (fresh_url() < 0)
		return NULL;
	ac_error_clear(&err);
	if (ac_store_open(store_url(), 1, &s, &err) < 0) {
		diag("opening a fresh store", &err);
		return NULL;
	}
	return s;
}

/* White-box: run sql on the current store's tables, with up to two integer
 * parameters $1 and $2; *out (when given) gets the first column of the
 * first row.  0, or -1 with a diagnostic. */
static int wb_sql(const char *sql, int nparams, int64_t a, int64_t b,
		  long long *out)
{
	if (pg_url) {
		PGconn *c = admin_conn();
		char pa[24], pb[24];
		const char *params[2] = { pa, pb };
		PGresult *r;
		int ok;

		if (!c)
			return -1;
		snprintf(pa, sizeof pa, "%lld", (long long)a);
		snprintf(pb, sizeof pb, "%lld", (long long)b);
		r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
		     PQresultStatus(r) == PGRES_TUPLES_OK;
		if (ok && out) {
			ok = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0);
			if (ok)
				*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		}
		if (!ok)
			printf("# white-box '%s': %s", sql,
			       PQerrorMessage(c));
		PQclear(r);
		return ok ? 0 : -1;
	} else {
		sqlite3 *db;
		sqlite3_stmt *st = NULL;
		char *q = strdup(sql);
		int rc;

		/* $N is PostgreSQL's; SQLite's numbered form is ?N. */
		if (!q)
			return -1;
		for (char *p = q; *p; p++)
			if (*p == '$')
				*p = '?';
		if (sqlite3_open_v2(cur_path, &db, SQLITE_OPEN_READWRITE,
				    NULL) != SQLITE_OK) {
			free(q);
			sqlite3_close(db);
			return -1;
		}
		sqlite3_busy_timeout(db, 5000);
		rc = sqlite3_prepare_v2(db, q, -1, &st, NULL);
		if (rc == SQLITE_OK && nparams > 0)
			sqlite3_bind_int64(st, 1, a);
		if (rc == SQLITE_OK && nparams > 1)
			sqlite3_bind_int64(st, 2, b);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW && out)
				*out = sqlite3_column_int64(st, 0);
			if (rc == SQLITE_ROW || rc == SQLITE_DONE)
				rc = out && rc != SQLITE_ROW ? SQLITE_ERROR :
				     SQLITE_OK;
		}
		if (rc != SQLITE_OK)
			printf("# white-box '%s': %s\n", sql, sqlite3_errmsg(db));
		sqlite3_finalize(st);
		sqlite3_close(db);
		free(q);
		return rc == SQLITE_OK ? 0 : -1;
	}
}

/* White-box: make a pending task due now, to skip a back-off in a test. */
static int make_due(int64_t id)
{
	return wb_sql("UPDATE tasks SET run_at = 0 WHERE id = $1", 1, id, 0,
		      NULL);
}

/* White-box: a count; -1 on error. */
static long long wb_count(const char *sql, int nparams, int64_t a)
{
	long long n = -1;

	return wb_sql(sql, nparams, a, 0, &n) < 0 ? -1 : n;
}

static struct ac_task_spec spec(const char *type, int priority)
{
	struct ac_task_spec t;

	memset(&t, 0, sizeof t);
	t.type = type;
	t.data = "{\"x\":1}";
	t.data_len = strlen(t.data);
	t.priority = priority;
	t.max_reclaims = 3;
	return t;
}

static int64_t submit1(struct ac_store *s, const struct ac_task_spec *t)
{
	struct ac_submitted out = { 0, 0 };
	struct ac_error err;

	ac_error_clear(&err);
	if (s->ops->submit(s, t, 1, &out, &err) < 0) {
		diag("submit", &err);
		return -1;
	}
	return out.id;
}

/* Claim up to max tasks of types for worker; returns the count or -1. */
static long claim(struct ac_store *s, const char *worker,
		  const char *const *types, size_t ntypes, const char *tags,
		  size_t max, int64_t lease_ms, struct ac_claimed **out,
		  struct ac_worker_control *ctl)
{
	struct ac_claim_request req = { types, ntypes, tags, max, lease_ms, NULL, 0 };
	struct ac_worker_state st = { "idle", 0, 0, 0 };
	struct ac_worker_control ctl_local;
	struct ac_claimed *tasks = NULL;
	size_t n = 0;
	struct ac_error err;

	ac_error_clear(&err);
	if (s->ops->worker_cycle(s, worker, &st, NULL, 0, &req, &tasks, &n,
				 ctl ? ctl : &ctl_local, &err) < 0) {
		diag("worker_cycle", &err);
		return -1;
	}
	if (out)
		*out = tasks;
	else
		ac_claimed_free_array(tasks, n);
	return (long)n;
}

static int outcome(struct ac_store *s, const char *worker, int64_t id,
		   int attempt, enum ac_outcome_kind kind, const char *result,
		   const char *error, int *accepted,
		   enum ac_task_status *status)
{
	struct ac_outcome o;
	struct ac_worker_state st = { "idle", 0, 0, 0 };
	struct ac_worker_control ctl;
	struct ac_claimed *tasks = NULL;
	size_t n = 0;
	struct ac_error err;

	memset(&o, 0, sizeof o);
	o.id = id;
	o.attempt = attempt;
	o.kind = kind;
	o.result = result;
	o.result_len = result ? strlen(result) : 0;
	o.error = error;
	o.status = AC_TASK_STATUS_COUNT;
	ac_error_clear(&err);
	if (s->ops->worker_cycle(s, worker, &st, &o, 1, NULL, &tasks, &n, &ctl,
				 &err) < 0) {
		diag("worker_cycle (outcome)", &err);
		return -1;
	}
	ac_claimed_free_array(tasks, n);
	*accepted = o.accepted;
	if (status)
		*status = o.status;
	return 0;
}

static json_t *task(struct ac_store *s, int64_t id)
{
	json_t *t = NULL;
	struct ac_error err;

	ac_error_clear(&err);
	if (s->ops->task_get(s, id, &t, &err) < 0) {
		diag("task_get", &err);
		return NULL;
	}
	return t;
}

static const char *task_str(struct ac_store *s, int64_t id, const char *key,
			    char *buf, size_t size)
{
	json_t *t = task(s, id);
	json_t *v = t ? json_object_get(t, key) : NULL;

	if (!v || json_is_null(v))
		snprintf(buf, size, "(null)");
	else if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else {
		char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		snprintf(buf, size, "%s", d ? d : "?");
		free(d);
	}
	json_decref(t);
	return buf;
}

static long long task_int(struct ac_store *s, int64_t id, const char *key)
{
	json_t *t = task(s, id);
	long long v = -999;

	if (t && json_is_integer(json_object_get(t, key)))
		v = json_integer_value(json_object_get(t, key));
	json_decref(t);
	return v;
}

static int status_is(struct ac_store *s, int64_t id, const char *want)
{
	char buf[64];

	return !strcmp(task_str(s, id, "status", buf, sizeof buf), want);
}

static long long total_tasks(struct ac_store *s)
{
	json_t *c = NULL;
	struct ac_error err;
	const char *k;
	json_t *v;
	long long n = 0;

	ac_error_clear(&err);
	if (s->ops->task_counts(s, &c, &err) < 0)
		return -1;
	json_object_foreach(c, k, v)
		n += json_integer_value(v);
	json_decref(c);
	return n;
}

/* Register a worker whose heartbeat is lease_ms / 6 (as ac-worker allows). */
static int register_worker_lease(struct ac_store *s, const char *id, long pid,
				 int64_t lease_ms, struct ac_error *err)
{
	struct ac_worker_record rec;
	struct ac_worker_control ctl;

	memset(&rec, 0, sizeof rec);
	rec.id = id;
	rec.host = "unit-host";
	rec.pid = pid;
	rec.concurrency = 2;
	rec.tags = "[]";
	rec.handlers = "[\"a\",\"b\"]";
	rec.heartbeat_ms = lease_ms / 6;
	rec.lease_ms = lease_ms;
	ac_error_clear(err);
	return s->ops->worker_register(s, &rec, &ctl, err);
}

static int register_worker(struct ac_store *s, const char *id, long pid,
			   struct ac_error *err)
{
	return register_worker_lease(s, id, pid, 30000, err);
}

static const char *const types_ab[] = { "a", "b" };
static const char *const types_a[] = { "a" };

/* Opening: what a store URL names.  The SQLite file checks are SQLite's
 * own; the rest holds for every backend. */
static void test_open(void)
{
	static const char *const sqlite_names[] = {
		"open: a missing store with create=0 fails (69) and creates nothing",
		"open: a store in a missing directory fails with 69",
		"open: create=1 creates the store",
		"open: sqlite:PATH opens the same file",
	};
	struct ac_store *s = NULL;
	struct ac_error err;
	char path[512];
	int64_t t0;

	int ok;

	ac_error_clear(&err);
	ok = ac_store_open("postgres://x", 1, &s, &err) < 0 &&
	     err.exit_code == AC_EXIT_UNAVAILABLE && !strchr(err.msg, '\n');
	check(ok, "open: postgres://x (no such host) fails with 69, one line");
	if (!ok)
		diag("postgres://x", &err);
	/* Nothing listens on port 1: refused at once, not retried for long. */
	ac_error_clear(&err);
	t0 = ac_mono_ms();
	ok = ac_store_open("postgresql://postgres@127.0.0.1:1/ac", 1, &s,
			   &err) < 0 &&
	     err.exit_code == AC_EXIT_UNAVAILABLE && !strchr(err.msg, '\n') &&
	     ac_mono_ms() - t0 < 10000;
	check(ok, "open: a PostgreSQL server that is not there fails with 69 at once");
	if (!ok)
		diag("port 1", &err);

	if (pg_url) {
		for (size_t i = 0; i < sizeof sqlite_names / sizeof *sqlite_names;
		     i++)
			skip(sqlite_names[i], "sqlite only");
		return;
	}
	snprintf(path, sizeof path, "%s/missing.db", tmpdir);
	ac_error_clear(&err);
	check(ac_store_open(path, 0, &s, &err) < 0 &&
	      err.exit_code == AC_EXIT_UNAVAILABLE && access(path, F_OK) < 0,
	      sqlite_names[0]);
	ac_error_clear(&err);
	check(ac_store_open("/nonexistent/dir/x.db", 1, &s, &err) < 0 &&
	      err.exit_code == AC_EXIT_UNAVAILABLE, sqlite_names[1]);
	ac_error_clear(&err);
	check(ac_store_open(path, 1, &s, &err) == 0 && s &&
	      access(path, F_OK) == 0, sqlite_names[2]);
	ac_store_close(s);
	s = NULL;
	snprintf(path, sizeof path, "sqlite:%s/missing.db", tmpdir);
	ac_error_clear(&err);
	check(ac_store_open(path, 0, &s, &err) == 0 && s, sqlite_names[3]);
	ac_store_close(s);
}

static void test_claim_order(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec t[6];
	struct ac_submitted out[6];
	struct ac_error err;
	struct ac_claimed *c = NULL;
	int64_t order[6];
	int ok = 1;

	if (!s) {
		check(0, "claim order: store");
		return;
	}
	t[0] = spec("a", 5);
	t[1] = spec("b", 10);
	t[2] = spec("a", 10);
	t[3] = spec("b", 20);
	t[4] = spec("a", 5);
	t[5] = spec("b", 0);
	ac_error_clear(&err);
	check(s->ops->submit(s, t, 6, out, &err) == 0 &&
	      out[0].id < out[1].id && out[4].id < out[5].id &&
	      !out[0].existed, "submit: six tasks in one call, ids ascending");
	/* expected: b/20, b/10 (older), a/10, a/5 (older), a/5, b/0 */
	order[0] = out[3].id;
	order[1] = out[1].id;
	order[2] = out[2].id;
	order[3] = out[0].id;
	order[4] = out[4].id;
	order[5] = out[5].id;
	check(status_is(s, out[0].id, "queued"), "submit: status queued");
	for (int i = 0; i < 6; i++) {
		long n = claim(s, "w1", types_ab, 2, "[]", 1, 30000, &c, NULL);

		if (n != 1 || c[0].id != order[i]) {
			printf("# claim %d: got n=%ld id=%lld want %lld\n", i, n,
			       n == 1 ? (long long)c[0].id : -1LL,
			       (long long)order[i]);
			ok = 0;
		} else if (c[0].attempt != 1 || strcmp(c[0].data, "{\"x\":1}") ||
			   c[0].data_len != 7) {
			printf("# claim %d: attempt %d data %s\n", i,
			       c[0].attempt, c[0].data);
			ok = 0;
		}
		if (n > 0)
			ac_claimed_free_array(c, (size_t)n);
		c = NULL;
	}
	check(ok, "claim: highest priority first, oldest first, across two types");
	check(claim(s, "w1", types_ab, 2, "[]", 4, 30000, NULL, NULL) == 0,
	      "claim: nothing left to claim");
	check(status_is(s, order[0], "running") &&
	      !strcmp(task_str(s, order[0], "worker", (char[64]){0}, 64), "w1"),
	      "claim: claimed task is running on the worker");
	ac_store_close(s);

	/* A batch claim returns the same order, and only the worker's types. */
	s = fresh_store();
	if (!s)
		return;
	ac_error_clear(&err);
	s->ops->submit(s, t, 6, out, &err);
	{
		long n = claim(s, "w1", types_a, 1, "[]", 10, 30000, &c, NULL);

		check(n == 3 && c[0].id == out[2].id && c[1].id == out[0].id &&
		      c[2].id == out[4].id,
		      "claim: max 10 for type a gets a's three tasks in order");
		if (n > 0)
			ac_claimed_free_array(c, (size_t)n);
	}
	check(status_is(s, out[1].id, "queued") &&
	      status_is(s, out[3].id, "queued"),
	      "claim: tasks of other types stay queued");
	{
		long n = claim(s, "w2", types_ab, 2, "[]", 2, 30000, &c, NULL);

		check(n == 2 && c[0].id == out[3].id && c[1].id == out[1].id,
		      "claim: max bounds the number claimed");
		if (n > 0)
			ac_claimed_free_array(c, (size_t)n);
	}
	ac_store_close(s);
}

static void test_delay(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec t = spec("a", 5);
	int64_t id, t0;
	long n = 0;
	struct ac_claimed *c = NULL;

	if (!s) {
		check(0, "delay: store");
		return;
	}
	t.delay_ms = 600;
	t0 = ac_mono_ms();
	id = submit1(s, &t);
	check(id > 0 && status_is(s, id, "pending"),
	      "delay: a delayed task is pending");
	check(claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL) == 0 &&
	      status_is(s, id, "pending"),
	      "delay: a delayed task cannot be claimed before it is due");
	while (ac_mono_ms() - t0 < 5000) {
		n = claim(s, "w1", types_a, 1, "[]", 1, 30000, &c, NULL);
		if (n != 0)
			break;
		sleep_ms(50);
	}
	check(n == 1 && c[0].id == id && ac_mono_ms() - t0 >= 550,
	      "delay: claimed once due, not before");
	if (n > 0)
		ac_claimed_free_array(c, (size_t)n);
	ac_store_close(s);
}

static void test_tags(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec t = spec("a", 5);
	struct ac_task_spec t2 = spec("a", 5);
	int64_t id, id2;
	struct ac_claimed *c = NULL;
	long n;

	if (!s) {
		check(0, "tags: store");
		return;
	}
	t.tags = "[\"gpu\"]";
	id = submit1(s, &t);
	check(claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL) == 0,
	      "tags: a worker without tags cannot claim a task requiring gpu");
	check(claim(s, "w1", types_a, 1, "[\"cpu\"]", 1, 30000, NULL, NULL) == 0,
	      "tags: a worker with other tags cannot claim it");
	n = claim(s, "w2", types_a, 1, "[\"cpu\",\"gpu\"]", 1, 30000, &c, NULL);
	check(n == 1 && c[0].id == id,
	      "tags: a worker offering the tag claims it");
	if (n > 0)
		ac_claimed_free_array(c, (size_t)n);
	t2.tags = "[\"gpu\",\"big\"]";
	id2 = submit1(s, &t2);
	check(claim(s, "w2", types_a, 1, "[\"gpu\"]", 1, 30000, NULL, NULL) == 0,
	      "tags: all required tags are needed");
	n = claim(s, "w3", types_a, 1, "[\"big\",\"x\",\"gpu\"]", 1, 30000, &c,
		  NULL);
	check(n == 1 && c[0].id == id2, "tags: a superset of tags claims");
	if (n > 0)
		ac_claimed_free_array(c, (size_t)n);
	/* A task without requirements goes to a tagged worker too. */
	id = submit1(s, &(struct ac_task_spec){ .type = "a", .data = "1",
						.data_len = 1, .priority = 5 });
	n = claim(s, "w3", types_a, 1, "[\"gpu\"]", 1, 30000, &c, NULL);
	check(n == 1 && c[0].id == id,
	      "tags: a task requiring nothing runs on a tagged worker");
	if (n > 0)
		ac_claimed_free_array(c, (size_t)n);
	ac_store_close(s);
}

static void test_fencing(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec t = spec("a", 5);
	struct ac_claimed *c = NULL;
	int64_t id;
	int acc = -1;
	enum ac_task_status st;
	char buf[256];

	if (!s) {
		check(0, "fencing: store");
		return;
	}
	id = submit1(s, &t);
	check(claim(s, "w1", types_a, 1, "[]", 1, 30000, &c, NULL) == 1 &&
	      c[0].attempt == 1, "fencing: claimed as attempt 1");
	ac_claimed_free_array(c, 1);
	check(outcome(s, "w1", id, 2, AC_OUTCOME_COMPLETED, "\"wrong\"", NULL,
		      &acc, NULL) == 0 && acc == 0,
	      "fencing: completion with a wrong attempt is refused");
	check(status_is(s, id, "running") &&
	      !strcmp(task_str(s, id, "result", buf, sizeof buf), "(null)"),
	      "fencing: ... and leaves the task running, no result");
	check(outcome(s, "w2", id, 1, AC_OUTCOME_COMPLETED, "\"other\"", NULL,
		      &acc, NULL) == 0 && acc == 0,
	      "fencing: completion by another worker is refused");
	check(status_is(s, id, "running") &&
	      !strcmp(task_str(s, id, "worker", buf, sizeof buf), "w1") &&
	      !strcmp(task_str(s, id, "result", buf, sizeof buf), "(null)"),
	      "fencing: ... and changes nothing");
	check(outcome(s, "w2", id, 1, AC_OUTCOME_FAILED, NULL, "boom", &acc,
		      NULL) == 0 && acc == 0 &&
	      task_int(s, id, "failures") == 0 && status_is(s, id, "running"),
	      "fencing: failure by another worker is refused");
	check(outcome(s, "w1", id, 1, AC_OUTCOME_COMPLETED, "{\"ok\":true}",
		      NULL, &acc, &st) == 0 && acc == 1 &&
	      st == AC_TASK_COMPLETED,
	      "fencing: the owner's completion is accepted");
	check(status_is(s, id, "completed") &&
	      !strcmp(task_str(s, id, "result", buf, sizeof buf),
		      "{\"ok\":true}"),
	      "fencing: result stored");
	check(outcome(s, "w1", id, 1, AC_OUTCOME_COMPLETED, "\"again\"", NULL,
		      &acc, NULL) == 0 && acc == 0 &&
	      !strcmp(task_str(s, id, "result", buf, sizeof buf),
		      "{\"ok\":true}"),
	      "fencing: a second completion never overwrites the result");
	check(outcome(s, "w1", id, 1, AC_OUTCOME_FAILED, NULL, "late", &acc,
		      NULL) == 0 && acc == 0 && status_is(s, id, "completed"),
	      "fencing: a failure after completion is refused");
	ac_store_close(s);
}

static void test_retries(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec t = spec("a", 5);
	struct ac_claimed *c = NULL;
	int64_t id, before;
	int acc = -1;
	enum ac_task_status st = AC_TASK_STATUS_COUNT;
	char buf[256];
	json_t *j;

	if (!s) {
		check(0, "retries: store");
		return;
	}
	t.max_retries = 2;
	id = submit1(s, &t);
	claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL);
	before = ac_now_ms();
	check(outcome(s, "w1", id, 1, AC_OUTCOME_FAILED, NULL, "first boom",
		      &acc, &st) == 0 && acc == 1 && st == AC_TASK_PENDING,
	      "retry: a failure with retries left goes back to pending");
	check(task_int(s, id, "failures") == 1 &&
	      !strcmp(task_str(s, id, "error", buf, sizeof buf), "first boom"),
	      "retry: failure counted, error kept");
	j = task(s, id);
	{
		/* due = now + ~1 s back-off: compare RFC 3339 strings of
		 * before+900 ms and the due time. */
		char lo[40];
		const char *due = json_string_value(json_object_get(j, "due"));

		ac_format_time(before + 900, lo, sizeof lo);
		check(due && strcmp(due, lo) >= 0,
		      "retry: due at least ~1 s later (back-off)");
	}
	json_decref(j);
	check(claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL) == 0,
	      "retry: not claimable during the back-off");
	make_due(id);
	check(claim(s, "w1", types_a, 1, "[]", 1, 30000, &c, NULL) == 1 &&
	      c[0].attempt == 2, "retry: claimable once due, as attempt 2");
	ac_claimed_free_array(c, 1);
	before = ac_now_ms();
	outcome(s, "w1", id, 2, AC_OUTCOME_FAILED, NULL, "second", &acc, &st);
	j = task(s, id);
	{
		char lo[40];
		const char *due = json_string_value(json_object_get(j, "due"));

		ac_format_time(before + 1900, lo, sizeof lo);
		check(acc == 1 && st == AC_TASK_PENDING && due &&
		      strcmp(due, lo) >= 0,
		      "retry: second back-off is longer (~2 s)");
	}
	json_decref(j);
	make_due(id);
	claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL);
	outcome(s, "w1", id, 3, AC_OUTCOME_FAILED, NULL, "third", &acc, &st);
	check(acc == 1 && st == AC_TASK_FAILED && status_is(s, id, "failed") &&
	      task_int(s, id, "failures") == 3 &&
	      task_int(s, id, "attempt") == 3,
	      "retry: after retries are used up the task ends failed");
	check(strcmp(task_str(s, id, "finished", buf, sizeof buf), "(null)"),
	      "retry: a failed task has a finish time");

	/* Requeue by hand (ac-submit --retry). */
	{
		struct ac_error err;

		ac_error_clear(&err);
		check(s->ops->retry(s, id, &err) == 0 &&
		      status_is(s, id, "queued") &&
		      task_int(s, id, "failures") == 0,
		      "retry op: a failed task is queued again, failures reset");
		ac_error_clear(&err);
		check(s->ops->retry(s, id, &err) < 0 &&
		      err.exit_code == AC_EXIT_USAGE &&
		      status_is(s, id, "queued"),
		      "retry op: a queued task cannot be retried (2)");
		ac_error_clear(&err);
		check(s->ops->retry(s, 999999, &err) < 0 &&
		      err.exit_code == AC_EXIT_USAGE,
		      "retry op: an unknown id is refused (2)");
	}

	/* Timeout: uses an attempt; final status timeout. */
	t = spec("c", 5);
	id = submit1(s, &t);
	claim(s, "w1", (const char *const[]){ "c" }, 1, "[]", 1, 30000, &c,
	      NULL);
	outcome(s, "w1", id, c ? c[0].attempt : 1, AC_OUTCOME_TIMEOUT, NULL,
		"timed out", &acc, &st);
	ac_claimed_free_array(c, 1);
	c = NULL;
	check(acc == 1 && status_is(s, id, "timeout"),
	      "timeout outcome with no retries: final status timeout");
	ac_store_close(s);
}

static void test_tempfail(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec t = spec("a", 5);
	struct ac_claimed *c = NULL;
	int64_t id;
	int acc = -1;
	enum ac_task_status st;

	if (!s) {
		check(0, "tempfail: store");
		return;
	}
	t.max_retries = 0;
	id = submit1(s, &t);
	claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL);
	check(outcome(s, "w1", id, 1, AC_OUTCOME_TEMPFAIL, NULL, "busy", &acc,
		      &st) == 0 && acc == 1 && status_is(s, id, "pending") &&
	      task_int(s, id, "failures") == 0,
	      "tempfail: back to pending without counting a failure");
	check(claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL) == 0,
	      "tempfail: not claimable at once (1 s delay)");
	make_due(id);
	check(claim(s, "w1", types_a, 1, "[]", 1, 30000, &c, NULL) == 1 &&
	      c[0].attempt == 2, "tempfail: claimed again as attempt 2");
	ac_claimed_free_array(c, 1);
	check(outcome(s, "w1", id, 2, AC_OUTCOME_COMPLETED, "1", NULL, &acc,
		      &st) == 0 && acc == 1 && status_is(s, id, "completed"),
	      "tempfail: a task with retries 0 still completes afterwards");

	/* tempfail keeps the failures already counted */
	t.max_retries = 1;
	id = submit1(s, &t);
	claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL);
	outcome(s, "w1", id, 1, AC_OUTCOME_FAILED, NULL, "f", &acc, &st);
	make_due(id);
	claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL);
	outcome(s, "w1", id, 2, AC_OUTCOME_TEMPFAIL, NULL, "t", &acc, &st);
	check(acc == 1 && status_is(s, id, "pending") &&
	      task_int(s, id, "failures") == 1,
	      "tempfail: keeps the failure count");
	make_due(id);
	claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL);
	outcome(s, "w1", id, 3, AC_OUTCOME_FAILED, NULL, "f2", &acc, &st);
	check(acc == 1 && status_is(s, id, "failed") &&
	      task_int(s, id, "failures") == 2,
	      "tempfail: a later failure still ends it once retries are used");
	ac_store_close(s);
}

static void test_idempotency(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec t = spec("a", 5);
	struct ac_submitted out = { 0, 0 }, out2 = { 0, 0 };
	struct ac_error err;
	long long n;

	if (!s) {
		check(0, "idempotency: store");
		return;
	}
	t.idempotency_key = "key-1";
	ac_error_clear(&err);
	check(s->ops->submit(s, &t, 1, &out, &err) == 0 && out.id > 0 &&
	      out.existed == 0, "idempotency: first submit creates a task");
	n = total_tasks(s);
	t.data = "{\"x\":2}";
	t.data_len = strlen(t.data);
	check(s->ops->submit(s, &t, 1, &out2, &err) == 0 &&
	      out2.id == out.id && out2.existed == 1,
	      "idempotency: second submit returns the first id, existed=1");
	check(total_tasks(s) == n && n == 1,
	      "idempotency: no second task created");
	t.idempotency_key = "key-2";
	check(s->ops->submit(s, &t, 1, &out2, &err) == 0 &&
	      out2.id != out.id && out2.existed == 0,
	      "idempotency: another key makes another task");
	ac_store_close(s);
}

static int worker_drained(struct ac_store *s, const char *id, int *drained,
			  char *reason, size_t size)
{
	json_t *arr = NULL, *w;
	size_t i;
	struct ac_error err;
	int found = 0;

	ac_error_clear(&err);
	if (s->ops->workers_list(s, &arr, &err) < 0)
		return -1;
	json_array_foreach(arr, i, w) {
		if (strcmp(json_string_value(json_object_get(w, "id")), id))
			continue;
		found = 1;
		*drained = json_is_true(json_object_get(w, "drained"));
		if (reason) {
			const char *r = json_string_value(
				json_object_get(w, "drain_reason"));
			snprintf(reason, size, "%s", r ? r : "(null)");
		}
	}
	json_decref(arr);
	return found ? 0 : -1;
}

static void test_drain(void)
{
	struct ac_store *s = fresh_store();
	struct ac_error err;
	const char *both[] = { "w1", "nosuch" };
	const char *one[] = { "w1" };
	struct ac_worker_control ctl;
	int drained = -1;
	char reason[128];
	int64_t id;

	if (!s) {
		check(0, "drain: store");
		return;
	}
	check(register_worker(s, "w1", (long)getpid(), &err) == 0,
	      "register: a new worker id");
	ac_error_clear(&err);
	check(s->ops->drain(s, both, 2, "r", AC_DRAIN_SET, &err) < 0 &&
	      err.exit_code == AC_EXIT_USAGE && strstr(err.msg, "nosuch"),
	      "drain: an unknown id fails (2) naming it");
	check(worker_drained(s, "w1", &drained, NULL, 0) == 0 && drained == 0,
	      "drain: ... and the known worker was not drained");
	ac_error_clear(&err);
	check(s->ops->drain(s, one, 1, "kernel upgrade", AC_DRAIN_SET,
			    &err) == 0 &&
	      worker_drained(s, "w1", &drained, reason, sizeof reason) == 0 &&
	      drained == 1 && !strcmp(reason, "kernel upgrade"),
	      "drain: drained with reason");
	id = submit1(s, &(struct ac_task_spec){ .type = "a", .data = "1",
						.data_len = 1, .priority = 5 });
	memset(&ctl, 0, sizeof ctl);
	check(claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, &ctl) == 0 &&
	      ctl.drain == 1 && status_is(s, id, "queued"),
	      "drain: a drained worker claims nothing and is told so");
	check(register_worker(s, "w1", (long)getpid(), &err) == 0 &&
	      worker_drained(s, "w1", &drained, NULL, 0) == 0 && drained == 1,
	      "drain: survives re-registration of the same id");
	ac_error_clear(&err);
	check(s->ops->drain(s, both, 2, NULL, AC_DRAIN_UNDO, &err) < 0 &&
	      err.exit_code == AC_EXIT_USAGE &&
	      worker_drained(s, "w1", &drained, NULL, 0) == 0 && drained == 1,
	      "undo: an unknown id fails and changes nothing");
	ac_error_clear(&err);
	check(s->ops->drain(s, one, 1, NULL, AC_DRAIN_UNDO, &err) == 0 &&
	      worker_drained(s, "w1", &drained, reason, sizeof reason) == 0 &&
	      drained == 0 && !strcmp(reason, "(null)"),
	      "undo: the worker is no longer drained, reason gone");
	memset(&ctl, 0, sizeof ctl);
	check(claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, &ctl) == 1 &&
	      ctl.drain == 0 && status_is(s, id, "running"),
	      "undo: the worker claims again");
	ac_error_clear(&err);
	check(s->ops->drain(s, one, 1, NULL, AC_DRAIN_SET | AC_DRAIN_STOP,
			    &err) == 0, "drain --stop: accepted");
	memset(&ctl, 0, sizeof ctl);
	{
		long running = -1;

		check(claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, &ctl) ==
		      0 && ctl.stop == 1 && ctl.drain == 1,
		      "drain --stop: the worker is told to stop");
		ac_error_clear(&err);
		check(s->ops->worker_running(s, "w1", &running, &err) == 0 &&
		      running == 1, "worker_running: counts its running task");
	}
	ac_store_close(s);
}

static void test_register(void)
{
	struct ac_store *s = fresh_store();
	struct ac_error err;
	pid_t child;
	json_t *arr = NULL;

	if (!s) {
		check(0, "register: store");
		return;
	}
	/* The parent (the shell running us) is a live pid on this host. */
	check(register_worker(s, "held", (long)getppid(), &err) == 0,
	      "register: id taken by a live pid");
	check(register_worker(s, "held", (long)getpid(), &err) < 0 &&
	      err.exit_code == AC_EXIT_FAILED,
	      "register: refuses an id held by another live pid on this host (1)");
	printf("# %s\n", err.msg);
	check(register_worker(s, "held", (long)getppid(), &err) == 0,
	      "register: the same pid may register again");
	/* A dead pid gives its id up. */
	child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	check(register_worker(s, "gone", (long)child, &err) == 0 &&
	      register_worker(s, "gone", (long)getpid(), &err) == 0,
	      "register: an id whose pid is dead can be taken over");
	ac_error_clear(&err);
	check(s->ops->workers_list(s, &arr, &err) == 0 &&
	      json_array_size(arr) == 2, "workers_list: both workers listed");
	{
		json_t *w = json_array_get(arr, 0);
		static const char *const keys[] = {
			"id", "status", "host", "pid", "concurrency", "running",
			"completed", "failed", "tags", "handlers", "started",
			"heartbeat", "uptime_s", "listen", "metrics", "drained",
			"drain_reason",
		};
		int ok = w != NULL;

		for (size_t i = 0; ok && i < sizeof keys / sizeof keys[0]; i++)
			if (!json_object_get(w, keys[i])) {
				printf("# missing %s\n", keys[i]);
				ok = 0;
			}
		check(ok, "workers_list: every field of docs/cli.md");
	}
	json_decref(arr);
	ac_store_close(s);
}

/* A worker that re-read its handlers: only the row's types change; the
 * task it runs keeps its attempt and lease (a register would take it back). */
static void test_set_handlers(void)
{
	struct ac_store *s = fresh_store();
	struct ac_error err;
	json_t *arr = NULL, *w;
	char *text = NULL;
	int64_t id;

	if (!s) {
		check(0, "set_handlers: store");
		return;
	}
	register_worker(s, "w1", (long)getpid(), &err);
	id = submit1(s, &(struct ac_task_spec){ .type = "a", .data = "1",
						.data_len = 1, .priority = 5 });
	check(claim(s, "w1", types_a, 1, "[]", 1, 60000, NULL, NULL) == 1 &&
	      status_is(s, id, "running"), "set_handlers: a task running on w1");
	ac_error_clear(&err);
	check(s->ops->worker_set_handlers(s, "w1", "[\"a\",\"c\"]", &err) == 0,
	      "set_handlers: accepted");
	ac_error_clear(&err);
	if (s->ops->workers_list(s, &arr, &err) == 0 &&
	    (w = json_array_get(arr, 0)) != NULL)
		text = json_dumps(json_object_get(w, "handlers"), JSON_COMPACT);
	check(text && !strcmp(text, "[\"a\",\"c\"]"),
	      "set_handlers: workers_list shows the new types");
	free(text);
	json_decref(arr);
	check(status_is(s, id, "running") && task_int(s, id, "attempt") == 1 &&
	      task_int(s, id, "reclaims") == 0,
	      "set_handlers: the running task keeps its attempt");
	{
		int accepted = 0;

		check(outcome(s, "w1", id, 1, AC_OUTCOME_COMPLETED, "1", NULL,
			      &accepted, NULL) == 0 && accepted &&
		      status_is(s, id, "completed"),
		      "set_handlers: ... and its end is accepted");
	}
	ac_error_clear(&err);
	check(s->ops->worker_set_handlers(s, "nosuch", "[]", &err) < 0 &&
	      err.exit_code == AC_EXIT_FAILED && strstr(err.msg, "nosuch"),
	      "set_handlers: an unknown worker fails (1) naming it");
	ac_store_close(s);
}

static void test_lease(void)
{
	struct ac_store *s = fresh_store();
	struct ac_error err;
	struct ac_worker_state st = { "busy", 1, 0, 0 };
	struct ac_worker_control ctl;
	struct ac_claimed *c = NULL;
	struct ac_lease held[2];
	int renewed[2] = { -1, -1 };
	char before[64], after[64];
	int64_t id, id2;

	if (!s) {
		check(0, "lease: store");
		return;
	}
	register_worker(s, "w1", (long)getpid(), &err);
	id = submit1(s, &(struct ac_task_spec){ .type = "a", .data = "1",
						.data_len = 1, .priority = 5,
						.max_reclaims = 3 });
	claim(s, "w1", types_a, 1, "[]", 1, 2000, &c, NULL);
	held[0].id = id;
	held[0].attempt = c ? c[0].attempt : 1;
	held[1].id = id;
	held[1].attempt = held[0].attempt + 1;   /* not ours */
	ac_claimed_free_array(c, c ? 1 : 0);
	task_str(s, id, "lease_until", before, sizeof before);
	sleep_ms(20);
	ac_error_clear(&err);
	check(s->ops->worker_heartbeat(s, "w1", &st, 60000, held, 2, renewed,
				       &ctl, &err) == 0,
	      "heartbeat: accepted");
	task_str(s, id, "lease_until", after, sizeof after);
	check(renewed[0] == 1 && strcmp(after, before) > 0,
	      "heartbeat: renews a held lease");
	check(renewed[1] == 0, "heartbeat: does not renew another attempt");
	renewed[0] = -1;
	check(s->ops->worker_heartbeat(s, "w2", &st, 60000, held, 1, renewed,
				       &ctl, &err) == 0 && renewed[0] == 0,
	      "heartbeat: another worker cannot renew it");
	/* An expired lease is not renewed. */
	id2 = submit1(s, &(struct ac_task_spec){ .type = "b", .data = "2",
						 .data_len = 1, .priority = 5,
						 .max_reclaims = 3 });
	claim(s, "w2", (const char *const[]){ "b" }, 1, "[]", 1, 1, NULL, NULL);
	sleep_ms(30);
	held[0].id = id2;
	held[0].attempt = 1;
	renewed[0] = -1;
	s->ops->worker_heartbeat(s, "w2", &st, 60000, held, 1, renewed, &ctl,
				 &err);
	check(renewed[0] == 0, "heartbeat: an expired lease is not renewed");
	{
		int acc = -1;

		outcome(s, "w2", id2, 1, AC_OUTCOME_COMPLETED, "1", NULL, &acc,
			NULL);
		check(acc == 0 && status_is(s, id2, "running"),
		      "fencing: a completion after the lease ran out is refused");
	}
	ac_store_close(s);
}

/* The attempts array of a task: outcome of attempt n (1-based). */
static const char *attempt_outcome(struct ac_store *s, int64_t id, int n,
				   char *buf, size_t size)
{
	json_t *t = task(s, id);
	json_t *a = json_array_get(json_object_get(t, "attempts"),
				   (size_t)(n - 1));
	const char *o = json_string_value(json_object_get(a, "outcome"));

	snprintf(buf, size, "%s", o ? o : "(null)");
	json_decref(t);
	return buf;
}

static void test_sweep(void)
{
	struct ac_store *s = fresh_store();
	struct ac_error err;
	struct ac_task_spec t = spec("a", 5);
	struct ac_claimed *c = NULL;
	struct ac_lease lease;
	size_t n = 0;
	int64_t id;
	int acc = -1;
	char buf[256];

	if (!s) {
		check(0, "sweep: store");
		return;
	}
	id = submit1(s, &t);
	claim(s, "w1", types_a, 1, "[]", 1, 1, NULL, NULL);
	lease.id = id;
	lease.attempt = 1;
	sleep_ms(30);
	ac_error_clear(&err);
	check(s->ops->task_checkpoint(s, "w1", &lease, "{\"step\":1}", 10,
				      &err) == 1,
	      "checkpoint: refused once the lease ran out");
	ac_error_clear(&err);
	check(s->ops->sweep(s, &n, &err) == 0 && n == 1,
	      "sweep: takes back a task whose lease ran out");
	check(status_is(s, id, "pending") && task_int(s, id, "reclaims") == 1 &&
	      task_int(s, id, "failures") == 0,
	      "sweep: pending for a back-off, reclaims 1, no failure counted");
	check(!strcmp(attempt_outcome(s, id, 1, buf, sizeof buf), "lost"),
	      "sweep: the attempt ends as lost");
	outcome(s, "w1", id, 1, AC_OUTCOME_COMPLETED, "\"late\"", NULL, &acc,
		NULL);
	check(acc == 0 && status_is(s, id, "pending"),
	      "sweep: the lost attempt's completion is refused");
	check(s->ops->sweep(s, &n, &err) == 0 && n == 0,
	      "sweep: nothing more to take back");
	make_due(id);
	check(claim(s, "w2", types_a, 1, "[]", 1, 30000, &c, NULL) == 1 &&
	      c[0].attempt == 2, "sweep: claimed again as attempt 2");
	lease.attempt = 2;
	ac_claimed_free_array(c, 1);
	c = NULL;
	ac_error_clear(&err);
	check(s->ops->task_checkpoint(s, "w2", &lease, "{\"step\":2}", 10,
				      &err) == 0 &&
	      !strcmp(task_str(s, id, "checkpoint", buf, sizeof buf),
		      "{\"step\":2}"),
	      "checkpoint: stored for the attempt holding the lease");
	ac_error_clear(&err);
	check(s->ops->task_checkpoint(s, "w1", &lease, "{\"step\":9}", 10,
				      &err) == 1 &&
	      !strcmp(task_str(s, id, "checkpoint", buf, sizeof buf),
		      "{\"step\":2}"),
	      "checkpoint: refused for another worker");
	/* w2 re-registers (a restart): the next attempt starts with the
	 * checkpoint */
	register_worker(s, "w2", (long)getpid(), &err);
	check(claim(s, "w3", types_a, 1, "[]", 1, 30000, &c, NULL) == 1 &&
	      c[0].attempt == 3 && c[0].checkpoint &&
	      !strcmp(c[0].checkpoint, "{\"step\":2}"),
	      "checkpoint: handed to the next attempt");
	if (c)
		ac_claimed_free_array(c, 1);
	c = NULL;
	ac_store_close(s);

	/* poison: max_reclaims 0 -> failed after one loss */
	s = fresh_store();
	if (!s)
		return;
	t = spec("a", 5);
	t.max_reclaims = 0;
	id = submit1(s, &t);
	claim(s, "w1", types_a, 1, "[]", 1, 1, NULL, NULL);
	sleep_ms(30);
	s->ops->sweep(s, &n, &err);
	check(status_is(s, id, "failed") &&
	      strstr(task_str(s, id, "error", buf, sizeof buf), "lost"),
	      "sweep: a task lost more than max_reclaims times fails (poison)");
	/* cancel asked, then lost: cancelled */
	t.max_reclaims = 3;
	id = submit1(s, &t);
	claim(s, "w1", types_a, 1, "[]", 1, 1, NULL, NULL);
	{
		enum ac_task_status sts[1];

		ac_error_clear(&err);
		check(s->ops->cancel(s, &id, 1, sts, &err) == 0 &&
		      sts[0] == AC_TASK_RUNNING &&
		      status_is(s, id, "running"),
		      "cancel: a running task stays running, cancel requested");
	}
	sleep_ms(30);
	s->ops->sweep(s, &n, &err);
	check(status_is(s, id, "cancelled"),
	      "sweep: a lost task whose cancel was asked ends cancelled");
	ac_store_close(s);
}

static void test_restart_reclaim(void)
{
	struct ac_store *s = fresh_store();
	struct ac_error err;
	struct ac_claimed *c = NULL;
	int64_t id;
	char buf[64];

	if (!s) {
		check(0, "restart: store");
		return;
	}
	register_worker(s, "w1", (long)getpid(), &err);
	id = submit1(s, &(struct ac_task_spec){ .type = "a", .data = "1",
						.data_len = 1, .priority = 5,
						.max_reclaims = 3 });
	claim(s, "w1", types_a, 1, "[]", 1, 60000, NULL, NULL);
	check(status_is(s, id, "running"), "restart: task running on w1");
	check(register_worker(s, "w1", (long)getpid(), &err) == 0 &&
	      status_is(s, id, "queued") && task_int(s, id, "reclaims") == 1,
	      "restart: re-registering w1 queues its running task at once");
	check(!strcmp(attempt_outcome(s, id, 1, buf, sizeof buf), "lost"),
	      "restart: the old attempt ends as lost");
	check(claim(s, "w1", types_a, 1, "[]", 1, 60000, &c, NULL) == 1 &&
	      c[0].attempt == 2, "restart: claimable again at once");
	ac_claimed_free_array(c, 1);
	ac_store_close(s);
}

static void test_cancel_release(void)
{
	struct ac_store *s = fresh_store();
	struct ac_error err;
	struct ac_task_spec t = spec("a", 5);
	struct ac_claimed *c = NULL;
	int64_t ids[3], *asked = NULL;
	enum ac_task_status sts[3];
	size_t n = 0;
	int acc = -1;
	enum ac_task_status st;

	if (!s) {
		check(0, "cancel: store");
		return;
	}
	ids[0] = submit1(s, &t);
	t.delay_ms = 60000;
	ids[1] = submit1(s, &t);
	ac_error_clear(&err);
	check(s->ops->cancel(s, ids, 2, sts, &err) == 0 &&
	      sts[0] == AC_TASK_CANCELLED && sts[1] == AC_TASK_CANCELLED &&
	      status_is(s, ids[0], "cancelled") &&
	      status_is(s, ids[1], "cancelled"),
	      "cancel: queued and pending tasks end cancelled at once");
	t.delay_ms = 0;
	ids[0] = submit1(s, &t);
	ids[1] = 999999;
	ac_error_clear(&err);
	check(s->ops->cancel(s, ids, 2, sts, &err) < 0 &&
	      err.exit_code == AC_EXIT_USAGE && status_is(s, ids[0], "queued"),
	      "cancel: an unknown id (2) changes nothing");
	ids[1] = submit1(s, &t);
	claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL);
	outcome(s, "w1", ids[0], 1, AC_OUTCOME_COMPLETED, "1", NULL, &acc,
		NULL);
	ac_error_clear(&err);
	check(s->ops->cancel(s, ids, 2, sts, &err) < 0 &&
	      err.exit_code == AC_EXIT_FAILED &&
	      strstr(err.msg, "already ended") &&
	      status_is(s, ids[1], "queued"),
	      "cancel: an ended task (1) changes nothing");
	/* running: requested, seen by the worker, ended as cancelled */
	claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL);
	ac_error_clear(&err);
	check(s->ops->cancel(s, &ids[1], 1, sts, &err) == 0 &&
	      status_is(s, ids[1], "running"),
	      "cancel: a running task is asked to stop");
	ac_error_clear(&err);
	check(s->ops->worker_cancels(s, "w1", &asked, &n, &err) == 0 &&
	      n == 1 && asked[0] == ids[1],
	      "cancel: the worker finds its task to cancel");
	free(asked);
	outcome(s, "w1", ids[1], 1, AC_OUTCOME_CANCELLED, NULL, "cancelled",
		&acc, &st);
	check(acc == 1 && status_is(s, ids[1], "cancelled"),
	      "cancel: the cancelled outcome ends it cancelled");
	/* released: back in the queue at once, no failure */
	t.max_retries = 0;
	ids[2] = submit1(s, &t);
	claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL);
	outcome(s, "w1", ids[2], 1, AC_OUTCOME_RELEASED, NULL, "released",
		&acc, &st);
	check(acc == 1 && status_is(s, ids[2], "queued") &&
	      task_int(s, ids[2], "failures") == 0,
	      "release: queued again at once, no failure counted");
	check(claim(s, "w2", types_a, 1, "[]", 1, 30000, &c, NULL) == 1 &&
	      c[0].id == ids[2], "release: claimable at once");
	ac_claimed_free_array(c, 1);
	ac_store_close(s);
}

static void test_report(void)
{
	struct ac_store *s = fresh_store();
	struct ac_error err;
	struct ac_lease lease;
	struct ac_report r1 = { 0.25, "{\"tokens\":10}", "hello" };
	struct ac_report r2 = { 0.5, "{\"tokens\":5,\"calls\":1}", NULL };
	json_t *t;
	int64_t id;

	if (!s) {
		check(0, "report: store");
		return;
	}
	id = submit1(s, &(struct ac_task_spec){ .type = "a", .data = "1",
						.data_len = 1, .priority = 5,
						.max_reclaims = 3 });
	claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL);
	lease.id = id;
	lease.attempt = 1;
	ac_error_clear(&err);
	check(s->ops->task_report(s, "w1", &lease, &r1, &err) == 0 &&
	      s->ops->task_report(s, "w1", &lease, &r2, &err) == 0,
	      "report: accepted for the lease holder");
	t = task(s, id);
	check(t && json_real_value(json_object_get(t, "progress")) == 0.5 &&
	      json_integer_value(json_object_get(
		      json_object_get(t, "usage"), "tokens")) == 15 &&
	      json_integer_value(json_object_get(
		      json_object_get(t, "usage"), "calls")) == 1 &&
	      json_string_value(json_object_get(t, "log")) &&
	      strstr(json_string_value(json_object_get(t, "log")), "hello"),
	      "report: progress kept, usage added up, log kept");
	json_decref(t);
	lease.attempt = 2;
	check(s->ops->task_report(s, "w1", &lease, &r1, &err) == 1,
	      "report: refused for another attempt");
	ac_store_close(s);
}

static void test_reads(void)
{
	struct ac_store *s = fresh_store();
	struct ac_error err;
	struct ac_task_spec t[5];
	struct ac_submitted out[5];
	struct ac_task_filter f;
	json_t *j = NULL;
	static const char *const keys[] = {
		"id", "type", "status", "priority", "attempt", "max_retries",
		"failures", "timeout_s", "worker", "key", "tags", "meta",
		"idempotency_key", "data", "result", "error", "checkpoint",
		"progress", "usage", "log", "reclaims", "max_reclaims",
		"cancel_requested", "created", "due", "started", "finished",
		"lease_until",
	};
	int ok;

	if (!s) {
		check(0, "reads: store");
		return;
	}
	for (int i = 0; i < 5; i++)
		t[i] = spec(i < 3 ? "a" : "b", 5);
	t[0].route_key = "thread-7";
	t[0].meta = "{\"k\":\"v\"}";
	t[0].tags = "[\"gpu\"]";
	t[0].timeout_ms = 1500;
	t[0].max_retries = 4;
	t[1].delay_ms = 60000;
	ac_error_clear(&err);
	s->ops->submit(s, t, 5, out, &err);
	check(s->ops->task_get(s, out[0].id, &j, &err) == 0, "task_get: ok");
	ok = j != NULL;
	for (size_t i = 0; ok && i < sizeof keys / sizeof keys[0]; i++)
		if (!json_object_get(j, keys[i])) {
			printf("# missing %s\n", keys[i]);
			ok = 0;
		}
	check(ok, "task_get: every field of docs/cli.md");
	check(ok && !strcmp(json_string_value(json_object_get(j, "key")),
			    "thread-7") &&
	      !strcmp(json_string_value(json_object_get(
			      json_object_get(j, "meta"), "k")), "v") &&
	      json_integer_value(json_object_get(j, "max_retries")) == 4 &&
	      json_number_value(json_object_get(j, "timeout_s")) == 1.5 &&
	      json_integer_value(json_object_get(
		      json_object_get(j, "data"), "x")) == 1,
	      "task_get: values as submitted");
	json_decref(j);
	j = NULL;
	ac_error_clear(&err);
	check(s->ops->task_get(s, 999999, &j, &err) < 0 &&
	      err.exit_code == AC_EXIT_USAGE, "task_get: unknown id (2)");
	memset(&f, 0, sizeof f);
	f.limit = 100;
	check(s->ops->tasks_list(s, &f, &j, &err) == 0 &&
	      json_array_size(j) == 5 &&
	      json_integer_value(json_object_get(json_array_get(j, 0), "id")) ==
	      out[4].id, "tasks_list: all, newest first");
	json_decref(j);
	f.limit = 2;
	check(s->ops->tasks_list(s, &f, &j, &err) == 0 &&
	      json_array_size(j) == 2, "tasks_list: limit");
	json_decref(j);
	f.limit = 100;
	f.type = "b";
	check(s->ops->tasks_list(s, &f, &j, &err) == 0 &&
	      json_array_size(j) == 2, "tasks_list: type filter");
	json_decref(j);
	f.type = NULL;
	f.has_status = 1;
	f.status = AC_TASK_PENDING;
	check(s->ops->tasks_list(s, &f, &j, &err) == 0 &&
	      json_array_size(j) == 1 &&
	      json_integer_value(json_object_get(json_array_get(j, 0), "id")) ==
	      out[1].id, "tasks_list: status filter");
	json_decref(j);
	check(s->ops->task_counts(s, &j, &err) == 0 &&
	      json_integer_value(json_object_get(j, "queued")) == 4 &&
	      json_integer_value(json_object_get(j, "pending")) == 1 &&
	      json_integer_value(json_object_get(j, "expired")) == 0 &&
	      json_object_size(j) == 8, "task_counts: every status counted");
	json_decref(j);
	check(s->ops->queue_depth(s, &j, &err) == 0 && json_array_size(j) == 2,
	      "queue_depth: one row per (type, priority)");
	{
		json_t *r = json_array_get(j, 0);

		check(r && !strcmp(json_string_value(json_object_get(r, "type")),
				   "a") &&
		      json_integer_value(json_object_get(r, "queued")) == 2 &&
		      json_integer_value(json_object_get(r, "pending")) == 1 &&
		      json_integer_value(json_object_get(r, "running")) == 0,
		      "queue_depth: queued/pending/running counts");
	}
	json_decref(j);
	{
		int64_t ids[2] = { out[0].id, 999999 };
		enum ac_task_status sts[2];

		ac_error_clear(&err);
		check(s->ops->task_states(s, ids, 1, sts, &err) == 0 &&
		      sts[0] == AC_TASK_QUEUED, "task_states: status");
		check(s->ops->task_states(s, ids, 2, sts, &err) < 0,
		      "task_states: an unknown id is an error");
	}
	ac_store_close(s);
}

static void test_submit_atomic(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec t[3];
	struct ac_submitted out[3];
	struct ac_error err;

	if (!s) {
		check(0, "atomic: store");
		return;
	}
	t[0] = spec("a", 5);
	t[1] = spec("a", 5);
	t[2] = spec("a", 5);
	t[1].idempotency_key = "same";
	t[2].idempotency_key = "same";
	ac_error_clear(&err);
	check(s->ops->submit(s, t, 3, out, &err) == 0 &&
	      out[2].id == out[1].id && out[2].existed == 1 &&
	      total_tasks(s) == 2,
	      "submit: a repeated key inside one call names the first task");
	ac_store_close(s);
}

static int counts_agree(struct ac_store *s, const char *when);

/* submit_many: tasks handed over by a generator, chunk by chunk. */
struct gen {
	size_t total, handed, stored, bad_at;   /* bad_at: index given no type */
	int64_t ids[2600];
	int existed[2600];
	char data[2600][32];
};

static size_t gen_next(void *ctx, struct ac_task_spec *specs, size_t max)
{
	struct gen *g = ctx;
	size_t n = 0;

	for (; n < max && g->handed < g->total; n++, g->handed++) {
		specs[n] = spec("a", g->handed % 2 ? 5 : 10);
		snprintf(g->data[g->handed], sizeof g->data[0], "{\"i\":%zu}",
			 g->handed);
		specs[n].data = g->data[g->handed];
		specs[n].data_len = strlen(g->data[g->handed]);
		/* The same key at both ends: the second names the first. */
		if (g->handed == 7 || g->handed == g->total - 1)
			specs[n].idempotency_key = "many-key";
		if (g->handed == g->bad_at)
			specs[n].type = NULL;
	}
	return n;
}

static void gen_stored(void *ctx, const struct ac_submitted *out, size_t n)
{
	struct gen *g = ctx;

	for (size_t i = 0; i < n && g->stored < g->total; i++, g->stored++) {
		g->ids[g->stored] = out[i].id;
		g->existed[g->stored] = out[i].existed;
	}
}

static void test_submit_many(void)
{
	struct ac_store *s = fresh_store();
	struct gen *g = calloc(1, sizeof *g);
	struct ac_error err;
	int ok;

	if (!s || !g) {
		check(0, "submit_many: store");
		free(g);
		ac_store_close(s);
		return;
	}
	g->total = 2600;
	g->bad_at = (size_t)-1;
	ac_error_clear(&err);
	ok = s->ops->submit_many(s, gen_next, gen_stored, g, NULL, &err) == 0;
	if (!ok)
		diag("submit_many", &err);
	ok = ok && g->stored == g->total;
	for (size_t i = 1; ok && i < g->total - 1; i++)
		ok = g->ids[i] > g->ids[i - 1] && !g->existed[i];
	check(ok && g->existed[g->total - 1] && g->ids[g->total - 1] == g->ids[7],
	      "submit_many: every chunk's ids in order; a key repeated in a later chunk names the first task");
	check(total_tasks(s) == 2599 && counts_agree(s, "submit_many"),
	      "submit_many: all stored and counted");
	{
		char buf[64];

		check(!strcmp(task_str(s, g->ids[2000], "data", buf, sizeof buf),
			      "{\"i\":2000}"),
		      "submit_many: each task has its own data");
	}
	memset(g, 0, sizeof *g);
	g->total = 2600;
	g->bad_at = 2100;
	ac_error_clear(&err);
	check(s->ops->submit_many(s, gen_next, gen_stored, g, NULL, &err) < 0 &&
	      err.msg[0] && total_tasks(s) == 2599 &&
	      counts_agree(s, "failed submit_many"),
	      "submit_many: a task refused in a late chunk undoes them all");
	free(g);
	ac_store_close(s);
}

/* ------------------------------------------------------------ prune */

/* White-box: move a task's finish time ms into the past. */
static int age_finished(int64_t id, int64_t ms)
{
	return wb_sql("UPDATE tasks SET finished = finished - $2 WHERE id = $1",
		      2, id, ms, NULL);
}

static long long attempts_of(int64_t id)
{
	return wb_count("SELECT count(*) FROM attempts WHERE task_id = $1", 1,
			id);
}

/* The task is no longer in the store (task_get: unknown id, exit 2). */
static int gone(struct ac_store *s, int64_t id)
{
	json_t *t = NULL;
	struct ac_error err;
	int rc;

	ac_error_clear(&err);
	rc = s->ops->task_get(s, id, &t, &err);
	json_decref(t);
	return rc < 0 && err.exit_code == AC_EXIT_USAGE;
}

/* prune, returning how many went or -1. */
static long prune(struct ac_store *s, int64_t older_than_ms, int has_status,
		  enum ac_task_status status, long limit)
{
	struct ac_error err;
	size_t removed = 12345;

	ac_error_clear(&err);
	if (s->ops->prune(s, older_than_ms, has_status, status, limit,
			  &removed, &err) < 0) {
		diag("prune", &err);
		return -1;
	}
	return (long)removed;
}

/* Complete a claimed task; 1 when accepted. */
static int complete(struct ac_store *s, const char *worker,
		    const struct ac_claimed *c)
{
	int acc = -1;

	return outcome(s, worker, c->id, c->attempt, AC_OUTCOME_COMPLETED,
		       "{\"done\":1}", NULL, &acc, NULL) == 0 && acc == 1;
}

static void test_prune(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec t = spec("a", 5);
	struct ac_submitted sub = { 0, 0 };
	struct ac_claimed *c = NULL;
	struct ac_error err;
	enum ac_task_status sts[1];
	int64_t done[4], failed, cancelled, queued, running, pending, recent;
	int64_t key_id;
	long n;
	int ok = 1, acc = -1;
	const int64_t hour = 3600000, ten_min = 600000;

	if (!s) {
		check(0, "prune: store");
		return;
	}
	/* Four completed, the first with an idempotency key. */
	t.idempotency_key = "old-key";
	done[0] = submit1(s, &t);
	t.idempotency_key = NULL;
	for (int i = 1; i < 4; i++)
		done[i] = submit1(s, &t);
	n = claim(s, "w1", types_a, 1, "[]", 10, 60000, &c, NULL);
	for (long i = 0; i < n; i++)
		ok &= complete(s, "w1", &c[i]);
	if (n > 0)
		ac_claimed_free_array(c, (size_t)n);
	c = NULL;
	ok &= n == 4;
	/* One failed (no retries), one cancelled while queued. */
	t.max_retries = 0;
	failed = submit1(s, &t);
	n = claim(s, "w1", types_a, 1, "[]", 1, 60000, &c, NULL);
	ok &= n == 1 && outcome(s, "w1", failed, 1, AC_OUTCOME_FAILED, NULL,
				"boom", &acc, NULL) == 0 && acc == 1;
	if (n > 0)
		ac_claimed_free_array(c, (size_t)n);
	c = NULL;
	cancelled = submit1(s, &t);
	ac_error_clear(&err);
	ok &= s->ops->cancel(s, &cancelled, 1, sts, &err) == 0;
	/* Unfinished ones: queued, running (type b), pending (delayed). */
	queued = submit1(s, &t);
	t.type = "b";
	running = submit1(s, &t);
	ok &= claim(s, "w2", (const char *const[]){ "b" }, 1, "[]", 1, 60000,
		    NULL, NULL) == 1;
	t.type = "a";
	t.delay_ms = 3600000;
	pending = submit1(s, &t);
	t.delay_ms = 0;
	/* One completed just now. */
	recent = submit1(s, &t);
	n = claim(s, "w1", types_a, 1, "[]", 10, 60000, &c, NULL);
	ok &= n == 2;   /* queued and recent */
	for (long i = 0; i < n; i++)
		if (c[i].id == recent)
			ok &= complete(s, "w1", &c[i]);
		else
			ok &= outcome(s, "w1", c[i].id, c[i].attempt,
				      AC_OUTCOME_RELEASED, NULL, "released",
				      &acc, NULL) == 0 && acc == 1;
	if (n > 0)
		ac_claimed_free_array(c, (size_t)n);
	c = NULL;
	check(ok && status_is(s, done[0], "completed") &&
	      status_is(s, failed, "failed") &&
	      status_is(s, cancelled, "cancelled") &&
	      status_is(s, queued, "queued") &&
	      status_is(s, running, "running") &&
	      status_is(s, pending, "pending") &&
	      status_is(s, recent, "completed"),
	      "prune: tasks in every state to prune from");
	/* Age them: everything created long ago, the ended ones (but
	 * `recent`) ended hours ago, the oldest first. */
	ok = wb_sql("UPDATE tasks SET created = created - $1", 1, 10 * hour,
		    0, NULL) == 0;
	for (int i = 0; i < 4; i++)
		ok &= age_finished(done[i], (6 - i) * hour) == 0;
	ok &= age_finished(failed, 2 * hour) == 0;
	ok &= age_finished(cancelled, 2 * hour) == 0;
	check(ok, "prune: ended tasks aged by hand");

	check(prune(s, ten_min, 1, AC_TASK_QUEUED, 0) == 0 &&
	      status_is(s, queued, "queued"),
	      "prune: has_status queued removes nothing (only ended tasks go)");
	check(prune(s, ten_min, 1, AC_TASK_FAILED, 0) == 1 && gone(s, failed) &&
	      !gone(s, done[0]) && !gone(s, cancelled),
	      "prune: has_status failed removes only the old failed task");
	check(attempts_of(failed) == 0, "prune: ... with its attempts");
	ac_error_clear(&err);
	check(s->ops->submit(s, &(struct ac_task_spec){
			.type = "a", .data = "1", .data_len = 1,
			.priority = 5, .idempotency_key = "old-key" },
			     1, &sub, &err) == 0 &&
	      sub.id == done[0] && sub.existed == 1,
	      "prune: before pruning, an idempotency key names its task");
	check(prune(s, ten_min, 0, AC_TASK_COMPLETED, 2) == 2 &&
	      gone(s, done[0]) && gone(s, done[1]) && !gone(s, done[2]),
	      "prune: limit 2 removes two, the longest ended first");
	check(prune(s, ten_min, 0, AC_TASK_COMPLETED, 0) == 3 &&
	      gone(s, done[2]) && gone(s, done[3]) && gone(s, cancelled),
	      "prune: limit 0 removes every ended task older than the cutoff");
	check(!gone(s, recent) && status_is(s, recent, "completed"),
	      "prune: a task that ended recently stays");
	check(status_is(s, queued, "queued") &&
	      status_is(s, running, "running") &&
	      status_is(s, pending, "pending") && total_tasks(s) == 4,
	      "prune: unfinished tasks stay, however old");
	ok = 1;
	for (int i = 0; i < 4; i++)
		ok &= attempts_of(done[i]) == 0;
	check(ok && attempts_of(recent) == 1 && attempts_of(running) == 1,
	      "prune: attempts of pruned tasks go, the others' stay");
	check(prune(s, ten_min, 0, AC_TASK_COMPLETED, 0) == 0,
	      "prune: nothing more to remove");
	ac_error_clear(&err);
	memset(&sub, 0, sizeof sub);
	check(s->ops->submit(s, &(struct ac_task_spec){
			.type = "a", .data = "1", .data_len = 1,
			.priority = 5, .idempotency_key = "old-key" },
			     1, &sub, &err) == 0 &&
	      sub.id > recent && sub.existed == 0,
	      "prune: a pruned task's idempotency key makes a new task");
	key_id = sub.id;
	sleep_ms(20);
	check(prune(s, 0, 0, AC_TASK_COMPLETED, 0) == 1 && gone(s, recent) &&
	      !gone(s, key_id) && total_tasks(s) == 4,
	      "prune: a cutoff of 0 takes every ended task, no unfinished one");
	ac_store_close(s);
}

/* ------------------------------------------------------------ counts */

/* The store's counts (task_counts, queue_depth) agree with its tasks,
 * counted one by one with white-box queries; the differences are
 * printed.  1 when they agree. */
static int counts_agree(struct ac_store *s, const char *when)
{
	json_t *c = NULL, *d = NULL, *row;
	struct ac_error err;
	char sql[200];
	long long want, got;
	int ok = 1;
	size_t i;

	ac_error_clear(&err);
	if (s->ops->task_counts(s, &c, &err) < 0 ||
	    s->ops->queue_depth(s, &d, &err) < 0) {
		diag(when, &err);
		json_decref(c);
		return 0;
	}
	for (int st = 0; st < AC_TASK_STATUS_COUNT; st++) {
		const char *name = ac_task_status_name((enum ac_task_status)st);

		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM tasks WHERE status = '%s'", name);
		want = wb_count(sql, 0, 0);
		got = json_integer_value(json_object_get(c, name));
		if (want != got || !json_is_integer(json_object_get(c, name))) {
			printf("# %s: %lld %s counted, %lld in the store\n",
			       when, got, name, want);
			ok = 0;
		}
	}
	json_array_foreach(d, i, row) {
		static const char *const active[] = { "queued", "pending",
						      "running" };
		const char *type = json_string_value(json_object_get(row, "type"));
		int64_t prio = json_integer_value(json_object_get(row, "priority"));

		for (size_t k = 0; type && k < 3; k++) {
			/* The test's own type names: safe in a literal. */
			snprintf(sql, sizeof sql,
				 "SELECT count(*) FROM tasks WHERE type = '%s' "
				 "AND priority = $1 AND status = '%s'",
				 type, active[k]);
			want = wb_count(sql, 1, prio);
			got = json_integer_value(json_object_get(row, active[k]));
			if (want != got) {
				printf("# %s: depth of %s/%lld: %lld %s counted, %lld in the store\n",
				       when, type, (long long)prio, got,
				       active[k], want);
				ok = 0;
			}
		}
	}
	want = wb_count("SELECT count(*) FROM (SELECT DISTINCT type, priority "
			"FROM tasks WHERE status IN ('queued', 'pending', "
			"'running')) k", 0, 0);
	if (want != (long long)json_array_size(d)) {
		printf("# %s: %zu queue depth rows, %lld kinds of unfinished task\n",
		       when, json_array_size(d), want);
		ok = 0;
	}
	json_decref(c);
	json_decref(d);
	return ok;
}

/* Every change of a task's status moves the counts with it, in the
 * transaction that makes it. */
static void test_counts(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec t[6];
	struct ac_submitted out[6];
	struct ac_claimed *c = NULL;
	struct ac_error err;
	enum ac_task_status sts[1];
	json_t *d = NULL;
	size_t n = 0;
	long got;
	int ok, acc = -1;

	if (!s) {
		check(0, "counts: store");
		return;
	}
	for (int i = 0; i < 6; i++)
		t[i] = spec(i < 5 ? "a" : "b", i == 3 || i == 4 ? 10 : 5);
	t[2].idempotency_key = "k";
	t[5].delay_ms = 60000;
	ac_error_clear(&err);
	ok = s->ops->submit(s, t, 6, out, &err) == 0;
	check(ok && counts_agree(s, "submit"),
	      "counts: a batch of two types, two priorities, queued and pending");
	{
		struct ac_task_spec bad[3] = { spec("a", 5), spec("a", 5),
					       spec("a", 5) };
		struct ac_submitted again[3];

		ok = s->ops->submit(s, &t[2], 1, again, &err) == 0 &&
		     again[0].existed && again[0].id == out[2].id;
		check(ok && total_tasks(s) == 6 &&
		      counts_agree(s, "idempotency"),
		      "counts: a repeated idempotency key adds nothing");
		/* No type: the insert fails part-way and all of it is undone. */
		bad[1].type = NULL;
		ac_error_clear(&err);
		ok = s->ops->submit(s, bad, 3, again, &err) < 0;
	}
	check(ok && total_tasks(s) == 6 && counts_agree(s, "failed submit"),
	      "counts: a submit that fails part-way counts nothing");

	/* Claimed: the two of priority 10, then the oldest of priority 5. */
	got = claim(s, "w1", types_a, 1, "[]", 3, 60000, &c, NULL);
	check(got == 3 && counts_agree(s, "claim"), "counts: a claim");
	ok = got == 3 && complete(s, "w1", &c[0]) &&
	     outcome(s, "w1", c[1].id, c[1].attempt, AC_OUTCOME_FAILED, NULL,
		     "boom", &acc, NULL) == 0 && acc == 1 &&
	     outcome(s, "w1", c[2].id, c[2].attempt, AC_OUTCOME_TEMPFAIL, NULL,
		     "later", &acc, NULL) == 0 && acc == 1;
	if (got > 0)
		ac_claimed_free_array(c, (size_t)got);
	c = NULL;
	check(ok && counts_agree(s, "outcomes"),
	      "counts: completed, failed and retried later (tempfail)");

	/* The queued ones left are t[1] and t[2]: one cancelled at once. */
	ac_error_clear(&err);
	ok = s->ops->cancel(s, &out[1].id, 1, sts, &err) == 0 &&
	     sts[0] == AC_TASK_CANCELLED;
	check(ok && counts_agree(s, "cancel"), "counts: a queued task cancelled");
	if (pg_url)
		check(wb_count("SELECT count(*) FROM task_count_changes", 0,
			       0) == 0,
		      "counts: a cancel folds the changes into the counts");
	else
		skip("counts: a cancel folds the changes into the counts",
		     "postgres only");

	/* A lease that runs out: swept back to pending. */
	got = claim(s, "w2", types_a, 1, "[]", 1, 1, NULL, NULL);
	sleep_ms(30);
	ac_error_clear(&err);
	ok = got == 1 && s->ops->sweep(s, &n, &err) == 0 && n == 1;
	check(ok && counts_agree(s, "sweep"), "counts: a lost task swept back");
	if (pg_url)
		check(wb_count("SELECT count(*) FROM task_count_changes", 0,
			       0) == 0,
		      "counts: a sweep folds the changes into the counts");
	else
		skip("counts: a sweep folds the changes into the counts",
		     "postgres only");

	/* The failed task back in the queue. */
	ac_error_clear(&err);
	ok = wb_count("SELECT id FROM tasks WHERE status = 'failed'", 0, 0) > 0 &&
	     s->ops->retry(s, wb_count("SELECT id FROM tasks WHERE status = 'failed'",
				       0, 0), &err) == 0;
	check(ok && counts_agree(s, "retry"), "counts: a failed task retried");

	/* Everything due: promoted and claimed, then handed back. */
	ok = wb_sql("UPDATE tasks SET run_at = 0 WHERE status = 'pending'", 0,
		    0, 0, NULL) == 0;
	got = claim(s, "w3", types_ab, 2, "[]", 10, 60000, &c, NULL);
	check(ok && got == 4 && counts_agree(s, "promotion"),
	      "counts: due tasks promoted and claimed");
	for (long i = 0; i < got; i++)
		ok &= outcome(s, "w3", c[i].id, c[i].attempt,
			      AC_OUTCOME_RELEASED, NULL, "stopping", &acc,
			      NULL) == 0 && acc == 1;
	if (got > 0)
		ac_claimed_free_array(c, (size_t)got);
	c = NULL;
	check(ok && counts_agree(s, "release"), "counts: tasks handed back");

	/* All of them run to the end and pruned: no kind is left. */
	got = claim(s, "w3", types_ab, 2, "[]", 10, 60000, &c, NULL);
	ok = got == 4;
	for (long i = 0; i < got; i++)
		ok &= complete(s, "w3", &c[i]);
	if (got > 0)
		ac_claimed_free_array(c, (size_t)got);
	c = NULL;
	sleep_ms(20);
	ok &= prune(s, 0, 0, AC_TASK_COMPLETED, 0) == 6 && total_tasks(s) == 0;
	check(ok && counts_agree(s, "prune"), "counts: pruned tasks uncounted");
	ac_error_clear(&err);
	check(s->ops->queue_depth(s, &d, &err) == 0 && json_is_array(d) &&
	      json_array_size(d) == 0,
	      "counts: no queue depth row for kinds of task all gone");
	json_decref(d);
	ac_store_close(s);
}

/* A store made before the counts existed gets them, right, when a newer
 * ac opens it.  The tables and triggers are taken out by hand to make
 * such a store, set to version 3, the one before its counts. */
/* Schema version 5 (flow control) undone, first of every older store. */
static const char *const undo_v5_sqlite[] = {
	"DROP INDEX IF EXISTS tasks_fair",
	"DROP INDEX tasks_expiry",
	"ALTER TABLE tasks DROP COLUMN expires_at",
	"DROP TABLE queues",
	"DROP TABLE queue_keys",
	"PRAGMA user_version = 4",
};
static const char *const undo_v5_pg[] = {
	"DROP INDEX IF EXISTS tasks_fair",
	"DROP INDEX tasks_expiry",
	"ALTER TABLE tasks DROP COLUMN expires_at",
	"DROP TABLE queues, queue_keys",
	"UPDATE meta SET value = '4' WHERE key = 'schema_version'",
};

/* Schema version 7 (trace context, budgets) undone, first of all. */
static const char *const undo_v7_sqlite[] = {
	"DROP TRIGGER tasks_budget_hold",
	"DROP TRIGGER tasks_budget_unhold",
	"DROP INDEX tasks_budget",
	"ALTER TABLE tasks DROP COLUMN traceparent",
	"ALTER TABLE tasks DROP COLUMN budget",
	"ALTER TABLE tasks DROP COLUMN held",
	"DROP TABLE budgets",
	"DROP TABLE type_usage",
	"PRAGMA user_version = 6",
};
static const char *const undo_v7_pg[] = {
	"DROP TRIGGER tasks_budget_hold ON tasks",
	"DROP TRIGGER tasks_budget_unhold ON tasks",
	"DROP FUNCTION ac_budget_hold(), ac_budget_unhold()",
	"ALTER TABLE tasks DROP COLUMN traceparent, DROP COLUMN budget,"
	" DROP COLUMN held",
	"DROP TABLE budgets, type_usage",
	"UPDATE meta SET value = '6' WHERE key = 'schema_version'",
};

/* Schema version 6 (task graphs, schedules) undone, after version 7. */
static const char *const undo_v6_sqlite[] = {
	"DROP TRIGGER tasks_graph_end",
	"DROP TRIGGER tasks_graph_delete",
	"DROP TRIGGER tasks_graph_cancel",
	"DROP INDEX tasks_parent",
	"ALTER TABLE tasks DROP COLUMN parent",
	"ALTER TABLE tasks DROP COLUMN batch",
	"ALTER TABLE tasks DROP COLUMN then_batch",
	"ALTER TABLE tasks DROP COLUMN after_policy",
	"ALTER TABLE tasks DROP COLUMN waiting",
	"ALTER TABLE tasks DROP COLUMN dependents",
	"ALTER TABLE tasks DROP COLUMN depth",
	"ALTER TABLE tasks DROP COLUMN awaiting",
	"DROP TABLE task_after",
	"DROP TABLE batches",
	"DROP TABLE schedules",
	"PRAGMA user_version = 5",
};
static const char *const undo_v6_pg[] = {
	"DROP TRIGGER tasks_graph_end ON tasks",
	"DROP TRIGGER tasks_graph_delete ON tasks",
	"DROP TRIGGER tasks_graph_cancel ON tasks",
	"DROP FUNCTION ac_graph_end(), ac_graph_delete(), ac_graph_cancel()",
	"ALTER TABLE tasks DROP COLUMN parent, DROP COLUMN batch,"
	" DROP COLUMN then_batch, DROP COLUMN after_policy,"
	" DROP COLUMN waiting, DROP COLUMN dependents, DROP COLUMN depth,"
	" DROP COLUMN awaiting",
	"DROP TABLE task_after, batches, schedules",
	"UPDATE meta SET value = '5' WHERE key = 'schema_version'",
};

static int undo_v5(void)
{
	const char *const *undo = pg_url ? undo_v5_pg : undo_v5_sqlite;
	size_t n = pg_url ? sizeof undo_v5_pg / sizeof *undo_v5_pg :
		sizeof undo_v5_sqlite / sizeof *undo_v5_sqlite;
	const char *const *undo6 = pg_url ? undo_v6_pg : undo_v6_sqlite;
	size_t n6 = pg_url ? sizeof undo_v6_pg / sizeof *undo_v6_pg :
		sizeof undo_v6_sqlite / sizeof *undo_v6_sqlite;
	const char *const *undo7 = pg_url ? undo_v7_pg : undo_v7_sqlite;
	size_t n7 = pg_url ? sizeof undo_v7_pg / sizeof *undo_v7_pg :
		sizeof undo_v7_sqlite / sizeof *undo_v7_sqlite;
	int ok = 1;

	for (size_t i = 0; ok && i < n7; i++)
		ok = wb_sql(undo7[i], 0, 0, 0, NULL) == 0;
	for (size_t i = 0; ok && i < n6; i++)
		ok = wb_sql(undo6[i], 0, 0, 0, NULL) == 0;

	for (size_t i = 0; ok && i < n; i++)
		ok = wb_sql(undo[i], 0, 0, 0, NULL) == 0;
	return ok;
}

static void test_counts_migrate(void)
{
	static const char *const sqlite_undo[] = {
		"DROP TRIGGER tasks_count_update",
		"DROP TRIGGER tasks_count_delete",
		"DROP TABLE task_counts",
		"PRAGMA user_version = 3",
	};
	static const char *const pg_undo[] = {
		"DROP TRIGGER tasks_count_insert ON tasks",
		"DROP TRIGGER tasks_count_update ON tasks",
		"DROP TRIGGER tasks_count_delete ON tasks",
		"DROP FUNCTION ac_count_task()",
		"DROP TABLE task_counts, task_count_changes",
		"DROP INDEX tasks_ended",
		"CREATE INDEX tasks_status ON tasks (status, type, priority)",
		"UPDATE meta SET value = '3' WHERE key = 'schema_version'",
	};
	struct ac_store *s = fresh_store();
	struct ac_task_spec t[4];
	struct ac_submitted out[4];
	struct ac_claimed *c = NULL;
	struct ac_error err;
	const char *const *undo = pg_url ? pg_undo : sqlite_undo;
	size_t nundo = pg_url ? sizeof pg_undo / sizeof *pg_undo :
		sizeof sqlite_undo / sizeof *sqlite_undo;
	long got;
	int ok;

	if (!s) {
		check(0, "counts: store");
		return;
	}
	for (int i = 0; i < 4; i++)
		t[i] = spec(i < 3 ? "a" : "b", 5);
	t[3].delay_ms = 60000;
	ac_error_clear(&err);
	ok = s->ops->submit(s, t, 4, out, &err) == 0;
	got = claim(s, "w1", types_a, 1, "[]", 2, 60000, &c, NULL);
	ok &= got == 2 && complete(s, "w1", &c[0]);
	if (got > 0)
		ac_claimed_free_array(c, (size_t)got);
	ac_store_close(s);
	s = NULL;
	ok = ok && undo_v5();
	for (size_t i = 0; ok && i < nundo; i++)
		ok = wb_sql(undo[i], 0, 0, 0, NULL) == 0;
	check(ok, "counts: a store as it was before its counts");
	ac_error_clear(&err);
	ok = ok && ac_store_open(store_url(), 1, &s, &err) == 0;
	if (!ok)
		diag("opening the older store", &err);
	check(ok && wb_count(pg_url ? "SELECT value::int FROM meta WHERE "
			     "key = 'schema_version'" : "PRAGMA user_version",
			     0, 0) == 7 &&
	      counts_agree(s, "migration"),
	      "counts: migrating counts the tasks already there");
	got = ok ? claim(s, "w2", types_a, 1, "[]", 1, 60000, &c, NULL) : -1;
	ok = got == 1 && complete(s, "w2", &c[0]);
	if (got > 0)
		ac_claimed_free_array(c, (size_t)got);
	check(ok && counts_agree(s, "after migration"),
	      "counts: and keeps counting after it");
	ac_store_close(s);
}

/* ------------------------------------------------------------ handles */

/* Two handles on one store, as two processes would have. */
static void test_two_handles(void)
{
	struct ac_store *a = fresh_store(), *b = NULL;
	struct ac_error err;
	struct pollfd pfd;
	int64_t id, t0;
	int changed = 0, fd;

	if (!a) {
		check(0, "handles: store");
		return;
	}
	ac_error_clear(&err);
	check(ac_store_open(store_url(), 0, &b, &err) == 0 && b,
	      "handles: a second handle opens the same store (create=0)");
	if (!b) {
		diag("second handle", &err);
		ac_store_close(a);
		return;
	}
	/* Nothing on a between b's commit and the poll: a round trip of a's
	 * would read the notification off the socket (changed() reports it
	 * then, but the descriptor is no longer readable). */
	ac_error_clear(&err);
	a->ops->changed(a, &changed, &err);
	fd = a->ops->wait_fd(a);
	id = submit1(b, &(struct ac_task_spec){ .type = "a", .data = "1",
						.data_len = 1, .priority = 5 });
	if (pg_url) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		check(fd >= 0 && poll(&pfd, 1, 5000) == 1 &&
		      (pfd.revents & POLLIN),
		      "wait_fd: readable once another connection commits");
	} else {
		skip("wait_fd: readable once another connection commits",
		     "postgres only");
	}
	check(id > 0 && status_is(a, id, "queued"),
	      "handles: a task submitted through one is read through the other");
	/* changed(): 1 once the other handle's commit is seen. */
	changed = 0;
	t0 = ac_mono_ms();
	while (ac_mono_ms() - t0 < 5000) {
		ac_error_clear(&err);
		if (a->ops->changed(a, &changed, &err) < 0) {
			diag("changed", &err);
			break;
		}
		if (changed)
			break;
		sleep_ms(20);
	}
	check(changed == 1, "changed: says 1 after another handle committed");
	ac_store_close(b);
	ac_store_close(a);
}

/* ------------------------------------------------------------ counters, lost workers */

static int has_id(char **ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(ids[i], id))
			return 1;
	return 0;
}

static void free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

static void test_counter_lost(void)
{
	struct ac_store *s = fresh_store();
	struct ac_error err;
	int64_t v[5] = { -1, -1, -1, -1, -1 };
	char **ids = NULL, st[32];
	size_t n = 0;
	json_t *arr = NULL, *w;
	size_t i;
	int ok;

	if (!s) {
		check(0, "counter: store");
		return;
	}
	ac_error_clear(&err);
	ok = s->ops->counter_add(s, "rr", 1, &v[0], &err) == 0 &&
	     s->ops->counter_add(s, "rr", 1, &v[1], &err) == 0 &&
	     s->ops->counter_add(s, "rr", 5, &v[2], &err) == 0 &&
	     s->ops->counter_add(s, "rr", 0, &v[3], &err) == 0 &&
	     s->ops->counter_add(s, "other", 1, &v[4], &err) == 0;
	check(ok && v[0] == 0 && v[1] == 1 && v[2] == 2 && v[3] == 7 &&
	      v[4] == 0, "counter_add: returns the value before, per name");

	check(register_worker_lease(s, "short", (long)getpid(), 150, &err) ==
	      0 && register_worker_lease(s, "long", (long)getpid(), 600000,
					 &err) == 0,
	      "mark_lost: two workers registered");
	sleep_ms(500);
	ac_error_clear(&err);
	check(s->ops->mark_lost(s, &ids, &n, &err) == 0 &&
	      has_id(ids, n, "short") && !has_id(ids, n, "long"),
	      "mark_lost: a worker silent longer than its lease is lost");
	free_ids(ids, n);
	ids = NULL;
	n = 0;
	ac_error_clear(&err);
	check(s->ops->mark_lost(s, &ids, &n, &err) == 0 &&
	      !has_id(ids, n, "short"),
	      "mark_lost: ... and reported once");
	free_ids(ids, n);
	snprintf(st, sizeof st, "?");
	ac_error_clear(&err);
	if (s->ops->workers_list(s, &arr, &err) == 0)
		json_array_foreach(arr, i, w)
			if (!strcmp(json_string_value(json_object_get(w, "id")),
				    "short"))
				snprintf(st, sizeof st, "%s",
					 json_string_value(json_object_get(
						 w, "status")));
	json_decref(arr);
	check(!strcmp(st, "lost"), "mark_lost: workers_list shows it lost");
	ac_store_close(s);
}

/* ------------------------------------------------------------ many processes */

#define PROCS 8
#define MANY_TASKS 400

/* wait_children: reap n children; 1 when all exited 0. */
static int wait_children(const pid_t *pids, int n, const char *what)
{
	int ok = 1;

	for (int k = 0; k < n; k++) {
		int status = 0;

		if (pids[k] <= 0) {
			ok = 0;
			continue;
		}
		while (waitpid(pids[k], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			printf("# %s %d: %s %d\n", what, k,
			       WIFEXITED(status) ? "exit" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) :
			       WTERMSIG(status));
			ok = 0;
		}
	}
	return ok;
}

/* Wait until the parent closes its end of the start pipe. */
static void wait_start(int fd)
{
	char c;

	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
	close(fd);
}

/* Child k of test_concurrent_open. */
static int open_and_submit(int k)
{
	struct ac_store *s = NULL;
	struct ac_error err;
	struct ac_task_spec t = spec("a", 5);
	char data[32];
	int rc;

	ac_error_clear(&err);
	if (ac_store_open(store_url(), 1, &s, &err) < 0) {
		printf("# opener %d: exit %d: %s\n", k, err.exit_code, err.msg);
		return 1;
	}
	snprintf(data, sizeof data, "{\"k\":%d}", k);
	t.data = data;
	t.data_len = strlen(data);
	rc = submit1(s, &t) > 0 ? 0 : 1;
	ac_store_close(s);
	return rc;
}

/* Several processes open a store that does not exist yet, at once (as
 * workers started together on a new store do). */
static void test_concurrent_open(void)
{
	pid_t pids[PROCS];
	int go[2], ok;
	struct ac_store *s = NULL;
	struct ac_error err;

	if (fresh_url() < 0 || pipe(go) < 0) {
		check(0, "concurrent open: setup");
		return;
	}
	fflush(stdout);
	for (int k = 0; k < PROCS; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			close(go[1]);
			alarm(60);
			wait_start(go[0]);
			_exit(open_and_submit(k));
		}
	}
	close(go[0]);
	close(go[1]);
	ok = wait_children(pids, PROCS, "opener");
	check(ok, "open: 8 processes creating the same new store at once all succeed");
	ac_error_clear(&err);
	if (ac_store_open(store_url(), 0, &s, &err) < 0) {
		diag("opening it", &err);
		check(0, "open: ... and each one's task is there");
		return;
	}
	check(total_tasks(s) == PROCS, "open: ... and each one's task is there");
	ac_store_close(s);
}

/* Child k of test_many_claimers: its own connection, claiming up to 4 tasks
 * a cycle and completing them in the next, until a cycle claims nothing.
 * Writes "K ID" for every accepted completion to fd out. */
static int claimer(int k, int out)
{
	struct ac_store *s = NULL;
	struct ac_error err;
	struct ac_worker_state st = { "busy", 0, 0, 0 };
	struct ac_worker_control ctl;
	struct ac_claim_request req = { types_a, 1, "[]", 4, 600000, NULL, 0 };
	struct ac_claimed *held = NULL;
	struct ac_outcome outs[4];
	size_t nheld = 0;
	char wid[16], result[32], line[64];
	int rc = 0;

	snprintf(wid, sizeof wid, "c%d", k);
	snprintf(result, sizeof result, "{\"by\":\"%s\"}", wid);
	ac_error_clear(&err);
	if (ac_store_open(store_url(), 1, &s, &err) < 0) {
		printf("# %s: open: exit %d: %s\n", wid, err.exit_code, err.msg);
		return 1;
	}
	for (;;) {
		struct ac_claimed *got = NULL;
		size_t ngot = 0;

		memset(outs, 0, sizeof outs);
		for (size_t i = 0; i < nheld; i++) {
			outs[i].id = held[i].id;
			outs[i].attempt = held[i].attempt;
			outs[i].kind = AC_OUTCOME_COMPLETED;
			outs[i].result = result;
			outs[i].result_len = strlen(result);
		}
		st.running = (int)nheld;
		ac_error_clear(&err);
		if (s->ops->worker_cycle(s, wid, &st, outs, nheld, &req, &got,
					 &ngot, &ctl, &err) < 0) {
			printf("# %s: worker_cycle: exit %d: %s\n", wid,
			       err.exit_code, err.msg);
			rc = 1;
			break;
		}
		for (size_t i = 0; i < nheld; i++) {
			int len;

			if (!outs[i].accepted) {
				printf("# %s: completion of task %lld refused\n",
				       wid, (long long)held[i].id);
				rc = 1;
				continue;
			}
			len = snprintf(line, sizeof line, "%d %lld\n", k,
				       (long long)held[i].id);
			/* One short write: atomic on a pipe. */
			if (write(out, line, (size_t)len) != len)
				rc = 1;
		}
		ac_claimed_free_array(held, nheld);
		held = got;
		nheld = ngot;
		if (nheld == 0)
			break;
		/* "Running" them: lets the others in between (a tight loop
		 * can hold a lock so that the others see an empty queue). */
		sleep_ms(2);
	}
	ac_claimed_free_array(held, nheld);
	ac_store_close(s);
	return rc;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Read fd to its end into a new NUL-terminated buffer (NULL on error). */
static char *read_all(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t r;

	if (!buf)
		return NULL;
	for (;;) {
		if (cap - len < 1024) {
			char *grown = realloc(buf, cap * 2);

			if (!grown) {
				free(buf);
				return NULL;
			}
			buf = grown;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	return buf;
}

static void test_many_claimers(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec *t = calloc(MANY_TASKS, sizeof *t);
	struct ac_submitted *sub = calloc(MANY_TASKS, sizeof *sub);
	int64_t ids[MANY_TASKS];
	int done_by[MANY_TASKS], times[MANY_TASKS], per[PROCS] = { 0 };
	pid_t pids[PROCS];
	int go[2] = { -1, -1 }, res[2] = { -1, -1 };
	struct ac_error err;
	char *text = NULL, *p, *end;
	json_t *c = NULL;
	int ok, total = 0, once = 1, attempts_ok = 1;

	if (!s || !t || !sub || pipe(go) < 0 || pipe(res) < 0) {
		check(0, "claimers: setup");
		goto out;
	}
	for (int i = 0; i < MANY_TASKS; i++) {
		t[i] = spec("a", (i % 3) * 5);
		done_by[i] = -1;
		times[i] = 0;
	}
	ac_error_clear(&err);
	ok = s->ops->submit(s, t, MANY_TASKS, sub, &err) == 0;
	check(ok, "claimers: 400 tasks submitted in one call");
	if (!ok) {
		diag("submit", &err);
		goto out;
	}
	for (int i = 0; i < MANY_TASKS; i++)
		ids[i] = sub[i].id;
	qsort(ids, MANY_TASKS, sizeof ids[0], cmp_id);
	/* No handle crosses a fork: each claimer opens its own. */
	ac_store_close(s);
	s = NULL;
	fflush(stdout);
	for (int k = 0; k < PROCS; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			close(go[1]);
			close(res[0]);
			alarm(120);
			wait_start(go[0]);
			_exit(claimer(k, res[1]));
		}
	}
	close(go[0]);
	close(res[1]);
	close(go[1]);
	go[0] = go[1] = res[1] = -1;
	text = read_all(res[0]);
	ok = wait_children(pids, PROCS, "claimer");
	check(ok && text, "claimers: 8 processes claim and complete until the queue is empty, without an error");
	for (p = text; p && *p; p = end) {
		long k = strtol(p, &end, 10);
		long long id = strtoll(end, &end, 10);
		int64_t key = id;
		int64_t *hit = bsearch(&key, ids, MANY_TASKS, sizeof ids[0],
				       cmp_id);

		while (*end == '\n' || *end == ' ')
			end++;
		if (k < 0 || k >= PROCS || !hit) {
			printf("# claimers: bad line for task %lld\n", id);
			once = 0;
			if (end == p)
				break;
			continue;
		}
		per[k]++;
		total++;
		times[hit - ids]++;
		done_by[hit - ids] = (int)k;
	}
	printf("# completions per process:");
	for (int k = 0; k < PROCS; k++)
		printf(" %d", per[k]);
	printf("\n");
	for (int i = 0; i < MANY_TASKS; i++)
		if (times[i] != 1) {
			printf("# task %lld completed %d times\n",
			       (long long)ids[i], times[i]);
			once = 0;
		}
	check(once && total == MANY_TASKS,
	      "claimers: every task completed by exactly one process, 400 in all");

	ac_error_clear(&err);
	if (ac_store_open(store_url(), 0, &s, &err) < 0) {
		diag("reopening", &err);
		check(0, "claimers: the store agrees");
		goto out;
	}
	ac_error_clear(&err);
	check(s->ops->task_counts(s, &c, &err) == 0 &&
	      json_integer_value(json_object_get(c, "completed")) == MANY_TASKS,
	      "claimers: the store counts 400 completed");
	json_decref(c);
	for (int i = 0; i < MANY_TASKS && attempts_ok; i++) {
		json_t *j = task(s, ids[i]);
		json_t *a = json_object_get(j, "attempts");
		const char *o = json_string_value(
			json_object_get(json_array_get(a, 0), "outcome"));
		const char *w = json_string_value(json_object_get(j, "worker"));
		char want[16];

		snprintf(want, sizeof want, "c%d", done_by[i]);
		if (!j || json_integer_value(json_object_get(j, "attempt")) !=
		    1 || json_array_size(a) != 1 || !o ||
		    strcmp(o, "completed") || !w || strcmp(w, want)) {
			char *d = j ? json_dumps(j, JSON_COMPACT) : NULL;

			printf("# task %lld (completed by %s): %s\n",
			       (long long)ids[i], want, d ? d : "?");
			free(d);
			attempts_ok = 0;
		}
		json_decref(j);
	}
	check(attempts_ok,
	      "claimers: each task has one attempt, completed by the process that reported it");
	check(wb_count("SELECT count(*) FROM attempts", 0, 0) == MANY_TASKS,
	      "claimers: 400 attempts in the attempts table");
out:
	free(text);
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (res[i] >= 0)
			close(res[i]);
	}
	free(t);
	free(sub);
	ac_store_close(s);
}

/* A stream handler that died mid-task: queued again at once, a reclaim
 * counted, no attempt used; a poison task fails in the end.  And
 * task_ends, what a waiting submitter reads. */
static void test_crashed_and_ends(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec t = spec("a", 5);
	struct ac_claimed *c = NULL;
	struct ac_task_end ends[3];
	struct ac_error err;
	int64_t id, ids[3];
	int acc = -1;
	enum ac_task_status st;
	char buf[200];

	if (!s) {
		check(0, "crashed: store");
		return;
	}
	t.max_retries = 0;
	t.max_reclaims = 1;
	id = submit1(s, &t);
	claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL);
	check(outcome(s, "w1", id, 1, AC_OUTCOME_CRASHED, NULL,
		      "stream handler exited (status 3)", &acc, &st) == 0 &&
	      acc == 1 && st == AC_TASK_QUEUED && status_is(s, id, "queued") &&
	      task_int(s, id, "failures") == 0,
	      "crashed: queued again at once, no failure counted");
	check(claim(s, "w1", types_a, 1, "[]", 1, 30000, &c, NULL) == 1 &&
	      c[0].attempt == 2, "crashed: claimed again at once as attempt 2");
	ac_claimed_free_array(c, 1);
	check(outcome(s, "w1", id, 2, AC_OUTCOME_CRASHED, NULL, "died again",
		      &acc, &st) == 0 && acc == 1 && st == AC_TASK_FAILED &&
	      status_is(s, id, "failed") &&
	      strstr(task_str(s, id, "error", buf, sizeof buf), "poison"),
	      "crashed: past max_reclaims the task fails as a poison task");
	check(outcome(s, "w1", id, 2, AC_OUTCOME_CRASHED, NULL, "late", &acc,
		      &st) == 0 && acc == 0, "crashed: fenced like any end");

	ids[0] = id;
	ids[1] = submit1(s, &t);
	ids[2] = submit1(s, &t);
	claim(s, "w1", types_a, 1, "[]", 1, 30000, NULL, NULL);
	outcome(s, "w1", ids[1], 1, AC_OUTCOME_COMPLETED, "{\"r\":1}", NULL,
		&acc, &st);
	ac_error_clear(&err);
	check(s->ops->task_ends(s, ids, 3, ends, &err) == 0 &&
	      ends[0].id == ids[0] && ends[0].status == AC_TASK_FAILED &&
	      ends[0].error && strstr(ends[0].error, "died again") &&
	      !ends[0].result &&
	      ends[1].status == AC_TASK_COMPLETED && ends[1].result &&
	      !strcmp(ends[1].result, "{\"r\":1}") && !ends[1].error &&
	      ends[2].status == AC_TASK_QUEUED && !ends[2].result &&
	      !ends[2].error, "task_ends: statuses, results and errors in order");
	ac_task_ends_release(ends, 3);
	ids[1] = 987654321;
	ac_error_clear(&err);
	check(s->ops->task_ends(s, ids, 3, ends, &err) == -1 &&
	      strstr(err.msg, "no task 987654321"),
	      "task_ends: an unknown id is an error");
	ac_store_close(s);
}

/* The committer (stores that have one): a batch of ends written in the
 * background on a second handle, fenced like any end. */
static void test_committer(void)
{
	struct ac_store *s = fresh_store(), *c = NULL;
	struct ac_task_spec t = spec("a", 5);
	struct ac_outcome o[3];
	struct ac_error err;
	int64_t ids[2];
	int rc = 0, waited = 0;

	if (!s) {
		check(0, "committer: store");
		return;
	}
	if (!s->ops->outcomes_begin) {
		static const char *const names[] = {
			"committer: a batch is sent",
			"committer: the batch lands, each end fenced",
			"committer: nothing in flight after",
			"committer: the other handle sees the ends",
		};

		for (size_t i = 0; i < 4; i++)
			skip(names[i], "this backend records ends with its claims");
		ac_store_close(s);
		return;
	}
	t.max_retries = 0;
	ids[0] = submit1(s, &t);
	ids[1] = submit1(s, &t);
	claim(s, "w1", types_a, 1, "[]", 2, 30000, NULL, NULL);
	ac_error_clear(&err);
	if (ac_store_open(store_url(), 0, &c, &err) < 0) {
		diag("opening a second handle", &err);
		check(0, "committer: a second handle");
		ac_store_close(s);
		return;
	}
	memset(o, 0, sizeof o);
	o[0] = (struct ac_outcome){ .id = ids[0], .attempt = 1,
				    .kind = AC_OUTCOME_COMPLETED,
				    .result = "{\"x\":1}", .result_len = 7 };
	o[1] = (struct ac_outcome){ .id = ids[1], .attempt = 1,
				    .kind = AC_OUTCOME_FAILED, .error = "no" };
	/* Not this attempt's: refused. */
	o[2] = (struct ac_outcome){ .id = ids[1], .attempt = 7,
				    .kind = AC_OUTCOME_COMPLETED,
				    .result = "1", .result_len = 1 };
	check(c->ops->outcomes_begin(c, "w1", o, 3, &err) == 0 &&
	      c->ops->outcomes_fd(c) >= 0, "committer: a batch is sent");
	while ((rc = c->ops->outcomes_end(c, &err)) == 0 && waited < 10000) {
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
		waited++;
	}
	check(rc == 1 && o[0].accepted && o[0].status == AC_TASK_COMPLETED &&
	      o[1].accepted && o[1].status == AC_TASK_FAILED && !o[2].accepted,
	      "committer: the batch lands, each end fenced");
	check(c->ops->outcomes_fd(c) == -1, "committer: nothing in flight after");
	check(status_is(s, ids[0], "completed") && status_is(s, ids[1], "failed"),
	      "committer: the other handle sees the ends");
	ac_store_close(c);
	ac_store_close(s);
}

/* ------------------------------------------------------------ compression */

/* len bytes of compact JSON that compresses as task data does: an array of
 * similar records, tagged so that two values differ.  New string. */
static char *big_json(size_t len, const char *tag)
{
	struct ac_buf b = { 0 };
	unsigned n = 0;

	if (ac_buf_append(&b, "[", 1) < 0)
		return NULL;
	while (b.len + 80 < len)
		if (ac_buf_printf(&b, "%s{\"%s\":%u,\"name\":\"item-%u\",\"ok\":true}",
				  n ? "," : "", tag, n, n * 7919 % 10007) < 0)
			goto oom;
		else
			n++;
	/* Pad to exactly len with one last string. */
	if (ac_buf_printf(&b, ",\"%*s\"]", (int)(len - b.len - 4), "") < 0)
		goto oom;
	return b.data;
oom:
	ac_buf_release(&b);
	return NULL;
}

/* 1 when member key of JSON object j, dumped compact, is exactly text. */
static int json_member_is(json_t *j, const char *key, const char *text)
{
	char *d = json_dumps(json_object_get(j, key),
			     JSON_COMPACT | JSON_ENCODE_ANY);
	int same = d && !strcmp(d, text);

	free(d);
	return same;
}

/* White-box: how the task's column is stored: 1 compressed (SQLite: a
 * BLOB; PostgreSQL: the text column NULL and its _lz4 twin set, of fewer
 * than max bytes), 0 as text, -1 on error. */
static int stored_compressed(int64_t id, const char *col, long long max)
{
	char sql[300];
	long long n = -1;

	if (pg_url)
		snprintf(sql, sizeof sql,
			 "SELECT CASE WHEN %s IS NULL AND %s_lz4 IS NOT NULL AND "
			 "length(%s_lz4) < $2 THEN 1 WHEN %s IS NOT NULL AND "
			 "%s_lz4 IS NULL THEN 0 ELSE -1 END FROM tasks WHERE id = $1",
			 col, col, col, col, col);
	else
		snprintf(sql, sizeof sql,
			 "SELECT CASE WHEN typeof(%s) = 'blob' AND length(%s) < $2 "
			 "THEN 1 WHEN typeof(%s) = 'text' THEN 0 ELSE -1 END "
			 "FROM tasks WHERE id = $1", col, col, col);
	return wb_sql(sql, 2, id, max, &n) < 0 ? -1 : (int)n;
}

static void test_compression(void)
{
	const size_t mib = 1024 * 1024;
	struct ac_store *s = fresh_store();
	char *data = big_json(mib, "d"), *result = big_json(mib, "r");
	char *ckpt = big_json(mib, "c");
	struct ac_task_spec t = spec("a", 5);
	struct ac_claimed *c = NULL;
	struct ac_task_filter f;
	struct ac_lease lease;
	struct ac_error err;
	json_t *j = NULL;
	int64_t id, small;
	int acc = -1;
	long n;

	if (!s || !data || !result || !ckpt) {
		check(0, "compression: store and values");
		goto out;
	}
	t.data = data;
	t.data_len = strlen(data);
	t.max_retries = 1;
	id = submit1(s, &t);
	check(id > 0 && stored_compressed(id, "data", (long long)mib / 2) == 1,
	      "compression: 1 MiB of JSON data is stored compressed (under half)");
	small = submit1(s, &(struct ac_task_spec){ .type = "b", .data = "{\"x\":1}",
						   .data_len = 7, .priority = 5 });
	check(small > 0 && stored_compressed(small, "data", 0) == 0,
	      "compression: data under the threshold is stored as text");

	n = claim(s, "w1", types_a, 1, "[]", 1, 30000, &c, NULL);
	check(n == 1 && c[0].data_len == mib && !memcmp(c[0].data, data, mib) &&
	      c[0].data[mib] == '\0' && !c[0].checkpoint,
	      "compression: the claim hands out the data byte for byte");
	ac_claimed_free_array(c, n > 0 ? (size_t)n : 0);
	c = NULL;

	lease.id = id;
	lease.attempt = 1;
	ac_error_clear(&err);
	check(s->ops->task_checkpoint(s, "w1", &lease, ckpt, strlen(ckpt),
				      &err) == 0 &&
	      stored_compressed(id, "checkpoint", (long long)mib / 2) == 1,
	      "compression: a 1 MiB checkpoint is stored compressed");
	/* The next attempt starts from it. */
	outcome(s, "w1", id, 1, AC_OUTCOME_FAILED, NULL, "again", &acc, NULL);
	make_due(id);
	n = claim(s, "w1", types_a, 1, "[]", 1, 30000, &c, NULL);
	check(n == 1 && c[0].attempt == 2 && c[0].checkpoint &&
	      !strcmp(c[0].checkpoint, ckpt) && c[0].data_len == mib &&
	      !memcmp(c[0].data, data, mib),
	      "compression: a later attempt gets data and checkpoint back whole");
	ac_claimed_free_array(c, n > 0 ? (size_t)n : 0);
	c = NULL;

	check(outcome(s, "w1", id, 2, AC_OUTCOME_COMPLETED, result, NULL, &acc,
		      NULL) == 0 && acc == 1 &&
	      stored_compressed(id, "result", (long long)mib / 2) == 1,
	      "compression: a 1 MiB result is stored compressed");
	j = task(s, id);
	check(j && json_member_is(j, "data", data) &&
	      json_member_is(j, "result", result) &&
	      json_member_is(j, "checkpoint", ckpt),
	      "compression: task_get shows data, result and checkpoint whole");
	json_decref(j);
	j = NULL;
	memset(&f, 0, sizeof f);
	f.limit = 10;
	ac_error_clear(&err);
	check(s->ops->tasks_list(s, &f, &j, &err) == 0 &&
	      json_array_size(j) == 2 &&
	      json_member_is(json_array_get(j, 1), "data", data) &&
	      json_member_is(json_array_get(j, 1), "result", result) &&
	      json_member_is(json_array_get(j, 1), "checkpoint", ckpt) &&
	      json_member_is(json_array_get(j, 0), "data", "{\"x\":1}"),
	      "compression: tasks_list shows them whole, beside plain ones");
	json_decref(j);
	j = NULL;

	/* Text that does not compress is kept as text. */
	{
		char *noise = malloc(64 * 1024 + 3);
		int64_t nid = -1;

		if (noise) {
			uint64_t x = 0x9e3779b97f4a7c15ULL;

			noise[0] = '"';
			for (size_t i = 1; i <= 64 * 1024; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				noise[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"[x % 64];
			}
			noise[64 * 1024 + 1] = '"';
			noise[64 * 1024 + 2] = '\0';
			nid = submit1(s, &(struct ac_task_spec){
				.type = "b", .data = noise,
				.data_len = 64 * 1024 + 2, .priority = 5 });
		}
		j = nid > 0 ? task(s, nid) : NULL;
		check(nid > 0 && stored_compressed(nid, "data", 0) == 0 &&
		      j && json_member_is(j, "data", noise),
		      "compression: incompressible data is stored as text");
		json_decref(j);
		j = NULL;
		free(noise);
	}

	/* A damaged frame: the task is not handed out but ends failed, with
	 * the reason; the claim carries on with the next task. */
	{
		int64_t bad = submit1(s, &(struct ac_task_spec){
			.type = "d", .data = data, .data_len = mib,
			.priority = 6 });
		int64_t good = submit1(s, &(struct ac_task_spec){
			.type = "d", .data = data, .data_len = mib,
			.priority = 5 });
		const char *damage = pg_url ?
			"UPDATE tasks SET data_lz4 = '\\x01ffffffff00'::bytea "
			"WHERE id = $1" :
			"UPDATE tasks SET data = x'01ffffffff00' WHERE id = $1";
		const char *error;
		char buf[600];

		check(bad > 0 && good > 0 && wb_sql(damage, 1, bad, 0, NULL) == 0,
		      "compression: (white-box) a stored frame damaged");
		n = claim(s, "w1", (const char *const[]){ "d" }, 1, "[]", 2,
			  30000, &c, NULL);
		check(n == 1 && c[0].id == good && c[0].data_len == mib &&
		      !memcmp(c[0].data, data, mib),
		      "compression: a claim skips a task whose data does not decode, and hands out the next");
		ac_claimed_free_array(c, n > 0 ? (size_t)n : 0);
		c = NULL;
		error = task_str(s, bad, "error", buf, sizeof buf);
		printf("# error: %s\n", error);
		check(status_is(s, bad, "failed") &&
		      strstr(error, "stored data does not decode") &&
		      strstr(error, "over the limit of 8388608") &&
		      task_int(s, bad, "attempt") == 1,
		      "compression: that task ends failed at once, with the reason as its error");
		check(!strncmp(task_str(s, bad, "data", buf, sizeof buf),
			       "damaged value: ", 15),
		      "compression: task_get shows a damaged value as such");
	}
out:
	free(data);
	free(result);
	free(ckpt);
	ac_store_close(s);
}

/* A store of schema version 2 (before compression) is migrated on open:
 * its tasks are read as before, new values are compressed.  The v2 store
 * is made by undoing version 3 on a new one (white-box). */
static void test_migrate_v3(void)
{
	static const char *const undo_pg[] = {
		"ALTER TABLE tasks DROP CONSTRAINT tasks_data_once, "
		"DROP CONSTRAINT tasks_result_once, "
		"DROP CONSTRAINT tasks_checkpoint_once, "
		"DROP COLUMN data_lz4, DROP COLUMN result_lz4, "
		"DROP COLUMN checkpoint_lz4, ALTER COLUMN data SET NOT NULL",
		"UPDATE meta SET value = '2' WHERE key = 'schema_version'",
	};
	static const char *const undo_sqlite[] = { "PRAGMA user_version = 2" };
	/* Version 4 (the counts) goes first: a version 2 store had neither. */
	static const char *const undo_counts_pg[] = {
		"DROP TRIGGER tasks_count_insert ON tasks",
		"DROP TRIGGER tasks_count_update ON tasks",
		"DROP TRIGGER tasks_count_delete ON tasks",
		"DROP FUNCTION ac_count_task()",
		"DROP TABLE task_counts, task_count_changes",
		"DROP INDEX tasks_ended",
		"CREATE INDEX tasks_status ON tasks (status, type, priority)",
	};
	static const char *const undo_counts_sqlite[] = {
		"DROP TRIGGER tasks_count_update",
		"DROP TRIGGER tasks_count_delete",
		"DROP TABLE task_counts",
	};
	struct ac_store *s = fresh_store();
	char *data = big_json(64 * 1024, "m");
	struct ac_error err;
	long long version = -1;
	int64_t old, fresh;
	int ok = 1;
	json_t *j;

	if (!s || !data) {
		check(0, "migrate v3: store");
		free(data);
		ac_store_close(s);
		return;
	}
	old = submit1(s, &(struct ac_task_spec){ .type = "a", .data = "[1,2]",
						 .data_len = 5, .priority = 5 });
	ac_store_close(s);
	s = NULL;
	ok &= undo_v5();
	for (size_t i = 0; i < (pg_url ? 7u : 3u); i++)
		ok &= wb_sql(pg_url ? undo_counts_pg[i] : undo_counts_sqlite[i],
			     0, 0, 0, NULL) == 0;
	for (size_t i = 0; i < (pg_url ? 2u : 1u); i++)
		ok &= wb_sql(pg_url ? undo_pg[i] : undo_sqlite[i], 0, 0, 0,
			     NULL) == 0;
	check(ok, "migrate v3: (white-box) a store of schema version 2");
	ac_error_clear(&err);
	if (ac_store_open(store_url(), 0, &s, &err) < 0) {
		diag("reopening", &err);
		check(0, "migrate v3: a version 2 store opens");
		free(data);
		return;
	}
	wb_sql(pg_url ? "SELECT value::int FROM meta WHERE key = 'schema_version'" :
	       "PRAGMA user_version", 0, 0, 0, &version);
	check(version == 7, "migrate v3: opening migrates it to version 3, and on to 7");
	j = task(s, old);
	check(j && json_member_is(j, "data", "[1,2]"),
	      "migrate v3: a task written before reads as before");
	json_decref(j);
	fresh = submit1(s, &(struct ac_task_spec){ .type = "a", .data = data,
						   .data_len = strlen(data),
						   .priority = 5 });
	j = fresh > 0 ? task(s, fresh) : NULL;
	check(stored_compressed(fresh, "data", 32 * 1024) == 1 && j &&
	      json_member_is(j, "data", data),
	      "migrate v3: new data is stored compressed and reads whole");
	json_decref(j);
	free(data);
	ac_store_close(s);
}

/* ---------------------------------------------------------------- flow */

static int json_string_is(json_t *j, const char *key, const char *text)
{
	const char *v = json_string_value(json_object_get(j, key));

	return v && !strcmp(v, text);
}

static int qset(struct ac_store *s, const char *type,
		struct ac_queue_change c)
{
	struct ac_error err;

	ac_error_clear(&err);
	if (s->ops->queue_set(s, type, &c, &err) < 0) {
		diag("queue_set", &err);
		return -1;
	}
	return 0;
}

/* The flow control object of type, or NULL when it has none. */
static json_t *queue_of(struct ac_store *s, const char *type)
{
	json_t *arr = NULL, *q;
	struct ac_error err;

	ac_error_clear(&err);
	if (s->ops->queues_list(s, type, &arr, &err) < 0) {
		diag("queues_list", &err);
		return NULL;
	}
	q = json_array_size(arr) == 1 ? json_incref(json_array_get(arr, 0)) :
		NULL;
	json_decref(arr);
	return q;
}

static int64_t submit_key(struct ac_store *s, const char *type,
			  const char *key, int priority)
{
	struct ac_task_spec t = spec(type, priority);

	t.route_key = key;
	return submit1(s, &t);
}

static int end_attempt_with(struct ac_store *s, const char *worker,
			    const struct ac_claimed *c, struct ac_outcome o)
{
	struct ac_worker_state st = { "idle", 0, 0, 0 };
	struct ac_worker_control ctl;
	struct ac_claimed *tasks = NULL;
	size_t n = 0;
	struct ac_error err;

	o.id = c->id;
	o.attempt = c->attempt;
	ac_error_clear(&err);
	if (s->ops->worker_cycle(s, worker, &st, &o, 1, NULL, &tasks, &n, &ctl,
				 &err) < 0) {
		diag("worker_cycle (outcome)", &err);
		return 0;
	}
	ac_claimed_free_array(tasks, n);
	return o.accepted;
}

static void test_flow_caps(void)
{
	struct ac_store *s = fresh_store();
	struct ac_claimed *c = NULL, *c2 = NULL;
	struct ac_worker_control ctl;
	const char *keys[] = { "k1", "k1", "k2", NULL, NULL };
	long got;
	json_t *q;
	int ok;

	if (!s) {
		check(0, "flow caps: store");
		return;
	}
	for (int i = 0; i < 5; i++)
		submit1(s, &(struct ac_task_spec){ .type = "a", .data = "1",
			.data_len = 1, .priority = 5, .max_reclaims = 3 });
	for (int i = 0; i < 3; i++)
		submit_key(s, "b", "free", 5);
	check(qset(s, "a", (struct ac_queue_change){
		.set = AC_QUEUE_CONCURRENCY, .concurrency = 2 }) == 0,
	      "flow caps: a cap is set");
	q = queue_of(s, "a");
	check(q && json_integer_value(json_object_get(q, "concurrency")) == 2 &&
	      json_is_null(json_object_get(q, "rate")) &&
	      json_is_false(json_object_get(q, "paused")),
	      "flow caps: and shown");
	json_decref(q);
	got = claim(s, "w1", types_ab, 2, "[]", 4, 30000, &c, NULL);
	ok = got == 4;
	for (long i = 0; i < got; i++)
		ok &= !strcmp(c[i].type, "a") == (i < 2) || !strcmp(c[i].type, "b");
	check(got == 4 && wb_count("SELECT count(*) FROM tasks WHERE "
				  "type = 'a' AND status = 'running'", 0, 0) == 2,
	      "flow caps: one worker gets 2 of the capped type, the rest of another type");
	check(claim(s, "w2", types_a, 1, "[]", 4, 30000, NULL, NULL) == 0,
	      "flow caps: a second worker gets none while 2 run");
	for (long i = 0; i < got && c; i++)
		if (!strcmp(c[i].type, "a")) {
			complete(s, "w1", &c[i]);
			break;
		}
	check(claim(s, "w2", types_a, 1, "[]", 4, 30000, &c2, NULL) == 1,
	      "flow caps: one ends, one more starts");
	{
		/* An end still on its way to the store (a committer's) does
		 * not count under the cap. */
		struct ac_claim_request req = { types_a, 1, "[]", 4, 30000,
						NULL, 0 };
		struct ac_worker_state st = { "busy", 2, 0, 0 };
		struct ac_worker_control wc;
		struct ac_claimed *more = NULL;
		size_t nmore = 0;
		struct ac_error e;

		req.ended = c2 ? &c2[0].id : NULL;
		req.nended = c2 ? 1 : 0;
		ac_error_clear(&e);
		check(c2 && s->ops->worker_cycle(s, "w2", &st, NULL, 0, &req,
						 &more, &nmore, &wc, &e) == 0 &&
		      nmore == 1,
		      "flow caps: a task whose end is on its way does not count as running");
		if (nmore)
			complete(s, "w2", &more[0]);
		ac_claimed_free_array(more, nmore);
	}
	check(qset(s, "a", (struct ac_queue_change){
		.set = AC_QUEUE_CONCURRENCY, .concurrency = 1 }) == 0 &&
	      wb_count("SELECT count(*) FROM tasks WHERE type = 'a' AND "
		       "status = 'running'", 0, 0) == 2,
	      "flow caps: a cap lowered below what runs stops nothing");
	if (c2)
		complete(s, "w2", &c2[0]);
	ac_claimed_free_array(c2, c2 ? 1 : 0);
	check(claim(s, "w2", types_a, 1, "[]", 4, 30000, NULL, NULL) == 0,
	      "flow caps: and claims wait until below the new cap");
	ac_claimed_free_array(c, got > 0 ? (size_t)got : 0);

	/* per key */
	for (int i = 0; i < 5; i++)
		submit_key(s, "k", keys[i], 5);
	qset(s, "k", (struct ac_queue_change){ .set = AC_QUEUE_PER_KEY,
					       .per_key = 1 });
	{
		static const char *const types_k[] = { "k" };

		got = claim(s, "w1", types_k, 1, "[]", 10, 30000, &c, NULL);
		ok = got == 3;
		for (long i = 0; ok && i < got; i++)
			for (long j = 0; j < i; j++)
				ok &= (c[i].route_key ? c[i].route_key : "")[0] !=
					(c[j].route_key ? c[j].route_key : "")[0] ||
					strcmp(c[i].route_key ? c[i].route_key : "",
					       c[j].route_key ? c[j].route_key : "");
		check(ok, "flow caps: --per-key 1 runs one task per key (no key is a key of its own)");
		ac_claimed_free_array(c, got > 0 ? (size_t)got : 0);
		check(claim(s, "w2", types_k, 1, "[]", 10, 30000, NULL, NULL) == 0,
		      "flow caps: and no more while they run");
	}
	check(qset(s, "a", (struct ac_queue_change){ .set = AC_QUEUE_CLEAR }) == 0 &&
	      (q = queue_of(s, "a")) == NULL,
	      "flow caps: --clear drops the type's control");
	json_decref(q);
	memset(&ctl, 0, sizeof ctl);
	check(claim(s, "w3", types_a, 1, "[]", 10, 30000, NULL, &ctl) == 1 &&
	      ctl.wake_ms == 0,
	      "flow caps: and its tasks are claimed freely again");
	ac_store_close(s);
}

static void test_flow_rate(void)
{
	struct ac_store *s = fresh_store();
	struct ac_worker_control ctl;
	json_t *q;
	long a, b, c;

	if (!s) {
		check(0, "flow rate: store");
		return;
	}
	for (int i = 0; i < 6; i++)
		submit1(s, &(struct ac_task_spec){ .type = "a", .data = "1",
			.data_len = 1, .priority = 5, .max_reclaims = 3 });
	check(qset(s, "a", (struct ac_queue_change){
		.set = AC_QUEUE_RATE | AC_QUEUE_BURST, .rate = 2, .burst = 2 }) == 0,
	      "flow rate: 2/s with a burst of 2 is set");
	q = queue_of(s, "a");
	check(q && json_string_is(q, "rate", "2/s") &&
	      json_real_value(json_object_get(q, "burst")) == 2,
	      "flow rate: and shown as 2/s");
	json_decref(q);
	memset(&ctl, 0, sizeof ctl);
	a = claim(s, "w1", types_a, 1, "[]", 10, 30000, NULL, &ctl);
	check(a == 2 && ctl.wake_ms > 0 && ctl.wake_ms <= 500,
	      "flow rate: a full bucket gives 2, and says when the next token comes");
	b = claim(s, "w2", types_a, 1, "[]", 10, 30000, NULL, NULL);
	sleep_ms(600);
	c = claim(s, "w2", types_a, 1, "[]", 10, 30000, NULL, NULL);
	check(b == 0 && c == 1, "flow rate: none at once, one 0.6 s later");
	ac_store_close(s);
}

static void test_flow_pause_hold(void)
{
	struct ac_store *s = fresh_store();
	struct ac_claimed *c = NULL;
	struct ac_worker_control ctl;
	int64_t id1, id2, k1, k2;
	json_t *q;
	long got;

	if (!s) {
		check(0, "flow pause: store");
		return;
	}
	id1 = submit_key(s, "a", NULL, 5);
	id2 = submit_key(s, "a", NULL, 5);
	check(qset(s, "a", (struct ac_queue_change){ .set = AC_QUEUE_PAUSE,
						       .reason = "upgrade" }) == 0 &&
	      claim(s, "w1", types_a, 1, "[]", 10, 30000, NULL, NULL) == 0,
	      "flow pause: nothing of a paused type is claimed");
	q = queue_of(s, "a");
	check(q && json_is_true(json_object_get(q, "paused")) &&
	      json_string_is(q, "reason", "upgrade") &&
	      json_is_string(json_object_get(q, "paused_at")),
	      "flow pause: shown paused, with its reason");
	json_decref(q);
	qset(s, "a", (struct ac_queue_change){ .set = AC_QUEUE_RESUME });
	check(claim(s, "w1", types_a, 1, "[]", 1, 30000, &c, NULL) == 1 &&
	      (q = queue_of(s, "a")) == NULL,
	      "flow pause: resumed, it is claimed again (and no longer controlled)");
	json_decref(q);
	/* retry_after: the type is held across the cluster */
	check(c && end_attempt_with(s, "w1", &c[0], (struct ac_outcome){
		.kind = AC_OUTCOME_TEMPFAIL, .error = "429 from upstream",
		.delay_ms = 60000, .hold_ms = 60000 }) &&
	      status_is(s, c[0].id, "pending") &&
	      task_int(s, c[0].id, "failures") == 0,
	      "flow hold: retry_after puts the task back without using an attempt");
	ac_claimed_free_array(c, 1);
	memset(&ctl, 0, sizeof ctl);
	check(claim(s, "w2", types_a, 1, "[]", 10, 30000, NULL, &ctl) == 0 &&
	      ctl.wake_ms > 50000 && ctl.wake_ms <= 60000,
	      "flow hold: and holds its type for everyone (wake in ~60 s)");
	q = queue_of(s, "a");
	check(q && json_is_string(json_object_get(q, "held_until")) &&
	      json_string_is(q, "hold_reason", "429 from upstream"),
	      "flow hold: shown held, with the handler's reason");
	json_decref(q);
	qset(s, "a", (struct ac_queue_change){ .set = AC_QUEUE_RESUME });
	check(claim(s, "w2", types_a, 1, "[]", 10, 30000, NULL, NULL) == 1,
	      "flow hold: resume lifts the hold");
	(void)id1;
	(void)id2;
	/* scope key */
	k1 = submit_key(s, "b", "acme", 5);
	submit_key(s, "b", "acme", 5);
	k2 = submit_key(s, "b", "zeta", 5);
	{
		static const char *const types_b[] = { "b" };

		got = claim(s, "w1", types_b, 1, "[]", 1, 30000, &c, NULL);
		check(got == 1 && c[0].id == k1 &&
		      end_attempt_with(s, "w1", &c[0], (struct ac_outcome){
			      .kind = AC_OUTCOME_TEMPFAIL, .error = "slow down",
			      .delay_ms = 60000, .hold_ms = 60000,
			      .hold_key = 1 }),
		      "flow hold: retry_after with scope key");
		ac_claimed_free_array(c, got > 0 ? (size_t)got : 0);
		got = claim(s, "w2", types_b, 1, "[]", 10, 30000, &c, NULL);
		check(got == 1 && c[0].id == k2,
		      "flow hold: holds only that key; other keys run");
		ac_claimed_free_array(c, got > 0 ? (size_t)got : 0);
		q = queue_of(s, "b");
		check(q && json_array_size(json_object_get(q, "keys_held")) == 1 &&
		      json_string_is(json_array_get(json_object_get(q, "keys_held"), 0),
				     "key", "acme"),
		      "flow hold: the held key is listed");
		json_decref(q);
		qset(s, "b", (struct ac_queue_change){ .set = AC_QUEUE_RESUME,
						       .key = "acme" });
		check(claim(s, "w2", types_b, 1, "[]", 10, 30000, NULL, NULL) == 1,
		      "flow hold: resume --key lifts it");
	}
	ac_store_close(s);
}

static void test_flow_fair(void)
{
	static const char *const types_f[] = { "f" };
	struct ac_store *s = fresh_store();
	struct ac_claimed *c = NULL;
	int64_t b, hi;
	long got;
	int seen_b = 0, ok;

	if (!s) {
		check(0, "flow fair: store");
		return;
	}
	for (int i = 0; i < 200; i++)
		submit_key(s, "f", "A", 5);
	b = submit_key(s, "f", "B", 5);
	check(qset(s, "f", (struct ac_queue_change){ .set = AC_QUEUE_FAIR,
						       .fair = 1 }) == 0,
	      "flow fair: fairness is set");
	got = claim(s, "w1", types_f, 1, "[]", 2, 30000, &c, NULL);
	for (long i = 0; i < got; i++)
		seen_b |= c[i].id == b;
	check(got == 2 && seen_b,
	      "flow fair: a key's one task is among the first claims behind another key's 200");
	ac_claimed_free_array(c, got > 0 ? (size_t)got : 0);
	got = claim(s, "w1", types_f, 1, "[]", 8, 30000, &c, NULL);
	check(got == 8, "flow fair: a key alone still fills every free slot");
	ac_claimed_free_array(c, got > 0 ? (size_t)got : 0);
	hi = submit_key(s, "f", "C", 10);
	got = claim(s, "w1", types_f, 1, "[]", 1, 30000, &c, NULL);
	ok = got == 1 && c[0].id == hi;
	check(ok, "flow fair: within one priority: a higher priority goes first");
	ac_claimed_free_array(c, got > 0 ? (size_t)got : 0);
	ac_store_close(s);
}

static void test_expire_snooze(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec t = spec("a", 5);
	struct ac_claimed *c = NULL;
	int64_t gone_id, kept;
	char buf[32];
	long got;

	if (!s) {
		check(0, "expire: store");
		return;
	}
	t.expires_ms = 1;
	gone_id = submit1(s, &t);
	t.expires_ms = 600000;
	kept = submit1(s, &t);
	sleep_ms(20);
	got = claim(s, "w1", types_a, 1, "[]", 10, 30000, &c, NULL);
	check(got == 1 && c[0].id == kept && status_is(s, gone_id, "expired"),
	      "expire: a task not started in time ends expired, never run");
	check(got == 1 && end_attempt_with(s, "w1", &c[0], (struct ac_outcome){
		.kind = AC_OUTCOME_SNOOZED, .delay_ms = 60000,
		.error = "snoozed for 60 s" }) &&
	      status_is(s, kept, "pending") && task_int(s, kept, "failures") == 0 &&
	      !strcmp(attempt_outcome(s, kept, 1, buf, sizeof buf), "snoozed"),
	      "snooze: back to pending, no attempt used, recorded as snoozed");
	ac_claimed_free_array(c, got > 0 ? (size_t)got : 0);
	check(claim(s, "w1", types_a, 1, "[]", 10, 30000, NULL, NULL) == 0,
	      "snooze: not due before its time");
	make_due(kept);
	check(claim(s, "w1", types_a, 1, "[]", 10, 30000, NULL, NULL) == 1,
	      "snooze: then claimed (a started task no longer expires)");
	ac_store_close(s);
}

static void test_dead_letters(void)
{
	struct ac_store *s = fresh_store();
	struct ac_claimed *c = NULL;
	struct ac_ended_filter all = { 0, NULL, 0, 0 };
	struct ac_error err;
	int64_t *ids = NULL, failed_id, done_id, bad[2];
	size_t n = 0;
	json_t *list = NULL;
	long got;
	int acc;

	if (!s) {
		check(0, "dead letters: store");
		return;
	}
	submit1(s, &(struct ac_task_spec){ .type = "a", .data = "1",
		.data_len = 1, .priority = 5, .max_reclaims = 3 });
	submit1(s, &(struct ac_task_spec){ .type = "b", .data = "2",
		.data_len = 1, .priority = 5, .max_reclaims = 3 });
	got = claim(s, "w1", types_ab, 2, "[]", 2, 30000, &c, NULL);
	if (got != 2) {
		check(0, "dead letters: claim");
		ac_store_close(s);
		return;
	}
	failed_id = c[0].id;
	done_id = c[1].id;
	outcome(s, "w1", c[0].id, c[0].attempt, AC_OUTCOME_FAILED, NULL, "boom",
		&acc, NULL);
	complete(s, "w1", &c[1]);
	ac_claimed_free_array(c, 2);
	ac_error_clear(&err);
	check(s->ops->tasks_ended(s, &all, &list, &err) == 0 &&
	      json_array_size(list) == 1 &&
	      json_integer_value(json_object_get(json_array_get(list, 0), "id")) ==
	      failed_id, "dead letters: failed tasks are listed, completed ones not");
	json_decref(list);
	list = NULL;
	check(s->ops->tasks_ended(s, &(struct ac_ended_filter){
		1u << AC_TASK_COMPLETED, "b", 60000, 0 }, &list, &err) == 0 &&
	      json_array_size(list) == 1, "dead letters: by status, type and age");
	json_decref(list);
	bad[0] = failed_id;
	bad[1] = done_id;
	check(s->ops->requeue(s, bad, 2, NULL, &ids, &n, &err) < 0 &&
	      err.exit_code == AC_EXIT_FAILED && status_is(s, failed_id, "failed"),
	      "dead letters: requeue with a completed id changes nothing");
	check(s->ops->requeue(s, bad, 1, NULL, &ids, &n, &err) == 0 && n == 1 &&
	      ids[0] == failed_id && status_is(s, failed_id, "queued") &&
	      task_int(s, failed_id, "failures") == 0,
	      "dead letters: requeue by id, with fresh attempts");
	free(ids);
	ids = NULL;
	got = claim(s, "w1", types_a, 1, "[]", 1, 30000, &c, NULL);
	if (got == 1) {
		outcome(s, "w1", c[0].id, c[0].attempt, AC_OUTCOME_FAILED, NULL,
			"boom again", &acc, NULL);
		ac_claimed_free_array(c, 1);
	}
	check(s->ops->requeue(s, NULL, 0, &all, &ids, &n, &err) == 0 && n == 1 &&
	      status_is(s, failed_id, "queued"),
	      "dead letters: requeue by filter");
	free(ids);
	ac_store_close(s);
}

/* ------------------------------------------------------ task graphs */

static int64_t submit_after(struct ac_store *s, const char *type,
			    const int64_t *after, size_t n, int policy,
			    int64_t parent)
{
	struct ac_task_spec t = spec(type, 5);

	t.after = after;
	t.nafter = n;
	t.after_policy = policy;
	t.parent = parent;
	return submit1(s, &t);
}

/* Claim one task of type and end it: completed with result, else failed
 * (no retries).  Returns the id claimed, 0 when none was queued. */
static int64_t run_one(struct ac_store *s, const char *type, int ok,
		       const char *result)
{
	const char *types[1] = { type };
	struct ac_claimed *got = NULL;
	int64_t id;
	int accepted = 0;

	if (claim(s, "g1", types, 1, "[]", 1, 60000, &got, NULL) != 1) {
		ac_claimed_free_array(got, got ? 1 : 0);
		return 0;
	}
	id = got[0].id;
	if (outcome(s, "g1", id, got[0].attempt, ok ? AC_OUTCOME_COMPLETED :
		    AC_OUTCOME_FAILED, ok ? result : NULL, ok ? NULL : "boom",
		    &accepted, NULL) < 0 || !accepted)
		id = -1;
	ac_claimed_free_array(got, 1);
	return id;
}

static json_t *links(struct ac_store *s, int64_t id)
{
	json_t *o = NULL;
	struct ac_error err;

	ac_error_clear(&err);
	if (s->ops->task_links(s, id, &o, &err) < 0)
		diag("task_links", &err);
	return o;
}

static void test_graph(void)
{
	struct ac_store *s = fresh_store();
	struct ac_error err;
	int64_t a, b, c, d, x, y, z, w, ids[2];
	json_t *j, *p;
	const char *types[1] = { "d" };
	struct ac_claimed *got = NULL;
	char buf[200];

	if (!s) {
		check(0, "graph: store");
		return;
	}
	register_worker(s, "g1", 1, &err);
	/* The diamond: a -> b, c -> d. */
	a = submit1(s, &(struct ac_task_spec){ .type = "a", .data = "{}",
					       .data_len = 2, .priority = 5,
					       .max_reclaims = 3 });
	b = submit_after(s, "b", &a, 1, AC_AFTER_ALL_OK, 0);
	c = submit_after(s, "c", &a, 1, AC_AFTER_ALL_OK, 0);
	ids[0] = b;
	ids[1] = c;
	d = submit_after(s, "d", ids, 2, AC_AFTER_ALL_OK, 0);
	check(a > 0 && b > 0 && c > 0 && d > 0 && status_is(s, b, "pending") &&
	      status_is(s, d, "pending") && task_int(s, d, "waiting_for") == 2,
	      "graph: tasks waiting for others are pending, counting them");
	check(make_due(b) == 0 && run_one(s, "b", 1, "1") == 0,
	      "graph: a waiting task is not claimed, due or not");
	check(run_one(s, "a", 1, "{\"plan\":1}") == a &&
	      status_is(s, b, "queued") && status_is(s, c, "queued") &&
	      status_is(s, d, "pending") && task_int(s, d, "waiting_for") == 2,
	      "graph: a parent's completion releases its children, not grandchildren");
	check(run_one(s, "b", 1, "{\"b\":2}") == b &&
	      status_is(s, d, "pending") && task_int(s, d, "waiting_for") == 1 &&
	      run_one(s, "c", 1, "{\"c\":3}") == c && status_is(s, d, "queued"),
	      "graph: the join runs once both of its parents completed");
	check(claim(s, "g1", types, 1, "[]", 1, 60000, &got, NULL) == 1 &&
	      got[0].has_after && got[0].id == d,
	      "graph: a claimed task says that it waited for others");
	ac_claimed_free_array(got, got ? 1 : 0);
	p = NULL;
	ac_error_clear(&err);
	check(s->ops->task_parents(s, d, &p, &err) == 0 &&
	      json_object_size(p) == 2, "graph: task_parents answers");
	{
		char kb[24], kc[24];

		snprintf(kb, sizeof kb, "%lld", (long long)b);
		snprintf(kc, sizeof kc, "%lld", (long long)c);
		check(p && json_string_is(json_object_get(p, kb), "status",
					  "completed") &&
		      json_integer_value(json_object_get(json_object_get(
			      json_object_get(p, kc), "result"), "c")) == 3,
		      "graph: the parents' statuses and results, by id");
	}
	json_decref(p);
	j = links(s, d);
	check(j && json_array_size(json_object_get(j, "after")) == 2 &&
	      json_array_size(json_object_get(j, "dependents")) == 0,
	      "graph: links of the join");
	json_decref(j);
	j = links(s, a);
	check(j && json_array_size(json_object_get(j, "dependents")) == 2,
	      "graph: links of the root");
	json_decref(j);

	/* A failure: all-ok children cancelled (and theirs), all-done run. */
	x = submit1(s, &(struct ac_task_spec){ .type = "a", .data = "{}",
					       .data_len = 2, .priority = 5,
					       .max_reclaims = 3 });
	y = submit_after(s, "b", &x, 1, AC_AFTER_ALL_OK, 0);
	z = submit_after(s, "c", &y, 1, AC_AFTER_ALL_DONE, 0);
	w = submit_after(s, "c", &x, 1, AC_AFTER_ALL_DONE, 0);
	check(run_one(s, "a", 0, NULL) == x && status_is(s, y, "cancelled") &&
	      status_is(s, w, "queued") && status_is(s, z, "queued") &&
	      strstr(task_str(s, y, "error", buf, sizeof buf), "ended failed"),
	      "graph: a failed parent cancels all-ok children; all-done ones run");
	/* Waiting for a task that already failed: cancelled at once. */
	check(status_is(s, submit_after(s, "b", &x, 1, AC_AFTER_ALL_OK, 0),
			"cancelled") &&
	      status_is(s, submit_after(s, "b", &x, 1, AC_AFTER_ALL_DONE, 0),
			"queued"),
	      "graph: waiting for a task that ended is settled at once");
	{
		int64_t bad = 999999;
		struct ac_task_spec t = spec("b", 5);
		struct ac_submitted out;

		t.after = &bad;
		t.nafter = 1;
		ac_error_clear(&err);
		check(s->ops->submit(s, &t, 1, &out, &err) < 0 &&
		      strstr(err.msg, "999999") && err.exit_code == 1,
		      "graph: waiting for an unknown task is refused");
		t.after = NULL;
		t.nafter = 0;
		t.parent = bad;
		check(s->ops->submit(s, &t, 1, &out, &err) < 0 &&
		      strstr(err.msg, "parent"),
		      "graph: an unknown parent is refused");
		t.parent_soft = 1;
		check(s->ops->submit(s, &t, 1, &out, &err) == 0 &&
		      task_int(s, out.id, "parent") == -999,
		      "graph: an unknown parent from the environment is left out");
	}
	/* Sub-tasks: a cancel of the parent cancels its unfinished children. */
	{
		int64_t parent, kid1, kid2, grandkid;
		enum ac_task_status st[1];
		const char *pt[1] = { "p" };
		struct ac_claimed *pg = NULL;

		parent = submit1(s, &(struct ac_task_spec){ .type = "p",
			.data = "{}", .data_len = 2, .priority = 5,
			.max_reclaims = 3 });
		check(claim(s, "g1", pt, 1, "[]", 1, 60000, &pg, NULL) == 1,
		      "graph: the parent runs");
		kid1 = submit_after(s, "k", NULL, 0, 0, parent);
		kid2 = submit_after(s, "k", NULL, 0, 0, parent);
		grandkid = submit_after(s, "k", NULL, 0, 0, kid2);
		check(task_int(s, kid1, "parent") == parent,
		      "graph: a sub-task names its parent");
		j = links(s, parent);
		check(j && json_array_size(json_object_get(j, "children")) == 2,
		      "graph: the parent lists its children");
		json_decref(j);
		ac_error_clear(&err);
		check(s->ops->task_awaiting(s, parent, 1, &err) == 0 &&
		      task_str(s, parent, "awaiting_children", buf,
			       sizeof buf)[0] == 't',
		      "graph: a parent waiting for its sub-tasks says so");
		{
			int accepted = 0;

			check(s->ops->cancel(s, &parent, 1, st, &err) == 0 &&
			      status_is(s, kid1, "cancelled") &&
			      status_is(s, grandkid, "cancelled"),
			      "graph: asking a running parent to cancel cancels its queued sub-tasks at once");
			check(outcome(s, "g1", parent, pg[0].attempt,
				      AC_OUTCOME_CANCELLED, NULL, "cancelled",
				      &accepted, NULL) == 0 && accepted &&
			      status_is(s, kid1, "cancelled") &&
			      status_is(s, kid2, "cancelled") &&
			      status_is(s, grandkid, "cancelled"),
			      "graph: cancelling a parent cancels its sub-tasks, down the tree");
		}
		ac_claimed_free_array(pg, pg ? 1 : 0);
	}
	/* A chain as long as allowed cancels in one go; longer is refused. */
	{
		int64_t prev = submit1(s, &(struct ac_task_spec){ .type = "q",
			.data = "{}", .data_len = 2, .priority = 5,
			.max_reclaims = 3 });
		int64_t first = prev, last = 0;
		int ok = prev > 0;
		enum ac_task_status st[1];
		struct ac_task_spec t = spec("q", 5);
		struct ac_submitted out;

		for (int i = 0; ok && i < AC_GRAPH_DEPTH_MAX; i++) {
			last = submit_after(s, "q", &prev, 1, AC_AFTER_ALL_OK, 0);
			ok = last > 0;
			prev = last;
		}
		t.after = &prev;
		t.nafter = 1;
		ac_error_clear(&err);
		check(ok && s->ops->submit(s, &t, 1, &out, &err) < 0 &&
		      strstr(err.msg, "at most"),
		      "graph: a chain longer than the limit is refused");
		check(s->ops->cancel(s, &first, 1, st, &err) == 0 &&
		      status_is(s, last, "cancelled"),
		      "graph: a cancel travels down the longest chain allowed");
	}
	check(counts_agree(s, "graph"), "graph: counts agree");
	ac_store_close(s);
}

static size_t then_next(void *ctx, struct ac_task_spec *specs, size_t max)
{
	size_t *left = ctx, n = 0;

	for (; n < max && *left > 0; n++, (*left)--)
		specs[n] = spec("m", 5);
	return n;
}

/* Two tasks that wait for a task that failed (all-ok): cancelled at once. */
static int64_t doomed_parent;

static size_t doomed_next(void *ctx, struct ac_task_spec *specs, size_t max)
{
	size_t *left = ctx, n = 0;

	for (; n < max && *left > 0; n++, (*left)--) {
		specs[n] = spec("m", 5);
		specs[n].after = &doomed_parent;
		specs[n].nafter = 1;
	}
	return n;
}

static void then_stored(void *ctx, const struct ac_submitted *out, size_t n)
{
	(void)ctx;
	(void)out;
	(void)n;
}

static void test_batch_then(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec then = spec("reduce", 5);
	struct ac_batch_spec b = { .then = &then };
	struct ac_error err;
	size_t left = 100;
	json_t *j, *data;
	int ok = 1, fails = 0;

	if (!s) {
		check(0, "batch: store");
		return;
	}
	register_worker(s, "g1", 1, &err);
	ac_error_clear(&err);
	check(s->ops->submit_many(s, then_next, then_stored, &left, &b,
				  &err) == 0 && b.id > 0 && b.then_id > 0 &&
	      status_is(s, b.then_id, "pending"),
	      "batch: a batch with a continuation, which waits");
	j = NULL;
	check(s->ops->batch_get(s, b.id, &j, &err) == 0 &&
	      json_integer_value(json_object_get(j, "total")) == 100 &&
	      json_integer_value(json_object_get(json_object_get(j, "counts"),
						 "queued")) == 100 &&
	      json_integer_value(json_object_get(j, "then")) == b.then_id,
	      "batch: batch_get counts by status");
	json_decref(j);
	for (int i = 0; i < 100 && ok; i++) {
		int64_t id = run_one(s, "m", i % 10 != 3, "1");

		ok = id > 0;
		fails += i % 10 == 3;
		if (i < 99 && !status_is(s, b.then_id, "pending"))
			ok = 0;
	}
	check(ok && status_is(s, b.then_id, "queued"),
	      "batch: the continuation is queued once, after the last task");
	j = task(s, b.then_id);
	data = j ? json_object_get(j, "data") : NULL;
	check(data && json_integer_value(json_object_get(data, "batch")) == b.id &&
	      json_array_size(json_object_get(data, "completed")) == 90 &&
	      json_array_size(json_object_get(data, "failed")) == (size_t)fails,
	      "batch: its data lists what completed and what did not");
	json_decref(j);
	j = NULL;
	check(s->ops->batch_get(s, b.id, &j, &err) == 0 &&
	      json_is_true(json_object_get(j, "done")) &&
	      json_integer_value(json_object_get(json_object_get(j, "counts"),
						 "failed")) == 10,
	      "batch: done");
	json_decref(j);
	ac_error_clear(&err);
	check(s->ops->batch_get(s, 424242, &j, &err) < 0 && err.exit_code == 2,
	      "batch: an unknown batch is an error");
	/* A batch whose tasks were all cancelled as they came in. */
	doomed_parent = submit1(s, &(struct ac_task_spec){ .type = "x",
		.data = "{}", .data_len = 2, .priority = 5, .max_reclaims = 3 });
	check(run_one(s, "x", 0, NULL) == doomed_parent,
	      "batch: a task fails");
	left = 2;
	check(s->ops->submit_many(s, doomed_next, then_stored, &left, &b,
				  &err) == 0 && status_is(s, b.then_id, "queued"),
	      "batch: the continuation of a batch cancelled at once is queued at once");
	j = task(s, b.then_id);
	check(j && json_array_size(json_object_get(json_object_get(j, "data"),
						   "failed")) == 2,
	      "batch: and lists both as failed");
	json_decref(j);
	/* An empty batch's continuation runs at once. */
	left = 0;
	check(s->ops->submit_many(s, then_next, then_stored, &left, &b,
				  &err) == 0 && status_is(s, b.then_id, "queued"),
	      "batch: an empty batch's continuation is queued at once");
	check(counts_agree(s, "batch"), "batch: counts agree");
	ac_store_close(s);
}

/* Claim one task of type as worker g1 and report usage on it, leaving it
 * running; its id, 0 when none was claimed, -1 on error. */
static int64_t claim_and_report(struct ac_store *s, const char *type,
				const char *usage, int *attempt)
{
	const char *types[1] = { type };
	struct ac_claimed *got = NULL;
	struct ac_report r = { -1.0, usage, NULL };
	struct ac_lease lease;
	struct ac_error err;
	int64_t id;

	if (claim(s, "g1", types, 1, "[]", 1, 60000, &got, NULL) != 1) {
		ac_claimed_free_array(got, got ? 1 : 0);
		return 0;
	}
	id = got[0].id;
	*attempt = got[0].attempt;
	lease.id = id;
	lease.attempt = got[0].attempt;
	ac_claimed_free_array(got, 1);
	ac_error_clear(&err);
	if (s->ops->task_report(s, "g1", &lease, &r, &err) != 0) {
		diag("task_report", &err);
		return -1;
	}
	return id;
}

static json_t *budget(struct ac_store *s, const char *name)
{
	json_t *list = NULL, *b;
	struct ac_error err;

	ac_error_clear(&err);
	if (s->ops->budgets_list(s, name, &list, &err) < 0)
		return NULL;
	b = json_incref(json_array_get(list, 0));
	json_decref(list);
	return b;
}

static int task_held(struct ac_store *s, int64_t id)
{
	json_t *t = task(s, id);
	int held = json_is_true(json_object_get(t, "held")) &&
		json_is_null(json_object_get(t, "due")) &&
		!strcmp(json_string_value(json_object_get(t, "status")),
			"pending");

	json_decref(t);
	return held;
}

static size_t budget_batch_next(void *ctx, struct ac_task_spec *specs,
				size_t max)
{
	size_t *left = ctx, n = 0;

	for (; n < max && *left > 0; n++, (*left)--)
		specs[n] = spec("bb", 5);
	return n;
}

/* Budgets: usage reports charge the task's budget and type; a spent
 * budget's tasks are held however they come to be queued, and released
 * when it is raised, reset or removed. */
static void test_budgets(void)
{
	struct ac_store *s = fresh_store();
	struct ac_task_spec t = spec("bt", 5);
	struct ac_batch_spec bs = { 0 };
	struct ac_error err;
	int64_t ids[4], late, delayed, own, a1, a2;
	long long before;
	size_t left = 3;
	json_t *b, *u;
	int attempt = 0, ok = 1, accepted = 0;
	char name[40];

	if (!s) {
		check(0, "budgets: store");
		return;
	}
	register_worker(s, "g1", 1, &err);
	ac_error_clear(&err);
	check(s->ops->budget_set(s, "b1", "{\"tokens\":100}", 0, &err) == 0 &&
	      (b = budget(s, "b1")) &&
	      json_integer_value(json_object_get(json_object_get(b, "limits"),
						 "tokens")) == 100 &&
	      json_is_false(json_object_get(b, "spent")),
	      "budgets: made, with its limits, not spent");
	json_decref(b);
	ac_error_clear(&err);
	check(s->ops->budget_set(s, "nope", NULL, 1, &err) < 0 &&
	      err.exit_code == 1 &&
	      s->ops->budgets_list(s, "nope", &b, &err) < 0 &&
	      err.exit_code == 1,
	      "budgets: an unknown budget is an error (exit 1)");
	t.budget = "nope";
	before = total_tasks(s);
	ac_error_clear(&err);
	check(submit1(s, &t) < 0 && total_tasks(s) == before,
	      "budgets: a task charged to an unknown budget is refused, and nothing stored");
	t.budget = "b1";
	for (int i = 0; i < 4; i++)
		ok &= (ids[i] = submit1(s, &t)) > 0;
	check(ok, "budgets: tasks charged to a budget");
	a1 = claim_and_report(s, "bt", "{\"tokens\":60,\"cost\":0.5}", &attempt);
	b = budget(s, "b1");
	check(a1 == ids[0] && b &&
	      json_integer_value(json_object_get(json_object_get(b, "usage"),
						 "tokens")) == 60 &&
	      json_integer_value(json_object_get(json_object_get(b,
				"remaining"), "tokens")) == 40 &&
	      json_is_false(json_object_get(b, "spent")) &&
	      status_is(s, ids[1], "queued"),
	      "budgets: a report is charged to its budget");
	json_decref(b);
	outcome(s, "g1", a1, attempt, AC_OUTCOME_COMPLETED, "1", NULL,
		&accepted, NULL);
	a2 = claim_and_report(s, "bt", "{\"tokens\":50}", &attempt);
	b = budget(s, "b1");
	check(a2 == ids[1] && b && json_is_true(json_object_get(b, "spent")) &&
	      !json_is_null(json_object_get(b, "spent_at")) &&
	      json_integer_value(json_object_get(b, "held")) == 2 &&
	      task_held(s, ids[2]) && task_held(s, ids[3]),
	      "budgets: once spent, its queued tasks are held");
	json_decref(b);
	check(claim(s, "g1", (const char *[]){ "bt" }, 1, "[]", 4, 60000, NULL,
		    NULL) == 0,
	      "budgets: held tasks are not claimed");
	check(outcome(s, "g1", a2, attempt, AC_OUTCOME_COMPLETED, "1", NULL,
		      &accepted, NULL) == 0 && accepted &&
	      status_is(s, a2, "completed"),
	      "budgets: a task running when it was spent finishes");
	late = submit1(s, &t);
	t.delay_ms = 60000;
	delayed = submit1(s, &t);
	t.delay_ms = 0;
	check(late > 0 && task_held(s, late) && delayed > 0 &&
	      status_is(s, delayed, "pending") && !task_held(s, delayed),
	      "budgets: a task submitted to a spent budget is held at once; a delayed one waits");
	check(make_due(delayed) == 0 &&
	      claim(s, "g1", (const char *[]){ "bt" }, 1, "[]", 4, 60000,
		    NULL, NULL) == 0 && task_held(s, delayed),
	      "budgets: a delayed task that comes due is held, not claimed");
	u = NULL;
	ac_error_clear(&err);
	check(s->ops->usage_by_type(s, &u, &err) == 0 &&
	      json_integer_value(json_object_get(json_object_get(u, "bt"),
						 "tokens")) == 110 &&
	      json_real_value(json_object_get(json_object_get(u, "bt"),
					      "cost")) == 0.5,
	      "budgets: usage is summed by type");
	json_decref(u);
	check(counts_agree(s, "held"), "budgets: counts agree with held tasks");
	{
		enum ac_task_status st;
		int64_t doomed = submit1(s, &t);

		ac_error_clear(&err);
		check(doomed > 0 && task_held(s, doomed) &&
		      s->ops->cancel(s, &doomed, 1, &st, &err) == 0 &&
		      status_is(s, doomed, "cancelled") &&
		      (u = task(s, doomed)) &&
		      json_is_false(json_object_get(u, "held")),
		      "budgets: a held task cancelled is held no more");
		json_decref(u);
		ac_error_clear(&err);
		check(s->ops->budget_set(s, "b1", "{\"tokens\":500}", 0,
					 &err) == 0 &&
		      status_is(s, doomed, "cancelled") &&
		      s->ops->budget_set(s, "b1", "{\"tokens\":100}", 0,
					 &err) == 0,
		      "budgets: and a release leaves it cancelled");
	}
	ac_error_clear(&err);
	check(s->ops->budget_set(s, "b1", "{\"tokens\":1000}", 0, &err) == 0 &&
	      status_is(s, ids[2], "queued") && status_is(s, late, "queued") &&
	      status_is(s, delayed, "queued") &&
	      claim(s, "g1", (const char *[]){ "bt" }, 1, "[]", 10, 60000,
		    NULL, NULL) == 4,
	      "budgets: raised, its held tasks are queued and claimed");
	check(s->ops->budget_set(s, "b1", "{\"tokens\":10}", 0, &err) == 0 &&
	      (b = budget(s, "b1")) && json_is_true(json_object_get(b, "spent")),
	      "budgets: lowered below its usage, it is spent");
	json_decref(b);
	check(s->ops->budget_set(s, "b1", NULL, 1, &err) == 0 &&
	      (b = budget(s, "b1")) && json_is_false(json_object_get(b, "spent")) &&
	      !json_object_get(json_object_get(b, "usage"), "tokens"),
	      "budgets: reset, its usage starts again from zero");
	json_decref(b);
	t.budget = NULL;
	t.budget_limits = "{\"tokens\":5}";
	own = submit1(s, &t);
	snprintf(name, sizeof name, "task-%lld", (long long)own);
	b = own > 0 ? budget(s, name) : NULL;
	u = own > 0 ? task(s, own) : NULL;
	check(b && u && !strcmp(json_string_value(json_object_get(u, "budget")),
				name),
	      "budgets: limits without a name make a budget of the task's own");
	json_decref(b);
	json_decref(u);
	bs.budget_limits = "{\"tokens\":7}";
	ac_error_clear(&err);
	check(s->ops->submit_many(s, budget_batch_next, then_stored, &left, &bs,
				  &err) == 0 && bs.id > 0,
	      "budgets: a batch with limits");
	snprintf(name, sizeof name, "batch-%lld", (long long)bs.id);
	b = budget(s, name);
	check(b && json_integer_value(json_object_get(json_object_get(b,
				"tasks"), "queued")) == 3,
	      "budgets: a batch's limits make one budget for all its tasks");
	json_decref(b);
	t.type = "b2t";
	t.budget = "b2";
	t.budget_limits = "{\"tokens\":3}";
	check(submit1(s, &t) > 0 && (b = budget(s, "b2")) &&
	      json_integer_value(json_object_get(json_object_get(b, "limits"),
						 "tokens")) == 3,
	      "budgets: a name with limits makes that budget at submit");
	json_decref(b);
	/* Spend b2 with its only task running, then remove it. */
	a1 = claim_and_report(s, "b2t", "{\"tokens\":3}", &attempt);
	ac_error_clear(&err);
	t.budget_limits = NULL;
	late = submit1(s, &t);
	check(a1 > 0 && late > 0 && task_held(s, late) &&
	      s->ops->budget_remove(s, "b2", &err) == 0 &&
	      status_is(s, late, "queued") && budget(s, "b2") == NULL,
	      "budgets: removed, its held tasks are released");
	u = task(s, late);
	check(u && json_is_null(json_object_get(u, "budget")),
	      "budgets: and charged to no budget");
	json_decref(u);
	ac_error_clear(&err);
	check(s->ops->budget_remove(s, "b2", &err) < 0 && err.exit_code == 1,
	      "budgets: removing twice is an error");
	check(counts_agree(s, "budgets"), "budgets: counts agree");
	ac_store_close(s);
}

static struct ac_schedule_spec sched_spec(const char *name, const char *cron)
{
	struct ac_schedule_spec sp;

	memset(&sp, 0, sizeof sp);
	sp.name = name;
	sp.cron = cron;
	sp.catch_up_ms = 3600 * 1000;
	sp.task = spec("nightly", 5);
	return sp;
}

/* Child k of test_schedules: fire for `ms`, print each task made. */
static int schedule_firer(int k, int out, int start, int64_t ms)
{
	struct ac_store *s = NULL;
	struct ac_error err;
	int64_t until = ac_mono_ms() + ms;

	wait_start(start);
	ac_error_clear(&err);
	if (ac_store_open(store_url(), 0, &s, &err) < 0) {
		printf("# firer %d: %s\n", k, err.msg);
		return 1;
	}
	while (ac_mono_ms() < until) {
		struct ac_fired *f = NULL;
		size_t n = 0;
		int64_t next_in = 0;

		if (s->ops->schedules_fire(s, &f, &n, &next_in, &err) < 0) {
			if (err.exit_code == AC_EXIT_TEMPFAIL)
				continue;
			printf("# firer %d: %s\n", k, err.msg);
			ac_store_close(s);
			return 1;
		}
		for (size_t i = 0; i < n; i++)
			if (f[i].kind == AC_FIRED_TASK)
				dprintf(out, "%lld %lld\n",
					(long long)f[i].slot_ms,
					(long long)f[i].task_id);
		ac_fired_free(f, n);
		sleep_ms(next_in > 0 && next_in < 50 ? next_in : 7);
	}
	ac_store_close(s);
	return 0;
}

static void test_schedules(void)
{
	struct ac_store *s = fresh_store();
	struct ac_schedule_spec sp = sched_spec("every-second", "* * * * * *");
	struct ac_error err;
	struct ac_fired *f = NULL, one;
	size_t n = 0;
	int64_t next_in = -2;
	json_t *j = NULL;
	char buf[200];

	if (!s) {
		check(0, "schedules: store");
		return;
	}
	ac_error_clear(&err);
	check(s->ops->schedule_add(s, &sp, 0, &err) == 0,
	      "schedules: add");
	check(s->ops->schedule_add(s, &sp, 0, &err) < 0 && err.exit_code == 1 &&
	      s->ops->schedule_add(s, &sp, 1, &err) == 0,
	      "schedules: a second add of a name is refused, unless replacing");
	check(s->ops->schedules_list(s, NULL, &j, &err) == 0 &&
	      json_array_size(j) == 1 &&
	      json_string_is(json_array_get(j, 0), "cron", "* * * * * *") &&
	      json_string_is(json_array_get(j, 0), "overlap", "allow") &&
	      json_is_string(json_object_get(json_array_get(j, 0), "next")),
	      "schedules: list");
	json_decref(j);
	check(s->ops->schedules_list(s, "nope", &j, &err) < 0 &&
	      err.exit_code == 1, "schedules: an unknown name is an error");
	/* Several processes fire at once for 3.5 s: one task per slot. */
	{
		pid_t pids[4];
		int start[2], outp[2];
		char *text;
		long lines = 0, dup = 0;
		long long prev_slot = 0, slots[64];

		if (pipe(start) < 0 || pipe(outp) < 0) {
			check(0, "schedules: pipes");
			ac_store_close(s);
			return;
		}
		for (int k = 0; k < 4; k++) {
			pids[k] = fork();
			if (pids[k] == 0) {
				close(start[1]);
				close(outp[0]);
				_exit(schedule_firer(k, outp[1], start[0],
						     3500));
			}
		}
		close(start[0]);
		close(outp[1]);
		close(start[1]);
		text = read_all(outp[0]);
		check(wait_children(pids, 4, "firer"),
		      "schedules: the firing processes ran");
		for (char *line = text; line && *line;) {
			long long slot = strtoll(line, &line, 10);

			strtoll(line, &line, 10);
			while (*line == '\n')
				line++;
			for (long i = 0; i < lines && i < 64; i++)
				dup += slots[i] == slot;
			if (lines < 64)
				slots[lines] = slot;
			if (prev_slot && slot != prev_slot + 1000 &&
			    slot <= prev_slot)
				dup++;
			prev_slot = slot;
			lines++;
		}
		free(text);
		check(lines >= 3 && lines <= 5 && dup == 0 &&
		      wb_count("SELECT count(*) FROM tasks WHERE type = "
			       "'nightly'", 0, 0) == lines,
		      "schedules: four processes firing at once made one task per second");
		printf("# %ld slots fired\n", lines);
	}
	/* Workers down past slots: the latest fires once, the rest counted
	 * as missed. */
	sp.name = "gap";
	check(s->ops->schedule_add(s, &sp, 0, &err) == 0 &&
	      wb_sql("UPDATE schedules SET next_at = next_at - 5000 WHERE "
		     "name = 'gap'", 0, 0, 0, NULL) == 0 &&
	      s->ops->schedules_fire(s, &f, &n, &next_in, &err) == 0,
	      "schedules: fire after a gap");
	{
		int tasks = 0;
		long long missed = 0;

		for (size_t i = 0; i < n; i++) {
			if (strcmp(f[i].name, "gap"))
				continue;
			tasks += f[i].kind == AC_FIRED_TASK;
			if (f[i].kind == AC_FIRED_MISSED)
				missed += f[i].missed;
		}
		if (!(tasks == 1 && missed >= 3 && next_in >= 0 &&
		      next_in <= 1000))
			printf("# tasks %d missed %lld next_in %lld\n", tasks,
			       missed, (long long)next_in);
		check(tasks == 1 && missed >= 3 && next_in >= 0 &&
		      next_in <= 1000,
		      "schedules: a gap fires its latest slot once and counts the others missed");
	}
	ac_fired_free(f, n);
	/* Past the catch-up window: nothing fires. */
	sp.catch_up_ms = 0;
	sp.name = "late";
	sp.cron = "0 0 1 1 *";
	check(s->ops->schedule_add(s, &sp, 0, &err) == 0 &&
	      wb_sql("UPDATE schedules SET next_at = $1 WHERE name = 'late'", 1,
		     ac_now_ms() - 60000, 0, NULL) == 0 &&
	      s->ops->schedules_fire(s, &f, &n, &next_in, &err) == 0,
	      "schedules: fire a slot past its window");
	{
		int late_tasks = 0, late_missed = 0;

		for (size_t i = 0; i < n; i++)
			if (!strcmp(f[i].name, "late")) {
				late_tasks += f[i].kind == AC_FIRED_TASK;
				late_missed += f[i].kind == AC_FIRED_MISSED;
			}
		check(late_tasks == 0 && late_missed == 1,
		      "schedules: a slot past its catch-up window is missed, not fired");
	}
	ac_fired_free(f, n);
	/* Overlap skip: the last task still runs, the slot is skipped. */
	sp.name = "skipper";
	sp.cron = "* * * * * *";
	sp.overlap = AC_OVERLAP_SKIP;
	check(s->ops->schedule_add(s, &sp, 0, &err) == 0 &&
	      s->ops->schedule_change(s, "every-second", AC_SCHEDULE_PAUSE,
				      "test", &err) == 0, "schedules: pause");
	sleep_ms(1100);
	check(s->ops->schedules_fire(s, &f, &n, &next_in, &err) == 0,
	      "schedules: fire skipper");
	ac_fired_free(f, n);
	sleep_ms(1100);
	{
		int skips = 0, others = 0;

		check(s->ops->schedules_fire(s, &f, &n, &next_in, &err) == 0,
		      "schedules: fire skipper again");
		for (size_t i = 0; i < n; i++) {
			if (f[i].kind == AC_FIRED_SKIPPED &&
			    !strcmp(f[i].name, "skipper"))
				skips++;
			else if (f[i].kind == AC_FIRED_TASK &&
				 strcmp(f[i].name, "gap"))
				others++;
		}
		check(skips == 1 && others == 0,
		      "schedules: overlap skip skips while the last task is unfinished; a paused schedule does not fire");
		ac_fired_free(f, n);
	}
	check(s->ops->schedule_run(s, "every-second", &one, &err) == 0 &&
	      one.task_id > 0 && one.slot_ms == 0 &&
	      strstr(task_str(s, one.task_id, "idempotency_key", buf,
			      sizeof buf), ":run:"),
	      "schedules: run by hand, even paused");
	{
		json_t *t = task(s, one.task_id);

		check(t && json_string_is(json_object_get(t, "meta"), "schedule",
					  "every-second") &&
		      json_is_null(json_object_get(json_object_get(t, "meta"),
						   "slot")),
		      "schedules: the task's meta names its schedule");
		json_decref(t);
	}
	free(one.name);
	free(one.type);
	check(s->ops->schedule_change(s, "every-second", AC_SCHEDULE_RESUME,
				      NULL, &err) == 0 &&
	      s->ops->schedule_change(s, "late", AC_SCHEDULE_REMOVE, NULL,
				      &err) == 0 &&
	      s->ops->schedule_change(s, "late", AC_SCHEDULE_REMOVE, NULL,
				      &err) < 0 && err.exit_code == 1,
	      "schedules: resume and remove; removing twice is an error");
	check(counts_agree(s, "schedules"), "schedules: counts agree");
	ac_store_close(s);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	const char *sel = getenv("AC_TEST_STORE");
	struct stat sb;
	char cmd[300];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sel && ac_store_url_is_pg(sel)) {
		pg_url = sel;
	} else if (sel && *sel && strcmp(sel, "sqlite")) {
		if (stat(sel, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
			fprintf(stderr, "test_store: AC_TEST_STORE '%s' is neither \"sqlite\", a directory nor a postgres:// URL\n",
				sel);
			return 2;
		}
		base = sel;
	}
	printf("# backend: %s\n", pg_url ? "postgres" : "sqlite");
	snprintf(tmpdir, sizeof tmpdir, "%s/ac-unit-XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (pg_url && !admin_conn()) {
		check(0, "backend: connect to the database of AC_TEST_STORE");
		printf("1..%d\n", test_no);
		return 1;
	}
	test_open();
	test_claim_order();
	test_delay();
	test_tags();
	test_fencing();
	test_retries();
	test_tempfail();
	test_idempotency();
	test_drain();
	test_register();
	test_set_handlers();
	test_lease();
	test_sweep();
	test_restart_reclaim();
	test_cancel_release();
	test_report();
	test_reads();
	test_submit_atomic();
	test_submit_many();
	test_prune();
	test_counts();
	test_counts_migrate();
	test_two_handles();
	test_counter_lost();
	test_concurrent_open();
	test_many_claimers();
	test_crashed_and_ends();
	test_committer();
	test_compression();
	test_migrate_v3();
	test_flow_caps();
	test_flow_rate();
	test_flow_pause_hold();
	test_flow_fair();
	test_expire_snooze();
	test_dead_letters();
	test_graph();
	test_batch_then();
	test_schedules();
	test_budgets();
	printf("1..%d\n", test_no);
	PQfinish(pg_admin);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return failures ? 1 : 0;
}
