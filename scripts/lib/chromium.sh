# Debian's headless-capable Chromium, for the test that renders drift reports. Sourced after
# common.sh, never run. Tests drive it with playwright-core (no browser download needed).

CHROMIUM_BIN=/usr/bin/chromium

chromium_install() {
  [ -x "$CHROMIUM_BIN" ] && return 0
  [ "$(id -u)" = 0 ] || die "chromium is not installed and installing it needs root: sudo apt-get install -y chromium"
  need_cmd apt-get "chromium can only be installed automatically on Debian/Ubuntu"
  log "installing chromium with apt-get"
  # Lock timeout: another apt run (e.g. the Docker engine's install) may hold the dpkg lock.
  apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    chromium >&2 || die "apt-get install chromium failed"
  [ -x "$CHROMIUM_BIN" ] || die "chromium installed but $CHROMIUM_BIN is missing"
}
