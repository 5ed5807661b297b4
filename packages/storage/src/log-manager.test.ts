import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Log } from './log.ts';
import { LogManager, parseStrayDirName } from './log-manager.ts';
import { batch, readAllValues, removeTempDirs, tempDir, testConfig } from './internal/test-support.ts';

afterEach(removeTempDirs);

describe('LogManager', () => {
  it('creates, reloads (topic names with dashes and dots), checkpoints and deletes logs', () => {
    const dataDir = tempDir();
    const config = testConfig({ segmentBytes: 400 });
    const manager = new LogManager(dataDir);
    const a = manager.getOrCreate('orders-eu.v2', 3, config);
    const b = manager.getOrCreate('x', 0, config);
    expect(manager.getOrCreate('orders-eu.v2', 3, config)).toBe(a);
    for (let i = 0; i < 20; i++) a.appendAsLeader(batch([`a${i}`]), 1);
    b.appendAsLeader(batch(['b0']), 2);
    manager.writeHighWatermarks(
      new Map([
        ['orders-eu.v2-3', 15],
        ['x-0', 1],
      ]),
    );
    fs.mkdirSync(path.join(dataDir, 'not-a-partition'));
    manager.close();
    expect(fs.readFileSync(path.join(dataDir, 'recovery-point-offset-checkpoint'), 'utf8')).toBe('0\n2\norders-eu.v2 3 20\nx 0 1\n');

    const warnings: string[] = [];
    const again = new LogManager(dataDir, { logger: { info() {}, warn: (_o, m) => warnings.push(m) } });
    again.loadAll(() => config);
    expect(
      again
        .all()
        .map(({ topic, partition }) => `${topic}/${partition}`)
        .sort(),
    ).toEqual(['orders-eu.v2/3', 'x/0']);
    expect(warnings).toEqual(['skipping a directory that is not <topic>-<partition>']);
    const a2 = again.get('orders-eu.v2', 3)!;
    expect(a2.recoveryPoint).toBe(20);
    expect(readAllValues(a2).map((r) => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`));
    expect(again.readHighWatermarks()).toEqual(
      new Map([
        ['orders-eu.v2-3', 15],
        ['x-0', 1],
      ]),
    );
    again.delete('x', 0);
    expect(again.get('x', 0)).toBeUndefined();
    expect(fs.existsSync(path.join(dataDir, 'x-0'))).toBe(false);
    again.close();
  });

  it('recovers everything when the recovery point checkpoint is unreadable', () => {
    const dataDir = tempDir();
    const manager = new LogManager(dataDir);
    manager.getOrCreate('t', 0, testConfig()).appendAsLeader(batch(['a']), 0);
    manager.close();
    fs.writeFileSync(path.join(dataDir, 'recovery-point-offset-checkpoint'), 'junk');
    fs.writeFileSync(path.join(dataDir, 'replication-offset-checkpoint'), 'junk');
    const again = new LogManager(dataDir);
    again.loadAll(() => testConfig());
    expect(again.get('t', 0)!.logEndOffset).toBe(1);
    expect(again.get('t', 0)!.recoveryPoint).toBe(0);
    expect(again.readHighWatermarks()).toEqual(new Map());
    again.close();
  });
});

describe('LogManager.renameAside (stray logs, KRaft)', () => {
  const ids = () => {
    let n = 0;
    return () => `feed${++n}`;
  };

  it('renames the directory to <topic>-<partition>.<id>-stray, forgets the log, and never loads it again', () => {
    const dataDir = tempDir();
    const manager = new LogManager(dataDir, { uniqueId: ids() });
    const old = manager.getOrCreate('orders-eu.v2', 3, testConfig());
    old.appendAsLeader(batch(['old-topic-0', 'old-topic-1']), 4);
    old.flush();
    manager.getOrCreate('other', 0, testConfig()).appendAsLeader(batch(['x']), 0);
    manager.checkpointRecoveryPoints();
    expect(fs.readFileSync(path.join(dataDir, 'recovery-point-offset-checkpoint'), 'utf8')).toBe('0\n2\norders-eu.v2 3 2\nother 0 0\n');

    const stray = manager.renameAside('orders-eu.v2', 3);
    expect(stray).toBe(path.join(dataDir, 'orders-eu.v2-3.feed1-stray'));
    expect(manager.get('orders-eu.v2', 3)).toBeUndefined();
    expect(fs.existsSync(path.join(dataDir, 'orders-eu.v2-3'))).toBe(false);
    expect(fs.readdirSync(stray!)).toContain('00000000000000000000.log');
    // Its recovery point is gone from the checkpoint, so it cannot apply to a new log of that name.
    expect(fs.readFileSync(path.join(dataDir, 'recovery-point-offset-checkpoint'), 'utf8')).toBe('0\n1\nother 0 0\n');
    expect(manager.strayDirs()).toEqual([{ dir: stray, topic: 'orders-eu.v2', partition: 3 }]);

    // The re-created topic starts from an empty log; the old records stay aside.
    const fresh = manager.getOrCreate('orders-eu.v2', 3, testConfig());
    expect([fresh.logStartOffset, fresh.logEndOffset]).toEqual([0, 0]);
    fresh.appendAsLeader(batch(['new-topic-0']), 0);
    manager.close();

    const warnings: { msg: string; obj: object }[] = [];
    const again = new LogManager(dataDir, { logger: { info() {}, warn: (obj, msg) => warnings.push({ obj, msg }) } });
    again.loadAll(() => testConfig());
    expect(
      again
        .all()
        .map(({ topic, partition }) => `${topic}/${partition}`)
        .sort(),
    ).toEqual(['orders-eu.v2/3', 'other/0']);
    expect(readAllValues(again.get('orders-eu.v2', 3)!).map((r) => r.value)).toEqual(['new-topic-0']);
    expect(warnings).toEqual([{ msg: 'found stray log directory; it is kept, not loaded', obj: { dir: stray, topic: 'orders-eu.v2', partition: 3 } }]);
    expect(again.strayDirs()).toEqual([{ dir: stray, topic: 'orders-eu.v2', partition: 3 }]);
    // The stray data is intact for whoever inspects it.
    const inspect = Log.open(stray!, testConfig());
    expect(readAllValues(inspect).map((r) => r.value)).toEqual(['old-topic-0', 'old-topic-1']);
    inspect.close();
    again.close();
  });

  it('sets aside a directory no log was opened for, twice under two names; nothing to set aside is a no-op', () => {
    const dataDir = tempDir();
    const manager = new LogManager(dataDir, { uniqueId: ids() });
    manager.getOrCreate('t', 0, testConfig()).appendAsLeader(batch(['a']), 0);
    manager.close();
    const again = new LogManager(dataDir, { uniqueId: ids() });
    expect(again.renameAside('t', 0)).toBe(path.join(dataDir, 't-0.feed1-stray'));
    expect(again.renameAside('t', 0)).toBeUndefined();
    again.getOrCreate('t', 0, testConfig()).appendAsLeader(batch(['b']), 0);
    expect(again.renameAside('t', 0)).toBe(path.join(dataDir, 't-0.feed2-stray'));
    expect(again.strayDirs().map((s) => path.basename(s.dir))).toEqual(['t-0.feed1-stray', 't-0.feed2-stray']);
    // The default unique id is a UUID without dashes, as Kafka names them.
    const third = new LogManager(dataDir);
    third.getOrCreate('t', 0, testConfig());
    expect(path.basename(third.renameAside('t', 0)!)).toMatch(/^t-0\.[0-9a-f]{32}-stray$/);
    third.close();
    again.close();
  });

  it('start-up is not disturbed by stray directories, whatever they hold', () => {
    const dataDir = tempDir();
    fs.mkdirSync(path.join(dataDir, 'gone-7.0123abcd-stray'));
    fs.writeFileSync(path.join(dataDir, 'gone-7.0123abcd-stray', '00000000000000000000.log'), 'not a batch');
    fs.mkdirSync(path.join(dataDir, 'empty-0.ff-stray'));
    const manager = new LogManager(dataDir);
    manager.loadAll(() => testConfig());
    expect(manager.all()).toEqual([]);
    expect(manager.strayDirs().map(({ topic, partition }) => `${topic}/${partition}`)).toEqual(['empty/0', 'gone/7']);
    expect(fs.readFileSync(path.join(dataDir, 'gone-7.0123abcd-stray', '00000000000000000000.log'), 'utf8')).toBe('not a batch');
    manager.close();
  });

  it.each([
    ['t-0.abc-stray', { topic: 't', partition: 0 }],
    ['a.b-c-12.0f-stray', { topic: 'a.b-c', partition: 12 }],
    ['t-0', undefined],
    ['t-0.abc-delete', undefined],
    ['t-x.abc-stray', undefined],
    ['t-0-stray', undefined],
    ['t-0.-stray', undefined],
  ])('parses stray name %s', (name, expected) => {
    expect(parseStrayDirName(name)).toEqual(expected);
  });
});
