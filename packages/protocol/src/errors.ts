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
  /**
   * Whether a group client should find the group's coordinator again (FindCoordinator) before
   * retrying: the coordinator moved, or its `__consumer_offsets` partition has no leader.
   */
  readonly findCoordinator?: boolean;
  /** Kafka's numeric error code, where the code is one of Kafka's (the security codes carry it). */
  readonly kafkaCode?: number;
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
  UNSUPPORTED_COMPRESSION_TYPE: {
    retriable: false,
    httpStatus: 400,
    description: "the batch's compression codec is not accepted here (Kafka's UNSUPPORTED_COMPRESSION_TYPE; every codec Kafka's clients use is read)",
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
    description: "the topic name breaks Kafka's rules (1-249 characters of [a-zA-Z0-9._-], not '.' or '..'), or a client wrote to an internal topic",
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
  FETCH_SESSION_ID_NOT_FOUND: {
    retriable: true,
    httpStatus: 409,
    description: "the fetch session is not in the leader's cache (evicted, or the leader restarted): send a full fetch to open a new one",
  },
  INVALID_FETCH_SESSION_EPOCH: {
    retriable: true,
    httpStatus: 409,
    description: 'the fetch session epoch is not the one the leader expects next: send a full fetch to open a new session',
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
    description:
      "the caller is not allowed to do this: a cluster-internal route (registration, heartbeats, metadata, AlterPartition, replica fetches) called without a certificate signed by the cluster's CA",
  },
  TOPIC_AUTHORIZATION_FAILED: {
    retriable: false,
    httpStatus: 403,
    kafkaCode: 29,
    description: 'the principal is not authorized for this operation on the topic (no ACL allows it, or one denies it)',
  },
  GROUP_AUTHORIZATION_FAILED: {
    retriable: false,
    httpStatus: 403,
    kafkaCode: 30,
    description: 'the principal is not authorized for this operation on the consumer group (no ACL allows it, or one denies it)',
  },
  CLUSTER_AUTHORIZATION_FAILED: {
    retriable: false,
    httpStatus: 403,
    kafkaCode: 31,
    description: 'the principal is not authorized for this operation on the cluster (no ACL allows it, or one denies it)',
  },
  SASL_AUTHENTICATION_FAILED: {
    retriable: false,
    httpStatus: 401,
    kafkaCode: 58,
    description:
      'authentication failed or is missing: unknown user, wrong password, an expired or revoked session, or no credentials on a listener that requires them',
  },
  UNSUPPORTED_SASL_MECHANISM: {
    retriable: false,
    httpStatus: 400,
    kafkaCode: 33,
    description: 'the SASL mechanism asked for is not one this listener offers (SCRAM-SHA-256, SCRAM-SHA-512)',
  },
  RESOURCE_NOT_FOUND: {
    retriable: false,
    httpStatus: 404,
    kafkaCode: 91,
    description: 'the user or credential named does not exist',
  },
  NOT_COORDINATOR: {
    retriable: true,
    httpStatus: 421,
    findCoordinator: true,
    description:
      "this broker is not the coordinator of the group: it does not lead the group's __consumer_offsets partition (any more); find the coordinator again",
  },
  COORDINATOR_LOAD_IN_PROGRESS: {
    retriable: true,
    httpStatus: 503,
    description: "the coordinator is still loading the group's state from its __consumer_offsets partition; retry the same coordinator shortly",
  },
  COORDINATOR_NOT_AVAILABLE: {
    retriable: true,
    httpStatus: 503,
    findCoordinator: true,
    description:
      "no coordinator can serve the group now: __consumer_offsets is being created, its partition has no leader, or the group's records could not be committed (too few in-sync replicas); find the coordinator again",
  },
  INVALID_GROUP_ID: {
    retriable: false,
    httpStatus: 400,
    description: 'the group id is empty or longer than 255 characters',
  },
  ILLEGAL_GENERATION: {
    retriable: false,
    httpStatus: 409,
    description: "the generation id is not the group's current one (a rebalance completed without this member): rejoin the group",
  },
  UNKNOWN_MEMBER_ID: {
    retriable: false,
    httpStatus: 409,
    description: 'the member id is not a member of the group (its session expired, it left, or it never joined): join again with an empty member id',
  },
  REBALANCE_IN_PROGRESS: {
    retriable: false,
    httpStatus: 409,
    description: 'the group is rebalancing: the member must join again (JoinGroup) to take part in the new generation',
  },
  MEMBER_ID_REQUIRED: {
    retriable: false,
    httpStatus: 409,
    description: 'a first join without a member id is answered with the member id the coordinator assigned (KIP-394, in `memberId`): join again with it',
  },
  INCONSISTENT_GROUP_PROTOCOL: {
    retriable: false,
    httpStatus: 409,
    description: "the member's protocol type differs from the group's, or it names no protocol every other member supports",
  },
  INVALID_SESSION_TIMEOUT: {
    retriable: false,
    httpStatus: 400,
    description: "the session timeout is outside the broker's group.min.session.timeout.ms .. group.max.session.timeout.ms",
  },
  GROUP_ID_NOT_FOUND: {
    retriable: false,
    httpStatus: 404,
    description: 'the group does not exist on its coordinator',
  },
  NON_EMPTY_GROUP: {
    retriable: false,
    httpStatus: 409,
    description: 'the group still has members: it cannot be deleted, nor its offsets reset, until they have left or expired',
  },
  GROUP_MAX_SIZE_REACHED: {
    retriable: false,
    httpStatus: 409,
    description: 'the group already has group.max.size members',
  },
  FENCED_INSTANCE_ID: {
    retriable: false,
    httpStatus: 409,
    description: 'another member joined with the same group instance id (KIP-345 static membership) and replaced this one',
  },
  OFFSET_METADATA_TOO_LARGE: {
    retriable: false,
    httpStatus: 413,
    description: "an offset commit's metadata string is longer than offset.metadata.max.bytes",
  },
  INVALID_COMMIT_OFFSET_SIZE: {
    retriable: false,
    httpStatus: 413,
    description: "an offset commit's records are larger than max.message.bytes of __consumer_offsets",
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
  /** MEMBER_ID_REQUIRED only: the member id the coordinator assigned, to join again with (KIP-394). */
  memberId?: string;
}

/**
 * An operating error (STYLE.md): a typed value with a code, handled by callers. Programmer
 * errors are assertions instead, and crash the process.
 */
export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  /** MEMBER_ID_REQUIRED: the member id to join again with (KIP-394). */
  readonly memberId: string | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; memberId?: string }) {
    super(message ?? ERRORS[code].description, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TributaryError';
    this.code = code;
    this.retriable = ERRORS[code].retriable;
    this.memberId = options?.memberId;
  }

  toWire(): WireError {
    return this.memberId === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, memberId: this.memberId };
  }

  static fromWire(wire: WireError): TributaryError {
    const code = isErrorCode(wire.code) ? wire.code : 'UNKNOWN_SERVER_ERROR';
    return new TributaryError(code, wire.message, typeof wire.memberId === 'string' ? { memberId: wire.memberId } : undefined);
  }
}

export function isRetriable(code: ErrorCode): boolean {
  return ERRORS[code].retriable;
}

/** True when the client's view of leaders is probably stale and metadata should be refreshed. */
export function isStaleMetadata(code: ErrorCode): boolean {
  return (ERRORS[code] as ErrorSpec).refreshMetadata === true;
}

/**
 * True when a group client should find the group's coordinator again before retrying
 * (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE), as Kafka's consumer marks its coordinator unknown.
 * COORDINATOR_LOAD_IN_PROGRESS is retriable against the same coordinator.
 */
export function shouldFindCoordinator(code: ErrorCode): boolean {
  return (ERRORS[code] as ErrorSpec).findCoordinator === true;
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
