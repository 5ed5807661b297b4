// The batch headers a broker holds for one partition, read from its segment files (read-only, so
// safe while the broker runs). Conformance tests use them to tell a broker that stored one
// producer sequence twice from a client that sent the same records twice under new sequences.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BATCH_HEADER_SIZE, batchSizeAt, readBatchHeader, type BatchHeader } from '@tributary/protocol';

/** Every complete batch header in `<dataDir>/broker-<id>/<topic>-<partition>/*.log`, in offset order. */
export function storedBatches(dataDir: string, brokerId: number, topic: string, partition: number): BatchHeader[] {
  const dir = join(dataDir, `broker-${brokerId}`, `${topic}-${partition}`);
  const headers: BatchHeader[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort()) {
    const bytes = readFileSync(join(dir, file));
    // A batch still being written may be cut short at the end of the active segment: stop there.
    for (let pos = 0; pos + BATCH_HEADER_SIZE <= bytes.length && pos + batchSizeAt(bytes, pos) <= bytes.length; pos += batchSizeAt(bytes, pos)) {
      headers.push(readBatchHeader(bytes, pos));
    }
  }
  return headers;
}

/** Idempotent batches whose (producerId, producerEpoch, baseSequence) is stored more than once. */
export function repeatedSequences(batches: readonly BatchHeader[]): string[] {
  const seen = new Map<string, number>();
  for (const b of batches) {
    if (b.producerId < 0) continue;
    const key = `producer ${b.producerId} epoch ${b.producerEpoch} sequence ${b.baseSequence}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([key, n]) => `${key} stored ${n} times`);
}
