import { describe, expect, it } from 'vitest';
import type { ReplicaFetchPartitionResponse } from '@tributary/protocol';
import { FetchSessionBuilder, FetchSessionCache, isQuiet, type PartitionFetch, type SessionFetchPlan } from './fetch-session.ts';

const fetch = (partition: number, fetchOffset: number, extra: Partial<PartitionFetch> = {}): PartitionFetch => ({
  topic: 't',
  partition,
  fetchOffset,
  lastFetchedEpoch: 1,
  currentLeaderEpoch: 1,
  ...extra,
});

const result = (partition: number, highWatermark: number, records = 0, extra: Partial<ReplicaFetchPartitionResponse> = {}): ReplicaFetchPartitionResponse => ({
  topic: 't',
  partition,
  highWatermark,
  logStartOffset: 0,
  records: Buffer.alloc(records),
  ...extra,
});

function ids(start = 100): () => number {
  let next = start;
  return () => next++;
}

/**
 * Answers a plan as the leader would: `results` for what `toRead` gives, matched by partition;
 * the partitions in `quiet` (by number) are quiet after this read.
 */
function answer(cache: FetchSessionCache, plan: SessionFetchPlan, results: ReplicaFetchPartitionResponse[], nowMs = 0, quiet: number[] = []) {
  const reads = cache.toRead(plan).map((entry) => {
    const r = results.find((x) => x.partition === entry.partition);
    if (r === undefined) throw new Error(`no result given for partition ${entry.partition}`);
    return { entry, result: r, quiet: quiet.includes(entry.partition) };
  });
  return cache.answer(plan, reads, nowMs);
}

const readNow = (cache: FetchSessionCache, plan: SessionFetchPlan) => cache.toRead(plan).map((p) => [p.partition, p.fetchOffset]);

describe('isQuiet', () => {
  const quietRead = { result: { records: Buffer.alloc(0) }, fetchOffset: 10, logEndOffset: 10, followerInIsr: true, heldBack: false };
  it('is quiet only for a follower in the ISR at the log end that was sent nothing, no error and no divergence', () => {
    expect(isQuiet(quietRead)).toBe(true);
    expect(isQuiet({ ...quietRead, fetchOffset: 9 })).toBe(false);
    expect(isQuiet({ ...quietRead, followerInIsr: false })).toBe(false);
    expect(isQuiet({ ...quietRead, heldBack: true })).toBe(false);
    expect(isQuiet({ ...quietRead, result: { records: Buffer.alloc(1) } })).toBe(false);
    expect(isQuiet({ ...quietRead, result: { records: Buffer.alloc(0), error: { code: 'NOT_LEADER_OR_FOLLOWER', message: 'x' } } })).toBe(false);
    expect(isQuiet({ ...quietRead, result: { records: Buffer.alloc(0), divergingEpoch: { epoch: 1, endOffset: 5 } } })).toBe(false);
  });
});

describe('FetchSessionCache (leader)', () => {
  it('a request without session fields is a full fetch with no session, every partition answered', () => {
    const cache = new FetchSessionCache({ newId: ids() });
    const plan = cache.plan({ brokerId: 1, partitions: [fetch(0, 5), fetch(1, 7)] }, 0);
    expect(plan.session).toBeUndefined();
    expect(plan.partitions.map((p) => p.partition)).toEqual([0, 1]);
    expect(answer(cache, plan, [result(0, 5), result(1, 7)])).toHaveLength(2);
    expect(cache.size).toBe(0);
  });

  it('epoch 0 opens a session; an incremental fetch reads the partitions not yet quiet and answers only what changed', () => {
    const cache = new FetchSessionCache({ newId: ids() });
    const full = cache.plan({ brokerId: 1, sessionId: 0, sessionEpoch: 0, partitions: [fetch(0, 5), fetch(1, 7), fetch(2, 9)] }, 0);
    expect(full.session?.id).toBe(100);
    expect(answer(cache, full, [result(0, 5), result(1, 7), result(2, 9)])).toHaveLength(3);

    // Nothing named, nothing quiet yet: all three are read ...
    const next = cache.plan({ brokerId: 1, sessionId: 100, sessionEpoch: 1, partitions: [] }, 10);
    expect(readNow(cache, next)).toEqual([
      [0, 5],
      [1, 7],
      [2, 9],
    ]);
    // ... and only the one with records, the one whose HW moved and the one with an error are answered.
    expect(answer(cache, next, [result(0, 5, 10), result(1, 8), result(2, 9)]).map((r) => r.partition)).toEqual([0, 1]);
    // The HW of partition 1 was sent: not again while it stays.
    const third = cache.plan({ brokerId: 1, sessionId: 100, sessionEpoch: 2, partitions: [] }, 20);
    expect(
      answer(cache, third, [result(0, 5), result(1, 8), result(2, 9, 0, { error: { code: 'NOT_LEADER_OR_FOLLOWER', message: 'x' } })]).map((r) => r.partition),
    ).toEqual([2]);
  });

  it('an incremental fetch updates the partitions it names, answers them whatever changed, and drops the forgotten ones', () => {
    const cache = new FetchSessionCache({ newId: ids() });
    const full = cache.plan({ brokerId: 1, sessionId: 0, sessionEpoch: 0, partitions: [fetch(0, 5), fetch(1, 7)] }, 0);
    answer(cache, full, [result(0, 5), result(1, 7)], 0, [0, 1]);
    const inc = cache.plan(
      { brokerId: 1, sessionId: 100, sessionEpoch: 1, partitions: [fetch(0, 6), fetch(3, 0)], forgotten: [{ topic: 't', partition: 1 }] },
      5,
    );
    expect(inc.forgotten).toEqual(['t-1']);
    expect(readNow(cache, inc)).toEqual([
      [0, 6],
      [3, 0],
    ]);
    // Named partitions are answered even with no records and an unchanged HW.
    expect(answer(cache, inc, [result(0, 5), result(3, 0)]).map((r) => r.partition)).toEqual([0, 3]);
    // A forgotten partition's changes no longer concern the session.
    cache.markChanged('t-1', true);
    expect(inc.session!.active.has('t-1')).toBe(false);
  });

  it('a quiet partition is not read again until it changes; a change with wake ends the waiting fetch', () => {
    const cache = new FetchSessionCache({ newId: ids() });
    const full = cache.plan({ brokerId: 1, sessionId: 0, sessionEpoch: 0, partitions: [fetch(0, 5), fetch(1, 7), fetch(2, 9)] }, 0);
    // 0 and 2 are quiet after the first answer; 1 is not (its follower is behind, say).
    answer(cache, full, [result(0, 5), result(1, 7), result(2, 9)], 100, [0, 2]);
    expect(full.session!.clock.lastFetchMs).toBe(100);

    const next = cache.plan({ brokerId: 1, sessionId: 100, sessionEpoch: 1, partitions: [] }, 200);
    expect(readNow(cache, next)).toEqual([[1, 7]]);
    const woken: string[] = [];
    next.session!.waiter = () => woken.push('woken');
    // A HW move is read at the next fetch but does not end a waiting one; records do.
    cache.markChanged('t-2', false);
    expect(woken).toEqual([]);
    expect(readNow(cache, next)).toEqual([
      [1, 7],
      [2, 9],
    ]);
    cache.markChanged('t-0', true);
    expect(woken).toEqual(['woken']);
    expect(readNow(cache, next)).toEqual([
      [1, 7],
      [2, 9],
      [0, 5],
    ]);
    // Answered: the ones quiet again leave the set; the clock moves to the answer's time.
    answer(cache, next, [result(0, 6, 3), result(1, 7), result(2, 10)], 300, [1, 2]);
    expect([...next.session!.active]).toEqual(['t-0']);
    expect(next.session!.clock.lastFetchMs).toBe(300);
    // Partitions of no session are no one's concern.
    cache.markChanged('other-0', true);
    expect(woken).toEqual(['woken']);
  });

  it('a replaced session is closed, its waiting fetch woken once to end, then never marked again; its clock stops', () => {
    const cache = new FetchSessionCache({ newId: ids() });
    const first = cache.plan({ brokerId: 1, sessionId: 0, sessionEpoch: 0, partitions: [fetch(0, 5)] }, 0);
    answer(cache, first, [result(0, 5)], 50, [0]);
    const old = first.session!;
    let wakes = 0;
    old.waiter = () => wakes++;
    const second = cache.plan({ brokerId: 1, sessionId: 0, sessionEpoch: 0, partitions: [fetch(0, 5)] }, 60);
    expect(old.closed).toBe(true);
    expect(second.session!.closed).toBe(false);
    expect(wakes).toBe(1);
    cache.markChanged('t-0', true);
    expect(wakes).toBe(1);
    expect(old.active.size).toBe(0);
    expect(old.clock.lastFetchMs).toBe(50);
    answer(cache, second, [result(0, 5)], 70, [0]);
    expect(old.clock.lastFetchMs).toBe(50);
    expect(second.session!.clock.lastFetchMs).toBe(70);
  });

  it('refuses an unknown session, another broker using it, and an epoch out of order', () => {
    const cache = new FetchSessionCache({ newId: ids() });
    cache.plan({ brokerId: 1, sessionId: 0, sessionEpoch: 0, partitions: [fetch(0, 0)] }, 0);
    expect(() => cache.plan({ brokerId: 1, sessionId: 7, sessionEpoch: 1, partitions: [] }, 0)).toThrow(
      expect.objectContaining({ code: 'FETCH_SESSION_ID_NOT_FOUND' }),
    );
    expect(() => cache.plan({ brokerId: 2, sessionId: 100, sessionEpoch: 1, partitions: [] }, 0)).toThrow(
      expect.objectContaining({ code: 'FETCH_SESSION_ID_NOT_FOUND' }),
    );
    expect(() => cache.plan({ brokerId: 1, sessionId: 100, sessionEpoch: 2, partitions: [] }, 0)).toThrow(
      expect.objectContaining({ code: 'INVALID_FETCH_SESSION_EPOCH' }),
    );
    // A refused epoch changes nothing: epoch 1 is still the one expected.
    expect(cache.plan({ brokerId: 1, sessionId: 100, sessionEpoch: 1, partitions: [] }, 0).session?.id).toBe(100);
    // Replaying it is refused (the answer to it may have been lost: the follower must start over).
    expect(() => cache.plan({ brokerId: 1, sessionId: 100, sessionEpoch: 1, partitions: [] }, 0)).toThrow(
      expect.objectContaining({ code: 'INVALID_FETCH_SESSION_EPOCH' }),
    );
  });

  it('keeps one session per follower broker, evicts the least recently used when full, and opens none with no slots', () => {
    const cache = new FetchSessionCache({ maxSessions: 2, newId: ids() });
    cache.plan({ brokerId: 1, sessionId: 0, sessionEpoch: 0, partitions: [] }, 0); // 100
    cache.plan({ brokerId: 1, sessionId: 0, sessionEpoch: 0, partitions: [] }, 1); // 101 replaces 100
    expect(cache.size).toBe(1);
    expect(() => cache.plan({ brokerId: 1, sessionId: 100, sessionEpoch: 1, partitions: [] }, 2)).toThrow(
      expect.objectContaining({ code: 'FETCH_SESSION_ID_NOT_FOUND' }),
    );
    cache.plan({ brokerId: 2, sessionId: 0, sessionEpoch: 0, partitions: [] }, 3); // 102
    cache.plan({ brokerId: 1, sessionId: 101, sessionEpoch: 1, partitions: [] }, 4); // 101 used last
    cache.plan({ brokerId: 3, sessionId: 0, sessionEpoch: 0, partitions: [] }, 5); // 103 evicts 102
    expect(cache.size).toBe(2);
    expect(() => cache.plan({ brokerId: 2, sessionId: 102, sessionEpoch: 1, partitions: [] }, 6)).toThrow(
      expect.objectContaining({ code: 'FETCH_SESSION_ID_NOT_FOUND' }),
    );
    expect(cache.plan({ brokerId: 1, sessionId: 101, sessionEpoch: 2, partitions: [] }, 7).session?.id).toBe(101);

    const none = new FetchSessionCache({ maxSessions: 0 });
    const plan = none.plan({ brokerId: 1, sessionId: 0, sessionEpoch: 0, partitions: [fetch(0, 1)] }, 0);
    expect(plan.session).toBeUndefined();
    expect(plan.full).toBe(true);
  });
});

describe('FetchSessionBuilder (follower)', () => {
  it('opens with a full fetch, then names only what changed and what it stopped fetching', () => {
    const b = new FetchSessionBuilder();
    const first = b.build([fetch(0, 5), fetch(1, 7)]);
    expect(first).toEqual({ sessionId: 0, sessionEpoch: 0, partitions: [fetch(0, 5), fetch(1, 7)], forgotten: [] });
    b.onResponse(first, 42);
    const second = b.build([fetch(0, 6), fetch(1, 7)]);
    expect(second).toEqual({ sessionId: 42, sessionEpoch: 1, partitions: [fetch(0, 6)], forgotten: [] });
    b.onResponse(second, 42);
    const third = b.build([fetch(0, 6), fetch(2, 0), fetch(1, 7, { currentLeaderEpoch: 2 })]);
    expect(third).toEqual({ sessionId: 42, sessionEpoch: 2, partitions: [fetch(2, 0), fetch(1, 7, { currentLeaderEpoch: 2 })], forgotten: [] });
    b.onResponse(third, 42);
    const fourth = b.build([fetch(2, 0)]);
    expect(fourth.sessionEpoch).toBe(3);
    expect(fourth.partitions).toEqual([]);
    expect(fourth.forgotten).toEqual([
      { topic: 't', partition: 0 },
      { topic: 't', partition: 1 },
    ]);
    b.onResponse(fourth, 42);
    // A forgotten partition that comes back is named again.
    expect(b.build([fetch(2, 0), fetch(0, 6)]).partitions).toEqual([fetch(0, 6)]);
  });

  it('built partition by partition: the last request says what it fetched and for whom; a partition named twice counts once', () => {
    const b = new FetchSessionBuilder<string>();
    b.begin();
    b.want('t-0', 't', 0, 5, 1, 1, undefined, 'p0');
    b.want('t-1', 't', 1, 7, 1, 1, undefined, 'p1');
    const first = b.finish();
    expect(first.partitions).toEqual([fetch(0, 5), fetch(1, 7)]);
    b.onResponse(first, 42);
    b.begin();
    b.want('t-0', 't', 0, 5, 1, 1, undefined, 'p0 again');
    b.want('t-0', 't', 0, 9, 1, 1, undefined, 'twice');
    b.want('t-2', 't', 2, 0, 1, 1, 100, 'p2');
    const second = b.finish();
    expect(second).toEqual({ sessionId: 42, sessionEpoch: 1, partitions: [fetch(2, 0, { maxBytes: 100 })], forgotten: [{ topic: 't', partition: 1 }] });
    expect(b.sentFetch('t-0')).toMatchObject({ fetchOffset: 5, owner: 'p0 again' });
    expect(b.sentFetch('t-2')).toMatchObject({ fetchOffset: 0, maxBytes: 100, owner: 'p2' });
    // Not fetched by the last request: no answer for it is applied.
    expect(b.sentFetch('t-1')).toBeUndefined();
    // A changed limit is a change.
    b.onResponse(second, 42);
    b.begin();
    b.want('t-0', 't', 0, 5, 1, 1, undefined, 'p0');
    b.want('t-2', 't', 2, 0, 1, 1, undefined, 'p2');
    expect(b.finish().partitions).toEqual([fetch(2, 0)]);
  });

  it('keeps a partition unread only when its version, owner, epoch and limit are as last sent', () => {
    const b = new FetchSessionBuilder<string>();
    b.begin();
    // Never sent: it has to be read.
    expect(b.keepIfUnchanged('t-0', 1, 1, undefined, 'p0')).toBe(false);
    b.want('t-0', 't', 0, 5, 1, 1, undefined, 'p0', 1);
    b.want('t-1', 't', 1, 7, 1, 1, undefined, 'p1', 4);
    b.onResponse(b.finish(), 42);
    b.begin();
    expect(b.keepIfUnchanged('t-0', 1, 1, undefined, 'p0')).toBe(true);
    // Kept once per request; then as `want` would, it counts once.
    expect(b.keepIfUnchanged('t-0', 1, 1, undefined, 'p0')).toBe(false);
    expect(b.keepIfUnchanged('t-1', 5, 1, undefined, 'p1')).toBe(false); // its log changed
    b.want('t-1', 't', 1, 9, 1, 1, undefined, 'p1', 5);
    const second = b.finish();
    expect(second.partitions).toEqual([fetch(1, 9)]);
    expect(second.forgotten).toEqual([]);
    b.onResponse(second, 42);
    b.begin();
    expect(b.keepIfUnchanged('t-0', 1, 2, undefined, 'p0')).toBe(false); // new leader epoch
    expect(b.keepIfUnchanged('t-1', 5, 1, 100, 'p1')).toBe(false); // now limited
    expect(b.keepIfUnchanged('t-1', 5, 1, undefined, 'another p1')).toBe(false); // re-created partition
    b.finish();
    b.reset();
    b.begin();
    expect(b.keepIfUnchanged('t-0', 1, 1, undefined, 'p0')).toBe(false); // a new session names everything
  });

  it('a changes-only request covers what it was told: the rest stays in the session, dropped ones are forgotten', () => {
    const b = new FetchSessionBuilder<string>();
    expect(() => b.begin(true)).toThrow(/established fetch session/);
    b.reset();
    b.onResponse(b.build([fetch(0, 5), fetch(1, 7), fetch(2, 9)]), 42);
    b.begin(true);
    b.want('t-1', 't', 1, 8, 1, 1, undefined, 'p1');
    b.drop('t-2');
    b.drop('t-3'); // never in the session: nothing to forget
    const changes = b.finish();
    expect(changes).toEqual({ sessionId: 42, sessionEpoch: 1, partitions: [fetch(1, 8)], forgotten: [{ topic: 't', partition: 2 }] });
    expect(b.heldCount).toBe(2);
    expect(b.sentFetch('t-0')).toMatchObject({ fetchOffset: 5 });
    b.onResponse(changes, 42);
    // A full request after it still compares every partition with what the session holds.
    expect(b.build([fetch(0, 5), fetch(1, 8)])).toEqual({ sessionId: 42, sessionEpoch: 2, partitions: [], forgotten: [] });
  });

  it('after a failure opens a new session with everything', () => {
    const b = new FetchSessionBuilder();
    b.onResponse(b.build([fetch(0, 5)]), 42);
    b.build([fetch(0, 6)]);
    b.reset();
    expect(b.build([fetch(0, 6), fetch(1, 1)])).toEqual({ sessionId: 0, sessionEpoch: 0, partitions: [fetch(0, 6), fetch(1, 1)], forgotten: [] });
  });

  it('keeps sending full fetches to a leader that opens no session, and none at all when disabled', () => {
    const b = new FetchSessionBuilder();
    b.onResponse(b.build([fetch(0, 5)]), undefined);
    expect(b.build([fetch(0, 5)])).toMatchObject({ sessionId: 0, sessionEpoch: 0, partitions: [fetch(0, 5)] });
    const off = new FetchSessionBuilder({ enabled: false });
    expect(off.build([fetch(0, 5)])).toMatchObject({ sessionId: 0, sessionEpoch: -1, partitions: [fetch(0, 5)] });
  });

  it('a follower and a leader kept in step agree on every partition after random changes (model check)', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const cache = new FetchSessionCache({ newId: ids() });
    const b = new FetchSessionBuilder();
    const offsets = new Map<number, number>();
    for (let round = 0; round < 500; round++) {
      // Change a few partitions' offsets, drop or add some.
      for (let i = 0; i < 3; i++) {
        const p = rand(20);
        if (rand(5) === 0) offsets.delete(p);
        else offsets.set(p, (offsets.get(p) ?? 0) + rand(3));
      }
      const wanted = [...offsets].map(([p, o]) => fetch(p, o));
      const req = b.build(wanted);
      if (rand(30) === 0) {
        b.reset(); // the exchange was lost
        continue;
      }
      let plan: ReturnType<FetchSessionCache['plan']>;
      try {
        plan = cache.plan({ brokerId: 1, ...req }, round);
      } catch {
        b.reset();
        continue;
      }
      // What the leader holds for the follower is exactly what it wants now ...
      const held = plan.session !== undefined ? [...plan.session.partitions.values()] : plan.partitions;
      expect(held.map((p) => [p.partition, p.fetchOffset]).sort((x, y) => x[0]! - y[0]!)).toEqual(
        wanted.map((p) => [p.partition, p.fetchOffset]).sort((x, y) => x[0]! - y[0]!),
      );
      // ... and it reads at least every partition whose fetch state changed (those the request names).
      const read = new Set(cache.toRead(plan).map((p) => p.partition));
      for (const p of req.partitions) expect(read.has(p.partition)).toBe(true);
      // Some turn quiet; some change on the leader's side and are read again next time.
      answer(
        cache,
        plan,
        cache.toRead(plan).map((p) => result(p.partition, p.fetchOffset)),
        round,
        cache.toRead(plan).flatMap((p) => (rand(2) === 0 ? [p.partition] : [])),
      );
      if (rand(3) === 0) cache.markChanged(`t-${rand(20)}`, false);
      if (rand(30) === 0) {
        b.reset(); // the leader served it, the answer was lost
        continue;
      }
      b.onResponse(req, plan.session?.id);
    }
  });
});
