# Exports stack.env (after .env.local, so local overrides win) with BI_STACK_DIR made absolute.
# Sourced by scripts/stack.sh and scripts/with-env.sh, which set ROOT first.
set -a
# shellcheck source=/dev/null
[ -f "$ROOT/.env.local" ] && . "$ROOT/.env.local"
# shellcheck source=../../stack.env
. "$ROOT/stack.env"
case "$BI_STACK_DIR" in /*) ;; *) BI_STACK_DIR="$ROOT/$BI_STACK_DIR" ;; esac
# BI_SECURE=1: the secured stack (TLS, SASL, passwords from files) on its own ports and data dir.
# shellcheck source=secure-env.sh
[ "${BI_SECURE:-0}" = 1 ] && . "$ROOT/scripts/stack/secure-env.sh"
set +a
export BI_STACK_DIR
