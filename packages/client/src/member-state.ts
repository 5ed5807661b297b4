// A consumer's membership of its group, sans-I/O: Kafka's ConsumerCoordinator and
// AbstractCoordinator as a state machine that is told what happened (a JoinGroup answered, a
// heartbeat refused, the application polled) and says what to do next. The Consumer runs it:
// network steps (join, the leader's metadata, sync, leave, heartbeats) go out in the background,
// and the steps the application sees — committing and revoking partitions, taking new ones, their
// callbacks — run inside poll(), between batches, as Kafka runs them inside KafkaConsumer.poll.
// That is what makes auto-commit at-least-once: when poll() is called, every record it returned
// before has been processed.
//
// One rebalance, as Kafka's consumer does it:
//
//   prepare   (onJoinPrepare) eager: revoke every partition (commit first); cooperative (KIP-429):
//             revoke only partitions of topics no longer subscribed, keep consuming the rest
//   join      JoinGroup with one protocol per assignor, each with the Subscription (owned
//             partitions and their generation when cooperative); MEMBER_ID_REQUIRED: again with
//             the id given (KIP-394)
//   assign    the leader reads the topics' partition counts and runs the chosen assignor over
//             every member's Subscription, then holds back any partition another member still
//             owns (withoutTransfers), so two members never consume one partition at once
//   sync      SyncGroup; the answer is this member's Assignment
//   complete  (onJoinComplete) revoke what is owned and no longer assigned, take what is new; a
//             member that revoked anything rejoins at once, so the follow-up rebalance can hand
//             those partitions to their new owners
//
// Failures, as Kafka's coordinator classes them: REBALANCE_IN_PROGRESS (from a heartbeat or a
// commit) → rejoin, keeping the partitions; ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID → the group
// went on without this member: its partitions are *lost* (onPartitionsLost, nothing committed,
// another member may own them already) and it joins again (UNKNOWN_MEMBER_ID with a new member
// id); FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT, … → fatal;
// coordinator trouble that GroupClient could not get past in its budget → join again after a
// backoff. A member that is not polled for max.poll.interval.ms (KIP-62) leaves the group and
// loses its partitions; its next poll joins again.
//
// Which rebalance protocol a member follows when a rebalance starts is that of the assignor its
// group chose last (before its first generation: its own first choice). With the default
// ['cooperative-sticky', 'range'] a group of such consumers is cooperative; when a member that
// only knows 'range' makes the group choose it, the others still keep their partitions through
// that one rebalance — the leader's withoutTransfers keeps that safe — and turn eager after it.
// (Kafka decides instead from the whole assignor list, so a list containing 'range' is always
// eager; that is safe with foreign leaders too, which this choice is not: a foreign leader must
// honour owned partitions.)

import {
  CONSUMER_PROTOCOL_TYPE,
  TributaryError,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  isRetriable,
  sortTopicPartitions,
  type ErrorCode,
  type GroupHeartbeatRequest,
  type JoinGroupRequest,
  type JoinGroupResponse,
  type LeaveGroupRequest,
  type SyncGroupRequest,
  type TopicPartition,
} from '@tributary/protocol';
import { ASSIGNORS, rebalanceProtocolOf, withoutTransfers, type AssignorName, type MemberSubscription, type RebalanceProtocol } from './assignors.ts';
import { retryBackoffMs } from './retry.ts';

export interface MemberConfig {
  groupId: string;
  clientId: string;
  groupInstanceId?: string;
  rackId?: string;
  sessionTimeoutMs: number;
  /** max.poll.interval.ms (KIP-62): the rebalance timeout of its joins. */
  rebalanceTimeoutMs: number;
  /** In order of preference; each becomes a protocol of the JoinGroup. */
  assignors: readonly AssignorName[];
}

export type MemberAction =
  /** App step: commit (unless lost) and call onPartitionsRevoked / onPartitionsLost, drop them; then `revoked()`. */
  | { kind: 'revoke'; partitions: TopicPartition[]; lost: boolean; reason: string }
  /** App step: start fetching these (from their committed offsets), call onPartitionsAssigned; then `assigned()`. */
  | { kind: 'assign'; partitions: TopicPartition[] }
  /** Network: JoinGroup; then `joinSucceeded` / `joinFailed` with `seq`. */
  | { kind: 'join'; seq: number; request: JoinGroupRequest }
  /** Network (the leader): the partition counts of these topics; then `metadataReady` / `metadataFailed`. */
  | { kind: 'metadata'; seq: number; topics: string[] }
  /** Network: SyncGroup; then `syncSucceeded` / `syncFailed`. */
  | { kind: 'sync'; seq: number; request: SyncGroupRequest }
  /** Network: LeaveGroup (closing); then `left()`, whatever the answer. */
  | { kind: 'leave'; seq: number; request: LeaveGroupRequest }
  /** Nothing to do now: a network step is out, the member is stable, or it backs off until `untilMs`. */
  | { kind: 'wait'; untilMs?: number }
  /** Closed and out of the group. */
  | { kind: 'done' }
  /** A fatal error: poll() throws it. */
  | { kind: 'failed'; error: TributaryError };

export type MemberPhase = 'unjoined' | 'joining' | 'joined' | 'fetching-metadata' | 'assignment-ready' | 'syncing' | 'synced' | 'stable' | 'leaving' | 'closed';

/** What a member does about an error of a group call (pure; tested as a table). */
export type GroupErrorAction =
  /** Join again at once with the member id the coordinator handed out (KIP-394). */
  | 'join-with-new-id'
  /** Join again at once, keeping member id and partitions. */
  | 'rejoin'
  /** The group went on without this generation: partitions lost, join again (same member id). */
  | 'reset-generation'
  /** The member is unknown: partitions lost, join again with no member id. */
  | 'reset-member'
  /** Transient (coordinator moved, timed out): try again after a backoff. */
  | 'retry'
  /** Nothing this member can fix: the consumer fails with it. */
  | 'fatal';

export function groupErrorAction(code: ErrorCode): GroupErrorAction {
  switch (code) {
    case 'MEMBER_ID_REQUIRED':
      return 'join-with-new-id';
    case 'REBALANCE_IN_PROGRESS':
      return 'rejoin';
    case 'ILLEGAL_GENERATION':
      return 'reset-generation';
    case 'UNKNOWN_MEMBER_ID':
      return 'reset-member';
    case 'FENCED_INSTANCE_ID':
    case 'INCONSISTENT_GROUP_PROTOCOL':
    case 'INVALID_SESSION_TIMEOUT':
    case 'GROUP_MAX_SIZE_REACHED':
    case 'INVALID_GROUP_ID':
    case 'INVALID_REQUEST':
    case 'UNAUTHORIZED':
      return 'fatal';
    default:
      return isRetriable(code) ? 'retry' : 'fatal';
  }
}

/**
 * The leader's assignment (ConsumerCoordinator.onLeaderElected): every member's Subscription
 * decoded, the chosen assignor run over the topics' partition counts, partitions another member
 * still owns held back, each member's Assignment encoded. A member whose metadata cannot be read
 * is given nothing (it subscribes to nothing this leader can see).
 */
export function leaderAssignment(
  protocolName: string,
  members: readonly { memberId: string; groupInstanceId?: string; metadata: Buffer }[],
  partitionsPerTopic: ReadonlyMap<string, number>,
): { assignments: { memberId: string; assignment: Buffer }[]; plan: Map<string, TopicPartition[]>; withheld: TopicPartition[] } {
  const assignor = ASSIGNORS[protocolName as AssignorName];
  if (assignor === undefined)
    throw new TributaryError('INCONSISTENT_GROUP_PROTOCOL', `the group chose assignor '${protocolName}', which this consumer does not have`);
  const subscriptions: MemberSubscription[] = members.map((m) => {
    const base = { memberId: m.memberId, ...(m.groupInstanceId !== undefined ? { groupInstanceId: m.groupInstanceId } : {}) };
    try {
      const s = decodeSubscription(m.metadata);
      return { ...base, topics: s.topics, ownedPartitions: s.ownedPartitions, generationId: s.generationId };
    } catch {
      return { ...base, topics: [], ownedPartitions: [], generationId: -1 };
    }
  });
  const { assignment, withheld } = withoutTransfers(assignor.assign(partitionsPerTopic, subscriptions), subscriptions);
  return {
    assignments: subscriptions.map((s) => ({
      memberId: s.memberId,
      assignment: encodeAssignment({ partitions: assignment.get(s.memberId) ?? [], userData: null }),
    })),
    plan: assignment,
    withheld,
  };
}

/** The topics every member subscribes to, for the leader's metadata. */
export function subscribedTopicsOf(members: readonly { metadata: Buffer }[]): string[] {
  const topics = new Set<string>();
  for (const m of members) {
    try {
      for (const t of decodeSubscription(m.metadata).topics) topics.add(t);
    } catch {
      // A member whose metadata cannot be read subscribes to nothing (leaderAssignment).
    }
  }
  return [...topics].sort();
}

const tpKey = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;
function minus(a: readonly TopicPartition[], b: readonly TopicPartition[]): TopicPartition[] {
  const drop = new Set(b.map(tpKey));
  return a.filter((tp) => !drop.has(tpKey(tp)));
}

export class MemberState {
  readonly config: MemberConfig;
  phase: MemberPhase = 'unjoined';
  memberId = '';
  generationId = -1;
  leaderId = '';
  /** The assignor the group chose in this member's last generation. */
  protocolName: string | undefined;
  /** Partitions this member owns: assigned and not revoked. */
  owned: TopicPartition[] = [];
  subscription: string[] = [];
  /** Why a rejoin is needed, once one is (cleared when the JoinGroup goes out). */
  rejoinReason: string | undefined;
  /** Partitions lost and not yet handed to the application. */
  private lostPending: TopicPartition[] = [];
  private lostReason = '';
  private prepared = false;
  private seq = 0;
  private inFlight: number | undefined;
  private joinAnswer: JoinGroupResponse | undefined;
  private assignmentReady: SyncGroupRequest['assignments'] | undefined;
  /** The leader's view of the partition counts it assigned by (ConsumerCoordinator's assignmentSnapshot). */
  private assignedSnapshot: Map<string, number> | undefined;
  private syncedAssignment: TopicPartition[] | undefined;
  private revokedAfterSync = false;
  private failures = 0;
  private backoffUntilMs = 0;
  private closing = false;
  private closeRevoked = false;
  /** KIP-62: the member left because it was not polled; it joins again on the next poll. */
  private pollTimedOut = false;
  private fatal: TributaryError | undefined;

  constructor(config: MemberConfig) {
    if (config.assignors.length === 0) throw new TributaryError('INVALID_REQUEST', 'a consumer needs at least one assignor');
    for (const a of config.assignors) {
      if (!Object.hasOwn(ASSIGNORS, a)) throw new TributaryError('INVALID_REQUEST', `unknown assignor '${a}' (known: ${Object.keys(ASSIGNORS).join(', ')})`);
    }
    if (new Set(config.assignors).size !== config.assignors.length)
      throw new TributaryError('INVALID_REQUEST', `assignors named twice: ${config.assignors.join(', ')}`);
    this.config = config;
  }

  /** The rebalance protocol this member follows when the next rebalance starts. */
  rebalanceProtocol(): RebalanceProtocol {
    const name = (this.protocolName ?? this.config.assignors[0]) as AssignorName;
    const assignor = ASSIGNORS[name];
    return assignor === undefined ? 'eager' : rebalanceProtocolOf(assignor);
  }

  isLeader(): boolean {
    return this.memberId !== '' && this.memberId === this.leaderId;
  }

  /** Subscribes to these topics (Kafka's subscribe replaces the list); a member in the group rejoins. */
  subscribe(topics: readonly string[]): void {
    const next = [...new Set(topics)].sort();
    const changed = next.length !== this.subscription.length || next.some((t, i) => t !== this.subscription[i]);
    this.subscription = next;
    if (changed && this.phase !== 'unjoined') this.requestRejoin('subscription changed');
  }

  /** The application polled: a member that left for not polling (KIP-62) may join again. */
  polled(): void {
    this.pollTimedOut = false;
  }

  requestRejoin(reason: string): void {
    if (this.closing) return;
    this.rejoinReason ??= reason;
  }

  /** What to do now. Deterministic in the state and `nowMs`. */
  next(nowMs: number): MemberAction {
    if (this.fatal !== undefined) return { kind: 'failed', error: this.fatal };
    if (this.lostPending.length > 0) {
      return { kind: 'revoke', partitions: [...this.lostPending], lost: true, reason: this.lostReason };
    }
    if (this.closing) return this.nextClosing();
    if (this.inFlight !== undefined) return { kind: 'wait' };
    switch (this.phase) {
      case 'joined':
        if (this.joinAnswer !== undefined && this.isLeader()) {
          this.phase = 'fetching-metadata';
          return { kind: 'metadata', seq: this.issue(), topics: subscribedTopicsOf(this.joinAnswer.members) };
        }
        this.assignmentReady = [];
        this.phase = 'assignment-ready';
        return this.nextSync();
      case 'assignment-ready':
        return this.nextSync();
      case 'synced':
        return this.nextComplete();
      case 'unjoined':
      case 'stable':
        if (this.phase === 'stable' && this.rejoinReason === undefined) return { kind: 'wait' };
        return this.nextJoin(nowMs);
      default:
        return { kind: 'wait' };
    }
  }

  private issue(): number {
    this.inFlight = ++this.seq;
    return this.seq;
  }

  private nextJoin(nowMs: number): MemberAction {
    if (this.pollTimedOut || this.subscription.length === 0) return { kind: 'wait' };
    if (!this.prepared) {
      // onJoinPrepare: eager members give up everything; cooperative ones only what they no
      // longer subscribe to (KIP-429).
      const protocol = this.rebalanceProtocol();
      const revoke = protocol === 'eager' ? [...this.owned] : this.owned.filter((tp) => !this.subscription.includes(tp.topic));
      if (revoke.length > 0)
        return { kind: 'revoke', partitions: revoke, lost: false, reason: protocol === 'eager' ? 'rebalance (eager)' : 'no longer subscribed' };
      this.prepared = true;
    }
    if (nowMs < this.backoffUntilMs) return { kind: 'wait', untilMs: this.backoffUntilMs };
    const cooperative = this.rebalanceProtocol() === 'cooperative';
    const subscription = {
      topics: this.subscription,
      userData: null,
      ownedPartitions: cooperative ? sortTopicPartitions([...this.owned]) : [],
      generationId: cooperative && this.owned.length > 0 ? this.generationId : -1,
      rackId: this.config.rackId ?? null,
    };
    const request: JoinGroupRequest = {
      groupId: this.config.groupId,
      memberId: this.memberId,
      clientId: this.config.clientId,
      sessionTimeoutMs: this.config.sessionTimeoutMs,
      rebalanceTimeoutMs: this.config.rebalanceTimeoutMs,
      protocolType: CONSUMER_PROTOCOL_TYPE,
      protocols: this.config.assignors.map((name) => ({ name, metadata: encodeSubscription(subscription) })),
    };
    if (this.config.groupInstanceId !== undefined) request.groupInstanceId = this.config.groupInstanceId;
    this.rejoinReason = undefined;
    this.phase = 'joining';
    return { kind: 'join', seq: this.issue(), request };
  }

  private nextSync(): MemberAction {
    const request: SyncGroupRequest = {
      groupId: this.config.groupId,
      generationId: this.generationId,
      memberId: this.memberId,
      assignments: this.assignmentReady ?? [],
    };
    if (this.config.groupInstanceId !== undefined) request.groupInstanceId = this.config.groupInstanceId;
    this.phase = 'syncing';
    return { kind: 'sync', seq: this.issue(), request };
  }

  /** onJoinComplete: revoke what is no longer assigned (then rejoin), take what is new. */
  private nextComplete(): MemberAction {
    const assignment = this.syncedAssignment ?? [];
    const revoke = minus(this.owned, assignment);
    if (revoke.length > 0) {
      this.revokedAfterSync = true;
      return { kind: 'revoke', partitions: revoke, lost: false, reason: 'not in the new assignment' };
    }
    const added = minus(assignment, this.owned);
    this.owned = sortTopicPartitions([...assignment]);
    this.syncedAssignment = undefined;
    this.phase = 'stable';
    this.failures = 0;
    this.prepared = false;
    // KIP-429: the partitions given up go to their new owners in a follow-up rebalance.
    if (this.revokedAfterSync) this.requestRejoin('revoked partitions to hand over');
    this.revokedAfterSync = false;
    return { kind: 'assign', partitions: added };
  }

  private nextClosing(): MemberAction {
    // Kafka's close: commit and revoke everything owned (onPartitionsRevoked), then LeaveGroup.
    if (!this.closeRevoked && this.owned.length > 0) return { kind: 'revoke', partitions: [...this.owned], lost: false, reason: 'closing' };
    this.closeRevoked = true;
    if (this.phase === 'closed') return { kind: 'done' };
    if (this.phase === 'leaving') return { kind: 'wait' };
    if (this.memberId === '') {
      this.phase = 'closed';
      return { kind: 'done' };
    }
    this.phase = 'leaving';
    const request: LeaveGroupRequest = {
      groupId: this.config.groupId,
      members: [{ memberId: this.memberId, ...(this.config.groupInstanceId !== undefined ? { groupInstanceId: this.config.groupInstanceId } : {}) }],
    };
    return { kind: 'leave', seq: this.issue(), request };
  }

  // ----------------------------------------------------------------- results of app steps

  /** A 'revoke' step is done: the partitions are no longer owned. */
  revoked(partitions: readonly TopicPartition[], lost: boolean): void {
    if (lost) {
      this.lostPending = minus(this.lostPending, partitions);
      return;
    }
    this.owned = minus(this.owned, partitions);
    if (this.closing && this.owned.length === 0) this.closeRevoked = true;
  }

  // ----------------------------------------------------------------- results of network steps

  private current(seq: number): boolean {
    if (seq !== this.inFlight) return false;
    this.inFlight = undefined;
    return !this.closing;
  }

  joinSucceeded(seq: number, answer: JoinGroupResponse): void {
    if (!this.current(seq)) return;
    this.memberId = answer.memberId;
    this.generationId = answer.generationId;
    this.leaderId = answer.leader;
    this.protocolName = answer.protocolName;
    this.joinAnswer = answer;
    this.phase = 'joined';
  }

  joinFailed(seq: number, err: TributaryError, nowMs: number): void {
    if (!this.current(seq)) return;
    this.phase = 'unjoined';
    this.onError(err, nowMs, 'join');
  }

  metadataReady(seq: number, partitionsPerTopic: ReadonlyMap<string, number>): void {
    if (!this.current(seq) || this.joinAnswer === undefined) return;
    try {
      this.assignmentReady = leaderAssignment(this.protocolName ?? '', this.joinAnswer.members, partitionsPerTopic).assignments;
    } catch (err) {
      this.fatal = err instanceof TributaryError ? err : new TributaryError('UNKNOWN_SERVER_ERROR', String(err));
      return;
    }
    this.assignedSnapshot = new Map(subscribedTopicsOf(this.joinAnswer.members).map((t) => [t, partitionsPerTopic.get(t) ?? 0]));
    this.phase = 'assignment-ready';
  }

  metadataFailed(seq: number, err: TributaryError, nowMs: number): void {
    if (!this.current(seq)) return;
    // The join round is spent; join again (the coordinator's sync timeout drops a silent leader).
    this.phase = 'unjoined';
    this.onError(new TributaryError(err.retriable ? err.code : 'REQUEST_TIMED_OUT', err.message), nowMs, 'metadata');
  }

  syncSucceeded(seq: number, assignment: Buffer): void {
    if (!this.current(seq)) return;
    this.joinAnswer = undefined;
    this.assignmentReady = undefined;
    let partitions: TopicPartition[];
    try {
      partitions = decodeAssignment(assignment).partitions;
    } catch (err) {
      this.fatal = new TributaryError('INVALID_REQUEST', `the group leader's assignment cannot be read: ${(err as Error).message}`);
      return;
    }
    this.syncedAssignment = partitions;
    this.phase = 'synced';
  }

  syncFailed(seq: number, err: TributaryError, nowMs: number): void {
    if (!this.current(seq)) return;
    this.joinAnswer = undefined;
    this.assignmentReady = undefined;
    this.phase = 'unjoined';
    this.onError(err, nowMs, 'sync');
  }

  left(seq: number): void {
    if (seq !== this.inFlight) return;
    this.inFlight = undefined;
    this.phase = 'closed';
    this.memberId = '';
    this.generationId = -1;
  }

  /** The heartbeat to send now, if the member is in a generation (Stable: AbstractCoordinator's HeartbeatThread). */
  heartbeatRequest(): GroupHeartbeatRequest | undefined {
    if (this.phase !== 'stable' || this.closing || this.memberId === '' || this.generationId < 0) return undefined;
    const request: GroupHeartbeatRequest = { groupId: this.config.groupId, generationId: this.generationId, memberId: this.memberId };
    if (this.config.groupInstanceId !== undefined) request.groupInstanceId = this.config.groupInstanceId;
    return request;
  }

  /**
   * A heartbeat or a commit was refused. Only an answer about this member's current generation
   * counts, and only while it is Stable: one about an older generation, or arriving while it
   * already rejoins, is stale (the join answers for itself).
   */
  groupCallFailed(sent: { generationId: number; memberId: string }, err: TributaryError, nowMs: number): void {
    if (this.closing || this.phase !== 'stable' || sent.generationId !== this.generationId || sent.memberId !== this.memberId) return;
    const action = groupErrorAction(err.code);
    if (action === 'retry' || action === 'join-with-new-id') return;
    this.onError(err, nowMs, 'heartbeat');
  }

  /** The leader rejoins when a subscribed topic's partition count changed since it assigned (Kafka's metadata snapshot). */
  metadataChanged(partitionsPerTopic: ReadonlyMap<string, number>): void {
    if (this.phase !== 'stable' || !this.isLeader() || this.assignedSnapshot === undefined) return;
    for (const [topic, count] of this.assignedSnapshot) {
      const now = partitionsPerTopic.get(topic);
      if (now !== undefined && now !== count) {
        this.requestRejoin(`partitions of ${topic} changed from ${count} to ${now}`);
        return;
      }
    }
  }

  /**
   * KIP-62: the application did not poll within max.poll.interval.ms. The member leaves (the
   * LeaveGroup returned, if it is in the group) and loses its partitions; it joins again when
   * polled.
   */
  pollTimeoutExpired(): LeaveGroupRequest | undefined {
    if (this.closing || this.pollTimedOut || this.memberId === '') return undefined;
    const request: LeaveGroupRequest = {
      groupId: this.config.groupId,
      members: [{ memberId: this.memberId, ...(this.config.groupInstanceId !== undefined ? { groupInstanceId: this.config.groupInstanceId } : {}) }],
    };
    this.loseAll('poll timeout expired (max.poll.interval.ms)');
    this.resetMember();
    this.pollTimedOut = true;
    return request;
  }

  /** Starts closing: revoke (committing) what is owned, then LeaveGroup. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    // An answer still out (a parked join) is not waited for: LeaveGroup supersedes it.
    this.inFlight = undefined;
    if (this.phase !== 'closed') this.phase = this.memberId === '' ? 'closed' : 'stable';
  }

  get isClosing(): boolean {
    return this.closing;
  }

  private onError(err: TributaryError, nowMs: number, during: string): void {
    const action = groupErrorAction(err.code);
    switch (action) {
      case 'join-with-new-id':
        if (err.memberId !== undefined && err.memberId !== '') this.memberId = err.memberId;
        this.phase = 'unjoined';
        return;
      case 'rejoin':
        if (this.phase === 'stable') this.requestRejoin(`${err.code} (${during})`);
        else this.phase = 'unjoined';
        return;
      case 'reset-generation':
        this.loseAll(`${err.code} (${during})`);
        this.generationId = -1;
        this.phase = 'unjoined';
        return;
      case 'reset-member':
        this.loseAll(`${err.code} (${during})`);
        this.resetMember();
        return;
      case 'retry':
        this.failures++;
        this.backoffUntilMs = nowMs + retryBackoffMs(this.failures);
        this.phase = 'unjoined';
        return;
      case 'fatal':
        this.fatal = new TributaryError(err.code, `consumer group ${this.config.groupId}: ${during} failed: ${err.message}`, { cause: err });
        return;
    }
  }

  private loseAll(reason: string): void {
    if (this.owned.length > 0) {
      this.lostPending = sortTopicPartitions([...this.lostPending, ...this.owned]);
      this.lostReason = reason;
    }
    this.owned = [];
    this.prepared = false;
  }

  private resetMember(): void {
    this.memberId = '';
    this.generationId = -1;
    this.leaderId = '';
    this.phase = 'unjoined';
  }
}
