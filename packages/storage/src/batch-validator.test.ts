// The validator thread (batch-validator-thread.ts) and the leader append that overlaps its check
// with the write (Log.appendOverlapped), and the recovery check that covers a crash in between.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeBatch, readBatchHeader, setLastOffsetDelta, TributaryError, validateBatch } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { AWAKE, BatchValidatorThread, WAKEUPS, type BatchValidator } from './batch-validator-thread.ts';
import { Log, OVERLAP_MIN_BYTES } from './log.ts';
import { batch, FaultyFs, keyedBatch, readAllValues, removeTempDirs, segmentFiles, tempDir, testConfig } from './internal/test-support.ts';

afterEach(removeTempDirs);

/** Records per bigBatch: 250 of 40-byte values pass OVERLAP_MIN_BYTES, each record's length a one-byte varint. */
const N = 250;

function bigValues(count: number, tag: string): string[] {
  return Array.from({ length: count }, (_, i) => `${tag}${i}`.padEnd(40, '.'));
}

/** A batch of `count` records without keys. */
function bigBatch(count = N, tag = 'v'): Buffer {
  return batch(bigValues(count, tag));
}

/**
 * The batch with its first record's length varint raised by one and the CRC recomputed: only
 * the leader's full check (the record walk) can tell it is corrupt.
 */
function corruptRecords(good: Buffer): Buffer {
  const bad = Buffer.from(good);
  const first = 61; // the first record's length varint, right after the 61-byte header
  expect(bad[first]! < 0x7e).toBe(true); // a one-byte varint that stays one byte
  bad[first] = bad[first]! + 2; // zig-zag: +2 is a length one longer
  setLastOffsetDelta(bad, readBatchHeader(bad).lastOffsetDelta);
  return bad;
}

function errorOf(fn: () => unknown): TributaryError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TributaryError) return err;
    throw err;
  }
  throw new Error('expected a TributaryError');
}

/**
 * A validator that copies at `begin` and checks at `end`, in this thread: the Log's overlapped
 * path runs exactly as with the thread, deterministically. It notes the log file's size when the
 * verdict is asked for, to prove the batch was written first.
 */
class DeferredValidator implements BatchValidator {
  begun = 0;
  sizesAtVerdict: number[] = [];
  private pending: { copy: Buffer; keysRequired: boolean } | undefined;
  private readonly logFile: () => string;
  constructor(logFile: () => string) {
    this.logFile = logFile;
  }
  begin(batch: Buffer, keysRequired: boolean): boolean {
    this.begun++;
    this.pending = { copy: Buffer.from(batch), keysRequired };
    return true;
  }
  end(): void {
    const { copy, keysRequired } = this.pending!;
    this.pending = undefined;
    this.sizesAtVerdict.push(fs.statSync(this.logFile()).size);
    validateBatch(copy, { keysRequired });
  }
}

function openWithDeferred(config = testConfig(), options: { fs?: FaultyFs } = {}): { log: Log; validator: DeferredValidator; dir: string } {
  const dir = path.join(tempDir(), 't-0');
  const validator = new DeferredValidator(() => segmentFiles(dir).at(-1)!);
  const log = Log.open(dir, config, { validator, fs: options.fs });
  return { log, validator, dir };
}

describe('BatchValidatorThread', () => {
  /** Hands `batch` to the thread once its worker is awake (a sleeping one is only woken by `begin`). */
  function beginAwake(thread: BatchValidatorThread, batch: Buffer, keysRequired = false): void {
    const deadline = Date.now() + 5000;
    while (!thread.begin(batch, keysRequired)) {
      if (Date.now() > deadline) throw new Error('the validator thread never took a batch');
    }
  }

  it('gives the verdicts validateBatch gives inline, errors and messages alike', async () => {
    const thread = new BatchValidatorThread();
    expect(await thread.start()).toBe(true);
    const good = bigBatch();
    beginAwake(thread, good);
    thread.end();

    const bad = corruptRecords(good);
    const inline = errorOf(() => validateBatch(bad));
    expect(inline.code).toBe('CORRUPT_MESSAGE');
    beginAwake(thread, bad);
    const threaded = errorOf(() => thread.end());
    expect([threaded.code, threaded.message]).toEqual([inline.code, inline.message]);

    // A compacted topic's check: records without keys are refused with INVALID_RECORD.
    const keysInline = errorOf(() => validateBatch(good, { keysRequired: true }));
    expect(keysInline.code).toBe('INVALID_RECORD');
    beginAwake(thread, good, true);
    const keysThreaded = errorOf(() => thread.end());
    expect([keysThreaded.code, keysThreaded.message]).toEqual([keysInline.code, keysInline.message]);

    // The thread is reusable after a refusal.
    beginAwake(thread, good);
    thread.end();
  });

  it('checks compressed batches too, as inline (the codecs load in the worker)', async () => {
    const thread = new BatchValidatorThread();
    expect(await thread.start()).toBe(true);
    for (const compression of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
      const values = bigValues(N, compression);
      const good = encodeBatch(
        values.map((v) => ({ key: null, value: Buffer.from(v) })),
        { compression },
      );
      beginAwake(thread, good);
      thread.end();
      const keyless = errorOf(() => validateBatch(good, { keysRequired: true }));
      beginAwake(thread, good, true);
      const threaded = errorOf(() => thread.end());
      expect([compression, threaded.code, threaded.message]).toEqual([compression, keyless.code, keyless.message]);
    }
  });

  it('reports a worker that cannot start, and declines every batch from then on', async () => {
    const thread = new BatchValidatorThread({ workerUrl: new URL('./no-such-worker.ts', import.meta.url) });
    const failures: Error[] = [];
    thread.onFailure = (err) => failures.push(err);
    expect(await thread.start()).toBe(false);
    expect(failures).toHaveLength(1);
    expect(thread.begin(bigBatch(), false)).toBe(false);
  });

  it('checks the copy inline when the worker gives no verdict, reports it, and declines from then on', async () => {
    const thread = new BatchValidatorThread({ workerUrl: new URL('./internal/stuck-validator-worker.ts', import.meta.url), verdictTimeoutMs: 50 });
    const failures: Error[] = [];
    thread.onFailure = (err) => failures.push(err);
    expect(await thread.start()).toBe(true);
    const bad = corruptRecords(bigBatch());
    expect(thread.begin(bad, false)).toBe(true);
    const err = errorOf(() => thread.end());
    expect([err.code, err.message]).toEqual([errorOf(() => validateBatch(bad)).code, errorOf(() => validateBatch(bad)).message]);
    expect(failures.map((f) => f.message)).toEqual(['the batch validator thread gave no verdict in 50 ms']);
    expect(thread.begin(bigBatch(), false)).toBe(false);
  });

  it('declines what it cannot take, so the caller checks inline', async () => {
    const thread = new BatchValidatorThread();
    // Not started yet: begin starts it and declines.
    expect(thread.begin(bigBatch(), false)).toBe(false);
    expect(await thread.start()).toBe(true);
    // Bigger than its shared buffer.
    expect(thread.begin(Buffer.alloc(2 * 1024 * 1024), false)).toBe(false);
    // One batch at a time: a second begin before the end is declined.
    beginAwake(thread, bigBatch());
    expect(thread.begin(bigBatch(), false)).toBe(false);
    thread.end();
    expect(() => thread.end()).toThrow(/without begin/);
  });

  it('checks inline rather than wait for a sleeping worker, and wakes it for the next batch', async () => {
    const thread = new BatchValidatorThread();
    expect(await thread.start()).toBe(true);
    const control = (thread as unknown as { control: Int32Array }).control;
    // Once idle for a while the worker sleeps.
    const deadline = Date.now() + 5000;
    while (Atomics.load(control, AWAKE) !== 0) {
      if (Date.now() > deadline) throw new Error('the worker never went to sleep');
      await new Promise((r) => setTimeout(r, 1));
    }
    const wakeups = Atomics.load(control, WAKEUPS);
    expect(thread.begin(bigBatch(), false)).toBe(false);
    // ...and that begin woke it, with no batch to check. (A notify that lands between the
    // worker's AWAKE = 0 and its wait is lost; the next begin notifies again, so it is retried.)
    const woke = Date.now() + 5000;
    for (let sent = Date.now(); Atomics.load(control, WAKEUPS) === wakeups; ) {
      if (Date.now() > woke) throw new Error('begin did not wake the worker');
      if (Date.now() - sent > 200) {
        thread.begin(bigBatch(), false);
        sent = Date.now();
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  });
});

describe('Log.appendAsLeader with the check on the validator thread', () => {
  it('writes a big batch before its verdict and records it after', () => {
    const { log, validator } = openWithDeferred();
    log.appendAsLeader(bigBatch(10, 'small'), 1); // below OVERLAP_MIN_BYTES and the epoch's first batch: inline
    expect(validator.begun).toBe(0);
    const before = log.sizeInBytes;
    const big = bigBatch();
    expect(big.length).toBeGreaterThanOrEqual(OVERLAP_MIN_BYTES);
    expect(log.appendAsLeader(big, 1)).toEqual({ baseOffset: 10, lastOffset: 9 + N });
    expect(validator.begun).toBe(1);
    expect(validator.sizesAtVerdict).toEqual([before + big.length]);
    expect(log.logEndOffset).toBe(10 + N);
    expect(readAllValues(log).map((r) => r.value)).toEqual([...bigValues(10, 'small'), ...bigValues(N, 'v')]);
    log.close();
  });

  it('cuts a refused batch off the file again, and answers as the inline check does', () => {
    const { log, dir } = openWithDeferred();
    log.appendAsLeader(bigBatch(1, 'first'), 1);
    const bad = corruptRecords(bigBatch());
    const inline = errorOf(() => validateBatch(Buffer.from(bad)));
    const before = log.sizeInBytes;
    const err = errorOf(() => log.appendAsLeader(bad, 1));
    expect([err.code, err.message]).toEqual([inline.code, inline.message]);
    expect(log.logEndOffset).toBe(1);
    expect(fs.statSync(segmentFiles(dir).at(-1)!).size).toBe(before);
    // The next batch lands where the refused one was, and both reads and a reopen agree.
    log.appendAsLeader(bigBatch(), 1);
    expect(log.logEndOffset).toBe(1 + N);
    const values = readAllValues(log).map((r) => r.value);
    log.close();
    const reopened = Log.open(dir, testConfig(), { validator: null });
    expect(readAllValues(reopened).map((r) => r.value)).toEqual(values);
    expect(reopened.logEndOffset).toBe(1 + N);
    reopened.close();
  });

  it('refuses a record without a key on a compacted topic with INVALID_RECORD, leaving nothing behind', () => {
    const { log, validator } = openWithDeferred(testConfig({ compact: true, delete: false }));
    log.appendAsLeader(keyedBatch([['k', 'first']]), 1);
    const before = log.sizeInBytes;
    const err = errorOf(() => log.appendAsLeader(bigBatch(), 1));
    expect(err.code).toBe('INVALID_RECORD');
    expect(validator.begun).toBe(1);
    expect([log.logEndOffset, log.sizeInBytes]).toEqual([1, before]);
    log.close();
  });

  it('puts the check first when the batch is refused and the disk fails too', () => {
    const faulty = new FaultyFs();
    const { log } = openWithDeferred(testConfig(), { fs: faulty });
    log.appendAsLeader(bigBatch(1, 'first'), 1);
    faulty.failOn('writeSync', 'EIO', { when: (p) => p.endsWith('.log') });
    expect(errorOf(() => log.appendAsLeader(corruptRecords(bigBatch()), 1)).code).toBe('CORRUPT_MESSAGE');
    // A good batch on a failing disk gets the storage error, as inline.
    faulty.failOn('writeSync', 'EIO', { when: (p) => p.endsWith('.log') });
    expect(errorOf(() => log.appendAsLeader(bigBatch(), 1)).code).toBe('KAFKA_STORAGE_ERROR');
    expect(log.logEndOffset).toBe(1);
    log.appendAsLeader(bigBatch(), 1);
    expect(log.logEndOffset).toBe(1 + N);
    log.close();
  });

  it('waits for the verdict before rolling, so a refused batch leaves no new segment', () => {
    const big = bigBatch();
    const { log, dir } = openWithDeferred(testConfig({ segmentBytes: big.length + 300 }));
    log.appendAsLeader(bigBatch(1, 'first'), 1);
    log.appendAsLeader(bigBatch(), 1); // fills the first segment
    expect(segmentFiles(dir)).toHaveLength(1);
    expect(errorOf(() => log.appendAsLeader(corruptRecords(bigBatch()), 1)).code).toBe('CORRUPT_MESSAGE');
    expect(segmentFiles(dir)).toHaveLength(1);
    log.appendAsLeader(bigBatch(), 1);
    expect(segmentFiles(dir)).toHaveLength(2);
    expect(log.logEndOffset).toBe(1 + 2 * N);
    log.close();
  });

  it("checks a new epoch's first batch, and a fenced append, inline", () => {
    const { log, validator } = openWithDeferred();
    log.appendAsLeader(bigBatch(), 3);
    expect(validator.begun).toBe(0);
    expect(errorOf(() => log.appendAsLeader(bigBatch(), 2)).code).toBe('FENCED_LEADER_EPOCH');
    expect(validator.begun).toBe(0);
    log.appendAsLeader(bigBatch(), 3);
    expect(validator.begun).toBe(1);
    log.close();
  });
});

describe('recovery of a batch written before its verdict', () => {
  /** The log as a crash between the write and the verdict leaves it: the refused batch at the end of the file. */
  function crashAfterWrite(bad: Buffer): string {
    const dir = path.join(tempDir(), 't-0');
    const log = Log.open(dir, testConfig(), { validator: null });
    log.appendAsLeader(bigBatch(), 1);
    log.close();
    const file = segmentFiles(dir).at(-1)!;
    const copy = Buffer.from(bad);
    copy.writeBigInt64BE(BigInt(N), 0); // stamped with the next offset and the epoch, as appendOverlapped does
    copy.writeInt32BE(1, 12);
    fs.appendFileSync(file, copy);
    return dir;
  }

  it('cuts an unflushed last batch that fails the leader check', () => {
    const dir = crashAfterWrite(corruptRecords(bigBatch()));
    const warnings: { reason?: string }[] = [];
    const log = Log.open(dir, testConfig(), { validator: null, logger: { info() {}, warn: (o) => warnings.push(o as { reason?: string }) } });
    expect(log.logEndOffset).toBe(N);
    expect(warnings.some((w) => /record length/.test(w.reason ?? ''))).toBe(true);
    log.appendAsLeader(bigBatch(), 1);
    expect(readAllValues(log)).toHaveLength(2 * N);
    log.close();
  });

  it('keeps a last batch that passes, and leaves the cleanup policy out of the check', () => {
    const dir = crashAfterWrite(bigBatch()); // no keys: fine for a delete topic, refused by a compacted one
    const log = Log.open(dir, testConfig({ compact: true, delete: false }), { validator: null });
    expect(log.logEndOffset).toBe(2 * N);
    log.close();
  });

  it('trusts a last batch below the recovery point', () => {
    const dir = crashAfterWrite(corruptRecords(bigBatch()));
    const log = Log.open(dir, testConfig(), { validator: null, recoveryPoint: 2 * N });
    expect(log.logEndOffset).toBe(2 * N);
    log.close();
  });
});
