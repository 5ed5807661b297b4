// Issue 19 milestone 2 on the wire, request by request at the new versions (no client sends all of
// them): CreateTopics 7's topic id and configs, Metadata 12 by topic id, Produce 9 (flexible),
// Fetch 13 by topic id, and, after a leader change, OffsetForLeaderEpoch 4 and Fetch 12's
// diverging epoch; unknown topic ids are UNKNOWN_TOPIC_ID everywhere, never a closed connection.
// And a group's life at the group APIs' newest versions: FindCoordinator 4, JoinGroup 7,
// SyncGroup 5 (protocol type and name checked and answered), Heartbeat 4, OffsetCommit 8,
// OffsetFetch 8 for two groups at once, LeaveGroup 5.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBatch } from '@tributary/protocol';
import type { Message } from '@tributary/kafka';
import { eventually } from '@tributary/testkit';
import { kafkaRequest, startTestCluster, type TestCluster } from '../src/index.ts';

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const NO_SUCH_ID = '5ca1ab1e-0000-4000-8000-00000000beef';
const UNKNOWN_TOPIC_ID = 100;

type Partition = { partitionIndex: number; leaderId: number; leaderEpoch: number; replicaNodes: number[] };

describe('Kafka listener: milestone-2 versions on the wire', () => {
  let cluster: TestCluster;
  const port = (broker: number) => cluster.kafkaPorts[broker]!;

  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const metadata = (broker: number, topics: { topicId: string; name: string | null }[]) =>
    kafkaRequest(port(broker), 3, 12, { topics, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });

  const produce = async (leader: number, values: string[]) => {
    const answer = await kafkaRequest(port(leader), 0, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10_000,
      topicData: [{ name: 'm2', partitionData: [{ index: 0, records: encodeBatch(values.map((v) => ({ key: null, value: Buffer.from(v) }))) }] }],
    });
    const p = ((answer.responses as Message[])[0]!.partitionResponses as Message[])[0]!;
    expect(p.errorCode).toBe(0);
    return p.baseOffset as number;
  };

  const fetch = (
    broker: number,
    version: 12 | 13,
    topic: { topic?: string; topicId?: string },
    p: { fetchOffset: number; lastFetchedEpoch: number; currentLeaderEpoch: number },
  ) =>
    kafkaRequest(port(broker), 1, version, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 1,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        { topic: topic.topic ?? '', topicId: topic.topicId ?? ZERO_UUID, partitions: [{ partition: 0, ...p, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] },
      ],
      forgottenTopicsData: [],
      rackId: '',
    });

  it('CreateTopics 7, Metadata 12 and Fetch 13 by topic id; OffsetForLeaderEpoch 4 and a diverging Fetch 12 after a leader change; DeleteTopics 6 by id', async () => {
    // CreateTopics v7: the topic id, and v5's partitions, replication factor and configs.
    const created = await kafkaRequest(port(0), 19, 7, {
      topics: [
        {
          name: 'm2',
          numPartitions: 1,
          replicationFactor: 3,
          assignments: [],
          configs: [
            { name: 'min.insync.replicas', value: '2' },
            { name: 'retention.ms', value: '3600000' },
          ],
        },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    const topic = (created.topics as Message[])[0]!;
    expect(topic).toMatchObject({ name: 'm2', errorCode: 0, numPartitions: 1, replicationFactor: 3 });
    const topicId = topic.topicId as string;
    expect(topicId).not.toBe(ZERO_UUID);
    expect((topic.configs as Message[]).find((c) => c.name === 'min.insync.replicas')).toMatchObject({ value: '2', configSource: 1 });
    expect((topic.configs as Message[]).find((c) => c.name === 'retention.ms')).toMatchObject({ value: '3600000', configSource: 1 });
    expect((topic.configs as Message[]).find((c) => c.name === 'segment.ms')).toMatchObject({ configSource: 5 });

    // Metadata v12: the same id by name; the name by id; an unknown id.
    const byName = await metadata(1, [{ topicId: ZERO_UUID, name: 'm2' }]);
    expect((byName.topics as Message[])[0]).toMatchObject({ errorCode: 0, name: 'm2', topicId });
    const byId = await metadata(2, [
      { topicId, name: null },
      { topicId: NO_SUCH_ID, name: null },
    ]);
    expect((byId.topics as Message[]).map((t) => [t.errorCode, t.name, t.topicId])).toEqual([
      [0, 'm2', topicId],
      [UNKNOWN_TOPIC_ID, null, NO_SUCH_ID],
    ]);
    const [p0] = (byId.topics as Message[])[0]!.partitions as Partition[];
    const [first, second] = p0!.replicaNodes as [number, number, number];
    expect(p0!.leaderId).toBe(first);
    const epoch0 = p0!.leaderEpoch;

    // Produce v9 (flexible) to the leader, then Fetch v13 by topic id.
    expect(await produce(first, ['a', 'b', 'c'])).toBe(0);
    const fetched = await fetch(first, 13, { topicId }, { fetchOffset: 0, lastFetchedEpoch: -1, currentLeaderEpoch: epoch0 });
    const answer = (fetched.responses as Message[])[0]!;
    expect(answer.topicId).toBe(topicId);
    expect((answer.partitions as Message[])[0]).toMatchObject({ errorCode: 0, highWatermark: 3 });
    // ListOffsets v6 (flexible): the latest offset and the leader epoch.
    const latest = await kafkaRequest(port(first), 2, 6, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: 'm2', partitions: [{ partitionIndex: 0, currentLeaderEpoch: epoch0, timestamp: -1 }] }],
    });
    expect(((latest.topics as Message[])[0]!.partitions as Message[])[0]).toMatchObject({ errorCode: 0, offset: 3, leaderEpoch: epoch0 });
    const unknown = await fetch(first, 13, { topicId: NO_SUCH_ID }, { fetchOffset: 0, lastFetchedEpoch: -1, currentLeaderEpoch: -1 });
    expect((unknown.responses as Message[]).map((t) => [t.topicId, (t.partitions as Message[]).map((p) => p.errorCode)])).toEqual([
      [NO_SUCH_ID, [UNKNOWN_TOPIC_ID]],
    ]);

    // A leader change: the second replica becomes the preferred one and is elected.
    await cluster.admin.alterPartitionReassignments([{ topic: 'm2', partition: 0, replicas: [second, first, p0!.replicaNodes[2]!] }]);
    let epoch1 = -1;
    await eventually(
      async () => {
        await cluster.admin.electLeaders('m2', [0]).catch(() => undefined);
        const now = ((await metadata(second, [{ topicId, name: null }])).topics as Message[])[0]!.partitions as Partition[];
        expect(now[0]!.leaderId).toBe(second);
        epoch1 = now[0]!.leaderEpoch;
      },
      { timeoutMs: 30_000 },
    );
    expect(epoch1).toBeGreaterThan(epoch0);
    expect(await produce(second, ['d', 'e'])).toBe(3);

    // OffsetForLeaderEpoch v4 from a consumer: the old epoch ends where the new one began.
    const ask = (broker: number, partitions: { currentLeaderEpoch: number; leaderEpoch: number }[]) =>
      kafkaRequest(port(broker), 23, 4, { replicaId: -1, topics: [{ topic: 'm2', partitions: partitions.map((p) => ({ partition: 0, ...p })) }] });
    const ends = await ask(second, [
      { currentLeaderEpoch: epoch1, leaderEpoch: epoch0 },
      { currentLeaderEpoch: epoch1, leaderEpoch: epoch1 },
      { currentLeaderEpoch: epoch0, leaderEpoch: epoch0 },
      { currentLeaderEpoch: epoch1 + 1, leaderEpoch: epoch0 },
    ]);
    expect((ends.topics as Message[])[0]!.partitions).toEqual([
      { errorCode: 0, partition: 0, leaderEpoch: epoch0, endOffset: 3 },
      { errorCode: 0, partition: 0, leaderEpoch: epoch1, endOffset: 5 },
      { errorCode: 74, partition: 0, leaderEpoch: -1, endOffset: -1 }, // FENCED_LEADER_EPOCH
      { errorCode: 75, partition: 0, leaderEpoch: -1, endOffset: -1 }, // UNKNOWN_LEADER_EPOCH
    ]);
    // The old leader is a follower now: NOT_LEADER_OR_FOLLOWER.
    const old = await ask(first, [{ currentLeaderEpoch: epoch1, leaderEpoch: epoch0 }]);
    expect(((old.topics as Message[])[0]!.partitions as Message[])[0]!.errorCode).toBe(6);

    // Fetch v12 from a consumer that believes epoch0 went on past offset 3: told where it ended.
    const diverged = await fetch(second, 12, { topic: 'm2' }, { fetchOffset: 4, lastFetchedEpoch: epoch0, currentLeaderEpoch: epoch1 });
    const d = ((diverged.responses as Message[])[0]!.partitions as Message[])[0]!;
    expect(d).toMatchObject({ errorCode: 0, highWatermark: 5, divergingEpoch: { epoch: epoch0, endOffset: 3 } });
    expect((d.records as Buffer).length).toBe(0);

    // DeleteTopics v6 by id: an unknown id, then the topic; its id is unknown afterwards.
    const deleted = await kafkaRequest(port(0), 20, 6, {
      topics: [
        { name: null, topicId: NO_SUCH_ID },
        { name: null, topicId },
      ],
      timeoutMs: 10_000,
    });
    expect((deleted.responses as Message[]).map((r) => [r.name, r.topicId, r.errorCode])).toEqual([
      [null, NO_SUCH_ID, UNKNOWN_TOPIC_ID],
      ['m2', topicId, 0],
    ]);
    await eventually(
      async () => {
        const gone = await metadata(0, [{ topicId, name: null }]);
        expect((gone.topics as Message[])[0]!.errorCode).toBe(UNKNOWN_TOPIC_ID);
      },
      { timeoutMs: 10_000 },
    );
  });

  it('a group at the newest group-API versions: FindCoordinator 4, JoinGroup 7, SyncGroup 5, Heartbeat 4, OffsetCommit 8, OffsetFetch 8, LeaveGroup 5', async () => {
    await cluster.admin.createTopic({ name: 'g2', partitions: 1, replicationFactor: 3 });
    const groupId = 'm2-group';
    // FindCoordinator v4, both keys at once (the first ask may find __consumer_offsets being created).
    const coordinators = await eventually(
      async () => {
        const found = await kafkaRequest(port(0), 10, 4, { keyType: 0, coordinatorKeys: [groupId, 'm2-nobody'] });
        const list = found.coordinators as Message[];
        expect(list.map((c) => [c.key, c.errorCode])).toEqual([
          [groupId, 0],
          ['m2-nobody', 0],
        ]);
        expect(list[0]!.port).toBe(port(list[0]!.nodeId as number));
        return list.map((c) => c.nodeId as number);
      },
      { timeoutMs: 30_000 },
    );
    const coordinator = coordinators[0]!;
    const call = (apiKey: number, version: number, body: Message) => kafkaRequest(port(coordinator), apiKey, version, body);

    const join = (memberId: string) =>
      call(11, 7, {
        groupId,
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: Buffer.from('m') }],
      });
    const first = await join('');
    expect(first).toMatchObject({ errorCode: 79, protocolType: null, protocolName: null }); // MEMBER_ID_REQUIRED (KIP-394)
    const memberId = first.memberId as string;
    const joined = await join(memberId);
    expect(joined).toMatchObject({ errorCode: 0, protocolType: 'consumer', protocolName: 'range', leader: memberId, memberId });
    const generationId = joined.generationId as number;

    const sync = (protocolType: string | null, protocolName: string | null) =>
      call(14, 5, {
        groupId,
        generationId,
        memberId,
        groupInstanceId: null,
        protocolType,
        protocolName,
        assignments: [{ memberId, assignment: Buffer.from('a') }],
      });
    expect(await sync('other', 'range')).toMatchObject({ errorCode: 23 }); // INCONSISTENT_GROUP_PROTOCOL
    const synced = await sync('consumer', 'range');
    expect(synced).toMatchObject({ errorCode: 0, protocolType: 'consumer', protocolName: 'range' });
    expect((synced.assignment as Buffer).toString()).toBe('a');
    expect(await sync('consumer', 'roundrobin')).toMatchObject({ errorCode: 23 });
    expect(await call(12, 4, { groupId, generationId, memberId, groupInstanceId: null })).toMatchObject({ errorCode: 0 });

    const committed = await call(8, 8, {
      groupId,
      generationId,
      memberId,
      groupInstanceId: null,
      topics: [{ name: 'g2', partitions: [{ partitionIndex: 0, committedOffset: 7, committedLeaderEpoch: -1, committedMetadata: 'm2' }] }],
    });
    expect(committed.topics).toEqual([{ name: 'g2', partitions: [{ partitionIndex: 0, errorCode: 0 }] }]);

    // OffsetFetch v8: each group answered on its own; one coordinated elsewhere is NOT_COORDINATOR.
    const fetched = await call(9, 8, {
      groups: [
        { groupId, topics: [{ name: 'g2', partitionIndexes: [0] }] },
        { groupId: 'm2-nobody', topics: null },
      ],
      requireStable: true,
    });
    expect(fetched.groups).toEqual([
      {
        groupId,
        topics: [{ name: 'g2', partitions: [{ partitionIndex: 0, committedOffset: 7, committedLeaderEpoch: -1, metadata: 'm2', errorCode: 0 }] }],
        errorCode: 0,
      },
      { groupId: 'm2-nobody', topics: [], errorCode: coordinators[1] === coordinator ? 0 : 16 },
    ]);

    const left = await call(13, 5, { groupId, members: [{ memberId, groupInstanceId: null, reason: 'test done' }] });
    expect(left).toMatchObject({ errorCode: 0, members: [{ memberId, groupInstanceId: null, errorCode: 0 }] });
  });
});
