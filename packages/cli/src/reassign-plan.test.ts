import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assignLeaders,
  balanceBand,
  leaderBand,
  movesLowerBound,
  proposePlan,
  type PlanBroker,
  type PlanPartition,
  type ProposedPlan,
} from './reassign-plan.ts';

// The seed's placement (DESIGN.md): 6 brokers, rack-1 = 0,1,2 and rack-2 = 3,4,5, 10 partitions, RF 3.
const SEED = [
  [0, 3, 1],
  [3, 1, 4],
  [1, 4, 2],
  [4, 2, 5],
  [2, 5, 0],
  [5, 0, 3],
  [0, 3, 1],
  [3, 1, 4],
  [1, 4, 2],
  [4, 2, 5],
];
const rackOf = (id: number) => (id < 3 || id === 6 ? 'rack-1' : 'rack-2');
const brokers = (...ids: number[]): PlanBroker[] => ids.map((id) => ({ id, rack: rackOf(id) }));
const topic = (name: string, lists: number[][]): PlanPartition[] => lists.map((replicas, partition) => ({ topic: name, partition, replicas }));
const SEED_DEMO = topic('demo', SEED);

/** The assignment after the plan: every partition of the request, planned or not. */
function applied(partitions: readonly PlanPartition[], proposed: ProposedPlan): PlanPartition[] {
  return partitions.map((p) => {
    const entry = proposed.plan.partitions.find((e) => e.topic === p.topic && e.partition === p.partition);
    return entry ? { ...p, replicas: entry.replicas } : p;
  });
}

/** The hard rules and the bands, checked independently of the generator. */
function checkPlan(given: readonly PlanBroker[], partitions: readonly PlanPartition[], proposed: ProposedPlan, topics: readonly string[]): void {
  const after = applied(partitions, proposed);
  const eligible = new Set(given.map((b) => b.id));
  const rack = new Map(given.map((b) => [b.id, b.rack]));
  const racks = new Set(given.map((b) => b.rack)).size;
  for (const name of topics) {
    const before = partitions.filter((p) => p.topic === name);
    const planned = after.filter((p) => p.topic === name);
    const count = new Map(given.map((b) => [b.id, 0]));
    const leads = new Map(given.map((b) => [b.id, 0]));
    planned.forEach((p, i) => {
      expect(p.replicas.length, `${name}-${p.partition} keeps its replication factor`).toBe(before[i]!.replicas.length);
      expect(new Set(p.replicas).size, `${name}-${p.partition} names no broker twice`).toBe(p.replicas.length);
      for (const r of p.replicas) expect(eligible.has(r), `${name}-${p.partition} on given brokers only`).toBe(true);
      expect(new Set(p.replicas.map((r) => rack.get(r))).size, `${name}-${p.partition} spreads over racks`).toBe(Math.min(p.replicas.length, racks));
      for (const r of p.replicas) count.set(r, count.get(r)! + 1);
      leads.set(p.replicas[0]!, leads.get(p.replicas[0]!)! + 1);
    });
    const band = balanceBand(
      planned.reduce((n, p) => n + p.replicas.length, 0),
      given.length,
    );
    const leaderRange = leaderBand(planned.length, given.length);
    for (const [id, n] of count) expect([id, n >= band.lo && n <= band.hi]).toEqual([id, true]);
    for (const [id, n] of leads) expect([id, n >= leaderRange.lo && n <= leaderRange.hi]).toEqual([id, true]);
  }
}

describe('balanceBand: within one replica of the average', () => {
  it.each([
    [30, 6, 4, 6], // the seed: average 5 -> 4..6
    [30, 7, 4, 5], // average 4.29 -> 4 or 5
    [10, 6, 1, 2],
    [10, 7, 1, 2],
    [3, 6, 0, 1],
    [12, 4, 2, 4],
  ])('%i replicas over %i brokers: %i..%i', (total, n, lo, hi) => {
    expect(balanceBand(total, n)).toEqual({ lo, hi });
  });
});

describe('proposePlan', () => {
  it("proposes no move for the seed's table on its six brokers: it is balanced and rack-aware already", () => {
    const proposed = proposePlan({ brokers: brokers(0, 1, 2, 3, 4, 5), partitions: SEED_DEMO, topics: ['demo'] });
    expect(proposed.plan).toEqual({ version: 1, partitions: [] });
    expect(proposed).toMatchObject({ moves: 0, leaderChanges: 0, warnings: [] });
    expect(proposed.load[0]!.brokers.map((b) => [b.brokerId, b.replicasBefore, b.replicasAfter, b.leadersAfter])).toEqual([
      [0, 4, 4, 2],
      [3, 5, 5, 2],
      [1, 6, 6, 2],
      [4, 6, 6, 2],
      [2, 5, 5, 1],
      [5, 4, 4, 1],
    ]);
  });

  it('moves the fewest replicas onto a seventh broker (rack-1): it gets its share of replicas and leads one partition', () => {
    const given = brokers(0, 1, 2, 3, 4, 5, 6);
    const proposed = proposePlan({ brokers: given, partitions: SEED_DEMO, topics: ['demo'] });
    checkPlan(given, SEED_DEMO, proposed, ['demo']);
    expect(proposed.moves).toBe(movesLowerBound(given, SEED_DEMO));
    expect(proposed.moves).toBe(4);
    // Every move is onto B6, the only broker below the band (4..5).
    for (const e of proposed.plan.partitions) {
      const was = SEED[e.partition]!;
      expect(e.replicas.filter((r) => !was.includes(r))).toEqual([6]);
    }
    const b6 = proposed.load[0]!.brokers.find((b) => b.brokerId === 6)!;
    expect(b6).toMatchObject({ replicasBefore: 0, replicasAfter: 4, leadersAfter: 1 });
    // Deterministic (the plan exactly, so any change to it is seen): B1 and B4 hold 6, above 4..5.
    // B4 gives B6 two replicas, with the leadership of P3 (B6 leads none, B4 two), B1 one (P1),
    // and B3, at 5 the heaviest left, the fourth (P5).
    expect(proposed.plan.partitions).toEqual([
      { topic: 'demo', partition: 0, replicas: [0, 3, 6] },
      { topic: 'demo', partition: 1, replicas: [3, 1, 6] },
      { topic: 'demo', partition: 3, replicas: [6, 2, 5] },
      { topic: 'demo', partition: 5, replicas: [5, 0, 6] },
    ]);
    expect(proposed.current.partitions.map((e) => e.replicas)).toEqual([SEED[0], SEED[1], SEED[3], SEED[5]]);
  });

  it.each([
    ['broker 5 of the seed', brokers(0, 1, 2, 3, 4), SEED_DEMO],
    ['broker 0 of the seed', brokers(1, 2, 3, 4, 5), SEED_DEMO],
    [
      'broker 5 of seven',
      brokers(0, 1, 2, 3, 4, 6),
      topic('demo', [
        [0, 3, 6],
        [3, 1, 6],
        [6, 4, 2],
        [4, 2, 5],
        [2, 5, 0],
        [5, 0, 6],
        [0, 3, 1],
        [3, 1, 4],
        [1, 4, 2],
        [4, 2, 5],
      ]),
    ],
  ])('decommissioning %s moves exactly its replicas, keeping racks and bands', (_name, given, partitions) => {
    const proposed = proposePlan({ brokers: given, partitions, topics: ['demo'] });
    checkPlan(given, partitions, proposed, ['demo']);
    const gone = [...new Set(partitions.flatMap((p) => p.replicas))].find((id) => !given.some((b) => b.id === id))!;
    const held = partitions.filter((p) => p.replicas.includes(gone)).length;
    expect(proposed.moves).toBe(movesLowerBound(given, partitions));
    expect(proposed.moves).toBe(held);
    expect(applied(partitions, proposed).some((p) => p.replicas.includes(gone))).toBe(false);
  });

  it('fixes a partition crowded into one rack by moving the fewest replicas to the other', () => {
    const partitions = topic('t', [
      [0, 1, 2],
      [3, 4, 5],
      [1, 4, 2],
      [4, 2, 5],
    ]);
    const given = brokers(0, 1, 2, 3, 4, 5);
    const proposed = proposePlan({ brokers: given, partitions, topics: ['t'] });
    checkPlan(given, partitions, proposed, ['t']);
    expect(proposed.moves).toBe(2);
    expect(proposed.plan.partitions.map((e) => e.partition)).toEqual([0, 1]);
  });

  it('only reorders when the replicas are balanced but the leaders are not', () => {
    const partitions = topic('t', [
      [0, 1, 2],
      [0, 2, 1],
      [0, 1, 2],
    ]);
    const given = [0, 1, 2].map((id) => ({ id, rack: 'r' }));
    const proposed = proposePlan({ brokers: given, partitions, topics: ['t'] });
    checkPlan(given, partitions, proposed, ['t']);
    expect(proposed.moves).toBe(0);
    expect(proposed.leaderChanges).toBe(2);
    expect(applied(partitions, proposed).map((p) => p.replicas[0])).toEqual([0, 1, 2]);
  });

  it('spreads leaders where one swap at a time gets stuck: B2 shares only P2, so B1 must take P0 or P1 from B0', () => {
    const lists = [
      [0, 1],
      [0, 1],
      [1, 2],
    ];
    const leaders = assignLeaders(lists, lists, [0, 1, 2], leaderBand(3, 3));
    expect([...leaders].sort()).toEqual([0, 1, 2]);
    expect(leaders[2]).toBe(2);
    expect(leaders.filter((l, i) => l !== lists[i]![0]).length).toBe(2);
  });

  it('racks of unequal size with every partition in every rack: balanced within each rack, and said', () => {
    // Three racks, RF 3: every rack holds one replica of each of the 12 partitions, so rack-3's
    // two brokers hold 6 each while rack-1's and rack-2's three hold 4 (the average is 4.5).
    const given = [0, 1, 2, 3, 4, 5, 6, 7].map((id) => ({ id, rack: ['rack-1', 'rack-2', 'rack-3'][id < 3 ? 0 : id < 6 ? 1 : 2]! }));
    const partitions = topic(
      't',
      Array.from({ length: 12 }, (_, p) => [p % 3, 3 + ((p + 1) % 3), 6 + (p % 2)]),
    );
    const proposed = proposePlan({ brokers: given, partitions, topics: ['t'] });
    expect(proposed.moves).toBe(0);
    expect(proposed.warnings).toEqual(['t: the racks allow no placement with B6, B7 within 4-5 replicas; balanced within each rack instead']);
    const moved = proposePlan({
      brokers: given,
      partitions: topic(
        't',
        Array.from({ length: 12 }, () => [0, 3, 6]),
      ),
      topics: ['t'],
    });
    const count = new Map<number, number>();
    for (const p of applied(
      topic(
        't',
        Array.from({ length: 12 }, () => [0, 3, 6]),
      ),
      moved,
    ))
      for (const r of p.replicas) count.set(r, (count.get(r) ?? 0) + 1);
    // Each rack within one of its own average: 4 on rack-1 and rack-2, 6 ± 1 on rack-3.
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((id) => count.get(id) ?? 0)).toEqual([4, 4, 4, 4, 4, 4, 7, 5]);
    expect(moved.warnings[0]).toMatch(/balanced within each rack instead$/);
  });

  it('spreads topics of one partition over the cluster rather than onto one broker', () => {
    const partitions = [...topic('a', [[0]]), ...topic('b', [[0]]), ...topic('c', [[0]])];
    const given = [1, 2, 3].map((id) => ({ id, rack: 'r' }));
    const proposed = proposePlan({ brokers: given, partitions, topics: ['a', 'b', 'c'] });
    expect(proposed.plan.partitions.map((e) => e.replicas)).toEqual([[1], [2], [3]]);
  });

  it('leaves other topics alone but counts them as load for ties', () => {
    const partitions = [...topic('busy', [[1], [1]]), ...topic('x', [[0]])];
    const proposed = proposePlan({ brokers: [1, 2].map((id) => ({ id, rack: 'r' })), partitions, topics: ['x'] });
    expect(proposed.plan.partitions).toEqual([{ topic: 'x', partition: 0, replicas: [2] }]);
  });

  it('is deterministic: the order brokers and partitions are given in does not matter', () => {
    const given = brokers(0, 1, 2, 3, 4, 5, 6);
    const a = proposePlan({ brokers: given, partitions: SEED_DEMO, topics: ['demo'] });
    const b = proposePlan({ brokers: [...given].reverse(), partitions: [...SEED_DEMO].reverse(), topics: ['demo'] });
    expect(b.plan).toEqual(a.plan);
  });

  it.each([
    ['RF 3 on two brokers', [0, 1], ['demo'], 'INVALID_REPLICATION_FACTOR', /demo-0 has 3 replicas but only 2 brokers are given \(0,1\)/],
    ['an unknown topic', [0, 1, 2], ['nope'], 'UNKNOWN_TOPIC_OR_PARTITION', /topic 'nope' does not exist/],
    ['no brokers', [], ['demo'], 'INVALID_REQUEST', /no brokers given/],
    ['a broker twice', [0, 0, 1], ['demo'], 'INVALID_REQUEST', /broker 0 is given twice/],
    ['no topics', [0, 1, 2], [], 'INVALID_REQUEST', /no topics given/],
  ])('refuses what no plan can meet: %s -> %s', (_name, ids, topics, code, message) => {
    expect(() => proposePlan({ brokers: brokers(...(ids as number[])), partitions: SEED_DEMO, topics: topics as string[] })).toThrow(
      expect.objectContaining({ code, message: expect.stringMatching(message as RegExp) }),
    );
  });

  it('on random clusters: always valid, balanced, and never more moves than the lower bound', () => {
    fc.assert(
      fc.property(randomCluster({ brokersMax: 9, partitionsMax: 30 }), ({ given, partitions, rf }) => {
        const proposed = proposePlan({ brokers: given, partitions, topics: ['t'] });
        const racks = new Set(given.map((b) => b.rack)).size;
        const rack = new Map(given.map((b) => [b.id, b.rack]));
        for (const p of applied(partitions, proposed)) {
          expect(new Set(p.replicas).size).toBe(rf);
          expect(p.replicas.every((r) => rack.has(r))).toBe(true);
          expect(new Set(p.replicas.map((r) => rack.get(r))).size).toBe(Math.min(rf, racks));
        }
        // A band no rack-aware placement can meet (one broker alone in its rack) is said, not met.
        if (proposed.warnings.length > 0) return;
        checkPlan(given, partitions, proposed, ['t']);
        expect(proposed.moves).toBeGreaterThanOrEqual(movesLowerBound(given, partitions));
      }),
      { numRuns: 1000 },
    );
  });

  it('on small random clusters: as few moves as the best placement found by trying them all', () => {
    fc.assert(
      fc.property(randomCluster({ brokersMax: 6, partitionsMax: 4 }), ({ given, partitions }) => {
        const proposed = proposePlan({ brokers: given, partitions, topics: ['t'] });
        const best = fewestMovesByBruteForce(given, partitions);
        const replicaWarnings = proposed.warnings.filter((w) => w.includes('allow no placement'));
        if (best === undefined) {
          expect(replicaWarnings).not.toEqual([]);
          return;
        }
        expect(replicaWarnings).toEqual([]);
        expect(proposed.moves).toBe(best);
      }),
      { numRuns: 2000 },
    );
  });
});

/** A random (not necessarily rack-aware) assignment over some brokers, then some brokers added and some dropped. */
function randomCluster(limits: { brokersMax: number; partitionsMax: number }) {
  return fc
    .record({
      racks: fc.integer({ min: 1, max: 3 }),
      brokerCount: fc.integer({ min: 3, max: limits.brokersMax }),
      partitions: fc.integer({ min: 1, max: limits.partitionsMax }),
      rf: fc.integer({ min: 1, max: 3 }),
      picks: fc.array(fc.nat(), { minLength: 120, maxLength: 120 }),
      drop: fc.integer({ min: 0, max: 2 }),
      add: fc.integer({ min: 0, max: 2 }),
    })
    .filter((c) => c.rf <= c.brokerCount + c.add - c.drop && c.brokerCount + c.add - c.drop <= limits.brokersMax)
    .map((c) => {
      const all = Array.from({ length: c.brokerCount + c.add }, (_, id) => ({ id, rack: `rack-${(id % c.racks) + 1}` }));
      let k = 0;
      const partitions = Array.from({ length: c.partitions }, (_, partition) => {
        const pool = all.slice(0, c.brokerCount).map((b) => b.id);
        const replicas: number[] = [];
        while (replicas.length < c.rf) replicas.push(pool.splice(c.picks[k++ % c.picks.length]! % pool.length, 1)[0]!);
        return { topic: 't', partition, replicas };
      });
      return { given: all.slice(c.drop), partitions, rf: c.rf };
    });
}

/** The fewest moves of any valid placement (given brokers, rack spread, replica band), or undefined when none exists. */
function fewestMovesByBruteForce(given: readonly PlanBroker[], partitions: readonly PlanPartition[]): number | undefined {
  const ids = given.map((b) => b.id);
  const rack = new Map(given.map((b) => [b.id, b.rack]));
  const racks = new Set(given.map((b) => b.rack)).size;
  const total = partitions.reduce((n, p) => n + p.replicas.length, 0);
  const band = balanceBand(total, ids.length);
  const subsets = (k: number, from = 0): number[][] =>
    k === 0 ? [[]] : ids.slice(from).flatMap((id, i) => subsets(k - 1, from + i + 1).map((rest) => [id, ...rest]));
  const options = partitions.map((p) =>
    subsets(p.replicas.length)
      .filter((set) => new Set(set.map((r) => rack.get(r))).size === Math.min(p.replicas.length, racks))
      .map((set) => ({ set, moves: set.filter((r) => !p.replicas.includes(r)).length })),
  );
  let best: number | undefined;
  const count = new Map(ids.map((id) => [id, 0]));
  const walk = (i: number, moves: number) => {
    if (best !== undefined && moves >= best) return;
    if (i === options.length) {
      if ([...count.values()].every((n) => n >= band.lo && n <= band.hi)) best = moves;
      return;
    }
    for (const o of options[i]!) {
      for (const r of o.set) count.set(r, count.get(r)! + 1);
      walk(i + 1, moves + o.moves);
      for (const r of o.set) count.set(r, count.get(r)! - 1);
    }
  };
  walk(0, 0);
  return best;
}
