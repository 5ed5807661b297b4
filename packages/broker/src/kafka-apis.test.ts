// The milestone-2 handlers of the Kafka listener against a real ReplicaManager and coordinator
// (no sockets): OffsetForLeaderEpoch's epoch lookups and fencing, Fetch 12's diverging epoch and
// Fetch 13 by topic id, Metadata 10-12 topic ids, DeleteTopics 6, FindCoordinator 4, OffsetFetch
// 8 and InitProducerId 3; and the ACLs of a secure cluster on them. Every answer is also encoded
// and decoded at its version, so a handler cannot answer what the codec refuses.

import { afterEach, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, MESSAGES, Reader, type Message } from '@tributary/kafka';
import { batch, brokerReg, makeCore, topicState, type Core } from '../test/helpers.ts';
import { TributaryError, resolveTopicConfigs } from '@tributary/protocol';
import { ANONYMOUS, Authorizer, userPrincipal, type AclBinding, type Principal } from '@tributary/auth';
import { KafkaApis, ZERO_UUID, kafkaTopicId, type KafkaSession } from './kafka-apis.ts';

let core: Core | undefined;
afterEach(async () => {
  await core?.close();
  core = undefined;
});

/** Broker 0 alone holds t-0 (so its HW follows its log) at `leaderEpoch`, and follows f-0 (led by 1). */
function md(version: number, leaderEpoch: number) {
  return {
    clusterId: 'c1',
    version,
    brokers: [0, 1].map((id) => ({
      ...brokerReg(id),
      kafka: { internal: { host: '127.0.0.1', port: 9092 + id }, external: { host: '127.0.0.1', port: 9092 + id } },
    })),
    topics: [topicState('t', [{ replicas: [0], leaderEpoch }]), topicState('f', [{ replicas: [1, 0], leaderEpoch: 3 }])],
  };
}

async function setup(
  forwardAdmin: (op: string, body: unknown, principal?: { name: string; host: string }) => Promise<unknown> = async () => ({}),
  authorizer?: Authorizer,
) {
  core = await makeCore();
  core.rm.applyMetadata(md(1, 0));
  const apis = new KafkaApis({
    brokerId: 0,
    listener: 'internal',
    replicas: core.rm,
    groups: core.host,
    metrics: core.metrics,
    forwardAdmin,
    ...(authorizer ? { authorizer } : {}),
    fetchBytesMax: 1 << 20,
  });
  return apis;
}

async function produce(c: Core, values: string[]): Promise<void> {
  const r = await c.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: 't', partition: 0, records: batch(values) }] });
  expect(r.body.partitions[0].error).toBeUndefined();
}

/** Handles a request and passes the answer through the codec at that version. */
async function call(apis: KafkaApis, apiKey: number, apiVersion: number, body: Message, principal: Principal = ANONYMOUS): Promise<Message> {
  const session: KafkaSession = { principal, host: '127.0.0.1', clientHost: '/127.0.0.1' };
  const answer = await apis.handle({ apiKey, apiVersion, correlationId: 1, clientId: 'test' }, body, session);
  const spec = MESSAGES.get(apiKey)!.response;
  return decodeMessage(spec, apiVersion, new Reader(encodeMessage(spec, apiVersion, answer!).toBuffer()));
}

const epochAsk = (partitions: { partition?: number; currentLeaderEpoch?: number; leaderEpoch: number }[], topic = 't') => ({
  topics: [
    { topic, partitions: partitions.map((p) => ({ partition: p.partition ?? 0, currentLeaderEpoch: p.currentLeaderEpoch ?? -1, leaderEpoch: p.leaderEpoch })) },
  ],
});

describe('OffsetForLeaderEpoch (KIP-101 / KIP-320)', () => {
  it('answers the end offset of each asked epoch from the leader-epoch cache, as Kafka does at both edges', async () => {
    const apis = await setup();
    await produce(core!, ['a', 'b', 'c']); // epoch 0: offsets 0-2
    core!.rm.applyMetadata(md(2, 2)); // epoch 2 starts at 3
    await produce(core!, ['d', 'e']); // offsets 3-4
    const r = await call(apis, 23, 4, {
      replicaId: -1,
      ...epochAsk([{ leaderEpoch: 0 }, { leaderEpoch: 1 }, { leaderEpoch: 2, currentLeaderEpoch: 2 }, { leaderEpoch: 5 }, { leaderEpoch: -1 }]),
    });
    expect((r.topics as Message[])[0]!.partitions).toEqual([
      { errorCode: 0, partition: 0, leaderEpoch: 0, endOffset: 3 },
      // An epoch the log never had: the largest below it, ending where the next one starts.
      { errorCode: 0, partition: 0, leaderEpoch: 0, endOffset: 3 },
      { errorCode: 0, partition: 0, leaderEpoch: 2, endOffset: 5 },
      // Newer than every epoch held: undefined (the HTTP replica path would answer the latest).
      { errorCode: 0, partition: 0, leaderEpoch: -1, endOffset: -1 },
      { errorCode: 0, partition: 0, leaderEpoch: -1, endOffset: -1 },
    ]);
  });

  it('fences a stale current leader epoch, refuses a newer one, and names unknown partitions', async () => {
    const apis = await setup();
    core!.rm.applyMetadata(md(2, 2));
    const r = await call(apis, 23, 4, {
      replicaId: -1,
      ...epochAsk([
        { leaderEpoch: 0, currentLeaderEpoch: 1 },
        { leaderEpoch: 0, currentLeaderEpoch: 3 },
        { partition: 7, leaderEpoch: 0 },
      ]),
    });
    expect((r.topics as Message[])[0]!.partitions).toEqual([
      { errorCode: 74, partition: 0, leaderEpoch: -1, endOffset: -1 }, // FENCED_LEADER_EPOCH
      { errorCode: 75, partition: 0, leaderEpoch: -1, endOffset: -1 }, // UNKNOWN_LEADER_EPOCH
      { errorCode: 3, partition: 7, leaderEpoch: -1, endOffset: -1 }, // UNKNOWN_TOPIC_OR_PARTITION
    ]);
    const missing = await call(apis, 23, 4, { replicaId: -1, ...epochAsk([{ leaderEpoch: 0 }], 'nope') });
    expect((missing.topics as Message[])[0]!.partitions).toEqual([{ errorCode: 3, partition: 0, leaderEpoch: -1, endOffset: -1 }]);
  });

  it('consumers (-1) and followers must ask the leader; a debugging client (-2, and every v0-2 request) may ask a follower', async () => {
    const apis = await setup();
    for (const replicaId of [-1, 1]) {
      const r = await call(apis, 23, 3, { replicaId, ...epochAsk([{ leaderEpoch: 3 }], 'f') });
      expect((r.topics as Message[])[0]!.partitions).toEqual([{ errorCode: 6, partition: 0, leaderEpoch: -1, endOffset: -1 }]);
    }
    for (const [v, body] of [
      [3, { replicaId: -2, ...epochAsk([{ leaderEpoch: 3 }], 'f') }],
      [2, epochAsk([{ leaderEpoch: 3 }], 'f')],
    ] as const) {
      const r = await call(apis, 23, v, body);
      // The follower's log is empty: no epoch known.
      expect((r.topics as Message[])[0]!.partitions).toEqual([{ errorCode: 0, partition: 0, leaderEpoch: -1, endOffset: -1 }]);
    }
    // v0 has no leader epoch in the answer.
    const v0 = await call(apis, 23, 0, epochAsk([{ leaderEpoch: 0 }]));
    expect((v0.topics as Message[])[0]!.partitions).toEqual([{ errorCode: 0, partition: 0, leaderEpoch: -1, endOffset: 0 }]);
  });
});

const fetchBody = (topic: { topic?: string; topicId?: string }, p: { fetchOffset: number; lastFetchedEpoch?: number; currentLeaderEpoch?: number }) => ({
  replicaId: -1,
  maxWaitMs: 0,
  minBytes: 0,
  maxBytes: 1 << 20,
  isolationLevel: 0,
  sessionId: 0,
  sessionEpoch: -1,
  topics: [
    {
      topic: topic.topic ?? '',
      topicId: topic.topicId ?? ZERO_UUID,
      partitions: [
        {
          partition: 0,
          currentLeaderEpoch: p.currentLeaderEpoch ?? -1,
          fetchOffset: p.fetchOffset,
          lastFetchedEpoch: p.lastFetchedEpoch ?? -1,
          logStartOffset: -1,
          partitionMaxBytes: 1 << 20,
        },
      ],
    },
  ],
  forgottenTopicsData: [],
  rackId: '',
});

describe('Fetch 12-13', () => {
  it('v13 names topics by id: a known id is served, an unknown one is UNKNOWN_TOPIC_ID', async () => {
    const apis = await setup();
    await produce(core!, ['a', 'b']);
    const id = kafkaTopicId('t-id');
    const known = await call(apis, 1, 13, fetchBody({ topicId: id }, { fetchOffset: 0 }));
    const [topic] = known.responses as Message[];
    expect(topic!.topicId).toBe(id);
    const [partition] = topic!.partitions as Message[];
    expect(partition).toMatchObject({ partitionIndex: 0, errorCode: 0, highWatermark: 2 });
    expect((partition!.records as Buffer).length).toBeGreaterThan(61);

    const unknownId = '7b3f2e1a-0000-4000-8000-000000000001';
    const unknown = await call(apis, 1, 13, fetchBody({ topicId: unknownId }, { fetchOffset: 0 }));
    expect(unknown.responses).toEqual([
      {
        topic: '',
        topicId: unknownId,
        partitions: [expect.objectContaining({ partitionIndex: 0, errorCode: 100, highWatermark: -1, records: expect.any(Buffer) })],
      },
    ]);
  });

  it('v12 answers a fetch whose last fetched epoch diverges from the leader with divergingEpoch and no records (KIP-320)', async () => {
    const apis = await setup();
    await produce(core!, ['a', 'b', 'c']);
    core!.rm.applyMetadata(md(2, 2));
    await produce(core!, ['d']);
    // The fetcher believes epoch 1 went on to offset 4; the leader never had epoch 1: epoch 0 ends at 3.
    const diverged = await call(apis, 1, 12, fetchBody({ topic: 't' }, { fetchOffset: 4, lastFetchedEpoch: 1, currentLeaderEpoch: 2 }));
    const p = ((diverged.responses as Message[])[0]!.partitions as Message[])[0]!;
    expect(p).toMatchObject({ errorCode: 0, highWatermark: 4, divergingEpoch: { epoch: 0, endOffset: 3 } });
    expect((p.records as Buffer).length).toBe(0);
    // In step with the leader: records, and no diverging epoch on the wire.
    const ok = await call(apis, 1, 12, fetchBody({ topic: 't' }, { fetchOffset: 3, lastFetchedEpoch: 0, currentLeaderEpoch: 2 }));
    const q = ((ok.responses as Message[])[0]!.partitions as Message[])[0]!;
    expect(q.divergingEpoch).toEqual({ epoch: -1, endOffset: -1 });
    expect((q.records as Buffer).length).toBeGreaterThan(61);
  });
});

describe('Metadata 10-12 topic ids', () => {
  it('answers topic ids; v12 looks a topic up by id; an unknown id is UNKNOWN_TOPIC_ID; ids before v12 are INVALID_REQUEST', async () => {
    const apis = await setup();
    const id = kafkaTopicId('t-id');
    const byName = await call(apis, 3, 10, {
      topics: [{ topicId: ZERO_UUID, name: 't' }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    expect((byName.topics as Message[])[0]).toMatchObject({ errorCode: 0, name: 't', topicId: id });
    const byId = await call(apis, 3, 12, { topics: [{ topicId: id, name: null }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    expect((byId.topics as Message[])[0]).toMatchObject({ errorCode: 0, name: 't', topicId: id });
    const other = '11111111-2222-4333-8444-555555555555';
    const unknown = await call(apis, 3, 12, {
      topics: [{ topicId: other, name: null }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    expect((unknown.topics as Message[])[0]).toMatchObject({ errorCode: 100, name: null, topicId: other, partitions: [] });
    const early = await call(apis, 3, 11, { topics: [{ topicId: id, name: 't' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    expect((early.topics as Message[])[0]).toMatchObject({ errorCode: 42, name: 't' });
  });

  it('a topic id that is not a UUID (a test metadata) is hashed to a stable one; a UUID is kept', () => {
    expect(kafkaTopicId('t-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(kafkaTopicId('t-id')).toBe(kafkaTopicId('t-id'));
    expect(kafkaTopicId('t-id')).not.toBe(kafkaTopicId('u-id'));
    expect(kafkaTopicId('0F8E2C4A-1B3D-4E5F-8A9B-0C1D2E3F4A5B')).toBe('0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b');
  });
});

describe('admin and group APIs at their new versions', () => {
  it('DeleteTopics 6: by id, by name; an unknown id, both or neither are refused per topic', async () => {
    const deleted: unknown[] = [];
    const apis = await setup(async (op, body) => {
      deleted.push({ op, body });
      return {};
    });
    const id = kafkaTopicId('t-id');
    const r = await call(apis, 20, 6, {
      topics: [
        { name: null, topicId: id },
        { name: 'f', topicId: ZERO_UUID },
        { name: null, topicId: '11111111-2222-4333-8444-555555555555' },
        { name: 't', topicId: id },
        { name: null, topicId: ZERO_UUID },
      ],
      timeoutMs: 1000,
    });
    expect((r.responses as Message[]).map((x) => [x.name, x.topicId, x.errorCode])).toEqual([
      ['t', id, 0],
      ['f', kafkaTopicId('f-id'), 0],
      [null, '11111111-2222-4333-8444-555555555555', 100],
      ['t', id, 42],
      [null, ZERO_UUID, 42],
    ]);
    expect(deleted).toEqual([
      { op: 'delete-topic', body: { name: 't' } },
      { op: 'delete-topic', body: { name: 'f' } },
    ]);
  });

  it('FindCoordinator 4 answers each key; transaction keys are COORDINATOR_NOT_AVAILABLE', async () => {
    const apis = await setup();
    const txn = await call(apis, 10, 4, { keyType: 1, coordinatorKeys: ['a', 'b'] });
    expect((txn.coordinators as Message[]).map((c) => [c.key, c.errorCode, c.nodeId])).toEqual([
      ['a', 15, -1],
      ['b', 15, -1],
    ]);
  });

  it('OffsetFetch 8 answers per group', async () => {
    const apis = await setup();
    const r = await call(apis, 9, 8, {
      groups: [
        { groupId: '', topics: null },
        { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0] }] },
      ],
      requireStable: true,
    });
    const groups = r.groups as Message[];
    expect(groups.map((g) => g.groupId)).toEqual(['', 'g']);
    // An empty group id is INVALID_GROUP_ID (24); the other is answered on its own.
    expect(groups[0]!.errorCode).toBe(24);
    expect(groups[1]!.errorCode).not.toBe(24);
  });

  it('InitProducerId 3 refuses a producer id without an epoch (KIP-360: both or neither)', async () => {
    const apis = await setup(async () => ({ producerId: 7, producerEpoch: 0 }));
    const half = await call(apis, 22, 3, { transactionalId: null, transactionTimeoutMs: 1000, producerId: 5, producerEpoch: -1 });
    expect(half).toMatchObject({ errorCode: 42, producerId: -1 });
    const bump = await call(apis, 22, 4, { transactionalId: null, transactionTimeoutMs: 1000, producerId: 5, producerEpoch: 2 });
    expect(bump).toMatchObject({ errorCode: 0, producerId: 7, producerEpoch: 0 });
  });

  it('DescribeConfigs 4: Kafka config types, and documentation only when asked', async () => {
    const apis = await setup(async (op) => {
      expect(op).toBe('describe-configs');
      return {
        resource: { topic: 't' },
        configs: [
          { name: 'retention.ms', value: 3600000, isDefault: false, doc: 'age after which whole segments are deleted' },
          { name: 'cleanup.policy', value: 'delete', isDefault: true, doc: 'what happens to old segments' },
        ],
      };
    });
    const ask = (includeDocumentation: boolean) =>
      call(apis, 32, 4, { resources: [{ resourceType: 2, resourceName: 't', configurationKeys: null }], includeSynonyms: false, includeDocumentation });
    const withDocs = ((await ask(true)).results as Message[])[0]!;
    expect((withDocs.configs as Message[]).map((c) => [c.name, c.value, c.configSource, c.configType, c.documentation])).toEqual([
      ['retention.ms', '3600000', 1, 5, 'age after which whole segments are deleted'], // LONG
      ['cleanup.policy', 'delete', 5, 7, 'what happens to old segments'], // LIST
    ]);
    const without = ((await ask(false)).results as Message[])[0]!;
    expect((without.configs as Message[]).map((c) => c.documentation)).toEqual([null, null]);
  });

  it('CreateTopics 7 validate-only: the controller checks (validateOnly) and its answer is the topic it would make; a refusal per topic', async () => {
    const forwarded: unknown[] = [];
    const apis = await setup(async (op, body) => {
      const request = body as { name: string; partitions: number; replicationFactor: number; configs: Record<string, string>; validateOnly?: boolean };
      forwarded.push({ op, name: request.name, validateOnly: request.validateOnly });
      // What the controller answers: the topic it would create, or the creation's refusal.
      const topic = topicState(
        request.name,
        Array.from({ length: request.partitions }, () => ({ replicas: [0, 1].slice(0, request.replicationFactor), leaderEpoch: 0 })),
      );
      if (request.configs['retention.ms'] === 'soon') throw new TributaryError('INVALID_CONFIG', 'retention.ms must be a number');
      return { topic: { ...topic, configs: resolveTopicConfigs(request.configs) } };
    });
    const r = await call(apis, 19, 7, {
      topics: [
        { name: 'n', numPartitions: 3, replicationFactor: -1, assignments: [], configs: [{ name: 'retention.ms', value: '1000' }] },
        { name: 'bad', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'retention.ms', value: 'soon' }] },
      ],
      timeoutMs: 1000,
      validateOnly: true,
    });
    const [ok, bad] = r.topics as Message[];
    // Two live brokers in the metadata: the default replication factor is min(3, 2).
    expect(ok).toMatchObject({ name: 'n', topicId: ZERO_UUID, errorCode: 0, numPartitions: 3, replicationFactor: 2 });
    expect((ok!.configs as Message[]).find((c) => c.name === 'retention.ms')).toMatchObject({ value: '1000', configSource: 1 });
    expect((ok!.configs as Message[]).find((c) => c.name === 'segment.ms')).toMatchObject({ configSource: 5 });
    expect(bad).toMatchObject({ name: 'bad', errorCode: 40, numPartitions: -1, replicationFactor: -1, configs: null });
    expect(forwarded).toEqual([
      { op: 'create-topic', name: 'n', validateOnly: true },
      { op: 'create-topic', name: 'bad', validateOnly: true },
    ]);
  });
});

describe('ACLs on a secure cluster (issue 20)', () => {
  const alice = userPrincipal('alice', 'scram');
  const allow = (operation: AclBinding['operation'], resourceType: AclBinding['resourceType'], resourceName: string): AclBinding => ({
    principal: 'User:alice',
    host: '*',
    operation,
    permission: 'Allow',
    resourceType,
    resourceName,
    patternType: 'Literal',
  });
  function secured(bindings: AclBinding[], forwarded: unknown[] = []) {
    const authorizer = new Authorizer({ enabled: true, acls: () => ({ version: bindings.length, bindings }), superUsers: new Set() });
    return setup(async (op, _body, principal) => {
      forwarded.push({ op, principal });
      return {};
    }, authorizer);
  }

  it('Metadata lists only the topics the caller may Describe; one asked by name without Describe is TOPIC_AUTHORIZATION_FAILED', async () => {
    const apis = await secured([allow('Describe', 'Topic', 't')]);
    const all = await call(apis, 3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }, alice);
    expect((all.topics as Message[]).map((t) => t.name)).toEqual(['t']);
    const named = await call(apis, 3, 8, { topics: [{ name: 'f' }, { name: 'nope' }, { name: 't' }], allowAutoTopicCreation: false }, alice);
    expect((named.topics as Message[]).map((t) => [t.name, t.errorCode])).toEqual([
      ['f', 29],
      ['nope', 29],
      ['t', 0],
    ]);
  });

  it('Produce needs Write and Fetch Read per topic; the refused partitions get TOPIC_AUTHORIZATION_FAILED, nothing is written', async () => {
    const apis = await secured([allow('Read', 'Topic', 't')]);
    const produced = await call(
      apis,
      0,
      8,
      { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: batch(['x']) }] }] },
      alice,
    );
    expect((produced.responses as { partitionResponses: Message[] }[])[0]!.partitionResponses[0]!.errorCode).toBe(29);
    expect(core!.rm.getPartition('t', 0)!.log.logEndOffset).toBe(0);
    const fetchBody = (topic: string) => ({
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
    const fetchError = async (topic: string) =>
      ((await call(apis, 1, 11, fetchBody(topic), alice)).responses as { partitions: Message[] }[])[0]!.partitions[0]!.errorCode;
    expect(await fetchError('t')).toBe(0);
    expect(await fetchError('f')).toBe(29);
  });

  it('group APIs need Read (FindCoordinator Describe) on the group; admin APIs go to the controller as the caller', async () => {
    const forwarded: unknown[] = [];
    const apis = await secured([allow('Describe', 'Group', 'g1')], forwarded);
    expect((await call(apis, 10, 2, { key: 'g2', keyType: 0 }, alice)).errorCode).toBe(30);
    // Past the ACLs (this test's metadata has no __consumer_offsets: COORDINATOR_NOT_AVAILABLE).
    expect((await call(apis, 10, 2, { key: 'g1', keyType: 0 }, alice)).errorCode).toBe(15);
    expect((await call(apis, 12, 3, { groupId: 'g1', generationId: 1, memberId: 'm', groupInstanceId: null }, alice)).errorCode).toBe(30);
    // Counted by the answer's error, not as "none".
    const text = await core!.metrics.registry.metrics();
    expect(text).toMatch(/tributary_requests_total\{api="kafka_heartbeat",error="GROUP_AUTHORIZATION_FAILED".*\} 1/);
    expect(text).toMatch(/tributary_requests_total\{api="kafka_find_coordinator",error="GROUP_AUTHORIZATION_FAILED".*\} 1/);
    const sync = await call(
      apis,
      14,
      5,
      { groupId: 'g1', generationId: 1, memberId: 'm', groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] },
      alice,
    );
    expect(sync.errorCode).toBe(30);
    await call(apis, 20, 3, { topicNames: ['t'], timeoutMs: 1000 }, alice);
    await call(apis, 22, 1, { transactionalId: null, transactionTimeoutMs: 1000 }, alice);
    expect(forwarded).toEqual([
      { op: 'delete-topic', principal: { name: 'User:alice', host: '127.0.0.1' } },
      { op: 'init-producer-id', principal: { name: 'User:alice', host: '127.0.0.1' } },
    ]);
    // A cluster process (certificate) is no client: its calls go as itself.
    await call(apis, 22, 1, { transactionalId: null, transactionTimeoutMs: 1000 }, userPrincipal('broker-1', 'certificate'));
    expect(forwarded.at(-1)).toEqual({ op: 'init-producer-id', principal: undefined });
  });
});
