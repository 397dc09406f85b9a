#!/usr/bin/env bats
# Task graphs: ac-submit --after (and --after-policy), AC_PARENTS, batches
# with --then, sub-tasks submitted from inside a handler (parent, cancel,
# the deadlock warning), ac-status --task --tree and --batch.  Real workers
# run the graphs; what ran when is taken from the handlers' own logs
# (tests/handlers/step.sh, spawn.sh).  Each behaviour runs on SQLite and
# again on a PostgreSQL database of its own when tests/run.sh started a
# server (AC_TEST_PG_URL; skipped otherwise).

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

# when ID start|end [LOG]: the time step.sh logged for task ID.
when() {
	awk -v id="$1" -v what="$2" '$1 == id && $2 == what { print $3 }' \
		"$AC_TMP/${3:-step}.log"
}

# ge A B: A >= B, as decimals.
ge() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'
}

# ran ID [LOG]: step.sh ran task ID.
ran() {
	[ -n "$(when "$1" start "${2:-step}" 2>/dev/null)" ]
}

# ids_json ID...: a JSON array of the ids, sorted.
ids_json() {
	printf '%s\n' "$@" | jq -sc 'map(tonumber) | sort'
}

# nothing_stored BEFORE: the task counts are still BEFORE (task_counts).
nothing_stored() {
	assert_eq "$(task_counts)" "$1" "task counts (nothing stored)"
}

# ------------------------------------------------------------ diamond

graph_diamond() {
	local a b c d tree want table
	a=$(submit_async step '{"n":"a"}')
	b=$(submit_async step '{"n":"b"}' --after "$a")
	c=$(submit_async step '{"n":"c"}' --after "$a")
	d=$(submit_async step '{"n":"d"}' --after "$b,$c")

	# Before any worker: the children wait.
	for id in "$b" "$c" "$d"; do
		assert_eq "$(task_status "$id")" pending "task $id before its parents ran" || return 1
	done
	assert_eq "$(task_field "$d" waiting_for)" 2 "D waits for 2"
	assert_eq "$(task_field "$d" after_policy)" all-ok "D's policy"
	assert_eq "$(task_json "$d" | jq -c .after)" "[$b,$c]" "D's after"
	assert_eq "$(task_json "$a" | jq -c .dependents)" "[$b,$c]" "A's dependents"
	assert_eq "$(task_json "$b" | jq -c .dependents)" "[$d]" "B's dependents"

	start_worker w1 --concurrency 2 --handler step="$H/step.sh step 0.3"
	start_worker w2 --concurrency 2 --handler step="$H/step.sh step 0.3"
	wait_status "$d" completed 30 || fail "D did not complete"
	for id in "$a" "$b" "$c"; do
		assert_eq "$(task_status "$id")" completed "task $id" || return 1
	done

	# The start order, by the handlers' own clocks.
	ge "$(when "$b" start)" "$(when "$a" end)" || fail "B started before A ended"
	ge "$(when "$c" start)" "$(when "$a" end)" || fail "C started before A ended"
	ge "$(when "$d" start)" "$(when "$b" end)" || fail "D started before B ended"
	ge "$(when "$d" start)" "$(when "$c" end)" || fail "D started before C ended"
	assert_eq "$(grep -c " start " "$AC_TMP/step.log")" 4 "handler runs"

	# D's handler saw both parents' outcomes in AC_PARENTS.
	assert_eq "$(task_field "$d" result | jq -c '.parents | keys')" "[\"$b\",\"$c\"]" \
		"AC_PARENTS keys"
	assert_eq "$(task_field "$d" result | jq -c --arg b "$b" '.parents[$b]')" \
		"{\"status\":\"completed\",\"result\":$(task_field "$b" result | jq -c .),\"error\":null}" \
		"B in D's AC_PARENTS"
	assert_eq "$(task_field "$d" result | jq -c --arg c "$c" '.parents[$c].result.in')" \
		'{"n":"c"}' "C's result in D's AC_PARENTS"
	assert_eq "$(task_field "$a" result | jq -c .parents)" null "A has no AC_PARENTS"
	assert_eq "$(task_field "$d" waiting_for)" 0 "D waits for nothing now"

	# The tree from A: D under B, then again under C, marked seen.
	tree=$(ac-status --task "$a" --tree --json | jq -c .)
	want=$(jq -nc --argjson a "$a" --argjson b "$b" --argjson c "$c" --argjson d "$d" '
		def n($id; $edge): {id: $id, type: "step", status: "completed", edge: $edge};
		[n($a; "root") + {children: [
			n($b; "after") + {after: [$a], children: [
				n($d; "after") + {after: [$b, $c], children: []}]},
			n($c; "after") + {after: [$a], children: [
				n($d; "after") + {after: [$b, $c], seen: true}]}]}]')
	assert_eq "$(jq -cS . <<<"$tree")" "$(jq -cS . <<<"$want")" "ac-status --task A --tree --json"
	# The same graph from D: the same tree, D marked as the asked task.
	assert_eq "$(ac-status --task "$d" --tree --json | jq -cS .)" "$(jq -cS . <<<"$want")" \
		"ac-status --task D --tree --json"

	table=$(ac-status --task "$a" --tree --table)
	assert_contains "$table" "$a step completed  <-" "the asked task, marked" || return 1
	assert_contains "$table" "├── $b step completed" "B" || return 1
	assert_contains "$table" "│   └── $d step completed (after $b, $c)" "D under B" || return 1
	assert_contains "$table" "└── $c step completed" "C" || return 1
	assert_contains "$table" "    └── $d step completed (after $b, $c) (shown above)" "D under C" || return 1
	assert_eq "$(printf '%s\n' "$table" | grep -c '<-')" 1 "one line marked"
	table=$(ac-status --task "$c" --tree --table)
	assert_contains "$table" "└── $c step completed  <-" "C asked" || return 1
}

@test "a diamond A -> B, C -> D on 2 workers: order, AC_PARENTS, --tree (sqlite)" {
	graph_diamond
}

@test "a diamond A -> B, C -> D on 2 workers: order, AC_PARENTS, --tree (postgres)" {
	pg_test_db
	graph_diamond
}

# ------------------------------------------------------------ failing parent

graph_failing_parent() {
	local f ok1 ok2 done1 grand grand_done rc out
	f=$(submit_async bad '{}')
	ok1=$(submit_async step '{"c":1}' --after "$f")
	ok2=$(submit_async step '{"c":2}' --after "$f" --after-policy all-ok)
	done1=$(submit_async step '{"c":3}' --after "$f" --after-policy all-done)
	grand=$(submit_async step '{"g":1}' --after "$ok1")
	grand_done=$(submit_async step '{"g":2}' --after "$done1")
	start_worker w1 --concurrency 2 --handler step="$H/step.sh" \
		--handler bad="$H/fail.sh" --handler bf="$H/batchfail.sh" \
		--stream st="$H/stream.py"
	wait_status "$grand_done" completed 30 || fail "the all-done child's child did not run"
	wait_status "$grand" cancelled || fail "the all-ok grandchild was not cancelled"
	assert_eq "$(task_status "$f")" failed "the parent"
	for id in "$ok1" "$ok2"; do
		assert_eq "$(task_status "$id")" cancelled "all-ok child $id" || return 1
		assert_eq "$(task_field "$id" error)" "task $f it waited for ended failed" \
			"all-ok child $id's error" || return 1
		assert_eq "$(task_field "$id" started)" null "all-ok child $id never started" || return 1
		ran "$id" && fail "all-ok child $id ran"
	done
	assert_eq "$(task_field "$grand" error)" "task $ok1 it waited for ended cancelled" \
		"the grandchild's error"
	ran "$grand" && fail "the grandchild ran"
	assert_eq "$(task_status "$done1")" completed "the all-done child"
	assert_eq "$(task_field "$done1" after_policy)" all-done "its policy"
	assert_eq "$(task_field "$done1" result | jq -c --arg f "$f" '.parents[$f] | [.status, .result, (.error | test("deliberate failure"))]')" \
		'["failed",null,true]' "the failed parent in AC_PARENTS"

	# The pipeline form: the ids of a batch on stdin, the data from a file.
	printf '%s\n' '{"x":1}' '{"fail":true}' '{"x":3}' >"$AC_TMP/in.jsonl"
	echo '{"join":1}' >"$AC_TMP/data.json"
	rc=0
	out=$(ac-submit --batch --async bf <"$AC_TMP/in.jsonl" |
		AC_SUBMIT_TIMEOUT=30 ac_submit --after - step "$AC_TMP/data.json" 2>"$AC_TMP/err") || rc=$?
	assert_eq "$rc" 4 "exit status of the all-ok task after a failing batch"
	assert_contains "$(cat "$AC_TMP/err")" "it waited for ended failed" "its message" || return 1
	rc=0
	out=$(ac-submit --batch --async bf <"$AC_TMP/in.jsonl" |
		AC_SUBMIT_TIMEOUT=30 ac_submit --after - --after-policy all-done step "$AC_TMP/data.json") || rc=$?
	assert_eq "$rc" 0 "exit status of the all-done task after a failing batch"
	assert_eq "$(jq -c .in <<<"$out")" '{"join":1}' "its data came from the file"
	assert_eq "$(jq -c '[.parents[] | .status]' <<<"$out")" '["completed","failed","completed"]' \
		"the batch in AC_PARENTS"
	# --after @FILE
	ac-submit --batch --async bf <<<'{"x":9}' >"$AC_TMP/ids"
	out=$(AC_SUBMIT_TIMEOUT=30 ac_submit --after "@$AC_TMP/ids" step "$AC_TMP/data.json") ||
		fail "--after @FILE did not complete"
	assert_eq "$(jq -c '[.parents[] | .result]' <<<"$out")" '[{"x":9}]' "--after @FILE's parent"

	# Parents that had ended before the task was submitted.
	rc=0
	AC_SUBMIT_TIMEOUT=20 ac_submit --after "$f" step <<<'{}' >/dev/null 2>&1 || rc=$?
	assert_eq "$rc" 4 "--after a task that had failed already"
	out=$(AC_SUBMIT_TIMEOUT=20 ac_submit --after "$done1" step <<<'{}') ||
		fail "--after a task that had completed already"
	assert_eq "$(jq -c '.parents | keys' <<<"$out")" "[\"$done1\"]" "its AC_PARENTS"
	id=$(submit_async step '{}' --after "$done1,$f")
	assert_eq "$(task_status "$id")" cancelled "--after one completed and one failed task, at once"

	# Stream mode: the task line carries "parents".
	id=$(submit_async st '{"op":"echo"}' --after "$done1,$f" --after-policy all-done)
	wait_status "$id" completed || return 1
	assert_eq "$(jq -c --argjson id "$id" 'select(.id == $id) | .parents | map_values(.status)' \
		"$AC_TMP/stream-lines")" "{\"$f\":\"failed\",\"$done1\":\"completed\"}" \
		"parents in the stream task line"
	assert_eq "$(jq -c --argjson id "$id" --arg p "$done1" 'select(.id == $id) | .parents[$p].result.in' \
		"$AC_TMP/stream-lines")" '{"c":3}' "a parent's result in the stream task line"
}

@test "a failing parent cancels all-ok children and their all-ok child; all-done runs; --after - (sqlite)" {
	graph_failing_parent
}

@test "a failing parent cancels all-ok children and their all-ok child; all-done runs; --after - (postgres)" {
	pg_test_db
	graph_failing_parent
}

# ------------------------------------------------------------ batch --then

graph_batch_then() {
	local i ids cont b want_ok want_failed last_finished then_started n
	for ((i = 1; i <= 100; i++)); do
		if ((i % 7 == 0)); then
			echo "{\"i\":$i,\"fail\":true}"
		else
			echo "{\"i\":$i}"
		fi
	done >"$AC_TMP/in.jsonl"
	mapfile -t ids < <(ac-submit --batch --async --then join bf <"$AC_TMP/in.jsonl")
	assert_eq "${#ids[@]}" 100 "ids printed"
	b=$(task_field "${ids[0]}" batch)
	[[ $b =~ ^[0-9]+$ ]] || fail "no batch id in the task record: $b"
	assert_eq "$(task_field "${ids[99]}" batch)" "$b" "the last task's batch"
	assert_eq "$(ac-status --batch "$b" | jq -c '[.batch, .total, .done, .then_status]')" \
		"[$b,100,false,\"pending\"]" "the batch before any worker"

	start_worker w1 --concurrency 4 --handler bf="$H/batchfail.sh"
	start_worker w2 --concurrency 4 --handler bf="$H/batchfail.sh" \
		--handler join="$H/step.sh join"
	wait_until 60 eval '[ "$(ac-status --batch "$b" | jq -r .then_status)" = completed ]' ||
		fail "the continuation did not complete: $(ac-status --batch "$b")"
	cont=$(ac-status --batch "$b" | jq -r .then)
	sleep 1
	assert_eq "$(grep -c " start " "$AC_TMP/join.log")" 1 "continuation runs"
	assert_eq "$(awk '{ print $1 }' "$AC_TMP/join.log" | sort -u)" "$cont" "the task that ran"

	want_ok=$(ids_json $(for ((i = 0; i < 100; i++)); do ((i % 7 != 6)) && echo "${ids[i]}"; done))
	want_failed=$(ids_json $(for ((i = 0; i < 100; i++)); do ((i % 7 == 6)) && echo "${ids[i]}"; done))
	assert_eq "$(task_field "$cont" data | jq -c .batch)" "$b" "data.batch"
	assert_eq "$(task_field "$cont" data | jq -c '.completed | sort')" "$want_ok" "data.completed"
	assert_eq "$(task_field "$cont" data | jq -c '.failed | sort')" "$want_failed" "data.failed"
	assert_eq "$(task_field "$cont" result | jq '.parents | length')" 100 "AC_PARENTS of the continuation"

	# It started after the last batch task ended.
	last_finished=$(ac-status --tasks --type bf --limit 200 --json | jq -r 'map(.finished) | max')
	then_started=$(task_field "$cont" started)
	[[ $then_started > $last_finished || $then_started == "$last_finished" ]] ||
		fail "the continuation started at $then_started, the batch ended at $last_finished"
	n=$(ac-status --tasks --type bf --limit 200 --json | jq 'length')
	assert_eq "$n" 100 "batch tasks"

	# 14 of the 100 (i % 7 == 0) failed.
	assert_eq "$(ac-status --batch "$b" | jq -c '[.batch, .total, .ended, .done, .counts.completed, .counts.failed, .counts.pending, .then, .then_status]')" \
		"[$b,100,100,true,86,14,0,$cont,\"completed\"]" "ac-status --batch"
	assert_eq "$(ac-status --batch "$b" | jq -c 'keys')" \
		'["batch","counts","created","done","ended","then","then_status","total"]' "its fields"
	assert_contains "$(ac-status --batch "$b" --table)" "then_status" "--table" || return 1
}

@test "a batch of 100 with --then: the continuation runs once, after all, with completed/failed (sqlite)" {
	graph_batch_then
}

@test "a batch of 100 with --then: the continuation runs once, after all, with completed/failed (postgres)" {
	pg_test_db
	graph_batch_then
}

# ------------------------------------------------------------ sub-tasks

graph_subtasks() {
	local out p kids cont w
	start_worker w1 --concurrency 3 --handler step="$H/step.sh" \
		--handler fan="$H/spawn.sh fanout step 5" --handler waiter="$H/spawn.sh wait step 3"

	# The documented pattern: sub-tasks with --async and a continuation.
	out=$(AC_SUBMIT_TIMEOUT=30 ac_submit --envelope fan <<<'{}') || fail "the spawning task failed: $out"
	p=$(jq -r .id <<<"$out")
	kids=$(jq -c '.result.children' <<<"$out")
	cont=$(jq -r '.result.then' <<<"$out")
	assert_eq "$(jq length <<<"$kids")" 5 "sub-tasks"
	for id in $(jq '.[]' <<<"$kids") "$cont"; do
		assert_eq "$(task_field "$id" parent)" "$p" "parent of task $id" || return 1
	done
	assert_eq "$(task_json "$p" | jq -c '.children | sort')" "$(jq -c ". + [$cont] | sort" <<<"$kids")" \
		"children of the spawning task"
	wait_status "$cont" completed 30 || fail "the continuation did not complete"
	assert_eq "$(task_json "$cont" | jq -c .after)" "$kids" "the continuation's after"
	assert_eq "$(task_field "$cont" result | jq -c '.parents | keys | map(tonumber) | sort')" "$kids" \
		"the 5 in AC_PARENTS"
	assert_eq "$(task_field "$cont" result | jq -c '[.parents[] | .status] | unique')" '["completed"]' \
		"their statuses"
	assert_eq "$(task_field "$cont" result | jq -c '[.parents[] | .result.in.i] | sort')" '[1,2,3,4,5]' \
		"their results"
	assert_eq "$(task_field "$p" awaiting_children)" false "the spawner did not wait"

	# Waiting for sub-tasks inside the handler, with slots to spare.
	out=$(AC_SUBMIT_TIMEOUT=30 ac_submit --envelope waiter <<<'{}') || fail "the waiting task failed: $out"
	p=$(jq -r .id <<<"$out")
	assert_eq "$(jq -c '[.result.results[].in.i]' <<<"$out")" '[1,2,3]' "the sub-tasks' results"
	assert_eq "$(task_json "$p" | jq '.children | length')" 3 "children"
	for id in $(task_json "$p" | jq '.children[]'); do
		assert_eq "$(task_field "$id" parent)" "$p" "parent of task $id" || return 1
	done
	assert_eq "$(task_field "$p" awaiting_children)" false "no longer awaiting"
	if [ -s "$AC_TMP/spawn.err" ]; then
		fail "the waiting ac-submit complained: $(cat "$AC_TMP/spawn.err")"
	fi

	# --parent ID outside a handler; --no-parent inside one is tested
	# through AC_TASK_ID in the environment.
	w=$(submit_async step '{}' --parent "$p")
	assert_eq "$(task_field "$w" parent)" "$p" "--parent"
	w=$(AC_TASK_ID=$p submit_async step '{}')
	assert_eq "$(task_field "$w" parent)" "$p" "AC_TASK_ID"
	w=$(AC_TASK_ID=$p submit_async step '{}' --no-parent)
	assert_eq "$(task_field "$w" parent)" null "--no-parent"
}

@test "sub-tasks: --async fan-out with an --after continuation, and waiting inside a handler (sqlite)" {
	graph_subtasks
}

@test "sub-tasks: --async fan-out with an --after continuation, and waiting inside a handler (postgres)" {
	pg_test_db
	graph_subtasks
}

graph_deadlock() {
	local p kid
	start_worker w1 --concurrency 1 --handler step="$H/step.sh" \
		--handler waiter="$H/spawn.sh wait step 1"
	p=$(submit_async waiter '{}')
	wait_until 30 grep -q 'deadlock:' "$AC_TMP/spawn.err" ||
		fail "no deadlock warning: $(cat "$AC_TMP/spawn.err" 2>&1)"
	assert_match "$(head -n 1 "$AC_TMP/spawn.err")" '^ac-submit: deadlock:' "the warning"
	assert_eq "$(task_status "$p")" running "the parent"
	assert_eq "$(task_field "$p" awaiting_children)" true "the parent awaits its children"
	kid=$(task_json "$p" | jq -r '.children[0]')
	assert_eq "$(task_status "$kid")" queued "the sub-task"
	# Printed once, though the check runs every ~2 s.
	sleep 4.5
	assert_eq "$(grep -c 'deadlock:' "$AC_TMP/spawn.err")" 1 "warnings"
	# The remedy: cancel the parent.  Its sub-task was queued then: it
	# ends cancelled with it and never runs (not even on the slot the
	# parent leaves).
	run -0 ac-cancel --wait --timeout 20 "$p"
	assert_eq "$(task_status "$p")" cancelled "the parent"
	wait_status "$kid" cancelled 5 || fail "the sub-task was not cancelled"
	assert_eq "$(task_field "$kid" error)" "its parent task $p was cancelled" "the sub-task's error"
	ran "$kid" && fail "the sub-task ran"
	return 0
}

@test "a handler waiting for a sub-task on the only slot: 'deadlock:' once; cancel cancels both (sqlite)" {
	graph_deadlock
}

@test "a handler waiting for a sub-task on the only slot: 'deadlock:' once; cancel cancels both (postgres)" {
	pg_test_db
	graph_deadlock
}

graph_cancel_children() {
	local p kids other id q c1 c2
	start_worker w1 --handler holder="$H/spawn.sh hold nobody 4"
	other=$(submit_async nobody '{}')
	p=$(submit_async holder '{}')
	wait_file "$AC_TMP/children.$p" || fail "the handler did not submit its sub-tasks"
	mapfile -t kids <"$AC_TMP/children.$p"
	assert_eq "${#kids[@]}" 4 "sub-tasks"
	for id in "${kids[@]}"; do
		assert_eq "$(task_status "$id")" queued "sub-task $id" || return 1
		assert_eq "$(task_field "$id" parent)" "$p" "parent of $id" || return 1
	done
	# A running parent ends by request; its queued children end with it.
	run -0 ac-cancel --wait --timeout 20 "$p"
	assert_eq "$(task_status "$p")" cancelled "the parent"
	for id in "${kids[@]}"; do
		assert_eq "$(task_status "$id")" cancelled "sub-task $id after the cancel" || return 1
		assert_eq "$(task_field "$id" error)" "its parent task $p was cancelled" \
			"sub-task $id's error" || return 1
	done
	assert_eq "$(task_status "$other")" queued "a task of the same type that is no child"

	# A queued parent (--parent, no handler for its type): its children
	# and theirs end at once, with it.
	q=$(submit_async nobody '{"q":1}')
	c1=$(submit_async nobody '{}' --parent "$q")
	c2=$(submit_async nobody '{}' --parent "$c1")
	run -0 ac-cancel "$q"
	assert_eq "$(task_status "$q")" cancelled "the queued parent"
	assert_eq "$(task_status "$c1")" cancelled "its child"
	assert_eq "$(task_field "$c2" error)" "its parent task $c1 was cancelled" "its grandchild"
	assert_eq "$(task_status "$other")" queued "the task that is no child, still"
}

@test "ac-cancel of a parent cancels its queued sub-tasks, and theirs (sqlite)" {
	graph_cancel_children
}

@test "ac-cancel of a parent cancels its queued sub-tasks, and theirs (postgres)" {
	pg_test_db
	graph_cancel_children
}

# ------------------------------------------------------------ bad input

graph_bad_input() {
	local before a
	a=$(submit_async seed '{}')
	echo '{}' >"$AC_TMP/data.json"
	before=$(task_counts)
	run -2 --separate-stderr ac-submit --async --after abc step <<<'{}'
	assert_usage_error ac-submit
	assert_contains "$stderr" "--after"
	run -2 --separate-stderr ac-submit --async --after 0 step <<<'{}'
	assert_usage_error ac-submit
	assert_contains "$stderr" "--after"
	run -2 --separate-stderr ac-submit --async --after "$a,x" step <<<'{}'
	assert_usage_error ac-submit
	assert_contains "$stderr" "--after"
	run -2 --separate-stderr ac-submit --async --after "$a" --after-policy maybe step <<<'{}'
	assert_usage_error ac-submit
	assert_contains "$stderr" "--after-policy"
	run -2 --separate-stderr ac-submit --async --after-policy all-done step <<<'{}'
	assert_usage_error ac-submit
	assert_contains "$stderr" "--after-policy"
	run -2 --separate-stderr ac-submit --async --then join step <<<'{}'
	assert_usage_error ac-submit
	assert_contains "$stderr" "--then"
	run -2 --separate-stderr ac-submit --async --after - step <<<"$a"
	assert_usage_error ac-submit
	assert_contains "$stderr" "FILE"
	run -2 --separate-stderr ac-submit --async --after - step - <<<"$a"
	assert_usage_error ac-submit
	assert_contains "$stderr" "FILE"
	run -2 --separate-stderr ac-submit --async --after - step "$AC_TMP/data.json" </dev/null
	assert_usage_error ac-submit
	run -1 --separate-stderr ac-submit --async --after 999999 step <<<'{}'
	assert_one_stderr_line ac-submit
	assert_contains "$stderr" 999999
	run -1 --separate-stderr ac-submit --async --after "$a,999999" step <<<'{}'
	assert_one_stderr_line ac-submit
	nothing_stored "$before"

	run -2 --separate-stderr ac-status --batch 9999
	assert_one_stderr_line ac-status
	run -2 --separate-stderr ac-status --batch abc
	assert_usage_error ac-status
	run -2 --separate-stderr ac-status --tree
	assert_usage_error ac-status
	assert_contains "$stderr" "--tree"
	run -2 --separate-stderr ac-status --task 999999 --tree
	assert_one_stderr_line ac-status
}

@test "bad --after, --after-policy, --then: exit 2 (unknown id: 1), nothing stored; bad --batch/--tree (sqlite)" {
	graph_bad_input
}

@test "bad --after, --after-policy, --then: exit 2 (unknown id: 1), nothing stored; bad --batch/--tree (postgres)" {
	pg_test_db
	graph_bad_input
}
