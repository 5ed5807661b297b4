import { describe, expect, it } from 'vitest';
import { javaStringHashCode, kafkaAbs, partitionForGroup } from './hash.ts';

// Expected values printed by a JVM (OpenJDK's String.hashCode, Kafka's Utils.abs(h) % 50), so the
// placement of a group is the one Kafka would give it.
const JVM = [
  { s: '', hash: 0, partition: 0 },
  { s: 'a', hash: 97, partition: 47 },
  { s: 'hello', hash: 99162322, partition: 22 },
  { s: 'my-group', hash: -1906497762, partition: 12 },
  { s: 'test-consumer-group', hash: -1793216381, partition: 31 },
  { s: 'console-consumer-12345', hash: 158455506, partition: 6 },
  // Integer.MIN_VALUE: Math.abs would stay negative; Kafka's Utils.abs makes it 0.
  { s: 'polygenelubricants', hash: -2147483648, partition: 0 },
  { s: 'DESIGNING WORKHOUSES', hash: -2147483648, partition: 0 },
  { s: 'héllo wörld €', hash: 1283057445, partition: 45 },
  // A surrogate pair counts as two UTF-16 code units, as in Java.
  { s: '\u{1F600}group', hash: -1231696132, partition: 32 },
];

describe('group placement', () => {
  it.each(JVM)('Java hashes "$s" to $hash, partition $partition of 50', ({ s, hash, partition }) => {
    expect(javaStringHashCode(s)).toBe(hash);
    expect(partitionForGroup(s, 50)).toBe(partition);
  });

  it('takes Integer.MIN_VALUE to 0 and leaves every other int32 at its absolute value', () => {
    expect(kafkaAbs(-2147483648)).toBe(0);
    expect(kafkaAbs(-2147483647)).toBe(2147483647);
    expect(kafkaAbs(5)).toBe(5);
  });
});
