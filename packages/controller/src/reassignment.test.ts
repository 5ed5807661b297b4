import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { FakeClock } from '@tributary/testkit';
import type { AlterPartitionRequest, PartitionState } from '@tributary/protocol';
import { fenceBroker, registerBroker } from './broker-registry.ts';
import { ClusterController } from './cluster-controller.ts';
import { Draft, type ClusterState } from './cluster-state.ts';
import { electPreferredLeaders } from './election.ts';
import { apply, clusterOf, codeOf, registration, withTopic } from './internal/fixtures.ts';
import { alterPartition } from './isr.ts';
import { MemoryMetadataLog } from './metadata-log.ts';
import { alterPartitionReassignments, completeReassignments, listPartitionReassignments, reassignmentReplicas } from './reassignment.ts';
import type { MetadataRecord } from './records.ts';

// The seed's six brokers plus broker 6 (rack-1); topic t: P0 = [0,3,1], P1 = [3,1,4], min ISR 2.
function seven(configs: Record<string, string | number | boolean> = {}): ClusterState {
  const state = withTopic(clusterOf(), { name: 'demo', partitions: 2, replicationFactor: 3, configs });
  apply(state, registerBroker(state, registration(6, 'rack-1')).records);
  return state;
}

function reassign(state: ClusterState, partition: number, replicas: number[] | null, topic = 'demo') {
  return alterPartitionReassignments(state, { partitions: [{ topic, partition, replicas }] });
}

/** Applies a reassignment request that must be accepted whole. */
function accept(state: ClusterState, partition: number, replicas: number[] | null): MetadataRecord[] {
  const decision = reassign(state, partition, replicas);
  expect(decision.reply.partitions.map((p) => p.error?.code)).toEqual([undefined]);
  apply(state, decision.records);
  return decision.records;
}

/** The leader's AlterPartition, as its lag and catch-up rules would send it. */
function isrChange(state: ClusterState, partition: number, newIsr: number[]) {
  const p = state.partition('demo', partition)!;
  const joiningEpochs = newIsr.filter((id) => !p.isr.includes(id)).map((id) => ({ brokerId: id, brokerEpoch: state.brokers.get(id)!.epoch }));
  const request: AlterPartitionRequest = {
    brokerId: p.leader,
    brokerEpoch: state.brokers.get(p.leader)!.epoch,
    topic: 'demo',
    partition,
    leaderEpoch: p.leaderEpoch,
    partitionEpoch: p.partitionEpoch,
    newIsr,
    joiningEpochs,
  };
  return alterPartition(state, request);
}

function view(p: PartitionState | undefined) {
  return (
    p && {
      replicas: p.replicas,
      addingReplicas: p.addingReplicas,
      removingReplicas: p.removingReplicas,
      leader: p.leader,
      isr: p.isr,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch,
    }
  );
}

describe("KIP-455's replica arithmetic", () => {
  it.each([
    // [current, target, merged replicas, adding, removing]
    ['replace one', [0, 3, 1], [6, 3, 1], [6, 3, 1, 0], [6], [0]],
    ['move all', [0, 3, 1], [4, 2, 5], [4, 2, 5, 0, 3, 1], [4, 2, 5], [0, 3, 1]],
    ['grow', [0, 3], [0, 3, 1], [0, 3, 1], [1], []],
    ['shrink', [0, 3, 1], [3], [3, 0, 1], [], [0, 1]],
    ['reorder', [0, 3, 1], [1, 0, 3], [1, 0, 3], [], []],
  ] as const)('%s', (_name, current, target, replicas, adding, removing) => {
    expect(reassignmentReplicas(current, target)).toEqual({ replicas, adding, removing });
  });
});

describe('reassignment state machine', () => {
  it('start: target first, then the replicas leaving; leader and ISR unchanged; one record', () => {
    const state = seven();
    const records = accept(state, 0, [6, 3, 1]);
    expect(records).toHaveLength(1);
    expect(view(state.partition('demo', 0))).toEqual({
      replicas: [6, 3, 1, 0],
      addingReplicas: [6],
      removingReplicas: [0],
      leader: 0,
      isr: [0, 3, 1],
      leaderEpoch: 0,
      partitionEpoch: 1,
    });
    expect(listPartitionReassignments(state)).toEqual([{ topic: 'demo', partition: 0, replicas: [6, 3, 1, 0], addingReplicas: [6], removingReplicas: [0] }]);
    expect(listPartitionReassignments(state, ['other'])).toEqual([]);
  });

  it('waits while a target replica is outside the ISR: nothing to complete', () => {
    const state = seven();
    accept(state, 0, [6, 3, 1]);
    expect(completeReassignments(state)).toEqual([]);
  });

  it('complete: the expansion that brings the last target replica in completes it in the same decision, and the leaving leader hands over', () => {
    const state = seven();
    accept(state, 0, [6, 3, 1]);
    const decision = isrChange(state, 0, [0, 3, 1, 6]);
    expect(decision.records).toHaveLength(2);
    expect(decision.records[0]).toMatchObject({ type: 'PartitionChange', isr: [0, 3, 1, 6], leader: 0 });
    expect(decision.records[0]).not.toHaveProperty('replicas');
    apply(state, decision.records);
    // Leader 0 leaves: the first eligible target replica in the ISR leads, epoch + 1.
    expect(view(state.partition('demo', 0))).toEqual({
      replicas: [6, 3, 1],
      addingReplicas: [],
      removingReplicas: [],
      leader: 6,
      isr: [3, 1, 6],
      leaderEpoch: 1,
      partitionEpoch: 3,
    });
    // The leader is answered with the partition as completed.
    expect(view(decision.reply)).toEqual(view(state.partition('demo', 0)));
    expect(listPartitionReassignments(state)).toEqual([]);
  });

  it('complete: a leader that stays keeps leading, at the same leader epoch', () => {
    const state = seven();
    accept(state, 1, [3, 1, 6]); // P1 = [3,1,4]: 4 leaves, the leader 3 stays
    apply(state, isrChange(state, 1, [3, 1, 4, 6]).records);
    expect(view(state.partition('demo', 1))).toEqual({
      replicas: [3, 1, 6],
      addingReplicas: [],
      removingReplicas: [],
      leader: 3,
      isr: [3, 1, 6],
      leaderEpoch: 0,
      partitionEpoch: 3,
    });
  });

  it('waits for every target replica, not only the added ones, so the ISR after completion is the whole target', () => {
    const state = seven();
    apply(state, isrChange(state, 0, [0, 1]).records); // 3 fell behind
    accept(state, 0, [6, 3, 1]);
    apply(state, isrChange(state, 0, [0, 1, 6]).records);
    expect(state.partition('demo', 0)).toMatchObject({ replicas: [6, 3, 1, 0], isr: [0, 1, 6] });
    const last = isrChange(state, 0, [0, 1, 6, 3]);
    expect(last.records).toHaveLength(2);
    apply(state, last.records);
    expect(state.partition('demo', 0)).toMatchObject({ replicas: [6, 3, 1], isr: [1, 6, 3], leader: 6 });
  });

  it('shrinking the replication factor completes at once when the target is in sync', () => {
    const state = seven();
    const records = accept(state, 0, [3, 1]);
    expect(records).toHaveLength(2);
    expect(view(state.partition('demo', 0))).toMatchObject({
      replicas: [3, 1],
      addingReplicas: [],
      removingReplicas: [],
      leader: 3,
      isr: [3, 1],
      leaderEpoch: 1,
    });
  });

  it('a reordering is one record, no reassignment in progress; the preferred leader follows', () => {
    const state = seven();
    expect(accept(state, 0, [1, 0, 3])).toHaveLength(1);
    expect(view(state.partition('demo', 0))).toMatchObject({ replicas: [1, 0, 3], addingReplicas: [], removingReplicas: [], leader: 0 });
    const draft = new Draft(state);
    expect(electPreferredLeaders(draft)).toEqual([{ topic: 'demo', partition: 0, leader: 1 }]);
  });

  it('the same list is no change at all', () => {
    const state = seven();
    expect(accept(state, 0, [0, 3, 1])).toEqual([]);
  });

  it('a leaving leader with no eligible target replica in the ISR waits; a returning one completes it (broker change)', () => {
    const clock = new FakeClock();
    const log = new MemoryMetadataLog();
    const controller = controllerOn(log, clock);
    // Fenced followers stay in the ISR until the leader's lag rule removes them.
    clock.advance(2000);
    for (const id of [0, 2, 4, 5, 6]) controller.heartbeat({ brokerId: id, brokerEpoch: 0 });
    clock.advance(1500);
    controller.checkSessions(); // 1 and 3 fenced
    expect(controller.state.partition('demo', 0)).toMatchObject({ leader: 0, isr: [0, 3, 1] });
    controller.alterPartitionReassignments({ partitions: [{ topic: 'demo', partition: 0, replicas: [3, 1] }] });
    expect(controller.state.partition('demo', 0)).toMatchObject({ replicas: [3, 1, 0], removingReplicas: [0], leader: 0 });
    controller.resumeReassignments();
    expect(controller.state.partition('demo', 0)!.removingReplicas).toEqual([0]);
    controller.registerBroker(registration(3, 'rack-2')); // the same process, unfenced
    expect(view(controller.state.partition('demo', 0))).toMatchObject({ replicas: [3, 1], leader: 3, isr: [3, 1] });
  });
});

function controllerOn(log: MemoryMetadataLog, clock = new FakeClock()): ClusterController {
  const controller = new ClusterController({
    log,
    logger: pino({ level: 'silent' }),
    now: clock.now,
    newId: () => 'id-t',
    clusterId: 'c',
    sessionTimeoutMs: 3000,
    autoLeaderRebalanceEnable: false,
  });
  if (controller.state.topics.size === 0) {
    for (const [id, rack] of [
      [0, 'rack-1'],
      [1, 'rack-1'],
      [2, 'rack-1'],
      [3, 'rack-2'],
      [4, 'rack-2'],
      [5, 'rack-2'],
    ] as const)
      controller.registerBroker(registration(id, rack));
    controller.createTopic({ name: 'demo', partitions: 2, replicationFactor: 3 });
    controller.registerBroker(registration(6, 'rack-1'));
  }
  return controller;
}

describe('a controller restart in every state of a reassignment', () => {
  /** Replays `log` into a new controller and returns P0 as it stands after start-up. */
  function restart(log: MemoryMetadataLog, before: ClusterController) {
    const metadata = before.metadata();
    before.close();
    const again = controllerOn(log.reopen());
    return { again, replayedEqual: JSON.stringify(again.metadata().topics) === JSON.stringify(metadata.topics) };
  }

  it('after start: replays into the reassignment, which goes on', () => {
    const log = new MemoryMetadataLog();
    const c = controllerOn(log);
    c.alterPartitionReassignments({ partitions: [{ topic: 'demo', partition: 0, replicas: [6, 3, 1] }] });
    const { again, replayedEqual } = restart(log, c);
    expect(replayedEqual).toBe(true);
    expect(again.state.partition('demo', 0)).toMatchObject({ replicas: [6, 3, 1, 0], addingReplicas: [6], removingReplicas: [0] });
    // The list from before the start is rebuilt by the replay too (a cancel restores it).
    expect([...again.state.reassigning.values()]).toEqual([{ topic: 'demo', partition: 0, originalReplicas: [0, 3, 1] }]);
    const p = again.state.partition('demo', 0)!;
    again.alterPartition({
      brokerId: 0,
      brokerEpoch: 0,
      topic: 'demo',
      partition: 0,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch,
      newIsr: [0, 3, 1, 6],
      joiningEpochs: [{ brokerId: 6, brokerEpoch: 0 }],
    });
    expect(again.state.partition('demo', 0)).toMatchObject({ replicas: [6, 3, 1], leader: 6 });
  });

  it('after the ISR change but before completion (a crash between them): completes at start', () => {
    const log = new MemoryMetadataLog();
    const c = controllerOn(log);
    c.alterPartitionReassignments({ partitions: [{ topic: 'demo', partition: 0, replicas: [6, 3, 1] }] });
    // An ISR change whose completion did not reach the log.
    const decision = isrChange(c.state, 0, [0, 3, 1, 6]);
    log.append([decision.records[0]!]);
    const versionInLog = log.recordCount;
    const { again } = restart(log, c);
    expect(again.state.partition('demo', 0)).toMatchObject({ replicas: [6, 3, 1], addingReplicas: [], removingReplicas: [], leader: 6, isr: [3, 1, 6] });
    expect(log.recordCount).toBe(versionInLog + 1);
    expect(again.state.reassigning.size).toBe(0);
  });

  it('after completion and after cancel: replays to the same state, nothing left to do', () => {
    for (const finish of ['complete', 'cancel'] as const) {
      const log = new MemoryMetadataLog();
      const c = controllerOn(log);
      c.alterPartitionReassignments({ partitions: [{ topic: 'demo', partition: 0, replicas: [6, 3, 1] }] });
      if (finish === 'complete') {
        const p = c.state.partition('demo', 0)!;
        c.alterPartition({
          brokerId: 0,
          brokerEpoch: 0,
          topic: 'demo',
          partition: 0,
          leaderEpoch: p.leaderEpoch,
          partitionEpoch: p.partitionEpoch,
          newIsr: [0, 3, 1, 6],
          joiningEpochs: [{ brokerId: 6, brokerEpoch: 0 }],
        });
      } else {
        c.alterPartitionReassignments({ partitions: [{ topic: 'demo', partition: 0, replicas: null }] });
      }
      const count = log.recordCount;
      const { again, replayedEqual } = restart(log, c);
      expect(replayedEqual).toBe(true);
      expect(log.recordCount).toBe(count);
      expect(again.state.reassigning.size).toBe(0);
      expect(again.state.partition('demo', 0)!.replicas).toEqual(finish === 'complete' ? [6, 3, 1] : [0, 3, 1]);
    }
  });

  it('a metadata log written before reassignments existed replays with none in progress and default configs', () => {
    const log = new MemoryMetadataLog();
    const old = { topic: 'legacy', partition: 0, replicas: [0], leader: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [0] } as unknown as PartitionState;
    log.append([{ type: 'ClusterId', clusterId: 'c' }]);
    log.append([{ type: 'CreateTopic', name: 'legacy', topicId: 'l', configs: { 'min.insync.replicas': 1 } as never, partitions: [old] }]);
    log.append([{ type: 'PartitionChange', topic: 'legacy', topicId: 'l', partition: 0, leader: 0, leaderEpoch: 0, partitionEpoch: 1, isr: [0] }]);
    const c = new ClusterController({ log, logger: pino({ level: 'silent' }), sessionTimeoutMs: 3000, autoLeaderRebalanceEnable: false });
    const topic = c.metadata().topics[0]!;
    expect(topic.partitions[0]).toMatchObject({ replicas: [0], addingReplicas: [], removingReplicas: [] });
    expect(topic.configs['follower.replication.throttled.replicas']).toBe('');
    expect(topic.configs['retention.ms']).toBe(7 * 24 * 3600 * 1000);
    expect(c.state.reassigning.size).toBe(0);
  });
});

describe('cancel', () => {
  it('goes back to the original replica list, order included (Kafka keeps the merged order), and drops the adding ones from the ISR', () => {
    const state = seven();
    apply(state, isrChange(state, 0, [0, 1]).records); // 3 behind: completion must wait
    accept(state, 0, [6, 3, 1]);
    apply(state, isrChange(state, 0, [0, 1, 6]).records);
    accept(state, 0, null);
    expect(view(state.partition('demo', 0))).toMatchObject({ replicas: [0, 3, 1], addingReplicas: [], removingReplicas: [], leader: 0, isr: [0, 1] });
    expect(state.reassigning.size).toBe(0);
  });

  it('moves leadership back to an original replica when an adding one leads', () => {
    const state = seven();
    apply(state, isrChange(state, 0, [0, 1]).records);
    accept(state, 0, [6, 3, 1]);
    apply(state, isrChange(state, 0, [0, 1, 6]).records);
    const draft = new Draft(state);
    electPreferredLeaders(draft); // 6 is first in the list and in the ISR
    apply(state, draft.records);
    expect(state.partition('demo', 0)!.leader).toBe(6);
    accept(state, 0, null);
    // The first eligible original replica in the ISR: the preferred leader from before, again.
    expect(state.partition('demo', 0)).toMatchObject({ replicas: [0, 3, 1], leader: 0, leaderEpoch: 2, isr: [0, 1] });
  });

  it('is refused when no original replica is in sync, and when it would shrink the ISR below min ISR', () => {
    const state = seven();
    apply(state, isrChange(state, 0, [0, 1]).records);
    accept(state, 0, [6, 3, 1]);
    apply(state, isrChange(state, 0, [0, 1, 6]).records);
    apply(state, isrChange(state, 0, [0, 6]).records); // ISR [0,6]: cancelling leaves [0] < min ISR 2
    const before = view(state.partition('demo', 0));
    const belowMin = reassign(state, 0, null);
    expect(belowMin.reply.partitions[0]!.error?.code).toBe('INVALID_REPLICA_ASSIGNMENT');
    expect(belowMin.reply.partitions[0]!.error?.message).toMatch(/min.insync.replicas/);
    expect(belowMin.records).toEqual([]);
    const draft = new Draft(state);
    electPreferredLeaders(draft);
    apply(state, draft.records); // 6 leads
    apply(state, isrChange(state, 0, [6]).records); // and only 6 is in sync
    const none = reassign(state, 0, null);
    expect(none.reply.partitions[0]!.error).toMatchObject({
      code: 'INVALID_REPLICA_ASSIGNMENT',
      message: expect.stringMatching(/none of its original replicas/),
    });
    expect(none.records).toEqual([]);
    expect(view(state.partition('demo', 0))).toMatchObject({ replicas: before!.replicas, addingReplicas: [6] });
  });
});

describe('elections during a reassignment', () => {
  it('a lost leader is replaced by the first eligible ISR member of the merged list; an adding replica outside the ISR never leads', () => {
    const state = seven();
    accept(state, 0, [6, 3, 1]);
    apply(state, fenceBroker(state, 0));
    expect(state.partition('demo', 0)).toMatchObject({ replicas: [6, 3, 1, 0], leader: 3, isr: [3, 1], addingReplicas: [6] });
  });

  it('unclean election skips replicas being added (their logs may be empty)', () => {
    const state = seven({ 'unclean.leader.election.enable': true });
    accept(state, 0, [6, 3, 1]);
    // ISR [0] only: 3 and 1 fell behind.
    apply(state, isrChange(state, 0, [0]).records);
    apply(state, fenceBroker(state, 3));
    apply(state, fenceBroker(state, 1));
    apply(state, fenceBroker(state, 0));
    // Only 6 (adding) is alive: the partition stays offline rather than elect an empty log.
    expect(state.partition('demo', 0)).toMatchObject({ leader: -1, isr: [0] });
    apply(state, registerBroker(state, registration(1, 'rack-1', 'inc-1b')).records);
    expect(state.partition('demo', 0)).toMatchObject({ leader: 1, isr: [1] });
  });

  it('an offline partition (its leaving leader was the last in sync) does not complete: no target replica is in sync', () => {
    const state = seven();
    apply(state, isrChange(state, 0, [0]).records);
    accept(state, 0, [6, 3, 1]);
    apply(state, fenceBroker(state, 0)); // offline: 0 was the last ISR member
    expect(state.partition('demo', 0)).toMatchObject({ leader: -1, isr: [0] });
    expect(completeReassignments(state)).toEqual([]);
  });
});

describe('bad reassignments change nothing', () => {
  it.each([
    ['a broker that is not registered', [6, 3, 99], 'INVALID_REPLICA_ASSIGNMENT', /99, not registered/],
    ['a broker named twice', [6, 6, 1], 'INVALID_REPLICA_ASSIGNMENT', /names broker 6 twice/],
    ['an empty list', [], 'INVALID_REPLICA_ASSIGNMENT', /empty/],
    ['more replicas than brokers', [0, 1, 2, 3, 4, 5, 6, 7], 'INVALID_REPLICATION_FACTOR', /8 replicas, more than the 7 registered/],
  ] as const)('%s', (_name, target, code, message) => {
    const state = seven();
    const decision = reassign(state, 0, [...target]);
    expect(decision.records).toEqual([]);
    expect(decision.reply.partitions).toEqual([{ topic: 'demo', partition: 0, error: { code, message: expect.stringMatching(message) } }]);
  });

  it('an unknown topic or partition, a partition already being reassigned, and a cancel with nothing to cancel', () => {
    const state = seven();
    expect(reassign(state, 0, [6, 3, 1], 'nope').reply.partitions[0]!.error?.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(reassign(state, 7, [6, 3, 1]).reply.partitions[0]!.error?.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(reassign(state, 0, null).reply.partitions[0]!.error?.code).toBe('NO_REASSIGNMENT_IN_PROGRESS');
    accept(state, 0, [6, 3, 1]);
    const again = reassign(state, 0, [4, 3, 1]);
    expect(again.reply.partitions[0]!.error).toMatchObject({
      code: 'REASSIGNMENT_IN_PROGRESS',
      message: expect.stringMatching(/already being reassigned to \[6,3,1\]/),
    });
    expect(again.records).toEqual([]);
  });

  it('each partition is decided on its own: the good ones go ahead, the bad ones change nothing', () => {
    const state = seven();
    const decision = alterPartitionReassignments(state, {
      partitions: [
        { topic: 'demo', partition: 0, replicas: [6, 3, 99] },
        { topic: 'demo', partition: 1, replicas: [3, 1, 6] },
      ],
    });
    expect(decision.reply.partitions.map((p) => p.error?.code)).toEqual(['INVALID_REPLICA_ASSIGNMENT', undefined]);
    apply(state, decision.records);
    expect(state.partition('demo', 0)).toMatchObject({ replicas: [0, 3, 1], addingReplicas: [] });
    expect(state.partition('demo', 1)).toMatchObject({ replicas: [3, 1, 6, 4], addingReplicas: [6] });
  });

  it('the same partition twice in one request is refused whole', () => {
    const state = seven();
    expect(
      codeOf(() =>
        alterPartitionReassignments(state, {
          partitions: [
            { topic: 'demo', partition: 1, replicas: [3, 1, 6] },
            { topic: 'demo', partition: 1, replicas: null },
          ],
        }),
      ),
    ).toBe('INVALID_REQUEST');
  });
});
