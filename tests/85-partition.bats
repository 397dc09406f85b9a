#!/usr/bin/env bats
# A network partition across hosts: PostgreSQL and two workers on hosts of
# their own (network namespaces), one host cut off mid-run and brought back.
# The work is done by tests/netns/partition.sh (runnable by hand, as root);
# this file runs it, shows what it printed, and skips with its reason when
# the machine cannot make the hosts (not root, no ip netns, no PostgreSQL).

load helpers

@test "partition: a host cut off loses its tasks to the other by lease expiry, and its late ends are refused" {
	run --separate-stderr env AC_TEST_BIN="$AC_BIN" timeout -k 10 140 \
		bash "$AC_TESTS_DIR/netns/partition.sh"
	# What it printed, for the TAP output (shown by bats on failure, and
	# kept with --show-output-of-passing-tests).
	printf '# %s\n' "${lines[@]}" "${stderr_lines[@]}" >&3
	if [ "$status" -eq 77 ]; then
		skip "${output##*skip: }"
	fi
	assert_eq "$status" 0 "partition.sh exit status (output above)"
	assert_eq "${lines[${#lines[@]} - 1]}" "partition: PASSED"
}
