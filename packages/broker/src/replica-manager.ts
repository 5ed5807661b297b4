// Owns every partition replica on this broker (Kafka's ReplicaManager): applies each metadata
// version (become leader / follower, create and delete logs), serves produce, fetch, replica
// fetch and list-offsets against the partitions, and parks waiting requests until an append or a
// high-watermark move wakes them (never polling). HTTP lives in broker-service.ts; the pulling
// side of replication in replica-fetcher.ts.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLUSTER_DEFAULTS,
  DEFAULT_TOPIC_CONFIGS,
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  LOG_OVERHEAD,
  TributaryError,
  isInternalTopic,
  lastOffsetOf,
  retentionDeletes,
  readBatchHeader,
  type AlterPartitionRequest,
  type BrokerId,
  type DescribeReplicasResponse,
  type ErrorCode,
  type FetchPartitionResponse,
  type ListOffsetsResponse,
  type PartitionState,
  type ProducePartitionResponse,
  type ReplicaDigest,
  type ReplicaDigestsResponse,
  type ReplicaFetchPartitionResponse,
  type MetadataPollResponse,
  type TopicConfigs,
  type TopicState,
  type WireError,
  isMetadataDelta,
} from '@tributary/protocol';
import { logConfigFromTopic, type Log, type LogManager } from '@tributary/storage';
import { BackgroundWork } from './background-work.ts';
import type { CleanableLog } from './log-cleaner.ts';
import { FetchSessionCache, isQuiet, type FetchRead, type FetchSession, type PartitionFetch } from './fetch-session.ts';
import { MetadataCache } from './metadata-cache.ts';
import { Partition, type PartitionLogger } from './partition.ts';
import type { IsrProposal } from './partition-state.ts';
import { ReplicationQuota, throttleDecision } from './throttle.ts';

/** Broker dynamic configs (KIP-73 replication quotas, bytes/s), read from this broker's registration. */
export const LEADER_THROTTLE_CONFIG = 'leader.replication.throttled.rate';
export const FOLLOWER_THROTTLE_CONFIG = 'follower.replication.throttled.rate';

const EMPTY = Buffer.alloc(0);
/** Kafka's partition.metadata: the topic id a log belongs to, so a re-created topic starts clean. */
const PARTITION_METADATA_FILE = 'partition.metadata';

export interface ReplicaManagerLogger extends PartitionLogger {
  error(obj: object, msg: string): void;
  debug?(obj: object, msg: string): void;
}

export interface ReplicaManagerOptions {
  brokerId: BrokerId;
  rack: string;
  logs: LogManager;
  replicaLagTimeMaxMs: number;
  /** Kafka's producer.id.expiration.ms (default CLUSTER_DEFAULTS.producerIdExpirationMs, one day). */
  producerIdExpirationMs?: number;
  logger: ReplicaManagerLogger;
  now?: () => number;
  /** AlterPartition to the controller; resolves with the partition state it committed. */
  alterPartition: (request: Omit<AlterPartitionRequest, 'brokerId' | 'brokerEpoch'>) => Promise<PartitionState>;
  /** Told the partitions this broker follows, grouped by leader, after every metadata change. */
  onFollowersChanged?: (byLeader: Map<BrokerId, Partition[]>) => void;
  /**
   * Called after a pass in which a replica was opened or removed here or changed role, leader
   * or leader epoch (the group coordinator loads and unloads `__consumer_offsets` partitions on it).
   */
  onRolesChanged?: () => void;
  onIsrChange?: (kind: 'shrink' | 'expand') => void;
  /** Replica fetch sessions kept as leader (Kafka's max.incremental.fetch.session.cache.slots, default 1000). */
  fetchSessionCacheSlots?: number;
  /** After a failed AlterPartition, wait this long before proposing again (default 500). */
  alterPartitionRetryMs?: number;
  /**
   * Opening partition logs stops after this many ms of one metadata pass and goes on in the next
   * turn of the event loop (default 100). Creating a log costs several file creations, which on
   * a busy ext4 after a big delete take milliseconds each: a 1000-partition topic (500 replicas
   * here) blocked a broker for 3+ s in one pass, past the session timeout, and the controller
   * fenced every broker at once.
   */
  openBudgetMs?: number;
}

export interface ProduceInput {
  acks: -1 | 0 | 1;
  timeoutMs: number;
  partitions: { topic: string; partition: number; records: Buffer }[];
  /**
   * Kafka's internalTopicsAllowed: only the broker's own group coordinator writes to internal
   * topics (`__consumer_offsets`); a client's produce to one is refused (INVALID_TOPIC).
   */
  internalTopicsAllowed?: boolean;
}

export interface FetchInput {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  rack: string | undefined;
  partitions: { topic: string; partition: number; offset: number; maxBytes: number; currentLeaderEpoch: number | undefined }[];
}

export interface ReplicaFetchInput {
  brokerId: BrokerId;
  brokerEpoch: number;
  maxWaitMs: number;
  maxBytes: number;
  /** KIP-227 (fetch-session.ts); absent: a full fetch with no session. */
  sessionId?: number;
  sessionEpoch?: number;
  forgotten?: { topic: string; partition: number }[];
  partitions: PartitionFetch[];
}

function wireError(err: unknown): WireError {
  if (err instanceof TributaryError) return err.toWire();
  throw err;
}

export class ReplicaManager {
  readonly brokerId: BrokerId;
  readonly rack: string;
  private readonly logs: LogManager;
  private readonly options: ReplicaManagerOptions;
  private readonly now: () => number;
  private readonly logger: ReplicaManagerLogger;
  private readonly fetchSessions: FetchSessionCache;
  private readonly partitions = new Map<string, Partition>();
  metadata: MetadataCache = MetadataCache.empty();
  /**
   * Some topic names throttled replicas (leader or follower list): the replication rates then
   * apply to the listed replicas only (Kafka); while none does, to all replication (throttle.ts).
   */
  throttleListsInUse = false;
  /** leader.replication.throttled.rate's bucket: what this broker sends to throttled followers. */
  readonly leaderQuota = new ReplicationQuota();
  private closed = false;
  private deferredVersionLogged = -1;
  private readonly closeListeners = new Set<() => void>();
  /** Producer-state loads of replicas whose logs were on disk (partition.ts), a slice per turn. */
  readonly background: BackgroundWork;

  constructor(options: ReplicaManagerOptions) {
    this.options = options;
    this.brokerId = options.brokerId;
    this.rack = options.rack;
    this.logs = options.logs;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.background = new BackgroundWork({ onError: (err) => this.logger.error({ err }, 'background work failed') });
    this.fetchSessions = new FetchSessionCache({ maxSessions: options.fetchSessionCacheSlots ?? 1000 });
  }

  /** Replica fetch sessions open here as leader. */
  get fetchSessionCount(): number {
    return this.fetchSessions.size;
  }

  get partitionCount(): number {
    return this.partitions.size;
  }

  allPartitions(): IterableIterator<Partition> {
    return this.partitions.values();
  }

  getPartition(topic: string, partition: number): Partition | undefined {
    return this.partitions.get(`${topic}-${partition}`);
  }

  // ------------------------------------------------------------------ metadata

  /**
   * Applies a newer metadata version: creates the logs of every replica assigned here, moves each
   * partition to its role, deletes the logs of partitions no longer here (deleted topics,
   * re-created topics), and re-plans the fetchers. A delta (what changed since the version held)
   * walks only the partitions it changed; the whole metadata walks every one. Returns false when
   * a delta does not fit the version held (the caller then asks for the whole metadata).
   */
  applyMetadata(md: MetadataPollResponse): boolean {
    if (this.closed || md.version <= this.metadata.version) return true;
    let changed: Map<string, { topic: string; partition: number }> | null = null;
    if (isMetadataDelta(md)) {
      let next: ReturnType<MetadataCache['withDelta']>;
      try {
        next = this.metadata.withDelta(md);
      } catch (err) {
        if (!(err instanceof TributaryError)) throw err;
        this.logger.warn({ err, version: md.version, heldVersion: this.metadata.version }, 'metadata delta does not apply; asking for the whole metadata');
        return false;
      }
      this.metadata = next.cache;
      changed = next.changes.partitions;
      // A deleted or re-created topic: every replica of it held here is looked at again.
      if (next.changes.replacedTopics.size > 0) {
        for (const p of this.partitions.values()) {
          if (next.changes.replacedTopics.has(p.topic)) changed.set(p.key, { topic: p.topic, partition: p.partition });
        }
      }
    } else {
      this.metadata = new MetadataCache(md);
    }
    this.throttleListsInUse = this.metadata
      .allTopics()
      .some(
        (t) => (t.configs?.['leader.replication.throttled.replicas'] ?? '') !== '' || (t.configs?.['follower.replication.throttled.replicas'] ?? '') !== '',
      );
    this.reconcile(changed);
    return true;
  }

  /** Replicas assigned here whose logs are not open yet: opened over the next passes (openBudgetMs). */
  private readonly pendingOpen = new Map<string, { topic: string; partition: number }>();
  private openScheduled = false;

  /**
   * One pass over the current metadata: every partition (`changed` null: the whole metadata
   * arrived), or those a delta changed plus those still waiting to be opened. Partitions whose
   * logs are not open yet are opened until openBudgetMs has passed (one at least); the rest wait
   * for the next pass, scheduled here, so heartbeats and requests are served in between. Until
   * its log is open a replica answers NOT_LEADER_OR_FOLLOWER, which clients retry.
   */
  private reconcile(changed: Map<string, { topic: string; partition: number }> | null): void {
    const md = this.metadata;
    const started = performance.now();
    const budgetMs = this.options.openBudgetMs ?? 100;
    let opened = 0;
    const nowMs = this.now();
    let rolesChanged = false;
    const visit = (topic: TopicState, ps: PartitionState): void => {
      const configs = topic.configs ?? DEFAULT_TOPIC_CONFIGS;
      const key = `${topic.name}-${ps.partition}`;
      let p = this.partitions.get(key);
      if (p !== undefined && p.topicId !== topic.topicId) {
        // A topic of the same name under a new id: the old log is set aside, never deleted.
        this.removePartition(p, 'topic re-created', 'set-aside');
        p = undefined;
      }
      if (p === undefined) {
        if (opened > 0 && performance.now() - started >= budgetMs) {
          this.pendingOpen.set(key, { topic: topic.name, partition: ps.partition });
          return;
        }
        opened++;
        this.pendingOpen.delete(key);
        try {
          p = this.openPartition(topic.name, ps.partition, topic.topicId, configs);
        } catch (err) {
          // A disk that cannot hold this log must not stop the others; the next metadata
          // version tries again.
          if (!(err instanceof TributaryError)) throw err;
          this.logger.error({ topic: topic.name, partition: ps.partition, err }, 'could not open partition log');
          return;
        }
        rolesChanged = true;
      }
      (this.logs.get(topic.name, ps.partition) as Log | undefined)?.updateConfig(logConfigFromTopic(configs));
      try {
        if (p.applyState(ps, configs, (id) => this.metadata.isAlive(id), nowMs) !== undefined) rolesChanged = true;
      } catch (err) {
        if (!(err instanceof TributaryError)) throw err;
        this.logger.error({ topic: topic.name, partition: ps.partition, err }, 'could not apply partition state');
      }
    };
    if (changed === null) {
      this.pendingOpen.clear();
      const wanted = new Set<string>();
      for (const topic of md.allTopics()) {
        for (const ps of topic.partitions) {
          if (!ps.replicas.includes(this.brokerId)) continue;
          wanted.add(`${topic.name}-${ps.partition}`);
          visit(topic, ps);
        }
      }
      // Partitions this broker served under this metadata, now gone from it: a deletion (or a
      // move) it saw happen, so their data goes, as in Kafka.
      for (const p of [...this.partitions.values()]) {
        if (!wanted.has(p.key)) {
          this.removePartition(p, this.metadata.topic(p.topic) === undefined ? 'topic deleted' : 'replica moved away', 'delete');
          rolesChanged = true;
        }
      }
      // Logs on disk that no partition claims: this broker never saw them deleted (it was down, or
      // the metadata is not the one they were written under). They are set aside (KRaft's
      // `-stray`), never deleted: only an operator knows whether they are garbage.
      for (const { topic, partition } of this.logs.all()) {
        const key = `${topic}-${partition}`;
        if (!wanted.has(key) && !this.pendingDeletes.has(key)) this.setAside(topic, partition, 'no partition of the metadata claims it');
      }
    } else {
      const look = new Map(changed);
      for (const [key, at] of this.pendingOpen) look.set(key, at);
      for (const [key, at] of look) {
        const topic = md.topic(at.topic);
        const ps = topic?.partitions[at.partition];
        if (topic !== undefined && ps?.replicas.includes(this.brokerId)) {
          visit(topic, ps);
          continue;
        }
        this.pendingOpen.delete(key);
        const held = this.partitions.get(key);
        if (held !== undefined) {
          this.removePartition(held, topic === undefined ? 'topic deleted' : 'replica moved away', 'delete');
          rolesChanged = true;
        }
      }
    }
    if (rolesChanged) {
      this.options.onFollowersChanged?.(this.followedByLeader());
      this.options.onRolesChanged?.();
    }
    if (this.pendingOpen.size > 0 && !this.openScheduled) {
      if (this.deferredVersionLogged !== md.version) {
        this.deferredVersionLogged = md.version;
        this.logger.info(
          { openedThisPass: opened, waiting: this.pendingOpen.size, budgetMs, version: md.version },
          'opening partition logs over several passes',
        );
      }
      this.openScheduled = true;
      setImmediate(() => {
        this.openScheduled = false;
        // Whatever version is current by then: its partitions still waiting are opened.
        if (!this.closed && this.pendingOpen.size > 0) this.reconcile(new Map());
      });
    }
  }

  private openPartition(topic: string, partition: number, topicId: string, configs: TopicConfigs): Partition {
    const waiting = this.pendingDeletes.get(`${topic}-${partition}`);
    if (waiting !== undefined) {
      // A removed log of the same name not deleted yet: it goes first, so this one starts empty.
      this.pendingDeletes.delete(`${topic}-${partition}`);
      this.logs.delete(topic, partition);
    }
    let log = this.logs.get(topic, partition);
    if (log !== undefined) {
      const file = join(log.dir, PARTITION_METADATA_FILE);
      let known: string | undefined;
      try {
        known = existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
      } catch (err) {
        throw new TributaryError('KAFKA_STORAGE_ERROR', `reading ${file}: ${(err as Error).message}`, { cause: err });
      }
      if (known !== undefined && known !== topicId) {
        // Another topic of the same name wrote this log. Set aside, never deleted; if that fails
        // the new topic's replica does not open here (a storage error), and the old data stays.
        const aside = this.logs.renameAside(topic, partition);
        this.logger.warn({ topic, partition, topicId, oldTopicId: known, setAsideAt: aside }, 'log of another topic id set aside');
        log = undefined;
      }
    }
    log ??= this.logs.getOrCreate(topic, partition, logConfigFromTopic(configs));
    try {
      writeFileSync(join(log.dir, PARTITION_METADATA_FILE), `${topicId}\n`);
    } catch (err) {
      throw new TributaryError('KAFKA_STORAGE_ERROR', `writing ${PARTITION_METADATA_FILE} of ${topic}-${partition}: ${(err as Error).message}`, { cause: err });
    }
    const hw = this.highWatermarksAtStart?.get(`${topic}-${partition}`) ?? 0;
    const p = new Partition(topic, partition, topicId, log, configs, hw, {
      brokerId: this.brokerId,
      replicaLagTimeMaxMs: this.options.replicaLagTimeMaxMs,
      logger: this.logger,
      proposeIsr: (part, proposal) => this.sendAlterPartition(part, proposal),
      onIsrChange: this.options.onIsrChange,
      now: this.now,
      background: this.background,
      onFetchStateChanged: (part, wake) => this.fetchSessions.markChanged(part.key, wake),
    });
    this.partitions.set(p.key, p);
    this.logger.info({ topic, partition, logEndOffset: log.logEndOffset, highWatermark: p.highWatermark }, 'opened partition');
    return p;
  }

  private highWatermarksAtStart: Map<string, number> | undefined;

  /** Opens the logs already on disk and reads the HW checkpoint; call once before metadata. */
  loadLogs(): void {
    this.logs.loadAll(() => logConfigFromTopic(DEFAULT_TOPIC_CONFIGS));
    this.highWatermarksAtStart = this.logs.readHighWatermarks();
    const stray = this.logs.strayDirs();
    if (stray.length > 0) this.logger.warn({ strayDirs: stray }, 'data dir holds logs set aside earlier; remove them by hand once they are not needed');
  }

  private removePartition(p: Partition, reason: string, disposal: 'delete' | 'set-aside'): void {
    p.shutdown();
    this.partitions.delete(p.key);
    this.logger.info({ topic: p.topic, partition: p.partition, reason, disposal }, 'removing partition');
    if (disposal === 'delete') {
      this.pendingDeletes.set(p.key, { topic: p.topic, partition: p.partition });
      this.scheduleDeletes();
    } else {
      this.setAside(p.topic, p.partition, reason);
    }
  }

  /**
   * Logs of removed partitions waiting to be deleted from disk. Deleting a log is several file
   * removals, milliseconds each on a busy disk: the 5000 replicas a broker holds of a deleted
   * 10,000-partition topic, deleted in one pass, blocked every broker past its session timeout
   * and the controller fenced them all. They are deleted over several turns of the event loop
   * instead, at most openBudgetMs each; a log of the same name opened meanwhile is deleted first.
   */
  private readonly pendingDeletes = new Map<string, { topic: string; partition: number }>();
  private deleteScheduled = false;

  private scheduleDeletes(): void {
    if (this.deleteScheduled) return;
    this.deleteScheduled = true;
    setImmediate(() => {
      this.deleteScheduled = false;
      this.runDeletes(this.options.openBudgetMs ?? 100);
    });
  }

  private runDeletes(budgetMs: number): void {
    const started = performance.now();
    let deleted = 0;
    for (const [key, at] of this.pendingDeletes) {
      if (deleted > 0 && performance.now() - started >= budgetMs) break;
      this.pendingDeletes.delete(key);
      this.safely(() => this.logs.delete(at.topic, at.partition));
      deleted++;
    }
    if (this.pendingDeletes.size > 0) this.scheduleDeletes();
  }

  private setAside(topic: string, partition: number, reason: string): void {
    this.safely(() => {
      const aside = this.logs.renameAside(topic, partition);
      if (aside !== undefined)
        this.logger.warn({ topic, partition, reason, setAsideAt: aside }, 'stray log set aside (not deleted); remove it by hand once it is not needed');
    });
  }

  private followedByLeader(): Map<BrokerId, Partition[]> {
    const out = new Map<BrokerId, Partition[]>();
    for (const p of this.partitions.values()) {
      if (p.role !== 'follower' || p.leaderId < 0 || p.leaderId === this.brokerId) continue;
      let list = out.get(p.leaderId);
      if (list === undefined) {
        list = [];
        out.set(p.leaderId, list);
      }
      list.push(p);
    }
    return out;
  }

  private sendAlterPartition(p: Partition, proposal: IsrProposal): void {
    this.options
      .alterPartition({
        topic: p.topic,
        partition: p.partition,
        leaderEpoch: proposal.leaderEpoch,
        partitionEpoch: proposal.partitionEpoch,
        newIsr: proposal.newIsr,
        joiningEpochs: proposal.joiningEpochs,
      })
      .then((state) => {
        if (this.partitions.get(p.key) !== p) return;
        if (state.leaderEpoch !== p.leaderEpoch) {
          p.alterPartitionFailed(proposal);
          return;
        }
        p.applyState(state, p.configs, (id) => this.metadata.isAlive(id), this.now());
        p.alterPartitionFailed(proposal);
      })
      .catch((err: unknown) => {
        this.logger.warn({ topic: p.topic, partition: p.partition, leaderEpoch: proposal.leaderEpoch, newIsr: proposal.newIsr, err }, 'alter partition failed');
        // Keep the proposal in flight a little longer: the usual cause is stale metadata, which
        // the long poll is about to replace.
        const retryMs = this.options.alterPartitionRetryMs ?? 500;
        if (retryMs <= 0) p.alterPartitionFailed(proposal);
        else setTimeout(() => p.alterPartitionFailed(proposal), retryMs).unref();
      });
  }

  /** Leaders check their followers every replica.lag.time.max.ms / 2. */
  checkIsr(): void {
    const nowMs = this.now();
    for (const p of this.partitions.values()) if (p.isLeader) p.maybeShrinkIsr(nowMs);
  }

  /** Where the metadata says a partition is, for the right error. */
  private lookup(topic: string, partition: number): Partition {
    const p = this.partitions.get(`${topic}-${partition}`);
    if (p !== undefined) return p;
    if (this.metadata.partition(topic, partition) === undefined) {
      throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `${topic}-${partition} does not exist (metadata version ${this.metadata.version})`);
    }
    throw new TributaryError('NOT_LEADER_OR_FOLLOWER', `broker ${this.brokerId} holds no replica of ${topic}-${partition}`);
  }

  private leaderFor(topic: string, partition: number): Partition {
    const p = this.lookup(topic, partition);
    if (!p.isLeader)
      throw new TributaryError('NOT_LEADER_OR_FOLLOWER', `broker ${this.brokerId} is not the leader of ${topic}-${partition} (leader: ${p.leaderId})`);
    return p;
  }

  // ------------------------------------------------------------------ produce

  /**
   * Appends each partition's batch as leader. acks=0/1 answer once appended; acks=all waits until
   * the HW passes each batch, the ISR falls below min (NOT_ENOUGH_REPLICAS_AFTER_APPEND), or
   * timeoutMs passes (REQUEST_TIMED_OUT): one timer per request, not per record.
   */
  async produce(input: ProduceInput): Promise<{ partitions: ProducePartitionResponse[]; bytesIn: number }> {
    const acksAll = input.acks === -1;
    const results: ProducePartitionResponse[] = [];
    const waits: { index: number; wait: ReturnType<Partition['waitForHighWatermark']> }[] = [];
    let bytesIn = 0;
    for (const entry of input.partitions) {
      const result: ProducePartitionResponse = { topic: entry.topic, partition: entry.partition, baseOffset: -1 };
      results.push(result);
      try {
        if (input.internalTopicsAllowed !== true && isInternalTopic(entry.topic)) {
          throw new TributaryError('INVALID_TOPIC', `cannot append to internal topic ${entry.topic}: only the group coordinator writes to it`);
        }
        const p = this.leaderFor(entry.topic, entry.partition);
        const appended = p.appendAsLeader(entry.records, acksAll);
        result.baseOffset = appended.baseOffset;
        if (!appended.duplicate) bytesIn += entry.records.length;
        if (acksAll) waits.push({ index: results.length - 1, wait: p.waitForHighWatermark(appended.lastOffset + 1) });
      } catch (err) {
        result.error = this.storageAware(err, entry.topic, entry.partition);
      }
    }
    if (waits.length > 0) {
      const timer = setTimeout(() => {
        for (const w of waits) w.wait.cancel('REQUEST_TIMED_OUT');
      }, input.timeoutMs);
      try {
        const outcomes = await Promise.all(waits.map((w) => w.wait.promise));
        outcomes.forEach((code, i) => {
          if (code !== undefined) {
            const r = results[waits[i]!.index]!;
            r.error = { code, message: this.waitErrorMessage(code, r, input.timeoutMs) };
          }
        });
      } finally {
        clearTimeout(timer);
      }
    }
    return { partitions: results, bytesIn };
  }

  private waitErrorMessage(code: ErrorCode, r: ProducePartitionResponse, timeoutMs: number): string {
    const tp = `${r.topic}-${r.partition}`;
    if (code === 'REQUEST_TIMED_OUT') return `${tp}: offset ${r.baseOffset} not committed by the ISR within ${timeoutMs} ms`;
    if (code === 'NOT_ENOUGH_REPLICAS_AFTER_APPEND')
      return `${tp}: appended at ${r.baseOffset}, but the ISR fell below min.insync.replicas before it was committed`;
    return `${tp}: leadership moved before offset ${r.baseOffset} was committed`;
  }

  /** Turns an operating error into a wire error; storage failures are logged loudly. */
  private storageAware(err: unknown, topic: string, partition: number): WireError {
    const wire = wireError(err);
    if (wire.code === 'KAFKA_STORAGE_ERROR') this.logger.error({ topic, partition, err }, 'storage error');
    return wire;
  }

  // ------------------------------------------------------------------ consumer fetch

  /**
   * Consumer fetch: whole batches below each partition's HW, at most maxBytes per partition and
   * per request (the first batch always goes whole, so a big batch cannot stall a consumer).
   * Waits up to maxWaitMs for minBytes, woken by HW moves.
   */
  async fetch(input: FetchInput): Promise<{ partitions: FetchPartitionResponse[]; bytesOut: number }> {
    const deadline = this.now() + input.maxWaitMs;
    for (;;) {
      const { partitions, bytes, hasError, watch } = this.readForConsumers(input);
      const remaining = deadline - this.now();
      if (bytes >= input.minBytes || hasError || remaining <= 0 || this.closed || watch.length === 0) {
        return { partitions, bytesOut: bytes };
      }
      await this.waitForAny(watch, 'hw', remaining);
    }
  }

  private readForConsumers(input: FetchInput): { partitions: FetchPartitionResponse[]; bytes: number; hasError: boolean; watch: Partition[] } {
    const out: FetchPartitionResponse[] = [];
    const watch: Partition[] = [];
    let budget = input.maxBytes;
    let bytes = 0;
    let hasError = false;
    for (const req of input.partitions) {
      const resp: FetchPartitionResponse = { topic: req.topic, partition: req.partition, highWatermark: -1, logStartOffset: -1, records: EMPTY };
      out.push(resp);
      try {
        const p = this.lookup(req.topic, req.partition);
        // KIP-392: a follower serves consumers that name their rack, up to its own HW.
        if (!p.isLeader && (input.rack === undefined || p.leaderId < 0)) {
          throw new TributaryError('NOT_LEADER_OR_FOLLOWER', `broker ${this.brokerId} is not the leader of ${p.key} (leader: ${p.leaderId})`);
        }
        p.checkLeaderEpoch(req.currentLeaderEpoch);
        resp.highWatermark = p.highWatermark;
        resp.logStartOffset = p.log.logStartOffset;
        if (p.isLeader && input.rack !== undefined) {
          const preferred = this.preferredReadReplica(p, input.rack);
          if (preferred !== undefined) {
            resp.preferredReadReplica = preferred;
            continue;
          }
        }
        const max = Math.min(req.maxBytes, bytes === 0 ? Math.max(budget, 1) : budget);
        if (max <= 0) continue;
        const records = p.readForConsumer(req.offset, max);
        resp.records = records;
        bytes += records.length;
        budget -= records.length;
        watch.push(p);
      } catch (err) {
        resp.error = this.storageAware(err, req.topic, req.partition);
        hasError = true;
      }
    }
    return { partitions: out, bytes, hasError, watch };
  }

  /** An in-sync, live replica in the consumer's rack other than the leader, if the leader is not there. */
  private preferredReadReplica(p: Partition, rack: string): BrokerId | undefined {
    if (rack === this.rack) return undefined;
    for (const id of p.isr) {
      if (id === this.brokerId) continue;
      const b = this.metadata.broker(id);
      if (b?.alive && b.rack === rack) return id;
    }
    return undefined;
  }

  /** Resolves on the first wake of any partition, on close, or after timeoutMs. */
  private waitForAny(partitions: Partition[], kind: 'hw' | 'append', timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const offs: (() => void)[] = [];
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const off of offs) off();
        this.closeListeners.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      for (const p of partitions) offs.push(kind === 'hw' ? p.onHighWatermark(finish) : p.onAppend(finish));
      this.closeListeners.add(finish);
    });
  }

  // ------------------------------------------------------------------ replica fetch (leader side)

  /**
   * A follower's fetch of every partition it copies from this leader. Records its progress (HW,
   * ISR expansion), answers at once when there is data, a divergence or an error, and otherwise
   * waits up to maxWaitMs, woken by appends.
   */
  async replicaFetch(
    input: ReplicaFetchInput,
  ): Promise<{ sessionId: number; partitions: ReplicaFetchPartitionResponse[]; bytesOut: number; reassignmentBytesOut: number }> {
    const deadline = this.now() + input.maxWaitMs;
    const eligible = this.followerEligibility(input.brokerId, input.brokerEpoch);
    // In a session only the partitions that can have something to say are read (named, changed,
    // not yet quiet: fetch-session.ts); the quiet ones count as fetched at their log end.
    const plan = this.fetchSessions.plan(input, this.now());
    const session = plan.session;
    const sessionId = session?.id ?? 0;
    for (const k of plan.forgotten) this.partitions.get(k)?.unlinkQuietFollower(input.brokerId);
    for (;;) {
      if (session?.closed) {
        // Its follower opened a new session meanwhile: this request was given up on.
        throw new TributaryError('FETCH_SESSION_ID_NOT_FOUND', `fetch session ${sessionId} of broker ${input.brokerId} ended while this fetch waited`);
      }
      const nowMs = this.now();
      const quota = this.leaderQuota;
      quota.update(this.metadata.broker(this.brokerId)?.configs?.[LEADER_THROTTLE_CONFIG], nowMs);
      const exhausted = quota.exhausted(nowMs);
      const reads: FetchRead[] = [];
      const quiet: Partition[] = [];
      const watch: Partition[] = [];
      let budget = input.maxBytes;
      let bytes = 0;
      let throttledBytes = 0;
      let reassignmentBytes = 0;
      let held = 0;
      let urgent = false;
      for (const req of this.fetchSessions.toRead(plan)) {
        try {
          const p = this.partitions.get(req.key) ?? this.lookup(req.topic, req.partition);
          const decision = throttleDecision({
            rateSet: quota.rateSet,
            listsInUse: this.throttleListsInUse,
            listed: p.leaderThrottled,
            inSync: p.isr.includes(input.brokerId),
            exhausted,
          });
          let max = Math.max(0, bytes === 0 ? Math.max(budget, 1) : budget);
          if (req.maxBytes !== undefined) max = Math.min(max, req.maxBytes);
          if (decision === 'limited') max = Math.min(max, quota.available(nowMs));
          const resp = p.readForFollower(
            input.brokerId,
            input.brokerEpoch,
            req.fetchOffset,
            req.lastFetchedEpoch,
            req.currentLeaderEpoch,
            max,
            nowMs,
            eligible,
            decision !== 'held',
          );
          const quietNow = isQuiet({
            result: resp,
            fetchOffset: req.fetchOffset,
            logEndOffset: p.log.logEndOffset,
            followerInIsr: p.isr.includes(input.brokerId),
            heldBack: decision === 'held',
          });
          reads.push({ entry: req, result: resp, quiet: quietNow });
          if (quietNow) quiet.push(p);
          bytes += resp.records.length;
          budget -= resp.records.length;
          if (decision === 'limited' || decision === 'counted') throttledBytes += resp.records.length;
          if (p.addingReplicas.includes(input.brokerId)) reassignmentBytes += resp.records.length;
          if (resp.divergingEpoch !== undefined || resp.error !== undefined) urgent = true;
          // A held-back partition's appends must not end this poll: its bytes wait for the bucket
          // (outside a session they do not even wake it; in one, a wake reads it and waits on).
          if (decision === 'held') held++;
          else watch.push(p);
        } catch (err) {
          reads.push({
            entry: req,
            result: {
              topic: req.topic,
              partition: req.partition,
              highWatermark: -1,
              logStartOffset: -1,
              records: EMPTY,
              error: this.storageAware(err, req.topic, req.partition),
            },
            quiet: false,
          });
          urgent = true;
        }
      }
      quota.record(throttledBytes, this.now());
      const remaining = deadline - this.now();
      const nothingToWaitFor = session !== undefined ? session.partitions.size === 0 : watch.length === 0 && held === 0;
      if (bytes > 0 || urgent || remaining <= 0 || this.closed || nothingToWaitFor) {
        const partitions = this.fetchSessions.answer(plan, reads, this.now());
        if (session !== undefined) for (const p of quiet) p.linkQuietFollower(input.brokerId, session.clock);
        return { sessionId, partitions, bytesOut: bytes, reassignmentBytesOut: reassignmentBytes };
      }
      // Held-back partitions are looked at again once the bucket has refilled.
      const waitMs = held > 0 ? Math.min(remaining, Math.max(1, quota.waitMs(this.now()))) : remaining;
      if (session !== undefined) await this.waitForSession(session, waitMs);
      else await this.waitForAny(watch, 'append', waitMs);
    }
  }

  /** Resolves when a partition of the session has new records (markChanged), on close, or after timeoutMs. */
  private waitForSession(session: FetchSession, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        if (session.waiter === finish) session.waiter = undefined;
        this.closeListeners.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      session.waiter = finish;
      this.closeListeners.add(finish);
    });
  }

  /**
   * Whether a follower fetching under `brokerEpoch` may count towards joining ISRs (KIP-903):
   * its registration is alive and at that epoch. An older epoch is a process the controller has
   * replaced (a zombie): refused with STALE_BROKER_EPOCH. A newer one means this broker's metadata
   * is behind its registration: it is served, but not eligible until the metadata arrives.
   */
  private followerEligibility(brokerId: BrokerId, brokerEpoch: number): boolean {
    const registration = this.metadata.broker(brokerId);
    if (registration === undefined) return false;
    if (brokerEpoch < registration.epoch) {
      throw new TributaryError(
        'STALE_BROKER_EPOCH',
        `broker ${brokerId} fetched under broker epoch ${brokerEpoch}; it registered since at epoch ${registration.epoch}`,
      );
    }
    return registration.alive && registration.epoch === brokerEpoch;
  }

  // ------------------------------------------------------------------ list offsets, describe

  listOffsets(partitions: { topic: string; partition: number; timestamp: number }[]): ListOffsetsResponse {
    return {
      partitions: partitions.map(({ topic, partition, timestamp }) => {
        try {
          const p = this.leaderFor(topic, partition);
          if (timestamp === EARLIEST_TIMESTAMP) return { topic, partition, offset: p.log.logStartOffset, timestamp: -1 };
          if (timestamp === LATEST_TIMESTAMP) return { topic, partition, offset: p.highWatermark, timestamp: -1 };
          const found = p.log.offsetForTimestamp(timestamp);
          // Kafka answers -1 when no record is that recent; an offset at or past the HW is not visible.
          if (found === null || found >= p.highWatermark) return { topic, partition, offset: -1, timestamp: -1 };
          return { topic, partition, offset: found, timestamp };
        } catch (err) {
          return { topic, partition, offset: -1, timestamp: -1, error: this.storageAware(err, topic, partition) };
        }
      }),
    };
  }

  describeReplicas(topic: string): DescribeReplicasResponse {
    if (this.metadata.topic(topic) === undefined) throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' does not exist`);
    const nowMs = this.now();
    const partitions = [...this.partitions.values()]
      .filter((p) => p.topic === topic && p.isLeader)
      .sort((a, b) => a.partition - b.partition)
      .map((p) => p.describe(nowMs));
    return { partitions };
  }

  // ------------------------------------------------------------------ housekeeping

  /** replication-offset-checkpoint: every partition's HW. */
  checkpointHighWatermarks(): void {
    this.logs.writeHighWatermarks(this.highWatermarks());
  }

  private highWatermarks(): Map<string, number> {
    const hw = new Map<string, number>();
    for (const p of this.partitions.values()) hw.set(p.key, p.highWatermark);
    return hw;
  }

  /**
   * The periodic checkpoint (HWs and recovery points), with the fsyncs on libuv's thread pool:
   * requests keep being served while the disk syncs. Values are taken now; the files are
   * replaced once durable. A write still in flight from the last period is not doubled.
   */
  checkpointInBackground(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return Promise.all([this.logs.writeHighWatermarksInBackground(this.highWatermarks()), this.logs.checkpointRecoveryPointsInBackground()]).then(
      () => undefined,
    );
  }

  /** Settles once no background checkpoint is in flight (the broker waits for it before close). */
  checkpointsSettled(): Promise<void> {
    return this.logs.checkpointsSettled();
  }

  /**
   * The replicas of compacted topics held here, leader or follower, with their high watermarks:
   * what the log cleaner may clean (never past the HW). Replicas whose log is not open are left out.
   */
  compactedLogs(): CleanableLog[] {
    const out: CleanableLog[] = [];
    if (this.closed) return out;
    for (const p of this.partitions.values()) {
      if (p.removed) continue;
      const log = this.logs.get(p.topic, p.partition);
      if (log === undefined || log.isClosed || !log.currentConfig.compact) continue;
      out.push({ topic: p.topic, partition: p.partition, log, highWatermark: p.highWatermark });
    }
    return out;
  }

  /** Retention and time-based rolls on every log; leaders forget expired producers. */
  runRetention(): void {
    const nowMs = this.now();
    const producerIdExpirationMs = this.options.producerIdExpirationMs ?? CLUSTER_DEFAULTS.producerIdExpirationMs;
    for (const p of this.partitions.values()) {
      // Followers keep producer state too (partition.ts), so every replica forgets expired ones.
      {
        const expired = p.producers.removeExpired(nowMs, producerIdExpirationMs);
        if (expired.length > 0)
          this.logger.info({ topic: p.topic, partition: p.partition, producerIds: expired.slice(0, 10), count: expired.length }, 'expired producer state');
      }
      this.safely(() => {
        (p.log as Log).maybeRoll(nowMs);
        // cleanup.policy without `delete` (compact): retention deletes nothing, as in Kafka's
        // LogManager; the cleaner keeps the latest record per key instead.
        if (!retentionDeletes(p.configs)) return;
        // Retention stops at the HW (Kafka's deletableSegments): an uncommitted segment stays.
        const deleted = p.log.deleteOldSegments(nowMs, p.highWatermark);
        if (deleted > 0) {
          this.logger.info({ topic: p.topic, partition: p.partition, deleted, logStartOffset: p.log.logStartOffset }, 'deleted old segments');
          this.fetchSessions.markChanged(p.key, false);
        }
      });
    }
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof TributaryError)) throw err;
      this.logger.error({ err }, 'storage operation failed');
    }
  }

  /** Answers every waiting request (logs stay open for requests still in flight). */
  stopServing(): void {
    if (this.closed) return;
    this.closed = true;
    this.background.close();
    this.safely(() => this.checkpointHighWatermarks());
    for (const p of this.partitions.values()) p.shutdown();
    for (const l of [...this.closeListeners]) l();
  }

  /** Stops serving, checkpoints and closes the logs. */
  close(): void {
    this.stopServing();
    // Removed partitions' logs still waiting: deleted now, not left for the next start to set aside.
    this.runDeletes(Number.POSITIVE_INFINITY);
    this.partitions.clear();
    this.logs.close();
  }

  // ------------------------------------------------------------------ diagnostics

  /**
   * Every replica of `topic` held here, leader or follower, with its offsets and the header facts
   * of its batches below its HW (`POST /replica-digests`), so that `tributary chaos` can compare
   * replicas batch by batch after a run. Read-only. `from` names the partitions to list, where to
   * start and, optionally, where to end instead of the HW (capped at the LEO); undefined: all,
   * from the log start to the HW. One answer lists at most `maxBatches` batches (capped by
   * REPLICA_DIGEST_LIMITS.batchesMax) and reads at most scanBytesMax bytes of log; a replica cut
   * short says where to go on (`nextOffset`).
   */
  replicaDigests(topic: string, from: ReadonlyMap<number, { fromOffset: number; toOffset?: number }> | undefined, maxBatches: number): ReplicaDigestsResponse {
    if (this.metadata.topic(topic) === undefined) throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' does not exist`);
    let batchesLeft = Math.min(maxBatches, REPLICA_DIGEST_LIMITS.batchesMax);
    let scanLeft = REPLICA_DIGEST_LIMITS.scanBytesMax;
    const held = [...this.partitions.values()]
      .filter((p) => p.topic === topic && (from === undefined || from.has(p.partition)))
      .sort((a, b) => a.partition - b.partition);
    const replicas = held.map((p): ReplicaDigest => {
      const log = p.log;
      const asked = from?.get(p.partition);
      const end = asked?.toOffset === undefined ? p.highWatermark : Math.min(asked.toOffset, log.logEndOffset);
      const digest: ReplicaDigest = {
        partition: p.partition,
        role: p.role,
        leaderEpoch: p.leaderEpoch,
        logStartOffset: log.logStartOffset,
        highWatermark: p.highWatermark,
        logEndOffset: log.logEndOffset,
        batches: [],
        batchesEnd: end,
      };
      // Compaction rewrites batches on each replica on its own: below this offset, bytes may differ.
      const cleaned = this.logs.get(p.topic, p.partition)?.cleanerCheckpoint;
      if (cleaned !== undefined) digest.rewrittenToOffset = cleaned.rewrittenToOffset;
      let offset = Math.max(asked?.fromOffset ?? log.logStartOffset, log.logStartOffset);
      try {
        while (offset < end && batchesLeft > 0 && scanLeft > 0) {
          // Whole batches below `end`; empty when the batch at `offset` reaches past it.
          const chunk = log.read(offset, Math.min(REPLICA_DIGEST_LIMITS.readBytesMax, scanLeft), end);
          if (chunk.length === 0) break;
          scanLeft -= chunk.length;
          for (let pos = 0; pos < chunk.length && batchesLeft > 0; ) {
            const header = readBatchHeader(chunk, pos);
            const last = lastOffsetOf(header);
            digest.batches.push([header.baseOffset, last, header.partitionLeaderEpoch, header.crc]);
            batchesLeft--;
            offset = last + 1;
            pos += header.batchLength + LOG_OVERHEAD;
          }
        }
        if (offset < end && (batchesLeft <= 0 || scanLeft <= 0)) digest.nextOffset = offset;
      } catch (err) {
        digest.error = this.storageAware(err, p.topic, p.partition);
      }
      return digest;
    });
    return { brokerId: this.brokerId, replicas };
  }
}

/** Bounds of one `POST /replica-digests` answer (STYLE.md: every answer has a named maximum). */
export const REPLICA_DIGEST_LIMITS = Object.freeze({
  /** Batches listed per answer, over all replicas. */
  batchesMax: 10_000,
  /** Log bytes read per answer (the headers are all it keeps, but whole batches are read). */
  scanBytesMax: 32 * 1024 * 1024,
  /** One read of the log. */
  readBytesMax: 1024 * 1024,
});
