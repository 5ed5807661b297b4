// Leader-side replication through the routes: acks=all against the ISR and HW, /replica/fetch
// progress, divergence answers, ISR proposals, idempotent producers, describe-replicas.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock, eventually } from '@tributary/testkit';
import { LOG_OVERHEAD, decodeBatches, readBatchHeader } from '@tributary/protocol';
import { batch, brokerReg, makeCore, topicState, type Core } from '../test/helpers.ts';

function md(version: number, isr = [0, 1, 2], leaderEpoch = 4, partitionEpoch = 0) {
  const t = topicState('r3', [{ replicas: [0, 1, 2], isr, leaderEpoch }], { 'min.insync.replicas': 2 });
  t.partitions[0]!.partitionEpoch = partitionEpoch;
  return { clusterId: 'c1', version, brokers: [brokerReg(0, 'rack-1'), brokerReg(1, 'rack-2'), brokerReg(2, 'rack-2')], topics: [t] };
}

describe('leader replication', () => {
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

  const produce = (records: Buffer, acks = -1, timeoutMs = 5000) =>
    core.post('/produce', { acks, timeoutMs, partitions: [{ topic: 'r3', partition: 0, records }] });
  const replicaFetch = (brokerId: number, fetchOffset: number, lastFetchedEpoch = -1, currentLeaderEpoch = 4, maxWaitMs = 0) =>
    core.post('/replica/fetch', {
      brokerId,
      brokerEpoch: 1,
      maxWaitMs,
      maxBytes: 1 << 20,
      partitions: [{ topic: 'r3', partition: 0, fetchOffset, lastFetchedEpoch, currentLeaderEpoch }],
    });

  it('answers acks=all once every ISR member has the batch', async () => {
    let answered = false;
    const pending = produce(batch(['a', 'b'])).then((r) => {
      answered = true;
      return r;
    });
    await eventually(() => core.rm.getPartition('r3', 0)!.log.logEndOffset === 2);
    expect(answered).toBe(false);
    // Followers fetch: first they get the data, then their next fetch (offset 2) moves the HW.
    const f1 = await replicaFetch(1, 0);
    expect(decodeBatches(Buffer.from(f1.body.partitions[0].records))).toHaveLength(2);
    await replicaFetch(2, 0);
    await replicaFetch(1, 2, 4);
    expect(answered).toBe(false);
    const last = await replicaFetch(2, 2, 4);
    expect(last.body.partitions[0].highWatermark).toBe(2);
    const r = await pending;
    expect(r.body.partitions[0]).toEqual({ topic: 'r3', partition: 0, baseOffset: 0 });
  });

  it('refuses acks=all up front when the ISR is below min.insync.replicas, appending nothing', async () => {
    core.rm.applyMetadata(md(2, [0], 4, 1));
    const r = await produce(batch(['a']));
    expect(r.body.partitions[0].error.code).toBe('NOT_ENOUGH_REPLICAS');
    expect(core.rm.getPartition('r3', 0)!.log.logEndOffset).toBe(0);
    // acks=1 still works with a small ISR.
    expect((await produce(batch(['a']), 1)).body.partitions[0].baseOffset).toBe(0);
  });

  it('answers NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrinks below min while waiting', async () => {
    const pending = produce(batch(['a']));
    // Appended and waiting for the followers (not a fixed sleep: a busy machine may be slower).
    await eventually(() => core.rm.getPartition('r3', 0)!.log.logEndOffset === 1);
    core.rm.applyMetadata(md(2, [0], 4, 1));
    expect((await pending).body.partitions[0].error.code).toBe('NOT_ENOUGH_REPLICAS_AFTER_APPEND');
  });

  it('answers REQUEST_TIMED_OUT after timeoutMs', async () => {
    const r = await produce(batch(['a']), -1, 100);
    expect(r.body.partitions[0]).toMatchObject({ baseOffset: 0, error: { code: 'REQUEST_TIMED_OUT' } });
  });

  it('answers NOT_LEADER_OR_FOLLOWER to a waiting acks=all when leadership moves', async () => {
    const pending = produce(batch(['a']));
    await eventually(() => core.rm.getPartition('r3', 0)!.log.logEndOffset === 1);
    const next = md(2, [1, 2], 5, 1);
    next.topics[0]!.partitions[0]!.leader = 1;
    core.rm.applyMetadata(next);
    expect((await pending).body.partitions[0].error.code).toBe('NOT_LEADER_OR_FOLLOWER');
  });

  it('fences replica fetches by leader epoch and refuses non-replicas', async () => {
    expect((await replicaFetch(1, 0, -1, 3)).body.partitions[0].error.code).toBe('FENCED_LEADER_EPOCH');
    expect((await replicaFetch(1, 0, -1, 5)).body.partitions[0].error.code).toBe('UNKNOWN_LEADER_EPOCH');
    expect((await replicaFetch(7, 0)).body.partitions[0].error.code).toBe('NOT_LEADER_OR_FOLLOWER');
  });

  it('answers a diverging follower with the end offset of its last epoch (KIP-279)', async () => {
    await produce(batch(['a', 'b', 'c']), 1); // epoch 4 starts at 0
    // The follower claims offsets up to 5 under epoch 3, which this leader never had: its
    // latest epoch <= 3 is none, so the answer is the log start.
    const r = await replicaFetch(1, 5, 3);
    expect(r.body.partitions[0].divergingEpoch).toEqual({ epoch: -1, endOffset: 0 });
    // Same epoch, but past the leader's log end.
    const ahead = await replicaFetch(1, 9, 4);
    expect(ahead.body.partitions[0].divergingEpoch).toEqual({ epoch: 4, endOffset: 3 });
    // In step: data.
    const ok = await replicaFetch(1, 1, 4);
    expect(ok.body.partitions[0].divergingEpoch).toBeUndefined();
    expect(decodeBatches(Buffer.from(ok.body.partitions[0].records)).length).toBe(3);
  });

  it('wakes a waiting replica fetch on append', async () => {
    const started = Date.now();
    const pending = replicaFetch(1, 0, -1, 4, 10_000);
    await new Promise((r) => setTimeout(r, 30));
    await produce(batch(['x']), 1);
    const r = await pending;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(r.body.partitions[0].records.length).toBeGreaterThan(0);
  });

  it('proposes an ISR shrink after replica.lag.time.max.ms and applies only the controller answer', async () => {
    await produce(batch(['a']), 1);
    await replicaFetch(1, 1, 4); // 1 caught up; 2 never fetched
    clock.advance(10_000);
    core.rm.checkIsr();
    expect(core.alters).toHaveLength(0);
    clock.advance(1);
    await replicaFetch(1, 1, 4);
    core.rm.checkIsr();
    expect(core.alters).toHaveLength(1);
    expect(core.alters[0]!.request).toMatchObject({ topic: 'r3', partition: 0, leaderEpoch: 4, partitionEpoch: 0, newIsr: [0, 1] });
    expect(core.rm.getPartition('r3', 0)!.isr).toEqual([0, 1, 2]);
    core.rm.checkIsr();
    expect(core.alters).toHaveLength(1); // one in flight
    core.alters[0]!.resolve({
      topic: 'r3',
      partition: 0,
      replicas: [0, 1, 2],
      addingReplicas: [],
      removingReplicas: [],
      leader: 0,
      leaderEpoch: 4,
      partitionEpoch: 1,
      isr: [0, 1],
    });
    await new Promise((r) => setTimeout(r, 10));
    const p = core.rm.getPartition('r3', 0)!;
    expect(p.isr).toEqual([0, 1]);
    expect(p.highWatermark).toBe(1);
    const m = await core.app.inject({ method: 'GET', url: '/metrics' });
    expect(m.payload).toMatch(/tributary_under_replicated_partitions\{[^}]*\} 1/);
  });

  it('a fetch session (KIP-227): the follower names nothing and stays in sync; the answer carries only what changed', async () => {
    const sessionFetch = (brokerId: number, sessionId: number, sessionEpoch: number, partitions: object[] = []) =>
      core.post('/replica/fetch', { brokerId, brokerEpoch: 1, maxWaitMs: 0, maxBytes: 1 << 20, sessionId, sessionEpoch, partitions });
    const r3 = (fetchOffset: number) => ({ topic: 'r3', partition: 0, fetchOffset, lastFetchedEpoch: fetchOffset === 0 ? -1 : 4, currentLeaderEpoch: 4 });
    await produce(batch(['a']), 1);
    const opened = await sessionFetch(1, 0, 0, [r3(0)]);
    const sessionId = opened.body.sessionId as number;
    expect(sessionId).toBeGreaterThan(0);
    expect(opened.body.partitions).toHaveLength(1);
    await replicaFetch(2, 1, 4);
    const caughtUp = await sessionFetch(1, sessionId, 1, [r3(1)]);
    expect(caughtUp.body.partitions).toMatchObject([{ partition: 0, highWatermark: 1 }]);
    // Idle: incremental fetches name nothing and get nothing back, yet count as caught up, so
    // broker 1 is not proposed out of the ISR past replica.lag.time.max.ms; broker 2, silent, is.
    for (let epoch = 2; epoch < 6; epoch++) {
      clock.advance(4000);
      const quiet = await sessionFetch(1, sessionId, epoch);
      expect(quiet.body).toEqual({ sessionId, partitions: [] });
    }
    core.rm.checkIsr();
    expect(core.alters.map((a) => a.request)).toMatchObject([{ newIsr: [0, 1] }]);
    // New data is answered without the partition being named.
    await produce(batch(['b']), 1);
    const fresh = await sessionFetch(1, sessionId, 6);
    expect(fresh.body.partitions).toHaveLength(1);
    expect(decodeBatches(Buffer.from(fresh.body.partitions[0].records))).toHaveLength(1);
    // A replayed epoch is refused whole: the follower opens a new session.
    const replay = await sessionFetch(1, sessionId, 6);
    expect(replay.body.code).toBe('INVALID_FETCH_SESSION_EPOCH');
    expect((await sessionFetch(1, 12345, 1)).body.code).toBe('FETCH_SESSION_ID_NOT_FOUND');
  });

  it('a session replaced while one of its fetches waited ends that fetch, and only the new session counts for the follower', async () => {
    const sessionFetch = (sessionId: number, sessionEpoch: number, partitions: object[] = [], maxWaitMs = 0) =>
      core.post('/replica/fetch', { brokerId: 1, brokerEpoch: 1, maxWaitMs, maxBytes: 1 << 20, sessionId, sessionEpoch, partitions });
    const r3 = (fetchOffset: number) => ({ topic: 'r3', partition: 0, fetchOffset, lastFetchedEpoch: fetchOffset === 0 ? -1 : 4, currentLeaderEpoch: 4 });
    await produce(batch(['a']), 1);
    const first = (await sessionFetch(0, 0, [r3(0)])).body.sessionId as number;
    await replicaFetch(2, 1, 4);
    await sessionFetch(first, 1, [r3(1)]); // caught up: quiet in the first session
    // A fetch of the first session waits (nothing new) when the follower gives up on it and
    // opens a second session: the waiting one ends, refused, instead of answering for r3.
    const waiting = sessionFetch(first, 2, [], 5000);
    await new Promise((r) => setTimeout(r, 20));
    const second = (await sessionFetch(0, 0, [r3(1)])).body.sessionId as number;
    expect(second).not.toBe(first);
    expect((await waiting).body.code).toBe('FETCH_SESSION_ID_NOT_FOUND');
    // The second session's quiet fetches keep broker 1 in the ISR past replica.lag.time.max.ms.
    for (let epoch = 1; epoch < 6; epoch++) {
      clock.advance(4000);
      await replicaFetch(2, 1, 4);
      expect((await sessionFetch(second, epoch)).body).toEqual({ sessionId: second, partitions: [] });
    }
    core.rm.checkIsr();
    expect(core.alters).toEqual([]);
  });

  it('proposes an expansion once a follower catches up to the HW', async () => {
    core.rm.applyMetadata(md(2, [0, 1], 4, 1));
    await produce(batch(['a']), 1);
    await replicaFetch(1, 1, 4);
    expect(core.rm.getPartition('r3', 0)!.highWatermark).toBe(1);
    await replicaFetch(2, 0, -1);
    expect(core.alters).toHaveLength(0);
    await replicaFetch(2, 1, 4);
    expect(core.alters).toHaveLength(1);
    expect(core.alters[0]!.request).toMatchObject({ newIsr: [0, 1, 2], partitionEpoch: 1 });
    core.alters[0]!.reject(new Error('controller away'));
    await new Promise((r) => setTimeout(r, 10));
    await replicaFetch(2, 1, 4);
    expect(core.alters).toHaveLength(2); // retried after the failure
  });

  it('refuses a follower fetching under an older broker epoch than its registration (a replaced process)', async () => {
    core.rm.applyMetadata(md(2, [0, 1], 4, 1));
    await produce(batch(['a']), 1);
    const stale = await core.post('/replica/fetch', {
      brokerId: 2,
      brokerEpoch: 0,
      maxWaitMs: 0,
      maxBytes: 1 << 20,
      partitions: [{ topic: 'r3', partition: 0, fetchOffset: 1, lastFetchedEpoch: 4, currentLeaderEpoch: 4 }],
    });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('STALE_BROKER_EPOCH');
    expect(core.alters).toHaveLength(0);
  });

  it('refuses a replica fetch without a broker epoch: there is no escape value', async () => {
    const r = await core.post('/replica/fetch', {
      brokerId: 1,
      brokerEpoch: -1,
      maxWaitMs: 0,
      maxBytes: 1 << 20,
      partitions: [{ topic: 'r3', partition: 0, fetchOffset: 0, lastFetchedEpoch: -1, currentLeaderEpoch: 4 }],
    });
    expect(r.body.code).toBe('INVALID_REQUEST');
  });

  it('serves a follower under a broker epoch newer than its metadata, but proposes it for the ISR only once the metadata shows that epoch (KIP-903)', async () => {
    core.rm.applyMetadata(md(2, [0, 1], 4, 1));
    await produce(batch(['a']), 1);
    await replicaFetch(1, 1, 4);
    const newer = await core.post('/replica/fetch', {
      brokerId: 2,
      brokerEpoch: 2,
      maxWaitMs: 0,
      maxBytes: 1 << 20,
      partitions: [{ topic: 'r3', partition: 0, fetchOffset: 1, lastFetchedEpoch: 4, currentLeaderEpoch: 4 }],
    });
    expect(newer.body.partitions[0].error).toBeUndefined();
    expect(core.alters).toHaveLength(0);
    const next = md(3, [0, 1], 4, 1);
    next.brokers[2]!.epoch = 2;
    core.rm.applyMetadata(next);
    await core.post('/replica/fetch', {
      brokerId: 2,
      brokerEpoch: 2,
      maxWaitMs: 0,
      maxBytes: 1 << 20,
      partitions: [{ topic: 'r3', partition: 0, fetchOffset: 1, lastFetchedEpoch: 4, currentLeaderEpoch: 4 }],
    });
    expect(core.alters).toHaveLength(1);
    expect(core.alters[0]!.request).toMatchObject({ newIsr: [0, 1, 2], joiningEpochs: [{ brokerId: 2, brokerEpoch: 2 }] });
  });

  it('serves replica fetches on the internal listener only', async () => {
    const external = await makeCore({ listener: 'external' });
    try {
      external.rm.applyMetadata(md(1));
      const r = await external.post('/replica/fetch', {
        brokerId: 1,
        brokerEpoch: 1,
        maxWaitMs: 0,
        maxBytes: 1 << 20,
        partitions: [{ topic: 'r3', partition: 0, fetchOffset: 0, lastFetchedEpoch: -1, currentLeaderEpoch: 4 }],
      });
      expect(r.status).toBe(404);
      expect(r.body.code).toBe('INVALID_REQUEST');
      expect(external.rm.getPartition('r3', 0)!.leaderState!.follower(1)!.logEndOffset).toBe(-1);
    } finally {
      await external.close();
    }
  });

  it('answers a retried acks=all batch as soon as its own offset is committed, not after later batches', async () => {
    const first = batch(['a'], { producerId: 7, producerEpoch: 0, baseSequence: 0 });
    const second = batch(['b'], { producerId: 7, producerEpoch: 0, baseSequence: 1 });
    const answered: string[] = [];
    const pending = [produce(first).then(() => answered.push('first')), produce(second).then(() => answered.push('second'))];
    await new Promise((r) => setTimeout(r, 20));
    // The producer did not hear about the first batch and sends it again: a duplicate of offset 0.
    const retry = produce(first).then((r) => {
      answered.push('retry');
      return r;
    });
    await new Promise((r) => setTimeout(r, 20));
    // Both followers hold offset 0 only: the HW moves to 1.
    await replicaFetch(1, 1, 4);
    await replicaFetch(2, 1, 4);
    expect((await retry).body.partitions[0]).toEqual({ topic: 'r3', partition: 0, baseOffset: 0 });
    expect(answered.sort()).toEqual(['first', 'retry']);
    await replicaFetch(1, 2, 4);
    await replicaFetch(2, 2, 4);
    await Promise.all(pending);
    expect(answered).toContain('second');
  });

  it('describes replicas with LEO, lag and time since caught up', async () => {
    await produce(batch(['a', 'b']), 1);
    await replicaFetch(1, 2, 4);
    await replicaFetch(2, 0, -1);
    clock.advance(700);
    const r = await core.post('/describe-replicas', { topic: 'r3' });
    expect(r.body.partitions).toEqual([
      {
        partition: 0,
        highWatermark: 0,
        logStartOffset: 0,
        logEndOffset: 2,
        logSizeBytes: batch(['a', 'b']).length,
        replicas: [
          { brokerId: 0, logEndOffset: 2, lagRecords: 0, lastCaughtUpMsAgo: 0 },
          { brokerId: 1, logEndOffset: 2, lagRecords: 0, lastCaughtUpMsAgo: 700 },
          { brokerId: 2, logEndOffset: 0, lagRecords: 2, lastCaughtUpMsAgo: 700 },
        ],
      },
    ]);
    expect((await core.post('/describe-replicas', { topic: 'ghost' })).body.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });
});

describe('idempotent producer', () => {
  let core: Core;
  beforeEach(async () => {
    core = await makeCore();
    core.rm.applyMetadata({ clusterId: 'c', version: 1, brokers: [brokerReg(0)], topics: [topicState('t', [{ replicas: [0] }])] });
  });
  afterEach(async () => {
    await core.close();
  });
  const send = (seq: number, values: string[], epoch = 0) =>
    core.post('/produce', {
      acks: 1,
      timeoutMs: 1000,
      partitions: [{ topic: 't', partition: 0, records: batch(values, { producerId: 42, producerEpoch: epoch, baseSequence: seq }) }],
    });

  it('answers a retried batch with its original offset, refuses gaps and old sequences', async () => {
    expect((await send(0, ['a', 'b'])).body.partitions[0].baseOffset).toBe(0);
    expect((await send(2, ['c'])).body.partitions[0].baseOffset).toBe(2);
    expect((await send(0, ['a', 'b'])).body.partitions[0].baseOffset).toBe(0);
    expect(core.rm.getPartition('t', 0)!.log.logEndOffset).toBe(3);
    expect((await send(9, ['z'])).body.partitions[0].error.code).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    for (let s = 3; s < 9; s++) await send(s, ['x']);
    expect((await send(0, ['a', 'b'])).body.partitions[0].error.code).toBe('DUPLICATE_SEQUENCE_NUMBER');
  });

  it('rebuilds producer state from the log when becoming leader again', async () => {
    await send(0, ['a']);
    await send(1, ['b']);
    // Lose leadership, then regain it at a new epoch: state comes back from the batch headers.
    core.rm.applyMetadata({
      clusterId: 'c',
      version: 2,
      brokers: [brokerReg(0), brokerReg(1)],
      topics: [topicState('t', [{ replicas: [0, 1], leader: 1, leaderEpoch: 1 }])],
    });
    core.rm.applyMetadata({
      clusterId: 'c',
      version: 3,
      brokers: [brokerReg(0), brokerReg(1)],
      topics: [topicState('t', [{ replicas: [0, 1], leader: 0, leaderEpoch: 2 }])],
    });
    expect((await send(1, ['b'])).body.partitions[0].baseOffset).toBe(1);
    expect((await send(2, ['c'])).body.partitions[0].baseOffset).toBe(2);
  });
});

describe('follower side', () => {
  let core: Core;
  const state = (version: number, leaderEpoch: number) => ({
    clusterId: 'c',
    version,
    brokers: [brokerReg(0), brokerReg(1)],
    topics: [topicState('f', [{ replicas: [1, 0], leader: 1, leaderEpoch }])],
  });
  beforeEach(async () => {
    core = await makeCore();
    core.rm.applyMetadata(state(1, 3));
  });
  afterEach(async () => {
    await core.close();
  });

  /** Leader-stamped batches, as a leader's log would serve them. */
  function leaderBytes(baseOffset: number, epoch: number, values: string[]): Buffer {
    const b = Buffer.from(batch(values));
    b.writeBigInt64BE(BigInt(baseOffset), 0);
    b.writeInt32BE(epoch, 12);
    return b;
  }

  it('appends what the leader sends and takes HW = min(leader HW, own LEO)', () => {
    const p = core.rm.getPartition('f', 0)!;
    expect(p.role).toBe('follower');
    p.applyFetchResponse({ topic: 'f', partition: 0, highWatermark: 10, logStartOffset: 0, records: leaderBytes(0, 3, ['a', 'b']) }, 0, 3);
    expect(p.log.logEndOffset).toBe(2);
    expect(p.highWatermark).toBe(2);
    p.applyFetchResponse({ topic: 'f', partition: 0, highWatermark: 1, logStartOffset: 0, records: Buffer.alloc(0) }, 2, 3);
    expect(p.highWatermark).toBe(1);
  });

  it('drops answers to a stale request (other epoch, other offset)', () => {
    const p = core.rm.getPartition('f', 0)!;
    expect(p.applyFetchResponse({ topic: 'f', partition: 0, highWatermark: 1, logStartOffset: 0, records: leaderBytes(0, 3, ['a']) }, 0, 2).bytes).toBe(0);
    expect(p.applyFetchResponse({ topic: 'f', partition: 0, highWatermark: 1, logStartOffset: 0, records: leaderBytes(0, 3, ['a']) }, 5, 3).bytes).toBe(0);
    expect(p.log.logEndOffset).toBe(0);
  });

  it('truncates to the diverging epoch end offset, never below what it needs to', () => {
    const p = core.rm.getPartition('f', 0)!;
    p.applyFetchResponse(
      {
        topic: 'f',
        partition: 0,
        highWatermark: 0,
        logStartOffset: 0,
        records: Buffer.concat([leaderBytes(0, 2, ['a']), leaderBytes(1, 2, ['b']), leaderBytes(2, 3, ['c'])]),
      },
      0,
      3,
    );
    expect(p.log.logEndOffset).toBe(3);
    p.applyFetchResponse(
      { topic: 'f', partition: 0, highWatermark: 1, logStartOffset: 0, records: Buffer.alloc(0), divergingEpoch: { epoch: 2, endOffset: 1 } },
      3,
      3,
    );
    expect(p.log.logEndOffset).toBe(1);
    expect(p.log.lastEpoch()).toBe(2);
  });

  it('cuts at its own end of the shared epoch when it went on to an epoch the leader never saw', () => {
    // The follower holds epoch 1 for 0-49 and epoch 2 for 50-59; the leader answers that its
    // epoch 1 runs to 100. The cut is at 50 (where epoch 1 ends here), not at min(100, LEO) = 60.
    const p = core.rm.getPartition('f', 0)!;
    const values = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);
    p.applyFetchResponse(
      {
        topic: 'f',
        partition: 0,
        highWatermark: 0,
        logStartOffset: 0,
        records: Buffer.concat([leaderBytes(0, 1, values(50)), leaderBytes(50, 2, values(10))]),
      },
      0,
      3,
    );
    expect(p.log.logEndOffset).toBe(60);
    const applied = p.applyFetchResponse(
      { topic: 'f', partition: 0, highWatermark: 40, logStartOffset: 0, records: Buffer.alloc(0), divergingEpoch: { epoch: 1, endOffset: 100 } },
      60,
      3,
    );
    expect(applied).toEqual({ bytes: 0, stalled: false });
    expect(p.log.logEndOffset).toBe(50);
    expect(p.log.lastEpoch()).toBe(1);
  });

  it('reports a divergence answer that cuts nothing as stalled, and keeps its log', () => {
    const p = core.rm.getPartition('f', 0)!;
    p.applyFetchResponse({ topic: 'f', partition: 0, highWatermark: 0, logStartOffset: 0, records: leaderBytes(0, 3, ['a', 'b']) }, 0, 3);
    const applied = p.applyFetchResponse(
      { topic: 'f', partition: 0, highWatermark: 0, logStartOffset: 0, records: Buffer.alloc(0), divergingEpoch: { epoch: 3, endOffset: 9 } },
      2,
      3,
    );
    expect(applied).toEqual({ bytes: 0, stalled: true });
    expect(p.log.logEndOffset).toBe(2);
  });

  it('starts over at the leader log start when it fell behind it', () => {
    const p = core.rm.getPartition('f', 0)!;
    p.applyFetchResponse(
      {
        topic: 'f',
        partition: 0,
        highWatermark: 50,
        logStartOffset: 40,
        records: Buffer.alloc(0),
        error: { code: 'OFFSET_OUT_OF_RANGE', message: 'below start' },
      },
      0,
      3,
    );
    expect(p.log.logStartOffset).toBe(40);
    expect(p.log.logEndOffset).toBe(40);
  });

  it('a deleted partition ignores late answers', () => {
    const p = core.rm.getPartition('f', 0)!;
    core.rm.applyMetadata({ clusterId: 'c', version: 2, brokers: [brokerReg(0), brokerReg(1)], topics: [] });
    expect(core.rm.getPartition('f', 0)).toBeUndefined();
    expect(p.applyFetchResponse({ topic: 'f', partition: 0, highWatermark: 1, logStartOffset: 0, records: leaderBytes(0, 3, ['a']) }, 0, 3).bytes).toBe(0);
  });

  it('becomes leader at a new epoch starting at its LEO', () => {
    const p = core.rm.getPartition('f', 0)!;
    p.applyFetchResponse({ topic: 'f', partition: 0, highWatermark: 2, logStartOffset: 0, records: leaderBytes(0, 3, ['a', 'b']) }, 0, 3);
    const next = state(2, 4);
    next.topics[0]!.partitions[0]!.leader = 0;
    core.rm.applyMetadata(next);
    expect(p.role).toBe('leader');
    expect(p.log.epochs.startOffsetOf(4)).toBe(2);
    expect(p.log.epochs.endOffsetFor(3, p.log.logEndOffset)).toEqual({ epoch: 3, endOffset: 2 });
  });
});

describe('divergence between two real replicas', () => {
  it('a follower that went on to an epoch the new leader never saw converges in a few exchanges', async () => {
    // Broker 0 led epoch 1 (offsets 0-99 reached broker 1, only 0-49 reached broker 2), then
    // broker 2 led epoch 2 alone for 50-59 with acks=1 (never replicated), then broker 1 became
    // leader at epoch 3. Broker 2 follows again: its log is 0-49 epoch 1 + 50-59 epoch 2.
    const leader = await makeCore({ brokerId: 1 });
    const follower = await makeCore({ brokerId: 2 });
    try {
      const md = (version: number, leaderId: number, leaderEpoch: number) => ({
        clusterId: 'c',
        version,
        brokers: [brokerReg(0), brokerReg(1), brokerReg(2)],
        topics: [topicState('d', [{ replicas: [0, 1, 2], leader: leaderId, isr: [1, 2], leaderEpoch }])],
      });
      // Both follow broker 0 while their logs are set up, then broker 1 takes over at epoch 3.
      leader.rm.applyMetadata(md(1, 0, 2));
      follower.rm.applyMetadata(md(1, 0, 2));
      const stamped = (base: number, epoch: number, n: number) => {
        const b = Buffer.from(
          batch(
            Array.from({ length: n }, (_, i) => `${epoch}-${base + i}`),
            { timestamp: 1_700_000_000_000 },
          ),
        );
        b.writeBigInt64BE(BigInt(base), 0);
        b.writeInt32BE(epoch, 12);
        return b;
      };
      const l = leader.rm.getPartition('d', 0)!;
      const f = follower.rm.getPartition('d', 0)!;
      l.log.appendAsFollower(Buffer.concat([stamped(0, 1, 50), stamped(50, 1, 50)]));
      f.log.appendAsFollower(Buffer.concat([stamped(0, 1, 50), stamped(50, 2, 10)]));
      leader.rm.applyMetadata(md(2, 1, 3));
      follower.rm.applyMetadata(md(2, 1, 3));
      expect(l.role).toBe('leader');
      let rounds = 0;
      while (f.log.logEndOffset < l.log.logEndOffset || rounds === 0) {
        expect(rounds++).toBeLessThan(5);
        const fetchOffset = f.log.logEndOffset;
        const resp = l.readForFollower(2, 1, fetchOffset, f.log.lastEpoch(), 3, 1 << 20, 0, true);
        f.applyFetchResponse(resp, fetchOffset, 3);
      }
      expect(f.log.logEndOffset).toBe(100);
      const whole = (log: typeof f.log) => {
        const parts: Buffer[] = [];
        for (let offset = 0; offset < log.logEndOffset; ) {
          const chunk = log.read(offset, 1 << 20);
          parts.push(chunk);
          for (let pos = 0; pos < chunk.length; ) {
            const h = readBatchHeader(chunk, pos);
            offset = h.baseOffset + h.lastOffsetDelta + 1;
            pos += h.batchLength + LOG_OVERHEAD;
          }
        }
        return Buffer.concat(parts);
      };
      expect(whole(f.log)).toEqual(whole(l.log));
    } finally {
      await leader.close();
      await follower.close();
    }
  });
});
