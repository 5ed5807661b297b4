// KIP-101 / KIP-279 log divergence, sans I/O. A follower sends the epoch of its last batch with
// its fetch offset; the leader looks that epoch up in its leader-epoch cache. If the leader's log
// left that epoch earlier than the follower's (or never had it), the histories part there, and
// the follower must cut its log at the leader's end offset for the epoch before fetching on.
// Truncating to the high watermark instead can lose committed data or keep divergent data.

export interface EpochLookup {
  /** The largest epoch <= `epoch` the log holds and where it ends; { -1, -1 } if none. */
  endOffsetFor(epoch: number, logEndOffset: number): { epoch: number; endOffset: number };
}

/** A follower's own cache: the lookup, and where its first known epoch starts. */
export interface FollowerEpochs extends EpochLookup {
  entries(): readonly { epoch: number; startOffset: number }[];
}

export type FetchPositionCheck = { kind: 'ok' } | { kind: 'diverging'; epoch: number; endOffset: number } | { kind: 'out-of-range' };

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

/** Where a follower cuts its log on a divergingEpoch answer, and whether the logs then agree. */
export interface Truncation {
  /** The new log end offset: never past what the follower holds. */
  offset: number;
  /**
   * False when the follower never had the leader's epoch: it cut to the end of its own largest
   * epoch below it and must ask again with its new last epoch (its next fetch does).
   */
  complete: boolean;
}

/**
 * The follower's side of a divergingEpoch answer (Kafka's AbstractFetcherThread
 * getOffsetTruncationState). The leader said: of the epochs at or below the one you asked about,
 * my largest is `epoch` and it ends at `endOffset`. The follower looks up the same epoch in its
 * own cache, and gets its largest epoch at or below it and where that ends in its own log:
 *
 * - the same epoch: both logs hold it, and agree up to where the shorter of the two ends, so the
 *   cut is min(leader's end, own end). Taking the leader's end alone is not enough: when the
 *   follower went on to a later epoch the leader never saw, its own end of this epoch is the
 *   smaller one, and a cut at the leader's end would change nothing, answer after answer.
 * - a smaller epoch: the follower never saw the leader's epoch, so everything after its own epoch
 *   is from epochs the leader does not have: cut at the end of its own epoch, and ask again.
 * - no epoch at or below it: every epoch the follower knows is newer than the leader's answer and
 *   older than or equal to the one it asked about, so the leader holds none of them; cut where the
 *   first of them starts, or at the leader's end if that comes first. (Kafka cuts at the leader's
 *   end alone here, which changes nothing when the follower's first epoch began before it: a
 *   replica elected uncleanly over an empty log, then followed by one that kept older records.)
 */
export function truncationOffset(diverging: { epoch: number; endOffset: number }, follower: FollowerEpochs, followerLogEndOffset: number): Truncation {
  const clamp = (offset: number) => Math.max(0, Math.min(offset, followerLogEndOffset));
  const own = diverging.epoch < 0 ? { epoch: -1, endOffset: -1 } : follower.endOffsetFor(diverging.epoch, followerLogEndOffset);
  if (own.epoch < 0) {
    const firstStart = follower.entries()[0]?.startOffset ?? followerLogEndOffset;
    const offset = clamp(Math.min(diverging.endOffset, firstStart));
    return { offset, complete: offset === clamp(diverging.endOffset) };
  }
  if (own.epoch !== diverging.epoch) return { offset: clamp(own.endOffset), complete: false };
  return { offset: clamp(Math.min(diverging.endOffset, own.endOffset)), complete: true };
}

/**
 * OffsetsForLeaderEpoch as Kafka answers it to Kafka clients (LeaderEpochFileCache.endOffsetFor):
 * the largest epoch <= `requested` the log holds and where it ends (the next epoch's start, or
 * the log end for the latest). It differs from `EpochLookup.endOffsetFor`, which the HTTP replica
 * path uses, at both edges: an epoch newer than every epoch the log holds is undefined (-1, -1),
 * not the latest epoch, and an epoch older than the first one answers the requested epoch ending
 * where the first one starts, so a consumer positioned before the log start sees its log was
 * truncated (KIP-320) instead of an undefined answer.
 */
export function kafkaEndOffsetForEpoch(
  entries: readonly { epoch: number; startOffset: number }[],
  requested: number,
  logEndOffset: number,
): { epoch: number; endOffset: number } {
  const undefinedEpoch = { epoch: -1, endOffset: -1 };
  const last = entries[entries.length - 1];
  if (requested < 0 || last === undefined) return undefinedEpoch;
  if (requested === last.epoch) return { epoch: requested, endOffset: logEndOffset };
  const higher = entries.findIndex((e) => e.epoch > requested);
  if (higher < 0) return undefinedEpoch;
  if (higher === 0) return { epoch: requested, endOffset: entries[0]!.startOffset };
  return { epoch: entries[higher - 1]!.epoch, endOffset: entries[higher]!.startOffset };
}
