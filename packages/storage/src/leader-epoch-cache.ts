// Leader epoch -> start offset (KIP-101, KIP-279): the first offset each leader epoch wrote.
// Followers ask the leader for the end offset of their latest epoch and truncate to it, so that a
// log that diverged under an old leader is cut exactly where the histories part.
//
// Checkpointed to <log dir>/leader-epoch-checkpoint in Kafka's format (see checkpoint.ts):
//
//   0
//   <N>
//   <epoch> <startOffset>      N lines, epochs and start offsets both strictly increasing
//
// Every change is written to the checkpoint BEFORE it is applied in memory, and the Log assigns a
// new epoch before it writes that epoch's first batch. So after a process crash the file never
// lacks an epoch that the log holds, which recovery relies on to check each batch's
// partitionLeaderEpoch.
//
// A new epoch (assign) is written without fsync, as Kafka does since KAFKA-15046: every
// partition's first batch under a new leader epoch, on the leader and on each follower, fsynced
// the file twice on the request path (with 1000 partitions, thousands of fsyncs at every leader
// change). flush() makes it durable, and the Log calls it before its recovery point passes the
// new epoch: below the recovery point the file is always durable. Above it, after a machine
// crash, the file may lack the newest epochs, and recovery cuts the unflushed tail at the first
// batch of such an epoch (Log.open), as it cuts any torn tail; the follower fetches it again.
// Truncations are rare and stay durable at once.
//
// For the same reason an assign overwrites the file in place rather than through a temp file and
// a rename (CheckpointFile.writeLinesInPlace: no new inode on the request path), and load()
// creates the file when the log is opened without one, as Kafka does, so that a new partition's
// first epoch is not an inode creation either. A file torn by a machine crash reads as malformed,
// and a failed write that could not be undone removes the file; either way the Log rebuilds the
// cache from its batches when it next opens.

import { assert, TributaryError } from '@tributary/protocol';
import { CheckpointFile } from './checkpoint.ts';
import { nodeFs, type StorageFs } from './fs.ts';

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

export class LeaderEpochCache {
  private list: EpochEntry[] = [];
  private readonly file: CheckpointFile;
  /** The file holds `list` but has not been fsynced since an assign. */
  private unsynced = false;

  /**
   * Loads the checkpoint at `filePath`. A malformed file throws KAFKA_STORAGE_ERROR; the Log
   * catches that and rebuilds the cache from its batches.
   */
  constructor(filePath: string, fs: StorageFs = nodeFs) {
    this.file = new CheckpointFile(filePath, 2, fs);
  }

  get path(): string {
    return this.file.path;
  }

  /**
   * Reads the checkpoint, creating an empty one when there is none; throws KAFKA_STORAGE_ERROR
   * when it is malformed or not monotonic.
   */
  load(): void {
    const list: EpochEntry[] = [];
    const lines = this.file.readLines();
    this.file.createIfAbsent();
    for (const [e, s] of lines) {
      const epoch = Number(e);
      const startOffset = Number(s);
      const prev = list.at(-1);
      if (
        !Number.isSafeInteger(epoch) ||
        !Number.isSafeInteger(startOffset) ||
        epoch < 0 ||
        startOffset < 0 ||
        (prev !== undefined && (epoch <= prev.epoch || startOffset <= prev.startOffset))
      ) {
        throw new TributaryError('KAFKA_STORAGE_ERROR', `malformed checkpoint ${this.file.path}: entry "${e} ${s}" is not monotonic`);
      }
      list.push({ epoch, startOffset });
    }
    this.list = list;
  }

  get latestEpoch(): number {
    return this.list.at(-1)?.epoch ?? -1;
  }

  /** Start offset of the latest epoch, or -1 when the cache is empty. */
  get latestStartOffset(): number {
    return this.list.at(-1)?.startOffset ?? -1;
  }

  entries(): EpochEntry[] {
    return this.list.map((e) => ({ ...e }));
  }

  /**
   * Records that `epoch` starts at `startOffset`. Epochs not above the latest are ignored. A new
   * epoch starting below the latest start offset means the entries from there on are stale
   * (their data was truncated), so they go first, as Kafka's assign does.
   */
  assign(epoch: number, startOffset: number): void {
    assert(
      Number.isSafeInteger(epoch) && epoch >= 0 && Number.isSafeInteger(startOffset) && startOffset >= 0,
      `leader epoch ${epoch} / start offset ${startOffset} must be non-negative integers`,
    );
    if (epoch <= this.latestEpoch) return;
    const next = this.list.filter((e) => e.startOffset < startOffset);
    next.push({ epoch, startOffset });
    this.replace(next, false);
  }

  /** Makes the checkpoint durable if an assign left it unsynced (before the recovery point moves). */
  flush(): void {
    if (this.unsynced) this.replace(this.list);
  }

  startOffsetOf(epoch: number): number | undefined {
    return this.list.find((e) => e.epoch === epoch)?.startOffset;
  }

  /** The epoch whose range holds `offset` (the entry with the largest start offset <= offset), or -1. */
  epochForOffset(offset: number): number {
    let found = -1;
    for (const e of this.list) {
      if (e.startOffset > offset) break;
      found = e.epoch;
    }
    return found;
  }

  /**
   * KIP-101/279 OffsetsForLeaderEpoch: the largest epoch <= `epoch` that this cache holds, and
   * its end offset (the next epoch's start offset, or the log end offset for the latest). An
   * epoch below the first one (or an empty cache) gives { epoch: -1, endOffset: -1 }.
   */
  endOffsetFor(epoch: number, logEndOffset: number): { epoch: number; endOffset: number } {
    let i = -1;
    for (let j = 0; j < this.list.length; j++) {
      if (this.list[j]!.epoch <= epoch) i = j;
      else break;
    }
    if (i < 0) return { epoch: -1, endOffset: -1 };
    const next = this.list[i + 1];
    return { epoch: this.list[i]!.epoch, endOffset: next === undefined ? logEndOffset : next.startOffset };
  }

  /** Drops entries whose start offset is >= `offset` (the log was truncated to `offset`). */
  truncateFromEnd(offset: number): void {
    const next = this.list.filter((e) => e.startOffset < offset);
    if (next.length !== this.list.length) this.replace(next);
  }

  /**
   * The log start moved up to `offset`: entries wholly below it go, and the last epoch that
   * began at or before it now starts at `offset` (Kafka keeps that one so lookups still work).
   */
  truncateFromStart(offset: number): void {
    let keepFrom = 0;
    while (keepFrom + 1 < this.list.length && this.list[keepFrom + 1]!.startOffset <= offset) keepFrom++;
    const first = this.list[keepFrom];
    if (first === undefined || (keepFrom === 0 && first.startOffset >= offset)) return;
    const next = this.list.slice(keepFrom).map((e) => ({ ...e }));
    next[0]!.startOffset = Math.max(next[0]!.startOffset, offset);
    this.replace(next);
  }

  clear(): void {
    if (this.list.length > 0) this.replace([]);
  }

  /** Replaces every entry (used when recovery rebuilds the cache from the batches). */
  reset(entries: EpochEntry[]): void {
    this.replace(entries.map((e) => ({ ...e })));
  }

  /**
   * Checkpoint first, memory second: a failed write (KAFKA_STORAGE_ERROR) changes nothing. Not
   * durable means in place and without fsync (see the header).
   */
  private replace(next: EpochEntry[], durable = true): void {
    const lines = next.map((e) => [String(e.epoch), String(e.startOffset)]);
    if (durable) this.file.writeLines(lines);
    else this.file.writeLinesInPlace(lines);
    this.list = next;
    // A durable write covers earlier unsynced ones too (it holds the whole list).
    this.unsynced = !durable;
  }
}
