import { describe, expect, it } from 'vitest';
import { reassignmentProgress } from './reassign-progress.ts';
import { diffSnapshots, partitionProblems, renderFrame, renderGroups, type WatchGroup, type WatchSnapshot, type WatchTopic } from './watch-view.ts';

const BROKERS = [0, 1, 2, 3, 4, 5].map((id) => ({ id, rack: id < 3 ? 'rack-1' : 'rack-2', alive: true }));
/** The seed's placement, leader first. */
const SEED = [
  [0, 3, 1],
  [3, 1, 4],
  [1, 4, 2],
  [4, 2, 5],
  [2, 5, 0],
  [5, 0, 3],
  [0, 3, 1],
  [3, 1, 4],
  [1, 4, 2],
  [4, 2, 5],
];

function seedTopic(edit: (p: { partition: number; leader: number; leaderEpoch: number; replicas: number[]; isr: number[] }) => void = () => {}): WatchTopic {
  return {
    name: 'demo',
    minInsyncReplicas: 2,
    partitions: SEED.map((replicas, partition) => {
      const p = { partition, leader: replicas[0]!, leaderEpoch: 0, replicas, isr: [...replicas] };
      edit(p);
      return p;
    }),
  };
}

function snapshot(timeMs: number, topic: WatchTopic, brokers = BROKERS): WatchSnapshot {
  return { timeMs, brokers, topics: [topic] };
}

describe('diffSnapshots', () => {
  it('has no events for the first snapshot or an unchanged one', () => {
    const s = snapshot(1000, seedTopic());
    expect(diffSnapshots(undefined, s)).toEqual([]);
    expect(diffSnapshots(s, { ...s, timeMs: 1500 })).toEqual([]);
  });

  it('a leader killed: broker fenced, its partitions move to the next ISR member, it leaves their ISR', () => {
    const before = snapshot(1000, seedTopic());
    const after = snapshot(
      4500,
      seedTopic((p) => {
        if (p.leader === 4) {
          p.leader = p.replicas[1]!;
          p.leaderEpoch = 1;
          p.isr = p.isr.filter((id) => id !== 4);
        }
      }),
      BROKERS.map((b) => (b.id === 4 ? { ...b, alive: false } : b)),
    );
    expect(diffSnapshots(before, after).map((e) => [e.timeMs, e.kind, e.text])).toEqual([
      [4500, 'broker-fenced', 'broker B4 (rack-2) fenced'],
      [4500, 'leader-changed', 'demo-3: leader B4 -> B2 (epoch 1)'],
      [4500, 'isr-shrunk', 'demo-3: ISR shrank, B4 left (ISR 4,2,5 -> 2,5)'],
      [4500, 'leader-changed', 'demo-9: leader B4 -> B2 (epoch 1)'],
      [4500, 'isr-shrunk', 'demo-9: ISR shrank, B4 left (ISR 4,2,5 -> 2,5)'],
    ]);
  });

  it('offline, expansion, broker back, topics created and deleted', () => {
    const before: WatchSnapshot = {
      timeMs: 0,
      brokers: BROKERS.map((b) => (b.id === 1 ? { ...b, alive: false } : b)),
      topics: [
        seedTopic((p) => {
          p.isr = p.isr.filter((id) => id !== 1);
        }),
        { name: 'old', minInsyncReplicas: 1, partitions: [] },
      ],
    };
    const after: WatchSnapshot = {
      timeMs: 9,
      brokers: [...BROKERS, { id: 6, rack: 'rack-3', alive: true }],
      topics: [
        seedTopic((p) => {
          if (p.partition === 0) {
            p.leader = -1;
            p.leaderEpoch = 1;
          }
        }),
        { name: 'new', minInsyncReplicas: 2, partitions: [{ partition: 0, leader: 6, leaderEpoch: 0, replicas: [6], isr: [6] }] },
      ],
    };
    const texts = diffSnapshots(before, after).map((e) => e.text);
    expect(texts).toContain('broker B1 (rack-1) alive again');
    expect(texts).toContain('broker B6 (rack-3) registered');
    expect(texts).toContain('demo-0: offline, leader B0 lost (epoch 1)');
    expect(texts).toContain('demo-0: ISR expanded, B1 rejoined (ISR 0,3 -> 0,3,1)');
    expect(texts).toContain('topic new created: 1 partitions, replication factor 1');
    expect(texts).toContain('topic old deleted');
  });
});

describe('reassignments', () => {
  const B6 = [...BROKERS, { id: 6, rack: 'rack-1', alive: true }];
  // demo-6 moving from [0,3,1] to [6,3,1].
  const moving = seedTopic((p) => {
    if (p.partition === 6) Object.assign(p, { replicas: [6, 3, 1, 0], addingReplicas: [6], removingReplicas: [0] });
  });

  it('says when a reassignment starts, completes, or is cancelled', () => {
    const before = snapshot(0, seedTopic(), B6);
    const during = snapshot(1000, moving, B6);
    const done = snapshot(
      9000,
      seedTopic((p) => {
        if (p.partition === 6) Object.assign(p, { replicas: [6, 3, 1], isr: [6, 3, 1], leader: 6, leaderEpoch: 1 });
      }),
      B6,
    );
    expect(diffSnapshots(before, during).map((e) => [e.kind, e.text])).toEqual([
      ['reassignment-started', 'demo-6: reassignment to [6,3,1] started, adding B6, removing B0'],
    ]);
    expect(diffSnapshots(during, done).map((e) => [e.kind, e.text])).toEqual([
      ['leader-changed', 'demo-6: leader B0 -> B6 (epoch 1)'],
      ['isr-shrunk', 'demo-6: ISR shrank, B0 left (ISR 0,3,1 -> 6,3,1)'],
      ['isr-expanded', 'demo-6: ISR expanded, B6 joined (ISR 0,3,1 -> 6,3,1)'],
      ['reassignment-completed', 'demo-6: reassignment completed, replicas [6,3,1]'],
    ]);
    expect(diffSnapshots(during, before).map((e) => [e.kind, e.text])).toEqual([
      ['reassignment-cancelled', 'demo-6: reassignment cancelled, replicas back to [0,3,1]'],
    ]);
  });

  it('a replica being added is not counted missing: the moving partition needs no attention', () => {
    expect(partitionProblems([moving])).toEqual([]);
  });

  it('draws the moves in the table and their copy progress under it', () => {
    const reassignments = reassignmentProgress(undefined, {
      timeMs: 0,
      partitions: [
        {
          topic: 'demo',
          partition: 6,
          replicas: [6, 3, 1, 0],
          addingReplicas: [6],
          removingReplicas: [0],
          leader: 0,
          logStartOffset: 0,
          logEndOffset: 1000,
          logSizeBytes: 1_000_000,
          replicaEnds: [{ brokerId: 6, logEndOffset: 400 }],
        },
      ],
    });
    const lines = renderFrame(snapshot(0, moving, B6), [], { topic: 'demo', source: 'x', timeZone: 'UTC', reassignments, bars: true });
    expect(lines).toContain('  rack-1/B0  leads P0 P6-  follows P5 P4');
    expect(lines).toContain('  rack-1/B6  leads -       follows P6+');
    expect(lines).toContain('1 partition being reassigned: 400.0 kB of 1.00 MB copied (40.0%), ETA ?');
    expect(lines.find((l) => l.startsWith('  demo-6'))).toMatch(/^ {2}demo-6 +6,3,1 +6 +0 +B0 +400\.0 kB \/ 1\.00 MB +\[########\.{12}\] 40\.0% +\?$/);
    expect(
      renderFrame(snapshot(0, moving, B6), [], { topic: 'other', source: 'x', timeZone: 'UTC', reassignments }).some((l) => l.includes('being reassigned')),
    ).toBe(false);
  });
});

describe('partitionProblems', () => {
  it('lists offline, under-replicated and under-min-ISR partitions', () => {
    const topic = seedTopic((p) => {
      if (p.partition === 0) p.isr = [0, 3];
      if (p.partition === 1) p.isr = [3];
      if (p.partition === 2) {
        p.leader = -1;
        p.isr = [1];
      }
    });
    expect(partitionProblems([topic]).map((p) => [p.partition, p.problems])).toEqual([
      [0, ['under-replicated']],
      [1, ['under-replicated', 'under-min-isr']],
      [2, ['offline']],
    ]);
  });
});

describe('renderFrame', () => {
  it('draws the seed table, marks out-of-sync followers, and lists problems and events', () => {
    const s = snapshot(
      Date.UTC(2026, 0, 1, 12, 0, 3, 250),
      seedTopic((p) => {
        if (p.partition === 4) p.isr = [2, 5];
      }),
    );
    const lines = renderFrame(s, [{ timeMs: Date.UTC(2026, 0, 1, 12, 0, 2, 5), kind: 'isr-shrunk', text: 'demo-4: ISR shrank, B0 left (ISR 2,5,0 -> 2,5)' }], {
      topic: 'demo',
      source: '127.0.0.1:19092',
      timeZone: 'UTC',
    });
    expect(lines).toEqual([
      'tributary watch demo  127.0.0.1:19092  12:00:03.250  brokers 6/6 alive',
      '',
      'demo  partitions 10  replication-factor 3  min.insync.replicas 2',
      '  rack-1/B0  leads P0 P6  follows P5 P4*',
      '  rack-2/B3  leads P1 P7  follows P0 P6 P5',
      '  rack-1/B1  leads P2 P8  follows P1 P7 P0 P6',
      '  rack-2/B4  leads P3 P9  follows P2 P8 P1 P7',
      '  rack-1/B2  leads P4     follows P3 P9 P2 P8',
      '  rack-2/B5  leads P5     follows P4 P3 P9',
      '  * = follower not in the ISR',
      '',
      'partitions needing attention: 1',
      '  demo-4  under-replicated  leader B2  replicas 2,5,0  isr 2,5',
      '',
      'events (newest last):',
      '  12:00:02.005  demo-4: ISR shrank, B0 left (ISR 2,5,0 -> 2,5)',
    ]);
  });

  it('says so when the topic does not exist yet', () => {
    const lines = renderFrame({ timeMs: 0, brokers: BROKERS, topics: [] }, [], { topic: 'later', source: 'x', timeZone: 'UTC' });
    expect(lines).toContain("topic 'later' does not exist (yet)");
    expect(lines).toContain('partitions needing attention: none');
    expect(lines).toContain('events: none since the watch started');
  });
});

describe('consumer groups in the frame', () => {
  const group: WatchGroup = {
    groupId: 'g',
    state: 'Stable',
    members: [
      { memberId: 'a-1', clientId: 'a', clientHost: '/127.0.0.1', assignment: [0, 1].map((partition) => ({ topic: 'demo', partition })) },
      { memberId: 'b-1', clientId: 'b', clientHost: '/127.0.0.2', assignment: [{ topic: 'other', partition: 0 }] },
    ],
    offsets: [
      { topic: 'demo', partition: 0, committedOffset: 5, logEndOffset: 9, lag: 4, memberId: 'a-1' },
      { topic: 'demo', partition: 1, committedOffset: null, logEndOffset: 3, lag: null, memberId: 'a-1' },
      { topic: 'other', partition: 0, committedOffset: 1, logEndOffset: 3, lag: 2, memberId: 'b-1' },
    ],
  };

  it('shows each group, its members with their partitions and lag, and the lag per partition', () => {
    expect(renderGroups([group])).toEqual([
      'consumer groups: 1',
      '  g  Stable  2 members  lag 6',
      '    a  /127.0.0.1  demo-0 demo-1  lag 4',
      '    b  /127.0.0.2  other-0        lag 2',
      '    lag by partition: demo-0 4  demo-1 ?  other-0 2',
    ]);
    expect(renderGroups([group], 'other')).toEqual([
      'consumer groups: 1',
      '  g  Stable  2 members  lag 2',
      '    a  /127.0.0.1  -        lag 0',
      '    b  /127.0.0.2  other-0  lag 2',
      '    lag by partition: other-0 2',
    ]);
    expect(renderGroups([group], 'nope')).toEqual(['consumer groups: none']);
    const frame = renderFrame({ ...snapshot(0, seedTopic()), groups: [group] }, [], { topic: 'demo', source: 'x', timeZone: 'UTC' });
    expect(frame).toContain('  g  Stable  2 members  lag 4');
    expect(renderFrame(snapshot(0, seedTopic()), [], { source: 'x', timeZone: 'UTC' }).some((l) => l.startsWith('consumer groups'))).toBe(false);
  });

  it('reports a group that appears and one whose state or member count changes', () => {
    const s = snapshot(1000, seedTopic());
    const next = { ...s, timeMs: 2000, groups: [group] };
    expect(diffSnapshots({ ...s, groups: [] }, next).map((e) => e.text)).toEqual(['group g appeared (Stable, 2 members)']);
    const rebalancing = { ...next, timeMs: 3000, groups: [{ ...group, state: 'PreparingRebalance', members: group.members.slice(0, 1) }] };
    expect(diffSnapshots(next, rebalancing)).toEqual([{ timeMs: 3000, kind: 'group-state', text: 'group g: Stable → PreparingRebalance, 2 → 1 members' }]);
    expect(diffSnapshots(s, next)).toEqual([]);
  });
});
