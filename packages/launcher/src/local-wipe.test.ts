// localWipe: a stopped broker's data dir is deleted (its disk is lost); a live one is refused.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { clusterLayout } from './layout.ts';
import { localWipe, processStatus, type ClusterStateFile, type ProcessRecord } from './local-cluster.ts';

const BROKER_MAIN = fileURLToPath(new URL('../../broker/src/main.ts', import.meta.url));

describe('localWipe', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** A state file naming broker-0 with `pid` and its data dir holding a log file. */
  function cluster(pid: number): { dataDir: string; brokerDir: string } {
    const dataDir = mkdtempSync(join(tmpdir(), 'tributary-wipe-'));
    dirs.push(dataDir);
    const brokerDir = join(dataDir, 'broker-0');
    mkdirSync(join(brokerDir, 'demo-0'), { recursive: true });
    writeFileSync(join(brokerDir, 'demo-0', '00000000000000000000.log'), 'records');
    const record: ProcessRecord = {
      name: 'broker-0',
      pid,
      port: 1,
      args: ['--id', '0', '--data-dir', brokerDir],
      logFile: join(dataDir, 'logs', 'broker-0.log'),
      brokerId: 0,
      rack: 'rack-1',
    };
    const state: ClusterStateFile = {
      dataDir,
      layout: clusterLayout({ basePort: 30_000, brokers: 1 }),
      processes: [record],
      brokerArgs: [],
      controllerArgs: [],
    };
    writeFileSync(join(dataDir, 'cluster.json'), JSON.stringify(state));
    return { dataDir, brokerDir };
  }

  it('deletes the data dir of a stopped broker, leaving the rest of the cluster dir', () => {
    // A pid that is not a broker's (this test process): the broker counts as stopped.
    const { dataDir, brokerDir } = cluster(process.pid);
    expect(localWipe(dataDir, '0')).toBe(brokerDir);
    expect(existsSync(brokerDir)).toBe(false);
    expect(existsSync(join(dataDir, 'cluster.json'))).toBe(true);
  });

  it('refuses a broker that is running, and names what it does not know', async () => {
    // A process whose command line names the broker's main: the launcher takes it for the broker.
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', BROKER_MAIN], { stdio: 'ignore' });
    children.push(child);
    // 'spawn' comes once the exec succeeded, so /proc shows the new command line.
    await once(child, 'spawn');
    const { dataDir, brokerDir } = cluster(child.pid!);
    expect(processStatus({ name: 'broker-0', pid: child.pid!, port: 1, args: [], logFile: '' })).toBe('running');
    expect(() => localWipe(dataDir, '0')).toThrow(/broker-0 is running; stop it before deleting its data/);
    expect(existsSync(join(brokerDir, 'demo-0'))).toBe(true);
    expect(() => localWipe(dataDir, '7')).toThrow(/no process '7'/);
  });
});
