// The checker: a pure function from a history (every send and read the workload made, the faults,
// and the final read of every partition after heal) to a verdict. No cluster, no clock, no I/O,
// so hand-made histories test it and a saved history re-checks a run (`tributary chaos check`).
//
// Per partition it looks for the anomalies Jepsen looks for in a log (Kafka 0.8, Redpanda 21.10):
//
//   lost-write            an acknowledged value is not in the final log at its acknowledged offset
//   duplicate             a value at more than one offset (in the final log or in any read)
//   inconsistent-offsets  two different values seen at one offset (reads, final log, acks)
//   nonmonotonic          a consumer received an offset at or below one it had already received
//   skip                  a consumer jumped over offsets that the final log holds
//   precommitted-read     a consumer saw a record that the final log does not hold (an aborted,
//                         truncated or never-committed write became visible)
//   failed-write-visible  a write the cluster definitely refused appears in the log
//   phantom               the final log holds a value no producer sent to that partition
//
// and one liveness measure that is not a violation: `unseen`, final-log records that no consumer
// received before the run ended. Indeterminate (`info`) writes may appear or not: both are fine.
//
// From the convergence snapshot taken after the final heal (convergence.ts), two more violations:
//
//   divergent-replicas    two replicas of a partition hold different batches at the same offsets
//   liveness              the cluster did not settle within the settle timeout: a process or broker
//                         not back, a partition offline, short of its ISR, HW below LEO, a replica
//                         behind; or a process ended on its own during the run (a crash: a fatal
//                         line in its log, which no fault writes)

import { CLUSTER_WIDE, evaluateConvergence } from './convergence.ts';
import type { FaultOp, FinalReadOp, History, ReadOp, SendOp } from './history.ts';

export type AnomalyKind =
  | 'lost-write'
  | 'duplicate'
  | 'inconsistent-offsets'
  | 'nonmonotonic'
  | 'skip'
  | 'precommitted-read'
  | 'failed-write-visible'
  | 'phantom'
  | 'divergent-replicas'
  | 'liveness';

export const ANOMALY_KINDS: readonly AnomalyKind[] = [
  'lost-write',
  'duplicate',
  'inconsistent-offsets',
  'nonmonotonic',
  'skip',
  'precommitted-read',
  'failed-write-visible',
  'phantom',
  'divergent-replicas',
  'liveness',
];

export interface Anomaly {
  kind: AnomalyKind;
  /** -1 (CLUSTER_WIDE) for a liveness anomaly of a process or broker rather than a partition. */
  partition: number;
  /** One line a developer can start from: the value(s), offset(s) and who saw what. */
  detail: string;
  value?: string;
  offset?: number;
}

export interface PartitionReport {
  partition: number;
  sends: number;
  ok: number;
  failed: number;
  indeterminate: number;
  /** Indeterminate writes that made it into the final log. */
  indeterminateVisible: number;
  finalRecords: number;
  reads: number;
  unseen: number;
  anomalies: Record<AnomalyKind, number>;
}

export interface FaultWindow {
  id: number;
  fault: string;
  targets: string[];
  startMs: number;
  healedMs?: number;
  partitions: number[];
  /**
   * ms from the fault to the first successful send started at or after it, on the slowest of the
   * partitions it hit; undefined when some partition never had one before the run ended.
   */
  unavailableMs?: number;
  /** The partition that took longest (or never recovered). */
  slowestPartition?: number;
}

export interface CheckResult {
  valid: boolean;
  violations: number;
  counts: Record<AnomalyKind, number> & { unseen: number };
  sends: { total: number; ok: number; failed: number; indeterminate: number };
  /** ok / total sends (1 when there were none). */
  availability: number;
  partitions: PartitionReport[];
  windows: FaultWindow[];
  /** The first anomalies found, in partition order (at most `examplesMax`). */
  examples: Anomaly[];
  /** Partitions the workload wrote to but the history has no final read of. */
  missingFinalReads: number[];
  /** What the convergence snapshot covered; absent when the history has none (older histories). */
  convergence?: { atMs: number; settleTimeoutMs: number; replicasCompared: number; batchesCompared: number };
}

export interface CheckOptions {
  /** How many anomalies to keep as examples. Default 20. */
  examplesMax?: number;
}

function zeroCounts(): Record<AnomalyKind, number> {
  return Object.fromEntries(ANOMALY_KINDS.map((k) => [k, 0])) as Record<AnomalyKind, number>;
}

export function check(history: History, options: CheckOptions = {}): CheckResult {
  const examplesMax = options.examplesMax ?? 20;
  const examples: Anomaly[] = [];
  const counts = { ...zeroCounts(), unseen: 0 };

  const partitionIds = new Set<number>();
  const sendsBy = groupBy(history.sends, (s) => s.partition, partitionIds);
  const readsBy = groupBy(history.reads, (r) => r.partition, partitionIds);
  const finalBy = new Map<number, FinalReadOp>();
  for (const f of history.finals) {
    finalBy.set(f.partition, f);
    partitionIds.add(f.partition);
  }
  if (history.header) for (let p = 0; p < history.header.partitions; p++) partitionIds.add(p);
  for (const p of history.convergence?.partitions ?? []) partitionIds.add(p.partition);

  const missingFinalReads: number[] = [];
  const partitions: PartitionReport[] = [];
  for (const partition of [...partitionIds].sort((a, b) => a - b)) {
    const final = finalBy.get(partition);
    const sends = sendsBy.get(partition) ?? [];
    if (!final && sends.length > 0) missingFinalReads.push(partition);
    const report = checkPartition(partition, sends, readsBy.get(partition) ?? [], final, (a) => {
      counts[a.kind]++;
      if (examples.length < examplesMax) examples.push(a);
    });
    counts.unseen += report.unseen;
    partitions.push(report);
  }

  // Convergence anomalies get examples of their own, so that many data anomalies cannot hide them.
  let convergence: CheckResult['convergence'];
  if (history.convergence !== undefined) {
    const verdict = evaluateConvergence(history.convergence);
    let shown = 0;
    for (const a of verdict.anomalies) {
      counts[a.kind]++;
      if (a.partition !== CLUSTER_WIDE) {
        const report = partitions.find((p) => p.partition === a.partition);
        if (report) report.anomalies[a.kind]++;
      }
      if (shown++ < examplesMax)
        examples.push({ kind: a.kind, partition: a.partition, detail: a.detail, ...(a.offset !== undefined ? { offset: a.offset } : {}) });
    }
    convergence = {
      atMs: history.convergence.atMs,
      settleTimeoutMs: history.convergence.settleTimeoutMs,
      replicasCompared: verdict.replicasCompared,
      batchesCompared: verdict.batchesCompared,
    };
  }

  const total = history.sends.length;
  const ok = history.sends.filter((s) => s.outcome.type === 'ok').length;
  const failed = history.sends.filter((s) => s.outcome.type === 'fail').length;
  const violations = ANOMALY_KINDS.reduce((n, k) => n + counts[k], 0);
  return {
    valid: violations === 0 && missingFinalReads.length === 0,
    violations,
    counts,
    sends: { total, ok, failed, indeterminate: total - ok - failed },
    availability: total === 0 ? 1 : ok / total,
    partitions,
    windows: faultWindows(history.faults, history.sends),
    examples,
    missingFinalReads,
    ...(convergence ? { convergence } : {}),
  };
}

function groupBy<T>(items: readonly T[], key: (item: T) => number, seen: Set<number>): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const item of items) {
    const k = key(item);
    seen.add(k);
    let list = out.get(k);
    if (!list) {
      list = [];
      out.set(k, list);
    }
    list.push(item);
  }
  return out;
}

function checkPartition(
  partition: number,
  sends: readonly SendOp[],
  reads: readonly ReadOp[],
  final: FinalReadOp | undefined,
  report: (a: Anomaly) => void,
): PartitionReport {
  const anomalies = zeroCounts();
  const flag = (a: Omit<Anomaly, 'partition'>) => {
    anomalies[a.kind]++;
    report({ partition, ...a });
  };

  // The final log: offset -> value, and value -> offsets.
  const finalAt = new Map<number, string>();
  const finalOffsetsOf = new Map<string, number[]>();
  if (final) {
    let previous = -1;
    for (const [offset, value] of final.records) {
      if (offset <= previous) {
        flag({ kind: 'nonmonotonic', offset, value, detail: `final read: offset ${offset} came after ${previous}` });
      }
      previous = Math.max(previous, offset);
      const other = finalAt.get(offset);
      if (other !== undefined && other !== value) {
        flag({ kind: 'inconsistent-offsets', offset, value, detail: `final read holds '${other}' and '${value}' at offset ${offset}` });
      }
      finalAt.set(offset, value);
      push(finalOffsetsOf, value, offset);
    }
  }

  const sendOf = new Map<string, SendOp>();
  for (const s of sends) sendOf.set(s.value, s);

  // Every offset's values across everyone who saw it: final log, consumers, acknowledgements.
  const seenAt = new Map<number, Map<string, string>>(); // offset -> value -> first witness
  const witness = (offset: number, value: string, who: string) => {
    let m = seenAt.get(offset);
    if (!m) {
      m = new Map();
      seenAt.set(offset, m);
    }
    if (!m.has(value)) m.set(value, who);
  };
  for (const [offset, value] of finalAt) witness(offset, value, 'final read');
  for (const r of reads) witness(r.offset, r.value, r.process);
  for (const s of sends) if (s.outcome.type === 'ok') witness(s.outcome.offset, s.value, `ack to ${s.process}`);
  for (const [offset, values] of [...seenAt].sort((a, b) => a[0] - b[0])) {
    if (values.size > 1) {
      const list = [...values].map(([v, who]) => `'${v}' (${who})`).join(', ');
      flag({ kind: 'inconsistent-offsets', offset, detail: `offset ${offset} holds different values: ${list}` });
    }
  }

  // Duplicates: one value at more than one offset, in the final log or in any read.
  const offsetsOf = new Map<string, Set<number>>();
  for (const [value, offsets] of finalOffsetsOf) for (const o of offsets) pushSet(offsetsOf, value, o);
  for (const r of reads) pushSet(offsetsOf, r.value, r.offset);
  for (const [value, offsets] of offsetsOf) {
    if (offsets.size > 1) {
      const list = [...offsets].sort((a, b) => a - b);
      flag({ kind: 'duplicate', value, offset: list[0]!, detail: `'${value}' at offsets ${list.join(', ')}` });
    }
  }

  let ok = 0;
  let failed = 0;
  let indeterminate = 0;
  let indeterminateVisible = 0;
  const readValues = new Set(reads.map((r) => r.value));
  for (const s of sends) {
    const inFinal = finalOffsetsOf.has(s.value);
    if (s.outcome.type === 'ok') {
      ok++;
      if (!final) continue;
      const at = finalAt.get(s.outcome.offset);
      if (at !== s.value) {
        const where = inFinal ? `found at offset ${finalOffsetsOf.get(s.value)!.join(', ')}` : 'missing from the final log';
        flag({
          kind: 'lost-write',
          value: s.value,
          offset: s.outcome.offset,
          detail: `'${s.value}' acknowledged to ${s.process} at offset ${s.outcome.offset} (${s.endMs}) is ${where}${at !== undefined ? `; offset ${s.outcome.offset} holds '${at}'` : ''}`,
        });
      }
    } else if (s.outcome.type === 'fail') {
      failed++;
      if (inFinal || readValues.has(s.value)) {
        const where = inFinal ? `final log offset ${finalOffsetsOf.get(s.value)!.join(', ')}` : 'a consumer read';
        flag({
          kind: 'failed-write-visible',
          value: s.value,
          detail: `'${s.value}' failed definitely (${s.outcome.code}) for ${s.process} but appears in ${where}`,
        });
      }
    } else {
      indeterminate++;
      if (inFinal) indeterminateVisible++;
    }
  }

  if (final) {
    for (const [offset, value] of finalAt) {
      if (!sendOf.has(value))
        flag({ kind: 'phantom', value, offset, detail: `final log offset ${offset} holds '${value}', which no producer sent to partition ${partition}` });
    }
  }

  // Each consumer's view: offsets strictly increasing, no jump over records the log holds, and
  // nothing the final log does not hold at that offset.
  const byProcess = new Map<string, ReadOp[]>();
  for (const r of reads) {
    let list = byProcess.get(r.process);
    if (!list) {
      list = [];
      byProcess.set(r.process, list);
    }
    list.push(r);
  }
  const finalOffsets = [...finalAt.keys()].sort((a, b) => a - b);
  const logStart = final?.logStartOffset ?? 0;
  for (const [process, list] of byProcess) {
    let previous = logStart - 1;
    for (const r of list) {
      if (r.offset <= previous) {
        flag({ kind: 'nonmonotonic', value: r.value, offset: r.offset, detail: `${process} read offset ${r.offset} ('${r.value}') after offset ${previous}` });
      } else if (final && r.offset > previous + 1) {
        const skipped = countInRange(finalOffsets, previous + 1, r.offset);
        if (skipped > 0)
          flag({
            kind: 'skip',
            offset: r.offset,
            value: r.value,
            detail: `${process} jumped from offset ${previous} to ${r.offset}, over ${skipped} record(s) the final log holds`,
          });
      }
      previous = Math.max(previous, r.offset);
      if (final && finalAt.get(r.offset) !== r.value) {
        const at = finalAt.get(r.offset);
        flag({
          kind: 'precommitted-read',
          value: r.value,
          offset: r.offset,
          detail: `${process} read '${r.value}' at offset ${r.offset} (${r.atMs}) but the final log ${at === undefined ? 'ends before it or lacks that offset' : `holds '${at}' there`}`,
        });
      }
    }
  }

  let unseen = 0;
  if (final) for (const value of finalAt.values()) if (!readValues.has(value)) unseen++;

  return {
    partition,
    sends: sends.length,
    ok,
    failed,
    indeterminate,
    indeterminateVisible,
    finalRecords: finalAt.size,
    reads: reads.length,
    unseen,
    anomalies,
  };
}

/**
 * For each fault: the time from its start to the first successful send (started at or after the
 * fault) on every partition it hit; the fault's window is the slowest partition's.
 */
export function faultWindows(faults: readonly FaultOp[], sends: readonly SendOp[]): FaultWindow[] {
  const okBy = new Map<number, SendOp[]>();
  for (const s of sends) {
    if (s.outcome.type !== 'ok') continue;
    let list = okBy.get(s.partition);
    if (!list) {
      list = [];
      okBy.set(s.partition, list);
    }
    list.push(s);
  }
  return [...faults]
    .sort((a, b) => a.startMs - b.startMs)
    .map((f) => {
      const window: FaultWindow = { id: f.id, fault: f.fault, targets: f.targets, startMs: f.startMs, partitions: f.partitions };
      if (f.healedMs !== undefined) window.healedMs = f.healedMs;
      let worst = -1;
      let worstPartition: number | undefined;
      let never = false;
      for (const p of f.partitions) {
        let first = Infinity;
        for (const s of okBy.get(p) ?? []) if (s.startMs >= f.startMs && s.endMs < first) first = s.endMs;
        if (first === Infinity) {
          if (!never) worstPartition = p;
          never = true;
          continue;
        }
        if (!never && first - f.startMs > worst) {
          worst = first - f.startMs;
          worstPartition = p;
        }
      }
      if (!never && worst >= 0) window.unavailableMs = worst;
      if (worstPartition !== undefined) window.slowestPartition = worstPartition;
      return window;
    });
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function pushSet<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set) set.add(value);
  else map.set(key, new Set([value]));
}

/** How many of the sorted `offsets` lie in [from, to). */
function countInRange(offsets: readonly number[], from: number, to: number): number {
  return lowerBound(offsets, to) - lowerBound(offsets, from);
}

function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
