// Issue 3: the whole path a user walks, on real processes: placement as the seed's table,
// produce and consume through the client and the CLI, a restart that keeps data, and garbage
// that hurts nobody.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Producer } from '@tributary/client';
import { localRestart } from '@tributary/launcher';
import { MSGPACK_CONTENT_TYPE, decodeMsgpack, encodeBatch, encodeMsgpack } from '@tributary/protocol';
import { eventually } from '@tributary/testkit';
import { SEED_PLACEMENT, allRunning, readAll, startTestCluster, type TestCluster } from '../src/index.ts';

const CLI = fileURLToPath(new URL('../../cli/src/main.ts', import.meta.url));

function cli(cluster: TestCluster, args: string[], input?: string) {
  const result = spawnSync(process.execPath, [CLI, ...args, '--bootstrap', cluster.bootstrap.join(',')], { input, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('a local cluster of seven processes', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('places a 10-partition, RF 3 topic exactly as the seed table, rack-aware', async () => {
    await cluster.admin.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
    const topic = await cluster.admin.describeTopic('demo');
    expect(topic.partitions.map((p) => p.replicas)).toEqual(SEED_PLACEMENT);
    expect(topic.partitions.map((p) => p.leader)).toEqual(SEED_PLACEMENT.map((r) => r[0]));
    const described = await cluster.admin.describeCluster();
    expect(described.brokers.map((b) => [b.id, b.rack, b.alive])).toEqual([
      [0, 'rack-1', true],
      [1, 'rack-1', true],
      [2, 'rack-1', true],
      [3, 'rack-2', true],
      [4, 'rack-2', true],
      [5, 'rack-2', true],
    ]);
  });

  it('gives 10 000 records produced with acks=1 back complete and in order per partition', async () => {
    await cluster.admin.createTopic({ name: 'ten-k', partitions: 10, replicationFactor: 3 });
    const producer = new Producer({ bootstrap: cluster.bootstrap, acks: 1 });
    const acks = await Promise.all(Array.from({ length: 10_000 }, (_, i) => producer.send({ topic: 'ten-k', key: `k${i % 97}`, value: `v${i}` })));
    await producer.close();
    const sentPerPartition = new Map<number, string[]>();
    acks.forEach((ack, i) => {
      const list = sentPerPartition.get(ack.partition) ?? [];
      list.push(`v${i}`);
      sentPerPartition.set(ack.partition, list);
    });
    const read = await readAll(cluster.bootstrap, 'ten-k', 10, { expected: 10_000 });
    for (const [partition, values] of sentPerPartition) {
      const got = read.get(partition) ?? [];
      expect(
        got.map((r) => r.value?.toString()),
        `partition ${partition}`,
      ).toEqual(values);
      expect(got.map((r) => r.offset)).toEqual(values.map((_, i) => i));
    }
  });

  it("keeps a broker's data across a restart", async () => {
    await cluster.admin.createTopic({ name: 'kept', partitions: 1, replicationFactor: 1 });
    const leader = (await cluster.admin.describeTopic('kept')).partitions[0]!.leader;
    const producer = new Producer({ bootstrap: cluster.bootstrap, acks: 1 });
    await Promise.all(Array.from({ length: 500 }, (_, i) => producer.send({ topic: 'kept', partition: 0, value: `r${i}` })));
    await producer.close();
    await localRestart(cluster.dataDir, String(leader));
    await eventually(async () => (await cluster.admin.describeTopic('kept')).partitions[0]!.leader === leader, { timeoutMs: 30_000 });
    const read = await readAll(cluster.bootstrap, 'kept', 1, { expected: 500, idleMs: 10_000 });
    expect(read.get(0)?.map((r) => r.value?.toString())).toEqual(Array.from({ length: 500 }, (_, i) => `r${i}`));
  });

  it('round-trips through the CLI: produce from stdin, consume --max-messages', async () => {
    expect(cli(cluster, ['topics', 'create', 'cli-rt', '--partitions', '3', '--replication-factor', '3']).status).toBe(0);
    const produced = cli(cluster, ['produce', 'cli-rt', '--acks', '1', '--key', 'same'], 'one\ntwo\nthree\n');
    expect(produced.status, produced.stderr).toBe(0);
    expect(produced.stdout).toMatch(/3/);
    const consumed = cli(cluster, ['consume', 'cli-rt', '--from-beginning', '--max-messages', '3', '--timeout-ms', '20000']);
    expect(consumed.status, consumed.stderr).toBe(0);
    expect(consumed.stdout.trim().split('\n')).toEqual(['one', 'two', 'three']);
    const described = cli(cluster, ['topics', 'describe', 'cli-rt', '--json']);
    expect(JSON.parse(described.stdout).partitions).toHaveLength(3);
    const dup = cli(cluster, ['topics', 'create', 'cli-rt', '--partitions', '3', '--replication-factor', '3']);
    expect(dup.status).not.toBe(0);
    expect(dup.stderr).toMatch(/TOPIC_ALREADY_EXISTS/);
    expect(dup.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('answers garbage on every endpoint with an error code, and every process stays up', async () => {
    const brokerRoutes = [
      '/metadata',
      '/produce',
      '/fetch',
      '/list-offsets',
      '/describe-replicas',
      '/admin/create-topic',
      '/admin/delete-topic',
      '/admin/init-producer-id',
      '/admin/elect-leaders',
      '/admin/set-broker-config',
    ];
    const brokerInternalRoutes = ['/replica/fetch', ...brokerRoutes];
    const controllerRoutes = ['/admin/create-topic', '/admin/delete-topic', '/admin/elect-leaders', '/admin/set-broker-config'];
    const controllerInternalRoutes = [
      '/broker/register',
      '/broker/heartbeat',
      '/broker/controlled-shutdown',
      '/metadata/poll',
      '/partition/alter',
      ...controllerRoutes,
    ];
    const bodies: [string, string, Buffer | string][] = [
      ['malformed msgpack', MSGPACK_CONTENT_TYPE, Buffer.from([0xc1, 0xc1, 0xff, 0x00])],
      ['json', 'application/json', '{"topic": "x"}'],
      ['a msgpack string', MSGPACK_CONTENT_TYPE, encodeMsgpack('hello')],
      [
        'wrong types',
        MSGPACK_CONTENT_TYPE,
        encodeMsgpack({ topics: 'all', topic: 42, partitions: 'all', acks: 'yes', name: 42, brokerId: -5, sinceVersion: 'x', maxWaitMs: -1 }),
      ],
      [
        'huge and negative numbers',
        MSGPACK_CONTENT_TYPE,
        encodeMsgpack({
          topics: [-1],
          acks: 1,
          timeoutMs: 1e300,
          maxWaitMs: 10,
          minBytes: 1,
          maxBytes: 1e12,
          partitions: [{ topic: 'demo', partition: 2 ** 40, offset: -7, maxBytes: -1, records: Buffer.from('junk'), timestamp: 'now' }],
        }),
      ],
    ];
    const targets = [
      ...brokerRoutes.map((path) => ({ port: cluster.brokerPorts[0]!, path })),
      ...brokerInternalRoutes.map((path) => ({ port: cluster.brokerInternalPorts[0]!, path })),
      ...controllerRoutes.map((path) => ({ port: cluster.controllerPort, path })),
      ...controllerInternalRoutes.map((path) => ({ port: cluster.controllerInternalPort, path })),
    ];
    // Inter-broker and controller routes are not served on the client listeners at all.
    const internalOnly = [
      { port: cluster.brokerPorts[0]!, path: '/replica/fetch' },
      ...['/broker/register', '/broker/heartbeat', '/broker/controlled-shutdown', '/metadata/poll', '/partition/alter'].map((path) => ({
        port: cluster.controllerPort,
        path,
      })),
    ];
    for (const { port, path } of internalOnly) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { 'content-type': MSGPACK_CONTENT_TYPE },
        body: encodeMsgpack({ brokerId: 1, brokerEpoch: 0, maxWaitMs: 0, partitions: [] }),
      });
      expect(res.status, `${port}${path}`).toBe(404);
    }
    for (const { port, path } of targets) {
      for (const [what, type, body] of bodies) {
        // init-producer-id takes no fields: any map is a valid request.
        if (path === '/admin/init-producer-id' && type === MSGPACK_CONTENT_TYPE && what !== 'malformed msgpack' && what !== 'a msgpack string') continue;
        const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
        expect(res.status, `${what} -> ${port}${path}`).toBeGreaterThanOrEqual(400);
        const answer = decodeMsgpack(Buffer.from(await res.arrayBuffer())) as { code: string; message: string };
        expect(
          ['INVALID_REQUEST', 'MESSAGE_TOO_LARGE', 'UNKNOWN_TOPIC_OR_PARTITION', 'STALE_BROKER_EPOCH'],
          `${what} -> ${path}: ${JSON.stringify(answer)}`,
        ).toContain(answer.code);
        expect(answer.message.length).toBeGreaterThan(0);
      }
    }
    // A corrupt batch and a batch over max.message.bytes, in well-formed requests: per-partition codes, nothing written.
    const good = encodeBatch([{ value: Buffer.from('fine') }]);
    const corrupt = Buffer.from(good);
    corrupt[corrupt.length - 1]! ^= 0xff;
    const tooBig = encodeBatch([{ value: Buffer.alloc(2 * 1024 * 1024) }]);
    const demoLeader = (await cluster.admin.describeTopic('demo')).partitions[0]!.leader;
    const leaderPort = cluster.brokerPorts[demoLeader]!;
    const res = await fetch(`http://127.0.0.1:${leaderPort}/produce`, {
      method: 'POST',
      headers: { 'content-type': MSGPACK_CONTENT_TYPE },
      body: encodeMsgpack({
        acks: 1,
        timeoutMs: 5000,
        partitions: [
          { topic: 'demo', partition: 0, records: corrupt },
          { topic: 'demo', partition: 0, records: tooBig },
          { topic: 'no-such-topic', partition: 0, records: good },
        ],
      }),
    });
    const answer = decodeMsgpack(Buffer.from(await res.arrayBuffer())) as { partitions: { error?: { code: string } }[] };
    expect(answer.partitions.map((p) => p.error?.code)).toEqual(['CORRUPT_MESSAGE', 'MESSAGE_TOO_LARGE', 'UNKNOWN_TOPIC_OR_PARTITION']);
    const offsets = await fetch(`http://127.0.0.1:${leaderPort}/list-offsets`, {
      method: 'POST',
      headers: { 'content-type': MSGPACK_CONTENT_TYPE },
      body: encodeMsgpack({ partitions: [{ topic: 'demo', partition: 0, timestamp: -1 }] }),
    });
    expect((decodeMsgpack(Buffer.from(await offsets.arrayBuffer())) as { partitions: { offset: number }[] }).partitions[0]!.offset).toBe(0);
    expect(allRunning(cluster.dataDir)).toBe(true);
    for (const port of [cluster.controllerPort, cluster.controllerInternalPort, ...cluster.brokerPorts, ...cluster.brokerInternalPorts]) {
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    }
  });
});
