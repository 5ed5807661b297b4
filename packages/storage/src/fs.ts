// The filesystem edge of the storage package. Every file operation goes through a StorageFs so
// that tests can inject one that fails writes, fsyncs or renames (STYLE.md § Tests, fault
// injection) and prove that the log survives a sick disk. Only synchronous calls: the broker is
// single-threaded and a synchronous append cannot interleave with another.

import * as fs from 'node:fs';
import { TributaryError } from '@tributary/protocol';

export interface StorageStats {
  size: number;
  isDirectory(): boolean;
}

export interface StorageFs {
  openSync(path: string, flags: string): number;
  closeSync(fd: number): void;
  /** Positional write: `position` is always given, so a failed write never moves a file cursor. */
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  fsyncSync(fd: number): void;
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
    if (n <= 0) throw Object.assign(new Error(`short write: ${n} bytes`), { code: 'EIO' });
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
