import { describe, expect, it } from 'vitest';
import { checkBatchCrc, encodeBatch, forEachRecordSpan, rebuildBatch, type KeptRecord } from '@tributary/protocol';
import { decodeFetched, type ConsumerRecord } from './consumer.ts';

/** A batch of `n` keyed records from `base`, cleaned down to the offsets in `keep` (as the log cleaner does). */
function cleanedBatch(base: number, n: number, keep: number[], lastOffsetDelta = n - 1): Buffer {
  const original = encodeBatch(
    Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`k${base + i}`), value: Buffer.from(`v${base + i}`) })),
    { baseOffset: base },
  );
  const header = checkBatchCrc(original);
  const kept: KeptRecord[] = [];
  forEachRecordSpan(original, header, (r) => {
    if (keep.includes(r.offset)) kept.push({ ...r });
  });
  return rebuildBatch(original, header, kept, { lastOffsetDelta });
}

describe('decodeFetched: a compacted log', () => {
  it("takes each record's own offset and resumes after each batch's last offset, across gaps and empty batches", () => {
    const bytes = Buffer.concat([
      cleanedBatch(0, 5, [1, 4]),
      cleanedBatch(5, 3, []), // every record removed: a bare header
      cleanedBatch(8, 2, [8], 5), // stretched over 9..13, whose batches went
      cleanedBatch(14, 2, [14, 15]),
    ]);
    const out: ConsumerRecord[] = [];
    expect(decodeFetched('t', 0, 0, bytes, out)).toBe(16);
    expect(out.map((r) => [r.offset, r.value?.toString()])).toEqual([
      [1, 'v1'],
      [4, 'v4'],
      [8, 'v8'],
      [14, 'v14'],
      [15, 'v15'],
    ]);
    // From a position inside a batch (a removed offset): only what is at or past it.
    const fromMiddle: ConsumerRecord[] = [];
    expect(decodeFetched('t', 0, 2, bytes, fromMiddle)).toBe(16);
    expect(fromMiddle.map((r) => r.offset)).toEqual([4, 8, 14, 15]);
    // A fetch answer that is nothing but an empty batch still moves the position on.
    expect(decodeFetched('t', 0, 5, cleanedBatch(5, 3, []), [])).toBe(8);
  });
});
