// Failover: under acks=all load, kill -9 the leader of one partition and time the first acks=all
// success on that partition of a record sent after the kill; then keep the load on long enough
// for the dead broker to leave every ISR (replica.lag.time.max.ms), restart it, and time how
// long it takes to be back in every ISR with its backlog copied (catch-up MB/s).

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Admin, Producer } from '@tributary/client';
import { localKill, localRestart } from '@tributary/launcher';
import type { BenchCluster } from './cluster.ts';
import { brokerDataDir, brokerRecord } from './cluster.ts';
import type { Progress } from './progress.ts';
import { VALUE_BYTES, sleep, topicHealthy, waitFor } from './workload.ts';

export interface FailoverRound {
  partition: number;
  killedBroker: number;
  /** kill -9 → first acks=all success on the partition for a record sent after the kill. */
  failoverMs: number;
  /** Restart (process spawned) → back in the ISR of every partition it holds. */
  restartToIsrMs: number;
  /** Broker healthy again (registered, serving) → back in the ISR of every partition it holds. */
  catchupMs: number;
  catchupBytes: number;
  catchupMBps: number;
  /** Records that failed for good under the load (should be 0: the producer retries). */
  failedRecords: number;
}

/** Bytes of the topic's log segments in a broker's data dir. */
function topicLogBytes(dir: string, topic: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(`${topic}-`) || !/^\d+$/.test(name.slice(topic.length + 1))) continue;
    for (const f of readdirSync(join(dir, name))) if (f.endsWith('.log')) total += statSync(join(dir, name, f)).size;
  }
  return total;
}

export async function failoverRound(
  cluster: BenchCluster,
  admin: Admin,
  topic: string,
  partition: number,
  options: { loadRatePerSec: number; downMs: number },
  progress: Progress,
  step: number,
): Promise<FailoverRound> {
  const dataDir = cluster.dataDir!;
  const before = await admin.describeTopic(topic);
  const victim = before.partitions[partition]!.leader;
  const replicaOf = before.partitions.filter((p) => p.replicas.includes(victim)).map((p) => p.partition);
  const record = brokerRecord(cluster.state()!, victim);
  const victimDir = record ? brokerDataDir(record) : undefined;
  if (!victimDir) throw new Error(`no launcher record for broker ${victim}`);

  const load = new Producer({ bootstrap: cluster.bootstrap, acks: 'all', idempotent: true });
  const probe = new Producer({ bootstrap: cluster.bootstrap, acks: 'all', idempotent: true, lingerMs: 0 });
  let failed = 0;
  let running = true;
  let killMs = Infinity;
  let firstSuccessMs = Infinity;
  const value = Buffer.alloc(VALUE_BYTES, 1);
  const loadLoop = (async () => {
    const t0 = performance.now();
    let sent = 0;
    while (running) {
      const due = Math.floor(((performance.now() - t0) / 1000) * options.loadRatePerSec);
      // Bound what waits on a stalled partition: the load is a steady stream, not a backlog.
      for (; sent < due; sent++) load.send({ topic, value }).catch(() => failed++);
      await sleep(5);
    }
  })();
  const probeLoop = (async () => {
    while (running) {
      const sentMs = performance.now();
      probe.send({ topic, value, partition }).then(
        () => {
          const now = performance.now();
          if (sentMs >= killMs && now < firstSuccessMs) firstSuccessMs = now;
        },
        () => failed++,
      );
      await sleep(10);
    }
  })();
  try {
    await sleep(2000);
    progress.update(step + 0.1, `killing broker ${victim}`);
    killMs = performance.now();
    await localKill(dataDir, String(victim));
    await waitFor(async () => firstSuccessMs < Infinity, 60_000, 10);
    const failoverMs = firstSuccessMs - killMs;
    progress.update(step + 0.4, `failover ${Math.round(failoverMs)} ms; building a backlog`);
    // Past replica.lag.time.max.ms (checked every half of it), so the dead broker has left
    // every ISR and must catch up before it may rejoin.
    while (performance.now() - killMs < options.downMs) await sleep(100);
    const outOfEveryIsr = async () => {
      const d = await admin.describeTopic(topic);
      return replicaOf.every((p) => !d.partitions[p]!.isr.includes(victim));
    };
    if (!(await waitFor(outOfEveryIsr, 30_000, 200)))
      throw new Error(`broker ${victim} did not leave every ISR within ${options.downMs + 30_000} ms of its death`);
    running = false;
    await Promise.all([loadLoop, probeLoop]);
    await Promise.all([load.flush(), probe.flush()]);
    const bytesBeforeRestart = topicLogBytes(victimDir, topic);
    progress.update(step + 0.6, `restarting broker ${victim}`);
    const spawnedMs = performance.now();
    await localRestart(dataDir, String(victim), { readyTimeoutMs: 60_000 });
    const restartedMs = performance.now();
    const inEveryIsr = async () => {
      const d = await admin.describeTopic(topic);
      return replicaOf.every((p) => d.partitions[p]!.isr.includes(victim));
    };
    if (!(await waitFor(inEveryIsr, 120_000, 50))) throw new Error(`broker ${victim} did not rejoin every ISR within 120 s`);
    const catchupMs = performance.now() - restartedMs;
    const restartToIsrMs = performance.now() - spawnedMs;
    const catchupBytes = Math.max(0, topicLogBytes(victimDir, topic) - bytesBeforeRestart);
    progress.update(step + 0.9, 'waiting for preferred leaders');
    // Let the next round start from the seed placement (auto leader rebalance).
    await waitFor(() => topicHealthy(admin, topic, true), 30_000, 200);
    return {
      partition,
      killedBroker: victim,
      failoverMs,
      restartToIsrMs,
      catchupMs,
      catchupBytes,
      catchupMBps: catchupBytes / 1e6 / (catchupMs / 1000),
      failedRecords: failed,
    };
  } finally {
    running = false;
    await Promise.allSettled([loadLoop, probeLoop]);
    await Promise.allSettled([load.close(), probe.close()]);
  }
}
