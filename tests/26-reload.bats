#!/usr/bin/env bats
# ac-worker: reloading the handlers.  SIGHUP (and --reload, watching the
# --handlers directories) reads them again without a restart; running tasks
# finish with the handlers they started with; the flags stay as given.

load helpers

# add_handler DIR TYPE BODY: an executable handler file DIR/TYPE running
# BODY (shell), made whole under another name first (the worker may read
# the directory at any moment).
add_handler() {
	printf '#!/bin/sh\n%s\n' "$3" >"$1/.$2.new"
	chmod +x "$1/.$2.new"
	mv "$1/.$2.new" "$1/$2"
}

# worker_handlers ID: the worker's handlers in ac-status --workers, compact.
worker_handlers() {
	ac-status --workers --json | jq -c --arg id "$1" \
		'.[] | select(.id == $id) | .handlers'
}

handlers_are() {
	[ "$(worker_handlers "$1" 2>/dev/null)" = "$2" ]
}

# reloads ID: how many reloads the worker logged so far.
reloads() {
	grep -c -e 'SIGHUP: handlers' -e 'handlers directory: handlers' \
		"$AC_TMP/$1.log" || true
}

reloads_are_more() {
	[ "$(reloads "$1")" -gt "$2" ]
}

@test "--reload: a handler added to the directory runs a queued task without a restart" {
	local d=$AC_TMP/handlers pid id
	mkdir -p "$d"
	add_handler "$d" one 'echo "\"one\""'
	start_worker w1 --handlers "$d" --reload
	pid=$(worker_pid w1)
	assert_eq "$(worker_handlers w1)" '["one"]' "handlers at the start"
	id=$(submit_async two '{"x":2}')
	sleep 1
	assert_eq "$(task_status "$id")" queued "no handler for two yet"
	add_handler "$d" two 'cat'
	wait_status "$id" completed
	assert_eq "$(task_field "$id" result | jq -c .)" '{"x":2}' "result"
	assert_eq "$(task_field "$id" worker)" w1 "run by w1"
	pid_alive "$pid" || fail "the worker exited"
	assert_eq "$(worker_field w1 pid)" "$pid" "same worker pid"
	wait_until "$AC_WAIT" handlers_are w1 '["one","two"]' ||
		fail "ac-status --workers: $(worker_handlers w1)"
	run -0 jq -c .handlers "$AC_HOME/workers/w1.json"
	assert_eq "$output" '["one","two"]' "the discovery file"
	wait_until "$AC_WAIT" grep -q 'added \["two"\], removed \[\], changed \[\]' "$AC_TMP/w1.log" ||
		fail "no log line of the change: $(cat "$AC_TMP/w1.log")"
}

@test "SIGHUP without --reload: a new handler file runs once the worker is told" {
	local d=$AC_TMP/handlers pid id n
	mkdir -p "$d"
	add_handler "$d" one 'echo 1'
	start_worker w1 --handlers "$d"
	pid=$(worker_pid w1)
	add_handler "$d" two 'echo 2'
	id=$(submit_async two '{}')
	sleep 1
	assert_eq "$(task_status "$id")" queued "not seen before SIGHUP"
	n=$(reloads w1)
	kill -HUP "$pid"
	wait_status "$id" completed
	assert_eq "$(task_field "$id" result)" 2 "result"
	pid_alive "$pid" || fail "SIGHUP killed the worker"
	wait_until "$AC_WAIT" handlers_are w1 '["one","two"]' ||
		fail "ac-status --workers: $(worker_handlers w1)"
	reloads_are_more w1 "$n" || fail "no reload logged"
}

@test "a handler removed mid-task finishes its task; its type is claimed no more" {
	local d=$AC_TMP/handlers pid id later
	mkdir -p "$d"
	add_handler "$d" keep 'echo 1'
	add_handler "$d" slow "exec '$H/gate.sh'"
	start_worker w1 --handlers "$d" --reload --concurrency 2
	pid=$(worker_pid w1)
	id=$(submit_async slow '"s"')
	wait_file "$AC_TMP/started.$id"
	rm "$d/slow"
	wait_until "$AC_WAIT" handlers_are w1 '["keep"]' ||
		fail "ac-status --workers: $(worker_handlers w1)"
	wait_until "$AC_WAIT" grep -q 'removed \["slow"\]' "$AC_TMP/w1.log" ||
		fail "no log line of the removal: $(cat "$AC_TMP/w1.log")"
	assert_eq "$(task_status "$id")" running "the task runs on"
	: >"$AC_TMP/go"
	wait_status "$id" completed
	assert_eq "$(task_field "$id" result)" s "its result"
	later=$(submit_async slow '"t"')
	sleep 2
	assert_eq "$(task_status "$later")" queued "a later task of the removed type"
	run -0 ac-status --task "$later" --json
	assert_eq "$(jq -r .worker <<<"$output")" null "claimed by nobody"
	# The last handler goes: the worker stays, claiming nothing.
	rm "$d/keep"
	wait_until "$AC_WAIT" handlers_are w1 '[]' ||
		fail "ac-status --workers: $(worker_handlers w1)"
	wait_until "$AC_WAIT" grep -q 'no handlers left' "$AC_TMP/w1.log" ||
		fail "no warning of an empty table: $(cat "$AC_TMP/w1.log")"
	sleep 1
	pid_alive "$pid" || fail "the worker exited with no handler"
	# And one comes back.
	add_handler "$d" slow 'cat'
	wait_status "$later" completed
	assert_eq "$(task_field "$later" result)" t "result once it came back"
}

@test "a --stream flag (and a --handler flag) survive a reload untouched; a DIR file never takes a flag's type" {
	local d=$AC_TMP/handlers out p1 p2 id
	mkdir -p "$d"
	add_handler "$d" one 'echo 1'
	start_worker w1 --stream echo="$H/stream.py" --handler up="$H/upper.sh" \
		--handlers "$d" --reload --concurrency 1
	out=$(ac_submit echo <<<'{"op":"echo","n":1}')
	p1=$(jq -r .pid <<<"$out")
	assert_match "$p1" '^[0-9]+$' "stream handler pid"
	# A file for a flag's type is left out, with a warning.
	add_handler "$d" echo 'echo "\"from the file\""'
	add_handler "$d" two 'echo 2'
	wait_until "$AC_WAIT" handlers_are w1 '["echo","up","one","two"]' ||
		fail "ac-status --workers: $(worker_handlers w1)"
	wait_until "$AC_WAIT" grep -q "left out: a --stream has task type 'echo'" "$AC_TMP/w1.log" ||
		fail "no warning of the duplicate: $(cat "$AC_TMP/w1.log")"
	out=$(ac_submit echo <<<'{"op":"echo","n":2}')
	p2=$(jq -r .pid <<<"$out")
	assert_eq "$p2" "$p1" "the same stream process after the reload"
	assert_eq "$(jq -c .data <<<"$out")" '{"op":"echo","n":2}' "stream result"
	run -0 ac_submit two <<<'{}'
	assert_eq "$output" 2 "the new file's type"
	run -0 ac_submit up <<<'"abc"'
	assert_eq "$output" '"ABC"' "the --handler flag"
	grep -q "stream handler of 'echo' started" "$AC_TMP/w1.log" ||
		fail "log: $(cat "$AC_TMP/w1.log")"
	assert_eq "$(grep -c "stream handler of 'echo' started" "$AC_TMP/w1.log")" 1 \
		"stream processes started"
}

@test "worker.reloaded is an event (ac-status --follow) with added, removed and changed" {
	local d=$AC_TMP/handlers log=$AC_TMP/follow.out pid
	mkdir -p "$d"
	add_handler "$d" one 'echo 1'
	add_handler "$d" gone 'echo 1'
	start_worker w1 --handlers "$d" --heartbeat 1
	pid=$(worker_pid w1)
	setsid ac-status --follow --worker w1 >"$log" 2>"$AC_TMP/follow.err" </dev/null &
	AC_PIDS+=("$!")
	wait_until "$AC_WAIT" grep -q worker.heartbeat "$log" ||
		fail "no heartbeat followed: $(cat "$log" "$AC_TMP/follow.err")"
	add_handler "$d" two 'echo 2'
	rm "$d/gone"
	kill -HUP "$pid"
	wait_until "$AC_WAIT" grep -q worker.reloaded "$log" ||
		fail "no worker.reloaded: $(cat "$log" "$AC_TMP/follow.err")"
	run -0 jq -c 'select(.event == "worker.reloaded") | [.added, .removed, .changed, .handlers, .worker]' "$log"
	assert_eq "$output" '[["two"],["gone"],[],["one","two"],"w1"]' "the event"
	kill -TERM "${AC_PIDS[-1]}"
}

@test "--reload without --handlers is a usage error (2)" {
	run -2 --separate-stderr ac-worker --handler a=cat --reload
	assert_contains "$stderr" "--handlers" "the message"
	assert_eq "$output" "" stdout
}

@test "SIGHUP with nothing changed, or a directory gone: the worker runs on with its handlers" {
	local d=$AC_TMP/handlers pid n
	mkdir -p "$d"
	add_handler "$d" one 'echo 1'
	start_worker w1 --handlers "$d" --handler f=cat
	pid=$(worker_pid w1)
	n=$(reloads w1)
	kill -HUP "$pid"
	wait_until "$AC_WAIT" grep -q 'SIGHUP: handlers read again, unchanged' "$AC_TMP/w1.log" ||
		fail "log: $(cat "$AC_TMP/w1.log")"
	kill -HUP "$pid"
	wait_until "$AC_WAIT" reloads_are_more w1 $((n + 1)) || fail "second SIGHUP"
	pid_alive "$pid" || fail "SIGHUP killed the worker"
	run -0 ac_submit one <<<'{}'
	assert_eq "$output" 1 "one still runs"
	# A directory that cannot be read: the handlers stay as they were.
	mv "$d" "$d.away"
	kill -HUP "$pid"
	wait_until "$AC_WAIT" grep -q 'keeping the handlers as they were' "$AC_TMP/w1.log" ||
		fail "log: $(cat "$AC_TMP/w1.log")"
	pid_alive "$pid" || fail "the worker exited"
	assert_eq "$(worker_handlers w1)" '["f","one"]' "handlers kept"
	mv "$d.away" "$d"
	run -0 ac_submit one <<<'{}'
	assert_eq "$output" 1 "one still runs"
}

@test "--reload: a new type gets its metrics series; a removed type keeps its own" {
	local d=$AC_TMP/handlers url
	mkdir -p "$d"
	add_handler "$d" one 'echo 1'
	start_worker w1 --handlers "$d" --reload --metrics 127.0.0.1:0
	url=$(worker_field w1 metrics)
	run -0 ac_submit one <<<'{}'
	add_handler "$d" two 'echo 2'
	wait_until "$AC_WAIT" handlers_are w1 '["one","two"]' || fail "no reload"
	run -0 ac_submit two <<<'{}'
	rm "$d/one"
	wait_until "$AC_WAIT" handlers_are w1 '["two"]' || fail "no reload"
	run -0 curl -s --max-time 5 "$url/metrics"
	assert_contains "$output" 'ac_tasks_completed_total{type="two"} 1' "the new type"
	assert_contains "$output" 'ac_tasks_completed_total{type="one"} 1' "the removed type"
}
