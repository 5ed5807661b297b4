import { describe, expect, it } from 'vitest';
import { TokenBucket } from './throttle.ts';

describe('token bucket', () => {
  it('grants a burst of one second, then refills at the rate', () => {
    const t = new TokenBucket(1000, 0);
    expect(t.available(0)).toBe(1000);
    t.consume(1000, 0);
    expect(t.available(0)).toBe(0);
    expect(t.waitMs(500, 0)).toBe(500);
    expect(t.available(250)).toBe(250);
    expect(t.available(5000)).toBe(1000);
  });

  it('goes into debt when a batch exceeded the grant, and waits it off', () => {
    const t = new TokenBucket(100, 0);
    t.consume(300, 0);
    expect(t.available(0)).toBe(0);
    expect(t.waitMs(1, 0)).toBe(2010);
  });

  it('changes rate', () => {
    const t = new TokenBucket(100, 0);
    t.setRate(10, 0);
    expect(t.available(0)).toBe(10);
  });
});
