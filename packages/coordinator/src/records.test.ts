import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord, groupMetadataKey, offsetCommitKey, type OffsetsRecord } from './records.ts';

const hex = (b: Buffer | null) => b?.toString('hex');

describe('__consumer_offsets records (Kafka\u2019s schemas)', () => {
  it('lays an offset commit out as Kafka: key version 1 (group, topic, partition), value version 3', () => {
    const { key, value } = encodeRecord({
      type: 'offset',
      groupId: 'g',
      topic: 't',
      partition: 1,
      value: { offset: 5, leaderEpoch: 2, metadata: 'm', commitTimestamp: 1000, expireTimestamp: -1 },
    });
    expect(hex(key)).toBe(`00010001${'67'}0001${'74'}00000001`);
    expect(hex(value)).toBe(`00030000000000000005000000020001${'6d'}00000000000003e8`);
  });

  it('lays group metadata out as Kafka: key version 2 (group), value version 3 with static members', () => {
    const { key, value } = encodeRecord({
      type: 'group',
      groupId: 'g',
      value: {
        protocolType: 'c',
        generation: 7,
        protocol: 'r',
        leader: 'm',
        currentStateTimestamp: 16,
        members: [
          {
            memberId: 'm',
            groupInstanceId: null,
            clientId: 'c',
            clientHost: 'h',
            rebalanceTimeoutMs: 3,
            sessionTimeoutMs: 2,
            subscription: Buffer.from([0xaa]),
            assignment: Buffer.alloc(0),
          },
        ],
      },
    });
    expect(hex(key)).toBe('0002000167');
    expect(hex(value)).toBe(
      [
        '0003',
        '000163', // protocolType 'c'
        '00000007', // generation
        '000172', // protocol 'r'
        '00016d', // leader 'm'
        '0000000000000010', // currentStateTimestamp
        '00000001', // one member
        '00016d', // memberId
        'ffff', // groupInstanceId null
        '000163', // clientId
        '000168', // clientHost
        '00000003', // rebalanceTimeout
        '00000002', // sessionTimeout
        '00000001aa', // subscription
        '00000000', // assignment
      ].join(''),
    );
  });

  it('reads values Kafka wrote in older versions', () => {
    // OffsetCommitValue v1: offset, metadata, commitTimestamp, expireTimestamp.
    const v1 = Buffer.from(`0001${'0000000000000009'}${'0000'}${'0000000000000064'}${'00000000000000c8'}`, 'hex');
    expect(decodeRecord(offsetCommitKey('g', 't', 0), v1)).toEqual({
      type: 'offset',
      groupId: 'g',
      topic: 't',
      partition: 0,
      value: { offset: 9, leaderEpoch: -1, metadata: '', commitTimestamp: 100, expireTimestamp: 200 },
    });
    // GroupMetadataValue v0: no rebalance timeout (the session timeout stands in), no timestamp.
    const v0 = Buffer.from(
      ['0000', '000163', '00000001', 'ffff', 'ffff', '00000001', '00016d', '000163', '000168', '00002710', '00000000', '00000000'].join(''),
      'hex',
    );
    expect(decodeRecord(groupMetadataKey('g'), v0)).toEqual({
      type: 'group',
      groupId: 'g',
      value: {
        protocolType: 'c',
        generation: 1,
        protocol: null,
        leader: null,
        currentStateTimestamp: -1,
        members: [
          {
            memberId: 'm',
            groupInstanceId: null,
            clientId: 'c',
            clientHost: 'h',
            rebalanceTimeoutMs: 10000,
            sessionTimeoutMs: 10000,
            subscription: Buffer.alloc(0),
            assignment: Buffer.alloc(0),
          },
        ],
      },
    });
  });

  it('decodes a tombstone as a null value, and a key of an unknown type as unknown', () => {
    expect(decodeRecord(offsetCommitKey('g', 't', 3), null)).toEqual({ type: 'offset', groupId: 'g', topic: 't', partition: 3, value: null });
    expect(decodeRecord(groupMetadataKey('g'), null)).toEqual({ type: 'group', groupId: 'g', value: null });
    expect(decodeRecord(Buffer.from('0007', 'hex'), Buffer.alloc(4))).toEqual({ type: 'unknown', version: 7 });
  });

  it.each([
    { name: 'a truncated key', key: offsetCommitKey('group', 'topic', 1).subarray(0, 9), value: null },
    { name: 'trailing bytes after a key', key: Buffer.concat([groupMetadataKey('g'), Buffer.from([0])]), value: null },
    { name: 'an unknown value version', key: groupMetadataKey('g'), value: Buffer.from('0009', 'hex') },
    { name: 'a truncated value', key: offsetCommitKey('g', 't', 0), value: Buffer.from('000300000000', 'hex') },
    { name: 'no key', key: null, value: null },
  ])('refuses $name with CORRUPT_MESSAGE', ({ key, value }) => {
    expect(() => decodeRecord(key, value)).toThrow(expect.objectContaining({ code: 'CORRUPT_MESSAGE' }));
  });

  it('round-trips every record (property)', () => {
    const text = fc.string({ maxLength: 40 });
    const bytes = fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a));
    const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    const ts = fc.integer({ min: -1, max: 2 ** 50 });
    const offset: fc.Arbitrary<OffsetsRecord> = fc.record({
      type: fc.constant('offset' as const),
      groupId: text,
      topic: text,
      partition: int32,
      value: fc.option(
        fc.record({ offset: fc.integer({ min: -1, max: 2 ** 52 }), leaderEpoch: int32, metadata: text, commitTimestamp: ts, expireTimestamp: fc.constant(-1) }),
        { nil: null },
      ),
    });
    const member = fc.record({
      memberId: text,
      groupInstanceId: fc.option(text, { nil: null }),
      clientId: text,
      clientHost: text,
      rebalanceTimeoutMs: int32,
      sessionTimeoutMs: int32,
      subscription: bytes,
      assignment: bytes,
    });
    const group: fc.Arbitrary<OffsetsRecord> = fc.record({
      type: fc.constant('group' as const),
      groupId: text,
      value: fc.option(
        fc.record({
          protocolType: text,
          generation: int32,
          protocol: fc.option(text, { nil: null }),
          leader: fc.option(text, { nil: null }),
          currentStateTimestamp: ts,
          members: fc.array(member, { maxLength: 4 }),
        }),
        { nil: null },
      ),
    });
    fc.assert(
      fc.property(fc.oneof(offset, group), (record) => {
        const { key, value } = encodeRecord(record);
        expect(decodeRecord(key, value)).toEqual(record);
      }),
    );
  });
});
