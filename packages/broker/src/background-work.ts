// Work a broker does between requests, a slice at a time (issue 21): loading a replica's
// producer state from its log after a restart or a truncation. One queue per broker runs the
// slices in turn, a few milliseconds per event-loop turn, so ten thousand partitions loading at
// once cost many short turns rather than one long stall.

/** A slice of work: true when it has more to do (it is queued again), false when done. */
export type WorkSlice = () => boolean;

export interface BackgroundWorkOptions {
  /** How long one event-loop turn may spend on slices. Default 5 ms. */
  turnBudgetMs?: number;
  now?: () => number;
  /** Told of a slice that threw (it is dropped). */
  onError?: (err: unknown) => void;
}

export class BackgroundWork {
  private readonly queue: WorkSlice[] = [];
  private scheduled = false;
  private closed = false;
  private readonly turnBudgetMs: number;
  private readonly now: () => number;
  private readonly onError: (err: unknown) => void;

  constructor(options: BackgroundWorkOptions = {}) {
    this.turnBudgetMs = options.turnBudgetMs ?? 5;
    this.now = options.now ?? (() => performance.now());
    this.onError = options.onError ?? (() => {});
  }

  /** Slices waiting (tests, metrics). */
  get pending(): number {
    return this.queue.length;
  }

  add(slice: WorkSlice): void {
    if (this.closed) return;
    this.queue.push(slice);
    this.schedule();
  }

  /** Runs slices until the turn's budget is spent; the unfinished go to the back of the queue. */
  runTurn(): void {
    const deadline = this.now() + this.turnBudgetMs;
    do {
      const slice = this.queue.shift();
      if (slice === undefined) return;
      let more = false;
      try {
        more = slice();
      } catch (err) {
        this.onError(err);
      }
      if (more) this.queue.push(slice);
    } while (this.now() < deadline);
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.closed) return;
      this.runTurn();
      if (this.queue.length > 0) this.schedule();
    });
  }
}
