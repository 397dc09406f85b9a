#!/usr/bin/env bats
# Cron schedules (ac-schedule), fired by the live workers themselves: one
# task per slot across racing workers, catch-up after every worker was down,
# --overlap skip, pause/resume/rm/run, list/show/next, the schedule.* events,
# bad input; and the cron parser against an independent implementation
# (tests/cron-oracle.py) when there is one.  Each behaviour runs on SQLite
# and again on a PostgreSQL database of its own when tests/run.sh started a
# server (AC_TEST_PG_URL; skipped otherwise).  Handlers log their own runs
# (tests/handlers/step.sh).

load helpers

setup() {
	ac_setup
	PG_DB=
}

teardown() {
	local rc=0
	ac_teardown || rc=$?
	pg_test_db_drop
	return $rc
}

# sched_tasks NAME: the tasks of schedule NAME, a JSON array sorted by id.
sched_tasks() {
	ac-status --tasks --limit 1000 --json |
		jq -c --arg n "$1" '[.[] | select(.meta.schedule == $n)] | sort_by(.id)'
}

# sched_count NAME: how many tasks schedule NAME has.
sched_count() {
	sched_tasks "$1" | jq length
}

# sched_field NAME FIELD: jq -r .FIELD of ac-schedule show NAME.
sched_field() {
	ac-schedule show "$1" --json | jq -r ".$2"
}

# cron_at UNIX-SECONDS: a six-field expression for that one second (UTC).
cron_at() {
	date -u -d "@$1" '+%-S %-M %-H %-d %-m *'
}

# ms ISO-TIME: unix milliseconds.
ms() {
	echo $(($(date -u -d "$1" +%s%3N)))
}

# until_epoch SECONDS: sleep until the clock reads at least SECONDS.
until_epoch() {
	while (($(date +%s) < $1)); do sleep 0.2; done
}

# assert_line_and_usage: $stderr is "ac-schedule: ..." and a "usage: ..."
# line, and nothing was printed on stdout.
assert_line_and_usage() {
	assert_usage_error ac-schedule || return 1
	assert_eq "$(printf '%s\n' "$stderr" | grep -c '')" 2 "stderr lines (message and usage)" || return 1
	assert_eq "$output" "" "stdout"
}

# ------------------------------------------------------------ racing workers

sched_race() {
	local tasks n
	for w in w1 w2 w3; do
		start_worker "$w" --concurrency 2 --heartbeat 1 --handler tick="$H/step.sh tick"
	done
	run -0 ac-schedule add race --cron '*/2 * * * * *' tick
	sleep 7.5
	run -0 ac-schedule pause race
	tasks=$(sched_tasks race)
	n=$(jq length <<<"$tasks")
	((n >= 3)) || fail "$n task(s) in 7.5 s of a schedule every 2 s"
	assert_eq "$(jq '[group_by(.meta.slot)[] | length] | max' <<<"$tasks")" 1 \
		"tasks of the busiest slot" || {
		jq -c '.[] | [.id, .meta.slot, .worker]' <<<"$tasks" >&2
		return 1
	}
	assert_eq "$(jq -c '[.[].meta.slot | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601] | sort |
		[range(1; length) as $i | .[$i] - .[$i - 1]] | unique' <<<"$tasks")" \
		"$( ((n > 1)) && echo '[2]' || echo '[]')" "seconds between consecutive slots"
	assert_eq "$(jq -r '[.[] | .idempotency_key == "ac-schedule:race:\(.meta.slot | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601 * 1000)"] | all' <<<"$tasks")" \
		true "idempotency keys ac-schedule:NAME:SLOTMS: $(jq -c 'map(.idempotency_key)' <<<"$tasks")"
	assert_eq "$(sched_field race fired)" "$n" "fired"
	for id in $(jq '.[].id' <<<"$tasks"); do
		wait_status "$id" completed || return 1
	done
	assert_eq "$(grep -c ' start ' "$AC_TMP/tick.log")" "$n" "handler runs"
}

@test "three workers racing on '*/2 * * * * *': one task per slot, no gap, fired = tasks (sqlite)" {
	sched_race
}

@test "three workers racing on '*/2 * * * * *': one task per slot, no gap, fired = tasks (postgres)" {
	pg_test_db
	sched_race
}

# ------------------------------------------------------------ catch-up

sched_catch_up() {
	local now gone late next_every back tasks c_ms
	start_worker w1 --handler job="$H/step.sh job"
	now=$(date +%s)
	gone=$((now + 3))
	late=$((now + 5))
	run -0 ac-schedule add gone --cron "$(cron_at "$gone")" --tz UTC --catch-up 0 job
	run -0 ac-schedule add late --cron "$(cron_at "$late")" --tz UTC --catch-up 1h job
	run -0 ac-schedule add every --cron '*/3 * * * * *' --tz UTC --catch-up 1h job
	stop_worker w1 || fail "the worker did not stop"
	(($(date +%s) < gone)) || fail "the worker took until $(date +%s) to stop (slot $gone)"
	next_every=$(ms "$(sched_field every next)")
	# Down over both slots: 'gone' missed by more than the 10 s grace.
	until_epoch $((gone + 11))
	assert_eq "$(sched_count late)$(sched_count gone)" 00 "tasks while no worker ran"
	back=$(date +%s%3N)
	start_worker w2 --handler job="$H/step.sh job"

	wait_until "$AC_WAIT" eval '[ "$(sched_count late)" -ge 1 ]' ||
		fail "the slot missed by less than --catch-up did not fire"
	wait_until "$AC_WAIT" eval '[ "$(sched_field gone missed)" = 1 ]' ||
		fail "'gone' has not counted its missed slot: $(ac-schedule show gone)"
	sleep 1
	tasks=$(sched_tasks late)
	assert_eq "$(jq length <<<"$tasks")" 1 "tasks of 'late'"
	assert_eq "$(jq -r '.[0].meta.slot' <<<"$tasks")" \
		"$(date -u -d "@$late" +%Y-%m-%dT%H:%M:%S.000Z)" "the slot it fired for"
	wait_status "$(jq -r '.[0].id' <<<"$tasks")" completed || return 1
	assert_eq "$(ac-schedule show late | jq -c '[.fired, .missed]')" '[1,0]' "'late' fired, missed"
	assert_eq "$(sched_count gone)" 0 "tasks of 'gone' (--catch-up 0)"
	assert_eq "$(sched_field gone fired)" 0 "'gone' fired"

	# 'every': the latest slot missed fires once, the earlier ones count as
	# missed.
	run -0 ac-schedule pause every
	tasks=$(sched_tasks every | jq -c --argjson n "$next_every" '[.[] |
		select((.meta.slot | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601 * 1000) >= $n)]')
	c_ms=$(ms "$(jq -r '.[0].meta.slot' <<<"$tasks")")
	((c_ms <= back && c_ms > back - 3000)) ||
		fail "the first slot fired after the restart ($c_ms) is not the last one before it ($back)"
	assert_eq "$(sched_field every missed)" $(((c_ms - next_every) / 3000)) \
		"'every' missed (slots from $next_every before $c_ms)"
}

@test "catch-up: the missed slot fires once when a worker comes back; --catch-up 0 counts it missed (sqlite)" {
	sched_catch_up
}

@test "catch-up: the missed slot fires once when a worker comes back; --catch-up 0 counts it missed (postgres)" {
	pg_test_db
	sched_catch_up
}

# ------------------------------------------------------------ overlap skip

sched_overlap_skip() {
	local n prev_end id what t
	start_worker w1 --concurrency 2 --handler job="$H/step.sh job 2.5"
	start_worker w2 --concurrency 2 --handler job="$H/step.sh job 2.5"
	run -0 ac-schedule add ov --cron '* * * * * *' --overlap skip job
	sleep 6.5
	run -0 ac-schedule pause ov
	n=$(sched_count ov)
	((n >= 1)) || fail "no task fired"
	for id in $(sched_tasks ov | jq '.[].id'); do
		wait_status "$id" completed || return 1
	done
	# Never two at once: by the handlers' clocks, each run starts after
	# the one before ended.
	prev_end=0
	while read -r id what t; do
		if [ "$what" = start ]; then
			awk -v a="$t" -v b="$prev_end" 'BEGIN { exit !(a >= b) }' ||
				fail "task $id started at $t, before the previous run ended ($prev_end)"
		else
			prev_end=$t
		fi
	done < <(sort -k3,3n "$AC_TMP/job.log")
	assert_eq "$(sched_field ov fired)" "$n" "fired"
	(($(sched_field ov skipped) > 0)) || fail "nothing skipped: $(ac-schedule show ov)"
}

@test "--overlap skip: a 2.5 s task every second never runs twice at once; skipped > 0 (sqlite)" {
	sched_overlap_skip
}

@test "--overlap skip: a 2.5 s task every second never runs twice at once; skipped > 0 (postgres)" {
	pg_test_db
	sched_overlap_skip
}

# ------------------------------------------------------------ pause, resume, rm, run

sched_lifecycle() {
	local n out t m want lo hi first
	start_worker w1 --concurrency 2 --handler job="$H/step.sh job"
	run -0 ac-schedule add p --cron '* * * * * *' --meta team=ops job
	wait_until "$AC_WAIT" eval '[ "$(sched_count p)" -ge 1 ]' || fail "never fired"

	run -0 ac-schedule pause p --reason "maintenance"
	assert_eq "$(jq -c '[.paused, .paused_reason, .next]' <<<"$output")" '[true,"maintenance",null]' \
		"pause's output"
	assert_eq "$(ac-schedule show p | jq -c '[.paused, .paused_reason]')" '[true,"maintenance"]' "show"
	n=$(sched_count p)
	sleep 3
	assert_eq "$(sched_count p)" "$n" "tasks after 3 s paused"

	# run: a task at once, though paused, with no slot.
	run -0 ac-schedule run p
	out=$output
	assert_eq "$(jq -c 'keys' <<<"$out")" '["schedule","task","type"]' "run's output"
	assert_eq "$(jq -c '[.schedule, .type]' <<<"$out")" '["p","job"]' "run's output"
	t=$(jq -r .task <<<"$out")
	wait_status "$t" completed || return 1
	assert_eq "$(task_json "$t" | jq -cS .meta)" '{"schedule":"p","slot":null,"team":"ops"}' "its meta"
	assert_eq "$(sched_count p)" $((n + 1)) "tasks after run"

	run -0 ac-schedule resume p
	assert_eq "$(jq -c '[.paused, .paused_reason, (.next != null)]' <<<"$output")" '[false,null,true]' \
		"resume's output"
	# (wait_until has a local n: the target is computed here)
	want=$((n + 2))
	wait_until "$AC_WAIT" eval '[ "$(sched_count p)" -ge $want ]' || fail "no firing after resume"
	assert_eq "$(sched_tasks p | jq -c '[.[] | select(.id > '"$t"') | .meta.slot != null] | all')" true \
		"the tasks after resume have slots"

	# show: the recent tasks, newest first, with their slots.
	# (it still fires: recent[0] is the newest task between two listings)
	lo=$(sched_tasks p | jq 'max_by(.id).id')
	out=$(ac-schedule show p)
	hi=$(sched_tasks p | jq 'max_by(.id).id')
	assert_eq "$(jq -c '.recent[0] | keys' <<<"$out")" '["created","id","slot","status"]' "recent's fields"
	assert_eq "$(jq -c '[.recent[].id] | . == (sort | reverse)' <<<"$out")" true "recent: newest first"
	first=$(jq -r '.recent[0].id' <<<"$out")
	((first >= lo && first <= hi)) || fail "recent[0] is task $first, the newest was from $lo to $hi"
	assert_eq "$(jq -c --argjson t "$t" '[.recent[] | select(.id == $t) | .slot]' <<<"$out")" '[null]' \
		"the task of run in recent"
	assert_eq "$(jq -r '.last_task' <<<"$out")" "$(jq -r '.recent[0].id' <<<"$out")" "last_task"

	run -0 ac-schedule rm p
	m=$(sched_count p)
	sleep 2.5
	assert_eq "$(sched_count p)" "$m" "tasks 2.5 s after rm"
	run -1 --separate-stderr ac-schedule show p
	assert_eq "$(ac-schedule list | jq length)" 0 "schedules left"
}

@test "pause stops firing, run submits at once (slot null), resume restarts, rm stops; show's recent (sqlite)" {
	sched_lifecycle
}

@test "pause stops firing, run submits at once (slot null), resume restarts, rm stops; show's recent (postgres)" {
	pg_test_db
	sched_lifecycle
}

# ------------------------------------------------------------ list, show, next

sched_list() {
	local list t
	echo '{"report":"daily"}' >"$AC_TMP/data.json"
	run -0 ac-schedule add morning --cron '0 9 * * MON-FRI' --tz Europe/Berlin --overlap skip \
		--catch-up 90s --priority high --meta k=v --retries 2 report "$AC_TMP/data.json"
	run -0 ac-schedule add often --cron '*/5 * * * *' --tz UTC cleanup
	list=$(ac-schedule list)
	assert_eq "$(jq -c 'map(.name)' <<<"$list")" '["morning","often"]' "names"
	assert_eq "$(jq -c '.[0] | [.cron, .tz, .type, .data, .overlap, .catch_up_s, .priority, .meta, .retries, .paused, .fired, .missed, .skipped]' <<<"$list")" \
		'["0 9 * * MON-FRI","Europe/Berlin","report",{"report":"daily"},"skip",90,10,{"k":"v"},2,false,0,0,0]' \
		"the first schedule"
	assert_eq "$(jq -c '.[1] | [.data, .overlap, .catch_up_s, .priority]' <<<"$list")" '[{},"allow",3600,5]' \
		"defaults"
	t=$(jq -r '.[0].next' <<<"$list")
	assert_eq "$(TZ=Europe/Berlin date -d "$t" '+%H:%M:%S')" 09:00:00 "next of 'morning', in Berlin"
	assert_eq "$(ac-schedule show morning | jq -c 'del(.recent)')" "$(jq -c '.[0]' <<<"$list")" \
		"show = its list entry"
	assert_eq "$(ac-schedule show morning | jq -c .recent)" '[]' "recent"
	assert_eq "$(ac-status --schedules --json | jq -cS .)" "$(jq -cS . <<<"$list")" \
		"ac-status --schedules = ac-schedule list"

	run -0 ac-schedule list --table
	assert_match "${lines[0]}" '^NAME +CRON +TZ +TYPE' "table header"
	assert_match "${lines[1]}" '^morning +0 9 \* \* MON-FRI +Europe/Berlin +report ' "row 1"
	assert_match "${lines[2]}" '^often +\*/5 \* \* \* \* +UTC +cleanup ' "row 2"
	assert_eq "${#lines[@]}" 3 "table lines"

	run -0 ac-schedule next --cron '0 9 * * MON-FRI' --tz Europe/Berlin --count 3
	assert_eq "$(jq -c '[.cron, .tz, (.next | length)]' <<<"$output")" \
		'["0 9 * * MON-FRI","Europe/Berlin",3]' "next"
	local prev=0 s
	for t in $(jq -r '.next[]' <<<"$output"); do
		assert_match "$t" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T0[78]:00:00\.000Z$' "a firing" || return 1
		assert_eq "$(TZ=Europe/Berlin date -d "$t" '+%H:%M')" 09:00 "$t in Berlin" || return 1
		(($(date -u -d "$t" +%u) <= 5)) || fail "$t is not a weekday"
		s=$(date -u -d "$t" +%s)
		((s > prev && s > $(date +%s))) || fail "$t: not in order or not ahead"
		prev=$s
	done
	assert_eq "$(ac-schedule next morning --count 3 | jq -c .next)" "$(jq -c .next <<<"$output")" \
		"next NAME"
	run -0 ac-schedule next --cron '*/2 * * * * *' --count 2
	assert_eq "$(jq -r '.next | map(sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) | .[1] - .[0]' <<<"$output")" \
		2 "six fields: seconds first"
}

@test "list (JSON and table), show, next in a zone, ac-status --schedules = list (sqlite)" {
	sched_list
}

@test "list (JSON and table), show, next in a zone, ac-status --schedules = list (postgres)" {
	pg_test_db
	sched_list
}

# ------------------------------------------------------------ events

sched_events() {
	local fpid ev id
	start_worker w1 --handler job="$H/step.sh job"
	ac-status --follow >"$AC_TMP/events" 2>"$AC_TMP/follow.err" &
	fpid=$!
	AC_PIDS+=("$fpid")
	run -0 ac-schedule add ev --cron '* * * * * *' job
	wait_until "$AC_WAIT" grep -q '"schedule.fired"' "$AC_TMP/events" ||
		fail "no schedule.fired event: $(cat "$AC_TMP/events" "$AC_TMP/follow.err")"
	run -0 ac-schedule pause ev
	run -0 ac-schedule resume ev
	run -0 ac-schedule rm ev
	wait_until "$AC_WAIT" grep -q '"schedule.removed"' "$AC_TMP/events" ||
		fail "no schedule.removed event: $(cat "$AC_TMP/events")"
	kill "$fpid"
	wait "$fpid" 2>/dev/null || true

	ev=$(grep '"schedule.fired"' "$AC_TMP/events" | head -n 1)
	assert_eq "$(jq -r .schedule <<<"$ev")" ev "the event's schedule"
	id=$(jq -r .task <<<"$ev")
	[[ $id =~ ^[0-9]+$ ]] || fail "no task id in $ev"
	assert_eq "$(task_json "$id" | jq -c '.meta | [.schedule, .slot]')" \
		"$(jq -c '[.schedule, .slot]' <<<"$ev")" "the task named by the event"
	assert_eq "$(jq -r 'select(.event | startswith("schedule.")) | select(.event != "schedule.fired") | .event' \
		"$AC_TMP/events" | grep -v '^schedule.added$' | paste -sd' ')" \
		"schedule.paused schedule.resumed schedule.removed" "the other schedule events, in order"
}

@test "ac-status --follow shows schedule.fired with the task id, and pause/resume/rm (sqlite)" {
	sched_events
}

@test "ac-status --follow shows schedule.fired with the task id, and pause/resume/rm (postgres)" {
	pg_test_db
	sched_events
}

# ------------------------------------------------------------ bad input

sched_bad_input() {
	local before name65 bad
	run -0 ac-schedule add base --cron '*/5 * * * *' --tz UTC job
	before=$(ac-schedule list | jq -c 'map(del(.next))')
	name65=$(printf 'a%.0s' {1..65})

	for bad in '61 * * * *' '* 24 * * *' '*/0 * * * *' '* * 32 * *' \
		'* * * *' '* * * * * * *' '' \
		'* * * * FOO' '* * * JANX *' '@sometimes'; do
		run -2 --separate-stderr ac-schedule add x --cron "$bad" job
		assert_line_and_usage || { echo "# --cron '$bad'" >&2; return 1; }
		assert_contains "$stderr" "--cron" "--cron '$bad'" || return 1
	done
	run -2 --separate-stderr ac-schedule add x --cron '* * * * *' --tz Mars/Olympus job
	assert_line_and_usage
	assert_contains "$stderr" "Mars/Olympus"
	run -2 --separate-stderr ac-schedule add x --cron '* * * * *' --overlap sometimes job
	assert_line_and_usage
	assert_contains "$stderr" "--overlap"
	for bad in soon -5 1y ''; do
		run -2 --separate-stderr ac-schedule add x --cron '* * * * *' --catch-up "$bad" job
		assert_line_and_usage || { echo "# --catch-up '$bad'" >&2; return 1; }
	done
	for bad in 'a b' "$name65" '' 'a/b'; do
		run -2 --separate-stderr ac-schedule add "$bad" --cron '* * * * *' job
		assert_line_and_usage || { echo "# name '$bad'" >&2; return 1; }
	done
	run -2 --separate-stderr ac-schedule add x job
	assert_line_and_usage
	assert_contains "$stderr" "--cron"
	run -2 --separate-stderr ac-schedule add x --cron '* * * * *'
	assert_line_and_usage
	run -2 --separate-stderr ac-schedule frob
	assert_line_and_usage
	run -2 --separate-stderr ac-schedule
	assert_line_and_usage
	run -2 --separate-stderr ac-schedule list --cron x
	assert_line_and_usage
	run -2 --separate-stderr ac-schedule pause base --cron '* * * * *'
	assert_line_and_usage
	run -2 --separate-stderr ac-schedule show base --reason x
	assert_line_and_usage
	run -2 --separate-stderr ac-schedule next --cron '* * * * *' --count 0
	assert_line_and_usage
	echo '{"a":' >"$AC_TMP/bad.json"
	run -2 --separate-stderr ac-schedule add x --cron '* * * * *' job "$AC_TMP/bad.json"
	assert_one_stderr_line ac-schedule
	assert_eq "$(ac-schedule list | jq -c 'map(del(.next))')" "$before" "the schedules after bad input"

	# A name that exists: 1, unchanged; --replace changes it.
	run -1 --separate-stderr ac-schedule add base --cron '0 * * * *' --tz UTC job2
	assert_one_stderr_line ac-schedule
	assert_contains "$stderr" "base"
	assert_eq "$(ac-schedule list | jq -c 'map(del(.next))')" "$before" "after adding it again"
	run -0 ac-schedule add base --cron '0 * * * *' --tz UTC --replace job2
	assert_eq "$(ac-schedule list | jq -c 'map([.name, .cron, .type])')" '[["base","0 * * * *","job2"]]' \
		"after --replace"

	for sub in pause resume rm run show next; do
		run -1 --separate-stderr ac-schedule "$sub" nosuch
		assert_one_stderr_line ac-schedule || { echo "# $sub" >&2; return 1; }
		assert_contains "$stderr" "nosuch" "$sub" || return 1
	done
	assert_eq "$(ac-status --json | jq '[.tasks[]] | add')" 0 "tasks submitted"
}

@test "bad input: exit 2, a line and usage, nothing stored; existing name 1, --replace; unknown names 1 (sqlite)" {
	sched_bad_input
}

@test "bad input: exit 2, a line and usage, nothing stored; existing name 1, --replace; unknown names 1 (postgres)" {
	pg_test_db
	sched_bad_input
}

# ------------------------------------------------------------ cron oracle

@test "the cron parser agrees with croniter (tests/cron-oracle.py)" {
	[ -f "$AC_TESTS_DIR/cron-oracle.py" ] || skip "no tests/cron-oracle.py in this tree"
	# The first python3 that has croniter: the one on PATH (which may be
	# a private installation without it), else the system's.
	local py=
	for p in "$(command -v python3)" /usr/bin/python3; do
		if [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import croniter' 2>/dev/null; then
			py=$p
			break
		fi
	done
	[ -n "$py" ] || skip "python3-croniter is not installed (apt-get install python3-croniter)"
	[ -x "$AC_ROOT/build/tests/test_cron" ] || fail "no build/tests/test_cron (run 'make unit')"
	cd "$AC_ROOT"
	run "$py" tests/cron-oracle.py build/tests/test_cron
	[ "$status" -eq 0 ] || {
		printf '%s\n' "$output" | tail -n 20 | sed 's/^/#   /' >&2
		fail "tests/cron-oracle.py exited $status"
	}
}
