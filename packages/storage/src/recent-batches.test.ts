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
});
