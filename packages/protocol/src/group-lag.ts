// A consumer group's partitions as kafka-consumer-groups --describe shows them: every partition a
// member is assigned or the group has committed, with the committed offset, the log end a consumer
// can read to (the high watermark), the lag between them and the member that owns it. Pure: the
// CLI (`groups describe`, `watch`), the web console and the brokers' lag metrics all compute it
// from what they fetched.

import { decodeAssignment, sortTopicPartitions, CONSUMER_PROTOCOL_TYPE, type TopicPartition } from './consumer-protocol.ts';

export interface GroupMemberAssignment {
  memberId: string;
  clientId: string;
  /** Kafka's form, `/127.0.0.1`. */
  clientHost: string;
  assignment: TopicPartition[];
}

export interface GroupOffsetRow {
  topic: string;
  partition: number;
  /** The group's committed offset (the next record it will read); null when it has none. */
  committedOffset: number | null;
  /** The partition's high watermark; null when its leader could not say. */
  logEndOffset: number | null;
  /** logEndOffset − committedOffset, never negative; null when either is unknown. */
  lag: number | null;
  /** The member assigned the partition; null when none is (Kafka's `-`). */
  memberId: string | null;
  clientId: string | null;
  clientHost: string | null;
}

/** Records behind: never negative (a committed offset past the HW reads as caught up). */
export function partitionLag(committedOffset: number | null, logEndOffset: number | null): number | null {
  if (committedOffset === null || logEndOffset === null || committedOffset < 0) return null;
  return Math.max(0, logEndOffset - committedOffset);
}

/**
 * Every partition assigned to a member or committed by the group, sorted by topic and partition.
 * `committed` entries with offset -1 (none) count as not committed; `logEnds` maps `topic-partition`
 * to the HW.
 */
export function groupOffsetRows(
  members: readonly GroupMemberAssignment[],
  committed: readonly { topic: string; partition: number; offset: number }[],
  logEnds: ReadonlyMap<string, number>,
): GroupOffsetRow[] {
  const rows = new Map<string, GroupOffsetRow>();
  const row = (topic: string, partition: number): GroupOffsetRow => {
    const key = `${topic}-${partition}`;
    let r = rows.get(key);
    if (r === undefined) {
      r = { topic, partition, committedOffset: null, logEndOffset: logEnds.get(key) ?? null, lag: null, memberId: null, clientId: null, clientHost: null };
      rows.set(key, r);
    }
    return r;
  };
  for (const m of members) {
    for (const tp of m.assignment) {
      const r = row(tp.topic, tp.partition);
      r.memberId = m.memberId;
      r.clientId = m.clientId;
      r.clientHost = m.clientHost;
    }
  }
  for (const c of committed) {
    if (c.offset < 0) continue;
    row(c.topic, c.partition).committedOffset = c.offset;
  }
  for (const r of rows.values()) r.lag = partitionLag(r.committedOffset, r.logEndOffset);
  return sortTopicPartitions([...rows.values()]);
}

/** The sum of the known lags (Kafka's tools and exporters show it per group). */
export function totalLag(rows: readonly GroupOffsetRow[]): number {
  let sum = 0;
  for (const r of rows) if (r.lag !== null) sum += r.lag;
  return sum;
}

/**
 * A member's assigned partitions from its assignment bytes: decoded only for consumer groups
 * (other protocol types' bytes mean something else); undecodable bytes give null, so a view shows
 * "unknown" rather than failing for one odd member.
 */
export function memberAssignment(protocolType: string, assignment: Buffer): TopicPartition[] | null {
  if (protocolType !== CONSUMER_PROTOCOL_TYPE) return null;
  try {
    return sortTopicPartitions(decodeAssignment(assignment).partitions);
  } catch {
    return null;
  }
}
