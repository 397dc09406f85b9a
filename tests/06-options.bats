#!/usr/bin/env bats
# Every command's options agree wherever they are written down: its option
# table (cmd/NAME/main.c; bin/ac's case for the dispatcher), its --help, the
# OPTIONS of its man page, its section of docs/cli.md, and the bash, zsh
# and fish completions.  Each set is read from its file mechanically; a
# mismatch names the option and every place that lacks it.  Where the
# parser, --help and the completions say whether an option takes a value,
# they must agree on that too.  And the set of commands agrees across the
# same places.
#
# Two things are told apart from a disagreement, visibly (a note or a
# skip), for the work that lands in parallel: a command that has no source
# in cmd/ yet (documented and completed ahead of it), and an option that is
# documented and completed everywhere but unknown to the built program
# (it says "unknown option").

load helpers

# ---------------------------------------------------------------- extractors
# opts_SOURCE CMD: the options of CMD in SOURCE, one a line ("--name" or
# "-x"), with a trailing "=" where SOURCE says the option takes a value
# (parser, help, bash, zsh, fish only).

# The struct option table and the getopt_long optstring of
# cmd/CMD/main.c; for ac, the options of bin/ac's first case.
opts_parser() {
	local src=$AC_ROOT/cmd/$1/main.c optstring i c
	if [ "$1" = ac ]; then
		sed -n '/^case "\${1-}" in/,/^esac/p' "$AC_ROOT/bin/ac" |
			grep -E '^[^#]*\)' | sed 's/).*//' |
			grep -oE -- '(^|[ |])--?[a-zA-Z][a-zA-Z0-9-]*' | tr -d ' |'
		return
	fi
	[ -f "$src" ] || return 0
	sed -n 's/^[[:space:]]*{ *"\([a-z][a-z0-9-]*\)", *\([a-z_]*\)_argument.*/\1 \2/p' "$src" |
		awk '{ print "--" $1 ($2 == "required" ? "=" : "") }'
	optstring=$(grep -o 'getopt_long([^"]*"[^"]*"' "$src" | head -n 1 |
		sed 's/.*"\(.*\)"$/\1/')
	# A leading '-' or '+' (getopt's argument order) and ':' (quiet
	# errors) are flags, not options.
	optstring=${optstring#[-+]}
	optstring=${optstring#:}
	for ((i = 0; i < ${#optstring}; i++)); do
		c=${optstring:i:1}
		[ "$c" = : ] && continue
		if [ "${optstring:i+1:1}" = : ]; then
			echo "-$c="
		else
			echo "-$c"
		fi
	done
}

# The option table of CMD --help: lines indented at most 8 columns that
# start with '-'; the head of a line is what comes before two blanks
# ("-q, --quiet", "--id ID"); anything after the options is their value.
opts_help() {
	"$1" --help 2>/dev/null | grep -E '^ {1,8}-' | sed -E 's/^ +//; s/  .*//' |
		while IFS= read -r head; do
			local rest eq=
			rest=$(sed -E 's/^(-[a-zA-Z], +)?--?[a-zA-Z][a-zA-Z0-9-]*//' <<<"$head")
			[ -n "$rest" ] && eq==
			grep -oE -- '(^|[ ,])--?[a-zA-Z][a-zA-Z0-9-]*' <<<"${head%%[[:space:]][A-Z]*}" |
				tr -d ' ,' | sed "s/\$/$eq/"
		done
}

# roff text with \- as -, and \% and \& dropped.
unroff() {
	sed 's/\\-/-/g; s/\\%//g; s/\\&//g'
}

# The tags (the line after each .TP) of the OPTIONS section of CMD's man
# page.
opts_man() {
	local page=$AC_ROOT/man/$1.1
	[ -f "$page" ] || return 0
	sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$page" |
		awk 'prev == ".TP" { print } { prev = $0 }' | unroff |
		grep -oE -- '(^|[^A-Za-z0-9-])--?[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^[^-]*//'
}

# The first backquoted span of each bullet ("- `--name ARG` ...") of CMD's
# section ("## CMD ...") of docs/cli.md.
opts_cli() {
	awk -v name="$1" '/^## / { in_sec = ($2 == name) } in_sec && /^- `/' \
		"$AC_ROOT/docs/cli.md" | sed -E 's/^- `([^`]*)`.*/\1/' |
		grep -oE -- '(^|[ /])--?[a-zA-Z][a-zA-Z0-9-]*' | tr -d ' /'
}

# _ac_options CMD of completions/ac.bash, run.
opts_bash() {
	bash -c 'source "$1" && _ac_options "$2"' _ "$AC_ROOT/completions/ac.bash" "$1" |
		tr ' ' '\n' | grep -v '^$'
}

# The option specs ('--name[...' or '--name=[...') of _ac_cmd_NAME in
# completions/_ac.
opts_zsh() {
	local fn=_ac_cmd_${1#ac-}
	awk -v fn="$fn" '$0 == fn "() {" { f = 1; next } f && /^}/ { f = 0 } f' \
		"$AC_ROOT/completions/_ac" |
		grep -oE -- '--?[a-zA-Z][a-zA-Z0-9-]*=?\[' | sed 's/\[$//'
}

# The -l/-s of each "complete -c CMD" line of completions/ac.fish; -x or
# -r on the line: the option takes a value.
opts_fish() {
	grep -E "^complete -c $1( |\$)" "$AC_ROOT/completions/ac.fish" |
		while IFS= read -r line; do
			local eq=
			grep -qE -- ' -[xr]( |$)' <<<"$line" && eq==
			grep -oE -- ' -[ls] [a-zA-Z0-9-]+' <<<"$line" |
				sed -E "s/^ -l /--/; s/^ -s /-/; s/\$/$eq/"
		done
}

# The options named in each synopsis: --help's usage lines, the man page's
# SYNOPSIS, the indented lines under CMD's heading in docs/cli.md.
syn_help() {
	"$1" --help 2>/dev/null | sed -n '1,/^$/p' |
		grep -oE -- '(^|[^A-Za-z0-9-])--?[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^[^-]*//'
}
syn_man() {
	sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$AC_ROOT/man/$1.1" 2>/dev/null | unroff |
		grep -oE -- '(^|[^A-Za-z0-9-])--?[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^[^-]*//'
}
syn_cli() {
	awk -v name="$1" '/^## / { in_sec = ($2 == name); next }
		in_sec && /^    / { print; next } in_sec { in_sec = 0 }' "$AC_ROOT/docs/cli.md" |
		grep -oE -- '(^|[^A-Za-z0-9-])--?[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^[^-]*//'
}

SOURCES="parser help man cli bash zsh fish"

where() {
	case $1 in
	parser) if [ "$2" = ac ]; then echo "bin/ac (its case)"; else echo "cmd/$2/main.c (option table)"; fi ;;
	help) echo "$2 --help" ;;
	man) echo "man/$2.1 OPTIONS" ;;
	cli) echo "docs/cli.md ## $2" ;;
	bash) echo "completions/ac.bash (_ac_options $2)" ;;
	zsh) echo "completions/_ac (_ac_cmd_${2#ac-})" ;;
	fish) echo "completions/ac.fish (complete -c $2)" ;;
	esac
}

# check_options CMD: compare every source; print each problem as a "# "
# line; fail on any.  Options only missing from the parser and --help
# that the built CMD calls unknown are "ahead of the build": the test is
# skipped naming them, once everything else agrees.
check_options() {
	local cmd=$1 s o name missing problems=() ahead=() all
	declare -A set arity
	if ! command -v "$cmd" >/dev/null 2>&1; then
		fail "$cmd is not built" || return 1
	fi
	for s in $SOURCES; do
		set[$s]=$(opts_"$s" "$cmd" | sort -u)
		[ -n "${set[$s]}" ] || problems+=("$(where "$s" "$cmd") lists no option at all")
	done
	all=$(for s in $SOURCES; do sed 's/=$//' <<<"${set[$s]}"; done | grep -v '^$' | sort -u)
	for name in $all; do
		missing=()
		for s in $SOURCES; do
			grep -qxE -- "$name=?" <<<"${set[$s]}" || missing+=("$s")
		done
		((${#missing[@]})) || continue
		if [ "${missing[*]}" = "parser help" ] &&
			timeout 5 "$cmd" "$name" </dev/null 2>&1 >/dev/null |
			grep -qF "unknown option '$name'"; then
			ahead+=("$name")
			continue
		fi
		for s in "${missing[@]}"; do
			problems+=("$name: missing from $(where "$s" "$cmd")")
		done
	done
	# Whether it takes a value: the parser's word (else --help's) against
	# the others that say.
	for name in $all; do
		local ref='' refsrc=''
		for s in parser help; do
			if grep -qxF -- "$name=" <<<"${set[$s]}"; then
				ref='='; refsrc=$s; break
			elif grep -qxF -- "$name" <<<"${set[$s]}"; then
				ref=''; refsrc=$s; break
			fi
		done
		[ -n "$refsrc" ] || continue
		for s in help bash zsh fish; do
			[ "$s" = "$refsrc" ] && continue
			if grep -qxF -- "$name=" <<<"${set[$s]}"; then
				[ "$ref" = = ] || problems+=("$name: takes a value in $(where "$s" "$cmd"), not in $(where "$refsrc" "$cmd")")
			elif grep -qxF -- "$name" <<<"${set[$s]}"; then
				[ "$ref" = '' ] || problems+=("$name: takes a value in $(where "$refsrc" "$cmd"), not in $(where "$s" "$cmd")")
			fi
		done
	done
	# Every option of a synopsis is one of the command's options.
	local man_set help_set cli_set
	help_set=$(sed 's/=$//' <<<"${set[help]}")
	man_set=${set[man]}
	cli_set=${set[cli]}
	for o in $(syn_help "$cmd" | sort -u); do
		grep -qxF -- "$o" <<<"$help_set" ||
			problems+=("$o: in the usage lines of $cmd --help, not in its option table")
	done
	for o in $(syn_man "$cmd" | sort -u); do
		grep -qxF -- "$o" <<<"$man_set" ||
			problems+=("$o: in the SYNOPSIS of man/$cmd.1, not in its OPTIONS")
	done
	for o in $(syn_cli "$cmd" | sort -u); do
		grep -qxF -- "$o" <<<"$cli_set" ||
			problems+=("$o: in the synopsis of docs/cli.md ## $cmd, not in its bullets")
	done
	if ((${#problems[@]})); then
		printf '# %s\n' "${problems[@]/#/$cmd: }" >&2
		return 1
	fi
	if ((${#ahead[@]})); then
		skip "$cmd: ${ahead[*]} documented and completed everywhere, but the built $cmd does not know it yet (it lands in parallel); every other option agrees"
	fi
}

# ---------------------------------------------------------------- commands

@test "the extractors read every source (sanity: ac-worker's --handlers everywhere, --version a flag)" {
	local s
	for s in $SOURCES; do
		grep -qx -- '--handlers=\{0,1\}' <<<"$(opts_"$s" ac-worker)" ||
			fail "opts_$s ac-worker does not find --handlers" || return 1
	done
	for s in parser help bash zsh fish; do
		grep -qx -- '--handlers=' <<<"$(opts_"$s" ac-worker)" ||
			fail "opts_$s ac-worker: --handlers takes no value?" || return 1
		grep -qx -- '--version' <<<"$(opts_"$s" ac-worker)" ||
			fail "opts_$s ac-worker: --version takes a value?" || return 1
	done
}

@test "ac: options agree (bin/ac, --help, man, docs/cli.md, bash, zsh, fish)" {
	check_options ac
}

@test "ac-worker: options agree (parser, --help, man, docs/cli.md, bash, zsh, fish)" {
	check_options ac-worker
}

@test "ac-submit: options agree (parser, --help, man, docs/cli.md, bash, zsh, fish)" {
	check_options ac-submit
}

@test "ac-status: options agree (parser, --help, man, docs/cli.md, bash, zsh, fish)" {
	check_options ac-status
}

@test "ac-drain: options agree (parser, --help, man, docs/cli.md, bash, zsh, fish)" {
	check_options ac-drain
}

@test "ac-cancel: options agree (parser, --help, man, docs/cli.md, bash, zsh, fish)" {
	check_options ac-cancel
}

@test "ac-scale: options agree (parser, --help, man, docs/cli.md, bash, zsh, fish)" {
	command -v ac-scale >/dev/null 2>&1 ||
		skip "ac-scale is not built yet (cmd/ac-scale lands in parallel): its completions and docs are checked once it is"
	check_options ac-scale
}

@test "ac-queue: options agree (parser, --help, man, docs/cli.md, bash, zsh, fish)" {
	check_options ac-queue
}

@test "ac-schedule: options agree (parser, --help, man, docs/cli.md, bash, zsh, fish)" {
	check_options ac-schedule
}

@test "ac-budget: options agree (parser, --help, man, docs/cli.md, bash, zsh, fish)" {
	check_options ac-budget
}

# The commands each place knows, one a line.
cmds_of() {
	case $1 in
	cmd) echo ac; for d in "$AC_ROOT"/cmd/ac-*/main.c; do [ -f "$d" ] && basename "$(dirname "$d")"; done ;;
	Makefile) echo ac; sed -n 's/^COMMANDS = //p' "$AC_ROOT/Makefile" | tr ' ' '\n' ;;
	man) for p in "$AC_ROOT"/man/ac*.1; do basename "$p" .1; done ;;
	cli) sed -n 's/^## \(ac[a-z-]*\).*/\1/p' "$AC_ROOT/docs/cli.md" ;;
	"ac --help") echo ac; "$AC_ROOT/bin/ac" --help | grep -oE '\(ac-[a-z]+\)' | tr -d '()' ;;
	bash) bash -c 'source "$1" && complete -p' _ "$AC_ROOT/completions/ac.bash" | awk '{ print $NF }' ;;
	zsh) sed -n 's/^#compdef //p' "$AC_ROOT/completions/_ac" | tr ' ' '\n' ;;
	fish) sed -n 's/^complete -c \([^ ]*\).*/\1/p' "$AC_ROOT/completions/ac.fish" ;;
	esac | grep -v '^$' | sort -u
}

@test "every command is in the Makefile, a man page, docs/cli.md, ac --help and every completion" {
	local ref s c problems=() notes=()
	ref=$(cmds_of cmd)
	for s in Makefile man cli "ac --help" bash zsh fish; do
		local have
		have=$(cmds_of "$s")
		for c in $ref; do
			grep -qxF -- "$c" <<<"$have" || problems+=("$c: missing from $s")
		done
		for c in $have; do
			grep -qxF -- "$c" <<<"$ref" || notes+=("$c: in $s, but no cmd/$c/main.c yet")
		done
	done
	((${#notes[@]})) && printf '# note: %s\n' "${notes[@]}" >&3
	if ((${#problems[@]})); then
		printf '# %s\n' "${problems[@]}" >&2
		return 1
	fi
	# Each command this test checks: a new one needs its @test above.
	for c in $ref; do
		grep -q "^@test \"$c: options agree" "$BATS_TEST_FILENAME" ||
			fail "$c has no '@test \"$c: options agree ...\"' in $(basename "$BATS_TEST_FILENAME")" ||
			return 1
	done
}

# ---------------------------------------------------------------- syntax

@test "completions/_ac loads in zsh (zsh -n, and compinit finds every command)" {
	command -v zsh >/dev/null 2>&1 || skip "zsh is not installed (apt-get install zsh)"
	run -0 zsh -n "$AC_ROOT/completions/_ac"
	run -0 zsh -f -c 'fpath=("$1" $fpath); autoload -U compinit; compinit -u -D
		for c in ${(s: :)2}; do print -r -- "$c=${_comps[$c]}"; done' _ \
		"$AC_ROOT/completions" "$(cmds_of zsh | tr '\n' ' ')"
	local c
	for c in $(cmds_of zsh); do
		assert_contains "$output" "$c=_ac" "compinit maps $c to _ac"
	done
}

@test "completions/ac.fish loads in fish (fish -n, and completes an option of each command)" {
	command -v fish >/dev/null 2>&1 || skip "fish is not installed (apt-get install fish)"
	run -0 fish -n "$AC_ROOT/completions/ac.fish"
	run -0 fish -c 'source $argv[1]; complete -C "ac-worker --handl"; complete -C "ac-submit --rou";
		complete -C "ac-status --foll"; complete -C "ac-drain --und"; complete -C "ac-cancel --wai";
		complete -C "ac-scale --recomm"; complete -C "ac --vers"; complete -C "ac submit --idem";
		complete -C "ac-queue --older"; complete -C "ac queue --per-k"' \
		"$AC_ROOT/completions/ac.fish"
	local o
	for o in --handler --handlers --route --follow --undo --wait --recommend --version --idempotency-key \
		--older-than --per-key; do
		grep -q -- "^$o"$'\t' <<<"$output" || fail "fish does not complete $o; got: $output" || return 1
	done
}

@test "completions/ac.bash loads in bash and completes an option of each command" {
	run -0 bash -c 'source "$1"
		c() { COMP_LINE=$1; COMP_POINT=${#1}; COMPREPLY=()
			local f; f=$(complete -p "${1%% *}" | sed "s/.*-F \([^ ]*\).*/\1/")
			"$f" "${1%% *}"; printf "%s\n" "${COMPREPLY[@]}"; }
		c "ac-worker --handl"; c "ac-submit --rou"; c "ac-status --foll"; c "ac-drain --und"
		c "ac-cancel --wai"; c "ac-scale --recomm"; c "ac --vers"; c "ac submit --idem"
		c "ac-scale 2 -- --handl"; c "ac-queue --older"; c "ac queue --per-k"' _ "$AC_ROOT/completions/ac.bash"
	local o
	for o in --handler --handlers --route --follow --undo --wait --recommend --version --idempotency-key \
		--older-than --per-key; do
		grep -qx -- "$o" <<<"$output" || fail "bash does not complete $o; got: $output" || return 1
	done
}
