# Exports stack.env (after .env.local, so local overrides win) with BI_STACK_DIR made absolute.
# Sourced by scripts/stack.sh and scripts/with-env.sh, which set ROOT first.
set -a
# shellcheck source=/dev/null
[ -f "$ROOT/.env.local" ] && . "$ROOT/.env.local"
# shellcheck source=../../stack.env
. "$ROOT/stack.env"
set +a
case "$BI_STACK_DIR" in /*) ;; *) BI_STACK_DIR="$ROOT/$BI_STACK_DIR" ;; esac
export BI_STACK_DIR
