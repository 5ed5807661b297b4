// Zig-zag variable-length integers as Kafka's record format uses them (protobuf's encoding).
// Values are JS numbers: offsets and timestamp deltas stay far below 2^53, so arithmetic (not
// 32-bit bitwise ops) keeps 64-bit "varlong" fields exact for magnitudes up to 2^52.

import { TributaryError } from './errors.ts';

export function zigzagEncode(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

export function zigzagDecode(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** Bytes a zig-zag varint of `n` takes. */
export function varintSize(n: number): number {
  let z = zigzagEncode(n);
  let size = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 0x80);
    size++;
  }
  return size;
}

/** Writes `n` zig-zag encoded at `pos`; returns the position after it. */
export function writeVarint(buf: Buffer, pos: number, n: number): number {
  let z = zigzagEncode(n);
  while (z >= 0x80) {
    buf[pos++] = (z % 0x80) | 0x80;
    z = Math.floor(z / 0x80);
  }
  buf[pos++] = z;
  return pos;
}

/** A decoded varint and the position just after it. Reused by callers to avoid allocation. */
export interface VarintCursor {
  value: number;
  pos: number;
}

/**
 * Reads a zig-zag varint at `cursor.pos` into `cursor.value`, advancing `cursor.pos`. Throws
 * CORRUPT_MESSAGE (never a RangeError) when the bytes end before the varint does or it is
 * longer than a 64-bit varint can be.
 */
export function readVarint(buf: Buffer, end: number, cursor: VarintCursor): void {
  let pos = cursor.pos;
  // Fast path: most varints in a record (lengths of small fields, deltas) fit in one byte.
  if (pos < end) {
    const first = buf[pos]!;
    if (first < 0x80) {
      cursor.value = (first >>> 1) ^ -(first & 1);
      cursor.pos = pos + 1;
      return;
    }
    if (pos + 1 < end) {
      const second = buf[pos + 1]!;
      if (second < 0x80) {
        const z = (first & 0x7f) | (second << 7);
        cursor.value = (z >>> 1) ^ -(z & 1);
        cursor.pos = pos + 2;
        return;
      }
    }
  }
  let z = 0;
  let scale = 1;
  for (let i = 0; ; i++) {
    if (pos >= end) {
      throw new TributaryError('CORRUPT_MESSAGE', 'record batch is corrupt: varint runs past the end of the batch');
    }
    if (i >= 10) {
      throw new TributaryError('CORRUPT_MESSAGE', 'record batch is corrupt: varint longer than 10 bytes');
    }
    const byte = buf[pos++]!;
    z += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) break;
    scale *= 0x80;
  }
  cursor.value = zigzagDecode(z);
  cursor.pos = pos;
}
