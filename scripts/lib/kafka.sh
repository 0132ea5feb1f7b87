# Local single-node Kafka (KRaft) for development. Sourced after common.sh, never run.
# Jars come from Maven Central via provision/kafka/pom.xml (no tarball mirror needed);
# the broker's state lives in $MLOOP_DATA/kafka. Ports: KAFKA_PORT (9092) and
# KAFKA_CONTROLLER_PORT (9093), both on 127.0.0.1.

KAFKA_PROVISION="$MLOOP_ROOT/provision/kafka"

kafka_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_PROVISION/pom.xml"
}

kafka_libs() { echo "$MLOOP_CACHE/kafka/$(kafka_version)/libs"; }

# The marker holds the pom's checksum, so editing the pom (new dependency) refetches.
kafka_install() {
  local dir libs marker sum
  dir="$MLOOP_CACHE/kafka/$(kafka_version)"
  libs="$dir/libs"
  marker="$dir/.installed"
  sum=$(sha256sum "$KAFKA_PROVISION/pom.xml" | cut -d' ' -f1)
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$sum" ]; then return 0; fi

  need_cmd java "Kafka needs a Java 17+ runtime (apt-get install openjdk-17-jre-headless)"
  need_cmd mvn "Kafka's jars are fetched with Maven (apt-get install maven)"
  local jv
  jv=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  [ "${jv%%.*}" -ge 17 ] 2>/dev/null || die "Kafka $(kafka_version) needs Java 17+, found java ${jv:-unknown}"

  log "fetching Kafka $(kafka_version) jars from Maven Central (first run only)"
  mkdir -p "$dir"
  rm -rf "$libs.tmp"
  # Own local repo under the cache: independent of whatever ~/.m2 holds.
  if ! mvn -B -q -f "$KAFKA_PROVISION/pom.xml" -Dmaven.repo.local="$MLOOP_CACHE/m2" \
    dependency:copy-dependencies -DoutputDirectory="$libs.tmp" >"$dir/install.log" 2>&1; then
    tail -n 30 "$dir/install.log" >&2
    die "fetching Kafka jars failed (full log: $dir/install.log)"
  fi
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  echo "$sum" >"$marker"
  log "Kafka $(kafka_version) installed in $libs"
}

# Only the three known variables are substituted; anything else in the template stays literal.
kafka_render_config() {
  local out=$1
  sed -e "s|\${KAFKA_PORT}|${KAFKA_PORT:-9092}|g" \
    -e "s|\${KAFKA_CONTROLLER_PORT}|${KAFKA_CONTROLLER_PORT:-9093}|g" \
    -e "s|\${MLOOP_DATA}|$MLOOP_DATA|g" \
    "$KAFKA_PROVISION/server.properties.template" >"$out"
}

# Sets KAFKA_JAVA to the java command line (an array: start_bg needs a real program,
# not a shell function). Small heap: this is a 2-core dev box, not a cluster.
kafka_java_cmd() {
  KAFKA_JAVA=(java -Xms256m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$KAFKA_PROVISION/log4j2.properties" -cp "$(kafka_libs)/*")
}

kafka_start() {
  local port=${KAFKA_PORT:-9092} cport=${KAFKA_CONTROLLER_PORT:-9093}
  local home="$MLOOP_DATA/kafka" logfile="$MLOOP_DATA/logs/kafka.log" props t0
  props="$home/server.properties"
  if is_running kafka; then
    log "kafka is already running (pid $(cat "$(pidfile_of kafka)"), 127.0.0.1:$port)"
    return 0
  fi
  kafka_install
  kafka_java_cmd
  port_in_use "$port" && die "port $port is taken by another process; set KAFKA_PORT or stop it"
  port_in_use "$cport" && die "port $cport is taken by another process; set KAFKA_CONTROLLER_PORT or stop it"

  mkdir -p "$home/data" "$MLOOP_DATA/logs"
  kafka_render_config "$props"
  # Format once; reformatting would wipe the cluster id and all topics.
  if [ ! -f "$home/data/meta.properties" ]; then
    local cid
    # Last line only: log4j also writes to stdout.
    cid=$("${KAFKA_JAVA[@]}" kafka.tools.StorageTool random-uuid 2>>"$logfile" | tail -n 1) || true
    [[ "$cid" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka random-uuid failed (got '$cid'; see $logfile)"
    log "formatting Kafka storage (cluster id $cid)"
    # --standalone records this node's controller endpoint in the metadata log.
    "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format --standalone -t "$cid" -c "$props" >>"$logfile" 2>&1 ||
      die "kafka storage format failed (see $logfile)"
  fi

  log "starting kafka on 127.0.0.1:$port (log: $logfile)"
  t0=$SECONDS
  start_bg kafka "$logfile" "${KAFKA_JAVA[@]}" kafka.Kafka "$props"
  if ! wait_for_port kafka "$port" 90 "$logfile" "$(pidfile_of kafka)"; then
    stop_bg kafka 10
    die "kafka failed to start (log: $logfile)"
  fi
  log "kafka is up on 127.0.0.1:$port after $((SECONDS - t0))s"
}

kafka_ready() {
  is_running kafka && port_in_use "${KAFKA_PORT:-9092}"
}

# Controlled shutdown (leader moves, log flush) takes a while; don't KILL it early.
kafka_stop() {
  stop_bg kafka 40
}

kafka_status() {
  if is_running kafka; then
    printf '%-10s %-8s pid %s  127.0.0.1:%s\n' kafka running "$(cat "$(pidfile_of kafka)")" "${KAFKA_PORT:-9092}"
  else
    printf '%-10s %s\n' kafka stopped
  fi
}
