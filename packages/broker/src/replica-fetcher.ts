// Followers pull (DESIGN.md § Replication): one ReplicaFetcher per leader broker long-polls
// POST /replica/fetch for every partition this broker follows from that leader, with its LEO as
// the fetch offset, the epoch of its last batch (KIP-101/279) and the leader epoch it believes.
// The answers are appended as-is; divergence and out-of-range answers truncate first. A
// follower.replication.throttled.rate (KIP-73) set for this broker limits what it fetches for the
// replicas the topics' follower.replication.throttled.replicas name (throttle.ts): one bucket for
// the whole broker, shared by its fetchers; a held-back partition leaves the fetch while the
// bucket is empty, and the others in the same fetch go on unhindered. Fetches run in an
// incremental fetch session (KIP-227, fetch-session.ts): only changed partitions are named.
// Once the session is open and no follower quota is set, a round looks only at what may have
// changed since the last request: the partitions its answer touched (only an answer moves a
// follower's log) and those whose delay began or ran out. A full round — every partition
// followed, its role, leader, delay and quota, and its log unless the log version shows it as
// last sent — runs after every metadata change, whenever a quota is set, and once a second,
// when it also reads every log, so a change that bypassed both waits at most a second.

import { TributaryError, type BrokerId, type Endpoint, type ReplicaFetchRequest, type ReplicaFetchResponse } from '@tributary/protocol';
import type { RpcClientPool } from '@tributary/transport';
import type { Partition } from './partition.ts';
import { FetchSessionBuilder } from './fetch-session.ts';
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
/** At least this often a round reads every partition's log instead of trusting Log.version. */
const EXACT_ROUND_EVERY_MS = 1000;

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
  private readonly session: FetchSessionBuilder<Partition>;
  /** This round's partitions to fetch (reused: a round at thousands of partitions allocates little). */
  private readonly roundParts: Partition[] = [];
  /** This round's throttle decisions other than 'free' (only while a follower rate is set). */
  private readonly roundDecisions = new Map<Partition, ThrottleDecision>();
  private nextExactRoundMs = 0;
  private byKey = new Map<string, Partition>();
  /** Partitions whose fetch state may have changed since the last request (an answer touched them). */
  private readonly changed = new Set<Partition>();
  /** The next round looks at every partition followed (metadata changed, the quota was set or lifted, nothing was sent). */
  private fullRoundDue = true;
  private rateWasSet = false;

  constructor(leaderId: BrokerId, deps: ReplicaFetcherDeps) {
    this.leaderId = leaderId;
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.session = new FetchSessionBuilder<Partition>({ enabled: deps.fetchSessions ?? true });
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
      if (endpoint === undefined) {
        // No address for the leader yet (metadata): looked at again soon, with a full round.
        this.fullRoundDue = true;
        await sleep(PARTITION_ERROR_DELAY_MS, this.pollController.signal);
        continue;
      }
      // The follower quota: which partitions sit this round out, and how much the others may take.
      const quota = this.deps.followerQuota;
      quota.update(this.deps.throttleRate(), nowMs);
      if (quota.rateSet !== this.rateWasSet) this.fullRoundDue = true;
      this.rateWasSet = quota.rateSet;
      const decisions = this.roundDecisions;
      decisions.clear();
      let anyHeld = false;
      let maxBytes = this.deps.maxBytes;
      const exact = nowMs >= this.nextExactRoundMs;
      if (!exact && !this.fullRoundDue && !quota.rateSet && this.session.id !== 0) {
        // A round over what may have changed since the last request: the partitions its answer
        // touched and those whose delay ran out or began. Every other one stays in the leader's
        // session as it is; a full round still runs after every metadata change and once a second.
        this.changesRound(nowMs);
        if (this.session.heldCount === 0) {
          // Nothing left to fetch from this leader: no request, so the session ends here and the
          // next fetch opens a new one (what the leader holds is then no longer relied on).
          this.session.reset();
          this.fullRoundDue = true;
          continue;
        }
      } else {
        const round = this.fullRound(nowMs, exact);
        if ('waitMs' in round) {
          await sleep(round.waitMs, this.pollController.signal);
          continue;
        }
        ({ anyHeld, maxBytes } = round);
      }
      const session = this.session.finish();
      const request: ReplicaFetchRequest = {
        brokerId: this.deps.brokerId,
        brokerEpoch: this.deps.brokerEpoch(),
        // A held-back partition is asked for again once the bucket refills, not a long poll later.
        maxWaitMs: anyHeld ? Math.min(this.deps.maxWaitMs, Math.max(1, quota.waitMs(nowMs))) : this.deps.maxWaitMs,
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
        // What this request said about the partition, and the partition it was built from.
        const sent = this.session.sentFetch(`${r.topic}-${r.partition}`);
        if (sent === undefined || sent.owner === undefined) continue;
        const s = { p: sent.owner, decision: decisions.get(sent.owner) ?? 'free', fetchOffset: sent.fetchOffset, leaderEpoch: sent.currentLeaderEpoch };
        // Its log end, last epoch or delay may change here: the next round looks at it.
        this.changed.add(s.p);
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

  /** Followed from this leader now: a follower replica, not removed, whose leader it is. */
  private followsHere(p: Partition): boolean {
    return !p.removed && p.role === 'follower' && p.leaderId === this.leaderId;
  }

  /**
   * Puts a partition in the request being built: kept as the leader's session holds it when its
   * log version shows it unchanged (never when `exact`), else read and named if it changed.
   */
  private offer(p: Partition, maxBytes: number | undefined, exact: boolean): void {
    const version = p.log.version;
    if (!exact && this.session.keepIfUnchanged(p.key, version, p.leaderEpoch, maxBytes, p)) return;
    this.session.want(p.key, p.topic, p.partition, p.log.logEndOffset, p.log.lastEpoch(), p.leaderEpoch, maxBytes, p, version);
  }

  /**
   * Builds a request over every partition followed from this leader: its role, leader, delay and
   * quota decide whether it is fetched now, and its log is read unless its version shows it as
   * last sent (every log, when `exact`). Returns how long to wait instead when nothing can be
   * fetched (no partition, or all held back by the quota).
   */
  private fullRound(nowMs: number, exact: boolean): { anyHeld: boolean; maxBytes: number } | { waitMs: number } {
    const parts = this.roundParts;
    parts.length = 0;
    if (this.delayedUntil.size > 0) for (const [key, until] of this.delayedUntil) if (until <= nowMs) this.delayedUntil.delete(key);
    const delayed = this.delayedUntil.size > 0;
    for (const p of this.partitions) {
      if (!this.followsHere(p)) continue;
      if (delayed && this.delayedUntil.has(p.key)) continue;
      parts.push(p);
    }
    if (parts.length === 0) {
      this.fullRoundDue = true;
      return { waitMs: PARTITION_ERROR_DELAY_MS };
    }
    const quota = this.deps.followerQuota;
    const decisions = this.roundDecisions;
    const wanted = parts.length;
    if (quota.rateSet) {
      const exhausted = quota.exhausted(nowMs);
      const listsInUse = this.deps.throttleListsInUse();
      let kept = 0;
      for (const p of parts) {
        const decision = throttleDecision({ rateSet: true, listsInUse, listed: p.followerThrottled, inSync: p.isr.includes(this.deps.brokerId), exhausted });
        if (decision === 'held') continue;
        if (decision !== 'free') decisions.set(p, decision);
        parts[kept++] = p;
      }
      parts.length = kept;
    }
    if (parts.length === 0) {
      // Looked at again soon even while the bucket refills: the rate or the throttled lists
      // may change (a cancelled reassignment removes its throttle) and free these partitions.
      return { waitMs: Math.min(HELD_RECHECK_MS, Math.max(1, quota.waitMs(nowMs))) };
    }
    const available = quota.available(nowMs);
    let maxBytes = this.deps.maxBytes;
    // Every partition throttled: the request as a whole stays within the bucket too.
    const allLimited = decisions.size === parts.length && parts.every((p) => decisions.get(p) === 'limited');
    if (allLimited) maxBytes = Math.max(1, Math.min(maxBytes, available));
    const limitedMaxBytes = Math.max(1, Math.min(this.deps.maxBytes, available));
    // KIP-227: the session names only the partitions whose fetch state changed.
    // A partition whose log has not changed since it was last sent (Log.version) is kept as
    // the leader holds it without reading its log end and last epoch: at thousands of
    // partitions per leader, those reads were most of a round. Once a second every partition
    // is read and compared all the same.
    if (exact) this.nextExactRoundMs = nowMs + EXACT_ROUND_EVERY_MS;
    this.session.begin();
    for (const p of parts) this.offer(p, decisions.size > 0 && decisions.get(p) === 'limited' ? limitedMaxBytes : undefined, exact);
    this.fullRoundDue = false;
    this.changed.clear();
    return { anyHeld: parts.length < wanted, maxBytes };
  }

  /**
   * Builds a changes-only request (an open session, no follower quota): the partitions an answer
   * touched and those whose delay began or ran out, each named if its fetch state changed or
   * dropped if it is no longer fetched now (a delayed partition leaves the session until its delay
   * ends, as in a full round).
   */
  private changesRound(nowMs: number): void {
    if (this.delayedUntil.size > 0) {
      for (const [key, until] of this.delayedUntil) {
        if (until > nowMs) continue;
        this.delayedUntil.delete(key);
        const p = this.byKey.get(key);
        if (p !== undefined) this.changed.add(p);
      }
    }
    this.session.begin(true);
    for (const p of this.changed) {
      if (!this.followsHere(p) || this.delayedUntil.has(p.key) || this.byKey.get(p.key) !== p) this.session.drop(p.key);
      else this.offer(p, undefined, false);
    }
    this.changed.clear();
  }
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
