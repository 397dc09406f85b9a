#!/bin/sh
# A step of a task graph: prints {"task":ID,"in":DATA,"parents":P}, where P
# is the contents of $AC_PARENTS (the parents' outcomes) or null.  Appends
# "ID start UNIX-TIME" and "ID end UNIX-TIME" to $AC_TEST_TMP/${1:-step}.log;
# sleeps ${2:-0} seconds in between.
log=$AC_TEST_TMP/${1:-step}.log
echo "$AC_TASK_ID start $(date +%s.%N)" >>"$log"
data=$(cat)
if [ -n "${AC_PARENTS:-}" ]; then
	parents=$(cat "$AC_PARENTS") || exit 1
else
	parents=null
fi
sleep "${2:-0}"
printf '{"task":%s,"in":%s,"parents":%s}\n' "$AC_TASK_ID" "$data" "$parents"
echo "$AC_TASK_ID end $(date +%s.%N)" >>"$log"
