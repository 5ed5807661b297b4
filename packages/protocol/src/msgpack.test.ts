import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MSGPACK_INLINE_BYTES_MAX, decodeMsgpack, encodeMsgpack, encodeMsgpackParts, joinMsgpackParts } from './msgpack.ts';

/** Plain wire data: what requests and answers are made of. */
const wireValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { maxDepth: 4 },
    fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
    fc.maxSafeInteger(),
    fc.double(),
    fc.string(),
    fc.string({ unit: 'grapheme', maxLength: 200 }),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    fc.integer({ min: MSGPACK_INLINE_BYTES_MAX - 2, max: 70_000 }).map((n) => Buffer.alloc(n, n & 0xff)),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 12 }), tie('value'), { maxKeys: 20 }),
  ),
})).value;

describe('encodeMsgpackParts', () => {
  it('decodes to what encodeMsgpack decodes to, joined or not', () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        const encoded = encodeMsgpackParts(value);
        expect(encoded.length).toBe(encoded.parts.reduce((n, p) => n + p.length, 0));
        expect(decodeMsgpack(joinMsgpackParts(encoded))).toEqual(decodeMsgpack(encodeMsgpack(value)));
      }),
      { numRuns: 300 },
    );
  });

  it('refers to large binary values instead of copying them, and never rewrites a returned part', () => {
    const records = Buffer.alloc(100_000, 7);
    const first = encodeMsgpackParts({ partitions: [{ topic: 't', partition: 0, records }] });
    expect(first.parts.some((p) => p === records)).toBe(true);
    const snapshot = first.parts.map((p) => Buffer.from(p));
    // Enough later encodings to fill the scratch buffer several times over.
    for (let i = 0; i < 2000; i++) encodeMsgpackParts({ topic: 'x'.repeat(200), i, blob: Buffer.alloc(1000, i & 0xff) });
    expect(first.parts.map((p) => Buffer.from(p))).toEqual(snapshot);
  });

  it('encodes what is not plain data as msgpackr does', () => {
    const value = { when: new Date(5), set: new Map([['a', 1]]), big: 2n ** 40n };
    expect(decodeMsgpack(joinMsgpackParts(encodeMsgpackParts(value)))).toEqual(decodeMsgpack(encodeMsgpack(value)));
  });
});
