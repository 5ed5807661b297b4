// Where the last few batches appended to a segment start, kept in memory. Followers and tail
// consumers read just behind the log end; finding their batch through the sparse index costs an
// index lookup plus one pread per batch header up to indexIntervalBytes away (~20 syscalls per
// fetch when batches are small), which under a 10k records/s load outnumbered every other syscall
// of a broker. Here it is a binary search over the batches appended since the segment was
// opened, the last `capacity` of them.

import type { BatchSummary } from './segment.ts';

const FIELDS = 6;

/** Entries allocated for a new segment's ring; it doubles as batches arrive, up to the capacity. */
const INITIAL_SLOTS = 8;

export class RecentBatches {
  private readonly capacity: number;
  /**
   * Ring of [baseOffset, lastOffset, position, size, maxTimestamp, epoch] per batch, `slots`
   * entries long. It starts small and grows: every segment has one, and at 10,000 partitions a
   * broker's 5,000 mostly idle segments held 61 MB of rings allocated whole (12 KiB each).
   */
  private ring: Float64Array;
  private slots: number;
  /** Slot of the oldest entry, and the number of entries. */
  private head = 0;
  private count = 0;

  constructor(capacity = 256) {
    this.capacity = capacity;
    this.slots = Math.min(capacity, INITIAL_SLOTS);
    this.ring = new Float64Array(this.slots * FIELDS);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes of the ring as allocated now (tests, memory accounting). */
  get allocatedBytes(): number {
    return this.ring.byteLength;
  }

  /** Records a batch appended right after the newest one (offsets and positions contiguous). */
  push(batch: BatchSummary): void {
    if (this.count === this.slots && this.slots < this.capacity) this.grow();
    const slot = (this.head + this.count) % this.slots;
    if (this.count === this.slots) this.head = (this.head + 1) % this.slots;
    else this.count++;
    const r = this.ring;
    const i = slot * FIELDS;
    r[i] = batch.baseOffset;
    r[i + 1] = batch.lastOffset;
    r[i + 2] = batch.position;
    r[i + 3] = batch.size;
    r[i + 4] = batch.maxTimestamp;
    r[i + 5] = batch.epoch;
  }

  /**
   * The batch holding `offset` (the first whose lastOffset >= offset) when it is among the recent
   * ones; undefined when `offset` is older than the oldest or newer than the newest.
   */
  find(offset: number): BatchSummary | undefined {
    if (this.count === 0 || offset < this.field(0, 0) || offset > this.field(this.count - 1, 1)) return undefined;
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.field(mid, 1) >= offset) hi = mid;
      else lo = mid + 1;
    }
    return {
      baseOffset: this.field(lo, 0),
      lastOffset: this.field(lo, 1),
      position: this.field(lo, 2),
      size: this.field(lo, 3),
      maxTimestamp: this.field(lo, 4),
      epoch: this.field(lo, 5),
    };
  }

  /**
   * The start of the batch holding byte `position` of the segment (or starting there) when that
   * batch is among the recent ones; undefined otherwise.
   */
  startOfBatchAt(position: number): number | undefined {
    if (this.count === 0) return undefined;
    const newest = this.count - 1;
    if (position < this.field(0, 2) || position >= this.field(newest, 2) + this.field(newest, 3)) return undefined;
    let lo = 0;
    let hi = newest;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.field(mid, 2) <= position) lo = mid;
      else hi = mid - 1;
    }
    return this.field(lo, 2);
  }

  /** Forgets the batches at `position` and after (the segment was cut back there). */
  truncateToPosition(position: number): void {
    while (this.count > 0 && this.field(this.count - 1, 2) >= position) this.count--;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  /** Field `f` of the k-th entry, oldest first. */
  private field(k: number, f: number): number {
    return this.ring[((this.head + k) % this.slots) * FIELDS + f]!;
  }

  /** Doubles the ring (up to the capacity), its entries copied oldest first from slot 0. */
  private grow(): void {
    const slots = Math.min(this.capacity, this.slots * 2);
    const ring = new Float64Array(slots * FIELDS);
    for (let k = 0; k < this.count; k++) {
      const from = ((this.head + k) % this.slots) * FIELDS;
      ring.set(this.ring.subarray(from, from + FIELDS), k * FIELDS);
    }
    this.ring = ring;
    this.slots = slots;
    this.head = 0;
  }
}
