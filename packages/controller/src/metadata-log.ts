// The metadata log seam. The controller appends a decision's records (durably: fsynced when
// append returns) before applying them, and replays them all on start. The state machine tests
// use the in-memory log; the process uses the storage package's segment log (segment-metadata-log.ts).

import { decodeBatches, encodeBatch } from '@tributary/protocol';
import { decodeRecord, encodeRecord, type MetadataRecord } from './records.ts';

export interface MetadataLog {
  /** Appends the records as one batch and makes them durable before returning. */
  append(records: readonly MetadataRecord[]): void;
  /** Every record in the log, oldest first. */
  replay(): MetadataRecord[];
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
  private readonly batches: Buffer[];
  closed = false;
  /** Fails the next append (to test that nothing is applied when the log refuses). */
  failNextAppend: Error | null = null;

  constructor(batches: Buffer[] = []) {
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
    this.batches.push(encodeRecordBatch(records));
  }

  replay(): MetadataRecord[] {
    return this.batches.flatMap((batch) => decodeRecordBatches(batch));
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
