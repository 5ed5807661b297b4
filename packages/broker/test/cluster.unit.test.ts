// Three brokers in this process against a fake controller, over real sockets: replication,
// acks=all, ISR shrink, failover with log divergence and truncation, fetch-from-follower,
// throttling and controlled shutdown.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBatches, type ProduceResponse, type FetchResponse } from '@tributary/protocol';
import { RpcClient } from '@tributary/transport';
import { eventually, tempDir } from '@tributary/testkit';
import { startBroker, type BrokerHandle } from '../src/broker.ts';
import { brokerConfig } from '../src/config.ts';
import { batch, FakeController, silent, topicState } from './helpers.ts';

describe('three brokers and a fake controller', () => {
  const controller = new FakeController();
  const dirs = [0, 1, 2].map(() => tempDir('tributary-cluster-'));
  const brokers: (BrokerHandle | undefined)[] = [];
  const clients = new Map<number, RpcClient>();

  async function start(id: number): Promise<BrokerHandle> {
    const b = await startBroker(
      brokerConfig({
        brokerId: id,
        rack: id === 0 ? 'rack-1' : 'rack-2',
        dataDir: dirs[id]!.dir,
        controller: { host: '127.0.0.1', port: controller.port },
        replicaLagTimeMaxMs: 1000,
        heartbeatIntervalMs: 100,
        replicaFetchMaxWaitMs: 200,
        checkpointIntervalMs: 200,
      }),
      { logger: silent },
    );
    brokers[id] = b;
    await clients.get(id)?.close();
    clients.set(id, new RpcClient(b.addresses.internal));
    return b;
  }
  const client = (id: number) => clients.get(id)!;
  const produce = (id: number, topic: string, values: string[], acks = -1) =>
    client(id).call<ProduceResponse>('/produce', { acks, timeoutMs: 5000, partitions: [{ topic, partition: 0, records: batch(values) }] });
  const fetchValues = async (id: number, topic: string, rack?: string) => {
    const r = await client(id).call<FetchResponse>('/fetch', {
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      rack,
      partitions: [{ topic, partition: 0, offset: 0, maxBytes: 1 << 20 }],
    });
    return { ...r.partitions[0]!, values: decodeBatches(Buffer.from(r.partitions[0]!.records)).map((x) => x.value!.toString()) };
  };
  const leo = (id: number, topic: string) => brokers[id]!.replicas.getPartition(topic, 0)?.log.logEndOffset;

  beforeAll(async () => {
    await controller.start();
    for (const id of [0, 1, 2]) await start(id);
    await eventually(() => controller.metadata.brokers.length === 3 && brokers.every((b) => b!.channel.registered));
  });
  afterAll(async () => {
    for (const b of brokers) await b?.close();
    for (const c of clients.values()) await c.close();
    await controller.close();
    for (const d of dirs) d.cleanup();
  });

  it('registers, heartbeats and becomes healthy', async () => {
    await eventually(async () => (await client(0).getText('/health')).status === 200);
    expect(controller.registrations).toBe(3);
    await eventually(() => controller.heartbeats >= 6);
  });

  it('replicates to followers and answers acks=all', async () => {
    controller.update((md) => md.topics.push(topicState('rep', [{ replicas: [0, 1, 2] }], { 'min.insync.replicas': 2 })));
    await eventually(() => brokers.every((b) => b!.replicas.getPartition('rep', 0) !== undefined));
    const r = await produce(0, 'rep', ['a', 'b']);
    expect(r.partitions[0]).toEqual({ topic: 'rep', partition: 0, baseOffset: 0 });
    await eventually(() => leo(1, 'rep') === 2 && leo(2, 'rep') === 2);
    expect((await fetchValues(0, 'rep')).values).toEqual(['a', 'b']);
    // Followers learn the HW from their next fetch answers.
    await eventually(() => brokers[1]!.replicas.getPartition('rep', 0)!.highWatermark === 2);
  });

  it('points a consumer in another rack at an in-sync follower there (KIP-392)', async () => {
    const viaLeader = await fetchValues(0, 'rep', 'rack-2');
    expect(viaLeader.preferredReadReplica).toBeOneOf([1, 2]);
    expect(viaLeader.values).toEqual([]);
    const viaFollower = await fetchValues(viaLeader.preferredReadReplica!, 'rep', 'rack-2');
    expect(viaFollower.values).toEqual(['a', 'b']);
    // Without a rack, a follower refuses consumers.
    expect((await fetchValues(1, 'rep')).error?.code).toBe('NOT_LEADER_OR_FOLLOWER');
  });

  it('checkpoints HWs and recovery points periodically, off the event loop', async () => {
    // checkpointIntervalMs 200: the background writer replaces the files while requests go on.
    controller.update((md) => md.topics.push(topicState('cp', [{ replicas: [0, 1] }], { 'min.insync.replicas': 1 })));
    await eventually(() => brokers[1]!.replicas.getPartition('cp', 0) !== undefined);
    const hwFile = join(dirs[0]!.dir, 'replication-offset-checkpoint');
    const hasLine = (line: string) => existsSync(hwFile) && readFileSync(hwFile, 'utf8').split('\n').includes(line);
    expect((await produce(0, 'cp', ['a', 'b'])).partitions[0]!.error).toBeUndefined();
    await eventually(() => hasLine('cp 0 2'));
    expect((await produce(0, 'cp', ['c'])).partitions[0]!.error).toBeUndefined();
    await eventually(() => hasLine('cp 0 3'));
    expect(existsSync(join(dirs[0]!.dir, 'recovery-point-offset-checkpoint'))).toBe(true);
  });

  it('shrinks the ISR when a follower stops, and acks=all keeps working with min ISR 2', async () => {
    await brokers[2]!.close();
    brokers[2] = undefined;
    await produce(0, 'rep', ['c'], 1);
    await eventually(() => JSON.stringify(controller.partition('rep', 0).isr) === '[0,1]', { timeoutMs: 5000 });
    await eventually(() => JSON.stringify(brokers[0]!.replicas.getPartition('rep', 0)!.isr) === '[0,1]');
    expect((await produce(0, 'rep', ['d'])).partitions[0]!.error).toBeUndefined();
  });

  it('brings a restarted follower back into the ISR', async () => {
    await start(2);
    await eventually(() => leo(2, 'rep') === 4, { timeoutMs: 5000 });
    await eventually(() => controller.partition('rep', 0).isr.includes(2), { timeoutMs: 5000 });
  });

  it('truncates a diverged follower to the leader epoch end offset after an unclean failover', async () => {
    controller.update((md) => md.topics.push(topicState('div', [{ replicas: [0, 1] }], { 'min.insync.replicas': 1 })));
    await eventually(() => brokers[1]!.replicas.getPartition('div', 0) !== undefined);
    await produce(0, 'div', ['a']);
    await eventually(() => leo(1, 'div') === 1);
    // Broker 1 goes away; broker 0 appends what nobody copies, then goes away too.
    await brokers[1]!.close();
    await produce(0, 'div', ['b'], 1);
    await produce(0, 'div', ['c'], 1);
    expect(leo(0, 'div')).toBe(3);
    await brokers[0]!.close();
    // Unclean election: broker 1 leads at epoch 1 with only 'a', and writes its own history.
    controller.update((md) => {
      const p = md.topics.find((t) => t.name === 'div')!.partitions[0]!;
      Object.assign(p, { leader: 1, leaderEpoch: 1, partitionEpoch: p.partitionEpoch + 1, isr: [1] });
      const r = md.topics.find((t) => t.name === 'rep')!.partitions[0]!;
      Object.assign(r, { leader: 1, leaderEpoch: 1, partitionEpoch: r.partitionEpoch + 1, isr: [1, 2] });
    });
    await start(1);
    await eventually(() => brokers[1]!.replicas.getPartition('div', 0)?.isLeader === true);
    await produce(1, 'div', ['X'], 1);
    await produce(1, 'div', ['Y'], 1);
    await start(0);
    // Broker 0 follows; its epoch-0 tail (b, c) diverged after offset 1 and must go.
    await eventually(() => leo(0, 'div') === 3 && brokers[0]!.replicas.getPartition('div', 0)!.role === 'follower', { timeoutMs: 5000 });
    const log = brokers[0]!.replicas.getPartition('div', 0)!.log;
    expect(decodeBatches(log.read(0, 1 << 20)).map((r) => r.value!.toString())).toEqual(['a', 'X', 'Y']);
    await eventually(async () => (await fetchValues(1, 'div')).values.join() === 'a,X,Y');
  });

  it('throttles a follower with follower.replication.throttled.rate', async () => {
    controller.update((md) => {
      md.brokers.find((b) => b.id === 2)!.configs = { 'follower.replication.throttled.rate': 200 };
      md.topics.push(topicState('slow', [{ replicas: [1, 2] }], { 'min.insync.replicas': 1 }));
    });
    await eventually(() => brokers[2]!.replicas.getPartition('slow', 0) !== undefined);
    // ~1 KiB at 200 B/s: the follower cannot be caught up within a second.
    for (let i = 0; i < 10; i++) await produce(1, 'slow', ['x'.repeat(100)], 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(leo(2, 'slow')!).toBeLessThan(10);
    controller.update((md) => {
      md.brokers.find((b) => b.id === 2)!.configs = {};
    });
    await eventually(() => leo(2, 'slow') === 10, { timeoutMs: 8000 });
  });

  it('a reassignment adds a replica; with throttled-replica lists (Kafka) the follower holds back only the listed one, the other in the same fetches flows', async () => {
    controller.update((md) => {
      md.topics.push(topicState('kthr', [{ replicas: [1] }, { replicas: [1] }], { 'min.insync.replicas': 1 }));
    });
    await eventually(() => brokers[1]!.replicas.getPartition('kthr', 1)?.isLeader === true);
    for (let i = 0; i < 10; i++) {
      await client(1).call<ProduceResponse>('/produce', {
        acks: 1,
        timeoutMs: 5000,
        partitions: [0, 1].map((partition) => ({ topic: 'kthr', partition, records: batch(['x'.repeat(100)]) })),
      });
    }
    // Both partitions reassigned [1] -> [1, 2] with a throttle on broker 2 for kthr-0 only.
    controller.update((md) => {
      md.brokers.find((b) => b.id === 2)!.configs = { 'follower.replication.throttled.rate': 200 };
      const t = md.topics.find((x) => x.name === 'kthr')!;
      t.configs = { ...t.configs, 'follower.replication.throttled.replicas': '0:2' };
      for (const p of t.partitions) Object.assign(p, { replicas: [1, 2], addingReplicas: [2], partitionEpoch: p.partitionEpoch + 1 });
    });
    const leoOf = (partition: number) => brokers[2]!.replicas.getPartition('kthr', partition)?.log.logEndOffset ?? 0;
    // ~1.7 KB at 200 B/s for the listed partition; the other one is not held back.
    await eventually(() => leoOf(1) === 10, { timeoutMs: 5000 });
    expect(leoOf(0)).toBeLessThan(10);
    expect(controller.partition('kthr', 0).isr).toEqual([1]);
    await eventually(() => controller.partition('kthr', 1).isr.includes(2));
    expect(await brokers[2]!.metrics.text()).toMatch(/tributary_reassignment_bytes_in_total\{[^}]*\} [1-9]/);
    controller.update((md) => {
      md.brokers.find((b) => b.id === 2)!.configs = {};
    });
    await eventually(() => leoOf(0) === 10, { timeoutMs: 8000 });
    await eventually(() => controller.partition('kthr', 0).isr.includes(2));
  });

  it('moves leaderships away on controlled shutdown', async () => {
    const b1 = brokers[1]!;
    expect([...b1.replicas.allPartitions()].some((p) => p.isLeader)).toBe(true);
    await b1.controlledShutdown();
    expect(controller.shutdownRequests).toBeGreaterThan(0);
    expect([...b1.replicas.allPartitions()].filter((p) => p.isLeader && p.isr.length > 1)).toEqual([]);
  });
});

describe('one broker with two listeners', () => {
  const controller = new FakeController();
  const dir = tempDir('tributary-listeners-');
  let broker: BrokerHandle;

  beforeAll(async () => {
    await controller.start();
    broker = await startBroker(
      brokerConfig({
        brokerId: 5,
        dataDir: dir.dir,
        controller: { host: '127.0.0.1', port: controller.port },
        advertise: { host: 'broker-5', port: 9092 },
        externalListen: { host: '127.0.0.1', port: 0 },
        externalAdvertise: { host: 'localhost', port: 0 },
        heartbeatIntervalMs: 50,
      }),
      { logger: silent },
    );
    await eventually(() => broker.channel.registered && controller.metadata.brokers.length === 1);
  });
  afterAll(async () => {
    await broker.close();
    await controller.close();
    dir.cleanup();
  });

  it('answers metadata with the addresses of the listener the request came in on', async () => {
    const internal = new RpcClient(broker.addresses.internal);
    const external = new RpcClient(broker.addresses.external!);
    await eventually(async () => (await internal.call<any>('/metadata', {})).brokers.length === 1);
    const viaInternal = await internal.call<any>('/metadata', {});
    const viaExternal = await external.call<any>('/metadata', {});
    expect(viaInternal.brokers[0]).toMatchObject({ id: 5, host: 'broker-5', port: 9092 });
    expect(viaExternal.brokers[0]).toMatchObject({ id: 5, host: 'localhost', port: broker.addresses.external!.port });
    await internal.close();
    await external.close();
  });

  it('registers again when a heartbeat answers STALE_BROKER_EPOCH', async () => {
    const before = controller.registrations;
    const epoch = broker.channel.brokerEpoch;
    controller.staleOnce.add(5);
    await eventually(() => controller.registrations > before && broker.channel.brokerEpoch > epoch);
  });

  it('keeps serving while the controller is away', async () => {
    await controller.close();
    const c = new RpcClient(broker.addresses.internal);
    expect((await c.getText('/health')).status).toBe(200);
    expect((await c.call<any>('/metadata', {})).brokers).toHaveLength(1);
    await c.close();
  });
});
