// The workload: idempotent acks=all producers writing unique values with a bounded number of
// sends in flight, and consumers reading every partition from the beginning, each recording
// every operation into the history. Only the public client is used, as a user would.

import { Consumer, Producer, TributaryError, type ClientOptions } from '@tributary/client';
import type { Outcome } from './history.ts';
import type { HistoryRecorder } from './history.ts';

/**
 * Codes after which a sent batch may or may not be in the log: the request timed out or the
 * connection was lost (the leader may have appended it), the leader appended it but the ISR
 * shrank before it committed (it may still commit), or the leader appended it and lost its
 * leadership while the batch waited for the ISR (Kafka's delayed produce answers
 * NOT_LEADER_OR_FOLLOWER then too; the new leader may hold the batch and commit it).
 */
export const INDETERMINATE_CODES: ReadonlySet<string> = new Set([
  'REQUEST_TIMED_OUT',
  'BROKER_NOT_AVAILABLE',
  'UNKNOWN_SERVER_ERROR',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'NOT_LEADER_OR_FOLLOWER',
]);

/**
 * The outcome of a failed send. A failure is definite only when the client sent the batch at
 * most once and the answer says nothing was appended: after a retry the earlier attempts' fate
 * is unknown (the producer reports only the last error), so the write is indeterminate.
 */
export function classifyFailure(err: unknown): { outcome: Outcome; attempts?: number } {
  const code = err instanceof TributaryError ? err.code : ((err as { code?: string })?.code ?? 'UNKNOWN_SERVER_ERROR');
  const message = (err as Error)?.message ?? '';
  // The producer says "after N attempt(s)" (delivery timeout) or "(attempt N)" (a fatal error).
  const match = /after (\d+) attempt|\(attempt (\d+)\)/.exec(message);
  const attempts = match ? Number(match[1] ?? match[2]) : undefined;
  const indeterminate =
    INDETERMINATE_CODES.has(code) || (attempts !== undefined && attempts > 1) || (attempts === undefined && /delivery timeout/.test(message));
  const outcome: Outcome = indeterminate && attempts !== 0 ? { type: 'info', code } : { type: 'fail', code };
  return attempts === undefined ? { outcome } : { outcome, attempts };
}

export interface WorkloadOptions {
  bootstrap: string[];
  /** TLS and SCRAM of a secure cluster. */
  client?: Pick<ClientOptions, 'ca' | 'credentials'>;
  topic: string;
  partitions: number;
  producers: number;
  /** Sends outstanding per producer. Default 8. */
  inflightMax?: number;
  /** Per-send delivery deadline (KIP-91). Default 10000. */
  deliveryTimeoutMs?: number;
  recorder: HistoryRecorder;
  now?: () => number;
}

export class Workload {
  private readonly options: WorkloadOptions;
  private readonly now: () => number;
  private producing = true;
  private consuming = true;
  private readonly producerLoops: Promise<void>[] = [];
  private readonly consumerLoops: Promise<void>[] = [];
  private readonly consumers: Consumer[] = [];
  /** Highest offset + 1 each partition's consumers have reached, per consumer. */
  readonly positions: Map<number, number>[] = [];
  sendsStarted = 0;
  acked = 0;

  constructor(options: WorkloadOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    for (let i = 0; i < this.options.producers; i++) this.producerLoops.push(this.runProducer(i));
    // One consumer reads from the leaders; one asks for rack-2 replicas (KIP-392 follower
    // fetching), so a follower serving past the high watermark would show.
    this.consumerLoops.push(this.runConsumer(0, undefined));
    this.consumerLoops.push(this.runConsumer(1, 'rack-2'));
  }

  /** Stops issuing sends and waits until every outstanding one has an outcome. */
  async stopProducers(): Promise<void> {
    this.producing = false;
    await Promise.all(this.producerLoops);
  }

  /** Waits until every consumer has read each partition up to `ends` (or `timeoutMs`), then stops them. */
  async stopConsumers(ends: Map<number, number>, timeoutMs: number): Promise<boolean> {
    const deadline = this.now() + timeoutMs;
    let caughtUp = false;
    while (this.now() < deadline) {
      caughtUp = this.positions.every((pos) => [...ends].every(([p, end]) => (pos.get(p) ?? 0) >= end));
      if (caughtUp) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    this.consuming = false;
    await Promise.all(this.consumers.map((c) => c.close()));
    await Promise.all(this.consumerLoops);
    return caughtUp;
  }

  private async runProducer(index: number): Promise<void> {
    const { topic, partitions, recorder } = this.options;
    const name = `producer-${index}`;
    const producer = new Producer({
      bootstrap: this.options.bootstrap,
      ...this.options.client,
      acks: 'all',
      idempotent: true,
      lingerMs: 2,
      deliveryTimeoutMs: this.options.deliveryTimeoutMs ?? 10_000,
      requestTimeoutMs: Math.min(10_000, this.options.deliveryTimeoutMs ?? 10_000),
    });
    const inflightMax = this.options.inflightMax ?? 8;
    const inflight = new Set<Promise<void>>();
    let seq = 0;
    try {
      while (this.producing) {
        if (inflight.size >= inflightMax) {
          await Promise.race(inflight);
          continue;
        }
        const partition = (index + seq) % partitions;
        const value = `${index}-${seq++}`;
        const startMs = this.now();
        this.sendsStarted++;
        const settled = producer.send({ topic, partition, value }).then(
          (meta) => {
            this.acked++;
            recorder.record({ kind: 'send', process: name, partition, value, startMs, endMs: this.now(), outcome: { type: 'ok', offset: meta.offset } });
          },
          (err: unknown) => {
            const { outcome, attempts } = classifyFailure(err);
            recorder.record({
              kind: 'send',
              process: name,
              partition,
              value,
              startMs,
              endMs: this.now(),
              outcome,
              ...(attempts !== undefined ? { attempts } : {}),
            });
          },
        );
        const tracked = settled.finally(() => inflight.delete(tracked));
        inflight.add(tracked);
        // Yield now and then so consumers and the nemesis get the event loop.
        if (seq % 16 === 0) await new Promise((r) => setImmediate(r));
      }
      await Promise.all(inflight);
    } finally {
      await producer.close().catch(() => undefined);
    }
  }

  private async runConsumer(index: number, rack: string | undefined): Promise<void> {
    const { topic, partitions, recorder } = this.options;
    const name = `consumer-${index}${rack ? `(${rack})` : ''}`;
    const consumer = new Consumer({
      bootstrap: this.options.bootstrap,
      ...this.options.client,
      maxWaitMs: 300,
      requestTimeoutMs: 10_000,
      ...(rack ? { rack } : {}),
    });
    this.consumers.push(consumer);
    const positions = new Map<number, number>();
    this.positions.push(positions);
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 'earliest' as const })));
    while (this.consuming) {
      let records: Awaited<ReturnType<typeof consumer.poll>>;
      try {
        records = await consumer.poll();
      } catch {
        // Fatal fetch errors are the consumer's to report; the history shows any gap they cause.
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const atMs = this.now();
      for (const r of records) {
        recorder.record({ kind: 'read', process: name, partition: r.partition, offset: r.offset, value: r.value?.toString('utf8') ?? '', atMs });
        positions.set(r.partition, Math.max(positions.get(r.partition) ?? 0, r.offset + 1));
      }
    }
  }
}
