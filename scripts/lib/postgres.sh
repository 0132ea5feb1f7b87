# Local PostgreSQL for the pipeline's PostgreSQL sink. Sourced after common.sh and
# service-user.sh, never run. Debian's server (apt-get install postgresql); a cluster of our
# own in $MLOOP_DATA/postgres (initdb once), on 127.0.0.1:POSTGRES_PORT (55432: not 5432, which
# the package's own cluster may take) with its socket in the same folder. Database and
# superuser `mloop`, trusted on loopback only: a development server.

POSTGRES_DIR="$MLOOP_DATA/postgres"

postgres_bindir() { find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1; }

postgres_install() {
  local bin
  bin=$(postgres_bindir)
  [ -n "$bin" ] && [ -x "$bin/postgres" ] && [ -x "$bin/initdb" ] && return 0
  apt_install postgresql
  bin=$(postgres_bindir)
  [ -n "$bin" ] && [ -x "$bin/postgres" ] || die "postgresql installed but no server under /usr/lib/postgresql"
}

postgres_port() { echo "${POSTGRES_PORT:-55432}"; }
postgres_url() { echo "postgres://mloop@127.0.0.1:$(postgres_port)/mloop"; }

postgres_start() {
  local port bin logfile="$MLOOP_DATA/logs/postgres.log" t0
  port=$(postgres_port)
  if is_running postgres; then
    log "postgres is already running (pid $(cat "$(pidfile_of postgres)"), 127.0.0.1:$port)"
    return 0
  fi
  postgres_install
  bin=$(postgres_bindir)
  port_in_use "$port" && die "port $port is taken by another process; set POSTGRES_PORT or stop it"
  mkdir -p "$MLOOP_DATA/logs"
  give_dir postgres "$POSTGRES_DIR"
  if [ ! -f "$POSTGRES_DIR/data/PG_VERSION" ]; then
    log "creating the PostgreSQL cluster in $POSTGRES_DIR/data"
    as_user postgres "$bin/initdb" -D "$POSTGRES_DIR/data" -U mloop --auth=trust -E UTF8 --no-locale >>"$logfile" 2>&1 ||
      die "initdb failed (see $logfile)"
  fi
  log "starting postgres on 127.0.0.1:$port (log: $logfile)"
  t0=$SECONDS
  as_user_prefix postgres
  start_bg postgres "$logfile" "${AS_USER[@]}" "$bin/postgres" -D "$POSTGRES_DIR/data" \
    -c listen_addresses=127.0.0.1 -p "$port" -c unix_socket_directories="$POSTGRES_DIR"
  if ! wait_for_port postgres "$port" 60 "$logfile" "$(pidfile_of postgres)"; then
    postgres_stop
    die "postgres failed to start (log: $logfile)"
  fi
  # Accepting connections comes a moment after the port opens.
  local i
  for ((i = 0; i < 120; i++)); do
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
    sleep 0.25
  done
  if ! "$bin/psql" -qtA -h 127.0.0.1 -p "$port" -U mloop -d postgres -c "select 1 from pg_database where datname = 'mloop'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U mloop mloop || die "creating the mloop database failed"
  fi
  log "postgres is up on 127.0.0.1:$port after $((SECONDS - t0))s ($(postgres_url))"
}

# SIGINT is PostgreSQL's fast shutdown (clients are disconnected); TERM would wait for them.
postgres_stop() {
  local pf pid i
  pf=$(pidfile_of postgres)
  if [ -f "$pf" ] && pid=$(cat "$pf") && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null || true
    for ((i = 0; i < 120; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
  fi
  stop_bg postgres 10
}

postgres_status() {
  if is_running postgres; then
    printf '%-10s %-8s pid %s  127.0.0.1:%s\n' postgres running "$(cat "$(pidfile_of postgres)")" "$(postgres_port)"
  else
    printf '%-10s %s\n' postgres stopped
  fi
}
