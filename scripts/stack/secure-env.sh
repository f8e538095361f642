# shellcheck shell=bash
# The secured stack's settings (BI_SECURE=1): a second set of the four services, on the plain
# ports + 10 (or BI_SECURE_*_PORT) with its data under $BI_STACK_DIR/secure, so the plain stack
# stays the default and both can run at once. Sourced by scripts/stack/env.sh with `set -a`, after
# stack.env; the plain values are kept in BI_PLAIN_* so sourcing twice (a script that runs another
# through with-env.sh) gives the same values.
BI_PLAIN_STACK_DIR=${BI_PLAIN_STACK_DIR:-$BI_STACK_DIR}
BI_PLAIN_PG_PORT=${BI_PLAIN_PG_PORT:-$BI_PG_PORT}
BI_PLAIN_REDIS_PORT=${BI_PLAIN_REDIS_PORT:-$BI_REDIS_PORT}
BI_PLAIN_KAFKA_PORT=${BI_PLAIN_KAFKA_PORT:-$BI_KAFKA_PORT}
BI_PLAIN_KAFKA_CONTROLLER_PORT=${BI_PLAIN_KAFKA_CONTROLLER_PORT:-$BI_KAFKA_CONTROLLER_PORT}
BI_PLAIN_REGISTRY_PORT=${BI_PLAIN_REGISTRY_PORT:-$BI_REGISTRY_PORT}

BI_STACK_DIR=$BI_PLAIN_STACK_DIR/secure
BI_PG_PORT=${BI_SECURE_PG_PORT:-$((BI_PLAIN_PG_PORT + 10))}
BI_REDIS_PORT=${BI_SECURE_REDIS_PORT:-$((BI_PLAIN_REDIS_PORT + 10))}
BI_KAFKA_PORT=${BI_SECURE_KAFKA_PORT:-$((BI_PLAIN_KAFKA_PORT + 10))}
BI_KAFKA_CONTROLLER_PORT=${BI_SECURE_KAFKA_CONTROLLER_PORT:-$((BI_PLAIN_KAFKA_CONTROLLER_PORT + 10))}
BI_REGISTRY_PORT=${BI_SECURE_REGISTRY_PORT:-$((BI_PLAIN_REGISTRY_PORT + 10))}

# Throwaway CA and server certificate (for 127.0.0.1 and localhost) and generated passwords, made
# by scripts/stack/secure.sh on the first `BI_SECURE=1 make up`.
BI_SECURE_TLS_DIR=$BI_STACK_DIR/tls
BI_SECURE_SECRETS_DIR=$BI_STACK_DIR/secrets

# PostgreSQL: hostssl + scram-sha-256 only, verified against the CA and the host name.
BI_PG_SSLMODE=verify-full
BI_PG_CA_FILE=$BI_SECURE_TLS_DIR/ca.crt
unset BI_PG_ADMIN_PASSWORD BI_PG_WORKER_PASSWORD
BI_PG_ADMIN_PASSWORD_FILE=$BI_SECURE_SECRETS_DIR/pg-admin
BI_PG_WORKER_PASSWORD_FILE=$BI_SECURE_SECRETS_DIR/pg-worker

# Redis: TLS only, the default user disabled, an ACL user for the workers.
BI_REDIS_TLS=true
BI_REDIS_CA_FILE=$BI_SECURE_TLS_DIR/ca.crt
BI_REDIS_USERNAME=bi-worker
BI_REDIS_PASSWORD_FILE=$BI_SECURE_SECRETS_DIR/redis-worker

# Kafka: one SASL_SSL listener, SCRAM-SHA-512 users made at format time.
BI_KAFKA_SECURITY_PROTOCOL=SASL_SSL
BI_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
BI_KAFKA_SASL_USERNAME=bi-worker
BI_KAFKA_SASL_PASSWORD_FILE=$BI_SECURE_SECRETS_DIR/kafka-worker
BI_KAFKA_CA_FILE=$BI_SECURE_TLS_DIR/ca.crt

# Registry: https only (Apicurio 3.0.9 has no basic auth of its own; see README).
BI_REGISTRY_URL=https://$BI_REGISTRY_HOST:$BI_REGISTRY_PORT/apis/ccompat/v7
BI_REGISTRY_CA_FILE=$BI_SECURE_TLS_DIR/ca.crt
