#!/bin/sh
# Install the Debian 12 packages that building and testing ac need, when
# any is missing.  Run as root (or with sudo); does nothing when all are
# there, so it is cheap to run before every build.
#
# postgresql is the server the tests start throwaway instances of
# (scripts/pgtest.sh; initdb and pg_ctl are in /usr/lib/postgresql/*/bin).
# Its post-install starts a default cluster on port 5432, which nothing of
# ac uses.  iproute2 gives ss, to find a free port.  zsh and fish check
# that their completion files load (tests/05-docs, 06-options); man-db
# renders the man pages (tests/05-docs).
#
# tests/90-deploy.bats checks the files of deploy/ with: systemd-analyze and
# systemd-sysusers (package systemd, which Debian's container images leave
# out), python3-yaml (the YAML), curl (a live worker's /metrics), and
# promtool, from prometheus.  prometheus's post-install enables a
# prometheus service, which nothing of ac uses; it starts it only where an
# init system runs (systemd, or a SysV runlevel: `systemctl disable --now
# prometheus` stops it there).  In a container without one, invoke-rc.d
# finds no runlevel and starts nothing, and the install succeeds.
#
# chromium and chromium-driver run the dashboard's page in a headless
# browser (tests/dashboard-check.py, from tests/61-dashboard.bats).
#
# tzdata is the zoneinfo that lib/cron.c reads zones from (Europe/Berlin
# and the like; container images may leave it out), and python3-croniter
# the other cron implementation that tests/cron-oracle.py checks it against.
set -eu
packages="gcc make pkg-config libc6-dev libnng-dev libevent-dev liblz4-dev faketime clang libclang-rt-14-dev
libsqlite3-dev libpq-dev libjansson-dev bats jq sqlite3 procps openssl socat
postgresql iproute2 zsh fish man-db
systemd python3 python3-yaml curl prometheus python3-croniter tzdata
chromium chromium-driver"
missing=
for p in $packages; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
echo "setup: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "setup: not root and no sudo; install as root:$missing" >&2
		exit 69
	fi
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
