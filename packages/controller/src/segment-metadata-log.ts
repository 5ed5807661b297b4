// The metadata log on the storage package's segment log (DESIGN.md § Controller): one directory
// of segments holding v2 record batches, one batch per decision, each record's value the msgpack
// of a metadata record. flush.messages = 1 makes every append fsync before it returns; when the
// fsync fails the log cuts the batch back off, so a decision the caller was refused never
// reappears on replay. Recovery after a crash (torn tail, bad CRC) is the segment log's own.

import { existsSync, readdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { decodeBatches } from '@tributary/protocol';
import { Log, type LogConfig } from '@tributary/storage';
import { METADATA_LEADER_EPOCH, encodeRecordBatch, type MetadataLog } from './metadata-log.ts';
import { decodeRecord, type MetadataRecord } from './records.ts';

export const METADATA_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  // Small enough that a snapshot lets old segments go (truncateBefore deletes whole segments).
  segmentBytes: 16 * 1024 * 1024,
  segmentMs: Number.MAX_SAFE_INTEGER,
  indexIntervalBytes: 4096,
  retentionBytes: -1,
  retentionMs: -1,
  flushMessages: 1,
  flushMs: Number.MAX_SAFE_INTEGER,
  // Never compacted: every record of the metadata log is replayed.
  compact: false,
  delete: true,
  deleteRetentionMs: 0,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
});

/** Bytes asked for per read while replaying. */
const REPLAY_READ_BYTES_MAX = 1024 * 1024;

export class SegmentMetadataLog implements MetadataLog {
  readonly log: Log;
  private readonly now: () => number;

  private constructor(log: Log, now: () => number) {
    this.log = log;
    this.now = now;
  }

  /** `segmentBytes`: tests roll small segments, so a snapshot's truncation has some to delete. */
  static open(dir: string, options: { logger?: Logger; now?: () => number; segmentBytes?: number } = {}): SegmentMetadataLog {
    const now = options.now ?? Date.now;
    // Every append is fsynced before it returns (flush.messages = 1), so every segment but the
    // last is durable whole: recovery need only scan the last one for a torn tail, not re-read
    // (and CRC-check) the whole log on every start.
    const bases = existsSync(dir)
      ? readdirSync(dir)
          .filter((n) => /^\d{20}\.log$/.test(n))
          .map((n) => Number(n.slice(0, 20)))
      : [];
    const recoveryPoint = bases.length > 0 ? Math.max(...bases) : 0;
    const log = Log.open(
      dir,
      { ...METADATA_LOG_CONFIG, segmentBytes: options.segmentBytes ?? METADATA_LOG_CONFIG.segmentBytes },
      { clock: now, recoveryPoint, ...(options.logger ? { logger: options.logger } : {}) },
    );
    return new SegmentMetadataLog(log, now);
  }

  append(records: readonly MetadataRecord[]): void {
    if (records.length === 0) return;
    const { baseOffset, lastOffset } = this.log.appendAsLeader(encodeRecordBatch(records, this.now()), METADATA_LEADER_EPOCH);
    if (lastOffset - baseOffset + 1 !== records.length) {
      throw new Error(`metadata log appended ${lastOffset - baseOffset + 1} records, expected ${records.length}`);
    }
    // flush.messages = 1 already fsynced; this keeps the promise even if that config changes.
    this.log.flush();
  }

  replay(fromOffset = this.log.logStartOffset): MetadataRecord[] {
    const records: MetadataRecord[] = [];
    const start = fromOffset;
    const end = this.log.logEndOffset;
    if (start < this.log.logStartOffset || start > end) throw new Error(`replay from ${start} outside the log [${this.log.logStartOffset}, ${end}]`);
    let offset = start;
    while (offset < end) {
      const decoded = decodeBatches(this.log.read(offset, REPLAY_READ_BYTES_MAX));
      const last = decoded.at(-1);
      if (last === undefined || last.offset < offset) throw new Error(`metadata log replay made no progress at offset ${offset}`);
      for (const r of decoded) {
        if (r.offset < offset) continue;
        if (r.value === null) throw new Error(`metadata record at offset ${r.offset} has no value`);
        records.push(decodeRecord(r.value));
      }
      offset = last.offset + 1;
    }
    if (records.length !== end - start) {
      throw new Error(`metadata log replay read ${records.length} records, expected ${end - start}`);
    }
    return records;
  }

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  truncateBefore(offset: number): void {
    this.log.deleteSegmentsBelow(offset);
  }

  close(): void {
    this.log.close();
  }
}

export function openMetadataLog(dir: string, logger: Logger): MetadataLog {
  return SegmentMetadataLog.open(dir, { logger: logger.child({ module: 'metadata-log' }) });
}
