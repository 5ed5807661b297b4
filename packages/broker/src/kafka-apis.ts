// What each Kafka API does on this broker (issue 19, milestones 1 and 2): requests decoded by
// @tributary/kafka's generic codec come in as plain objects, go to the same ReplicaManager,
// CoordinatorHost and controller forwarding the HTTP routes use (broker-service.ts,
// group-service.ts, with their field checks), and come back as plain objects the codec encodes.
// Error names map to Kafka's numbers by name (@tributary/kafka errors.ts).
//
// On a secure cluster every request comes with the connection's principal (SASL or certificate,
// kafka-sasl.ts) and the ACLs decide as on the HTTP routes: Metadata lists the topics the caller
// may Describe and answers TOPIC_AUTHORIZATION_FAILED for one asked by name or id; Produce needs
// Write, Fetch Read, ListOffsets and OffsetForLeaderEpoch Describe on each topic (a refused
// partition gets TOPIC_AUTHORIZATION_FAILED, the rest are served); FindCoordinator Describe and
// the group APIs Read on the group (GROUP_AUTHORIZATION_FAILED), commits Read on each topic too,
// OffsetFetch Describe on the group and leaves out topics the caller may not Describe;
// InitProducerId, CreateTopics, DeleteTopics and DescribeConfigs go to the controller as the
// caller (it asks for IdempotentWrite, Create, Delete, DescribeConfigs).

import {
  CONSUMER_OFFSETS_TOPIC,
  DEFAULT_TOPIC_CONFIGS,
  TOPIC_CONFIG_SPECS,
  TributaryError,
  batchSizeAt,
  isInternalTopic,
  type BrokerRegistration,
  type CreateTopicRequest,
  type CreateTopicResponse,
  type DescribeConfigsResponse,
  type Endpoint,
  type TopicConfigs,
  type ErrorCode,
  type WireError,
} from '@tributary/protocol';
import { createHash } from 'node:crypto';
import { advertisedApis, kafkaErrorCode, kafkaErrorName, type Message, type RequestHeaderValue } from '@tributary/kafka';
import { isClusterProcess, type Authorizer, type Operation, type Principal, type ResourceType } from '@tributary/auth';
import type { CoordinatorHost } from './coordinator-host.ts';
import { kafkaEndOffsetForEpoch } from './divergence.ts';
import { parseHeartbeat, parseJoinGroup, parseLeaveGroup, parseOffsetCommit, parseOffsetFetch, parseSyncGroup } from './group-service.ts';
import { REQUEST_LIMITS } from './broker-service.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { ReplicaManager } from './replica-manager.ts';

/**
 * Thrown by a handler whose request is answered by closing the connection: a Produce with acks=0
 * that failed (no answer is sent, so closing is how Kafka tells the producer to refresh its
 * metadata and reconnect).
 */
export class CloseConnection extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CloseConnection';
  }
}

/** ApiVersions' answer: what API_VERSIONS advertises (the SASL APIs on a secure listener only). */
export function apiVersionsBody(sasl: boolean): Message {
  return sasl ? API_VERSIONS_SASL_BODY : API_VERSIONS_BODY;
}

function apiVersionsOf(sasl: boolean): Message {
  return Object.freeze({
    errorCode: 0,
    apiKeys: advertisedApis(sasl).map((a) => ({ apiKey: a.apiKey, minVersion: a.minVersion, maxVersion: a.maxVersion })),
    throttleTimeMs: 0,
  });
}

export const API_VERSIONS_BODY: Message = apiVersionsOf(false);
const API_VERSIONS_SASL_BODY: Message = apiVersionsOf(true);

/** Who sends a request: the connection's principal (ANONYMOUS on a plaintext listener) and address. */
export interface KafkaSession {
  principal: Principal;
  /** The caller's IP, as ACL hosts name it. */
  host: string;
  /** The caller as group members' client host (`/127.0.0.1`). */
  clientHost: string;
}

export interface KafkaApisOptions {
  brokerId: number;
  /** Which Kafka listener this serves: Metadata and FindCoordinator answer with its addresses. */
  listener: 'internal' | 'external';
  replicas: ReplicaManager;
  groups: CoordinatorHost;
  metrics: BrokerMetrics;
  /** To the controller; with the caller's principal the controller authorizes the call as the caller. */
  forwardAdmin: (op: string, body: unknown, principal?: { name: string; host: string }) => Promise<unknown>;
  /** A secure cluster's ACLs; absent (or disabled) on a plaintext one, where everything is allowed. */
  authorizer?: Authorizer;
  /** fetch.max.bytes: answers are clamped to it. */
  fetchBytesMax: number;
  now?: () => number;
}

/** A decoded message: its shape is its schema's (@tributary/kafka messages.ts), checked there. */
// biome-ignore lint/suspicious/noExplicitAny: decoded fields are typed by the schema, not by TypeScript
type M = Record<string, any>;

const EMPTY = Buffer.alloc(0);
/** How long CreateTopics waits for the new topic's leaders to reach this broker's metadata. */
const CREATE_TOPICS_WAIT_MS_MAX = 10_000;

function codeOf(err: unknown): ErrorCode {
  if (err instanceof TributaryError) return err.code;
  throw err;
}

function errorNumber(error: WireError | undefined): number {
  return kafkaErrorCode(error?.code);
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

/** Groups per-partition results by topic, keeping the order topics first appear in. */
function byTopic<T extends { topic: string }, R>(entries: readonly T[], toPartition: (e: T) => R): { topic: string; partitions: R[] }[] {
  const out = new Map<string, R[]>();
  for (const e of entries) {
    const list = out.get(e.topic);
    if (list === undefined) out.set(e.topic, [toPartition(e)]);
    else list.push(toPartition(e));
  }
  return [...out].map(([topic, partitions]) => ({ topic, partitions }));
}

/** Kafka's "no topic id" (Uuid.ZERO_UUID). */
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A topic's id as Kafka's 16-byte UUID (KIP-516). The controller's ids are random UUIDs already
 * and are given as they are; any other id (tests name theirs) is hashed to a stable UUID, so
 * lookups by id still find the topic.
 */
export function kafkaTopicId(topicId: string): string {
  const lower = topicId.toLowerCase();
  if (UUID_PATTERN.test(lower) && lower !== ZERO_UUID) return lower;
  const hex = createHash('sha256').update(topicId).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export class KafkaApis {
  private readonly o: KafkaApisOptions;
  /** Topic names by Kafka topic id, for the metadata version they were built from. */
  private topicNames: { version: number; byId: Map<string, string> } | undefined;
  private readonly secure: boolean;

  constructor(options: KafkaApisOptions) {
    this.o = options;
    this.secure = options.authorizer?.enabled === true;
  }

  /** The request's answer, or undefined for none (Produce with acks=0). */
  async handle(header: RequestHeaderValue, body: M, session: KafkaSession): Promise<Message | undefined> {
    const api = KAFKA_API_NAMES.get(header.apiKey) ?? `kafka_${header.apiKey}`;
    // Counted by the answer's whole-request error (per-partition errors: tributary_partition_errors_total).
    try {
      const answer = await this.dispatch(header, body, session);
      const code = answer?.errorCode;
      this.o.metrics.requests.inc({ api, error: typeof code === 'number' && code !== 0 ? kafkaErrorName(code) : 'none' });
      return answer;
    } catch (err) {
      this.o.metrics.requests.inc({
        api,
        error: err instanceof TributaryError ? err.code : err instanceof CloseConnection ? 'CONNECTION_CLOSED' : 'UNKNOWN_SERVER_ERROR',
      });
      throw err;
    }
  }

  private async dispatch(header: RequestHeaderValue, body: M, session: KafkaSession): Promise<Message | undefined> {
    const v = header.apiVersion;
    const s = session;
    const readGroup = () => this.may(s, 'Read', 'Group', body.groupId as string);
    switch (header.apiKey) {
      case 18:
        return apiVersionsBody(this.secure);
      case 3:
        return this.metadata(v, body, s);
      case 0:
        return this.produce(v, body, s);
      case 1:
        return this.fetch(v, body, s);
      case 2:
        return this.listOffsets(v, body, s);
      case 22:
        return this.initProducerId(v, body, s);
      case 23:
        return this.offsetForLeaderEpoch(v, body, s);
      case 10:
        return this.findCoordinator(v, body, s);
      case 11:
        return readGroup() ? this.joinGroup(v, body, header.clientId ?? '', s.clientHost) : this.groupRefused(header.apiKey, v, body);
      case 14:
        return readGroup() ? this.syncGroup(v, body) : this.groupRefused(header.apiKey, v, body);
      case 12:
        return readGroup() ? this.heartbeat(body) : this.groupRefused(header.apiKey, v, body);
      case 13:
        return readGroup() ? this.leaveGroup(v, body) : this.groupRefused(header.apiKey, v, body);
      case 8:
        return this.offsetCommit(body, s);
      case 9:
        return this.offsetFetch(v, body, s);
      case 19:
        return this.createTopics(v, body, s);
      case 20:
        return this.deleteTopics(v, body, s);
      case 32:
        return this.describeConfigs(v, body, s);
      default:
        throw new TributaryError('INVALID_REQUEST', `api key ${header.apiKey} is not served`);
    }
  }

  // ------------------------------------------------------------------------- authorization

  /** Whether the caller may (always, on a plaintext cluster); a refusal is logged and counted unless `report` is false. */
  private may(s: KafkaSession, operation: Operation, resourceType: ResourceType, name?: string, report = true): boolean {
    const authorizer = this.o.authorizer;
    return authorizer === undefined || authorizer.allows(s.principal, s.host, operation, resourceType, name, report);
  }

  /** One answer per topic for a request naming many partitions: each topic asked once. */
  private topicCheck(s: KafkaSession, operation: Operation): (topic: string) => boolean {
    if (!this.secure) return () => true;
    const answers = new Map<string, boolean>();
    return (topic) => {
      let allowed = answers.get(topic);
      if (allowed === undefined) {
        allowed = this.may(s, operation, 'Topic', topic);
        answers.set(topic, allowed);
      }
      return allowed;
    };
  }

  /** The principal the controller authorizes a forwarded call as (none for a cluster process or a plaintext cluster). */
  private caller(s: KafkaSession): { name: string; host: string } | undefined {
    return !this.secure || isClusterProcess(s.principal) ? undefined : { name: s.principal.name, host: s.host };
  }

  /** A group API refused by the ACLs: GROUP_AUTHORIZATION_FAILED in the API's own answer. */
  private groupRefused(apiKey: number, v: number, body: M): Message {
    const errorCode = kafkaErrorCode('GROUP_AUTHORIZATION_FAILED');
    switch (apiKey) {
      case 11:
        return {
          throttleTimeMs: 0,
          errorCode,
          generationId: -1,
          protocolType: null,
          protocolName: v >= 7 ? null : '',
          leader: '',
          memberId: body.memberId,
          members: [],
        };
      case 14:
        return { throttleTimeMs: 0, errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
      case 13:
        return { throttleTimeMs: 0, errorCode, members: [] };
      default:
        return { throttleTimeMs: 0, errorCode };
    }
  }

  // ------------------------------------------------------------------------------- metadata

  private kafkaAddress(b: BrokerRegistration): Endpoint | undefined {
    return b.kafka === undefined ? undefined : this.o.listener === 'external' ? b.kafka.external : b.kafka.internal;
  }

  /** Live brokers with a Kafka listener, by id. */
  private liveBrokers(): { id: number; rack: string; address: Endpoint }[] {
    const out: { id: number; rack: string; address: Endpoint }[] = [];
    for (const b of this.o.replicas.metadata.allBrokers()) {
      const address = this.kafkaAddress(b);
      if (b.alive && address !== undefined) out.push({ id: b.id, rack: b.rack, address });
    }
    return out.sort((a, b) => a.id - b.id);
  }

  /** The name of the topic with this Kafka topic id, if this broker's metadata has it. */
  private topicNameOf(topicId: string): string | undefined {
    const cache = this.o.replicas.metadata;
    if (this.topicNames?.version !== cache.version) {
      this.topicNames = { version: cache.version, byId: new Map(cache.allTopics().map((t) => [kafkaTopicId(t.topicId), t.name])) };
    }
    return this.topicNames.byId.get(topicId);
  }

  private metadata(v: number, body: M, s: KafkaSession): Message {
    const cache = this.o.replicas.metadata;
    const brokers = this.liveBrokers();
    const alive = new Set(brokers.map((b) => b.id));
    // v0: an empty list asks for every topic; v1+: null does. v12 may name a topic by its id
    // instead (KIP-516); v10-11 carry the id field but Kafka refuses lookups by it there.
    type Asked = { name: string | null; topicId: string; error?: number };
    const asked: Asked[] =
      body.topics === null || (v === 0 && body.topics.length === 0)
        ? // All topics means those the caller may Describe (the others are not mentioned).
          cache
            .allTopics()
            .filter((t) => this.may(s, 'Describe', 'Topic', t.name, false))
            .map((t) => ({ name: t.name, topicId: ZERO_UUID }))
        : (body.topics as M[]).map((t): Asked => {
            const topicId = v >= 10 ? (t.topicId as string) : ZERO_UUID;
            const name = t.name as string | null;
            if (topicId === ZERO_UUID) return name === null ? { name, topicId, error: kafkaErrorCode('INVALID_REQUEST') } : { name, topicId };
            if (v < 12 || name !== null) return { name, topicId, error: kafkaErrorCode('INVALID_REQUEST') };
            const found = this.topicNameOf(topicId);
            if (found !== undefined && !this.may(s, 'Describe', 'Topic', found))
              return { name: null, topicId, error: kafkaErrorCode('TOPIC_AUTHORIZATION_FAILED') };
            return found === undefined ? { name: null, topicId, error: kafkaErrorCode('UNKNOWN_TOPIC_ID') } : { name: found, topicId };
          });
    // A topic asked by name without Describe is TOPIC_AUTHORIZATION_FAILED whether or not it
    // exists (its existence is not told).
    if (body.topics !== null && !(v === 0 && body.topics.length === 0)) {
      for (const a of asked) {
        if (a.error === undefined && a.name !== null && a.topicId === ZERO_UUID && !this.may(s, 'Describe', 'Topic', a.name))
          a.error = kafkaErrorCode('TOPIC_AUTHORIZATION_FAILED');
      }
    }
    const topics = asked.map(({ name, topicId, error }) => {
      const t = error === undefined && name !== null ? cache.topic(name) : undefined;
      if (t === undefined) {
        return {
          errorCode: error ?? kafkaErrorCode('UNKNOWN_TOPIC_OR_PARTITION'),
          // Only v12 answers may carry a null name.
          name: v >= 12 ? name : (name ?? ''),
          topicId,
          isInternal: false,
          partitions: [],
        };
      }
      return {
        errorCode: 0,
        name: t.name,
        topicId: kafkaTopicId(t.topicId),
        isInternal: isInternalTopic(t.name),
        partitions: t.partitions.map((p) => ({
          errorCode: p.leader < 0 ? kafkaErrorCode('LEADER_NOT_AVAILABLE') : 0,
          partitionIndex: p.partition,
          leaderId: p.leader,
          leaderEpoch: p.leaderEpoch,
          replicaNodes: p.replicas,
          isrNodes: p.isr,
          offlineReplicas: p.replicas.filter((id) => !alive.has(id)),
        })),
      };
    });
    return {
      throttleTimeMs: 0,
      brokers: brokers.map((b) => ({ nodeId: b.id, host: b.address.host, port: b.address.port, rack: b.rack })),
      clusterId: cache.metadata.clusterId || null,
      // Tributary's controller is no broker; clients send controller-bound requests (KafkaJS:
      // InitProducerId) to this id, so it names a live broker, which forwards to the controller.
      controllerId: brokers[0]?.id ?? -1,
      topics,
    };
  }

  // -------------------------------------------------------------------------------- produce

  private async produce(v: number, body: M, s: KafkaSession): Promise<Message | undefined> {
    const acks = body.acks as number;
    const writable = this.topicCheck(s, 'Write');
    const entries: { topic: string; partition: number; batches: Buffer[]; error?: ErrorCode; message?: string }[] = [];
    for (const t of body.topicData as M[]) {
      for (const p of t.partitionData as M[]) {
        const entry: (typeof entries)[number] = { topic: t.name, partition: p.index, batches: [] };
        entries.push(entry);
        if (v < 3) {
          entry.error = 'UNSUPPORTED_VERSION' as ErrorCode;
          entry.message = 'Produce v0-2 (message formats v0 and v1) is not served; use v3 or later';
        } else if (!writable(t.name)) {
          entry.error = 'TOPIC_AUTHORIZATION_FAILED';
          entry.message = `${s.principal.name} is not authorized to Write topic '${t.name}'`;
        } else if (acks !== 0 && acks !== 1 && acks !== -1) {
          entry.error = 'INVALID_REQUIRED_ACKS' as ErrorCode;
        } else if (body.transactionalId !== null) {
          entry.error = 'INVALID_REQUEST';
          entry.message = 'transactions are not supported';
        } else {
          const split = splitBatches(p.records as Buffer | null);
          if (typeof split === 'string') {
            entry.error = 'CORRUPT_MESSAGE';
            entry.message = split;
          } else entry.batches = split;
        }
      }
    }
    const input = entries.flatMap((e, index) =>
      e.error === undefined ? e.batches.map((records) => ({ index, topic: e.topic, partition: e.partition, records })) : [],
    );
    const results = new Map<number, { baseOffset: number; error?: WireError }>();
    if (input.length > 0) {
      const { partitions, bytesIn } = await this.o.replicas.produce({
        acks: acks as -1 | 0 | 1,
        timeoutMs: clamp(body.timeoutMs as number, 0, REQUEST_LIMITS.timeoutMsMax),
        partitions: input.map(({ topic, partition, records }) => ({ topic, partition, records })),
      });
      this.o.metrics.bytesIn.inc(bytesIn);
      partitions.forEach((r, i) => {
        const index = input[i]!.index;
        const seen = results.get(index);
        // A partition's answer: its first batch's offset, its first error.
        if (seen === undefined) results.set(index, r.error ? { baseOffset: -1, error: r.error } : { baseOffset: r.baseOffset });
        else if (seen.error === undefined && r.error !== undefined) results.set(index, { baseOffset: -1, error: r.error });
      });
    }
    if (acks === 0) {
      const failed = entries.findIndex((e, index) => e.error !== undefined || results.get(index)?.error !== undefined);
      if (failed >= 0) throw new CloseConnection(`acks=0 produce to ${entries[failed]!.topic}-${entries[failed]!.partition} failed`);
      return undefined;
    }
    return {
      responses: byTopic(
        entries.map((e, index) => ({ ...e, index })),
        (e) => {
          const r = results.get(e.index);
          const code = e.error ?? r?.error?.code;
          if (code !== undefined) this.o.metrics.partitionErrors.inc({ api: 'kafka_produce', error: code });
          return {
            index: e.partition,
            errorCode: code === undefined ? 0 : kafkaErrorCode(code),
            baseOffset: code === undefined ? (r?.baseOffset ?? -1) : -1,
            logAppendTimeMs: -1,
            logStartOffset: this.o.replicas.getPartition(e.topic, e.partition)?.log.logStartOffset ?? -1,
            recordErrors: [],
            errorMessage: code === undefined ? null : (e.message ?? r?.error?.message ?? null),
          };
        },
      ).map((t) => ({ name: t.topic, partitionResponses: t.partitions })),
      throttleTimeMs: 0,
    };
  }

  // ---------------------------------------------------------------------------------- fetch

  private async fetch(v: number, body: M, s: KafkaSession): Promise<Message> {
    if (body.sessionId !== 0) {
      // No fetch sessions (KIP-227): we never hand out a session id, so none can be named.
      return { throttleTimeMs: 0, errorCode: kafkaErrorCode('FETCH_SESSION_ID_NOT_FOUND'), sessionId: 0, responses: [] };
    }
    // v13 names topics by id (KIP-516): an id this broker does not know is UNKNOWN_TOPIC_ID.
    const asked = (body.topics as M[]).flatMap((t) => {
      const topicId = v >= 13 ? (t.topicId as string) : ZERO_UUID;
      const name = v >= 13 ? this.topicNameOf(topicId) : (t.topic as string);
      return (t.partitions as M[]).map((p) => ({
        // The answer is grouped as asked: by id in v13, by name before.
        key: v >= 13 ? topicId : (name as string),
        topic: name,
        topicId,
        partition: p.partition as number,
        offset: p.fetchOffset as number,
        lastFetchedEpoch: v >= 12 ? (p.lastFetchedEpoch as number) : -1,
        maxBytes: clamp(p.partitionMaxBytes as number, 1, this.o.fetchBytesMax),
        currentLeaderEpoch: (p.currentLeaderEpoch as number) < 0 ? undefined : (p.currentLeaderEpoch as number),
      }));
    });
    const rack = v >= 11 && body.rackId !== '' ? (body.rackId as string) : undefined;
    const readable = this.topicCheck(s, 'Read');
    const diverging = new Map<(typeof asked)[number], { epoch: number; endOffset: number; highWatermark: number; logStartOffset: number }>();
    for (const p of asked) {
      const d =
        p.topic === undefined || !readable(p.topic)
          ? undefined
          : this.divergence(p.topic, p.partition, p.offset, p.lastFetchedEpoch, p.currentLeaderEpoch, rack);
      if (d !== undefined) diverging.set(p, d);
    }
    const valid = asked.filter(
      (p): p is (typeof asked)[number] & { topic: string } =>
        p.topic !== undefined && readable(p.topic) && p.offset >= 0 && p.partition >= 0 && !diverging.has(p),
    );
    const { partitions, bytesOut } = await this.o.replicas.fetch({
      maxWaitMs: diverging.size > 0 ? 0 : clamp(body.maxWaitMs as number, 0, REQUEST_LIMITS.maxWaitMsMax),
      minBytes: clamp(body.minBytes as number, 0, this.o.fetchBytesMax),
      maxBytes: clamp(body.maxBytes as number, 1, this.o.fetchBytesMax),
      rack,
      partitions: valid,
    });
    this.o.metrics.bytesOut.inc(bytesOut);
    const results = new Map<(typeof asked)[number], (typeof partitions)[number]>(partitions.map((r, i) => [valid[i]!, r]));
    const readCommitted = body.isolationLevel === 1;
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: byTopic(
        asked.map((p) => ({ ...p, asked: p, topic: p.key })),
        (p) => {
          const d = diverging.get(p.asked);
          const r = results.get(p.asked);
          const refused = p.asked.topic !== undefined && !readable(p.asked.topic);
          const code: number =
            p.asked.topic === undefined
              ? kafkaErrorCode('UNKNOWN_TOPIC_ID')
              : refused
                ? kafkaErrorCode('TOPIC_AUTHORIZATION_FAILED')
                : d !== undefined
                  ? 0
                  : kafkaErrorCode(r === undefined ? 'OFFSET_OUT_OF_RANGE' : r.error?.code);
          if (code !== 0) {
            const name = p.asked.topic === undefined ? 'UNKNOWN_TOPIC_ID' : refused ? 'TOPIC_AUTHORIZATION_FAILED' : (r?.error?.code ?? 'OFFSET_OUT_OF_RANGE');
            this.o.metrics.partitionErrors.inc({ api: 'kafka_fetch', error: name });
          }
          const hw = d?.highWatermark ?? r?.highWatermark ?? -1;
          return {
            partitionIndex: p.partition,
            errorCode: code,
            highWatermark: hw,
            // No transactions: everything below the HW is stable.
            lastStableOffset: hw,
            logStartOffset: d?.logStartOffset ?? r?.logStartOffset ?? -1,
            divergingEpoch: d === undefined ? undefined : { epoch: d.epoch, endOffset: d.endOffset },
            abortedTransactions: readCommitted ? [] : null,
            preferredReadReplica: r?.preferredReadReplica ?? -1,
            records: r?.records ?? EMPTY,
          };
        },
      ).map((t) => (v >= 13 ? { topicId: t.topic, partitions: t.partitions } : { topic: t.topic, partitions: t.partitions })),
    };
  }

  /**
   * KIP-320's check on a v12+ fetch that names the epoch of the fetcher's last batch, as Kafka's
   * Partition.fetchRecords does it: when this replica's log left that epoch before the fetch
   * offset (or never had it), the answer is the diverging epoch and its end offset, no records.
   * Only where this broker serves the fetch at all (the leader; a follower for a rack-aware
   * fetch) and the fetcher's leader epoch is current; otherwise the fetch itself gives the error.
   */
  private divergence(
    topic: string,
    partition: number,
    fetchOffset: number,
    lastFetchedEpoch: number,
    currentLeaderEpoch: number | undefined,
    rack: string | undefined,
  ): { epoch: number; endOffset: number; highWatermark: number; logStartOffset: number } | undefined {
    if (lastFetchedEpoch < 0) return undefined;
    const p = this.o.replicas.getPartition(topic, partition);
    if (p === undefined || (!p.isLeader && (rack === undefined || p.leaderId < 0))) return undefined;
    if (currentLeaderEpoch !== undefined && currentLeaderEpoch !== p.leaderEpoch) return undefined;
    const found = kafkaEndOffsetForEpoch(p.log.epochs.entries(), lastFetchedEpoch, p.log.logEndOffset);
    if (found.epoch >= lastFetchedEpoch && found.endOffset >= fetchOffset) return undefined;
    return { epoch: found.epoch, endOffset: found.endOffset, highWatermark: p.highWatermark, logStartOffset: p.log.logStartOffset };
  }

  // ---------------------------------------------------------------------------- listOffsets

  private listOffsets(_v: number, body: M, s: KafkaSession): Message {
    const asked = (body.topics as M[]).flatMap((t) =>
      (t.partitions as M[]).map((p) => ({ topic: t.name as string, partition: p.partitionIndex as number, timestamp: p.timestamp as number })),
    );
    const describable = this.topicCheck(s, 'Describe');
    const valid = asked.filter((p) => p.partition >= 0 && p.timestamp >= -2 && describable(p.topic));
    const { partitions } = this.o.replicas.listOffsets(valid);
    const results = new Map(partitions.map((r, i) => [valid[i]!, r]));
    return {
      throttleTimeMs: 0,
      topics: byTopic(asked, (p) => {
        const r = results.get(p);
        const code: ErrorCode | undefined = r === undefined ? (describable(p.topic) ? 'INVALID_REQUEST' : 'TOPIC_AUTHORIZATION_FAILED') : r.error?.code;
        return {
          partitionIndex: p.partition,
          errorCode: kafkaErrorCode(code),
          timestamp: r?.timestamp ?? -1,
          offset: r?.offset ?? -1,
          leaderEpoch: code === undefined ? (this.o.replicas.getPartition(p.topic, p.partition)?.leaderEpoch ?? -1) : -1,
        };
      }).map((t) => ({ name: t.topic, partitions: t.partitions })),
    };
  }

  // ------------------------------------------------------------------------- initProducerId

  private async initProducerId(v: number, body: M, s: KafkaSession): Promise<Message> {
    if (body.transactionalId !== null && body.transactionalId !== '') {
      return { throttleTimeMs: 0, errorCode: kafkaErrorCode('INVALID_REQUEST'), producerId: -1, producerEpoch: -1 };
    }
    // v3+ (KIP-360) carry the producer's current id and epoch, both or neither. Without a
    // transactional id Kafka answers a bump with a new producer id, epoch 0, which is what the
    // controller hands out.
    if (v >= 3 && (body.producerId === -1) !== (body.producerEpoch === -1)) {
      return { throttleTimeMs: 0, errorCode: kafkaErrorCode('INVALID_REQUEST'), producerId: -1, producerEpoch: -1 };
    }
    try {
      const r = (await this.o.forwardAdmin('init-producer-id', {}, this.caller(s))) as { producerId: number; producerEpoch: number };
      return { throttleTimeMs: 0, errorCode: 0, producerId: r.producerId, producerEpoch: r.producerEpoch };
    } catch (err) {
      return { throttleTimeMs: 0, errorCode: kafkaErrorCode(codeOf(err)), producerId: -1, producerEpoch: -1 };
    }
  }

  // ------------------------------------------------------------------- offsetForLeaderEpoch

  /**
   * KIP-101 / KIP-320: per partition, the end offset of the asked leader epoch from this
   * broker's leader-epoch cache (Kafka's rule, kafkaEndOffsetForEpoch). Consumers (-1) and
   * followers (>= 0) must ask the leader; -2 (v0-2, or a debugging tool) may ask a follower.
   * The fetcher's current leader epoch is checked as on Fetch.
   */
  private offsetForLeaderEpoch(v: number, body: M, s: KafkaSession): Message {
    const leaderOnly = (v >= 3 ? (body.replicaId as number) : -2) !== -2;
    const describable = this.topicCheck(s, 'Describe');
    return {
      throttleTimeMs: 0,
      topics: (body.topics as M[]).map((t) => ({
        topic: t.topic,
        partitions: (t.partitions as M[]).map((asked) => {
          const partition = asked.partition as number;
          try {
            if (!describable(t.topic as string))
              throw new TributaryError('TOPIC_AUTHORIZATION_FAILED', `${s.principal.name} is not authorized to Describe topic '${t.topic}'`);
            const p = this.o.replicas.getPartition(t.topic as string, partition);
            if (p === undefined) {
              if (this.o.replicas.metadata.partition(t.topic as string, partition) === undefined) {
                throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `${t.topic}-${partition} does not exist`);
              }
              throw new TributaryError('NOT_LEADER_OR_FOLLOWER', `broker ${this.o.brokerId} holds no replica of ${t.topic}-${partition}`);
            }
            p.checkLeaderEpoch(v >= 2 ? (asked.currentLeaderEpoch as number) : -1);
            if (leaderOnly && !p.isLeader) throw new TributaryError('NOT_LEADER_OR_FOLLOWER', `broker ${this.o.brokerId} is not the leader of ${p.key}`);
            const found = kafkaEndOffsetForEpoch(p.log.epochs.entries(), asked.leaderEpoch as number, p.log.logEndOffset);
            return { errorCode: 0, partition, leaderEpoch: found.epoch, endOffset: found.endOffset };
          } catch (err) {
            return { errorCode: kafkaErrorCode(codeOf(err)), partition, leaderEpoch: -1, endOffset: -1 };
          }
        }),
      })),
    };
  }

  // ------------------------------------------------------------------------- groups

  private findCoordinator(v: number, body: M, s: KafkaSession): Message {
    if (v >= 4) {
      // KIP-699: one answer per key, each as v0-3 would give it.
      return {
        throttleTimeMs: 0,
        coordinators: (body.coordinatorKeys as string[]).map((key) => ({ key, ...this.findOneCoordinator(body.keyType as number, key, s) })),
      };
    }
    return { throttleTimeMs: 0, ...this.findOneCoordinator(v >= 1 ? (body.keyType as number) : 0, body.key as string, s) };
  }

  private findOneCoordinator(
    keyType: number,
    key: string,
    s: KafkaSession,
  ): { errorCode: number; errorMessage: string | null; nodeId: number; host: string; port: number } {
    const failed = (code: ErrorCode, message: string) => ({
      errorCode: kafkaErrorCode(code),
      errorMessage: message,
      nodeId: -1,
      host: '',
      port: -1,
    });
    if (keyType !== 0) return failed('COORDINATOR_NOT_AVAILABLE', 'transactions are not supported: there is no transaction coordinator');
    if (!this.may(s, 'Describe', 'Group', key)) return failed('GROUP_AUTHORIZATION_FAILED', `${s.principal.name} is not authorized to Describe group '${key}'`);
    try {
      const found = this.o.groups.findCoordinator(key, this.o.listener);
      const b = this.o.replicas.metadata.broker(found.brokerId);
      const address = b === undefined ? undefined : this.kafkaAddress(b);
      if (address === undefined) return failed('COORDINATOR_NOT_AVAILABLE', `broker ${found.brokerId} has no Kafka listener`);
      return { errorCode: 0, errorMessage: null, nodeId: found.brokerId, host: address.host, port: address.port };
    } catch (err) {
      return failed(codeOf(err), (err as Error).message);
    }
  }

  private async joinGroup(v: number, body: M, clientId: string, clientHost: string): Promise<Message> {
    const failed = (code: ErrorCode, memberId = body.memberId as string) => ({
      throttleTimeMs: 0,
      errorCode: kafkaErrorCode(code),
      generationId: -1,
      protocolType: null,
      // v7+ answer a failed join with a null protocol name, as Kafka does.
      protocolName: v >= 7 ? null : '',
      leader: '',
      memberId,
      members: [],
    });
    let input: ReturnType<typeof parseJoinGroup>;
    try {
      input = parseJoinGroup(
        {
          groupId: body.groupId,
          memberId: body.memberId,
          groupInstanceId: body.groupInstanceId,
          clientId,
          sessionTimeoutMs: body.sessionTimeoutMs,
          // v0 has no rebalance timeout: Kafka takes the session timeout.
          rebalanceTimeoutMs: v === 0 ? body.sessionTimeoutMs : body.rebalanceTimeoutMs,
          protocolType: body.protocolType,
          protocols: body.protocols,
        },
        clientHost,
      );
    } catch (err) {
      return failed(codeOf(err));
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await this.o.groups.join(input);
        return {
          throttleTimeMs: 0,
          errorCode: 0,
          generationId: r.generationId,
          // The coordinator admitted the member, so the group's protocol type is the one it asked for.
          protocolType: input.protocolType,
          protocolName: r.protocolName,
          leader: r.leader,
          memberId: r.memberId,
          members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null, metadata: m.metadata })),
        };
      } catch (err) {
        const code = codeOf(err);
        if (code === 'MEMBER_ID_REQUIRED') {
          const memberId = (err as TributaryError).memberId ?? '';
          // KIP-394 is v4+: older clients join at once with the id the coordinator gives them.
          if (v < 4 && attempt === 0 && memberId !== '') {
            input = { ...input, memberId };
            continue;
          }
          return failed(code, memberId);
        }
        return failed(code);
      }
    }
  }

  private async syncGroup(v: number, body: M): Promise<Message> {
    const failed = (code: number) => ({ throttleTimeMs: 0, errorCode: code, protocolType: null, protocolName: null, assignment: EMPTY });
    // v5+ may name the group's protocol type and name (KIP-559): a mismatch is
    // INCONSISTENT_GROUP_PROTOCOL. The type is checked before the sync; the selected protocol is
    // only described once the group is Stable, so the name is checked on the answer.
    const group = () => {
      const described = this.o.groups.describeGroups([body.groupId as string]).groups[0];
      return described === undefined || described.error !== undefined ? undefined : described;
    };
    const inconsistent = kafkaErrorCode('INCONSISTENT_GROUP_PROTOCOL');
    if (v >= 5 && body.protocolType !== null) {
      const g = group();
      // Kafka checks the member first (UNKNOWN_MEMBER_ID wins): only a known member's request is refused here.
      const known = g?.members.some((m) => m.memberId === body.memberId) === true;
      if (known && g!.protocolType !== body.protocolType) return failed(inconsistent);
    }
    try {
      const r = await this.o.groups.sync(parseSyncGroup(body));
      if (v < 5) return { throttleTimeMs: 0, errorCode: 0, assignment: r.assignment };
      const g = group();
      if (body.protocolName !== null && g !== undefined && g.protocol !== '' && g.protocol !== body.protocolName) return failed(inconsistent);
      return {
        throttleTimeMs: 0,
        errorCode: 0,
        protocolType: g === undefined || g.protocolType === '' ? null : g.protocolType,
        protocolName: g === undefined || g.protocol === '' ? null : g.protocol,
        assignment: r.assignment,
      };
    } catch (err) {
      return failed(kafkaErrorCode(codeOf(err)));
    }
  }

  private async heartbeat(body: M): Promise<Message> {
    try {
      await this.o.groups.heartbeat(parseHeartbeat(body));
      return { throttleTimeMs: 0, errorCode: 0 };
    } catch (err) {
      return { throttleTimeMs: 0, errorCode: kafkaErrorCode(codeOf(err)) };
    }
  }

  private async leaveGroup(v: number, body: M): Promise<Message> {
    // v5's per-member reason (KIP-800) is only informative.
    const members =
      v >= 3
        ? (body.members as M[]).map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }))
        : [{ memberId: body.memberId, groupInstanceId: null }];
    try {
      const r = await this.o.groups.leave(parseLeaveGroup({ groupId: body.groupId, members }));
      const first = r.members.find((m) => m.error !== undefined)?.error;
      return {
        throttleTimeMs: 0,
        // v0-2 name one member: its error is the answer's.
        errorCode: v >= 3 ? 0 : errorNumber(first),
        members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null, errorCode: errorNumber(m.error) })),
      };
    } catch (err) {
      return { throttleTimeMs: 0, errorCode: kafkaErrorCode(codeOf(err)), members: [] };
    }
  }

  private async offsetCommit(body: M, s: KafkaSession): Promise<Message> {
    const offsets = (body.topics as M[]).flatMap((t) =>
      (t.partitions as M[]).map((p) => ({
        topic: t.name as string,
        partition: p.partitionIndex as number,
        offset: p.committedOffset as number,
        leaderEpoch: (p.committedLeaderEpoch as number) < 0 ? undefined : p.committedLeaderEpoch,
        metadata: (p.committedMetadata as string | null) ?? '',
      })),
    );
    const answer = (errorOf: (i: number) => number) => ({
      throttleTimeMs: 0,
      topics: byTopic(
        offsets.map((o, i) => ({ ...o, i })),
        (o) => ({ partitionIndex: o.partition, errorCode: errorOf(o.i) }),
      ).map((t) => ({ name: t.topic, partitions: t.partitions })),
    });
    if (!this.may(s, 'Read', 'Group', body.groupId as string)) {
      const code = kafkaErrorCode('GROUP_AUTHORIZATION_FAILED');
      return answer(() => code);
    }
    // Partitions of topics the caller may not Read are answered TOPIC_AUTHORIZATION_FAILED, nothing written for them.
    const readable = this.topicCheck(s, 'Read');
    const kept = offsets.filter((o) => readable(o.topic));
    try {
      const r =
        kept.length === 0
          ? { partitions: [] }
          : await this.o.groups.commitOffsets(
              parseOffsetCommit({
                groupId: body.groupId,
                generationId: body.generationId,
                memberId: body.memberId,
                groupInstanceId: body.groupInstanceId,
                offsets: kept,
              }),
            );
      const refused = kafkaErrorCode('TOPIC_AUTHORIZATION_FAILED');
      const served = new Map(kept.map((o, i) => [o, r.partitions[i]]));
      return answer((i) => (readable(offsets[i]!.topic) ? errorNumber(served.get(offsets[i]!)?.error) : refused));
    } catch (err) {
      const code = kafkaErrorCode(codeOf(err));
      return answer(() => code);
    }
  }

  private offsetFetch(v: number, body: M, s: KafkaSession): Message {
    // v7's requireStable changes nothing: without transactions every committed offset is stable.
    if (v >= 8) {
      // KIP-709: several groups in one request, each answered as a v7 request for it alone.
      return {
        throttleTimeMs: 0,
        groups: (body.groups as M[]).map((g) => {
          const r = this.offsetFetchGroup(v, g.groupId as string, g.topics as M[] | null, s);
          return { groupId: g.groupId, topics: r.topics, errorCode: r.errorCode };
        }),
      };
    }
    return { throttleTimeMs: 0, ...this.offsetFetchGroup(v, body.groupId as string, body.topics as M[] | null, s) };
  }

  private offsetFetchGroup(v: number, groupId: string, topics: M[] | null, s: KafkaSession): { topics: M[]; errorCode: number } {
    const asked =
      topics === null ? undefined : topics.flatMap((t) => (t.partitionIndexes as number[]).map((partition) => ({ topic: t.name as string, partition })));
    try {
      if (!this.may(s, 'Describe', 'Group', groupId))
        throw new TributaryError('GROUP_AUTHORIZATION_FAILED', `${s.principal.name} is not authorized to Describe group '${groupId}'`);
      const input = parseOffsetFetch({ groupId, partitions: asked });
      // Offsets of topics the caller may not Describe are left out.
      const describable = this.topicCheck(s, 'Describe');
      const offsets = this.o.groups.fetchOffsets(input.groupId, input.partitions).offsets.filter((o) => describable(o.topic));
      return {
        topics: byTopic(offsets, (o) => ({
          partitionIndex: o.partition,
          committedOffset: o.offset,
          committedLeaderEpoch: o.leaderEpoch ?? -1,
          metadata: o.metadata ?? '',
          errorCode: 0,
        })).map((t) => ({ name: t.topic, partitions: t.partitions })),
        errorCode: 0,
      };
    } catch (err) {
      const code = kafkaErrorCode(codeOf(err));
      // v2+ carry a whole-request (v8: whole-group) error; v1 only per partition.
      return {
        topics:
          v >= 2
            ? []
            : byTopic(asked ?? [], (p) => ({ partitionIndex: p.partition, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: code })).map(
                (t) => ({
                  name: t.topic,
                  partitions: t.partitions,
                }),
              ),
        errorCode: code,
      };
    }
  }

  // ------------------------------------------------------------------------- admin

  private async createTopics(v: number, body: M, s: KafkaSession): Promise<Message> {
    const live = this.liveBrokers().length;
    const timeoutMs = clamp(body.timeoutMs as number, 0, CREATE_TOPICS_WAIT_MS_MAX);
    const results = await Promise.all(
      (body.topics as M[]).map(async (t) => {
        const name = t.name as string;
        const fail = (code: ErrorCode, message: string) => ({
          name,
          topicId: ZERO_UUID,
          errorCode: kafkaErrorCode(code),
          errorMessage: v >= 1 ? message : null,
          numPartitions: -1,
          replicationFactor: -1,
          configs: null,
        });
        // v5+ answer with what was created: partitions, replication factor, every config with its
        // source (KIP-525); v7 with the topic id (KIP-516).
        const created = (topicId: string, partitions: number, replicationFactor: number, topicConfigs: TopicConfigs) => ({
          name,
          topicId,
          errorCode: 0,
          errorMessage: null,
          numPartitions: partitions,
          replicationFactor,
          configs: Object.keys(TOPIC_CONFIG_SPECS)
            .sort()
            .map((key) => {
              const value = topicConfigs[key as keyof TopicConfigs];
              // As Kafka: a config the request set is the topic's own (TOPIC_CONFIG), even at the default value.
              const own = Object.hasOwn(configs, key) || value !== DEFAULT_TOPIC_CONFIGS[key as keyof TopicConfigs];
              return { name: key, value: String(value), readOnly: false, configSource: own ? 1 : 5, isSensitive: false };
            }),
        });
        if ((t.assignments as M[]).length > 0)
          return fail('INVALID_REQUEST', 'manual replica assignments are not supported; give numPartitions and replicationFactor');
        const configs: Record<string, string> = {};
        for (const c of t.configs as M[]) if (c.value !== null) configs[c.name] = c.value;
        const request: CreateTopicRequest = {
          name,
          // KIP-464: -1 takes the broker's defaults (num.partitions 1; default.replication.factor min(3, live brokers)).
          partitions: t.numPartitions === -1 ? 1 : t.numPartitions,
          replicationFactor: t.replicationFactor === -1 ? Math.max(1, Math.min(3, live)) : t.replicationFactor,
          configs,
        };
        if (body.validateOnly === true) {
          // The controller runs every check a creation makes (the ACLs too, as the caller) and creates nothing.
          try {
            const checked = (await this.o.forwardAdmin('create-topic', { ...request, validateOnly: true }, this.caller(s))) as CreateTopicResponse;
            return created(
              ZERO_UUID,
              checked.topic.partitions.length,
              checked.topic.partitions[0]?.replicas.length ?? request.replicationFactor,
              checked.topic.configs,
            );
          } catch (err) {
            return fail(codeOf(err), (err as Error).message);
          }
        }
        let reply: CreateTopicResponse;
        try {
          reply = (await this.o.forwardAdmin('create-topic', request, this.caller(s))) as CreateTopicResponse;
        } catch (err) {
          return fail(codeOf(err), (err as Error).message);
        }
        await this.waitFor(() => {
          const topic = this.o.replicas.metadata.topic(name);
          return topic?.partitions.every((p) => p.leader >= 0) === true;
        }, timeoutMs);
        const topic = reply.topic;
        return created(kafkaTopicId(topic.topicId), topic.partitions.length, topic.partitions[0]?.replicas.length ?? request.replicationFactor, topic.configs);
      }),
    );
    return { throttleTimeMs: 0, topics: results };
  }

  private async deleteTopics(v: number, body: M, s: KafkaSession): Promise<Message> {
    // v6 names each topic by name or by id (KIP-516), not both.
    const asked: { name: string | null; topicId: string }[] =
      v >= 6
        ? (body.topics as M[]).map((t) => ({ name: t.name as string | null, topicId: t.topicId as string }))
        : (body.topicNames as string[]).map((name) => ({ name, topicId: ZERO_UUID }));
    const responses = await Promise.all(
      asked.map(async ({ name: askedName, topicId }) => {
        const answer = (name: string | null, id: string, code: number, message: string | null = null) => ({
          name: v >= 6 ? name : (name ?? ''),
          topicId: id,
          errorCode: code,
          errorMessage: code === 0 ? null : message,
        });
        if ((askedName === null) === (topicId === ZERO_UUID)) {
          return answer(askedName, topicId, kafkaErrorCode('INVALID_REQUEST'), 'name a topic by its name or by its id, not both or neither');
        }
        const name = askedName ?? this.topicNameOf(topicId);
        if (name === undefined) return answer(null, topicId, kafkaErrorCode('UNKNOWN_TOPIC_ID'), `no topic has id ${topicId}`);
        const known = this.o.replicas.metadata.topic(name);
        const id = known === undefined ? topicId : kafkaTopicId(known.topicId);
        if (name === CONSUMER_OFFSETS_TOPIC) return answer(name, id, kafkaErrorCode('INVALID_TOPIC'), `${name} is internal and cannot be deleted`);
        try {
          await this.o.forwardAdmin('delete-topic', { name }, this.caller(s));
          return answer(name, id, 0);
        } catch (err) {
          return answer(name, id, kafkaErrorCode(codeOf(err)), (err as Error).message);
        }
      }),
    );
    return { throttleTimeMs: 0, responses };
  }

  private async describeConfigs(v: number, body: M, s: KafkaSession): Promise<Message> {
    const results = await Promise.all(
      (body.resources as M[]).map(async (r) => {
        const base = { resourceType: r.resourceType as number, resourceName: r.resourceName as string };
        const fail = (code: ErrorCode, message: string) => ({ ...base, errorCode: kafkaErrorCode(code), errorMessage: message, configs: [] });
        let resource: { topic: string } | { broker: number };
        if (r.resourceType === 2) resource = { topic: r.resourceName as string };
        else if (r.resourceType === 4) {
          const id = r.resourceName === '' ? this.o.brokerId : Number(r.resourceName);
          if (!Number.isInteger(id) || id < 0) return fail('INVALID_REQUEST', `broker resource name must be a broker id, got '${r.resourceName}'`);
          resource = { broker: id };
        } else return fail('INVALID_REQUEST', `resource type ${r.resourceType} is not supported (2 = topic, 4 = broker)`);
        try {
          const described = (await this.o.forwardAdmin('describe-configs', { resource }, this.caller(s))) as DescribeConfigsResponse;
          const keys = r.configurationKeys as string[] | null;
          const wanted = keys === null || keys.length === 0 ? described.configs : described.configs.filter((c) => keys.includes(c.name));
          const dynamic = 'topic' in resource ? 1 : 2; // DYNAMIC_TOPIC_CONFIG, DYNAMIC_BROKER_CONFIG
          return {
            ...base,
            errorCode: 0,
            errorMessage: null,
            configs: wanted.map((c) => ({
              name: c.name,
              value: c.value === null ? null : String(c.value),
              readOnly: false,
              isDefault: c.isDefault,
              configSource: c.isDefault ? 5 /* DEFAULT_CONFIG */ : dynamic,
              isSensitive: false,
              configType: CONFIG_TYPES.get(c.name) ?? 0 /* UNKNOWN */,
              documentation: v >= 3 && body.includeDocumentation === true ? c.doc : null,
              synonyms:
                v >= 1 && body.includeSynonyms === true && c.value !== null
                  ? [{ name: c.name, value: String(c.value), source: c.isDefault ? 5 : dynamic }]
                  : [],
            })),
          };
        } catch (err) {
          return fail(codeOf(err), (err as Error).message);
        }
      }),
    );
    return { throttleTimeMs: 0, results };
  }

  private async waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
    const now = this.o.now ?? Date.now;
    const deadline = now() + timeoutMs;
    while (!done() && now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A Produce partition's records, cut into its batches (clients send one; more are appended in
 * order). A message that is not a whole number of v2 batches is refused, as a string.
 */
export function splitBatches(records: Buffer | null): Buffer[] | string {
  if (records === null || records.length === 0) return 'no records';
  const out: Buffer[] = [];
  let pos = 0;
  try {
    while (pos < records.length) {
      const size = batchSizeAt(records, pos);
      if (size < 61 || pos + size > records.length) return `a batch of ${size} bytes at ${pos} does not fit the ${records.length} bytes sent`;
      out.push(records.subarray(pos, pos + size));
      pos += size;
    }
  } catch (err) {
    return (err as Error).message;
  }
  return out;
}

/**
 * DescribeConfigs v3+'s config types (KIP-569: 1 BOOLEAN, 3 INT, 5 LONG, 6 DOUBLE, 7 LIST), as
 * Kafka's own definitions of these configs have them.
 */
const CONFIG_TYPES = new Map<string, number>([
  ['cleanup.policy', 7],
  ['delete.retention.ms', 5],
  ['flush.messages', 5],
  ['flush.ms', 5],
  ['follower.replication.throttled.rate', 5],
  ['follower.replication.throttled.replicas', 7],
  ['index.interval.bytes', 3],
  ['leader.replication.throttled.rate', 5],
  ['leader.replication.throttled.replicas', 7],
  ['max.compaction.lag.ms', 5],
  ['max.message.bytes', 3],
  ['min.cleanable.dirty.ratio', 6],
  ['min.compaction.lag.ms', 5],
  ['min.insync.replicas', 3],
  ['retention.bytes', 5],
  ['retention.ms', 5],
  ['segment.bytes', 3],
  ['segment.ms', 5],
  ['unclean.leader.election.enable', 1],
]);

const KAFKA_API_NAMES = new Map<number, string>([
  [0, 'kafka_produce'],
  [1, 'kafka_fetch'],
  [2, 'kafka_list_offsets'],
  [3, 'kafka_metadata'],
  [8, 'kafka_offset_commit'],
  [9, 'kafka_offset_fetch'],
  [10, 'kafka_find_coordinator'],
  [11, 'kafka_join_group'],
  [12, 'kafka_heartbeat'],
  [13, 'kafka_leave_group'],
  [14, 'kafka_sync_group'],
  [18, 'kafka_api_versions'],
  [19, 'kafka_create_topics'],
  [20, 'kafka_delete_topics'],
  [22, 'kafka_init_producer_id'],
  [23, 'kafka_offset_for_leader_epoch'],
  [32, 'kafka_describe_configs'],
  [17, 'kafka_sasl_handshake'],
  [36, 'kafka_sasl_authenticate'],
]);
