// Whether the cluster converged after the final heal (issue 16 § 8), judged from one snapshot
// (history.ts ConvergenceOp): every process back, every partition led with its full ISR and
// HW = LEO, and every replica's log identical to the leader's, batch by batch (base and last
// offset, partition leader epoch, CRC). Pure: the run asks it when to stop waiting, the checker
// reports what it finds, and a saved history re-checks without a cluster.
//
//   liveness            the cluster did not get back to a settled state: a process down, a broker
//                       fenced, a partition offline or short of its ISR, HW below LEO, a replica
//                       behind or missing
//   divergent-replicas  two replicas of a partition hold different batches at the same offsets,
//                       or a follower holds records past the leader's end
//
// A compacted topic (cleanup.policy=compact) is compared where it is comparable. Each replica's
// log cleaner rewrites its own closed segments on its own schedule, as Kafka's do: below the
// highest `rewrittenToOffset` any replica of the partition reports, batches may hold fewer
// records, new CRCs and stretched last offsets on one replica and not yet on another, so there
// only the leader epoch of batches starting at the same offset on both sides is compared (the
// cleaner keeps every batch's base offset and epoch, so two replicas that agree on history agree
// on those). From that offset on no cleaner has touched anything, and the batches must be
// identical as everywhere else.

import type { BatchDigest, ReplicaDigest } from '@tributary/protocol';
import type { ConvergenceOp } from './history.ts';

export type ConvergenceKind = 'liveness' | 'divergent-replicas';

/** Partition -1: the cluster as a whole (a process, a broker). */
export const CLUSTER_WIDE = -1;

export interface ConvergenceAnomaly {
  kind: ConvergenceKind;
  partition: number;
  detail: string;
  /** divergent-replicas: the first offset where the two replicas differ. */
  offset?: number;
  /** The brokers involved. */
  brokers?: number[];
}

export interface ConvergenceResult {
  anomalies: ConvergenceAnomaly[];
  /** Follower replicas compared with their partition's leader (or reference replica). */
  replicasCompared: number;
  /** Batches found identical in those comparisons. */
  batchesCompared: number;
}

interface Held {
  broker: number;
  digest: ReplicaDigest;
}

export function evaluateConvergence(op: ConvergenceOp): ConvergenceResult {
  const anomalies: ConvergenceAnomaly[] = [];
  const liveness = (partition: number, detail: string, brokers?: number[]) =>
    anomalies.push({ kind: 'liveness', partition, detail, ...(brokers ? { brokers } : {}) });
  let replicasCompared = 0;
  let batchesCompared = 0;

  if (op.error !== undefined) liveness(CLUSTER_WIDE, `the topic's metadata could not be read ${seconds(op.settleTimeoutMs)} after the final heal: ${op.error}`);
  for (const p of op.processes) if (p.status !== 'running') liveness(CLUSTER_WIDE, `${p.name} is ${p.status} after the final heal`);
  // The final heal restarts whatever is down, so a process that crashed mid-run is found by its log.
  for (const c of op.crashes ?? []) liveness(CLUSTER_WIDE, `${c.process} ended on its own (a fatal line in its log, not a fault): ${c.message}`);
  const brokers = new Map(op.brokers.map((b) => [b.brokerId, b]));
  for (const b of op.brokers) {
    if (!b.alive) liveness(CLUSTER_WIDE, `broker ${b.brokerId} is not alive in the metadata (fenced, or not registered again)`, [b.brokerId]);
    if (b.error !== undefined) liveness(CLUSTER_WIDE, `broker ${b.brokerId} did not answer for its replicas: ${b.error}`, [b.brokerId]);
  }

  for (const p of [...op.partitions].sort((a, b) => a.partition - b.partition)) {
    if (p.leader < 0) liveness(p.partition, `offline: no leader (ISR [${p.isr.join(',')}])`);
    else if (!sameMembers(p.isr, p.replicas)) liveness(p.partition, `ISR [${p.isr.join(',')}] is short of the replicas [${p.replicas.join(',')}]`);

    const held: Held[] = [];
    for (const id of p.replicas) {
      const b = brokers.get(id);
      if (b === undefined) {
        liveness(p.partition, `replica broker ${id} is not in the cluster`, [id]);
        continue;
      }
      // A broker that did not answer is reported once, above, not once per partition.
      if (b.replicas === undefined) continue;
      const digest = b.replicas.find((r) => r.partition === p.partition);
      if (digest === undefined) liveness(p.partition, `broker ${id} holds no replica of it`, [id]);
      else if (digest.error !== undefined) liveness(p.partition, `broker ${id} could not read its log: ${digest.error.code} ${digest.error.message}`, [id]);
      else held.push({ broker: id, digest });
    }

    const leader = held.find((h) => h.broker === p.leader);
    if (leader !== undefined) {
      const d = leader.digest;
      if (d.role !== 'leader')
        liveness(p.partition, `broker ${leader.broker}, leader in the metadata (epoch ${p.leaderEpoch}), acts as a ${d.role} (epoch ${d.leaderEpoch})`, [
          leader.broker,
        ]);
      if (d.highWatermark !== d.logEndOffset) liveness(p.partition, `leader ${leader.broker}: HW ${d.highWatermark} ≠ LEO ${d.logEndOffset}`, [leader.broker]);
    }
    for (const h of held) {
      if (h !== leader && h.digest.role === 'leader')
        liveness(
          p.partition,
          `broker ${h.broker} also acts as leader (epoch ${h.digest.leaderEpoch}; the metadata names ${p.leader}, epoch ${p.leaderEpoch})`,
          [h.broker],
        );
      else if (p.leader >= 0 && h.digest.leaderEpoch !== p.leaderEpoch)
        liveness(p.partition, `broker ${h.broker} is at leader epoch ${h.digest.leaderEpoch}, the metadata at ${p.leaderEpoch}`, [h.broker]);
    }

    // Compare every other replica with the leader's log, or, without one, with the replica that
    // has committed the most.
    const reference = leader ?? [...held].sort((a, b) => b.digest.highWatermark - a.digest.highWatermark)[0];
    if (reference === undefined) continue;
    // Where the bytes of a compacted partition become comparable (see the header).
    const rewrittenTo = Math.max(0, ...held.map((h) => h.digest.rewrittenToOffset ?? 0));
    for (const other of held) {
      if (other === reference) continue;
      replicasCompared++;
      const compared = compareReplicas(p.partition, reference, other, reference === leader, rewrittenTo);
      batchesCompared += compared.identical;
      if (compared.anomaly) anomalies.push(compared.anomaly);
    }
  }
  return { anomalies, replicasCompared, batchesCompared };
}

/**
 * One follower against the reference replica: their batches over the range both listed, then
 * where each log ends. The first difference is what is reported.
 */
function compareReplicas(
  partition: number,
  ref: Held,
  other: Held,
  refIsLeader: boolean,
  rewrittenTo: number,
): { identical: number; anomaly?: ConvergenceAnomaly } {
  const a = ref.digest;
  const b = other.digest;
  const brokers = [ref.broker, other.broker];
  const refName = refIsLeader ? `leader ${ref.broker}` : `broker ${ref.broker}`;
  const logStart = Math.max(a.logStartOffset, b.logStartOffset);
  const end = Math.min(listedEnd(a), listedEnd(b));
  // Below rewrittenTo (compaction): batches starting at the same offset carry the same epoch.
  const cleaned = (x: BatchDigest) => x[0] >= logStart && x[0] < rewrittenTo && x[1] < end;
  const epochAt = new Map(b.batches.filter(cleaned).map((x) => [x[0], x]));
  for (const x of a.batches.filter(cleaned)) {
    const y = epochAt.get(x[0]);
    if (y !== undefined && y[2] !== x[2]) {
      return {
        identical: 0,
        anomaly: {
          kind: 'divergent-replicas',
          partition,
          offset: x[0],
          brokers,
          detail: `replicas differ at offset ${x[0]}, below where compaction rewrote them (${rewrittenTo}): ${refName} has ${describeBatch(x)}, broker ${other.broker} has ${describeBatch(y)}; a batch keeps its leader epoch when cleaned`,
        },
      };
    }
  }
  const start = Math.max(logStart, rewrittenTo);
  // rewrittenTo is where an untouched batch starts on every replica; without compaction a batch
  // counts by its last offset, as it always has.
  const inRange = (x: BatchDigest) => (rewrittenTo > 0 ? x[0] >= start : x[1] >= start) && x[1] < end;
  const as = a.batches.filter(inRange);
  const bs = b.batches.filter(inRange);
  let identical = 0;
  for (let i = 0; i < Math.max(as.length, bs.length); i++) {
    const x = as[i];
    const y = bs[i];
    if (x !== undefined && y !== undefined && x[0] === y[0] && x[1] === y[1] && x[2] === y[2] && x[3] === y[3]) {
      identical++;
      continue;
    }
    const offset = Math.min(x?.[0] ?? Infinity, y?.[0] ?? Infinity);
    // A side with no batch in the range may hold one that starts there and runs past its end.
    const left = x ?? batchAt(a.batches, offset);
    const right = y ?? batchAt(b.batches, offset);
    return {
      identical,
      anomaly: {
        kind: 'divergent-replicas',
        partition,
        offset,
        brokers,
        detail: `replicas differ from offset ${offset}: ${refName} has ${describeBatch(left)}, broker ${other.broker} has ${describeBatch(right)} (compared up to offset ${end})`,
      },
    };
  }
  if (refIsLeader && b.logEndOffset > a.logEndOffset) {
    return {
      identical,
      anomaly: {
        kind: 'divergent-replicas',
        partition,
        offset: a.logEndOffset,
        brokers,
        detail: `broker ${other.broker}'s log runs to ${b.logEndOffset}, past the ${refName}'s end ${a.logEndOffset}: records the leader does not have`,
      },
    };
  }
  if (b.logEndOffset < a.highWatermark) {
    return {
      identical,
      anomaly: {
        kind: 'liveness',
        partition,
        brokers,
        detail: `broker ${other.broker}'s log ends at ${b.logEndOffset}, below the ${refName}'s HW ${a.highWatermark}`,
      },
    };
  }
  if (b.highWatermark !== a.highWatermark) {
    return {
      identical,
      anomaly: { kind: 'liveness', partition, brokers, detail: `broker ${other.broker}'s HW is ${b.highWatermark}, the ${refName}'s ${a.highWatermark}` },
    };
  }
  return { identical };
}

/**
 * Where a digest's batch list ends: where it was asked to (HW, or the leader's HW for a
 * follower), or where a page stopped short. A snapshot from before batchesEnd existed listed up
 * to the HW.
 */
function listedEnd(d: ReplicaDigest): number {
  return d.nextOffset ?? (d.batchesEnd as number | undefined) ?? d.highWatermark;
}

/** The batch holding `offset`, if the list has one. */
function batchAt(batches: readonly BatchDigest[], offset: number): BatchDigest | undefined {
  return batches.find((b) => b[0] <= offset && offset <= b[1]);
}

function describeBatch(b: BatchDigest | undefined): string {
  return b === undefined ? 'no batch there' : `batch ${b[0]}..${b[1]} (epoch ${b[2]}, crc ${b[3].toString(16).padStart(8, '0')})`;
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(0)} s`;
}
