// Issue 21 (scale), on real processes: a broker holding hundreds of partitions is killed with
// kill -9 and every partition gets a leader again, spread over the survivors; restarted, it
// rejoins every ISR (batched AlterPartition, metadata deltas). And a controller restarted after
// metadata snapshots replays to identical metadata.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localKill, localRestart } from '@tributary/launcher';
import { MSGPACK_CONTENT_TYPE, decodeMsgpack, encodeMsgpack, type ClusterMetadata } from '@tributary/protocol';
import { eventually } from '@tributary/testkit';
import { startTestCluster, type TestCluster } from '../src/index.ts';

/** The controller's own metadata, whole, from its broker-facing listener. */
async function controllerMetadata(cluster: TestCluster): Promise<ClusterMetadata> {
  const res = await fetch(`http://127.0.0.1:${cluster.controllerInternalPort}/metadata/poll`, {
    method: 'POST',
    headers: { 'content-type': MSGPACK_CONTENT_TYPE },
    body: encodeMsgpack({ sinceVersion: -1, maxWaitMs: 0 }),
  });
  return decodeMsgpack(Buffer.from(await res.arrayBuffer())) as ClusterMetadata;
}

const PARTITIONS = 1000;

describe('a broker holding a thousand partitions dies and comes back', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('kill -9: every partition gets a leader again, spread over the survivors; restarted, it rejoins every ISR', async () => {
    await cluster.admin.createTopic({ name: 'wide', partitions: PARTITIONS, replicationFactor: 3, configs: { 'min.insync.replicas': 2 }, timeoutMs: 120_000 });
    const before = (await controllerMetadata(cluster)).topics.find((t) => t.name === 'wide')!;
    const victim = 0;
    const led = before.partitions.filter((p) => p.leader === victim).map((p) => p.partition);
    const held = before.partitions.filter((p) => p.replicas.includes(victim)).map((p) => p.partition);
    expect(led.length).toBeGreaterThan(PARTITIONS / 10);
    // Every replica in sync before the kill (each follower fetched once), so the restart's rejoin is the test.
    await eventually(async () => (await controllerMetadata(cluster)).topics.find((t) => t.name === 'wide')!.partitions.every((p) => p.isr.length === 3), {
      timeoutMs: 60_000,
    });

    const killedAt = Date.now();
    await localKill(cluster.dataDir, String(victim));
    const moved = await eventually(
      async () => {
        const wide = (await controllerMetadata(cluster)).topics.find((t) => t.name === 'wide')!;
        return wide.partitions.every((p) => p.leader >= 0 && p.leader !== victim) ? wide : false;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const leadersMovedMs = Date.now() - killedAt;
    const successors = new Map<number, number>();
    for (const p of led) {
      const leader = moved.partitions[p]!.leader;
      successors.set(leader, (successors.get(leader) ?? 0) + 1);
    }
    console.log(`leaders of ${led.length} partitions moved in ${leadersMovedMs} ms, to ${JSON.stringify([...successors])}`);
    // Spread: not all onto one successor (rack-aware placement: the other rack's brokers).
    expect(successors.size).toBeGreaterThanOrEqual(3);

    const restartedAt = Date.now();
    await localRestart(cluster.dataDir, String(victim), { readyTimeoutMs: 60_000 });
    await eventually(
      async () => {
        const wide = (await controllerMetadata(cluster)).topics.find((t) => t.name === 'wide')!;
        return held.every((p) => wide.partitions[p]!.isr.includes(victim));
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    console.log(`broker ${victim} back in the ISR of all ${held.length} partitions it holds ${Date.now() - restartedAt} ms after the restart`);
    // The ISR changes went batched: a few AlterPartition requests for hundreds of partitions.
    const metrics = await (await fetch(`http://127.0.0.1:${cluster.controllerPort}/metrics`)).text();
    const alterRequests = Number(/tributary_controller_requests_total\{route="\/partition\/alter",status="200"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    const isrChanges =
      Number(/tributary_controller_isr_expands_total (\d+)/.exec(metrics)?.[1] ?? 0) +
      Number(/tributary_controller_isr_shrinks_total (\d+)/.exec(metrics)?.[1] ?? 0);
    console.log(`${isrChanges} ISR changes in ${alterRequests} AlterPartition requests`);
    expect(isrChanges).toBeGreaterThanOrEqual(held.length);
    expect(alterRequests * 4).toBeLessThan(isrChanges);
  });
});

describe('a controller restarted after metadata snapshots', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster({ controllerArgs: ['--metadata-snapshot-interval-records', '10'] });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('kill -9 and restart: it loads the snapshot, replays the tail, and serves identical metadata', async () => {
    for (let i = 0; i < 12; i++) await cluster.admin.createTopic({ name: `snap-${i}`, partitions: 1 + (i % 4), replicationFactor: 3 });
    await cluster.admin.deleteTopic('snap-3');
    await cluster.admin.createPartitions('snap-0', 3);
    // Let leaders settle (ISR changes are records too), then take the controller's metadata.
    let before!: ClusterMetadata;
    await eventually(
      async () => {
        const a = await controllerMetadata(cluster);
        await new Promise((r) => setTimeout(r, 1000));
        before = await controllerMetadata(cluster);
        return a.version === before.version;
      },
      { timeoutMs: 30_000 },
    );
    const snapshotDir = join(cluster.dataDir, 'controller', '__cluster_metadata-snapshots');
    expect(existsSync(snapshotDir)).toBe(true);
    const snapshots = readdirSync(snapshotDir).filter((f) => f.endsWith('.snapshot'));
    expect(snapshots.length).toBeGreaterThan(0);

    await localKill(cluster.dataDir, 'controller');
    await localRestart(cluster.dataDir, 'controller', { readyTimeoutMs: 30_000 });
    const after = await eventually(async () => controllerMetadata(cluster).catch(() => false as const), { timeoutMs: 30_000 });
    expect(after).toEqual(before);
    const replayed = readFileSync(join(cluster.dataDir, 'logs', 'controller.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"metadata log replayed"'))
      .map((l) => JSON.parse(l) as { snapshotVersion: number; records: number; metadataVersion: number });
    const last = replayed.at(-1)!;
    expect(last.snapshotVersion).toBeGreaterThan(0);
    expect(last.records).toBe(before.version - last.snapshotVersion);
    // And the cluster goes on: a new topic is created and led.
    await cluster.admin.createTopic({ name: 'after-restart', partitions: 2, replicationFactor: 3 });
  });
});
