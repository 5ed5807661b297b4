#!/usr/bin/env bash
# The seed, live, on the compose cluster: a producer keeps writing to `demo` (10 partitions,
# RF 3, min.insync.replicas=2) with acks=all in the background while the script breaks things,
# prints `tributary topics describe demo --by-broker` after each step, says what you should see,
# and checks it.
#
#   1. kill -9 the container leading P0  -> a follower from the ISR leads, leader epoch + 1
#   2. docker pause a follower           -> it leaves the ISR; unpause -> it rejoins
#   3. congestion: netem delay 300ms (or, without netem, a 1 Mbit/s tbf) on a follower's veth
#      and a burst of data
#                                         -> it lags > 10 s, leaves the ISR; remove -> rejoins
#   4. stop P0's followers: one replica of three left
#                                         -> acks=all refused with NOT_ENOUGH_REPLICAS; start -> ok
#   5. restart the broker killed in 1    -> it catches up, rejoins, leads P0 again (preferred)
#
# Usage: scripts/demo.sh [--down]     (--down: `docker-compose down -v` at the end)
# Needs: the tributary:dev image (node scripts/build.ts && docker build -t tributary:dev -f
# docker/Dockerfile .), docker-compose or Compose v2, tc (iproute2) and root or sudo for step 3.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

NODE="${NODE:-$ROOT/node_modules/.bin/node}"
[ -x "$NODE" ] || NODE=node
PROJECT="${COMPOSE_PROJECT_NAME:-tributary}"
if docker-compose version >/dev/null 2>&1; then COMPOSE=(docker-compose); else COMPOSE=(docker compose); fi
COMPOSE+=(-p "$PROJECT" -f compose.yaml)
SUDO=()
[ "$(id -u)" = 0 ] || SUDO=(sudo)
DOWN=0
[ "${1:-}" = --down ] && DOWN=1

# The CLI and the producer below find the cluster by the CLI's default bootstrap, every broker
# compose publishes (127.0.0.1:19092…19097), so whichever broker a step kills, the rest answer.
DEMO_DIR="$(mktemp -d /tmp/tributary-demo.XXXXXX)"

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
say() { printf '  %s\n' "$*"; }
expect() { printf '  \033[36mexpect:\033[0m %s\n' "$*"; }
ok() { printf '  \033[32mok:\033[0m %s\n' "$*"; }
fail() {
  printf '  \033[31mFAILED:\033[0m %s\n' "$*"
  exit 1
}
cli() { "$NODE" packages/cli/src/main.ts "$@"; }
table() { cli topics describe demo --by-broker | sed 's/^/    /'; }
container() { "${COMPOSE[@]}" ps -q "broker-$1"; }

# q 'expr' evaluates a JS expression over t = `topics describe demo --json` (p(n) = partition n).
q() {
  cli topics describe demo --json 2>/dev/null | "$NODE" -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const t = JSON.parse(s); const p = (n) => t.partitions[n];
      console.log(eval(process.argv[1]));
    });' "$1"
}
# until_true <timeout-s> <description> 'expr': polls q until it prints true; prints the seconds.
until_true() {
  local timeout=$1 what=$2 expr=$3 t0=$SECONDS
  until [ "$(q "$expr" 2>/dev/null || echo false)" = true ]; do
    [ $((SECONDS - t0)) -lt "$timeout" ] || fail "$what: not within ${timeout}s"
    sleep 0.5
  done
  echo $((SECONDS - t0))
}

PRODUCER_PID=
NETEM_DEV=
cleanup() {
  [ -z "$NETEM_DEV" ] || "${SUDO[@]}" tc qdisc del dev "$NETEM_DEV" root 2>/dev/null || true
  for c in $("${COMPOSE[@]}" ps -q 2>/dev/null); do docker unpause "$c" >/dev/null 2>&1 || true; done
  [ -z "$PRODUCER_PID" ] || kill "$PRODUCER_PID" 2>/dev/null || true
  if [ "$DOWN" = 1 ]; then
    "${COMPOSE[@]}" down -v >/dev/null 2>&1 || true
  else
    printf '\nThe cluster keeps running: %s down -v   to remove it.\n' "${COMPOSE[*]}"
  fi
  rm -rf "$DEMO_DIR"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
bold "0. The cluster: controller + six brokers, rack-1 = {0,1,2}, rack-2 = {3,4,5}"
"${COMPOSE[@]}" up -d 2>&1 | sed 's/^/    /'
init_id="$("${COMPOSE[@]}" ps -q init)"
[ "$(timeout 120 docker wait "$init_id")" = 0 ] || fail "init (creates demo) did not succeed: $(docker logs "$init_id" 2>&1 | tail -3)"
# A rerun on a cluster the demo already went through: every broker up, leaders preferred.
for id in 0 1 2 3 4 5; do docker start "$(container $id)" >/dev/null; done
until_true 60 "all six brokers alive, every ISR full" 't.partitions.every((x) => x.isr.length === 3)' >/dev/null
cli topics elect-leaders demo >/dev/null 2>&1 || true
until_true 30 "preferred leaders" 't.partitions.every((x) => x.leader === x.replicas[0])' >/dev/null
expect "the seed's table: P0 [0,3,1] led by B0, P1 [3,1,4] by B3, … P5 [5,0,3], P6 [0,3,1] …"
table
[ "$(q 't.partitions.map((x) => x.replicas.join("")).join(" ")')" = "031 314 142 425 250 503 031 314 142 425" ] || fail "placement differs from the seed"
ok "placement is the seed's table"

# The background producer: the client library (no build needed, Node 24 runs the TypeScript),
# acks=all, one record to each partition in turn; records it gives up on after 8 s are counted
# by error code, so NOT_ENOUGH_REPLICAS shows up in step 4.
cat >"$DEMO_DIR/producer.mjs" <<EOF
import { appendFileSync, writeFileSync } from 'node:fs';
import { Producer } from '$ROOT/packages/client/src/index.ts';
import { defaultBootstrap } from '$ROOT/packages/cli/src/bootstrap.ts';
const producer = new Producer({ bootstrap: process.env.TRIBUTARY_BOOTSTRAP ?? defaultBootstrap(process.env), acks: 'all', deliveryTimeoutMs: 8000, requestTimeoutMs: 4000, metadataMaxAgeMs: 1000 });
let acked = 0, failed = 0, running = true, i = 0;
const errors = {};
const inflight = new Set();
process.on('SIGTERM', () => { running = false; });
const status = () => writeFileSync('$DEMO_DIR/status', JSON.stringify({ acked, failed, errors }));
const timer = setInterval(status, 500);
while (running) {
  const value = 'demo-' + i, partition = i % 10;
  i++;
  const send = producer.send({ topic: 'demo', partition, value }).then(
    () => { acked++; appendFileSync('$DEMO_DIR/acked', value + '\n'); },
    (err) => { failed++; const code = err.code ?? err.message; errors[code] = (errors[code] ?? 0) + 1; },
  ).finally(() => inflight.delete(send));
  inflight.add(send);
  await new Promise((r) => setTimeout(r, 25));
  while (inflight.size >= 200) await Promise.race(inflight);
}
await Promise.allSettled(inflight);
status();
clearInterval(timer);
await producer.close();
EOF
"$NODE" "$DEMO_DIR/producer.mjs" 2>"$DEMO_DIR/producer.err" &
PRODUCER_PID=$!
producer_status() { cat "$DEMO_DIR/status" 2>/dev/null || echo '{}'; }
acked_count() { "$NODE" -e 'try { console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).acked ?? 0) } catch { console.log(0) }' "$DEMO_DIR/status"; }
wait_acked_more() {
  local target=$(($(acked_count) + $1)) t0=$SECONDS
  until [ "$(acked_count)" -ge "$target" ]; do
    [ $((SECONDS - t0)) -lt 30 ] || fail "the producer is stuck: $(producer_status)"
    sleep 0.5
  done
}
wait_acked_more 40
say "producer running (acks=all, ~40 records/s over all partitions): $(producer_status)"

# ---------------------------------------------------------------------------------------------
bold "1. kill -9 the broker leading P0"
leader="$(q 'p(0).leader')"
epoch="$(q 'p(0).leaderEpoch')"
isr="$(q 'p(0).isr.join(",")')"
KILLED=$leader
say "P0: leader B$leader, epoch $epoch, ISR [$isr]; docker kill broker-$leader"
docker kill "$(container "$leader")" >/dev/null
expect "within broker.session.timeout.ms (3 s) the controller fences B$leader; P0 (and every partition B$leader led) gets a new leader from its ISR, epoch $((epoch + 1)); B$leader leaves the ISRs"
secs="$(until_true 30 "a new leader for P0" "p(0).leader !== $leader && p(0).leader >= 0")"
new_leader="$(q 'p(0).leader')"
table
[[ ",$isr," == *",$new_leader,"* ]] || fail "new leader B$new_leader was not in the ISR [$isr]"
[ "$(q 'p(0).leaderEpoch')" = $((epoch + 1)) ] || fail "epoch is $(q 'p(0).leaderEpoch'), expected $((epoch + 1))"
ok "P0 led by B$new_leader (was in the ISR) at epoch $((epoch + 1)) after ${secs}s"
wait_acked_more 40
ok "the producer carries on: $(producer_status)"

# ---------------------------------------------------------------------------------------------
bold "2. docker pause a follower"
# A follower of P1 that is alive and not P0's replica, so P0 keeps its two copies for step 4.
follower="$(q '[4, 5, 2].find((b) => p(1).isr.includes(b) && p(1).leader !== b && !p(0).replicas.includes(b)) ?? p(1).isr.find((b) => b !== p(1).leader)')"
say "P1: leader B$(q 'p(1).leader'), ISR [$(q 'p(1).isr.join(",")')]; docker pause broker-$follower"
docker pause "$(container "$follower")" >/dev/null
expect "B$follower stops fetching and heartbeating: it leaves every ISR within ~10 s (replica.lag.time.max.ms = 10 s; the controller may fence it sooner, after the 3 s session timeout); acks=all goes on with 2 of 3 copies"
secs="$(until_true 30 "B$follower out of P1's ISR" "!p(1).isr.includes($follower)")"
table
ok "B$follower left the ISR after ${secs}s; P1 ISR [$(q 'p(1).isr.join(",")')]"
docker unpause "$(container "$follower")" >/dev/null
expect "unpaused, B$follower fetches what it missed and rejoins"
secs="$(until_true 60 "B$follower back in P1's ISR" "p(1).isr.includes($follower)")"
table
ok "B$follower rejoined the ISR ${secs}s after unpause"

# ---------------------------------------------------------------------------------------------
bold "3. Network congestion on a follower"
# B5 follows P3, P4 and P9: pick one it follows in sync, with a live leader.
laggard=5
part="$(q "[3, 4, 9].find((n) => p(n).leader >= 0 && p(n).leader !== $laggard && p(n).isr.includes($laggard)) ?? -1")"
[ "$part" -ge 0 ] || fail "B$laggard follows no partition in sync"
iflink="$(docker exec "$(container $laggard)" cat /sys/class/net/eth0/iflink)"
NETEM_DEV="$(ip -o link | awk -F': ' -v idx="$iflink" '$1 == idx { split($2, a, "@"); print a[1] }')"
[ -n "$NETEM_DEV" ] || fail "no host-side veth with index $iflink for broker-$laggard"
# netem (delay) is the natural model of a congested link; kernels built without sch_netem (some
# CI VMs) get a token bucket instead: a thin pipe, with the queue capped so control traffic
# (heartbeats) still gets through while bulk replication falls behind.
# The rate cap makes the lag certain whatever the machine's speed; the short queue (limit) keeps
# heartbeat answers from waiting behind bulk data, so the broker is not fenced, only lagging.
if "${SUDO[@]}" tc qdisc add dev "$NETEM_DEV" root netem delay 300ms rate 1mbit limit 50 2>/dev/null; then
  say "broker-$laggard's host-side veth is $NETEM_DEV (iflink $iflink): tc qdisc add dev $NETEM_DEV root netem delay 300ms rate 1mbit limit 50"
  shaping="300 ms of delay at 1 Mbit/s"
else
  "${SUDO[@]}" tc qdisc add dev "$NETEM_DEV" root tbf rate 1mbit burst 32kbit latency 300ms
  say "broker-$laggard's host-side veth is $NETEM_DEV (iflink $iflink); this kernel has no netem, so: tc qdisc add dev $NETEM_DEV root tbf rate 1mbit burst 32kbit latency 300ms"
  shaping="a 1 Mbit/s link"
fi
say "and a burst of 16 MiB into P$part (leader B$(q "p($part).leader"), ISR [$(q "p($part).isr.join(\",\")")]), more than $shaping lets B$laggard copy in 10 s"
"$NODE" -e 'const line = "x".repeat(16383) + "\n"; for (let i = 0; i < 1024; i++) process.stdout.write(line);' |
  cli produce demo --partition "$part" --acks 1 --linger-ms 20 >/dev/null 2>"$DEMO_DIR/burst.err" &
burst=$!
expect "B$laggard falls behind P$part's leader (acks=all to P$part waits for it meanwhile: the background producer may count a few REQUEST_TIMED_OUT); after 10 s without catching up (replica.lag.time.max.ms) the leader asks the controller to drop it from the ISR"
secs="$(until_true 60 "B$laggard out of P$part's ISR" "!p($part).isr.includes($laggard)")"
table
ok "B$laggard left P$part's ISR ${secs}s into the congestion"
wait "$burst" || fail "the burst was not written: $(tail -3 "$DEMO_DIR/burst.err")"
"${SUDO[@]}" tc qdisc del dev "$NETEM_DEV" root
NETEM_DEV=
expect "congestion removed: B$laggard catches up and rejoins"
secs="$(until_true 90 "B$laggard back in P$part's ISR" "p($part).isr.includes($laggard)")"
table
ok "B$laggard rejoined P$part's ISR ${secs}s after the delay was removed"

# ---------------------------------------------------------------------------------------------
bold "4. Not enough replicas: stop P0's followers"
p0_leader="$(q 'p(0).leader')"
followers="$(q 'p(0).isr.filter((b) => b !== p(0).leader).join(" ")')"
say "P0: replicas [$(q 'p(0).replicas.join(",")')], leader B$p0_leader, ISR [$(q 'p(0).isr.join(",")')]; docker stop the in-sync followers: ${followers:-none}"
for b in $followers; do docker stop "$(container "$b")" >/dev/null; done
say "two of P0's three replicas are now down: $(q 'p(0).replicas.filter((b) => b !== p(0).leader).map((b) => "B" + b).join(" and ")') (B$KILLED since step 1)"
expect "P0's ISR is [$p0_leader] alone, below min.insync.replicas = 2: acks=all to P0 is refused with NOT_ENOUGH_REPLICAS (acks=1 still works)"
until_true 30 "P0's ISR down to its leader" "p(0).isr.length === 1 && p(0).leader === $p0_leader" >/dev/null
table
out="$(echo refused | cli produce demo --partition 0 --acks all --delivery-timeout-ms 4000 2>&1)" && fail "acks=all to P0 succeeded: $out"
[[ "$out" == *NOT_ENOUGH_REPLICAS* ]] || fail "acks=all to P0 failed, but not with NOT_ENOUGH_REPLICAS: $out"
ok "acks=all refused: $(echo "$out" | grep -m1 NOT_ENOUGH_REPLICAS)"
echo accepted | cli produce demo --partition 0 --acks 1 >/dev/null || fail "acks=1 to P0 failed too"
ok "acks=1 accepted by the leader alone"
say "background producer: $(producer_status)"
for b in $followers; do docker start "$(container "$b")" >/dev/null; done
expect "followers back: P0's ISR grows to 2+ and acks=all works again"
secs="$(until_true 60 "P0's ISR back to 2 or more" 'p(0).isr.length >= 2')"
echo recovered | cli produce demo --partition 0 --acks all >/dev/null || fail "acks=all to P0 still fails"
table
ok "acks=all to P0 works again ${secs}s after the restart"

# ---------------------------------------------------------------------------------------------
bold "5. Restart the broker killed in step 1 (B$KILLED)"
docker start "$(container "$KILLED")" >/dev/null
expect "B$KILLED recovers its log from its volume, truncates to its leader epoch boundaries, fetches what it missed, rejoins every ISR, and, as P0's preferred replica, leads P0 again (auto.leader.rebalance.enable)"
secs="$(until_true 90 "B$KILLED back in P0's ISR" "p(0).isr.includes($KILLED)")"
ok "B$KILLED rejoined P0's ISR after ${secs}s"
secs="$(until_true 60 "B$KILLED leading P0 again" "p(0).leader === $KILLED")"
table
ok "B$KILLED leads P0 again (epoch $(q 'p(0).leaderEpoch')), ${secs}s later"

# ---------------------------------------------------------------------------------------------
bold "Every acknowledged record is there"
kill -TERM "$PRODUCER_PID"
wait "$PRODUCER_PID" || true
PRODUCER_PID=
say "producer: $(producer_status)"
cli consume demo --from-beginning --timeout-ms 5000 --json >"$DEMO_DIR/consumed"
"$NODE" -e '
  const fs = require("fs");
  const acked = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
  const seen = new Map();
  for (const line of fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean)) {
    const v = JSON.parse(line).value;
    seen.set(v, (seen.get(v) ?? 0) + 1);
  }
  const missing = acked.filter((v) => !seen.has(v));
  const twice = acked.filter((v) => seen.get(v) > 1);
  console.log(`  ${acked.length} acknowledged, ${missing.length} missing, ${twice.length} duplicated`);
  process.exit(missing.length + twice.length === 0 ? 0 : 1);
' "$DEMO_DIR/acked" "$DEMO_DIR/consumed" || fail "acknowledged records are missing or duplicated"
ok "no acknowledged record lost or duplicated through all five steps"
