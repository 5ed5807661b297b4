// Producer-state snapshots at segment roll: a replica that must rebuild its idempotent-producer
// table reads the log only after the newest snapshot; one that already has it (it led, or it
// followed since) reads nothing on a leader change.

import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_TOPIC_CONFIGS, encodeBatch, type PartitionState, type TopicConfigs } from '@tributary/protocol';
import { Log, logConfigFromTopic } from '@tributary/storage';
import { tempDir } from '@tributary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundWork } from './background-work.ts';
import { Partition } from './partition.ts';
import { loadProducerSnapshot, producerSnapshotOffsets, writeProducerSnapshot } from './producer-snapshots.ts';

const CONFIGS: TopicConfigs = { ...DEFAULT_TOPIC_CONFIGS, 'segment.bytes': 4096, 'min.insync.replicas': 1 };
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function dir(): string {
  const t = tempDir('tributary-producer-snapshots-');
  cleanups.push(t.cleanup);
  return t.dir;
}

const entry = (producerId: number, lastSeq: number) => ({
  producerId,
  epoch: 0,
  lastAppendMs: 5,
  batches: [{ firstSeq: lastSeq, lastSeq, baseOffset: lastSeq, lastOffset: lastSeq }],
});

describe('producer-state snapshot files', () => {
  it('keeps the newest two; loads the newest readable one within [log start, log end]; drops those past the end', () => {
    const d = dir();
    for (const offset of [10, 20, 30]) writeProducerSnapshot(d, offset, [entry(1, offset)]);
    expect(producerSnapshotOffsets(d)).toEqual([30, 20]);
    expect(loadProducerSnapshot(d, 0, 100)).toEqual({ offset: 30, entries: [entry(1, 30)] });
    // A torn newest one: the one before stands in.
    writeFileSync(join(d, `${'30'.padStart(20, '0')}.producer-snapshot`), Buffer.from('torn'));
    expect(loadProducerSnapshot(d, 0, 100)?.offset).toBe(20);
    // The log was cut back below 30: that one goes; below the log start none applies.
    expect(loadProducerSnapshot(d, 0, 25)?.offset).toBe(20);
    expect(producerSnapshotOffsets(d)).toEqual([20]);
    expect(loadProducerSnapshot(d, 21, 25)).toBeUndefined();
  });
});

function idempotentBatch(producerId: number, baseSequence: number, value: string): Buffer {
  return encodeBatch([{ value: Buffer.from(value) }], { producerId, producerEpoch: 0, baseSequence });
}

function partitionOn(logDir: string, messages: string[]): Partition {
  const log = Log.open(logDir, logConfigFromTopic(CONFIGS));
  cleanups.push(() => log.close());
  return new Partition('p', 0, 'id', log, CONFIGS, 0, {
    brokerId: 0,
    replicaLagTimeMaxMs: 10_000,
    logger: { info: (_o, m) => messages.push(m), warn: (_o, m) => messages.push(m) },
    proposeIsr: () => {},
  });
}

function state(leader: number, leaderEpoch: number): PartitionState {
  return { topic: 'p', partition: 0, replicas: [0, 1], addingReplicas: [], removingReplicas: [], leader, leaderEpoch, partitionEpoch: leaderEpoch, isr: [0] };
}

describe('producer state across rolls and leader changes', () => {
  it('writes a snapshot at each roll; a rebuild reads only the log after the newest; retries from before it are still answered', () => {
    const logDir = join(dir(), 'p-0');
    const messages: string[] = [];
    const p = partitionOn(logDir, messages);
    p.applyState(state(0, 1), CONFIGS, () => true, 0);
    const offsets: number[] = [];
    for (let seq = 0; seq < 200; seq++) offsets.push(p.appendAsLeader(idempotentBatch(7, seq, `value-${seq}`.padEnd(100, '.')), false).baseOffset);
    const snapshots = producerSnapshotOffsets(logDir);
    expect(snapshots.length).toBe(2);
    expect(snapshots[0]).toBe(p.log.segmentBaseOffsets().at(-1));
    // The log was empty when opened: the table was loaded (empty) from the start, nothing read.
    expect(messages.filter((m) => m === 'producer state rebuilt')).toHaveLength(0);

    // Another process opens the same log (a restart) and leads: it rebuilds from the snapshot.
    p.shutdown();
    (p.log as Log).close();
    const rebuilt: { bytesRead: number; fromSnapshot: number | null }[] = [];
    const log = Log.open(logDir, logConfigFromTopic(CONFIGS));
    cleanups.push(() => log.close());
    const q = new Partition('p', 0, 'id', log, CONFIGS, 0, {
      brokerId: 0,
      replicaLagTimeMaxMs: 10_000,
      logger: { info: (o, m) => m === 'producer state rebuilt' && rebuilt.push(o as never), warn: () => {} },
      proposeIsr: () => {},
    });
    q.applyState(state(0, 2), CONFIGS, () => true, 0);
    // The last batch, retried: answered with its original offset, not appended again.
    expect(q.appendAsLeader(idempotentBatch(7, 199, `value-199`.padEnd(100, '.')), false)).toMatchObject({ baseOffset: offsets[199], duplicate: true });
    expect(rebuilt).toHaveLength(1);
    expect(rebuilt[0]!.fromSnapshot).toBe(snapshots[0]);
    expect(rebuilt[0]!.bytesRead).toBeLessThan(log.sizeInBytes / 4);
    expect(q.appendAsLeader(idempotentBatch(7, 200, 'next'), false).duplicate).toBe(false);
    expect(() => q.appendAsLeader(idempotentBatch(7, 205, 'gap'), false)).toThrow(/OUT_OF_ORDER_SEQUENCE_NUMBER|expected sequence/);
  });

  it('a replica that has the table keeps it: leader -> follower (appending as follower) -> leader reads nothing', () => {
    const messages: string[] = [];
    const p = partitionOn(join(dir(), 'p-0'), messages);
    p.applyState(state(0, 1), CONFIGS, () => true, 0);
    for (let seq = 0; seq < 5; seq++) p.appendAsLeader(idempotentBatch(7, seq, `v${seq}`), false);
    expect(messages.filter((m) => m === 'producer state rebuilt')).toHaveLength(0);
    p.applyState(state(1, 2), CONFIGS, () => true, 0);
    // The new leader appends producer 7's next batch and another producer's; this follower copies them.
    const from = p.log.logEndOffset;
    const copied = Buffer.concat([
      encodeBatch([{ value: Buffer.from('v5') }], { producerId: 7, producerEpoch: 0, baseSequence: 5, baseOffset: from, partitionLeaderEpoch: 2 }),
      encodeBatch([{ value: Buffer.from('w0') }], { producerId: 8, producerEpoch: 0, baseSequence: 0, baseOffset: from + 1, partitionLeaderEpoch: 2 }),
    ]);
    p.log.epochs.assign(2, from);
    p.applyFetchResponse({ topic: 'p', partition: 0, highWatermark: from + 2, logStartOffset: 0, records: copied }, from, 2);
    expect(p.log.logEndOffset).toBe(from + 2);
    p.applyState(state(0, 3), CONFIGS, () => true, 0);
    expect(p.appendAsLeader(idempotentBatch(8, 0, 'w0'), false)).toMatchObject({ baseOffset: from + 1, duplicate: true });
    expect(p.appendAsLeader(idempotentBatch(7, 6, 'v6'), false).duplicate).toBe(false);
    expect(messages.filter((m) => m === 'producer state rebuilt')).toHaveLength(0);
    expect(readdirSync(p.log.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('a follower that never led keeps the table from its empty log, and writes snapshots at its rolls: leading later reads nothing', () => {
    const messages: string[] = [];
    const p = partitionOn(join(dir(), 'p-0'), messages);
    p.applyState(state(1, 1), CONFIGS, () => true, 0);
    p.log.epochs.assign(1, 0);
    let seq = 0;
    while (p.log.segmentCount < 3) {
      const from = p.log.logEndOffset;
      const b = encodeBatch([{ value: Buffer.from(`v${seq}`.padEnd(200, '.')) }], {
        producerId: 9,
        producerEpoch: 0,
        baseSequence: seq,
        baseOffset: from,
        partitionLeaderEpoch: 1,
      });
      p.applyFetchResponse({ topic: 'p', partition: 0, highWatermark: from + 1, logStartOffset: 0, records: b }, from, 1);
      seq++;
    }
    expect(producerSnapshotOffsets(p.log.dir).length).toBe(2);
    p.applyState(state(0, 2), CONFIGS, () => true, 0);
    expect(p.appendAsLeader(idempotentBatch(9, seq - 1, `v${seq - 1}`.padEnd(200, '.')), false)).toMatchObject({ duplicate: true });
    expect(p.appendAsLeader(idempotentBatch(9, seq, 'next'), false).duplicate).toBe(false);
    expect(messages.filter((m) => m === 'producer state rebuilt')).toHaveLength(0);
  });

  it('a log already on disk is loaded in the background, a slice per turn, appends during the load included; a leader append mid-way finishes it', () => {
    const logDir = join(dir(), 'p-0');
    const first = partitionOn(logDir, []);
    first.applyState(state(0, 1), CONFIGS, () => true, 0);
    for (let seq = 0; seq < 300; seq++) first.appendAsLeader(idempotentBatch(7, seq, `value-${seq}`.padEnd(100, '.')), false);
    first.shutdown();
    (first.log as Log).close();
    // No snapshots: the whole log is read, in slices of 8 KiB.
    for (const offset of producerSnapshotOffsets(logDir)) rmSync(join(logDir, `${String(offset).padStart(20, '0')}.producer-snapshot`));

    const open = () => {
      const rebuilt: { bytesRead: number; background: boolean }[] = [];
      const log = Log.open(logDir, logConfigFromTopic(CONFIGS));
      // One slice per turn.
      const background = new BackgroundWork({ turnBudgetMs: 0 });
      const q = new Partition('p', 0, 'id', log, CONFIGS, 0, {
        brokerId: 0,
        replicaLagTimeMaxMs: 10_000,
        logger: { info: (o, m) => m === 'producer state rebuilt' && rebuilt.push(o as never), warn: () => {} },
        proposeIsr: () => {},
        background,
        producerLoadSliceBytes: 8 * 1024,
      });
      return { q, log, rebuilt, background };
    };

    // As a follower: a few slices, then a batch copied from the leader, then the rest.
    const a = open();
    expect(a.background.pending).toBe(1);
    a.q.applyState(state(1, 2), CONFIGS, () => true, 0);
    a.background.runTurn();
    a.background.runTurn();
    expect(a.rebuilt).toEqual([]);
    const from = a.log.logEndOffset;
    a.log.epochs.assign(2, from);
    const copied = encodeBatch([{ value: Buffer.from('w0') }], { producerId: 8, producerEpoch: 0, baseSequence: 0, baseOffset: from, partitionLeaderEpoch: 2 });
    a.q.applyFetchResponse({ topic: 'p', partition: 0, highWatermark: from + 1, logStartOffset: 0, records: copied }, from, 2);
    let turns = 2;
    while (a.background.pending > 0) {
      a.background.runTurn();
      turns++;
    }
    expect(turns).toBeGreaterThan(3);
    expect(a.rebuilt).toEqual([expect.objectContaining({ background: true, bytesRead: a.log.sizeInBytes })]);
    // Leading now: producer 8's batch (copied during the load) and producer 7's last are known; nothing read again.
    a.q.applyState(state(0, 3), CONFIGS, () => true, 0);
    expect(a.q.appendAsLeader(idempotentBatch(8, 0, 'w0'), false)).toMatchObject({ baseOffset: from, duplicate: true });
    expect(a.q.appendAsLeader(idempotentBatch(7, 299, `value-299`.padEnd(100, '.')), false)).toMatchObject({ duplicate: true });
    expect(a.rebuilt).toHaveLength(1);
    a.q.shutdown();
    a.log.close();

    // As a leader before the load is done: the first idempotent batch finishes it on the spot, from where it got.
    const b = open();
    cleanups.push(() => b.log.close());
    b.background.runTurn();
    b.q.applyState(state(0, 4), CONFIGS, () => true, 0);
    expect(b.q.appendAsLeader(idempotentBatch(8, 0, 'w0'), false)).toMatchObject({ baseOffset: from, duplicate: true });
    expect(b.rebuilt).toEqual([expect.objectContaining({ background: false, bytesRead: b.log.sizeInBytes })]);
    // The background slice left in the queue sees the load done and stops.
    b.background.runTurn();
    expect(b.background.pending).toBe(0);
    expect(b.rebuilt).toHaveLength(1);
  });
});
