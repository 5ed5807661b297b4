import { describe, expect, it } from 'vitest';
import { ERRORS, TributaryError, isErrorCode, isRetriable, isStaleMetadata, shouldFindCoordinator } from './errors.ts';

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

  it.each([
    // code, retriable, find the coordinator again (Kafka's consumer: markCoordinatorUnknown)
    ['NOT_COORDINATOR', true, true],
    ['COORDINATOR_NOT_AVAILABLE', true, true],
    ['COORDINATOR_LOAD_IN_PROGRESS', true, false],
    ['ILLEGAL_GENERATION', false, false],
    ['UNKNOWN_MEMBER_ID', false, false],
    ['REBALANCE_IN_PROGRESS', false, false],
    ['MEMBER_ID_REQUIRED', false, false],
    ['INCONSISTENT_GROUP_PROTOCOL', false, false],
    ['INVALID_SESSION_TIMEOUT', false, false],
    ['INVALID_GROUP_ID', false, false],
    ['GROUP_ID_NOT_FOUND', false, false],
    ['NON_EMPTY_GROUP', false, false],
    ['GROUP_MAX_SIZE_REACHED', false, false],
    ['FENCED_INSTANCE_ID', false, false],
    ['OFFSET_METADATA_TOO_LARGE', false, false],
    ['INVALID_COMMIT_OFFSET_SIZE', false, false],
  ] as const)('marks the group code %s retriable=%s, find-coordinator=%s', (code, retriable, find) => {
    expect(isRetriable(code)).toBe(retriable);
    expect(shouldFindCoordinator(code)).toBe(find);
    // Group calls find their coordinator again; the partition metadata is not what is stale.
    expect(isStaleMetadata(code)).toBe(false);
  });

  it('carries the member id of MEMBER_ID_REQUIRED through the wire form (KIP-394)', () => {
    const err = new TributaryError('MEMBER_ID_REQUIRED', 'join again', { memberId: 'c-1' });
    expect(err.toWire()).toEqual({ code: 'MEMBER_ID_REQUIRED', message: 'join again', memberId: 'c-1' });
    expect(TributaryError.fromWire(err.toWire()).memberId).toBe('c-1');
    expect(new TributaryError('UNKNOWN_MEMBER_ID').toWire()).not.toHaveProperty('memberId');
  });

  it('round-trips through the wire form, mapping unknown codes to UNKNOWN_SERVER_ERROR', () => {
    const err = new TributaryError('NOT_ENOUGH_REPLICAS', 'isr 1 < 2');
    expect(TributaryError.fromWire(err.toWire())).toMatchObject({ code: 'NOT_ENOUGH_REPLICAS', message: 'isr 1 < 2', retriable: true });
    expect(TributaryError.fromWire({ code: 'BOGUS' as never, message: 'x' }).code).toBe('UNKNOWN_SERVER_ERROR');
  });
});
