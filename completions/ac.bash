# bash completion for ac, ac-worker, ac-submit, ac-status, ac-drain,
# ac-cancel, ac-scale, ac-queue, ac-schedule and ac-budget.
# One file for every command: install it as
# /usr/share/bash-completion/completions/NAME for each NAME, or source it.
# Worker ids, task types, task ids, batch ids and schedule names are read
# from the store with ac-status, budget names with ac-budget, only when jq
# is installed.
# The option lists of _ac_options are checked against each command's --help,
# its man page, docs/cli.md and the zsh and fish completions by
# tests/06-options.bats.
# shellcheck disable=SC2207  # COMPREPLY=($(compgen ...)) with IFS set as needed

# Options of each command; those that take an argument end in '='.
_ac_options()
{
	case $1 in
	ac-worker)
		echo "--id= --handler= --handlers= --reload --stream= --concurrency= --tag=" \
			"--heartbeat= --lease= --grace= --drain-timeout=" \
			"--retain= --listen= --metrics= --token-file= --insecure" \
			"--tls-cert= --store= -q --quiet" \
			"-v --verbose -h --help --version"
		;;
	ac-submit)
		echo "--async --batch --envelope --priority= --timeout=" \
			"--retries= --max-reclaims= --delay= --expires= --key= --route=" \
			"--require= --meta=" \
			"--idempotency-key= --after= --after-policy= --then=" \
			"--parent= --no-parent --traceparent=" \
			"--budget= --budget-name=" \
			"--retry= --wait-timeout= --store=" \
			"-q --quiet -h --help --version"
		;;
	ac-status)
		echo "--json --table --workers --tasks --status= --type=" \
			"--limit= --task= --tree --batch= --schedules --queue" \
			"--usage --follow --worker= --serve= --token-file= --store=" \
			"-h --help --version"
		;;
	ac-drain)
		echo "--reason= --wait --timeout= --stop --undo --store=" \
			"-h --help --version"
		;;
	ac-cancel)
		echo "--wait --timeout= --store= -h --help --version"
		;;
	ac-scale)
		echo "--pool= --daemon --status --auto --min= --max= --up=" \
			"--down= --cooldown= --recommend --per-worker= --store=" \
			"--json --table -h --help --version"
		;;
	ac-queue)
		echo "--concurrency= --per-key= --rate= --key-rate= --burst=" \
			"--fair --no-fair --clear --reason= --for= --key=" \
			"--type= --since= --status= --limit= --all --older-than=" \
			"--json --table --store= -h --help --version"
		;;
	ac-schedule)
		echo "--cron= --tz= --overlap= --catch-up= --replace" \
			"--priority= --timeout= --retries= --max-reclaims=" \
			"--expires= --key= --require= --meta= --reason= --count=" \
			"--json --table --store= -h --help --version"
		;;
	ac-budget)
		echo "--reset --json --table --store= -h --help --version"
		;;
	ac)
		echo "-h --help --version"
		;;
	*)
		echo "--store= -h --help --version"
		;;
	esac
}

# Does option $2 of command $1 take an argument?
_ac_takes_arg()
{
	local o
	for o in $(_ac_options "$1"); do
		[[ $o == "$2=" ]] && return 0
	done
	return 1
}

# The directory of the command $1 as typed, or found in PATH; else nothing.
_ac_dir()
{
	local self=$1
	# shellcheck disable=SC2088
	[[ $self == '~/'* ]] && self=$HOME/${self#'~/'}
	[[ $self == */* ]] || self=$(type -P -- "$self" 2>/dev/null)
	[[ $self == */* ]] && echo "${self%/*}"
}

# Run the command $1 (ac-status, ac-budget: beside the command being
# completed, else from PATH) with the --store of the command line and the
# arguments after $1, bounded in time; output on stdout.
_ac_tool()
{
	local prog=$1 dir i store=
	shift
	dir=$(_ac_dir "${_ac_words[0]}")
	[[ -n $dir && -x $dir/$prog ]] && prog=$dir/$prog
	for ((i = 1; i < ${#_ac_words[@]}; i++)); do
		case ${_ac_words[i]} in
		--store) store=${_ac_words[i + 1]} ;;
		--store=*) store=${_ac_words[i]#--store=} ;;
		esac
	done
	# A tilde typed on the line is not expanded yet.
	# shellcheck disable=SC2088
	[[ $store == '~/'* ]] && store=$HOME/${store#'~/'}
	local -a argv=("$prog" ${store:+--store "$store"} "$@")
	if command -v timeout >/dev/null 2>&1; then
		timeout 3 "${argv[@]}" 2>/dev/null
	else
		"${argv[@]}" 2>/dev/null
	fi
}

_ac_status()
{
	_ac_tool ac-status "$@"
}

_ac_worker_ids()
{
	command -v jq >/dev/null 2>&1 || return 0
	_ac_status --workers --json | jq -r '.[].id' 2>/dev/null
}

# The ids of the newest tasks (ac-status --tasks: up to 100) whose status
# is one of $@ (every status when none is given).
_ac_task_ids()
{
	command -v jq >/dev/null 2>&1 || return 0
	_ac_status --tasks --json |
		jq -r '$ARGS.positional as $s | .[] |
			select(($s | length) == 0 or (.status | IN($s[]))) | .id' \
			--args "$@" 2>/dev/null
}

# The names of the schedules (ac-status --schedules).
_ac_schedule_names()
{
	command -v jq >/dev/null 2>&1 || return 0
	_ac_status --schedules --json | jq -r '.[].name' 2>/dev/null
}

# The names of the budgets (ac-budget list).
_ac_budget_names()
{
	command -v jq >/dev/null 2>&1 || return 0
	_ac_tool ac-budget list --json | jq -r '.[].name' 2>/dev/null
}

# The batches of the newest tasks (ac-status --tasks: up to 100).
_ac_batch_ids()
{
	command -v jq >/dev/null 2>&1 || return 0
	_ac_status --tasks --json | jq -r '.[].batch // empty' 2>/dev/null | sort -un
}

_ac_task_types()
{
	command -v jq >/dev/null 2>&1 || return 0
	{
		_ac_status --workers --json | jq -r '.[].handlers[]?' 2>/dev/null
		_ac_status --queue --json | jq -r '.[].type' 2>/dev/null
	} | sort -u
}

# COMPREPLY from the words of $1 (newline-separated) that start with $cur.
_ac_reply_words()
{
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$1" -- "$_ac_cur"))
}

_ac_reply_files()
{
	local IFS=$'\n'
	compopt -o filenames 2>/dev/null
	COMPREPLY=($(compgen -f -- "$_ac_cur"))
}

_ac_reply_dirs()
{
	local IFS=$'\n'
	compopt -o filenames 2>/dev/null
	COMPREPLY=($(compgen -d -- "$_ac_cur"))
}

# The value of option $2 of command $1.
_ac_complete_value()
{
	case $2 in
	--store)
		# A SQLite path (plain or after sqlite:), or a PostgreSQL URI,
		# of which only the scheme is offered.
		if [[ $_ac_cur == sqlite:* ]]; then
			local IFS=$'\n' f
			compopt -o filenames 2>/dev/null
			COMPREPLY=()
			for f in $(compgen -f -- "${_ac_cur#sqlite:}"); do
				COMPREPLY+=("sqlite:$f")
			done
		elif [[ $_ac_cur == postgres://* || $_ac_cur == postgresql://* ]]; then
			COMPREPLY=()
		else
			_ac_reply_files
			if ((${#COMPREPLY[@]} == 0)) && [[ -n $_ac_cur ]]; then
				_ac_reply_words $'postgres://\npostgresql://'
				compopt +o filenames -o nospace 2>/dev/null
			fi
		fi
		;;
	--handlers) _ac_reply_dirs ;;
	--token-file | --tls-cert) _ac_reply_files ;;
	--listen)
		# ipc://PATH (a path completed after the prefix) or tcp://HOST:PORT.
		if [[ $_ac_cur == ipc://* ]]; then
			local IFS=$'\n' f
			compopt -o filenames 2>/dev/null
			COMPREPLY=()
			for f in $(compgen -f -- "${_ac_cur#ipc://}"); do
				COMPREPLY+=("ipc://$f")
			done
		elif [[ $_ac_cur != tcp://* ]]; then
			_ac_reply_words $'ipc://\ntcp://'
			compopt -o nospace 2>/dev/null
		fi
		;;
	--route)
		_ac_reply_words $'any\nleast-loaded\nround-robin\nconsistent-hash'
		;;
	--worker) _ac_reply_words "$(_ac_worker_ids)" ;;
	--priority) _ac_reply_words $'low\nnormal\nhigh\ncritical' ;;
	--status)
		if [[ $1 == ac-status ]]; then
			_ac_reply_words $'pending\nqueued\nrunning\ncompleted\nfailed\ncancelled\ntimeout\nexpired'
		elif [[ $1 == ac-queue ]]; then
			_ac_reply_words $'failed\ntimeout\ncancelled\nexpired\ncompleted'
		fi
		;;
	--concurrency | --per-key) _ac_reply_words 'off' ;;
	--rate | --key-rate) _ac_reply_words $'off\n1/s\n10/m\n100/h' ;;
	--type | --then) _ac_reply_words "$(_ac_task_types)" ;;
	--task | --after | --parent) _ac_reply_words "$(_ac_task_ids)" ;;
	--after-policy) _ac_reply_words $'all-ok\nall-done' ;;
	--batch) _ac_reply_words "$(_ac_batch_ids)" ;;
	--budget-name) _ac_reply_words "$(_ac_budget_names)" ;;
	--overlap) _ac_reply_words $'allow\nskip\ncancel-previous' ;;
	--catch-up) _ac_reply_words $'0\n10m\n1h\n1d' ;;
	--tz)
		# IANA zone names, a level at a time, from the system's zoneinfo.
		local IFS=$'\n' z
		COMPREPLY=()
		[[ UTC == "$_ac_cur"* ]] && COMPREPLY+=(UTC)
		if [[ -d /usr/share/zoneinfo ]]; then
			for z in $(cd /usr/share/zoneinfo && compgen -f -- "$_ac_cur"); do
				case ${z##*/} in [A-Z]*) ;; *) continue ;; esac
				[[ -d /usr/share/zoneinfo/$z ]] && z+=/
				COMPREPLY+=("$z")
			done
		fi
		[[ ${COMPREPLY[*]} == */* ]] && compopt -o nospace 2>/dev/null
		;;
	*) COMPREPLY=() ;;
	esac
}

# Complete _ac_words[_ac_cword] for command $1 (ac-worker ... ac-scale).
_ac_complete_command()
{
	local cmd=$1 prev='' i w npos=0 retry=0 opts o sub=''

	COMPREPLY=()
	# ac-scale N -- WORKER-ARGS: after "--", the options of ac-worker.
	if [[ $cmd == ac-scale ]]; then
		for ((i = 1; i < _ac_cword; i++)); do
			if [[ ${_ac_words[i]} == -- ]]; then
				_ac_words=(ac-worker "${_ac_words[@]:i+1}")
				((_ac_cword -= i))
				_ac_complete_command ac-worker
				return 0
			fi
		done
	fi
	# An option value: "--opt VALUE" or "--opt=VALUE".
	if [[ $_ac_cur == --*=* ]]; then
		prev=${_ac_cur%%=*}
		_ac_cur=${_ac_cur#*=}
		if _ac_takes_arg "$cmd" "$prev"; then
			_ac_complete_value "$cmd" "$prev"
			# Where '=' does not split words, keep "--opt=" on each.
			if [[ $COMP_WORDBREAKS != *=* ]]; then
				for i in "${!COMPREPLY[@]}"; do
					COMPREPLY[i]=$prev=${COMPREPLY[i]}
				done
			fi
		fi
		_ac_ltrim_colon
		return 0
	fi
	((_ac_cword > 1)) && prev=${_ac_words[_ac_cword - 1]}
	if [[ $prev == -* ]] && _ac_takes_arg "$cmd" "$prev"; then
		_ac_complete_value "$cmd" "$prev"
		_ac_ltrim_colon
		return 0
	fi

	if [[ $_ac_cur == -* ]]; then
		opts=
		for o in $(_ac_options "$cmd"); do
			opts+="${o%=} "
		done
		COMPREPLY=($(compgen -W "$opts" -- "$_ac_cur"))
		return 0
	fi

	# Count the operands before the word being completed.
	for ((i = 1; i < _ac_cword; i++)); do
		w=${_ac_words[i]}
		case $w in
		--retry | --retry=*) retry=1 ;;
		esac
		if [[ $w == -?* ]]; then
			[[ $w != *=* ]] && _ac_takes_arg "$cmd" "$w" && ((i++))
			continue
		fi
		((npos++ == 0)) && sub=$w
	done

	case $cmd in
	ac-submit)
		((retry)) && return 0
		if ((npos == 0)); then
			_ac_reply_words "$(_ac_task_types)"
		elif ((npos == 1)); then
			_ac_reply_files
		fi
		;;
	ac-drain)
		_ac_reply_words "$(_ac_worker_ids)"
		_ac_ltrim_colon
		;;
	ac-cancel)
		_ac_reply_words "$(_ac_task_ids queued running pending)"
		;;
	ac-queue)
		# SUBCOMMAND, then a TYPE or task ids.
		if ((npos == 0)); then
			_ac_reply_words $'limit\npause\nresume\nshow\nfailed\nrequeue\nprune'
		elif ((npos == 1)); then
			case $sub in
			limit | pause | resume | show)
				_ac_reply_words "$(_ac_task_types)"
				;;
			esac
		fi
		if [[ $sub == requeue ]]; then
			_ac_reply_words "$(_ac_task_ids failed timeout cancelled expired)"
		fi
		;;
	ac-schedule)
		# SUBCOMMAND, then a schedule NAME (add: a new NAME, then TYPE and
		# FILE).
		if ((npos == 0)); then
			_ac_reply_words $'add\nlist\nshow\npause\nresume\nrm\nrun\nnext'
		elif [[ $sub == add ]]; then
			if ((npos == 2)); then
				_ac_reply_words "$(_ac_task_types)"
			elif ((npos == 3)); then
				_ac_reply_files
			fi
		elif ((npos == 1)); then
			case $sub in
			show | pause | resume | rm | run | next)
				_ac_reply_words "$(_ac_schedule_names)"
				;;
			esac
		fi
		;;
	ac-budget)
		# SUBCOMMAND, then a budget NAME (set: a new or existing NAME, then
		# its limits K=N, not completed).
		if ((npos == 0)); then
			_ac_reply_words $'set\nreset\nshow\nlist\nrm'
		elif ((npos == 1)); then
			case $sub in
			set | reset | show | rm)
				_ac_reply_words "$(_ac_budget_names)"
				_ac_ltrim_colon
				;;
			esac
		fi
		;;
	ac-worker | ac-status | ac-scale) ;;
	*) _ac_reply_files ;;
	esac
	return 0
}

# Where ':' splits words (the default), readline replaces only the text after
# the last ':' of the word; strip what comes before it from each reply.
_ac_ltrim_colon()
{
	local i pre
	[[ $COMP_WORDBREAKS == *:* && $_ac_cur == *:* ]] || return 0
	pre=${_ac_cur%"${_ac_cur##*:}"}
	for i in "${!COMPREPLY[@]}"; do
		COMPREPLY[i]=${COMPREPLY[i]#"$pre"}
	done
}

# Set _ac_words, _ac_cword and _ac_cur with '=' and ':' kept inside words.
_ac_init()
{
	local cur prev words cword
	if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
		_get_comp_words_by_ref -n =: cur prev words cword
		_ac_words=("${words[@]}")
		_ac_cword=$cword
		_ac_cur=$cur
	else
		# Without bash-completion: split the line up to the cursor on
		# blanks (quotes are not understood).
		local line=${COMP_LINE:0:COMP_POINT}
		read -r -a _ac_words <<<"$line"
		[[ -z $line || $line == *[[:blank:]] ]] && _ac_words+=("")
		_ac_cword=$((${#_ac_words[@]} - 1))
		_ac_cur=${_ac_words[_ac_cword]}
	fi
}

_ac_cmd_completion()
{
	local -a _ac_words
	local _ac_cword _ac_cur
	_ac_init
	_ac_complete_command "${1##*/}"
}

# ac SUBCOMMAND ARGS: the subcommands, then the completion of ac-SUBCOMMAND.
_ac_completion()
{
	local -a _ac_words
	local _ac_cword _ac_cur sub dir c
	_ac_init
	dir=$(_ac_dir "${_ac_words[0]}")
	COMPREPLY=()
	if ((_ac_cword == 1)); then
		if [[ $_ac_cur == -* ]]; then
			COMPREPLY=($(compgen -W "$(_ac_options ac)" -- "$_ac_cur"))
			return 0
		fi
		local subs="worker submit status drain cancel scale queue schedule budget help"
		# Any other ac-NAME command beside ac or in PATH.
		if [[ -n $dir ]]; then
			for c in "$dir"/ac-*; do
				[[ -x $c && ! -d $c ]] && subs+=" ${c##*/ac-}"
			done
		fi
		for c in $(compgen -c -- ac-); do
			subs+=" ${c#ac-}"
		done
		COMPREPLY=($(compgen -W "$subs" -- "$_ac_cur" | sort -u))
		return 0
	fi
	sub=${_ac_words[1]}
	case $sub in
	help | -h | --help | --version) return 0 ;;
	esac
	# Complete as ac-SUB, run from where ac is.
	if [[ -n $dir ]]; then
		_ac_words=("$dir/ac-$sub" "${_ac_words[@]:2}")
	else
		_ac_words=("ac-$sub" "${_ac_words[@]:2}")
	fi
	((_ac_cword--))
	_ac_complete_command "ac-$sub"
}

complete -F _ac_completion ac
complete -F _ac_cmd_completion ac-worker ac-submit ac-status ac-drain ac-cancel \
	ac-scale ac-queue ac-schedule ac-budget
