# mloop's own processes: the worker (all task queues) and the HTTP API. Sourced after common.sh.

MLOOP_API_PORT="${MLOOP_API_PORT:-8080}"
MLOOP_WORKER_METRICS_PORT="${MLOOP_WORKER_METRICS_PORT:-9464}"

app_start() {
  local tsx="$MLOOP_ROOT/node_modules/.bin/tsx"
  [ -x "$tsx" ] || die "node modules are missing; run scripts/setup.sh"
  # core/config.ts derives addresses from the same *_PORT variables the servers were started with.
  export TEMPORAL_PORT TEMPORAL_UI_PORT KAFKA_PORT MLOOP_API_PORT MLOOP_WORKER_METRICS_PORT

  if ! is_running worker; then
    [ "$MLOOP_WORKER_METRICS_PORT" = 0 ] || ! port_in_use "$MLOOP_WORKER_METRICS_PORT" ||
      die "port $MLOOP_WORKER_METRICS_PORT is taken by another process; set MLOOP_WORKER_METRICS_PORT or stop it"
    start_bg worker "$MLOOP_DATA/logs/worker.log" "$tsx" "$MLOOP_ROOT/workers/main.ts"
    local i
    for ((i = 0; i < 240; i++)); do
      grep -q 'mloop worker serving' "$MLOOP_DATA/logs/worker.log" 2>/dev/null && break
      is_running worker || { tail -n 30 "$MLOOP_DATA/logs/worker.log" >&2; die "the worker exited during start-up"; }
      sleep 0.25
    done
    grep -q 'mloop worker serving' "$MLOOP_DATA/logs/worker.log" || die "the worker did not start within 60s; see $MLOOP_DATA/logs/worker.log"
    log "worker ready, $(grep -o 'metrics at [^ ]*' "$MLOOP_DATA/logs/worker.log" | tail -n 1) (log: $MLOOP_DATA/logs/worker.log)"
  fi

  if ! is_running api; then
    port_in_use "$MLOOP_API_PORT" && die "port $MLOOP_API_PORT is taken by another process; set MLOOP_API_PORT or stop it"
    start_bg api "$MLOOP_DATA/logs/api.log" "$tsx" "$MLOOP_ROOT/api/server.ts"
    wait_for_port api "$MLOOP_API_PORT" 60 "$MLOOP_DATA/logs/api.log" "$(pidfile_of api)" || die "the API did not start"
    log "API ready on http://127.0.0.1:$MLOOP_API_PORT"
  fi
  # The API's first start writes the local user's token (0600); the CLI sends it from there.
  local token_file="${MLOOP_CLI_TOKEN_FILE:-$MLOOP_DATA/auth/cli-token}"
  if [ -f "$token_file" ]; then
    log "API token for the CLI and curl: $token_file"
  elif [ -z "${MLOOP_TOKEN:-}" ]; then
    log "no API token at $token_file; the CLI needs MLOOP_TOKEN (see $MLOOP_DATA/logs/api.log)"
  fi
}

app_stop() {
  stop_bg api 10
  stop_bg worker 30
}

app_status() {
  local name
  for name in worker api; do
    if is_running "$name"; then
      printf '%-10s running  pid %s\n' "$name" "$(cat "$(pidfile_of "$name")")"
    else
      printf '%-10s stopped\n' "$name"
    fi
  done
}
