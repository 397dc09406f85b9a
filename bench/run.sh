#!/bin/sh
# make bench: ac beside the xargs baseline, back to back, printed as JSON
# lines in the peer harness's format (../shared/bench/peers: peer, version,
# workload, n, c, enqueue_per_s, drain_per_s, p50_ms, p99_ms, notes):
#
#   xargs    spawn  seq SPAWN_N | xargs -P C -n1 /bin/true
#   ac       spawn  exec mode, /bin/true per task, SQLite
#   ac       noop   stream mode, build/examples/stream-noop, SQLite
#   ac       noop   stream mode, PostgreSQL
#   ac       spawn  exec mode, PostgreSQL
#
# Every ac line: one ac-worker (--concurrency C) started first and idle;
# enqueue_per_s = tasks / wall time of `ac-submit --batch --async` (one
# transaction, then the poke) with the worker running, as the peers measure
# it; drain_per_s = tasks / wall time of a waiting `ac-submit --batch`
# (submit -> last result read); p50/p99 from build/bench/acload, a
# long-lived producer submitting one task at a time (noop: LAT_N at
# LAT_RATE/s, latency = the handler's t1 - t0 at submit; spawn: SPAWN_LAT_N
# at SPAWN_LAT_RATE/s, latency = the store's finished time - t0).
#
# PostgreSQL: a throwaway server (scripts/pgtest.sh), or with BENCH_PG_URL
# a server that runs already (fresh databases are made on it and dropped);
# BENCH_PG=0 skips it, and so does a server that cannot start (with a note).
#
# Environment: N (noop tasks, 20000), C (8); SPAWN_N (N/4), LAT_N (N/10),
# LAT_RATE (500), SPAWN_LAT_N (N/20), SPAWN_LAT_RATE (100): at the default N
# the peers' sizes, and all small for a smoke run such as N=2000;
# BENCH_TIMEOUT (seconds any one step may take, 600); AC_BENCH_BIN (the ac
# binaries, default bin/).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
PATH="${AC_BENCH_BIN:-$top/bin}:$top/bin:$PATH"
ACLOAD=$top/build/bench/acload
NOOP=$top/build/examples/stream-noop
N=${N:-20000} C=${C:-8}
SPAWN_N=${SPAWN_N:-$(( N / 4 > 0 ? N / 4 : 1 ))}
LAT_N=${LAT_N:-$(( N / 10 > 0 ? N / 10 : 1 ))} LAT_RATE=${LAT_RATE:-500}
SPAWN_LAT_N=${SPAWN_LAT_N:-$(( N / 20 > 0 ? N / 20 : 1 ))}
SPAWN_LAT_RATE=${SPAWN_LAT_RATE:-100}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
for f in "$ACLOAD" "$NOOP"; do
	[ -x "$f" ] || bench_die "$f is missing (run make bench)"
done
unset AC_STORE AC_TOKEN AC_TOKEN_FILE

BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ac-bench.XXXXXX")
AC_HOME=$BENCH_TMP/home
export AC_HOME
pgdir=
cleanup() {
	bench_cleanup
	[ -z "$pgdir" ] || sh "$top/scripts/pgtest.sh" stop "$pgdir" >/dev/null 2>&1 || true
	rm -rf "$BENCH_TMP" ${pgdir:+"$pgdir"}
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bench_ac MODE STORE-URL STORE-NOTE: one ac line.  MODE exec runs the
# spawn workload (/bin/true per task), MODE stream the noop workload.
bench_ac() {
	mode=$1 store_note=$3
	export AC_STORE="$2"
	if [ "$mode" = exec ]; then
		type=spawn n=$SPAWN_N ln=$SPAWN_LAT_N lr=$SPAWN_LAT_RATE
		set -- --handler spawn=/bin/true
		what="exec mode, a /bin/true process per task"
		latwhat="the store's finished time (ms resolution) - t0 at submit"
	else
		type=noop n=$N ln=$LAT_N lr=$LAT_RATE
		set -- --stream "noop=$NOOP"
		what="stream mode, C long-lived stream-noop handlers"
		latwhat="the handler's t1 - t0 at submit"
	fi
	log=$BENCH_TMP/worker-$mode.log
	bench_start_worker "bench-$mode" "$log" --concurrency "$C" "$@" ||
		bench_die "$mode mode on $store_note: no worker"
	bench_payload "$n" "$type" >"$BENCH_TMP/in.jsonl"

	# Drain: the waiting submit returns once the last result is read.
	# Its exit status is 0 only when every task completed.
	bench_timed "$BENCH_TMP/out" ac-submit --batch "$type" <"$BENCH_TMP/in.jsonl" ||
		bench_die "$mode mode on $store_note: ac-submit --batch failed (worker log: $(tail -n 3 "$log"))"
	drain=$(bench_rate "$n" "$bench_t0" "$bench_t1")
	[ "$(grep -c '' "$BENCH_TMP/out")" -eq "$n" ] ||
		bench_die "$mode mode on $store_note: $n tasks but $(grep -c '' "$BENCH_TMP/out") results"

	# Enqueue: the worker runs and takes the tasks as they come, like the
	# peers' workers; then wait for them all before the latency run.
	bench_timed "$BENCH_TMP/ids" ac-submit --batch --async "$type" <"$BENCH_TMP/in.jsonl" ||
		bench_die "$mode mode on $store_note: ac-submit --batch --async failed"
	enq=$(bench_rate "$n" "$bench_t0" "$bench_t1")
	bench_wait_for "$BENCH_TIMEOUT" bench_completed_is $((2 * n)) ||
		bench_die "$mode mode on $store_note: the enqueued tasks did not all complete (completed: $(bench_completed))"

	# Latency: one long-lived producer, one task a submit call, paced.
	timeout -k 5 "$BENCH_TIMEOUT" "$ACLOAD" --timeout "$BENCH_TIMEOUT" \
		latency "$type" "$ln" "$lr" >"$BENCH_TMP/lat.json" ||
		bench_die "$mode mode on $store_note: acload latency failed"
	if ! bench_no_failures || ! bench_completed_is $((2 * n + ln)); then
		bench_die "$mode mode on $store_note: not every task completed: $(ac-status --json | jq -c .tasks)"
	fi
	bench_stop_worker

	bench_emit "$type" "$n" "$C" "$enq" "$drain" \
		"$(jq .p50_ms "$BENCH_TMP/lat.json")" "$(jq .p99_ms "$BENCH_TMP/lat.json")" \
		"$what, $store_note; 1 worker, --concurrency $C; enqueue: ac-submit --batch --async, one transaction, worker running; drain: waiting ac-submit --batch, submit -> last result read; all $((2 * n + ln)) tasks completed; latency: $ln tasks at $lr/s from acload (one submit call + poke each), $latwhat"
}

# Baseline: no queue at all.
t0=$(bench_now)
seq "$SPAWN_N" | xargs -P "$C" -n1 /bin/true
t1=$(bench_now)
jq -nc --arg version "$(xargs --version | head -n 1 | awk '{ print $NF }')" \
	--argjson n "$SPAWN_N" --argjson c "$C" \
	--argjson drain "$(bench_rate "$SPAWN_N" "$t0" "$t1")" \
	'{peer: "xargs", version: $version, workload: "spawn", n: $n, c: $c,
	  enqueue_per_s: null, drain_per_s: $drain, p50_ms: null, p99_ms: null,
	  notes: "seq N | xargs -P C -n1 /bin/true"}'

sqlite_note="SQLite WAL store (synchronous=NORMAL)"
bench_ac exec "$BENCH_TMP/exec.db" "$sqlite_note"
bench_ac stream "$BENCH_TMP/stream.db" "$sqlite_note"

if [ "${BENCH_PG:-1}" = 0 ]; then
	bench_log "PostgreSQL part skipped (BENCH_PG=0)"
	exit 0
fi
if [ -n "${BENCH_PG_URL:-}" ]; then
	server=$BENCH_PG_URL
	pg_where="a running server"
else
	pgdir=$(mktemp -d "${TMPDIR:-/tmp}/ac-bench-pg.XXXXXX")
	chmod 755 "$pgdir"
	if ! server=$(sh "$top/scripts/pgtest.sh" start "$pgdir"); then
		bench_log "PostgreSQL part skipped: no throwaway server could start (install the postgresql package)"
		exit 0
	fi
	pg_where="a throwaway server (fsync on, synchronous_commit on)"
fi
pg_note="PostgreSQL $(psql "$server" -XAtc 'show server_version' | cut -d' ' -f1) store on $pg_where, loopback TCP, a fresh database"
db=acbench_$$_$(date +%s)
bench_pg_new_db "$server" "${db}_s" || bench_die "cannot create a database on $server"
bench_ac stream "$bench_pg_url" "$pg_note"
bench_pg_new_db "$server" "${db}_e" || bench_die "cannot create a database on $server"
bench_ac exec "$bench_pg_url" "$pg_note"
