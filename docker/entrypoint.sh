#!/bin/sh
# The image's entrypoint: the first argument picks the role, the rest are that role's flags.
#
#   controller [flags]     the controller (packages/controller/src/config.ts)
#   broker [flags]         a broker (packages/broker/src/config.ts); --id / TRIBUTARY_BROKER_ID is required
#   tributary [args]       the CLI, e.g. `tributary topics list --bootstrap broker-0:9092`
#   anything else          run as given (`sh`, `node -e …`)
#
# Inside a container the processes' loopback defaults (127.0.0.1:19090 and 127.0.0.1:1909x,
# chosen for local processes) would be unreachable, so the container defaults are set here, as
# environment that any flag or explicitly set TRIBUTARY_* variable overrides:
#   controller: listen 0.0.0.0:9090 (clients), 0.0.0.0:9091 (brokers), data in /var/lib/tributary
#   broker:     listen 0.0.0.0:9092, advertised as <hostname>:9092, controller at controller:9091,
#               data in /var/lib/tributary
# `exec` keeps node as PID 1, so `docker stop` (SIGTERM) reaches it and a broker shuts down in
# a controlled way (leaderships moved away first).
set -eu

APP=/opt/tributary
role="${1:-}"
[ $# -gt 0 ] && shift

case "$role" in
  controller)
    : "${TRIBUTARY_LISTEN:=0.0.0.0:9090}"
    : "${TRIBUTARY_INTERNAL_LISTEN:=0.0.0.0:9091}"
    : "${TRIBUTARY_DATA_DIR:=/var/lib/tributary}"
    export TRIBUTARY_LISTEN TRIBUTARY_INTERNAL_LISTEN TRIBUTARY_DATA_DIR
    exec node "$APP/controller.mjs" "$@"
    ;;
  broker)
    : "${TRIBUTARY_LISTEN:=0.0.0.0:9092}"
    : "${TRIBUTARY_ADVERTISE:=$(hostname):${TRIBUTARY_LISTEN##*:}}"
    : "${TRIBUTARY_CONTROLLER:=controller:9091}"
    : "${TRIBUTARY_DATA_DIR:=/var/lib/tributary}"
    export TRIBUTARY_LISTEN TRIBUTARY_ADVERTISE TRIBUTARY_CONTROLLER TRIBUTARY_DATA_DIR
    exec node "$APP/broker.mjs" "$@"
    ;;
  tributary)
    exec node "$APP/tributary.mjs" "$@"
    ;;
  '')
    echo "usage: docker run tributary:dev controller|broker|tributary [args...]" >&2
    exit 2
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
