// Admin: topics, brokers, configs, reassignments and cluster views. Writes go to any broker
// (`POST /admin/<op>`), which forwards them to the controller; so do the reads only the
// controller can answer (configs with their defaults, reassignments in progress). Other reads
// come from broker metadata and, for the verbose view, from each partition leader's
// `POST /describe-replicas`.

import {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  TributaryError,
  isInternalTopic,
  type AlterConfigsResponse,
  type AlterPartitionReassignmentsResponse,
  type BrokerId,
  type ConfigEntry,
  type ConfigResource,
  type ConfigValue,
  type CreatePartitionsResponse,
  type CreateTopicRequest,
  type CreateTopicResponse,
  type DescribedGroup,
  type DescribeReplicasResponse,
  type ErrorCode,
  type GroupStateName,
  type ListOffsetsResponse,
  type WireError,
  type ElectLeadersResponse,
  type Endpoint,
  type InitProducerIdResponse,
  type ReplicaDigest,
  type ReplicaDigestsRequest,
  type ReplicaDigestsResponse,
  type ListPartitionReassignmentsResponse,
  type OngoingReassignment,
  type TopicConfigInput,
  type TopicConfigs,
  groupOffsetRows,
  memberAssignment,
  type GroupOffsetRow,
  type TopicPartition,
} from '@tributary/protocol';
import { randomBytes } from 'node:crypto';
import { SCRAM_ITERATIONS_DEFAULT, SCRAM_MECHANISMS, saltedPassword, scramHash, type ScramMechanism } from '@tributary/auth';
import type {
  AclBinding,
  AclBindingFilter,
  AlterUserScramCredentialsResponse,
  CreateAclsResponse,
  DeleteAclsResponse,
  DescribeAclsResponse,
  DescribeUserScramCredentialsResponse,
} from '@tributary/protocol';
import { GroupClient, type GroupListing } from './group-client.ts';
import { ClusterClient, type ClientOptions, type PartitionInfo } from './internal/cluster-client.ts';

export type AdminOptions = ClientOptions;

export interface TopicDescription {
  name: string;
  configs: TopicConfigs;
  partitions: PartitionInfo[];
}

export interface ReplicaDescription {
  brokerId: BrokerId;
  logEndOffset: number;
  lagRecords: number;
  lastCaughtUpMsAgo: number;
}

export interface VerbosePartitionDescription extends PartitionInfo {
  /** Undefined when the leader could not be asked (offline partition, unreachable leader). */
  highWatermark?: number;
  logStartOffset?: number;
  logEndOffset?: number;
  /** Bytes of the leader's log (the size a reassignment copies). */
  logSizeBytes?: number;
  replicaStates?: ReplicaDescription[];
  /** Why the leader's view is missing, when it is. */
  error?: string;
}

export interface VerboseTopicDescription {
  name: string;
  configs: TopicConfigs;
  partitions: VerbosePartitionDescription[];
}

export interface ClusterDescription {
  clusterId: string;
  controller: Endpoint | undefined;
  brokers: { id: BrokerId; rack: string; host: string; port: number; alive: boolean }[];
}

export interface CreateTopicOptions {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs?: TopicConfigInput;
  /** How long to wait for every partition to have a leader. Default 30000. */
  timeoutMs?: number;
}

/** One partition of an alterPartitionReassignments call: its target replicas, or null to cancel. */
export interface PartitionReassignment {
  topic: string;
  partition: number;
  replicas: BrokerId[] | null;
}

/** The answer for one partition of an alterPartitionReassignments call; no `error` = accepted. */
export type PartitionReassignmentResult = AlterPartitionReassignmentsResponse['partitions'][number];

/** One partition of a group's offsets with its lag (`groups describe`, Kafka's kafka-consumer-groups --describe). */
export interface GroupPartitionOffset {
  topic: string;
  partition: number;
  /** The group's committed offset (the next record it will consume). */
  committedOffset: number;
  leaderEpoch?: number;
  metadata: string;
  /**
   * The partition's log end as consumers see it: its high watermark (Kafka's tool shows the
   * same, the latest offset a consumer can read up to). Undefined when its leader could not say.
   */
  logEndOffset?: number;
  /** logEndOffset − committedOffset (never negative); undefined with logEndOffset. */
  lag?: number;
  /** Why logEndOffset is missing, when it is. */
  error?: WireError;
}

/**
 * Where `resetGroupOffsets` moves a group's offsets, as kafka-consumer-groups --reset-offsets:
 * --to-earliest, --to-latest, --to-offset (clamped to the partition's range), --shift-by (from the
 * committed offset, clamped), --to-datetime / --by-duration (the first offset at or after the
 * time; the end when there is none), --to-current (the committed offset, unchanged).
 */
export type OffsetResetSpec =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: number }
  | { kind: 'shift-by'; shift: number }
  | { kind: 'timestamp'; timestampMs: number }
  | { kind: 'current' };

/** One partition of a reset: where the group was and where it goes (`error` where the commit refused it). */
export interface OffsetResetPlanEntry {
  topic: string;
  partition: number;
  /** -1 when the group had no committed offset. */
  previousOffset: number;
  newOffset: number;
  error?: WireError;
}

/** One member of a described group, its assignment decoded (null: not a consumer group, or bytes it could not read). */
export interface GroupMemberView {
  memberId: string;
  groupInstanceId?: string;
  clientId: string;
  /** Kafka's form, `/127.0.0.1`. */
  clientHost: string;
  assignment: TopicPartition[] | null;
}

/**
 * `groups describe`: a group's state and members with their partitions, and per partition
 * (assigned or committed) the committed offset, the log end (high watermark) and the lag.
 */
export interface GroupView {
  groupId: string;
  /** 'Dead' for a group that does not exist. */
  state: GroupStateName;
  protocolType: string;
  /** The assignor chosen; '' unless the group is Stable. */
  protocol: string;
  members: GroupMemberView[];
  offsets: GroupOffsetRow[];
}

const POLL_INTERVAL_MS = 100;

/**
 * How long the verbose view waits for a leader's `/describe-replicas`. Served from memory like
 * metadata, so a leader slower than this is paused or hung: its partitions are shown as unknown
 * rather than holding up the whole answer for the request timeout.
 */
export const DESCRIBE_REPLICAS_TIMEOUT_MS = 1500;

export class Admin {
  private readonly cluster: ClusterClient;
  /** The group calls, over this Admin's connections. */
  readonly groups: GroupClient;

  constructor(options: AdminOptions) {
    this.cluster = new ClusterClient(options);
    this.groups = new GroupClient(options, this.cluster);
  }

  /**
   * Creates a topic and waits until every partition has a leader that itself knows it leads, and
   * every reachable broker knows the topic, so a produce or describe right after this finds it.
   */
  async createTopic(options: CreateTopicOptions): Promise<TopicDescription> {
    const request: CreateTopicRequest = { name: options.name, partitions: options.partitions, replicationFactor: options.replicationFactor };
    if (options.configs && Object.keys(options.configs).length > 0) request.configs = options.configs;
    await this.cluster.callAny<CreateTopicResponse>('/admin/create-topic', request);
    return this.waitUntilReady(options.name, 1, options.timeoutMs ?? 30_000, 'was created');
  }

  /** Polls until readyTopic holds; REQUEST_TIMED_OUT naming what was missing after timeoutMs. */
  private async waitUntilReady(name: string, partitions: number, timeoutMs: number, what: string): Promise<TopicDescription> {
    const deadline = this.cluster.now() + timeoutMs;
    let last = 'the topic is not in the metadata yet';
    for (;;) {
      try {
        const description = await this.readyTopic(name, partitions);
        if (description) return description;
        last = `not every broker shows ${partitions > 1 ? `${partitions} partitions, each` : 'every partition'} with a leader yet`;
      } catch (err) {
        last = (err as Error).message;
      }
      if (this.cluster.now() >= deadline) {
        throw new TributaryError('REQUEST_TIMED_OUT', `topic '${name}' ${what} but ${last} after ${timeoutMs} ms`);
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }

  /**
   * The topic once every live broker reports it with at least `partitions` partitions, every one
   * led, in its own metadata; else undefined. Every broker, not only the leaders: a describe or
   * metadata request right after creation may go to any of them (each follows the controller's
   * metadata on its own).
   */
  private async readyTopic(name: string, partitions = 1): Promise<TopicDescription | undefined> {
    const answer = await this.cluster.fetchMetadata([name]);
    const topic = answer.topics.find((t) => t.name === name);
    if (!topic || topic.partitions.length < partitions || topic.partitions.some((p) => p.leader < 0)) return undefined;
    const leaders = new Set(topic.partitions.map((p) => p.leader));
    const brokers = new Set([...leaders, ...answer.brokers.filter((b) => b.alive !== false).map((b) => b.id)]);
    for (const broker of brokers) {
      if (broker === answer.brokerId) continue;
      let view: typeof answer;
      try {
        view = await this.cluster.callBroker<typeof answer>(broker, '/metadata', { topics: [name] });
      } catch (err) {
        // A leader must answer; a broker that is down (not yet fenced) cannot be asked anyway.
        if (leaders.has(broker)) throw err;
        continue;
      }
      const seen = view.topics.find((t) => t.name === name);
      if (!seen || seen.partitions.length < partitions || seen.partitions.some((p) => p.leader < 0)) return undefined;
    }
    return toDescription(topic);
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    const answer = await this.cluster.fetchMetadata([name]);
    const topic = answer.topics.find((t) => t.name === name);
    if (!topic) this.cluster.checkTopicAuthorized(name);
    if (!topic) throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${name}' does not exist`);
    return toDescription(topic);
  }

  /**
   * describeTopic plus each leader's view: HW, log start, LEO and every replica's lag. The
   * leaders are asked in parallel, each with `leaderTimeoutMs`; a partition whose leader does not
   * answer in time keeps only the metadata view, with `error` saying why.
   */
  async describeTopicVerbose(name: string, options: { leaderTimeoutMs?: number } = {}): Promise<VerboseTopicDescription> {
    const leaderTimeoutMs = options.leaderTimeoutMs ?? DESCRIBE_REPLICAS_TIMEOUT_MS;
    const base = await this.describeTopic(name);
    const partitions: VerbosePartitionDescription[] = base.partitions.map((p) => ({ ...p }));
    const leaders = new Set(partitions.filter((p) => p.leader >= 0).map((p) => p.leader));
    await Promise.all(
      [...leaders].map(async (leader) => {
        const led = partitions.filter((p) => p.leader === leader);
        try {
          const answer = await this.cluster.callBroker<DescribeReplicasResponse>(leader, '/describe-replicas', { topic: name }, { timeoutMs: leaderTimeoutMs });
          // By partition: a leader of 1,667 partitions answered for each of them, a linear search each.
          const states = new Map(answer.partitions.map((s) => [s.partition, s]));
          for (const p of led) {
            const state = states.get(p.partition);
            if (!state) {
              p.error = `broker ${leader} does not report partition ${p.partition}`;
              continue;
            }
            p.highWatermark = state.highWatermark;
            p.logStartOffset = state.logStartOffset;
            p.logEndOffset = state.logEndOffset;
            p.logSizeBytes = state.logSizeBytes;
            p.replicaStates = state.replicas;
          }
        } catch (err) {
          const why =
            err instanceof TributaryError && err.code === 'REQUEST_TIMED_OUT'
              ? `leader ${leader} did not answer within ${leaderTimeoutMs} ms`
              : `leader ${leader}: ${(err as Error).message}`;
          for (const p of led) p.error = why;
        }
      }),
    );
    for (const p of partitions) if (p.leader < 0) p.error = 'offline: no leader';
    return { name: base.name, configs: base.configs, partitions };
  }

  async describeCluster(): Promise<ClusterDescription> {
    const answer = await this.cluster.fetchMetadata([]);
    return {
      clusterId: answer.clusterId,
      controller: answer.controller,
      brokers: [...answer.brokers].sort((a, b) => a.id - b.id).map((b) => ({ id: b.id, rack: b.rack, host: b.host, port: b.port, alive: b.alive })),
    };
  }

  /** Topic names, sorted; internal topics (`__consumer_offsets`) only with `includeInternal`, as Kafka's listTopics. */
  async listTopics(options: { includeInternal?: boolean } = {}): Promise<string[]> {
    const answer = await this.cluster.fetchMetadata();
    return answer.topics
      .map((t) => t.name)
      .filter((name) => options.includeInternal === true || !isInternalTopic(name))
      .sort();
  }

  /** Every topic with its partitions (for `topics list --json` and the by-broker view); internal ones only with `includeInternal`. */
  async describeTopics(options: { includeInternal?: boolean } = {}): Promise<TopicDescription[]> {
    const answer = await this.cluster.fetchMetadata();
    return answer.topics
      .filter((t) => options.includeInternal === true || !isInternalTopic(t.name))
      .map(toDescription)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  // ------------------------------------------------------------------ consumer groups

  /**
   * Every group of the cluster: each live broker lists the groups it coordinates. A broker that
   * could not answer is in `errors` (its groups are missing from `groups`).
   */
  listGroups(
    options: { states?: GroupStateName[]; timeoutMs?: number } = {},
  ): Promise<{ groups: GroupListing[]; errors: { brokerId: number; error: WireError }[] }> {
    return this.groups.listGroups(options);
  }

  /** Each group's state, protocol and members (Dead: no such group; `error`: its coordinator could not say). */
  describeGroups(groupIds: readonly string[], options: { timeoutMs?: number } = {}): Promise<DescribedGroup[]> {
    return this.groups.describeGroups(groupIds, options);
  }

  /** Deletes Empty groups and their offsets; `error` per group (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, …). */
  deleteGroups(groupIds: readonly string[], options: { timeoutMs?: number } = {}): Promise<{ groupId: string; error?: WireError }[]> {
    return this.groups.deleteGroups(groupIds, options);
  }

  /**
   * A group's committed offsets with each partition's log end (its high watermark) and the lag
   * between them, sorted by topic and partition. Only partitions the group has committed are
   * listed: what its members are assigned is in their assignments, opaque bytes to the cluster.
   */
  async listGroupOffsets(groupId: string, options: { timeoutMs?: number } = {}): Promise<GroupPartitionOffset[]> {
    const committed = await this.groups.fetchOffsets(groupId, undefined, options);
    const ends = await this.listOffsets(
      committed.map((c) => ({ topic: c.topic, partition: c.partition })),
      LATEST_TIMESTAMP,
    );
    return committed.map((c, i) => {
      const end = ends[i]!;
      const base: GroupPartitionOffset = {
        topic: c.topic,
        partition: c.partition,
        committedOffset: c.offset,
        ...(c.leaderEpoch !== undefined ? { leaderEpoch: c.leaderEpoch } : {}),
        metadata: c.metadata,
      };
      if ('error' in end) return { ...base, error: end.error };
      return { ...base, logEndOffset: end.offset, lag: Math.max(0, end.offset - c.offset) };
    });
  }

  /**
   * A group's state, members (with their decoded assignments) and, per partition a member is
   * assigned or the group committed, the committed offset, log end and lag (`groups describe`,
   * `watch`, the console). Throws GROUP_ID_NOT_FOUND for a group that does not exist and has no
   * offsets; the coordinator's error when it could not answer.
   */
  async describeGroup(groupId: string, options: { timeoutMs?: number } = {}): Promise<GroupView> {
    const [[described], committed] = await Promise.all([this.groups.describeGroups([groupId], options), this.groups.fetchOffsets(groupId, undefined, options)]);
    if (described?.error !== undefined) throw TributaryError.fromWire(described.error);
    const state = described?.state ?? 'Dead';
    if (state === 'Dead' && committed.every((c) => c.offset < 0)) throw new TributaryError('GROUP_ID_NOT_FOUND', `group ${groupId} does not exist`);
    const protocolType = described?.protocolType ?? '';
    const members: GroupMemberView[] = (described?.members ?? []).map((m) => ({
      memberId: m.memberId,
      ...(m.groupInstanceId !== undefined ? { groupInstanceId: m.groupInstanceId } : {}),
      clientId: m.clientId,
      clientHost: m.clientHost,
      assignment: memberAssignment(protocolType, Buffer.from(m.assignment)),
    }));
    const keys = new Map<string, { topic: string; partition: number }>();
    for (const m of members) for (const tp of m.assignment ?? []) keys.set(`${tp.topic}-${tp.partition}`, tp);
    for (const c of committed) if (c.offset >= 0) keys.set(`${c.topic}-${c.partition}`, { topic: c.topic, partition: c.partition });
    const tps = [...keys.values()];
    const ends = tps.length === 0 ? [] : await this.listOffsets(tps, LATEST_TIMESTAMP);
    const logEnds = new Map<string, number>();
    tps.forEach((tp, i) => {
      const end = ends[i]!;
      if (!('error' in end)) logEnds.set(`${tp.topic}-${tp.partition}`, end.offset);
    });
    const offsets = groupOffsetRows(
      members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost, assignment: m.assignment ?? [] })),
      committed,
      logEnds,
    );
    return { groupId, state, protocolType, protocol: described?.protocol ?? '', members, offsets };
  }

  /**
   * `groups reset-offsets`: moves the group's committed offsets of `topic` (or of `partitions`
   * of it) as `spec` says, and returns the plan with each partition's previous and new offset. A
   * group with members is refused (NON_EMPTY_GROUP: stop its consumers first, as Kafka's tool
   * requires); a group that does not exist is created. `dryRun` computes the plan and commits
   * nothing.
   */
  async resetGroupOffsets(
    groupId: string,
    topic: string,
    spec: OffsetResetSpec,
    options: { partitions?: readonly number[]; dryRun?: boolean; timeoutMs?: number } = {},
  ): Promise<OffsetResetPlanEntry[]> {
    const description = await this.describeTopic(topic);
    const known = new Set(description.partitions.map((p) => p.partition));
    const partitions = options.partitions ?? [...known];
    for (const p of partitions) if (!known.has(p)) throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `${topic} has no partition ${p}`);
    const tps = partitions.map((partition) => ({ topic, partition }));
    const [committed, earliest, latest] = await Promise.all([
      this.groups.fetchOffsets(groupId, tps, options),
      this.listOffsets(tps, EARLIEST_TIMESTAMP),
      this.listOffsets(tps, LATEST_TIMESTAMP),
    ]);
    const byTime = spec.kind === 'timestamp' ? await this.listOffsets(tps, spec.timestampMs) : undefined;
    const plan: OffsetResetPlanEntry[] = tps.map(({ partition }, i) => {
      const lo = offsetOf(earliest[i]!, topic, partition);
      const hi = offsetOf(latest[i]!, topic, partition);
      const clamp = (n: number) => Math.min(Math.max(n, lo), hi);
      const previousOffset = committed[i]!.offset;
      const needCommitted = () => {
        if (previousOffset < 0) throw new TributaryError('INVALID_REQUEST', `group ${groupId} has no committed offset for ${topic}-${partition} to start from`);
        return previousOffset;
      };
      let newOffset: number;
      switch (spec.kind) {
        case 'earliest':
          newOffset = lo;
          break;
        case 'latest':
          newOffset = hi;
          break;
        case 'offset':
          newOffset = clamp(spec.offset);
          break;
        case 'shift-by':
          newOffset = clamp(needCommitted() + spec.shift);
          break;
        case 'timestamp': {
          const found = offsetOf(byTime![i]!, topic, partition);
          newOffset = found < 0 ? hi : found;
          break;
        }
        case 'current':
          newOffset = needCommitted();
          break;
      }
      return { topic, partition, previousOffset, newOffset };
    });
    if (options.dryRun === true || plan.length === 0) return plan;
    const answer = await this.groups.resetOffsets(
      { groupId, offsets: plan.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.newOffset, metadata: '' })) },
      options,
    );
    return plan.map((p, i) => {
      const error = answer.partitions[i]?.error;
      return error === undefined ? p : { ...p, error };
    });
  }

  /**
   * ListOffsets at each partition's leader (one call per leader): `timestamp` -2 earliest, -1
   * latest (the HW), else the first offset at or after it (-1: none). A partition whose leader
   * is unknown or answers an error gets `error`; leaders are looked up again once.
   */
  private async listOffsets(tps: readonly { topic: string; partition: number }[], timestamp: number): Promise<({ offset: number } | { error: WireError })[]> {
    const results: ({ offset: number } | { error: WireError } | undefined)[] = tps.map(() => undefined);
    const topics = [...new Set(tps.map((t) => t.topic))];
    for (let round = 0; round < 2; round++) {
      const pending = tps.map((tp, i) => ({ ...tp, i })).filter(({ i }) => results[i] === undefined || (round > 0 && 'error' in results[i]!));
      if (pending.length === 0) break;
      if (topics.length > 0) await this.cluster.fetchMetadata(topics);
      const byLeader = new Map<number, typeof pending>();
      for (const tp of pending) {
        const leader = this.cluster.metadata.leaderOf(tp.topic, tp.partition);
        if (leader === undefined) {
          const code: ErrorCode =
            this.cluster.metadata.partition(tp.topic, tp.partition) === undefined ? 'UNKNOWN_TOPIC_OR_PARTITION' : 'NOT_LEADER_OR_FOLLOWER';
          results[tp.i] = { error: { code, message: `${tp.topic}-${tp.partition} has no live leader` } };
          continue;
        }
        const list = byLeader.get(leader) ?? [];
        list.push(tp);
        byLeader.set(leader, list);
      }
      await Promise.all(
        [...byLeader].map(async ([leader, list]) => {
          try {
            const answer = await this.cluster.callBroker<ListOffsetsResponse>(leader, '/list-offsets', {
              partitions: list.map(({ topic, partition }) => ({ topic, partition, timestamp })),
            });
            list.forEach((tp, j) => {
              const r = answer.partitions[j];
              results[tp.i] =
                r === undefined
                  ? { error: { code: 'UNKNOWN_SERVER_ERROR', message: 'no answer for the partition' } }
                  : r.error
                    ? { error: r.error }
                    : { offset: r.offset };
            });
          } catch (err) {
            const error = err instanceof TributaryError ? err.toWire() : { code: 'UNKNOWN_SERVER_ERROR' as const, message: String(err) };
            for (const tp of list) results[tp.i] = { error };
          }
        }),
      );
    }
    return results.map((r) => r ?? { error: { code: 'UNKNOWN_SERVER_ERROR', message: 'not asked' } });
  }

  async deleteTopic(name: string): Promise<void> {
    await this.cluster.callAny('/admin/delete-topic', { name });
  }

  /** Moves leadership back to each partition's preferred replica where it is in the ISR. */
  async electLeaders(topic: string, partitions?: number[]): Promise<ElectLeadersResponse> {
    return this.cluster.callAny<ElectLeadersResponse>('/admin/elect-leaders', partitions ? { topic, partitions } : { topic });
  }

  /** Sets broker-level dynamic configs; a value of -1 removes the setting. */
  async setBrokerConfig(brokerId: BrokerId, configs: Record<string, number>): Promise<void> {
    await this.cluster.callAny('/admin/set-broker-config', { brokerId, configs });
  }

  /**
   * Grows `topic` to `totalCount` partitions (Kafka's createPartitions): the new ones are placed
   * by the rack-aware rule; fewer than now is refused with INVALID_PARTITIONS. Waits, like
   * createTopic, until every reachable broker shows them led. Producers and consumers that
   * subscribed to the topic use them after their next metadata refresh (metadataMaxAgeMs).
   */
  async createPartitions(topic: string, totalCount: number, options: { timeoutMs?: number } = {}): Promise<TopicDescription> {
    await this.cluster.callAny<CreatePartitionsResponse>('/admin/create-partitions', { topic, totalCount });
    return this.waitUntilReady(topic, totalCount, options.timeoutMs ?? 30_000, `grew to ${totalCount} partitions`);
  }

  /**
   * KIP-455: starts (a target list, preferred leader first) or cancels (null) the reassignment of
   * each partition. Each is decided on its own: the answer has one entry per partition, in order,
   * with `error` set where it was refused (nothing changed for it). Throws only for a request
   * refused whole (malformed, the same partition twice) or no broker reachable. Returns at once:
   * follow progress with listPartitionReassignments.
   */
  async alterPartitionReassignments(partitions: readonly PartitionReassignment[]): Promise<PartitionReassignmentResult[]> {
    const answer = await this.cluster.callAny<AlterPartitionReassignmentsResponse>('/admin/alter-partition-reassignments', {
      partitions: partitions.map((p) => ({ topic: p.topic, partition: p.partition, replicas: p.replicas === null ? null : [...p.replicas] })),
    });
    return answer.partitions;
  }

  /** The reassignments in progress, of `topics` or of every topic, sorted by topic and partition. */
  async listPartitionReassignments(topics?: readonly string[]): Promise<OngoingReassignment[]> {
    const answer = await this.cluster.callAny<ListPartitionReassignmentsResponse>(
      '/admin/list-partition-reassignments',
      topics === undefined ? {} : { topics: [...topics] },
      { readOnly: true },
    );
    return answer.reassignments;
  }

  /** Every config of a topic or of a broker's dynamic configs, sorted by name. */
  async describeConfigs(resource: ConfigResource): Promise<ConfigEntry[]> {
    const answer = await this.cluster.callAny<AlterConfigsResponse>('/admin/describe-configs', { resource }, { readOnly: true });
    return answer.configs;
  }

  /**
   * Sets and deletes configs of a topic (validated as at creation, applied live by the brokers)
   * or of a broker (leader/follower.replication.throttled.rate, integers >= 1 bytes/s). All or
   * nothing: one bad entry refuses the whole change (INVALID_CONFIG). Returns the new configs.
   */
  async alterConfigs(resource: ConfigResource, change: { set?: Record<string, ConfigValue>; delete?: readonly string[] }): Promise<ConfigEntry[]> {
    const answer = await this.cluster.callAny<AlterConfigsResponse>('/admin/alter-configs', {
      resource,
      set: change.set ?? {},
      delete: [...(change.delete ?? [])],
    });
    return answer.configs;
  }

  // --- Users and ACLs (issue 20): Kafka's AlterUserScramCredentials, DescribeUserScramCredentials,
  // CreateAcls, DescribeAcls, DeleteAcls, forwarded to the controller like the other admin calls.

  /**
   * Creates the user, or sets its password: a SCRAM credential per mechanism (both by default).
   * The password never leaves this process: the salt and the salted password (PBKDF2) are sent,
   * and the controller stores StoredKey and ServerKey from them.
   */
  async upsertUser(user: string, password: string, options: { mechanisms?: readonly ScramMechanism[]; iterations?: number } = {}): Promise<void> {
    const iterations = options.iterations ?? SCRAM_ITERATIONS_DEFAULT;
    const upsertions = (options.mechanisms ?? SCRAM_MECHANISMS).map((mechanism) => {
      const salt = randomBytes(32);
      return { name: user, mechanism, iterations, salt, saltedPassword: saltedPassword(scramHash(mechanism), password, salt, iterations) };
    });
    const answer = await this.cluster.callAny<AlterUserScramCredentialsResponse>('/admin/alter-user-scram-credentials', { upsertions });
    throwFirstError(answer.results);
  }

  /** Deletes every credential of the user (RESOURCE_NOT_FOUND when it has none). */
  async deleteUser(user: string): Promise<void> {
    const described = await this.describeUsers([user]);
    const entry = described[0];
    if (entry?.error !== undefined) throw new TributaryError(entry.error.code, entry.error.message);
    const deletions = (entry?.credentials ?? []).map((c) => ({ name: user, mechanism: c.mechanism }));
    const answer = await this.cluster.callAny<AlterUserScramCredentialsResponse>('/admin/alter-user-scram-credentials', { deletions });
    throwFirstError(answer.results);
  }

  /** Users and their mechanisms (never a key); all users when none are named. */
  async describeUsers(users?: string[]): Promise<DescribeUserScramCredentialsResponse['users']> {
    const answer = await this.cluster.callAny<DescribeUserScramCredentialsResponse>(
      '/admin/describe-user-scram-credentials',
      users === undefined ? {} : { users },
      { readOnly: true },
    );
    return answer.users;
  }

  /** Creates ACLs (one already there is kept once); the first refused binding throws. */
  async createAcls(bindings: AclBinding[]): Promise<void> {
    const answer = await this.cluster.callAny<CreateAclsResponse>('/admin/create-acls', { creations: bindings });
    throwFirstError(answer.results);
  }

  async describeAcls(filter: AclBindingFilter = {}): Promise<AclBinding[]> {
    return (await this.cluster.callAny<DescribeAclsResponse>('/admin/describe-acls', { filter }, { readOnly: true })).acls;
  }

  /** Deletes every ACL a filter matches; returns those deleted. */
  async deleteAcls(filters: AclBindingFilter[]): Promise<AclBinding[]> {
    const answer = await this.cluster.callAny<DeleteAclsResponse>('/admin/delete-acls', { filters });
    throwFirstError(answer.results);
    return answer.results.flatMap((r) => r.deleted);
  }

  async initProducerId(): Promise<InitProducerIdResponse> {
    return this.cluster.callAny<InitProducerIdResponse>('/admin/init-producer-id', {});
  }

  async close(): Promise<void> {
    await this.groups.close();
    await this.cluster.close();
  }

  /**
   * What broker `brokerId` holds of `topic`: each replica (leader or follower) with its log start,
   * HW, LEO and the (baseOffset, lastOffset, partitionLeaderEpoch, crc) of every batch below its
   * HW — or, for the partitions named in `partitions`, from `fromOffset` up to `toOffset` (capped
   * at the LEO) — gathered over as many pages as the broker needs (at most `pagesMax`, default
   * 1000). A diagnostic: `tributary chaos` compares the replicas of each partition with it.
   */
  async replicaDigests(
    brokerId: BrokerId,
    topic: string,
    options: { partitions?: { partition: number; fromOffset: number; toOffset?: number }[]; pagesMax?: number; timeoutMs?: number } = {},
  ): Promise<ReplicaDigest[]> {
    if (this.cluster.brokerEndpoint(brokerId) === undefined) await this.cluster.fetchMetadata([topic]);
    const call = (request: ReplicaDigestsRequest) =>
      this.cluster.callBroker<ReplicaDigestsResponse>(
        brokerId,
        '/replica-digests',
        request,
        options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {},
      );
    const first = await call(options.partitions ? { topic, partitions: options.partitions } : { topic });
    const byPartition = new Map(first.replicas.map((r) => [r.partition, r]));
    const pagesMax = options.pagesMax ?? 1000;
    for (let page = 1; ; page++) {
      const pending = [...byPartition.values()].filter((r) => r.nextOffset !== undefined);
      if (pending.length === 0) break;
      if (page >= pagesMax) throw new TributaryError('REQUEST_TIMED_OUT', `broker ${brokerId} still had batches of ${topic} to list after ${pagesMax} pages`);
      // Later pages end where the first was asked to, so a HW that moves meanwhile does not stretch the list.
      const answer = await call({ topic, partitions: pending.map((r) => ({ partition: r.partition, fromOffset: r.nextOffset!, toOffset: r.batchesEnd })) });
      for (const r of pending) delete r.nextOffset;
      for (const next of answer.replicas) {
        const known = byPartition.get(next.partition);
        // The offsets are the latest page's; the batches run on from where the last page stopped.
        if (known !== undefined) for (const b of next.batches) known.batches.push(b);
        byPartition.set(next.partition, known === undefined ? next : { ...next, batches: known.batches });
      }
    }
    return [...byPartition.values()].sort((a, b) => a.partition - b.partition);
  }
}

function toDescription(topic: { name: string; configs: TopicConfigs; partitions: PartitionInfo[] }): TopicDescription {
  return {
    name: topic.name,
    configs: topic.configs,
    partitions: [...topic.partitions]
      .sort((a, b) => a.partition - b.partition)
      .map((p) => ({
        ...p,
        replicas: [...p.replicas],
        isr: [...p.isr],
        addingReplicas: [...(p.addingReplicas ?? [])],
        removingReplicas: [...(p.removingReplicas ?? [])],
      })),
  };
}

function offsetOf(result: { offset: number } | { error: WireError }, topic: string, partition: number): number {
  if ('error' in result) throw new TributaryError(result.error.code, `${topic}-${partition}: ${result.error.message}`);
  return result.offset;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function throwFirstError(results: readonly { error?: { code: string; message: string } }[]): void {
  const failed = results.find((r) => r.error !== undefined)?.error;
  if (failed !== undefined) throw new TributaryError(failed.code as ErrorCode, failed.message);
}
