// Pairs the batches of a produce request with the broker's per-partition answers. A request may
// carry several batches of one partition (oldest first); the broker answers each entry in the
// order sent, so answers are matched per partition in order, never by partition alone — keying
// them by topic-partition would give every batch of a partition the LAST batch's offset, and the
// application would be told its records sit at offsets that hold other records.

import type { ProducePartitionResponse } from '@tributary/protocol';
import { partitionKey } from './accumulator.ts';

/** The answer for each of `sent` (same order), or undefined where the broker gave none. */
export function matchProduceAnswers<B extends { topic: string; partition: number }>(
  sent: readonly B[],
  answers: readonly ProducePartitionResponse[] | undefined,
): (ProducePartitionResponse | undefined)[] {
  const queues = new Map<string, ProducePartitionResponse[]>();
  for (const a of answers ?? []) {
    const key = partitionKey(a.topic, a.partition);
    const q = queues.get(key);
    if (q) q.push(a);
    else queues.set(key, [a]);
  }
  return sent.map((b) => queues.get(partitionKey(b.topic, b.partition))?.shift());
}
