// A follower copying a leader whose cleaner has rewritten what the follower has only half copied:
// the leader's batch holding the follower's log end starts below it (a batch stretched over the
// offsets of removed batches), and the follower must take it in place of its own.

import { DEFAULT_TOPIC_CONFIGS, decodeBatches, encodeBatch, type TopicConfigs } from '@tributary/protocol';
import { Cleaner, cleanableOffsets, Log, logConfigFromTopic } from '@tributary/storage';
import { tempDir } from '@tributary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { brokerReg, makeCore, topicState, type Core } from '../test/helpers.ts';

const COMPACT: TopicConfigs = { ...DEFAULT_TOPIC_CONFIGS, 'cleanup.policy': 'compact', 'segment.bytes': 2048 };

function records(log: Log): { offset: number; key: string; value: string }[] {
  const out: { offset: number; key: string; value: string }[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const buf = log.read(offset, 1 << 20);
    for (const r of decodeBatches(buf)) out.push({ offset: r.offset, key: r.key!.toString(), value: r.value!.toString() });
    for (let pos = 0; pos < buf.length; pos += buf.readInt32BE(pos + 8) + 12) offset = Number(buf.readBigInt64BE(pos)) + buf.readInt32BE(pos + 23) + 1;
  }
  return out;
}

describe('a follower of a cleaned leader', () => {
  let core: Core;
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    await core.close();
    for (const c of cleanups.splice(0)) c();
  });

  it("takes the leader's stretched batch in place of the batches it holds where it starts, and catches up to the same latest value per key", async () => {
    core = await makeCore();
    core.rm.applyMetadata({
      clusterId: 'c1',
      version: 1,
      brokers: [brokerReg(0), brokerReg(1)],
      topics: [topicState('c', [{ replicas: [1, 0], leader: 1, leaderEpoch: 1 }], COMPACT)],
    });
    const p = core.rm.getPartition('c', 0)!;
    expect(p.role).toBe('follower');

    // The leader: 60 single-record batches over three keys, every one superseded but the last three.
    const { dir, cleanup } = tempDir('tributary-leader-');
    cleanups.push(cleanup);
    const leader = Log.open(`${dir}/c-0`, logConfigFromTopic(COMPACT));
    cleanups.push(() => leader.close());
    for (let i = 0; i < 60; i++) leader.appendAsLeader(encodeBatch([{ key: Buffer.from(`k${i % 3}`), value: Buffer.from(`v${i}`) }]), 1);
    leader.maybeRoll(Number.MAX_SAFE_INTEGER);

    const fetch = () => {
      const from = p.log.logEndOffset;
      return p.applyFetchResponse(
        { topic: 'c', partition: 0, highWatermark: leader.logEndOffset, logStartOffset: 0, records: leader.read(from, 300) },
        from,
        1,
      );
    };
    // The follower copies a third, as batches of one record each.
    while (p.log.logEndOffset < 20) fetch();
    const copied = p.log.logEndOffset;

    // The leader cleans: its dropped batches' offsets go to stretched batches and placeholders.
    const offsets = cleanableOffsets(leader.compactionView(leader.logEndOffset), Date.now());
    expect(await new Cleaner(leader, { nowMs: Date.now(), ...offsets, dedupeBufferBytes: 1 << 20, producerIdExpirationMs: 86_400_000 }).run()).toBe('done');
    // The leader's batch holding the follower's log end starts below it.
    expect(Number(leader.read(copied, 1).readBigInt64BE(0))).toBeLessThan(copied);

    // The follower goes on from its log end, inside one of the leader's stretched batches.
    for (let i = 0; i < 50 && p.log.logEndOffset < leader.logEndOffset; i++) fetch();
    expect(p.log.logEndOffset).toBe(leader.logEndOffset);
    const latest = (rs: { key: string; value: string }[]) => Object.fromEntries(rs.map((r) => [r.key, r.value]));
    expect(latest(records(p.log as Log))).toEqual(latest(records(leader)));
    expect(latest(records(leader))).toEqual({ k0: 'v57', k1: 'v58', k2: 'v59' });
    // Every record the leader has, the follower has at the same offset.
    const followerByOffset = new Map(records(p.log as Log).map((r) => [r.offset, r]));
    for (const r of records(leader)) expect(followerByOffset.get(r.offset)).toEqual(r);
  });
});

describe('replication between independently cleaned replicas, across leader epochs', () => {
  const cores: Core[] = [];
  afterEach(async () => {
    for (const c of cores.splice(0)) await c.close();
  });

  /** Cleans a core's log of c-0 as the broker's cleaner would, up to `highWatermark`. */
  async function clean(core: Core, highWatermark: number): Promise<void> {
    const log = core.logs.get('c', 0)!;
    log.maybeRoll(Number.MAX_SAFE_INTEGER);
    const offsets = cleanableOffsets(log.compactionView(highWatermark), Date.now());
    expect(await new Cleaner(log, { nowMs: Date.now(), ...offsets, dedupeBufferBytes: 1 << 20, producerIdExpirationMs: 86_400_000 }).run()).toBe('done');
  }

  it('a follower behind a cleaned leader catches up through /replica/fetch without a divergence loop, whatever its own cleaner did', async () => {
    const leader = await makeCore({ brokerId: 0 });
    const follower = await makeCore({ brokerId: 1 });
    cores.push(leader, follower);
    let version = 0;
    const setEpoch = (epoch: number) => {
      const md = {
        clusterId: 'c1',
        version: ++version,
        brokers: [brokerReg(0), brokerReg(1)],
        topics: [topicState('c', [{ replicas: [0, 1], leader: 0, leaderEpoch: epoch }], COMPACT)],
      };
      leader.rm.applyMetadata(md);
      follower.rm.applyMetadata(md);
    };
    let n = 0;
    const produce = async (count: number) => {
      for (let i = 0; i < count; i++, n++) {
        const records = encodeBatch([{ key: Buffer.from(`k${n % 4}`), value: Buffer.from(`v${n}`) }]);
        expect(
          (await leader.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: 'c', partition: 0, records }] })).body.partitions[0].error,
        ).toBeUndefined();
      }
    };
    const fp = () => follower.rm.getPartition('c', 0)!;
    /** One follower fetch, as the ReplicaFetcher sends it; returns whether the follower's log end moved. */
    const fetchOnce = async (epoch: number): Promise<boolean> => {
      const p = fp();
      const fetchOffset = p.log.logEndOffset;
      const r = await leader.post('/replica/fetch', {
        brokerId: 1,
        brokerEpoch: 1,
        maxWaitMs: 0,
        maxBytes: 400,
        partitions: [{ topic: 'c', partition: 0, fetchOffset, lastFetchedEpoch: p.log.lastEpoch(), currentLeaderEpoch: epoch }],
      });
      const resp = r.body.partitions[0];
      p.applyFetchResponse({ ...resp, records: Buffer.from(resp.records) }, fetchOffset, epoch);
      return p.log.logEndOffset !== fetchOffset;
    };
    const catchUp = async (epoch: number, fetchesMax: number) => {
      let fetches = 0;
      while (fp().log.logEndOffset !== leader.logs.get('c', 0)!.logEndOffset) {
        await fetchOnce(epoch);
        expect(++fetches, 'the follower stopped making progress').toBeLessThan(fetchesMax);
      }
    };

    // Epoch 1: both copy; the follower cleans its own copy.
    setEpoch(1);
    await produce(40);
    await catchUp(1, 200);
    await clean(follower, fp().log.logEndOffset);
    // Epochs 2 and 3 while the follower is away; then the leader cleans across all three.
    setEpoch(2);
    await produce(17);
    await catchUp(2, 200);
    const followerEnd = fp().log.logEndOffset;
    await produce(23);
    setEpoch(3);
    await produce(30);
    await clean(leader, leader.logs.get('c', 0)!.logEndOffset);
    expect(fp().log.logEndOffset).toBe(followerEnd);
    // Back: it catches up in a bounded number of fetches, and agrees on every key's latest value.
    await catchUp(3, 100);
    const latest = (log: Log) => Object.fromEntries(records(log).map((r) => [r.key, r.value]));
    expect(latest(fp().log as Log)).toEqual(latest(leader.logs.get('c', 0)!));
    expect(fp().log.lastEpoch()).toBe(3);
    expect((fp().log as Log).epochs.entries().map((e) => e.epoch)).toEqual([1, 2, 3]);
  });
});
