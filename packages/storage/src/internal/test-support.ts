// Test-only helpers shared by the storage tests: temp dirs, batch builders, a seeded PRNG and a
// StorageFs that fails on demand. Not exported from the package.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeBatches, encodeBatch, iterateBatches, readBatchHeader, type CompressionCodec } from '@tributary/protocol';
import { nodeFs, type StorageFs } from '../fs.ts';
import type { Log, LogConfig } from '../log.ts';

export const NEVER = Number.MAX_SAFE_INTEGER;

export function testConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return {
    segmentBytes: 1024 * 1024,
    segmentMs: NEVER,
    indexIntervalBytes: 256,
    retentionBytes: -1,
    retentionMs: -1,
    flushMessages: NEVER,
    flushMs: NEVER,
    compact: false,
    delete: true,
    deleteRetentionMs: 86_400_000,
    minCleanableDirtyRatio: 0.5,
    minCompactionLagMs: 0,
    maxCompactionLagMs: NEVER,
    ...overrides,
  };
}

const dirs: string[] = [];

export function tempDir(prefix = 'tributary-storage-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** A batch of `values` (as UTF-8) with offsets from `baseOffset` and timestamps from `timestamp`. */
export function batch(values: string[], options: { baseOffset?: number; epoch?: number; timestamp?: number } = {}): Buffer {
  const timestamp = options.timestamp ?? 1_000_000;
  return encodeBatch(
    values.map((v, i) => ({ value: Buffer.from(v), key: null, timestamp: timestamp + i })),
    {
      baseOffset: options.baseOffset ?? 0,
      partitionLeaderEpoch: options.epoch ?? -1,
      baseTimestamp: timestamp,
    },
  );
}

/** Every record value from the log start to the log end, read in chunks of `maxBytes`. */
export function readAllValues(log: Log, maxBytes = 1 << 20): { offset: number; value: string }[] {
  const out: { offset: number; value: string }[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const buf = log.read(offset, maxBytes);
    if (buf.length === 0) throw new Error(`empty read at ${offset} below the log end ${log.logEndOffset}`);
    for (const r of decodeBatches(buf)) {
      if (r.offset >= offset) out.push({ offset: r.offset, value: r.value!.toString() });
    }
    let last = offset;
    for (const b of iterateBatches(buf)) {
      const h = readBatchHeader(b);
      last = h.baseOffset + h.lastOffsetDelta;
    }
    offset = last + 1;
  }
  return out;
}

/** mulberry32: a tiny seeded PRNG, so a failing run replays from its printed seed. */
export function prng(seed: number): { next(): number; int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T; chance(p: number): boolean } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  return { next, int, pick: (xs) => xs[int(0, xs.length - 1)]!, chance: (p) => next() < p };
}

export function errno(code: 'EIO' | 'ENOSPC', syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected ${syscall} failure`), { code, errno: code === 'EIO' ? -5 : -28, syscall });
}

type Op = 'writeSync' | 'fsyncSync' | 'renameSync' | 'openSync' | 'ftruncateSync';

/**
 * A StorageFs that delegates to node:fs but fails chosen calls: `failOn(op, code, { when, partialBytes })`
 * arms a failure for the next call of `op` that matches `when` (e.g. the path or fd); with
 * `partialBytes` a writeSync first writes that many bytes, as a full disk does, then throws.
 */
export class FaultyFs implements StorageFs {
  private readonly armed: { op: Op; code: 'EIO' | 'ENOSPC'; when: (arg: unknown) => boolean; partialBytes?: number; times: number }[] = [];
  private readonly fdPaths = new Map<number, string>();
  failures = 0;

  failOn(op: Op, code: 'EIO' | 'ENOSPC', options: { when?: (pathOrFdPath: string) => boolean; partialBytes?: number; times?: number } = {}): void {
    const when = options.when ?? (() => true);
    this.armed.push({ op, code, when: (arg) => when(String(arg)), partialBytes: options.partialBytes, times: options.times ?? 1 });
  }

  disarm(): void {
    this.armed.length = 0;
  }

  private check(op: Op, arg: unknown): { code: 'EIO' | 'ENOSPC'; partialBytes?: number } | undefined {
    const subject = typeof arg === 'number' ? (this.fdPaths.get(arg) ?? '') : arg;
    const i = this.armed.findIndex((a) => a.op === op && a.when(subject));
    if (i < 0) return undefined;
    const hit = this.armed[i]!;
    if (--hit.times <= 0) this.armed.splice(i, 1);
    this.failures++;
    return hit;
  }

  openSync(p: string, flags: string): number {
    const f = this.check('openSync', p);
    if (f) throw errno(f.code, 'open');
    const fd = nodeFs.openSync(p, flags);
    this.fdPaths.set(fd, p);
    return fd;
  }
  closeSync(fd: number): void {
    this.fdPaths.delete(fd);
    nodeFs.closeSync(fd);
  }
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    const f = this.check('writeSync', fd);
    if (f) {
      if (f.partialBytes !== undefined && f.partialBytes > 0) nodeFs.writeSync(fd, buffer, offset, Math.min(f.partialBytes, length), position);
      throw errno(f.code, 'write');
    }
    return nodeFs.writeSync(fd, buffer, offset, length, position);
  }
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    return nodeFs.readSync(fd, buffer, offset, length, position);
  }
  fsyncSync(fd: number): void {
    const f = this.check('fsyncSync', fd);
    if (f) throw errno(f.code, 'fsync');
    nodeFs.fsyncSync(fd);
  }
  // The thread-pool calls fail on the same arming as their synchronous twins: a sick disk fails
  // both the same way.
  async open(p: string, flags: string): Promise<number> {
    const f = this.check('openSync', p);
    if (f) throw errno(f.code, 'open');
    const fd = await nodeFs.open(p, flags);
    this.fdPaths.set(fd, p);
    return fd;
  }
  async write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const f = this.check('writeSync', fd);
    if (f) {
      if (f.partialBytes !== undefined && f.partialBytes > 0) await nodeFs.write(fd, buffer, offset, Math.min(f.partialBytes, length), position);
      throw errno(f.code, 'write');
    }
    return nodeFs.write(fd, buffer, offset, length, position);
  }
  async fsync(fd: number): Promise<void> {
    const f = this.check('fsyncSync', fd);
    if (f) throw errno(f.code, 'fsync');
    await nodeFs.fsync(fd);
  }
  async close(fd: number): Promise<void> {
    this.fdPaths.delete(fd);
    await nodeFs.close(fd);
  }

  ftruncateSync(fd: number, length: number): void {
    const f = this.check('ftruncateSync', fd);
    if (f) throw errno(f.code, 'ftruncate');
    nodeFs.ftruncateSync(fd, length);
  }
  fstatSync(fd: number) {
    return nodeFs.fstatSync(fd);
  }
  statSync(p: string) {
    return nodeFs.statSync(p);
  }
  renameSync(from: string, to: string): void {
    const f = this.check('renameSync', to);
    if (f) throw errno(f.code, 'rename');
    nodeFs.renameSync(from, to);
  }
  unlinkSync(p: string): void {
    nodeFs.unlinkSync(p);
  }
  readdirSync(p: string): string[] {
    return nodeFs.readdirSync(p);
  }
  mkdirSync(p: string): void {
    nodeFs.mkdirSync(p);
  }
  rmSync(p: string): void {
    nodeFs.rmSync(p);
  }
  existsSync(p: string): boolean {
    return nodeFs.existsSync(p);
  }
  readFileSync(p: string): Buffer {
    return nodeFs.readFileSync(p);
  }
}

/** The .log files of a log dir, oldest first. */
export function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .map((n) => path.join(dir, n));
}

/** One record of a compacted topic: a key and a value, null for a tombstone. */
export type KV = [key: string, value: string | null];

/** A batch of keyed records (optionally an idempotent producer's), timestamps from `timestamp`. */
export function keyedBatch(
  entries: readonly KV[],
  options: {
    baseOffset?: number;
    epoch?: number;
    timestamp?: number;
    producerId?: number;
    producerEpoch?: number;
    baseSequence?: number;
    compression?: CompressionCodec;
  } = {},
): Buffer {
  const timestamp = options.timestamp ?? 1_000_000;
  return encodeBatch(
    entries.map(([k, v], i) => ({ key: Buffer.from(k), value: v === null ? null : Buffer.from(v), timestamp: timestamp + i })),
    {
      baseOffset: options.baseOffset ?? 0,
      partitionLeaderEpoch: options.epoch ?? -1,
      baseTimestamp: timestamp,
      ...(options.compression !== undefined ? { compression: options.compression } : {}),
      ...(options.producerId !== undefined
        ? { producerId: options.producerId, producerEpoch: options.producerEpoch ?? 0, baseSequence: options.baseSequence ?? 0 }
        : {}),
    },
  );
}

/** Every record from the log start to the end, as (offset, key, value), read in chunks of `maxBytes`. */
export function readAllRecords(log: Log, maxBytes = 1 << 20): { offset: number; key: string | null; value: string | null }[] {
  const out: { offset: number; key: string | null; value: string | null }[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const buf = log.read(offset, maxBytes);
    if (buf.length === 0) throw new Error(`empty read at ${offset} below the log end ${log.logEndOffset}`);
    for (const r of decodeBatches(buf)) {
      if (r.offset >= offset)
        out.push({ offset: r.offset, key: r.key === null ? null : r.key.toString(), value: r.value === null ? null : r.value.toString() });
    }
    let last = offset;
    for (const b of iterateBatches(buf)) {
      const h = readBatchHeader(b);
      last = h.baseOffset + h.lastOffsetDelta;
    }
    offset = last + 1;
  }
  return out;
}

/** The batch headers of the whole log: [baseOffset, lastOffset] pairs, oldest first. */
export function batchRanges(log: Log): [number, number][] {
  const out: [number, number][] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    for (const b of iterateBatches(log.read(offset, 1 << 20))) {
      const h = readBatchHeader(b);
      out.push([h.baseOffset, h.baseOffset + h.lastOffsetDelta]);
      offset = h.baseOffset + h.lastOffsetDelta + 1;
    }
  }
  return out;
}

/**
 * A process that dies at its `crashAt`-th disk mutation (open for writing, write, truncate,
 * fsync, rename, unlink, mkdir, rm; counted from 1): that call fails, a write first putting down
 * `tornBytes` of its bytes (a torn write), and every mutation after it fails too, so no cleanup
 * code of the dead process reaches the disk. Reads still work. `crashAt` Infinity counts the
 * mutations of a run that does not crash (`mutations`).
 */
export class CrashingFs implements StorageFs {
  crashAt: number;
  tornBytes: number;
  mutations = 0;
  dead = false;

  constructor(crashAt: number, tornBytes = 0) {
    this.crashAt = crashAt;
    this.tornBytes = tornBytes;
  }

  /** Dies at the `n`-th mutation from now (1: the next one). */
  arm(n: number, tornBytes = 0): void {
    this.crashAt = this.mutations + n;
    this.tornBytes = tornBytes;
  }

  /** Counts a mutation; throws when this one is the crash or the process is dead. */
  private mutate(what: string, torn?: () => void): void {
    if (this.dead) throw errno('EIO', `${what} after the crash`);
    this.mutations++;
    if (this.mutations >= this.crashAt) {
      this.dead = true;
      torn?.();
      throw errno('EIO', `${what} (the crash)`);
    }
  }

  openSync(p: string, flags: string): number {
    if (flags !== 'r') this.mutate(`open ${p}`);
    return nodeFs.openSync(p, flags);
  }
  closeSync(fd: number): void {
    nodeFs.closeSync(fd);
  }
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    this.mutate('write', () => {
      if (this.tornBytes > 0) nodeFs.writeSync(fd, buffer, offset, Math.min(this.tornBytes, length), position);
    });
    return nodeFs.writeSync(fd, buffer, offset, length, position);
  }
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    return nodeFs.readSync(fd, buffer, offset, length, position);
  }
  fsyncSync(fd: number): void {
    this.mutate('fsync');
    nodeFs.fsyncSync(fd);
  }
  async open(p: string, flags: string): Promise<number> {
    return this.openSync(p, flags);
  }
  async write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.writeSync(fd, buffer, offset, length, position);
  }
  async fsync(fd: number): Promise<void> {
    this.fsyncSync(fd);
  }
  async close(fd: number): Promise<void> {
    nodeFs.closeSync(fd);
  }
  ftruncateSync(fd: number, length: number): void {
    this.mutate('ftruncate');
    nodeFs.ftruncateSync(fd, length);
  }
  fstatSync(fd: number) {
    return nodeFs.fstatSync(fd);
  }
  statSync(p: string) {
    return nodeFs.statSync(p);
  }
  renameSync(from: string, to: string): void {
    this.mutate(`rename ${from} -> ${to}`);
    nodeFs.renameSync(from, to);
  }
  unlinkSync(p: string): void {
    this.mutate(`unlink ${p}`);
    nodeFs.unlinkSync(p);
  }
  readdirSync(p: string): string[] {
    return nodeFs.readdirSync(p);
  }
  mkdirSync(p: string): void {
    this.mutate(`mkdir ${p}`);
    nodeFs.mkdirSync(p);
  }
  rmSync(p: string): void {
    this.mutate(`rm ${p}`);
    nodeFs.rmSync(p);
  }
  existsSync(p: string): boolean {
    return nodeFs.existsSync(p);
  }
  readFileSync(p: string): Buffer {
    return nodeFs.readFileSync(p);
  }
}
