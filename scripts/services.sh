#!/usr/bin/env bash
# scripts/services.sh — local PostgreSQL 15 + Redis for hallpass, without Docker.
#
# Usage: scripts/services.sh up|down|status|env|destroy PROFILE      (PROFILE: dev | test)
#
#   up       install missing packages, start Postgres and Redis on 127.0.0.1 (reusing
#            servers this script already started), create the database, write the env file
#   down     stop the servers this script started for PROFILE (never anything else)
#   status   show what runs for PROFILE (exit 0 only when both servers are up)
#   env      print the path of PROFILE's env file (.data/env or .data/test.env)
#   destroy  down, then delete all of PROFILE's data (used by `make clean-data`)
#
# Ports        dev: Postgres 5433, Redis 6380    test: Postgres 5434, Redis 6381
#              (override with HALLPASS_PG_PORT / HALLPASS_REDIS_PORT; HALLPASS_SERVICES_TIMEOUT
#              sets the seconds to wait for a server, default 30)
# Layout       .data/<profile>/pg             Postgres data dir (or a symlink, see below)
#              .data/<profile>/run/           Postgres unix socket
#              .data/<profile>/postgres.log   Postgres log
#              .data/<profile>/pg-password    password of the `hallpass` superuser (0600)
#              .data/<profile>/postgres.pid   postmaster pid recorded by this script
#              .data/<profile>/redis/         Redis working dir (RDB snapshot in dev)
#              .data/<profile>/redis.pid|.log
#              .data/env, .data/test.env      KEY=value lines for every HALLPASS_* var (0600)
#
# As root, Postgres runs as the OS user `postgres` (initdb refuses root). When that user
# cannot reach the repo (e.g. a clone under /root), or the socket path would be too long,
# the Postgres part (pg/, run/, postgres.log) lives in /var/tmp/hallpass-<hash>-<profile>/
# and .data/<profile>/pg and .data/<profile>/postgres.log are symlinks to it.
set -euo pipefail

# ---------------------------------------------------------------------------------------
# Constants and helpers
# ---------------------------------------------------------------------------------------
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DATA_ROOT="$REPO_ROOT/.data"
PG_BIN=${HALLPASS_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_SUPERUSER=hallpass
PG_OS_USER=postgres                      # used only when this script runs as root
TIMEOUT=${HALLPASS_SERVICES_TIMEOUT:-30} # seconds to wait for a server to accept connections

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

usage() {
	sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

is_root() { [[ $EUID -eq 0 ]]; }

# Run a command as the user that owns the Postgres cluster. From "/" so that a cwd the
# postgres user cannot enter (e.g. under /root) does not upset initdb/pg_ctl.
as_pg() {
	if is_root; then
		(cd / && runuser -u "$PG_OS_USER" -- "$@")
	else
		(cd / && "$@")
	fi
}

# Give a path to the cluster owner (no-op when not root: we already own it).
give_to_pg() {
	if is_root; then chown "$PG_OS_USER:" "$@"; fi
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Print the last lines of a log file (used when a server fails to come up).
show_log_tail() {
	local file=$1
	if [[ -r $file ]]; then
		printf -- '----- last lines of %s -----\n' "$file" >&2
		tail -n 30 "$file" >&2 || true
		printf -- '-----\n' >&2
	else
		log "(no log at $file)"
	fi
}

# 40 random hex chars: safe in URLs and shell without quoting.
random_password() { od -An -tx1 -N20 /dev/urandom | tr -d ' \n'; }

# True if pid $1 exists and is not a zombie (an exited child not yet reaped).
pid_alive() {
	local state
	state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]]
}

# True if pid $1 is alive, its command name is $2, and its cwd is the directory $3.
# Postgres chdirs into its data dir and Redis into its --dir, so this ties a pid to the
# data area of this checkout and rules out recycled pids and unrelated servers.
pid_is_ours() {
	local pid=$1 comm=$2 dir=$3 cwd
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	pid_alive "$pid" || return 1
	[[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
	cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
	[[ $cwd == "$(readlink -f "$dir")" ]]
}

# ---------------------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------------------
SUDO=()
if ! is_root; then SUDO=(sudo); fi

# Wait (up to 10 min) while another apt-get/dpkg is running, e.g. a background install.
wait_for_apt() {
	command -v pgrep >/dev/null || return 0
	local waited=0
	while pgrep -x 'apt-get|apt|dpkg|unattended-upgr' >/dev/null; do
		if ((waited == 0)); then log "another apt/dpkg process is running; waiting for it to finish..."; fi
		if ((waited >= 600)); then die "apt/dpkg still busy after 600 s"; fi
		sleep 3
		waited=$((waited + 3))
	done
}

# apt-get with the locks waited for rather than failing on them.
apt_get() {
	local out rc deadline=$((SECONDS + 600))
	out=$(mktemp)
	while :; do
		wait_for_apt
		rc=0
		"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get -o DPkg::Lock::Timeout=600 "$@" 2>&1 | tee "$out" >&2 || rc=$?
		if ((rc == 0)); then rm -f "$out"; return 0; fi
		if grep -qE 'Could not get lock|Unable to acquire|Unable to lock' "$out" && ((SECONDS < deadline)); then
			log "apt lock busy; retrying in 5 s"
			sleep 5
			continue
		fi
		rm -f "$out"
		return "$rc"
	done
}

# Set MISSING to the Debian packages whose programs we need but cannot find.
find_missing_packages() {
	MISSING=()
	if [[ ! -x $PG_BIN/initdb || ! -x $PG_BIN/pg_ctl || ! -x $PG_BIN/postgres ]]; then MISSING+=(postgresql-15); fi
	if [[ ! -x $PG_BIN/psql || ! -x $PG_BIN/pg_isready ]]; then MISSING+=(postgresql-client-15); fi
	if ! command -v redis-server >/dev/null; then MISSING+=(redis-server); fi
	if ! command -v redis-cli >/dev/null; then MISSING+=(redis-tools); fi
	((${#MISSING[@]} > 0))
}

ensure_packages() {
	if find_missing_packages; then
		# A background install may be about to provide them: let it finish, then look again.
		wait_for_apt
	fi
	if find_missing_packages; then
		if ! is_root && ! command -v sudo >/dev/null; then
			die "missing packages: ${MISSING[*]}; install them (apt-get install ${MISSING[*]}) or run as root"
		fi
		log "installing: ${MISSING[*]}"
		apt_get update -qq
		apt_get install -y -qq --no-install-recommends "${MISSING[@]}"
		if find_missing_packages; then die "packages still missing after install: ${MISSING[*]}"; fi
	fi
	# initdb refuses to run as root: as root the cluster belongs to the `postgres` OS user.
	if is_root && ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
		log "creating system user $PG_OS_USER"
		useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql \
			--shell /usr/sbin/nologin "$PG_OS_USER"
	fi
}

# ---------------------------------------------------------------------------------------
# Profile settings and paths
# ---------------------------------------------------------------------------------------
load_profile() {
	PROFILE=$1
	case $PROFILE in
	dev)
		PG_PORT=${HALLPASS_PG_PORT:-5433}
		REDIS_PORT=${HALLPASS_REDIS_PORT:-6380}
		DB_NAME=hallpass
		HTTP_PORT=8000
		ENV_FILE=$DATA_ROOT/env
		;;
	test)
		PG_PORT=${HALLPASS_PG_PORT:-5434}
		REDIS_PORT=${HALLPASS_REDIS_PORT:-6381}
		DB_NAME=hallpass_test
		HTTP_PORT=18000
		ENV_FILE=$DATA_ROOT/test.env
		;;
	*) die "unknown profile '$PROFILE' (expected dev or test)" ;;
	esac
	PROFILE_DIR=$DATA_ROOT/$PROFILE
	PG_LINK=$PROFILE_DIR/pg # the data dir itself, or a symlink to it
	PG_PASSWORD_FILE=$PROFILE_DIR/pg-password
	PG_PIDFILE=$PROFILE_DIR/postgres.pid
	REDIS_DIR=$PROFILE_DIR/redis
	REDIS_PIDFILE=$PROFILE_DIR/redis.pid
	REDIS_LOG=$PROFILE_DIR/redis.log
	FALLBACK_BASE=/var/tmp/hallpass-$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-10)-$PROFILE
	resolve_pg_paths
}

# Where the Postgres files of this profile live (PG_BASE holds pg/, run/, postgres.log).
# Decided once: a real directory at .data/<profile>/pg means "in the repo", a symlink means
# "in FALLBACK_BASE"; with neither, pick now (see can_use_repo_for_pg).
resolve_pg_paths() {
	if [[ -d $PG_LINK && ! -L $PG_LINK ]]; then
		PG_BASE=$PROFILE_DIR
	elif [[ -L $PG_LINK ]]; then
		PG_BASE=$FALLBACK_BASE
	elif [[ -d $PROFILE_DIR ]] && can_use_repo_for_pg; then
		PG_BASE=$PROFILE_DIR
	elif [[ -d $PROFILE_DIR ]]; then
		PG_BASE=$FALLBACK_BASE
	else
		PG_BASE="" # nothing set up yet; `up` creates PROFILE_DIR and calls us again
	fi
	PGDATA_DIR=${PG_BASE:+$PG_BASE/pg}
	PG_SOCK_DIR=${PG_BASE:+$PG_BASE/run}
	PG_LOG=${PG_BASE:+$PG_BASE/postgres.log}
}

# Can the cluster owner reach PROFILE_DIR (every parent traversable), and is the socket
# path short enough (sun_path holds 107 bytes; we need room for "/.s.PGSQL.NNNNN")?
can_use_repo_for_pg() {
	local sock="$PROFILE_DIR/run"
	((${#sock} <= 90)) || return 1
	if is_root; then
		runuser -u "$PG_OS_USER" -- test -x "$PROFILE_DIR" 2>/dev/null
	fi
}

# ---------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------

# Pid of the running postmaster of our data dir, or nothing.
pg_running_pid() {
	local pid
	[[ -n $PGDATA_DIR && -f $PGDATA_DIR/postmaster.pid ]] || return 1
	pid=$(head -n 1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null) || return 1
	pid_is_ours "$pid" postgres "$PGDATA_DIR" || return 1
	echo "$pid"
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -t 2 >/dev/null 2>&1; }

# Run SQL as the hallpass superuser over TCP (exercises the same path as the app).
pg_sql() {
	PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$PG_PORT" -U "$PG_SUPERUSER" -d postgres "$@"
}

# Create the directories of the Postgres part, owned by the cluster owner.
prepare_pg_dirs() {
	if [[ $PG_BASE == "$FALLBACK_BASE" ]]; then
		if [[ -e $FALLBACK_BASE || -L $FALLBACK_BASE ]]; then
			# /var/tmp is world-writable: refuse anything we did not create.
			[[ -d $FALLBACK_BASE && ! -L $FALLBACK_BASE ]] || die "$FALLBACK_BASE exists and is not a directory"
			[[ $(stat -c %U "$FALLBACK_BASE") == "$(pg_owner)" ]] ||
				die "$FALLBACK_BASE is not owned by $(pg_owner); remove it"
		else
			mkdir -m 700 "$FALLBACK_BASE"
			give_to_pg "$FALLBACK_BASE"
		fi
		ln -sfn "$FALLBACK_BASE/pg" "$PG_LINK"
		ln -sfn "$FALLBACK_BASE/postgres.log" "$PROFILE_DIR/postgres.log"
	fi
	local d
	for d in "$PGDATA_DIR" "$PG_SOCK_DIR"; do
		if [[ ! -d $d ]]; then
			mkdir -m 700 "$d"
			give_to_pg "$d"
		fi
	done
	if [[ ! -e $PG_LOG ]]; then
		(umask 077 && : >"$PG_LOG")
		give_to_pg "$PG_LOG"
	fi
}

pg_owner() { if is_root; then echo "$PG_OS_USER"; else id -un; fi; }

# Postgres data left in FALLBACK_BASE by an earlier checkout at the same path whose
# .data is gone (fresh clone, rm -rf .data): its password is lost, so it is useless.
drop_orphaned_fallback() {
	[[ $PG_BASE == "$FALLBACK_BASE" && ! -f $PG_PASSWORD_FILE && -f $FALLBACK_BASE/pg/PG_VERSION ]] || return 0
	log "removing orphaned Postgres data in $FALLBACK_BASE (its password file is gone)"
	if [[ -n $(pg_running_pid) ]]; then
		as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop >/dev/null
	fi
	rm -rf "${FALLBACK_BASE:?}/pg" "$FALLBACK_BASE/run" "$FALLBACK_BASE/postgres.log"
}

init_pg_cluster() {
	if [[ -f $PGDATA_DIR/PG_VERSION ]]; then
		[[ -s $PG_PASSWORD_FILE ]] ||
			die "$PGDATA_DIR exists but $PG_PASSWORD_FILE is missing; run 'make clean-data CONFIRM=1'"
		PG_PASSWORD=$(<"$PG_PASSWORD_FILE")
		return 0
	fi
	if [[ ! -s $PG_PASSWORD_FILE ]]; then
		(umask 077 && random_password >"$PG_PASSWORD_FILE")
	fi
	PG_PASSWORD=$(<"$PG_PASSWORD_FILE")

	log "initdb $PGDATA_DIR"
	# initdb reads the password from a file the cluster owner can read; remove it after.
	local pwfile=$PG_BASE/.initdb-pw
	(umask 077 && printf '%s\n' "$PG_PASSWORD" >"$pwfile")
	give_to_pg "$pwfile"
	if ! as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U "$PG_SUPERUSER" --pwfile="$pwfile" \
		--auth-host=scram-sha-256 --auth-local=scram-sha-256 \
		--encoding=UTF8 --no-locale --no-instructions >"$PROFILE_DIR/initdb.log" 2>&1; then
		rm -f "$pwfile"
		show_log_tail "$PROFILE_DIR/initdb.log"
		die "initdb failed"
	fi
	rm -f "$pwfile"
	# Our settings live in hallpass.conf, rewritten by every `up`.
	printf "\ninclude_if_exists = 'hallpass.conf'\n" | as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
}

# Settings applied at every start (rewritten each `up`, so edits here take effect on restart).
write_pg_conf() {
	local sock=${PG_SOCK_DIR//\'/\'\'}
	{
		echo "# Written by scripts/services.sh ($PROFILE profile); changes are overwritten."
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $PG_PORT"
		echo "unix_socket_directories = '$sock'"
		echo "password_encryption = 'scram-sha-256'"
		if [[ $PROFILE == test ]]; then
			# Throwaway data: trade durability for speed. Many pools open in parallel.
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
			echo "max_connections = 300"
		else
			echo "max_connections = 100"
		fi
	} | as_pg tee "$PGDATA_DIR/hallpass.conf" >/dev/null
}

wait_for_pg() {
	local deadline=$((SECONDS + TIMEOUT))
	until pg_ready "$PG_PORT"; do
		if ((SECONDS >= deadline)); then
			show_log_tail "$PG_LOG"
			die "Postgres did not accept connections on 127.0.0.1:$PG_PORT within ${TIMEOUT}s"
		fi
		sleep 0.5
	done
}

# A postmaster.pid naming a live process that is not a postgres (a pid recycled after a
# reboot) makes Postgres refuse to start. Any other case is left to Postgres to judge.
remove_stale_postmaster_pid() {
	local file=$PGDATA_DIR/postmaster.pid pid
	[[ -f $file ]] || return 0
	pid=$(head -n 1 "$file")
	if [[ $pid =~ ^[0-9]+$ && -d /proc/$pid && $(cat "/proc/$pid/comm" 2>/dev/null) != postgres ]]; then
		log "postgres: removing stale $file (pid $pid is not a postgres)"
		rm -f "$file"
	fi
}

pg_up() {
	if [[ $PG_BASE == "$PROFILE_DIR" && -d $PGDATA_DIR ]] && is_root && ! runuser -u "$PG_OS_USER" -- test -x "$PGDATA_DIR" 2>/dev/null; then
		die "the $PG_OS_USER user cannot reach $PGDATA_DIR (repo moved?); run 'make clean-data CONFIRM=1'"
	fi
	prepare_pg_dirs
	drop_orphaned_fallback
	prepare_pg_dirs
	init_pg_cluster

	local pid port
	if pid=$(pg_running_pid); then
		port=$(sed -n 4p "$PGDATA_DIR/postmaster.pid")
		[[ $port == "$PG_PORT" ]] ||
			die "Postgres ($PROFILE) already runs on port $port, not $PG_PORT; run '$0 down $PROFILE' first"
		log "postgres: reusing pid $pid on 127.0.0.1:$PG_PORT"
	else
		if port_in_use "$PG_PORT"; then
			die "127.0.0.1:$PG_PORT is in use by a server this script did not start; stop it or set HALLPASS_PG_PORT"
		fi
		remove_stale_postmaster_pid
		write_pg_conf
		log "postgres: starting on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
		# 9>&-: the server must not inherit (and so hold forever) our profile lock.
		if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -s -w -t "$TIMEOUT" start 9>&-; then
			show_log_tail "$PG_LOG"
			die "Postgres failed to start"
		fi
		pid=$(pg_running_pid) || {
			show_log_tail "$PG_LOG"
			die "Postgres started but its postmaster is gone"
		}
	fi
	echo "$pid" >"$PG_PIDFILE"
	wait_for_pg

	if ! pg_sql -tAc 'SELECT 1' >/dev/null; then
		die "cannot log in to Postgres as $PG_SUPERUSER with the password in $PG_PASSWORD_FILE"
	fi
	if [[ $(pg_sql -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") != 1 ]]; then
		log "postgres: creating database $DB_NAME"
		pg_sql -c "CREATE DATABASE \"$DB_NAME\""
	fi
}

pg_down() {
	local pid
	if pid=$(pg_running_pid); then
		log "postgres: stopping pid $pid"
		as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 -s stop
	else
		log "postgres: not running"
	fi
	rm -f "$PG_PIDFILE"
}

# ---------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------

# Pid of the Redis server this script started for the profile, or nothing.
redis_running_pid() {
	local pid
	[[ -f $REDIS_PIDFILE ]] || return 1
	pid=$(<"$REDIS_PIDFILE")
	pid_is_ours "$pid" redis-server "$REDIS_DIR" || return 1
	echo "$pid"
}

# The port in the process title ("redis-server 127.0.0.1:6381").
redis_pid_port() { tr '\0' ' ' <"/proc/$1/cmdline" | sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p'; }

redis_ready() { [[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]; }

wait_for_redis() {
	local deadline=$((SECONDS + TIMEOUT))
	until redis_ready "$REDIS_PORT"; do
		if ((SECONDS >= deadline)); then
			show_log_tail "$REDIS_LOG"
			die "Redis did not answer PING on 127.0.0.1:$REDIS_PORT within ${TIMEOUT}s"
		fi
		sleep 0.3
	done
}

redis_up() {
	local pid port
	[[ -d $REDIS_DIR ]] || mkdir -m 700 "$REDIS_DIR"
	if pid=$(redis_running_pid); then
		port=$(redis_pid_port "$pid")
		[[ $port == "$REDIS_PORT" ]] ||
			die "Redis ($PROFILE) already runs on port $port, not $REDIS_PORT; run '$0 down $PROFILE' first"
		log "redis: reusing pid $pid on 127.0.0.1:$REDIS_PORT"
	else
		rm -f "$REDIS_PIDFILE"
		if port_in_use "$REDIS_PORT"; then
			die "127.0.0.1:$REDIS_PORT is in use by a server this script did not start; stop it or set HALLPASS_REDIS_PORT"
		fi
		local args=(--bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes
			--daemonize yes --pidfile "$REDIS_PIDFILE" --dir "$REDIS_DIR" --logfile "$REDIS_LOG")
		if [[ $PROFILE == test ]]; then
			args+=(--save '' --appendonly no)
		else
			args+=(--save '3600 1 300 100 60 10000' --dbfilename dump.rdb --appendonly no)
		fi
		log "redis: starting on 127.0.0.1:$REDIS_PORT (log: $REDIS_LOG)"
		redis-server "${args[@]}" 9>&- || { # 9>&-: do not pass our profile lock on
			show_log_tail "$REDIS_LOG"
			die "redis-server failed to start"
		}
	fi
	wait_for_redis
	# --daemonize writes the pidfile from the child: make sure it is there and ours.
	local deadline=$((SECONDS + 5))
	until redis_running_pid >/dev/null; do
		((SECONDS < deadline)) || die "Redis answers on $REDIS_PORT but $REDIS_PIDFILE does not name it"
		sleep 0.2
	done
}

redis_down() {
	local pid i
	if pid=$(redis_running_pid); then
		log "redis: stopping pid $pid"
		kill -TERM "$pid"
		for ((i = 0; i < 100; i++)); do
			pid_alive "$pid" || break
			sleep 0.1
		done
		! pid_alive "$pid" || die "redis pid $pid did not exit within 10 s"
	else
		log "redis: not running"
	fi
	rm -f "$REDIS_PIDFILE"
}

# ---------------------------------------------------------------------------------------
# Env file
# ---------------------------------------------------------------------------------------
write_env_file() {
	local master_key="" tmp
	if [[ -f $ENV_FILE ]]; then
		master_key=$(sed -n 's/^HALLPASS_MASTER_KEY=//p' "$ENV_FILE" | tail -n 1)
	fi
	if [[ -z $master_key ]]; then
		master_key=$(head -c 32 /dev/urandom | base64 -w0)
	fi
	local db_url="postgres://$PG_SUPERUSER:$PG_PASSWORD@127.0.0.1:$PG_PORT"
	tmp=$(mktemp "$DATA_ROOT/.env.XXXXXX") # mktemp creates it 0600
	{
		echo "HALLPASS_DATABASE_URL=$db_url/$DB_NAME?sslmode=disable"
		echo "HALLPASS_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
		echo "HALLPASS_LISTEN=127.0.0.1:$HTTP_PORT"
		echo "HALLPASS_BASE_DOMAIN=localhost"
		echo "HALLPASS_PUBLIC_URL=http://127.0.0.1:$HTTP_PORT"
		echo "HALLPASS_MASTER_KEY=$master_key"
		echo "HALLPASS_MASTER_KEYS_OLD="
		echo "HALLPASS_SMTP_URL="
		echo "HALLPASS_LOG_LEVEL=info"
		echo "HALLPASS_LOG_FORMAT=json"
		if [[ $PROFILE == test ]]; then
			echo "HALLPASS_TEST_DATABASE_URL=$db_url/postgres?sslmode=disable"
			echo "HALLPASS_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
		fi
	} >"$tmp"
	chmod 600 "$tmp"
	mv -f "$tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------------------

# One `up`/`down`/`destroy` per profile at a time (several make targets may race).
lock_profile() {
	exec 9>"$DATA_ROOT/.$PROFILE.lock"
	flock -w 300 9 || die "another services.sh is busy with profile $PROFILE"
}

cmd_up() {
	ensure_packages
	# .data must be traversable by the cluster owner; secrets are protected file by file.
	mkdir -p "$DATA_ROOT" "$PROFILE_DIR"
	chmod 755 "$DATA_ROOT" "$PROFILE_DIR"
	lock_profile
	resolve_pg_paths
	pg_up
	redis_up
	write_env_file
	log "$PROFILE services up: postgres 127.0.0.1:$PG_PORT (db $DB_NAME), redis 127.0.0.1:$REDIS_PORT; env: $ENV_FILE"
}

cmd_down() {
	[[ -d $PROFILE_DIR ]] || { log "$PROFILE: nothing set up"; return 0; }
	lock_profile
	if [[ -n $PGDATA_DIR && -x $PG_BIN/pg_ctl ]]; then pg_down; fi
	redis_down
}

cmd_destroy() {
	cmd_down
	[[ -d $PROFILE_DIR ]] || return 0
	if [[ -L $PG_LINK ]]; then
		log "removing $FALLBACK_BASE"
		rm -rf "${FALLBACK_BASE:?}"
	fi
	log "removing $PROFILE_DIR and $ENV_FILE"
	rm -rf "${PROFILE_DIR:?}" "$ENV_FILE" "$DATA_ROOT/.$PROFILE.lock"
}

cmd_status() {
	local pid rc=0 port
	echo "profile $PROFILE ($PROFILE_DIR)"
	if pid=$(pg_running_pid); then
		port=$(sed -n 4p "$PGDATA_DIR/postmaster.pid")
		if pg_ready "$port"; then
			echo "  postgres  running  pid $pid  127.0.0.1:$port  db $DB_NAME  data $PGDATA_DIR"
		else
			echo "  postgres  NOT READY  pid $pid  127.0.0.1:$port  (log: $PG_LOG)"
			rc=1
		fi
	else
		echo "  postgres  stopped${PGDATA_DIR:+  data $PGDATA_DIR}"
		rc=1
	fi
	if pid=$(redis_running_pid); then
		port=$(redis_pid_port "$pid")
		if redis_ready "$port"; then
			echo "  redis     running  pid $pid  127.0.0.1:$port"
		else
			echo "  redis     NOT READY  pid $pid  127.0.0.1:$port  (log: $REDIS_LOG)"
			rc=1
		fi
	else
		echo "  redis     stopped"
		rc=1
	fi
	if [[ -f $ENV_FILE ]]; then echo "  env       $ENV_FILE"; else echo "  env       (not written yet)"; fi
	return "$rc"
}

cmd_env() {
	echo "$ENV_FILE"
	[[ -f $ENV_FILE ]] || { log "$ENV_FILE does not exist yet; run '$0 up $PROFILE'"; return 1; }
}

main() {
	[[ $# -eq 2 ]] || usage
	local cmd=$1
	load_profile "$2"
	case $cmd in
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	env) cmd_env ;;
	destroy) cmd_destroy ;;
	*) usage ;;
	esac
}

main "$@"
