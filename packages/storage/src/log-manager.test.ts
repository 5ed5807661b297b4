import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogManager } from './log-manager.ts';
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
    manager.writeHighWatermarks(new Map([['orders-eu.v2-3', 15], ['x-0', 1]]));
    fs.mkdirSync(path.join(dataDir, 'not-a-partition'));
    manager.close();
    expect(fs.readFileSync(path.join(dataDir, 'recovery-point-offset-checkpoint'), 'utf8'))
      .toBe('0\n2\norders-eu.v2 3 20\nx 0 1\n');

    const warnings: string[] = [];
    const again = new LogManager(dataDir, { logger: { info() {}, warn: (_o, m) => warnings.push(m) } });
    again.loadAll(() => config);
    expect(again.all().map(({ topic, partition }) => `${topic}/${partition}`).sort()).toEqual(['orders-eu.v2/3', 'x/0']);
    expect(warnings).toEqual(['skipping a directory that is not <topic>-<partition>']);
    const a2 = again.get('orders-eu.v2', 3)!;
    expect(a2.recoveryPoint).toBe(20);
    expect(readAllValues(a2).map((r) => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`));
    expect(again.readHighWatermarks()).toEqual(new Map([['orders-eu.v2-3', 15], ['x-0', 1]]));
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
