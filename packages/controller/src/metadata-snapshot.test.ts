import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { nodeFs, type StorageFs } from '@tributary/storage';
import { FakeClock, tempDir } from '@tributary/testkit';
import { ClusterController } from './cluster-controller.ts';
import { SEED_BROKERS, registration } from './internal/fixtures.ts';
import { MemoryMetadataLog, type MetadataLog } from './metadata-log.ts';
import { SnapshotStore, decodeSnapshot, encodeSnapshot, snapshotOf, stateFromSnapshot } from './metadata-snapshot.ts';
import { SegmentMetadataLog } from './segment-metadata-log.ts';

const logger = pino({ level: 'silent' });
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function dir(): string {
  const t = tempDir('tributary-snapshot-');
  cleanups.push(t.cleanup);
  return t.dir;
}

function open(log: MetadataLog, snapshots: SnapshotStore | undefined, clock: FakeClock, intervalRecords = 1_000_000): ClusterController {
  let n = 0;
  return new ClusterController({
    log,
    logger,
    now: clock.now,
    newId: () => `id-${clock.now()}-${n++}`,
    clusterId: 'snap',
    sessionTimeoutMs: 3000,
    autoLeaderRebalanceEnable: false,
    ...(snapshots ? { snapshots, snapshotIntervalRecords: intervalRecords } : {}),
  });
}

/** A history with every kind of record, a reassignment left in progress and producer ids handed out. */
function busy(c: ClusterController, clock: FakeClock, rounds = 3): void {
  for (const [id, rack] of SEED_BROKERS) c.registerBroker(registration(id, rack));
  for (let r = 0; r < rounds; r++) {
    c.createTopic({ name: `t${r}`, partitions: 20, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
    c.createPartitions({ topic: `t${r}`, totalCount: 24 });
    c.alterConfigs({ resource: { topic: `t${r}` }, set: { 'retention.ms': 1000 * (r + 1) }, delete: [] });
    c.initProducerId();
    c.setBrokerConfig({ brokerId: r % 6, configs: { 'leader.replication.throttled.rate': 1000 + r } });
    // Broker r leaves and comes back as a new process; its leaderships move.
    clock.advance(10);
    c.controlledShutdown({ brokerId: r, brokerEpoch: c.state.brokers.get(r)!.epoch });
    c.registerBroker(registration(r, SEED_BROKERS[r]![1], `inc-${r}-${r}`));
    const leader = c.state.partition(`t${r}`, 1)!;
    c.alterPartitions({
      brokerId: leader.leader,
      brokerEpoch: c.state.brokers.get(leader.leader)!.epoch,
      partitions: [{ topic: `t${r}`, partition: 1, leaderEpoch: leader.leaderEpoch, partitionEpoch: leader.partitionEpoch, newIsr: [leader.leader] }],
    });
  }
  c.createTopic({ name: 'gone', partitions: 1, replicationFactor: 1 });
  c.deleteTopic('gone');
  // Security (issue 20): users and ACLs, one of each removed again.
  for (const name of ['alice', 'bob'])
    c.alterUserScramCredentials({
      upsertions: [{ name, mechanism: 'SCRAM-SHA-512', iterations: 4096, salt: Buffer.from(`salt-${name}`), saltedPassword: Buffer.alloc(64, name.length) }],
    });
  c.alterUserScramCredentials({ deletions: [{ name: 'bob', mechanism: 'SCRAM-SHA-512' }] });
  const acl = { host: '*', operation: 'Write', permission: 'Allow', resourceType: 'Topic', resourceName: 't0', patternType: 'Literal' } as const;
  c.createAcls({
    creations: [
      { ...acl, principal: 'User:alice' },
      { ...acl, principal: 'User:bob' },
    ],
  });
  c.deleteAcls({ filters: [{ principal: 'User:bob' }] });
  expect([c.state.scramCredentials.size, c.state.acls.size]).toEqual([1, 1]);
  // A reassignment that stays in progress (its target replica 5 never joins the ISR here).
  const p0 = c.state.partition('t0', 0)!;
  const outside = [0, 1, 2, 3, 4, 5].find((b) => !p0.replicas.includes(b))!;
  c.alterPartitionReassignments({ partitions: [{ topic: 't0', partition: 0, replicas: [outside, ...p0.replicas.slice(1)] }] });
  expect(c.state.reassigning.size).toBe(1);
}

/** Metadata, version and the unpublished state a restart must rebuild the same. */
function image(c: ClusterController) {
  return {
    metadata: c.metadata(),
    version: c.version,
    reassigning: [...c.state.reassigning.values()],
    producerIdBlock: [c.state.producerIdBlockFirst, c.state.producerIdBlockEnd],
    aclsVersion: c.state.aclsVersion,
  };
}

describe('metadata snapshots', () => {
  it('encode and decode to the same state; a torn or flipped file is refused', () => {
    const clock = new FakeClock();
    const c = open(new MemoryMetadataLog(), undefined, clock);
    busy(c, clock);
    const snapshot = snapshotOf(c.state);
    const bytes = encodeSnapshot(snapshot);
    const state = stateFromSnapshot(decodeSnapshot(bytes));
    expect(state.toMetadata()).toEqual(c.state.toMetadata());
    expect(state.toMetadata().acls).toHaveLength(1);
    expect(state.toMetadata().scramCredentials).toHaveLength(1);
    expect(state.aclsVersion).toBe(c.state.aclsVersion);
    expect([...state.reassigning.values()]).toEqual([...c.state.reassigning.values()]);
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 1))).toThrow();
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 5]! ^= 1;
    expect(() => decodeSnapshot(flipped)).toThrow();
  });

  it('a restart loads the newest snapshot and replays only the tail, to identical metadata; producer ids never repeat', () => {
    const clock = new FakeClock();
    const logDir = join(dir(), 'log');
    const snapDir = join(dir(), 'snapshots');
    const c = open(SegmentMetadataLog.open(logDir, { segmentBytes: 4096 }), new SnapshotStore(snapDir), clock, 50);
    busy(c, clock, 6);
    const before = image(c);
    const handedOut = c.initProducerId().producerId;
    const after = image(c);
    c.close();
    // Snapshots were written along the way, two kept, and the log's old segments dropped.
    const kept = new SnapshotStore(snapDir).versions();
    expect(kept).toHaveLength(2);
    const reopenedLog = SegmentMetadataLog.open(logDir, { segmentBytes: 4096 });
    expect(reopenedLog.logStartOffset).toBeGreaterThan(0);
    expect(reopenedLog.logStartOffset).toBeLessThanOrEqual(Math.min(...kept));
    const again = open(reopenedLog, new SnapshotStore(snapDir), clock, 50);
    expect(image(again)).toEqual(after);
    expect(before.version).toBeLessThan(after.version + 1);
    expect(again.replayStats.snapshotVersion).toBe(kept[0]);
    expect(again.replayStats.records).toBe(again.version - kept[0]!);
    expect(again.initProducerId().producerId).toBeGreaterThan(handedOut);
    // The reassignment still completes from where it was.
    expect(again.state.reassigning.size).toBe(1);
    again.close();
  });

  it('a crash at any step of writing a snapshot leaves a state that loads to identical metadata', () => {
    // Count the mutating calls one snapshot write makes, then crash at each of them in turn.
    let calls = 0;
    const count = <T>(fn: () => T): T => {
      calls++;
      return fn();
    };
    const counting: StorageFs = {
      ...nodeFs,
      openSync: (p, f) => count(() => nodeFs.openSync(p, f)),
      writeSync: (fd, b, o, l, pos) => count(() => nodeFs.writeSync(fd, b, o, l, pos)),
      fsyncSync: (fd) => count(() => nodeFs.fsyncSync(fd)),
      closeSync: (fd) => count(() => nodeFs.closeSync(fd)),
      renameSync: (a, b) => count(() => nodeFs.renameSync(a, b)),
      unlinkSync: (p) => count(() => nodeFs.unlinkSync(p)),
    };
    {
      const clock = new FakeClock();
      const c = open(new MemoryMetadataLog(), new SnapshotStore(join(dir(), 's'), { fs: counting }), clock);
      busy(c, clock, 1);
      calls = 0;
      c.writeSnapshot();
      c.writeSnapshot();
      c.initProducerId();
      c.writeSnapshot();
    }
    const steps = calls;
    expect(steps).toBeGreaterThan(15);
    for (let crashAt = 1; crashAt <= steps; crashAt++) {
      const clock = new FakeClock();
      const logDir = join(dir(), 'log');
      const snapDir = join(dir(), 'snapshots');
      let n = 0;
      let crashed = false;
      const step = <T>(fn: () => T): T => {
        n++;
        if (crashed || n === crashAt) {
          crashed = true;
          throw new Error(`crash at step ${crashAt}`);
        }
        return fn();
      };
      const crashing: StorageFs = {
        ...nodeFs,
        openSync: (p, f) => step(() => nodeFs.openSync(p, f)),
        writeSync: (fd, b, o, l, pos) => step(() => nodeFs.writeSync(fd, b, o, l, pos)),
        fsyncSync: (fd) => step(() => nodeFs.fsyncSync(fd)),
        closeSync: (fd) => step(() => nodeFs.closeSync(fd)),
        renameSync: (a, b) => step(() => nodeFs.renameSync(a, b)),
        unlinkSync: (p) => step(() => nodeFs.unlinkSync(p)),
      };
      const c = open(SegmentMetadataLog.open(logDir, { segmentBytes: 2048 }), new SnapshotStore(snapDir, { fs: nodeFs }), clock);
      busy(c, clock, 1);
      // Swap in the crashing disk for the snapshot writes only (the log is the controller's own).
      (c as unknown as { snapshots: SnapshotStore }).snapshots = new SnapshotStore(snapDir, { fs: crashing });
      n = 0;
      c.writeSnapshot();
      c.writeSnapshot();
      c.initProducerId();
      c.writeSnapshot();
      const expected = image(c);
      // The process dies here: nothing is closed. A new one starts on what is on disk.
      const again = open(SegmentMetadataLog.open(logDir, { segmentBytes: 2048 }), new SnapshotStore(snapDir), clock);
      expect(image(again), `crash at step ${crashAt} of ${steps}`).toEqual(expected);
      expect(readdirSync(snapDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      again.close();
      c.close();
    }
  });

  it('an unreadable newest snapshot falls back to the one before and a longer tail; none readable over a truncated log refuses to start', () => {
    const clock = new FakeClock();
    const logDir = join(dir(), 'log');
    const snapDir = join(dir(), 'snapshots');
    const c = open(SegmentMetadataLog.open(logDir, { segmentBytes: 2048 }), new SnapshotStore(snapDir), clock, 40);
    busy(c, clock, 6);
    const expected = image(c);
    c.close();
    const [newest, older] = new SnapshotStore(snapDir).versions();
    const file = (v: number) => join(snapDir, `${String(v).padStart(20, '0')}.snapshot`);
    const bytes = readFileSync(file(newest!));
    writeFileSync(file(newest!), bytes.subarray(0, bytes.length >> 1));
    const again = open(SegmentMetadataLog.open(logDir, { segmentBytes: 2048 }), new SnapshotStore(snapDir), clock, 1_000_000);
    expect(image(again)).toEqual(expected);
    expect(again.replayStats.snapshotVersion).toBe(older);
    again.close();
    writeFileSync(file(older!), Buffer.from('not a snapshot'));
    expect(() => open(SegmentMetadataLog.open(logDir, { segmentBytes: 2048 }), new SnapshotStore(snapDir), clock)).toThrow(/no readable snapshot/);
  });
});
