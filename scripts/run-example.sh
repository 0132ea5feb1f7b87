#!/usr/bin/env bash
# The bundled end-to-end example on the embedded default: sets everything up, starts the stack,
# trains the predictive-maintenance model through a lifecycle, and leaves the stack running so the
# run can be inspected in the Temporal Web UI. `bin/mloop dev down` stops it.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

bash "$MLOOP_ROOT/scripts/setup.sh"
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

# The CLI sends the token the API wrote to $MLOOP_DATA/auth/cli-token on its first start.
"$MLOOP_ROOT/bin/mloop" lifecycle start --model predictive-maintenance --repo "$repo" --ref main --dataset "$dataset" --wait

token_file="${MLOOP_CLI_TOKEN_FILE:-$MLOOP_DATA/auth/cli-token}"
cat <<TXT

The stack is still running:
  Temporal Web UI   http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}  (search: MloopModel="predictive-maintenance")
  mloop API         http://127.0.0.1:${MLOOP_API_PORT:-8080}/v1/models  (bearer token in $token_file)
    curl -H "authorization: Bearer \$(cat $token_file)" http://127.0.0.1:${MLOOP_API_PORT:-8080}/v1/models
  Kafka             127.0.0.1:${KAFKA_PORT:-9092}
Stop it with: bin/mloop dev down
TXT
