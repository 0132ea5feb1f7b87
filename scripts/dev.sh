#!/usr/bin/env bash
# The dev service manager: `mloop dev up|down|status`.
#   up [--no-app] [--docker]   start Temporal, Kafka, the proxy (and dockerd), then the worker and API;
#                              TEMPORAL_ADDRESS / KAFKA_BROKERS, when set, name servers to use instead
#                              (PostgreSQL and Mosquitto too; POSTGRES_URL / MQTT_URL likewise)
#   down                       stop everything this data directory started
#   status                     one line per service
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$MLOOP_ROOT/scripts/lib/temporal.sh"
source "$MLOOP_ROOT/scripts/lib/kafka.sh"
source "$MLOOP_ROOT/scripts/lib/docker.sh"
source "$MLOOP_ROOT/scripts/lib/proxy.sh"
source "$MLOOP_ROOT/scripts/lib/deployments.sh"
source "$MLOOP_ROOT/scripts/lib/app.sh"
source "$MLOOP_ROOT/scripts/lib/service-user.sh"
source "$MLOOP_ROOT/scripts/lib/postgres.sh"
source "$MLOOP_ROOT/scripts/lib/mqtt.sh"

usage() { echo "usage: mloop dev up [--no-app] [--docker] | down | status" >&2; exit 2; }

cmd=${1:-}
shift || true
case "$cmd" in
  up)
    with_app=1 with_docker=0
    for arg in "$@"; do
      case "$arg" in
        --no-app) with_app=0 ;;
        --docker) with_docker=1 ;;
        *) usage ;;
      esac
    done
    mkdir -p "$MLOOP_DATA/logs"
    # A half-started stack is worse than none: stop what we started if a later step fails.
    trap 'log "start-up failed; stopping what was started"; "$0" down' ERR
    # Servers the user already runs are preferred over starting our own.
    if [ -n "${TEMPORAL_ADDRESS:-}" ]; then log "using Temporal at $TEMPORAL_ADDRESS"; else temporal_start; fi
    if [ -n "${KAFKA_BROKERS:-}" ]; then log "using Kafka at $KAFKA_BROKERS"; else kafka_start; fi
    proxy_start
    [ "$with_docker" = 1 ] && docker_start
    # The pipeline connectors' services; POSTGRES_URL / MQTT_URL name ones to use instead.
    if [ -n "${POSTGRES_URL:-}" ]; then log "using PostgreSQL at $POSTGRES_URL"; else postgres_start; fi
    if [ -n "${MQTT_URL:-}" ]; then log "using MQTT at $MQTT_URL"; else mqtt_start; fi
    [ "$with_app" = 1 ] && app_start
    trap - ERR
    log "stack is up (data: $MLOOP_DATA)"
    ;;
  down)
    app_stop
    mqtt_stop
    postgres_stop
    deployment_processes_stop
    proxy_stop
    docker_stop
    kafka_stop
    temporal_stop
    log "stack is down"
    ;;
  status)
    temporal_status
    kafka_status
    proxy_status
    docker_status
    postgres_status
    mqtt_status
    app_status
    ;;
  *) usage ;;
esac
