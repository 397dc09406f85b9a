#!/usr/bin/env bats
# The command-line conventions of docs/cli.md, common to every command:
# -h/--help, --version, unknown options and missing arguments, long options
# documented in the man pages and the bash completion, the store URL
# (--store, $AC_STORE, $AC_HOME, $XDG_STATE_HOME, ~/.local/state/ac), and
# the `ac` dispatcher.

load helpers

# ---------------------------------------------------------------- helpers

check_help() {
	local cmd=$1 opt=$2
	run -0 --separate-stderr "$cmd" "$opt"
	assert_match "$output" '[Uu]sage:' "$cmd $opt prints usage on stdout"
	assert_contains "$output" "$cmd" "$cmd $opt names the command"
	assert_eq "$stderr" "" "$cmd $opt writes nothing on stderr"
}

check_version() {
	local cmd=$1
	run -0 --separate-stderr "$cmd" --version
	assert_eq "$output" "$cmd 0.1.0" "$cmd --version"
}

check_unknown_option() {
	local cmd=$1
	run -2 --separate-stderr "$cmd" --no-such-option
	assert_usage_error "$cmd"
	assert_contains "$stderr" "no-such-option" "the message names the option"
	assert_eq "$output" "" "nothing on stdout"
}

# long_options CMD: the long options CMD --help lists, one a line.
long_options() {
	"$1" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# option_in FILE OPT: OPT appears as a whole option in FILE (roff's \- read
# as -).
option_in() {
	sed 's/\\-/-/g; s/\\(em/ /g' "$1" |
		grep -qE -- "(^|[^A-Za-z0-9-])$2([^A-Za-z0-9-]|\$)"
}

check_documented() {
	local cmd=$1 opt missing=() page=$AC_ROOT/man/$1.1
	local comp=$AC_ROOT/completions/ac.bash
	[ -f "$page" ] || fail "man page $page missing" || return 1
	[ -f "$comp" ] || fail "completion $comp missing" || return 1
	run -0 long_options "$cmd"
	[ -n "$output" ] || fail "$cmd --help lists no long option" || return 1
	for opt in $output; do
		option_in "$page" "$opt" || missing+=("$opt not in man/$cmd.1")
		option_in "$comp" "$opt" || missing+=("$opt not in completions/ac.bash")
	done
	if ((${#missing[@]})); then
		printf '# %s\n' "${missing[@]}" >&2
		return 1
	fi
}

# ---------------------------------------------------------------- ac-worker

@test "ac-worker -h prints usage and exits 0" {
	check_help ac-worker -h
}

@test "ac-worker --help prints usage and exits 0" {
	check_help ac-worker --help
}

@test "ac-worker --version prints 'ac-worker 0.1.0'" {
	check_version ac-worker
}

@test "ac-worker unknown option: exit 2, 'ac-worker: ...' on stderr" {
	check_unknown_option ac-worker
}

@test "ac-worker missing option argument: exit 2" {
	run -2 --separate-stderr ac-worker --handler echo=cat --concurrency
	assert_usage_error ac-worker
}

@test "ac-worker long options are in man/ac-worker.1 and completions/ac.bash" {
	check_documented ac-worker
}

# ---------------------------------------------------------------- ac-submit

@test "ac-submit -h prints usage and exits 0" {
	check_help ac-submit -h
}

@test "ac-submit --help prints usage and exits 0" {
	check_help ac-submit --help
}

@test "ac-submit --version prints 'ac-submit 0.1.0'" {
	check_version ac-submit
}

@test "ac-submit unknown option: exit 2, 'ac-submit: ...' on stderr" {
	check_unknown_option ac-submit
}

@test "ac-submit missing option argument: exit 2" {
	run -2 --separate-stderr ac-submit echo --priority
	assert_usage_error ac-submit
}

@test "ac-submit without TYPE: exit 2" {
	run -2 --separate-stderr ac-submit </dev/null
	assert_usage_error ac-submit
}

@test "ac-submit long options are in man/ac-submit.1 and completions/ac.bash" {
	check_documented ac-submit
}

# ---------------------------------------------------------------- ac-status

@test "ac-status -h prints usage and exits 0" {
	check_help ac-status -h
}

@test "ac-status --help prints usage and exits 0" {
	check_help ac-status --help
}

@test "ac-status --version prints 'ac-status 0.1.0'" {
	check_version ac-status
}

@test "ac-status unknown option: exit 2, 'ac-status: ...' on stderr" {
	check_unknown_option ac-status
}

@test "ac-status missing option argument: exit 2" {
	run -2 --separate-stderr ac-status --task
	assert_usage_error ac-status
}

@test "ac-status long options are in man/ac-status.1 and completions/ac.bash" {
	check_documented ac-status
}

# ---------------------------------------------------------------- ac-drain

@test "ac-drain -h prints usage and exits 0" {
	check_help ac-drain -h
}

@test "ac-drain --help prints usage and exits 0" {
	check_help ac-drain --help
}

@test "ac-drain --version prints 'ac-drain 0.1.0'" {
	check_version ac-drain
}

@test "ac-drain unknown option: exit 2, 'ac-drain: ...' on stderr" {
	check_unknown_option ac-drain
}

@test "ac-drain missing option argument: exit 2" {
	run -2 --separate-stderr ac-drain w1 --reason
	assert_usage_error ac-drain
}

@test "ac-drain without a worker: exit 2" {
	run -2 --separate-stderr ac-drain
	assert_usage_error ac-drain
}

@test "ac-drain long options are in man/ac-drain.1 and completions/ac.bash" {
	check_documented ac-drain
}

# ---------------------------------------------------------------- ac-cancel

@test "ac-cancel -h prints usage and exits 0" {
	check_help ac-cancel -h
}

@test "ac-cancel --help prints usage and exits 0" {
	check_help ac-cancel --help
}

@test "ac-cancel --version prints 'ac-cancel 0.1.0'" {
	check_version ac-cancel
}

@test "ac-cancel unknown option: exit 2, 'ac-cancel: ...' on stderr" {
	check_unknown_option ac-cancel
}

@test "ac-cancel missing option argument: exit 2" {
	run -2 --separate-stderr ac-cancel 1 --timeout
	assert_usage_error ac-cancel
}

@test "ac-cancel without an id: exit 2" {
	run -2 --separate-stderr ac-cancel
	assert_usage_error ac-cancel
}

@test "ac-cancel long options are in man/ac-cancel.1 and completions/ac.bash" {
	check_documented ac-cancel
}

# ---------------------------------------------------------------- ac-scale

@test "ac-scale -h prints usage and exits 0" {
	check_help ac-scale -h
}

@test "ac-scale --help prints usage and exits 0" {
	check_help ac-scale --help
}

@test "ac-scale --version prints 'ac-scale 0.1.0'" {
	check_version ac-scale
}

@test "ac-scale unknown option: exit 2, 'ac-scale: ...' on stderr" {
	check_unknown_option ac-scale
}

@test "ac-scale missing option argument: exit 2" {
	run -2 --separate-stderr ac-scale 3 --pool
	assert_usage_error ac-scale
}

# Its completions are written apart, so only the man page is checked here.
@test "ac-scale long options are in man/ac-scale.1" {
	local opt missing=()
	run -0 long_options ac-scale
	[ -n "$output" ] || fail "ac-scale --help lists no long option"
	for opt in $output; do
		option_in "$AC_ROOT/man/ac-scale.1" "$opt" || missing+=("$opt not in man/ac-scale.1")
	done
	if ((${#missing[@]})); then
		printf '# %s\n' "${missing[@]}" >&2
		return 1
	fi
}

# ---------------------------------------------------------------- ac-queue

@test "ac-queue -h prints usage and exits 0" {
	check_help ac-queue -h
}

@test "ac-queue --help prints usage and exits 0" {
	check_help ac-queue --help
}

@test "ac-queue --version prints 'ac-queue 0.1.0'" {
	check_version ac-queue
}

@test "ac-queue unknown option: exit 2, 'ac-queue: ...' on stderr" {
	check_unknown_option ac-queue
}

@test "ac-queue missing option argument: exit 2" {
	run -2 --separate-stderr ac-queue limit t1 --concurrency
	assert_usage_error ac-queue
}

@test "ac-queue without a subcommand: exit 2" {
	run -2 --separate-stderr ac-queue
	assert_usage_error ac-queue
}

@test "ac-queue long options are in man/ac-queue.1 and completions/ac.bash" {
	check_documented ac-queue
}

# ---------------------------------------------------------------- ac-schedule

@test "ac-schedule -h prints usage and exits 0" {
	check_help ac-schedule -h
}

@test "ac-schedule --help prints usage and exits 0" {
	check_help ac-schedule --help
}

@test "ac-schedule --version prints 'ac-schedule 0.1.0'" {
	check_version ac-schedule
}

@test "ac-schedule unknown option: exit 2, 'ac-schedule: ...' on stderr" {
	check_unknown_option ac-schedule
}

@test "ac-schedule missing option argument: exit 2" {
	run -2 --separate-stderr ac-schedule add s1 t1 --cron
	assert_usage_error ac-schedule
}

@test "ac-schedule without a subcommand: exit 2" {
	run -2 --separate-stderr ac-schedule
	assert_usage_error ac-schedule
}

@test "ac-schedule long options are in man/ac-schedule.1 and completions/ac.bash" {
	check_documented ac-schedule
}

# ---------------------------------------------------------------- ac-budget

@test "ac-budget -h prints usage and exits 0" {
	check_help ac-budget -h
}

@test "ac-budget --help prints usage and exits 0" {
	check_help ac-budget --help
}

@test "ac-budget --version prints 'ac-budget 0.1.0'" {
	check_version ac-budget
}

@test "ac-budget unknown option: exit 2, 'ac-budget: ...' on stderr" {
	check_unknown_option ac-budget
}

@test "ac-budget missing option argument: exit 2" {
	run -2 --separate-stderr ac-budget list --store
	assert_usage_error ac-budget
}

@test "ac-budget without a subcommand: exit 2" {
	run -2 --separate-stderr ac-budget
	assert_usage_error ac-budget
}

@test "ac-budget long options are in man/ac-budget.1 and completions/ac.bash" {
	check_documented ac-budget
}

# ---------------------------------------------------------------- every command

@test "--help and --version work even with an unusable store" {
	local cmd
	export AC_STORE=/nonexistent/dir/x.db
	for cmd in $COMMANDS; do
		run -0 "$cmd" --help
		run -0 "$cmd" --version
	done
}

@test "--store postgres://x (no such host): exit 69 and one line naming the store, from every command" {
	make_store
	local before
	before=$(task_counts)
	run -69 --separate-stderr ac-submit --store postgres://x echo <<<'{}'
	assert_one_stderr_line ac-submit
	assert_contains "$stderr" "'postgres://x'" "ac-submit names the store"
	run -69 --separate-stderr ac-status --store postgres://x
	assert_one_stderr_line ac-status
	assert_contains "$stderr" "'postgres://x'" "ac-status names the store"
	run -69 --separate-stderr ac-drain --store postgres://x w1
	assert_one_stderr_line ac-drain
	run -69 --separate-stderr ac-cancel --store postgres://x 1
	assert_one_stderr_line ac-cancel
	run -69 --separate-stderr ac-scale --store postgres://x --recommend
	assert_one_stderr_line ac-scale
	assert_contains "$stderr" "'postgres://x'" "ac-scale names the store"
	run -69 --separate-stderr ac-queue --store postgres://x show
	assert_one_stderr_line ac-queue
	assert_contains "$stderr" "'postgres://x'" "ac-queue names the store"
	run -69 --separate-stderr ac-schedule --store postgres://x list
	assert_one_stderr_line ac-schedule
	assert_contains "$stderr" "'postgres://x'" "ac-schedule names the store"
	run -69 --separate-stderr ac-budget --store postgres://x list
	assert_one_stderr_line ac-budget
	assert_contains "$stderr" "'postgres://x'" "ac-budget names the store"
	run -69 --separate-stderr timeout 20 ac-worker --store postgresql://x \
		--handler echo=cat
	assert_match "$stderr" '^ac-worker: ' "ac-worker diagnostic prefix"
	assert_contains "$stderr" "'postgresql://x'" "ac-worker names the store"
	assert_eq "$(task_counts)" "$before" "task counts unchanged"
}

@test "--store sqlite:PATH and a plain PATH name the same store" {
	local db=$AC_TMP/other.db id
	run -0 --separate-stderr ac-submit --async --store "sqlite:$db" t1 <<<'{"a":1}'
	id=$output
	assert_match "$id" '^[0-9]+$' "task id"
	[ -f "$db" ] || fail "sqlite:$db did not create $db"
	run -0 ac-status --store "$db" --task "$id" --json
	assert_eq "$(jq -r .type <<<"$output")" t1 "type read back via the plain path"
	[ ! -e "$AC_STORE" ] || fail "\$AC_STORE was used although --store was given"
}

@test "the store defaults: \$AC_STORE, then \$AC_HOME/ac.db" {
	run -0 ac-submit --async t1 <<<'{}'
	[ -f "$AC_STORE" ] || fail "\$AC_STORE=$AC_STORE not created"
	unset AC_STORE
	run -0 ac-submit --async t1 <<<'{}'
	[ -f "$AC_HOME/ac.db" ] || fail "\$AC_HOME/ac.db not created"
	run -0 ac-status --json
	assert_eq "$(jq '.tasks.queued' <<<"$output")" 1 "the AC_HOME store has one task"
}

@test "the store defaults: \$XDG_STATE_HOME/ac/ac.db, then ~/.local/state/ac/ac.db" {
	unset AC_STORE AC_HOME
	run -0 ac-submit --async t1 <<<'{}'
	[ -f "$XDG_STATE_HOME/ac/ac.db" ] || fail "\$XDG_STATE_HOME/ac/ac.db not created"
	unset XDG_STATE_HOME
	run -0 ac-submit --async t1 <<<'{}'
	[ -f "$HOME/.local/state/ac/ac.db" ] || fail "~/.local/state/ac/ac.db not created"
}

@test "ac-status on a missing store: exit 69, store not created" {
	run -69 --separate-stderr ac-status
	assert_one_stderr_line ac-status
	[ ! -e "$AC_STORE" ] || fail "ac-status created $AC_STORE"
	run -69 --separate-stderr ac-status --workers
	[ ! -e "$AC_STORE" ] || fail "ac-status --workers created $AC_STORE"
}

# ---------------------------------------------------------------- ac

@test "ac dispatcher: 'ac status --help' runs ac-status --help" {
	[ -x "$AC_ROOT/bin/ac" ] || fail "bin/ac missing"
	run -0 --separate-stderr ac status --help
	assert_contains "$output" "ac-status" "usage of ac-status"
	run -0 ac submit --version
	assert_eq "$output" "ac-submit 0.1.0"
}

@test "ac dispatcher: passes arguments and exit codes through" {
	make_store
	run -2 --separate-stderr ac status --task 999999
	run -0 ac status --json
	jq -e '.tasks' <<<"$output" >/dev/null
}

@test "ac dispatcher: an unknown command or option: one stderr line, exit 2" {
	run -2 --separate-stderr ac nosuch
	assert_one_stderr_line ac
	assert_contains "$stderr" nosuch "names the command"
	run -2 --separate-stderr ac --bogus
	assert_one_stderr_line ac
}

@test "ac dispatcher: help lists the commands; --version prints 'ac 0.1.0'" {
	local h
	for h in help -h --help; do
		run -0 ac "$h"
		assert_contains "$output" submit "ac $h lists submit"
		assert_contains "$output" worker "ac $h lists worker"
		assert_contains "$output" status "ac $h lists status"
		assert_contains "$output" drain "ac $h lists drain"
		assert_contains "$output" cancel "ac $h lists cancel"
		assert_contains "$output" queue "ac $h lists queue"
		assert_contains "$output" schedule "ac $h lists schedule"
		assert_contains "$output" budget "ac $h lists budget"
	done
	run -0 --separate-stderr ac --version
	assert_eq "$output" "ac 0.1.0" "ac --version"
}

@test "ac dispatcher: runs ac-COMMAND from its own directory before PATH" {
	mkdir -p "$AC_TMP/decoy"
	printf '#!/bin/sh\necho decoy\n' >"$AC_TMP/decoy/ac-status"
	chmod +x "$AC_TMP/decoy/ac-status"
	PATH=$AC_TMP/decoy:$PATH run -0 "$AC_ROOT/bin/ac" status --version
	assert_eq "$output" "ac-status 0.1.0"
}
