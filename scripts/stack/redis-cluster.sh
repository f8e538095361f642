# A 3-master Redis Cluster from Debian's redis-server (cluster mode), on its own ports, for
# `make test-redis-cluster`: nodes on BI_REDIS_CLUSTER_PORT .. +2 (default BI_REDIS_PORT + 20),
# cluster bus on those + 10, data and nodes.conf under $BI_STACK_DIR/data/redis-cluster/<port>.
# No replicas: the test is about slots and masters, not failover. Not part of a plain `up`;
# `scripts/stack.sh up redis-cluster` starts it. Sourced by scripts/stack.sh.

_rc_ports() { local i; for i in 0 1 2; do echo $((BI_REDIS_CLUSTER_PORT + i)); done; }
_rc_pidfile() { echo "$BI_STACK_DIR/run/redis-cluster-$1.pid"; }

redis-cluster_install() { redis_install; command -v redis-cli >/dev/null || die "redis-cli not found"; }

_rc_state() { redis-cli -h "$BI_REDIS_HOST" -p "$BI_REDIS_CLUSTER_PORT" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p'; }

redis-cluster_start() {
  local port dir nodes=()
  for port in $(_rc_ports); do
    nodes+=("$BI_REDIS_HOST:$port")
    if pid_alive "$(_rc_pidfile "$port")" && port_open "$BI_REDIS_HOST" "$port"; then continue; fi
    dir="$BI_STACK_DIR/data/redis-cluster/$port"
    mkdir -p "$dir"
    log "starting redis cluster node on $BI_REDIS_HOST:$port (bus $((port + 10)))"
    redis-server --bind "$BI_REDIS_HOST" --port "$port" --cluster-enabled yes --cluster-port $((port + 10)) \
      --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 5000 --daemonize yes \
      --pidfile "$(_rc_pidfile "$port")" --dir "$dir" --logfile "$BI_STACK_DIR/run/redis-cluster-$port.log" \
      --appendonly no --save "" --protected-mode yes >/dev/null
    wait_for_port "$BI_REDIS_HOST" "$port" 20 \
      || { tail -20 "$BI_STACK_DIR/run/redis-cluster-$port.log" >&2; die "redis cluster node $port did not start"; }
  done
  # Nodes restarted from their nodes.conf find each other again; only fresh nodes need `create`.
  if [ "$(redis-cli -h "$BI_REDIS_HOST" -p "$BI_REDIS_CLUSTER_PORT" cluster info | tr -d '\r' | sed -n 's/^cluster_slots_assigned://p')" = 0 ]; then
    log "creating the redis cluster: ${nodes[*]}"
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$BI_STACK_DIR/run/redis-cluster-create.log" 2>&1 \
      || { tail -20 "$BI_STACK_DIR/run/redis-cluster-create.log" >&2; die "redis-cli --cluster create failed"; }
  fi
  local i
  for ((i = 0; i < 120; i++)); do
    [ "$(_rc_state)" = ok ] && { log "redis cluster ready: ${nodes[*]}"; return 0; }
    sleep 0.25
  done
  die "redis cluster on ${nodes[*]} is not ok: $(_rc_state)"
}

redis-cluster_stop() {
  local port
  for port in $(_rc_ports); do stop_pidfile "redis cluster node $port" "$(_rc_pidfile "$port")"; done
}

redis-cluster_status() {
  local port rc=0
  for port in $(_rc_ports); do
    if pid_alive "$(_rc_pidfile "$port")"; then
      printf '%-9s running  %s:%s  pid %s\n' rcluster "$BI_REDIS_HOST" "$port" "$(cat "$(_rc_pidfile "$port")")"
    else
      printf '%-9s stopped  %s:%s\n' rcluster "$BI_REDIS_HOST" "$port"; rc=1
    fi
  done
  return $rc
}
