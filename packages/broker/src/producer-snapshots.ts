// Producer-state snapshots (Kafka's `<offset>.snapshot` beside the segments, ProducerStateManager):
// when a log rolls, the idempotent-producer table as of the new segment's base offset is written
// to `<offset, 20 digits>.producer-snapshot` in the partition's directory. Rebuilding the table
// (a replica becoming leader without it) then loads the newest snapshot at or below the log end
// and reads the batch headers only from there — the active segment — instead of the whole log,
// which for a multi-GB partition blocked the event loop for seconds.
//
// A snapshot is one v2 record batch (the CRC covers it) whose base offset is its offset and whose
// one record holds the msgpack of the table. It is a cache: written to a `.tmp` and renamed
// (the log's own load removes a leftover `.tmp`), never fsynced; one that is missing, torn, past
// the log end (the log was truncated below it) or below the log start is skipped, and the
// rebuild reads from an older one or from the log start.

import { existsSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkBatchCrc, decodeBatches, decodeMsgpack, encodeBatch, encodeMsgpack, LOG_OVERHEAD } from '@tributary/protocol';
import type { ProducerSnapshotEntry } from './producer-state.ts';

export const PRODUCER_SNAPSHOT_SUFFIX = '.producer-snapshot';
/** Snapshots kept per partition: the newest covers the most; older ones only stand in for a bad one. */
export const PRODUCER_SNAPSHOTS_KEPT = 2;

function fileName(offset: number): string {
  return `${String(offset).padStart(20, '0')}${PRODUCER_SNAPSHOT_SUFFIX}`;
}

export function encodeProducerSnapshot(offset: number, entries: readonly ProducerSnapshotEntry[]): Buffer {
  return encodeBatch([{ key: null, value: encodeMsgpack(entries), timestamp: 0 }], { baseOffset: offset, baseTimestamp: 0 });
}

/** Throws unless `bytes` are exactly one whole, intact snapshot batch at `offset`. */
export function decodeProducerSnapshot(bytes: Buffer, offset: number): ProducerSnapshotEntry[] {
  const header = checkBatchCrc(bytes);
  if (header.batchLength + LOG_OVERHEAD !== bytes.length || header.baseOffset !== offset) throw new Error('producer snapshot does not match its file');
  const records = decodeBatches(bytes);
  const value = records[0]?.value;
  if (records.length !== 1 || value === null || value === undefined) throw new Error('producer snapshot holds no table');
  const entries = decodeMsgpack(value) as ProducerSnapshotEntry[];
  if (!Array.isArray(entries)) throw new Error('producer snapshot holds no table');
  return entries;
}

/** The snapshot offsets in `dir`, newest first. */
export function producerSnapshotOffsets(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /^\d{20}\.producer-snapshot$/.test(n))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => b - a);
}

/** Writes the snapshot at `offset` (temp file, rename) and removes all but the newest PRODUCER_SNAPSHOTS_KEPT. */
export function writeProducerSnapshot(dir: string, offset: number, entries: readonly ProducerSnapshotEntry[]): void {
  const final = join(dir, fileName(offset));
  const tmp = `${final}.tmp`;
  writeFileSync(tmp, encodeProducerSnapshot(offset, entries));
  renameSync(tmp, final);
  for (const old of producerSnapshotOffsets(dir).slice(PRODUCER_SNAPSHOTS_KEPT)) unlinkSync(join(dir, fileName(old)));
}

/**
 * The newest readable snapshot in [minOffset, maxOffset], or undefined. Snapshots past
 * `maxOffset` (the log was truncated below them) are removed.
 */
export function loadProducerSnapshot(dir: string, minOffset: number, maxOffset: number): { offset: number; entries: ProducerSnapshotEntry[] } | undefined {
  for (const offset of producerSnapshotOffsets(dir)) {
    const path = join(dir, fileName(offset));
    if (offset > maxOffset) {
      unlinkSync(path);
      continue;
    }
    if (offset < minOffset) return undefined;
    try {
      return { offset, entries: decodeProducerSnapshot(readFileSync(path), offset) };
    } catch {
      // Torn or damaged: an older one, or the log itself, stands in.
    }
  }
  return undefined;
}
