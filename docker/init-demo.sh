#!/bin/sh
# The compose `init` service: waits until six brokers are registered and alive at the
# controller, then creates the seed's topic `demo` (10 partitions, RF 3, min.insync.replicas=2)
# through the CLI, unless it exists. Placement needs every broker up at creation time (DESIGN.md
# § Replication: the seed table is the placement over all six), hence the wait.
#
# Env: TRIBUTARY_CONTROLLER_URL (http://controller:9090), TRIBUTARY_BOOTSTRAP (broker-0:9092),
#      INIT_BROKERS (6), INIT_TIMEOUT_S (120).
set -eu

CONTROLLER_URL="${TRIBUTARY_CONTROLLER_URL:-http://controller:9090}"
BOOTSTRAP="${TRIBUTARY_BOOTSTRAP:-broker-0:9092}"
BROKERS="${INIT_BROKERS:-6}"
TIMEOUT_S="${INIT_TIMEOUT_S:-120}"

# The controller's /metrics is Prometheus text, readable without a msgpack decoder.
active_brokers() {
  node -e '
    fetch(process.argv[1] + "/metrics", { signal: AbortSignal.timeout(2000) })
      .then((r) => r.text())
      .then((t) => {
        const m = /^tributary_active_broker_count(?:\{[^}]*\})? (\d+)/m.exec(t);
        console.log(m ? m[1] : 0);
      })
      .catch(() => console.log(0));
  ' "$CONTROLLER_URL"
}

waited=0
while :; do
  n="$(active_brokers)"
  [ "$n" -ge "$BROKERS" ] && break
  if [ "$waited" -ge "$TIMEOUT_S" ]; then
    echo "init: only $n of $BROKERS brokers registered after ${TIMEOUT_S}s" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done
echo "init: $n brokers registered"

if out="$(node /opt/tributary/tributary.mjs topics create demo --partitions 10 --replication-factor 3 \
  --config min.insync.replicas=2 --bootstrap "$BOOTSTRAP" 2>&1)"; then
  echo "$out"
  echo "init: created topic demo"
else
  status=$?
  case "$out" in
    *TOPIC_ALREADY_EXISTS*) echo "init: topic demo already exists" ;;
    *) echo "$out" >&2; exit "$status" ;;
  esac
fi
