// Issue 16 on real processes: the faults a review found, each reproduced as it happens on a
// running cluster. A longer replica.lag.time.max.ms (30 s) keeps the lag rule out of the way of
// the sequences of pauses and kills, so each test's ISR moves only where the test says.

import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Producer } from '@tributary/client';
import { localKill, localPause, localRestart, localResume, localStatus } from '@tributary/launcher';
import { MSGPACK_CONTENT_TYPE, TributaryError, decodeMsgpack, encodeMsgpack, type ClusterMetadata } from '@tributary/protocol';
import { eventually } from '@tributary/testkit';
import { checkAcknowledged, partitionInfo, readAll, startProducerLoop, startTestCluster, type TestCluster } from '../src/index.ts';

const THROTTLE = 'follower.replication.throttled.rate';

/** A partition's log file bytes on one broker, all segments in order. */
function logBytes(cluster: TestCluster, broker: number, topic: string, partition: number): Buffer {
  const dir = join(cluster.dataDir, `broker-${broker}`, `${topic}-${partition}`);
  const segments = readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort();
  return Buffer.concat(segments.map((f) => readFileSync(join(dir, f))));
}

/** The controller's own metadata (broker epochs included), from its broker-facing listener. */
async function controllerMetadata(cluster: TestCluster): Promise<ClusterMetadata> {
  const res = await fetch(`http://127.0.0.1:${cluster.controllerInternalPort}/metadata/poll`, {
    method: 'POST',
    headers: { 'content-type': MSGPACK_CONTENT_TYPE },
    body: encodeMsgpack({ sinceVersion: -1, maxWaitMs: 0 }),
  });
  return decodeMsgpack(Buffer.from(await res.arrayBuffer())) as ClusterMetadata;
}

function brokerLog(cluster: TestCluster, broker: number): string {
  return readFileSync(join(cluster.dataDir, 'logs', `broker-${broker}.log`), 'utf8');
}

/** A broker's count of leader batches checked on its validator thread (Log.appendOverlapped). */
async function validatorHandoffs(cluster: TestCluster, broker: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${cluster.brokerPorts[broker]}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const line = text.split('\n').find((l) => l.startsWith('tributary_batch_validator_handoffs_total'));
  return line === undefined ? Number.NaN : Number(line.split(' ').pop());
}

/** Sends `values` one request at a time, so each is a batch of its own. */
async function sendEach(producer: Producer, topic: string, values: string[]): Promise<number[]> {
  const offsets: number[] = [];
  for (const value of values) offsets.push((await producer.send({ topic, partition: 0, value })).offset);
  return offsets;
}

describe('reliability under faults', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    // --validator-thread: the kill -9 test below is about leader batches checked beside their write.
    cluster = await startTestCluster({ brokerArgs: ['--replica-lag-time-max-ms', '30000', '--validator-thread', 'true'] });
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  afterEach(async () => {
    for (const p of localStatus(cluster.dataDir).processes) {
      const target = p.name === 'controller' ? 'controller' : p.name.slice('broker-'.length);
      if (p.status === 'paused') await localResume(cluster.dataDir, target);
      if (p.status === 'stopped') await localRestart(cluster.dataDir, target);
    }
  });

  it('a follower that went on to an epoch the next leader never saw truncates and rejoins the ISR (no busy loop)', async () => {
    await cluster.admin.createTopic({ name: 'two-changes', partitions: 1, replicationFactor: 3 });
    const info = await partitionInfo(cluster.admin, 'two-changes', 0);
    const [a, b, x] = info.replicas as [number, number, number];
    const all = new Producer({ bootstrap: cluster.bootstrap, acks: 'all' });
    const one = new Producer({ bootstrap: cluster.bootstrap, acks: 1, idempotent: false });
    try {
      await Promise.all(Array.from({ length: 50 }, (_, i) => all.send({ topic: 'two-changes', partition: 0, value: `c${i}` })));
      // X stops copying (a follower throttled to 1 byte/s takes one batch, then waits), while A
      // takes an acks=1 tail that B copies: A's and B's epoch runs on to 100, X's ends near 50.
      await cluster.admin.setBrokerConfig(x, { [THROTTLE]: 1 });
      await sendEach(
        one,
        'two-changes',
        Array.from({ length: 50 }, (_, i) => `a${i}`),
      );
      await eventually(() => logBytes(cluster, b, 'two-changes', 0).length === logBytes(cluster, a, 'two-changes', 0).length, { timeoutMs: 10_000 });
      // B goes away (paused: fenced, but still an ISR member), then A dies: X, the next ISR
      // member that is alive, leads a new epoch and takes an acks=1 tail alone.
      await localPause(cluster.dataDir, String(b));
      await eventually(async () => (await cluster.admin.describeCluster()).brokers.find((br) => br.id === b)?.alive === false, { timeoutMs: 10_000 });
      await localKill(cluster.dataDir, String(a));
      const xLeads = await eventually(
        async () => {
          const p = await partitionInfo(cluster.admin, 'two-changes', 0);
          return p.leader === x ? p : false;
        },
        { timeoutMs: 15_000 },
      );
      await cluster.admin.setBrokerConfig(x, { [THROTTLE]: -1 });
      const xTail = await sendEach(
        one,
        'two-changes',
        Array.from({ length: 10 }, (_, i) => `x${i}`),
      );
      expect(xTail[0]).toBeLessThan(100);
      // B comes back (the same process: still in the ISR) and X dies: B leads the third epoch,
      // holding A's epoch up to 100 and nothing of X's.
      await localResume(cluster.dataDir, String(b));
      await localKill(cluster.dataDir, String(x));
      await eventually(
        async () => {
          const p = await partitionInfo(cluster.admin, 'two-changes', 0);
          return p.leader === b && p.leaderEpoch > xLeads.leaderEpoch;
        },
        { timeoutMs: 15_000 },
      );
      await localRestart(cluster.dataDir, String(a));
      // X comes back and follows B. Its last epoch is X's own, which B never had: B answers with
      // where its epoch at or below that one (A's) ends, 100; X must cut at its own end of A's
      // epoch, not at min(100, its log end), which would change nothing and loop for ever.
      await localRestart(cluster.dataDir, String(x));
      await eventually(async () => (await partitionInfo(cluster.admin, 'two-changes', 0)).isr.includes(x), { timeoutMs: 30_000 });
      await eventually(() => logBytes(cluster, x, 'two-changes', 0).equals(logBytes(cluster, b, 'two-changes', 0)), { timeoutMs: 10_000 });
      const truncations = brokerLog(cluster, x)
        .split('\n')
        .filter((l) => l.includes('"truncating diverged log"') && l.includes('"two-changes"')).length;
      expect(truncations).toBeGreaterThanOrEqual(1);
      expect(truncations).toBeLessThan(10);
      const values = (await readAll(cluster.bootstrap, 'two-changes', 1, { expected: 100 })).get(0)!.map((r) => r.value?.toString());
      expect(values.filter((v) => v?.startsWith('x'))).toEqual([]);
      expect(values.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => `c${i}`));
    } finally {
      await all.close().catch(() => undefined);
      await one.close().catch(() => undefined);
      await cluster.admin.setBrokerConfig(x, { [THROTTLE]: -1 }).catch(() => undefined);
    }
  });

  it('kill -9 of a leader whose big batches are checked on its validator thread while written: nothing acknowledged is lost, the replicas agree byte for byte', async () => {
    const topic = 'big-batches';
    const described = await cluster.admin.createTopic({ name: topic, partitions: 12, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
    const leader = described.partitions[0]!.leader;
    // The partitions that broker leads (two of twelve), 1000-byte values, many in flight: each
    // produce request brings it a batch of 8 KiB or more (OVERLAP_MIN_BYTES) for each of them,
    // and all but the first of a request find the thread awake.
    const partitions = described.partitions.filter((p) => p.leader === leader).map((p) => p.partition);
    expect(partitions.length).toBeGreaterThanOrEqual(2);
    const handoffsBefore = await validatorHandoffs(cluster, leader);
    const loop = startProducerLoop({ bootstrap: cluster.bootstrap, topic, partitions, inflightMax: 400, valueBytes: 1000 });
    try {
      await eventually(async () => loop.acked.length > 5000 && (await validatorHandoffs(cluster, leader)) > handoffsBefore + 20, {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      await localKill(cluster.dataDir, String(leader));
      for (const partition of partitions) {
        await eventually(
          async () => {
            const info = await partitionInfo(cluster.admin, topic, partition);
            return info.leader !== leader && info.leader !== -1;
          },
          { timeoutMs: 20_000, intervalMs: 50 },
        );
      }
      const elected = Date.now();
      await eventually(() => partitions.every((p) => loop.ackedSince(p, elected).length > 200) || false, { timeoutMs: 20_000 });
      // Back from the kill, the old leader recovers its logs, truncates them to the new leaders' and copies the rest.
      await localRestart(cluster.dataDir, String(leader));
      for (const partition of partitions) {
        await eventually(async () => (await partitionInfo(cluster.admin, topic, partition)).isr.length === 3, { timeoutMs: 40_000 });
      }
    } finally {
      await loop.stop();
    }
    expect(loop.failed).toEqual([]);
    const read = await readAll(cluster.bootstrap, topic, 12, { expected: loop.acked.length });
    expect(checkAcknowledged(read, loop.acked)).toEqual([]);
    for (const partition of partitions) {
      const now = await partitionInfo(cluster.admin, topic, partition);
      for (const replica of now.replicas) {
        await eventually(() => logBytes(cluster, replica, topic, partition).equals(logBytes(cluster, now.leader, topic, partition)), { timeoutMs: 10_000 });
      }
    }
  });

  it('a follower that lost its disk is not elected when the other replicas die; acknowledged records survive (KIP-903)', async () => {
    await cluster.admin.createTopic({ name: 'disk-lost', partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
    const info = await partitionInfo(cluster.admin, 'disk-lost', 0);
    const [leader, keeper, lost] = info.replicas as [number, number, number];
    const producer = new Producer({ bootstrap: cluster.bootstrap, acks: 'all', deliveryTimeoutMs: 5000 });
    try {
      // Two requests, so at least two batches: a follower throttled to 1 byte/s copies one at most.
      const acked = [
        ...(await Promise.all(Array.from({ length: 50 }, (_, i) => producer.send({ topic: 'disk-lost', partition: 0, value: `v${i}` })))),
        ...(await Promise.all(Array.from({ length: 50 }, (_, i) => producer.send({ topic: 'disk-lost', partition: 0, value: `v${50 + i}` })))),
      ];
      expect(acked.map((r) => r.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      // The follower's disk is lost while it is down; it comes back empty and copies slowly.
      await cluster.admin.setBrokerConfig(lost, { [THROTTLE]: 1 });
      await localKill(cluster.dataDir, String(lost));
      rmSync(join(cluster.dataDir, `broker-${lost}`), { recursive: true, force: true });
      const epochBefore = (await controllerMetadata(cluster)).brokers.find((b) => b.id === lost)!.epoch;
      await localRestart(cluster.dataDir, String(lost));
      // The registration that makes the new process alive takes it out of the ISR in the same
      // metadata version: no version shows it alive under its new epoch and still in the ISR.
      const registered = await eventually(
        async () => {
          const md = await controllerMetadata(cluster);
          const b = md.brokers.find((br) => br.id === lost)!;
          return b.alive && b.epoch > epochBefore ? md : false;
        },
        { timeoutMs: 15_000, intervalMs: 20 },
      );
      expect(registered.topics.find((t) => t.name === 'disk-lost')!.partitions[0]!.isr).not.toContain(lost);
      // The two replicas that hold the data die. The empty one is alive, but no longer in the ISR.
      await localKill(cluster.dataDir, String(leader));
      await localKill(cluster.dataDir, String(keeper));
      const offline = await eventually(
        async () => {
          const p = await partitionInfo(cluster.admin, 'disk-lost', 0);
          return p.leader === -1 ? p : false;
        },
        { timeoutMs: 15_000 },
      );
      expect(offline.isr).not.toContain(lost);
      // Producers get a retriable error, not an acknowledgement from a replica that has nothing.
      const refused = await producer.send({ topic: 'disk-lost', partition: 0, value: 'while-offline' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(TributaryError);
      expect((refused as TributaryError).retriable).toBe(true);
      expect((await partitionInfo(cluster.admin, 'disk-lost', 0)).leader).toBe(-1);
      // They come back with their data: the last ISR member leads, nothing acknowledged is lost,
      // and the empty follower catches up and rejoins once unthrottled.
      await localRestart(cluster.dataDir, String(leader));
      await localRestart(cluster.dataDir, String(keeper));
      await eventually(async () => (await partitionInfo(cluster.admin, 'disk-lost', 0)).leader >= 0, { timeoutMs: 20_000 });
      await cluster.admin.setBrokerConfig(lost, { [THROTTLE]: -1 });
      await eventually(async () => (await partitionInfo(cluster.admin, 'disk-lost', 0)).isr.length === 3, { timeoutMs: 40_000 });
      const values = (await readAll(cluster.bootstrap, 'disk-lost', 1, { expected: 100 })).get(0)!.map((r) => r.value?.toString());
      expect(values.slice(0, 100)).toEqual(Array.from({ length: 100 }, (_, i) => `v${i}`));
      const now = await partitionInfo(cluster.admin, 'disk-lost', 0);
      await eventually(() => logBytes(cluster, lost, 'disk-lost', 0).equals(logBytes(cluster, now.leader, 'disk-lost', 0)), { timeoutMs: 10_000 });
    } finally {
      await producer.close().catch(() => undefined);
      await cluster.admin.setBrokerConfig(lost, { [THROTTLE]: -1 }).catch(() => undefined);
    }
  });
});
