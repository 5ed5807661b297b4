import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import {
  CONTROLLER_ROUTES,
  listenerRoutes,
  MSGPACK_CONTENT_TYPE,
  decodeMsgpack,
  encodeMsgpack,
  type ClusterMetadata,
  type HealthResponse,
  type RegisterBrokerResponse,
  type WireError,
} from '@tributary/protocol';
import { FakeClock } from '@tributary/testkit';
import { registeredRoutes } from '@tributary/transport/server';
import { ClusterController } from './cluster-controller.ts';
import { createControllerService, type ControllerService } from './controller-service.ts';
import { SEED_BROKERS, registration } from './internal/fixtures.ts';
import { MemoryMetadataLog } from './metadata-log.ts';

const logger = pino({ level: 'silent' });

interface Harness {
  clock: FakeClock;
  controller: ClusterController;
  service: ControllerService;
  call<T = unknown>(url: string, body?: unknown): Promise<{ status: number; body: T }>;
}

let open: Harness[] = [];

function harness(options: { pollWaitMaxMs?: number } = {}): Harness {
  const clock = new FakeClock();
  let n = 0;
  const controller = new ClusterController({
    log: new MemoryMetadataLog(),
    logger,
    now: clock.now,
    newId: () => `id-${n++}`,
    clusterId: 'svc-test',
    sessionTimeoutMs: 3000,
    autoLeaderRebalanceEnable: true,
  });
  const service = createControllerService({ controller, logger, ...options });
  const h: Harness = {
    clock,
    controller,
    service,
    async call<T>(url: string, body?: unknown) {
      const res = await service.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': MSGPACK_CONTENT_TYPE },
        payload: body === undefined ? Buffer.alloc(0) : encodeMsgpack(body),
      });
      expect(res.headers['content-type']).toContain(MSGPACK_CONTENT_TYPE);
      return { status: res.statusCode, body: decodeMsgpack(res.rawPayload) as T };
    },
  };
  open.push(h);
  return h;
}

afterEach(async () => {
  for (const h of open) {
    await h.service.close();
    h.controller.close();
  }
  open = [];
});

async function registerSeed(h: Harness): Promise<Map<number, number>> {
  const epochs = new Map<number, number>();
  for (const [id, rack] of SEED_BROKERS) {
    const res = await h.call<RegisterBrokerResponse>('/broker/register', registration(id, rack));
    expect(res.status).toBe(200);
    epochs.set(id, res.body.brokerEpoch);
  }
  return epochs;
}

const ROUTES = [
  '/broker/register',
  '/broker/heartbeat',
  '/broker/controlled-shutdown',
  '/metadata/poll',
  '/partition/alter',
  '/admin/create-topic',
  '/admin/delete-topic',
  '/admin/elect-leaders',
  '/admin/set-broker-config',
];

const GARBAGE: [string, unknown][] = [
  ['a number', 42],
  ['a string', 'hello'],
  ['an array', [1, 2, 3]],
  ['binary', Buffer.from([1, 2, 3])],
  ['null', null],
  [
    'wrong field types',
    {
      brokerId: 'zero',
      brokerEpoch: -5,
      topic: 7,
      name: ['x'],
      partitions: 'ten',
      sinceVersion: 'x',
      maxWaitMs: -1,
      newIsr: 'all',
      configs: 5,
      rack: 3,
      incarnationId: '',
      internal: 'x',
    },
  ],
  [
    'a produce request',
    {
      acks: 1,
      timeoutMs: 1e300,
      maxWaitMs: 10,
      minBytes: 1,
      maxBytes: 1e12,
      partitions: [{ topic: 'seed', partition: 2 ** 40, offset: -7, maxBytes: -1, records: Buffer.from('junk'), timestamp: 'now' }],
    },
  ],
  ['an empty map', {}],
  [
    'huge numbers',
    {
      brokerId: 2 ** 60,
      brokerEpoch: 1e300,
      partition: -1,
      leaderEpoch: 1.5,
      partitionEpoch: 0,
      newIsr: [1e20],
      partitions: [-1],
      topic: 't',
      sinceVersion: 2 ** 60,
    },
  ],
];

describe('ControllerService', () => {
  it('registers exactly the routes protocol lists in CONTROLLER_ROUTES (the abuse suite walks that table)', () => {
    const h = harness();
    expect(
      registeredRoutes(h.service.app)
        .map((r) => `${r.method} ${r.url}`)
        .sort(),
    ).toEqual(CONTROLLER_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('with an internal listener, each app registers exactly its listenerRoutes', async () => {
    const service = createControllerService({ controller: harness().controller, logger, internalListener: true });
    try {
      const routes = (app: typeof service.app) =>
        registeredRoutes(app)
          .map((r) => `${r.method} ${r.url}`)
          .sort();
      const listed = (listener: 'internal' | 'external') =>
        listenerRoutes('controller', listener)
          .map((r) => `${r.method} ${r.path}`)
          .sort();
      expect(routes(service.app)).toEqual(listed('external'));
      expect(routes(service.internalApp!)).toEqual(listed('internal'));
      expect(listed('external')).not.toContain('POST /broker/register');
      expect(listed('internal')).toEqual([
        'GET /health',
        'POST /admin/:op',
        'POST /auth/scram',
        'POST /broker/controlled-shutdown',
        'POST /broker/heartbeat',
        'POST /broker/register',
        'POST /metadata/poll',
        'POST /partition/alter',
      ]);
    } finally {
      await service.close();
    }
  });

  it('answers health and metrics', async () => {
    const h = harness();
    const health = await h.service.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(decodeMsgpack(health.rawPayload) as HealthResponse).toEqual({ status: 'ok', role: 'controller', metadataVersion: 1 });
    const metrics = await h.service.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    // Plain Prometheus text, not a msgpack string: the first byte is the '#' of '# HELP'.
    expect(metrics.payload.startsWith('# HELP ')).toBe(true);
    expect(metrics.payload).toContain('tributary_active_controller_count 1');
    expect(metrics.payload).toContain('tributary_metadata_version 1');
    expect(metrics.payload).toContain('tributary_offline_partitions_count 0');
    expect(metrics.payload).toContain('tributary_fenced_broker_count 0');
    expect(metrics.payload).toContain('tributary_controller_process_cpu_user_seconds_total');
    expect(metrics.payload).toContain('tributary_cluster_under_replicated_partitions 0');
    // The request limits' state and the controller's own stalls (not counted against sessions).
    expect(metrics.payload).toContain('tributary_controller_request_bytes_in_flight 0');
    expect(metrics.payload).toContain('tributary_controller_requests_waiting_for_bytes 0');
    expect(metrics.payload).toContain('tributary_controller_connections_refused_total 0');
    expect(metrics.payload).toContain('tributary_controller_stalled_seconds_total 0');
  });

  it.each(ROUTES.flatMap((route) => GARBAGE.map(([what, body]) => [route, what, body] as const)))(
    '%s refuses %s with INVALID_REQUEST',
    async (route, _what, body) => {
      const h = harness();
      const res = await h.call<WireError>(route, body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('INVALID_REQUEST');
    },
  );

  it.each(ROUTES)('%s refuses bytes that are not msgpack, and other content types', async (route) => {
    const h = harness();
    const bad = await h.service.app.inject({
      method: 'POST',
      url: route,
      headers: { 'content-type': MSGPACK_CONTENT_TYPE },
      payload: Buffer.from([0xc1, 0xff, 0x00]),
    });
    expect(bad.statusCode).toBe(400);
    expect((decodeMsgpack(bad.rawPayload) as WireError).code).toBe('INVALID_REQUEST');
    const json = await h.service.app.inject({ method: 'POST', url: route, headers: { 'content-type': 'application/json' }, payload: '{}' });
    expect(json.statusCode).toBe(400);
    const empty = await h.call<WireError>(route);
    expect(empty.body.code).toBe('INVALID_REQUEST');
  });

  it('refuses an unknown admin operation', async () => {
    const h = harness();
    const res = await h.call<WireError>('/admin/reassign-partitions', {});
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_REQUEST');
  });

  it('registers brokers, creates a topic placed as the seed table, and publishes it', async () => {
    const h = harness();
    await registerSeed(h);
    const created = await h.call<{ topic: { partitions: { replicas: number[]; leader: number; isr: number[] }[] } }>('/admin/create-topic', {
      name: 'demo',
      partitions: 10,
      replicationFactor: 3,
      configs: { 'min.insync.replicas': '2' },
    });
    expect(created.status).toBe(200);
    expect(created.body.topic.partitions.map((p) => p.replicas)).toEqual([
      [0, 3, 1],
      [3, 1, 4],
      [1, 4, 2],
      [4, 2, 5],
      [2, 5, 0],
      [5, 0, 3],
      [0, 3, 1],
      [3, 1, 4],
      [1, 4, 2],
      [4, 2, 5],
    ]);
    const poll = await h.call<ClusterMetadata>('/metadata/poll', { sinceVersion: 0, maxWaitMs: 0 });
    expect(poll.body.clusterId).toBe('svc-test');
    expect(poll.body.brokers.map((b) => [b.id, b.rack, b.alive])).toEqual([
      [0, 'rack-1', true],
      [1, 'rack-1', true],
      [2, 'rack-1', true],
      [3, 'rack-2', true],
      [4, 'rack-2', true],
      [5, 'rack-2', true],
    ]);
    expect(poll.body.topics[0]!.partitions[5]).toEqual({
      topic: 'demo',
      partition: 5,
      replicas: [5, 0, 3],
      addingReplicas: [],
      removingReplicas: [],
      leader: 5,
      leaderEpoch: 0,
      partitionEpoch: 0,
      isr: [5, 0, 3],
    });
  });

  it.each([
    [{ name: 'bad/name', partitions: 1, replicationFactor: 1 }, 400, 'INVALID_TOPIC'],
    [{ name: 'x', partitions: 0, replicationFactor: 1 }, 400, 'INVALID_PARTITIONS'],
    [{ name: 'x', partitions: 10_001, replicationFactor: 1 }, 400, 'INVALID_PARTITIONS'],
    [{ name: 'x', partitions: 1, replicationFactor: 7 }, 400, 'INVALID_REPLICATION_FACTOR'],
    [{ name: 'x', partitions: 1, replicationFactor: 1, configs: { 'no.such': 1 } }, 400, 'INVALID_CONFIG'],
    [{ name: 'x', partitions: 1, replicationFactor: 1, configs: { 'min.insync.replicas': 0 } }, 400, 'INVALID_CONFIG'],
    [{ name: 'x', partitions: 1, replicationFactor: 1, configs: { 'min.insync.replicas': { a: 1 } } }, 400, 'INVALID_REQUEST'],
  ])('create-topic %j -> %s %s', async (body, status, code) => {
    const h = harness();
    await registerSeed(h);
    const res = await h.call<WireError>('/admin/create-topic', body);
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
  });

  it('refuses a duplicate topic and deletes topics', async () => {
    const h = harness();
    await registerSeed(h);
    expect((await h.call('/admin/create-topic', { name: 't', partitions: 1, replicationFactor: 1 })).status).toBe(200);
    expect((await h.call<WireError>('/admin/create-topic', { name: 't', partitions: 1, replicationFactor: 1 })).body.code).toBe('TOPIC_ALREADY_EXISTS');
    expect((await h.call('/admin/delete-topic', { name: 't' })).status).toBe(200);
    const missing = await h.call<WireError>('/admin/delete-topic', { name: 't' });
    expect([missing.status, missing.body.code]).toEqual([404, 'UNKNOWN_TOPIC_OR_PARTITION']);
  });

  it('validateOnly makes every check of a creation and answers the topic it would make, creating nothing', async () => {
    const h = harness();
    await registerSeed(h);
    const before = h.controller.version;
    const checked = await h.call<{ topic: { name: string; partitions: { replicas: number[] }[] } }>('/admin/create-topic', {
      name: 'v',
      partitions: 4,
      replicationFactor: 3,
      validateOnly: true,
    });
    expect(checked.status).toBe(200);
    expect(checked.body.topic.partitions.map((p) => p.replicas.length)).toEqual([3, 3, 3, 3]);
    expect(h.controller.version).toBe(before);
    expect((await h.call<WireError>('/admin/delete-topic', { name: 'v' })).body.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    // The same refusals as a creation.
    const tooMany = await h.call<WireError>('/admin/create-topic', { name: 'v', partitions: 1, replicationFactor: 7, validateOnly: true });
    expect(tooMany.body.code).toBe('INVALID_REPLICATION_FACTOR');
    expect((await h.call('/admin/create-topic', { name: 't', partitions: 1, replicationFactor: 1 })).status).toBe(200);
    const taken = await h.call<WireError>('/admin/create-topic', { name: 't', partitions: 1, replicationFactor: 1, validateOnly: true });
    expect(taken.body.code).toBe('TOPIC_ALREADY_EXISTS');
  });

  it('heartbeats answer the metadata version; stale epochs are refused', async () => {
    const h = harness();
    const epochs = await registerSeed(h);
    const ok = await h.call<{ metadataVersion: number }>('/broker/heartbeat', { brokerId: 0, brokerEpoch: epochs.get(0) });
    expect(ok.body).toEqual({ metadataVersion: h.controller.version });
    const stale = await h.call<WireError>('/broker/heartbeat', { brokerId: 0, brokerEpoch: 9 });
    expect([stale.status, stale.body.code]).toEqual([409, 'STALE_BROKER_EPOCH']);
    const unknown = await h.call<WireError>('/broker/heartbeat', { brokerId: 42, brokerEpoch: 0 });
    expect(unknown.body.code).toBe('STALE_BROKER_EPOCH');
  });

  it('a metadata poll waits for a change and is woken by it', async () => {
    const h = harness();
    const version = h.controller.version;
    const pending = h.call<ClusterMetadata>('/metadata/poll', { sinceVersion: version, maxWaitMs: 20_000 });
    await new Promise((r) => setImmediate(r));
    while (h.service.waitingPolls() === 0) await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    await h.call('/broker/register', registration(0, 'rack-1'));
    const res = await pending;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.body.version).toBeGreaterThan(version);
    expect(res.body.brokers.map((b) => b.id)).toEqual([0]);
    expect(h.service.waitingPolls()).toBe(0);
  });

  it('a metadata poll answers at once when behind, and with the same version after its wait', async () => {
    const h = harness({ pollWaitMaxMs: 50 });
    const behind = await h.call<ClusterMetadata>('/metadata/poll', { sinceVersion: 0, maxWaitMs: 60_000 });
    expect(behind.body.version).toBe(1);
    const waited = await h.call<ClusterMetadata>('/metadata/poll', { sinceVersion: 1, maxWaitMs: 60_000 });
    expect(waited.body.version).toBe(1);
  });

  it('close() answers waiting polls', async () => {
    const h = harness();
    const pending = h.call<ClusterMetadata>('/metadata/poll', { sinceVersion: 1, maxWaitMs: 30_000 });
    while (h.service.waitingPolls() === 0) await new Promise((r) => setTimeout(r, 5));
    await h.service.close();
    expect((await pending).body.version).toBe(1);
  });

  it('hands out producer ids, elects leaders and sets broker configs', async () => {
    const h = harness();
    await registerSeed(h);
    const a = await h.call<{ producerId: number; producerEpoch: number }>('/admin/init-producer-id', {});
    const b = await h.call<{ producerId: number; producerEpoch: number }>('/admin/init-producer-id');
    expect([a.body, b.body]).toEqual([
      { producerId: 0, producerEpoch: 0 },
      { producerId: 1, producerEpoch: 0 },
    ]);
    await h.call('/admin/create-topic', { name: 't', partitions: 2, replicationFactor: 3 });
    const elected = await h.call('/admin/elect-leaders', { topic: 't' });
    expect(elected.body).toEqual({ elected: [] });
    expect((await h.call<WireError>('/admin/elect-leaders', { topic: 't', partitions: [5] })).body.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect((await h.call('/admin/set-broker-config', { brokerId: 1, configs: { 'follower.replication.throttled.rate': 1024 } })).status).toBe(200);
    expect(h.controller.metadata().brokers[1]!.configs).toEqual({ 'follower.replication.throttled.rate': 1024 });
    expect((await h.call<WireError>('/admin/set-broker-config', { brokerId: 1, configs: { 'log.retention.ms': 5 } })).body.code).toBe('INVALID_CONFIG');
    expect((await h.call<WireError>('/admin/set-broker-config', { brokerId: 1, configs: { 'follower.replication.throttled.rate': 0 } })).body.code).toBe(
      'INVALID_CONFIG',
    );
  });

  it('reassignments, new partitions and configs through the admin routes; malformed bodies change nothing', async () => {
    const h = harness();
    await registerSeed(h);
    await h.call('/admin/create-topic', { name: 'demo', partitions: 2, replicationFactor: 3 }); // [0,3,1], [3,1,4]
    const altered = await h.call<{ partitions: { topic: string; partition: number; error?: WireError }[] }>('/admin/alter-partition-reassignments', {
      partitions: [
        { topic: 'demo', partition: 0, replicas: [5, 3, 1] },
        { topic: 'demo', partition: 1, replicas: [3, 1, 99] },
      ],
    });
    expect(altered.status).toBe(200);
    expect(altered.body.partitions.map((p) => [p.partition, p.error?.code])).toEqual([
      [0, undefined],
      [1, 'INVALID_REPLICA_ASSIGNMENT'],
    ]);
    const listed = await h.call('/admin/list-partition-reassignments', {});
    expect(listed.body).toEqual({ reassignments: [{ topic: 'demo', partition: 0, replicas: [5, 3, 1, 0], addingReplicas: [5], removingReplicas: [0] }] });
    expect((await h.call('/admin/list-partition-reassignments', { topics: ['other'] })).body).toEqual({ reassignments: [] });
    let metrics = (await h.service.app.inject({ method: 'GET', url: '/metrics' })).payload;
    expect(metrics).toContain('tributary_reassigning_partitions 1');
    const cancelled = await h.call<{ partitions: { error?: WireError }[] }>('/admin/alter-partition-reassignments', {
      partitions: [{ topic: 'demo', partition: 0, replicas: null }],
    });
    expect(cancelled.body.partitions[0]!.error).toBeUndefined();
    metrics = (await h.service.app.inject({ method: 'GET', url: '/metrics' })).payload;
    expect(metrics).toContain('tributary_reassigning_partitions 0');

    const grown = await h.call<{ partitions: { partition: number }[] }>('/admin/create-partitions', { topic: 'demo', totalCount: 3 });
    expect(grown.body.partitions.map((p) => p.partition)).toEqual([2]);
    expect((await h.call<WireError>('/admin/create-partitions', { topic: 'demo', totalCount: 1 })).body.code).toBe('INVALID_PARTITIONS');

    const set = await h.call<{ configs: { name: string; value: unknown }[] }>('/admin/alter-configs', {
      resource: { topic: 'demo' },
      set: { 'retention.ms': '1000' },
    });
    expect(set.body.configs.find((c) => c.name === 'retention.ms')!.value).toBe(1000);
    const described = await h.call<{ resource: unknown; configs: unknown[] }>('/admin/describe-configs', { resource: { broker: 2 } });
    expect(described.body.resource).toEqual({ broker: 2 });
    expect((await h.call('/admin/alter-configs', { resource: { broker: 2 }, set: { 'leader.replication.throttled.rate': 4096 } })).status).toBe(200);
    expect(h.controller.metadata().brokers[2]!.configs).toEqual({ 'leader.replication.throttled.rate': 4096 });

    const version = h.controller.version;
    for (const [op, body] of [
      ['alter-partition-reassignments', { partitions: [{ topic: 'demo', partition: 0, replicas: ['a'] }] }],
      ['alter-partition-reassignments', { partitions: [{ topic: 'demo', partition: -1, replicas: [1] }] }],
      ['alter-partition-reassignments', {}],
      ['create-partitions', { topic: 'demo', totalCount: '4' }],
      ['describe-configs', { resource: { topic: 'demo', broker: 1 } }],
      ['describe-configs', { resource: {} }],
      ['alter-configs', { resource: { topic: 'demo' }, set: { 'retention.ms': [1] } }],
      ['alter-configs', { resource: { topic: 'demo' }, delete: 'retention.ms' }],
      ['list-partition-reassignments', { topics: [1] }],
    ] as const) {
      const res = await h.call<WireError>(`/admin/${op}`, body);
      expect([op, res.status, res.body.code]).toEqual([op, 400, 'INVALID_REQUEST']);
    }
    expect(h.controller.version).toBe(version);
  });

  it('AlterPartition through the route: batched, refusals per partition, success, one append, and the ISR counters', async () => {
    const h = harness();
    const epochs = await registerSeed(h);
    await h.call('/admin/create-topic', { name: 'demo', partitions: 7, replicationFactor: 3 }); // P0 and P6 [0,3,1], led by B0
    type Answer = { partitions: { topic: string; partition: number; state?: { isr: number[]; partitionEpoch: number }; error?: WireError }[] };
    const item = { topic: 'demo', partition: 0, leaderEpoch: 0, partitionEpoch: 0 };
    const alter = (brokerId: number, partitions: object[]) => h.call<Answer>('/partition/alter', { brokerId, brokerEpoch: epochs.get(brokerId), partitions });
    const notLeader = await alter(3, [{ ...item, newIsr: [3] }]);
    expect([notLeader.status, notLeader.body.partitions[0]!.error?.code]).toEqual([200, 'FENCED_LEADER_EPOCH']);
    const stale = await h.call<WireError>('/partition/alter', { brokerId: 0, brokerEpoch: 7, partitions: [{ ...item, newIsr: [0, 3] }] });
    expect([stale.status, stale.body.code]).toEqual([409, 'STALE_BROKER_EPOCH']);
    const version = h.controller.version;
    // Two shrinks, one refusal (B0 does not lead P1), one partition named twice: one metadata append.
    const shrunk = await alter(0, [
      { ...item, newIsr: [0, 3] },
      { ...item, partition: 6, newIsr: [0, 1] },
      { ...item, partition: 1, newIsr: [0, 3] },
      { ...item, newIsr: [0, 1] },
    ]);
    expect(shrunk.body.partitions.map((p) => [p.partition, p.state?.isr ?? p.error?.code])).toEqual([
      [0, [0, 3]],
      [6, [0, 1]],
      [1, 'FENCED_LEADER_EPOCH'],
      [0, 'INVALID_REQUEST'],
    ]);
    expect(h.controller.version).toBe(version + 2);
    const again = await alter(0, [{ ...item, newIsr: [0, 3, 1] }]);
    expect(again.body.partitions[0]!.error?.code).toBe('FENCED_LEADER_EPOCH');
    await alter(0, [{ ...item, partitionEpoch: 1, newIsr: [0, 3, 1], joiningEpochs: [{ brokerId: 1, brokerEpoch: 0 }] }]);
    const malformed = await h.call<WireError>('/partition/alter', { brokerId: 0, brokerEpoch: 0, partitions: [{ ...item, newIsr: 'all' }] });
    expect([malformed.status, malformed.body.code]).toEqual([400, 'INVALID_REQUEST']);
    const metrics = (await h.service.app.inject({ method: 'GET', url: '/metrics' })).payload;
    expect(metrics).toContain('tributary_controller_isr_shrinks_total 2');
    expect(metrics).toContain('tributary_controller_isr_expands_total 1');
    expect(metrics).toMatch(/tributary_controller_requests_total\{route="\/partition\/alter",status="200"\} 4/);
  });

  it('controlled shutdown through the route, then the offline and fenced gauges', async () => {
    const h = harness();
    const epochs = await registerSeed(h);
    await h.call('/admin/create-topic', { name: 'demo', partitions: 1, replicationFactor: 1 }); // [0]
    // Its only leadership cannot move, so it may stop at once: fenced now, the partition offline.
    const res = await h.call('/broker/controlled-shutdown', { brokerId: 0, brokerEpoch: epochs.get(0) });
    expect(res.body).toEqual({ remainingLeaderships: 0 });
    const metrics = (await h.service.app.inject({ method: 'GET', url: '/metrics' })).payload;
    expect(metrics).toContain('tributary_offline_partitions_count 1');
    expect(metrics).toContain('tributary_fenced_broker_count 1');
  });
});
