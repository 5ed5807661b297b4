import { describe, expect, it } from 'vitest';
import { SessionClock } from './session-clock.ts';

describe('SessionClock', () => {
  it.each([
    // [check times, interval, stalled total after each]
    ['checks on time never stall', [0, 250, 500, 750], 250, [0, 0, 0, 0]],
    ['early checks never stall', [0, 100, 200], 250, [0, 0, 0]],
    ['a check 5 s late: the loop was blocked 5 s', [0, 250, 5500, 5750], 250, [0, 0, 5000, 5000]],
    ['lateness adds up over several checks', [0, 300, 600, 900], 250, [0, 50, 100, 150]],
    ['the clock going backwards counts as no stall', [1000, 500, 750], 250, [0, 0, 0]],
    ['the first check has nothing to compare with', [99_999], 250, [0]],
  ])('%s', (_name, times, interval, expected) => {
    const clock = new SessionClock(interval);
    expect(times.map((t) => clock.check(t))).toEqual(expected);
    expect(clock.stalledMs).toBe(expected.at(-1));
  });

  it('reports the lateness of the latest check on its own', () => {
    const clock = new SessionClock(250);
    clock.check(0);
    clock.check(1250);
    expect(clock.lastStallMs).toBe(1000);
    clock.check(1500);
    expect(clock.lastStallMs).toBe(0);
  });

  it('refuses a non-positive interval', () => {
    expect(() => new SessionClock(0)).toThrow(/checkIntervalMs/);
  });
});
