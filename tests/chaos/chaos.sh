#!/bin/sh
# The chaos test: N tasks of a checkpointing handler on W workers, one
# worker killed with SIGKILL every KILL_EVERY seconds and restarted (under
# its own id or a new one, at random).  Then: every task completed, none
# completed twice, no result overwritten, resumed attempts started from
# their checkpoint (never from an older one than an earlier attempt).
#   N=2000 KILL_EVERY=2 W=3 C=4 sh tests/chaos/chaos.sh
# Prints a JSON summary; exits 0 when every check holds.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BIN=${AC_TEST_BIN:-$top/bin}
case "$BIN" in /*) ;; *) BIN=$top/$BIN ;; esac
PATH="$BIN:$PATH"
N=${N:-2000} KILL_EVERY=${KILL_EVERY:-2} W=${W:-3} C=${C:-4}
LIMIT=${LIMIT:-900}
AC_HOME=$(mktemp -d "${TMPDIR:-/tmp}/ac-chaos.XXXXXX")
CHAOS_LOG=$AC_HOME/chaos.log
export AC_HOME CHAOS_LOG
unset AC_STORE
: > "$CHAOS_LOG"

pids=""
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$AC_HOME"
}
trap cleanup EXIT INT TERM

start_worker() { # slot id
	ac-worker --id "$2" --handler "chaos=$here/handler" --concurrency "$C" \
		--heartbeat 0.5 --lease 2 --quiet 2>>"$AC_HOME/workers.log" &
	eval "pid_$1=$!"
	pids="$pids $!"
}

i=1
while [ $i -le "$W" ]; do start_worker $i "w$i"; i=$((i + 1)); done
seq "$N" | sed 's/.*/{"n":&}/' | ac-submit --batch --async chaos > "$AC_HOME/ids"

t0=$(date +%s)
kills=0 same=0 gen=0
while :; do
	completed=$(ac-status | jq .tasks.completed)
	[ "$completed" -ge "$N" ] && break
	now=$(date +%s)
	if [ $((now - t0)) -gt "$LIMIT" ]; then
		echo "chaos: gave up after ${LIMIT}s with $completed of $N completed" >&2
		break
	fi
	sleep "$KILL_EVERY"
	victim=$(awk -v w="$W" 'BEGIN { srand(); print int(rand() * w) + 1 }')
	eval "vp=\$pid_$victim"
	kill -9 "$vp" 2>/dev/null || true
	wait "$vp" 2>/dev/null || true
	kills=$((kills + 1))
	if [ $((kills % 2)) -eq 0 ]; then
		start_worker "$victim" "w$victim"       # same id: reclaims at once
		same=$((same + 1))
	else
		gen=$((gen + 1))
		start_worker "$victim" "w$victim-g$gen" # a new id: leases expire
	fi
done
t1=$(date +%s)

ac-status --tasks --limit "$N" > "$AC_HOME/tasks.json"
fail=0
check() { # name ok-expression message
	if [ "$2" = 1 ]; then :; else echo "chaos: FAILED: $1: $3" >&2; fail=1; fi
}
completed=$(jq '[.[] | select(.status == "completed")] | length' "$AC_HOME/tasks.json")
check "all completed" "$([ "$completed" -eq "$N" ] && echo 1)" "$completed of $N"
# Exactly one completed attempt per task, and it is the one whose result
# the task holds (nothing overwritten later).
for id in $(cat "$AC_HOME/ids"); do ac-status --task "$id"; done > "$AC_HOME/records.jsonl"
twice=$(jq -s '[.[] | select(([.attempts[] | select(.outcome == "completed")] | length) != 1)] | length' "$AC_HOME/records.jsonl")
overwritten=$(jq -s '[.[] | select(.result.attempt != ([.attempts[] | select(.outcome == "completed")][0].attempt))] | length' "$AC_HOME/records.jsonl")
check "completed exactly once" "$([ "$twice" -eq 0 ] && echo 1)" "$twice task(s)"
check "no result overwritten" "$([ "$overwritten" -eq 0 ] && echo 1)" "$overwritten task(s)"
# A later attempt never resumes from an older checkpoint than an earlier
# attempt did.
regress=$(awk '$1 == "START" { if (($2 in from) && $4 < from[$2]) bad++; from[$2] = $4 }
	END { print bad + 0 }' "$CHAOS_LOG")
check "checkpoints only move forward" "$([ "$regress" -eq 0 ] && echo 1)" "$regress attempt(s)"
starts=$(grep -c '^START' "$CHAOS_LOG" || true)
resumed=$(awk '$1 == "START" && $4 > 0' "$CHAOS_LOG" | wc -l)
runs_done=$(awk '$1 == "STEP" && $4 == 3' "$CHAOS_LOG" | wc -l)
printf '{"n":%s,"workers":%s,"concurrency":%s,"kill_every_s":%s,"kills":%s,"restarts_same_id":%s,"restarts_new_id":%s,"completed":%s,"completed_twice":%s,"overwritten":%s,"attempts_started":%s,"re_executions":%s,"resumed_from_checkpoint":%s,"handler_runs_to_the_end":%s,"checkpoint_regressions":%s,"wall_s":%s,"ok":%s}\n' \
	"$N" "$W" "$C" "$KILL_EVERY" "$kills" "$same" "$gen" "$completed" "$twice" \
	"$overwritten" "$starts" "$((starts - N))" "$resumed" "$runs_done" "$regress" \
	"$((t1 - t0))" "$([ $fail -eq 0 ] && echo true || echo false)"
exit $fail
