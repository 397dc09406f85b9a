#!/bin/sh
# Measures concurrency per worker: while running, holds a file in
# $AC_TEST_TMP/conc/$AC_WORKER_ID/; appends the number of files there to
# $AC_TEST_TMP/conc/$AC_WORKER_ID.n; sleeps ${1:-0.5}; prints the worker id.
cat >/dev/null
d=$AC_TEST_TMP/conc/$AC_WORKER_ID
mkdir -p "$d"
: >"$d/$$"
ls "$d" | wc -l >>"$d.n"
sleep "${1:-0.5}"
rm -f "$d/$$"
printf '"%s"\n' "$AC_WORKER_ID"
