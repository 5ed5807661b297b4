// A token bucket for follower.replication.throttled.rate (Kafka's replication quota, KIP-73),
// sans I/O: the fetcher asks how many bytes it may fetch now, or how long to wait. The follower
// throttles itself, so a throttled follower lags on purpose and can be watched leaving the ISR.

export class TokenBucket {
  private rateBytesPerSec: number;
  private tokens: number;
  private lastMs: number;
  /** Burst capacity: one second of the rate. */
  private capacity: number;

  constructor(rateBytesPerSec: number, nowMs: number) {
    this.rateBytesPerSec = rateBytesPerSec;
    this.capacity = rateBytesPerSec;
    this.tokens = rateBytesPerSec;
    this.lastMs = nowMs;
  }

  get rate(): number {
    return this.rateBytesPerSec;
  }

  setRate(rateBytesPerSec: number, nowMs: number): void {
    this.refill(nowMs);
    this.rateBytesPerSec = rateBytesPerSec;
    this.capacity = rateBytesPerSec;
    this.tokens = Math.min(this.tokens, this.capacity);
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.lastMs);
    this.lastMs = nowMs;
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.rateBytesPerSec) / 1000);
  }

  /** Bytes that may be fetched now (0: wait `waitMs(…)` first). */
  available(nowMs: number): number {
    this.refill(nowMs);
    return Math.max(0, Math.floor(this.tokens));
  }

  /** Ms until at least `bytes` (capped at the capacity) are available. */
  waitMs(bytes: number, nowMs: number): number {
    this.refill(nowMs);
    const want = Math.min(bytes, this.capacity);
    if (this.tokens >= want) return 0;
    return Math.ceil(((want - this.tokens) * 1000) / this.rateBytesPerSec);
  }

  /** Charges bytes actually received; may go negative when a whole batch exceeded the grant. */
  consume(bytes: number, nowMs: number): void {
    this.refill(nowMs);
    this.tokens -= bytes;
  }
}
