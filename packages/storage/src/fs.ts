// The filesystem edge of the storage package. Every file operation goes through a StorageFs so
// that tests can inject one that fails writes, fsyncs or renames (STYLE.md § Tests, fault
// injection) and prove that the log survives a sick disk. Synchronous calls, because the broker
// is single-threaded and a synchronous append cannot interleave with another; the exceptions are
// the few promise-returning calls the periodic checkpoints use, so that their file creation,
// writes and fsyncs happen on libuv's thread pool, not on the event loop every request waits on.

import * as fs from 'node:fs';
import { TributaryError } from '@tributary/protocol';

export interface StorageStats {
  size: number;
  /** Last modification: a segment's last append (time-based roll and retention after a restart). */
  mtimeMs: number;
  isDirectory(): boolean;
}

export interface StorageFs {
  openSync(path: string, flags: string): number;
  closeSync(fd: number): void;
  /** Positional write: `position` is always given, so a failed write never moves a file cursor. */
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  fsyncSync(fd: number): void;
  /** openSync, writeSync, fsyncSync and closeSync on libuv's thread pool. */
  open(path: string, flags: string): Promise<number>;
  write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  fsync(fd: number): Promise<void>;
  close(fd: number): Promise<void>;
  ftruncateSync(fd: number, length: number): void;
  fstatSync(fd: number): StorageStats;
  statSync(path: string): StorageStats;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
  readdirSync(path: string): string[];
  mkdirSync(path: string): void;
  rmSync(path: string): void;
  existsSync(path: string): boolean;
  readFileSync(path: string): Buffer;
}

export const nodeFs: StorageFs = {
  openSync: (path, flags) => fs.openSync(path, flags),
  closeSync: (fd) => fs.closeSync(fd),
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  open: (path, flags) => new Promise((resolve, reject) => fs.open(path, flags, (err, fd) => (err ? reject(err) : resolve(fd)))),
  write: (fd, buffer, offset, length, position) =>
    new Promise((resolve, reject) => fs.write(fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)))),
  fsync: (fd) => new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve()))),
  close: (fd) => new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve()))),
  ftruncateSync: (fd, length) => fs.ftruncateSync(fd, length),
  fstatSync: (fd) => fs.fstatSync(fd),
  statSync: (path) => fs.statSync(path),
  renameSync: (from, to) => fs.renameSync(from, to),
  unlinkSync: (path) => fs.unlinkSync(path),
  readdirSync: (path) => fs.readdirSync(path),
  mkdirSync: (path) => {
    fs.mkdirSync(path, { recursive: true });
  },
  rmSync: (path) => fs.rmSync(path, { recursive: true, force: true }),
  existsSync: (path) => fs.existsSync(path),
  readFileSync: (path) => fs.readFileSync(path),
};

/** Wraps an I/O failure (EIO, ENOSPC, ...) as the operating error the broker reports per partition. */
export function storageError(what: string, cause: unknown): TributaryError {
  const code = (cause as { code?: unknown } | null)?.code;
  return new TributaryError('KAFKA_STORAGE_ERROR', `${what} failed${typeof code === 'string' ? ` (${code})` : ''}`, { cause });
}

/** Writes all of `buf` at `position`, looping over short writes. */
export function writeFully(fsys: StorageFs, fd: number, buf: Uint8Array, position: number, offset = 0, length = buf.length - offset): void {
  let done = 0;
  while (done < length) {
    const n = fsys.writeSync(fd, buf, offset + done, length - done, position + done);
    if (n <= 0) throw shortWrite(n);
    done += n;
  }
}

/** Reads up to `length` bytes at `position`, looping over short reads; returns bytes read. */
export function readFully(fsys: StorageFs, fd: number, buf: Uint8Array, position: number, offset = 0, length = buf.length - offset): number {
  let done = 0;
  while (done < length) {
    const n = fsys.readSync(fd, buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * Makes a rename or file creation in `dir` durable. Without it a crash may lose the directory
 * entry even though the file's bytes were fsynced.
 */
export function fsyncDir(fsys: StorageFs, dir: string): void {
  const fd = fsys.openSync(dir, 'r');
  try {
    fsys.fsyncSync(fd);
  } finally {
    fsys.closeSync(fd);
  }
}

/** fsyncDir on libuv's thread pool. */
export async function fsyncDirInBackground(fsys: StorageFs, dir: string): Promise<void> {
  const fd = await fsys.open(dir, 'r');
  try {
    await fsys.fsync(fd);
  } finally {
    await fsys.close(fd);
  }
}

/** writeFully on libuv's thread pool. */
export async function writeFullyInBackground(fsys: StorageFs, fd: number, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const n = await fsys.write(fd, buf, done, buf.length - done, position + done);
    if (n <= 0) throw shortWrite(n);
    done += n;
  }
}

/** A write that made no progress: reported as the disk error it is. */
function shortWrite(n: number): Error {
  return Object.assign(new Error(`short write: ${n} bytes`), { code: 'EIO' });
}
