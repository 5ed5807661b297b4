// Latency phases: acks=all with one record in flight (send → acknowledged), and end to end at a
// fixed rate (send → a consumer of the same process receives it; the value carries the send time).

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Consumer, Producer } from '@tributary/client';
import type { Progress } from './progress.ts';
import { latencyHistogram, round } from './stats.ts';
import { VALUE_BYTES, sleep } from './workload.ts';

/** Where a phase reports how far it is (a Progress, or latency-child.ts's messages to the bench). */
export interface ProgressSink {
  update(done: number): void;
}

export type LatencyJob =
  | { kind: 'ack'; bootstrap: string; topic: string; count: number }
  | { kind: 'e2e'; bootstrap: string; topic: string; ratePerSec: number; seconds: number };

/** Runs ackLatency or endToEndLatency in a child process with a heap of its own (see latency-child.ts). */
export function inChildProcess(job: LatencyJob & { kind: 'ack' }, progress: Progress): Promise<AckLatencyResult>;
export function inChildProcess(job: LatencyJob & { kind: 'e2e' }, progress: Progress): Promise<E2eLatencyResult>;
export function inChildProcess(job: LatencyJob, progress: Progress): Promise<AckLatencyResult | E2eLatencyResult> {
  const child = fork(fileURLToPath(new URL('./latency-child.ts', import.meta.url)), [JSON.stringify(job)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let result: AckLatencyResult | E2eLatencyResult | undefined;
    let error: string | undefined;
    child.on('message', (m: { progress?: number; result?: AckLatencyResult | E2eLatencyResult; error?: string }) => {
      if (m.progress !== undefined) progress.update(m.progress);
      if (m.result !== undefined) result = m.result;
      if (m.error !== undefined) error = m.error;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (result !== undefined) resolve(result);
      else reject(new Error(`the ${job.kind} latency phase failed: ${error ?? `its process exited (${signal ?? `code ${code}`}) without a result`}`));
    });
  });
}

export interface AckLatencyResult {
  records: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * acks=all, idempotent, one record in flight. lingerMs 0 (Kafka's long-time default): with one
 * record outstanding there is nothing to wait for, and a linger would only measure the timer.
 */
export async function ackLatency(bootstrap: string, topic: string, count: number, progress: ProgressSink): Promise<AckLatencyResult> {
  const producer = new Producer({ bootstrap, acks: 'all', idempotent: true, lingerMs: 0 });
  const value = Buffer.alloc(VALUE_BYTES, 7);
  const h = latencyHistogram();
  try {
    for (let i = 0; i < 200; i++) await producer.send({ topic, value, partition: i % 10 }); // warm-up
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await producer.send({ topic, value, partition: i % 10 });
      h.recordMs(performance.now() - t);
      if ((i & 127) === 0) progress.update(i);
    }
  } finally {
    await producer.close();
  }
  return { records: count, p50Ms: round(h.percentileMs(50), 3), p99Ms: round(h.percentileMs(99), 3), maxMs: round(h.maxMs(), 3) };
}

export interface E2eLatencyResult {
  ratePerSec: number;
  seconds: number;
  sent: number;
  received: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Send → acknowledged (acks=all) of the same records: the produce share of the end-to-end time. */
  ackedP50Ms: number;
  ackedP99Ms: number;
  ackedP999Ms: number;
}

/** Sends at `ratePerSec` for `seconds` (acks=all, idempotent) while one consumer reads the topic. */
export async function endToEndLatency(
  bootstrap: string,
  topic: string,
  ratePerSec: number,
  seconds: number,
  progress: ProgressSink,
): Promise<E2eLatencyResult> {
  const producer = new Producer({ bootstrap, acks: 'all', idempotent: true, lingerMs: 0 });
  const consumer = new Consumer({ bootstrap, maxWaitMs: 500 });
  consumer.subscribe(topic, { from: 'latest' });
  const h = latencyHistogram();
  const acked = latencyHistogram();
  let received = 0;
  let sent = 0;
  let failed = 0;
  let running = true;
  let stopMs = Infinity;
  // Warm up the producer and resolve the consumer's positions before the clock starts.
  await producer.send({ topic, value: Buffer.alloc(VALUE_BYTES) });
  await consumer.poll();
  const reader = (async () => {
    while (running || received < sent - failed) {
      const records = await consumer.poll();
      const now = performance.now();
      for (const r of records) {
        if (r.value === null || r.value.length !== VALUE_BYTES || r.value.readUInt32BE(8) !== 0xbe4c0de) continue;
        h.recordMs(now - r.value.readDoubleBE(0));
        received++;
      }
      if (!running && performance.now() - stopMs > 10_000) break;
    }
  })();
  const t0 = performance.now();
  const total = Math.round(ratePerSec * seconds);
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * ratePerSec));
    while (sent < due) {
      const value = Buffer.allocUnsafe(VALUE_BYTES);
      value.fill(0, 12);
      value.writeUInt32BE(0xbe4c0de, 8);
      const sentMs = performance.now();
      value.writeDoubleBE(sentMs, 0);
      producer.send({ topic, value }).then(
        () => acked.recordMs(performance.now() - sentMs),
        () => failed++,
      );
      sent++;
    }
    progress.update(sent);
    await sleep(1);
  }
  await producer.flush();
  running = false;
  stopMs = performance.now();
  await reader;
  await Promise.all([producer.close(), consumer.close()]);
  return {
    ratePerSec,
    seconds,
    sent,
    received,
    p50Ms: round(h.percentileMs(50), 3),
    p99Ms: round(h.percentileMs(99), 3),
    p999Ms: round(h.percentileMs(99.9), 3),
    maxMs: round(h.maxMs(), 3),
    ackedP50Ms: round(acked.percentileMs(50), 3),
    ackedP99Ms: round(acked.percentileMs(99), 3),
    ackedP999Ms: round(acked.percentileMs(99.9), 3),
  };
}
