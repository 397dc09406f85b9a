#!/bin/sh
# Pick-up latency with one idle worker: LAT_N tasks submitted one after
# another by a waiting ac-submit.  Prints JSON lines:
#   submit_to_claim: the store's created -> started (claim) times, ms
#   submit_to_result: wall time of the whole `ac-submit` call (process
#     start, commit, poke, handler run, event, result read), ms
# and the idle worker's CPU over IDLE_S seconds.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$PATH"
LAT_N=${LAT_N:-300} IDLE_S=${IDLE_S:-10}
AC_HOME=$(mktemp -d "${TMPDIR:-/tmp}/ac-lat.XXXXXX")
export AC_HOME
unset AC_STORE
wpid=
cleanup() {
	[ -z "$wpid" ] || { kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null || true; }
	rm -rf "$AC_HOME"
}
trap cleanup EXIT INT TERM
ac-worker --id lat --handler noop=/bin/true --concurrency 1 --quiet &
wpid=$!
until ac-status --workers 2>/dev/null | jq -en 'input | length == 1' >/dev/null 2>&1; do sleep 0.05; done
sleep 1
i=0
: > "$AC_HOME/wall"
while [ $i -lt "$LAT_N" ]; do
	t0=$(date +%s%N)
	echo '{}' | ac-submit noop >/dev/null
	t1=$(date +%s%N)
	echo $(( (t1 - t0) / 1000 )) >> "$AC_HOME/wall"
	i=$((i + 1))
done
pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p); if (i < 1) i = 1; printf "%.2f", v[i] / 1000 }'; }
ac-status --tasks --limit "$LAT_N" | jq -r '
	def ms: sub("Z$"; "") | split(".") as $p |
		(($p[0] + "Z" | fromdateiso8601) * 1000 + ($p[1] | tonumber));
	.[] | ((.started | ms) - (.created | ms)) * 1000' > "$AC_HOME/claim"
printf '{"metric":"submit_to_claim","n":%s,"p50_ms":%s,"p99_ms":%s,"notes":"store created->started, ms resolution"}\n' \
	"$LAT_N" "$(pct 0.5 < "$AC_HOME/claim")" "$(pct 0.99 < "$AC_HOME/claim")"
printf '{"metric":"submit_to_result","n":%s,"p50_ms":%s,"p99_ms":%s,"notes":"wall time of each waiting ac-submit process, /bin/true handler"}\n' \
	"$LAT_N" "$(pct 0.5 < "$AC_HOME/wall")" "$(pct 0.99 < "$AC_HOME/wall")"
t0=$(awk '{print $14 + $15}' "/proc/$wpid/stat")
sleep "$IDLE_S"
t1=$(awk '{print $14 + $15}' "/proc/$wpid/stat")
printf '{"metric":"idle_worker_cpu","seconds":%s,"cpu_percent":%s}\n' "$IDLE_S" \
	"$(awk -v d=$((t1 - t0)) -v s="$IDLE_S" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", 100 * d / hz / s }')"
