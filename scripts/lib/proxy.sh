# HAProxy, the reverse proxy in front of deployments (their stable endpoints). Sourced after
# common.sh, never run. Debian's haproxy package, run in master-worker mode with its runtime API
# on a unix socket in $MLOOP_DATA/proxy; it binds 127.0.0.1 only. MLOOP_PROXY_PORT (8090) is the
# proxy's own liveness endpoint (/healthz); each deployment's endpoint gets a port of its own,
# recorded in $MLOOP_DATA/proxy/endpoints.cfg, which core/deploy/proxy.ts writes.

MLOOP_PROXY_PORT="${MLOOP_PROXY_PORT:-8090}"
PROXY_DIR="$MLOOP_DATA/proxy"
PROXY_BASE_CONFIG="$MLOOP_ROOT/provision/haproxy/haproxy.cfg"

proxy_bin() { echo "${MLOOP_HAPROXY_BIN:-/usr/sbin/haproxy}"; }

proxy_install() {
  [ -x "$(proxy_bin)" ] && return 0
  [ "$(id -u)" = 0 ] || die "haproxy is not installed and installing it needs root: sudo apt-get install -y haproxy"
  need_cmd apt-get "haproxy can only be installed automatically on Debian/Ubuntu"
  log "installing haproxy with apt-get"
  apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
  # If the host starts the package's own service, it reads /etc/haproxy and binds none of our ports.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq haproxy >&2 ||
    die "apt-get install haproxy failed"
  [ -x "$(proxy_bin)" ] || die "haproxy installed but $(proxy_bin) is missing"
}

proxy_start() {
  local logfile="$MLOOP_DATA/logs/proxy.log" i
  if is_running proxy; then
    log "proxy already running (pid $(cat "$(pidfile_of proxy)"))"
    return 0
  fi
  [ -x "$(proxy_bin)" ] || die "haproxy is not installed; run scripts/setup.sh"
  port_in_use "$MLOOP_PROXY_PORT" && die "port $MLOOP_PROXY_PORT is taken by another process; set MLOOP_PROXY_PORT or stop it"
  mkdir -p "$PROXY_DIR" "$MLOOP_DATA/logs"
  # Deployments created earlier keep their endpoints (and ports) across restarts.
  [ -f "$PROXY_DIR/endpoints.cfg" ] || : >"$PROXY_DIR/endpoints.cfg"
  export MLOOP_PROXY_DIR="$PROXY_DIR" MLOOP_PROXY_PORT
  "$(proxy_bin)" -q -c -f "$PROXY_BASE_CONFIG" -f "$PROXY_DIR/endpoints.cfg" >>"$logfile" 2>&1 ||
    { tail -n 20 "$logfile" >&2; die "the proxy configuration is invalid (see $logfile)"; }
  log "starting the proxy (HAProxy) on 127.0.0.1:$MLOOP_PROXY_PORT (log: $logfile)"
  start_bg proxy "$logfile" "$(proxy_bin)" -W -f "$PROXY_BASE_CONFIG" -f "$PROXY_DIR/endpoints.cfg" \
    -S "$PROXY_DIR/master.sock,mode,600"
  wait_for_port proxy "$MLOOP_PROXY_PORT" 30 "$logfile" "$(pidfile_of proxy)" || die "the proxy did not start"
  for ((i = 0; i < 40; i++)); do
    [ -S "$PROXY_DIR/admin.sock" ] && { log "proxy ready (runtime API: $PROXY_DIR/admin.sock)"; return 0; }
    sleep 0.25
  done
  die "the proxy started but its runtime API socket $PROXY_DIR/admin.sock did not appear"
}

# The master stops its workers on TERM; old workers still finishing requests go with the group.
proxy_stop() {
  stop_bg proxy 10
  rm -f "$PROXY_DIR/admin.sock" "$PROXY_DIR/master.sock"
}

proxy_status() {
  local endpoints
  if is_running proxy; then
    endpoints=$(grep -c '^frontend ' "$PROXY_DIR/endpoints.cfg" 2>/dev/null || true)
    printf '%-10s running  pid %-7s 127.0.0.1:%s  %s endpoint(s)\n' proxy "$(cat "$(pidfile_of proxy)")" \
      "$MLOOP_PROXY_PORT" "${endpoints:-0}"
  else
    printf '%-10s stopped\n' proxy
  fi
}
