// The convergence check on hand-made snapshots: a settled cluster passes; each way of not
// settling (liveness) and each way two replicas can differ (divergent-replicas) is reported, with
// the first offset and the brokers.
import { describe, expect, it } from 'vitest';
import type { BatchDigest, ReplicaDigest } from '@tributary/protocol';
import { check } from './checker.ts';
import { CLUSTER_WIDE, evaluateConvergence, type ConvergenceKind } from './convergence.ts';
import { emptyHistory, parseHistory, type ConvergenceOp } from './history.ts';
import { describeAnomaly, renderReport } from './report.ts';

/** Batches of two records each, epoch 1 then epoch 2 from offset 6, CRCs made up per batch. */
function batches(end: number, epochAt = (base: number) => (base < 6 ? 1 : 2)): BatchDigest[] {
  const out: BatchDigest[] = [];
  for (let base = 0; base < end; base += 2) out.push([base, base + 1, epochAt(base), 0x1000 + base]);
  return out;
}

function digest(partition: number, role: 'leader' | 'follower', end: number, overrides: Partial<ReplicaDigest> = {}): ReplicaDigest {
  return { partition, role, leaderEpoch: 2, logStartOffset: 0, highWatermark: end, logEndOffset: end, batches: batches(end), batchesEnd: end, ...overrides };
}

/** Two partitions, replicas [0,1,2] and [1,2,0], led by their first replica, 10 records each, all identical. */
function settled(): ConvergenceOp {
  const partitions = [
    { partition: 0, leader: 0, leaderEpoch: 2, replicas: [0, 1, 2], isr: [0, 1, 2] },
    { partition: 1, leader: 1, leaderEpoch: 2, replicas: [1, 2, 0], isr: [1, 2, 0] },
  ];
  const brokers = [0, 1, 2].map((id) => ({
    brokerId: id,
    alive: true,
    replicas: partitions.map((p) => digest(p.partition, p.leader === id ? 'leader' : 'follower', 10)),
  }));
  return {
    kind: 'convergence',
    atMs: 5000,
    settleTimeoutMs: 120_000,
    processes: [{ name: 'controller', status: 'running' }, ...[0, 1, 2].map((id) => ({ name: `broker-${id}`, status: 'running' }))],
    partitions,
    brokers,
  };
}

function replicaOf(op: ConvergenceOp, broker: number, partition: number): ReplicaDigest {
  return op.brokers.find((b) => b.brokerId === broker)!.replicas!.find((r) => r.partition === partition)!;
}

function only(op: ConvergenceOp, kind: ConvergenceKind, partition: number, detail: RegExp) {
  const { anomalies } = evaluateConvergence(op);
  expect(anomalies.length, JSON.stringify(anomalies)).toBeGreaterThan(0);
  expect(
    anomalies.every((a) => a.kind === kind && a.partition === partition),
    JSON.stringify(anomalies),
  ).toBe(true);
  expect(anomalies.map((a) => a.detail).join('\n')).toMatch(detail);
  return anomalies;
}

describe('evaluateConvergence', () => {
  it('reports a process that ended on its own during the run (a fatal line in its log), though the final heal brought it back', () => {
    const op = { ...settled(), crashes: [{ process: 'broker-2', atMs: 3000, message: 'uncaught exception: read ECONNRESET' }] };
    only(op, 'liveness', CLUSTER_WIDE, /broker-2 ended on its own .*uncaught exception: read ECONNRESET/);
  });

  it('finds nothing in a settled cluster and counts what it compared', () => {
    expect(evaluateConvergence(settled())).toEqual({ anomalies: [], replicasCompared: 4, batchesCompared: 20 });
  });

  it('reports a follower whose batch differs in CRC: divergent-replicas at that batch, naming both brokers', () => {
    const op = settled();
    replicaOf(op, 2, 0).batches[3]![3] = 0xdead;
    const [a] = only(
      op,
      'divergent-replicas',
      0,
      /replicas differ from offset 6: leader 0 has batch 6..7 \(epoch 2, crc 00001006\), broker 2 has batch 6..7 \(epoch 2, crc 0000dead\)/,
    );
    expect(a).toMatchObject({ offset: 6, brokers: [0, 2] });
  });

  it("reports a follower that kept an old epoch's batch at the same offsets (a truncation that never happened)", () => {
    const op = settled();
    replicaOf(op, 1, 0).batches = batches(10, () => 1);
    only(op, 'divergent-replicas', 0, /from offset 6: leader 0 has batch 6..7 \(epoch 2.*broker 1 has batch 6..7 \(epoch 1/);
  });

  it('reports batches cut at other offsets, and a gap, as divergence', () => {
    const cut = settled();
    replicaOf(cut, 2, 1).batches = [
      [0, 2, 1, 1],
      [3, 9, 2, 2],
    ];
    only(cut, 'divergent-replicas', 1, /from offset 0: leader 1 has batch 0..1 .*, broker 2 has batch 0..2/);
    const gap = settled();
    replicaOf(gap, 0, 1).batches.splice(2, 1);
    only(gap, 'divergent-replicas', 1, /from offset 4: leader 1 has batch 4..5 .* broker 0 has batch 6..7/);
  });

  it("reports a follower holding records past the leader's end as divergent", () => {
    const op = settled();
    Object.assign(replicaOf(op, 2, 1), { logEndOffset: 14 });
    const [a] = only(op, 'divergent-replicas', 1, /broker 2's log runs to 14, past the leader 1's end 10/);
    expect(a!.offset).toBe(10);
  });

  it('reports a stuck follower (out of the ISR, log cut back below the HW) as liveness, and its wrong tail as divergence', () => {
    const behind = settled();
    behind.partitions[0]!.isr = [0, 1];
    Object.assign(replicaOf(behind, 2, 0), { highWatermark: 4, logEndOffset: 4, batches: batches(4), batchesEnd: 4 });
    only(behind, 'liveness', 0, /ISR \[0,1\] is short of the replicas \[0,1,2\][\s\S]*broker 2's log ends at 4, below the leader 0's HW 10/);

    const wrongTail = settled();
    wrongTail.partitions[0]!.isr = [0, 1];
    Object.assign(replicaOf(wrongTail, 2, 0), { highWatermark: 8, logEndOffset: 9, batches: batches(8, () => 1), batchesEnd: 8 });
    const { anomalies } = evaluateConvergence(wrongTail);
    expect(anomalies.map((a) => a.kind).sort()).toEqual(['divergent-replicas', 'liveness']);
  });

  it("compares a follower up to the leader's HW, past its own: a stuck follower's wrong batches below it are divergence", () => {
    // Broker 2 follows with HW 0 (it never converged) but holds 8 records, listed up to the
    // leader's HW: its batch at 6 carries epoch 1 where the leader has epoch 2.
    const op = settled();
    op.partitions[0]!.isr = [0, 1];
    Object.assign(replicaOf(op, 2, 0), { highWatermark: 0, logEndOffset: 8, batches: batches(8, () => 1), batchesEnd: 8 });
    const { anomalies } = evaluateConvergence(op);
    expect(anomalies.map((a) => a.kind)).toEqual(['liveness', 'divergent-replicas']);
    expect(anomalies[1]).toMatchObject({ partition: 0, offset: 6, brokers: [0, 2] });
    expect(anomalies[1]!.detail).toMatch(/compared up to offset 8/);
  });

  it("names the leader's batch that runs past the compared range where the follower has others", () => {
    // The leader holds one batch 6..11; the stuck follower ends at 8 with epoch-1 batches 6..7.
    const op = settled();
    op.partitions[0]!.isr = [0, 1];
    Object.assign(replicaOf(op, 0, 0), { highWatermark: 12, logEndOffset: 12, batches: [...batches(6), [6, 11, 2, 0xabc]], batchesEnd: 12 });
    for (const b of [1])
      Object.assign(replicaOf(op, b, 0), { highWatermark: 12, logEndOffset: 12, batches: [...batches(6), [6, 11, 2, 0xabc]], batchesEnd: 12 });
    Object.assign(replicaOf(op, 2, 0), { highWatermark: 0, logEndOffset: 8, batches: batches(8, () => 1), batchesEnd: 8 });
    const divergent = evaluateConvergence(op).anomalies.find((a) => a.kind === 'divergent-replicas');
    expect(divergent?.detail).toBe(
      'replicas differ from offset 6: leader 0 has batch 6..11 (epoch 2, crc 00000abc), broker 2 has batch 6..7 (epoch 1, crc 00001006) (compared up to offset 8)',
    );
  });

  it('reads a snapshot from before batchesEnd as listed up to each HW', () => {
    const op = settled();
    for (const b of op.brokers) for (const r of b.replicas!) delete (r as Partial<ReplicaDigest>).batchesEnd;
    expect(evaluateConvergence(op)).toEqual({ anomalies: [], replicasCompared: 4, batchesCompared: 20 });
    replicaOf(op, 2, 0).batches[3]![3] = 1;
    expect(evaluateConvergence(op).anomalies.map((a) => a.kind)).toEqual(['divergent-replicas']);
  });

  it('compares only what a page listed when it stopped short', () => {
    const op = settled();
    // The follower's list stopped at 4 (nextOffset): a difference past it is not seen, and what
    // was listed agrees.
    Object.assign(replicaOf(op, 1, 0), { batches: batches(4), nextOffset: 4 });
    expect(evaluateConvergence(op).anomalies).toEqual([]);
  });

  it('reports a leader whose HW is below its LEO, and a follower whose HW lags', () => {
    const op = settled();
    Object.assign(replicaOf(op, 0, 0), { highWatermark: 8 });
    only(op, 'liveness', 0, /leader 0: HW 8 ≠ LEO 10/);
    const lag = settled();
    Object.assign(replicaOf(lag, 2, 1), { highWatermark: 8, batches: batches(8), batchesEnd: 8 });
    only(lag, 'liveness', 1, /broker 2's HW is 8, the leader 1's 10/);
  });

  it('reports an offline partition, a missing replica, a replica on another epoch or acting as leader', () => {
    const offline = settled();
    Object.assign(offline.partitions[1]!, { leader: -1, isr: [1] });
    only(offline, 'liveness', 1, /offline: no leader \(ISR \[1\]\)/);

    const missing = settled();
    missing.brokers[2]!.replicas = missing.brokers[2]!.replicas!.filter((r) => r.partition !== 0);
    only(missing, 'liveness', 0, /broker 2 holds no replica of it/);

    const stale = settled();
    replicaOf(stale, 1, 0).leaderEpoch = 1;
    only(stale, 'liveness', 0, /broker 1 is at leader epoch 1, the metadata at 2/);

    const twoLeaders = settled();
    replicaOf(twoLeaders, 2, 0).role = 'leader';
    only(twoLeaders, 'liveness', 0, /broker 2 also acts as leader/);

    const demoted = settled();
    replicaOf(demoted, 0, 0).role = 'follower';
    only(demoted, 'liveness', 0, /broker 0, leader in the metadata \(epoch 2\), acts as a follower/);
  });

  it('reports a process not back, a fenced broker and a broker that did not answer once, cluster-wide', () => {
    const op = settled();
    op.processes[2]!.status = 'stopped';
    op.brokers[1]!.alive = false;
    delete op.brokers[1]!.replicas;
    op.brokers[1]!.error = 'BROKER_NOT_AVAILABLE: connect ECONNREFUSED';
    const { anomalies } = evaluateConvergence(op);
    expect(anomalies.filter((a) => a.partition !== CLUSTER_WIDE)).toEqual([]);
    expect(anomalies.map((a) => a.detail)).toEqual([
      'broker-1 is stopped after the final heal',
      'broker 1 is not alive in the metadata (fenced, or not registered again)',
      'broker 1 did not answer for its replicas: BROKER_NOT_AVAILABLE: connect ECONNREFUSED',
    ]);
  });

  it('reports metadata that could not be read', () => {
    const op = { ...settled(), partitions: [], brokers: [], error: 'cannot reach any broker' };
    only(op, 'liveness', CLUSTER_WIDE, /metadata could not be read 120 s after the final heal: cannot reach any broker/);
  });

  it('without a leader, compares the replicas with the one that committed most', () => {
    const op = settled();
    Object.assign(op.partitions[0]!, { leader: -1, isr: [1] });
    delete op.brokers[0]!.replicas;
    op.brokers[0]!.error = 'down';
    replicaOf(op, 2, 0).batches[0]![3] = 7;
    const kinds = evaluateConvergence(op).anomalies.map((a) => [a.kind, a.partition, a.brokers]);
    expect(kinds).toContainEqual(['divergent-replicas', 0, [1, 2]]);
    expect(kinds).toContainEqual(['liveness', 0, undefined]);
  });
});

describe('check with a convergence snapshot', () => {
  it('counts divergent-replicas and liveness as violations, per partition and cluster-wide', () => {
    const op = settled();
    replicaOf(op, 2, 0).batches[1]![3] = 1;
    op.processes[0]!.status = 'paused';
    const result = check({ ...emptyHistory(), convergence: op });
    expect(result.valid).toBe(false);
    expect(result.violations).toBe(2);
    expect(result.counts).toMatchObject({ 'divergent-replicas': 1, liveness: 1 });
    expect(result.partitions.find((p) => p.partition === 0)?.anomalies['divergent-replicas']).toBe(1);
    expect(result.examples.map(describeAnomaly)).toEqual([
      '[liveness] cluster: controller is paused after the final heal',
      expect.stringMatching(/^\[divergent-replicas\] partition 0: replicas differ from offset 2/),
    ]);
    expect(result.convergence).toEqual({ atMs: 5000, settleTimeoutMs: 120_000, replicasCompared: 4, batchesCompared: 16 });
    expect(renderReport(result).join('\n')).toMatch(/verdict: 2 violation\(s\): divergent-replicas 1, liveness 1/);
  });

  it('passes a settled snapshot, and says so', () => {
    const result = check({ ...emptyHistory(), convergence: settled() });
    expect(result.valid).toBe(true);
    expect(renderReport(result).join('\n')).toMatch(/replicas: 4 follower replica\(s\) compared batch by batch with their leaders \(20 identical batches\)/);
  });

  it('judges an older history without a snapshot as before, and says the replicas were not compared', () => {
    const result = check(emptyHistory());
    expect(result.valid).toBe(true);
    expect(result.convergence).toBeUndefined();
    expect(renderReport(result).join('\n')).toMatch(/replicas: not compared/);
  });

  it('round-trips the snapshot through JSON lines', () => {
    const op = settled();
    replicaOf(op, 2, 1).batches[4]![2] = 9;
    const parsed = parseHistory(`${JSON.stringify(op)}\n`);
    expect(parsed.convergence).toEqual(op);
    expect(check(parsed).counts['divergent-replicas']).toBe(1);
  });
});

describe('evaluateConvergence on a compacted topic', () => {
  /** Replica 2's cleaner rewrote partition 0 below offset 6: other CRCs, a stretched batch, one gone. */
  function cleanedOnOneReplica(): ConvergenceOp {
    const op = settled();
    const r = replicaOf(op, 2, 0);
    r.rewrittenToOffset = 6;
    r.batches = [[0, 3, 1, 0xc1ea0], [4, 5, 1, 0xc1ea4], ...r.batches.filter((b) => b[0] >= 6)];
    return op;
  }

  it('tolerates what independent cleaning changes below the rewritten offset, and compares every byte above it', () => {
    const op = cleanedOnOneReplica();
    expect(evaluateConvergence(op).anomalies).toEqual([]);
    // Above it nothing was cleaned: a difference there is a divergence.
    replicaOf(op, 2, 0).batches.at(-1)![3] = 0xdead;
    only(op, 'divergent-replicas', 0, /replicas differ from offset 8/);
  });

  it('still catches a batch whose leader epoch differs at the same offset below it', () => {
    const op = cleanedOnOneReplica();
    replicaOf(op, 2, 0).batches[1]![2] = 2;
    only(op, 'divergent-replicas', 0, /differ at offset 4, below where compaction rewrote them \(6\).*epoch 1.*epoch 2/);
  });

  it('without a rewritten offset the same differences are divergences (not a compacted log)', () => {
    const op = cleanedOnOneReplica();
    delete replicaOf(op, 2, 0).rewrittenToOffset;
    only(op, 'divergent-replicas', 0, /replicas differ from offset 0/);
  });
});
