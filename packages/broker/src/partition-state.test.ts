import { describe, expect, it } from 'vitest';
import { LeaderState, effectiveMinIsr, followerHighWatermark, type LeaderInit } from './partition-state.ts';

const LAG = 10_000;

function leader(over: Partial<LeaderInit> = {}): LeaderState {
  return new LeaderState({
    brokerId: 0,
    leaderEpoch: 3,
    partitionEpoch: 7,
    replicas: [0, 1, 2],
    isr: [0, 1, 2],
    minInsyncReplicas: 2,
    replicaLagTimeMaxMs: LAG,
    leaderEpochStartOffset: 0,
    logEndOffset: 0,
    highWatermark: 0,
    nowMs: 1000,
    ...over,
  });
}

describe('high watermark', () => {
  it.each([
    { name: 'min LEO over the ISR', isr: [0, 1, 2], leos: { 1: 8, 2: 5 }, leaderLeo: 10, hw: 5 },
    { name: 'a follower outside the ISR does not hold it back', isr: [0, 1], leos: { 1: 9, 2: 1 }, leaderLeo: 10, hw: 9 },
    { name: 'an ISR member not heard from holds it', isr: [0, 1, 2], leos: { 1: 9 }, leaderLeo: 10, hw: 0 },
    { name: 'all caught up: HW = LEO', isr: [0, 1, 2], leos: { 1: 10, 2: 10 }, leaderLeo: 10, hw: 10 },
    { name: 'ISR below min.insync: frozen', isr: [0], leos: { 1: 10, 2: 10 }, leaderLeo: 10, hw: 0 },
  ])('$name', ({ isr, leos, leaderLeo, hw }) => {
    const s = leader({ isr });
    s.onLeaderAppend(leaderLeo);
    for (const [id, leo] of Object.entries(leos)) s.onFollowerFetch(Number(id), leo, 1, 1000, false);
    expect(s.highWatermark).toBe(hw);
    expect(s.highWatermark).toBeLessThanOrEqual(s.logEndOffset);
  });

  it('only moves forward', () => {
    const s = leader();
    s.onLeaderAppend(10);
    s.onFollowerFetch(1, 10, 1, 1000, true);
    s.onFollowerFetch(2, 10, 1, 1000, true);
    expect(s.highWatermark).toBe(10);
    // A follower restarting from a lower offset (it truncated) cannot pull the HW back.
    s.onFollowerFetch(2, 4, 1, 1001, true);
    expect(s.highWatermark).toBe(10);
  });

  it('a single-replica partition commits on append (min ISR capped at RF)', () => {
    const s = leader({ replicas: [0], isr: [0], minInsyncReplicas: 2 });
    expect(s.isUnderMinIsr).toBe(false);
    expect(s.onLeaderAppend(5)).toBe(true);
    expect(s.highWatermark).toBe(5);
  });

  it('stands still when the ISR shrinks below min, and moves again after it grows', () => {
    const s = leader({ isr: [0, 1, 2] });
    s.onLeaderAppend(10);
    s.applyAssignment({ leaderEpoch: 3, partitionEpoch: 8, replicas: [0, 1, 2], isr: [0] }, 2, 1000);
    s.onFollowerFetch(1, 10, 1, 1000, true);
    expect(s.highWatermark).toBe(0);
    expect(s.isUnderMinIsr).toBe(true);
    s.clearPending();
    s.applyAssignment({ leaderEpoch: 3, partitionEpoch: 9, replicas: [0, 1, 2], isr: [0, 1] }, 2, 1000);
    expect(s.highWatermark).toBe(10);
  });

  it('a pending expansion counts in the HW (maximal ISR)', () => {
    const s = leader({ isr: [0, 1] });
    s.onLeaderAppend(10);
    s.onFollowerFetch(1, 10, 1, 1000, true);
    expect(s.highWatermark).toBe(10);
    s.onLeaderAppend(20);
    const { proposal } = s.onFollowerFetch(2, 10, 1, 1000, true);
    expect(proposal).toMatchObject({ kind: 'expand', newIsr: [0, 1, 2] });
    s.onFollowerFetch(1, 20, 1, 1000, true);
    // Follower 2 (pending) is at 10: the HW waits for it.
    expect(s.highWatermark).toBe(10);
  });

  it('a follower HW is min(leader HW, own LEO)', () => {
    expect(followerHighWatermark(10, 7)).toBe(7);
    expect(followerHighWatermark(5, 7)).toBe(5);
    expect(followerHighWatermark(-1, 0)).toBe(0);
  });

  it('refuses an HW above the LEO on becoming leader', () => {
    expect(() => leader({ highWatermark: 5, logEndOffset: 4 })).toThrow(/invariant/);
  });

  it.each([
    [2, 3, 2],
    [2, 1, 1],
    [3, 2, 2],
    [1, 3, 1],
  ])('effective min ISR of min.insync %i with RF %i is %i', (min, rf, want) => {
    expect(effectiveMinIsr(min, rf)).toBe(want);
  });
});

describe('ISR shrink', () => {
  it.each([
    {
      name: 'at the LEO but silent for longer than the lag time leaves (dead or paused follower, idle partition)',
      fetchLeo: 10,
      leaderLeo: 10,
      elapsed: LAG + 2,
      out: [2],
    },
    // Follower 2's last fetch is at t=1001, so elapsed LAG + 1 is exactly the lag time.
    { name: 'at the LEO and silent for exactly the lag time stays', fetchLeo: 10, leaderLeo: 10, elapsed: LAG + 1, out: [] },
    { name: 'behind for exactly the lag time stays', fetchLeo: 5, leaderLeo: 10, elapsed: LAG, out: [] },
    { name: 'behind for lag time + 1 ms leaves', fetchLeo: 5, leaderLeo: 10, elapsed: LAG + 1, out: [2] },
    { name: 'behind for a short time stays', fetchLeo: 5, leaderLeo: 10, elapsed: LAG / 2, out: [] },
  ])('$name', ({ fetchLeo, leaderLeo, elapsed, out }) => {
    const s = leader();
    // Both followers caught up at t=1000 with LEO 0.
    s.onFollowerFetch(1, 0, 1, 1000, true);
    s.onFollowerFetch(2, 0, 1, 1000, true);
    s.onLeaderAppend(leaderLeo);
    // Follower 1 keeps up; follower 2 fetched at fetchLeo once.
    s.onFollowerFetch(1, leaderLeo, 1, 1000 + elapsed, true);
    s.onFollowerFetch(2, fetchLeo, 1, 1001, true);
    expect(s.outOfSyncReplicas(1000 + elapsed)).toEqual(out);
    const proposal = s.maybeShrinkIsr(1000 + elapsed);
    if (out.length === 0) expect(proposal).toBeUndefined();
    else expect(proposal).toMatchObject({ kind: 'shrink', newIsr: [0, 1], changed: out, partitionEpoch: 7, leaderEpoch: 3 });
  });

  it('a follower never heard from leaves after the lag time from becoming leader', () => {
    const s = leader({ logEndOffset: 5, highWatermark: 5 });
    expect(s.maybeShrinkIsr(1000 + LAG)).toBeUndefined();
    expect(s.maybeShrinkIsr(1000 + LAG + 1)).toMatchObject({ newIsr: [0], changed: [1, 2] });
  });

  it('counts a fetch that reached the previous leader LEO as caught up at the previous fetch', () => {
    const s = leader();
    s.onLeaderAppend(10);
    s.onFollowerFetch(2, 0, 1, 2000, true); // leader LEO 10 at this fetch
    s.onLeaderAppend(20);
    s.onFollowerFetch(2, 10, 1, 5000, true); // has what the leader had at t=2000
    expect(s.follower(2)!.lastCaughtUpMs).toBe(2000);
  });

  it('keeps one AlterPartition in flight and changes the ISR only when the controller answers', () => {
    const s = leader({ logEndOffset: 5, highWatermark: 0 });
    s.onFollowerFetch(1, 5, 1, 1000 + LAG, true);
    const first = s.maybeShrinkIsr(1000 + LAG + 1);
    expect(first?.newIsr).toEqual([0, 1]);
    expect(s.isr).toEqual([0, 1, 2]);
    expect(s.maybeShrinkIsr(1000 + LAG + 2)).toBeUndefined();
    // A stale answer (older partition epoch) changes nothing.
    s.applyAssignment({ leaderEpoch: 3, partitionEpoch: 6, replicas: [0, 1, 2], isr: [0] }, 2, 2000);
    expect(s.isr).toEqual([0, 1, 2]);
    s.applyAssignment({ leaderEpoch: 3, partitionEpoch: 8, replicas: [0, 1, 2], isr: [0, 1] }, 2, 2000);
    expect(s.isr).toEqual([0, 1]);
    expect(s.pending).toBeUndefined();
  });

  it('a failed AlterPartition can be retried', () => {
    const s = leader({ logEndOffset: 5 });
    expect(s.maybeShrinkIsr(1000 + LAG + 1)).toBeDefined();
    s.clearPending();
    expect(s.maybeShrinkIsr(1000 + LAG + 1)).toBeDefined();
  });
});

describe('a follower quiet in its fetch session (fetch-session.ts)', () => {
  it("counts as caught up at each of its session's fetches while linked, and not after the session stops", () => {
    const s = leader({ logEndOffset: 10, highWatermark: 10 });
    s.onFollowerFetch(1, 10, 1, 1000, true);
    s.onFollowerFetch(2, 10, 1, 1000, true);
    const clock = { lastFetchMs: 1000 };
    s.linkQuietFollower(2, clock);
    // Follower 2's fetches skip the partition; its session answers at t=9000 and t=20000.
    clock.lastFetchMs = 9000;
    s.onFollowerFetch(1, 10, 1, 20_000, true);
    clock.lastFetchMs = 20_000;
    expect(s.outOfSyncReplicas(20_000 + LAG)).toEqual([]);
    expect(s.describe(20_500)[2]!.lastCaughtUpMsAgo).toBe(500);
    // The session stops (follower dead, paused, or its session replaced): the clock stands still.
    expect(s.outOfSyncReplicas(20_000 + LAG + 1)).toEqual([1, 2]);
  });

  it('hands its time over on the next read, so the previous-fetch rule still holds', () => {
    const s = leader({ logEndOffset: 10, highWatermark: 10 });
    s.onFollowerFetch(2, 10, 1, 1000, true);
    const clock = { lastFetchMs: 1000 };
    s.linkQuietFollower(2, clock);
    clock.lastFetchMs = 8000; // the last fetch that skipped it: at the log end then
    s.onLeaderAppend(20);
    // The append is read at the next fetch; the follower had everything the leader had at t=8000.
    s.onFollowerFetch(2, 10, 1, 8500, true);
    expect(s.follower(2)!.quietClock).toBeUndefined();
    expect(s.follower(2)!.lastCaughtUpMs).toBe(8000);
    clock.lastFetchMs = 30_000; // no longer linked: its session's later fetches do not count
    expect(s.outOfSyncReplicas(8000 + LAG + 1)).toEqual([1, 2]);
  });

  it('a partition its session forgot keeps the time of the last fetch that skipped it, no later', () => {
    const s = leader({ logEndOffset: 10, highWatermark: 10 });
    s.onFollowerFetch(1, 10, 1, 1000, true);
    s.onFollowerFetch(2, 10, 1, 1000, true);
    const clock = { lastFetchMs: 5000 };
    s.linkQuietFollower(2, clock);
    s.unlinkQuietFollower(2);
    clock.lastFetchMs = 50_000; // the session goes on without this partition
    s.onFollowerFetch(1, 10, 1, 50_000, true);
    expect(s.follower(2)!.lastCaughtUpMs).toBe(5000);
    expect(s.outOfSyncReplicas(5000 + LAG + 1)).toEqual([2]);
  });

  it('a new broker epoch (the follower restarted) drops what the old link vouched for', () => {
    const s = leader({ logEndOffset: 10, highWatermark: 10 });
    s.onFollowerFetch(2, 10, 1, 1000, true);
    s.linkQuietFollower(2, { lastFetchMs: 9000 });
    s.onFollowerFetch(2, 0, 2, 9500, true); // a new incarnation with an empty log
    expect(s.follower(2)!.lastCaughtUpMs).toBe(0);
  });
});

describe('ISR expand', () => {
  it.each([
    { name: 'LEO >= HW and >= epoch start: joins', leo: 10, hw: 10, epochStart: 8, alive: true, joins: true },
    { name: 'LEO below the HW: waits', leo: 9, hw: 10, epochStart: 0, alive: true, joins: false },
    { name: 'LEO below the epoch start offset: waits', leo: 10, hw: 10, epochStart: 12, alive: true, joins: false },
    { name: 'fenced broker: waits', leo: 10, hw: 10, epochStart: 0, alive: false, joins: false },
  ])('$name', ({ leo, hw, epochStart, alive, joins }) => {
    const s = leader({ isr: [0, 1], logEndOffset: 12, highWatermark: hw, leaderEpochStartOffset: epochStart });
    const { proposal } = s.onFollowerFetch(2, leo, 1, 2000, alive);
    if (joins) expect(proposal).toMatchObject({ kind: 'expand', newIsr: [0, 1, 2], changed: [2] });
    else expect(proposal).toBeUndefined();
  });

  it('does not propose while another change is in flight', () => {
    const s = leader({ isr: [0], logEndOffset: 10, highWatermark: 0 });
    expect(s.onFollowerFetch(1, 10, 1, 2000, true).proposal).toBeDefined();
    expect(s.onFollowerFetch(2, 10, 1, 2000, true).proposal).toBeUndefined();
  });
});

describe('describe', () => {
  it('counts a follower never caught up as lagging since the leadership began', () => {
    const s = leader({ isr: [0, 1], logEndOffset: 10, highWatermark: 0 });
    expect(s.describe(4000)[2]).toEqual({ brokerId: 2, logEndOffset: -1, lagRecords: 10, lastCaughtUpMsAgo: 3000 });
  });

  it('reports per replica LEO, lag and time since caught up', () => {
    const s = leader({ logEndOffset: 10, highWatermark: 0 });
    s.onFollowerFetch(1, 10, 1, 1500, true);
    s.onFollowerFetch(2, 4, 1, 1500, true);
    const d = s.describe(3000);
    expect(d).toEqual([
      { brokerId: 0, logEndOffset: 10, lagRecords: 0, lastCaughtUpMsAgo: 0 },
      { brokerId: 1, logEndOffset: 10, lagRecords: 0, lastCaughtUpMsAgo: 1500 },
      { brokerId: 2, logEndOffset: 4, lagRecords: 6, lastCaughtUpMsAgo: 2000 },
    ]);
  });
});

describe('during a reassignment (KIP-455)', () => {
  it('replicas being added count neither towards min ISR nor the under-replicated check', () => {
    // [0,1,2] -> target [3,1,2]: replicas [3,1,2,0], adding [3]; the original RF is 3.
    const s = leader({ replicas: [3, 1, 2, 0], addingReplicas: [3], isr: [0, 1, 2] });
    expect(s.replicationFactor).toBe(3);
    expect(s.effectiveMinIsr).toBe(2);
    expect(s.isUnderReplicated).toBe(false);
    // A single-replica topic moving to another broker keeps committing alone until the move ends.
    const solo = leader({ replicas: [1, 0], addingReplicas: [1], isr: [0], minInsyncReplicas: 2 });
    expect(solo.isUnderMinIsr).toBe(false);
    expect(solo.onLeaderAppend(5)).toBe(true);
    expect(solo.highWatermark).toBe(5);
  });

  it('an adding replica is a follower outside the ISR: it does not hold the HW, and joins once caught up, with its broker epoch', () => {
    const s = leader({ replicas: [0, 1, 2], isr: [0, 1, 2] });
    s.onLeaderAppend(10);
    s.onFollowerFetch(1, 10, 1, 1000, true);
    s.onFollowerFetch(2, 10, 1, 1000, true);
    // [0,1,2] -> target [0,1,3]: the leader stays, 2 leaves, 3 is added.
    s.applyAssignment({ leaderEpoch: 3, partitionEpoch: 8, replicas: [0, 1, 3, 2], addingReplicas: [3], isr: [0, 1, 2] }, 2, 1000);
    expect(s.replicationFactor).toBe(3);
    s.onLeaderAppend(12);
    s.onFollowerFetch(1, 12, 1, 1001, true);
    s.onFollowerFetch(2, 12, 1, 1001, true);
    expect(s.highWatermark).toBe(12);
    expect(s.onFollowerFetch(3, 4, 7, 1002, true).proposal).toBeUndefined();
    const { proposal } = s.onFollowerFetch(3, 12, 7, 1003, true);
    expect(proposal).toMatchObject({ kind: 'expand', newIsr: [0, 1, 2, 3], joiningEpochs: [{ brokerId: 3, brokerEpoch: 7 }] });
    // Completed: replicas = target, the leaving follower forgotten.
    s.applyAssignment({ leaderEpoch: 3, partitionEpoch: 10, replicas: [0, 1, 3], addingReplicas: [], isr: [0, 1, 3] }, 2, 1004);
    expect(s.replicationFactor).toBe(3);
    expect(s.followerIds().sort()).toEqual([1, 3]);
  });
});
