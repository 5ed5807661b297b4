#!/usr/bin/env bash
# CI's docker chaos run (issues 6 and 16): the real compose.yaml (project tributary-chaos), then
# one seeded Jepsen-style run with the docker-only faults — a broker cut off the network,
# congestion on a follower's host-side veth — and the sequences, which take docker pause, kill
# and start with them: compound (pause a leader, kill it, pause the next) and diskloss (a stopped
# broker's volume emptied). Seed 398 over 75 s plans, in this order, a compound, a network cut,
# a follower's volume emptied with the other replicas of its partition killed before it starts
# (KIP-903), and a congestion. Any violation, or a cluster that does not converge after the
# heal, fails; `down -v` always.
# Needs the image tributary:dev (built by .ci/docker.sh) and host ports 19090-19097 free.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

PROJECT=tributary-chaos
export TRIBUTARY_CHAOS_PROJECT=$PROJECT
if docker-compose version >/dev/null 2>&1; then COMPOSE=(docker-compose); else COMPOSE=(docker compose); fi
COMPOSE+=(-p "$PROJECT" -f compose.yaml)
seed=${CHAOS_DOCKER_SEED:-398}
duration=${CHAOS_DOCKER_DURATION:-75s}
faults=${CHAOS_DOCKER_FAULTS:-partition,congest,diskloss,compound}
out=${CHAOS_OUT:-/tmp/tributary-chaos-ci}
mkdir -p "$out"
trap '"${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true' EXIT

"${COMPOSE[@]}" up -d >/dev/null 2>&1
init_id="$("${COMPOSE[@]}" ps -q init)"
[ "$(timeout 120 docker wait "$init_id")" = 0 ] || { docker logs "$init_id" >&2; exit 1; }
deadline=$((SECONDS + 90))
until [ "$(docker ps --filter label=com.docker.compose.project=$PROJECT --filter health=healthy -q | wc -l)" = 7 ]; do
  [ $SECONDS -lt $deadline ] || { echo "compose cluster not healthy in 90 s" >&2; "${COMPOSE[@]}" ps >&2; exit 1; }
  sleep 1
done

history="$out/history-docker-seed-$seed.jsonl"
echo "=== docker chaos seed $seed, $duration, faults $faults (history $history)"
if node packages/cli/src/main.ts chaos --target docker --duration "$duration" --seed "$seed" \
    --faults "$faults" --json --history "$history" >"$out/result-docker.json" 2>"$out/log-docker.txt"; then
  node -e 'const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")); console.log(`docker seed ${r.seed}: ${r.acknowledged} acknowledged, availability ${(r.availability * 100).toFixed(1)}%, violations ${r.violations}, settled ${r.settled}, faults ${r.windows.length} [${r.windows.map((w) => w.fault).join(" ")}]`);' "$out/result-docker.json"
else
  code=$?
  tail -40 "$out/log-docker.txt"
  # The containers' own logs go with `down -v`: keep them beside the history for a post-mortem.
  for c in $(docker ps -a --filter label=com.docker.compose.project=$PROJECT --format '{{.Names}}'); do
    docker logs "$c" >"$out/docker-$c.log" 2>&1 || true
  done
  echo "docker chaos run failed (exit $code); container logs in $out/docker-*.log; re-check with: node packages/cli/src/main.ts chaos check $history"
  exit 1
fi
