// The broker's side of a reassignment (KIP-455), topic changes and the leader's replication quota
// (KIP-73), through the routes of one broker core: an adding replica follows from outside the ISR
// and is proposed for it once caught up; a replica moved away is deleted; new partitions open;
// topic configs apply live; throttled replicas get no bytes while the leader's bucket is empty.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock, eventually } from '@tributary/testkit';
import { decodeBatches, type ClusterMetadata, type TopicConfigs } from '@tributary/protocol';
import { batch, brokerReg, makeCore, topicState, type Core } from '../test/helpers.ts';

/** Broker 0 leads t-0 and t-1; followers 1 and 2; broker 3 may be added. */
function md(
  version: number,
  options: {
    p0?: Partial<ClusterMetadata['topics'][number]['partitions'][number]>;
    configs?: Partial<TopicConfigs>;
    leaderRate?: number;
    partitions?: number;
  } = {},
): ClusterMetadata {
  const t = topicState(
    't',
    Array.from({ length: options.partitions ?? 2 }, () => ({ replicas: [0, 1, 2] })),
    { 'min.insync.replicas': 2, ...options.configs },
  );
  Object.assign(t.partitions[0]!, options.p0 ?? {});
  const self = brokerReg(0);
  if (options.leaderRate !== undefined) self.configs = { 'leader.replication.throttled.rate': options.leaderRate };
  return { clusterId: 'c1', version, brokers: [self, brokerReg(1), brokerReg(2), brokerReg(3)], topics: [t] };
}

describe('a reassignment seen by the leader', () => {
  let core: Core;
  let clock: FakeClock;
  beforeEach(async () => {
    clock = new FakeClock();
    core = await makeCore({ now: clock.now });
    core.rm.applyMetadata(md(1));
  });
  afterEach(async () => {
    await core.close();
  });

  const produce = (partition: number, values: string[], acks = 1) =>
    core.post('/produce', { acks, timeoutMs: 5000, partitions: [{ topic: 't', partition, records: batch(values) }] });
  const fetch = (brokerId: number, parts: { partition: number; fetchOffset: number; lastFetchedEpoch?: number }[]) =>
    core.post('/replica/fetch', {
      brokerId,
      brokerEpoch: 1,
      maxWaitMs: 0,
      maxBytes: 1 << 20,
      partitions: parts.map((p) => ({
        topic: 't',
        partition: p.partition,
        fetchOffset: p.fetchOffset,
        lastFetchedEpoch: p.lastFetchedEpoch ?? -1,
        currentLeaderEpoch: 0,
      })),
    });
  const values = (records: Uint8Array) => decodeBatches(Buffer.from(records)).map((r) => r.value!.toString());

  it('serves an adding replica from outside the ISR and proposes it once caught up, with its broker epoch; acks=all never waited for it', async () => {
    await produce(0, ['a', 'b']);
    for (const f of [1, 2]) await fetch(f, [{ partition: 0, fetchOffset: 0 }]);
    for (const f of [1, 2]) await fetch(f, [{ partition: 0, fetchOffset: 2, lastFetchedEpoch: 0 }]);
    expect(core.rm.getPartition('t', 0)!.highWatermark).toBe(2);
    // The controller starts [0,1,2] -> [0,1,3]: replicas [0,1,3,2], adding [3], removing [2].
    core.rm.applyMetadata(md(2, { p0: { replicas: [0, 1, 3, 2], addingReplicas: [3], removingReplicas: [2], partitionEpoch: 1 } }));
    const p = core.rm.getPartition('t', 0)!;
    expect([p.addingReplicas, p.removingReplicas, p.leaderState!.replicationFactor]).toEqual([[3], [2], 3]);
    // acks=all commits on the ISR alone while 3 copies.
    const acked = produce(0, ['c'], -1);
    for (const f of [1, 2]) await fetch(f, [{ partition: 0, fetchOffset: 3, lastFetchedEpoch: 0 }]);
    expect((await acked).body.partitions[0]).toEqual({ topic: 't', partition: 0, baseOffset: 2 });
    const copy = await fetch(3, [{ partition: 0, fetchOffset: 0 }]);
    expect(values(copy.body.partitions[0].records)).toEqual(['a', 'b', 'c']);
    expect(core.alters).toHaveLength(0);
    await fetch(3, [{ partition: 0, fetchOffset: 3, lastFetchedEpoch: 0 }]);
    expect(core.alters.map((a) => a.request)).toEqual([
      expect.objectContaining({ topic: 't', partition: 0, newIsr: [0, 1, 2, 3], joiningEpochs: [{ brokerId: 3, brokerEpoch: 1 }] }),
    ]);
    const metrics = (await core.app.inject({ method: 'GET', url: '/metrics' })).payload;
    expect(metrics).toMatch(/tributary_reassignment_bytes_out_total\{[^}]*\} [1-9]\d*/);
    expect(metrics).toMatch(/tributary_reassigning_partitions\{[^}]*\} 1/);
    expect(metrics).toMatch(/tributary_under_replicated_partitions\{[^}]*\} 0/);
  });

  it('deletes the log of a replica moved away, and opens new partitions', async () => {
    await produce(1, ['x']);
    expect(existsSync(join(core.dir, 't-1'))).toBe(true);
    const next = md(2, { partitions: 4 });
    next.topics[0]!.partitions[1]!.replicas = [1, 2, 3];
    next.topics[0]!.partitions[1]!.leader = 1;
    next.topics[0]!.partitions[1]!.leaderEpoch = 1;
    next.topics[0]!.partitions[1]!.isr = [1, 2, 3];
    core.rm.applyMetadata(next);
    expect(core.rm.getPartition('t', 1)).toBeUndefined();
    // Deleted from disk on a later turn of the event loop (a few at a time).
    await eventually(() => !existsSync(join(core.dir, 't-1')));
    expect(readdirSync(core.dir).filter((n) => n.includes('stray'))).toEqual([]);
    expect(core.rm.getPartition('t', 3)?.isLeader).toBe(true);
    expect((await produce(3, ['new'])).body.partitions[0]).toEqual({ topic: 't', partition: 3, baseOffset: 0 });
  });

  it('applies topic configs live: min ISR refuses acks=all at once, segment.bytes rolls, max.message.bytes refuses', async () => {
    const shrunk = { isr: [0, 1], partitionEpoch: 1 };
    core.rm.applyMetadata(md(2, { p0: shrunk }));
    // ISR 2 of min ISR 2: appended, and waiting for the followers (which do not fetch here).
    expect(
      (await core.post('/produce', { acks: -1, timeoutMs: 50, partitions: [{ topic: 't', partition: 0, records: batch(['a']) }] })).body.partitions[0].error
        .code,
    ).toBe('REQUEST_TIMED_OUT');
    core.rm.applyMetadata(md(3, { p0: shrunk, configs: { 'min.insync.replicas': 3 } }));
    expect(
      (await core.post('/produce', { acks: -1, timeoutMs: 50, partitions: [{ topic: 't', partition: 0, records: batch(['b']) }] })).body.partitions[0].error
        .code,
    ).toBe('NOT_ENOUGH_REPLICAS');
    core.rm.applyMetadata(md(4, { p0: shrunk, configs: { 'segment.bytes': 1024 } }));
    for (let i = 0; i < 8; i++) await produce(1, ['x'.repeat(300)]);
    expect(readdirSync(join(core.dir, 't-1')).filter((n) => n.endsWith('.log')).length).toBeGreaterThan(1);
    core.rm.applyMetadata(md(5, { p0: shrunk, configs: { 'max.message.bytes': 64 } }));
    expect((await produce(1, ['y'.repeat(100)])).body.partitions[0].error.code).toBe('MESSAGE_TOO_LARGE');
  });
});

describe("the leader's replication quota (leader.replication.throttled.rate)", () => {
  let core: Core;
  let clock: FakeClock;
  beforeEach(async () => {
    clock = new FakeClock();
    core = await makeCore({ now: clock.now });
  });
  afterEach(async () => {
    await core.close();
  });

  const produce = (partition: number, values: string[]) =>
    core.post('/produce', { acks: 1, timeoutMs: 5000, partitions: [{ topic: 't', partition, records: batch(values) }] });
  const fetchBoth = (brokerId: number, offsets: [number, number]) =>
    core.post('/replica/fetch', {
      brokerId,
      brokerEpoch: 1,
      maxWaitMs: 0,
      maxBytes: 1 << 20,
      partitions: offsets.map((fetchOffset, partition) => ({
        topic: 't',
        partition,
        fetchOffset,
        lastFetchedEpoch: fetchOffset === 0 ? -1 : 0,
        currentLeaderEpoch: 0,
      })),
    });
  const sizes = (r: { body: { partitions: { records: Uint8Array }[] } }) => r.body.partitions.map((p) => Buffer.from(p.records).length);

  async function load(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      await produce(0, ['a'.repeat(200)]);
      await produce(1, ['b'.repeat(200)]);
    }
  }

  it('holds back only the listed replica outside the ISR, while the bucket is empty; the other partition in the same fetch flows', async () => {
    // t-0 on this broker is listed; follower 2 is out of both ISRs. 100 bytes/s, batches of ~270.
    const m = md(1, { leaderRate: 100, configs: { 'leader.replication.throttled.replicas': '0:0' }, p0: { isr: [0, 1] } });
    m.topics[0]!.partitions[1]!.isr = [0, 1];
    core.rm.applyMetadata(m);
    await load();
    // First fetch: the bucket's tokens let one batch of t-0 through (a batch always goes whole);
    // t-1, not listed, gets all five.
    const first = await fetchBoth(2, [0, 0]);
    expect(decodeBatches(Buffer.from(first.body.partitions[0].records))).toHaveLength(1);
    expect(decodeBatches(Buffer.from(first.body.partitions[1].records))).toHaveLength(5);
    // The bucket is in debt now: t-0 gets nothing, t-1 (new data) still flows in the same fetch.
    await produce(1, ['c']);
    const second = await fetchBoth(2, [1, 5]);
    expect(sizes(second)[0]).toBe(0);
    expect(decodeBatches(Buffer.from(second.body.partitions[1].records))).toHaveLength(1);
    // Still nothing a second later (170 bytes owed at 100/s); two seconds later, t-0 moves again.
    clock.advance(1000);
    expect(sizes(await fetchBoth(2, [1, 6]))[0]).toBe(0);
    clock.advance(1000);
    expect(decodeBatches(Buffer.from((await fetchBoth(2, [1, 6])).body.partitions[0].records))).toHaveLength(1);
  });

  it('never holds back a listed replica in the ISR (Kafka), though its bytes count', async () => {
    core.rm.applyMetadata(md(1, { leaderRate: 100, configs: { 'leader.replication.throttled.replicas': '*' } }));
    await load();
    const first = await fetchBoth(1, [0, 0]);
    expect(sizes(first).every((n) => n > 0)).toBe(true);
    expect(core.rm.leaderQuota.exhausted(clock.now())).toBe(true);
    await produce(0, ['more']);
    const second = await fetchBoth(1, [5, 5]);
    expect(decodeBatches(Buffer.from(second.body.partitions[0].records))).toHaveLength(1);
  });

  it('with no throttled-replica list anywhere, the rate covers every follower (in the ISR too)', async () => {
    core.rm.applyMetadata(md(1, { leaderRate: 100 }));
    await load();
    const first = await fetchBoth(1, [0, 0]);
    expect(sizes(first)[0]).toBeGreaterThan(0);
    const second = await fetchBoth(1, [1, 0]);
    expect(sizes(second)).toEqual([0, 0]);
    // Unset: everything flows again.
    core.rm.applyMetadata(md(2));
    expect(sizes(await fetchBoth(1, [1, 0])).every((n) => n > 0)).toBe(true);
  });
});
