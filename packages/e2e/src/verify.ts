import type { ConsumerRecord } from '@tributary/client';
import type { Ack } from './workload.ts';

/**
 * Checks a full read of a topic against what was acknowledged: every acknowledged value present
 * exactly once, at its acknowledged partition and offset, and no value twice anywhere.
 * Returns the problems found (empty when all is well).
 */
export function checkAcknowledged(read: Map<number, ConsumerRecord[]>, acked: readonly Ack[]): string[] {
  const problems: string[] = [];
  const where = new Map<string, { partition: number; offset: number }[]>();
  for (const [partition, records] of read) {
    let last = -1;
    for (const r of records) {
      if (r.offset <= last) problems.push(`partition ${partition}: offset ${r.offset} after ${last}`);
      last = r.offset;
      const value = r.value?.toString() ?? '';
      const list = where.get(value) ?? [];
      list.push({ partition, offset: r.offset });
      where.set(value, list);
    }
  }
  for (const [value, list] of where) if (list.length > 1) problems.push(`duplicate ${value} at ${JSON.stringify(list)}`);
  for (const ack of acked) {
    const found = where.get(ack.value);
    if (!found) problems.push(`lost acknowledged ${ack.value} (partition ${ack.partition} offset ${ack.offset})`);
    else if (found[0]!.partition !== ack.partition || found[0]!.offset !== ack.offset) {
      problems.push(`${ack.value} acknowledged at ${ack.partition}/${ack.offset} but found at ${found[0]!.partition}/${found[0]!.offset}`);
    }
  }
  return problems.slice(0, 20);
}
