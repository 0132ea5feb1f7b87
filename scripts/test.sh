#!/usr/bin/env bash
# Sets everything up, starts a private stack (own data directory), runs every check and test
# suite, stops the stack and verifies that nothing it started is left running.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"

bash "$MLOOP_ROOT/scripts/setup.sh" || exit 1

MLOOP_DATA=$(mktemp -d "${TMPDIR:-/tmp}/mloop-test.XXXXXX")
export MLOOP_DATA
export MLOOP_PYTHON="$MLOOP_CACHE/venv/bin/python"

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
failed=0 passed_suites=0
step() {
  local name=$1
  shift
  log "── $name"
  if "$@"; then passed_suites=$((passed_suites + 1)); else log "✗ $name failed"; failed=$((failed + 1)); fi
}
step "typecheck" npx tsc --noEmit
step "lint" npx eslint .
step "python runtime tests" "$MLOOP_PYTHON" -m pytest -q python/tests
step "vitest" npx vitest run --reporter=default

log "suites: $passed_suites passed, $failed failed"
[ "$failed" = 0 ]
