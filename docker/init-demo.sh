#!/bin/sh
# The compose `init` service: waits until six brokers are registered and alive at the
# controller, then creates the seed's topic `demo` (10 partitions, RF 3, min.insync.replicas=2)
# through the CLI, unless it exists. Placement needs every broker up at creation time (DESIGN.md
# § Replication: the seed table is the placement over all six), hence the wait.
#
# Env: TRIBUTARY_CONTROLLER_URL (http://controller:9090), TRIBUTARY_BOOTSTRAP (broker-0:9092),
#      INIT_BROKERS (6), INIT_TIMEOUT_S (120).
# A secure cluster (compose.secure.yaml): TRIBUTARY_CONTROLLER_URL https://controller:9090,
#      TRIBUTARY_CA, TRIBUTARY_USER and TRIBUTARY_PASSWORD_FILE (or TRIBUTARY_PASSWORD): the
#      metrics are read over TLS with HTTP Basic, and the CLI picks the same variables up.
set -eu

CONTROLLER_URL="${TRIBUTARY_CONTROLLER_URL:-http://controller:9090}"
BOOTSTRAP="${TRIBUTARY_BOOTSTRAP:-broker-0:9092}"
BROKERS="${INIT_BROKERS:-6}"
TIMEOUT_S="${INIT_TIMEOUT_S:-120}"

# The controller's /metrics is Prometheus text, readable without a msgpack decoder.
active_brokers() {
  node -e '
    const { readFileSync } = require("node:fs");
    const env = process.env;
    const count = (t) => {
      const m = /^tributary_active_broker_count(?:\{[^}]*\})? (\d+)/m.exec(t);
      console.log(m ? m[1] : 0);
    };
    const url = process.argv[1] + "/metrics";
    if (!url.startsWith("https:")) {
      fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => r.text()).then(count).catch(() => console.log(0));
    } else {
      // A secure controller: its CA, and the user (Basic, checked against the SCRAM credentials).
      const password = env.TRIBUTARY_PASSWORD || (env.TRIBUTARY_PASSWORD_FILE ? readFileSync(env.TRIBUTARY_PASSWORD_FILE, "utf8").trim() : "");
      const auth = "Basic " + Buffer.from(`${env.TRIBUTARY_USER}:${password}`).toString("base64");
      const req = require("node:https").request(url, { ca: readFileSync(env.TRIBUTARY_CA), headers: { authorization: auth }, timeout: 2000 }, (res) => {
        let t = "";
        res.setEncoding("utf8").on("data", (d) => (t += d)).on("end", () => count(t));
      });
      req.on("timeout", () => req.destroy());
      req.on("error", () => console.log(0));
      req.end();
    }
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
