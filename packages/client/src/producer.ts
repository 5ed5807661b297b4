// Producer: batches records per partition, sends each leader ONE produce request holding a batch
// for every partition it leads, retries retriable errors with the same bytes until the delivery
// deadline, and numbers batches per partition (idempotence, KIP-98) so a leader drops duplicates.
//
// Costs per send(): one promise (the one it returns), one append into the batch's bytes. Timers
// are per producer (one linger/backoff timer), not per record; a batch's promises are resolved in
// one loop when its answer arrives.

import {
  BatchBuilder,
  COMPRESSION_CODECS,
  type CompressionCodec,
  BATCH_HEADER_SIZE,
  TributaryError,
  isErrorCode,
  isStaleMetadata,
  type Acks,
  type ErrorCode,
  type InitProducerIdResponse,
  type ProduceRequest,
  type ProduceResponse,
  type RecordHeader,
  type RecordInput,
} from '@tributary/protocol';
import { ClusterClient, type ClientOptions } from './internal/cluster-client.ts';
import { RecordAccumulator, recordSizeBound, type ProducerBatch, type ProducerIdentity, type RecordMetadata } from './internal/accumulator.ts';
import { matchProduceAnswers } from './internal/produce-answers.ts';
import { Fifo } from './internal/fifo.ts';
import { nextStickyPartition, partitionForKey } from './partitioner.ts';
import { produceErrorAction, retryBackoffMs } from './retry.ts';

export type { RecordMetadata } from './internal/accumulator.ts';

export interface ProducerOptions extends ClientOptions {
  /** 'all' (default): committed by the ISR; 1: written by the leader; 0: not awaited. */
  acks?: 'all' | 1 | 0 | -1;
  /** Default true with acks='all' (Kafka's enable.idempotence); requires acks='all'. */
  idempotent?: boolean;
  /** Wait this long for more records before sending a batch that is not full. Default 5. */
  lingerMs?: number;
  /** A batch is sent once it holds this many bytes. Default 16384. */
  batchSize?: number;
  /** While its partition's previous batch is in flight, a batch may grow up to this. Default 262144. */
  batchSizeMax?: number;
  /** Records not acknowledged within this fail (KIP-91). Default 120000. */
  deliveryTimeoutMs?: number;
  /** send() waits at most this long for the topic's metadata. Default 60000 (Kafka's max.block.ms). */
  maxBlockMs?: number;
  /** Bytes of records buffered before send() waits for room. Default 32 MiB. */
  bufferMemoryBytes?: number;
  /**
   * Batches in flight per partition, 1..5 (Kafka's max.in.flight.requests.per.connection; with
   * idempotence the leader de-duplicates and orders up to five; without it a retry may land
   * behind younger batches, so set 1 where order matters more than throughput). Default 5.
   */
  inflightBatchesMax?: number;
  /** Produce requests in flight per broker. Default 5. */
  inflightRequestsMax?: number;
  /** Batch bytes per produce request. Default 8 MiB. */
  requestBytesMax?: number;
  /**
   * Kafka's compression.type: 'none' (default), 'gzip', 'snappy', 'lz4' or 'zstd'. Batches are
   * compressed when sent; brokers validate and store them as they are.
   */
  compression?: CompressionCodec;
  /** Injected randomness for the sticky partitioner (tests). */
  random?: () => number;
}

export type HeadersInput = Record<string, Buffer | string | null> | readonly { key: string; value: Buffer | string | null }[];

export interface ProducerRecord {
  topic: string;
  value: Buffer | string | null;
  key?: Buffer | string | null;
  headers?: HeadersInput;
  partition?: number;
  /** ms since the epoch; default now. */
  timestamp?: number;
}

interface InflightProduce {
  broker: number;
  batches: ProducerBatch[];
  startedMs: number;
  abort: AbortController;
}

/**
 * A produce request this old makes the producer re-read the metadata; if the broker no longer
 * leads any of its partitions (it was fenced: paused, partitioned away), the request is abandoned
 * and its batches retried on the new leader instead of waiting out the request timeout. The same
 * bytes go again, so idempotence de-duplicates whatever the old leader may have kept.
 */
const SLOW_REQUEST_MS = 2_000;

interface PendingSend {
  topic: string;
  partition: number | undefined;
  record: RecordInput;
  resolve: (m: RecordMetadata) => void;
  reject: (e: Error) => void;
  promise: Promise<RecordMetadata>;
  enqueuedMs: number;
}

const PRODUCE_TIMEOUT_MARGIN_MS = 5_000;
/** The producer epoch is an int16: past this, a new producer id is needed (KIP-360). */
const PRODUCER_EPOCH_MAX = 0x7fff;
/** How often the metadata is re-read while batches wait to retry on a failed leader. */
const LEADER_WATCH_MS = 100;

export class Producer {
  private readonly cluster: ClusterClient;
  private readonly accumulator: RecordAccumulator;
  private readonly acks: Acks;
  readonly idempotent: boolean;
  private readonly deliveryTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxBlockMs: number;
  private readonly bufferMemoryBytes: number;
  private readonly inflightRequestsMax: number;
  private readonly requestBytesMax: number;
  private readonly random: () => number;

  private bufferedBytes = 0;
  /** Sends waiting for their topic's metadata, per topic, in order. */
  private readonly waitingForTopic = new Map<string, PendingSend[]>();
  /** Sends waiting for buffer memory, in order. */
  private readonly waitingForMemory = new Fifo<PendingSend>();
  private readonly stickyPartition = new Map<string, number>();
  private readonly inflightPerBroker = new Map<number, number>();
  private readonly inflightRequests = new Map<Promise<void>, InflightProduce>();
  private watchdog: NodeJS.Timeout | undefined;
  private leaderWatch: NodeJS.Timeout | undefined;

  private identity: ProducerIdentity | undefined;
  private identityGeneration = 0;
  private identityPending: Promise<void> | undefined;
  private identityRetryAtMs = 0;

  private flushing = 0;
  private closing = false;
  private drainScheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs = Infinity;
  private metadataRetryAtMs = 0;

  constructor(options: ProducerOptions) {
    this.inflightRequestsMax = positive('inflightRequestsMax', options.inflightRequestsMax ?? 5);
    // Produce requests take each broker's ordered lane: one connection, this many pipelined
    // (Kafka's max.in.flight.requests.per.connection), so batches reach the leader in order.
    this.cluster = new ClusterClient(options, { orderedInFlightMax: this.inflightRequestsMax });
    const acks = options.acks ?? 'all';
    if (acks !== 'all' && acks !== -1 && acks !== 1 && acks !== 0) {
      throw new TributaryError('INVALID_REQUEST', `acks must be 'all', 1 or 0, got ${JSON.stringify(acks)}`);
    }
    this.acks = acks === 'all' ? -1 : acks;
    if (options.idempotent === true && this.acks !== -1) {
      throw new TributaryError('INVALID_REQUEST', "an idempotent producer needs acks='all' (set idempotent: false for acks 1 or 0)");
    }
    this.idempotent = options.idempotent ?? this.acks === -1;
    const batchSize = positive('batchSize', options.batchSize ?? 16_384);
    this.accumulator = new RecordAccumulator({
      batchSize,
      batchSizeMax: Math.max(batchSize, positive('batchSizeMax', options.batchSizeMax ?? 262_144)),
      lingerMs: nonNegative('lingerMs', options.lingerMs ?? 5),
      inflightBatchesMax: inRange('inflightBatchesMax', options.inflightBatchesMax ?? 5, 1, 5),
      idempotent: this.idempotent,
      compression: compressionOption(options.compression),
    });
    this.deliveryTimeoutMs = positive('deliveryTimeoutMs', options.deliveryTimeoutMs ?? 120_000);
    this.requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs ?? 30_000);
    this.maxBlockMs = nonNegative('maxBlockMs', options.maxBlockMs ?? 60_000);
    this.bufferMemoryBytes = positive('bufferMemoryBytes', options.bufferMemoryBytes ?? 32 * 1024 * 1024);
    this.requestBytesMax = positive('requestBytesMax', options.requestBytesMax ?? 8 * 1024 * 1024);
    this.random = options.random ?? Math.random;
    this.cluster.startPeriodicRefresh();
  }

  /** Queues one record; resolves with its partition and offset once acknowledged (per acks). */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    if (this.closing) return Promise.reject(new TributaryError('INVALID_REQUEST', 'the producer is closed'));
    let input: RecordInput;
    try {
      input = toRecordInput(record);
    } catch (err) {
      return Promise.reject(err);
    }
    const { promise, resolve, reject } = Promise.withResolvers<RecordMetadata>();
    const pending: PendingSend = { topic: record.topic, partition: record.partition, record: input, resolve, reject, promise, enqueuedMs: this.cluster.now() };
    const waiting = this.waitingForTopic.get(record.topic);
    if (waiting) waiting.push(pending);
    else if (!this.cluster.metadata.topics.has(record.topic)) this.awaitTopic(pending);
    else this.place(pending);
    return promise;
  }

  /** Sends everything buffered now and waits until each of those records succeeded or failed. */
  async flush(): Promise<void> {
    this.flushing++;
    try {
      this.scheduleDrain();
      const pending: Promise<unknown>[] = [];
      for (const list of this.waitingForTopic.values()) for (const p of list) pending.push(p.promise);
      for (const p of this.waitingForMemory) pending.push(p.promise);
      if (pending.length > 0) await Promise.allSettled(pending);
      const batches = this.accumulator.allBatches();
      if (batches.length > 0) await Promise.all(batches.map((b) => b.done()));
    } finally {
      this.flushing--;
    }
  }

  /** Flushes, then releases connections and timers. send() after close() rejects. */
  async close(): Promise<void> {
    if (this.closing) return;
    await this.flush();
    this.closing = true;
    await Promise.allSettled([...this.inflightRequests.keys()]);
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.leaderWatch) clearInterval(this.leaderWatch);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.cluster.close();
  }

  // -------------------------------------------------------------------------------------------
  // Placing records

  /** Holds sends for a topic until its metadata arrives (or maxBlockMs passes). */
  private awaitTopic(first: PendingSend): void {
    const topic = first.topic;
    const list = [first];
    this.waitingForTopic.set(topic, list);
    this.cluster.addInterest(topic);
    const started = this.cluster.now();
    const attempt = async (n: number): Promise<void> => {
      let lastError: TributaryError | undefined;
      try {
        await this.cluster.refresh();
      } catch (err) {
        lastError = asTributaryError(err);
      }
      if (this.cluster.metadata.topics.has(topic)) {
        this.waitingForTopic.delete(topic);
        for (const p of list) this.place(p);
        return;
      }
      if (this.cluster.metadata.unauthorizedTopics.has(topic)) {
        this.waitingForTopic.delete(topic);
        const err = new TributaryError('TOPIC_AUTHORIZATION_FAILED', `not authorized to write to topic '${topic}' (no ACL allows this user to Describe it)`);
        for (const p of list) p.reject(err);
        return;
      }
      const waited = this.cluster.now() - started;
      if (waited >= this.maxBlockMs) {
        this.waitingForTopic.delete(topic);
        const err = lastError
          ? new TributaryError(lastError.code, `cannot send to topic '${topic}': ${lastError.message}`, { cause: lastError })
          : new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' does not exist (waited ${waited} ms for it to appear in the metadata)`);
        for (const p of list) p.reject(err);
        return;
      }
      // Not unref'd: sends wait on it, and an awaited promise alone does not keep Node alive (a
      // script awaiting send() to an unreachable cluster exited with code 13 instead of getting
      // the error). It stops within maxBlockMs.
      setTimeout(() => void attempt(n + 1), Math.min(retryBackoffMs(n), Math.max(0, this.maxBlockMs - waited)));
    };
    void attempt(1);
  }

  private place(p: PendingSend): void {
    if (this.waitingForMemory.length > 0 || (this.bufferedBytes >= this.bufferMemoryBytes && this.accumulator.batchCount > 0)) {
      this.waitingForMemory.push(p);
      return;
    }
    this.appendNow(p);
  }

  private appendNow(p: PendingSend): void {
    const topic = this.cluster.metadata.topics.get(p.topic);
    if (!topic) {
      // The topic vanished from the metadata (deleted) while the record waited.
      p.reject(new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${p.topic}' does not exist`));
      return;
    }
    const count = topic.partitions.length;
    let partition: number;
    let sticky = false;
    if (p.partition !== undefined) {
      if (!Number.isInteger(p.partition) || p.partition < 0 || p.partition >= count) {
        p.reject(new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${p.topic}' has no partition ${p.partition} (it has ${count})`));
        return;
      }
      partition = p.partition;
    } else if (p.record.key != null) {
      partition = partitionForKey(p.record.key, count);
    } else {
      sticky = true;
      partition = this.stickyPartition.get(p.topic) ?? this.chooseSticky(p.topic, count, undefined);
    }
    const maxMessageBytes = topic.configs?.['max.message.bytes'] ?? 1024 * 1024;
    const size = recordSizeBound(p.record) + BATCH_HEADER_SIZE > maxMessageBytes ? BatchBuilder.recordSize(p.record) + BATCH_HEADER_SIZE : 0;
    if (size > maxMessageBytes) {
      p.reject(new TributaryError('MESSAGE_TOO_LARGE', `a record of ${size} bytes exceeds max.message.bytes ${maxMessageBytes} of topic '${p.topic}'`));
      return;
    }
    const now = this.cluster.now();
    const result = this.accumulator.append(
      p.topic,
      partition,
      p.record,
      now,
      Math.min(this.accumulator.options.batchSizeMax, maxMessageBytes),
      p.resolve,
      p.reject,
    );
    this.bufferedBytes += result.bytes;
    if (sticky && result.full) this.chooseSticky(p.topic, count, partition);
    // With lingerMs 0 a new batch is due now: the drain runs after this tick's sends (Kafka's
    // sender wakes at once), not on a 0 ms timer, which Node fires after 1 ms at the earliest.
    if (result.full || this.flushing > 0 || (result.opened && this.accumulator.options.lingerMs === 0)) this.scheduleDrain();
    else if (result.opened) this.armTimer(now + this.accumulator.options.lingerMs);
  }

  private chooseSticky(topic: string, count: number, previous: number | undefined): number {
    const next = nextStickyPartition(count, previous, this.cluster.metadata.availablePartitions(topic), this.random);
    this.stickyPartition.set(topic, next);
    return next;
  }

  private releaseMemory(bytes: number): void {
    this.bufferedBytes -= bytes;
    while (this.waitingForMemory.length > 0 && (this.bufferedBytes < this.bufferMemoryBytes || this.accumulator.batchCount === 0)) {
      this.appendNow(this.waitingForMemory.shift()!);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private armTimer(atMs: number): void {
    if (!Number.isFinite(atMs) || (this.timer && this.timerAtMs <= atMs)) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAtMs = atMs;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAtMs = Infinity;
        this.drain();
      },
      Math.max(0, atMs - this.cluster.now()),
    );
  }

  private drain(): void {
    const now = this.cluster.now();
    for (const batch of this.accumulator.expire(now, this.deliveryTimeoutMs)) {
      const code: ErrorCode = batch.lastError?.code ?? 'REQUEST_TIMED_OUT';
      const why = batch.lastError ? `last error ${code}: ${batch.lastError.message}` : 'no leader was available to send it to';
      this.finishFailed(
        batch,
        new TributaryError(
          code,
          `delivery timeout: ${batch.recordCount} record(s) to ${batch.topic}-${batch.partition} not acknowledged within ${this.deliveryTimeoutMs} ms after ${batch.attempts} attempt(s); ${why}`,
          { cause: batch.lastError },
        ),
        false,
      );
    }
    if (this.accumulator.batchCount === 0) return;
    if (this.idempotent && !this.identity) {
      this.ensureIdentity(now);
      this.armTimer(Math.min(this.accumulator.nextExpiryMs(this.deliveryTimeoutMs), Math.max(now + 10, this.identityRetryAtMs)));
      return;
    }
    const { byBroker, leaderMissing, nextDueMs } = this.accumulator.drain(
      now,
      this.flushing > 0 || this.closing,
      (t, p) => this.cluster.metadata.leaderOf(t, p),
      (b) => (this.inflightPerBroker.get(b) ?? 0) < this.inflightRequestsMax,
      this.requestBytesMax,
      this.idempotent ? this.identity?.generation : undefined,
    );
    for (const [broker, batches] of byBroker) this.sendRequest(broker, batches);
    let wakeMs = Math.min(nextDueMs, this.accumulator.nextExpiryMs(this.deliveryTimeoutMs));
    if (leaderMissing) {
      if (now >= this.metadataRetryAtMs) {
        this.metadataRetryAtMs = now + 100;
        this.cluster.refresh().then(
          () => this.scheduleDrain(),
          () => {},
        );
      }
      wakeMs = Math.min(wakeMs, this.metadataRetryAtMs);
    }
    this.armTimer(wakeMs);
  }

  private ensureIdentity(now: number): void {
    if (this.identityPending || now < this.identityRetryAtMs) return;
    let attempt = 0;
    this.identityPending = (async () => {
      try {
        const answer = await this.cluster.callAny<InitProducerIdResponse>('/admin/init-producer-id', {});
        this.identity = { producerId: answer.producerId, producerEpoch: answer.producerEpoch, generation: ++this.identityGeneration };
        this.cluster.log.info({ producerId: answer.producerId, producerEpoch: answer.producerEpoch }, 'producer id assigned');
      } catch (err) {
        attempt++;
        this.identityRetryAtMs = this.cluster.now() + retryBackoffMs(attempt);
        this.cluster.log.warn({ err }, 'init-producer-id failed');
      } finally {
        this.identityPending = undefined;
        this.scheduleDrain();
      }
    })();
  }

  private sendRequest(broker: number, batches: ProducerBatch[]): void {
    const identity = this.idempotent ? this.identity : undefined;
    const request: ProduceRequest = { acks: this.acks, timeoutMs: this.requestTimeoutMs, partitions: new Array(batches.length) };
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      if (!b.sealed && this.stickyPartition.get(b.topic) === b.partition) this.stickyPartition.delete(b.topic);
      const records = this.accumulator.seal(b, identity);
      b.attempts++;
      request.partitions[i] = { topic: b.topic, partition: b.partition, records };
    }
    this.inflightPerBroker.set(broker, (this.inflightPerBroker.get(broker) ?? 0) + 1);
    if (this.acks === 0) {
      // Nothing to wait for: the records count as sent once the request is on its way.
      for (const b of batches) this.finishSucceeded(b, -1);
    }
    const abort = new AbortController();
    const call = this.cluster
      .callBroker<ProduceResponse>(broker, '/produce', request, {
        timeoutMs: this.requestTimeoutMs + PRODUCE_TIMEOUT_MARGIN_MS,
        signal: abort.signal,
        ordered: true,
      })
      .then(
        (response) => {
          if (this.acks !== 0) this.handleResponse(broker, batches, response);
        },
        (err) => {
          if (this.acks === 0) return;
          const error = asTributaryError(err);
          for (const b of batches) this.handleError(b, error, -1, broker);
        },
      )
      .finally(() => {
        this.inflightPerBroker.set(broker, (this.inflightPerBroker.get(broker) ?? 1) - 1);
        this.inflightRequests.delete(call);
        this.scheduleDrain();
      });
    this.inflightRequests.set(call, { broker, batches, startedMs: this.cluster.now(), abort });
    this.startWatchdog();
  }

  /**
   * While batches wait out a backoff after failing on their leader (dead, fenced, moved), the
   * metadata is re-read every LEADER_WATCH_MS, and a partition whose leader changed is sent to
   * the new one at once instead of after the rest of its backoff (up to 1 s).
   */
  private watchLeaders(): void {
    if (this.leaderWatch || this.closing) return;
    this.leaderWatch = setInterval(() => {
      this.cluster.refresh().then(
        () => {
          const { moved, waiting } = this.accumulator.retryOnNewLeaders(this.cluster.now(), (t, p) => this.cluster.metadata.leaderOf(t, p));
          if (moved) this.scheduleDrain();
          if (!waiting && this.leaderWatch) {
            clearInterval(this.leaderWatch);
            this.leaderWatch = undefined;
          }
        },
        () => {},
      );
    }, LEADER_WATCH_MS);
    this.leaderWatch.unref();
  }

  private startWatchdog(): void {
    if (this.watchdog || this.acks === 0) return;
    this.watchdog = setInterval(() => void this.checkSlowRequests(), SLOW_REQUEST_MS / 2);
    this.watchdog.unref();
  }

  private async checkSlowRequests(): Promise<void> {
    const now = this.cluster.now();
    const slow = [...this.inflightRequests.values()].filter((r) => now - r.startedMs >= SLOW_REQUEST_MS);
    if (slow.length === 0) return;
    try {
      await this.cluster.refresh();
    } catch {
      return;
    }
    for (const r of slow) {
      if (r.abort.signal.aborted) continue;
      const stillLeads = r.batches.some((b) => this.cluster.metadata.leaderOf(b.topic, b.partition) === r.broker);
      if (!stillLeads) {
        this.cluster.log.info({ broker: r.broker, waitedMs: now - r.startedMs }, 'abandoning produce request to a broker that no longer leads its partitions');
        r.abort.abort(new Error(`broker ${r.broker} no longer leads these partitions`));
      }
    }
  }

  private handleResponse(broker: number, batches: ProducerBatch[], response: ProduceResponse): void {
    const answers = matchProduceAnswers(batches, response.partitions);
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const answer = answers[i];
      if (!answer) {
        this.handleError(b, new TributaryError('UNKNOWN_SERVER_ERROR', `broker ${broker} did not answer for ${b.topic}-${b.partition}`), -1, broker);
      } else if (answer.error) {
        this.handleError(b, TributaryError.fromWire(answer.error), answer.baseOffset, broker);
      } else {
        this.finishSucceeded(b, answer.baseOffset);
      }
    }
  }

  private handleError(batch: ProducerBatch, err: TributaryError, baseOffset: number, broker: number): void {
    const now = this.cluster.now();
    const backoffMs = retryBackoffMs(batch.attempts);
    let action = produceErrorAction(err.code, now - batch.createdMs, this.deliveryTimeoutMs, backoffMs);
    // With several batches in flight, a batch that overtook an older one still unfinished (being
    // retried) is refused as out of order: it goes again behind that one, same bytes.
    if (err.code === 'OUT_OF_ORDER_SEQUENCE_NUMBER' && this.accumulator.hasOlderUnfinished(batch) && now - batch.createdMs + backoffMs < this.deliveryTimeoutMs)
      action = 'retry';
    // The older batch it overtook was acknowledged in the meantime (answers on different
    // connections crossed): once more, now that the leader has it. A second refusal is genuine.
    if (
      err.code === 'OUT_OF_ORDER_SEQUENCE_NUMBER' &&
      action !== 'retry' &&
      !batch.overtakenRetried &&
      this.accumulator.followsAcknowledged(batch) &&
      now - batch.createdMs + backoffMs < this.deliveryTimeoutMs
    ) {
      batch.overtakenRetried = true;
      action = 'retry';
    }
    // A genuine gap: the oldest unfinished batch of its partition refused as out of order. The
    // records are sent again under a new producer epoch instead of failing (KIP-360; below).
    if (
      err.code === 'OUT_OF_ORDER_SEQUENCE_NUMBER' &&
      action !== 'retry' &&
      this.idempotent &&
      batch.sealed &&
      now - batch.createdMs + backoffMs < this.deliveryTimeoutMs
    ) {
      this.recoverFromSequenceGap(batch, broker);
      action = 'retry';
    }
    const where = `${batch.topic}-${batch.partition}`;
    if (action === 'duplicate') {
      if (baseOffset >= 0) return this.finishSucceeded(batch, baseOffset);
      return this.finishFailed(
        batch,
        new TributaryError(
          err.code,
          `${batch.recordCount} record(s) to ${where} were already written (duplicate sequence ${batch.baseSequence}) but the leader did not say at which offset`,
        ),
        false,
      );
    }
    if (action === 'retry') {
      batch.lastError = err;
      batch.lastBroker = broker;
      if (isStaleMetadata(err.code)) this.watchLeaders();
      this.cluster.log.debug(
        { topic: batch.topic, partition: batch.partition, broker, code: err.code, attempt: batch.attempts, backoffMs },
        'retrying produce',
      );
      this.accumulator.requeue(batch, now, backoffMs);
      if (isStaleMetadata(err.code) || err.code === 'REQUEST_TIMED_OUT')
        this.cluster.refresh().then(
          () => this.scheduleDrain(),
          () => {},
        );
      this.armTimer(now + backoffMs);
      return;
    }
    const retriable = err.retriable;
    const message = retriable
      ? `delivery timeout: ${batch.recordCount} record(s) to ${where} not acknowledged after ${batch.attempts} attempt(s) over ${now - batch.createdMs} ms (the next retry would pass deliveryTimeoutMs ${this.deliveryTimeoutMs}); last error ${err.code}: ${err.message}`
      : `failed to produce ${batch.recordCount} record(s) to ${where} (attempt ${batch.attempts}): ${err.code}: ${err.message}`;
    this.finishFailed(batch, new TributaryError(err.code, message, { cause: err }), true);
  }

  /**
   * KIP-360 for an idempotent producer, as Kafka's producer does it since 2.5
   * (TransactionManager.requestEpochBumpForPartition, bumpIdempotentEpochAndResetIdIfNeeded).
   * `batch` is the oldest unfinished batch of its partition P and P's leader refused it as out of
   * order: the leader's log holds this epoch's batches of P only up to a sequence below
   * `batch`'s, with a hole between (a batch that failed for good here without being appended, or
   * one acknowledged and lost in an unclean failover). Retrying the same bytes can never succeed.
   * So the producer moves to a new epoch (locally; a new producer id from init-producer-id only
   * when the int16 epoch would overflow), and P's batches from `batch` on are sealed anew under
   * it, sequences from 0, which is what a leader accepts after a gap, and sent again in order.
   *
   * Why none of them can end up twice in P's log, once under each epoch:
   * - What the refusal says. A leader's log grows only by appends in sequence order while it
   *   leads, and its producer state is rebuilt from that log. Refusing `batch` as out of order,
   *   its log holds no batch of this producer epoch with `batch`'s sequence or a later one; and
   *   none can be appended to it afterwards, since each would need `batch`'s sequence first and
   *   `batch`'s old bytes are never sent again. Every younger batch of P has a higher sequence
   *   under the same epoch (sequences are given in queue order, a partition takes a new epoch
   *   only after its old-epoch batches are done), so `batch` and all younger ones are absent and
   *   stay absent: re-sealing them cannot duplicate anything in that log.
   * - Batches still in flight. P is re-sealed only once none of its batches is in flight
   *   (RecordAccumulator.resequence): every request carrying old bytes of P has been answered
   *   first (refused too, or a retriable error; were one a success, it is in the log and done,
   *   and is not re-sealed), so no old-epoch attempt is pending when new-epoch bytes leave, and
   *   P's batches still go oldest first.
   * - Batches of unknown fate are never re-sealed: one that failed for good (delivery timeout,
   *   non-retriable error) leaves its sequence spent and only moves the producer to a new epoch
   *   (finishFailed), without touching any other batch.
   * - Other partitions. The epoch is the producer's, but their leaders have not seen the new
   *   one: their batches sealed under the old epoch are retried with their old bytes and are
   *   de-duplicated as before; a partition seals its first new-epoch batch (sequence 0) only once
   *   none of its old-epoch batches is in flight, so an old-epoch retry never lands behind a
   *   new-epoch batch (the leader would fence it). Should one of those get this refusal too, it
   *   comes here and its partition is re-sealed under the epoch already current.
   * - Other logs. An old-epoch copy of `batch` can only be in the uncommitted tail an earlier
   *   leader left, which the replicas truncate when they follow the leader that refused it. The
   *   one window left, as in Kafka: a replica still holding that tail is elected before it has
   *   fetched from the refusing leader, and the new-epoch copy is sent to it too.
   *
   * Our broker accepts an unknown producer at any sequence (KIP-360's broker side), so there is
   * no UNKNOWN_PRODUCER_ID case to handle.
   */
  private recoverFromSequenceGap(batch: ProducerBatch, broker: number): void {
    const identity = this.identity;
    if (identity !== undefined && batch.producerGeneration === identity.generation) {
      this.bumpEpoch(`out of order sequence at ${batch.topic}-${batch.partition}`);
    }
    this.accumulator.requestResequence(batch);
    this.cluster.log.info(
      {
        topic: batch.topic,
        partition: batch.partition,
        broker,
        baseSequence: batch.baseSequence,
        records: batch.recordCount,
        producerEpoch: this.identity?.producerEpoch,
      },
      "sequence gap: sending the partition's unfinished batches again under a new producer epoch",
    );
  }

  /**
   * Moves to the next producer epoch (KIP-360): sequences restart at 0 on every partition as it
   * seals its next batch. At the int16 maximum, a new producer id is asked for instead.
   */
  private bumpEpoch(reason: string): void {
    const identity = this.identity;
    if (identity === undefined) return; // a new producer id is on its way: a new generation anyway
    if (identity.producerEpoch >= PRODUCER_EPOCH_MAX) {
      this.identity = undefined;
      this.cluster.log.info(
        { producerId: identity.producerId, producerEpoch: identity.producerEpoch, reason },
        'producer epoch exhausted: asking for a new producer id',
      );
      return;
    }
    this.identity = { producerId: identity.producerId, producerEpoch: identity.producerEpoch + 1, generation: ++this.identityGeneration };
    this.cluster.log.info({ producerId: identity.producerId, producerEpoch: identity.producerEpoch + 1, reason }, 'bumped producer epoch');
  }

  private finishSucceeded(batch: ProducerBatch, baseOffset: number): void {
    this.accumulator.complete(batch, true);
    batch.succeed(baseOffset);
    this.releaseMemory(batch.bufferedBytes);
  }

  private finishFailed(batch: ProducerBatch, err: TributaryError, removeFromQueue: boolean): void {
    if (removeFromQueue) this.accumulator.complete(batch);
    this.cluster.log.warn({ topic: batch.topic, partition: batch.partition, code: err.code, records: batch.recordCount }, 'produce failed');
    // The leader may or may not hold a sent batch that failed: its sequence is spent either way.
    // A new epoch restarts every partition's sequences at 0, so later batches are not refused as
    // out of order (KIP-360). Batches already sealed keep their bytes: their fate is decided by
    // their own answers (recoverFromSequenceGap).
    if (this.idempotent && batch.sealed && batch.producerGeneration === this.identity?.generation)
      this.bumpEpoch(`${batch.topic}-${batch.partition} failed for good`);
    batch.fail(err);
    this.releaseMemory(batch.bufferedBytes);
  }
}

function toRecordInput(record: ProducerRecord): RecordInput {
  if (typeof record.topic !== 'string' || record.topic === '') throw new TributaryError('INVALID_REQUEST', 'record.topic must be a non-empty string');
  const input: RecordInput = { key: toBytes(record.key, 'key'), value: toBytes(record.value, 'value') };
  if (record.headers) input.headers = toHeaders(record.headers);
  if (record.timestamp !== undefined) input.timestamp = record.timestamp;
  return input;
}

function toBytes(value: Buffer | Uint8Array | string | null | undefined, what: string): Buffer | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new TributaryError('INVALID_REQUEST', `record ${what} must be a Buffer or a string`);
}

function toHeaders(headers: HeadersInput): RecordHeader[] {
  const entries = Array.isArray(headers)
    ? (headers as readonly { key: string; value: Buffer | string | null }[]).map((h) => [h.key, h.value] as const)
    : Object.entries(headers as Record<string, Buffer | string | null>);
  return entries.map(([key, value]) => ({ key, value: toBytes(value, `header '${key}'`) }));
}

function asTributaryError(err: unknown): TributaryError {
  if (err instanceof TributaryError) return err;
  const code = (err as { code?: unknown })?.code;
  return new TributaryError(isErrorCode(code) ? code : 'UNKNOWN_SERVER_ERROR', (err as Error)?.message ?? String(err), { cause: err });
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new TributaryError('INVALID_REQUEST', `${name} must be a positive number, got ${value}`);
  return value;
}

function inRange(name: string, value: number, min: number, max: number): number {
  if (!(Number.isInteger(value) && value >= min && value <= max))
    throw new TributaryError('INVALID_REQUEST', `${name} must be an integer in ${min}..${max}, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0)) throw new TributaryError('INVALID_REQUEST', `${name} must be a number >= 0, got ${value}`);
  return value;
}

function compressionOption(value: CompressionCodec | undefined): CompressionCodec {
  if (value === undefined) return 'none';
  if (!(COMPRESSION_CODECS as readonly string[]).includes(value))
    throw new TributaryError('INVALID_REQUEST', `compression must be one of ${COMPRESSION_CODECS.join(', ')}, got '${String(value)}'`);
  return value;
}
