#!/usr/bin/env bash
# pg.sh — a throw-away PostgreSQL server for tests.
#
#   scripts/pg.sh start   start it (idempotent) and print its URL on stdout
#   scripts/pg.sh url     print the URL of the running server
#   scripts/pg.sh stop    stop it and remove its directory (idempotent)
#
# Typical use:
#   export GOLDSMITH_TEST_POSTGRES_URL=$(scripts/pg.sh start)
#   go test ./internal/store/...
#   scripts/pg.sh stop
#
# Settings (environment):
#   GOLDSMITH_PG_DIR   directory for data, socket and log (default /tmp/goldsmith-pg);
#                      as root it is chowned to the postgres user, so every parent
#                      directory must be traversable by that user
#   GOLDSMITH_PG_PORT  preferred TCP port on 127.0.0.1 (default 55432); when it is
#                      taken, the next free port is used
#
# The server trusts every local connection, listens on 127.0.0.1 only, and runs
# with fsync off: never put data you care about in it. When no PostgreSQL
# binaries are found, running as root installs the Debian "postgresql" package
# (non-interactively); otherwise the script fails. PostgreSQL refuses to run as
# root, so as root the server runs as the "postgres" user via runuser; as any
# other user it runs as that user. Progress goes to stderr, only the URL to stdout.
set -euo pipefail

DIR=${GOLDSMITH_PG_DIR:-/tmp/goldsmith-pg}
case "$DIR" in
/*) ;;
*) DIR=$PWD/$DIR ;;
esac
DIR=${DIR%/}
[ -n "$DIR" ] || { echo "pg.sh: GOLDSMITH_PG_DIR must not be /" >&2; exit 2; }
case "$DIR" in
*[[:space:]\'\"]*) echo "pg.sh: GOLDSMITH_PG_DIR must not contain spaces or quotes" >&2; exit 2 ;;
esac
DATA=$DIR/data
LOG=$DIR/server.log
PORT_FILE=$DIR/port
MARKER=$DIR/.goldsmith-pg # stop removes only a directory that start created
PREFERRED_PORT=${GOLDSMITH_PG_PORT:-55432}

log() { printf 'pg.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# pgbin prints the bin directory of the newest installed PostgreSQL, or nothing.
pgbin() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1) || true
	if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
		printf '%s\n' "$d"
	fi
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# as_pg runs a command as the user that owns the server.
as_pg() {
	if is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

ensure_installed() {
	if [ -n "$(pgbin)" ]; then
		return
	fi
	is_root || die "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); install the postgresql package or run as root"
	log "installing PostgreSQL with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q --no-install-recommends postgresql </dev/null >&2; then
		apt-get update -q </dev/null >&2
		apt-get install -y -q --no-install-recommends postgresql </dev/null >&2
	fi
	[ -n "$(pgbin)" ] || die "apt-get installed postgresql but no initdb was found under /usr/lib/postgresql"
}

ensure_user() {
	is_root || return 0
	if ! id -u postgres >/dev/null 2>&1; then
		log "creating system user postgres"
		useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
	fi
}

url_for() { printf 'postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable\n' "$1"; }

running() {
	local bin
	bin=$(pgbin)
	[ -n "$bin" ] && [ -f "$DATA/PG_VERSION" ] && [ -f "$PORT_FILE" ] &&
		as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1 &&
		port_in_use "$(cat "$PORT_FILE")" # a killed server can look alive to pg_ctl until it is reaped
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd_url() {
	running || die "not running (start it with: $0 start)"
	url_for "$(cat "$PORT_FILE")"
}

cmd_start() {
	if running; then
		url_for "$(cat "$PORT_FILE")"
		return
	fi
	ensure_installed
	ensure_user
	local bin
	bin=$(pgbin)

	if [ -d "$DIR" ] && [ ! -f "$MARKER" ] && [ -n "$(ls -A "$DIR")" ]; then
		die "$DIR exists and was not created by pg.sh; remove it or set GOLDSMITH_PG_DIR"
	fi
	mkdir -p "$DIR"
	touch "$MARKER"
	chmod 0700 "$DIR"
	if is_root; then
		chown postgres: "$DIR"
		runuser -u postgres -- test -w "$DIR" ||
			die "user postgres cannot write $DIR; set GOLDSMITH_PG_DIR to a directory it can reach"
	fi
	if [ ! -f "$DATA/PG_VERSION" ]; then
		rm -rf "$DATA"
		log "initdb $DATA ($bin)"
		# C.UTF-8 where the C library has it, else the plain C locale.
		if ! as_pg "$bin/initdb" -D "$DATA" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1; then
			rm -rf "$DATA"
			as_pg "$bin/initdb" -D "$DATA" -U postgres -A trust --no-sync -E UTF8 --no-locale >>"$DIR/initdb.log" 2>&1 ||
				{ cat "$DIR/initdb.log" >&2; die "initdb failed"; }
		fi
	fi

	local port=$PREFERRED_PORT tries=0
	while :; do
		while port_in_use "$port"; do
			port=$((port + 1))
		done
		log "starting on 127.0.0.1:$port"
		if as_pg "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -s start \
			-o "-c listen_addresses=127.0.0.1 -p $port -k '$DIR' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			</dev/null >&2; then
			break
		fi
		tries=$((tries + 1))
		if [ "$tries" -lt 10 ] && grep -q 'could not bind\|Address already in use' "$LOG" 2>/dev/null; then
			port=$((port + 1)) # lost a race for the port: try the next one
		elif [ "$tries" -lt 10 ] && grep -q 'lock file .* already exists' "$LOG" 2>/dev/null; then
			sleep 1 # a killed server that is not yet reaped
		else
			tail -n 20 "$LOG" >&2 || true
			die "pg_ctl start failed (log: $LOG)"
		fi
		[ ! -f "$LOG" ] || : >"$LOG"
	done
	printf '%s\n' "$port" >"$PORT_FILE"
	url_for "$port"
}

cmd_stop() {
	local bin
	bin=$(pgbin)
	if [ -n "$bin" ] && [ -f "$DATA/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
		log "stopping"
		as_pg "$bin/pg_ctl" -D "$DATA" -m immediate -w -t 60 -s stop </dev/null >&2 || die "pg_ctl stop failed"
	fi
	if [ -f "$MARKER" ]; then
		rm -rf "$DIR"
	elif [ -e "$DIR" ]; then
		log "not removing $DIR: it was not created by pg.sh"
	fi
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
url) cmd_url ;;
*)
	echo "usage: $0 start|stop|url" >&2
	exit 2
	;;
esac
