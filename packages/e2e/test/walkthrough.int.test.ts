// Issue 17: the README's "Try it" walkthrough as a user types it. `pnpm start` in one terminal —
// here `tributary local up` in the foreground, run from a working directory of its own so that
// its data dir is the default ./.tributary, on a free port block — and every other command in
// another terminal with no --bootstrap, --data-dir or $TRIBUTARY_* at all: the CLI finds the
// cluster by itself (the brokers of the cluster running from ./.tributary), keeps finding it
// when broker 0 is killed, does not stall on a paused broker, and `local down` ends the
// foreground cleanly.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDown, localResume, localStatus, processStatus, readState, type ClusterStateFile } from '@tributary/launcher';
import { eventually, freeClusterBasePort } from '@tributary/testkit';
import { e2eTempDir } from '../src/index.ts';

const CLI = fileURLToPath(new URL('../../cli/src/main.ts', import.meta.url));
/** What `topics describe --verbose` waited on a paused leader before: the request timeout. */
const REQUEST_TIMEOUT_MS = 30_000;

/** The environment of a fresh shell: nothing that points the CLI at a cluster. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TRIBUTARY_')));

describe('the README walkthrough, no flags', () => {
  let work: { dir: string; cleanup: () => void };
  let dataDir: string;
  let basePort: number;
  let foreground: ChildProcess;
  let started: ClusterStateFile | undefined;
  let exited: Promise<number | null>;
  let out = '';

  /** A command in "another terminal": same working directory, no flags pointing at the cluster. */
  function cli(args: string[]) {
    const started = performance.now();
    const result = spawnSync(process.execPath, [CLI, ...args], { cwd: work.dir, env: ENV, encoding: 'utf8', timeout: 60_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, elapsedMs: performance.now() - started };
  }

  /** The by-broker row of broker `id`, e.g. `rack-2/B3  leads P0 P1 P6 P7  follows P5`, spaces collapsed. */
  function row(table: string, id: number): string {
    return (table.split('\n').find((l) => l.includes(`/B${id}`)) ?? '').replace(/\s+/g, ' ').trim();
  }

  beforeAll(async () => {
    work = e2eTempDir('walkthrough');
    dataDir = join(work.dir, '.tributary');
    basePort = await freeClusterBasePort(6);
    // In a process group of its own, as a shell runs a foreground job.
    foreground = spawn(process.execPath, [CLI, 'local', 'up', '--base-port', String(basePort)], {
      cwd: work.dir,
      env: ENV,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    foreground.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    foreground.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    exited = new Promise((resolve) => foreground.once('exit', (code) => resolve(code)));
    await eventually(() => out.includes('Ctrl-C stops the cluster'), { timeoutMs: 90_000 });
    started = readState(dataDir);
  });
  afterAll(async () => {
    if (foreground?.exitCode === null && foreground.signalCode === null) {
      await localDown(dataDir, { timeoutMs: 10_000 }).catch(() => undefined);
      foreground.kill('SIGKILL');
    }
    // Should the state file be gone, the processes recorded at start are stopped by pid.
    for (const p of started?.processes ?? []) {
      if (processStatus(p) !== 'stopped') process.kill(p.pid, 'SIGKILL');
    }
    work?.cleanup();
  });

  it("shows the processes' logs as short lines with the events marked, and needs no --bootstrap", async () => {
    expect(out).toContain('In another terminal: pnpm tributary topics describe demo --by-broker\n');
    // The foreground copies the log files every 100 ms, so a broker's last lines may come just
    // after the table that the controller's metadata already shows.
    const becameLeader = /^\d\d:\d\d:\d\d\.\d{3} broker-0 {3}\* became leader: demo-0, epoch 0, ISR \[0,3,1\]$/m;
    await eventually(() => becameLeader.test(out), { timeoutMs: 10_000 });
    expect(out).toMatch(
      new RegExp(
        `^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} controller \\* broker registered: B0 \\(rack-1\\) at 127\\.0\\.0\\.1:${basePort + 2}, broker epoch \\d+$`,
        'm',
      ),
    );
    // No raw pino JSON on the terminal (the log files keep it).
    expect(out).not.toContain('{"level"');
    const described = cli(['topics', 'describe', 'demo', '--by-broker']);
    expect(described.status, described.stderr).toBe(0);
    expect(row(described.stdout, 0)).toBe('rack-1/B0 leads P0 P6 follows P5 P4');
  });

  it('after kill -9 of broker 0, topics describe demo --by-broker still works with no flags; the foreground shows the failover', async () => {
    expect(cli(['local', 'kill', '0']).status).toBe(0);
    const right = cli(['topics', 'describe', 'demo', '--by-broker']);
    expect(right.status, right.stderr).toBe(0);
    expect(right.stdout).toContain('rack-2/B3');
    await eventually(
      () => {
        const table = cli(['topics', 'describe', 'demo', '--by-broker']).stdout;
        return row(table, 3) === 'rack-2/B3 leads P0 P1 P6 P7 follows P5' && row(table, 0).startsWith('rack-1/B0 (fenced) leads -');
      },
      { timeoutMs: 30_000 },
    );
    await eventually(
      () =>
        /controller \* broker fenced: B0 /.test(out) &&
        /controller \* leader changed: demo-0: B0 -> B3, epoch 1/.test(out) &&
        /broker-3 {3}\* became leader: demo-0, epoch 1/.test(out),
      { timeoutMs: 10_000 },
    );
  });

  it("with a paused leader, topics describe demo --verbose prints at once, that leader's partitions unknown", () => {
    // The controller paused first, so that nobody fences broker 3 meanwhile: it stays the
    // leader of P0 P1 P6 P7 in the metadata, and the CLI must ask it.
    expect(cli(['local', 'pause', 'controller']).status).toBe(0);
    expect(cli(['local', 'pause', '3']).status).toBe(0);
    const verbose = cli(['topics', 'describe', 'demo', '--verbose']);
    expect(verbose.status, verbose.stderr).toBe(0);
    // Well under the request timeout it used to wait out, with room for a loaded machine's
    // process start-up.
    expect(verbose.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS - 10_000);
    const rows = verbose.stdout
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((l) => l.trim().split(/\s+/));
    expect(rows).toHaveLength(10);
    for (const [partition, leader, , , , hw, logStart, leo, ...lag] of rows) {
      if (['0', '1', '6', '7'].includes(partition!)) {
        expect([leader, hw, logStart, leo, lag.join(' ')], `P${partition}`).toEqual(['3', '?', '?', '?', 'leader 3 did not answer within 1500 ms']);
      } else {
        expect(hw, `P${partition}`).toMatch(/^\d+$/);
      }
    }
  });

  it('with a paused broker first in the bootstrap list, watch does not wait out its deadline', () => {
    const paused = `127.0.0.1:${basePort + 2 + 3}`;
    const live = `127.0.0.1:${basePort + 2 + 1}`;
    const watched = cli(['watch', 'demo', '--json', '--iterations', '2', '--interval-ms', '50', '--bootstrap', `${paused},${live}`]);
    expect(watched.status, watched.stderr).toBe(0);
    const frames = watched.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { timeMs: number; error?: string });
    expect(frames.map((f) => f.error)).toEqual([undefined, undefined]);
    // Frame 2 starts 50 ms after frame 1's snapshot; asked of broker 3 alone until its metadata
    // deadline (3000 ms), that snapshot would take longer than this.
    expect(frames[1]!.timeMs - frames[0]!.timeMs).toBeLessThan(2500);
  });

  it('resumed and restarted, both rejoin and broker 0 leads P0 again; the foreground shows the restarted broker too', async () => {
    await localResume(dataDir, '3');
    await localResume(dataDir, 'controller');
    const restarted = cli(['local', 'restart', '0']);
    expect(restarted.status, restarted.stderr).toBe(0);
    await eventually(() => row(cli(['topics', 'describe', 'demo', '--by-broker']).stdout, 0) === 'rack-1/B0 leads P0 P6 follows P5 P4', { timeoutMs: 60_000 });
    // broker-0 now runs as a child of `local restart`, not of the foreground: shown all the same
    // (before the kill it led P0 at epoch 0 only).
    await eventually(() => /broker-0 {3}\* became leader: demo-0, epoch [1-9]/.test(out), { timeoutMs: 10_000 });
  });

  it('local down from another terminal stops the foreground: it says so and exits 0', async () => {
    const down = cli(['local', 'down']);
    expect(down.status, down.stderr).toBe(0);
    expect(await exited, out).toBe(0);
    expect(out).toContain(`the cluster was stopped (tributary local down); data and logs stay in ${dataDir}`);
    expect(out).not.toContain('unsettled top-level await');
    expect(localStatus(dataDir).processes.every((p) => p.status === 'stopped')).toBe(true);
  });
});
