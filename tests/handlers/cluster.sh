#!/bin/sh
# Measures concurrency across every worker of a test, as the handlers see
# it: while running it holds a file in $AC_TEST_TMP/cluster/GROUP/ (GROUP is
# the task data's "k", else "all") and appends how many files are there to
# GROUP.n, and its start time (epoch seconds) to GROUP.t; sleeps ${1:-0.3}.
data=$(cat)
g=$(printf '%s' "$data" | jq -r '.k // "all"')
d=$AC_TEST_TMP/cluster/$g
mkdir -p "$d"
: >"$d/$$"
ls "$d" | wc -l >>"$d.n"
date +%s.%N >>"$d.t"
sleep "${1:-0.3}"
rm -f "$d/$$"
echo '{"ok":true}'
