#!/bin/sh
# "Check again later": attempt 1 asks on the side channel (fd 3) to be put
# back for ${1:-2} s and exits; later attempts echo their data.  Each run
# appends "ATTEMPT EPOCH-SECONDS" to $AC_TEST_TMP/snooze.log.
data=$(cat)
echo "$AC_ATTEMPT $(date +%s.%N)" >>"$AC_TEST_TMP/snooze.log"
if [ "$AC_ATTEMPT" = 1 ]; then
	printf '{"snooze":%s}\n' "${1:-2}" >&3
	exit 0
fi
printf '%s\n' "$data"
