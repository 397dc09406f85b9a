#!/usr/bin/env bats
# The deployment files of deploy/ (deploy/README.md), each checked as far as
# this machine allows without a systemd PID 1, a Kubernetes cluster or a
# running Prometheus: the systemd units by systemd-analyze, the YAML by
# parsing it and checking what the files must agree on (probes, labels,
# ports, timings), the Prometheus configuration and alerts by promtool, and
# a live worker's /healthz, /readyz, /metrics and file_sd target file.

load helpers

D=$AC_ROOT/deploy

# ---------------------------------------------------------------- helpers

# secs SPAN: a systemd/Go-style time span (90, 40s, 4min, 5m, 1h) in
# seconds.
secs() {
	local n u
	[[ $1 =~ ^([0-9]+)(s|sec|m|min|h)?$ ]] || {
		echo "# not a time span this test reads: '$1'" >&2
		return 1
	}
	n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]}
	case $u in
	m | min) n=$((n * 60)) ;;
	h) n=$((n * 3600)) ;;
	esac
	echo "$n"
}

# unit_value FILE KEY: the last KEY= of a unit file.
unit_value() {
	sed -n "s/^$2=//p" "$1" | tail -n 1
}

# option_value WORDS OPTION: the word after OPTION in WORDS.
option_value() {
	local - prev='' w
	set -f
	for w in $1; do
		[ "$prev" = "$2" ] && {
			echo "$w"
			return 0
		}
		prev=$w
	done
	return 1
}

# yaml_py: a python3 with the yaml module (python3-yaml); the first
# python3 on PATH may be another installation without it.
yaml_py() {
	local p
	for p in python3 /usr/bin/python3; do
		if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	fail "no python3 with the yaml module (Debian: python3-yaml; scripts/setup.sh installs it)"
}

# yaml_json FILE: the documents of a YAML file as one JSON array (empty
# documents left out); fails on a YAML error.
yaml_json() {
	local py
	py=$(yaml_py) || return 1
	"$py" -c 'import sys, json, yaml
with open(sys.argv[1]) as f:
    docs = [d for d in yaml.safe_load_all(f) if d is not None]
print(json.dumps(docs))' "$1"
}

need() {
	command -v "$1" >/dev/null 2>&1 ||
		fail "$1 is missing (Debian package $2; scripts/setup.sh installs it)"
}

# The Deployment, as JSON.
deployment() {
	yaml_json "$D/kubernetes/worker-deployment.yaml" |
		jq -e '.[] | select(.kind == "Deployment")'
}

# The CronJob alternative, commented out in hpa-queue-depth.yaml between
# its begin and end marks: from its first "# ---", uncommented.
cronjob_alternative() {
	sed -n '/^# ---8<--- .*(begin)/,/^# ---8<--- .*(end)/p' \
		"$D/kubernetes/hpa-queue-depth.yaml" |
		sed -n '/^# ---$/,$p' | grep -v '^# ---8<---' | sed -E 's/^#( |$)//'
}

# ---------------------------------------------------------------- systemd

# verify_unit UNIT: `systemd-analyze verify` on a copy of
# deploy/systemd/UNIT whose /usr/local/bin/ commands are the built ones
# (verify checks that ExecStart= can be executed).  Fails on a non-zero
# exit and on any line about the unit; lines about other units on this
# machine and a few known complaints of containers without systemd are
# shown and let pass, and any other line fails.
verify_unit() {
	local unit=$1 name=${1%.service} dir=$AC_TMP/units out rc=0 line bad=0
	# "UNIT: message" about some other unit of this machine
	local other='^[A-Za-z0-9@_.:-]+\.(service|socket|target|mount|automount|swap|timer|path|slice|scope|device): '
	command -v systemd-analyze >/dev/null 2>&1 ||
		skip "systemd-analyze is not installed (Debian package systemd)"
	mkdir -p "$dir"
	sed "s|/usr/local/bin/|$AC_BIN/|g" "$D/systemd/$unit" >"$dir/$unit"
	# ac-scale is being written: until it is built, a stand-in executable
	# lets the rest of the unit be verified.
	if grep -q "$AC_BIN/ac-scale" "$dir/$unit" && [ ! -x "$AC_BIN/ac-scale" ]; then
		mkdir -p "$dir/bin"
		printf '#!/bin/sh\nexit 0\n' >"$dir/bin/ac-scale"
		chmod +x "$dir/bin/ac-scale"
		sed -i "s|$AC_BIN/ac-scale|$dir/bin/ac-scale|g" "$dir/$unit"
		echo "# $AC_BIN/ac-scale is not built yet: verified with a stand-in" >&3
	fi
	# --man=no: the man pages are checked against man/ by another test.
	out=$(systemd-analyze verify --man=no "$dir/$unit" 2>&1) || rc=$?
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		if [[ $line == *"$dir/"* || $line == *"$name@"* ]]; then
			echo "# about $unit: $line" >&2
			bad=1
		elif [[ $line =~ ^(/usr)?/lib/systemd/ || $line =~ ^/etc/systemd/ ||
			$line =~ ^/run/systemd/ || $line =~ $other ||
			$line == "Failed to connect to bus"* ||
			$line == "System has not been booted with systemd"* ]]; then
			echo "# ignored (not about $unit): $line" >&3
		else
			echo "# unexpected output of systemd-analyze verify: $line" >&2
			bad=1
		fi
	done <<<"$out"
	assert_eq "$rc" 0 "exit status of systemd-analyze verify $unit"
	[ "$bad" = 0 ]
}

@test "systemd: ac-worker@.service passes systemd-analyze verify" {
	verify_unit ac-worker@.service
}

@test "systemd: ac-pool@.service passes systemd-analyze verify" {
	verify_unit ac-pool@.service
}

@test "systemd: both units drain on stop: SIGTERM to the main process only, TimeoutStopSec past --drain-timeout + --grace" {
	local u f exec drain grace stop
	for u in ac-worker@ ac-pool@; do
		f=$D/systemd/$u.service
		assert_eq "$(unit_value "$f" KillSignal)" SIGTERM "$u KillSignal"
		assert_eq "$(unit_value "$f" KillMode)" mixed "$u KillMode"
		assert_eq "$(unit_value "$f" Restart)" on-failure "$u Restart"
		assert_eq "$(unit_value "$f" User)" ac "$u User"
		assert_eq "$(unit_value "$f" StateDirectory)" ac "$u StateDirectory"
		grep -qx 'Environment=AC_HOME=%S/ac' "$f" || fail "$u: AC_HOME is not the StateDirectory"
		assert_eq "$(unit_value "$f" NoNewPrivileges)" yes "$u NoNewPrivileges"
		assert_eq "$(unit_value "$f" ProtectSystem)" strict "$u ProtectSystem"
		assert_eq "$(unit_value "$f" ReadWritePaths)" '%S/ac' "$u ReadWritePaths"
		grep -qx 'EnvironmentFile=-/etc/ac/ac.env' "$f" || fail "$u: no EnvironmentFile=-/etc/ac/ac.env"
		exec=$(unit_value "$f" ExecStart)
		assert_contains "$exec" "--handlers /etc/ac/handlers" "$u ExecStart"
		[[ $exec != *--daemon* ]] || fail "$u: ac-scale --daemon would leave the unit"
		drain=$(secs "$(option_value "$exec" --drain-timeout)") ||
			fail "$u: no --drain-timeout in ExecStart"
		grace=$(option_value "$exec" --grace) || grace=10
		grace=$(secs "$grace")
		stop=$(secs "$(unit_value "$f" TimeoutStopSec)")
		((stop >= drain + grace + 5)) ||
			fail "$u: TimeoutStopSec ${stop}s < --drain-timeout ${drain}s + --grace ${grace}s + 5s"
	done
	assert_contains "$(unit_value "$D/systemd/ac-worker@.service" ExecStart)" \
		"/usr/local/bin/ac-worker --id %i " "ac-worker@ ExecStart"
	assert_contains "$(unit_value "$D/systemd/ac-pool@.service" ExecStart)" \
		"/usr/local/bin/ac-scale --pool %i " "ac-pool@ ExecStart"
}

@test "systemd: Documentation= names man pages that exist in man/" {
	local u page name sec
	for u in "$D"/systemd/*.service; do
		for page in $(unit_value "$u" Documentation); do
			[[ $page =~ ^man:([a-z0-9-]+)\(([0-9])\)$ ]] ||
				fail "$(basename "$u"): Documentation=$page is not man:NAME(N)"
			name=${BASH_REMATCH[1]} sec=${BASH_REMATCH[2]}
			[ -f "$AC_ROOT/man/$name.$sec" ] && continue
			# A page of a command still being written (ac-scale): only
			# while its program is not built either.
			if [ ! -e "$AC_BIN/$name" ]; then
				echo "# $(basename "$u"): man/$name.$sec and $name not there yet" >&3
				continue
			fi
			fail "$(basename "$u"): Documentation=$page but there is no man/$name.$sec"
		done
	done
}

@test "systemd: ac.env.example is VAR=value lines whose worker options exist; ac.sysusers.conf makes user ac" {
	local f=$D/systemd/ac.env.example line args opt help
	while IFS= read -r line; do
		[[ -z $line || $line == \#* ]] && continue
		[[ $line =~ ^[A-Z_][A-Z0-9_]*= ]] || fail "ac.env.example: not VAR=value: $line"
		[[ $line != AC_HOME=* ]] || fail "ac.env.example sets AC_HOME (the units' StateDirectory)"
	done <"$f"
	args=$(sed -n 's/^AC_WORKER_ARGS=//p' "$f")
	[ -n "$args" ] || fail "ac.env.example sets no AC_WORKER_ARGS"
	help=$(ac-worker --help)
	for opt in $args; do
		[[ $opt == --* ]] || continue
		[[ $opt != --id && $opt != --drain-timeout ]] ||
			fail "ac.env.example: $opt belongs to the unit"
		grep -q -- "$opt " <<<"$help" && continue
		if [ "$opt" = --metrics ]; then
			echo "# ac-worker has no --metrics yet" >&3
			continue
		fi
		fail "ac.env.example: ac-worker has no option $opt"
	done
	if command -v systemd-sysusers >/dev/null 2>&1; then
		mkdir -p "$AC_TMP/root"
		run -0 systemd-sysusers --root="$AC_TMP/root" --dry-run - <"$D/systemd/ac.sysusers.conf"
		assert_contains "$output" "Creating user 'ac'" "systemd-sysusers --dry-run"
	else
		echo "# systemd-sysusers is not installed: ac.sysusers.conf unchecked" >&3
	fi
}

# ---------------------------------------------------------------- YAML

@test "yaml: every YAML file under deploy/ parses, and so does the CronJob alternative" {
	local f n=0
	while IFS= read -r f; do
		yaml_json "$f" >/dev/null || fail "$f does not parse"
		n=$((n + 1))
	done < <(find "$D" -name '*.yaml' -o -name '*.yml')
	((n >= 7)) || fail "only $n YAML files under deploy/"
	cronjob_alternative >"$AC_TMP/cronjob.yaml"
	yaml_json "$AC_TMP/cronjob.yaml" >"$AC_TMP/cronjob.json" ||
		fail "the CronJob alternative in hpa-queue-depth.yaml does not parse"
	run -0 jq -c '[.[].kind]' "$AC_TMP/cronjob.json"
	assert_eq "$output" '["CronJob","ServiceAccount","Role","RoleBinding"]' "kinds of the CronJob alternative"
}

# ---------------------------------------------------------------- Kubernetes

@test "kubernetes: the Deployment runs ac-worker --id \$(POD_NAME) with probes on /healthz and /readyz and a draining preStop" {
	local dep c args port
	dep=$(deployment) || fail "no Deployment in worker-deployment.yaml"
	c=$(jq -e '.spec.template.spec.containers[] | select(.name == "ac-worker")' <<<"$dep") ||
		fail "no container ac-worker"
	args=$(jq -r '(.command + .args) | join(" ")' <<<"$c")
	assert_match "$args" '(^|/)ac-worker ' "the container's command"
	# shellcheck disable=SC2016 # the literal $(POD_NAME) of the manifest
	assert_eq "$(option_value "$args" --id)" '$(POD_NAME)' "--id"
	assert_eq "$(option_value "$args" --metrics)" 0.0.0.0:9464 "--metrics"
	assert_eq "$(jq -r '.env[] | select(.name == "POD_NAME") | .valueFrom.fieldRef.fieldPath' <<<"$c")" \
		metadata.name "POD_NAME from the downward API"
	jq -e '.env[] | select(.name == "AC_STORE") | .valueFrom.secretKeyRef | .name and .key' \
		<<<"$c" >/dev/null || fail "AC_STORE does not come from a Secret"
	port=$(jq -r '.ports[] | select(.name == "metrics") | .containerPort' <<<"$c")
	assert_eq "$port" 9464 "the container port named metrics"
	assert_eq "$(jq -r '.livenessProbe.httpGet | "\(.path) \(.port)"' <<<"$c")" "/healthz metrics" "livenessProbe"
	assert_eq "$(jq -r '.readinessProbe.httpGet | "\(.path) \(.port)"' <<<"$c")" "/readyz metrics" "readinessProbe"
	# shellcheck disable=SC2016 # $POD_NAME for the hook's shell
	assert_match "$(jq -r '.lifecycle.preStop.exec.command | join(" ")' <<<"$c")" \
		'ac-drain "\$POD_NAME" --reason "pod terminating" --wait' "preStop"
	# shellcheck disable=SC2016
	assert_match "$(jq -r '.lifecycle.postStart.exec.command | join(" ")' <<<"$c")" \
		'ac-drain --undo "\$POD_NAME" .*\|\| true$' "postStart"
	jq -e '.resources.requests | .cpu and .memory' <<<"$c" >/dev/null || fail "no resource requests"
	assert_eq "$(jq -r '.spec.template.metadata.annotations["prometheus.io/port"]' <<<"$dep")" "$port" \
		"prometheus.io/port"
}

@test "kubernetes: terminationGracePeriodSeconds covers the preStop wait, --drain-timeout and --grace" {
	local dep c args pre wait drain grace tgps
	dep=$(deployment)
	c=$(jq '.spec.template.spec.containers[] | select(.name == "ac-worker")' <<<"$dep")
	args=$(jq -r '.args | join(" ")' <<<"$c")
	pre=$(jq -r '.lifecycle.preStop.exec.command[-1]' <<<"$c")
	wait=$(option_value "$pre" --timeout) || fail "the preStop ac-drain --wait has no --timeout"
	drain=$(secs "$(option_value "$args" --drain-timeout)") || fail "no --drain-timeout"
	grace=$(option_value "$args" --grace) || grace=10
	grace=$(secs "$grace")
	tgps=$(jq -r '.spec.template.spec.terminationGracePeriodSeconds' <<<"$dep")
	((tgps >= wait + drain + grace + 5)) ||
		fail "terminationGracePeriodSeconds $tgps < preStop $wait + --drain-timeout $drain + --grace $grace + 5"
}

@test "kubernetes: the HPA scales that Deployment on the External metric ac_queue_depth" {
	local name hpa
	name=$(deployment | jq -r .metadata.name)
	hpa=$(yaml_json "$D/kubernetes/hpa-queue-depth.yaml" |
		jq -e '.[] | select(.kind == "HorizontalPodAutoscaler")') || fail "no HorizontalPodAutoscaler"
	assert_eq "$(jq -r .apiVersion <<<"$hpa")" autoscaling/v2 "HPA apiVersion"
	assert_eq "$(jq -r '.spec.scaleTargetRef | "\(.apiVersion) \(.kind) \(.name)"' <<<"$hpa")" \
		"apps/v1 Deployment $name" "scaleTargetRef"
	assert_eq "$(jq -r '.spec.metrics[] | select(.type == "External") | .external.metric.name' <<<"$hpa")" \
		ac_queue_depth "the External metric"
	jq -e '.spec.minReplicas >= 1 and .spec.maxReplicas >= .spec.minReplicas' <<<"$hpa" >/dev/null ||
		fail "HPA min/max replicas"
	# The adapter serves the metric under that name.
	assert_eq "$(yaml_json "$D/kubernetes/prometheus-adapter-values.yaml" |
		jq -r '.[0].rules.external[].name.as')" ac_queue_depth "prometheus-adapter rule"
	# The CronJob alternative sets that Deployment's replicas from
	# ac-scale --recommend.
	cronjob_alternative >"$AC_TMP/cronjob.yaml"
	yaml_json "$AC_TMP/cronjob.yaml" >"$AC_TMP/cronjob.json" ||
		fail "the CronJob alternative in hpa-queue-depth.yaml does not parse"
	run -0 jq -r '.[] | select(.kind == "CronJob") |
		.spec.jobTemplate.spec.template.spec.containers[0].args | join(" ")' "$AC_TMP/cronjob.json"
	assert_contains "$output" 'ac-scale --pool' "CronJob command"
	assert_contains "$output" '--recommend' "CronJob command"
	assert_contains "$output" "kubectl scale deployment/$name --replicas=" "CronJob command"
}

@test "kubernetes: the PodMonitor selects the Deployment's pods on their metrics port" {
	local dep pm
	dep=$(deployment)
	pm=$(yaml_json "$D/kubernetes/pod-monitor.yaml" | jq -e '.[] | select(.kind == "PodMonitor")') ||
		fail "no PodMonitor"
	jq -e --argjson labels "$(jq '.spec.template.metadata.labels' <<<"$dep")" \
		'.spec.selector.matchLabels | to_entries | all(.value == $labels[.key])' <<<"$pm" >/dev/null ||
		fail "the PodMonitor's selector does not match the pod labels"
	assert_eq "$(jq -r '.spec.podMetricsEndpoints[0] | "\(.port) \(.path)"' <<<"$pm")" "metrics /metrics" \
		"podMetricsEndpoints"
}

# ---------------------------------------------------------------- Prometheus

# prometheus_config DIR: deploy/prometheus/prometheus.yml and its rule
# files copied to DIR, as DIR/prometheus.yml.  Debian's Prometheus is
# built without Kubernetes service discovery: when this promtool rejects
# kubernetes_sd_configs (and nothing else), the copy leaves those jobs out,
# and says so.
prometheus_config() {
	local dir=$1 py out
	mkdir -p "$dir"
	cp "$D"/prometheus/*.yml "$dir/"
	if ! out=$(promtool check config "$dir/prometheus.yml" 2>&1) &&
		grep -q 'field kubernetes_sd_configs not found in type config.ScrapeConfig' <<<"$out"; then
		echo "# this promtool has no Kubernetes service discovery (Debian's build): those jobs left out" >&3
		py=$(yaml_py) || return 1
		"$py" -c 'import sys, yaml
with open(sys.argv[1]) as f:
    c = yaml.safe_load(f)
c["scrape_configs"] = [j for j in c["scrape_configs"] if "kubernetes_sd_configs" not in j]
with open(sys.argv[1], "w") as f:
    yaml.safe_dump(c, f)' "$dir/prometheus.yml"
	fi
}

@test "prometheus: promtool check config prometheus.yml (and its alert rules)" {
	need promtool prometheus
	prometheus_config "$AC_TMP/prom"
	run -0 promtool check config "$AC_TMP/prom/prometheus.yml"
	assert_contains "$output" "SUCCESS: 1 rule files found" "promtool check config"
	run -0 promtool check rules "$D/prometheus/ac-alerts.yml"
}

@test "prometheus: the scrape jobs find the workers both ways" {
	local cfg dep labels
	cfg=$(yaml_json "$D/prometheus/prometheus.yml" | jq '.[0]')
	# file_sd: the target files that ac-worker --metrics writes for the
	# units' AC_HOME.
	assert_eq "$(jq -r '.scrape_configs[] | select(.job_name == "ac-workers") | .file_sd_configs[0].files[0]' <<<"$cfg")" \
		/var/lib/ac/workers/*.targets.json "file_sd files"
	# kubernetes_sd: role pod, keeping the pods of the Deployment by its
	# label and annotation, on the port named metrics.
	dep=$(deployment)
	labels=$(jq '.spec.template.metadata | {labels, annotations}' <<<"$dep")
	jq -e --argjson pod "$labels" '
		.scrape_configs[] | select(.kubernetes_sd_configs) |
		(.kubernetes_sd_configs[0].role == "pod") and
		([.relabel_configs[] | select(.action == "keep") |
		  {l: .source_labels[0], r: .regex}] as $keep |
		 ($keep | any(.l == "__meta_kubernetes_pod_label_app_kubernetes_io_name" and
		              .r == $pod.labels["app.kubernetes.io/name"])) and
		 ($keep | any(.l == "__meta_kubernetes_pod_annotation_prometheus_io_scrape" and
		              .r == $pod.annotations["prometheus.io/scrape"])) and
		 ($keep | any(.l == "__meta_kubernetes_pod_container_port_name" and .r == "metrics")))' \
		<<<"$cfg" >/dev/null || fail "the kubernetes_sd job does not keep the Deployment's pods"
}

@test "prometheus: promtool test rules ac-alerts.test.yml" {
	need promtool prometheus
	cd "$D/prometheus"
	run -0 promtool test rules ac-alerts.test.yml
	assert_contains "$output" SUCCESS "promtool test rules"
}

# ---------------------------------------------------------------- live

# http_code URL: the HTTP status of a GET of URL (000 when unreachable).
http_code() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1"
}

code_is() {
	[ "$(http_code "$1")" = "$2" ]
}

@test "live: ac-worker --metrics serves /healthz, /readyz and /metrics, and writes its file_sd target file" {
	ac-worker --help | grep -q -- --metrics || skip "ac-worker has no --metrics yet"
	need curl curl
	need promtool prometheus
	local url hostport host body tf sd rc
	start_worker m1 --handler up="$H/upper.sh" --metrics 127.0.0.1:0
	# One task done, one that waits for a worker that runs its type.
	run -0 ac_submit up <<<'"deploy"'
	submit_async nobody '{}' >/dev/null

	url=$(ac-status --workers | jq -r '.[0].metrics')
	assert_match "$url" '^http://127\.0\.0\.1:[0-9]+$' "ac-status --workers .metrics"
	hostport=${url#http://}
	[ "${hostport##*:}" != 0 ] || fail "the metrics address is the asked-for port 0, not the real one"

	assert_eq "$(http_code "$url/healthz")" 200 "/healthz"
	wait_until "$AC_WAIT" code_is "$url/readyz" 200 || fail "/readyz is $(http_code "$url/readyz")"
	body=$(curl -fsS --max-time 5 "$url/metrics") || fail "GET /metrics failed"
	run -0 promtool check metrics <<<"$body"
	# Every series is ac_; the ones the deployment files rely on are there.
	run grep -Ev '^(#|$|ac_)' <<<"$body"
	[ -z "$output" ] || fail "series not prefixed ac_: $output"
	grep -Eq '^ac_store_up(\{[^}]*\})? 1$' <<<"$body" || fail "no ac_store_up 1"
	grep -Eq '^ac_worker_draining(\{[^}]*\})? 0$' <<<"$body" || fail "no ac_worker_draining 0"
	grep -Eq '^ac_tasks_running(\{[^}]*\})? ' <<<"$body" || fail "no ac_tasks_running"
	grep -Eq '^ac_heartbeat_age_seconds(\{[^}]*\})? ' <<<"$body" || fail "no ac_heartbeat_age_seconds"
	grep -Eq '^ac_tasks_completed_total\{[^}]*type="up"[^}]*\} 1$' <<<"$body" ||
		fail "no ac_tasks_completed_total{type=\"up\"} 1"
	grep -Eq '^ac_task_duration_seconds_bucket\{[^}]*le="\+Inf"[^}]*\} ' <<<"$body" ||
		fail "no ac_task_duration_seconds histogram"
	grep -E '^ac_queue_depth\{' <<<"$body" | grep 'type="nobody"' | grep 'status="queued"' |
		grep -q ' 1$' || fail "no ac_queue_depth{type=\"nobody\",status=\"queued\"} 1"

	# The file_sd target file, and what the ac-workers job of
	# prometheus.yml makes of it.
	tf=$AC_HOME/workers/m1.targets.json
	[ -f "$tf" ] || fail "no $tf"
	host=$(worker_field m1 host)
	jq -e --arg t "$hostport" --arg host "$host" \
		'length == 1 and .[0].targets == [$t] and
		 .[0].labels == {ac_worker: "m1", ac_host: $host}' "$tf" >/dev/null ||
		fail "$tf is not [{targets:[\"$hostport\"],labels:{ac_worker:\"m1\",ac_host:\"$host\"}}]: $(cat "$tf")"
	prometheus_config "$AC_TMP/prom"
	sed -i "s|/var/lib/ac/workers/|$AC_HOME/workers/|" "$AC_TMP/prom/prometheus.yml"
	# (its log lines go to stderr, the targets as JSON to stdout)
	sd=$(promtool check service-discovery --timeout=5s "$AC_TMP/prom/prometheus.yml" ac-workers \
		2>"$AC_TMP/sd.err") || fail "promtool check service-discovery: $(cat "$AC_TMP/sd.err")"
	jq -e --arg t "$hostport" 'length == 1 and .[0].labels.__address__ == $t and
		.[0].labels.instance == "m1" and .[0].labels.job == "ac-workers"' <<<"$sd" >/dev/null ||
		fail "promtool check service-discovery found: $sd"

	# Draining: not ready (the Deployment's readiness probe), alive.
	ac-drain --reason deploy-test m1
	wait_until "$AC_WAIT" code_is "$url/readyz" 503 || fail "/readyz is $(http_code "$url/readyz") while draining"
	assert_eq "$(http_code "$url/healthz")" 200 "/healthz while draining"
	curl -fsS --max-time 5 "$url/metrics" | grep -Eq '^ac_worker_draining(\{[^}]*\})? 1$' ||
		fail "no ac_worker_draining 1 while draining"
	ac-drain --undo m1
	wait_until "$AC_WAIT" code_is "$url/readyz" 200 || fail "/readyz is $(http_code "$url/readyz") after --undo"

	# SIGTERM: exit 0, the target file gone with the worker.
	rc=0
	stop_worker m1 || rc=$?
	assert_eq "$rc" 0 "exit status after SIGTERM"
	[ ! -e "$tf" ] || fail "$tf is still there after the worker exited"
}
