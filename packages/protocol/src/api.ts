// Request and response bodies of every HTTP endpoint (msgpack over HTTP/1.1, DESIGN.md § Wire).
// Broker and controller never import each other: this file is their contract, and the client's.
//
// Controller (default 127.0.0.1:19090)      Broker (default 127.0.0.1:19092 + id)
//   POST /broker/register                     POST /metadata          (clients)
//   POST /broker/heartbeat                    POST /produce
//   POST /broker/controlled-shutdown          POST /fetch             (consumers)
//   POST /metadata/poll     (brokers)         POST /list-offsets
//   POST /partition/alter   (AlterPartition)  POST /replica/fetch     (followers)
//   POST /admin/<op>        (AdminOp)         POST /admin/<op>        (forwarded to the controller)
//                                             POST /replica-digests   (diagnostics: chaos's replica check)
//                                             POST /find-coordinator, /group/*, /offsets/*, /groups/*
//                                                                     (consumer groups, issue 18)
//   GET  /health, /metrics                    GET  /health, /metrics
//
// Errors: a whole-request failure answers with the error's HTTP status and a `WireError` body;
// per-partition failures answer 200 with `error` set on the partition.

import type { TopicConfigInput, TopicConfigs } from './config.ts';
import type { WireError } from './errors.ts';

export type BrokerId = number;
/** Leader epoch -1: no leader has been elected yet. */
export const NO_LEADER = -1;

export interface Endpoint {
  host: string;
  port: number;
}

/** A broker's advertised Kafka-protocol addresses, one per listener (the same twice when it has one). */
export interface KafkaListeners {
  internal: Endpoint;
  external: Endpoint;
}

// ---------------------------------------------------------------------------------------------
// Cluster metadata, as the controller publishes it (versioned; brokers long-poll for newer).

export interface BrokerRegistration {
  id: BrokerId;
  rack: string;
  /** Bumped on every registration with a new incarnation id. */
  epoch: number;
  incarnationId: string;
  /** Broker-to-broker and in-network clients (e.g. broker-3:9092 in compose). */
  internal: Endpoint;
  /** Clients on the host (e.g. 127.0.0.1:19095). */
  external: Endpoint;
  /**
   * Its Kafka-protocol listeners (issue 19), as advertised: `internal` for clients in its network
   * (containers), `external` for clients on the host. Absent: it serves no Kafka listener.
   */
  kafka?: KafkaListeners;
  /** Its data dir's id as of its last registration ('' when not known). */
  logDirId: string;
  /** False once fenced: heartbeats stopped for broker.session.timeout.ms, or shut down. */
  alive: boolean;
  /** Broker-level dynamic configs set through the Admin API (leader/follower.replication.throttled.rate). */
  configs: Record<string, number>;
}

export interface PartitionState {
  topic: string;
  partition: number;
  /**
   * Assigned replicas, preferred leader first. During a reassignment (KIP-455) the target list
   * followed by the original replicas not in it: `addingReplicas` and `removingReplicas` say
   * which is which.
   */
  replicas: BrokerId[];
  /** Replicas a reassignment is adding (target − original); empty when none is in progress. */
  addingReplicas: BrokerId[];
  /** Replicas a reassignment will remove once it completes (original − target); empty when none. */
  removingReplicas: BrokerId[];
  /** -1 when offline. */
  leader: BrokerId;
  leaderEpoch: number;
  /** Bumped on every change of leader or ISR; AlterPartition must carry the current one. */
  partitionEpoch: number;
  isr: BrokerId[];
}

export interface TopicState {
  name: string;
  /** Random id, so a re-created topic of the same name is told apart. */
  topicId: string;
  configs: TopicConfigs;
  partitions: PartitionState[];
}

export interface ClusterMetadata {
  clusterId: string;
  version: number;
  brokers: BrokerRegistration[];
  topics: TopicState[];
  /**
   * SCRAM credentials (salted and hashed, Kafka's format: never a password), so brokers can
   * authenticate clients. Only on the internal listener (/metadata/poll), which a secure cluster
   * serves to cluster processes alone. Absent: none.
   */
  scramCredentials?: ScramCredentialEntry[];
  /** The ACLs, evaluated by every process (@tributary/auth). Absent: none. */
  acls?: AclBinding[];
}

// ---------------------------------------------------------------------------------------------
// Security (issue 20): the wire types of SCRAM users and ACLs (the rules: @tributary/auth).

export type ScramMechanismName = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

/** Kafka's UserScramCredentialRecord: what is stored for a user and mechanism. */
export interface ScramCredentialEntry {
  name: string;
  mechanism: ScramMechanismName;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
  iterations: number;
}

/** Kafka's ACL operations (AclOperation), in Kafka's order; `All` is for bindings only. */
export const ACL_OPERATIONS = [
  'Read',
  'Write',
  'Create',
  'Delete',
  'Alter',
  'Describe',
  'ClusterAction',
  'DescribeConfigs',
  'AlterConfigs',
  'IdempotentWrite',
  'All',
] as const;
export type AclOperation = (typeof ACL_OPERATIONS)[number];
export type AclResourceType = 'Topic' | 'Group' | 'Cluster';
export type AclPatternType = 'Literal' | 'Prefixed';
export type AclPermission = 'Allow' | 'Deny';

/** Kafka's AclBinding: a resource pattern and an access control entry. */
export interface AclBinding {
  /** `User:alice`, or `User:*` for everyone. */
  principal: string;
  /** The client's IP address, or `*`. */
  host: string;
  operation: AclOperation;
  permission: AclPermission;
  resourceType: AclResourceType;
  /** A topic or group name (or prefix), `*`, or `kafka-cluster`. */
  resourceName: string;
  patternType: AclPatternType;
}

/**
 * Kafka's AlterUserScramCredentials: the client sends the salt and the salted password (PBKDF2),
 * never the password; the controller stores StoredKey and ServerKey. Per user, all or nothing.
 */
export interface AlterUserScramCredentialsRequest {
  upsertions?: { name: string; mechanism: ScramMechanismName; iterations: number; salt: Buffer; saltedPassword: Buffer }[];
  deletions?: { name: string; mechanism: ScramMechanismName }[];
}
export interface AlterUserScramCredentialsResponse {
  /** One per user named, in order of first mention; `error` absent = done. */
  results: { user: string; error?: WireError }[];
}
export interface DescribeUserScramCredentialsRequest {
  /** Omitted: every user. */
  users?: string[];
}
export interface DescribeUserScramCredentialsResponse {
  users: { user: string; credentials: { mechanism: ScramMechanismName; iterations: number }[]; error?: WireError }[];
}
export interface CreateAclsRequest {
  creations: AclBinding[];
}
export interface CreateAclsResponse {
  results: { error?: WireError }[];
}
/** A field left out matches any value (Kafka's AclBindingFilter, exact matches). */
export type AclBindingFilter = Partial<AclBinding>;
export interface DescribeAclsRequest {
  filter?: AclBindingFilter;
}
export interface DescribeAclsResponse {
  acls: AclBinding[];
}
export interface DeleteAclsRequest {
  filters: AclBindingFilter[];
}
export interface DeleteAclsResponse {
  /** Per filter, the bindings it removed. */
  results: { deleted: AclBinding[]; error?: WireError }[];
}

/** POST /auth/scram: a SCRAM exchange (RFC 5802/7677 messages verbatim) that ends in a bearer token. */
export interface ScramAuthRequest {
  /** The first step: the mechanism and client-first; the second: exchangeId and client-final. */
  mechanism?: ScramMechanismName;
  exchangeId?: string;
  message: string;
}
export interface ScramAuthResponse {
  /** server-first, or server-final. */
  message: string;
  /** The first step's answer: the exchange to finish. */
  exchangeId?: string;
  /** The second step's: send `Authorization: Bearer <token>` from now on, to this process. */
  token?: string;
  lifetimeMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Controller API

export interface RegisterBrokerRequest {
  brokerId: BrokerId;
  rack: string;
  incarnationId: string;
  internal: Endpoint;
  external: Endpoint;
  /** Its Kafka-protocol listeners, if it has any (issue 19). */
  kafka?: KafkaListeners;
  /**
   * The id of the broker's data dir (KIP-858's directory id), made when the dir was first used.
   * A new id under a known broker means its disk was lost or replaced: whatever it held is gone.
   */
  logDirId: string;
  /** The cluster id in the data dir's meta.properties; '' for a data dir that never joined one. */
  clusterId: string;
}
export interface RegisterBrokerResponse {
  brokerEpoch: number;
}

export interface HeartbeatRequest {
  brokerId: BrokerId;
  brokerEpoch: number;
}
export interface HeartbeatResponse {
  /** The metadata version the controller is at, so a broker knows when to poll. */
  metadataVersion: number;
}

export interface ControlledShutdownRequest {
  brokerId: BrokerId;
  brokerEpoch: number;
}
export interface ControlledShutdownResponse {
  /**
   * Leaderships that must still move before the broker may stop; 0 means it may stop once its
   * metadata shows the moves (the controller decides them, and fences the broker, in one step).
   * Leaderships no one can take go offline with the fence; they are not counted here.
   */
  remainingLeaderships: number;
}

export interface MetadataPollRequest {
  /** Answer at once if the controller is past this version, else wait up to maxWaitMs. */
  sinceVersion: number;
  maxWaitMs: number;
  /**
   * The poller can apply a delta (brokers): the answer is then what changed since sinceVersion
   * (`MetadataDeltaResponse`) when the controller still remembers that far back, and the whole
   * metadata otherwise (first contact, far behind, a restarted controller).
   */
  deltas?: boolean;
}

/** A topic in a delta: whole when created since (`full`), else its configs and changed partitions. */
export interface MetadataDeltaTopic {
  name: string;
  topicId: string;
  full: boolean;
  /** The configs changed since (always true with `full`); `configs` is the current set either way. */
  configsChanged: boolean;
  configs: TopicConfigs;
  /** Every partition when `full`; else only those changed (or added) since, in partition order. */
  partitions: PartitionState[];
}

/** What changed between `fromVersion` and the answer's version, in the current form of each thing. */
export interface MetadataDelta {
  fromVersion: number;
  /** Brokers registered, fenced, unfenced or reconfigured since: their whole registration. */
  brokers: BrokerRegistration[];
  /** Topics deleted since, by name and id (one re-created since also appears in `topics`, with its new id). */
  deletedTopics: { name: string; topicId: string }[];
  topics: MetadataDeltaTopic[];
  /**
   * Security (issue 20): the whole current set when any credential changed since (credentials
   * and ACLs are few, and replacing them whole keeps a broker from patching them wrong); absent:
   * unchanged. An empty list: none left.
   */
  scramCredentials?: ScramCredentialEntry[];
  acls?: AclBinding[];
}

export interface MetadataDeltaResponse {
  clusterId: string;
  version: number;
  delta: MetadataDelta;
}

export type MetadataPollResponse = ClusterMetadata | MetadataDeltaResponse;

export function isMetadataDelta(response: MetadataPollResponse): response is MetadataDeltaResponse {
  return (response as Partial<MetadataDeltaResponse>).delta !== undefined;
}

/** KIP-497 AlterPartition: the leader proposes a new ISR; only the controller's answer counts. */
export interface AlterPartitionRequest {
  brokerId: BrokerId;
  brokerEpoch: number;
  topic: string;
  partition: number;
  leaderEpoch: number;
  partitionEpoch: number;
  newIsr: BrokerId[];
  /**
   * For each member the proposal adds, the broker epoch it fetched under (KIP-903's
   * NewIsrWithEpochs): the controller refuses the change unless it is that broker's current
   * registration. A member added without one is refused too.
   */
  joiningEpochs?: { brokerId: BrokerId; brokerEpoch: number }[];
}
export type AlterPartitionResponse = PartitionState;

/** One partition's ISR proposal inside a batched AlterPartition. */
export type AlterPartitionItem = Omit<AlterPartitionRequest, 'brokerId' | 'brokerEpoch'>;

/**
 * `POST /partition/alter`: Kafka's AlterPartition is batched — a leader sends the ISR changes of
 * many partitions in one request, and the controller commits the accepted ones in one append
 * (one fsync of the metadata log). The broker epoch is checked once for the whole request
 * (STALE_BROKER_EPOCH refuses all of it); every other check is per partition.
 */
export interface AlterPartitionBatchRequest {
  brokerId: BrokerId;
  brokerEpoch: number;
  partitions: AlterPartitionItem[];
}
/** One entry per requested partition, in request order: the committed state, or its error. */
export interface AlterPartitionBatchResponse {
  partitions: { topic: string; partition: number; state?: PartitionState; error?: WireError }[];
}

// Admin operations: `POST /admin/<op>` on the controller; brokers forward them unchanged.
export interface CreateTopicRequest {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs?: TopicConfigInput;
  /**
   * Kafka's validateOnly: every check a creation makes (name, existence, partitions, replication
   * factor against the live brokers, configs) and the topic it would make, but nothing created.
   */
  validateOnly?: boolean;
}
export interface CreateTopicResponse {
  topic: TopicState;
}
export interface DeleteTopicRequest {
  name: string;
}
export interface InitProducerIdResponse {
  producerId: number;
  producerEpoch: number;
}
export interface ElectLeadersRequest {
  topic: string;
  partitions?: number[];
}
export interface ElectLeadersResponse {
  /** Partitions whose leader changed to the preferred replica. */
  elected: { partition: number; leader: BrokerId }[];
}
export interface SetBrokerConfigRequest {
  brokerId: BrokerId;
  /** e.g. { 'follower.replication.throttled.rate': 1024 }; a value of -1 removes the setting (BROKER_DYNAMIC_CONFIGS). */
  configs: Record<string, number>;
}

/**
 * KIP-455 AlterPartitionReassignments: per partition, the target replica list (preferred leader
 * first), or null to cancel the reassignment in progress. Each partition is decided on its own,
 * as in Kafka: a refused one changes nothing and carries its error; the others go ahead.
 */
export interface AlterPartitionReassignmentsRequest {
  partitions: { topic: string; partition: number; replicas: BrokerId[] | null }[];
}
export interface AlterPartitionReassignmentsResponse {
  /** One entry per requested partition, in request order; `error` absent = accepted. */
  partitions: { topic: string; partition: number; error?: WireError }[];
}
export interface ListPartitionReassignmentsRequest {
  /** Omitted: every topic. */
  topics?: string[];
}
/** A reassignment in progress (KIP-455's OngoingPartitionReassignment). */
export interface OngoingReassignment {
  topic: string;
  partition: number;
  /** The target followed by the original replicas not in it. */
  replicas: BrokerId[];
  addingReplicas: BrokerId[];
  removingReplicas: BrokerId[];
}
export interface ListPartitionReassignmentsResponse {
  /** Sorted by topic, then partition. */
  reassignments: OngoingReassignment[];
}

/** Kafka's CreatePartitions: grow `topic` to `totalCount` partitions (never fewer). */
export interface CreatePartitionsRequest {
  topic: string;
  totalCount: number;
}
export interface CreatePartitionsResponse {
  /** The new partitions only, as created (rack-aware placement, first replica leading). */
  partitions: PartitionState[];
}

/** What describe-configs and alter-configs act on: one topic, or one broker's dynamic configs. */
export type ConfigResource = { topic: string } | { broker: BrokerId };
export type ConfigValue = string | number | boolean;
export interface ConfigEntry {
  name: string;
  /** null: a broker config that is not set (no limit). */
  value: ConfigValue | null;
  /** True when the value is the default (a topic config equal to it, or an unset broker config). */
  isDefault: boolean;
  doc: string;
}
export interface DescribeConfigsRequest {
  resource: ConfigResource;
}
export interface DescribeConfigsResponse {
  resource: ConfigResource;
  /** Every config of the resource's kind, sorted by name. */
  configs: ConfigEntry[];
}
/**
 * Kafka's IncrementalAlterConfigs with SET and DELETE: `set` values are validated as at topic
 * creation (topics) or as set-broker-config validates them (brokers); `delete` returns a topic
 * config to its default and unsets a broker config. All or nothing: one bad entry changes nothing.
 */
export interface AlterConfigsRequest {
  resource: ConfigResource;
  set?: Record<string, ConfigValue>;
  delete?: readonly string[];
}
/** The resource's configs after the change. */
export type AlterConfigsResponse = DescribeConfigsResponse;

export const ADMIN_OPS = [
  'create-topic',
  'delete-topic',
  'init-producer-id',
  'elect-leaders',
  'set-broker-config',
  'alter-partition-reassignments',
  'list-partition-reassignments',
  'create-partitions',
  'describe-configs',
  'alter-configs',
  'alter-user-scram-credentials',
  'describe-user-scram-credentials',
  'create-acls',
  'describe-acls',
  'delete-acls',
] as const;
export type AdminOp = (typeof ADMIN_OPS)[number];

// ---------------------------------------------------------------------------------------------
// Route tables: every route each process serves (the services' tests check them against what is
// registered; the abuse suite in packages/chaos walks them). `:op` stands for each ADMIN_OPS name.

export interface RouteSpec {
  method: 'GET' | 'POST';
  path: string;
}

export const BROKER_ROUTES: readonly RouteSpec[] = Object.freeze([
  { method: 'POST', path: '/metadata' },
  { method: 'POST', path: '/produce' },
  { method: 'POST', path: '/fetch' },
  { method: 'POST', path: '/list-offsets' },
  { method: 'POST', path: '/replica/fetch' },
  { method: 'POST', path: '/describe-replicas' },
  { method: 'POST', path: '/replica-digests' },
  { method: 'POST', path: '/admin/:op' },
  { method: 'POST', path: '/find-coordinator' },
  { method: 'POST', path: '/group/join' },
  { method: 'POST', path: '/group/sync' },
  { method: 'POST', path: '/group/heartbeat' },
  { method: 'POST', path: '/group/leave' },
  { method: 'POST', path: '/offsets/commit' },
  { method: 'POST', path: '/offsets/fetch' },
  { method: 'POST', path: '/groups/list' },
  { method: 'POST', path: '/groups/describe' },
  { method: 'POST', path: '/groups/delete' },
  { method: 'POST', path: '/groups/reset-offsets' },
  { method: 'POST', path: '/auth/scram' },
  { method: 'GET', path: '/health' },
  { method: 'GET', path: '/metrics' },
]);

/** The controller's API, then its web console (text, JSON and Server-Sent Events). */
export const CONTROLLER_ROUTES: readonly RouteSpec[] = Object.freeze([
  { method: 'POST', path: '/broker/register' },
  { method: 'POST', path: '/broker/heartbeat' },
  { method: 'POST', path: '/broker/controlled-shutdown' },
  { method: 'POST', path: '/metadata/poll' },
  { method: 'POST', path: '/partition/alter' },
  { method: 'POST', path: '/admin/:op' },
  { method: 'POST', path: '/auth/scram' },
  { method: 'GET', path: '/health' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/ui' },
  { method: 'GET', path: '/ui/' },
  { method: 'GET', path: '/ui/console.css' },
  { method: 'GET', path: '/ui/console.js' },
  { method: 'GET', path: '/ui/snapshot' },
  { method: 'GET', path: '/ui/events' },
]);

/** A broker's routes for other cluster processes only (followers): internal listener, and a cluster certificate when secure. */
export const BROKER_INTERNAL_PATHS: readonly string[] = Object.freeze(['/replica/fetch']);
/** The controller's routes for brokers only: internal listener, and a cluster certificate when secure. */
export const CONTROLLER_INTERNAL_PATHS: readonly string[] = Object.freeze([
  '/broker/register',
  '/broker/heartbeat',
  '/broker/controlled-shutdown',
  '/metadata/poll',
  '/partition/alter',
]);
/** Served on a broker's internal listener only: followers (DESIGN.md § Listeners). */
const BROKER_INTERNAL_ONLY = new Set(BROKER_INTERNAL_PATHS);
/** Served on the controller's internal listener only: brokers (DESIGN.md § Listeners). */
const CONTROLLER_INTERNAL_ONLY = new Set(CONTROLLER_INTERNAL_PATHS);

/**
 * Headers a broker adds when it forwards a client's admin call to the controller (Kafka's
 * EnvelopeRequest): the client's authenticated principal and address. The controller honours
 * them only from a cluster process (a certificate signed by the cluster CA).
 */
export const FORWARDED_PRINCIPAL_HEADER = 'x-tributary-principal';
export const FORWARDED_HOST_HEADER = 'x-tributary-client-host';
/** Served on both of the controller's listeners. */
const CONTROLLER_BOTH = new Set(['/admin/:op', '/health', '/auth/scram']);

/**
 * The routes one listener serves. 'single': a process with one listener serves every route;
 * with two, the external one leaves out the inter-broker routes, and the controller's internal
 * one serves the broker routes plus admin and health.
 */
export function listenerRoutes(role: 'broker' | 'controller', listener: 'single' | 'internal' | 'external'): readonly RouteSpec[] {
  if (role === 'broker') return listener === 'external' ? BROKER_ROUTES.filter((r) => !BROKER_INTERNAL_ONLY.has(r.path)) : BROKER_ROUTES;
  if (listener === 'single') return CONTROLLER_ROUTES;
  if (listener === 'external') return CONTROLLER_ROUTES.filter((r) => !CONTROLLER_INTERNAL_ONLY.has(r.path));
  return CONTROLLER_ROUTES.filter((r) => CONTROLLER_INTERNAL_ONLY.has(r.path) || CONTROLLER_BOTH.has(r.path));
}

// ---------------------------------------------------------------------------------------------
// Broker API: clients

export interface BrokerMetadataRequest {
  /** Omitted: all topics. */
  topics?: string[];
}
export interface BrokerMetadataResponse {
  clusterId: string;
  /** The metadata version the answering broker holds. */
  version: number;
  /** The answering broker. */
  brokerId: BrokerId;
  /** The controller's address as this broker knows it (shown by `tributary cluster`). */
  controller: Endpoint;
  /** Addresses are those of the listener the request arrived on (internal or external). */
  brokers: { id: BrokerId; rack: string; host: string; port: number; alive: boolean }[];
  topics: {
    name: string;
    configs: TopicConfigs;
    partitions: {
      partition: number;
      leader: BrokerId;
      leaderEpoch: number;
      replicas: BrokerId[];
      isr: BrokerId[];
      /** Reassignment in progress (KIP-455); absent or empty when none. */
      addingReplicas?: BrokerId[];
      removingReplicas?: BrokerId[];
    }[];
  }[];
  /** Topics asked for that do not exist. */
  unknownTopics: string[];
  /**
   * Topics asked for that the caller may not Describe (a secure cluster): Kafka's
   * TOPIC_AUTHORIZATION_FAILED, said whether or not they exist. Absent: none.
   */
  unauthorizedTopics?: string[];
}

export type Acks = 0 | 1 | -1;

export interface ProduceRequest {
  /** -1 = all. */
  acks: Acks;
  timeoutMs: number;
  partitions: {
    topic: string;
    partition: number;
    /** Exactly one record batch, baseOffset 0, as the producer built it. */
    records: Buffer;
  }[];
}
export interface ProducePartitionResponse {
  topic: string;
  partition: number;
  /** Offset of the batch's first record; -1 on error. */
  baseOffset: number;
  error?: WireError;
}
export interface ProduceResponse {
  partitions: ProducePartitionResponse[];
}

export interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  /** The consumer's rack, for fetch-from-follower (KIP-392). */
  rack?: string;
  partitions: {
    topic: string;
    partition: number;
    offset: number;
    maxBytes: number;
    /** The leader epoch the consumer believes; -1 to skip the check. */
    currentLeaderEpoch?: number;
  }[];
}
export interface FetchPartitionResponse {
  topic: string;
  partition: number;
  highWatermark: number;
  logStartOffset: number;
  /** Whole record batches, file bytes as stored. Empty when nothing is available. */
  records: Buffer;
  /** KIP-392: a replica in the consumer's rack that it should fetch from instead. */
  preferredReadReplica?: BrokerId;
  error?: WireError;
}
export interface FetchResponse {
  partitions: FetchPartitionResponse[];
}

/** Kafka's special timestamps for ListOffsets. */
export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;

export interface ListOffsetsRequest {
  partitions: { topic: string; partition: number; timestamp: number }[];
}
export interface ListOffsetsResponse {
  partitions: { topic: string; partition: number; offset: number; timestamp: number; error?: WireError }[];
}

export interface DescribeReplicasRequest {
  topic: string;
}
/** What a leader knows of its partitions' replicas (`describe --verbose`). */
export interface DescribeReplicasResponse {
  partitions: {
    partition: number;
    highWatermark: number;
    logStartOffset: number;
    logEndOffset: number;
    /**
     * Bytes of the leader's log (its segments, log start to LEO): with the LEOs, what a
     * reassignment's copy progress is measured in (`tributary reassign status`, the console).
     */
    logSizeBytes: number;
    replicas: { brokerId: BrokerId; logEndOffset: number; lagRecords: number; lastCaughtUpMsAgo: number }[];
  }[];
}

// ---------------------------------------------------------------------------------------------
// Broker API: followers (issue 4)

/**
 * Incremental fetch sessions (KIP-227). A follower without a session sends every partition it
 * copies from the leader with `sessionId` 0 and `sessionEpoch` 0, and the leader answers with the
 * id of a session that remembers them. Later requests carry that id and the next epoch (1, 2, ...)
 * and name only the partitions whose fetch state changed since the previous request, plus those
 * it stopped fetching (`forgotten`); the answer carries only the partitions with records, an
 * error, a divergence, a new HW or log start, or named in the request. `sessionEpoch` -1 asks for
 * a full fetch with no session (also what a request without these fields is).
 */
export const FETCH_SESSION_INITIAL_EPOCH = 0;
export const FETCH_SESSION_FINAL_EPOCH = -1;

export interface ReplicaFetchRequest {
  brokerId: BrokerId;
  brokerEpoch: number;
  maxWaitMs: number;
  maxBytes: number;
  /** KIP-227: 0 for none (a full fetch); else the session the leader gave. */
  sessionId?: number;
  /** KIP-227: 0 opens a session, -1 fetches without one, n > 0 is the n-th incremental fetch. */
  sessionEpoch?: number;
  /** KIP-227: partitions an incremental fetch stops fetching. */
  forgotten?: { topic: string; partition: number }[];
  partitions: ReplicaFetchPartition[];
}
/** One partition of a replica fetch: where the follower's log ends and what it believes. */
export interface ReplicaFetchPartition {
  topic: string;
  partition: number;
  /** The follower's log end offset. */
  fetchOffset: number;
  /** Epoch of the last batch in the follower's log (KIP-101/KIP-279 divergence check). */
  lastFetchedEpoch: number;
  /** The leader epoch the follower believes is current. */
  currentLeaderEpoch: number;
  /**
   * At most this many bytes for this partition (the first batch still goes whole). Set by a
   * follower whose follower.replication.throttled.rate holds this replica back; absent = only
   * the request's maxBytes applies.
   */
  maxBytes?: number;
}
export interface ReplicaFetchPartitionResponse {
  topic: string;
  partition: number;
  highWatermark: number;
  logStartOffset: number;
  records: Buffer;
  /** Set when the follower's log diverges: truncate to endOffset, then fetch again. */
  divergingEpoch?: { epoch: number; endOffset: number };
  error?: WireError;
}
export interface ReplicaFetchResponse {
  /** KIP-227: the session this fetch belongs to (0: none; every partition is answered). */
  sessionId?: number;
  partitions: ReplicaFetchPartitionResponse[];
}

export interface HealthResponse {
  status: 'ok' | 'starting';
  role: 'controller' | 'broker';
  brokerId?: BrokerId;
  metadataVersion: number;
}

// ---------------------------------------------------------------------------------------------
// Broker API: diagnostics (issue 16 § 8)

/**
 * POST /replica-digests: every replica of `topic` the answering broker holds, leader or follower,
 * with its offsets and its batches below its HW as header facts only, so that a checker can
 * compare replicas batch by batch without moving record bytes. Read-only. Paged: `partitions`
 * names the replicas to list and where to start (omitted: every replica here, from its log
 * start); an answer lists at most `maxBatches` batches in all (and the broker's own maximum), and
 * `nextOffset` says where a replica's list stopped short. `toOffset` lists a replica up to that
 * offset instead of its own HW (never past its LEO): a follower's HW may lag the leader's, and
 * its log up to the leader's HW is what must match.
 */
export interface ReplicaDigestsRequest {
  topic: string;
  partitions?: { partition: number; fromOffset: number; toOffset?: number }[];
  maxBatches?: number;
}

/** One batch as (baseOffset, lastOffset, partitionLeaderEpoch, crc). */
export type BatchDigest = [baseOffset: number, lastOffset: number, partitionLeaderEpoch: number, crc: number];

export interface ReplicaDigest {
  partition: number;
  role: 'leader' | 'follower';
  /** The leader epoch this replica believes current. */
  leaderEpoch: number;
  logStartOffset: number;
  highWatermark: number;
  logEndOffset: number;
  /** Batches from the asked offset (or the log start), each with lastOffset < batchesEnd. */
  batches: BatchDigest[];
  /** Where the list was asked to end: the HW, or the toOffset asked for, capped at the LEO. */
  batchesEnd: number;
  /** Set when the list stopped before batchesEnd (a page was full): ask again from here. */
  nextOffset?: number;
  /**
   * Set for a log its broker's cleaner has worked on (cleanup.policy=compact): below this offset
   * the cleaner may have rewritten this replica's batches (fewer records, new CRCs, stretched
   * offset ranges), each replica on its own, so bytes there are not comparable across replicas.
   */
  rewrittenToOffset?: number;
  /** The log could not be read (a storage error); the offsets above still hold. */
  error?: WireError;
}

export interface ReplicaDigestsResponse {
  brokerId: BrokerId;
  replicas: ReplicaDigest[];
}

// ---------------------------------------------------------------------------------------------
// Broker API: consumer groups (issue 18). Kafka's classic group protocol (GroupCoordinator):
// FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
// ListGroups, DescribeGroups, DeleteGroups, with Kafka's fields and semantics. The coordinator of
// a group is the leader of `__consumer_offsets` partition abs(javaHashCode(groupId)) % partitions;
// every group route but /find-coordinator must reach that broker (else NOT_COORDINATOR). Protocol
// metadata and assignments are opaque bytes to the coordinator. Errors that concern the whole
// request (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
// REBALANCE_IN_PROGRESS, ...) answer the request; the contract in words: packages/client/README.md.

/** Kafka's group states (ListGroups / DescribeGroups). */
export type GroupStateName = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';
export const GROUP_STATES: readonly GroupStateName[] = Object.freeze(['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead']);

/** Kafka's generation id of a consumer outside group management (a "simple" consumer, an admin). */
export const NO_GENERATION = -1;

export interface FindCoordinatorRequest {
  /** The group id. */
  key: string;
}
/** The coordinator's address on the listener the request came in on (as /metadata answers). */
export interface FindCoordinatorResponse {
  brokerId: BrokerId;
  host: string;
  port: number;
}

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinGroupRequest {
  groupId: string;
  /** '' on a first join: answered MEMBER_ID_REQUIRED with the id to join again with (KIP-394). */
  memberId: string;
  /** KIP-345 static membership: a stable id per consumer instance. */
  groupInstanceId?: string;
  clientId: string;
  sessionTimeoutMs: number;
  /** How long the coordinator waits for every member to rejoin (the consumer's max.poll.interval.ms). */
  rebalanceTimeoutMs: number;
  /** e.g. 'consumer'; every member of a group must name the same. */
  protocolType: string;
  /** In order of preference (e.g. assignor names with their subscription as metadata). */
  protocols: GroupProtocol[];
}
export interface JoinGroupMember {
  memberId: string;
  groupInstanceId?: string;
  /** Its metadata for the selected protocol. */
  metadata: Buffer;
}
export interface JoinGroupResponse {
  generationId: number;
  /** The protocol selected for this generation. */
  protocolName: string;
  /** The leader's member id: it computes the assignment. */
  leader: string;
  memberId: string;
  /** Every member with its metadata, for the leader only; empty for the others. */
  members: JoinGroupMember[];
}

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string;
  /** The leader's assignment, one entry per member; empty from the other members. */
  assignments: { memberId: string; assignment: Buffer }[];
}
export interface SyncGroupResponse {
  assignment: Buffer;
}

/** Kafka's Heartbeat (named apart from the broker-to-controller HeartbeatRequest). */
export interface GroupHeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string;
}
/** An empty map: the member's session was extended. */
export type GroupHeartbeatResponse = Record<string, never>;

export interface LeaveGroupRequest {
  groupId: string;
  members: { memberId: string; groupInstanceId?: string }[];
}
export interface LeaveGroupResponse {
  /** One per member asked for, in order; `error` absent = it left. */
  members: { memberId: string; groupInstanceId?: string; error?: WireError }[];
}

export interface OffsetCommitEntry {
  topic: string;
  partition: number;
  /** The next offset to consume. */
  offset: number;
  /** The leader epoch of the last consumed record, if known (KIP-320). */
  leaderEpoch?: number;
  /** Free text (at most offset.metadata.max.bytes). */
  metadata: string;
}
export interface OffsetCommitRequest {
  groupId: string;
  /** -1 with memberId '': a consumer outside group management (refused while the group has members). */
  generationId: number;
  memberId: string;
  groupInstanceId?: string;
  offsets: OffsetCommitEntry[];
}
export interface OffsetCommitResponse {
  /** One per offset asked for, in order; `error` absent = committed (acks=all on __consumer_offsets). */
  partitions: { topic: string; partition: number; error?: WireError }[];
}

export interface OffsetFetchRequest {
  groupId: string;
  /** Omitted: every partition the group has an offset for. */
  partitions?: { topic: string; partition: number }[];
}
export interface CommittedOffset {
  topic: string;
  partition: number;
  /** -1 when the group has none for this partition. */
  offset: number;
  leaderEpoch?: number;
  metadata: string;
}
export interface OffsetFetchResponse {
  offsets: CommittedOffset[];
}

export interface ListGroupsRequest {
  /** Only groups in these states (KIP-518); omitted: all. */
  states?: GroupStateName[];
}
export interface ListGroupsResponse {
  /** The groups this broker coordinates (ask every broker for all of them). */
  groups: { groupId: string; protocolType: string; state: GroupStateName }[];
}

export interface DescribeGroupsRequest {
  groupIds: string[];
}
export interface DescribedGroupMember {
  memberId: string;
  groupInstanceId?: string;
  clientId: string;
  clientHost: string;
  /** Its metadata for the group's protocol; empty unless the group is Stable (as Kafka). */
  metadata: Buffer;
  assignment: Buffer;
}
export interface DescribedGroup {
  groupId: string;
  /** NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS for a group this broker does not (yet) serve. */
  error?: WireError;
  /** 'Dead' for a group that does not exist. */
  state: GroupStateName;
  protocolType: string;
  /** The selected protocol; '' unless the group is Stable (as Kafka). */
  protocol: string;
  members: DescribedGroupMember[];
}
export interface DescribeGroupsResponse {
  groups: DescribedGroup[];
}

export interface DeleteGroupsRequest {
  groupIds: string[];
}
export interface DeleteGroupsResponse {
  /** One per group asked for, in order; `error` absent = deleted (with its offsets). */
  groups: { groupId: string; error?: WireError }[];
}

/**
 * `groups reset-offsets`: an offset commit outside group management, refused with
 * NON_EMPTY_GROUP while the group has members (Kafka's tool refuses an active group). Creates the
 * group (Empty) if it does not exist.
 */
export interface ResetGroupOffsetsRequest {
  groupId: string;
  offsets: { topic: string; partition: number; offset: number; leaderEpoch?: number; metadata?: string }[];
}
export type ResetGroupOffsetsResponse = OffsetCommitResponse;
