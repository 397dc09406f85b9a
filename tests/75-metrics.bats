#!/usr/bin/env bats
# ac-worker --metrics: /healthz, /readyz and /metrics over HTTP, the real
# port in the store and the discovery file, the Prometheus file_sd target.

load helpers

# metrics_url ID: the worker's metrics address as the store records it.
metrics_url() {
	worker_field "$1" metrics
}

# http CODE URL: curl answers with that status.
http_is() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$2")" = "$1" ]
}

@test "--metrics 127.0.0.1:0: a real port, recorded in the store and the discovery files" {
	start_worker m1 --handler echo=cat --metrics 127.0.0.1:0
	url=$(metrics_url m1)
	assert_match "$url" '^http://127\.0\.0\.1:[0-9]+$'
	[ "${url##*:}" != 0 ]
	run jq -r .metrics "$AC_HOME/workers/m1.json"
	assert_eq "$output" "$url"
	run jq -c . "$AC_HOME/workers/m1.targets.json"
	assert_eq "$output" "[{\"targets\":[\"${url#http://}\"],\"labels\":{\"ac_worker\":\"m1\",\"ac_host\":\"$(hostname)\"}}]"
	stop_worker m1
	[ ! -e "$AC_HOME/workers/m1.targets.json" ]
	[ ! -e "$AC_HOME/workers/m1.json" ]
}

@test "/healthz and /readyz answer 200; /readyz is 503 while the worker drains, 200 again after undo" {
	start_worker m1 --handler echo=cat --metrics 127.0.0.1:0
	url=$(metrics_url m1)
	http_is 200 "$url/healthz"
	http_is 200 "$url/readyz"
	run curl -s "$url/healthz"
	assert_eq "$output" ok
	ac-drain m1 --reason test
	wait_until 10 http_is 503 "$url/readyz"
	run curl -s "$url/readyz"
	assert_eq "$output" "not ready: draining"
	http_is 200 "$url/healthz"
	ac-drain --undo m1
	wait_until 10 http_is 200 "$url/readyz"
}

@test "/readyz is 503 while the worker stops on SIGTERM with a task running" {
	start_worker m1 --handler slow="$H/sleep.sh 4" --metrics 127.0.0.1:0
	url=$(metrics_url m1)
	id=$(echo '{}' | ac-submit --async slow)
	wait_status "$id" running
	kill -TERM "$(worker_pid m1)"
	wait_until 10 http_is 503 "$url/readyz"
	http_is 200 "$url/healthz"
	wait_status "$id" completed
}

@test "/metrics counts tasks by type, shows queue depth, and passes promtool" {
	command -v promtool >/dev/null || skip "promtool is not installed (Debian package prometheus)"
	start_worker m1 --handler echo=cat --handler bad=fail.sh --metrics 127.0.0.1:0
	url=$(metrics_url m1)
	for i in 1 2 3; do echo "{\"i\":$i}" | ac_submit echo >/dev/null; done
	run -1 ac_submit bad <<<'{}'
	ac-drain m1
	echo '{}' | ac-submit --async --priority high echo >/dev/null
	curl -s "$url/metrics" >"$AC_TMP/metrics.txt"
	grep -qx 'ac_tasks_completed_total{type="echo"} 3' "$AC_TMP/metrics.txt"
	grep -qx 'ac_tasks_started_total{type="echo"} 3' "$AC_TMP/metrics.txt"
	grep -qx 'ac_tasks_failed_total{type="bad"} 1' "$AC_TMP/metrics.txt"
	grep -qx 'ac_task_duration_seconds_count{type="echo"} 3' "$AC_TMP/metrics.txt"
	grep -qx 'ac_queue_depth{type="echo",priority="10",status="queued"} 1' "$AC_TMP/metrics.txt"
	grep -qx 'ac_worker_draining 1' "$AC_TMP/metrics.txt"
	grep -qx 'ac_store_up 1' "$AC_TMP/metrics.txt"
	grep -qE '^ac_heartbeat_age_seconds [0-9.]+$' "$AC_TMP/metrics.txt"
	grep -qE '^ac_store_request_seconds_count [1-9][0-9]*$' "$AC_TMP/metrics.txt"
	run promtool check metrics <"$AC_TMP/metrics.txt"
	[ "$status" -eq 0 ] || fail "promtool: $output"
	[ -z "$output" ] || fail "promtool lint: $output"
}

@test "other paths are 404, other methods 405" {
	start_worker m1 --handler echo=cat --metrics 127.0.0.1:0
	url=$(metrics_url m1)
	http_is 404 "$url/"
	http_is 404 "$url/metricsx"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/metrics")" = 405 ]
	http_is 200 "$url/healthz"
}

@test "bad --metrics values are usage errors; a taken port is exit 69, nothing registered" {
	run -2 --separate-stderr ac-worker --id m1 --handler echo=cat --metrics nope
	assert_usage_error ac-worker
	run -2 --separate-stderr ac-worker --id m1 --handler echo=cat --metrics 127.0.0.1:99999
	assert_usage_error ac-worker
	run -2 --separate-stderr ac-worker --id m1 --handler echo=cat --metrics :9464
	assert_usage_error ac-worker
	start_worker m1 --handler echo=cat --metrics 127.0.0.1:0
	url=$(metrics_url m1)
	run -69 --separate-stderr timeout 20 ac-worker --id m2 --handler echo=cat --metrics "${url#http://}"
	assert_one_stderr_line ac-worker
	assert_contains "$stderr" "cannot listen there"
	run ac-status --workers --json
	[ "$(jq length <<<"$output")" = 1 ]
}
