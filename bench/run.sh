#!/bin/sh
# make bench: ac's exec mode against the xargs baseline, run back to back,
# on a SQLite store and then on a throwaway PostgreSQL server
# (scripts/pgtest.sh; skipped with a note when it cannot start, or with
# BENCH_PG=0), printed as JSON lines in the peer harness's format
# (../shared/bench/peers: peer, version, workload, n, c, enqueue_per_s,
# drain_per_s, p50_ms, p99_ms, notes).
#   N (5000) tasks, C (8) concurrency, LAT_N (300) paced tasks at LAT_RATE/s (100).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$PATH"
N=${N:-5000} C=${C:-8} LAT_N=${LAT_N:-300} LAT_RATE=${LAT_RATE:-100}
AC_HOME=$(mktemp -d "${TMPDIR:-/tmp}/ac-bench.XXXXXX")
export AC_HOME
unset AC_STORE
wpid=
pgdir=
cleanup() {
	[ -z "$wpid" ] || { kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null || true; }
	[ -z "$pgdir" ] || sh "$top/scripts/pgtest.sh" stop "$pgdir" >/dev/null 2>&1 || true
	rm -rf "$AC_HOME" ${pgdir:+"$pgdir"}
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / (b - a) }'; }

# Baseline: no queue at all.
t0=$(now)
seq "$N" | xargs -P "$C" -n1 /bin/true
t1=$(now)
printf '{"peer":"xargs","version":"%s","workload":"spawn","n":%s,"c":%s,"enqueue_per_s":null,"drain_per_s":%s,"p50_ms":null,"p99_ms":null,"notes":"seq N | xargs -P C -n1 /bin/true"}\n' \
	"$(xargs --version | head -1 | awk '{print $NF}')" "$N" "$C" "$(rate "$N" "$t0" "$t1")"

# bench_ac STORE NOTE: the exec-mode workload against one store.
bench_ac() {
export AC_STORE="$1"
ac-worker --id bench --handler true=/bin/true --concurrency "$C" --quiet &
wpid=$!
until ac-status --workers 2>/dev/null | jq -en 'input | length == 1' >/dev/null 2>&1; do sleep 0.05; done

seq "$N" | jq -c '{id: ., pad: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}' > "$AC_HOME/in.jsonl"
# Drain: the waiting submit returns when the last result is in.
t0=$(now)
ac-submit --batch true < "$AC_HOME/in.jsonl" > /dev/null
t2=$(now)
drain=$(rate "$N" "$t0" "$t2")
# Enqueue alone: the worker drained, so nothing competes with the submit.
ac-drain bench
t0=$(now)
ac-submit --batch --async true < "$AC_HOME/in.jsonl" > "$AC_HOME/ids"
t1=$(now)
enq=$(rate "$N" "$t0" "$t1")
ac-drain --undo bench
while [ "$(ac-status | jq .tasks.completed)" -lt $((2 * N)) ]; do sleep 0.2; done

# Latency: tasks submitted one by one at LAT_RATE/s; created -> finished as
# the store recorded them.
i=0
gap=$(awk -v r="$LAT_RATE" 'BEGIN { printf "%.4f", 1 / r }')
while [ $i -lt "$LAT_N" ]; do
	echo '{}' | ac-submit --async --meta bench=latency true >/dev/null
	sleep "$gap"
	i=$((i + 1))
done
while [ "$(ac-status | jq .tasks.completed)" -lt $((2 * N + LAT_N)) ]; do sleep 0.05; done
lat=$(ac-status --tasks --status completed --limit "$LAT_N" | jq -r '
	def ms: sub("Z$"; "") | split(".") as $p |
		(($p[0] + "Z" | fromdateiso8601) * 1000 + ($p[1] | tonumber));
	[.[] | (.finished | ms) - (.created | ms)] | sort |
	"\(.[(length * 0.5 | floor)]) \(.[(length * 0.99 | floor)])"')
p50=${lat% *} p99=${lat#* }
printf '{"peer":"ac","version":"%s","workload":"spawn","n":%s,"c":%s,"enqueue_per_s":%s,"drain_per_s":%s,"p50_ms":%s,"p99_ms":%s,"notes":"exec mode, /bin/true handler, %s, one --batch transaction; latency = store created->finished of %s tasks at %s/s"}\n' \
	"$(ac-worker --version | awk '{print $2}')" "$N" "$C" "$enq" "$drain" "$p50" "$p99" "$2" "$LAT_N" "$LAT_RATE"
kill "$wpid"
wait "$wpid" 2>/dev/null || true
wpid=
}

bench_ac "$AC_HOME/ac.db" "SQLite WAL store (synchronous=NORMAL)"

if [ "${BENCH_PG:-1}" = 0 ]; then
	echo "bench: PostgreSQL part skipped (BENCH_PG=0)" >&2
	exit 0
fi
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/ac-bench-pg.XXXXXX")
chmod 755 "$pgdir"
if ! url=$(sh "$top/scripts/pgtest.sh" start "$pgdir"); then
	echo "bench: PostgreSQL part skipped: no throwaway server could start (install the postgresql package)" >&2
	exit 0
fi
bench_ac "$url" "PostgreSQL $(psql "$url" -Atc 'show server_version' | cut -d' ' -f1) store (fsync on, synchronous_commit on), loopback"
