#!/usr/bin/env bats
# ac-submit: every option of docs/cli.md, exit codes, batches, and bad input
# that must change nothing.

load helpers

# ms_of RFC3339: milliseconds since the epoch.
ms_of() {
	date -d "$1" +%s%3N
}

# failed_task_id: the N of "ac-submit: task N failed" in $stderr.
failed_task_id() {
	sed -n 's/^ac-submit: task \([0-9][0-9]*\) failed.*/\1/p' <<<"$stderr" | head -1
}

# ---------------------------------------------------------------- waiting

@test "submit waits and prints the handler's result (one line)" {
	start_worker w1 --handler echo=cat
	run -0 --separate-stderr ac_submit echo <<<'{"a": 1, "b": [1, 2], "s": "x y"}'
	assert_eq "${#lines[@]}" 1 "lines on stdout"
	assert_eq "$(jq -c . <<<"$output")" '{"a":1,"b":[1,2],"s":"x y"}' "result"
	assert_eq "$stderr" "" "stderr"
}

@test "submit reads the task data from FILE" {
	start_worker w1 --handler echo=cat
	printf '[1, "two", {"three": 3}]\n' >"$AC_TMP/data.json"
	run -0 --separate-stderr ac_submit echo "$AC_TMP/data.json" </dev/null
	assert_eq "$(jq -c . <<<"$output")" '[1,"two",{"three":3}]' "result"
}

@test "submit reads stdin when FILE is '-'" {
	start_worker w1 --handler echo=cat
	run -0 ac_submit echo - <<<'{"dash": true}'
	assert_eq "$(jq -c . <<<"$output")" '{"dash":true}' "result"
}

@test "submit of any JSON value: a string, a number, null" {
	start_worker w1 --handler echo=cat
	run -0 ac_submit echo <<<'"hello"'
	assert_eq "$output" '"hello"'
	run -0 ac_submit echo <<<'42'
	assert_eq "$output" 42
	run -0 ac_submit echo <<<'null'
	assert_eq "$output" null
}

@test "--async prints an integer id and returns at once (no worker)" {
	run -0 --separate-stderr ac_submit --async echo <<<'{"x":1}'
	assert_match "$output" '^[0-9]+$' "task id"
	assert_eq "$stderr" "" "stderr"
	assert_eq "$(task_status "$output")" queued "status"
	assert_eq "$(task_field "$output" data.x)" 1 "data kept"
	assert_eq "$(task_field "$output" type)" echo "type kept"
}

@test "exit 1: a failed task prints nothing and one stderr line" {
	start_worker w1 --handler bad="$H/fail.sh"
	run -1 --separate-stderr ac_submit bad <<<'{}'
	assert_eq "$output" "" "stdout"
	assert_one_stderr_line ac-submit
	assert_match "$stderr" '^ac-submit: task [0-9]+ failed: ' "stderr"
	assert_contains "$stderr" "deliberate failure" "the handler's stderr is the error"
	local id
	id=$(failed_task_id)
	assert_eq "$(task_status "$id")" failed "status"
}

@test "exit 3: --timeout ends a sleeping handler (worker --grace 1)" {
	start_worker w1 --grace 1 --handler slow="$H/sleep.sh 60"
	run -3 --separate-stderr ac_submit --timeout 1 slow <<<'{}'
	assert_eq "$output" "" "stdout"
	local id
	id=$(ac-status --tasks --json | jq -r '.[0].id')
	assert_eq "$(task_status "$id")" timeout "status"
	assert_eq "$(task_json "$id" | jq '.timeout_s == 1')" true "timeout_s"
	wait_file "$AC_TMP/pids/$id"
	wait_gone "$(cat "$AC_TMP/pids/$id")" || fail "handler still alive after its timeout"
}

@test "--timeout: a handler ignoring SIGTERM is killed after --grace" {
	start_worker w1 --grace 1 --handler stub="$H/stubborn.sh"
	run -3 --separate-stderr ac_submit --timeout 0.5 stub <<<'{}'
	local id
	id=$(ac-status --tasks --json | jq -r '.[0].id')
	assert_eq "$(task_status "$id")" timeout "status"
	wait_file "$AC_TMP/pids/$id"
	wait_gone "$(cat "$AC_TMP/pids/$id")" || fail "TERM-ignoring handler not killed"
}

@test "--timeout with --retries: a timed-out attempt is retried, final status timeout" {
	start_worker w1 --grace 1 --handler slow="$H/sleep.sh 60"
	run -3 ac_submit --timeout 0.5 --retries 1 slow <<<'{}'
	local id
	id=$(ac-status --tasks --json | jq -r '.[0].id')
	assert_eq "$(task_status "$id")" timeout "status"
	assert_eq "$(task_field "$id" attempt)" 2 "attempts"
}

@test "exit 75 from the handler: retried without using an attempt" {
	start_worker w1 --handler tf="$H/fail-once.sh 75"
	run -0 --separate-stderr ac_submit tf <<<'{}'
	local id
	id=$(jq -r .task <<<"$output")
	assert_eq "$(jq -r .attempt <<<"$output")" 2 "second attempt succeeded"
	assert_eq "$(task_status "$id")" completed "status"
	assert_eq "$(task_field "$id" failures)" 0 "failures"
	assert_eq "$(task_field "$id" max_retries)" 0 "max_retries"
}

@test "--retries N: failures counted, back-off between attempts, final failed" {
	start_worker w1 --handler bad="$H/fail.sh"
	run -1 --separate-stderr ac_submit --retries 2 bad <<<'{}'
	local id
	id=$(failed_task_id)
	assert_match "$id" '^[0-9]+$' "task id in the failure line"
	assert_eq "$(task_status "$id")" failed "status"
	assert_eq "$(task_field "$id" failures)" 3 "failures"
	assert_eq "$(task_field "$id" attempt)" 3 "attempt"
	assert_eq "$(task_field "$id" max_retries)" 2 "max_retries"
	# the handler saw attempts 1, 2, 3, with back-offs of >= ~1 s and ~2 s
	run -0 awk -v id="$id" '$1 == id { print $2 }' "$AC_TMP/fail.log"
	assert_eq "$(echo $output)" "1 2 3" "AC_ATTEMPT of the runs"
	run -0 awk -v id="$id" '$1 == id { t[n++] = $3 } END {
		printf "%s %s\n", (t[1] - t[0] >= 0.9), (t[2] - t[1] >= 1.9) }' \
		"$AC_TMP/fail.log"
	assert_eq "$output" "1 1" "back-off gaps >= 1 s then >= 2 s"
}

@test "--retries 1: a task failing once completes" {
	start_worker w1 --handler once="$H/fail-once.sh 1"
	run -0 ac_submit --retries 1 once <<<'{}'
	local id
	id=$(jq -r .task <<<"$output")
	assert_eq "$(task_status "$id")" completed "status"
	assert_eq "$(task_field "$id" failures)" 1 "failures"
	assert_eq "$(task_field "$id" error)" null "error cleared on completion"
}

@test "--delay keeps a task pending until due" {
	local id
	id=$(submit_async echo '{}' --delay 60)
	assert_eq "$(task_status "$id")" pending "status"
	local created due
	created=$(ms_of "$(task_field "$id" created)")
	due=$(ms_of "$(task_field "$id" due)")
	(( due - created >= 59000 )) || fail "due $due not ~60 s after created $created"
	# a live worker does not run it either: it runs a later task first
	start_worker w1 --handler echo=cat
	run -0 ac_submit echo <<<'"later"'
	assert_eq "$(task_status "$id")" pending "status after a worker ran another task"
}

@test "--delay 1.5 (fractional) runs the task once due" {
	start_worker w1 --handler echo=cat
	run -0 --separate-stderr ac_submit --delay 1.5 echo <<<'"d"'
	assert_eq "$output" '"d"'
	assert_eq "$stderr" "" "stderr (a live worker handles echo)"
	local id created started
	id=$(ac-status --tasks --json | jq -r '.[0].id')
	created=$(ms_of "$(task_field "$id" created)")
	started=$(ms_of "$(task_field "$id" started)")
	(( started - created >= 1400 )) || fail "started $((started - created)) ms after created"
}

@test "--delay with a unit suffix: 2m" {
	local id
	id=$(submit_async echo '{}' --delay 2m)
	local created due
	created=$(ms_of "$(task_field "$id" created)")
	due=$(ms_of "$(task_field "$id" due)")
	(( due - created >= 119000 && due - created <= 121000 )) ||
		fail "due - created = $((due - created)) ms, wanted ~120000"
}

@test "--priority: higher first, FIFO within a priority" {
	local a b c d e f g
	a=$(submit_async rec '"a"' --priority low)
	b=$(submit_async rec '"b"')
	c=$(submit_async rec '"c"' --priority high)
	d=$(submit_async rec '"d"' --priority critical)
	e=$(submit_async rec '"e"' --priority 7)
	f=$(submit_async rec '"f"' --priority high)
	g=$(submit_async rec '"g"' --priority normal)
	assert_eq "$(task_field "$a" priority)" 0 "low"
	assert_eq "$(task_field "$b" priority)" 5 "default"
	assert_eq "$(task_field "$c" priority)" 10 "high"
	assert_eq "$(task_field "$d" priority)" 20 "critical"
	assert_eq "$(task_field "$e" priority)" 7 "integer"
	start_worker w1 --concurrency 1 --handler rec="$H/record.sh"
	wait_status "$a" completed
	assert_eq "$(echo $(cat "$AC_TMP/record.log"))" "$d $c $f $e $b $g $a" "run order"
}

@test "--priority with an unknown name: exit 2, nothing submitted" {
	make_store
	local before
	before=$(task_counts)
	run -2 --separate-stderr ac-submit --priority urgent echo <<<'{}'
	assert_usage_error ac-submit
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "--require TAG: only a worker with --tag TAG runs the task" {
	start_worker plain --handler echo=cat
	local id
	id=$(submit_async echo '"gpu job"' --require gpu)
	# the plain worker runs a later untagged task but not this one
	run -0 ac_submit echo <<<'"plain job"'
	assert_eq "$(task_status "$id")" queued "status with no gpu worker"
	start_worker tagged --tag gpu --tag big --handler echo=cat
	wait_status "$id" completed
	assert_eq "$(task_field "$id" worker)" tagged "worker"
	assert_eq "$(task_json "$id" | jq -c .tags)" '["gpu"]' "tags of the task"
}

@test "--require twice: the worker needs both tags" {
	start_worker onlygpu --tag gpu --handler echo=cat
	local id
	id=$(submit_async echo '{}' --require gpu --require ssd)
	run -0 ac_submit echo <<<'"other"'
	assert_eq "$(task_status "$id")" queued "status with a worker having gpu only"
	start_worker both --tag ssd --tag gpu --handler echo=cat
	wait_status "$id" completed
	assert_eq "$(task_field "$id" worker)" both "worker"
}

@test "--meta K=V and --key KEY show in ac-status --task" {
	local id
	id=$(submit_async echo '{}' --meta owner=alice --meta expr=a=b --key thread-9)
	assert_eq "$(task_json "$id" | jq -c .meta)" '{"owner":"alice","expr":"a=b"}' "meta"
	assert_eq "$(task_field "$id" key)" thread-9 "key"
}

@test "--meta without '=': exit 2, nothing submitted" {
	make_store
	local before
	before=$(task_counts)
	run -2 --separate-stderr ac-submit --meta novalue echo <<<'{}'
	assert_usage_error ac-submit
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "--idempotency-key: a second submit returns the same id" {
	local id1 id2
	id1=$(submit_async echo '{"n":1}' --idempotency-key order-77)
	id2=$(submit_async echo '{"n":2}' --idempotency-key order-77)
	assert_eq "$id2" "$id1" "second id"
	assert_eq "$(total_tasks)" 1 "tasks in the store"
	assert_eq "$(task_field "$id1" idempotency_key)" order-77 "idempotency_key"
	assert_eq "$(task_field "$id1" data.n)" 1 "the first task's data is kept"
	local id3
	id3=$(submit_async echo '{"n":3}' --idempotency-key order-78)
	[ "$id3" != "$id1" ] || fail "another key gave the same id"
}

@test "--idempotency-key while waiting: the second submit waits for the first task" {
	start_worker w1 --handler echo=cat
	run -0 ac_submit --idempotency-key k1 echo <<<'"first"'
	assert_eq "$output" '"first"'
	run -0 ac_submit --idempotency-key k1 echo <<<'"second"'
	assert_eq "$output" '"first"' "result of the first task"
	assert_eq "$(total_tasks)" 1 "tasks in the store"
}

@test "--retry ID requeues a failed task and waits for it" {
	start_worker w1 --handler once="$H/fail-once.sh 1"
	run -1 --separate-stderr ac_submit once <<<'{}'
	local id
	id=$(failed_task_id)
	assert_eq "$(task_status "$id")" failed "status after the first run"
	run -0 --separate-stderr ac_submit --retry "$id"
	assert_eq "$(jq -r .task <<<"$output")" "$id" "the same task ran again"
	assert_eq "$(task_status "$id")" completed "status"
	assert_eq "$(total_tasks)" 1 "no new task"
}

@test "--retry ID --async prints the id and requeues" {
	start_worker w1 --handler bad="$H/fail.sh"
	run -1 --separate-stderr ac_submit bad <<<'{}'
	local id
	id=$(failed_task_id)
	stop_worker w1
	run -0 ac_submit --retry "$id" --async
	assert_eq "$output" "$id" "printed id"
	assert_eq "$(task_status "$id")" queued "status"
}

@test "--retry of an unknown or completed task: exit 2, nothing changed" {
	start_worker w1 --handler echo=cat
	run -0 ac_submit echo <<<'{}'
	local id before
	id=$(ac-status --tasks --json | jq -r '.[0].id')
	before=$(task_counts)
	run -2 --separate-stderr ac-submit --retry "$id"
	assert_one_stderr_line ac-submit
	run -2 --separate-stderr ac-submit --retry 999999
	assert_one_stderr_line ac-submit
	assert_eq "$(task_counts)" "$before" "task counts"
	assert_eq "$(task_status "$id")" completed "status"
}

@test "--envelope: {id,status,result,error} for a completed task" {
	start_worker w1 --handler echo=cat
	run -0 ac_submit --envelope echo <<<'{"v":1}'
	assert_eq "$(jq -c 'keys' <<<"$output")" '["error","id","result","status"]' "keys"
	assert_eq "$(jq -c '[.status, .result, .error]' <<<"$output")" '["completed",{"v":1},null]' "values"
	assert_match "$(jq -r .id <<<"$output")" '^[0-9]+$' "id"
	assert_eq "$(jq -r '.id | type' <<<"$output")" number "id is a number"
}

@test "--envelope for a failed task: status failed, error text, exit 1" {
	start_worker w1 --handler bad="$H/fail.sh"
	run -1 --separate-stderr ac_submit --envelope bad <<<'{}'
	assert_eq "${#lines[@]}" 1 "one envelope line"
	assert_eq "$(jq -r .status <<<"$output")" failed "status"
	assert_one_stderr_line ac-submit
	assert_match "$stderr" '^ac-submit: task [0-9]+ failed: ' "the failure line is still printed"
	assert_eq "$(jq -c .result <<<"$output")" null "result"
	assert_contains "$(jq -r .error <<<"$output")" "deliberate failure" "error"
}

@test "--wait-timeout: exit 3, the task stays queued" {
	run -3 --separate-stderr ac_submit -q --wait-timeout 1 nobody <<<'{}'
	assert_eq "$output" "" "stdout"
	local id
	id=$(ac-status --tasks --json | jq -r '.[0].id')
	assert_eq "$(task_status "$id")" queued "status"
	assert_eq "$(total_tasks)" 1 "tasks"
}

@test "--wait-timeout: exit 3 while the task runs, which goes on" {
	start_worker w1 --handler gate="$H/gate.sh"
	run -3 ac_submit --wait-timeout 0.5 gate <<<'"g"'
	local id
	id=$(ac-status --tasks --json | jq -r '.[0].id')
	wait_status "$id" running
	touch "$AC_TMP/go"
	wait_status "$id" completed
}

@test "no live worker: one warning on stderr; -q silences it" {
	run -3 --separate-stderr ac_submit --wait-timeout 1.5 nobody <<<'{}'
	assert_eq "$(grep -c "no live worker" <<<"$stderr")" 1 "warnings"
	assert_contains "$stderr" "ac-submit: no live worker handles 'nobody'; waiting (the task stays queued)" "warning text"
	run -3 --separate-stderr ac_submit -q --wait-timeout 1 nobody <<<'{}'
	[[ $stderr != *"no live worker"* ]] || fail "-q still warned: $stderr"
	run -3 --separate-stderr ac_submit --quiet --wait-timeout 1 nobody <<<'{}'
	[[ $stderr != *"no live worker"* ]] || fail "--quiet still warned: $stderr"
}

@test "SIGINT while waiting: exit 130, the task stays in the store" {
	printf '{}\n' >"$AC_TMP/in.json"
	env --default-signal=INT ac-submit -q nobody "$AC_TMP/in.json" \
		</dev/null >"$AC_TMP/out" 2>"$AC_TMP/err" 3>&- &
	local pid=$!
	wait_until "$AC_WAIT" test -s "$AC_STORE"
	wait_until "$AC_WAIT" status_is 1 queued
	sleep 0.3
	kill -INT "$pid"
	local rc=0
	wait_exit "$pid" || rc=$?
	assert_eq "$rc" 130 "exit status"
	assert_eq "$(task_status 1)" queued "status"
}

@test "--max-reclaims N shows in ac-status --task; default 3; 0..1000" {
	local id
	id=$(submit_async echo '{}')
	assert_eq "$(task_field "$id" max_reclaims)" 3 "default"
	assert_eq "$(task_field "$id" reclaims)" 0 "reclaims"
	id=$(submit_async echo '{}' --max-reclaims 0)
	assert_eq "$(task_field "$id" max_reclaims)" 0 "--max-reclaims 0"
	id=$(submit_async echo '{}' --max-reclaims 1000)
	assert_eq "$(task_field "$id" max_reclaims)" 1000 "--max-reclaims 1000"
	local before
	before=$(task_counts)
	run -2 --separate-stderr ac-submit --max-reclaims 1001 echo <<<'{}'
	assert_usage_error ac-submit
	run -2 --separate-stderr ac-submit --max-reclaims -1 echo <<<'{}'
	assert_usage_error ac-submit
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "--retry ID with --envelope, -q and --wait-timeout" {
	start_worker w1 --handler once="$H/fail-once.sh 1"
	run -1 --separate-stderr ac_submit once <<<'{}'
	local id
	id=$(failed_task_id)
	run -0 --separate-stderr ac_submit --retry "$id" --envelope -q --wait-timeout 30
	assert_eq "$(jq -c '[.id, .status, .error]' <<<"$output")" "[$id,\"completed\",null]" "envelope"
	assert_eq "$(jq -c .result.attempt <<<"$output")" 2 "result of attempt 2"
}

@test "--retry ID --wait-timeout: exit 3 while nobody runs it, the task stays queued" {
	start_worker w1 --handler bad="$H/fail.sh"
	run -1 --separate-stderr ac_submit bad <<<'{}'
	local id
	id=$(failed_task_id)
	stop_worker w1
	run -3 --separate-stderr ac_submit --retry "$id" -q --wait-timeout 0.5
	assert_eq "$(task_status "$id")" queued "status"
}

# ---------------------------------------------------------------- batch

@test "--batch: 1000 tasks, results in input order, each run exactly once" {
	seq 1000 | jq -c '{i: .}' >"$AC_TMP/in.jsonl"
	start_worker w1 --concurrency 8 --handler rec="$H/record.sh"
	run -0 --separate-stderr ac_submit --batch rec "$AC_TMP/in.jsonl" </dev/null
	assert_eq "${#lines[@]}" 1000 "result lines"
	assert_eq "$(jq -s -c 'map(.i) == [range(1; 1001)]' <<<"$output")" true "input order"
	assert_eq "$(wc -l <"$AC_TMP/record.log")" 1000 "handler runs"
	assert_eq "$(sort -u "$AC_TMP/record.log" | wc -l)" 1000 "distinct tasks run"
	assert_eq "$(ac-status --json | jq .tasks.completed)" 1000 "completed"
}

@test "--batch from stdin, blank-free JSON Lines of any values" {
	start_worker w1 --handler echo=cat
	run -0 ac_submit --batch echo <<<$'1\n"two"\n{"three":3}\n[4]'
	assert_eq "$(echo $output)" '1 "two" {"three":3} [4]' "results"
}

@test "--batch --async: one id per line in input order" {
	run -0 --separate-stderr ac_submit --batch --async echo <<<$'{"n":1}\n{"n":2}\n{"n":3}'
	assert_eq "${#lines[@]}" 3 "lines"
	local i
	for i in 0 1 2; do
		assert_match "${lines[$i]}" '^[0-9]+$' "line $((i + 1))"
		assert_eq "$(task_field "${lines[$i]}" data.n)" "$((i + 1))" "data of line $((i + 1))"
		assert_eq "$(task_status "${lines[$i]}")" queued "status"
	done
	((lines[0] < lines[1] && lines[1] < lines[2])) || fail "ids not ascending: ${lines[*]}"
}

@test "--batch with a failing task: null on its line, one stderr line, exit 1" {
	start_worker w1 --handler bf="$H/batchfail.sh"
	run -1 --separate-stderr ac_submit --batch bf <<<$'{"n":1}\n{"fail":true}\n{"n":3}'
	assert_eq "${#lines[@]}" 3 "lines"
	assert_eq "$(jq -c . <<<"${lines[0]}")" '{"n":1}' "line 1"
	assert_eq "${lines[1]}" null "line 2"
	assert_eq "$(jq -c . <<<"${lines[2]}")" '{"n":3}' "line 3"
	assert_one_stderr_line ac-submit
	assert_match "$stderr" '^ac-submit: task [0-9]+ failed: ' "stderr"
	local id
	id=$(failed_task_id)
	assert_eq "$(task_field "$id" data.fail)" true "the failed task is line 2's"
}

@test "--batch --envelope: one envelope per line" {
	start_worker w1 --handler bf="$H/batchfail.sh"
	run -1 --separate-stderr ac_submit --batch --envelope bf <<<$'{"n":1}\n{"fail":true}'
	assert_eq "$(jq -r .status <<<"${lines[0]}")" completed "line 1"
	assert_eq "$(jq -r .status <<<"${lines[1]}")" failed "line 2"
	assert_eq "$(jq -c .result <<<"${lines[1]}")" null "line 2 result"
}

@test "--batch with a bad line: exit 2, nothing submitted" {
	make_store
	local before
	before=$(task_counts)
	run -2 --separate-stderr ac-submit --batch echo <<<$'{"n":1}\n{"n":2}\n{bad\n{"n":4}'
	assert_one_stderr_line ac-submit
	assert_match "$stderr" '^ac-submit: line 3: malformed JSON' "stderr"
	assert_eq "$output" "" "stdout"
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "--batch --async with a bad line: exit 2, no id printed, nothing submitted" {
	make_store
	local before
	before=$(task_counts)
	run -2 --separate-stderr ac-submit --batch --async echo <<<$'{"n":1}\n[1,'
	assert_match "$stderr" '^ac-submit: line 2: malformed JSON' "stderr"
	assert_eq "$output" "" "stdout"
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "--batch refuses --idempotency-key: exit 2" {
	make_store
	local before
	before=$(task_counts)
	run -2 --separate-stderr ac-submit --batch --idempotency-key k echo <<<'{}'
	assert_usage_error ac-submit
	assert_eq "$(task_counts)" "$before" "task counts"
}

# ---------------------------------------------------------------- bad input

@test "malformed JSON: exit 2, one stderr line, nothing submitted" {
	make_store
	local before
	before=$(task_counts)
	run -2 --separate-stderr ac-submit echo <<<'{"a": 1'
	assert_one_stderr_line ac-submit
	assert_contains "$stderr" JSON "stderr mentions JSON"
	assert_eq "$output" "" "stdout"
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "empty input or two JSON values: exit 2, nothing submitted" {
	make_store
	local before
	before=$(task_counts)
	run -2 --separate-stderr ac-submit echo </dev/null
	assert_one_stderr_line ac-submit
	run -2 --separate-stderr ac-submit echo <<<'{} {}'
	assert_one_stderr_line ac-submit
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "data over 8 MiB: exit 2, one stderr line, nothing submitted" {
	make_store
	local before
	before=$(task_counts)
	{ printf '"'; head -c 8388700 /dev/zero | tr '\0' a; printf '"\n'; } >"$AC_TMP/big.json"
	run -2 --separate-stderr ac-submit --async echo "$AC_TMP/big.json" </dev/null
	assert_one_stderr_line ac-submit
	assert_eq "$output" "" "stdout"
	assert_eq "$(task_counts)" "$before" "task counts"
	run -2 --separate-stderr ac-submit --async echo <"$AC_TMP/big.json"
	assert_one_stderr_line ac-submit
	assert_eq "$(task_counts)" "$before" "task counts (stdin)"
}

@test "data of exactly 8 MiB is accepted" {
	{ printf '"'; head -c 8388606 /dev/zero | tr '\0' a; printf '"'; } >"$AC_TMP/edge.json"
	assert_eq "$(stat -c %s "$AC_TMP/edge.json")" 8388608 "file size"
	run -0 --separate-stderr ac-submit --async echo "$AC_TMP/edge.json" </dev/null
	assert_match "$output" '^[0-9]+$' "task id"
}

@test "a task type with invalid characters: exit 2, nothing submitted" {
	make_store
	local before
	before=$(task_counts)
	run -2 --separate-stderr ac-submit 'bad type!' <<<'{}'
	assert_usage_error ac-submit
	run -2 --separate-stderr ac-submit 'a/b' <<<'{}'
	assert_usage_error ac-submit
	run -2 --separate-stderr ac-submit "$(printf 'x%.0s' $(seq 129))" <<<'{}'
	assert_usage_error ac-submit
	run -0 ac-submit --async "$(printf 'x%.0s' $(seq 128))" <<<'{}'
	run -0 ac-submit --async 'a.b:c@d-e_F9' <<<'{}'
	assert_eq "$(total_tasks)" "$(( $(jq '[.[]] | add' <<<"$before") + 2 ))" "only the two valid ones"
}

@test "bad numbers: --retries, --timeout, --delay, --wait-timeout: exit 2" {
	make_store
	local before
	before=$(task_counts)
	run -2 --separate-stderr ac-submit --retries -1 echo <<<'{}'
	assert_usage_error ac-submit
	run -2 --separate-stderr ac-submit --retries many echo <<<'{}'
	assert_usage_error ac-submit
	run -2 --separate-stderr ac-submit --timeout abc echo <<<'{}'
	assert_usage_error ac-submit
	run -2 --separate-stderr ac-submit --delay 5x echo <<<'{}'
	assert_usage_error ac-submit
	run -2 --separate-stderr ac-submit --wait-timeout -1 echo <<<'{}'
	assert_usage_error ac-submit
	run -2 --separate-stderr ac-submit --priority 1.5 echo <<<'{}'
	assert_usage_error ac-submit
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "unknown option: exit 2, nothing submitted" {
	make_store
	local before
	before=$(task_counts)
	run -2 --separate-stderr ac-submit --frobnicate echo <<<'{}'
	assert_usage_error ac-submit
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "unreachable store (--store /nonexistent/dir/x.db): exit 69" {
	make_store
	local before
	before=$(task_counts)
	run -69 --separate-stderr ac-submit --store /nonexistent/dir/x.db echo <<<'{}'
	assert_one_stderr_line ac-submit
	[ ! -e /nonexistent/dir/x.db ] || fail "created a store"
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "unwritable store (a 0444 copy): exit 69, nothing changed" {
	make_store
	cp "$AC_STORE" "$AC_TMP/ro.db"
	chmod 0444 "$AC_TMP/ro.db"
	local before
	before=$(ac-status --store "$AC_TMP/ro.db" --json | jq -c .tasks)
	if [ -w "$AC_TMP/ro.db" ]; then
		# root: file modes do not bind; run as nobody when possible
		can_drop_root ||
			skip "running as root, which ignores file modes, and cannot switch to user nobody"
		run -69 --separate-stderr as_nobody ac-submit --async --store "$AC_TMP/ro.db" echo <<<'{}'
	else
		run -69 --separate-stderr ac-submit --async --store "$AC_TMP/ro.db" echo <<<'{}'
	fi
	assert_one_stderr_line ac-submit
	assert_eq "$output" "" "stdout"
	assert_eq "$(ac-status --store "$AC_TMP/ro.db" --json | jq -c .tasks)" "$before" "task counts"
}

@test "a store in a read-only directory: exit 69, nothing created" {
	mkdir "$AC_TMP/rodir"
	chmod 0555 "$AC_TMP/rodir"
	if [ -w "$AC_TMP/rodir" ]; then
		can_drop_root ||
			skip "running as root, which ignores file modes, and cannot switch to user nobody"
		run -69 --separate-stderr as_nobody ac-submit --async --store "$AC_TMP/rodir/x.db" echo <<<'{}'
	else
		run -69 --separate-stderr ac-submit --async --store "$AC_TMP/rodir/x.db" echo <<<'{}'
	fi
	assert_one_stderr_line ac-submit
	[ ! -e "$AC_TMP/rodir/x.db" ] || fail "store created in a read-only directory"
}

@test "--store postgres://x: exit 69, nothing changed" {
	make_store
	local before
	before=$(task_counts)
	run -69 --separate-stderr ac-submit --store postgres://x echo <<<'{}'
	assert_one_stderr_line ac-submit
	assert_eq "$(task_counts)" "$before" "task counts"
}
