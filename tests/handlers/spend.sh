#!/bin/sh
# Reports usage on the side channel: {"tokens":N,"cost":C} from the task
# data ({"tokens":N,"cost":C}; default 10 tokens, no cost), records
# $AC_TASK_ID in $AC_TEST_TMP/spend.log, and echoes the data back.
data=$(cat)
tokens=$(printf '%s' "$data" | jq -r '.tokens // 10')
cost=$(printf '%s' "$data" | jq -r '.cost // 0')
echo "$AC_TASK_ID" >>"$AC_TEST_TMP/spend.log"
printf '{"usage":{"tokens":%s,"cost":%s}}\n' "$tokens" "$cost" >&3
printf '%s\n' "$data"
