// The cleaner's key -> latest offset map over the dirty part of a log (Kafka's OffsetMap /
// SkimpyOffsetMap), bounded by log.cleaner.dedupe.buffer.size.
//
// Kafka keeps a 16-byte MD5 of each key in a fixed array and accepts the rare collision. Here the
// key's own bytes are the map key (as a latin1 string: one char per byte, so equal strings are
// equal keys and nothing collides), and the memory bound is an estimate: each entry counts its
// key's length plus ENTRY_OVERHEAD_BYTES for V8's string header, hash-table slot and number.
// The cleaner adds a whole batch at a time and stops at the first batch that does not fit; the
// cleaning then ends there and the rest of the dirty part waits for the next one, as Kafka's
// buildOffsetMap stops when the map is full. One batch always goes in, so a cleaning always makes
// progress, even if one batch's keys exceed the bound.

export const OFFSET_MAP_ENTRY_OVERHEAD_BYTES = 64;

export class OffsetMap {
  readonly bytesMax: number;
  private readonly map = new Map<string, number>();
  private bytes = 0;
  /** The last offset put (Kafka's latestOffset); -1 when empty. */
  latestOffset = -1;

  constructor(bytesMax: number) {
    this.bytesMax = bytesMax;
  }

  get size(): number {
    return this.map.size;
  }

  /** Estimated bytes held. */
  get usedBytes(): number {
    return this.bytes;
  }

  /** usedBytes / bytesMax (Kafka's max-buffer-utilization-percent). */
  get utilization(): number {
    return this.bytesMax > 0 ? this.bytes / this.bytesMax : 1;
  }

  get(key: string): number | undefined {
    return this.map.get(key);
  }

  /** Whether these keys (one batch's) fit; an empty map takes any batch. */
  fits(keys: readonly string[]): boolean {
    if (this.map.size === 0) return true;
    let extra = 0;
    for (const k of keys) if (!this.map.has(k)) extra += k.length + OFFSET_MAP_ENTRY_OVERHEAD_BYTES;
    return this.bytes + extra <= this.bytesMax;
  }

  put(key: string, offset: number): void {
    if (!this.map.has(key)) this.bytes += key.length + OFFSET_MAP_ENTRY_OVERHEAD_BYTES;
    this.map.set(key, offset);
    if (offset > this.latestOffset) this.latestOffset = offset;
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
    this.latestOffset = -1;
  }
}
