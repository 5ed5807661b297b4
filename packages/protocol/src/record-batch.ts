// Record batches in Kafka's v2 ("magic 2") layout: the same bytes on disk and on the wire.
//
//  offset  size  field                 notes
//  ------  ----  --------------------  ---------------------------------------------------------
//       0     8  baseOffset            stamped by the leader on append (producers send 0)
//       8     4  batchLength           bytes after this field (total size - 12)
//      12     4  partitionLeaderEpoch  stamped by the leader on append
//      16     1  magic                 always 2
//      17     4  crc                   CRC-32C of bytes [21, end): baseOffset and epoch lie outside
//      21     2  attributes            compression (bits 0-2: none gzip snappy lz4 zstd), timestamp type (3),
//                                      transactional (4), control (5), delete horizon (6, KIP-534)
//      23     4  lastOffsetDelta       offset of the last record minus baseOffset
//      27     8  baseTimestamp         ms since the epoch; with attribute bit 6, the delete horizon
//      35     8  maxTimestamp
//      43     8  producerId            -1 when not idempotent
//      51     2  producerEpoch
//      53     4  baseSequence          idempotent producer's sequence of the first record
//      57     4  recordCount
//      61     …  records
//
// Each record: length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
// keyLength varint (-1 = null), key, valueLength varint (-1 = null), value, headerCount varint,
// then per header: keyLength varint, key (UTF-8), valueLength varint (-1 = null), value.
// All integers in the header are big-endian; every varint is zig-zag encoded.
//
// A batch the log cleaner rewrote (storage's cleaner.ts) keeps its baseOffset, lastOffsetDelta,
// partitionLeaderEpoch and producer fields, so its records' offsets may skip (a record's offset is
// baseOffset + its offsetDelta), it may hold no records at all, and lastOffsetDelta may exceed the
// last record's delta. Readers take offsets from the records and resume at lastOffset + 1.

import { crc32c } from '@node-rs/crc32';
import { codecId, codecOf, compress, decompress, type CompressionCodec } from './compression.ts';
import { TributaryError } from './errors.ts';
import { readVarint, varintSize, writeVarint, type VarintCursor } from './varint.ts';

export const BATCH_HEADER_SIZE = 61;
/** baseOffset + batchLength: the bytes that precede what batchLength counts. */
export const LOG_OVERHEAD = 12;
export const MAGIC_V2 = 2;
export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;
/**
 * Attribute bit 6 (KIP-534): baseTimestamp holds the batch's delete horizon, the time after which
 * the cleaner drops its tombstones; record timestamps stay baseTimestamp + their delta.
 */
export const DELETE_HORIZON_FLAG = 0x40;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;

const BASE_OFFSET = 0;
const BATCH_LENGTH = 8;
const PARTITION_LEADER_EPOCH = 12;
const MAGIC = 16;
const CRC = 17;
const ATTRIBUTES = 21;
const LAST_OFFSET_DELTA = 23;
const BASE_TIMESTAMP = 27;
const MAX_TIMESTAMP = 35;
const PRODUCER_ID = 43;
const PRODUCER_EPOCH = 51;
const BASE_SEQUENCE = 53;
const RECORD_COUNT = 57;

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** What a producer hands in. */
export interface RecordInput {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: readonly RecordHeader[];
  /** ms since the epoch; defaults to the batch's base timestamp. */
  timestamp?: number;
}

/** A record read back from a batch, with its absolute offset and timestamp. */
export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface BatchHeader {
  baseOffset: number;
  /** Bytes after the batchLength field; the whole batch is batchLength + LOG_OVERHEAD. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export interface BatchOptions {
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  /** Defaults to the first record's timestamp, or now. */
  baseTimestamp?: number;
  /** The records section's codec (compression.ts); default none. */
  compression?: CompressionCodec;
}

function corrupt(check: string): TributaryError {
  return new TributaryError('CORRUPT_MESSAGE', `record batch is corrupt: ${check}`);
}

/** Total size in bytes of the batch starting at `pos`, read from its header. */
export function batchSizeAt(buf: Buffer, pos = 0): number {
  if (buf.length - pos < LOG_OVERHEAD) {
    throw corrupt(`truncated: ${buf.length - pos} bytes, fewer than the ${LOG_OVERHEAD}-byte log overhead`);
  }
  return buf.readInt32BE(pos + BATCH_LENGTH) + LOG_OVERHEAD;
}

/**
 * Reads a batch's header fields without decoding its records. Checks only that the header is
 * complete and the magic is 2; use `validateBatch` for the CRC and the records.
 */
export function readBatchHeader(buf: Buffer, pos = 0): BatchHeader {
  if (buf.length - pos < BATCH_HEADER_SIZE) {
    throw corrupt(`truncated: ${buf.length - pos} bytes, fewer than the ${BATCH_HEADER_SIZE}-byte batch header`);
  }
  const magic = buf.readInt8(pos + MAGIC);
  if (magic !== MAGIC_V2) {
    throw corrupt(`wrong magic ${magic}, expected ${MAGIC_V2}`);
  }
  return {
    baseOffset: Number(buf.readBigInt64BE(pos + BASE_OFFSET)),
    batchLength: buf.readInt32BE(pos + BATCH_LENGTH),
    partitionLeaderEpoch: buf.readInt32BE(pos + PARTITION_LEADER_EPOCH),
    magic,
    crc: buf.readUInt32BE(pos + CRC),
    attributes: buf.readInt16BE(pos + ATTRIBUTES),
    lastOffsetDelta: buf.readInt32BE(pos + LAST_OFFSET_DELTA),
    baseTimestamp: Number(buf.readBigInt64BE(pos + BASE_TIMESTAMP)),
    maxTimestamp: Number(buf.readBigInt64BE(pos + MAX_TIMESTAMP)),
    producerId: Number(buf.readBigInt64BE(pos + PRODUCER_ID)),
    producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH),
    baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE),
    recordCount: buf.readInt32BE(pos + RECORD_COUNT),
  };
}

/** Offset of the batch's last record. */
export function lastOffsetOf(header: BatchHeader): number {
  return header.baseOffset + header.lastOffsetDelta;
}

/**
 * Stamps a new base offset and leader epoch into an encoded batch in place. Both fields lie
 * outside the CRC, so the batch stays valid.
 */
export function stampBatch(buf: Buffer, baseOffset: number, partitionLeaderEpoch: number, pos = 0): void {
  buf.writeBigInt64BE(BigInt(baseOffset), pos + BASE_OFFSET);
  buf.writeInt32BE(partitionLeaderEpoch, pos + PARTITION_LEADER_EPOCH);
}

/**
 * Checks everything a broker must check before it writes a batch: the header is whole, the
 * length matches the bytes, the magic is 2, the CRC matches, and the records fill the batch
 * exactly with as many records as the header says. Throws CORRUPT_MESSAGE naming the failed
 * check. `buf` must hold exactly one batch.
 */
export function validateBatch(buf: Buffer, options: { keysRequired?: boolean } = {}): BatchHeader {
  const header = readBatchHeader(buf);
  const size = header.batchLength + LOG_OVERHEAD;
  if (size !== buf.length) {
    throw corrupt(`batchLength says ${size} bytes but the batch has ${buf.length}`);
  }
  const crc = crc32c(buf.subarray(ATTRIBUTES));
  if (crc !== header.crc) {
    throw corrupt(`CRC mismatch: header says ${header.crc}, bytes give ${crc}`);
  }
  if (header.recordCount < 0 || header.lastOffsetDelta < 0) {
    throw corrupt(`negative recordCount ${header.recordCount} or lastOffsetDelta ${header.lastOffsetDelta}`);
  }
  // A compressed batch is stored as it came; its records are checked decompressed (Kafka's LogValidator).
  const view = uncompressedView(buf, header);
  const { count, lastOffsetDelta, nullKeys } = checkRecords(view.buf, view.header);
  if (options.keysRequired && nullKeys > 0) {
    // Kafka's LogValidator: a compacted log keeps the latest record per key, so a record without
    // one could never be kept or replaced.
    throw new TributaryError(
      'INVALID_RECORD',
      `${nullKeys} of ${count} records have no key; a compacted topic (cleanup.policy=compact) needs one on every record`,
    );
  }
  if (count !== header.recordCount) {
    throw corrupt(`recordCount says ${header.recordCount} but the batch holds ${count} records`);
  }
  if (count > 0 && lastOffsetDelta !== header.lastOffsetDelta) {
    throw corrupt(`lastOffsetDelta says ${header.lastOffsetDelta} but the last record has delta ${lastOffsetDelta}`);
  }
  return header;
}

/** Checks only the length and the CRC: what a follower or a recovering log needs. */
export function checkBatchCrc(buf: Buffer, pos = 0): BatchHeader {
  const header = readBatchHeader(buf, pos);
  const size = header.batchLength + LOG_OVERHEAD;
  if (header.batchLength < BATCH_HEADER_SIZE - LOG_OVERHEAD || pos + size > buf.length) {
    throw corrupt(`batchLength ${header.batchLength} disagrees with the ${buf.length - pos} bytes available`);
  }
  const crc = crc32c(buf.subarray(pos + ATTRIBUTES, pos + size));
  if (crc !== header.crc) {
    throw corrupt(`CRC mismatch: header says ${header.crc}, bytes give ${crc}`);
  }
  return header;
}

/** Decodes every record of one batch (which must be exactly `buf`). Validates first. */
export function decodeBatch(buf: Buffer): { header: BatchHeader; records: DecodedRecord[] } {
  const header = validateBatch(buf);
  const records: DecodedRecord[] = [];
  forEachRecord(buf, header, (record) => records.push(record));
  return { header, records };
}

/**
 * Walks the records of one batch, calling `visit` for each. Every length is checked against the
 * record's own length and the batch's end, so corrupt bytes give CORRUPT_MESSAGE.
 */
export function forEachRecord(buf: Buffer, header: BatchHeader, visit: (record: DecodedRecord) => void, start = 0): void {
  if ((header.attributes & 0x07) !== 0) {
    const view = uncompressedView(buf.subarray(start, start + header.batchLength + LOG_OVERHEAD), header);
    return forEachRecord(view.buf, view.header, visit, 0);
  }
  const end = start + header.batchLength + LOG_OVERHEAD;
  if (end > buf.length) throw corrupt('truncated: records run past the end of the buffer');
  const cursor: VarintCursor = { value: 0, pos: start + BATCH_HEADER_SIZE };
  while (cursor.pos < end) {
    readVarint(buf, end, cursor);
    const length = cursor.value;
    const recordEnd = cursor.pos + length;
    if (length < 6 || recordEnd > end) {
      throw corrupt(`record length ${length} does not fit in the batch`);
    }
    cursor.pos += 1; // attributes, unused in v2
    readVarint(buf, recordEnd, cursor);
    const timestamp = header.baseTimestamp + cursor.value;
    readVarint(buf, recordEnd, cursor);
    const offset = header.baseOffset + cursor.value;
    const key = readNullableBytes(buf, recordEnd, cursor);
    const value = readNullableBytes(buf, recordEnd, cursor);
    readVarint(buf, recordEnd, cursor);
    const headerCount = cursor.value;
    if (headerCount < 0) throw corrupt(`negative header count ${headerCount}`);
    const headers: RecordHeader[] = [];
    for (let i = 0; i < headerCount; i++) {
      const hkey = readNullableBytes(buf, recordEnd, cursor);
      if (hkey === null) throw corrupt('record header with a null key');
      headers.push({ key: hkey.toString('utf8'), value: readNullableBytes(buf, recordEnd, cursor) });
    }
    if (cursor.pos !== recordEnd) {
      throw corrupt(`record length ${length} disagrees with its fields (${cursor.pos - (recordEnd - length)} bytes)`);
    }
    visit({ offset, timestamp, key, value, headers });
  }
}

/**
 * A batch whose records section is decompressed: `buf` itself when it is not compressed, else a
 * new buffer of the same header (attributes' codec bits cleared, batchLength the new size; the
 * CRC is the original's and no longer matches) followed by the decompressed records. For reading
 * records only: what is stored and served stays the batch as it came.
 */
export function uncompressedView(buf: Buffer, header: BatchHeader): { buf: Buffer; header: BatchHeader } {
  const codec = codecOf(header.attributes);
  if (codec === 'none') return { buf, header };
  const records = decompress(codec, buf.subarray(BATCH_HEADER_SIZE, header.batchLength + LOG_OVERHEAD));
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + records.length);
  buf.copy(out, 0, 0, BATCH_HEADER_SIZE);
  records.copy(out, BATCH_HEADER_SIZE);
  const batchLength = out.length - LOG_OVERHEAD;
  const attributes = header.attributes & ~0x07;
  out.writeInt32BE(batchLength, BATCH_LENGTH);
  out.writeInt16BE(attributes, ATTRIBUTES);
  return { buf: out, header: { ...header, batchLength, attributes } };
}

/** The batch's compression codec. */
export function batchCompression(header: BatchHeader): CompressionCodec {
  return codecOf(header.attributes);
}

/**
 * Walks the records' structure without decoding them (no allocation per record: this runs on
 * every produced batch). Checks the same lengths `forEachRecord` checks.
 */
function checkRecords(buf: Buffer, header: BatchHeader): { count: number; lastOffsetDelta: number; nullKeys: number } {
  const end = header.batchLength + LOG_OVERHEAD;
  const cursor: VarintCursor = { value: 0, pos: BATCH_HEADER_SIZE };
  let count = 0;
  let lastOffsetDelta = -1;
  let nullKeys = 0;
  while (cursor.pos < end) {
    readVarint(buf, end, cursor);
    const length = cursor.value;
    const recordEnd = cursor.pos + length;
    if (length < 6 || recordEnd > end) throw corrupt(`record length ${length} does not fit in the batch`);
    cursor.pos += 1;
    readVarint(buf, recordEnd, cursor); // timestamp delta
    readVarint(buf, recordEnd, cursor);
    lastOffsetDelta = cursor.value;
    if (skipNullableBytes(buf, recordEnd, cursor) < 0) nullKeys++; // key
    skipNullableBytes(buf, recordEnd, cursor); // value
    readVarint(buf, recordEnd, cursor);
    const headerCount = cursor.value;
    if (headerCount < 0) throw corrupt(`negative header count ${headerCount}`);
    for (let i = 0; i < headerCount; i++) {
      readVarint(buf, recordEnd, cursor);
      if (cursor.value < 0) throw corrupt('record header with a null key');
      cursor.pos += cursor.value;
      if (cursor.pos > recordEnd) throw corrupt('record header key runs past its record');
      skipNullableBytes(buf, recordEnd, cursor);
    }
    if (cursor.pos !== recordEnd) {
      throw corrupt(`record length ${length} disagrees with its fields`);
    }
    if (lastOffsetDelta !== count) throw corrupt(`record ${count} has offset delta ${lastOffsetDelta}`);
    count++;
  }
  return { count, lastOffsetDelta, nullKeys };
}

/** Skips a nullable field; returns its length (-1 for null). */
function skipNullableBytes(buf: Buffer, end: number, cursor: VarintCursor): number {
  readVarint(buf, end, cursor);
  const length = cursor.value;
  if (length < -1) throw corrupt(`negative length ${length}`);
  if (length > 0) {
    if (cursor.pos + length > end) throw corrupt(`field of ${length} bytes runs past its record`);
    cursor.pos += length;
  }
  return length;
}

function readNullableBytes(buf: Buffer, end: number, cursor: VarintCursor): Buffer | null {
  readVarint(buf, end, cursor);
  const length = cursor.value;
  if (length < -1) throw corrupt(`negative length ${length}`);
  if (length === -1) return null;
  if (cursor.pos + length > end) throw corrupt(`field of ${length} bytes runs past its record`);
  const bytes = buf.subarray(cursor.pos, cursor.pos + length);
  cursor.pos += length;
  return bytes;
}

function nullableSize(bytes: Buffer | null | undefined): number {
  return bytes == null ? varintSize(-1) : varintSize(bytes.length) + bytes.length;
}

function writeNullable(buf: Buffer, pos: number, bytes: Buffer | null | undefined): number {
  if (bytes == null) return writeVarint(buf, pos, -1);
  pos = writeVarint(buf, pos, bytes.length);
  // TypedArray#set, not Buffer#copy: copy's argument checks cost more than a 100-byte copy.
  buf.set(bytes, pos);
  return pos + bytes.length;
}

/**
 * Builds one batch record by record into a growing buffer, so a producer can batch without
 * re-encoding: `append` writes the record's bytes once, `build` fills in the header and CRC.
 */
export class BatchBuilder {
  private buf: Buffer;
  private pos = BATCH_HEADER_SIZE;
  private count = 0;
  private maxTimestamp = -1;
  readonly baseTimestamp: number;

  constructor(baseTimestamp: number, initialCapacity = 1024) {
    this.baseTimestamp = baseTimestamp;
    this.buf = Buffer.allocUnsafe(Math.max(initialCapacity, BATCH_HEADER_SIZE + 64));
  }

  get recordCount(): number {
    return this.count;
  }

  /** Bytes the batch would take if built now. */
  get sizeInBytes(): number {
    return this.pos;
  }

  /** Bytes `record` would add. */
  static recordSize(record: RecordInput, timestampDelta = 0, offsetDelta = 0): number {
    const body = BatchBuilder.bodySize(record, timestampDelta, offsetDelta);
    return varintSize(body) + body;
  }

  private static bodySize(record: RecordInput, timestampDelta: number, offsetDelta: number): number {
    let size = 1 + varintSize(timestampDelta) + varintSize(offsetDelta) + nullableSize(record.key) + nullableSize(record.value);
    const headers = record.headers ?? [];
    size += varintSize(headers.length);
    for (const h of headers) {
      const keyLength = Buffer.byteLength(h.key, 'utf8');
      size += varintSize(keyLength) + keyLength + nullableSize(h.value);
    }
    return size;
  }

  append(record: RecordInput): void {
    const timestamp = record.timestamp ?? this.baseTimestamp;
    const timestampDelta = timestamp - this.baseTimestamp;
    const offsetDelta = this.count;
    const body = BatchBuilder.bodySize(record, timestampDelta, offsetDelta);
    this.ensure(varintSize(body) + body);
    const buf = this.buf;
    let pos = writeVarint(buf, this.pos, body);
    buf[pos++] = 0;
    pos = writeVarint(buf, pos, timestampDelta);
    pos = writeVarint(buf, pos, offsetDelta);
    pos = writeNullable(buf, pos, record.key);
    pos = writeNullable(buf, pos, record.value);
    const headers = record.headers ?? [];
    pos = writeVarint(buf, pos, headers.length);
    for (const h of headers) {
      pos = writeNullable(buf, pos, Buffer.from(h.key, 'utf8'));
      pos = writeNullable(buf, pos, h.value);
    }
    this.pos = pos;
    this.count++;
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + extra));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Writes the header and CRC and returns the batch (a view of the builder's buffer). */
  build(options: BatchOptions = {}): Buffer {
    const codec = options.compression ?? 'none';
    let buf = this.buf.subarray(0, this.pos);
    if (codec !== 'none') {
      const records = compress(codec, buf.subarray(BATCH_HEADER_SIZE));
      buf = Buffer.allocUnsafe(BATCH_HEADER_SIZE + records.length);
      records.copy(buf, BATCH_HEADER_SIZE);
    }
    buf.writeBigInt64BE(BigInt(options.baseOffset ?? 0), BASE_OFFSET);
    buf.writeInt32BE(buf.length - LOG_OVERHEAD, BATCH_LENGTH);
    buf.writeInt32BE(options.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH, PARTITION_LEADER_EPOCH);
    buf.writeInt8(MAGIC_V2, MAGIC);
    buf.writeInt16BE(codecId(codec), ATTRIBUTES);
    buf.writeInt32BE(Math.max(this.count - 1, 0), LAST_OFFSET_DELTA);
    buf.writeBigInt64BE(BigInt(this.baseTimestamp), BASE_TIMESTAMP);
    buf.writeBigInt64BE(BigInt(this.count === 0 ? this.baseTimestamp : this.maxTimestamp), MAX_TIMESTAMP);
    buf.writeBigInt64BE(BigInt(options.producerId ?? NO_PRODUCER_ID), PRODUCER_ID);
    buf.writeInt16BE(options.producerEpoch ?? NO_PRODUCER_EPOCH, PRODUCER_EPOCH);
    buf.writeInt32BE(options.baseSequence ?? NO_SEQUENCE, BASE_SEQUENCE);
    buf.writeInt32BE(this.count, RECORD_COUNT);
    buf.writeUInt32BE(crc32c(buf.subarray(ATTRIBUTES)), CRC);
    return buf;
  }
}

/** Encodes records into one batch. */
export function encodeBatch(records: readonly RecordInput[], options: BatchOptions = {}): Buffer {
  const baseTimestamp = options.baseTimestamp ?? records[0]?.timestamp ?? Date.now();
  const builder = new BatchBuilder(baseTimestamp);
  for (const record of records) builder.append(record);
  return builder.build(options);
}

/**
 * Splits a buffer of concatenated batches (a fetch answer, a segment's bytes) into whole
 * batches, each a view of `buf`. A trailing partial batch is ignored, as Kafka's consumers do.
 */
export function* iterateBatches(buf: Buffer): Generator<Buffer> {
  let pos = 0;
  while (buf.length - pos >= LOG_OVERHEAD) {
    const size = buf.readInt32BE(pos + BATCH_LENGTH) + LOG_OVERHEAD;
    if (size < BATCH_HEADER_SIZE) throw corrupt(`batchLength ${size - LOG_OVERHEAD} is below the header size`);
    if (pos + size > buf.length) return;
    yield buf.subarray(pos, pos + size);
    pos += size;
  }
}

/** Decodes every record of a buffer of concatenated batches (as a consumer receives them). */
export function decodeBatches(buf: Buffer): DecodedRecord[] {
  const records: DecodedRecord[] = [];
  for (const batch of iterateBatches(buf)) {
    const header = checkBatchCrc(batch);
    forEachRecord(batch, header, (record) => records.push(record));
  }
  return records;
}

// ------------------------------------------------------------------ log compaction

/** The delete horizon a cleaned batch carries (KIP-534), or undefined. */
export function deleteHorizonOf(header: BatchHeader): number | undefined {
  return (header.attributes & DELETE_HORIZON_FLAG) !== 0 ? header.baseTimestamp : undefined;
}

/**
 * Where one record lies in its batch, and the facts the log cleaner decides on, without copying
 * anything. `forEachRecordSpan` reuses one object for every record: copy what you keep.
 */
export interface RecordSpan {
  offset: number;
  timestamp: number;
  /** The record's first byte (its length varint) and the byte after it. */
  start: number;
  end: number;
  /** The record's attributes byte. */
  attributesAt: number;
  /** Where the key's length varint starts: key, value and headers run from here to `end`. */
  keyLengthAt: number;
  /** The key's bytes [keyStart, keyStart + keyLength); keyLength -1 for a null key. */
  keyStart: number;
  keyLength: number;
  /** -1 for a null value: with a key, a tombstone. */
  valueLength: number;
}

/**
 * Walks the records of one batch (at `start` in `buf`) like `forEachRecord`, with the same length
 * checks, but hands out where each record lies instead of decoding it: the cleaner reads keys in
 * place and copies kept records byte for byte.
 */
export function forEachRecordSpan(buf: Buffer, header: BatchHeader, visit: (span: RecordSpan) => void, start = 0): void {
  const end = start + header.batchLength + LOG_OVERHEAD;
  if (end > buf.length) throw corrupt('truncated: records run past the end of the buffer');
  const cursor: VarintCursor = { value: 0, pos: start + BATCH_HEADER_SIZE };
  const span: RecordSpan = { offset: 0, timestamp: 0, start: 0, end: 0, attributesAt: 0, keyLengthAt: 0, keyStart: 0, keyLength: -1, valueLength: -1 };
  while (cursor.pos < end) {
    span.start = cursor.pos;
    readVarint(buf, end, cursor);
    const length = cursor.value;
    const recordEnd = cursor.pos + length;
    if (length < 6 || recordEnd > end) throw corrupt(`record length ${length} does not fit in the batch`);
    span.attributesAt = cursor.pos;
    cursor.pos += 1;
    readVarint(buf, recordEnd, cursor);
    span.timestamp = header.baseTimestamp + cursor.value;
    readVarint(buf, recordEnd, cursor);
    span.offset = header.baseOffset + cursor.value;
    span.keyLengthAt = cursor.pos;
    span.keyLength = skipNullableBytes(buf, recordEnd, cursor);
    span.keyStart = cursor.pos - Math.max(span.keyLength, 0);
    span.valueLength = skipNullableBytes(buf, recordEnd, cursor);
    readVarint(buf, recordEnd, cursor);
    const headerCount = cursor.value;
    if (headerCount < 0) throw corrupt(`negative header count ${headerCount}`);
    for (let i = 0; i < headerCount; i++) {
      if (skipNullableBytes(buf, recordEnd, cursor) < 0) throw corrupt('record header with a null key');
      skipNullableBytes(buf, recordEnd, cursor);
    }
    if (cursor.pos !== recordEnd) throw corrupt(`record length ${length} disagrees with its fields`);
    span.end = recordEnd;
    visit(span);
  }
}

/** A kept record, copied out of a RecordSpan. */
export interface KeptRecord {
  offset: number;
  timestamp: number;
  start: number;
  end: number;
  attributesAt: number;
  keyLengthAt: number;
}

export interface RebuildOptions {
  /** The batch's new lastOffsetDelta; default its own (the cleaner keeps it, as Kafka does). */
  lastOffsetDelta?: number;
  /**
   * Stamp this delete horizon (KIP-534): baseTimestamp becomes it and every kept record's
   * timestamp delta is re-encoded against it.
   */
  deleteHorizonMs?: number;
  /**
   * Drop the producer fields (id, epoch, sequence, transactional): for a batch that only holds
   * offsets in place of batches the cleaner removed.
   */
  clearProducer?: boolean;
  /**
   * Compress the kept records with this codec (`batch` must then be an uncompressedView): the
   * cleaner rewrites a compressed batch in its own codec, as Kafka's does. An empty result stays
   * an uncompressed bare header.
   */
  compression?: CompressionCodec;
}

/**
 * A new batch with only `kept` of `batch`'s records (in order), its header otherwise kept:
 * baseOffset, partitionLeaderEpoch, producer id, epoch and base sequence, and lastOffsetDelta
 * unless told otherwise, so offsets and sequence numbers mean what they meant (Kafka's
 * MemoryRecords.filterTo with overrideLastOffset). recordCount, maxTimestamp, length and CRC are
 * recomputed. Kept records are copied byte for byte, unless a new delete horizon moves the base
 * their timestamp deltas count from. An empty result is a bare header whose timestamps are the
 * old maxTimestamp, as Kafka's writeEmptyHeader writes.
 */
export function rebuildBatch(batch: Buffer, header: BatchHeader, kept: readonly KeptRecord[], options: RebuildOptions = {}): Buffer {
  const horizon = kept.length > 0 ? options.deleteHorizonMs : undefined;
  const baseTimestamp = horizon ?? (kept.length === 0 ? header.maxTimestamp : header.baseTimestamp);
  let bodySize = 0;
  let maxTimestamp = -1;
  for (const r of kept) {
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
    if (horizon === undefined) {
      bodySize += r.end - r.start;
    } else {
      const inner = 1 + varintSize(r.timestamp - horizon) + varintSize(r.offset - header.baseOffset) + (r.end - r.keyLengthAt);
      bodySize += varintSize(inner) + inner;
    }
  }
  if (kept.length === 0) maxTimestamp = header.maxTimestamp;
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + bodySize);
  batch.copy(out, 0, 0, BATCH_HEADER_SIZE);
  let pos = BATCH_HEADER_SIZE;
  for (const r of kept) {
    if (horizon === undefined) {
      out.set(batch.subarray(r.start, r.end), pos);
      pos += r.end - r.start;
      continue;
    }
    const timestampDelta = r.timestamp - horizon;
    const offsetDelta = r.offset - header.baseOffset;
    const inner = 1 + varintSize(timestampDelta) + varintSize(offsetDelta) + (r.end - r.keyLengthAt);
    pos = writeVarint(out, pos, inner);
    out[pos++] = batch[r.attributesAt]!;
    pos = writeVarint(out, pos, timestampDelta);
    pos = writeVarint(out, pos, offsetDelta);
    out.set(batch.subarray(r.keyLengthAt, r.end), pos);
    pos += r.end - r.keyLengthAt;
  }
  let attributes = header.attributes;
  if (horizon !== undefined) attributes |= DELETE_HORIZON_FLAG;
  if (kept.length === 0) attributes &= ~DELETE_HORIZON_FLAG;
  if (options.clearProducer) attributes &= ~(TRANSACTIONAL_FLAG | CONTROL_FLAG);
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH_LENGTH);
  out.writeInt16BE(attributes, ATTRIBUTES);
  out.writeInt32BE(options.lastOffsetDelta ?? header.lastOffsetDelta, LAST_OFFSET_DELTA);
  out.writeBigInt64BE(BigInt(baseTimestamp), BASE_TIMESTAMP);
  out.writeBigInt64BE(BigInt(maxTimestamp), MAX_TIMESTAMP);
  if (options.clearProducer) {
    out.writeBigInt64BE(BigInt(NO_PRODUCER_ID), PRODUCER_ID);
    out.writeInt16BE(NO_PRODUCER_EPOCH, PRODUCER_EPOCH);
    out.writeInt32BE(NO_SEQUENCE, BASE_SEQUENCE);
  }
  out.writeInt32BE(kept.length, RECORD_COUNT);
  if (options.compression !== undefined && options.compression !== 'none' && kept.length > 0) {
    const body = compress(options.compression, out.subarray(BATCH_HEADER_SIZE));
    const packed = Buffer.allocUnsafe(BATCH_HEADER_SIZE + body.length);
    out.copy(packed, 0, 0, BATCH_HEADER_SIZE);
    body.copy(packed, BATCH_HEADER_SIZE);
    packed.writeInt32BE(packed.length - LOG_OVERHEAD, BATCH_LENGTH);
    packed.writeInt16BE((attributes & ~0x07) | codecId(options.compression), ATTRIBUTES);
    packed.writeUInt32BE(crc32c(packed.subarray(ATTRIBUTES)), CRC);
    return packed;
  }
  out.writeUInt32BE(crc32c(out.subarray(ATTRIBUTES)), CRC);
  return out;
}

/**
 * Sets the lastOffsetDelta of the batch that is exactly `buf` and recomputes its CRC, in place:
 * the cleaner stretches a kept batch over the offsets of batches it removed after it.
 */
export function setLastOffsetDelta(buf: Buffer, lastOffsetDelta: number): void {
  const size = batchSizeAt(buf);
  if (size !== buf.length) throw corrupt(`batchLength says ${size} bytes but the batch has ${buf.length}`);
  buf.writeInt32BE(lastOffsetDelta, LAST_OFFSET_DELTA);
  buf.writeUInt32BE(crc32c(buf.subarray(ATTRIBUTES)), CRC);
}
