#!/usr/bin/env bats
# Budgets: handlers report usage on fd 3 (tests/handlers/spend.sh); the
# store charges it to the task's budget and type; once a budget is spent
# no worker claims its tasks (they are held) until it is raised, reset or
# removed.  ac-budget, ac-submit --budget and --budget-name, ac-status
# --usage.  Each behaviour runs on SQLite and again on a PostgreSQL
# database of its own when tests/run.sh started a server.

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

# count_status STATUS ID...: how many of the tasks are in STATUS.
count_status() {
	local want=$1 n=0 id
	shift
	for id in "$@"; do
		[ "$(task_status "$id")" = "$want" ] && n=$((n + 1))
	done
	echo "$n"
}

# settled ID...: none of the tasks is queued or running.
settled() {
	local id s
	for id in "$@"; do
		s=$(task_status "$id")
		[ "$s" = queued ] || [ "$s" = running ] && return 1
	done
	return 0
}

budget_field() {
	ac-budget show "$1" --json | jq -c ".$2"
}

# ------------------------------------------- a budget across two workers

budget_across_workers() {
	local ids=() id done held before
	run -0 ac-budget set research tokens=100
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		ids+=("$(submit_async spend '{"tokens":40,"cost":0.5,"sleep":0.3}' --budget-name research)")
	done
	start_worker w1 --concurrency 1 --handler spend="$H/spend.sh"
	start_worker w2 --concurrency 1 --handler spend="$H/spend.sh"
	wait_until 60 settled "${ids[@]}" || fail "tasks still queued or running"
	# 40 tokens a task: the third report reaches 100; a task already
	# running on the other worker then finishes too.
	done=$(count_status completed "${ids[@]}")
	held=$(count_status pending "${ids[@]}")
	[ "$done" -ge 3 ] && [ "$done" -le 4 ] || fail "$done tasks completed, want 3 or 4"
	assert_eq "$((done + held))" 10 "completed + held"
	assert_eq "$(budget_field research spent)" true "spent"
	assert_eq "$(budget_field research held)" "$held" "held count"
	assert_eq "$(budget_field research usage.tokens)" "$((done * 40))" "usage charged"
	for id in "${ids[@]}"; do
		if [ "$(task_status "$id")" = pending ]; then
			assert_eq "$(task_field "$id" held)" true "task $id held" || return 1
			assert_eq "$(task_field "$id" due)" null "task $id never due" || return 1
			assert_eq "$(task_field "$id" attempt)" 0 "task $id never ran" || return 1
		fi
	done
	# No worker claims them while it stays spent.
	before=$(wc -l <"$AC_TMP/spend.log")
	sleep 3
	assert_eq "$(wc -l <"$AC_TMP/spend.log")" "$before" "no run while spent"
	assert_eq "$(count_status pending "${ids[@]}")" "$held" "still held"
	# ac-status --usage: per type and per budget.
	run -0 ac-status --usage --json
	assert_eq "$(jq -c '.types.spend.tokens' <<<"$output")" "$((done * 40))" "usage of type spend"
	assert_eq "$(jq -r '.budgets[] | select(.name == "research") | .spent' <<<"$output")" true "budget in --usage"
	run -0 ac-status --usage --table
	assert_match "$output" 'budget +research' "table row of the budget"
	# Raised: the held tasks run.
	run -0 ac-budget set research tokens=10000
	wait_until 60 settled "${ids[@]}" || fail "tasks still queued or running after the raise"
	assert_eq "$(count_status completed "${ids[@]}")" 10 "all completed after the raise"
	assert_eq "$(budget_field research usage.tokens)" 400 "usage of all ten"
	assert_eq "$(budget_field research spent)" false "no longer spent"
	assert_eq "$(sort "$AC_TMP/spend.log" | uniq -d | wc -l)" 0 "no task ran twice"
}

@test "a budget shared by two workers stops further claims once spent; raising it releases them (sqlite)" {
	budget_across_workers
}

@test "a budget shared by two workers stops further claims once spent; raising it releases them (postgres)" {
	pg_test_db
	budget_across_workers
}

# -------------------------------------- a batch's budget, a task's budget

budget_batch_and_task() {
	local out ids batch name id
	start_worker w1 --concurrency 1 --handler spend="$H/spend.sh"
	out=$(for _ in 1 2 3 4 5 6; do echo '{"tokens":20}'; done |
		ac-submit --batch --async --budget tokens=50 spend)
	mapfile -t ids <<<"$out"
	assert_eq "${#ids[@]}" 6 "six ids"
	name=$(task_field "${ids[0]}" budget)
	assert_match "$name" '^batch-[0-9]+$' "the batch's own budget"
	for id in "${ids[@]}"; do
		assert_eq "$(task_field "$id" budget)" "$name" "task $id charged to it" || return 1
	done
	wait_until 60 settled "${ids[@]}" || fail "batch tasks still queued or running"
	assert_eq "$(count_status completed "${ids[@]}")" 3 "three ran (60 >= 50)"
	assert_eq "$(budget_field "$name" held)" 3 "three held"

	# A task's own budget: each attempt reports 20, the limit is 30, so
	# the retry after the second failure is held, not run.
	id=$(submit_async spend '{"tokens":20,"fail":true}' --budget tokens=30 --retries 5)
	assert_eq "$(task_field "$id" budget)" "task-$id" "the task's own budget"
	wait_until 60 task_field_is "$id" held true || fail "the retry was not held: $(task_json "$id")"
	assert_eq "$(task_field "$id" attempt)" 2 "two attempts ran"
	assert_eq "$(task_field "$id" status)" pending "pending, held"
	assert_eq "$(budget_field "task-$id" usage.tokens)" 40 "its usage"
	# Removing the budget lets it run (and fail) on.
	run -0 ac-budget rm "task-$id" --json
	assert_eq "$(jq -r .name <<<"$output")" "task-$id" "rm prints what it removed"
	wait_until 60 task_field_isnt "$id" attempt 2 || fail "no attempt after rm"
	assert_eq "$(task_field "$id" budget)" null "charged to no budget"
}

@test "--budget makes a budget of the batch's or the task's own; retries are held too; rm releases (sqlite)" {
	budget_batch_and_task
}

@test "--budget makes a budget of the batch's or the task's own; retries are held too; rm releases (postgres)" {
	pg_test_db
	budget_batch_and_task
}

# ------------------------------------------------------------- commands

budget_commands() {
	local id
	run -0 ac-budget set b1 tokens=1000 cost=2.5
	assert_eq "$(jq -c .limits <<<"$output")" '{"tokens":1000,"cost":2.5}' "limits"
	assert_eq "$(jq -c .remaining <<<"$output")" '{"tokens":1000,"cost":2.5}' "remaining"
	run -0 ac-budget set b2 tokens=5,cost=1
	run -0 ac-budget list --json
	assert_eq "$(jq -c 'map(.name)' <<<"$output")" '["b1","b2"]' "list"
	run -0 ac-budget list --table
	assert_match "$output" '^NAME +LIMITS' "table header"
	run -0 ac-budget show b1 --table
	assert_match "$output" 'limits +\{"tokens":1000,"cost":2.5\}' "record"
	# --budget-name with --budget sets that budget's limits at submit.
	id=$(submit_async spend '{}' --budget-name b1 --budget tokens=7)
	assert_eq "$(task_field "$id" budget)" b1 "charged to b1"
	assert_eq "$(budget_field b1 limits)" '{"tokens":7}' "limits replaced by the submit"
	assert_eq "$(budget_field b1 tasks.queued)" 1 "its tasks by status"
	start_worker w1 --concurrency 1 --handler spend="$H/spend.sh"
	wait_status "$id" completed
	assert_eq "$(budget_field b1 spent)" true "10 >= 7: spent"
	# A waiting submit of a held task says so once, and keeps waiting.
	run -3 --separate-stderr ac_submit --wait-timeout 5 --budget-name b1 spend <<<'{}'
	assert_contains "$stderr" "is held: its budget 'b1' is spent" "the notice"
	id=$(ac-status --tasks --limit 1 --json | jq '.[0].id')
	assert_eq "$(task_field "$id" held)" true "a new task of a spent budget is held at once"
	run -0 ac-budget reset b1
	assert_eq "$(jq -c .usage <<<"$output")" '{}' "reset: no usage"
	wait_status "$id" completed
	run -0 ac-budget set b1 --reset tokens=100
	run -0 ac-budget rm b2
	run -1 --separate-stderr ac-budget show b2
	assert_one_stderr_line ac-budget
	run -1 --separate-stderr ac-budget rm b2
	assert_one_stderr_line ac-budget
}

@test "ac-budget set, list, show, reset, rm; --budget-name with --budget sets the limits (sqlite)" {
	budget_commands
}

@test "ac-budget set, list, show, reset, rm; --budget-name with --budget sets the limits (postgres)" {
	pg_test_db
	budget_commands
}

# ------------------------------------------------------------ bad input

budget_bad_input() {
	local before
	run -0 ac-budget set known tokens=10
	before=$(task_counts)
	for bad in 'tokens' 'tokens=' 'tokens=abc' 'tokens=-1' 'tokens=0' 'Tokens=5' \
		'tokens=5,' '=5' 'tokens=nan' 'tokens=inf'; do
		run -2 --separate-stderr ac-submit --async --budget "$bad" spend <<<'{}'
		assert_usage_error ac-submit || return 1
	done
	run -2 --separate-stderr ac-submit --async --budget-name 'bad name' spend <<<'{}'
	assert_usage_error ac-submit
	run -1 --separate-stderr ac-submit --async --budget-name unknown spend <<<'{}'
	assert_one_stderr_line ac-submit
	assert_contains "$stderr" "no budget named 'unknown'"
	run -2 --separate-stderr ac-submit --retry 1 --budget tokens=5
	assert_usage_error ac-submit
	nothing_changed=$(task_counts)
	assert_eq "$nothing_changed" "$before" "nothing stored"
	run -2 --separate-stderr ac-budget
	assert_usage_error ac-budget
	run -2 --separate-stderr ac-budget frobnicate
	assert_usage_error ac-budget
	run -2 --separate-stderr ac-budget set known
	assert_usage_error ac-budget
	run -2 --separate-stderr ac-budget set known tokens=x
	assert_usage_error ac-budget
	run -2 --separate-stderr ac-budget show
	assert_usage_error ac-budget
	run -2 --separate-stderr ac-budget show known extra
	assert_usage_error ac-budget
	run -2 --separate-stderr ac-budget list --reset
	assert_usage_error ac-budget
	run -2 --separate-stderr ac-budget show 'a b'
	assert_usage_error ac-budget
	run -2 --separate-stderr ac-budget --bogus
	assert_usage_error ac-budget
	run -1 --separate-stderr ac-budget reset unknown
	assert_one_stderr_line ac-budget
	assert_eq "$(budget_field known limits)" '{"tokens":10}' "known unchanged"
	run -2 --separate-stderr ac-status --usage --tasks
	assert_usage_error ac-status
}

@test "bad input: each exits 2 (or 1 for an unknown budget) with one line, and changes nothing (sqlite)" {
	budget_bad_input
}

@test "bad input: each exits 2 (or 1 for an unknown budget) with one line, and changes nothing (postgres)" {
	pg_test_db
	budget_bad_input
}
