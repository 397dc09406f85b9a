#!/usr/bin/env bats
# The benchmarks, run small: bench/run.sh (what `make bench` runs) and
# bench/peer-driver.sh print JSON lines in the peer harness's format with
# every key, the rates and latencies they claim, every task completed and
# no process left behind; build/bench/acload's own checks.  Sizes are tiny:
# these tests say that the benchmarks work, never how fast anything is.

load helpers

ACLOAD=$AC_ROOT/build/bench/acload

setup() {
	ac_setup
	[ -x "$ACLOAD" ] || fail "$ACLOAD is missing (make build/bench/acload; make check builds it)"
}

teardown() {
	local rc=0
	# The workers start_worker started are ac_teardown's to end; any
	# other process of this test still there after it is a leftover.
	ac_teardown || rc=1
	leftovers || rc=1
	return $rc
}

# leftovers: no process that this test started (its environment names this
# test's directory) outlives the benchmark that started it; any found is
# named, killed and a failure.
leftovers() {
	local pid comm found=0
	while read -r pid comm; do
		case $comm in
		ac-worker | ac-submit | acload | stream-noop | true) ;;
		*) continue ;;
		esac
		ours "$pid" || continue
		echo "# left running: $pid $comm" >&2
		kill -9 "$pid" 2>/dev/null
		found=1
	done < <(ps -e -o pid=,comm=)
	return $found
}

# check_line LINE PEER WORKLOAD N: one line of the harness's format, with
# the numbers an ac line (or the xargs baseline) must have.
check_line() {
	local line=$1 peer=$2 workload=$3 n=$4
	jq -e --arg peer "$peer" --arg wl "$workload" --argjson n "$n" '
		def pos: type == "number" and . > 0;
		(keys == (["peer", "version", "workload", "n", "c",
			"enqueue_per_s", "drain_per_s", "p50_ms", "p99_ms",
			"notes"] | sort)) and
		.peer == $peer and .workload == $wl and .n == $n and
		(.c | pos) and (.version | type == "string" and length > 0) and
		(.drain_per_s | pos) and (.notes | type == "string" and length > 0) and
		if $peer == "xargs" then true else
			(.enqueue_per_s | pos) and (.p50_ms | pos) and
			(.p99_ms | pos) and .p99_ms >= .p50_ms
		end' <<<"$line" >/dev/null ||
		fail "not a valid $peer $workload line of $n tasks: $line"
}

@test "bench/run.sh: xargs, exec and stream mode on SQLite (and PostgreSQL when the suite has a server), one valid JSON line each" {
	local pg=0
	if [ -n "${AC_TEST_PG_URL:-}" ]; then
		pg=1
		export BENCH_PG_URL=$AC_TEST_PG_URL
	else
		export BENCH_PG=0
	fi
	run -0 --separate-stderr env N=200 SPAWN_N=60 LAT_N=40 LAT_RATE=400 \
		SPAWN_LAT_N=20 SPAWN_LAT_RATE=200 C=4 BENCH_TIMEOUT=60 \
		AC_BENCH_BIN="$AC_BIN" timeout -k 5 120 sh "$AC_ROOT/bench/run.sh"
	local -a lines
	mapfile -t lines <<<"$output"
	assert_eq "${#lines[@]}" $((3 + 2 * pg)) "lines printed ($output)"
	check_line "${lines[0]}" xargs spawn 60
	check_line "${lines[1]}" ac spawn 60
	check_line "${lines[2]}" ac noop 200
	assert_contains "${lines[1]}" "exec mode" "notes of the exec line"
	assert_contains "${lines[1]}" "SQLite" "notes of the exec line"
	assert_contains "${lines[2]}" "stream mode" "notes of the stream line"
	assert_contains "${lines[2]}" "SQLite" "notes of the stream line"
	# Every batch task and every latency task completed.
	assert_contains "${lines[1]}" "all 140 tasks completed" "exec line"
	assert_contains "${lines[2]}" "all 440 tasks completed" "stream line"
	if ((pg)); then
		check_line "${lines[3]}" ac noop 200
		check_line "${lines[4]}" ac spawn 60
		assert_contains "${lines[3]}" "PostgreSQL" "notes of the PostgreSQL stream line"
		assert_contains "${lines[4]}" "PostgreSQL" "notes of the PostgreSQL exec line"
		# The databases made for the run are gone.
		assert_eq "$(psql "$AC_TEST_PG_URL" -XAtc "SELECT count(*) FROM pg_database WHERE datname LIKE 'acbench_%'")" 0 "databases left"
	fi
}

@test "bench/peer-driver.sh: exactly one valid line for WORKLOAD=noop and for spawn" {
	local wl
	for wl in noop spawn; do
		run -0 --separate-stderr env WORKLOAD=$wl N=50 C=4 LAT_N=20 \
			LAT_RATE=200 BENCH_TIMEOUT=60 AC_BENCH_BIN="$AC_BIN" \
			timeout -k 5 90 sh "$AC_ROOT/bench/peer-driver.sh"
		assert_eq "$(grep -c '' <<<"$output")" 1 "stdout lines of $wl ($output)"
		check_line "$output" ac $wl 50
		assert_contains "$output" "SQLite" "$wl notes"
		assert_contains "$output" "(task_ends)=50" "$wl completions"
		assert_contains "$output" "lat n=20 " "$wl latency tasks"
	done
	assert_contains "$(jq -r .notes <<<"$output")" "exec mode" "spawn notes"
	run -1 --separate-stderr env WORKLOAD=bogus sh "$AC_ROOT/bench/peer-driver.sh"
	assert_eq "$output" "" "stdout of a bad WORKLOAD"
	assert_contains "$stderr" "unknown WORKLOAD" "stderr of a bad WORKLOAD"
}

@test "bench/peer-driver.sh: AC_BENCH_STORE=postgres://... runs in a fresh database and drops it" {
	[ -n "${AC_TEST_PG_URL:-}" ] ||
		skip "no PostgreSQL server: AC_TEST_PG_URL is unset (tests/run.sh starts one unless AC_TEST_PG=0)"
	run -0 --separate-stderr env WORKLOAD=noop N=50 C=4 LAT_N=20 \
		LAT_RATE=200 BENCH_TIMEOUT=60 AC_BENCH_BIN="$AC_BIN" \
		AC_BENCH_STORE="$AC_TEST_PG_URL" \
		timeout -k 5 90 sh "$AC_ROOT/bench/peer-driver.sh"
	check_line "$output" ac noop 50
	assert_contains "$output" "PostgreSQL" notes
	assert_contains "$output" "a fresh database" notes
	assert_eq "$(psql "$AC_TEST_PG_URL" -XAtc "SELECT count(*) FROM pg_database WHERE datname LIKE 'acpeer_%'")" 0 "databases left"
}

@test "acload: usage errors, every task checked, a wait that runs out" {
	run -2 --separate-stderr "$ACLOAD" latency noop 10
	assert_usage_error acload
	run -2 --separate-stderr "$ACLOAD" latency noop 10 0
	assert_usage_error acload
	run -2 --separate-stderr "$ACLOAD" flood noop 10
	assert_usage_error acload
	run -2 --separate-stderr "$ACLOAD" drain 'no such type' 10
	assert_usage_error acload

	# No worker: the tasks stay queued and the wait gives up.
	run -3 --separate-stderr "$ACLOAD" --timeout 1 drain noop 5
	assert_contains "$stderr" "0 of 5 tasks ended" "message"

	# A handler that fails: acload says so and exits 1.
	start_worker lw --handler noop=/bin/false --concurrency 2
	run -1 --separate-stderr "$ACLOAD" --timeout 30 latency noop 5 100
	assert_contains "$stderr" "5 of 5 tasks did not complete" "message"
	assert_eq "$(jq .completed <<<"$output")" 0 "completed"

	# The same with /bin/true: every task completed, latency from the
	# store's finished time (exec mode prints no t1).
	start_worker lw2 --handler tru=/bin/true --concurrency 2
	run -0 --separate-stderr "$ACLOAD" --timeout 30 latency tru 5 100
	assert_eq "$(jq -c '[.completed, .latency_end, (.p50_ms > 0)]' <<<"$output")" '[5,"finished",true]' "acload output"
}
