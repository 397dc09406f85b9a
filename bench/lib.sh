# shellcheck shell=sh disable=SC2034
# Shared by bench/run.sh and bench/peer-driver.sh (sourced, POSIX sh).
#
# The caller sets: top (the ac tree), BENCH_TMP (a private temporary
# directory, removed by the caller), AC_HOME (exported; inside BENCH_TMP, so
# that workers' sockets and discovery files never land in a real home) and
# BENCH_TIMEOUT (seconds any one wait may take).  Every process started here
# is recorded so that bench_cleanup can end it by its pid.

bench_wpid=
bench_pg_server=
bench_pg_dbs=

bench_log() {
	echo "bench: $*" >&2
}

bench_die() {
	bench_log "$*"
	exit 1
}

bench_now() {
	date +%s.%N
}

# bench_rate N T0 T1: N / (T1 - T0), one decimal.
bench_rate() {
	awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / (b - a) }'
}

# bench_wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds; 1
# when SECONDS pass first.
bench_wait_for() {
	bw_end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$bw_end" ] || return 1
		sleep 0.1
	done
}

bench_version() {
	ac-worker --version | awk '{ print $2 }'
}

# bench_payload N TYPE: N lines of the peers' payload (~200 bytes each:
# id, t0, w, kind, pad), ids 0..N-1; t0 is 0 (the batch runs take no
# latency from it).
bench_payload() {
	awk -v n="$1" -v w="$2" 'BEGIN {
		for (i = 0; i < n; i++) {
			s = sprintf("{\"id\":%d,\"t0\":0,\"w\":\"%s\",\"kind\":\"bench.task\",\"pad\":\"", i, w)
			pad = 200 - length(s) - 2
			p = ""
			while (length(p) < pad) p = p "x"
			print s p "\"}"
		}
	}'
}

# bench_worker_up ID: the worker is listed live by ac-status.
bench_worker_up() {
	ac-status --workers --json 2>/dev/null | jq -en --arg id "$1" \
		'input | any(.[]; .id == $id and (.status == "idle" or .status == "busy"))' \
		>/dev/null 2>&1
}

# bench_start_worker ID LOG ARGS...: ac-worker --id ID ARGS... in the
# background (store: $AC_STORE), logging to LOG; returns once it is listed.
bench_start_worker() {
	bs_id=$1 bs_log=$2
	shift 2
	ac-worker --id "$bs_id" --quiet "$@" </dev/null >>"$bs_log" 2>&1 &
	bench_wpid=$!
	if ! bench_wait_for 30 bench_worker_up "$bs_id"; then
		bench_log "worker $bs_id did not come up in 30 s; its log:"
		sed 's/^/bench:   /' "$bs_log" >&2
		return 1
	fi
}

# bench_alive PID: the process exists and is not a zombie (a child that
# exited stays one until waited for, and kill -0 would still find it).
bench_alive() {
	[ -r "/proc/$1/stat" ] || return 1
	[ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]
}

# bench_stop_worker: TERM (it drains: nothing runs by now), KILL if it is
# still there after 20 s.
bench_stop_worker() {
	[ -n "$bench_wpid" ] || return 0
	kill "$bench_wpid" 2>/dev/null || true
	bst_i=0
	while bench_alive "$bench_wpid" && [ "$bst_i" -lt 200 ]; do
		sleep 0.1
		bst_i=$((bst_i + 1))
	done
	kill -9 "$bench_wpid" 2>/dev/null || true
	wait "$bench_wpid" 2>/dev/null || true
	bench_wpid=
}

# bench_completed: the number of completed tasks in the store ($AC_STORE).
bench_completed() {
	ac-status --json 2>/dev/null | jq '.tasks.completed // 0'
}

bench_completed_is() {
	[ "$(bench_completed)" = "$1" ]
}

# bench_no_failures: nothing in the store ended otherwise than completed.
bench_no_failures() {
	ac-status --json | jq -e '[.tasks.failed, .tasks.timeout, .tasks.cancelled,
		.tasks.expired] | map(. // 0) | add == 0' >/dev/null
}

# bench_timed OUT CMD...: run CMD (stdin passed on) under the timeout,
# stdout to OUT; sets bench_t0 and bench_t1 around it.
bench_timed() {
	bt_out=$1 bt_rc=0
	shift
	bench_t0=$(bench_now)
	timeout -k 5 "$BENCH_TIMEOUT" "$@" >"$bt_out" || bt_rc=$?
	bench_t1=$(bench_now)
	return $bt_rc
}

# bench_pg_url_with_db URL DB: URL naming database DB instead of its own
# (a query string is kept).
bench_pg_url_with_db() {
	bu_base=${1%%\?*}
	bu_query=${1#"$bu_base"}
	case ${bu_base#*://} in
	*/*) bu_base=${bu_base%/*} ;;
	esac
	printf '%s/%s%s\n' "$bu_base" "$2" "$bu_query"
}

# bench_pg_new_db SERVER-URL NAME: a new empty database NAME on the server,
# its URL in bench_pg_url (not printed: it must run in this shell, so that
# bench_cleanup knows to drop it).
bench_pg_new_db() {
	psql "$1" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$2\"" >&2 ||
		return 1
	bench_pg_server=$1
	bench_pg_dbs="$bench_pg_dbs $2"
	bench_pg_url=$(bench_pg_url_with_db "$1" "$2")
}

# bench_cleanup: the worker, then the databases made here.
bench_cleanup() {
	bench_stop_worker
	for bc_db in $bench_pg_dbs; do
		psql "$bench_pg_server" -X -q -c "DROP DATABASE IF EXISTS \"$bc_db\" WITH (FORCE)" \
			>/dev/null 2>&1 || bench_log "could not drop database $bc_db"
	done
	bench_pg_dbs=
}

# bench_emit WORKLOAD N C ENQ DRAIN P50 P99 NOTES: one line in the peer
# harness's format (numbers may be null).
bench_emit() {
	jq -nc --arg version "$(bench_version)" --arg workload "$1" \
		--argjson n "$2" --argjson c "$3" --argjson enq "$4" \
		--argjson drain "$5" --argjson p50 "$6" --argjson p99 "$7" \
		--arg notes "$8" \
		'{peer: "ac", version: $version, workload: $workload, n: $n,
		  c: $c, enqueue_per_s: $enq, drain_per_s: $drain,
		  p50_ms: $p50, p99_ms: $p99, notes: $notes}'
}
