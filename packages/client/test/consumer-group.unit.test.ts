// Consumer with a groupId against the fake cluster, whose broker 0 hosts the real GroupCoordinator
// in memory (test/fake-coordinator.ts): members share the partitions, commit what they consumed,
// and close() hands partitions over at once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '@tributary/testkit';
import { Admin, Consumer, Producer, type ConsumerOptions, type ConsumerRecord } from '../src/index.ts';
import { FakeCluster } from './fake-cluster.ts';

let cluster: FakeCluster;
const closers: { close(): Promise<void> }[] = [];
function track<T extends { close(): Promise<void> }>(c: T): T {
  closers.push(c);
  return c;
}

beforeEach(async () => {
  cluster = await FakeCluster.start(3);
  cluster.createTopic('t', 10);
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close().catch(() => {})));
  await cluster.close();
});

async function produce(n: number, prefix = 'v'): Promise<void> {
  const producer = new Producer({ bootstrap: cluster.bootstrap });
  await Promise.all(Array.from({ length: n }, (_, i) => producer.send({ topic: 't', value: `${prefix}${i}`, partition: i % 10 })));
  await producer.close();
}

/** A member reading in the background into `records`, with its rebalance callbacks counted. */
function member(groupId: string, options: Partial<ConsumerOptions> = {}) {
  const consumer = track(
    new Consumer({ bootstrap: cluster.bootstrap, groupId, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 100, maxWaitMs: 50, ...options }),
  );
  const records: ConsumerRecord[] = [];
  const revoked: string[] = [];
  const assigned: string[] = [];
  consumer.subscribe('t', {
    from: 'earliest',
    onPartitionsAssigned: (tps) => void assigned.push(...tps.map((t) => `${t.topic}-${t.partition}`)),
    onPartitionsRevoked: (tps) => void revoked.push(...tps.map((t) => `${t.topic}-${t.partition}`)),
  });
  const loop = (async () => {
    for await (const r of consumer) records.push(r);
  })();
  return { consumer, records, revoked, assigned, loop };
}

const partitionsOf = (c: Consumer) =>
  c
    .assignment()
    .map((t) => t.partition)
    .sort((a, b) => a - b);

describe('Consumer in a group', () => {
  it('three members get disjoint partitions covering all ten, and between them read every record once', async () => {
    await produce(100);
    const members = [member('g'), member('g'), member('g')];
    await eventually(
      () => {
        const all = members.flatMap((m) => partitionsOf(m.consumer));
        expect(all.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        for (const m of members) expect(m.consumer.assignment().length).toBeGreaterThanOrEqual(3);
        expect(members.reduce((n, m) => n + m.records.length, 0)).toBe(100);
      },
      { timeoutMs: 10_000 },
    );
    const seen = members.flatMap((m) => m.records.map((r) => `${r.partition}:${r.offset}`));
    expect(new Set(seen).size).toBe(100);
    const [described] = await track(new Admin({ bootstrap: cluster.bootstrap })).describeGroups(['g']);
    expect(described).toMatchObject({ state: 'Stable', protocolType: 'consumer' });
    expect(described!.members).toHaveLength(3);
  });

  it('close() commits what it consumed and leaves: the others take its partitions at once, its revoke callback runs once per partition', async () => {
    await produce(50);
    // A session timeout of a minute: only the leave can explain a quick hand-over.
    const a = member('g', { sessionTimeoutMs: 60_000 });
    const b = member('g', { sessionTimeoutMs: 60_000 });
    await eventually(
      () => {
        expect(partitionsOf(a.consumer).length + partitionsOf(b.consumer).length).toBe(10);
        expect(a.consumer.assignment().length).toBeGreaterThan(0);
        expect(b.consumer.assignment().length).toBeGreaterThan(0);
        expect(a.records.length + b.records.length).toBe(50);
      },
      { timeoutMs: 10_000 },
    );
    const owned = partitionsOf(a.consumer);
    const started = Date.now();
    await a.consumer.close();
    await a.loop;
    expect(a.revoked.sort()).toEqual(owned.map((p) => `t-${p}`).sort());
    await eventually(() => expect(partitionsOf(b.consumer)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), { timeoutMs: 5000 });
    expect(Date.now() - started).toBeLessThan(5000);
    // What a consumed was committed: b reads nothing again and lag is 0.
    const offsets = await track(new Admin({ bootstrap: cluster.bootstrap })).listGroupOffsets('g');
    for (const p of owned) expect(offsets.find((o) => o.partition === p)).toMatchObject({ committedOffset: 5 });
    await produce(10, 'w');
    await eventually(() => expect(b.records.length + a.records.length).toBe(60), { timeoutMs: 5000 });
    const seen = [...a.records, ...b.records].map((r) => `${r.partition}:${r.offset}`);
    expect(new Set(seen).size).toBe(60);
  });

  it('commit() commits what was handed out; a new member starts there; autoCommit: false commits nothing on close', async () => {
    await produce(20);
    const c = track(new Consumer({ bootstrap: cluster.bootstrap, groupId: 'm', autoCommit: false, sessionTimeoutMs: 10_000, maxWaitMs: 50 }));
    c.subscribe('t', { from: 'earliest' });
    const got: ConsumerRecord[] = [];
    while (got.length < 20) got.push(...(await c.poll()));
    const committed = await c.commit();
    expect(committed.map((o) => [o.partition, o.offset]).sort((x, y) => x[0]! - y[0]!)).toEqual(Array.from({ length: 10 }, (_, p) => [p, 2]));
    await produce(10, 'w');
    const more: ConsumerRecord[] = [];
    while (more.length < 10) more.push(...(await c.poll()));
    await c.close();
    const offsets = await track(new Admin({ bootstrap: cluster.bootstrap })).listGroupOffsets('m');
    expect(offsets.map((o) => o.committedOffset)).toEqual(Array(10).fill(2));
    expect(offsets.map((o) => o.lag)).toEqual(Array(10).fill(1));
    const next = member('m');
    await eventually(() => expect(next.records.length).toBe(10), { timeoutMs: 5000 });
    expect(next.records.map((r) => r.value?.toString()).sort()).toEqual(more.map((r) => r.value?.toString()).sort());
  });

  it('auto-commits every autoCommitIntervalMs while reading', async () => {
    await produce(10);
    const m = member('auto', { autoCommitIntervalMs: 100 });
    await eventually(() => expect(m.records).toHaveLength(10), { timeoutMs: 5000 });
    const admin = track(new Admin({ bootstrap: cluster.bootstrap }));
    await eventually(async () => expect((await admin.listGroupOffsets('auto')).map((o) => o.lag)).toEqual(Array(10).fill(0)), { timeoutMs: 5000 });
  });

  it('refuses bad group options before anything starts', () => {
    const bootstrap = cluster.bootstrap;
    expect(() => new Consumer({ bootstrap, groupId: '' })).toThrow(/groupId must be 1-255 characters/);
    expect(() => new Consumer({ bootstrap, autoCommit: true })).toThrow(/autoCommit needs a groupId/);
    expect(() => new Consumer({ bootstrap, groupId: 'g', autoCommitIntervalMs: 0 })).toThrow(/autoCommitIntervalMs must be an integer >= 1/);
    expect(() => new Consumer({ bootstrap, groupId: 'g', assignors: ['sticky' as never] })).toThrow(/unknown assignor "sticky"/);
    expect(() => new Consumer({ bootstrap, groupId: 'g', sessionTimeoutMs: 3000, heartbeatIntervalMs: 3000 })).toThrow(/must be below sessionTimeoutMs/);
  });
});
