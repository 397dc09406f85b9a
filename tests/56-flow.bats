#!/usr/bin/env bats
# Flow control across a cluster: caps and rates of ac-queue, a handler's
# retry_after and snooze (fd 3), pauses, fair claims, ac-submit --expires.
# Several real workers share one store; what ran when is sampled from the
# handlers themselves (tests/handlers/cluster.sh, upstream.sh, snooze.sh),
# not from ac's own counters.  Each behaviour runs on SQLite and again on a
# PostgreSQL database of its own when tests/run.sh started a server
# (AC_TEST_PG_URL; skipped otherwise).

load helpers

setup() {
	ac_setup
	PG_DB=
}

teardown() {
	local rc=0
	ac_teardown || rc=$?
	pg_test_db_drop
	return $rc
}

# lines N: N lines of "{}" (task data for --batch).
lines() {
	local i
	for ((i = 0; i < $1; i++)); do echo '{}'; done
}

# max_of FILE: the largest number in FILE.
max_of() {
	sort -n "$1" | tail -n 1
}

# elapsed FILE [FIELD]: seconds from the first to the last time in FILE
# (in field FIELD of each line, default 1).
elapsed() {
	awk -v f="${2:-1}" 'NR == 1 || $f < first { first = $f } NR == 1 || $f > last { last = $f }
		END { printf "%.3f\n", last - first }' "$1"
}

# ge A B: A >= B, as decimals.
ge() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'
}

flow_cap() {
	run -0 ac-queue limit work --concurrency 2
	for w in w1 w2 w3; do
		start_worker "$w" --concurrency 4 --heartbeat 1 \
			--handler work="$H/cluster.sh 0.4"
	done
	lines 12 | ac_submit --batch work >/dev/null || fail "the batch did not complete"
	assert_eq "$(wc -l <"$AC_TMP/cluster/all.n")" 12 "tasks run"
	assert_eq "$(max_of "$AC_TMP/cluster/all.n")" 2 \
		"most handlers running at once across 3 workers of 4 slots (cap 2)"
}

flow_rate() {
	local t0 t1
	run -0 ac-queue limit work --rate 5/s
	start_worker w1 --concurrency 4 --handler work="$H/cluster.sh 0"
	start_worker w2 --concurrency 4 --handler work="$H/cluster.sh 0"
	t0=$(date +%s.%N)
	lines 50 | ac_submit --batch work >/dev/null || fail "the batch did not complete"
	t1=$(date +%s.%N)
	assert_eq "$(wc -l <"$AC_TMP/cluster/all.t")" 50 "tasks run"
	ge "$(elapsed "$AC_TMP/cluster/all.t")" 9 ||
		fail "50 tasks at 5/s started within $(elapsed "$AC_TMP/cluster/all.t") s (want >= 9)"
	ge "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" 9 ||
		fail "the batch took less than 9 s"
}

flow_retry_after() {
	local first ids=() id at
	for w in w1 w2 w3; do
		start_worker "$w" --concurrency 2 --heartbeat 1 \
			--handler api="$H/upstream.sh 4"
	done
	first=$(submit_async api '{"n":0}')
	wait_file "$AC_TMP/upstream.429/at" || fail "the first task never ran"
	at=$(cat "$AC_TMP/upstream.429/at")
	wait_until "$AC_WAIT" eval 'ac-queue show api | jq -e ".[0].held_until != null" >/dev/null' ||
		fail "the type is not shown held: $(ac-queue show api)"
	for n in 1 2 3 4 5 6; do
		ids+=("$(submit_async api "{\"n\":$n}")")
	done
	sleep 1.5
	[ ! -e "$AC_TMP/upstream.log" ] ||
		fail "a task ran while its type was held: $(cat "$AC_TMP/upstream.log")"
	for id in "$first" "${ids[@]}"; do
		wait_status "$id" completed 30 || fail "task $id did not complete"
	done
	assert_eq "$(wc -l <"$AC_TMP/upstream.log")" 7 "runs after the hold"
	while read -r id start worker; do
		ge "$start" "$(awk -v a="$at" 'BEGIN { printf "%.3f", a + 3.9 }')" ||
			fail "task $id started on $worker at $start, within the 4 s hold from $at"
	done <"$AC_TMP/upstream.log"
	assert_eq "$(task_field "$first" failures)" 0 "the 429 used no attempt"
	assert_eq "$(task_json "$first" | jq -r '.attempts[0].outcome')" tempfail "its first attempt"
}

flow_fair() {
	local b pos
	run -0 ac-queue limit work --fair
	lines 500 | ac-submit --batch --async --key A work >/dev/null
	b=$(submit_async work '{}' --key B)
	start_worker w1 --concurrency 2 --handler work="$H/record.sh"
	wait_status "$b" completed 60 || fail "B's task did not complete"
	pos=$(grep -n -x "$b" "$AC_TMP/record.log" | cut -d: -f1)
	((pos <= 4)) || fail "B's one task started as number $pos behind A's 500"
}

flow_per_key() {
	local i
	run -0 ac-queue limit work --per-key 1
	start_worker w1 --concurrency 3 --handler work="$H/cluster.sh 0.3"
	start_worker w2 --concurrency 3 --handler work="$H/cluster.sh 0.3"
	for i in 1 2 3 4; do
		printf '%s\n' '{"k":"a"}' | ac-submit --async --key a work >/dev/null
		printf '%s\n' '{"k":"b"}' | ac-submit --async --key b work >/dev/null
	done
	wait_until 30 eval '[ "$(ac-status --json | jq .tasks.completed)" = 8 ]' ||
		fail "not all 8 completed: $(ac-status --json | jq -c .tasks)"
	assert_eq "$(max_of "$AC_TMP/cluster/a.n")" 1 "key a at once"
	assert_eq "$(max_of "$AC_TMP/cluster/b.n")" 1 "key b at once"
}

flow_pause() {
	local id
	start_worker w1 --handler work="$H/record.sh"
	run -0 ac-queue pause work --reason "database upgrade"
	id=$(submit_async work '{}')
	sleep 1.5
	assert_eq "$(task_status "$id")" queued "while paused"
	assert_eq "$(ac-status --queue --json | jq -r '.[] | select(.type == "work") | .paused')" true \
		"ac-status --queue shows the pause"
	run -0 ac-queue resume work
	wait_status "$id" completed || fail "not run after resume"
}

flow_snooze() {
	local id
	start_worker w1 --handler later="$H/snooze.sh 2"
	id=$(submit_async later '{"v":1}')
	wait_status "$id" completed 30 || fail "the snoozed task did not complete"
	assert_eq "$(task_field "$id" result | jq -c .)" '{"v":1}' "result"
	assert_eq "$(task_field "$id" failures)" 0 "no attempt used"
	assert_eq "$(task_json "$id" | jq -r '.attempts[0].outcome')" snoozed "first attempt"
	ge "$(elapsed "$AC_TMP/snooze.log" 2)" 1.9 ||
		fail "ran again $(elapsed "$AC_TMP/snooze.log" 2) s after snoozing for 2 s"
}

flow_expires() {
	local gone keep
	gone=$(submit_async work '{}' --expires 1)
	keep=$(submit_async work '{}' --expires 600)
	sleep 2
	start_worker w1 --handler work="$H/record.sh"
	wait_status "$keep" completed || fail "the other task did not run"
	wait_status "$gone" expired || fail "not expired"
	assert_eq "$(cat "$AC_TMP/record.log")" "$keep" "only the task that had not expired ran"
	assert_eq "$(task_field "$gone" started)" null "never started"
}

@test "sqlite: a cap of 2 across 3 workers of concurrency 4 never has more than 2 running" {
	flow_cap
}

@test "postgres: a cap of 2 across 3 workers of concurrency 4 never has more than 2 running" {
	pg_test_db
	flow_cap
}

@test "sqlite: a rate of 5/s over 50 tasks on 2 workers takes at least 9 s" {
	flow_rate
}

@test "postgres: a rate of 5/s over 50 tasks on 2 workers takes at least 9 s" {
	pg_test_db
	flow_rate
}

@test "sqlite: a handler's retry_after (exit 75) holds its type on every worker, and uses no attempt" {
	flow_retry_after
}

@test "postgres: a handler's retry_after (exit 75) holds its type on every worker, and uses no attempt" {
	pg_test_db
	flow_retry_after
}

@test "sqlite: fair: key B's one task starts within the first claims behind key A's 500" {
	flow_fair
}

@test "postgres: fair: key B's one task starts within the first claims behind key A's 500" {
	pg_test_db
	flow_fair
}

@test "sqlite: --per-key 1 runs one task of each key at a time across workers" {
	flow_per_key
}

@test "postgres: --per-key 1 runs one task of each key at a time across workers" {
	pg_test_db
	flow_per_key
}

@test "sqlite: a paused type is not claimed, shows in ac-status --queue, and runs on resume" {
	flow_pause
}

@test "postgres: a paused type is not claimed, shows in ac-status --queue, and runs on resume" {
	pg_test_db
	flow_pause
}

@test "sqlite: snooze puts the task back for its time without using an attempt" {
	flow_snooze
}

@test "postgres: snooze puts the task back for its time without using an attempt" {
	pg_test_db
	flow_snooze
}

@test "sqlite: a task not started within --expires ends expired and never runs" {
	flow_expires
}

@test "postgres: a task not started within --expires ends expired and never runs" {
	pg_test_db
	flow_expires
}

@test "ac-submit --expires with no number of seconds above 0: exit 2, one line, nothing queued" {
	local bad
	submit_async work '{}' >/dev/null
	for bad in 0 -5 abc ""; do
		run -2 --separate-stderr ac-submit --async --expires "$bad" work <<<'{}'
		assert_usage_error ac-submit || return 1
		assert_contains "$stderr" "--expires" "names the option" || return 1
	done
	assert_eq "$(ac-status --json | jq .tasks.queued)" 1 "only the first task is queued"
}
