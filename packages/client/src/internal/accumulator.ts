// The producer's record accumulator: one queue of batches per partition, records appended into
// the open batch's bytes as they arrive (BatchBuilder, no re-encoding), and `drain`, which picks
// the batches due for sending and groups them per leader broker so that each broker gets ONE
// produce request. No I/O and no timers here: the caller passes the time and the leaders.
//
// Ordering: a partition has at most one batch in flight, so its batches reach the leader in
// sequence order even across retries (a retried batch stays at the head of its queue and is
// re-sent with the same bytes and sequence). While a partition waits for its in-flight batch, its
// open batch keeps filling past `batchSize` up to `batchSizeMax`, so a busy partition sends fewer,
// larger batches instead of queueing many small ones.

import { BatchBuilder, TributaryError, type RecordInput } from '@tributary/protocol';

export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 with acks=0, where the broker's answer is not awaited. */
  offset: number;
}

export interface ProducerIdentity {
  producerId: number;
  producerEpoch: number;
  /** Bumped locally each time a new producer id is obtained; sequences restart at 0. */
  generation: number;
}

export class ProducerBatch {
  readonly topic: string;
  readonly partition: number;
  readonly createdMs: number;
  readonly builder: BatchBuilder;
  readonly resolves: ((metadata: RecordMetadata) => void)[] = [];
  readonly rejects: ((err: Error) => void)[] = [];
  /** The bytes as first sent; a retry re-sends exactly these (same sequence). */
  encoded: Buffer | undefined;
  baseSequence = -1;
  /** The producer-id generation the batch was sealed under (-1: not idempotent or unsealed). */
  producerGeneration = -1;
  attempts = 0;
  lastError: TributaryError | undefined;
  /** Bytes counted against the producer's buffer memory. */
  bufferedBytes = 0;
  private doneWaiters: (() => void)[] | undefined;
  private finished = false;

  constructor(topic: string, partition: number, createdMs: number, initialCapacity: number) {
    this.topic = topic;
    this.partition = partition;
    this.createdMs = createdMs;
    this.builder = new BatchBuilder(createdMs, initialCapacity);
  }

  get recordCount(): number {
    return this.builder.recordCount;
  }

  get sealed(): boolean {
    return this.encoded !== undefined;
  }

  /** Resolves once the batch succeeded or failed (used by flush; no per-record promises). */
  done(): Promise<void> {
    if (this.finished) return Promise.resolve();
    return new Promise((resolve) => (this.doneWaiters ??= []).push(resolve));
  }

  /** Resolves every record's send() in one loop. */
  succeed(baseOffset: number): void {
    const { topic, partition, resolves } = this;
    for (let i = 0; i < resolves.length; i++) {
      resolves[i]!({ topic, partition, offset: baseOffset < 0 ? -1 : baseOffset + i });
    }
    this.finish();
  }

  fail(err: Error): void {
    for (const reject of this.rejects) reject(err);
    this.finish();
  }

  private finish(): void {
    this.finished = true;
    this.resolves.length = 0;
    this.rejects.length = 0;
    if (this.doneWaiters) for (const w of this.doneWaiters) w();
    this.doneWaiters = undefined;
  }
}

export class PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  /** Oldest first; the head is the only one that may be in flight. */
  readonly batches: ProducerBatch[] = [];
  inFlight = false;
  /** Not before this time (retry backoff). */
  retryAtMs = 0;
  /** Next sequence number for this partition under `generation`. */
  nextSequence = 0;
  generation = -1;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }
}

export interface AccumulatorOptions {
  /** A batch is due once it holds this many bytes (Kafka's batch.size). */
  batchSize: number;
  /** A batch never grows past this (capped per topic by max.message.bytes). */
  batchSizeMax: number;
  /** A batch is due this long after its first record (Kafka's linger.ms). */
  lingerMs: number;
}

export interface AppendResult {
  batch: ProducerBatch;
  /** A new batch was opened for this record. */
  opened: boolean;
  /** The batch has reached batchSize. */
  full: boolean;
  /** Bytes this record added. */
  bytes: number;
}

export interface DrainResult {
  /** Per leader broker, the batches for its one produce request. */
  byBroker: Map<number, ProducerBatch[]>;
  /** Some due batch has no known live leader: refresh metadata. */
  leaderMissing: boolean;
  /** Earliest time something (linger, backoff) becomes due; Infinity when nothing waits. */
  nextDueMs: number;
}

/**
 * An upper bound of a record's encoded size, without walking varints: at most 36 bytes of
 * lengths, deltas and attributes besides key and value, plus the headers.
 */
export function recordSizeBound(record: RecordInput): number {
  let size = 36 + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  if (record.headers) for (const h of record.headers) size += 10 + Buffer.byteLength(h.key, 'utf8') + (h.value?.length ?? 0);
  return size;
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class RecordAccumulator {
  readonly options: AccumulatorOptions;
  /** Every partition's queue, in creation order (drain walks these). */
  readonly queues: PartitionQueue[] = [];
  /** Per topic, queues indexed by partition: no string key built per record. */
  private readonly byTopic = new Map<string, PartitionQueue[]>();
  /** Number of batches not yet finished. */
  batchCount = 0;

  constructor(options: AccumulatorOptions) {
    this.options = options;
  }

  queue(topic: string, partition: number): PartitionQueue {
    let list = this.byTopic.get(topic);
    if (!list) this.byTopic.set(topic, (list = []));
    let q = list[partition];
    if (!q) {
      q = new PartitionQueue(topic, partition);
      list[partition] = q;
      this.queues.push(q);
    }
    return q;
  }

  /**
   * Appends a record to the partition's open batch, opening a new one when there is none or the
   * record would push it past `sizeMax`. A record larger than `sizeMax` on its own still gets a
   * batch of its own (the caller refuses records above max.message.bytes before this).
   */
  append(topic: string, partition: number, record: RecordInput, nowMs: number, sizeMax = this.options.batchSizeMax, resolve?: (m: RecordMetadata) => void, reject?: (e: Error) => void): AppendResult {
    const q = this.queue(topic, partition);
    let batch = q.batches[q.batches.length - 1];
    let opened = false;
    if (batch !== undefined) {
      if (batch.sealed) batch = undefined;
      else {
        // The exact size only when a cheap upper bound says the record might not fit.
        if (batch.builder.sizeInBytes + recordSizeBound(record) > sizeMax) {
          const estimate = BatchBuilder.recordSize(record, (record.timestamp ?? batch.builder.baseTimestamp) - batch.builder.baseTimestamp, batch.recordCount);
          if (batch.builder.sizeInBytes + estimate > sizeMax) batch = undefined;
        }
      }
    }
    if (batch === undefined) {
      batch = new ProducerBatch(topic, partition, nowMs, Math.min(this.options.batchSize, sizeMax) + 128);
      q.batches.push(batch);
      this.batchCount++;
      opened = true;
    }
    const before = batch.builder.sizeInBytes;
    batch.builder.append(record);
    const bytes = batch.builder.sizeInBytes - before + (opened ? before : 0);
    batch.bufferedBytes += bytes;
    if (resolve) batch.resolves.push(resolve);
    if (reject) batch.rejects.push(reject);
    return { batch, opened, full: batch.builder.sizeInBytes >= this.options.batchSize, bytes };
  }

  /** Whether the head batch of `q` should be sent now (ignoring leaders and in-flight limits). */
  isDue(q: PartitionQueue, nowMs: number, flushing: boolean): boolean {
    const head = q.batches[0];
    if (head === undefined || q.inFlight || q.retryAtMs > nowMs) return false;
    return head.sealed || flushing || q.batches.length > 1 || head.builder.sizeInBytes >= this.options.batchSize || nowMs - head.createdMs >= this.options.lingerMs;
  }

  /**
   * Picks every due head batch whose leader is known and whose broker may take another request,
   * marks its partition in flight, and groups the batches per broker, at most `requestBytesMax`
   * of batches per request (one batch at least). Head batches not yet due join a request that
   * goes to their leader anyway.
   */
  drain(nowMs: number, flushing: boolean, leaderOf: (topic: string, partition: number) => number | undefined, brokerAvailable: (broker: number) => boolean, requestBytesMax = Infinity): DrainResult {
    const byBroker = new Map<number, ProducerBatch[]>();
    const requestBytes = new Map<number, number>();
    let leaderMissing = false;
    let nextDueMs = Infinity;
    // Batches not yet due ride along when their leader gets a request anyway: over HTTP a
    // request costs more than a smaller batch does.
    const notDue: { q: PartitionQueue; leader: number }[] = [];
    const take = (q: PartitionQueue, head: ProducerBatch, leader: number): boolean => {
      const size = head.encoded?.length ?? head.builder.sizeInBytes;
      const used = requestBytes.get(leader) ?? 0;
      if (used > 0 && used + size > requestBytesMax) return false;
      requestBytes.set(leader, used + size);
      let list = byBroker.get(leader);
      if (!list) byBroker.set(leader, (list = []));
      list.push(head);
      q.inFlight = true;
      return true;
    };
    for (const q of this.queues) {
      const head = q.batches[0];
      if (head === undefined || q.inFlight) continue;
      const due = this.isDue(q, nowMs, flushing);
      if (!due && q.retryAtMs > nowMs) {
        nextDueMs = Math.min(nextDueMs, q.retryAtMs);
        continue;
      }
      const leader = leaderOf(q.topic, q.partition);
      if (leader === undefined) {
        if (due) leaderMissing = true;
        else nextDueMs = Math.min(nextDueMs, head.createdMs + this.options.lingerMs);
        continue;
      }
      if (!due) {
        notDue.push({ q, leader });
        continue;
      }
      if (!brokerAvailable(leader)) continue;
      if (!take(q, head, leader)) nextDueMs = nowMs;
    }
    for (const { q, leader } of notDue) {
      const head = q.batches[0]!;
      if (!byBroker.has(leader) || !take(q, head, leader)) nextDueMs = Math.min(nextDueMs, head.createdMs + this.options.lingerMs);
    }
    return { byBroker, leaderMissing, nextDueMs };
  }

  /**
   * Gives the head batch its bytes: producer id, epoch and base sequence (idempotence) are
   * written once, at its first send; retries reuse the bytes.
   */
  seal(batch: ProducerBatch, identity: ProducerIdentity | undefined): Buffer {
    if (batch.encoded) return batch.encoded;
    if (!identity) {
      batch.encoded = batch.builder.build();
      return batch.encoded;
    }
    const q = this.queue(batch.topic, batch.partition);
    if (q.generation !== identity.generation) {
      q.generation = identity.generation;
      q.nextSequence = 0;
    }
    batch.baseSequence = q.nextSequence;
    batch.producerGeneration = identity.generation;
    // Sequences wrap at 2^31 as Kafka's do.
    q.nextSequence = (q.nextSequence + batch.recordCount) % 0x80000000;
    batch.encoded = batch.builder.build({ producerId: identity.producerId, producerEpoch: identity.producerEpoch, baseSequence: batch.baseSequence });
    return batch.encoded;
  }

  /** Removes a finished head batch and clears its partition's in-flight mark. */
  complete(batch: ProducerBatch): void {
    const q = this.queue(batch.topic, batch.partition);
    const index = q.batches.indexOf(batch);
    if (index >= 0) {
      q.batches.splice(index, 1);
      this.batchCount--;
    }
    // The queue itself stays: it carries the partition's sequence numbers.
    if (index === 0) q.inFlight = false;
  }

  /** A sent head batch comes back for another attempt after `backoffMs`. */
  requeue(batch: ProducerBatch, nowMs: number, backoffMs: number): void {
    const q = this.queue(batch.topic, batch.partition);
    q.inFlight = false;
    q.retryAtMs = nowMs + backoffMs;
  }

  /**
   * Removes and returns the batches past their delivery deadline that are not in flight, oldest
   * first per partition (a younger batch never expires before an older one of its partition).
   */
  expire(nowMs: number, deliveryTimeoutMs: number): ProducerBatch[] {
    const expired: ProducerBatch[] = [];
    for (const q of this.queues) {
      while (q.batches.length > 0 && !q.inFlight) {
        const head = q.batches[0]!;
        if (nowMs - head.createdMs < deliveryTimeoutMs) break;
        q.batches.shift();
        this.batchCount--;
        expired.push(head);
      }
    }
    return expired;
  }

  /** Earliest delivery deadline among batches not in flight. */
  nextExpiryMs(deliveryTimeoutMs: number): number {
    let at = Infinity;
    for (const q of this.queues) {
      const head = q.batches[0];
      if (head && !q.inFlight) at = Math.min(at, head.createdMs + deliveryTimeoutMs);
    }
    return at;
  }

  allBatches(): ProducerBatch[] {
    const all: ProducerBatch[] = [];
    for (const q of this.queues) all.push(...q.batches);
    return all;
  }
}
