// Issue 4: replication and failover on real processes. One cluster, the default 10 s
// replica.lag.time.max.ms and 3 s broker session timeout, one topic per scenario. Every
// scenario leaves all brokers running for the next.
//
// The scenarios are defined once and run twice: replication.int.test.ts on a plaintext cluster,
// replication-secure.int.test.ts on a secure one (issue 20: `local up --secure`, TLS everywhere,
// mutual TLS between the processes, clients as the super user over SCRAM), since failover and
// ISR behaviour must not change with security on.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Consumer, Producer } from '@tributary/client';
import { localKill, localPause, localRestart, localResume, localStatus, localStop } from '@tributary/launcher';
import { LATEST_TIMESTAMP, encodeBatch } from '@tributary/protocol';
import { eventually } from '@tributary/testkit';
import { RpcClient, type RpcClientOptions } from '@tributary/transport/client';
import { checkAcknowledged, partitionInfo, readAll, startProducerLoop, startTestCluster, type TestCluster } from '../src/index.ts';

const SESSION_TIMEOUT_MS = 3000;
const LAG_TIME_MAX_MS = 10_000;

/** Clients for raw calls, by port: over TLS as the super user (HTTP Basic) on a secure cluster. */
const rawClients = new Map<number, RpcClient>();
let rawOptions: RpcClientOptions = {};

function post<T>(port: number, path: string, body: unknown): Promise<T> {
  let client = rawClients.get(port);
  if (client === undefined) {
    client = new RpcClient({ host: '127.0.0.1', port }, rawOptions);
    rawClients.set(port, client);
  }
  return client.call<T>(path, body);
}

/** A partition's log file bytes on one broker, all segments in order. */
function logBytes(cluster: TestCluster, broker: number, topic: string, partition: number): Buffer {
  const dir = join(cluster.dataDir, `broker-${broker}`, `${topic}-${partition}`);
  const segments = readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort();
  return Buffer.concat(segments.map((f) => readFileSync(join(dir, f))));
}

export function replicationScenarios(options: { secure: boolean }): void {
  describe(`replication and failover${options.secure ? ' (secure cluster)' : ''}`, () => {
    let cluster: TestCluster;
    // On a secure cluster CI leaves out the three scenarios whose subject is a timing rule of
    // replication alone (the 10 s lag rule with a paused follower, a throttled follower, the HW
    // bound behind a paused follower): about 40 s that CI's 20-minute budget does not have. They
    // pass there too: TRIBUTARY_E2E_SECURE_ALL=1 runs them.
    const scenario = (name: string, fn: () => Promise<void>) => {
      const timingOnly = /^(2|3|8)\. /.test(name);
      if (options.secure && timingOnly && process.env.TRIBUTARY_E2E_SECURE_ALL !== '1') return;
      it(name, fn);
    };

    beforeAll(async () => {
      cluster = await startTestCluster(options.secure ? { secure: true } : {});
      const { ca, credentials } = cluster.security;
      if (ca !== undefined && credentials !== undefined) {
        const value = `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}`;
        rawOptions = { tls: { ca }, authenticator: { authorize: async () => ({ value }) } };
      }
    });
    afterAll(async () => {
      await Promise.all([...rawClients.values()].map((c) => c.close()));
      await cluster?.stop();
    });
    afterEach(async () => {
      // Bring every broker back for the next scenario.
      for (const p of localStatus(cluster.dataDir).processes) {
        if (p.status === 'paused') await localResume(cluster.dataDir, p.name === 'controller' ? 'controller' : String(p.name.slice('broker-'.length)));
        if (p.status === 'stopped') await localRestart(cluster.dataDir, p.name === 'controller' ? 'controller' : String(p.name.slice('broker-'.length)));
      }
    });

    scenario(
      '1. kill -9 of a leader under acks=all load: an ISR member leads within session timeout + 2 s, epoch +1, no acknowledged record lost or doubled',
      async () => {
        await cluster.admin.createTopic({ name: 'failover', partitions: 3, replicationFactor: 3 });
        const before = await partitionInfo(cluster.admin, 'failover', 0);
        const loop = startProducerLoop({ bootstrap: cluster.bootstrap, topic: 'failover', partitions: [0, 1, 2], producer: cluster.security });
        await eventually(() => loop.acked.length > 500, { timeoutMs: 20_000 });
        const killedAt = Date.now();
        await localKill(cluster.dataDir, String(before.leader));
        const after = await eventually(
          async () => {
            const info = await partitionInfo(cluster.admin, 'failover', 0);
            return info.leader !== before.leader && info.leader !== -1 ? info : false;
          },
          { timeoutMs: 20_000, intervalMs: 50 },
        );
        const electedMs = Date.now() - killedAt;
        expect(electedMs).toBeLessThanOrEqual(SESSION_TIMEOUT_MS + 2000);
        expect(before.isr).toContain(after.leader);
        expect(after.leaderEpoch).toBe(before.leaderEpoch + 1);
        await eventually(() => loop.ackedSince(0, Date.now() - 200).length > 0 || false, { timeoutMs: 20_000 });
        await loop.stop();
        expect(loop.failed).toEqual([]);
        const read = await readAll(cluster.bootstrap, 'failover', 3, { client: cluster.security, expected: loop.acked.length });
        expect(checkAcknowledged(read, loop.acked)).toEqual([]);
      },
    );

    scenario('2. SIGSTOP of a follower: it leaves the ISR after >= 10 s and not before, acks=all goes on; SIGCONT: it catches up and rejoins', async () => {
      await cluster.admin.createTopic({ name: 'paused', partitions: 1, replicationFactor: 3 });
      const info = await partitionInfo(cluster.admin, 'paused', 0);
      const follower = info.replicas[2]!;
      const loop = startProducerLoop({ bootstrap: cluster.bootstrap, topic: 'paused', partitions: [0], inflightMax: 10, producer: cluster.security });
      await eventually(() => loop.acked.length > 100, { timeoutMs: 20_000 });
      const pausedAt = Date.now();
      await localPause(cluster.dataDir, String(follower));
      const shrunk = await eventually(async () => !(await partitionInfo(cluster.admin, 'paused', 0)).isr.includes(follower) || false, {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      expect(shrunk).toBe(true);
      const shrinkMs = Date.now() - pausedAt;
      expect(shrinkMs).toBeGreaterThanOrEqual(LAG_TIME_MAX_MS);
      expect(shrinkMs).toBeLessThan(LAG_TIME_MAX_MS * 2);
      const afterShrink = Date.now();
      await eventually(() => loop.ackedSince(0, afterShrink).length > 50 || false, { timeoutMs: 20_000 });
      await localResume(cluster.dataDir, String(follower));
      await eventually(async () => (await partitionInfo(cluster.admin, 'paused', 0)).isr.includes(follower) || false, { timeoutMs: 30_000 });
      await loop.stop();
      expect(loop.failed).toEqual([]);
      const read = await readAll(cluster.bootstrap, 'paused', 1, { client: cluster.security, expected: loop.acked.length });
      expect(checkAcknowledged(read, loop.acked)).toEqual([]);
    });

    scenario('3. a throttled follower falls behind and leaves the ISR; lifting the throttle brings it back', async () => {
      await cluster.admin.createTopic({ name: 'throttled', partitions: 1, replicationFactor: 3 });
      const info = await partitionInfo(cluster.admin, 'throttled', 0);
      const follower = info.replicas[1]!;
      await cluster.admin.setBrokerConfig(follower, { 'follower.replication.throttled.rate': 2048 });
      // acks=1: an acks=all producer would wait for the slow follower and so never outrun it.
      const loop = startProducerLoop({
        bootstrap: cluster.bootstrap,
        topic: 'throttled',
        partitions: [0],
        inflightMax: 20,
        prefix: 'x'.repeat(200),
        producer: { ...cluster.security, acks: 1, idempotent: false },
      });
      try {
        await eventually(async () => !(await partitionInfo(cluster.admin, 'throttled', 0)).isr.includes(follower) || false, {
          timeoutMs: 40_000,
          intervalMs: 200,
        });
      } finally {
        await loop.stop();
      }
      await cluster.admin.setBrokerConfig(follower, { 'follower.replication.throttled.rate': -1 });
      await eventually(async () => (await partitionInfo(cluster.admin, 'throttled', 0)).isr.includes(follower) || false, { timeoutMs: 40_000 });
      expect(loop.failed).toEqual([]);
    });

    scenario(
      '4. two of three replicas down: acks=all gets NOT_ENOUGH_REPLICAS, acks=1 works, committed data stays readable; back up: acks=all works, ISR full',
      async () => {
        await cluster.admin.createTopic({ name: 'minisr', partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
        const info = await partitionInfo(cluster.admin, 'minisr', 0);
        const strict = new Producer({ bootstrap: cluster.bootstrap, ...cluster.security, acks: 'all', deliveryTimeoutMs: 4000 });
        const loose = new Producer({ bootstrap: cluster.bootstrap, ...cluster.security, acks: 1, idempotent: false, deliveryTimeoutMs: 20_000 });
        try {
          const committed = await Promise.all(Array.from({ length: 100 }, (_, i) => strict.send({ topic: 'minisr', partition: 0, value: `c${i}` })));
          expect(committed.at(-1)!.offset).toBe(99);
          const [f1, f2] = [info.replicas[1]!, info.replicas[2]!];
          await localKill(cluster.dataDir, String(f1));
          await localKill(cluster.dataDir, String(f2));
          // The dead followers leave the ISR by the leader's lag rule (10 s without catching up).
          await eventually(async () => (await partitionInfo(cluster.admin, 'minisr', 0)).isr.length === 1, { timeoutMs: 30_000 });
          await expect(strict.send({ topic: 'minisr', partition: 0, value: 'refused' })).rejects.toMatchObject({ code: 'NOT_ENOUGH_REPLICAS' });
          const loose1 = await loose.send({ topic: 'minisr', partition: 0, value: 'acks1' });
          expect(loose1.offset).toBe(100);
          const read = await readAll(cluster.bootstrap, 'minisr', 1, { client: cluster.security, expected: 100, idleMs: 3000 });
          expect(
            read
              .get(0)!
              .slice(0, 100)
              .map((r) => r.value?.toString()),
          ).toEqual(Array.from({ length: 100 }, (_, i) => `c${i}`));
          await localRestart(cluster.dataDir, String(f1));
          await localRestart(cluster.dataDir, String(f2));
          await eventually(async () => (await partitionInfo(cluster.admin, 'minisr', 0)).isr.length === 3, { timeoutMs: 40_000 });
          const again = await strict.send({ topic: 'minisr', partition: 0, value: 'works-again' });
          expect(again.offset).toBe(101);
        } finally {
          await strict.close().catch(() => undefined);
          await loose.close().catch(() => undefined);
        }
      },
    );

    scenario(
      "5. divergence: a dead leader's unreplicated acks=1 tail is truncated when it returns; its log equals the new leader's byte for byte",
      async () => {
        await cluster.admin.createTopic({ name: 'diverge', partitions: 1, replicationFactor: 3 });
        const info = await partitionInfo(cluster.admin, 'diverge', 0);
        const [oldLeader, f1, f2] = info.replicas as [number, number, number];
        const strict = new Producer({ bootstrap: cluster.bootstrap, ...cluster.security, acks: 'all' });
        await Promise.all(Array.from({ length: 50 }, (_, i) => strict.send({ topic: 'diverge', partition: 0, value: `committed-${i}` })));
        await strict.close();
        // The followers die first (kill -9, so no fetch in flight can bring them the tail), then the
        // leader takes an acks=1 tail that no one else has, then it dies too — all well inside the
        // 10 s lag time, so the ISR still holds all three.
        await localKill(cluster.dataDir, String(f1));
        await localKill(cluster.dataDir, String(f2));
        const loose = new Producer({ bootstrap: [`127.0.0.1:${cluster.brokerPorts[oldLeader]}`], ...cluster.security, acks: 1, idempotent: false });
        const tail = await Promise.all(Array.from({ length: 20 }, (_, i) => loose.send({ topic: 'diverge', partition: 0, value: `doomed-${i}` })));
        await loose.close();
        expect(tail[0]!.offset).toBe(50);
        await localKill(cluster.dataDir, String(oldLeader));
        // Every replica is fenced before any comes back: the partition is offline, its ISR the last
        // members. A follower that restarted sooner would leave the ISR as a new process (KIP-903)
        // and wait for the old leader instead.
        await eventually(async () => (await partitionInfo(cluster.admin, 'diverge', 0)).leader === -1, { timeoutMs: 20_000 });
        await localRestart(cluster.dataDir, String(f1));
        await localRestart(cluster.dataDir, String(f2));
        const newInfo = await eventually(
          async () => {
            const p = await partitionInfo(cluster.admin, 'diverge', 0);
            return p.leader !== oldLeader && p.leader !== -1 ? p : false;
          },
          { timeoutMs: 20_000 },
        );
        expect(newInfo.leaderEpoch).toBeGreaterThan(info.leaderEpoch);
        const after = new Producer({ bootstrap: cluster.bootstrap, ...cluster.security, acks: 'all' });
        const fresh = await Promise.all(Array.from({ length: 30 }, (_, i) => after.send({ topic: 'diverge', partition: 0, value: `new-${i}` })));
        await after.close();
        expect(fresh[0]!.offset).toBe(50);
        await localRestart(cluster.dataDir, String(oldLeader));
        await eventually(
          () => {
            const a = logBytes(cluster, oldLeader, 'diverge', 0);
            const b = logBytes(cluster, newInfo.leader, 'diverge', 0);
            return a.equals(b);
          },
          { timeoutMs: 30_000 },
        );
        const read = await readAll(cluster.bootstrap, 'diverge', 1, { client: cluster.security, expected: 80 });
        const values = read.get(0)!.map((r) => r.value?.toString());
        expect(values.filter((v) => v?.startsWith('doomed'))).toEqual([]);
        expect(values).toHaveLength(80);
      },
    );

    scenario('6. SIGTERM of a leader under acks=all load: controlled shutdown, no produce request fails', async () => {
      await cluster.admin.createTopic({ name: 'graceful', partitions: 3, replicationFactor: 3 });
      const info = await partitionInfo(cluster.admin, 'graceful', 0);
      const loop = startProducerLoop({
        bootstrap: cluster.bootstrap,
        topic: 'graceful',
        partitions: [0, 1, 2],
        producer: { ...cluster.security, deliveryTimeoutMs: 120_000 },
      });
      await eventually(() => loop.acked.length > 300, { timeoutMs: 20_000 });
      await localStop(cluster.dataDir, String(info.leader));
      const stoppedAt = Date.now();
      await eventually(() => loop.ackedSince(0, stoppedAt).length > 50 || false, { timeoutMs: 20_000 });
      await loop.stop();
      expect(loop.failed).toEqual([]);
      const read = await readAll(cluster.bootstrap, 'graceful', 3, { client: cluster.security, expected: loop.acked.length });
      expect(checkAcknowledged(read, loop.acked)).toEqual([]);
    });

    scenario('7. kill -9 of the controller under load: producing and consuming go on; restarted, it elects again', async () => {
      await cluster.admin.createTopic({ name: 'headless', partitions: 2, replicationFactor: 3 });
      const loop = startProducerLoop({ bootstrap: cluster.bootstrap, topic: 'headless', partitions: [0, 1], producer: cluster.security });
      await eventually(() => loop.acked.length > 200, { timeoutMs: 20_000 });
      await localKill(cluster.dataDir, 'controller');
      const killedAt = Date.now();
      await eventually(() => loop.ackedSince(0, killedAt).length > 200 && loop.ackedSince(1, killedAt).length > 200, { timeoutMs: 20_000 });
      const midway = await readAll(cluster.bootstrap, 'headless', 2, { client: cluster.security, expected: 201, idleMs: 5000 });
      expect([...midway.values()].flat().length).toBeGreaterThan(200);
      await localRestart(cluster.dataDir, 'controller');
      const info = await partitionInfo(cluster.admin, 'headless', 0);
      await localKill(cluster.dataDir, String(info.leader));
      await eventually(
        async () => {
          const p = await partitionInfo(cluster.admin, 'headless', 0);
          return p.leader !== info.leader && p.leader !== -1;
        },
        { timeoutMs: 20_000 },
      );
      await loop.stop();
      expect(loop.failed).toEqual([]);
      const read = await readAll(cluster.bootstrap, 'headless', 2, { client: cluster.security, expected: loop.acked.length });
      expect(checkAcknowledged(read, loop.acked)).toEqual([]);
    });

    scenario('8. consumers never see past the high watermark (a paused follower stalls it)', async () => {
      await cluster.admin.createTopic({ name: 'hw', partitions: 1, replicationFactor: 3 });
      const info = await partitionInfo(cluster.admin, 'hw', 0);
      const strict = new Producer({ bootstrap: cluster.bootstrap, ...cluster.security, acks: 'all' });
      await Promise.all(Array.from({ length: 10 }, (_, i) => strict.send({ topic: 'hw', partition: 0, value: `c${i}` })));
      await strict.close();
      await localPause(cluster.dataDir, String(info.replicas[2]));
      const pausedAt = Date.now();
      const loose = new Producer({ bootstrap: cluster.bootstrap, ...cluster.security, acks: 1, idempotent: false });
      await Promise.all(Array.from({ length: 10 }, (_, i) => loose.send({ topic: 'hw', partition: 0, value: `u${i}` })));
      await loose.close();
      const leaderPort = cluster.brokerPorts[info.leader]!;
      const offsets = await post<{ partitions: { offset: number }[] }>(leaderPort, '/list-offsets', {
        partitions: [{ topic: 'hw', partition: 0, timestamp: LATEST_TIMESTAMP }],
      });
      expect(offsets.partitions[0]!.offset).toBe(10);
      const consumer = new Consumer({ bootstrap: cluster.bootstrap, ...cluster.security, maxWaitMs: 200 });
      consumer.assign([{ topic: 'hw', partition: 0, offset: 'earliest' }]);
      const seen: string[] = [];
      while (Date.now() - pausedAt < LAG_TIME_MAX_MS - 3000) {
        for (const r of await consumer.poll()) seen.push(r.value!.toString());
      }
      expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`));
      // Once the paused follower leaves the ISR, the HW moves and the records become visible.
      await eventually(
        async () => {
          for (const r of await consumer.poll()) seen.push(r.value!.toString());
          return seen.length === 20;
        },
        { timeoutMs: 20_000, intervalMs: 10 },
      );
      await consumer.close();
    });

    scenario('9. a produce retried after a lost response is not written twice', async () => {
      await cluster.admin.createTopic({ name: 'retried', partitions: 1, replicationFactor: 3 });
      const info = await partitionInfo(cluster.admin, 'retried', 0);
      const port = cluster.brokerPorts[info.leader]!;
      const { producerId, producerEpoch } = await post<{ producerId: number; producerEpoch: number }>(port, '/admin/init-producer-id', {});
      const batch = (seq: number, value: string) => encodeBatch([{ value: Buffer.from(value) }], { producerId, producerEpoch, baseSequence: seq });
      const request = { acks: -1, timeoutMs: 10_000, partitions: [{ topic: 'retried', partition: 0, records: batch(0, 'once') }] };
      type Answer = { partitions: { baseOffset: number; error?: { code: string } }[] };
      const first = await post<Answer>(port, '/produce', request);
      // The client never saw `first` (lost response) and sends the very same bytes again.
      const retry = await post<Answer>(port, '/produce', request);
      expect(first.partitions[0]).toMatchObject({ baseOffset: 0 });
      expect(retry.partitions[0]).toMatchObject({ baseOffset: 0 });
      expect(retry.partitions[0]!.error).toBeUndefined();
      const gap = await post<Answer>(port, '/produce', { ...request, partitions: [{ topic: 'retried', partition: 0, records: batch(5, 'gap') }] });
      expect(gap.partitions[0]!.error?.code).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
      const next = await post<Answer>(port, '/produce', { ...request, partitions: [{ topic: 'retried', partition: 0, records: batch(1, 'twice') }] });
      expect(next.partitions[0]).toMatchObject({ baseOffset: 1 });
      const read = await readAll(cluster.bootstrap, 'retried', 1, { client: cluster.security, expected: 2 });
      expect(read.get(0)!.map((r) => r.value?.toString())).toEqual(['once', 'twice']);
      // A new leader knows the producer's sequences too (rebuilt from the log).
      await localKill(cluster.dataDir, String(info.leader));
      const moved = await eventually(
        async () => {
          const p = await partitionInfo(cluster.admin, 'retried', 0);
          return p.leader !== info.leader && p.leader !== -1 ? p : false;
        },
        { timeoutMs: 20_000 },
      );
      const again = await post<Answer>(cluster.brokerPorts[moved.leader]!, '/produce', {
        ...request,
        partitions: [{ topic: 'retried', partition: 0, records: batch(1, 'twice') }],
      });
      expect(again.partitions[0], JSON.stringify(again)).toMatchObject({ baseOffset: 1 });
    });

    scenario('10. a consumer in rack-2 reads from an in-sync replica in its rack', async () => {
      await cluster.admin.createTopic({ name: 'racked', partitions: 1, replicationFactor: 3 });
      const info = await partitionInfo(cluster.admin, 'racked', 0);
      const strict = new Producer({ bootstrap: cluster.bootstrap, ...cluster.security, acks: 'all' });
      await Promise.all(Array.from({ length: 20 }, (_, i) => strict.send({ topic: 'racked', partition: 0, value: `r${i}` })));
      await strict.close();
      const racks = (await cluster.admin.describeCluster()).brokers;
      const leaderRack = racks.find((b) => b.id === info.leader)!.rack;
      const otherRack = leaderRack === 'rack-1' ? 'rack-2' : 'rack-1';
      const leaderBefore = await post<{ partitions: { preferredReadReplica?: number }[] }>(cluster.brokerPorts[info.leader]!, '/fetch', {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        rack: otherRack,
        partitions: [{ topic: 'racked', partition: 0, offset: 0, maxBytes: 1 << 20 }],
      });
      const preferred = leaderBefore.partitions[0]!.preferredReadReplica;
      expect(preferred).toBeDefined();
      expect(racks.find((b) => b.id === preferred)!.rack).toBe(otherRack);
      const read = await readAll(cluster.bootstrap, 'racked', 1, { client: cluster.security, expected: 20, rack: otherRack });
      expect(read.get(0)!.map((r) => r.value?.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`));
    });
  });
}
