# A private Docker daemon for development. Sourced after common.sh, never run.
# It listens on its own socket under $MLOOP_DATA, so it never clashes with a system
# dockerd; clients reach it with DOCKER_HOST=$(docker_host).
# vfs + no iptables + no bridge: works inside containers/VMs without overlayfs or
# netfilter privileges (containers get host networking only via --network host).
# The socket is root's alone (0600): whoever can talk to dockerd is root on this machine, and
# the docker group (which Debian's package creates) would otherwise share it.

DOCKER_DIR="$MLOOP_DATA/docker"

docker_host() { echo "unix://$DOCKER_DIR/docker.sock"; }

# The packaged client matches the packaged daemon; a stray client elsewhere in PATH may not.
docker_cli() {
  if [ -x /usr/bin/docker ]; then echo /usr/bin/docker; else command -v docker || echo docker; fi
}

docker_install() {
  [ -x /usr/sbin/dockerd ] && return 0
  [ "$(id -u)" = 0 ] || die "dockerd is not installed and installing it needs root: sudo apt-get install -y docker.io"
  need_cmd apt-get "docker.io can only be installed automatically on Debian/Ubuntu"
  log "installing docker.io with apt-get"
  # Lock timeout: another apt run (e.g. provisioning) may hold the dpkg lock.
  apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq docker.io >&2 ||
    die "apt-get install docker.io failed"
  [ -x /usr/sbin/dockerd ] || die "docker.io installed but /usr/sbin/dockerd is missing"
}

docker_start() {
  local logfile="$MLOOP_DATA/logs/dockerd.log" pf i
  pf=$(pidfile_of dockerd)
  if is_running dockerd; then
    log "dockerd is already running (pid $(cat "$pf"), $(docker_host))"
    chmod 0600 "$DOCKER_DIR/docker.sock" # one started by an older version may be group-accessible
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "dockerd must run as root (rootless Docker is not set up here)"
  docker_install
  mkdir -p "$DOCKER_DIR/root" "$DOCKER_DIR/exec" "$MLOOP_DATA/logs"
  log "starting dockerd on $(docker_host) (log: $logfile)"
  # --group root: until the chmod below, the socket is root:root 0660, never root:docker.
  start_bg dockerd "$logfile" /usr/sbin/dockerd --storage-driver vfs --iptables=false --bridge=none \
    --data-root "$DOCKER_DIR/root" --exec-root "$DOCKER_DIR/exec" \
    --pidfile "$DOCKER_DIR/dockerd.pid" --group root -H "$(docker_host)"
  # The socket appears before the daemon can serve; only `docker info` proves it's up.
  for ((i = 0; i < 120; i++)); do
    if "$(docker_cli)" -H "$(docker_host)" info >/dev/null 2>&1; then
      chmod 0600 "$DOCKER_DIR/docker.sock"
      [ "$(stat -c %a "$DOCKER_DIR/docker.sock")" = 600 ] || die "cannot make $DOCKER_DIR/docker.sock mode 0600"
      log "dockerd is up after $((i / 2))s"
      return 0
    fi
    if ! is_running dockerd; then
      log "dockerd exited during start-up; last lines of $logfile:"
      tail -n 30 "$logfile" >&2 || true
      die "dockerd failed to start"
    fi
    sleep 0.5
  done
  log "dockerd did not answer within 60s; last lines of $logfile:"
  tail -n 30 "$logfile" >&2 || true
  stop_bg dockerd 10
  die "dockerd failed to start"
}

docker_ready() {
  is_running dockerd && "$(docker_cli)" -H "$(docker_host)" info >/dev/null 2>&1
}

# dockerd stops running containers first (up to 15s each by default).
docker_stop() {
  local m
  stop_bg dockerd 30
  # dockerd leaves its host-netns bind mount (exec/netns/default) behind; without this
  # `rm -rf $MLOOP_DATA` fails with "Device or resource busy". Deepest first.
  awk -v d="$DOCKER_DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
}

docker_status() {
  if is_running dockerd; then
    printf '%-10s %-8s pid %s  %s\n' dockerd running "$(cat "$(pidfile_of dockerd)")" "$(docker_host)"
  else
    printf '%-10s %s\n' dockerd stopped
  fi
}
