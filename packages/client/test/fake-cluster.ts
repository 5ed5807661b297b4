// A small in-memory fake of a Tributary cluster for client tests: N brokers (real HTTP servers on
// port 0, built with the transport's msgpack server) sharing one metadata image and one in-memory
// log per partition. Tests steer it through `state` and the `onProduce` / `onFetch` hooks.

import { createMsgpackServer, type MsgpackServer } from '@tributary/transport/server';
import {
  DEFAULT_TOPIC_CONFIGS,
  EARLIEST_TIMESTAMP,
  TributaryError,
  resolveTopicConfigs,
  type TopicConfigInput,
  decodeBatches,
  readBatchHeader,
  stampBatch,
  type BrokerMetadataResponse,
  type FetchRequest,
  type FetchResponse,
  type ListOffsetsRequest,
  type ProduceRequest,
  type ProduceResponse,
  type WireError,
} from '@tributary/protocol';
import { FakeCoordinator } from './fake-coordinator.ts';

export interface FakePartition {
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  /** Stamped batches, in order. */
  batches: Buffer[];
  logEndOffset: number;
  /**
   * Idempotence, by the broker's rules (ProducerStateTable): per producer id its epoch and last
   * five batches. An unknown producer starts at any sequence, a new epoch at 0; an older epoch is
   * fenced; a retried batch answers its first offset; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
   */
  producers: Map<number, FakeProducerState>;
}

export interface FakeProducerState {
  epoch: number;
  batches: { firstSeq: number; count: number; baseOffset: number }[];
}

export interface ProduceCall {
  broker: number;
  request: ProduceRequest;
  /** Which TCP connection to that broker carried it (numbered in order of first use). */
  connection: number;
}

export interface FetchCall {
  broker: number;
  request: FetchRequest;
}

export class FakeCluster {
  /** Consumer groups: the real GroupCoordinator in memory, on broker `groups.brokerId`. */
  readonly groups = new FakeCoordinator();
  readonly brokers: { id: number; rack: string; server: MsgpackServer; port: number; alive: boolean }[] = [];
  readonly topics = new Map<string, FakePartition[]>();
  readonly produceCalls: ProduceCall[] = [];
  readonly fetchCalls: FetchCall[] = [];
  /** Return a WireError to fail that partition of a produce request; 'append-then-timeout' appends and answers REQUEST_TIMED_OUT. */
  onProduce:
    | ((broker: number, topic: string, partition: number, attempt: number, records: Buffer) => WireError | 'append-then-timeout' | 'hang' | undefined)
    | undefined;
  /** The producer epoch init-producer-id hands out with each new producer id. */
  initProducerEpoch = 0;
  initProducerIdCalls = 0;
  /** Requests told to 'hang' wait for this (released on close). */
  private hangRelease = Promise.withResolvers<void>();
  /** Paused brokers: they take every request and answer none until resumed, as a SIGSTOPped process. */
  private readonly paused = new Map<number, PromiseWithResolvers<void>>();
  /** Return a partial fetch answer override (error or preferredReadReplica). */
  onFetch: ((broker: number, topic: string, partition: number) => { error?: WireError; preferredReadReplica?: number } | undefined) | undefined;
  readonly brokerConfigCalls: { brokerId: number; configs: Record<string, number> }[] = [];
  /** Bodies of the reassignment / partition / config admin calls, in order, by op. */
  readonly adminCalls: { op: string; body: unknown }[] = [];
  /** Called before each list-partition-reassignments answer with how many have been asked (to finish moves between calls). */
  beforeListReassignments: ((calls: number) => void) | undefined;
  /** What list-partition-reassignments answers (filtered by the request's topics). */
  reassignments: { topic: string; partition: number; replicas: number[]; addingReplicas: number[]; removingReplicas: number[] }[] = [];
  /**
   * When set, alter-partition-reassignments acts as the controller starts and cancels moves: an
   * accepted target puts the partition in `reassignments` with the merged list (target, then the
   * replicas leaving), a cancel puts the original list back; `completeReassignments()` finishes them.
   */
  applyReassignments = false;
  /** Topic configs given at creation (resolved as the controller resolves them) or set through alter-configs (merged over the defaults in metadata), and brokers' dynamic configs. */
  readonly topicConfigs = new Map<string, Record<string, unknown>>();
  readonly brokerDynamicConfigs = new Map<number, Record<string, unknown>>();
  /** Replica lists from before each reassignment in progress, by `topic-partition` (a cancel restores them, order included). */
  private readonly originalReplicas = new Map<string, number[]>();
  /** Answer every produce request this many ms after appending (keeps several in flight). */
  produceDelayMs = 0;
  /** The most produce requests a broker held at once. */
  produceInFlightMax = 0;
  private produceInFlight = 0;
  private readonly connectionIds = new WeakMap<object, number>();
  private connectionCount = 0;
  private nextProducerId = 1000;
  private produceAttempts = new Map<string, number>();

  static async start(brokerCount = 3): Promise<FakeCluster> {
    const cluster = new FakeCluster();
    for (let id = 0; id < brokerCount; id++) {
      const server = createMsgpackServer();
      cluster.routes(server, id);
      await server.listen({ port: 0, host: '127.0.0.1' });
      const port = (server.server.address() as { port: number }).port;
      cluster.brokers.push({ id, rack: id % 2 === 0 ? 'rack-1' : 'rack-2', server, port, alive: true });
    }
    return cluster;
  }

  get bootstrap(): string[] {
    return [`127.0.0.1:${this.brokers[0]!.port}`];
  }

  createTopic(name: string, partitions: number, leaders?: number[]): void {
    const n = this.brokers.length;
    this.topics.set(
      name,
      Array.from({ length: partitions }, (_, p) => {
        const leader = leaders?.[p] ?? p % n;
        const replicas = [leader, (leader + 1) % n];
        return { leader, leaderEpoch: 0, replicas, isr: [...replicas], batches: [], logEndOffset: 0, producers: new Map() };
      }),
    );
  }

  /** Finishes every reassignment in progress, as the controller does once the targets are in sync. */
  completeReassignments(): void {
    for (const r of this.reassignments.splice(0)) {
      const p = this.partition(r.topic, r.partition);
      p.replicas = r.replicas.filter((b) => !r.removingReplicas.includes(b));
      p.isr = [...p.replicas];
      if (!p.replicas.includes(p.leader)) p.leader = p.replicas[0]!;
    }
  }

  partition(topic: string, partition: number): FakePartition {
    const p = this.topics.get(topic)?.[partition];
    if (!p) throw new Error(`no ${topic}-${partition}`);
    return p;
  }

  moveLeader(topic: string, partition: number, leader: number): void {
    const p = this.partition(topic, partition);
    p.leader = leader;
    p.leaderEpoch++;
  }

  /**
   * A leader change that loses the log from `offset` on (the new leader never got those batches:
   * an unclean election, or an uncommitted tail): the log is cut there and the producer state
   * rebuilt from what is left, as the new leader rebuilds it.
   */
  failover(topic: string, partition: number, leader: number, offset: number): void {
    const p = this.partition(topic, partition);
    this.moveLeader(topic, partition, leader);
    p.batches = p.batches.filter((b) => {
      const h = readBatchHeader(b);
      return h.baseOffset + h.lastOffsetDelta < offset;
    });
    const last = p.batches.at(-1);
    p.logEndOffset = last === undefined ? 0 : readBatchHeader(last).baseOffset + readBatchHeader(last).lastOffsetDelta + 1;
    p.producers.clear();
    for (const b of p.batches) {
      const h = readBatchHeader(b);
      if (h.producerId >= 0) this.rememberBatch(p, h.producerId, h.producerEpoch, h.baseSequence, h.recordCount, h.baseOffset);
    }
  }

  /** Every record value of a partition's log, in offset order. */
  values(topic: string, partition: number): string[] {
    return decodeBatches(Buffer.concat(this.partition(topic, partition).batches)).map((r) => r.value?.toString() ?? '');
  }

  /** Broker `id` stops answering (its requests wait) until `resume(id)`, like `kill -STOP`. */
  pause(id: number): void {
    if (!this.paused.has(id)) this.paused.set(id, Promise.withResolvers<void>());
  }

  resume(id: number): void {
    this.paused.get(id)?.resolve();
    this.paused.delete(id);
  }

  async close(): Promise<void> {
    this.hangRelease.resolve();
    for (const id of [...this.paused.keys()]) this.resume(id);
    this.groups.close();
    await Promise.all(this.brokers.map((b) => b.server.close()));
  }

  private metadata(broker: number, topics: string[] | undefined): BrokerMetadataResponse {
    const names = topics ?? [...this.topics.keys()];
    return {
      clusterId: 'fake',
      version: 1,
      brokerId: broker,
      controller: { host: '127.0.0.1', port: 1 },
      brokers: this.brokers.map((b) => ({ id: b.id, rack: b.rack, host: '127.0.0.1', port: b.port, alive: b.alive })),
      topics: names
        .filter((n) => this.topics.has(n))
        .map((name) => ({
          name,
          configs: { ...DEFAULT_TOPIC_CONFIGS, ...(this.topicConfigs.get(name) as object | undefined) },
          partitions: this.topics.get(name)!.map((p, partition) => {
            const moving = this.reassignments.find((r) => r.topic === name && r.partition === partition);
            return {
              partition,
              leader: p.leader,
              leaderEpoch: p.leaderEpoch,
              replicas: p.replicas,
              isr: p.isr,
              addingReplicas: moving?.addingReplicas ?? [],
              removingReplicas: moving?.removingReplicas ?? [],
            };
          }),
        })),
      unknownTopics: names.filter((n) => !this.topics.has(n)),
    };
  }

  private append(p: FakePartition, records: Buffer): number {
    const header = readBatchHeader(records);
    const { producerId, producerEpoch, baseSequence, recordCount } = header;
    if (producerId >= 0) {
      const entry = p.producers.get(producerId);
      if (entry !== undefined && producerEpoch < entry.epoch) {
        throw new TributaryError('INVALID_REQUEST', `producer ${producerId} epoch ${producerEpoch} is fenced by epoch ${entry.epoch}`);
      }
      if (entry !== undefined && producerEpoch > entry.epoch && baseSequence !== 0) {
        throw new TributaryError(
          'OUT_OF_ORDER_SEQUENCE_NUMBER',
          `producer ${producerId} new epoch ${producerEpoch} must start at sequence 0, got ${baseSequence}`,
        );
      }
      if (entry !== undefined && producerEpoch === entry.epoch) {
        const dup = entry.batches.find((b) => b.firstSeq === baseSequence && b.count === recordCount);
        if (dup) return dup.baseOffset;
        const last = entry.batches.at(-1)!;
        const expected = last.firstSeq + last.count;
        if (baseSequence !== expected) {
          if (baseSequence < entry.batches[0]!.firstSeq)
            throw new TributaryError('DUPLICATE_SEQUENCE_NUMBER', `sequence ${baseSequence} is older than the batches remembered`);
          throw new TributaryError(
            'OUT_OF_ORDER_SEQUENCE_NUMBER',
            `producer ${producerId} epoch ${producerEpoch}: expected sequence ${expected}, got ${baseSequence}`,
          );
        }
      }
      this.rememberBatch(p, producerId, producerEpoch, baseSequence, recordCount, p.logEndOffset);
    }
    const copy = Buffer.from(records);
    const baseOffset = p.logEndOffset;
    stampBatch(copy, baseOffset, p.leaderEpoch);
    p.batches.push(copy);
    p.logEndOffset += recordCount;
    return baseOffset;
  }

  private rememberBatch(p: FakePartition, producerId: number, epoch: number, firstSeq: number, count: number, baseOffset: number): void {
    let entry = p.producers.get(producerId);
    if (entry === undefined || epoch > entry.epoch) {
      entry = { epoch, batches: [] };
      p.producers.set(producerId, entry);
    }
    entry.batches.push({ firstSeq, count, baseOffset });
    if (entry.batches.length > 5) entry.batches.shift();
  }

  private routes(app: MsgpackServer, broker: number): void {
    app.addHook('onRequest', async () => {
      const paused = this.paused.get(broker);
      if (paused) await paused.promise;
    });
    app.post('/metadata', async (req) => this.metadata(broker, (req.body as { topics?: string[] }).topics));
    this.groups.routes(
      app,
      broker,
      () => this.brokers[this.groups.brokerId]!.port,
      (topic, partition) => this.topics.get(topic)?.[partition] !== undefined,
    );
    app.post('/admin/init-producer-id', async () => {
      this.initProducerIdCalls++;
      return { producerId: this.nextProducerId++, producerEpoch: this.initProducerEpoch };
    });
    app.post('/admin/create-topic', async (req) => {
      const body = req.body as { name: string; partitions: number; configs?: TopicConfigInput };
      if (this.topics.has(body.name)) throw new TributaryError('TOPIC_ALREADY_EXISTS', `topic '${body.name}' already exists`);
      this.topicConfigs.set(body.name, { ...resolveTopicConfigs(body.configs) });
      this.createTopic(body.name, body.partitions);
      return { topic: {} };
    });
    app.post('/admin/delete-topic', async (req) => {
      this.topics.delete((req.body as { name: string }).name);
      return {};
    });
    app.post('/admin/set-broker-config', async (req) => {
      this.brokerConfigCalls.push(req.body as { brokerId: number; configs: Record<string, number> });
      return {};
    });
    app.post('/admin/alter-partition-reassignments', async (req) => {
      const body = req.body as { partitions: { topic: string; partition: number; replicas: number[] | null }[] };
      this.adminCalls.push({ op: 'alter-partition-reassignments', body });
      const known = new Set(this.brokers.map((b) => b.id));
      return {
        partitions: body.partitions.map(({ topic, partition, replicas }) => {
          const unknown = (replicas ?? []).find((id) => !known.has(id));
          if (unknown !== undefined) return { topic, partition, error: { code: 'INVALID_REPLICA_ASSIGNMENT', message: `broker ${unknown} is not registered` } };
          if (this.applyReassignments) {
            const running = this.reassignments.findIndex((r) => r.topic === topic && r.partition === partition);
            const p = this.partition(topic, partition);
            if (replicas === null) {
              if (running < 0) return { topic, partition, error: { code: 'NO_REASSIGNMENT_IN_PROGRESS', message: `${topic}-${partition}: nothing to cancel` } };
              this.reassignments.splice(running, 1);
              p.replicas = this.originalReplicas.get(`${topic}-${partition}`)!;
            } else {
              if (running >= 0)
                return { topic, partition, error: { code: 'REASSIGNMENT_IN_PROGRESS', message: `${topic}-${partition} is already being reassigned` } };
              this.originalReplicas.set(`${topic}-${partition}`, [...p.replicas]);
              const removing = p.replicas.filter((b) => !replicas.includes(b));
              const adding = replicas.filter((b) => !p.replicas.includes(b));
              p.replicas = [...replicas, ...removing];
              if (adding.length > 0 || removing.length > 0)
                this.reassignments.push({ topic, partition, replicas: [...p.replicas], addingReplicas: adding, removingReplicas: removing });
              else p.replicas = [...replicas];
            }
          }
          return { topic, partition };
        }),
      };
    });
    app.post('/admin/list-partition-reassignments', async (req) => {
      const body = req.body as { topics?: string[] };
      this.adminCalls.push({ op: 'list-partition-reassignments', body });
      this.beforeListReassignments?.(this.adminCalls.filter((c) => c.op === 'list-partition-reassignments').length);
      return { reassignments: this.reassignments.filter((r) => body.topics === undefined || body.topics.includes(r.topic)) };
    });
    app.post('/admin/create-partitions', async (req) => {
      const body = req.body as { topic: string; totalCount: number };
      this.adminCalls.push({ op: 'create-partitions', body });
      const parts = this.topics.get(body.topic);
      if (!parts) throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', 'no such topic');
      if (body.totalCount <= parts.length) throw new TributaryError('INVALID_PARTITIONS', `topic has ${parts.length} partitions`);
      const n = this.brokers.length;
      for (let p = parts.length; p < body.totalCount; p++) {
        // Led by no one at first, as a broker that has not applied the metadata yet would show it.
        parts.push({ leader: -1, leaderEpoch: 0, replicas: [p % n], isr: [p % n], batches: [], logEndOffset: 0, producers: new Map() });
        setTimeout(() => {
          parts[p]!.leader = p % n;
        }, 50);
      }
      return { partitions: [] };
    });
    for (const op of ['describe-configs', 'alter-configs']) {
      app.post(`/admin/${op}`, async (req) => {
        const body = req.body as { resource: { topic?: string; broker?: number }; set?: Record<string, unknown>; delete?: string[] };
        this.adminCalls.push({ op, body });
        if (op === 'alter-configs') {
          const { topic, broker } = body.resource;
          const configs = topic !== undefined ? (this.topicConfigs.get(topic) ?? {}) : (this.brokerDynamicConfigs.get(broker!) ?? {});
          Object.assign(configs, body.set ?? {});
          for (const name of body.delete ?? []) delete configs[name];
          if (topic !== undefined) this.topicConfigs.set(topic, configs);
          else this.brokerDynamicConfigs.set(broker!, configs);
        }
        return {
          resource: body.resource,
          configs: Object.entries(body.set ?? { 'retention.ms': 1000 }).map(([name, value]) => ({ name, value, isDefault: false, doc: '' })),
        };
      });
    }
    app.post('/admin/elect-leaders', async (req) => {
      const parts = this.topics.get((req.body as { topic: string }).topic);
      if (!parts) throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', 'no such topic');
      const elected: { partition: number; leader: number }[] = [];
      parts.forEach((p, partition) => {
        if (p.leader !== p.replicas[0]) {
          p.leader = p.replicas[0]!;
          p.leaderEpoch++;
          elected.push({ partition, leader: p.leader });
        }
      });
      return { elected };
    });
    app.post('/describe-replicas', async (req) => {
      const name = (req.body as { topic: string }).topic;
      const parts = this.topics.get(name) ?? [];
      return {
        partitions: parts
          .map((p, partition) => ({ p, partition }))
          .filter(({ p }) => p.leader === broker)
          .map(({ p, partition }) => ({
            partition,
            highWatermark: p.logEndOffset,
            logStartOffset: 0,
            logEndOffset: p.logEndOffset,
            logSizeBytes: p.batches.reduce((n, b) => n + b.length, 0),
            replicas: p.replicas.map((brokerId) => ({ brokerId, logEndOffset: p.logEndOffset, lagRecords: 0, lastCaughtUpMsAgo: 0 })),
          })),
      };
    });
    app.post('/produce', async (req) => {
      const request = req.body as ProduceRequest;
      const socket = req.raw.socket;
      if (!this.connectionIds.has(socket)) this.connectionIds.set(socket, ++this.connectionCount);
      this.produceCalls.push({
        broker,
        request: { ...request, partitions: request.partitions.map((p) => ({ ...p, records: Buffer.from(p.records) })) },
        connection: this.connectionIds.get(socket)!,
      });
      const response: ProduceResponse = { partitions: [] };
      for (const { topic, partition, records } of request.partitions) {
        const key = `${topic}-${partition}`;
        const attempt = (this.produceAttempts.get(key) ?? 0) + 1;
        this.produceAttempts.set(key, attempt);
        const p = this.topics.get(topic)?.[partition];
        const hooked = this.onProduce?.(broker, topic, partition, attempt, Buffer.from(records));
        if (hooked === 'hang') {
          await this.hangRelease.promise;
          response.partitions.push({ topic, partition, baseOffset: -1, error: { code: 'REQUEST_TIMED_OUT', message: 'hung' } });
        } else if (hooked && hooked !== 'append-then-timeout') {
          response.partitions.push({ topic, partition, baseOffset: -1, error: hooked });
        } else if (!p) {
          response.partitions.push({ topic, partition, baseOffset: -1, error: { code: 'UNKNOWN_TOPIC_OR_PARTITION', message: `no ${key}` } });
        } else if (p.leader !== broker) {
          response.partitions.push({
            topic,
            partition,
            baseOffset: -1,
            error: { code: 'NOT_LEADER_OR_FOLLOWER', message: `broker ${broker} does not lead ${key}` },
          });
        } else {
          try {
            const baseOffset = this.append(p, Buffer.from(records));
            if (hooked === 'append-then-timeout')
              response.partitions.push({ topic, partition, baseOffset: -1, error: { code: 'REQUEST_TIMED_OUT', message: 'not committed in time' } });
            else response.partitions.push({ topic, partition, baseOffset });
          } catch (err) {
            response.partitions.push({ topic, partition, baseOffset: -1, error: (err as TributaryError).toWire() });
          }
        }
      }
      if (this.produceDelayMs > 0) {
        this.produceInFlightMax = Math.max(this.produceInFlightMax, ++this.produceInFlight);
        await new Promise((r) => setTimeout(r, this.produceDelayMs));
        this.produceInFlight--;
      }
      return response;
    });
    app.post('/list-offsets', async (req) => {
      const request = req.body as ListOffsetsRequest;
      return {
        partitions: request.partitions.map(({ topic, partition, timestamp }) => {
          const p = this.topics.get(topic)?.[partition];
          if (!p) return { topic, partition, offset: -1, timestamp, error: { code: 'UNKNOWN_TOPIC_OR_PARTITION', message: 'unknown' } };
          if (timestamp >= 0) {
            // The first record at or after the time (-1: none), as the broker's time index finds it.
            const found = decodeBatches(Buffer.concat(p.batches)).find((r) => r.timestamp >= timestamp);
            return { topic, partition, offset: found?.offset ?? -1, timestamp: found?.timestamp ?? -1 };
          }
          return { topic, partition, offset: timestamp === EARLIEST_TIMESTAMP ? 0 : p.logEndOffset, timestamp };
        }),
      };
    });
    app.post('/fetch', async (req) => {
      const request = req.body as FetchRequest;
      this.fetchCalls.push({ broker, request });
      const deadline = Date.now() + Math.min(request.maxWaitMs, 200);
      for (;;) {
        const response = this.fetchOnce(broker, request);
        if (response.partitions.some((p) => p.records.length > 0 || p.error) || Date.now() >= deadline) return response;
        await new Promise((r) => setTimeout(r, 10));
      }
    });
  }

  private fetchOnce(broker: number, request: FetchRequest): FetchResponse {
    const response: FetchResponse = { partitions: [] };
    for (const { topic, partition, offset } of request.partitions) {
      const p = this.topics.get(topic)?.[partition];
      const base = { topic, partition, highWatermark: p?.logEndOffset ?? -1, logStartOffset: 0, records: Buffer.alloc(0) };
      const hooked = this.onFetch?.(broker, topic, partition);
      if (hooked?.error) {
        response.partitions.push({ ...base, error: hooked.error });
        continue;
      }
      if (!p) {
        response.partitions.push({ ...base, error: { code: 'UNKNOWN_TOPIC_OR_PARTITION', message: 'unknown' } });
        continue;
      }
      if (!p.replicas.includes(broker) && p.leader !== broker) {
        response.partitions.push({ ...base, error: { code: 'NOT_LEADER_OR_FOLLOWER', message: 'not a replica' } });
        continue;
      }
      if (offset > p.logEndOffset) {
        response.partitions.push({ ...base, error: { code: 'OFFSET_OUT_OF_RANGE', message: `offset ${offset} > ${p.logEndOffset}` } });
        continue;
      }
      // Whole batches from the one holding `offset` on (a batch may start before it).
      const chunks = p.batches.filter((b) => {
        const h = readBatchHeader(b);
        return h.baseOffset + h.lastOffsetDelta >= offset;
      });
      const answer: FetchResponse['partitions'][number] = { ...base, records: Buffer.concat(chunks) };
      if (hooked?.preferredReadReplica !== undefined) answer.preferredReadReplica = hooked.preferredReadReplica;
      response.partitions.push(answer);
    }
    return response;
  }
}
