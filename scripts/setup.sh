#!/usr/bin/env bash
# Installs everything mloop needs on a fresh machine, idempotently: node modules, the Temporal
# CLI, Kafka's jars, the Python venv, HAProxy, the Docker engine, Chromium (for the report
# tests), and PostgreSQL and Mosquitto (the pipeline connectors' services) from Debian's
# packages; with --docker also the base image tarball and the wheelhouse that model images are
# built from. Downloads and builds are cached in $MLOOP_CACHE (~/.cache/mloop by default), so a
# second run only checks.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$MLOOP_ROOT/scripts/lib/temporal.sh"
source "$MLOOP_ROOT/scripts/lib/kafka.sh"
source "$MLOOP_ROOT/scripts/lib/docker.sh"
source "$MLOOP_ROOT/scripts/lib/chromium.sh"
source "$MLOOP_ROOT/scripts/lib/proxy.sh"
source "$MLOOP_ROOT/scripts/lib/base-image.sh"
source "$MLOOP_ROOT/scripts/lib/runner.sh"
# PostgreSQL and Mosquitto: the pipeline connectors' services.
source "$MLOOP_ROOT/scripts/lib/service-user.sh"
source "$MLOOP_ROOT/scripts/lib/postgres.sh"
source "$MLOOP_ROOT/scripts/lib/mqtt.sh"

check_toolchains() {
  need_cmd node "install Node.js 20.19 or newer"
  need_cmd npm "install npm"
  need_cmd git "install git"
  need_cmd python3 "install Python 3.10 or newer"
  local nv
  nv=$(node -p 'process.versions.node')
  [ "$(printf '%s\n20.19.0\n' "$nv" | sort -V | head -1)" = "20.19.0" ] || die "Node.js $nv is too old; mloop needs 20.19 or newer"
  python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || die "Python $(python3 -V) is too old; mloop needs 3.10 or newer"
}

# npm ci only when the lock file changed since the last install. A finished install is also kept
# in the cache by lock checksum, so a fresh clone copies it instead of rebuilding native modules.
install_node_modules() {
  local stamp="$MLOOP_ROOT/node_modules/.mloop-lock-sha" sum cached
  sum=$(sha256sum "$MLOOP_ROOT/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then return 0; fi
  cached="$MLOOP_CACHE/node_modules/${sum:0:16}"
  if [ -f "$cached/.mloop-lock-sha" ] && [ "$(node -p 'process.versions.node')" = "$(cat "$cached/.mloop-node-version" 2>/dev/null)" ]; then
    log "copying node modules from the cache"
    rm -rf "$MLOOP_ROOT/node_modules"
    cp -a "$cached" "$MLOOP_ROOT/node_modules"
    return 0
  fi
  log "installing node modules"
  # Native modules (better-sqlite3) build with node-gyp, which would download Node's headers;
  # only package registries are reachable here, so point it at the distribution's headers.
  if [ -z "${npm_config_nodedir:-}" ] && [ "$(npm config get nodedir 2>/dev/null)" = "undefined" ] && [ -f /usr/include/node/node.h ]; then
    export npm_config_nodedir=/usr
  fi
  (cd "$MLOOP_ROOT" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
  echo "$sum" >"$stamp"
  node -p 'process.versions.node' >"$MLOOP_ROOT/node_modules/.mloop-node-version"
  mkdir -p "$MLOOP_CACHE/node_modules"
  rm -rf "$cached.tmp"
  cp -a "$MLOOP_ROOT/node_modules" "$cached.tmp" && rm -rf "$cached" && mv "$cached.tmp" "$cached"
}

# One venv per requirements checksum, so changing a pin builds a fresh one beside the old. As
# root it lives in /var/cache/mloop, readable by the runner user but writable by root only,
# and $MLOOP_CACHE/venv links to it.
install_python_venv() {
  local reqs="$MLOOP_ROOT/python/requirements-dev.txt" sum venvs venv base
  sum=$(cat "$MLOOP_ROOT/python/requirements.txt" "$reqs" | sha256sum | cut -c1-16)
  venvs="$MLOOP_CACHE/venvs"
  if [ "$(id -u)" = 0 ]; then
    venvs=/var/cache/mloop/venvs
    install -d -o root -g root -m 0755 /var/cache/mloop "$venvs"
  fi
  venv="$venvs/$sum"
  if [ ! -f "$venv/.complete" ]; then
    base=$(venv_base_python)
    log "creating the Python venv for model code ($venv, from $base)"
    rm -rf "$venv"
    # umask 022: the runner user reads and executes what pip installs.
    (umask 022 && "$base" -m venv "$venv" &&
      "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$reqs") || die "installing Python requirements failed"
    touch "$venv/.complete"
  fi
  mkdir -p "$MLOOP_CACHE"
  ln -sfn "$venv" "$MLOOP_CACHE/venv"
}

timed() {
  local t0=$SECONDS
  "$@"
  log "   $1: $((SECONDS - t0))s"
}
with_docker_images=0
for arg in "$@"; do
  case "$arg" in
    --docker) with_docker_images=1 ;;
    *) die "usage: scripts/setup.sh [--docker]" ;;
  esac
done

t_setup=$SECONDS
check_toolchains
timed ensure_runner_user
timed install_node_modules
timed install_python_venv
timed temporal_install
timed kafka_install
timed proxy_install
timed docker_install
timed chromium_install
timed postgres_install
timed mqtt_install
if [ "$with_docker_images" = 1 ]; then timed base_image_prepare; fi
log "setup complete in $((SECONDS - t_setup))s"
