#!/usr/bin/env bats
# ac-status --serve: the dashboard's JSON endpoints against ac-status's own
# output, the event stream (SSE) against ac-status --follow, read-only and
# token-guarded actions (drain, undo, cancel), the errors and exit codes,
# and the page itself in headless Chromium (tests/dashboard-check.py, only
# in the normal pass on SQLite, skipped when Chromium is not installed).
# The behaviours that touch the store run on SQLite and again on a
# PostgreSQL database of their own when tests/run.sh started a server.

load helpers

setup() {
	ac_setup
	PG_DB=
	SERVE_PID=
}

teardown() {
	local rc=0
	# The server first: its follower connections are the workers' clients.
	stop_serve >/dev/null 2>&1
	ac_teardown || rc=$?
	pg_test_db_drop
	return $rc
}

# start_serve [ARGS...]: ac-status --serve 127.0.0.1:0 ARGS in the
# background (stderr in serve.log); sets SERVE_PID and URL (the address
# it printed, e.g. http://127.0.0.1:41234/, with the real port).
start_serve() {
	setsid env --default-signal=INT ac-status --serve 127.0.0.1:0 "$@" \
		</dev/null >"$AC_TMP/serve.out" 2>"$AC_TMP/serve.log" 3>&- &
	SERVE_PID=$!
	AC_PIDS+=("$SERVE_PID")
	if ! wait_until "$AC_WAIT" grep -q '^ac-status: serving http://' "$AC_TMP/serve.log"; then
		echo "# ac-status --serve did not start; its stderr:" >&2
		sed 's/^/#   /' "$AC_TMP/serve.log" >&2
		return 1
	fi
	URL=$(sed -n 's/^ac-status: serving \(http:[^ ]*\).*/\1/p' "$AC_TMP/serve.log")
	assert_match "$URL" '^http://127\.0\.0\.1:[1-9][0-9]*/$' "the address printed"
}

# stop_serve [SIGNAL]: signal the server (by its pid; default TERM) and
# return its exit status.
stop_serve() {
	[ -n "$SERVE_PID" ] || return 0
	kill -s "${1:-TERM}" "$SERVE_PID" 2>/dev/null
	local rc=0
	wait_exit "$SERVE_PID" || rc=$?
	SERVE_PID=
	return $rc
}

# api PATH: GET URL/PATH's body (curl -f: an HTTP error fails).
api() {
	curl -sSf --max-time 10 "${URL%/}$1"
}

# http_code METHOD PATH [CURL-ARGS...]: prints "CODE BODY".
http_code() {
	local method=$1 path=$2
	shift 2
	curl -sS --max-time 10 -X "$method" -o "$AC_TMP/body" -w '%{http_code}' \
		"$@" "${URL%/}$path"
	printf ' %s' "$(cat "$AC_TMP/body")"
}

# post PATH JSON [TOKEN]: POST the JSON, with the token when one is given.
post() {
	if [ -n "${3:-}" ]; then
		http_code POST "$1" -H "Authorization: Bearer $3" \
			-H 'Content-Type: application/json' --data-binary "$2"
	else
		http_code POST "$1" -H 'Content-Type: application/json' --data-binary "$2"
	fi
}

# same_json A B WHAT: equal JSON, keys sorted, volatile worker fields gone.
same_json() {
	local norm='walk(if type == "object" then del(.heartbeat, .heartbeat_age_s, .uptime_s) else . end)'
	assert_eq "$(jq -cS "$norm" <<<"$1")" "$(jq -cS "$norm" <<<"$2")" "$3"
}

on_pg() {
	pg_test_db
	"$@"
}

# ------------------------------------------------------------ the JSON

endpoints_match() {
	local done_id queued_id
	start_worker w1 --handler echo=cat
	start_worker w2 --handler echo=cat
	done_id=$(submit_async echo '{"n":1}')
	wait_status "$done_id" completed
	queued_id=$(submit_async later '{"n":2}' --delay 300 --priority high)
	submit_async other '{"n":3}' >/dev/null
	start_serve

	same_json "$(api /api/summary)" "$(ac-status --json)" "/api/summary"
	same_json "$(api /api/workers)" "$(ac-status --workers --json)" "/api/workers"
	same_json "$(api /api/queue)" "$(ac-status --queue --json)" "/api/queue"
	same_json "$(api /api/usage)" "$(ac-status --usage --json)" "/api/usage"
	same_json "$(api /api/tasks)" "$(ac-status --tasks --limit 50 --json)" "/api/tasks"
	same_json "$(api '/api/tasks?limit=2&status=completed&type=echo')" \
		"$(ac-status --tasks --limit 2 --status completed --type echo --json)" \
		"/api/tasks with filters"
	same_json "$(api "/api/task/$done_id")" "$(ac-status --task "$done_id" --json)" \
		"/api/task/$done_id"
	same_json "$(api "/api/task/$queued_id")" "$(ac-status --task "$queued_id" --json)" \
		"/api/task/$queued_id"
	assert_eq "$(api /api/workers | jq -c '[.[].id] | sort')" '["w1","w2"]' "workers"

	# Errors are JSON with a status code.
	assert_eq "$(http_code GET /api/task/99999)" '404 {"error":"no task 99999"}' "unknown task"
	assert_match "$(http_code GET /api/task/abc)" '^400 \{"error":' "bad task id"
	assert_match "$(http_code GET '/api/tasks?limit=0')" '^400 \{"error":"limit wants' "limit 0"
	assert_match "$(http_code GET '/api/tasks?limit=1001')" '^400 ' "limit over the cap"
	assert_match "$(http_code GET '/api/tasks?status=bogus')" "^400 \{\"error\":\"unknown status 'bogus'\"\}" "bad status"
	assert_match "$(http_code GET '/api/tasks?colour=red')" '^400 ' "unknown parameter"
	assert_match "$(http_code GET /nowhere)" '^404 \{"error":' "unknown path"
	assert_match "$(http_code PUT /api/summary)" '^405 ' "PUT"
	assert_eq "$(api /api/config)" '{"actions":false,"version":"'"$(ac-status --version | awk '{print $NF}')"'"}' "/api/config"
	assert_eq "$(api /healthz | jq -r .ok)" true "/healthz"
}

@test "serve: every endpoint's JSON is what ac-status prints (SQLite)" {
	endpoints_match
}

@test "serve: every endpoint's JSON is what ac-status prints (PostgreSQL)" {
	on_pg endpoints_match
}

@test "serve: the page, its script and style, with strict headers" {
	make_store
	start_serve
	run -0 curl -sSi --max-time 10 "$URL"
	assert_match "$output" $'Content-Type: text/html; charset=utf-8\r' "page type"
	assert_contains "$output" 'X-Content-Type-Options: nosniff' "nosniff"
	assert_contains "$output" "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'" "CSP"
	assert_contains "$output" '<script src="app.js"' "the script is a file of its own"
	# No CDN: nothing is loaded from anywhere else, and nothing inline.
	[[ $output != *"http://"* && $output != *"https://"* ]] || fail "the page names another site"
	[[ $output != *"<script>"* && $output != *"<style"* && $output != *" style="* ]] ||
		fail "the page has inline script or style (the CSP forbids it)"
	run -0 curl -sSfi --max-time 10 "${URL}app.js"
	assert_match "$output" $'Content-Type: text/javascript; charset=utf-8\r' "script type"
	assert_contains "$output" 'textContent' "the script"
	[[ $output != *innerHTML* ]] || fail "the script uses innerHTML"
	run -0 curl -sSfi --max-time 10 "${URL}app.css"
	assert_match "$output" $'Content-Type: text/css; charset=utf-8\r' "style type"
	# The page is the file in the source tree, byte for byte.
	assert_eq "$(curl -sSf --max-time 10 "$URL" | md5sum)" \
		"$(md5sum <"$AC_ROOT/lib/dashboard/index.html")" "the embedded page"
	run -0 curl -sSI --max-time 10 "${URL}api/summary"
	assert_match "$output" $'Content-Type: application/json\r' "HEAD of a JSON endpoint"
	# On loopback, only requests for localhost (no DNS rebinding).
	local port=${URL##*:}
	port=${port%/}
	assert_eq "$(http_code GET /api/summary -H "Host: attacker.example:$port")" \
		'403 {"error":"this server answers only requests for localhost"}' "another host"
	assert_match "$(http_code GET /api/config -H "Host: localhost:$port")" '^200 ' "localhost"
	assert_match "$(http_code GET /api/config -H "Host: 127.0.0.2")" '^200 ' "127.0.0.2"
}

# ------------------------------------------------------------ events

events_stream() {
	local id n
	start_worker w1 --handler echo=cat
	start_worker w2 --handler echo=cat
	start_serve
	# What --follow prints, to compare with: it follows from now on.
	setsid ac-status --follow </dev/null >"$AC_TMP/follow.out" 2>"$AC_TMP/follow.log" &
	AC_PIDS+=("$!")
	curl -sSN --max-time 20 "${URL}events" >"$AC_TMP/sse.out" 2>"$AC_TMP/curl.err" &
	AC_PIDS+=("$!")
	wait_until "$AC_WAIT" eval '[ "$(api /healthz | jq .event_clients)" = 1 ]' ||
		fail "the event stream did not open: $(cat "$AC_TMP/curl.err")"
	# Both followers follow both workers before the task is submitted.
	wait_until "$AC_WAIT" eval '[ "$(api /healthz | jq .followed_workers)" = 2 ]' ||
		fail "the server does not follow both workers: $(api /healthz)"
	sleep 1
	id=$(printf '"hi"\n' | ac_submit --async echo)
	wait_status "$id" completed
	wait_until "$AC_WAIT" grep -q "\"event\":\"task.completed\",\"task\":$id," "$AC_TMP/sse.out" ||
		fail "no task.completed for task $id in the stream: $(cat "$AC_TMP/sse.out")"
	wait_until "$AC_WAIT" grep -q "\"event\":\"task.completed\",\"task\":$id," "$AC_TMP/follow.out" ||
		fail "no task.completed from ac-status --follow: $(cat "$AC_TMP/follow.out")"
	# Each event is one "data:" line of JSON, the very object --follow prints.
	assert_eq "$(grep "^data: .*\"event\":\"task.completed\",\"task\":$id," "$AC_TMP/sse.out" | sed 's/^data: //')" \
		"$(grep "\"event\":\"task.completed\",\"task\":$id," "$AC_TMP/follow.out")" \
		"task.completed as --follow prints it"
	n=$(grep -c '^data: ' "$AC_TMP/sse.out")
	assert_eq "$(sed -n 's/^data: //p' "$AC_TMP/sse.out" | jq -s 'map(has("event") and has("ts")) | all')" true "every data line is an event"
	[ "$n" -ge 3 ] || fail "only $n events"
	assert_eq "$(grep -c '^id: ' "$AC_TMP/sse.out")" "$n" "one id per event"
	# A page opened later starts with what just happened (kept events).
	run -28 curl -sSN --max-time 2 "${URL}events"
	assert_contains "$output" "\"event\":\"task.completed\",\"task\":$id," "replayed to a new stream"
	# ...and a client that reconnects gets only what it missed.
	local last
	last=$(sed -n 's/^id: //p' "$AC_TMP/sse.out" | tail -n 1)
	run -28 curl -sSN --max-time 2 -H "Last-Event-ID: $last" "${URL}events"
	[[ $output != *"\"task\":$id,"* ]] || fail "events replayed after Last-Event-ID $last"
	run -0 curl -sSI --max-time 5 "${URL}events"
	assert_match "$output" $'Content-Type: text/event-stream\r' "event stream type"
	assert_match "$output" $'Cache-Control: no-cache\r' "event stream cache"
}

@test "serve: /events streams each event as ac-status --follow prints it (SQLite)" {
	events_stream
}

@test "serve: /events streams each event as ac-status --follow prints it (PostgreSQL)" {
	on_pg events_stream
}

@test "serve: at most 64 event streams; a closed one is let go" {
	local i pids=()
	make_store
	start_serve
	for i in $(seq 64); do
		curl -sN --max-time 30 "${URL}events" >/dev/null 2>&1 &
		pids+=("$!")
		AC_PIDS+=("$!")
	done
	wait_until "$AC_WAIT" eval '[ "$(api /healthz | jq .event_clients)" = 64 ]' ||
		fail "not 64 streams: $(api /healthz)"
	run -0 curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "${URL}events"
	assert_eq "$output" 503 "the 65th stream"
	kill "${pids[@]}"
	wait_until "$AC_WAIT" eval '[ "$(api /healthz | jq .event_clients)" = 0 ]' ||
		fail "closed streams are still counted: $(api /healthz)"
}

# ------------------------------------------------------------ actions

@test "serve: without a token it is read-only (403), and says so" {
	make_store
	start_worker w1 --handler echo=cat
	start_serve
	assert_match "$(sed -n 1p "$AC_TMP/serve.log")" 'read-only' "the first line"
	assert_eq "$(api /api/config | jq .actions)" false "/api/config"
	assert_eq "$(post /api/drain '{"worker":"w1"}')" \
		'403 {"error":"read-only: start with a token to allow actions"}' "drain"
	assert_eq "$(post /api/cancel '{"id":1}' whatever)" \
		'403 {"error":"read-only: start with a token to allow actions"}' "cancel"
	assert_eq "$(worker_field w1 drained)" false "nothing changed"
}

actions_with_token() {
	local id running
	printf 'tok-%s\n' "$RANDOM$RANDOM" >"$AC_TMP/token"
	local token
	token=$(head -n 1 "$AC_TMP/token")
	start_worker w1 --handler echo=cat
	start_serve --token-file "$AC_TMP/token"
	assert_eq "$(api /api/config | jq .actions)" true "/api/config"

	# Who may: nobody without the token, nobody with another.
	assert_match "$(post /api/drain '{"worker":"w1"}')" '^401 \{"error":' "no token"
	assert_match "$(post /api/drain '{"worker":"w1"}' "${token}x")" '^401 ' "a wrong token"
	assert_match "$(post /api/drain '{"worker":"w1"}' "${token%?}")" '^401 ' "a prefix of it"
	assert_eq "$(worker_field w1 drained)" false "nothing changed"

	# Drain with a reason: the worker's row says so; undo lifts it.
	assert_eq "$(post /api/drain '{"worker":"w1","reason":"kernel upgrade"}' "$token")" \
		'200 {"ok":true,"worker":"w1","drained":true}' "drain"
	assert_eq "$(worker_field w1 drain_reason)" "kernel upgrade" "drain_reason"
	assert_eq "$(api /api/workers | jq -r '.[] | select(.id == "w1") | [.drained, .drain_reason] | @tsv')" \
		$'true\tkernel upgrade' "/api/workers"
	assert_eq "$(post /api/drain '{"worker":"w1","undo":true}' "$token")" \
		'200 {"ok":true,"worker":"w1","drained":false}' "undo"
	assert_eq "$(worker_field w1 drained)" false "undone"
	assert_eq "$(worker_field w1 drain_reason)" null "no reason left"
	id=$(printf '"after undo"\n' | ac_submit echo)
	assert_eq "$id" '"after undo"' "the worker claims again"

	# Bad requests change nothing.
	assert_eq "$(post /api/drain '{"worker":"nobody"}' "$token")" \
		"404 {\"error\":\"unknown worker 'nobody'\"}" "unknown worker"
	assert_match "$(post /api/drain '{"worker":' "$token")" '^400 \{"error":"the body must be a JSON object"\}' "malformed JSON"
	assert_match "$(post /api/drain '[1]' "$token")" '^400 ' "not an object"
	assert_match "$(post /api/drain '{"worker":"w1","colour":"red"}' "$token")" "^400 \{\"error\":\"unknown member 'colour'\"\}" "unknown member"
	assert_match "$(post /api/drain '{"worker":"w1","undo":"yes"}' "$token")" '^400 ' "undo not a boolean"
	assert_match "$(post /api/drain '{"worker":"-x"}' "$token")" '^400 ' "not a worker id"
	assert_eq "$(post /api/drain "$(head -c 5000 /dev/zero | tr '\0' ' ')" "$token")" \
		'413 {"error":"the body is over 4 KiB"}' "over 4 KiB"
	assert_match "$(post /api/drain "$(head -c 100000 /dev/zero | tr '\0' ' ')" "$token")" '^413 ' "far over"
	assert_match "$(post /api/summary '{}' "$token")" '^405 ' "POST to a view"
	assert_eq "$(worker_field w1 drained)" false "nothing changed"

	# Cancel a queued (delayed) task; again is a conflict; unknown is 404.
	id=$(submit_async echo '{"later":1}' --delay 300)
	assert_eq "$(post /api/cancel "{\"id\":$id}" "$token")" \
		"200 {\"ok\":true,\"tasks\":[{\"id\":$id,\"status\":\"cancelled\"}]}" "cancel"
	assert_eq "$(task_status "$id")" cancelled "the task"
	assert_match "$(post /api/cancel "{\"id\":$id}" "$token")" '^409 \{"error":"task [0-9]+ has already ended' "cancel again"
	running=$(submit_async echo '{"later":2}' --delay 300)
	assert_eq "$(post /api/cancel "{\"ids\":[$running,99999]}" "$token")" \
		'404 {"error":"no task 99999"}' "one unknown id"
	assert_eq "$(task_status "$running")" pending "nothing cancelled"
	assert_match "$(post /api/cancel '{"id":"7"}' "$token")" '^400 ' "an id as a string"
	assert_match "$(post /api/cancel '{}' "$token")" '^400 ' "no id"
	assert_eq "$(post /api/cancel "{\"ids\":[$running]}" "$token" | cut -c1-3)" 200 "cancel by ids"
	assert_eq "$(task_status "$running")" cancelled "the second task"
}

@test "serve: with a token, drain, undo and cancel work; bad requests change nothing (SQLite)" {
	actions_with_token
}

@test "serve: with a token, drain, undo and cancel work; bad requests change nothing (PostgreSQL)" {
	on_pg actions_with_token
}

@test "serve: the shared token (AC_TOKEN) enables actions too" {
	make_store
	export AC_TOKEN=shared-secret
	start_serve
	unset AC_TOKEN
	assert_eq "$(api /api/config | jq .actions)" true "/api/config"
	assert_match "$(post /api/cancel '{"id":1}' shared-secret)" '^200 ' "cancel with the shared token"
}

# ------------------------------------------------------------ the command

@test "serve: bad addresses exit 2, a taken one 1, no store 69; signals end it with 0" {
	local addr port
	for addr in nonsense 127.0.0.1 127.0.0.1:70000 :80 '[::1:80' 127.0.0.1:x; do
		run -2 --separate-stderr ac-status --serve "$addr"
		assert_one_stderr_line ac-status
	done
	run -2 --separate-stderr ac-status --serve 127.0.0.1:0 --workers
	assert_usage_error ac-status
	run -2 --separate-stderr ac-status --token-file /dev/null
	assert_usage_error ac-status
	run -69 --separate-stderr ac-status --serve 127.0.0.1:0 --store "$AC_TMP/none/ac.db"
	assert_one_stderr_line ac-status

	make_store
	start_serve
	port=${URL##*:}
	port=${port%/}
	run -1 --separate-stderr ac-status --serve "127.0.0.1:$port"
	assert_one_stderr_line ac-status
	assert_contains "$stderr" "cannot listen on 127.0.0.1:$port" "the message"
	local rc=0
	stop_serve TERM || rc=$?
	assert_eq "$rc" 0 "exit status after SIGTERM"
	start_serve
	rc=0
	stop_serve INT || rc=$?
	assert_eq "$rc" 0 "exit status after SIGINT"
}

@test "serve: a store that fails once serving is a 503, not a crash (PostgreSQL)" {
	pg_test_db
	make_store
	start_serve
	api /api/summary >/dev/null
	# The database goes away under the server (its connection with it).
	pg_test_db_drop
	PG_DB=
	run -0 curl -sS --max-time 20 -o "$AC_TMP/body" -w '%{http_code}' "${URL}api/tasks"
	assert_eq "$output" 503 "HTTP status ($(cat "$AC_TMP/body"))"
	jq -e '.error | type == "string"' "$AC_TMP/body" >/dev/null ||
		fail "not a JSON error: $(cat "$AC_TMP/body")"
	run -0 curl -sSf --max-time 10 "${URL}healthz"
	pid_alive "$SERVE_PID" || fail "the server died"
}

# ------------------------------------------------------------ the page

@test "serve: the page in headless Chromium shows workers, a completed task and its event (screenshot)" {
	[[ $AC_TEST_BIN != *asan* ]] ||
		skip "the browser check runs in the normal pass only (it tests the page, not the C)"
	[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] ||
		skip "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
	local id shot=$AC_ROOT/build/test-artifacts/dashboard.png
	printf 'page-token\n' >"$AC_TMP/token"
	start_worker w1 --handler echo=cat --handler summarize=cat
	start_worker w2 --handler echo=cat
	start_serve --token-file "$AC_TMP/token"
	wait_until "$AC_WAIT" eval '[ "$(api /healthz | jq .followed_workers)" = 2 ]'
	id=$(submit_async summarize '{"doc":"<b>not markup</b>","pages":21}')
	submit_async later '{"n":1}' --delay 600 >/dev/null
	mkdir -p "$(dirname "$shot")"
	rm -f "$shot"
	run python3 "$AC_ROOT/tests/dashboard-check.py" --url "$URL" --task "$id" \
		--workers w1,w2 --token page-token --screenshot "$shot"
	echo "$output"
	[ "$status" -eq 0 ] || fail "dashboard-check.py exited $status"
	[ "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
		fail "$shot is not a PNG"
}
