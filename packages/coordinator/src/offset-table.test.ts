import { describe, expect, it } from 'vitest';
import { type CommittedOffsetEntry, type ExpiryBase, OffsetTable } from './offset-table.ts';

const entry = (partition: number, offset: number, recordOffset: number, commitTimestamp = 0, expireTimestamp = -1): CommittedOffsetEntry => ({
  topic: 't',
  partition,
  offset,
  leaderEpoch: -1,
  metadata: '',
  commitTimestamp,
  expireTimestamp,
  recordOffset,
});

describe('OffsetTable', () => {
  it('keeps the offset of the record written last, whatever order the acknowledgements come in', () => {
    const t = new OffsetTable();
    expect(t.put('g', entry(0, 10, 5))).toBe(true);
    expect(t.put('g', entry(0, 7, 3))).toBe(false);
    expect(t.get('g', 't', 0)?.offset).toBe(10);
    expect(t.put('g', entry(0, 4, 6))).toBe(true);
    expect(t.get('g', 't', 0)?.offset).toBe(4);
  });

  it('counts commits in flight per partition, and lists them until the last ends', () => {
    const t = new OffsetTable();
    t.beginPending('g', [{ topic: 't', partition: 0 }]);
    t.beginPending('g', [
      { topic: 't', partition: 0 },
      { topic: 't', partition: 1 },
    ]);
    t.endPending('g', [{ topic: 't', partition: 0 }]);
    expect(t.pendingPartitions('g')).toEqual([
      { topic: 't', partition: 0 },
      { topic: 't', partition: 1 },
    ]);
    t.endPending('g', [
      { topic: 't', partition: 0 },
      { topic: 't', partition: 1 },
    ]);
    expect(t.hasPending('g')).toBe(false);
  });

  const DAY = 24 * 3600 * 1000;
  it.each([
    { name: 'a group with members: never', base: { kind: 'never' }, now: 100 * DAY, expired: [] },
    { name: 'offsets-only group: retention after each commit', base: { kind: 'commit' }, now: 7 * DAY + 1000, expired: [0] },
    { name: 'Empty group: retention after it became Empty', base: { kind: 'since', timestampMs: 5 * DAY }, now: 7 * DAY + 1000, expired: [] },
    { name: 'Empty group, long enough', base: { kind: 'since', timestampMs: 5 * DAY }, now: 12 * DAY, expired: [0, 1] },
    { name: 'Empty group of unknown age: from each commit', base: { kind: 'since', timestampMs: undefined }, now: 7 * DAY + 1000, expired: [0] },
  ] as { name: string; base: ExpiryBase; now: number; expired: number[] }[])('expires by $name', ({ base, now, expired }) => {
    const t = new OffsetTable();
    t.put('g', entry(0, 1, 0, 1000));
    t.put('g', entry(1, 1, 1, 3 * DAY));
    t.put('g', entry(2, 1, 2, 1000, 20 * DAY)); // a v1 record's explicit expiry
    t.beginPending('g', [{ topic: 't', partition: 3 }]);
    t.put('g', entry(3, 1, 3, 0));
    expect(
      t
        .expired('g', now, 7 * DAY, base)
        .map((e) => e.partition)
        .sort(),
    ).toEqual(expired);
  });

  it('expires a record with an explicit expiry time at that time, unless the group has members', () => {
    const t = new OffsetTable();
    t.put('g', entry(0, 1, 0, 0, 20 * 24 * 3600 * 1000));
    expect(t.expired('g', 20 * DAY, 7 * DAY, { kind: 'commit' })).toHaveLength(1);
    expect(t.expired('g', 20 * DAY - 1, 7 * DAY, { kind: 'commit' })).toHaveLength(0);
    expect(t.expired('g', 30 * DAY, 7 * DAY, { kind: 'never' })).toHaveLength(0);
  });
});
