#!/usr/bin/env bats
# lz4 compression of task data, results and checkpoints, and the size
# limits (ac(7), LIMITS).  Large values travel through real workers and
# come back whole; the store holds them compressed (SQLite: a BLOB, looked
# at with the sqlite3 CLI; PostgreSQL: the bytea column, with psql, on the
# server tests/run.sh starts); every oversized value gets one clear line
# and an exit code, and changes nothing it should not.

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

# big_json FILE [RECORDS]: about 2 MiB (18600 records) of compact JSON, an
# array of records as an API would return them, on one line.
big_json() {
	jq -nc --argjson n "${2:-18600}" '[range(0; $n) | {id: ., name: "item-\(.)",
		email: "user\(.)@example.com", tags: ["alpha", "beta"],
		score: (. * 7 % 101), active: (. % 2 == 0)}]' >"$1"
}

# string_json FILE N: a JSON string of N characters ("aaa…"), N+2 bytes.
string_json() {
	{ printf '"'; head -c "$2" /dev/zero | tr '\0' a; printf '"'; } >"$1"
}

# same_json A B: the JSON of files A and B is the same (jq -S).
same_json() {
	cmp -s <(jq -S . "$1") <(jq -S . "$2") ||
		fail "$1 and $2 differ (sizes $(stat -c %s "$1"), $(stat -c %s "$2"))"
}

sqlite_q() {
	sqlite3 "$AC_STORE" "$1"
}

newest_task_id() {
	ac-status --tasks --limit 1 --json | jq -r '.[0].id'
}

need_sqlite3() {
	command -v sqlite3 >/dev/null 2>&1 ||
		skip "the sqlite3 CLI is not installed (apt-get install sqlite3)"
}

# ---------------------------------------------------------------- round trips

@test "a 2 MiB task: data and result come back whole; the SQLite store holds them compressed" {
	need_sqlite3
	big_json "$AC_TMP/in.json"
	start_worker w1 --handler echo=cat
	run -0 --separate-stderr ac_submit echo "$AC_TMP/in.json" </dev/null
	assert_eq "$stderr" "" "stderr"
	printf '%s\n' "$output" >"$AC_TMP/out.json"
	same_json "$AC_TMP/out.json" "$AC_TMP/in.json"

	local id size
	id=$(newest_task_id)
	ac-status --task "$id" --json >"$AC_TMP/task.json"
	jq .data "$AC_TMP/task.json" >"$AC_TMP/data.json"
	jq .result "$AC_TMP/task.json" >"$AC_TMP/result.json"
	same_json "$AC_TMP/data.json" "$AC_TMP/in.json"
	same_json "$AC_TMP/result.json" "$AC_TMP/in.json"

	size=$(stat -c %s "$AC_TMP/in.json")
	run -0 sqlite_q "SELECT typeof(data), typeof(result) FROM tasks WHERE id = $id"
	assert_eq "$output" "blob|blob" "storage classes of data and result"
	run -0 sqlite_q "SELECT length(data) < $size / 4 AND length(result) < $size / 4 FROM tasks WHERE id = $id"
	assert_eq "$output" 1 "data and result stored in under a quarter of $size bytes"
}

@test "small data stays text in the store" {
	need_sqlite3
	make_store
	run -0 sqlite_q "SELECT typeof(data) FROM tasks"
	assert_eq "$output" text "storage class of '{}'"
}

@test "--batch: every line compressed, results whole and in input order" {
	need_sqlite3
	local i
	for i in 1 2 3; do
		big_json "$AC_TMP/in$i.json" $((4000 * i))
		cat "$AC_TMP/in$i.json"
	done >"$AC_TMP/batch.jsonl"
	start_worker w1 --concurrency 3 --handler echo=cat
	run -0 --separate-stderr ac_submit --batch echo "$AC_TMP/batch.jsonl" </dev/null
	assert_eq "${#lines[@]}" 3 "result lines"
	for i in 1 2 3; do
		printf '%s\n' "${lines[i - 1]}" >"$AC_TMP/out$i.json"
		same_json "$AC_TMP/out$i.json" "$AC_TMP/in$i.json"
	done
	run -0 sqlite_q "SELECT count(*) FROM tasks WHERE typeof(data) = 'blob' AND typeof(result) = 'blob'"
	assert_eq "$output" 3 "tasks with data and result compressed"
}

@test "a 1 MiB checkpoint is stored compressed and handed whole to the next attempt" {
	need_sqlite3
	big_json "$AC_TMP/ckpt.json" 9300
	cat >"$AC_TMP/resume.sh" <<'EOF'
#!/bin/sh
# First attempt: one big checkpoint on fd 3, then fail.  The next: print
# the checkpoint it was handed.
cat >/dev/null
if [ -n "${AC_CHECKPOINT:-}" ]; then
	cat "$AC_CHECKPOINT"
	exit 0
fi
{ printf '{"checkpoint":'; tr -d '\n' <"$AC_TEST_TMP/ckpt.json"; printf '}\n'; } >&3
exit 1
EOF
	chmod +x "$AC_TMP/resume.sh"
	start_worker w1 --handler resume="$AC_TMP/resume.sh"
	run -0 --separate-stderr ac_submit --retries 1 resume <<<'{}'
	printf '%s\n' "$output" >"$AC_TMP/out.json"
	same_json "$AC_TMP/out.json" "$AC_TMP/ckpt.json"
	local id
	id=$(newest_task_id)
	assert_eq "$(task_field "$id" attempt)" 2 "attempts"
	ac-status --task "$id" --json | jq .checkpoint >"$AC_TMP/shown.json"
	same_json "$AC_TMP/shown.json" "$AC_TMP/ckpt.json"
	run -0 sqlite_q "SELECT typeof(checkpoint), length(checkpoint) < 262144 FROM tasks WHERE id = $id"
	assert_eq "$output" "blob|1" "checkpoint stored compressed"
}

@test "PostgreSQL: a 2 MiB task comes back whole; the bytea columns hold it compressed" {
	pg_test_db
	big_json "$AC_TMP/in.json"
	start_worker w1 --handler echo=cat
	run -0 --separate-stderr ac_submit echo "$AC_TMP/in.json" </dev/null
	printf '%s\n' "$output" >"$AC_TMP/out.json"
	same_json "$AC_TMP/out.json" "$AC_TMP/in.json"
	local id size
	id=$(newest_task_id)
	ac-status --task "$id" --json | jq .data >"$AC_TMP/data.json"
	same_json "$AC_TMP/data.json" "$AC_TMP/in.json"
	size=$(stat -c %s "$AC_TMP/in.json")
	run -0 psql "$AC_STORE" -X -Atq -v ON_ERROR_STOP=1 -c \
		"SELECT data IS NULL, result IS NULL, length(data_lz4) < $size / 4,
		 length(result_lz4) < $size / 4 FROM tasks WHERE id = $id"
	assert_eq "$output" "t|t|t|t" "text columns empty, bytea columns under a quarter of $size bytes"
}

# ---------------------------------------------------------------- limits

@test "limit: ac-submit of data over 8 MiB: exit 2, one stderr line, nothing submitted" {
	make_store
	local before
	before=$(task_counts)
	string_json "$AC_TMP/big.json" 8388607
	run -2 --separate-stderr ac-submit --async echo "$AC_TMP/big.json" </dev/null
	assert_one_stderr_line ac-submit
	assert_eq "$stderr" "ac-submit: task data exceeds the limit of 8388608 bytes" "stderr"
	assert_eq "$output" "" "stdout"
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "limit: --batch with one line over 8 MiB: exit 2, one stderr line, nothing submitted" {
	make_store
	local before
	before=$(task_counts)
	string_json "$AC_TMP/big.json" 8388607
	{
		echo '{"n":1}'
		cat "$AC_TMP/big.json"
		echo
		echo '{"n":3}'
	} >"$AC_TMP/batch.jsonl"
	run -2 --separate-stderr ac-submit --batch --async echo "$AC_TMP/batch.jsonl" </dev/null
	assert_one_stderr_line ac-submit
	assert_contains "$stderr" "line 2" "the line named"
	assert_contains "$stderr" "8388608" "the limit named"
	assert_eq "$output" "" "stdout"
	assert_eq "$(task_counts)" "$before" "task counts"
}

@test "limit: a handler result over 8 MiB fails the task with a clear error" {
	start_worker w1 --handler big="$H/big.sh"
	run -1 --separate-stderr ac_submit big <<<'{}'
	assert_one_stderr_line ac-submit
	assert_match "$stderr" '^ac-submit: task [0-9]+ failed: handler output \(stdout or a side-channel line\) exceeds 8388608 bytes$' "stderr"
	local id
	id=$(newest_task_id)
	assert_eq "$(task_status "$id")" failed "status"
	assert_eq "$(task_field "$id" result)" null "no result stored"
}

@test "limit: a checkpoint over 8 MiB is not stored; one warning in the worker's log" {
	string_json "$AC_TMP/huge.json" 8388607
	cat >"$AC_TMP/ckpt-big.sh" <<'EOF'
#!/bin/sh
# A small checkpoint, then one just over the limit (a line within the
# side channel's bound), then a result.
cat >/dev/null
echo '{"checkpoint":{"step":1}}' >&3
{ printf '{"checkpoint":'; cat "$AC_TEST_TMP/huge.json"; printf '}\n'; } >&3
echo '{"done":true}'
EOF
	chmod +x "$AC_TMP/ckpt-big.sh"
	start_worker w1 --handler ckbig="$AC_TMP/ckpt-big.sh"
	run -0 --separate-stderr ac_submit ckbig <<<'{}'
	assert_eq "$output" '{"done":true}' "result"
	local id
	id=$(newest_task_id)
	assert_eq "$(task_field "$id" checkpoint | jq -c .)" '{"step":1}' "the last checkpoint within the limit"
	run -0 grep -c "checkpoint exceeds the limit of 8388608 bytes" "$AC_TMP/w1.log"
	assert_eq "$output" 1 "warnings in the worker's log"
}

@test "limit: a side-channel line far over 8 MiB fails the task with a clear error" {
	cat >"$AC_TMP/side-huge.sh" <<'EOF'
#!/bin/sh
# 9 MiB on fd 3 without a newline: over any line the side channel takes.
cat >/dev/null
{ printf '{"checkpoint":"'; head -c 9437184 /dev/zero | tr '\0' a; } >&3
echo '{"never":"stored"}'
EOF
	chmod +x "$AC_TMP/side-huge.sh"
	start_worker w1 --handler sidehuge="$AC_TMP/side-huge.sh"
	run -1 --separate-stderr ac_submit sidehuge <<<'{}'
	assert_one_stderr_line ac-submit
	assert_contains "$stderr" "exceeds 8388608 bytes" "stderr"
	local id
	id=$(newest_task_id)
	assert_eq "$(task_status "$id")" failed "status"
	assert_eq "$(task_field "$id" checkpoint)" null "no checkpoint stored"
}
