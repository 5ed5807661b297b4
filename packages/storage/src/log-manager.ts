// Owns every partition log in one data dir, plus the data dir's two checkpoints:
//
//   <dataDir>/<topic>-<partition>/              one Log per partition (log.ts)
//   <dataDir>/recovery-point-offset-checkpoint  per partition: offset below which data was flushed
//   <dataDir>/replication-offset-checkpoint     per partition: high watermark (written by the broker)
//
//   <dataDir>/<topic>-<partition>.<id>-stray    a log set aside (renameAside); never loaded
//
// Topic names may contain '-' and '.', so a directory name is split at its LAST '-'. A log
// directory always ends in `-<digits>`, so a name ending in `-stray` is never one.

import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { TributaryError } from '@tributary/protocol';
import { OffsetCheckpointFile, parseTopicPartition } from './checkpoint.ts';
import { fsyncDir, nodeFs, storageError, type StorageFs } from './fs.ts';
import { Log, type LogConfig, type LogOptions, type StorageLogger } from './log.ts';

export const RECOVERY_POINT_CHECKPOINT = 'recovery-point-offset-checkpoint';
export const REPLICATION_OFFSET_CHECKPOINT = 'replication-offset-checkpoint';
/** Kafka's UnifiedLog.StrayDirSuffix: `<topic>-<partition>.<uniqueId>-stray`. */
export const STRAY_DIR_SUFFIX = '-stray';
const STRAY_DIR_PATTERN = /^(.+)-(\d+)\.([0-9A-Za-z]+)-stray$/;

export interface LogManagerOptions extends LogOptions {
  /** The unique part of a stray directory's name; default a random UUID without dashes, as Kafka's. */
  uniqueId?: () => string;
}

/** A log directory set aside by renameAside (in this process or an earlier one). */
export interface StrayDir {
  /** Full path of the directory. */
  dir: string;
  topic: string;
  partition: number;
}

const SILENT: StorageLogger = { info() {}, warn() {} };

function key(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export class LogManager {
  readonly dataDir: string;
  private readonly options: LogOptions;
  private readonly uniqueId: () => string;
  private readonly fs: StorageFs;
  private readonly logger: StorageLogger;
  private readonly logs = new Map<string, { topic: string; partition: number; log: Log }>();
  private readonly recoveryPoints: OffsetCheckpointFile;
  private readonly highWatermarks: OffsetCheckpointFile;

  constructor(dataDir: string, managerOptions: LogManagerOptions = {}) {
    const { uniqueId, ...options } = managerOptions;
    this.dataDir = dataDir;
    this.options = options;
    this.uniqueId = uniqueId ?? (() => randomUUID().replaceAll('-', ''));
    this.fs = options.fs ?? nodeFs;
    this.logger = options.logger ?? SILENT;
    try {
      this.fs.mkdirSync(dataDir);
    } catch (err) {
      throw storageError(`creating data dir ${dataDir}`, err);
    }
    this.recoveryPoints = new OffsetCheckpointFile(path.join(dataDir, RECOVERY_POINT_CHECKPOINT), this.fs);
    this.highWatermarks = new OffsetCheckpointFile(path.join(dataDir, REPLICATION_OFFSET_CHECKPOINT), this.fs);
  }

  /**
   * Opens every `<topic>-<partition>` directory, recovering each from its checkpointed recovery
   * point. Stray directories (`…-stray`, see renameAside) are left as they are, with a warning.
   */
  loadAll(configFor: (topic: string, partition: number) => LogConfig): void {
    let recoveryPoints: Map<string, number>;
    try {
      recoveryPoints = this.recoveryPoints.read();
    } catch (err) {
      // Without recovery points every segment is scanned: slower, never wrong.
      this.logger.warn({ err, file: this.recoveryPoints.path }, 'recovery point checkpoint unreadable; recovering every segment');
      recoveryPoints = new Map();
    }
    let names: string[];
    try {
      names = this.fs.readdirSync(this.dataDir);
    } catch (err) {
      throw storageError(`listing data dir ${this.dataDir}`, err);
    }
    for (const name of names.sort()) {
      const dir = path.join(this.dataDir, name);
      if (!this.fs.statSync(dir).isDirectory()) continue;
      const stray = parseStrayDirName(name);
      if (stray !== undefined) {
        this.logger.warn({ dir, topic: stray.topic, partition: stray.partition }, 'found stray log directory; it is kept, not loaded');
        continue;
      }
      let tp: { topic: string; partition: number };
      try {
        tp = parseTopicPartition(name);
      } catch {
        this.logger.warn({ dir }, 'skipping a directory that is not <topic>-<partition>');
        continue;
      }
      if (this.logs.has(name)) continue;
      const recoveryPoint = recoveryPoints.get(name) ?? 0;
      const log = Log.open(dir, configFor(tp.topic, tp.partition), { ...this.options, recoveryPoint });
      this.logs.set(name, { ...tp, log });
    }
    this.logger.info({ dataDir: this.dataDir, logs: this.logs.size }, 'loaded logs');
  }

  getOrCreate(topic: string, partition: number, config: LogConfig): Log {
    const k = key(topic, partition);
    const existing = this.logs.get(k);
    if (existing !== undefined) return existing.log;
    if (topic.length === 0 || !Number.isSafeInteger(partition) || partition < 0) {
      throw new TributaryError('INVALID_REQUEST', `bad topic-partition ${JSON.stringify(topic)}/${partition}`);
    }
    const log = Log.open(path.join(this.dataDir, k), config, { ...this.options, recoveryPoint: 0 });
    this.logs.set(k, { topic, partition, log });
    return log;
  }

  get(topic: string, partition: number): Log | undefined {
    return this.logs.get(key(topic, partition))?.log;
  }

  /** Closes the partition's log and removes its directory. */
  delete(topic: string, partition: number): void {
    const k = key(topic, partition);
    const entry = this.logs.get(k);
    if (entry === undefined) {
      const dir = path.join(this.dataDir, k);
      if (this.fs.existsSync(dir)) this.fs.rmSync(dir);
      return;
    }
    this.logs.delete(k);
    entry.log.delete();
  }

  /**
   * Sets a partition's log aside instead of deleting it, as KRaft brokers do with a log whose
   * topic id no longer matches the metadata (a topic deleted and re-created under the same name
   * while this broker was away): the directory is renamed to
   * `<topic>-<partition>.<uniqueId>-stray` (Kafka's UnifiedLog.logStrayDirName), the data dir is
   * fsynced so the rename survives a crash, and the log is closed and forgotten; the stale
   * recovery point is checkpointed away so it never applies to a new log of the same name. Stray
   * directories are never loaded or deleted: an operator inspects and removes them.
   *
   * The rename happens while the log is open (POSIX descriptors follow a renamed directory), so
   * when it fails nothing has changed: the log stays registered and usable and KAFKA_STORAGE_ERROR
   * is thrown. A failure after the rename (the fsyncs) also throws, with the log already set
   * aside. A partition with no open log but a directory on disk has the directory set aside.
   * Returns the new directory, or undefined when there was nothing to set aside.
   */
  renameAside(topic: string, partition: number): string | undefined {
    const k = key(topic, partition);
    const from = path.join(this.dataDir, k);
    const entry = this.logs.get(k);
    if (entry === undefined && !this.fs.existsSync(from)) return undefined;
    const to = path.join(this.dataDir, `${k}.${this.uniqueId()}${STRAY_DIR_SUFFIX}`);
    if (parseStrayDirName(path.basename(to)) === undefined || this.fs.existsSync(to)) {
      throw new TributaryError('INVALID_REQUEST', `cannot set ${from} aside as ${to}: not a fresh stray directory name`);
    }
    try {
      this.fs.renameSync(from, to);
    } catch (err) {
      throw storageError(`renaming ${from} aside to ${to}`, err);
    }
    if (entry !== undefined) {
      this.logs.delete(k);
      try {
        entry.log.close();
      } catch (err) {
        this.logger.warn({ topic, partition, err }, 'closing a log set aside failed');
      }
    }
    this.logger.warn({ topic, partition, dir: to }, 'renamed log aside as stray');
    try {
      fsyncDir(this.fs, this.dataDir);
    } catch (err) {
      throw storageError(`fsync of ${this.dataDir} after renaming ${from} aside`, err);
    }
    this.checkpointRecoveryPoints();
    return to;
  }

  /** The stray directories in the data dir now (read from disk on each call), by name. */
  strayDirs(): StrayDir[] {
    let names: string[];
    try {
      names = this.fs.readdirSync(this.dataDir);
    } catch (err) {
      throw storageError(`listing data dir ${this.dataDir}`, err);
    }
    const out: StrayDir[] = [];
    for (const name of names.sort()) {
      const stray = parseStrayDirName(name);
      if (stray !== undefined) out.push({ dir: path.join(this.dataDir, name), ...stray });
    }
    return out;
  }

  all(): { topic: string; partition: number; log: Log }[] {
    return [...this.logs.values()];
  }

  /** Writes every log's recovery point to recovery-point-offset-checkpoint (atomically). */
  checkpointRecoveryPoints(): void {
    this.recoveryPoints.write(this.recoveryPointEntries());
  }

  /**
   * checkpointRecoveryPoints with the fsyncs off the event loop (the periodic checkpoint). Rolled
   * segments are flushed first (Log.flushRolledSegmentsInBackground), so the recovery points it
   * writes advance with them.
   */
  async checkpointRecoveryPointsInBackground(): Promise<void> {
    await Promise.all([...this.logs.values()].map(({ log }) => log.flushRolledSegmentsInBackground().catch(() => undefined)));
    await this.recoveryPoints.writeInBackground(this.recoveryPointEntries());
  }

  private recoveryPointEntries(): Map<string, number> {
    const entries = new Map<string, number>();
    for (const [k, { log }] of this.logs) entries.set(k, log.recoveryPoint);
    return entries;
  }

  /** Writes the high watermarks (keys `${topic}-${partition}`) to replication-offset-checkpoint. */
  writeHighWatermarks(hw: Map<string, number>): void {
    this.highWatermarks.write(hw);
  }

  /** writeHighWatermarks with the fsyncs off the event loop (the periodic checkpoint). */
  writeHighWatermarksInBackground(hw: Map<string, number>): Promise<void> {
    return this.highWatermarks.writeInBackground(hw);
  }

  /** Settles once no background checkpoint write is in flight (call before close). */
  async checkpointsSettled(): Promise<void> {
    await Promise.all([this.recoveryPoints.settled(), this.highWatermarks.settled()]);
  }

  /** Reads replication-offset-checkpoint; an unreadable file gives an empty map and a warning. */
  readHighWatermarks(): Map<string, number> {
    try {
      return this.highWatermarks.read();
    } catch (err) {
      this.logger.warn({ err, file: this.highWatermarks.path }, 'high watermark checkpoint unreadable; starting without it');
      return new Map();
    }
  }

  /** Clean shutdown: flush every log, checkpoint the recovery points, close. */
  close(): void {
    for (const { topic, partition, log } of this.logs.values()) {
      try {
        log.flush();
      } catch (err) {
        this.logger.warn({ topic, partition, err }, 'flush on close failed; the log will be recovered on start');
      }
    }
    try {
      this.checkpointRecoveryPoints();
    } catch (err) {
      this.logger.warn({ err }, 'recovery point checkpoint on close failed; logs will be recovered on start');
    }
    for (const { log } of this.logs.values()) log.close();
    this.logs.clear();
  }
}

/** Topic and partition of a `<topic>-<partition>.<uniqueId>-stray` name; undefined for other names. */
export function parseStrayDirName(name: string): { topic: string; partition: number } | undefined {
  const m = STRAY_DIR_PATTERN.exec(name);
  if (m === null) return undefined;
  const partition = Number(m[2]);
  return Number.isSafeInteger(partition) ? { topic: m[1]!, partition } : undefined;
}
