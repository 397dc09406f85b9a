#!/bin/sh
# Writes ~20 KB to stderr, ending with a marker line, then fails.
cat >/dev/null
i=0
while [ $i -lt 400 ]; do
	echo "noise line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" >&2
	i=$((i + 1))
done
echo "TAIL-MARKER-42 the last words" >&2
exit 3
