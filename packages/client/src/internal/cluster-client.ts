// What Producer, Consumer and Admin share: the bootstrap list, one RpcClient per broker, and the
// cached cluster metadata. Metadata comes from any reachable broker (POST /metadata), brokers'
// addresses from its answer; it is refreshed on stale-metadata errors and every
// `metadataMaxAgeMs` (Kafka's metadata.max.age.ms).

import { RpcClientPool, parseEndpoint, type CallOptions, type RpcClient, type RpcClientOptions } from '@tributary/transport/client';
import { scramAuthenticator, type Credentials } from './scram-auth.ts';
import { TributaryError, type BrokerId, type BrokerMetadataRequest, type BrokerMetadataResponse, type Endpoint } from '@tributary/protocol';
import { SILENT, type Logger } from './logger.ts';

/** Metadata is small and served from memory: a broker slower than this is paused or hung. */
const METADATA_TIMEOUT_MS = 3000;

/**
 * A read (metadata) that one broker has not answered within this long is also sent to the next
 * candidate, and the first answer wins: a paused broker accepts connections but never answers,
 * and a CLI command or `watch` frame must not wait out METADATA_TIMEOUT_MS on it before asking
 * another. Metadata is answered from memory in a few ms, so a healthy broker rarely triggers it.
 */
export const READ_HEDGE_MS = 500;

export interface ClientOptions {
  /** `host:port` strings (or endpoints) of brokers to ask for metadata first. */
  bootstrap: readonly (string | Endpoint)[] | string;
  /** Deadline of one request (the broker-side wait is shorter). Default 30000. */
  requestTimeoutMs?: number;
  /** Refresh metadata at least this often. Default 300000 (Kafka's metadata.max.age.ms). */
  metadataMaxAgeMs?: number;
  logger?: Logger;
  /** Injected clock (tests). */
  now?: () => number;
  /**
   * A secure cluster (issue 20): the CA that signs its certificates (PEM); calls go over https.
   * Absent: plaintext.
   */
  ca?: string | Buffer;
  /** A SCRAM user to authenticate as (SCRAM-SHA-256 unless `mechanism` says SCRAM-SHA-512). */
  credentials?: Credentials;
}

export type BrokerInfo = BrokerMetadataResponse['brokers'][number];
export type TopicInfo = BrokerMetadataResponse['topics'][number];
export type PartitionInfo = TopicInfo['partitions'][number];

/** The in-memory view of the cluster, replaced piecewise by metadata answers. */
export class MetadataTable {
  clusterId = '';
  controller: Endpoint | undefined;
  readonly brokers = new Map<BrokerId, BrokerInfo>();
  readonly topics = new Map<string, TopicInfo>();
  /** Topics a metadata answer said do not exist, with when it said so. */
  readonly unknownTopics = new Map<string, number>();
  /** Topics the caller may not Describe (TOPIC_AUTHORIZATION_FAILED in the last answer that named them). */
  readonly unauthorizedTopics = new Set<string>();
  updatedMs = 0;
  /** availablePartitions per topic, until the next answer (apply is the table's only writer). */
  private readonly available = new Map<string, readonly number[]>();

  apply(answer: BrokerMetadataResponse, nowMs: number, requested: readonly string[] | undefined): void {
    this.available.clear();
    this.clusterId = answer.clusterId;
    this.controller = answer.controller;
    this.brokers.clear();
    for (const b of answer.brokers) this.brokers.set(b.id, b);
    if (requested === undefined) this.topics.clear();
    for (const t of answer.topics) {
      this.topics.set(t.name, { ...t, partitions: [...t.partitions].sort((a, b) => a.partition - b.partition) });
      this.unknownTopics.delete(t.name);
    }
    for (const t of answer.topics) this.unauthorizedTopics.delete(t.name);
    for (const name of answer.unknownTopics ?? []) this.unauthorizedTopics.delete(name);
    for (const name of answer.unauthorizedTopics ?? []) {
      this.topics.delete(name);
      this.unauthorizedTopics.add(name);
    }
    for (const name of answer.unknownTopics ?? []) {
      this.topics.delete(name);
      this.unknownTopics.set(name, nowMs);
    }
    this.updatedMs = nowMs;
  }

  partition(topic: string, partition: number): PartitionInfo | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  /**
   * The partitions of `topic` that have a live leader, in order. Cached, as Kafka's producer
   * caches it with each metadata version: the sticky partitioner asks at every full batch, and
   * walking 1000 partitions each time was a tenth of the producer's CPU at 1000 partitions.
   */
  availablePartitions(topic: string): readonly number[] {
    let list = this.available.get(topic);
    if (list === undefined) {
      const found: number[] = [];
      const count = this.topics.get(topic)?.partitions.length ?? 0;
      for (let i = 0; i < count; i++) if (this.leaderOf(topic, i) !== undefined) found.push(i);
      list = found;
      this.available.set(topic, list);
    }
    return list;
  }

  /** The live broker leading the partition, if any. */
  leaderOf(topic: string, partition: number): BrokerId | undefined {
    const p = this.partition(topic, partition);
    if (!p || p.leader < 0) return undefined;
    const broker = this.brokers.get(p.leader);
    return broker && broker.alive !== false ? p.leader : undefined;
  }
}

export function normalizeBootstrap(bootstrap: ClientOptions['bootstrap']): Endpoint[] {
  // Each string may list several brokers, comma-separated, as Kafka's bootstrap.servers does.
  const entries: readonly (string | Endpoint)[] = typeof bootstrap === 'string' ? [bootstrap] : bootstrap;
  const list = entries.flatMap((e): (string | Endpoint)[] => (typeof e === 'string' ? e.split(',') : [e]));
  const endpoints = list
    .map((e) => (typeof e === 'string' ? e.trim() : e))
    .filter((e) => e !== '')
    .map((e) => (typeof e === 'string' ? parseEndpoint(e) : e));
  if (endpoints.length === 0) throw new TributaryError('INVALID_REQUEST', 'bootstrap must name at least one broker as host:port');
  return endpoints;
}

export function formatEndpoints(endpoints: readonly Endpoint[]): string {
  return endpoints.map((e) => `${e.host}:${e.port}`).join(', ');
}

export class ClusterClient {
  readonly metadata = new MetadataTable();
  readonly bootstrap: Endpoint[];
  readonly log: Logger;
  readonly now: () => number;
  readonly requestTimeoutMs: number;
  private readonly pool: RpcClientPool;
  private readonly metadataMaxAgeMs: number;
  /** Topics this client cares about; refreshes ask for these (undefined entry set = all). */
  private readonly interest = new Set<string>();
  private inflightRefresh: Promise<void> | undefined;
  private refreshAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  /** orderedInFlightMax: calls pipelined on each broker's ordered lane (the producer's in-flight limit). */
  constructor(options: ClientOptions, lanes: { orderedInFlightMax?: number } = {}) {
    this.bootstrap = normalizeBootstrap(options.bootstrap);
    this.log = options.logger ?? SILENT;
    this.now = options.now ?? Date.now;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.metadataMaxAgeMs = options.metadataMaxAgeMs ?? 300_000;
    const poolOptions: RpcClientOptions = { timeoutMs: this.requestTimeoutMs, connectionsMax: 8, orderedInFlightMax: lanes.orderedInFlightMax };
    if (options.ca !== undefined) poolOptions.tls = { ca: options.ca };
    if (options.credentials !== undefined) poolOptions.authenticator = scramAuthenticator(options.credentials);
    this.pool = new RpcClientPool(poolOptions);
  }

  /** Starts the periodic refresh (unref'd: it never keeps the process alive). */
  startPeriodicRefresh(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(
      () => {
        if (this.now() - this.metadata.updatedMs >= this.metadataMaxAgeMs) this.refresh().catch(() => {});
      },
      Math.min(this.metadataMaxAgeMs, 10_000),
    );
    this.timer.unref();
  }

  addInterest(topic: string): void {
    this.interest.add(topic);
  }

  rpc(endpoint: Endpoint): RpcClient {
    return this.pool.get(endpoint);
  }

  brokerEndpoint(id: BrokerId): Endpoint | undefined {
    const b = this.metadata.brokers.get(id);
    return b ? { host: b.host, port: b.port } : undefined;
  }

  /** Calls a broker by id; BROKER_NOT_AVAILABLE when the metadata does not know it. */
  callBroker<Res>(id: BrokerId, path: string, body: unknown, options: CallOptions = {}): Promise<Res> {
    const endpoint = this.brokerEndpoint(id);
    if (!endpoint) return Promise.reject(new TributaryError('BROKER_NOT_AVAILABLE', `broker ${id} is not in the cluster metadata`));
    return this.rpc(endpoint).call<Res>(path, body, options);
  }

  /**
   * Calls the first broker that answers: known live brokers first, then the bootstrap list.
   * Only unreachable brokers (BROKER_NOT_AVAILABLE) are skipped; any answer, error or not, ends
   * the search. Throws BROKER_NOT_AVAILABLE naming the addresses when none answers.
   *
   * A read (`readOnly`) is hedged: a broker that has not answered within READ_HEDGE_MS does not
   * hold the next one back, and one that times out counts as unreachable. A write is sent to one
   * broker at a time, since a timed-out write may have been applied.
   */
  async callAny<Res>(path: string, body: unknown, options: { timeoutMs?: number; readOnly?: boolean } = {}): Promise<Res> {
    const candidates: Endpoint[] = [];
    const seen = new Set<string>();
    const add = (e: Endpoint): void => {
      const key = `${e.host}:${e.port}`;
      if (!seen.has(key)) {
        seen.add(key);
        candidates.push(e);
      }
    };
    const live = [...this.metadata.brokers.values()].filter((b) => b.alive !== false);
    // Rotate so that load spreads over the brokers.
    const start = live.length > 0 ? Math.floor(Math.random() * live.length) : 0;
    for (let i = 0; i < live.length; i++) {
      const b = live[(start + i) % live.length]!;
      add({ host: b.host, port: b.port });
    }
    for (const e of this.bootstrap) add(e);
    if (options.readOnly === true) return this.callFirstAnswer<Res>(candidates, path, body, options.timeoutMs);
    let lastError: unknown;
    for (const endpoint of candidates) {
      try {
        return await this.rpc(endpoint).call<Res>(path, body, options);
      } catch (err) {
        if (err instanceof TributaryError && err.code === 'BROKER_NOT_AVAILABLE') {
          lastError = err;
          continue;
        }
        throw err;
      }
    }
    throw this.noBrokerAnswered(lastError);
  }

  /**
   * The hedged read: asks the candidates in order, the next one as soon as the previous is
   * unreachable or READ_HEDGE_MS passed without an answer; the first answer settles it and aborts
   * the calls still waiting.
   */
  private callFirstAnswer<Res>(candidates: readonly Endpoint[], path: string, body: unknown, timeoutMs: number | undefined): Promise<Res> {
    const { promise, resolve, reject } = Promise.withResolvers<Res>();
    const losers = new AbortController();
    const callOptions: CallOptions = timeoutMs === undefined ? { signal: losers.signal } : { timeoutMs, signal: losers.signal };
    let next = 0;
    let waiting = 0;
    let settled = false;
    let lastError: unknown;
    let hedge: NodeJS.Timeout | undefined;
    const settle = (finish: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(hedge);
      losers.abort();
      finish();
    };
    const askNext = (): void => {
      clearTimeout(hedge);
      if (settled || next >= candidates.length) return;
      const endpoint = candidates[next++]!;
      waiting++;
      hedge = setTimeout(askNext, READ_HEDGE_MS).unref();
      this.rpc(endpoint)
        .call<Res>(path, body, callOptions)
        .then(
          (answer) => settle(() => resolve(answer)),
          (err: unknown) => {
            waiting--;
            if (settled) return;
            // A paused or hung broker times out rather than refusing the connection: for a read
            // that is as good as unreachable.
            if (err instanceof TributaryError && (err.code === 'BROKER_NOT_AVAILABLE' || err.code === 'REQUEST_TIMED_OUT')) {
              lastError = err;
              if (next < candidates.length) askNext();
              else if (waiting === 0) settle(() => reject(this.noBrokerAnswered(lastError)));
              return;
            }
            settle(() => reject(err));
          },
        );
    };
    askNext();
    return promise;
  }

  private noBrokerAnswered(lastError: unknown): TributaryError {
    return new TributaryError(
      'BROKER_NOT_AVAILABLE',
      `cannot reach any broker at ${formatEndpoints(this.bootstrap)}${lastError ? ` (${(lastError as Error).message})` : ''}`,
      { cause: lastError },
    );
  }

  /**
   * Fetches metadata for `topics` (all when undefined) and applies it. A broker that does not
   * answer metadata within METADATA_TIMEOUT_MS is skipped for the next one.
   */
  async fetchMetadata(topics?: readonly string[]): Promise<BrokerMetadataResponse> {
    const request: BrokerMetadataRequest = topics === undefined ? {} : { topics: [...topics] };
    const answer = await this.callAny<BrokerMetadataResponse>('/metadata', request, {
      timeoutMs: Math.min(this.requestTimeoutMs, METADATA_TIMEOUT_MS),
      readOnly: true,
    });
    this.metadata.apply(answer, this.now(), topics);
    return answer;
  }

  /** TOPIC_AUTHORIZATION_FAILED if the last metadata said the caller may not Describe `topic`. */
  checkTopicAuthorized(topic: string): void {
    if (this.metadata.unauthorizedTopics.has(topic)) {
      throw new TributaryError('TOPIC_AUTHORIZATION_FAILED', `not authorized to access topic '${topic}' (no ACL allows this user to Describe it)`);
    }
  }

  /**
   * Refreshes the metadata of the topics of interest. Concurrent calls share one request; a
   * call made while one is running schedules one more, so the answer is never older than it.
   */
  refresh(): Promise<void> {
    if (this.inflightRefresh) {
      this.refreshAgain = true;
      return this.inflightRefresh;
    }
    const run = async (): Promise<void> => {
      try {
        do {
          this.refreshAgain = false;
          const topics = [...this.interest];
          await this.fetchMetadata(topics);
          this.log.debug({ topics, version: this.metadata.updatedMs }, 'metadata refreshed');
        } while (this.refreshAgain && !this.closed);
      } finally {
        this.inflightRefresh = undefined;
      }
    };
    this.inflightRefresh = run();
    return this.inflightRefresh;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.pool.close();
  }
}
