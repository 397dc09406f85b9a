#!/usr/bin/env bats
# PostgreSQL as the store: real workers and commands on the throwaway
# server that tests/run.sh starts (AC_TEST_PG_URL, made by
# scripts/pgtest.sh).  Each test makes a database of its own on it, so that
# files and tests never share one; the kill-and-restart test runs a server
# of its own, so that restarting it disturbs nobody else.  Every test is
# skipped when AC_TEST_PG_URL is unset (AC_TEST_PG=0, or bats run by hand).

load helpers

PGTEST=$AC_ROOT/scripts/pgtest.sh

setup() {
	ac_setup
	PG_DB=
	PG_DIR=
	[ -n "${AC_TEST_PG_URL:-}" ] ||
		skip "no PostgreSQL server: AC_TEST_PG_URL is unset (tests/run.sh starts one unless AC_TEST_PG=0)"
	command -v psql >/dev/null 2>&1 ||
		skip "psql is not installed (apt-get install postgresql-client)"
}

teardown() {
	local rc=0
	ac_teardown || rc=$?
	if [ -n "$PG_DB" ]; then
		psql "$AC_TEST_PG_URL" -X -q -v ON_ERROR_STOP=1 \
			-c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" \
			>/dev/null 2>&1 || echo "# could not drop database $PG_DB" >&2
	fi
	if [ -n "$PG_DIR" ]; then
		sh "$PGTEST" stop "$PG_DIR" || rc=1
		rm -rf "$PG_DIR"
	fi
	return $rc
}

# url_with_db URL DB: URL naming database DB instead of its own.
url_with_db() {
	printf '%s/%s\n' "${1%/*}" "$2"
}

# new_db [SERVER-URL]: a new, empty database on the server (default: the
# shared one); sets PG_URL to it and makes it this test's store.
new_db() {
	local server=${1:-$AC_TEST_PG_URL}
	PG_DB=ac_t${BATS_TEST_NUMBER}_$$_$RANDOM
	psql "$server" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PG_DB\"" ||
		fail "cannot create database $PG_DB on $server"
	PG_URL=$(url_with_db "$server" "$PG_DB")
	# Every helper (ac-status in start_worker, task_json, ...) reads it.
	export AC_STORE=$PG_URL
}

# sql QUERY: the query's rows on this test's database, unaligned.
sql() {
	psql "$PG_URL" -X -Atq -v ON_ERROR_STOP=1 -c "$1"
}

count_is() { # QUERY N
	[ "$(sql "$1" 2>/dev/null)" = "$2" ]
}

# count_ge N: at least N tasks completed.
count_ge() {
	local n
	n=$(sql "select count(*) from tasks where status = 'completed'" 2>/dev/null) || return 1
	[ -n "$n" ] && ((n >= $1))
}

@test "postgres: a worker runs a submitted task and ac-submit prints its result" {
	new_db
	start_worker w1 --store "$PG_URL" --handler upper="$H/upper.sh" \
		--heartbeat 1 --lease 3
	run -0 --separate-stderr ac_submit --store "$PG_URL" upper <<<'"hello"'
	assert_eq "$output" '"HELLO"' "the result"
	assert_eq "$(sql "select status from tasks")" completed "status in the tasks table"
	assert_eq "$(sql "select count(*) from attempts where outcome = 'completed'")" 1 \
		"completed attempts"
	assert_eq "$(ac-status --store "$PG_URL" --json | jq -c .tasks.completed)" 1 \
		"ac-status on the same database"
	[ ! -e "$AC_TMP/ac.db" ] || fail "a SQLite store was made although --store named PostgreSQL"
}

@test "postgres: 300 tasks on two workers; one is killed -9 and the server restarted mid-run; each task completes exactly once" {
	local url n t0 ids missing twice
	# A server of its own: it is restarted below.  Not under $AC_TMP,
	# which the postgres user may not enter.
	PG_DIR=$(mktemp -d /tmp/ac-pg80.XXXXXX)
	url=$(sh "$PGTEST" start "$PG_DIR") || fail "pgtest.sh start failed"
	new_db "$url"
	PG_DB=   # goes with the server

	cat >"$AC_TMP/rec" <<'SH'
#!/bin/sh
# Sleeps 50-90 ms, then records the task id and returns it.
cat >/dev/null
sleep "0.0$(( 5 + AC_TASK_ID % 5 ))"
echo "$AC_TASK_ID" >>"$AC_TEST_TMP/done.ids"
echo "{\"id\":$AC_TASK_ID}"
SH
	chmod +x "$AC_TMP/rec"
	for w in w1 w2; do
		start_worker "$w" --store "$PG_URL" --handler rec="$AC_TMP/rec" \
			--concurrency 4 --heartbeat 1 --lease 3
	done
	seq 1 300 | sed 's/.*/{"n":&}/' >"$AC_TMP/in.jsonl"
	run -0 --separate-stderr ac-submit --store "$PG_URL" --batch --async rec \
		"$AC_TMP/in.jsonl"
	assert_eq "$(printf '%s\n' "$output" | grep -c '^[0-9][0-9]*$')" 300 "ids printed"

	# Mid-run: some done, many not.
	wait_until 60 count_ge 40 || fail "fewer than 40 tasks completed in 60 s: $(task_counts)"
	n=$(sql "select count(*) from tasks where status = 'completed'")
	((n < 300)) || fail "all 300 completed before the kill: the run was too quick to test anything"
	kill -9 "$(worker_pid w1)"
	sh "$PGTEST" restart "$PG_DIR" || fail "pgtest.sh restart failed"
	echo "# killed w1 and restarted the server at $n of 300 completed" >&3

	t0=$SECONDS
	wait_until 120 count_is "select count(*) from tasks where status = 'completed'" 300 ||
		fail "not all completed within 120 s: $(sql "select status, count(*) from tasks group by status" | tr '\n' ' '); w2 log: $(tail -n 20 "$AC_TMP/w2.log")"
	echo "# all 300 completed $((SECONDS - t0)) s after the restart; attempts: $(sql "select worker, coalesce(outcome, 'open'), count(*) from attempts group by 1, 2 order by 1, 2" | tr '|\n' ' ,')" >&3
	pid_alive "$(worker_pid w2)" || fail "w2 did not survive the server restart: $(tail -n 20 "$AC_TMP/w2.log")"

	assert_eq "$(sql "select count(*) from tasks")" 300 "tasks in the store"
	twice=$(sql "select task_id from attempts where outcome = 'completed'
		group by task_id having count(*) > 1")
	assert_eq "$twice" "" "tasks with more than one completed attempt"
	assert_eq "$(sql "select count(distinct task_id) from attempts where outcome = 'completed'")" \
		300 "tasks with a completed attempt"
	assert_eq "$(sql "select count(*) from tasks t where (select count(*) from attempts a
		where a.task_id = t.id and a.outcome = 'completed') <> 1")" 0 \
		"tasks without exactly one completed attempt"
	# Every task's handler ran to its end at least once (a run killed with
	# w1 may have recorded its id before dying: more than once is fine).
	ids=$(sql "select id from tasks order by id")
	missing=$(comm -23 <(printf '%s\n' "$ids" | sort) <(sort -u "$AC_TMP/done.ids"))
	assert_eq "$missing" "" "task ids the handler never recorded"
	# The result stored is the one of the completed attempt.
	assert_eq "$(ac-status --store "$PG_URL" --tasks --status completed --limit 1000 --json |
		jq '[.[] | select(.result.id != .id)] | length')" 0 "results that name another task"
}

@test "postgres: a server that is not there: ac-submit exits 69 with one line, quickly" {
	local url t0
	# Nothing listens on port 1; a closed port refuses at once.
	url="postgresql://postgres@127.0.0.1:1/ac"
	t0=$SECONDS
	run -69 --separate-stderr timeout 30 ac-submit --store "$url" --async t <<<'{}'
	assert_one_stderr_line ac-submit
	((SECONDS - t0 < 10)) || fail "took $((SECONDS - t0)) s"
	run -69 --separate-stderr timeout 30 ac-status --store "$url"
	assert_one_stderr_line ac-status
}

@test "postgres: /readyz is 503 while the store is down, 200 again once it is back; the worker goes on" {
	command -v curl >/dev/null || skip "curl is not installed"
	local url murl
	PG_DIR=$(mktemp -d /tmp/ac-pg80.XXXXXX)
	url=$(sh "$PGTEST" start "$PG_DIR") || fail "pgtest.sh start failed"
	new_db "$url"
	PG_DB=
	start_worker r1 --store "$PG_URL" --handler echo=cat --heartbeat 1 --lease 4 \
		--metrics 127.0.0.1:0
	murl=$(ac-status --store "$PG_URL" --workers --json | jq -r '.[0].metrics')
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$murl/readyz")" = 200 ]
	sh "$PGTEST" stop "$PG_DIR" || fail "pgtest.sh stop failed"
	wait_until 20 sh -c '[ "$(curl -s -o /dev/null -w "%{http_code}" "$1/readyz")" = 503 ]' _ "$murl" ||
		fail "readyz stayed ready with the store down: $(curl -s "$murl/readyz")"
	[ "$(curl -s "$murl/readyz")" = "not ready: the store cannot be reached" ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$murl/healthz")" = 200 ]
	curl -s "$murl/metrics" | grep -qx 'ac_store_up 0'
	sh "$PGTEST" restart "$PG_DIR" || fail "pgtest.sh restart failed"
	wait_until 30 sh -c '[ "$(curl -s -o /dev/null -w "%{http_code}" "$1/readyz")" = 200 ]' _ "$murl" ||
		fail "readyz not ready again: $(curl -s "$murl/readyz")"
	run ac_submit --store "$PG_URL" echo <<<'{"back":true}'
	[ "$status" -eq 0 ] || fail "submit after the restart: $status $output"
	assert_eq "$output" '{"back":true}'
}
