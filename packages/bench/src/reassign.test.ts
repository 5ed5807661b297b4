import { describe, expect, it } from 'vitest';
import { rateBetween } from './reassign.ts';

describe('rateBetween', () => {
  // Acknowledgements counted per 100 ms bucket since the producer started.
  const buckets = [10, 10, 10, 10, 20, 20, 20, 20, 0, 0];
  it.each([
    [0, 400, 100],
    [400, 800, 200],
    [0, 800, 150],
    [800, 1000, 0],
    [450, 450, 0],
    [0, 2000, 60],
  ])('from %i to %i ms: %i/s', (from, to, perSec) => {
    expect(rateBetween(buckets, from, to)).toBe(perSec);
  });
});
