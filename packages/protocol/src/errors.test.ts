import { describe, expect, it } from 'vitest';
import { ERRORS, TributaryError, isErrorCode, isRetriable } from './errors.ts';

// DESIGN.md § Wire lists the codes every part of Tributary speaks.
const DESIGN_CODES = [
  'NOT_LEADER_OR_FOLLOWER',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'REQUEST_TIMED_OUT',
  'OFFSET_OUT_OF_RANGE',
  'CORRUPT_MESSAGE',
  'MESSAGE_TOO_LARGE',
  'INVALID_REQUEST',
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'DUPLICATE_SEQUENCE_NUMBER',
  'TOPIC_ALREADY_EXISTS',
  'INVALID_REPLICATION_FACTOR',
  'INVALID_PARTITIONS',
  'KAFKA_STORAGE_ERROR',
  'STALE_BROKER_EPOCH',
  'UNAUTHORIZED',
];

describe('error table', () => {
  it('has every code of DESIGN.md, each documented with an HTTP status', () => {
    for (const code of DESIGN_CODES) {
      expect(isErrorCode(code), code).toBe(true);
    }
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(spec.description.length, code).toBeGreaterThan(10);
      expect(spec.httpStatus, code).toBeGreaterThanOrEqual(400);
    }
  });

  it('marks the retriable codes as the client expects', () => {
    expect(isRetriable('NOT_LEADER_OR_FOLLOWER')).toBe(true);
    expect(isRetriable('NOT_ENOUGH_REPLICAS')).toBe(true);
    expect(isRetriable('REQUEST_TIMED_OUT')).toBe(true);
    expect(isRetriable('CORRUPT_MESSAGE')).toBe(false);
    expect(isRetriable('TOPIC_ALREADY_EXISTS')).toBe(false);
  });

  it('round-trips through the wire form, mapping unknown codes to UNKNOWN_SERVER_ERROR', () => {
    const err = new TributaryError('NOT_ENOUGH_REPLICAS', 'isr 1 < 2');
    expect(TributaryError.fromWire(err.toWire())).toMatchObject({ code: 'NOT_ENOUGH_REPLICAS', message: 'isr 1 < 2', retriable: true });
    expect(TributaryError.fromWire({ code: 'BOGUS' as never, message: 'x' }).code).toBe('UNKNOWN_SERVER_ERROR');
  });
});
