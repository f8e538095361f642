# Sourced by scripts/stack.sh: the process and port helpers every service file
# (scripts/stack/<service>.sh) uses, so none of them keeps a copy of its own.

log() { printf '[stack] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# port_open HOST PORT: true when a TCP connect succeeds within 1 s (a hung listener does not hang us).
port_open() { timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# wait_for_port HOST PORT SECONDS: true once a TCP connect succeeds.
wait_for_port() {
  local host=$1 port=$2 secs=$3 i
  for ((i = 0; i < secs * 4; i++)); do
    port_open "$host" "$port" && return 0
    sleep 0.25
  done
  return 1
}

# pid_alive FILE: true when FILE names a live process.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# live_pid FILE PATTERN: prints the pid FILE names when that process is alive and its command line
# matches the glob PATTERN (a stale file, or a pid reused by another process after a reboot, is not ours).
live_pid() {
  local pid cmd
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
    # shellcheck disable=SC2053 # PATTERN is a glob on purpose
    [[ "$cmd" == *$2* ]] || return 1
  fi
  printf '%s\n' "$pid"
}

# stop_pid NAME PID: SIGTERM, wait up to 30 s, then SIGKILL and wait for it to go.
stop_pid() {
  local name=$1 pid=$2 i
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 120; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  log "$name did not stop in 30 s, killing"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
}

# stop_pidfile NAME FILE: stop_pid for the process FILE names, if alive; FILE is removed.
stop_pidfile() {
  if pid_alive "$2"; then stop_pid "$1" "$(cat "$2")"; fi
  rm -f "$2"
}
