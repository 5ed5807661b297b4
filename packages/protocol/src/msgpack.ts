// MessagePack bodies (DESIGN.md § Wire). Record data rides as `bin` blobs holding record batches
// in their on-disk bytes; everything else is plain maps. Offsets are JS numbers (< 2^53).

import { Packr } from 'msgpackr';
import { scanMsgpack, type MsgpackLimits } from './msgpack-scan.ts';

export const MSGPACK_CONTENT_TYPE = 'application/msgpack';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', variableMapSize: true });

export function encodeMsgpack(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes a body. Throws on malformed input; transport maps that to INVALID_REQUEST. */
export function decodeMsgpack(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/**
 * Decodes a request body whose cost is bounded by `limits`: the bytes are scanned first
 * (`scanMsgpack`: element count, depth, truncation, key and extension types) and only a body
 * that passes is handed to msgpackr. Throws INVALID_REQUEST naming the limit or the offset.
 */
export function decodeMsgpackBounded(bytes: Uint8Array, limits: MsgpackLimits, what = 'body'): unknown {
  scanMsgpack(bytes, limits, what);
  return packr.unpack(bytes);
}

// ---------------------------------------------------------------------------- bodies by parts

/**
 * Binary values at least this long are not copied by `encodeMsgpackParts`: the encoding refers to
 * them as parts of their own, so a fetch answer's record batches go from the file read to the
 * socket without passing through an encoding buffer (msgpackr copies them into one that grows 4×
 * at a time, which made large answers allocate several times their size).
 */
export const MSGPACK_INLINE_BYTES_MAX = 8192;
/** Size of the shared scratch buffer the small parts are written into (a new one when full). */
const SCRATCH_BYTES = 64 * 1024;

/** A msgpack encoding as a list of buffers, to be written (writev) or joined in order. */
export interface MsgpackParts {
  parts: Buffer[];
  length: number;
}

/**
 * Encodes like `encodeMsgpack` (same decoded value: plain objects become maps, arrays arrays,
 * Buffers `bin`, numbers the smallest int format or float64, undefined msgpackr's fixext
 * undefined), but returns the bytes as parts: the headers and small values are written into a
 * shared scratch buffer that is never rewritten (a returned part stays valid), and Buffers of
 * `MSGPACK_INLINE_BYTES_MAX` bytes or more are referenced as they are. Values that are not plain
 * data (Maps, Dates, class instances, typed arrays other than Buffer) are encoded by msgpackr.
 */
export function encodeMsgpackParts(value: unknown): MsgpackParts {
  const enc = new PartsEncoder();
  enc.write(value);
  return enc.finish();
}

/** One contiguous buffer for `parts` (the part itself when there is only one). */
export function joinMsgpackParts(encoded: MsgpackParts): Buffer {
  return encoded.parts.length === 1 ? encoded.parts[0]! : Buffer.concat(encoded.parts, encoded.length);
}

let scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
let scratchPos = 0;

class PartsEncoder {
  private readonly parts: Buffer[] = [];
  private length = 0;
  /** Where the part being written into `scratch` started. */
  private start = scratchPos;

  finish(): MsgpackParts {
    this.cut();
    return { parts: this.parts, length: this.length };
  }

  /** Closes the scratch part written so far. */
  private cut(): void {
    if (scratchPos > this.start) {
      this.parts.push(scratch.subarray(this.start, scratchPos));
      this.length += scratchPos - this.start;
    }
    this.start = scratchPos;
  }

  /** Makes room for `n` more bytes in scratch; a full scratch is left to the parts that use it. */
  private room(n: number): void {
    if (scratchPos + n <= scratch.length) return;
    this.cut();
    scratch = Buffer.allocUnsafeSlow(Math.max(SCRATCH_BYTES, n));
    scratchPos = 0;
    this.start = 0;
  }

  private bytes(buf: Uint8Array): void {
    if (buf.length >= MSGPACK_INLINE_BYTES_MAX) {
      this.cut();
      this.parts.push(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length));
      this.length += buf.length;
      return;
    }
    this.room(buf.length);
    scratch.set(buf, scratchPos);
    scratchPos += buf.length;
  }

  write(value: unknown): void {
    switch (typeof value) {
      case 'number':
        return this.number(value);
      case 'string':
        return this.string(value);
      case 'boolean':
        this.room(1);
        scratch[scratchPos++] = value ? 0xc3 : 0xc2;
        return;
      case 'undefined':
        // msgpackr's encoding of undefined (fixext 1, type 0), which it decodes back to undefined.
        this.room(3);
        scratch[scratchPos++] = 0xd4;
        scratch[scratchPos++] = 0;
        scratch[scratchPos++] = 0;
        return;
      case 'object':
        if (value === null) {
          this.room(1);
          scratch[scratchPos++] = 0xc0;
          return;
        }
        if (Buffer.isBuffer(value)) return this.bin(value);
        if (Array.isArray(value)) return this.array(value);
        {
          const proto = Object.getPrototypeOf(value) as unknown;
          if (proto === Object.prototype || proto === null) return this.map(value as Record<string, unknown>);
        }
        return this.bytes(packr.pack(value));
      default:
        return this.bytes(packr.pack(value));
    }
  }

  private number(value: number): void {
    this.room(9);
    const s = scratch;
    let p = scratchPos;
    if (value >>> 0 === value) {
      if (value < 0x80) s[p++] = value;
      else if (value < 0x100) {
        s[p++] = 0xcc;
        s[p++] = value;
      } else if (value < 0x10000) {
        s[p++] = 0xcd;
        p = s.writeUInt16BE(value, p);
      } else {
        s[p++] = 0xce;
        p = s.writeUInt32BE(value, p);
      }
    } else if (value >> 0 === value) {
      if (value >= -0x20) s[p++] = 0x100 + value;
      else if (value >= -0x80) {
        s[p++] = 0xd0;
        s[p++] = value + 0x100;
      } else if (value >= -0x8000) {
        s[p++] = 0xd1;
        p = s.writeInt16BE(value, p);
      } else {
        s[p++] = 0xd2;
        p = s.writeInt32BE(value, p);
      }
    } else {
      // Integers past 32 bits (offsets) as float64, as msgpackr does: exact below 2^53.
      s[p++] = 0xcb;
      p = s.writeDoubleBE(value, p);
    }
    scratchPos = p;
  }

  private string(value: string): void {
    // At most 3 UTF-8 bytes per UTF-16 unit; short strings are written in place.
    const worst = value.length * 3;
    if (worst < 0x10000) {
      this.room(worst + 3);
      const headerSize = worst < 0x20 ? 1 : worst < 0x100 ? 2 : 3;
      const n = scratch.write(value, scratchPos + headerSize, 'utf8');
      this.strHeaderAt(scratchPos, headerSize, n);
      scratchPos += headerSize + n;
      return;
    }
    const utf8 = Buffer.from(value, 'utf8');
    this.room(5);
    scratch[scratchPos++] = 0xdb;
    scratchPos = scratch.writeUInt32BE(utf8.length, scratchPos);
    this.bytes(utf8);
  }

  /** Writes a str header of exactly `size` bytes for a string of `n` bytes (n fits the size). */
  private strHeaderAt(p: number, size: number, n: number): void {
    if (size === 1) scratch[p] = 0xa0 | n;
    else if (size === 2) {
      scratch[p] = 0xd9;
      scratch[p + 1] = n;
    } else {
      scratch[p] = 0xda;
      scratch.writeUInt16BE(n, p + 1);
    }
  }

  private bin(value: Buffer): void {
    const n = value.length;
    this.room(5);
    if (n < 0x100) {
      scratch[scratchPos++] = 0xc4;
      scratch[scratchPos++] = n;
    } else if (n < 0x10000) {
      scratch[scratchPos++] = 0xc5;
      scratchPos = scratch.writeUInt16BE(n, scratchPos);
    } else {
      scratch[scratchPos++] = 0xc6;
      scratchPos = scratch.writeUInt32BE(n, scratchPos);
    }
    this.bytes(value);
  }

  private array(value: unknown[]): void {
    const n = value.length;
    this.room(5);
    if (n < 0x10) scratch[scratchPos++] = 0x90 | n;
    else if (n < 0x10000) {
      scratch[scratchPos++] = 0xdc;
      scratchPos = scratch.writeUInt16BE(n, scratchPos);
    } else {
      scratch[scratchPos++] = 0xdd;
      scratchPos = scratch.writeUInt32BE(n, scratchPos);
    }
    for (let i = 0; i < n; i++) this.write(value[i]);
  }

  private map(value: Record<string, unknown>): void {
    const keys = Object.keys(value);
    const n = keys.length;
    this.room(5);
    if (n < 0x10) scratch[scratchPos++] = 0x80 | n;
    else if (n < 0x10000) {
      scratch[scratchPos++] = 0xde;
      scratchPos = scratch.writeUInt16BE(n, scratchPos);
    } else {
      scratch[scratchPos++] = 0xdf;
      scratchPos = scratch.writeUInt32BE(n, scratchPos);
    }
    for (let i = 0; i < n; i++) {
      const key = keys[i]!;
      this.string(key);
      this.write(value[key]);
    }
  }
}
