import { describe, expect, it } from 'vitest';
import { ProducerStateTable, type BatchIdentity } from './producer-state.ts';

function b(producerId: number, producerEpoch: number, baseSequence: number, records = 1): BatchIdentity {
  return { producerId, producerEpoch, baseSequence, lastOffsetDelta: records - 1 };
}

describe('idempotent producer state', () => {
  it('appends a fresh producer and the next sequence', () => {
    const t = new ProducerStateTable();
    expect(t.check(b(7, 0, 0, 3))).toEqual({ kind: 'append' });
    t.record(b(7, 0, 0, 3), 100, 102, 0);
    expect(t.check(b(7, 0, 3, 2))).toEqual({ kind: 'append' });
  });

  it('answers a retried batch with its original offsets', () => {
    const t = new ProducerStateTable();
    t.record(b(7, 0, 0, 3), 100, 102, 0);
    t.record(b(7, 0, 3, 2), 103, 104, 0);
    expect(t.check(b(7, 0, 0, 3))).toEqual({ kind: 'duplicate', baseOffset: 100, lastOffset: 102 });
    expect(t.check(b(7, 0, 3, 2))).toEqual({ kind: 'duplicate', baseOffset: 103, lastOffset: 104 });
  });

  it.each([
    { name: 'gap', seq: 5, code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' },
    { name: 'overlapping a remembered batch', seq: 1, code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' },
  ])('refuses a $name', ({ seq, code }) => {
    const t = new ProducerStateTable();
    t.record(b(7, 0, 0, 3), 0, 2, 0);
    expect(() => t.check(b(7, 0, seq))).toThrow(expect.objectContaining({ code }));
  });

  it('remembers only the last five batches; older ones are DUPLICATE_SEQUENCE_NUMBER', () => {
    const t = new ProducerStateTable();
    for (let i = 0; i < 7; i++) t.record(b(7, 0, i), i, i, 0);
    expect(t.batchesOf(7).map((x) => x.firstSeq)).toEqual([2, 3, 4, 5, 6]);
    expect(t.check(b(7, 0, 2))).toMatchObject({ kind: 'duplicate', baseOffset: 2 });
    expect(() => t.check(b(7, 0, 1))).toThrow(expect.objectContaining({ code: 'DUPLICATE_SEQUENCE_NUMBER' }));
    expect(t.check(b(7, 0, 7))).toEqual({ kind: 'append' });
  });

  it('a new producer epoch resets and must start at 0; an old epoch is fenced', () => {
    const t = new ProducerStateTable();
    t.record(b(7, 1, 0, 5), 0, 4, 0);
    expect(t.check(b(7, 2, 0))).toEqual({ kind: 'append' });
    expect(() => t.check(b(7, 2, 5))).toThrow(expect.objectContaining({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' }));
    expect(() => t.check(b(7, 0, 5))).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    t.record(b(7, 2, 0), 5, 5, 0);
    expect(t.batchesOf(7)).toEqual([{ firstSeq: 0, lastSeq: 0, baseOffset: 5, lastOffset: 5 }]);
  });

  it('ignores non-idempotent batches', () => {
    const t = new ProducerStateTable();
    expect(t.check(b(-1, -1, -1))).toEqual({ kind: 'append' });
    t.record(b(-1, -1, -1), 0, 0, 0);
    expect(t.size).toBe(0);
  });

  it('forgets batches past a truncation point', () => {
    const t = new ProducerStateTable();
    t.record(b(7, 0, 0), 0, 0, 0);
    t.record(b(7, 0, 1), 1, 1, 0);
    t.record(b(8, 0, 0), 2, 2, 0);
    t.truncateFrom(1);
    expect(t.batchesOf(7).map((x) => x.firstSeq)).toEqual([0]);
    expect(t.batchesOf(8)).toEqual([]);
    expect(t.check(b(7, 0, 1))).toEqual({ kind: 'append' });
  });

  it('sequences wrap at Int32.MaxValue', () => {
    const t = new ProducerStateTable();
    t.record(b(7, 0, 0x7fffffff - 1, 2), 0, 1, 0);
    expect(t.check(b(7, 0, 0))).toEqual({ kind: 'append' });
  });

  describe('producer.id.expiration.ms', () => {
    const DAY = 86_400_000;
    // Producer 7 appended at t=0 and t=1000, producer 8 at t=5000.
    const table = () => {
      const t = new ProducerStateTable();
      t.record(b(7, 0, 0), 0, 0, 0);
      t.record(b(7, 0, 1), 1, 1, 1000);
      t.record(b(8, 0, 0), 2, 2, 5000);
      return t;
    };
    it.each([
      { nowMs: 1000 + DAY - 1, expirationMs: DAY, removed: [], left: [7, 8] },
      { nowMs: 1000 + DAY, expirationMs: DAY, removed: [7], left: [8] }, // counted from the LAST append
      { nowMs: 5000 + DAY, expirationMs: DAY, removed: [7, 8], left: [] },
      { nowMs: 4000, expirationMs: 3000, removed: [7], left: [8] },
      { nowMs: 500, expirationMs: 1, removed: [], left: [7, 8] }, // the clock went back: nothing expires early
    ])('at $nowMs with expiration $expirationMs removes $removed', ({ nowMs, expirationMs, removed, left }) => {
      const t = table();
      expect(t.removeExpired(nowMs, expirationMs)).toEqual(removed);
      expect([7, 8].filter((id) => t.batchesOf(id).length > 0)).toEqual(left);
      expect(t.size).toBe(left.length);
    });

    it('an expired producer coming back is a new producer: any sequence is accepted', () => {
      const t = table();
      t.removeExpired(1000 + DAY, DAY);
      expect(t.check(b(7, 0, 42))).toEqual({ kind: 'append' });
      // Producer 8 is still known: a gap is refused.
      expect(() => t.check(b(8, 0, 42))).toThrow(expect.objectContaining({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' }));
    });

    it('a batch of a new epoch renews the entry', () => {
      const t = table();
      t.record(b(7, 1, 0), 3, 3, 9000);
      expect(t.removeExpired(1000 + DAY, DAY)).toEqual([]);
      expect(t.removeExpired(9000 + DAY, DAY)).toEqual([7, 8]);
    });
  });
});
