#!/usr/bin/env bats
# The documentation agrees with the code: the one exit-code table
# (lib/exitcode.h) is the one in every man page, ac(7) and the README; the
# codes each --help names exist; the man pages' EXAMPLES are valid shell.

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
