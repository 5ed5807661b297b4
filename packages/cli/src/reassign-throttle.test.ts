import { describe, expect, it } from 'vitest';
import { throttleCleanup, throttleSettings, type ThrottleTopic } from './reassign-throttle.ts';

const demo = (leaderList = '', followerList = ''): ThrottleTopic => ({
  name: 'demo',
  leaderList,
  followerList,
  partitions: [
    [0, 3, 1],
    [3, 1, 4],
    [1, 4, 2],
  ].map((replicas, partition) => ({ partition, replicas })),
});

describe('throttleSettings (execute --throttle)', () => {
  it('lists the current replicas on the leader side and the added ones on the follower side, and rates on every broker involved', () => {
    expect(
      throttleSettings(
        [
          { topic: 'demo', partition: 2, replicas: [6, 4, 2] },
          { topic: 'demo', partition: 0, replicas: [0, 3, 6] },
        ],
        [demo()],
      ),
    ).toEqual({ topics: [{ topic: 'demo', leaderList: '0:0,0:1,0:3,2:1,2:2,2:4', followerList: '0:6,2:6' }], brokers: [0, 1, 2, 3, 4, 6] });
  });

  it("extends the lists of a topic another reassignment throttles, and keeps '*'", () => {
    expect(throttleSettings([{ topic: 'demo', partition: 1, replicas: [3, 1, 5] }], [demo('0:0,0:3', '0:6')]).topics).toEqual([
      { topic: 'demo', leaderList: '0:0,0:3,1:1,1:3,1:4', followerList: '0:6,1:5' },
    ]);
    expect(throttleSettings([{ topic: 'demo', partition: 1, replicas: [3, 1, 5] }], [demo('*', '')]).topics).toEqual([
      { topic: 'demo', leaderList: '*', followerList: '1:5' },
    ]);
  });
});

describe('throttleSettings of a plan too large for one admin request', () => {
  it("lists every replica of the topic ('*') when the pairs would not fit", () => {
    const partitions = Array.from({ length: 3000 }, (_, partition) => ({ partition, replicas: [partition % 6, (partition + 1) % 6, (partition + 2) % 6] }));
    const big: ThrottleTopic = { name: 'big', leaderList: '', followerList: '', partitions };
    const entries = partitions.map((p) => ({ topic: 'big', partition: p.partition, replicas: [p.replicas[0]!, p.replicas[1]!, 6] }));
    expect(throttleSettings(entries, [big]).topics).toEqual([{ topic: 'big', leaderList: '*', followerList: '*' }]);
    expect(throttleSettings(entries.slice(0, 100), [big]).topics[0]!.leaderList).not.toBe('*');
  });
});

describe('throttleCleanup (status when done, cancel, decommission)', () => {
  const other: ThrottleTopic = { name: 'other', leaderList: '0:4,0:5', followerList: '0:2', partitions: [{ partition: 0, replicas: [4, 5, 3] }] };
  it.each([
    ['nothing throttled', [demo()], [], { topics: [], brokers: [] }],
    ['a throttled topic still moving keeps everything', [demo('0:0,0:3,0:1', '0:6')], [{ topic: 'demo' }], { topics: [], brokers: [] }],
    ['a throttled topic done loses its lists and its brokers their rates', [demo('0:0,0:3,0:1', '0:6')], [], { topics: ['demo'], brokers: [0, 1, 3, 6] }],
    [
      'a broker another moving topic still names keeps its rates',
      [demo('0:0,0:3,0:1', '0:6'), { ...other, leaderList: '0:4,0:3', followerList: '0:6' }],
      [{ topic: 'other' }],
      { topics: ['demo'], brokers: [0, 1] },
    ],
    ["'*' names every broker holding the topic", [demo('*', '')], [], { topics: ['demo'], brokers: [0, 1, 2, 3, 4] }],
    ['two topics done', [demo('0:0', '0:6'), other], [], { topics: ['demo', 'other'], brokers: [0, 2, 4, 5, 6] }],
  ])('%s', (_name, topics, reassigning, expected) => {
    expect(throttleCleanup(topics as ThrottleTopic[], reassigning)).toEqual(expected);
  });
});
