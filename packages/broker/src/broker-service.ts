// The broker's HTTP edge (api.ts): parses and validates every field of every request
// (INVALID_REQUEST naming the field; nothing reaches the core as garbage), calls the
// ReplicaManager, and answers. Registered on each listener's fastify app; `listener` says which
// advertised addresses /metadata answers with (DESIGN.md § Listeners).

import {
  ADMIN_OPS,
  FETCH_SESSION_FINAL_EPOCH,
  TributaryError,
  arrayField,
  asBody,
  bytesField,
  intField,
  optionalIntField,
  optionalStringField,
  stringField,
  type BrokerMetadataResponse,
  type Endpoint,
  type HealthResponse,
} from '@tributary/protocol';
import { PROMETHEUS_CONTENT_TYPE, routeLimits, type BodyLimits, type FastifyInstance, type FastifyRequest } from '@tributary/transport/server';
import { isClusterProcess } from '@tributary/auth';
import { ProcessSecurity, clientHost } from '@tributary/auth/server';
import type { BrokerConfig } from './config.ts';
import type { BrokerMetrics } from './metrics.ts';
import { REPLICA_DIGEST_LIMITS, type FetchInput, type ProduceInput, type ReplicaFetchInput, type ReplicaManager } from './replica-manager.ts';

/** Bounds on request fields (STYLE.md: every wait and body has a named maximum). */
export const REQUEST_LIMITS = Object.freeze({
  partitionsMax: 10_000,
  topicNameMax: 249,
  partitionIdMax: 1_000_000,
  timeoutMsMax: 300_000,
  maxWaitMsMax: 60_000,
  /**
   * A fetch's byte fields are Kafka's int32s; what the broker serves is clamped further to its
   * fetch.max.bytes (`fetchBytesMax` in config), as Kafka clamps a consumer's fetch.max.bytes.
   */
  fetchBytesFieldMax: 0x7fffffff,
  brokerIdMax: 1_000_000,
  /** Containers in a request body: body → partitions → entry (3); a little room for additions. */
  bodyDepthMax: 8,
});

/**
 * Values (msgpack elements, map keys included) one partition entry may take: an entry is a map
 * of at most 7 fields (14 elements) plus itself. A body's elementsMax is partitionsMax entries
 * plus its top-level fields.
 */
const ENTRY_ELEMENTS_MAX = 16;
const BODY_ELEMENTS_MAX = 64;
/** Admin bodies (forwarded to the controller): elect-leaders lists up to 10,000 partitions. */
const ADMIN_ELEMENTS_MAX = 16_384;

export type BrokerRouteLimits = Readonly<Record<'produce' | 'fetch' | 'admin', BodyLimits>>;

/**
 * Body limits per route, sized to the largest legitimate request: a produce body to the
 * producer's request size and partitionsMax entries, fetch-like bodies to partitionsMax entries
 * with the longest topic names, admin bodies to what the controller accepts.
 */
export function brokerRouteLimits(config: Pick<BrokerConfig, 'produceBodyBytesMax' | 'fetchBodyBytesMax' | 'adminBodyBytesMax'>): BrokerRouteLimits {
  const entries = ENTRY_ELEMENTS_MAX * REQUEST_LIMITS.partitionsMax + BODY_ELEMENTS_MAX;
  return Object.freeze({
    produce: Object.freeze({ bodyBytesMax: config.produceBodyBytesMax, elementsMax: entries, depthMax: REQUEST_LIMITS.bodyDepthMax }),
    fetch: Object.freeze({ bodyBytesMax: config.fetchBodyBytesMax, elementsMax: entries, depthMax: REQUEST_LIMITS.bodyDepthMax }),
    admin: Object.freeze({ bodyBytesMax: config.adminBodyBytesMax, elementsMax: ADMIN_ELEMENTS_MAX, depthMax: REQUEST_LIMITS.bodyDepthMax }),
  });
}

export interface BrokerServiceDeps {
  brokerId: number;
  listener: 'internal' | 'external';
  replicas: ReplicaManager;
  metrics: BrokerMetrics;
  controller: Endpoint;
  /** Registered with the controller and holding metadata. */
  isReady: () => boolean;
  /** `principal`: the client the broker authenticated, for the controller to authorize (absent: plaintext). */
  forwardAdmin: (op: string, body: unknown, principal?: { name: string; host: string }) => Promise<unknown>;
  /** Authentication and ACLs (issue 20); absent or disabled: nothing is checked. */
  security?: ProcessSecurity;
  /** Body limits per route (`brokerRouteLimits(config)`). */
  routeLimits: BrokerRouteLimits;
  /** fetch.max.bytes: fetch answers are clamped to it. */
  fetchBytesMax: number;
}

type Api = 'metadata' | 'produce' | 'fetch' | 'list_offsets' | 'replica_fetch' | 'describe_replicas' | 'replica_digests' | 'admin';

function topicPartition(entry: Record<string, unknown>): { topic: string; partition: number } {
  return {
    topic: stringField(entry, 'topic', REQUEST_LIMITS.topicNameMax),
    partition: intField(entry, 'partition', { min: 0, max: REQUEST_LIMITS.partitionIdMax }),
  };
}

function entries(body: Record<string, unknown>, name: string): Record<string, unknown>[] {
  return arrayField(body, name, REQUEST_LIMITS.partitionsMax).map((e, i) => asBody(e, `${name}[${i}]`));
}

export function parseProduce(raw: unknown): ProduceInput {
  const body = asBody(raw);
  const acks = intField(body, 'acks', { min: -1, max: 1 }) as -1 | 0 | 1;
  const timeoutMs = optionalIntField(body, 'timeoutMs', 30_000, { min: 0, max: REQUEST_LIMITS.timeoutMsMax });
  const partitions = entries(body, 'partitions').map((e) => ({ ...topicPartition(e), records: bytesField(e, 'records') }));
  return { acks, timeoutMs, partitions };
}

/** Kafka's consumer defaults: fetch.max.bytes 50 MiB per answer, max.partition.fetch.bytes 1 MiB. */
const FETCH_MAX_BYTES_DEFAULT = 50 * 1024 * 1024;
const PARTITION_FETCH_MAX_BYTES_DEFAULT = 1024 * 1024;

/**
 * A consumer fetch. Byte sizes beyond the broker's `fetchBytesMax` (fetch.max.bytes) are clamped
 * to it, not refused, as Kafka does (`min(request.maxBytes, fetch.max.bytes)`): a partition's
 * share cannot exceed the answer's either. What is read is then sized by the log's data.
 */
export function parseFetch(raw: unknown, fetchBytesMax: number = FETCH_MAX_BYTES_DEFAULT): FetchInput {
  const body = asBody(raw);
  const bytes = (e: Record<string, unknown>, name: string, fallback: number, min: number) =>
    Math.min(optionalIntField(e, name, fallback, { min, max: REQUEST_LIMITS.fetchBytesFieldMax }), fetchBytesMax);
  const maxWaitMs = optionalIntField(body, 'maxWaitMs', 500, { min: 0, max: REQUEST_LIMITS.maxWaitMsMax });
  const minBytes = bytes(body, 'minBytes', 1, 0);
  const maxBytes = bytes(body, 'maxBytes', FETCH_MAX_BYTES_DEFAULT, 1);
  const rack = optionalStringField(body, 'rack', 64);
  const partitions = entries(body, 'partitions').map((e) => {
    const epoch = e.currentLeaderEpoch;
    return {
      ...topicPartition(e),
      offset: intField(e, 'offset', { min: 0 }),
      maxBytes: bytes(e, 'maxBytes', PARTITION_FETCH_MAX_BYTES_DEFAULT, 1),
      currentLeaderEpoch: epoch === undefined || epoch === null ? undefined : intField(e, 'currentLeaderEpoch', { min: -1, max: 0x7fffffff }),
    };
  });
  return { maxWaitMs, minBytes, maxBytes, rack, partitions };
}

/** A follower's fetch; its maxBytes (the follower's replica.fetch.response.max.bytes) is clamped to fetchBytesMax too. */
export function parseReplicaFetch(raw: unknown, fetchBytesMax: number = FETCH_MAX_BYTES_DEFAULT): ReplicaFetchInput {
  const body = asBody(raw);
  const brokerId = intField(body, 'brokerId', { min: 0, max: REQUEST_LIMITS.brokerIdMax });
  // No escape value: a follower always says which incarnation it is (KIP-903).
  const brokerEpoch = intField(body, 'brokerEpoch', { min: 0, max: 0x7fffffff });
  const maxWaitMs = optionalIntField(body, 'maxWaitMs', 500, { min: 0, max: REQUEST_LIMITS.maxWaitMsMax });
  const maxBytes = Math.min(optionalIntField(body, 'maxBytes', 10 * 1024 * 1024, { min: 1, max: REQUEST_LIMITS.fetchBytesFieldMax }), fetchBytesMax);
  const partitions = entries(body, 'partitions').map((e) => ({
    ...topicPartition(e),
    fetchOffset: intField(e, 'fetchOffset', { min: 0 }),
    lastFetchedEpoch: intField(e, 'lastFetchedEpoch', { min: -1, max: 0x7fffffff }),
    currentLeaderEpoch: intField(e, 'currentLeaderEpoch', { min: -1, max: 0x7fffffff }),
    ...(e.maxBytes === undefined || e.maxBytes === null
      ? {}
      : { maxBytes: Math.min(intField(e, 'maxBytes', { min: 1, max: REQUEST_LIMITS.fetchBytesFieldMax }), fetchBytesMax) }),
  }));
  // KIP-227 session fields; a request without them is a full fetch with no session.
  const sessionId = optionalIntField(body, 'sessionId', 0, { min: 0, max: 0x7fffffff });
  const sessionEpoch = optionalIntField(body, 'sessionEpoch', FETCH_SESSION_FINAL_EPOCH, { min: FETCH_SESSION_FINAL_EPOCH, max: 0x7fffffff });
  const forgotten = body.forgotten === undefined || body.forgotten === null ? [] : entries(body, 'forgotten').map(topicPartition);
  return { brokerId, brokerEpoch, maxWaitMs, maxBytes, sessionId, sessionEpoch, forgotten, partitions };
}

export function parseListOffsets(raw: unknown): { topic: string; partition: number; timestamp: number }[] {
  const body = asBody(raw);
  return entries(body, 'partitions').map((e) => ({ ...topicPartition(e), timestamp: intField(e, 'timestamp', { min: -2 }) }));
}

/** Kafka's per-partition error for a topic the caller may not use this way. */
function topicRefused(principal: string, operation: string, topic: string) {
  return { code: 'TOPIC_AUTHORIZATION_FAILED' as const, message: `${principal} is not authorized to ${operation} topic '${topic}'` };
}

/**
 * Runs `serve` on the entries the caller may use and answers the others with `refused`, keeping
 * the request's order. Without security (or with every entry allowed) it is `serve` alone.
 */
async function servePermitted<E extends { topic: string }, R>(
  entries: E[],
  allowed: (topic: string) => boolean,
  serve: (kept: E[]) => Promise<R[]> | R[],
  refused: (entry: E) => R,
): Promise<R[]> {
  if (entries.every((e) => allowed(e.topic))) return serve(entries);
  const kept = entries.filter((e) => allowed(e.topic));
  const served = kept.length === 0 ? [] : await serve(kept);
  let next = 0;
  return entries.map((e) => (allowed(e.topic) ? served[next++]! : refused(e)));
}

export function registerBrokerRoutes(app: FastifyInstance, deps: BrokerServiceDeps): void {
  const { replicas, metrics } = deps;
  const security = deps.security?.enabled ? deps.security : undefined;
  const topicCheck = (request: FastifyRequest, operation: 'Read' | 'Write' | 'Describe') =>
    security === undefined ? () => true : security.checker(request, operation, 'Topic');
  const principalName = (request: FastifyRequest) => security?.principal(request).name ?? 'User:ANONYMOUS';
  const limits = {
    produce: routeLimits(deps.routeLimits.produce),
    fetch: routeLimits(deps.routeLimits.fetch),
    admin: routeLimits(deps.routeLimits.admin),
  };

  /** Counts each request by its outcome; whole-request errors propagate to transport's handler. */
  async function counted<T>(api: Api, fn: () => Promise<T> | T): Promise<T> {
    try {
      const result = await fn();
      metrics.requests.inc({ api, error: 'none' });
      return result;
    } catch (err) {
      metrics.requests.inc({ api, error: err instanceof TributaryError ? err.code : 'UNKNOWN_SERVER_ERROR' });
      throw err;
    }
  }

  function countPartitionErrors(api: Api, partitions: { error?: { code: string } }[]): void {
    for (const p of partitions) if (p.error !== undefined) metrics.partitionErrors.inc({ api, error: p.error.code });
  }

  app.post('/metadata', limits.fetch, (request) =>
    counted('metadata', () => {
      const body = asBody(request.body ?? {});
      const asked =
        body.topics === undefined || body.topics === null
          ? undefined
          : arrayField(body, 'topics', REQUEST_LIMITS.partitionsMax).map((t, i) =>
              stringField({ [`topics[${i}]`]: t }, `topics[${i}]`, REQUEST_LIMITS.topicNameMax),
            );
      const cache = replicas.metadata;
      const external = deps.listener === 'external';
      // Kafka's Metadata: all topics means those the caller may Describe (the rest are not
      // mentioned); a topic asked for by name without Describe is TOPIC_AUTHORIZATION_FAILED,
      // whether or not it exists, so its existence is not told.
      const describable = (name: string, report: boolean) => security === undefined || security.allows(request, 'Describe', 'Topic', name, report);
      const response: BrokerMetadataResponse = {
        clusterId: cache.metadata.clusterId,
        version: cache.version,
        brokerId: deps.brokerId,
        controller: deps.controller,
        brokers: cache.allBrokers().map((b) => {
          const ep = external ? b.external : b.internal;
          return { id: b.id, rack: b.rack, host: ep.host, port: ep.port, alive: b.alive };
        }),
        topics: [],
        unknownTopics: [],
      };
      const unauthorized: string[] = [];
      const topics =
        asked === undefined
          ? cache.allTopics().filter((t) => describable(t.name, false))
          : asked.flatMap((name) => {
              if (!describable(name, true)) {
                unauthorized.push(name);
                return [];
              }
              const t = cache.topic(name);
              if (t === undefined) response.unknownTopics.push(name);
              return t === undefined ? [] : [t];
            });
      if (unauthorized.length > 0) response.unauthorizedTopics = unauthorized;
      response.topics = topics.map((t) => ({
        name: t.name,
        configs: t.configs,
        partitions: t.partitions.map((p) => ({
          partition: p.partition,
          leader: p.leader,
          leaderEpoch: p.leaderEpoch,
          replicas: p.replicas,
          isr: p.isr,
          addingReplicas: p.addingReplicas ?? [],
          removingReplicas: p.removingReplicas ?? [],
        })),
      }));
      return response;
    }),
  );

  app.post('/produce', limits.produce, (request) =>
    counted('produce', async () => {
      const input = parseProduce(request.body);
      const timer = metrics.requestLatency.startTimer({ api: input.acks === -1 ? 'produce_acks_all' : 'produce' });
      let bytesIn = 0;
      const partitions = await servePermitted(
        input.partitions,
        topicCheck(request, 'Write'),
        async (kept) => {
          const answer = await replicas.produce(kept === input.partitions ? input : { ...input, partitions: kept });
          bytesIn = answer.bytesIn;
          return answer.partitions;
        },
        (p) => ({ topic: p.topic, partition: p.partition, baseOffset: -1, error: topicRefused(principalName(request), 'Write', p.topic) }),
      );
      timer();
      metrics.bytesIn.inc(bytesIn);
      countPartitionErrors('produce', partitions);
      return { partitions };
    }),
  );

  app.post('/fetch', limits.fetch, (request) =>
    counted('fetch', async () => {
      const input = parseFetch(request.body, deps.fetchBytesMax);
      const timer = metrics.requestLatency.startTimer({ api: 'fetch' });
      let bytesOut = 0;
      const partitions = await servePermitted(
        input.partitions,
        topicCheck(request, 'Read'),
        async (kept) => {
          const answer = await replicas.fetch(kept === input.partitions ? input : { ...input, partitions: kept });
          bytesOut = answer.bytesOut;
          return answer.partitions;
        },
        (p) => ({
          topic: p.topic,
          partition: p.partition,
          highWatermark: -1,
          logStartOffset: -1,
          records: Buffer.alloc(0),
          error: topicRefused(principalName(request), 'Read', p.topic),
        }),
      );
      timer();
      metrics.bytesOut.inc(bytesOut);
      countPartitionErrors('fetch', partitions);
      return { partitions };
    }),
  );

  // Followers only, so the internal listener only: a client that could reach it could claim to be
  // a follower, move the HW and pull a lagging replica into the ISR (DESIGN.md § Listeners).
  if (deps.listener === 'internal')
    app.post('/replica/fetch', limits.fetch, (request) =>
      counted('replica_fetch', async () => {
        const input = parseReplicaFetch(request.body, deps.fetchBytesMax);
        // Only broker N's certificate fetches as broker N (a secure cluster; cluster-identity.ts).
        security?.requireClusterCall(request, { route: '/replica/fetch', brokerId: input.brokerId });
        const timer = metrics.requestLatency.startTimer({ api: 'replica_fetch' });
        const { sessionId, partitions, bytesOut, reassignmentBytesOut } = await replicas.replicaFetch(input);
        timer();
        metrics.bytesOut.inc(bytesOut);
        if (reassignmentBytesOut > 0) metrics.reassignmentBytesOut.inc(reassignmentBytesOut);
        countPartitionErrors('replica_fetch', partitions);
        return { sessionId, partitions };
      }),
    );

  app.post('/list-offsets', limits.fetch, (request) =>
    counted('list_offsets', async () => {
      const asked = parseListOffsets(request.body);
      const response = {
        partitions: await servePermitted(
          asked,
          topicCheck(request, 'Describe'),
          (kept) => replicas.listOffsets(kept).partitions,
          (p) => ({ topic: p.topic, partition: p.partition, offset: -1, timestamp: -1, error: topicRefused(principalName(request), 'Describe', p.topic) }),
        ),
      };
      countPartitionErrors('list_offsets', response.partitions);
      return response;
    }),
  );

  app.post('/describe-replicas', limits.admin, (request) =>
    counted('describe_replicas', () => {
      const body = asBody(request.body);
      const topic = stringField(body, 'topic', REQUEST_LIMITS.topicNameMax);
      security?.require(request, 'Describe', 'Topic', topic);
      return replicas.describeReplicas(topic);
    }),
  );

  app.post<{ Params: { op: string } }>('/admin/:op', limits.admin, (request) =>
    counted('admin', async () => {
      const op = request.params.op;
      if (!(ADMIN_OPS as readonly string[]).includes(op)) {
        throw new TributaryError('INVALID_REQUEST', `unknown admin operation '${op}'; known: ${ADMIN_OPS.join(', ')}`);
      }
      // The controller authorizes the call as the client (an envelope); a cluster process as itself.
      const principal = security?.principal(request);
      return principal === undefined || isClusterProcess(principal)
        ? deps.forwardAdmin(op, request.body)
        : deps.forwardAdmin(op, request.body, { name: principal.name, host: clientHost(request) });
    }),
  );

  (deps.security ?? ProcessSecurity.plaintext()).registerAuthRoute(app);

  app.get('/health', async (_request, reply) => {
    const ready = deps.isReady();
    const body: HealthResponse = { status: ready ? 'ok' : 'starting', role: 'broker', brokerId: deps.brokerId, metadataVersion: replicas.metadata.version };
    return reply.code(ready ? 200 : 503).send(body);
  });

  app.get('/metrics', async (_request, reply) => {
    // A Buffer, not a string: the msgpack reply serializer would wrap a string in a msgpack header.
    const text = await metrics.text();
    return reply.header('content-type', PROMETHEUS_CONTENT_TYPE).send(Buffer.from(text));
  });

  app.post('/replica-digests', (request) =>
    counted('replica_digests', () => {
      const input = parseReplicaDigests(request.body);
      security?.require(request, 'Describe', 'Topic', input.topic);
      return replicas.replicaDigests(input.topic, input.from, input.maxBatches);
    }),
  );
}

/** `POST /replica-digests` (api.ts ReplicaDigestsRequest): the topic, where to start and end, a page size. */
export function parseReplicaDigests(raw: unknown): {
  topic: string;
  from: Map<number, { fromOffset: number; toOffset?: number }> | undefined;
  maxBatches: number;
} {
  const body = asBody(raw);
  const topic = stringField(body, 'topic', REQUEST_LIMITS.topicNameMax);
  const maxBatches = optionalIntField(body, 'maxBatches', REPLICA_DIGEST_LIMITS.batchesMax, { min: 1, max: REPLICA_DIGEST_LIMITS.batchesMax });
  let from: Map<number, { fromOffset: number; toOffset?: number }> | undefined;
  if (body.partitions !== undefined && body.partitions !== null) {
    from = new Map();
    for (const e of entries(body, 'partitions')) {
      const partition = intField(e, 'partition', { min: 0, max: REQUEST_LIMITS.partitionIdMax });
      const fromOffset = intField(e, 'fromOffset', { min: 0 });
      const toOffset = e.toOffset === undefined || e.toOffset === null ? undefined : intField(e, 'toOffset', { min: 0 });
      from.set(partition, toOffset === undefined ? { fromOffset } : { fromOffset, toOffset });
    }
  }
  return { topic, from, maxBatches };
}
