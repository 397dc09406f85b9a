#!/usr/bin/env bats
# ac-status: the summary, --workers, --tasks (filters, --limit), --task,
# --queue, --json / --table and the JSON-when-piped default.

load helpers

RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'

# check_aligned COLUMN: in $output (a table), the header line names COLUMN
# (any case) and on every other line (but separator lines) a value starts
# exactly under it, after a blank.
check_aligned() {
	local col=$1 header pos line n=0
	header=${lines[0]}
	pos=$(awk -v h="$header" -v c="$col" 'BEGIN { print index(toupper(h), toupper(c)) - 1 }')
	((pos >= 0)) || fail "no $col column in the header: $header" || return 1
	for line in "${lines[@]:1}"; do
		[[ $line =~ ^[-=+\ ]*$ ]] && continue
		n=$((n + 1))
		if ((pos > 0)) && [ "${line:pos-1:1}" != " " ]; then
			fail "not aligned under $col (col $pos):" "$header" "$line"
			return 1
		fi
		if [ -z "${line:pos:1}" ] || [ "${line:pos:1}" = " " ]; then
			fail "no value under $col (col $pos):" "$header" "$line"
			return 1
		fi
	done
	((n > 0)) || fail "table has no rows: $output"
}

# a worker (echo, fail) that completed two tasks and failed one, plus two
# queued tasks of a type nobody handles
populate() {
	start_worker w1 --concurrency 2 --tag t1 --handler echo=cat --handler bad="$H/fail.sh"
	ac_submit echo <<<'"one"' >/dev/null
	ac_submit echo <<<'"two"' >/dev/null
	ac_submit bad <<<'{}' >/dev/null 2>&1 || true
	submit_async other '{"q":1}' >/dev/null
	submit_async other '{"q":2}' --priority high >/dev/null
}

# ---------------------------------------------------------------- summary

@test "summary: JSON object with store, workers and tasks counts" {
	populate
	run -0 --separate-stderr ac-status
	assert_eq "$(jq -c 'keys' <<<"$output")" '["store","tasks","workers"]' "keys"
	# the worker counts of docs/cli.md (DESIGN.md's "error" status may be
	# counted too)
	assert_eq "$(jq -c '.workers | [has("total","idle","busy","draining","stopped","lost")] | all' <<<"$output")" true "workers keys: $(jq -c '.workers | keys' <<<"$output")"
	assert_eq "$(jq -c '.tasks | keys' <<<"$output")" \
		'["cancelled","completed","expired","failed","pending","queued","running","timeout"]' "tasks keys"
	assert_eq "$(jq '[.workers[], .tasks[]] | all(type == "number")' <<<"$output")" true "counts are numbers"
	assert_eq "$(jq -c '[.tasks.completed, .tasks.failed, .tasks.queued, .tasks.running]' <<<"$output")" '[2,1,2,0]' "task counts"
	assert_eq "$(jq -c '[.workers.total, .workers.idle]' <<<"$output")" '[1,1]' "worker counts"
	assert_contains "$(jq -r .store <<<"$output")" "$AC_STORE" "store URL"
}

@test "summary: stopped and lost workers are counted" {
	start_worker gone --handler echo=cat
	stop_worker gone
	start_worker dead --heartbeat 1 --lease 2 --handler echo=cat
	kill -KILL "$(worker_pid dead)"
	wait_until "$AC_WAIT" summary_is .workers.lost 1 || fail "$(ac-status --json)"
	assert_eq "$(ac-status --json | jq -c '[.workers.total, .workers.stopped, .workers.lost, .workers.idle]')" '[2,1,1,0]'
}

@test "summary: --store names the store shown" {
	make_store
	run -0 ac-status --store "$AC_STORE"
	assert_contains "$(jq -r .store <<<"$output")" "$AC_STORE" "store"
}

# ---------------------------------------------------------------- --workers

@test "--workers: every field of docs/cli.md, with its type" {
	populate
	run -0 --separate-stderr ac-status --workers
	assert_eq "$(jq length <<<"$output")" 1 "workers"
	local w
	w=$(jq -c '.[0]' <<<"$output")
	local f
	for f in id status host pid concurrency running completed failed tags \
		handlers started heartbeat uptime_s listen metrics drained drain_reason; do
		assert_eq "$(jq --arg f "$f" 'has($f)' <<<"$w")" true "field $f in $w"
	done
	assert_eq "$(jq -c '[.id, .status, .pid, .concurrency, .running, .completed, .failed, .drained, .drain_reason]' <<<"$w")" \
		"[\"w1\",\"idle\",$(worker_pid w1),2,0,2,1,false,null]" "values"
	assert_eq "$(jq -c '.tags' <<<"$w")" '["t1"]' tags
	assert_eq "$(jq -c '.handlers | sort' <<<"$w")" '["bad","echo"]' handlers
	assert_eq "$(jq -r '.host | type' <<<"$w")" string host
	assert_eq "$(jq -r '.uptime_s | type' <<<"$w")" number uptime_s
	assert_match "$(jq -r .started <<<"$w")" "$RFC3339" started
	assert_match "$(jq -r .heartbeat <<<"$w")" "$RFC3339" heartbeat
	assert_match "$(jq -r '.listen | type' <<<"$w")" '^(string|null)$' listen
	assert_match "$(jq -r '.metrics | type' <<<"$w")" '^(string|null)$' metrics
}

@test "--workers: an empty array when no worker ever ran" {
	make_store
	run -0 ac-status --workers
	assert_eq "$(jq -c . <<<"$output")" '[]'
}

# ---------------------------------------------------------------- --tasks

@test "--tasks: newest first; --status, --type and --limit filter" {
	populate
	run -0 ac-status --tasks
	assert_eq "$(jq length <<<"$output")" 5 "all tasks"
	assert_eq "$(jq -c 'map(.id) == (map(.id) | sort | reverse)' <<<"$output")" true "newest first"
	run -0 ac-status --tasks --status completed
	assert_eq "$(jq -c 'map(.status) | unique' <<<"$output")" '["completed"]' "--status completed"
	assert_eq "$(jq length <<<"$output")" 2 "completed"
	run -0 ac-status --tasks --type other
	assert_eq "$(jq -c 'map(.type) | unique' <<<"$output")" '["other"]' "--type other"
	assert_eq "$(jq length <<<"$output")" 2 "other"
	run -0 ac-status --tasks --type echo --status failed
	assert_eq "$(jq length <<<"$output")" 0 "echo and failed"
	run -0 ac-status --tasks --status failed
	assert_eq "$(jq -r '.[0].type' <<<"$output")" bad "failed one"
	run -0 ac-status --tasks --limit 2
	assert_eq "$(jq length <<<"$output")" 2 "--limit 2"
	run -0 ac-status --tasks --limit 1 --status queued
	assert_eq "$(jq -c 'map(.data.q)' <<<"$output")" '[2]' "--limit 1 --status queued: the newest"
}

@test "--tasks: --limit defaults to 100" {
	seq 105 | ac-submit --batch --async many >/dev/null
	run -0 ac-status --tasks
	assert_eq "$(jq length <<<"$output")" 100 "default limit"
	run -0 ac-status --tasks --limit 1000
	assert_eq "$(jq length <<<"$output")" 105 "--limit 1000"
	assert_eq "$(jq '.[0].data' <<<"$output")" 105 "newest first"
}

@test "--tasks: every status name is accepted; others are refused (2)" {
	make_store
	local s
	for s in pending queued running completed failed cancelled timeout expired; do
		run -0 ac-status --tasks --status "$s"
		jq -e 'type == "array"' <<<"$output" >/dev/null
	done
	run -2 --separate-stderr ac-status --tasks --status done
	assert_usage_error ac-status
	run -2 --separate-stderr ac-status --tasks --limit many
	assert_usage_error ac-status
	run -2 --separate-stderr ac-status --tasks --limit -1
	assert_usage_error ac-status
}

# ---------------------------------------------------------------- --task

@test "--task ID: every field of docs/cli.md" {
	start_worker w1 --handler echo=cat
	run -0 ac_submit --priority high --retries 2 --timeout 30 --key k-1 \
		--meta a=b --idempotency-key idem-1 echo <<<'{"in":1}'
	local id
	id=$(ac-status --tasks | jq '.[0].id')
	run -0 --separate-stderr ac-status --task "$id"
	local t=$output f
	for f in id type status priority attempt max_retries failures timeout_s \
		worker key tags meta idempotency_key data result error checkpoint \
		progress usage log reclaims max_reclaims cancel_requested created \
		due started finished lease_until attempts; do
		assert_eq "$(jq --arg f "$f" 'has($f)' <<<"$t")" true "field $f"
	done
	assert_eq "$(jq -c '[.id, .type, .status, .priority, .attempt, .max_retries, .failures, .worker, .key, .idempotency_key, .error]' <<<"$t")" \
		"[$id,\"echo\",\"completed\",10,1,2,0,\"w1\",\"k-1\",\"idem-1\",null]" "values"
	assert_eq "$(jq '.timeout_s == 30' <<<"$t")" true timeout_s
	assert_eq "$(jq -c .meta <<<"$t")" '{"a":"b"}' meta
	assert_eq "$(jq -c .data <<<"$t")" '{"in":1}' data
	assert_eq "$(jq -c .result <<<"$t")" '{"in":1}' result
	assert_eq "$(jq -c .tags <<<"$t")" '[]' "tags (none required)"
	local f2
	for f2 in created due started finished; do
		assert_match "$(jq -r ".$f2" <<<"$t")" "$RFC3339" "$f2"
	done
	assert_eq "$(jq -c .lease_until <<<"$t")" null "no lease once completed"
	assert_eq "$(jq -c '[.reclaims, .max_reclaims, .cancel_requested]' <<<"$t")" '[0,3,false]' "reclaims, max_reclaims, cancel_requested"
	assert_eq "$(jq -c '.attempts | length' <<<"$t")" 1 "attempts"
	assert_eq "$(jq -c '.attempts[0] | keys' <<<"$t")" '["attempt","error","finished","outcome","started","worker"]' "attempt keys"
	assert_eq "$(jq -c '.attempts[0] | [.attempt, .worker, .outcome, .error]' <<<"$t")" '[1,"w1","completed",null]' "attempt 1"
	assert_match "$(jq -r '.attempts[0].started' <<<"$t")" "$RFC3339" "attempt started"
	assert_match "$(jq -r '.attempts[0].finished' <<<"$t")" "$RFC3339" "attempt finished"
}

@test "--task attempts: failed, tempfail, timeout, completed; null while running" {
	start_worker w1 --grace 1 --handler once="$H/fail-once.sh 1" \
		--handler tf="$H/fail-once.sh 75" --handler slow="$H/sleep.sh 60" \
		--handler gate="$H/gate.sh"
	run -0 ac_submit --retries 1 once <<<'{}'
	local id
	id=$(jq .task <<<"$output")
	run -0 ac-status --task "$id"
	assert_eq "$(jq -c '[.attempts[] | [.attempt, .outcome]]' <<<"$output")" '[[1,"failed"],[2,"completed"]]' "failed then completed"
	assert_contains "$(jq -r '.attempts[0].error' <<<"$output")" "first attempt fails" "error of attempt 1"
	run -0 ac_submit tf <<<'{}'
	id=$(jq .task <<<"$output")
	run -0 ac-status --task "$id"
	assert_eq "$(jq -c '[.attempts[] | .outcome]' <<<"$output")" '["tempfail","completed"]' "tempfail then completed"
	run -3 ac_submit --timeout 0.5 slow <<<'{}'
	id=$(ac-status --tasks --type slow | jq '.[0].id')
	run -0 ac-status --task "$id"
	assert_eq "$(jq -c '[.attempts[] | .outcome]' <<<"$output")" '["timeout"]' "timeout"
	id=$(submit_async gate '{}')
	wait_file "$AC_TMP/started.$id"
	run -0 ac-status --task "$id"
	assert_eq "$(jq -c '[.attempts[] | [.outcome, .finished]]' <<<"$output")" '[[null,null]]' "running attempt"
	touch "$AC_TMP/go"
	wait_status "$id" completed
}

@test "--task of a queued task: no worker, no start, no result" {
	local id
	id=$(submit_async other '[1,2]')
	run -0 ac-status --task "$id"
	assert_eq "$(jq -c '[.status, .worker, .started, .finished, .result, .attempt]' <<<"$output")" \
		'["queued",null,null,null,null,0]'
}

@test "--task of an unknown id: exit 2, one stderr line; a bad id: exit 2" {
	make_store
	run -2 --separate-stderr ac-status --task 999999
	assert_one_stderr_line ac-status
	assert_eq "$output" "" "stdout"
	run -2 --separate-stderr ac-status --task abc
	assert_usage_error ac-status
}

# ---------------------------------------------------------------- --queue

@test "--queue: depth by type and priority" {
	submit_async a '{}' >/dev/null
	submit_async a '{}' >/dev/null
	submit_async a '{}' --priority high >/dev/null
	submit_async b '{}' --delay 60 >/dev/null
	submit_async b '{}' >/dev/null
	run -0 --separate-stderr ac-status --queue
	assert_eq "$(jq -c 'map(keys) | unique' <<<"$output")" '[["paused","paused_reason","pending","priority","queued","running","type"]]' "keys"
	assert_eq "$(jq -c 'sort_by(.type, .priority) | map([.type, .priority, .queued, .pending, .running])' <<<"$output")" \
		'[["a",5,2,0,0],["a",10,1,0,0],["b",5,1,1,0]]' "rows"
}

@test "--queue counts running tasks" {
	start_worker w1 --handler gate="$H/gate.sh"
	local a
	a=$(submit_async gate '{}')
	wait_file "$AC_TMP/started.$a"
	run -0 ac-status --queue
	assert_eq "$(jq -c 'map([.type, .running])' <<<"$output")" '[["gate",1]]'
	touch "$AC_TMP/go"
	wait_status "$a" completed
	run -0 ac-status --queue
	assert_eq "$(jq -c 'map(select(.queued + .pending + .running > 0))' <<<"$output")" '[]' "nothing left"
}

@test "summary and --queue count what --tasks lists, through runs, failures, cancels and retries" {
	# The counts are kept apart from the tasks (the store's task_counts):
	# every way a task moves must move them too.
	start_worker w1 --concurrency 2 --handler echo=cat --handler bad="$H/fail.sh"
	local other failed
	seq 20 | jq -c '{n: .}' >"$AC_TMP/in.jsonl"
	ac_submit --batch echo "$AC_TMP/in.jsonl" >/dev/null
	failed=$(submit_async bad '{}')
	wait_status "$failed" failed
	other=$(seq 5 | jq -c . | ac-submit --batch --async other)
	submit_async other '{}' --delay 3600 --priority high >/dev/null
	run -0 ac-cancel $(head -n 2 <<<"$other")
	ac_submit --retry "$failed" >/dev/null 2>&1 || true
	wait_status "$failed" failed
	stop_worker w1
	run -0 --separate-stderr ac-status --tasks --limit 1000
	local tasks=$output
	run -0 --separate-stderr ac-status
	assert_eq "$(jq -cS '.tasks | with_entries(select(.value > 0))' <<<"$output")" \
		"$(jq -cS 'group_by(.status) | map({(.[0].status): length}) | add' <<<"$tasks")" "summary"
	assert_eq "$(jq -c '[.tasks.completed, .tasks.failed, .tasks.cancelled, .tasks.queued, .tasks.pending]' <<<"$output")" \
		'[20,1,2,3,1]' "the counts themselves"
	run -0 --separate-stderr ac-status --queue
	assert_eq "$(jq -c 'sort_by(.type, .priority) | map([.type, .priority, .queued, .pending, .running])' <<<"$output")" \
		"$(jq -c 'map(select(.status == "queued" or .status == "pending" or .status == "running")) |
			group_by([.type, .priority]) | map([.[0].type, .[0].priority,
			(map(select(.status == "queued")) | length),
			(map(select(.status == "pending")) | length),
			(map(select(.status == "running")) | length)])' <<<"$tasks")" "queue depth"
}

# ---------------------------------------------------------------- formats

@test "JSON when stdout is not a terminal; --json forces JSON" {
	populate
	local opt
	for opt in "" --workers --tasks "--task 1" --queue; do
		run -0 ac-status $opt
		jq -e . <<<"$output" >/dev/null || fail "ac-status $opt: not JSON: $output"
		run -0 ac-status $opt --json
		jq -e . <<<"$output" >/dev/null || fail "ac-status $opt --json: not JSON"
	done
}

@test "--table --workers: an aligned table with a header line" {
	populate
	start_worker w2-longer-name --handler echo=cat
	run -0 --separate-stderr ac-status --workers --table
	! jq -e . <<<"$output" >/dev/null 2>&1 || fail "--table printed JSON"
	assert_eq "${#lines[@]}" 3 "header and two rows"
	assert_match "${lines[0]}" '[Ii][Dd]' "header names ID"
	check_aligned STATUS
	assert_match "${lines[1]}" 'w1' "row 1"
	assert_match "${lines[2]}" 'w2-longer-name' "row 2"
}

@test "--table --tasks: an aligned table with a header line" {
	populate
	run -0 ac-status --tasks --table
	! jq -e . <<<"$output" >/dev/null 2>&1 || fail "--table printed JSON"
	check_aligned STATUS
	check_aligned TYPE
	local line
	for line in "${lines[@]:1}"; do
		[[ $line =~ ^[-=+\ ]*$ ]] && continue
		[[ $line =~ (completed|failed|queued) ]] || fail "row without a status: $line"
	done
}

@test "--table for the summary, --task and --queue is not JSON" {
	populate
	local opt
	for opt in "" "--task 1" --queue; do
		run -0 ac-status $opt --table
		[ -n "$output" ] || fail "ac-status $opt --table printed nothing"
		! jq -e . <<<"$output" >/dev/null 2>&1 || fail "ac-status $opt --table printed JSON"
	done
}

@test "a table on a terminal by default; --json on a terminal prints JSON" {
	command -v script >/dev/null || skip "script(1) (util-linux) is not installed"
	populate
	run -0 script -qec "ac-status --workers" /dev/null
	local out=${output//$'\r'/}
	! jq -e . <<<"$out" >/dev/null 2>&1 || fail "JSON on a terminal: $out"
	assert_contains "$out" w1 "the table shows the worker"
	run -0 script -qec "ac-status --workers --json" /dev/null
	out=${output//$'\r'/}
	assert_eq "$(jq -r '.[0].id' <<<"$out")" w1 "--json on a terminal"
}
