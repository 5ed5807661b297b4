// Log compaction's decisions, as pure functions of numbers (DESIGN.md § Consumer groups and
// compaction; STYLE.md: decisions are table-tested, I/O lives elsewhere). cleaner.ts does the
// reading and writing; the broker's LogCleaner decides when. The rules are Kafka's:
//
//   cleanableOffsets   LogCleanerManager.cleanableOffsets: what one cleaning may touch, from the
//                      first dirty offset (the cleaner checkpoint) up to the first uncleanable
//                      offset = min(high watermark, active segment base, first segment still
//                      inside min.compaction.lag.ms). Never past the high watermark: a record
//                      above it may be truncated by a new leader, so it must neither be removed
//                      nor shadow an older record of its key.
//   logToClean         LogToClean / LogCleanerManager.calculateCleanableBytes: the dirty ratio,
//                      cleanable bytes / (clean + cleanable bytes), counted in whole segments,
//                      and max.compaction.lag.ms (maxCompactionDelay).
//   grabFilthiestLog   LogCleanerManager.grabFilthiestCompactedLog: the log with the highest ratio
//                      among those above min.cleanable.dirty.ratio or past max.compaction.lag.ms.
//   groupSegments      Cleaner.groupSegmentsBySize: consecutive segments whose sizes sum to at
//                      most segment.bytes are rewritten into one.
//   recordRetained     Cleaner.shouldRetainRecord with KIP-534's delete horizon.
//
// Two deviations, both about time, as elsewhere in storage (README § Time): Kafka reads
// min.compaction.lag.ms against a segment's largest record timestamp and max.compaction.lag.ms
// against its first batch's, both chosen by producers; here they are read against the broker's
// clock at the segment's last and first append (Segment.lastAppendMs, rollBaseMs), so a producer
// stamping 1970 cannot get its records compacted at once, nor one stamping the future keep them
// dirty for ever.

import { assert } from '@tributary/protocol';

/** The facts of one segment the decisions need. */
export interface SegmentFacts {
  baseOffset: number;
  /** lastOffset + 1 of its last batch (the next segment's base offset). */
  nextOffset: number;
  sizeBytes: number;
  /** Broker clock at its first and last append (-1 when unknown or empty). */
  rollBaseMs: number;
  lastAppendMs: number;
}

export interface CompactionConfig {
  minCleanableDirtyRatio: number;
  minCompactionLagMs: number;
  maxCompactionLagMs: number;
}

export interface CompactionView {
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  /** Every segment but the active one, oldest first. */
  closed: readonly SegmentFacts[];
  activeBaseOffset: number;
  /** The cleaner checkpoint: below it, one record per key (undefined: never cleaned). */
  firstDirtyCheckpoint: number | undefined;
  config: CompactionConfig;
}

export interface OffsetsToClean {
  firstDirtyOffset: number;
  /** Exclusive: nothing at or above it is removed, nor used to remove older records. */
  firstUncleanableOffset: number;
  /** The checkpoint was outside the log (retention moved the start, a truncation the end): reset it. */
  forceUpdateCheckpoint: boolean;
}

/** Kafka's LogCleanerManager.cleanableOffsets. */
export function cleanableOffsets(view: CompactionView, nowMs: number): OffsetsToClean {
  const { logStartOffset, logEndOffset } = view;
  const checkpoint = view.firstDirtyCheckpoint ?? logStartOffset;
  // A checkpoint below the log start (retention deleted segments) or past the end (a truncation
  // the checkpoint did not follow) says nothing: start from the log start, as Kafka does.
  const valid = checkpoint >= logStartOffset && checkpoint <= logEndOffset;
  const firstDirtyOffset = valid ? checkpoint : logStartOffset;
  let firstUncleanable = Math.min(view.highWatermark, view.activeBaseOffset);
  if (view.config.minCompactionLagMs > 0) {
    for (const s of view.closed) {
      if (s.nextOffset <= firstDirtyOffset) continue;
      if (s.lastAppendMs > nowMs - view.config.minCompactionLagMs) {
        firstUncleanable = Math.min(firstUncleanable, s.baseOffset);
        break;
      }
    }
  }
  return {
    firstDirtyOffset,
    firstUncleanableOffset: Math.max(firstDirtyOffset, firstUncleanable),
    forceUpdateCheckpoint: !valid && view.firstDirtyCheckpoint !== undefined,
  };
}

export interface LogToClean extends OffsetsToClean {
  /** Bytes of the segments starting below the first dirty offset (Kafka's cleanBytes). */
  cleanBytes: number;
  /** Bytes of the whole segments from the first dirty offset up to the first uncleanable one's segment. */
  cleanableBytes: number;
  totalBytes: number;
  /** cleanableBytes / totalBytes (0 for an empty log). */
  cleanableRatio: number;
  /** How long past max.compaction.lag.ms its oldest dirty segment is (0: not yet). */
  compactionDelayMs: number;
  /** max.compaction.lag.ms has passed for some dirty segment. */
  needCompactionNow: boolean;
}

/** Kafka's LogToClean and calculateCleanableBytes, maxCompactionDelay. */
export function logToClean(view: CompactionView, nowMs: number): LogToClean {
  const offsets = cleanableOffsets(view, nowMs);
  const { firstDirtyOffset, firstUncleanableOffset } = offsets;
  // Cleanable bytes are whole segments: up to the base of the segment holding the first
  // uncleanable offset (or the active segment).
  const holding = view.closed.find((s) => s.baseOffset <= firstUncleanableOffset && firstUncleanableOffset < s.nextOffset);
  const firstUncleanableSegmentBase = holding?.baseOffset ?? view.activeBaseOffset;
  let cleanBytes = 0;
  let cleanableBytes = 0;
  const from = Math.min(firstDirtyOffset, firstUncleanableSegmentBase);
  for (const s of view.closed) {
    if (s.baseOffset < firstDirtyOffset) cleanBytes += s.sizeBytes;
    if (s.nextOffset > from && s.baseOffset < firstUncleanableSegmentBase) cleanableBytes += s.sizeBytes;
  }
  const totalBytes = cleanBytes + cleanableBytes;
  let earliestDirtyMs = Number.POSITIVE_INFINITY;
  for (const s of view.closed) {
    if (s.nextOffset > firstDirtyOffset && s.rollBaseMs > 0) earliestDirtyMs = Math.min(earliestDirtyMs, s.rollBaseMs);
  }
  const cleanUntilMs = nowMs - Math.max(view.config.maxCompactionLagMs, 0);
  const compactionDelayMs = earliestDirtyMs < cleanUntilMs ? cleanUntilMs - earliestDirtyMs : 0;
  return {
    ...offsets,
    cleanBytes,
    cleanableBytes,
    totalBytes,
    cleanableRatio: totalBytes > 0 ? cleanableBytes / totalBytes : 0,
    compactionDelayMs,
    needCompactionNow: compactionDelayMs > 0,
  };
}

/**
 * Kafka's grabFilthiestCompactedLog: among logs with bytes to speak of, the one with the highest
 * dirty ratio of those above their min.cleanable.dirty.ratio (strictly) or past
 * max.compaction.lag.ms with something cleanable. Also returns the highest ratio seen
 * (max-dirty-percent).
 */
export function grabFilthiestLog<T>(candidates: readonly { id: T; toClean: LogToClean; minCleanableDirtyRatio: number }[]): {
  chosen: { id: T; toClean: LogToClean } | undefined;
  maxDirtyRatio: number;
} {
  let maxDirtyRatio = 0;
  let chosen: { id: T; toClean: LogToClean } | undefined;
  for (const c of candidates) {
    if (c.toClean.totalBytes <= 0) continue;
    maxDirtyRatio = Math.max(maxDirtyRatio, c.toClean.cleanableRatio);
    const eligible = (c.toClean.needCompactionNow && c.toClean.cleanableBytes > 0) || c.toClean.cleanableRatio > c.minCleanableDirtyRatio;
    if (eligible && (chosen === undefined || c.toClean.cleanableRatio > chosen.toClean.cleanableRatio)) chosen = { id: c.id, toClean: c.toClean };
  }
  return { chosen, maxDirtyRatio };
}

const INT32_MAX = 0x7fffffff;

/**
 * Kafka's Cleaner.groupSegmentsBySize: the segments below `endOffset`, split into runs of
 * consecutive segments that are rewritten into one each. A run's sizes sum to at most
 * `maxGroupBytes` (segment.bytes; a bigger segment is a run of its own) and its offsets span at
 * most INT32_MAX (the index stores offsets relative to the base). Returns index ranges
 * [from, to) into `closed`.
 */
export function groupSegments(closed: readonly SegmentFacts[], maxGroupBytes: number, endOffset: number): { from: number; to: number }[] {
  const groups: { from: number; to: number }[] = [];
  let i = 0;
  while (i < closed.length && closed[i]!.baseOffset < endOffset) {
    const from = i;
    let size = closed[i]!.sizeBytes;
    i++;
    while (
      i < closed.length &&
      closed[i]!.baseOffset < endOffset &&
      size + closed[i]!.sizeBytes <= maxGroupBytes &&
      closed[i]!.nextOffset - 1 - closed[from]!.baseOffset <= INT32_MAX
    ) {
      size += closed[i]!.sizeBytes;
      i++;
    }
    groups.push({ from, to: i });
  }
  return groups;
}

export interface RecordFacts {
  offset: number;
  /** null: a record without a key, which a compacted log cannot keep. */
  key: string | null;
  tombstone: boolean;
}

export interface RetentionContext {
  /** The cleaning's end (exclusive): records at or above it are not this cleaning's business. */
  endOffset: number;
  /** The latest offset of a key below endOffset among the dirty records, if any. */
  latestOffsetOf(key: string): number | undefined;
  /** The batch's delete horizon (KIP-534), if the cleaner stamped one. */
  deleteHorizonMs: number | undefined;
  nowMs: number;
}

/**
 * Kafka's Cleaner.shouldRetainRecord (KIP-534): a record below the cleaning's end stays when it is
 * the latest of its key, unless it is a tombstone whose batch's delete horizon has passed. A
 * record without a key is dropped, as Kafka drops it (it cannot be told apart from its
 * successors). Everything at or above the end stays.
 */
export function recordRetained(r: RecordFacts, ctx: RetentionContext): boolean {
  if (r.offset >= ctx.endOffset) return true;
  if (r.key === null) return false;
  const latest = ctx.latestOffsetOf(r.key);
  if (latest !== undefined && r.offset < latest) return false;
  if (r.tombstone && ctx.deleteHorizonMs !== undefined && ctx.nowMs >= ctx.deleteHorizonMs) return false;
  return true;
}

/**
 * What the cleaner writes for one batch below the cleaning's end (Kafka's checkBatchRetention and
 * filterTo, with one addition): `keep` (unchanged bytes), `rewrite` (fewer records, or a new
 * delete horizon), `empty` (no records left, but the batch is one of its live producer's last,
 * kept as a bare header so a new leader still knows the producer's sequences), or `drop`. Dropped batches'
 * offsets are not left as a gap between batches: the writer extends the previous batch over them
 * or writes a placeholder (cleaner.ts), so every offset below the log end stays inside a batch.
 */
export function batchOutcome(recordCount: number, kept: number, needsHorizon: boolean, producerBatch: boolean): 'keep' | 'rewrite' | 'empty' | 'drop' {
  assert(kept >= 0 && kept <= recordCount, `kept ${kept} of ${recordCount} records`);
  // A batch already empty (an earlier cleaning's producer header or placeholder) stays only while
  // it is one of a live producer's last.
  if (kept === 0) return producerBatch ? (recordCount === 0 ? 'keep' : 'empty') : 'drop';
  if (kept === recordCount && !needsHorizon) return 'keep';
  return 'rewrite';
}
