import { describe, expect, it } from 'vitest';
import { GroupLoader } from './loader.ts';
import { encodeRecord, type GroupMetadataValue, type OffsetsRecord } from './records.ts';

const group = (generation: number, members: string[] = []): GroupMetadataValue => ({
  protocolType: 'consumer',
  generation,
  protocol: members.length > 0 ? 'range' : null,
  leader: members[0] ?? null,
  currentStateTimestamp: 1,
  members: members.map((memberId) => ({
    memberId,
    groupInstanceId: null,
    clientId: 'c',
    clientHost: '/h',
    rebalanceTimeoutMs: 1,
    sessionTimeoutMs: 1,
    subscription: Buffer.alloc(0),
    assignment: Buffer.alloc(0),
  })),
});
const offset = (groupId: string, topic: string, partition: number, at: number | null): OffsetsRecord => ({
  type: 'offset',
  groupId,
  topic,
  partition,
  value: at === null ? null : { offset: at, leaderEpoch: -1, metadata: '', commitTimestamp: 0, expireTimestamp: -1 },
});

function load(records: OffsetsRecord[]) {
  const loader = new GroupLoader();
  records.forEach((r, i) => {
    const { key, value } = encodeRecord(r);
    loader.apply(key, value, i);
  });
  return {
    loader,
    groups: Object.fromEntries(
      loader.groups().map((g) => [
        g.groupId,
        {
          generation: g.metadata?.generation,
          offsets: Object.fromEntries([...g.offsets.values()].map((o) => [`${o.topic}:${o.partition}`, o.value.offset])),
        },
      ]),
    ),
  };
}

describe('GroupLoader', () => {
  it.each([
    {
      name: 'the latest record per key wins',
      records: [
        offset('g', 't', 0, 5),
        offset('g', 't', 0, 9),
        { type: 'group', groupId: 'g', value: group(1, ['m']) },
        { type: 'group', groupId: 'g', value: group(2) },
      ],
      expected: { g: { generation: 2, offsets: { 't:0': 9 } } },
    },
    {
      name: 'an offset tombstone removes that offset only',
      records: [offset('g', 't', 0, 5), offset('g', 't', 1, 6), offset('g', 't', 0, null)],
      expected: { g: { generation: undefined, offsets: { 't:1': 6 } } },
    },
    {
      name: 'a group tombstone with every offset tombstoned deletes the group',
      records: [
        { type: 'group', groupId: 'g', value: group(3) },
        offset('g', 't', 0, 5),
        offset('g', 't', 0, null),
        { type: 'group', groupId: 'g', value: null },
      ],
      expected: {},
    },
    {
      name: 'a group tombstone leaves offsets written after it (a group created again)',
      records: [{ type: 'group', groupId: 'g', value: group(3) }, { type: 'group', groupId: 'g', value: null }, offset('g', 't', 0, 7)],
      expected: { g: { generation: undefined, offsets: { 't:0': 7 } } },
    },
    {
      name: 'a group written again after its tombstone comes back',
      records: [
        { type: 'group', groupId: 'g', value: group(3) },
        { type: 'group', groupId: 'g', value: null },
        { type: 'group', groupId: 'g', value: group(1, ['m']) },
      ],
      expected: { g: { generation: 1, offsets: {} } },
    },
    {
      name: 'groups are kept apart',
      records: [offset('a', 't', 0, 1), offset('b', 't', 0, 2), { type: 'group', groupId: 'a', value: null }],
      expected: { a: { generation: undefined, offsets: { 't:0': 1 } }, b: { generation: undefined, offsets: { 't:0': 2 } } },
    },
  ] as { name: string; records: OffsetsRecord[]; expected: object }[])('$name', ({ records, expected }) => {
    expect(load(records).groups).toEqual(expected);
  });

  it('skips keys of record types it does not know and records it cannot read, and counts tombstones', () => {
    const loader = new GroupLoader();
    loader.apply(Buffer.from('0009', 'hex'), Buffer.from('ff', 'hex'), 0);
    const { key } = encodeRecord(offset('g', 't', 0, null));
    loader.apply(key, null, 1);
    loader.apply(key, Buffer.from('0003', 'hex'), 2);
    loader.apply(null, null, 3);
    const good = encodeRecord(offset('g', 't', 1, 4));
    loader.apply(good.key, good.value, 4);
    expect(loader.stats).toEqual({ records: 5, tombstones: 1, unknown: 1, corrupt: 2, firstCorruptOffset: 2 });
    expect(loader.groups().map((g) => g.groupId)).toEqual(['g']);
  });

  it('keeps the log offset of the record each offset came from', () => {
    const { loader } = load([offset('g', 't', 0, 5), offset('g', 'u', 0, 6), offset('g', 't', 0, 8)]);
    expect([...loader.groups()[0]!.offsets.values()].map((o) => [o.topic, o.recordOffset])).toEqual([
      ['t', 2],
      ['u', 1],
    ]);
  });
});
