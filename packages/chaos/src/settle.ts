// After the final heal: waits until the cluster has converged — every process back, every
// partition led with its full ISR and HW = LEO, every replica identical to its leader batch by
// batch — or the settle timeout has passed, and returns the last snapshot taken (the history
// records it; convergence.ts judges it, here to decide when to stop waiting and in the checker to
// report). A cheap look at the leaders' view comes first; replica digests, which read every log,
// are gathered only once that looks settled, and once more at the deadline.

import type { Admin, TopicDescription } from '@tributary/client';
import { evaluateConvergence } from './convergence.ts';
import type { ConvergenceOp } from './history.ts';

export interface SettleOptions {
  admin: Admin;
  topic: string;
  partitions: number;
  timeoutMs: number;
  /** Every process of the cluster and its state, from the nemesis. */
  processes: () => Promise<{ name: string; status: string }[]>;
  /** Between two looks. Default 500. */
  pollMs?: number;
}

export interface SettledPartition {
  partition: number;
  logStartOffset: number;
  /** Number.MAX_SAFE_INTEGER when no leader told its HW (the final read then stops when idle). */
  highWatermark: number;
}

export interface SettleResult {
  converged: boolean;
  /** Why not, in a few words (the first problems found). */
  why: string;
  snapshot: ConvergenceOp;
  /** Where the final read starts and ends, from the leaders in the snapshot. */
  partitions: SettledPartition[];
}

export async function waitConverged(options: SettleOptions): Promise<SettleResult> {
  const deadline = Date.now() + options.timeoutMs;
  const pollMs = options.pollMs ?? 500;
  for (;;) {
    const last = Date.now() >= deadline;
    if ((await leadersView(options.admin, options.topic)).length === 0 || last) {
      const snapshot = await takeSnapshot(options);
      const { anomalies } = evaluateConvergence(snapshot);
      if (anomalies.length === 0 || last) {
        const why = anomalies
          .slice(0, 5)
          .map((a) => `${a.partition >= 0 ? `p${a.partition}: ` : ''}${a.detail}`)
          .join('; ');
        return { converged: anomalies.length === 0, why, snapshot, partitions: finalReadRange(snapshot, options.partitions) };
      }
    }
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(pollMs, deadline - Date.now()))));
  }
}

/** What the leaders say: no leader, ISR short, HW below LEO; empty when all looks settled. */
async function leadersView(admin: Admin, topic: string): Promise<string[]> {
  try {
    const d = await admin.describeTopicVerbose(topic);
    const problems: string[] = [];
    for (const p of d.partitions) {
      if (p.leader < 0) problems.push(`${p.partition}: no leader`);
      else if (p.isr.length < p.replicas.length) problems.push(`${p.partition}: ISR [${p.isr}] of [${p.replicas}]`);
      else if (p.highWatermark === undefined) problems.push(`${p.partition}: ${p.error ?? 'leader did not answer'}`);
      else if (p.highWatermark !== p.logEndOffset) problems.push(`${p.partition}: HW ${p.highWatermark} < LEO ${p.logEndOffset}`);
    }
    return problems;
  } catch (err) {
    return [(err as Error).message];
  }
}

/**
 * One snapshot: the topic's metadata, every broker's replica digests, the processes. Taken again
 * (up to three times) when the metadata moved while the digests were read, so that leaders and
 * ISRs match the logs they are judged with.
 */
export async function takeSnapshot(options: Pick<SettleOptions, 'admin' | 'topic' | 'processes' | 'timeoutMs'>): Promise<ConvergenceOp> {
  const { admin, topic } = options;
  let op: ConvergenceOp | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const atMs = Date.now();
    let error: string | undefined;
    let before: TopicDescription | undefined;
    try {
      before = await admin.describeTopic(topic);
    } catch (err) {
      error = (err as Error).message;
    }
    const cluster = await admin.describeCluster().catch((err: Error) => {
      error ??= err.message;
      return undefined;
    });
    const ids = new Set<number>([...(cluster?.brokers.map((b) => b.id) ?? []), ...(before?.partitions.flatMap((p) => p.replicas) ?? [])]);
    const brokers = await Promise.all(
      [...ids]
        .sort((a, b) => a - b)
        .map(async (brokerId) => {
          const alive = cluster?.brokers.find((b) => b.id === brokerId)?.alive ?? false;
          try {
            return { brokerId, alive, replicas: await admin.replicaDigests(brokerId, topic) };
          } catch (err) {
            return { brokerId, alive, error: (err as Error).message };
          }
        }),
    );
    if (before !== undefined) await extendFollowers(admin, topic, before, brokers);
    const after = before === undefined ? undefined : await admin.describeTopic(topic).catch(() => undefined);
    const processes = await options.processes().catch((err: Error) => [{ name: 'nemesis', status: `unable to list processes: ${err.message}` }]);
    op = {
      kind: 'convergence',
      atMs,
      settleTimeoutMs: options.timeoutMs,
      processes,
      partitions: (before?.partitions ?? []).map((p) => ({
        partition: p.partition,
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
        replicas: [...p.replicas],
        isr: [...p.isr],
      })),
      brokers,
      ...(error !== undefined ? { error } : {}),
    };
    if (before === undefined || (after !== undefined && sameLeadership(before, after))) break;
  }
  return op!;
}

/**
 * A follower lists its batches below its own HW, which lags the leader's by a fetch round trip —
 * or for good, in a follower that cannot converge, whose log up to the leader's HW is exactly
 * what must be compared. Each follower short of its leader's HW is asked again for the rest, up
 * to that HW (or its own LEO).
 */
async function extendFollowers(admin: Admin, topic: string, description: TopicDescription, brokers: ConvergenceOp['brokers']): Promise<void> {
  const leaderHw = new Map<number, number>();
  for (const p of description.partitions) {
    const hw = brokers.find((b) => b.brokerId === p.leader)?.replicas?.find((r) => r.partition === p.partition)?.highWatermark;
    if (hw !== undefined) leaderHw.set(p.partition, hw);
  }
  await Promise.all(
    brokers.map(async (b) => {
      const short = (b.replicas ?? []).filter((r) => {
        const hw = leaderHw.get(r.partition);
        return (
          r.role === 'follower' && r.error === undefined && r.nextOffset === undefined && hw !== undefined && r.batchesEnd < hw && r.batchesEnd < r.logEndOffset
        );
      });
      if (short.length === 0) return;
      try {
        const rest = await admin.replicaDigests(b.brokerId, topic, {
          partitions: short.map((r) => ({ partition: r.partition, fromOffset: r.batchesEnd, toOffset: leaderHw.get(r.partition)! })),
        });
        for (const more of rest) {
          const r = short.find((x) => x.partition === more.partition);
          if (r === undefined) continue;
          for (const batch of more.batches) r.batches.push(batch);
          r.batchesEnd = more.batchesEnd;
          if (more.nextOffset !== undefined) r.nextOffset = more.nextOffset;
          if (more.error !== undefined) r.error = more.error;
        }
      } catch (err) {
        b.error = `listing followers up to the leaders' HW: ${(err as Error).message}`;
      }
    }),
  );
}

function sameLeadership(a: TopicDescription, b: TopicDescription): boolean {
  return (
    a.partitions.length === b.partitions.length &&
    a.partitions.every((p, i) => {
      const q = b.partitions[i]!;
      return p.partition === q.partition && p.leader === q.leader && p.leaderEpoch === q.leaderEpoch && p.isr.join() === q.isr.join();
    })
  );
}

/** Each partition's log start and HW as its leader reported them in the snapshot. */
function finalReadRange(op: ConvergenceOp, partitions: number): SettledPartition[] {
  return Array.from({ length: partitions }, (_, partition) => {
    const leader = op.partitions.find((p) => p.partition === partition)?.leader ?? -1;
    const digest = op.brokers.find((b) => b.brokerId === leader)?.replicas?.find((r) => r.partition === partition);
    return digest === undefined
      ? { partition, logStartOffset: 0, highWatermark: Number.MAX_SAFE_INTEGER }
      : { partition, logStartOffset: digest.logStartOffset, highWatermark: digest.highWatermark };
  });
}
