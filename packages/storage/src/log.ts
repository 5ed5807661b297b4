// A partition's log: a directory `<topic>-<partition>/` of segments (segment.ts) plus its
// leader-epoch-checkpoint (leader-epoch-cache.ts). It appends as leader or follower, serves
// reads as raw file bytes, truncates, applies retention, and recovers after a crash.
//
// The API is synchronous on purpose: the broker is single-threaded, so a synchronous append
// cannot interleave with another, and the writes land in the page cache. Durability comes from
// replication (DESIGN.md § Storage); fsync happens only on flush.messages / flush.ms / flush().

import * as path from 'node:path';
import {
  assert,
  BATCH_HEADER_SIZE,
  checkBatchCrc,
  cleanupPolicyOf,
  DEFAULT_TOPIC_CONFIGS,
  forEachRecord,
  LOG_OVERHEAD,
  readBatchHeader,
  stampBatch,
  TributaryError,
  validateBatch,
  type BatchHeader,
  type TopicConfigs,
} from '@tributary/protocol';
import type { BatchValidator } from './batch-validator-thread.ts';
import { CheckpointFile } from './checkpoint.ts';
import type { CompactionView, SegmentFacts } from './compaction.ts';
import { fsyncDir, nodeFs, readFully, storageError, type StorageFs } from './fs.ts';
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
  /** cleanup.policy contains compact: the log cleaner may rewrite closed segments, records need keys. */
  compact: boolean;
  /** cleanup.policy contains delete: retentionMs and retentionBytes apply. */
  delete: boolean;
  deleteRetentionMs: number;
  minCleanableDirtyRatio: number;
  minCompactionLagMs: number;
  maxCompactionLagMs: number;
}

/**
 * A topic's configs as the log uses them. Configs written before a setting existed lack it: the
 * default stands in. On a compacted topic the active segment rolls at max.compaction.lag.ms if
 * that comes before segment.ms (Kafka's LogConfig.maxSegmentMs): the active segment is never
 * cleaned, so it must close for its records to become cleanable in time.
 */
export function logConfigFromTopic(topic: Partial<TopicConfigs>): LogConfig {
  const c: TopicConfigs = { ...DEFAULT_TOPIC_CONFIGS, ...topic };
  const policy = cleanupPolicyOf(c['cleanup.policy']);
  return {
    segmentBytes: c['segment.bytes'],
    segmentMs: policy.compact ? Math.min(c['segment.ms'], c['max.compaction.lag.ms']) : c['segment.ms'],
    indexIntervalBytes: c['index.interval.bytes'],
    retentionBytes: c['retention.bytes'],
    retentionMs: c['retention.ms'],
    flushMessages: c['flush.messages'],
    flushMs: c['flush.ms'],
    compact: policy.compact,
    delete: policy.delete,
    deleteRetentionMs: c['delete.retention.ms'],
    minCleanableDirtyRatio: c['min.cleanable.dirty.ratio'],
    minCompactionLagMs: c['min.compaction.lag.ms'],
    maxCompactionLagMs: c['max.compaction.lag.ms'],
  };
}

/**
 * The cleaner's progress on this log, kept in `<log dir>/cleaner-offset-checkpoint` as one line
 * `<firstDirtyOffset> <rewrittenToOffset>`. Kafka keeps the first of these per data dir
 * (LogCleanerManager's cleaner-offset-checkpoint); here it lives beside the log, so that a
 * truncation can lower it in the same place and a log set aside or deleted takes it along.
 */
export interface CleanerCheckpoint {
  /**
   * Below this offset the log holds at most one record per key (Kafka's cleaner checkpoint). Too
   * low is only slower; too high would let duplicates stay, so truncations lower it and a
   * cleaning raises it only as its rewritten segments are swapped in.
   */
  firstDirtyOffset: number;
  /**
   * No batch at or above this offset was rewritten by this replica's cleaner: such batches are
   * byte for byte what the leader sent. Too high is harmless (replica comparisons skip more).
   */
  rewrittenToOffset: number;
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
  /**
   * Checks big leader batches while they are written (batch-validator-thread.ts, e.g.
   * `sharedBatchValidator()`). Default null: every batch is checked inline, which is cheaper in
   * CPU where the machine has no core to spare (the broker's --validator-thread).
   */
  validator?: BatchValidator | null;
}

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint';
export const CLEANER_OFFSET_CHECKPOINT = 'cleaner-offset-checkpoint';
/** Versions of every log in the process come from one counter, so no two states of any logs share one. */
let mutationsAll = 0;

/** Kafka's suffixes for a segment being cleaned (written, not yet committed) and being swapped in (committed). */
export const CLEANED_FILE_SUFFIX = '.cleaned';
export const SWAP_FILE_SUFFIX = '.swap';

const SILENT: StorageLogger = { info() {}, warn() {} };
const EMPTY = Buffer.alloc(0);

function corrupt(message: string): TributaryError {
  return new TributaryError('CORRUPT_MESSAGE', message);
}

/** A leader takes only batches whose header counts agree (validateBatch checks them against the records). */
function checkLeaderBatch(header: BatchHeader): void {
  if (header.recordCount <= 0 || header.lastOffsetDelta !== header.recordCount - 1) {
    throw corrupt(`record batch is corrupt: ${header.recordCount} records with lastOffsetDelta ${header.lastOffsetDelta}`);
  }
}

/** Batches from this size on are checked on the validator thread while they are written (appendOverlapped). */
export const OVERLAP_MIN_BYTES = 8 * 1024;

export class Log {
  readonly dir: string;
  readonly epochs: LeaderEpochCache;
  private config: LogConfig;
  private readonly fs: StorageFs;
  private readonly clock: () => number;
  private readonly logger: StorageLogger;
  private readonly validator: BatchValidator | null;
  private segments: Segment[] = [];
  private recoveryPointOffset = 0;
  private unflushedMessages = 0;
  private lastFlushMs: number;
  /** A segment file was created since the directory was last fsynced. */
  private dirDirty = false;
  private closed = false;
  private mutations = ++mutationsAll;
  private readonly cleanerCheckpointFile: CheckpointFile;
  private cleanerCheckpointValue: CleanerCheckpoint | undefined;
  /**
   * Bumped whenever a closed segment may change or go (truncation, retention, a swap, close): a
   * cleaning in progress compares it between slices and gives up when it moved.
   */
  private cleanerGenerationValue = 0;
  /**
   * A cleaned segment's swap was committed but could not be finished on disk (a failing disk):
   * the old segments stay in use through their open descriptors, the next open completes the
   * swap, and the cleaner leaves this log alone until then.
   */
  private swapIncompleteValue = false;

  private constructor(dir: string, config: LogConfig, options: LogOptions) {
    this.dir = dir;
    this.config = config;
    this.fs = options.fs ?? nodeFs;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? SILENT;
    this.validator = options.validator ?? null;
    this.epochs = new LeaderEpochCache(path.join(dir, LEADER_EPOCH_CHECKPOINT), this.fs);
    this.cleanerCheckpointFile = new CheckpointFile(path.join(dir, CLEANER_OFFSET_CHECKPOINT), 2, this.fs);
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

  /**
   * Moves on at every call that may change the segments or their ends (appends, truncations,
   * deletions, compaction swaps): while it stays the same, so do the log end and `lastEpoch()`.
   * A replica fetcher compares it instead of reading those from every log it follows each round.
   */
  get version(): number {
    return this.mutations;
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

  get currentConfig(): LogConfig {
    return this.config;
  }

  get isClosed(): boolean {
    return this.closed;
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
   *
   * A batch of OVERLAP_MIN_BYTES or more is checked on the validator thread while it is written
   * (appendOverlapped); a small one is checked inline, where a handoff would cost more than it saves.
   */
  appendAsLeader(batch: Buffer, leaderEpoch: number): { baseOffset: number; lastOffset: number } {
    this.mutations = ++mutationsAll;
    this.assertOpen();
    assert(Number.isSafeInteger(leaderEpoch) && leaderEpoch >= 0, `leader epoch ${leaderEpoch} must be a non-negative integer`);
    const keysRequired = this.config.compact;
    // Only in the steady state: an epoch's first batch is checkpointed before it is written, and
    // a lower epoch is refused, both after the batch was found valid.
    if (batch.length >= OVERLAP_MIN_BYTES && leaderEpoch === this.epochs.latestEpoch && this.validator?.begin(batch, keysRequired)) {
      return this.appendOverlapped(batch, leaderEpoch);
    }
    const header = validateBatch(batch, { keysRequired });
    checkLeaderBatch(header);
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
   * appendAsLeader with the check begun on the validator thread: the batch is written past the
   * segment's recorded end while the thread checks a copy, and only recorded once the verdict
   * is in. A refused batch is cut off the file again; until then nothing reads past the recorded
   * end, and if the process dies in between, recovery checks the log's last batch in full.
   * The errors are those of the inline path, in the same order: the check's first.
   */
  private appendOverlapped(batch: Buffer, leaderEpoch: number): { baseOffset: number; lastOffset: number } {
    const validator = this.validator!;
    const size = batch.length;
    const baseOffset = this.logEndOffset;
    const nowMs = this.clock();
    let verdictIn = false;
    const takeVerdict = (): void => {
      verdictIn = true;
      validator.end();
    };
    let header: BatchHeader;
    let segment: Segment;
    try {
      header = readBatchHeader(batch);
      // A roll is not undone, so it waits for the verdict (once a segment).
      if (this.shouldRoll(this.active, 0, size, baseOffset + header.lastOffsetDelta, nowMs)) {
        takeVerdict();
        checkLeaderBatch(header);
        this.roll();
      }
      segment = this.active;
      stampBatch(batch, baseOffset, leaderEpoch);
      segment.write(batch, 0, size);
      if (!verdictIn) {
        try {
          takeVerdict();
          checkLeaderBatch(header);
        } catch (err) {
          segment.discardUnrecordedTail();
          throw err;
        }
      }
    } catch (err) {
      if (!verdictIn) takeVerdict(); // throws the check's refusal, which comes first
      throw err;
    }
    const lastOffset = baseOffset + header.lastOffsetDelta;
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
    this.mutations = ++mutationsAll;
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
    this.mutations = ++mutationsAll;
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
    this.mutations = ++mutationsAll;
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

  /**
   * First offset whose record timestamp is >= `timestampMs` (Kafka ListOffsets), or null. A batch
   * whose maxTimestamp qualifies may hold no such record any more (the cleaner removed it, or
   * kept only an empty header): the search goes on to the next batch.
   */
  offsetForTimestamp(timestampMs: number): number | null {
    this.assertOpen();
    for (const segment of this.segments) {
      if (segment.maxTimestamp < timestampMs) continue;
      let offset: number | undefined;
      segment.scanHeaders(segment.timestampLookupStart(timestampMs, this.config.indexIntervalBytes), (b) => {
        if (b.maxTimestamp < timestampMs) return true;
        const buf = segment.readAt(b.position, b.size);
        forEachRecord(buf, checkBatchCrc(buf), (r) => {
          if (offset === undefined && r.timestamp >= timestampMs) offset = r.offset;
        });
        return offset === undefined;
      });
      if (offset !== undefined) return Math.max(offset, this.logStartOffset);
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
    this.mutations = ++mutationsAll;
    this.assertOpen();
    if (offset >= this.logEndOffset) return;
    if (offset < this.logStartOffset) {
      this.truncateFullyAndStartAt(offset);
      return;
    }
    const before = this.logEndOffset;
    this.cleanerGenerationValue++;
    // Newest first, so a failure part-way still leaves a contiguous log.
    while (this.segments.length > 1 && this.active.baseOffset > offset) {
      this.active.delete();
      this.segments.pop();
    }
    this.active.truncateTo(offset, this.config.indexIntervalBytes);
    this.recoveryPointOffset = Math.min(this.recoveryPointOffset, this.logEndOffset);
    this.epochs.truncateFromEnd(this.logEndOffset);
    // Kafka's LogCleanerManager.maybeTruncateCheckpoint: what comes after the cut is new data,
    // not yet deduplicated.
    const cp = this.cleanerCheckpointValue;
    if (cp !== undefined && cp.firstDirtyOffset > this.logEndOffset) {
      this.writeCleanerCheckpoint({ firstDirtyOffset: this.logEndOffset, rewrittenToOffset: cp.rewrittenToOffset });
    }
    this.logger.info({ dir: this.dir, offset, before, logEndOffset: this.logEndOffset }, 'truncated log');
  }

  /** Empties the log and restarts it at `offset` (a follower too far behind the leader's log start). */
  truncateFullyAndStartAt(offset: number): void {
    this.mutations = ++mutationsAll;
    this.assertOpen();
    assert(Number.isSafeInteger(offset) && offset >= 0, `offset ${offset} must be a non-negative integer`);
    this.cleanerGenerationValue++;
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
    if (this.cleanerCheckpointValue !== undefined) this.writeCleanerCheckpoint({ firstDirtyOffset: offset, rewrittenToOffset: offset });
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
    this.mutations = ++mutationsAll;
    this.assertOpen();
    assert(
      Number.isSafeInteger(highWatermark) && highWatermark >= 0 && highWatermark <= this.logEndOffset,
      `high watermark ${highWatermark} outside [0, ${this.logEndOffset}] of ${this.dir}`,
    );
    let deleted = 0;
    // cleanup.policy=compact alone: the cleaner decides what goes, never age or size (Kafka's
    // UnifiedLog.deleteOldSegments applies retention only with `delete`).
    if (!this.config.delete) return 0;
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

  /**
   * Deletes the closed segments that lie wholly below `offset` (the next segment starts at or
   * below it) and moves the log start offset up to the first segment kept; never the active
   * segment, never a record at or above `offset`. For logs whose prefix is covered by something
   * else (the controller's metadata log below its snapshot). Returns how many segments went.
   */
  deleteSegmentsBelow(offset: number): number {
    this.mutations = ++mutationsAll;
    this.assertOpen();
    assert(Number.isSafeInteger(offset) && offset >= 0 && offset <= this.logEndOffset, `offset ${offset} outside [0, ${this.logEndOffset}] of ${this.dir}`);
    let deleted = 0;
    while (this.segments.length > 1 && this.segments[1]!.baseOffset <= offset) {
      this.deleteOldest();
      deleted++;
    }
    return deleted;
  }

  private deleteOldest(): void {
    this.mutations = ++mutationsAll;
    this.cleanerGenerationValue++;
    const segment = this.segments[0]!;
    segment.delete();
    this.segments.shift();
    this.recoveryPointOffset = Math.max(this.recoveryPointOffset, this.logStartOffset);
    this.logger.info({ dir: this.dir, baseOffset: segment.baseOffset, logStartOffset: this.logStartOffset }, 'deleted segment');
    this.epochs.truncateFromStart(this.logStartOffset);
  }

  // ---------------------------------------------------------------- compaction (cleaner.ts drives it)

  /** The cleaner's progress on this log; undefined when it never cleaned it. */
  get cleanerCheckpoint(): CleanerCheckpoint | undefined {
    return this.cleanerCheckpointValue;
  }

  /** See cleanerGenerationValue: a cleaning gives up when this moved under it. */
  get cleanerGeneration(): number {
    return this.cleanerGenerationValue;
  }

  /** A committed swap could not be finished on disk; the next open finishes it. */
  get swapIncomplete(): boolean {
    return this.swapIncompleteValue;
  }

  /** What the cleaning decisions (compaction.ts) need, with the partition's high watermark. */
  compactionView(highWatermark: number): CompactionView {
    this.assertOpen();
    return {
      logStartOffset: this.logStartOffset,
      logEndOffset: this.logEndOffset,
      highWatermark,
      closed: this.segments.slice(0, -1).map(segmentFacts),
      activeBaseOffset: this.active.baseOffset,
      firstDirtyCheckpoint: this.cleanerCheckpointValue?.firstDirtyOffset,
      config: {
        minCleanableDirtyRatio: this.config.minCleanableDirtyRatio,
        minCompactionLagMs: this.config.minCompactionLagMs,
        maxCompactionLagMs: this.config.maxCompactionLagMs,
      },
    };
  }

  /** The closed segments, oldest first, as handles a cleaning passes back to replaceSegments. */
  closedSegments(): readonly Segment[] {
    this.assertOpen();
    return this.segments.slice(0, -1);
  }

  /** The broker's clock at the last append to the segment holding `offset` (-1 when none does). */
  lastAppendMsAt(offset: number): number {
    const segment = this.segments[this.segmentIndexFor(offset)]!;
    return offset >= segment.baseOffset && offset < segment.nextOffset ? segment.lastAppendMs : -1;
  }

  /** Resets the first dirty offset (Kafka's forceUpdateCheckpoint), durably. */
  resetFirstDirtyOffset(offset: number): void {
    this.assertOpen();
    this.writeCleanerCheckpoint({ firstDirtyOffset: offset, rewrittenToOffset: Math.max(offset, this.cleanerCheckpointValue?.rewrittenToOffset ?? offset) });
  }

  /**
   * Swaps a cleaned segment in for `old` (consecutive closed segments), crash-safely, Kafka's way
   * (UnifiedLog.replaceSegments and the LogLoader's recovery):
   *
   *   0. the cleaner wrote and fsynced `<base>.log.cleaned` and `<base>.index.cleaned`, base =
   *      old[0]'s base offset; they cover exactly old's offsets (cleaner.ts keeps every offset
   *      inside a batch);
   *   1. the cleaner checkpoint is raised to `checkpoint`, durably, before the commit: once
   *      committed the new segment may already be read, and a crash before the commit leaves a
   *      `.cleaned` file, which makes the next open reset the checkpoint (loadCleanerCheckpoint);
   *   2. `.index.cleaned` -> `.index.swap`, then `.log.cleaned` -> `.log.swap`: the commit. From
   *      here on the next open completes the swap (recoverCleanerFiles);
   *   3. the old segments' files are deleted, newest first, and the old first index, then
   *      `.index.swap` and `.log.swap` take their final names (the log's rename replaces the old
   *      first segment's file at once), and the directory is fsynced;
   *   4. in memory, the new segment replaces the old ones.
   *
   * A crash anywhere leaves the old segments or the new one after the next open, never a mix. A
   * failure before the commit puts the checkpoint back, deletes the cleaned files and throws; one
   * after it throws with the old segments still serving from their open descriptors
   * (swapIncomplete) until the next open finishes the swap.
   */
  replaceSegments(old: readonly Segment[], checkpoint: CleanerCheckpoint): void {
    this.mutations = ++mutationsAll;
    this.assertOpen();
    assert(!this.swapIncompleteValue, `${this.dir}: a swap is still incomplete`);
    const first = this.segments.indexOf(old[0]!);
    assert(
      old.length > 0 && first >= 0 && first + old.length < this.segments.length && old.every((seg, i) => this.segments[first + i] === seg),
      `${this.dir}: the segments to replace are not consecutive closed segments of the log`,
    );
    const base = old[0]!.baseOffset;
    const end = old.at(-1)!.nextOffset;
    const file = (suffix: string) => path.join(this.dir, segmentFileName(base, suffix));
    const cleanedLog = file(SEGMENT_LOG_SUFFIX + CLEANED_FILE_SUFFIX);
    const cleanedIndex = file(SEGMENT_INDEX_SUFFIX + CLEANED_FILE_SUFFIX);
    const swapLog = file(SEGMENT_LOG_SUFFIX + SWAP_FILE_SUFFIX);
    const swapIndex = file(SEGMENT_INDEX_SUFFIX + SWAP_FILE_SUFFIX);
    const before = this.cleanerCheckpointValue;

    // 1 and 2: nothing is committed until the log's rename is done.
    let committed = false;
    try {
      this.writeCleanerCheckpoint(checkpoint);
      this.fs.renameSync(cleanedIndex, swapIndex);
      this.fs.renameSync(cleanedLog, swapLog);
      committed = true;
      fsyncDir(this.fs, this.dir);
    } catch (err) {
      if (!committed) {
        this.abandonCleaned(before, [cleanedLog, cleanedIndex, swapIndex]);
        throw storageError(`committing the cleaned segment ${base} in ${this.dir}`, err);
      }
      // The rename happened but may not be durable: a crash brings back the .cleaned file (the
      // old segments stay) or keeps the .swap (recovery completes it). Either is whole; go on.
      this.logger.warn({ dir: this.dir, baseOffset: base, err }, 'fsync after committing a cleaned segment failed');
    }
    this.cleanerGenerationValue++;

    // 3: the old descriptors stay open until the new segment is in place, so a failure here
    // leaves the log readable as it was.
    try {
      for (const seg of [...old].reverse()) {
        if (seg !== old[0]) this.unlinkIfExists(seg.logPath);
        this.unlinkIfExists(seg.index.path);
      }
      this.fs.renameSync(swapIndex, file(SEGMENT_INDEX_SUFFIX));
      this.fs.renameSync(swapLog, file(SEGMENT_LOG_SUFFIX));
      fsyncDir(this.fs, this.dir);
    } catch (err) {
      this.swapIncompleteValue = true;
      throw storageError(`finishing the swap of cleaned segment ${base} in ${this.dir} (the next open completes it)`, err);
    }

    // 4.
    let segment: Segment;
    try {
      segment = Segment.openExisting(this.dir, base, this.fs);
    } catch (err) {
      this.swapIncompleteValue = true;
      throw storageError(`opening the cleaned segment ${base} in ${this.dir} (the next open loads it)`, err);
    }
    if (
      !segment.loadTrusted(this.config.indexIntervalBytes, () =>
        this.logger.warn({ dir: this.dir, baseOffset: base }, 'rebuilding the index of a cleaned segment'),
      )
    ) {
      segment.recover(base, this.config.indexIntervalBytes, () => undefined);
    }
    // Assert in pairs (STYLE.md): the cleaner promised the same offsets, the file must hold them.
    assert(
      segment.baseOffset === base && segment.nextOffset === end && !segment.isEmpty,
      `${this.dir}: cleaned segment ${base} ends at ${segment.nextOffset}, the segments it replaces at ${end}`,
    );
    // Kafka keeps the last modified time of the replaced segments: retention and the compaction
    // lags count from the appends, not from the cleaning.
    segment.lastAppendMs = Math.max(...old.map((seg) => seg.lastAppendMs));
    segment.rollBaseMs = old[0]!.rollBaseMs;
    for (const seg of old) {
      try {
        seg.close();
      } catch {
        // Its file is gone already; only the descriptor was left.
      }
    }
    this.segments.splice(first, old.length, segment);
  }

  /**
   * A cleaning that did not commit: the checkpoint goes back to what it was and the cleaned files
   * go. If the checkpoint cannot be put back, the `.cleaned` file stays, so the next open resets
   * the checkpoint (a raised checkpoint over segments that were not cleaned would keep duplicates).
   */
  abandonCleaned(before: CleanerCheckpoint | undefined, files: readonly string[]): void {
    if (this.cleanerCheckpointValue !== before) {
      try {
        if (before !== undefined) this.writeCleanerCheckpoint(before);
        else {
          this.unlinkIfExists(this.cleanerCheckpointFile.path);
          this.cleanerCheckpointValue = undefined;
        }
      } catch (err) {
        this.logger.warn({ dir: this.dir, err }, 'could not put the cleaner checkpoint back; the cleaned file stays for the next open to see');
        return;
      }
    }
    for (const f of files) {
      try {
        this.unlinkIfExists(f);
      } catch (err) {
        this.logger.warn({ dir: this.dir, file: f, err }, 'could not delete a cleaned file; the next open deletes it');
      }
    }
  }

  private unlinkIfExists(file: string): void {
    if (this.fs.existsSync(file)) this.fs.unlinkSync(file);
  }

  /**
   * Writes the cleaner checkpoint durably and then holds it in memory. When the write fails the
   * file is removed (a missing file means everything is dirty, which is safe), and the failure is
   * thrown if even that fails.
   */
  private writeCleanerCheckpoint(value: CleanerCheckpoint): void {
    try {
      this.cleanerCheckpointFile.writeLines([[String(value.firstDirtyOffset), String(value.rewrittenToOffset)]]);
      this.cleanerCheckpointValue = value;
    } catch (err) {
      this.cleanerCheckpointValue = undefined;
      try {
        this.unlinkIfExists(this.cleanerCheckpointFile.path);
      } catch {
        throw err;
      }
      throw err;
    }
  }

  // ---------------------------------------------------------------- flush, close

  /**
   * A leader writes a big batch while the validator thread checks it and cuts it off again when
   * the check fails (appendOverlapped). A crash in between leaves that batch at the log's end,
   * past the recovery point, with a good CRC: so recovery gives the unflushed last batch the
   * leader's full check, and cuts it if it fails. (Not the compacted-topic key check: a topic's
   * cleanup policy may have changed since its batches were taken.)
   */
  private checkUnflushedLastBatch(recoveryPoint: number): void {
    const segment = this.active;
    if (segment.isEmpty || segment.nextOffset <= recoveryPoint) return;
    const last = segment.findBatch(segment.nextOffset - 1, this.config.indexIntervalBytes);
    if (last === undefined || last.size < OVERLAP_MIN_BYTES || last.lastOffset < recoveryPoint) return;
    try {
      validateBatch(segment.readAt(last.position, last.size));
    } catch (err) {
      if (!(err instanceof TributaryError) || err.code === 'KAFKA_STORAGE_ERROR') throw err;
      this.logger.warn({ dir: this.dir, baseOffset: last.baseOffset, reason: err.message }, "recovery cut the last batch: it fails the leader's check");
      segment.truncateTo(last.baseOffset, this.config.indexIntervalBytes);
    }
  }

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

  /**
   * Kafka's flush of rolled segments: fsyncs, on libuv's thread pool, every closed segment past
   * the recovery point (and the directory, which holds their files), then moves the recovery
   * point up to the active segment's base offset. So after a kill -9 only the active segment is
   * scanned at the next start, not everything written since the last clean shutdown. The log's
   * own appends are not fsynced (durability comes from replication); a rolled segment no longer
   * changes, so syncing it costs the event loop nothing. A truncation, deletion, cleaner swap or
   * close meanwhile leaves the recovery point where it was (the next call tries again).
   */
  async flushRolledSegmentsInBackground(): Promise<void> {
    if (this.closed) return;
    const target = this.active.baseOffset;
    if (target <= this.recoveryPointOffset) return;
    const generation = this.cleanerGenerationValue;
    const rolled = this.segments.slice(this.segmentIndexFor(this.recoveryPointOffset), this.segments.length - 1);
    try {
      for (const segment of rolled) await segment.flushInBackground();
      const fd = await this.fs.open(this.dir, 'r');
      try {
        await this.fs.fsync(fd);
      } finally {
        await this.fs.close(fd);
      }
    } catch (err) {
      if (!this.closed && this.cleanerGenerationValue === generation) this.logger.warn({ dir: this.dir, err }, 'background flush of rolled segments failed');
      return;
    }
    if (this.closed || this.cleanerGenerationValue !== generation) return;
    // Epochs below the new recovery point must be durable too (as in flush()).
    this.epochs.flush();
    this.recoveryPointOffset = Math.max(this.recoveryPointOffset, target);
  }

  /** Closes the files without flushing (durability comes from flush() or replication). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cleanerGenerationValue++;
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
    this.cleanerGenerationValue++;
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
    let swapped: Set<number>;
    let cleaningInterrupted: boolean;
    try {
      fs.mkdirSync(this.dir);
      ({ swapped, cleaningInterrupted } = this.recoverCleanerFiles(fs.readdirSync(this.dir)));
      names = fs.readdirSync(this.dir);
    } catch (err) {
      throw err instanceof TributaryError ? err : storageError(`opening log dir ${this.dir}`, err);
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
      // A segment swapped in by recovery is scanned whole: its bytes were fsynced before the
      // swap was committed, but this is the first time this process reads them.
      const trusted = nextBase !== undefined && nextBase <= recoveryPoint && !swapped.has(base);
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

    this.checkUnflushedLastBatch(recoveryPoint);

    const leo = this.logEndOffset;
    if (!cacheTrusted || (this.epochs.latestEpoch < 0 && leo > this.logStartOffset)) this.rebuildEpochCache();
    this.epochs.truncateFromEnd(leo);
    this.epochs.truncateFromStart(this.logStartOffset);
    this.recoveryPointOffset = Math.min(Math.max(recoveryPoint, this.logStartOffset), leo);
    this.loadCleanerCheckpoint(cleaningInterrupted);
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

  /**
   * Finishes or undoes what a cleaning left behind (Kafka's LogLoader): `.cleaned` files were
   * never committed and are deleted; a `<base>.log.swap` was committed (its bytes fsynced before
   * the rename that made it), so the swap is completed: the old segments it replaces, those
   * starting inside its offset range, are deleted and it takes its final name. An `.index.swap`
   * without its log is from a swap not yet committed and goes (indexes are rebuilt when missing).
   * Returns the base offsets swapped in, and whether a cleaning was cut short (its checkpoint may
   * have been raised before its commit, see replaceSegments).
   */
  private recoverCleanerFiles(names: readonly string[]): { swapped: Set<number>; cleaningInterrupted: boolean } {
    const fs = this.fs;
    const file = (name: string) => path.join(this.dir, name);
    let cleaningInterrupted = false;
    for (const name of names) {
      if (!name.endsWith(CLEANED_FILE_SUFFIX)) continue;
      fs.unlinkSync(file(name));
      cleaningInterrupted = true;
      this.logger.warn({ dir: this.dir, file: name }, 'recovery deleted an uncommitted cleaned segment');
    }
    const swapped = new Set<number>();
    const logBases = names.map((n) => parseSegmentFileName(n, SEGMENT_LOG_SUFFIX)).filter((b): b is number => b !== undefined);
    const swaps = names
      .map((n) =>
        n.endsWith(SEGMENT_LOG_SUFFIX + SWAP_FILE_SUFFIX) ? parseSegmentFileName(n.slice(0, -SWAP_FILE_SUFFIX.length), SEGMENT_LOG_SUFFIX) : undefined,
      )
      .filter((b): b is number => b !== undefined)
      .sort((a, b) => a - b);
    for (const base of swaps) {
      const swapPath = file(segmentFileName(base, SEGMENT_LOG_SUFFIX) + SWAP_FILE_SUFFIX);
      const end = this.swapFileEnd(swapPath, base);
      const replaced = logBases.filter((b) => b > base && b < end);
      for (const b of replaced) {
        for (const suffix of [SEGMENT_LOG_SUFFIX, SEGMENT_INDEX_SUFFIX]) {
          if (fs.existsSync(file(segmentFileName(b, suffix)))) fs.unlinkSync(file(segmentFileName(b, suffix)));
        }
      }
      const indexPath = file(segmentFileName(base, SEGMENT_INDEX_SUFFIX));
      if (fs.existsSync(indexPath)) fs.unlinkSync(indexPath);
      const indexSwap = indexPath + SWAP_FILE_SUFFIX;
      if (fs.existsSync(indexSwap)) fs.renameSync(indexSwap, indexPath);
      fs.renameSync(swapPath, file(segmentFileName(base, SEGMENT_LOG_SUFFIX)));
      fsyncDir(fs, this.dir);
      swapped.add(base);
      this.logger.warn({ dir: this.dir, baseOffset: base, endOffset: end, replaced }, 'recovery completed a cleaned segment swap');
    }
    for (const name of fs.readdirSync(this.dir)) {
      if (name.endsWith(SEGMENT_INDEX_SUFFIX + SWAP_FILE_SUFFIX)) fs.unlinkSync(file(name));
    }
    return { swapped, cleaningInterrupted };
  }

  /**
   * Where the batches of a swap file end: lastOffset + 1 of its last whole batch, by a walk of
   * the headers in 1 MiB reads (the swapped-in segment is then scanned whole, CRCs included, by
   * the usual recovery, which cuts it at anything wrong).
   */
  private swapFileEnd(swapPath: string, base: number): number {
    const fd = this.fs.openSync(swapPath, 'r');
    try {
      const size = this.fs.fstatSync(fd).size;
      const chunk = Buffer.allocUnsafe(1024 * 1024);
      let end = base;
      let pos = 0;
      while (size - pos >= BATCH_HEADER_SIZE) {
        const n = readFully(this.fs, fd, chunk, pos, 0, Math.min(chunk.length, size - pos));
        let at = 0;
        while (n - at >= BATCH_HEADER_SIZE) {
          const batchSize = chunk.readInt32BE(at + 8) + LOG_OVERHEAD;
          if (batchSize < BATCH_HEADER_SIZE || pos + at + batchSize > size) return end;
          end = Number(chunk.readBigInt64BE(at)) + chunk.readInt32BE(at + 23) + 1;
          at += batchSize;
        }
        if (at === 0) return end;
        pos += at;
      }
      return end;
    } finally {
      this.fs.closeSync(fd);
    }
  }

  private loadCleanerCheckpoint(cleaningInterrupted: boolean): void {
    let value: CleanerCheckpoint | undefined;
    try {
      const lines = this.cleanerCheckpointFile.readLines();
      const [first, rewritten] = (lines[0] ?? []).map(Number);
      if (lines.length === 1 && Number.isSafeInteger(first) && Number.isSafeInteger(rewritten))
        value = { firstDirtyOffset: first!, rewrittenToOffset: rewritten! };
      else if (lines.length > 0) throw new Error(`expected one entry of two offsets, got ${JSON.stringify(lines)}`);
    } catch (err) {
      // Unknown progress: everything is dirty (slower, never wrong) and may have been rewritten.
      this.logger.warn({ dir: this.dir, err }, 'cleaner offset checkpoint unreadable; the whole log counts as dirty');
      value = { firstDirtyOffset: this.logStartOffset, rewrittenToOffset: this.logEndOffset };
    }
    if (value !== undefined && (cleaningInterrupted || value.firstDirtyOffset > this.logEndOffset)) {
      // A cleaning that raised the checkpoint before its commit and did not commit (replaceSegments),
      // or a tail cut by recovery: what the checkpoint covers may not be deduplicated.
      value = { firstDirtyOffset: this.logStartOffset, rewrittenToOffset: Math.max(value.rewrittenToOffset, value.firstDirtyOffset) };
      this.cleanerCheckpointValue = value;
      this.writeCleanerCheckpoint(value);
      return;
    }
    this.cleanerCheckpointValue = value;
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

function segmentFacts(s: Segment): SegmentFacts {
  return { baseOffset: s.baseOffset, nextOffset: s.nextOffset, sizeBytes: s.size, rollBaseMs: s.rollBaseMs, lastAppendMs: s.lastAppendMs };
}
