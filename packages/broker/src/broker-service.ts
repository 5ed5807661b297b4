// The broker's HTTP edge (api.ts): parses and validates every field of every request
// (INVALID_REQUEST naming the field; nothing reaches the core as garbage), calls the
// ReplicaManager, and answers. Registered on each listener's fastify app; `listener` says which
// advertised addresses /metadata answers with (DESIGN.md § Listeners).

import {
  ADMIN_OPS,
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
import { PROMETHEUS_CONTENT_TYPE, type FastifyInstance } from '@tributary/transport/server';
import type { BrokerMetrics } from './metrics.ts';
import type { FetchInput, ProduceInput, ReplicaFetchInput, ReplicaManager } from './replica-manager.ts';

/** Bounds on request fields (STYLE.md: every wait and body has a named maximum). */
export const REQUEST_LIMITS = Object.freeze({
  partitionsMax: 10_000,
  topicNameMax: 249,
  partitionIdMax: 1_000_000,
  timeoutMsMax: 300_000,
  maxWaitMsMax: 60_000,
  fetchBytesMax: 256 * 1024 * 1024,
  brokerIdMax: 1_000_000,
});

export interface BrokerServiceDeps {
  brokerId: number;
  listener: 'internal' | 'external';
  replicas: ReplicaManager;
  metrics: BrokerMetrics;
  controller: Endpoint;
  /** Registered with the controller and holding metadata. */
  isReady: () => boolean;
  forwardAdmin: (op: string, body: unknown) => Promise<unknown>;
}

type Api = 'metadata' | 'produce' | 'fetch' | 'list_offsets' | 'replica_fetch' | 'describe_replicas' | 'admin';

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

export function parseFetch(raw: unknown): FetchInput {
  const body = asBody(raw);
  const maxWaitMs = optionalIntField(body, 'maxWaitMs', 500, { min: 0, max: REQUEST_LIMITS.maxWaitMsMax });
  const minBytes = optionalIntField(body, 'minBytes', 1, { min: 0, max: REQUEST_LIMITS.fetchBytesMax });
  const maxBytes = optionalIntField(body, 'maxBytes', 50 * 1024 * 1024, { min: 1, max: REQUEST_LIMITS.fetchBytesMax });
  const rack = optionalStringField(body, 'rack', 64);
  const partitions = entries(body, 'partitions').map((e) => {
    const epoch = e.currentLeaderEpoch;
    return {
      ...topicPartition(e),
      offset: intField(e, 'offset', { min: 0 }),
      maxBytes: optionalIntField(e, 'maxBytes', 1024 * 1024, { min: 1, max: REQUEST_LIMITS.fetchBytesMax }),
      currentLeaderEpoch: epoch === undefined || epoch === null ? undefined : intField(e, 'currentLeaderEpoch', { min: -1, max: 0x7fffffff }),
    };
  });
  return { maxWaitMs, minBytes, maxBytes, rack, partitions };
}

export function parseReplicaFetch(raw: unknown): ReplicaFetchInput {
  const body = asBody(raw);
  const brokerId = intField(body, 'brokerId', { min: 0, max: REQUEST_LIMITS.brokerIdMax });
  // No escape value: a follower always says which incarnation it is (KIP-903).
  const brokerEpoch = intField(body, 'brokerEpoch', { min: 0, max: 0x7fffffff });
  const maxWaitMs = optionalIntField(body, 'maxWaitMs', 500, { min: 0, max: REQUEST_LIMITS.maxWaitMsMax });
  const maxBytes = optionalIntField(body, 'maxBytes', 10 * 1024 * 1024, { min: 1, max: REQUEST_LIMITS.fetchBytesMax });
  const partitions = entries(body, 'partitions').map((e) => ({
    ...topicPartition(e),
    fetchOffset: intField(e, 'fetchOffset', { min: 0 }),
    lastFetchedEpoch: intField(e, 'lastFetchedEpoch', { min: -1, max: 0x7fffffff }),
    currentLeaderEpoch: intField(e, 'currentLeaderEpoch', { min: -1, max: 0x7fffffff }),
    ...(e.maxBytes === undefined || e.maxBytes === null ? {} : { maxBytes: intField(e, 'maxBytes', { min: 1, max: REQUEST_LIMITS.fetchBytesMax }) }),
  }));
  return { brokerId, brokerEpoch, maxWaitMs, maxBytes, partitions };
}

export function parseListOffsets(raw: unknown): { topic: string; partition: number; timestamp: number }[] {
  const body = asBody(raw);
  return entries(body, 'partitions').map((e) => ({ ...topicPartition(e), timestamp: intField(e, 'timestamp', { min: -2 }) }));
}

export function registerBrokerRoutes(app: FastifyInstance, deps: BrokerServiceDeps): void {
  const { replicas, metrics } = deps;

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

  app.post('/metadata', (request) => counted('metadata', () => {
    const body = asBody(request.body ?? {});
    const asked = body.topics === undefined || body.topics === null ? undefined : arrayField(body, 'topics', REQUEST_LIMITS.partitionsMax).map((t, i) => stringField({ [`topics[${i}]`]: t }, `topics[${i}]`, REQUEST_LIMITS.topicNameMax));
    const cache = replicas.metadata;
    const external = deps.listener === 'external';
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
    const topics = asked === undefined ? cache.allTopics() : asked.flatMap((name) => {
      const t = cache.topic(name);
      if (t === undefined) response.unknownTopics.push(name);
      return t === undefined ? [] : [t];
    });
    response.topics = topics.map((t) => ({
      name: t.name,
      configs: t.configs,
      partitions: t.partitions.map((p) => ({ partition: p.partition, leader: p.leader, leaderEpoch: p.leaderEpoch, replicas: p.replicas, isr: p.isr, addingReplicas: p.addingReplicas ?? [], removingReplicas: p.removingReplicas ?? [] })),
    }));
    return response;
  }));

  app.post('/produce', (request) => counted('produce', async () => {
    const input = parseProduce(request.body);
    const timer = metrics.requestLatency.startTimer({ api: input.acks === -1 ? 'produce_acks_all' : 'produce' });
    const { partitions, bytesIn } = await replicas.produce(input);
    timer();
    metrics.bytesIn.inc(bytesIn);
    countPartitionErrors('produce', partitions);
    return { partitions };
  }));

  app.post('/fetch', (request) => counted('fetch', async () => {
    const input = parseFetch(request.body);
    const timer = metrics.requestLatency.startTimer({ api: 'fetch' });
    const { partitions, bytesOut } = await replicas.fetch(input);
    timer();
    metrics.bytesOut.inc(bytesOut);
    countPartitionErrors('fetch', partitions);
    return { partitions };
  }));

  // Followers only, so the internal listener only: a client that could reach it could claim to be
  // a follower, move the HW and pull a lagging replica into the ISR (DESIGN.md § Listeners).
  if (deps.listener === 'internal') app.post('/replica/fetch', (request) => counted('replica_fetch', async () => {
    const input = parseReplicaFetch(request.body);
    const timer = metrics.requestLatency.startTimer({ api: 'replica_fetch' });
    const { partitions, bytesOut, reassignmentBytesOut } = await replicas.replicaFetch(input);
    timer();
    metrics.bytesOut.inc(bytesOut);
    if (reassignmentBytesOut > 0) metrics.reassignmentBytesOut.inc(reassignmentBytesOut);
    countPartitionErrors('replica_fetch', partitions);
    return { partitions };
  }));

  app.post('/list-offsets', (request) => counted('list_offsets', () => {
    const response = replicas.listOffsets(parseListOffsets(request.body));
    countPartitionErrors('list_offsets', response.partitions);
    return response;
  }));

  app.post('/describe-replicas', (request) => counted('describe_replicas', () => {
    const body = asBody(request.body);
    return replicas.describeReplicas(stringField(body, 'topic', REQUEST_LIMITS.topicNameMax));
  }));

  app.post<{ Params: { op: string } }>('/admin/:op', (request) => counted('admin', async () => {
    const op = request.params.op;
    if (!(ADMIN_OPS as readonly string[]).includes(op)) {
      throw new TributaryError('INVALID_REQUEST', `unknown admin operation '${op}'; known: ${ADMIN_OPS.join(', ')}`);
    }
    return deps.forwardAdmin(op, request.body);
  }));

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
}
