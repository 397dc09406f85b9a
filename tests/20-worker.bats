#!/usr/bin/env bats
# ac-worker: options, the handler protocol (stdin/stdout/stderr, exit codes,
# environment, process groups), signals, sharing work, leases.

load helpers

first_task_id() {
	ac-status --tasks --json | jq -r 'map(.id) | min'
}

# ---------------------------------------------------------------- protocol

@test "handler stdout that is not JSON fails the attempt: 'handler output is not JSON'" {
	start_worker w1 --handler nj="$H/notjson.sh"
	run -1 --separate-stderr ac_submit nj <<<'{}'
	assert_one_stderr_line ac-submit
	assert_contains "$stderr" JSON "ac-submit's failure line"
	local id
	id=$(first_task_id)
	assert_eq "$(task_status "$id")" failed "status"
	assert_contains "$(task_field "$id" error)" "handler output is not JSON" "error"
}

@test "handler with empty stdout: the result is null" {
	start_worker w1 --handler empty="$H/empty.sh"
	run -0 ac_submit empty <<<'{}'
	assert_eq "$output" null "result"
}

@test "handler stderr: the last 4 KiB are the error text" {
	start_worker w1 --handler noisy="$H/stderr-tail.sh"
	run -1 --separate-stderr ac_submit noisy <<<'{}'
	local id err
	id=$(first_task_id)
	err=$(task_field "$id" error)
	assert_contains "$err" "TAIL-MARKER-42 the last words" "error keeps the tail"
	[[ $err != *"noise line 0 "* ]] || fail "error kept the head of 20 KB of stderr"
	((${#err} <= 4096 + 256)) || fail "error is ${#err} bytes, over ~4 KiB"
	assert_contains "$stderr" "TAIL-MARKER-42" "ac-submit's failure line shows the tail"
}

@test "handler environment: AC_TASK_ID, AC_TASK_TYPE, AC_ATTEMPT, AC_WORKER_ID, AC_PRIORITY, AC_DEADLINE" {
	start_worker envw --handler env="$H/env.sh"
	local before after id
	before=$(date +%s)
	run -0 --separate-stderr ac_submit --priority 7 --timeout 30 env <<<'{"d":1}'
	after=$(date +%s)
	id=$(first_task_id)
	assert_eq "$(jq -r .id <<<"$output")" "$id" AC_TASK_ID
	assert_eq "$(jq -r .type <<<"$output")" env AC_TASK_TYPE
	assert_eq "$(jq -r .attempt <<<"$output")" 1 AC_ATTEMPT
	assert_eq "$(jq -r .worker <<<"$output")" envw AC_WORKER_ID
	assert_eq "$(jq -r .priority <<<"$output")" 7 AC_PRIORITY
	assert_eq "$(jq -c .data <<<"$output")" '{"d":1}' "stdin is the task data"
	local deadline
	deadline=$(jq -r .deadline <<<"$output")
	assert_match "$deadline" '^[0-9]+$' AC_DEADLINE
	((deadline >= before + 29 && deadline <= after + 31)) ||
		fail "AC_DEADLINE $deadline not ~30 s after the start ($before..$after)"
	assert_eq "$(jq -r .checkpoint <<<"$output")" null "AC_CHECKPOINT unset on a first attempt"
}

@test "handler environment: no AC_DEADLINE without --timeout" {
	start_worker envw --handler env="$H/env.sh"
	run -0 ac_submit env <<<'{}'
	assert_eq "$(jq -r .deadline <<<"$output")" null AC_DEADLINE
	assert_eq "$(jq -r .priority <<<"$output")" 5 "AC_PRIORITY default"
}

@test "each handler runs in its own process group" {
	start_worker w1 --concurrency 2 --handler env="$H/env.sh"
	local wpid
	wpid=$(worker_pid w1)
	run -0 ac_submit --batch env <<<$'{}\n{}'
	local line pid pgid
	for line in "${lines[@]}"; do
		pid=$(jq .pid <<<"$line")
		pgid=$(jq .pgid <<<"$line")
		assert_eq "$pgid" "$pid" "handler's process group is its own"
		[ "$pgid" != "$wpid" ] || fail "handler in the worker's process group"
	done
}

@test "a handler with shell syntax runs under /bin/sh -c; data only on stdin" {
	start_worker w1 --handler up='tr a-z A-Z | cat'
	run -0 ac_submit up <<<'"shell ok"'
	assert_eq "$output" '"SHELL OK"'
}

@test "handlers die within a few seconds when their worker is killed with SIGKILL" {
	start_worker w1 --concurrency 2 --handler slow="$H/sleep.sh 60"
	local a b
	a=$(submit_async slow '{}')
	b=$(submit_async slow '{}')
	wait_file "$AC_TMP/pids/$a"
	wait_file "$AC_TMP/pids/$b"
	local pa pb
	pa=$(cat "$AC_TMP/pids/$a")
	pb=$(cat "$AC_TMP/pids/$b")
	pid_alive "$pa" && pid_alive "$pb" || fail "handlers not running"
	kill -KILL "$(worker_pid w1)"
	wait_gone "$pa" 5 || fail "handler $pa still alive 5 s after its worker's SIGKILL"
	wait_gone "$pb" 5 || fail "handler $pb still alive 5 s after its worker's SIGKILL"
}

@test "a handler result over 8 MiB fails the task" {
	start_worker w1 --handler big="$H/big.sh"
	run -1 --separate-stderr ac_submit big <<<'{}'
	assert_one_stderr_line ac-submit
	local id
	id=$(first_task_id)
	assert_eq "$(task_status "$id")" failed "status"
	assert_eq "$(task_field "$id" result)" null "no result stored"
}

# ---------------------------------------------------------------- signals

@test "SIGTERM: the running task finishes, nothing new is claimed, exit 0" {
	start_worker w1 --concurrency 2 --handler gate="$H/gate.sh"
	local a b wpid
	wpid=$(worker_pid w1)
	a=$(submit_async gate '"a"')
	wait_file "$AC_TMP/started.$a"
	kill -TERM "$wpid"
	b=$(submit_async gate '"b"')
	# give the worker every chance to (wrongly) claim b
	sleep 1
	pid_alive "$wpid" || fail "worker exited with a task still running"
	assert_eq "$(task_status "$b")" queued "task submitted after SIGTERM"
	touch "$AC_TMP/go.$a"
	local rc=0
	wait_exit "$wpid" || rc=$?
	assert_eq "$rc" 0 "worker exit status"
	assert_eq "$(task_status "$a")" completed "running task"
	assert_eq "$(task_field "$a" result)" a "its result"
	assert_eq "$(task_status "$b")" queued "the later task"
	[ ! -e "$AC_TMP/started.$b" ] || fail "the later task was started"
}

@test "SIGINT drains like SIGTERM" {
	start_worker w1 --handler gate="$H/gate.sh"
	local a wpid
	wpid=$(worker_pid w1)
	a=$(submit_async gate '"a"')
	wait_file "$AC_TMP/started.$a"
	kill -INT "$wpid"
	sleep 0.5
	pid_alive "$wpid" || fail "worker exited with a task still running"
	touch "$AC_TMP/go"
	local rc=0
	wait_exit "$wpid" || rc=$?
	assert_eq "$rc" 0 "worker exit status"
	assert_eq "$(task_status "$a")" completed "running task"
}

@test "a second SIGTERM stops at once (exit 0), leaving the task to be reclaimed" {
	start_worker w1 --handler gate="$H/gate.sh"
	local a wpid
	wpid=$(worker_pid w1)
	a=$(submit_async gate '"a"')
	wait_file "$AC_TMP/started.$a"
	kill -TERM "$wpid"
	sleep 0.5
	kill -TERM "$wpid"
	local rc=0
	wait_exit "$wpid" || rc=$?
	assert_eq "$rc" 0 "worker exit status"
	[ "$(task_status "$a")" != completed ] || fail "task completed although the gate is shut"
}

# registered: the worker row exists (read straight from the store when the
# sqlite3 shell is there: the tightest poll).
registered() {
	if command -v sqlite3 >/dev/null 2>&1; then
		[ "$(sqlite3 "$AC_STORE" "SELECT count(*) FROM workers WHERE id = '$1'" 2>/dev/null)" = 1 ]
	else
		worker_listed "$1" "$2"
	fi
}

@test "SIGTERM as soon as the worker is registered: still a clean exit 0 (10 times)" {
	local i pid rc bad=()
	for i in $(seq 10); do
		setsid env --default-signal=INT ac-worker --id "t$i" --handler echo=cat \
			</dev/null >>"$AC_TMP/t$i.log" 2>&1 3>&- &
		pid=$!
		AC_PIDS+=("$pid")
		until registered "t$i" "$pid"; do
			pid_alive "$pid" || break
			sleep 0.01
		done
		kill -TERM "$pid"
		rc=0
		wait_exit "$pid" || rc=$?
		[ "$rc" = 0 ] || bad+=("t$i:$rc")
	done
	((${#bad[@]} == 0)) || fail "exit status of workers sent SIGTERM right after registering: ${bad[*]}"
}

@test "a stopped worker shows status stopped" {
	start_worker w1 --handler echo=cat
	local rc=0
	stop_worker w1 || rc=$?
	assert_eq "$rc" 0 "exit status"
	assert_eq "$(worker_field w1 status)" stopped "status"
}

# ---------------------------------------------------------------- options

@test "--handlers DIR: every executable regular file handles its type" {
	mkdir -p "$AC_TMP/hd/sub"
	cp "$H/upper.sh" "$AC_TMP/hd/up"
	cp "$H/upper.sh" "$AC_TMP/hd/noexec"
	chmod 0755 "$AC_TMP/hd/up" "$AC_TMP/hd/sub"
	chmod 0644 "$AC_TMP/hd/noexec"
	start_worker w1 --handlers "$AC_TMP/hd"
	run -0 ac_submit up <<<'"abc"'
	assert_eq "$output" '"ABC"' "result of the DIR handler"
	local handlers
	handlers=$(ac-status --workers --json | jq -c '.[] | select(.id == "w1") | .handlers')
	assert_eq "$(jq -c 'index("up") != null' <<<"$handlers")" true "up listed: $handlers"
	assert_eq "$(jq -c 'index("noexec")' <<<"$handlers")" null "non-executable file not a handler"
	assert_eq "$(jq -c 'index("sub")' <<<"$handlers")" null "directory not a handler"
}

@test "--handlers DIR and --handler together" {
	mkdir -p "$AC_TMP/hd"
	cp "$H/upper.sh" "$AC_TMP/hd/up"
	start_worker w1 --handlers "$AC_TMP/hd" --handler echo=cat
	run -0 ac_submit up <<<'"x"'
	assert_eq "$output" '"X"'
	run -0 ac_submit echo <<<'"x"'
	assert_eq "$output" '"x"'
}

@test "--handlers is repeatable; files with invalid type names are skipped" {
	mkdir -p "$AC_TMP/hd1" "$AC_TMP/hd2"
	cp "$H/upper.sh" "$AC_TMP/hd1/up"
	cp "$H/upper.sh" "$AC_TMP/hd1/bad name!"
	printf '#!/bin/sh\ntr A-Z a-z\n' >"$AC_TMP/hd2/low"
	chmod 0755 "$AC_TMP/hd1/up" "$AC_TMP/hd1/bad name!" "$AC_TMP/hd2/low"
	start_worker w1 --handlers "$AC_TMP/hd1" --handlers "$AC_TMP/hd2"
	assert_eq "$(ac-status --workers --json | jq -c '.[0].handlers | sort')" '["low","up"]' "handlers"
	run -0 ac_submit low <<<'"ABC"'
	assert_eq "$output" '"abc"'
}

@test "two handlers for one type: exit 2" {
	mkdir -p "$AC_TMP/hd1" "$AC_TMP/hd2"
	cp "$H/upper.sh" "$AC_TMP/hd1/up"
	cp "$H/upper.sh" "$AC_TMP/hd2/up"
	run -2 --separate-stderr timeout 20 ac-worker --id w1 --handlers "$AC_TMP/hd1" --handler up=cat
	assert_match "$stderr" '^ac-worker: ' "diagnostic"
	run -2 --separate-stderr timeout 20 ac-worker --id w1 --handlers "$AC_TMP/hd1" --handlers "$AC_TMP/hd2"
	assert_match "$stderr" '^ac-worker: ' "diagnostic"
	run -2 --separate-stderr timeout 20 ac-worker --id w1 --handler up=cat --handler up=cat
	assert_match "$stderr" '^ac-worker: ' "diagnostic"
}

@test "checkpoints on fd 3 reach the next attempt as AC_CHECKPOINT (retry)" {
	start_worker w1 --handler ck="$H/ckpt.sh"
	run -0 --separate-stderr ac_submit --retries 1 ck <<<'{}'
	assert_eq "$(jq -c . <<<"$output")" '{"resumed":{"step":2,"note":"two"},"attempt":2}' "result"
	local id
	id=$(first_task_id)
	assert_eq "$(task_json "$id" | jq -c .checkpoint)" '{"step":2,"note":"two"}' "stored checkpoint"
	assert_eq "$(task_json "$id" | jq -c '[.attempts[].outcome]')" '["failed","completed"]' "attempts"
}

@test "--concurrency N runs N tasks at once, no more" {
	start_worker w1 --concurrency 3 --handler gate="$H/gate.sh"
	local ids
	ids=$(printf '"%s"\n' 1 2 3 4 | ac-submit --batch --async gate)
	local i
	for i in $(sed -n 1,3p <<<"$ids"); do
		wait_file "$AC_TMP/started.$i" || fail "task $i did not start"
	done
	local fourth
	fourth=$(sed -n 4p <<<"$ids")
	sleep 0.5
	assert_eq "$(task_status "$fourth")" queued "the fourth task"
	assert_eq "$(ac-status --tasks --status running --json | jq length)" 3 "running tasks"
	wait_until "$AC_WAIT" worker_field_is w1 running 3 ||
		fail "worker's running count $(worker_field w1 running), not 3"
	assert_eq "$(worker_field w1 status)" busy "worker status"
	assert_eq "$(worker_field w1 concurrency)" 3 "concurrency field"
	touch "$AC_TMP/go"
	wait_status "$fourth" completed
}

@test "two workers with --concurrency 4 share the tasks" {
	start_worker wa --concurrency 4 --handler conc="$H/conc.sh 0.5"
	start_worker wb --concurrency 4 --handler conc="$H/conc.sh 0.5"
	seq 40 | ac-submit --batch --async conc >/dev/null
	run -0 ac_submit --wait-timeout 60 conc <<<'{}'
	wait_until "$AC_WAIT" summary_is .tasks.completed 41 ||
		fail "not all 41 tasks completed: $(task_counts)"
	local by
	by=$(ac-status --tasks --limit 1000 --json | jq -c 'group_by(.worker) | map({(.[0].worker): length}) | add')
	assert_eq "$(jq -c 'keys' <<<"$by")" '["wa","wb"]' "workers that ran tasks ($by)"
	local max
	max=$(cat "$AC_TMP/conc/wa.n" "$AC_TMP/conc/wb.n" | sort -n | tail -1)
	((max <= 4)) || fail "a worker ran $max tasks at once (concurrency 4)"
	assert_eq "$(ac-status --workers --json | jq '[.[].completed] | add')" 41 "completed counters"
}

@test "a worker without --id is named HOST-PID" {
	setsid env --default-signal=INT ac-worker --handler echo=cat \
		</dev/null >>"$AC_TMP/anon.log" 2>&1 3>&- &
	local pid=$!
	AC_PIDS+=("$pid")
	wait_until "$AC_WAIT" sh -c "ac-status --workers --json 2>/dev/null | jq -en 'input | any(.[]; .pid == $pid)' >/dev/null" ||
		fail "worker $pid not listed: $(cat "$AC_TMP/anon.log")"
	local id
	id=$(ac-status --workers --json | jq -r ".[] | select(.pid == $pid) | .id")
	assert_eq "$id" "$(uname -n)-$pid" "default id"
}

@test "an id in use by a live worker is refused (exit 1)" {
	start_worker w1 --handler echo=cat
	run -1 --separate-stderr timeout 20 ac-worker --id w1 --handler echo=cat
	assert_match "$stderr" '^ac-worker: ' "diagnostic"
	assert_contains "$stderr" w1 "names the id"
	pid_alive "$(worker_pid w1)" || fail "the first worker died"
	assert_eq "$(worker_field w1 pid)" "$(worker_pid w1)" "registration unchanged"
}

@test "a worker restarted with the same id takes its id back" {
	start_worker w1 --handler echo=cat
	stop_worker w1
	start_worker w1 --handler echo=cat
	run -0 ac_submit echo <<<'"again"'
	assert_eq "$(ac-status --workers --json | jq length)" 1 "one worker row"
}

@test "bad worker options: exit 2 with a diagnostic" {
	local args
	while IFS= read -r args; do
		run -2 --separate-stderr timeout 20 ac-worker --id bad $args
		assert_match "$stderr" '^ac-worker: ' "ac-worker $args: diagnostic" || return 1
	done <<EOF
--concurrency 2
--handler nocommand
--handler =cat
--handler bad!type=cat
--handler echo=cat --concurrency 0
--handler echo=cat --concurrency 1025
--handler echo=cat --concurrency many
--handler echo=cat --heartbeat 5 --lease 9
--handler echo=cat --heartbeat 0
--handler echo=cat --grace abc
--handler echo=cat --drain-timeout soon
--handler echo=cat --tag bad/tag
--handler echo=cat --id -x
--handlers $AC_TMP/no-such-dir
EOF
	if [ -e "$AC_STORE" ]; then
		assert_eq "$(ac-status --workers --json | jq length)" 0 "workers registered"
	fi
}

@test "a handler command that does not exist is refused at start (exit 2)" {
	run -2 --separate-stderr timeout 20 ac-worker --id w1 --handler t=/nonexistent/cmd
	assert_match "$stderr" '^ac-worker: ' "diagnostic"
	assert_contains "$stderr" /nonexistent/cmd "names the command"
	run -2 --separate-stderr timeout 20 ac-worker --id w1 --handler t=no-such-command-in-path-xyz
	assert_contains "$stderr" no-such-command-in-path-xyz "names the command"
}

@test "--concurrency bounds: 1 and 1024 accepted" {
	start_worker c1 --concurrency 1 --handler echo=cat
	start_worker c1024 --concurrency 1024 --handler echo=cat
	assert_eq "$(worker_field c1024 concurrency)" 1024
	assert_eq "$(worker_field c1 concurrency)" 1
}

@test "--tag: the worker lists its tags" {
	start_worker w1 --tag gpu --tag zone:eu-1 --handler echo=cat
	assert_eq "$(ac-status --workers --json | jq -c '.[0].tags | sort')" '["gpu","zone:eu-1"]' "tags"
}

# ms_of RFC3339: milliseconds since the epoch.
ms_of() {
	date -d "$1" +%s%3N
}

# lease_past ID MS: the task's lease_until is at least MS.
lease_past() {
	local l
	l=$(task_field "$1" lease_until 2>/dev/null) && [ "$l" != null ] &&
		(($(ms_of "$l") >= $2))
}

# heartbeat_past ID MS: the worker's heartbeat is at least MS.
heartbeat_past() {
	local h
	h=$(worker_field "$1" heartbeat 2>/dev/null) && [ -n "$h" ] &&
		(($(ms_of "$h") >= $2))
}

@test "--heartbeat and --lease: heartbeats go on, the lease is renewed" {
	start_worker w1 --heartbeat 1 --lease 3 --handler gate="$H/gate.sh"
	local a
	a=$(submit_async gate '{}')
	wait_file "$AC_TMP/started.$a"
	local now lu hb
	lu=$(ms_of "$(task_field "$a" lease_until)")
	hb=$(ms_of "$(worker_field w1 heartbeat)")
	now=$(date +%s%3N)
	((lu > now - 1000 && lu <= now + 3500)) || fail "lease_until $lu not within --lease 3 of now $now"
	wait_until "$AC_WAIT" heartbeat_past w1 $((hb + 900)) ||
		fail "heartbeat did not move from $hb: $(worker_field w1 heartbeat)"
	wait_until "$AC_WAIT" lease_past "$a" $((lu + 900)) ||
		fail "lease never renewed (lease_until $lu, now $(task_field "$a" lease_until))"
	# well past the first lease, the task is still running and leased
	sleep 3.5
	assert_eq "$(task_status "$a")" running "status"
	lu=$(ms_of "$(task_field "$a" lease_until)")
	now=$(date +%s%3N)
	((lu >= now)) || fail "lease expired although the worker heartbeats"
	assert_eq "$(worker_field w1 status)" busy "worker status"
	assert_eq "$(task_field "$a" attempt)" 1 "attempt"
	touch "$AC_TMP/go"
	wait_status "$a" completed
}

@test "defaults: --concurrency is the number of CPUs, --lease 30 s" {
	start_worker w1 --handler gate="$H/gate.sh"
	assert_eq "$(worker_field w1 concurrency)" "$(nproc)" "concurrency"
	local a
	a=$(submit_async gate '{}')
	wait_file "$AC_TMP/started.$a"
	local lu now
	lu=$(ms_of "$(task_field "$a" lease_until)")
	now=$(date +%s%3N)
	((lu > now + 20000 && lu <= now + 31000)) || fail "lease_until - now = $((lu - now)) ms, wanted ~30 s"
	touch "$AC_TMP/go"
	wait_status "$a" completed
}

@test "a worker killed with SIGKILL shows as lost once its heartbeat is older than its lease" {
	start_worker w1 --heartbeat 500ms --lease 2s --handler echo=cat
	kill -KILL "$(worker_pid w1)"
	wait_until "$AC_WAIT" worker_field_is w1 status lost ||
		fail "status: $(worker_field w1 status); workers: $(ac-status --workers --json 2>&1);" \
			"store files: $(ls -la "$AC_TMP" 2>&1);" \
			"rows: $(sqlite3 "$AC_STORE" 'SELECT id, status, pid FROM workers' 2>&1);" \
			"log: $(worker_log w1)"
}

@test "-v logs every task; -q logs no info lines" {
	start_worker loud --verbose --handler echo=cat
	run -0 ac_submit echo <<<'"x"'
	local id
	id=$(first_task_id)
	wait_until 5 grep -qw "$id" "$AC_TMP/loud.log" ||
		fail "task $id not in the -v log: $(cat "$AC_TMP/loud.log")"
	stop_worker loud
	start_worker quiet --quiet --handler echo=cat
	run -0 ac_submit echo <<<'"y"'
	stop_worker quiet
	run grep -c ': info: ' "$AC_TMP/quiet.log"
	assert_eq "$output" 0 "info lines with -q: $(cat "$AC_TMP/quiet.log")"
}
