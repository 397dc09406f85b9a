#!/bin/sh
# The whole test suite of ac: `make && make unit && make asan && sh tests/run.sh`
# (what `make check` does).
#
#  1. every C unit test binary build/tests/* (built by `make unit`), the
#     store's contract tests on SQLite;
#  2. a throwaway PostgreSQL server (scripts/pgtest.sh, in a temporary
#     directory) and build/tests/test_store again against it
#     (AC_TEST_STORE); the server stays up for the bats files, which find
#     it in AC_TEST_PG_URL and make databases of their own on it, and is
#     stopped at the end whatever happens;
#  3. every tests/*.bats file (bats --tap) against the binaries in bin/;
#  4. the bats files again against the ASan+UBSan build in build/asan/bin
#     (built by `make asan`), skipped with a message when it is missing.
#
# Results are counted across everything; the last line is exactly
# "N passed, N failed" (skips are counted on the line before it).  Exit
# status 1 when anything failed.  A PostgreSQL server that cannot start is a
# failure, not a skip.
#
# Environment: AC_TEST_JOBS (bats files run at once, default 2),
# AC_TEST_FILTER (a regex passed to bats --filter), AC_TEST_ASAN=0 (skip the
# ASan pass), AC_TEST_FILES (bats files to run instead of tests/*.bats),
# AC_TEST_PG=0 (skip the PostgreSQL part: no server, the contract tests on
# SQLite only, and bats files that need PostgreSQL skip their tests).

ROOT=$(cd "$(dirname "$0")/.." && pwd) || exit 2
cd "$ROOT" || exit 2

: "${AC_TEST_JOBS:=2}"
: "${BATS_TEST_TIMEOUT:=150}"
export BATS_TEST_TIMEOUT

# Chosen here, never inherited: the first unit pass is SQLite's, and only
# the server started below is PostgreSQL for the bats files.
unset AC_TEST_STORE AC_TEST_PG_URL

OUT=$(mktemp -d "${TMPDIR:-/tmp}/ac-run.XXXXXX") || exit 2
PG_DIR=
# pg_stop: stop the test server, if one was started, and remove it.
pg_stop() {
	if [ -n "$PG_DIR" ]; then
		sh scripts/pgtest.sh stop "$PG_DIR" ||
			echo "# could not stop the PostgreSQL test server in $PG_DIR" >&2
		rm -rf "$PG_DIR"
		PG_DIR=
	fi
}
trap 'pg_stop; rm -rf "$OUT"' EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
skipped=0

# count FILE: add the TAP results in FILE to the totals.  A plan ("1..N")
# promising more results than were printed counts the missing ones as
# failures (a crashed or killed runner).
count() {
	p=$(grep -E '^ok [0-9]+' "$1" | grep -cvE '# [Ss][Kk][Ii][Pp]')
	s=$(grep -E '^ok [0-9]+' "$1" | grep -cE '# [Ss][Kk][Ii][Pp]')
	f=$(grep -cE '^not ok [0-9]+' "$1")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$1" | head -1)
	missing=0
	if [ -n "$plan" ] && [ "$plan" -gt $((p + s + f)) ]; then
		missing=$((plan - p - s - f))
		echo "# $missing result(s) missing from $2 (plan 1..$plan)"
	fi
	passed=$((passed + p))
	skipped=$((skipped + s))
	failed=$((failed + f + missing))
	last_failed=$((f + missing))
}

# ------------------------------------------------------------ unit tests

echo "# === C unit tests (build/tests/*)"
found=0
for t in build/tests/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	found=1
	echo "# --- $t"
	"$t" >"$OUT/unit.out" 2>&1
	rc=$?
	cat "$OUT/unit.out"
	count "$OUT/unit.out" "$t"
	if [ "$rc" -ne 0 ] && [ "$last_failed" -eq 0 ]; then
		echo "not ok - $t exited $rc without reporting a failure"
		failed=$((failed + 1))
	fi
done
if [ "$found" -eq 0 ]; then
	echo "not ok - no unit test binaries in build/tests/ (run 'make unit')"
	failed=$((failed + 1))
fi

# ------------------------------------------------------------ PostgreSQL

if [ "${AC_TEST_PG:-1}" = 0 ]; then
	echo "# === PostgreSQL part skipped: AC_TEST_PG=0"
else
	echo "# === PostgreSQL: a throwaway server (scripts/pgtest.sh)"
	if ! PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ac-pg.XXXXXX"); then
		PG_DIR=
		echo "not ok - no temporary directory for the PostgreSQL test server"
		failed=$((failed + 1))
	elif ! url=$(sh scripts/pgtest.sh start "$PG_DIR" 2>"$OUT/pg.err"); then
		echo "not ok - the PostgreSQL test server did not start: $(head -n 1 "$OUT/pg.err")"
		failed=$((failed + 1))
	else
		AC_TEST_PG_URL=$url
		export AC_TEST_PG_URL
		echo "# server: $AC_TEST_PG_URL"
		t=build/tests/test_store
		if [ -x "$t" ]; then
			echo "# --- $t (AC_TEST_STORE=$AC_TEST_PG_URL)"
			AC_TEST_STORE=$AC_TEST_PG_URL "$t" >"$OUT/unit.out" 2>&1
			rc=$?
			cat "$OUT/unit.out"
			count "$OUT/unit.out" "$t on PostgreSQL"
			if [ "$rc" -ne 0 ] && [ "$last_failed" -eq 0 ]; then
				echo "not ok - $t on PostgreSQL exited $rc without reporting a failure"
				failed=$((failed + 1))
			fi
		else
			echo "not ok - no $t to run on PostgreSQL (run 'make unit')"
			failed=$((failed + 1))
		fi
	fi
fi

# ------------------------------------------------------------ bats

if [ -n "${AC_TEST_FILES:-}" ]; then
	BATS_FILES=$AC_TEST_FILES
else
	BATS_FILES=$(ls tests/*.bats 2>/dev/null)
fi

# run_bats NAME BINDIR: every bats file against the binaries in BINDIR
# (relative to the repository), up to AC_TEST_JOBS files at once (a new one
# starts as soon as any is done); each file's output is printed whole, in
# file order, once all are done, with the seconds it took.
run_bats() {
	name=$1
	bindir=$2
	pass_start=$(date +%s)
	echo "# === bats, $name ($bindir)"
	if ! command -v bats >/dev/null 2>&1; then
		echo "not ok - bats is not installed (apt-get install bats)"
		failed=$((failed + 1))
		return
	fi
	if [ -z "$BATS_FILES" ]; then
		echo "not ok - no tests/*.bats files"
		failed=$((failed + 1))
		return
	fi
	running=0
	pids=
	for f in $BATS_FILES; do
		b=$(basename "$f" .bats)
		(
			PATH=$ROOT/$bindir:$ROOT/bin:$PATH
			AC_TEST_BIN=$bindir
			export PATH AC_TEST_BIN
			start=$(date +%s)
			if [ -n "${AC_TEST_FILTER:-}" ]; then
				timeout -k 10 900 bats --tap --filter "$AC_TEST_FILTER" "$f"
			else
				timeout -k 10 900 bats --tap "$f"
			fi >"$OUT/$name.$b.out" 2>&1 </dev/null
			echo $? >"$OUT/$name.$b.rc"
			echo $(($(date +%s) - start)) >"$OUT/$name.$b.secs"
		) &
		pids="$pids $!"
		running=$((running + 1))
		# POSIX sh has no `wait -n`: look for any job that is done.
		while [ "$running" -ge "$AC_TEST_JOBS" ]; do
			left=
			for p in $pids; do
				if kill -0 "$p" 2>/dev/null; then
					left="$left $p"
				else
					wait "$p"
					running=$((running - 1))
				fi
			done
			pids=$left
			[ "$running" -ge "$AC_TEST_JOBS" ] && sleep 0.2
		done
	done
	for p in $pids; do
		wait "$p"
	done
	for f in $BATS_FILES; do
		b=$(basename "$f" .bats)
		echo "# --- $f ($(cat "$OUT/$name.$b.secs" 2>/dev/null || echo ?) s)"
		cat "$OUT/$name.$b.out"
		count "$OUT/$name.$b.out" "$f ($name)"
		rc=$(cat "$OUT/$name.$b.rc" 2>/dev/null || echo 1)
		if [ "$rc" -ne 0 ] && [ "$last_failed" -eq 0 ]; then
			echo "not ok - bats $f ($name) exited $rc without reporting a failure"
			failed=$((failed + 1))
		fi
	done
	echo "# === bats, $name: $(($(date +%s) - pass_start)) s"
}

run_bats normal bin

if [ "${AC_TEST_ASAN:-1}" = 0 ]; then
	echo "# === ASan+UBSan pass skipped: AC_TEST_ASAN=0"
elif [ ! -x build/asan/bin/ac-worker ]; then
	echo "# === ASan+UBSan pass skipped: build/asan/bin/ac-worker is missing (run 'make asan')"
else
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	export ASAN_OPTIONS UBSAN_OPTIONS
	run_bats asan build/asan/bin
	unset ASAN_OPTIONS UBSAN_OPTIONS
fi

# Skips are named above; the last line is always exactly this.
[ "$skipped" -gt 0 ] && echo "# $skipped skipped (not counted as passed)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
