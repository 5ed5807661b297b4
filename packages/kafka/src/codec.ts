// One generic encoder and decoder for every message schema (schema.ts): no API has a byte layout
// of its own. Values are plain objects keyed by the schema's field names; int64 fields are JS
// numbers (exact up to 2^53, which every offset, timestamp and producer id here stays under).
//
// The decoder never trusts a length: every read is bounds-checked against the frame, and an
// array's or a string's length must fit in the bytes that remain, so a hostile count cannot make
// it allocate more than the frame it was given (the frame's size is bounded by the listener).
// Anything wrong raises KafkaDecodeError, which the listener turns into a closed connection.
//
// The encoder writes small fields into a growing scratch buffer and hands large byte fields
// (record batches) on as chunks of their own, so a fetch answer's batches are never copied.

import { inRange, type FieldSpec, type MessageSpec, type PrimitiveType } from './schema.ts';

export class KafkaDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaDecodeError';
  }
}

export type Message = Record<string, unknown>;

const EMPTY = Buffer.alloc(0);
/** Byte fields at least this large are passed on as chunks rather than copied. */
const CHUNK_BYTES_MIN = 4096;

// ---------------------------------------------------------------------------------------- Reader

export class Reader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) throw new KafkaDecodeError(`truncated: ${what} needs ${n} bytes, ${this.end - this.pos} remain`);
  }

  int8(): number {
    this.need(1, 'int8');
    return this.buf.readInt8(this.pos++);
  }
  int16(): number {
    this.need(2, 'int16');
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  uint16(): number {
    this.need(2, 'uint16');
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4, 'int32');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): number {
    this.need(8, 'int64');
    const v = Number(this.buf.readBigInt64BE(this.pos));
    this.pos += 8;
    return v;
  }
  float64(): number {
    this.need(8, 'float64');
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  bool(): boolean {
    this.need(1, 'bool');
    return this.buf[this.pos++] !== 0;
  }
  /** Unsigned varint (tagged fields, compact lengths): at most 5 bytes, an int32's worth. */
  uvarint(): number {
    let value = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      this.need(1, 'varint');
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (value > 0xffffffff) throw new KafkaDecodeError('varint larger than 32 bits');
        return value;
      }
    }
    throw new KafkaDecodeError('varint longer than 5 bytes');
  }
  raw(n: number, what: string): Buffer {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** A length: -1 (null) or 0..remaining. `compact`: unsigned varint of length + 1 (0 = null). */
  length(compact: boolean, what: string): number {
    const n = compact ? this.uvarint() - 1 : what === 'string' ? this.int16() : this.int32();
    if (n < -1) throw new KafkaDecodeError(`negative ${what} length ${n}`);
    if (n > this.remaining) throw new KafkaDecodeError(`${what} length ${n} exceeds the ${this.remaining} bytes that remain`);
    return n;
  }
}

// ---------------------------------------------------------------------------------------- Writer

export class Writer {
  private chunks: Buffer[] = [];
  private scratch: Buffer;
  private pos = 0;
  private flushedBytes = 0;

  constructor(initial = 256) {
    this.scratch = Buffer.allocUnsafe(initial);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.scratch.length) return;
    // Keep what is written as a chunk and start a new scratch buffer (nothing is copied twice).
    if (this.pos > 0) {
      this.chunks.push(this.scratch.subarray(0, this.pos));
      this.flushedBytes += this.pos;
    }
    this.scratch = Buffer.allocUnsafe(Math.max(n, this.scratch.length * 2, 256));
    this.pos = 0;
  }

  get length(): number {
    return this.flushedBytes + this.pos;
  }

  int8(v: number): void {
    this.ensure(1);
    this.scratch.writeInt8(v, this.pos++);
  }
  int16(v: number): void {
    this.ensure(2);
    this.pos = this.scratch.writeInt16BE(v, this.pos);
  }
  uint16(v: number): void {
    this.ensure(2);
    this.pos = this.scratch.writeUInt16BE(v, this.pos);
  }
  int32(v: number): void {
    this.ensure(4);
    this.pos = this.scratch.writeInt32BE(v, this.pos);
  }
  int64(v: number): void {
    this.ensure(8);
    this.pos = this.scratch.writeBigInt64BE(BigInt(v), this.pos);
  }
  float64(v: number): void {
    this.ensure(8);
    this.pos = this.scratch.writeDoubleBE(v, this.pos);
  }
  bool(v: boolean): void {
    this.ensure(1);
    this.scratch[this.pos++] = v ? 1 : 0;
  }
  uvarint(v: number): void {
    this.ensure(5);
    let n = v;
    while (n >= 0x80) {
      this.scratch[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.scratch[this.pos++] = n;
  }
  raw(b: Buffer): void {
    if (b.length >= CHUNK_BYTES_MIN) {
      if (this.pos > 0) {
        this.chunks.push(this.scratch.subarray(0, this.pos));
        this.flushedBytes += this.pos;
        this.scratch = this.scratch.subarray(this.pos);
        this.pos = 0;
      }
      this.chunks.push(b);
      this.flushedBytes += b.length;
      return;
    }
    this.ensure(b.length);
    b.copy(this.scratch, this.pos);
    this.pos += b.length;
  }
  /** The bytes written, as chunks in order (large byte fields by reference). */
  toChunks(): Buffer[] {
    return this.pos > 0 ? [...this.chunks, this.scratch.subarray(0, this.pos)] : [...this.chunks];
  }
  toBuffer(): Buffer {
    const chunks = this.toChunks();
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }
}

// ---------------------------------------------------------------------------------------- defaults

function primitiveDefault(type: PrimitiveType): unknown {
  switch (type) {
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'bytes':
      return EMPTY;
    case 'records':
      return null;
    case 'uuid':
      return '00000000-0000-0000-0000-000000000000';
    default:
      return 0;
  }
}

/** The value a field takes when a version lacks it (or a tagged field was not sent). */
export function fieldDefault(f: FieldSpec): unknown {
  if (f.default !== undefined) return f.default;
  if (f.type === '[]' || f.type.startsWith('[]')) return [];
  if (f.type === 'struct') return defaults(f.fields ?? []);
  return primitiveDefault(f.type as PrimitiveType);
}

function defaults(fields: readonly FieldSpec[]): Message {
  const out: Message = {};
  for (const f of fields) out[f.name] = fieldDefault(f);
  return out;
}

// ---------------------------------------------------------------------------------------- decode

function readPrimitive(r: Reader, type: PrimitiveType, flexible: boolean, nullable: boolean, name: string): unknown {
  switch (type) {
    case 'int8':
      return r.int8();
    case 'int16':
      return r.int16();
    case 'uint16':
      return r.uint16();
    case 'int32':
      return r.int32();
    case 'int64':
      return r.int64();
    case 'float64':
      return r.float64();
    case 'bool':
      return r.bool();
    case 'uuid': {
      const hex = r.raw(16, 'uuid').toString('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
    case 'string': {
      const n = r.length(flexible, 'string');
      if (n === -1) {
        if (!nullable) throw new KafkaDecodeError(`field ${name} is null in a version where it is not nullable`);
        return null;
      }
      return r.raw(n, 'string').toString('utf8');
    }
    case 'bytes':
    case 'records': {
      const n = r.length(flexible, 'bytes');
      if (n === -1) {
        if (!nullable && type === 'bytes') throw new KafkaDecodeError(`field ${name} is null in a version where it is not nullable`);
        return null;
      }
      return r.raw(n, 'bytes');
    }
  }
}

function readValue(r: Reader, f: FieldSpec, version: number, flexibleMessage: boolean): unknown {
  const flexible = flexibleMessage && f.neverCompact !== true;
  const nullable = inRange(f.nullableVersions, version);
  if (f.type === 'struct') return readStruct(r, f.fields ?? [], version, flexible);
  if (f.type.startsWith('[]')) {
    const n = r.length(flexible, 'array');
    if (n === -1) {
      if (!nullable) throw new KafkaDecodeError(`array ${f.name} is null in a version where it is not nullable`);
      return null;
    }
    const out: unknown[] = new Array(n);
    const element = f.type.slice(2) as PrimitiveType | '';
    for (let i = 0; i < n; i++) {
      out[i] = element === '' ? readStruct(r, f.fields ?? [], version, flexible) : readPrimitive(r, element, flexible, false, f.name);
    }
    return out;
  }
  return readPrimitive(r, f.type as PrimitiveType, flexible, nullable, f.name);
}

function readStruct(r: Reader, fields: readonly FieldSpec[], version: number, flexible: boolean): Message {
  const out: Message = {};
  for (const f of fields) {
    if (!inRange(f.versions, version) || (flexible && f.tag !== undefined && inRange(f.taggedVersions, version))) {
      out[f.name] = fieldDefault(f);
      continue;
    }
    out[f.name] = readValue(r, f, version, flexible);
  }
  if (flexible) readTaggedFields(r, fields, version, out);
  return out;
}

function readTaggedFields(r: Reader, fields: readonly FieldSpec[], version: number, out: Message): void {
  const count = r.uvarint();
  if (count > r.remaining) throw new KafkaDecodeError(`${count} tagged fields cannot fit in ${r.remaining} bytes`);
  let lastTag = -1;
  for (let i = 0; i < count; i++) {
    const tag = r.uvarint();
    if (tag <= lastTag) throw new KafkaDecodeError(`tagged fields out of order: tag ${tag} after ${lastTag}`);
    lastTag = tag;
    const size = r.uvarint();
    const body = r.raw(size, 'tagged field');
    const f = fields.find((x) => x.tag === tag && inRange(x.taggedVersions, version) && inRange(x.versions, version));
    if (f === undefined) continue; // unknown tags are skipped, as KIP-482 requires
    const sub = new Reader(body);
    out[f.name] = readValue(sub, f, version, true);
    if (sub.remaining !== 0) throw new KafkaDecodeError(`tagged field ${f.name} has ${sub.remaining} bytes left over`);
  }
}

export function isFlexible(spec: MessageSpec, version: number): boolean {
  return inRange(spec.flexibleVersions, version);
}

/**
 * Decodes one message of `spec` at `version` from `r`. Throws KafkaDecodeError on truncation,
 * impossible lengths, nulls where the version allows none, or an unsupported version.
 */
export function decodeMessage(spec: MessageSpec, version: number, r: Reader): Message {
  if (!inRange(spec.validVersions, version)) throw new KafkaDecodeError(`${spec.name} has no version ${version}`);
  return readStruct(r, spec.fields, version, isFlexible(spec, version));
}

// ---------------------------------------------------------------------------------------- encode

function writePrimitive(w: Writer, type: PrimitiveType, value: unknown, flexible: boolean, nullable: boolean, name: string): void {
  switch (type) {
    case 'int8':
      return w.int8(value as number);
    case 'int16':
      return w.int16(value as number);
    case 'uint16':
      return w.uint16(value as number);
    case 'int32':
      return w.int32(value as number);
    case 'int64':
      return w.int64(value as number);
    case 'float64':
      return w.float64(value as number);
    case 'bool':
      return w.bool(value as boolean);
    case 'uuid':
      return w.raw(Buffer.from((value as string).replaceAll('-', ''), 'hex'));
    case 'string': {
      if (value === null || value === undefined) {
        if (!nullable) throw new TypeError(`field ${name} may not be null here`);
        return flexible ? w.uvarint(0) : w.int16(-1);
      }
      const bytes = Buffer.from(value as string, 'utf8');
      if (flexible) w.uvarint(bytes.length + 1);
      else {
        if (bytes.length > 0x7fff) throw new TypeError(`field ${name}: a string of ${bytes.length} bytes does not fit an int16 length`);
        w.int16(bytes.length);
      }
      return w.raw(bytes);
    }
    case 'bytes':
    case 'records': {
      if (value === null || value === undefined) {
        if (!nullable && type === 'bytes') throw new TypeError(`field ${name} may not be null here`);
        return flexible ? w.uvarint(0) : w.int32(-1);
      }
      const bytes = value as Buffer;
      if (flexible) w.uvarint(bytes.length + 1);
      else w.int32(bytes.length);
      return w.raw(bytes);
    }
  }
}

function writeValue(w: Writer, f: FieldSpec, value: unknown, version: number, flexibleMessage: boolean): void {
  const flexible = flexibleMessage && f.neverCompact !== true;
  const nullable = inRange(f.nullableVersions, version);
  if (f.type === 'struct') return writeStruct(w, f.fields ?? [], (value ?? {}) as Message, version, flexible);
  if (f.type.startsWith('[]')) {
    if (value === null || value === undefined) {
      if (!nullable) throw new TypeError(`array ${f.name} may not be null here`);
      return flexible ? w.uvarint(0) : w.int32(-1);
    }
    const list = value as unknown[];
    if (flexible) w.uvarint(list.length + 1);
    else w.int32(list.length);
    const element = f.type.slice(2) as PrimitiveType | '';
    for (const item of list) {
      if (element === '') writeStruct(w, f.fields ?? [], item as Message, version, flexible);
      else writePrimitive(w, element, item, flexible, false, f.name);
    }
    return;
  }
  writePrimitive(w, f.type as PrimitiveType, value, flexible, nullable, f.name);
}

function isDefault(f: FieldSpec, value: unknown): boolean {
  const d = fieldDefault(f);
  if (value === undefined || value === d) return true;
  // A tagged struct is left out when every field in it is at its default (Fetch's divergingEpoch).
  if (f.type === 'struct' && value !== null && typeof value === 'object') {
    return (f.fields ?? []).every((sub) => isDefault(sub, (value as Message)[sub.name]));
  }
  if (Array.isArray(value) && Array.isArray(d)) return value.length === 0 && d.length === 0;
  if (Buffer.isBuffer(value) && Buffer.isBuffer(d)) return value.equals(d);
  return false;
}

function writeStruct(w: Writer, fields: readonly FieldSpec[], value: Message, version: number, flexible: boolean): void {
  const tagged: FieldSpec[] = [];
  for (const f of fields) {
    if (!inRange(f.versions, version)) continue;
    if (flexible && f.tag !== undefined && inRange(f.taggedVersions, version)) {
      if (!isDefault(f, value[f.name])) tagged.push(f);
      continue;
    }
    const v = value[f.name];
    writeValue(w, f, v === undefined ? fieldDefault(f) : v, version, flexible);
  }
  if (!flexible) return;
  tagged.sort((a, b) => a.tag! - b.tag!);
  w.uvarint(tagged.length);
  for (const f of tagged) {
    const sub = new Writer(64);
    writeValue(sub, f, value[f.name], version, true);
    const bytes = sub.toBuffer();
    w.uvarint(f.tag!);
    w.uvarint(bytes.length);
    w.raw(bytes);
  }
}

/** Encodes `value` as `spec` at `version` into `w`. Fields the version lacks are left out. */
export function encodeMessage(spec: MessageSpec, version: number, value: Message, w: Writer = new Writer()): Writer {
  if (!inRange(spec.validVersions, version)) throw new RangeError(`${spec.name} has no version ${version}`);
  writeStruct(w, spec.fields, value, version, isFlexible(spec, version));
  return w;
}
