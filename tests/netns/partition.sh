#!/bin/bash
# The partition test: PostgreSQL on one host, a worker on each of two more,
# and one of those hosts cut off from the network mid-run.
#
# The hosts are network namespaces made for this run only (ac-PID-db,
# ac-PID-hostA, ac-PID-hostB), joined by veth pairs to a bridge inside the
# db namespace, on 10.231.0.0/24.  Addresses exist only inside those
# namespaces: nothing of the machine's own interfaces or routes changes.
# PostgreSQL runs in db (as the postgres user, trust for the subnet);
# ac-worker hostA and ac-worker hostB run in theirs, each with its own
# AC_HOME and a tcp:// control socket, --heartbeat 1 --lease 4, 3 slots.
# The operator (ac-submit, ac-status, ac-drain) works from db.
#
#   1. The cut.  hostA runs a task whose first attempt outlasts any lease
#      and two of N 3-second tasks when its link goes down.  The 3-second
#      handlers finish during the cut, their ends unable to reach the
#      store; the long one must be stopped by hostA once its lease has run
#      out.  The leases run out by the server's clock, hostB's sweep takes
#      the tasks back, and hostB completes all of them while hostA is away.
#   2. The link comes back: hostA reconnects and goes on working (of M more
#      tasks it completes at least one); nothing it held is recorded.
#   3. A late end in flight.  hostA's handler ends just after its link went
#      down, so its end is sent into the cut; the link comes back after the
#      lease has run out, the end arrives late, and the store refuses it.
#   4. Every task completed exactly once (one `completed` attempt each, its
#      result from that attempt); hostA's cut-off attempts ended `lost`; no
#      attempt was taken back before its lease ran out; no two handlers of
#      one task ever ran at the same time.
#
# Exit 0 when every check holds, 1 when one fails, 77 when this machine
# cannot run it (not root, no ip/netns/veth/bridge, no PostgreSQL server),
# with the reason on the last line of stdout ("skip: REASON").  Everything it
# started is stopped and removed on any exit: processes by pid, PostgreSQL,
# the namespaces, the temporary directory (KEEP=1 keeps the directory, with
# the logs and runs.log, the handlers' own record of when they ran).
#
# Environment: AC_TEST_BIN (the binaries under test, default bin/),
# PG_BIN (the PostgreSQL server's bin directory, default the newest
# /usr/lib/postgresql/*/bin), N (default 12), M (default 6).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BIN=${AC_TEST_BIN:-$top/bin}
case $BIN in /*) ;; *) BIN=$top/$BIN ;; esac
PATH=$BIN:$PATH
N=${N:-12}
M=${M:-6}
HEARTBEAT=1
LEASE=4
RUN_S=3		# how long the slow handler runs
CONC=3		# slots per worker
WAIT=60		# the longest any single wait may take

NET=10.231.0
DB_IP=$NET.1
A_IP=$NET.2
B_IP=$NET.3
PG_PORT=5432
ID=$$
NS_DB=ac-$ID-db
NS_A=ac-$ID-hostA
NS_B=ac-$ID-hostB
T0=$(date +%s.%N)

say() { printf 'partition: %s\n' "$*"; }
# since FROM TO: seconds from FROM to TO (date +%s.%N values), to 0.1 s
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
el() { since "$T0" "$1"; }
skip() {
	printf 'skip: %s\n' "$*"
	exit 77
}

# ------------------------------------------------------------ can we run?

[ "$(id -u)" = 0 ] || skip "network namespaces need root"
command -v ip >/dev/null 2>&1 || skip "no ip command (apt-get install iproute2)"
command -v jq >/dev/null 2>&1 || skip "no jq"
command -v runuser >/dev/null 2>&1 || skip "no runuser"
if [ -z "${PG_BIN:-}" ]; then
	PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
for p in initdb pg_ctl postgres psql pg_isready; do
	[ -x "${PG_BIN:-/nonexistent}/$p" ] ||
		skip "no PostgreSQL server binaries (looked for $p in ${PG_BIN:-/usr/lib/postgresql/*/bin}; apt-get install postgresql)"
done
id postgres >/dev/null 2>&1 || skip "no postgres user to run the PostgreSQL server as"
for c in ac-worker ac-submit ac-status ac-drain; do
	[ -x "$BIN/$c" ] || { say "FAILED: $BIN/$c is missing (run make)"; exit 1; }
done

# ------------------------------------------------------------ clean-up

TMP=
WORKER_PIDS=
declare -A PID
made_ns=
cleanup() {
	local ns p pids tries
	set +e
	trap '' INT TERM
	for p in $WORKER_PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	# Whatever still runs inside our namespaces was started by this run:
	# the workers, their handlers, PostgreSQL.
	if [ -n "$TMP" ] && [ -f "$TMP/pg/postmaster.pid" ]; then
		ip netns exec "$NS_DB" runuser -u postgres -- \
			"$PG_BIN/pg_ctl" -D "$TMP/pg" -m immediate -w -t 10 stop >/dev/null 2>&1
	fi
	for tries in 1 2 3 4 5 6 7 8 9 10; do
		pids=
		for ns in $made_ns; do
			pids="$pids $(ip netns pids "$ns" 2>/dev/null)"
		done
		[ -z "${pids// /}" ] && break
		# shellcheck disable=SC2086 # a list of pids
		if [ "$tries" -lt 6 ]; then
			kill -TERM $pids 2>/dev/null
		else
			kill -KILL $pids 2>/dev/null
		fi
		sleep 0.3
	done
	for p in $WORKER_PIDS; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for ns in $made_ns; do
		ip netns del "$ns" 2>/dev/null
	done
	if [ -n "$TMP" ]; then
		if [ -n "${KEEP:-}" ]; then
			say "kept $TMP"
		else
			rm -rf "$TMP"
		fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------ hosts

TMP=$(mktemp -d /tmp/ac-netns.XXXXXX) || exit 1
# PostgreSQL (as postgres) needs to reach its data directory inside.
chmod 755 "$TMP"

ns_add() {
	ip netns add "$1" 2>"$TMP/ip.err" ||
		skip "cannot make network namespaces: $(head -n 1 "$TMP/ip.err")"
	made_ns="$made_ns $1"
	ip -n "$1" link set lo up
}
ns_add "$NS_DB"
ns_add "$NS_A"
ns_add "$NS_B"
ip -n "$NS_DB" link add br0 type bridge 2>"$TMP/ip.err" ||
	skip "cannot make a bridge in a namespace: $(head -n 1 "$TMP/ip.err")"
ip -n "$NS_DB" addr add "$DB_IP/24" dev br0
ip -n "$NS_DB" link set br0 up
# veth_to NS NAME IP: a veth pair from NS (eth0, IP) to the bridge (NAME).
veth_to() {
	ip -n "$1" link add eth0 type veth peer name "$2" netns "$NS_DB" 2>"$TMP/ip.err" ||
		skip "cannot make veth pairs: $(head -n 1 "$TMP/ip.err")"
	ip -n "$NS_DB" link set "$2" master br0 up
	ip -n "$1" addr add "$3/24" dev eth0
	ip -n "$1" link set eth0 up
}
veth_to "$NS_A" vA "$A_IP"
veth_to "$NS_B" vB "$B_IP"

# ------------------------------------------------------------ PostgreSQL

in_db() { ip netns exec "$NS_DB" "$@"; }
as_pg() { ip netns exec "$NS_DB" runuser -u postgres -- "$@"; }

mkdir -p "$TMP/pg" "$TMP/pgsock" "$TMP/pglog"
chown postgres: "$TMP/pg" "$TMP/pgsock" "$TMP/pglog"
if ! as_pg "$PG_BIN/initdb" -D "$TMP/pg" -U postgres -A trust --no-sync \
	>"$TMP/initdb.log" 2>&1; then
	say "FAILED: initdb:"
	sed 's/^/  /' "$TMP/initdb.log"
	exit 1
fi
cat >"$TMP/pg/pg_hba.conf" <<EOF
local all all trust
host all all $NET.0/24 trust
EOF
cat >>"$TMP/pg/postgresql.conf" <<EOF
listen_addresses = '$DB_IP'
port = $PG_PORT
unix_socket_directories = '$TMP/pgsock'
fsync = off
synchronous_commit = off
full_page_writes = off
log_connections = on
log_disconnections = on
log_line_prefix = '%m [%p] %u@%d %h '
EOF
if ! as_pg "$PG_BIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pglog/postgres.log" -w -t 30 start \
	>"$TMP/pg_ctl.log" 2>&1; then
	say "FAILED: PostgreSQL did not start:"
	sed 's/^/  /' "$TMP/pg_ctl.log" "$TMP/pglog/postgres.log"
	exit 1
fi
as_pg "$PG_BIN/psql" -h "$TMP/pgsock" -p "$PG_PORT" -U postgres -q -v ON_ERROR_STOP=1 \
	-c "create role ac login" -c "create database ac owner ac" >/dev/null || exit 1
STORE=postgresql://ac@$DB_IP:$PG_PORT/ac

# reachable NS: PostgreSQL answers from namespace NS.
reachable() {
	ip netns exec "$1" "$PG_BIN/pg_isready" -q -t 2 -h "$DB_IP" -p "$PG_PORT"
}
for ns in "$NS_A" "$NS_B"; do
	reachable "$ns" || { say "FAILED: PostgreSQL is not reachable from $ns"; exit 1; }
done
say "hosts up: db $DB_IP (PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}')), hostA $A_IP, hostB $B_IP"

# ------------------------------------------------------------ ac

export AC_STORE=$STORE
AC_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export AC_TOKEN
# the operator (ac-submit, ac-status, ac-drain) works from the db host
export AC_HOME=$TMP/ops/home HOME=$TMP/ops XDG_STATE_HOME=$TMP/ops/xdg TMPDIR=$TMP/ops/tmp
mkdir -p "$AC_HOME" "$TMPDIR"
RUNS=$TMP/runs.log
: >"$RUNS"
# The handler, for three task types: `slow` runs RUN_S seconds; `long`
# runs 20 s in its first attempt, 3 s in later ones; `held` runs until the
# file release.TASK exists.  Each notes "start", "tick" (long, every 0.2 s)
# and "end" lines (TASK ATTEMPT WORKER TIME) in runs.log, then prints who
# ran it.
cat >"$TMP/h" <<HANDLER
#!/bin/sh
note() {
	echo "\$1 \$AC_TASK_ID \$AC_ATTEMPT \$AC_WORKER_ID \$(date +%s.%N)" >>"$RUNS"
}
note start
case \$1 in
long)
	n=15
	[ "\$AC_ATTEMPT" = 1 ] && n=100
	while [ \$n -gt 0 ]; do
		sleep 0.2
		note tick
		n=\$((n - 1))
	done
	;;
held)
	until [ -e "$TMP/release.\$AC_TASK_ID" ]; do
		sleep 0.05
	done
	;;
*)
	sleep "\$1"
	;;
esac
note end
echo "{\"task\":\$AC_TASK_ID,\"attempt\":\$AC_ATTEMPT,\"worker\":\"\$AC_WORKER_ID\"}"
HANDLER
chmod 755 "$TMP/h"

st() { in_db ac-status "$@" --json; }

# worker_up NAME PID: listed by ac-status with that pid and alive
worker_up() {
	# -n with input: no output at all is a failure, not "nothing false seen"
	st --workers 2>/dev/null | jq -en --arg id "$1" --argjson pid "$2" \
		'input | any(.[]; .id == $id and .pid == $pid and
		 (.status == "idle" or .status == "busy"))' >/dev/null 2>&1
}

# start_worker NAME NS IP
start_worker() {
	local name=$1 ns=$2 ip=$3 d=$TMP/$1 pid end
	mkdir -p "$d/home" "$d/tmp"
	ip netns exec "$ns" env --default-signal=INT,QUIT \
		AC_HOME="$d/home" HOME="$d" XDG_STATE_HOME="$d/xdg" TMPDIR="$d/tmp" \
		setsid ac-worker --id "$name" --handler slow="$TMP/h $RUN_S" \
		--handler long="$TMP/h long" --handler held="$TMP/h held" \
		--concurrency "$CONC" --heartbeat "$HEARTBEAT" --lease "$LEASE" \
		--listen "tcp://$ip:7100" -v \
		</dev/null >>"$TMP/$name.log" 2>&1 &
	pid=$!
	WORKER_PIDS="$WORKER_PIDS $pid"
	PID[$name]=$pid
	end=$((SECONDS + WAIT))
	until worker_up "$name" "$pid"; do
		if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= end)); then
			say "FAILED: ac-worker $name did not come up; its log:"
			sed 's/^/  /' "$TMP/$name.log"
			exit 1
		fi
		sleep 0.1
	done
}

FAILED=0
check() { # WHAT STATUS [DETAIL]: STATUS 0 is a pass
	if [ "$2" = 0 ]; then
		say "ok: $1"
	else
		say "FAILED: $1${3:+: $3}"
		FAILED=1
	fi
}
die() {
	say "FAILED: $*"
	say "--- hostA.log (last 40 lines)"
	tail -n 40 "$TMP/hostA.log" | sed 's/^/  /'
	say "--- hostB.log (last 40 lines)"
	tail -n 40 "$TMP/hostB.log" | sed 's/^/  /'
	say "--- tasks"
	st --tasks --limit 1000 2>&1 | jq -c '.[] | {id, type, status, attempt, worker}' 2>&1 |
		sed 's/^/  /'
	exit 1
}

# wait_for SECONDS CMD...: until CMD succeeds; 1 when the time runs out
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep 0.1
	done
}

completed_is() { # COUNT: that many tasks completed
	[ "$(st 2>/dev/null | jq -r .tasks.completed)" = "$1" ]
}
status_is() { # TASK STATUS
	[ "$(st --task "$1" 2>/dev/null | jq -r .status)" = "$2" ]
}
started_on() { # TASK WORKER: a handler of TASK started on WORKER
	grep -q "^start $1 [0-9]* $2 " "$RUNS"
}
starts_on() { # WORKER N: N handlers or more started on WORKER
	[ "$(grep -c "^start [0-9]* [0-9]* $1 " "$RUNS")" -ge "$2" ]
}
submit() { # TYPE: one task of TYPE, its id on stdout
	echo '{}' | in_db ac-submit --async "$1"
}
link() { # up|down: hostA's link
	ip -n "$NS_A" link set eth0 "$1"
}
now() { date +%s.%N; }
# ts: an RFC 3339 UTC time (fraction optional) as unix seconds
JQ_TS='def ts: capture("^(?<s>[^.Z]+)(?<f>[.][0-9]+)?Z$") |
	(.s + "Z" | fromdateiso8601) + ("0" + (.f // "") | tonumber); '
# alog TASK REGEX: hostA's log has a line on (TASK, attempt 1) matching REGEX
alog() { grep -qE "task $1 attempt 1: .*($2)" "$TMP/hostA.log"; }

# The store is created by the first command that opens it.
start_worker hostA "$NS_A" "$A_IP"
start_worker hostB "$NS_B" "$B_IP"
say "workers up: hostA (pid ${PID[hostA]}), hostB (pid ${PID[hostB]}); --heartbeat $HEARTBEAT --lease $LEASE, $CONC slots each"

# ------------------------------------------------------------ 1: the cut

# hostB is drained while hostA fills its slots: one long task and two slow.
in_db ac-drain --reason "the test fills hostA first" hostB || die "ac-drain hostB"
LONG=$(submit long) || die "ac-submit long"
wait_for "$WAIT" started_on "$LONG" hostA || die "hostA did not start task $LONG"
seq "$N" | sed 's/.*/{"n":&}/' | in_db ac-submit --batch --async slow >"$TMP/ids1" ||
	die "ac-submit --batch --async"
[ "$(wc -l <"$TMP/ids1")" = "$N" ] || die "ac-submit printed $(wc -l <"$TMP/ids1") ids for $N tasks"
wait_for "$WAIT" starts_on hostA "$CONC" || die "hostA did not fill its $CONC slots"
in_db ac-drain --undo hostB || die "ac-drain --undo hostB"
wait_for "$WAIT" starts_on hostB 1 || die "hostB started nothing once undrained"
link down
T_CUT=$(now)
cut_tasks=$(awk '$1 == "start" && $4 == "hostA" { print $2 }' "$RUNS" | sort -n | tr '\n' ' ')
ncut=$(wc -w <<<"$cut_tasks")
say "cut hostA off at +$(el "$T_CUT")s while it ran tasks $cut_tasks(task $LONG the long one)"
reachable "$NS_A" && die "hostA still reaches PostgreSQL with its link down"

# hostB completes every task while hostA stays cut off.
wait_for "$WAIT" completed_is "$((N + 1))" ||
	die "not all $((N + 1)) tasks completed while hostA was cut off"
T_ALL=$(now)
say "all $((N + 1)) tasks completed at +$(el "$T_ALL")s, hostA still cut off"
# hostA's slow handlers finished during the cut; its long one must have
# been stopped (no line from it for a second).
long_stopped() {
	local last
	last=$(awk -v t="$LONG" '$2 == t && $3 == 1 && $4 == "hostA" { x = $5 } END { print x }' "$RUNS")
	awk -v l="$last" -v n="$(now)" 'BEGIN { exit !(n - l > 1) }'
}
wait_for 20 long_stopped
a_handlers_ended() {
	local t
	for t in $cut_tasks; do
		[ "$t" = "$LONG" ] && continue
		grep -q "^end $t [0-9]* hostA " "$RUNS" || return 1
	done
}
wait_for 10 a_handlers_ended
kill -0 "${PID[hostA]}" 2>/dev/null || die "hostA's worker died during the cut"

# ------------------------------------------------------------ 2: back

hb_A=$(st --workers | jq -r '.[] | select(.id == "hostA") | .heartbeat')
status_A=$(st --workers | jq -r '.[] | select(.id == "hostA") | .status')
link up
T_BACK=$(now)
say "hostA back at +$(el "$T_BACK")s, after $(since "$T_CUT" "$T_BACK")s (meanwhile ac-status showed it $status_A, last heartbeat $hb_A)"
wait_for "$WAIT" reachable "$NS_A" || die "hostA does not reach PostgreSQL after the link came back"
a_heartbeats() {
	st --workers 2>/dev/null | jq -en --arg hb "$hb_A" \
		'input | any(.[]; .id == "hostA" and .heartbeat != $hb and
		 (.status == "idle" or .status == "busy"))' >/dev/null
}
wait_for "$WAIT" a_heartbeats || die "hostA's worker did not heartbeat again after the link came back"
T_HB=$(now)
say "hostA heartbeats again $(since "$T_BACK" "$T_HB")s after its link came back"

seq "$M" | sed 's/.*/{"after":&}/' | in_db ac-submit --batch --async slow >"$TMP/ids2" ||
	die "ac-submit --batch --async (after the cut)"
wait_for "$WAIT" completed_is "$((N + 1 + M))" ||
	die "not all $M tasks submitted after the cut completed"

# ------------------------------------------------------------ 3: a late end

in_db ac-drain --reason "the test fills hostA first" hostB || die "ac-drain hostB"
HELD=$(submit held) || die "ac-submit held"
wait_for "$WAIT" started_on "$HELD" hostA || die "hostA did not start task $HELD"
in_db ac-drain --undo hostB || die "ac-drain --undo hostB"
link down
T_CUT3=$(now)
touch "$TMP/release.$HELD"
# The end is on its way into the cut.  Back as soon as the lease (no longer
# renewed) has run out by the server's clock -- the machine's clock: the
# hosts share it -- so that the end arrives late, but well within hostA's
# patience for an answer.
LEASE_UNTIL=$(st --task "$HELD" | jq -r "$JQ_TS"'.lease_until | ts') ||
	die "no lease_until for task $HELD"
lease_out() { awk -v l="$LEASE_UNTIL" -v n="$(now)" 'BEGIN { exit !(n > l + 0.3) }'; }
wait_for 20 lease_out
link up
T_BACK3=$(now)
say "cut hostA off again at +$(el "$T_CUT3")s as task $HELD's handler ended; its lease ran out at +$(el "$LEASE_UNTIL")s; link back at +$(el "$T_BACK3")s"
wait_for "$WAIT" status_is "$HELD" completed || die "task $HELD did not complete"
wait_for 20 alog "$HELD" "the store refused its end|nothing recorded"
T_END=$(now)

# ------------------------------------------------------------ checks

cat "$TMP/ids1" "$TMP/ids2" <(echo "$LONG") <(echo "$HELD") | while read -r id; do
	st --task "$id" | jq -c .
done >"$TMP/records.jsonl"
q() { jq -s "$@" "$TMP/records.jsonl"; }
ids1=$(jq -sc ". + [$LONG]" <"$TMP/ids1")
ids2=$(jq -sc '.' <"$TMP/ids2")
ALL=$((N + 1 + M + 1))

total=$(q 'length')
check "every task is in the store ($total of $ALL)" "$([ "$total" = "$ALL" ] && echo 0)"
n=$(q '[.[] | select(.status == "completed")] | length')
check "every task completed ($n of $ALL)" "$([ "$n" = "$ALL" ] && echo 0)"
twice=$(q -c '[.[] | select(([.attempts[] | select(.outcome == "completed")] | length) != 1) | .id]')
check "each task has exactly one completed attempt" "$([ "$twice" = '[]' ] && echo 0)" "tasks $twice"
mism=$(q -c '[.[] | ([.attempts[] | select(.outcome == "completed")][0]) as $c |
	select(.result.worker != $c.worker or .result.attempt != $c.attempt) | .id]')
check "each result is that of its completed attempt (none overwritten)" "$([ "$mism" = '[]' ] && echo 0)" "tasks $mism"

# 1: hostA's attempts of the first batch all lost, hostB completed them all
a_first=$(q -c --argjson ids "$ids1" '[.[] | select(.id as $i | $ids | index($i)) |
	.id as $t | .attempts[] | select(.worker == "hostA") | {task: $t, attempt, outcome, started, finished}]')
a_first_n=$(jq length <<<"$a_first")
check "hostA had $ncut attempts of the first batch when cut off ($a_first_n)" \
	"$([ "$a_first_n" = "$ncut" ] && echo 0)" "$a_first"
a_not_lost=$(jq -c '[.[] | select(.outcome != "lost")]' <<<"$a_first")
check "each of hostA's cut-off attempts ended lost" "$([ "$a_not_lost" = '[]' ] && echo 0)" "$a_not_lost"
b_first=$(q --argjson ids "$ids1" '[.[] | select(.id as $i | $ids | index($i)) |
	select(.result.worker == "hostB")] | length')
check "hostB completed all $((N + 1)) tasks of the first batch ($b_first)" \
	"$([ "$b_first" = $((N + 1)) ] && echo 0)"
# No early reclaim: hostA's last renewal was at most a heartbeat before the
# cut, so its leases ran to at least cut + lease - heartbeat.
early=$(jq -c --argjson cut "$T_CUT" --argjson min "$((LEASE - HEARTBEAT))" "$JQ_TS"'[.[] |
	select(.finished != null) | select((.finished | ts) < $cut + $min - 0.2) |
	{task, finished}]' <<<"$a_first")
check "no attempt of hostA was taken back before its lease ran out" "$([ "$early" = '[]' ] && echo 0)" "$early"
for t in $cut_tasks; do
	if [ "$t" = "$LONG" ]; then
		! grep -q "^end $t 1 hostA " "$RUNS"
		check "hostA stopped the handler of task $t (the long one) during the cut" $?
	fi
	alog "$t" "lease ran out while the store could not be reached|lease was not renewed|the store refused its end"
	check "hostA's log tells what became of its attempt of task $t" $? \
		"$(grep "task $t " "$TMP/hostA.log")"
done
# Never two handlers of one task at once: from runs.log, each (task,
# attempt, worker) ran from its "start" to its last line.  A worker that
# looks at its leases once a heartbeat may stop a handler up to a heartbeat
# after its own reckoning of the lease ran out; the store takes the task
# back no sooner than that reckoning and waits a back-off of 1 s more.
overlaps=$(awk '{ k = $2 " " $3 " " $4; if (!(k in first)) first[k] = $5; last[k] = $5 }
	END { for (k in first) print k, first[k], last[k] }' "$RUNS" | sort -k1,1n -k4,4n |
	awk -v slack="$HEARTBEAT" '$1 == t && $4 + slack < prev_last {
		printf "task %s: attempt %s (%s) started %.1fs before attempt %s (%s) stopped; ",
		$1, $2, $3, prev_last - $4, pa, pw }
		{ if ($1 != t || $5 > prev_last) { prev_last = $5; pa = $2; pw = $3 }; t = $1 }')
check "no two handlers of one task ran at the same time (beyond a heartbeat)" "$([ -z "$overlaps" ] && echo 0)" "$overlaps"

check "ac-status showed hostA lost while it was cut off" \
	"$([ "$status_A" = lost ] && echo 0)" "status $status_A"

# 2: back to work
a_after=$(q --argjson ids "$ids2" '[.[] | select(.id as $i | $ids | index($i)) |
	select(.result.worker == "hostA")] | length')
check "hostA completed tasks again after its link came back ($a_after of $M)" "$([ "$a_after" -ge 1 ] && echo 0)"

# 3: the late end
# (attempt 2 is whoever claimed it first: hostB, or hostA once back)
held_attempts=$(q -c --argjson t "$HELD" '.[] | select(.id == $t) | [.attempts[] | "\(.worker) \(.outcome)"]')
check "task $HELD: hostA's attempt 1 lost, attempt 2 completed" \
	"$(jq -e '.[0] == "hostA lost" and (.[1] | endswith(" completed")) and length == 2' \
		<<<"$held_attempts" >/dev/null && echo 0)" "$held_attempts"
grep -q "^end $HELD 1 hostA " "$RUNS"
check "task $HELD's handler on hostA ran to its end" $?
alog "$HELD" "the store refused its end"
check "the store refused hostA's late end of task $HELD (fencing)" $? \
	"$(grep "task $HELD " "$TMP/hostA.log")"

for w in hostA hostB; do
	kill -0 "${PID[$w]}" 2>/dev/null
	check "$w's worker is still running" $?
done
if grep -qE 'ERROR: AddressSanitizer|runtime error:' "$TMP"/host?.log; then
	check "no sanitizer reports in the worker logs" 1
fi

# ------------------------------------------------------------ summary

say "summary:"
say "  first batch: task $LONG (long) and $N slow tasks; hostA ran $cut_tasks when cut off at +$(el "$T_CUT")s"
say "    for $(since "$T_CUT" "$T_BACK")s; hostB completed all $((N + 1)) by +$(el "$T_ALL")s"
say "  hostA's attempts of the first batch:"
jq -r --argjson cut "$T_CUT" "$JQ_TS"'.[] | "    task \(.task) attempt \(.attempt): \(.outcome)" +
	(if .finished then ", taken back \((.finished | ts) - $cut | . * 10 | round / 10)s after the cut" else "" end)' <<<"$a_first"
for t in $cut_tasks; do
	last=$(awk -v t="$t" '$2 == t && $3 == 1 && $4 == "hostA" { l = $1; x = $5 } END { print l, x }' "$RUNS")
	say "    task $t on hostA: its handler's last line \"${last% *}\" $(since "$T_CUT" "${last#* }")s after the cut"
done
say "  hostA's log on them:"
for t in $cut_tasks; do
	grep "task $t " "$TMP/hostA.log" | sed 's/^/    /'
done
grep "store" "$TMP/hostA.log" | grep -v "started:" | sed 's/^/    /'
say "  link back at +$(el "$T_BACK")s; hostA heartbeating again at +$(el "$T_HB")s"
say "  second batch: $M slow tasks, completed by hostA: $a_after, by hostB: $((M - a_after))"
say "  late end: task $HELD, attempts $held_attempts; hostA's log:"
grep "task $HELD " "$TMP/hostA.log" | sed 's/^/    /'
say "  tasks completed, by worker: $(q -c 'group_by(.result.worker) | map({(.[0].result.worker): map(.id)}) | add')"
say "  attempts by outcome: $(q -c '[.[] | .attempts[] | "\(.worker) \(.outcome)"] | group_by(.) | map({(.[0]): length}) | add')"
say "  handler runs (runs.log): $(grep -c '^start ' "$RUNS") started, $(grep -c '^end ' "$RUNS") ran to their end"
say "  took $(el "$T_END")s"
if [ "$FAILED" != 0 ]; then
	say "--- hostA.log"
	sed 's/^/  /' "$TMP/hostA.log"
	say "--- hostB.log (last 60 lines)"
	tail -n 60 "$TMP/hostB.log" | sed 's/^/  /'
	say "FAILED"
	exit 1
fi
say "PASSED"
