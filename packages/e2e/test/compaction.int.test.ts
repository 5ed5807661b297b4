// Log compaction on real processes (issue 18): a topic with cleanup.policy=compact takes many
// updates per key; every replica's cleaner (leader and followers, each on its own) compacts it;
// a consumer from the beginning sees the latest value per key; a kill -9 of the leader while its
// cleaner has a cleaned segment half written leaves every replica readable, and the cluster
// converges to the same latest value per key on every replica.
//
// The cleaners are throttled (log.cleaner.io.max.bytes.per.second) so that a cleaning lasts long
// enough to be caught in the middle; segment.ms is short so that the active segment, which is
// never cleaned, closes soon after the producer stops.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Producer } from '@tributary/client';
import { localKill, localRestart, localStatus } from '@tributary/launcher';
import { decodeBatches } from '@tributary/protocol';
import { evaluateConvergence, takeSnapshot } from '@tributary/chaos';
import { eventually } from '@tributary/testkit';
import { partitionInfo, readAll, startTestCluster, type TestCluster } from '../src/index.ts';

const TOPIC = 'compacted';
const KEYS = 40;

interface Rec {
  offset: number;
  key: string;
  value: string | null;
}

function partitionDir(cluster: TestCluster, broker: number): string {
  return join(cluster.dataDir, `broker-${broker}`, `${TOPIC}-0`);
}

/** The cleaner checkpoint of a replica: [firstDirtyOffset, rewrittenToOffset], or undefined before its first cleaning. */
function cleanerCheckpoint(cluster: TestCluster, broker: number): [number, number] | undefined {
  const file = join(partitionDir(cluster, broker), 'cleaner-offset-checkpoint');
  if (!existsSync(file)) return undefined;
  const line = readFileSync(file, 'utf8').split('\n')[2];
  return line === undefined ? undefined : (line.split(' ').map(Number) as [number, number]);
}

/** A replica's records read straight from its segment files (batches on disk are the wire format). */
function replicaRecords(cluster: TestCluster, broker: number): Rec[] {
  const dir = partitionDir(cluster, broker);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort();
  return decodeBatches(Buffer.concat(files.map((f) => readFileSync(join(dir, f))))).map((r) => ({
    offset: r.offset,
    key: r.key!.toString(),
    value: r.value === null ? null : r.value.toString(),
  }));
}

function leftovers(cluster: TestCluster, broker: number): string[] {
  return readdirSync(partitionDir(cluster, broker)).filter((f) => f.endsWith('.cleaned') || f.endsWith('.swap'));
}

async function metric(cluster: TestCluster, broker: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${cluster.brokerPorts[broker]}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Sends `count` updates round-robin over the keys (every `tombstoneEvery`-th a delete); returns the records acknowledged. */
async function produce(producer: Producer, from: number, count: number, tombstoneEvery = 0, onAck?: () => void): Promise<Rec[]> {
  const sends = Array.from({ length: count }, (_, i) => {
    const n = from + i;
    const key = `user-${n % KEYS}`;
    const value = tombstoneEvery > 0 && n % tombstoneEvery === 0 ? null : `profile-${n}-${'x'.repeat(60)}`;
    return producer.send({ topic: TOPIC, partition: 0, key, value }).then((m) => {
      onAck?.();
      return { offset: m.offset, key, value };
    });
  });
  return Promise.all(sends);
}

/** The latest record of each key, by offset: what a fully compacted log holds. */
function latestPerKey(records: readonly Rec[]): Rec[] {
  const latest = new Map<string, Rec>();
  for (const r of [...records].sort((a, b) => a.offset - b.offset)) latest.set(r.key, r);
  return [...latest.values()].sort((a, b) => a.offset - b.offset);
}

describe('log compaction on a running cluster', () => {
  let cluster: TestCluster;
  let producer: Producer;
  const produced: Rec[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster({
      brokerArgs: ['--log-cleaner-backoff-ms', '200', '--retention-check-interval-ms', '250', '--log-cleaner-io-max-bytes-per-second', String(96 * 1024)],
    });
    await cluster.admin.createTopic({
      name: TOPIC,
      partitions: 1,
      replicationFactor: 3,
      configs: { 'cleanup.policy': 'compact', 'segment.bytes': '16384', 'segment.ms': '1500', 'min.cleanable.dirty.ratio': '0.01', 'min.insync.replicas': '2' },
    });
    producer = new Producer({ bootstrap: cluster.bootstrap, acks: 'all' });
  });
  afterAll(async () => {
    await producer?.close();
    await cluster?.stop();
  });

  /** Until every replica has cleaned all it holds (the active segment is empty and everything below is clean). */
  async function everyReplicaCleaned(replicas: number[], end: number): Promise<void> {
    await eventually(() => replicas.every((b) => (cleanerCheckpoint(cluster, b)?.[0] ?? -1) >= end), { timeoutMs: 90_000 });
  }

  it('every replica compacts on its own, and a consumer from the beginning sees the latest value per key (lz4 batches too)', async () => {
    produced.push(...(await produce(producer, 0, 2000)));
    // Compressed batches are compacted as well, rewritten in their own codec.
    const lz4 = new Producer({ bootstrap: cluster.bootstrap, acks: 'all', compression: 'lz4' });
    try {
      produced.push(...(await produce(lz4, 2000, 1000)));
    } finally {
      await lz4.close();
    }
    const end = Math.max(...produced.map((r) => r.offset)) + 1;
    const { replicas } = await partitionInfo(cluster.admin, TOPIC, 0);
    await everyReplicaCleaned(replicas, end);

    const expected = latestPerKey(produced);
    expect(expected).toHaveLength(KEYS);
    const read = await readAll(cluster.bootstrap, TOPIC, 1, { expected: KEYS, idleMs: 3000 });
    const consumed = (read.get(0) ?? []).map((r) => ({ offset: r.offset, key: r.key!.toString(), value: r.value === null ? null : r.value.toString() }));
    expect(consumed).toEqual(expected);
    // Each replica's files hold exactly that too: the same records at the same offsets.
    for (const b of replicas) expect(replicaRecords(cluster, b), `broker ${b}`).toEqual(expected);
    for (const b of replicas) {
      expect(await metric(cluster, b, 'tributary_log_cleaner_records_removed_total'), `broker ${b}`).toBeGreaterThan(0);
      expect(leftovers(cluster, b)).toEqual([]);
    }
    // The convergence check compares the compacted replicas where that is meaningful.
    const snapshot = await takeSnapshot({
      admin: cluster.admin,
      topic: TOPIC,
      processes: async () => localStatus(cluster.dataDir).processes,
      timeoutMs: 10_000,
    });
    expect(evaluateConvergence(snapshot).anomalies).toEqual([]);
    expect(snapshot.brokers.flatMap((b) => b.replicas ?? []).every((d) => (d.rewrittenToOffset ?? 0) > 0)).toBe(true);
  });

  it('a kill -9 of the leader in the middle of a cleaning leaves every replica readable and converging', async () => {
    const { leader, replicas } = await partitionInfo(cluster.admin, TOPIC, 0);
    // More updates, with deletes among them, while the cleaners work through them.
    const more = produce(producer, 3000, 3000, 7);
    let killed = false;
    await eventually(
      async () => {
        if (leftovers(cluster, leader).some((f) => f.endsWith('.cleaned'))) {
          await localKill(cluster.dataDir, String(leader));
          killed = true;
        }
        return killed;
      },
      { timeoutMs: 60_000, intervalMs: 5 },
    );
    produced.push(...(await more));
    // The other two go on: a new leader, more updates.
    produced.push(...(await produce(producer, 6000, 500, 11)));
    await localRestart(cluster.dataDir, String(leader));
    // It died with a cleaned segment uncommitted (deleted when the log opened again) or committed
    // and not yet swapped in (the swap completed when the log opened again).
    const recovered = readFileSync(join(cluster.dataDir, 'logs', `broker-${leader}.log`), 'utf8')
      .split('\n')
      .filter((l) => l.includes(`${TOPIC}-0`) && /recovery (deleted an uncommitted cleaned segment|completed a cleaned segment swap)/.test(l));
    expect(recovered.length).toBeGreaterThan(0);

    const end = Math.max(...produced.map((r) => r.offset)) + 1;
    await eventually(
      async () => {
        const snapshot = await takeSnapshot({
          admin: cluster.admin,
          topic: TOPIC,
          processes: async () => localStatus(cluster.dataDir).processes,
          timeoutMs: 10_000,
        });
        const { anomalies } = evaluateConvergence(snapshot);
        // eventually() reports the last error when it gives up: the anomalies still there.
        if (anomalies.length > 0) throw new Error(anomalies.map((a) => a.detail).join('\n'));
        return true;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    await everyReplicaCleaned(replicas, end);

    const expected = latestPerKey(produced);
    for (const b of replicas) {
      expect(leftovers(cluster, b), `broker ${b}`).toEqual([]);
      expect(replicaRecords(cluster, b), `broker ${b}`).toEqual(expected);
    }
    const read = await readAll(cluster.bootstrap, TOPIC, 1, { expected: expected.length, idleMs: 3000 });
    const consumed = (read.get(0) ?? []).map((r) => ({ offset: r.offset, key: r.key!.toString(), value: r.value === null ? null : r.value.toString() }));
    expect(consumed).toEqual(expected);
    // The deletes are there as tombstones (delete.retention.ms, a day, has not passed).
    expect(consumed.some((r) => r.value === null)).toBe(true);
  });

  it('a follower that was down while its leader cleaned copies the cleaned log and ends with the same latest value per key', async () => {
    const { leader, replicas } = await partitionInfo(cluster.admin, TOPIC, 0);
    const follower = replicas.find((b) => b !== leader)!;
    // Down in the middle of a stream of updates (acks=all: it holds what was acknowledged), so its
    // log ends inside what the leader will clean, likely inside a batch stretched over removed ones.
    // Twenty sends at a time, so the stream is still going when the follower dies.
    let acked = 0;
    const stream = (async () => {
      for (let n = 6500; n < 9500; n += 20) produced.push(...(await produce(producer, n, 20, 13, () => acked++)));
    })();
    await eventually(() => acked >= 1000, { timeoutMs: 30_000, intervalMs: 5 });
    await localKill(cluster.dataDir, String(follower));
    await stream;
    const end = Math.max(...produced.map((r) => r.offset)) + 1;
    const others = replicas.filter((b) => b !== follower);
    await everyReplicaCleaned(others, end);
    await localRestart(cluster.dataDir, String(follower));
    await everyReplicaCleaned(replicas, end);
    await eventually(
      async () => {
        const snapshot = await takeSnapshot({
          admin: cluster.admin,
          topic: TOPIC,
          processes: async () => localStatus(cluster.dataDir).processes,
          timeoutMs: 10_000,
        });
        const { anomalies } = evaluateConvergence(snapshot);
        if (anomalies.length > 0) throw new Error(anomalies.map((a) => a.detail).join('\n'));
        return true;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    const expected = latestPerKey(produced);
    for (const b of replicas) expect(replicaRecords(cluster, b), `broker ${b}`).toEqual(expected);
  });
});
