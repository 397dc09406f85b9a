#!/bin/sh
# Records its pid in $AC_TEST_TMP/pids/$AC_TASK_ID (and in handler.pids for
# the teardown), then becomes `sleep ${1:-60}` (same pid) and prints nothing.
mkdir -p "$AC_TEST_TMP/pids"
echo $$ >>"$AC_TEST_TMP/handler.pids"
echo $$ >"$AC_TEST_TMP/pids/$AC_TASK_ID.tmp"
mv "$AC_TEST_TMP/pids/$AC_TASK_ID.tmp" "$AC_TEST_TMP/pids/$AC_TASK_ID"
cat >/dev/null
exec sleep "${1:-60}"
