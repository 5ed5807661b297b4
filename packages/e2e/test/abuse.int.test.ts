// Issue 16 §4: one request must not stall or exhaust a process. While an acks=all producer runs,
// every route of every process gets oversized, deeply nested, many-tiny-element, truncated, cut
// off, garbage, wrongly typed, trickled (1 byte/s) and silent requests (packages/chaos's abuse
// suite), plus the issue's own attack: six concurrent 60 MB bodies of tiny msgpack maps to one
// broker's /produce (with and without a content-length). Nothing may die, no broker may be fenced, no acknowledged record may be
// lost, and each abusive request gets a clear error or is cut off by the server's timeouts.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLOW_ABUSE_KINDS, abuseRequests, judgeAbuse, localAbuseTargets, runAbuse, sendAbuse, type AbuseOutcome } from '@tributary/chaos';
import { localPause, localResume } from '@tributary/launcher';
import { BROKER_ROUTES, type ClusterMetadata } from '@tributary/protocol';
import { eventually } from '@tributary/testkit';
import { RpcClient } from '@tributary/transport/client';
import { allRunning, checkAcknowledged, readAll, startProducerLoop, startTestCluster, type TestCluster } from '../src/index.ts';

const TOPIC = 'abused';
const PARTITIONS = 10;

describe('abuse of every route of every process (issue 16 §4)', () => {
  let cluster: TestCluster;
  let controller: RpcClient;

  beforeAll(async () => {
    cluster = await startTestCluster();
    controller = new RpcClient({ host: '127.0.0.1', port: cluster.controllerInternalPort });
    await cluster.admin.createTopic({ name: TOPIC, partitions: PARTITIONS, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
  });
  afterAll(async () => {
    await controller?.close();
    await cluster?.stop();
  });

  const metadata = () => controller.call<ClusterMetadata>('/metadata/poll', { sinceVersion: -1, maxWaitMs: 0 }, { timeoutMs: 5000 });

  it('no process dies, no broker is fenced, no acknowledged record is lost, and every request gets a clear refusal', async () => {
    const before = await metadata();
    const epochs = new Map(before.brokers.map((b) => [b.id, b.epoch]));
    expect(before.brokers.every((b) => b.alive)).toBe(true);

    const loop = startProducerLoop({
      bootstrap: cluster.bootstrap,
      topic: TOPIC,
      partitions: Array.from({ length: PARTITIONS }, (_, i) => i),
      inflightMax: 20,
    });
    await eventually(() => loop.acked.length > 200, { timeoutMs: 30_000 });

    // Watch the controller's view all along: a broker fenced even briefly is a failure.
    const fenced = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        try {
          for (const b of (await metadata()).brokers)
            if (!b.alive || b.epoch !== epochs.get(b.id)) fenced.add(`broker ${b.id} alive=${b.alive} epoch=${b.epoch}`);
        } catch (err) {
          fenced.add(`controller did not answer: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    const requests = abuseRequests(localAbuseTargets(cluster.dataDir));
    const slow = requests.filter((r) => SLOW_ABUSE_KINDS.includes(r.kind));
    const fast = requests.filter((r) => !SLOW_ABUSE_KINDS.includes(r.kind));
    // The issue's attack: six concurrent 60 MB bodies of tiny maps to broker 0's /produce, with
    // their content-length, and six more streamed without one (the broker must count as it reads).
    const broker0 = localAbuseTargets(cluster.dataDir).find((t) => t.name === 'broker-0')!;
    const SIXTY_MB = 60 * 1000 * 1000;
    const sixty = Array.from({ length: 12 }, (_, i) =>
      sendAbuse(
        { target: broker0, method: 'POST', path: '/produce', kind: i < 6 ? 'oversized' : 'oversized-chunked' },
        { oversizedBytes: SIXTY_MB, chunkedBytesMax: SIXTY_MB },
      ),
    );
    const [slowOutcomes, fastOutcomes, sixtyOutcomes] = await Promise.all([
      runAbuse(slow, { concurrency: slow.length }),
      runAbuse(fast, { concurrency: 8 }),
      Promise.all(sixty),
    ]);
    const outcomes: AbuseOutcome[] = [...slowOutcomes, ...fastOutcomes, ...sixtyOutcomes];
    expect(outcomes).toHaveLength(requests.length + 12);
    expect(outcomes.map(judgeAbuse).filter((v) => v !== undefined)).toEqual([]);

    // What the refusals said, for the kinds whose answer is fixed on every POST route.
    const posts = (kind: string) => outcomes.filter((o) => o.kind === kind && o.method === 'POST');
    for (const o of [...posts('oversized'), ...sixtyOutcomes]) expect(o, JSON.stringify(o)).toMatchObject({ status: 413, code: 'MESSAGE_TOO_LARGE' });
    for (const o of posts('nested')) expect(o.message, JSON.stringify(o)).toContain('(depthMax)');
    for (const o of posts('truncated'))
      expect(o, JSON.stringify(o)).toMatchObject({ status: 400, code: 'INVALID_REQUEST', message: expect.stringContaining('truncated') });
    const bigBodyRoutes = new Set(
      BROKER_ROUTES.filter((r) => ['/produce', '/fetch', '/replica/fetch', '/list-offsets', '/metadata'].includes(r.path)).map((r) => r.path),
    );
    for (const o of posts('tiny-elements-4mb').filter((x) => x.target !== 'controller' && bigBodyRoutes.has(x.path))) {
      expect(o.message, JSON.stringify(o)).toContain('(elementsMax)');
    }
    for (const o of posts('trickle-body')) expect(o.status, JSON.stringify(o)).toBe(408);

    // The producer kept going through it all, and still does.
    const ackedDuring = loop.acked.length;
    await eventually(() => loop.acked.length > ackedDuring + 200, { timeoutMs: 30_000 });
    watching = false;
    await watcher;
    await loop.stop();

    expect([...fenced]).toEqual([]);
    expect(allRunning(cluster.dataDir)).toBe(true);
    const controllerLog = readFileSync(join(cluster.dataDir, 'logs', 'controller.log'), 'utf8');
    expect(controllerLog).not.toContain('broker session expired');
    expect(loop.failed).toEqual([]);
    const read = await readAll(cluster.bootstrap, TOPIC, PARTITIONS, { expected: loop.acked.length });
    expect(checkAcknowledged(read, loop.acked)).toEqual([]);
  });

  it('a controller stalled past the session timeout (SIGSTOP 5 s) fences no broker when it resumes', async () => {
    const before = await metadata();
    expect(before.brokers.every((b) => b.alive)).toBe(true);
    await localPause(cluster.dataDir, 'controller');
    const pausedAt = Date.now();
    await eventually(() => Date.now() - pausedAt >= 5000, { timeoutMs: 10_000 });
    await localResume(cluster.dataDir, 'controller');
    // Its first session check runs, late, before it reads the heartbeats queued meanwhile: it
    // either fences every broker (their last heartbeats are 5 s old) or sees its own stall.
    const log = join(cluster.dataDir, 'logs', 'controller.log');
    await eventually(() => /controller loop stalled|broker session expired/.test(readFileSync(log, 'utf8')), { timeoutMs: 10_000 });
    expect(readFileSync(log, 'utf8')).not.toContain('broker session expired');
    const after = await metadata();
    expect(after.brokers.map((b) => [b.id, b.alive, b.epoch])).toEqual(before.brokers.map((b) => [b.id, true, b.epoch]));
    expect(readFileSync(log, 'utf8')).toContain('controller loop stalled');
    expect(allRunning(cluster.dataDir)).toBe(true);
  });
});
