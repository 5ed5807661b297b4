import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONSUMER_OFFSETS_TOPIC, TributaryError, decodeBatches } from '@tributary/protocol';
import { decodeRecord } from '@tributary/coordinator';
import { eventually, tempDir } from '@tributary/testkit';
import { batch, brokerReg, makeCore, topicState, type Core } from '../test/helpers.ts';

// Two __consumer_offsets partitions: this broker (0) leads partition 0, broker 1 leads 1.
// Java's hashCode puts group 'b' (98) on partition 0 and group 'a' (97) on partition 1.
const OURS = 'b';
const THEIRS = 'a';

function md(version = 1, offsetsLeaderOfPartition0 = 0, leaderEpoch = 0) {
  return {
    clusterId: 'c1',
    version,
    brokers: [brokerReg(0, 'rack-1'), brokerReg(1, 'rack-2')],
    topics: [
      topicState(
        CONSUMER_OFFSETS_TOPIC,
        [
          // The leader alone in the ISR: its appends commit without a follower fetching.
          { replicas: [0, 1], leader: offsetsLeaderOfPartition0, leaderEpoch, isr: [offsetsLeaderOfPartition0] },
          { replicas: [1, 0], leader: 1, isr: [1] },
        ],
        { 'cleanup.policy': 'compact', 'min.insync.replicas': 1 },
      ),
      topicState('t', [{ replicas: [0] }, { replicas: [0] }]),
    ],
  };
}

const joinBody = (groupId: string, memberId: string, extra: object = {}) => ({
  groupId,
  memberId,
  clientId: 'cli',
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 10_000,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: Buffer.from('sub') }],
  ...extra,
});

describe('group routes', () => {
  let core: Core;
  beforeEach(async () => {
    core = await makeCore({ config: { groupInitialRebalanceDelayMs: 0 } });
    core.rm.applyMetadata(md());
    core.host.onRolesChanged();
    await eventually(() => core.host.coordinator.partitionState(0) === 'active');
  });
  afterEach(async () => {
    await core.close();
  });

  it('finds the coordinator: the leader of the group\u2019s __consumer_offsets partition, at the listener\u2019s address', async () => {
    expect((await core.post('/find-coordinator', { key: OURS })).body).toEqual({ brokerId: 0, host: 'broker-0', port: 9092 });
    expect((await core.post('/find-coordinator', { key: THEIRS })).body).toEqual({ brokerId: 1, host: 'broker-1', port: 9092 });
    const external = await makeCore({ listener: 'external' });
    try {
      external.rm.applyMetadata(md());
      expect((await external.post('/find-coordinator', { key: THEIRS })).body).toEqual({ brokerId: 1, host: '127.0.0.1', port: 19093 });
    } finally {
      await external.close();
    }
  });

  it('asks the controller to create __consumer_offsets when it does not exist, answering COORDINATOR_NOT_AVAILABLE meanwhile', async () => {
    const fresh = await makeCore({ config: { offsetsTopicPartitions: 7, offsetsTopicReplicationFactor: 2 } });
    try {
      fresh.rm.applyMetadata({ ...md(), topics: [] });
      const r = await fresh.post('/find-coordinator', { key: 'g' });
      expect(r.status).toBe(503);
      expect(r.body.code).toBe('COORDINATOR_NOT_AVAILABLE');
      expect(fresh.createdTopics).toEqual([
        {
          name: CONSUMER_OFFSETS_TOPIC,
          partitions: 7,
          replicationFactor: 2,
          configs: { 'cleanup.policy': 'compact', 'min.insync.replicas': 2, 'segment.bytes': 104857600, 'max.message.bytes': 8388608 },
        },
      ]);
    } finally {
      await fresh.close();
    }
  });

  it('says why __consumer_offsets cannot be created while fewer brokers are live than its replication factor', async () => {
    let nowMs = 1_000_000;
    const small = await makeCore({
      now: () => nowMs,
      createTopic: async () => {
        throw new TributaryError('INVALID_REPLICATION_FACTOR', 'replication factor 3 is above the 1 live brokers');
      },
    });
    try {
      small.rm.applyMetadata({ ...md(), topics: [] });
      expect((await small.post('/find-coordinator', { key: 'g' })).body.message).toContain('being created');
      await eventually(async () => {
        const r = await small.post('/find-coordinator', { key: 'g' });
        expect(r.body.code).toBe('COORDINATOR_NOT_AVAILABLE');
        expect(r.body.message).toContain('--offsets-topic-replication-factor');
      });
      // Asked again (the cluster may have grown meanwhile), but at most once a second.
      expect(small.createdTopics).toHaveLength(1);
      nowMs += 1000;
      await small.post('/find-coordinator', { key: 'g' });
      expect(small.createdTopics).toHaveLength(2);
    } finally {
      await small.close();
    }
  });

  it('answers NOT_COORDINATOR for a group of a partition another broker leads', async () => {
    const r = await core.post('/group/join', joinBody(THEIRS, ''));
    expect(r.status).toBe(421);
    expect(r.body.code).toBe('NOT_COORDINATOR');
    expect((await core.post('/offsets/fetch', { groupId: THEIRS })).body.code).toBe('NOT_COORDINATOR');
  });

  it('runs join (MEMBER_ID_REQUIRED, then the parked join), sync, heartbeat, commit and fetch over HTTP', async () => {
    const first = await core.post('/group/join', joinBody(OURS, ''));
    expect(first.status).toBe(409);
    expect(first.body).toMatchObject({ code: 'MEMBER_ID_REQUIRED', memberId: expect.stringMatching(/^cli-[0-9a-f-]{36}$/) });
    const memberId = first.body.memberId as string;
    const join = await core.post('/group/join', joinBody(OURS, memberId));
    expect(join.status).toBe(200);
    expect(join.body).toEqual({ generationId: 1, protocolName: 'range', leader: memberId, memberId, members: [{ memberId, metadata: Buffer.from('sub') }] });
    const sync = await core.post('/group/sync', { groupId: OURS, generationId: 1, memberId, assignments: [{ memberId, assignment: Buffer.from('t-0,t-1') }] });
    expect(sync.body).toEqual({ assignment: Buffer.from('t-0,t-1') });
    expect((await core.post('/group/heartbeat', { groupId: OURS, generationId: 1, memberId })).body).toEqual({});
    const commit = await core.post('/offsets/commit', {
      groupId: OURS,
      generationId: 1,
      memberId,
      offsets: [
        { topic: 't', partition: 0, offset: 5, leaderEpoch: 0, metadata: 'm' },
        { topic: 't', partition: 9, offset: 5, metadata: '' },
      ],
    });
    expect(commit.body.partitions).toEqual([
      { topic: 't', partition: 0 },
      { topic: 't', partition: 9, error: { code: 'UNKNOWN_TOPIC_OR_PARTITION', message: expect.any(String) } },
    ]);
    const fetched = await core.post('/offsets/fetch', {
      groupId: OURS,
      partitions: [
        { topic: 't', partition: 0 },
        { topic: 't', partition: 1 },
      ],
    });
    expect(fetched.body.offsets).toEqual([
      { topic: 't', partition: 0, offset: 5, leaderEpoch: 0, metadata: 'm' },
      { topic: 't', partition: 1, offset: -1, metadata: '' },
    ]);
    // 'd' (100) is on partition 0 too, and has no group.
    const described = await core.post('/groups/describe', { groupIds: [OURS, 'd', THEIRS] });
    expect(described.body.groups[0]).toMatchObject({
      groupId: OURS,
      state: 'Stable',
      protocolType: 'consumer',
      protocol: 'range',
      members: [{ memberId, clientId: 'cli', clientHost: '/127.0.0.1', metadata: Buffer.from('sub'), assignment: Buffer.from('t-0,t-1') }],
    });
    expect(described.body.groups[1]).toEqual({ groupId: 'd', state: 'Dead', protocolType: '', protocol: '', members: [] });
    expect(described.body.groups[2].error.code).toBe('NOT_COORDINATOR');
    expect((await core.post('/groups/list', {})).body).toEqual({ groups: [{ groupId: OURS, protocolType: 'consumer', state: 'Stable' }] });
    expect((await core.post('/groups/list', { states: ['Empty'] })).body).toEqual({ groups: [] });
    expect((await core.post('/groups/delete', { groupIds: [OURS] })).body.groups[0].error.code).toBe('NON_EMPTY_GROUP');
    expect((await core.post('/groups/reset-offsets', { groupId: OURS, offsets: [{ topic: 't', partition: 0, offset: 0 }] })).body.code).toBe('NON_EMPTY_GROUP');
    expect((await core.post('/group/leave', { groupId: OURS, members: [{ memberId }] })).body).toEqual({ members: [{ memberId }] });
    expect((await core.post('/groups/reset-offsets', { groupId: OURS, offsets: [{ topic: 't', partition: 0, offset: 0 }] })).body).toEqual({
      partitions: [{ topic: 't', partition: 0 }],
    });
    expect((await core.post('/groups/delete', { groupIds: [OURS] })).body).toEqual({ groups: [{ groupId: OURS }] });
    expect((await core.post('/offsets/fetch', { groupId: OURS })).body).toEqual({ offsets: [] });
  });

  it('writes its records to __consumer_offsets through the log, and a restarted broker loads them back', async () => {
    const { dir, cleanup } = tempDir('tributary-groups-');
    try {
      const first = await makeCore({ dataDir: dir });
      try {
        first.rm.applyMetadata(md());
        await eventually(() => first.host.coordinator.partitionState(0) === 'active');
        await first.post('/offsets/commit', {
          groupId: OURS,
          generationId: -1,
          memberId: '',
          offsets: [{ topic: 't', partition: 1, offset: 42, metadata: '' }],
        });
        const p = first.rm.getPartition(CONSUMER_OFFSETS_TOPIC, 0)!;
        const records = decodeBatches(p.log.read(0, 1 << 20)).map((r) => decodeRecord(r.key, r.value));
        expect(records).toEqual([
          { type: 'offset', groupId: OURS, topic: 't', partition: 1, value: expect.objectContaining({ offset: 42, leaderEpoch: -1, metadata: '' }) },
        ]);
      } finally {
        await first.close();
      }
      // The same data dir under a new broker core: leadership (epoch 1) brings the offsets back.
      const again = await makeCore({ dataDir: dir });
      try {
        again.rm.applyMetadata(md(2, 0, 1));
        await eventually(() => again.host.coordinator.partitionState(0) === 'active');
        expect((await again.post('/offsets/fetch', { groupId: OURS })).body.offsets).toEqual([{ topic: 't', partition: 1, offset: 42, metadata: '' }]);
      } finally {
        await again.close();
      }
    } finally {
      cleanup();
    }
  });

  it('unloads the groups when another broker takes the partition over, answering parked joins NOT_COORDINATOR', async () => {
    const first = await core.post('/group/join', joinBody(OURS, ''));
    const memberId = first.body.memberId as string;
    await core.post('/group/join', joinBody(OURS, memberId));
    await core.post('/group/sync', { groupId: OURS, generationId: 1, memberId, assignments: [] });
    const joinBody2 = joinBody(OURS, '', { clientId: 'second' });
    const second = (await core.post('/group/join', joinBody2)).body.memberId as string;
    // The second member's join is parked (the first must rejoin); then the leadership moves.
    const parked = core.post('/group/join', joinBody(OURS, second, { clientId: 'second' }));
    await eventually(() => core.host.coordinator.group(OURS)?.state === 'PreparingRebalance');
    core.rm.applyMetadata(md(2, 1, 1));
    const r = await parked;
    expect(r.body.code).toBe('NOT_COORDINATOR');
    expect(core.host.coordinator.partitionState(0)).toBeUndefined();
    expect((await core.post('/find-coordinator', { key: OURS })).body.brokerId).toBe(1);
  });

  it('refuses a client\u2019s produce to __consumer_offsets (INVALID_TOPIC): only the coordinator writes to it', async () => {
    const r = await core.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: CONSUMER_OFFSETS_TOPIC, partition: 0, records: batch(['x']) }] });
    expect(r.body.partitions[0].error.code).toBe('INVALID_TOPIC');
    expect(core.rm.getPartition(CONSUMER_OFFSETS_TOPIC, 0)!.log.logEndOffset).toBe(0);
  });

  it.each([
    ['/find-coordinator', {}, "'key'"],
    ['/group/join', { ...joinBody(OURS, ''), sessionTimeoutMs: -1 }, "'sessionTimeoutMs'"],
    ['/group/join', { ...joinBody(OURS, ''), protocols: [{ name: 'r', metadata: 'text' }] }, "'metadata'"],
    [
      '/group/join',
      {
        ...joinBody(OURS, ''),
        protocols: [
          { name: 'r', metadata: Buffer.alloc(0) },
          { name: 'r', metadata: Buffer.alloc(0) },
        ],
      },
      'twice',
    ],
    ['/group/join', { ...joinBody(OURS, ''), groupInstanceId: 'has space' }, "'groupInstanceId'"],
    ['/group/join', { ...joinBody(OURS, ''), rebalanceTimeoutMs: 2 ** 31 }, "'rebalanceTimeoutMs'"],
    ['/group/sync', { groupId: OURS, generationId: 1, memberId: 'm', assignments: [{ memberId: 'x' }] }, "'assignment'"],
    [
      '/group/sync',
      {
        groupId: OURS,
        generationId: 1,
        memberId: 'm',
        assignments: [
          { memberId: 'x', assignment: Buffer.alloc(0) },
          { memberId: 'x', assignment: Buffer.alloc(0) },
        ],
      },
      'twice',
    ],
    ['/group/heartbeat', { groupId: OURS, generationId: 'one', memberId: 'm' }, "'generationId'"],
    ['/group/leave', { groupId: OURS, members: [] }, 'at least one'],
    ['/offsets/commit', { groupId: OURS, generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 0, offset: -5 }] }, "'offset'"],
    [
      '/offsets/commit',
      {
        groupId: OURS,
        generationId: -1,
        memberId: '',
        offsets: [
          { topic: 't', partition: 0, offset: 1 },
          { topic: 't', partition: 0, offset: 2 },
        ],
      },
      'twice',
    ],
    ['/offsets/commit', { groupId: OURS, generationId: -2, memberId: '', offsets: [] }, "'generationId'"],
    ['/offsets/fetch', { groupId: 7 }, "'groupId'"],
    ['/groups/list', { states: ['Sleeping'] }, "'states[0]'"],
    ['/groups/describe', { groupIds: 'b' }, "'groupIds'"],
    ['/groups/delete', { groupIds: [1] }, "'groupIds[0]'"],
    ['/groups/reset-offsets', { groupId: OURS, offsets: [{ topic: 't' }] }, "'partition'"],
  ])('%s refuses %j with INVALID_REQUEST naming %s, changing nothing', async (url, body, field) => {
    const r = await core.post(url, body);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('INVALID_REQUEST');
    expect(r.body.message).toContain(field);
    expect(core.host.coordinator.group(OURS)).toBeUndefined();
    expect(core.rm.getPartition(CONSUMER_OFFSETS_TOPIC, 0)!.log.logEndOffset).toBe(0);
  });

  it('answers INVALID_GROUP_ID for an empty group id', async () => {
    expect((await core.post('/group/join', joinBody('', ''))).body.code).toBe('INVALID_GROUP_ID');
    expect((await core.post('/find-coordinator', { key: '' })).body.code).toBe('INVALID_GROUP_ID');
  });
});

describe('retention of compacted topics', () => {
  it('deletes no segment of a topic whose cleanup.policy is compact (the cleaner\u2019s job), and does of delete topics', async () => {
    let nowMs = 1_000_000;
    const core = await makeCore({ now: () => nowMs });
    try {
      const configs = { 'segment.bytes': 1024, 'retention.ms': 1000 };
      core.rm.applyMetadata({
        clusterId: 'c1',
        version: 1,
        brokers: [brokerReg(0)],
        topics: [
          topicState('kept', [{ replicas: [0] }], { ...configs, 'cleanup.policy': 'compact' }),
          topicState('pruned', [{ replicas: [0] }], { ...configs, 'cleanup.policy': 'delete' }),
        ],
      });
      for (const topic of ['kept', 'pruned'])
        for (let i = 0; i < 20; i++)
          await core.post('/produce', {
            acks: 1,
            timeoutMs: 1000,
            partitions: [{ topic, partition: 0, records: batch(['x'.repeat(200)], { timestamp: nowMs }) }],
          });
      nowMs += 10_000;
      core.rm.runRetention();
      expect(core.rm.getPartition('kept', 0)!.log.logStartOffset).toBe(0);
      expect(core.rm.getPartition('pruned', 0)!.log.logStartOffset).toBeGreaterThan(0);
    } finally {
      await core.close();
    }
  });
});
