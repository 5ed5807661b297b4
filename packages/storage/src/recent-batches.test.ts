import { describe, expect, it } from 'vitest';
import { RecentBatches } from './recent-batches.ts';
import type { BatchSummary } from './segment.ts';

/** Contiguous batches of 1..4 records, 100 bytes per record, starting at offset 0. */
function batches(n: number): BatchSummary[] {
  const out: BatchSummary[] = [];
  let offset = 0;
  let position = 0;
  for (let i = 0; i < n; i++) {
    const records = 1 + (i % 4);
    out.push({ baseOffset: offset, lastOffset: offset + records - 1, position, size: records * 100, maxTimestamp: 1000 + i, epoch: i >> 3 });
    offset += records;
    position += records * 100;
  }
  return out;
}

describe('RecentBatches', () => {
  it('finds the batch holding any offset among the last `capacity` batches, and nothing older', () => {
    const all = batches(50);
    const recent = new RecentBatches(16);
    for (const b of all) recent.push(b);
    expect(recent.size).toBe(16);
    const kept = all.slice(-16);
    for (const b of kept) for (let o = b.baseOffset; o <= b.lastOffset; o++) expect(recent.find(o)).toEqual(b);
    expect(recent.find(kept[0]!.baseOffset - 1)).toBeUndefined();
    expect(recent.find(all.at(-1)!.lastOffset + 1)).toBeUndefined();
  });

  it('forgets batches at and after a truncation point, then takes new ones', () => {
    const all = batches(10);
    const recent = new RecentBatches(8);
    for (const b of all) recent.push(b);
    recent.truncateToPosition(all[7]!.position);
    expect(recent.find(all[7]!.baseOffset)).toBeUndefined();
    expect(recent.find(all[6]!.lastOffset)).toEqual(all[6]);
    const replacement = { ...all[7]!, lastOffset: all[7]!.baseOffset, size: 100, epoch: 9 };
    recent.push(replacement);
    expect(recent.find(replacement.baseOffset)).toEqual(replacement);
    recent.clear();
    expect(recent.find(all[6]!.baseOffset)).toBeUndefined();
  });

  it('starts with a small ring and doubles it as batches arrive, finding every batch it holds across each growth', () => {
    const all = batches(50);
    const recent = new RecentBatches(32);
    const perEntry = 6 * 8;
    expect(recent.allocatedBytes).toBe(8 * perEntry);
    for (let i = 0; i < all.length; i++) {
      recent.push(all[i]!);
      const kept = all.slice(Math.max(0, i + 1 - 32), i + 1);
      expect(recent.size).toBe(kept.length);
      for (const b of kept) expect(recent.find(b.lastOffset)).toEqual(b);
      expect(recent.startOfBatchAt(kept[0]!.position)).toBe(kept[0]!.position);
      if (i + 1 > kept.length) expect(recent.find(all[i - kept.length]!.lastOffset)).toBeUndefined();
    }
    // 8 → 16 → 32 entries, never past the capacity.
    expect(recent.allocatedBytes).toBe(32 * perEntry);
    // A truncation after the ring wrapped, then new batches in place of the cut ones.
    recent.truncateToPosition(all[45]!.position);
    expect(recent.size).toBe(32 - 5);
    const replacement = { ...all[45]!, lastOffset: all[45]!.baseOffset, size: 100, epoch: 99 };
    recent.push(replacement);
    expect(recent.find(replacement.baseOffset)).toEqual(replacement);
    expect(recent.find(all[44]!.lastOffset)).toEqual(all[44]);
    expect(recent.allocatedBytes).toBe(32 * perEntry);
  });
});
