#!/bin/sh
# Reports usage on the side channel, {"tokens":N,"cost":C} from the task
# data {"tokens":N,"cost":C} (default 10 tokens, no cost), records
# $AC_TASK_ID in $AC_TEST_TMP/spend.log, then echoes the data back, or
# fails after the report when the data has "fail":true.
data=$(cat)
tokens=$(printf '%s' "$data" | jq -r '.tokens // 10')
cost=$(printf '%s' "$data" | jq -r '.cost // 0')
echo "$AC_TASK_ID" >>"$AC_TEST_TMP/spend.log"
printf '{"usage":{"tokens":%s,"cost":%s}}\n' "$tokens" "$cost" >&3
if [ "$(printf '%s' "$data" | jq -r '.fail // false')" = true ]; then
	echo "failing after its report" >&2
	exit 1
fi
sleep "$(printf '%s' "$data" | jq -r '.sleep // 0')"
printf '%s\n' "$data"
