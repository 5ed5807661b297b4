import { describe, expect, it } from 'vitest';
import { TributaryError } from '@tributary/protocol';
import { assignReplicas, rackAlternatedOrder, type PlacementBroker } from './placement.ts';

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
