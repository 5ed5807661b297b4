import { describe, expect, it } from 'vitest';
import { checkGroup } from './group-workload.ts';

const acked = [
  { partition: 0, offset: 0, value: 'a' },
  { partition: 0, offset: 1, value: 'b' },
  { partition: 1, offset: 0, value: 'c' },
];

describe('checkGroup', () => {
  it('passes when every acknowledged record was delivered (repeats allowed), offsets only grew and the lag is 0', () => {
    const r = checkGroup({
      acked,
      delivered: [...acked, acked[1]!, { partition: 1, offset: 1, value: 'not acknowledged (indeterminate)' }],
      observations: [
        { atMs: 1, partition: 0, offset: 1 },
        { atMs: 2, partition: 0, offset: 1 },
        { atMs: 3, partition: 0, offset: 2 },
      ],
      final: [
        { partition: 0, committed: 2, end: 2 },
        { partition: 1, committed: 2, end: 2 },
      ],
    });
    expect(r).toMatchObject({ valid: true, violations: 0, delivered: 5, distinctDelivered: 4, redelivered: 1, acknowledged: 3, observations: 3 });
  });

  it('reports an acknowledged record never delivered or delivered as another value, a committed offset that went back, and lag after the heal', () => {
    const r = checkGroup({
      acked,
      delivered: [acked[0]!, { partition: 1, offset: 0, value: 'other' }],
      observations: [
        { atMs: 10, partition: 0, offset: 5 },
        { atMs: 30, partition: 0, offset: 3 },
        { atMs: 40, partition: 0, offset: 4 },
      ],
      final: [
        { partition: 0, committed: 1, end: 2 },
        { partition: 1, committed: null, end: 1 },
      ],
    });
    expect(r.valid).toBe(false);
    expect(r.counts).toEqual({ undelivered: 2, 'committed-offset-decreased': 2, 'lag-not-zero': 2 });
    expect(r.examples.map((a) => a.detail)).toEqual([
      'acknowledged "b" at offset 1 was never delivered to the group',
      'offset 0 was delivered as "other", acknowledged as "c"',
      'committed offset went from 5 to 3 (20 ms apart)',
      'committed offset went from 5 to 4 (30 ms apart)',
      'committed 1 after the heal, the end is 2',
      'committed nothing after the heal, the end is 1',
    ]);
  });
});
