# The base image of model containers on machines that reach no image registry, and the wheelhouse
# their Python packages are installed from. Sourced after common.sh and docker.sh, never run.
#
# The image is Debian bookworm with python3 and python3-venv, bootstrapped from Debian's packages
# by mmdebstrap into a tarball (cached in $MLOOP_CACHE) and `docker import`ed into the daemon.
# Users who reach a registry set MLOOP_BASE_IMAGE (e.g. python:3.11-slim) instead.
# The wheelhouse holds the wheels of python/requirements.txt and the example model's
# requirements for the image's Python (3.11), so images build with `pip install --no-index`.

BASE_IMAGE_SUITE=bookworm
BASE_IMAGE_PACKAGES=python3,python3-venv
BASE_IMAGE_PYTHON=3.11 # what bookworm's python3 is; wheels are fetched for it
MLOOP_LOCAL_BASE_IMAGE="mloop/base:$BASE_IMAGE_SUITE-python3"

base_image_rootfs() { echo "$MLOOP_CACHE/base-image/$BASE_IMAGE_SUITE-python3.tar"; }
wheelhouse_dir() { echo "$MLOOP_CACHE/wheelhouse"; }

base_image_tools_install() {
  command -v mmdebstrap >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "mmdebstrap is not installed and installing it needs root: sudo apt-get install -y mmdebstrap"
  need_cmd apt-get "mmdebstrap can only be installed automatically on Debian/Ubuntu"
  log "installing mmdebstrap with apt-get"
  apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq mmdebstrap >&2 ||
    die "apt-get install mmdebstrap failed"
}

# The root file system tarball, built once. Documentation, man pages and locales are left out:
# nothing in a model container reads them.
base_image_rootfs_build() {
  local tar t0 tmp
  tar=$(base_image_rootfs)
  [ -f "$tar" ] && [ -s "$tar" ] && return 0
  base_image_tools_install
  mkdir -p "$(dirname "$tar")"
  tmp="$tar.tmp.$$"
  t0=$SECONDS
  log "bootstrapping the $BASE_IMAGE_SUITE base image ($BASE_IMAGE_PACKAGES) with mmdebstrap"
  if ! mmdebstrap --quiet --format=tar --variant=apt --include="$BASE_IMAGE_PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    "$BASE_IMAGE_SUITE" "$tmp" >"$tar.log" 2>&1; then
    tail -n 30 "$tar.log" >&2
    rm -rf "$tmp"
    die "mmdebstrap failed (full log: $tar.log)"
  fi
  mv "$tmp" "$tar"
  log "base image root file system: $(du -h "$tar" | cut -f1) in $((SECONDS - t0))s ($tar)"
}

# Wheels for the image's Python, fetched once per set of requirements (the stamp holds their checksum).
wheelhouse_fill() {
  local dir stamp sum python
  dir=$(wheelhouse_dir)
  python="$MLOOP_CACHE/venv/bin/python"
  sum=$(cat "$@" | sha256sum | cut -c1-16)
  stamp="$dir/.requirements-$sum"
  [ -f "$stamp" ] && return 0
  [ -x "$python" ] || die "the Python venv is missing; run scripts/setup.sh"
  mkdir -p "$dir"
  log "downloading wheels for Python $BASE_IMAGE_PYTHON into $dir"
  local args=() f
  for f in "$@"; do args+=(-r "$f"); done
  "$python" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    --python-version "$BASE_IMAGE_PYTHON" --implementation cp -d "$dir" "${args[@]}" ||
    die "downloading wheels into $dir failed"
  touch "$stamp"
}

# Everything the docker backend's tests need before a daemon runs: the tarball and the wheels.
base_image_prepare() {
  base_image_rootfs_build
  wheelhouse_fill "$MLOOP_ROOT/python/requirements.txt" "$MLOOP_ROOT/examples/predictive-maintenance/model/requirements.txt"
}

# Imports the tarball into the daemon at $(docker_host) unless the image is there already.
base_image_import() {
  local docker
  docker=$(docker_cli)
  "$docker" -H "$(docker_host)" image inspect "$MLOOP_LOCAL_BASE_IMAGE" >/dev/null 2>&1 && return 0
  base_image_rootfs_build
  log "importing $MLOOP_LOCAL_BASE_IMAGE into dockerd"
  "$docker" -H "$(docker_host)" import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
    "$(base_image_rootfs)" "$MLOOP_LOCAL_BASE_IMAGE" >/dev/null || die "docker import of the base image failed"
}
