// The idempotent producer after a sequence gap (KIP-360), against the fake cluster, whose
// partitions keep producer state by the broker's rules: the producer bumps its epoch and sends
// the records again instead of failing them, exactly once and in order, and never sends a batch
// that may already be in the log under the new epoch.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '@tributary/testkit';
import { decodeBatch, readBatchHeader } from '@tributary/protocol';
import { Producer } from '../src/index.ts';
import { FakeCluster } from './fake-cluster.ts';

let cluster: FakeCluster;
let producer: Producer;

beforeEach(async () => {
  cluster = await FakeCluster.start(3);
  cluster.createTopic('t', 3); // leaders: t-0 on broker 0, t-1 on 1, t-2 on 2
});
afterEach(async () => {
  await producer?.close().catch(() => {});
  await cluster.close();
});

/** One record per batch, sent at once. */
function newProducer(options: { deliveryTimeoutMs?: number } = {}): Producer {
  producer = new Producer({ bootstrap: cluster.bootstrap, lingerMs: 0, batchSize: 1, ...options });
  return producer;
}

/** Every attempt at sending `value` to `partition`: the header of the batch that carried it. */
function attemptsOf(value: string, partition = 0) {
  return cluster.produceCalls.flatMap((c) =>
    c.request.partitions
      .filter((p) => p.partition === partition && decodeBatch(p.records).records.some((r) => r.value?.toString() === value))
      .map((p) => ({ broker: c.broker, bytes: p.records, ...readBatchHeader(p.records) })),
  );
}

const firstValue = (records: Buffer) => decodeBatch(records).records[0]?.value?.toString();

describe('the idempotent producer after a sequence gap (KIP-360)', () => {
  it('an acknowledged batch lost in a failover: the next batches go again under a bumped epoch, exactly once and in order', async () => {
    newProducer();
    await producer.send({ topic: 't', value: 'w', partition: 0 });
    await producer.send({ topic: 't', value: 'a', partition: 0 });
    // Broker 2 takes over without 'a' (an unclean election): its log ends after 'w'.
    cluster.failover('t', 0, 2, 1);
    const results = await Promise.all(['b', 'c', 'd'].map((value) => producer.send({ topic: 't', value, partition: 0 })));
    expect(results.map((r) => r.offset)).toEqual([1, 2, 3]);
    expect(cluster.values('t', 0)).toEqual(['w', 'b', 'c', 'd']);
    // 'b' was refused for the gap under epoch 0 (sequence 2; once more, as it directly follows
    // the last acknowledged batch and answers may cross), then went as epoch 1, sequence 0; the
    // same producer id: the epoch was bumped locally, not by init-producer-id.
    const b = attemptsOf('b');
    expect(b.filter((x) => x.broker === 2).map((x) => [x.producerEpoch, x.baseSequence])).toEqual([
      [0, 2],
      [0, 2],
      [1, 0],
    ]);
    expect(new Set(b.map((x) => x.producerId))).toEqual(new Set([1000]));
    expect(cluster.initProducerIdCalls).toBe(1);
    for (const v of ['c', 'd']) expect(attemptsOf(v).at(-1)).toMatchObject({ producerId: 1000, producerEpoch: 1 });
  });

  it('a batch that failed for good left a gap: the batches sealed after it are re-sequenced, not failed (the demo case)', async () => {
    newProducer({ deliveryTimeoutMs: 1500 });
    await producer.send({ topic: 't', value: 'w', partition: 0 });
    // 'a' is refused (not appended) until its delivery timeout: tries at ~0, 100, 300, 700 ms,
    // and the next backoff (800 ms) would pass 1500 ms, so it fails after the fourth.
    cluster.onProduce = (_broker, _topic, partition, _attempt, records) =>
      partition === 0 && firstValue(records) === 'a' ? { code: 'NOT_ENOUGH_REPLICAS', message: 'isr 1 < min.insync.replicas 2' } : undefined;
    const a = producer.send({ topic: 't', value: 'a', partition: 0 }).catch((err: unknown) => err);
    await eventually(() => attemptsOf('a').length >= 3, { timeoutMs: 5000, intervalMs: 5 });
    // 'b' and 'c' (one batch: it fills while 'a' waits) are sealed after 'a' (sequence 2) and ride
    // along with its last attempt, where the leader refuses them for the gap 'a' leaves.
    const rest = ['b', 'c'].map((value) => producer.send({ topic: 't', value, partition: 0 }));
    expect(await a).toMatchObject({ code: 'NOT_ENOUGH_REPLICAS', message: expect.stringContaining('delivery timeout') });
    expect((await Promise.all(rest)).map((r) => r.offset)).toEqual([1, 2]);
    expect(cluster.values('t', 0)).toEqual(['w', 'b', 'c']);
    expect(attemptsOf('b').map((x) => [x.producerEpoch, x.baseSequence, x.recordCount])).toEqual([
      [0, 2, 2],
      [1, 0, 2],
    ]);
    expect(attemptsOf('c').map((x) => x.bytes)).toEqual(attemptsOf('b').map((x) => x.bytes));
  });

  it('a batch that failed for good but is in the log is never sent again, and the batches after it keep their bytes', async () => {
    newProducer({ deliveryTimeoutMs: 1500 });
    await producer.send({ topic: 't', value: 'w', partition: 0 });
    // 'a' is appended but never acknowledged (a timeout), then refused until its delivery timeout.
    cluster.onProduce = (_broker, _topic, partition, attempt, records) => {
      if (partition !== 0 || firstValue(records) !== 'a') return undefined;
      return attempt === 2 ? 'append-then-timeout' : { code: 'NOT_ENOUGH_REPLICAS', message: 'isr 1 < min.insync.replicas 2' };
    };
    const a = producer.send({ topic: 't', value: 'a', partition: 0 }).catch((err: unknown) => err);
    await eventually(() => attemptsOf('a').length >= 3, { timeoutMs: 5000, intervalMs: 5 });
    const b = producer.send({ topic: 't', value: 'b', partition: 0 });
    expect(await a).toMatchObject({ code: 'NOT_ENOUGH_REPLICAS' });
    expect((await b).offset).toBe(2);
    // 'a' failing moved the producer to epoch 1; 'c' is the partition's first batch under it.
    expect((await producer.send({ topic: 't', value: 'c', partition: 0 })).offset).toBe(3);
    expect(cluster.values('t', 0)).toEqual(['w', 'a', 'b', 'c']);
    const aBytes = attemptsOf('a').map((x) => x.bytes);
    expect(aBytes.every((bytes) => bytes.equals(aBytes[0]!))).toBe(true);
    expect(attemptsOf('b').map((x) => [x.producerEpoch, x.baseSequence])).toEqual([[0, 2]]);
    expect(attemptsOf('c').map((x) => [x.producerEpoch, x.baseSequence])).toEqual([[1, 0]]);
  });

  it("another partition's batch that may be in the log is retried with its old bytes across the bump, and de-duplicated", async () => {
    newProducer();
    await producer.send({ topic: 't', value: 'w0', partition: 0 });
    await producer.send({ topic: 't', value: 'a', partition: 0 });
    await producer.send({ topic: 't', value: 'w1', partition: 1 });
    // On t-1, 'x' is appended but its answer is a timeout; its retries are refused until the
    // producer has bumped its epoch for t-0's gap.
    const bumped = () => cluster.produceCalls.some((c) => c.request.partitions.some((p) => readBatchHeader(p.records).producerEpoch === 1));
    cluster.onProduce = (_broker, _topic, partition, attempt, records) => {
      if (partition !== 1 || firstValue(records) !== 'x') return undefined;
      if (attempt === 2) return 'append-then-timeout';
      return bumped() ? undefined : { code: 'NOT_ENOUGH_REPLICAS', message: 'not yet' };
    };
    const x = producer.send({ topic: 't', value: 'x', partition: 1 });
    await eventually(() => attemptsOf('x', 1).length >= 1, { timeoutMs: 5000, intervalMs: 5 });
    cluster.failover('t', 0, 2, 1);
    expect((await producer.send({ topic: 't', value: 'b', partition: 0 })).offset).toBe(1);
    expect(bumped()).toBe(true);
    expect((await x).offset).toBe(1);
    expect((await producer.send({ topic: 't', value: 'y', partition: 1 })).offset).toBe(2);
    expect(cluster.values('t', 1)).toEqual(['w1', 'x', 'y']);
    // Every attempt at 'x' carried the same bytes (epoch 0); 'y' opened epoch 1 on t-1 at sequence 0.
    const xBytes = attemptsOf('x', 1).map((a) => a.bytes);
    expect(xBytes.length).toBeGreaterThan(2);
    expect(xBytes.every((bytes) => bytes.equals(xBytes[0]!))).toBe(true);
    expect(readBatchHeader(xBytes[0]!)).toMatchObject({ producerEpoch: 0, baseSequence: 1 });
    expect(attemptsOf('y', 1).map((a) => [a.producerEpoch, a.baseSequence])).toEqual([[1, 0]]);
  });

  it('takes a new producer id from init-producer-id when the epoch would overflow', async () => {
    cluster.initProducerEpoch = 32767;
    newProducer();
    await producer.send({ topic: 't', value: 'w', partition: 0 });
    await producer.send({ topic: 't', value: 'a', partition: 0 });
    cluster.failover('t', 0, 2, 1);
    expect((await producer.send({ topic: 't', value: 'b', partition: 0 })).offset).toBe(1);
    expect(cluster.initProducerIdCalls).toBe(2);
    expect(attemptsOf('b').at(-1)).toMatchObject({ producerId: 1001, producerEpoch: 32767, baseSequence: 0 });
    expect(cluster.values('t', 0)).toEqual(['w', 'b']);
  });
});
