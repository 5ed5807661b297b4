// Who a fault hits, resolved against the metadata when it fires: "the leader of partition 4"
// names a different broker after every election.

import type { TopicDescription } from '@tributary/client';
import type { TargetRole } from './schedule.ts';

/** The brokers a role names in a partition, from the metadata. */
export function resolveRole(topic: TopicDescription, partition: number, role: TargetRole, pick: number): number {
  const p = topic.partitions.find((x) => x.partition === partition) ?? topic.partitions[0]!;
  const leader = p.leader >= 0 ? p.leader : p.replicas[0]!;
  if (role === 'leader') return leader;
  const followers = p.replicas.filter((r) => r !== leader);
  return followers.length === 0 ? leader : followers[pick % followers.length]!;
}

/** Partitions whose replica set holds any of `brokers`. */
export function partitionsOf(topic: TopicDescription, brokers: readonly number[]): number[] {
  return topic.partitions
    .filter((p) => p.replicas.some((r) => brokers.includes(r)))
    .map((p) => p.partition)
    .sort((a, b) => a - b);
}
