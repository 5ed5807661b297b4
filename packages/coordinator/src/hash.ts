// Which `__consumer_offsets` partition holds a group, and so which broker coordinates it: Kafka's
// GroupMetadataManager.partitionFor, `Utils.abs(groupId.hashCode) % partitionCount`, with Java's
// String.hashCode, so that a group lands on the partition Kafka would put it on.

/**
 * Java's String.hashCode: s[0]·31^(n-1) + … + s[n-1] over UTF-16 code units, in 32-bit
 * two's-complement arithmetic (JavaScript strings are UTF-16 too, so charCodeAt is Java's charAt).
 */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's Utils.abs: Math.abs, except that Integer.MIN_VALUE (which has no positive twin) is 0. */
export function kafkaAbs(n: number): number {
  return n === -2147483648 ? 0 : Math.abs(n);
}

/** The `__consumer_offsets` partition of a group (Kafka's GroupMetadataManager.partitionFor). */
export function partitionForGroup(groupId: string, partitionCount: number): number {
  return kafkaAbs(javaStringHashCode(groupId)) % partitionCount;
}
