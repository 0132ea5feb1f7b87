# Model servers of deployments on the process backend (core/deploy/process-runtime.ts). They
# outlive the worker on purpose, so `dev down` stops them here, through the pid file each one
# writes in <instance>/run/: below $MLOOP_DATA/deployments, or, when the worker runs as root and
# the servers as the runner account, below that account's scratch space for this data directory.
# Sourced after common.sh, never run.

deployment_processes_stop() {
  local pf pid i
  local runner_root="/var/lib/${MLOOP_RUNNER_USER:-mloop-runner}/work$(cd "$MLOOP_DATA" 2>/dev/null && pwd)"
  for pf in "$MLOOP_DATA"/deployments/*/run/server.pid "$runner_root"/deployments/*/run/server.pid; do
    [ -f "$pf" ] || continue
    pid=$(cat "$pf")
    # Each server leads its own process group (the model's children are in it too).
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 40; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
      done
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$pf"
  done
}
