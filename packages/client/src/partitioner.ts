// Partition choice, as Kafka's producer makes it (KIP-480 sticky partitioning for unkeyed
// records, murmur2 for keyed ones). Pure functions: the caller supplies the randomness.

import { murmur2, toPositive } from './murmur2.ts';

/** The partition of a keyed record: toPositive(murmur2(key)) % partitionCount. */
export function partitionForKey(key: Uint8Array, partitionCount: number): number {
  if (!(partitionCount > 0)) throw new RangeError(`partitionCount must be positive, got ${partitionCount}`);
  return toPositive(murmur2(key)) % partitionCount;
}

/**
 * The next sticky partition for unkeyed records once the current batch is sent (KIP-480):
 * a random one among those with a leader (all when none has), different from the previous
 * one when there is a choice. `random` returns a number in [0, 1).
 */
export function nextStickyPartition(partitionCount: number, previous: number | undefined, available: readonly number[], random: () => number): number {
  const candidates = available.length > 0 ? available : Array.from({ length: partitionCount }, (_, i) => i);
  if (candidates.length === 1) return candidates[0]!;
  let index = Math.floor(random() * candidates.length) % candidates.length;
  if (candidates[index] === previous) index = (index + 1) % candidates.length;
  return candidates[index]!;
}
