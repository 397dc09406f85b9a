#!/usr/bin/env bats
# ac-worker --stream: long-lived handlers, one JSON line per task in and
# out; side-channel keys on stdout; crashes, timeouts, cancels; the example
# stream handlers.

load helpers

S=$H/stream.py

@test "--stream: results come back, and one process serves many tasks of a slot" {
	start_worker sw --stream echo="$S" --concurrency 1
	local i out pids
	for i in 1 2 3; do
		out=$(ac_submit echo <<<"{\"n\":$i}")
		assert_eq "$(jq -c .data <<<"$out")" "{\"n\":$i}" "data of task $i"
		pids+=$(jq -r .pid <<<"$out")$'\n'
	done
	assert_eq "$(sort -u <<<"$pids" | grep -c .)" 1 "distinct handler pids over 3 tasks"
	assert_eq "$(jq -r .stream <<<"$out")" 1 AC_STREAM
	assert_eq "$(jq -r .slot <<<"$out")" 0 AC_SLOT
	assert_eq "$(jq -r .worker <<<"$out")" sw AC_WORKER_ID
	assert_eq "$(jq -r .type <<<"$out")" echo "type in the task line"
	assert_eq "$(jq -r .attempt <<<"$out")" 1 "attempt in the task line"
	assert_eq "$(jq -r .task_id_env <<<"$out")" null "no per-task variables"
	# The task line itself: id, type, attempt, data, checkpoint.
	jq -es 'all(.[]; has("id") and has("type") and has("attempt") and
		has("data") and has("checkpoint"))' "$AC_TMP/stream-lines" >/dev/null ||
		fail "task lines lack keys: $(cat "$AC_TMP/stream-lines")"
}

@test "--stream: a batch runs on at most --concurrency processes, results in order" {
	start_worker sw --stream echo="$S" --concurrency 4
	seq 200 | jq -c '{n: .}' >"$AC_TMP/in"
	run -0 ac_submit --batch echo <"$AC_TMP/in"
	assert_eq "$(jq -s 'map(.data.n) == [range(1; 201)]' <<<"$output")" true "results in input order"
	local n
	n=$(jq -r .pid <<<"$output" | sort -u | wc -l)
	((n >= 1 && n <= 4)) || fail "$n handler processes for concurrency 4"
	summary_is .tasks.completed 200 || fail "summary: $(ac-status --json)"
}

@test "--stream: an error answer fails the attempt, with that error" {
	start_worker sw --stream echo="$S"
	run -1 --separate-stderr ac_submit echo <<<'{"op":"fail"}'
	assert_one_stderr_line ac-submit
	assert_contains "$stderr" "asked to fail" "ac-submit's failure line"
	local id
	id=$(ac-status --tasks --json | jq -r '.[0].id')
	assert_eq "$(task_status "$id")" failed status
	assert_eq "$(task_field "$id" error)" "asked to fail" error
	# The process lives on for the next task.
	run -0 ac_submit echo <<<'{"n":1}'
}

@test "--stream: a handler that dies mid-task is restarted and the task runs again without using an attempt" {
	start_worker sw --stream echo="$S" --concurrency 1
	local first second id
	first=$(ac_submit echo <<<'{}' | jq -r .pid)
	run -0 ac_submit echo <<<'{"op":"crash-once"}'
	second=$(jq -r .pid <<<"$output")
	[ "$first" != "$second" ] || fail "the same process ($first) answered after a crash"
	id=$(ac-status --tasks --json | jq -r 'map(.id) | max')
	assert_eq "$(task_field "$id" status)" completed status
	assert_eq "$(task_json "$id" | jq -r '[.attempts[].outcome] | join(",")')" "crashed,completed" "attempt outcomes"
	assert_eq "$(jq -r .attempt <<<"$output")" 2 "attempt of the second run"
	assert_contains "$(task_json "$id" | jq -r '.attempts[0].error')" "dying words" "stderr in the crashed attempt's error"
	assert_contains "$(worker_log sw)" "died with task $id in flight" "worker log"
}

@test "--stream: a task that kills its handler every time ends failed after --max-reclaims" {
	start_worker sw --stream echo="$S" --concurrency 1
	run -1 --separate-stderr ac_submit --max-reclaims 2 echo <<<'{"op":"crash"}'
	assert_contains "$stderr" "poison" "failure line"
	local id
	id=$(ac-status --tasks --json | jq -r '.[0].id')
	assert_eq "$(task_status "$id")" failed status
	assert_eq "$(task_json "$id" | jq '.attempts | length')" 3 "attempts (2 reclaims + the last)"
	assert_contains "$(task_field "$id" error)" "stream handler exited (status 3)" error
	# The worker still serves the type.
	run -0 ac_submit echo <<<'{"n":2}'
}

@test "--stream: side-channel keys with the task's id reach the store" {
	start_worker sw --stream echo="$S"
	run -0 ac_submit echo <<<'{"op":"side"}'
	local id
	id=$(ac-status --tasks --json | jq -r '.[0].id')
	assert_eq "$(task_field "$id" progress)" 0.5 progress
	assert_contains "$(task_field "$id" log)" halfway log
	assert_eq "$(task_json "$id" | jq -c .checkpoint)" '{"step":2}' checkpoint
	assert_eq "$(task_json "$id" | jq -r .usage.tokens)" 7 "usage on the answer line"
}

@test "--stream: the checkpoint of an earlier attempt comes in the task line" {
	start_worker sw --stream echo="$S" --concurrency 1
	# First attempt: checkpoint, then crash; the rerun sees the checkpoint.
	cat >"$AC_TMP/ckpt.py" <<'PY'
import json, os, sys
for line in sys.stdin:
    t = json.loads(line)
    if t["checkpoint"] is None:
        print(json.dumps({"id": t["id"], "checkpoint": {"step": 4}}), flush=True)
        os._exit(1)
    print(json.dumps({"id": t["id"], "result": t["checkpoint"]}), flush=True)
PY
	stop_worker sw
	start_worker sw2 --stream ck="python3 $AC_TMP/ckpt.py" --concurrency 1
	run -0 ac_submit ck <<<'{}'
	assert_eq "$output" '{"step":4}' "result = the checkpoint handed back"
}

@test "--stream: a line that is not JSON fails the task in flight; another task's id is ignored" {
	start_worker sw --stream echo="$S" --concurrency 1
	run -1 --separate-stderr ac_submit echo <<<'{"op":"bad"}'
	assert_contains "$stderr" "stream handler wrote a bad line" "failure line"
	run -0 ac_submit echo <<<'{"op":"other","n":3}'
	assert_eq "$(jq -c .data.n <<<"$output")" 3 "the right answer counts"
	assert_contains "$(worker_log sw)" "while task" "warning about the stray line"
}

@test "--stream: a timeout kills the process; the next task gets a new one" {
	start_worker sw --stream echo="$S" --concurrency 1 --grace 1
	local first
	first=$(ac_submit echo <<<'{}' | jq -r .pid)
	run -3 ac_submit --timeout 1 echo <<<'{"op":"sleep","s":30}'
	wait_gone "$first" 10 || fail "stream handler $first still alive after the timeout"
	run -0 ac_submit echo <<<'{}'
	[ "$(jq -r .pid <<<"$output")" != "$first" ] || fail "the timed-out process answered again"
}

@test "--stream: ac-cancel of a running stream task" {
	start_worker sw --stream echo="$S" --concurrency 1 --grace 1
	local id
	id=$(submit_async echo '{"op":"sleep","s":30}')
	wait_status "$id" running
	run -0 ac-cancel "$id"
	wait_status "$id" cancelled
}

@test "--stream: stopping the worker ends its stream processes" {
	start_worker sw --stream echo="$S" --concurrency 2
	local pid
	pid=$(ac_submit echo <<<'{}' | jq -r .pid)
	pid_alive "$pid" || fail "stream handler $pid not running between tasks"
	rc=0
	stop_worker sw || rc=$?
	assert_eq "$rc" 0 "worker exit status"
	pid_alive "$pid" && fail "stream handler $pid outlived its worker"
	true
}

@test "--stream: the example handlers in C and Python" {
	start_worker sw --stream noop="$AC_ROOT/build/examples/stream-noop" \
		--stream wordcount="$AC_ROOT/examples/stream/wordcount.py"
	run -0 ac_submit noop <<<'{"id":9,"t0":1.5}'
	assert_eq "$(jq -c '[.ok, .id, .t0, (.t1 > 0)]' <<<"$output")" '[1,9,1.5,true]' "noop result"
	run -0 ac_submit wordcount <<<'{"text":"one two\nthree"}'
	assert_eq "$output" '{"words":3,"lines":2,"chars":13}' "wordcount result"
	run -1 ac_submit wordcount <<<'{}'
}

@test "--stream: bad specs are usage errors" {
	run -2 --separate-stderr ac-worker --stream nothing
	assert_usage_error ac-worker
	assert_contains "$stderr" "--stream wants TYPE=COMMAND" "message"
	run -2 --separate-stderr ac-worker --stream x=/no/such/program
	assert_one_stderr_line ac-worker
	run -2 --separate-stderr ac-worker --stream x="$S" --handler x=/bin/cat
	assert_contains "$stderr" "two handlers for task type 'x'" "duplicate type"
}

@test "a busy worker keeps the SQLite WAL bounded" {
	start_worker sw --stream noop="$AC_ROOT/build/examples/stream-noop" --concurrency 8
	seq 6000 | jq -c '{id: ., pad: ("x" * 400)}' >"$AC_TMP/in"
	run -0 ac_submit --batch noop <"$AC_TMP/in"
	assert_eq "$(grep -c . <<<"$output")" 6000 "results"
	# ~6000 claims and ends rewrite several pages each: tens of MiB of
	# WAL frames; checkpointed as it grows, the file stays far smaller.
	local size
	size=$(stat -c %s "$AC_STORE-wal")
	((size < 32 * 1024 * 1024)) || fail "WAL is $size bytes after 6000 tasks"
}
