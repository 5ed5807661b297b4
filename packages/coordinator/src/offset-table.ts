// The offset cache (the offsets half of Kafka's GroupMetadataManager): every group's committed
// offsets as the coordinator's `__consumer_offsets` partitions hold them, the commits still being
// written, and which offsets have expired (offsets.retention.minutes, KIP-211). Pure: the
// coordinator writes records and puts what was committed here once the write is acknowledged.

import { tpKey } from './loader.ts';

export interface CommittedOffsetEntry {
  topic: string;
  partition: number;
  offset: number;
  /** -1 when unknown. */
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** From version-1 records only (an explicit expiry time); -1 otherwise. */
  expireTimestamp: number;
  /** The log offset of the record that committed it. */
  recordOffset: number;
}

/**
 * When a group's offsets expire (Kafka's GroupMetadata.removeExpiredOffsets):
 * - `since`: a group that used group management and is Empty: retention counts from when it
 *   became Empty (`timestampMs`), or from each commit when that is unknown.
 * - `commit`: a group that only stores offsets (no protocol type): from each commit.
 * - `never`: a group with members. Kafka also expires the offsets of topics a consumer group no
 *   longer subscribes to; here subscriptions are opaque bytes, so they stay until it is Empty.
 */
export type ExpiryBase = { kind: 'since'; timestampMs: number | undefined } | { kind: 'commit' } | { kind: 'never' };

export class OffsetTable {
  private readonly groups = new Map<string, Map<string, CommittedOffsetEntry>>();
  /** Commits being written, per group and partition (a count: several may be in flight). */
  private readonly pending = new Map<string, Map<string, { topic: string; partition: number; count: number }>>();

  get(groupId: string, topic: string, partition: number): CommittedOffsetEntry | undefined {
    return this.groups.get(groupId)?.get(tpKey(topic, partition));
  }

  /** The group's committed offsets, sorted by topic and partition. */
  list(groupId: string): CommittedOffsetEntry[] {
    return [...(this.groups.get(groupId)?.values() ?? [])].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  }

  hasOffsets(groupId: string): boolean {
    return (this.groups.get(groupId)?.size ?? 0) > 0;
  }

  hasPending(groupId: string): boolean {
    return (this.pending.get(groupId)?.size ?? 0) > 0;
  }

  groupIds(): string[] {
    return [...this.groups.keys()];
  }

  /**
   * Puts a committed offset. The record written last in the log wins, as loading the log would
   * decide: an entry never replaces one committed by a later record.
   */
  put(groupId: string, entry: CommittedOffsetEntry): boolean {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = new Map();
      this.groups.set(groupId, group);
    }
    const key = tpKey(entry.topic, entry.partition);
    const existing = group.get(key);
    if (existing !== undefined && existing.recordOffset > entry.recordOffset) return false;
    group.set(key, entry);
    return true;
  }

  remove(groupId: string, topic: string, partition: number): void {
    const group = this.groups.get(groupId);
    group?.delete(tpKey(topic, partition));
    if (group?.size === 0) this.groups.delete(groupId);
  }

  /** Forgets a group's offsets (deleted group, unloaded partition); returns what it had. */
  removeGroup(groupId: string): CommittedOffsetEntry[] {
    const had = this.list(groupId);
    this.groups.delete(groupId);
    return had;
  }

  /** Forgets the commits in flight of a group (its partition was unloaded: they are answered already). */
  clearPending(groupId: string): void {
    this.pending.delete(groupId);
  }

  beginPending(groupId: string, partitions: readonly { topic: string; partition: number }[]): void {
    let group = this.pending.get(groupId);
    if (group === undefined) {
      group = new Map();
      this.pending.set(groupId, group);
    }
    for (const { topic, partition } of partitions) {
      const key = tpKey(topic, partition);
      const entry = group.get(key);
      if (entry === undefined) group.set(key, { topic, partition, count: 1 });
      else entry.count++;
    }
  }

  endPending(groupId: string, partitions: readonly { topic: string; partition: number }[]): void {
    const group = this.pending.get(groupId);
    if (group === undefined) return;
    for (const { topic, partition } of partitions) {
      const key = tpKey(topic, partition);
      const entry = group.get(key);
      if (entry === undefined) continue;
      entry.count--;
      if (entry.count <= 0) group.delete(key);
    }
    if (group.size === 0) this.pending.delete(groupId);
  }

  /** Partitions with a commit in flight (a group deletion must write tombstones for them too). */
  pendingPartitions(groupId: string): { topic: string; partition: number }[] {
    return [...(this.pending.get(groupId)?.values() ?? [])].map(({ topic, partition }) => ({ topic, partition }));
  }

  /**
   * The group's offsets that have expired at `nowMs` (none with a commit in flight for their
   * partition): an explicit expireTimestamp when the record had one, else `retentionMs` after the
   * base the group's state gives (ExpiryBase).
   */
  expired(groupId: string, nowMs: number, retentionMs: number, base: ExpiryBase): CommittedOffsetEntry[] {
    if (base.kind === 'never') return [];
    const pending = this.pending.get(groupId);
    return this.list(groupId).filter((e) => {
      if (pending?.has(tpKey(e.topic, e.partition))) return false;
      if (e.expireTimestamp >= 0) return nowMs >= e.expireTimestamp;
      const from = base.kind === 'since' && base.timestampMs !== undefined ? base.timestampMs : e.commitTimestamp;
      return nowMs - from >= retentionMs;
    });
  }
}
