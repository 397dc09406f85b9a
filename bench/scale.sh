#!/bin/sh
# make bench-scale: ac with a million queued tasks, on a temporary SQLite
# store and then on a throwaway PostgreSQL server (scripts/pgtest.sh;
# skipped with a note when it cannot start, or with BENCH_PG=0).
#
# For each store, in this order:
#   claim_cycle   one worker cycle (complete 8 tasks, claim 8) at queue
#                 depths ~0, 10k and 100k: bench/claimbench, median and p99
#   submit_rate   N (1000000) tasks of one `ac-submit --batch --async`
#   submit_rss    that submitter's peak RSS (GNU time's %M)
#   status_summary, status_queue
#                 `ac-status --json` and `ac-status --queue --json` with the
#                 N tasks queued, median of RUNS (9) runs, process start
#                 included
#   claim_cycle   again, at depth ~N
#   worker_rss    `ac-worker --concurrency C` (8) running /bin/true on the
#                 queue for WORKER_SECONDS (30): VmRSS (and RssAnon) from
#                 /proc/PID/status every half second, the largest seen
# Each measurement is one JSON line on stdout: store, measure, value, unit,
# and what it was measured at.  Needs jq; /usr/bin/time (GNU) for the
# submitter's RSS (null without it).  ROUNDS (2000) claim cycles per depth;
# BENCH_SQLITE=0 leaves SQLite out.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$PATH"
N=${N:-1000000}
ROUNDS=${ROUNDS:-2000}
RUNS=${RUNS:-9}
WORKER_SECONDS=${WORKER_SECONDS:-30}
C=${C:-8}
CLAIMBENCH=${CLAIMBENCH:-$top/build/bench/claimbench}
if [ ! -x "$CLAIMBENCH" ]; then
	echo "scale: no $CLAIMBENCH: run 'make bench-scale'" >&2
	exit 2
fi
command -v jq >/dev/null 2>&1 || { echo "scale: jq is needed" >&2; exit 2; }
AC_HOME=$(mktemp -d "${TMPDIR:-/tmp}/ac-scale.XXXXXX")
export AC_HOME
unset AC_STORE
wpid=
pgdir=
cleanup() {
	[ -z "$wpid" ] || { kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null || true; }
	[ -z "$pgdir" ] || sh "$top/scripts/pgtest.sh" stop "$pgdir" >/dev/null 2>&1 || true
	rm -rf "$AC_HOME" ${pgdir:+"$pgdir"}
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }
# ms T0 T1: milliseconds between two now_ns readings, 1 decimal.
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
# median: of the numbers on stdin, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
say() { echo "scale: $*" >&2; }

# The input: N lines of small JSON documents.
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++)
	printf "{\"doc\":\"s3://bench/docs/%d.pdf\",\"pages\":%d}\n", i, i % 50 + 1 }' \
	>"$AC_HOME/in.jsonl"

# time_status ARGS...: median wall time of RUNS runs of `ac-status ARGS`.
time_status() {
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		t0=$(now_ns)
		ac-status "$@" >"$AC_HOME/status.out"
		t1=$(now_ns)
		ms "$t0" "$t1"
		echo
		i=$((i + 1))
	done | median
}

# scale_run NAME URL: every measurement against one empty store.
scale_run() {
	name=$1
	export AC_STORE="$2"

	for depth in 0 10000 100000; do
		say "$name: claim cycles at depth $depth"
		"$CLAIMBENCH" "$AC_STORE" "$depth" "$ROUNDS"
	done

	say "$name: submitting $N tasks in one batch"
	rss=null
	t0=$(now_ns)
	if [ -x /usr/bin/time ] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
		/usr/bin/time -f %M -o "$AC_HOME/rss" \
			ac-submit --batch --async bench <"$AC_HOME/in.jsonl" >"$AC_HOME/ids"
		rss=$(mib "$(tail -n 1 "$AC_HOME/rss")")
	else
		ac-submit --batch --async bench <"$AC_HOME/in.jsonl" >"$AC_HOME/ids"
	fi
	t1=$(now_ns)
	got=$(wc -l <"$AC_HOME/ids")
	[ "$got" -eq "$N" ] || { say "$name: $got ids printed, not $N"; exit 1; }
	printf '{"store":"%s","measure":"submit_rate","n":%s,"value":%s,"unit":"tasks/s","seconds":%s}\n' \
		"$name" "$N" "$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / ((b - a) / 1e9) }')" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')"
	printf '{"store":"%s","measure":"submit_rss","n":%s,"value":%s,"unit":"MiB"}\n' \
		"$name" "$N" "$rss"

	queued=$(ac-status --json | jq .tasks.queued)
	[ "$queued" -ge "$N" ] || { say "$name: only $queued tasks queued"; exit 1; }
	say "$name: ac-status with $queued tasks queued"
	v=$(time_status --json)
	jq -e --argjson q "$queued" '.tasks.queued == $q' "$AC_HOME/status.out" >/dev/null ||
		{ say "$name: ac-status miscounts"; exit 1; }
	printf '{"store":"%s","measure":"status_summary","queued":%s,"value":%s,"unit":"ms","runs":%s}\n' \
		"$name" "$queued" "$v" "$RUNS"
	v=$(time_status --queue --json)
	jq -e --argjson q "$queued" '[.[].queued] | add == $q' "$AC_HOME/status.out" >/dev/null ||
		{ say "$name: ac-status --queue miscounts"; exit 1; }
	printf '{"store":"%s","measure":"status_queue","queued":%s,"value":%s,"unit":"ms","runs":%s}\n' \
		"$name" "$queued" "$v" "$RUNS"

	say "$name: claim cycles at depth $queued"
	"$CLAIMBENCH" "$AC_STORE" 0 "$ROUNDS"

	say "$name: a worker on the queue for $WORKER_SECONDS s"
	done0=$(ac-status --json | jq .tasks.completed)
	ac-worker --id scale --handler bench=/bin/true --concurrency "$C" --quiet &
	wpid=$!
	max=0 anon=0 first='' last='' samples=0
	t0=$(now_ns)
	while [ "$samples" -lt $((WORKER_SECONDS * 2)) ]; do
		sleep 0.5
		kill -0 "$wpid" 2>/dev/null || { say "$name: the worker died"; exit 1; }
		# Two numbers (kB), split into $1 and $2 on purpose.
		# shellcheck disable=SC2046
		set -- $(awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } END { print r, a }' \
			"/proc/$wpid/status")
		[ -n "$first" ] || first=$1
		last=$1
		[ "$1" -le "$max" ] || max=$1
		[ "$2" -le "$anon" ] || anon=$2
		samples=$((samples + 1))
	done
	done1=$(ac-status --json | jq .tasks.completed)
	t1=$(now_ns)
	kill "$wpid"
	wait "$wpid" || true
	wpid=
	printf '{"store":"%s","measure":"worker_rss","value":%s,"unit":"MiB","first":%s,"last":%s,"anon_max":%s,"samples":%s,"concurrency":%s,"tasks_per_s":%s}\n' \
		"$name" "$(mib "$max")" "$(mib "$first")" "$(mib "$last")" "$(mib "$anon")" \
		"$samples" "$C" \
		"$(awk -v n=$((done1 - done0)) -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / ((b - a) / 1e9) }')"
}

if [ "${BENCH_SQLITE:-1}" = 0 ]; then
	say "SQLite part skipped (BENCH_SQLITE=0)"
else
	scale_run sqlite "$AC_HOME/ac.db"
fi

if [ "${BENCH_PG:-1}" = 0 ]; then
	say "PostgreSQL part skipped (BENCH_PG=0)"
	exit 0
fi
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/ac-scale-pg.XXXXXX")
chmod 755 "$pgdir"
if ! url=$(sh "$top/scripts/pgtest.sh" start "$pgdir"); then
	say "PostgreSQL part skipped: no throwaway server could start (install the postgresql package)"
	exit 0
fi
scale_run postgres "$url"
