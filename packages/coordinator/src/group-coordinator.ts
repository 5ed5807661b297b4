// The group coordinator of one broker (Kafka's GroupCoordinator with its GroupMetadataManager):
// the groups of the `__consumer_offsets` partitions this broker leads, their offsets, loading a
// partition's state from its log when it becomes the leader, and dropping it when it stops.
// Sans-I/O: every call takes the time and returns a CoordinatorOutput — answers to requests
// (numbered by the host), records to append with acks=all (and the host reports back how each
// append ended with `appendCompleted`), the next deadline of each group it touched (the host runs
// `onGroupTimer` then) and events to log. The broker's CoordinatorHost does the I/O.

import {
  TributaryError,
  type DescribedGroup,
  type ErrorCode,
  type GroupProtocol,
  type GroupStateName,
  type ListGroupsResponse,
  type OffsetCommitResponse,
  type OffsetFetchResponse,
  type WireError,
} from '@tributary/protocol';
import { GroupState, newGroupOutput, type GroupConfig, type GroupOutput, type GroupStore, type Reply, type RequestId } from './group.ts';
import { partitionForGroup } from './hash.ts';
import { GroupLoader, tpKey } from './loader.ts';
import { OffsetTable, type ExpiryBase } from './offset-table.ts';
import { encodeRecord, type OffsetCommitValue, type OffsetsRecord } from './records.ts';

export interface GroupCoordinatorConfig extends GroupConfig {
  /** group.min.session.timeout.ms / group.max.session.timeout.ms: the session timeouts a member may ask for. */
  groupMinSessionTimeoutMs: number;
  groupMaxSessionTimeoutMs: number;
  /** offset.metadata.max.bytes: the longest metadata string of a commit (UTF-8 bytes). */
  offsetMetadataMaxBytes: number;
  /** offsets.retention.minutes, in ms: how long offsets outlive an Empty group (KIP-211). */
  offsetsRetentionMs: number;
}

/** Kafka's defaults, except group.max.size (Kafka: unbounded). */
export const DEFAULT_GROUP_COORDINATOR_CONFIG: Readonly<GroupCoordinatorConfig> = Object.freeze({
  groupMinSessionTimeoutMs: 6000,
  groupMaxSessionTimeoutMs: 1_800_000,
  groupInitialRebalanceDelayMs: 3000,
  groupMaxSize: 1000,
  newMemberJoinTimeoutMs: 300_000,
  offsetMetadataMaxBytes: 4096,
  offsetsRetentionMs: 7 * 24 * 3600 * 1000,
});

/** Group ids: 1-255 characters (Kafka refuses the empty one with INVALID_GROUP_ID). */
export const GROUP_ID_LENGTH_MAX = 255;

/** Records to write to one `__consumer_offsets` partition with acks=all, as the leader of `leaderEpoch`. */
export interface AppendRequest {
  id: number;
  partition: number;
  leaderEpoch: number;
  records: { key: Buffer; value: Buffer | null }[];
}

export interface CoordinatorOutput {
  replies: Reply[];
  appends: AppendRequest[];
  /** Each touched group's next deadline (undefined: none; the group may be gone). */
  timers: Map<string, number | undefined>;
  events: { level: 'info' | 'warn'; msg: string; fields: Record<string, unknown> }[];
}

export type AppendOutcome = { baseOffset: number } | { error: ErrorCode; message: string };

export interface JoinRequestInput {
  groupId: string;
  memberId: string;
  groupInstanceId: string | undefined;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
}

export interface CommitInput {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | undefined;
  offsets: { topic: string; partition: number; offset: number; leaderEpoch: number | undefined; metadata: string }[];
}

type PendingAppend =
  | {
      kind: 'commit';
      partition: number;
      leaderEpoch: number;
      requestId: RequestId;
      group: GroupState;
      /** Every entry of the request, in order; the ones written carry their record's index. */
      entries: { topic: string; partition: number; error?: WireError; record?: number; value?: OffsetCommitValue }[];
    }
  | { kind: 'store'; partition: number; leaderEpoch: number; store: GroupStore }
  | { kind: 'delete'; partition: number; leaderEpoch: number; tracker: DeleteTracker; groups: { index: number; group: GroupState }[] }
  | { kind: 'cleanup'; partition: number; leaderEpoch: number };

interface DeleteTracker {
  requestId: RequestId;
  results: { groupId: string; error?: WireError }[];
  remaining: number;
}

interface PartitionStatus {
  leaderEpoch: number;
  loader: GroupLoader | undefined;
}

function wire(code: ErrorCode, message: string): WireError {
  return { code, message };
}

/**
 * What a failed append of the coordinator's records means to its clients (Kafka's mapping in
 * GroupMetadataManager): the partition lost its leader here, or cannot commit now.
 */
export function appendErrorCode(code: ErrorCode, forOffsets: boolean): ErrorCode {
  switch (code) {
    case 'UNKNOWN_TOPIC_OR_PARTITION':
    case 'NOT_ENOUGH_REPLICAS':
    case 'NOT_ENOUGH_REPLICAS_AFTER_APPEND':
    case 'REQUEST_TIMED_OUT':
      return 'COORDINATOR_NOT_AVAILABLE';
    case 'NOT_LEADER_OR_FOLLOWER':
    case 'FENCED_LEADER_EPOCH':
    case 'KAFKA_STORAGE_ERROR':
      return 'NOT_COORDINATOR';
    case 'MESSAGE_TOO_LARGE':
    case 'CORRUPT_MESSAGE':
      return forOffsets ? 'INVALID_COMMIT_OFFSET_SIZE' : 'UNKNOWN_SERVER_ERROR';
    default:
      return code;
  }
}

export interface GroupCoordinatorOptions {
  config?: Partial<GroupCoordinatorConfig>;
  /** A random id (UUID) for member ids; injected so that tests replay. */
  newId: () => string;
  /** Partitions of `__consumer_offsets` (its count once it exists, else offsets.topic.num.partitions). */
  partitionCount: number;
}

export class GroupCoordinator {
  readonly config: GroupCoordinatorConfig;
  private readonly newId: () => string;
  private partitions = 0;
  private readonly status = new Map<number, PartitionStatus>();
  private readonly groups = new Map<string, GroupState>();
  readonly offsets = new OffsetTable();
  private readonly pending = new Map<number, PendingAppend>();
  private nextAppendId = 1;

  constructor(options: GroupCoordinatorOptions) {
    this.config = { ...DEFAULT_GROUP_COORDINATOR_CONFIG, ...options.config };
    this.newId = options.newId;
    this.partitionCount = options.partitionCount;
  }

  get partitionCount(): number {
    return this.partitions;
  }

  /** Kafka uses the topic's real partition count once it exists, whatever the config says. */
  set partitionCount(n: number) {
    if (!Number.isSafeInteger(n) || n < 1)
      throw new TributaryError('INVALID_REQUEST', `__consumer_offsets partition count must be a positive integer, got ${n}`);
    this.partitions = n;
  }

  partitionFor(groupId: string): number {
    return partitionForGroup(groupId, this.partitions);
  }

  /** 'active', 'loading', or undefined when this broker does not coordinate that partition. */
  partitionState(partition: number): 'active' | 'loading' | undefined {
    const s = this.status.get(partition);
    return s === undefined ? undefined : s.loader === undefined ? 'active' : 'loading';
  }

  ownedPartitions(): { partition: number; leaderEpoch: number; state: 'active' | 'loading' }[] {
    return [...this.status].map(([partition, s]) => ({ partition, leaderEpoch: s.leaderEpoch, state: s.loader === undefined ? 'active' : 'loading' }));
  }

  group(groupId: string): GroupState | undefined {
    return this.groups.get(groupId);
  }

  /** The ids of every group held (for metrics). */
  groupIds(): string[] {
    return [...this.groups.keys()];
  }

  /** The state of every group held (for metrics). */
  groupStates(): GroupStateName[] {
    return [...this.groups.values()].map((g) => g.state);
  }

  /** Pending appends (for tests and metrics). */
  get appendsInFlight(): number {
    return this.pending.size;
  }

  // ------------------------------------------------------------------ output plumbing

  private output(): CoordinatorOutput {
    return { replies: [], appends: [], timers: new Map(), events: [] };
  }

  private touch(out: CoordinatorOutput, groupId: string): void {
    out.timers.set(groupId, undefined);
  }

  /** Turns a group's output into the coordinator's: its stores become appends. */
  private absorb(out: CoordinatorOutput, group: GroupState, g: GroupOutput): void {
    out.replies.push(...g.replies);
    for (const e of g.events) out.events.push({ level: 'info', ...e });
    const partition = this.partitionFor(group.groupId);
    const status = this.status.get(partition);
    for (const store of g.stores) {
      if (status === undefined) continue;
      const record: OffsetsRecord = { type: 'group', groupId: store.groupId, value: store.value };
      this.append(out, partition, status.leaderEpoch, [record], { kind: 'store', partition, leaderEpoch: status.leaderEpoch, store });
    }
    this.touch(out, group.groupId);
  }

  private append(out: CoordinatorOutput, partition: number, leaderEpoch: number, records: OffsetsRecord[], pending: PendingAppend): void {
    const id = this.nextAppendId++;
    this.pending.set(id, pending);
    out.appends.push({ id, partition, leaderEpoch, records: records.map(encodeRecord) });
  }

  /** Resolves the deadlines of the groups touched, once all changes of a call are made. */
  private finish(out: CoordinatorOutput): CoordinatorOutput {
    for (const groupId of out.timers.keys()) out.timers.set(groupId, this.groups.get(groupId)?.nextDeadlineMs());
    return out;
  }

  /**
   * Kafka's validateGroupStatus: a valid id, and a partition this broker coordinates and has
   * loaded. Returns the error to answer with, if any.
   */
  private groupStatusError(groupId: string): TributaryError | undefined {
    if (groupId.length === 0 || groupId.length > GROUP_ID_LENGTH_MAX)
      return new TributaryError('INVALID_GROUP_ID', `group id must be 1-${GROUP_ID_LENGTH_MAX} characters, got ${groupId.length}`);
    const partition = this.partitionFor(groupId);
    const state = this.partitionState(partition);
    if (state === undefined)
      return new TributaryError('NOT_COORDINATOR', `this broker does not coordinate group ${groupId}: it does not lead __consumer_offsets-${partition}`);
    if (state === 'loading')
      return new TributaryError('COORDINATOR_LOAD_IN_PROGRESS', `__consumer_offsets-${partition} (group ${groupId}) is still being loaded`);
    return undefined;
  }

  private fail(out: CoordinatorOutput, requestId: RequestId, error: TributaryError): CoordinatorOutput {
    out.replies.push({ to: requestId, error });
    return this.finish(out);
  }

  // ------------------------------------------------------------------ partitions

  /**
   * This broker became the leader of `partition` at `leaderEpoch`: whatever it held of it before
   * is dropped, and requests for its groups answer COORDINATOR_LOAD_IN_PROGRESS until
   * completeLoad. The host feeds the log to loadRecords meanwhile.
   */
  beginLoad(partition: number, leaderEpoch: number, nowMs: number): CoordinatorOutput {
    const out = this.status.has(partition) ? this.unloadInto(partition, nowMs, this.output()) : this.output();
    this.status.set(partition, { leaderEpoch, loader: new GroupLoader() });
    out.events.push({ level: 'info', msg: 'loading groups', fields: { partition, leaderEpoch } });
    return this.finish(out);
  }

  /** Records of the partition's log, in log order. Throws CORRUPT_MESSAGE for a record it cannot read. */
  loadRecords(partition: number, leaderEpoch: number, records: readonly { offset: number; key: Buffer | null; value: Buffer | null }[]): void {
    const status = this.status.get(partition);
    if (status?.loader === undefined || status.leaderEpoch !== leaderEpoch)
      throw new TributaryError('NOT_COORDINATOR', `__consumer_offsets-${partition} is not being loaded at leader epoch ${leaderEpoch}`);
    for (const r of records) status.loader.apply(r.key, r.value, r.offset);
  }

  /** The whole log was read: its groups and offsets are served from now on. */
  completeLoad(partition: number, leaderEpoch: number, nowMs: number): CoordinatorOutput {
    const out = this.output();
    const status = this.status.get(partition);
    if (status?.loader === undefined || status.leaderEpoch !== leaderEpoch) return out;
    const loader = status.loader;
    status.loader = undefined;
    let offsetCount = 0;
    for (const loaded of loader.groups()) {
      const group =
        loaded.metadata === undefined
          ? new GroupState(loaded.groupId, this.config, this.newId, nowMs)
          : GroupState.fromMetadata(loaded.groupId, loaded.metadata, this.config, this.newId, nowMs);
      // Offsets written before a group of no protocol type existed still count from the commit.
      if (loaded.metadata === undefined) group.currentStateTimestampMs = undefined;
      this.groups.set(loaded.groupId, group);
      for (const o of loaded.offsets.values()) {
        this.offsets.put(loaded.groupId, {
          topic: o.topic,
          partition: o.partition,
          offset: o.value.offset,
          leaderEpoch: o.value.leaderEpoch,
          metadata: o.value.metadata,
          commitTimestamp: o.value.commitTimestamp,
          expireTimestamp: o.value.expireTimestamp,
          recordOffset: o.recordOffset,
        });
        offsetCount++;
      }
      this.touch(out, loaded.groupId);
    }
    out.events.push({
      level: 'info',
      msg: 'loaded groups',
      fields: { partition, leaderEpoch, groups: loader.groups().length, offsets: offsetCount, ...loader.stats },
    });
    return this.finish(out);
  }

  /** This broker no longer leads `partition`: its groups leave, their parked requests answer NOT_COORDINATOR. */
  unload(partition: number, nowMs: number): CoordinatorOutput {
    return this.finish(this.unloadInto(partition, nowMs, this.output()));
  }

  private unloadInto(partition: number, nowMs: number, out: CoordinatorOutput): CoordinatorOutput {
    const status = this.status.get(partition);
    if (status === undefined) return out;
    this.status.delete(partition);
    const message = `this broker no longer coordinates the groups of __consumer_offsets-${partition}`;
    let count = 0;
    for (const [groupId, group] of [...this.groups]) {
      if (this.partitionFor(groupId) !== partition) continue;
      const g = newGroupOutput();
      group.unload('NOT_COORDINATOR', message, nowMs, g);
      out.replies.push(...g.replies);
      this.groups.delete(groupId);
      this.offsets.removeGroup(groupId);
      this.offsets.clearPending(groupId);
      this.touch(out, groupId);
      count++;
    }
    // Appends still in flight are answered now; how they end no longer matters here (a commit
    // that does get committed is in the log for the next coordinator).
    for (const [id, p] of [...this.pending]) {
      if (p.partition !== partition) continue;
      this.pending.delete(id);
      if (p.kind === 'commit') out.replies.push({ to: p.requestId, error: new TributaryError('NOT_COORDINATOR', message) });
      if (p.kind === 'delete')
        this.settleDelete(
          out,
          p.tracker,
          p.groups.map((x) => x.index),
          wire('NOT_COORDINATOR', message),
        );
    }
    out.events.push({ level: 'info', msg: 'unloaded groups', fields: { partition, groups: count } });
    return out;
  }

  // ------------------------------------------------------------------ appends

  /** How an append this coordinator asked for ended: its base offset, or the produce error. */
  appendCompleted(id: number, outcome: AppendOutcome, nowMs: number): CoordinatorOutput {
    const out = this.output();
    const p = this.pending.get(id);
    if (p === undefined) return out; // Cancelled by an unload: already answered.
    this.pending.delete(id);
    const failed = 'error' in outcome ? outcome : undefined;
    switch (p.kind) {
      case 'commit': {
        const groupId = p.group.groupId;
        this.offsets.endPending(
          groupId,
          p.entries.filter((e) => e.record !== undefined),
        );
        if (failed !== undefined) {
          const code = appendErrorCode(failed.error, true);
          out.replies.push({
            to: p.requestId,
            error: new TributaryError(code, `offsets of group ${groupId} were not committed: ${failed.error} ${failed.message}`),
          });
          break;
        }
        // A group deleted meanwhile (or deleted and created again) does not get these offsets:
        // its tombstones come after them in the log.
        const live = this.groups.get(groupId) === p.group && p.group.state !== 'Dead';
        const baseOffset = (outcome as { baseOffset: number }).baseOffset;
        for (const e of p.entries) {
          if (e.record === undefined || e.value === undefined || !live) continue;
          this.offsets.put(groupId, { topic: e.topic, partition: e.partition, ...e.value, recordOffset: baseOffset + e.record });
        }
        const response: OffsetCommitResponse = {
          partitions: p.entries.map((e) =>
            e.error === undefined ? { topic: e.topic, partition: e.partition } : { topic: e.topic, partition: e.partition, error: e.error },
          ),
        };
        out.replies.push({ to: p.requestId, value: response });
        break;
      }
      case 'store': {
        const group = this.groups.get(p.store.groupId);
        if (group === undefined) break;
        const g = newGroupOutput();
        const failure =
          failed === undefined
            ? undefined
            : new TributaryError(appendErrorCode(failed.error, false), `group ${p.store.groupId} could not be stored: ${failed.error} ${failed.message}`);
        group.onStoreCompleted(p.store, failure, nowMs, g);
        this.absorb(out, group, g);
        break;
      }
      case 'delete': {
        const error =
          failed === undefined ? undefined : wire(appendErrorCode(failed.error, false), `group could not be deleted: ${failed.error} ${failed.message}`);
        for (const { group } of p.groups) {
          if (this.groups.get(group.groupId) !== group) continue;
          if (error === undefined) {
            this.groups.delete(group.groupId);
            this.offsets.removeGroup(group.groupId);
          } else {
            group.revive(nowMs);
          }
          this.touch(out, group.groupId);
        }
        if (error === undefined) out.events.push({ level: 'info', msg: 'groups deleted', fields: { groupIds: p.groups.map((x) => x.group.groupId) } });
        this.settleDelete(
          out,
          p.tracker,
          p.groups.map((x) => x.index),
          error,
        );
        break;
      }
      case 'cleanup':
        if (failed !== undefined)
          out.events.push({
            level: 'warn',
            msg: 'could not write tombstones of expired offsets',
            fields: { partition: p.partition, err: `${failed.error} ${failed.message}` },
          });
        break;
    }
    return this.finish(out);
  }

  // ------------------------------------------------------------------ group membership

  join(requestId: RequestId, input: JoinRequestInput, nowMs: number): CoordinatorOutput {
    const out = this.output();
    const statusError = this.groupStatusError(input.groupId);
    if (statusError !== undefined) return this.fail(out, requestId, statusError);
    const { groupMinSessionTimeoutMs: min, groupMaxSessionTimeoutMs: max } = this.config;
    if (input.sessionTimeoutMs < min || input.sessionTimeoutMs > max) {
      return this.fail(
        out,
        requestId,
        new TributaryError(
          'INVALID_SESSION_TIMEOUT',
          `session timeout ${input.sessionTimeoutMs} ms is outside [${min}, ${max}] (group.min/max.session.timeout.ms)`,
        ),
      );
    }
    let group = this.groups.get(input.groupId);
    if (group === undefined) {
      // Only a member without an id creates a group; one naming a member id of a group that
      // does not exist (expired, deleted, lost) must start again (Kafka).
      if (input.memberId !== '')
        return this.fail(out, requestId, new TributaryError('UNKNOWN_MEMBER_ID', `group ${input.groupId} does not exist; join again with an empty member id`));
      group = new GroupState(input.groupId, this.config, this.newId, nowMs);
      this.groups.set(input.groupId, group);
    }
    const g = newGroupOutput();
    group.join(requestId, input, nowMs, g);
    this.absorb(out, group, g);
    return this.finish(out);
  }

  sync(
    requestId: RequestId,
    input: { groupId: string; generationId: number; memberId: string; groupInstanceId: string | undefined; assignments: Map<string, Buffer> },
    nowMs: number,
  ): CoordinatorOutput {
    const out = this.output();
    const statusError = this.groupStatusError(input.groupId);
    if (statusError !== undefined) return this.fail(out, requestId, statusError);
    const group = this.groups.get(input.groupId);
    if (group === undefined) return this.fail(out, requestId, new TributaryError('UNKNOWN_MEMBER_ID', `group ${input.groupId} does not exist`));
    const g = newGroupOutput();
    group.sync(requestId, input.memberId, input.groupInstanceId, input.generationId, input.assignments, nowMs, g);
    this.absorb(out, group, g);
    return this.finish(out);
  }

  heartbeat(
    requestId: RequestId,
    input: { groupId: string; generationId: number; memberId: string; groupInstanceId: string | undefined },
    nowMs: number,
  ): CoordinatorOutput {
    const out = this.output();
    const statusError = this.groupStatusError(input.groupId);
    if (statusError !== undefined) return this.fail(out, requestId, statusError);
    const group = this.groups.get(input.groupId);
    if (group === undefined) return this.fail(out, requestId, new TributaryError('UNKNOWN_MEMBER_ID', `group ${input.groupId} does not exist`));
    const error = group.heartbeat(input.memberId, input.groupInstanceId, input.generationId, nowMs);
    out.replies.push(error === undefined ? { to: requestId, value: {} } : { to: requestId, error });
    this.touch(out, group.groupId);
    return this.finish(out);
  }

  leave(
    requestId: RequestId,
    input: { groupId: string; members: { memberId: string; groupInstanceId: string | undefined }[] },
    nowMs: number,
  ): CoordinatorOutput {
    const out = this.output();
    const statusError = this.groupStatusError(input.groupId);
    if (statusError !== undefined) return this.fail(out, requestId, statusError);
    const group = this.groups.get(input.groupId);
    const identity = (m: { memberId: string; groupInstanceId: string | undefined }) =>
      m.groupInstanceId === undefined ? { memberId: m.memberId } : { memberId: m.memberId, groupInstanceId: m.groupInstanceId };
    if (group === undefined) {
      const members = input.members.map((m) => ({ ...identity(m), error: wire('UNKNOWN_MEMBER_ID', `group ${input.groupId} does not exist`) }));
      out.replies.push({ to: requestId, value: { members } });
      return this.finish(out);
    }
    if (group.state === 'Dead') return this.fail(out, requestId, new TributaryError('COORDINATOR_NOT_AVAILABLE', `group ${input.groupId} is being deleted`));
    const g = newGroupOutput();
    const members = input.members.map((m) => {
      const error = group.leave(m.memberId, m.groupInstanceId, nowMs, g);
      return error === undefined ? identity(m) : { ...identity(m), error: error.toWire() };
    });
    this.absorb(out, group, g);
    out.replies.push({ to: requestId, value: { members } });
    return this.finish(out);
  }

  /** Runs what is due in one group at `nowMs` (the host's timer for it fired). */
  onGroupTimer(groupId: string, nowMs: number): CoordinatorOutput {
    const out = this.output();
    const group = this.groups.get(groupId);
    if (group === undefined) return out;
    const g = newGroupOutput();
    group.onTimer(nowMs, g);
    this.absorb(out, group, g);
    return this.finish(out);
  }

  // ------------------------------------------------------------------ offsets

  /**
   * Kafka's handleCommitOffsets. Members commit with their generation; a consumer outside group
   * management (generation -1, member id '') may commit only while the group is Empty. Offsets
   * are answered once their records are committed on `__consumer_offsets` (acks=all).
   * `knownPartition` says whether a topic-partition exists (UNKNOWN_TOPIC_OR_PARTITION for it).
   */
  commitOffsets(
    requestId: RequestId,
    input: CommitInput,
    nowMs: number,
    knownPartition: (topic: string, partition: number) => boolean = () => true,
  ): CoordinatorOutput {
    const out = this.output();
    const statusError = this.groupStatusError(input.groupId);
    if (statusError !== undefined) return this.fail(out, requestId, statusError);
    let group = this.groups.get(input.groupId);
    if (group === undefined) {
      if (input.generationId >= 0)
        return this.fail(
          out,
          requestId,
          new TributaryError('ILLEGAL_GENERATION', `group ${input.groupId} does not exist, so generation ${input.generationId} is not its own`),
        );
      group = new GroupState(input.groupId, this.config, this.newId, nowMs);
      group.currentStateTimestampMs = undefined;
      this.groups.set(input.groupId, group);
      this.touch(out, input.groupId);
    }
    const invalid = this.validateOffsetCommit(group, input, nowMs);
    if (invalid !== undefined) return this.fail(out, requestId, invalid);
    this.storeOffsets(out, requestId, group, input.offsets, nowMs, knownPartition);
    return this.finish(out);
  }

  /** Kafka's ClassicGroup.validateOffsetCommit. */
  private validateOffsetCommit(group: GroupState, input: CommitInput, nowMs: number): TributaryError | undefined {
    if (group.state === 'Dead') return new TributaryError('COORDINATOR_NOT_AVAILABLE', `group ${group.groupId} is being deleted`);
    if (input.generationId < 0 && group.state === 'Empty') return undefined;
    if (input.generationId >= 0 || input.memberId !== '' || input.groupInstanceId !== undefined) {
      const invalid = group.validateMember(input.memberId, input.groupInstanceId, 'offset commit');
      if (invalid !== undefined) return invalid;
      if (input.generationId !== group.generationId)
        return new TributaryError(
          'ILLEGAL_GENERATION',
          `commit in generation ${input.generationId}; group ${group.groupId} is at generation ${group.generationId}`,
        );
    } else {
      return new TributaryError('UNKNOWN_MEMBER_ID', `group ${group.groupId} has members: only they can commit its offsets`);
    }
    if (group.state === 'CompletingRebalance')
      return new TributaryError('REBALANCE_IN_PROGRESS', `group ${group.groupId} is completing a rebalance: sync first, then commit`);
    // During PreparingRebalance commits of the current generation are still taken: a member
    // commits what it consumed before it rejoins (and KIP-429's cooperative members keep
    // consuming their partitions through the rebalance).
    const member = group.members.get(input.memberId);
    if (member !== undefined) member.heartbeatDeadlineMs = nowMs + member.sessionTimeoutMs;
    return undefined;
  }

  /**
   * `groups reset-offsets`: a commit outside group management that refuses a group with members
   * (NON_EMPTY_GROUP) instead of Kafka's UNKNOWN_MEMBER_ID, so a tool can say why.
   */
  resetOffsets(
    requestId: RequestId,
    input: { groupId: string; offsets: CommitInput['offsets'] },
    nowMs: number,
    knownPartition: (topic: string, partition: number) => boolean = () => true,
  ): CoordinatorOutput {
    const out = this.output();
    const statusError = this.groupStatusError(input.groupId);
    if (statusError !== undefined) return this.fail(out, requestId, statusError);
    const group = this.groups.get(input.groupId);
    if (group !== undefined && group.state === 'Dead')
      return this.fail(out, requestId, new TributaryError('COORDINATOR_NOT_AVAILABLE', `group ${input.groupId} is being deleted`));
    if (group !== undefined && group.state !== 'Empty')
      return this.fail(
        out,
        requestId,
        new TributaryError(
          'NON_EMPTY_GROUP',
          `group ${input.groupId} is ${group.state} with ${group.size} members: offsets can only be reset while it is Empty`,
        ),
      );
    return this.commitOffsets(
      requestId,
      { groupId: input.groupId, generationId: -1, memberId: '', groupInstanceId: undefined, offsets: input.offsets },
      nowMs,
      knownPartition,
    );
  }

  private storeOffsets(
    out: CoordinatorOutput,
    requestId: RequestId,
    group: GroupState,
    offsets: CommitInput['offsets'],
    nowMs: number,
    knownPartition: (topic: string, partition: number) => boolean,
  ): void {
    const entries: Extract<PendingAppend, { kind: 'commit' }>['entries'] = [];
    const records: OffsetsRecord[] = [];
    for (const o of offsets) {
      if (!knownPartition(o.topic, o.partition)) {
        entries.push({ topic: o.topic, partition: o.partition, error: wire('UNKNOWN_TOPIC_OR_PARTITION', `${o.topic}-${o.partition} does not exist`) });
        continue;
      }
      const bytes = Buffer.byteLength(o.metadata, 'utf8');
      if (bytes > this.config.offsetMetadataMaxBytes) {
        entries.push({
          topic: o.topic,
          partition: o.partition,
          error: wire(
            'OFFSET_METADATA_TOO_LARGE',
            `metadata of ${bytes} bytes for ${o.topic}-${o.partition} exceeds offset.metadata.max.bytes ${this.config.offsetMetadataMaxBytes}`,
          ),
        });
        continue;
      }
      const value: OffsetCommitValue = {
        offset: o.offset,
        leaderEpoch: o.leaderEpoch ?? -1,
        metadata: o.metadata,
        commitTimestamp: nowMs,
        expireTimestamp: -1,
      };
      entries.push({ topic: o.topic, partition: o.partition, record: records.length, value });
      records.push({ type: 'offset', groupId: group.groupId, topic: o.topic, partition: o.partition, value });
    }
    if (records.length === 0) {
      out.replies.push({
        to: requestId,
        value: { partitions: entries.map(({ topic, partition, error }) => (error ? { topic, partition, error } : { topic, partition })) },
      });
      return;
    }
    const partition = this.partitionFor(group.groupId);
    const status = this.status.get(partition)!;
    this.offsets.beginPending(
      group.groupId,
      entries.filter((e) => e.record !== undefined),
    );
    this.append(out, partition, status.leaderEpoch, records, { kind: 'commit', partition, leaderEpoch: status.leaderEpoch, requestId, group, entries });
    this.touch(out, group.groupId);
  }

  /** Kafka's handleFetchOffsets: committed offsets, -1 for a partition without one. */
  fetchOffsets(groupId: string, partitions: readonly { topic: string; partition: number }[] | undefined): OffsetFetchResponse {
    const statusError = this.groupStatusError(groupId);
    if (statusError !== undefined) throw statusError;
    const toWire = (e: { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string }) => ({
      topic: e.topic,
      partition: e.partition,
      offset: e.offset,
      ...(e.leaderEpoch >= 0 ? { leaderEpoch: e.leaderEpoch } : {}),
      metadata: e.metadata,
    });
    if (partitions === undefined) return { offsets: this.offsets.list(groupId).map(toWire) };
    return {
      offsets: partitions.map(({ topic, partition }) => {
        const e = this.offsets.get(groupId, topic, partition);
        return e === undefined ? { topic, partition, offset: -1, metadata: '' } : toWire(e);
      }),
    };
  }

  // ------------------------------------------------------------------ admin

  /** Kafka's ListGroups: the groups this broker coordinates (COORDINATOR_LOAD_IN_PROGRESS while any partition loads). */
  listGroups(states: readonly GroupStateName[] | undefined): ListGroupsResponse {
    const loading = this.ownedPartitions().filter((p) => p.state === 'loading');
    if (loading.length > 0)
      throw new TributaryError(
        'COORDINATOR_LOAD_IN_PROGRESS',
        `__consumer_offsets partitions ${loading.map((p) => p.partition).join(', ')} are still being loaded`,
      );
    const wanted = states === undefined || states.length === 0 ? undefined : new Set(states);
    const groups = [...this.groups.values()]
      .filter((g) => g.state !== 'Dead' && (wanted === undefined || wanted.has(g.state)))
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state }))
      .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
    return { groups };
  }

  /** Kafka's DescribeGroups: per group, its state, protocol and members; Dead for an unknown group. */
  describeGroups(groupIds: readonly string[]): DescribedGroup[] {
    return groupIds.map((groupId) => {
      const dead: DescribedGroup = { groupId, state: 'Dead', protocolType: '', protocol: '', members: [] };
      const statusError = this.groupStatusError(groupId);
      if (statusError !== undefined) return { ...dead, error: statusError.toWire() };
      const group = this.groups.get(groupId);
      return group === undefined ? dead : { groupId, ...group.describe() };
    });
  }

  /**
   * Kafka's DeleteGroups: an Empty group and its offsets are deleted by tombstones (acks=all);
   * each group is answered on its own (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, NOT_COORDINATOR, …).
   * While its tombstones are written the group is Dead: joins and commits answer
   * COORDINATOR_NOT_AVAILABLE and are retried once it is gone; a write that fails brings it back.
   */
  deleteGroups(requestId: RequestId, groupIds: readonly string[], nowMs: number): CoordinatorOutput {
    const out = this.output();
    const tracker: DeleteTracker = { requestId, results: groupIds.map((groupId) => ({ groupId })), remaining: 0 };
    const byPartition = new Map<number, { index: number; group: GroupState }[]>();
    groupIds.forEach((groupId, index) => {
      const statusError = this.groupStatusError(groupId);
      const group = this.groups.get(groupId);
      let error: WireError | undefined;
      if (statusError !== undefined) error = statusError.toWire();
      else if (group === undefined || group.state === 'Dead') error = wire('GROUP_ID_NOT_FOUND', `group ${groupId} does not exist`);
      else if (group.state !== 'Empty') error = wire('NON_EMPTY_GROUP', `group ${groupId} is ${group.state} with ${group.size} members`);
      if (error !== undefined || group === undefined) {
        tracker.results[index]!.error = error;
        return;
      }
      group.markDead(nowMs);
      const partition = this.partitionFor(groupId);
      let list = byPartition.get(partition);
      if (list === undefined) {
        list = [];
        byPartition.set(partition, list);
      }
      list.push({ index, group });
      this.touch(out, groupId);
    });
    for (const [partition, groups] of byPartition) {
      const records: OffsetsRecord[] = [];
      for (const { group } of groups) {
        const seen = new Set<string>();
        for (const tp of [...this.offsets.list(group.groupId), ...this.offsets.pendingPartitions(group.groupId)]) {
          const key = tpKey(tp.topic, tp.partition);
          if (seen.has(key)) continue;
          seen.add(key);
          records.push({ type: 'offset', groupId: group.groupId, topic: tp.topic, partition: tp.partition, value: null });
        }
        records.push({ type: 'group', groupId: group.groupId, value: null });
      }
      tracker.remaining++;
      const leaderEpoch = this.status.get(partition)!.leaderEpoch;
      this.append(out, partition, leaderEpoch, records, { kind: 'delete', partition, leaderEpoch, tracker, groups });
    }
    if (tracker.remaining === 0) out.replies.push({ to: requestId, value: { groups: tracker.results } });
    return this.finish(out);
  }

  private settleDelete(out: CoordinatorOutput, tracker: DeleteTracker, indexes: number[], error: WireError | undefined): void {
    for (const i of indexes) if (error !== undefined) tracker.results[i]!.error = error;
    tracker.remaining--;
    if (tracker.remaining === 0) out.replies.push({ to: tracker.requestId, value: { groups: tracker.results } });
  }

  // ------------------------------------------------------------------ retention

  /**
   * Kafka's cleanupGroupMetadata, run every offsets.retention.check.interval.ms: expired offsets
   * are removed with tombstones, and an Empty group left without offsets (nor members it is
   * waiting for) goes too, with a tombstone for its metadata.
   */
  expireOffsets(nowMs: number): CoordinatorOutput {
    const out = this.output();
    const byPartition = new Map<number, OffsetsRecord[]>();
    const add = (partition: number, record: OffsetsRecord) => {
      let list = byPartition.get(partition);
      if (list === undefined) {
        list = [];
        byPartition.set(partition, list);
      }
      list.push(record);
    };
    let expiredOffsets = 0;
    const removedGroups: string[] = [];
    for (const [groupId, group] of [...this.groups]) {
      const partition = this.partitionFor(groupId);
      if (this.partitionState(partition) !== 'active' || group.state === 'Dead') continue;
      const base: ExpiryBase =
        group.protocolType === undefined
          ? { kind: 'commit' }
          : group.state === 'Empty'
            ? { kind: 'since', timestampMs: group.currentStateTimestampMs }
            : { kind: 'never' };
      for (const e of this.offsets.expired(groupId, nowMs, this.config.offsetsRetentionMs, base)) {
        this.offsets.remove(groupId, e.topic, e.partition);
        add(partition, { type: 'offset', groupId, topic: e.topic, partition: e.partition, value: null });
        expiredOffsets++;
      }
      if (group.state === 'Empty' && group.pendingMembers.size === 0 && !this.offsets.hasOffsets(groupId) && !this.offsets.hasPending(groupId)) {
        group.markDead(nowMs);
        this.groups.delete(groupId);
        add(partition, { type: 'group', groupId, value: null });
        removedGroups.push(groupId);
        this.touch(out, groupId);
      }
    }
    for (const [partition, records] of byPartition) {
      const leaderEpoch = this.status.get(partition)!.leaderEpoch;
      this.append(out, partition, leaderEpoch, records, { kind: 'cleanup', partition, leaderEpoch });
    }
    if (expiredOffsets > 0 || removedGroups.length > 0)
      out.events.push({
        level: 'info',
        msg: 'expired offsets and empty groups',
        fields: { offsets: expiredOffsets, groups: removedGroups.slice(0, 20), groupCount: removedGroups.length },
      });
    return this.finish(out);
  }
}
