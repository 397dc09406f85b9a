#!/bin/sh
# Submits sub-tasks from inside a handler: `spawn.sh MODE TYPE N`, N tasks of
# TYPE with data {"i":1}..{"i":N} (ac-submit --batch, which records this
# task as their parent).  MODE:
#   fanout  --async, then a continuation of type "step" --after them (the
#           pattern of the docs); prints {"children":[IDS],"then":ID}
#   wait    waits for them inside the handler (plain ac-submit --batch, its
#           stderr appended to $AC_TEST_TMP/spawn.err); prints
#           {"results":[...]}
#   hold    --async, writes their ids to $AC_TEST_TMP/children.$AC_TASK_ID,
#           then sleeps 60 s (its pid in $AC_TEST_TMP/handler.pids)
mode=$1 type=$2 n=$3
cat >/dev/null
lines() {
	i=1
	while [ "$i" -le "$n" ]; do
		echo "{\"i\":$i}"
		i=$((i + 1))
	done
}
case $mode in
fanout)
	ids=$(lines | ac-submit --batch --async "$type") || exit 1
	echo '{"then":true}' >"$AC_TEST_TMP/then.$AC_TASK_ID.json"
	cont=$(printf '%s\n' "$ids" | ac-submit --async --after - step \
		"$AC_TEST_TMP/then.$AC_TASK_ID.json") || exit 1
	printf '{"children":[%s],"then":%s}\n' "$(printf '%s\n' "$ids" | paste -sd,)" "$cont"
	;;
wait)
	out=$(lines | ac-submit --batch "$type" 2>>"$AC_TEST_TMP/spawn.err") || exit 1
	printf '{"results":[%s]}\n' "$(printf '%s\n' "$out" | paste -sd,)"
	;;
hold)
	echo $$ >>"$AC_TEST_TMP/handler.pids"
	lines | ac-submit --batch --async "$type" >"$AC_TEST_TMP/children.$AC_TASK_ID.tmp" || exit 1
	mv "$AC_TEST_TMP/children.$AC_TASK_ID.tmp" "$AC_TEST_TMP/children.$AC_TASK_ID"
	exec sleep 60
	;;
*)
	echo "spawn.sh: unknown mode '$mode'" >&2
	exit 2
	;;
esac
