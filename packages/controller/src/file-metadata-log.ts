// A single-file metadata log: v2 record batches appended to one file, each write fsynced before
// append returns. On open every batch is checked (length, CRC, offsets following on); the first
// bad one ends the log and the torn tail is cut off, so a crash mid-append loses that decision
// whole and nothing else. Used until (or where) the storage package's segment log is not wanted.

import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_OVERHEAD, checkBatchCrc, lastOffsetOf, stampBatch, type BatchHeader } from '@tributary/protocol';
import { METADATA_LEADER_EPOCH, decodeRecordBatches, encodeRecordBatch, type MetadataLog } from './metadata-log.ts';
import type { MetadataRecord } from './records.ts';

export const METADATA_LOG_FILE = 'metadata.log';

export class FileMetadataLog implements MetadataLog {
  private fd: number;
  private readonly contents: Buffer;
  private size: number;
  private nextOffset: number;
  /** Bytes cut off a torn tail at open (for the start-up log line). */
  readonly truncatedBytes: number;

  private constructor(fd: number, contents: Buffer, validBytes: number, nextOffset: number, truncatedBytes: number) {
    this.fd = fd;
    this.contents = contents;
    this.size = validBytes;
    this.nextOffset = nextOffset;
    this.truncatedBytes = truncatedBytes;
  }

  static open(dir: string): FileMetadataLog {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(join(dir, METADATA_LOG_FILE), 'a+');
    const fileSize = fstatSync(fd).size;
    const contents = Buffer.alloc(fileSize);
    let read = 0;
    while (read < fileSize) {
      const n = readSync(fd, contents, read, fileSize - read, read);
      if (n === 0) break;
      read += n;
    }
    let pos = 0;
    let nextOffset = 0;
    while (contents.length - pos >= LOG_OVERHEAD) {
      const size = contents.readInt32BE(pos + 8) + LOG_OVERHEAD;
      if (size <= LOG_OVERHEAD || pos + size > contents.length) break;
      let header: BatchHeader;
      try {
        header = checkBatchCrc(contents.subarray(pos, pos + size));
      } catch {
        break;
      }
      if (header.baseOffset !== nextOffset) break;
      nextOffset = lastOffsetOf(header) + 1;
      pos += size;
    }
    const truncatedBytes = contents.length - pos;
    if (truncatedBytes > 0) {
      ftruncateSync(fd, pos);
      fsyncSync(fd);
    }
    return new FileMetadataLog(fd, contents.subarray(0, pos), pos, nextOffset, truncatedBytes);
  }

  append(records: readonly MetadataRecord[]): void {
    if (records.length === 0) return;
    const batch = encodeRecordBatch(records);
    stampBatch(batch, this.nextOffset, METADATA_LEADER_EPOCH);
    let written = 0;
    while (written < batch.length) {
      written += writeSync(this.fd, batch, written, batch.length - written, this.size + written);
    }
    fsyncSync(this.fd);
    this.size += batch.length;
    this.nextOffset += records.length;
  }

  /** Records present at open; the controller replays once, before appending. */
  replay(): MetadataRecord[] {
    return decodeRecordBatches(this.contents);
  }

  get logEndOffset(): number {
    return this.nextOffset;
  }

  close(): void {
    if (this.fd === -1) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}
