// The broker's log cleaner (Kafka's LogCleaner with one cleaner thread, log.cleaner.threads=1):
// a loop that picks the compacted log most in need of cleaning (storage's grabFilthiestLog over
// every compacted replica on this broker, leader or follower: replicas clean independently, as
// in Kafka) and cleans it with storage's Cleaner in slices of log.cleaner.io.buffer.size, giving
// the event loop back between slices, so produce and fetch requests keep being served. After a
// cleaning it looks again at once; when nothing needs cleaning it waits log.cleaner.backoff.ms.
//
// log.cleaner.io.max.bytes.per.second throttles it (Kafka's Throttler): bytes read and written
// are charged to a token bucket, and the next slice waits until the bucket allows it.
// log.cleaner.dedupe.buffer.size bounds the offset map of one cleaning. A log whose cleaning
// failed with an error (a failing disk, a corrupt batch) is marked uncleanable and left alone
// until it is opened again (Kafka's LogCleanerManager.uncleanablePartitions).

import { TributaryError } from '@tributary/protocol';
import { Cleaner, cleanableOffsets, grabFilthiestLog, logToClean, type CleanerStats, type Log, type LogToClean } from '@tributary/storage';
import { PRODUCER_BATCHES_MAX } from './producer-state.ts';
import { TokenBucket } from './throttle.ts';

export interface LogCleanerConfig {
  /** log.cleaner.enable */
  enable: boolean;
  /** log.cleaner.io.max.bytes.per.second; Number.MAX_SAFE_INTEGER: unthrottled. */
  ioMaxBytesPerSecond: number;
  /** log.cleaner.dedupe.buffer.size */
  dedupeBufferBytes: number;
  /** log.cleaner.io.buffer.size: bytes read per slice. */
  ioBufferBytes: number;
  /** log.cleaner.backoff.ms: the wait when no log needs cleaning. */
  backoffMs: number;
  /** producer.id.expiration.ms: producers silent longer need no header kept. */
  producerIdExpirationMs: number;
}

/** A compacted replica the cleaner may take, with its high watermark now. */
export interface CleanableLog {
  topic: string;
  partition: number;
  log: Log;
  highWatermark: number;
}

export interface LogCleanerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface CleaningResult {
  topic: string;
  partition: number;
  state: 'done' | 'aborted' | 'failed';
  stats: CleanerStats;
  endOffset: number;
  durationMs: number;
}

export class LogCleaner {
  private readonly config: LogCleanerConfig;
  private readonly logs: () => Iterable<CleanableLog>;
  private readonly logger: LogCleanerLogger;
  private readonly now: () => number;
  private readonly bucket: TokenBucket | undefined;
  /** Logs whose cleaning threw (Kafka's uncleanable partitions); forgotten with the Log object. */
  private readonly uncleanable = new WeakSet<Log>();
  private uncleanableKeys = new Set<string>();
  private current: Cleaner | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;

  // What the metrics read (metrics.ts: tributary_log_cleaner_*).
  bytesRead = 0;
  bytesWritten = 0;
  recordsRemoved = 0;
  readonly cleanings = { done: 0, aborted: 0, failed: 0 };
  /** The highest dirty ratio seen at the last pass (Kafka's max-dirty-percent / 100). */
  maxDirtyRatio = 0;
  /** When the cleaner last looked for work (Kafka's time-since-last-run-ms counts from it). */
  lastRunMs: number;
  /** The last cleaning's duration, buffer utilization and recopy ratio (bytes after / before). */
  lastCleanDurationMs = 0;
  lastBufferUtilization = 0;
  lastRecopyRatio = 0;
  /** How far past max.compaction.lag.ms the most overdue log was at the last pass. */
  maxCompactionDelayMs = 0;

  constructor(options: { config: LogCleanerConfig; logs: () => Iterable<CleanableLog>; logger: LogCleanerLogger; now?: () => number }) {
    this.config = options.config;
    this.logs = options.logs;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.lastRunMs = this.now();
    this.bucket = options.config.ioMaxBytesPerSecond < Number.MAX_SAFE_INTEGER ? new TokenBucket(options.config.ioMaxBytesPerSecond, this.now()) : undefined;
  }

  get uncleanableCount(): number {
    return this.uncleanableKeys.size;
  }

  /** Starts the loop (a no-op with log.cleaner.enable=false). */
  start(): void {
    if (!this.config.enable || this.stopped || this.timer !== undefined || this.loop !== undefined) return;
    this.schedule(this.config.backoffMs);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.loop = this.cleanFilthiest()
        .then((result) => {
          this.loop = undefined;
          this.schedule(result?.state === 'done' ? 0 : this.config.backoffMs);
        })
        .catch((err: unknown) => {
          // A programmer error (an assertion) must stop the broker, not be retried.
          this.loop = undefined;
          this.logger.error({ err }, 'log cleaner stopped');
          throw err;
        });
    }, delayMs);
    this.timer.unref();
  }

  /** Aborts a cleaning in progress (its uncommitted files are deleted) and stops the loop. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.current?.abort('the broker is stopping');
    await this.loop?.catch(() => undefined);
  }

  /**
   * One pass of Kafka's cleaner thread: picks the filthiest compacted log (grabFilthiestLog) and
   * cleans it, slice by slice. Resolves with what happened, or undefined when no log needed it.
   */
  async cleanFilthiest(): Promise<CleaningResult | undefined> {
    const nowMs = this.now();
    this.lastRunMs = nowMs;
    const candidates: { id: CleanableLog; toClean: LogToClean; minCleanableDirtyRatio: number }[] = [];
    const keys = new Set<string>();
    let maxDelay = 0;
    for (const c of this.logs()) {
      if (c.log.isClosed || !c.log.currentConfig.compact) continue;
      keys.add(`${c.topic}-${c.partition}`);
      if (this.uncleanable.has(c.log) || c.log.swapIncomplete) continue;
      const toClean = logToClean(c.log.compactionView(c.highWatermark), nowMs);
      maxDelay = Math.max(maxDelay, toClean.compactionDelayMs);
      candidates.push({ id: c, toClean, minCleanableDirtyRatio: c.log.currentConfig.minCleanableDirtyRatio });
    }
    this.uncleanableKeys = new Set([...this.uncleanableKeys].filter((k) => keys.has(k)));
    const { chosen, maxDirtyRatio } = grabFilthiestLog(candidates);
    this.maxDirtyRatio = maxDirtyRatio;
    this.maxCompactionDelayMs = maxDelay;
    if (chosen === undefined || this.stopped) return undefined;
    return this.clean(chosen.id, nowMs);
  }

  private async clean(target: CleanableLog, nowMs: number): Promise<CleaningResult> {
    const { topic, partition, log } = target;
    const offsets = cleanableOffsets(log.compactionView(target.highWatermark), nowMs);
    const started = performance.now();
    const result = (state: CleaningResult['state'], stats: CleanerStats, endOffset: number): CleaningResult => {
      const durationMs = performance.now() - started;
      this.cleanings[state]++;
      this.lastCleanDurationMs = durationMs;
      this.lastBufferUtilization = stats.bufferUtilization;
      this.lastRecopyRatio = stats.bytesBefore > 0 ? stats.bytesAfter / stats.bytesBefore : 0;
      return { topic, partition, state, stats, endOffset, durationMs };
    };
    let cleaner: Cleaner;
    try {
      if (offsets.forceUpdateCheckpoint) log.resetFirstDirtyOffset(offsets.firstDirtyOffset);
      cleaner = new Cleaner(log, {
        nowMs,
        firstDirtyOffset: offsets.firstDirtyOffset,
        firstUncleanableOffset: offsets.firstUncleanableOffset,
        dedupeBufferBytes: this.config.dedupeBufferBytes,
        producerIdExpirationMs: this.config.producerIdExpirationMs,
        // The leader rebuilds producer state from batch headers: keep every batch it would remember.
        producerBatchesRetained: PRODUCER_BATCHES_MAX,
        ioBufferBytes: this.config.ioBufferBytes,
      });
    } catch (err) {
      this.markUncleanable(target, err);
      return result('failed', emptyStats(), offsets.firstDirtyOffset);
    }
    this.current = cleaner;
    let read = 0;
    let written = 0;
    try {
      for (;;) {
        const state = cleaner.step(this.config.ioBufferBytes);
        this.charge(cleaner.stats.bytesRead - read, cleaner.stats.bytesAfter - written);
        read = cleaner.stats.bytesRead;
        written = cleaner.stats.bytesAfter;
        if (state === 'done' || state === 'aborted') break;
        if (state === 'waiting') await cleaner.waiting;
        await this.pause();
      }
    } catch (err) {
      this.current = undefined;
      this.markUncleanable(target, err);
      return result('failed', cleaner.stats, cleaner.endOffset);
    }
    this.current = undefined;
    this.recordsRemoved += cleaner.stats.recordsRemoved;
    if (cleaner.state === 'aborted') {
      this.logger.info({ topic, partition, reason: cleaner.abortedBecause }, 'log cleaning aborted');
      return result('aborted', cleaner.stats, cleaner.endOffset);
    }
    const r = result('done', cleaner.stats, cleaner.endOffset);
    this.logger.info(
      {
        topic,
        partition,
        firstDirtyOffset: offsets.firstDirtyOffset,
        endOffset: cleaner.endOffset,
        recordsRemoved: cleaner.stats.recordsRemoved,
        bytesBefore: cleaner.stats.bytesBefore,
        bytesAfter: cleaner.stats.bytesAfter,
        segmentsReplaced: cleaner.stats.segmentsReplaced,
        durationMs: Math.round(r.durationMs),
      },
      'log cleaned',
    );
    return r;
  }

  /** Counts a slice's bytes and charges them to the throttle (Kafka's Throttler counts both). */
  private charge(read: number, written: number): void {
    this.bytesRead += read;
    this.bytesWritten += written;
    if (read + written > 0) this.bucket?.consume(read + written, this.now());
  }

  /** Between slices: the event loop's turn, and the throttle's wait if the bucket is empty. */
  private pause(): Promise<void> {
    const waitMs = this.bucket?.waitMs(this.config.ioBufferBytes, this.now()) ?? 0;
    return new Promise((resolve) => {
      if (waitMs > 0) setTimeout(resolve, waitMs).unref();
      else setImmediate(resolve);
    });
  }

  private markUncleanable(target: CleanableLog, err: unknown): void {
    if (!(err instanceof TributaryError)) throw err;
    this.uncleanable.add(target.log);
    this.uncleanableKeys.add(`${target.topic}-${target.partition}`);
    this.logger.error(
      { topic: target.topic, partition: target.partition, err },
      'log cleaning failed; the partition is uncleanable until its log is opened again',
    );
  }
}

function emptyStats(): CleanerStats {
  return { bytesRead: 0, bytesBefore: 0, bytesAfter: 0, recordsRead: 0, recordsRemoved: 0, segmentsReplaced: 0, groupsSwapped: 0, bufferUtilization: 0 };
}
