#!/bin/sh
# Prints the handler's environment, pid, process group and data as JSON.
data=$(cat)
set -- $(cut -d' ' -f1,5,6 /proc/$$/stat)
jq -cn --argjson data "$data" --arg pid "$1" --arg pgid "$2" --arg sid "$3" \
	--arg now "$(date +%s)" '{
	id: env.AC_TASK_ID, type: env.AC_TASK_TYPE, attempt: env.AC_ATTEMPT,
	worker: env.AC_WORKER_ID, priority: env.AC_PRIORITY,
	deadline: env.AC_DEADLINE, checkpoint: env.AC_CHECKPOINT,
	pid: ($pid|tonumber), pgid: ($pgid|tonumber), sid: ($sid|tonumber),
	now: ($now|tonumber), data: $data}'
