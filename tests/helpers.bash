# shellcheck shell=bash
# Shared by every tests/*.bats file: `load helpers`.
#
# Each test gets its own temporary directory with AC_HOME, AC_STORE,
# XDG_STATE_HOME and HOME inside it (never the user's real home), starts its
# workers with start_worker, and the teardown kills everything it started.
# Waits are generous loops (up to 20 s by default); no assertion depends on
# how fast something happens.

bats_require_minimum_version 1.5.0

AC_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AC_ROOT=$(dirname "$AC_TESTS_DIR")
: "${AC_TEST_BIN:=bin}"
case $AC_TEST_BIN in
/*) AC_BIN=$AC_TEST_BIN ;;
*) AC_BIN=$AC_ROOT/$AC_TEST_BIN ;;
esac
# The binaries under test first, then bin/ for the `ac` dispatcher and other
# shell tools, then the test handlers.
H=$AC_TESTS_DIR/handlers
PATH=$AC_BIN:$AC_ROOT/bin:$H:$PATH
export PATH

COMMANDS="ac-worker ac-submit ac-status ac-drain ac-cancel ac-scale ac-queue ac-schedule ac-budget"
# How long any single wait may take before a test gives up.
: "${AC_WAIT:=20}"

ac_setup() {
	AC_TMP=$(mktemp -d /tmp/ac-t.XXXXXX)
	export AC_TEST_TMP=$AC_TMP
	export AC_HOME=$AC_TMP/home
	export AC_STORE=$AC_TMP/ac.db
	export XDG_STATE_HOME=$AC_TMP/xdg
	export HOME=$AC_TMP/userhome
	# temporary files of the commands (e.g. AC_CHECKPOINT files) stay in
	# the test's directory
	export TMPDIR=$AC_TMP/tmp
	mkdir -p "$HOME" "$TMPDIR"
	unset AC_TOKEN
	AC_PIDS=()
}

setup() {
	ac_setup
}

teardown() {
	ac_teardown
}

# ours PID: the process belongs to this test (its environment has this
# test's AC_TEST_TMP): a pid that was reused by another process is never
# signalled.
ours() {
	[ -n "$1" ] && grep -qzx -- "AC_TEST_TMP=$AC_TMP" "/proc/$1/environ" 2>/dev/null
}

# signal_ours SIGNAL PID...: the process and its process group, if ours.
signal_ours() {
	local sig=$1 p
	shift
	for p in "$@"; do
		ours "$p" || continue
		kill "-$sig" -- "-$p" 2>/dev/null
		kill "-$sig" "$p" 2>/dev/null
	done
}

# Kill every process this test started: workers (TERM, then KILL after a
# few seconds), their process groups, every process of their sessions
# (handlers run in process groups of their own), and handler pids the test
# handlers recorded -- each only while it is still this test's.
ac_teardown() {
	local pid p end extra=()
	set +e

	[ -n "${AC_TMP:-}" ] || return 0
	signal_ours TERM "${AC_PIDS[@]}"
	end=$((SECONDS + 5))
	for pid in "${AC_PIDS[@]}"; do
		while pid_alive "$pid" && ours "$pid" && ((SECONDS < end)); do
			sleep 0.1
		done
	done
	if [ -f "$AC_TMP/handler.pids" ]; then
		while read -r p; do
			[ -n "$p" ] && extra+=("$p")
		done <"$AC_TMP/handler.pids"
	fi
	# Handlers left in the workers' sessions (each worker is a session
	# leader: see start_worker).
	if ((${#AC_PIDS[@]})); then
		local sid_re
		sid_re=" ($(IFS='|'; echo "${AC_PIDS[*]}"))\$"
		while read -r p; do
			extra+=("$p")
		done < <(ps -e -o pid=,sid= 2>/dev/null | grep -E "$sid_re" |
			awk '{print $1}')
	fi
	signal_ours KILL "${AC_PIDS[@]}" "${extra[@]}"
	for pid in "${AC_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	# A sanitizer report in a worker's log fails the test (the ASan pass).
	local reports rc=0
	reports=$(grep -lE 'ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer' \
		"$AC_TMP"/*.log 2>/dev/null)
	if [ -n "$reports" ]; then
		for p in $reports; do
			echo "# sanitizer report in $(basename "$p"):" >&2
			sed 's/^/#   /' "$p" >&2
		done
		rc=1
	fi
	chmod -R u+rwX "$AC_TMP" 2>/dev/null
	rm -rf "$AC_TMP"
	return $rc
}

# pid_alive PID: the process exists and is not a zombie (bash builtins
# only: it is polled often).
pid_alive() {
	local st
	[ -n "$1" ] && read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# sanitizer_tripped: a worker of this test logged an ASan/UBSan report (it
# has aborted: waiting for it is pointless).
sanitizer_tripped() {
	grep -qsE 'ERROR: AddressSanitizer|runtime error:' "$AC_TMP"/*.log
}

# wait_until SECONDS CMD...: run CMD every 0.1 s until it succeeds; 1 when
# the time runs out, or at once when a worker tripped a sanitizer.
wait_until() {
	local t=$1 end n=0
	shift
	end=$((SECONDS + t))
	until "$@"; do
		((SECONDS < end)) || return 1
		if ((++n % 10 == 0)) && sanitizer_tripped; then
			echo "# a worker tripped a sanitizer; not waiting for: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# wait_gone PID [SECONDS]: until the process is gone (or a zombie).
wait_gone() {
	local pid=$1 end=$((SECONDS + ${2:-$AC_WAIT}))
	while pid_alive "$pid"; do
		((SECONDS < end)) || return 1
		sleep 0.1
	done
}

# ---------------------------------------------------------------- workers

# start_worker ID ARGS...: `ac-worker --id ID ARGS...` in the background, in
# a session of its own, logging to $AC_TMP/ID.log; waits until
# `ac-status --workers` lists it with its pid.  Fails (showing the log) when
# the worker exits or does not show up within AC_WAIT seconds.
start_worker() {
	local id=$1 pid log end
	shift
	log=$AC_TMP/$id.log
	echo "--- ac-worker --id $id $*" >>"$log"
	# setsid execs in place (a background job is no group leader), so $!
	# is the worker's own pid.
	# env --default-signal: a background job of a script starts with SIGINT
	# ignored; a worker started by hand has it at its default.
	setsid env --default-signal=INT,QUIT ac-worker --id "$id" "$@" \
		</dev/null >>"$log" 2>&1 3>&- &
	pid=$!
	AC_PIDS+=("$pid")
	echo "$pid" >"$AC_TMP/$id.pid"
	end=$((SECONDS + AC_WAIT))
	until worker_listed "$id" "$pid"; do
		if ! pid_alive "$pid"; then
			local rc=0
			wait "$pid" || rc=$?
			echo "# ac-worker $id exited ($rc) before registering; log:" >&2
			sed 's/^/#   /' "$log" >&2
			return 1
		fi
		if ((SECONDS >= end)); then
			echo "# ac-worker $id (pid $pid) not in ac-status --workers after ${AC_WAIT}s; log:" >&2
			sed 's/^/#   /' "$log" >&2
			ac-status --workers >&2
			return 1
		fi
		sleep 0.1
	done
}

# worker_listed ID PID: listed by ac-status --workers with that pid, alive.
worker_listed() {
	# -n with input: no output at all (no store yet) is a failure, not
	# jq's "nothing false seen".
	ac-status --workers --json 2>/dev/null | jq -en --arg id "$1" \
		--argjson pid "$2" 'input | any(.[]; .id == $id and .pid == $pid and
		(.status == "idle" or .status == "busy" or
		 .status == "draining"))' >/dev/null 2>&1
}

worker_pid() {
	cat "$AC_TMP/$1.pid"
}

worker_log() {
	cat "$AC_TMP/$1.log"
}

# worker_field ID FIELD: one field of the worker in ac-status --workers
# (jq -r; a JSON value for arrays and objects).
worker_field() {
	ac-status --workers --json | jq -r --arg id "$1" \
		".[] | select(.id == \$id) | .$2"
}

# worker_field_is ID FIELD VALUE
worker_field_is() {
	[ "$(worker_field "$1" "$2" 2>/dev/null)" = "$3" ]
}

# stop_worker ID [SIGNAL]: signal the worker (default TERM) and wait for its
# exit; returns its exit status (124 when it did not exit in time).
stop_worker() {
	local pid
	pid=$(worker_pid "$1")
	kill -s "${2:-TERM}" "$pid"
	wait_exit "$pid"
}

# wait_exit PID [SECONDS]: the exit status of a background child of this
# shell, or 124 when it is still running after SECONDS.  Not under `run`
# (a subshell cannot wait for its parent's children): use
#   rc=0; wait_exit "$pid" || rc=$?
wait_exit() {
	wait_gone "$1" "${2:-$AC_WAIT}" || return 124
	wait "$1"
}

# ---------------------------------------------------------------- postgres

# pg_test_db: this test's store is a new database on the PostgreSQL server
# tests/run.sh started (AC_TEST_PG_URL), made the default store of every
# command (AC_STORE); the test is skipped when there is no server or no
# psql.  pg_test_db_drop (from the teardown) drops it.
pg_test_db() {
	[ -n "${AC_TEST_PG_URL:-}" ] ||
		skip "no PostgreSQL server: AC_TEST_PG_URL is unset (tests/run.sh starts one unless AC_TEST_PG=0)"
	command -v psql >/dev/null 2>&1 ||
		skip "psql is not installed (apt-get install postgresql-client)"
	PG_DB=ac_t${BATS_TEST_NUMBER}_$$_$RANDOM
	psql "$AC_TEST_PG_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PG_DB\"" ||
		fail "cannot create database $PG_DB"
	export AC_STORE=${AC_TEST_PG_URL%/*}/$PG_DB
}

pg_test_db_drop() {
	[ -n "${PG_DB:-}" ] || return 0
	psql "$AC_TEST_PG_URL" -X -q -v ON_ERROR_STOP=1 \
		-c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" \
		>/dev/null 2>&1 || echo "# could not drop database $PG_DB" >&2
}

# ---------------------------------------------------------------- tasks

# ac_submit ARGS...: ac-submit under a safety timeout (AC_SUBMIT_TIMEOUT,
# default 60 s, then exit 124), which also gives up (exit 125) as soon as a
# worker of this test that was alive at the start dies (a crash, say a
# sanitizer abort), rather than waiting for a task nobody will run.
ac_submit() {
	local p pid rc=0 alive=()
	for p in "${AC_PIDS[@]}"; do
		pid_alive "$p" && alive+=("$p")
	done
	timeout -k 5 "${AC_SUBMIT_TIMEOUT:-60}" ac-submit "$@" <&0 &
	pid=$!
	while pid_alive "$pid"; do
		for p in "${alive[@]}"; do
			if ! pid_alive "$p"; then
				sleep 1
				pid_alive "$pid" || break 2
				echo "# ac_submit: worker pid $p died while ac-submit waited; giving up" >&2
				kill -TERM "$pid" 2>/dev/null
				wait "$pid"
				return 125
			fi
		done
		sleep 0.1
	done
	wait "$pid" || rc=$?
	return $rc
}

# submit_async TYPE DATA [OPTIONS...]: prints the new task id.
submit_async() {
	local type=$1 data=$2
	shift 2
	printf '%s\n' "$data" | ac-submit --async "$@" "$type"
}

task_json() {
	ac-status --task "$1" --json
}

# task_field ID FIELD: jq -r .FIELD of ac-status --task ID.
task_field() {
	ac-status --task "$1" --json | jq -r ".$2"
}

task_status() {
	task_field "$1" status
}

status_is() {
	[ "$(task_status "$1" 2>/dev/null)" = "$2" ]
}

# task_field_is ID FIELD VALUE
task_field_is() {
	[ "$(task_field "$1" "$2" 2>/dev/null)" = "$3" ]
}

task_field_isnt() {
	! task_field_is "$@"
}

# summary_is JQ-FILTER VALUE: of the ac-status summary, e.g.
# summary_is .tasks.completed 41
summary_is() {
	[ "$(ac-status --json 2>/dev/null | jq -r "$1")" = "$2" ]
}

# lines_are FILE N: FILE has N lines.
lines_are() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -eq "$2" ]
}

# wait_status ID STATUS [SECONDS]
wait_status() {
	if ! wait_until "${3:-$AC_WAIT}" status_is "$1" "$2"; then
		echo "# task $1: wanted status $2, have: $(task_json "$1" 2>&1)" >&2
		return 1
	fi
}

# wait_file PATH [SECONDS]
wait_file() {
	wait_until "${2:-$AC_WAIT}" test -e "$1"
}

# task_counts: the task counts of the summary, as compact JSON.
task_counts() {
	ac-status --json | jq -c .tasks
}

# total_tasks: the number of tasks in the store.
total_tasks() {
	ac-status --json | jq '[.tasks[]] | add'
}

# make_store: create the store (one queued task of type "seed") so that
# ac-status can read it.
make_store() {
	submit_async seed '{}' >/dev/null
}

# ---------------------------------------------------------------- asserts

fail() {
	echo "# $*" >&2
	return 1
}

# assert_eq GOT WANT [WHAT]
assert_eq() {
	if [ "$1" != "$2" ]; then
		printf '# %s\n#   expected: %s\n#   got:      %s\n' \
			"${3:-value}" "$2" "$1" >&2
		return 1
	fi
}

# assert_match STRING REGEX [WHAT]
assert_match() {
	if ! [[ $1 =~ $2 ]]; then
		printf '# %s\n#   expected to match: %s\n#   got: %s\n' \
			"${3:-value}" "$2" "$1" >&2
		return 1
	fi
}

# assert_contains STRING SUBSTRING [WHAT]
assert_contains() {
	if [[ $1 != *"$2"* ]]; then
		printf '# %s\n#   expected to contain: %s\n#   got: %s\n' \
			"${3:-value}" "$2" "$1" >&2
		return 1
	fi
}

# assert_one_stderr_line PROG: $stderr (from run --separate-stderr) is one
# line starting with "PROG: ".
assert_one_stderr_line() {
	local n
	n=$(printf '%s' "$stderr" | grep -c '')
	if [ "$n" -ne 1 ] || [[ $stderr != "$1: "* ]]; then
		printf '# expected one stderr line starting with "%s: ", got %s line(s):\n' \
			"$1" "$n" >&2
		printf '%s\n' "$stderr" | sed 's/^/#   /' >&2
		return 1
	fi
}

# assert_usage_error PROG: $stderr is "PROG: ..." plus at most a hint line
# "usage: ..." (docs/cli.md: unknown option or missing argument).
assert_usage_error() {
	local n first second
	n=$(printf '%s' "$stderr" | grep -c '')
	first=$(printf '%s\n' "$stderr" | sed -n 1p)
	second=$(printf '%s\n' "$stderr" | sed -n 2p)
	if [[ $first != "$1: "* ]] || [ "$n" -gt 2 ] ||
		{ [ "$n" -eq 2 ] && [[ $second != "usage: "* ]]; }; then
		printf '# expected "%s: ..." then at most a "usage: ..." line, got:\n' \
			"$1" >&2
		printf '%s\n' "$stderr" | sed 's/^/#   /' >&2
		return 1
	fi
}

# as_nobody CMD...: run CMD as user nobody (root ignores file modes, so the
# tests of unwritable stores need an unprivileged user).  The test's
# temporary directory is opened up for reading; nobody gets an AC_HOME of
# its own.
as_nobody() {
	chmod 0755 "$AC_TMP"
	mkdir -p "$AC_TMP/nobody-home"
	chmod 0777 "$AC_TMP/nobody-home"
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
		env HOME="$AC_TMP/nobody-home" AC_HOME="$AC_TMP/nobody-home/ac" \
		"$@"
}

# can_drop_root: 0 when running as root and setpriv can run as nobody.
can_drop_root() {
	[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 &&
		setpriv --reuid=nobody --regid=nogroup --clear-groups -- true \
			2>/dev/null
}
