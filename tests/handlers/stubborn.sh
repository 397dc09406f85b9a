#!/bin/sh
# Ignores SIGTERM: only the SIGKILL after the worker's --grace ends it.
# Records its pid like sleep.sh.
trap '' TERM
mkdir -p "$AC_TEST_TMP/pids"
echo $$ >>"$AC_TEST_TMP/handler.pids"
echo $$ >"$AC_TEST_TMP/pids/$AC_TASK_ID.tmp"
mv "$AC_TEST_TMP/pids/$AC_TASK_ID.tmp" "$AC_TEST_TMP/pids/$AC_TASK_ID"
cat >/dev/null
while :; do
	sleep 1
done
