// The producer's record accumulator: one queue of batches per partition, records appended into
// the open batch's bytes as they arrive (BatchBuilder, no re-encoding), and `drain`, which picks
// the batches due for sending and groups them per leader broker so that each broker gets ONE
// produce request. No I/O and no timers here: the caller passes the time and the leaders.
//
// Ordering: a partition's batches are sent oldest first, up to `inflightBatchesMax` at a time
// (Kafka's max.in.flight.requests.per.connection, at most 5: the leader remembers the last five
// batches per producer). A batch that fails stays in its place in the queue and is re-sent with
// the same bytes and sequence before any younger batch not yet in flight; a younger batch that
// overtook it gets OUT_OF_ORDER_SEQUENCE_NUMBER and is retried behind it (the producer decides).
// With idempotence, until one batch of a partition has been acknowledged under the current
// producer id, only one is in flight: a leader that does not know the producer yet would accept
// any first sequence. Without idempotence nothing orders a retry behind younger batches already
// in flight, as in Kafka: a producer that must not reorder on retries sets inflightBatchesMax 1.
// While a partition is at its in-flight limit, its open batch keeps filling past `batchSize` up
// to `batchSizeMax`, so a busy partition sends fewer, larger batches.
//
// Producer epochs (KIP-360, see the producer): when the producer bumps its epoch, a partition
// keeps sending the batches it sealed under the old one with their old bytes, and seals its next
// batch under the new one (sequence 0) only once none of the old ones is in flight. A partition
// whose leader refused a batch as out of order is marked `resequence`: once nothing of it is in
// flight, its batches sealed under another generation lose their bytes and are sealed anew.

import { BatchBuilder, type CompressionCodec, type TributaryError, type RecordInput } from '@tributary/protocol';

export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 with acks=0, where the broker's answer is not awaited. */
  offset: number;
}

export interface ProducerIdentity {
  producerId: number;
  producerEpoch: number;
  /** Bumped locally each time the producer id or epoch changes; sequences restart at 0. */
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
  /** Sent and not yet answered. */
  inFlight = false;
  /** The broker of the last failed attempt (-1: none). */
  lastBroker = -1;
  lastError: TributaryError | undefined;
  /** Bytes counted against the producer's buffer memory. */
  bufferedBytes = 0;
  /** Retried once already after an out-of-order refusal that overtaking explains (followsAcknowledged). */
  overtakenRetried = false;
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

  /**
   * Forgets the bytes and sequence, so that the next send seals the batch under the current
   * producer epoch. Only for a batch proven absent from the log (RecordAccumulator.resequence).
   */
  unseal(): void {
    this.encoded = undefined;
    this.baseSequence = -1;
    this.producerGeneration = -1;
    this.overtakenRetried = false;
  }

  /** Resolves once the batch succeeded or failed (used by flush; no per-record promises). */
  done(): Promise<void> {
    if (this.finished) return Promise.resolve();
    this.doneWaiters ??= [];
    const waiters = this.doneWaiters;
    return new Promise((resolve) => {
      waiters.push(resolve);
    });
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
  /** Oldest first; in-flight batches are sent in this order. */
  readonly batches: ProducerBatch[] = [];
  /** Batches of `batches` sent and not yet answered. */
  inFlightCount = 0;
  /** A batch succeeded under `generation`: the leader knows this producer's sequence here. */
  acknowledged = false;
  /** Not before this time (retry backoff). */
  retryAtMs = 0;
  /** Next sequence number for this partition under `generation`. */
  nextSequence = 0;
  /**
   * The sequence right after the newest batch acknowledged in order under `generation` (every
   * older batch finished before it); -1 when none has been.
   */
  ackedSequenceEnd = -1;
  generation = -1;
  /**
   * The leader refused a batch as out of order and the producer moved to a new epoch: once
   * nothing of this partition is in flight, its batches sealed under an older generation are
   * sealed anew (new epoch, sequences from 0). Nothing is sent until then.
   */
  resequence = false;

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
  /** Batches in flight per partition (1..5). Default 1. */
  inflightBatchesMax?: number;
  /**
   * The batches carry an idempotent producer's sequences: a partition has one in flight until
   * one is acknowledged under the current producer id. Default false.
   */
  idempotent?: boolean;
  /** Kafka's compression.type: each batch's records are compressed when sealed. Default none. */
  compression?: CompressionCodec;
}

export interface AppendResult {
  batch: ProducerBatch;
  /** A new batch was opened for this record. */
  opened: boolean;
  /**
   * This record made the batch reach batchSize (only the record that crossed it: a batch that
   * keeps filling past batchSize while its partition is at the in-flight limit reports it once,
   * so the sticky partitioner moves on once per batch, not once per record).
   */
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
    if (!list) {
      list = [];
      this.byTopic.set(topic, list);
    }
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
  append(
    topic: string,
    partition: number,
    record: RecordInput,
    nowMs: number,
    sizeMax = this.options.batchSizeMax,
    resolve?: (m: RecordMetadata) => void,
    reject?: (e: Error) => void,
  ): AppendResult {
    const q = this.queue(topic, partition);
    let batch = q.batches[q.batches.length - 1];
    let opened = false;
    if (batch !== undefined) {
      // A batch sent once keeps its records (an unsealed one is re-sealed, never refilled).
      if (batch.sealed || batch.attempts > 0) batch = undefined;
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
    const batchSize = this.options.batchSize;
    return { batch, opened, full: batch.builder.sizeInBytes >= batchSize && (opened || before < batchSize), bytes };
  }

  /** How many batches of `q` may be in flight now. */
  private inflightLimit(q: PartitionQueue): number {
    return q.acknowledged || this.options.idempotent !== true ? Math.max(1, Math.min(5, this.options.inflightBatchesMax ?? 1)) : 1;
  }

  /**
   * The oldest batch of `q` not in flight, if `q` may send another one. With `generation` (the
   * idempotent producer's current one): nothing while `q` waits to be re-sequenced, and no batch
   * sealed under `generation` while batches sealed under another one are in flight.
   */
  next(q: PartitionQueue, generation?: number): ProducerBatch | undefined {
    if (q.inFlightCount >= this.inflightLimit(q)) return undefined;
    if (generation !== undefined && q.resequence) return undefined;
    const batches = q.batches;
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      if (b.inFlight) continue;
      if (generation !== undefined && !b.sealed && q.inFlightCount > 0 && q.generation !== generation) return undefined;
      return b;
    }
    return undefined;
  }

  /** Marks the partition of `batch` for re-sequencing (the producer moved to a new epoch after a gap). */
  requestResequence(batch: ProducerBatch): void {
    this.queue(batch.topic, batch.partition).resequence = true;
  }

  /**
   * Once nothing of a partition marked `resequence` is in flight, unseals its batches sealed
   * under another generation than `generation`, so they are sealed anew in order, sequences from
   * 0 under the current epoch. Returns how many were unsealed; -1 while it must still wait.
   */
  resequence(q: PartitionQueue, generation: number): number {
    if (!q.resequence) return 0;
    if (q.inFlightCount > 0) return -1;
    let unsealed = 0;
    for (const b of q.batches) {
      if (b.sealed && b.producerGeneration !== generation) {
        b.unseal();
        unsealed++;
      }
    }
    q.resequence = false;
    // The next batch sealed here starts the sequence over, whatever was sealed last.
    q.generation = -1;
    return unsealed;
  }

  /** Whether `batch` (from next(q)) should be sent now (ignoring leaders and broker limits). */
  isDue(q: PartitionQueue, batch: ProducerBatch | undefined, nowMs: number, flushing: boolean): boolean {
    if (batch === undefined || q.retryAtMs > nowMs) return false;
    return (
      batch.sealed ||
      flushing ||
      q.batches[q.batches.length - 1] !== batch ||
      batch.builder.sizeInBytes >= this.options.batchSize ||
      nowMs - batch.createdMs >= this.options.lingerMs
    );
  }

  /**
   * Picks every due head batch whose leader is known and whose broker may take another request,
   * marks its partition in flight, and groups the batches per broker, at most `requestBytesMax`
   * of batches per request (one batch at least). Head batches not yet due join a request that
   * goes to their leader anyway.
   */
  drain(
    nowMs: number,
    flushing: boolean,
    leaderOf: (topic: string, partition: number) => number | undefined,
    brokerAvailable: (broker: number) => boolean,
    requestBytesMax = Infinity,
    generation?: number,
  ): DrainResult {
    const byBroker = new Map<number, ProducerBatch[]>();
    const requestBytes = new Map<number, number>();
    let leaderMissing = false;
    let nextDueMs = Infinity;
    // Batches not yet due ride along when their leader gets a request anyway: over HTTP a
    // request costs more than a smaller batch does.
    const notDue: { q: PartitionQueue; leader: number }[] = [];
    const take = (q: PartitionQueue, batch: ProducerBatch, leader: number): boolean => {
      const size = batch.encoded?.length ?? batch.builder.sizeInBytes;
      const used = requestBytes.get(leader) ?? 0;
      if (used > 0 && used + size > requestBytesMax) return false;
      requestBytes.set(leader, used + size);
      let list = byBroker.get(leader);
      if (!list) {
        list = [];
        byBroker.set(leader, list);
      }
      list.push(batch);
      batch.inFlight = true;
      q.inFlightCount++;
      return true;
    };
    for (const q of this.queues) {
      if (generation !== undefined && q.resequence) this.resequence(q, generation);
      // Several batches of one partition may go in one request, oldest first.
      for (;;) {
        const batch = this.next(q, generation);
        if (batch === undefined) break;
        const due = this.isDue(q, batch, nowMs, flushing);
        if (!due && q.retryAtMs > nowMs) {
          nextDueMs = Math.min(nextDueMs, q.retryAtMs);
          break;
        }
        const leader = leaderOf(q.topic, q.partition);
        if (leader === undefined) {
          if (due) leaderMissing = true;
          else nextDueMs = Math.min(nextDueMs, batch.createdMs + this.options.lingerMs);
          break;
        }
        if (!due) {
          notDue.push({ q, leader });
          break;
        }
        if (!brokerAvailable(leader)) break;
        if (!take(q, batch, leader)) {
          nextDueMs = nowMs;
          break;
        }
      }
    }
    for (const { q, leader } of notDue) {
      const batch = this.next(q, generation);
      if (batch === undefined) continue;
      if (!byBroker.has(leader) || !take(q, batch, leader)) nextDueMs = Math.min(nextDueMs, batch.createdMs + this.options.lingerMs);
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
      batch.encoded = batch.builder.build({ compression: this.options.compression ?? 'none' });
      return batch.encoded;
    }
    const q = this.queue(batch.topic, batch.partition);
    if (q.generation !== identity.generation) {
      q.generation = identity.generation;
      q.nextSequence = 0;
      q.acknowledged = false;
      q.ackedSequenceEnd = -1;
    }
    batch.baseSequence = q.nextSequence;
    batch.producerGeneration = identity.generation;
    // Sequences wrap at 2^31 as Kafka's do.
    q.nextSequence = (q.nextSequence + batch.recordCount) % 0x80000000;
    batch.encoded = batch.builder.build({
      producerId: identity.producerId,
      producerEpoch: identity.producerEpoch,
      baseSequence: batch.baseSequence,
      compression: this.options.compression ?? 'none',
    });
    return batch.encoded;
  }

  /** Removes a finished batch (acknowledged: `succeeded`) and clears its in-flight mark. */
  complete(batch: ProducerBatch, succeeded = false): void {
    const q = this.queue(batch.topic, batch.partition);
    const index = q.batches.indexOf(batch);
    if (index >= 0) {
      q.batches.splice(index, 1);
      this.batchCount--;
    }
    if (succeeded && index === 0 && batch.producerGeneration >= 0 && batch.producerGeneration === q.generation) {
      q.ackedSequenceEnd = (batch.baseSequence + batch.recordCount) % 0x80000000;
    }
    // The queue itself stays: it carries the partition's sequence numbers.
    if (batch.inFlight) {
      batch.inFlight = false;
      q.inFlightCount--;
    }
    if (succeeded && batch.producerGeneration >= 0 && batch.producerGeneration === q.generation) q.acknowledged = true;
  }

  /** A sent batch comes back for another attempt after `backoffMs`. */
  requeue(batch: ProducerBatch, nowMs: number, backoffMs: number): void {
    const q = this.queue(batch.topic, batch.partition);
    if (batch.inFlight) {
      batch.inFlight = false;
      q.inFlightCount--;
    }
    q.retryAtMs = Math.max(q.retryAtMs, nowMs + backoffMs);
  }

  /**
   * Ends the backoff of partitions whose batch failed on a broker that no longer leads them, so
   * the new leader is tried at once (Kafka's KIP-951). Returns whether any moved, and whether any
   * partition still waits out a backoff after a failure on its (unchanged) leader.
   */
  retryOnNewLeaders(nowMs: number, leaderOf: (topic: string, partition: number) => number | undefined): { moved: boolean; waiting: boolean } {
    let moved = false;
    let waiting = false;
    for (const q of this.queues) {
      if (q.retryAtMs <= nowMs) continue;
      const batch = this.next(q);
      if (batch === undefined || batch.lastBroker < 0) continue;
      const leader = leaderOf(q.topic, q.partition);
      if (leader !== undefined && leader !== batch.lastBroker) {
        q.retryAtMs = 0;
        moved = true;
      } else {
        waiting = true;
      }
    }
    return { moved, waiting };
  }

  /** Whether an older batch of the same partition is still unfinished (sequence gap is ours). */
  hasOlderUnfinished(batch: ProducerBatch): boolean {
    const q = this.queue(batch.topic, batch.partition);
    return q.batches.indexOf(batch) > 0;
  }

  /**
   * Whether `batch` directly follows the last batch acknowledged in order (same producer id). A
   * leader that refused it as out of order then refused it before that batch arrived: requests
   * to one broker travel over several HTTP connections and can overtake each other, and the
   * older batch's answer can reach us before the younger one's refusal.
   */
  followsAcknowledged(batch: ProducerBatch): boolean {
    const q = this.queue(batch.topic, batch.partition);
    return batch.producerGeneration >= 0 && batch.producerGeneration === q.generation && batch.baseSequence === q.ackedSequenceEnd;
  }

  /**
   * Removes and returns the batches past their delivery deadline that are not in flight, oldest
   * first per partition (a younger batch never expires before an older one of its partition).
   */
  expire(nowMs: number, deliveryTimeoutMs: number): ProducerBatch[] {
    const expired: ProducerBatch[] = [];
    for (const q of this.queues) {
      while (q.batches.length > 0 && q.inFlightCount === 0) {
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
      if (head && q.inFlightCount === 0) at = Math.min(at, head.createdMs + deliveryTimeoutMs);
    }
    return at;
  }

  allBatches(): ProducerBatch[] {
    const all: ProducerBatch[] = [];
    for (const q of this.queues) all.push(...q.batches);
    return all;
  }
}
