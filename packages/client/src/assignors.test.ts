import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { TopicPartition } from '@tributary/protocol';
import {
  cooperativeStickyAssignor,
  rangeAssignor,
  roundRobinAssignor,
  stickyAssign,
  validOwners,
  withoutTransfers,
  type MemberSubscription,
} from './assignors.ts';

const tp = (topic: string, partition: number): TopicPartition => ({ topic, partition });
const member = (
  memberId: string,
  topics: string[],
  owned: TopicPartition[] = [],
  generationId = owned.length > 0 ? 1 : -1,
  groupInstanceId?: string,
): MemberSubscription => ({
  memberId,
  topics,
  ownedPartitions: owned,
  generationId,
  ...(groupInstanceId !== undefined ? { groupInstanceId } : {}),
});
/** `t1-0 t1-1 …` per member, for compact expectations. */
function show(assignment: Map<string, TopicPartition[]>): Record<string, string> {
  return Object.fromEntries([...assignment].map(([m, tps]) => [m, tps.map((x) => `${x.topic}-${x.partition}`).join(' ')]));
}
const counts = (pairs: [string, number][]) => new Map(pairs);

describe('range (Kafka RangeAssignor)', () => {
  it.each([
    {
      what: "Kafka's documented example: two topics of 3, two members",
      topics: [
        ['t0', 3],
        ['t1', 3],
      ] as [string, number][],
      members: [member('c1', ['t0', 't1']), member('c0', ['t0', 't1'])],
      expected: { c1: 't0-2 t1-2', c0: 't0-0 t0-1 t1-0 t1-1' },
    },
    {
      what: 'ten partitions, three members: 4, 3, 3, the first members in order get the extra',
      topics: [['demo', 10]] as [string, number][],
      members: [member('a', ['demo']), member('b', ['demo']), member('c', ['demo'])],
      expected: { a: 'demo-0 demo-1 demo-2 demo-3', b: 'demo-4 demo-5 demo-6', c: 'demo-7 demo-8 demo-9' },
    },
    {
      what: 'members subscribed to different topics; a topic that does not exist is skipped',
      topics: [
        ['x', 2],
        ['y', 3],
      ] as [string, number][],
      members: [member('a', ['x', 'y', 'gone']), member('b', ['y'])],
      expected: { a: 'x-0 x-1 y-0 y-1', b: 'y-2' },
    },
    {
      what: 'more members than partitions: the last ones get nothing',
      topics: [['t', 2]] as [string, number][],
      members: [member('a', ['t']), member('b', ['t']), member('c', ['t'])],
      expected: { a: 't-0', b: 't-1', c: '' },
    },
    {
      what: 'static members are ordered by group instance id before member id (MemberInfo)',
      topics: [['t', 2]] as [string, number][],
      members: [member('a', ['t'], [], -1, 'zz'), member('b', ['t'], [], -1, 'aa')],
      expected: { a: 't-1', b: 't-0' },
    },
  ])('$what', ({ topics, members, expected }) => {
    expect(show(rangeAssignor.assign(counts(topics), members))).toEqual(expected);
  });
});

describe('round-robin (Kafka RoundRobinAssignor)', () => {
  it.each([
    {
      what: "Kafka's documented example: two topics of 3, two members",
      topics: [
        ['t0', 3],
        ['t1', 3],
      ] as [string, number][],
      members: [member('c0', ['t0', 't1']), member('c1', ['t0', 't1'])],
      expected: { c0: 't0-0 t0-2 t1-1', c1: 't0-1 t1-0 t1-2' },
    },
    {
      what: 'a member not subscribed to a topic is skipped for its partitions',
      topics: [
        ['t0', 1],
        ['t1', 2],
        ['t2', 3],
      ] as [string, number][],
      members: [member('c0', ['t0']), member('c1', ['t0', 't1']), member('c2', ['t0', 't1', 't2'])],
      expected: { c0: 't0-0', c1: 't1-0', c2: 't1-1 t2-0 t2-1 t2-2' },
    },
    {
      what: 'no members, no assignment',
      topics: [['t', 3]] as [string, number][],
      members: [],
      expected: {},
    },
  ])('$what', ({ topics, members, expected }) => {
    expect(show(roundRobinAssignor.assign(counts(topics), members))).toEqual(expected);
  });
});

describe('validOwners (AbstractStickyAssignor)', () => {
  it('keeps the claim of the highest generation, drops claims of the same generation, of topics no longer subscribed and of partitions gone', () => {
    const owners = validOwners(counts([['t', 4]]), [
      member('a', ['t'], [tp('t', 0), tp('t', 1)], 5),
      member('b', ['t'], [tp('t', 1), tp('t', 2)], 4),
      member('c', ['t'], [tp('t', 2), tp('t', 3)], 4),
      member('d', ['u'], [tp('t', 3)], 9),
      member('e', ['t'], [tp('t', 9)], 9),
    ]);
    // t-1: a's generation 5 beats b's 4; t-2: b and c both in 4, so neither; t-3: c, since d no
    // longer subscribes to t; t-9 does not exist.
    expect(Object.fromEntries(owners)).toEqual({ 't\u00000': 'a', 't\u00001': 'a', 't\u00003': 'c' });
  });
});

describe('cooperative-sticky (KIP-429)', () => {
  const demo = counts([['demo', 10]]);

  it('gives three new members disjoint partitions covering all ten, 4 + 3 + 3', () => {
    const a = cooperativeStickyAssignor.assign(demo, [member('a', ['demo']), member('b', ['demo']), member('c', ['demo'])]);
    expect([...a.values()].map((x) => x.length).sort()).toEqual([3, 3, 4]);
    expect(new Set([...a.values()].flat().map((x) => x.partition)).size).toBe(10);
  });

  it('when a member goes, the others keep everything they own and share its partitions in one rebalance', () => {
    const a = cooperativeStickyAssignor.assign(demo, [
      member(
        'a',
        ['demo'],
        [0, 1, 2, 3].map((p) => tp('demo', p)),
      ),
      member(
        'b',
        ['demo'],
        [4, 5, 6].map((p) => tp('demo', p)),
      ),
    ]);
    // The unowned 7, 8, 9 each go to the member with fewer at that moment (a first on a tie).
    expect(show(a)).toEqual({ a: 'demo-0 demo-1 demo-2 demo-3 demo-8', b: 'demo-4 demo-5 demo-6 demo-7 demo-9' });
  });

  it('when a member comes, the owners give up partitions first (revoke) and the follow-up rebalance hands them over', () => {
    const owned = { a: [0, 1, 2, 3, 4].map((p) => tp('demo', p)), b: [5, 6, 7, 8, 9].map((p) => tp('demo', p)) };
    const first = cooperativeStickyAssignor.assign(demo, [member('a', ['demo'], owned.a, 3), member('b', ['demo'], owned.b, 3), member('c', ['demo'])]);
    // Nothing is handed from one member to another in this generation.
    expect(first.get('c')).toEqual([]);
    const kept = [...first.get('a')!, ...first.get('b')!];
    expect(kept).toHaveLength(7);
    // The follow-up rebalance: the revoked partitions are unowned now and go to c.
    const second = cooperativeStickyAssignor.assign(demo, [
      member('a', ['demo'], first.get('a')!, 4),
      member('b', ['demo'], first.get('b')!, 4),
      member('c', ['demo'], [], 4),
    ]);
    expect(second.get('a')).toEqual(first.get('a'));
    expect(second.get('b')).toEqual(first.get('b'));
    expect(second.get('c')).toHaveLength(3);
  });

  it('moves partitions of a topic a member no longer subscribes to, and keeps a partition with its newest claimant', () => {
    const a = cooperativeStickyAssignor.assign(
      counts([
        ['x', 2],
        ['y', 2],
      ]),
      [member('a', ['y'], [tp('x', 0), tp('y', 0)], 7), member('b', ['x', 'y'], [tp('y', 0)], 6)],
    );
    // y-0 stays with a (generation 7 beats b's stale claim in 6); x-0, which a no longer
    // subscribes to, goes to b but is held back this generation while a still claims it.
    expect(show(a)).toEqual({ a: 'y-0 y-1', b: 'x-1' });
  });
});

describe('withoutTransfers', () => {
  it('holds back a partition another member claims, unless the receiver claims it in a newer generation', () => {
    const { assignment, withheld } = withoutTransfers(
      new Map([
        ['a', [tp('t', 0), tp('t', 1)]],
        ['b', [tp('t', 2), tp('t', 3)]],
      ]),
      [member('a', ['t'], [tp('t', 0), tp('t', 2)], 5), member('b', ['t'], [tp('t', 0), tp('t', 3)], 3)],
    );
    expect(show(assignment)).toEqual({ a: 't-0 t-1', b: 't-3' });
    expect(withheld).toEqual([tp('t', 2)]);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

/** Members with equal subscriptions owning random disjoint subsets of the partitions. */
const equalSubscriptions = fc
  .record({
    partitions: fc.integer({ min: 0, max: 40 }),
    members: fc.integer({ min: 1, max: 8 }),
    seed: fc.array(fc.integer({ min: -1, max: 7 }), { minLength: 40, maxLength: 40 }),
  })
  .map(({ partitions, members, seed }) => {
    const owned: TopicPartition[][] = Array.from({ length: members }, () => []);
    for (let p = 0; p < partitions; p++) {
      const owner = seed[p]!;
      if (owner >= 0 && owner < members) owned[owner]!.push(tp('t', p));
    }
    return { partitions, members: owned.map((o, i) => member(`m${i}`, ['t'], o, 1)) };
  });

function checkComplete(assignment: Map<string, TopicPartition[]>, partitions: number): void {
  const all = [...assignment.values()].flat().map((x) => x.partition);
  expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: partitions }, (_, i) => i));
}

describe('sticky assignment properties', () => {
  it('with equal subscriptions: every partition once, counts within one, and only the moves balance needs', () => {
    fc.assert(
      fc.property(equalSubscriptions, ({ partitions, members }) => {
        const result = stickyAssign(counts([['t', partitions]]), members);
        checkComplete(result, partitions);
        const sizes = [...result.values()].map((x) => x.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        // The fewest partitions taken from their owners: the members owning most get ⌈P/M⌉.
        const lo = Math.floor(partitions / members.length);
        const atHi = partitions % members.length;
        const ownedCounts = members.map((m) => m.ownedPartitions.length).sort((a, b) => b - a);
        const minimal = ownedCounts.reduce((sum, o, i) => sum + Math.max(0, o - (i < atHi ? lo + 1 : lo)), 0);
        const taken = members.reduce(
          (sum, m) => sum + m.ownedPartitions.filter((o) => !result.get(m.memberId)!.some((x) => x.partition === o.partition)).length,
          0,
        );
        expect(taken).toBe(minimal);
      }),
    );
  });

  it('cooperative rebalances never give a partition to one member while another owns it, and settle balanced in two rounds', () => {
    fc.assert(
      fc.property(equalSubscriptions, ({ partitions, members }) => {
        let current = members;
        for (let round = 1; round <= 2; round++) {
          const result = cooperativeStickyAssignor.assign(counts([['t', partitions]]), current);
          for (const [memberId, tps] of result) {
            for (const x of tps) {
              const others = current.filter((m) => m.memberId !== memberId && m.ownedPartitions.some((o) => o.partition === x.partition));
              expect(others).toEqual([]);
            }
          }
          // Each member revokes what it lost and keeps the rest; the next round starts from that.
          current = current.map((m) => member(m.memberId, ['t'], result.get(m.memberId)!, 1 + round));
        }
        const settled = new Map(current.map((m) => [m.memberId, [...m.ownedPartitions]]));
        checkComplete(settled, partitions);
        const sizes = [...settled.values()].map((x) => x.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('with any subscriptions: valid, complete, and no single move between two members would balance it better', () => {
    const topics = ['a', 'b', 'c'];
    const arb = fc.record({
      sizes: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 3, maxLength: 3 }),
      subs: fc.array(fc.subarray(topics, { minLength: 1 }), { minLength: 1, maxLength: 6 }),
      owners: fc.array(fc.integer({ min: -1, max: 5 }), { minLength: 18, maxLength: 18 }),
    });
    fc.assert(
      fc.property(arb, ({ sizes, subs, owners }) => {
        const perTopic = counts(topics.map((t, i) => [t, sizes[i]!]));
        const all = topics.flatMap((t, i) => Array.from({ length: sizes[i]! }, (_, p) => tp(t, p)));
        const members = subs.map((s, i) =>
          member(
            `m${i}`,
            s,
            all.filter((x, j) => owners[j] === i && s.includes(x.topic)),
            1,
          ),
        );
        const result = stickyAssign(perTopic, members);
        const assigned = [...result.values()].flat();
        const subscribed = all.filter((x) => members.some((m) => m.topics.includes(x.topic)));
        expect(assigned.length).toBe(subscribed.length);
        expect(new Set(assigned.map((x) => `${x.topic}-${x.partition}`)).size).toBe(assigned.length);
        for (const m of members) {
          const mine = result.get(m.memberId)!;
          for (const x of mine) expect(m.topics).toContain(x.topic);
          for (const other of members) {
            const theirs = result.get(other.memberId)!;
            if (mine.length - theirs.length > 1) expect(mine.some((x) => other.topics.includes(x.topic))).toBe(false);
          }
        }
      }),
    );
  });

  it('range and round-robin give every subscribed partition to exactly one subscribed member (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 7 }), (x, y, n) => {
        const perTopic = counts([
          ['x', x],
          ['y', y],
        ]);
        const members = Array.from({ length: n }, (_, i) => member(`m${i}`, i % 2 === 0 ? ['x', 'y'] : ['y']));
        for (const assignor of [rangeAssignor, roundRobinAssignor]) {
          const result = assignor.assign(perTopic, members);
          const assigned = [...result.entries()].flatMap(([m, tps]) => tps.map((t) => ({ m, t })));
          expect(assigned.length).toBe(x + y);
          expect(new Set(assigned.map(({ t }) => `${t.topic}-${t.partition}`)).size).toBe(x + y);
          for (const { m, t } of assigned) expect(members.find((mm) => mm.memberId === m)!.topics).toContain(t.topic);
        }
      }),
    );
  });
});
