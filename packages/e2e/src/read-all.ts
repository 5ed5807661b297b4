import { Consumer, type ClientOptions, type ConsumerRecord } from '@tributary/client';

/**
 * Reads `topic`'s partitions from the earliest offset until `expected` records have arrived (or
 * `idleMs` pass without new ones), and returns them grouped by partition in arrival order.
 */
export async function readAll(
  bootstrap: string[],
  topic: string,
  partitions: number,
  options: { expected?: number; idleMs?: number; rack?: string; client?: Pick<ClientOptions, 'ca' | 'credentials'> } = {},
): Promise<Map<number, ConsumerRecord[]>> {
  const consumer = new Consumer({ bootstrap, maxWaitMs: 200, ...options.client, ...(options.rack ? { rack: options.rack } : {}) });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 'earliest' as const })));
  const byPartition = new Map<number, ConsumerRecord[]>();
  let count = 0;
  let lastProgress = Date.now();
  const idleMs = options.idleMs ?? 3000;
  try {
    while ((options.expected === undefined || count < options.expected) && Date.now() - lastProgress < idleMs) {
      const records = await consumer.poll();
      if (records.length > 0) lastProgress = Date.now();
      for (const r of records) {
        let list = byPartition.get(r.partition);
        if (!list) {
          list = [];
          byPartition.set(r.partition, list);
        }
        list.push(r);
        count++;
      }
    }
  } finally {
    await consumer.close();
  }
  return byPartition;
}
