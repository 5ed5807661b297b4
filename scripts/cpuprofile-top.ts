// Summarises V8 .cpuprofile files (from `node --cpu-prof`): self time per function, and per
// file/package, across every profile given. Used to find the per-record costs behind `pnpm bench`.
//
//   node scripts/cpuprofile-top.ts [--top N] [--by function|file] [--last SECONDS] [--between FROM_US,TO_US] [--callers NAME] [--inclusive] FILE.cpuprofile…
//
// --between takes CLOCK_MONOTONIC microseconds, the clock of `process.hrtime.bigint() / 1000n`
// and of the profiles' own timestamps: a driver prints it around the phase it measures, so the
// profiles of other processes can be cut to exactly that phase (not start-up, not shutdown).

import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  /** CLOCK_MONOTONIC µs of the first sample's time base. */
  startTime: number;
}

const args = process.argv.slice(2);
let top = 40;
let by: 'function' | 'file' = 'function';
/** With --callers NAME: self time of functions named NAME, split by their caller chain (3 deep). */
let callersOf: string | undefined;
/** With --last S: only the last S seconds of each profile (the measured phase, not start-up). */
let lastSeconds = Infinity;
/** With --inclusive: time under each function (itself and what it calls), not self time. */
let inclusive = false;
/** With --between FROM,TO: only samples in that CLOCK_MONOTONIC µs window. */
let between: [number, number] | undefined;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else if (args[i] === '--by') by = args[++i] as 'function' | 'file';
  else if (args[i] === '--callers') callersOf = args[++i];
  else if (args[i] === '--last') lastSeconds = Number(args[++i]);
  else if (args[i] === '--inclusive') inclusive = true;
  else if (args[i] === '--between') between = args[++i]!.split(',').map(Number) as [number, number];
  else files.push(args[i]!);
}
if (files.length === 0) {
  console.error(
    'usage: node scripts/cpuprofile-top.ts [--top N] [--by function|file] [--last SECONDS] [--between FROM_US,TO_US] [--callers NAME] [--inclusive] FILE.cpuprofile…',
  );
  process.exit(2);
}

const selfUs = new Map<string, number>();
let totalUs = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const label = (n: ProfileNode): string =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(packages|node_modules)\//, '')}:${n.callFrame.lineNumber + 1}`;
  const spanUs = profile.timeDeltas.reduce((a, b) => a + b, 0);
  let atUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!)!;
    const dt = profile.timeDeltas[i] ?? 0;
    atUs += dt;
    if (spanUs - atUs > lastSeconds * 1e6) continue;
    if (between !== undefined && (profile.startTime + atUs < between[0] || profile.startTime + atUs > between[1])) continue;
    totalUs += dt;
    const { functionName, url, lineNumber } = node.callFrame;
    if (inclusive) {
      const seen = new Set<string>();
      for (let n: ProfileNode | undefined = node; n !== undefined; n = parent.get(n.id)) {
        const key = label(n);
        if (seen.has(key)) continue;
        seen.add(key);
        selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
      }
      continue;
    }
    if (callersOf !== undefined) {
      if (functionName !== callersOf) continue;
      const chain: string[] = [];
      for (let p = parent.get(node.id); p !== undefined && chain.length < 3; p = parent.get(p.id)) chain.push(label(p));
      const key = chain.join(' < ');
      selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
      continue;
    }
    const short = url.replace(/^file:\/\/.*?node_modules\/\.pnpm\/([^/]+)\/node_modules\//, 'pkg:').replace(/^file:\/\/.*?\/packages\//, '');
    const key =
      by === 'file' ? (short.startsWith('pkg:') ? short.split('/')[0]! : short || functionName) : `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
  }
}
const rows = [...selfUs.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
console.log(`total ${(totalUs / 1e6).toFixed(2)} s sampled over ${files.length} profile(s)`);
for (const [key, us] of rows) console.log(`${((100 * us) / totalUs).toFixed(1).padStart(5)} %  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${key}`);
