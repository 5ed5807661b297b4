// Consumer: reads assigned partitions from their leaders (or, rack-aware, from a replica in the
// consumer's rack, KIP-392). Per broker ONE long-polling POST /fetch covers every partition it
// serves to us; records are decoded straight from the batch bytes the broker read from its log.
// Without a group, positions live in memory, starting where `assign` / `subscribe` say. With a
// `groupId`, `subscribe` makes it a member of that consumer group (Kafka's classic group protocol:
// MemberState and GroupMembership): the group's leader assigns it partitions, it starts each at the
// group's committed offset, commits what it consumed (auto-commit, `commit()`), and gives
// partitions up when the group rebalances.

import {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  TributaryError,
  checkBatchCrc,
  forEachRecord,
  isErrorCode,
  isStaleMetadata,
  iterateBatches,
  lastOffsetOf,
  type BrokerId,
  type FetchRequest,
  type FetchResponse,
  type ListOffsetsResponse,
  type RecordHeader,
  type TopicPartition,
} from '@tributary/protocol';
import { ClusterClient, type ClientOptions } from './internal/cluster-client.ts';
import { partitionKey } from './internal/accumulator.ts';
import { GroupMembership, type RebalanceListener } from './internal/group-membership.ts';
import { GroupClient } from './group-client.ts';
import { isAssignorName, type AssignorName } from './assignors.ts';
import { retryBackoffMs } from './retry.ts';

export type { RebalanceListener } from './internal/group-membership.ts';

const SLOW_FETCH_MARGIN_MS = 2_000;

export interface ConsumerOptions extends ClientOptions {
  /** The consumer's rack: brokers may point it at a replica in that rack (KIP-392). */
  rack?: string;
  /** How long a fetch waits on the broker for data. Default 500. */
  maxWaitMs?: number;
  /** Bytes a fetch waits for. Default 1. */
  minBytes?: number;
  /**
   * Bytes per fetch response (Kafka's consumer fetch.max.bytes). Default 50 MiB; the broker
   * clamps it to its own fetch.max.bytes (55 MiB by default).
   */
  maxBytes?: number;
  /** Bytes per partition per fetch (Kafka's max.partition.fetch.bytes). Default 1 MiB. */
  partitionMaxBytes?: number;
  /** How long to wait for an assigned topic to appear in the metadata. Default 10000. */
  topicWaitMs?: number;
  /**
   * The consumer group to join on `subscribe` (Kafka's group.id). Without it the consumer reads
   * what it is told and keeps its positions in memory.
   */
  groupId?: string;
  /** KIP-345 static membership: a stable id for this consumer instance. */
  groupInstanceId?: string;
  /** Shown by `groups describe` (Kafka's client.id). Default 'tributary-consumer'. */
  clientId?: string;
  /** Commit what poll() handed out, every autoCommitIntervalMs, when revoking and on close (enable.auto.commit). Default true. */
  autoCommit?: boolean;
  /** Default 5000 (auto.commit.interval.ms). */
  autoCommitIntervalMs?: number;
  /** How long the coordinator keeps the member without a heartbeat (session.timeout.ms). Default 45000. */
  sessionTimeoutMs?: number;
  /** Default 3000, at most a third of the session timeout (heartbeat.interval.ms). */
  heartbeatIntervalMs?: number;
  /** The longest time between polls before the member leaves the group, and its rebalance timeout (max.poll.interval.ms, KIP-62). Default 300000. */
  maxPollIntervalMs?: number;
  /** The assignors offered, in order of preference (partition.assignment.strategy). Default ['cooperative-sticky', 'range']. */
  assignors?: AssignorName[];
}

export interface SubscribeOptions extends RebalanceListener {
  /** Where to start a partition without a position (no committed offset, in a group): Kafka's auto.offset.reset. Default 'latest'. */
  from?: 'earliest' | 'latest';
}

export type OffsetSpec = 'earliest' | 'latest' | number;

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** Default 'latest'. */
  offset?: OffsetSpec;
}

export interface ConsumerRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  timestamp: number;
}

interface PartitionFetchState {
  topic: string;
  partition: number;
  /** Next offset to fetch; undefined while a reset is pending. */
  position: number | undefined;
  /** 'committed': the group's committed offset, else `fallback` (a partition the group assigned). */
  reset: 'earliest' | 'latest' | 'committed' | undefined;
  fallback: 'earliest' | 'latest';
  /** The next offset the application has not been handed (what a commit of "all consumed" commits). */
  consumed: number | undefined;
  /** A replica the leader told us to read from (KIP-392). */
  preferredReplica: BrokerId | undefined;
  inFlight: boolean;
  retryAtMs: number;
  attempts: number;
}

export class Consumer {
  private readonly cluster: ClusterClient;
  private readonly rack: string | undefined;
  private readonly maxWaitMs: number;
  private readonly minBytes: number;
  private readonly maxBytes: number;
  private readonly partitionMaxBytes: number;
  private readonly topicWaitMs: number;
  private readonly states = new Map<string, PartitionFetchState>();
  /** Topics subscribed as a whole; expanded to partitions once their metadata is known. */
  private readonly subscriptions = new Map<string, { from: 'earliest' | 'latest'; sinceMs: number }>();
  private buffered: ConsumerRecord[] = [];
  private readonly inflight = new Set<Promise<void>>();
  /** Fetches out now, for the watchdog: one that outlives maxWaitMs by far is checked. */
  private readonly fetches = new Set<{ broker: BrokerId; states: PartitionFetchState[]; startedMs: number; abort: AbortController }>();
  private watchdog: NodeJS.Timeout | undefined;
  private fatal: TributaryError | undefined;
  private readonly abort = new AbortController();
  private closed = false;
  private readonly options: ConsumerOptions;
  /** The group's calls (with a groupId). */
  private readonly groups: GroupClient | undefined;
  /** The group membership, from the first subscribe (with a groupId). */
  private membership: GroupMembership | undefined;
  private mode: 'none' | 'assign' | 'subscribe' = 'none';
  private groupFrom: 'earliest' | 'latest' = 'latest';

  constructor(options: ConsumerOptions) {
    const groupOptions = checkGroupOptions(options);
    this.options = { ...options, ...groupOptions };
    this.cluster = new ClusterClient(options);
    this.rack = options.rack;
    this.maxWaitMs = options.maxWaitMs ?? 500;
    this.minBytes = options.minBytes ?? 1;
    this.maxBytes = options.maxBytes ?? 50 * 1024 * 1024;
    this.partitionMaxBytes = options.partitionMaxBytes ?? 1024 * 1024;
    this.topicWaitMs = options.topicWaitMs ?? 10_000;
    if (options.groupId !== undefined) this.groups = new GroupClient(options, this.cluster);
    this.cluster.startPeriodicRefresh();
  }

  /** Reads exactly these partitions, each from its given offset (replaces any assignment). */
  assign(partitions: readonly TopicPartitionOffset[]): void {
    if (this.mode === 'subscribe' && this.membership !== undefined) {
      throw new TributaryError(
        'INVALID_REQUEST',
        `this consumer subscribed as a member of group ${this.options.groupId}: assign() and a group subscription are exclusive (Kafka's IllegalStateException)`,
      );
    }
    this.mode = 'assign';
    this.states.clear();
    this.subscriptions.clear();
    this.buffered = [];
    for (const p of partitions) {
      this.cluster.addInterest(p.topic);
      this.states.set(partitionKey(p.topic, p.partition), newState(p.topic, p.partition, p.offset ?? 'latest'));
    }
  }

  /**
   * Without a groupId: reads every partition of the topics, from the earliest or (default) the
   * latest offset (adds to earlier subscriptions). With one: joins the group as a member
   * subscribed to exactly these topics (replacing an earlier list, as Kafka's subscribe does); the
   * group assigns the partitions, each read from the group's committed offset (`from` where there
   * is none), and the callbacks hear of partitions assigned, revoked and lost.
   */
  subscribe(topics: string | readonly string[], options: SubscribeOptions = {}): void {
    const list = typeof topics === 'string' ? [topics] : [...topics];
    for (const t of list)
      if (typeof t !== 'string' || t.length === 0)
        throw new TributaryError('INVALID_REQUEST', `a topic name must be a non-empty string, got ${JSON.stringify(t)}`);
    const from = options.from ?? 'latest';
    if (from !== 'earliest' && from !== 'latest')
      throw new TributaryError('INVALID_REQUEST', `from must be 'earliest' or 'latest', got ${JSON.stringify(from)}`);
    const listener: RebalanceListener = {};
    for (const name of ['onPartitionsAssigned', 'onPartitionsRevoked', 'onPartitionsLost'] as const) {
      const fn = options[name];
      if (fn === undefined) continue;
      if (typeof fn !== 'function') throw new TributaryError('INVALID_REQUEST', `${name} must be a function`);
      listener[name] = fn;
    }
    if (this.groups === undefined) {
      if (Object.keys(listener).length > 0)
        throw new TributaryError('INVALID_REQUEST', 'rebalance callbacks need a groupId: without a group nothing is assigned or revoked');
      for (const topic of list) {
        this.cluster.addInterest(topic);
        this.subscriptions.set(topic, { from, sinceMs: this.cluster.now() });
      }
      return;
    }
    if (this.mode === 'assign') {
      throw new TributaryError(
        'INVALID_REQUEST',
        `this consumer was given partitions with assign(): a group subscription and assign() are exclusive (Kafka's IllegalStateException)`,
      );
    }
    if (list.length === 0) throw new TributaryError('INVALID_REQUEST', 'subscribe to at least one topic');
    this.mode = 'subscribe';
    this.groupFrom = from;
    for (const topic of list) this.cluster.addInterest(topic);
    this.membership ??= this.newMembership();
    this.membership.listener = listener;
    this.membership.state.subscribe(list);
  }

  private newMembership(): GroupMembership {
    const o = this.options;
    return new GroupMembership(
      this.groups!,
      {
        consumedOffsets: (partitions) => {
          const out: { topic: string; partition: number; offset: number }[] = [];
          for (const tp of partitions) {
            const s = this.states.get(partitionKey(tp.topic, tp.partition));
            if (s?.consumed !== undefined) out.push({ topic: tp.topic, partition: tp.partition, offset: s.consumed });
          }
          return out;
        },
        addPartitions: (partitions) => {
          for (const tp of partitions) {
            const s = newState(tp.topic, tp.partition, 'latest');
            s.reset = 'committed';
            s.fallback = this.groupFrom;
            this.states.set(partitionKey(tp.topic, tp.partition), s);
          }
        },
        removePartitions: (partitions) => {
          const gone = new Set(partitions.map((tp) => partitionKey(tp.topic, tp.partition)));
          for (const key of gone) this.states.delete(key);
          this.buffered = this.buffered.filter((r) => !gone.has(partitionKey(r.topic, r.partition)));
        },
        partitionCounts: async (topics) => {
          await this.cluster.fetchMetadata(topics);
          const counts = new Map<string, number>();
          for (const t of topics) {
            const info = this.cluster.metadata.topics.get(t);
            if (info !== undefined) counts.set(t, info.partitions.length);
          }
          return counts;
        },
      },
      {
        groupId: o.groupId!,
        clientId: o.clientId!,
        ...(o.groupInstanceId !== undefined ? { groupInstanceId: o.groupInstanceId } : {}),
        ...(o.rack !== undefined ? { rackId: o.rack } : {}),
        sessionTimeoutMs: o.sessionTimeoutMs!,
        rebalanceTimeoutMs: o.maxPollIntervalMs!,
        assignors: o.assignors!,
        autoCommit: o.autoCommit!,
        autoCommitIntervalMs: o.autoCommitIntervalMs!,
        heartbeatIntervalMs: o.heartbeatIntervalMs!,
        requestTimeoutMs: this.cluster.requestTimeoutMs,
      },
      this.cluster.log,
      this.cluster.now,
    );
  }

  /**
   * Commits offsets to the group and resolves once they are committed (Kafka's commitSync).
   * Without `offsets`: for every partition it reads, the offset after the last record the
   * application was handed (poll()'s records, or the iterator's up to the current one). With
   * `offsets`: exactly those. A member commits in its generation; a consumer that used assign()
   * commits as Kafka's consumers outside group management do (refused while the group has
   * members). Rejects with the error that refused it (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION,
   * UNKNOWN_MEMBER_ID: the group moved on; the offsets were not committed).
   */
  async commit(
    offsets?: readonly { topic: string; partition: number; offset: number; metadata?: string }[],
  ): Promise<{ topic: string; partition: number; offset: number }[]> {
    if (this.groups === undefined) throw new TributaryError('INVALID_REQUEST', 'commit needs a groupId: offsets are committed to a consumer group');
    if (offsets !== undefined) {
      for (const o of offsets) {
        if (typeof o?.topic !== 'string' || !Number.isSafeInteger(o.partition) || o.partition < 0 || !Number.isSafeInteger(o.offset) || o.offset < 0) {
          throw new TributaryError('INVALID_REQUEST', `an offset to commit needs a topic, a partition >= 0 and an offset >= 0, got ${JSON.stringify(o)}`);
        }
      }
    }
    if (this.membership !== undefined && this.mode === 'subscribe') {
      const entries = offsets === undefined ? await this.membership.commitConsumed(this.membership.state.owned) : await this.membership.commitOffsets(offsets);
      return entries.map((e) => ({ topic: e.topic, partition: e.partition, offset: e.offset }));
    }
    const list =
      offsets ??
      [...this.states.values()]
        .filter((s) => s.consumed !== undefined)
        .map((s) => ({ topic: s.topic, partition: s.partition, offset: s.consumed!, metadata: '' }));
    if (list.length === 0) return [];
    const answer = await this.groups.commitOffsets({
      groupId: this.options.groupId!,
      generationId: -1,
      memberId: '',
      offsets: list.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, metadata: o.metadata ?? '' })),
    });
    const failed = answer.partitions.find((p) => p.error !== undefined);
    if (failed?.error !== undefined)
      throw new TributaryError(TributaryError.fromWire(failed.error).code, `committing ${failed.topic}-${failed.partition}: ${failed.error.message}`);
    return list.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset }));
  }

  /** The group member's id and generation ('' and -1 outside a group or before joining). */
  groupMetadata(): { groupId: string | undefined; memberId: string; generationId: number } {
    return { groupId: this.options.groupId, memberId: this.membership?.state.memberId ?? '', generationId: this.membership?.state.generationId ?? -1 };
  }

  /** Moves a partition's position; records already buffered for it are dropped. */
  seek(topic: string, partition: number, offset: OffsetSpec): void {
    const state = this.states.get(partitionKey(topic, partition));
    if (!state) throw new TributaryError('INVALID_REQUEST', `${topic}-${partition} is not assigned`);
    applyOffsetSpec(state, offset);
    this.buffered = this.buffered.filter((r) => r.topic !== topic || r.partition !== partition);
  }

  /** The next offset to be fetched for a partition (undefined before it is resolved). */
  position(topic: string, partition: number): number | undefined {
    return this.states.get(partitionKey(topic, partition))?.position;
  }

  assignment(): { topic: string; partition: number }[] {
    return [...this.states.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /**
   * One fetch round: returns the records that have arrived, waiting (up to about maxWaitMs) for
   * at least one broker to answer when none are buffered. Returns [] when nothing came. In a
   * group, the rebalance steps (commit, revoke, take new partitions, the callbacks) run here
   * first, between batches; records returned count as consumed (committed by the next commit).
   */
  async poll(): Promise<ConsumerRecord[]> {
    const records = await this.nextRecords();
    for (const r of records) this.markConsumed(r);
    return records;
  }

  private markConsumed(r: ConsumerRecord): void {
    const s = this.states.get(partitionKey(r.topic, r.partition));
    if (s !== undefined && (s.consumed === undefined || r.offset + 1 > s.consumed)) s.consumed = r.offset + 1;
  }

  private async nextRecords(): Promise<ConsumerRecord[]> {
    if (this.fatal) throw this.takeFatal();
    if (this.membership !== undefined && !this.closed) await this.membership.step();
    if (this.buffered.length === 0 && !this.closed) {
      await this.prepare();
      this.startFetches();
      const changed = this.membership?.changed();
      if (this.inflight.size > 0) await Promise.race(changed === undefined ? [...this.inflight] : [...this.inflight, changed]);
      else await this.sleep(Math.max(10, Math.min(this.nextRetryMs() - this.cluster.now(), this.maxWaitMs)), changed);
      if (this.fatal) throw this.takeFatal();
    }
    const records = this.buffered;
    this.buffered = [];
    return records;
  }

  /** Each record counts as consumed once it is yielded (commit() inside the loop covers the current one). */
  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumerRecord, void, undefined> {
    while (!this.closed) {
      const records = await this.nextRecords();
      for (const record of records) {
        if (this.closed) return;
        // A partition revoked meanwhile (close() from the loop's body) yields nothing more.
        if (!this.states.has(partitionKey(record.topic, record.partition))) continue;
        this.markConsumed(record);
        yield record;
      }
    }
  }

  /**
   * Stops. A group member first commits what it consumed (auto-commit), revokes its partitions
   * (onPartitionsRevoked) and leaves the group, so the group rebalances at once rather than after
   * its session timeout; all within `timeoutMs` (default 30000, Kafka's close timeout).
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    if (this.membership !== undefined) await this.membership.close(options.timeoutMs ?? 30_000);
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.abort.abort();
    for (const f of this.fetches) f.abort.abort(this.abort.signal.reason);
    await Promise.allSettled([...this.inflight]);
    await this.cluster.close();
  }

  // -------------------------------------------------------------------------------------------

  private takeFatal(): TributaryError {
    const err = this.fatal!;
    this.fatal = undefined;
    return err;
  }

  /** Expands subscriptions, checks assigned topics exist, and resolves pending offset resets. */
  private async prepare(): Promise<void> {
    const meta = this.cluster.metadata;
    const topics = new Set<string>([...this.subscriptions.keys(), ...[...this.states.values()].map((s) => s.topic)]);
    const missing = [...topics].filter((t) => !meta.topics.has(t));
    if (missing.length > 0 || meta.updatedMs === 0) await this.refreshMetadata();
    // A topic the user may not Describe: no retry changes that (Kafka's consumer throws).
    for (const t of topics) this.cluster.checkTopicAuthorized(t);
    for (const [topic, sub] of this.subscriptions) {
      const info = meta.topics.get(topic);
      if (!info) {
        if (meta.unauthorizedTopics.has(topic)) {
          this.subscriptions.delete(topic);
          this.cluster.checkTopicAuthorized(topic);
        }
        if (this.cluster.now() - sub.sinceMs >= this.topicWaitMs) {
          this.subscriptions.delete(topic);
          throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' does not exist`);
        }
        continue;
      }
      for (const p of info.partitions) {
        const key = partitionKey(topic, p.partition);
        if (!this.states.has(key)) this.states.set(key, newState(topic, p.partition, sub.from));
      }
    }
    for (const state of this.states.values()) {
      const info = meta.topics.get(state.topic);
      if (info && state.partition >= info.partitions.length) {
        this.states.delete(partitionKey(state.topic, state.partition));
        throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${state.topic}' has no partition ${state.partition} (it has ${info.partitions.length})`);
      }
    }
    await this.resolveResets();
  }

  private async refreshMetadata(): Promise<void> {
    try {
      await this.cluster.refresh();
    } catch (err) {
      // Keep going with what we know; fetches will fail and back off if the cluster is gone.
      this.cluster.log.warn({ err }, 'metadata refresh failed');
      if (this.cluster.metadata.updatedMs === 0) throw err;
    }
  }

  /**
   * Partitions the group assigned start at its committed offset (OffsetFetch at the coordinator),
   * or at `fallback` where it has none (Kafka's auto.offset.reset).
   */
  private async resolveCommitted(): Promise<void> {
    const now = this.cluster.now();
    const pending = [...this.states.values()].filter((s) => s.position === undefined && s.reset === 'committed' && !s.inFlight && s.retryAtMs <= now);
    if (pending.length === 0 || this.groups === undefined) return;
    for (const s of pending) s.inFlight = true;
    try {
      const offsets = await this.groups.fetchOffsets(
        this.options.groupId!,
        pending.map((s) => ({ topic: s.topic, partition: s.partition })),
        { timeoutMs: this.cluster.requestTimeoutMs },
      );
      for (const s of pending) {
        s.inFlight = false;
        if (this.states.get(partitionKey(s.topic, s.partition)) !== s) continue;
        const committed = offsets.find((o) => o.topic === s.topic && o.partition === s.partition)?.offset ?? -1;
        if (committed >= 0) {
          s.position = committed;
          s.consumed = committed;
          s.reset = undefined;
          this.cluster.log.debug({ topic: s.topic, partition: s.partition, offset: committed }, 'starting at the committed offset');
        } else {
          s.reset = s.fallback;
        }
        s.attempts = 0;
      }
    } catch (err) {
      this.cluster.log.warn({ err, groupId: this.options.groupId }, 'fetching committed offsets failed');
      for (const s of pending) {
        s.inFlight = false;
        this.backoff(s, false);
      }
    }
  }

  /** Finds the offsets of partitions that start at 'earliest' or 'latest' (POST /list-offsets to leaders). */
  private async resolveResets(): Promise<void> {
    await this.resolveCommitted();
    const now = this.cluster.now();
    const byLeader = new Map<BrokerId, PartitionFetchState[]>();
    for (const s of this.states.values()) {
      if (s.position !== undefined || s.reset === undefined || s.reset === 'committed' || s.inFlight || s.retryAtMs > now) continue;
      const leader = this.cluster.metadata.leaderOf(s.topic, s.partition);
      if (leader === undefined) {
        this.backoff(s, true);
        continue;
      }
      let list = byLeader.get(leader);
      if (!list) {
        list = [];
        byLeader.set(leader, list);
      }
      list.push(s);
    }
    await Promise.all(
      [...byLeader].map(async ([leader, list]) => {
        try {
          const answer = await this.cluster.callBroker<ListOffsetsResponse>(leader, '/list-offsets', {
            partitions: list.map((s) => ({
              topic: s.topic,
              partition: s.partition,
              timestamp: s.reset === 'earliest' ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP,
            })),
          });
          for (const s of list) {
            const p = answer.partitions.find((a) => a.topic === s.topic && a.partition === s.partition);
            if (!p || p.error) {
              // Not allowed to read the topic: retrying will not change that (Kafka's consumer throws).
              if (p?.error?.code === 'TOPIC_AUTHORIZATION_FAILED') this.fatal = TributaryError.fromWire(p.error);
              this.backoff(s, p?.error ? isStaleMetadata(isErrorCode(p.error.code) ? p.error.code : 'UNKNOWN_SERVER_ERROR') : true);
              continue;
            }
            s.position = p.offset;
            s.consumed = p.offset;
            s.reset = undefined;
            s.attempts = 0;
          }
        } catch (err) {
          this.cluster.log.warn({ err, broker: leader }, 'list-offsets failed');
          for (const s of list) this.backoff(s, true);
        }
      }),
    );
  }

  private startFetches(): void {
    const now = this.cluster.now();
    const byBroker = new Map<BrokerId, PartitionFetchState[]>();
    for (const s of this.states.values()) {
      if (s.inFlight || s.position === undefined || s.retryAtMs > now) continue;
      const target = this.fetchTarget(s);
      if (target === undefined) {
        this.backoff(s, true);
        continue;
      }
      let list = byBroker.get(target);
      if (!list) {
        list = [];
        byBroker.set(target, list);
      }
      list.push(s);
    }
    for (const [broker, list] of byBroker) {
      for (const s of list) s.inFlight = true;
      const p = this.fetchFrom(broker, list).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
  }

  private fetchTarget(s: PartitionFetchState): BrokerId | undefined {
    if (s.preferredReplica !== undefined) {
      const b = this.cluster.metadata.brokers.get(s.preferredReplica);
      if (b && b.alive !== false) return s.preferredReplica;
      s.preferredReplica = undefined;
    }
    return this.cluster.metadata.leaderOf(s.topic, s.partition);
  }

  private async fetchFrom(broker: BrokerId, list: PartitionFetchState[]): Promise<void> {
    const request: FetchRequest = {
      maxWaitMs: this.maxWaitMs,
      minBytes: this.minBytes,
      maxBytes: this.maxBytes,
      partitions: list.map((s) => ({
        topic: s.topic,
        partition: s.partition,
        offset: s.position!,
        maxBytes: this.partitionMaxBytes,
        currentLeaderEpoch: this.cluster.metadata.partition(s.topic, s.partition)?.leaderEpoch ?? -1,
      })),
    };
    if (this.rack !== undefined) request.rack = this.rack;
    let response: FetchResponse;
    const entry = { broker, states: list, startedMs: this.cluster.now(), abort: new AbortController() };
    this.fetches.add(entry);
    // Its own signal only, which close() aborts too: combining it with the consumer's long-lived
    // signal (AbortSignal.any) on every fetch registered each fetch on that signal, and so kept
    // every fetch's objects alive through young GCs.
    if (this.abort.signal.aborted) entry.abort.abort(this.abort.signal.reason);
    this.startWatchdog();
    try {
      response = await this.cluster.callBroker<FetchResponse>(broker, '/fetch', request, {
        timeoutMs: this.maxWaitMs + this.cluster.requestTimeoutMs,
        signal: entry.abort.signal,
      });
    } catch (err) {
      for (const s of list) {
        s.inFlight = false;
        if (this.closed) continue;
        if (s.preferredReplica === broker) s.preferredReplica = undefined;
        this.backoff(s, true);
      }
      if (!this.closed) this.cluster.log.warn({ err, broker }, 'fetch failed');
      return;
    } finally {
      this.fetches.delete(entry);
    }
    const answers = new Map<string, FetchResponse['partitions'][number]>();
    for (const p of response.partitions ?? []) answers.set(partitionKey(p.topic, p.partition), p);
    for (const s of list) {
      s.inFlight = false;
      const answer = answers.get(partitionKey(s.topic, s.partition));
      // A partition re-assigned or sought while the fetch was out: its answer is stale.
      if (
        !answer ||
        this.states.get(partitionKey(s.topic, s.partition)) !== s ||
        s.position !== request.partitions.find((p) => p.topic === s.topic && p.partition === s.partition)?.offset
      )
        continue;
      if (answer.error) {
        this.handleFetchError(s, broker, TributaryError.fromWire(answer.error));
        continue;
      }
      try {
        this.appendRecords(s, Buffer.isBuffer(answer.records) ? answer.records : Buffer.from(answer.records ?? []));
      } catch (err) {
        this.handleFetchError(s, broker, err instanceof TributaryError ? err : new TributaryError('CORRUPT_MESSAGE', String(err)));
        continue;
      }
      s.attempts = 0;
      const leader = this.cluster.metadata.leaderOf(s.topic, s.partition);
      if (answer.preferredReadReplica !== undefined && answer.preferredReadReplica >= 0 && answer.preferredReadReplica !== leader) {
        if (s.preferredReplica !== answer.preferredReadReplica) {
          this.cluster.log.info({ topic: s.topic, partition: s.partition, replica: answer.preferredReadReplica }, 'fetching from preferred read replica');
        }
        s.preferredReplica = answer.preferredReadReplica;
      } else if (broker === leader) {
        s.preferredReplica = undefined;
      }
    }
  }

  /**
   * A fetch that outlives maxWaitMs by SLOW_FETCH_MARGIN_MS makes the consumer re-read the
   * metadata; if the broker is fenced or no longer serves any of its partitions, the fetch is
   * abandoned and retried on the new leader instead of waiting out the request timeout.
   */
  private startWatchdog(): void {
    if (this.watchdog || this.closed) return;
    this.watchdog = setInterval(() => void this.checkSlowFetches(), 1000);
    this.watchdog.unref();
  }

  private async checkSlowFetches(): Promise<void> {
    const now = this.cluster.now();
    const slow = [...this.fetches].filter((f) => now - f.startedMs >= this.maxWaitMs + SLOW_FETCH_MARGIN_MS);
    if (slow.length === 0) return;
    try {
      await this.cluster.refresh();
    } catch {
      return;
    }
    for (const f of slow) {
      if (f.abort.signal.aborted) continue;
      const b = this.cluster.metadata.brokers.get(f.broker);
      const serves =
        b !== undefined &&
        b.alive !== false &&
        f.states.some((s) => this.cluster.metadata.leaderOf(s.topic, s.partition) === f.broker || s.preferredReplica === f.broker);
      if (!serves) {
        this.cluster.log.info({ broker: f.broker, waitedMs: now - f.startedMs }, 'abandoning fetch from a broker that no longer serves its partitions');
        f.abort.abort(new Error(`broker ${f.broker} no longer serves these partitions`));
      }
    }
  }

  private handleFetchError(s: PartitionFetchState, broker: BrokerId, err: TributaryError): void {
    const fromFollower = s.preferredReplica === broker;
    if (fromFollower) {
      // Any trouble on a follower: go back to the leader, which is always right.
      s.preferredReplica = undefined;
      this.cluster.log.info({ topic: s.topic, partition: s.partition, broker, code: err.code }, 'preferred replica failed; fetching from the leader');
      this.backoff(s, isStaleMetadata(err.code), 0);
      return;
    }
    if (err.code === 'OFFSET_OUT_OF_RANGE') {
      this.cluster.log.warn({ topic: s.topic, partition: s.partition, offset: s.position }, 'offset out of range; resetting to earliest');
      s.position = undefined;
      s.reset = 'earliest';
      return;
    }
    if (err.retriable) {
      this.backoff(s, isStaleMetadata(err.code));
      return;
    }
    this.fatal = new TributaryError(err.code, `fetching ${s.topic}-${s.partition} at offset ${s.position} from broker ${broker} failed: ${err.message}`, {
      cause: err,
    });
    this.backoff(s, false);
  }

  /** Decodes whole batches, skipping records below the position (a batch may start earlier). */
  private appendRecords(s: PartitionFetchState, bytes: Buffer): void {
    s.position = decodeFetched(s.topic, s.partition, s.position!, bytes, this.buffered);
  }

  private backoff(s: PartitionFetchState, refresh: boolean, delayMs?: number): void {
    s.attempts++;
    s.retryAtMs = this.cluster.now() + (delayMs ?? retryBackoffMs(s.attempts));
    if (refresh) this.cluster.refresh().catch(() => {});
  }

  private nextRetryMs(): number {
    let at = Infinity;
    for (const s of this.states.values()) if (!s.inFlight) at = Math.min(at, s.retryAtMs);
    return at === Infinity ? this.cluster.now() + 100 : at;
  }

  private sleep(ms: number, or?: Promise<void>): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.abort.signal;
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      };
      // The listener goes when the sleep ends: left on the consumer's signal, every sleep added one for good.
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      or?.then(done);
    });
  }
}

function newState(topic: string, partition: number, offset: OffsetSpec): PartitionFetchState {
  const s: PartitionFetchState = {
    topic,
    partition,
    position: undefined,
    reset: undefined,
    fallback: 'latest',
    consumed: undefined,
    preferredReplica: undefined,
    inFlight: false,
    retryAtMs: 0,
    attempts: 0,
  };
  applyOffsetSpec(s, offset);
  return s;
}

function applyOffsetSpec(s: PartitionFetchState, offset: OffsetSpec): void {
  if (offset === 'earliest' || offset === 'latest') {
    s.position = undefined;
    s.reset = offset;
  } else if (Number.isSafeInteger(offset) && offset >= 0) {
    s.position = offset;
    s.consumed = offset;
    s.reset = undefined;
  } else {
    throw new TributaryError('INVALID_REQUEST', `offset must be 'earliest', 'latest' or an integer >= 0, got ${JSON.stringify(offset)}`);
  }
}

/**
 * Appends to `out` the records of fetched batches at or past `position`, and returns the next
 * position: the last batch's lastOffset + 1. Offsets come from each record, so a compacted log's
 * batches (records whose offsets skip, batches left empty, a lastOffsetDelta past the last
 * record) move the position past the offsets the cleaner removed, as Kafka's consumer does.
 */
export function decodeFetched(topic: string, partition: number, position: number, bytes: Buffer, out: ConsumerRecord[]): number {
  for (const batch of iterateBatches(bytes)) {
    const header = checkBatchCrc(batch);
    const last = lastOffsetOf(header);
    if (last < position) continue;
    const from = position;
    forEachRecord(batch, header, (r) => {
      if (r.offset < from) return;
      out.push({ topic, partition, offset: r.offset, key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp });
    });
    position = last + 1;
  }
  return position;
}

/** Kafka's defaults for the group settings, checked: a bad value is refused before anything starts. */
function checkGroupOptions(options: ConsumerOptions): Partial<ConsumerOptions> {
  const int = (name: keyof ConsumerOptions, value: unknown, min: number): number => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      throw new TributaryError('INVALID_REQUEST', `${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  if (options.groupId === undefined) {
    for (const name of [
      'groupInstanceId',
      'autoCommit',
      'autoCommitIntervalMs',
      'sessionTimeoutMs',
      'heartbeatIntervalMs',
      'maxPollIntervalMs',
      'assignors',
    ] as const) {
      if (options[name] !== undefined) throw new TributaryError('INVALID_REQUEST', `${name} needs a groupId`);
    }
    return {};
  }
  if (typeof options.groupId !== 'string' || options.groupId.length === 0 || options.groupId.length > 255) {
    throw new TributaryError('INVALID_GROUP_ID', `groupId must be 1-255 characters, got ${JSON.stringify(options.groupId)}`);
  }
  if (options.groupInstanceId !== undefined && !/^[a-zA-Z0-9._-]{1,249}$/.test(options.groupInstanceId)) {
    throw new TributaryError('INVALID_REQUEST', `groupInstanceId must match [a-zA-Z0-9._-]{1,249}, got ${JSON.stringify(options.groupInstanceId)}`);
  }
  if (options.autoCommit !== undefined && typeof options.autoCommit !== 'boolean')
    throw new TributaryError('INVALID_REQUEST', `autoCommit must be true or false`);
  const sessionTimeoutMs = int('sessionTimeoutMs', options.sessionTimeoutMs ?? 45_000, 1);
  const heartbeatIntervalMs = int('heartbeatIntervalMs', options.heartbeatIntervalMs ?? Math.max(1, Math.min(3000, Math.floor(sessionTimeoutMs / 3))), 1);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new TributaryError('INVALID_REQUEST', `heartbeatIntervalMs (${heartbeatIntervalMs}) must be below sessionTimeoutMs (${sessionTimeoutMs})`);
  }
  const assignors = options.assignors ?? ['cooperative-sticky', 'range'];
  if (!Array.isArray(assignors) || assignors.length === 0) throw new TributaryError('INVALID_REQUEST', 'assignors must name at least one assignor');
  for (const a of assignors) {
    if (typeof a !== 'string' || !isAssignorName(a))
      throw new TributaryError('INVALID_REQUEST', `unknown assignor ${JSON.stringify(a)} (known: range, round-robin, cooperative-sticky)`);
  }
  if (new Set(assignors).size !== assignors.length) throw new TributaryError('INVALID_REQUEST', `an assignor is named twice: ${assignors.join(', ')}`);
  return {
    clientId: options.clientId ?? 'tributary-consumer',
    autoCommit: options.autoCommit ?? true,
    autoCommitIntervalMs: int('autoCommitIntervalMs', options.autoCommitIntervalMs ?? 5000, 1),
    sessionTimeoutMs,
    heartbeatIntervalMs,
    maxPollIntervalMs: int('maxPollIntervalMs', options.maxPollIntervalMs ?? 300_000, 1),
    assignors: [...assignors],
  };
}

export type { TopicPartition };
