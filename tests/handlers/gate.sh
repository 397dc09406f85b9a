#!/bin/sh
# Records its pid ($AC_TEST_TMP/pids/$AC_TASK_ID), marks itself started
# ($AC_TEST_TMP/started.ID), waits (up to 120 s) for $AC_TEST_TMP/go or
# $AC_TEST_TMP/go.ID, then echoes the task data.
echo $$ >>"$AC_TEST_TMP/handler.pids"
mkdir -p "$AC_TEST_TMP/pids"
echo $$ >"$AC_TEST_TMP/pids/$AC_TASK_ID"
data=$(cat)
: >"$AC_TEST_TMP/started.$AC_TASK_ID"
n=0
while [ ! -e "$AC_TEST_TMP/go" ] && [ ! -e "$AC_TEST_TMP/go.$AC_TASK_ID" ]; do
	n=$((n + 1))
	[ $n -gt 1200 ] && { echo "gate: no go after 120 s" >&2; exit 1; }
	sleep 0.1
done
printf '%s\n' "$data"
