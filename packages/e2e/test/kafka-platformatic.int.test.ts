// Issue 19, conformance with a current Node client, @platformatic/kafka (which its milestone 2 has
// in mind): it negotiates down through ApiVersions to the milestone-1 versions and works — metadata
// with racks, an idempotent acks=all zstd producer, a consumer group of two — and the bundled
// client reads what it wrote.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { eventually } from '@tributary/testkit';
import { readAll, startTestCluster, type TestCluster } from '../src/index.ts';

const COUNT = 2000;

describe('Kafka listener: @platformatic/kafka', () => {
  let cluster: TestCluster;
  const closers: { close(): Promise<unknown> }[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.admin.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
  });
  afterAll(async () => {
    await Promise.allSettled(closers.map((c) => c.close()));
    await cluster?.stop();
  });

  it('metadata, an idempotent acks=all zstd producer and a group of two consumers; the bundled client reads the records', async () => {
    const bootstrapBrokers = cluster.kafkaBootstrap.split(',');
    const admin = new Admin({ clientId: 'e2e-platformatic', bootstrapBrokers });
    closers.push(admin);
    const md = await admin.metadata({ topics: ['demo'] });
    expect([...md.brokers.entries()].map(([id, b]) => [id, b.port, b.rack]).sort()).toEqual(
      [0, 1, 2, 3, 4, 5].map((id) => [id, cluster.kafkaPorts[id], id < 3 ? 'rack-1' : 'rack-2']),
    );

    const producer = new Producer({
      clientId: 'e2e-platformatic',
      bootstrapBrokers,
      serializers: stringSerializers,
      idempotent: true,
      acks: -1,
      compression: 'zstd',
    });
    closers.push(producer);
    const values = Array.from({ length: COUNT }, (_, i) => `platformatic-${i}`);
    for (let i = 0; i < COUNT; i += 200) {
      const result = await producer.send({ messages: values.slice(i, i + 200).map((value, j) => ({ topic: 'demo', key: `k${i + j}`, value })) });
      expect(result.offsets?.length).toBeGreaterThan(0);
    }

    const consumed = new Set<string>();
    for (let m = 0; m < 2; m++) {
      const consumer = new Consumer({
        clientId: `e2e-platformatic-${m}`,
        groupId: 'platformatic-group',
        bootstrapBrokers,
        deserializers: stringDeserializers,
        maxWaitTime: 500,
      });
      closers.push(consumer);
      const stream = await consumer.consume({ topics: ['demo'], mode: 'earliest' });
      void (async () => {
        for await (const message of stream) consumed.add(message.value as string);
      })().catch(() => undefined);
    }
    await eventually(() => expect(consumed.size).toBe(COUNT), { timeoutMs: 60_000 });

    const stored = [...(await readAll(cluster.bootstrap, 'demo', 10, { expected: COUNT, idleMs: 5000 })).values()].flat().map((r) => r.value!.toString());
    expect(stored.sort()).toEqual([...values].sort());
  });
});
