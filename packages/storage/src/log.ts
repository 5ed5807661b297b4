// A partition's log: a directory `<topic>-<partition>/` of segments (segment.ts) plus its
// leader-epoch-checkpoint (leader-epoch-cache.ts). It appends as leader or follower, serves
// reads as raw file bytes, truncates, applies retention, and recovers after a crash.
//
// The API is synchronous on purpose: the broker is single-threaded, so a synchronous append
// cannot interleave with another, and the writes land in the page cache. Durability comes from
// replication (DESIGN.md § Storage); fsync happens only on flush.messages / flush.ms / flush().

import * as path from 'node:path';
import { assert, checkBatchCrc, forEachRecord, LOG_OVERHEAD, stampBatch, TributaryError, validateBatch, type TopicConfigs } from '@tributary/protocol';
import { fsyncDir, nodeFs, storageError, type StorageFs } from './fs.ts';
import { LeaderEpochCache, type EpochEntry } from './leader-epoch-cache.ts';
import { parseSegmentFileName, Segment, segmentFileName, SEGMENT_INDEX_SUFFIX, SEGMENT_LOG_SUFFIX, type BatchSummary } from './segment.ts';

export interface LogConfig {
  segmentBytes: number;
  segmentMs: number;
  indexIntervalBytes: number;
  /** -1: no size limit. */
  retentionBytes: number;
  /** -1: keep forever. */
  retentionMs: number;
  flushMessages: number;
  flushMs: number;
}

export function logConfigFromTopic(c: TopicConfigs): LogConfig {
  return {
    segmentBytes: c['segment.bytes'],
    segmentMs: c['segment.ms'],
    indexIntervalBytes: c['index.interval.bytes'],
    retentionBytes: c['retention.bytes'],
    retentionMs: c['retention.ms'],
    flushMessages: c['flush.messages'],
    flushMs: c['flush.ms'],
  };
}

export interface StorageLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface LogOptions {
  fs?: StorageFs;
  clock?: () => number;
  logger?: StorageLogger;
  /** Offset below which the data is known flushed; segments wholly below it skip the recovery scan. */
  recoveryPoint?: number;
}

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint';

const SILENT: StorageLogger = { info() {}, warn() {} };
const EMPTY = Buffer.alloc(0);

function corrupt(message: string): TributaryError {
  return new TributaryError('CORRUPT_MESSAGE', message);
}

export class Log {
  readonly dir: string;
  readonly epochs: LeaderEpochCache;
  private config: LogConfig;
  private readonly fs: StorageFs;
  private readonly clock: () => number;
  private readonly logger: StorageLogger;
  private segments: Segment[] = [];
  private recoveryPointOffset = 0;
  private unflushedMessages = 0;
  private lastFlushMs: number;
  /** A segment file was created since the directory was last fsynced. */
  private dirDirty = false;
  private closed = false;

  private constructor(dir: string, config: LogConfig, options: LogOptions) {
    this.dir = dir;
    this.config = config;
    this.fs = options.fs ?? nodeFs;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? SILENT;
    this.epochs = new LeaderEpochCache(path.join(dir, LEADER_EPOCH_CHECKPOINT), this.fs);
    this.lastFlushMs = this.clock();
  }

  /** Opens the log in `dir` (created if missing), recovering every segment from the recovery point on. */
  static open(dir: string, config: LogConfig, options: LogOptions = {}): Log {
    const log = new Log(dir, config, options);
    try {
      log.load(options.recoveryPoint ?? 0);
    } catch (err) {
      log.closeQuietly();
      throw err;
    }
    return log;
  }

  // ---------------------------------------------------------------- state

  get logStartOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  get logEndOffset(): number {
    return this.segments[this.segments.length - 1]!.nextOffset;
  }

  get sizeInBytes(): number {
    let size = 0;
    for (const s of this.segments) size += s.size;
    return size;
  }

  get recoveryPoint(): number {
    return this.recoveryPointOffset;
  }

  /** Number of segments, for tests and metrics. */
  get segmentCount(): number {
    return this.segments.length;
  }

  /** Base offsets of the segments, oldest first. */
  segmentBaseOffsets(): number[] {
    return this.segments.map((s) => s.baseOffset);
  }

  updateConfig(config: LogConfig): void {
    this.config = config;
  }

  /** Epoch of the last batch in the log, -1 when the log is empty. */
  lastEpoch(): number {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const s = this.segments[i]!;
      if (!s.isEmpty) return s.lastEpoch;
    }
    return -1;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  private assertOpen(): void {
    assert(!this.closed, `log ${this.dir} is closed`);
  }

  // ---------------------------------------------------------------- appends

  /**
   * Validates one batch fully (validateBatch walks its records), stamps baseOffset = LEO and
   * the leader epoch in place, and writes it. A new epoch is checkpointed before its first batch.
   */
  appendAsLeader(batch: Buffer, leaderEpoch: number): { baseOffset: number; lastOffset: number } {
    this.assertOpen();
    assert(Number.isSafeInteger(leaderEpoch) && leaderEpoch >= 0, `leader epoch ${leaderEpoch} must be a non-negative integer`);
    const header = validateBatch(batch);
    if (header.recordCount <= 0 || header.lastOffsetDelta !== header.recordCount - 1) {
      throw corrupt(`record batch is corrupt: ${header.recordCount} records with lastOffsetDelta ${header.lastOffsetDelta}`);
    }
    if (leaderEpoch < this.epochs.latestEpoch) {
      throw new TributaryError('FENCED_LEADER_EPOCH', `append with leader epoch ${leaderEpoch} below the log's latest epoch ${this.epochs.latestEpoch}`);
    }
    const baseOffset = this.logEndOffset;
    const lastOffset = baseOffset + header.lastOffsetDelta;
    const size = batch.length;
    const nowMs = this.clock();
    if (this.shouldRoll(this.active, 0, size, lastOffset, nowMs)) this.roll();
    if (leaderEpoch > this.epochs.latestEpoch) this.epochs.assign(leaderEpoch, baseOffset);
    stampBatch(batch, baseOffset, leaderEpoch);
    const segment = this.active;
    segment.write(batch, 0, size);
    segment.recordBatch(baseOffset, lastOffset, size, header.maxTimestamp, leaderEpoch, this.config.indexIntervalBytes, nowMs);
    this.maybeFlushAfterAppend(header.recordCount, nowMs, baseOffset);
    return { baseOffset, lastOffset };
  }

  /**
   * Appends batches copied from the leader, offsets already assigned. All are checked before any
   * is written: each CRC (checkBatchCrc), the first base offset == LEO (else
   * OFFSET_OUT_OF_RANGE), dense increasing offsets and non-decreasing epochs (else CORRUPT_MESSAGE).
   */
  appendAsFollower(batches: Buffer): { firstOffset: number; lastOffset: number } {
    this.assertOpen();
    const leo = this.logEndOffset;
    if (batches.length === 0) return { firstOffset: leo, lastOffset: leo - 1 };
    const list: BatchSummary[] = [];
    let records = 0;
    let position = 0;
    let next = leo;
    let epoch = this.lastEpoch();
    while (position < batches.length) {
      const header = checkBatchCrc(batches, position);
      const b: BatchSummary = {
        position,
        size: header.batchLength + LOG_OVERHEAD,
        baseOffset: header.baseOffset,
        lastOffset: header.baseOffset + header.lastOffsetDelta,
        maxTimestamp: header.maxTimestamp,
        epoch: header.partitionLeaderEpoch,
      };
      if (list.length === 0 && b.baseOffset !== leo) {
        throw new TributaryError('OFFSET_OUT_OF_RANGE', `follower append starts at offset ${b.baseOffset} but the log ends at ${leo}`);
      }
      if (b.baseOffset !== next || header.lastOffsetDelta < 0) {
        throw corrupt(`follower batch offsets ${b.baseOffset}..${b.lastOffset} do not follow ${next - 1}`);
      }
      if (b.epoch < epoch) {
        throw corrupt(`follower batch at offset ${b.baseOffset} has leader epoch ${b.epoch}, below the previous batch's ${epoch}`);
      }
      epoch = b.epoch;
      records += header.recordCount;
      list.push(b);
      next = b.lastOffset + 1;
      position += b.size;
    }

    // Epochs assigned without data (a leader that never wrote) give way to what the leader sent.
    if (list[0]!.epoch < this.epochs.latestEpoch) this.epochs.truncateFromEnd(leo);

    const nowMs = this.clock();
    let runStart = 0; // index into list of the first batch not yet written
    let runBytes = 0;
    const writeRun = (end: number): void => {
      if (end === runStart) return;
      const segment = this.active;
      const first = list[runStart]!;
      segment.write(batches, first.position, first.position + runBytes);
      for (let i = runStart; i < end; i++) {
        const b = list[i]!;
        segment.recordBatch(b.baseOffset, b.lastOffset, b.size, b.maxTimestamp, b.epoch, this.config.indexIntervalBytes, nowMs);
      }
      runStart = end;
      runBytes = 0;
    };
    try {
      for (let i = 0; i < list.length; i++) {
        const b = list[i]!;
        if (b.epoch >= 0 && b.epoch > this.epochs.latestEpoch) {
          writeRun(i);
          this.epochs.assign(b.epoch, b.baseOffset);
        }
        if (this.shouldRoll(this.active, runBytes, b.size, b.lastOffset, nowMs)) {
          writeRun(i);
          this.roll();
        }
        runBytes += b.size;
      }
      writeRun(list.length);
    } catch (err) {
      // Keep the call all-or-nothing where the disk lets us.
      this.cutBackQuietly(leo);
      throw err;
    }
    this.maybeFlushAfterAppend(records, nowMs, leo);
    return { firstOffset: leo, lastOffset: next - 1 };
  }

  /** Whether a batch of `size` bytes, after `pendingBytes` not yet written, needs a new segment. */
  private shouldRoll(segment: Segment, pendingBytes: number, size: number, lastOffset: number, nowMs: number): boolean {
    if (segment.isEmpty && pendingBytes === 0) {
      // A batch bigger than segment.bytes still goes into an empty segment, as in Kafka.
      return false;
    }
    return !segment.fits(pendingBytes + size, lastOffset, this.config.segmentBytes) || this.segmentExpired(segment, nowMs);
  }

  /**
   * segment.ms counts from the broker's clock at the segment's first append, not from the first
   * batch's record timestamp as Kafka does (KIP-33): a producer's timestamps are its own choice,
   * and one stamping 1970 would otherwise roll a segment per batch, one stamping the future never.
   * After a restart the first batch's timestamp stands in, bounded by the file's mtime
   * (Segment.rollBaseMs): an old one rolls the active segment once, not per batch.
   */
  private segmentExpired(segment: Segment, nowMs: number): boolean {
    return !segment.isEmpty && nowMs - segment.rollBaseMs > this.config.segmentMs;
  }

  private roll(): void {
    const old = this.active;
    assert(!old.isEmpty, 'rolling an empty segment');
    old.flushIndex();
    let segment: Segment;
    try {
      segment = Segment.create(this.dir, old.nextOffset, this.fs);
    } catch (err) {
      throw storageError(`creating segment ${old.nextOffset} in ${this.dir}`, err);
    }
    this.segments.push(segment);
    this.dirDirty = true;
    this.logger.info({ dir: this.dir, baseOffset: segment.baseOffset }, 'rolled segment');
  }

  /** segment.ms roll for a log that gets no appends; size rolls happen on append. */
  maybeRoll(nowMs: number = this.clock()): void {
    this.assertOpen();
    if (this.segmentExpired(this.active, nowMs)) this.roll();
  }

  private maybeFlushAfterAppend(records: number, nowMs: number, appendStart: number): void {
    this.unflushedMessages += records;
    if (this.unflushedMessages < this.config.flushMessages && nowMs - this.lastFlushMs < this.config.flushMs) return;
    try {
      this.flush();
    } catch (err) {
      // The caller hears KAFKA_STORAGE_ERROR, so the append must not stay half-done.
      this.cutBackQuietly(appendStart);
      throw err;
    }
  }

  private cutBackQuietly(offset: number): void {
    try {
      this.truncateTo(offset);
    } catch (err) {
      this.logger.warn({ dir: this.dir, offset, err }, 'could not cut back a failed append');
    }
  }

  // ---------------------------------------------------------------- reads

  /**
   * Whole batches from the one containing `offset`, as file bytes: at most `maxBytes` but at least
   * the first batch, from one segment, and only batches whose last offset < `maxOffset` when given.
   * Allocates only the bytes returned, whatever `maxBytes` asks for (Segment.readBatches).
   */
  read(offset: number, maxBytes: number, maxOffset?: number): Buffer {
    this.assertOpen();
    const leo = this.logEndOffset;
    if (offset < this.logStartOffset || offset > leo) {
      throw new TributaryError('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside the log [${this.logStartOffset}, ${leo}]`);
    }
    if (offset === leo) return EMPTY;
    for (let i = this.segmentIndexFor(offset); i < this.segments.length; i++) {
      const segment = this.segments[i]!;
      const first = segment.findBatch(offset, this.config.indexIntervalBytes);
      if (first === undefined) continue;
      if (maxOffset !== undefined && first.lastOffset >= maxOffset) return EMPTY;
      const buf = segment.readBatches(first, maxBytes, maxOffset, this.config.indexIntervalBytes);
      // Check what was read against what was written (STYLE.md: assert in pairs): whole batches
      // back to back, each starting where the last one ended, with the next offset and magic 2,
      // none reaching maxOffset.
      let end = 0;
      let expected = first.baseOffset;
      while (end < buf.length) {
        assert(
          end + 61 <= buf.length,
          `${segment.logPath}: read of ${buf.length} bytes at ${first.position} ends inside a batch header at ${first.position + end}`,
        );
        const size = buf.readInt32BE(end + 8) + LOG_OVERHEAD;
        const base = Number(buf.readBigInt64BE(end));
        assert(
          base === expected && buf[end + 16] === 2 && size >= 61 && end + size <= buf.length,
          `${segment.logPath}: batch at ${first.position + end} has base offset ${base} and size ${size}, expected offset ${expected} within ${buf.length - end} bytes`,
        );
        const last = base + buf.readInt32BE(end + 23);
        assert(maxOffset === undefined || last < maxOffset, `${segment.logPath}: read past offset ${maxOffset} (batch ${base}..${last})`);
        end += size;
        expected = last + 1;
      }
      return buf;
    }
    assert(false, `offset ${offset} below the log end ${leo} is in no segment of ${this.dir}`);
  }

  /** Index of the last segment whose base offset is <= `offset` (0 when below all). */
  private segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** First offset whose record timestamp is >= `timestampMs` (Kafka ListOffsets), or null. */
  offsetForTimestamp(timestampMs: number): number | null {
    this.assertOpen();
    for (const segment of this.segments) {
      if (segment.maxTimestamp < timestampMs) continue;
      let hit: BatchSummary | undefined;
      segment.scanHeaders(0, (b) => {
        if (b.maxTimestamp >= timestampMs) hit = b;
        return hit === undefined;
      });
      if (hit === undefined) continue;
      const buf = segment.readAt(hit.position, hit.size);
      const header = checkBatchCrc(buf);
      let offset: number | undefined;
      forEachRecord(buf, header, (r) => {
        if (offset === undefined && r.timestamp >= timestampMs) offset = r.offset;
      });
      return Math.max(offset ?? hit.baseOffset, this.logStartOffset);
    }
    return null;
  }

  // ---------------------------------------------------------------- truncation and retention

  /**
   * Drops everything at or above `offset`: later segments, the tail of the segment holding it,
   * index entries and epoch-cache entries. Batches are never split, so when `offset` falls inside
   * a batch the whole batch goes and the log end lands on that batch's base offset.
   */
  truncateTo(offset: number): void {
    this.assertOpen();
    if (offset >= this.logEndOffset) return;
    if (offset < this.logStartOffset) {
      this.truncateFullyAndStartAt(offset);
      return;
    }
    const before = this.logEndOffset;
    // Newest first, so a failure part-way still leaves a contiguous log.
    while (this.segments.length > 1 && this.active.baseOffset > offset) {
      this.active.delete();
      this.segments.pop();
    }
    this.active.truncateTo(offset, this.config.indexIntervalBytes);
    this.recoveryPointOffset = Math.min(this.recoveryPointOffset, this.logEndOffset);
    this.epochs.truncateFromEnd(this.logEndOffset);
    this.logger.info({ dir: this.dir, offset, before, logEndOffset: this.logEndOffset }, 'truncated log');
  }

  /** Empties the log and restarts it at `offset` (a follower too far behind the leader's log start). */
  truncateFullyAndStartAt(offset: number): void {
    this.assertOpen();
    assert(Number.isSafeInteger(offset) && offset >= 0, `offset ${offset} must be a non-negative integer`);
    while (this.segments.length > 0) {
      this.segments[this.segments.length - 1]!.delete();
      this.segments.pop();
    }
    try {
      this.segments.push(Segment.create(this.dir, offset, this.fs));
    } catch (err) {
      throw storageError(`creating segment ${offset} in ${this.dir}`, err);
    }
    this.dirDirty = true;
    this.recoveryPointOffset = offset;
    this.epochs.clear();
    this.logger.info({ dir: this.dir, offset }, 'truncated log fully');
  }

  /**
   * retention.ms then retention.bytes: deletes whole segments from the oldest, and moves the log
   * start offset up. As in Kafka (UnifiedLog.deletableSegments), a segment goes only when every
   * offset in it is below `highWatermark` (the next segment's base offset <= HW), so retention
   * never removes records a consumer may not have been able to read yet, or that a new leader
   * elected from the ISR would still need; and never the active segment. A segment's age is its
   * largest record timestamp bounded by the broker's clock at its last append
   * (Segment.retentionTimestampMs). Returns how many segments went.
   */
  deleteOldSegments(nowMs: number, highWatermark: number): number {
    this.assertOpen();
    assert(
      Number.isSafeInteger(highWatermark) && highWatermark >= 0 && highWatermark <= this.logEndOffset,
      `high watermark ${highWatermark} outside [0, ${this.logEndOffset}] of ${this.dir}`,
    );
    let deleted = 0;
    const { retentionMs, retentionBytes } = this.config;
    const belowHw = (): boolean => this.segments.length > 1 && this.segments[1]!.baseOffset <= highWatermark;
    if (retentionMs >= 0) {
      // A segment expires when even its newest record is older than retention.ms (Kafka).
      while (belowHw() && nowMs - this.segments[0]!.retentionTimestampMs > retentionMs) {
        this.deleteOldest();
        deleted++;
      }
    }
    if (retentionBytes >= 0) {
      let excess = this.sizeInBytes - retentionBytes;
      while (belowHw() && excess >= this.segments[0]!.size) {
        excess -= this.segments[0]!.size;
        this.deleteOldest();
        deleted++;
      }
    }
    return deleted;
  }

  private deleteOldest(): void {
    const segment = this.segments[0]!;
    segment.delete();
    this.segments.shift();
    this.recoveryPointOffset = Math.max(this.recoveryPointOffset, this.logStartOffset);
    this.logger.info({ dir: this.dir, baseOffset: segment.baseOffset, logStartOffset: this.logStartOffset }, 'deleted segment');
    this.epochs.truncateFromStart(this.logStartOffset);
  }

  // ---------------------------------------------------------------- flush, close

  /** fsyncs every segment past the recovery point (log and index) and moves the recovery point to the log end. */
  flush(): void {
    this.assertOpen();
    const leo = this.logEndOffset;
    if (leo !== this.recoveryPointOffset || this.dirDirty) {
      for (let i = this.segmentIndexFor(this.recoveryPointOffset); i < this.segments.length; i++) this.segments[i]!.flush();
      if (this.dirDirty) {
        try {
          fsyncDir(this.fs, this.dir);
        } catch (err) {
          throw storageError(`fsync of ${this.dir}`, err);
        }
        this.dirDirty = false;
      }
    }
    // New epochs were checkpointed without fsync; below the recovery point they must be durable.
    this.epochs.flush();
    this.recoveryPointOffset = leo;
    this.unflushedMessages = 0;
    this.lastFlushMs = this.clock();
  }

  /** Closes the files without flushing (durability comes from flush() or replication). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.segments) s.close();
  }

  /** Closes the log and removes its directory. */
  delete(): void {
    this.closeQuietly();
    try {
      this.fs.rmSync(this.dir);
    } catch (err) {
      throw storageError(`deleting ${this.dir}`, err);
    }
  }

  private closeQuietly(): void {
    this.closed = true;
    for (const s of this.segments) {
      try {
        s.close();
      } catch {
        // Closing a file descriptor fails only when it is already gone.
      }
    }
  }

  // ---------------------------------------------------------------- recovery

  private load(recoveryPoint: number): void {
    const fs = this.fs;
    let names: string[];
    try {
      fs.mkdirSync(this.dir);
      names = fs.readdirSync(this.dir);
    } catch (err) {
      throw storageError(`opening log dir ${this.dir}`, err);
    }

    const bases: number[] = [];
    const indexBases = new Set<number>();
    for (const name of names) {
      const base = parseSegmentFileName(name, SEGMENT_LOG_SUFFIX);
      if (base !== undefined) bases.push(base);
      const indexBase = parseSegmentFileName(name, SEGMENT_INDEX_SUFFIX);
      if (indexBase !== undefined) indexBases.add(indexBase);
      if (name.endsWith('.tmp')) {
        // A checkpoint write that never reached its rename.
        fs.unlinkSync(path.join(this.dir, name));
      }
    }
    bases.sort((a, b) => a - b);
    for (const base of indexBases) {
      if (!bases.includes(base)) fs.unlinkSync(path.join(this.dir, segmentFileName(base, SEGMENT_INDEX_SUFFIX)));
    }

    let cacheTrusted = true;
    try {
      this.epochs.load();
    } catch (err) {
      this.logger.warn({ dir: this.dir, err }, 'leader epoch checkpoint unreadable; rebuilding it from the batches');
      cacheTrusted = false;
    }

    if (bases.length === 0) {
      this.segments.push(Segment.create(this.dir, 0, fs));
      this.dirDirty = true;
    }

    // The recovery check on each batch's partitionLeaderEpoch, which lies outside the CRC: the
    // cache is written before an epoch's first batch, so where it covers an offset it must agree.
    // After a machine crash the cache may lack its newest epochs (assign does not fsync, see
    // LeaderEpochCache); flush() syncs it before the recovery point moves, so such batches are all
    // past the recovery point, and the check cuts the log there like any other unflushed tail
    // (the broker fetches it again from the leader).
    const epochCheck = (b: BatchSummary): string | undefined => {
      if (!cacheTrusted) return undefined;
      const expected = this.epochs.epochForOffset(b.baseOffset);
      if (expected >= 0 && b.epoch !== expected) return `batch at offset ${b.baseOffset} has leader epoch ${b.epoch}, the epoch cache says ${expected}`;
      return undefined;
    };

    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!;
      const prev = this.segments.at(-1);
      if (prev !== undefined && base !== prev.nextOffset) {
        this.dropSegmentFiles(bases.slice(i), `segment ${base} does not start where segment ${prev.baseOffset} ends (${prev.nextOffset})`);
        break;
      }
      let segment: Segment;
      try {
        segment = Segment.openExisting(this.dir, base, fs);
      } catch (err) {
        throw storageError(`opening segment ${base} in ${this.dir}`, err);
      }
      this.segments.push(segment);
      const nextBase = bases[i + 1];
      const trusted = nextBase !== undefined && nextBase <= recoveryPoint;
      if (
        trusted &&
        segment.loadTrusted(this.config.indexIntervalBytes, () => {
          this.logger.warn({ dir: this.dir, baseOffset: base }, 'rebuilding missing or malformed segment index');
        })
      ) {
        continue;
      }
      const result = segment.recover(base, this.config.indexIntervalBytes, epochCheck);
      if (result.truncatedBytes > 0) {
        this.logger.warn(
          {
            dir: this.dir,
            baseOffset: base,
            validBytes: segment.size,
            truncatedBytes: result.truncatedBytes,
            logEndOffset: segment.nextOffset,
            reason: result.reason,
          },
          'recovery truncated segment',
        );
        this.dropSegmentFiles(bases.slice(i + 1), `recovery ended the log in segment ${base}`);
        break;
      }
    }

    const leo = this.logEndOffset;
    if (!cacheTrusted || (this.epochs.latestEpoch < 0 && leo > this.logStartOffset)) this.rebuildEpochCache();
    this.epochs.truncateFromEnd(leo);
    this.epochs.truncateFromStart(this.logStartOffset);
    this.recoveryPointOffset = Math.min(Math.max(recoveryPoint, this.logStartOffset), leo);
    this.logger.info(
      {
        dir: this.dir,
        logStartOffset: this.logStartOffset,
        logEndOffset: leo,
        segments: this.segments.length,
        recoveryPoint: this.recoveryPointOffset,
      },
      'opened log',
    );
  }

  private dropSegmentFiles(bases: number[], reason: string): void {
    if (bases.length === 0) return;
    this.logger.warn({ dir: this.dir, baseOffsets: bases, reason }, 'recovery dropped later segments');
    // Newest first, so a crash part-way leaves a prefix of the log.
    for (const base of [...bases].reverse()) {
      for (const suffix of [SEGMENT_LOG_SUFFIX, SEGMENT_INDEX_SUFFIX]) {
        const file = path.join(this.dir, segmentFileName(base, suffix));
        try {
          if (this.fs.existsSync(file)) this.fs.unlinkSync(file);
        } catch (err) {
          throw storageError(`deleting ${file}`, err);
        }
      }
    }
  }

  /** Rebuilds the epoch cache from the batches' partitionLeaderEpoch fields. */
  private rebuildEpochCache(): void {
    const entries: EpochEntry[] = [];
    for (const segment of this.segments) {
      segment.scanHeaders(0, (b) => {
        if (b.epoch >= 0 && b.epoch > (entries.at(-1)?.epoch ?? -1)) entries.push({ epoch: b.epoch, startOffset: b.baseOffset });
        return true;
      });
    }
    this.epochs.reset(entries);
    this.logger.warn({ dir: this.dir, entries: entries.length }, 'rebuilt leader epoch cache from the log');
  }
}
