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
      segmentBytes: 1024 ** 3,
      segmentMs: 7 * 24 * 3600 * 1000,
      indexIntervalBytes: 4096,
      retentionBytes: -1,
      retentionMs: 7 * 24 * 3600 * 1000,
      flushMessages: Number.MAX_SAFE_INTEGER,
      flushMs: Number.MAX_SAFE_INTEGER,
      compact: false,
      delete: true,
      deleteRetentionMs: 86_400_000,
      minCleanableDirtyRatio: 0.5,
      minCompactionLagMs: 0,
      maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
    });
  });

  it('maps cleanup.policy, and rolls a compacted log by max.compaction.lag.ms when that comes first', () => {
    const compacted = logConfigFromTopic({ ...DEFAULT_TOPIC_CONFIGS, 'cleanup.policy': 'compact', 'segment.ms': 60_000, 'max.compaction.lag.ms': 5000 });
    expect([compacted.compact, compacted.delete, compacted.segmentMs]).toEqual([true, false, 5000]);
    const both = logConfigFromTopic({ ...DEFAULT_TOPIC_CONFIGS, 'cleanup.policy': 'compact,delete', 'max.compaction.lag.ms': 5000 });
    expect([both.compact, both.delete, both.segmentMs]).toEqual([true, true, 5000]);
    // Not compacted: max.compaction.lag.ms means nothing.
    expect(logConfigFromTopic({ ...DEFAULT_TOPIC_CONFIGS, 'max.compaction.lag.ms': 5000 }).segmentMs).toBe(7 * 24 * 3600 * 1000);
    // Configs written before these settings existed read as the defaults.
    const { 'cleanup.policy': _, ...old } = DEFAULT_TOPIC_CONFIGS;
    expect(logConfigFromTopic(old).compact).toBe(false);
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
    expect(log.epochs.entries()).toEqual([
      { epoch: 3, startOffset: 0 },
      { epoch: 5, startOffset: 4 },
    ]);
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

  it('allocates only the bytes it returns, however much maxBytes asks for (a 256 MiB fetch of a small log)', () => {
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig({ indexIntervalBytes: 4096 }));
    const big = (i: number) => batch([`r${i}`.padEnd(10_000, '.')]); // ~10 KB per batch
    for (let i = 0; i < 40; i++) log.appendAsLeader(big(i), 0);
    const hw = 25;
    // Node pools allocations under Buffer.poolSize / 2 (32 KiB on Node 24): every read here is
    // larger, so its ArrayBuffer is its own and its byteLength is what the read allocated.
    const cases = [
      { name: 'whole log', offset: 0, maxBytes: 256 * 1024 * 1024, maxOffset: undefined, records: 40 },
      { name: 'up to the HW', offset: 0, maxBytes: 256 * 1024 * 1024, maxOffset: hw, records: 25 },
      { name: 'from inside the log to the HW', offset: 20, maxBytes: 256 * 1024 * 1024, maxOffset: hw, records: 5 },
      { name: 'maxBytes cutting a batch', offset: 0, maxBytes: 95_000, maxOffset: hw, records: 9 },
    ];
    // Once through the recent batches (tail reads), once after a reopen (index and headers).
    for (const reopened of [false, true]) {
      const l = reopened ? Log.open(log.dir, testConfig({ indexIntervalBytes: 4096 })) : log;
      for (const c of cases) {
        const buf = l.read(c.offset, c.maxBytes, c.maxOffset);
        expect(
          decodeBatches(buf).map((r) => r.offset),
          c.name,
        ).toEqual(Array.from({ length: c.records }, (_, i) => c.offset + i));
        expect(buf.length, c.name).toBeGreaterThan(Buffer.poolSize >>> 1);
        expect(buf.byteOffset, c.name).toBe(0);
        expect(buf.buffer.byteLength, c.name).toBe(buf.length);
      }
      if (reopened) l.close();
    }
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
    expect(follower.epochs.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 4 },
      { epoch: 4, startOffset: 10 },
    ]);
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

  it("creates a segment's index file with its first entry: a new log has none; a segment without entries reopens without a warning", () => {
    const dir = path.join(tempDir(), 't-0');
    const config = testConfig({ segmentBytes: 1500, indexIntervalBytes: 100 });
    const log = Log.open(dir, config);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.index'))).toEqual([]);
    // One batch: still no entry (an entry marks a batch after the first), so still no file.
    log.appendAsLeader(batch(values(0, 3)), 1);
    log.flush();
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.index'))).toEqual([]);
    for (let i = 1; i < 20; i++) log.appendAsLeader(batch(values(i * 3, i * 3 + 3)), 1);
    log.flush();
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.index')).length).toBe(log.segmentCount);
    const rp = log.recoveryPoint;
    log.close();
    const warnings: string[] = [];
    const again = Log.open(dir, config, { recoveryPoint: rp, logger: { info() {}, warn: (_o, m) => warnings.push(m) } });
    checkEveryOffset(again);
    expect(warnings).toEqual([]);
    again.close();
    // An empty log closed and reopened: no index file, no warning.
    const emptyDir = path.join(tempDir(), 't-1');
    Log.open(emptyDir, config).close();
    const empty = Log.open(emptyDir, config, { recoveryPoint: 0, logger: { info() {}, warn: (_o, m) => warnings.push(m) } });
    expect(fs.readdirSync(emptyDir).filter((n) => n.endsWith('.index'))).toEqual([]);
    expect(warnings).toEqual([]);
    empty.close();
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
      recoveryPoint: rp,
      logger: { info() {}, warn: (_o, m) => warnings.push(m) },
    });
    expect(again.logEndOffset).toBe(600);
    checkEveryOffset(again);
    if (kind !== 'plausible but wrong') expect(warnings).toContain('rebuilding missing or malformed segment index');
    again.close();
  });
});

describe('Log.version', () => {
  it('moves on whenever the log end, last epoch, start or segments change, and not on reads', () => {
    const leader = Log.open(path.join(tempDir(), 'v-leader'), testConfig({ segmentBytes: 300, retentionBytes: 600, segmentMs: 60_000 }));
    const follower = Log.open(path.join(tempDir(), 'v-follower'), testConfig({ segmentBytes: 300 }));
    expect(leader.version).not.toBe(follower.version);
    const state = (log: Log) => [log.logEndOffset, log.lastEpoch(), log.logStartOffset, log.segmentCount].join('/');
    let epoch = 1;
    const ops: [string, () => void][] = [
      ['append as leader', () => leader.appendAsLeader(batch(values(0, 3)), epoch)],
      ['new epoch', () => leader.appendAsLeader(batch(['x']), ++epoch)],
      [
        'copy to follower',
        () => {
          if (follower.logEndOffset < leader.logStartOffset) follower.truncateFullyAndStartAt(leader.logStartOffset);
          if (follower.logEndOffset < leader.logEndOffset) follower.appendAsFollower(leader.read(follower.logEndOffset, 1 << 20));
        },
      ],
      ['truncate follower', () => follower.truncateTo(Math.max(0, follower.logEndOffset - 2))],
      ['retention', () => leader.deleteOldSegments(Date.now(), leader.logEndOffset)],
      ['roll', () => leader.maybeRoll(Date.now() + 10 ** 12)],
    ];
    for (let i = 0; i < 200; i++) {
      const [name, op] = ops[(i * 7 + (i >> 3)) % ops.length]!;
      const before = [leader.version, follower.version, state(leader), state(follower)] as const;
      op();
      if (state(leader) !== before[2]) expect(leader.version, `${name} #${i}`).not.toBe(before[0]);
      if (state(follower) !== before[3]) expect(follower.version, `${name} #${i}`).not.toBe(before[1]);
      const versions = [leader.version, follower.version];
      leader.read(leader.logStartOffset, 1 << 20);
      follower.read(follower.logStartOffset, 1 << 20);
      expect([leader.version, follower.version]).toEqual(versions);
    }
    follower.truncateFullyAndStartAt(1000);
    expect(follower.version).not.toBe(leader.version);
    leader.close();
    follower.close();
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
    expect(again.epochs.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 20 },
      { epoch: 7, startOffset: 40 },
    ]);
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

/** Rolls the active segment now, whatever segment.ms says (test setup only). */
function forceRoll(log: Log): void {
  log.maybeRoll(Number.POSITIVE_INFINITY);
}

describe('Log.flushRolledSegmentsInBackground (the recovery point follows rolled segments)', () => {
  it('moves the recovery point to the active segment once the rolled ones are synced; a start then scans only the active one', async () => {
    const dir = path.join(tempDir(), 't-0');
    const config = testConfig({ segmentBytes: 300 });
    const log = Log.open(dir, config);
    for (let i = 0; i < 30; i++) log.appendAsLeader(batch([`r${i}`]), 0);
    const bases = log.segmentBaseOffsets();
    expect(bases.length).toBeGreaterThan(3);
    expect(log.recoveryPoint).toBe(0);
    await log.flushRolledSegmentsInBackground();
    expect(log.recoveryPoint).toBe(bases.at(-1));
    log.close();
    // A byte of the first segment flipped behind our back: below the recovery point nothing is
    // re-read, so the log opens whole; from 0 it is scanned and cut there.
    const first = segmentFiles(dir)[0]!;
    const bytes = fs.readFileSync(first);
    bytes[bytes.length - 3]! ^= 0xff;
    fs.writeFileSync(first, bytes);
    const trusted = Log.open(dir, config, { recoveryPoint: bases.at(-1)! });
    expect(trusted.logEndOffset).toBe(30);
    trusted.close();
    const scanned = Log.open(dir, config, { recoveryPoint: 0 });
    expect(scanned.logEndOffset).toBeLessThan(bases[1]!);
    scanned.close();
  });

  it('leaves the recovery point alone when the log is truncated while the flush runs', async () => {
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig({ segmentBytes: 300 }));
    for (let i = 0; i < 30; i++) log.appendAsLeader(batch([`r${i}`]), 0);
    const flushing = log.flushRolledSegmentsInBackground();
    log.truncateTo(5);
    await flushing;
    expect(log.recoveryPoint).toBeLessThanOrEqual(5);
    log.close();
  });
});

describe('Log.deleteSegmentsBelow (a prefix covered elsewhere)', () => {
  it('deletes only segments wholly below the offset, never the active one, and keeps it across a reopen', () => {
    const dir = path.join(tempDir(), 'meta-0');
    const config = testConfig({ segmentBytes: 300 });
    const log = Log.open(dir, config);
    for (let i = 0; i < 30; i++) log.appendAsLeader(batch([`r${i}`]), 0);
    const bases = log.segmentBaseOffsets();
    expect(bases.length).toBeGreaterThan(3);
    expect(log.deleteSegmentsBelow(bases[1]! - 1)).toBe(0);
    expect(log.deleteSegmentsBelow(bases[2]!)).toBe(2);
    expect(log.logStartOffset).toBe(bases[2]);
    expect(decodeBatches(log.read(bases[2]!, 1 << 20))[0]!.value!.toString()).toBe(`r${bases[2]}`);
    expect(log.deleteSegmentsBelow(30)).toBe(bases.length - 3);
    expect(log.segmentBaseOffsets()).toEqual([bases.at(-1)]);
    log.close();
    const again = Log.open(dir, config);
    expect([again.logStartOffset, again.logEndOffset]).toEqual([bases.at(-1), 30]);
    again.close();
  });
});

describe('Log retention and rolling', () => {
  it('deletes only whole expired segments, never the active one, and moves the log start', () => {
    const t0 = 10_000_000;
    let now = t0;
    const dir = path.join(tempDir(), 't-0');
    const config = testConfig({ segmentBytes: 300, retentionMs: 5000 });
    const log = Log.open(dir, config, { clock: () => now });
    for (let i = 0; i < 30; i++) {
      now = t0 + i * 1000;
      log.appendAsLeader(batch([`r${i}`], { timestamp: now }), 1);
    }
    const bases = log.segmentBaseOffsets();
    expect(bases.length).toBeGreaterThan(3);
    // Nothing is old enough yet.
    expect(log.deleteOldSegments(t0 + 5000, 30)).toBe(0);
    // At t = t0 + 14s, records with timestamps <= t0 + 8.999s are expired; a segment goes only
    // when its newest record is.
    const cutoff = t0 + 14_000;
    const deleted = log.deleteOldSegments(cutoff, 30);
    expect(deleted).toBeGreaterThan(0);
    expect(log.logStartOffset).toBe(bases[deleted]);
    for (let o = 0; o < log.logStartOffset; o++) expect(cutoff - (t0 + o * 1000)).toBeGreaterThan(5000);
    // ...and the oldest remaining segment still holds a record that is not.
    const lastOfFirstRemaining = bases[deleted + 1]! - 1;
    expect(cutoff - (t0 + lastOfFirstRemaining * 1000)).toBeLessThanOrEqual(5000);
    expect(() => log.read(log.logStartOffset - 1, 100)).toThrow(expect.objectContaining({ code: 'OFFSET_OUT_OF_RANGE' }));
    expect(readAllValues(log)[0]).toEqual({ offset: log.logStartOffset, value: `r${log.logStartOffset}` });
    // Far in the future everything is expired, but the active segment stays.
    now += 1e9;
    log.deleteOldSegments(now, 30);
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
    const n = log.deleteOldSegments(Date.now(), 50);
    expect(n).toBeGreaterThan(0);
    expect(log.sizeInBytes).toBeLessThanOrEqual(1200 + 500);
    expect(log.sizeInBytes).toBeLessThan(total);
    expect(log.deleteOldSegments(Date.now(), 50)).toBe(0);
    log.close();
  });

  // Kafka's UnifiedLog.deletableSegments: a segment is deletable only when the next segment's
  // base offset is at or below the high watermark, i.e. all of it is committed.
  describe.each([
    { rule: 'retention.ms', config: { retentionMs: 1000 } },
    { rule: 'retention.bytes', config: { retentionBytes: 0 } },
  ])('$rule never deletes a segment holding offsets at or above the high watermark', ({ config }) => {
    // Ten one-record batches per segment: segments [0,10) [10,20) [20,30) [30,40), active [40,45).
    const setup = () => {
      const now = 1_000_000;
      const log = Log.open(path.join(tempDir(), 't-0'), testConfig({ ...config }), { clock: () => now });
      for (let i = 0; i < 45; i++) {
        log.appendAsLeader(batch([`r${i}`], { timestamp: now }), 1);
        if (i % 10 === 9) forceRoll(log);
      }
      expect(log.segmentBaseOffsets()).toEqual([0, 10, 20, 30, 40]);
      return log;
    };
    it.each([
      { hw: 0, start: 0 },
      { hw: 9, start: 0 },
      { hw: 10, start: 10 },
      { hw: 11, start: 10 },
      { hw: 29, start: 20 },
      { hw: 30, start: 30 },
      { hw: 40, start: 40 },
      { hw: 45, start: 40 }, // the active segment stays even when all of it is committed
    ])('HW $hw: the log starts at $start', ({ hw, start }) => {
      const log = setup();
      const later = 1_000_000 + 10_000;
      log.deleteOldSegments(later, hw);
      expect(log.logStartOffset).toBe(start);
      expect(readAllValues(log).map((r) => r.value)).toEqual(Array.from({ length: 45 - start }, (_, i) => `r${start + i}`));
      log.close();
    });
  });

  it('refuses a high watermark outside [0, log end] (a broken caller)', () => {
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig({ retentionBytes: 0 }));
    log.appendAsLeader(batch(['a']), 0);
    expect(() => log.deleteOldSegments(0, 2)).toThrow(/high watermark 2 outside \[0, 1\]/);
    expect(() => log.deleteOldSegments(0, -1)).toThrow(/high watermark -1/);
    log.close();
  });

  it('rolls by segment.ms counted on the broker clock from the first append, and finds offsets by timestamp', () => {
    let now = 50_000;
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig({ segmentMs: 1000 }), { clock: () => now });
    log.appendAsLeader(batch(['a', 'b'], { timestamp: 50_000 }), 1);
    log.maybeRoll();
    expect(log.segmentCount).toBe(1);
    now = 51_000; // exactly segment.ms after the first append: not past it
    log.maybeRoll();
    expect(log.segmentCount).toBe(1);
    now = 51_001;
    log.maybeRoll();
    expect(log.segmentCount).toBe(2);
    log.maybeRoll(); // an empty active segment never rolls
    expect(log.segmentCount).toBe(2);
    now = 59_000;
    log.appendAsLeader(batch(['c', 'd'], { timestamp: 51_001 }), 1);
    now = 60_001; // the next append rolls first
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

  describe('a producer choosing its timestamps cannot steer rolls or retention', () => {
    const broker = 1_700_000_000_000; // the broker's clock
    const hour = 3600 * 1000;

    it.each([
      { name: 'from 1970', timestamp: 0 },
      { name: 'a year ahead', timestamp: broker + 365 * 24 * hour },
      { name: 'honest', timestamp: undefined }, // the time of the send
    ])('timestamps $name: segment.ms rolls once per segment.ms of broker time, not per batch', ({ timestamp }) => {
      let now = broker;
      const log = Log.open(path.join(tempDir(), 't-0'), testConfig({ segmentMs: hour }), { clock: () => now });
      for (let i = 0; i < 20; i++) {
        now = broker + i * (hour / 10); // 20 batches over two hours
        log.appendAsLeader(batch([`r${i}`], { timestamp: timestamp ?? now }), 1);
        log.maybeRoll();
      }
      // Rolls at the first append past one hour of the first append: [0..10] then [11..19].
      expect(log.segmentBaseOffsets()).toEqual([0, 11]);
      log.close();
    });

    it('a future timestamp counts as its append time for retention.ms; an old one as itself', () => {
      let now = broker;
      const log = Log.open(path.join(tempDir(), 't-0'), testConfig({ retentionMs: hour }), { clock: () => now });
      log.appendAsLeader(batch(['future'], { timestamp: broker + 365 * 24 * hour }), 1);
      forceRoll(log);
      now = broker + 2 * hour;
      log.appendAsLeader(batch(['ancient'], { timestamp: 0 }), 1);
      forceRoll(log);
      now = broker + 2 * hour + 1;
      log.appendAsLeader(batch(['honest'], { timestamp: now }), 1);
      forceRoll(log);
      expect(log.segmentBaseOffsets()).toEqual([0, 1, 2, 3]);
      // The future-stamped segment counts from its append: kept for retention.ms (and, oldest
      // first, so is everything behind it)...
      expect(log.deleteOldSegments(broker + hour, 3)).toBe(0);
      // ...and gone right after, with the 1970 one, which counts as 1970; the honest one stays.
      expect(log.deleteOldSegments(broker + hour + 1, 3)).toBe(2);
      expect(log.logStartOffset).toBe(2);
      expect(log.deleteOldSegments(broker + 3 * hour + 1, 3)).toBe(0);
      expect(log.deleteOldSegments(broker + 3 * hour + 2, 3)).toBe(1);
      expect(log.logStartOffset).toBe(3);
      log.close();
    });

    it('after a restart, the file mtime bounds both (the append times were not kept)', () => {
      let now = broker;
      const dir = path.join(tempDir(), 't-0');
      const config = testConfig({ retentionMs: hour, segmentMs: hour });
      const log = Log.open(dir, config, { clock: () => now });
      log.appendAsLeader(batch(['future'], { timestamp: broker + 365 * 24 * hour }), 1);
      forceRoll(log);
      log.appendAsLeader(batch(['ancient'], { timestamp: 0 }), 1);
      log.appendAsLeader(batch(['ancient too'], { timestamp: 0 }), 1);
      log.close();
      const [future, ancient] = segmentFiles(dir);
      fs.utimesSync(future!, broker / 1000, broker / 1000);
      fs.utimesSync(ancient!, broker / 1000, broker / 1000);

      now = broker + 10;
      const again = Log.open(dir, config, { clock: () => now });
      // The active segment's first batch says 1970: it rolls once at the next append...
      again.appendAsLeader(batch(['after restart'], { timestamp: 0 }), 1);
      expect(again.segmentBaseOffsets()).toEqual([0, 1, 3]);
      // ...and the new segment counts from the broker's clock, whatever the timestamps say.
      now = broker + hour;
      again.appendAsLeader(batch(['still 1970'], { timestamp: 0 }), 1);
      again.maybeRoll();
      expect(again.segmentBaseOffsets()).toEqual([0, 1, 3]);
      // The future-stamped segment expires an hour after its mtime, not in a year; the 1970 one
      // (mtime bounds it from above only) goes with it.
      expect(again.deleteOldSegments(broker + hour, 5)).toBe(0);
      expect(again.deleteOldSegments(broker + hour + 1, 5)).toBe(2);
      expect(again.logStartOffset).toBe(3);
      again.close();
    });
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
