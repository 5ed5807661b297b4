#!/usr/bin/env bash
# CI's chaos stage (issue 6): two bounded Jepsen-style runs on the local target with fixed seeds,
# faults kill, pause and controller. Each starts a fresh local cluster in a temp dir, runs 90 s of
# acks=all idempotent producers and consumers under the seeded nemesis, heals, reads every
# partition and checks the history. Any violation (or a run that cannot be judged) fails the
# stage; the failing run's history is kept for `tributary chaos check FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
# The pinned Node 24 (root devDependency `node`) first on PATH, as under `pnpm run`.
export PATH="$PWD/node_modules/.bin:$PATH"

seeds=${CHAOS_SEEDS:-"1 2"}
duration=${CHAOS_DURATION:-90s}
faults=${CHAOS_FAULTS:-kill,pause,controller}
out=${CHAOS_OUT:-/tmp/tributary-chaos-ci}
mkdir -p "$out"
status=0
for seed in $seeds; do
  history="$out/history-seed-$seed.jsonl"
  started=$SECONDS
  echo "=== chaos seed $seed, $duration, faults $faults (history $history)"
  if node packages/cli/src/main.ts chaos --duration "$duration" --seed "$seed" --faults "$faults" --json --history "$history" >"$out/result-seed-$seed.json" 2>"$out/log-seed-$seed.txt"; then
    code=0
  else
    code=$?
  fi
  node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    const w = r.windows.map((x) => `${x.fault}:${x.unavailableMs === undefined ? "never" : (x.unavailableMs / 1000).toFixed(1) + "s"}`).join(" ");
    console.log(`seed ${r.seed}: ${r.sends.total} sends, ${r.acknowledged} acknowledged, availability ${(r.availability * 100).toFixed(1)}%, violations ${r.violations}, unseen ${r.counts.unseen}, faults ${r.windows.length} [${w}]`);
  ' "$out/result-seed-$seed.json" 2>/dev/null || echo "seed $seed: no result"
  echo "    exit $code after $((SECONDS - started))s"
  if [ "$code" != 0 ]; then
    status=1
    tail -30 "$out/log-seed-$seed.txt"
    echo "re-check with: node packages/cli/src/main.ts chaos check $history"
  fi
done
exit $status
