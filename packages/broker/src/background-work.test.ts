import { describe, expect, it } from 'vitest';
import { BackgroundWork } from './background-work.ts';

describe('BackgroundWork', () => {
  it('runs slices in turn within a turn budget; an unfinished slice goes to the back; a throwing one is dropped and reported', () => {
    let clock = 0;
    const errors: unknown[] = [];
    const work = new BackgroundWork({ turnBudgetMs: 10, now: () => clock, onError: (e) => errors.push(e) });
    const ran: string[] = [];
    let aLeft = 3;
    work.add(() => {
      ran.push('a');
      clock += 4;
      return --aLeft > 0;
    });
    work.add(() => {
      ran.push('b');
      clock += 4;
      return false;
    });
    work.add(() => {
      ran.push('c');
      throw new Error('boom');
    });
    // 4 + 4 ms: a, b; c at 8 ms (< 10) throws; a again at 8 ms -> 12 ms: the turn ends.
    work.runTurn();
    expect(ran).toEqual(['a', 'b', 'c', 'a']);
    expect(errors).toHaveLength(1);
    expect(work.pending).toBe(1);
    work.runTurn();
    expect(ran).toEqual(['a', 'b', 'c', 'a', 'a']);
    expect(work.pending).toBe(0);
  });

  it('runs by itself on later event-loop turns, and not after close', async () => {
    const work = new BackgroundWork();
    let n = 0;
    work.add(() => ++n < 5);
    await new Promise((r) => setTimeout(r, 20));
    expect(n).toBe(5);
    work.close();
    work.add(() => {
      n++;
      return false;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(n).toBe(5);
  });
});
