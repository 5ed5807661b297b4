// Kafka's AlterPartitionManager: a leader's ISR proposals (partition-state.ts) leave this broker
// batched. Proposals made while a request is in flight wait in a queue and go together in the
// next one, so a burst — a restarted follower catching up on every partition it follows, a dead
// one shrunk out of every ISR — costs a handful of AlterPartition requests, and the controller one
// metadata append (one fsync) per request, instead of one of each per partition.
//
// `AlterPartitionQueue` is the rule, pure: one entry per partition (a newer proposal for a
// partition still queued replaces the older, which is answered as superseded), and batches cut
// to fit the controller's body limits. `AlterPartitionManager` is the thin I/O around it: at
// most one request in flight, the next sent as soon as the last is answered.

import { TributaryError, type AlterPartitionBatchResponse, type AlterPartitionItem, type PartitionState } from '@tributary/protocol';

/**
 * What one request may hold. The controller refuses bodies over 64 KiB and 16,384 msgpack values
 * (controller README, request limits); these leave room below both.
 */
export interface AlterPartitionBatchLimits {
  partitionsMax: number;
  elementsMax: number;
  bytesMax: number;
}

export const ALTER_PARTITION_BATCH_LIMITS: Readonly<AlterPartitionBatchLimits> = Object.freeze({
  partitionsMax: 1000,
  elementsMax: 12_000,
  bytesMax: 48 * 1024,
});

/** msgpack values an item adds to the body: its map, keys and values, and the nested arrays. */
export function itemElements(item: AlterPartitionItem): number {
  const joining = item.joiningEpochs ?? [];
  return 14 + item.newIsr.length + 5 * joining.length;
}

/** A generous estimate of an item's msgpack bytes. */
export function itemBytes(item: AlterPartitionItem): number {
  const joining = item.joiningEpochs ?? [];
  return 96 + Buffer.byteLength(item.topic) + 5 * item.newIsr.length + 40 * joining.length;
}

export interface Queued<W> {
  item: AlterPartitionItem;
  waiter: W;
}

export class AlterPartitionQueue<W> {
  private readonly queued = new Map<string, Queued<W>>();

  get size(): number {
    return this.queued.size;
  }

  /** Queues a proposal; returns the waiter of the proposal it replaced (still queued, never sent). */
  add(item: AlterPartitionItem, waiter: W): W | undefined {
    const key = `${item.topic}\u0000${item.partition}`;
    const replaced = this.queued.get(key);
    // Delete first: the newer proposal goes to the back, as if it came now.
    this.queued.delete(key);
    this.queued.set(key, { item, waiter });
    return replaced?.waiter;
  }

  /** Takes the oldest proposals that fit one request (always at least one). */
  take(limits: AlterPartitionBatchLimits = ALTER_PARTITION_BATCH_LIMITS): Queued<W>[] {
    const batch: Queued<W>[] = [];
    let elements = 8;
    let bytes = 64;
    for (const [key, entry] of this.queued) {
      const e = itemElements(entry.item);
      const b = itemBytes(entry.item);
      if (batch.length > 0 && (batch.length >= limits.partitionsMax || elements + e > limits.elementsMax || bytes + b > limits.bytesMax)) break;
      batch.push(entry);
      elements += e;
      bytes += b;
      this.queued.delete(key);
    }
    return batch;
  }
}

interface Waiter {
  resolve: (state: PartitionState) => void;
  reject: (err: unknown) => void;
}

export interface AlterPartitionManagerOptions {
  /** Sends one batch (the controller channel adds the broker id and epoch). */
  send: (partitions: AlterPartitionItem[]) => Promise<AlterPartitionBatchResponse>;
  limits?: AlterPartitionBatchLimits;
  /** Called with the size of every request sent (metrics, tests). */
  onSent?: (partitions: number) => void;
}

export class AlterPartitionManager {
  private readonly queue = new AlterPartitionQueue<Waiter>();
  private readonly options: AlterPartitionManagerOptions;
  private inFlight = false;
  private scheduled = false;
  private closed = false;

  constructor(options: AlterPartitionManagerOptions) {
    this.options = options;
  }

  /** Resolves with the state the controller committed for this partition, or rejects with its error. */
  submit(item: AlterPartitionItem): Promise<PartitionState> {
    if (this.closed) return Promise.reject(new TributaryError('BROKER_NOT_AVAILABLE', 'the broker is shutting down'));
    return new Promise<PartitionState>((resolve, reject) => {
      const replaced = this.queue.add(item, { resolve, reject });
      replaced?.reject(new TributaryError('INVALID_REQUEST', `a newer ISR proposal for ${item.topic}-${item.partition} replaced this one`));
      this.schedule();
    });
  }

  /** Sends on the next turn of the event loop, so proposals made in one pass go together. */
  private schedule(): void {
    if (this.inFlight || this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.sendNext();
    });
  }

  private async sendNext(): Promise<void> {
    if (this.inFlight || this.closed || this.queue.size === 0) return;
    const batch = this.queue.take(this.options.limits);
    this.inFlight = true;
    this.options.onSent?.(batch.length);
    try {
      const answer = await this.options.send(batch.map((q) => q.item));
      batch.forEach((q, i) => {
        const result = answer.partitions[i];
        if (result === undefined || result.topic !== q.item.topic || result.partition !== q.item.partition) {
          q.waiter.reject(new TributaryError('UNKNOWN_SERVER_ERROR', `AlterPartition answer does not match ${q.item.topic}-${q.item.partition}`));
        } else if (result.error !== undefined) {
          q.waiter.reject(new TributaryError(result.error.code, result.error.message));
        } else if (result.state !== undefined) {
          q.waiter.resolve(result.state);
        } else {
          q.waiter.reject(
            new TributaryError('UNKNOWN_SERVER_ERROR', `AlterPartition answered ${q.item.topic}-${q.item.partition} with neither a state nor an error`),
          );
        }
      });
    } catch (err) {
      for (const q of batch) q.waiter.reject(err);
    } finally {
      this.inFlight = false;
    }
    this.schedule();
  }

  /** Answers every queued proposal (BROKER_NOT_AVAILABLE) and sends nothing more. */
  close(): void {
    this.closed = true;
    for (const q of this.queue.take({ partitionsMax: Number.MAX_SAFE_INTEGER, elementsMax: Number.MAX_SAFE_INTEGER, bytesMax: Number.MAX_SAFE_INTEGER })) {
      q.waiter.reject(new TributaryError('BROKER_NOT_AVAILABLE', 'the broker is shutting down'));
    }
  }
}
