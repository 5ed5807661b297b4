// The replication rules of one partition replica, sans I/O (DESIGN.md § Replication): what the
// leader knows of its followers, the high watermark, and when to propose ISR changes. Time and
// inputs come in as arguments; decisions go out as return values. The Partition (partition.ts)
// feeds it log offsets and fetches and carries out what it returns.

import { assert } from '@tributary/protocol';
import type { BrokerId } from '@tributary/protocol';

/** What the leader knows of one follower (Kafka's ReplicaState). */
export interface FollowerProgress {
  brokerId: BrokerId;
  /** -1 until the follower's first fetch under this leader epoch. */
  logEndOffset: number;
  /** Last time its fetch showed it caught up to the leader's log end offset. */
  lastCaughtUpMs: number;
  lastFetchMs: number;
  /** The leader's LEO at the time of the follower's previous fetch. */
  lastFetchLeaderLeo: number;
  /** The broker epoch its fetches carry (KIP-903); -1 until its first fetch under this leader. */
  brokerEpoch: number;
  /**
   * Set while the partition is quiet in the follower's fetch session (fetch-session.ts): its
   * fetches skip the partition, and each one that does counts as a fetch at the log end.
   */
  quietClock?: { readonly lastFetchMs: number } | undefined;
}

/** An AlterPartition (KIP-497) the leader wants the controller to apply. */
export interface IsrProposal {
  kind: 'shrink' | 'expand';
  leaderEpoch: number;
  partitionEpoch: number;
  newIsr: BrokerId[];
  /** The followers leaving (shrink) or joining (expand). */
  changed: BrokerId[];
  /** For an expansion, the broker epoch each joining follower fetched under (KIP-903). */
  joiningEpochs: { brokerId: BrokerId; brokerEpoch: number }[];
}

export interface LeaderInit {
  brokerId: BrokerId;
  leaderEpoch: number;
  partitionEpoch: number;
  replicas: readonly BrokerId[];
  /** Replicas a reassignment is adding (KIP-455): followers outside the ISR until caught up. */
  addingReplicas?: readonly BrokerId[];
  isr: readonly BrokerId[];
  minInsyncReplicas: number;
  replicaLagTimeMaxMs: number;
  /** The log end offset when leadership began: followers must reach it to join the ISR. */
  leaderEpochStartOffset: number;
  logEndOffset: number;
  /** Carried over from the checkpoint or the follower days; never above logEndOffset. */
  highWatermark: number;
  nowMs: number;
}

export interface PartitionAssignment {
  leaderEpoch: number;
  partitionEpoch: number;
  replicas: readonly BrokerId[];
  addingReplicas?: readonly BrokerId[];
  isr: readonly BrokerId[];
}

/**
 * Kafka (>= 3.7, KIP-966) caps min.insync.replicas at the replication factor, so a topic of one
 * replica still commits with the cluster default of 2.
 */
export function effectiveMinIsr(minInsyncReplicas: number, replicationFactor: number): number {
  return Math.max(1, Math.min(minInsyncReplicas, replicationFactor));
}

/** A follower's high watermark: the leader's, but never past what it holds itself. */
export function followerHighWatermark(leaderHighWatermark: number, logEndOffset: number): number {
  return Math.max(0, Math.min(leaderHighWatermark, logEndOffset));
}

export class LeaderState {
  readonly brokerId: BrokerId;
  readonly leaderEpoch: number;
  readonly leaderEpochStartOffset: number;
  readonly replicaLagTimeMaxMs: number;
  /** When this leadership began: "caught up" times are not known before it. */
  readonly startMs: number;
  partitionEpoch: number;
  replicas: BrokerId[];
  /** Replicas a reassignment is adding; they do not count towards the replication factor yet. */
  addingReplicas: BrokerId[];
  /** The ISR as the controller last published it: the only one that counts for min ISR. */
  isr: BrokerId[];
  minInsyncReplicas: number;
  logEndOffset: number;
  highWatermark: number;
  /** At most one AlterPartition in flight per partition. */
  pending: IsrProposal | undefined;
  private readonly followers = new Map<BrokerId, FollowerProgress>();

  constructor(init: LeaderInit) {
    assert(init.highWatermark <= init.logEndOffset, `HW ${init.highWatermark} above LEO ${init.logEndOffset} on becoming leader`);
    this.brokerId = init.brokerId;
    this.leaderEpoch = init.leaderEpoch;
    this.leaderEpochStartOffset = init.leaderEpochStartOffset;
    this.replicaLagTimeMaxMs = init.replicaLagTimeMaxMs;
    this.startMs = init.nowMs;
    this.partitionEpoch = init.partitionEpoch;
    this.replicas = [...init.replicas];
    this.addingReplicas = [...(init.addingReplicas ?? [])];
    this.isr = [...init.isr];
    this.minInsyncReplicas = init.minInsyncReplicas;
    this.logEndOffset = init.logEndOffset;
    this.highWatermark = init.highWatermark;
    this.pending = undefined;
    for (const id of init.replicas) {
      if (id === init.brokerId) continue;
      // ISR members get a fresh grace period; Kafka does the same on becoming leader.
      this.followers.set(id, {
        brokerId: id,
        logEndOffset: -1,
        lastCaughtUpMs: init.isr.includes(id) ? init.nowMs : 0,
        lastFetchMs: 0,
        lastFetchLeaderLeo: -1,
        brokerEpoch: -1,
      });
    }
  }

  /**
   * The replication factor the commit rules use: during a reassignment the original replica
   * count (replicas − adding, Kafka's OngoingReassignmentState.replicationFactor), so replicas
   * being copied raise neither min ISR nor the under-replicated count until they complete.
   */
  get replicationFactor(): number {
    return this.replicas.length - this.addingReplicas.length;
  }

  get effectiveMinIsr(): number {
    return effectiveMinIsr(this.minInsyncReplicas, this.replicationFactor);
  }

  /** acks=all is refused up front while this holds; the HW stands still (strict min ISR rule). */
  get isUnderMinIsr(): boolean {
    return this.isr.length < this.effectiveMinIsr;
  }

  get isUnderReplicated(): boolean {
    return this.isr.length < this.replicationFactor;
  }

  /**
   * The ISR plus a follower whose expansion is pending: the HW waits for it too, so it is safe
   * the moment the controller says yes (Kafka's maximal ISR). A pending shrink still counts the
   * leaving follower until the controller agrees.
   */
  maximalIsr(): BrokerId[] {
    if (this.pending?.kind === 'expand') return [...new Set([...this.isr, ...this.pending.newIsr])];
    return this.isr;
  }

  follower(id: BrokerId): FollowerProgress | undefined {
    return this.followers.get(id);
  }

  followerIds(): BrokerId[] {
    return [...this.followers.keys()];
  }

  /** The leader's log grew. Returns whether the HW moved. */
  onLeaderAppend(logEndOffset: number): boolean {
    assert(logEndOffset >= this.logEndOffset, `leader LEO went backwards: ${this.logEndOffset} -> ${logEndOffset}`);
    this.logEndOffset = logEndOffset;
    return this.maybeAdvanceHighWatermark();
  }

  /**
   * A follower fetched from `fetchOffset` (its LEO) under broker epoch `brokerEpoch`. Updates its
   * progress (Kafka's ReplicaState.updateFetchState), then the HW, then looks at whether it may
   * join the ISR. `eligible`: its broker is alive and registered under that very epoch (KIP-903).
   * A fetch under a new broker epoch is a new process whose log may be shorter than the last one's:
   * what the old one had caught up to no longer counts.
   */
  onFollowerFetch(
    id: BrokerId,
    fetchOffset: number,
    brokerEpoch: number,
    nowMs: number,
    eligible: boolean,
  ): { hwChanged: boolean; proposal: IsrProposal | undefined } {
    const f = this.followers.get(id);
    if (f === undefined) return { hwChanged: false, proposal: undefined };
    foldQuietClock(f);
    if (f.brokerEpoch !== brokerEpoch) {
      if (f.brokerEpoch >= 0) {
        f.lastCaughtUpMs = 0;
        f.lastFetchLeaderLeo = -1;
      }
      f.brokerEpoch = brokerEpoch;
    }
    if (fetchOffset >= this.logEndOffset) {
      f.lastCaughtUpMs = Math.max(f.lastCaughtUpMs, nowMs);
    } else if (f.lastFetchLeaderLeo >= 0 && fetchOffset >= f.lastFetchLeaderLeo) {
      // It has everything the leader had at its previous fetch: it was caught up back then.
      f.lastCaughtUpMs = Math.max(f.lastCaughtUpMs, f.lastFetchMs);
    }
    f.logEndOffset = fetchOffset;
    f.lastFetchLeaderLeo = this.logEndOffset;
    f.lastFetchMs = nowMs;
    const hwChanged = this.maybeAdvanceHighWatermark();
    return { hwChanged, proposal: this.maybeExpandIsr(id, eligible) };
  }

  /**
   * KIP-497 expansion: a follower outside the ISR rejoins when it holds everything committed
   * (LEO >= HW) and everything of the current leader epoch's start, and its broker is eligible
   * (alive, under the broker epoch it fetched with: the proposal carries that epoch, KIP-903).
   */
  maybeExpandIsr(id: BrokerId, eligible: boolean): IsrProposal | undefined {
    if (this.pending !== undefined || this.isr.includes(id) || !eligible) return undefined;
    const f = this.followers.get(id);
    if (f === undefined || f.logEndOffset < 0 || f.brokerEpoch < 0) return undefined;
    if (f.logEndOffset < this.highWatermark || f.logEndOffset < this.leaderEpochStartOffset) return undefined;
    const newIsr = [...this.isr, id];
    this.pending = {
      kind: 'expand',
      leaderEpoch: this.leaderEpoch,
      partitionEpoch: this.partitionEpoch,
      newIsr,
      changed: [id],
      joiningEpochs: [{ brokerId: id, brokerEpoch: f.brokerEpoch }],
    };
    return this.pending;
  }

  /**
   * A follower is out of sync when it has not caught up to the leader's LEO for more than the lag
   * time: replica.lag.time.max.ms as Kafka documents it ("hasn't sent any fetch requests or hasn't
   * consumed up to the leader's log end offset for at least this time"). A healthy follower's
   * long-polls reach the LEO every few hundred ms even when the partition is idle, so the time
   * alone decides: a dead or SIGSTOPped follower of an idle partition leaves the ISR too. (Kafka
   * today also counts LEO equality as caught up, and relies on the controller removing fenced
   * brokers from ISRs; here fencing does not touch a follower's ISRs, see DESIGN.md § ISR.)
   */
  isCaughtUp(f: FollowerProgress, nowMs: number): boolean {
    return nowMs - caughtUpMs(f) <= this.replicaLagTimeMaxMs;
  }

  /**
   * The follower is quiet in its fetch session: in the ISR, at the log end, told the HW. Until
   * its next read (onFollowerFetch) each of its session's fetches counts as one at the log end.
   */
  linkQuietFollower(id: BrokerId, clock: { readonly lastFetchMs: number }): void {
    const f = this.followers.get(id);
    if (f !== undefined) f.quietClock = clock;
  }

  /** The follower's session forgot this partition: its fetches no longer count for it. */
  unlinkQuietFollower(id: BrokerId): void {
    const f = this.followers.get(id);
    if (f !== undefined) foldQuietClock(f);
  }

  outOfSyncReplicas(nowMs: number): BrokerId[] {
    const out: BrokerId[] = [];
    for (const id of this.isr) {
      if (id === this.brokerId) continue;
      const f = this.followers.get(id);
      if (f === undefined || !this.isCaughtUp(f, nowMs)) out.push(id);
    }
    return out;
  }

  /** Run every replica.lag.time.max.ms / 2: proposes dropping followers that fell behind. */
  maybeShrinkIsr(nowMs: number): IsrProposal | undefined {
    if (this.pending !== undefined) return undefined;
    const out = this.outOfSyncReplicas(nowMs);
    if (out.length === 0) return undefined;
    const newIsr = this.isr.filter((id) => !out.includes(id));
    this.pending = { kind: 'shrink', leaderEpoch: this.leaderEpoch, partitionEpoch: this.partitionEpoch, newIsr, changed: out, joiningEpochs: [] };
    return this.pending;
  }

  /**
   * The controller published a new ISR for this leader epoch (its AlterPartition answer or a
   * metadata update). A partition epoch older than ours is stale news and ignored. Returns
   * whether the HW moved (a shrink can let it advance).
   */
  applyAssignment(a: PartitionAssignment, minInsyncReplicas: number, nowMs: number): boolean {
    assert(a.leaderEpoch === this.leaderEpoch, `assignment for leader epoch ${a.leaderEpoch} applied to leader state of epoch ${this.leaderEpoch}`);
    this.minInsyncReplicas = minInsyncReplicas;
    if (a.partitionEpoch < this.partitionEpoch) return false;
    if (a.partitionEpoch > this.partitionEpoch) this.pending = undefined;
    this.partitionEpoch = a.partitionEpoch;
    this.isr = [...a.isr];
    this.replicas = [...a.replicas];
    this.addingReplicas = [...(a.addingReplicas ?? [])];
    for (const id of a.replicas) {
      if (id !== this.brokerId && !this.followers.has(id)) {
        this.followers.set(id, {
          brokerId: id,
          logEndOffset: -1,
          lastCaughtUpMs: a.isr.includes(id) ? nowMs : 0,
          lastFetchMs: 0,
          lastFetchLeaderLeo: -1,
          brokerEpoch: -1,
        });
      }
    }
    for (const id of [...this.followers.keys()]) if (!a.replicas.includes(id)) this.followers.delete(id);
    return this.maybeAdvanceHighWatermark();
  }

  /** The AlterPartition failed (controller away, stale epoch): forget it, so it can be retried. */
  clearPending(): void {
    this.pending = undefined;
  }

  /**
   * HW = min LEO over the maximal ISR, leader included. It only moves forward, and not at all
   * while the ISR is below min.insync.replicas (Kafka >= 3.7: nothing counts as committed until
   * enough copies exist).
   */
  maybeAdvanceHighWatermark(): boolean {
    if (this.isUnderMinIsr) return false;
    let candidate = this.logEndOffset;
    for (const id of this.maximalIsr()) {
      if (id === this.brokerId) continue;
      const f = this.followers.get(id);
      // A member we have not heard from under this epoch holds the HW where it is.
      const leo = f === undefined ? -1 : f.logEndOffset;
      if (leo < candidate) candidate = leo;
    }
    if (candidate <= this.highWatermark) return false;
    assert(candidate <= this.logEndOffset, `HW ${candidate} above LEO ${this.logEndOffset}`);
    this.highWatermark = candidate;
    return true;
  }

  /** Per replica LEO, lag and time since caught up, for describe-replicas and metrics. */
  describe(nowMs: number): { brokerId: BrokerId; logEndOffset: number; lagRecords: number; lastCaughtUpMsAgo: number }[] {
    const out = [{ brokerId: this.brokerId, logEndOffset: this.logEndOffset, lagRecords: 0, lastCaughtUpMsAgo: 0 }];
    for (const id of this.replicas) {
      if (id === this.brokerId) continue;
      const f = this.followers.get(id);
      const leo = f?.logEndOffset ?? -1;
      out.push({
        brokerId: id,
        logEndOffset: leo,
        lagRecords: leo < 0 ? this.logEndOffset : Math.max(0, this.logEndOffset - leo),
        // Never caught up under this leader: at least since the leadership began.
        lastCaughtUpMsAgo: Math.max(0, nowMs - (f === undefined || caughtUpMs(f) === 0 ? this.startMs : caughtUpMs(f))),
      });
    }
    return out;
  }
}

/** When the follower was last caught up: its own fetches, or its session's while it is quiet. */
function caughtUpMs(f: FollowerProgress): number {
  return Math.max(f.lastCaughtUpMs, f.quietClock?.lastFetchMs ?? 0);
}

/** Ends a quiet link: what it vouched for (a fetch at the log end, at its time) becomes the follower's own. */
function foldQuietClock(f: FollowerProgress): void {
  const clock = f.quietClock;
  if (clock === undefined) return;
  f.quietClock = undefined;
  f.lastCaughtUpMs = Math.max(f.lastCaughtUpMs, clock.lastFetchMs);
  f.lastFetchMs = Math.max(f.lastFetchMs, clock.lastFetchMs);
}
