import { describe, expect, it } from 'vitest';
import { TributaryError } from '@tributary/protocol';
import { SEED_TOPIC, assignReplicas, assignReplicasKafka, assignTopicReplicas, rackAlternatedOrder, topicLayout, type PlacementBroker } from './placement.ts';

function brokers(racks: Record<string, number[]>): PlacementBroker[] {
  return Object.entries(racks).flatMap(([rack, ids]) => ids.map((id) => ({ id, rack })));
}

const SEED = brokers({ 'rack-1': [0, 1, 2], 'rack-2': [3, 4, 5] });

describe('rackAlternatedOrder', () => {
  it.each([
    ['the seed cluster', SEED, [0, 3, 1, 4, 2, 5]],
    ['input order does not matter', [...SEED].reverse(), [0, 3, 1, 4, 2, 5]],
    ['racks sorted by name', brokers({ b: [1, 4], a: [2, 3] }), [2, 1, 3, 4]],
    ['three racks', brokers({ r1: [0, 1], r2: [2, 3], r3: [4, 5] }), [0, 2, 4, 1, 3, 5]],
    ['uneven racks', brokers({ r1: [0, 1, 2, 3], r2: [4] }), [0, 4, 1, 2, 3]],
    ['one rack', brokers({ r: [2, 0, 1] }), [0, 1, 2]],
  ])('%s', (_name, input, expected) => {
    expect(rackAlternatedOrder(input)).toEqual(expected);
  });
});

describe('assignReplicas', () => {
  it('gives the seed table for 6 brokers, 2 racks, 10 partitions, RF 3', () => {
    expect(assignReplicas(SEED, 10, 3)).toEqual([
      [0, 3, 1], // P0
      [3, 1, 4], // P1
      [1, 4, 2], // P2
      [4, 2, 5], // P3
      [2, 5, 0], // P4
      [5, 0, 3], // P5
      [0, 3, 1], // P6
      [3, 1, 4], // P7
      [1, 4, 2], // P8
      [4, 2, 5], // P9
    ]);
  });

  it.each([
    // Three racks, RF 3: every partition spans all three racks.
    [
      'three racks, RF 3',
      brokers({ r1: [0, 1], r2: [2, 3], r3: [4, 5] }),
      6,
      3,
      [
        [0, 2, 4],
        [2, 4, 1],
        [4, 1, 3],
        [1, 3, 5],
        [3, 5, 0],
        [5, 0, 2],
      ],
    ],
    // Three racks, RF 2: the two replicas never share a rack.
    [
      'three racks, RF 2',
      brokers({ r1: [0], r2: [1], r3: [2] }),
      3,
      2,
      [
        [0, 1],
        [1, 2],
        [2, 0],
      ],
    ],
    // 4 + 1: each partition gets the lone rack-2 broker before a second rack-1 one, then walks on
    // along the list (brokers skipped earlier come last, as if the walk went round again).
    [
      'uneven racks 4+1',
      brokers({ r1: [0, 1, 2, 3], r2: [4] }),
      5,
      3,
      [
        [0, 4, 1],
        [4, 1, 2],
        [1, 4, 2],
        [2, 4, 1],
        [3, 4, 1],
      ],
    ],
    [
      'RF = brokers',
      SEED,
      2,
      6,
      [
        [0, 3, 1, 4, 2, 5],
        [3, 1, 4, 2, 5, 0],
      ],
    ],
    [
      'one rack',
      brokers({ r: [0, 1, 2] }),
      4,
      2,
      [
        [0, 1],
        [1, 2],
        [2, 0],
        [0, 1],
      ],
    ],
    ['RF 1', SEED, 3, 1, [[0], [3], [1]]],
  ])('%s', (_name, input, partitions, rf, expected) => {
    expect(assignReplicas(input, partitions, rf)).toEqual(expected);
  });

  it('never repeats a broker in a partition and spreads racks whenever it can', () => {
    const cases = [brokers({ r1: [0, 1, 2, 3], r2: [4] }), brokers({ r1: [0, 1], r2: [2, 3], r3: [4, 5, 6, 7] }), SEED];
    for (const input of cases) {
      const rackOf = new Map(input.map((b) => [b.id, b.rack]));
      const racks = new Set(input.map((b) => b.rack)).size;
      for (let rf = 1; rf <= input.length; rf++) {
        for (const replicas of assignReplicas(input, 20, rf)) {
          expect(new Set(replicas).size).toBe(rf);
          expect(new Set(replicas.map((id) => rackOf.get(id))).size).toBe(Math.min(rf, racks));
        }
      }
    }
  });

  it('is deterministic', () => {
    const shuffled = [SEED[4]!, SEED[0]!, SEED[5]!, SEED[2]!, SEED[1]!, SEED[3]!];
    expect(assignReplicas(shuffled, 50, 3)).toEqual(assignReplicas(SEED, 50, 3));
  });

  it.each([0, 7, -1, 1.5])('refuses replication factor %s for 6 brokers', (rf) => {
    expect(() => assignReplicas(SEED, 1, rf)).toThrow(TributaryError);
    try {
      assignReplicas(SEED, 1, rf);
    } catch (err) {
      expect((err as TributaryError).code).toBe('INVALID_REPLICATION_FACTOR');
    }
  });
});

describe('assignTopicReplicas', () => {
  const SEED_TABLE = assignReplicas(SEED, 10, 3);

  it('places the seed topic `demo` exactly as the seed table, and grows it on the same pattern', () => {
    expect(SEED_TOPIC).toBe('demo');
    expect(assignTopicReplicas('demo', SEED, 10, 3)).toEqual(SEED_TABLE);
    expect(assignTopicReplicas('demo', SEED, 2, 3, 10)).toEqual(assignReplicas(SEED, 12, 3).slice(10));
  });

  it("gives other topics Kafka's rack-aware layout from a start index and shift hashed from the name", () => {
    const layout = topicLayout('orders', 6);
    expect(assignTopicReplicas('orders', SEED, 30, 3)).toEqual(assignReplicasKafka(SEED, 30, 3, layout));
    // The same name, the same placement; added partitions continue the pattern.
    expect(assignTopicReplicas('orders', SEED, 30, 3)).toEqual(assignTopicReplicas('orders', [...SEED].reverse(), 30, 3));
    expect(assignTopicReplicas('orders', SEED, 10, 3, 20)).toEqual(assignTopicReplicas('orders', SEED, 30, 3).slice(20));
  });

  it("matches Kafka's assignment for a fixed start index and shift (AdminUtils, rack-aware)", () => {
    // Kafka's test fixture style: start 0, shift 0 walks the list; the shift grows at every wrap.
    expect(assignReplicasKafka(SEED, 7, 3, { startIndex: 0, replicaShift: 0 })).toEqual([
      [0, 3, 1],
      [3, 1, 4],
      [1, 4, 2],
      [4, 2, 5],
      [2, 5, 0],
      [5, 0, 3],
      // p = 6: shift 1, 2 racks: the second replica is 1 + (1*2 + 0) mod 5 = 3 along (B4), then any rack.
      [0, 4, 2],
    ]);
    expect(assignReplicasKafka(SEED, 2, 3, { startIndex: 2, replicaShift: 0 })).toEqual([
      [1, 4, 2],
      [4, 2, 5],
    ]);
  });

  it('starts topics on different brokers: partition 0 of 60 topics is led by every broker', () => {
    const leaders = new Set(Array.from({ length: 60 }, (_, i) => assignTopicReplicas(`topic-${i}`, SEED, 1, 3)[0]![0]));
    expect([...leaders].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("spreads the successors of a broker's leaderships over every broker of the other rack", () => {
    // A big topic: the partitions B0 leads have their second replica (the broker elected when B0
    // dies) on B3, B4 and B5, not all on one. (Kafka's shift * racks mod (n - 1) walks the five
    // shifts; two of them land on a same-rack broker and skip on: 1/5, 2/5, 2/5.)
    const replicas = assignTopicReplicas('big', SEED, 6000, 3);
    const successors = new Map<number, number>();
    for (const r of replicas) if (r[0] === 0) successors.set(r[1]!, (successors.get(r[1]!) ?? 0) + 1);
    expect([...successors.keys()].sort()).toEqual([3, 4, 5]);
    for (const count of successors.values()) expect(count).toBeGreaterThanOrEqual(1000 / 5);
    // Leaders balanced.
    const led = new Map<number, number>();
    for (const r of replicas) led.set(r[0]!, (led.get(r[0]!) ?? 0) + 1);
    expect([...led.values()]).toEqual([1000, 1000, 1000, 1000, 1000, 1000]);
  });

  it('never repeats a broker in a partition and spreads racks whenever it can', () => {
    const cases = [brokers({ r1: [0, 1, 2, 3], r2: [4] }), brokers({ r1: [0, 1], r2: [2, 3], r3: [4, 5, 6, 7] }), SEED, brokers({ r: [0, 1, 2] })];
    for (const input of cases) {
      const rackOf = new Map(input.map((b) => [b.id, b.rack]));
      const racks = new Set(input.map((b) => b.rack)).size;
      for (let rf = 1; rf <= input.length; rf++) {
        for (const name of ['a', 'orders', '__consumer_offsets']) {
          for (const replicas of assignTopicReplicas(name, input, 40, rf)) {
            expect(new Set(replicas).size).toBe(rf);
            expect(new Set(replicas.map((id) => rackOf.get(id))).size).toBe(Math.min(rf, racks));
          }
        }
      }
    }
  });

  it('refuses a replication factor above the broker count for any topic', () => {
    expect(() => assignTopicReplicas('orders', SEED, 1, 7)).toThrow(TributaryError);
  });
});
