#!/bin/sh
# Fails: a message on stderr, exit ${1:-1}.  Logs each attempt to
# $AC_TEST_TMP/fail.log as "TASK ATTEMPT UNIX-TIME".
cat >/dev/null
echo "$AC_TASK_ID $AC_ATTEMPT $(date +%s.%N)" >>"$AC_TEST_TMP/fail.log"
echo "deliberate failure of task $AC_TASK_ID" >&2
exit "${1:-1}"
