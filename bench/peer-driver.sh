#!/bin/sh
# ac as one more peer of the job-queue harness in ../shared/bench/peers: a
# driver that follows its protocol, so that ac's numbers come out of the
# same run, measured the same way, as beanstalkd's or bullmq's:
#
#   cd ../shared/bench/peers && . ./env.sh &&
#   WORKLOAD=noop N=20000 C=8 LAT_N=2000 LAT_RATE=500 sh /path/to/ac/bench/peer-driver.sh
#
# Environment (the harness's): WORKLOAD noop|spawn, N, C, LAT_N, LAT_RATE.
# noop: one ac-worker in stream mode, C long-lived build/examples/stream-noop
# handlers; spawn: one ac-worker in exec mode, a /bin/true process per task.
# The worker is started first and idle; build/bench/acload, one long-lived
# producer, enqueues N tasks in submit calls of 500 (each poked) while the
# worker consumes them: enqueue_per_s = N / enqueue time, drain_per_s = N /
# (first submit -> last result read from the store).  Then LAT_N tasks one
# a call at LAT_RATE/s: p50/p99 of the handler's t1 - t0 at submit (noop),
# or the store's finished time - t0 (spawn: /bin/true prints no result).
#
# Store: a temporary SQLite file by default.  AC_BENCH_STORE=postgres://…
# uses that PostgreSQL server instead, in a fresh database made for the run
# and dropped after it (AC_BENCH_FRESH_DB=0 uses the named database as it
# is); the harness's server is postgres://postgres@127.0.0.1:5440/bench.
#
# Exactly one JSON line on stdout (peer, version, workload, n, c,
# enqueue_per_s, drain_per_s, p50_ms, p99_ms, notes); progress and errors on
# stderr.  Exit 0 when every task completed.  The binaries are those of
# the ac tree this file is in; missing ones are built first (make).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
PATH="${AC_BENCH_BIN:-$top/bin}:$top/bin:$PATH"
ACLOAD=$top/build/bench/acload
NOOP=$top/build/examples/stream-noop
WORKLOAD=${WORKLOAD:-noop} N=${N:-20000} C=${C:-8}
LAT_N=${LAT_N:-2000} LAT_RATE=${LAT_RATE:-500}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
BATCH=500

case $WORKLOAD in
noop | spawn) ;;
*) bench_die "unknown WORKLOAD '$WORKLOAD' (noop or spawn)" ;;
esac
if [ ! -x "$ACLOAD" ] || [ ! -x "$NOOP" ] || [ ! -x "$top/bin/ac-worker" ]; then
	bench_log "building ac in $top"
	make -C "$top" --no-print-directory all build/bench/acload >&2 ||
		bench_die "the build failed"
fi
unset AC_STORE AC_TOKEN AC_TOKEN_FILE

BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ac-peer.XXXXXX")
AC_HOME=$BENCH_TMP/home
export AC_HOME
trap 'bench_cleanup; rm -rf "$BENCH_TMP"' EXIT
trap 'exit 130' INT TERM

case ${AC_BENCH_STORE:-} in
'')
	AC_STORE=$BENCH_TMP/ac.db
	store_note="SQLite WAL store (synchronous=NORMAL), a new file"
	;;
postgres://* | postgresql://*)
	version=$(psql "$AC_BENCH_STORE" -XAtc 'show server_version') ||
		bench_die "cannot reach the PostgreSQL server of AC_BENCH_STORE"
	version=${version%% *}
	if [ "${AC_BENCH_FRESH_DB:-1}" = 0 ]; then
		AC_STORE=$AC_BENCH_STORE
		store_note="PostgreSQL $version store, the database given"
	else
		bench_pg_new_db "$AC_BENCH_STORE" "acpeer_$$_$(date +%s)" ||
			bench_die "cannot create a database on the server of AC_BENCH_STORE"
		AC_STORE=$bench_pg_url
		store_note="PostgreSQL $version store, a fresh database"
	fi
	;;
*)
	bench_die "AC_BENCH_STORE wants a postgres:// or postgresql:// URL (unset: a temporary SQLite store)"
	;;
esac
export AC_STORE

if [ "$WORKLOAD" = noop ]; then
	set -- --stream "noop=$NOOP"
	what="stream mode, C long-lived stream-noop handlers (written in C)"
	latwhat="t1 - t0 at submit"
else
	set -- --handler spawn=/bin/true
	what="exec mode, a /bin/true process per task (vfork+exec by the worker)"
	latwhat="store finished time (ms resolution) - t0 at submit"
fi
bench_log "ac $WORKLOAD: N=$N C=$C, latency $LAT_N @ $LAT_RATE/s, $store_note"
bench_start_worker peer "$BENCH_TMP/worker.log" --concurrency "$C" "$@" ||
	bench_die "no worker"
timeout -k 5 "$BENCH_TIMEOUT" "$ACLOAD" --timeout "$BENCH_TIMEOUT" \
	drain "$WORKLOAD" "$N" "$BATCH" >"$BENCH_TMP/drain.json" ||
	bench_die "the bulk run failed (worker log: $(tail -n 3 "$BENCH_TMP/worker.log"))"
timeout -k 5 "$BENCH_TIMEOUT" "$ACLOAD" --timeout "$BENCH_TIMEOUT" \
	latency "$WORKLOAD" "$LAT_N" "$LAT_RATE" >"$BENCH_TMP/lat.json" ||
	bench_die "the latency run failed (worker log: $(tail -n 3 "$BENCH_TMP/worker.log"))"
bench_stop_worker

d=$BENCH_TMP/drain.json l=$BENCH_TMP/lat.json
bench_emit "$WORKLOAD" "$N" "$C" "$(jq .enqueue_per_s "$d")" "$(jq .drain_per_s "$d")" \
	"$(jq .p50_ms "$l")" "$(jq .p99_ms "$l")" \
	"$what, $store_note; 1 ac-worker --concurrency $C; producer acload (libac, C): submit calls of $BATCH tasks, each one transaction + poke, worker running; completions read from the store (task_ends)=$(jq .completed "$d"); lat n=$(jq .completed "$l") @$LAT_RATE/s, one submit call + poke each ($latwhat)"
