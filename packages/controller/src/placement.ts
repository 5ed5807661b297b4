// Rack-aware replica placement (DESIGN.md § Replication), the rule behind the seed's broker table.
//
// Brokers are ordered rack-alternated: racks sorted, brokers sorted by id within each rack, then
// interleaved (rack-1 {0,1,2}, rack-2 {3,4,5} -> 0,3,1,4,2,5). Partition p's leader is
// list[p mod n]; its followers are the next brokers of that list, skipping any that would put a
// second replica in a rack before every rack has one. Brokers skipped that way are taken, in
// list order, only if the replica set is still short once the list has been walked (uneven racks).
// Like Kafka's rack-aware assignment, but without the random start, so placement is deterministic.

import { TributaryError, type BrokerId } from '@tributary/protocol';

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
  if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > brokers.length) {
    throw new TributaryError(
      'INVALID_REPLICATION_FACTOR',
      `replication factor ${replicationFactor} must be between 1 and the number of live brokers (${brokers.length})`,
    );
  }
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
