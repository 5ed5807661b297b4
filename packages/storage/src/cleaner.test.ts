// The cleaner on real files: what a cleaning keeps, where it stops, what it leaves for producers,
// followers and readers, and when it gives up.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkBatchCrc, iterateBatches, readBatchHeader, type BatchHeader } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleaner } from './cleaner.ts';
import { cleanableOffsets } from './compaction.ts';
import { Log, type LogConfig } from './log.ts';
import { batch, batchRanges, keyedBatch, readAllRecords, removeTempDirs, tempDir, testConfig, type KV } from './internal/test-support.ts';

afterEach(removeTempDirs);

const NOW = 50_000_000;
// segment.ms of a minute: `maybeRoll(Number.MAX_SAFE_INTEGER)` closes the active segment.
const compacted = (overrides: Partial<LogConfig> = {}) =>
  testConfig({ compact: true, delete: false, segmentBytes: 500, segmentMs: 60_000, indexIntervalBytes: 64, ...overrides });

interface CleanOptions {
  nowMs?: number;
  highWatermark?: number;
  dedupeBufferBytes?: number;
  producerIdExpirationMs?: number;
}

function cleanerFor(log: Log, o: CleanOptions = {}): Cleaner {
  const nowMs = o.nowMs ?? NOW;
  const offsets = cleanableOffsets(log.compactionView(o.highWatermark ?? log.logEndOffset), nowMs);
  return new Cleaner(log, {
    nowMs,
    firstDirtyOffset: offsets.firstDirtyOffset,
    firstUncleanableOffset: offsets.firstUncleanableOffset,
    dedupeBufferBytes: o.dedupeBufferBytes ?? 1 << 20,
    producerIdExpirationMs: o.producerIdExpirationMs ?? 86_400_000,
    ioBufferBytes: 256,
  });
}

async function clean(log: Log, o: CleanOptions = {}): Promise<Cleaner> {
  const cleaner = cleanerFor(log, o);
  expect(await cleaner.run(300)).toBe('done');
  return cleaner;
}

/** Appends each entry list as one batch; returns the offset of every record. */
function appendAll(log: Log, batches: readonly (readonly KV[])[], epoch = 1): number[] {
  const offsets: number[] = [];
  for (const entries of batches) {
    const { baseOffset } = log.appendAsLeader(keyedBatch(entries, { timestamp: 1000 + log.logEndOffset }), epoch);
    for (let i = 0; i < entries.length; i++) offsets.push(baseOffset + i);
  }
  return offsets;
}

/** The model: below `end`, the latest record per key (keyless ones gone); at and above, everything. */
function latestPerKey(records: { offset: number; key: string | null; value: string | null }[], end: number) {
  const latest = new Map<string, number>();
  for (const r of records) if (r.offset < end && r.key !== null) latest.set(r.key, r.offset);
  return records.filter((r) => r.offset >= end || (r.key !== null && latest.get(r.key) === r.offset));
}

function updates(n: number, keys: number, prefix = 'v'): KV[][] {
  return Array.from({ length: n }, (_, i) => [[`k${i % keys}`, `${prefix}${i}`]] as KV[]);
}

function cleanedFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.cleaned') || f.endsWith('.swap'));
}

function headers(log: Log): BatchHeader[] {
  const out: BatchHeader[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    for (const b of iterateBatches(log.read(offset, 1 << 20))) {
      const h = checkBatchCrc(b);
      out.push(h);
      offset = h.baseOffset + h.lastOffsetDelta + 1;
    }
  }
  return out;
}

/** Every batch follows the one before it: no offset is left outside a batch. */
function expectDense(log: Log): void {
  const ranges = batchRanges(log);
  let next = log.logStartOffset;
  for (const [base, last] of ranges) {
    expect(base).toBe(next);
    next = last + 1;
  }
  expect(next).toBe(log.logEndOffset);
}

describe('Cleaner', () => {
  it('keeps the latest record per key below the active segment, and every offset inside a batch', async () => {
    const log = Log.open(path.join(tempDir(), 't-0'), compacted());
    appendAll(log, [
      ...updates(60, 7),
      [
        ['k1', 'multi-a'],
        ['k2', 'multi-b'],
        ['k1', 'multi-c'],
      ],
      ...updates(20, 7, 'w'),
    ]);
    const before = readAllRecords(log);
    const sizeBefore = log.sizeInBytes;
    const activeBase = log.segmentBaseOffsets().at(-1)!;
    const cleaner = await clean(log);
    expect(cleaner.endOffset).toBe(activeBase);
    expect(readAllRecords(log)).toEqual(latestPerKey(before, activeBase));
    expect(cleaner.stats.recordsRemoved).toBe(before.length - latestPerKey(before, activeBase).length);
    expect(log.sizeInBytes).toBeLessThan(sizeBefore);
    expect(cleaner.stats.bytesBefore - cleaner.stats.bytesAfter).toBe(sizeBefore - log.sizeInBytes);
    // The next cleaning groups the shrunken segments into fewer (Kafka's groupSegmentsBySize).
    const segmentsAfterFirst = log.segmentCount;
    await clean(log);
    expect(log.segmentCount).toBeLessThan(segmentsAfterFirst);
    expect(readAllRecords(log)).toEqual(latestPerKey(before, activeBase));
    expect([log.logStartOffset, log.logEndOffset]).toEqual([0, before.at(-1)!.offset + 1]);
    expectDense(log);
    // A read at any offset, removed or not, answers from the batch holding it.
    for (let o = 0; o < log.logEndOffset; o++) {
      const h = readBatchHeader(log.read(o, 1));
      expect(h.baseOffset <= o && o <= h.baseOffset + h.lastOffsetDelta, `offset ${o}`).toBe(true);
    }
    expect(cleanedFiles(log.dir)).toEqual([]);
    expect(log.cleanerCheckpoint).toEqual({ firstDirtyOffset: activeBase, rewrittenToOffset: activeBase });
    // Reopened (scanning every segment, then trusting them): the same records.
    log.close();
    for (const recoveryPoint of [0, activeBase]) {
      const again = Log.open(log.dir, compacted(), { recoveryPoint });
      expect(readAllRecords(again)).toEqual(latestPerKey(before, activeBase));
      expect(again.cleanerCheckpoint).toEqual({ firstDirtyOffset: activeBase, rewrittenToOffset: activeBase });
      again.close();
    }
  });

  it.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)(
    'compacts %s batches: keys read decompressed, a batch that loses records rewritten in its own codec',
    async (compression) => {
      const log = Log.open(path.join(tempDir(), `t-${compression}`), compacted({ segmentBytes: 400 }));
      // Each batch: a key of its own (so it keeps a record) and three over five shared keys (which
      // later batches replace): every cleaned batch is rewritten, none dropped whole.
      for (let i = 0; i < 40; i++) {
        const entries: KV[] = [
          [`own-${i}`, `${compression}-${i}`],
          ...Array.from({ length: 3 }, (_, j): KV => [`k${(i * 3 + j) % 5}`, `${compression}-${i}-${j}`]),
        ];
        if (i % 7 === 3) entries[1] = [entries[1]![0], null];
        log.appendAsLeader(keyedBatch(entries, { timestamp: 1000 + log.logEndOffset, compression }), 1);
      }
      const before = readAllRecords(log);
      const activeBase = log.segmentBaseOffsets().at(-1)!;
      const cleaner = await clean(log);
      expect(cleaner.stats.recordsRemoved).toBeGreaterThan(0);
      expect(readAllRecords(log)).toEqual(latestPerKey(before, activeBase));
      expectDense(log);
      // Every batch still holding records is in its codec (bits 0-2 of attributes: gzip 1, snappy 2, lz4 3, zstd 4).
      const codec = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 }[compression];
      const withRecords = headers(log).filter((h) => h.recordCount > 0);
      expect(withRecords.filter((h) => h.recordCount < 4 && h.baseOffset < activeBase).length).toBeGreaterThan(10);
      for (const h of withRecords) expect(h.attributes & 0x07, `batch at ${h.baseOffset}`).toBe(codec);
      // Reopened from scratch (every batch re-read and CRC-checked): the same records.
      log.close();
      const again = Log.open(log.dir, compacted({ segmentBytes: 400 }), { recoveryPoint: 0 });
      expect(readAllRecords(again)).toEqual(latestPerKey(before, activeBase));
      again.close();
    },
  );

  it('never removes a record at or past the high watermark, nor lets one shadow an older record', async () => {
    const log = Log.open(path.join(tempDir(), 't-0'), compacted());
    appendAll(log, updates(80, 5));
    const before = readAllRecords(log);
    const hw = log.segmentBaseOffsets()[2]! + 3;
    // The HW is a batch boundary; everything from it on stays, and k's older values stay too when
    // their newer ones are all above it.
    const cleaner = await clean(log, { highWatermark: hw });
    expect(cleaner.endOffset).toBe(hw);
    expect(readAllRecords(log)).toEqual(latestPerKey(before, hw));
    expect(log.cleanerCheckpoint?.firstDirtyOffset).toBe(hw);
    // The next cleaning, with the HW moved on, finishes the job.
    await clean(log, { highWatermark: log.logEndOffset });
    const activeBase = log.segmentBaseOffsets().at(-1)!;
    expect(readAllRecords(log)).toEqual(latestPerKey(before, activeBase));
  });

  it('keeps a tombstone until its delete horizon (delete.retention.ms after the cleaning that first kept it), then drops it', async () => {
    const log = Log.open(path.join(tempDir(), 't-0'), compacted({ deleteRetentionMs: 10_000 }));
    appendAll(log, [...updates(30, 3), [['k1', null]], ...updates(30, 1, 'z')]);
    const before = readAllRecords(log);
    const activeBase = log.segmentBaseOffsets().at(-1)!;
    await clean(log, { nowMs: NOW });
    const afterFirst = readAllRecords(log);
    expect(afterFirst).toEqual(latestPerKey(before, activeBase));
    expect(afterFirst.filter((r) => r.key === 'k1')).toEqual([{ offset: 30, key: 'k1', value: null }]);
    // Stamped: the batch holding the tombstone carries its horizon (KIP-534).
    const stamped = headers(log).find((h) => h.baseOffset === 30)!;
    expect((stamped.attributes & 0x40) !== 0 && stamped.baseTimestamp === NOW + 10_000).toBe(true);
    // New data makes the log dirty again; a cleaning before the horizon keeps the tombstone.
    log.maybeRoll(Number.MAX_SAFE_INTEGER);
    appendAll(log, updates(10, 1, 'y'));
    log.maybeRoll(Number.MAX_SAFE_INTEGER);
    await clean(log, { nowMs: NOW + 9_999 });
    expect(readAllRecords(log).filter((r) => r.key === 'k1')).toEqual([{ offset: 30, key: 'k1', value: null }]);
    // At the horizon it goes.
    await clean(log, { nowMs: NOW + 10_000 });
    expect(readAllRecords(log).filter((r) => r.key === 'k1')).toEqual([]);
    expectDense(log);
    log.close();
  });

  it("keeps each live idempotent producer's last five batches, as empty headers when their records go; drops older and expired producers'", async () => {
    const log = Log.open(path.join(tempDir(), 't-0'), compacted());
    // Producer 7 writes seven batches of the same two keys (sequences 0, 2, 4, …), then producer 8
    // overwrites both keys: none of producer 7's records stay.
    const sevens = Array.from({ length: 7 }, (_, i) =>
      log.appendAsLeader(
        keyedBatch(
          [
            ['a', `7-${i}`],
            ['b', `7-${i}`],
          ],
          { producerId: 7, producerEpoch: 3, baseSequence: 2 * i },
        ),
        1,
      ),
    );
    log.appendAsLeader(
      keyedBatch(
        [
          ['a', '8'],
          ['b', '8'],
        ],
        { producerId: 8, producerEpoch: 0, baseSequence: 0 },
      ),
      1,
    );
    log.maybeRoll(Number.MAX_SAFE_INTEGER);
    await clean(log);
    const kept = headers(log).filter((h) => h.producerId === 7);
    expect(kept.map((h) => [h.baseOffset, h.lastOffsetDelta, h.recordCount, h.producerEpoch, h.baseSequence])).toEqual(
      sevens.slice(2).map((b, i) => [b.baseOffset, 1, 0, 3, 2 * (i + 2)]),
    );
    expect(readAllRecords(log).map((r) => r.value)).toEqual(['8', '8']);
    expectDense(log);
    // Expired (its segment's last append is older than producer.id.expiration.ms): nothing kept.
    const log2 = Log.open(path.join(tempDir(), 't-1'), compacted(), { clock: () => 1000 });
    log2.appendAsLeader(keyedBatch([['a', '1']], { producerId: 7, producerEpoch: 0, baseSequence: 0 }), 1);
    log2.appendAsLeader(keyedBatch([['a', '2']]), 1);
    log2.maybeRoll(Number.MAX_SAFE_INTEGER);
    await clean(log2, { nowMs: 1000 + 86_400_000 });
    expect(headers(log2).filter((h) => h.producerId === 7)).toEqual([]);
    expectDense(log2);
    log.close();
    log2.close();
  });

  it('a follower copies a cleaned log batch for batch, and finds the same records at every offset', async () => {
    const leader = Log.open(path.join(tempDir(), 'leader-0'), compacted());
    appendAll(leader, updates(50, 4), 1);
    appendAll(leader, updates(30, 4, 'second-epoch'), 2);
    await clean(leader);
    const follower = Log.open(path.join(tempDir(), 'follower-0'), compacted({ segmentBytes: 300 }));
    while (follower.logEndOffset < leader.logEndOffset) follower.appendAsFollower(leader.read(follower.logEndOffset, 200));
    expect(readAllRecords(follower)).toEqual(readAllRecords(leader));
    expect(batchRanges(follower)).toEqual(batchRanges(leader));
    expect(follower.epochs.entries().map((e) => e.epoch)).toEqual([1, 2]);
    leader.close();
    follower.close();
  });

  it('offsetForTimestamp skips batches whose qualifying records were removed', async () => {
    const log = Log.open(path.join(tempDir(), 't-0'), compacted());
    // k0 at timestamps 1000.., then k1: cleaning leaves only the last k0.
    for (let i = 0; i < 20; i++) log.appendAsLeader(keyedBatch([['k0', `v${i}`]], { timestamp: 1000 + i * 10 }), 1);
    for (let i = 0; i < 20; i++) log.appendAsLeader(keyedBatch([['k1', `w${i}`]], { timestamp: 5000 + i * 10 }), 1);
    log.maybeRoll(Number.MAX_SAFE_INTEGER);
    await clean(log);
    expect(log.offsetForTimestamp(1000)).toBe(19);
    expect(log.offsetForTimestamp(1191)).toBe(39);
    expect(log.offsetForTimestamp(5191)).toBeNull();
    log.close();
  });

  it('stops where the offset map is full and goes on from there next time', async () => {
    const log = Log.open(path.join(tempDir(), 't-0'), compacted());
    // Many distinct keys: a map of about 10 entries fills long before the end.
    appendAll(
      log,
      Array.from({ length: 60 }, (_, i) => [[`key-${i % 30}`, `v${i}`]] as KV[]),
    );
    log.maybeRoll(Number.MAX_SAFE_INTEGER);
    const before = readAllRecords(log);
    const first = await clean(log, { dedupeBufferBytes: 10 * 70 });
    expect(first.endOffset).toBeGreaterThan(0);
    expect(first.endOffset).toBeLessThan(log.logEndOffset);
    expect(readAllRecords(log)).toEqual(latestPerKey(before, first.endOffset));
    for (let i = 0; i < 20 && log.cleanerCheckpoint!.firstDirtyOffset < log.logEndOffset; i++) await clean(log, { dedupeBufferBytes: 10 * 70 });
    expect(readAllRecords(log)).toEqual(latestPerKey(before, log.logEndOffset));
    log.close();
  });

  it('gives up without a trace when the log is truncated, shrunk by retention, closed or stops being compacted mid-way', async () => {
    const cases: [string, (log: Log) => void][] = [
      ['truncated', (log) => log.truncateTo(5)],
      [
        'retention',
        (log) => {
          log.updateConfig(compacted({ delete: true, retentionBytes: 0 }));
          expect(log.deleteOldSegments(Number.MAX_SAFE_INTEGER, log.logEndOffset)).toBeGreaterThan(0);
        },
      ],
      ['no longer compacted', (log) => log.updateConfig(compacted({ compact: false }))],
      ['closed', (log) => log.close()],
    ];
    for (const [name, interfere] of cases) {
      const log = Log.open(path.join(tempDir(), `t-${name.length}`), compacted());
      appendAll(log, updates(60, 3));
      log.maybeRoll(Number.MAX_SAFE_INTEGER);
      const cleaner = cleanerFor(log);
      // Into the rewrite, a cleaned file open.
      while (cleanedFiles(log.dir).length === 0) expect(cleaner.step(50), name).toBe('running');
      const records = log.isClosed ? [] : readAllRecords(log);
      interfere(log);
      expect(cleaner.step(1 << 20), name).toBe('aborted');
      expect(cleaner.abortedBecause, name).toBeDefined();
      expect(cleanedFiles(log.dir), name).toEqual([]);
      if (name === 'no longer compacted') expect(readAllRecords(log)).toEqual(records);
      log.close();
    }
  });

  it('a truncation lowers the checkpoint: what comes after the cut is dirty again', async () => {
    const log = Log.open(path.join(tempDir(), 't-0'), compacted());
    appendAll(log, updates(60, 3));
    log.maybeRoll(Number.MAX_SAFE_INTEGER);
    await clean(log);
    const cleanedTo = log.cleanerCheckpoint!.firstDirtyOffset;
    log.truncateTo(cleanedTo - 10);
    expect(log.cleanerCheckpoint!.firstDirtyOffset).toBe(log.logEndOffset);
    expect(log.cleanerCheckpoint!.rewrittenToOffset).toBe(cleanedTo);
    log.truncateFullyAndStartAt(500);
    expect(log.cleanerCheckpoint).toEqual({ firstDirtyOffset: 500, rewrittenToOffset: 500 });
    log.close();
    const again = Log.open(log.dir, compacted());
    expect(again.cleanerCheckpoint).toEqual({ firstDirtyOffset: 500, rewrittenToOffset: 500 });
    again.close();
  });
});

describe('Log with cleanup.policy=compact', () => {
  it('refuses records without a key (INVALID_RECORD) and writes nothing', () => {
    const log = Log.open(path.join(tempDir(), 't-0'), compacted());
    expect(() => log.appendAsLeader(batch(['no key']), 1)).toThrow(expect.objectContaining({ code: 'INVALID_RECORD' }));
    expect([log.logEndOffset, log.sizeInBytes]).toEqual([0, 0]);
    log.close();
  });

  it('applies no retention by age or size unless the policy also says delete', () => {
    const log = Log.open(path.join(tempDir(), 't-0'), compacted({ retentionMs: 0, retentionBytes: 0 }));
    appendAll(log, updates(40, 3));
    log.maybeRoll(Number.MAX_SAFE_INTEGER);
    expect(log.segmentCount).toBeGreaterThan(2);
    expect(log.deleteOldSegments(Number.MAX_SAFE_INTEGER, log.logEndOffset)).toBe(0);
    log.updateConfig(compacted({ retentionMs: 0, retentionBytes: 0, delete: true }));
    expect(log.deleteOldSegments(Number.MAX_SAFE_INTEGER, log.logEndOffset)).toBeGreaterThan(0);
    log.close();
  });
});
