// Issue 19, conformance with a current Node client, @platformatic/kafka (which its milestone 2 has
// in mind): it negotiates through ApiVersions up to the milestone-2 versions (flexible versions,
// Metadata 12, Fetch 13 by topic id: checked on the client's own diagnostics channel, so the test
// fails if it falls back to older ones) and works — metadata with racks, an idempotent acks=all
// zstd producer, a consumer group of two — and the bundled client reads what it wrote.

import { tracingChannel } from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { eventually } from '@tributary/testkit';
import { readAll, startTestCluster, type TestCluster } from '../src/index.ts';

const COUNT = 2000;

describe('Kafka listener: @platformatic/kafka', () => {
  let cluster: TestCluster;
  const closers: { close(): Promise<unknown> }[] = [];
  // Every request the client sends, as apiKey -> the versions used (its connections:api channel).
  const sent = new Map<number, Set<number>>();
  const failed: { apiKey: number; apiVersion: number; error: unknown }[] = [];
  const onSend = {
    start(ctx: object) {
      const { apiKey, apiVersion } = ctx as { apiKey: number; apiVersion: number };
      const versions = sent.get(apiKey) ?? new Set<number>();
      versions.add(apiVersion);
      sent.set(apiKey, versions);
    },
    error(ctx: object) {
      const { apiKey, apiVersion, error } = ctx as { apiKey: number; apiVersion: number; error: unknown };
      failed.push({ apiKey, apiVersion, error });
    },
    end() {},
    asyncStart() {},
    asyncEnd() {},
  };
  const channel = tracingChannel('plt:kafka:connections:api');

  beforeAll(async () => {
    channel.subscribe(onSend);
    cluster = await startTestCluster();
    await cluster.admin.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
  });
  afterAll(async () => {
    channel.unsubscribe(onSend);
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

    // What was negotiated: the newest version both sides have, for every API the client used.
    const newest = Object.fromEntries([...sent].map(([apiKey, versions]) => [apiKey, Math.max(...versions)]));
    expect(newest).toMatchObject({
      0: 9, // Produce, flexible
      1: 13, // Fetch by topic id
      3: 12, // Metadata with topic ids
      8: 8, // OffsetCommit
      10: 4, // FindCoordinator, batched keys
      11: 7, // JoinGroup
      12: 4, // Heartbeat
      14: 5, // SyncGroup with protocol type and name
      18: 3, // ApiVersions
      22: 4, // InitProducerId
    });
    // Requests answered with a Kafka error are part of the protocol (MEMBER_ID_REQUIRED on a first
    // join, COORDINATOR_NOT_AVAILABLE while __consumer_offsets is created); every answer decoded.
    expect(failed.map((f) => `${f.apiKey} v${f.apiVersion}: ${(f.error as { code?: string }).code}`).filter((f) => !f.endsWith('PLT_KFK_RESPONSE'))).toEqual(
      [],
    );
  });

  it('its Admin at the newest admin versions: CreateTopics 7, DescribeConfigs 4, OffsetFetch 8, DeleteTopics 6', async () => {
    const admin = new Admin({ clientId: 'e2e-platformatic-admin', bootstrapBrokers: cluster.kafkaBootstrap.split(',') });
    closers.push(admin);
    const [created] = await admin.createTopics({ topics: ['plat-admin'], partitions: 2, replicas: 3, configs: [{ name: 'retention.ms', value: '3600000' }] });
    expect(created).toMatchObject({ name: 'plat-admin', partitions: 2, replicas: 3 });
    expect(created!.id).toMatch(/^[0-9a-f]{8}-/);
    expect(created!.id).not.toBe('00000000-0000-0000-0000-000000000000');
    expect(created!.configuration['retention.ms']).toBe('3600000');

    const [described] = await admin.describeConfigs({ resources: [{ resourceType: 2, resourceName: 'plat-admin' }], includeDocumentation: true });
    const retention = described!.configs.find((c) => c.name === 'retention.ms')!;
    expect(retention).toMatchObject({ value: '3600000', configType: 5 }); // LONG
    expect(retention.documentation).toBeTruthy();

    const offsets = await admin.listConsumerGroupOffsets({ groups: ['platformatic-group'] });
    expect(offsets.map((g) => g.groupId)).toEqual(['platformatic-group']);

    await admin.deleteTopics({ topics: ['plat-admin'] });
    await eventually(async () => expect(await admin.listTopics()).not.toContain('plat-admin'), { timeoutMs: 10_000 });

    const newest = Object.fromEntries([...sent].map(([apiKey, versions]) => [apiKey, Math.max(...versions)]));
    expect(newest).toMatchObject({ 9: 8, 19: 7, 20: 6, 32: 4 });
  });
});
