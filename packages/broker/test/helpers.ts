// Test helpers: a broker core (ReplicaManager + routes) on a temp dir without sockets, and a
// small fake controller (register, heartbeat, metadata long-poll, AlterPartition, admin ops).

import { pino } from 'pino';
import {
  DEFAULT_TOPIC_CONFIGS,
  MSGPACK_CONTENT_TYPE,
  TributaryError,
  asBody,
  decodeMsgpack,
  encodeBatch,
  encodeMsgpack,
  intField,
  type BrokerRegistration,
  type ClusterMetadata,
  type PartitionState,
  type TopicConfigs,
  type TopicState,
} from '@tributary/protocol';
import { LogManager, nodeFs, type StorageFs } from '@tributary/storage';
import { createMsgpackServer, type FastifyInstance } from '@tributary/transport/server';
import { tempDir } from '@tributary/testkit';
import { brokerRouteLimits, registerBrokerRoutes } from '../src/broker-service.ts';
import { brokerConfig, type BrokerConfig } from '../src/config.ts';
import { CoordinatorHost } from '../src/coordinator-host.ts';
import { registerGroupRoutes } from '../src/group-service.ts';
import { BrokerMetrics } from '../src/metrics.ts';
import { ReplicaManager } from '../src/replica-manager.ts';

export const silent = pino({ level: process.env.TRIBUTARY_TEST_LOG ?? 'silent' });

export function batch(values: string[], options: { producerId?: number; producerEpoch?: number; baseSequence?: number; timestamp?: number } = {}): Buffer {
  return encodeBatch(
    values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: options.timestamp })),
    options,
  );
}

export function topicState(
  name: string,
  partitions: { replicas: number[]; leader?: number; isr?: number[]; leaderEpoch?: number }[],
  configs: Partial<TopicConfigs> = {},
): TopicState {
  return {
    name,
    topicId: `${name}-id`,
    configs: { ...DEFAULT_TOPIC_CONFIGS, ...configs },
    partitions: partitions.map(
      (p, i): PartitionState => ({
        topic: name,
        partition: i,
        replicas: p.replicas,
        addingReplicas: [],
        removingReplicas: [],
        leader: p.leader ?? p.replicas[0]!,
        leaderEpoch: p.leaderEpoch ?? 0,
        partitionEpoch: 0,
        isr: p.isr ?? p.replicas,
      }),
    ),
  };
}

export function brokerReg(id: number, rack = 'rack-1', port = 19092 + id): BrokerRegistration {
  return {
    id,
    rack,
    epoch: 1,
    incarnationId: `i${id}`,
    internal: { host: `broker-${id}`, port: 9092 },
    external: { host: '127.0.0.1', port },
    logDirId: `dir-${id}`,
    alive: true,
    configs: {},
  };
}

export interface Core {
  rm: ReplicaManager;
  host: CoordinatorHost;
  /** create-topic requests the host forwarded (it creates __consumer_offsets on first use). */
  createdTopics: unknown[];
  app: FastifyInstance;
  metrics: BrokerMetrics;
  logs: LogManager;
  dir: string;
  alters: { request: unknown; resolve: (s: PartitionState) => void; reject: (e: unknown) => void }[];
  post<T = any>(url: string, body: unknown): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/** A filesystem whose writes fail while `failing` is set (a dying disk). */
export function faultyFs(): StorageFs & { failing: boolean } {
  const fs = { ...nodeFs, failing: false } as StorageFs & { failing: boolean };
  fs.writeSync = (fd, buffer, offset, length, position) => {
    if (fs.failing) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    return nodeFs.writeSync(fd, buffer, offset, length, position);
  };
  return fs;
}

export async function makeCore(
  options: {
    brokerId?: number;
    rack?: string;
    listener?: 'internal' | 'external';
    now?: () => number;
    lagMs?: number;
    ready?: boolean;
    fs?: StorageFs;
    openBudgetMs?: number;
    config?: Partial<BrokerConfig>;
    dataDir?: string;
    /** What the controller answers the host's create-topic (default: created). */
    createTopic?: (request: unknown) => Promise<unknown>;
  } = {},
): Promise<Core> {
  // A given data dir outlives the core (a restart in a test); a temp one goes with it.
  const { dir, cleanup } = options.dataDir !== undefined ? { dir: options.dataDir, cleanup: () => {} } : tempDir('tributary-broker-');
  const logs = new LogManager(dir, options.fs ? { fs: options.fs } : {});
  const alters: Core['alters'] = [];
  const createdTopics: unknown[] = [];
  let host: CoordinatorHost | undefined;
  const rm = new ReplicaManager({
    brokerId: options.brokerId ?? 0,
    rack: options.rack ?? 'rack-1',
    logs,
    replicaLagTimeMaxMs: options.lagMs ?? 10_000,
    logger: silent,
    now: options.now,
    alterPartition: (request) => new Promise((resolve, reject) => alters.push({ request, resolve, reject })),
    alterPartitionRetryMs: 0,
    openBudgetMs: options.openBudgetMs,
    onRolesChanged: () => host?.onRolesChanged(),
  });
  rm.loadLogs();
  const metrics = new BrokerMetrics({ brokerId: options.brokerId ?? 0, rack: 'rack-1' }, () => rm);
  // The process's limits, as startBroker applies them.
  const config = brokerConfig({ brokerId: options.brokerId ?? 0, dataDir: dir, ...options.config });
  const routeLimits = brokerRouteLimits(config);
  host = new CoordinatorHost({
    brokerId: options.brokerId ?? 0,
    replicas: rm,
    logger: silent,
    coordinator: {
      groupMinSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      groupMaxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      groupInitialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      groupMaxSize: config.groupMaxSize,
      offsetMetadataMaxBytes: config.offsetMetadataMaxBytes,
      offsetsRetentionMs: config.offsetsRetentionMs,
    },
    offsetsTopicPartitions: config.offsetsTopicPartitions,
    offsetsTopicReplicationFactor: config.offsetsTopicReplicationFactor,
    offsetsCommitTimeoutMs: config.offsetsCommitTimeoutMs,
    offsetsRetentionCheckIntervalMs: config.offsetsRetentionCheckIntervalMs,
    offsetsLoadBufferBytes: config.offsetsLoadBufferBytes,
    createTopic: async (request) => {
      createdTopics.push(request);
      return options.createTopic === undefined ? {} : options.createTopic(request);
    },
    ...(options.now ? { now: options.now } : {}),
  });
  const app = createMsgpackServer({ limits: { body: routeLimits.admin, requestBytesInFlightMax: config.requestBytesInFlightMax } });
  registerBrokerRoutes(app, {
    routeLimits,
    fetchBytesMax: config.fetchBytesMax,
    brokerId: options.brokerId ?? 0,
    listener: options.listener ?? 'internal',
    replicas: rm,
    metrics,
    controller: { host: '127.0.0.1', port: 19090 },
    isReady: () => options.ready ?? true,
    forwardAdmin: async (op, body) => {
      if (op === 'create-topic') return { echoed: body };
      throw new TributaryError('TOPIC_ALREADY_EXISTS', 'exists');
    },
  });
  registerGroupRoutes(app, { listener: options.listener ?? 'internal', host, metrics, routeLimits });
  await app.ready();
  const coordinatorHost = host;
  return {
    rm,
    host: coordinatorHost,
    createdTopics,
    app,
    metrics,
    logs,
    dir,
    alters,
    async post(url, body) {
      const res = await app.inject({ method: 'POST', url, headers: { 'content-type': MSGPACK_CONTENT_TYPE }, payload: encodeMsgpack(body) });
      return { status: res.statusCode, body: decodeMsgpack(res.rawPayload) as any };
    },
    async close() {
      coordinatorHost.close();
      rm.stopServing();
      await app.close();
      rm.close();
      cleanup();
    },
  };
}

/**
 * A fake controller: enough of the controller API for brokers to register, heartbeat, poll
 * metadata and alter ISRs. Tests change leaders and ISRs through `update`.
 */
export class FakeController {
  readonly app = createMsgpackServer({});
  metadata: ClusterMetadata = { clusterId: 'test-cluster', version: 1, brokers: [], topics: [] };
  private waiters = new Set<() => void>();
  brokerEpochs = new Map<number, number>();
  registrations = 0;
  heartbeats = 0;
  alterRequests: unknown[] = [];
  /** Partitions per AlterPartition request, in order. */
  alterBatches: number[] = [];
  shutdownRequests = 0;
  /** When set, AlterPartition requests fail with this error. */
  alterError: TributaryError | undefined;
  /** When set, heartbeats of this broker get STALE_BROKER_EPOCH once. */
  staleOnce = new Set<number>();
  port = 0;

  constructor() {
    const app = this.app;
    app.post('/broker/register', async (req) => {
      const body = asBody(req.body);
      const id = intField(body, 'brokerId');
      const epoch = (this.brokerEpochs.get(id) ?? 0) + 1;
      this.brokerEpochs.set(id, epoch);
      this.registrations++;
      const reg: BrokerRegistration = {
        id,
        rack: body.rack as string,
        epoch,
        incarnationId: body.incarnationId as string,
        internal: body.internal as any,
        external: body.external as any,
        logDirId: String(body.logDirId ?? ''),
        alive: true,
        configs: this.metadata.brokers.find((b) => b.id === id)?.configs ?? {},
      };
      this.update((md) => {
        md.brokers = [...md.brokers.filter((b) => b.id !== id), reg].sort((a, b) => a.id - b.id);
      });
      return { brokerEpoch: epoch };
    });
    app.post('/broker/heartbeat', async (req) => {
      const body = asBody(req.body);
      const id = intField(body, 'brokerId');
      this.heartbeats++;
      if (this.staleOnce.delete(id) || this.brokerEpochs.get(id) !== body.brokerEpoch) throw new TributaryError('STALE_BROKER_EPOCH', 'stale');
      return { metadataVersion: this.metadata.version };
    });
    app.post('/broker/controlled-shutdown', async (req) => {
      const id = intField(asBody(req.body), 'brokerId');
      this.shutdownRequests++;
      // Move every leadership of `id` to another ISR member.
      this.update((md) => {
        for (const t of md.topics)
          for (const p of t.partitions) {
            if (p.leader !== id) continue;
            const next = p.isr.find((b) => b !== id);
            if (next === undefined) continue;
            p.leader = next;
            p.leaderEpoch++;
            p.partitionEpoch++;
            p.isr = p.isr.filter((b) => b !== id);
          }
      });
      const remaining = this.metadata.topics.flatMap((t) => t.partitions).filter((p) => p.leader === id).length;
      return { remainingLeaderships: remaining };
    });
    app.post('/metadata/poll', async (req) => {
      const body = asBody(req.body);
      const since = intField(body, 'sinceVersion', { min: -1 });
      const maxWaitMs = intField(body, 'maxWaitMs', { min: 0 });
      if (this.metadata.version > since) return this.metadata;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, maxWaitMs);
        this.waiters.add(done);
      });
      return this.metadata;
    });
    app.post('/partition/alter', async (req) => {
      const body = asBody(req.body);
      const items = body.partitions as Record<string, unknown>[];
      // One entry per partition, as the single-partition requests used to be recorded.
      for (const item of items) this.alterRequests.push({ brokerId: body.brokerId, brokerEpoch: body.brokerEpoch, ...item });
      this.alterBatches.push(items.length);
      if (this.alterError) throw this.alterError;
      return {
        partitions: items.map((item) => {
          const at = { topic: item.topic as string, partition: item.partition as number };
          const current = this.partition(at.topic, at.partition);
          if (current.leaderEpoch !== item.leaderEpoch || current.partitionEpoch !== item.partitionEpoch)
            return { ...at, error: new TributaryError('FENCED_LEADER_EPOCH', 'stale partition epoch').toWire() };
          this.update((md) => {
            const p = md.topics.find((t) => t.name === at.topic)!.partitions[at.partition]!;
            p.isr = item.newIsr as number[];
            p.partitionEpoch++;
          });
          return { ...at, state: this.partition(at.topic, at.partition) };
        }),
      };
    });
    app.post('/admin/create-topic', async (req) => {
      const body = asBody(req.body);
      return { ok: true, name: body.name };
    });
  }

  partition(topic: string, partition: number): PartitionState {
    const p = this.metadata.topics.find((t) => t.name === topic)?.partitions[partition];
    if (!p) throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `${topic}-${partition}`);
    return p;
  }

  /** Mutates a deep copy of the metadata, bumps the version, and wakes pollers. */
  update(fn: (md: ClusterMetadata) => void): void {
    const md = structuredClone(this.metadata);
    fn(md);
    md.version = this.metadata.version + 1;
    this.metadata = md;
    for (const w of [...this.waiters]) w();
  }

  async start(): Promise<void> {
    await this.app.listen({ host: '127.0.0.1', port: 0 });
    this.port = (this.app.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const w of [...this.waiters]) w();
    await this.app.close();
  }
}
