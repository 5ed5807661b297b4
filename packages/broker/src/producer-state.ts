// Idempotent-producer state of one partition (Kafka's ProducerStateManager, KIP-98). Pure: it
// sees batch headers and the offsets the log gave them, never files or sockets.
//
// Per producer id the leader remembers its epoch and the sequence ranges of the last five batches
// it appended, with their offsets. A producer retrying a batch the leader already appended (its
// answer was lost) gets the original base offset back instead of a second copy; a batch that
// skips sequence numbers is refused with OUT_OF_ORDER_SEQUENCE_NUMBER; one older than anything
// remembered is refused with DUPLICATE_SEQUENCE_NUMBER. Every replica keeps the table as it
// appends, leader or follower (one whose log was on disk loads it from a snapshot and the batch
// headers after it: partition.ts), so a new leader answers retries exactly as the old one.
//
// An entry expires producer.id.expiration.ms (KIP-854; default one day) after the producer's last
// append, counted on the broker's clock (Kafka counts from the batch's record timestamp, which the
// producer chooses): `removeExpired` forgets it, and the producer, if it comes back, is treated as
// new. Without this the table grows by every producer id that ever wrote to the partition.

import { NO_PRODUCER_ID, TributaryError } from '@tributary/protocol';

/** Kafka keeps the last five batches per producer (max.in.flight.requests.per.connection <= 5). */
export const PRODUCER_BATCHES_MAX = 5;

export interface BatchIdentity {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  /** lastOffsetDelta of the batch: its last sequence is baseSequence + lastOffsetDelta. */
  lastOffsetDelta: number;
}

export interface RememberedBatch {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
  lastOffset: number;
}

interface ProducerEntry {
  epoch: number;
  /** Broker clock at the producer's last append (or when its state was rebuilt from the log). */
  lastAppendMs: number;
  /** Oldest first, at most PRODUCER_BATCHES_MAX. */
  batches: RememberedBatch[];
}

/** One producer in a producer-state snapshot. */
export interface ProducerSnapshotEntry {
  producerId: number;
  epoch: number;
  lastAppendMs: number;
  batches: RememberedBatch[];
}

export type SequenceCheck = { kind: 'append' } | { kind: 'duplicate'; baseOffset: number; lastOffset: number };

const INT32_MAX = 0x7fffffff;

/** Sequence numbers wrap from Int32.MaxValue to 0, as in Kafka. */
function nextSeq(seq: number, delta = 1): number {
  const n = seq + delta;
  return n > INT32_MAX ? n - INT32_MAX - 1 : n;
}

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();

  get size(): number {
    return this.producers.size;
  }

  /**
   * Decides what to do with a batch before it is appended. Throws OUT_OF_ORDER_SEQUENCE_NUMBER,
   * DUPLICATE_SEQUENCE_NUMBER or INVALID_REQUEST (a fenced producer epoch); otherwise tells
   * whether to append or to answer with a remembered offset.
   */
  check(batch: BatchIdentity): SequenceCheck {
    if (batch.producerId === NO_PRODUCER_ID) return { kind: 'append' };
    if (batch.producerId < 0 || batch.baseSequence < 0 || batch.producerEpoch < 0) {
      throw new TributaryError(
        'INVALID_REQUEST',
        `idempotent batch with producerId ${batch.producerId}, epoch ${batch.producerEpoch}, baseSequence ${batch.baseSequence}`,
      );
    }
    const entry = this.producers.get(batch.producerId);
    // An unknown producer (new, or its batches were deleted by retention) starts wherever it is:
    // Kafka accepts this since KIP-360 rather than failing producers whose state aged out.
    if (entry === undefined) return { kind: 'append' };
    if (batch.producerEpoch < entry.epoch) {
      throw new TributaryError('INVALID_REQUEST', `producer ${batch.producerId} epoch ${batch.producerEpoch} is fenced by epoch ${entry.epoch}`);
    }
    if (batch.producerEpoch > entry.epoch) {
      // A bumped epoch starts its sequences over.
      if (batch.baseSequence !== 0) {
        throw new TributaryError(
          'OUT_OF_ORDER_SEQUENCE_NUMBER',
          `producer ${batch.producerId} new epoch ${batch.producerEpoch} must start at sequence 0, got ${batch.baseSequence}`,
        );
      }
      return { kind: 'append' };
    }
    const firstSeq = batch.baseSequence;
    const lastSeq = nextSeq(firstSeq, batch.lastOffsetDelta);
    for (const b of entry.batches) {
      if (b.firstSeq === firstSeq && b.lastSeq === lastSeq) {
        return { kind: 'duplicate', baseOffset: b.baseOffset, lastOffset: b.lastOffset };
      }
    }
    const last = entry.batches.at(-1);
    if (last === undefined) return { kind: 'append' };
    if (firstSeq === nextSeq(last.lastSeq)) return { kind: 'append' };
    const oldest = entry.batches[0]!;
    if (firstSeq < oldest.firstSeq && !(last.lastSeq < oldest.firstSeq)) {
      throw new TributaryError(
        'DUPLICATE_SEQUENCE_NUMBER',
        `producer ${batch.producerId} sequence ${firstSeq} is older than the last ${entry.batches.length} batches remembered (from ${oldest.firstSeq})`,
      );
    }
    throw new TributaryError(
      'OUT_OF_ORDER_SEQUENCE_NUMBER',
      `producer ${batch.producerId} epoch ${batch.producerEpoch}: expected sequence ${nextSeq(last.lastSeq)}, got ${firstSeq}`,
    );
  }

  /**
   * Remembers a batch the log appended at `nowMs` (broker clock), as leader or read back from the
   * log on rebuild. A rebuild passes the time of the rebuild: the batches' append times are not
   * kept, and counting from the rebuild never expires a producer early (a producer expired before
   * a leader change may come back for another producer.id.expiration.ms; its batches are in the log).
   */
  record(batch: BatchIdentity, baseOffset: number, lastOffset: number, nowMs: number): void {
    if (batch.producerId === NO_PRODUCER_ID || batch.producerId < 0) return;
    let entry = this.producers.get(batch.producerId);
    if (entry === undefined || batch.producerEpoch > entry.epoch) {
      entry = { epoch: batch.producerEpoch, lastAppendMs: nowMs, batches: [] };
      this.producers.set(batch.producerId, entry);
    } else if (batch.producerEpoch < entry.epoch) {
      return;
    }
    entry.lastAppendMs = Math.max(entry.lastAppendMs, nowMs);
    entry.batches.push({ firstSeq: batch.baseSequence, lastSeq: nextSeq(batch.baseSequence, batch.lastOffsetDelta), baseOffset, lastOffset });
    if (entry.batches.length > PRODUCER_BATCHES_MAX) entry.batches.shift();
  }

  /** Forgets batches at or past `offset` (the log was truncated there). */
  truncateFrom(offset: number): void {
    for (const [id, entry] of this.producers) {
      entry.batches = entry.batches.filter((b) => b.lastOffset < offset);
      if (entry.batches.length === 0) this.producers.delete(id);
    }
  }

  /**
   * Forgets every producer whose last append is producerIdExpirationMs or more before `nowMs`
   * (Kafka's ProducerStateManager.removeExpiredProducers, producer.id.expiration.ms). Returns the
   * ids removed.
   */
  removeExpired(nowMs: number, producerIdExpirationMs: number): number[] {
    const removed: number[] = [];
    for (const [id, entry] of this.producers) {
      if (nowMs - entry.lastAppendMs >= producerIdExpirationMs) {
        this.producers.delete(id);
        removed.push(id);
      }
    }
    return removed;
  }

  clear(): void {
    this.producers.clear();
  }

  /** Every producer's entry, for a producer-state snapshot (producer-snapshots.ts). */
  toSnapshot(): ProducerSnapshotEntry[] {
    return [...this.producers].map(([producerId, e]) => ({
      producerId,
      epoch: e.epoch,
      lastAppendMs: e.lastAppendMs,
      batches: e.batches.map((b) => ({ ...b })),
    }));
  }

  /** Replaces the table with a snapshot's entries. */
  loadSnapshot(entries: readonly ProducerSnapshotEntry[]): void {
    this.producers.clear();
    for (const e of entries) {
      this.producers.set(e.producerId, {
        epoch: e.epoch,
        lastAppendMs: e.lastAppendMs,
        batches: e.batches.slice(-PRODUCER_BATCHES_MAX).map((b) => ({ ...b })),
      });
    }
  }

  /** What is remembered for one producer (tests, describe). */
  batchesOf(producerId: number): readonly RememberedBatch[] {
    return this.producers.get(producerId)?.batches ?? [];
  }
}
