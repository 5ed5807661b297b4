// The reassignment phase: how long moving one replica of a big partition takes under a
// replication throttle, and what the move costs a producer writing to the other partitions.
//
//   1. Partition 0 of a new topic (10 partitions, RF 3) is filled with `sizeMB` of 64 KB values,
//      acks=all, and waited on until every replica holds it (not timed).
//   2. A producer (acks=all, idempotent, 100-byte values, as the produce phase) writes to
//      partitions 1-9 as fast as the cluster takes, for the whole phase; its acknowledgements are
//      counted in 100 ms buckets.
//   3. After a warm-up, an undisturbed window as long as the move is expected to take (at least
//      5 s) gives the baseline rate.
//   4. The throttle is set as `tributary reassign execute --throttle` sets it (KIP-73: the moving
//      partition's current replicas on the leader list, the new one on the follower list, both
//      rates on every broker involved), then one follower of partition 0 is replaced by a broker
//      of the same rack that holds none of it. The move is timed from the request until the
//      controller lists no reassignment (every target replica in the ISR, the old one removed);
//      the producer's rate over the same interval is the disturbed figure.
//   5. The throttle is removed (as `reassign status` does once the move is done).
//
// Expected: size / throttle (1 GB at 50 MB/s: 20 s; the brokers' token buckets allow one second of
// burst, so a little less), and a producer rate during the move within 10 % of the baseline.

import { randomBytes } from 'node:crypto';
import { type Admin, Producer } from '@tributary/client';
import type { ClusterStateFile } from '@tributary/launcher';
import { cpuSeconds } from './cluster.ts';
import { Progress } from './progress.ts';
import { VALUE_BYTES, createBenchTopic, sleep, waitFor } from './workload.ts';

const FILL_VALUE_BYTES = 64 * 1024;
const FILL_INFLIGHT_MAX = 64;
const BUCKET_MS = 100;
const WARMUP_MS = 3000;
const BASELINE_MIN_MS = 5000;

export interface ReassignPhaseResult {
  partitionBytes: number;
  throttleBytesPerSec: number;
  /** From the reassignment request until the controller listed none in progress. */
  moveSeconds: number;
  /** partitionBytes / throttle. */
  expectedSeconds: number;
  /** partitionBytes / moveSeconds, MB/s (10^6). */
  copyMBps: number;
  /** The partition's leader (it sends the copy), the follower replaced, and the broker that copies it. */
  leader: number;
  movedFrom: number;
  movedTo: number;
  /** The producer on the other partitions: acknowledged records/s undisturbed, and during the move. */
  baselineRecordsPerSec: number;
  duringRecordsPerSec: number;
  /** during / baseline. */
  throughputRatio: number;
  baselineSeconds: number;
  failedRecords: number;
  fillSeconds: number;
  /**
   * CPU cores in use (CPU seconds per second) over the baseline window and over the move: the
   * cluster's processes, the partition's leader, the broker it moved to, and this (client)
   * process. Absent without launcher state.
   */
  cores?: { baseline: CoreUse; during: CoreUse };
}

export interface CoreUse {
  cluster: number;
  leader: number;
  newReplica: number;
  client: number;
}

/** CPU seconds so far of every process in the launcher state, by broker id (-1: the controller), and of this process. */
function cpuSnapshot(state: ClusterStateFile | undefined): { byBroker: Map<number, number>; client: number } | undefined {
  if (state === undefined) return undefined;
  const byBroker = new Map<number, number>();
  for (const p of state.processes) {
    const s = cpuSeconds(p.pid);
    if (s === undefined) return undefined;
    byBroker.set(p.brokerId ?? -1, s);
  }
  const c = process.cpuUsage();
  return { byBroker, client: (c.user + c.system) / 1e6 };
}

function coreUse(
  a: ReturnType<typeof cpuSnapshot>,
  b: ReturnType<typeof cpuSnapshot>,
  seconds: number,
  leader: number,
  newReplica: number,
): CoreUse | undefined {
  if (a === undefined || b === undefined || seconds <= 0) return undefined;
  const of = (id: number) => ((b.byBroker.get(id) ?? 0) - (a.byBroker.get(id) ?? 0)) / seconds;
  let cluster = 0;
  for (const id of b.byBroker.keys()) cluster += of(id);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { cluster: r(cluster), leader: r(of(leader)), newReplica: r(of(newReplica)), client: r((b.client - a.client) / seconds) };
}

/** Acknowledgements per second between two times, from counts in BUCKET_MS buckets since `t0`. Pure. */
export function rateBetween(buckets: readonly number[], fromMs: number, toMs: number): number {
  const first = Math.floor(fromMs / BUCKET_MS);
  const last = Math.floor(toMs / BUCKET_MS);
  let n = 0;
  for (let i = first; i < last; i++) n += buckets[i] ?? 0;
  const seconds = ((last - first) * BUCKET_MS) / 1000;
  return seconds > 0 ? n / seconds : 0;
}

export async function reassignPhase(
  bootstrap: string,
  admin: Admin,
  topic: string,
  sizeMB: number,
  throttleMBps: number,
  state: () => ClusterStateFile | undefined,
): Promise<ReassignPhaseResult> {
  await createBenchTopic(admin, topic, 10);
  const partitionBytes = sizeMB * 1e6;
  const rate = throttleMBps * 1e6;

  // 1. Fill partition 0.
  const fillStart = performance.now();
  const count = Math.ceil(partitionBytes / FILL_VALUE_BYTES);
  const fillProgress = new Progress('reassign: fill P0', count);
  const value = randomBytes(FILL_VALUE_BYTES);
  const filler = new Producer({ bootstrap, acks: 'all', idempotent: true });
  try {
    const inflight = new Set<Promise<unknown>>();
    for (let i = 0; i < count; i++) {
      const send = filler.send({ topic, partition: 0, value }).finally(() => inflight.delete(send));
      inflight.add(send);
      if (inflight.size >= FILL_INFLIGHT_MAX) await Promise.race(inflight);
      if ((i & 63) === 0) fillProgress.update(i, `${((i * FILL_VALUE_BYTES) / 1e6).toFixed(0)} MB`);
    }
    await Promise.all(inflight);
  } finally {
    await filler.close();
  }
  const fillSeconds = (performance.now() - fillStart) / 1000;
  fillProgress.finish(`${sizeMB} MB in ${fillSeconds.toFixed(1)} s`);
  const inSync = () =>
    waitFor(
      async () => {
        const p = (await admin.describeTopicVerbose(topic)).partitions[0]!;
        return p.isr.length === p.replicas.length && (p.replicaStates ?? []).every((r) => r.logEndOffset === p.logEndOffset);
      },
      120_000,
      250,
    );
  if (!(await inSync())) throw new Error(`${topic}-0 did not get back in sync after the fill`);

  // 2. The producer on partitions 1-9, counted in buckets.
  const cluster = await admin.describeCluster();
  const p0 = (await admin.describeTopic(topic)).partitions[0]!;
  const rackOf = new Map(cluster.brokers.map((b) => [b.id, b.rack]));
  const movedFrom = p0.replicas.find((r) => r !== p0.leader)!;
  const movedTo =
    cluster.brokers.find((b) => !p0.replicas.includes(b.id) && b.rack === rackOf.get(movedFrom))?.id ??
    cluster.brokers.find((b) => !p0.replicas.includes(b.id))!.id;
  const target = p0.replicas.map((r) => (r === movedFrom ? movedTo : r));

  const buckets: number[] = [];
  const t0 = performance.now();
  let failedRecords = 0;
  let running = true;
  const load = new Producer({ bootstrap, acks: 'all', idempotent: true });
  const values = Array.from({ length: 64 }, () => randomBytes(VALUE_BYTES));
  const loadLoop = (async () => {
    const window = 100_000;
    let outstanding = 0;
    let wake: (() => void) | undefined;
    const settle = () => {
      outstanding--;
      if (wake !== undefined && outstanding < window / 2) {
        const w = wake;
        wake = undefined;
        w();
      }
    };
    for (let i = 0; running; i++) {
      outstanding++;
      load.send({ topic, partition: 1 + (i % 9), value: values[i & 63]! }).then(
        () => {
          const b = Math.floor((performance.now() - t0) / BUCKET_MS);
          buckets[b] = (buckets[b] ?? 0) + 1;
          settle();
        },
        () => {
          failedRecords++;
          settle();
        },
      );
      if (outstanding >= window) await new Promise<void>((r) => (wake = r));
      else if ((i & 4095) === 0) await new Promise<void>((r) => setImmediate(r));
    }
  })();
  const now = () => performance.now() - t0;

  try {
    // 3. Warm-up, then the undisturbed baseline.
    const expectedSeconds = partitionBytes / rate;
    const baselineMs = Math.max(BASELINE_MIN_MS, expectedSeconds * 1000);
    const progress = new Progress('reassign: baseline', baselineMs);
    await sleep(WARMUP_MS);
    const cpuBaselineFrom = cpuSnapshot(state());
    const baselineFrom = now();
    while (now() < baselineFrom + baselineMs) {
      await sleep(250);
      progress.update(now() - baselineFrom);
    }
    const baselineTo = now();
    const cpuBaselineTo = cpuSnapshot(state());
    const baselineRecordsPerSec = rateBetween(buckets, baselineFrom, baselineTo);
    progress.finish(`${Math.round(baselineRecordsPerSec).toLocaleString('en-US')} rec/s on P1-P9`);

    // 4. Throttle, move, time it.
    await admin.alterConfigs(
      { topic },
      {
        set: {
          'leader.replication.throttled.replicas': p0.replicas.map((b) => `0:${b}`).join(','),
          'follower.replication.throttled.replicas': `0:${movedTo}`,
        },
      },
    );
    const involved = [...new Set([...p0.replicas, movedTo])];
    for (const broker of involved) {
      await admin.alterConfigs({ broker }, { set: { 'leader.replication.throttled.rate': rate, 'follower.replication.throttled.rate': rate } });
    }
    const moveProgress = new Progress(`reassign: move B${movedFrom}->B${movedTo}`, expectedSeconds * 1000);
    const cpuMoveFrom = cpuSnapshot(state());
    const moveFrom = now();
    const answer = await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: target }]);
    if (answer[0]?.error) throw new Error(`the reassignment of ${topic}-0 was refused: ${answer[0].error.code}: ${answer[0].error.message}`);
    const done = await waitFor(
      async () => {
        moveProgress.update(now() - moveFrom);
        return (await admin.listPartitionReassignments([topic])).length === 0;
      },
      Math.max(120_000, expectedSeconds * 4000),
      100,
    );
    const moveTo = now();
    const cpuMoveTo = cpuSnapshot(state());
    if (!done) throw new Error(`the move of ${topic}-0 did not complete within ${Math.max(120, expectedSeconds * 4)} s`);
    const moveSeconds = (moveTo - moveFrom) / 1000;
    const duringRecordsPerSec = rateBetween(buckets, moveFrom, moveTo);
    moveProgress.finish(`${moveSeconds.toFixed(1)} s (${(partitionBytes / 1e6 / moveSeconds).toFixed(1)} MB/s)`);

    const baselineCores = coreUse(cpuBaselineFrom, cpuBaselineTo, (baselineTo - baselineFrom) / 1000, p0.leader, movedTo);
    const duringCores = coreUse(cpuMoveFrom, cpuMoveTo, (moveTo - moveFrom) / 1000, p0.leader, movedTo);
    return {
      ...(baselineCores && duringCores ? { cores: { baseline: baselineCores, during: duringCores } } : {}),
      partitionBytes,
      throttleBytesPerSec: rate,
      moveSeconds,
      expectedSeconds,
      copyMBps: partitionBytes / 1e6 / moveSeconds,
      leader: p0.leader,
      movedFrom,
      movedTo,
      baselineRecordsPerSec,
      duringRecordsPerSec,
      throughputRatio: baselineRecordsPerSec > 0 ? duringRecordsPerSec / baselineRecordsPerSec : 0,
      baselineSeconds: (baselineTo - baselineFrom) / 1000,
      failedRecords,
      fillSeconds,
    };
  } finally {
    running = false;
    await loadLoop;
    await load.close().catch(() => undefined);
    // 5. The throttle does not outlive the move.
    await admin
      .alterConfigs({ topic }, { delete: ['leader.replication.throttled.replicas', 'follower.replication.throttled.replicas'] })
      .catch(() => undefined);
    for (const b of cluster.brokers) {
      await admin
        .alterConfigs({ broker: b.id }, { delete: ['leader.replication.throttled.rate', 'follower.replication.throttled.rate'] })
        .catch(() => undefined);
    }
  }
}
