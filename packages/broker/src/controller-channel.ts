// The broker's side of the controller API (api.ts): register (retrying with backoff until the
// controller answers), heartbeat every 500 ms, long-poll metadata, AlterPartition, controlled
// shutdown, and admin forwarding. If the controller is unreachable the broker keeps serving
// with the metadata it has and keeps retrying (DESIGN.md § Controller).

import { randomUUID } from 'node:crypto';
import {
  TributaryError,
  type AlterPartitionRequest,
  type ClusterMetadata,
  type ControlledShutdownResponse,
  type Endpoint,
  type HeartbeatResponse,
  type PartitionState,
  type RegisterBrokerResponse,
} from '@tributary/protocol';
import { RpcClient } from '@tributary/transport';
import { sleep } from './internal/sleep.ts';

export interface ChannelLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ControllerChannelOptions {
  brokerId: number;
  rack: string;
  controller: Endpoint;
  internal: Endpoint;
  external: Endpoint;
  heartbeatIntervalMs: number;
  metadataMaxWaitMs: number;
  logger: ChannelLogger;
  onMetadata: (md: ClusterMetadata) => void;
  /** Injected for tests; defaults to an RpcClient to `controller`. */
  client?: Pick<RpcClient, 'call' | 'close'>;
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 2000;

export class ControllerChannel {
  /** A fresh id per process start: the controller bumps the broker epoch for a new incarnation. */
  readonly incarnationId = randomUUID();
  brokerEpoch = -1;
  metadataVersion = -1;
  private readonly options: ControllerChannelOptions;
  readonly client: Pick<RpcClient, 'call' | 'close'>;
  private readonly stop = new AbortController();
  private registering: Promise<void> | undefined;
  private loops: Promise<void>[] = [];
  private warned = new Set<string>();

  constructor(options: ControllerChannelOptions) {
    this.options = options;
    this.client = options.client ?? new RpcClient(options.controller, { timeoutMs: 10_000, connectionsMax: 4 });
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
          const res = await this.client.call<RegisterBrokerResponse>('/broker/register', {
            brokerId: this.options.brokerId,
            rack: this.options.rack,
            incarnationId: this.incarnationId,
            internal: this.options.internal,
            external: this.options.external,
          }, { signal: this.stop.signal });
          this.brokerEpoch = res.brokerEpoch;
          this.warned.clear();
          this.options.logger.info({ brokerEpoch: res.brokerEpoch, incarnationId: this.incarnationId }, 'registered with the controller');
          return;
        } catch (err) {
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
        await this.client.call<HeartbeatResponse>('/broker/heartbeat', { brokerId: this.options.brokerId, brokerEpoch: this.brokerEpoch }, { timeoutMs: Math.max(1000, this.options.heartbeatIntervalMs * 4), signal: this.stop.signal });
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
        const md = await this.client.call<ClusterMetadata>('/metadata/poll', { sinceVersion: this.metadataVersion, maxWaitMs: this.options.metadataMaxWaitMs }, {
          timeoutMs: this.options.metadataMaxWaitMs + 10_000,
          signal: this.stop.signal,
        });
        backoffMs = BACKOFF_MIN_MS;
        this.warned.delete('metadata');
        if (md.version > this.metadataVersion) {
          this.options.onMetadata(md);
          this.metadataVersion = md.version;
        }
      } catch (err) {
        if (this.stop.signal.aborted) return;
        this.warnOnce('metadata', err);
        await sleep(backoffMs, this.stop.signal);
        backoffMs = Math.min(BACKOFF_MAX_MS, backoffMs * 2);
      }
    }
  }

  async alterPartition(request: Omit<AlterPartitionRequest, 'brokerId' | 'brokerEpoch'>): Promise<PartitionState> {
    try {
      return await this.client.call<PartitionState>('/partition/alter', { ...request, brokerId: this.options.brokerId, brokerEpoch: this.brokerEpoch }, { signal: this.stop.signal });
    } catch (err) {
      if (err instanceof TributaryError && err.code === 'STALE_BROKER_EPOCH') void this.register();
      throw err;
    }
  }

  async controlledShutdown(): Promise<ControlledShutdownResponse> {
    return this.client.call<ControlledShutdownResponse>('/broker/controlled-shutdown', { brokerId: this.options.brokerId, brokerEpoch: this.brokerEpoch }, { timeoutMs: 5000 });
  }

  /** Forwards POST /admin/<op> unchanged and relays the answer (or the controller's error). */
  async forwardAdmin(op: string, body: unknown): Promise<unknown> {
    return this.client.call<unknown>(`/admin/${op}`, body ?? {}, { timeoutMs: 30_000 });
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
