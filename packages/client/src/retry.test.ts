import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '@tributary/protocol';
import { produceErrorAction, retryBackoffMs } from './retry.ts';

describe('retry policy', () => {
  it('backs off 100 ms doubling up to 1 s', () => {
    expect([1, 2, 3, 4, 5, 6, 20].map((n) => retryBackoffMs(n))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(retryBackoffMs(0)).toBe(0);
  });

  const cases: [ErrorCode, number, 'retry' | 'fail' | 'duplicate'][] = [
    ['NOT_LEADER_OR_FOLLOWER', 0, 'retry'],
    ['FENCED_LEADER_EPOCH', 0, 'retry'],
    ['UNKNOWN_LEADER_EPOCH', 0, 'retry'],
    ['UNKNOWN_TOPIC_OR_PARTITION', 0, 'retry'],
    ['NOT_ENOUGH_REPLICAS', 0, 'retry'],
    ['NOT_ENOUGH_REPLICAS_AFTER_APPEND', 0, 'retry'],
    ['REQUEST_TIMED_OUT', 0, 'retry'],
    ['BROKER_NOT_AVAILABLE', 0, 'retry'],
    ['NOT_LEADER_OR_FOLLOWER', 119_950, 'fail'], // the next backoff would pass the deadline
    ['REQUEST_TIMED_OUT', 120_000, 'fail'],
    ['OUT_OF_ORDER_SEQUENCE_NUMBER', 0, 'fail'],
    ['MESSAGE_TOO_LARGE', 0, 'fail'],
    ['CORRUPT_MESSAGE', 0, 'fail'],
    ['INVALID_REQUEST', 0, 'fail'],
    ['DUPLICATE_SEQUENCE_NUMBER', 0, 'duplicate'],
  ];
  it.each(cases)('%s after %d ms -> %s', (code, elapsedMs, action) => {
    expect(produceErrorAction(code, elapsedMs, 120_000, 100)).toBe(action);
  });
});
