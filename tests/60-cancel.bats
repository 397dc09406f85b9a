#!/usr/bin/env bats
# ac-cancel: the options and exit codes of docs/cli.md.  (Crash-related
# cancels, a cancel reaching a worker that was away, are in 50-crash.bats.)

load helpers

@test "queued and pending tasks end cancelled at once; several ids in one call" {
	local q p
	q=$(submit_async echo '{}')
	p=$(submit_async echo '{}' --delay 60)
	run -0 --separate-stderr ac-cancel "$q" "$p"
	assert_eq "$output" "" "prints nothing"
	assert_eq "$stderr" "" "stderr"
	assert_eq "$(task_status "$q")" cancelled "queued task"
	assert_eq "$(task_status "$p")" cancelled "pending task"
	# a cancelled task is never run
	start_worker w1 --handler echo="$H/record.sh"
	run -0 ac_submit echo <<<'"other"'
	assert_eq "$(cat "$AC_TMP/record.log")" "$(ac-status --tasks --status completed | jq '.[0].id')" "only the other task ran"
}

@test "a running task: cancel_requested, its handler is stopped, it ends cancelled" {
	start_worker w1 --grace 1 --handler gate="$H/gate.sh"
	local id
	id=$(submit_async gate '{}')
	wait_file "$AC_TMP/started.$id"
	local hpid
	hpid=$(cat "$AC_TMP/pids/$id")
	run -0 --separate-stderr ac-cancel "$id"
	assert_eq "$output" "" "prints nothing"
	wait_status "$id" cancelled
	assert_eq "$(task_field "$id" cancel_requested)" true cancel_requested
	assert_eq "$(task_json "$id" | jq -c '[.attempts[].outcome]')" '["cancelled"]' attempts
	wait_gone "$hpid" || fail "handler $hpid still running"
	pid_alive "$(worker_pid w1)" || fail "the worker died"
	wait_until "$AC_WAIT" worker_field_is w1 status idle
}

@test "a handler ignoring SIGTERM is killed after --grace; the task ends cancelled" {
	start_worker w1 --grace 1 --handler stub="$H/stubborn.sh"
	local id
	id=$(submit_async stub '{}')
	wait_file "$AC_TMP/pids/$id"
	run -0 ac-cancel --wait --timeout 20 "$id"
	assert_eq "$(task_status "$id")" cancelled "status when --wait returned"
	wait_gone "$(cat "$AC_TMP/pids/$id")" || fail "handler not killed"
}

@test "a waiting ac-submit exits 4 when its task is cancelled" {
	start_worker w1 --grace 1 --handler gate="$H/gate.sh"
	printf '{}\n' >"$AC_TMP/in.json"
	ac_submit gate "$AC_TMP/in.json" </dev/null >"$AC_TMP/out" 2>"$AC_TMP/err" 3>&- &
	local spid=$!
	wait_until "$AC_WAIT" test -e "$AC_TMP/started.1"
	run -0 ac-cancel 1
	local rc=0
	wait_exit "$spid" || rc=$?
	assert_eq "$rc" 4 "ac-submit exit status"
	assert_eq "$(cat "$AC_TMP/out")" "" "stdout"
}

@test "--wait returns when the task has ended" {
	start_worker w1 --grace 1 --handler gate="$H/gate.sh"
	local id
	id=$(submit_async gate '{}')
	wait_file "$AC_TMP/started.$id"
	run -0 --separate-stderr timeout 30 ac-cancel --wait "$id"
	assert_eq "$(task_status "$id")" cancelled "status when --wait returned"
}

@test "--wait --timeout: exit 3 while the task has not ended" {
	start_worker w1 --grace 60 --handler stub="$H/stubborn.sh"
	local id
	id=$(submit_async stub '{}')
	wait_file "$AC_TMP/pids/$id"
	run -3 --separate-stderr timeout 30 ac-cancel --wait --timeout 0.02m "$id"
	assert_eq "$(task_status "$id")" running "status"
	assert_eq "$(task_field "$id" cancel_requested)" true cancel_requested
}

@test "all or nothing: an unknown id (2) or an ended task (1) changes nothing" {
	start_worker w1 --handler echo=cat
	run -0 ac_submit echo <<<'{}'
	local done q before
	done=$(ac-status --tasks | jq '.[0].id')
	stop_worker w1
	q=$(submit_async echo '{}')
	before=$(task_counts)
	run -2 --separate-stderr ac-cancel "$q" 999999
	assert_one_stderr_line ac-cancel
	assert_eq "$(task_status "$q")" queued "the queued task"
	run -1 --separate-stderr ac-cancel "$q" "$done"
	assert_eq "$stderr" "ac-cancel: task $done has already ended (completed); nothing was cancelled" stderr
	assert_eq "$(task_status "$q")" queued "the queued task"
	assert_eq "$(task_counts)" "$before" "task counts"
	run -2 --separate-stderr ac-cancel abc
	assert_usage_error ac-cancel
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "a cancelled task can be retried with ac-submit --retry" {
	local id
	id=$(submit_async echo '"again"')
	run -0 ac-cancel "$id"
	start_worker w1 --handler echo=cat
	run -0 ac_submit --retry "$id"
	assert_eq "$output" '"again"'
	assert_eq "$(task_status "$id")" completed
}

@test "a missing store: exit 69, not created" {
	run -69 --separate-stderr ac-cancel 1
	assert_one_stderr_line ac-cancel
	[ ! -e "$AC_STORE" ] || fail "ac-cancel created the store"
}
