// Rendering a verdict: the table a person reads, and the one JSON object `--json` prints.

import { ANOMALY_KINDS, type Anomaly, type CheckResult } from './checker.ts';
import { CLUSTER_WIDE } from './convergence.ts';
import type { ScheduledFault } from './schedule.ts';

const SHORT: Record<string, string> = {
  'lost-write': 'LOST',
  duplicate: 'DUP',
  'inconsistent-offsets': 'INCONS',
  nonmonotonic: 'NONMONO',
  skip: 'SKIP',
  'precommitted-read': 'PRECOMM',
  'failed-write-visible': 'FAILVIS',
  phantom: 'PHANTOM',
  'divergent-replicas': 'DIVERGE',
  liveness: 'LIVENESS',
};

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

export function renderReport(result: CheckResult): string[] {
  const header = ['PARTITION', 'SENDS', 'OK', 'FAIL', 'INFO', 'INFO-SEEN', 'LOG', 'READS', 'UNSEEN', ...ANOMALY_KINDS.map((k) => SHORT[k]!)];
  const rows = result.partitions.map((p) => [
    String(p.partition),
    String(p.sends),
    String(p.ok),
    String(p.failed),
    String(p.indeterminate),
    String(p.indeterminateVisible),
    String(p.finalRecords),
    String(p.reads),
    String(p.unseen),
    ...ANOMALY_KINDS.map((k) => String(p.anomalies[k])),
  ]);
  const lines = table([header, ...rows]);
  lines.push('');
  lines.push(
    `sends: ${result.sends.total} (ok ${result.sends.ok}, definite failures ${result.sends.failed}, indeterminate ${result.sends.indeterminate}); availability ${(result.availability * 100).toFixed(2)}%`,
  );
  if (result.windows.length > 0) {
    lines.push('');
    lines.push(
      ...table([
        ['FAULT', 'TARGETS', 'PARTITIONS', 'DOWN FOR', 'UNAVAILABLE'],
        ...result.windows.map((w) => [
          `${w.id} ${w.fault}`,
          w.targets.join(','),
          w.partitions.join(','),
          w.healedMs !== undefined ? `${((w.healedMs - w.startMs) / 1000).toFixed(1)}s` : '?',
          w.unavailableMs !== undefined ? `${(w.unavailableMs / 1000).toFixed(1)}s (p${w.slowestPartition})` : `never recovered (p${w.slowestPartition})`,
        ]),
      ]),
    );
  }
  lines.push('');
  if (result.missingFinalReads.length > 0) lines.push(`no final read of partitions ${result.missingFinalReads.join(', ')}: the run cannot be judged`);
  if (result.convergence) {
    const c = result.convergence;
    lines.push(
      `replicas: ${c.replicasCompared} follower replica(s) compared batch by batch with their leaders (${c.batchesCompared} identical batches), settle timeout ${(c.settleTimeoutMs / 1000).toFixed(0)} s`,
    );
  } else {
    lines.push('replicas: not compared (the history has no convergence snapshot)');
  }
  if (result.counts.unseen > 0)
    lines.push(`unseen: ${result.counts.unseen} committed record(s) no consumer received before the end (liveness, not a violation)`);
  if (result.violations === 0) {
    lines.push(result.valid ? 'verdict: no violations' : 'verdict: incomplete');
  } else {
    const kinds = ANOMALY_KINDS.filter((k) => result.counts[k] > 0).map((k) => `${k} ${result.counts[k]}`);
    lines.push(`verdict: ${result.violations} violation(s): ${kinds.join(', ')}`);
    lines.push('first offending records:');
    for (const a of result.examples) lines.push(`  ${describeAnomaly(a)}`);
  }
  return lines;
}

/** The `--json` object: counts, violations, availability, the schedule and the windows. */
export function reportJson(
  result: CheckResult,
  extra: {
    topic?: string;
    seed?: number;
    durationMs?: number;
    faults?: readonly string[];
    schedule?: readonly ScheduledFault[];
    settled?: boolean;
    history?: string;
  } = {},
): Record<string, unknown> {
  return {
    ...extra,
    valid: result.valid,
    violations: result.violations,
    counts: result.counts,
    sends: result.sends,
    acknowledged: result.sends.ok,
    availability: Number(result.availability.toFixed(4)),
    windows: result.windows,
    partitions: result.partitions,
    missingFinalReads: result.missingFinalReads,
    examples: result.examples,
    ...(result.convergence ? { convergence: result.convergence } : {}),
  };
}

/** One anomaly on one line: `[kind] partition N: detail`, or `[kind] cluster: detail`. */
export function describeAnomaly(a: Anomaly): string {
  return `[${a.kind}] ${a.partition === CLUSTER_WIDE ? 'cluster' : `partition ${a.partition}`}: ${a.detail}`;
}
