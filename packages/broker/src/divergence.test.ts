import { describe, expect, it } from 'vitest';
import { checkFetchPosition, truncationOffset, type EpochLookup } from './divergence.ts';

/** A leader-epoch cache over entries [epoch, startOffset]. */
function cache(entries: [number, number][]): EpochLookup {
  return {
    endOffsetFor(epoch, leo) {
      let i = -1;
      for (let j = 0; j < entries.length; j++) if (entries[j]![0] <= epoch) i = j;
      if (i < 0) return { epoch: -1, endOffset: -1 };
      return { epoch: entries[i]![0], endOffset: entries[i + 1]?.[1] ?? leo };
    },
  };
}

// Leader: epoch 1 from 0, epoch 3 from 50, epoch 5 from 80; LEO 100, log start 0.
const leaderEpochs = cache([[1, 0], [3, 50], [5, 80]]);
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
    expect(checkFetchPosition(epochs, { logStartOffset: 30, logEndOffset: 60, latestEpoch: 4 }, 40, 2)).toEqual({ kind: 'diverging', epoch: -1, endOffset: 30 });
  });

  it('a fetch below the log start is out of range', () => {
    expect(checkFetchPosition(cache([[4, 30]]), { logStartOffset: 30, logEndOffset: 60, latestEpoch: 4 }, 10, -1)).toEqual({ kind: 'out-of-range' });
  });

  it.each([
    [{ endOffset: 50 }, 60, 50],
    [{ endOffset: 100 }, 60, 60],
    [{ endOffset: -1 }, 60, 0],
  ])('truncates to min(endOffset, LEO): %o with LEO %i -> %i', (d, leo, want) => {
    expect(truncationOffset(d, leo)).toBe(want);
  });
});
