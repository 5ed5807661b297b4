// What one process lets its callers hold at once, shared by all of its listeners (DESIGN.md §
// Limits): open connections (Kafka's `max.connections`) and request bytes admitted but not yet
// handled (Kafka's `queued.max.request.bytes`). Plain counters and a queue: no sockets, no
// timers; server.ts calls them from its connection and body-parsing edges.
//
// Bytes: a request is admitted with its whole declared size (its content-length, or its route's
// bodyBytesMax when it streams without one) before its first body byte is read, as Kafka's
// memory pool allocates a request's buffer once its size prefix is read. A request that does not
// fit waits, unread, in FIFO order: its socket is not read meanwhile, so TCP pushes back on the
// sender (Kafka mutes the channel the same way) rather than failing it; the server's request
// timeout bounds the wait. Admitting whole sizes, never part of one, means waiting requests hold
// nothing, so they cannot deadlock each other; FIFO means a large request is not starved by a
// stream of small ones. The bytes are released once the route's handler has taken the request
// (as Kafka frees the buffer once the request is handled: a produce waiting for acks=all holds
// no budget, so followers' fetches that would complete it are never queued behind it).

/** Open connections across a process's listeners; a connection past `connectionsMax` is refused. */
export class ConnectionGate {
  readonly connectionsMax: number;
  private openCount = 0;
  private refusedCount = 0;

  constructor(connectionsMax: number) {
    if (!Number.isSafeInteger(connectionsMax) || connectionsMax < 1) throw new RangeError(`connectionsMax must be a positive integer, got ${connectionsMax}`);
    this.connectionsMax = connectionsMax;
  }

  get open(): number {
    return this.openCount;
  }

  /** Connections refused so far. */
  get refused(): number {
    return this.refusedCount;
  }

  /** Counts a new connection in, or refuses it (false) when `connectionsMax` are open. */
  tryOpen(): boolean {
    if (this.openCount >= this.connectionsMax) {
      this.refusedCount++;
      return false;
    }
    this.openCount++;
    return true;
  }

  close(): void {
    if (this.openCount <= 0) throw new Error('ConnectionGate.close without an open connection');
    this.openCount--;
  }
}

/** A request's claim on the byte budget: admitted now, or waiting its turn. */
export interface BytesTicket {
  readonly bytes: number;
  readonly admitted: boolean;
  /** Gives the bytes back (admitted) or leaves the queue (waiting); idempotent. */
  release(): void;
  /** Gives back all but `bytes` of an admitted ticket (a streamed body turned out smaller). */
  shrinkTo(bytes: number): void;
}

class Ticket implements BytesTicket {
  bytes: number;
  admitted = false;
  done = false;

  private readonly budget: RequestBytesBudget;
  readonly onAdmit: () => void;

  constructor(budget: RequestBytesBudget, bytes: number, onAdmit: () => void) {
    this.budget = budget;
    this.bytes = bytes;
    this.onAdmit = onAdmit;
  }

  release(): void {
    if (this.done) return;
    this.done = true;
    this.budget.settle(this);
  }

  shrinkTo(bytes: number): void {
    if (this.done || !this.admitted || bytes >= this.bytes) return;
    const freed = this.bytes - bytes;
    this.bytes = bytes;
    this.budget.give(freed);
  }
}

/** Request bytes in flight across a process's listeners, at most `bytesMax` (FIFO admission). */
export class RequestBytesBudget {
  readonly bytesMax: number;
  private inUse = 0;
  private readonly queue: Ticket[] = [];
  private head = 0;
  /** Admitted tickets whose callbacks have not run yet. */
  private readonly admitted: Ticket[] = [];
  private dispatching = false;

  constructor(bytesMax: number) {
    if (!Number.isSafeInteger(bytesMax) || bytesMax < 1) throw new RangeError(`requestBytesInFlightMax must be a positive integer, got ${bytesMax}`);
    this.bytesMax = bytesMax;
  }

  /** Bytes admitted and not yet released. */
  get inFlight(): number {
    return this.inUse;
  }

  /** Requests waiting for room. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /**
   * Claims `bytes`: admitted at once (`onAdmit` called before this returns) when they fit and no
   * one waits, else queued and admitted, in order, as others release. A claim larger than the
   * whole budget could never be admitted: the caller must refuse such a request first.
   */
  acquire(bytes: number, onAdmit: () => void): BytesTicket {
    if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > this.bytesMax) {
      throw new RangeError(`a claim of ${bytes} bytes can never fit requestBytesInFlightMax ${this.bytesMax}`);
    }
    const ticket = new Ticket(this, bytes, onAdmit);
    if (this.waiting === 0 && this.inUse + bytes <= this.bytesMax) {
      this.inUse += bytes;
      ticket.admitted = true;
      onAdmit();
    } else {
      this.queue.push(ticket);
    }
    return ticket;
  }

  /** @internal A ticket is released: its bytes come back, or it leaves the queue. */
  settle(ticket: Ticket): void {
    if (ticket.admitted) {
      this.give(ticket.bytes);
      return;
    }
    const i = this.queue.indexOf(ticket, this.head);
    if (i >= 0) this.queue.splice(i, 1);
    // The head may have been what held the others back.
    this.admitWaiting();
  }

  /** @internal */
  give(bytes: number): void {
    this.inUse -= bytes;
    if (this.inUse < 0) throw new Error(`request bytes in flight went negative (${this.inUse})`);
    this.admitWaiting();
  }

  private admitWaiting(): void {
    while (this.head < this.queue.length) {
      const next = this.queue[this.head]!;
      if (this.inUse + next.bytes > this.bytesMax) break;
      this.inUse += next.bytes;
      next.admitted = true;
      this.head++;
      this.admitted.push(next);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    // Callbacks last, once the budget is consistent, and in admission order even when one
    // releases at once (an error) and so admits others from inside this loop.
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let t = this.admitted.shift(); t !== undefined; t = this.admitted.shift()) t.onAdmit();
    } finally {
      this.dispatching = false;
    }
  }
}

/** The per-process caps, shared by every listener of the process. */
export interface ServerBudget {
  connections: ConnectionGate;
  bytes: RequestBytesBudget;
}

export function createServerBudget(limits: { connectionsMax: number; requestBytesInFlightMax: number }): ServerBudget {
  return { connections: new ConnectionGate(limits.connectionsMax), bytes: new RequestBytesBudget(limits.requestBytesInFlightMax) };
}
