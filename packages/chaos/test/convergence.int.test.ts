// The convergence check against real processes: a settled cluster's replicas compare equal batch
// by batch over POST /replica-digests; a killed broker shows as a liveness problem; a broker that
// lost its disk (localWipe) copies every replica back and the cluster converges again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '@tributary/client';
import { freeClusterBasePort, localDown, localKill, localRestart, localUp, localWipe } from '@tributary/launcher';
import { tempDir } from '@tributary/testkit';
import { evaluateConvergence, LocalNemesis, takeSnapshot, waitConverged } from '../src/index.ts';

const TOPIC = 'converge';
const PARTITIONS = 2;
const RECORDS = 60;

describe('convergence after faults, on a local cluster', () => {
  const { dir, cleanup } = tempDir('tributary-e2e-');
  let admin: Admin;
  let nemesis: LocalNemesis;

  beforeAll(async () => {
    const basePort = await freeClusterBasePort(3);
    const cluster = await localUp({ dataDir: dir, basePort, brokers: 3, mode: 'detach', readyTimeoutMs: 90_000 });
    const bootstrap = cluster.state.layout.brokers.map((b) => `127.0.0.1:${b.port}`);
    admin = new Admin({ bootstrap, requestTimeoutMs: 5000 });
    nemesis = new LocalNemesis(dir);
    await admin.createTopic({ name: TOPIC, partitions: PARTITIONS, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
    const producer = new Producer({ bootstrap });
    try {
      await Promise.all(Array.from({ length: RECORDS }, (_, i) => producer.send({ topic: TOPIC, partition: i % PARTITIONS, value: `v${i}` })));
    } finally {
      await producer.close();
    }
  });

  afterAll(async () => {
    await admin?.close();
    await localDown(dir, { timeoutMs: 10_000 }).catch(() => undefined);
    cleanup();
  });

  const settle = () => waitConverged({ admin, topic: TOPIC, partitions: PARTITIONS, timeoutMs: 60_000, processes: () => nemesis.processes() });

  it('finds every follower identical to its leader once settled', async () => {
    const result = await settle();
    expect(result.converged, result.why).toBe(true);
    expect(result.partitions.map((p) => p.highWatermark).reduce((a, b) => a + b)).toBe(RECORDS);
    const verdict = evaluateConvergence(result.snapshot);
    expect(verdict.replicasCompared).toBe(PARTITIONS * 2);
    expect(verdict.batchesCompared).toBeGreaterThan(0);
    expect(result.snapshot.processes.map((p) => p.status)).toEqual(['running', 'running', 'running', 'running']);
  });

  it('reports a killed broker as a liveness problem, and converges once it is back', async () => {
    await localKill(dir, '2');
    const snapshot = await takeSnapshot({ admin, topic: TOPIC, timeoutMs: 0, processes: () => nemesis.processes() });
    const details = evaluateConvergence(snapshot)
      .anomalies.filter((a) => a.kind === 'liveness')
      .map((a) => a.detail);
    expect(details).toContain('broker-2 is stopped after the final heal');
    expect(details.some((d) => d.startsWith('broker 2 did not answer for its replicas'))).toBe(true);
    await localRestart(dir, '2', { readyTimeoutMs: 60_000 });
    const result = await settle();
    expect(result.converged, result.why).toBe(true);
  });

  it('converges after a follower lost its disk: it copies every replica back', async () => {
    await localKill(dir, '1');
    localWipe(dir, '1');
    await localRestart(dir, '1', { readyTimeoutMs: 60_000 });
    const result = await settle();
    expect(result.converged, result.why).toBe(true);
    const wiped = result.snapshot.brokers.find((b) => b.brokerId === 1)!;
    expect(wiped.replicas!.map((r) => r.logEndOffset).reduce((a, b) => a + b)).toBe(RECORDS);
  });
});
