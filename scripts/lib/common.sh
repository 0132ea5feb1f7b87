# Shared helpers for provisioning and the dev service manager. Sourced, never run.
# Everything downloaded or built lives under $MLOOP_CACHE (outside the checkout) so a
# second run is fast; runtime state (databases, logs, pid files) lives under $MLOOP_DATA.

MLOOP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MLOOP_CACHE="${MLOOP_CACHE:-$HOME/.cache/mloop}"
MLOOP_DATA="${MLOOP_DATA:-$MLOOP_ROOT/.mloop}"
MLOOP_BIN="$MLOOP_CACHE/bin"
export MLOOP_ROOT MLOOP_CACHE MLOOP_DATA MLOOP_BIN

log() { printf '[mloop] %s\n' "$*" >&2; }
die() { printf '[mloop] error: %s\n' "$*" >&2; exit 1; }

need_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed: $2"
}

# port_in_use PORT -> 0 when something listens on 127.0.0.1:PORT
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port -> a TCP port on 127.0.0.1 that nothing listens on now (the kernel picks it)
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port NAME PORT TIMEOUT_S LOGFILE PIDFILE
wait_for_port() {
  local name=$1 port=$2 timeout=$3 logfile=$4 pidfile=$5 i
  for ((i = 0; i < timeout * 4; i++)); do
    if port_in_use "$port"; then return 0; fi
    if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "$name exited during start-up; last lines of $logfile:"
      tail -n 30 "$logfile" >&2 || true
      return 1
    fi
    sleep 0.25
  done
  log "$name did not open port $port within ${timeout}s; last lines of $logfile:"
  tail -n 30 "$logfile" >&2 || true
  return 1
}

# start_bg NAME LOGFILE CMD... : runs CMD in its own session (so the whole process
# group can be stopped) and records its pid in $MLOOP_DATA/run/NAME.pid
start_bg() {
  local name=$1 logfile=$2
  shift 2
  mkdir -p "$MLOOP_DATA/run" "$(dirname "$logfile")"
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$MLOOP_DATA/run/$name.pid"
}

pidfile_of() { echo "$MLOOP_DATA/run/$1.pid"; }

is_running() {
  local pf
  pf=$(pidfile_of "$1")
  [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null
}

# stop_bg NAME [GRACE_S]: TERM the process group, then KILL after GRACE_S seconds
stop_bg() {
  local name=$1 grace=${2:-20} pf pid i
  pf=$(pidfile_of "$name")
  [ -f "$pf" ] || return 0
  pid=$(cat "$pf")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 4; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop within ${grace}s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  # Leftovers of the group (children that ignored TERM) go too.
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$pf"
}
