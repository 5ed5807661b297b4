// Followers pull (DESIGN.md § Replication): one ReplicaFetcher per leader broker long-polls
// POST /replica/fetch for every partition this broker follows from that leader, with its LEO as
// the fetch offset, the epoch of its last batch (KIP-101/279) and the leader epoch it believes.
// The answers are appended as-is; divergence and out-of-range answers truncate first. A
// follower.replication.throttled.rate (KIP-73) set for this broker limits what it fetches for the
// replicas the topics' follower.replication.throttled.replicas name (throttle.ts): one bucket for
// the whole broker, shared by its fetchers; a held-back partition leaves the fetch while the
// bucket is empty, and the others in the same fetch go on unhindered. Fetches run in an
// incremental fetch session (KIP-227, fetch-session.ts): only changed partitions are named.
// Once the session is open and nothing is throttled, a round looks only at the partitions the
// last answer touched and the delays that ran out, not at every partition followed; a full
// round (every partition compared with what the leader holds) still runs after each metadata
// change and at least every FULL_ROUND_EVERY_MS.

import { TributaryError, type BrokerId, type Endpoint, type ReplicaFetchRequest, type ReplicaFetchResponse } from '@tributary/protocol';
import type { RpcClientPool } from '@tributary/transport';
import type { Partition } from './partition.ts';
import { FetchSessionBuilder, type PartitionFetch, type SessionRequest } from './fetch-session.ts';
import { throttleDecision, type ReplicationQuota, type ThrottleDecision } from './throttle.ts';
import { sleep } from './internal/sleep.ts';

export interface FetcherLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface ReplicaFetcherDeps {
  brokerId: BrokerId;
  brokerEpoch: () => number;
  clients: RpcClientPool;
  /** The leader's internal endpoint, from metadata. */
  endpointOf: (id: BrokerId) => Endpoint | undefined;
  /** follower.replication.throttled.rate for this broker (bytes/s), or undefined. */
  throttleRate: () => number | undefined;
  /** The broker's follower quota, shared by every fetcher (Kafka's is per broker too). */
  followerQuota: ReplicationQuota;
  /** Some topic names throttled replicas (Kafka mode); else the rate covers every partition. */
  throttleListsInUse: () => boolean;
  maxWaitMs: number;
  maxBytes: number;
  /** Incremental fetch sessions (KIP-227, default on); off, every fetch names every partition. */
  fetchSessions?: boolean;
  logger: FetcherLogger;
  now?: () => number;
  /** After each answer: bytes appended, of which for replicas being added here (KIP-455). */
  onFetched?: (bytes: number, latencyMs: number, reassignmentBytes: number) => void;
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 1000;
/** A partition the leader refused (not leader, epoch) waits this long or until new metadata. */
const PARTITION_ERROR_DELAY_MS = 500;
/** Every partition held back by the follower quota: how often the fetcher looks again. */
const HELD_RECHECK_MS = 500;
const DIVERGENCE_BACKOFF_MIN_MS = 100;
const DIVERGENCE_BACKOFF_MAX_MS = 5000;
/** The longest a fetcher goes on with rounds that look only at what changed. */
const FULL_ROUND_EVERY_MS = 1000;

/** What a request said about a partition, to apply its answer against. */
interface SentPartition {
  p: Partition;
  decision: ThrottleDecision;
  fetchOffset: number;
  leaderEpoch: number;
}

export class ReplicaFetcher {
  readonly leaderId: BrokerId;
  private partitions: Partition[] = [];
  private readonly deps: ReplicaFetcherDeps;
  private readonly now: () => number;
  private readonly stopController = new AbortController();
  /** Aborts the in-flight poll when partitions are added, so they start at once. */
  private pollController = new AbortController();
  private readonly delayedUntil = new Map<string, number>();
  private readonly divergenceBackoffMs = new Map<string, number>();
  private loop: Promise<void> | undefined;
  private lastError: string | undefined;
  private readonly session: FetchSessionBuilder;
  private byKey = new Map<string, Partition>();
  /** Partitions whose fetch state may have changed since the last request (an answer touched them). */
  private readonly touched = new Set<Partition>();
  private fullRoundDue = true;
  private nextFullRoundMs = 0;
  private rateWasSet = false;

  constructor(leaderId: BrokerId, deps: ReplicaFetcherDeps) {
    this.leaderId = leaderId;
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.session = new FetchSessionBuilder({ enabled: deps.fetchSessions ?? true });
  }

  /**
   * A divergence answer that changed nothing delays that partition, doubling each time it
   * repeats (DIVERGENCE_BACKOFF_MIN_MS up to _MAX_MS), so a leader and follower that disagree
   * about their histories cannot busy-loop; any other answer resets the backoff.
   */
  private noteDivergence(key: string, stalled: boolean): void {
    if (!stalled) {
      this.divergenceBackoffMs.delete(key);
      return;
    }
    const backoffMs = Math.min(DIVERGENCE_BACKOFF_MAX_MS, (this.divergenceBackoffMs.get(key) ?? DIVERGENCE_BACKOFF_MIN_MS / 2) * 2);
    this.divergenceBackoffMs.set(key, backoffMs);
    this.delayedUntil.set(key, this.now() + backoffMs);
  }

  setPartitions(partitions: Partition[]): void {
    const before = new Set(this.partitions.map((p) => p.key));
    this.partitions = partitions;
    this.byKey = new Map(partitions.map((p) => [p.key, p]));
    this.fullRoundDue = true;
    this.delayedUntil.clear();
    if (partitions.some((p) => !before.has(p.key))) this.pollController.abort();
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    this.pollController.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const stop = this.stopController.signal;
    let backoffMs = BACKOFF_MIN_MS;
    while (!stop.aborted) {
      if (this.pollController.signal.aborted) this.pollController = new AbortController();
      const nowMs = this.now();
      const endpoint = this.deps.endpointOf(this.leaderId);
      // The follower quota: which partitions sit this round out, and how much the others may take.
      const quota = this.deps.followerQuota;
      quota.update(this.deps.throttleRate(), nowMs);
      if (quota.rateSet !== this.rateWasSet) this.fullRoundDue = true;
      this.rateWasSet = quota.rateSet;
      const changesOnly = this.session.id !== 0 && !this.fullRoundDue && nowMs < this.nextFullRoundMs && !quota.rateSet;
      // Built only when it will be sent: building tells the session what the leader holds.
      const round = endpoint === undefined ? undefined : changesOnly ? this.changesRound(nowMs) : this.fullRound(nowMs, quota);
      if (round === undefined || endpoint === undefined) {
        // Nothing to fetch (no partition, all held back, or no address yet): looked at again soon.
        this.fullRoundDue = true;
        const waitMs = endpoint !== undefined && quota.rateSet ? Math.min(HELD_RECHECK_MS, Math.max(1, quota.waitMs(nowMs))) : PARTITION_ERROR_DELAY_MS;
        await sleep(waitMs, this.pollController.signal);
        continue;
      }
      const { session, sentOf, maxWaitMs, maxBytes } = round;
      const request: ReplicaFetchRequest = {
        brokerId: this.deps.brokerId,
        brokerEpoch: this.deps.brokerEpoch(),
        maxWaitMs,
        maxBytes,
        sessionId: session.sessionId,
        sessionEpoch: session.sessionEpoch,
        ...(session.forgotten.length > 0 ? { forgotten: session.forgotten } : {}),
        partitions: session.partitions,
      };
      const started = this.now();
      let response: ReplicaFetchResponse;
      try {
        // Over TLS the leader's certificate must be broker-<leaderId>'s: no other cluster process may answer for it.
        response = await this.deps.clients.get(endpoint, `broker-${this.leaderId}`).call<ReplicaFetchResponse>('/replica/fetch', request, {
          timeoutMs: this.deps.maxWaitMs + 10_000,
          signal: this.pollController.signal,
        });
      } catch (err) {
        // Whatever the leader's session now holds is unknown: the next fetch opens a new one.
        this.session.reset();
        if (stop.aborted || this.pollController.signal.aborted) continue;
        if (err instanceof TributaryError && (err.code === 'FETCH_SESSION_ID_NOT_FOUND' || err.code === 'INVALID_FETCH_SESSION_EPOCH')) {
          this.deps.logger.debug({ leader: this.leaderId, err }, 'fetch session refused; opening a new one');
          continue;
        }
        const message = (err as Error).message;
        if (message !== this.lastError) {
          this.deps.logger.warn({ leader: this.leaderId, err }, 'replica fetch failed');
          this.lastError = message;
        }
        await sleep(backoffMs, stop);
        backoffMs = Math.min(BACKOFF_MAX_MS, backoffMs * 2);
        continue;
      }
      this.session.onResponse(session, response.sessionId);
      backoffMs = BACKOFF_MIN_MS;
      this.lastError = undefined;
      let bytes = 0;
      let throttledBytes = 0;
      let reassignmentBytes = 0;
      for (const r of response.partitions ?? []) {
        const s = sentOf(`${r.topic}-${r.partition}`);
        if (s === undefined) continue;
        // Its log end, last epoch or delay may change here: the next round looks at it.
        this.touched.add(s.p);
        const records = r.records === undefined || r.records === null ? Buffer.alloc(0) : Buffer.isBuffer(r.records) ? r.records : Buffer.from(r.records);
        try {
          const applied = s.p.applyFetchResponse({ ...r, records }, s.fetchOffset, s.leaderEpoch);
          bytes += applied.bytes;
          if (s.decision === 'limited' || s.decision === 'counted') throttledBytes += applied.bytes;
          if (s.p.addingReplicas.includes(this.deps.brokerId)) reassignmentBytes += applied.bytes;
          this.noteDivergence(s.p.key, applied.stalled);
        } catch (err) {
          if (!(err instanceof TributaryError)) throw err;
          this.deps.logger.warn({ topic: r.topic, partition: r.partition, leaderEpoch: s.leaderEpoch, err }, 'could not apply fetched data');
          this.delayedUntil.set(s.p.key, this.now() + PARTITION_ERROR_DELAY_MS);
        }
        if (r.error !== undefined && r.error.code !== 'OFFSET_OUT_OF_RANGE') {
          this.deps.logger.debug({ topic: r.topic, partition: r.partition, leaderEpoch: s.leaderEpoch, error: r.error }, 'leader refused replica fetch');
          this.delayedUntil.set(s.p.key, this.now() + PARTITION_ERROR_DELAY_MS);
        }
      }
      quota.record(throttledBytes, this.now());
      this.deps.onFetched?.(bytes, this.now() - started, reassignmentBytes);
    }
  }

  /** Fetched from this leader now: followed from it, not removed, not waiting out a delay. */
  private wants(p: Partition, nowMs: number): boolean {
    return !p.removed && p.role === 'follower' && p.leaderId === this.leaderId && (this.delayedUntil.get(p.key) ?? 0) <= nowMs;
  }

  /**
   * A round over every partition followed: each one's throttle decision and fetch state,
   * compared with what the leader's session holds. Undefined when nothing can be fetched.
   */
  private fullRound(nowMs: number, quota: ReplicationQuota): FetchRound | undefined {
    const parts = this.partitions.filter((p) => this.wants(p, nowMs));
    for (const [key, until] of this.delayedUntil) if (until <= nowMs) this.delayedUntil.delete(key);
    if (parts.length === 0) return undefined;
    const exhausted = quota.exhausted(nowMs);
    const listsInUse = this.deps.throttleListsInUse();
    const decided = parts.map((p) => ({
      p,
      decision: throttleDecision({ rateSet: quota.rateSet, listsInUse, listed: p.followerThrottled, inSync: p.isr.includes(this.deps.brokerId), exhausted }),
    }));
    const fetching = decided.filter((d) => d.decision !== 'held');
    // Looked at again soon even while the bucket refills: the rate or the throttled lists may
    // change (a cancelled reassignment removes its throttle) and free these partitions.
    if (fetching.length === 0) return undefined;
    const available = quota.available(nowMs);
    const anyHeld = fetching.length < decided.length;
    let maxBytes = this.deps.maxBytes;
    // Every partition throttled: the request as a whole stays within the bucket too.
    if (fetching.every((d) => d.decision === 'limited')) maxBytes = Math.max(1, Math.min(maxBytes, available));
    const sent = new Map<string, SentPartition>();
    const wanted = fetching.map(({ p, decision }) => {
      const fetch = this.fetchStateOf(p);
      sent.set(p.key, { p, decision, fetchOffset: fetch.fetchOffset, leaderEpoch: fetch.currentLeaderEpoch });
      return decision === 'limited' ? { ...fetch, maxBytes: Math.max(1, Math.min(this.deps.maxBytes, available)) } : fetch;
    });
    // KIP-227: the session names only the partitions whose fetch state changed.
    const session = this.session.build(wanted);
    this.touched.clear();
    this.fullRoundDue = false;
    this.nextFullRoundMs = nowMs + FULL_ROUND_EVERY_MS;
    return {
      session,
      sentOf: (key) => sent.get(key),
      // A held-back partition is asked for again once the bucket refills, not a long poll later.
      maxWaitMs: anyHeld ? Math.min(this.deps.maxWaitMs, Math.max(1, quota.waitMs(nowMs))) : this.deps.maxWaitMs,
      maxBytes,
    };
  }

  /**
   * A round over what may have changed since the last request — the partitions its answer
   * touched and those whose delay ran out — in an open session with nothing throttled. The
   * others stay in the leader's session as they are.
   */
  private changesRound(nowMs: number): FetchRound | undefined {
    for (const [key, until] of this.delayedUntil) {
      if (until > nowMs) continue;
      this.delayedUntil.delete(key);
      const p = this.byKey.get(key);
      if (p !== undefined) this.touched.add(p);
    }
    const changes = new Map<string, PartitionFetch | undefined>();
    for (const p of this.touched) changes.set(p.key, this.wants(p, nowMs) ? this.fetchStateOf(p) : undefined);
    this.touched.clear();
    const session = this.session.buildChanges(changes);
    if (this.session.sentCount === 0) {
      // Nothing left to fetch from this leader: the request is not sent, so the session ends
      // here (the leader's copy stops being used) and the next fetch opens a new one.
      this.session.reset();
      return undefined;
    }
    return {
      session,
      sentOf: (key) => {
        const fetch = this.session.sentFetch(key);
        const p = this.byKey.get(key);
        return fetch === undefined || p === undefined
          ? undefined
          : { p, decision: 'free', fetchOffset: fetch.fetchOffset, leaderEpoch: fetch.currentLeaderEpoch };
      },
      maxWaitMs: this.deps.maxWaitMs,
      maxBytes: this.deps.maxBytes,
    };
  }

  private fetchStateOf(p: Partition): PartitionFetch {
    return { topic: p.topic, partition: p.partition, fetchOffset: p.log.logEndOffset, lastFetchedEpoch: p.log.lastEpoch(), currentLeaderEpoch: p.leaderEpoch };
  }
}

/** One request's session fields and how to find what it said about each partition. */
interface FetchRound {
  session: SessionRequest;
  sentOf: (key: string) => SentPartition | undefined;
  maxWaitMs: number;
  maxBytes: number;
}

/** One fetcher per leader broker, re-planned after every metadata change. */
export class ReplicaFetcherManager {
  private readonly fetchers = new Map<BrokerId, ReplicaFetcher>();
  private readonly deps: ReplicaFetcherDeps;
  private closed = false;

  constructor(deps: ReplicaFetcherDeps) {
    this.deps = deps;
  }

  update(byLeader: Map<BrokerId, Partition[]>): void {
    if (this.closed) return;
    for (const [leaderId, partitions] of byLeader) {
      let f = this.fetchers.get(leaderId);
      if (f === undefined) {
        f = new ReplicaFetcher(leaderId, this.deps);
        this.fetchers.set(leaderId, f);
        f.setPartitions(partitions);
        f.start();
        this.deps.logger.info({ leader: leaderId, partitions: partitions.length }, 'started replica fetcher');
      } else {
        f.setPartitions(partitions);
      }
    }
    for (const [leaderId, f] of this.fetchers) {
      if (!byLeader.has(leaderId)) {
        this.fetchers.delete(leaderId);
        void f.stop();
        this.deps.logger.info({ leader: leaderId }, 'stopped replica fetcher');
      }
    }
  }

  get fetcherCount(): number {
    return this.fetchers.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.fetchers.values()];
    this.fetchers.clear();
    await Promise.all(all.map((f) => f.stop()));
  }
}
