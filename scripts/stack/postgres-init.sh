#!/usr/bin/env bash
# docker-compose: the official postgres image runs this once, on an empty data directory, after it
# created $POSTGRES_DB owned by $POSTGRES_USER (the admin role). Same grants as the native stack.
set -euo pipefail
for db in "$POSTGRES_DB" "${POSTGRES_DB}_test"; do
  psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
    || psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres -c "CREATE DATABASE \"$db\""
  psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$db" -v db="$db" \
    -v admin_user="$POSTGRES_USER" -v admin_password="$POSTGRES_PASSWORD" \
    -v worker_user="$BI_PG_WORKER_USER" -v worker_password="$BI_PG_WORKER_PASSWORD" \
    -f /bootstrap.sql
done
