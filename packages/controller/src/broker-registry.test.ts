import { describe, expect, it } from 'vitest';
import { controlledShutdown, expireSessions, expiredSessions, fenceBroker, heartbeat, registerBroker, setBrokerConfig } from './broker-registry.ts';
import { apply, clusterOf, codeOf, registration, withTopic } from './internal/fixtures.ts';
import { alterPartition } from './isr.ts';
import { ClusterState } from './cluster-state.ts';

describe('registerBroker', () => {
  it('gives a new broker epoch 0 and makes it alive', () => {
    const state = new ClusterState();
    const { records, reply } = registerBroker(state, registration(7, 'rack-1'));
    expect(reply).toEqual({ brokerEpoch: 0 });
    expect(records).toEqual([
      {
        type: 'RegisterBroker',
        brokerId: 7,
        brokerEpoch: 0,
        incarnationId: 'inc-7',
        rack: 'rack-1',
        internal: { host: 'broker-7', port: 9092 },
        external: { host: '127.0.0.1', port: 19099 },
        logDirId: 'dir-7',
      },
    ]);
    apply(state, records);
    expect(state.brokers.get(7)).toMatchObject({ id: 7, epoch: 0, alive: true, configs: {} });
  });

  it.each([
    // [case, fenced first?, incarnation, expected record types, expected epoch]
    ['same incarnation, alive: a retry, nothing logged', false, 'inc-1', [], 0],
    ['same incarnation, fenced: unfenced at the same epoch', true, 'inc-1', ['UnfenceBroker'], 0],
    ['new incarnation, fenced: epoch + 1', true, 'inc-1b', ['RegisterBroker'], 1],
    ['new incarnation, alive: old one fenced first, then epoch + 1', false, 'inc-1b', ['FenceBroker', 'RegisterBroker'], 1],
  ] as const)('%s', (_name, fencedFirst, incarnationId, types, epoch) => {
    const state = clusterOf([[1, 'r1']]);
    if (fencedFirst) apply(state, fenceBroker(state, 1));
    const { records, reply } = registerBroker(state, registration(1, 'r1', incarnationId));
    expect(records.map((r) => r.type)).toEqual(types);
    expect(reply.brokerEpoch).toBe(epoch);
    apply(state, records);
    expect(state.brokers.get(1)).toMatchObject({ epoch, alive: true, incarnationId });
  });

  it('same incarnation with new listeners re-registers at the same epoch', () => {
    const state = clusterOf([[1, 'r1']]);
    const moved = { ...registration(1, 'r1'), external: { host: '127.0.0.1', port: 29093 } };
    const { records, reply } = registerBroker(state, moved);
    expect(records.map((r) => r.type)).toEqual(['RegisterBroker']);
    expect(reply.brokerEpoch).toBe(0);
    apply(state, records);
    expect(state.brokers.get(1)!.external.port).toBe(29093);
  });

  it('a fast restart of a leader moves its leaderships before the new incarnation registers', () => {
    const state = withTopic(clusterOf(), { name: 't', partitions: 1, replicationFactor: 3 });
    const { records } = registerBroker(state, registration(0, 'rack-1', 'inc-0-restarted'));
    apply(state, records);
    expect(state.partition('t', 0)).toMatchObject({ replicas: [0, 3, 1], leader: 3, leaderEpoch: 1, isr: [3, 1] });
    expect(state.brokers.get(0)).toMatchObject({ epoch: 1, alive: true });
  });

  it('refuses a broker whose data dir belongs to another cluster', () => {
    const state = clusterOf([[1, 'r1']]);
    expect(codeOf(() => registerBroker(state, { ...registration(2, 'r1'), clusterId: 'another-cluster' }))).toBe('INCONSISTENT_CLUSTER_ID');
    expect(codeOf(() => registerBroker(state, { ...registration(2, 'r1'), clusterId: 'test-cluster' }))).toBe('no error');
  });

  it('keeps dynamic configs across a re-registration', () => {
    const state = clusterOf([[1, 'r1']]);
    apply(state, setBrokerConfig(state, { brokerId: 1, configs: { 'follower.replication.throttled.rate': 100 } }));
    apply(state, registerBroker(state, registration(1, 'r1', 'new')).records);
    expect(state.brokers.get(1)!.configs).toEqual({ 'follower.replication.throttled.rate': 100 });
  });
});

describe('a broker registering as a new process (KIP-903)', () => {
  // t-0 [0,3,1] led by 0; t-1 [3,1,4] led by 3; t-2 [1,4,2] led by 1 (the seed's placement).
  const seeded = () => withTopic(clusterOf(), { name: 't', partitions: 3, replicationFactor: 3 });

  it('a restarted follower leaves every ISR where others remain, and leads nothing it did not', () => {
    const state = seeded();
    apply(state, fenceBroker(state, 1));
    apply(state, registerBroker(state, registration(1, 'rack-1', 'inc-1b')).records);
    expect(state.partition('t', 0)).toMatchObject({ leader: 0, isr: [0, 3] });
    expect(state.partition('t', 1)).toMatchObject({ leader: 3, isr: [3, 4] });
    // It led t-2: fencing moved that to 4, and the new process does not get it back until it rejoins.
    expect(state.partition('t', 2)).toMatchObject({ leader: 4, isr: [4, 2] });
    expect(state.brokers.get(1)).toMatchObject({ epoch: 1, alive: true });
  });

  it('a paused broker that registers again as the same process keeps its ISRs (it leaves them by the lag rule)', () => {
    const state = seeded();
    apply(state, fenceBroker(state, 3));
    apply(state, registerBroker(state, registration(3, 'rack-2')).records);
    expect(state.partition('t', 0)!.isr).toEqual([0, 3, 1]);
  });

  /** t-0's followers fall out of the ISR (lag rule), then its leader 0 dies: offline, ISR [0]. */
  const onlyZeroLeft = (state: ClusterState) => {
    for (const id of [3, 1]) apply(state, fenceBroker(state, id));
    apply(
      state,
      alterPartition(state, {
        brokerId: 0,
        brokerEpoch: 0,
        topic: state.topics.keys().next().value!,
        partition: 0,
        leaderEpoch: 0,
        partitionEpoch: 0,
        newIsr: [0],
      }).records,
    );
    apply(state, fenceBroker(state, 0));
    return state;
  };

  it('the last ISR member restarting with its data dir leads again (the last known leader)', () => {
    const state = onlyZeroLeft(seeded());
    expect(state.partition('t', 0)).toMatchObject({ leader: -1, isr: [0] });
    apply(state, registerBroker(state, registration(0, 'rack-1', 'inc-0b')).records);
    expect(state.partition('t', 0)).toMatchObject({ leader: 0, isr: [0] });
  });

  it('the last ISR member restarting without its data leaves the ISR: the partition stays offline', () => {
    const state = onlyZeroLeft(seeded());
    apply(state, registerBroker(state, registration(0, 'rack-1', 'inc-0b', 'new-disk')).records);
    expect(state.partition('t', 0)).toMatchObject({ leader: -1, isr: [] });
    // The others come back: none was in the ISR, so none may lead without unclean election.
    apply(state, registerBroker(state, registration(3, 'rack-2')).records);
    apply(state, registerBroker(state, registration(1, 'rack-1')).records);
    expect(state.partition('t', 0)).toMatchObject({ leader: -1, isr: [] });
  });

  it('with unclean election on, an eligible replica other than the one without data is elected', () => {
    const state = onlyZeroLeft(seeded());
    // Broker 1 comes back as the same process: alive, but outside the ISR; 0 is still away.
    apply(state, registerBroker(state, registration(1, 'rack-1')).records);
    expect(state.partition('t', 0)).toMatchObject({ leader: -1, isr: [0] });
    // The operator opts in to unclean election (as an alter-config would), then 0 returns empty.
    state.topics.get('t')!.configs['unclean.leader.election.enable'] = true;
    apply(state, registerBroker(state, registration(0, 'rack-1', 'inc-0b', 'new-disk')).records);
    expect(state.partition('t', 0)).toMatchObject({ leader: 1, isr: [1] });
  });

  it('a follower that lost its disk cannot be elected before it rejoins: the partition goes offline instead', () => {
    // The case: broker 1 (a follower of t-0) comes back empty, then the ISR members die.
    const state = seeded();
    apply(state, fenceBroker(state, 1));
    apply(state, registerBroker(state, registration(1, 'rack-1', 'inc-1b', 'new-disk')).records);
    apply(state, fenceBroker(state, 0));
    apply(state, fenceBroker(state, 3));
    expect(state.partition('t', 0)).toMatchObject({ leader: -1, isr: [3] });
    // 3 comes back (same data dir): it led last, so it leads again; 1 is still outside.
    apply(state, registerBroker(state, registration(3, 'rack-2', 'inc-3b')).records);
    expect(state.partition('t', 0)).toMatchObject({ leader: 3, isr: [3] });
  });
});

describe('heartbeat', () => {
  it.each([
    ['current epoch', 1, 0, 'no error'],
    ['stale epoch', 1, 1, 'STALE_BROKER_EPOCH'],
    ['unknown broker', 9, 0, 'STALE_BROKER_EPOCH'],
  ])('%s -> %s', (_name, brokerId, brokerEpoch, code) => {
    const state = clusterOf([[1, 'r1']]);
    expect(codeOf(() => heartbeat(state, { brokerId, brokerEpoch }))).toBe(code);
  });

  it('tells a fenced broker to register again', () => {
    const state = clusterOf([[1, 'r1']]);
    apply(state, fenceBroker(state, 1));
    expect(codeOf(() => heartbeat(state, { brokerId: 1, brokerEpoch: 0 }))).toBe('STALE_BROKER_EPOCH');
  });

  it('ignores heartbeats of a broker fenced by its controlled shutdown', () => {
    const state = clusterOf([[1, 'r1']]);
    apply(state, controlledShutdown(state, 1, 0).records);
    state.sessions.get(1)!.shuttingDown = true;
    expect(state.isAlive(1)).toBe(false);
    expect(heartbeat(state, { brokerId: 1, brokerEpoch: 0 })).toEqual({ accepted: false });
  });
});

describe('session expiry', () => {
  it.each([
    // [last heartbeats of brokers 0..2, now, expired]
    [[0, 0, 0], 3000, []],
    [[0, 0, 0], 3001, [0, 1, 2]],
    [[0, 1000, 2500], 4000, [0]],
    [[0, 1000, 2500], 5501, [0, 1, 2]],
  ])('heartbeats at %j, now %d -> expired %j', (beats, now, expected) => {
    const state = clusterOf([
      [0, 'a'],
      [1, 'a'],
      [2, 'b'],
    ]);
    beats.forEach((t, id) => {
      state.touch(id, t);
    });
    expect(expiredSessions(state, now, 3000)).toEqual(expected);
  });

  it.each([
    // A session only expires on heartbeats the controller was able to receive.
    // [last heartbeat, stalled clock at it, now, stalled clock now, expired?]
    ['silent 3001 ms, no stall', 0, 0, 3001, 0, true],
    ['silent 5 s of which the controller was stalled 4 s', 0, 0, 5000, 4000, false],
    ['the same stall, then 3 s of real silence', 0, 0, 7001, 4000, true],
    ['a stall before the last heartbeat does not help', 10_000, 4000, 13_001, 4000, true],
    ['only the stall since the heartbeat counts', 10_000, 4000, 14_000, 5000, false],
    ['a stall longer than the whole silence credits no more than the silence', 0, 0, 2000, 60_000, false],
  ])('%s', (_name, heartbeatMs, stalledAtHeartbeat, nowMs, stalledNow, expired) => {
    const state = clusterOf([[0, 'a']]);
    state.touch(0, heartbeatMs, stalledAtHeartbeat);
    expect(expiredSessions(state, nowMs, 3000, stalledNow)).toEqual(expired ? [0] : []);
  });

  it('fences expired brokers one after another, each seeing the last', () => {
    const state = withTopic(clusterOf(), { name: 't', partitions: 1, replicationFactor: 3 });
    state.touch(0, 0);
    state.touch(3, 0);
    for (const id of [1, 2, 4, 5]) state.touch(id, 10_000);
    apply(state, expireSessions(state, 5000, 3000));
    expect(state.isAlive(0)).toBe(false);
    expect(state.isAlive(3)).toBe(false);
    expect(state.partition('t', 0)).toMatchObject({ leader: 1, leaderEpoch: 2, partitionEpoch: 2, isr: [1] });
  });

  it('does not fence a fenced broker twice', () => {
    const state = clusterOf([[0, 'a']]);
    apply(state, fenceBroker(state, 0));
    expect(expireSessions(state, 1e9, 3000)).toEqual([]);
    expect(fenceBroker(state, 0)).toEqual([]);
  });
});

describe('controlledShutdown', () => {
  it('moves every leadership to another ISR member, leaves the ISRs, then is fenced', () => {
    const state = withTopic(clusterOf(), { name: 't', partitions: 10, replicationFactor: 3 });
    const { records, reply } = controlledShutdown(state, 0, 0);
    expect(reply).toEqual({ remainingLeaderships: 0 });
    apply(state, records);
    expect(records.at(-1)).toEqual({ type: 'FenceBroker', brokerId: 0, brokerEpoch: 0 });
    const p0 = state.partition('t', 0)!;
    expect(p0).toMatchObject({ leader: 3, leaderEpoch: 1, partitionEpoch: 1, isr: [3, 1] });
    const p4 = state.partition('t', 4)!; // [2,5,0]: a follower, only leaves the ISR
    expect(p4).toMatchObject({ leader: 2, leaderEpoch: 0, partitionEpoch: 1, isr: [2, 5] });
    for (const { partition } of state.allPartitions()) {
      expect(partition.leader).not.toBe(0);
      expect(partition.isr).not.toContain(0);
    }
  });

  // What the controller does with a decision: append its records, then mark the broker as
  // shutting down (cluster-controller.ts).
  function shutDown(state: ClusterState, brokerId: number) {
    const decision = controlledShutdown(state, brokerId, state.brokers.get(brokerId)!.epoch);
    apply(state, decision.records);
    state.sessions.get(brokerId)!.shuttingDown = true;
    return decision;
  }

  it.each([
    // [case, brokers shut down (or fenced) before broker 0, expected leader and ISR of t-0 [0,3,1], offline]
    ['one live ISR peer: the leadership moves to it first', { shutDown: [3], fenced: [] }, { leader: 1, isr: [1] }, 0],
    ['every other ISR member shutting down: offline, nothing to wait for', { shutDown: [3, 1], fenced: [] }, { leader: -1, isr: [0] }, 1],
    ['every other ISR member fenced (still in the ISR): offline as if it died', { shutDown: [], fenced: [3, 1] }, { leader: -1, isr: [3, 1] }, 1],
    ['one peer shutting down, one fenced: offline', { shutDown: [3], fenced: [1] }, { leader: -1, isr: [1] }, 1],
  ] as const)('%s', (_name, before, expected, offline) => {
    const state = withTopic(clusterOf(), { name: 't', partitions: 1, replicationFactor: 3 }); // [0,3,1]
    for (const id of before.shutDown) shutDown(state, id);
    for (const id of before.fenced) apply(state, fenceBroker(state, id));
    const epochBefore = state.partition('t', 0)!.leaderEpoch;
    const { records, reply, offlineLeaderships } = shutDown(state, 0);
    // Nothing that can move is left: the broker may stop, and it is fenced in the same records.
    expect(reply).toEqual({ remainingLeaderships: 0 });
    expect(offlineLeaderships).toBe(offline);
    expect(state.isAlive(0)).toBe(false);
    expect(state.partition('t', 0)).toMatchObject({ ...expected, leaderEpoch: epochBefore + 1 });
    // A leadership that can move is moved before the fence, never taken offline.
    const fence = records.findIndex((r) => r.type === 'FenceBroker');
    expect(records.slice(fence + 1).some((r) => r.type === 'PartitionChange' && r.leader !== -1)).toBe(false);
  });

  it('takes a replication-factor-1 partition offline at once instead of keeping the broker', () => {
    const state = withTopic(clusterOf(), { name: 'solo', partitions: 6, replicationFactor: 1 }); // solo-0 on broker 0
    const { records, reply, offlineLeaderships } = controlledShutdown(state, 0, 0);
    expect(reply).toEqual({ remainingLeaderships: 0 });
    expect(offlineLeaderships).toBe(1);
    expect(records).toEqual([
      { type: 'FenceBroker', brokerId: 0, brokerEpoch: 0 },
      { type: 'PartitionChange', topic: 'solo', topicId: 'id-solo', partition: 0, leader: -1, leaderEpoch: 1, partitionEpoch: 1, isr: [0] },
    ]);
    // Back from the restart, it leads again (election.ts onBrokerAlive).
    apply(state, records);
    apply(state, registerBroker(state, registration(0, 'rack-1', 'inc-0b')).records);
    expect(state.partition('solo', 0)).toMatchObject({ leader: 0, isr: [0] });
  });

  it('a whole cluster stopping at once: every broker may stop, each partition goes offline on its last ISR member', () => {
    const state = withTopic(clusterOf(), { name: 't', partitions: 10, replicationFactor: 3 });
    const lastLeader = new Map<number, number>();
    for (const id of [0, 1, 2, 3, 4, 5]) {
      for (const { partition } of state.allPartitions()) if (partition.leader !== -1) lastLeader.set(partition.partition, partition.leader);
      expect(shutDown(state, id).reply).toEqual({ remainingLeaderships: 0 });
    }
    for (const { partition } of state.allPartitions()) {
      expect(partition.leader).toBe(-1);
      // The ISR keeps exactly the broker that led last: it holds every committed record.
      expect(partition.isr).toEqual([lastLeader.get(partition.partition)]);
    }
  });

  it('a rolling restart: the second broker still hands its leaderships to live peers, the first one back included', () => {
    const state = withTopic(clusterOf(), { name: 't', partitions: 10, replicationFactor: 3 });
    expect(shutDown(state, 0).offlineLeaderships).toBe(0);
    apply(state, registerBroker(state, registration(0, 'rack-1', 'inc-0b')).records);
    expect(state.isEligible(0)).toBe(true);
    // Broker 0 catches up on t-0 [0,3,1], now led by 3, which adds it back to the ISR.
    const p0 = state.partition('t', 0)!;
    expect(p0).toMatchObject({ leader: 3, isr: [3, 1] });
    apply(
      state,
      alterPartition(state, {
        brokerId: 3,
        brokerEpoch: 0,
        topic: 't',
        partition: 0,
        leaderEpoch: p0.leaderEpoch,
        partitionEpoch: p0.partitionEpoch,
        newIsr: [3, 1, 0],
        joiningEpochs: [{ brokerId: 0, brokerEpoch: 1 }],
      }).records,
    );
    const led = [...state.allPartitions()].filter(({ partition }) => partition.leader === 3).map(({ partition }) => partition.partition);
    expect(led.length).toBeGreaterThan(0);
    const { reply, offlineLeaderships } = shutDown(state, 3);
    expect(reply).toEqual({ remainingLeaderships: 0 });
    expect(offlineLeaderships).toBe(0);
    for (const p of led) {
      const ps = state.partition('t', p)!;
      expect(ps.leader).not.toBe(-1);
      expect(state.isEligible(ps.leader)).toBe(true);
    }
    // The first broker, back in the ISR and first in the replica list, takes t-0 over.
    expect(state.partition('t', 0)).toMatchObject({ leader: 0, isr: [1, 0] });
  });

  it('does not hand leadership to another broker that is shutting down', () => {
    const state = withTopic(clusterOf(), { name: 't', partitions: 1, replicationFactor: 3 }); // [0,3,1]
    state.sessions.get(3)!.shuttingDown = true;
    apply(state, controlledShutdown(state, 0, 0).records);
    expect(state.partition('t', 0)).toMatchObject({ leader: 1, isr: [3, 1] });
  });

  it('refuses a stale epoch', () => {
    const state = clusterOf();
    expect(codeOf(() => controlledShutdown(state, 0, 5))).toBe('STALE_BROKER_EPOCH');
  });
});

describe('setBrokerConfig', () => {
  it.each([
    [{ 'follower.replication.throttled.rate': 1024 }, 'no error', { 'follower.replication.throttled.rate': 1024 }],
    [{ 'follower.replication.throttled.rate': -1 }, 'no error', {}],
    [{ 'follower.replication.throttled.rate': 0 }, 'INVALID_CONFIG', null],
    [{ 'follower.replication.throttled.rate': 1.5 }, 'INVALID_CONFIG', null],
    [{ 'leader.replication.throttled.rate': 10 }, 'no error', { 'follower.replication.throttled.rate': 7, 'leader.replication.throttled.rate': 10 }],
    [{ 'replica.fetch.max.bytes': 10 }, 'INVALID_CONFIG', null],
  ])('%j -> %s', (configs, code, expected) => {
    const state = clusterOf([[1, 'r1']]);
    apply(state, setBrokerConfig(state, { brokerId: 1, configs: { 'follower.replication.throttled.rate': 7 } }));
    expect(codeOf(() => apply(state, setBrokerConfig(state, { brokerId: 1, configs })))).toBe(code);
    if (expected) expect(state.brokers.get(1)!.configs).toEqual(expected);
  });

  it('refuses an unknown broker', () => {
    expect(codeOf(() => setBrokerConfig(clusterOf([[1, 'r1']]), { brokerId: 2, configs: {} }))).toBe('INVALID_REQUEST');
  });
});
