# fish completion for ac, ac-worker, ac-submit, ac-status, ac-drain,
# ac-cancel, ac-scale, ac-queue, ac-schedule and ac-budget.
#
# fish loads vendor_completions.d/NAME.fish when it first completes NAME, so
# `make install` installs this one file under each command's name; whichever
# is loaded first registers the completions of every command, and the others
# return at once.
#
# Worker ids, task types, task ids, batch ids and schedule names are read
# from the store with ac-status, budget names with ac-budget (the one beside the command, else
# from PATH; the --store of the command line), only when jq is installed.
#
# Each command's options are its `complete -c NAME ... -l OPTION` lines;
# tests/06-options.bats checks them against the command's --help, its man
# page, docs/cli.md and the bash and zsh completions.

if set -q __ac_fish_completion_loaded
    return
end
set -g __ac_fish_completion_loaded 1

# ---------------------------------------------------------------- helpers

# __ac_tool PROG ARGS...: PROG (ac-status, ac-budget) ARGS with the --store
# of the command line, bounded in time, stderr dropped.
function __ac_tool
    set -l tokens (commandline -opc)
    set -l prog $argv[1]
    set -e argv[1]
    set -l self $tokens[1]
    if string match -q -- '*/*' $self
        set -l dir (string replace -r -- '/[^/]*$' '' $self)
        test -x $dir/$prog; and set prog $dir/$prog
    end
    set -l store
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case --store
                set store $tokens[(math $i + 1)]
            case '--store=*'
                set store (string replace -- --store= '' $tokens[$i])
        end
    end
    set -l argv2 $argv
    if test -n "$store"
        set argv2 --store $store $argv
    end
    if command -q timeout
        timeout 3 $prog $argv2 2>/dev/null
    else
        $prog $argv2 2>/dev/null
    end
end

function __ac_status
    __ac_tool ac-status $argv
end

function __ac_worker_ids
    command -q jq; or return 0
    __ac_status --workers --json | jq -r '.[] | "\(.id)\t\(.status) worker"' 2>/dev/null
end

# The task types of the live workers' handlers and of the queue.
function __ac_task_types
    command -q jq; or return 0
    begin
        __ac_status --workers --json | jq -r '.[].handlers[]?' 2>/dev/null
        __ac_status --queue --json | jq -r '.[].type' 2>/dev/null
    end | sort -u
end

# __ac_task_ids [STATUS...]: the ids of the newest tasks (up to 100) of one
# of those statuses (any status when none is given).
function __ac_task_ids
    command -q jq; or return 0
    __ac_status --tasks --json | jq -r '$ARGS.positional as $s | .[] |
        select(($s | length) == 0 or (.status | IN($s[]))) |
        "\(.id)\t\(.type) \(.status)"' --args $argv 2>/dev/null
end

# The names of the schedules (ac-status --schedules).
function __ac_schedule_names
    command -q jq; or return 0
    __ac_status --schedules --json | jq -r '.[] | "\(.name)\t\(.cron) \(.type)"' 2>/dev/null
end

# The names of the budgets (ac-budget list).
function __ac_budget_names
    command -q jq; or return 0
    __ac_tool ac-budget list --json | jq -r '.[] | "\(.name)\t\(if .spent then "spent" else "budget" end)"' 2>/dev/null
end

# The batches of the newest tasks (up to 100).
function __ac_batch_ids
    command -q jq; or return 0
    __ac_status --tasks --json | jq -r '.[].batch // empty' 2>/dev/null | sort -un
end

# --tz: UTC or an IANA zone of the system's zoneinfo.
function __ac_time_zones
    set -l cur (commandline -ct)
    set cur (string replace -r -- '^--tz=' '' $cur)
    echo UTC
    test -d /usr/share/zoneinfo; or return 0
    for z in /usr/share/zoneinfo/$cur*
        set -l name (string replace -- /usr/share/zoneinfo/ '' $z)
        string match -qr -- '(^|/)[A-Z][^/]*$' $name; or continue
        if test -d $z
            echo $name/
        else
            echo $name
        end
    end
end

# A store: a SQLite file (plain, or after sqlite:) or a PostgreSQL URI, of
# which only the scheme is offered.
function __ac_stores
    set -l cur (commandline -ct)
    set cur (string replace -r -- '^--store=' '' $cur)
    switch $cur
        case 'sqlite:*'
            printf 'sqlite:%s\n' (__fish_complete_path (string replace -- sqlite: '' $cur))
        case 'postgres://*' 'postgresql://*'
            return 0
        case '*'
            __fish_complete_path $cur
            printf '%s\t%s\n' sqlite: 'SQLite file' postgres:// 'PostgreSQL URI' \
                postgresql:// 'PostgreSQL URI'
    end
end

# --listen: ipc://PATH, tcp://HOST:PORT or tls+tcp://HOST:PORT.
function __ac_listen_urls
    set -l cur (commandline -ct)
    set cur (string replace -r -- '^--listen=' '' $cur)
    switch $cur
        case 'ipc://*'
            printf 'ipc://%s\n' (__fish_complete_path (string replace -- ipc:// '' $cur))
        case 'tcp://*' 'tls+tcp://*'
            return 0
        case '*'
            printf '%s\n' ipc:// tcp:// tls+tcp://
    end
end

# --handler TYPE=COMMAND: a task type, then a command after the '='.
function __ac_handler_spec
    set -l cur (commandline -ct)
    set cur (string replace -r -- '^--(handler|stream)=' '' $cur)
    if string match -q -- '*=*' $cur
        set -l type (string split -m 1 = -- $cur)[1]
        set -l cmd (string split -m 1 = -- $cur)[2]
        printf '%s\n' $type=(complete -C "$cmd")
    else
        printf '%s=\n' (__ac_task_types)
    end
end

# __ac_complete_as CMD SKIP: complete the command line as CMD followed by
# the tokens after the first SKIP ones (ac COMMAND ..., ac-scale ... -- ...).
function __ac_complete_as --argument-names cmd skip
    set -l tokens (commandline -opc)
    set -l rest
    if test (count $tokens) -gt $skip
        set rest $tokens[(math $skip + 1)..-1]
    end
    complete -C (string join -- ' ' (string escape -- $cmd $rest) (commandline -ct))
end

# ac COMMAND ...: complete as ac-COMMAND, found beside ac or in PATH.
function __ac_subcommand
    set -l tokens (commandline -opc)
    set -l cmd ac-$tokens[2]
    if string match -q -- '*/*' $tokens[1]
        set cmd (string replace -r -- '/[^/]*$' '' $tokens[1])/$cmd
    end
    __ac_complete_as $cmd 2
end

# The other ac-NAME commands beside ac or in PATH.
function __ac_other_commands
    set -l tokens (commandline -opc)
    set -l found
    if string match -q -- '*/*' $tokens[1]
        for c in (string replace -r -- '/[^/]*$' '' $tokens[1])/ac-*
            test -x $c; and not test -d $c; and set -a found (string replace -r -- '.*/' '' $c)
        end
    end
    set -a found (complete -C ac- | string replace -r '\t.*' '')
    string replace -r '^ac-' '' -- $found | sort -u
end

# ac-scale: "--" came before the current token.
function __ac_after_dashdash
    contains -- -- (commandline -opc)
end

# ac-scale ... -- WORKER-ARGS: complete WORKER-ARGS as ac-worker's.
function __ac_scale_worker_args
    set -l tokens (commandline -opc)
    set -l i (contains -i -- -- $tokens)
    __ac_complete_as ac-worker $i
end

# ---------------------------------------------------------------- ac

complete -c ac -f
complete -c ac -n __fish_use_subcommand -s h -l help -d 'list the commands'
complete -c ac -n __fish_use_subcommand -l version -d 'show the version'
complete -c ac -n __fish_use_subcommand -a worker -d 'run tasks with handler programs'
complete -c ac -n __fish_use_subcommand -a submit -d 'submit tasks, wait, print results'
complete -c ac -n __fish_use_subcommand -a status -d 'workers, tasks and queues'
complete -c ac -n __fish_use_subcommand -a drain -d 'stop workers from claiming new tasks'
complete -c ac -n __fish_use_subcommand -a cancel -d 'cancel queued or running tasks'
complete -c ac -n __fish_use_subcommand -a scale -d 'keep a pool of workers running'
complete -c ac -n __fish_use_subcommand -a queue -d 'flow control and failed tasks'
complete -c ac -n __fish_use_subcommand -a schedule -d 'cron schedules fired by the workers'
complete -c ac -n __fish_use_subcommand -a budget -d 'token and cost budgets across workers'
complete -c ac -n __fish_use_subcommand -a help -d 'list the commands'
complete -c ac -n __fish_use_subcommand -a '(__ac_other_commands)' -d 'ac command'
complete -c ac -n "not __fish_use_subcommand; and not __fish_seen_subcommand_from help" \
    -a '(__ac_subcommand)'

# ---------------------------------------------------------------- ac-worker

complete -c ac-worker -f
complete -c ac-worker -l id -x -d 'worker id (default HOST-PID)'
complete -c ac-worker -l handler -x -a '(__ac_handler_spec)' -d 'run COMMAND for each task of TYPE'
complete -c ac-worker -l stream -x -a '(__ac_handler_spec)' -d 'stream mode: one long-lived COMMAND per slot for TYPE'
complete -c ac-worker -l handlers -x -a '(__fish_complete_directories (commandline -ct))' -d 'directory of handlers named by type'
complete -c ac-worker -l reload -d 'read the --handlers directories again as soon as they change'
complete -c ac-worker -l concurrency -x -d 'tasks run at once'
complete -c ac-worker -l tag -x -d 'offer TAG to tasks that require it'
complete -c ac-worker -l heartbeat -x -d 'heartbeat interval, SEC (default 5)'
complete -c ac-worker -l lease -x -d 'lease on each task, SEC (default 30)'
complete -c ac-worker -l grace -x -d 'SIGTERM to SIGKILL of a handler, SEC (default 10)'
complete -c ac-worker -l drain-timeout -x -d 'on SIGTERM, hand tasks back after SEC'
complete -c ac-worker -l retain -x -d 'remove ended tasks after DURATION (default 7d)'
complete -c ac-worker -l listen -x -a '(__ac_listen_urls)' -d 'control and event socket'
complete -c ac-worker -l metrics -x -d 'HOST:PORT of /metrics, /healthz, /readyz'
complete -c ac-worker -l token-file -r -F -d 'file holding the shared token'
complete -c ac-worker -l insecure -d 'allow a tcp:// listener without a token'
complete -c ac-worker -l tls-cert -r -F -d 'certificate and key (PEM) for tls+tcp://'
complete -c ac-worker -l store -x -a '(__ac_stores)' -d 'the store'
complete -c ac-worker -s q -l quiet -d 'log warnings and errors only'
complete -c ac-worker -s v -l verbose -d 'log every task'
complete -c ac-worker -s h -l help -d 'show the usage'
complete -c ac-worker -l version -d 'show the version'

# ---------------------------------------------------------------- ac-submit

complete -c ac-submit -f
complete -c ac-submit -l async -d 'print the task id and return at once'
complete -c ac-submit -l batch -d 'one task per input line (JSON Lines)'
complete -c ac-submit -l envelope -d 'print {"id","status","result","error"} per task'
complete -c ac-submit -l priority -x -a 'low normal high critical' -d 'priority (or an integer)'
complete -c ac-submit -l timeout -x -d 'time limit of each attempt, SEC'
complete -c ac-submit -l retries -x -d 'retries after a failure (default 0)'
complete -c ac-submit -l max-reclaims -x -d 'lost attempts before it fails (default 3)'
complete -c ac-submit -l delay -x -d 'due SEC from now'
complete -c ac-submit -l expires -x -d 'not started within SEC: it ends expired, never run'
complete -c ac-submit -l key -x -d 'route key (e.g. a thread id)'
complete -c ac-submit -l route -x -a 'any least-loaded round-robin consistent-hash' -d 'how a worker is chosen'
complete -c ac-submit -l require -x -d 'only workers offering TAG may run it'
complete -c ac-submit -l meta -x -d 'metadata K=V kept with the task'
complete -c ac-submit -l idempotency-key -x -d 'a second submit with the same key returns the first task'
complete -c ac-submit -l after -x -a '(__ac_task_ids)' -d 'pending until those tasks have ended (- stdin, @FILE)'
complete -c ac-submit -l after-policy -x -a 'all-ok all-done' -d 'a task waited for that did not complete'
complete -c ac-submit -l then -x -a '(__ac_task_types)' -d 'with --batch: one more task of TYPE at the end'
complete -c ac-submit -l parent -x -a '(__ac_task_ids)' -d 'record the task as a sub-task of ID'
complete -c ac-submit -l no-parent -d 'record no parent, even inside a handler'
complete -c ac-submit -l traceparent -x -d 'W3C trace context the task joins (default $TRACEPARENT)'
complete -c ac-submit -l budget -x -d 'stop claiming once its handlers reported K=N[,K=N...]'
complete -c ac-submit -l budget-name -x -a '(__ac_budget_names)' -d 'charge the task to budget NAME'
complete -c ac-submit -l retry -x -a '(__ac_task_ids failed timeout cancelled expired)' -d 'put a failed task back in the queue'
complete -c ac-submit -l wait-timeout -x -d 'stop waiting after SEC (exit 3)'
complete -c ac-submit -l store -x -a '(__ac_stores)' -d 'the store'
complete -c ac-submit -s q -l quiet -d 'no warnings and no progress bar'
complete -c ac-submit -s h -l help -d 'show the usage'
complete -c ac-submit -l version -d 'show the version'
# TYPE, then the data FILE.
complete -c ac-submit -n 'test (count (commandline -opc | string match -rv -- "^-")) -le 1' \
    -a '(__ac_task_types)' -d 'task type'
complete -c ac-submit -n 'test (count (commandline -opc | string match -rv -- "^-")) -ge 2' -F

# ---------------------------------------------------------------- ac-status

complete -c ac-status -f
complete -c ac-status -l workers -d 'every worker the store knows'
complete -c ac-status -l tasks -d 'tasks, newest first'
complete -c ac-status -l status -x -a 'pending queued running completed failed cancelled timeout expired' -d 'only tasks in status S'
complete -c ac-status -l type -x -a '(__ac_task_types)' -d 'only tasks of type T'
complete -c ac-status -l limit -x -d 'at most N tasks (default 100)'
complete -c ac-status -l task -x -a '(__ac_task_ids)' -d 'one task (with --follow: its events)'
complete -c ac-status -l tree -d 'with --task: the whole graph the task is in'
complete -c ac-status -l batch -x -a '(__ac_batch_ids)' -d "a batch's progress and its --then"
complete -c ac-status -l schedules -d 'the schedules'
complete -c ac-status -l queue -d 'depth by type and priority'
complete -c ac-status -l usage -d 'the usage reported per task type, and every budget'
complete -c ac-status -l follow -d 'the live events of every worker'
complete -c ac-status -l worker -x -a '(__ac_worker_ids)' -d 'with --follow: only worker W'
complete -c ac-status -l serve -x -a '127.0.0.1:8080 127.0.0.1:0' -d 'serve the dashboard on HOST:PORT'
complete -c ac-status -l token-file -r -F -d 'with --serve: the token that allows actions'
complete -c ac-status -l json -d 'JSON output'
complete -c ac-status -l table -d 'aligned table output'
complete -c ac-status -l store -x -a '(__ac_stores)' -d 'the store'
complete -c ac-status -s h -l help -d 'show the usage'
complete -c ac-status -l version -d 'show the version'

# ---------------------------------------------------------------- ac-drain

complete -c ac-drain -f -a '(__ac_worker_ids)'
complete -c ac-drain -l reason -x -d 'why (shown as drain_reason)'
complete -c ac-drain -l wait -d 'return when the running tasks have ended'
complete -c ac-drain -l timeout -x -d 'with --wait: give up after SEC (exit 3)'
complete -c ac-drain -l stop -d 'also make the workers exit once idle'
complete -c ac-drain -l undo -d 'let the workers claim again'
complete -c ac-drain -l store -x -a '(__ac_stores)' -d 'the store'
complete -c ac-drain -s h -l help -d 'show the usage'
complete -c ac-drain -l version -d 'show the version'

# ---------------------------------------------------------------- ac-cancel

complete -c ac-cancel -f -a '(__ac_task_ids queued running pending)'
complete -c ac-cancel -l wait -d 'return when every task has ended'
complete -c ac-cancel -l timeout -x -d 'with --wait: give up after SEC (exit 3)'
complete -c ac-cancel -l store -x -a '(__ac_stores)' -d 'the store'
complete -c ac-cancel -s h -l help -d 'show the usage'
complete -c ac-cancel -l version -d 'show the version'

# ---------------------------------------------------------------- ac-scale

# After "--": ac-worker's options; before it, ac-scale's.
complete -c ac-scale -f
complete -c ac-scale -n __ac_after_dashdash -a '(__ac_scale_worker_args)'
complete -c ac-scale -n 'not __ac_after_dashdash' -l pool -x -d 'the pool (default: default)'
complete -c ac-scale -n 'not __ac_after_dashdash' -l daemon -d 'detach; log to $AC_HOME/log/pool-NAME.log'
complete -c ac-scale -n 'not __ac_after_dashdash' -l status -d "print the pool's state"
complete -c ac-scale -n 'not __ac_after_dashdash' -l auto -d 'follow the queue between --min and --max workers'
complete -c ac-scale -n 'not __ac_after_dashdash' -l min -x -d 'fewest workers (--auto), lowest answer (--recommend)'
complete -c ac-scale -n 'not __ac_after_dashdash' -l max -x -d 'most workers (--auto), highest answer (--recommend)'
complete -c ac-scale -n 'not __ac_after_dashdash' -l up -x -d 'grow when queued tasks per worker exceed Q (default 4)'
complete -c ac-scale -n 'not __ac_after_dashdash' -l down -x -d 'shrink when they fall below Q (default 1)'
complete -c ac-scale -n 'not __ac_after_dashdash' -l cooldown -x -d 'no change sooner than SEC after one (default 10)'
complete -c ac-scale -n 'not __ac_after_dashdash' -l recommend -d 'print the worker count the queue asks for'
complete -c ac-scale -n 'not __ac_after_dashdash' -l per-worker -x -d 'with --recommend: tasks one worker runs at once (default 1)'
complete -c ac-scale -n 'not __ac_after_dashdash' -l store -x -a '(__ac_stores)' -d 'the store'
complete -c ac-scale -n 'not __ac_after_dashdash' -l json -d 'JSON output'
complete -c ac-scale -n 'not __ac_after_dashdash' -l table -d 'aligned table output'
complete -c ac-scale -n 'not __ac_after_dashdash' -s h -l help -d 'show the usage'
complete -c ac-scale -n 'not __ac_after_dashdash' -l version -d 'show the version'

# ---------------------------------------------------------------- ac-queue

# The subcommand first; then a TYPE (limit, pause, resume, show) or task
# ids (requeue).  Each option is offered everywhere; ac-queue says which go
# with which subcommand.
set -l __ac_queue_subs limit pause resume show failed requeue prune
complete -c ac-queue -f
complete -c ac-queue -n "not __fish_seen_subcommand_from $__ac_queue_subs" -a limit -d 'set the limits of a task type'
complete -c ac-queue -n "not __fish_seen_subcommand_from $__ac_queue_subs" -a pause -d 'claim nothing of a type until resumed'
complete -c ac-queue -n "not __fish_seen_subcommand_from $__ac_queue_subs" -a resume -d 'lift a pause or hold'
complete -c ac-queue -n "not __fish_seen_subcommand_from $__ac_queue_subs" -a show -d 'the flow control of every type'
complete -c ac-queue -n "not __fish_seen_subcommand_from $__ac_queue_subs" -a failed -d 'tasks that ended failed or timed out'
complete -c ac-queue -n "not __fish_seen_subcommand_from $__ac_queue_subs" -a requeue -d 'queue ended tasks again'
complete -c ac-queue -n "not __fish_seen_subcommand_from $__ac_queue_subs" -a prune -d 'remove tasks that ended long ago'
complete -c ac-queue -n '__fish_seen_subcommand_from limit pause resume show' -a '(__ac_task_types)' -d 'task type'
complete -c ac-queue -n '__fish_seen_subcommand_from requeue' -a '(__ac_task_ids failed timeout cancelled expired)'
complete -c ac-queue -l concurrency -x -a off -d 'limit: at most N running across the cluster'
complete -c ac-queue -l per-key -x -a off -d 'limit: at most N running per route key'
complete -c ac-queue -l rate -x -a off -d 'limit: at most RATE claims (N/s, N/m, N/h)'
complete -c ac-queue -l key-rate -x -a off -d 'limit: at most RATE claims per route key'
complete -c ac-queue -l burst -x -d 'limit: claims a rate allows at once (default 1)'
complete -c ac-queue -l fair -d 'limit: claims take turns across route keys'
complete -c ac-queue -l no-fair -d 'limit: claims in priority and age order'
complete -c ac-queue -l clear -d 'limit: drop every limit'
complete -c ac-queue -l reason -x -d 'pause: why'
complete -c ac-queue -l for -x -d 'pause: a hold that ends after DURATION'
complete -c ac-queue -l key -x -d 'pause, resume: only route key KEY'
complete -c ac-queue -l type -x -a '(__ac_task_types)' -d 'failed, requeue: only tasks of type T'
complete -c ac-queue -l since -x -d 'failed, requeue: only tasks that ended within DURATION'
complete -c ac-queue -l status -x -a 'failed timeout cancelled expired completed' -d 'only tasks that ended S'
complete -c ac-queue -l limit -x -d 'failed: at most N tasks (default 100, 0 = all)'
complete -c ac-queue -l all -d 'requeue: every task that ended failed or timeout'
complete -c ac-queue -l older-than -x -d 'prune: tasks that ended more than DURATION ago'
complete -c ac-queue -l json -d 'JSON output'
complete -c ac-queue -l table -d 'aligned table output'
complete -c ac-queue -l store -x -a '(__ac_stores)' -d 'the store'
complete -c ac-queue -s h -l help -d 'show the usage'
complete -c ac-queue -l version -d 'show the version'

# ---------------------------------------------------------------- ac-schedule

# The subcommand first; then a schedule NAME (add: a new NAME, TYPE, FILE).
# Each option is offered everywhere; ac-schedule says which go with which
# subcommand.
set -l __ac_schedule_subs add list show pause resume rm run next
complete -c ac-schedule -f
complete -c ac-schedule -n "not __fish_seen_subcommand_from $__ac_schedule_subs" -a add -d 'add a schedule'
complete -c ac-schedule -n "not __fish_seen_subcommand_from $__ac_schedule_subs" -a list -d 'every schedule'
complete -c ac-schedule -n "not __fish_seen_subcommand_from $__ac_schedule_subs" -a show -d 'one schedule and its last tasks'
complete -c ac-schedule -n "not __fish_seen_subcommand_from $__ac_schedule_subs" -a pause -d 'fire nothing of a schedule until resumed'
complete -c ac-schedule -n "not __fish_seen_subcommand_from $__ac_schedule_subs" -a resume -d 'fire a paused schedule again'
complete -c ac-schedule -n "not __fish_seen_subcommand_from $__ac_schedule_subs" -a rm -d 'remove a schedule'
complete -c ac-schedule -n "not __fish_seen_subcommand_from $__ac_schedule_subs" -a run -d "submit a schedule's task now"
complete -c ac-schedule -n "not __fish_seen_subcommand_from $__ac_schedule_subs" -a next -d 'the next slots'
complete -c ac-schedule -n '__fish_seen_subcommand_from show pause resume rm run next' -a '(__ac_schedule_names)'
complete -c ac-schedule -l cron -x -d 'add, next: the cron expression'
complete -c ac-schedule -l tz -x -a '(__ac_time_zones)' -d 'add, next: the zone of the expression'
complete -c ac-schedule -l overlap -x -a 'allow skip cancel-previous' -d 'add: a slot while the last task runs'
complete -c ac-schedule -l catch-up -x -d 'add: how late a missed slot still fires (default 1h)'
complete -c ac-schedule -l replace -d 'add: change the schedule of that name'
complete -c ac-schedule -l priority -x -a 'low normal high critical' -d "add: each task's priority"
complete -c ac-schedule -l timeout -x -d 'add: time limit of each attempt, SEC'
complete -c ac-schedule -l retries -x -d 'add: retries after a failure'
complete -c ac-schedule -l max-reclaims -x -d 'add: lost attempts before a task fails'
complete -c ac-schedule -l expires -x -d 'add: not started within SEC: it ends expired'
complete -c ac-schedule -l key -x -d 'add: route key of each task'
complete -c ac-schedule -l require -x -d 'add: only workers offering TAG'
complete -c ac-schedule -l meta -x -d 'add: metadata K=V of each task'
complete -c ac-schedule -l reason -x -d 'pause: why'
complete -c ac-schedule -l count -x -d 'next: how many slots (default 5)'
complete -c ac-schedule -l json -d 'JSON output'
complete -c ac-schedule -l table -d 'aligned table output'
complete -c ac-schedule -l store -x -a '(__ac_stores)' -d 'the store'
complete -c ac-schedule -s h -l help -d 'show the usage'
complete -c ac-schedule -l version -d 'show the version'

# ---------------------------------------------------------------- ac-budget

# The subcommand first; then a budget NAME (set: a new or existing NAME,
# then its limits K=N).  Each option is offered everywhere; ac-budget says
# which go with which subcommand.
set -l __ac_budget_subs set reset show list rm
complete -c ac-budget -f
complete -c ac-budget -n "not __fish_seen_subcommand_from $__ac_budget_subs" -a set -d 'make a budget, or replace its limits'
complete -c ac-budget -n "not __fish_seen_subcommand_from $__ac_budget_subs" -a reset -d "start a budget's usage again from zero"
complete -c ac-budget -n "not __fish_seen_subcommand_from $__ac_budget_subs" -a show -d 'one budget'
complete -c ac-budget -n "not __fish_seen_subcommand_from $__ac_budget_subs" -a list -d 'every budget'
complete -c ac-budget -n "not __fish_seen_subcommand_from $__ac_budget_subs" -a rm -d 'remove a budget; its held tasks are released'
complete -c ac-budget -n '__fish_seen_subcommand_from set reset show rm; and test (count (commandline -opc | string match -rv -- "^-")) -eq 2' -a '(__ac_budget_names)'
complete -c ac-budget -l reset -d 'set: also start its usage again from zero'
complete -c ac-budget -l json -d 'JSON output'
complete -c ac-budget -l table -d 'aligned table output'
complete -c ac-budget -l store -x -a '(__ac_stores)' -d 'the store'
complete -c ac-budget -s h -l help -d 'show the usage'
complete -c ac-budget -l version -d 'show the version'
