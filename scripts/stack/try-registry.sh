#!/usr/bin/env bash
# Standalone harness for scripts/stack/registry.sh (the stack driver normally sources it).
#   scripts/stack/try-registry.sh install|start|status|stop|restart|url
set -euo pipefail

ROOT=/work/main
BI_STACK_DIR=/work/main/.stack
export ROOT BI_STACK_DIR
set -a
# shellcheck source=../../stack.env
. "$ROOT/stack.env"
set +a

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# shellcheck source=registry.sh
. "$ROOT/scripts/stack/registry.sh"

case "${1:-status}" in
  install) registry_install ;;
  start) registry_start ;;
  stop) registry_stop ;;
  restart) registry_stop && registry_start ;;
  status) registry_status ;;
  url) registry_url ;;
  *) echo "usage: $0 install|start|status|stop|restart|url" >&2; exit 2 ;;
esac
