#!/usr/bin/env bash
# Fails when any process still mentions this stack's data directory (Temporal's SQLite file,
# Kafka's config, dockerd's roots) or is recorded in its pid files: `dev down` must leave none.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

left=$(pgrep -af -- "$MLOOP_DATA" | grep -v -e pgrep -e check-stopped || true)
for pf in "$MLOOP_DATA"/run/*.pid; do
  [ -f "$pf" ] || continue
  pid=$(cat "$pf")
  kill -0 "$pid" 2>/dev/null && left+=$'\n'"$pid $(basename "$pf" .pid) (pid file)"
done
if [ -n "${left//[[:space:]]/}" ]; then
  log "processes of the stack are still running after 'dev down':"
  printf '%s\n' "$left" >&2
  exit 1
fi
log "no process of the stack is left running"
