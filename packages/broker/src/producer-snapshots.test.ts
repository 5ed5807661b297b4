// Producer-state snapshots at segment roll: a replica that must rebuild its idempotent-producer
// table reads the log only after the newest snapshot; one that already has it (it led, or it
// followed since) reads nothing on a leader change.

import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_TOPIC_CONFIGS, encodeBatch, type PartitionState, type TopicConfigs } from '@tributary/protocol';
import { Log, logConfigFromTopic } from '@tributary/storage';
import { tempDir } from '@tributary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
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
    expect(messages.filter((m) => m === 'producer state rebuilt')).toHaveLength(1);

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
    expect(messages.filter((m) => m === 'producer state rebuilt')).toHaveLength(1);
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
    expect(messages.filter((m) => m === 'producer state rebuilt')).toHaveLength(1);
    expect(readdirSync(p.log.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
