// Background producers that record what the cluster acknowledged, so a test can check after a
// fault that every acknowledged record is there exactly once, at its acknowledged offset.

import { type Admin, Producer, TributaryError, type ProducerOptions } from '@tributary/client';

export interface Ack {
  value: string;
  partition: number;
  offset: number;
  atMs: number;
}

export interface Failure {
  value: string;
  partition: number;
  code: string;
  atMs: number;
}

export interface ProducerLoop {
  acked: Ack[];
  failed: Failure[];
  /** Acks per partition since a time, for "the partition works again" checks. */
  ackedSince(partition: number, sinceMs: number): Ack[];
  /** Stops sending and waits for every outstanding send to settle. */
  stop(): Promise<void>;
}

/**
 * Sends unique values round-robin over `partitions` with at most `inflightMax` sends
 * outstanding, until stopped.
 */
export function startProducerLoop(options: {
  bootstrap: string[];
  topic: string;
  partitions: number[];
  prefix?: string;
  inflightMax?: number;
  /** Each value padded with '.' to this many bytes (default: as short as its counter). */
  valueBytes?: number;
  producer?: Partial<ProducerOptions>;
}): ProducerLoop {
  const producer = new Producer({ bootstrap: options.bootstrap, acks: 'all', lingerMs: 2, deliveryTimeoutMs: 60_000, ...options.producer });
  const acked: Ack[] = [];
  const failed: Failure[] = [];
  const inflight = new Set<Promise<void>>();
  const inflightMax = options.inflightMax ?? 50;
  let stopped = false;
  let seq = 0;
  const loop = (async () => {
    while (!stopped) {
      if (inflight.size >= inflightMax) {
        await Promise.race(inflight);
        continue;
      }
      const partition = options.partitions[seq % options.partitions.length]!;
      const value = `${options.prefix ?? 'v'}-${seq++}`.padEnd(options.valueBytes ?? 0, '.');
      const send = producer.send({ topic: options.topic, partition, value }).then(
        (meta) => void acked.push({ value, partition: meta.partition, offset: meta.offset, atMs: Date.now() }),
        (err: unknown) => void failed.push({ value, partition, code: err instanceof TributaryError ? err.code : String(err), atMs: Date.now() }),
      );
      const tracked = send.finally(() => inflight.delete(tracked));
      inflight.add(tracked);
      if (seq % 20 === 0) await new Promise((r) => setTimeout(r, 1));
    }
  })();
  return {
    acked,
    failed,
    ackedSince: (partition, sinceMs) => acked.filter((a) => a.partition === partition && a.atMs >= sinceMs),
    async stop() {
      stopped = true;
      await loop;
      await Promise.all(inflight);
      await producer.close();
    },
  };
}

export async function partitionInfo(admin: Admin, topic: string, partition: number) {
  const described = await admin.describeTopic(topic);
  const info = described.partitions.find((p) => p.partition === partition);
  if (!info) throw new Error(`${topic}-${partition} not in metadata`);
  return info;
}
