import { describe, expect, it } from 'vitest';
import { QUOTA_DEBT_WINDOW_SECONDS, ReplicationQuota, TokenBucket, throttleDecision, throttledReplicaSet } from './throttle.ts';

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

  it('owes at most QUOTA_DEBT_WINDOW_SECONDS of its rate, as Kafka forgets bursts older than its quota window', () => {
    const t = new TokenBucket(1024, 0);
    t.consume(400_000, 0);
    expect(t.waitMs(1, 0)).toBe(QUOTA_DEBT_WINDOW_SECONDS * 1000 + 1);
    // A lower rate keeps the debt within the new rate's window too.
    t.setRate(100, 0);
    expect(t.waitMs(1, 0)).toBe(QUOTA_DEBT_WINDOW_SECONDS * 1000 + 10);
  });

  it('changes rate', () => {
    const t = new TokenBucket(100, 0);
    t.setRate(10, 0);
    expect(t.available(0)).toBe(10);
  });
});

describe('which replicas a replication quota holds back (KIP-73)', () => {
  const base = { rateSet: true, listsInUse: true, listed: true, inSync: false, exhausted: false };
  it.each([
    // [case, overrides, decision]
    ['no rate set: never throttled', { rateSet: false, exhausted: true }, 'free'],
    ['lists in use, this replica not listed: never throttled', { listed: false, exhausted: true }, 'free'],
    ['listed, out of the ISR, bucket empty: held back', { exhausted: true }, 'held'],
    ['listed, out of the ISR, bucket has tokens: limited to them', {}, 'limited'],
    ['listed, in the ISR: never held back, bytes counted (Kafka)', { inSync: true, exhausted: true }, 'counted'],
    ['no lists anywhere: the rate covers every replica, in the ISR too', { listsInUse: false, listed: false, inSync: true, exhausted: true }, 'held'],
    ['no lists anywhere, tokens left: limited', { listsInUse: false, listed: false, inSync: true }, 'limited'],
  ] as const)('%s', (_name, overrides, decision) => {
    expect(throttleDecision({ ...base, ...overrides })).toBe(decision);
  });

  it.each([
    ['', [[0, 1, false]], false],
    [
      '*',
      [
        [0, 1, true],
        [7, 9, true],
      ],
      true,
    ],
    [
      '0:6,1:6',
      [
        [0, 6, true],
        [1, 6, true],
        [0, 5, false],
        [2, 6, false],
      ],
      true,
    ],
    [
      '3:1',
      [
        [3, 1, true],
        [1, 3, false],
      ],
      true,
    ],
  ] as const)('the list %j', (value, lookups, any) => {
    const set = throttledReplicaSet(value);
    expect(set.any).toBe(any);
    for (const [partition, broker, expected] of lookups) expect(set.has(partition, broker)).toBe(expected);
  });
});

describe('replication quota', () => {
  it('follows the configured rate: unset is unlimited, a change keeps what is owed', () => {
    const q = new ReplicationQuota();
    q.update(undefined, 0);
    expect([q.rateSet, q.exhausted(0), q.waitMs(0)]).toEqual([false, false, 0]);
    q.update(100, 0);
    expect(q.available(0)).toBe(100);
    q.record(250, 0);
    expect(q.exhausted(0)).toBe(true);
    expect(q.waitMs(0)).toBe(1510);
    q.update(1000, 0);
    expect(q.exhausted(0)).toBe(true);
    expect(q.available(1000)).toBe(850);
    q.update(-1, 1000);
    expect(q.rateSet).toBe(false);
  });
});
