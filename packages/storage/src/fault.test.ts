// Fault injection at the storage edge: a StorageFs that fails writes, fsyncs, renames and opens
// with EIO / ENOSPC. Every failure must surface as KAFKA_STORAGE_ERROR with its cause, cut back
// any partial write, and leave the log readable and consistent, also across reopen.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { TributaryError } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Log } from './log.ts';
import { LogManager } from './log-manager.ts';
import { batch, FaultyFs, readAllValues, removeTempDirs, segmentFiles, tempDir, testConfig } from './internal/test-support.ts';

afterEach(removeTempDirs);

function expectStorageError(fn: () => unknown, causeCode: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TributaryError);
  expect((caught as TributaryError).code).toBe('KAFKA_STORAGE_ERROR');
  expect(((caught as TributaryError).cause as NodeJS.ErrnoException).code).toBe(causeCode);
}

function consistent(log: Log, expected: string[]): void {
  expect(readAllValues(log).map((r) => r.value)).toEqual(expected);
  const onDisk = segmentFiles(log.dir).reduce((n, f) => n + fs.statSync(f).size, 0);
  expect(onDisk).toBe(log.sizeInBytes);
}

const isLog = (p: string) => p.endsWith('.log');

describe('disk faults', () => {
  it.each([
    ['EIO', undefined],
    ['ENOSPC', 17],
  ] as const)('a failed segment write (%s, partial %s) is cut back and the log stays usable', (code, partialBytes) => {
    const faulty = new FaultyFs();
    const dir = path.join(tempDir(), 't-0');
    const log = Log.open(dir, testConfig(), { fs: faulty });
    log.appendAsLeader(batch(['a', 'b']), 1);
    faulty.failOn('writeSync', code, { when: isLog, partialBytes });
    expectStorageError(() => log.appendAsLeader(batch(['c']), 1), code);
    expect(log.logEndOffset).toBe(2);
    consistent(log, ['a', 'b']);
    expect(log.appendAsLeader(batch(['d']), 1).baseOffset).toBe(2);
    consistent(log, ['a', 'b', 'd']);
    log.close();
    const again = Log.open(dir, testConfig());
    consistent(again, ['a', 'b', 'd']);
    again.close();
  });

  it('a partial write whose cut-back also fails never surfaces, and the next append overwrites it', () => {
    const faulty = new FaultyFs();
    const dir = path.join(tempDir(), 't-0');
    const log = Log.open(dir, testConfig(), { fs: faulty });
    log.appendAsLeader(batch(['a']), 1);
    faulty.failOn('writeSync', 'ENOSPC', { when: isLog, partialBytes: 30 });
    faulty.failOn('ftruncateSync', 'EIO', { when: isLog });
    expectStorageError(() => log.appendAsLeader(batch(['bbbbbbbbbbbbbbbbbbbb']), 1), 'ENOSPC');
    expect(readAllValues(log).map((r) => r.value)).toEqual(['a']);
    log.close();
    // A crash now: recovery cuts the torn tail.
    const reopened = Log.open(dir, testConfig());
    consistent(reopened, ['a']);
    reopened.appendAsLeader(batch(['c']), 1);
    consistent(reopened, ['a', 'c']);
    reopened.close();
  });

  it('a failed epoch checkpoint refuses the append and changes nothing', () => {
    const faulty = new FaultyFs();
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig(), { fs: faulty });
    log.appendAsLeader(batch(['a']), 1);
    faulty.failOn('writeSync', 'EIO', { when: (p) => p.endsWith('leader-epoch-checkpoint'), partialBytes: 3 });
    expectStorageError(() => log.appendAsLeader(batch(['b']), 2), 'EIO');
    expect(log.epochs.entries()).toEqual([{ epoch: 1, startOffset: 0 }]);
    expect(fs.readFileSync(path.join(log.dir, 'leader-epoch-checkpoint'), 'utf8')).toBe('0\n1\n1 0\n');
    consistent(log, ['a']);
    log.appendAsLeader(batch(['b']), 2);
    expect(log.epochs.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 1 },
    ]);
    log.close();
  });

  it('an epoch checkpoint that could not be written nor put back is rebuilt from the batches', () => {
    const faulty = new FaultyFs();
    const dir = path.join(tempDir(), 't-0');
    const follower = Log.open(dir, testConfig(), { fs: faulty });
    const leader = Log.open(path.join(tempDir(), 'leader-0'), testConfig());
    leader.appendAsLeader(batch(['a']), 1);
    leader.appendAsLeader(batch(['b']), 4);
    follower.appendAsFollower(leader.read(0, 1 << 20));
    leader.appendAsLeader(batch(['c']), 7);
    const tail = leader.read(2, 1 << 20);
    faulty.failOn('writeSync', 'EIO', { when: (p) => p.endsWith('leader-epoch-checkpoint'), partialBytes: 5 });
    faulty.failOn('renameSync', 'EIO');
    expectStorageError(() => follower.appendAsFollower(tail), 'EIO');
    consistent(follower, ['a', 'b']);
    // A crash now: the checkpoint is gone, so recovery rebuilds it from the batches.
    follower.close();
    const reopened = Log.open(dir, testConfig());
    consistent(reopened, ['a', 'b']);
    expect(reopened.epochs.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 4, startOffset: 1 },
    ]);
    reopened.appendAsFollower(tail);
    consistent(reopened, ['a', 'b', 'c']);
    expect(reopened.epochs.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 4, startOffset: 1 },
      { epoch: 7, startOffset: 2 },
    ]);
    reopened.close();
    leader.close();
  });

  it('a failed roll leaves the log on its old segment', () => {
    const faulty = new FaultyFs();
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig({ segmentBytes: 1024 }), { fs: faulty });
    const values: string[] = [];
    while (log.segmentCount === 1) {
      const v = `value-${values.length}`.padEnd(100, '-');
      faulty.failOn('openSync', 'ENOSPC', { when: isLog });
      try {
        log.appendAsLeader(batch([v]), 1);
        values.push(v);
        faulty.disarm();
      } catch (err) {
        expect((err as TributaryError).code).toBe('KAFKA_STORAGE_ERROR');
        faulty.disarm();
        log.appendAsLeader(batch([v]), 1);
        values.push(v);
      }
    }
    expect(faulty.failures).toBe(1);
    consistent(log, values);
    log.close();
  });

  it('a failed fsync keeps the recovery point, and with flush.messages=1 cuts the append back', () => {
    const faulty = new FaultyFs();
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig(), { fs: faulty });
    log.appendAsLeader(batch(['a']), 1);
    faulty.failOn('fsyncSync', 'EIO', { when: isLog });
    expectStorageError(() => log.flush(), 'EIO');
    expect(log.recoveryPoint).toBe(0);
    log.flush();
    expect(log.recoveryPoint).toBe(1);
    log.updateConfig(testConfig({ flushMessages: 1 }));
    faulty.failOn('fsyncSync', 'EIO', { when: isLog });
    expectStorageError(() => log.appendAsLeader(batch(['b']), 1), 'EIO');
    expect(log.recoveryPoint).toBe(1);
    consistent(log, ['a']);
    log.appendAsLeader(batch(['c']), 1);
    expect(log.recoveryPoint).toBe(2);
    consistent(log, ['a', 'c']);
    log.close();
  });

  it('a follower append failing part-way (after a roll) is cut back whole', () => {
    const leader = Log.open(path.join(tempDir(), 'leader-0'), testConfig());
    const values = Array.from({ length: 30 }, (_, i) => `v${i}`.padEnd(60, '.'));
    for (const v of values) leader.appendAsLeader(batch([v]), 3);
    const bytes = leader.read(0, 1 << 20);
    leader.close();
    const faulty = new FaultyFs();
    const follower = Log.open(path.join(tempDir(), 't-0'), testConfig({ segmentBytes: 800 }), { fs: faulty });
    let writes = 0;
    faulty.failOn('writeSync', 'ENOSPC', { when: (p) => isLog(p) && ++writes === 2, partialBytes: 50 });
    expectStorageError(() => follower.appendAsFollower(bytes), 'ENOSPC');
    expect(follower.logEndOffset).toBe(0);
    consistent(follower, []);
    follower.appendAsFollower(bytes);
    consistent(follower, values);
    expect(follower.epochs.entries()).toEqual([{ epoch: 3, startOffset: 0 }]);
    follower.close();
  });

  it('LogManager checkpoints are never half-written', () => {
    const faulty = new FaultyFs();
    const dataDir = tempDir();
    const manager = new LogManager(dataDir, { fs: faulty });
    manager.writeHighWatermarks(new Map([['t-0', 5]]));
    for (const op of ['writeSync', 'fsyncSync', 'renameSync'] as const) {
      faulty.failOn(op, 'ENOSPC', { when: (p) => p.includes('replication-offset-checkpoint'), partialBytes: 4 });
      expectStorageError(
        () =>
          manager.writeHighWatermarks(
            new Map([
              ['t-0', 9],
              ['t-1', 3],
            ]),
          ),
        'ENOSPC',
      );
      expect(manager.readHighWatermarks()).toEqual(new Map([['t-0', 5]]));
      expect(fs.readdirSync(dataDir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    }
    manager.close();
  });

  it('background checkpoints are never half-written either', async () => {
    const faulty = new FaultyFs();
    const dataDir = tempDir();
    const manager = new LogManager(dataDir, { fs: faulty });
    await manager.writeHighWatermarksInBackground(new Map([['t-0', 5]]));
    expect(manager.readHighWatermarks()).toEqual(new Map([['t-0', 5]]));
    for (const op of ['openSync', 'writeSync', 'fsyncSync', 'renameSync'] as const) {
      faulty.failOn(op, 'EIO', { when: (p) => p.includes('replication-offset-checkpoint'), partialBytes: 4 });
      const failed = await manager.writeHighWatermarksInBackground(new Map([['t-0', 9]])).catch((err: unknown) => err);
      expect(failed).toBeInstanceOf(TributaryError);
      expect((failed as TributaryError).code).toBe('KAFKA_STORAGE_ERROR');
      expect(manager.readHighWatermarks()).toEqual(new Map([['t-0', 5]]));
      expect(fs.readdirSync(dataDir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    }
    // The disk recovered: the next period writes again.
    await manager.writeHighWatermarksInBackground(new Map([['t-0', 11]]));
    expect(manager.readHighWatermarks()).toEqual(new Map([['t-0', 11]]));
    manager.close();
  });

  describe('setting a log aside (renameAside) on a sick disk, and a crash at each step', () => {
    // A crash is the process stopping where the fault hit: no close, a new LogManager on the dir.
    const setup = () => {
      const faulty = new FaultyFs();
      const dataDir = tempDir();
      const manager = new LogManager(dataDir, { fs: faulty, uniqueId: () => 'cafe' });
      const log = manager.getOrCreate('t', 0, testConfig());
      log.appendAsLeader(batch(['old-0', 'old-1']), 1);
      return { faulty, dataDir, manager, log };
    };
    const restart = (dataDir: string) => {
      const again = new LogManager(dataDir);
      again.loadAll(() => testConfig());
      return again;
    };

    it('a failed rename changes nothing: the log stays open and usable, and a crash then loads it as it was', () => {
      const { faulty, dataDir, manager, log } = setup();
      faulty.failOn('renameSync', 'EIO', { when: (p) => p.endsWith('-stray') });
      expectStorageError(() => manager.renameAside('t', 0), 'EIO');
      expect(manager.get('t', 0)).toBe(log);
      expect(log.appendAsLeader(batch(['old-2']), 1).baseOffset).toBe(2);
      consistent(log, ['old-0', 'old-1', 'old-2']);
      expect(manager.strayDirs()).toEqual([]);
      // Crash here: the log is still <topic>-<partition> and whole.
      const again = restart(dataDir);
      expect(readAllValues(again.get('t', 0)!).map((r) => r.value)).toEqual(['old-0', 'old-1', 'old-2']);
      expect(again.strayDirs()).toEqual([]);
      again.close();
      // The disk recovered: the retry sets it aside.
      faulty.disarm();
      expect(manager.renameAside('t', 0)).toBe(path.join(dataDir, 't-0.cafe-stray'));
      expect(manager.get('t', 0)).toBeUndefined();
    });

    it('a failed fsync after the rename reports the error with the log already aside; a crash then never loads it', () => {
      const { faulty, dataDir, manager } = setup();
      faulty.failOn('fsyncSync', 'EIO', { when: (p) => p === dataDir });
      expectStorageError(() => manager.renameAside('t', 0), 'EIO');
      expect(manager.get('t', 0)).toBeUndefined();
      expect(fs.existsSync(path.join(dataDir, 't-0'))).toBe(false);
      // A retry finds nothing left to set aside; a new log of the name starts empty.
      expect(manager.renameAside('t', 0)).toBeUndefined();
      expect(manager.getOrCreate('t', 0, testConfig()).logEndOffset).toBe(0);
      const again = restart(dataDir);
      expect(again.get('t', 0)!.logEndOffset).toBe(0);
      expect(again.strayDirs()).toEqual([{ dir: path.join(dataDir, 't-0.cafe-stray'), topic: 't', partition: 0 }]);
      const inspect = Log.open(path.join(dataDir, 't-0.cafe-stray'), testConfig());
      expect(readAllValues(inspect).map((r) => r.value)).toEqual(['old-0', 'old-1']);
      inspect.close();
      again.close();
    });

    it('a failed recovery-point checkpoint after the rename leaves the old checkpoint whole', () => {
      const { faulty, dataDir, manager } = setup();
      manager.checkpointRecoveryPoints();
      faulty.failOn('renameSync', 'ENOSPC', { when: (p) => p.endsWith('recovery-point-offset-checkpoint') });
      expectStorageError(() => manager.renameAside('t', 0), 'ENOSPC');
      expect(fs.readFileSync(path.join(dataDir, 'recovery-point-offset-checkpoint'), 'utf8')).toBe('0\n1\nt 0 0\n');
      expect(manager.strayDirs().map((s) => s.topic)).toEqual(['t']);
      const again = restart(dataDir);
      expect(again.all()).toEqual([]);
      again.close();
    });
  });
});
