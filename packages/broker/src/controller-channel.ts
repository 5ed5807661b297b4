// The broker's side of the controller API (api.ts): register (retrying with backoff until the
// controller answers), heartbeat every 500 ms, long-poll metadata, AlterPartition, controlled
// shutdown, and admin forwarding. If the controller is unreachable the broker keeps serving
// with the metadata it has and keeps retrying (DESIGN.md § Controller).

import { randomUUID } from 'node:crypto';
import {
  FORWARDED_HOST_HEADER,
  FORWARDED_PRINCIPAL_HEADER,
  TributaryError,
  type AlterPartitionBatchResponse,
  type AlterPartitionItem,
  type MetadataPollResponse,
  type ControlledShutdownResponse,
  type Endpoint,
  type KafkaListeners,
  type HeartbeatResponse,
  type RegisterBrokerResponse,
} from '@tributary/protocol';
import { RpcClient, type TlsClientOptions } from '@tributary/transport';
import { sleep } from './internal/sleep.ts';

export interface ChannelLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type MetadataVerdict = 'apply' | 'ignore' | { refuse: string };

/**
 * Whether to apply metadata from the controller (pure). Newer metadata of our cluster applies;
 * the version we hold is ignored; metadata of another cluster, or older than what we hold (a
 * controller that lost its log, or was restored from an old copy), is refused: applying it could
 * make this broker delete or truncate data that the cluster's real metadata still counts on.
 * `held.clusterId` is what the data dir joined ('' before the first metadata).
 */
export function judgeMetadata(held: { clusterId: string; version: number }, incoming: { clusterId: string; version: number }): MetadataVerdict {
  if (held.clusterId !== '' && incoming.clusterId !== held.clusterId) {
    return { refuse: `the controller serves cluster ${incoming.clusterId}, but this broker's data dir belongs to cluster ${held.clusterId}` };
  }
  if (incoming.version < held.version) {
    return {
      refuse: `the controller's metadata (version ${incoming.version}) is older than what this broker holds (version ${held.version}): it lost or rolled back its metadata log`,
    };
  }
  return incoming.version === held.version ? 'ignore' : 'apply';
}

export interface ControllerChannelOptions {
  brokerId: number;
  rack: string;
  controller: Endpoint;
  internal: Endpoint;
  external: Endpoint;
  /** The advertised Kafka-protocol listeners, if the broker serves them (issue 19). */
  kafka?: KafkaListeners;
  /** The data dir's directory id (meta-properties.ts): a new one tells the controller the disk was lost. */
  logDirId: string;
  /** The cluster the data dir joined ('' before its first metadata). */
  clusterId: () => string;
  /**
   * The controller refused us as a broker of another cluster (INCONSISTENT_CLUSTER_ID): nothing
   * this process can do fixes that, so the process stops (main.ts exits). Default: log and stop.
   */
  onFatal?: (err: TributaryError) => void;
  heartbeatIntervalMs: number;
  metadataMaxWaitMs: number;
  logger: ChannelLogger;
  /**
   * Applies metadata from the controller: the whole of it, or a delta from the version held.
   * Returns false when a delta did not apply (the channel then asks for the whole metadata).
   */
  onMetadata: (md: MetadataPollResponse) => boolean | undefined;
  /** Injected for tests; defaults to an RpcClient to `controller`. */
  client?: Pick<RpcClient, 'call' | 'close'>;
  /** A secure cluster: TLS to the controller with this broker's certificate (mutual TLS). */
  tls?: TlsClientOptions;
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 2000;
/** After refusing the controller's metadata, ask again this much later (and say so again). */
const REFUSED_METADATA_RETRY_MS = 5000;

export class ControllerChannel {
  /** A fresh id per process start: the controller bumps the broker epoch for a new incarnation. */
  readonly incarnationId = randomUUID();
  brokerEpoch = -1;
  metadataVersion = -1;
  private readonly options: ControllerChannelOptions;
  /** Why the controller's metadata is being refused, while it is (for /health). */
  refusing: string | undefined;
  readonly client: Pick<RpcClient, 'call' | 'close'>;
  private readonly stop = new AbortController();
  private registering: Promise<void> | undefined;
  private loops: Promise<void>[] = [];
  private warned = new Set<string>();

  constructor(options: ControllerChannelOptions) {
    this.options = options;
    // Over TLS the controller's certificate must be the controller's (a broker's cannot stand in for it).
    this.client =
      options.client ??
      new RpcClient(options.controller, {
        timeoutMs: 10_000,
        connectionsMax: 4,
        ...(options.tls ? { tls: { ...options.tls, serverName: 'controller' } } : {}),
      });
  }

  get registered(): boolean {
    return this.brokerEpoch >= 0;
  }

  /** Registers, then runs the heartbeat and metadata loops until close(). */
  start(): void {
    this.loops.push(this.register().then(() => Promise.all([this.heartbeatLoop(), this.metadataLoop()]).then(() => undefined)));
  }

  /** Registers (again), retrying with backoff until the controller answers or we close. */
  register(): Promise<void> {
    this.registering ??= (async () => {
      let backoffMs = BACKOFF_MIN_MS;
      while (!this.stop.signal.aborted) {
        try {
          const res = await this.client.call<RegisterBrokerResponse>(
            '/broker/register',
            {
              brokerId: this.options.brokerId,
              rack: this.options.rack,
              incarnationId: this.incarnationId,
              internal: this.options.internal,
              external: this.options.external,
              ...(this.options.kafka ? { kafka: this.options.kafka } : {}),
              logDirId: this.options.logDirId,
              clusterId: this.options.clusterId(),
            },
            { signal: this.stop.signal },
          );
          this.brokerEpoch = res.brokerEpoch;
          this.warned.clear();
          this.options.logger.info({ brokerEpoch: res.brokerEpoch, incarnationId: this.incarnationId }, 'registered with the controller');
          return;
        } catch (err) {
          if (err instanceof TributaryError && err.code === 'INCONSISTENT_CLUSTER_ID') {
            this.options.logger.error(
              { err, controller: this.options.controller },
              'the controller refused this broker: its data dir belongs to another cluster',
            );
            this.stop.abort();
            this.options.onFatal?.(err);
            return;
          }
          this.warnOnce('register', err);
          await sleep(backoffMs, this.stop.signal);
          backoffMs = Math.min(BACKOFF_MAX_MS, backoffMs * 2);
        }
      }
    })().finally(() => {
      this.registering = undefined;
    });
    return this.registering;
  }

  private async heartbeatLoop(): Promise<void> {
    while (!this.stop.signal.aborted) {
      await sleep(this.options.heartbeatIntervalMs, this.stop.signal);
      if (this.stop.signal.aborted) return;
      try {
        await this.client.call<HeartbeatResponse>(
          '/broker/heartbeat',
          { brokerId: this.options.brokerId, brokerEpoch: this.brokerEpoch },
          { timeoutMs: Math.max(1000, this.options.heartbeatIntervalMs * 4), signal: this.stop.signal },
        );
        this.warned.delete('heartbeat');
      } catch (err) {
        if (err instanceof TributaryError && err.code === 'STALE_BROKER_EPOCH') {
          this.options.logger.warn({ brokerEpoch: this.brokerEpoch }, 'broker epoch is stale; registering again');
          await this.register();
        } else {
          this.warnOnce('heartbeat', err);
        }
      }
    }
  }

  private async metadataLoop(): Promise<void> {
    let backoffMs = BACKOFF_MIN_MS;
    while (!this.stop.signal.aborted) {
      try {
        const md = await this.client.call<MetadataPollResponse>(
          '/metadata/poll',
          { sinceVersion: this.metadataVersion, maxWaitMs: this.options.metadataMaxWaitMs, deltas: true },
          {
            timeoutMs: this.options.metadataMaxWaitMs + 10_000,
            signal: this.stop.signal,
          },
        );
        backoffMs = BACKOFF_MIN_MS;
        this.warned.delete('metadata');
        const verdict = judgeMetadata({ clusterId: this.options.clusterId(), version: this.metadataVersion }, md);
        if (verdict === 'apply') {
          // A delta that does not fit what we hold: ask again from scratch (the whole metadata).
          this.metadataVersion = this.options.onMetadata(md) === false ? -1 : md.version;
          this.refusing = undefined;
        } else if (verdict !== 'ignore') {
          // Loudly, every time: the cluster cannot change while this lasts.
          this.refusing = verdict.refuse;
          this.options.logger.error(
            { controller: this.options.controller, clusterId: md.clusterId, version: md.version, heldVersion: this.metadataVersion },
            `refusing metadata: ${verdict.refuse}`,
          );
          await sleep(REFUSED_METADATA_RETRY_MS, this.stop.signal);
        }
      } catch (err) {
        if (this.stop.signal.aborted) return;
        this.warnOnce('metadata', err);
        await sleep(backoffMs, this.stop.signal);
        backoffMs = Math.min(BACKOFF_MAX_MS, backoffMs * 2);
      }
    }
  }

  /** One batched AlterPartition (alter-partition-manager.ts batches the proposals). */
  async alterPartitions(partitions: AlterPartitionItem[]): Promise<AlterPartitionBatchResponse> {
    try {
      return await this.client.call<AlterPartitionBatchResponse>(
        '/partition/alter',
        { brokerId: this.options.brokerId, brokerEpoch: this.brokerEpoch, partitions },
        { signal: this.stop.signal },
      );
    } catch (err) {
      if (err instanceof TributaryError && err.code === 'STALE_BROKER_EPOCH') void this.register();
      throw err;
    }
  }

  async controlledShutdown(): Promise<ControlledShutdownResponse> {
    return this.client.call<ControlledShutdownResponse>(
      '/broker/controlled-shutdown',
      { brokerId: this.options.brokerId, brokerEpoch: this.brokerEpoch },
      { timeoutMs: 5000 },
    );
  }

  /**
   * Forwards POST /admin/<op> unchanged and relays the answer (or the controller's error). For a
   * client's call, `principal` names the client the broker authenticated (Kafka's envelope): the
   * controller authorizes the call as that client; without it, as this broker.
   */
  async forwardAdmin(op: string, body: unknown, principal?: { name: string; host: string }): Promise<unknown> {
    const headers = principal === undefined ? undefined : { [FORWARDED_PRINCIPAL_HEADER]: principal.name, [FORWARDED_HOST_HEADER]: principal.host };
    return this.client.call<unknown>(`/admin/${op}`, body ?? {}, headers === undefined ? { timeoutMs: 30_000 } : { timeoutMs: 30_000, headers });
  }

  private warnOnce(what: string, err: unknown): void {
    if (this.warned.has(what)) return;
    this.warned.add(what);
    this.options.logger.warn({ err, controller: this.options.controller }, `controller ${what} failed; retrying`);
  }

  /** Stops the loops (in-flight polls are aborted) and closes the client. */
  async close(): Promise<void> {
    this.stop.abort();
    await Promise.allSettled(this.loops);
    await this.client.close();
  }
}
