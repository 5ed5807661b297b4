// The records the group coordinator writes to `__consumer_offsets`, in Kafka's own binary
// schemas (GroupMetadataManager's key and value formats; the JSON specs OffsetCommitKey,
// OffsetCommitValue, GroupMetadataKey, GroupMetadataValue), so that a Kafka tool reading the topic
// through the Kafka listener decodes them as Kafka's.
//
// Key (big-endian; a string is an int16 byte length then UTF-8, -1 for null; bytes an int32
// length then the bytes; an array an int32 count then its items):
//
//   version int16   0 or 1: an offset commit, keyed by (group, topic, partition)
//                   2:      group metadata, keyed by group
//   group   string
//   topic   string   (offset commits only)
//   partition int32  (offset commits only)
//
// OffsetCommitValue: version int16, then
//   v0: offset int64, metadata string, commitTimestamp int64
//   v1: offset int64, metadata string, commitTimestamp int64, expireTimestamp int64
//   v2: offset int64, metadata string, commitTimestamp int64
//   v3: offset int64, leaderEpoch int32, metadata string, commitTimestamp int64   <- written
//
// GroupMetadataValue: version int16, then protocolType string, generation int32,
//   protocol string|null, leader string|null, [v2+] currentStateTimestamp int64,
//   members array of: memberId string, [v3+] groupInstanceId string|null, clientId string,
//   clientHost string, [v1+] rebalanceTimeout int32, sessionTimeout int32,
//   subscription bytes, assignment bytes                                          <- v3 written
//
// A null value is a tombstone: the key's latest state is "deleted", and compaction
// (cleanup.policy=compact) keeps only the latest record per key. Versions 4+ (Kafka's flexible
// versions, KIP-915) are not written here and are refused when read.

import { TributaryError } from '@tributary/protocol';

/** An offset commit's value (OffsetCommitValue). */
export interface OffsetCommitValue {
  offset: number;
  /** -1 when unknown. */
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** Only in version 1 values (written by Kafka before 2.1); -1 otherwise. */
  expireTimestamp: number;
}

/** One member as stored in a group's metadata (GroupMetadataValue.MemberMetadata). */
export interface MemberMetadataValue {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** The member's metadata for the group's selected protocol. */
  subscription: Buffer;
  assignment: Buffer;
}

/** A group's metadata (GroupMetadataValue). */
export interface GroupMetadataValue {
  protocolType: string;
  generation: number;
  protocol: string | null;
  leader: string | null;
  /** When the group entered its current state (KIP-211: offsets expire this long after it became Empty); -1 when unknown. */
  currentStateTimestamp: number;
  members: MemberMetadataValue[];
}

export type OffsetsRecord =
  | { type: 'offset'; groupId: string; topic: string; partition: number; value: OffsetCommitValue | null }
  | { type: 'group'; groupId: string; value: GroupMetadataValue | null };

const OFFSET_KEY_VERSION = 1;
const GROUP_KEY_VERSION = 2;
const OFFSET_VALUE_VERSION = 3;
const GROUP_VALUE_VERSION = 3;

function corrupt(what: string): TributaryError {
  return new TributaryError('CORRUPT_MESSAGE', `__consumer_offsets record: ${what}`);
}

class Writer {
  private readonly parts: Buffer[] = [];

  int16(n: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeInt16BE(n);
    this.parts.push(b);
    return this;
  }

  int32(n: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(n);
    this.parts.push(b);
    return this;
  }

  int64(n: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(BigInt(n));
    this.parts.push(b);
    return this;
  }

  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.length > 0x7fff)
      throw new TributaryError('INVALID_REQUEST', `a string of ${bytes.length} bytes does not fit a __consumer_offsets record (at most 32767)`);
    this.int16(bytes.length);
    this.parts.push(bytes);
    return this;
  }

  bytes(b: Buffer): this {
    this.int32(b.length);
    this.parts.push(b);
    return this;
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Reader {
  private pos = 0;
  private readonly buf: Buffer;

  constructor(buf: Buffer) {
    this.buf = buf;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw corrupt(`truncated at byte ${this.pos} reading ${what}`);
  }

  int16(what: string): number {
    this.need(2, what);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(what: string): number {
    this.need(4, what);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int64(what: string): number {
    this.need(8, what);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw corrupt(`${what} ${v} is beyond 2^53`);
    return Number(v);
  }

  nullableString(what: string): string | null {
    const n = this.int16(what);
    if (n === -1) return null;
    if (n < 0) throw corrupt(`${what} has length ${n}`);
    this.need(n, what);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  string(what: string): string {
    const s = this.nullableString(what);
    if (s === null) throw corrupt(`${what} is null`);
    return s;
  }

  bytes(what: string): Buffer {
    const n = this.int32(what);
    if (n === -1) return Buffer.alloc(0);
    if (n < 0) throw corrupt(`${what} has length ${n}`);
    this.need(n, what);
    // A copy: the record's bytes come from a log read that is not kept.
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }

  end(what: string): void {
    if (this.pos !== this.buf.length) throw corrupt(`${this.buf.length - this.pos} bytes left over after ${what}`);
  }
}

export function offsetCommitKey(groupId: string, topic: string, partition: number): Buffer {
  return new Writer().int16(OFFSET_KEY_VERSION).string(groupId).string(topic).int32(partition).build();
}

export function groupMetadataKey(groupId: string): Buffer {
  return new Writer().int16(GROUP_KEY_VERSION).string(groupId).build();
}

export function encodeOffsetCommitValue(v: OffsetCommitValue): Buffer {
  return new Writer().int16(OFFSET_VALUE_VERSION).int64(v.offset).int32(v.leaderEpoch).string(v.metadata).int64(v.commitTimestamp).build();
}

export function encodeGroupMetadataValue(v: GroupMetadataValue): Buffer {
  const w = new Writer()
    .int16(GROUP_VALUE_VERSION)
    .string(v.protocolType)
    .int32(v.generation)
    .string(v.protocol)
    .string(v.leader)
    .int64(v.currentStateTimestamp);
  w.int32(v.members.length);
  for (const m of v.members) {
    w.string(m.memberId)
      .string(m.groupInstanceId)
      .string(m.clientId)
      .string(m.clientHost)
      .int32(m.rebalanceTimeoutMs)
      .int32(m.sessionTimeoutMs)
      .bytes(m.subscription)
      .bytes(m.assignment);
  }
  return w.build();
}

/** A record's key and value bytes (value null: a tombstone). */
export function encodeRecord(record: OffsetsRecord): { key: Buffer; value: Buffer | null } {
  if (record.type === 'offset') {
    return {
      key: offsetCommitKey(record.groupId, record.topic, record.partition),
      value: record.value === null ? null : encodeOffsetCommitValue(record.value),
    };
  }
  return { key: groupMetadataKey(record.groupId), value: record.value === null ? null : encodeGroupMetadataValue(record.value) };
}

function decodeOffsetCommitValue(buf: Buffer): OffsetCommitValue {
  const r = new Reader(buf);
  const version = r.int16('value version');
  if (version < 0 || version > 3) throw corrupt(`offset commit value version ${version} is not known (0-3)`);
  const offset = r.int64('offset');
  const leaderEpoch = version >= 3 ? r.int32('leaderEpoch') : -1;
  const metadata = r.string('metadata');
  const commitTimestamp = r.int64('commitTimestamp');
  const expireTimestamp = version === 1 ? r.int64('expireTimestamp') : -1;
  r.end('the offset commit value');
  return { offset, leaderEpoch, metadata, commitTimestamp, expireTimestamp };
}

function decodeGroupMetadataValue(buf: Buffer): GroupMetadataValue {
  const r = new Reader(buf);
  const version = r.int16('value version');
  if (version < 0 || version > 3) throw corrupt(`group metadata value version ${version} is not known (0-3)`);
  const protocolType = r.string('protocolType');
  const generation = r.int32('generation');
  const protocol = r.nullableString('protocol');
  const leader = r.nullableString('leader');
  const currentStateTimestamp = version >= 2 ? r.int64('currentStateTimestamp') : -1;
  const count = r.int32('members count');
  if (count < 0) throw corrupt(`members count ${count}`);
  const members: MemberMetadataValue[] = [];
  for (let i = 0; i < count; i++) {
    const memberId = r.string('memberId');
    const groupInstanceId = version >= 3 ? r.nullableString('groupInstanceId') : null;
    const clientId = r.string('clientId');
    const clientHost = r.string('clientHost');
    const sessionTimeoutFirst = version === 0;
    const rebalanceTimeoutMs = sessionTimeoutFirst ? -1 : r.int32('rebalanceTimeout');
    const sessionTimeoutMs = r.int32('sessionTimeout');
    const subscription = r.bytes('subscription');
    const assignment = r.bytes('assignment');
    // Version 0 has no rebalance timeout: Kafka used the session timeout for both.
    members.push({
      memberId,
      groupInstanceId,
      clientId,
      clientHost,
      rebalanceTimeoutMs: sessionTimeoutFirst ? sessionTimeoutMs : rebalanceTimeoutMs,
      sessionTimeoutMs,
      subscription,
      assignment,
    });
  }
  r.end('the group metadata value');
  return { protocolType, generation, protocol, leader, currentStateTimestamp, members };
}

/**
 * Decodes one record of `__consumer_offsets`. A key of an unknown version (a record type this
 * coordinator does not know) decodes as `unknown`, which loading skips; bad bytes throw
 * CORRUPT_MESSAGE.
 */
export function decodeRecord(key: Buffer | null, value: Buffer | null): OffsetsRecord | { type: 'unknown'; version: number } {
  if (key === null) throw corrupt('no key');
  const r = new Reader(key);
  const version = r.int16('key version');
  if (version === 0 || version === 1) {
    const groupId = r.string('group');
    const topic = r.string('topic');
    const partition = r.int32('partition');
    r.end('the offset commit key');
    return { type: 'offset', groupId, topic, partition, value: value === null ? null : decodeOffsetCommitValue(value) };
  }
  if (version === 2) {
    const groupId = r.string('group');
    r.end('the group metadata key');
    return { type: 'group', groupId, value: value === null ? null : decodeGroupMetadataValue(value) };
  }
  return { type: 'unknown', version };
}
