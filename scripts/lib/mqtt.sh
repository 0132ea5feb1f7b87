# Local Mosquitto MQTT broker for the pipeline's MQTT source. Sourced after common.sh and
# service-user.sh, never run. Debian's mosquitto, on 127.0.0.1:MQTT_PORT (11883: not 1883,
# which the package's own service may take), anonymous (loopback only), with persistence in
# $MLOOP_DATA/mosquitto so that sessions and queued QoS 1 messages survive a restart.

MQTT_DIR="$MLOOP_DATA/mosquitto"

mqtt_install() {
  [ -x /usr/sbin/mosquitto ] && return 0
  apt_install mosquitto
  [ -x /usr/sbin/mosquitto ] || die "mosquitto installed but /usr/sbin/mosquitto is missing"
}

mqtt_port() { echo "${MQTT_PORT:-11883}"; }
mqtt_url() { echo "mqtt://127.0.0.1:$(mqtt_port)"; }

mqtt_render_config() {
  local user=""
  [ "$(id -u)" = 0 ] && user="user mosquitto"
  # max_queued_messages: the default (1000 per client) silently drops the rest for a client
  # that is away; keep far more. autosave: a crash loses at most 2 s of queued messages.
  cat >"$MQTT_DIR/mosquitto.conf" <<CONF
listener $(mqtt_port) 127.0.0.1
allow_anonymous true
persistence true
persistence_location $MQTT_DIR/data/
autosave_interval 2
max_queued_messages 1000000
log_dest stdout
log_type error
log_type warning
log_type notice
$user
CONF
}

mqtt_start() {
  local port logfile="$MLOOP_DATA/logs/mosquitto.log" t0
  port=$(mqtt_port)
  if is_running mosquitto; then
    log "mosquitto is already running (pid $(cat "$(pidfile_of mosquitto)"), 127.0.0.1:$port)"
    return 0
  fi
  mqtt_install
  port_in_use "$port" && die "port $port is taken by another process; set MQTT_PORT or stop it"
  mkdir -p "$MLOOP_DATA/logs" "$MQTT_DIR"
  give_dir mosquitto "$MQTT_DIR/data"
  mqtt_render_config
  log "starting mosquitto on 127.0.0.1:$port (log: $logfile)"
  t0=$SECONDS
  start_bg mosquitto "$logfile" /usr/sbin/mosquitto -c "$MQTT_DIR/mosquitto.conf"
  if ! wait_for_port mosquitto "$port" 30 "$logfile" "$(pidfile_of mosquitto)"; then
    stop_bg mosquitto 5
    die "mosquitto failed to start (log: $logfile)"
  fi
  log "mosquitto is up on 127.0.0.1:$port after $((SECONDS - t0))s"
}

# TERM makes mosquitto save its persistence file and exit.
mqtt_stop() {
  stop_bg mosquitto 15
}

mqtt_status() {
  if is_running mosquitto; then
    printf '%-10s %-8s pid %s  127.0.0.1:%s\n' mosquitto running "$(cat "$(pidfile_of mosquitto)")" "$(mqtt_port)"
  else
    printf '%-10s %s\n' mosquitto stopped
  fi
}
