# PostgreSQL from Debian's packages, run as a private cluster under $BI_STACK_DIR/data/pg.
# Sourced by scripts/stack.sh (log, die, wait_for_port, pid_alive from scripts/stack/lib.sh; apt_install).

_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return 0; }; done
  return 1
}
_pg_data() { echo "$BI_STACK_DIR/data/pg"; }
_pg_sock() { echo "$BI_STACK_DIR/run/pg"; }
_pg_log() { echo "$BI_STACK_DIR/run/postgres.log"; }

# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` system user
# that the Debian package creates.
_pg_as() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

_pg_psql() { # superuser psql over the private unix socket
  "$(_pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$(_pg_sock)" -p "$BI_PG_PORT" -U postgres "$@"
}

postgres_install() {
  _pg_bin >/dev/null || apt_install postgresql postgresql-contrib
  _pg_bin >/dev/null || die "PostgreSQL binaries not found after install"
}

postgres_running() { _pg_as "$(_pg_bin)/pg_ctl" -D "$(_pg_data)" status >/dev/null 2>&1; }

postgres_start() {
  local bin data sock
  bin=$(_pg_bin); data=$(_pg_data); sock=$(_pg_sock)
  mkdir -p "$sock"
  [ "$(id -u)" -eq 0 ] && chown postgres "$sock" "$BI_STACK_DIR/run"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $data"
    mkdir -p "$data"
    [ "$(id -u)" -eq 0 ] && chown postgres "$data"
    _pg_as "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$BI_STACK_DIR/run/initdb.log" 2>&1 \
      || { cat "$BI_STACK_DIR/run/initdb.log" >&2; die "initdb failed"; }
  fi
  if postgres_running; then
    log "postgres already running on $BI_PG_HOST:$BI_PG_PORT"
  else
    log "starting postgres on $BI_PG_HOST:$BI_PG_PORT"
    touch "$(_pg_log)"; [ "$(id -u)" -eq 0 ] && chown postgres "$(_pg_log)"
    local secure_opts=""
    if secure_on; then secure_opts=$(secure_pg_options "$BI_SECURE_TLS_DIR" "$data"); fi
    # fsync stays on: the crash tests rely on committed rows being durable.
    _pg_as "$bin/pg_ctl" -D "$data" -l "$(_pg_log)" -w -t 60 start -o \
      "-c listen_addresses=$BI_PG_HOST -p $BI_PG_PORT -k $sock -c max_connections=200 -c shared_buffers=256MB -c synchronous_commit=on $secure_opts" \
      >/dev/null || { tail -20 "$(_pg_log)" >&2; die "postgres did not start"; }
  fi
  _pg_bootstrap
}

# Databases (the demo's and the suite's), each with the roles and grants of bootstrap.sql.
_pg_bootstrap() {
  local db
  for db in "$BI_PG_DATABASE" "${BI_PG_DATABASE}_test"; do
    if [ -z "$(_pg_psql -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
      log "creating database $db"
      _pg_psql -d postgres -c "CREATE DATABASE \"$db\""
    fi
    _pg_psql -d "$db" -v db="$db" -v admin_user="$BI_PG_ADMIN_USER" -v admin_password="$(stack_secret BI_PG_ADMIN_PASSWORD)" \
      -v worker_user="$BI_PG_WORKER_USER" -v worker_password="$(stack_secret BI_PG_WORKER_PASSWORD)" \
      -f "$ROOT/scripts/stack/bootstrap.sql" >/dev/null
  done
}

postgres_stop() {
  local bin
  bin=$(_pg_bin) || return 0
  [ -f "$(_pg_data)/PG_VERSION" ] || return 0
  if postgres_running; then
    log "stopping postgres"
    _pg_as "$bin/pg_ctl" -D "$(_pg_data)" -m fast -w -t 60 stop >/dev/null
  fi
}

postgres_status() {
  if _pg_bin >/dev/null && [ -f "$(_pg_data)/PG_VERSION" ] && postgres_running; then
    printf '%-9s running  %s:%s  db %s\n' postgres "$BI_PG_HOST" "$BI_PG_PORT" "$BI_PG_DATABASE"
  else
    printf '%-9s stopped  %s:%s\n' postgres "$BI_PG_HOST" "$BI_PG_PORT"; return 1
  fi
}
