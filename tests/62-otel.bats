#!/usr/bin/env bats
# OpenTelemetry: a W3C traceparent from ac-submit (--traceparent, or
# TRACEPARENT in its environment) travels with the task; a worker with
# OTEL_EXPORTER_OTLP_ENDPOINT exports ac.task.dispatch, ac.task.run and
# ac.checkpoint.write over OTLP/HTTP JSON to a tiny collector
# (tests/otlp-collector.py), and its handler (tests/handlers/trace.sh) gets
# TRACEPARENT with the run span as parent.  A collector that is down or
# answers 503 costs the tasks nothing: spans are dropped and counted.  The
# behaviours that go through the store run on SQLite and again on a
# PostgreSQL database of their own when tests/run.sh started a server.

load helpers

T=4bf92f3577b34da6a3ce929d0e0e4736
P=00f067aa0ba902b7

setup() {
	ac_setup
	unset TRACEPARENT TRACESTATE OTEL_EXPORTER_OTLP_ENDPOINT \
		OTEL_EXPORTER_OTLP_TRACES_ENDPOINT OTEL_SDK_DISABLED \
		OTEL_SERVICE_NAME OTEL_RESOURCE_ATTRIBUTES OTEL_EXPORTER_OTLP_HEADERS
	PG_DB=
	SPANS=$AC_TMP/spans.jsonl
}

teardown() {
	local rc=0
	ac_teardown || rc=$?
	pg_test_db_drop
	return $rc
}

# start_collector [--status CODE]: tests/otlp-collector.py in the
# background, writing to $SPANS; sets COLLECTOR (its http:// address).
start_collector() {
	local port_file=$AC_TMP/collector.port pid
	python3 "$AC_TESTS_DIR/otlp-collector.py" "$SPANS" --port-file "$port_file" \
		"$@" >/dev/null 2>>"$AC_TMP/collector.log" &
	pid=$!
	AC_PIDS+=("$pid")
	wait_until 10 test -s "$port_file" || {
		echo "# the collector did not start" >&2
		return 1
	}
	COLLECTOR=http://127.0.0.1:$(cat "$port_file")
}

# closed_port: a local port nothing listens on (bound, then closed).
closed_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# otel_worker ID ENDPOINT ARGS...: a worker exporting to ENDPOINT in batches
# sent every 100 ms (the tests need not wait a second for each).
otel_worker() {
	local id=$1 endpoint=$2
	shift 2
	OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint OTEL_BSP_SCHEDULE_DELAY=100 \
		start_worker "$id" --metrics 127.0.0.1:0 "$@"
}

# spans: every span the collector received, one compact JSON a line.
spans() {
	[ -f "$SPANS" ] || return 0
	jq -c '.resourceSpans[].scopeSpans[].spans[]' "$SPANS"
}

# span NAME TASK: the span NAME of task TASK (its ac.task.id attribute).
span() {
	spans | jq -c --arg name "$1" --arg task "$2" 'select(.name == $name and
		any(.attributes[]; .key == "ac.task.id" and .value.intValue == $task))' |
		head -n 1
}

# has_span NAME TASK
has_span() {
	[ -n "$(span "$1" "$2")" ]
}

# attr SPAN KEY: the attribute's value (string, or an intValue's digits).
attr() {
	printf '%s\n' "$1" | jq -r --arg key "$2" \
		'.attributes[] | select(.key == $key) | .value | (.stringValue // .intValue)'
}

# metric ID NAME: the value of the worker's metric NAME.
metric() {
	curl -s --max-time 5 "$(worker_field "$1" metrics)/metrics" |
		awk -v name="$2" '$1 == name { print $2 }'
}

# metric_above ID NAME N
metric_above() {
	local v
	v=$(metric "$1" "$2")
	[ -n "$v" ] && [ "$v" -gt "$3" ]
}

# ------------------------------------------------------------ export

otel_spans_nest() {
	local id failed run dispatch ckpt run_id tp
	start_collector
	otel_worker o1 "$COLLECTOR" --handler trace=trace.sh
	run --separate-stderr ac_submit --envelope --traceparent "00-$T-$P-01" trace <<<'{}'
	[ "$status" -eq 0 ] || fail "ac-submit: $status $stderr"
	tp=$(printf '%s' "$output" | jq -r .result.traceparent)
	id=$(printf '%s' "$output" | jq -r .id)
	assert_eq "$(task_field "$id" traceparent)" "00-$T-$P-01" "the stored traceparent"

	wait_until "$AC_WAIT" has_span ac.task.run "$id" || fail "no ac.task.run span: $(cat "$SPANS" 2>/dev/null)"
	wait_until "$AC_WAIT" has_span ac.task.dispatch "$id" || fail "no ac.task.dispatch span"
	wait_until "$AC_WAIT" has_span ac.checkpoint.write "$id" || fail "no ac.checkpoint.write span"
	run=$(span ac.task.run "$id")
	dispatch=$(span ac.task.dispatch "$id")
	ckpt=$(span ac.checkpoint.write "$id")
	run_id=$(printf '%s' "$run" | jq -r .spanId)

	# The submitter's span is the parent of both; the trace is its own.
	for s in "$run" "$dispatch" "$ckpt"; do
		assert_eq "$(printf '%s' "$s" | jq -r .traceId)" "$T" "traceId"
	done
	assert_eq "$(printf '%s' "$run" | jq -r .parentSpanId)" "$P" "run's parent"
	assert_eq "$(printf '%s' "$dispatch" | jq -r .parentSpanId)" "$P" "dispatch's parent"
	assert_eq "$(printf '%s' "$ckpt" | jq -r .parentSpanId)" "$run_id" "checkpoint's parent"
	assert_match "$run_id" '^[0-9a-f]{16}$'
	# The handler's TRACEPARENT names the run span as its parent.
	assert_eq "$tp" "00-$T-$run_id-01" "the handler's TRACEPARENT"

	assert_eq "$(printf '%s' "$run" | jq -r .kind)" 5 "run: CONSUMER"
	assert_eq "$(attr "$run" ac.task.id)" "$id"
	assert_eq "$(attr "$run" ac.task.type)" trace
	assert_eq "$(attr "$run" ac.task.attempt)" 1
	assert_eq "$(attr "$run" ac.worker.id)" o1
	assert_eq "$(attr "$run" ac.task.outcome)" completed
	assert_eq "$(printf '%s' "$run" | jq -r '.status.code // 0')" 0 "run: no error"
	assert_eq "$(printf '%s' "$run" | jq '.attributes[] | select(.key == "ac.task.id") | .value.intValue | type')" '"string"' "intValue as a string"
	# Times as decimal strings, in order: dispatch ends where run starts.
	assert_eq "$(printf '%s' "$dispatch" | jq -r '.endTimeUnixNano == '"$(printf '%s' "$run" | jq .startTimeUnixNano)")" true "dispatch ends as run starts"
	assert_eq "$(printf '%s' "$run" | jq -r '(.startTimeUnixNano | tonumber) <= (.endTimeUnixNano | tonumber)')" true "run's times"
	# The resource says who exported.
	assert_eq "$(jq -r '.resourceSpans[0].resource.attributes[] | select(.key == "service.name") | .value.stringValue' "$SPANS" | head -n 1)" ac-worker
	assert_eq "$(jq -r '.resourceSpans[0].resource.attributes[] | select(.key == "service.instance.id") | .value.stringValue' "$SPANS" | head -n 1)" o1
	assert_eq "$(jq -r '.resourceSpans[0].scopeSpans[0].scope.name' "$SPANS" | head -n 1)" ac

	# An attempt that fails: its run span is an error, with the message.
	failed=$(submit_async trace '{"fail":true}' --traceparent "00-$T-$P-01")
	wait_until "$AC_WAIT" has_span ac.task.run "$failed" || fail "no run span of the failed task"
	run=$(span ac.task.run "$failed")
	assert_eq "$(printf '%s' "$run" | jq -r .status.code)" 2 "failed run: ERROR"
	assert_contains "$(printf '%s' "$run" | jq -r .status.message)" "exit status 1"
	assert_eq "$(attr "$run" ac.task.outcome)" failed
	run metric o1 ac_otel_spans_exported_total
	[ "$output" -ge 6 ] || fail "exported $output spans, not 6 or more"
	assert_eq "$(metric o1 ac_otel_spans_dropped_total)" 0 "nothing dropped"
}

@test "spans reach the collector: dispatch and run under the submitter, checkpoint under run, TRACEPARENT of the handler (sqlite)" {
	otel_spans_nest
}

@test "spans reach the collector: dispatch and run under the submitter, checkpoint under run, TRACEPARENT of the handler (postgres)" {
	pg_test_db
	otel_spans_nest
}

otel_new_trace_and_stream() {
	local id tp run line
	start_collector
	otel_worker o2 "$COLLECTOR" --handler trace=trace.sh --stream echo=stream.py
	# No traceparent: the worker starts a trace; the run span is its root.
	id=$(submit_async trace '{}')
	wait_until "$AC_WAIT" status_is "$id" completed || fail "task $id: $(task_status "$id")"
	tp=$(task_field "$id" result.traceparent)
	wait_until "$AC_WAIT" has_span ac.task.run "$id" || fail "no run span"
	run=$(span ac.task.run "$id")
	assert_eq "$tp" "00-$(printf '%s' "$run" | jq -r .traceId)-$(printf '%s' "$run" | jq -r .spanId)-01" "a new trace"
	assert_eq "$(printf '%s' "$run" | jq -r '.parentSpanId // ""')" "" "the run span is a root"

	# Stream mode: the task line carries "traceparent".
	id=$(submit_async echo '{"op":"echo"}' --traceparent "00-$T-$P-01")
	wait_until "$AC_WAIT" status_is "$id" completed || fail "stream task $id: $(task_status "$id")"
	wait_until "$AC_WAIT" has_span ac.task.run "$id" || fail "no run span of the stream task"
	run=$(span ac.task.run "$id")
	line=$(jq -c --argjson id "$id" 'select(.id == $id)' "$AC_TMP/stream-lines")
	assert_eq "$(printf '%s' "$line" | jq -r .traceparent)" "00-$T-$(printf '%s' "$run" | jq -r .spanId)-01" "the stream line's traceparent"
	assert_eq "$(printf '%s' "$run" | jq -r .parentSpanId)" "$P"
}

@test "exporting: a task without a traceparent starts a trace; stream lines carry \"traceparent\" (sqlite)" {
	otel_new_trace_and_stream
}

@test "exporting: a task without a traceparent starts a trace; stream lines carry \"traceparent\" (postgres)" {
	pg_test_db
	otel_new_trace_and_stream
}

@test "a graceful stop flushes the spans still queued" {
	start_collector
	OTEL_EXPORTER_OTLP_ENDPOINT=$COLLECTOR OTEL_BSP_SCHEDULE_DELAY=600000 \
		start_worker o3 --handler trace=trace.sh
	id=$(submit_async trace '{}' --traceparent "00-$T-$P-01")
	wait_until "$AC_WAIT" status_is "$id" completed
	! has_span ac.task.run "$id"
	stop_worker o3
	has_span ac.task.run "$id"
	has_span ac.task.dispatch "$id"
}

# ------------------------------------------------------------ failures

@test "collector down: the tasks complete, spans are dropped and counted, one warning" {
	local ids
	otel_worker o4 "http://127.0.0.1:$(closed_port)" --handler trace=trace.sh
	ids=$(for i in 1 2 3 4 5; do submit_async trace '{}' --traceparent "00-$T-$P-01"; done)
	for id in $ids; do
		wait_until "$AC_WAIT" status_is "$id" completed || fail "task $id: $(task_status "$id")"
	done
	wait_until "$AC_WAIT" metric_above o4 ac_otel_spans_dropped_total 0 ||
		fail "dropped: $(metric o4 ac_otel_spans_dropped_total)"
	assert_eq "$(metric o4 ac_otel_spans_exported_total)" 0
	metric_above o4 ac_otel_export_failures_total 0
	assert_eq "$(grep -c 'OTLP export to .* failing' "$AC_TMP/o4.log")" 1 "one warning"
}

@test "collector answering 503: the tasks complete, one retry per batch, spans dropped and counted" {
	local ids
	start_collector --status 503
	otel_worker o5 "$COLLECTOR" --handler trace=trace.sh
	id=$(submit_async trace '{}' --traceparent "00-$T-$P-01")
	wait_until "$AC_WAIT" status_is "$id" completed || fail "task $id: $(task_status "$id")"
	wait_until "$AC_WAIT" metric_above o5 ac_otel_spans_dropped_total 0 ||
		fail "dropped: $(metric o5 ac_otel_spans_dropped_total)"
	# Each batch was tried twice: the collector saw every span twice.
	assert_eq "$(spans | jq -r .spanId | sort | uniq -c | awk '{print $1}' | sort -u)" 2 "two tries of each span"
	assert_eq "$(metric o5 ac_otel_spans_exported_total)" 0
	assert_eq "$(grep -c 'OTLP export to .* failing: HTTP 503' "$AC_TMP/o5.log")" 1 "one warning"
}

@test "an https:// endpoint is refused at start: one line, exit 2" {
	OTEL_EXPORTER_OTLP_ENDPOINT=https://127.0.0.1:4318 run --separate-stderr \
		ac-worker --id o6 --handler trace=trace.sh
	[ "$status" -eq 2 ]
	assert_one_stderr_line ac-worker
	assert_contains "$stderr" "https:// is not supported"
}

# ------------------------------------------------------------ no export

otel_no_endpoint() {
	local with without
	start_collector
	# The collector runs, but nothing names it: nothing is sent.
	start_worker o7 --metrics 127.0.0.1:0 --handler trace=trace.sh
	with=$(submit_async trace '{}' --traceparent "00-$T-$P-01")
	without=$(submit_async trace '{}')
	wait_until "$AC_WAIT" status_is "$with" completed
	wait_until "$AC_WAIT" status_is "$without" completed
	# The task's own trace context goes on as it came; none without.
	assert_eq "$(task_field "$with" result.traceparent)" "00-$T-$P-01"
	assert_eq "$(task_field "$without" result.traceparent)" null
	sleep 0.5
	[ ! -s "$SPANS" ]
	assert_eq "$(metric o7 ac_otel_spans_exported_total)" 0
	# OTEL_SDK_DISABLED=true: an endpoint is not enough.
	OTEL_SDK_DISABLED=true otel_worker o8 "$COLLECTOR" --handler trace=trace.sh
	stop_worker o7
	with=$(submit_async trace '{}' --traceparent "00-$T-$P-01")
	wait_until "$AC_WAIT" status_is "$with" completed
	assert_eq "$(task_field "$with" result.traceparent)" "00-$T-$P-01"
	sleep 0.5
	[ ! -s "$SPANS" ]
}

@test "no endpoint (or OTEL_SDK_DISABLED): no export; TRACEPARENT only when the task has one (sqlite)" {
	otel_no_endpoint
}

@test "no endpoint (or OTEL_SDK_DISABLED): no export; TRACEPARENT only when the task has one (postgres)" {
	pg_test_db
	otel_no_endpoint
}

# ------------------------------------------------------------ ac-submit

otel_submit_context() {
	local id before ids
	# TRACEPARENT from the environment, when there is no option.
	id=$(TRACEPARENT="00-$T-$P-01" submit_async trace '{}')
	assert_eq "$(task_field "$id" traceparent)" "00-$T-$P-01" "from TRACEPARENT"
	# The option wins over the environment.
	id=$(TRACEPARENT="00-$T-$P-01" submit_async trace '{}' \
		--traceparent "00-$T-1111111111111111-00")
	assert_eq "$(task_field "$id" traceparent)" "00-$T-1111111111111111-00" "--traceparent wins"
	# A later version is taken by the version-00 rules, stored as 00.
	id=$(submit_async trace '{}' --traceparent "cc-$T-$P-01-extra")
	assert_eq "$(task_field "$id" traceparent)" "00-$T-$P-01" "a later version"
	# An invalid TRACEPARENT: one warning, the task submitted without one.
	run --separate-stderr bash -c "echo '{}' | TRACEPARENT=junk ac-submit --async trace"
	[ "$status" -eq 0 ]
	assert_one_stderr_line ac-submit
	assert_contains "$stderr" "ignoring TRACEPARENT"
	assert_eq "$(task_field "$output" traceparent)" null "no traceparent stored"
	# Every task of a batch gets it.
	ids=$(printf '{}\n{}\n{}\n' | ac-submit --batch --async --traceparent "00-$T-$P-01" trace)
	for id in $ids; do
		assert_eq "$(task_field "$id" traceparent)" "00-$T-$P-01" "batch task $id"
	done
	# An invalid --traceparent: one line, exit 2, nothing stored.
	before=$(task_counts)
	for bad in "junk" "00-$T-$P-1" "ff-$T-$P-01" "00-${T^^}-$P-01" \
		"00-00000000000000000000000000000000-$P-01" "00-$T-0000000000000000-01" \
		"00-$T-$P-01-more"; do
		run --separate-stderr bash -c "echo '{}' | ac-submit --traceparent '$bad' trace"
		[ "$status" -eq 2 ] || fail "--traceparent '$bad': exit $status"
		assert_one_stderr_line ac-submit
		run --separate-stderr bash -c "echo '{}' | ac-submit --batch --traceparent '$bad' trace"
		[ "$status" -eq 2 ] || fail "--batch --traceparent '$bad': exit $status"
	done
	assert_eq "$(task_counts)" "$before" "nothing stored"
}

@test "ac-submit: --traceparent, else TRACEPARENT; invalid option exits 2 storing nothing, invalid env warns (sqlite)" {
	otel_submit_context
}

@test "ac-submit: --traceparent, else TRACEPARENT; invalid option exits 2 storing nothing, invalid env warns (postgres)" {
	pg_test_db
	otel_submit_context
}
