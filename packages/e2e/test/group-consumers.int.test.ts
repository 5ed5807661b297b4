// Issue 18, the members' side of consumer groups on real processes: each member is a
// `tributary consume demo --group G --json` process. Three members share the ten partitions of
// demo; kill -9 of one moves its partitions to the others within the session timeout and nothing
// after the last committed offset is skipped (every acknowledged record is printed by some
// member); Ctrl-C of one (Consumer.close(): commit and leave) hands its partitions over at once.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GroupView } from '@tributary/client';
import { eventually } from '@tributary/testkit';
import { startProducerLoop, startTestCluster, type TestCluster } from '../src/index.ts';

const CLI = fileURLToPath(new URL('../../cli/src/main.ts', import.meta.url));
const ALL = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

interface Member {
  name: string;
  child: ChildProcess;
  /** `partition:offset` → value, of every record it printed. */
  printed: Map<string, string>;
  exited: Promise<number | null>;
  stderr: string[];
}

describe('consumer group members as processes', () => {
  let cluster: TestCluster;
  const members: Member[] = [];

  function startMember(groupId: string, name: string, sessionTimeoutMs: number): Member {
    const child = spawn(
      process.execPath,
      [
        CLI,
        'consume',
        'demo',
        '--group',
        groupId,
        '--client-id',
        name,
        '--from-beginning',
        '--json',
        '--session-timeout-ms',
        String(sessionTimeoutMs),
        '--bootstrap',
        cluster.bootstrap.join(','),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const printed = new Map<string, string>();
    const stderr: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const r = JSON.parse(line) as { partition: number; offset: number; value: string };
      printed.set(`${r.partition}:${r.offset}`, r.value);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const m = { name, child, printed, exited, stderr };
    members.push(m);
    return m;
  }

  /** Partitions by client id, once the group is Stable with exactly these members and every partition assigned once. */
  async function balancedAmong(groupId: string, names: string[], timeoutMs: number): Promise<Map<string, number[]>> {
    let view: GroupView | undefined;
    await eventually(
      async () => {
        view = await cluster.admin.describeGroup(groupId);
        expect(view.state).toBe('Stable');
        expect(view.members.map((m) => m.clientId).sort()).toEqual([...names].sort());
        const all = view.members.flatMap((m) => (m.assignment ?? []).map((tp) => tp.partition));
        expect(all.sort((a, b) => a - b)).toEqual(ALL);
      },
      { timeoutMs, intervalMs: 100 },
    );
    return new Map(view!.members.map((m) => [m.clientId, (m.assignment ?? []).map((tp) => tp.partition).sort((a, b) => a - b)]));
  }

  beforeAll(async () => {
    // Groups form without Kafka's 3 s wait for more members, and a session can be short.
    process.env.TRIBUTARY_GROUP_INITIAL_REBALANCE_DELAY_MS = '500';
    cluster = await startTestCluster();
    delete process.env.TRIBUTARY_GROUP_INITIAL_REBALANCE_DELAY_MS;
    await cluster.admin.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
  });
  afterEach(async () => {
    for (const m of members.splice(0)) {
      m.child.kill('SIGKILL');
      await m.exited;
    }
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('three members get disjoint partitions covering all ten; kill -9 of one moves its partitions to the others within the session timeout, skipping nothing', async () => {
    const sessionTimeoutMs = 6000;
    const loop = startProducerLoop({ bootstrap: cluster.bootstrap, topic: 'demo', partitions: ALL, prefix: 'kill', inflightMax: 20 });
    const [a, b, c] = ['a', 'b', 'c'].map((n) => startMember('kill-group', n, sessionTimeoutMs)) as [Member, Member, Member];
    const before = await balancedAmong('kill-group', ['a', 'b', 'c'], 30_000);
    for (const parts of before.values()) expect(parts.length).toBeGreaterThanOrEqual(3);
    // Everyone is reading; let auto-commit (every 5 s) commit something of b's.
    await eventually(() => expect(Math.min(a.printed.size, b.printed.size, c.printed.size)).toBeGreaterThan(0), { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 6000));

    const killedAt = Date.now();
    b.child.kill('SIGKILL');
    await b.exited;
    const after = await balancedAmong('kill-group', ['a', 'c'], sessionTimeoutMs + 10_000);
    const movedMs = Date.now() - killedAt;
    console.log(
      `kill -9 of a member: its partitions ${before.get('b')!.join(',')} were assigned again after ${movedMs} ms (session timeout ${sessionTimeoutMs} ms)`,
    );
    // Detection takes the session timeout; the others hear of the rebalance at their next heartbeat (2 s) and rejoin.
    expect(movedMs).toBeLessThan(sessionTimeoutMs + 4000);
    for (const p of before.get('b')!) expect([...after.get('a')!, ...after.get('c')!]).toContain(p);
    // Sticky: the survivors kept what they had.
    for (const n of ['a', 'c']) for (const p of before.get(n)!) expect(after.get(n)).toContain(p);

    // Let the survivors read b's partitions for a while, then stop producing and drain.
    await new Promise((r) => setTimeout(r, 2000));
    await loop.stop();
    expect(loop.acked.length).toBeGreaterThan(100);
    const union = () => {
      const all = new Map<string, string>();
      for (const m of [a, b, c]) for (const [k, v] of m.printed) all.set(k, v);
      return all;
    };
    await eventually(
      () => {
        const all = union();
        const missing = loop.acked.filter((ack) => all.get(`${ack.partition}:${ack.offset}`) !== ack.value);
        expect(missing.slice(0, 5)).toEqual([]);
      },
      { timeoutMs: 30_000 },
    );
    // And the group's lag reaches 0 (auto-commit).
    await eventually(
      async () => {
        const view = await cluster.admin.describeGroup('kill-group');
        expect(view.offsets.map((o) => o.lag)).toEqual(ALL.map(() => 0));
      },
      { timeoutMs: 20_000 },
    );
    const redelivered = [...a.printed.keys(), ...c.printed.keys()].filter((k) => b.printed.has(k)).length;
    console.log(
      `acknowledged ${loop.acked.length} records; the killed member printed ${b.printed.size}, ${redelivered} of them again by the others (read after its last commit)`,
    );
  });

  it('Ctrl-C of a member (close(): commit, leave) rebalances at once, long before its session timeout', async () => {
    const sessionTimeoutMs = 60_000;
    const members3 = ['x', 'y', 'z'].map((n) => startMember('close-group', n, sessionTimeoutMs));
    const before = await balancedAmong('close-group', ['x', 'y', 'z'], 30_000);
    const y = members3[1]!;
    const startedMs = Date.now();
    y.child.kill('SIGINT');
    expect(await y.exited).toBe(0);
    await balancedAmong('close-group', ['x', 'z'], 10_000);
    const movedMs = Date.now() - startedMs;
    console.log(
      `close() of a member: its partitions ${before.get('y')!.join(',')} were assigned again after ${movedMs} ms (session timeout ${sessionTimeoutMs} ms)`,
    );
    // The leave starts the rebalance at once; the others hear of it at their next heartbeat
    // (every 3 s, a third of Kafka's default session) and rejoin: seconds, not the minute.
    expect(movedMs).toBeLessThan(8000);
    expect(y.stderr).toEqual([]);
  });
});
