#!/usr/bin/env bats
# The EXAMPLES of every man page run, as a reader would run them: each
# page's examples in order, in one sandbox (this test's AC_HOME, AC_STORE
# and HOME), in a directory that holds the files they name (doc.json,
# docs.json, site.json, turn.json), with live workers started by the
# page's fixture below and the tasks they name (task 17, worker-3) made
# real.  Each example is one bash script run with errexit and pipefail, so
# every command in it must succeed and the last one must exit with the
# example's status.
#
# A roff comment line before an example's .EX says how to run it:
#   .\" example: exit=N         it exits N (default 0)
#   .\" example: interrupt      it runs until interrupted: once it runs (a
#                               worker it starts is up, else after 2 s, and
#                               1 s more) the test sends SIGINT to its
#                               process group, as Ctrl-C would; it must
#                               still be running then, and its exit status
#                               is checked as above
#   .\" example: background     it runs until interrupted, as above, but
#                               alongside the examples after it ("from
#                               another terminal"): it is interrupted after
#                               the last example, unless one of them ended
#                               it, and its status is checked then
#   .\" example: file=PATH      it is the text of a file (a handler): the
#                               test writes it to PATH, executable, and
#                               checks its syntax; the page's fixture runs it
#   .\" example: skip: REASON   not run; the reason is printed
# Processes an example leaves behind (a worker started with &) are stopped
# after it, by the pids of its session; at the end of the page, every
# process of this test outside its own session (a daemon, say) is stopped.  AC_EXAMPLES_VERBOSE=1 prints each
# example with its output.

load helpers

# How long one example may take.
: "${AC_EXAMPLE_TIMEOUT:=90}"

# ---------------------------------------------------------------- running

# extract_examples PAGE DIR: DIR/N.sh (the text of example N, roff
# unescaped) and DIR/N.opts (its "example:" line), N from 1; prints N.
extract_examples() {
	local page=$1 dir=$2 n
	mkdir -p "$dir"
	awk -v dir="$dir" '
		/^\.SH / { in_ex = ($0 ~ /^\.SH "?EXAMPLES"?$/); next }
		!in_ex { next }
		/^\.\\" example:/ { sub(/^\.\\" example: */, ""); opts = $0; next }
		/^\.EX/ { n++; blk = 1; f = dir "/" n ".sh"; printf "" > f
			print opts > (dir "/" n ".opts"); close(dir "/" n ".opts")
			opts = ""; next }
		/^\.EE/ { blk = 0; close(f); next }
		blk { print > f }
		END { print n + 0 }' "$page" >"$dir/count"
	for ((n = 1; n <= $(cat "$dir/count"); n++)); do
		sed -i 's/\\-/-/g; s/\\e/\\/g; s/\\(aq/'"'"'/g; s/\\(dq/"/g; s/\\(ha/^/g; s/\\&//g; s/\\%//g' \
			"$dir/$n.sh"
	done
	cat "$dir/count"
}

# session_pids SID: the processes of session SID.
session_pids() {
	ps -e -o pid=,sid= 2>/dev/null | awk -v s="$1" '$2 == s { print $1 }'
}

# stop_session SID: TERM every process of the session that is still this
# test's (ours), wait for them (workers drain), KILL what is left.
stop_session() {
	local sid=$1 p end
	for p in $(session_pids "$sid"); do
		{ ours "$p" && kill -TERM "$p"; } 2>/dev/null || true
	done
	end=$((SECONDS + 15))
	while [ -n "$(session_pids "$sid")" ] && ((SECONDS < end)); do
		sleep 0.1
	done
	for p in $(session_pids "$sid"); do
		{ ours "$p" && kill -KILL "$p"; } 2>/dev/null || true
	done
	return 0
}

# session_worker_up SID: a worker of session SID has written its discovery
# file.
session_worker_up() {
	local sid=$1 f pid st fields
	for f in "$AC_HOME"/workers/*.json; do
		[ -f "$f" ] || continue
		pid=$(jq -r .pid "$f" 2>/dev/null) || continue
		read -r st 2>/dev/null <"/proc/$pid/stat" || continue
		# after "(comm) ": state ppid pgrp session ...
		read -r -a fields <<<"${st##*) }"
		[ "${fields[3]}" = "$sid" ] && return 0
	done
	return 1
}

# run_example PAGE N DIR: run example N of PAGE (extracted in DIR) in the
# work directory; 0 when it behaved as its "example:" line says, else 1
# with its script and output on stderr.
run_example() {
	local page=$1 n=$2 dir=$3 opts want=0 interrupt=0 background=0 file='' o pid rc
	opts=$(cat "$dir/$n.opts")
	local what="$page example $n"
	case $opts in
	skip:*)
		echo "# $what: skipped:${opts#skip:}" >&3
		return 0
		;;
	esac
	for o in $opts; do
		case $o in
		exit=*) want=${o#exit=} ;;
		interrupt) interrupt=1 ;;
		background) interrupt=1 background=1 ;;
		file=*) file=${o#file=} ;;
		*) fail "$what: unknown word '$o' on its example: line" || return 1 ;;
		esac
	done
	if [ -n "$file" ]; then
		file=${file/#\~/$HOME}
		mkdir -p "$(dirname "$file")"
		cp "$dir/$n.sh" "$file"
		chmod +x "$file"
		sh -n "$file" || fail "$what: $file is not valid shell" || return 1
		echo "# $what: written to $file" >&3
		return 0
	fi
	# One line before the example, so that its line N is line N + 1.  With
	# "trap : INT", bash waits for the interrupted command and goes on
	# with its status (its own SIGINT would end it regardless).
	{
		printf '%s' 'set -eo pipefail; shopt -s inherit_errexit; '
		printf '%s' 'trap '\''echo "example: line $((LINENO - 1)): exit $?: $BASH_COMMAND" >&2'\'' ERR'
		((interrupt)) && printf '%s' '; trap : INT'
		echo
		cat "$dir/$n.sh"
	} >"$dir/$n.run"
	(cd "$WORK" && exec setsid env --default-signal=INT,QUIT bash "$dir/$n.run" \
		</dev/null >"$dir/$n.out" 2>"$dir/$n.err") &
	pid=$!
	AC_PIDS+=("$pid")
	rc=0
	if ((interrupt)); then
		# Running: when it starts workers (its text runs ac-worker or
		# ac-scale), once one of them is up, else after 2 s; then 1 s more
		# for what follows them.  setsid execs in place: pid is the
		# session (and process group) id.
		if grep -qE '(^|[^-[:alnum:]])ac-(worker|scale)([^-[:alnum:]]|$)' "$dir/$n.sh"; then
			local end=$((SECONDS + AC_WAIT))
			until session_worker_up "$pid" || ((SECONDS >= end)); do
				pid_alive "$pid" || break
				sleep 0.1
			done
		else
			sleep 2
		fi
		sleep 1
		if ! pid_alive "$pid"; then
			wait "$pid" || rc=$?
			example_failed "$what ended (exit $rc) before it was interrupted" "$dir" "$n"
			return 1
		fi
		if ((background)); then
			BACKGROUND+=("$pid $n $want")
			echo "# $what: running on beside the next examples" >&3
			return 0
		fi
		kill -INT -- "-$pid"
	fi
	finish_example "$page" "$n" "$dir" "$pid" "$want"
}

# finish_example PAGE N DIR PID WANT: wait for example N (pid PID) to end,
# stop what it left, check its status is WANT.
finish_example() {
	local page=$1 n=$2 dir=$3 pid=$4 want=$5 rc=0 what="$1 example $2"
	wait_exit "$pid" "$AC_EXAMPLE_TIMEOUT" || rc=$?
	if [ "$rc" = 124 ] && pid_alive "$pid"; then
		stop_session "$pid"
		example_failed "$what still ran after ${AC_EXAMPLE_TIMEOUT}s" "$dir" "$n"
		return 1
	fi
	stop_session "$pid"
	if [ "$rc" != "$want" ]; then
		example_failed "$what exited $rc, its documented status is $want" "$dir" "$n"
		return 1
	fi
	echo "# $what: exit $rc as documented" >&3
	if [ -n "${AC_EXAMPLES_VERBOSE:-}" ]; then
		sed 's/^/#   $ /' "$dir/$n.sh" >&3
		sed 's/^/#   /' "$dir/$n.out" "$dir/$n.err" >&3
	fi
}

example_failed() {
	{
		echo "# $1"
		echo "# --- the example:"
		sed 's/^/#   /' "$2/$3.sh"
		echo "# --- stdout:"
		sed 's/^/#   /' "$2/$3.out"
		echo "# --- stderr:"
		sed 's/^/#   /' "$2/$3.err"
	} >&2
}

# run_page PAGE: extract PAGE's examples, run its fixture (fixture_NAME,
# NAME the page's file name with - and . as _), then every example in
# order, then its after_NAME check when there is one.
run_page() {
	local page=$AC_ROOT/man/$1 dir=$AC_TMP/examples/$1 count n name rc
	WORK=$AC_TMP/work
	mkdir -p "$WORK"
	count=$(extract_examples "$page" "$dir")
	[ "$count" -gt 0 ] || fail "$1 has no EXAMPLES" || return 1
	name=$(tr .- __ <<<"$1")
	files
	if declare -F "fixture_$name" >/dev/null; then
		"fixture_$name" || fail "the fixture of $1 failed" || return 1
	else
		fixture_default || fail "the default fixture failed" || return 1
	fi
	BACKGROUND=()
	for ((n = 1; n <= count; n++)); do
		run_example "$1" "$n" "$dir" || return 1
	done
	local bg pid want
	for bg in "${BACKGROUND[@]}"; do
		read -r pid n want <<<"$bg"
		pid_alive "$pid" && kill -INT -- "-$pid"
		finish_example "$1" "$n" "$dir" "$pid" "$want" || return 1
	done
	if declare -F "after_$name" >/dev/null; then
		"after_$name" || return 1
	fi
	stop_strays
}

# stop_strays: TERM every process of this test (its environment has this
# test's AC_TEST_TMP) outside the test's own session, wait up to 15 s for
# them, then KILL what is left.  It reaches what detached itself from an
# example's session (a daemon).
stop_strays() {
	local me p end left
	me=$(ps -o sid= -p $$ | tr -d ' ')
	strays() {
		local d p sid
		for d in /proc/[0-9]*; do
			p=${d#/proc/}
			ours "$p" || continue
			sid=$(ps -o sid= -p "$p" 2>/dev/null | tr -d ' ')
			[ -n "$sid" ] && [ "$sid" != "$me" ] && pid_alive "$p" && echo "$p"
		done
		return 0
	}
	for p in $(strays); do
		kill -TERM "$p" 2>/dev/null || true
	done
	end=$((SECONDS + 15))
	left=$(strays)
	while [ -n "$left" ] && ((SECONDS < end)); do
		sleep 0.2
		left=$(strays)
	done
	for p in $left; do
		kill -KILL "$p" 2>/dev/null || true
	done
	return 0
}

# ---------------------------------------------------------------- fixtures

# The files the examples name, in the work directory.
files() {
	cd "$WORK" || return 1
	echo '{"page_count":21,"title":"Annual report"}' >doc.json
	echo '[{"page_count":3},{"page_count":5},{"page_count":8}]' >docs.json
	echo '{"url":"https://www.example.com/","depth":2}' >site.json
	echo '{"thread":"thread-4711","text":"Hello there. How are you?"}' >turn.json
}

# handlers DIR: the handlers of the task types the examples name, in DIR.
# crawl is quick unless SLOW_CRAWL=1 (then it takes a minute).
handlers() {
	local d=$1
	mkdir -p "$d"
	cp "$AC_ROOT/examples/handlers/process_document" "$AC_ROOT/examples/handlers/generate_summary" "$d/"
	printf '#!/bin/sh\nexec jq -c length\n' >"$d/count"
	printf '#!/bin/sh\nexec tr a-z A-Z\n' >"$d/upper"
	printf '#!/bin/sh\nexec jq -c "{reply: \\"Fine, thanks.\\", thread}"\n' >"$d/chat"
	if [ "${SLOW_CRAWL:-0}" = 1 ]; then
		printf '#!/bin/sh\ncat >/dev/null\nexec sleep 60\n' >"$d/crawl"
	else
		printf '#!/bin/sh\nexec jq -c "{url, pages: 3}"\n' >"$d/crawl"
	fi
	# Fails the first attempt of each task, then echoes its data.
	cat >"$d/flaky" <<-'EOF'
		#!/bin/sh
		m=$AC_TEST_TMP/flaky.$AC_TASK_ID
		if [ ! -e "$m" ]; then
			: >"$m"
			echo "flaky: the first attempt fails" >&2
			exit 1
		fi
		cat
	EOF
	chmod +x "$d"/*
}

# tasks_until_17 TYPE DATA: submit tasks of TYPE until the next one is
# task 17 (the examples name task 17).
tasks_until_17() {
	local id=0
	while ((id < 16)); do
		id=$(printf '%s\n' "$2" | ac-submit --async "$1") || return 1
	done
	[ "$id" = 16 ] || fail "task ids: the 16th task is $id" || return 1
}

# submit_17 TYPE DATA: submit task 17.
submit_17() {
	local id
	id=$(printf '%s\n' "$2" | ac-submit --async "$1") || return 1
	[ "$id" = 17 ] || fail "task ids: wanted 17, got $id" || return 1
}

fixture_default() {
	handlers "$AC_TMP/h"
	start_worker worker-1 --handlers "$AC_TMP/h"
}

# ac-worker(1) starts its own workers.
fixture_ac_worker_1() {
	:
}

# The handler of example 5 (~/handlers/steps) does ten steps and resumes
# from a checkpoint; its "sleep 5" is made instant here.
after_ac_worker_1() {
	local shim=$AC_TMP/shim out
	mkdir -p "$shim"
	printf '#!/bin/sh\nexit 0\n' >"$shim/sleep"
	chmod +x "$shim/sleep"
	out=$(PATH=$shim:$PATH "$HOME/handlers/steps" </dev/null 3>"$AC_TMP/fd3")
	assert_eq "$out" '{"steps":10}' "steps from the start" || return 1
	assert_eq "$(tail -n 1 "$AC_TMP/fd3")" '{"checkpoint":{"step":10}}' "its last checkpoint" || return 1
	assert_eq "$(wc -l <"$AC_TMP/fd3")" 10 "checkpoints from the start" || return 1
	echo '{"step":7}' >"$AC_TMP/cp.json"
	out=$(PATH=$shim:$PATH AC_CHECKPOINT=$AC_TMP/cp.json "$HOME/handlers/steps" </dev/null 3>"$AC_TMP/fd3")
	assert_eq "$out" '{"steps":10}' "steps resumed from step 7" || return 1
	assert_eq "$(wc -l <"$AC_TMP/fd3")" 3 "checkpoints after resuming at step 7"
}

# Workers for every type, one of them offering the tag gpu; task 17 has
# failed (its handler fails only its first attempt, so --retry 17 completes).
fixture_ac_submit_1() {
	handlers "$AC_TMP/h"
	start_worker worker-1 --handlers "$AC_TMP/h" --concurrency 4 || return 1
	start_worker gpu-1 --tag gpu --handlers "$AC_TMP/h" --concurrency 2 || return 1
	tasks_until_17 upper '"filler"' || return 1
	submit_17 flaky '{"n":17}' || return 1
	wait_status 17 failed
}

# worker-1 runs count and process_document; task 17 is a count task that
# failed.
fixture_ac_status_1() {
	handlers "$AC_TMP/h"
	start_worker worker-1 --handlers "$AC_TMP/h" || return 1
	tasks_until_17 count '[1,2,3]' || return 1
	submit_17 count 'true' || return 1
	wait_status 17 failed
}

fixture_ac_drain_1() {
	handlers "$AC_TMP/h"
	start_worker worker-1 --handlers "$AC_TMP/h" || return 1
	start_worker worker-3 --handlers "$AC_TMP/h"
}

# One worker that crawls one site at a time, for a minute; tasks 17 to 21
# are crawls (17 running, the others queued).
fixture_ac_cancel_1() {
	SLOW_CRAWL=1 handlers "$AC_TMP/h"
	start_worker worker-1 --handlers "$AC_TMP/h" --concurrency 1 || return 1
	tasks_until_17 seed '{}' || return 1
	submit_17 crawl "$(cat "$WORK/site.json")" || return 1
	local i
	for i in 18 19 20 21; do
		ac-submit --async crawl "$WORK/site.json" >/dev/null || return 1
	done
	wait_status 17 running
}

# worker-3 runs count; task 17 is queued (no worker runs its type).
fixture_ac_1() {
	handlers "$AC_TMP/h"
	start_worker worker-3 --handlers "$AC_TMP/h" || return 1
	tasks_until_17 seed '{}' || return 1
	submit_17 seed '{}'
}

# ac-scale(1): its examples name examples/handlers, as in the source tree.
fixture_ac_scale_1() {
	mkdir -p "$WORK/examples"
	cp -R "$AC_ROOT/examples/handlers" "$WORK/examples/"
}

# ---------------------------------------------------------------- tests

@test "ac(1) EXAMPLES run" {
	run_page ac.1
}

@test "ac-worker(1) EXAMPLES run" {
	run_page ac-worker.1
}

@test "ac-submit(1) EXAMPLES run" {
	run_page ac-submit.1
}

@test "ac-status(1) EXAMPLES run" {
	run_page ac-status.1
}

@test "ac-drain(1) EXAMPLES run" {
	run_page ac-drain.1
}

@test "ac-cancel(1) EXAMPLES run" {
	run_page ac-cancel.1
}

@test "ac-scale(1) EXAMPLES run" {
	[ -f "$AC_ROOT/man/ac-scale.1" ] || skip "man/ac-scale.1 is not here yet (it lands with ac-scale)"
	run_page ac-scale.1
}

@test "ac-budget(1) EXAMPLES run" {
	run_page ac-budget.1
}

# A page added later runs with the default fixture
# until it gets a test and a fixture of its own above.
@test "the EXAMPLES of every other man page run" {
	local page others=()
	for page in "$AC_ROOT"/man/*.1; do
		page=$(basename "$page")
		grep -q "^@test \"${page%.1}(1) EXAMPLES run\"" "$BATS_TEST_FILENAME" && continue
		grep -q '^\.SH EXAMPLES' "$AC_ROOT/man/$page" || continue
		others+=("$page")
	done
	if ((${#others[@]} == 0)); then
		echo "# every page with EXAMPLES has a test of its own" >&3
		return 0
	fi
	for page in "${others[@]}"; do
		run_page "$page" || return 1
		ac_teardown
		ac_setup
	done
}
