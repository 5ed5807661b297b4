// ReplicaManager.runRetention: retention stops at each partition's high watermark (leader and
// follower alike), and leaders forget idempotent producers idle for producer.id.expiration.ms.
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '@tributary/testkit';
import { CLUSTER_DEFAULTS } from '@tributary/protocol';
import { batch, brokerReg, makeCore, topicState, type Core } from '../test/helpers.ts';

const SMALL_SEGMENTS = { 'segment.bytes': 1024, 'retention.bytes': 0, 'min.insync.replicas': 2 };

/** The log start retention may reach with this HW: the newest segment base at or below it. */
function startBelow(bases: number[], hw: number): number {
  return Math.max(...bases.slice(0, -1).filter((b) => b <= hw), bases[0]!);
}

describe('runRetention', () => {
  let core: Core;
  afterEach(async () => {
    await core.close();
  });

  it('a leader deletes only segments wholly below its high watermark', async () => {
    const clock = new FakeClock();
    core = await makeCore({ now: clock.now });
    core.rm.applyMetadata({
      clusterId: 'c',
      version: 1,
      brokers: [brokerReg(0), brokerReg(1), brokerReg(2)],
      topics: [topicState('h', [{ replicas: [0, 1, 2], leaderEpoch: 4 }], SMALL_SEGMENTS)],
    });
    for (let i = 0; i < 30; i++) {
      const r = await core.post('/produce', {
        acks: 1,
        timeoutMs: 1000,
        partitions: [{ topic: 'h', partition: 0, records: batch([`r${i}`.padEnd(150, '.')]) }],
      });
      expect(r.body.partitions[0].baseOffset).toBe(i);
    }
    const p = core.rm.getPartition('h', 0)!;
    const bases = (p.log as unknown as { segmentBaseOffsets(): number[] }).segmentBaseOffsets();
    expect(bases.length).toBeGreaterThan(3);
    // Nothing is committed: retention.bytes = 0 would take every closed segment, but the HW is 0.
    core.rm.runRetention();
    expect(p.highWatermark).toBe(0);
    expect(p.log.logStartOffset).toBe(0);
    // Both followers reach offset 17: the HW moves there, and retention up to it.
    const hw = 17;
    for (const brokerId of [1, 2]) {
      await core.post('/replica/fetch', {
        brokerId,
        brokerEpoch: 1,
        maxWaitMs: 0,
        maxBytes: 1 << 20,
        partitions: [{ topic: 'h', partition: 0, fetchOffset: hw, lastFetchedEpoch: 4, currentLeaderEpoch: 4 }],
      });
    }
    expect(p.highWatermark).toBe(hw);
    core.rm.runRetention();
    expect(p.log.logStartOffset).toBe(startBelow(bases, hw));
    expect(p.log.logStartOffset).toBeGreaterThan(0);
    expect(p.log.logEndOffset).toBe(30);
  });

  it('a follower deletes only segments wholly below the high watermark it has', async () => {
    core = await makeCore();
    core.rm.applyMetadata({
      clusterId: 'c',
      version: 1,
      brokers: [brokerReg(0), brokerReg(1)],
      topics: [topicState('f', [{ replicas: [1, 0], leader: 1, leaderEpoch: 3 }], SMALL_SEGMENTS)],
    });
    const p = core.rm.getPartition('f', 0)!;
    for (let i = 0; i < 30; i++) {
      const b = Buffer.from(batch([`r${i}`.padEnd(150, '.')]));
      b.writeBigInt64BE(BigInt(i), 0);
      b.writeInt32BE(3, 12);
      p.applyFetchResponse({ topic: 'f', partition: 0, highWatermark: 9, logStartOffset: 0, records: b }, i, 3);
    }
    expect(p.highWatermark).toBe(9);
    const bases = (p.log as unknown as { segmentBaseOffsets(): number[] }).segmentBaseOffsets();
    core.rm.runRetention();
    expect(p.log.logStartOffset).toBe(startBelow(bases, 9));
    expect(p.log.logStartOffset).toBeLessThanOrEqual(9);
  });

  it('a leader forgets an idempotent producer producer.id.expiration.ms after its last append', async () => {
    const clock = new FakeClock();
    core = await makeCore({ now: clock.now });
    core.rm.applyMetadata({ clusterId: 'c', version: 1, brokers: [brokerReg(0)], topics: [topicState('t', [{ replicas: [0] }])] });
    const send = (producerId: number, seq: number) =>
      core.post('/produce', {
        acks: 1,
        timeoutMs: 1000,
        partitions: [{ topic: 't', partition: 0, records: batch(['v'], { producerId, producerEpoch: 0, baseSequence: seq }) }],
      });
    await send(42, 0);
    await send(43, 0);
    const p = core.rm.getPartition('t', 0)!;
    clock.advance(1000);
    await send(43, 1);
    clock.advance(CLUSTER_DEFAULTS.producerIdExpirationMs - 1000);
    core.rm.runRetention();
    expect(p.producers.batchesOf(42)).toEqual([]);
    expect(p.producers.batchesOf(43)).toHaveLength(2);
    // Forgotten, producer 42 is a new producer to the leader (KIP-360): its next sequence is taken.
    expect((await send(42, 7)).body.partitions[0].baseOffset).toBe(3);
    // Producer 43 is still known: a gap is refused.
    expect((await send(43, 5)).body.partitions[0].error.code).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(CLUSTER_DEFAULTS.producerIdExpirationMs).toBe(86_400_000);
  });
});
