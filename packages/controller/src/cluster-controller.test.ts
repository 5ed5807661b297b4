import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { FakeClock, tempDir } from '@tributary/testkit';
import { ClusterController, type AppliedRecord } from './cluster-controller.ts';
import { SEED_BROKERS, codeOf, registration } from './internal/fixtures.ts';
import { MemoryMetadataLog, type MetadataLog } from './metadata-log.ts';
import { SegmentMetadataLog } from './segment-metadata-log.ts';
import { PRODUCER_ID_BLOCK_SIZE } from './producer-ids.ts';

const logger = pino({ level: 'silent' });
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function controllerOn(log: MetadataLog, clock = new FakeClock(), extra: { clusterId?: string; sessionCheckIntervalMs?: number } = {}): ClusterController {
  let n = 0;
  return new ClusterController({
    log,
    logger,
    now: clock.now,
    newId: () => `topic-id-${n++}`,
    sessionTimeoutMs: 3000,
    autoLeaderRebalanceEnable: true,
    ...extra,
  });
}

function diskDir(): string {
  const { dir, cleanup } = tempDir('tributary-controller-');
  cleanups.push(cleanup);
  return dir;
}

/** A busy history: registrations, topics, a failure, an ISR change, producer ids, configs. */
function exercise(controller: ClusterController, clock: FakeClock): void {
  for (const [id, rack] of SEED_BROKERS) controller.registerBroker(registration(id, rack));
  controller.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3 });
  controller.createTopic({ name: 'gone', partitions: 1, replicationFactor: 1 });
  controller.deleteTopic('gone');
  controller.initProducerId();
  controller.setBrokerConfig({ brokerId: 2, configs: { 'follower.replication.throttled.rate': 4096 } });
  // Broker 0 stops heartbeating: fenced, its partitions move.
  clock.advance(2000);
  for (const id of [1, 2, 3, 4, 5]) controller.heartbeat({ brokerId: id, brokerEpoch: 0 });
  clock.advance(1500);
  controller.checkSessions();
  expect(controller.state.isAlive(0)).toBe(false);
  // The new leader of P1 [3,1,4] drops 4 from the ISR.
  const p1 = controller.state.partition('demo', 1)!;
  controller.alterPartition({
    brokerId: 3,
    brokerEpoch: 0,
    topic: 'demo',
    partition: 1,
    leaderEpoch: p1.leaderEpoch,
    partitionEpoch: p1.partitionEpoch,
    newIsr: [3, 1],
  });
}

describe('ClusterController', () => {
  it('writes a cluster id into an empty log, and refuses a different one later', () => {
    const log = new MemoryMetadataLog();
    const first = controllerOn(log, new FakeClock(), { clusterId: 'abc' });
    expect(first.metadata()).toEqual({ clusterId: 'abc', version: 1, brokers: [], topics: [] });
    first.close();
    expect(() => controllerOn(log.reopen(), new FakeClock(), { clusterId: 'other' })).toThrow(/does not match/);
    expect(controllerOn(log.reopen()).clusterId).toBe('abc');
    const generated = controllerOn(new MemoryMetadataLog());
    expect(generated.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it.each([
    [
      'memory',
      () => {
        const log = new MemoryMetadataLog();
        return { log, reopen: () => log.reopen() };
      },
    ],
    [
      'segment log on disk',
      () => {
        const dir = join(diskDir(), 'meta');
        return { log: SegmentMetadataLog.open(dir) as MetadataLog, reopen: () => SegmentMetadataLog.open(dir) };
      },
    ],
  ] as const)('replays to identical metadata and version (%s)', (_name, setup) => {
    const { log, reopen } = setup();
    const clock = new FakeClock();
    const controller = controllerOn(log, clock);
    exercise(controller, clock);
    const before = controller.metadata();
    expect(before.version).toBeGreaterThan(15);
    controller.close();
    const again = controllerOn(reopen(), clock);
    expect(again.metadata()).toEqual(before);
    expect(again.version).toBe(before.version);
    again.close();
  });

  it('never hands out a producer id twice, across restarts', () => {
    const dir = join(diskDir(), 'meta');
    const seen = new Set<number>();
    for (let restart = 0; restart < 3; restart++) {
      const controller = controllerOn(SegmentMetadataLog.open(dir));
      for (let i = 0; i < 5; i++) {
        const { producerId, producerEpoch } = controller.initProducerId();
        expect(producerEpoch).toBe(0);
        expect(seen.has(producerId)).toBe(false);
        seen.add(producerId);
      }
      controller.close();
    }
    expect([...seen]).toEqual([0, 1, 2, 3, 4, 1000, 1001, 1002, 1003, 1004, 2000, 2001, 2002, 2003, 2004]);
  });

  it('reserves a new block when one is spent', () => {
    const log = new MemoryMetadataLog();
    const controller = controllerOn(log);
    const versionBefore = controller.version;
    for (let i = 0; i < PRODUCER_ID_BLOCK_SIZE; i++) expect(controller.initProducerId().producerId).toBe(i);
    expect(controller.version).toBe(versionBefore + 1);
    expect(controller.initProducerId().producerId).toBe(PRODUCER_ID_BLOCK_SIZE);
    expect(controller.version).toBe(versionBefore + 2);
  });

  it('survives a torn write at the end of the metadata log', () => {
    const dir = join(diskDir(), 'meta');
    const controller = controllerOn(SegmentMetadataLog.open(dir));
    controller.registerBroker(registration(0, 'r1'));
    const before = controller.metadata();
    controller.close();
    const segment = readdirSync(dir).find((f) => f.endsWith('.log'))!;
    appendFileSync(join(dir, segment), Buffer.from([0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 200, 1, 2, 3]));
    const again = controllerOn(SegmentMetadataLog.open(dir));
    expect(again.metadata()).toEqual(before);
    again.registerBroker(registration(1, 'r1'));
    expect(again.version).toBe(before.version + 1);
    again.close();
  });

  it('applies nothing when the log refuses an append, and refuses every change after', () => {
    const log = new MemoryMetadataLog();
    const controller = controllerOn(log);
    const version = controller.version;
    log.failNextAppend = new Error('EIO: disk on fire');
    expect(codeOf(() => controller.registerBroker(registration(0, 'r1')))).toBe('KAFKA_STORAGE_ERROR');
    expect(controller.version).toBe(version);
    expect(controller.state.brokers.size).toBe(0);
    expect(codeOf(() => controller.registerBroker(registration(0, 'r1')))).toBe('KAFKA_STORAGE_ERROR');
    expect(codeOf(() => controller.heartbeat({ brokerId: 0, brokerEpoch: 0 }))).toBe('KAFKA_STORAGE_ERROR');
  });

  it('fences a broker when its heartbeats stop, and not before', () => {
    const clock = new FakeClock();
    const controller = controllerOn(new MemoryMetadataLog(), clock);
    controller.registerBroker(registration(0, 'r1'));
    for (let i = 0; i < 10; i++) {
      clock.advance(500);
      controller.heartbeat({ brokerId: 0, brokerEpoch: 0 });
      controller.checkSessions();
    }
    expect(controller.state.isAlive(0)).toBe(true);
    clock.advance(3000);
    controller.checkSessions();
    expect(controller.state.isAlive(0)).toBe(true);
    clock.advance(1);
    controller.checkSessions();
    expect(controller.state.isAlive(0)).toBe(false);
    expect(codeOf(() => controller.heartbeat({ brokerId: 0, brokerEpoch: 0 }))).toBe('STALE_BROKER_EPOCH');
    expect(controller.registerBroker(registration(0, 'r1'))).toEqual({ brokerEpoch: 0 });
    expect(controller.state.isAlive(0)).toBe(true);
  });

  it('does not fence brokers for the time its own loop was stalled, but does once they are really silent', () => {
    const clock = new FakeClock();
    const controller = controllerOn(new MemoryMetadataLog(), clock, { sessionCheckIntervalMs: 250 });
    controller.registerBroker(registration(0, 'r1'));
    controller.registerBroker(registration(1, 'r1'));
    const tick = (ms: number, beat: number[]) => {
      for (let t = 0; t < ms; t += 250) {
        clock.advance(250);
        for (const id of beat) controller.heartbeat({ brokerId: id, brokerEpoch: 0 });
        controller.checkSessions();
      }
    };
    tick(1000, [0, 1]);
    // Broker 1 dies just before the controller's loop blocks for 10 s (its session check fires
    // 10 s late, before the heartbeats queued meanwhile are read).
    tick(250, [0]);
    clock.advance(10_000);
    controller.checkSessions();
    expect([controller.state.isAlive(0), controller.state.isAlive(1)]).toEqual([true, true]);
    expect(controller.stalledMs).toBe(9750);
    // Broker 0's queued heartbeats arrive; broker 1 stays silent and is fenced once the
    // controller has been able to hear it for the session timeout.
    tick(2500, [0]);
    expect(controller.state.isAlive(1)).toBe(true);
    tick(750, [0]);
    expect([controller.state.isAlive(0), controller.state.isAlive(1)]).toEqual([true, false]);
  });

  it('without a check interval, every check is taken as on time (a jump of the clock is silence)', () => {
    const clock = new FakeClock();
    const controller = controllerOn(new MemoryMetadataLog(), clock);
    controller.registerBroker(registration(0, 'r1'));
    controller.checkSessions();
    clock.advance(10_000);
    controller.checkSessions();
    expect(controller.state.isAlive(0)).toBe(false);
  });

  it('gives live brokers a fresh session after a restart', () => {
    const clock = new FakeClock();
    const log = new MemoryMetadataLog();
    const first = controllerOn(log, clock);
    first.registerBroker(registration(0, 'r1'));
    first.close();
    clock.advance(60_000);
    const second = controllerOn(log.reopen(), clock);
    second.checkSessions();
    expect(second.state.isAlive(0)).toBe(true);
    clock.advance(3001);
    second.checkSessions();
    expect(second.state.isAlive(0)).toBe(false);
  });

  it('controlled shutdown fences at once when nothing remains, and later heartbeats do not revive it', () => {
    const clock = new FakeClock();
    const controller = controllerOn(new MemoryMetadataLog(), clock);
    for (const [id, rack] of SEED_BROKERS) controller.registerBroker(registration(id, rack));
    controller.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3 });
    expect(controller.controlledShutdown({ brokerId: 0, brokerEpoch: 0 })).toEqual({ remainingLeaderships: 0 });
    expect(controller.state.isAlive(0)).toBe(false);
    expect(controller.heartbeat({ brokerId: 0, brokerEpoch: 0 }).metadataVersion).toBe(controller.version);
    expect(controller.state.isAlive(0)).toBe(false);
    // Registering again (a new start) clears the shutdown.
    controller.registerBroker(registration(0, 'rack-1', 'inc-0b'));
    expect(controller.state.isEligible(0)).toBe(true);
  });

  it('rebalances leaders to preferred replicas when asked and on its timer', () => {
    const clock = new FakeClock();
    const controller = controllerOn(new MemoryMetadataLog(), clock);
    for (const [id, rack] of SEED_BROKERS) controller.registerBroker(registration(id, rack));
    controller.createTopic({ name: 'demo', partitions: 1, replicationFactor: 3 }); // [0,3,1]
    controller.controlledShutdown({ brokerId: 0, brokerEpoch: 0 });
    controller.registerBroker(registration(0, 'rack-1', 'inc-0b'));
    let p = controller.state.partition('demo', 0)!;
    expect(p.leader).toBe(3);
    controller.alterPartition({
      brokerId: 3,
      brokerEpoch: 0,
      topic: 'demo',
      partition: 0,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch,
      newIsr: [3, 1, 0],
      joiningEpochs: [{ brokerId: 0, brokerEpoch: 1 }],
    });
    expect(controller.electLeaders({ topic: 'demo', partitions: [0] })).toEqual({ elected: [{ partition: 0, leader: 0 }] });
    expect(controller.electLeaders({ topic: 'demo' })).toEqual({ elected: [] });
    expect(codeOf(() => controller.electLeaders({ topic: 'nope' }))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    // Move it away again and let the timer's call bring it back.
    p = controller.state.partition('demo', 0)!;
    controller.controlledShutdown({ brokerId: 0, brokerEpoch: 1 });
    controller.registerBroker(registration(0, 'rack-1', 'inc-0c'));
    p = controller.state.partition('demo', 0)!;
    controller.alterPartition({
      brokerId: p.leader,
      brokerEpoch: 0,
      topic: 'demo',
      partition: 0,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch,
      newIsr: [...p.isr, 0],
      joiningEpochs: [{ brokerId: 0, brokerEpoch: 2 }],
    });
    controller.rebalanceLeaders();
    expect(controller.state.partition('demo', 0)!.leader).toBe(0);
  });

  it('tells subscribers what changed, with the partition state before', () => {
    const controller = controllerOn(new MemoryMetadataLog());
    const seen: AppliedRecord[] = [];
    controller.subscribe((applied) => seen.push(...applied));
    for (const [id, rack] of SEED_BROKERS) controller.registerBroker(registration(id, rack));
    controller.createTopic({ name: 'demo', partitions: 1, replicationFactor: 3 });
    controller.alterPartition({ brokerId: 0, brokerEpoch: 0, topic: 'demo', partition: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: [0, 3] });
    const change = seen.at(-1)!;
    expect(change.record).toMatchObject({ type: 'PartitionChange', isr: [0, 3], partitionEpoch: 1 });
    expect(change.before).toMatchObject({ isr: [0, 3, 1], partitionEpoch: 0 });
  });

  it("a broker's death is one append: the fence and every election of its partitions; a batched AlterPartition is one append", () => {
    const clock = new FakeClock();
    const log = new MemoryMetadataLog();
    let appends = 0;
    const append = log.append.bind(log);
    log.append = (records) => {
      appends++;
      append(records);
    };
    const controller = controllerOn(log, clock);
    for (const [id, rack] of SEED_BROKERS) controller.registerBroker(registration(id, rack));
    controller.createTopic({ name: 'many', partitions: 600, replicationFactor: 3 });
    const led = [...controller.state.allPartitions()].filter(({ partition }) => partition.leader === 0).length;
    expect(led).toBe(100);
    appends = 0;
    const version = controller.version;
    clock.advance(2000);
    for (const id of [1, 2, 3, 4, 5]) controller.heartbeat({ brokerId: id, brokerEpoch: 0 });
    clock.advance(1500);
    controller.checkSessions();
    expect(appends).toBe(1);
    expect(controller.version).toBe(version + 1 + led);
    // Broker 3 shrinks broker 0 out of every ISR it leads, in one request: one append.
    const shrinks = [...controller.state.allPartitions()]
      .filter(({ partition }) => partition.leader === 3 && partition.isr.includes(0))
      .map(({ partition }) => ({
        topic: 'many',
        partition: partition.partition,
        leaderEpoch: partition.leaderEpoch,
        partitionEpoch: partition.partitionEpoch,
        newIsr: partition.isr.filter((r) => r !== 0),
      }));
    expect(shrinks.length).toBeGreaterThan(20);
    appends = 0;
    const reply = controller.alterPartitions({ brokerId: 3, brokerEpoch: 0, partitions: shrinks });
    expect(appends).toBe(1);
    expect(reply.partitions.every((p) => p.error === undefined && !p.state!.isr.includes(0))).toBe(true);
  });
});
