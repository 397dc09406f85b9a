#!/bin/sh
# make bench-flow: what flow control costs a claim.  One stream-mode worker
# (--concurrency C, build/examples/stream-noop) drains N noop tasks through
# a waiting `ac-submit --batch` on a fresh store, once per setting of
# `ac-queue limit noop`:
#
#   none         no control: the claim's fast path
#   cap          --concurrency C (binds exactly at the worker's slots)
#   rate         --rate 1000000/s --burst 1000000 (a bucket that never runs
#                dry: its buckets refill by the millisecond, so a small burst
#                would itself cap claims at BURST a millisecond)
#   fair         --fair (round-robin over keys; all tasks under one key)
#   per-key      --per-key C (all tasks under one key)
#
# Each setting runs ROUNDS times (3), the settings interleaved so that the
# machine's drift falls on all alike; one JSON line per setting in the peer
# harness's format gives the median drain_per_s and, in notes, every round
# and the ratio to "none".  SQLite, then PostgreSQL on a throwaway server
# (BENCH_PG=0 skips it).  Environment: N (5000), C (8), ROUNDS (3),
# BENCH_TIMEOUT (600).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
PATH="${AC_BENCH_BIN:-$top/bin}:$top/bin:$PATH"
NOOP=$top/build/examples/stream-noop
N=${N:-5000} C=${C:-8} ROUNDS=${ROUNDS:-3}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
[ -x "$NOOP" ] || bench_die "$NOOP is missing (run make)"
unset AC_STORE AC_TOKEN AC_TOKEN_FILE

BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ac-bench-flow.XXXXXX")
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

SETTINGS="none cap rate fair per-key"
limit_args() {
	case $1 in
	none) ;;
	cap) echo "--concurrency $C" ;;
	rate) echo "--rate 1000000/s --burst 1000000" ;;
	fair) echo "--fair" ;;
	per-key) echo "--per-key $C" ;;
	esac
}

bench_payload "$N" noop >"$BENCH_TMP/in.jsonl"

# one_round SETTING STORE-URL: drain_per_s of N tasks on a fresh store.
one_round() {
	export AC_STORE="$2"
	args=$(limit_args "$1")
	# shellcheck disable=SC2086
	[ -z "$args" ] || ac-queue limit noop $args >/dev/null ||
		bench_die "ac-queue limit noop $args failed"
	log=$BENCH_TMP/worker.log
	bench_start_worker bench-flow "$log" --concurrency "$C" \
		--stream "noop=$NOOP" || bench_die "no worker ($1)"
	bench_timed "$BENCH_TMP/out" ac-submit --batch --key tenant noop \
		<"$BENCH_TMP/in.jsonl" ||
		bench_die "$1: ac-submit --batch failed (worker log: $(tail -n 3 "$log"))"
	[ "$(grep -c '' "$BENCH_TMP/out")" -eq "$N" ] ||
		bench_die "$1: $N tasks but $(grep -c '' "$BENCH_TMP/out") results"
	bench_stop_worker
	bench_rate "$N" "$bench_t0" "$bench_t1"
}

# run_store NOTE NEW-STORE-COMMAND: every round of every setting; the
# command sets `url` to a fresh store named after its argument.
run_store() {
	note=$1 newurl=$2
	for s in $SETTINGS; do : >"$BENCH_TMP/rates.$s"; done
	r=0
	while [ "$r" -lt "$ROUNDS" ]; do
		for s in $SETTINGS; do
			$newurl "flow_$(echo "$s" | tr - _)_$r"
			rate=$(one_round "$s" "$url")
			echo "$rate" >>"$BENCH_TMP/rates.$s"
		done
		r=$((r + 1))
	done
	base=$(sort -n "$BENCH_TMP/rates.none" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	for s in $SETTINGS; do
		med=$(sort -n "$BENCH_TMP/rates.$s" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
		rounds=$(paste -sd, "$BENCH_TMP/rates.$s")
		ratio=$(awk -v a="$med" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
		lim=$(limit_args "$s")
		[ -n "$lim" ] || lim="no limit"
		bench_emit noop "$N" "$C" null "$med" null null \
			"flow control '$s' ($lim), $note; stream mode, 1 worker, --concurrency $C, tasks under one route key; drain: waiting ac-submit --batch; median of $ROUNDS rounds [$rounds]; $ratio x the median without control"
	done
}

sqlite_url() {
	url=$BENCH_TMP/$1.db
}
run_store "SQLite WAL store" sqlite_url

[ "${BENCH_PG:-1}" = 0 ] && exit 0
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/ac-bench-pg.XXXXXX")
chmod 755 "$pgdir"
if ! server=$(sh "$top/scripts/pgtest.sh" start "$pgdir"); then
	bench_log "PostgreSQL part skipped: no throwaway server could start"
	exit 0
fi
pg_url() {
	bench_pg_new_db "$server" "$1" || bench_die "cannot make database $1"
	url=$bench_pg_url
}
run_store "PostgreSQL, a throwaway server (fsync on)" pg_url
