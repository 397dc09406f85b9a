#!/bin/sh
# Checkpoint hand-off.  With AC_CHECKPOINT set (a later attempt) prints
# {"resumed":CHECKPOINT,"attempt":N}.  Otherwise writes two checkpoints on
# fd 3, touches $AC_TEST_TMP/ckpt.ID, then fails (exit 1) or, with the
# argument "hang", sleeps 120 s (pid in $AC_TEST_TMP/pids/ID).
data=$(cat)
if [ -n "${AC_CHECKPOINT:-}" ]; then
	printf '{"resumed":%s,"attempt":%s}\n' "$(cat "$AC_CHECKPOINT")" "$AC_ATTEMPT"
	exit 0
fi
echo '{"checkpoint":{"step":1}}' >&3
echo '{"checkpoint":{"step":2,"note":"two"}}' >&3
: >"$AC_TEST_TMP/ckpt.$AC_TASK_ID"
if [ "${1:-}" = hang ]; then
	mkdir -p "$AC_TEST_TMP/pids"
	echo $$ >>"$AC_TEST_TMP/handler.pids"
	echo $$ >"$AC_TEST_TMP/pids/$AC_TASK_ID"
	exec sleep 120
fi
echo "failing after two checkpoints" >&2
exit 1
