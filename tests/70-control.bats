#!/usr/bin/env bats
# The control and event plane: ac-status --follow, pokes, routing, tags,
# authenticated tcp listeners, discovery files, drain through the socket.

load helpers

# who: prints the worker's id as a JSON string.
who_handler() {
	cat >"$AC_TMP/who" <<'SH'
#!/bin/sh
echo "\"$AC_WORKER_ID\""
SH
	chmod +x "$AC_TMP/who"
}

# follow_to FILE ARGS...: ac-status --follow in the background, its pid in
# $follow_pid; waits until it follows at least one worker.
follow_to() {
	local out=$1
	shift
	ac-status --follow "$@" >"$out" 2>"$out.err" &
	follow_pid=$!
	AC_PIDS+=("$follow_pid")
	sleep 1
}

@test "ac-status --follow shows a submitted task's events, ending in task.completed, as JSON Lines" {
	who_handler
	start_worker A --handler who="$AC_TMP/who"
	follow_to "$AC_TMP/events"
	run -0 ac_submit who <<<'{}'
	assert_eq "$output" '"A"'
	id=$(ac-status --tasks --json | jq '.[0].id')
	wait_until 10 grep -q '"task.completed"' "$AC_TMP/events"
	# Every line is one JSON object with the common fields.
	run -0 jq -c 'select(.task == '"$id"') | .event' "$AC_TMP/events"
	assert_eq "$(echo "$output" | tr '\n' ' ')" '"task.queued" "task.started" "task.completed" '
	run -0 jq -e 'select(.task == '"$id"') | has("ts") and has("event") and has("task") and has("type") and has("worker") and has("attempt")' "$AC_TMP/events"
	kill "$follow_pid"
}

@test "--follow filters by --task, --type and --worker, and picks up a worker that joins later" {
	who_handler
	start_worker A --handler who="$AC_TMP/who" --handler other="$AC_TMP/who"
	follow_to "$AC_TMP/byworker" --worker B
	follow_to "$AC_TMP/bytype" --type other
	ac_submit who <<<'{}' >/dev/null
	ac_submit other <<<'{}' >/dev/null
	start_worker B --handler who="$AC_TMP/who"
	ac-drain A
	sleep 3      # the follower looks for new workers every two seconds
	ac_submit who <<<'{}' >/dev/null
	wait_until 10 grep -q '"task.completed"' "$AC_TMP/byworker"
	run -0 jq -r '.worker' "$AC_TMP/byworker"
	assert_eq "$(sort -u <<<"$output")" B "workers in --worker B's stream"
	run -0 jq -r '.type // "worker"' "$AC_TMP/bytype"
	assert_eq "$(grep -v '^worker$' <<<"$output" | sort -u)" other "types in --type other's stream"
	id=$(ac-status --tasks --json | jq '.[0].id')
	# Replays nothing old; a new attempt of the task shows, others not.
	ac-status --follow --task "$id" >"$AC_TMP/bytask" &
	AC_PIDS+=("$!")
	sleep 1
	ac_submit who <<<'{}' >/dev/null
	ac_submit --retry "$id" >/dev/null 2>&1 || true
	sleep 1
	run -0 jq -r '.task' "$AC_TMP/bytask"
	[ -z "$output" ] || assert_eq "$(sort -u <<<"$output")" "$id" "tasks in --task $id's stream"
}

@test "an idle worker is woken by the submit: many tasks in a row complete without waiting for polls" {
	start_worker A --handler quick='echo {}' --concurrency 1
	start=$(date +%s%N)
	for i in $(seq 20); do ac_submit quick <<<'{}' >/dev/null; done
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	echo "# 20 sequential submits took ${elapsed_ms} ms" >&3
	# The safety poll alone (250 ms) would need 5 s or more.
	((elapsed_ms < 4500)) || fail "sequential submits took ${elapsed_ms} ms"
}

@test "consistent-hash: 16 keys on at least 3 of 4 workers, stable; draining one moves only its keys" {
	who_handler
	for w in w1 w2 w3 w4; do start_worker "$w" --handler who="$AC_TMP/who"; done
	for k in $(seq 16); do
		echo "k$k $(ac_submit --route consistent-hash --key "k$k" who <<<'{}' | jq -r .)"
	done >"$AC_TMP/first"
	assert_eq "$(cut -d' ' -f2 "$AC_TMP/first" | sort -u | wc -l | (read -r n; [ "$n" -ge 3 ] && echo yes))" yes \
		"workers used: $(cut -d' ' -f2 "$AC_TMP/first" | sort | uniq -c | tr '\n' ' ')"
	for k in $(seq 16); do
		echo "k$k $(ac_submit --route consistent-hash --key "k$k" who <<<'{}' | jq -r .)"
	done >"$AC_TMP/second"
	assert_eq "$(diff "$AC_TMP/first" "$AC_TMP/second")" "" "the same key went elsewhere"
	drained=$(cut -d' ' -f2 "$AC_TMP/first" | sort | uniq -c | sort -rn | awk 'NR==1 {print $2}')
	ac-drain "$drained"
	for k in $(seq 16); do
		echo "k$k $(ac_submit --route consistent-hash --key "k$k" who <<<'{}' | jq -r .)"
	done >"$AC_TMP/third"
	# Keys of the other workers did not move; none went to the drained one.
	run -0 join "$AC_TMP/first" "$AC_TMP/third"
	while read -r key before after; do
		[ "$after" != "$drained" ] || fail "$key went to the drained $drained"
		[ "$before" = "$drained" ] || [ "$before" = "$after" ] || fail "$key moved from $before to $after"
	done <<<"$output"
	run --separate-stderr -2 ac-submit --route consistent-hash who <<<'{}'
	assert_contains "$stderr" "--key"
}

@test "round-robin spreads 30 tasks over 4 workers within 2; --require gpu runs only on the gpu worker" {
	who_handler
	for w in w1 w2 w3; do start_worker "$w" --handler who="$AC_TMP/who"; done
	start_worker w4 --handler who="$AC_TMP/who" --tag gpu
	run -0 bash -c 'seq 30 | sed "s/.*/{}/" | ac-submit --batch --route round-robin who | jq -r . | sort | uniq -c'
	echo "$output" >&3
	counts=$(awk '{print $1}' <<<"$output" | sort -n)
	assert_eq "$(wc -l <<<"$counts")" 4 "workers used"
	((${counts##*$'\n'} - ${counts%%$'\n'*} <= 2)) || fail "spread: $output"
	run -0 bash -c 'for i in 1 2 3 4 5; do echo {} | ac-submit --require gpu who; done | jq -r . | sort -u'
	assert_eq "$output" w4
	run -0 bash -c 'seq 12 | sed "s/.*/{}/" | ac-submit --batch --route least-loaded who | jq -r . | sort -u | wc -l'
	((output >= 2)) || fail "least-loaded used $output worker(s)"
}

@test "a tcp listener needs the token: refused without it, no events without it, served with it" {
	port=$((20000 + RANDOM % 20000))
	run --separate-stderr -2 ac-worker --id T --handler quick='echo {}' --listen "tcp://127.0.0.1:$port"
	assert_contains "$stderr" "token"
	echo s3cret >"$AC_TMP/token"
	AC_TOKEN_FILE=$AC_TMP/token start_worker T --handler quick='echo {}' --listen "tcp://127.0.0.1:$port"
	# Without the token a follower gets nothing and the worker logs it.
	ac-status --follow >"$AC_TMP/noauth" 2>/dev/null &
	AC_PIDS+=("$!")
	AC_TOKEN=s3cret ac-status --follow >"$AC_TMP/auth" 2>/dev/null &
	AC_PIDS+=("$!")
	sleep 1
	AC_TOKEN=s3cret ac_submit quick <<<'{}' >/dev/null
	wait_until 10 grep -q task.completed "$AC_TMP/auth"
	assert_eq "$(wc -c <"$AC_TMP/noauth")" 0 "events without the token"
	grep -q "without the right token" "$AC_TMP/T.log"
	# --insecure allows a listener without a token.
	start_worker U --handler quick='echo {}' --listen "tcp://127.0.0.1:$((port + 1))" --insecure
}

@test "discovery files: written with the control address, removed on a clean exit, stale ones cleaned up" {
	start_worker A --handler quick='echo {}'
	f=$AC_HOME/workers/A.json
	[ -f "$f" ]
	run -0 jq -r '.control' "$f"
	assert_eq "$output" "$(worker_field A listen)"
	assert_eq "$(jq .pid "$f")" "$(worker_pid A)"
	assert_eq "$(stat -c %a "$AC_HOME/run")" 700 "run directory mode"
	assert_eq "$(stat -c %a "${output#ipc://}")" 600 "socket mode"
	stop_worker A
	[ ! -e "$f" ] || fail "left after a clean exit"
	start_worker B --handler quick='echo {}'
	kill -9 "$(worker_pid B)"
	wait_gone "$(worker_pid B)"
	[ -e "$AC_HOME/workers/B.json" ]
	start_worker C --handler quick='echo {}'
	[ ! -e "$AC_HOME/workers/B.json" ] || fail "stale file of a dead worker kept"
}

@test "ac-drain acts at once through the control socket, without waiting for a heartbeat" {
	start_worker A --handler quick='echo {}' --heartbeat 60 --lease 180
	follow_to "$AC_TMP/events"
	ac-drain A --reason "socket"
	wait_until 5 grep -q '"worker.draining"' "$AC_TMP/events"
	id=$(submit_async quick '{}')
	sleep 1
	assert_eq "$(task_status "$id")" queued
	ac-drain --undo A
	wait_status "$id" completed 5
}

@test "a malformed control request is dropped with a log line; the worker carries on" {
	start_worker A --handler quick='echo {}'
	sock=$(worker_field A listen)
	# A raw connection that sends garbage in place of an nng handshake.
	printf 'garbage that is not an SP handshake' | timeout 2 socat - "UNIX-CONNECT:${sock#ipc://}" 2>/dev/null || true
	run -0 ac_submit quick <<<'{}'
	assert_eq "$output" '{}'
	pid_alive "$(worker_pid A)"
}

@test "a tls+tcp listener: encrypted, token required, the server checked against AC_TLS_CA" {
	command -v openssl >/dev/null || skip "openssl is not installed"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$AC_TMP/key.pem" \
		-out "$AC_TMP/cert.pem" -days 2 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost" 2>/dev/null
	cat "$AC_TMP/cert.pem" "$AC_TMP/key.pem" >"$AC_TMP/both.pem"
	port=$((20000 + RANDOM % 20000))
	run --separate-stderr -2 env AC_TOKEN=tok ac-worker --id S --handler quick='echo {}' --listen "tls+tcp://localhost:$port"
	assert_contains "$stderr" "--tls-cert"
	AC_TOKEN=tok start_worker S --handler quick='echo {}' \
		--listen "tls+tcp://localhost:$port" --tls-cert "$AC_TMP/both.pem"
	AC_TOKEN=tok AC_TLS_CA=$AC_TMP/cert.pem ac-status --follow >"$AC_TMP/good" 2>/dev/null &
	AC_PIDS+=("$!")
	AC_TOKEN=wrong ac-status --follow >"$AC_TMP/badtoken" 2>/dev/null &
	AC_PIDS+=("$!")
	# A CA that did not sign the server's certificate: no connection.
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$AC_TMP/k2.pem" \
		-out "$AC_TMP/other.pem" -days 2 -subj /CN=localhost 2>/dev/null
	AC_TOKEN=tok AC_TLS_CA=$AC_TMP/other.pem ac-status --follow >"$AC_TMP/badca" 2>/dev/null &
	AC_PIDS+=("$!")
	sleep 1
	run -0 env AC_TOKEN=tok ac-submit quick <<<'{}'
	assert_eq "$output" '{}'
	wait_until 10 grep -q task.completed "$AC_TMP/good"
	assert_eq "$(wc -c <"$AC_TMP/badtoken")" 0 "events with a wrong token"
	assert_eq "$(wc -c <"$AC_TMP/badca")" 0 "events from an unverified server"
}

@test "a worker that stops heartbeating is reported lost by the others (worker.lost)" {
	start_worker A --handler quick='echo {}' --heartbeat 0.5 --lease 1.5
	start_worker B --handler quick='echo {}' --heartbeat 0.5 --lease 1.5
	follow_to "$AC_TMP/events" --worker A
	kill -9 "$(worker_pid B)"
	wait_until 15 grep -q '"worker.lost"' "$AC_TMP/events"
	run -0 jq -c 'select(.event == "worker.lost") | {worker, reported_by, status}' "$AC_TMP/events"
	assert_eq "$output" '{"worker":"B","reported_by":"A","status":"lost"}'
	assert_eq "$(worker_field B status)" lost
}

@test "a large garbage frame on the control socket does not harm the worker" {
	command -v socat >/dev/null || skip "socat is not installed"
	start_worker A --handler quick='echo {}'
	# The refusal of an oversized request (with its log line) is in
	# ac_ctl_parse_request, tested in tests/unit/test_control.c; here the
	# worker must survive 3 MB of garbage on its socket.
	sock=$(worker_field A listen)
	head -c 3000000 /dev/zero | tr '\0' 'x' | timeout 3 socat - "UNIX-CONNECT:${sock#ipc://}" >/dev/null 2>&1 || true
	run -0 ac_submit quick <<<'{}'
	pid_alive "$(worker_pid A)"
}
