// KIP-101 / KIP-279 log divergence, sans I/O. A follower sends the epoch of its last batch with
// its fetch offset; the leader looks that epoch up in its leader-epoch cache. If the leader's log
// left that epoch earlier than the follower's (or never had it), the histories part there, and
// the follower must cut its log at the leader's end offset for the epoch before fetching on.
// Truncating to the high watermark instead can lose committed data or keep divergent data.

export interface EpochLookup {
  /** The largest epoch <= `epoch` the leader holds and where it ends; { -1, -1 } if none. */
  endOffsetFor(epoch: number, logEndOffset: number): { epoch: number; endOffset: number };
}

export type FetchPositionCheck =
  | { kind: 'ok' }
  | { kind: 'diverging'; epoch: number; endOffset: number }
  | { kind: 'out-of-range' };

/**
 * What the leader answers a follower fetching at `fetchOffset` whose last batch has
 * `lastFetchedEpoch` (-1: empty log or no epochs known).
 */
export function checkFetchPosition(
  epochs: EpochLookup,
  leader: { logStartOffset: number; logEndOffset: number; latestEpoch: number },
  fetchOffset: number,
  lastFetchedEpoch: number,
): FetchPositionCheck {
  if (lastFetchedEpoch >= 0) {
    const found = epochs.endOffsetFor(lastFetchedEpoch, leader.logEndOffset);
    if (found.epoch < 0) {
      // The leader holds nothing from that epoch or before: nothing of the follower's is shared
      // beyond the leader's log start.
      if (fetchOffset > leader.logStartOffset) return { kind: 'diverging', epoch: -1, endOffset: leader.logStartOffset };
    } else if (found.epoch !== lastFetchedEpoch || found.endOffset < fetchOffset) {
      return { kind: 'diverging', epoch: found.epoch, endOffset: found.endOffset };
    }
  }
  if (fetchOffset > leader.logEndOffset) {
    // No epoch to compare (an empty cache, or an old log): the follower is simply ahead.
    return { kind: 'diverging', epoch: leader.latestEpoch, endOffset: leader.logEndOffset };
  }
  if (fetchOffset < leader.logStartOffset) return { kind: 'out-of-range' };
  return { kind: 'ok' };
}

/** Where a follower cuts its log on a divergingEpoch answer: never past what it has. */
export function truncationOffset(diverging: { endOffset: number }, followerLogEndOffset: number): number {
  return Math.max(0, Math.min(diverging.endOffset, followerLogEndOffset));
}
