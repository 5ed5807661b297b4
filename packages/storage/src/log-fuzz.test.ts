// Operation fuzzer (STYLE.md § Tests): random append-as-leader / append-as-follower / roll /
// truncate / retention / flush / crash (close without flush, optionally tearing the unflushed
// tail) / reopen, checked after every step against a plain array model. The seed is printed;
// replay a failure with TRIBUTARY_SEED=<seed>.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeBatches, iterateBatches, readBatchHeader } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Log, type LogConfig } from './log.ts';
import { batch, prng, removeTempDirs, segmentFiles, tempDir, testConfig } from './internal/test-support.ts';

afterEach(removeTempDirs);

interface ModelBatch {
  baseOffset: number;
  values: string[];
  epoch: number;
  size: number;
}

class Model {
  start = 0;
  batches: ModelBatch[] = [];
  get end(): number {
    const last = this.batches.at(-1);
    return last === undefined ? this.start : last.baseOffset + last.values.length;
  }
  get lastEpoch(): number {
    return this.batches.at(-1)?.epoch ?? -1;
  }
  truncateTo(offset: number): void {
    if (offset >= this.end) return;
    if (offset < this.start) {
      this.start = offset;
      this.batches = [];
      return;
    }
    this.batches = this.batches.filter((b) => b.baseOffset + b.values.length - 1 < offset);
  }
  records(): { offset: number; value: string }[] {
    return this.batches.flatMap((b) => b.values.map((value, i) => ({ offset: b.baseOffset + i, value })));
  }
}

function check(log: Log, model: Model, rnd: ReturnType<typeof prng>, ctx: string): void {
  expect([log.logStartOffset, log.logEndOffset], ctx).toEqual([model.start, model.end]);
  expect(log.lastEpoch(), ctx).toBe(model.lastEpoch);
  const got: { offset: number; value: string }[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const buf = log.read(offset, 1 + ((offset * 37) % 600));
    const records = decodeBatches(buf);
    expect(records.length, `${ctx}: empty read at ${offset}`).toBeGreaterThan(0);
    for (const r of records) got.push({ offset: r.offset, value: r.value!.toString() });
    offset = records.at(-1)!.offset + 1;
  }
  expect(got, ctx).toEqual(model.records());
  // Every batch's epoch matches the cache (the invariant recovery relies on).
  for (const b of model.batches) {
    if (b.epoch >= 0) expect(log.epochs.endOffsetFor(b.epoch, log.logEndOffset).epoch, `${ctx}: epoch of ${b.baseOffset}`).toBe(b.epoch);
  }
  // Random point reads land in the right batch.
  for (const b of model.batches.slice(-3)) {
    const r = decodeBatches(log.read(b.baseOffset + b.values.length - 1, 1));
    expect(r[0]!.offset, ctx).toBe(b.baseOffset);
  }
  checkBoundedReads(log, model, rnd, ctx);
}

/**
 * A read bounded by maxBytes or maxOffset returns the longest run of whole batches of the
 * unbounded read that fits (at least the first one, for maxBytes) and allocates no more than it
 * returns: Segment.readBatches works the range out before it reads.
 */
function checkBoundedReads(log: Log, model: Model, rnd: ReturnType<typeof prng>, ctx: string): void {
  if (model.batches.length === 0) return;
  const from = model.batches[rnd.int(0, model.batches.length - 1)]!;
  const offset = from.baseOffset + rnd.int(0, from.values.length - 1);
  const whole = log.read(offset, 1 << 30);
  const ends: { bytes: number; last: number }[] = [];
  let at = 0;
  for (const b of iterateBatches(whole)) {
    const h = readBatchHeader(b);
    at += b.length;
    ends.push({ bytes: at, last: h.baseOffset + h.lastOffsetDelta });
  }
  expect(at, ctx).toBe(whole.length);
  // Smaller allocations come from Node's pool: their ArrayBuffer is shared.
  const allocated = (buf: Buffer) => (buf.length >= Buffer.poolSize >>> 1 ? buf.buffer.byteLength : buf.length);
  const maxBytes = rnd.int(0, whole.length + 50);
  const byBytes = log.read(offset, maxBytes);
  const fitting = ends.filter((e, i) => i === 0 || e.bytes <= maxBytes).at(-1)!;
  expect(byBytes.length, `${ctx}: read(${offset}, maxBytes ${maxBytes})`).toBe(fitting.bytes);
  expect(allocated(byBytes), ctx).toBe(byBytes.length);
  const maxOffset = rnd.int(offset, model.end);
  const byOffset = log.read(offset, 1 << 30, maxOffset);
  expect(byOffset.length, `${ctx}: read(${offset}, maxOffset ${maxOffset})`).toBe(ends.filter((e) => e.last < maxOffset).at(-1)?.bytes ?? 0);
  expect(allocated(byOffset), ctx).toBe(byOffset.length);
  expect(byOffset.equals(whole.subarray(0, byOffset.length)), ctx).toBe(true);
}

function runFuzz(seed: number, steps: number): void {
  const rnd = prng(seed);
  const dir = path.join(tempDir(), 'fuzz-0');
  let now = 1_000_000;
  const config: LogConfig = testConfig({ segmentBytes: rnd.pick([300, 700, 2000]), indexIntervalBytes: rnd.pick([1, 64, 500]), segmentMs: 10_000 });
  const options = { clock: () => now };
  let log = Log.open(dir, config, options);
  const model = new Model();
  let epoch = 0;
  let counter = 0;
  const nextValues = () => Array.from({ length: rnd.int(1, 5) }, () => `s${seed}-${counter++}`.padEnd(rnd.int(5, 60), '~'));
  // The leader we copy from as a follower: bytes built here with offsets assigned.
  const followerBatches = (n: number): { bytes: Buffer; batches: ModelBatch[] } => {
    const out: Buffer[] = [];
    const batches: ModelBatch[] = [];
    let next = model.end;
    for (let i = 0; i < n; i++) {
      if (rnd.chance(0.2)) epoch++;
      const values = nextValues();
      const b = batch(values, { baseOffset: next, epoch, timestamp: now });
      out.push(b);
      batches.push({ baseOffset: next, values, epoch, size: b.length });
      next += values.length;
    }
    return { bytes: Buffer.concat(out), batches };
  };

  for (let step = 0; step < steps; step++) {
    const op = rnd.int(0, 99);
    let desc: string;
    if (op < 35) {
      if (rnd.chance(0.1)) epoch++;
      const values = nextValues();
      const b = batch(values, { timestamp: now });
      const { baseOffset } = log.appendAsLeader(b, epoch);
      model.batches.push({ baseOffset, values, epoch, size: b.length });
      desc = `appendAsLeader ${values.length} @${baseOffset} e${epoch}`;
    } else if (op < 55) {
      const { bytes, batches } = followerBatches(rnd.int(1, 4));
      log.appendAsFollower(bytes);
      model.batches.push(...batches);
      desc = `appendAsFollower ${batches.length} @${batches[0]!.baseOffset}`;
    } else if (op < 60) {
      now += rnd.pick([1000, 11_000]);
      log.maybeRoll();
      desc = `maybeRoll now=${now}`;
    } else if (op < 70) {
      const to = rnd.int(model.start, model.end + 2);
      log.truncateTo(to);
      model.truncateTo(to);
      // Offsets are dense, so epochs the model dropped are gone from the cache too.
      desc = `truncateTo ${to}`;
    } else if (op < 72) {
      const to = model.end + rnd.int(0, 20);
      log.truncateFullyAndStartAt(to);
      model.start = to;
      model.batches = [];
      desc = `truncateFullyAndStartAt ${to}`;
    } else if (op < 76) {
      // Retention never passes the high watermark: every deleted offset is below it.
      const hw = rnd.int(0, model.end);
      const before = model.start;
      log.updateConfig({ ...config, retentionBytes: rnd.int(0, 3000), retentionMs: rnd.pick([-1, 0, 5000]) });
      const n = log.deleteOldSegments(now, hw);
      log.updateConfig(config);
      model.start = log.logStartOffset;
      model.batches = model.batches.filter((b) => b.baseOffset >= model.start);
      desc = `retention below hw ${hw} deleted ${n} -> start ${model.start}`;
      if (n > 0) expect(model.start, desc).toBeLessThanOrEqual(hw);
      else expect(model.start, desc).toBe(before);
    } else if (op < 82) {
      log.flush();
      expect(log.recoveryPoint).toBe(model.end);
      desc = 'flush';
    } else if (op < 90) {
      // Crash: close without flush; maybe tear the last unflushed batch as a power cut would.
      const recoveryPoint = log.recoveryPoint;
      log.close();
      desc = 'crash';
      const last = model.batches.at(-1);
      if (last !== undefined && last.baseOffset >= recoveryPoint && rnd.chance(0.6)) {
        const file = segmentFiles(dir)
          .filter((f) => fs.statSync(f).size > 0)
          .at(-1)!;
        const cut = rnd.int(1, last.size);
        fs.truncateSync(file, fs.statSync(file).size - cut);
        model.batches.pop();
        desc += ` tearing ${cut} bytes of @${last.baseOffset}`;
      }
      log = Log.open(dir, config, { ...options, recoveryPoint });
    } else {
      log.close();
      log = Log.open(dir, config, options);
      desc = 'reopen';
    }
    check(log, model, rnd, `seed ${seed} step ${step}: ${desc}`);
    if (epoch < log.epochs.latestEpoch) epoch = log.epochs.latestEpoch;
  }
  log.close();
}

describe('log operation fuzzer', () => {
  const base = Number(process.env.TRIBUTARY_SEED ?? Date.now() % 1e9);
  const seeds = process.env.TRIBUTARY_SEED ? [base] : Array.from({ length: 12 }, (_, i) => base + i);
  it.each(seeds)('seed %i', (seed) => {
    console.log(`log fuzzer seed ${seed} (replay with TRIBUTARY_SEED=${seed})`);
    runFuzz(seed, 250);
  });
});
