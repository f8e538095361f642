#!/usr/bin/env bash
# Runs a command with stack.env (and .env.local, if present) exported, so every tool sees the same
# ports and credentials as the stack scripts.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
set -a
[ -f "$ROOT/.env.local" ] && . "$ROOT/.env.local"
. "$ROOT/stack.env"
set +a
case "$BI_STACK_DIR" in /*) ;; *) BI_STACK_DIR="$ROOT/$BI_STACK_DIR" ;; esac
export BI_STACK_DIR
exec "$@"
