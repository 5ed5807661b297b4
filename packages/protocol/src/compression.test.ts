import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { COMPRESSION_CODECS, DECOMPRESSED_BYTES_MAX, compress, decompress } from './compression.ts';
import { checkBatchCrc, decodeBatch, decodeBatches, encodeBatch, validateBatch } from './record-batch.ts';
import { TributaryError } from './errors.ts';

const records = Array.from({ length: 500 }, (_, i) => ({ key: Buffer.from(`key-${i}`), value: Buffer.from(`value ${i} `.repeat(20)) }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof TributaryError ? err.code : `not a TributaryError: ${(err as Error).message}`;
  }
}

describe('compression', () => {
  it.each(COMPRESSION_CODECS)('%s: a batch round-trips, is validated decompressed, and is stored as it came', (codec) => {
    const batch = encodeBatch(records, { compression: codec, producerId: 7, producerEpoch: 0, baseSequence: 0 });
    const header = validateBatch(batch);
    expect(header.attributes & 0x07).toBe(COMPRESSION_CODECS.indexOf(codec));
    expect(header.recordCount).toBe(500);
    if (codec !== 'none') expect(batch.length).toBeLessThan(encodeBatch(records).length / 3);
    const decoded = decodeBatch(batch).records;
    expect(decoded.map((r) => r.value!.toString())).toEqual(records.map((r) => r.value.toString()));
    expect(decodeBatches(Buffer.concat([batch, batch])).length).toBe(1000);
    checkBatchCrc(batch);
  });

  it.each(COMPRESSION_CODECS.filter((c) => c !== 'none'))('%s: bytes that do not decompress are CORRUPT_MESSAGE, never a crash', (codec) => {
    const batch = encodeBatch(records, { compression: codec });
    const bad = Buffer.from(batch);
    // Flip bytes inside the compressed section, then fix the CRC so only decompression can tell.
    for (let i = 70; i < bad.length; i += 7) bad[i] = bad[i]! ^ 0x5a;
    const fixed = encodeWithCrc(bad);
    expect(codeOf(() => validateBatch(fixed))).toBe('CORRUPT_MESSAGE');
    expect(codeOf(() => decompress(codec, Buffer.from('not compressed at all')))).toBe('CORRUPT_MESSAGE');
  });

  it('decompression is bounded: a gzip bomb past the limit is refused', () => {
    const bomb = gzipSync(Buffer.alloc(DECOMPRESSED_BYTES_MAX + 1024));
    expect(codeOf(() => decompress('gzip', bomb))).toBe('CORRUPT_MESSAGE');
  });

  it('snappy reads both xerial framing and raw blocks', () => {
    const data = Buffer.from('hello '.repeat(20000));
    expect(decompress('snappy', compress('snappy', data)).equals(data)).toBe(true);
  });

  it('a compacted topic takes compressed batches whose records all have keys, and refuses one with a keyless record', () => {
    const keyed = records;
    const batch = encodeBatch(keyed, { compression: 'zstd' });
    expect(validateBatch(batch, { keysRequired: true }).recordCount).toBe(500);
    const oneKeyless = encodeBatch([...keyed.slice(1), { ...keyed[0]!, key: null }], { compression: 'lz4' });
    expect(codeOf(() => validateBatch(oneKeyless, { keysRequired: true }))).toBe('INVALID_RECORD');
  });
});

function encodeWithCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}
