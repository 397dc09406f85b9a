#!/bin/sh
# Fails with exit ${1:-1} the first time it sees a task (marker file), then
# succeeds, printing {"attempt":N,"task":ID}.
cat >/dev/null
m=$AC_TEST_TMP/once.$AC_TASK_ID
echo "$AC_TASK_ID $AC_ATTEMPT $(date +%s.%N)" >>"$AC_TEST_TMP/once.log"
if [ ! -e "$m" ]; then
	: >"$m"
	echo "first attempt fails" >&2
	exit "${1:-1}"
fi
printf '{"attempt":%s,"task":%s}\n' "$AC_ATTEMPT" "$AC_TASK_ID"
