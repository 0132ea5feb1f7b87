#!/usr/bin/env bash
# The bundled end-to-end example on the embedded default: sets everything up, starts the stack and
# runs the whole loop of the predictive-maintenance model (train, shadow test, staging, approval,
# production, the pipeline to alerts, drift checks, injected drift, the alert, a retraining that
# waits for approval), then leaves the stack running so the run can be inspected.
# `bin/mloop dev down` stops it.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

bash "$MLOOP_ROOT/scripts/setup.sh"

# The pipeline's webhook sink signs its posts with a secret from the worker's environment: one
# generated on the first run and kept 0600 in $MLOOP_DATA, so the worker and the demo's receiver agree.
secret_file="$MLOOP_DATA/auth/alerts-webhook-secret"
if [ ! -s "$secret_file" ]; then
  mkdir -p "$(dirname "$secret_file")"
  (umask 077 && node -e "console.log(require('node:crypto').randomBytes(32).toString('hex'))" >"$secret_file")
fi
MLOOP_ALERTS_WEBHOOK_SECRET="$(cat "$secret_file")"
export MLOOP_ALERTS_WEBHOOK_SECRET
bash "$MLOOP_ROOT/scripts/dev.sh" up

example="$MLOOP_DATA/examples/predictive-maintenance"
repo="$example/model-repo"
dataset="$example/history.csv"
tsx="$MLOOP_ROOT/node_modules/.bin/tsx"

# The model lives in its own git repository, as a data team's would; each run commits the
# bundled code so the lifecycle pins the commit it trained.
mkdir -p "$repo"
[ -d "$repo/.git" ] || git -C "$repo" init --quiet --initial-branch=main
find "$repo" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
cp -R "$MLOOP_ROOT/examples/predictive-maintenance/model/." "$repo/"
git -C "$repo" add -A
if ! git -C "$repo" diff --cached --quiet || ! git -C "$repo" rev-parse -q --verify HEAD >/dev/null; then
  git -C "$repo" -c user.name=mloop -c user.email=example@mloop.invalid commit --quiet -m "predictive-maintenance model"
fi

"$tsx" "$MLOOP_ROOT/examples/predictive-maintenance/data/generate-history.ts" --out "$dataset" --rows 20000 --seed 42

started=$SECONDS
status=0
"$tsx" "$MLOOP_ROOT/examples/predictive-maintenance/demo/whole-loop.ts" \
  --repo "$repo" --dataset "$dataset" --state-dir "$example" || status=$?
log "the whole loop took $((SECONDS - started)) s"

api="http://127.0.0.1:${MLOOP_API_PORT:-8080}"
token_file="${MLOOP_CLI_TOKEN_FILE:-$MLOOP_DATA/auth/cli-token}"
cat <<TXT

The stack is still running:
  Temporal Web UI   http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}  (search: MloopModel="predictive-maintenance")
  API docs          $api/docs  (Swagger UI; bearer token in $token_file)
  metrics           $api/metrics (API), http://127.0.0.1:${MLOOP_WORKER_METRICS_PORT:-9464}/metrics (worker)
  mloop CLI         bin/mloop models; bin/mloop status <lifecycle id>; bin/mloop approve <lifecycle id>
  Kafka             127.0.0.1:${KAFKA_PORT:-9092}
Stop it with: bin/mloop dev down
TXT
exit "$status"
