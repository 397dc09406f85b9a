#!/usr/bin/env bats
# ac-queue: the subcommands, options, JSON shapes and exit codes of
# docs/cli.md on SQLite -- limits, pauses and holds as the store keeps them,
# the events of a pause and a resume, and the dead-letter set (failed,
# requeue, prune).  How workers obey the limits across a cluster (caps,
# rates, fairness, retry_after) is tested elsewhere.

load helpers

# flow TYPE: the flow control object of TYPE (ac-queue show TYPE), compact.
flow() {
	ac-queue show "$1" | jq -c '.[0]'
}

# flow_field TYPE FIELD: jq -r .FIELD of it.
flow_field() {
	ac-queue show "$1" | jq -r ".[0].$2"
}

# epoch TIME: seconds since the epoch of an RFC 3339 time with milliseconds.
epoch() {
	jq -rn --arg t "$1" '$t | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601'
}

# failed_ids ARGS...: the ids ac-queue failed ARGS lists, on one line.
failed_ids() {
	ac-queue failed "$@" | jq -c '[.[].id]'
}

# A task of type bad that failed (fail.sh, no retries): its id.
failed_task() {
	local type=${1:-bad} id
	id=$(submit_async "$type" '{}' --retries 0) || return 1
	wait_status "$id" failed >&2 || return 1
	echo "$id"
}

# ---------------------------------------------------------------- the CLI

@test "-h, --help and --version; every subcommand and option is in --help" {
	local o
	run -0 --separate-stderr ac-queue -h
	assert_match "$output" '^usage: ac-queue limit TYPE'
	assert_eq "$stderr" "" "stderr"
	run -0 --separate-stderr ac-queue --help
	for o in limit pause resume show failed requeue prune --concurrency --per-key --rate \
		--key-rate --burst --fair --no-fair --clear --reason --for --key --type --since \
		--status --limit --all --older-than --json --table --store; do
		assert_contains "$output" "$o" "--help names $o" || return 1
	done
	run -0 ac-queue --version
	assert_eq "$output" "ac-queue 0.1.0"
	# help and version need no store, and go before a subcommand's checks
	AC_STORE=/nonexistent/dir/x.db run -0 ac-queue limit --help
	AC_STORE=/nonexistent/dir/x.db run -0 ac-queue --version
}

@test "usage errors: exit 2, one line and the usage hint, nothing changed" {
	make_store
	run -0 ac-queue limit t1 --concurrency 3 --rate 2/s
	local before counts args
	before=$(ac-queue show)
	counts=$(task_counts)
	local -a cases=(
		""
		"bogus"
		"limit"
		"pause"
		"resume"
		"limit t1 --no-such-option"
		"limit t1 --concurrency"
		"limit t1 --concurrency 0"
		"limit t1 --concurrency -1"
		"limit t1 --concurrency two"
		"limit t1 --per-key 0"
		"limit t1 --rate 5"
		"limit t1 --rate 5/d"
		"limit t1 --rate 0/s"
		"limit t1 --rate -1/s"
		"limit t1 --key-rate x/s"
		"limit t1 --burst 0"
		"limit t1 --burst 1.5"
		"limit t1 --fair --no-fair"
		"limit t1 --clear --concurrency 2"
		"limit bad/type --concurrency 2"
		"limit t1 t2 --concurrency 2"
		"limit t1 --reason x"
		"pause t1 --rate 1/s"
		"pause t1 --for 0"
		"pause t1 --for soon"
		"pause t1 --key="
		"resume t1 --for 1h"
		"show t1 t2"
		"show t1 --concurrency 1"
		"failed --limit -1"
		"failed --limit x"
		"failed --status running"
		"failed --status completed"
		"failed --since yesterday"
		"failed t1"
		"requeue"
		"requeue abc"
		"requeue 0"
		"requeue 1 --type t1"
		"requeue 1 --all"
		"requeue --all --type t1"
		"requeue --status queued"
		"prune"
		"prune --older-than"
		"prune --older-than x"
		"prune --older-than 1h --status queued"
		"prune --older-than 1h --status failed --status timeout"
		"prune --older-than 1h 17"
	)
	for args in "${cases[@]}"; do
		# shellcheck disable=SC2086  # the words of each case
		run -2 --separate-stderr ac-queue $args
		assert_usage_error ac-queue || { echo "# ac-queue $args" >&2; return 1; }
		assert_eq "$output" "" "stdout of ac-queue $args" || return 1
	done
	assert_eq "$(ac-queue show)" "$before" "flow control unchanged"
	assert_eq "$(task_counts)" "$counts" "task counts unchanged"
}

@test "an unknown subcommand and an unknown option are named" {
	run -2 --separate-stderr ac-queue frobnicate
	assert_contains "$(head -n 1 <<<"$stderr")" "ac-queue: unknown subcommand 'frobnicate'"
	run -2 --separate-stderr ac-queue show --frob
	assert_contains "$(head -n 1 <<<"$stderr")" "--frob"
	run -2 --separate-stderr ac-queue pause t1 --concurrency 2
	assert_contains "$(head -n 1 <<<"$stderr")" "--concurrency does not go with pause"
}

@test "a store in a missing directory: exit 69, one line, not created" {
	local sub
	export AC_STORE=$AC_TMP/missing/dir/ac.db
	for sub in "show" "show t1" "limit t1" "limit t1 --concurrency 2" "pause t1" \
		"resume t1" "failed" "requeue 1" "requeue --all" "prune --older-than 1d"; do
		# shellcheck disable=SC2086
		run -69 --separate-stderr ac-queue $sub
		assert_one_stderr_line ac-queue || { echo "# ac-queue $sub" >&2; return 1; }
		assert_contains "$stderr" "$AC_STORE" "the message names the store" || return 1
	done
	[ ! -e "$AC_TMP/missing" ] || fail "ac-queue created $AC_TMP/missing"
}

@test "limit and pause create a missing store; the other subcommands do not (69)" {
	local sub
	for sub in "show" "show t1" "resume t1" "failed" "requeue 1" "requeue --all" \
		"prune --older-than 1d"; do
		# shellcheck disable=SC2086
		run -69 --separate-stderr ac-queue $sub
		assert_one_stderr_line ac-queue || { echo "# ac-queue $sub" >&2; return 1; }
		[ ! -e "$AC_STORE" ] || fail "ac-queue $sub created $AC_STORE" || return 1
	done
	run -0 ac-queue limit t1 --concurrency 1
	[ -f "$AC_STORE" ] || fail "ac-queue limit did not create $AC_STORE"
	assert_eq "$(flow_field t1 concurrency)" 1 "the limit is kept"
	rm -f "$AC_STORE"*
	run -0 ac-queue pause t1
	[ -f "$AC_STORE" ] || fail "ac-queue pause did not create $AC_STORE"
}

# ---------------------------------------------------------------- limit, show

@test "limit sets and shows the limits; limit TYPE alone changes nothing" {
	make_store
	run -0 --separate-stderr ac-queue limit crawl --concurrency 2 --per-key 1 --rate 5/s \
		--key-rate 30/m --burst 4 --fair
	assert_eq "$stderr" "" stderr
	assert_eq "$(jq -c '{type, concurrency, per_key, rate, key_rate, burst, fair, paused}' <<<"$output")" \
		'{"type":"crawl","concurrency":2,"per_key":1,"rate":"5/s","key_rate":"30/m","burst":4,"fair":true,"paused":false}' \
		"the object printed"
	jq -e 'keys == (["type","paused","reason","paused_at","held_until","hold_reason",
		"concurrency","per_key","rate","key_rate","burst","fair","keys_held","queued",
		"running"] | sort)' <<<"$output" >/dev/null || fail "its keys: $output"
	local printed=$output
	run -0 ac-queue limit crawl
	assert_eq "$output" "$printed" "limit TYPE without options shows the same"
	assert_eq "$(flow crawl)" "$(jq -c . <<<"$printed")" "show crawl shows the same"
	# one limit at a time; the others stay
	run -0 ac-queue limit crawl --concurrency 7 --rate 0.5/s
	assert_eq "$(jq -c '[.concurrency, .per_key, .rate, .key_rate, .fair]' <<<"$output")" \
		'[7,1,"30/m","30/m",true]' "after a second limit (0.5/s shows as 30/m)"
	run -0 ac-queue limit crawl --rate 90/h
	assert_eq "$(jq -r .rate <<<"$output")" "90/h" "90/h"
	# off removes one; --no-fair turns fair off
	run -0 ac-queue limit crawl --concurrency off --key-rate off --no-fair
	assert_eq "$(jq -c '[.concurrency, .per_key, .rate, .key_rate, .fair]' <<<"$output")" \
		'[null,1,"90/h",null,false]' "after off"
}

@test "limit --clear drops every limit, a pause stays" {
	make_store
	run -0 ac-queue limit t1 --concurrency 2 --per-key 3 --rate 1/s --fair
	run -0 ac-queue pause t1 --reason "for now"
	run -0 ac-queue limit t1 --clear
	assert_eq "$(jq -c '[.concurrency, .per_key, .rate, .key_rate, .burst, .fair]' <<<"$output")" \
		'[null,null,null,null,null,false]' "limits after --clear"
	assert_eq "$(jq -c '[.paused, .reason]' <<<"$output")" '[true,"for now"]' "the pause stays"
}

@test "show: every type with flow control, with queued and running counts; show TYPE of a type without any: its defaults" {
	make_store
	submit_async crawl '{}' >/dev/null
	submit_async crawl '{}' --priority high >/dev/null
	run -0 ac-queue show
	assert_eq "$output" "[]" "no flow control yet"
	ac-queue limit crawl --concurrency 1 >/dev/null
	ac-queue pause chat >/dev/null
	run -0 ac-queue show
	assert_eq "$(jq -c '[.[] | {type, queued, running}] | sort_by(.type)' <<<"$output")" \
		'[{"type":"chat","queued":0,"running":0},{"type":"crawl","queued":2,"running":0}]' "show"
	run -0 ac-queue show seed
	assert_eq "$(jq -c '.[0] | [.type, .paused, .concurrency, .rate, .fair, .keys_held, .queued]' <<<"$output")" \
		'["seed",false,null,null,false,[],1]' "defaults of a type without flow control"
	run -0 ac-queue show nothing-here
	assert_eq "$(jq -c '[length, .[0].type, .[0].queued]' <<<"$output")" '[1,"nothing-here",0]' "an unknown type"
	run -0 ac-queue show --table
	assert_match "$(head -n 1 <<<"$output")" '^TYPE +PAUSED' "--table header"
	assert_eq "$(grep -c '^c' <<<"$output")" 2 "--table rows"
	run -0 ac-queue limit crawl --table
	assert_match "$output" 'concurrency +1' "--table of one object: a record"
}

# ---------------------------------------------------------------- pause, resume

@test "pause and resume: the reason is shown, resume lifts it" {
	make_store
	run -0 --separate-stderr ac-queue pause crawl --reason "site maintenance"
	assert_eq "$stderr" "" stderr
	assert_eq "$(jq -c '[.type, .paused, .reason]' <<<"$output")" '["crawl",true,"site maintenance"]' "pause prints"
	assert_match "$(jq -r .paused_at <<<"$output")" '^20[0-9-]+T[0-9:.]+Z$' "paused_at"
	assert_eq "$(flow_field crawl reason)" "site maintenance" "show"
	run -0 ac-queue resume crawl
	assert_eq "$(jq -c '[.paused, .reason, .paused_at]' <<<"$output")" '[false,null,null]' "resume prints"
	assert_eq "$(flow_field crawl paused)" false "show after resume"
	# a pause without a reason
	run -0 ac-queue pause crawl
	assert_eq "$(jq -c '[.paused, .reason]' <<<"$output")" '[true,null]' "pause without a reason"
}

@test "pause --for: a hold until a time, not a pause; resume lifts it" {
	make_store
	local now until
	now=$(date +%s)
	run -0 ac-queue pause crawl --for 1h --reason "rate limited"
	assert_eq "$(jq -c '[.paused, .hold_reason]' <<<"$output")" '[false,"rate limited"]' "a hold"
	until=$(epoch "$(jq -r .held_until <<<"$output")")
	((until >= now + 3590 && until <= now + 3700)) ||
		fail "held_until is $((until - now)) s from now, not about an hour"
	assert_eq "$(flow_field crawl hold_reason)" "rate limited" "show"
	run -0 ac-queue resume crawl
	assert_eq "$(jq -c '[.held_until, .hold_reason]' <<<"$output")" '[null,null]' "after resume"
}

@test "pause --key: the key is in keys_held; resume --key lifts only it; resume lifts every hold" {
	make_store
	local now until
	now=$(date +%s)
	run -0 ac-queue pause chat --key thread-1 --reason "slow down"
	assert_eq "$(jq -c '[.paused, .held_until, [.keys_held[] | [.key, .reason]]]' <<<"$output")" \
		'[false,null,[["thread-1","slow down"]]]' "a key hold"
	run -0 ac-queue pause chat --key thread-2 --for 10m
	assert_eq "$(jq -c '[.keys_held[].key]' <<<"$output")" '["thread-1","thread-2"]' "two keys held"
	until=$(epoch "$(jq -r '.keys_held[] | select(.key == "thread-2") | .until' <<<"$output")")
	((until >= now + 590 && until <= now + 700)) ||
		fail "thread-2 is held $((until - now)) s, not about 10 minutes"
	run -0 ac-queue resume chat --key thread-1
	assert_eq "$(jq -c '[.keys_held[].key]' <<<"$output")" '["thread-2"]' "after resume --key thread-1"
	run -0 ac-queue pause chat --reason all
	run -0 ac-queue resume chat
	assert_eq "$(jq -c '[.paused, .keys_held]' <<<"$output")" '[false,[]]' "after resume"
}

@test "a paused type is not claimed, running tasks go on; resume runs its tasks" {
	start_worker w1 --handler crawl=cat --handler gate="$H/gate.sh"
	local g id
	g=$(submit_async gate '{}')
	wait_file "$AC_TMP/started.$g"
	run -0 ac-queue pause gate
	run -0 ac-queue pause crawl --reason test
	assert_eq "$(task_status "$g")" running "a pause stops no running task"
	id=$(submit_async crawl '"x"')
	sleep 2
	assert_eq "$(task_status "$id")" queued "a task of a paused type stays queued"
	run -0 ac-queue resume crawl
	wait_status "$id" completed
	assert_eq "$(task_field "$id" result)" x "result"
}

@test "pause, hold and resume are events of the workers (ac-status --follow)" {
	start_worker w1 --heartbeat 1 --handler crawl=cat
	local log=$AC_TMP/follow.out
	setsid ac-status --follow --worker w1 >"$log" 2>"$AC_TMP/follow.err" </dev/null &
	AC_PIDS+=("$!")
	wait_until "$AC_WAIT" grep -q worker.heartbeat "$log" ||
		fail "no heartbeat followed: $(cat "$log" "$AC_TMP/follow.err")"
	ac-queue pause crawl --reason maintenance >/dev/null
	ac-queue pause crawl --key k1 --for 5m >/dev/null
	ac-queue resume crawl --key k1 >/dev/null
	ac-queue resume crawl >/dev/null
	wait_until "$AC_WAIT" eval '[ "$(grep -c "\"queue\." "$log")" -ge 4 ]' ||
		fail "queue events: $(grep queue "$log")"
	run -0 jq -c 'select(.event | startswith("queue.")) | [.event, .type, .reason, .key, (.until != null), .worker]' "$log"
	assert_eq "$output" '["queue.paused","crawl","maintenance",null,false,"w1"]
["queue.paused","crawl",null,"k1",true,"w1"]
["queue.resumed","crawl",null,"k1",false,"w1"]
["queue.resumed","crawl",null,null,false,"w1"]' "the events"
	jq -e 'select(.event | startswith("queue.")) | .ts | test("Z$")' "$log" >/dev/null ||
		fail "events have a ts"
}

@test "pause and resume with no live worker: no error" {
	make_store
	run -0 --separate-stderr ac-queue pause crawl --reason nobody
	assert_eq "$stderr" "" stderr
	run -0 --separate-stderr ac-queue resume crawl
	assert_eq "$stderr" "" stderr
}

# ---------------------------------------------------------------- failed

@test "failed lists the tasks that ended failed, newest first, as ac-status --tasks does" {
	start_worker w1 --handler bad="$H/fail.sh" --handler good=cat
	local a b
	a=$(failed_task)
	b=$(failed_task)
	run -0 ac_submit good <<<'{}'
	run -0 --separate-stderr ac-queue failed
	assert_eq "$stderr" "" stderr
	assert_eq "$(jq -c '[.[].id]' <<<"$output")" "[$b,$a]" "newest first"
	assert_eq "$(jq -r '.[0] | [.type, .status, .attempt] | @tsv' <<<"$output")" $'bad\tfailed\t1' "fields"
	assert_contains "$(jq -r '.[0].error' <<<"$output")" "deliberate failure of task $b" "error"
	jq -e '.[0] | has("finished") and has("worker") and has("data") and has("created")' \
		<<<"$output" >/dev/null || fail "a task object: $output"
	assert_eq "$(failed_ids --limit 1)" "[$b]" "--limit 1"
	assert_eq "$(failed_ids --limit 0)" "[$b,$a]" "--limit 0: all"
	run -0 ac-queue failed --table
	assert_match "$(head -n 1 <<<"$output")" '^ID +TYPE +STATUS' "--table"
}

@test "failed --type, --status, --since filter" {
	start_worker w1 --handler bad="$H/fail.sh" --handler bad2="$H/fail.sh"
	local a b c
	a=$(failed_task bad)
	b=$(failed_task bad2)
	c=$(submit_async nobody '{}')
	run -0 ac-cancel "$c"
	assert_eq "$(failed_ids --type bad)" "[$a]" "--type bad"
	assert_eq "$(failed_ids --type bad2)" "[$b]" "--type bad2"
	assert_eq "$(failed_ids --type nobody)" "[]" "a cancelled task is not in the default set"
	assert_eq "$(failed_ids --status cancelled)" "[$c]" "--status cancelled"
	assert_eq "$(failed_ids --status failed --status cancelled)" "[$c,$b,$a]" "two --status"
	assert_eq "$(failed_ids --status timeout)" "[]" "--status timeout"
	assert_eq "$(failed_ids --since 1h)" "[$b,$a]" "--since 1h"
	sleep 1.5
	assert_eq "$(failed_ids --since 500ms)" "[]" "--since 500ms"
}

# ---------------------------------------------------------------- requeue

@test "requeue ID runs a failed task again (attempt 2) and prints what it requeued" {
	start_worker w1 --handler once="$H/fail-once.sh"
	local id
	id=$(submit_async once '{}' --retries 0)
	wait_status "$id" failed
	run -0 --separate-stderr ac-queue requeue "$id"
	assert_eq "$stderr" "" stderr
	assert_eq "$output" "{\"requeued\":1,\"ids\":[$id]}" "printed"
	wait_status "$id" completed
	assert_eq "$(task_json "$id" | jq -c .result)" "{\"attempt\":2,\"task\":$id}" "its second attempt"
	assert_eq "$(task_field "$id" error)" null "error cleared"
	assert_eq "$(failed_ids)" "[]" "nothing failed any more"
}

@test "requeue by filter (--type, --since, --status) and --all" {
	start_worker w1 --handler once="$H/fail-once.sh" --handler bad="$H/fail.sh"
	local a b c x n
	a=$(failed_task once)
	b=$(failed_task once)
	x=$(failed_task bad)
	c=$(submit_async nobody '{}')
	run -0 ac-cancel "$c"
	run -0 ac-queue requeue --type once --since 1h
	assert_eq "$(jq -c '[.requeued, (.ids | sort)]' <<<"$output")" "[2,[$a,$b]]" "requeue --type once"
	wait_status "$a" completed
	wait_status "$b" completed
	assert_eq "$(task_status "$x")" failed "the other type stays failed"
	run -0 ac-queue requeue --type once
	assert_eq "$output" '{"requeued":0,"ids":[]}' "nothing left of type once"
	run -0 ac-queue requeue --status cancelled
	assert_eq "$output" "{\"requeued\":1,\"ids\":[$c]}" "--status cancelled"
	assert_eq "$(task_status "$c")" queued "the cancelled task is queued again"
	n=$(wc -l <"$AC_TMP/fail.log")
	run -0 ac-queue requeue --all
	assert_eq "$output" "{\"requeued\":1,\"ids\":[$x]}" "--all: every failed task"
	wait_until "$AC_WAIT" eval '[ "$(wc -l <"$AC_TMP/fail.log")" -gt "$n" ]' ||
		fail "the requeued task did not run again"
	wait_status "$x" failed
	assert_eq "$(task_field "$x" attempt)" 2 "attempt"
}

@test "requeue of a completed, queued or unknown task: exit 1, one line, nothing requeued" {
	start_worker w1 --handler bad="$H/fail.sh" --handler good=cat
	local f done q before
	f=$(failed_task)
	run -0 ac_submit good <<<'{}'
	done=$(ac-status --tasks --type good | jq '.[0].id')
	q=$(submit_async nobody '{}')
	before=$(task_counts)
	run -1 --separate-stderr ac-queue requeue "$f" "$done"
	assert_one_stderr_line ac-queue
	assert_contains "$stderr" "$done" "names the completed task"
	assert_eq "$output" "" stdout
	run -1 --separate-stderr ac-queue requeue "$f" "$q"
	assert_one_stderr_line ac-queue
	assert_contains "$stderr" "$q" "names the queued task"
	run -1 --separate-stderr ac-queue requeue "$f" 999999
	assert_one_stderr_line ac-queue
	assert_contains "$stderr" 999999 "names the unknown task"
	assert_eq "$(task_status "$f")" failed "the failed task was not requeued"
	assert_eq "$(task_counts)" "$before" "task counts"
}

# ---------------------------------------------------------------- prune

@test "prune --older-than removes ended tasks and keeps queued ones" {
	start_worker w1 --handler bad="$H/fail.sh" --handler good=cat
	local f g q
	f=$(failed_task)
	run -0 ac_submit good <<<'{}'
	g=$(ac-status --tasks --type good | jq '.[0].id')
	q=$(submit_async nobody '{}')
	run -0 ac-queue prune --older-than 1h
	assert_eq "$output" '{"pruned":0}' "nothing ended an hour ago"
	run -0 --separate-stderr ac-queue prune --older-than 0s --status failed
	assert_eq "$stderr" "" stderr
	assert_eq "$output" '{"pruned":1}' "--status failed"
	run -2 ac-status --task "$f"
	assert_eq "$(task_status "$g")" completed "the completed task stays"
	run -0 ac-queue prune --older-than 0s
	assert_eq "$output" '{"pruned":1}' "every ended task"
	run -2 ac-status --task "$g"
	assert_eq "$(task_status "$q")" queued "the queued task stays"
}
