#!/usr/bin/env bash
# CI's chaos stage (issues 6 and 16): bounded Jepsen-style runs on the local target with fixed
# seeds. Each starts a fresh local cluster in a temp dir, runs 90 s of acks=all idempotent
# producers and consumers under the seeded nemesis, heals, waits for the cluster to converge
# (full ISRs, HW = LEO, replicas identical batch by batch), reads every partition and checks the
# history. The runs, as seed:faults[:secure]:
#
#   1:kill,pause,controller,garbage:secure
#                             crashes and pauses of brokers and of the controller, and a window
#                             of abusive requests to every route of every process, on a secure
#                             cluster (local up --secure: TLS, certificates, SCRAM, ACLs)
#   22:diskloss,compound      seed 22 plans a pause/kill/pause of two leaders in turn (short and
#                             long second pause), a broker's disk lost, and a follower's disk lost
#                             with the other replicas of its partition killed before it starts
#                             (KIP-903: it must not be elected with its empty log)
#
# Every run also has three members of one consumer group reading the topic (--group-consumers,
# CHAOS_GROUP_CONSUMERS; 0 turns it off): every acknowledged record must reach the group, no
# committed offset may go back, and the lag must be 0 after the heal (issue 18).
#
# Any violation (or a run that cannot be judged) fails the stage; the failing run's history is
# kept for `tributary chaos check FILE`. CHAOS_RUNS overrides the list; CHAOS_SEEDS (with
# CHAOS_FAULTS, default kill,pause,controller) runs those seeds with one fault list instead.
set -euo pipefail
cd "$(dirname "$0")/.."
# The pinned Node 24 (root devDependency `node`) first on PATH, as under `pnpm run`.
export PATH="$PWD/node_modules/.bin:$PATH"

if [ -n "${CHAOS_SEEDS:-}" ]; then
  runs=""
  for seed in $CHAOS_SEEDS; do runs="$runs $seed:${CHAOS_FAULTS:-kill,pause,controller}"; done
else
  # seed:faults[:secure] — seed 1 runs on a secure cluster (TLS, certificates, SCRAM, ACLs): the
  # replication rules must hold there as they do in plaintext.
  runs=${CHAOS_RUNS:-"1:kill,pause,controller,garbage:secure 22:diskloss,compound"}
fi
duration=${CHAOS_DURATION:-90s}
out=${CHAOS_OUT:-/tmp/tributary-chaos-ci}
mkdir -p "$out"
status=0
for run in $runs; do
  seed=${run%%:*}
  faults=${run#*:}
  secure=()
  if [ "${faults%:secure}" != "$faults" ]; then
    faults=${faults%:secure}
    secure=(--secure)
  fi
  history="$out/history-seed-$seed.jsonl"
  started=$SECONDS
  echo "=== chaos seed $seed, $duration, faults $faults${secure[*]:+, secure} (history $history)"
  if node packages/cli/src/main.ts chaos "${secure[@]}" --duration "$duration" --seed "$seed" --faults "$faults" --group-consumers "${CHAOS_GROUP_CONSUMERS:-3}" --json --history "$history" >"$out/result-seed-$seed.json" 2>"$out/log-seed-$seed.txt"; then
    code=0
  else
    code=$?
  fi
  node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    const w = r.windows.map((x) => `${x.fault}:${x.unavailableMs === undefined ? "never" : (x.unavailableMs / 1000).toFixed(1) + "s"}`).join(" ");
    const c = r.convergence ? `${r.convergence.replicasCompared} replicas compared` : "replicas not compared";
    const g = r.group ? `; group: ${r.group.distinctDelivered} delivered (${r.group.redelivered} again), ${r.group.observations} commits observed, violations ${r.group.violations}` : "";
    console.log(`seed ${r.seed}: ${r.sends.total} sends, ${r.acknowledged} acknowledged, availability ${(r.availability * 100).toFixed(1)}%, violations ${r.violations}, unseen ${r.counts.unseen}, settled ${r.settled}, ${c}, faults ${r.windows.length} [${w}]${g}`);
  ' "$out/result-seed-$seed.json" 2>/dev/null || echo "seed $seed: no result"
  echo "    exit $code after $((SECONDS - started))s"
  if [ "$code" != 0 ]; then
    status=1
    tail -30 "$out/log-seed-$seed.txt"
    echo "re-check with: node packages/cli/src/main.ts chaos check $history"
  fi
done
exit $status
