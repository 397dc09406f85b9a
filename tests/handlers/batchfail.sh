#!/bin/sh
# Echoes the data, or fails when the data has "fail": true.
data=$(cat)
if printf '%s' "$data" | jq -e '.fail? == true' >/dev/null 2>&1; then
	echo "asked to fail" >&2
	exit 1
fi
printf '%s\n' "$data"
