// Controlled shutdown on real processes: a rolling restart still hands every leadership to a live
// peer before a broker stops (no acks=all send fails), and `local down` (all brokers SIGTERMed at
// once) lets every broker stop without running out its controlled-shutdown limit: a leadership
// whose other ISR members are all stopping too has no one to move to, and does not hold the
// broker back (KRaft's rule; broker-registry.ts). Ctrl-C on `tributary local up` in the
// foreground (`pnpm start`) does the same: the terminal's SIGINT reaches the brokers but not the
// controller, which their controlled shutdowns need (launcher: local-cluster.ts).
//
// The assertions are about behaviour, not timing: every broker logs 'controlled shutdown done'
// and none logs that it reached the limit (60 s in the first cluster, beyond local down's 20 s
// wait, so a broker that waited for it would not log 'done' at all).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDown, localRestart, localStatus } from '@tributary/launcher';
import { eventually, freeClusterBasePort } from '@tributary/testkit';
import { checkAcknowledged, e2eTempDir, partitionInfo, readAll, startProducerLoop, startTestCluster, type TestCluster } from '../src/index.ts';

const CONTROLLED_SHUTDOWN_MAX_MS = 60_000;

interface LogLine {
  msg?: string;
  durationMs?: number;
  brokerId?: number;
  [field: string]: unknown;
}

const CLI = fileURLToPath(new URL('../../cli/src/main.ts', import.meta.url));

function logLines(cluster: Pick<TestCluster, 'dataDir'>, name: string): LogLine[] {
  const text = readFileSync(join(cluster.dataDir, 'logs', `${name}.log`), 'utf8');
  return text.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });
}

function shutdowns(cluster: Pick<TestCluster, 'dataDir'>, broker: number): { done: LogLine[]; deadline: LogLine[] } {
  const lines = logLines(cluster, `broker-${broker}`);
  return {
    done: lines.filter((l) => l.msg === 'controlled shutdown done'),
    deadline: lines.filter((l) => l.msg === 'controlled shutdown deadline reached; stopping anyway'),
  };
}

describe('controlled shutdown', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster({ brokerArgs: ['--controlled-shutdown-max-ms', String(CONTROLLED_SHUTDOWN_MAX_MS)] });
    // What `pnpm start` creates, plus partitions that can never move (replication factor 1).
    await cluster.admin.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
    await cluster.admin.createTopic({ name: 'solo', partitions: 6, replicationFactor: 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a rolling restart of two brokers under acks=all load: each hands its leaderships to live peers first, no send fails', async () => {
    const first = (await partitionInfo(cluster.admin, 'demo', 0)).leader;
    const loop = startProducerLoop({
      bootstrap: cluster.bootstrap,
      topic: 'demo',
      partitions: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      producer: { deliveryTimeoutMs: 120_000 },
    });
    await eventually(() => loop.acked.length > 300, { timeoutMs: 20_000 });
    await localRestart(cluster.dataDir, String(first));
    // The second broker leads partitions whose ISR may not hold the first one again yet.
    const second = (await partitionInfo(cluster.admin, 'demo', 1)).leader;
    expect(second).not.toBe(first);
    const restartedAt = Date.now();
    await localRestart(cluster.dataDir, String(second));
    await eventually(() => loop.ackedSince(1, restartedAt).length > 50 || false, { timeoutMs: 30_000 });
    await loop.stop();
    expect(loop.failed).toEqual([]);
    for (const broker of [first, second]) {
      const { done, deadline } = shutdowns(cluster, broker);
      expect(done, `broker ${broker}`).toHaveLength(1);
      expect(deadline, `broker ${broker}`).toEqual([]);
    }
    const read = await readAll(cluster.bootstrap, 'demo', 10, { expected: loop.acked.length });
    expect(checkAcknowledged(read, loop.acked)).toEqual([]);
  });

  it('local down: every broker stops at once without running out its controlled-shutdown limit', async () => {
    const fences = (broker: number) => logLines(cluster, 'controller').filter((l) => l.msg === 'broker fenced' && l.brokerId === broker).length;
    const before = new Map([0, 1, 2, 3, 4, 5].map((b) => [b, { done: shutdowns(cluster, b).done.length, fences: fences(b) }]));
    const processes = await localDown(cluster.dataDir);
    expect(processes.map((p) => p.status)).toEqual(processes.map(() => 'stopped'));
    for (const broker of [0, 1, 2, 3, 4, 5]) {
      const { done, deadline } = shutdowns(cluster, broker);
      // Exactly one new 'done' each: none was killed by local down's wait, none hit the limit.
      expect(done.length - before.get(broker)!.done, `broker ${broker}`).toBe(1);
      expect(deadline, `broker ${broker}`).toEqual([]);
      expect(done.at(-1)!.durationMs, `broker ${broker}`).toBeLessThan(CONTROLLED_SHUTDOWN_MAX_MS);
    }
    // The controller fenced each broker as it shut down (the controller itself stops right after
    // the brokers, before any session could run out), so its metadata shows them all gone.
    for (const broker of [0, 1, 2, 3, 4, 5]) expect(fences(broker) - before.get(broker)!.fences, `broker ${broker}`).toBeGreaterThanOrEqual(1);
    expect(localStatus(cluster.dataDir).processes.every((p) => p.status === 'stopped')).toBe(true);
  });
});

describe('Ctrl-C on a cluster in the foreground', () => {
  it('stops every broker without running out its controlled-shutdown limit, then the controller', async () => {
    const { dir, cleanup } = e2eTempDir('shutdown');
    try {
      const basePort = await freeClusterBasePort(6);
      // In a process group of its own, as a shell runs a foreground job; SIGINT to the group is
      // what the terminal sends on Ctrl-C.
      const cli = spawn(process.execPath, [CLI, 'local', 'up', '--data-dir', dir, '--base-port', String(basePort), '--quiet'], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      cli.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
      cli.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
      const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
      await eventually(() => out.includes('Ctrl-C stops the cluster'), { timeoutMs: 90_000 });
      process.kill(-cli.pid!, 'SIGINT');
      expect(await exited, out).toBe(0);
      expect(out).toContain('stopped');
      expect(localStatus(dir).processes.map((p) => [p.name, p.status])).toEqual(localStatus(dir).processes.map((p) => [p.name, 'stopped']));
      for (const broker of [0, 1, 2, 3, 4, 5]) {
        const { done, deadline } = shutdowns({ dataDir: dir }, broker);
        expect(done, `broker ${broker}`).toHaveLength(1);
        expect(deadline, `broker ${broker}`).toEqual([]);
      }
      const controller = logLines({ dataDir: dir }, 'controller');
      expect(
        controller
          .filter((l) => l.msg === 'controlled shutdown')
          .map((l) => l.brokerId)
          .sort(),
      ).toEqual([0, 1, 2, 3, 4, 5]);
    } finally {
      cleanup();
    }
  });
});
