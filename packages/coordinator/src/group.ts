// One consumer group under Kafka's classic group protocol (GroupCoordinator / ClassicGroup in
// Kafka): members, generations, the selected protocol, the leader, and the waits of JoinGroup and
// SyncGroup. Pure: every method takes the time and writes what must happen into a GroupOutput —
// answers to parked requests and group-metadata records to store — and `nextDeadlineMs()` says
// when `onTimer` must run next (sessions, the rebalance timeout, the initial rebalance delay, the
// sync timeout). The coordinator (group-coordinator.ts) owns the I/O.
//
// States (Kafka's): Empty → PreparingRebalance (a member joins or leaves, a leader rejoins) →
// CompletingRebalance (every member rejoined, or the rebalance timeout passed: the generation is
// bumped, a protocol selected, the leader gets every member's metadata) → Stable (the leader's
// assignment is committed to the log and handed to every member). Dead: deleted or unloaded.

import { TributaryError, type ErrorCode, type GroupProtocol, type GroupStateName, type JoinGroupResponse } from '@tributary/protocol';
import type { GroupMetadataValue } from './records.ts';

/** A parked request, numbered by the host; answers name it. */
export type RequestId = number;

export interface Reply {
  to: RequestId;
  value?: unknown;
  error?: TributaryError;
}

/** A group-metadata record to write, and what the group does once the write is acknowledged or fails. */
export type GroupStore =
  | { kind: 'assignment'; groupId: string; generationId: number; value: GroupMetadataValue; assignments: Map<string, Buffer> }
  | { kind: 'empty'; groupId: string; generationId: number; value: GroupMetadataValue }
  | {
      kind: 'static-replace';
      groupId: string;
      value: GroupMetadataValue;
      groupInstanceId: string;
      oldMemberId: string;
      newMemberId: string;
      /** The leader before the replacement: what the new member is told (Kafka's rule, see staticJoin). */
      leaderBefore: string | undefined;
      oldProtocols: GroupProtocol[];
      oldRebalanceTimeoutMs: number;
      oldSessionTimeoutMs: number;
    };

export interface GroupOutput {
  replies: Reply[];
  stores: GroupStore[];
  /** What happened, for the coordinator's log (rebalances, members added and removed). */
  events: { msg: string; fields: Record<string, unknown> }[];
}

export function newGroupOutput(): GroupOutput {
  return { replies: [], stores: [], events: [] };
}

export interface GroupConfig {
  /** group.initial.rebalance.delay.ms: how long the first rebalance of an Empty group waits for more members. */
  groupInitialRebalanceDelayMs: number;
  /** group.max.size. */
  groupMaxSize: number;
  /** How long a new member's JoinGroup may wait before it is dropped (Kafka: 5 minutes). */
  newMemberJoinTimeoutMs: number;
}

export interface JoinInput {
  memberId: string;
  groupInstanceId: string | undefined;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
}

const EMPTY_BYTES = Buffer.alloc(0);

export class GroupMember {
  memberId: string;
  readonly groupInstanceId: string | undefined;
  readonly clientId: string;
  readonly clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  readonly protocolType: string;
  protocols: GroupProtocol[];
  assignment: Buffer = EMPTY_BYTES;
  joinWaiter: RequestId | undefined;
  syncWaiter: RequestId | undefined;
  /** Joined and not yet through a completed join: its JoinGroup may be dropped after newMemberJoinTimeoutMs. */
  isNew = false;
  /** When its session expires unless it heartbeats; undefined while a join or sync it waits on keeps it alive. */
  heartbeatDeadlineMs: number | undefined;

  constructor(init: Omit<JoinInput, 'memberId'> & { memberId: string }) {
    this.memberId = init.memberId;
    this.groupInstanceId = init.groupInstanceId;
    this.clientId = init.clientId;
    this.clientHost = init.clientHost;
    this.rebalanceTimeoutMs = init.rebalanceTimeoutMs;
    this.sessionTimeoutMs = init.sessionTimeoutMs;
    this.protocolType = init.protocolType;
    this.protocols = init.protocols;
  }

  metadataFor(protocolName: string): Buffer {
    const p = this.protocols.find((x) => x.name === protocolName);
    if (p === undefined) throw new TributaryError('UNKNOWN_SERVER_ERROR', `member ${this.memberId} does not support protocol ${protocolName}`);
    return p.metadata;
  }

  /** Same protocols, in the same order, with the same metadata (Kafka's MemberMetadata.matches). */
  matches(protocols: readonly GroupProtocol[]): boolean {
    return (
      protocols.length === this.protocols.length &&
      protocols.every((p, i) => p.name === this.protocols[i]!.name && p.metadata.equals(this.protocols[i]!.metadata))
    );
  }

  /**
   * A member waiting in a join or a sync it has made during a rebalance needs no heartbeat (its
   * wait is bounded by the rebalance timeout); a new member's does not count (Kafka's
   * hasSatisfiedHeartbeat).
   */
  hasSatisfiedHeartbeat(): boolean {
    return !this.isNew && (this.joinWaiter !== undefined || this.syncWaiter !== undefined);
  }
}

function error(code: ErrorCode, message: string, memberId?: string): TributaryError {
  return new TributaryError(code, message, memberId === undefined ? undefined : { memberId });
}

export class GroupState {
  readonly groupId: string;
  state: GroupStateName = 'Empty';
  generationId = 0;
  protocolType: string | undefined;
  protocolName: string | undefined;
  leaderId: string | undefined;
  /** When the group entered its current state (KIP-211); undefined when loaded without one. */
  currentStateTimestampMs: number | undefined;
  readonly members = new Map<string, GroupMember>();
  /** group.instance.id → member id (KIP-345). */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, until they join or their session timeout passes (KIP-394). */
  readonly pendingMembers = new Map<string, number>();
  /** Members of the current generation that have not sent their SyncGroup yet. */
  readonly pendingSync = new Set<string>();
  private joinDeadlineMs: number | undefined;
  private syncDeadlineMs: number | undefined;
  /** Set while the first rebalance of an Empty group waits for more members (group.initial.rebalance.delay.ms). */
  private initialDelay: { remainingMs: number; newMemberAdded: boolean } | undefined;
  /** The generation whose assignment is being written (the leader may send its SyncGroup twice). */
  private assignmentStoreGeneration: number | undefined;
  private readonly config: GroupConfig;
  private readonly newId: () => string;

  constructor(groupId: string, config: GroupConfig, newId: () => string, nowMs: number) {
    this.groupId = groupId;
    this.config = config;
    this.newId = newId;
    this.currentStateTimestampMs = nowMs;
  }

  /** A group as its `__consumer_offsets` record left it: Stable with its members, or Empty. */
  static fromMetadata(groupId: string, value: GroupMetadataValue, config: GroupConfig, newId: () => string, nowMs: number): GroupState {
    const group = new GroupState(groupId, config, newId, nowMs);
    group.generationId = value.generation;
    group.protocolType = value.protocolType === '' ? undefined : value.protocolType;
    group.currentStateTimestampMs = value.currentStateTimestamp >= 0 ? value.currentStateTimestamp : undefined;
    if (value.members.length === 0 || value.protocol === null) return group;
    group.state = 'Stable';
    group.protocolName = value.protocol;
    for (const m of value.members) {
      const member = new GroupMember({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId ?? undefined,
        clientId: m.clientId,
        clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        protocolType: value.protocolType,
        protocols: [{ name: value.protocol, metadata: m.subscription }],
      });
      member.assignment = m.assignment;
      // A new coordinator gives every member a full session to find it (Kafka's onGroupLoaded).
      member.heartbeatDeadlineMs = nowMs + m.sessionTimeoutMs;
      group.members.set(m.memberId, member);
      if (member.groupInstanceId !== undefined) group.staticMembers.set(member.groupInstanceId, m.memberId);
    }
    group.leaderId = value.leader !== null && group.members.has(value.leader) ? value.leader : group.members.keys().next().value;
    return group;
  }

  get size(): number {
    return this.members.size;
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  /** The largest rebalance timeout of the members (Kafka's GroupMetadata.rebalanceTimeoutMs). */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  /** The earliest time onTimer has something to do; undefined: nothing is scheduled. */
  nextDeadlineMs(): number | undefined {
    let next: number | undefined;
    const consider = (t: number | undefined) => {
      if (t !== undefined && (next === undefined || t < next)) next = t;
    };
    if (this.state === 'PreparingRebalance') consider(this.joinDeadlineMs);
    if (this.state === 'CompletingRebalance' || this.state === 'Stable') consider(this.syncDeadlineMs);
    for (const m of this.members.values()) consider(m.heartbeatDeadlineMs);
    for (const t of this.pendingMembers.values()) consider(t);
    return next;
  }

  // ------------------------------------------------------------------ state

  private transitionTo(state: GroupStateName, nowMs: number): void {
    this.state = state;
    this.currentStateTimestampMs = nowMs;
  }

  /** Kafka's canRebalance: the states PreparingRebalance may be entered from. */
  private canRebalance(): boolean {
    return this.state === 'Stable' || this.state === 'CompletingRebalance' || this.state === 'Empty';
  }

  /** Protocol names every member supports. */
  private candidateProtocols(): Set<string> {
    let names: Set<string> | undefined;
    for (const m of this.members.values()) {
      const own = new Set(m.protocols.map((p) => p.name));
      names = names === undefined ? own : new Set([...names].filter((n) => own.has(n)));
    }
    return names ?? new Set();
  }

  /**
   * Whether a member with these protocols may join (Kafka's supportsProtocols): an Empty group
   * takes any non-empty protocol type and list; otherwise the type must be the group's and one of
   * the protocols supported by every member.
   */
  supportsProtocols(protocolType: string, protocols: readonly GroupProtocol[]): boolean {
    if (this.state === 'Empty') return protocolType !== '' && protocols.length > 0;
    const candidates = this.candidateProtocols();
    return this.protocolType === protocolType && protocols.some((p) => candidates.has(p.name));
  }

  /**
   * Kafka's selectProtocol: among the protocols every member supports, each member votes for the
   * first in its own order of preference; the most votes win (a tie goes to the protocol voted
   * for first, so the choice is deterministic).
   */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const vote = m.protocols.find((p) => candidates.has(p.name))?.name;
      if (vote !== undefined) votes.set(vote, (votes.get(vote) ?? 0) + 1);
    }
    let best: string | undefined;
    for (const [name, count] of votes) if (best === undefined || count > votes.get(best)!) best = name;
    if (best === undefined) throw new TributaryError('UNKNOWN_SERVER_ERROR', `group ${this.groupId}: no protocol is supported by every member`);
    return best;
  }

  /** Kafka's validateMember: a static member must present its current member id; a dynamic one must be known. */
  validateMember(memberId: string, groupInstanceId: string | undefined, op: string): TributaryError | undefined {
    if (groupInstanceId !== undefined) {
      const current = this.staticMembers.get(groupInstanceId);
      if (current === undefined) return error('UNKNOWN_MEMBER_ID', `${op}: group instance id ${groupInstanceId} is not a member of group ${this.groupId}`);
      if (current !== memberId)
        return error(
          'FENCED_INSTANCE_ID',
          `${op}: member ${memberId} with group instance id ${groupInstanceId} was replaced by member ${current} in group ${this.groupId}`,
        );
      return undefined;
    }
    if (!this.members.has(memberId)) return error('UNKNOWN_MEMBER_ID', `${op}: member ${memberId} is not a member of group ${this.groupId}`);
    return undefined;
  }

  // ------------------------------------------------------------------ answers

  private scheduleHeartbeat(member: GroupMember, nowMs: number, timeoutMs = member.sessionTimeoutMs): void {
    member.heartbeatDeadlineMs = nowMs + timeoutMs;
  }

  /** Answers the member's parked JoinGroup, if any; a member still here gets a fresh session. */
  private answerJoin(member: GroupMember, nowMs: number, out: GroupOutput, result: { value: JoinGroupResponse } | { error: TributaryError }): void {
    if (member.joinWaiter === undefined) return;
    out.replies.push({ to: member.joinWaiter, ...result });
    member.joinWaiter = undefined;
    if (this.members.get(member.memberId) === member && !member.isNew) this.scheduleHeartbeat(member, nowMs);
  }

  private answerSync(member: GroupMember, nowMs: number, out: GroupOutput, result: { value: { assignment: Buffer } } | { error: TributaryError }): void {
    if (member.syncWaiter === undefined) return;
    out.replies.push({ to: member.syncWaiter, ...result });
    member.syncWaiter = undefined;
    if (this.members.get(member.memberId) === member) this.scheduleHeartbeat(member, nowMs);
  }

  private joinResult(member: GroupMember, withMembers: boolean, leader = this.leaderId): JoinGroupResponse {
    const protocolName = this.protocolName ?? '';
    return {
      generationId: this.generationId,
      protocolName,
      leader: leader ?? '',
      memberId: member.memberId,
      members: withMembers
        ? [...this.members.values()].map((m) => ({
            memberId: m.memberId,
            ...(m.groupInstanceId !== undefined ? { groupInstanceId: m.groupInstanceId } : {}),
            metadata: m.metadataFor(protocolName),
          }))
        : [],
    };
  }

  // ------------------------------------------------------------------ JoinGroup

  /**
   * Kafka's handleJoinGroup for a group that exists here (the coordinator creates an Empty one
   * for a first join). The join is answered at once (errors, MEMBER_ID_REQUIRED, a member that
   * can be given the current generation) or parked until the rebalance completes.
   */
  join(requestId: RequestId, input: JoinInput, nowMs: number, out: GroupOutput): void {
    if (!this.acceptJoiningMember(input.memberId)) {
      // An existing member of an oversized group that has not rejoined is shed (Kafka).
      const shed = this.members.get(input.memberId);
      if (shed !== undefined) this.removeMember(shed, nowMs, out, 'group is over group.max.size');
      out.replies.push({
        to: requestId,
        error: error('GROUP_MAX_SIZE_REACHED', `group ${this.groupId} already has ${this.config.groupMaxSize} members (group.max.size)`),
      });
    } else if (input.memberId === '') {
      this.joinNewMember(requestId, input, nowMs, out);
    } else {
      this.joinExistingMember(requestId, input, nowMs, out);
    }
    if (this.state === 'PreparingRebalance') this.maybeCompleteJoin(nowMs, out);
  }

  /** Kafka's acceptJoiningMember: who may join while the group is at group.max.size. */
  private acceptJoiningMember(memberId: string): boolean {
    switch (this.state) {
      case 'Empty':
      case 'Dead':
        return true;
      case 'PreparingRebalance': {
        const awaiting = [...this.members.values()].filter((m) => m.joinWaiter !== undefined).length;
        return this.members.get(memberId)?.joinWaiter !== undefined || awaiting < this.config.groupMaxSize;
      }
      default:
        return this.members.has(memberId) || this.members.size < this.config.groupMaxSize;
    }
  }

  private joinNewMember(requestId: RequestId, input: JoinInput, nowMs: number, out: GroupOutput): void {
    if (this.state === 'Dead') {
      out.replies.push({
        to: requestId,
        error: error('COORDINATOR_NOT_AVAILABLE', `group ${this.groupId} is being removed from this coordinator; find it again`),
      });
      return;
    }
    if (!this.supportsProtocols(input.protocolType, input.protocols)) {
      out.replies.push({ to: requestId, error: this.inconsistentProtocol(input) });
      return;
    }
    // Kafka's generateMemberId: the instance id (static members) or client id, then a UUID.
    const newMemberId = `${input.groupInstanceId ?? input.clientId}-${this.newId()}`;
    if (input.groupInstanceId !== undefined) {
      const existing = this.staticMembers.get(input.groupInstanceId);
      if (existing !== undefined) this.replaceStaticMember(requestId, input, existing, newMemberId, nowMs, out);
      else this.addMemberAndRebalance(requestId, input, newMemberId, nowMs, out);
      return;
    }
    // KIP-394: a dynamic member first gets its id and must join again with it, so a client that
    // times out and retries does not leave orphan members behind. The id is pending until then.
    this.pendingMembers.set(newMemberId, nowMs + input.sessionTimeoutMs);
    out.replies.push({
      to: requestId,
      error: error('MEMBER_ID_REQUIRED', `join group ${this.groupId} again with member id ${newMemberId}`, newMemberId),
    });
  }

  private inconsistentProtocol(input: JoinInput): TributaryError {
    if (this.protocolType !== input.protocolType)
      return error(
        'INCONSISTENT_GROUP_PROTOCOL',
        `group ${this.groupId} has protocol type '${this.protocolType ?? ''}', the member asked for '${input.protocolType}'`,
      );
    return error(
      'INCONSISTENT_GROUP_PROTOCOL',
      `none of the member's protocols [${input.protocols.map((p) => p.name).join(', ')}] is supported by every member of group ${this.groupId} ([${[...this.candidateProtocols()].join(', ')}])`,
    );
  }

  private joinExistingMember(requestId: RequestId, input: JoinInput, nowMs: number, out: GroupOutput): void {
    const { memberId } = input;
    if (this.state === 'Dead') {
      out.replies.push({
        to: requestId,
        error: error('COORDINATOR_NOT_AVAILABLE', `group ${this.groupId} is being removed from this coordinator; find it again`),
      });
      return;
    }
    if (!this.supportsProtocols(input.protocolType, input.protocols)) {
      out.replies.push({ to: requestId, error: this.inconsistentProtocol(input) });
      return;
    }
    if (this.pendingMembers.has(memberId)) {
      if (input.groupInstanceId !== undefined) {
        out.replies.push({ to: requestId, error: error('INVALID_REQUEST', `member id ${memberId} was handed out to a member without a group instance id`) });
        return;
      }
      this.addMemberAndRebalance(requestId, input, memberId, nowMs, out);
      return;
    }
    const invalid = this.validateMember(memberId, input.groupInstanceId, 'join');
    if (invalid !== undefined) {
      out.replies.push({ to: requestId, error: invalid });
      return;
    }
    const member = this.members.get(memberId)!;
    switch (this.state) {
      case 'PreparingRebalance':
        this.updateMemberAndRebalance(requestId, member, input, nowMs, out, `member ${memberId} joined during PreparingRebalance`);
        return;
      case 'CompletingRebalance':
        if (member.matches(input.protocols)) {
          // It lost the answer to its join: give it the current generation again.
          this.parkJoin(member, requestId, nowMs, out);
          this.answerJoin(member, nowMs, out, { value: this.joinResult(member, this.isLeader(memberId)) });
        } else {
          this.updateMemberAndRebalance(requestId, member, input, nowMs, out, `member ${memberId} changed its metadata during CompletingRebalance`);
        }
        return;
      case 'Stable':
        // A leader's join starts a rebalance even with unchanged metadata: that is how a leader
        // asks for one (e.g. the topics it subscribes to grew partitions).
        if (this.isLeader(memberId) || !member.matches(input.protocols)) {
          this.updateMemberAndRebalance(
            requestId,
            member,
            input,
            nowMs,
            out,
            this.isLeader(memberId) ? `leader ${memberId} rejoined` : `member ${memberId} changed its metadata`,
          );
        } else {
          this.parkJoin(member, requestId, nowMs, out);
          this.answerJoin(member, nowMs, out, { value: this.joinResult(member, false) });
        }
        return;
      default:
        out.replies.push({ to: requestId, error: error('UNKNOWN_MEMBER_ID', `group ${this.groupId} is ${this.state}; join again with an empty member id`) });
    }
  }

  /** Parks a JoinGroup on the member; an earlier one still parked is answered first (superseded). */
  private parkJoin(member: GroupMember, requestId: RequestId, nowMs: number, out: GroupOutput): void {
    if (member.joinWaiter !== undefined && member.joinWaiter !== requestId) {
      this.answerJoin(member, nowMs, out, { error: error('REBALANCE_IN_PROGRESS', `a later JoinGroup of member ${member.memberId} replaced this one`) });
    }
    member.joinWaiter = requestId;
  }

  private addMemberAndRebalance(requestId: RequestId, input: JoinInput, memberId: string, nowMs: number, out: GroupOutput): void {
    const member = new GroupMember({ ...input, memberId });
    member.isNew = true;
    member.joinWaiter = requestId;
    // A member joining during the initial delay extends it (Kafka's newMemberAdded).
    if (this.state === 'PreparingRebalance' && this.initialDelay !== undefined) this.initialDelay.newMemberAdded = true;
    if (this.members.size === 0) this.protocolType = input.protocolType;
    this.members.set(memberId, member);
    this.leaderId ??= memberId;
    if (member.groupInstanceId !== undefined) this.staticMembers.set(member.groupInstanceId, memberId);
    this.pendingMembers.delete(memberId);
    // New members cannot heartbeat yet and their join waits for the others: they are dropped
    // only if the join has not completed within newMemberJoinTimeoutMs (Kafka: 5 minutes).
    this.scheduleHeartbeat(member, nowMs, this.config.newMemberJoinTimeoutMs);
    out.events.push({ msg: 'member added', fields: { groupId: this.groupId, memberId, groupInstanceId: input.groupInstanceId, clientId: input.clientId } });
    this.maybePrepareRebalanceOrCompleteJoin(nowMs, out, `member ${memberId} joined`);
  }

  private updateMember(member: GroupMember, input: Pick<JoinInput, 'protocols' | 'rebalanceTimeoutMs' | 'sessionTimeoutMs'>): void {
    member.protocols = input.protocols;
    member.rebalanceTimeoutMs = input.rebalanceTimeoutMs;
    member.sessionTimeoutMs = input.sessionTimeoutMs;
  }

  private updateMemberAndRebalance(requestId: RequestId, member: GroupMember, input: JoinInput, nowMs: number, out: GroupOutput, reason: string): void {
    this.updateMember(member, input);
    this.parkJoin(member, requestId, nowMs, out);
    this.maybePrepareRebalanceOrCompleteJoin(nowMs, out, reason);
  }

  /**
   * KIP-345: a static member rejoining with an unknown member id (a restarted instance) takes
   * over its instance id's membership under a new member id; the old id is fenced. In Stable, when
   * the protocol selection does not change, no rebalance happens: the group is stored with the new
   * id and the member gets the current generation and its old assignment.
   */
  private replaceStaticMember(requestId: RequestId, input: JoinInput, oldMemberId: string, newMemberId: string, nowMs: number, out: GroupOutput): void {
    const groupInstanceId = input.groupInstanceId!;
    const leaderBefore = this.leaderId;
    const old = this.members.get(oldMemberId)!;
    const fenced = error('FENCED_INSTANCE_ID', `member ${oldMemberId} was replaced by a new member with group instance id ${groupInstanceId}`);
    this.answerJoin(old, nowMs, out, { error: fenced });
    this.answerSync(old, nowMs, out, { error: fenced });
    const oldProtocols = old.protocols;
    const oldRebalanceTimeoutMs = old.rebalanceTimeoutMs;
    const oldSessionTimeoutMs = old.sessionTimeoutMs;
    const member = this.renameMember(old, newMemberId);
    this.scheduleHeartbeat(member, nowMs);
    this.updateMember(member, input);
    member.joinWaiter = requestId;
    out.events.push({ msg: 'static member replaced', fields: { groupId: this.groupId, groupInstanceId, oldMemberId, newMemberId, state: this.state } });
    switch (this.state) {
      case 'Stable':
        if (this.protocolName === this.selectProtocol()) {
          out.stores.push({
            kind: 'static-replace',
            groupId: this.groupId,
            value: this.toMetadataValue(new Map([...this.members.values()].map((m) => [m.memberId, m.assignment]))),
            groupInstanceId,
            oldMemberId,
            newMemberId,
            leaderBefore,
            oldProtocols,
            oldRebalanceTimeoutMs,
            oldSessionTimeoutMs,
          });
        } else {
          this.maybePrepareRebalanceOrCompleteJoin(nowMs, out, `static member ${newMemberId} (${groupInstanceId}) rejoined with other protocols`);
        }
        return;
      case 'CompletingRebalance':
        // The leader may already be assigning to the old id: start over with the new one.
        this.prepareRebalance(nowMs, out, `static member ${newMemberId} (${groupInstanceId}) rejoined during CompletingRebalance`);
        return;
      case 'PreparingRebalance':
        this.maybeCompleteJoin(nowMs, out);
        return;
      default:
        throw new TributaryError('UNKNOWN_SERVER_ERROR', `group ${this.groupId} is ${this.state} but holds static member ${groupInstanceId}`);
    }
  }

  /** Gives a member a new id, keeping its place, leadership, static mapping and pending sync. */
  private renameMember(member: GroupMember, newMemberId: string): GroupMember {
    const oldMemberId = member.memberId;
    const entries = [...this.members.entries()];
    this.members.clear();
    member.memberId = newMemberId;
    for (const [id, m] of entries) this.members.set(id === oldMemberId ? newMemberId : id, m);
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId;
    if (member.groupInstanceId !== undefined) this.staticMembers.set(member.groupInstanceId, newMemberId);
    if (this.pendingSync.delete(oldMemberId)) this.pendingSync.add(newMemberId);
    return member;
  }

  private maybePrepareRebalanceOrCompleteJoin(nowMs: number, out: GroupOutput, reason: string): void {
    if (this.canRebalance()) this.prepareRebalance(nowMs, out, reason);
    else if (this.state === 'PreparingRebalance') this.maybeCompleteJoin(nowMs, out);
  }

  private prepareRebalance(nowMs: number, out: GroupOutput, reason: string): void {
    // Members waiting for an assignment of a generation that will not be completed rejoin.
    if (this.state === 'CompletingRebalance')
      this.resetAndPropagateAssignmentError(nowMs, out, error('REBALANCE_IN_PROGRESS', `group ${this.groupId} is rebalancing: ${reason}`));
    this.pendingSync.clear();
    this.syncDeadlineMs = undefined;
    const wasEmpty = this.state === 'Empty';
    this.transitionTo('PreparingRebalance', nowMs);
    out.events.push({ msg: 'preparing to rebalance', fields: { groupId: this.groupId, generationId: this.generationId, reason } });
    const delay = this.config.groupInitialRebalanceDelayMs;
    if (wasEmpty && delay > 0) {
      // Kafka's InitialDelayedJoin: the first rebalance waits for more members to arrive, and
      // each one that does buys another delay, up to the rebalance timeout in all.
      this.initialDelay = { remainingMs: Math.max(this.rebalanceTimeoutMs() - delay, 0), newMemberAdded: false };
      this.joinDeadlineMs = nowMs + delay;
      return;
    }
    this.initialDelay = undefined;
    this.joinDeadlineMs = nowMs + this.rebalanceTimeoutMs();
    this.maybeCompleteJoin(nowMs, out);
  }

  /** Every member has rejoined and no member id handed out is still expected (Kafka's hasAllMembersJoined). */
  private hasAllMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const m of this.members.values()) if (m.joinWaiter === undefined) return false;
    return true;
  }

  private maybeCompleteJoin(nowMs: number, out: GroupOutput): void {
    if (this.state === 'PreparingRebalance' && this.initialDelay === undefined && this.hasAllMembersJoined()) this.completeJoin(nowMs, out);
  }

  /**
   * Kafka's onCompleteJoin: dynamic members that did not rejoin are dropped, the leader is one
   * that rejoined, the generation is bumped and a protocol selected; the leader gets every
   * member's metadata. With no member left the group becomes Empty (and that is stored).
   */
  private completeJoin(nowMs: number, out: GroupOutput): void {
    this.joinDeadlineMs = undefined;
    this.initialDelay = undefined;
    for (const m of [...this.members.values()]) {
      if (m.joinWaiter === undefined && m.groupInstanceId === undefined) this.dropMember(m, nowMs, out, 'did not rejoin before the rebalance timeout');
    }
    if (!this.maybeElectNewJoinedLeader() && this.members.size > 0) {
      // Nobody rejoined (only static members that did not): wait another rebalance timeout;
      // their sessions will expire meanwhile if they are gone.
      out.events.push({ msg: 'no member rejoined; waiting another rebalance timeout', fields: { groupId: this.groupId } });
      this.joinDeadlineMs = nowMs + this.rebalanceTimeoutMs();
      return;
    }
    this.generationId++;
    if (this.members.size === 0) {
      this.protocolName = undefined;
      this.leaderId = undefined;
      this.transitionTo('Empty', nowMs);
      out.events.push({ msg: 'group is empty', fields: { groupId: this.groupId, generationId: this.generationId } });
      out.stores.push({ kind: 'empty', groupId: this.groupId, generationId: this.generationId, value: this.toMetadataValue(new Map()) });
      return;
    }
    this.protocolName = this.selectProtocol();
    this.transitionTo('CompletingRebalance', nowMs);
    out.events.push({
      msg: 'rebalance completed its join phase',
      fields: { groupId: this.groupId, generationId: this.generationId, protocol: this.protocolName, leader: this.leaderId, members: this.members.size },
    });
    for (const m of this.members.values()) {
      m.isNew = false;
      this.pendingSync.add(m.memberId);
      if (m.joinWaiter !== undefined) this.answerJoin(m, nowMs, out, { value: this.joinResult(m, this.isLeader(m.memberId)) });
      else this.scheduleHeartbeat(m, nowMs);
    }
    // Members must send their SyncGroup within the rebalance timeout, else they are dropped and
    // the group rebalances without them (Kafka's pending sync expiration).
    this.syncDeadlineMs = nowMs + this.rebalanceTimeoutMs();
  }

  /** The leader must be a member that rejoined; false when none did. */
  private maybeElectNewJoinedLeader(): boolean {
    const leader = this.leaderId === undefined ? undefined : this.members.get(this.leaderId);
    if (leader?.joinWaiter !== undefined) return true;
    for (const m of this.members.values()) {
      if (m.joinWaiter !== undefined) {
        this.leaderId = m.memberId;
        return true;
      }
    }
    return false;
  }

  // ------------------------------------------------------------------ SyncGroup

  sync(
    requestId: RequestId,
    memberId: string,
    groupInstanceId: string | undefined,
    generationId: number,
    assignments: Map<string, Buffer>,
    nowMs: number,
    out: GroupOutput,
  ): void {
    const reply = (e: TributaryError) => out.replies.push({ to: requestId, error: e });
    if (this.state === 'Dead')
      return void reply(error('COORDINATOR_NOT_AVAILABLE', `group ${this.groupId} is being removed from this coordinator; find it again`));
    const invalid = this.validateMember(memberId, groupInstanceId, 'sync');
    if (invalid !== undefined) return void reply(invalid);
    if (generationId !== this.generationId)
      return void reply(
        error('ILLEGAL_GENERATION', `sync of member ${memberId} in generation ${generationId}; group ${this.groupId} is at generation ${this.generationId}`),
      );
    const member = this.members.get(memberId)!;
    switch (this.state) {
      case 'PreparingRebalance':
        return void reply(error('REBALANCE_IN_PROGRESS', `group ${this.groupId} is rebalancing: join again`));
      case 'CompletingRebalance': {
        if (member.syncWaiter !== undefined)
          this.answerSync(member, nowMs, out, { error: error('REBALANCE_IN_PROGRESS', `a later SyncGroup of member ${memberId} replaced this one`) });
        member.syncWaiter = requestId;
        this.pendingSync.delete(memberId);
        if (this.isLeader(memberId) && this.assignmentStoreGeneration !== this.generationId) {
          // Members the leader left out get an empty assignment; ids it named that are not
          // members are ignored (Kafka).
          const full = new Map<string, Buffer>();
          for (const id of this.members.keys()) full.set(id, assignments.get(id) ?? EMPTY_BYTES);
          this.assignmentStoreGeneration = this.generationId;
          out.stores.push({ kind: 'assignment', groupId: this.groupId, generationId: this.generationId, value: this.toMetadataValue(full), assignments: full });
        }
        return;
      }
      case 'Stable':
        this.pendingSync.delete(memberId);
        this.scheduleHeartbeat(member, nowMs);
        out.replies.push({ to: requestId, value: { assignment: member.assignment } });
        return;
      default:
        reply(error('UNKNOWN_MEMBER_ID', `group ${this.groupId} is ${this.state}; join again with an empty member id`));
    }
  }

  private resetAndPropagateAssignmentError(nowMs: number, out: GroupOutput, e: TributaryError): void {
    for (const m of this.members.values()) {
      m.assignment = EMPTY_BYTES;
      this.answerSync(m, nowMs, out, { error: e });
    }
  }

  // ------------------------------------------------------------------ Heartbeat, LeaveGroup

  /** Kafka's handleHeartbeat: extends the member's session; REBALANCE_IN_PROGRESS tells it to rejoin. */
  heartbeat(memberId: string, groupInstanceId: string | undefined, generationId: number, nowMs: number): TributaryError | undefined {
    if (this.state === 'Dead') return error('COORDINATOR_NOT_AVAILABLE', `group ${this.groupId} is being removed from this coordinator; find it again`);
    const invalid = this.validateMember(memberId, groupInstanceId, 'heartbeat');
    if (invalid !== undefined) return invalid;
    if (generationId !== this.generationId)
      return error(
        'ILLEGAL_GENERATION',
        `heartbeat of member ${memberId} in generation ${generationId}; group ${this.groupId} is at generation ${this.generationId}`,
      );
    const member = this.members.get(memberId)!;
    switch (this.state) {
      case 'PreparingRebalance':
        this.scheduleHeartbeat(member, nowMs);
        return error('REBALANCE_IN_PROGRESS', `group ${this.groupId} is rebalancing: join again`);
      case 'CompletingRebalance':
      case 'Stable':
        // Consumers heartbeat while they wait for their SyncGroup too (Kafka ≥ 2.5 answers these).
        this.scheduleHeartbeat(member, nowMs);
        return undefined;
      default:
        return error('UNKNOWN_MEMBER_ID', `group ${this.groupId} is ${this.state}`);
    }
  }

  /**
   * Kafka's handleLeaveGroup for one member: by member id, or by group instance id alone (an
   * admin removing a static member, KIP-345). Returns the error for that member, if any.
   */
  leave(memberId: string, groupInstanceId: string | undefined, nowMs: number, out: GroupOutput): TributaryError | undefined {
    if (groupInstanceId !== undefined && memberId !== '') {
      const current = this.staticMembers.get(groupInstanceId);
      if (current !== undefined && current !== memberId)
        return error('FENCED_INSTANCE_ID', `member ${memberId} with group instance id ${groupInstanceId} was replaced by member ${current}`);
    }
    if (memberId !== '' && this.pendingMembers.has(memberId)) {
      this.pendingMembers.delete(memberId);
      out.events.push({ msg: 'pending member left', fields: { groupId: this.groupId, memberId } });
      if (this.state === 'PreparingRebalance') this.maybeCompleteJoin(nowMs, out);
      return undefined;
    }
    const id = groupInstanceId !== undefined && this.staticMembers.has(groupInstanceId) ? this.staticMembers.get(groupInstanceId)! : memberId;
    const member = this.members.get(id);
    if (member === undefined)
      return error('UNKNOWN_MEMBER_ID', `member ${memberId}${groupInstanceId ? ` (${groupInstanceId})` : ''} is not a member of group ${this.groupId}`);
    this.removeMember(member, nowMs, out, 'left the group');
    return undefined;
  }

  // ------------------------------------------------------------------ removal, timers

  /** Takes a member out of the group; its parked join or sync is answered UNKNOWN_MEMBER_ID. */
  private dropMember(member: GroupMember, nowMs: number, out: GroupOutput, reason: string): void {
    const gone = error('UNKNOWN_MEMBER_ID', `member ${member.memberId} was removed from group ${this.groupId}: ${reason}`);
    this.members.delete(member.memberId);
    this.answerJoin(member, nowMs, out, { error: gone });
    this.answerSync(member, nowMs, out, { error: gone });
    member.heartbeatDeadlineMs = undefined;
    if (member.groupInstanceId !== undefined && this.staticMembers.get(member.groupInstanceId) === member.memberId)
      this.staticMembers.delete(member.groupInstanceId);
    this.pendingSync.delete(member.memberId);
    if (this.leaderId === member.memberId) this.leaderId = this.members.keys().next().value;
    out.events.push({ msg: 'member removed', fields: { groupId: this.groupId, memberId: member.memberId, groupInstanceId: member.groupInstanceId, reason } });
  }

  /** Kafka's removeMemberAndUpdateGroup: a member leaving or expiring starts a rebalance. */
  private removeMember(member: GroupMember, nowMs: number, out: GroupOutput, reason: string): void {
    this.dropMember(member, nowMs, out, reason);
    if (this.state === 'Stable' || this.state === 'CompletingRebalance') this.prepareRebalance(nowMs, out, `member ${member.memberId} ${reason}`);
    else if (this.state === 'PreparingRebalance') this.maybeCompleteJoin(nowMs, out);
  }

  /** Does what is due at `nowMs`: expired member ids and sessions, the join phase's end, missing syncs. */
  onTimer(nowMs: number, out: GroupOutput): void {
    if (this.state === 'Dead') return;
    for (const [memberId, deadline] of [...this.pendingMembers]) {
      if (deadline > nowMs) continue;
      this.pendingMembers.delete(memberId);
      out.events.push({ msg: 'pending member expired', fields: { groupId: this.groupId, memberId } });
      if (this.state === 'PreparingRebalance') this.maybeCompleteJoin(nowMs, out);
    }
    for (const member of [...this.members.values()]) {
      if (this.members.get(member.memberId) !== member) continue;
      const deadline = member.heartbeatDeadlineMs;
      if (deadline === undefined || deadline > nowMs) continue;
      if (member.hasSatisfiedHeartbeat()) {
        // Its parked join or sync keeps it; the answer to it schedules the next deadline.
        member.heartbeatDeadlineMs = undefined;
        continue;
      }
      this.removeMember(member, nowMs, out, member.isNew ? 'its join did not complete within the new member join timeout' : 'its session expired');
    }
    if (this.state === 'PreparingRebalance' && this.joinDeadlineMs !== undefined && this.joinDeadlineMs <= nowMs) {
      const initial = this.initialDelay;
      if (initial?.newMemberAdded && initial.remainingMs > 0) {
        const delay = Math.min(this.config.groupInitialRebalanceDelayMs, initial.remainingMs);
        initial.remainingMs = Math.max(initial.remainingMs - delay, 0);
        initial.newMemberAdded = false;
        this.joinDeadlineMs = nowMs + delay;
      } else {
        this.completeJoin(nowMs, out);
      }
    }
    if ((this.state === 'CompletingRebalance' || this.state === 'Stable') && this.syncDeadlineMs !== undefined && this.syncDeadlineMs <= nowMs) {
      this.syncDeadlineMs = undefined;
      if (this.pendingSync.size > 0) {
        const missing = [...this.pendingSync];
        for (const id of missing) {
          const m = this.members.get(id);
          if (m !== undefined) this.dropMember(m, nowMs, out, 'did not send SyncGroup within the rebalance timeout');
        }
        this.prepareRebalance(nowMs, out, `members [${missing.join(', ')}] did not sync in time`);
      }
    }
  }

  // ------------------------------------------------------------------ stores

  /** The write of a store this group asked for was acknowledged (error undefined) or failed. */
  onStoreCompleted(store: GroupStore, failure: TributaryError | undefined, nowMs: number, out: GroupOutput): void {
    switch (store.kind) {
      case 'assignment':
        if (this.assignmentStoreGeneration === store.generationId) this.assignmentStoreGeneration = undefined;
        // The group moved on meanwhile (a member joined or left): whoever waited was answered then.
        if (this.state !== 'CompletingRebalance' || this.generationId !== store.generationId) return;
        if (failure !== undefined) {
          this.resetAndPropagateAssignmentError(nowMs, out, failure);
          this.maybePrepareRebalanceOrCompleteJoin(nowMs, out, `the assignment could not be stored: ${failure.code}`);
          return;
        }
        for (const m of this.members.values()) m.assignment = store.assignments.get(m.memberId) ?? EMPTY_BYTES;
        this.transitionTo('Stable', nowMs);
        out.events.push({ msg: 'group is stable', fields: { groupId: this.groupId, generationId: this.generationId, members: this.members.size } });
        for (const m of this.members.values()) this.answerSync(m, nowMs, out, { value: { assignment: m.assignment } });
        return;
      case 'empty':
        // Nothing waits on it. If it was lost, the previous generation comes back after a
        // failover and its members' sessions expire there (Kafka: only a warning).
        if (failure !== undefined) out.events.push({ msg: 'could not store the empty group', fields: { groupId: this.groupId, err: failure.message } });
        return;
      case 'static-replace': {
        const member = this.members.get(store.newMemberId);
        if (failure !== undefined) {
          // Undone only while the new member still waits on this join: once a rebalance has
          // answered it, the new id is out and the group has moved on with it.
          if (member !== undefined && member.joinWaiter !== undefined) {
            // Undo the replacement: the old member id is the instance's again.
            this.updateMember(member, {
              protocols: store.oldProtocols,
              rebalanceTimeoutMs: store.oldRebalanceTimeoutMs,
              sessionTimeoutMs: store.oldSessionTimeoutMs,
            });
            const waiter = member.joinWaiter;
            member.joinWaiter = undefined;
            this.renameMember(member, store.oldMemberId);
            this.scheduleHeartbeat(member, nowMs);
            out.replies.push({ to: waiter, error: failure });
          }
          return;
        }
        if (member === undefined) return;
        // The new member is told the leader from before, so that a replaced leader's successor
        // does not take itself for the leader of a Stable group and compute an assignment that a
        // Stable group would never hand out (Kafka's rule).
        this.answerJoin(member, nowMs, out, { value: this.joinResult(member, false, store.leaderBefore) });
        return;
      }
    }
  }

  /** The group's metadata record (GroupMetadataValue) with these assignments. */
  toMetadataValue(assignments: Map<string, Buffer>): GroupMetadataValue {
    const protocol = this.protocolName;
    return {
      protocolType: this.protocolType ?? '',
      generation: this.generationId,
      protocol: protocol ?? null,
      leader: this.leaderId ?? null,
      currentStateTimestamp: this.currentStateTimestampMs ?? -1,
      members:
        protocol === undefined
          ? []
          : [...this.members.values()].map((m) => ({
              memberId: m.memberId,
              groupInstanceId: m.groupInstanceId ?? null,
              clientId: m.clientId,
              clientHost: m.clientHost,
              rebalanceTimeoutMs: m.rebalanceTimeoutMs,
              sessionTimeoutMs: m.sessionTimeoutMs,
              subscription: m.metadataFor(protocol),
              assignment: assignments.get(m.memberId) ?? EMPTY_BYTES,
            })),
    };
  }

  /** Answers every parked request (the group leaves this coordinator, or is deleted) and marks it Dead. */
  unload(code: ErrorCode, message: string, nowMs: number, out: GroupOutput): void {
    const e = error(code, message);
    for (const m of this.members.values()) {
      this.answerJoin(m, nowMs, out, { error: e });
      this.answerSync(m, nowMs, out, { error: e });
      m.heartbeatDeadlineMs = undefined;
    }
    this.transitionTo('Dead', nowMs);
  }

  /** Dead for good: deleted (its tombstones are being written). Only an Empty group can be. */
  markDead(nowMs: number): void {
    this.transitionTo('Dead', nowMs);
  }

  /** Back to Empty after a deletion whose tombstones could not be written. */
  revive(nowMs: number): void {
    if (this.state === 'Dead' && this.members.size === 0) this.transitionTo('Empty', nowMs);
  }

  /** Kafka's DescribeGroups summary: protocol and member metadata only when Stable. */
  describe(): {
    state: GroupStateName;
    protocolType: string;
    protocol: string;
    members: { memberId: string; groupInstanceId?: string; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }[];
  } {
    const stable = this.state === 'Stable' && this.protocolName !== undefined;
    return {
      state: this.state,
      protocolType: this.protocolType ?? '',
      protocol: stable ? this.protocolName! : '',
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        ...(m.groupInstanceId !== undefined ? { groupInstanceId: m.groupInstanceId } : {}),
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? m.metadataFor(this.protocolName!) : EMPTY_BYTES,
        assignment: m.assignment,
      })),
    };
  }
}
