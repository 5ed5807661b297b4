import { describe, expect, it } from 'vitest';
import { DEFAULT_TOPIC_CONFIGS } from '@tributary/protocol';
import { fenceBroker } from './broker-registry.ts';
import { apply, clusterOf, codeOf, withTopic } from './internal/fixtures.ts';
import { createPartitions, createTopic, deleteTopic } from './topics.ts';

describe('createTopic', () => {
  it.each([
    ['bad name', { name: 'a/b', partitions: 1, replicationFactor: 1 }, 'INVALID_TOPIC'],
    ['name "."', { name: '.', partitions: 1, replicationFactor: 1 }, 'INVALID_TOPIC'],
    ['name too long', { name: 'x'.repeat(250), partitions: 1, replicationFactor: 1 }, 'INVALID_TOPIC'],
    ['zero partitions', { name: 't', partitions: 0, replicationFactor: 1 }, 'INVALID_PARTITIONS'],
    ['too many partitions', { name: 't', partitions: 10_001, replicationFactor: 1 }, 'INVALID_PARTITIONS'],
    ['fractional partitions', { name: 't', partitions: 1.5, replicationFactor: 1 }, 'INVALID_PARTITIONS'],
    ['RF 0', { name: 't', partitions: 1, replicationFactor: 0 }, 'INVALID_REPLICATION_FACTOR'],
    ['RF above live brokers', { name: 't', partitions: 1, replicationFactor: 7 }, 'INVALID_REPLICATION_FACTOR'],
    ['unknown config', { name: 't', partitions: 1, replicationFactor: 1, configs: { 'x.y': 1 } }, 'INVALID_CONFIG'],
    ['bad config value', { name: 't', partitions: 1, replicationFactor: 1, configs: { 'retention.ms': 'soon' } }, 'INVALID_CONFIG'],
    ['existing topic', { name: 'taken', partitions: 1, replicationFactor: 1 }, 'TOPIC_ALREADY_EXISTS'],
    ['fine', { name: 'fine', partitions: 10_000, replicationFactor: 6 }, 'no error'],
  ])('%s -> %s', (_name, request, code) => {
    const state = withTopic(clusterOf(), { name: 'taken', replicationFactor: 1 });
    expect(codeOf(() => createTopic(state, request, 'id'))).toBe(code);
  });

  it('counts only live brokers for the replication factor and placement', () => {
    const state = clusterOf();
    apply(state, fenceBroker(state, 5));
    expect(codeOf(() => createTopic(state, { name: 'demo', partitions: 1, replicationFactor: 6 }, 'id'))).toBe('INVALID_REPLICATION_FACTOR');
    const { reply } = createTopic(state, { name: 'demo', partitions: 5, replicationFactor: 2 }, 'id');
    // Live order 0,3,1,4,2; P4's leader 2 skips 0 (a second rack-1 replica) for 3.
    expect(reply.topic.partitions.map((p) => p.replicas)).toEqual([
      [0, 3],
      [3, 1],
      [1, 4],
      [4, 2],
      [2, 3],
    ]);
  });

  it('starts every partition at epoch 0 led by its first replica, with all replicas in sync', () => {
    const state = clusterOf();
    const { records, reply } = createTopic(
      state,
      { name: 'demo', partitions: 2, replicationFactor: 3, configs: { 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'true' } },
      'abc',
    );
    expect(reply.topic).toEqual({
      name: 'demo',
      topicId: 'abc',
      configs: { ...DEFAULT_TOPIC_CONFIGS, 'unclean.leader.election.enable': true },
      partitions: [
        {
          topic: 'demo',
          partition: 0,
          replicas: [0, 3, 1],
          addingReplicas: [],
          removingReplicas: [],
          leader: 0,
          leaderEpoch: 0,
          partitionEpoch: 0,
          isr: [0, 3, 1],
        },
        {
          topic: 'demo',
          partition: 1,
          replicas: [3, 1, 4],
          addingReplicas: [],
          removingReplicas: [],
          leader: 3,
          leaderEpoch: 0,
          partitionEpoch: 0,
          isr: [3, 1, 4],
        },
      ],
    });
    apply(state, records);
    expect(state.toMetadata().topics).toEqual([reply.topic]);
  });
});

describe('placement by topic', () => {
  it("places other topics by Kafka's layout from their own start and shift, and their new partitions continue it", () => {
    const state = withTopic(clusterOf(), { name: 'orders', partitions: 10, replicationFactor: 3 }, 'id-orders', 'topic');
    const twelve = createTopic(clusterOf(), { name: 'orders', partitions: 12, replicationFactor: 3 }, 'x').reply.topic.partitions.map((p) => p.replicas);
    expect(state.topics.get('orders')!.partitions.map((p) => p.replicas)).toEqual(twelve.slice(0, 10));
    expect(createPartitions(state, { topic: 'orders', totalCount: 12 }).reply.partitions.map((p) => p.replicas)).toEqual(twelve.slice(10));
    // Not the seed's table: another start, and followers shifted.
    expect(twelve.slice(0, 10)).not.toEqual(
      createTopic(clusterOf(), { name: 'demo', partitions: 10, replicationFactor: 3 }, 'x').reply.topic.partitions.map((p) => p.replicas),
    );
  });
});

describe('deleteTopic', () => {
  it('deletes an existing topic and refuses a missing one', () => {
    const state = withTopic(clusterOf(), { name: 't' });
    apply(state, deleteTopic(state, 't'));
    expect(state.topics.size).toBe(0);
    expect(codeOf(() => deleteTopic(state, 't'))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });
});

describe('createPartitions', () => {
  it('places the new partitions of demo by the seed layout, numbered on as if the topic had been created that large', () => {
    const state = withTopic(clusterOf(), { name: 'demo', partitions: 10, replicationFactor: 3 });
    const { records, reply } = createPartitions(state, { topic: 'demo', totalCount: 12 });
    // The seed's list 0,3,1,4,2,5: P10 is led by list[10 mod 6] = 2, P11 by 5.
    expect(reply.partitions.map((p) => [p.partition, p.replicas, p.leader, p.isr])).toEqual([
      [10, [2, 5, 0], 2, [2, 5, 0]],
      [11, [5, 0, 3], 5, [5, 0, 3]],
    ]);
    expect(
      createTopic(clusterOf(), { name: 'demo', partitions: 12, replicationFactor: 3 }, 'x')
        .reply.topic.partitions.slice(10)
        .map((p) => p.replicas),
    ).toEqual([
      [2, 5, 0],
      [5, 0, 3],
    ]);
    apply(state, records);
    expect(state.topics.get('demo')!.partitions).toHaveLength(12);
    expect(state.partition('demo', 11)).toMatchObject({ addingReplicas: [], removingReplicas: [], leaderEpoch: 0, partitionEpoch: 0 });
  });

  it.each([
    ['fewer partitions', 5, 'INVALID_PARTITIONS', /can only grow/],
    ['as many as now', 10, 'INVALID_PARTITIONS', /already has 10/],
    ['not an integer', 11.5, 'INVALID_PARTITIONS', /integer/],
    ['past the maximum', 10_001, 'INVALID_PARTITIONS', /integer between 1 and 10000/],
  ] as const)('refuses %s and changes nothing', (_name, totalCount, code, message) => {
    const state = withTopic(clusterOf(), { name: 't', partitions: 10, replicationFactor: 3 });
    expect(() => createPartitions(state, { topic: 't', totalCount })).toThrow(message);
    expect(codeOf(() => createPartitions(state, { topic: 't', totalCount }))).toBe(code);
    expect(state.topics.get('t')!.partitions).toHaveLength(10);
  });

  it('refuses an unknown topic, and a replication factor the live brokers cannot hold', () => {
    const state = withTopic(clusterOf(), { name: 't', partitions: 1, replicationFactor: 3 });
    expect(codeOf(() => createPartitions(state, { topic: 'nope', totalCount: 2 }))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    for (const id of [0, 1, 2, 3]) apply(state, fenceBroker(state, id));
    expect(codeOf(() => createPartitions(state, { topic: 't', totalCount: 2 }))).toBe('INVALID_REPLICATION_FACTOR');
  });
});
