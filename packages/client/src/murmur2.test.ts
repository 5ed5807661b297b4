import { describe, expect, it } from 'vitest';
import { murmur2, toPositive } from './murmur2.ts';
import { partitionForKey } from './partitioner.ts';

// Apache Kafka's UtilsTest.testMurmur2 vectors (signed Java ints), plus the empty array.
const VECTORS: [string, number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
  ['', 275646681],
];

describe('murmur2', () => {
  it.each(VECTORS)('murmur2(%j) = %d, as Kafka computes it', (input, expected) => {
    expect(murmur2(Buffer.from(input, 'utf8'))).toBe(expected);
  });

  it('covers every tail length (0-3 trailing bytes) with the same value as a byte array', () => {
    expect(murmur2(new Uint8Array([0x61, 0x62, 0x63]))).toBe(479470107);
  });

  it('toPositive clears the sign bit like Kafka (not Math.abs)', () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(5)).toBe(5);
  });

  it("maps keys to partitions like Kafka's default partitioner", () => {
    // toPositive(-790332482) = 1357151166; 1357151166 % 50 = 16.
    expect(partitionForKey(Buffer.from('foobar'), 50)).toBe(16);
    for (const [input] of VECTORS) {
      const p = partitionForKey(Buffer.from(input), 10);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(10);
      expect(partitionForKey(Buffer.from(input), 10)).toBe(p);
    }
  });
});
