import { describe, expect, it } from 'vitest';
import type { AlterPartitionRequest } from '@tributary/protocol';
import { controlledShutdown, fenceBroker, registerBroker } from './broker-registry.ts';
import { apply, clusterOf, codeOf, registration, withTopic } from './internal/fixtures.ts';
import { alterPartition, alterPartitions } from './isr.ts';

// The seed's P0: replicas [0, 3, 1], leader 0, ISR [0, 3, 1], leader epoch 0, partition epoch 0.
function setup() {
  return withTopic(clusterOf(), { name: 't', partitions: 1, replicationFactor: 3 });
}

function request(overrides: Partial<AlterPartitionRequest> = {}): AlterPartitionRequest {
  return { brokerId: 0, brokerEpoch: 0, topic: 't', partition: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: [0, 3], ...overrides };
}

describe('alterPartition refusals', () => {
  it.each([
    ['stale broker epoch', request({ brokerEpoch: 1 }), 'STALE_BROKER_EPOCH'],
    ['unknown broker', request({ brokerId: 9 }), 'STALE_BROKER_EPOCH'],
    ['unknown topic', request({ topic: 'nope' }), 'UNKNOWN_TOPIC_OR_PARTITION'],
    ['unknown partition', request({ partition: 1 }), 'UNKNOWN_TOPIC_OR_PARTITION'],
    ['sender is not the leader', request({ brokerId: 3 }), 'FENCED_LEADER_EPOCH'],
    ['old leader epoch', request({ leaderEpoch: -1 }), 'FENCED_LEADER_EPOCH'],
    ['future leader epoch', request({ leaderEpoch: 1 }), 'FENCED_LEADER_EPOCH'],
    ['stale partition epoch', request({ partitionEpoch: 1 }), 'FENCED_LEADER_EPOCH'],
    ['ISR without the leader', request({ newIsr: [3, 1] }), 'INVALID_REQUEST'],
    ['ISR with a non-replica', request({ newIsr: [0, 2] }), 'INVALID_REQUEST'],
    ['ISR with a duplicate', request({ newIsr: [0, 3, 3] }), 'INVALID_REQUEST'],
    ['empty ISR', request({ newIsr: [] }), 'INVALID_REQUEST'],
  ])('%s -> %s', (_name, req, code) => {
    expect(codeOf(() => alterPartition(setup(), req))).toBe(code);
  });

  it('refuses to add a fenced broker, and one that is shutting down (KIP-841)', () => {
    const state = setup();
    apply(state, alterPartition(state, request({ newIsr: [0] })).records);
    apply(state, fenceBroker(state, 3));
    expect(codeOf(() => alterPartition(state, request({ partitionEpoch: 1, newIsr: [0, 3], joiningEpochs: [{ brokerId: 3, brokerEpoch: 0 }] })))).toBe(
      'INELIGIBLE_REPLICA',
    );
    state.sessions.get(1)!.shuttingDown = true;
    expect(codeOf(() => alterPartition(state, request({ partitionEpoch: 1, newIsr: [0, 1], joiningEpochs: [{ brokerId: 1, brokerEpoch: 0 }] })))).toBe(
      'INELIGIBLE_REPLICA',
    );
  });

  it('refuses to add a broker without the broker epoch it fetched under, or under an old one (KIP-903)', () => {
    const state = setup();
    apply(state, alterPartition(state, request({ newIsr: [0] })).records);
    expect(codeOf(() => alterPartition(state, request({ partitionEpoch: 1, newIsr: [0, 3] })))).toBe('INELIGIBLE_REPLICA');
    // Broker 3 restarts as a new process (epoch 1): what its old incarnation fetched no longer counts.
    apply(state, registerBroker(state, registration(3, 'rack-2', 'inc-3-again')).records);
    const partitionEpoch = state.partition('t', 0)!.partitionEpoch;
    expect(codeOf(() => alterPartition(state, request({ partitionEpoch, newIsr: [0, 3], joiningEpochs: [{ brokerId: 3, brokerEpoch: 0 }] })))).toBe(
      'INELIGIBLE_REPLICA',
    );
    expect(codeOf(() => alterPartition(state, request({ partitionEpoch, newIsr: [0, 3], joiningEpochs: [{ brokerId: 3, brokerEpoch: 1 }] })))).toBe('no error');
  });

  it('refuses the previous incarnation of a restarted leader', () => {
    const state = setup();
    apply(state, registerBroker(state, registration(0, 'rack-1', 'restarted')).records);
    expect(codeOf(() => alterPartition(state, request()))).toBe('STALE_BROKER_EPOCH');
  });

  it('refuses the old leader after a controlled shutdown moved leadership', () => {
    const state = setup();
    apply(state, controlledShutdown(state, 0, 0).records);
    expect(codeOf(() => alterPartition(state, request({ leaderEpoch: 0 })))).toBe('FENCED_LEADER_EPOCH');
  });
});

describe('alterPartition success', () => {
  it('shrinks, then expands, bumping the partition epoch each time', () => {
    const state = setup();
    const shrink = alterPartition(state, request({ newIsr: [0, 3] }));
    expect(shrink.records).toEqual([
      { type: 'PartitionChange', topic: 't', topicId: 'id-t', partition: 0, leader: 0, leaderEpoch: 0, partitionEpoch: 1, isr: [0, 3] },
    ]);
    expect(shrink.reply).toEqual({
      topic: 't',
      partition: 0,
      replicas: [0, 3, 1],
      addingReplicas: [],
      removingReplicas: [],
      leader: 0,
      leaderEpoch: 0,
      partitionEpoch: 1,
      isr: [0, 3],
    });
    apply(state, shrink.records);
    expect(state.partition('t', 0)).toEqual(shrink.reply);
    const expand = alterPartition(state, request({ partitionEpoch: 1, newIsr: [0, 3, 1], joiningEpochs: [{ brokerId: 1, brokerEpoch: 0 }] }));
    apply(state, expand.records);
    expect(state.partition('t', 0)).toMatchObject({ partitionEpoch: 2, leaderEpoch: 0, isr: [0, 3, 1] });
  });

  it('answers an unchanged ISR with the current state and logs nothing', () => {
    const state = setup();
    const same = alterPartition(state, request({ newIsr: [1, 0, 3] }));
    expect(same.records).toEqual([]);
    expect(same.reply).toMatchObject({ partitionEpoch: 0, isr: [0, 3, 1] });
  });
});

describe('alterPartitions (batched)', () => {
  const item = (partition: number, newIsr: number[], extra: object = {}) => ({ topic: 't', partition, leaderEpoch: 0, partitionEpoch: 0, newIsr, ...extra });

  it('decides each partition on its own against the same state, and returns every accepted record', () => {
    // P0 and P6 [0,3,1] led by B0; P1 [3,1,4] led by B3.
    const state = withTopic(clusterOf(), { name: 't', partitions: 7, replicationFactor: 3 });
    const { records, reply } = alterPartitions(state, {
      brokerId: 0,
      brokerEpoch: 0,
      partitions: [item(0, [0, 3]), item(1, [3, 1]), item(6, [0, 1]), item(9, [0]), item(0, [0])],
    });
    expect(reply.partitions.map((p) => [p.partition, p.state?.isr ?? p.error?.code])).toEqual([
      [0, [0, 3]],
      [1, 'FENCED_LEADER_EPOCH'],
      [6, [0, 1]],
      [9, 'UNKNOWN_TOPIC_OR_PARTITION'],
      [0, 'INVALID_REQUEST'],
    ]);
    expect(records.map((r) => r.type === 'PartitionChange' && [r.partition, r.isr])).toEqual([
      [0, [0, 3]],
      [6, [0, 1]],
    ]);
    // Nothing applied yet: the caller appends the records as one batch, then applies them.
    expect(state.partition('t', 0)!.isr).toEqual([0, 3, 1]);
  });

  it('refuses the whole request for a stale broker epoch', () => {
    const state = setup();
    expect(codeOf(() => alterPartitions(state, { brokerId: 0, brokerEpoch: 5, partitions: [item(0, [0, 3])] }))).toBe('STALE_BROKER_EPOCH');
  });
});
