// ClusterController: the state machine's owner. It turns a request into a decision (the pure
// functions of broker-registry.ts, topics.ts, isr.ts, election.ts, producer-ids.ts), appends the
// decision's records to the metadata log (durably) and only then applies them, logs every change,
// and tells subscribers (long polls, metrics). It runs no timers and reads the time only through
// the injected clock: the service calls checkSessions() and rebalanceLeaders() on its timers.

import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  NO_LEADER,
  TributaryError,
  type AlterConfigsRequest,
  type AlterPartitionReassignmentsRequest,
  type AlterPartitionReassignmentsResponse,
  type AlterPartitionBatchRequest,
  type AlterPartitionBatchResponse,
  type AlterPartitionRequest,
  type ClusterMetadata,
  type ConfigResource,
  type CreatePartitionsRequest,
  type CreatePartitionsResponse,
  type DescribeConfigsResponse,
  type ListPartitionReassignmentsResponse,
  type ControlledShutdownRequest,
  type ControlledShutdownResponse,
  type CreateTopicRequest,
  type CreateTopicResponse,
  type ElectLeadersRequest,
  type ElectLeadersResponse,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type InitProducerIdResponse,
  type MetadataPollResponse,
  type PartitionState,
  type RegisterBrokerRequest,
  type RegisterBrokerResponse,
  type SetBrokerConfigRequest,
  type AclBinding,
  type AclBindingFilter,
  type AlterUserScramCredentialsRequest,
  type AlterUserScramCredentialsResponse,
  type CreateAclsRequest,
  type CreateAclsResponse,
  type DeleteAclsRequest,
  type DeleteAclsResponse,
  type DescribeUserScramCredentialsResponse,
} from '@tributary/protocol';
import { controlledShutdown, expireSessions, heartbeat, registerBroker, sessionSilenceMs, setBrokerConfig } from './broker-registry.ts';
import { ClusterState, Draft, clonePartition } from './cluster-state.ts';
import { alterConfigs, describeConfigs } from './configs.ts';
import { electPreferredLeaders, preferredLeaderElectionPending } from './election.ts';
import { alterPartition, alterPartitions } from './isr.ts';
import { MetadataDeltaLog } from './metadata-delta.ts';
import type { MetadataLog } from './metadata-log.ts';
import { snapshotOf, stateFromSnapshot, type SnapshotStore } from './metadata-snapshot.ts';
import { initProducerId } from './producer-ids.ts';
import type { MetadataRecord } from './records.ts';
import { alterPartitionReassignments, completeReassignments, listPartitionReassignments, targetReplicas } from './reassignment.ts';
import { alterUserScramCredentials, bootstrapUserRecords, createAcls, deleteAcls, describeAcls, describeUserScramCredentials } from './security.ts';
import { SessionClock } from './session-clock.ts';
import { createPartitions, createTopic, deleteTopic } from './topics.ts';

export interface ClusterControllerOptions {
  log: MetadataLog;
  logger: Logger;
  /** Milliseconds since the epoch; injected so tests drive time. */
  now?: () => number;
  /** Random ids for topics and the cluster; injected so tests are repeatable. */
  newId?: () => string;
  /** The cluster id to use when the log is empty (else one is generated); must match a logged one. */
  clusterId?: string;
  sessionTimeoutMs: number;
  /**
   * How often the caller runs checkSessions(). Given, a check that runs late counts as time the
   * controller could not hear brokers, and is not held against their sessions (session-clock.ts).
   * Left out (tests that drive checks by hand), every check is taken as on time.
   */
  sessionCheckIntervalMs?: number;
  autoLeaderRebalanceEnable: boolean;
  /** Records remembered for metadata deltas; a broker further behind gets the whole metadata. */
  deltaRecordsMax?: number;
  /**
   * Metadata snapshots (metadata-snapshot.ts): loaded at start, so only the records after the
   * newest are replayed, and written every snapshotIntervalRecords records, after which the log
   * drops the segments below the older snapshot kept. Without a store, no snapshots.
   */
  snapshots?: SnapshotStore;
  snapshotIntervalRecords?: number;
}

/** What the start replayed: the snapshot it loaded (version, or -1) and the records after it. */
export interface ReplayStats {
  snapshotVersion: number;
  records: number;
  durationMs: number;
}

/** A record as applied, with the partition state it replaced (PartitionChange only). */
export interface AppliedRecord {
  record: MetadataRecord;
  before?: PartitionState;
}

export type CommitListener = (applied: readonly AppliedRecord[]) => void;

/** Kafka-style cluster id: 16 random bytes, base64url (22 characters). */
export function generateClusterId(): string {
  return randomBytes(16).toString('base64url');
}

export class ClusterController {
  readonly state: ClusterState;
  private readonly log: MetadataLog;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly sessionTimeoutMs: number;
  private readonly sessionClock: SessionClock | undefined;
  private readonly autoLeaderRebalanceEnable: boolean;
  private readonly listeners = new Set<CommitListener>();
  private metadataCache: ClusterMetadata | null = null;
  /** What each record since start touched, for brokers' metadata deltas (metadata-delta.ts). */
  private deltas!: MetadataDeltaLog;
  private readonly snapshots: SnapshotStore | undefined;
  private readonly snapshotIntervalRecords: number;
  private lastSnapshotVersion = 0;
  readonly replayStats: ReplayStats;
  /** Set once the metadata log failed: the log's state is unknown, so nothing more is written. */
  private failure: TributaryError | null = null;
  private closed = false;

  /** Replays the log, then writes the cluster id if the log was empty. */
  constructor(options: ClusterControllerOptions) {
    this.log = options.log;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.newId = options.newId ?? randomUUID;
    this.sessionTimeoutMs = options.sessionTimeoutMs;
    this.sessionClock = options.sessionCheckIntervalMs === undefined ? undefined : new SessionClock(options.sessionCheckIntervalMs);
    this.autoLeaderRebalanceEnable = options.autoLeaderRebalanceEnable;
    this.snapshots = options.snapshots;
    this.snapshotIntervalRecords = options.snapshotIntervalRecords ?? 20_000;
    const started = performance.now();
    const snapshot = this.snapshots?.loadLatest();
    const logStart = this.log.logStartOffset;
    const logEnd = this.log.logEndOffset;
    if (snapshot === undefined && logStart > 0) {
      throw new Error(`the metadata log starts at offset ${logStart}, and no readable snapshot covers the records before it`);
    }
    if (snapshot !== undefined && (snapshot.version < logStart || snapshot.version > logEnd)) {
      throw new Error(`metadata snapshot at version ${snapshot.version} does not meet the log [${logStart}, ${logEnd}]`);
    }
    this.state = snapshot === undefined ? new ClusterState() : stateFromSnapshot(snapshot);
    this.lastSnapshotVersion = snapshot?.version ?? 0;
    const records = this.log.replay(snapshot?.version ?? logStart);
    for (const record of records) this.state.apply(record);
    if (this.state.version !== logEnd) throw new Error(`metadata replayed to version ${this.state.version}, the log ends at ${logEnd}`);
    this.state.finishReplay(this.now());
    this.deltas = new MetadataDeltaLog(this.state.version, options.deltaRecordsMax);
    this.replayStats = { snapshotVersion: snapshot?.version ?? -1, records: records.length, durationMs: performance.now() - started };
    this.logger.info(
      {
        snapshotVersion: this.replayStats.snapshotVersion,
        records: records.length,
        replayMs: Math.round(this.replayStats.durationMs),
        metadataVersion: this.state.version,
        brokers: this.state.brokers.size,
        topics: this.state.topics.size,
      },
      'metadata log replayed',
    );
    if (this.state.clusterId === '') {
      this.commit([{ type: 'ClusterId', clusterId: options.clusterId ?? generateClusterId() }]);
    } else if (options.clusterId !== undefined && options.clusterId !== this.state.clusterId) {
      throw new Error(`--cluster-id ${options.clusterId} does not match the cluster id ${this.state.clusterId} in the metadata log`);
    }
    // A reassignment whose last target replica joined the ISR just before a crash completes now.
    if (this.state.reassigning.size > 0) this.logger.info({ partitions: this.state.reassigning.size }, 'reassignments in progress');
    this.resumeReassignments();
  }

  get version(): number {
    return this.state.version;
  }

  get clusterId(): string {
    return this.state.clusterId;
  }

  /** The published metadata, cached per version (many brokers poll the same one). */
  metadata(): ClusterMetadata {
    if (this.metadataCache === null || this.metadataCache.version !== this.state.version) {
      this.metadataCache = this.state.toMetadata();
    }
    return this.metadataCache;
  }

  /**
   * A metadata poll's answer: what changed since `sinceVersion` when the poller takes deltas and
   * the delta log reaches back that far, else the whole metadata.
   */
  metadataSince(sinceVersion: number, deltas: boolean): MetadataPollResponse {
    if (deltas && sinceVersion >= 0) {
      const delta = this.deltas.since(this.state, sinceVersion);
      if (delta !== undefined) return { clusterId: this.state.clusterId, version: this.state.version, delta };
    }
    return this.metadata();
  }

  subscribe(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // --- Brokers ---------------------------------------------------------------------------------

  registerBroker(request: RegisterBrokerRequest): RegisterBrokerResponse {
    const existing = this.state.brokers.get(request.brokerId);
    if (existing?.alive && existing.incarnationId !== request.incarnationId) {
      this.logger.warn(
        { brokerId: request.brokerId, incarnationId: request.incarnationId, previousIncarnationId: existing.incarnationId },
        'broker registered again while alive: fencing its previous incarnation',
      );
    }
    const decision = registerBroker(this.state, request);
    this.commit(decision.records);
    this.state.touch(request.brokerId, this.now(), this.stalledMs);
    return decision.reply;
  }

  heartbeat(request: HeartbeatRequest): HeartbeatResponse {
    this.checkUsable();
    if (heartbeat(this.state, request).accepted) this.state.touch(request.brokerId, this.now(), this.stalledMs);
    return { metadataVersion: this.state.version };
  }

  controlledShutdown(request: ControlledShutdownRequest): ControlledShutdownResponse {
    const decision = controlledShutdown(this.state, request.brokerId, request.brokerEpoch);
    // A broker retries when its request failed in transit; only the first request and real
    // changes are news.
    const news = !this.state.isShuttingDown(request.brokerId) || decision.records.length > 0;
    this.commit(decision.records);
    const session = this.state.sessions.get(request.brokerId);
    if (session) session.shuttingDown = true;
    else this.state.sessions.set(request.brokerId, { lastHeartbeatMs: this.now(), stalledMsAtHeartbeat: this.stalledMs, shuttingDown: true });
    this.logger[news ? 'info' : 'debug'](
      { brokerId: request.brokerId, remainingLeaderships: decision.reply.remainingLeaderships, offlineLeaderships: decision.offlineLeaderships },
      'controlled shutdown',
    );
    return decision.reply;
  }

  /**
   * Fences brokers whose heartbeats stopped for the session timeout, counting only time the
   * controller could hear them (session-clock.ts). Called on a timer every sessionCheckIntervalMs.
   */
  checkSessions(): void {
    if (this.failure || this.closed) return;
    const now = this.now();
    const stalledMs = this.sessionClock?.check(now) ?? 0;
    const lateMs = this.sessionClock?.lastStallMs ?? 0;
    if (lateMs >= this.sessionTimeoutMs / 4) {
      this.logger.warn(
        { stalledMs: lateMs, sessionTimeoutMs: this.sessionTimeoutMs },
        'controller loop stalled; the stall does not count against broker sessions',
      );
    }
    const records = expireSessions(this.state, now, this.sessionTimeoutMs, stalledMs);
    for (const record of records) {
      if (record.type === 'FenceBroker') {
        const session = this.state.sessions.get(record.brokerId);
        this.logger.info(
          {
            brokerId: record.brokerId,
            msSinceHeartbeat: session === undefined ? null : now - session.lastHeartbeatMs,
            silentMs: sessionSilenceMs(this.state, record.brokerId, now, stalledMs),
            sessionTimeoutMs: this.sessionTimeoutMs,
          },
          'broker session expired',
        );
      }
    }
    this.commit(records);
  }

  /** Time the controller could not hear brokers so far (session-clock.ts); 0 without a check interval. */
  get stalledMs(): number {
    return this.sessionClock?.stalledMs ?? 0;
  }

  setBrokerConfig(request: SetBrokerConfigRequest): Record<string, never> {
    this.commit(setBrokerConfig(this.state, request));
    return {};
  }

  // --- Topics and partitions --------------------------------------------------------------------

  createTopic(request: CreateTopicRequest): CreateTopicResponse {
    const decision = createTopic(this.state, request, this.newId());
    if (request.validateOnly !== true) this.commit(decision.records);
    return decision.reply;
  }

  deleteTopic(name: string): Record<string, never> {
    this.commit(deleteTopic(this.state, name));
    return {};
  }

  alterPartition(request: AlterPartitionRequest): PartitionState {
    const decision = alterPartition(this.state, request);
    this.commit(decision.records);
    return decision.reply;
  }

  /** Batched AlterPartition (isr.ts): the accepted changes of every partition in one append. */
  alterPartitions(request: AlterPartitionBatchRequest): AlterPartitionBatchResponse {
    const decision = alterPartitions(this.state, request);
    this.commit(decision.records);
    return decision.reply;
  }

  /** Admin `create-partitions`: grows a topic (topics.ts). */
  createPartitions(request: CreatePartitionsRequest): CreatePartitionsResponse {
    const decision = createPartitions(this.state, request);
    this.commit(decision.records);
    return decision.reply;
  }

  describeConfigs(resource: ConfigResource): DescribeConfigsResponse {
    this.checkUsable();
    return describeConfigs(this.state, resource);
  }

  alterConfigs(request: AlterConfigsRequest): DescribeConfigsResponse {
    const decision = alterConfigs(this.state, request);
    this.commit(decision.records);
    return decision.reply;
  }

  // --- Reassignments (KIP-455, reassignment.ts) ---------------------------------------------------

  alterPartitionReassignments(request: AlterPartitionReassignmentsRequest): AlterPartitionReassignmentsResponse {
    const decision = alterPartitionReassignments(this.state, request);
    this.commit(decision.records);
    for (const p of decision.reply.partitions) {
      if (p.error !== undefined) this.logger.info({ topic: p.topic, partition: p.partition, error: p.error }, 'partition reassignment refused');
    }
    return decision.reply;
  }

  listPartitionReassignments(topics?: string[]): ListPartitionReassignmentsResponse {
    this.checkUsable();
    return { reassignments: listPartitionReassignments(this.state, topics) };
  }

  /**
   * Completes the reassignments that can complete. Called at start, after broker changes and on
   * the controller's timer; each completion also happens within the AlterPartition that allows it.
   */
  resumeReassignments(): void {
    if (this.failure || this.closed || this.state.reassigning.size === 0) return;
    this.commit(completeReassignments(this.state));
  }

  /** Admin `elect-leaders`: preferred-replica election for a topic (optionally some partitions). */
  electLeaders(request: ElectLeadersRequest): ElectLeadersResponse {
    const topic = this.state.topics.get(request.topic);
    if (topic === undefined) {
      throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${request.topic}' does not exist`);
    }
    for (const p of request.partitions ?? []) {
      if (topic.partitions[p] === undefined) {
        throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `${request.topic}-${p} does not exist`);
      }
    }
    const wanted = request.partitions === undefined ? null : new Set(request.partitions);
    const draft = new Draft(this.state);
    const elected = electPreferredLeaders(draft, (t, p) => t.name === request.topic && (wanted === null || wanted.has(p.partition)));
    this.commit(draft.records);
    return { elected: elected.map(({ partition, leader }) => ({ partition, leader })) };
  }

  /** auto.leader.rebalance.enable: preferred-replica election everywhere. Called on a timer. */
  rebalanceLeaders(): void {
    if (!this.autoLeaderRebalanceEnable || this.failure || this.closed) return;
    if (!preferredLeaderElectionPending(this.state)) return;
    const draft = new Draft(this.state);
    const elected = electPreferredLeaders(draft);
    if (elected.length > 0) this.logger.info({ partitions: elected.length }, 'preferred leader election');
    this.commit(draft.records);
  }

  // --- Users and ACLs (security.ts) -----------------------------------------------------------

  alterUserScramCredentials(request: AlterUserScramCredentialsRequest): AlterUserScramCredentialsResponse {
    const decision = alterUserScramCredentials(this.state, request);
    this.commit(decision.records);
    return decision.reply;
  }

  describeUserScramCredentials(users?: string[]): DescribeUserScramCredentialsResponse {
    this.checkUsable();
    return describeUserScramCredentials(this.state, users);
  }

  /** Creates the user with this password unless it has a credential already (`--bootstrap-user`). */
  bootstrapUser(user: string, password: string): boolean {
    const records = bootstrapUserRecords(this.state, user, password);
    this.commit(records);
    return records.length > 0;
  }

  createAcls(request: CreateAclsRequest): CreateAclsResponse {
    const decision = createAcls(this.state, request, this.newId);
    this.commit(decision.records);
    return decision.reply;
  }

  describeAcls(filter?: AclBindingFilter): { acls: AclBinding[] } {
    this.checkUsable();
    return { acls: describeAcls(this.state, filter) };
  }

  deleteAcls(request: DeleteAclsRequest): DeleteAclsResponse {
    const decision = deleteAcls(this.state, request);
    this.commit(decision.records);
    return decision.reply;
  }

  // --- Producer ids -----------------------------------------------------------------------------

  initProducerId(): InitProducerIdResponse {
    const decision = initProducerId(this.state);
    this.commit(decision.records);
    this.state.nextProducerId = decision.producerId + 1;
    return { producerId: decision.producerId, producerEpoch: 0 };
  }

  // --- Log and apply ----------------------------------------------------------------------------

  private checkUsable(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new TributaryError('BROKER_NOT_AVAILABLE', 'the controller is shutting down');
  }

  /** Appends (durably) then applies; a failed append applies nothing and stops all writes. */
  private commit(records: readonly MetadataRecord[]): void {
    this.checkUsable();
    if (records.length === 0) return;
    try {
      this.log.append(records);
    } catch (err) {
      this.failure = new TributaryError('KAFKA_STORAGE_ERROR', `metadata log append failed: ${(err as Error).message}`, { cause: err });
      this.logger.error({ err }, 'metadata log append failed; refusing further changes');
      throw this.failure;
    }
    const applied: AppliedRecord[] = [];
    for (const record of records) {
      const before = record.type === 'PartitionChange' ? this.state.partition(record.topic, record.partition) : undefined;
      const entry: AppliedRecord = before ? { record, before: clonePartition(before) } : { record };
      this.state.apply(record);
      this.deltas.note(record, this.state.version);
      this.logApplied(entry);
      applied.push(entry);
    }
    for (const listener of this.listeners) listener(applied);
    this.maybeSnapshot();
    // A broker that registered, came back or was fenced may let a waiting reassignment complete
    // (a target replica that can lead now): decided on the new state, as a commit of its own.
    if (this.state.reassigning.size > 0 && records.some((r) => r.type === 'RegisterBroker' || r.type === 'UnfenceBroker' || r.type === 'FenceBroker')) {
      this.commit(completeReassignments(this.state));
    }
  }

  /**
   * Writes a snapshot once snapshotIntervalRecords records were appended since the last, then lets
   * the log drop what the older of the two snapshots kept covers. A failed write is logged and
   * changes nothing: the log still holds every record.
   */
  private maybeSnapshot(): void {
    if (this.snapshots === undefined || this.state.version - this.lastSnapshotVersion < this.snapshotIntervalRecords) return;
    this.writeSnapshot();
  }

  /** Writes a snapshot of the current state now (also for tests and tools). */
  writeSnapshot(): void {
    if (this.snapshots === undefined) return;
    const started = performance.now();
    this.lastSnapshotVersion = this.state.version;
    try {
      const kept = this.snapshots.write(snapshotOf(this.state), this.now());
      const truncateTo = Math.min(...kept);
      this.log.truncateBefore(truncateTo);
      this.logger.info(
        {
          metadataVersion: this.state.version,
          snapshotsKept: kept,
          logStartOffset: this.log.logStartOffset,
          durationMs: Math.round(performance.now() - started),
        },
        'metadata snapshot written',
      );
    } catch (err) {
      this.logger.error({ err, metadataVersion: this.state.version }, 'metadata snapshot failed; the log keeps every record');
    }
  }

  private logApplied({ record, before }: AppliedRecord): void {
    const metadataVersion = this.state.version;
    switch (record.type) {
      case 'ClusterId':
        this.logger.info({ clusterId: record.clusterId, metadataVersion }, 'cluster id set');
        break;
      case 'RegisterBroker':
        this.logger.info(
          {
            brokerId: record.brokerId,
            brokerEpoch: record.brokerEpoch,
            rack: record.rack,
            incarnationId: record.incarnationId,
            internal: record.internal,
            external: record.external,
            metadataVersion,
          },
          'broker registered',
        );
        break;
      case 'FenceBroker':
        this.logger.info({ brokerId: record.brokerId, brokerEpoch: record.brokerEpoch, metadataVersion }, 'broker fenced');
        break;
      case 'UnfenceBroker':
        this.logger.info({ brokerId: record.brokerId, brokerEpoch: record.brokerEpoch, metadataVersion }, 'broker unfenced');
        break;
      case 'CreateTopic':
        this.logger.info(
          {
            topic: record.name,
            topicId: record.topicId,
            partitions: record.partitions.length,
            replicas: record.partitions.map((p) => p.replicas),
            configs: record.configs,
            metadataVersion,
          },
          'topic created',
        );
        break;
      case 'DeleteTopic':
        this.logger.info({ topic: record.name, topicId: record.topicId, metadataVersion }, 'topic deleted');
        break;
      case 'PartitionChange': {
        const fields = {
          topic: record.topic,
          partition: record.partition,
          leader: record.leader,
          leaderEpoch: record.leaderEpoch,
          partitionEpoch: record.partitionEpoch,
          isr: record.isr,
          metadataVersion,
        };
        if (before && record.replicas !== undefined) this.logReassignmentStep(record, before, fields);
        if (before && before.leader !== record.leader) {
          if (record.leader === NO_LEADER) {
            this.logger.warn({ ...fields, previousLeader: before.leader }, 'partition offline: no live in-sync replica');
          } else if (!before.isr.includes(record.leader)) {
            this.logger.warn(
              { ...fields, previousLeader: before.leader, previousIsr: before.isr },
              'unclean leader election: records only the old in-sync replicas held may be lost',
            );
          } else {
            this.logger.info({ ...fields, previousLeader: before.leader }, 'leader changed');
          }
        }
        if (before && (before.isr.length !== record.isr.length || before.isr.some((id) => !record.isr.includes(id)))) {
          this.logger.info(
            { ...fields, previousIsr: before.isr },
            record.isr.length < before.isr.length ? 'isr shrunk' : record.isr.length > before.isr.length ? 'isr expanded' : 'isr changed',
          );
        }
        break;
      }
      case 'CreatePartitions':
        this.logger.info(
          {
            topic: record.topic,
            topicId: record.topicId,
            partitions: record.partitions.map((p) => p.partition),
            replicas: record.partitions.map((p) => p.replicas),
            metadataVersion,
          },
          'partitions created',
        );
        break;
      case 'TopicConfig':
        this.logger.info({ topic: record.topic, topicId: record.topicId, configs: record.configs, metadataVersion }, 'topic config changed');
        break;
      case 'ProducerIdBlock':
        this.logger.info({ firstProducerId: record.firstProducerId, size: record.size, metadataVersion }, 'producer id block reserved');
        break;
      case 'BrokerConfig':
        this.logger.info({ brokerId: record.brokerId, configs: record.configs, metadataVersion }, 'broker config changed');
        break;
      // Never the keys: who and which mechanism only.
      case 'UserScramCredential':
        this.logger.info({ user: record.name, mechanism: record.mechanism, iterations: record.iterations, metadataVersion }, 'user credential set');
        break;
      case 'RemoveUserScramCredential':
        this.logger.info({ user: record.name, mechanism: record.mechanism, metadataVersion }, 'user credential deleted');
        break;
      case 'AccessControlEntry': {
        const { type: _type, ...acl } = record;
        this.logger.info({ ...acl, metadataVersion }, 'acl created');
        break;
      }
      case 'RemoveAccessControlEntry':
        this.logger.info({ id: record.id, metadataVersion }, 'acl deleted');
        break;
    }
  }

  private logReassignmentStep(record: Extract<MetadataRecord, { type: 'PartitionChange' }>, before: PartitionState, fields: object): void {
    const adding = record.addingReplicas ?? [];
    const removing = record.removingReplicas ?? [];
    const wasReassigning = before.addingReplicas.length > 0 || before.removingReplicas.length > 0;
    if (adding.length > 0 || removing.length > 0) {
      this.logger.info(
        { ...fields, replicas: record.replicas, addingReplicas: adding, removingReplicas: removing, previousReplicas: before.replicas },
        'partition reassignment started',
      );
    } else if (!wasReassigning) {
      this.logger.info({ ...fields, replicas: record.replicas, previousReplicas: before.replicas }, 'partition replicas reordered');
    } else if (JSON.stringify(record.replicas) === JSON.stringify(targetReplicas(before))) {
      this.logger.info({ ...fields, replicas: record.replicas, removedReplicas: before.removingReplicas }, 'partition reassignment completed');
    } else {
      this.logger.info({ ...fields, replicas: record.replicas, droppedReplicas: before.addingReplicas }, 'partition reassignment cancelled');
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.log.close();
  }
}
