// Issue 20: a secure cluster on real processes (`local up --secure`): TLS on every listener,
// cluster processes authenticated by the cluster CA's certificates, SCRAM users, ACLs.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '@tributary/auth/certs';
import { Admin, Consumer, Producer } from '@tributary/client';
import { secretsDir } from '@tributary/launcher';
import { ADMIN_OPS, type TributaryError, listenerRoutes, type ClusterMetadata, type RouteSpec } from '@tributary/protocol';
import { RpcClient } from '@tributary/transport/client';
import { eventually } from '@tributary/testkit';
import { readAll, startTestCluster, type TestCluster } from '../src/index.ts';

/** A body each route would act on if it let the caller in. */
function bodyFor(path: string): unknown {
  if (path.startsWith('/admin/')) return { name: 'intruder', partitions: 1, replicationFactor: 1, topic: 'demo' };
  if (path === '/broker/register')
    return {
      brokerId: 0,
      rack: 'rack-1',
      incarnationId: 'evil',
      internal: { host: '10.6.6.6', port: 1 },
      external: { host: '10.6.6.6', port: 1 },
      logDirId: 'x',
      clusterId: '',
    };
  if (path === '/metadata/poll') return { sinceVersion: -1, maxWaitMs: 0 };
  return { topic: 'demo', partitions: [], acks: -1, timeoutMs: 1000, key: 'g', groupId: 'g', groupIds: ['g'] };
}

/** Every route of a listener, each admin op spelt out. */
function concrete(routes: readonly RouteSpec[]): RouteSpec[] {
  return routes.flatMap((r) => (r.path === '/admin/:op' ? ADMIN_OPS.map((op) => ({ method: r.method, path: `/admin/${op}` })) : [r]));
}

/** Polls until the consumer throws (a refused fetch surfaces on a following poll, as in Kafka's consumer). */
async function pollError(consumer: Consumer): Promise<TributaryError> {
  for (let i = 0; i < 50; i++) {
    try {
      await consumer.poll();
    } catch (err) {
      return err as TributaryError;
    }
  }
  throw new Error('expected a refusal');
}

async function errorOf(promise: Promise<unknown>): Promise<TributaryError> {
  try {
    await promise;
  } catch (err) {
    return err as TributaryError;
  }
  throw new Error('expected a refusal');
}

describe('secure cluster (local up --secure)', () => {
  let cluster: TestCluster;
  let ca: Buffer;
  const clients: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(c: T): T => {
    clients.push(c);
    return c;
  };
  const bootstrapOf = () => cluster.bootstrap;

  beforeAll(async () => {
    cluster = await startTestCluster({ secure: true });
    ca = readFileSync(join(secretsDir(cluster.dataDir), 'ca.pem'));
    await cluster.admin.createTopic({ name: 'demo', partitions: 3, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await cluster?.stop();
  });

  it('every route of every listener refuses an unauthenticated caller, and nothing changes', async () => {
    const before = await cluster.admin.describeCluster();
    const topicsBefore = (await cluster.admin.listTopics()).sort();
    const listeners: { port: number; routes: RouteSpec[] }[] = [
      { port: cluster.controllerPort, routes: concrete(listenerRoutes('controller', 'external')) },
      { port: cluster.controllerInternalPort, routes: concrete(listenerRoutes('controller', 'internal')) },
      { port: cluster.brokerPorts[0]!, routes: concrete(listenerRoutes('broker', 'external')) },
      { port: cluster.brokerInternalPorts[0]!, routes: concrete(listenerRoutes('broker', 'internal')) },
    ];
    let checked = 0;
    for (const { port, routes } of listeners) {
      const anonymous = track(new RpcClient({ host: '127.0.0.1', port }, { tls: { ca }, timeoutMs: 5000 }));
      for (const route of routes) {
        if (route.path === '/auth/scram') continue; // open: it is how one authenticates
        if (route.method === 'GET') {
          const { status } = await anonymous.getText(route.path);
          expect([401, 403], `GET ${route.path} on ${port}`).toContain(status);
        } else {
          const err = await errorOf(anonymous.call(route.path, bodyFor(route.path)));
          const internal = [
            '/broker/register',
            '/broker/heartbeat',
            '/broker/controlled-shutdown',
            '/metadata/poll',
            '/partition/alter',
            '/replica/fetch',
          ].includes(route.path);
          expect(err.code, `POST ${route.path} on ${port}: ${err.message}`).toBe(internal ? 'UNAUTHORIZED' : 'SASL_AUTHENTICATION_FAILED');
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
    const after = await cluster.admin.describeCluster();
    expect(after.brokers.map((b) => [b.id, b.host, b.port])).toEqual(before.brokers.map((b) => [b.id, b.host, b.port]));
    expect((await cluster.admin.listTopics()).sort()).toEqual(topicsBefore);
  });

  it('a plaintext client against a TLS listener fails with a clear message', async () => {
    const plain = track(new Admin({ bootstrap: bootstrapOf() }));
    const err = await errorOf(plain.listTopics());
    expect(err.message).toMatch(/speaks TLS: connect with https/);
  });

  it("a certificate from another CA is refused (UNAUTHORIZED); a client that does not trust the cluster's CA cannot connect", async () => {
    const otherCa = await createCa('another CA');
    const impostor = await issueCertificate(otherCa, { commonName: 'broker-0', hosts: ['127.0.0.1'] });
    const rogue = track(new RpcClient({ host: '127.0.0.1', port: cluster.controllerInternalPort }, { tls: { ca, cert: impostor.cert, key: impostor.key } }));
    const err = await errorOf(rogue.call('/broker/register', bodyFor('/broker/register')));
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toMatch(/cluster CA/);
    const fetcher = track(new RpcClient({ host: '127.0.0.1', port: cluster.brokerInternalPorts[1]! }, { tls: { ca, cert: impostor.cert, key: impostor.key } }));
    expect((await errorOf(fetcher.call('/replica/fetch', { brokerId: 0, brokerEpoch: 0, partitions: [] }))).code).toBe('UNAUTHORIZED');
    const lost = track(
      new RpcClient({ host: '127.0.0.1', port: cluster.controllerInternalPort }, { tls: { ca: otherCa.cert, cert: impostor.cert, key: impostor.key } }),
    );
    expect((await errorOf(lost.call('/metadata/poll', { sinceVersion: -1, maxWaitMs: 0 }))).message).toMatch(/check --ca/);
    // The real broker 0 is still registered where it was.
    const metadata = (await cluster.admin.describeCluster()).brokers.find((b) => b.id === 0);
    expect(metadata?.alive).toBe(true);
  });

  it("a cluster certificate acts only as its own process: broker-1's cannot register, heartbeat, shut down, alter an ISR or fetch as broker 2; the controller's as no broker; nothing changes", async () => {
    const secrets = secretsDir(cluster.dataDir);
    const tlsOf = (name: string) => ({
      ca,
      cert: readFileSync(join(secrets, `${name}.pem`)),
      key: readFileSync(join(secrets, `${name}-key.pem`)),
    });
    const launcher = track(new RpcClient({ host: '127.0.0.1', port: cluster.controllerInternalPort }, { tls: tlsOf('launcher') }));
    const snapshot = async () => {
      const m = await launcher.call<ClusterMetadata>('/metadata/poll', { sinceVersion: -1, maxWaitMs: 0 });
      return {
        version: m.version,
        brokers: m.brokers.map((b) => ({ ...b })),
        demo: m.topics.find((t) => t.name === 'demo')?.partitions.map((p) => ({ ...p })),
      };
    };
    // /metrics is on the controller's client listener; any principal may read it.
    const metrics = track(new RpcClient({ host: '127.0.0.1', port: cluster.controllerPort }, { tls: tlsOf('launcher') }));
    const metricsText = async () => (await metrics.getText('/metrics')).text;
    const refusals = (text: string) =>
      Number(/tributary_authorization_failures_total\{operation="ClusterAction",resource_type="Cluster"\} (\d+)/.exec(text)?.[1] ?? 0);
    const before = await snapshot();
    const refusedBefore = refusals(await metricsText());
    const broker2 = before.brokers.find((b) => b.id === 2)!;
    const demo0 = before.demo!.find((p) => p.partition === 0)!;

    const asBroker1 = track(new RpcClient({ host: '127.0.0.1', port: cluster.controllerInternalPort }, { tls: tlsOf('broker-1') }));
    const asController = track(new RpcClient({ host: '127.0.0.1', port: cluster.controllerInternalPort }, { tls: tlsOf('controller') }));
    const asOther = track(
      new RpcClient({ host: '127.0.0.1', port: cluster.controllerInternalPort }, { tls: tlsOf(`broker-${(demo0.leader + 1) % before.brokers.length}`) }),
    );
    const impersonations: [RpcClient, string, unknown][] = [
      [asBroker1, '/broker/register', { ...(bodyFor('/broker/register') as object), brokerId: 2 }],
      [asBroker1, '/broker/heartbeat', { brokerId: 2, brokerEpoch: broker2.epoch }],
      [asBroker1, '/broker/controlled-shutdown', { brokerId: 2, brokerEpoch: broker2.epoch }],
      // The leader of demo-0 shrinking its ISR to itself, claimed by another broker's certificate.
      [
        asOther,
        '/partition/alter',
        {
          brokerId: demo0.leader,
          brokerEpoch: before.brokers.find((b) => b.id === demo0.leader)!.epoch,
          topic: 'demo',
          partition: 0,
          leaderEpoch: demo0.leaderEpoch,
          partitionEpoch: demo0.partitionEpoch,
          newIsr: [demo0.leader],
        },
      ],
      [asController, '/broker/register', { ...(bodyFor('/broker/register') as object), brokerId: 0 }],
      [asController, '/broker/heartbeat', { brokerId: 0, brokerEpoch: before.brokers.find((b) => b.id === 0)!.epoch }],
      [asController, '/metadata/poll', { sinceVersion: -1, maxWaitMs: 0 }],
    ];
    for (const [client, path, body] of impersonations) {
      const err = await errorOf(client.call(path, body));
      expect(err.code, `${path}: ${err.message}`).toBe('UNAUTHORIZED');
    }
    // A replica fetch as broker 2, to broker 0's internal listener, with broker-1's certificate.
    const fetcher = track(new RpcClient({ host: '127.0.0.1', port: cluster.brokerInternalPorts[0]! }, { tls: tlsOf('broker-1') }));
    const fetchErr = await errorOf(
      fetcher.call('/replica/fetch', {
        brokerId: 2,
        brokerEpoch: broker2.epoch,
        maxWaitMs: 0,
        maxBytes: 1024,
        partitions: [{ topic: 'demo', partition: 0, fetchOffset: 0, lastFetchedEpoch: -1, currentLeaderEpoch: demo0.leaderEpoch }],
      }),
    );
    expect(fetchErr.code).toBe('UNAUTHORIZED');
    expect(fetchErr.message).toMatch(/broker-1's certificate cannot act as broker 2/);

    // Its own identity still works: broker-1's certificate polls metadata.
    expect((await asBroker1.call<ClusterMetadata>('/metadata/poll', { sinceVersion: -1, maxWaitMs: 0 })).brokers.length).toBe(before.brokers.length);

    // Nothing changed: the same registrations (epochs, addresses, liveness), the same ISRs.
    const after = await snapshot();
    expect(after.brokers).toEqual(before.brokers);
    expect(after.demo).toEqual(before.demo);
    // Logged with the principal, and counted.
    expect(refusals(await metricsText())).toBeGreaterThanOrEqual(refusedBefore + impersonations.length);
    await eventually(() => {
      const log = readFileSync(join(cluster.dataDir, 'logs', 'controller.log'), 'utf8');
      expect(log).toMatch(/"principal":"User:broker-1".*"route":"\/broker\/register".*"brokerId":2.*authorization refused/);
      const brokerLog = readFileSync(join(cluster.dataDir, 'logs', 'broker-0.log'), 'utf8');
      expect(brokerLog).toMatch(/"principal":"User:broker-1".*"route":"\/replica\/fetch".*authorization refused/);
    });
  });

  it('a user without ACLs can neither produce nor consume; Write lets it produce, Read consume', async () => {
    await cluster.admin.upsertUser('alice', 'alice-secret');
    const alice = { bootstrap: bootstrapOf(), ca, credentials: { user: 'alice', password: 'alice-secret' } };
    const wrong = track(new Producer({ ...alice, credentials: { user: 'alice', password: 'nope' }, maxBlockMs: 2000 }));
    expect((await errorOf(wrong.send({ topic: 'demo', value: 'x' }))).code).toBe('SASL_AUTHENTICATION_FAILED');

    const producer = track(new Producer({ ...alice, maxBlockMs: 3000, deliveryTimeoutMs: 5000 }));
    expect((await errorOf(producer.send({ topic: 'demo', value: 'denied' }))).code).toBe('TOPIC_AUTHORIZATION_FAILED');
    const consumer = track(new Consumer({ ...alice, maxWaitMs: 100 }));
    consumer.assign([{ topic: 'demo', partition: 0, offset: 'earliest' }]);
    expect((await pollError(consumer)).code).toBe('TOPIC_AUTHORIZATION_FAILED');

    await cluster.admin.createAcls([
      { principal: 'User:alice', host: '*', operation: 'Write', permission: 'Allow', resourceType: 'Topic', resourceName: 'demo', patternType: 'Literal' },
    ]);
    const allowed = track(new Producer({ ...alice, maxBlockMs: 5000 }));
    await eventually(async () => {
      const sent = await allowed.send({ topic: 'demo', key: 'k', value: 'granted' });
      expect(sent.offset).toBeGreaterThanOrEqual(0);
    });
    // Write is not Read.
    const reader = track(new Consumer({ ...alice, maxWaitMs: 100 }));
    reader.assign([{ topic: 'demo', partition: 0, offset: 'earliest' }]);
    expect((await pollError(reader)).code).toBe('TOPIC_AUTHORIZATION_FAILED');

    await cluster.admin.createAcls([
      { principal: 'User:alice', host: '*', operation: 'Read', permission: 'Allow', resourceType: 'Topic', resourceName: 'demo', patternType: 'Literal' },
    ]);
    await eventually(async () => {
      const read = await readAll(bootstrapOf(), 'demo', 3, { expected: 1, idleMs: 2000, client: { ca, credentials: alice.credentials } });
      expect([...read.values()].flat().map((r) => r.value?.toString())).toContain('granted');
    });

    // Admin operations are the cluster's: alice may not create topics or users.
    const aliceAdmin = track(new Admin(alice));
    expect((await errorOf(aliceAdmin.createTopic({ name: 'alices', partitions: 1, replicationFactor: 1 }))).code).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect((await errorOf(aliceAdmin.upsertUser('mallory', 'x'))).code).toBe('CLUSTER_AUTHORIZATION_FAILED');

    // Refusals are counted in /metrics.
    const metrics = track(
      new RpcClient(
        { host: '127.0.0.1', port: cluster.brokerPorts[0]! },
        {
          tls: { ca },
          authenticator: { authorize: async () => ({ value: `Basic ${Buffer.from(`admin:${cluster.security.credentials!.password}`).toString('base64')}` }) },
        },
      ),
    );
    const text = (await metrics.getText('/metrics')).text;
    expect(text).toMatch(/tributary_authorization_failures_total\{operation="\w+",resource_type="Topic"/);

    // Deleting the user ends its sessions.
    await cluster.admin.deleteUser('alice');
    await eventually(async () => {
      expect((await errorOf(allowed.send({ topic: 'demo', value: 'after delete' }))).code).toMatch(/SASL_AUTHENTICATION_FAILED|TOPIC_AUTHORIZATION_FAILED/);
    });
  });

  // Failover and ISR behaviour in secure mode: every scenario of replication-scenarios.ts runs on a
  // secure cluster too (replication-secure.int.test.ts).
});
