#!/bin/sh
# Tracing (tests/62-otel.bats): writes one checkpoint on fd 3, then prints
# {"traceparent": $TRACEPARENT, or null when unset}.  Data {"fail":true}
# makes it fail (exit 1) after the checkpoint instead.
data=$(cat)
echo '{"checkpoint":{"step":1}}' >&3
if [ "$(printf '%s' "$data" | jq -r '.fail // false')" = true ]; then
	echo "asked to fail" >&2
	exit 1
fi
jq -cn '{traceparent: env.TRACEPARENT}'
