# Running a server as an unprivileged system user when the stack runs as root (PostgreSQL
# refuses root; Mosquitto drops to its own user). Sourced after common.sh, never run.

# as_user USER CMD...: runs CMD as USER when we are root (exec, no extra process), else as us.
as_user() {
  local user=$1
  shift
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
  else
    "$@"
  fi
}

# as_user_prefix USER: sets AS_USER to the prefix that runs a program as USER (empty unless
# root), for start_bg, which needs a real program rather than a shell function.
as_user_prefix() {
  if [ "$(id -u)" = 0 ]; then AS_USER=(setpriv --reuid="$1" --regid="$1" --init-groups --); else AS_USER=(); fi
}

# give_dir USER DIR: DIR (created) belongs to USER and USER can reach it through $MLOOP_DATA,
# which mktemp creates 0700. Only the search bit is added to $MLOOP_DATA, nothing is readable.
give_dir() {
  local user=$1 dir=$2
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] || return 0
  id "$user" >/dev/null 2>&1 || die "system user $user is missing (it comes with its Debian package)"
  chown -R "$user:" "$dir"
  as_user "$user" test -x "$MLOOP_DATA" || chmod o+x "$MLOOP_DATA"
  as_user "$user" test -w "$dir" || die "$user cannot reach $dir: a folder above $MLOOP_DATA is closed to other users"
}

# apt_install PACKAGE: idempotent install from Debian's archive (root only).
apt_install() {
  [ "$(id -u)" = 0 ] || die "$1 is not installed and installing it needs root: sudo apt-get install -y $1"
  need_cmd apt-get "$1 can only be installed automatically on Debian/Ubuntu"
  log "installing $1 with apt-get"
  apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$1" >&2 || die "apt-get install $1 failed"
}
