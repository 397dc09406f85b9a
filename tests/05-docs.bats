#!/usr/bin/env bats
# The documentation agrees with the code: the one exit-code table
# (lib/exitcode.h) is the one in every man page, ac(7) and the README; the
# codes each --help names exist; the man pages' EXAMPLES are valid shell
# (tests/07-examples.bats runs them) and render without warnings; `make
# install` puts the programs, man pages and the bash, zsh and fish
# completions where those shells look, and `make uninstall` removes them.
# (The options themselves: tests/06-options.bats.)

load helpers

# The codes of lib/exitcode.h, one per line.
codes() {
	sed -n 's/^[[:space:]]*AC_EXIT_[A-Z_]* = \([0-9]*\),\{0,1\}.*/\1/p' "$AC_ROOT/lib/exitcode.h"
}

# The codes listed in a man page's EXIT STATUS section.
man_codes() {
	sed -n '/^\.SH "\{0,1\}EXIT STATUS/,/^\.SH/p' "$1" |
		sed -n 's/^\.B \([0-9][0-9]*\)$/\1/p'
}

@test "lib/exitcode.h has the table of DESIGN.md" {
	assert_eq "$(codes | tr '\n' ' ')" "0 1 2 3 4 69 75 130 "
}

@test "every man page lists exactly the codes of lib/exitcode.h" {
	for page in "$AC_ROOT"/man/ac-*.1 "$AC_ROOT"/man/ac.7; do
		assert_eq "$(man_codes "$page" | tr '\n' ' ')" "$(codes | tr '\n' ' ')" \
			"EXIT STATUS of $(basename "$page")"
	done
}

@test "the README's exit-status table has every code" {
	table=$(sed -n '/^## Exit status/,/^## /p' "$AC_ROOT/README.md")
	for c in $(codes); do
		grep -q "^| $c |" <<<"$table" || fail "code $c is not in the README's table"
	done
}

@test "the codes each --help names exist" {
	for cmd in $COMMANDS; do
		run -0 "$cmd" --help
		for c in $(sed -n '/Exit status/,$p' <<<"$output" | grep -o '\b[0-9]\{1,3\}\b'); do
			[ "$c" = 1 ] && continue
			codes | grep -qx "$c" || fail "$cmd --help names exit code $c, not in lib/exitcode.h"
		done
	done
}

@test "the man pages' EXAMPLES are valid shell" {
	for page in "$AC_ROOT"/man/*.1 "$AC_ROOT"/man/ac.7; do
		sed -n '/^\.SH EXAMPLES/,/^\.SH/p' "$page" |
			sed -n '/^\.EX/,/^\.EE/p' | grep -v '^\.E[XE]' |
			sed 's/\\-/-/g; s/\\e/\\/g; s/\\(aq/'"'"'/g; s/\\&//g' >"$AC_TMP/ex.sh"
		bash -n "$AC_TMP/ex.sh" || fail "EXAMPLES of $(basename "$page") do not parse"
	done
}

@test "every man page renders without a warning" {
	command -v man >/dev/null 2>&1 || skip "man is not installed (apt-get install man-db)"
	local page out
	for page in "$AC_ROOT"/man/*.1 "$AC_ROOT"/man/*.7; do
		out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
		[ -z "$out" ] || fail "$(basename "$page"): $out" || return 1
	done
}

# installed_cmds: ac and the Makefile's COMMANDS, one a line.
installed_cmds() {
	echo ac
	sed -n 's/^COMMANDS = //p' "$AC_ROOT/Makefile" | tr ' ' '\n' | grep -v '^$'
}

@test "make install DESTDIR=... PREFIX=/usr puts everything in place; make uninstall removes it" {
	local root=$AC_TMP/root usr c f
	usr=$root/usr
	run -0 make -C "$AC_ROOT" --no-print-directory install DESTDIR="$root" PREFIX=/usr
	for c in $(installed_cmds); do
		[ -x "$usr/bin/$c" ] || fail "no $usr/bin/$c" || return 1
		cmp -s "$AC_ROOT/man/$c.1" "$usr/share/man/man1/$c.1" ||
			fail "man page $c.1 not installed" || return 1
		cmp -s "$AC_ROOT/completions/ac.bash" "$usr/share/bash-completion/completions/$c" ||
			fail "bash completion not installed as $c" || return 1
		cmp -s "$AC_ROOT/completions/ac.fish" "$usr/share/fish/vendor_completions.d/$c.fish" ||
			fail "fish completion not installed as $c.fish" || return 1
	done
	cmp -s "$AC_ROOT/man/ac.7" "$usr/share/man/man7/ac.7" || fail "ac.7 not installed" || return 1
	cmp -s "$AC_ROOT/completions/_ac" "$usr/share/zsh/vendor-completions/_ac" ||
		fail "zsh completion _ac not installed" || return 1
	run -0 "$usr/bin/ac" worker --version
	assert_eq "$output" "ac-worker 0.1.0" "the installed ac runs the installed ac-worker"

	# Each shell finds the installed completion of every command by its name.
	for c in $(installed_cmds); do
		run -0 bash -c 'source "$1/share/bash-completion/completions/$2" && complete -p "$2"' _ "$usr" "$c"
		assert_contains "$output" " $c" "bash: complete -p $c"
	done
	if command -v fish >/dev/null 2>&1; then
		# fish looks in $XDG_DATA_DIRS/fish/vendor_completions.d for NAME.fish
		# when it first completes NAME (a command it finds in PATH).
		for c in $(installed_cmds); do
			run -0 env PATH="$usr/bin:$PATH" XDG_DATA_DIRS="$usr/share" \
				fish -c 'complete -C "$argv[1] --vers"' "$c"
			assert_contains "$output" "--version" "fish completes $c from $c.fish"
		done
	fi
	if command -v zsh >/dev/null 2>&1; then
		run -0 zsh -f -c 'fpath=("$1" $fpath); autoload -U compinit; compinit -u -D
			for c in ${(f)2}; do print -r -- "$c=${_comps[$c]}"; done' _ \
			"$usr/share/zsh/vendor-completions" "$(installed_cmds)"
		for c in $(installed_cmds); do
			assert_contains "$output" "$c=_ac" "zsh: compinit maps $c to _ac"
		done
	fi
	if command -v man >/dev/null 2>&1; then
		run -0 env MANPATH="$usr/share/man" man -w ac-worker
		assert_eq "$output" "$usr/share/man/man1/ac-worker.1" "man finds ac-worker(1)"
		run -0 env MANPATH="$usr/share/man" man -w 7 ac
		assert_eq "$output" "$usr/share/man/man7/ac.7" "man finds ac(7)"
	fi

	run -0 make -C "$AC_ROOT" --no-print-directory uninstall DESTDIR="$root" PREFIX=/usr
	f=$(find "$root" ! -type d)
	assert_eq "$f" "" "files left after make uninstall"
}
