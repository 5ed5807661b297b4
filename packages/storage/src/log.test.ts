import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeBatches, DEFAULT_TOPIC_CONFIGS, iterateBatches, readBatchHeader } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Log, logConfigFromTopic } from './log.ts';
import { batch, readAllValues, removeTempDirs, segmentFiles, tempDir, testConfig } from './internal/test-support.ts';

afterEach(removeTempDirs);

function values(from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `v${from + i}`);
}

describe('Log appends and reads', () => {
  it('maps topic configs', () => {
    expect(logConfigFromTopic(DEFAULT_TOPIC_CONFIGS)).toEqual({
      segmentBytes: 1024 ** 3, segmentMs: 7 * 24 * 3600 * 1000, indexIntervalBytes: 4096,
      retentionBytes: -1, retentionMs: 7 * 24 * 3600 * 1000,
      flushMessages: Number.MAX_SAFE_INTEGER, flushMs: Number.MAX_SAFE_INTEGER,
    });
  });

  it('stamps offsets and epochs, and reads back whole batches', () => {
    const dir = path.join(tempDir(), 't-0');
    const log = Log.open(dir, testConfig());
    expect(fs.existsSync(dir)).toBe(true);
    expect([log.logStartOffset, log.logEndOffset, log.lastEpoch()]).toEqual([0, 0, -1]);
    const b = batch(['a', 'b', 'c']);
    expect(log.appendAsLeader(b, 3)).toEqual({ baseOffset: 0, lastOffset: 2 });
    expect(readBatchHeader(b)).toMatchObject({ baseOffset: 0, partitionLeaderEpoch: 3 });
    expect(log.appendAsLeader(batch(['d']), 3)).toEqual({ baseOffset: 3, lastOffset: 3 });
    expect(log.appendAsLeader(batch(['e', 'f']), 5)).toEqual({ baseOffset: 4, lastOffset: 5 });
    expect(log.logEndOffset).toBe(6);
    expect(log.lastEpoch()).toBe(5);
    expect(log.epochs.entries()).toEqual([{ epoch: 3, startOffset: 0 }, { epoch: 5, startOffset: 4 }]);
    expect(readAllValues(log).map((r) => r.value)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    // Reading from inside a batch returns that whole batch.
    expect(decodeBatches(log.read(1, 1)).map((r) => r.offset)).toEqual([0, 1, 2]);
    // maxBytes: at least one batch, otherwise only whole batches that fit.
    const all = log.read(0, 1 << 20);
    expect([...iterateBatches(all)]).toHaveLength(3);
    expect([...iterateBatches(log.read(0, all.length - 1))]).toHaveLength(2);
    // maxOffset (the high watermark): only batches whose last offset is below it.
    expect(log.read(0, 1 << 20, 2).length).toBe(0);
    expect(decodeBatches(log.read(0, 1 << 20, 3)).map((r) => r.offset)).toEqual([0, 1, 2]);
    expect(decodeBatches(log.read(0, 1 << 20, 5)).map((r) => r.offset)).toEqual([0, 1, 2, 3]);
    expect(decodeBatches(log.read(0, 1 << 20, 6)).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(log.read(6, 100).length).toBe(0);
    expect(() => log.read(7, 100)).toThrow(expect.objectContaining({ code: 'OFFSET_OUT_OF_RANGE' }));
    expect(() => log.read(-1, 100)).toThrow(expect.objectContaining({ code: 'OFFSET_OUT_OF_RANGE' }));
    log.close();
  });

  it('refuses garbage as leader and writes nothing', () => {
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig());
    log.appendAsLeader(batch(['a']), 0);
    const bad = batch(['x', 'y']);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    expect(() => log.appendAsLeader(bad, 0)).toThrow(expect.objectContaining({ code: 'CORRUPT_MESSAGE' }));
    expect(() => log.appendAsLeader(Buffer.from('nonsense'), 0)).toThrow(expect.objectContaining({ code: 'CORRUPT_MESSAGE' }));
    expect(() => log.appendAsLeader(batch([]), 0)).toThrow(expect.objectContaining({ code: 'CORRUPT_MESSAGE' }));
    expect(() => log.appendAsLeader(batch(['z']), 0)).not.toThrow();
    expect(log.logEndOffset).toBe(2);
    expect(log.sizeInBytes).toBe(fs.statSync(segmentFiles(log.dir)[0]!).size);
    log.close();
  });

  it('fences a stale leader epoch', () => {
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig());
    log.appendAsLeader(batch(['a']), 4);
    expect(() => log.appendAsLeader(batch(['b']), 3)).toThrow(expect.objectContaining({ code: 'FENCED_LEADER_EPOCH' }));
    expect(log.logEndOffset).toBe(1);
    log.close();
  });
});

describe('Log follower appends', () => {
  function leaderBytes(n: number, epochs: number[]): Buffer {
    const leader = Log.open(path.join(tempDir(), 'leader-0'), testConfig());
    for (let i = 0; i < n; i++) leader.appendAsLeader(batch([`a${i}`, `b${i}`]), epochs[i] ?? epochs.at(-1)!);
    const bytes = leader.read(0, 1 << 20);
    leader.close();
    return bytes;
  }

  it('copies the leader byte for byte, with its epochs', () => {
    const bytes = leaderBytes(6, [1, 1, 2, 2, 2, 4]);
    const follower = Log.open(path.join(tempDir(), 't-0'), testConfig({ segmentBytes: 200 }));
    expect(follower.appendAsFollower(bytes)).toEqual({ firstOffset: 0, lastOffset: 11 });
    expect(follower.epochs.entries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 4 }, { epoch: 4, startOffset: 10 }]);
    expect(follower.segmentCount).toBeGreaterThan(1);
    const copy = Buffer.concat(segmentFiles(follower.dir).map((f) => fs.readFileSync(f)));
    expect(copy.equals(bytes)).toBe(true);
    expect(follower.appendAsFollower(Buffer.alloc(0))).toEqual({ firstOffset: 12, lastOffset: 11 });
    follower.close();
  });

  it('refuses a wrong base offset, bad CRC, gaps, partial batches and falling epochs; writes nothing', () => {
    const bytes = leaderBytes(4, [2]);
    const batches = [...iterateBatches(bytes)];
    const follower = Log.open(path.join(tempDir(), 't-0'), testConfig());
    follower.appendAsFollower(batches[0]!);
    const size = follower.sizeInBytes;
    const refuse = (buf: Buffer, code: string) => {
      expect(() => follower.appendAsFollower(buf)).toThrow(expect.objectContaining({ code }));
      expect([follower.logEndOffset, follower.sizeInBytes, fs.statSync(segmentFiles(follower.dir)[0]!).size]).toEqual([2, size, size]);
    };
    refuse(batches[0]!, 'OFFSET_OUT_OF_RANGE'); // starts below the LEO
    refuse(batches[2]!, 'OFFSET_OUT_OF_RANGE'); // starts above the LEO
    refuse(Buffer.concat([batches[1]!, batches[3]!]), 'CORRUPT_MESSAGE'); // gap
    refuse(Buffer.concat([batches[1]!, batches[1]!]), 'CORRUPT_MESSAGE'); // offsets not increasing
    const flipped = Buffer.from(Buffer.concat([batches[1]!, batches[2]!]));
    flipped[flipped.length - 3] = flipped[flipped.length - 3]! ^ 1;
    refuse(flipped, 'CORRUPT_MESSAGE'); // second batch's CRC
    refuse(Buffer.concat([batches[1]!, batches[2]!.subarray(0, 40)]), 'CORRUPT_MESSAGE'); // torn
    refuse(Buffer.from('garbage garbage garbage'), 'CORRUPT_MESSAGE');
    const lowerEpoch = Buffer.from(batches[1]!);
    lowerEpoch.writeInt32BE(1, 12); // outside the CRC, so only the epoch rule catches it
    refuse(lowerEpoch, 'CORRUPT_MESSAGE');
    expect(follower.appendAsFollower(Buffer.concat(batches.slice(1)))).toEqual({ firstOffset: 2, lastOffset: 7 });
    follower.close();
  });
});

describe('Log index', () => {
  function fill(dir: string, n: number) {
    const log = Log.open(dir, testConfig({ segmentBytes: 1500, indexIntervalBytes: 100 }));
    for (let i = 0; i < n; i++) log.appendAsLeader(batch(values(i * 3, i * 3 + 3)), 1);
    return log;
  }

  function checkEveryOffset(log: Log) {
    for (let o = log.logStartOffset; o < log.logEndOffset; o++) {
      const records = decodeBatches(log.read(o, 1));
      expect(records.find((r) => r.offset === o)?.value?.toString(), `offset ${o}`).toBe(`v${o}`);
    }
  }

  it('serves every offset after many rolls, before and after reopen', () => {
    const dir = path.join(tempDir(), 't-0');
    let log = fill(dir, 300);
    expect(log.segmentCount).toBeGreaterThan(10);
    checkEveryOffset(log);
    log.close();
    const indexes = fs.readdirSync(dir).filter((n) => n.endsWith('.index'));
    expect(indexes.length).toBe(log.segmentCount);
    expect(fs.statSync(path.join(dir, indexes[0]!)).size).toBeGreaterThan(0);
    log = Log.open(dir, testConfig({ segmentBytes: 1500, indexIntervalBytes: 100 }), { recoveryPoint: 900 });
    checkEveryOffset(log);
    log.close();
  });

  it.each(['deleted', 'garbage', 'plausible but wrong', 'truncated'])('rebuilds a %s index', (kind) => {
    const dir = path.join(tempDir(), 't-0');
    const log = fill(dir, 200);
    log.flush();
    const rp = log.recoveryPoint;
    log.close();
    const warnings: string[] = [];
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.index'))) {
      const file = path.join(dir, f);
      const size = fs.statSync(file).size;
      if (kind === 'deleted') fs.unlinkSync(file);
      if (kind === 'garbage') fs.writeFileSync(file, Buffer.from('this is not an index at all!!'));
      if (kind === 'truncated') fs.truncateSync(file, Math.max(0, size - 3));
      if (kind === 'plausible but wrong') {
        // Increasing entries that point at the wrong places.
        const buf = Buffer.alloc(size);
        for (let i = 0; i < size / 8; i++) {
          buf.writeInt32BE(i * 2 + 1, i * 8);
          buf.writeInt32BE(i * 7 + 5, i * 8 + 4);
        }
        fs.writeFileSync(file, buf);
      }
    }
    const again = Log.open(dir, testConfig({ segmentBytes: 1500, indexIntervalBytes: 100 }), {
      recoveryPoint: rp, logger: { info() {}, warn: (_o, m) => warnings.push(m) },
    });
    expect(again.logEndOffset).toBe(600);
    checkEveryOffset(again);
    if (kind !== 'plausible but wrong') expect(warnings).toContain('rebuilding missing or malformed segment index');
    again.close();
  });
});

describe('Log truncation and the epoch cache', () => {
  it('truncates mid-segment and across segments, consistently across reopen', () => {
    const dir = path.join(tempDir(), 't-0');
    const config = testConfig({ segmentBytes: 400, indexIntervalBytes: 64 });
    const log = Log.open(dir, config);
    for (let i = 0; i < 40; i++) log.appendAsLeader(batch(values(i * 2, i * 2 + 2)), 1 + Math.floor(i / 10));
    expect(log.epochs.entries()).toEqual([1, 2, 3, 4].map((e, i) => ({ epoch: e, startOffset: i * 20 })));
    const segmentsBefore = log.segmentCount;
    log.truncateTo(51); // inside the batch 50..51: the whole batch goes
    expect(log.logEndOffset).toBe(50);
    expect(log.segmentCount).toBeLessThan(segmentsBefore);
    expect(log.epochs.entries()).toEqual([1, 2, 3].map((e, i) => ({ epoch: e, startOffset: i * 20 })));
    expect(log.lastEpoch()).toBe(3);
    log.truncateTo(40); // exactly where epoch 3 starts
    expect(log.epochs.entries()).toEqual([1, 2].map((e, i) => ({ epoch: e, startOffset: i * 20 })));
    expect(log.lastEpoch()).toBe(2);
    expect(log.appendAsLeader(batch(['new']), 7)).toEqual({ baseOffset: 40, lastOffset: 40 });
    const expected = [...values(0, 40), 'new'];
    expect(readAllValues(log).map((r) => r.value)).toEqual(expected);
    log.close();
    const again = Log.open(dir, config);
    expect(again.logEndOffset).toBe(41);
    expect(again.epochs.entries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 20 }, { epoch: 7, startOffset: 40 }]);
    expect(readAllValues(again).map((r) => r.value)).toEqual(expected);
    again.truncateTo(0);
    expect([again.logStartOffset, again.logEndOffset, again.segmentCount, again.lastEpoch()]).toEqual([0, 0, 1, -1]);
    expect(again.epochs.entries()).toEqual([]);
    again.close();
  });

  it('truncateFullyAndStartAt empties the log and restarts it', () => {
    const dir = path.join(tempDir(), 't-0');
    const log = Log.open(dir, testConfig({ segmentBytes: 300 }));
    for (let i = 0; i < 20; i++) log.appendAsLeader(batch(values(i, i + 1)), 2);
    log.truncateFullyAndStartAt(1000);
    expect([log.logStartOffset, log.logEndOffset, log.sizeInBytes, log.recoveryPoint]).toEqual([1000, 1000, 0, 1000]);
    expect(log.epochs.entries()).toEqual([]);
    expect(() => log.read(999, 10)).toThrow(expect.objectContaining({ code: 'OFFSET_OUT_OF_RANGE' }));
    expect(log.appendAsLeader(batch(['x']), 3)).toEqual({ baseOffset: 1000, lastOffset: 1000 });
    log.close();
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.log'))).toEqual(['00000000000000001000.log']);
    const again = Log.open(dir, testConfig());
    expect([again.logStartOffset, again.logEndOffset]).toEqual([1000, 1001]);
    expect(again.epochs.entries()).toEqual([{ epoch: 3, startOffset: 1000 }]);
    again.close();
  });

  it('rebuilds a lost or corrupt epoch checkpoint from the batches', () => {
    for (const damage of ['delete', 'garble']) {
      const dir = path.join(tempDir(), 't-0');
      const log = Log.open(dir, testConfig());
      for (let i = 0; i < 6; i++) log.appendAsLeader(batch([`x${i}`]), [0, 0, 2, 5, 5, 9][i]!);
      const entries = log.epochs.entries();
      log.close();
      const file = path.join(dir, 'leader-epoch-checkpoint');
      if (damage === 'delete') fs.unlinkSync(file);
      else fs.writeFileSync(file, '0\n9\nnope');
      const again = Log.open(dir, testConfig());
      expect(again.epochs.entries()).toEqual(entries);
      expect(again.logEndOffset).toBe(6);
      again.close();
    }
  });
});

describe('Log retention and rolling', () => {
  it('deletes only whole expired segments, never the active one, and moves the log start', () => {
    let now = 10_000_000;
    const dir = path.join(tempDir(), 't-0');
    const config = testConfig({ segmentBytes: 300, retentionMs: 5000 });
    const log = Log.open(dir, config, { clock: () => now });
    for (let i = 0; i < 30; i++) log.appendAsLeader(batch([`r${i}`], { timestamp: now + i * 1000 }), 1);
    const bases = log.segmentBaseOffsets();
    expect(bases.length).toBeGreaterThan(3);
    // Nothing is old enough yet.
    expect(log.deleteOldSegments(now + 5000)).toBe(0);
    // At t = now + 14s, records with timestamps <= now + 8.999s are expired; a segment goes only
    // when its newest record is.
    const cutoff = now + 14_000;
    const deleted = log.deleteOldSegments(cutoff);
    expect(deleted).toBeGreaterThan(0);
    expect(log.logStartOffset).toBe(bases[deleted]);
    for (let o = 0; o < log.logStartOffset; o++) expect(cutoff - (now + o * 1000)).toBeGreaterThan(5000);
    // ...and the oldest remaining segment still holds a record that is not.
    const lastOfFirstRemaining = bases[deleted + 1]! - 1;
    expect(cutoff - (now + lastOfFirstRemaining * 1000)).toBeLessThanOrEqual(5000);
    expect(() => log.read(log.logStartOffset - 1, 100)).toThrow(expect.objectContaining({ code: 'OFFSET_OUT_OF_RANGE' }));
    expect(readAllValues(log)[0]).toEqual({ offset: log.logStartOffset, value: `r${log.logStartOffset}` });
    // Far in the future everything is expired, but the active segment stays.
    now += 1e9;
    log.deleteOldSegments();
    expect(log.segmentCount).toBe(1);
    expect(log.logStartOffset).toBe(bases.at(-1));
    expect(log.logEndOffset).toBe(30);
    expect(log.epochs.entries()).toEqual([{ epoch: 1, startOffset: bases.at(-1) }]);
    log.close();
    const again = Log.open(dir, config);
    expect([again.logStartOffset, again.logEndOffset]).toEqual([bases.at(-1), 30]);
    again.close();
  });

  it('applies retention.bytes by whole segments', () => {
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig({ segmentBytes: 500, retentionBytes: 1200 }));
    for (let i = 0; i < 50; i++) log.appendAsLeader(batch([`r${i}`]), 1);
    const total = log.sizeInBytes;
    const n = log.deleteOldSegments();
    expect(n).toBeGreaterThan(0);
    expect(log.sizeInBytes).toBeLessThanOrEqual(1200 + 500);
    expect(log.sizeInBytes).toBeLessThan(total);
    expect(log.deleteOldSegments()).toBe(0);
    log.close();
  });

  it('rolls by segment.ms from the first batch timestamp (KIP-33), and finds offsets by timestamp', () => {
    let now = 50_000;
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig({ segmentMs: 1000 }), { clock: () => now });
    log.appendAsLeader(batch(['a', 'b'], { timestamp: 50_000 }), 1);
    log.maybeRoll();
    expect(log.segmentCount).toBe(1);
    now = 51_001; // the first batch's maxTimestamp is 50_001: exactly segment.ms, not past it
    log.maybeRoll();
    expect(log.segmentCount).toBe(1);
    now = 51_002;
    log.maybeRoll();
    expect(log.segmentCount).toBe(2);
    log.maybeRoll(); // an empty active segment never rolls
    expect(log.segmentCount).toBe(2);
    log.appendAsLeader(batch(['c', 'd'], { timestamp: 51_001 }), 1);
    now = 60_000; // the next append rolls first
    log.appendAsLeader(batch(['e'], { timestamp: 60_000 }), 1);
    expect(log.segmentBaseOffsets()).toEqual([0, 2, 4]);
    expect(log.offsetForTimestamp(0)).toBe(0);
    expect(log.offsetForTimestamp(50_001)).toBe(1);
    expect(log.offsetForTimestamp(50_002)).toBe(2);
    expect(log.offsetForTimestamp(51_002)).toBe(3);
    expect(log.offsetForTimestamp(59_000)).toBe(4);
    expect(log.offsetForTimestamp(60_001)).toBeNull();
    log.close();
  });

  it('flushes per flush.messages and advances the recovery point', () => {
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig({ flushMessages: 5 }));
    log.appendAsLeader(batch(['a', 'b', 'c']), 0);
    expect(log.recoveryPoint).toBe(0);
    log.appendAsLeader(batch(['d', 'e']), 0);
    expect(log.recoveryPoint).toBe(5);
    log.appendAsLeader(batch(['f']), 0);
    expect(log.recoveryPoint).toBe(5);
    log.flush();
    expect(log.recoveryPoint).toBe(6);
    log.close();
  });

  it('flushes per flush.ms', () => {
    let now = 0;
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig({ flushMs: 100 }), { clock: () => now });
    log.appendAsLeader(batch(['a'], { timestamp: 0 }), 0);
    expect(log.recoveryPoint).toBe(0);
    now = 150;
    log.appendAsLeader(batch(['b'], { timestamp: 0 }), 0);
    expect(log.recoveryPoint).toBe(2);
    log.close();
  });

  it('delete removes the directory', () => {
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig());
    log.appendAsLeader(batch(['a']), 0);
    log.delete();
    expect(fs.existsSync(log.dir)).toBe(false);
  });
});
