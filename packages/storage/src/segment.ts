// One segment of a partition log: `<20-digit base offset>.log` plus its `.index`.
//
// The .log file is nothing but record batches back to back, exactly as they travel on the wire
// (DESIGN.md § Record batches), so a fetch is served by copying file bytes:
//
//   position  bytes                 content
//   --------  --------------------  ---------------------------------------------------------
//          0  12 + batchLength      batch with baseOffset == the segment's base offset
//        ...  12 + batchLength      next batch; its baseOffset is the previous lastOffset + 1
//
//   each batch:  baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 (2)
//                | crc uint32 (CRC-32C of attributes..end) | attributes .. records
//                (full table in packages/protocol/src/record-batch.ts)
//
// Offsets are dense: every batch starts right after the previous one, also in a compacted log
// (the cleaner stretches a kept batch, or writes a placeholder, over the offsets of the batches it
// removes; cleaner.ts). That makes a non-contiguous baseOffset (which lies outside the CRC) a sign
// of corruption. Inside a cleaned batch the records' offsets may skip.
// There is no header or footer: the file's valid length is where the last whole, CRC-correct
// batch ends, and recovery cuts anything after that.

import * as path from 'node:path';
import { assert, BATCH_HEADER_SIZE, checkBatchCrc, LOG_OVERHEAD, type BatchHeader } from '@tributary/protocol';
import { readFully, storageError, writeFully, type StorageFs } from './fs.ts';
import { INT32_MAX, SegmentIndex } from './segment-index.ts';
import { RecentBatches } from './recent-batches.ts';

const LOG_SUFFIX = '.log';
const INDEX_SUFFIX = '.index';
const SCAN_CHUNK_BYTES = 1024 * 1024;
const HEADER_CHUNK_BYTES = 64 * 1024;

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, '0') + suffix;
}

/** The base offset named by a segment file, or undefined for files that are not segments. */
export function parseSegmentFileName(name: string, suffix: string): number | undefined {
  if (!name.endsWith(suffix)) return undefined;
  const stem = name.slice(0, -suffix.length);
  if (!/^\d{20}$/.test(stem)) return undefined;
  const n = Number(stem);
  return Number.isSafeInteger(n) ? n : undefined;
}

export const SEGMENT_LOG_SUFFIX = LOG_SUFFIX;
export const SEGMENT_INDEX_SUFFIX = INDEX_SUFFIX;

/** The few header fields the log needs about a batch. */
export interface BatchSummary {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  epoch: number;
}

function summarize(header: BatchHeader, position: number): BatchSummary {
  return {
    position,
    size: header.batchLength + LOG_OVERHEAD,
    baseOffset: header.baseOffset,
    lastOffset: header.baseOffset + header.lastOffsetDelta,
    maxTimestamp: header.maxTimestamp,
    epoch: header.partitionLeaderEpoch,
  };
}

/** Result of scanning a segment on recovery. */
export interface SegmentRecovery {
  /** Bytes cut from the end (0 when the segment was whole). */
  truncatedBytes: number;
  /** Why the scan stopped early, when it did. */
  reason?: string;
}

export class Segment {
  readonly baseOffset: number;
  readonly logPath: string;
  readonly index: SegmentIndex;
  private readonly fs: StorageFs;
  private fd: number;
  /** Bytes of whole batches: the append position. Tracked in memory, never stat'ed per append. */
  size = 0;
  /** lastOffset + 1 of the last batch; the base offset when empty. */
  nextOffset: number;
  /**
   * When segment.ms starts counting for this segment (-1 when empty): the broker's clock at its
   * first append. For a segment found on disk it is the first batch's timestamp, but never later
   * than the file's mtime (see `boundOpenTimes`).
   */
  rollBaseMs = -1;
  /**
   * The broker's clock at the last append (-1 when empty); for a segment found on disk, the
   * file's mtime, which is the time of its last write.
   */
  lastAppendMs = -1;
  /** mtime of the file when it was opened (-1 for a segment created here). */
  private readonly openedMtimeMs: number;
  /** Epoch of the last batch; -1 when empty or unknown. */
  lastEpoch = -1;
  private maxTimestampCache: number | undefined = -1;
  /** Set by openExisting when there was no .index file beside the .log. */
  private indexWasMissing = false;
  private bytesSinceIndexEntry = 0;
  /** The batches appended since open (the last few): tail reads find theirs without a pread. */
  private readonly recent = new RecentBatches();
  /** The time index (timestampLookupStart); undefined until the first lookup by time needs it. */
  private timeIndex: TimeIndex | undefined;

  private constructor(dir: string, baseOffset: number, fs: StorageFs, fd: number, index: SegmentIndex, openedMtimeMs = -1) {
    this.baseOffset = baseOffset;
    this.openedMtimeMs = openedMtimeMs;
    this.logPath = path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX));
    this.fs = fs;
    this.fd = fd;
    this.index = index;
    this.nextOffset = baseOffset;
  }

  /** Creates an empty segment, replacing any files of that name. */
  static create(dir: string, baseOffset: number, fs: StorageFs): Segment {
    const fd = fs.openSync(path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX)), 'w+');
    let index: SegmentIndex;
    try {
      const indexPath = path.join(dir, segmentFileName(baseOffset, INDEX_SUFFIX));
      if (fs.existsSync(indexPath)) fs.unlinkSync(indexPath);
      index = SegmentIndex.openLazily(indexPath, fs);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    return new Segment(dir, baseOffset, fs, fd, index);
  }

  /** Opens an existing segment; its size is the file's. Call `recover` or `loadTrusted` next. */
  static openExisting(dir: string, baseOffset: number, fs: StorageFs): Segment {
    const fd = fs.openSync(path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX)), 'r+');
    let index: SegmentIndex;
    const indexPath = path.join(dir, segmentFileName(baseOffset, INDEX_SUFFIX));
    const indexWasMissing = !fs.existsSync(indexPath);
    try {
      // A missing file stays missing until an entry is written (see SegmentIndex.openLazily).
      index = indexWasMissing ? SegmentIndex.openLazily(indexPath, fs) : SegmentIndex.open(indexPath, fs);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    const stats = fs.fstatSync(fd);
    const segment = new Segment(dir, baseOffset, fs, fd, index, stats.mtimeMs);
    segment.size = stats.size;
    segment.maxTimestampCache = undefined;
    segment.indexWasMissing = indexWasMissing;
    return segment;
  }

  get isEmpty(): boolean {
    return this.size === 0;
  }

  // ---------------------------------------------------------------- appending

  /**
   * Writes `buf[start, end)` (whole batches) at the end of the segment. On a disk error the file
   * is cut back to its previous length and KAFKA_STORAGE_ERROR is thrown; the in-memory size is
   * untouched either way, so a torn tail is never read and the next write overwrites it.
   */
  write(buf: Buffer, start: number, end: number): void {
    try {
      writeFully(this.fs, this.fd, buf, this.size, start, end - start);
    } catch (err) {
      try {
        this.fs.ftruncateSync(this.fd, this.size);
      } catch {
        // Reads stop at `size` and recovery cuts a torn tail, so the data stays safe.
      }
      throw storageError(`appending to ${this.logPath}`, err);
    }
  }

  /**
   * Cuts the file back to its recorded size after a write whose batch was then refused
   * (Log.appendOverlapped). If the cut fails the bytes stay past `size`: nothing reads there, the
   * next write overwrites them, and recovery checks the log's last batch in full.
   */
  discardUnrecordedTail(): void {
    try {
      this.fs.ftruncateSync(this.fd, this.size);
    } catch {
      // See above: the data stays safe.
    }
  }

  /**
   * Records the metadata of a batch just written at `position` (the old size); `appendMs` is the
   * broker's clock, which the time-based roll and retention rely on instead of the record
   * timestamps a producer chose.
   */
  recordBatch(baseOffset: number, lastOffset: number, size: number, maxTimestamp: number, epoch: number, indexIntervalBytes: number, appendMs: number): void {
    const position = this.size;
    if (position === 0) {
      this.rollBaseMs = appendMs;
    } else if (this.bytesSinceIndexEntry >= indexIntervalBytes) {
      this.index.append(baseOffset - this.baseOffset, position);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += size;
    this.recent.push({ position, size, baseOffset, lastOffset, maxTimestamp, epoch });
    this.size = position + size;
    this.nextOffset = lastOffset + 1;
    this.lastEpoch = epoch;
    this.lastAppendMs = Math.max(this.lastAppendMs, appendMs);
    if (this.maxTimestampCache !== undefined && maxTimestamp > this.maxTimestampCache) this.maxTimestampCache = maxTimestamp;
    this.timeIndex?.add(position, size, maxTimestamp, indexIntervalBytes);
  }

  /**
   * Where a search for the first record with a timestamp >= `timestampMs` may start: the
   * position of a batch such that every batch before it has a smaller maxTimestamp (0 when no
   * entry says more). Kafka keeps a `.timeindex` file per segment; this one lives in memory,
   * built by one header walk on the segment's first lookup by time and extended on every append
   * after that, so lookups by time cost a binary search and a walk of at most about
   * index.interval.bytes of headers, and nothing changes on disk or in recovery.
   */
  timestampLookupStart(timestampMs: number, indexIntervalBytes: number): number {
    if (this.timeIndex === undefined) {
      const built = new TimeIndex();
      this.scanHeaders(0, (b) => {
        built.add(b.position, b.size, b.maxTimestamp, indexIntervalBytes);
        return true;
      });
      this.timeIndex = built;
    }
    return this.timeIndex.lookup(timestampMs);
  }

  /** Whether a batch of `size` bytes ending at `lastOffset` still fits (offsets and positions are int32 inside). */
  fits(size: number, lastOffset: number, segmentBytes: number): boolean {
    return this.size + size <= Math.min(segmentBytes, INT32_MAX) && lastOffset - this.baseOffset <= INT32_MAX;
  }

  // ---------------------------------------------------------------- reading

  /** Reads `length` bytes at `position` into a new buffer. */
  readAt(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    let n: number;
    try {
      n = readFully(this.fs, this.fd, buf, position);
    } catch (err) {
      throw storageError(`reading ${this.logPath}`, err);
    }
    if (n !== length) throw storageError(`reading ${this.logPath}`, new Error(`short read: ${n} of ${length} bytes at ${position}`));
    return buf;
  }

  private readSummaryAt(position: number, scratch: Buffer): BatchSummary {
    const n = this.readInto(scratch, position, BATCH_HEADER_SIZE);
    assert(n === BATCH_HEADER_SIZE, `batch header at ${this.logPath}:${position} is short (${n} bytes) inside the valid length ${this.size}`);
    return headerSummary(scratch, 0, position);
  }

  private readInto(buf: Buffer, position: number, length: number): number {
    try {
      return readFully(this.fs, this.fd, buf, position, 0, length);
    } catch (err) {
      throw storageError(`reading ${this.logPath}`, err);
    }
  }

  /**
   * The first batch whose lastOffset >= `offset`, found by an index lookup and a short header
   * scan; undefined when the segment ends before `offset`. An index entry that points at a batch
   * with another base offset means the index is wrong: it is rebuilt and the lookup retried.
   */
  findBatch(offset: number, indexIntervalBytes: number): BatchSummary | undefined {
    if (offset >= this.nextOffset || this.size === 0) return undefined;
    const recent = this.recent.find(offset);
    if (recent !== undefined) return recent;
    const scratch = Buffer.allocUnsafe(BATCH_HEADER_SIZE);
    for (let attempt = 0; ; attempt++) {
      const hint = this.index.lookup(Math.max(0, offset - this.baseOffset));
      let position = hint.position;
      let batch = this.readSummaryAt(position, scratch);
      if (batch.baseOffset !== this.baseOffset + hint.relativeOffset) {
        assert(attempt === 0, `segment ${this.logPath} disagrees with its rebuilt index`);
        this.rebuildIndex(indexIntervalBytes);
        continue;
      }
      while (batch.lastOffset < offset) {
        position += batch.size;
        if (position >= this.size) return undefined;
        batch = this.readSummaryAt(position, scratch);
      }
      return batch;
    }
  }

  /**
   * Reads whole batches from `first` (a findBatch answer) on: only those whose last offset is
   * below `maxOffset` when given, and no more than `maxBytes` of them, but always `first` itself.
   * The byte range is worked out from batch positions (recent batches, index, headers) before
   * anything is allocated, so a fetch asking for 256 MiB of a partition with 1 KiB below its high
   * watermark allocates 1 KiB, not 256 MiB trimmed afterwards.
   */
  readBatches(first: BatchSummary, maxBytes: number, maxOffset: number | undefined, indexIntervalBytes: number): Buffer {
    let end = this.size;
    if (maxOffset !== undefined && maxOffset < this.nextOffset) {
      // The first batch reaching maxOffset, and every one after it, stays unread.
      const bound = this.findBatch(maxOffset, indexIntervalBytes);
      assert(bound !== undefined, `${this.logPath}: no batch holds offset ${maxOffset} below the segment end ${this.nextOffset}`);
      end = bound.position;
    }
    const firstEnd = first.position + first.size;
    assert(
      firstEnd <= end,
      `${this.logPath}: the batch at ${first.position} (offsets ${first.baseOffset}..${first.lastOffset}) reaches past the read bound ${maxOffset}`,
    );
    const limit = first.position + Math.max(maxBytes, first.size);
    if (limit < end) end = this.startOfBatchAt(limit, firstEnd, indexIntervalBytes);
    return this.readAt(first.position, end - first.position);
  }

  /**
   * Where the batch holding byte `position` starts (or `position` itself when a batch starts
   * there); `from` is a known batch start at or below `position`. The recent batches answer tail
   * reads; otherwise the index narrows the header walk to index.interval.bytes.
   */
  private startOfBatchAt(position: number, from: number, indexIntervalBytes: number): number {
    assert(from <= position && position < this.size, `${this.logPath}: position ${position} outside [${from}, ${this.size})`);
    const recent = this.recent.startOfBatchAt(position);
    if (recent !== undefined) return recent;
    const scratch = Buffer.allocUnsafe(BATCH_HEADER_SIZE);
    let at = from;
    const hint = this.index.lookupPosition(position);
    if (hint.position > from) {
      if (this.readSummaryAt(hint.position, scratch).baseOffset === this.baseOffset + hint.relativeOffset) at = hint.position;
      else this.rebuildIndex(indexIntervalBytes); // a stale index: walk from `from` this once
    }
    for (;;) {
      const batch = this.readSummaryAt(at, scratch);
      assert(
        batch.size >= BATCH_HEADER_SIZE && at + batch.size <= this.size,
        `batch at ${this.logPath}:${at} has length ${batch.size}, outside the valid length ${this.size}`,
      );
      if (at + batch.size > position) return at;
      at += batch.size;
    }
  }

  /** Calls `visit` for each batch header from `position` on, until it returns false. */
  scanHeaders(position: number, visit: (batch: BatchSummary) => boolean): void {
    const chunk = Buffer.allocUnsafe(HEADER_CHUNK_BYTES);
    let chunkStart = 0;
    let chunkLength = 0;
    while (position < this.size) {
      if (position < chunkStart || position + BATCH_HEADER_SIZE > chunkStart + chunkLength) {
        chunkStart = position;
        chunkLength = this.readInto(chunk, position, Math.min(HEADER_CHUNK_BYTES, this.size - position));
        assert(chunkLength >= BATCH_HEADER_SIZE, `batch header at ${this.logPath}:${position} is short inside the valid length ${this.size}`);
      }
      const batch = headerSummary(chunk, position - chunkStart, position);
      assert(
        batch.size >= BATCH_HEADER_SIZE && position + batch.size <= this.size,
        `batch at ${this.logPath}:${position} has length ${batch.size}, outside the valid length ${this.size}`,
      );
      if (!visit(batch)) return;
      position += batch.size;
    }
  }

  /**
   * The time retention.ms counts from: the largest record timestamp, bounded by the broker's
   * clock at the last append. A timestamp from the future thus counts as its append time (it
   * cannot keep the segment forever), and an honest one as itself. Per batch the bound would be
   * its own append time; the segment's last append time bounds them all, and
   * max(min(ts_i, T)) = min(max(ts_i), T), so one number per segment suffices and it survives a
   * restart through the file's mtime. It errs towards keeping: never earlier than the per-batch rule.
   */
  get retentionTimestampMs(): number {
    return Math.min(this.maxTimestamp, this.lastAppendMs);
  }

  /** Largest batch maxTimestamp in the segment (-1 when empty); computed once, then kept up to date. */
  get maxTimestamp(): number {
    if (this.maxTimestampCache === undefined) {
      let max = -1;
      this.scanHeaders(0, (b) => {
        if (b.maxTimestamp > max) max = b.maxTimestamp;
        return true;
      });
      this.maxTimestampCache = max;
    }
    return this.maxTimestampCache;
  }

  // ---------------------------------------------------------------- loading and recovery

  /**
   * Opens a segment below the recovery point: its bytes were flushed, so only the index is
   * loaded (or rebuilt when missing or malformed) and the last few batch headers are read to
   * learn where it ends. Returns false when the tail does not end on a batch boundary; the caller
   * then recovers the segment fully.
   */
  loadTrusted(indexIntervalBytes: number, onIndexRebuilt: () => void): boolean {
    if (this.indexWasMissing || !this.index.load(this.size)) {
      const malformed = !this.indexWasMissing;
      this.rebuildIndex(indexIntervalBytes);
      // An index file is created with its first entry: a missing one is news only when the segment has entries.
      if (malformed || this.index.entryCount > 0) onIndexRebuilt();
    }
    let position = this.index.lastPosition;
    let ok = true;
    let last: BatchSummary | undefined;
    const scratch = Buffer.allocUnsafe(BATCH_HEADER_SIZE);
    while (position < this.size) {
      if (this.size - position < BATCH_HEADER_SIZE) {
        ok = false;
        break;
      }
      last = this.readSummaryAt(position, scratch);
      if (last.size < BATCH_HEADER_SIZE || position + last.size > this.size) {
        ok = false;
        break;
      }
      position += last.size;
    }
    if (!ok) return false;
    if (this.index.entryCount > 0 && last !== undefined) {
      // The first indexed batch must carry its indexed offset; otherwise the index is stale.
      const probe = this.readSummaryAt(this.index.lastPosition, scratch);
      if (probe.baseOffset !== this.baseOffset + this.index.lastRelativeOffset) {
        onIndexRebuilt();
        this.rebuildIndex(indexIntervalBytes);
      }
    }
    this.nextOffset = last === undefined ? this.baseOffset : last.lastOffset + 1;
    this.lastEpoch = last?.epoch ?? -1;
    this.bytesSinceIndexEntry = this.size - this.index.lastPosition;
    if (this.size > 0) this.boundOpenTimes(this.readSummaryAt(0, scratch).maxTimestamp);
    return true;
  }

  /**
   * The roll and retention times of a segment found on disk, whose append times were not kept:
   * its mtime is the time of its last append (an upper bound of every append time in it), and
   * its first batch's timestamp stands for its first append, bounded by that mtime. A producer's
   * future timestamp thus counts as the mtime; an old one makes the active segment roll once
   * after the restart (the next segment counts from the broker's clock again), never once per batch.
   */
  private boundOpenTimes(firstBatchTimestamp: number): void {
    this.lastAppendMs = this.openedMtimeMs;
    this.rollBaseMs = Math.min(firstBatchTimestamp, this.openedMtimeMs);
  }

  /** Rebuilds the index from the batch headers (no CRC check: the bytes are trusted here). */
  rebuildIndex(indexIntervalBytes: number): void {
    this.index.reset();
    let since = 0;
    this.scanHeaders(0, (b) => {
      if (b.position > 0 && since >= indexIntervalBytes) {
        this.index.append(b.baseOffset - this.baseOffset, b.position);
        since = 0;
      }
      since += b.size;
      return true;
    });
    this.bytesSinceIndexEntry = since;
    this.index.flushToFile();
  }

  /**
   * Scans the whole segment batch by batch, checking each one's length and CRC, that offsets are
   * dense from `expectedOffset`, and whatever `check` adds (the epoch). The first failure ends the
   * segment: the file is truncated there and the index rebuilt from the good batches.
   */
  recover(expectedOffset: number, indexIntervalBytes: number, check: (batch: BatchSummary) => string | undefined): SegmentRecovery {
    const fileSize = this.size;
    this.index.reset();
    this.recent.clear();
    let chunk = Buffer.allocUnsafe(Math.min(SCAN_CHUNK_BYTES, Math.max(fileSize, BATCH_HEADER_SIZE)));
    let chunkStart = 0;
    let chunkLength = 0;
    let position = 0;
    let reason: string | undefined;
    let next = expectedOffset;
    let since = 0;
    let maxTimestamp = -1;
    let first = -1;
    let lastEpoch = -1;
    // Makes [position, position + length) resident in `chunk`; false when the file is shorter.
    const ensure = (length: number): boolean => {
      if (position + length > fileSize) return false;
      if (position >= chunkStart && position + length <= chunkStart + chunkLength) return true;
      if (length > chunk.length) chunk = Buffer.allocUnsafe(length);
      chunkStart = position;
      chunkLength = this.readInto(chunk, position, Math.min(chunk.length, fileSize - position));
      return chunkLength >= length;
    };
    while (position < fileSize) {
      if (!ensure(BATCH_HEADER_SIZE)) {
        reason = `short batch header: ${fileSize - position} bytes`;
        break;
      }
      const batchLength = chunk.readInt32BE(position - chunkStart + 8);
      const size = batchLength + LOG_OVERHEAD;
      if (batchLength < BATCH_HEADER_SIZE - LOG_OVERHEAD || !ensure(size)) {
        reason = `short batch: batchLength ${batchLength} but ${fileSize - position} bytes left`;
        break;
      }
      let header: BatchHeader;
      try {
        header = checkBatchCrc(chunk.subarray(position - chunkStart, position - chunkStart + size));
      } catch (err) {
        reason = (err as Error).message;
        break;
      }
      const batch = summarize(header, position);
      if (batch.baseOffset !== next || batch.lastOffset < batch.baseOffset || batch.lastOffset - this.baseOffset > INT32_MAX) {
        reason = `offsets ${batch.baseOffset}..${batch.lastOffset} do not follow ${next - 1}`;
        break;
      }
      const bad = check(batch);
      if (bad !== undefined) {
        reason = bad;
        break;
      }
      if (position > 0 && since >= indexIntervalBytes) {
        this.index.append(batch.baseOffset - this.baseOffset, position);
        since = 0;
      }
      since += size;
      if (position === 0) first = batch.maxTimestamp;
      if (batch.maxTimestamp > maxTimestamp) maxTimestamp = batch.maxTimestamp;
      lastEpoch = batch.epoch;
      next = batch.lastOffset + 1;
      position += size;
    }
    if (position < fileSize) {
      try {
        this.fs.ftruncateSync(this.fd, position);
      } catch (err) {
        throw storageError(`truncating ${this.logPath} on recovery`, err);
      }
    }
    this.size = position;
    this.nextOffset = next;
    this.bytesSinceIndexEntry = since;
    this.maxTimestampCache = maxTimestamp;
    this.timeIndex = undefined;
    if (position > 0) this.boundOpenTimes(first);
    else {
      this.rollBaseMs = -1;
      this.lastAppendMs = -1;
    }
    this.lastEpoch = lastEpoch;
    this.index.flushToFile();
    return reason === undefined ? { truncatedBytes: 0 } : { truncatedBytes: fileSize - position, reason };
  }

  // ---------------------------------------------------------------- truncation, flush, close

  /**
   * Drops every batch whose lastOffset >= `offset`. A batch is never split, so when `offset`
   * falls inside a batch that whole batch goes and the segment ends below `offset`.
   */
  truncateTo(offset: number, indexIntervalBytes: number): void {
    const batch = this.findBatch(offset, indexIntervalBytes);
    if (batch === undefined) return;
    try {
      this.fs.ftruncateSync(this.fd, batch.position);
      this.index.truncateToPosition(batch.position);
      this.recent.truncateToPosition(batch.position);
    } catch (err) {
      throw storageError(`truncating ${this.logPath}`, err);
    }
    this.size = batch.position;
    this.nextOffset = batch.baseOffset;
    this.bytesSinceIndexEntry = this.size - this.index.lastPosition;
    this.timeIndex = undefined;
    if (this.size === 0) {
      this.rollBaseMs = -1;
      this.lastAppendMs = -1;
      this.maxTimestampCache = -1;
      this.lastEpoch = -1;
    } else {
      this.maxTimestampCache = undefined;
      let lastEpoch = -1;
      this.scanHeaders(this.index.lastPosition, (b) => {
        lastEpoch = b.epoch;
        return true;
      });
      this.lastEpoch = lastEpoch;
    }
  }

  /** Writes pending index entries and fsyncs both files. */
  flush(): void {
    try {
      this.index.fsync();
      this.fs.fsyncSync(this.fd);
    } catch (err) {
      throw storageError(`flushing ${this.logPath}`, err);
    }
  }

  /**
   * flush() with both fsyncs on libuv's thread pool (a rolled segment, flushed in the background:
   * Log.flushRolledSegmentsInBackground). The index entries must be written already (flushIndex,
   * done at roll).
   */
  async flushInBackground(): Promise<void> {
    try {
      await Promise.all([this.index.fsyncInBackground(), this.fs.fsync(this.fd)]);
    } catch (err) {
      throw storageError(`flushing ${this.logPath}`, err);
    }
  }

  /** Writes pending index entries without fsync (on roll and close). */
  flushIndex(): void {
    try {
      this.index.flushToFile();
    } catch (err) {
      throw storageError(`writing ${this.index.path}`, err);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      this.index.flushToFile();
    } catch {
      // A missing index entry is rebuilt on open; closing must not fail for it.
    }
    const fd = this.fd;
    this.fd = -1;
    this.index.close();
    this.fs.closeSync(fd);
  }

  /** Closes and removes both files. */
  delete(): void {
    this.close();
    try {
      this.fs.unlinkSync(this.logPath);
    } catch (err) {
      throw storageError(`deleting ${this.logPath}`, err);
    }
    try {
      if (this.fs.existsSync(this.index.path)) this.fs.unlinkSync(this.index.path);
    } catch {
      // An orphan .index is deleted on the next open.
    }
  }
}

/** Reads the header fields the log needs straight from `buf` at `at`. */
export function headerSummary(buf: Buffer, at: number, position: number): BatchSummary {
  const baseOffset = Number(buf.readBigInt64BE(at));
  return {
    position,
    size: buf.readInt32BE(at + 8) + LOG_OVERHEAD,
    baseOffset,
    lastOffset: baseOffset + buf.readInt32BE(at + 23),
    maxTimestamp: Number(buf.readBigInt64BE(at + 35)),
    epoch: buf.readInt32BE(at + 12),
  };
}

/**
 * A sparse time index of one segment: every index.interval.bytes of batches, an entry with a
 * batch's position and the largest timestamp of every batch before it. The largest timestamp so
 * far only grows, so the entries are sorted by it as well as by position, and the last entry whose
 * timestamp is below a target marks a place before which no batch can hold that target.
 */
export class TimeIndex {
  private positions: number[] = [];
  private maxBefore: number[] = [];
  private runningMax = -1;
  private bytesSinceEntry = 0;

  get entryCount(): number {
    return this.positions.length;
  }

  /** Notes the batch of `size` bytes at `position` (batches come in log order). */
  add(position: number, size: number, maxTimestamp: number, indexIntervalBytes: number): void {
    if (position > 0 && this.bytesSinceEntry >= indexIntervalBytes) {
      this.positions.push(position);
      this.maxBefore.push(this.runningMax);
      this.bytesSinceEntry = 0;
    }
    this.bytesSinceEntry += size;
    if (maxTimestamp > this.runningMax) this.runningMax = maxTimestamp;
  }

  /** The position to start a search for timestamps >= `timestampMs` from. */
  lookup(timestampMs: number): number {
    let lo = 0;
    let hi = this.maxBefore.length - 1;
    let start = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.maxBefore[mid]! < timestampMs) {
        start = this.positions[mid]!;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return start;
  }
}
