#!/usr/bin/env bats
# ac-scale: a pool's supervisor starts NAME-1..NAME-N, replaces the dead
# (same id, back-off when young), shrinks by drain without killing a task,
# grows again by undoing the drain, follows the queue with --auto, stops on
# SIGTERM; --daemon, --status, --recommend, and bad input.
#
# Each test's supervisors are in AC_PIDS (the teardown stops them and
# whatever is left in their sessions); the workers' pids are recorded as
# they are seen, so that a daemon's workers, in a session of their own, are
# stopped by pid as well.

load helpers

teardown() {
	local p
	if [ -f "$AC_TMP/worker.pids" ]; then
		while read -r p; do
			[ -n "$p" ] && ours "$p" && AC_PIDS+=("$p")
		done < <(sort -u "$AC_TMP/worker.pids")
	fi
	# A daemon's log is under AC_HOME: kept where the sanitizer check
	# of ac_teardown looks.
	for p in "$AC_HOME"/log/pool-*.log; do
		[ -f "$p" ] && cp "$p" "$AC_TMP/daemon-$(basename "$p")"
	done
	ac_teardown
}

# start_pool NAME ARGS...: `ac-scale --pool NAME ARGS...` as a foreground
# supervisor in the background, in a session of its own, logging to
# $AC_TMP/pool-NAME.log; waits until it answers on its socket.
start_pool() {
	local name=$1 pid log=$AC_TMP/pool-$1.log
	shift
	echo "--- ac-scale --pool $name $*" >>"$log"
	setsid env --default-signal=INT,QUIT ac-scale --pool "$name" "$@" \
		</dev/null >>"$log" 2>&1 3>&- &
	pid=$!
	AC_PIDS+=("$pid")
	echo "$pid" >"$AC_TMP/pool-$name.pid"
	if ! wait_until "$AC_WAIT" pool_answers "$name"; then
		echo "# ac-scale --pool $name (pid $pid) does not answer; log:" >&2
		sed 's/^/#   /' "$log" >&2
		return 1
	fi
}

supervisor_pid() {
	cat "$AC_TMP/pool-$1.pid"
}

pool_answers() {
	ac-scale --pool "$1" --status --json >/dev/null 2>&1
}

# pool_state NAME: the state JSON; the workers' pids are noted for the
# teardown.
pool_state() {
	local state
	state=$(ac-scale --pool "$1" --status --json) || return 1
	jq -r '.workers[].pid // empty' <<<"$state" >>"$AC_TMP/worker.pids"
	printf '%s\n' "$state"
}

# pool_field NAME JQ: one value of the state (jq -r).
pool_field() {
	pool_state "$1" | jq -r "$2"
}

# pool_running NAME N: exactly N workers, NAME-1..NAME-N, each running and
# listed by ac-status --workers with its pid.
pool_running() {
	local name=$1 n=$2 state i pid
	state=$(pool_state "$name" 2>/dev/null) || return 1
	[ "$(jq '.workers | length' <<<"$state")" -eq "$n" ] || return 1
	for ((i = 1; i <= n; i++)); do
		pid=$(jq --arg id "$name-$i" '.workers[] | select(.id == $id and
			.status == "running") | .pid' <<<"$state")
		[ -n "$pid" ] && worker_listed "$name-$i" "$pid" || return 1
	done
}

show_pool() {
	echo "# state: $(ac-scale --pool "$1" --status --json 2>&1)" >&2
	echo "# workers: $(ac-status --workers --json 2>&1 | jq -c 'map([.id, .status, .pid])')" >&2
	sed 's/^/#   /' "$AC_TMP/pool-$1.log" >&2
}

# replaced NAME ID OLDPID: ID runs again under a new pid, registered.
replaced() {
	local pid
	pid=$(pool_state "$1" | jq --arg id "$2" '.workers[] |
		select(.id == $id and .status == "running") | .pid')
	[ -n "$pid" ] && [ "$pid" != "$3" ] && worker_listed "$2" "$pid"
}

# all_status STATUS ID...: every task has STATUS.
all_status() {
	local s=$1 id
	shift
	for id in "$@"; do
		status_is "$id" "$s" || return 1
	done
}

@test "a pool of 3: p-1..p-3 come up; one killed with SIGKILL is replaced under its id" {
	start_pool p 3 -- --handlers "$H"
	wait_until 30 pool_running p 3 || { show_pool p; fail "3 running workers"; }
	assert_eq "$(ac-status --workers --json | jq -c 'map(.id) | sort')" \
		'["p-1","p-2","p-3"]' "ac-status --workers"
	assert_eq "$(pool_field p .supervisor_pid)" "$(supervisor_pid p)" supervisor_pid
	assert_eq "$(pool_field p .target)" 3 target
	assert_eq "$(pool_field p .auto)" null auto
	local old
	old=$(pool_state p | jq '.workers[] | select(.id == "p-2") | .pid')
	kill -KILL "$old"
	wait_until 30 replaced p p-2 "$old" || { show_pool p; fail "p-2 not replaced"; }
	assert_eq "$(pool_state p | jq '.workers[] | select(.id == "p-2") | .restarts')" 1 restarts
	grep -q "worker p-2 (pid $old) was killed by signal 9" "$AC_TMP/pool-p.log" ||
		fail "the death is not logged with its signal"
	wait_until 30 pool_running p 3 || { show_pool p; fail "3 running workers again"; }
	# the table for people
	run -0 ac-scale --pool p --table
	assert_contains "$output" "supervisor pid $(supervisor_pid p)" table
	assert_match "$(sed -n 2p <<<"$output")" '^ID +PID +STATUS +RESTARTS' "table header"
}

@test "shrinking to 1 with 3 tasks running: every task completes on its first attempt" {
	start_pool p 3 -- --handler slow="$H/sleep.sh 5" --concurrency 1
	wait_until 30 pool_running p 3 || { show_pool p; fail "3 running workers"; }
	local a b c
	a=$(submit_async slow '{}')
	b=$(submit_async slow '{}')
	c=$(submit_async slow '{}')
	wait_until 30 all_status running "$a" "$b" "$c" ||
		fail "tasks not all running: $(ac-status --tasks --json | jq -c 'map([.id, .status, .worker])')"
	assert_eq "$(ac-status --tasks --status running --json | jq -c 'map(.worker) | sort')" \
		'["p-1","p-2","p-3"]' "one task on each worker"
	run -0 --separate-stderr ac-scale --pool p 1 --json
	assert_eq "$(jq .target <<<"$output")" 1 "target in the reply"
	assert_eq "$(jq -c '[.workers[] | [.id, .status]]' <<<"$output")" \
		'[["p-1","running"],["p-2","draining"],["p-3","draining"]]' "state in the reply"
	assert_eq "$(worker_field p-3 drain_reason)" "ac-scale: pool p shrinks to 1" drain_reason
	local id
	for id in "$a" "$b" "$c"; do
		wait_status "$id" completed 40
		assert_eq "$(task_field "$id" attempt)" 1 "attempt of task $id"
	done
	wait_until 30 pool_running p 1 || { show_pool p; fail "one worker left"; }
	wait_until 30 worker_field_is p-2 status stopped || fail "p-2: $(worker_field p-2 status)"
	wait_until 30 worker_field_is p-3 status stopped || fail "p-3: $(worker_field p-3 status)"
	grep -q "worker p-3 (pid [0-9]*) left the pool: it exited with status 0" "$AC_TMP/pool-p.log" ||
		{ show_pool p; fail "p-3 did not leave cleanly"; }
}

# one_process_per_id: no two live ac-worker processes of this test share
# an id.
one_process_per_id() {
	local dups
	dups=$(for p in $(pgrep -x ac-worker); do
		ours "$p" && tr '\0' ' ' <"/proc/$p/cmdline" | grep -o -- '--id [^ ]*'
	done | sort | uniq -d)
	[ -z "$dups" ] || { echo "# two processes with $dups" >&2; return 1; }
}

@test "growing again before a drained worker leaves undoes its drain; never two processes under one id" {
	start_pool p 2 -- --handler gate="$H/gate.sh" --concurrency 1
	wait_until 30 pool_running p 2 || { show_pool p; fail "2 running workers"; }
	local a b
	a=$(submit_async gate '"a"')
	b=$(submit_async gate '"b"')
	wait_file "$AC_TMP/started.$a"
	wait_file "$AC_TMP/started.$b"
	run -0 ac-scale --pool p 1
	assert_eq "$(worker_field p-2 drained)" true "p-2 drained"
	run -0 ac-scale --pool p 2 --json
	assert_eq "$(jq -r '.workers[] | select(.id == "p-2") | .status' <<<"$output")" running "p-2 kept"
	assert_eq "$(worker_field p-2 drained)" false "p-2's drain undone"
	one_process_per_id
	touch "$AC_TMP/go"
	wait_status "$a" completed
	wait_status "$b" completed
	assert_eq "$(task_field "$a" attempt)" 1 "attempt of a"
	assert_eq "$(task_field "$b" attempt)" 1 "attempt of b"
	wait_until 30 pool_running p 2 || { show_pool p; fail "2 running workers again"; }
	one_process_per_id
	# and the pool still takes work on both
	run -0 ac_submit --batch gate <<<$'"c"\n"d"'
}

# watch_targets NAME SECONDS WANT: poll the pool's target every 0.5 s for
# at most SECONDS, appending each value read to $AC_TMP/targets, until the
# value read is WANT (the value recorded is the value tested: no race).
watch_targets() {
	local name=$1 end=$((SECONDS + $2)) want=$3 t
	while ((SECONDS < end)); do
		t=$(pool_field "$name" .target 2>/dev/null)
		echo "$t" >>"$AC_TMP/targets"
		[ "$t" = "$want" ] && return 0
		sleep 0.5
	done
	return 1
}

pool_size_is() {
	[ "$(pool_field "$1" '.workers | length' 2>/dev/null)" = "$2" ]
}

@test "--auto --min 1 --max 3: grows under a burst, shrinks back to 1 when the queue is empty" {
	start_pool a --auto --min 1 --max 3 --cooldown 1 -- \
		--handler burst="$H/sleep.sh 1" --concurrency 1
	wait_until 30 pool_running a 1 || { show_pool a; fail "1 running worker"; }
	assert_eq "$(pool_state a | jq -c '.auto | [.min, .max, .up, .down, .cooldown_s]')" \
		'[1,3,4,1,1]' "auto settings"
	seq 30 | jq -c . | ac-submit --batch --async burst >/dev/null
	watch_targets a 60 3 || { show_pool a; fail "did not grow to 3"; }
	wait_until 90 summary_is .tasks.completed 30 || fail "tasks: $(task_counts)"
	watch_targets a 60 1 || { show_pool a; fail "did not shrink to 1"; }
	wait_until 30 pool_size_is a 1 || { show_pool a; fail "the drained workers did not leave"; }
	assert_eq "$(sort -n "$AC_TMP/targets" | head -1)" 1 "lowest target"
	assert_eq "$(sort -n "$AC_TMP/targets" | tail -1)" 3 "highest target"
	# every task ran once
	assert_eq "$(ac-status --tasks --json --limit 1000 | jq '[.[].attempt] | max')" 1 "attempts"
	# a plain N switches it back to a fixed size
	run -0 ac-scale --pool a 2 --json
	assert_eq "$(jq -c '[.target, .auto]' <<<"$output")" '[2,null]' "fixed again"
}

@test "--recommend: the worker count the queue asks for" {
	local i
	for i in 1 2 3 4 5 6 7; do submit_async r '{}' >/dev/null; done
	run -0 --separate-stderr ac-scale --recommend
	assert_eq "$output" 7 "7 queued tasks, one per worker"
	run -0 ac-scale --recommend --per-worker 3
	assert_eq "$output" 3 "ceil(7/3)"
	run -0 ac-scale --recommend --per-worker 3 --max 2
	assert_eq "$output" 2 "clamped to --max"
	run -0 ac-scale --recommend --min 10
	assert_eq "$output" 10 "clamped to --min"
	# a pool whose workers registered counts only their task types
	start_worker rp-1 --handler other=cat
	run -0 ac-drain rp-1
	submit_async other '{}' >/dev/null
	submit_async other '{}' >/dev/null
	run -0 ac-scale --pool rp --recommend
	assert_eq "$output" 2 "the types of pool rp"
	run -0 ac-scale --recommend
	assert_eq "$output" 9 "pool default has no worker: every type"
	# needs only the store
	run -69 --separate-stderr ac-scale --recommend --store "$AC_TMP/none.db"
	assert_one_stderr_line ac-scale
}

@test "bad input: one line on stderr, exit 2 or 69, nothing started" {
	run -2 --separate-stderr ac-scale --pool p -1
	assert_usage_error ac-scale
	assert_contains "$stderr" "N wants a number" "bad N"
	run -2 --separate-stderr ac-scale --pool p abc
	assert_usage_error ac-scale
	run -2 --separate-stderr ac-scale --pool p 5000
	assert_usage_error ac-scale
	run -2 --separate-stderr ac-scale --pool p --auto --min 3 --max 1
	assert_usage_error ac-scale
	assert_contains "$stderr" "--min 3 is above --max 1" "--min > --max"
	run -2 --separate-stderr ac-scale --recommend --min 3 --max 1
	assert_usage_error ac-scale
	run -2 --separate-stderr ac-scale --pool p --auto --max 3
	assert_usage_error ac-scale
	run -2 --separate-stderr ac-scale --pool p --auto --min 1 --max 3 --up 1 --down 2
	assert_usage_error ac-scale
	run -2 --separate-stderr ac-scale --pool p 3 --no-such-option
	assert_usage_error ac-scale
	assert_contains "$stderr" "no-such-option" "the option named"
	run -2 --separate-stderr ac-scale --pool 'bad/name' 3
	assert_usage_error ac-scale
	run -2 --separate-stderr ac-scale --pool p 3 -- --id x --handlers "$H"
	assert_usage_error ac-scale
	run -2 --separate-stderr ac-scale --pool p --status 3
	assert_usage_error ac-scale
	run -2 --separate-stderr ac-scale --pool p 3
	assert_one_stderr_line ac-scale
	assert_contains "$stderr" "needs WORKER-ARGS" "no worker arguments"
	run -69 --separate-stderr ac-scale --pool p --status
	assert_one_stderr_line ac-scale
	assert_eq "$stderr" "ac-scale: no supervisor of pool 'p' runs" stderr
	run -69 --separate-stderr ac-scale --pool p
	assert_one_stderr_line ac-scale
	assert_eq "$output" "" "nothing on stdout"
	[ ! -e "$AC_HOME/run/pool-p.pid" ] || fail "a pid file was left"
	[ ! -e "$AC_HOME/run/pool-p.sock" ] || fail "a socket was left"
	[ ! -e "$AC_STORE" ] || fail "the store was created"
}

@test "a running supervisor: other WORKER-ARGS are refused (exit 2), the same ones accepted" {
	start_pool p 1 -- --handler echo=cat
	wait_until 30 pool_running p 1 || { show_pool p; fail "1 running worker"; }
	run -2 --separate-stderr ac-scale --pool p 2 -- --handler echo=tac
	assert_one_stderr_line ac-scale
	assert_contains "$stderr" "other arguments" stderr
	assert_eq "$(pool_field p .target)" 1 "target unchanged"
	run -0 ac-scale --pool p 2 -- --handler echo=cat
	run -0 ac-scale --pool p 2
	wait_until 30 pool_running p 2 || { show_pool p; fail "2 running workers"; }
}

@test "a worker that dies young is started again with back-off: 1 s, 2 s, 4 s" {
	# --lease below twice --heartbeat: ac-worker refuses to start (exit 2)
	start_pool y 1 -- --handler echo=cat --heartbeat 2 --lease 3
	wait_until 30 grep -q "starting it again in 4 s" "$AC_TMP/pool-y.log" ||
		{ show_pool y; fail "no back-off of 4 s"; }
	grep -q "worker y-1 (pid [0-9]*) exited with status 2 after [0-9.]* s; starting it again in 1 s" \
		"$AC_TMP/pool-y.log" || fail "the first back-off"
	grep -q "starting it again in 2 s" "$AC_TMP/pool-y.log" || fail "the second back-off"
	local state
	state=$(pool_state y)
	[ "$(jq '.workers[0].restarts' <<<"$state")" -ge 2 ] || fail "restarts: $state"
}

@test "SIGTERM to the supervisor: the running task completes, the pool stops, exit 0" {
	start_pool p 2 -- --handler gate="$H/gate.sh" --concurrency 1
	wait_until 30 pool_running p 2 || { show_pool p; fail "2 running workers"; }
	local a sup rc=0
	sup=$(supervisor_pid p)
	a=$(submit_async gate '"a"')
	wait_file "$AC_TMP/started.$a"
	kill -TERM "$sup"
	sleep 1
	pid_alive "$sup" || fail "the supervisor left before its task was done"
	assert_eq "$(pool_state p | jq -c '[.workers[].status] | unique')" '["draining"]' "statuses"
	touch "$AC_TMP/go"
	wait_exit "$sup" 30 || rc=$?
	assert_eq "$rc" 0 "exit status"
	assert_eq "$(task_status "$a")" completed task
	assert_eq "$(task_field "$a" attempt)" 1 attempt
	[ ! -e "$AC_HOME/run/pool-p.pid" ] || fail "pid file left"
	[ ! -e "$AC_HOME/run/pool-p.sock" ] || fail "socket left"
	assert_eq "$(ac-status --workers --json | jq -c 'map(.status) | unique')" '["stopped"]' "workers"
}

@test "SIGHUP to the supervisor is passed on: every worker reads its handlers again, the pool goes on" {
	local d=$AC_TMP/handlers sup id
	mkdir -p "$d"
	printf '#!/bin/sh\necho 1\n' >"$d/one"
	chmod +x "$d/one"
	start_pool p 2 -- --handlers "$d"
	wait_until 30 pool_running p 2 || { show_pool p; fail "2 running workers"; }
	sup=$(supervisor_pid p)
	printf '#!/bin/sh\necho 2\n' >"$d/.two"
	chmod +x "$d/.two"
	mv "$d/.two" "$d/two"
	id=$(submit_async two '{}')
	kill -HUP "$sup"
	wait_status "$id" completed
	assert_eq "$(task_field "$id" result)" 2 "the new handler ran"
	pid_alive "$sup" || fail "SIGHUP killed the supervisor"
	wait_until 30 eval '[ "$(ac-status --workers --json | jq -c "[.[] | select(.status != \"stopped\") | .handlers] | unique")" = "[[\"one\",\"two\"]]" ]' ||
		fail "workers' handlers: $(ac-status --workers --json | jq -c 'map(.handlers)')"
	assert_eq "$(pool_state p | jq '.workers | length')" 2 "still two workers"
}

@test "a second signal stops the workers at once" {
	start_pool p 1 -- --handler gate="$H/gate.sh"
	wait_until 30 pool_running p 1 || { show_pool p; fail "1 running worker"; }
	local a sup rc=0
	sup=$(supervisor_pid p)
	a=$(submit_async gate '"a"')
	wait_file "$AC_TMP/started.$a"
	kill -INT "$sup"
	sleep 1
	pid_alive "$sup" || fail "gone after one signal"
	kill -INT "$sup"
	wait_exit "$sup" 30 || rc=$?
	assert_eq "$rc" 0 "exit status"
	assert_eq "$(task_status "$a")" running "the task is left to be reclaimed"
	grep -q "stopping the workers of pool p at once" "$AC_TMP/pool-p.log" || fail "not logged"
}

@test "a supervisor killed with SIGKILL: its workers drain and leave; its stale socket does not block the next" {
	start_pool p 2 -- --handler echo=cat
	wait_until 30 pool_running p 2 || { show_pool p; fail "2 running workers"; }
	local sup pids p
	sup=$(supervisor_pid p)
	pids=$(pool_state p | jq '.workers[].pid')
	kill -KILL "$sup"
	for p in $pids; do
		wait_gone "$p" 30 || fail "worker $p outlived its supervisor"
	done
	[ -S "$AC_HOME/run/pool-p.sock" ] || fail "no stale socket to test with"
	run -69 --separate-stderr ac-scale --pool p --status
	start_pool p 2 -- --handler echo=cat
	wait_until 30 pool_running p 2 || { show_pool p; fail "2 running workers under the new supervisor"; }
	run -0 ac_submit echo <<<'"still"'
	assert_eq "$output" '"still"'
}

@test "--daemon: pid file, log, state printed; kill of that pid drains and exits, removing pid file and socket" {
	run -0 --separate-stderr ac-scale --pool d 2 --daemon --json -- --handlers "$H"
	local pid
	pid=$(jq .supervisor_pid <<<"$output")
	assert_match "$pid" '^[0-9]+$' "supervisor_pid"
	AC_PIDS+=("$pid")
	assert_eq "$(jq .target <<<"$output")" 2 target
	assert_eq "$(cat "$AC_HOME/run/pool-d.pid")" "$pid" "pid file"
	[ -S "$AC_HOME/run/pool-d.sock" ] || fail "no socket"
	[ -f "$AC_HOME/log/pool-d.log" ] || fail "no log"
	wait_until 30 pool_running d 2 || fail "2 running workers: $(cat "$AC_HOME/log/pool-d.log")"
	grep -q "pool d: supervisor pid $pid" "$AC_HOME/log/pool-d.log" || fail "supervisor not in its log"
	grep -q "worker d-1 started" "$AC_HOME/log/pool-d.log" || fail "the workers' lines not in the log"
	# detached: a session of its own
	[ "$(ps -o sid= -p "$pid" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ] ||
		fail "the daemon kept the caller's session"
	# a second --daemon call tells the running one
	run -0 ac-scale --pool d 1 --daemon --json
	assert_eq "$(jq .supervisor_pid <<<"$output")" "$pid" "the same supervisor"
	wait_until 30 pool_running d 1 || fail "1 running worker"
	kill -TERM "$pid"
	wait_gone "$pid" 30 || fail "the daemon did not exit"
	[ ! -e "$AC_HOME/run/pool-d.pid" ] || fail "pid file left"
	[ ! -e "$AC_HOME/run/pool-d.sock" ] || fail "socket left"
	grep -q "every worker has stopped" "$AC_HOME/log/pool-d.log" || fail "no last words in the log"
	assert_eq "$(ac-status --workers --json | jq -c 'map(.status) | unique')" '["stopped"]' "workers"
}
