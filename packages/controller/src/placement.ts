// Rack-aware replica placement (DESIGN.md § Replication).
//
// Brokers are ordered rack-alternated: racks sorted, brokers sorted by id within each rack, then
// interleaved (rack-1 {0,1,2}, rack-2 {3,4,5} -> 0,3,1,4,2,5). Two layouts walk that list:
//
// - The seed's layout (`assignReplicas`), for the seed's topic `demo` only: partition p's leader
//   is list[p mod n]; its followers are the next brokers of that list, skipping any that would put
//   a second replica in a rack before every rack has one. Brokers skipped that way are taken, in
//   list order, only if the replica set is still short once the list has been walked (uneven
//   racks). For 6 brokers in 2 racks, 10 partitions, RF 3 this is the seed's table exactly.
// - Kafka's layout (`assignReplicasKafka`, AdminUtils.assignReplicasToBrokersRackAware) for every
//   other topic: a start index and a follower shift per topic, and the shift grows by one each
//   time the partitions wrap round the list. Kafka draws both at random; here they are hashed from
//   the topic's name, so placement stays deterministic (a replay, a test, `reassign generate`
//   agree) while topics start on different brokers. Without them every topic's partition 0 led on
//   list[0], and every partition a broker led had the same successor, so a broker's death moved
//   all its leaderships onto one broker (election.ts elects the first live ISR member in replica
//   order, as Kafka does): the shift spreads them over every broker of the other racks.

import { TributaryError, type BrokerId } from '@tributary/protocol';

/** The seed's topic (the one `tributary local up` creates): placed exactly as the seed's table. */
export const SEED_TOPIC = 'demo';

export interface PlacementBroker {
  id: BrokerId;
  rack: string;
}

/** Brokers in rack-alternated order. */
export function rackAlternatedOrder(brokers: readonly PlacementBroker[]): BrokerId[] {
  const byRack = new Map<string, BrokerId[]>();
  for (const broker of brokers) {
    const ids = byRack.get(broker.rack) ?? [];
    ids.push(broker.id);
    byRack.set(broker.rack, ids);
  }
  const racks = [...byRack.keys()].sort();
  const columns = racks.map((rack) => byRack.get(rack)!.sort((a, b) => a - b));
  const out: BrokerId[] = [];
  const depth = Math.max(0, ...columns.map((c) => c.length));
  for (let i = 0; i < depth; i++) {
    for (const column of columns) {
      const id = column[i];
      if (id !== undefined) out.push(id);
    }
  }
  return out;
}

/**
 * Replica lists for `partitionCount` partitions over `brokers` (the live ones), preferred
 * leader first. Throws INVALID_REPLICATION_FACTOR when the factor exceeds the broker count.
 */
export function assignReplicas(brokers: readonly PlacementBroker[], partitionCount: number, replicationFactor: number): BrokerId[][] {
  checkReplicationFactor(brokers, replicationFactor);
  const order = rackAlternatedOrder(brokers);
  const rackOf = new Map(brokers.map((b) => [b.id, b.rack]));
  const rackCount = new Set(brokers.map((b) => b.rack)).size;
  const n = order.length;
  const assignments: BrokerId[][] = [];
  for (let p = 0; p < partitionCount; p++) {
    const leader = order[p % n]!;
    const replicas = [leader];
    const racksUsed = new Set([rackOf.get(leader)]);
    const skipped: BrokerId[] = [];
    for (let step = 1; step < n && replicas.length < replicationFactor; step++) {
      const candidate = order[(p + step) % n]!;
      const rack = rackOf.get(candidate);
      if (racksUsed.has(rack) && racksUsed.size < rackCount) {
        skipped.push(candidate);
        continue;
      }
      replicas.push(candidate);
      racksUsed.add(rack);
    }
    for (const candidate of skipped) {
      if (replicas.length >= replicationFactor) break;
      replicas.push(candidate);
    }
    assignments.push(replicas);
  }
  return assignments;
}

function checkReplicationFactor(brokers: readonly PlacementBroker[], replicationFactor: number): void {
  if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > brokers.length) {
    throw new TributaryError(
      'INVALID_REPLICATION_FACTOR',
      `replication factor ${replicationFactor} must be between 1 and the number of live brokers (${brokers.length})`,
    );
  }
}

/** A topic's start index and follower shift for Kafka's layout (Kafka draws them at random). */
export interface TopicLayout {
  startIndex: number;
  replicaShift: number;
}

/** FNV-1a, 32 bits, over the UTF-16 code units of `s`, from `seed`. */
function fnv1a(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The start index and follower shift hashed from the topic's name, for `brokerCount` brokers. */
export function topicLayout(topic: string, brokerCount: number): TopicLayout {
  if (brokerCount <= 0) return { startIndex: 0, replicaShift: 0 };
  return { startIndex: fnv1a(topic, 0x811c9dc5) % brokerCount, replicaShift: fnv1a(topic, 0x9747b28c) % brokerCount };
}

/**
 * Kafka's rack-aware assignment (AdminUtils.assignReplicasToBrokersRackAware) with a given start
 * index and shift: partition p (counted from `firstPartition`, so added partitions continue the
 * topic's pattern) is led by list[(p + startIndex) mod n]; the shift grows by one every n
 * partitions; follower k is list[leader + 1 + (shift * racks + k) mod (n - 1)], skipping a broker
 * whose rack already holds a replica until every rack holds one, and a broker already chosen.
 */
export function assignReplicasKafka(
  brokers: readonly PlacementBroker[],
  partitionCount: number,
  replicationFactor: number,
  layout: TopicLayout,
  firstPartition = 0,
): BrokerId[][] {
  checkReplicationFactor(brokers, replicationFactor);
  const order = rackAlternatedOrder(brokers);
  const rackOf = new Map(brokers.map((b) => [b.id, b.rack]));
  const rackCount = new Set(brokers.map((b) => b.rack)).size;
  const n = order.length;
  const assignments: BrokerId[][] = [];
  for (let i = 0; i < partitionCount; i++) {
    const p = firstPartition + i;
    // Kafka: nextReplicaShift += 1 at every p > 0 with p % n == 0, from the topic's shift.
    const shift = layout.replicaShift + Math.floor(p / n);
    const first = (p + layout.startIndex) % n;
    const leader = order[first]!;
    const replicas = [leader];
    const racksUsed = new Set([rackOf.get(leader)]);
    const chosen = new Set([leader]);
    for (let k = 0; replicas.length < replicationFactor; k++) {
      const candidate = order[(first + 1 + ((shift * rackCount + k) % (n - 1))) % n]!;
      const rack = rackOf.get(candidate);
      if ((racksUsed.has(rack) && racksUsed.size < rackCount) || (chosen.has(candidate) && chosen.size < n)) continue;
      replicas.push(candidate);
      racksUsed.add(rack);
      chosen.add(candidate);
    }
    assignments.push(replicas);
  }
  return assignments;
}

/**
 * Replica lists for partitions [firstPartition, firstPartition + count) of `topic`: the seed's
 * layout for the seed's topic, Kafka's with the topic's hashed start and shift for any other.
 */
export function assignTopicReplicas(
  topic: string,
  brokers: readonly PlacementBroker[],
  count: number,
  replicationFactor: number,
  firstPartition = 0,
): BrokerId[][] {
  if (topic === SEED_TOPIC) return assignReplicas(brokers, firstPartition + count, replicationFactor).slice(firstPartition);
  return assignReplicasKafka(brokers, count, replicationFactor, topicLayout(topic, brokers.length), firstPartition);
}
