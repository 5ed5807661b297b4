// Checkpoint files in Kafka's text format, so operators' habits carry over:
//
//   line 1      version (always 0)
//   line 2      number of entries, N
//   lines 3..   N entries, fields separated by one space
//
//   replication-offset-checkpoint, recovery-point-offset-checkpoint:  "<topic> <partition> <offset>"
//   leader-epoch-checkpoint:                                           "<epoch> <startOffset>"
//
// A checkpoint is never half-written: it goes to `<name>.tmp`, is fsynced, renamed over the old
// file, and the directory is fsynced so that the rename itself survives a crash. A reader thus
// sees either the old or the new file, whole.
//
// A new leader epoch is written "in place" instead (writeLinesInPlace): the file is overwritten
// where it is, without a temp file, rename or fsync. On ext4 each temp file is a new inode, and
// every partition's first batch under a new epoch, on each follower, wrote one on the request path:
// 2,000 inode creations for a new 1000-partition topic at RF 3, the cost of that whole phase in
// profiles. A process crash cannot tear a write() of a few bytes into the page cache, so in place
// is as atomic for a process crash as the rename; a torn file (a machine crash, a failed write that
// could not be undone) fails the checks below, since every file ends in a newline after exactly
// the count of entries its second line gives, and the caller rebuilds what the file held.
//
// The periodic HW and recovery-point checkpoints are written "in the background": the same steps,
// with both fsyncs on libuv's thread pool. Under load one such write held a broker's event loop for
// 7 ms (p50) to 30 ms; Kafka writes them from a scheduler thread, off the request path too.

import * as path from 'node:path';
import { TributaryError } from '@tributary/protocol';
import { fsyncDir, fsyncDirInBackground, nodeFs, storageError, writeFully, writeFullyInBackground, type StorageFs } from './fs.ts';

const VERSION = 0;

/** The shared line format; `fieldCount` fields per entry line. */
export class CheckpointFile {
  readonly path: string;
  private readonly fieldCount: number;
  private readonly fs: StorageFs;
  /** Bumped by every write: a background write renames only if no later write has started. */
  private generation = 0;
  private background: Promise<void> | undefined;
  /**
   * What the file holds, as far as this process knows (read or written by it); undefined when
   * that is unknown, the file is absent, or a failed write may have torn it. In-place writes need
   * it: to skip ftruncate when the file does not shrink, and to put it back when a write fails.
   */
  private onDisk: Buffer | undefined;

  constructor(filePath: string, fieldCount: number, fs: StorageFs = nodeFs) {
    this.path = filePath;
    this.fieldCount = fieldCount;
    this.fs = fs;
  }

  /** Entry lines split into fields; [] when the file does not exist. Throws KAFKA_STORAGE_ERROR when malformed. */
  readLines(): string[][] {
    let bytes: Buffer;
    this.onDisk = undefined;
    try {
      if (!this.fs.existsSync(this.path)) return [];
      bytes = this.fs.readFileSync(this.path);
    } catch (err) {
      throw storageError(`reading checkpoint ${this.path}`, err);
    }
    const text = bytes.toString('utf8');
    const malformed = (why: string) => new TributaryError('KAFKA_STORAGE_ERROR', `malformed checkpoint ${this.path}: ${why}`);
    // Every writer ends the file with a newline: without one, the last entry may be cut short.
    if (!text.endsWith('\n')) throw malformed('it does not end in a newline (torn write)');
    const lines = text.split('\n');
    lines.pop();
    if (lines.length < 2) throw malformed('missing version or count line');
    if (lines[0] !== String(VERSION)) throw malformed(`unknown version ${JSON.stringify(lines[0])}`);
    const count = Number(lines[1]);
    if (!Number.isSafeInteger(count) || count < 0 || lines.length !== count + 2) {
      throw malformed(`count line says ${JSON.stringify(lines[1])} but ${lines.length - 2} entries follow`);
    }
    const entries = lines.slice(2).map((line, i) => {
      const fields = line.split(' ');
      if (fields.length !== this.fieldCount || fields.some((f) => f === '')) throw malformed(`entry ${i + 1} ${JSON.stringify(line)}`);
      return fields;
    });
    this.onDisk = bytes;
    return entries;
  }

  /** Atomically and durably replaces the file with these entries (temp file, fsync, rename, fsync dir). */
  writeLines(entries: readonly string[][]): void {
    this.writeBody(checkpointBody(entries), true);
  }

  /**
   * The rename way. With `durable` false the fsyncs are skipped: the rename still makes the swap
   * atomic for a process crash, but a machine crash may leave the previous version.
   */
  private writeBody(body: Buffer, durable: boolean): void {
    this.generation++;
    const tmp = `${this.path}.tmp`;
    let fd: number | undefined;
    try {
      fd = this.fs.openSync(tmp, 'w');
      writeFully(this.fs, fd, body, 0);
      if (durable) this.fs.fsyncSync(fd);
      this.fs.closeSync(fd);
      fd = undefined;
      this.fs.renameSync(tmp, this.path);
      this.onDisk = body;
      if (durable) fsyncDir(this.fs, path.dirname(this.path));
    } catch (err) {
      this.discardTemp(tmp, fd);
      throw storageError(`writing checkpoint ${this.path}`, err);
    }
  }

  /** Writes an empty checkpoint (not durable) when there is no file; call after readLines. */
  createIfAbsent(): void {
    if (this.onDisk === undefined && !this.fs.existsSync(this.path)) this.writeBody(checkpointBody([]), false);
  }

  /**
   * Overwrites the file in place, without fsync (see the header): for frequent changes on the
   * request path that a machine crash may lose. Falls back to writeLines (not durable) when the
   * file is absent or its content unknown. A failed write puts the previous content back the
   * rename way, or removes the file when even that fails, and throws KAFKA_STORAGE_ERROR.
   */
  writeLinesInPlace(entries: readonly string[][]): void {
    const previous = this.onDisk;
    const body = checkpointBody(entries);
    if (previous === undefined) {
      this.writeBody(body, false);
      return;
    }
    this.generation++;
    let fd: number | undefined;
    try {
      fd = this.fs.openSync(this.path, 'r+');
      writeFully(this.fs, fd, body, 0);
      if (body.length < previous.length) this.fs.ftruncateSync(fd, body.length);
      const closing = fd;
      fd = undefined;
      this.fs.closeSync(closing);
      this.onDisk = body;
    } catch (err) {
      this.closeQuietly(fd);
      this.onDisk = undefined;
      try {
        this.writeBody(previous, false);
      } catch {
        // The disk refuses that too. A part-written file can read as well-formed (the new
        // entries' first bytes over the old ones'), so it goes: a missing file is an empty one.
        try {
          this.fs.unlinkSync(this.path);
        } catch {
          // Nothing more to try; the next write goes the rename way again.
        }
      }
      throw storageError(`writing checkpoint ${this.path}`, err);
    }
  }

  /**
   * writeLines (durable) with both fsyncs on libuv's thread pool, so the event loop does not wait
   * on the disk. A write still in flight is not doubled: its promise is returned. A later
   * writeLines wins: a background write that finds one started after it drops its own file.
   */
  writeLinesInBackground(entries: readonly string[][]): Promise<void> {
    if (this.background !== undefined) return this.background;
    const written = this.writeInBackground(entries, ++this.generation).finally(() => {
      this.background = undefined;
    });
    this.background = written;
    return written;
  }

  /** Settles once no background write is in flight (never rejects). */
  async settled(): Promise<void> {
    await this.background?.catch(() => undefined);
  }

  private async writeInBackground(entries: readonly string[][], generation: number): Promise<void> {
    // Its own temp file: a synchronous writeLines meanwhile must not truncate this one under it.
    const tmp = `${this.path}.background.tmp`;
    let fd: number | undefined;
    try {
      const body = checkpointBody(entries);
      fd = await this.fs.open(tmp, 'w');
      await writeFullyInBackground(this.fs, fd, body, 0);
      await this.fs.fsync(fd);
      const closing = fd;
      fd = undefined;
      await this.fs.close(closing);
      // Checked and renamed in one step of the event loop (so the rename stays synchronous): no
      // synchronous write can come between and be overwritten by these older entries.
      if (generation !== this.generation) {
        this.fs.unlinkSync(tmp);
        return;
      }
      this.fs.renameSync(tmp, this.path);
      this.onDisk = body;
      await fsyncDirInBackground(this.fs, path.dirname(this.path));
    } catch (err) {
      this.discardTemp(tmp, fd);
      throw storageError(`writing checkpoint ${this.path}`, err);
    }
  }

  /** After a failed write: closes the temp file if open and removes it. */
  private discardTemp(tmp: string, fd: number | undefined): void {
    this.closeQuietly(fd);
    try {
      if (this.fs.existsSync(tmp)) this.fs.unlinkSync(tmp);
    } catch {
      // A leftover temp file is harmless: it is never read and is overwritten next time.
    }
  }

  /** After a failed write: closes `fd` if open; the write's error is the one to report. */
  private closeQuietly(fd: number | undefined): void {
    if (fd === undefined) return;
    try {
      this.fs.closeSync(fd);
    } catch {
      // The write already failed; the close error adds nothing.
    }
  }
}

function checkpointBody(entries: readonly string[][]): Buffer {
  return Buffer.from(`${[String(VERSION), String(entries.length), ...entries.map((e) => e.join(' '))].join('\n')}\n`, 'utf8');
}

function parseOffset(s: string, file: string): number {
  const n = Number(s);
  if (!/^-?\d+$/.test(s) || !Number.isSafeInteger(n)) {
    throw new TributaryError('KAFKA_STORAGE_ERROR', `malformed checkpoint ${file}: bad number ${JSON.stringify(s)}`);
  }
  return n;
}

/**
 * Per-partition offsets for a data dir (Kafka's replication-offset-checkpoint and
 * recovery-point-offset-checkpoint). Keys are `${topic}-${partition}`.
 */
export class OffsetCheckpointFile {
  private readonly file: CheckpointFile;

  constructor(filePath: string, fs: StorageFs = nodeFs) {
    this.file = new CheckpointFile(filePath, 3, fs);
  }

  get path(): string {
    return this.file.path;
  }

  read(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [topic, partition, offset] of this.file.readLines()) {
      out.set(`${topic}-${parseOffset(partition!, this.file.path)}`, parseOffset(offset!, this.file.path));
    }
    return out;
  }

  write(entries: Map<string, number>): void {
    this.file.writeLines(offsetLines(entries));
  }

  /** write() with the fsyncs off the event loop (see CheckpointFile.writeLinesInBackground). */
  writeInBackground(entries: Map<string, number>): Promise<void> {
    return this.file.writeLinesInBackground(offsetLines(entries));
  }

  /** Settles once no background write is in flight. */
  settled(): Promise<void> {
    return this.file.settled();
  }
}

function offsetLines(entries: Map<string, number>): string[][] {
  const lines: string[][] = [];
  for (const [key, offset] of entries) {
    const { topic, partition } = parseTopicPartition(key);
    lines.push([topic, String(partition), String(offset)]);
  }
  return lines;
}

/** Splits `${topic}-${partition}` at the LAST '-': topic names may themselves contain '-'. */
export function parseTopicPartition(name: string): { topic: string; partition: number } {
  const dash = name.lastIndexOf('-');
  const partition = Number(name.slice(dash + 1));
  if (dash <= 0 || !/^\d+$/.test(name.slice(dash + 1)) || !Number.isSafeInteger(partition)) {
    throw new TributaryError('INVALID_REQUEST', `not a <topic>-<partition> name: ${JSON.stringify(name)}`);
  }
  return { topic: name.slice(0, dash), partition };
}
