# Temporal dev server (CLI with embedded Web UI), installed with `go install` when not on PATH.
# Sourced after common.sh.

TEMPORAL_CLI_VERSION="v1.5.1" # the newest tag whose go.mod builds without replace directives
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"

temporal_bin() {
  if [ -n "${MLOOP_TEMPORAL_BIN:-}" ]; then echo "$MLOOP_TEMPORAL_BIN"; return; fi
  if command -v temporal >/dev/null 2>&1; then command -v temporal; return; fi
  echo "$MLOOP_BIN/temporal"
}

temporal_install() {
  local bin
  bin=$(temporal_bin)
  if [ -x "$bin" ]; then return 0; fi
  need_cmd go "install Go 1.25 or newer (needed to build the Temporal CLI)"
  local gov
  gov=$(go env GOVERSION | sed 's/^go//')
  if [ "$(printf '%s\n1.25\n' "$gov" | sort -V | head -1)" != "1.25" ]; then
    die "Go $gov is too old to build the Temporal CLI; install Go 1.25 or newer"
  fi
  log "building the Temporal CLI $TEMPORAL_CLI_VERSION (first run only, several minutes)"
  mkdir -p "$MLOOP_BIN"
  GOBIN="$MLOOP_BIN" GOFLAGS=-buildvcs=false go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" ||
    die "building the Temporal CLI failed; see the go output above"
}

temporal_start() {
  if is_running temporal; then log "temporal already running"; return 0; fi
  local bin logfile
  bin=$(temporal_bin)
  [ -x "$bin" ] || die "the Temporal CLI is not installed; run scripts/setup.sh"
  port_in_use "$TEMPORAL_PORT" && die "port $TEMPORAL_PORT is taken by another process; set TEMPORAL_PORT or stop it"
  port_in_use "$TEMPORAL_UI_PORT" && die "port $TEMPORAL_UI_PORT (Temporal Web UI) is taken by another process; set TEMPORAL_UI_PORT or stop it"
  mkdir -p "$MLOOP_DATA/temporal" "$MLOOP_DATA/logs"
  logfile="$MLOOP_DATA/logs/temporal.log"
  start_bg temporal "$logfile" "$bin" server start-dev \
    --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
    --db-filename "$MLOOP_DATA/temporal/temporal.db" \
    --search-attribute MloopModel=Keyword \
    --search-attribute MloopStage=Keyword \
    --search-attribute MloopVersion=Int \
    --log-level warn
  wait_for_port temporal "$TEMPORAL_PORT" 60 "$logfile" "$(pidfile_of temporal)" || return 1
  # The frontend port opens before the namespace is ready to serve; wait for it too.
  local i
  for ((i = 0; i < 120; i++)); do
    if "$bin" operator namespace describe --address "127.0.0.1:$TEMPORAL_PORT" -n default >/dev/null 2>&1; then
      log "temporal ready on 127.0.0.1:$TEMPORAL_PORT, Web UI http://127.0.0.1:$TEMPORAL_UI_PORT"
      return 0
    fi
    sleep 0.5
  done
  log "temporal did not become ready; last lines of $logfile:"
  tail -n 30 "$logfile" >&2
  return 1
}

temporal_stop() { stop_bg temporal 20; }

temporal_status() {
  if is_running temporal; then
    printf '%-10s running  pid %-7s 127.0.0.1:%s  ui http://127.0.0.1:%s\n' temporal "$(cat "$(pidfile_of temporal)")" "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT"
  else
    printf '%-10s stopped\n' temporal
  fi
}
