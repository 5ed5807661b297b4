// Crash safety of the cleaned-segment swap (Log.replaceSegments, Log.recoverCleanerFiles): the
// process dies at every single disk mutation of a cleaning, in turn (CrashingFs: that call
// fails, a write first tearing, and nothing after it reaches the disk), and the log is opened
// again. Each cleaned group of segments must be there wholly old or wholly new, groups swapped in
// order, nothing lost or duplicated, no cleaner file left behind, the checkpoint never claiming
// more than is deduplicated, and the next cleaning must finish the job.
//
// Also: a disk that fails (EIO, ENOSPC) at each step without the process dying leaves a log that
// goes on serving the same records.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleaner } from './cleaner.ts';
import { cleanableOffsets } from './compaction.ts';
import { Log, type LogConfig } from './log.ts';
import { batchRanges, CrashingFs, FaultyFs, keyedBatch, readAllRecords, removeTempDirs, tempDir, testConfig } from './internal/test-support.ts';
import type { StorageFs } from './fs.ts';

afterEach(removeTempDirs);

const NOW = 50_000_000;
const config: LogConfig = testConfig({ compact: true, delete: false, segmentBytes: 800, segmentMs: 60_000, indexIntervalBytes: 64, deleteRetentionMs: 0 });
type Rec = { offset: number; key: string | null; value: string | null };

async function cleanOnce(log: Log, fsys?: StorageFs): Promise<Cleaner> {
  const offsets = cleanableOffsets(log.compactionView(log.logEndOffset), NOW);
  const cleaner = new Cleaner(log, {
    nowMs: NOW,
    firstDirtyOffset: offsets.firstDirtyOffset,
    firstUncleanableOffset: offsets.firstUncleanableOffset,
    dedupeBufferBytes: 1 << 20,
    producerIdExpirationMs: 86_400_000,
    ioBufferBytes: 200,
    ...(fsys ? { fs: fsys } : {}),
  });
  await cleaner.run(150);
  return cleaner;
}

/** A log of a few closed segments: updates, a tombstone, an idempotent producer, a cleaned part. */
async function buildPristine(dir: string): Promise<number> {
  const log = Log.open(dir, config);
  for (let i = 0; i < 30; i++) log.appendAsLeader(keyedBatch([[`k${i % 4}`, `a${i}`]]), 1);
  log.appendAsLeader(keyedBatch([['k2', null]]), 1);
  log.maybeRoll(Number.MAX_SAFE_INTEGER);
  // A first cleaning, so the crash runs also rewrite already-clean segments and stamped tombstones.
  await cleanOnce(log);
  for (let i = 0; i < 16; i++)
    log.appendAsLeader(
      keyedBatch([
        [`k${i % 5}`, `b${i}`],
        [`x${i % 3}`, `c${i}`],
      ]),
      2,
    );
  log.appendAsLeader(keyedBatch([['p', 'idempotent']], { producerId: 9, producerEpoch: 0, baseSequence: 0 }), 2);
  for (let i = 0; i < 10; i++) log.appendAsLeader(keyedBatch([['p', `after${i}`]]), 2);
  log.maybeRoll(Number.MAX_SAFE_INTEGER);
  log.appendAsLeader(keyedBatch([['tail', 'active']]), 2);
  log.flush();
  const recoveryPoint = log.recoveryPoint;
  log.close();
  return recoveryPoint;
}

function copy(from: string, to: string): string {
  fs.cpSync(from, to, { recursive: true });
  return to;
}

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.cleaned') || f.endsWith('.swap') || f.endsWith('.tmp'));
}

function expectDense(log: Log, ctx: string): void {
  let next = log.logStartOffset;
  for (const [base, last] of batchRanges(log)) {
    expect(base, ctx).toBe(next);
    next = last + 1;
  }
  expect(next, ctx).toBe(log.logEndOffset);
}

/** The checkpoint's promise: below firstDirtyOffset, at most one record per key. */
function expectCheckpointHonest(log: Log, ctx: string): void {
  const firstDirty = log.cleanerCheckpoint?.firstDirtyOffset ?? log.logStartOffset;
  const keys = readAllRecords(log)
    .filter((r) => r.offset < firstDirty)
    .map((r) => r.key);
  expect(new Set(keys).size, `${ctx}: duplicate keys below the checkpoint ${firstDirty}`).toBe(keys.length);
}

describe('a crash at every step of a cleaning', () => {
  it.each([0, 9])('leaves each group of segments wholly old or wholly new (torn writes: %i bytes)', async (tornBytes) => {
    const root = tempDir();
    const pristine = path.join(root, 'pristine-0');
    const recoveryPoint = await buildPristine(pristine);

    const oldLog = Log.open(copy(pristine, path.join(root, 'old-0')), config, { recoveryPoint });
    const before: Rec[] = readAllRecords(oldLog);
    oldLog.close();

    // The cleaning without a crash, counting its disk mutations.
    const dryDir = copy(pristine, path.join(root, 'dry-0'));
    const counting = new CrashingFs(Number.POSITIVE_INFINITY);
    const dry = Log.open(dryDir, config, { fs: counting, recoveryPoint });
    const opened = counting.mutations;
    const dryCleaner = await cleanOnce(dry, counting);
    expect(dryCleaner.state).toBe('done');
    expect(dryCleaner.stats.groupsSwapped).toBeGreaterThan(2);
    const total = counting.mutations;
    const after: Rec[] = readAllRecords(dry);
    // Where one group ends and the next begins: a crash may only split the log there.
    const bounds = [...dry.segmentBaseOffsets().filter((b) => b <= dryCleaner.endOffset), dry.logEndOffset];
    dry.close();
    expect(after.length).toBeLessThan(before.length);
    const allowed = bounds.map((b) => [...after.filter((r) => r.offset < b), ...before.filter((r) => r.offset >= b)]);

    for (let crashAt = opened + 1; crashAt <= total; crashAt++) {
      const ctx = `crash at mutation ${crashAt} of ${total} (torn ${tornBytes})`;
      const dir = copy(pristine, path.join(root, `c${crashAt}-0`));
      const crashing = new CrashingFs(crashAt, tornBytes);
      const log = Log.open(dir, config, { fs: crashing, recoveryPoint });
      await cleanOnce(log, crashing).catch(() => undefined);
      expect(crashing.dead, ctx).toBe(true);
      log.close();

      const reopened = Log.open(dir, config, { recoveryPoint });
      const records = readAllRecords(reopened);
      expect(
        allowed.some((a) => JSON.stringify(a) === JSON.stringify(records)),
        `${ctx}: the log is neither old nor new group by group`,
      ).toBe(true);
      expect(leftovers(dir), ctx).toEqual([]);
      expectDense(reopened, ctx);
      expectCheckpointHonest(reopened, ctx);
      // The next cleaning gets to the same result.
      expect((await cleanOnce(reopened)).state, ctx).toBe('done');
      expect(readAllRecords(reopened), ctx).toEqual(after);
      reopened.close();
      fs.rmSync(dir, { recursive: true });
    }
  });
});

describe('a failing disk during a cleaning', () => {
  it.each([
    ['writeSync', 'ENOSPC', (p: string) => p.endsWith('.log.cleaned')],
    ['fsyncSync', 'EIO', (p: string) => p.endsWith('.log.cleaned')],
    ['writeSync', 'EIO', (p: string) => p.endsWith('cleaner-offset-checkpoint.tmp')],
    ['renameSync', 'EIO', (p: string) => p.endsWith('.index.swap')],
    ['renameSync', 'EIO', (p: string) => p.endsWith('.log.swap')],
    ['renameSync', 'EIO', (p: string) => p.endsWith('.index')],
    ['renameSync', 'EIO', (p: string) => p.endsWith('.log')],
  ] as const)('%s %s on %s: storage error, the log serves the same records, the next open or cleaning finishes', async (op, code, when) => {
    const root = tempDir();
    const pristine = path.join(root, 'pristine-0');
    const recoveryPoint = await buildPristine(pristine);
    const faulty = new FaultyFs();
    const log = Log.open(copy(pristine, path.join(root, 'f-0')), config, { fs: faulty, recoveryPoint });
    const before = readAllRecords(log);
    faulty.failOn(op, code, { when, ...(op === 'writeSync' ? { partialBytes: 5 } : {}) });
    await expect(cleanOnce(log, faulty)).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR' });
    expect(faulty.failures).toBe(1);
    // Whatever was swapped in before the failure is whole; the records are the same either way.
    const latest = (rs: Rec[]) => {
      const m = new Map<string, string | null>();
      for (const r of rs) m.set(r.key!, r.value);
      return m;
    };
    expect(latest(readAllRecords(log))).toEqual(latest(before));
    expectDense(log, `${op} ${code}`);
    const incomplete = log.swapIncomplete;
    if (!incomplete) {
      // The disk is back: the next cleaning does it all.
      expect((await cleanOnce(log, faulty)).state).toBe('done');
      expect(leftovers(log.dir)).toEqual([]);
    }
    log.close();
    const reopened = Log.open(log.dir, config, { recoveryPoint });
    expect(latest(readAllRecords(reopened))).toEqual(latest(before));
    expect(leftovers(reopened.dir)).toEqual([]);
    expectDense(reopened, 'reopened');
    expectCheckpointHonest(reopened, 'reopened');
    reopened.close();
  });
});
