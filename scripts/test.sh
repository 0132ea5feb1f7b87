#!/usr/bin/env bash
# Sets everything up, starts a private stack (own data directory), runs every check and test
# suite, stops the stack and verifies that nothing it started is left running.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"

bash "$MLOOP_ROOT/scripts/setup.sh" --docker || exit 1

MLOOP_DATA=$(mktemp -d "${TMPDIR:-/tmp}/mloop-test.XXXXXX")
export MLOOP_DATA
export MLOOP_PYTHON="$MLOOP_CACHE/venv/bin/python"
# The deployment tests talk to the stack's own dockerd (scripts/lib/docker.sh's socket).
export DOCKER_HOST="unix://$MLOOP_DATA/docker/docker.sock"
# The test stack runs beside whatever else is up (the example's stack from the first README
# command among them): every server gets a free port of its own unless the caller named one.
for var in TEMPORAL_PORT TEMPORAL_UI_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT MLOOP_API_PORT MLOOP_PROXY_PORT MLOOP_WORKER_METRICS_PORT; do
  [ -n "${!var:-}" ] || export "$var=$(free_port)"
done
# The pipeline connectors' servers.
for var in POSTGRES_PORT MQTT_PORT; do
  [ -n "${!var:-}" ] || export "$var=$(free_port)"
done
log "connector service ports: postgres $POSTGRES_PORT, mqtt $MQTT_PORT"
log "test stack ports: temporal $TEMPORAL_PORT, web ui $TEMPORAL_UI_PORT, kafka $KAFKA_PORT/$KAFKA_CONTROLLER_PORT, api $MLOOP_API_PORT, proxy $MLOOP_PROXY_PORT"

finish() {
  local rc=$?
  bash "$MLOOP_ROOT/scripts/dev.sh" down || rc=1
  if ! bash "$MLOOP_ROOT/scripts/check-stopped.sh"; then rc=1; fi
  [ "$rc" = 0 ] && rm -rf "$MLOOP_DATA"
  exit "$rc"
}
trap finish EXIT

bash "$MLOOP_ROOT/scripts/dev.sh" up --no-app --docker || exit 1

cd "$MLOOP_ROOT"
failed_steps=0
step() {
  local name=$1 t0=$SECONDS
  shift
  log "── $name"
  if "$@"; then log "   $name passed in $((SECONDS - t0))s"; else log "✗ $name failed after $((SECONDS - t0))s"; failed_steps=$((failed_steps + 1)); fi
}
reports="$MLOOP_DATA/reports"
mkdir -p "$reports"
# Files tests keep for people to look at (the browser tests' screenshots), unless the caller chose a place;
# outside $MLOOP_DATA, which a passing run removes, and emptied first so that they are this run's.
if [ -z "${MLOOP_TEST_ARTIFACTS:-}" ]; then
  MLOOP_TEST_ARTIFACTS="$MLOOP_ROOT/.mloop/test-artifacts"
  rm -rf "$MLOOP_TEST_ARTIFACTS"
fi
export MLOOP_TEST_ARTIFACTS
log "test artifacts (screenshots): $MLOOP_TEST_ARTIFACTS"
step "typecheck" npx tsc --noEmit
step "lint" npx eslint .
step "format (prettier, 120 columns)" npx prettier --check .
step "python lint (ruff)" "$MLOOP_PYTHON" -m ruff check python examples
step "python format (ruff)" "$MLOOP_PYTHON" -m ruff format --check python examples
step "python runtime tests" "$MLOOP_PYTHON" -m pytest -q python/tests --junitxml="$reports/pytest.xml"
step "vitest" npx vitest run --reporter=default --reporter=json --outputFile.json="$reports/vitest.json"

# One closing line over both test runners; a failed typecheck or lint counts as a failure too.
node "$MLOOP_ROOT/scripts/summarize-tests.mjs" "$reports/vitest.json" "$reports/pytest.xml" "$failed_steps"
[ "$failed_steps" = 0 ]
