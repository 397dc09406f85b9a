#!/usr/bin/env bats
# ac-drain: drained workers claim nothing new, --reason, persistence across
# restarts, --undo, --wait (and its --timeout), --stop, unknown workers.

load helpers

@test "a drained worker takes no new task while the other one does" {
	start_worker wa --handler rec="$H/record.sh"
	start_worker wb --handler rec="$H/record.sh"
	run -0 --separate-stderr ac-drain wa
	assert_eq "$output" "" "ac-drain prints nothing"
	assert_eq "$stderr" "" "ac-drain stderr"
	wait_until "$AC_WAIT" worker_field_is wa status draining ||
		fail "wa status: $(worker_field wa status)"
	assert_eq "$(worker_field wa drained)" true "drained"
	run -0 ac_submit --batch rec <<<$'1\n2\n3\n4\n5\n6'
	assert_eq "$(ac-status --tasks --json | jq -c 'map(.worker) | unique')" '["wb"]' "workers that ran the tasks"
	assert_eq "$(worker_field wa completed)" 0 "wa completed"
	assert_eq "$(worker_field wb status)" idle "the other worker"
}

@test "--reason shows as drain_reason" {
	start_worker wa --handler echo=cat
	run -0 ac-drain --reason "kernel upgrade" wa
	assert_eq "$(worker_field wa drain_reason)" "kernel upgrade" drain_reason
	assert_eq "$(worker_field wa drained)" true drained
	run -0 ac-drain wa --reason "second reason"
	assert_eq "$(worker_field wa drain_reason)" "second reason" "options after the worker"
}

@test "drain holds across a restart of the worker with the same --id" {
	start_worker wa --handler echo=cat
	run -0 ac-drain --reason maintenance wa
	stop_worker wa
	start_worker wa --handler echo=cat
	wait_until "$AC_WAIT" worker_field_is wa status draining ||
		fail "status after restart: $(worker_field wa status)"
	assert_eq "$(worker_field wa drained)" true "drained after restart"
	assert_eq "$(worker_field wa drain_reason)" maintenance "reason after restart"
	local id
	id=$(submit_async echo '"x"')
	sleep 1.5
	assert_eq "$(task_status "$id")" queued "task while the only worker is drained"
	run -0 ac-drain --undo wa
	wait_status "$id" completed
	assert_eq "$(task_field "$id" worker)" wa "worker"
}

@test "--undo: the worker claims again" {
	start_worker wa --handler echo=cat
	run -0 ac-drain wa --reason r
	local id
	id=$(submit_async echo '"x"')
	sleep 1
	assert_eq "$(task_status "$id")" queued "while drained"
	run -0 --separate-stderr ac-drain --undo wa
	assert_eq "$output" "" "ac-drain --undo prints nothing"
	wait_status "$id" completed
	assert_eq "$(worker_field wa drained)" false drained
	assert_eq "$(worker_field wa drain_reason)" null drain_reason
	wait_until "$AC_WAIT" worker_field_is wa status idle ||
		fail "status after undo: $(worker_field wa status)"
}

@test "a drained worker finishes the task it runs" {
	start_worker wa --handler gate="$H/gate.sh"
	local a
	a=$(submit_async gate '"a"')
	wait_file "$AC_TMP/started.$a"
	run -0 ac-drain wa
	touch "$AC_TMP/go"
	wait_status "$a" completed
	assert_eq "$(task_field "$a" result)" a result
}

@test "--wait returns once the running task is done" {
	start_worker wa --handler gate="$H/gate.sh"
	local a
	a=$(submit_async gate '"a"')
	wait_file "$AC_TMP/started.$a"
	ac-drain --wait wa >"$AC_TMP/drain.out" 2>"$AC_TMP/drain.err" 3>&- &
	local dpid=$!
	sleep 1
	pid_alive "$dpid" || fail "ac-drain --wait returned with a task running: $(cat "$AC_TMP/drain.err")"
	touch "$AC_TMP/go"
	local rc=0
	wait_exit "$dpid" || rc=$?
	assert_eq "$rc" 0 "ac-drain --wait exit status ($(cat "$AC_TMP/drain.err"))"
	assert_eq "$(task_status "$a")" completed "task status when --wait returned"
	assert_eq "$(cat "$AC_TMP/drain.out")" "" "stdout"
	pid_alive "$(worker_pid wa)" || fail "--wait without --stop stopped the worker"
}

@test "--wait on an idle worker returns at once" {
	start_worker wa --handler echo=cat
	run -0 timeout 20 ac-drain --wait wa
}

@test "--wait --timeout: exit 3 while a task still runs; the drain holds" {
	start_worker wa --handler gate="$H/gate.sh"
	local a
	a=$(submit_async gate '"a"')
	wait_file "$AC_TMP/started.$a"
	run -3 --separate-stderr timeout 30 ac-drain --wait --timeout 1500ms wa
	assert_eq "$(task_status "$a")" running "task"
	assert_eq "$(worker_field wa drained)" true "drained"
	touch "$AC_TMP/go"
	wait_status "$a" completed
}

@test "--stop makes the worker exit (exit 0, status stopped)" {
	start_worker wa --heartbeat 1 --handler echo=cat
	run -0 ac-drain --stop wa
	local rc=0
	wait_exit "$(worker_pid wa)" || rc=$?
	assert_eq "$rc" 0 "worker exit status"
	assert_eq "$(worker_field wa status)" stopped status
}

@test "--stop lets the running task finish first" {
	start_worker wa --heartbeat 1 --handler gate="$H/gate.sh"
	local a wpid
	wpid=$(worker_pid wa)
	a=$(submit_async gate '"a"')
	wait_file "$AC_TMP/started.$a"
	run -0 ac-drain --stop wa
	sleep 2
	pid_alive "$wpid" || fail "worker exited with its task running"
	touch "$AC_TMP/go"
	local rc=0
	wait_exit "$wpid" || rc=$?
	assert_eq "$rc" 0 "worker exit status"
	assert_eq "$(task_status "$a")" completed task
}

@test "--wait --stop: returns once the task is done; the worker exits" {
	start_worker wa --heartbeat 1 --handler gate="$H/gate.sh"
	local a wpid
	wpid=$(worker_pid wa)
	a=$(submit_async gate '"a"')
	wait_file "$AC_TMP/started.$a"
	(sleep 1; touch "$AC_TMP/go") 3>&- &
	run -0 timeout 30 ac-drain --wait --stop wa
	assert_eq "$(task_status "$a")" completed task
	local rc=0
	wait_exit "$wpid" || rc=$?
	assert_eq "$rc" 0 "worker exit status"
}

@test "--undo withdraws a --stop not yet taken up" {
	start_worker wa --heartbeat 1 --lease 30 --handler echo=cat
	local wpid
	wpid=$(worker_pid wa)
	# frozen, the worker cannot take the --stop up before the --undo
	kill -STOP "$wpid"
	run -0 ac-drain --stop wa
	run -0 ac-drain --undo wa
	kill -CONT "$wpid"
	# past its next heartbeats: still alive, not drained, claiming
	sleep 2.5
	pid_alive "$wpid" || fail "the worker took up the withdrawn --stop"
	assert_eq "$(worker_field wa drained)" false drained
	run -0 ac_submit echo <<<'"still here"'
	assert_eq "$output" '"still here"'
}

@test "several workers in one call" {
	start_worker wa --handler echo=cat
	start_worker wb --handler echo=cat
	run -0 ac-drain --reason both wa wb
	assert_eq "$(ac-status --workers --json | jq -c 'map([.id, .drained, .drain_reason])')" \
		'[["wa",true,"both"],["wb",true,"both"]]'
	run -0 ac-drain --undo wa wb
	assert_eq "$(ac-status --workers --json | jq -c 'map(.drained)')" '[false,false]'
}

@test "an unknown worker: exit 2, one stderr line, nothing changed" {
	start_worker wa --handler echo=cat
	run -2 --separate-stderr ac-drain nosuchworker
	assert_eq "$stderr" "ac-drain: unknown worker 'nosuchworker'" stderr
	run -2 --separate-stderr ac-drain --reason r wa nosuchworker
	assert_one_stderr_line ac-drain
	assert_contains "$stderr" "unknown worker 'nosuchworker'" stderr
	assert_eq "$(worker_field wa drained)" false "wa untouched"
	run -0 ac-drain --reason keep wa
	run -2 --separate-stderr ac-drain --undo wa nosuchworker
	assert_contains "$stderr" "unknown worker 'nosuchworker'" stderr
	assert_eq "$(worker_field wa drained)" true "wa still drained"
	assert_eq "$(worker_field wa drain_reason)" keep "reason kept"
}

@test "an unusable store: exit 69" {
	run -69 --separate-stderr ac-drain --store /nonexistent/dir/x.db wa
	assert_one_stderr_line ac-drain
	run -69 --separate-stderr ac-drain wa
	assert_one_stderr_line ac-drain
	[ ! -e "$AC_STORE" ] || fail "ac-drain created the store"
}
