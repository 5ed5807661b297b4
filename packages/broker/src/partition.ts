// One partition replica on this broker: its log, its role (leader or follower), the pure
// replication state (partition-state.ts), the idempotent-producer state, and the waiters that
// appends and high-watermark moves wake. Sockets and timers live in the ReplicaManager and the
// fetchers; this class only does synchronous log calls and resolves waiters.

import {
  checkBatchCrc,
  LOG_OVERHEAD,
  readBatchHeader,
  TributaryError,
  assert,
  type BrokerId,
  type ErrorCode,
  type PartitionState,
  type ReplicaFetchPartitionResponse,
  type TopicConfigs,
} from '@tributary/protocol';
import { checkFetchPosition, truncationOffset } from './divergence.ts';
import { LeaderState, followerHighWatermark, type IsrProposal } from './partition-state.ts';
import type { BackgroundWork } from './background-work.ts';
import { loadProducerSnapshot, writeProducerSnapshot } from './producer-snapshots.ts';
import { ProducerStateTable } from './producer-state.ts';
import { throttledReplicaSet } from './throttle.ts';

/** What the broker needs of a partition's log (storage's Log). */
export interface PartitionLog {
  /** The partition's directory (producer-state snapshots live beside the segments). */
  readonly dir: string;
  readonly segmentCount: number;
  segmentBaseOffsets(): number[];
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  /** Moves on whenever the segments or their ends may change: log end and last epoch stay while it does. */
  readonly version: number;
  readonly sizeInBytes: number;
  appendAsLeader(batch: Buffer, leaderEpoch: number): { baseOffset: number; lastOffset: number };
  appendAsFollower(batches: Buffer): { firstOffset: number; lastOffset: number };
  read(offset: number, maxBytes: number, maxOffset?: number): Buffer;
  offsetForTimestamp(timestampMs: number): number | null;
  truncateTo(offset: number): void;
  truncateFullyAndStartAt(offset: number): void;
  /** Never deletes a segment holding offsets at or above `highWatermark`. */
  deleteOldSegments(nowMs: number, highWatermark: number): number;
  maybeRoll(nowMs: number): void;
  lastEpoch(): number;
  readonly epochs: {
    readonly latestEpoch: number;
    assign(epoch: number, startOffset: number): void;
    startOffsetOf(epoch: number): number | undefined;
    endOffsetFor(epoch: number, logEndOffset: number): { epoch: number; endOffset: number };
    entries(): readonly { epoch: number; startOffset: number }[];
  };
}

/** Bounded read size when rebuilding producer state from the log. */
const PRODUCER_SCAN_CHUNK_BYTES = 8 * 1024 * 1024;
/** What one background slice of a producer-state load reads (about a millisecond from the page cache). */
const PRODUCER_LOAD_SLICE_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

export interface PartitionLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface PartitionContext {
  brokerId: BrokerId;
  replicaLagTimeMaxMs: number;
  logger: PartitionLogger;
  /** Sends an AlterPartition for a proposal (fire and forget; the answer comes back through applyAssignment). */
  proposeIsr(partition: Partition, proposal: IsrProposal): void;
  /** Counts ISR changes for metrics. */
  onIsrChange?(kind: 'shrink' | 'expand'): void;
  /** The broker's clock (producer state's last-append times); default Date.now. */
  now?: () => number;
  /**
   * Where a replica whose producer state is not loaded (its log was on disk at start, or was cut
   * back) loads it, a slice at a time, so that a leader change finds it ready. Without it the
   * state is read when the first idempotent batch arrives as leader.
   */
  background?: BackgroundWork;
  /** What one background slice reads; default PRODUCER_LOAD_SLICE_BYTES (tests make it small). */
  producerLoadSliceBytes?: number;
  /**
   * What a follower's fetch reads changed (records, HW, log start, ISR, leadership): the replica
   * fetch sessions read this partition again (fetch-session.ts); `wake` also ends a waiting fetch.
   */
  onFetchStateChanged?(partition: Partition, wake: boolean): void;
}

interface AckWaiter {
  required: number;
  done: boolean;
  resolve: (error: ErrorCode | undefined) => void;
}

export type Listener = () => void;

export class Partition {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  topicId: string;
  readonly log: PartitionLog;
  configs: TopicConfigs;
  role: 'leader' | 'follower' = 'follower';
  leaderId: BrokerId = -1;
  leaderEpoch = -1;
  partitionEpoch = -1;
  replicas: BrokerId[] = [];
  isr: BrokerId[] = [];
  /** A reassignment's replicas being added and removed (KIP-455); empty when none. */
  addingReplicas: BrokerId[] = [];
  removingReplicas: BrokerId[] = [];
  /** This replica is in the topic's leader.replication.throttled.replicas (KIP-73). */
  leaderThrottled = false;
  /** This replica is in the topic's follower.replication.throttled.replicas. */
  followerThrottled = false;
  leaderState: LeaderState | undefined;
  private followerHw: number;
  readonly producers = new ProducerStateTable();
  private producersLoaded = false;
  /** A producer-state load under way: where it has read to, and since when (for the log line). */
  private producerLoad:
    | { generation: number; offset: number; from: number; snapshot: number | null; bytes: number; readMs: number; startedMs: number }
    | undefined;
  private producerLoadGeneration = 0;
  private ackWaiters: AckWaiter[] = [];
  /** Woken when the log grows (follower fetches wait on this). */
  private readonly appendListeners = new Set<Listener>();
  /** Woken when the HW moves or the role changes (consumer fetches wait on this). */
  private readonly hwListeners = new Set<Listener>();
  private readonly ctx: PartitionContext;

  constructor(topic: string, partition: number, topicId: string, log: PartitionLog, configs: TopicConfigs, initialHw: number, ctx: PartitionContext) {
    this.topic = topic;
    this.partition = partition;
    this.key = `${topic}-${partition}`;
    this.topicId = topicId;
    this.log = log;
    this.configs = configs;
    this.ctx = ctx;
    this.followerHw = Math.max(0, Math.min(initialHw, log.logEndOffset));
    // An empty log has an empty table, exactly: every replica then keeps it as it appends, and
    // writes its snapshots at each roll, follower or leader. A log already there is loaded in the
    // background.
    if (log.logEndOffset === log.logStartOffset) this.producersLoaded = true;
    else this.scheduleProducerLoad();
  }

  get highWatermark(): number {
    return this.leaderState !== undefined ? this.leaderState.highWatermark : this.followerHw;
  }

  get isLeader(): boolean {
    return this.role === 'leader';
  }

  private fields(): { topic: string; partition: number; leaderEpoch: number } {
    return { topic: this.topic, partition: this.partition, leaderEpoch: this.leaderEpoch };
  }

  // ------------------------------------------------------------------ role changes

  /**
   * Applies the controller's view of this partition. Returns 'leader' / 'follower' when the role
   * or leader changed (the caller re-plans fetchers), undefined when only the ISR moved.
   */
  applyState(ps: PartitionState, configs: TopicConfigs, followerAlive: (id: BrokerId) => boolean, nowMs: number): 'leader' | 'follower' | undefined {
    this.configs = configs;
    const me = this.ctx.brokerId;
    this.leaderThrottled = throttledReplicaSet(configs['leader.replication.throttled.replicas']).has(this.partition, me);
    this.followerThrottled = throttledReplicaSet(configs['follower.replication.throttled.replicas']).has(this.partition, me);
    if (ps.leader === me) {
      if (this.role !== 'leader' || this.leaderEpoch !== ps.leaderEpoch) {
        this.becomeLeader(ps, nowMs);
        return 'leader';
      }
      this.updateLeaderAssignment(ps, nowMs);
      void followerAlive;
      return undefined;
    }
    if (this.role !== 'follower' || this.leaderId !== ps.leader || this.leaderEpoch !== ps.leaderEpoch) {
      this.becomeFollower(ps);
      return 'follower';
    }
    this.partitionEpoch = ps.partitionEpoch;
    this.replicas = [...ps.replicas];
    this.isr = [...ps.isr];
    this.setReassignment(ps);
    return undefined;
  }

  private setReassignment(ps: PartitionState): void {
    this.addingReplicas = [...(ps.addingReplicas ?? [])];
    this.removingReplicas = [...(ps.removingReplicas ?? [])];
  }

  private becomeLeader(ps: PartitionState, nowMs: number): void {
    const wasLeader = this.role === 'leader';
    const hw = this.highWatermark;
    // A new leader starts its epoch at its log end (Kafka's leader epoch cache assign on
    // becoming leader), so divergence checks see it even before the first append.
    if (ps.leaderEpoch > this.log.epochs.latestEpoch) this.log.epochs.assign(ps.leaderEpoch, this.log.logEndOffset);
    this.failAckWaiters('NOT_LEADER_OR_FOLLOWER');
    this.role = 'leader';
    this.leaderId = ps.leader;
    this.leaderEpoch = ps.leaderEpoch;
    this.partitionEpoch = ps.partitionEpoch;
    this.replicas = [...ps.replicas];
    this.isr = [...ps.isr];
    this.setReassignment(ps);
    const leo = this.log.logEndOffset;
    this.leaderState = new LeaderState({
      brokerId: this.ctx.brokerId,
      leaderEpoch: ps.leaderEpoch,
      partitionEpoch: ps.partitionEpoch,
      replicas: ps.replicas,
      addingReplicas: ps.addingReplicas ?? [],
      isr: ps.isr,
      minInsyncReplicas: this.configs['min.insync.replicas'],
      replicaLagTimeMaxMs: this.ctx.replicaLagTimeMaxMs,
      leaderEpochStartOffset: leo,
      logEndOffset: leo,
      highWatermark: Math.min(hw, leo),
      nowMs,
    });
    this.leaderState.maybeAdvanceHighWatermark();
    // Producer state follows the log, whatever the role: a replica that has it (it led before,
    // or followed since it last rebuilt it) keeps it, so a leader change reads nothing. One that
    // has not rebuilds it on the first idempotent batch — from the newest producer-state
    // snapshot, so only the log after it is read — and a broker taking over many partitions at
    // once does not scan them all up front.
    this.ctx.logger.info(
      { ...this.fields(), partitionEpoch: ps.partitionEpoch, isr: ps.isr, logEndOffset: leo, highWatermark: this.highWatermark, wasLeader },
      'became leader',
    );
    this.wakeAll();
  }

  private becomeFollower(ps: PartitionState): void {
    const wasLeader = this.role === 'leader';
    const hw = this.highWatermark;
    this.failAckWaiters('NOT_LEADER_OR_FOLLOWER');
    this.leaderState = undefined;
    this.role = 'follower';
    this.leaderId = ps.leader;
    this.leaderEpoch = ps.leaderEpoch;
    this.partitionEpoch = ps.partitionEpoch;
    this.replicas = [...ps.replicas];
    this.isr = [...ps.isr];
    this.setReassignment(ps);
    this.followerHw = followerHighWatermark(hw, this.log.logEndOffset);
    this.ctx.logger.info(
      {
        ...this.fields(),
        leader: ps.leader,
        partitionEpoch: ps.partitionEpoch,
        logEndOffset: this.log.logEndOffset,
        highWatermark: this.followerHw,
        wasLeader,
      },
      ps.leader < 0 ? 'partition offline' : 'became follower',
    );
    this.wakeAll();
  }

  private updateLeaderAssignment(ps: PartitionState, nowMs: number): void {
    const state = this.leaderState!;
    const before = state.isr;
    const hwChanged = state.applyAssignment(ps, this.configs['min.insync.replicas'], nowMs);
    if (ps.partitionEpoch < this.partitionEpoch) return;
    this.partitionEpoch = state.partitionEpoch;
    this.replicas = [...state.replicas];
    this.isr = [...state.isr];
    this.setReassignment(ps);
    const added = state.isr.filter((id) => !before.includes(id));
    const removed = before.filter((id) => !state.isr.includes(id));
    if (added.length > 0 || removed.length > 0) {
      this.ctx.logger.info({ ...this.fields(), partitionEpoch: state.partitionEpoch, isr: state.isr, added, removed }, 'isr changed');
      if (added.length > 0) this.ctx.onIsrChange?.('expand');
      if (removed.length > 0) this.ctx.onIsrChange?.('shrink');
    }
    if (state.isUnderMinIsr) this.failAckWaiters('NOT_ENOUGH_REPLICAS_AFTER_APPEND');
    if (hwChanged) this.onHighWatermarkChanged();
    // An ISR change: a caught-up follower left out of it is read again, and so proposed again.
    this.ctx.onFetchStateChanged?.(this, false);
  }

  /** The controller refused or did not answer an AlterPartition: allow a retry. */
  alterPartitionFailed(proposal: IsrProposal): void {
    if (this.leaderState?.pending === proposal) this.leaderState.clearPending();
  }

  /** Called every replica.lag.time.max.ms / 2 on leaders. */
  maybeShrinkIsr(nowMs: number): void {
    const proposal = this.leaderState?.maybeShrinkIsr(nowMs);
    if (proposal !== undefined) {
      this.ctx.logger.info({ ...this.fields(), isr: this.isr, newIsr: proposal.newIsr, outOfSync: proposal.changed }, 'proposing isr shrink');
      this.ctx.proposeIsr(this, proposal);
    }
  }

  // ------------------------------------------------------------------ leader appends

  /**
   * Appends one producer batch as leader. Refuses with NOT_LEADER_OR_FOLLOWER, MESSAGE_TOO_LARGE,
   * CORRUPT_MESSAGE, NOT_ENOUGH_REPLICAS (acks=all, ISR below min), sequence errors, or whatever
   * storage throws. A retried idempotent batch answers with its original offsets.
   */
  appendAsLeader(records: Buffer, acksAll: boolean): { baseOffset: number; lastOffset: number; duplicate: boolean } {
    const state = this.leaderState;
    if (this.role !== 'leader' || state === undefined)
      throw new TributaryError('NOT_LEADER_OR_FOLLOWER', `broker ${this.ctx.brokerId} is not the leader of ${this.key}`);
    const maxBytes = this.configs['max.message.bytes'];
    if (records.length > maxBytes)
      throw new TributaryError('MESSAGE_TOO_LARGE', `batch of ${records.length} bytes exceeds max.message.bytes ${maxBytes} of ${this.topic}`);
    const header = readBatchHeader(records);
    if (header.batchLength + LOG_OVERHEAD !== records.length) {
      throw new TributaryError(
        'CORRUPT_MESSAGE',
        `record batch is corrupt: batchLength says ${header.batchLength + LOG_OVERHEAD} bytes but ${records.length} arrived`,
      );
    }
    if (acksAll && state.isUnderMinIsr) {
      throw new TributaryError('NOT_ENOUGH_REPLICAS', `${this.key}: ISR [${state.isr.join(',')}] is smaller than min.insync.replicas ${state.effectiveMinIsr}`);
    }
    const idempotent = header.producerId >= 0;
    if (idempotent) {
      if (!this.producersLoaded) this.rebuildProducerState();
      const check = this.producers.check(header);
      if (check.kind === 'duplicate') {
        checkBatchCrc(records);
        return { baseOffset: check.baseOffset, lastOffset: check.lastOffset, duplicate: true };
      }
    }
    const segmentsBefore = this.log.segmentCount;
    const result = this.log.appendAsLeader(records, this.leaderEpoch);
    if (this.producersLoaded) {
      // A roll: this batch starts the new segment; the table as of its base offset is the snapshot.
      if (this.log.segmentCount !== segmentsBefore) this.snapshotProducers(result.baseOffset);
      if (idempotent) this.producers.record(header, result.baseOffset, result.lastOffset, (this.ctx.now ?? Date.now)());
    }
    for (const l of this.appendListeners) l();
    this.ctx.onFetchStateChanged?.(this, true);
    if (state.onLeaderAppend(this.log.logEndOffset)) this.onHighWatermarkChanged();
    return { ...result, duplicate: false };
  }

  /**
   * Resolves once the HW reaches `required` (acks=all: lastOffset + 1), or with the error that
   * ended the wait. `cancel` gives up (request timeout) and frees the waiter.
   */
  waitForHighWatermark(required: number): { promise: Promise<ErrorCode | undefined>; cancel: (error: ErrorCode) => void } {
    if (this.highWatermark >= required) return { promise: Promise.resolve(undefined), cancel: () => {} };
    if (this.role !== 'leader') return { promise: Promise.resolve('NOT_LEADER_OR_FOLLOWER'), cancel: () => {} };
    let waiter!: AckWaiter;
    const promise = new Promise<ErrorCode | undefined>((resolve) => {
      waiter = { required, done: false, resolve };
    });
    // Sorted by the offset each needs, so a HW move resolves a prefix. A retried idempotent batch
    // answered as a duplicate needs an older offset than waiters already here: it goes before them.
    let at = this.ackWaiters.length;
    while (at > 0 && this.ackWaiters[at - 1]!.required > required) at--;
    this.ackWaiters.splice(at, 0, waiter);
    return {
      promise,
      cancel: (error) => {
        if (waiter.done) return;
        waiter.done = true;
        waiter.resolve(error);
        const i = this.ackWaiters.indexOf(waiter);
        if (i >= 0) this.ackWaiters.splice(i, 1);
      },
    };
  }

  private failAckWaiters(error: ErrorCode): void {
    const waiters = this.ackWaiters;
    this.ackWaiters = [];
    for (const w of waiters) {
      if (w.done) continue;
      w.done = true;
      w.resolve(error);
    }
  }

  private onHighWatermarkChanged(): void {
    const hw = this.highWatermark;
    assert(hw <= this.log.logEndOffset, `${this.key}: HW ${hw} above LEO ${this.log.logEndOffset}`);
    // Waiters are sorted by the offset they need (waitForHighWatermark).
    let i = 0;
    while (i < this.ackWaiters.length && this.ackWaiters[i]!.required <= hw) {
      const w = this.ackWaiters[i]!;
      if (!w.done) {
        w.done = true;
        w.resolve(undefined);
      }
      i++;
    }
    if (i > 0) this.ackWaiters.splice(0, i);
    for (const l of this.hwListeners) l();
    // Followers learn the new HW from their next fetch answer (as in Kafka): waking their
    // waiting fetches here would cost a round trip per HW move under acks=all load.
    this.ctx.onFetchStateChanged?.(this, false);
  }

  // ------------------------------------------------------------------ reads

  /** Consumer read: whole batches below the HW. */
  readForConsumer(offset: number, maxBytes: number): Buffer {
    const hw = this.highWatermark;
    const leo = this.log.logEndOffset;
    if (offset < this.log.logStartOffset || (offset > leo && this.role === 'leader')) {
      throw new TributaryError('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside [${this.log.logStartOffset}, ${leo}] of ${this.key}`);
    }
    if (offset >= hw) return EMPTY;
    return this.log.read(offset, maxBytes, hw);
  }

  /**
   * Leader side of /replica/fetch for one partition: epoch and divergence checks, follower
   * progress (which may move the HW or propose an ISR expansion), then the bytes — none when
   * `sendRecords` is false (the leader's replication quota holds this replica back, KIP-73: its
   * progress still counts).
   */
  readForFollower(
    followerId: BrokerId,
    followerBrokerEpoch: number,
    fetchOffset: number,
    lastFetchedEpoch: number,
    currentLeaderEpoch: number,
    maxBytes: number,
    nowMs: number,
    followerEligible: boolean,
    sendRecords = true,
  ): ReplicaFetchPartitionResponse {
    const base = { topic: this.topic, partition: this.partition };
    const state = this.leaderState;
    if (this.role !== 'leader' || state === undefined)
      throw new TributaryError('NOT_LEADER_OR_FOLLOWER', `broker ${this.ctx.brokerId} is not the leader of ${this.key}`);
    this.checkLeaderEpoch(currentLeaderEpoch);
    if (!this.replicas.includes(followerId)) throw new TributaryError('NOT_LEADER_OR_FOLLOWER', `broker ${followerId} is not a replica of ${this.key}`);
    const position = checkFetchPosition(
      this.log.epochs,
      { logStartOffset: this.log.logStartOffset, logEndOffset: this.log.logEndOffset, latestEpoch: this.log.epochs.latestEpoch },
      fetchOffset,
      lastFetchedEpoch,
    );
    if (position.kind === 'diverging') {
      return {
        ...base,
        highWatermark: this.highWatermark,
        logStartOffset: this.log.logStartOffset,
        records: EMPTY,
        divergingEpoch: { epoch: position.epoch, endOffset: position.endOffset },
      };
    }
    if (position.kind === 'out-of-range') {
      return {
        ...base,
        highWatermark: this.highWatermark,
        logStartOffset: this.log.logStartOffset,
        records: EMPTY,
        error: new TributaryError(
          'OFFSET_OUT_OF_RANGE',
          `fetch offset ${fetchOffset} is below the log start ${this.log.logStartOffset} of ${this.key}`,
        ).toWire(),
      };
    }
    const { hwChanged, proposal } = state.onFollowerFetch(followerId, fetchOffset, followerBrokerEpoch, nowMs, followerEligible);
    if (hwChanged) this.onHighWatermarkChanged();
    if (proposal !== undefined) {
      this.ctx.logger.info({ ...this.fields(), isr: this.isr, newIsr: proposal.newIsr, joining: proposal.changed }, 'proposing isr expand');
      this.ctx.proposeIsr(this, proposal);
    }
    const records = sendRecords && fetchOffset < this.log.logEndOffset ? this.log.read(fetchOffset, maxBytes) : EMPTY;
    return { ...base, highWatermark: this.highWatermark, logStartOffset: this.log.logStartOffset, records };
  }

  /** FENCED_LEADER_EPOCH for an older epoch, UNKNOWN_LEADER_EPOCH for a newer one; -1 skips. */
  checkLeaderEpoch(currentLeaderEpoch: number | undefined): void {
    if (currentLeaderEpoch === undefined || currentLeaderEpoch < 0) return;
    if (currentLeaderEpoch < this.leaderEpoch) {
      throw new TributaryError('FENCED_LEADER_EPOCH', `${this.key}: leader epoch ${currentLeaderEpoch} is older than the current ${this.leaderEpoch}`);
    }
    if (currentLeaderEpoch > this.leaderEpoch) {
      throw new TributaryError('UNKNOWN_LEADER_EPOCH', `${this.key}: leader epoch ${currentLeaderEpoch} is newer than ${this.leaderEpoch} known here`);
    }
  }

  // ------------------------------------------------------------------ follower side

  /**
   * Applies the leader's answer to a fetch this follower sent at `fetchOffset` under
   * `leaderEpoch`. Stale answers (the role, epoch or LEO moved meanwhile) are dropped.
   * Returns the bytes appended, and `stalled` when a divergence answer changed nothing (the
   * fetcher backs off instead of asking again at once).
   */
  applyFetchResponse(resp: ReplicaFetchPartitionResponse, fetchOffset: number, leaderEpoch: number): { bytes: number; stalled: boolean } {
    const none = { bytes: 0, stalled: false };
    if (this.removed || this.role !== 'follower' || this.leaderEpoch !== leaderEpoch || this.log.logEndOffset !== fetchOffset) return none;
    if (resp.error !== undefined) {
      if (resp.error.code === 'OFFSET_OUT_OF_RANGE' && fetchOffset < resp.logStartOffset) {
        this.ctx.logger.info(
          { ...this.fields(), logEndOffset: fetchOffset, leaderLogStartOffset: resp.logStartOffset },
          'truncating fully: behind the leader log start',
        );
        this.log.truncateFullyAndStartAt(resp.logStartOffset);
        this.forgetProducers();
        this.followerHw = followerHighWatermark(resp.highWatermark, this.log.logEndOffset);
      }
      return none;
    }
    if (resp.divergingEpoch !== undefined) {
      const from = this.log.logEndOffset;
      const cut = truncationOffset(resp.divergingEpoch, this.log.epochs, from);
      if (cut.offset >= from) {
        // The leader says the logs part, but no cut of ours follows from its answer: asking again
        // at once would get the same answer (a busy loop between two brokers). Back off.
        this.ctx.logger.warn(
          {
            ...this.fields(),
            divergingEpoch: resp.divergingEpoch.epoch,
            endOffset: resp.divergingEpoch.endOffset,
            logEndOffset: from,
            lastEpoch: this.log.lastEpoch(),
          },
          'diverging epoch answer changes nothing; backing off',
        );
        return { bytes: 0, stalled: true };
      }
      this.ctx.logger.info(
        { ...this.fields(), divergingEpoch: resp.divergingEpoch.epoch, endOffset: resp.divergingEpoch.endOffset, from, to: cut.offset, complete: cut.complete },
        'truncating diverged log',
      );
      this.log.truncateTo(cut.offset);
      this.forgetProducers();
      this.followerHw = Math.min(this.followerHw, this.log.logEndOffset);
      return none;
    }
    let appended = 0;
    if (resp.records.length > 0) {
      const first = readBatchHeader(resp.records);
      const leo = this.log.logEndOffset;
      if (first.baseOffset < leo && first.baseOffset + first.lastOffsetDelta >= leo) {
        // The leader's batch holding our log end starts below it: the leader's cleaner stretched
        // a batch over the offsets of batches it removed (storage's cleaner.ts), where our log
        // still has boundaries of its own. Those offsets are below the leader's HW (its cleaner
        // never goes past it) and we hold the same history there, so the leader's batch takes
        // their place: cut back to its base and append it. If one of our own cleaned batches
        // holds that base, the cut lands lower still and the next fetch asks from there. Only a
        // follower behind the HW, so outside the ISR, can be here.
        this.ctx.logger.info(
          { ...this.fields(), logEndOffset: leo, batchBaseOffset: first.baseOffset, batchLastOffset: first.baseOffset + first.lastOffsetDelta },
          "realigning with the leader's cleaned batch",
        );
        this.log.truncateTo(first.baseOffset);
        this.forgetProducers();
        this.followerHw = Math.min(this.followerHw, this.log.logEndOffset);
        if (this.log.logEndOffset !== first.baseOffset) return none;
      }
      const segmentsBefore = this.log.segmentCount;
      this.log.appendAsFollower(resp.records);
      this.trackFollowerAppend(resp.records, segmentsBefore);
      appended = resp.records.length;
      for (const l of this.appendListeners) l();
    }
    const hw = followerHighWatermark(resp.highWatermark, this.log.logEndOffset);
    if (hw !== this.followerHw) {
      this.followerHw = hw;
      for (const l of this.hwListeners) l();
    }
    return { bytes: appended, stalled: false };
  }

  // ------------------------------------------------------------------ waiting

  onAppend(listener: Listener): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  onHighWatermark(listener: Listener): () => void {
    this.hwListeners.add(listener);
    return () => this.hwListeners.delete(listener);
  }

  wakeAll(): void {
    for (const l of [...this.appendListeners]) l();
    for (const l of [...this.hwListeners]) l();
    this.ctx.onFetchStateChanged?.(this, true);
  }

  /** See LeaderState.linkQuietFollower; nothing on a follower. */
  linkQuietFollower(followerId: BrokerId, clock: { readonly lastFetchMs: number }): void {
    this.leaderState?.linkQuietFollower(followerId, clock);
  }

  unlinkQuietFollower(followerId: BrokerId): void {
    this.leaderState?.unlinkQuietFollower(followerId);
  }

  /** Stops serving (deleted, unassigned, broker closing): every waiter gets an answer. */
  shutdown(error: ErrorCode = 'NOT_LEADER_OR_FOLLOWER'): void {
    this.followerHw = this.highWatermark;
    this.failAckWaiters(error);
    this.leaderState = undefined;
    this.role = 'follower';
    this.leaderId = -1;
    this.leaderEpoch = -1;
    this.removed = true;
    this.wakeAll();
  }

  /** Set once the partition left this broker (its log may be deleted): nothing touches the log. */
  removed = false;

  // ------------------------------------------------------------------ producer state

  /** The log was cut back: the table may remember batches no longer there; loaded again. */
  private forgetProducers(): void {
    this.producers.clear();
    this.producerLoad = undefined;
    this.producerLoadGeneration++;
    this.producersLoaded = this.log.logEndOffset === this.log.logStartOffset;
    if (!this.producersLoaded) this.scheduleProducerLoad();
  }

  /** Starts loading producer state in the broker's background work (if it has any). */
  private scheduleProducerLoad(): void {
    const background = this.ctx.background;
    if (background === undefined) return;
    const generation = this.producerLoadGeneration;
    background.add(() => {
      if (this.removed || this.producersLoaded || generation !== this.producerLoadGeneration) return false;
      return !this.loadProducers(this.ctx.producerLoadSliceBytes ?? PRODUCER_LOAD_SLICE_BYTES, true);
    });
  }

  /** A follower that has the table keeps it up to date, batch header by batch header. */
  private trackFollowerAppend(bytes: Buffer, segmentsBefore: number): void {
    if (!this.producersLoaded) return;
    const activeBase = this.log.segmentCount !== segmentsBefore ? this.log.segmentBaseOffsets().at(-1)! : -1;
    const nowMs = (this.ctx.now ?? Date.now)();
    for (let pos = 0; pos + LOG_OVERHEAD <= bytes.length; ) {
      const header = readBatchHeader(bytes, pos);
      if (header.baseOffset === activeBase) this.snapshotProducers(activeBase);
      if (header.producerId >= 0) this.producers.record(header, header.baseOffset, header.baseOffset + header.lastOffsetDelta, nowMs);
      pos += header.batchLength + LOG_OVERHEAD;
    }
  }

  /** Writes the table as of `offset` (a new segment's base) beside the segments; a failure only costs a longer rebuild. */
  private snapshotProducers(offset: number): void {
    try {
      writeProducerSnapshot(this.log.dir, offset, this.producers.toSnapshot());
    } catch (err) {
      this.ctx.logger.warn({ ...this.fields(), offset, err }, 'could not write producer-state snapshot');
    }
  }

  /**
   * Loads producer state now (the first idempotent batch as leader found it not loaded): from
   * where a background load got to, or from the start of a new one.
   */
  private rebuildProducerState(): void {
    while (!this.loadProducers(PRODUCER_SCAN_CHUNK_BYTES, false));
  }

  /**
   * Reads up to `maxBytes` more of the log into the producer-state table; true once it has
   * reached the log end (the table is loaded). A load begins with the newest producer-state
   * snapshot at or below the log end (if any) and goes on with every batch header after it (not
   * the records): the segments since the last roll this replica saw, not the whole log. Appends
   * during a background load land past where it has read, so it reads them too.
   */
  private loadProducers(maxBytes: number, background: boolean): boolean {
    const started = performance.now();
    let load = this.producerLoad;
    if (load === undefined || load.generation !== this.producerLoadGeneration) {
      this.producers.clear();
      let snapshot: ReturnType<typeof loadProducerSnapshot>;
      try {
        snapshot = loadProducerSnapshot(this.log.dir, this.log.logStartOffset, this.log.logEndOffset);
      } catch (err) {
        this.ctx.logger.warn({ ...this.fields(), err }, 'producer-state snapshots unreadable; reading the whole log');
        snapshot = undefined;
      }
      if (snapshot !== undefined) this.producers.loadSnapshot(snapshot.entries);
      const from = snapshot?.offset ?? this.log.logStartOffset;
      load = { generation: this.producerLoadGeneration, offset: from, from, snapshot: snapshot?.offset ?? null, bytes: 0, readMs: 0, startedMs: started };
      this.producerLoad = load;
    }
    const nowMs = (this.ctx.now ?? Date.now)();
    // Retention may have deleted what the load had not read yet: those batches are gone anyway.
    if (load.offset < this.log.logStartOffset) load.offset = this.log.logStartOffset;
    let read = 0;
    while (load.offset < this.log.logEndOffset && read < maxBytes) {
      const chunk = this.log.read(load.offset, Math.min(PRODUCER_SCAN_CHUNK_BYTES, maxBytes - read));
      if (chunk.length === 0) break;
      let pos = 0;
      while (chunk.length - pos >= 61) {
        const header = readBatchHeader(chunk, pos);
        const size = header.batchLength + LOG_OVERHEAD;
        if (pos + size > chunk.length) break;
        const lastOffset = header.baseOffset + header.lastOffsetDelta;
        if (header.producerId >= 0) this.producers.record(header, header.baseOffset, lastOffset, nowMs);
        load.offset = lastOffset + 1;
        pos += size;
      }
      read += pos;
      if (pos === 0) break;
    }
    load.bytes += read;
    load.readMs += performance.now() - started;
    if (load.offset < this.log.logEndOffset) return false;
    this.producersLoaded = true;
    this.producerLoad = undefined;
    this.ctx.logger.info(
      {
        ...this.fields(),
        fromSnapshot: load.snapshot,
        fromOffset: load.from,
        logEndOffset: this.log.logEndOffset,
        bytesRead: load.bytes,
        producers: this.producers.size,
        // On the event loop: all of it for a load done at once, the slices for one in the background.
        ms: Math.round(load.readMs),
        background,
      },
      'producer state rebuilt',
    );
    return true;
  }

  /** For describe-replicas and metrics. */
  describe(nowMs: number) {
    return {
      partition: this.partition,
      highWatermark: this.highWatermark,
      logStartOffset: this.log.logStartOffset,
      logEndOffset: this.log.logEndOffset,
      logSizeBytes: this.log.sizeInBytes,
      replicas: this.leaderState?.describe(nowMs) ?? [],
    };
  }
}
