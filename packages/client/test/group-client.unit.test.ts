// GroupClient and Admin's group calls against scripted brokers (real HTTP servers from the
// transport): which broker each call goes to, what is retried and what is not.

import { afterEach, describe, expect, it } from 'vitest';
import { createMsgpackServer, type MsgpackServer } from '@tributary/transport/server';
import { DEFAULT_TOPIC_CONFIGS, TributaryError, type BrokerMetadataResponse, type ErrorCode } from '@tributary/protocol';
import { Admin, GroupClient } from '../src/index.ts';

interface Call {
  broker: number;
  path: string;
  body: any;
}

/** Brokers answering /metadata with one topic 't' of two partitions led by broker 0, and scripts for the rest. */
class ScriptedCluster {
  readonly servers: MsgpackServer[] = [];
  readonly ports: number[] = [];
  readonly calls: Call[] = [];
  /** path → handler per broker; a handler returns the answer or throws a TributaryError. */
  handlers = new Map<string, (broker: number, body: any) => unknown>();

  async start(n: number): Promise<void> {
    for (let id = 0; id < n; id++) {
      const app = createMsgpackServer({});
      app.post('/*', async (req) => {
        const path = req.url;
        this.calls.push({ broker: id, path, body: req.body });
        if (path === '/metadata') return this.metadata(id);
        const handler = this.handlers.get(path);
        if (handler === undefined) throw new TributaryError('INVALID_REQUEST', `no script for ${path}`);
        return handler(id, req.body);
      });
      await app.listen({ host: '127.0.0.1', port: 0 });
      this.servers.push(app);
      this.ports.push((app.server.address() as { port: number }).port);
    }
  }

  metadata(id: number): BrokerMetadataResponse {
    return {
      clusterId: 'c',
      version: 1,
      brokerId: id,
      controller: { host: '127.0.0.1', port: 1 },
      brokers: this.ports.map((port, i) => ({ id: i, rack: 'r', host: '127.0.0.1', port, alive: true })),
      topics: [
        {
          name: 't',
          configs: DEFAULT_TOPIC_CONFIGS,
          partitions: [0, 1].map((partition) => ({ partition, leader: 0, leaderEpoch: 0, replicas: [0], isr: [0] })),
        },
      ],
      unknownTopics: [],
    };
  }

  coordinatorAt(id: number) {
    return { brokerId: id, host: '127.0.0.1', port: this.ports[id]! };
  }

  callsTo(path: string): number[] {
    return this.calls.filter((c) => c.path === path).map((c) => c.broker);
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
  }
}

function fail(code: ErrorCode, extra?: { memberId: string }): never {
  throw new TributaryError(code, `scripted ${code}`, extra);
}

const join = { groupId: 'g', memberId: 'm', clientId: 'c', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 1000, protocolType: 'consumer', protocols: [] };

describe('GroupClient', () => {
  let cluster: ScriptedCluster;
  let client: GroupClient | Admin | undefined;
  afterEach(async () => {
    await client?.close();
    await cluster.close();
  });

  async function start(n = 2): Promise<GroupClient> {
    cluster = new ScriptedCluster();
    await cluster.start(n);
    const c = new GroupClient({ bootstrap: cluster.ports.map((p) => `127.0.0.1:${p}`), defaultApiTimeoutMs: 10_000 });
    client = c;
    return c;
  }

  it('finds the coordinator (retrying COORDINATOR_NOT_AVAILABLE while __consumer_offsets is created) and calls it', async () => {
    const c = await start();
    let finds = 0;
    cluster.handlers.set('/find-coordinator', () => (++finds <= 2 ? fail('COORDINATOR_NOT_AVAILABLE') : cluster.coordinatorAt(1)));
    cluster.handlers.set('/group/heartbeat', (broker) => (broker === 1 ? {} : fail('NOT_COORDINATOR')));
    await c.heartbeat({ groupId: 'g', generationId: 1, memberId: 'm' });
    expect(finds).toBe(3);
    expect(cluster.callsTo('/group/heartbeat')).toEqual([1]);
    // The coordinator is cached: the next call goes straight to it.
    await c.heartbeat({ groupId: 'g', generationId: 1, memberId: 'm' });
    expect(finds).toBe(3);
  });

  it('finds the coordinator again on NOT_COORDINATOR and when it cannot be reached, and retries', async () => {
    const c = await start(3);
    let coordinator = 1;
    cluster.handlers.set('/find-coordinator', () => cluster.coordinatorAt(coordinator));
    cluster.handlers.set('/offsets/commit', (broker) => (broker === coordinator ? { partitions: [{ topic: 't', partition: 0 }] } : fail('NOT_COORDINATOR')));
    await c.findCoordinator('g');
    coordinator = 2;
    const answer = await c.commitOffsets({ groupId: 'g', generationId: 1, memberId: 'm', offsets: [{ topic: 't', partition: 0, offset: 5, metadata: '' }] });
    expect(answer.partitions).toEqual([{ topic: 't', partition: 0 }]);
    expect(cluster.callsTo('/offsets/commit')).toEqual([1, 2]);
    // The coordinator dies: a refused connection finds it again.
    await cluster.servers[2]!.close();
    coordinator = 0;
    await c.commitOffsets({ groupId: 'g', generationId: 1, memberId: 'm', offsets: [] });
    expect(cluster.callsTo('/offsets/commit').at(-1)).toBe(0);
  });

  it('retries COORDINATOR_LOAD_IN_PROGRESS against the same coordinator, without finding it again', async () => {
    const c = await start();
    let loads = 0;
    cluster.handlers.set('/find-coordinator', () => cluster.coordinatorAt(1));
    cluster.handlers.set('/offsets/fetch', () =>
      ++loads <= 2 ? fail('COORDINATOR_LOAD_IN_PROGRESS') : { offsets: [{ topic: 't', partition: 0, offset: 3, metadata: '' }] },
    );
    expect(await c.fetchOffsets('g')).toEqual([{ topic: 't', partition: 0, offset: 3, metadata: '' }]);
    expect(cluster.callsTo('/find-coordinator')).toHaveLength(1);
    expect(cluster.callsTo('/offsets/fetch')).toEqual([1, 1, 1]);
  });

  it.each(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'INCONSISTENT_GROUP_PROTOCOL', 'FENCED_INSTANCE_ID'] as const)(
    'throws %s at once, without retrying',
    async (code) => {
      const c = await start();
      cluster.handlers.set('/find-coordinator', () => cluster.coordinatorAt(0));
      cluster.handlers.set('/group/join', () => fail(code));
      await expect(c.joinGroup(join)).rejects.toMatchObject({ code });
      expect(cluster.callsTo('/group/join')).toHaveLength(1);
    },
  );

  it('hands MEMBER_ID_REQUIRED back with the member id to join again with (KIP-394)', async () => {
    const c = await start();
    cluster.handlers.set('/find-coordinator', () => cluster.coordinatorAt(0));
    cluster.handlers.set('/group/join', () => fail('MEMBER_ID_REQUIRED', { memberId: 'c-123' }));
    await expect(c.joinGroup({ ...join, memberId: '' })).rejects.toMatchObject({ code: 'MEMBER_ID_REQUIRED', memberId: 'c-123' });
  });

  it('gives up with the last error once the call\u2019s budget is spent', async () => {
    const c = await start();
    cluster.handlers.set('/find-coordinator', () => cluster.coordinatorAt(0));
    cluster.handlers.set('/group/heartbeat', () => fail('NOT_COORDINATOR'));
    const started = Date.now();
    await expect(c.heartbeat({ groupId: 'g', generationId: 1, memberId: 'm' }, { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'NOT_COORDINATOR' });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(cluster.callsTo('/group/heartbeat').length).toBeGreaterThan(2);
  });

  it('gives up on a silent coordinator within the call\u2019s budget, and finds it again on the next try', async () => {
    const c = await start();
    let silent = true;
    cluster.handlers.set('/find-coordinator', () => cluster.coordinatorAt(silent ? 1 : 0));
    cluster.handlers.set('/group/heartbeat', async (broker) => {
      if (broker === 1) await new Promise((resolve) => setTimeout(resolve, 5000));
      return {};
    });
    const started = Date.now();
    await expect(c.heartbeat({ groupId: 'g', generationId: 1, memberId: 'm' }, { timeoutMs: 800 })).rejects.toMatchObject({ code: 'REQUEST_TIMED_OUT' });
    expect(Date.now() - started).toBeLessThan(2500);
    silent = false;
    await c.heartbeat({ groupId: 'g', generationId: 1, memberId: 'm' }, { timeoutMs: 5000 });
    expect(cluster.callsTo('/group/heartbeat').at(-1)).toBe(0);
  });

  it('lists the groups of every live broker, and reports a broker that could not answer', async () => {
    const c = await start(3);
    cluster.handlers.set('/groups/list', (broker) =>
      broker === 2 ? fail('KAFKA_STORAGE_ERROR') : { groups: [{ groupId: `g${broker}`, protocolType: 'consumer', state: 'Stable' }] },
    );
    const { groups, errors } = await c.listGroups();
    expect(groups).toEqual([
      { groupId: 'g0', protocolType: 'consumer', state: 'Stable', coordinator: 0 },
      { groupId: 'g1', protocolType: 'consumer', state: 'Stable', coordinator: 1 },
    ]);
    expect(errors.map((e) => [e.brokerId, e.error.code])).toEqual([[2, 'KAFKA_STORAGE_ERROR']]);
  });

  it('describes and deletes each group at its own coordinator, finding a moved one again', async () => {
    const c = await start();
    let moved = false;
    cluster.handlers.set('/find-coordinator', (_b, body) => cluster.coordinatorAt(body.key === 'a' ? 0 : moved ? 0 : 1));
    cluster.handlers.set('/groups/describe', (broker, body) => {
      const groupId = body.groupIds[0];
      if (groupId === 'b' && broker === 1) {
        moved = true;
        return { groups: [{ groupId, error: { code: 'NOT_COORDINATOR', message: 'moved' }, state: 'Dead', protocolType: '', protocol: '', members: [] }] };
      }
      return { groups: [{ groupId, state: 'Empty', protocolType: 'consumer', protocol: '', members: [] }] };
    });
    cluster.handlers.set('/groups/delete', (_b, body) => ({
      groups: [body.groupIds[0] === 'a' ? { groupId: 'a' } : { groupId: 'b', error: { code: 'NON_EMPTY_GROUP', message: 'x' } }],
    }));
    expect((await c.describeGroups(['a', 'b'])).map((g) => [g.groupId, g.state, g.error?.code])).toEqual([
      ['a', 'Empty', undefined],
      ['b', 'Empty', undefined],
    ]);
    expect(await c.deleteGroups(['a', 'b'])).toEqual([{ groupId: 'a' }, { groupId: 'b', error: { code: 'NON_EMPTY_GROUP', message: 'x' } }]);
  });
});

describe('Admin group offsets', () => {
  let cluster: ScriptedCluster;
  let admin: Admin;
  afterEach(async () => {
    await admin.close();
    await cluster.close();
  });

  async function start(committed: Record<number, number>): Promise<void> {
    cluster = new ScriptedCluster();
    await cluster.start(2);
    admin = new Admin({ bootstrap: `127.0.0.1:${cluster.ports[0]}` });
    cluster.handlers.set('/find-coordinator', () => cluster.coordinatorAt(1));
    cluster.handlers.set('/offsets/fetch', (_b, body) => ({
      offsets: (body.partitions ?? Object.keys(committed).map((p) => ({ topic: 't', partition: Number(p) }))).map((tp: { partition: number }) => ({
        topic: 't',
        partition: tp.partition,
        offset: committed[tp.partition] ?? -1,
        metadata: '',
      })),
    }));
    // Partition 0 holds [10, 100), partition 1 [0, 50); the record at time 5000 is offset 40.
    cluster.handlers.set('/list-offsets', (_b, body) => ({
      partitions: body.partitions.map((p: { partition: number; timestamp: number }) => ({
        topic: 't',
        partition: p.partition,
        timestamp: -1,
        offset: p.timestamp === -2 ? (p.partition === 0 ? 10 : 0) : p.timestamp === -1 ? (p.partition === 0 ? 100 : 50) : p.partition === 0 ? 40 : -1,
      })),
    }));
    cluster.handlers.set('/groups/reset-offsets', (_b, body) => ({
      partitions: body.offsets.map((o: { partition: number }) => ({ topic: 't', partition: o.partition })),
    }));
  }

  it('lists committed offsets with the log end and the lag', async () => {
    await start({ 0: 60, 1: 50 });
    expect(await admin.listGroupOffsets('g')).toEqual([
      { topic: 't', partition: 0, committedOffset: 60, metadata: '', logEndOffset: 100, lag: 40 },
      { topic: 't', partition: 1, committedOffset: 50, metadata: '', logEndOffset: 50, lag: 0 },
    ]);
  });

  it.each([
    { spec: { kind: 'earliest' }, expected: [10, 0] },
    { spec: { kind: 'latest' }, expected: [100, 50] },
    { spec: { kind: 'offset', offset: 5 }, expected: [10, 5] },
    { spec: { kind: 'offset', offset: 70 }, expected: [70, 50] },
    { spec: { kind: 'shift-by', shift: -55 }, expected: [10, 0] },
    { spec: { kind: 'shift-by', shift: 30 }, expected: [90, 50] },
    { spec: { kind: 'timestamp', timestampMs: 5000 }, expected: [40, 50] },
    { spec: { kind: 'current' }, expected: [60, 20] },
  ] as const)('resets $spec.kind to $expected (clamped to each partition\u2019s range)', async ({ spec, expected }) => {
    await start({ 0: 60, 1: 20 });
    const plan = await admin.resetGroupOffsets('g', 't', spec);
    expect(plan).toEqual([
      { topic: 't', partition: 0, previousOffset: 60, newOffset: expected[0] },
      { topic: 't', partition: 1, previousOffset: 20, newOffset: expected[1] },
    ]);
    const sent = cluster.calls.filter((c) => c.path === '/groups/reset-offsets');
    expect(sent.map((c) => c.body.offsets.map((o: { offset: number }) => o.offset))).toEqual([[...expected]]);
  });

  it('plans without committing on dryRun, and refuses to shift a partition without a committed offset', async () => {
    await start({ 0: 60 });
    const plan = await admin.resetGroupOffsets('g', 't', { kind: 'earliest' }, { dryRun: true, partitions: [1] });
    expect(plan).toEqual([{ topic: 't', partition: 1, previousOffset: -1, newOffset: 0 }]);
    expect(cluster.callsTo('/groups/reset-offsets')).toEqual([]);
    await expect(admin.resetGroupOffsets('g', 't', { kind: 'shift-by', shift: 1 })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(admin.resetGroupOffsets('g', 't', { kind: 'latest' }, { partitions: [7] })).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });

  it('passes NON_EMPTY_GROUP on: a group with members is not reset', async () => {
    await start({ 0: 60, 1: 20 });
    cluster.handlers.set('/groups/reset-offsets', () => fail('NON_EMPTY_GROUP'));
    await expect(admin.resetGroupOffsets('g', 't', { kind: 'earliest' })).rejects.toMatchObject({ code: 'NON_EMPTY_GROUP' });
  });
});
