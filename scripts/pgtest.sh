#!/bin/sh
# A throwaway PostgreSQL server for tests.
#
#   sh scripts/pgtest.sh start DIR [LISTEN_ADDR]
#       initdb into DIR/data (trust auth, superuser postgres, UTF8, locale
#       C), start it on a free TCP port of LISTEN_ADDR (default 127.0.0.1)
#       with its Unix socket and log in DIR, create the database "ac", and
#       print its URL (also kept in DIR/url):
#           postgresql://postgres@127.0.0.1:PORT/ac
#   sh scripts/pgtest.sh stop DIR      fast shutdown; fine when not running
#   sh scripts/pgtest.sh restart DIR   fast restart on the same port; returns
#                                      once it accepts connections again
#   sh scripts/pgtest.sh url DIR       print the URL
#
# Run as root, the server runs as the OS user "postgres" (PostgreSQL refuses
# to run as root), which then owns DIR: every directory above DIR must let
# it through.  Otherwise it runs as the current user.  The binaries are
# those of `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin,
# else initdb on PATH.  Nothing here touches any other cluster (say
# Debian's default one on port 5432).
#
# Exit 0 on success; otherwise 1 and one line on stderr.
set -u

prog=pgtest.sh

die() {
	echo "$prog: $*" >&2
	exit 1
}

usage() {
	echo "usage: sh scripts/pgtest.sh start DIR [LISTEN_ADDR] | stop DIR | restart DIR | url DIR" >&2
	exit 2
}

# find_bindir: the directory of initdb, pg_ctl and postgres.
find_bindir() {
	d=$(pg_config --bindir 2>/dev/null) || d=
	if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
		echo "$d"
		return 0
	fi
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5n | tail -n 1)
	if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
		echo "$d"
		return 0
	fi
	d=$(command -v initdb 2>/dev/null) || d=
	if [ -n "$d" ]; then
		d=$(dirname "$d")
		if [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	fi
	return 1
}

# as_owner CMD ARGS...: run CMD as the user the server runs as (see the
# header), in DIR, so that a cwd it cannot enter does not matter.
as_owner() {
	if [ "$(id -u)" -ne 0 ]; then
		(cd "$DIR" && "$@")
	elif command -v runuser >/dev/null 2>&1; then
		(cd "$DIR" && runuser -u "$owner" -- "$@")
	else
		# $0 and $@ are for the shell su starts, not this one.
		# shellcheck disable=SC2016
		(cd "$DIR" && su -s /bin/sh -c 'exec "$0" "$@"' "$owner" -- "$@")
	fi
}

# random_port: a port in 20000..60000.
random_port() {
	n=$(od -An -N2 -tu2 /dev/urandom 2>/dev/null | tr -d ' ')
	[ -n "$n" ] || n=$(( $$ * 7919 % 65536 ))
	echo $((20000 + n % 40001))
}

# port_busy PORT: something listens on PORT (as far as ss can tell; without
# ss the start itself finds out).
port_busy() {
	command -v ss >/dev/null 2>&1 || return 1
	[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# url_of ADDR PORT
url_of() {
	case $1 in
	*:*) echo "postgresql://postgres@[$1]:$2/ac" ;;
	*) echo "postgresql://postgres@$1:$2/ac" ;;
	esac
}

# last_error: the last FATAL/ERROR/PANIC line of DIR/log, for a message.
last_error() {
	grep -E '(FATAL|PANIC|ERROR): ' "$DIR/log" 2>/dev/null | tail -n 1 |
		sed -E 's/^.*(FATAL|PANIC|ERROR): *//'
}

# wait_ready SECONDS: until the server accepts connections on its socket.
wait_ready() {
	i=0
	while [ "$i" -lt $(($1 * 10)) ]; do
		if as_owner "$bindir/psql" -X -q -h "$DIR" -p "$port" -U postgres \
			-d postgres -c 'SELECT 1' >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

cmd_start() {
	addr=${1:-127.0.0.1}
	bindir=$(find_bindir) ||
		die "no PostgreSQL server binaries (initdb, pg_ctl) found; install the postgresql package (apt-get install postgresql)"
	mkdir -p "$DIR" 2>/dev/null || die "cannot create '$DIR'"
	DIR=$(cd "$DIR" && pwd) || die "cannot enter '$DIR'"
	[ ! -e "$DIR/data" ] ||
		die "'$DIR/data' exists already; stop that server and use a new directory"
	# The socket path must fit in sun_path (107 bytes).
	[ ${#DIR} -le 80 ] || die "'$DIR' is too long a path for a Unix socket"
	if [ "$(id -u)" -eq 0 ]; then
		owner=postgres
		id "$owner" >/dev/null 2>&1 ||
			die "running as root but there is no OS user 'postgres' to run the server as; install the postgresql package"
		chown "$owner" "$DIR" || die "cannot chown '$DIR' to $owner"
		as_owner test -w "$DIR" 2>/dev/null ||
			die "user $owner cannot write '$DIR' (is a directory above it closed to others?)"
	else
		owner=$(id -un)
	fi
	if ! as_owner "$bindir/initdb" -D "$DIR/data" --auth=trust -U postgres \
		-E UTF8 --locale=C --no-sync >"$DIR/initdb.log" 2>&1; then
		die "initdb failed: $(grep -v '^$' "$DIR/initdb.log" | tail -n 1) (see $DIR/initdb.log)"
	fi
	# Ports are picked at random and tried: another server (or another
	# pgtest.sh running at the same time) may take one between the check
	# and the start, which then fails to bind and we try the next.
	tries=0
	while :; do
		tries=$((tries + 1))
		[ "$tries" -le 20 ] || die "no free port found in 20 tries (see $DIR/log)"
		port=$(random_port)
		port_busy "$port" && continue
		lines=0
		[ -f "$DIR/log" ] && lines=$(wc -l <"$DIR/log")
		if as_owner "$bindir/pg_ctl" -w -t 60 -D "$DIR/data" -l "$DIR/log" \
			-o "-c listen_addresses=$addr -p $port -k $DIR -c fsync=on -c max_connections=200" \
			start >"$DIR/pg_ctl.out" 2>&1; then
			break
		fi
		# A port somebody else took is retried; anything else is fatal.
		if tail -n +"$((lines + 1))" "$DIR/log" 2>/dev/null |
			grep -q 'Address already in use'; then
			as_owner "$bindir/pg_ctl" -D "$DIR/data" -m immediate stop \
				>/dev/null 2>&1
			continue
		fi
		msg=$(last_error)
		[ -n "$msg" ] || msg=$(grep -v '^$' "$DIR/pg_ctl.out" | tail -n 1)
		as_owner "$bindir/pg_ctl" -D "$DIR/data" -m immediate stop \
			>/dev/null 2>&1
		die "the server did not start on $addr:$port: $msg (see $DIR/log)"
	done
	echo "$port" >"$DIR/port"
	echo "$bindir" >"$DIR/bindir"
	if ! as_owner "$bindir/psql" -X -q -h "$DIR" -p "$port" -U postgres \
		-d postgres -c 'CREATE DATABASE ac' >"$DIR/createdb.log" 2>&1; then
		as_owner "$bindir/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1
		die "creating database ac failed: $(tail -n 1 "$DIR/createdb.log")"
	fi
	url=$(url_of "$addr" "$port")
	echo "$url" >"$DIR/url" || die "cannot write '$DIR/url'"
	echo "$url"
}

# load_state: bindir, owner and port of the server started in DIR.
load_state() {
	[ -d "$DIR/data" ] || return 1
	DIR=$(cd "$DIR" && pwd) || return 1
	bindir=$(cat "$DIR/bindir" 2>/dev/null) || bindir=
	[ -n "$bindir" ] || bindir=$(find_bindir) || return 1
	port=$(cat "$DIR/port" 2>/dev/null) || port=
	if [ "$(id -u)" -eq 0 ]; then
		owner=$(stat -c %U "$DIR/data") || return 1
	else
		owner=$(id -un)
	fi
}

cmd_stop() {
	# Nothing started here, or started and gone: nothing to do.
	load_state || return 0
	[ -f "$DIR/data/postmaster.pid" ] || return 0
	as_owner "$bindir/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1 || return 0
	if ! as_owner "$bindir/pg_ctl" -w -t 60 -D "$DIR/data" -m fast stop \
		>"$DIR/pg_ctl.out" 2>&1; then
		as_owner "$bindir/pg_ctl" -w -t 30 -D "$DIR/data" -m immediate \
			stop >"$DIR/pg_ctl.out" 2>&1 ||
			die "the server in '$DIR' did not stop: $(tail -n 1 "$DIR/pg_ctl.out")"
	fi
}

cmd_restart() {
	load_state || die "no server was started in '$DIR'"
	[ -n "$port" ] || die "no port recorded in '$DIR/port'"
	# pg_ctl restart starts it again with the options of the last start
	# (data/postmaster.opts): the same port, socket and settings.
	as_owner "$bindir/pg_ctl" -w -t 60 -D "$DIR/data" -l "$DIR/log" \
		-m fast restart >"$DIR/pg_ctl.out" 2>&1 ||
		die "restart failed: $(last_error) (see $DIR/log)"
	wait_ready 60 || die "the server in '$DIR' accepts no connections after a restart (see $DIR/log)"
}

cmd_url() {
	[ -s "$DIR/url" ] || die "no server was started in '$DIR'"
	cat "$DIR/url"
}

[ $# -ge 2 ] || usage
cmd=$1
DIR=$2
shift 2
case $cmd in
start) [ $# -le 1 ] || usage; cmd_start "$@" ;;
stop) [ $# -eq 0 ] || usage; cmd_stop ;;
restart) [ $# -eq 0 ] || usage; cmd_restart ;;
url) [ $# -eq 0 ] || usage; cmd_url ;;
*) usage ;;
esac
