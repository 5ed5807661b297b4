import { describe, expect, it } from 'vitest';
import { fenceBroker, registerBroker } from './broker-registry.ts';
import { Draft } from './cluster-state.ts';
import { electPreferredLeaders } from './election.ts';
import { alterPartition } from './isr.ts';
import type { ClusterState } from './cluster-state.ts';
import { apply, clusterOf, registration, withTopic } from './internal/fixtures.ts';

// One partition with replicas [0, 3, 1] (the seed's P0), fenced brokers one after another.
function p0(unclean = false) {
  return withTopic(clusterOf(), { name: 't', partitions: 1, replicationFactor: 3, configs: { 'unclean.leader.election.enable': unclean } });
}

/**
 * Fences a broker and then, as each partition's leader would after replica.lag.time.max.ms,
 * shrinks it out of the ISR of the partitions it follows (AlterPartition).
 */
function fenceAndShrink(state: ClusterState, id: number): void {
  apply(state, fenceBroker(state, id));
  for (const { topic, partition } of [...state.allPartitions()]) {
    if (partition.leader === id || !partition.isr.includes(id) || partition.leader === -1) continue;
    const leaderEpoch = state.brokers.get(partition.leader)!.epoch;
    apply(
      state,
      alterPartition(state, {
        brokerId: partition.leader,
        brokerEpoch: leaderEpoch,
        topic: topic.name,
        partition: partition.partition,
        leaderEpoch: partition.leaderEpoch,
        partitionEpoch: partition.partitionEpoch,
        newIsr: partition.isr.filter((r) => r !== id),
      }).records,
    );
  }
}

describe('elections when brokers are fenced', () => {
  it.each([
    // [fenced in order, expected { leader, leaderEpoch, partitionEpoch, isr }]
    ['leader dies: next ISR member in replica order leads', [0], { leader: 3, leaderEpoch: 1, partitionEpoch: 1, isr: [3, 1] }],
    // A follower stays in the ISR until its leader's lag rule takes it out (10 s, not the 3 s session).
    ['follower dies: nothing changes until the leader shrinks the ISR', [1], { leader: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [0, 3, 1] }],
    ['two die: the last ISR member leads', [0, 3], { leader: 1, leaderEpoch: 2, partitionEpoch: 2, isr: [1] }],
    ['last ISR member dies: offline, it stays in the ISR', [0, 3, 1], { leader: -1, leaderEpoch: 3, partitionEpoch: 3, isr: [1] }],
    ['a broker outside the partition dies: nothing changes', [2], { leader: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [0, 3, 1] }],
  ] as const)('%s', (_name, fenced, expected) => {
    const state = p0();
    for (const id of fenced) apply(state, fenceBroker(state, id));
    expect(state.partition('t', 0)).toMatchObject(expected);
  });

  it('skips a live replica that is not in the ISR', () => {
    const state = p0();
    fenceAndShrink(state, 3); // ISR [0, 1]
    apply(state, registerBroker(state, registration(3, 'rack-2', 'inc-3b')).records); // back, not in the ISR
    apply(state, fenceBroker(state, 0));
    expect(state.partition('t', 0)).toMatchObject({ leader: 1, isr: [1] });
  });

  it('with no live ISR member and unclean election off, stays offline even if a replica lives', () => {
    const state = p0(false);
    fenceAndShrink(state, 3); // ISR [0, 1]
    fenceAndShrink(state, 1); // ISR [0]
    apply(state, registerBroker(state, registration(3, 'rack-2', 'inc-3b')).records); // live, out of sync
    apply(state, fenceBroker(state, 0));
    expect(state.partition('t', 0)).toMatchObject({ leader: -1, isr: [0] });
  });

  it('with unclean election on, elects a live out-of-sync replica and makes it the ISR', () => {
    const state = p0(true);
    fenceAndShrink(state, 3);
    fenceAndShrink(state, 1);
    apply(state, registerBroker(state, registration(3, 'rack-2', 'inc-3b')).records);
    const before = state.partition('t', 0)!.leaderEpoch;
    apply(state, fenceBroker(state, 0));
    expect(state.partition('t', 0)).toMatchObject({ leader: 3, leaderEpoch: before + 1, isr: [3] });
  });

  it('with unclean election on, an offline partition takes the first replica that comes back', () => {
    const state = p0(true);
    for (const id of [3, 1, 0]) fenceAndShrink(state, id);
    expect(state.partition('t', 0)).toMatchObject({ leader: -1, isr: [0] });
    apply(state, registerBroker(state, registration(1, 'rack-1', 'inc-1b')).records);
    expect(state.partition('t', 0)).toMatchObject({ leader: 1, isr: [1] });
  });

  it('an offline partition gets its ISR member back as leader when it registers', () => {
    const state = p0();
    for (const id of [0, 3, 1]) apply(state, fenceBroker(state, id));
    const offline = { ...state.partition('t', 0)! };
    expect(offline.leader).toBe(-1);
    // A returning broker that was not in the ISR does not lead.
    apply(state, registerBroker(state, registration(3, 'rack-2', 'inc-3b')).records);
    expect(state.partition('t', 0)!.leader).toBe(-1);
    // The last ISR member returns (same incarnation: unfenced) and leads at a new epoch.
    const { records } = registerBroker(state, registration(1, 'rack-1'));
    expect(records.map((r) => r.type)).toEqual(['UnfenceBroker', 'PartitionChange']);
    apply(state, records);
    expect(state.partition('t', 0)).toMatchObject({ leader: 1, leaderEpoch: offline.leaderEpoch + 1, partitionEpoch: offline.partitionEpoch + 1, isr: [1] });
  });

  it('a fenced broker loses its leaderships and leaves those ISRs, but stays in the ISRs where it follows', () => {
    const state = withTopic(clusterOf(), { name: 't', partitions: 10, replicationFactor: 3 });
    apply(state, fenceBroker(state, 4));
    for (const { partition } of state.allPartitions()) {
      expect(partition.leader).not.toBe(4);
      expect(partition.isr).toContain(partition.leader);
    }
    // P1 [3,1,4]: follower, untouched until its leader shrinks the ISR; P3 [4,2,5]: leader moved to 2.
    expect(state.partition('t', 1)).toMatchObject({ leader: 3, leaderEpoch: 0, partitionEpoch: 0, isr: [3, 1, 4] });
    expect(state.partition('t', 3)).toMatchObject({ leader: 2, leaderEpoch: 1, isr: [2, 5] });
  });
});

describe("a broker's death spreads its leaderships", () => {
  it('demo keeps the seed walkthrough: B0 dies, B3 takes P0 and P6 (both [0,3,1])', () => {
    const state = withTopic(clusterOf(), { name: 'demo', partitions: 10, replicationFactor: 3 }, 'id-demo', 'topic');
    const records = fenceBroker(state, 0);
    apply(state, records);
    expect([0, 6].map((p) => state.partition('demo', p)!.leader)).toEqual([3, 3]);
  });

  it("other topics: the first live ISR member in replica order is elected, and the placement's shift makes that every broker of the other rack", () => {
    const state = withTopic(clusterOf(), { name: 'big', partitions: 3000, replicationFactor: 3 }, 'id-big', 'topic');
    const led = [...state.allPartitions()].filter(({ partition }) => partition.leader === 0).map(({ partition }) => partition.partition);
    expect(led).toHaveLength(500);
    const records = fenceBroker(state, 0);
    // One decision: the fence and every election in one batch of records (one append, one fsync).
    expect(records.filter((r) => r.type === 'PartitionChange')).toHaveLength(500);
    apply(state, records);
    const newLeaders = new Map<number, number>();
    for (const p of led) {
      const partition = state.partition('big', p)!;
      // Preferred order first: the first replica after the dead one.
      expect(partition.leader).toBe(partition.replicas.find((r) => r !== 0));
      newLeaders.set(partition.leader, (newLeaders.get(partition.leader) ?? 0) + 1);
    }
    expect([...newLeaders.keys()].sort()).toEqual([3, 4, 5]);
    expect(Math.max(...newLeaders.values())).toBeLessThanOrEqual(500 * 0.4);
  });
});

describe('preferred leader election', () => {
  it('returns leadership to the first replica once it is back in the ISR', () => {
    const state = p0();
    apply(state, fenceBroker(state, 0)); // leader 3
    apply(state, registerBroker(state, registration(0, 'rack-1', 'inc-0b')).records);
    let draft = new Draft(state);
    expect(electPreferredLeaders(draft)).toEqual([]); // 0 is alive but not in the ISR yet
    // The leader adds 0 back to the ISR (AlterPartition, applied here directly).
    const p = state.partition('t', 0)!;
    apply(state, [
      {
        type: 'PartitionChange',
        topic: 't',
        topicId: 'id-t',
        partition: 0,
        leader: 3,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch + 1,
        isr: [3, 1, 0],
      },
    ]);
    draft = new Draft(state);
    expect(electPreferredLeaders(draft)).toEqual([{ topic: 't', partition: 0, leader: 0 }]);
    apply(state, draft.records);
    expect(state.partition('t', 0)).toMatchObject({ leader: 0, leaderEpoch: 2, isr: [3, 1, 0] });
  });

  it('leaves a partition alone when the preferred replica is fenced or shutting down', () => {
    const state = p0();
    const p = state.partition('t', 0)!;
    apply(state, [
      { type: 'PartitionChange', topic: 't', topicId: 'id-t', partition: 0, leader: 3, leaderEpoch: 1, partitionEpoch: p.partitionEpoch + 1, isr: [0, 3, 1] },
    ]);
    state.sessions.get(0)!.shuttingDown = true;
    expect(electPreferredLeaders(new Draft(state))).toEqual([]);
    state.sessions.get(0)!.shuttingDown = false;
    expect(electPreferredLeaders(new Draft(state))).toEqual([{ topic: 't', partition: 0, leader: 0 }]);
  });

  it('only touches the selected partitions', () => {
    const state = withTopic(clusterOf(), { name: 't', partitions: 2, replicationFactor: 3 });
    for (const partition of [0, 1]) {
      const p = state.partition('t', partition)!;
      apply(state, [
        { type: 'PartitionChange', topic: 't', topicId: 'id-t', partition, leader: p.replicas[1]!, leaderEpoch: 1, partitionEpoch: 1, isr: [...p.isr] },
      ]);
    }
    const draft = new Draft(state);
    expect(electPreferredLeaders(draft, (_t, p) => p.partition === 1)).toEqual([{ topic: 't', partition: 1, leader: 3 }]);
  });
});
