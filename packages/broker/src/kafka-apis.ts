// What each Kafka API does on this broker (issue 19, milestone 1): requests decoded by
// @tributary/kafka's generic codec come in as plain objects, go to the same ReplicaManager,
// CoordinatorHost and controller forwarding the HTTP routes use (broker-service.ts,
// group-service.ts, with their field checks), and come back as plain objects the codec encodes.
// Error names map to Kafka's numbers by name (@tributary/kafka errors.ts).
//
// On a secure cluster every request comes with the connection's principal (SASL or certificate,
// kafka-sasl.ts) and the ACLs decide as on the HTTP routes: Metadata lists the topics the caller
// may Describe and answers TOPIC_AUTHORIZATION_FAILED for one asked by name; Produce needs Write,
// Fetch Read, ListOffsets Describe on each topic (a refused partition gets
// TOPIC_AUTHORIZATION_FAILED, the rest are served); FindCoordinator Describe and the group APIs
// Read on the group (GROUP_AUTHORIZATION_FAILED), commits Read on each topic too, OffsetFetch
// Describe on the group and leaves out topics the caller may not Describe; InitProducerId,
// CreateTopics, DeleteTopics and DescribeConfigs go to the controller as the caller (it asks for
// IdempotentWrite, Create, Delete, DescribeConfigs).

import {
  CONSUMER_OFFSETS_TOPIC,
  TributaryError,
  batchSizeAt,
  isInternalTopic,
  type BrokerRegistration,
  type CreateTopicRequest,
  type DescribeConfigsResponse,
  type Endpoint,
  type ErrorCode,
  type WireError,
} from '@tributary/protocol';
import { advertisedApis, kafkaErrorCode, type Message, type RequestHeaderValue } from '@tributary/kafka';
import { isClusterProcess, type Authorizer, type Operation, type Principal, type ResourceType } from '@tributary/auth';
import type { CoordinatorHost } from './coordinator-host.ts';
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

export class KafkaApis {
  private readonly o: KafkaApisOptions;
  private readonly secure: boolean;

  constructor(options: KafkaApisOptions) {
    this.o = options;
    this.secure = options.authorizer?.enabled === true;
  }

  /** The request's answer, or undefined for none (Produce with acks=0). */
  async handle(header: RequestHeaderValue, body: M, session: KafkaSession): Promise<Message | undefined> {
    const v = header.apiVersion;
    const api = KAFKA_API_NAMES.get(header.apiKey) ?? `kafka_${header.apiKey}`;
    this.o.metrics.requests.inc({ api, error: 'none' });
    const s = session;
    const group = (operation: 'Read' | 'Describe') => this.may(s, operation, 'Group', body.groupId as string);
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
        return this.initProducerId(body, s);
      case 10:
        return this.findCoordinator(v, body, s);
      case 11:
        return group('Read') ? this.joinGroup(v, body, header.clientId ?? '', s.clientHost) : this.groupRefused(header.apiKey, body);
      case 14:
        return group('Read') ? this.syncGroup(body) : this.groupRefused(header.apiKey, body);
      case 12:
        return group('Read') ? this.heartbeat(body) : this.groupRefused(header.apiKey, body);
      case 13:
        return group('Read') ? this.leaveGroup(v, body) : this.groupRefused(header.apiKey, body);
      case 8:
        return this.offsetCommit(body, s);
      case 9:
        return this.offsetFetch(v, body, s);
      case 19:
        return this.createTopics(v, body, s);
      case 20:
        return this.deleteTopics(body, s);
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
  private groupRefused(apiKey: number, body: M): Message {
    const errorCode = kafkaErrorCode('GROUP_AUTHORIZATION_FAILED');
    switch (apiKey) {
      case 11:
        return { throttleTimeMs: 0, errorCode, generationId: -1, protocolName: '', leader: '', memberId: body.memberId, members: [] };
      case 14:
        return { throttleTimeMs: 0, errorCode, assignment: EMPTY };
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

  private metadata(v: number, body: M, s: KafkaSession): Message {
    const cache = this.o.replicas.metadata;
    const brokers = this.liveBrokers();
    const alive = new Set(brokers.map((b) => b.id));
    // v0: an empty list asks for every topic; v1+: null does.
    const asked: string[] | undefined =
      body.topics === null || (v === 0 && body.topics.length === 0) ? undefined : (body.topics as M[]).map((t) => t.name as string);
    // All topics means those the caller may Describe; one asked by name without Describe is
    // TOPIC_AUTHORIZATION_FAILED whether or not it exists (its existence is not told).
    const names =
      asked ??
      cache
        .allTopics()
        .map((t) => t.name)
        .filter((name) => this.may(s, 'Describe', 'Topic', name, false));
    const topics = names.map((name) => {
      if (asked !== undefined && !this.may(s, 'Describe', 'Topic', name))
        return { errorCode: kafkaErrorCode('TOPIC_AUTHORIZATION_FAILED'), name, isInternal: false, partitions: [] };
      const t = cache.topic(name);
      if (t === undefined) return { errorCode: kafkaErrorCode('UNKNOWN_TOPIC_OR_PARTITION'), name, isInternal: false, partitions: [] };
      return {
        errorCode: 0,
        name,
        isInternal: isInternalTopic(name),
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
    const asked = (body.topics as M[]).flatMap((t) =>
      (t.partitions as M[]).map((p) => ({
        topic: t.topic as string,
        partition: p.partition as number,
        offset: p.fetchOffset as number,
        maxBytes: clamp(p.partitionMaxBytes as number, 1, this.o.fetchBytesMax),
        currentLeaderEpoch: (p.currentLeaderEpoch as number) < 0 ? undefined : (p.currentLeaderEpoch as number),
      })),
    );
    const readable = this.topicCheck(s, 'Read');
    const valid = asked.filter((p) => p.offset >= 0 && p.partition >= 0 && readable(p.topic));
    const rack = v >= 11 && body.rackId !== '' ? (body.rackId as string) : undefined;
    const { partitions, bytesOut } = await this.o.replicas.fetch({
      maxWaitMs: clamp(body.maxWaitMs as number, 0, REQUEST_LIMITS.maxWaitMsMax),
      minBytes: clamp(body.minBytes as number, 0, this.o.fetchBytesMax),
      maxBytes: clamp(body.maxBytes as number, 1, this.o.fetchBytesMax),
      rack,
      partitions: valid,
    });
    this.o.metrics.bytesOut.inc(bytesOut);
    const results = new Map(partitions.map((r, i) => [valid[i]!, r]));
    const readCommitted = body.isolationLevel === 1;
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: byTopic(asked, (p) => {
        const r = results.get(p);
        const code: ErrorCode | undefined = r === undefined ? (readable(p.topic) ? 'OFFSET_OUT_OF_RANGE' : 'TOPIC_AUTHORIZATION_FAILED') : r.error?.code;
        if (code !== undefined) this.o.metrics.partitionErrors.inc({ api: 'kafka_fetch', error: code });
        const hw = r?.highWatermark ?? -1;
        return {
          partitionIndex: p.partition,
          errorCode: kafkaErrorCode(code),
          highWatermark: hw,
          // No transactions: everything below the HW is stable.
          lastStableOffset: hw,
          logStartOffset: r?.logStartOffset ?? -1,
          abortedTransactions: readCommitted ? [] : null,
          preferredReadReplica: r?.preferredReadReplica ?? -1,
          records: r?.records ?? EMPTY,
        };
      }).map((t) => ({ topic: t.topic, partitions: t.partitions })),
    };
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

  private async initProducerId(body: M, s: KafkaSession): Promise<Message> {
    if (body.transactionalId !== null && body.transactionalId !== '') {
      return { throttleTimeMs: 0, errorCode: kafkaErrorCode('INVALID_REQUEST'), producerId: -1, producerEpoch: -1 };
    }
    try {
      const r = (await this.o.forwardAdmin('init-producer-id', {}, this.caller(s))) as { producerId: number; producerEpoch: number };
      return { throttleTimeMs: 0, errorCode: 0, producerId: r.producerId, producerEpoch: r.producerEpoch };
    } catch (err) {
      return { throttleTimeMs: 0, errorCode: kafkaErrorCode(codeOf(err)), producerId: -1, producerEpoch: -1 };
    }
  }

  // ------------------------------------------------------------------------- groups

  private findCoordinator(v: number, body: M, s: KafkaSession): Message {
    const failed = (code: ErrorCode, message: string) => ({
      throttleTimeMs: 0,
      errorCode: kafkaErrorCode(code),
      errorMessage: message,
      nodeId: -1,
      host: '',
      port: -1,
    });
    if (v >= 1 && body.keyType !== 0) return failed('COORDINATOR_NOT_AVAILABLE', 'transactions are not supported: there is no transaction coordinator');
    if (!this.may(s, 'Describe', 'Group', body.key as string))
      return failed('GROUP_AUTHORIZATION_FAILED', `${s.principal.name} is not authorized to Describe group '${body.key}'`);
    try {
      const found = this.o.groups.findCoordinator(body.key as string, this.o.listener);
      const b = this.o.replicas.metadata.broker(found.brokerId);
      const address = b === undefined ? undefined : this.kafkaAddress(b);
      if (address === undefined) return failed('COORDINATOR_NOT_AVAILABLE', `broker ${found.brokerId} has no Kafka listener`);
      return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: found.brokerId, host: address.host, port: address.port };
    } catch (err) {
      return failed(codeOf(err), (err as Error).message);
    }
  }

  private async joinGroup(v: number, body: M, clientId: string, clientHost: string): Promise<Message> {
    const failed = (code: ErrorCode, memberId = body.memberId as string) => ({
      throttleTimeMs: 0,
      errorCode: kafkaErrorCode(code),
      generationId: -1,
      protocolName: '',
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

  private async syncGroup(body: M): Promise<Message> {
    try {
      const r = await this.o.groups.sync(parseSyncGroup(body));
      return { throttleTimeMs: 0, errorCode: 0, assignment: r.assignment };
    } catch (err) {
      return { throttleTimeMs: 0, errorCode: kafkaErrorCode(codeOf(err)), assignment: EMPTY };
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
    const members = v >= 3 ? (body.members as M[]) : [{ memberId: body.memberId, groupInstanceId: null }];
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
    const asked =
      body.topics === null
        ? undefined
        : (body.topics as M[]).flatMap((t) => (t.partitionIndexes as number[]).map((partition) => ({ topic: t.name as string, partition })));
    try {
      if (!this.may(s, 'Describe', 'Group', body.groupId as string))
        throw new TributaryError('GROUP_AUTHORIZATION_FAILED', `${s.principal.name} is not authorized to Describe group '${body.groupId}'`);
      const input = parseOffsetFetch({ groupId: body.groupId, partitions: asked });
      // Offsets of topics the caller may not Describe are left out.
      const describable = this.topicCheck(s, 'Describe');
      const offsets = this.o.groups.fetchOffsets(input.groupId, input.partitions).offsets.filter((o) => describable(o.topic));
      return {
        throttleTimeMs: 0,
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
      // v2+ carry a whole-request error; v1 only per partition.
      return {
        throttleTimeMs: 0,
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
        const fail = (code: ErrorCode, message: string) => ({ name, errorCode: kafkaErrorCode(code), errorMessage: v >= 1 ? message : null });
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
          // The controller is not asked: the ACLs it would check (Create on the cluster or the topic) are checked here.
          if (this.secure && !isClusterProcess(s.principal) && !this.may(s, 'Create', 'Cluster', undefined, false) && !this.may(s, 'Create', 'Topic', name))
            return fail('TOPIC_AUTHORIZATION_FAILED', `${s.principal.name} is not authorized to Create topic '${name}'`);
          return { name, errorCode: 0, errorMessage: null };
        }
        try {
          await this.o.forwardAdmin('create-topic', request, this.caller(s));
        } catch (err) {
          return fail(codeOf(err), (err as Error).message);
        }
        await this.waitFor(() => {
          const topic = this.o.replicas.metadata.topic(name);
          return topic?.partitions.every((p) => p.leader >= 0) === true;
        }, timeoutMs);
        return { name, errorCode: 0, errorMessage: null };
      }),
    );
    return { throttleTimeMs: 0, topics: results };
  }

  private async deleteTopics(body: M, s: KafkaSession): Promise<Message> {
    const responses = await Promise.all(
      (body.topicNames as string[]).map(async (name) => {
        if (name === CONSUMER_OFFSETS_TOPIC) return { name, errorCode: kafkaErrorCode('INVALID_TOPIC') };
        try {
          await this.o.forwardAdmin('delete-topic', { name }, this.caller(s));
          return { name, errorCode: 0 };
        } catch (err) {
          return { name, errorCode: kafkaErrorCode(codeOf(err)) };
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
  [32, 'kafka_describe_configs'],
  [17, 'kafka_sasl_handshake'],
  [36, 'kafka_sasl_authenticate'],
]);
