# shellcheck shell=bash
# Kafka Connect for the bench's peer (`make bench-peer`): one distributed-mode worker of Apache Kafka
# Connect (the stack's Kafka version) with two plugins, all from Maven Central, on the machine's Java 17.
# Not part of `make up`: `scripts/stack.sh up connect` / `down connect` name it explicitly.
#
# Sourced by the stack driver (scripts/stack.sh), whose log, stop_pid and wait_for_port it uses.
#
# Why these pieces (each one is the first that worked; see README "The peer, reproduced"):
# - Distributed mode with a single worker: standalone mode failed to load the converter class.
# - Debezium's JDBC sink, as its packaged plugin tarball (io.debezium:debezium-connector-jdbc:
#   <v>:tar.gz:plugin): its pom lists a repository outside Maven Central, so resolving it as a
#   dependency fails; the tarball is the plugin directory users install. 3.6.0.Final is served.
# - Apicurio's Connect converter (io.apicurio:apicurio-registry-utils-converter 2.6.13.Final) reads
#   the Confluent wire format the exporters write (as-confluent, 4-byte content ids, registry v2 API);
#   its jackson is left out (scripts/stack/connect-pom.xml).
#
# Layout:
#   $BI_STACK_DIR/cache/connect-<kafka ver>/libs/                  the worker's jars (marker .installed)
#   $BI_STACK_DIR/cache/connect-plugins/debezium-connector-jdbc/   the sink plugin
#   $BI_STACK_DIR/cache/connect-plugins/apicurio-converter/        the converter plugin
#   $BI_STACK_DIR/run/connect.{properties,pid,log}, connect-log4j.properties
# Internal topics: bi-connect-{configs,offsets,status} on the stack's Kafka.

BI_CONNECT_DEBEZIUM_VERSION=${BI_CONNECT_DEBEZIUM_VERSION:-3.6.0.Final}
BI_CONNECT_CONVERTER_VERSION=${BI_CONNECT_CONVERTER_VERSION:-2.6.13.Final}
# sha256 of the pinned Debezium plugin tarball; Maven checks the repository's checksums (-C) for any version.
_CONNECT_DEBEZIUM_SHA256_3_6_0=c23af8d416f0f801ffb0271b1a8fd9b5360ff8d66b0dd650e066bb56ecfddc05

_connect_err() { printf 'connect: %s\n' "$*" >&2; }
_connect_home() { echo "$BI_STACK_DIR/cache/connect-$BI_KAFKA_VERSION"; }
_connect_plugins() { echo "$BI_STACK_DIR/cache/connect-plugins"; }
_connect_pom() { echo "$ROOT/scripts/stack/connect-pom.xml"; }
_connect_pidfile() { echo "$BI_STACK_DIR/run/connect.pid"; }
_connect_logfile() { echo "$BI_STACK_DIR/run/connect.log"; }
_connect_props() { echo "$BI_STACK_DIR/run/connect.properties"; }

connect_url() { echo "http://$BI_CONNECT_HOST:$BI_CONNECT_PORT"; }

# What an install produces depends on these: a changed pom or version re-resolves.
_connect_fingerprint() {
  local sum
  sum=$(sha256sum "$(_connect_pom)" | awk '{print $1}')
  echo "$BI_KAFKA_VERSION $BI_CONNECT_DEBEZIUM_VERSION $BI_CONNECT_CONVERTER_VERSION $sum"
}

# _connect_mvn PROFILE DIR: the profile's runtime jars into DIR (replaced only on success).
_connect_mvn() {
  local profile=$1 dir=$2 tmp="$2.tmp.$$"
  rm -rf "$tmp"
  if ! mvn -q -B -C -Dstyle.color=never -f "$(_connect_pom)" -P "$profile" \
      "-Dmaven.repo.local=$BI_STACK_DIR/cache/m2" "-Dkafka.version=$BI_KAFKA_VERSION" \
      "-Dapicurio.converter.version=$BI_CONNECT_CONVERTER_VERSION" \
      dependency:copy-dependencies "-DoutputDirectory=$tmp" >"$BI_STACK_DIR/run/connect-install.log" 2>&1; then
    tail -20 "$BI_STACK_DIR/run/connect-install.log" >&2
    _connect_err "maven failed to resolve the '$profile' jars"; rm -rf "$tmp"; return 1
  fi
  rm -rf "$dir"; mv "$tmp" "$dir"
}

_connect_debezium() {
  local v=$BI_CONNECT_DEBEZIUM_VERSION m2="$BI_STACK_DIR/cache/m2" tarball want got tmp dest
  dest="$(_connect_plugins)/debezium-connector-jdbc"
  tarball="$m2/io/debezium/debezium-connector-jdbc/$v/debezium-connector-jdbc-$v-plugin.tar.gz"
  if ! mvn -q -B -C -Dmaven.repo.local="$m2" dependency:get -Dtransitive=false \
      "-Dartifact=io.debezium:debezium-connector-jdbc:$v:tar.gz:plugin" >"$BI_STACK_DIR/run/connect-install.log" 2>&1 \
      || [ ! -f "$tarball" ]; then
    tail -20 "$BI_STACK_DIR/run/connect-install.log" >&2
    _connect_err "could not resolve io.debezium:debezium-connector-jdbc:$v:tar.gz:plugin"; return 1
  fi
  want=""
  [ "$v" = 3.6.0.Final ] && want=$_CONNECT_DEBEZIUM_SHA256_3_6_0
  got=$(sha256sum "$tarball" | awk '{print $1}')
  if [ -n "$want" ] && [ "$got" != "$want" ]; then
    _connect_err "sha256 mismatch for $tarball (expected $want, got $got)"; rm -f "$tarball"; return 1
  fi
  tmp=$(mktemp -d "$(_connect_plugins)/.debezium.XXXXXX") || return 1
  if ! tar -xzf "$tarball" -C "$tmp" || [ ! -d "$tmp/debezium-connector-jdbc" ]; then
    _connect_err "could not unpack $tarball"; rm -rf "$tmp"; return 1
  fi
  rm -rf "$dest"; mv "$tmp/debezium-connector-jdbc" "$dest"; rm -rf "$tmp"
  rm -f "$tarball" # the unpacked plugin is the cache
}

connect_install() {
  local home marker
  home=$(_connect_home); marker="$home/.installed"
  [ -f "$marker" ] && [ "$(cat "$marker")" = "$(_connect_fingerprint)" ] && return 0
  command -v mvn >/dev/null 2>&1 || { _connect_err "mvn not found"; return 1; }
  mkdir -p "$home" "$(_connect_plugins)" "$BI_STACK_DIR/run"
  log "connect: resolving Kafka Connect $BI_KAFKA_VERSION, Debezium JDBC sink $BI_CONNECT_DEBEZIUM_VERSION and Apicurio converter $BI_CONNECT_CONVERTER_VERSION from Maven Central"
  _connect_mvn runtime "$home/libs" || return 1
  _connect_mvn converter "$(_connect_plugins)/apicurio-converter" || return 1
  _connect_debezium || return 1
  _connect_fingerprint >"$marker"
  log "connect: installed in $home and $(_connect_plugins)"
}

# pid from the pid file, when alive and really our worker (guards against pid reuse).
_connect_pid() {
  local pid
  pid=$(cat "$(_connect_pidfile)" 2>/dev/null) || return 1
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "ConnectDistributed $(_connect_props)" || return 1
  echo "$pid"
}

_connect_write_config() {
  local run="$BI_STACK_DIR/run"
  cat >"$(_connect_props)" <<EOF
# generated by scripts/stack/connect.sh - one distributed-mode Connect worker for make bench-peer
bootstrap.servers=$BI_KAFKA_HOST:$BI_KAFKA_PORT
group.id=bi-connect
config.storage.topic=bi-connect-configs
offset.storage.topic=bi-connect-offsets
status.storage.topic=bi-connect-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
offset.storage.partitions=1
status.storage.replication.factor=1
status.storage.partitions=1
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
listeners=http://$BI_CONNECT_HOST:$BI_CONNECT_PORT
rest.advertised.host.name=$BI_CONNECT_HOST
rest.advertised.port=$BI_CONNECT_PORT
plugin.path=$(_connect_plugins)
# Sink tasks commit their consumer offsets this often (default 60 s): the bench times the peer by them.
offset.flush.interval.ms=1000
# Connectors may set their own consumer settings (consumer.override.max.poll.records).
connector.client.config.override.policy=All
# Both plugins are found by scanning (neither ships ServiceLoader manifests for this mode).
plugin.discovery=only_scan
EOF
  cat >"$run/connect-log4j.properties" <<EOF
# generated by scripts/stack/connect.sh (reload4j / log4j 1.2 syntax)
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$(_connect_logfile)
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.reflections=ERROR
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.hibernate=WARN
# One line per REST request: the bench polls the connector's status.
log4j.logger.org.apache.kafka.connect.runtime.rest.RestServer=WARN
EOF
}

connect_start() {
  local pid logf java t0 code=000
  if pid=$(_connect_pid); then log "connect: already running (pid $pid) at $(connect_url)"; return 0; fi
  connect_install || return 1
  if port_open "$BI_CONNECT_HOST" "$BI_CONNECT_PORT"; then
    _connect_err "$BI_CONNECT_HOST:$BI_CONNECT_PORT is already in use by another process"; return 1
  fi
  port_open "$BI_KAFKA_HOST" "$BI_KAFKA_PORT" || { _connect_err "Kafka is not running (make up)"; return 1; }
  mkdir -p "$BI_STACK_DIR/run"
  _connect_write_config
  logf=$(_connect_logfile)
  [ -f "$logf" ] && mv -f "$logf" "$logf.prev"
  java=java
  [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && java="$JAVA_HOME/bin/java"
  rm -f "$(_connect_pidfile)"
  log "connect: starting a Kafka Connect $BI_KAFKA_VERSION worker (distributed mode) on $(connect_url)"
  # shellcheck disable=SC2086  # BI_CONNECT_HEAP is a list of JVM flags
  (exec nohup setsid sh -c 'echo $$ >"$0"; exec "$@"' "$(_connect_pidfile)" \
    "$java" ${BI_CONNECT_HEAP:--Xms128m -Xmx512m} -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true "-Dlog4j.configuration=file:$BI_STACK_DIR/run/connect-log4j.properties" \
    -cp "$(_connect_home)/libs/*" org.apache.kafka.connect.cli.ConnectDistributed "$(_connect_props)" \
    </dev/null >"$logf.out" 2>&1) &
  t0=$SECONDS
  while [ $((SECONDS - t0)) -lt "${BI_CONNECT_START_TIMEOUT:-300}" ]; do
    # Ready once the REST API lists the sink (plugins are scanned before the API answers).
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$(connect_url)/connector-plugins" 2>/dev/null || true)
    if [ "$code" = 200 ]; then
      pid=$(_connect_pid) || true
      log "connect: ready at $(connect_url) (pid $pid, $((SECONDS - t0)) s)"; return 0
    fi
    if [ $((SECONDS - t0)) -gt 5 ] && ! _connect_pid >/dev/null; then
      _connect_err "worker exited during startup; last lines of $logf and $logf.out:"
      tail -30 "$logf" "$logf.out" >&2 2>/dev/null; return 1
    fi
    sleep 0.5
  done
  _connect_err "no answer from $(connect_url) within ${BI_CONNECT_START_TIMEOUT:-300} s"; tail -30 "$logf" >&2
  return 1
}

connect_stop() {
  local pid
  if pid=$(_connect_pid); then stop_pid connect "$pid"; fi
  rm -f "$(_connect_pidfile)"
}

connect_status() {
  local pid
  if pid=$(_connect_pid); then
    printf '%-9s running  %s  pid %s\n' connect "$(connect_url)" "$pid"
  else
    printf '%-9s stopped  %s\n' connect "$(connect_url)"; return 1
  fi
}
