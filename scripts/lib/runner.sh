# The unprivileged account that runs model code. Sourced after common.sh, never run.
#
# When setup runs as root, the worker will too, and model code then runs as this unprivileged
# system user (core/security/runner-account.ts). Its home belongs to root: the worker hands
# each model process a folder of its own below it.
MLOOP_RUNNER_USER="${MLOOP_RUNNER_USER:-mloop-runner}"

ensure_runner_user() {
  [ "$(id -u)" = 0 ] || return 0
  if ! id -u "$MLOOP_RUNNER_USER" >/dev/null 2>&1; then
    need_cmd useradd "install the passwd package (useradd) or create the user $MLOOP_RUNNER_USER yourself"
    log "creating the unprivileged user $MLOOP_RUNNER_USER that runs model code"
    # Another setup may create it at the same moment; only a user that still is missing is an error.
    useradd --system --user-group --home-dir "/var/lib/$MLOOP_RUNNER_USER" --no-create-home \
      --shell /usr/sbin/nologin --comment "mloop model code" "$MLOOP_RUNNER_USER" ||
      id -u "$MLOOP_RUNNER_USER" >/dev/null 2>&1 || die "useradd $MLOOP_RUNNER_USER failed"
  fi
  local home
  home=$(getent passwd "$MLOOP_RUNNER_USER" | cut -d: -f6)
  [ -n "$home" ] && [ "$home" != / ] || die "user $MLOOP_RUNNER_USER has no home folder; give it one (usermod -d)"
  install -d -o root -g root -m 0755 "$home"
  install -d -o root -g root -m 0711 "$home/sandboxes" "$home/work"
}

# A Python >= 3.10 with venv that the runner user can execute too. A Python under /root (pyenv,
# for one) is closed to it, since /root is 0700; the distribution's python3 is not.
venv_base_python() {
  local py candidates=()
  py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) && candidates+=("$py")
  if [ "$(id -u)" != 0 ]; then
    echo "${candidates[0]:-python3}"
    return 0
  fi
  need_cmd setpriv "install util-linux (setpriv)"
  candidates+=(/usr/bin/python3 /usr/local/bin/python3)
  for py in "${candidates[@]}"; do
    [ -x "$py" ] || continue
    "$py" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || continue
    # Through sh: the kernel then checks every folder on the way as that user.
    setpriv --reuid="$MLOOP_RUNNER_USER" --regid="$MLOOP_RUNNER_USER" --clear-groups \
      /bin/sh -c 'test -x "$1" && "$1" -c ""' sh "$py" 2>/dev/null || continue
    echo "$py"
    return 0
  done
  die "no Python >= 3.10 with venv that user $MLOOP_RUNNER_USER can run (tried ${candidates[*]}): apt-get install python3-venv"
}
