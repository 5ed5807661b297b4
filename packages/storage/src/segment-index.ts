// The sparse offset index of one segment: `<20-digit base offset>.index`.
//
//   offset  size  field           notes
//   ------  ----  --------------  ------------------------------------------------------------
//        0     4  relativeOffset  int32 BE: a batch's baseOffset minus the segment's base offset
//        4     4  position        int32 BE: byte position of that batch in the .log file
//        8   ...  next entry      entries are 8 bytes, both fields strictly increasing
//
// One entry is added each time index.interval.bytes of log have been written since the last one,
// so a lookup is a binary search for the last entry at or below the target and then a short scan
// of batch headers from its position. Offsets are relative so that a 4-byte field suffices; the
// segment rolls before its offsets or positions outgrow an int32.
//
// The index is only a hint: recovery rebuilds it for every segment it scans, a missing or
// malformed one is rebuilt from the log, and a lookup that lands on a position whose batch does
// not carry the indexed offset makes the segment rebuild it. New entries are kept in memory and
// written out on roll, flush and close, which keeps the append path to one write per batch; a
// crash loses only entries of segments past the recovery point, which recovery rebuilds anyway.
//
// A new segment's index file is created with its first entry (`openLazily`), as Kafka's LazyIndex
// defers its files: a partition created empty costs one file less (on this VM's disk a file
// creation costs ~0.5 ms, and a 10,000-partition topic creates 30,000 replicas). So a missing
// index file is what a segment without entries has; loading rebuilds it from the log either way.

import { readFully, writeFully, type StorageFs } from './fs.ts';
import { assert } from '@tributary/protocol';

export const INDEX_ENTRY_SIZE = 8;
export const INT32_MAX = 0x7fffffff;

export class SegmentIndex {
  readonly path: string;
  private readonly fs: StorageFs;
  /** undefined: not created yet (a lazily opened index before its first entry); -1: closed. */
  private fd: number | undefined;
  private rel: Int32Array;
  private pos: Int32Array;
  private count = 0;
  /** Entries [0, persisted) are in the file. */
  private persisted = 0;

  private constructor(path: string, fs: StorageFs, fd: number | undefined) {
    this.path = path;
    this.fs = fs;
    this.fd = fd;
    this.rel = new Int32Array(64);
    this.pos = new Int32Array(64);
  }

  /** Opens (creating if missing) the index file with no entries loaded; see `load`. */
  static open(path: string, fs: StorageFs): SegmentIndex {
    const fd = fs.openSync(path, fs.existsSync(path) ? 'r+' : 'w+');
    return new SegmentIndex(path, fs, fd);
  }

  /** A new segment's index: no file until its first entry is written out (then created, replacing any of that name). */
  static openLazily(path: string, fs: StorageFs): SegmentIndex {
    return new SegmentIndex(path, fs, undefined);
  }

  /** The file, created now if it was deferred. */
  private file(): number {
    if (this.fd === undefined) this.fd = this.fs.openSync(this.path, 'w+');
    assert(this.fd >= 0, `${this.path} is closed`);
    return this.fd;
  }

  get entryCount(): number {
    return this.count;
  }

  get lastRelativeOffset(): number {
    return this.count === 0 ? -1 : this.rel[this.count - 1]!;
  }

  get lastPosition(): number {
    return this.count === 0 ? 0 : this.pos[this.count - 1]!;
  }

  /**
   * Loads the file's entries, checking that both columns strictly increase and stay inside a log
   * of `logSize` bytes. Returns false (leaving the index empty) when the file is malformed; the
   * caller then rebuilds it from the log.
   */
  load(logSize: number): boolean {
    const size = this.fs.fstatSync(this.file()).size;
    this.count = 0;
    this.persisted = 0;
    if (size % INDEX_ENTRY_SIZE !== 0) return false;
    const buf = Buffer.allocUnsafe(size);
    if (readFully(this.fs, this.file(), buf, 0) !== size) return false;
    let prevRel = -1;
    let prevPos = -1;
    for (let at = 0; at < size; at += INDEX_ENTRY_SIZE) {
      const rel = buf.readInt32BE(at);
      const pos = buf.readInt32BE(at + 4);
      if (rel <= prevRel || pos <= prevPos || pos >= logSize) {
        this.count = 0;
        return false;
      }
      this.push(rel, pos);
      prevRel = rel;
      prevPos = pos;
    }
    this.persisted = this.count;
    return true;
  }

  /** Adds an entry in memory; `flushToFile` writes it out. */
  append(relativeOffset: number, position: number): void {
    assert(
      relativeOffset > this.lastRelativeOffset && (this.count === 0 || position > this.lastPosition),
      `index entries must increase: ${relativeOffset}@${position} after ${this.lastRelativeOffset}@${this.lastPosition}`,
    );
    assert(relativeOffset <= INT32_MAX && position <= INT32_MAX, 'index entry outgrew int32');
    this.push(relativeOffset, position);
  }

  private push(relativeOffset: number, position: number): void {
    if (this.count === this.rel.length) {
      const rel = new Int32Array(this.rel.length * 2);
      rel.set(this.rel);
      const pos = new Int32Array(this.pos.length * 2);
      pos.set(this.pos);
      this.rel = rel;
      this.pos = pos;
    }
    this.rel[this.count] = relativeOffset;
    this.pos[this.count] = position;
    this.count++;
  }

  /** The last entry with relativeOffset <= `relativeOffset` (binary search), or the segment start. */
  lookup(relativeOffset: number): { relativeOffset: number; position: number } {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rel[mid]! <= relativeOffset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? { relativeOffset: 0, position: 0 } : { relativeOffset: this.rel[found]!, position: this.pos[found]! };
  }

  /** The last entry with position <= `position` (binary search), or the segment start. */
  lookupPosition(position: number): { relativeOffset: number; position: number } {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.pos[mid]! <= position) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? { relativeOffset: 0, position: 0 } : { relativeOffset: this.rel[found]!, position: this.pos[found]! };
  }

  /** Drops every entry pointing at or past `logSize` (the log was truncated there), in memory and file. */
  truncateToPosition(logSize: number): void {
    let keep = this.count;
    while (keep > 0 && this.pos[keep - 1]! >= logSize) keep--;
    if (keep === this.count) return;
    this.count = keep;
    if (this.persisted > keep) {
      this.persisted = keep;
      this.fs.ftruncateSync(this.file(), keep * INDEX_ENTRY_SIZE);
    }
  }

  /** Forgets every entry and empties the file (before a rebuild). */
  reset(): void {
    this.count = 0;
    this.persisted = 0;
    if (this.fd !== undefined) this.fs.ftruncateSync(this.file(), 0);
  }

  /** Writes entries not yet in the file. */
  flushToFile(): void {
    if (this.persisted === this.count) return;
    const n = this.count - this.persisted;
    const buf = Buffer.allocUnsafe(n * INDEX_ENTRY_SIZE);
    for (let i = 0; i < n; i++) {
      buf.writeInt32BE(this.rel[this.persisted + i]!, i * INDEX_ENTRY_SIZE);
      buf.writeInt32BE(this.pos[this.persisted + i]!, i * INDEX_ENTRY_SIZE + 4);
    }
    const fd = this.file();
    try {
      writeFully(this.fs, fd, buf, this.persisted * INDEX_ENTRY_SIZE);
    } catch (err) {
      // Cut the file back to whole persisted entries so a torn entry is never loaded.
      try {
        this.fs.ftruncateSync(fd, this.persisted * INDEX_ENTRY_SIZE);
      } catch {
        // The load-time check rejects a torn index anyway.
      }
      throw err;
    }
    this.persisted = this.count;
  }

  fsync(): void {
    this.flushToFile();
    if (this.fd !== undefined) this.fs.fsyncSync(this.file());
  }

  /** fsync on libuv's thread pool, of the entries already written (call flushToFile first). */
  fsyncInBackground(): Promise<void> {
    return this.fd === undefined ? Promise.resolve() : this.fs.fsync(this.file());
  }

  close(): void {
    const fd = this.fd;
    this.fd = -1;
    if (fd !== undefined && fd >= 0) this.fs.closeSync(fd);
  }
}
