// Issue 19, conformance with KafkaJS (a client nobody here wrote): an idempotent producer and a
// consumer group of three on demo while a broker is killed with -9 — no acknowledged record lost,
// every acknowledged record consumed — and the Tributary CLI and KafkaJS reading each other's
// records.

import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionTypes, Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { localKill, localRestart } from '@tributary/launcher';
import { eventually } from '@tributary/testkit';
import { readAll, repeatedSequences, run, startTestCluster, storedBatches, type TestCluster } from '../src/index.ts';

const CLI_MAIN = fileURLToPath(new URL('../../cli/src/main.ts', import.meta.url));
const BATCHES = 150;
const PER_BATCH = 100;

describe('Kafka listener: KafkaJS', () => {
  let cluster: TestCluster;
  let kafka: Kafka;
  const consumers: Consumer[] = [];
  const producers: Producer[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.admin.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
    kafka = new Kafka({
      clientId: 'e2e-kafkajs',
      brokers: cluster.kafkaBootstrap.split(','),
      logLevel: logLevel.NOTHING,
      retry: { retries: 12, initialRetryTime: 200, maxRetryTime: 5000 },
    });
  });
  afterAll(async () => {
    await Promise.allSettled([...consumers, ...producers].map((c) => c.disconnect()));
    await cluster?.stop();
  });

  it('an idempotent producer and a group of three consumers on demo, with kill -9 of a broker midway: no acknowledged record lost, every one consumed', async () => {
    const consumed = new Set<string>();
    const assigned = new Map<number, number>();
    for (let i = 0; i < 3; i++) {
      const consumer = kafka.consumer({ groupId: 'kafkajs-group', sessionTimeout: 10_000, heartbeatInterval: 1000, maxWaitTimeInMs: 500 });
      consumers.push(consumer);
      await consumer.connect();
      await consumer.subscribe({ topic: 'demo', fromBeginning: true });
      consumer.on(consumer.events.GROUP_JOIN, (e) => assigned.set(i, (e.payload.memberAssignment.demo ?? []).length));
      await consumer.run({
        eachMessage: async ({ message }) => {
          consumed.add(message.value!.toString());
        },
      });
    }
    // Every member gets a share of demo's ten partitions.
    await eventually(() => expect([...assigned.values()].reduce((a, b) => a + b, 0)).toBe(10), { timeoutMs: 60_000 });

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    producers.push(producer);
    await producer.connect();
    const acknowledged: string[] = [];
    let failures = 0;
    let unanswered = 0;
    for (let b = 0; b < BATCHES; b++) {
      if (b === BATCHES / 3) await localKill(cluster.dataDir, '0');
      const messages = Array.from({ length: PER_BATCH }, (_, i) => ({ partition: i % 10, value: `kafkajs-${b}-${i}` }));
      try {
        const result = await producer.send({ topic: 'demo', acks: -1, messages });
        // A record is acknowledged when its partition is answered without error. KafkaJS 2.2.4
        // resolves send() without the partitions of a broker whose connection closed (they are
        // absent from its result): those records were never acknowledged.
        const answered = new Set(result.filter((r) => r.errorCode === 0).map((r) => r.partition));
        for (const m of messages) {
          if (answered.has(m.partition)) acknowledged.push(m.value);
          else unanswered++;
        }
      } catch {
        failures++;
      }
    }
    console.log({ acknowledged: acknowledged.length, unanswered, failures });
    expect(acknowledged.length).toBeGreaterThan((BATCHES - 5) * PER_BATCH);
    expect(failures).toBeLessThan(5);

    // No acknowledged record lost: all are in the log (read through the bundled client).
    const at = new Map<string, string[]>();
    const readBack = await readAll(cluster.bootstrap, 'demo', 10, { idleMs: 10_000 });
    for (const [partition, records] of readBack.entries())
      for (const r of records) {
        const where = `${partition}@${r.offset}`;
        const list = at.get(r.value!.toString()) ?? [];
        if (!list.includes(where)) list.push(where);
        at.set(r.value!.toString(), list);
      }
    const stored = new Set(at.keys());
    expect(acknowledged.filter((v) => !stored.has(v))).toEqual([]);
    // The idempotent producer's promise, checked in the leaders' logs: no (producer id, epoch,
    // sequence) stored twice — a retried batch is answered with its first offsets, not appended.
    // A value at two offsets is allowed only as two different sequences: KafkaJS 2.2.4 numbers a
    // batch before sending it and keeps answers per broker *object*; when another broker's part
    // of a send() fails and it reconnects, it sends again the partitions already answered, under
    // new sequence numbers (sendMessages.js) — records no broker can tell from new ones.
    const demo = await cluster.admin.describeTopic('demo');
    const sequenceOf = new Map<string, string>();
    for (const { partition, leader } of demo.partitions) {
      const batches = storedBatches(cluster.dataDir, leader, 'demo', partition);
      expect(repeatedSequences(batches), `demo-${partition} on broker ${leader}`).toEqual([]);
      for (const b of batches)
        for (let o = b.baseOffset; o <= b.baseOffset + b.lastOffsetDelta; o++)
          sequenceOf.set(`${partition}@${o}`, `${b.producerId}/${b.producerEpoch}/${b.baseSequence}`);
    }
    const twice = [...at].filter(([, offsets]) => offsets.length > 1);
    for (const [value, offsets] of twice) expect(new Set(offsets.map((o) => sequenceOf.get(o))).size, `${value} at ${offsets.join(', ')}`).toBe(offsets.length);
    if (twice.length > 0) console.log(`KafkaJS sent ${twice.length} answered records again under new sequences (at ${twice[0]![1].join(', ')}, ...)`);
    // Every acknowledged record consumed by the group.
    await eventually(() => expect(acknowledged.filter((v) => !consumed.has(v)).length).toBe(0), { timeoutMs: 90_000 });
    await localRestart(cluster.dataDir, '0');
  });

  it('KafkaJS admin: CreateTopics, ListOffsets, DescribeConfigs and DeleteTopics go through the controller', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(
        await admin.createTopics({
          topics: [{ topic: 'admin-made', numPartitions: 4, replicationFactor: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
        }),
      ).toBe(true);
      const described = await cluster.admin.describeTopic('admin-made');
      expect(described.partitions).toHaveLength(4);
      expect(described.configs['retention.ms']).toBe(3_600_000);
      const offsets = await admin.fetchTopicOffsets('admin-made');
      expect(offsets.map((o) => [o.partition, o.low, o.high]).sort()).toEqual([
        [0, '0', '0'],
        [1, '0', '0'],
        [2, '0', '0'],
        [3, '0', '0'],
      ]);
      const configs = await admin.describeConfigs({ resources: [{ type: 2, name: 'admin-made' }], includeSynonyms: false });
      const entries = Object.fromEntries(configs.resources[0]!.configEntries.map((e) => [e.configName, e]));
      expect(entries['retention.ms']).toMatchObject({ configValue: '3600000', isDefault: false });
      expect(entries['min.insync.replicas']).toMatchObject({ configValue: '2', isDefault: true });
      await expect(admin.createTopics({ topics: [{ topic: 'admin-made', numPartitions: 1 }] })).resolves.toBe(false);
      await admin.deleteTopics({ topics: ['admin-made'] });
      await eventually(async () => expect(await cluster.admin.listTopics()).not.toContain('admin-made'));
    } finally {
      await admin.disconnect();
    }
  });

  it('the Tributary CLI reads what KafkaJS wrote (plain and gzip), and KafkaJS reads what the CLI wrote', async () => {
    await cluster.admin.createTopic({ name: 'interop', partitions: 3, replicationFactor: 3 });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    producers.push(producer);
    await producer.connect();
    const fromKafkaJs = Array.from({ length: 1000 }, (_, i) => `from-kafkajs-${i}`);
    await producer.send({ topic: 'interop', acks: -1, messages: fromKafkaJs.slice(0, 500).map((value) => ({ value })) });
    await producer.send({ topic: 'interop', acks: -1, compression: CompressionTypes.GZIP, messages: fromKafkaJs.slice(500).map((value) => ({ value })) });
    const read = await run(process.execPath, [
      CLI_MAIN,
      'consume',
      'interop',
      '--from-beginning',
      '--max-messages',
      '1000',
      '--bootstrap',
      cluster.bootstrap.join(','),
    ]);
    expect(read.code, read.stderr).toBe(0);
    expect(
      read.stdout
        .split('\n')
        .filter((l) => l !== '')
        .sort(),
    ).toEqual([...fromKafkaJs].sort());

    const fromCli = Array.from({ length: 1000 }, (_, i) => `from-cli-${i}`);
    const wrote = await run(process.execPath, [CLI_MAIN, 'produce', 'interop', '--compression', 'gzip', '--bootstrap', cluster.bootstrap.join(',')], {
      input: `${fromCli.join('\n')}\n`,
    });
    expect(wrote.code, wrote.stderr).toBe(0);
    const seen: string[] = [];
    const consumer = kafka.consumer({ groupId: 'interop-reader', maxWaitTimeInMs: 200 });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: 'interop', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    await eventually(() => expect(seen.length).toBeGreaterThanOrEqual(2000), { timeoutMs: 60_000 });
    expect(seen.filter((v) => v.startsWith('from-cli-')).sort()).toEqual([...fromCli].sort());
    await consumer.disconnect();
  });
});
