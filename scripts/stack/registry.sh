# Confluent-compatible schema registry: Apicurio Registry 3.0.9 from Maven Central, run natively on
# the machine's Java 17. Sourced (after stack.env is exported) by the stack driver
# (scripts/stack.sh), whose log and stop_pid it uses.
#
# Why Apicurio and not Karapace: Karapace is not published on PyPI (`pip download karapace` finds
# no versions; the index has no page for it), so the fallback from the project rule applies.
#
# Why 3.0.9: Maven Central publishes, next to the plain app jar, an assembled Quarkus "legacy-jar"
# distribution, io.apicurio:apicurio-registry-app:<v>:tar.gz:all, containing the runner jar plus
# lib/ (everything on the runner's manifest Class-Path), so `java -jar` is all it takes - no Maven
# build or Quarkus augmentation needed. 3.0.9 is the newest release compiled for Java 17
# (class files major 61); 3.3.x is compiled for Java 21 and does not start on this JDK.
#
# Storage: Apicurio's SQL storage on an embedded H2 *file* database under
# $BI_STACK_DIR/data/registry, so schemas and their ids survive restarts (Kafka keeps messages
# that carry the ids). WRITE_DELAY=0 makes H2 write every commit to disk at once, so a
# registration that has been acknowledged survives even a SIGKILL.
#
# Clients must use $(registry_url), i.e. http://HOST:PORT/apis/ccompat/v7 - the Confluent API is
# not at the server root. Ids handed out there are Apicurio *content ids* (the Confluent
# semantics: the same schema gets the same id in every subject), not global ids; with
# apicurio.ccompat.use-canonical-hash=true a schema that differs only in whitespace or JSON key
# order is recognised as already registered (same id, no new version), as Confluent does.
# Rejected registrations still consume an id, so ids can have gaps.
#
# Compatibility: apicurio.rules.global.compatibility makes BACKWARD the enforced default for every
# subject, but the ccompat API does not show it: GET /config answers NONE, and
# GET /config/<subject> answers 200 {"compatibilityLevel":"NONE"} (Confluent: 404) for a subject
# without its own level. @kafkajs/confluent-schema-registry's register() checks that level and
# throws ConfluentSchemaRegistryCompatibilityError (BACKWARD != NONE) for a subject that something
# else created; subjects it creates itself get PUT /config/<subject> BACKWARD automatically.

BI_REGISTRY_VERSION=${BI_REGISTRY_VERSION:-3.0.9}
# Default compatibility level for subjects without their own (Confluent's default is BACKWARD).
BI_REGISTRY_COMPATIBILITY=${BI_REGISTRY_COMPATIBILITY:-BACKWARD}

# sha256 of apicurio-registry-app-<v>-all.tar.gz, pinned for the default version; Maven itself
# checks the repository's checksums for any version (-C, strict).
_REGISTRY_SHA256_3_0_9=2b28181501a20cbf6efcd77f9b7153908fc01f3d3a7c32024c0bd9e1b04c8a43

_registry_home() { echo "$BI_STACK_DIR/cache/apicurio-registry-$BI_REGISTRY_VERSION"; }
_registry_jar() { echo "$(_registry_home)/apicurio-registry-app-$BI_REGISTRY_VERSION-runner.jar"; }
_registry_data() { echo "$BI_STACK_DIR/data/registry"; }
_registry_pidfile() { echo "$BI_STACK_DIR/run/registry.pid"; }
_registry_logfile() { echo "$BI_STACK_DIR/run/registry.log"; }
_registry_err() { echo "registry: $*" >&2; }

registry_url() {
  local scheme=http
  if secure_on; then scheme=https; fi
  echo "$scheme://$BI_REGISTRY_HOST:$BI_REGISTRY_PORT/apis/ccompat/v7"
}

_registry_java() {
  local java=java
  [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && java="$JAVA_HOME/bin/java"
  command -v "$java" >/dev/null 2>&1 || { _registry_err "java not found (need Java 17+)"; return 1; }
  echo "$java"
}

_registry_java_major() { # 17.0.15 -> 17, 1.8.0_x -> 1
  "$1" -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print v[1]; exit }'
}

# The pid of our registry (scripts/stack/lib.sh live_pid: alive, and running the registry's jar).
_registry_pid() { live_pid "$(_registry_pidfile)" 'apicurio-registry-app-*-runner.jar'; }

_registry_http_code() { # GET url -> HTTP status (000 when nothing answers)
  local ca=()
  if secure_on; then ca=(--cacert "$BI_SECURE_TLS_DIR/ca.crt"); fi
  curl -s "${ca[@]}" -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time 5 "$1" 2>/dev/null || true
}

registry_install() {
  local home jar m2 tarball tmp want got
  home=$(_registry_home); jar=$(_registry_jar)
  [ -f "$home/.installed" ] && [ -f "$jar" ] && return 0

  m2="$BI_STACK_DIR/cache/m2"
  tarball="$m2/io/apicurio/apicurio-registry-app/$BI_REGISTRY_VERSION/apicurio-registry-app-$BI_REGISTRY_VERSION-all.tar.gz"
  log "resolving Apicurio Registry $BI_REGISTRY_VERSION from Maven Central"
  if ! mvn -q -B -C -Dmaven.repo.local="$m2" dependency:get -Dtransitive=false \
      "-Dartifact=io.apicurio:apicurio-registry-app:$BI_REGISTRY_VERSION:tar.gz:all" >"$BI_STACK_DIR/run/registry-install.log" 2>&1 \
      || [ ! -f "$tarball" ]; then
    tail -20 "$BI_STACK_DIR/run/registry-install.log" >&2
    _registry_err "could not resolve io.apicurio:apicurio-registry-app:$BI_REGISTRY_VERSION:tar.gz:all"; return 1
  fi
  want=""
  [ "$BI_REGISTRY_VERSION" = 3.0.9 ] && want=$_REGISTRY_SHA256_3_0_9
  got=$(sha256sum "$tarball" | awk '{print $1}')
  if [ -n "$want" ] && [ "$got" != "$want" ]; then
    _registry_err "sha256 mismatch for $tarball (expected '$want', got '$got')"; rm -f "$tarball"; return 1
  fi

  tmp=$(mktemp -d "$BI_STACK_DIR/cache/.registry-install.XXXXXX") || return 1
  if ! tar -xzf "$tarball" -C "$tmp" || [ ! -f "$tmp/$(basename "$jar")" ]; then
    _registry_err "could not unpack $tarball"; rm -rf "$tmp"; return 1
  fi
  rm -rf "$home"
  mv "$tmp" "$home"
  rm -f "$tarball"                # the unpacked tree is the cache; keeping both doubles the disk used
  touch "$home/.installed"
  log "Apicurio Registry $BI_REGISTRY_VERSION installed in $home"
}

# The command line. Everything is a system property, so `ps` shows the whole configuration.
_registry_cmd() {
  local java data tmpdir
  java=$(_registry_java) || return 1
  data=$(_registry_data); tmpdir="$BI_STACK_DIR/run/registry-tmp"
  # shellcheck disable=SC2086  # BI_REGISTRY_HEAP is a list of JVM flags
  printf '%s\0' "$java" ${BI_REGISTRY_HEAP:--Xms128m -Xmx512m} \
    -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    -Dfile.encoding=UTF-8 "-Djava.io.tmpdir=$tmpdir" \
    "-Dquarkus.http.host=$BI_REGISTRY_HOST" "-Dquarkus.http.port=$BI_REGISTRY_PORT" \
    -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2 \
    "-Dapicurio.datasource.url=jdbc:h2:file:$data/registry;WRITE_DELAY=0" \
    -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 \
    -Dapicurio.datasource.jdbc.max-size=10 \
    -Dquarkus.datasource.h2.jdbc.acquisition-timeout=60S \
    "-Dapicurio.rules.global.compatibility=$BI_REGISTRY_COMPATIBILITY" \
    -Dapicurio.ccompat.use-canonical-hash=true \
    -Dapicurio.authn.enabled=false -Dapicurio.auth.role-based-authorization=false \
    -Dquarkus.oidc.tenant-enabled=false \
    "-Dapicurio.import.work-dir=$tmpdir" "-Dapicurio.storage.snapshot.location=$tmpdir" \
    "-Dapicurio.app.name=Apicurio Registry (bar-ingest, H2 file)" \
    "-Dquarkus.log.console.format=%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [%c{3.}] (%t) %s%e%n"
  if secure_on; then secure_registry_args; fi
  printf '%s\0' -jar "$(_registry_jar)"
}

registry_start() {
  local pid data tmpdir logf url i code=000 java major t0
  url=$(registry_url)
  if pid=$(_registry_pid); then
    log "registry already running (pid $pid) at $url"; return 0
  fi
  registry_install || return 1
  java=$(_registry_java) || return 1
  major=$(_registry_java_major "$java")
  if [ "${major:-0}" -lt 17 ] 2>/dev/null; then
    _registry_err "Apicurio Registry $BI_REGISTRY_VERSION needs Java 17+, $java is '$major'"; return 1
  fi
  if port_open "$BI_REGISTRY_HOST" "$BI_REGISTRY_PORT"; then
    _registry_err "$BI_REGISTRY_HOST:$BI_REGISTRY_PORT is already in use by another process"; return 1
  fi

  data=$(_registry_data); tmpdir="$BI_STACK_DIR/run/registry-tmp"; logf=$(_registry_logfile)
  mkdir -p "$data" "$tmpdir" "$BI_STACK_DIR/run"
  [ -f "$logf" ] && mv -f "$logf" "$logf.prev"
  log "starting registry (Apicurio $BI_REGISTRY_VERSION, H2 file storage) on $BI_REGISTRY_HOST:$BI_REGISTRY_PORT"
  local -a cmd
  mapfile -d '' cmd < <(_registry_cmd)
  [ "${#cmd[@]}" -gt 0 ] || return 1
  rm -f "$(_registry_pidfile)"
  printf '# %s %s\n' "$(date -u +%FT%TZ)" "${cmd[*]}" >"$logf"
  # setsid detaches from the caller's session; the inner sh records its own pid and then execs
  # java, so the pid file holds the JVM's pid whether or not setsid had to fork.
  (cd "$(_registry_home)" && exec nohup setsid sh -c 'echo $$ >"$0"; exec "$@"' "$(_registry_pidfile)" "${cmd[@]}" \
    </dev/null >>"$logf" 2>&1) &
  for i in $(seq 1 50); do [ -s "$(_registry_pidfile)" ] && break; sleep 0.1; done
  pid=$(cat "$(_registry_pidfile)" 2>/dev/null) || pid=""
  [ -n "$pid" ] || { _registry_err "failed to launch; see $logf"; tail -20 "$logf" >&2; return 1; }

  # A JVM start takes about 10 s on an idle 2-core machine and minutes on a loaded one.
  t0=$SECONDS
  while [ $((SECONDS - t0)) -lt "${BI_REGISTRY_START_TIMEOUT:-300}" ]; do
    code=$(_registry_http_code "$url/subjects")
    [ "$code" = 200 ] && { log "registry up at $url (pid $pid, $((SECONDS - t0)) s)"; return 0; }
    if ! _registry_pid >/dev/null; then
      _registry_err "process exited during startup; last lines of $logf:"
      tail -40 "$logf" >&2; rm -f "$(_registry_pidfile)"; return 1
    fi
    sleep 0.5
  done
  _registry_err "no answer from $url/subjects within ${BI_REGISTRY_START_TIMEOUT:-300} s (last HTTP status $code); last lines of $logf:"
  tail -40 "$logf" >&2
  return 1
}

registry_stop() {
  local pid
  if pid=$(_registry_pid); then stop_pid registry "$pid"; fi
  rm -f "$(_registry_pidfile)"
}

registry_status() {
  local pid
  if pid=$(_registry_pid); then
    printf '%-9s running  %s  pid %s\n' registry "$(registry_url)" "$pid"
  else
    printf '%-9s stopped  %s\n' registry "$(registry_url)"; return 1
  fi
}
