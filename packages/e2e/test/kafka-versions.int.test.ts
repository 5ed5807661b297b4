// Issue 19 milestone 2 on the wire, request by request at the new versions (no client sends all of
// them): CreateTopics 7's topic id and configs, Metadata 12 by topic id, Produce 9 (flexible),
// Fetch 13 by topic id, and, after a leader change, OffsetForLeaderEpoch 4 and Fetch 12's
// diverging epoch; unknown topic ids are UNKNOWN_TOPIC_ID everywhere, never a closed connection.

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
});
