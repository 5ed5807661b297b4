// One cleaning of one log (Kafka's Cleaner.doClean), done in slices so that the broker's event
// loop keeps serving between them: `step(budgetBytes)` does a bounded amount of work and returns.
// What to keep is decided in compaction.ts; this file reads, writes and swaps.
//
//   scan     reads the log from its start to its end as it was when the cleaning began: the
//            dirty part [firstDirtyOffset, firstUncleanableOffset) fills the offset map (key ->
//            latest offset, offset-map.ts) until it is full or the part ends (endOffset), and
//            every batch header tells each producer's last batch (kept for idempotence, see
//            below).
//   rewrite  the closed segments below endOffset, in groups (groupSegments), each rewritten into
//            `<base>.log.cleaned` + `.index.cleaned` keeping, below endOffset, the latest record
//            of each key and tombstones until their delete horizon (recordRetained); batches at
//            or above endOffset are copied as they are. Each finished group is fsynced (on the
//            thread pool: `step` answers 'waiting' with a promise) and swapped in by
//            Log.replaceSegments, which also raises the cleaner checkpoint.
//
// What a rewritten batch keeps (Kafka's MemoryRecords.filterTo): baseOffset, lastOffsetDelta,
// partitionLeaderEpoch (the leader-epoch cache and followers' divergence checks still hold),
// producer id, epoch and base sequence; a batch left without records is still written, as a bare
// header, when it is one of the last batches of a producer that has not expired
// (producer.id.expiration.ms, counted from its segment's last append): a new leader rebuilds
// producer state from batch headers alone and must still see the sequences a producer may retry,
// or it would append a retried batch again, or refuse it. Kafka's Cleaner keeps each producer's
// last batch, its producer-state snapshots holding the rest; with no snapshots here, the cleaner
// keeps as many as the leader remembers (producerBatchesRetained, 5), so the state rebuilt from a
// cleaned log is the state rebuilt from the log before cleaning.
//
// One thing Kafka does not: no offset is left between batches. Kafka drops a batch whose records
// all go and leaves a gap in the batch sequence; here the previous batch written (if it belongs
// to no producer and has the same leader epoch) is stretched over the dropped offsets (its
// lastOffsetDelta grows, Kafka's overrideLastOffset), or a bare placeholder header with no
// producer and the dropped batch's epoch takes them. A batch never spans two leader epochs, so
// the epoch of a batch is the epoch of every offset it covers, as followers' divergence checks
// (KIP-101) assume, and each epoch still starts at a batch's base. Batches stay
// dense, so every check this log makes on offsets stays as strict as before compaction existed
// (recovery cuts a non-contiguous baseOffset, a follower refuses one, a read finds the batch of
// any offset below the end); offsets jump only between the records inside a batch, which
// consumers and followers already read by each record's own offset.

import * as path from 'node:path';
import {
  assert,
  checkBatchCrc,
  deleteHorizonOf,
  forEachRecordSpan,
  LOG_OVERHEAD,
  readBatchHeader,
  rebuildBatch,
  setLastOffsetDelta,
  uncompressedView,
  batchCompression,
  type BatchHeader,
  type KeptRecord,
} from '@tributary/protocol';
import { batchOutcome, groupSegments, recordRetained, type RetentionContext } from './compaction.ts';
import { storageError, writeFully, type StorageFs, nodeFs } from './fs.ts';
import { CLEANED_FILE_SUFFIX, type CleanerCheckpoint, type Log, type StorageLogger } from './log.ts';
import { OffsetMap } from './offset-map.ts';
import { SEGMENT_INDEX_SUFFIX, SEGMENT_LOG_SUFFIX, segmentFileName, type Segment } from './segment.ts';
import { INT32_MAX, SegmentIndex } from './segment-index.ts';

export interface CleanerOptions {
  /** The broker's clock when the cleaning began: delete horizons and producer expiry count from it. */
  nowMs: number;
  /** From cleanableOffsets. */
  firstDirtyOffset: number;
  firstUncleanableOffset: number;
  /** log.cleaner.dedupe.buffer.size: the offset map's bound. */
  dedupeBufferBytes: number;
  /** producer.id.expiration.ms: a producer silent this long needs no header kept. */
  producerIdExpirationMs: number;
  /**
   * How many of each live producer's last batches stay, as bare headers when their records go:
   * as many as the leader remembers per producer (the broker's PRODUCER_BATCHES_MAX, Kafka's 5
   * in-flight requests). Default 5.
   */
  producerBatchesRetained?: number;
  /** Bytes per read (Kafka's log.cleaner.io.buffer.size); default 512 KiB. */
  ioBufferBytes?: number;
  /** Largest group of segments rewritten into one; default segment.bytes, at most 1 GiB. */
  maxGroupBytes?: number;
  fs?: StorageFs;
  logger?: StorageLogger;
}

export interface CleanerStats {
  /** Bytes read: the scan, then the segments rewritten. */
  bytesRead: number;
  /** Bytes of the segments rewritten, before and after. */
  bytesBefore: number;
  bytesAfter: number;
  /** Records looked at below endOffset, and those removed. */
  recordsRead: number;
  recordsRemoved: number;
  /** Segments replaced, and the cleaned segments that replaced them. */
  segmentsReplaced: number;
  groupsSwapped: number;
  /** The offset map's fill (Kafka's buffer utilization). */
  bufferUtilization: number;
}

export type CleanerState = 'running' | 'waiting' | 'done' | 'aborted';

const SILENT: StorageLogger = { info() {}, warn() {} };
const DEFAULT_IO_BUFFER_BYTES = 512 * 1024;
const GROUP_BYTES_MAX = 1024 * 1024 * 1024;

interface GroupWriter {
  segments: readonly Segment[];
  base: number;
  end: number;
  /** Next offset to read from the old segments. */
  offset: number;
  logPath: string;
  indexPath: string;
  logFd: number;
  index: SegmentIndex;
  position: number;
  sinceIndexEntry: number;
  chunks: Buffer[];
  chunkBytes: number;
  /** The last batch produced, not yet written: it may still be stretched over dropped offsets. */
  pending: Buffer | undefined;
}

export class Cleaner {
  readonly log: Log;
  readonly stats: CleanerStats = {
    bytesRead: 0,
    bytesBefore: 0,
    bytesAfter: 0,
    recordsRead: 0,
    recordsRemoved: 0,
    segmentsReplaced: 0,
    groupsSwapped: 0,
    bufferUtilization: 0,
  };
  private readonly options: CleanerOptions;
  private readonly fs: StorageFs;
  private readonly logger: StorageLogger;
  private readonly ioBytes: number;
  private readonly map: OffsetMap;
  private stateValue: CleanerState = 'running';
  private abortReason: string | undefined;
  private generation: number;
  private phase: 'scan' | 'rewrite' = 'scan';
  private readonly scanEnd: number;
  private scanOffset: number;
  private mapping = true;
  /** End of the offsets the map covers: the cleaning's end once the scan is done. */
  private mappedEnd: number;
  /** Each producer's last few batches (their last offsets), oldest first. */
  private readonly lastBatchesOfProducer = new Map<number, number[]>();
  /** Last offsets of the batches of live producers that stay, even empty. */
  private readonly producerBatches = new Set<number>();
  private groups: (readonly Segment[])[] = [];
  private writer: GroupWriter | undefined;
  private waitingFor: Promise<void> | undefined;
  private syncError: unknown;

  constructor(log: Log, options: CleanerOptions) {
    assert(
      options.firstDirtyOffset <= options.firstUncleanableOffset && options.firstUncleanableOffset <= log.logEndOffset,
      `cleaning range [${options.firstDirtyOffset}, ${options.firstUncleanableOffset}) outside the log ending at ${log.logEndOffset}`,
    );
    this.log = log;
    this.options = options;
    this.fs = options.fs ?? nodeFs;
    this.logger = options.logger ?? SILENT;
    this.ioBytes = options.ioBufferBytes ?? DEFAULT_IO_BUFFER_BYTES;
    this.map = new OffsetMap(options.dedupeBufferBytes);
    this.generation = log.cleanerGeneration;
    this.scanOffset = log.logStartOffset;
    this.scanEnd = log.logEndOffset;
    this.mappedEnd = options.firstDirtyOffset;
  }

  get state(): CleanerState {
    return this.stateValue;
  }

  /** Why the cleaning was given up (state 'aborted'). */
  get abortedBecause(): string | undefined {
    return this.abortReason;
  }

  /** The cleaning's end (exclusive): the new first dirty offset once it is done. */
  get endOffset(): number {
    return this.mappedEnd;
  }

  /** While 'waiting': settles when the cleaning can go on (an fsync on the thread pool). */
  get waiting(): Promise<void> | undefined {
    return this.waitingFor;
  }

  /**
   * Does up to about `budgetBytes` of reading (at least one read of ioBufferBytes) and returns the state. Throws
   * what storage throws (KAFKA_STORAGE_ERROR, CORRUPT_MESSAGE for a batch whose CRC fails): the
   * cleaning is then over, its cleaned files deleted, and the log as it was or with some groups
   * already swapped in (each swap is whole).
   */
  step(budgetBytes: number): CleanerState {
    if (this.stateValue === 'done' || this.stateValue === 'aborted') return this.stateValue;
    if (this.waitingFor !== undefined) return 'waiting';
    if (this.syncError !== undefined) this.fail(this.syncError);
    const why = this.changedUnderUs();
    if (why !== undefined) {
      this.abort(why);
      return this.stateValue;
    }
    try {
      let budget = budgetBytes;
      do {
        budget -= this.phase === 'scan' ? this.scanSome() : this.rewriteSome();
        // Another read only if a whole one still fits: reads stop short of ioBytes at a batch end.
      } while (budget >= this.ioBytes && this.stateValue === 'running' && this.waitingFor === undefined);
    } catch (err) {
      this.fail(err);
    }
    return this.waitingFor !== undefined ? 'waiting' : this.stateValue;
  }

  /** Runs the cleaning to its end (tests and tools; the broker slices it). */
  async run(budgetBytes = 1 << 20): Promise<CleanerState> {
    for (;;) {
      const state = this.step(budgetBytes);
      if (state === 'waiting') await this.waitingFor;
      else if (state !== 'running') return state;
    }
  }

  /** Gives up: deletes the cleaned files not yet committed; the log stays as it is. */
  abort(reason: string): void {
    if (this.stateValue === 'done' || this.stateValue === 'aborted') return;
    this.stateValue = 'aborted';
    this.abortReason = reason;
    this.discardWriter();
    this.logger.info({ dir: this.log.dir, reason }, 'cleaning aborted');
  }

  private fail(err: unknown): never {
    this.stateValue = 'aborted';
    this.abortReason = (err as Error).message;
    this.discardWriter();
    throw err;
  }

  private changedUnderUs(): string | undefined {
    if (this.log.isClosed) return 'the log was closed';
    if (this.log.cleanerGeneration !== this.generation) return 'segments were truncated, deleted or replaced';
    if (!this.log.currentConfig.compact) return 'cleanup.policy no longer contains compact';
    if (this.log.swapIncomplete) return 'a swap is incomplete';
    return undefined;
  }

  // ------------------------------------------------------------------ scan

  /** One read of the scan; returns the bytes read. */
  private scanSome(): number {
    if (this.scanOffset >= this.scanEnd) {
      this.finishScan();
      return 0;
    }
    const buf = this.log.read(this.scanOffset, this.ioBytes, this.scanEnd);
    assert(buf.length > 0, `${this.log.dir}: nothing read at ${this.scanOffset} below ${this.scanEnd}`);
    this.stats.bytesRead += buf.length;
    const { firstDirtyOffset, firstUncleanableOffset } = this.options;
    let pos = 0;
    while (pos < buf.length) {
      const header = readBatchHeader(buf, pos);
      const size = header.batchLength + LOG_OVERHEAD;
      const last = header.baseOffset + header.lastOffsetDelta;
      if (header.producerId >= 0) this.noteProducerBatch(header.producerId, last);
      if (this.mapping && last >= firstDirtyOffset) {
        if (last >= firstUncleanableOffset) this.mapping = false;
        else this.mapBatch(buf.subarray(pos, pos + size), header, last);
      }
      pos += size;
      this.scanOffset = last + 1;
    }
    return buf.length;
  }

  private noteProducerBatch(producerId: number, last: number): void {
    let list = this.lastBatchesOfProducer.get(producerId);
    if (list === undefined) {
      list = [];
      this.lastBatchesOfProducer.set(producerId, list);
    }
    list.push(last);
    if (list.length > (this.options.producerBatchesRetained ?? 5)) list.shift();
  }

  /** Puts one dirty batch's keys in the map, or ends the mapping when they do not fit. */
  private mapBatch(batch: Buffer, header: BatchHeader, last: number): void {
    checkBatchCrc(batch);
    const keys: string[] = [];
    const offsets: number[] = [];
    // A compressed batch's keys are read from its records decompressed.
    const view = uncompressedView(batch, header);
    forEachRecordSpan(view.buf, view.header, (r) => {
      if (r.keyLength < 0) return;
      keys.push(view.buf.toString('latin1', r.keyStart, r.keyStart + r.keyLength));
      offsets.push(r.offset);
    });
    if (!this.map.fits(keys)) {
      this.mapping = false;
      return;
    }
    for (let i = 0; i < keys.length; i++) this.map.put(keys[i]!, offsets[i]!);
    this.mappedEnd = last + 1;
  }

  private finishScan(): void {
    this.stats.bufferUtilization = this.map.utilization;
    // Producers whose last append is older than producer.id.expiration.ms are forgotten by the
    // leader anyway (ProducerStateTable.removeExpired); their last batch need not be kept.
    const horizon = this.options.nowMs - this.options.producerIdExpirationMs;
    for (const batches of this.lastBatchesOfProducer.values()) {
      if (this.log.lastAppendMsAt(batches.at(-1)!) > horizon) for (const last of batches) this.producerBatches.add(last);
    }
    const closed = this.log.closedSegments();
    const config = this.log.currentConfig;
    const maxGroupBytes = Math.min(this.options.maxGroupBytes ?? config.segmentBytes, GROUP_BYTES_MAX);
    const facts = closed.map((s) => ({
      baseOffset: s.baseOffset,
      nextOffset: s.nextOffset,
      sizeBytes: s.size,
      rollBaseMs: s.rollBaseMs,
      lastAppendMs: s.lastAppendMs,
    }));
    this.groups = groupSegments(facts, maxGroupBytes, this.mappedEnd).map((g) => closed.slice(g.from, g.to));
    this.phase = 'rewrite';
    this.logger.info(
      {
        dir: this.log.dir,
        firstDirtyOffset: this.options.firstDirtyOffset,
        endOffset: this.mappedEnd,
        keys: this.map.size,
        groups: this.groups.length,
        producerBatchesKept: this.producerBatches.size,
      },
      'cleaning log',
    );
    if (this.groups.length === 0) this.finish();
  }

  // ------------------------------------------------------------------ rewrite

  /** One read of the group being rewritten (opening or finishing it as needed); returns the bytes read. */
  private rewriteSome(): number {
    this.writer ??= this.openWriter(this.groups[0]!);
    const w = this.writer;
    if (w.offset >= w.end) {
      this.finishGroup(w);
      return 0;
    }
    const buf = this.log.read(w.offset, this.ioBytes, w.end);
    assert(buf.length > 0, `${this.log.dir}: nothing read at ${w.offset} below ${w.end}`);
    this.stats.bytesRead += buf.length;
    this.stats.bytesBefore += buf.length;
    let pos = 0;
    while (pos < buf.length) {
      const header = checkBatchCrc(buf, pos);
      const size = header.batchLength + LOG_OVERHEAD;
      assert(header.baseOffset === w.offset, `${this.log.dir}: batch at ${header.baseOffset} where ${w.offset} was expected`);
      this.cleanBatch(w, buf.subarray(pos, pos + size), header);
      w.offset = header.baseOffset + header.lastOffsetDelta + 1;
      pos += size;
    }
    return buf.length;
  }

  private cleanBatch(w: GroupWriter, batch: Buffer, header: BatchHeader): void {
    const last = header.baseOffset + header.lastOffsetDelta;
    if (header.baseOffset >= this.mappedEnd) {
      this.emit(w, batch);
      return;
    }
    const ctx: RetentionContext = {
      endOffset: this.mappedEnd,
      latestOffsetOf: (key) => this.map.get(key),
      deleteHorizonMs: deleteHorizonOf(header),
      nowMs: this.options.nowMs,
    };
    const kept: KeptRecord[] = [];
    let tombstoneKept = false;
    // A compressed batch is read decompressed and, when records go, rewritten in its own codec
    // (Kafka's cleaner does the same); one that keeps every record is copied as it is.
    const compression = batchCompression(header);
    const view = uncompressedView(batch, header);
    forEachRecordSpan(view.buf, view.header, (r) => {
      const key = r.keyLength < 0 ? null : view.buf.toString('latin1', r.keyStart, r.keyStart + r.keyLength);
      const tombstone = r.valueLength < 0;
      if (!recordRetained({ offset: r.offset, key, tombstone }, ctx)) return;
      kept.push({ offset: r.offset, timestamp: r.timestamp, start: r.start, end: r.end, attributesAt: r.attributesAt, keyLengthAt: r.keyLengthAt });
      if (tombstone) tombstoneKept = true;
    });
    this.stats.recordsRead += header.recordCount;
    this.stats.recordsRemoved += header.recordCount - kept.length;
    // KIP-534: a tombstone the cleaner keeps for the first time gets its batch's delete horizon,
    // delete.retention.ms from now; a later cleaning past it drops the tombstone.
    const needsHorizon = tombstoneKept && ctx.deleteHorizonMs === undefined;
    const producerBatch = header.producerId >= 0 && this.producerBatches.has(last);
    switch (batchOutcome(header.recordCount, kept.length, needsHorizon, producerBatch)) {
      case 'keep':
        this.emit(w, batch);
        break;
      case 'rewrite':
        this.emit(
          w,
          rebuildBatch(view.buf, view.header, kept, {
            compression,
            ...(needsHorizon ? { deleteHorizonMs: this.options.nowMs + this.log.currentConfig.deleteRetentionMs } : {}),
          }),
        );
        break;
      case 'empty':
        this.emit(w, rebuildBatch(view.buf, view.header, []));
        break;
      case 'drop':
        this.absorb(w, view.buf, view.header, last);
        break;
    }
  }

  /**
   * The offsets of a dropped batch go to the previous batch written when it belongs to no
   * producer and has the same leader epoch (its lastOffsetDelta grows), else to a placeholder: an
   * empty batch with no producer, the dropped batch's base offset and epoch, which later dropped
   * batches of that epoch can stretch in turn. A batch never spans two leader epochs: a
   * follower's last fetched epoch is its last batch's, and the leader checks the follower's log
   * end against that epoch's end (KIP-101); and every epoch's start offset stays a batch's base,
   * where the leader-epoch cache says it is.
   */
  private absorb(w: GroupWriter, batch: Buffer, header: BatchHeader, last: number): void {
    const prev = w.pending;
    if (prev !== undefined && prev.readBigInt64BE(43) === -1n && (prev.readInt16BE(21) & 0x30) === 0 && prev.readInt32BE(12) === header.partitionLeaderEpoch) {
      const prevBase = Number(prev.readBigInt64BE(0));
      setLastOffsetDelta(prev, last - prevBase);
      return;
    }
    this.emit(w, rebuildBatch(batch, header, [], { clearProducer: true }));
  }

  /**
   * Queues a batch for the cleaned segment; the one queued before it is written now. The batch
   * may be a view of a buffer Log.read allocated for this cleaning alone, so stretching it in
   * place (absorb) touches nothing anyone else holds.
   */
  private emit(w: GroupWriter, batch: Buffer): void {
    if (w.pending !== undefined) this.write(w, w.pending);
    w.pending = batch;
  }

  private write(w: GroupWriter, batch: Buffer): void {
    const base = Number(batch.readBigInt64BE(0));
    if (w.position > 0 && w.sinceIndexEntry >= this.log.currentConfig.indexIntervalBytes) {
      w.index.append(base - w.base, w.position);
      w.sinceIndexEntry = 0;
    }
    w.sinceIndexEntry += batch.length;
    w.chunks.push(batch);
    w.chunkBytes += batch.length;
    w.position += batch.length;
    assert(w.position <= INT32_MAX, `${this.log.dir}: cleaned segment ${w.base} outgrew an int32 position`);
    if (w.chunkBytes >= this.ioBytes) this.flushChunks(w);
  }

  private flushChunks(w: GroupWriter): void {
    if (w.chunkBytes === 0) return;
    const bytes = w.chunks.length === 1 ? w.chunks[0]! : Buffer.concat(w.chunks, w.chunkBytes);
    try {
      writeFully(this.fs, w.logFd, bytes, w.position - w.chunkBytes);
    } catch (err) {
      throw storageError(`writing ${w.logPath}`, err);
    }
    this.stats.bytesAfter += bytes.length;
    w.chunks = [];
    w.chunkBytes = 0;
  }

  private openWriter(segments: readonly Segment[]): GroupWriter {
    const base = segments[0]!.baseOffset;
    const logPath = path.join(this.log.dir, segmentFileName(base, SEGMENT_LOG_SUFFIX) + CLEANED_FILE_SUFFIX);
    const indexPath = path.join(this.log.dir, segmentFileName(base, SEGMENT_INDEX_SUFFIX) + CLEANED_FILE_SUFFIX);
    let logFd: number | undefined;
    try {
      for (const p of [logPath, indexPath]) if (this.fs.existsSync(p)) this.fs.unlinkSync(p);
      logFd = this.fs.openSync(logPath, 'w+');
      const index = SegmentIndex.open(indexPath, this.fs);
      return {
        segments,
        base,
        end: segments.at(-1)!.nextOffset,
        offset: base,
        logPath,
        indexPath,
        logFd,
        index,
        position: 0,
        sinceIndexEntry: 0,
        chunks: [],
        chunkBytes: 0,
        pending: undefined,
      };
    } catch (err) {
      if (logFd !== undefined) this.fs.closeSync(logFd);
      throw storageError(`creating ${logPath}`, err);
    }
  }

  /** Writes the group's tail and index, fsyncs both on the thread pool, then swaps them in. */
  private finishGroup(w: GroupWriter): void {
    if (w.pending !== undefined) {
      this.write(w, w.pending);
      w.pending = undefined;
    }
    this.flushChunks(w);
    try {
      w.index.flushToFile();
    } catch (err) {
      throw storageError(`writing ${w.indexPath}`, err);
    }
    // fsync off the event loop: a cleaned segment can be as large as segment.bytes.
    this.waitingFor = Promise.all([this.fs.fsync(w.logFd), w.index.fsyncInBackground()]).then(
      () => {
        this.waitingFor = undefined;
        try {
          this.swapIn(w);
        } catch (err) {
          this.syncError = err;
        }
      },
      (err: unknown) => {
        this.waitingFor = undefined;
        this.syncError = storageError(`fsync of ${w.logPath}`, err);
      },
    );
  }

  private swapIn(w: GroupWriter): void {
    if (this.stateValue !== 'running') return;
    const why = this.changedUnderUs();
    if (why !== undefined) {
      this.abort(why);
      return;
    }
    this.closeWriterFiles(w);
    this.writer = undefined;
    const before = this.log.cleanerCheckpoint;
    const checkpoint: CleanerCheckpoint = {
      firstDirtyOffset: Math.max(before?.firstDirtyOffset ?? this.options.firstDirtyOffset, Math.min(w.end, this.mappedEnd)),
      rewrittenToOffset: Math.max(before?.rewrittenToOffset ?? 0, w.end),
    };
    this.log.replaceSegments(w.segments, checkpoint);
    this.generation = this.log.cleanerGeneration;
    this.stats.segmentsReplaced += w.segments.length;
    this.stats.groupsSwapped++;
    this.groups.shift();
    if (this.groups.length === 0) this.finish();
  }

  private finish(): void {
    const cp = this.log.cleanerCheckpoint;
    // A cleaning with nothing to rewrite still moves the checkpoint to its end.
    if ((cp?.firstDirtyOffset ?? -1) < this.mappedEnd) this.log.resetFirstDirtyOffset(Math.max(this.mappedEnd, this.options.firstDirtyOffset));
    this.stateValue = 'done';
    this.logger.info(
      {
        dir: this.log.dir,
        endOffset: this.mappedEnd,
        recordsRemoved: this.stats.recordsRemoved,
        bytesBefore: this.stats.bytesBefore,
        bytesAfter: this.stats.bytesAfter,
        segmentsReplaced: this.stats.segmentsReplaced,
      },
      'cleaned log',
    );
  }

  private closeWriterFiles(w: GroupWriter): void {
    try {
      w.index.close();
    } finally {
      this.fs.closeSync(w.logFd);
    }
  }

  private discardWriter(): void {
    const w = this.writer;
    this.writer = undefined;
    if (w === undefined) return;
    try {
      this.closeWriterFiles(w);
    } catch {
      // Descriptors of files about to be deleted.
    }
    this.log.abandonCleaned(this.log.cleanerCheckpoint, [w.logPath, w.indexPath]);
  }
}
