// The one error table (STYLE.md § Errors). The wire carries `{ code, message }`; clients decide
// from `retriable` whether to refresh metadata and try again. Codes follow Kafka's names so that
// knowledge carries over; a test fails if a code here lacks a description.

export interface ErrorSpec {
  readonly retriable: boolean;
  /** HTTP status used when the error answers a whole request (per-partition errors ride in 200s). */
  readonly httpStatus: number;
  /** What the code means, for docs and for messages that lack detail. */
  readonly description: string;
  /** Whether the client should refresh its metadata before retrying. */
  readonly refreshMetadata?: boolean;
}

export const ERRORS = {
  NOT_LEADER_OR_FOLLOWER: {
    retriable: true,
    httpStatus: 421,
    refreshMetadata: true,
    description: 'this broker is not the leader (or a follower, for rack-aware fetches) of the partition',
  },
  FENCED_LEADER_EPOCH: {
    retriable: true,
    httpStatus: 409,
    refreshMetadata: true,
    description: 'the request carried a leader epoch older than the current one',
  },
  UNKNOWN_LEADER_EPOCH: {
    retriable: true,
    httpStatus: 409,
    refreshMetadata: true,
    description: 'the request carried a leader epoch newer than this broker knows',
  },
  UNKNOWN_TOPIC_OR_PARTITION: {
    retriable: true,
    httpStatus: 404,
    refreshMetadata: true,
    description: 'the topic or partition does not exist (or this broker has not learned of it yet)',
  },
  NOT_ENOUGH_REPLICAS: {
    retriable: true,
    httpStatus: 503,
    description: 'the in-sync replica set is smaller than min.insync.replicas; nothing was appended',
  },
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: {
    retriable: true,
    httpStatus: 503,
    description: 'the record was appended but the in-sync replica set shrank below min.insync.replicas before it was committed',
  },
  REQUEST_TIMED_OUT: {
    retriable: true,
    httpStatus: 504,
    description: 'the request did not complete within its timeout',
  },
  OFFSET_OUT_OF_RANGE: {
    retriable: false,
    httpStatus: 416,
    description: 'the requested offset is before the log start offset or past the log end offset',
  },
  CORRUPT_MESSAGE: {
    retriable: false,
    httpStatus: 400,
    description: 'a record batch failed validation (length, magic, CRC or record count)',
  },
  INVALID_RECORD: {
    retriable: false,
    httpStatus: 400,
    description:
      "a record breaks a rule of its topic: e.g. a record without a key sent to a compacted topic (cleanup.policy=compact), Kafka's InvalidRecordException",
  },
  MESSAGE_TOO_LARGE: {
    retriable: false,
    httpStatus: 413,
    description: 'a record batch is larger than max.message.bytes',
  },
  INVALID_REQUEST: {
    retriable: false,
    httpStatus: 400,
    description: 'the request is malformed: wrong fields, types or values',
  },
  OUT_OF_ORDER_SEQUENCE_NUMBER: {
    retriable: false,
    httpStatus: 409,
    description: 'an idempotent producer skipped a sequence number',
  },
  DUPLICATE_SEQUENCE_NUMBER: {
    retriable: false,
    httpStatus: 409,
    description: 'an idempotent producer re-sent a batch older than the ones the leader remembers',
  },
  TOPIC_ALREADY_EXISTS: {
    retriable: false,
    httpStatus: 409,
    description: 'a topic with this name already exists',
  },
  INVALID_TOPIC: {
    retriable: false,
    httpStatus: 400,
    description: "the topic name breaks Kafka's rules: 1-249 characters of [a-zA-Z0-9._-], not '.' or '..'",
  },
  INVALID_REPLICATION_FACTOR: {
    retriable: false,
    httpStatus: 400,
    description: 'the replication factor is below 1 or above the number of live brokers',
  },
  INVALID_PARTITIONS: {
    retriable: false,
    httpStatus: 400,
    description: 'the partition count is not a positive integer within limits, or not above the current count (partitions can be added, never removed)',
  },
  INVALID_CONFIG: {
    retriable: false,
    httpStatus: 400,
    description: 'a config name is unknown or its value is out of range',
  },
  INVALID_REPLICA_ASSIGNMENT: {
    retriable: false,
    httpStatus: 400,
    description:
      'a replica assignment is invalid: empty, a broker named twice or not registered, or it cannot be applied as asked (e.g. a cancel that would leave no original replica in sync)',
  },
  REASSIGNMENT_IN_PROGRESS: {
    retriable: false,
    httpStatus: 409,
    description: 'the partition is already being reassigned (KIP-455); wait for it to finish or cancel it first',
  },
  NO_REASSIGNMENT_IN_PROGRESS: {
    retriable: false,
    httpStatus: 409,
    description: 'no reassignment of the partition is in progress, so there is nothing to cancel',
  },
  KAFKA_STORAGE_ERROR: {
    retriable: true,
    httpStatus: 500,
    description: 'the broker could not read or write its log (disk failure)',
  },
  STALE_BROKER_EPOCH: {
    retriable: false,
    httpStatus: 409,
    description: 'the broker epoch in the request is not the current one for that broker',
  },
  INELIGIBLE_REPLICA: {
    retriable: false,
    httpStatus: 409,
    description:
      'a broker proposed for the ISR is fenced, shutting down, or registered again since it fetched (KIP-841, KIP-903): it must catch up under its current broker epoch',
  },
  INCONSISTENT_CLUSTER_ID: {
    retriable: false,
    httpStatus: 409,
    description: "the broker's data dir belongs to another cluster than the controller's (its meta.properties holds another cluster id)",
  },
  BROKER_NOT_AVAILABLE: {
    retriable: true,
    httpStatus: 503,
    refreshMetadata: true,
    description: 'no broker or controller could be reached',
  },
  UNAUTHORIZED: {
    retriable: false,
    httpStatus: 403,
    description: 'the caller is not allowed to do this',
  },
  UNKNOWN_SERVER_ERROR: {
    retriable: false,
    httpStatus: 500,
    description: 'an unexpected error on the server; see its log',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

/** What travels on the wire for a failed request or partition. */
export interface WireError {
  code: ErrorCode;
  message: string;
}

/**
 * An operating error (STYLE.md): a typed value with a code, handled by callers. Programmer
 * errors are assertions instead, and crash the process.
 */
export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].description, options);
    this.name = 'TributaryError';
    this.code = code;
    this.retriable = ERRORS[code].retriable;
  }

  toWire(): WireError {
    return { code: this.code, message: this.message };
  }

  static fromWire(wire: WireError): TributaryError {
    return new TributaryError(isErrorCode(wire.code) ? wire.code : 'UNKNOWN_SERVER_ERROR', wire.message);
  }
}

export function isRetriable(code: ErrorCode): boolean {
  return ERRORS[code].retriable;
}

/** True when the client's view of leaders is probably stale and metadata should be refreshed. */
export function isStaleMetadata(code: ErrorCode): boolean {
  return (ERRORS[code] as ErrorSpec).refreshMetadata === true;
}

/** Programmer errors: a broken invariant stops the process loudly (STYLE.md § Errors). */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new AssertionError(message);
  }
}

export class AssertionError extends Error {
  constructor(message: string) {
    super(`invariant broken: ${message}`);
    this.name = 'AssertionError';
  }
}
