// Hosts the group coordinator (@tributary/coordinator) on a broker: the I/O its sans-I/O
// GroupCoordinator asks for. It follows which `__consumer_offsets` partitions this broker leads
// (Kafka's handleGroupImmigration / handleGroupEmigration: become leader → read the partition's
// log into the coordinator, answering COORDINATOR_LOAD_IN_PROGRESS meanwhile; stop leading →
// drop its groups, answering NOT_COORDINATOR), appends the coordinator's records with acks=all
// through the ReplicaManager's ordinary produce path (so the HW and min.insync.replicas rules
// hold for them as for any record), runs one timer per group at the deadline the coordinator
// names, parks the requests it answers later (joins, syncs, commits), and creates
// `__consumer_offsets` on the first FindCoordinator that finds it missing, as Kafka does.

import { randomUUID } from 'node:crypto';
import {
  CONSUMER_OFFSETS_TOPIC,
  LOG_OVERHEAD,
  TributaryError,
  decodeBatches,
  encodeBatch,
  readBatchHeader,
  lastOffsetOf,
  type CreateTopicRequest,
  type DescribedGroup,
  type Endpoint,
  type FindCoordinatorResponse,
  type GroupStateName,
  type JoinGroupResponse,
  type LeaveGroupResponse,
  type ListGroupsResponse,
  type OffsetCommitResponse,
  type OffsetFetchResponse,
  type DeleteGroupsResponse,
  type SyncGroupResponse,
} from '@tributary/protocol';
import {
  GroupCoordinator,
  partitionForGroup,
  type AppendRequest,
  type CommitInput,
  type CoordinatorOutput,
  type GroupCoordinatorConfig,
  type JoinRequestInput,
  type RequestId,
} from '@tributary/coordinator';
import type { ReplicaManager } from './replica-manager.ts';

export interface CoordinatorHostLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface CoordinatorHostOptions {
  brokerId: number;
  replicas: ReplicaManager;
  logger: CoordinatorHostLogger;
  coordinator: Partial<GroupCoordinatorConfig>;
  /** offsets.topic.num.partitions and offsets.topic.replication.factor, for creating the topic. */
  offsetsTopicPartitions: number;
  offsetsTopicReplicationFactor: number;
  /** offsets.commit.timeout.ms: the acks=all wait of every append. */
  offsetsCommitTimeoutMs: number;
  offsetsRetentionCheckIntervalMs: number;
  offsetsLoadBufferBytes: number;
  /** create-topic through the controller (the broker forwards admin operations). */
  createTopic: (request: CreateTopicRequest) => Promise<unknown>;
  now?: () => number;
  newId?: () => string;
  /** A broken invariant (not a TributaryError) in an append's completion: main.ts stops the broker. */
  onFatal?: (err: unknown) => void;
}

/**
 * The configs `__consumer_offsets` is created with (Kafka's offsets topic): compacted, so that
 * the latest record per key (an offset, a group) is kept and tombstones delete; min ISR 2 so an
 * acknowledged commit survives a broker; 100 MiB segments (offsets.topic.segment.bytes); and room
 * for a commit of every partition a request may name.
 */
export const CONSUMER_OFFSETS_CONFIGS = Object.freeze({
  'cleanup.policy': 'compact',
  'min.insync.replicas': 2,
  'segment.bytes': 100 * 1024 * 1024,
  'max.message.bytes': 8 * 1024 * 1024,
});

/** The least time between two requests to create __consumer_offsets. */
const CREATE_RETRY_MS = 1000;

type Waiter = { resolve: (value: unknown) => void; reject: (err: unknown) => void };

export class CoordinatorHost {
  readonly coordinator: GroupCoordinator;
  private readonly options: CoordinatorHostOptions;
  private readonly replicas: ReplicaManager;
  private readonly logger: CoordinatorHostLogger;
  private readonly now: () => number;
  private readonly waiters = new Map<RequestId, Waiter>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Loads in progress: partition → the leader epoch being loaded. */
  private readonly loading = new Map<number, number>();
  private nextRequest = 1;
  private creating: Promise<void> | undefined;
  private lastCreateProblem: string | undefined;
  private lastCreateAttemptMs = Number.NEGATIVE_INFINITY;
  private partitionCountFixed = false;
  private readonly retentionTimer: NodeJS.Timeout;
  private closed = false;
  /** Rebalances started per group this broker coordinated (for the metrics; kept across unloads). */
  readonly rebalances = new Map<string, number>();

  constructor(options: CoordinatorHostOptions) {
    this.options = options;
    this.replicas = options.replicas;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.coordinator = new GroupCoordinator({
      config: options.coordinator,
      newId: options.newId ?? randomUUID,
      partitionCount: options.offsetsTopicPartitions,
    });
    this.retentionTimer = setInterval(() => this.run(this.coordinator.expireOffsets(this.now())), options.offsetsRetentionCheckIntervalMs);
    this.retentionTimer.unref();
  }

  // ------------------------------------------------------------------ partitions

  /**
   * Brings the coordinator in line with the replicas: loads the `__consumer_offsets` partitions
   * this broker now leads (at a new leader epoch, again), unloads the ones it no longer leads.
   * Called after every pass of the ReplicaManager that changed a role, and every metadata version.
   */
  onRolesChanged(): void {
    if (this.closed) return;
    const topic = this.replicas.metadata.topic(CONSUMER_OFFSETS_TOPIC);
    if (topic !== undefined && topic.partitions.length !== this.coordinator.partitionCount) {
      // Kafka hashes over the topic's real partition count, read once; a topic grown later would
      // move groups between coordinators under their members, so that is not followed.
      if (!this.partitionCountFixed) this.coordinator.partitionCount = topic.partitions.length;
      else
        this.logger.warn(
          { partitions: topic.partitions.length, hashedOver: this.coordinator.partitionCount },
          '__consumer_offsets changed its partition count; groups stay placed by the count first seen',
        );
    }
    if (topic !== undefined) this.partitionCountFixed = true;
    const led = new Map<number, number>();
    for (const p of this.replicas.allPartitions()) {
      if (p.topic === CONSUMER_OFFSETS_TOPIC && p.isLeader && !p.removed) led.set(p.partition, p.leaderEpoch);
    }
    for (const owned of this.coordinator.ownedPartitions()) {
      if (led.get(owned.partition) !== owned.leaderEpoch) {
        this.loading.delete(owned.partition);
        this.run(this.coordinator.unload(owned.partition, this.now()));
      }
    }
    const owned = new Map(this.coordinator.ownedPartitions().map((o) => [o.partition, o.leaderEpoch]));
    for (const [partition, leaderEpoch] of led) {
      if (owned.get(partition) === leaderEpoch) continue;
      void this.load(partition, leaderEpoch);
    }
  }

  /**
   * Reads the partition's log from its start to its end into the coordinator, a buffer at a
   * time with a turn of the event loop between, and stops if the leadership changes meanwhile.
   */
  private async load(partition: number, leaderEpoch: number): Promise<void> {
    this.loading.set(partition, leaderEpoch);
    this.run(this.coordinator.beginLoad(partition, leaderEpoch, this.now()));
    const started = this.now();
    const stillOurs = () => {
      const p = this.replicas.getPartition(CONSUMER_OFFSETS_TOPIC, partition);
      return !this.closed && this.loading.get(partition) === leaderEpoch && p?.isLeader === true && p.leaderEpoch === leaderEpoch;
    };
    try {
      // Not in the metadata pass that made this broker the leader: a broker taking over many
      // partitions at once reads them a buffer at a time, between other work.
      await new Promise<void>((resolve) => setImmediate(resolve));
      let offset = this.replicas.getPartition(CONSUMER_OFFSETS_TOPIC, partition)?.log.logStartOffset ?? 0;
      for (;;) {
        if (!stillOurs()) return;
        const log = this.replicas.getPartition(CONSUMER_OFFSETS_TOPIC, partition)!.log;
        if (offset < log.logStartOffset) offset = log.logStartOffset;
        if (offset >= log.logEndOffset) break;
        const chunk = log.read(offset, this.options.offsetsLoadBufferBytes);
        if (chunk.length === 0) break;
        let next = offset;
        for (let pos = 0; pos < chunk.length; ) {
          const header = readBatchHeader(chunk, pos);
          next = lastOffsetOf(header) + 1;
          pos += header.batchLength + LOG_OVERHEAD;
        }
        const from = offset;
        this.coordinator.loadRecords(
          partition,
          leaderEpoch,
          decodeBatches(chunk).filter((r) => r.offset >= from),
        );
        offset = next;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (!stillOurs()) return;
      this.loading.delete(partition);
      this.run(this.coordinator.completeLoad(partition, leaderEpoch, this.now()));
      this.logger.info({ partition, leaderEpoch, durationMs: this.now() - started }, 'coordinator loaded __consumer_offsets partition');
    } catch (err) {
      if (!(err instanceof TributaryError)) throw err;
      // A partition that cannot be read (storage) serves nothing; the next role change, or this
      // retry, loads it again.
      this.logger.error({ partition, leaderEpoch, err }, 'could not load __consumer_offsets partition; retrying in 1 s');
      if (this.loading.get(partition) === leaderEpoch) {
        this.loading.delete(partition);
        this.run(this.coordinator.unload(partition, this.now()));
        setTimeout(() => this.onRolesChanged(), 1000).unref();
      }
    }
  }

  // ------------------------------------------------------------------ running outputs

  private run(out: CoordinatorOutput): void {
    for (const r of out.replies) {
      const w = this.waiters.get(r.to);
      if (w === undefined) continue;
      this.waiters.delete(r.to);
      if (r.error !== undefined) w.reject(r.error);
      else w.resolve(r.value);
    }
    for (const e of out.events) {
      this.logger[e.level](e.fields, e.msg);
      if (e.msg === 'preparing to rebalance') {
        const groupId = String(e.fields.groupId);
        this.rebalances.set(groupId, (this.rebalances.get(groupId) ?? 0) + 1);
      }
    }
    for (const [groupId, at] of out.timers) this.arm(groupId, at);
    for (const a of out.appends) this.append(a);
  }

  private arm(groupId: string, at: number | undefined): void {
    const existing = this.timers.get(groupId);
    if (existing !== undefined) clearTimeout(existing);
    this.timers.delete(groupId);
    if (at === undefined || this.closed) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(groupId);
        this.run(this.coordinator.onGroupTimer(groupId, this.now()));
      },
      Math.max(0, at - this.now()),
    );
    timer.unref();
    this.timers.set(groupId, timer);
  }

  /**
   * Appends the coordinator's records as one batch with acks=all, and reports how it ended. The
   * replica must still lead the partition at the epoch the coordinator loaded it under: records
   * decided under one leadership are never written under another.
   */
  private append(a: AppendRequest): void {
    const complete = (outcome: Parameters<GroupCoordinator['appendCompleted']>[1]) => {
      try {
        this.run(this.coordinator.appendCompleted(a.id, outcome, this.now()));
      } catch (err) {
        this.logger.error({ err }, 'group coordinator failed on an append completion');
        this.options.onFatal?.(err);
      }
    };
    const p = this.replicas.getPartition(CONSUMER_OFFSETS_TOPIC, a.partition);
    if (p === undefined || !p.isLeader || p.leaderEpoch !== a.leaderEpoch) {
      queueMicrotask(() =>
        complete({
          error: 'NOT_LEADER_OR_FOLLOWER',
          message: `broker ${this.options.brokerId} no longer leads ${CONSUMER_OFFSETS_TOPIC}-${a.partition} at epoch ${a.leaderEpoch}`,
        }),
      );
      return;
    }
    const records = encodeBatch(
      a.records.map((r) => ({ key: r.key, value: r.value })),
      { baseTimestamp: this.now() },
    );
    this.replicas
      .produce({
        acks: -1,
        timeoutMs: this.options.offsetsCommitTimeoutMs,
        internalTopicsAllowed: true,
        partitions: [{ topic: CONSUMER_OFFSETS_TOPIC, partition: a.partition, records }],
      })
      .then(
        ({ partitions }) => {
          const r = partitions[0]!;
          complete(r.error === undefined ? { baseOffset: r.baseOffset } : { error: r.error.code, message: r.error.message });
        },
        (err: unknown) => {
          if (err instanceof TributaryError) complete({ error: err.code, message: err.message });
          else {
            this.logger.error({ err }, 'append to __consumer_offsets failed unexpectedly');
            this.options.onFatal?.(err);
          }
        },
      );
  }

  /** Parks a request: its answer comes in some later output (or this one). */
  private request<T>(fn: (id: RequestId) => CoordinatorOutput): Promise<T> {
    if (this.closed) return Promise.reject(new TributaryError('NOT_COORDINATOR', `broker ${this.options.brokerId} is shutting down`));
    const id = this.nextRequest++;
    const promise = new Promise<T>((resolve, reject) => this.waiters.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    this.run(fn(id));
    return promise;
  }

  // ------------------------------------------------------------------ requests

  /**
   * FindCoordinator: the leader of the group's `__consumer_offsets` partition, at the address of
   * the listener asked. With no such topic yet it is created (Kafka creates it on first use) and
   * the answer is COORDINATOR_NOT_AVAILABLE until it has a leader: clients retry.
   */
  findCoordinator(key: string, listener: 'internal' | 'external'): FindCoordinatorResponse {
    if (key.length === 0 || key.length > 255) throw new TributaryError('INVALID_GROUP_ID', `group id must be 1-255 characters, got ${key.length}`);
    const metadata = this.replicas.metadata;
    const topic = metadata.topic(CONSUMER_OFFSETS_TOPIC);
    if (topic === undefined) {
      this.createOffsetsTopic();
      const why = this.lastCreateProblem === undefined ? 'it is being created' : this.lastCreateProblem;
      throw new TributaryError('COORDINATOR_NOT_AVAILABLE', `${CONSUMER_OFFSETS_TOPIC} does not exist yet: ${why}`);
    }
    const partition = partitionForGroup(key, topic.partitions.length);
    const leader = topic.partitions.find((p) => p.partition === partition)?.leader ?? -1;
    const broker = leader >= 0 ? metadata.broker(leader) : undefined;
    if (broker === undefined || !broker.alive)
      throw new TributaryError('COORDINATOR_NOT_AVAILABLE', `${CONSUMER_OFFSETS_TOPIC}-${partition} (group ${key}) has no live leader`);
    const endpoint: Endpoint = listener === 'external' ? broker.external : broker.internal;
    return { brokerId: broker.id, host: endpoint.host, port: endpoint.port };
  }

  private createOffsetsTopic(): void {
    // One request at a time, and at most one a second while they fail (clients retry FindCoordinator
    // every 100 ms to 1 s each; the controller need not hear each of them).
    if (this.creating !== undefined || this.now() - this.lastCreateAttemptMs < CREATE_RETRY_MS) return;
    this.lastCreateAttemptMs = this.now();
    const request: CreateTopicRequest = {
      name: CONSUMER_OFFSETS_TOPIC,
      partitions: this.options.offsetsTopicPartitions,
      replicationFactor: this.options.offsetsTopicReplicationFactor,
      configs: { ...CONSUMER_OFFSETS_CONFIGS },
    };
    this.logger.info({ partitions: request.partitions, replicationFactor: request.replicationFactor }, 'creating __consumer_offsets');
    this.creating = this.options
      .createTopic(request)
      .then(
        () => {
          this.lastCreateProblem = undefined;
        },
        (err: unknown) => {
          if (err instanceof TributaryError && err.code === 'TOPIC_ALREADY_EXISTS') return;
          const problem =
            err instanceof TributaryError && err.code === 'INVALID_REPLICATION_FACTOR'
              ? `fewer live brokers than offsets.topic.replication.factor ${request.replicationFactor} (--offsets-topic-replication-factor): ${err.message}`
              : `creating it failed: ${(err as Error).message}`;
          if (problem !== this.lastCreateProblem) this.logger.warn({ err }, `cannot create __consumer_offsets: ${problem}`);
          this.lastCreateProblem = problem;
        },
      )
      .finally(() => {
        this.creating = undefined;
      });
  }

  join(input: JoinRequestInput): Promise<JoinGroupResponse> {
    return this.request((id) => this.coordinator.join(id, input, this.now()));
  }

  sync(input: Parameters<GroupCoordinator['sync']>[1]): Promise<SyncGroupResponse> {
    return this.request((id) => this.coordinator.sync(id, input, this.now()));
  }

  heartbeat(input: Parameters<GroupCoordinator['heartbeat']>[1]): Promise<Record<string, never>> {
    return this.request((id) => this.coordinator.heartbeat(id, input, this.now()));
  }

  leave(input: Parameters<GroupCoordinator['leave']>[1]): Promise<LeaveGroupResponse> {
    return this.request((id) => this.coordinator.leave(id, input, this.now()));
  }

  commitOffsets(input: CommitInput): Promise<OffsetCommitResponse> {
    return this.request((id) => this.coordinator.commitOffsets(id, input, this.now(), this.knownPartition));
  }

  resetOffsets(input: { groupId: string; offsets: CommitInput['offsets'] }): Promise<OffsetCommitResponse> {
    return this.request((id) => this.coordinator.resetOffsets(id, input, this.now(), this.knownPartition));
  }

  fetchOffsets(groupId: string, partitions: { topic: string; partition: number }[] | undefined): OffsetFetchResponse {
    return this.coordinator.fetchOffsets(groupId, partitions);
  }

  listGroups(states: GroupStateName[] | undefined): ListGroupsResponse {
    return this.coordinator.listGroups(states);
  }

  describeGroups(groupIds: string[]): { groups: DescribedGroup[] } {
    return { groups: this.coordinator.describeGroups(groupIds) };
  }

  deleteGroups(groupIds: string[]): Promise<DeleteGroupsResponse> {
    return this.request((id) => this.coordinator.deleteGroups(id, groupIds, this.now()));
  }

  /** Offsets are committed only for partitions of the metadata (Kafka: UNKNOWN_TOPIC_OR_PARTITION). */
  private readonly knownPartition = (topic: string, partition: number): boolean => this.replicas.metadata.partition(topic, partition) !== undefined;

  /** For metrics: groups by state, and partitions by load state. */
  stats(): { groups: Map<GroupStateName, number>; partitionsActive: number; partitionsLoading: number } {
    const groups = new Map<GroupStateName, number>();
    let partitionsActive = 0;
    let partitionsLoading = 0;
    for (const p of this.coordinator.ownedPartitions()) {
      if (p.state === 'active') partitionsActive++;
      else partitionsLoading++;
    }
    for (const g of this.coordinator.groupStates()) groups.set(g, (groups.get(g) ?? 0) + 1);
    return { groups, partitionsActive, partitionsLoading };
  }

  /**
   * For the metrics: each committed offset of the groups this broker coordinates, with its
   * partition's lag where this broker hosts a replica of it (`highWatermark` answers undefined
   * elsewhere: `groups describe` asks the leaders).
   */
  groupOffsets(
    highWatermark: (topic: string, partition: number) => number | undefined,
  ): { groupId: string; topic: string; partition: number; committed: number; lag: number | undefined }[] {
    const out: { groupId: string; topic: string; partition: number; committed: number; lag: number | undefined }[] = [];
    const offsets = this.coordinator.offsets;
    for (const groupId of offsets.groupIds()) {
      for (const e of offsets.list(groupId)) {
        const hw = highWatermark(e.topic, e.partition);
        out.push({ groupId, topic: e.topic, partition: e.partition, committed: e.offset, lag: hw === undefined ? undefined : Math.max(0, hw - e.offset) });
      }
    }
    return out;
  }

  /** For the metrics: members and generation of each group this broker coordinates. */
  groupSizes(): { groupId: string; members: number; generationId: number }[] {
    const out: { groupId: string; members: number; generationId: number }[] = [];
    for (const groupId of this.coordinator.groupIds()) {
      const g = this.coordinator.group(groupId);
      if (g !== undefined) out.push({ groupId, members: g.size, generationId: g.generationId });
    }
    return out;
  }

  /** Answers every parked request NOT_COORDINATOR and stops the timers (the broker is closing). */
  close(): void {
    if (this.closed) return;
    for (const owned of this.coordinator.ownedPartitions()) this.run(this.coordinator.unload(owned.partition, this.now()));
    this.closed = true;
    clearInterval(this.retentionTimer);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const [id, w] of this.waiters) {
      this.waiters.delete(id);
      w.reject(new TributaryError('NOT_COORDINATOR', `broker ${this.options.brokerId} is shutting down`));
    }
  }
}
