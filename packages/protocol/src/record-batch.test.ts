import { crc32c } from '@node-rs/crc32';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BATCH_HEADER_SIZE,
  BatchBuilder,
  checkBatchCrc,
  decodeBatch,
  decodeBatches,
  deleteHorizonOf,
  encodeBatch,
  forEachRecordSpan,
  iterateBatches,
  readBatchHeader,
  rebuildBatch,
  stampBatch,
  validateBatch,
  type KeptRecord,
  type RecordInput,
} from './record-batch.ts';
import { TributaryError } from './errors.ts';
import { readVarint, varintSize, writeVarint } from './varint.ts';

const bytes = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a));
const record: fc.Arbitrary<RecordInput> = fc.record({
  key: fc.option(bytes, { nil: null }),
  value: fc.option(bytes, { nil: null }),
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 20 }), value: fc.option(bytes, { nil: null }) }), { maxLength: 3 }),
  timestamp: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
});
const records = fc.array(record, { minLength: 1, maxLength: 20 });
const batchOptions = fc.record({
  producerId: fc.integer({ min: -1, max: 2 ** 40 }),
  producerEpoch: fc.integer({ min: -1, max: 32767 }),
  baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
});

function expectCorrupt(fn: () => unknown): TributaryError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TributaryError);
    expect((err as TributaryError).code).toBe('CORRUPT_MESSAGE');
    return err as TributaryError;
  }
  throw new Error('expected CORRUPT_MESSAGE, nothing was thrown');
}

describe('varints', () => {
  // Zig-zag doubles the magnitude, so exactness holds for |n| <= 2^52: far beyond any length,
  // offset delta or timestamp delta a batch holds.
  it('round-trip every integer up to 2^52 in magnitude and report their size', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 52), max: 2 ** 52 }), (n) => {
        const buf = Buffer.alloc(10);
        const end = writeVarint(buf, 0, n);
        expect(end).toBe(varintSize(n));
        const cursor = { value: 0, pos: 0 };
        readVarint(buf, end, cursor);
        expect(cursor).toEqual({ value: n, pos: end });
      }),
    );
  });

  it('round-trip every value of the one- and two-byte fast paths', () => {
    const buf = Buffer.alloc(10);
    const cursor = { value: 0, pos: 0 };
    for (let n = -9000; n <= 9000; n++) {
      const end = writeVarint(buf, 0, n);
      cursor.pos = 0;
      readVarint(buf, end, cursor);
      if (cursor.value !== n || cursor.pos !== end) throw new Error(`varint ${n} read back as ${cursor.value} at ${cursor.pos}`);
    }
  });

  it('give CORRUPT_MESSAGE, not RangeError, when cut short', () => {
    const buf = Buffer.alloc(10);
    const end = writeVarint(buf, 0, 2 ** 40);
    expectCorrupt(() => readVarint(buf, end - 1, { value: 0, pos: 0 }));
  });
});

describe('record batches', () => {
  it('round-trip arbitrary records, headers and producer fields', () => {
    fc.assert(
      fc.property(
        records,
        batchOptions,
        fc.integer({ min: 0, max: 2 ** 50 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (input, options, baseOffset, epoch) => {
          const batch = encodeBatch(input, options);
          stampBatch(batch, baseOffset, epoch);
          const { header, records: out } = decodeBatch(batch);
          expect(header).toMatchObject({
            ...options,
            baseOffset,
            partitionLeaderEpoch: epoch,
            recordCount: input.length,
            lastOffsetDelta: input.length - 1,
            magic: 2,
          });
          expect(header.maxTimestamp).toBe(Math.max(...input.map((r) => r.timestamp!)));
          out.forEach((r, i) => {
            const want = input[i]!;
            expect(r.offset).toBe(baseOffset + i);
            expect(r.timestamp).toBe(want.timestamp);
            expect(r.key).toEqual(want.key);
            expect(r.value).toEqual(want.value);
            expect(r.headers).toEqual(want.headers);
          });
        },
      ),
    );
  });

  it('catches any single flipped bit inside the length, magic and CRC-covered bytes', () => {
    fc.assert(
      fc.property(records, fc.nat(), fc.integer({ min: 0, max: 7 }), (input, at, bit) => {
        const batch = encodeBatch(input);
        // baseOffset (0-7) and partitionLeaderEpoch (12-15) lie outside the CRC by design: the
        // leader stamps them on append. Every other byte is checked.
        const covered = [8, 9, 10, 11, 16, ...Array.from({ length: batch.length - 17 }, (_, i) => 17 + i)];
        const pos = covered[at % covered.length]!;
        batch[pos]! ^= 1 << bit;
        expectCorrupt(() => validateBatch(batch));
      }),
    );
  });

  it('catches every truncation, naming the check', () => {
    fc.assert(
      fc.property(records, fc.nat(), (input, cut) => {
        const batch = encodeBatch(input);
        const short = batch.subarray(0, cut % batch.length);
        const err = expectCorrupt(() => validateBatch(short));
        expect(err.message).toMatch(/truncated|batchLength|CRC/);
      }),
    );
  });

  it('rejects a wrong magic, a lying record count and a lying length with their own messages', () => {
    const batch = encodeBatch([{ value: Buffer.from('a') }, { value: Buffer.from('b') }]);
    const wrongMagic = Buffer.from(batch);
    wrongMagic[16] = 1;
    expect(expectCorrupt(() => validateBatch(wrongMagic)).message).toMatch(/magic/);
    const longer = Buffer.concat([batch, Buffer.alloc(3)]);
    expect(expectCorrupt(() => validateBatch(longer)).message).toMatch(/batchLength/);
    // A record count that disagrees with the records, with a CRC that matches the lie.
    const builder = new BatchBuilder(Date.now());
    builder.append({ value: Buffer.from('x') });
    const lying = Buffer.from(builder.build());
    lying.writeInt32BE(2, 57);
    lying.writeUInt32BE(crc32c(lying.subarray(21)), 17);
    expect(expectCorrupt(() => validateBatch(lying)).message).toMatch(/recordCount/);
  });

  it('reads header fields without decoding records and stamps in place without breaking the CRC', () => {
    const batch = encodeBatch([{ value: Buffer.from('v') }], { producerId: 42, producerEpoch: 1, baseSequence: 7 });
    stampBatch(batch, 1000, 5);
    expect(readBatchHeader(batch)).toMatchObject({
      baseOffset: 1000,
      partitionLeaderEpoch: 5,
      producerId: 42,
      producerEpoch: 1,
      baseSequence: 7,
      recordCount: 1,
    });
    expect(() => checkBatchCrc(batch)).not.toThrow();
    expectCorrupt(() => readBatchHeader(batch.subarray(0, BATCH_HEADER_SIZE - 1)));
  });

  it('splits concatenated batches and ignores a partial trailing batch', () => {
    const a = encodeBatch([{ value: Buffer.from('a') }]);
    const b = encodeBatch([{ value: Buffer.from('b') }, { value: Buffer.from('c') }]);
    stampBatch(b, 1, 0);
    const joined = Buffer.concat([a, b, b.subarray(0, 20)]);
    expect([...iterateBatches(joined)].length).toBe(2);
    expect(decodeBatches(joined).map((r) => [r.offset, r.value?.toString()])).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ]);
  });
});

describe('compaction rewrites (rebuildBatch, forEachRecordSpan)', () => {
  const keyed: fc.Arbitrary<RecordInput> = fc.record({
    key: bytes,
    value: fc.option(bytes, { nil: null }),
    headers: fc.array(fc.record({ key: fc.string({ maxLength: 20 }), value: fc.option(bytes, { nil: null }) }), { maxLength: 3 }),
    timestamp: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
  });

  it('refuses records without a key when keys are required (a compacted topic), with INVALID_RECORD', () => {
    const ok = encodeBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }]);
    expect(validateBatch(ok, { keysRequired: true }).recordCount).toBe(1);
    const keyless = encodeBatch([
      { key: Buffer.from('k'), value: Buffer.from('v') },
      { key: null, value: Buffer.from('w') },
    ]);
    expect(validateBatch(keyless).recordCount).toBe(2);
    expect(() => validateBatch(keyless, { keysRequired: true })).toThrow(
      expect.objectContaining({ code: 'INVALID_RECORD', message: expect.stringMatching(/1 of 2 records have no key/) }),
    );
  });

  it('spans point at exactly the bytes forEachRecord decodes', () => {
    fc.assert(
      fc.property(records, fc.integer({ min: 0, max: 2 ** 40 }), (rs, baseOffset) => {
        const b = encodeBatch(rs, { baseOffset });
        const header = validateBatch(b);
        const decoded = decodeBatch(b).records;
        const spans: { offset: number; timestamp: number; key: Buffer | null; valueNull: boolean; size: number }[] = [];
        forEachRecordSpan(b, header, (s) =>
          spans.push({
            offset: s.offset,
            timestamp: s.timestamp,
            key: s.keyLength < 0 ? null : Buffer.from(b.subarray(s.keyStart, s.keyStart + s.keyLength)),
            valueNull: s.valueLength < 0,
            size: s.end - s.start,
          }),
        );
        expect(spans.map((s) => s.offset)).toEqual(decoded.map((r) => r.offset));
        expect(spans.map((s) => s.timestamp)).toEqual(decoded.map((r) => r.timestamp));
        expect(spans.map((s) => s.key)).toEqual(decoded.map((r) => (r.key === null ? null : Buffer.from(r.key))));
        expect(spans.map((s) => s.valueNull)).toEqual(decoded.map((r) => r.value === null));
        expect(spans.reduce((n, s) => n + s.size, 0)).toBe(b.length - BATCH_HEADER_SIZE);
      }),
    );
  });

  it('keeps exactly the chosen records with their offsets, timestamps and contents, and the header facts offsets and sequences depend on', () => {
    fc.assert(
      fc.property(
        fc.array(keyed, { minLength: 1, maxLength: 20 }),
        batchOptions,
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: -1, max: 1000 }),
        fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
        fc.option(fc.integer({ min: 0, max: 2_000_000_000_000 }), { nil: undefined }),
        fc.integer({ min: 0, max: 50 }),
        (rs, options, baseOffset, epoch, keepMask, horizon, extend) => {
          const original = encodeBatch(rs, { ...options, baseOffset, partitionLeaderEpoch: epoch });
          const header = checkBatchCrc(original);
          const kept: KeptRecord[] = [];
          forEachRecordSpan(original, header, (s) => {
            if (keepMask[s.offset - baseOffset]) kept.push({ ...s });
          });
          const lastOffsetDelta = header.lastOffsetDelta + extend;
          const rebuilt = rebuildBatch(original, header, kept, { lastOffsetDelta, ...(horizon !== undefined ? { deleteHorizonMs: horizon } : {}) });
          const h = checkBatchCrc(rebuilt);
          expect(h.batchLength + 12).toBe(rebuilt.length);
          expect([h.baseOffset, h.partitionLeaderEpoch, h.producerId, h.producerEpoch, h.baseSequence, h.lastOffsetDelta, h.recordCount]).toEqual([
            baseOffset,
            epoch,
            header.producerId,
            header.producerEpoch,
            header.baseSequence,
            lastOffsetDelta,
            kept.length,
          ]);
          const expected = decodeBatch(original).records.filter((r) => keepMask[r.offset - baseOffset]);
          const got = decodeBatches(rebuilt);
          expect(got).toEqual(expected);
          if (kept.length > 0) {
            expect(h.maxTimestamp).toBe(Math.max(...expected.map((r) => r.timestamp)));
            expect(deleteHorizonOf(h)).toBe(horizon);
          } else {
            expect([h.maxTimestamp, h.baseTimestamp, deleteHorizonOf(h)]).toEqual([header.maxTimestamp, header.maxTimestamp, undefined]);
          }
          // Kept as it was when nothing changes.
          if (kept.length === rs.length && horizon === undefined && extend === 0) expect(rebuilt.equals(original)).toBe(true);
        },
      ),
    );
  });

  it('clears the producer fields of a batch that only holds offsets', () => {
    const original = encodeBatch([{ key: Buffer.from('k'), value: null }], { producerId: 7, producerEpoch: 2, baseSequence: 40, baseOffset: 100 });
    const header = checkBatchCrc(original);
    const h = checkBatchCrc(rebuildBatch(original, header, [], { lastOffsetDelta: 9, clearProducer: true }));
    expect([h.baseOffset, h.lastOffsetDelta, h.recordCount, h.producerId, h.producerEpoch, h.baseSequence]).toEqual([100, 9, 0, -1, -1, -1]);
  });
});
