// Crash recovery: torn writes and corrupt bytes must never surface as data (DESIGN.md § Storage).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Log } from './log.ts';
import { batch, prng, readAllValues, removeTempDirs, segmentFiles, tempDir, testConfig } from './internal/test-support.ts';

afterEach(removeTempDirs);

const config = testConfig({ segmentBytes: 2000, indexIntervalBytes: 128 });

/** Builds a log of `n` batches (batch i holds values `b<i>.0`, `b<i>.1`, ...) and returns its batch sizes. */
function build(dir: string, n: number, seed = 1): number[] {
  const rnd = prng(seed);
  const log = Log.open(dir, config);
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = batch(
      Array.from({ length: rnd.int(1, 4) }, (_, j) => `b${i}.${j}`.padEnd(rnd.int(3, 40), '.')),
      { timestamp: 1000 + i },
    );
    sizes.push(b.length);
    log.appendAsLeader(b, 1 + Math.floor(i / 7));
  }
  log.close();
  return sizes;
}

/** Whole-batch values as read back, grouped per batch index. */
function batchesServed(log: Log): number[] {
  const seen = new Set<number>();
  for (const r of readAllValues(log, 700)) seen.add(Number(r.value.slice(1, r.value.indexOf('.'))));
  return [...seen];
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

describe('recovery from torn writes', () => {
  it('keeps exactly the batches before a cut at every byte of the last batch, and at random bytes of earlier ones', () => {
    const root = tempDir();
    const pristine = path.join(root, 'pristine');
    const sizes = build(pristine, 40);
    const files = segmentFiles(pristine);
    const lastFile = files.at(-1)!;
    const lastFileSize = fs.statSync(lastFile).size;
    // Batches in the last file: walk back from the end.
    let inLast = 0;
    for (let bytes = 0, i = sizes.length - 1; bytes < lastFileSize; i--) {
      bytes += sizes[i]!;
      inLast++;
    }
    const firstInLast = sizes.length - inLast;
    const rnd = prng(7);
    const cuts: { fileIndex: number; at: number }[] = [];
    const lastBatchStart = lastFileSize - sizes.at(-1)!;
    for (let at = lastBatchStart; at < lastFileSize; at++) cuts.push({ fileIndex: files.length - 1, at });
    for (let k = 0; k < 40; k++) {
      const fileIndex = rnd.int(0, files.length - 1);
      cuts.push({ fileIndex, at: rnd.int(0, fs.statSync(files[fileIndex]!).size - 1) });
    }
    for (const { fileIndex, at } of cuts) {
      const dir = path.join(root, `cut-${fileIndex}-${at}`);
      fs.cpSync(pristine, dir, { recursive: true });
      const files2 = segmentFiles(dir);
      fs.truncateSync(files2[fileIndex]!, at);
      // The batches before the cut: all earlier files' batches plus the whole ones before `at`.
      let firstInFile = 0;
      for (let f = 0, i = 0; f <= fileIndex; f++) {
        if (f === fileIndex) firstInFile = i;
        let bytes = 0;
        const size = fs.statSync(files[f]!).size;
        while (bytes < size) bytes += sizes[i++]!;
      }
      let survivors = firstInFile;
      let wholeBytes = 0;
      for (; wholeBytes + sizes[survivors]! <= at; survivors++) wholeBytes += sizes[survivors]!;
      const warnings: object[] = [];
      const log = Log.open(dir, config, { logger: { info() {}, warn: (o) => warnings.push(o) } });
      expect(batchesServed(log), `cut ${fileIndex}@${at}`).toEqual(range(survivors));
      if (fileIndex === files.length - 1 && at >= lastBatchStart) expect(survivors).toBe(sizes.length - 1);
      // A cut on a batch boundary leaves a shorter but whole log; anything else is reported.
      expect(warnings.length > 0).toBe(wholeBytes !== at || fileIndex < files.length - 1);
      const leo = log.logEndOffset;
      const { baseOffset } = log.appendAsLeader(batch(['after']), 99);
      expect(baseOffset).toBe(leo);
      expect(readAllValues(log).at(-1)).toEqual({ offset: leo, value: 'after' });
      log.close();
      const reopened = Log.open(dir, config);
      expect(reopened.logEndOffset).toBe(leo + 1);
      expect(reopened.epochs.latestEpoch).toBe(99);
      reopened.close();
      fs.rmSync(dir, { recursive: true });
    }
    expect(firstInLast).toBeGreaterThan(0);
  });

  it('trusts flushed segments below the recovery point without scanning them', () => {
    const dir = path.join(tempDir(), 't-0');
    const log = Log.open(dir, config);
    for (let i = 0; i < 60; i++) log.appendAsLeader(batch([`b${i}.x`]), 1);
    log.flush();
    const rp = log.recoveryPoint;
    log.close();
    const files = segmentFiles(dir);
    expect(files.length).toBeGreaterThan(2);
    // Damage the first segment's last batch; with the recovery point past it, it is not scanned.
    const first = files[0]!;
    const buf = fs.readFileSync(first);
    buf[buf.length - 2] = buf[buf.length - 2]! ^ 0xff;
    fs.writeFileSync(first, buf);
    const trusting = Log.open(dir, config, { recoveryPoint: rp });
    expect(trusting.logEndOffset).toBe(60);
    trusting.close();
    const scanning = Log.open(dir, config);
    expect(scanning.logEndOffset).toBeLessThan(60);
    scanning.close();
  });
});

describe('recovery after a machine crash that lost an unsynced epoch checkpoint', () => {
  it('keeps everything below the recovery point and cuts the unflushed tail at the lost epoch', () => {
    const dir = path.join(tempDir(), 't-0');
    const log = Log.open(dir, config);
    for (let i = 0; i < 20; i++) log.appendAsLeader(batch([`b${i}.x`]), 1 + Math.floor(i / 10));
    log.flush(); // epochs 1 and 2 durable, recovery point 20
    const rp = log.recoveryPoint;
    const durable = fs.readFileSync(path.join(dir, 'leader-epoch-checkpoint'), 'utf8');
    for (let i = 20; i < 30; i++) log.appendAsLeader(batch([`b${i}.x`]), 3); // epoch 3: written, not fsynced
    log.close();
    // The machine crashed before any flush: the checkpoint went back to its last durable version
    // while the log's page cache survived (the worst case for the epoch check).
    fs.writeFileSync(path.join(dir, 'leader-epoch-checkpoint'), durable);
    const reopened = Log.open(dir, config, { recoveryPoint: rp });
    expect(reopened.logEndOffset).toBe(20);
    expect(readAllValues(reopened).map((r) => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => `b${i}.x`));
    expect(reopened.epochs.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 10 },
    ]);
    // The follower's next fetch brings the tail back under epoch 3.
    expect(reopened.appendAsLeader(batch(['again']), 3).baseOffset).toBe(20);
    expect(reopened.epochs.latestEpoch).toBe(3);
    reopened.close();
  });
});

describe('recovery from corruption', () => {
  it('serves nothing after the first corrupt batch and loses nothing before it', () => {
    const root = tempDir();
    const pristine = path.join(root, 'pristine');
    const sizes = build(pristine, 30, 3);
    const files = segmentFiles(pristine);
    const fileSizes = files.map((f) => fs.statSync(f).size);
    // Global byte position -> batch index.
    const starts: number[] = [];
    for (let i = 0, pos = 0; i < sizes.length; i++) {
      starts.push(pos);
      pos += sizes[i]!;
    }
    const batchAt = (globalPos: number) => starts.findLastIndex((s) => s <= globalPos);
    const seed = Number(process.env.TRIBUTARY_SEED ?? Date.now() % 1e9);
    console.log(`corruption test seed ${seed} (replay with TRIBUTARY_SEED=${seed})`);
    const rnd = prng(seed);
    for (let trial = 0; trial < 120; trial++) {
      const dir = path.join(root, `t${trial}`);
      fs.cpSync(pristine, dir, { recursive: true });
      const files2 = segmentFiles(dir);
      const flips = rnd.int(1, 3);
      for (let k = 0; k < flips; k++) {
        const fileIndex = rnd.int(0, files2.length - 1);
        const at = rnd.int(0, fileSizes[fileIndex]! - 1);
        const buf = fs.readFileSync(files2[fileIndex]!);
        buf[at] = buf[at]! ^ (1 << rnd.int(0, 7));
        fs.writeFileSync(files2[fileIndex]!, buf);
      }
      // The first batch whose bytes differ from the pristine log's: two flips of one bit cancel.
      let firstBad = sizes.length;
      for (let f = 0, base = 0; f < files.length; base += fileSizes[f]!, f++) {
        const want = fs.readFileSync(files[f]!);
        const got = fs.readFileSync(files2[f]!);
        const at = want.findIndex((byte, i) => got[i] !== byte);
        if (at >= 0) firstBad = Math.min(firstBad, batchAt(base + at));
      }
      const log = Log.open(dir, config);
      expect(batchesServed(log), `seed ${seed} trial ${trial}`).toEqual(range(firstBad));
      log.close();
      fs.rmSync(dir, { recursive: true });
    }
  });
});
