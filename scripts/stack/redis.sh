# Redis from Debian's packages, run privately on $BI_REDIS_PORT with data under $BI_STACK_DIR.
# Sourced by scripts/stack.sh.

_redis_pidfile() { echo "$BI_STACK_DIR/run/redis.pid"; }

redis_install() {
  command -v redis-server >/dev/null || apt_install redis-server
  command -v redis-server >/dev/null || die "redis-server not found after install"
}

redis_start() {
  if pid_alive "$(_redis_pidfile)" && port_open "$BI_REDIS_HOST" "$BI_REDIS_PORT"; then
    log "redis already running on $BI_REDIS_HOST:$BI_REDIS_PORT"; return 0
  fi
  mkdir -p "$BI_STACK_DIR/data/redis"
  log "starting redis on $BI_REDIS_HOST:$BI_REDIS_PORT"
  # appendonly gives Redis a durable copy of continuity state, though the design never depends on
  # it: losing Redis is recovered from PostgreSQL.
  local listen=(--port "$BI_REDIS_PORT")
  if secure_on; then mapfile -t listen < <(secure_redis_args); fi
  redis-server --bind "$BI_REDIS_HOST" "${listen[@]}" --daemonize yes \
    --pidfile "$(_redis_pidfile)" --dir "$BI_STACK_DIR/data/redis" \
    --logfile "$BI_STACK_DIR/run/redis.log" --appendonly yes --save "" \
    --protected-mode yes >/dev/null
  wait_for_port "$BI_REDIS_HOST" "$BI_REDIS_PORT" 20 || { tail -20 "$BI_STACK_DIR/run/redis.log" >&2; die "redis did not start"; }
}

redis_stop() { stop_pidfile redis "$(_redis_pidfile)"; }

redis_status() {
  if pid_alive "$(_redis_pidfile)"; then
    printf '%-9s running  %s:%s  pid %s\n' redis "$BI_REDIS_HOST" "$BI_REDIS_PORT" "$(cat "$(_redis_pidfile)")"
  else
    printf '%-9s stopped  %s:%s\n' redis "$BI_REDIS_HOST" "$BI_REDIS_PORT"; return 1
  fi
}
