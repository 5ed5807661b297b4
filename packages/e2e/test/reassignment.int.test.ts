// Issue 22: reassignments (KIP-455), new partitions and topic configs on real processes. One
// cluster of six brokers in two racks plus a seventh added while it runs (localAddBroker); each
// scenario moves replicas under acks=all load and checks that every acknowledged record is still
// there, exactly once, at its offset. Throttles follow kafka-reassign-partitions --throttle: the
// leader list names the current replicas of the moving partitions, the follower list the ones
// being added, and the rates are set on the brokers involved.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Consumer, Producer, partitionForKey, type Admin, type PartitionReassignment } from '@tributary/client';
import { localAddBroker, localKill, localRestart, localResume, localStatus, readState } from '@tributary/launcher';
import { eventually } from '@tributary/testkit';
import { checkAcknowledged, partitionInfo, readAll, startProducerLoop, startTestCluster, type TestCluster } from '../src/index.ts';

const NEW_BROKER = 6;

/** A partition's directory on a broker (present while the broker holds a replica of it). */
function partitionDir(cluster: TestCluster, broker: number, topic: string, partition: number): string {
  return join(cluster.dataDir, `broker-${broker}`, `${topic}-${partition}`);
}

/** Partition logs in a broker's data dir, set-aside ones included. */
function partitionDirs(cluster: TestCluster, broker: number): string[] {
  return readdirSync(join(cluster.dataDir, `broker-${broker}`), { withFileTypes: true })
    .filter((e) => e.isDirectory() && /-\d+(\..*-stray)?$/.test(e.name))
    .map((e) => e.name);
}

function clientPort(cluster: TestCluster, broker: number): number {
  return readState(cluster.dataDir)!.layout.brokers.find((b) => b.id === broker)!.port;
}

async function metric(cluster: TestCluster, broker: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${clientPort(cluster, broker)}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Throttles a plan as Kafka's reassignment tool does, at `rate` bytes/s on both sides. */
async function throttle(admin: Admin, plan: PartitionReassignment[], rate: number): Promise<void> {
  const byTopic = new Map<string, { leader: string[]; follower: string[] }>();
  const brokers = new Set<number>();
  for (const { topic, partition, replicas } of plan) {
    const current = (await partitionInfo(admin, topic, partition)).replicas;
    const lists = byTopic.get(topic) ?? { leader: [], follower: [] };
    byTopic.set(topic, lists);
    for (const b of current) lists.leader.push(`${partition}:${b}`);
    for (const b of replicas ?? []) if (!current.includes(b)) lists.follower.push(`${partition}:${b}`);
    for (const b of [...current, ...(replicas ?? [])]) brokers.add(b);
  }
  for (const [topic, lists] of byTopic) {
    await admin.alterConfigs(
      { topic },
      { set: { 'leader.replication.throttled.replicas': lists.leader.join(','), 'follower.replication.throttled.replicas': lists.follower.join(',') } },
    );
  }
  for (const broker of brokers) {
    await admin.alterConfigs({ broker }, { set: { 'leader.replication.throttled.rate': rate, 'follower.replication.throttled.rate': rate } });
  }
}

/** What kafka-reassign-partitions --verify does once a reassignment is done: every throttle off. */
async function unthrottle(admin: Admin, topics: string[]): Promise<void> {
  // Rates before lists, as the CLI does: a rate with no list in use would throttle everything.
  for (const { id } of (await admin.describeCluster()).brokers) {
    await admin.alterConfigs({ broker: id }, { delete: ['leader.replication.throttled.rate', 'follower.replication.throttled.rate'] });
  }
  for (const topic of topics)
    await admin.alterConfigs({ topic }, { delete: ['leader.replication.throttled.replicas', 'follower.replication.throttled.replicas'] });
}

async function reassignOrFail(admin: Admin, plan: PartitionReassignment[]): Promise<void> {
  const results = await admin.alterPartitionReassignments(plan);
  expect(results.filter((r) => r.error !== undefined)).toEqual([]);
}

/**
 * Waits until no reassignment is left; on timeout the error names each one still running with
 * its leader's view (ISR, every replica's LEO and lag), so a stuck copy says where it stuck.
 */
async function untilDone(admin: Admin, topics?: string[], timeoutMs = 90_000): Promise<void> {
  await eventually(
    async () => {
      const left = await admin.listPartitionReassignments(topics);
      if (left.length === 0) return true;
      const views = await Promise.all(
        [...new Set(left.map((r) => r.topic))].map((t) => admin.describeTopicVerbose(t, { leaderTimeoutMs: 2000 }).catch((err: Error) => err.message)),
      );
      const stuck = left.map((r) => {
        const p = views
          .flatMap((v) => (typeof v === 'string' ? [] : v.partitions.map((q) => ({ topic: v.name, ...q }))))
          .find((q) => q.topic === r.topic && q.partition === r.partition);
        return { ...r, leader: p?.leader, isr: p?.isr, hw: p?.highWatermark, leo: p?.logEndOffset, replicaStates: p?.replicaStates, error: p?.error };
      });
      throw new Error(`reassignments still running: ${JSON.stringify(stuck)}`);
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/** Values of `bytes` each, sent with acks=all to one partition. */
async function preload(cluster: TestCluster, topic: string, partition: number, count: number, bytes: number): Promise<void> {
  const producer = new Producer({ bootstrap: cluster.bootstrap, acks: 'all' });
  try {
    await Promise.all(Array.from({ length: count }, (_, i) => producer.send({ topic, partition, value: `${i}-`.padEnd(bytes, 'p') })));
  } finally {
    await producer.close();
  }
}

describe('reassignment, new partitions and topic configs', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster({ spareBrokers: 1 });
    await cluster.admin.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  afterEach(async () => {
    // Every process back for the next scenario.
    for (const p of localStatus(cluster.dataDir).processes) {
      const target = p.name === 'controller' ? 'controller' : p.name.slice('broker-'.length);
      if (p.status === 'paused') await localResume(cluster.dataDir, target);
      if (p.status === 'stopped') await localRestart(cluster.dataDir, target);
    }
    await eventually(async () => (await cluster.admin.describeCluster()).brokers.every((b) => b.alive), { timeoutMs: 30_000 });
  });

  it('1. a seventh broker joins; demo moves onto it under acks=all load with a throttle: every acknowledged record readable, B6 leads its share', async () => {
    const added = await localAddBroker(cluster.dataDir);
    expect(added).toMatchObject({ name: `broker-${NEW_BROKER}`, rack: 'rack-1' });
    await eventually(async () => (await cluster.admin.describeCluster()).brokers.some((b) => b.id === NEW_BROKER && b.alive && b.rack === 'rack-1'));
    // P6 = [0,3,1] is the partition the rack-aware rule gives B6 to lead with seven brokers
    // (0,3,1,4,2,5,6: P6 -> 6); P3 = [4,2,5] takes B6 as a rack-1 follower in place of B2.
    await preload(cluster, 'demo', 6, 150, 10_000);
    const loop = startProducerLoop({ bootstrap: cluster.bootstrap, topic: 'demo', partitions: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], inflightMax: 8 });
    try {
      await eventually(() => loop.acked.length > 200, { timeoutMs: 20_000 });
      const plan: PartitionReassignment[] = [
        { topic: 'demo', partition: 6, replicas: [6, 3, 1] },
        { topic: 'demo', partition: 3, replicas: [4, 6, 5] },
      ];
      const rate = 256 * 1024;
      await throttle(cluster.admin, plan, rate);
      const started = Date.now();
      await reassignOrFail(cluster.admin, plan);
      // P3 holds little and may be done already; P6's 1.5 MB takes seconds at this rate.
      expect((await cluster.admin.listPartitionReassignments(['demo'])).find((r) => r.partition === 6)).toEqual({
        topic: 'demo',
        partition: 6,
        replicas: [6, 3, 1, 0],
        addingReplicas: [6],
        removingReplicas: [0],
      });
      const midway = Date.now();
      await untilDone(cluster.admin, ['demo']);
      const tookMs = Date.now() - started;
      // 1.5 MB through a 256 KiB/s throttle (one second of burst): well over three seconds;
      // unthrottled it takes a fraction of one.
      expect(tookMs).toBeGreaterThan(3000);
      // Partitions not being moved kept committing all along.
      expect(loop.ackedSince(1, midway).length).toBeGreaterThan(0);
      const p6 = await partitionInfo(cluster.admin, 'demo', 6);
      expect(p6).toMatchObject({ replicas: [6, 3, 1], leader: 6, addingReplicas: [], removingReplicas: [] });
      expect([...p6.isr].sort()).toEqual([1, 3, 6]);
      expect((await partitionInfo(cluster.admin, 'demo', 3)).replicas).toEqual([4, 6, 5]);
      await eventually(() => loop.ackedSince(6, Date.now() - 500).length > 0, { timeoutMs: 20_000 });
    } finally {
      await loop.stop();
      await unthrottle(cluster.admin, ['demo']);
    }
    expect(loop.failed).toEqual([]);
    const read = await readAll(cluster.bootstrap, 'demo', 10, { expected: loop.acked.length + 150 });
    expect(checkAcknowledged(read, loop.acked)).toEqual([]);
    expect(read.get(6)!.length).toBe(150 + loop.acked.filter((a) => a.partition === 6).length);
    // The replicas that left deleted their logs; B6 counted what it copied for the reassignment.
    await eventually(() => !existsSync(partitionDir(cluster, 0, 'demo', 6)) && !existsSync(partitionDir(cluster, 2, 'demo', 3)));
    expect(await metric(cluster, NEW_BROKER, 'tributary_reassignment_bytes_in_total')).toBeGreaterThan(1_500_000);
  });

  it('2. demo grows to 12 partitions, placed rack-aware; a running producer and a subscribed consumer use them after a metadata refresh; topic configs apply live', async () => {
    const consumer = new Consumer({ bootstrap: cluster.bootstrap, metadataMaxAgeMs: 1000, maxWaitMs: 200 });
    consumer.subscribe('demo', { from: 'earliest' });
    const producer = new Producer({ bootstrap: cluster.bootstrap, metadataMaxAgeMs: 1000 });
    try {
      await producer.send({ topic: 'demo', value: 'before' });
      const refused = cluster.admin.createPartitions('demo', 8);
      await expect(refused).rejects.toMatchObject({ code: 'INVALID_PARTITIONS' });
      const grown = await cluster.admin.createPartitions('demo', 12);
      expect(grown.partitions).toHaveLength(12);
      const rackOf = new Map((await cluster.admin.describeCluster()).brokers.map((b) => [b.id, b.rack]));
      for (const p of grown.partitions.slice(10)) {
        expect(p.replicas).toHaveLength(3);
        expect(new Set(p.replicas.map((r) => rackOf.get(r))).size).toBe(2);
        expect(p.leader).toBe(p.replicas[0]);
      }
      // A key that lands in one of the new partitions once the producer knows of twelve.
      const key = Array.from({ length: 1000 }, (_, i) => `key-${i}`).find((k) => partitionForKey(Buffer.from(k), 12) >= 10)!;
      let attempt = 0;
      const sent = await eventually(
        async () => {
          const value = `keyed-${attempt++}`;
          const meta = await producer.send({ topic: 'demo', key, value });
          return meta.partition >= 10 ? { ...meta, value } : false;
        },
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      expect(sent.partition).toBe(partitionForKey(Buffer.from(key), 12));
      await eventually(async () => (await consumer.poll()).some((r) => r.partition === sent.partition && r.value?.toString() === sent.value), {
        timeoutMs: 20_000,
        intervalMs: 10,
      });
    } finally {
      await producer.close();
      await consumer.close();
    }
    // Live topic configs: a small segment.bytes makes every replica roll its log.
    await cluster.admin.createTopic({ name: 'cfg', partitions: 1, replicationFactor: 3 });
    const before = await cluster.admin.describeConfigs({ topic: 'cfg' });
    await expect(cluster.admin.alterConfigs({ topic: 'cfg' }, { set: { 'segment.bytes': 10 } })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    expect(await cluster.admin.describeConfigs({ topic: 'cfg' })).toEqual(before);
    const after = await cluster.admin.alterConfigs({ topic: 'cfg' }, { set: { 'segment.bytes': '4096' } });
    expect(after.find((c) => c.name === 'segment.bytes')).toMatchObject({ value: 4096, isDefault: false });
    // One batch of ~1 KB per send: four fit in a 4 KiB segment, so 20 make at least five segments.
    const cfgProducer = new Producer({ bootstrap: cluster.bootstrap, acks: 'all' });
    try {
      for (let i = 0; i < 20; i++) await cfgProducer.send({ topic: 'cfg', partition: 0, value: `${i}-`.padEnd(1000, 'c') });
    } finally {
      await cfgProducer.close();
    }
    const replicas = (await partitionInfo(cluster.admin, 'cfg', 0)).replicas;
    await eventually(() => replicas.every((b) => readdirSync(partitionDir(cluster, b, 'cfg', 0)).filter((f) => f.endsWith('.log')).length >= 5), {
      timeoutMs: 15_000,
    });
  });

  it('3. bad plans are refused with clear codes and change nothing; a reassignment in progress refuses another and can be cancelled', async () => {
    await cluster.admin.createTopic({ name: 'bad', partitions: 2, replicationFactor: 3 });
    const describe = async () =>
      (await cluster.admin.describeTopic('bad')).partitions.map((p) => ({
        replicas: p.replicas,
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
        isr: [...p.isr].sort(),
      }));
    const before = await describe();
    const p0 = before[0]!.replicas;
    const outside = [0, 1, 2, 3, 4, 5, 6].find((b) => !p0.includes(b))!;
    const results = await cluster.admin.alterPartitionReassignments([
      { topic: 'bad', partition: 0, replicas: [p0[0]!, p0[1]!, 99] },
      { topic: 'bad', partition: 1, replicas: [outside, outside, p0[0]!] },
    ]);
    expect(results.map((r) => r.error?.code)).toEqual(['INVALID_REPLICA_ASSIGNMENT', 'INVALID_REPLICA_ASSIGNMENT']);
    expect(results[0]!.error!.message).toMatch(/99, not registered/);
    const tooMany = await cluster.admin.alterPartitionReassignments([{ topic: 'bad', partition: 0, replicas: [0, 1, 2, 3, 4, 5, 6, 7] }]);
    expect(tooMany[0]!.error?.code).toBe('INVALID_REPLICATION_FACTOR');
    const unknown = await cluster.admin.alterPartitionReassignments([
      { topic: 'bad', partition: 9, replicas: [0, 1, 2] },
      { topic: 'nope', partition: 0, replicas: [0, 1, 2] },
    ]);
    expect(unknown.map((r) => r.error?.code)).toEqual(['UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_OR_PARTITION']);
    expect((await cluster.admin.alterPartitionReassignments([{ topic: 'bad', partition: 0, replicas: null }]))[0]!.error?.code).toBe(
      'NO_REASSIGNMENT_IN_PROGRESS',
    );
    await expect(
      cluster.admin.alterPartitionReassignments([
        { topic: 'bad', partition: 0, replicas: null },
        { topic: 'bad', partition: 0, replicas: [0, 1, 2] },
      ]),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    expect(await describe()).toEqual(before);
    expect(await cluster.admin.listPartitionReassignments()).toEqual([]);

    // A slow reassignment (1 KiB/s for 300 KB) replacing the leader is in progress: another plan
    // for it is refused.
    await preload(cluster, 'bad', 0, 30, 10_000);
    const plan = [{ topic: 'bad', partition: 0, replicas: [outside, p0[1]!, p0[2]!] }];
    await throttle(cluster.admin, plan, 1024);
    try {
      await reassignOrFail(cluster.admin, plan);
      const again = await cluster.admin.alterPartitionReassignments([{ topic: 'bad', partition: 0, replicas: [...p0].reverse() }]);
      expect(again[0]!.error).toMatchObject({ code: 'REASSIGNMENT_IN_PROGRESS', message: expect.stringMatching(/cancel it first/) });
      await eventually(() => existsSync(partitionDir(cluster, outside, 'bad', 0)));
      // Cancelled: back to the original list, order and preferred leader included, and the
      // replica being added deletes its copy.
      expect((await cluster.admin.alterPartitionReassignments([{ topic: 'bad', partition: 0, replicas: null }]))[0]!.error).toBeUndefined();
      expect(await cluster.admin.listPartitionReassignments()).toEqual([]);
      const cancelled = await partitionInfo(cluster.admin, 'bad', 0);
      expect(cancelled.replicas).toEqual(p0);
      expect(cancelled.leader).toBe(p0[0]);
      await eventually(() => !existsSync(partitionDir(cluster, outside, 'bad', 0)));
    } finally {
      await unthrottle(cluster.admin, ['bad']);
    }
    const read = await readAll(cluster.bootstrap, 'bad', 1, { expected: 30 });
    expect(read.get(0)!.map((r) => r.offset)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('4. the controller is killed mid-reassignment: the copy goes on, and the reassignment completes after its restart', async () => {
    await cluster.admin.createTopic({ name: 'ctl', partitions: 1, replicationFactor: 3 });
    const original = (await partitionInfo(cluster.admin, 'ctl', 0)).replicas;
    const incoming = [0, 1, 2, 3, 4, 5, 6].find((b) => !original.includes(b))!;
    const target = [original[0]!, original[1]!, incoming];
    await preload(cluster, 'ctl', 0, 100, 10_000);
    const loop = startProducerLoop({ bootstrap: cluster.bootstrap, topic: 'ctl', partitions: [0], inflightMax: 4 });
    const plan = [{ topic: 'ctl', partition: 0, replicas: target }];
    try {
      await eventually(() => loop.acked.length > 50, { timeoutMs: 20_000 });
      await throttle(cluster.admin, plan, 200 * 1024);
      const copiedBefore = await metric(cluster, incoming, 'tributary_reassignment_bytes_in_total');
      await reassignOrFail(cluster.admin, plan);
      await eventually(() => existsSync(partitionDir(cluster, incoming, 'ctl', 0)), { timeoutMs: 10_000 });
      expect(await cluster.admin.listPartitionReassignments(['ctl'])).toHaveLength(1);
      await localKill(cluster.dataDir, 'controller');
      // Without a controller the leader keeps serving and the new replica keeps copying; only
      // the ISR change that would complete the move waits.
      const copiedAtKill = await metric(cluster, incoming, 'tributary_reassignment_bytes_in_total');
      expect(copiedAtKill - (Number.isNaN(copiedBefore) ? 0 : copiedBefore)).toBeLessThan(900_000);
      await eventually(async () => (await metric(cluster, incoming, 'tributary_reassignment_bytes_in_total')) > copiedAtKill + 100_000, { timeoutMs: 20_000 });
      const acksWhileDown = loop.acked.length;
      await eventually(() => loop.acked.length > acksWhileDown + 20, { timeoutMs: 20_000 });
      await localRestart(cluster.dataDir, 'controller');
      await untilDone(cluster.admin, ['ctl']);
      const done = await partitionInfo(cluster.admin, 'ctl', 0);
      expect(done.replicas).toEqual(target);
      expect([...done.isr].sort()).toEqual([...target].sort());
      await eventually(() => !existsSync(partitionDir(cluster, original[2]!, 'ctl', 0)));
    } finally {
      await loop.stop();
      await unthrottle(cluster.admin, ['ctl']);
    }
    expect(loop.failed).toEqual([]);
    const read = await readAll(cluster.bootstrap, 'ctl', 1, { expected: loop.acked.length + 100 });
    expect(checkAcknowledged(read, loop.acked)).toEqual([]);
  });

  it('5. the leader is killed mid-copy: the reassignment completes under the new leader', async () => {
    await cluster.admin.createTopic({ name: 'lead', partitions: 1, replicationFactor: 3 });
    const original = (await partitionInfo(cluster.admin, 'lead', 0)).replicas;
    const [leader, second, third] = original as [number, number, number];
    const incoming = [0, 1, 2, 3, 4, 5, 6].find((b) => !original.includes(b))!;
    // The leader is leaving: killed while the new replica copies from it, it is not needed again.
    const target = [incoming, second, third];
    await preload(cluster, 'lead', 0, 100, 10_000);
    const loop = startProducerLoop({ bootstrap: cluster.bootstrap, topic: 'lead', partitions: [0], inflightMax: 4 });
    const plan = [{ topic: 'lead', partition: 0, replicas: target }];
    try {
      await eventually(() => loop.acked.length > 50, { timeoutMs: 20_000 });
      await throttle(cluster.admin, plan, 200 * 1024);
      const copiedBefore = await metric(cluster, incoming, 'tributary_reassignment_bytes_in_total');
      await reassignOrFail(cluster.admin, plan);
      await eventually(
        async () => (await metric(cluster, incoming, 'tributary_reassignment_bytes_in_total')) > (Number.isNaN(copiedBefore) ? 0 : copiedBefore),
        { timeoutMs: 15_000 },
      );
      expect(await cluster.admin.listPartitionReassignments(['lead'])).toHaveLength(1);
      await localKill(cluster.dataDir, String(leader));
      // The first live ISR member of [incoming, second, third, leader] takes over; the new
      // replica, outside the ISR, cannot.
      const taken = await eventually(
        async () => {
          const p = await partitionInfo(cluster.admin, 'lead', 0);
          return p.leader !== leader && p.leader >= 0 ? p : false;
        },
        { timeoutMs: 20_000 },
      );
      expect(taken.leader).toBe(second);
      await untilDone(cluster.admin, ['lead']);
      const done = await partitionInfo(cluster.admin, 'lead', 0);
      expect(done.replicas).toEqual(target);
      expect([...done.isr].sort()).toEqual([...target].sort());
      expect(localStatus(cluster.dataDir).processes.find((p) => p.name === `broker-${leader}`)!.status).toBe('stopped');
      await eventually(() => loop.ackedSince(0, Date.now() - 500).length > 0, { timeoutMs: 20_000 });
    } finally {
      await loop.stop();
      await unthrottle(cluster.admin, ['lead']);
    }
    expect(loop.failed).toEqual([]);
    const read = await readAll(cluster.bootstrap, 'lead', 1, { expected: loop.acked.length + 100 });
    expect(checkAcknowledged(read, loop.acked)).toEqual([]);
  });

  it('6. every replica moves off broker 5 under load: it ends holding nothing, its logs deleted, nothing lost', async () => {
    const rackOf = new Map((await cluster.admin.describeCluster()).brokers.map((b) => [b.id, b.rack]));
    const topics = await cluster.admin.describeTopics();
    const load = new Map<number, number>();
    for (const t of topics) for (const p of t.partitions) for (const r of p.replicas) load.set(r, (load.get(r) ?? 0) + 1);
    // B5 replaced in place (its place in the order kept) by the least loaded broker not already
    // a replica, from rack-2 when one is free there.
    const plan: PartitionReassignment[] = [];
    for (const t of topics) {
      for (const p of t.partitions) {
        if (!p.replicas.includes(5)) continue;
        const candidates = [0, 1, 2, 3, 4, 6]
          .filter((b) => !p.replicas.includes(b))
          .sort((a, b) => (rackOf.get(a) === 'rack-2' ? 0 : 1) - (rackOf.get(b) === 'rack-2' ? 0 : 1) || (load.get(a) ?? 0) - (load.get(b) ?? 0) || a - b);
        const replacement = candidates[0]!;
        load.set(replacement, (load.get(replacement) ?? 0) + 1);
        plan.push({ topic: t.name, partition: p.partition, replicas: p.replicas.map((r) => (r === 5 ? replacement : r)) });
      }
    }
    expect(plan.length).toBeGreaterThanOrEqual(4);
    const partitions = (await cluster.admin.describeTopic('demo')).partitions.length;
    const loop = startProducerLoop({
      bootstrap: cluster.bootstrap,
      topic: 'demo',
      partitions: Array.from({ length: partitions }, (_, i) => i),
      inflightMax: 8,
      prefix: 'off5',
    });
    try {
      await eventually(() => loop.acked.length > 200, { timeoutMs: 20_000 });
      await reassignOrFail(cluster.admin, plan);
      await untilDone(cluster.admin);
      await eventually(() => loop.acked.length > 400, { timeoutMs: 20_000 });
    } finally {
      await loop.stop();
    }
    for (const t of await cluster.admin.describeTopics()) {
      for (const p of t.partitions) expect([t.name, p.partition, p.replicas.includes(5)]).toEqual([t.name, p.partition, false]);
    }
    await eventually(() => partitionDirs(cluster, 5).length === 0, { timeoutMs: 20_000 });
    expect(await metric(cluster, 5, 'tributary_partition_count')).toBe(0);
    expect(loop.failed).toEqual([]);
    // demo holds earlier scenarios' records too: read until nothing more comes.
    const read = await readAll(cluster.bootstrap, 'demo', partitions);
    expect(checkAcknowledged(read, loop.acked)).toEqual([]);
  });
});
