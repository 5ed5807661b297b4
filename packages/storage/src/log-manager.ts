// Owns every partition log in one data dir, plus the data dir's two checkpoints:
//
//   <dataDir>/<topic>-<partition>/              one Log per partition (log.ts)
//   <dataDir>/recovery-point-offset-checkpoint  per partition: offset below which data was flushed
//   <dataDir>/replication-offset-checkpoint     per partition: high watermark (written by the broker)
//
// Topic names may contain '-' and '.', so a directory name is split at its LAST '-'.

import * as path from 'node:path';
import { TributaryError } from '@tributary/protocol';
import { OffsetCheckpointFile, parseTopicPartition } from './checkpoint.ts';
import { nodeFs, storageError, type StorageFs } from './fs.ts';
import { Log, type LogConfig, type LogOptions, type StorageLogger } from './log.ts';

export const RECOVERY_POINT_CHECKPOINT = 'recovery-point-offset-checkpoint';
export const REPLICATION_OFFSET_CHECKPOINT = 'replication-offset-checkpoint';

const SILENT: StorageLogger = { info() {}, warn() {} };

function key(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export class LogManager {
  readonly dataDir: string;
  private readonly options: LogOptions;
  private readonly fs: StorageFs;
  private readonly logger: StorageLogger;
  private readonly logs = new Map<string, { topic: string; partition: number; log: Log }>();
  private readonly recoveryPoints: OffsetCheckpointFile;
  private readonly highWatermarks: OffsetCheckpointFile;

  constructor(dataDir: string, options: LogOptions = {}) {
    this.dataDir = dataDir;
    this.options = options;
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

  /** Opens every `<topic>-<partition>` directory, recovering each from its checkpointed recovery point. */
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

  all(): { topic: string; partition: number; log: Log }[] {
    return [...this.logs.values()];
  }

  /** Writes every log's recovery point to recovery-point-offset-checkpoint (atomically). */
  checkpointRecoveryPoints(): void {
    this.recoveryPoints.write(this.recoveryPointEntries());
  }

  /** checkpointRecoveryPoints with the fsyncs off the event loop (the periodic checkpoint). */
  checkpointRecoveryPointsInBackground(): Promise<void> {
    return this.recoveryPoints.writeInBackground(this.recoveryPointEntries());
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
