import { describe, expect, it } from 'vitest';
import { nextStickyPartition, partitionForKey } from './partitioner.ts';

describe('partitioner', () => {
  it('refuses a non-positive partition count', () => {
    expect(() => partitionForKey(Buffer.from('k'), 0)).toThrow(RangeError);
  });

  it('picks a sticky partition among those with a leader', () => {
    for (const r of [0, 0.3, 0.6, 0.99]) {
      expect([2, 5]).toContain(nextStickyPartition(10, undefined, [2, 5], () => r));
    }
  });

  it('moves off the previous sticky partition when there is a choice', () => {
    expect(nextStickyPartition(3, 0, [0, 1, 2], () => 0)).toBe(1);
    expect(nextStickyPartition(3, 2, [0, 1, 2], () => 0.99)).toBe(0);
    expect(nextStickyPartition(1, 0, [0], () => 0)).toBe(0);
  });

  it('falls back to every partition when none has a leader', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 4; i++) seen.add(nextStickyPartition(4, undefined, [], () => i / 4));
    expect([...seen].sort()).toEqual([0, 1, 2, 3]);
  });
});
