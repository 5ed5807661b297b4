import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkFetchPosition, kafkaEndOffsetForEpoch, truncationOffset, type FollowerEpochs } from './divergence.ts';

/** A leader-epoch cache over entries [epoch, startOffset]. */
function cache(entries: [number, number][]): FollowerEpochs {
  return {
    entries: () => entries.map(([epoch, startOffset]) => ({ epoch, startOffset })),
    endOffsetFor(epoch, leo) {
      let i = -1;
      for (let j = 0; j < entries.length; j++) if (entries[j]![0] <= epoch) i = j;
      if (i < 0) return { epoch: -1, endOffset: -1 };
      return { epoch: entries[i]![0], endOffset: entries[i + 1]?.[1] ?? leo };
    },
  };
}

// Leader: epoch 1 from 0, epoch 3 from 50, epoch 5 from 80; LEO 100, log start 0.
const leaderEpochs = cache([
  [1, 0],
  [3, 50],
  [5, 80],
]);
const leaderPos = { logStartOffset: 0, logEndOffset: 100, latestEpoch: 5 };

describe('divergence (KIP-101/279)', () => {
  it.each([
    { name: 'same epoch, behind: ok', fetch: 90, epoch: 5, want: { kind: 'ok' } },
    { name: 'same epoch, at LEO: ok', fetch: 100, epoch: 5, want: { kind: 'ok' } },
    { name: 'older epoch ending past the fetch offset: ok', fetch: 40, epoch: 1, want: { kind: 'ok' } },
    { name: 'older epoch, follower wrote past its end', fetch: 60, epoch: 1, want: { kind: 'diverging', epoch: 1, endOffset: 50 } },
    { name: 'epoch the leader never had (2): answers 1 ending at 50', fetch: 55, epoch: 2, want: { kind: 'diverging', epoch: 1, endOffset: 50 } },
    { name: 'epoch newer than the leader knows', fetch: 100, epoch: 6, want: { kind: 'diverging', epoch: 5, endOffset: 100 } },
    { name: 'follower ahead without epochs', fetch: 120, epoch: -1, want: { kind: 'diverging', epoch: 5, endOffset: 100 } },
    { name: 'empty follower: ok', fetch: 0, epoch: -1, want: { kind: 'ok' } },
  ])('$name', ({ fetch, epoch, want }) => {
    expect(checkFetchPosition(leaderEpochs, leaderPos, fetch, epoch)).toEqual(want);
  });

  it('epoch older than every leader entry diverges at the leader log start', () => {
    const epochs = cache([[4, 30]]);
    expect(checkFetchPosition(epochs, { logStartOffset: 30, logEndOffset: 60, latestEpoch: 4 }, 40, 2)).toEqual({
      kind: 'diverging',
      epoch: -1,
      endOffset: 30,
    });
  });

  it('a fetch below the log start is out of range', () => {
    expect(checkFetchPosition(cache([[4, 30]]), { logStartOffset: 30, logEndOffset: 60, latestEpoch: 4 }, 10, -1)).toEqual({ kind: 'out-of-range' });
  });

  // The follower's side (Kafka's getOffsetTruncationState).
  it.each([
    {
      name: "the issue's case: the follower went on to epoch 2 the leader never saw; cut at its own end of epoch 1",
      follower: [
        [1, 0],
        [2, 50],
      ] as [number, number][],
      leo: 60,
      answer: { epoch: 1, endOffset: 100 },
      want: { offset: 50, complete: true },
    },
    {
      name: "same epoch, the leader's ends first",
      follower: [
        [1, 0],
        [3, 40],
      ] as [number, number][],
      leo: 70,
      answer: { epoch: 3, endOffset: 55 },
      want: { offset: 55, complete: true },
    },
    {
      name: 'same epoch, never past its own log end',
      follower: [[1, 0]] as [number, number][],
      leo: 60,
      answer: { epoch: 1, endOffset: 100 },
      want: { offset: 60, complete: true },
    },
    {
      name: "the follower never had the leader's epoch: cut at the end of its own smaller epoch and ask again",
      follower: [
        [1, 0],
        [3, 10],
      ] as [number, number][],
      leo: 20,
      answer: { epoch: 2, endOffset: 15 },
      want: { offset: 10, complete: false },
    },
    {
      name: "no epoch of its own at or below the leader's: the leader's end bounds it",
      follower: [[4, 45]] as [number, number][],
      leo: 60,
      answer: { epoch: 2, endOffset: 40 },
      want: { offset: 40, complete: true },
    },
    {
      name: "no epoch of its own at or below the leader's, and its first epoch began before the leader's ended: cut where it began",
      follower: [[4, 30]] as [number, number][],
      leo: 60,
      answer: { epoch: 2, endOffset: 40 },
      want: { offset: 30, complete: false },
    },
    {
      name: "the leader holds nothing that old, and the follower's epochs began after its log start: cut at the log start",
      follower: [[1, 35]] as [number, number][],
      leo: 60,
      answer: { epoch: -1, endOffset: 30 },
      want: { offset: 30, complete: true },
    },
    {
      name: "the leader holds nothing that old, and the follower's epoch began before its log start: cut where that epoch began",
      follower: [[1, 0]] as [number, number][],
      leo: 60,
      answer: { epoch: -1, endOffset: 30 },
      want: { offset: 0, complete: false },
    },
  ])('$name', ({ follower, leo, answer, want }) => {
    expect(truncationOffset(answer, cache(follower), leo)).toEqual(want);
  });

  it('repeated exchanges always converge on the longest common prefix (random epoch histories)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ leader: fc.nat(2), appends: fc.integer({ min: 0, max: 6 }), syncs: fc.array(fc.tuple(fc.nat(2), fc.nat(8)), { maxLength: 3 }) }), {
          minLength: 1,
          maxLength: 10,
        }),
        fc.nat(2),
        fc.nat(2),
        (epochs, l, f) => {
          // Three replicas' logs as the epoch of each offset. Epoch e's leader appends to its own
          // log; a replica that syncs with it first takes the common prefix (what a correct
          // truncation keeps), then copies some of the rest, as replication would.
          const logs: number[][] = [[], [], []];
          epochs.forEach(({ leader, appends, syncs }, i) => {
            const epoch = i + 1;
            for (let k = 0; k < appends; k++) logs[leader]!.push(epoch);
            for (const [r, n] of syncs) {
              if (r === leader) continue;
              const keep = commonPrefix(logs[r]!, logs[leader]!);
              logs[r] = logs[leader]!.slice(0, Math.min(logs[leader]!.length, keep + n));
            }
          });
          if (l === f) return;
          const leader = logs[l]!;
          let follower = logs[f]!;
          const want = commonPrefix(leader, follower);
          for (let round = 0; ; round++) {
            expect(round).toBeLessThan(20);
            const check = checkFetchPosition(
              cacheOf(leader),
              { logStartOffset: 0, logEndOffset: leader.length, latestEpoch: leader.at(-1) ?? -1 },
              follower.length,
              follower.at(-1) ?? -1,
            );
            if (check.kind === 'ok') break;
            expect(check.kind).toBe('diverging');
            if (check.kind !== 'diverging') return;
            const cut = truncationOffset(check, cacheOf(follower), follower.length);
            expect(cut.offset).toBeLessThanOrEqual(follower.length);
            follower = follower.slice(0, cut.offset);
          }
          expect(follower).toEqual(leader.slice(0, follower.length));
          expect(follower.length).toBe(want);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

function commonPrefix(a: number[], b: number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** The leader-epoch cache of a log given as the epoch of each offset. */
function cacheOf(log: number[]): FollowerEpochs {
  const entries: [number, number][] = [];
  log.forEach((e, offset) => {
    if (entries.at(-1)?.[0] !== e) entries.push([e, offset]);
  });
  return cache(entries);
}

describe("kafkaEndOffsetForEpoch: OffsetsForLeaderEpoch as Kafka's LeaderEpochFileCache answers it", () => {
  const entries = [
    { epoch: 1, startOffset: 10 },
    { epoch: 3, startOffset: 50 },
    { epoch: 5, startOffset: 80 },
  ];
  it.each([
    { name: 'the latest epoch ends at the log end', requested: 5, want: { epoch: 5, endOffset: 100 } },
    { name: 'an older epoch ends where the next begins', requested: 3, want: { epoch: 3, endOffset: 80 } },
    { name: 'an epoch the log never had: the largest below it', requested: 4, want: { epoch: 3, endOffset: 80 } },
    { name: 'an epoch older than the first: itself, ending at the first start', requested: 0, want: { epoch: 0, endOffset: 10 } },
    { name: 'an epoch newer than every one held: undefined', requested: 6, want: { epoch: -1, endOffset: -1 } },
    { name: 'the undefined epoch', requested: -1, want: { epoch: -1, endOffset: -1 } },
  ])('$name', ({ requested, want }) => {
    expect(kafkaEndOffsetForEpoch(entries, requested, 100)).toEqual(want);
  });

  it('an empty cache knows no epoch', () => {
    expect(kafkaEndOffsetForEpoch([], 0, 0)).toEqual({ epoch: -1, endOffset: -1 });
  });

  it('agrees with the replica path wherever the requested epoch lies within the cache', () => {
    const lookup = cache(entries.map((e) => [e.epoch, e.startOffset]));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), (epoch) => {
        expect(kafkaEndOffsetForEpoch(entries, epoch, 100)).toEqual(lookup.endOffsetFor(epoch, 100));
      }),
    );
  });
});
