// Operation fuzzer for compacted logs (STYLE.md § Tests), beside log-fuzz.test.ts: random keyed
// appends (tombstones among them; as leader, and as a follower copying batches, keyless records
// included), rolls, cleanings at random high watermarks and times (sometimes with a tiny offset
// map), crashes in the middle of a cleaning (CrashingFs, torn or not), truncations, retention
// (compact,delete) and reopens, checked after every step against a plain array model:
//
//   below a cleaning's end, the latest record per key (keyless ones gone); at and above it,
//   every record; a tombstone kept by a cleaning goes at the first cleaning at or after
//   delete.retention.ms later, never before;
//   a crash leaves every group of segments old or new: the log is the model after the cleaning
//   below some old segment boundary and the model before it from there on.
//
// Also after every step: every offset below the log end lies in exactly one batch (no gap
// between batches), reads land in the batch holding their offset, and the cleaner checkpoint
// never claims a key twice below it. The seed is printed; replay with TRIBUTARY_SEED=<seed>.

import * as path from 'node:path';
import { checkBatchCrc, deleteHorizonOf, encodeBatch, forEachRecord, iterateBatches, readBatchHeader } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleaner } from './cleaner.ts';
import { cleanableOffsets } from './compaction.ts';
import { Log, type LogConfig } from './log.ts';
import { batchRanges, CrashingFs, keyedBatch, prng, readAllRecords, removeTempDirs, tempDir, testConfig, type KV } from './internal/test-support.ts';

afterEach(removeTempDirs);

interface Rec {
  offset: number;
  key: string | null;
  value: string | null;
}

class Model {
  records: Rec[] = [];
  start = 0;
  end = 0;
  /** Delete horizon of each kept tombstone, by offset (stamped by the first cleaning that kept it). */
  horizons = new Map<number, number>();

  clone(): Model {
    const m = new Model();
    m.records = [...this.records];
    m.start = this.start;
    m.end = this.end;
    m.horizons = new Map(this.horizons);
    return m;
  }

  /** What a cleaning up to `endOffset` at `nowMs` leaves. */
  clean(endOffset: number, nowMs: number, deleteRetentionMs: number): Model {
    const m = this.clone();
    const latest = new Map<string, number>();
    for (const r of m.records) if (r.offset < endOffset && r.key !== null) latest.set(r.key, r.offset);
    m.records = m.records.filter((r) => {
      if (r.offset >= endOffset) return true;
      if (r.key === null || latest.get(r.key) !== r.offset) {
        m.horizons.delete(r.offset);
        return false;
      }
      if (r.value !== null) return true;
      const horizon = m.horizons.get(r.offset);
      if (horizon === undefined) {
        m.horizons.set(r.offset, nowMs + deleteRetentionMs);
        return true;
      }
      if (nowMs >= horizon) {
        m.horizons.delete(r.offset);
        return false;
      }
      return true;
    });
    return m;
  }

  /** The state a crash may leave: `after` below `bound`, `this` from there on. */
  splice(after: Model, bound: number): Model {
    const m = this.clone();
    m.records = [...after.records.filter((r) => r.offset < bound), ...this.records.filter((r) => r.offset >= bound)];
    m.horizons = new Map([...after.horizons].filter(([o]) => o < bound).concat([...this.horizons].filter(([o]) => o >= bound)));
    return m;
  }

  truncateTo(end: number): void {
    this.records = this.records.filter((r) => r.offset < end);
    for (const o of [...this.horizons.keys()]) if (o >= end) this.horizons.delete(o);
    this.end = end;
  }

  dropBelow(start: number): void {
    this.records = this.records.filter((r) => r.offset >= start);
    for (const o of [...this.horizons.keys()]) if (o < start) this.horizons.delete(o);
    this.start = start;
  }
}

/** The delete horizon of every tombstone in a stamped batch, by offset, as the log holds them. */
function horizonsOf(log: Log): Map<number, number> {
  const out = new Map<number, number>();
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    for (const b of iterateBatches(log.read(offset, 1 << 20))) {
      const h = checkBatchCrc(b);
      const horizon = deleteHorizonOf(h);
      if (horizon !== undefined) {
        forEachRecord(b, h, (r) => {
          if (r.value === null) out.set(r.offset, horizon);
        });
      }
      offset = h.baseOffset + h.lastOffsetDelta + 1;
    }
  }
  return out;
}

/** [baseOffset, lastOffset, partitionLeaderEpoch] of every batch. */
function batchEpochs(log: Log): [number, number, number][] {
  const out: [number, number, number][] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    for (const b of iterateBatches(log.read(offset, 1 << 20))) {
      const h = readBatchHeader(b);
      out.push([h.baseOffset, h.baseOffset + h.lastOffsetDelta, h.partitionLeaderEpoch]);
      offset = h.baseOffset + h.lastOffsetDelta + 1;
    }
  }
  return out;
}

const sorted = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]);

function check(log: Log, model: Model, ctx: string): void {
  expect([log.logStartOffset, log.logEndOffset], ctx).toEqual([model.start, model.end]);
  expect(readAllRecords(log, 300), ctx).toEqual(model.records);
  expect(sorted(horizonsOf(log)), `${ctx}: delete horizons`).toEqual(sorted(model.horizons));
  let next = log.logStartOffset;
  for (const [base, last, epoch] of batchEpochs(log)) {
    expect(base, `${ctx}: batch after ${next - 1}`).toBe(next);
    // A batch never spans two leader epochs (followers' divergence checks rely on it).
    expect([log.epochs.epochForOffset(base), log.epochs.epochForOffset(last)], `${ctx}: epochs of batch ${base}..${last}`).toEqual([epoch, epoch]);
    next = last + 1;
  }
  expect(next, ctx).toBe(log.logEndOffset);
  for (let i = 0; i < 5 && log.logEndOffset > log.logStartOffset; i++) {
    const o = log.logStartOffset + ((i * 7919 + log.logEndOffset) % (log.logEndOffset - log.logStartOffset));
    const h = readBatchHeader(log.read(o, 1));
    expect(h.baseOffset <= o && o <= h.baseOffset + h.lastOffsetDelta, `${ctx}: read at ${o}`).toBe(true);
  }
  const firstDirty = log.cleanerCheckpoint?.firstDirtyOffset ?? log.logStartOffset;
  const keys = model.records.filter((r) => r.offset < firstDirty).map((r) => r.key);
  expect(new Set(keys).size, `${ctx}: duplicate keys below the cleaner checkpoint ${firstDirty}`).toBe(keys.length);
}

async function runFuzz(seed: number, steps: number): Promise<void> {
  const rnd = prng(seed);
  const dir = path.join(tempDir(), 'compacted-0');
  let now = 10_000_000;
  const deleteRetentionMs = rnd.pick([0, 5_000, 60_000]);
  const config: LogConfig = testConfig({
    compact: true,
    delete: false,
    segmentBytes: rnd.pick([300, 700, 2000]),
    segmentMs: 30_000,
    indexIntervalBytes: rnd.pick([1, 64, 500]),
    deleteRetentionMs,
  });
  let fs = new CrashingFs(Number.POSITIVE_INFINITY);
  const open = () => Log.open(dir, config, { fs, clock: () => now });
  let log = open();
  let model = new Model();
  let epoch = 1;
  let counter = 0;
  const keys = Array.from({ length: rnd.int(2, 12) }, (_, i) => `key-${i}`);
  const entries = (): KV[] =>
    Array.from({ length: rnd.int(1, 4) }, () => [rnd.pick(keys), rnd.chance(0.15) ? null : `s${seed}-${counter++}`.padEnd(rnd.int(3, 40), '~')]);
  const append = (recs: Rec[]) => {
    model.records.push(...recs);
    model.end = recs.at(-1)!.offset + 1;
  };

  for (let step = 0; step < steps; step++) {
    const op = rnd.int(0, 99);
    let desc: string;
    if (op < 40) {
      if (rnd.chance(0.05)) epoch++;
      const kv = entries();
      const producer = rnd.chance(0.2) ? { producerId: rnd.int(1, 3), producerEpoch: 0, baseSequence: counter } : {};
      const { baseOffset } = log.appendAsLeader(keyedBatch(kv, { timestamp: now, ...producer }), epoch);
      append(kv.map(([key, value], i) => ({ offset: baseOffset + i, key, value })));
      desc = `append ${kv.length} @${baseOffset}`;
    } else if (op < 48) {
      // As a follower copies a leader's batch: keys are not checked here, so a keyless record may come.
      const base = log.logEndOffset;
      const recs: Rec[] = entries().map(([key, value], i) => ({ offset: base + i, key: rnd.chance(0.2) ? null : key, value }));
      const bytes = encodeBatch(
        recs.map((r) => ({ key: r.key === null ? null : Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value), timestamp: now })),
        { baseOffset: base, partitionLeaderEpoch: epoch, baseTimestamp: now },
      );
      log.appendAsFollower(bytes);
      append(recs);
      desc = `appendAsFollower ${recs.length} @${base}`;
    } else if (op < 55) {
      now += rnd.pick([1_000, 31_000]);
      log.maybeRoll(now);
      desc = `maybeRoll now=${now}`;
    } else if (op < 80) {
      now += rnd.pick([0, 1_000, 6_000, 70_000]);
      const ranges = batchRanges(log);
      const hw = rnd.chance(0.3) || ranges.length === 0 ? log.logEndOffset : ranges[rnd.int(0, ranges.length - 1)]![0];
      const offsets = cleanableOffsets(log.compactionView(hw), now);
      const small = rnd.chance(0.25);
      const oldBounds = [...log.segmentBaseOffsets(), log.logEndOffset];
      // The active segment is never cleaned: a checkpoint past its base (a truncation into it
      // lowered the checkpoint only to the new end) leaves the part above the base as it is.
      const activeBase = oldBounds.at(-2)!;
      // A crash only with a full-size map: then the cleaning's end is known (firstUncleanableOffset).
      const crash = !small && rnd.chance(0.3);
      const cleaner = new Cleaner(log, {
        nowMs: now,
        firstDirtyOffset: offsets.firstDirtyOffset,
        firstUncleanableOffset: offsets.firstUncleanableOffset,
        dedupeBufferBytes: small ? 300 : 1 << 20,
        producerIdExpirationMs: 86_400_000,
        ioBufferBytes: rnd.pick([100, 4096]),
        fs,
      });
      if (crash) fs.arm(rnd.int(1, 60), rnd.pick([0, 0, 11]));
      const state = await cleaner.run(rnd.pick([50, 1 << 20])).catch((err: unknown) => {
        if (!fs.dead) throw err;
        return 'crashed';
      });
      if (fs.dead) {
        // The process died mid-cleaning: open again on a healthy disk.
        log.close();
        fs = new CrashingFs(Number.POSITIVE_INFINITY);
        log = open();
        // Some groups may have been swapped in, in order: any prefix of the cleaning's result up
        // to an old segment boundary (groups are runs of old segments).
        const after = model.clean(Math.min(offsets.firstUncleanableOffset, activeBase), now, deleteRetentionMs);
        const candidates = [model, ...oldBounds.map((b) => model.splice(after, b))];
        // Records and delete horizons both: a swap that only stamped horizons changes no record.
        const got = JSON.stringify([readAllRecords(log, 1 << 20), sorted(horizonsOf(log))]);
        const match = candidates.find((c) => JSON.stringify([c.records, sorted(c.horizons)]) === got);
        expect(match, `seed ${seed} step ${step}: after a crash mid-cleaning the log is no state a cleaning passes through`).toBeDefined();
        model = match!;
        desc = `clean to hw ${hw} crashed (${state})`;
      } else {
        fs.arm(Number.POSITIVE_INFINITY);
        expect(state, `seed ${seed} step ${step}`).toBe('done');
        if (!small) expect(cleaner.endOffset, `seed ${seed} step ${step}: the end of a cleaning with room for every key`).toBe(offsets.firstUncleanableOffset);
        // Never past the HW (unless the checkpoint already was: nothing new is touched then).
        expect(cleaner.endOffset).toBeLessThanOrEqual(Math.max(offsets.firstDirtyOffset, Math.min(hw, log.logEndOffset)));
        model = model.clean(Math.min(cleaner.endOffset, activeBase), now, deleteRetentionMs);
        desc = `clean hw ${hw} [${offsets.firstDirtyOffset}, ${offsets.firstUncleanableOffset}) -> end ${cleaner.endOffset} at ${now}${small ? ' (small map)' : ''}`;
      }
    } else if (op < 86) {
      const to = rnd.int(model.start, model.end + 2);
      log.truncateTo(to);
      expect(log.logEndOffset).toBeLessThanOrEqual(Math.max(to, model.start));
      model.truncateTo(log.logEndOffset);
      desc = `truncateTo ${to} -> ${log.logEndOffset}`;
    } else if (op < 90) {
      // compact,delete: retention too, never past a random HW.
      const hw = rnd.int(0, model.end);
      log.updateConfig({ ...config, delete: true, retentionBytes: rnd.int(0, 3000) });
      const n = log.deleteOldSegments(now, hw);
      log.updateConfig(config);
      model.dropBelow(log.logStartOffset);
      desc = `retention below hw ${hw} deleted ${n} -> start ${log.logStartOffset}`;
    } else {
      log.close();
      log = open();
      desc = 'reopen';
    }
    check(log, model, `seed ${seed} step ${step}: ${desc}`);
  }
  log.close();
}

describe('compacted log operation fuzzer', () => {
  const base = Number(process.env.TRIBUTARY_SEED ?? Date.now() % 1e9);
  const seeds = process.env.TRIBUTARY_SEED ? [base] : Array.from({ length: 8 }, (_, i) => base + i);
  it.each(seeds)('seed %i', async (seed) => {
    console.log(`compaction fuzzer seed ${seed} (replay with TRIBUTARY_SEED=${seed})`);
    await runFuzz(seed, 200);
  });
});
