import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TributaryError } from './errors.ts';
import { MSGPACK_INLINE_BYTES_MAX, decodeMsgpack, decodeMsgpackBounded, encodeMsgpack, encodeMsgpackParts, joinMsgpackParts } from './msgpack.ts';
import { scanMsgpack, type MsgpackLimits } from './msgpack-scan.ts';

const GENEROUS: MsgpackLimits = { elementsMax: 1_000_000, depthMax: 64 };

/** Plain wire data: what requests and answers are made of (string keys only, as on the wire). */
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

/** The reference count: one per value, map keys included. */
function elementsOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + value.reduce((n: number, v) => n + elementsOf(v), 0);
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return 1 + Object.values(value).reduce((n: number, v) => n + 1 + elementsOf(v), 0);
  }
  return 1;
}

function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

function refusal(bytes: Uint8Array, limits: MsgpackLimits = GENEROUS): string {
  try {
    scanMsgpack(bytes, limits, 'body');
  } catch (err) {
    expect(err).toBeInstanceOf(TributaryError);
    expect((err as TributaryError).code).toBe('INVALID_REQUEST');
    return (err as Error).message;
  }
  return 'accepted';
}

const bytes = (...parts: (number | number[] | Buffer)[]): Buffer =>
  Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(typeof p === 'number' ? [p] : p))));

describe('scanMsgpack', () => {
  it('accepts every encoding of wire data, counting its values and depth exactly', () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        for (const encoded of [encodeMsgpack(value), joinMsgpackParts(encodeMsgpackParts(value))]) {
          expect(scanMsgpack(encoded, GENEROUS)).toEqual({ elements: elementsOf(value), depth: depthOf(value) });
          expect(decodeMsgpackBounded(encoded, GENEROUS)).toEqual(decodeMsgpack(encoded));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses every truncation of a valid body and any byte after it', () => {
    fc.assert(
      fc.property(wireValue, fc.nat(), (value, cut) => {
        const encoded = encodeMsgpack(value);
        const at = cut % encoded.length;
        expect(refusal(encoded.subarray(0, at))).toMatch(/truncated/);
        expect(refusal(Buffer.concat([encoded, Buffer.from([0xc0])]))).toMatch(/bytes after its value/);
      }),
      { numRuns: 300 },
    );
  });

  it('only ever refuses with INVALID_REQUEST, and what it accepts msgpackr decodes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (random) => {
        const message = refusal(random, { elementsMax: 1000, depthMax: 8 });
        if (message === 'accepted') expect(() => decodeMsgpack(random)).not.toThrow();
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    ['a body of one map of scalars', encodeMsgpack({ acks: -1, timeoutMs: 30_000 }), { elementsMax: 5, depthMax: 1 }, 'accepted'],
    ['one value too many', encodeMsgpack({ acks: -1, timeoutMs: 30_000 }), { elementsMax: 4, depthMax: 1 }, 'more than 4 values (elementsMax)'],
    ['a map one level too deep', encodeMsgpack({ partitions: [{}] }), { elementsMax: 100, depthMax: 2 }, 'deeper than 2 (depthMax)'],
    ['an empty map within the depth', encodeMsgpack({ partitions: [{}] }), { elementsMax: 100, depthMax: 3 }, 'accepted'],
    ['100,000 nested arrays (a stack overflow in msgpackr)', bytes(Buffer.alloc(100_000, 0x91), 0xc0), GENEROUS, 'deeper than 64 (depthMax)'],
    [
      'a million empty maps in 1 MB',
      bytes(0xdd, [0x00, 0x0f, 0x42, 0x40], Buffer.alloc(1_000_000, 0x80)),
      { elementsMax: 160_064, depthMax: 8 },
      'more than 160064 values (elementsMax): array at offset 0 declares 1000000 items',
    ],
    [
      'an array32 declaring 4 billion items in 6 bytes',
      bytes(0xdd, [0xff, 0xff, 0xff, 0xff], 0xc0),
      GENEROUS,
      'truncated: array at offset 0 declares 4294967295 items, 1 bytes remain',
    ],
    ['a map32 declaring 2^32 - 1 entries', bytes(0xdf, [0xff, 0xff, 0xff, 0xff]), GENEROUS, 'truncated: map at offset 0 declares 4294967295 entries'],
    [
      'a str32 longer than the body',
      bytes(0xdb, [0x00, 0x10, 0x00, 0x00], Buffer.from('abc')),
      GENEROUS,
      'truncated: str at offset 0 needs 1048576 more bytes, 3 remain',
    ],
    ['a bin8 cut short', bytes(0x81, 0xa1, 0x72, 0xc4, 10, [1, 2]), GENEROUS, 'truncated: bin at offset 3'],
    ['a float64 cut short', bytes(0xcb, [0, 0, 0]), GENEROUS, 'truncated: number at offset 0'],
    ['an empty body', Buffer.alloc(0), GENEROUS, 'truncated: a value is missing at offset 0'],
    ['a map key that is a map', bytes(0x81, 0x80, 0x01), GENEROUS, 'map key at offset 1 is not a string (type byte 0x80)'],
    ['a map key that is an integer', bytes(0x81, 0x01, 0x02), GENEROUS, 'map key at offset 1 is not a string'],
    ['the never-used byte 0xc1', bytes(0x91, 0xc1), GENEROUS, 'byte 0xc1 at offset 1 is not msgpack'],
    ['msgpackr record extension', bytes(0xd4, 0x72, 0x00), GENEROUS, 'extension type 114 at offset 0 is not accepted'],
    ['msgpackr typed-array extension', bytes(0xc7, 3, 0x74, [1, 2, 3]), GENEROUS, 'extension type 116 at offset 0 is not accepted'],
    ['undefined as msgpackr writes it', encodeMsgpack({ a: undefined }), GENEROUS, 'accepted'],
    ['a timestamp', encodeMsgpack(new Date(0)), GENEROUS, 'accepted'],
    ['two values', bytes(0xc0, 0xc0), GENEROUS, '1 bytes after its value (offset 1 of 2)'],
  ] as const)('%s', (_name, body, limits, expected) => {
    const message = refusal(body, limits);
    if (expected === 'accepted') expect(message).toBe('accepted');
    else expect(message).toContain(expected);
  });

  it('names the body it scans', () => {
    expect(refusal(bytes(0x91))).toMatch(/^body is truncated/);
    expect(() => scanMsgpack(bytes(0x91), GENEROUS, 'body of POST /produce')).toThrow(/^body of POST \/produce is truncated/);
  });

  it('refuses a many-tiny-element body at its first header past the limit, not at its end', () => {
    // The array's declared count alone refuses it: the walk never reaches the 16 MB of items.
    const declared = bytes(0xdd, [0x01, 0x00, 0x00, 0x00], Buffer.alloc(16 * 1024 * 1024, 0x01));
    expect(refusal(declared, { elementsMax: 1000, depthMax: 4 })).toContain('more than 1000 values (elementsMax): array at offset 0 declares 16777216 items');
    // Containers one in another: refused by the 1000th, whose item would be the 1001st value.
    const nested = Buffer.alloc(16 * 1024 * 1024, 0x91);
    expect(refusal(nested, { elementsMax: 1000, depthMax: 2000 })).toBe('body holds more than 1000 values (elementsMax): array at offset 999 declares 1 items');
  });
});
