import { describe, expect, it } from 'vitest';
import { TributaryError, type AlterPartitionBatchResponse, type AlterPartitionItem, type PartitionState } from '@tributary/protocol';
import { ALTER_PARTITION_BATCH_LIMITS, AlterPartitionManager, AlterPartitionQueue, itemBytes, itemElements } from './alter-partition-manager.ts';

const item = (partition: number, newIsr = [0, 1], topic = 't'): AlterPartitionItem => ({ topic, partition, leaderEpoch: 0, partitionEpoch: 0, newIsr });

function stateOf(i: AlterPartitionItem): PartitionState {
  return {
    topic: i.topic,
    partition: i.partition,
    replicas: [0, 1, 2],
    addingReplicas: [],
    removingReplicas: [],
    leader: 0,
    leaderEpoch: 0,
    partitionEpoch: 1,
    isr: i.newIsr,
  };
}

describe('AlterPartitionQueue', () => {
  it('keeps one proposal per partition: a newer one replaces the queued one and goes to the back', () => {
    const q = new AlterPartitionQueue<string>();
    expect(q.add(item(0), 'a')).toBeUndefined();
    expect(q.add(item(1), 'b')).toBeUndefined();
    expect(q.add(item(0, [0]), 'c')).toBe('a');
    expect(q.take().map((e) => [e.item.partition, e.waiter])).toEqual([
      [1, 'b'],
      [0, 'c'],
    ]);
    expect(q.size).toBe(0);
  });

  it.each([
    ['partitionsMax', { ...ALTER_PARTITION_BATCH_LIMITS, partitionsMax: 3 }, 3],
    ['elementsMax', { ...ALTER_PARTITION_BATCH_LIMITS, elementsMax: 8 + 4 * itemElements(item(0)) }, 4],
    ['bytesMax', { ...ALTER_PARTITION_BATCH_LIMITS, bytesMax: 64 + 5 * itemBytes(item(0)) }, 5],
  ])('cuts batches at %s, oldest first, never empty', (_name, limits, size) => {
    const q = new AlterPartitionQueue<number>();
    for (let p = 0; p < 10; p++) q.add(item(p), p);
    const first = q.take(limits);
    expect(first.map((e) => e.waiter)).toEqual(Array.from({ length: size }, (_, i) => i));
    expect(q.size).toBe(10 - size);
    // An item bigger than the whole budget still goes, alone.
    const tiny = { partitionsMax: 1, elementsMax: 1, bytesMax: 1 };
    expect(q.take(tiny)).toHaveLength(1);
  });

  it('the default limits keep a batch of RF-3 proposals under the controller body limits (64 KiB, 16,384 values)', () => {
    const q = new AlterPartitionQueue<number>();
    for (let p = 0; p < 5000; p++)
      q.add({ ...item(p, [0, 1, 2], `topic-with-a-long-name-${'x'.repeat(40)}`), joiningEpochs: [{ brokerId: 2, brokerEpoch: 1 }] }, p);
    for (let batch = q.take(); batch.length > 0; batch = q.take()) {
      const elements = 8 + batch.reduce((n, e) => n + itemElements(e.item), 0);
      expect(elements).toBeLessThanOrEqual(16_384);
      expect(batch.reduce((n, e) => n + itemBytes(e.item), 64)).toBeLessThanOrEqual(64 * 1024);
    }
  });
});

describe('AlterPartitionManager', () => {
  it('sends proposals made in one pass together, holds later ones while a request is in flight, then sends them in one', async () => {
    const sent: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const manager = new AlterPartitionManager({
      send: async (partitions) => {
        sent.push(partitions.map((p) => p.partition));
        if (sent.length === 1) await gate;
        return {
          partitions: partitions.map((p) =>
            p.partition === 3 ? { ...p, error: new TributaryError('FENCED_LEADER_EPOCH', 'x').toWire() } : { ...p, state: stateOf(p) },
          ),
        };
      },
    });
    const first = [0, 1, 2].map((p) => manager.submit(item(p)));
    await new Promise((r) => setImmediate(r));
    const later = [3, 4].map((p) => manager.submit(item(p)));
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([[0, 1, 2]]);
    release();
    expect((await Promise.all(first)).map((s) => s.partition)).toEqual([0, 1, 2]);
    await expect(later[0]).rejects.toMatchObject({ code: 'FENCED_LEADER_EPOCH' });
    expect((await later[1]!).partitionEpoch).toBe(1);
    expect(sent).toEqual([
      [0, 1, 2],
      [3, 4],
    ]);
  });

  it('rejects every proposal of a request that failed whole, a replaced one, and the queued ones on close', async () => {
    let fail = true;
    const manager = new AlterPartitionManager({
      send: async (partitions): Promise<AlterPartitionBatchResponse> => {
        if (fail) throw new TributaryError('STALE_BROKER_EPOCH', 'register again');
        return { partitions: partitions.map((p) => ({ ...p, state: stateOf(p) })) };
      },
    });
    const both = [manager.submit(item(0)), manager.submit(item(1))];
    await expect(both[0]).rejects.toMatchObject({ code: 'STALE_BROKER_EPOCH' });
    await expect(both[1]).rejects.toMatchObject({ code: 'STALE_BROKER_EPOCH' });
    fail = false;
    const old = manager.submit(item(0, [0, 1]));
    const newer = manager.submit(item(0, [0]));
    await expect(old).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    expect((await newer).isr).toEqual([0]);
    const queued = manager.submit(item(5));
    manager.close();
    await expect(queued).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
    await expect(manager.submit(item(6))).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
  });
});
