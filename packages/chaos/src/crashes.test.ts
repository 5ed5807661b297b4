// The crash scan behind the `liveness` anomaly of a process that ended on its own (run.ts).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crashesIn } from './run.ts';

describe('crashesIn', () => {
  it('finds fatal lines written since the run began, in time order; older ones, other levels and torn lines are not crashes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-crashes-'));
    try {
      const logs = join(dir, 'logs');
      mkdirSync(logs);
      const line = (level: number, time: number, msg: string, err?: string) => JSON.stringify({ level, time, msg, ...(err ? { err: { message: err } } : {}) });
      writeFileSync(
        join(logs, 'broker-1.log'),
        [
          line(30, 2000, 'opened log'),
          line(60, 500, 'uncaught exception', 'before the run'),
          line(60, 3000, 'uncaught exception', 'read ECONNRESET'),
          '{"level":60,"ti',
        ].join('\n'),
      );
      writeFileSync(join(logs, 'controller.log'), [line(60, 2500, 'metadata log unwritable', 'EIO'), line(40, 2600, 'partition offline')].join('\n'));
      expect(crashesIn(logs, 1000)).toEqual([
        { process: 'controller', atMs: 2500, message: 'metadata log unwritable: EIO' },
        { process: 'broker-1', atMs: 3000, message: 'uncaught exception: read ECONNRESET' },
      ]);
      expect(crashesIn(join(dir, 'none'), 0)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
