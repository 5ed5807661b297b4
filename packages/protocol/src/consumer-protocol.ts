// Kafka's consumer protocol (ConsumerProtocol in Kafka's clients): the bytes a consumer puts in
// JoinGroup's protocol metadata (its Subscription) and the group leader puts in SyncGroup's
// assignments (an Assignment per member). The group coordinator treats both as opaque; only
// consumers (and tools that show a group's members) read them. They are Kafka's bytes exactly —
// ConsumerProtocolSubscription.json and ConsumerProtocolAssignment.json, non-flexible versions —
// so a later Kafka-protocol listener can carry them for real Kafka clients unchanged.
//
// Both start with an int16 version (MessageUtil.toVersionPrefixedByteBuffer), then, big-endian:
//
//   Subscription                              Assignment
//   ------------------------------------      ------------------------------------
//   version          int16                    version            int16
//   topics           int32 n, n × string      assignedPartitions int32 n, n × topicPartitions
//   userData         int32 len (-1 null), …   userData           int32 len (-1 null), …
//   ownedPartitions  (v1+) int32 n, n × topicPartitions
//   generationId     (v2+) int32 (-1: none)
//   rackId           (v3+) int16 len (-1 null), UTF-8 (KIP-881)
//
//   string           int16 length, UTF-8        topicPartitions  string topic, int32 n, n × int32
//
// Kafka writes the topics sorted and the partitions grouped by topic, topics and partitions in
// order; so does this. A newer version than this code knows is read as the newest it knows: the
// protocol only ever appends fields (the schemas say so), and trailing bytes are ignored, as
// Kafka's ConsumerProtocol does. Versions 1-3 of the Assignment are v0's layout, bumped with the
// Subscription's.

import { TributaryError } from './errors.ts';

/** The protocol type of consumer groups (Kafka's ConsumerProtocol.PROTOCOL_TYPE). */
export const CONSUMER_PROTOCOL_TYPE = 'consumer';
/** The newest version written and understood (Kafka 3.5+, KIP-881's rack id). */
export const CONSUMER_PROTOCOL_VERSION = 3;

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface ConsumerSubscription {
  topics: string[];
  userData: Buffer | null;
  /** The partitions the member owns as it joins (v1+, KIP-429); [] for an eager member. */
  ownedPartitions: TopicPartition[];
  /** The generation those partitions were owned in (v2+); -1 when none. */
  generationId: number;
  /** The member's rack (v3+, KIP-881); null when none. */
  rackId: string | null;
}

export interface ConsumerAssignment {
  partitions: TopicPartition[];
  userData: Buffer | null;
}

class Writer {
  private readonly parts: Buffer[] = [];
  int16(n: number): void {
    const b = Buffer.allocUnsafe(2);
    b.writeInt16BE(n);
    this.parts.push(b);
  }
  int32(n: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(n);
    this.parts.push(b);
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.length > 0x7fff) throw new TributaryError('INVALID_REQUEST', `a consumer protocol string is at most 32767 bytes, got ${bytes.length}`);
    this.int16(bytes.length);
    this.parts.push(bytes);
  }
  nullableString(s: string | null): void {
    if (s === null) this.int16(-1);
    else this.string(s);
  }
  nullableBytes(b: Buffer | null): void {
    if (b === null) {
      this.int32(-1);
      return;
    }
    this.int32(b.length);
    this.parts.push(b);
  }
  topicPartitions(tps: readonly TopicPartition[]): void {
    const grouped = groupByTopic(tps);
    this.int32(grouped.length);
    for (const [topic, partitions] of grouped) {
      this.string(topic);
      this.int32(partitions.length);
      for (const p of partitions) this.int32(p);
    }
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Reader {
  private pos = 0;
  private readonly buf: Buffer;
  private readonly what: string;
  constructor(buf: Buffer, what: string) {
    this.buf = buf;
    this.what = what;
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new TributaryError('INVALID_REQUEST', `${this.what} is truncated at byte ${this.pos} (${this.buf.length} bytes)`);
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  count(field: string): number {
    const n = this.int32();
    // Each element takes at least two bytes: a count beyond the buffer is garbage, not an allocation.
    if (n < 0 || n > this.buf.length - this.pos) throw new TributaryError('INVALID_REQUEST', `${this.what}: bad ${field} count ${n}`);
    return n;
  }
  nullableString(): string | null {
    const n = this.int16();
    if (n === -1) return null;
    if (n < 0) throw new TributaryError('INVALID_REQUEST', `${this.what}: bad string length ${n}`);
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  string(field: string): string {
    const s = this.nullableString();
    if (s === null) throw new TributaryError('INVALID_REQUEST', `${this.what}: ${field} is null`);
    return s;
  }
  nullableBytes(): Buffer | null {
    const n = this.int32();
    if (n === -1) return null;
    if (n < 0) throw new TributaryError('INVALID_REQUEST', `${this.what}: bad bytes length ${n}`);
    this.need(n);
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }
  topicPartitions(field: string): TopicPartition[] {
    const out: TopicPartition[] = [];
    const topics = this.count(field);
    for (let i = 0; i < topics; i++) {
      const topic = this.string(`${field} topic`);
      const n = this.count(`${field} partitions`);
      for (let j = 0; j < n; j++) {
        const partition = this.int32();
        if (partition < 0) throw new TributaryError('INVALID_REQUEST', `${this.what}: ${topic} has partition ${partition}`);
        out.push({ topic, partition });
      }
    }
    return out;
  }
}

/** Topic → sorted partitions, topics sorted, as Kafka's CollectionUtils.groupPartitionsByTopic after its sort. */
function groupByTopic(tps: readonly TopicPartition[]): [string, number[]][] {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of tps) {
    let list = byTopic.get(topic);
    if (list === undefined) {
      list = [];
      byTopic.set(topic, list);
    }
    list.push(partition);
  }
  return [...byTopic.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([t, ps]) => [t, ps.sort((x, y) => x - y)]);
}

function checkVersion(version: number): void {
  if (!Number.isInteger(version) || version < 0 || version > CONSUMER_PROTOCOL_VERSION) {
    throw new TributaryError('INVALID_REQUEST', `consumer protocol version must be 0..${CONSUMER_PROTOCOL_VERSION}, got ${version}`);
  }
}

/** A Subscription in Kafka's bytes (version 3 unless asked). Fields a version lacks are left out. */
export function encodeSubscription(s: ConsumerSubscription, version: number = CONSUMER_PROTOCOL_VERSION): Buffer {
  checkVersion(version);
  const w = new Writer();
  w.int16(version);
  const topics = [...s.topics].sort();
  w.int32(topics.length);
  for (const t of topics) w.string(t);
  w.nullableBytes(s.userData);
  if (version >= 1) w.topicPartitions(s.ownedPartitions);
  if (version >= 2) w.int32(s.generationId);
  if (version >= 3) w.nullableString(s.rackId);
  return w.bytes();
}

/** Reads a Subscription of any version (a newer one as the newest known); bad bytes: INVALID_REQUEST. */
export function decodeSubscription(bytes: Buffer): ConsumerSubscription & { version: number } {
  const r = new Reader(bytes, 'consumer subscription');
  const version = r.int16();
  if (version < 0) throw new TributaryError('INVALID_REQUEST', `consumer subscription: bad version ${version}`);
  const topics: string[] = [];
  const n = r.count('topics');
  for (let i = 0; i < n; i++) topics.push(r.string('topic'));
  const userData = r.nullableBytes();
  const ownedPartitions = version >= 1 ? r.topicPartitions('ownedPartitions') : [];
  const generationId = version >= 2 ? r.int32() : -1;
  const rackId = version >= 3 ? r.nullableString() : null;
  return { version, topics, userData, ownedPartitions, generationId, rackId };
}

/** An Assignment in Kafka's bytes (version 3 unless asked; every version has v0's layout). */
export function encodeAssignment(a: ConsumerAssignment, version: number = CONSUMER_PROTOCOL_VERSION): Buffer {
  checkVersion(version);
  const w = new Writer();
  w.int16(version);
  w.topicPartitions(a.partitions);
  w.nullableBytes(a.userData);
  return w.bytes();
}

/**
 * Reads an Assignment. Empty bytes are no assignment (the coordinator hands a member the leader
 * left out an empty buffer, as Kafka's does): no partitions.
 */
export function decodeAssignment(bytes: Buffer): ConsumerAssignment & { version: number } {
  if (bytes.length === 0) return { version: CONSUMER_PROTOCOL_VERSION, partitions: [], userData: null };
  const r = new Reader(bytes, 'consumer assignment');
  const version = r.int16();
  if (version < 0) throw new TributaryError('INVALID_REQUEST', `consumer assignment: bad version ${version}`);
  const partitions = r.topicPartitions('assignedPartitions');
  const userData = r.nullableBytes();
  return { version, partitions, userData };
}

/** `demo-3`, as Kafka's TopicPartition.toString. */
export function formatTopicPartition(tp: TopicPartition): string {
  return `${tp.topic}-${tp.partition}`;
}

/** Sorts by topic, then partition (in place; returns the array). */
export function sortTopicPartitions<T extends TopicPartition>(tps: T[]): T[] {
  return tps.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}
