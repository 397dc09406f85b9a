#!/usr/bin/env bats
# Crash safety: leases and fencing, checkpoint hand-off over fd 3, same-id
# reclaim, cancel, drain with a grace, poison tasks, clock steps, store
# faults.  Real processes and kill -9 throughout.

load helpers

# A handler of three checkpointed steps (a second each), logging each step
# as "TASK ATTEMPT STEP" to $AC_TEST_TMP/steps.log; with AC_CHECKPOINT it
# resumes after the step stored there.  Its sleeps run as children of the
# shell, so a worker's death must reach the whole process group.
steps_handler() {
	cat >"$AC_TMP/steps" <<'SH'
#!/bin/sh
echo $$ >>"$AC_TEST_TMP/handler.pids"
from=0
[ -n "${AC_CHECKPOINT:-}" ] && from=$(jq .step "$AC_CHECKPOINT")
step=$from
while [ "$step" -lt 3 ]; do
	step=$((step + 1))
	echo "$AC_TASK_ID $AC_ATTEMPT $step begin" >>"$AC_TEST_TMP/steps.log"
	sleep "${STEP_SECONDS:-1}"
	echo "$AC_TASK_ID $AC_ATTEMPT $step done" >>"$AC_TEST_TMP/steps.log"
	echo "{\"checkpoint\":{\"step\":$step}}" >&3
done
echo "{\"steps\":3,\"resumed_from\":$from,\"attempt\":$AC_ATTEMPT,\"worker\":\"$AC_WORKER_ID\"}"
SH
	chmod +x "$AC_TMP/steps"
}

# by_handler: sleeps $1 seconds, then prints {"by":WORKER-ID}.
by_handler() {
	cat >"$AC_TMP/by" <<'SH'
#!/bin/sh
sleep "$1"
echo "{\"by\":\"$AC_WORKER_ID\"}"
SH
	chmod +x "$AC_TMP/by"
}

# field ID FIELD: a task's field as compact JSON.
field() {
	task_json "$1" | jq -c ".$2"
}

field_is() {
	[ "$(field "$1" "$2" 2>/dev/null)" = "$3" ]
}

steps_done() { # TASK STEP: a "done" line of that step exists
	grep -q "^$1 [0-9]* $2 done\$" "$AC_TMP/steps.log" 2>/dev/null
}

@test "kill -9 mid-task: the handler dies with its worker, another worker resumes from the checkpoint, exactly once" {
	steps_handler
	start_worker A --handler steps="$AC_TMP/steps" --heartbeat 0.5 --lease 2
	id=$(submit_async steps '{}')
	wait_until 20 steps_done "$id" 1
	wait_until 20 field_is "$id" checkpoint '{"step":1}' ||
		fail "checkpoint 1 not stored: $(task_json "$id")"
	kill -9 "$(worker_pid A)"
	# The handler's whole group dies within a second or two, sleeps too.
	sleep 2
	while read -r p; do
		! pid_alive "$p" || fail "handler $p outlived its worker"
	done <"$AC_TMP/handler.pids"
	[ -z "$(pgrep -f "$AC_TMP/steps")" ] || fail "handler processes left: $(pgrep -af "$AC_TMP/steps")"
	before=$(wc -l <"$AC_TMP/steps.log")
	sleep 1
	assert_eq "$(wc -l <"$AC_TMP/steps.log")" "$before" "the handler went on writing after its worker died"

	start_worker B --handler steps="$AC_TMP/steps" --heartbeat 0.5 --lease 2
	wait_status "$id" completed 30
	result=$(field "$id" result)
	assert_eq "$(jq -c '{resumed_from, attempt, worker}' <<<"$result")" \
		'{"resumed_from":1,"attempt":2,"worker":"B"}' "result"
	# Step 1 was not redone; every step completed by exactly one attempt
	# after the checkpoint.
	assert_eq "$(grep -c "^$id [0-9]* 1 done\$" "$AC_TMP/steps.log")" 1 "step 1 runs"
	assert_eq "$(grep -c "^$id 2 3 done\$" "$AC_TMP/steps.log")" 1 "step 3 by attempt 2"
	# One completed attempt; the first one is recorded as lost.
	run -0 ac-status --task "$id" --json
	assert_eq "$(jq -c '[.attempts[] | .outcome]' <<<"$output")" '["lost","completed"]' "attempts"
	assert_eq "$(jq .reclaims <<<"$output")" 1 "reclaims"
	assert_eq "$(jq -c .checkpoint <<<"$output")" '{"step":3}' "last checkpoint"
}

@test "a worker restarted under its own id takes its task back at once, not after its 30 s lease" {
	steps_handler
	start_worker A --handler steps="$AC_TMP/steps" --lease 30
	id=$(submit_async steps '{}')
	wait_until 20 steps_done "$id" 1
	wait_until 20 field_is "$id" checkpoint '{"step":1}'
	kill -9 "$(worker_pid A)"
	wait_gone "$(worker_pid A)"
	start=$SECONDS
	start_worker A --handler steps="$AC_TMP/steps" --lease 30
	wait_status "$id" completed 20
	((SECONDS - start < 15)) || fail "took $((SECONDS - start)) s"
	assert_eq "$(field "$id" result | jq -c '{resumed_from, attempt}')" \
		'{"resumed_from":1,"attempt":2}' "result"
}

@test "fencing: a worker frozen past its lease can change nothing once another completed the task" {
	cat >"$AC_TMP/mark" <<'SH'
#!/bin/sh
sleep 2
echo "{\"by\":\"$AC_WORKER_ID\",\"attempt\":$AC_ATTEMPT}"
SH
	chmod +x "$AC_TMP/mark"
	start_worker A --handler mark="$AC_TMP/mark" --heartbeat 0.5 --lease 2
	id=$(submit_async mark '{}')
	wait_status "$id" running
	kill -STOP "$(worker_pid A)"
	start_worker B --handler mark="$AC_TMP/mark" --heartbeat 0.5 --lease 2
	wait_status "$id" completed 30
	assert_eq "$(field "$id" result)" '{"by":"B","attempt":2}' "B's result"
	kill -CONT "$(worker_pid A)"
	# A wakes up, its handler has ended: whatever it tries is refused.
	wait_until 20 grep -q "lease" "$AC_TMP/A.log"
	sleep 1
	assert_eq "$(field "$id" result)" '{"by":"B","attempt":2}' "result after A woke"
	assert_eq "$(task_field "$id" status)" completed
	assert_eq "$(task_json "$id" | jq -c '[.attempts[] | .outcome]')" '["lost","completed"]'
	pid_alive "$(worker_pid A)" || fail "A died"
}

@test "a draining worker keeps renewing its leases: a task longer than the lease is not run twice" {
	by_handler
	start_worker A --handler slow="$AC_TMP/by 4" --heartbeat 0.5 --lease 1.5
	start_worker B --handler slow="$AC_TMP/by 4" --heartbeat 0.5 --lease 1.5
	ac-drain B
	id=$(submit_async slow '{}')
	wait_until 20 task_field_is "$id" worker A
	ac-drain --undo B
	kill -TERM "$(worker_pid A)"
	rc=0
	wait_exit "$(worker_pid A)" 30 || rc=$?
	assert_eq "$rc" 0 "A's exit status"
	assert_eq "$(task_field "$id" status)" completed
	assert_eq "$(task_field "$id" attempt)" 1 "attempts"
	assert_eq "$(field "$id" result)" '{"by":"A"}'
}

@test "--drain-timeout hands running tasks back to the queue without using an attempt" {
	start_worker A --handler slow='sleep 30' --drain-timeout 1 --grace 1
	id=$(submit_async slow '{}' --retries 0)
	wait_status "$id" running
	kill -TERM "$(worker_pid A)"
	rc=0
	wait_exit "$(worker_pid A)" 20 || rc=$?
	assert_eq "$rc" 0 "exit status"
	assert_eq "$(task_field "$id" status)" queued
	assert_eq "$(task_json "$id" | jq -c '[.attempts[] | .outcome]')" '["released"]'
	assert_eq "$(task_field "$id" failures)" 0
}

poisoned() { # PID ID
	! pid_alive "$1" || status_is "$2" failed
}

@test "a poison task that kills its worker ends failed after --max-reclaims lost attempts" {
	# The handler kills its worker; a loop restarts the worker under the
	# same id, which takes the task back at once each time.
	cat >"$AC_TMP/poison" <<'SH'
#!/bin/sh
echo x >>"$AC_TEST_TMP/poison.runs"
kill -9 $PPID
sleep 5
SH
	chmod +x "$AC_TMP/poison"
	id=$(submit_async poison '{}' --max-reclaims 2)
	for i in 1 2 3 4 5; do
		status=$(task_status "$id")
		[ "$status" = failed ] && break
		setsid ac-worker --id P --handler poison="$AC_TMP/poison" \
			--heartbeat 0.5 --lease 2 </dev/null >>"$AC_TMP/P.log" 2>&1 &
		pid=$!
		AC_PIDS+=("$pid")
		# Killed by its poison task, or idle once the task failed.
		wait_until 20 poisoned "$pid" "$id" ||
			fail "worker neither killed nor done: $(task_json "$id")"
	done
	wait_status "$id" failed
	assert_contains "$(task_field "$id" error)" "lost 3 times"
	assert_eq "$(wc -l <"$AC_TMP/poison.runs")" 3 "runs"
}

@test "ac-cancel: queued at once, running stopped (a waiting submit exits 4), finished refused, unknown refused" {
	start_worker A --handler slow='sleep 30' --grace 1 --concurrency 1
	running=$(submit_async slow '{}')
	wait_status "$running" running
	queued=$(submit_async slow '{}')
	run -0 ac-cancel "$queued"
	assert_eq "$(task_field "$queued" status)" cancelled
	# A waiting submit of the running task's twin: cancel it while it runs.
	printf '{}\n' | ac_submit slow >"$AC_TMP/out" 2>"$AC_TMP/err" &
	subpid=$!
	wait_until 20 summary_is .tasks.queued 1
	run -0 ac-cancel "$running"
	wait_status "$running" cancelled
	waited=$(ac-status --tasks --status running --json | jq -r '.[0].id')
	wait_until 20 status_is "$waited" running
	run -0 ac-cancel --wait "$waited"
	rc=0
	wait "$subpid" || rc=$?
	assert_eq "$rc" 4 "waiting ac-submit's exit status"
	assert_contains "$(cat "$AC_TMP/err")" "cancelled"
	before=$(task_counts)
	run --separate-stderr -1 ac-cancel "$running"
	assert_one_stderr_line ac-cancel
	assert_contains "$stderr" "already ended"
	run --separate-stderr -2 ac-cancel 999999
	assert_one_stderr_line ac-cancel
	run --separate-stderr -2 ac-cancel "$queued" nonsense
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "a cancel reaches a worker that was away: its task is not run again" {
	start_worker A --handler slow='sleep 30' --lease 30
	id=$(submit_async slow '{}')
	wait_status "$id" running
	kill -9 "$(worker_pid A)"
	wait_gone "$(worker_pid A)"
	run -0 ac-cancel "$id"
	start_worker A --handler slow='sleep 30' --lease 30
	wait_status "$id" cancelled
	assert_eq "$(task_field "$id" attempt)" 1 "attempts"
}

@test "the side channel keeps progress, usage and log; a bad line is ignored with a warning" {
	cat >"$AC_TMP/side" <<'SH'
#!/bin/sh
echo '{"progress":0.5,"usage":{"tokens":100,"cost":0.25}}' >&3
echo 'this is not json' >&3
echo '{"usage":{"tokens":23}}' >&3
echo '{"log":"halfway there"}' >&3
echo '{"log":"done"}' >&3
echo '{"ok":true}'
SH
	chmod +x "$AC_TMP/side"
	start_worker A --handler side="$AC_TMP/side"
	run -0 ac_submit side <<<'{}'
	assert_eq "$output" '{"ok":true}'
	id=$(ac-status --tasks --json | jq '.[0].id')
	run -0 task_json "$id"
	assert_eq "$(jq -c .usage <<<"$output")" '{"tokens":123,"cost":0.25}' "usage"
	assert_eq "$(jq .progress <<<"$output")" 0.5 "progress"
	assert_eq "$(jq -r .log <<<"$output")" $'halfway there\ndone' "log"
	wait_until 10 grep -q "bad side-channel line" "$AC_TMP/A.log"
}

@test "a wall-clock step of an hour on one worker causes no early reclaim" {
	fakelib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
	[ -n "$fakelib" ] || skip "libfaketime is not installed (apt-get install faketime)"
	by_handler
	start_worker A --handler slow="$AC_TMP/by 5" --heartbeat 0.5 --lease 2
	id=$(submit_async slow '{}')
	wait_until 20 task_field_is "$id" worker A
	# B's wall clock runs an hour ahead; its sweeps must not take A's task.
	# (Under ASan the preload comes before its runtime; that is fine here.)
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
	LD_PRELOAD=$fakelib FAKETIME=+1h FAKETIME_DONT_FAKE_MONOTONIC=1 \
		start_worker B --handler slow="$AC_TMP/by 5" --heartbeat 0.5 --lease 2
	wait_status "$id" completed 30
	assert_eq "$(field "$id" result)" '{"by":"A"}'
	assert_eq "$(task_field "$id" attempt)" 1 "attempts"
}

@test "a locked store is waited for, never a failed task" {
	start_worker A --handler quick='echo {}' --concurrency 4
	seq 20 | sed 's/.*/{}/' | ac-submit --batch --async quick >/dev/null
	# Hold the write lock for three seconds while tasks complete.
	(echo ".timeout 20000"; echo "BEGIN IMMEDIATE;"; sleep 3; echo "COMMIT;") | sqlite3 "$AC_STORE" &
	lockpid=$!
	seq 20 | sed 's/.*/{}/' | ac-submit --batch --async quick >/dev/null
	wait "$lockpid"
	wait_until 30 summary_is .tasks.completed 40
	assert_eq "$(ac-status --json | jq .tasks.failed)" 0 "failed tasks"
}

@test "a store write failure (file size limit) is survived: the task runs on and completes when writes work again" {
	prlimit --version >/dev/null 2>&1 || skip "prlimit is not installed"
	# The log goes through a pipe, which the file size limit does not touch.
	setsid ac-worker --id D --handler slow='sleep 2' --heartbeat 0.5 --lease 30 \
		</dev/null 2> >(cat >>"$AC_TMP/D.log") >/dev/null &
	pid=$!
	AC_PIDS+=("$pid")
	echo "$pid" >"$AC_TMP/D.pid"
	wait_until 20 worker_listed D "$pid"
	id=$(submit_async slow '{}')
	wait_status "$id" running
	prlimit --pid "$pid" --fsize=1:unlimited || skip "cannot set a file size limit here"
	sleep 4
	assert_eq "$(task_status "$id")" running "while writes fail"
	wait_until 10 grep -q "retrying" "$AC_TMP/D.log" || fail "no log line: $(cat "$AC_TMP/D.log")"
	prlimit --pid "$pid" --fsize=unlimited:unlimited
	wait_status "$id" completed 20
	assert_eq "$(task_field "$id" attempt)" 1 "attempts"
	grep -q "store is back" "$AC_TMP/D.log"
}

@test "chaos (small): workers killed with SIGKILL and restarted, nothing lost, nothing completed twice" {
	run -0 env N=150 KILL_EVERY=1 W=3 C=3 sh "$AC_ROOT/tests/chaos/chaos.sh"
	echo "$output" >&2
	assert_eq "$(tail -n 1 <<<"$output" | jq .ok)" true "chaos summary"
}
