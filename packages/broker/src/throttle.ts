// Replication throttling (Kafka's replication quotas, KIP-73), sans I/O: a token bucket, and the
// rule that decides, per partition of a replica fetch, whether the leader's or the follower's
// quota holds it back. The fetcher (follower side) and the replica manager (leader side) ask;
// timers and sockets stay with them.

import { parseThrottledReplicas } from '@tributary/protocol';

/**
 * The most a bucket may owe, in seconds of its rate. Kafka measures replication quotas over a
 * window (replication.quota.window.num 11 x replication.quota.window.size.seconds 1), so a burst
 * far above the rate holds a replica back for at most about that long; an unbounded debt would
 * hold it for size / rate (a 400 KB batch at 1 KB/s: six and a half minutes), and the debt would
 * outlive the throttle's own removal.
 */
export const QUOTA_DEBT_WINDOW_SECONDS = 11;

export class TokenBucket {
  private rateBytesPerSec: number;
  private tokens: number;
  private lastMs: number;
  /** Burst capacity: one second of the rate. */
  private capacity: number;

  constructor(rateBytesPerSec: number, nowMs: number) {
    this.rateBytesPerSec = rateBytesPerSec;
    this.capacity = rateBytesPerSec;
    this.tokens = rateBytesPerSec;
    this.lastMs = nowMs;
  }

  get rate(): number {
    return this.rateBytesPerSec;
  }

  setRate(rateBytesPerSec: number, nowMs: number): void {
    this.refill(nowMs);
    this.rateBytesPerSec = rateBytesPerSec;
    this.capacity = rateBytesPerSec;
    this.tokens = Math.max(this.debtFloor, Math.min(this.tokens, this.capacity));
  }

  private get debtFloor(): number {
    return -this.rateBytesPerSec * QUOTA_DEBT_WINDOW_SECONDS;
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.lastMs);
    this.lastMs = nowMs;
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.rateBytesPerSec) / 1000);
  }

  /** Bytes that may be fetched now (0: wait `waitMs(…)` first). */
  available(nowMs: number): number {
    this.refill(nowMs);
    return Math.max(0, Math.floor(this.tokens));
  }

  /** Ms until at least `bytes` (capped at the capacity) are available. */
  waitMs(bytes: number, nowMs: number): number {
    this.refill(nowMs);
    const want = Math.min(bytes, this.capacity);
    if (this.tokens >= want) return 0;
    return Math.ceil(((want - this.tokens) * 1000) / this.rateBytesPerSec);
  }

  /**
   * Charges bytes actually received; may go negative when a whole batch exceeded the grant, down
   * to QUOTA_DEBT_WINDOW_SECONDS of the rate.
   */
  consume(bytes: number, nowMs: number): void {
    this.refill(nowMs);
    this.tokens = Math.max(this.debtFloor, this.tokens - bytes);
  }
}

// ---------------------------------------------------------------------------------------------
// Replication quotas with Kafka's semantics (KIP-73): a broker's leader.replication.throttled.rate
// limits what it sends, as leader, for the replicas named in topics'
// leader.replication.throttled.replicas, and its follower.replication.throttled.rate what it
// fetches, as follower, for the replicas in follower.replication.throttled.replicas. A throttled
// replica outside the ISR gets no bytes while its broker's bucket is empty; one in the ISR is never
// held back (Kafka's shouldFollowerThrottle / shouldLeaderThrottle: holding back a replica that is
// in sync would push it out and back in), but its bytes still count against the bucket.
// Replicas not named are never held back and never counted.
//
// Tributary's one addition: while no topic in the cluster names any throttled replica, a rate
// applies to all of the broker's replication traffic on its side, in the ISR or not. That is what
// `tributary brokers set-config 4 follower.replication.throttled.rate=1024` has always meant here
// (make B4 lag on purpose, and watch it leave the ISR); once an operator names replicas, as a
// throttled reassignment does, only those are throttled, exactly as in Kafka.

/** A throttled-replicas list as a lookup; parsed once per distinct value (the lists are few). */
export interface ThrottledReplicaSet {
  readonly any: boolean;
  has(partition: number, brokerId: number): boolean;
}

const NONE: ThrottledReplicaSet = { any: false, has: () => false };
const parsedLists = new Map<string, ThrottledReplicaSet>();
const PARSED_LISTS_MAX = 256;

export function throttledReplicaSet(value: string | undefined): ThrottledReplicaSet {
  if (value === undefined || value === '') return NONE;
  let set = parsedLists.get(value);
  if (set !== undefined) return set;
  const parsed = parseThrottledReplicas(value);
  const keys = new Set(parsed.pairs.map((p) => `${p.partition}:${p.brokerId}`));
  set = parsed.all ? { any: true, has: () => true } : { any: keys.size > 0, has: (partition, brokerId) => keys.has(`${partition}:${brokerId}`) };
  if (parsedLists.size >= PARSED_LISTS_MAX) parsedLists.clear();
  parsedLists.set(value, set);
  return set;
}

/**
 * What a replication quota does to one partition of one fetch:
 * - 'free': not throttled; its bytes do not count;
 * - 'held': it gets no bytes now (throttled, may be held back, and the bucket is empty);
 * - 'limited': throttled and may be held back, the bucket has tokens: at most that many bytes;
 * - 'counted': throttled but in the ISR (Kafka mode): never held back, its bytes count.
 */
export type ThrottleDecision = 'free' | 'held' | 'limited' | 'counted';

export interface ThrottleInput {
  /** The broker's rate on this side is set. */
  rateSet: boolean;
  /** Some topic in the cluster names throttled replicas (Kafka mode); else the rate covers all. */
  listsInUse: boolean;
  /** The topic's list for this side names this partition on this broker (or is '*'). */
  listed: boolean;
  /** The replica being copied (the follower) is in the partition's ISR. */
  inSync: boolean;
  /** The broker's bucket on this side has no tokens left. */
  exhausted: boolean;
}

export function throttleDecision(input: ThrottleInput): ThrottleDecision {
  if (!input.rateSet) return 'free';
  if (input.listsInUse && !input.listed) return 'free';
  const holdable = !input.listsInUse || !input.inSync;
  if (!holdable) return 'counted';
  return input.exhausted ? 'held' : 'limited';
}

/** One side's quota of one broker: a token bucket that follows the configured rate. */
export class ReplicationQuota {
  private bucket: TokenBucket | undefined;

  /** The rate from the broker's dynamic config (undefined or <= 0: none). */
  update(rateBytesPerSec: number | undefined, nowMs: number): void {
    if (rateBytesPerSec === undefined || rateBytesPerSec <= 0) {
      this.bucket = undefined;
    } else if (this.bucket === undefined) {
      this.bucket = new TokenBucket(rateBytesPerSec, nowMs);
    } else if (this.bucket.rate !== rateBytesPerSec) {
      this.bucket.setRate(rateBytesPerSec, nowMs);
    }
  }

  get rateSet(): boolean {
    return this.bucket !== undefined;
  }

  available(nowMs: number): number {
    return this.bucket === undefined ? Number.POSITIVE_INFINITY : this.bucket.available(nowMs);
  }

  exhausted(nowMs: number): boolean {
    return this.available(nowMs) <= 0;
  }

  /** Ms until at least one byte may be sent again (0 when it may now). */
  waitMs(nowMs: number): number {
    return this.bucket === undefined ? 0 : this.bucket.waitMs(1, nowMs);
  }

  record(bytes: number, nowMs: number): void {
    if (bytes > 0) this.bucket?.consume(bytes, nowMs);
  }
}
