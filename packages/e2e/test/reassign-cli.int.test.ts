// Issue 22, what users touch: the `tributary` commands for reassignments, run as processes
// (`node packages/cli/src/main.ts …`, as `pnpm tributary` runs it) against a real local cluster of
// six brokers in two racks. The seed's placement needs no move; bad plans are refused whole and
// change nothing; `local add-broker` starts a seventh broker, `reassign generate | execute
// --throttle | status` move demo's share onto it under acks=all load (every acknowledged record
// readable, the throttle gone afterwards, the new broker leading its share); `brokers decommission
// 5` empties broker 5 under load, nothing lost.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Producer } from '@tributary/client';
import { eventually } from '@tributary/testkit';
import { SEED_PLACEMENT, checkAcknowledged, readAll, startProducerLoop, startTestCluster, type TestCluster } from '../src/index.ts';

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
const CLI_MAIN = join(REPO_ROOT, 'packages', 'cli', 'src', 'main.ts');
const THROTTLE = 1_000_000;
const LISTS = ['leader.replication.throttled.replicas', 'follower.replication.throttled.replicas'];
const RATES = ['leader.replication.throttled.rate', 'follower.replication.throttled.rate'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('tributary reassign, brokers decommission, local add-broker (CLI processes on a real cluster)', () => {
  let cluster: TestCluster;
  let workDir: string;

  /** `tributary ARGS` as a process, finding the cluster through its data dir as `pnpm tributary` does. */
  function tributary(args: string[], timeoutMs = 60_000): Promise<Run> {
    const env: NodeJS.ProcessEnv = { ...process.env, TRIBUTARY_DATA_DIR: cluster.dataDir };
    delete env.TRIBUTARY_BOOTSTRAP;
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI_MAIN, ...args], { cwd: REPO_ROOT, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code as number) : -1;
        resolve({ code, stdout, stderr });
      });
    });
  }

  async function assignment(topic: string): Promise<{ replicas: number[]; adding: number[]; removing: number[] }[]> {
    return (await cluster.admin.describeTopic(topic)).partitions.map((p) => ({
      replicas: p.replicas,
      adding: p.addingReplicas ?? [],
      removing: p.removingReplicas ?? [],
    }));
  }

  async function throttleConfigs(topic: string, brokers: number[]): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const e of await cluster.admin.describeConfigs({ topic })) if (LISTS.includes(e.name)) out[`${topic}:${e.name}`] = e.value;
    for (const broker of brokers)
      for (const e of await cluster.admin.describeConfigs({ broker })) if (RATES.includes(e.name)) out[`B${broker}:${e.name}`] = e.value;
    return out;
  }

  /** `count` values of `bytes` each, acks=all, to every partition of `topic` listed. */
  async function preload(topic: string, partitions: number[], count: number, bytes: number): Promise<number> {
    const producer = new Producer({ bootstrap: cluster.bootstrap, acks: 'all' });
    try {
      await Promise.all(
        partitions.flatMap((partition) =>
          Array.from({ length: count }, (_, i) => producer.send({ topic, partition, value: `pre-${topic}-${partition}-${i}-`.padEnd(bytes, 'p') })),
        ),
      );
    } finally {
      await producer.close();
    }
    return partitions.length * count;
  }

  beforeAll(async () => {
    cluster = await startTestCluster({ spareBrokers: 1 });
    workDir = cluster.dataDir;
    await cluster.admin.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("1. the seed's table needs no move: generate over brokers 0-5 proposes nothing", async () => {
    expect((await assignment('demo')).map((p) => p.replicas)).toEqual(SEED_PLACEMENT);
    const r = await tributary(['reassign', 'generate', '--topics', 'demo', '--brokers', '0,1,2,3,4,5']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ version: 1, partitions: [] });
    expect(r.stderr).toMatch(/^no replica needs to move/);
  });

  it('2. bad plans are refused whole with clear errors and change nothing; a throttled move in progress is cancelled and its throttle removed', async () => {
    // A slow, throttled move of `slow`-0 stays in progress while the bad plans are tried.
    await cluster.admin.createTopic({ name: 'slow', partitions: 1, replicationFactor: 3 });
    await preload('slow', [0], 40, 10_000);
    const slowReplicas = (await assignment('slow'))[0]!.replicas;
    const outside = [0, 1, 2, 3, 4, 5].find((b) => !slowReplicas.includes(b))!;
    const slowPlan = join(workDir, 'slow.json');
    writeFileSync(
      slowPlan,
      JSON.stringify({ version: 1, partitions: [{ topic: 'slow', partition: 0, replicas: [slowReplicas[0], slowReplicas[1], outside] }] }),
    );
    const started = await tributary(['reassign', 'execute', slowPlan, '--throttle', '1024']);
    expect(started.stderr).toBe('');
    expect(started.stdout).toMatch(/^started reassigning 1 partition: slow-0 -> /);
    expect(await throttleConfigs('slow', [outside])).toMatchObject({
      'slow:follower.replication.throttled.replicas': `0:${outside}`,
      [`B${outside}:follower.replication.throttled.rate`]: 1024,
    });

    const demoBefore = await assignment('demo');
    const slowBefore = await assignment('slow');
    const reassigningBefore = await cluster.admin.listPartitionReassignments();
    const good = { topic: 'demo', partition: 0, replicas: [0, 3, 2] };
    const cases: [string, object[], string, RegExp][] = [
      [
        'an unknown broker',
        [good, { topic: 'demo', partition: 1, replicas: [3, 1, 99] }],
        'INVALID_REPLICA_ASSIGNMENT',
        /demo-1 names broker 99, not registered \(registered: 0, 1, 2, 3, 4, 5\)/,
      ],
      [
        'a broker twice',
        [good, { topic: 'demo', partition: 1, replicas: [3, 3, 1] }],
        'INVALID_REPLICA_ASSIGNMENT',
        /demo-1 names broker 3 twice in \[3,3,1\]/,
      ],
      [
        'more replicas than brokers',
        [good, { topic: 'demo', partition: 1, replicas: [0, 1, 2, 3, 4, 5, 6] }],
        'INVALID_REPLICATION_FACTOR',
        /demo-1 asks for 7 replicas but only 6 brokers are registered/,
      ],
      [
        'a partition being reassigned',
        [good, { topic: 'slow', partition: 0, replicas: slowReplicas }],
        'REASSIGNMENT_IN_PROGRESS',
        /slow-0 is already being reassigned to .*cancel it/,
      ],
    ];
    for (const [name, partitions, code, message] of cases) {
      const file = join(workDir, 'bad.json');
      writeFileSync(file, JSON.stringify({ version: 1, partitions }));
      const r = await tributary(['reassign', 'execute', file, '--throttle', '5000']);
      expect([name, r.code, r.stdout]).toEqual([name, 1, '']);
      expect(r.stderr).toMatch(new RegExp(`^error: ${code}: .*bad.json: \\d+ problems?, nothing was changed: `));
      expect(r.stderr).toMatch(message);
      const json = await tributary(['reassign', 'execute', file, '--json']);
      expect(JSON.parse(json.stderr).error.code).toBe(code);
    }
    expect(await assignment('demo')).toEqual(demoBefore);
    expect(await assignment('slow')).toEqual(slowBefore);
    expect(await cluster.admin.listPartitionReassignments()).toEqual(reassigningBefore);
    expect(await throttleConfigs('demo', [])).toEqual({ 'demo:leader.replication.throttled.replicas': '', 'demo:follower.replication.throttled.replicas': '' });

    // Cancelled: the original list back, and the throttle with it.
    const cancelled = await tributary(['reassign', 'cancel']);
    expect(cancelled.stdout.split('\n')[0]).toBe('slow-0: cancelled');
    expect(cancelled.code).toBe(0);
    expect((await assignment('slow'))[0]).toEqual({ replicas: slowReplicas, adding: [], removing: [] });
    expect(await throttleConfigs('slow', [0, 1, 2, 3, 4, 5])).toEqual({
      'slow:leader.replication.throttled.replicas': '',
      'slow:follower.replication.throttled.replicas': '',
      ...Object.fromEntries([0, 1, 2, 3, 4, 5].flatMap((b) => RATES.map((r) => [`B${b}:${r}`, null]))),
    });
  });

  it('3. local add-broker starts B6; generate + execute --throttle + status move demo onto it under acks=all load: nothing lost, the throttle gone, B6 leads its share', async () => {
    const added = await tributary(['local', 'add-broker']);
    expect(added.stderr).toBe('');
    expect(added.stdout).toMatch(/^started broker-6 in rack-1 on 127\.0\.0\.1:\d+ \(pid \d+\); it holds no replica yet/);
    await eventually(async () => (await cluster.admin.describeCluster()).brokers.some((b) => b.id === 6 && b.alive && b.rack === 'rack-1'), {
      timeoutMs: 20_000,
    });

    // 2.5 MB per partition: B6's four copies take about ten seconds at the throttle, long
    // enough for a `status` process to start and see them part way on a busy machine.
    const preloaded = await preload('demo', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 250, 10_000);
    const loop = startProducerLoop({ bootstrap: cluster.bootstrap, topic: 'demo', partitions: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], inflightMax: 8, prefix: 'join' });
    const planFile = join(workDir, 'plan.json');
    let seenCopying = false;
    try {
      await eventually(() => loop.acked.length > 100, { timeoutMs: 20_000 });
      const generated = await tributary(['reassign', 'generate', '--topics', 'demo', '--brokers', '0,1,2,3,4,5,6', '--output', planFile]);
      expect(generated.code).toBe(0);
      const plan = JSON.parse(readFileSync(planFile, 'utf8')) as { partitions: { topic: string; partition: number; replicas: number[] }[] };
      // The fewest moves onto B6: its four replicas (4-5 per broker out of 30), nothing else copied.
      expect(plan.partitions.flatMap((e) => e.replicas.filter((r) => !SEED_PLACEMENT[e.partition]!.includes(r)))).toEqual([6, 6, 6, 6]);
      expect(generated.stdout).toMatch(/^4 partitions to reassign: 4 replicas to copy/);

      const executed = await tributary(['reassign', 'execute', planFile, '--throttle', String(THROTTLE)]);
      expect(executed.stderr).toBe('');
      expect(executed.stdout).toMatch(/^started reassigning 4 partitions: /);
      expect(await throttleConfigs('demo', [6])).toMatchObject({
        'demo:follower.replication.throttled.replicas': plan.partitions.map((e) => `${e.partition}:6`).join(','),
        'B6:follower.replication.throttled.rate': THROTTLE,
        'B6:leader.replication.throttled.rate': THROTTLE,
      });

      // `status` until done: it shows the copies part way, then nothing in progress and the throttle removed.
      const last = await eventually(
        async () => {
          const r = await tributary(['reassign', 'status', planFile, '--json', '--interval-ms', '500']);
          expect(r.code).toBe(0);
          const status = JSON.parse(r.stdout);
          for (const p of status.partitions) {
            expect(p.adding).toEqual([6]);
            if (p.copiedBytes > 0 && p.percent < 100) seenCopying = true;
          }
          return status.done ? status : false;
        },
        { timeoutMs: 90_000, intervalMs: 250 },
      );
      expect(last.plan.map((s: { state: string }) => s.state)).toEqual(['done', 'done', 'done', 'done']);
      expect(seenCopying).toBe(true);
      expect(last.throttleRemoved.topics).toEqual(['demo']);
      expect(last.throttleRemoved.brokers).toEqual(expect.arrayContaining([6]));
      expect(await throttleConfigs('demo', [0, 1, 2, 3, 4, 5, 6])).toEqual({
        'demo:leader.replication.throttled.replicas': '',
        'demo:follower.replication.throttled.replicas': '',
        ...Object.fromEntries([0, 1, 2, 3, 4, 5, 6].flatMap((b) => RATES.map((r) => [`B${b}:${r}`, null]))),
      });
      expect((await assignment('demo')).map((p) => p.replicas)).toEqual(
        SEED_PLACEMENT.map((replicas, partition) => plan.partitions.find((e) => e.partition === partition)?.replicas ?? replicas),
      );
      // B6 leads the partitions the plan made it the preferred leader of (leadership follows the
      // first replica at completion and by preferred-leader election).
      const preferred = plan.partitions.filter((e) => e.replicas[0] === 6).map((e) => e.partition);
      expect(preferred.length).toBeGreaterThanOrEqual(1);
      await eventually(
        async () => {
          const led = (await cluster.admin.describeTopic('demo')).partitions.filter((p) => p.leader === 6).map((p) => p.partition);
          return JSON.stringify(led) === JSON.stringify(preferred);
        },
        { timeoutMs: 30_000 },
      );
      for (const partition of preferred) await eventually(() => loop.ackedSince(partition, Date.now() - 500).length > 0, { timeoutMs: 20_000 });
    } finally {
      await loop.stop();
    }
    expect(loop.failed).toEqual([]);
    const read = await readAll(cluster.bootstrap, 'demo', 10, { expected: preloaded + loop.acked.length });
    expect(checkAcknowledged(read, loop.acked)).toEqual([]);
  });

  it('4. brokers decommission 5 under load: every replica moved off, B5 holds nothing (its logs deleted), nothing lost', async () => {
    const held = (await cluster.admin.describeTopics()).flatMap((t) =>
      t.partitions.filter((p) => p.replicas.includes(5)).map((p) => `${t.name}-${p.partition}`),
    );
    expect(held.length).toBeGreaterThan(0);
    const loop = startProducerLoop({ bootstrap: cluster.bootstrap, topic: 'demo', partitions: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], inflightMax: 8, prefix: 'off5' });
    let r: Run;
    try {
      await eventually(() => loop.acked.length > 100, { timeoutMs: 20_000 });
      r = await tributary(['brokers', 'decommission', '5', '--throttle', String(THROTTLE), '--interval-ms', '500'], 120_000);
      await eventually(() => loop.acked.length > 300, { timeoutMs: 20_000 });
    } finally {
      await loop.stop();
    }
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^decommissioning broker 5: it holds \d+ replicas of /);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('broker 5 holds nothing: no partition lists it and it reports no replica; it can be stopped');
    for (const t of await cluster.admin.describeTopics())
      for (const p of t.partitions) expect([t.name, p.partition, p.replicas.includes(5)]).toEqual([t.name, p.partition, false]);
    const dirs = readdirSync(join(cluster.dataDir, 'broker-5'), { withFileTypes: true }).filter((e) => e.isDirectory() && /-\d+(\..*-stray)?$/.test(e.name));
    expect(dirs.map((d) => d.name)).toEqual([]);
    expect(existsSync(join(cluster.dataDir, 'broker-5', 'demo-3'))).toBe(false);
    expect(await throttleConfigs('demo', [0, 1, 2, 3, 4, 6])).toMatchObject({ 'demo:follower.replication.throttled.replicas': '' });
    expect(loop.failed).toEqual([]);
    // demo holds the earlier scenarios' records too: read until nothing more comes.
    const read = await readAll(cluster.bootstrap, 'demo', 10);
    expect(checkAcknowledged(read, loop.acked)).toEqual([]);
  });
});
