#!/usr/bin/env bash
# Runs a command with stack.env (and .env.local, if present) exported, so every tool sees the same
# ports and credentials as the stack scripts.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/stack/env.sh"
exec "$@"
