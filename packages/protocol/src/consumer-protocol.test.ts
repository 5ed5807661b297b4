import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, type ConsumerSubscription } from './consumer-protocol.ts';

/** Hex with spaces and comments allowed, for byte layouts written out field by field. */
function hex(s: string): Buffer {
  return Buffer.from(
    s
      .split('\n')
      .map((l) => l.replace(/#.*/, ''))
      .join('')
      .replace(/\s+/g, ''),
    'hex',
  );
}

const subscription: ConsumerSubscription = {
  topics: ['demo', 'a'],
  userData: null,
  ownedPartitions: [
    { topic: 'demo', partition: 1 },
    { topic: 'demo', partition: 0 },
    { topic: 'a', partition: 2 },
  ],
  generationId: 7,
  rackId: 'rack-1',
};

// The bytes below are written out from Kafka's ConsumerProtocolSubscription.json and
// ConsumerProtocolAssignment.json (non-flexible: int16-length strings, int32-count arrays,
// int32-length nullable bytes) behind ConsumerProtocol's int16 version prefix, with the topics
// sorted and owned partitions grouped by topic in order, as ConsumerProtocol.serializeSubscription
// writes them.
const topicsAndNullUserData = `
  00000002            # topics: 2
  0001 61             # "a"
  0004 64656d6f       # "demo"
  ffffffff            # userData: null
`;
const owned = `
  00000002            # ownedPartitions: 2 topics
  0001 61  00000001 00000002              # a: [2]
  0004 64656d6f  00000002 00000000 00000001   # demo: [0, 1]
`;

describe('consumer protocol: Kafka bytes', () => {
  it.each([
    [0, `0000 ${topicsAndNullUserData}`],
    [1, `0001 ${topicsAndNullUserData} ${owned}`],
    [2, `0002 ${topicsAndNullUserData} ${owned} 00000007`],
    [3, `0003 ${topicsAndNullUserData} ${owned} 00000007 0006 7261636b2d31`],
  ])('Subscription v%i', (version, bytes) => {
    const encoded = encodeSubscription(subscription, version);
    expect(encoded.toString('hex')).toBe(hex(bytes).toString('hex'));
    const decoded = decodeSubscription(encoded);
    expect(decoded.version).toBe(version);
    expect(decoded.topics).toEqual(['a', 'demo']);
    expect(decoded.ownedPartitions).toEqual(
      version >= 1
        ? [
            { topic: 'a', partition: 2 },
            { topic: 'demo', partition: 0 },
            { topic: 'demo', partition: 1 },
          ]
        : [],
    );
    expect(decoded.generationId).toBe(version >= 2 ? 7 : -1);
    expect(decoded.rackId).toBe(version >= 3 ? 'rack-1' : null);
  });

  it('writes v3 by default, user data as int32-length bytes, a null rack as int16 -1', () => {
    const bytes = encodeSubscription({ topics: ['t'], userData: Buffer.from([0xca, 0xfe]), ownedPartitions: [], generationId: -1, rackId: null });
    expect(bytes.toString('hex')).toBe(hex('0003 00000001 0001 74  00000002 cafe  00000000  ffffffff  ffff').toString('hex'));
  });

  it.each([0, 1, 2, 3])('Assignment v%i', (version) => {
    const bytes = encodeAssignment(
      {
        partitions: [
          { topic: 'demo', partition: 3 },
          { topic: 'demo', partition: 0 },
        ],
        userData: null,
      },
      version,
    );
    expect(bytes.toString('hex')).toBe(hex(`000${version}  00000001  0004 64656d6f  00000002 00000000 00000003  ffffffff`).toString('hex'));
    expect(decodeAssignment(bytes)).toEqual({
      version,
      partitions: [
        { topic: 'demo', partition: 0 },
        { topic: 'demo', partition: 3 },
      ],
      userData: null,
    });
  });

  it('reads a newer version as the newest it knows, ignoring fields appended after', () => {
    const v4 = Buffer.concat([hex('0004'), encodeSubscription(subscription, 3).subarray(2), hex('00000001 deadbeef')]);
    expect(decodeSubscription(v4)).toMatchObject({ version: 4, generationId: 7, rackId: 'rack-1' });
    const a4 = Buffer.concat([hex('0004'), encodeAssignment({ partitions: [{ topic: 't', partition: 1 }], userData: null }).subarray(2), hex('ff')]);
    expect(decodeAssignment(a4).partitions).toEqual([{ topic: 't', partition: 1 }]);
  });

  it('reads the empty assignment the coordinator gives a member the leader left out as no partitions', () => {
    expect(decodeAssignment(Buffer.alloc(0)).partitions).toEqual([]);
  });

  it.each([
    ['a truncated header', '00'],
    ['a negative version', 'ffff 00000000 ffffffff'],
    ['a topic count past the end', '0003 7fffffff'],
    ['a string cut short', '0000 00000001 0005 6162'],
    ['a null topic', '0000 00000001 ffff ffffffff'],
    ['user data cut short', '0000 00000000 00000004 ab'],
  ])('refuses %s with INVALID_REQUEST', (_, bytes) => {
    expect(() => decodeSubscription(hex(bytes))).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });

  it('refuses an assignment with a negative partition, and versions it cannot write', () => {
    expect(() => decodeAssignment(hex('0000 00000001 0001 74 00000001 ffffffff ffffffff'))).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    expect(() => encodeSubscription(subscription, 4)).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    expect(() => encodeAssignment({ partitions: [], userData: null }, -1)).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });

  it('round-trips any subscription and assignment (property)', () => {
    const tp = fc.record({ topic: fc.string({ minLength: 1, maxLength: 20 }), partition: fc.integer({ min: 0, max: 2 ** 31 - 1 }) });
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ maxLength: 20 })),
        fc.option(
          fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
          { nil: null },
        ),
        fc.uniqueArray(tp, { selector: (x) => `${x.topic}\u0000${x.partition}` }),
        fc.integer({ min: -1, max: 2 ** 31 - 1 }),
        fc.option(fc.string({ maxLength: 20 }), { nil: null }),
        (topics, userData, ownedPartitions, generationId, rackId) => {
          const s = decodeSubscription(encodeSubscription({ topics, userData, ownedPartitions, generationId, rackId }));
          const byTp = (a: { topic: string; partition: number }, b: { topic: string; partition: number }) =>
            a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
          expect(s.topics).toEqual([...topics].sort());
          expect(s.userData).toEqual(userData);
          expect(s.ownedPartitions).toEqual([...ownedPartitions].sort(byTp));
          expect(s.generationId).toBe(generationId);
          expect(s.rackId).toBe(rackId);
          const a = decodeAssignment(encodeAssignment({ partitions: ownedPartitions, userData }));
          expect(a.partitions).toEqual([...ownedPartitions].sort(byTp));
          expect(a.userData).toEqual(userData);
        },
      ),
    );
  });
});
