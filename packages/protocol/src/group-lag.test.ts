import { describe, expect, it } from 'vitest';
import { encodeAssignment } from './consumer-protocol.ts';
import { groupOffsetRows, memberAssignment, partitionLag, totalLag } from './group-lag.ts';

describe('partitionLag', () => {
  it.each([
    [10, 25, 15],
    [25, 25, 0],
    // A committed offset past the HW (the HW went back after an unclean election, or the commit
    // was reset past it) reads as caught up, never as a negative lag.
    [30, 25, 0],
    [null, 25, null],
    [-1, 25, null],
    [10, null, null],
  ])('committed %j, log end %j → %j', (committed, end, lag) => {
    expect(partitionLag(committed, end)).toBe(lag);
  });
});

describe('groupOffsetRows', () => {
  const members = [
    { memberId: 'm1', clientId: 'c1', clientHost: '/127.0.0.1', assignment: [{ topic: 'demo', partition: 1 }] },
    {
      memberId: 'm2',
      clientId: 'c2',
      clientHost: '/10.0.0.2',
      assignment: [
        { topic: 'demo', partition: 0 },
        { topic: 'other', partition: 0 },
      ],
    },
  ];
  const ends = new Map([
    ['demo-0', 100],
    ['demo-1', 50],
    ['demo-2', 7],
  ]);

  it('lists assigned and committed partitions once each, sorted, with owner, committed offset, HW and lag', () => {
    const rows = groupOffsetRows(
      members,
      [
        { topic: 'demo', partition: 0, offset: 90 },
        { topic: 'demo', partition: 2, offset: 7 },
        { topic: 'demo', partition: 1, offset: -1 },
      ],
      ends,
    );
    expect(rows).toEqual([
      { topic: 'demo', partition: 0, committedOffset: 90, logEndOffset: 100, lag: 10, memberId: 'm2', clientId: 'c2', clientHost: '/10.0.0.2' },
      // Assigned, nothing committed: Kafka's tool prints '-' for the offset and the lag.
      { topic: 'demo', partition: 1, committedOffset: null, logEndOffset: 50, lag: null, memberId: 'm1', clientId: 'c1', clientHost: '/127.0.0.1' },
      // Committed, no member owns it (Kafka's '-' for the consumer).
      { topic: 'demo', partition: 2, committedOffset: 7, logEndOffset: 7, lag: 0, memberId: null, clientId: null, clientHost: null },
      // Its leader did not say: no log end, no lag.
      { topic: 'other', partition: 0, committedOffset: null, logEndOffset: null, lag: null, memberId: 'm2', clientId: 'c2', clientHost: '/10.0.0.2' },
    ]);
    expect(totalLag(rows)).toBe(10);
  });

  it('is empty for a group with neither members nor offsets', () => {
    expect(groupOffsetRows([], [], ends)).toEqual([]);
    expect(totalLag([])).toBe(0);
  });
});

describe('memberAssignment', () => {
  it('decodes a consumer group member’s assignment, sorted', () => {
    const bytes = encodeAssignment({
      partitions: [
        { topic: 'b', partition: 1 },
        { topic: 'a', partition: 4 },
      ],
      userData: null,
    });
    expect(memberAssignment('consumer', bytes)).toEqual([
      { topic: 'a', partition: 4 },
      { topic: 'b', partition: 1 },
    ]);
    expect(memberAssignment('consumer', Buffer.alloc(0))).toEqual([]);
  });

  it('gives null for another protocol type or undecodable bytes', () => {
    expect(memberAssignment('connect', encodeAssignment({ partitions: [], userData: null }))).toBeNull();
    expect(memberAssignment('consumer', Buffer.from('all'))).toBeNull();
  });
});
