// The low-level consumer-group calls (Kafka's classic group protocol, issue 18), each sent to the
// group's coordinator: FindCoordinator first (any broker answers: the leader of the group's
// `__consumer_offsets` partition), then JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
// OffsetFetch, DescribeGroups, DeleteGroups and the offsets reset, one call each. The coordinator
// is found again when it moved or is unreachable (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, a
// lost connection), and COORDINATOR_LOAD_IN_PROGRESS is retried against the same one, with
// backoff, until the call's time budget is spent, as Kafka's AbstractCoordinator does. Everything
// else — MEMBER_ID_REQUIRED (with `memberId`), UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
// REBALANCE_IN_PROGRESS, … — is the caller's to act on: the group membership (subscribe, the
// rebalance loop, assignors) is built on these calls, not here.

import {
  TributaryError,
  shouldFindCoordinator,
  type CommittedOffset,
  type DeleteGroupsResponse,
  type DescribedGroup,
  type DescribeGroupsResponse,
  type Endpoint,
  type FindCoordinatorResponse,
  type GroupHeartbeatRequest,
  type GroupStateName,
  type JoinGroupRequest,
  type JoinGroupResponse,
  type LeaveGroupRequest,
  type LeaveGroupResponse,
  type ListGroupsResponse,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
  type OffsetFetchResponse,
  type ResetGroupOffsetsRequest,
  type ResetGroupOffsetsResponse,
  type SyncGroupRequest,
  type SyncGroupResponse,
  type WireError,
} from '@tributary/protocol';
import { ClusterClient, type ClientOptions } from './internal/cluster-client.ts';
import { retryBackoffMs } from './retry.ts';

export interface GroupClientOptions extends ClientOptions {
  /**
   * How long one call may spend finding the coordinator again and retrying (Kafka's
   * default.api.timeout.ms). Default 60000. Each call can pass its own `timeoutMs`.
   */
  defaultApiTimeoutMs?: number;
}

export interface GroupCallOptions {
  /** This call's budget for retries, and at least the deadline of each attempt. */
  timeoutMs?: number;
}

/** A group as one broker listed it, with that broker (its coordinator). */
export interface GroupListing {
  groupId: string;
  protocolType: string;
  state: GroupStateName;
  coordinator: number;
}

/** Kafka's JoinGroup waits out the rebalance: its deadline is the rebalance timeout plus this. */
const JOIN_DEADLINE_MARGIN_MS = 5000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class GroupClient {
  /** @internal shared with Admin */
  readonly cluster: ClusterClient;
  private readonly ownsCluster: boolean;
  private readonly defaultApiTimeoutMs: number;
  private readonly coordinators = new Map<string, FindCoordinatorResponse>();

  constructor(options: GroupClientOptions);
  /** @internal Admin's: calls through its cluster client. */
  constructor(options: GroupClientOptions, cluster: ClusterClient);
  constructor(options: GroupClientOptions, cluster?: ClusterClient) {
    this.cluster = cluster ?? new ClusterClient(options);
    this.ownsCluster = cluster === undefined;
    this.defaultApiTimeoutMs = options.defaultApiTimeoutMs ?? 60_000;
  }

  /**
   * FindCoordinator: the broker coordinating `groupId`, from the cache unless `refresh`. Any
   * broker answers; COORDINATOR_NOT_AVAILABLE (`__consumer_offsets` being created, or its
   * partition without a leader) is retried with backoff within the call's budget.
   */
  async findCoordinator(groupId: string, options: GroupCallOptions & { refresh?: boolean } = {}): Promise<FindCoordinatorResponse> {
    const cached = this.coordinators.get(groupId);
    if (cached !== undefined && options.refresh !== true) return cached;
    const deadline = this.cluster.now() + (options.timeoutMs ?? this.defaultApiTimeoutMs);
    for (let attempt = 1; ; attempt++) {
      try {
        const found = await this.cluster.callAny<FindCoordinatorResponse>('/find-coordinator', { key: groupId }, { readOnly: true });
        this.coordinators.set(groupId, found);
        return found;
      } catch (err) {
        if (!(err instanceof TributaryError) || !err.retriable || this.cluster.now() + retryBackoffMs(attempt) >= deadline) throw err;
        this.cluster.log.debug({ groupId, code: err.code, attempt }, 'finding the group coordinator again');
        if (err.code === 'BROKER_NOT_AVAILABLE') await this.cluster.refresh().catch(() => undefined);
        await sleep(retryBackoffMs(attempt));
      }
    }
  }

  /** Forgets the coordinator of `groupId` (the next call finds it again). */
  forgetCoordinator(groupId: string): void {
    this.coordinators.delete(groupId);
  }

  /**
   * One call to the group's coordinator, found again (and retried) on NOT_COORDINATOR,
   * COORDINATOR_NOT_AVAILABLE, an unreachable or silent coordinator, and retried on
   * COORDINATOR_LOAD_IN_PROGRESS; any other error is thrown at once. Every group call may be
   * repeated safely (a commit writes the same offsets again, a join parks the same member).
   */
  private async call<Res>(groupId: string, path: string, body: unknown, options: GroupCallOptions & { attemptTimeoutMs?: number } = {}): Promise<Res> {
    const budget = options.timeoutMs ?? this.defaultApiTimeoutMs;
    const deadline = this.cluster.now() + budget;
    const attemptTimeoutMs = Math.max(options.attemptTimeoutMs ?? this.cluster.requestTimeoutMs, 1);
    for (let attempt = 1; ; attempt++) {
      let coordinator: FindCoordinatorResponse | undefined;
      try {
        coordinator = await this.findCoordinator(groupId, { timeoutMs: Math.max(deadline - this.cluster.now(), 1) });
        const endpoint: Endpoint = { host: coordinator.host, port: coordinator.port };
        // An attempt never outlives the call's budget (a silent coordinator is given up on in time).
        const timeoutMs = Math.max(1, Math.min(attemptTimeoutMs, deadline - this.cluster.now()));
        return await this.cluster.rpc(endpoint).call<Res>(path, body, { timeoutMs });
      } catch (err) {
        if (!(err instanceof TributaryError)) throw err;
        const moved = shouldFindCoordinator(err.code) || err.code === 'BROKER_NOT_AVAILABLE' || err.code === 'REQUEST_TIMED_OUT';
        const retry = moved || err.code === 'COORDINATOR_LOAD_IN_PROGRESS';
        // Forgotten even when this call gives up: the next one finds the coordinator again.
        if (moved && coordinator !== undefined && this.coordinators.get(groupId) === coordinator) this.coordinators.delete(groupId);
        if (!retry || this.cluster.now() + retryBackoffMs(attempt) >= deadline) throw err;
        this.cluster.log.debug({ groupId, path, code: err.code, attempt, coordinator: coordinator?.brokerId }, 'group call retried');
        await sleep(retryBackoffMs(attempt));
      }
    }
  }

  /**
   * JoinGroup. Waits until the rebalance completes (at most the rebalance timeout, so the HTTP
   * deadline is rebalanceTimeoutMs + 5 s, as Kafka's consumer sets it). A first join with
   * memberId '' rejects with MEMBER_ID_REQUIRED whose `memberId` is the id to join again with.
   */
  joinGroup(request: JoinGroupRequest, options: GroupCallOptions = {}): Promise<JoinGroupResponse> {
    const attemptTimeoutMs = Math.max(this.cluster.requestTimeoutMs, request.rebalanceTimeoutMs + JOIN_DEADLINE_MARGIN_MS);
    return this.call(request.groupId, '/group/join', request, {
      attemptTimeoutMs,
      timeoutMs: Math.max(options.timeoutMs ?? this.defaultApiTimeoutMs, attemptTimeoutMs),
    });
  }

  /** SyncGroup: the leader sends the assignment; every member gets its own once it is committed. */
  syncGroup(request: SyncGroupRequest, options: GroupCallOptions = {}): Promise<SyncGroupResponse> {
    return this.call(request.groupId, '/group/sync', request, { ...options, attemptTimeoutMs: options.timeoutMs ?? this.cluster.requestTimeoutMs });
  }

  /** Heartbeat: resolves, or rejects with REBALANCE_IN_PROGRESS (rejoin), ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, … */
  async heartbeat(request: GroupHeartbeatRequest, options: GroupCallOptions = {}): Promise<void> {
    await this.call(request.groupId, '/group/heartbeat', request, options);
  }

  /** LeaveGroup: each member answered on its own (`error` set where it failed). */
  leaveGroup(request: LeaveGroupRequest, options: GroupCallOptions = {}): Promise<LeaveGroupResponse> {
    return this.call(request.groupId, '/group/leave', request, options);
  }

  /** OffsetCommit: answered once committed on `__consumer_offsets` (acks=all); per-partition errors in the answer. */
  commitOffsets(request: OffsetCommitRequest, options: GroupCallOptions = {}): Promise<OffsetCommitResponse> {
    return this.call(request.groupId, '/offsets/commit', request, options);
  }

  /** OffsetFetch: the committed offsets (-1 where none); every committed one when `partitions` is left out. */
  async fetchOffsets(groupId: string, partitions?: { topic: string; partition: number }[], options: GroupCallOptions = {}): Promise<CommittedOffset[]> {
    const body = partitions === undefined ? { groupId } : { groupId, partitions };
    return (await this.call<OffsetFetchResponse>(groupId, '/offsets/fetch', body, options)).offsets;
  }

  /** The offsets reset of `groups reset-offsets`: refused with NON_EMPTY_GROUP while the group has members. */
  resetOffsets(request: ResetGroupOffsetsRequest, options: GroupCallOptions = {}): Promise<ResetGroupOffsetsResponse> {
    return this.call(request.groupId, '/groups/reset-offsets', request, options);
  }

  /**
   * DescribeGroups, each group asked of its own coordinator. A group whose coordinator could not
   * be reached within the budget comes back Dead with `error` set.
   */
  describeGroups(groupIds: readonly string[], options: GroupCallOptions = {}): Promise<DescribedGroup[]> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        try {
          const answer = await this.callGroupEntry<DescribeGroupsResponse, DescribedGroup>(groupId, '/groups/describe', (a) => a.groups[0], options);
          return answer;
        } catch (err) {
          return { groupId, state: 'Dead' as const, protocolType: '', protocol: '', members: [], error: toWire(err) };
        }
      }),
    );
  }

  /** DeleteGroups, each group at its own coordinator: `error` set where it was refused (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, …). */
  deleteGroups(groupIds: readonly string[], options: GroupCallOptions = {}): Promise<{ groupId: string; error?: WireError }[]> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        try {
          return await this.callGroupEntry<DeleteGroupsResponse, { groupId: string; error?: WireError }>(
            groupId,
            '/groups/delete',
            (a) => a.groups[0],
            options,
          );
        } catch (err) {
          return { groupId, error: toWire(err) };
        }
      }),
    );
  }

  /** A describe/delete for one group: its entry's error, when the coordinator moved, retried like a whole-call error. */
  private async callGroupEntry<Res, Entry extends { error?: WireError }>(
    groupId: string,
    path: string,
    entryOf: (answer: Res) => Entry | undefined,
    options: GroupCallOptions,
  ): Promise<Entry> {
    const deadline = this.cluster.now() + (options.timeoutMs ?? this.defaultApiTimeoutMs);
    for (let attempt = 1; ; attempt++) {
      const answer = await this.call<Res>(groupId, path, { groupIds: [groupId] }, { timeoutMs: Math.max(deadline - this.cluster.now(), 1) });
      const entry = entryOf(answer);
      if (entry === undefined) throw new TributaryError('UNKNOWN_SERVER_ERROR', `${path} answered without group ${groupId}`);
      const code = entry.error?.code;
      const retry = code !== undefined && (shouldFindCoordinator(code) || code === 'COORDINATOR_LOAD_IN_PROGRESS');
      if (!retry || this.cluster.now() + retryBackoffMs(attempt) >= deadline) return entry;
      if (shouldFindCoordinator(code)) this.forgetCoordinator(groupId);
      await sleep(retryBackoffMs(attempt));
    }
  }

  /**
   * ListGroups asked of every live broker (each lists the groups it coordinates). A broker that
   * cannot answer within the budget is reported in `errors`, not hidden: its groups are missing.
   */
  async listGroups(
    options: GroupCallOptions & { states?: GroupStateName[] } = {},
  ): Promise<{ groups: GroupListing[]; errors: { brokerId: number; error: WireError }[] }> {
    const metadata = await this.cluster.fetchMetadata([]);
    const deadline = this.cluster.now() + (options.timeoutMs ?? this.defaultApiTimeoutMs);
    const body = options.states === undefined ? {} : { states: options.states };
    const groups: GroupListing[] = [];
    const errors: { brokerId: number; error: WireError }[] = [];
    await Promise.all(
      metadata.brokers
        .filter((b) => b.alive !== false)
        .map(async (b) => {
          for (let attempt = 1; ; attempt++) {
            try {
              const answer = await this.cluster.rpc({ host: b.host, port: b.port }).call<ListGroupsResponse>('/groups/list', body, {
                timeoutMs: Math.min(this.cluster.requestTimeoutMs, Math.max(deadline - this.cluster.now(), 1)),
              });
              for (const g of answer.groups) groups.push({ ...g, coordinator: b.id });
              return;
            } catch (err) {
              const retriable = err instanceof TributaryError && err.code === 'COORDINATOR_LOAD_IN_PROGRESS';
              if (!retriable || this.cluster.now() + retryBackoffMs(attempt) >= deadline) {
                errors.push({ brokerId: b.id, error: toWire(err) });
                return;
              }
              await sleep(retryBackoffMs(attempt));
            }
          }
        }),
    );
    groups.sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
    errors.sort((a, b) => a.brokerId - b.brokerId);
    return { groups, errors };
  }

  async close(): Promise<void> {
    if (this.ownsCluster) await this.cluster.close();
  }
}

function toWire(err: unknown): WireError {
  if (err instanceof TributaryError) return err.toWire();
  return { code: 'UNKNOWN_SERVER_ERROR', message: (err as Error)?.message ?? String(err) };
}
