#!/bin/sh
# The demo: two workers on a temporary SQLite store run the example
# handlers of examples/handlers; results and the workers are printed.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$PATH"
AC_HOME=$(mktemp -d "${TMPDIR:-/tmp}/ac-demo.XXXXXX")
export AC_HOME PATH
unset AC_STORE
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$AC_HOME"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; sh -c "$*"; }

say "two workers, --concurrency 4 each, store $AC_HOME/ac.db"
for id in worker-1 worker-2; do
	ac-worker --id "$id" --handlers "$top/examples/handlers" \
		--concurrency 4 --quiet &
	pids="$pids $!"
done
# Wait until both have registered.
i=0
until [ "$(ac-status --workers 2>/dev/null | jq 'length' 2>/dev/null || echo 0)" = 2 ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: workers did not start" >&2; exit 1; }
	sleep 0.1
done

say "one task, waiting for its result"
run "echo '{\"page_count\":21,\"title\":\"Q3 report\"}' | ac-submit process_document"
run "echo '{\"text\":\"ac runs tasks on many workers. It is small. It is fast.\"}' | ac-submit generate_summary"

say "a batch of 8 documents, results in input order"
run "for n in 3 14 15 92 65 35 89 79; do printf '{\"page_count\":%s}\\n' \$n; done | ac-submit --batch process_document | jq -c '{pages, worker}'"

say "a task that fails: exit 1 and the handler's message"
run "echo '{}' | ac-submit generate_summary || echo \"exit status \$?\""

say "flow control: at most 2 documents at once across both workers, 10 a second"
run "ac-queue limit process_document --concurrency 2 --rate 10/s | jq -c '{type, concurrency, rate}'"
run "for n in 1 2 3 4 5 6 7 8 9 10; do printf '{\"page_count\":%s}\\n' \$n; done | ac-submit --batch process_document | jq -c '{pages, worker}'"
run "ac-queue limit process_document --clear >/dev/null"

say "a task graph: plan_report spawns a summary per section, and a merge that waits for them"
run "echo '{\"sections\":[\"ac is small. It is C.\",\"ac is fast.\",\"ac is crash-safe.\"]}' | ac-submit plan_report | tee $AC_HOME/plan.json | jq -c ."
merge=$(jq -r .merge "$AC_HOME/plan.json")
plan=$(ac-status --task "$merge" | jq -r .parent)
i=0
until [ "$(ac-status --task "$merge" | jq -r .status)" = completed ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: the merge did not complete" >&2; exit 1; }
	sleep 0.1
done
run "ac-status --task $merge | jq -c .result"
run "ac-status --task $plan --tree --table"

say "a schedule every 2 seconds, fired by the workers themselves (no daemon)"
run "ac-schedule add tick --cron '*/2 * * * * *' --tz UTC generate_summary - <<'EOF' | jq -c '{name, cron, next}'
{\"text\":\"tick.\"}
EOF"
sleep 4.5
run "ac-schedule list --table"
run "ac-schedule rm tick >/dev/null"

say "a budget of 20 tokens shared by both workers: once spent, no worker claims its tasks"
run "ac-budget set demo tokens=20 | jq -c '{name, limits}'"
run "for i in 1 2 3; do echo '{\"text\":\"one two three four five six seven.\"}' | ac-submit --budget-name demo generate_summary | jq -c '{words}'; done"
run "for i in 4 5 6; do echo '{\"text\":\"one two three four five six seven.\"}'; done | ac-submit --batch --async --budget-name demo generate_summary | tr '\\n' ' '; echo"
sleep 1
run "ac-budget show demo | jq -c '{usage, spent, held, tasks}'"
run "ac-status --usage --table"
run "ac-budget set demo tokens=100 | jq -c '{limits, spent}'"
i=0
until [ "$(ac-budget show demo | jq '.tasks.completed')" = 6 ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: the budget's tasks did not complete" >&2; exit 1; }
	sleep 0.1
done
run "ac-budget show demo | jq -c '{usage, spent, held, tasks}'"

say "the workers"
run "ac-status --workers --table"

say "the summary"
run "ac-status | jq ."
