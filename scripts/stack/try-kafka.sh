#!/usr/bin/env bash
# Standalone harness for scripts/stack/kafka.sh (no driver needed).
#   scripts/stack/try-kafka.sh install|start|stop|restart|status|smoke
#   scripts/stack/try-kafka.sh tool MAIN_CLASS [args...]   e.g.
#   scripts/stack/try-kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:59092 --list
# Uses stack.env defaults (override by exporting BI_* first); ROOT is this repo.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export ROOT
export BI_STACK_DIR=${BI_STACK_DIR:-$ROOT/.stack}
set -a
# shellcheck source=/dev/null
. "$ROOT/stack.env"
set +a
case "$BI_STACK_DIR" in /*) ;; *) BI_STACK_DIR="$ROOT/$BI_STACK_DIR" ;; esac
export BI_STACK_DIR

if ! declare -F log >/dev/null; then
  log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*"; }
fi
if ! declare -F wait_for_port >/dev/null; then
  wait_for_port() { # HOST PORT SECONDS
    local host=$1 port=$2 secs=${3:-30} start=$SECONDS
    until timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; do
      (( SECONDS - start >= secs )) && return 1
      sleep 0.25
    done
  }
fi

# shellcheck source=kafka.sh
. "$ROOT/scripts/stack/kafka.sh"

# (Re)create a 12-partition topic, produce one message, consume it back (Kafka's own CLI tools).
smoke() {
  local bs="$BI_KAFKA_HOST:$BI_KAFKA_PORT" topic=${1:-bi-smoke} msg got
  msg="hello-$(date +%s%N)"
  kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" \
    --delete --if-exists --topic "$topic"
  kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" \
    --create --topic "$topic" --partitions 12 --replication-factor 1
  kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --describe --topic "$topic" | head -n 1
  printf 'k1:%s\n' "$msg" | kafka_tool kafka.tools.ConsoleProducer --bootstrap-server "$bs" \
    --topic "$topic" --property parse.key=true --property key.separator=: >/dev/null
  got=$(kafka_tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$bs" \
    --topic "$topic" --group "bi-smoke-cli-$$" --from-beginning --max-messages 1 --timeout-ms 20000 2>/dev/null | grep -F "$msg" || true)
  if [[ "$got" == "$msg" ]]; then log "smoke: OK ($topic: produced and consumed '$msg')"
  else log "smoke: FAILED (did not read back '$msg')"; return 1; fi
}

cmd=${1:-status}; shift || true
case "$cmd" in
  install) kafka_install ;;
  start)   kafka_start ;;
  stop)    kafka_stop ;;
  restart) kafka_stop && kafka_start ;;
  status)  kafka_status ;;
  smoke)   smoke "$@" ;;
  tool)    kafka_tool "$@" ;;
  *) echo "usage: $0 install|start|stop|restart|status|smoke [topic]|tool MAIN_CLASS [args...]" >&2; exit 2 ;;
esac
