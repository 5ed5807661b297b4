import { describe, expect, it } from 'vitest';
import { TributaryError, type DescribeReplicasResponse } from '@tributary/protocol';
import { consoleStats, consoleView, copyProgress, partitionStatus, rackBoxes, type ReplicaStatesAnswer } from './console-view.ts';
import { clusterOf, withTopic } from './internal/fixtures.ts';

/** The seed's table (slides): leaders and followers per broker row, B0 B3 B1 B4 B2 B5. */
const SEED_ROWS = [
  { label: 'rack-1/B0', leads: [0, 6], follows: [5, 4] },
  { label: 'rack-2/B3', leads: [1, 7], follows: [0, 6, 5] },
  { label: 'rack-1/B1', leads: [2, 8], follows: [1, 7, 0, 6] },
  { label: 'rack-2/B4', leads: [3, 9], follows: [2, 8, 1, 7] },
  { label: 'rack-1/B2', leads: [4], follows: [3, 9, 2, 8] },
  { label: 'rack-2/B5', leads: [5], follows: [4, 3, 9] },
];

describe('consoleView', () => {
  it('draws the seed table for 10 partitions, RF 3 on 6 brokers in 2 racks', () => {
    const state = withTopic(clusterOf(), { name: 'demo', partitions: 10, replicationFactor: 3 });
    const view = consoleView(state.toMetadata());
    expect(view.order).toEqual([0, 3, 1, 4, 2, 5]);
    expect(view.racks.map((r) => [r.rack, r.brokers.map((b) => b.id)])).toEqual([
      ['rack-1', [0, 1, 2]],
      ['rack-2', [3, 4, 5]],
    ]);
    expect(view.racks[0]!.brokers[0]).toMatchObject({ id: 0, alive: true, leaderCount: 2, replicaCount: 4, address: '127.0.0.1:19092' });
    const topic = view.topics[0]!;
    expect(topic).toMatchObject({ name: 'demo', replicationFactor: 3, minInsyncReplicas: 2 });
    expect(topic.byBroker.map((r) => ({ label: r.label, leads: r.leads, follows: r.follows.map((f) => f.partition) }))).toEqual(SEED_ROWS);
    expect(topic.byBroker.every((r) => r.follows.every((f) => f.inIsr) && !r.fenced)).toBe(true);
    expect(topic.partitions.map((p) => p.status)).toEqual(Array.from({ length: 10 }, () => ['ok']));
    // The seed's picture: rack-1 holds B0, B1, B2 and rack-2 B3, B4, B5, each with its row's partitions.
    expect(topic.rackBoxes.map((box) => [box.rack, box.brokers.map((b) => [b.brokerId, b.leads, b.follows.map((f) => f.partition)])])).toEqual([
      [
        'rack-1',
        [
          [0, [0, 6], [5, 4]],
          [1, [2, 8], [1, 7, 0, 6]],
          [2, [4], [3, 9, 2, 8]],
        ],
      ],
      [
        'rack-2',
        [
          [3, [1, 7], [0, 6, 5]],
          [4, [3, 9], [2, 8, 1, 7]],
          [5, [5], [4, 3, 9]],
        ],
      ],
    ]);
  });

  it('after kill -9 of B0, the rack boxes show B3 leading P0 and P6 and B0 fenced, out of their ISRs', () => {
    const state = withTopic(clusterOf(), { name: 'seed', partitions: 10, replicationFactor: 3 });
    const metadata = state.toMetadata();
    // What the controller's election leaves: B0 fenced, P0 = [0,3,1] and P6 led by B3 with ISR 3,1.
    metadata.brokers.find((b) => b.id === 0)!.alive = false;
    for (const p of [0, 6]) Object.assign(metadata.topics[0]!.partitions[p]!, { leader: 3, leaderEpoch: 1, isr: [3, 1] });
    const boxes = consoleView(metadata).topics[0]!.rackBoxes;
    const b0 = boxes[0]!.brokers[0]!;
    expect(b0).toMatchObject({ brokerId: 0, label: 'rack-1/B0', fenced: true, leads: [] });
    expect(b0.follows).toEqual([
      { partition: 0, inIsr: false },
      { partition: 6, inIsr: false },
      { partition: 5, inIsr: true },
      { partition: 4, inIsr: true },
    ]);
    expect(boxes[1]!.brokers[0]).toMatchObject({ brokerId: 3, fenced: false, leads: [0, 1, 6, 7] });
  });

  it('gives a replica on a broker the metadata does not list a box of its own', () => {
    const rows = [
      { brokerId: 4, rack: 'rack-2', label: 'rack-2/B4', fenced: false, leads: [], follows: [], adding: [], removing: [] },
      { brokerId: 9, rack: '?', label: '?/B9', fenced: true, leads: [], follows: [{ partition: 0, inIsr: false }], adding: [], removing: [] },
      { brokerId: 1, rack: 'rack-1', label: 'rack-1/B1', fenced: false, leads: [0], follows: [], adding: [], removing: [] },
      { brokerId: 3, rack: 'rack-2', label: 'rack-2/B3', fenced: false, leads: [], follows: [], adding: [], removing: [] },
    ];
    expect(rackBoxes(rows).map((b) => [b.rack, b.brokers.map((x) => x.brokerId)])).toEqual([
      ['?', [9]],
      ['rack-1', [1]],
      ['rack-2', [3, 4]],
    ]);
  });

  it('marks out-of-sync followers, fenced brokers and partition status in words', () => {
    const state = withTopic(clusterOf(), { name: 'demo', partitions: 10, replicationFactor: 3 });
    const metadata = state.toMetadata();
    const p0 = metadata.topics[0]!.partitions[0]!; // [0,3,1]
    p0.isr = [0, 3];
    const p1 = metadata.topics[0]!.partitions[1]!; // [3,1,4]
    p1.leader = -1;
    p1.isr = [3];
    metadata.brokers.find((b) => b.id === 3)!.alive = false;
    const view = consoleView(metadata);
    const topic = view.topics[0]!;
    expect(topic.partitions[0]!.status).toEqual(['under-replicated']);
    expect(topic.partitions[1]!.status).toEqual(['offline']);
    const b1 = topic.byBroker.find((r) => r.brokerId === 1)!;
    expect(b1.follows.find((f) => f.partition === 0)).toEqual({ partition: 0, inIsr: false });
    expect(topic.byBroker.find((r) => r.brokerId === 3)!.fenced).toBe(true);
    expect(view.racks[1]!.brokers[0]).toMatchObject({ id: 3, alive: false });
  });

  it.each([
    [{ leader: 0, replicas: [0, 1, 2], isr: [0, 1, 2] }, 2, ['ok']],
    [{ leader: 0, replicas: [0, 1, 2], isr: [0, 1] }, 2, ['under-replicated']],
    [{ leader: 0, replicas: [0, 1, 2], isr: [0] }, 2, ['under-replicated', 'under-min-isr']],
    [{ leader: -1, replicas: [0, 1, 2], isr: [0] }, 2, ['offline']],
    // min.insync.replicas above RF counts as RF (as the leader applies it).
    [{ leader: 0, replicas: [0], isr: [0] }, 2, ['ok']],
    // A reassignment adding 3 (outside the ISR) is not under-replicated for it (KIP-455).
    [{ leader: 0, replicas: [3, 1, 2, 0], addingReplicas: [3], isr: [0, 1, 2] }, 2, ['ok']],
    [{ leader: 0, replicas: [3, 1, 2, 0], addingReplicas: [3], isr: [0, 1] }, 2, ['under-replicated']],
  ])('partitionStatus(%j, min ISR %i) = %j', (p, minIsr, expected) => {
    expect(partitionStatus(p, minIsr)).toEqual(expected);
  });
});

describe('reassignments in the view', () => {
  it('lists the replicas a reassignment adds and removes, per broker and per partition', () => {
    const state = withTopic(clusterOf(), { name: 'demo', partitions: 10, replicationFactor: 3 });
    const metadata = state.toMetadata();
    // demo-6 moving from [0,3,1] to [2,3,1]: the merged list, B2 copying outside the ISR.
    Object.assign(metadata.topics[0]!.partitions[6]!, { replicas: [2, 3, 1, 0], addingReplicas: [2], removingReplicas: [0] });
    const topic = consoleView(metadata).topics[0]!;
    expect(topic.partitions[6]).toMatchObject({ replicas: [2, 3, 1, 0], addingReplicas: [2], removingReplicas: [0], status: ['ok'] });
    expect(topic.partitions[5]).toMatchObject({ addingReplicas: [], removingReplicas: [] });
    const row = (id: number) => topic.byBroker.find((r) => r.brokerId === id)!;
    expect(row(2)).toMatchObject({ adding: [6], removing: [] });
    expect(row(2).follows.find((f) => f.partition === 6)).toEqual({ partition: 6, inIsr: false });
    expect(row(0)).toMatchObject({ leads: [0, 6], adding: [], removing: [6] });
    expect(topic.rackBoxes[0]!.brokers.find((b) => b.brokerId === 2)).toMatchObject({ adding: [6] });
    // The replication factor is the target's, not the merged list's.
    Object.assign(metadata.topics[0]!.partitions[0]!, { replicas: [2, 3, 1, 0], addingReplicas: [2], removingReplicas: [0] });
    expect(consoleView(metadata).topics[0]!.replicationFactor).toBe(3);
  });

  it.each([
    // [leader log start, LEO, bytes; replica LEO; expected]
    [0, 1000, 100_000, 400, { percent: 40, copiedBytes: 40_000, totalBytes: 100_000 }],
    [0, 1000, 100_000, -1, { percent: 0, copiedBytes: 0, totalBytes: 100_000 }],
    [0, 1000, 100_000, 999, { percent: 99.9, copiedBytes: 99_900, totalBytes: 100_000 }],
    [0, 1000, 100_000, 1000, { percent: 100, copiedBytes: 100_000, totalBytes: 100_000 }],
    [500, 1000, 50_000, 600, { percent: 20, copiedBytes: 10_000, totalBytes: 50_000 }],
    [0, 0, 0, 0, { percent: 100, copiedBytes: 0, totalBytes: 0 }],
    [0, 0, 0, -1, { percent: 0, copiedBytes: 0, totalBytes: 0 }],
  ])('copyProgress: log [%i, %i) of %i bytes, replica LEO %i', (logStartOffset, logEndOffset, logSizeBytes, leo, expected) => {
    expect(copyProgress({ logStartOffset, logEndOffset, logSizeBytes }, 6, leo)).toEqual({ brokerId: 6, ...expected });
  });

  it("the stats carry each added replica's copy progress from its leader's answer", () => {
    const answer: DescribeReplicasResponse = {
      partitions: [
        {
          partition: 6,
          highWatermark: 1000,
          logStartOffset: 0,
          logEndOffset: 1000,
          logSizeBytes: 1_000_000,
          replicas: [
            { brokerId: 0, logEndOffset: 1000, lagRecords: 0, lastCaughtUpMsAgo: 0 },
            { brokerId: 2, logEndOffset: 250, lagRecords: 750, lastCaughtUpMsAgo: 4000 },
          ],
        },
      ],
    };
    const stats = consoleStats('demo', 0, [{ partition: 6, leader: 0, addingReplicas: [2] }], new Map([[0, answer]]));
    expect(stats.partitions[0]!.copies).toEqual([{ brokerId: 2, percent: 25, copiedBytes: 250_000, totalBytes: 1_000_000 }]);
  });
});

describe('consoleStats', () => {
  it('takes HW and follower lag from the leader, and says why they are unknown when it cannot', () => {
    const answer: DescribeReplicasResponse = {
      partitions: [
        {
          partition: 0,
          highWatermark: 7,
          logStartOffset: 0,
          logEndOffset: 9,
          logSizeBytes: 900,
          replicas: [
            { brokerId: 0, logEndOffset: 9, lagRecords: 0, lastCaughtUpMsAgo: 0 },
            { brokerId: 3, logEndOffset: 7, lagRecords: 2, lastCaughtUpMsAgo: 1500 },
          ],
        },
      ],
    };
    const partitions = [
      { partition: 0, leader: 0 },
      { partition: 1, leader: 3 },
      { partition: 2, leader: -1 },
      { partition: 3, leader: 0 },
      { partition: 4, leader: 4 },
      { partition: 5, leader: 5 },
      { partition: 6, leader: 1 },
    ];
    const answers = new Map<number, ReplicaStatesAnswer>([
      [0, answer],
      [3, new Error('timed out')],
      [4, 'pending'],
      [5, new TributaryError('BROKER_NOT_AVAILABLE', 'refused')],
    ]);
    const stats = consoleStats('demo', 42, partitions, answers, 250);
    expect(stats.partitions).toEqual([
      { partition: 0, leader: 0, highWatermark: 7, logEndOffset: 9, lag: [{ brokerId: 3, records: 2, msSinceCaughtUp: 1500 }] },
      { partition: 1, leader: 3, unknown: 'leader B3: timed out' },
      { partition: 2, leader: -1, unknown: 'offline' },
      { partition: 3, leader: 0, unknown: 'leader B0 does not report it yet' },
      // A paused leader is drawn as unknown at once, not waited for.
      { partition: 4, leader: 4, unknown: 'leader B4 has not answered within 250 ms' },
      { partition: 5, leader: 5, unknown: 'leader B5: BROKER_NOT_AVAILABLE' },
      { partition: 6, leader: 1, unknown: 'leader B1 not asked' },
    ]);
    expect(consoleStats('demo', 42, [{ partition: 4, leader: 4 }], answers).partitions[0]!.unknown).toBe('leader B4 has not answered');
  });
});
