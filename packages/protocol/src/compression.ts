// Record batch compression (attributes bits 0-2): what Kafka's producers send and Kafka's brokers
// store as they came. The broker decompresses only to validate (as Kafka's LogValidator does) and
// serves the bytes it stored; readers (the bundled consumer, the log's timestamp search)
// decompress to walk the records. Codecs: gzip and zstd from Node's zlib; snappy (with the
// xerial/snappy-java framing Kafka's JVM clients and librdkafka write, or raw) from `snappy`;
// lz4 frames (Kafka's format since message format v1, KIP-57) from `lz4-napi`.
//
// Decompression is bounded: a batch may not expand past DECOMPRESSED_BYTES_MAX (CORRUPT_MESSAGE
// otherwise), checked before the output is allocated where the format says how large it will be
// (snappy's and lz4's block headers) and by zlib's maxOutputLength for gzip and zstd.

import { constants, gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { compressSync as snappyCompress, uncompressSync as snappyUncompress } from 'snappy';
import { TributaryError } from './errors.ts';

export const COMPRESSION_CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionCodec = (typeof COMPRESSION_CODECS)[number];

/** The most one batch's records may expand to (Kafka's default max.message.bytes is 1 MiB compressed). */
export const DECOMPRESSED_BYTES_MAX = 256 * 1024 * 1024;

function corrupt(codec: string, detail: string): TributaryError {
  return new TributaryError('CORRUPT_MESSAGE', `record batch is corrupt: its ${codec} records do not decompress: ${detail}`);
}

export function codecOf(attributes: number): CompressionCodec {
  const id = attributes & 0x07;
  const codec = COMPRESSION_CODECS[id];
  if (codec === undefined) throw new TributaryError('CORRUPT_MESSAGE', `record batch is corrupt: unknown compression codec ${id}`);
  return codec;
}

export function codecId(codec: CompressionCodec): number {
  return COMPRESSION_CODECS.indexOf(codec);
}

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
/** xerial framing: magic (8), version (4), compatible version (4), then [int32 length][snappy block] ... */
const XERIAL_HEADER_BYTES = 16;
const XERIAL_BLOCK_BYTES = 32 * 1024;

/** Snappy's uncompressed length: the varint at the start of a raw block. */
function snappyLength(block: Buffer): number {
  let value = 0;
  for (let i = 0, shift = 0; i < 5 && i < block.length; i++, shift += 7) {
    const b = block[i]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return value;
  }
  throw corrupt('snappy', 'bad length header');
}

function snappyDecompress(data: Buffer): Buffer {
  const blocks: Buffer[] = [];
  if (data.length >= XERIAL_HEADER_BYTES && data.subarray(0, 8).equals(XERIAL_MAGIC)) {
    for (let pos = XERIAL_HEADER_BYTES; pos < data.length; ) {
      if (pos + 4 > data.length) throw corrupt('snappy', 'truncated xerial block header');
      const size = data.readInt32BE(pos);
      pos += 4;
      if (size < 0 || pos + size > data.length) throw corrupt('snappy', `xerial block of ${size} bytes runs past the data`);
      blocks.push(data.subarray(pos, pos + size));
      pos += size;
    }
  } else blocks.push(data);
  let total = 0;
  for (const b of blocks) total += snappyLength(b);
  if (total > DECOMPRESSED_BYTES_MAX) throw corrupt('snappy', `would expand to ${total} bytes, past ${DECOMPRESSED_BYTES_MAX}`);
  const out = blocks.map((b) => snappyUncompress(b) as Buffer);
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}

const LZ4_MAGIC = 0x184d2204;
const LZ4_BLOCK_MAX = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

/** An LZ4 frame's largest possible output, from its descriptor and block headers. */
function lz4Bound(data: Buffer): number {
  if (data.length < 7 || data.readUInt32LE(0) !== LZ4_MAGIC) throw corrupt('lz4', 'not an LZ4 frame');
  const flg = data[4]!;
  const bd = data[5]!;
  const blockMax = LZ4_BLOCK_MAX[(bd >> 4) & 0x07] ?? 0;
  if (blockMax === 0) throw corrupt('lz4', 'bad block size in the frame descriptor');
  const blockChecksum = (flg & 0x10) !== 0;
  let pos = 4 + 2 + ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0) + 1;
  let bound = 0;
  for (;;) {
    if (pos + 4 > data.length) throw corrupt('lz4', 'truncated block header');
    const word = data.readUInt32LE(pos);
    pos += 4;
    if (word === 0) return bound;
    const size = word & 0x7fffffff;
    if (size > blockMax) throw corrupt('lz4', `a block of ${size} bytes exceeds the frame's ${blockMax}`);
    pos += size + (blockChecksum ? 4 : 0);
    bound += blockMax;
    if (bound > DECOMPRESSED_BYTES_MAX) throw corrupt('lz4', `may expand past ${DECOMPRESSED_BYTES_MAX} bytes`);
  }
}

/** The records section of a batch, decompressed. Throws CORRUPT_MESSAGE for bytes that do not decompress. */
export function decompress(codec: CompressionCodec, data: Buffer): Buffer {
  try {
    switch (codec) {
      case 'none':
        return data;
      case 'gzip':
        return gunzipSync(data, { maxOutputLength: DECOMPRESSED_BYTES_MAX });
      case 'zstd':
        return zstdDecompressSync(data, { maxOutputLength: DECOMPRESSED_BYTES_MAX });
      case 'snappy':
        return snappyDecompress(data);
      case 'lz4':
        lz4Bound(data);
        return decompressFrameSync(data);
    }
  } catch (err) {
    if (err instanceof TributaryError) throw err;
    throw corrupt(codec, (err as Error).message);
  }
}

/** Compresses a batch's records section as Kafka's clients do (snappy in xerial framing, lz4 frames). */
export function compress(codec: CompressionCodec, data: Buffer): Buffer {
  switch (codec) {
    case 'none':
      return data;
    case 'gzip':
      return gzipSync(data);
    case 'zstd':
      return zstdCompressSync(data, { params: { [constants.ZSTD_c_compressionLevel]: 3 } });
    case 'lz4':
      return compressFrameSync(data);
    case 'snappy': {
      const head = Buffer.alloc(XERIAL_HEADER_BYTES);
      XERIAL_MAGIC.copy(head, 0);
      head.writeInt32BE(1, 8);
      head.writeInt32BE(1, 12);
      const parts: Buffer[] = [head];
      for (let pos = 0; pos < data.length; pos += XERIAL_BLOCK_BYTES) {
        const block = snappyCompress(data.subarray(pos, pos + XERIAL_BLOCK_BYTES)) as Buffer;
        const size = Buffer.alloc(4);
        size.writeInt32BE(block.length, 0);
        parts.push(size, block);
      }
      return Buffer.concat(parts);
    }
  }
}
