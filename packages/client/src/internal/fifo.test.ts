import { describe, expect, it } from 'vitest';
import { Fifo } from './fifo.ts';

describe('Fifo', () => {
  it('gives items back in the order pushed, across compactions, and undefined when empty', () => {
    const q = new Fifo<number>();
    expect(q.shift()).toBeUndefined();
    let next = 0;
    let expected = 0;
    // Interleave pushes and shifts so the consumed prefix is compacted many times.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 3000; i++) q.push(next++);
      for (let i = 0; i < 2500; i++) expect(q.shift()).toBe(expected++);
      expect(q.length).toBe(next - expected);
    }
    expect([...q]).toEqual(Array.from({ length: next - expected }, (_, i) => expected + i));
    while (q.length > 0) expect(q.shift()).toBe(expected++);
    expect(expected).toBe(next);
    expect(q.shift()).toBeUndefined();
  });
});
