// Drives the public client: a windowed producer loop (records/s with every record's promise
// settled, as a user sees it), a consumer loop, and helpers to wait on topic state.

import { randomBytes } from 'node:crypto';
import { type Admin, type ClientOptions, Consumer, Producer, type ProducerOptions } from '@tributary/client';
import type { Progress } from './progress.ts';

export const VALUE_BYTES = 100;
/** Distinct random values, reused: building 2,000,000 buffers would measure the allocator. */
const VALUES = Array.from({ length: 1024 }, () => randomBytes(VALUE_BYTES));
/** Records sent but not yet settled; the producer's own buffer memory bounds it too. */
const WINDOW_RECORDS = 400_000;

export interface ThroughputResult {
  records: number;
  seconds: number;
  recordsPerSec: number;
  /** Value bytes per second (100-byte values), in MB (10^6). */
  mbPerSec: number;
  /** CPU time of this (client) process per record, in µs. */
  clientCpuUsPerRecord: number;
  failed: number;
}

/**
 * Creates the topic and waits until it replicates: every partition's leader serves it and every
 * follower has fetched from it once. createTopic returns when every broker's metadata has the
 * topic, but a broker opens a new topic's logs over several passes (100 ms each at most), so
 * without this wait the first second of a 1000-partition phase measures log creation, with
 * produce requests refused NOT_LEADER_OR_FOLLOWER until then. Returns the seconds from the
 * create request until the topic replicated.
 */
export async function createBenchTopic(admin: Admin, name: string, partitions: number): Promise<number> {
  const t0 = performance.now();
  await admin.createTopic({ name, partitions, replicationFactor: 3, configs: { 'min.insync.replicas': 2 }, timeoutMs: 120_000 });
  if (!(await waitFor(() => topicReplicating(admin, name), 120_000, 50))) {
    throw new Error(`topic ${name} was created but did not replicate within 120 s`);
  }
  return (performance.now() - t0) / 1000;
}

/** Every partition's leader reports it, and every replica has fetched from that leader. */
export async function topicReplicating(admin: Admin, topic: string): Promise<boolean> {
  const d = await admin.describeTopicVerbose(topic);
  return d.partitions.every(
    (p) =>
      p.error === undefined &&
      p.replicaStates !== undefined &&
      p.replicaStates.length === p.replicas.length &&
      p.replicaStates.every((r) => r.logEndOffset >= 0),
  );
}

/** Sends `count` 100-byte records as fast as the producer takes them; every promise is awaited. */
export async function produceThroughput(
  bootstrap: string,
  topic: string,
  count: number,
  options: Partial<ProducerOptions>,
  progress: Progress,
  /** The i-th record's value; default: 100 random bytes (from a pool of 1024). */
  valueAt?: (i: number) => Buffer | string,
  client: Pick<ClientOptions, 'ca' | 'credentials'> = {},
): Promise<ThroughputResult> {
  const producer = new Producer({ bootstrap, ...client, ...options });
  // Warm-up: metadata, producer id and connections, outside the timed run.
  await producer.send({ topic, value: VALUES[0]! });
  let settled = 0;
  let failed = 0;
  let firstError: Error | undefined;
  let wake: (() => void) | undefined;
  let wakeAt = 0;
  const onOk = () => {
    settled++;
    if (wake !== undefined && settled >= wakeAt) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  const onErr = (err: Error) => {
    failed++;
    firstError ??= err;
    onOk();
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let sent = 0; sent < count; sent++) {
    producer.send({ topic, value: valueAt === undefined ? VALUES[sent & 1023]! : valueAt(sent) }).then(onOk, onErr);
    if (sent - settled >= WINDOW_RECORDS) {
      wakeAt = sent - WINDOW_RECORDS / 2;
      await new Promise<void>((r) => (wake = r));
      progress.update(settled, `${fmtRate(settled, t0)} rec/s`);
    } else if ((sent & 16383) === 0) {
      progress.update(settled, `${fmtRate(settled, t0)} rec/s`);
      // Let answers in now and then even when the window is open.
      await new Promise<void>((r) => setImmediate(r));
    }
  }
  if (settled < count) {
    wakeAt = count;
    await new Promise<void>((r) => (wake = r));
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await producer.close();
  if (firstError && failed === count) throw firstError;
  return {
    records: count,
    seconds,
    recordsPerSec: count / seconds,
    mbPerSec: (count * VALUE_BYTES) / seconds / 1e6,
    clientCpuUsPerRecord: (cpu.user + cpu.system) / count,
    failed,
  };
}

export interface ConsumeResult {
  records: number;
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
  /** CPU time of this (client) process per record, in µs. */
  clientCpuUsPerRecord: number;
}

/** Reads every partition of `topic` from the beginning until `expected` records came. */
export async function consumeAll(
  bootstrap: string,
  topic: string,
  expected: number,
  progress: Progress,
  client: Pick<ClientOptions, 'ca' | 'credentials'> = {},
): Promise<ConsumeResult> {
  const consumer = new Consumer({ bootstrap, ...client });
  consumer.subscribe(topic, { from: 'earliest' });
  let records = 0;
  let bytes = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let idleSince = performance.now();
  try {
    while (records < expected) {
      const batch = await consumer.poll();
      if (batch.length === 0) {
        if (performance.now() - idleSince > 30_000) throw new Error(`consume stalled at ${records} of ${expected} records`);
        continue;
      }
      idleSince = performance.now();
      records += batch.length;
      for (let i = 0; i < batch.length; i++) bytes += batch[i]!.value?.length ?? 0;
      progress.update(records, `${fmtRate(records, t0)} rec/s`);
    }
  } finally {
    await consumer.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { records, seconds, recordsPerSec: records / seconds, mbPerSec: bytes / seconds / 1e6, clientCpuUsPerRecord: (cpu.user + cpu.system) / records };
}

export function fmtRate(n: number, t0: number): string {
  const s = (performance.now() - t0) / 1000;
  return s > 0 ? Math.round(n / s).toLocaleString('en-US') : '0';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every `intervalMs` until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return true;
    } catch {
      // The cluster is mid-change; ask again.
    }
    if (performance.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

/** Every partition has its full replica list in the ISR (and, optionally, its preferred leader). */
export async function topicHealthy(admin: Admin, topic: string, preferredLeaders: boolean): Promise<boolean> {
  const d = await admin.describeTopic(topic);
  return d.partitions.every((p) => p.leader >= 0 && p.isr.length === p.replicas.length && (!preferredLeaders || p.leader === p.replicas[0]));
}
