// The metadata log seam. The controller appends a decision's records (durably: fsynced when
// append returns) before applying them, and replays them all on start. The state machine tests
// use the in-memory log; the process uses the storage package's segment log (segment-metadata-log.ts).

import { decodeBatches, encodeBatch } from '@tributary/protocol';
import { decodeRecord, encodeRecord, type MetadataRecord } from './records.ts';

export interface MetadataLog {
  /** Appends the records as one batch and makes them durable before returning. */
  append(records: readonly MetadataRecord[]): void;
  /**
   * The records from offset `fromOffset` (default: the log's start) to the end, oldest first. The
   * record at offset v is the one that made metadata version v + 1.
   */
  replay(fromOffset?: number): MetadataRecord[];
  /** The first offset still held (above 0 once a snapshot let the prefix go). */
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  /** Drops whole stretches of records below `offset` (a snapshot covers them); may keep some. */
  truncateBefore(offset: number): void;
  close(): void;
}

/** The controller's own batches carry no producer and leader epoch 0 (no controller quorum). */
export const METADATA_LEADER_EPOCH = 0;

export function encodeRecordBatch(records: readonly MetadataRecord[], nowMs = Date.now()): Buffer {
  return encodeBatch(
    records.map((record) => ({ key: null, value: encodeRecord(record), timestamp: nowMs })),
    { baseTimestamp: nowMs },
  );
}

export function decodeRecordBatches(bytes: Buffer): MetadataRecord[] {
  return decodeBatches(bytes).map((r) => {
    if (r.value === null) throw new Error(`metadata record at offset ${r.offset} has no value`);
    return decodeRecord(r.value);
  });
}

/**
 * Keeps encoded batches in memory, going through the same codec as the segment log so tests
 * exercise it. `reopen()` gives a second log over the same bytes, as a restart would.
 */
export class MemoryMetadataLog implements MetadataLog {
  private readonly batches: { baseOffset: number; bytes: Buffer; count: number }[];
  closed = false;
  /** Fails the next append (to test that nothing is applied when the log refuses). */
  failNextAppend: Error | null = null;

  constructor(batches: { baseOffset: number; bytes: Buffer; count: number }[] = []) {
    this.batches = batches;
  }

  append(records: readonly MetadataRecord[]): void {
    if (this.closed) throw new Error('metadata log is closed');
    if (this.failNextAppend) {
      const err = this.failNextAppend;
      this.failNextAppend = null;
      throw err;
    }
    if (records.length === 0) return;
    this.batches.push({ baseOffset: this.logEndOffset, bytes: encodeRecordBatch(records), count: records.length });
  }

  replay(fromOffset = this.logStartOffset): MetadataRecord[] {
    if (fromOffset < this.logStartOffset || fromOffset > this.logEndOffset) {
      throw new Error(`replay from ${fromOffset} outside the log [${this.logStartOffset}, ${this.logEndOffset}]`);
    }
    return this.batches.flatMap((b) => decodeRecordBatches(b.bytes).filter((_, i) => b.baseOffset + i >= fromOffset));
  }

  get logStartOffset(): number {
    return this.batches[0]?.baseOffset ?? this.endWhenEmpty;
  }

  get logEndOffset(): number {
    const last = this.batches.at(-1);
    return last === undefined ? this.endWhenEmpty : last.baseOffset + last.count;
  }

  /** Where an emptied log goes on from (every batch dropped by truncateBefore). */
  private endWhenEmpty = 0;

  /** Drops whole batches below `offset`, keeping the last one (as a segment log keeps its active segment). */
  truncateBefore(offset: number): void {
    while (this.batches.length > 1 && this.batches[1]!.baseOffset <= offset) this.batches.shift();
  }

  close(): void {
    this.closed = true;
  }

  reopen(): MemoryMetadataLog {
    return new MemoryMetadataLog(this.batches);
  }

  get recordCount(): number {
    return this.replay().length;
  }
}
