#!/usr/bin/env bash
# The local bar-ingest stack, natively, on loopback: PostgreSQL and Redis from Debian packages,
# Apache Kafka (KRaft) from its release jars on Maven Central, and a Confluent-compatible schema
# registry. Usage: scripts/stack.sh up|down|status|install [service...]
# Idempotent: `up` installs only what is missing and starts only what is not running.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
. "$ROOT/scripts/stack/env.sh"
# The secured stack (BI_SECURE=1) shares the plain stack's downloads.
if [ "${BI_SECURE:-0}" = 1 ] && [ ! -e "$BI_STACK_DIR/cache" ]; then
  mkdir -p "$BI_STACK_DIR" "$BI_PLAIN_STACK_DIR/cache"
  ln -s "$BI_PLAIN_STACK_DIR/cache" "$BI_STACK_DIR/cache"
fi
mkdir -p "$BI_STACK_DIR/cache" "$BI_STACK_DIR/data" "$BI_STACK_DIR/run"

. "$ROOT/scripts/stack/lib.sh"

# apt_install PKG...: installs Debian packages that are missing (root, or sudo when available).
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  command -v apt-get >/dev/null || die "apt-get not found: install $* yourself, or use docker-compose.yml"
  log "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y -q --no-install-recommends "$@" >"$BI_STACK_DIR/run/apt.log" 2>&1; then
    $sudo apt-get update -q >>"$BI_STACK_DIR/run/apt.log" 2>&1
    $sudo apt-get install -y -q --no-install-recommends "$@" >>"$BI_STACK_DIR/run/apt.log" 2>&1 \
      || { tail -20 "$BI_STACK_DIR/run/apt.log" >&2; die "apt-get install $* failed"; }
  fi
}

# stack_secret NAME: the value of NAME, or the content of the file NAME_FILE names (as the workers read it).
stack_secret() {
  local file_var="${1}_FILE"
  if [ -n "${!file_var:-}" ]; then cat "${!file_var}"; else printf '%s' "${!1:-}"; fi
}

# BI_SECURE=1 (scripts/stack/secure-env.sh): the secured stack's certificates, passwords and options.
secure_on() { [ "${BI_SECURE:-0}" = 1 ]; }
. "$ROOT/scripts/stack/secure.sh"

. "$ROOT/scripts/stack/postgres.sh"
. "$ROOT/scripts/stack/redis.sh"
. "$ROOT/scripts/stack/redis-cluster.sh"
. "$ROOT/scripts/stack/kafka.sh"
. "$ROOT/scripts/stack/registry.sh"
. "$ROOT/scripts/stack/chromium.sh"
. "$ROOT/scripts/stack/connect.sh"

ALL_SERVICES=(postgres redis kafka registry)
# Named only explicitly (`scripts/stack.sh install chromium`): not part of a plain up/down/status.
EXTRA_SERVICES=(chromium connect redis-cluster)
cmd=${1:-status}
shift || true
# Optional service names after the command restrict it: `scripts/stack.sh up postgres redis`.
if [ $# -gt 0 ]; then SERVICES=("$@"); else SERVICES=("${ALL_SERVICES[@]}"); fi
for s in "${SERVICES[@]}"; do
  [[ " ${ALL_SERVICES[*]} ${EXTRA_SERVICES[*]} " == *" $s "* ]] \
    || die "unknown service '$s' (one of: ${ALL_SERVICES[*]} ${EXTRA_SERVICES[*]})"
done
case "$cmd" in
  install)
    for s in "${SERVICES[@]}"; do "${s}_install"; done
    ;;
  up)
    for s in "${SERVICES[@]}"; do "${s}_install"; done
    if secure_on; then secure_material; fi
    # Kafka and the registry are slow JVM starts; PostgreSQL and Redis are quick, so start those first.
    for s in "${SERVICES[@]}"; do "${s}_start"; done
    if secure_on && [[ " ${SERVICES[*]} " == *" kafka "* ]]; then secure_kafka_acls; fi
    ;;
  down)
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do "${SERVICES[i]}_stop"; done
    ;;
  status)
    rc=0
    for s in "${SERVICES[@]}"; do "${s}_status" || rc=1; done
    exit $rc
    ;;
  *)
    echo "usage: scripts/stack.sh up|down|status|install [service...]" >&2
    exit 2
    ;;
esac
