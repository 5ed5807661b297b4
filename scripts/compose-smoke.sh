#!/usr/bin/env bash
# Smoke test of the real compose.yaml, driven from the host like a user would:
#   1. `docker-compose up -d` (project tributary-smoke), wait until every service is healthy and
#      the one-shot `init` has created `demo`;
#   2. `demo` is placed exactly as the seed's table (leaders and replica lists of P0…P9);
#   3. produce 200 records with acks=all and consume them back, through the host CLI with its
#      default bootstrap (127.0.0.1:19092…19097) — the published external listeners;
#   4. the Kafka listeners (issue 19): kcat from the host lists the six brokers at 127.0.0.1:9092…9097
#      and reads the 200 records; a Metadata request inside the network, to broker-0:29092, is
#      answered with the in-network addresses broker-N:29092;
#   5. kill the container leading P0: a follower from the ISR leads with epoch + 1, and every
#      acknowledged record is still readable;
#   6. `down -v`, always (trap).
#
# Needs: tributary:dev built (node scripts/build.ts && docker build -t tributary:dev -f
# docker/Dockerfile .), docker-compose 1.29+ or Compose v2, kcat, and host ports 19090-19097 and
# 9092-9097 free.
set -euo pipefail
cd "$(dirname "$0")/.."

PROJECT="${SMOKE_PROJECT:-tributary-smoke}"
NODE="${NODE:-node_modules/.bin/node}"
[ -x "$NODE" ] || NODE=node
if docker-compose version >/dev/null 2>&1; then COMPOSE=(docker-compose); else COMPOSE=(docker compose); fi
COMPOSE+=(-p "$PROJECT" -f compose.yaml)

started=$SECONDS
say() { printf '[smoke %3ds] %s\n' $((SECONDS - started)) "$*"; }
fail() {
  say "FAILED: $*"
  "${COMPOSE[@]}" ps >&2 || true
  "${COMPOSE[@]}" logs --tail=40 >&2 || true
  exit 1
}
# The CLI runs with its defaults throughout, as a user's would: its bootstrap is every broker the
# compose file publishes, so it finds the cluster after the kill below whichever broker that is.
cli() { env -u TRIBUTARY_BOOTSTRAP -u TRIBUTARY_DATA_DIR "$NODE" packages/cli/src/main.ts "$@"; }
cleanup() {
  say "down -v"
  "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Polls a command until it succeeds: eventually <timeout-s> <description> <command…>
eventually() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "$what: not within ${timeout}s"
    sleep 0.5
  done
}

# Prints a field of `topics describe demo --json`, through a small JS expression over `t`.
describe() {
  cli topics describe demo --json | "$NODE" -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const t = JSON.parse(s);
      console.log(eval(process.argv[1]));
    });' "$1"
}

say "up -d"
"${COMPOSE[@]}" up -d 2>&1 | grep -v '^$' | sed 's/^/  /' || fail "compose up"

say "waiting for init (six brokers registered, demo created)"
init_id="$("${COMPOSE[@]}" ps -q init)"
[ -n "$init_id" ] || fail "no init container"
init_rc="$(timeout 120 docker wait "$init_id")" || fail "init did not finish in 120s"
[ "$init_rc" = 0 ] || { docker logs "$init_id" >&2; fail "init exited $init_rc"; }
docker logs "$init_id" 2>&1 | sed 's/^/  init: /'

eventually 60 "all seven containers healthy" bash -c "[ \"\$(docker ps --filter label=com.docker.compose.project=$PROJECT --filter health=healthy -q | wc -l)\" = 7 ]"
say "all seven containers healthy"

# The seed's table: P0 [0,3,1], P1 [3,1,4], …, P9 [4,2,5]; leader = first replica, epoch 0.
say "checking the placement of demo against the seed table"
placement="$(describe 't.partitions.map((p) => `P${p.partition}=${p.leader}:[${p.replicas}]`).join(" ")')"
expected="P0=0:[0,3,1] P1=3:[3,1,4] P2=1:[1,4,2] P3=4:[4,2,5] P4=2:[2,5,0] P5=5:[5,0,3] P6=0:[0,3,1] P7=3:[3,1,4] P8=1:[1,4,2] P9=4:[4,2,5]"
[ "$placement" = "$expected" ] || fail "placement is '$placement', expected '$expected'"
say "placement matches the seed: $placement"
cli topics describe demo --by-broker | sed 's/^/  /'

say "producing 200 records with acks=all from the host (the CLI's default bootstrap, 127.0.0.1:19092…19097)"
seq 1 200 | sed 's/^/smoke-/' | cli produce demo --acks all >/dev/null || fail "produce"
count_records() {
  cli consume demo --from-beginning --timeout-ms 3000 --json | "$NODE" -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const values = s.split("\n").filter(Boolean).map((l) => JSON.parse(l).value);
      const distinct = new Set(values.filter((v) => /^smoke-\d+$/.test(v)));
      console.log(`${values.length} ${distinct.size}`);
    });'
}
read -r total distinct <<<"$(count_records)"
[ "$total" = 200 ] && [ "$distinct" = 200 ] || fail "consumed $total records ($distinct distinct), expected 200"
say "consumed all 200 records back"

say "the Kafka listeners: kcat from the host on 127.0.0.1:9092, Metadata inside the network on broker-0:29092"
brokers_seen="$(kcat -b 127.0.0.1:9092 -L 2>/dev/null | grep -c -E '^  broker [0-5] at 127\.0\.0\.1:909[2-7]')" || true
[ "$brokers_seen" = 6 ] || fail "kcat -b 127.0.0.1:9092 -L lists $brokers_seen of the 6 brokers at 127.0.0.1:9092…9097"
kafka_read="$(kcat -b 127.0.0.1:9092 -C -t demo -o beginning -e -q 2>/dev/null | grep -c '^smoke-')" || true
[ "$kafka_read" = 200 ] || fail "kcat read $kafka_read of the 200 records"
# Metadata v1 (api key 3) with null topics, from inside broker-1's container to broker-0:29092:
# the answer's brokers, as host:port, must be the in-network listener's.
in_network="$(docker exec "$("${COMPOSE[@]}" ps -q broker-1)" node -e '
  const s = require("net").connect(29092, "broker-0");
  const body = Buffer.from("000300010000000affffffffffff", "hex");
  const size = Buffer.alloc(4); size.writeInt32BE(body.length);
  s.write(Buffer.concat([size, body]));
  let buf = Buffer.alloc(0);
  s.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return;
    let p = 8; const n = buf.readInt32BE(p); p += 4; const out = [];
    for (let i = 0; i < n; i++) {
      p += 4; const hl = buf.readInt16BE(p); p += 2; const host = buf.toString("utf8", p, p + hl); p += hl;
      const port = buf.readInt32BE(p); p += 4; const rl = buf.readInt16BE(p); p += 2 + Math.max(rl, 0);
      out.push(`${host}:${port}`);
    }
    console.log(out.sort().join(" ")); s.destroy();
  });')" || fail "no Metadata answer from broker-0:29092 inside the network"
[ "$in_network" = "broker-0:29092 broker-1:29092 broker-2:29092 broker-3:29092 broker-4:29092 broker-5:29092" ] || fail "in-network Metadata lists '$in_network'"
say "kcat lists the six brokers on 9092…9097 and reads the 200 records; inside the network: $in_network"

p0_leader="$(describe 't.partitions[0].leader')"
p0_epoch="$(describe 't.partitions[0].leaderEpoch')"
p0_isr="$(describe 't.partitions[0].isr.join(",")')"
say "killing broker-$p0_leader (leads P0, epoch $p0_epoch, ISR [$p0_isr])"
docker kill "$("${COMPOSE[@]}" ps -q "broker-$p0_leader")" >/dev/null
new_leader_ok() {
  local leader epoch
  leader="$(describe 't.partitions[0].leader')"
  epoch="$(describe 't.partitions[0].leaderEpoch')"
  [ "$leader" != "$p0_leader" ] && [ "$leader" -ge 0 ] && [ "$epoch" -gt "$p0_epoch" ] && [[ ",$p0_isr," == *",$leader,"* ]]
}
# broker.session.timeout.ms is 3 s; allow for the controller's check and metadata propagation.
eventually 30 "a new leader from the ISR for P0" new_leader_ok
say "P0 is now led by broker $(describe 't.partitions[0].leader') at epoch $(describe 't.partitions[0].leaderEpoch') (ISR [$(describe 't.partitions[0].isr.join(",")')])"
cli topics describe demo --by-broker | sed 's/^/  /'

read -r total distinct <<<"$(count_records)"
[ "$distinct" = 200 ] || fail "after the failover $distinct of 200 acknowledged records are readable"
seq 201 300 | sed 's/^/smoke-/' | cli produce demo --acks all >/dev/null || fail "produce after the failover"
read -r total distinct <<<"$(count_records)"
[ "$distinct" = 300 ] || fail "after producing 100 more, $distinct of 300 records are readable"
say "every acknowledged record is readable after the failover, and produce still works"

say "PASSED in $((SECONDS - started))s"
