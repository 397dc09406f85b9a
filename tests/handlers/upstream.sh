#!/bin/sh
# An upstream API that says "429, retry after ${1:-3} s" once: the first
# task to run (no $AC_TEST_TMP/upstream.429 yet) writes retry_after on the
# side channel (fd 3, scope ${2:-type}) and exits 75; every later run
# appends "TASK EPOCH-SECONDS WORKER" to upstream.log and echoes its data.
data=$(cat)
if mkdir "$AC_TEST_TMP/upstream.429" 2>/dev/null; then
	date +%s.%N >"$AC_TEST_TMP/upstream.429/at"
	printf '{"retry_after":%s,"scope":"%s"}\n' "${1:-3}" "${2:-type}" >&3
	echo "429 Too Many Requests" >&2
	exit 75
fi
echo "$AC_TASK_ID $(date +%s.%N) $AC_WORKER_ID" >>"$AC_TEST_TMP/upstream.log"
printf '%s\n' "$data"
