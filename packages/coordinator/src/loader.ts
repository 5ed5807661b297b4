// Rebuilds what one `__consumer_offsets` partition says about its groups, by folding its records
// in log order (Kafka's GroupMetadataManager.doLoadGroupsAndOffsets): the latest record per key
// wins, and a tombstone (null value) deletes its key. A group tombstone removes the group's
// metadata, not its offsets: each offset has its own key and its own tombstone, exactly as
// compaction will see them, so loading a compacted log gives the same answer as loading the
// whole one.

import { TributaryError } from '@tributary/protocol';
import { decodeRecord, type GroupMetadataValue, type OffsetCommitValue } from './records.ts';

export interface LoadedOffset {
  topic: string;
  partition: number;
  value: OffsetCommitValue;
  /** The log offset of the record: a later record for the same key replaces it. */
  recordOffset: number;
}

/** One group as its partition's log leaves it. */
export interface LoadedGroup {
  groupId: string;
  /** Undefined: no metadata record (a group only committing offsets), or its tombstone came last. */
  metadata: GroupMetadataValue | undefined;
  offsets: Map<string, LoadedOffset>;
}

export interface LoadStats {
  records: number;
  tombstones: number;
  /** Records whose key version no coordinator here knows (skipped, as Kafka skips them, KIP-915). */
  unknown: number;
  /**
   * Records that could not be decoded (skipped, and logged by the coordinator): only this
   * coordinator writes to the topic, so one is a bug, but one bad record must not make the
   * partition's groups unservable for ever.
   */
  corrupt: number;
  /** The log offset of the first of them, -1 when none. */
  firstCorruptOffset: number;
}

/** The key of a topic-partition in maps: topic and partition can never collide across the NUL. */
export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class GroupLoader {
  private readonly metadata = new Map<string, GroupMetadataValue | null>();
  private readonly offsets = new Map<string, Map<string, LoadedOffset>>();
  readonly stats: LoadStats = { records: 0, tombstones: 0, unknown: 0, corrupt: 0, firstCorruptOffset: -1 };

  /** Folds one record read at `logOffset`; records must come in log order. */
  apply(key: Buffer | null, value: Buffer | null, logOffset: number): void {
    this.stats.records++;
    let record: ReturnType<typeof decodeRecord>;
    try {
      record = decodeRecord(key, value);
    } catch (err) {
      if (!(err instanceof TributaryError) || err.code !== 'CORRUPT_MESSAGE') throw err;
      this.stats.corrupt++;
      if (this.stats.firstCorruptOffset < 0) this.stats.firstCorruptOffset = logOffset;
      return;
    }
    if (record.type === 'unknown') {
      this.stats.unknown++;
      return;
    }
    if (value === null) this.stats.tombstones++;
    if (record.type === 'group') {
      this.metadata.set(record.groupId, record.value);
      return;
    }
    const key2 = tpKey(record.topic, record.partition);
    if (record.value === null) {
      const group = this.offsets.get(record.groupId);
      group?.delete(key2);
      if (group?.size === 0) this.offsets.delete(record.groupId);
      return;
    }
    let group = this.offsets.get(record.groupId);
    if (group === undefined) {
      group = new Map();
      this.offsets.set(record.groupId, group);
    }
    group.set(key2, { topic: record.topic, partition: record.partition, value: record.value, recordOffset: logOffset });
  }

  /** Every group with metadata or offsets left, in no particular order. */
  groups(): LoadedGroup[] {
    const ids = new Set<string>([...this.offsets.keys()]);
    for (const [id, value] of this.metadata) if (value !== null) ids.add(id);
    return [...ids].map((groupId) => ({
      groupId,
      metadata: this.metadata.get(groupId) ?? undefined,
      offsets: this.offsets.get(groupId) ?? new Map(),
    }));
  }
}
