// POST /replica-digests: every replica of a topic this broker holds, leader or follower, with its
// offsets and its batches below the HW as (baseOffset, lastOffset, partitionLeaderEpoch, crc),
// paged by offset under a named maximum.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOG_OVERHEAD, encodeBatch, readBatchHeader, type BatchDigest, type ReplicaDigest } from '@tributary/protocol';
import { batch, brokerReg, makeCore, topicState, type Core } from '../test/helpers.ts';
import { LogCleaner } from './log-cleaner.ts';
import { REPLICA_DIGEST_LIMITS } from './replica-manager.ts';

function md(version = 1) {
  return {
    clusterId: 'c1',
    version,
    brokers: [brokerReg(0, 'rack-1'), brokerReg(1, 'rack-2'), brokerReg(2, 'rack-1')],
    topics: [
      // Two partitions led here; 1 KiB segments so that a digest spans several segments.
      topicState(
        't',
        [
          { replicas: [0], leaderEpoch: 3 },
          { replicas: [0], leaderEpoch: 5 },
        ],
        { 'segment.bytes': 1024 },
      ),
      // Followed here (leader 1), with a partition this broker does not hold.
      topicState('f', [{ replicas: [1, 0], leader: 1, leaderEpoch: 2 }, { replicas: [1, 2] }]),
      // Led here with followers that have fetched nothing: HW 0 whatever the LEO.
      topicState('r3', [{ replicas: [0, 1, 2], leaderEpoch: 1 }], { 'min.insync.replicas': 2 }),
    ],
  };
}

describe('POST /replica-digests', () => {
  let core: Core;
  beforeEach(async () => {
    core = await makeCore();
    core.rm.applyMetadata(md());
  });
  afterEach(async () => {
    await core.close();
  });

  /** Produces `n` batches of 1–3 records to t-<partition>; returns each batch's header facts as stored. */
  async function produceBatches(partition: number, n: number): Promise<BatchDigest[]> {
    const out: BatchDigest[] = [];
    for (let i = 0; i < n; i++) {
      const values = Array.from({ length: 1 + (i % 3) }, (_, j) => `p${partition}-${i}-${j}-${'x'.repeat(40)}`);
      const bytes = batch(values);
      const r = await core.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: 't', partition, records: bytes }] });
      const base = r.body.partitions[0].baseOffset as number;
      expect(base).toBeGreaterThanOrEqual(0);
      const header = readBatchHeader(bytes);
      out.push([base, base + header.lastOffsetDelta, partition === 0 ? 3 : 5, header.crc]);
    }
    return out;
  }

  it('lists every batch below the HW of every replica it leads, across segments, with epochs and CRCs', async () => {
    const p0 = await produceBatches(0, 40);
    const p1 = await produceBatches(1, 3);
    expect(core.rm.getPartition('t', 0)!.log.logEndOffset).toBe(p0.at(-1)![1] + 1);
    const r = await core.post('/replica-digests', { topic: 't' });
    expect(r.status).toBe(200);
    expect(r.body.brokerId).toBe(0);
    const [d0, d1] = r.body.replicas as ReplicaDigest[];
    const end0 = p0.at(-1)![1] + 1;
    const end1 = p1.at(-1)![1] + 1;
    expect(d0).toEqual({
      partition: 0,
      role: 'leader',
      leaderEpoch: 3,
      logStartOffset: 0,
      highWatermark: end0,
      logEndOffset: end0,
      batches: p0,
      batchesEnd: end0,
    });
    expect(d1).toEqual({
      partition: 1,
      role: 'leader',
      leaderEpoch: 5,
      logStartOffset: 0,
      highWatermark: end1,
      logEndOffset: end1,
      batches: p1,
      batchesEnd: end1,
    });
    expect((core.logs.get('t', 0) as { segmentCount: number }).segmentCount).toBeGreaterThan(3);
  });

  it('pages: at most maxBatches per answer, nextOffset where a replica stopped, the rest from there', async () => {
    const p0 = await produceBatches(0, 12);
    const p1 = await produceBatches(1, 4);
    const first = await core.post('/replica-digests', { topic: 't', maxBatches: 5 });
    const [a0, a1] = first.body.replicas as ReplicaDigest[];
    expect(a0!.batches).toEqual(p0.slice(0, 5));
    expect(a0!.nextOffset).toBe(p0[5]![0]);
    // The budget is for the whole answer: nothing was left for partition 1.
    expect(a1!.batches).toEqual([]);
    expect(a1!.nextOffset).toBe(0);
    const second = await core.post('/replica-digests', {
      topic: 't',
      maxBatches: 10,
      partitions: [
        { partition: 0, fromOffset: a0!.nextOffset },
        { partition: 1, fromOffset: 0 },
      ],
    });
    const [b0, b1] = second.body.replicas as ReplicaDigest[];
    expect(b0!.batches).toEqual(p0.slice(5, 12));
    expect(b0!.nextOffset).toBeUndefined();
    expect(b1!.batches).toEqual(p1.slice(0, 3));
    expect(b1!.nextOffset).toBe(p1[3]![0]);
    // Only the partitions named.
    const third = await core.post('/replica-digests', { topic: 't', partitions: [{ partition: 1, fromOffset: b1!.nextOffset }] });
    expect(third.body.replicas.map((r: ReplicaDigest) => [r.partition, r.batches, r.nextOffset])).toEqual([[1, p1.slice(3), undefined]]);
  });

  it('reports followers too, and lists nothing at or past the HW', async () => {
    const followed = core.rm.getPartition('f', 0)!;
    const records = Buffer.concat([
      encodeBatch(
        [
          { key: null, value: Buffer.from('a') },
          { key: null, value: Buffer.from('b') },
        ],
        { baseOffset: 0, partitionLeaderEpoch: 2 },
      ),
      encodeBatch([{ key: null, value: Buffer.from('c') }], { baseOffset: 2, partitionLeaderEpoch: 2 }),
    ]);
    // The leader's answer to a fetch at 0: two batches, its HW at 2 (the first batch only).
    followed.applyFetchResponse({ topic: 'f', partition: 0, highWatermark: 2, logStartOffset: 0, records }, 0, 2);
    const r = await core.post('/replica-digests', { topic: 'f' });
    const replicas = r.body.replicas as ReplicaDigest[];
    expect(replicas.map((x) => x.partition)).toEqual([0]);
    expect(replicas[0]).toEqual({
      partition: 0,
      role: 'follower',
      leaderEpoch: 2,
      logStartOffset: 0,
      highWatermark: 2,
      logEndOffset: 3,
      batches: [[0, 1, 2, readBatchHeader(records).crc]],
      batchesEnd: 2,
    });
    // Past its own HW, up to an offset asked for (the leader's HW), never past its LEO.
    const second = readBatchHeader(records, readBatchHeader(records).batchLength + LOG_OVERHEAD);
    const further = await core.post('/replica-digests', { topic: 'f', partitions: [{ partition: 0, fromOffset: 2, toOffset: 10 }] });
    expect(further.body.replicas).toEqual([
      { partition: 0, role: 'follower', leaderEpoch: 2, logStartOffset: 0, highWatermark: 2, logEndOffset: 3, batches: [[2, 2, 2, second.crc]], batchesEnd: 3 },
    ]);
    const upTo2 = await core.post('/replica-digests', { topic: 'f', partitions: [{ partition: 0, fromOffset: 0, toOffset: 2 }] });
    expect(upTo2.body.replicas[0].batches).toEqual([[0, 1, 2, readBatchHeader(records).crc]]);

    await core.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: 'r3', partition: 0, records: batch(['x', 'y']) }] });
    const uncommitted = await core.post('/replica-digests', { topic: 'r3' });
    expect(uncommitted.body.replicas).toEqual([
      { partition: 0, role: 'leader', leaderEpoch: 1, logStartOffset: 0, highWatermark: 0, logEndOffset: 2, batches: [], batchesEnd: 0 },
    ]);
  });

  it('refuses an unknown topic and malformed fields', async () => {
    const unknown = await core.post('/replica-digests', { topic: 'nope' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    for (const body of [
      {},
      { topic: 7 },
      { topic: 't', maxBatches: 0 },
      { topic: 't', maxBatches: REPLICA_DIGEST_LIMITS.batchesMax + 1 },
      { topic: 't', partitions: [{ partition: 0, fromOffset: -1 }] },
      { topic: 't', partitions: [{ partition: 0.5, fromOffset: 0 }] },
      { topic: 't', partitions: [{ partition: 0, fromOffset: 0, toOffset: -3 }] },
      { topic: 't', partitions: 'all' },
      [1, 2],
    ]) {
      const r = await core.post('/replica-digests', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.code).toBe('INVALID_REQUEST');
    }
  });

  it('answers garbage with 4xx and an error code, never 5xx', async () => {
    const fc = await import('fast-check');
    await produceBatches(0, 3);
    const body = fc.oneof(
      fc.anything(),
      fc.record(
        {
          topic: fc.oneof(fc.constantFrom('t', 'f', 'nope'), fc.string(), fc.integer()),
          maxBatches: fc.oneof(fc.integer(), fc.double(), fc.string()),
          partitions: fc.oneof(
            fc.array(
              fc.record(
                { partition: fc.oneof(fc.integer({ min: -2, max: 3 }), fc.string()), fromOffset: fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 60)) },
                { requiredKeys: [] },
              ),
              { maxLength: 4 },
            ),
            fc.anything(),
          ),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const r = await core.post('/replica-digests', b);
        expect(r.status, JSON.stringify(r.body)).toBeLessThan(500);
        if (r.status !== 200) expect(typeof r.body.code).toBe('string');
      }),
      { numRuns: 200, seed: 16 },
    );
  });
});

describe('POST /replica-digests of a compacted topic', () => {
  let core: Core;
  afterEach(async () => {
    await core.close();
  });

  it('says below which offset the cleaner rewrote this replica (rewrittenToOffset), and nothing for a log never cleaned', async () => {
    core = await makeCore();
    const compacted = topicState('c', [{ replicas: [0], leaderEpoch: 1 }], {
      'cleanup.policy': 'compact',
      'segment.bytes': 1024,
      'min.cleanable.dirty.ratio': 0.01,
    });
    core.rm.applyMetadata({ clusterId: 'c1', version: 1, brokers: [brokerReg(0)], topics: [compacted] });
    for (let i = 0; i < 60; i++) {
      const records = encodeBatch([{ key: Buffer.from(`k${i % 3}`), value: Buffer.from(`v${i}-${'x'.repeat(30)}`) }]);
      await core.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: 'c', partition: 0, records }] });
    }
    const digest = async () => ((await core.post('/replica-digests', { topic: 'c' })).body.replicas as ReplicaDigest[])[0]!;
    expect((await digest()).rewrittenToOffset).toBeUndefined();
    const cleaner = new LogCleaner({
      config: {
        enable: true,
        ioMaxBytesPerSecond: Number.MAX_SAFE_INTEGER,
        dedupeBufferBytes: 1 << 20,
        ioBufferBytes: 4096,
        backoffMs: 1000,
        producerIdExpirationMs: 86_400_000,
      },
      logs: () => core.rm.compactedLogs(),
      logger: { info() {}, warn() {}, error() {} },
    });
    expect(await cleaner.cleanFilthiest()).toMatchObject({ state: 'done' });
    const cleaned = await digest();
    const activeBase = core.logs.get('c', 0)!.segmentBaseOffsets().at(-1)!;
    expect(cleaned.rewrittenToOffset).toBe(activeBase);
    // The batches still tile the log: each starts where the one before ended.
    for (let i = 1; i < cleaned.batches.length; i++) expect(cleaned.batches[i]![0]).toBe(cleaned.batches[i - 1]![1] + 1);
  });
});
