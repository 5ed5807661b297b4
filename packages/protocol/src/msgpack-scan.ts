// A linear pre-scan of a msgpack body, run before msgpackr builds anything (DESIGN.md § Limits).
//
// msgpackr decodes a whole body into objects before any field is validated, and msgpack is
// dense: one byte (0x80) is a whole empty map, so 4 MB of them become 4 million objects (~400 MB
// of heap, ~0.4 s of one core), and 0x91 repeated nests arrays until the decoder's recursion
// overflows the stack. The scan walks the bytes once, without allocating per value, and refuses
// what a legitimate request never holds: more values than the route's `elementsMax`, containers
// nested deeper than `depthMax`, lengths that run past the end of the body (truncation), map keys
// that are not strings, extension types the wire does not use, and bytes after the value. Only a
// body that passes is decoded, so decoding costs at most `elementsMax` objects and the body's
// bytes. Kafka does the same in spirit: a request whose declared sizes do not add up is refused,
// never guessed at.
//
// Counting: every msgpack value is one element, map keys included (each becomes a string or an
// object msgpackr allocates); a container counts once for itself plus its items.
//
// Byte layout of the headers read here (big-endian lengths):
//   0x00-0x7f positive fixint      0x80-0x8f fixmap (n & 0x0f)   0x90-0x9f fixarray (n & 0x0f)
//   0xa0-0xbf fixstr (len & 0x1f)  0xc0 nil  0xc1 never used     0xc2/0xc3 false/true
//   0xc4-0xc6 bin 8/16/32          0xc7-0xc9 ext 8/16/32 (+type) 0xca/0xcb float 32/64
//   0xcc-0xcf uint 8/16/32/64      0xd0-0xd3 int 8/16/32/64      0xd4-0xd8 fixext 1/2/4/8/16 (+type)
//   0xd9-0xdb str 8/16/32          0xdc/0xdd array 16/32         0xde/0xdf map 16/32
//   0xe0-0xff negative fixint

import { TributaryError } from './errors.ts';

export interface MsgpackLimits {
  /** Values in the body, map keys and containers included. */
  elementsMax: number;
  /** Containers inside containers; a body that is one map of scalars has depth 1. */
  depthMax: number;
}

/** What a scan found: the figures a caller may log or compare with its limits. */
export interface MsgpackScan {
  elements: number;
  depth: number;
}

/**
 * Extension types a body may carry: 0 is msgpackr's `undefined` (fixext 1), -1 the msgpack
 * timestamp. Others (msgpackr's records, typed arrays, sets, errors, bundled strings) build
 * objects of their own and are never sent by Tributary's encoders.
 */
const ACCEPTED_EXT_TYPES: ReadonlySet<number> = new Set([0, -1]);

function refuse(message: string): never {
  throw new TributaryError('INVALID_REQUEST', message);
}

/**
 * Checks `bytes` as one msgpack value within `limits`; throws INVALID_REQUEST naming the limit or
 * the offending offset. `what` names the body in messages (e.g. "body of POST /produce").
 */
export function scanMsgpack(bytes: Uint8Array, limits: MsgpackLimits, what = 'body'): MsgpackScan {
  const end = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Items still to read in each open container, and whether it is a map (keys must be strings).
  // Level 0 is the body itself: one value.
  const remaining = new Float64Array(limits.depthMax + 1);
  const isMap = new Uint8Array(limits.depthMax + 1);
  remaining[0] = 1;
  let level = 0;
  let deepest = 0;
  let elements = 0;
  let pos = 0;

  const need = (n: number, at: number, kind: string): void => {
    if (n > end - pos) refuse(`${what} is truncated: ${kind} at offset ${at} needs ${n} more bytes, ${end - pos} remain of ${end}`);
  };

  while (level >= 0) {
    const at = pos;
    if (pos >= end) refuse(`${what} is truncated: a value is missing at offset ${at} (${end} bytes)`);
    const b = bytes[pos++]!;
    elements++;
    if (elements > limits.elementsMax) refuse(`${what} holds more than ${limits.elementsMax} values (elementsMax)`);
    // A map's items alternate key, value; the key comes when an even number remain.
    const keyExpected = isMap[level] === 1 && remaining[level]! % 2 === 0;
    const isStr = (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb);
    if (keyExpected && !isStr) refuse(`${what}: map key at offset ${at} is not a string (type byte 0x${b.toString(16)})`);

    let items = -1; // > -1: a container with this many items (maps: twice their entries)
    let map = false;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
      // fixints, nil, booleans: the type byte is the whole value.
    } else if (b <= 0x8f) {
      items = (b & 0x0f) * 2;
      map = true;
    } else if (b <= 0x9f) {
      items = b & 0x0f;
    } else if (b <= 0xbf) {
      const len = b & 0x1f;
      need(len, at, 'str');
      pos += len;
    } else {
      switch (b) {
        case 0xc1:
          refuse(`${what}: byte 0xc1 at offset ${at} is not msgpack`);
          break;
        case 0xc4:
        case 0xd9:
          need(1, at, b === 0xc4 ? 'bin' : 'str');
          pos += 1;
          need(bytes[pos - 1]!, at, b === 0xc4 ? 'bin' : 'str');
          pos += bytes[pos - 1]!;
          break;
        case 0xc5:
        case 0xda: {
          need(2, at, b === 0xc5 ? 'bin' : 'str');
          const len = view.getUint16(pos);
          pos += 2;
          need(len, at, b === 0xc5 ? 'bin' : 'str');
          pos += len;
          break;
        }
        case 0xc6:
        case 0xdb: {
          need(4, at, b === 0xc6 ? 'bin' : 'str');
          const len = view.getUint32(pos);
          pos += 4;
          need(len, at, b === 0xc6 ? 'bin' : 'str');
          pos += len;
          break;
        }
        case 0xc7:
        case 0xc8:
        case 0xc9: {
          const lenBytes = b === 0xc7 ? 1 : b === 0xc8 ? 2 : 4;
          need(lenBytes + 1, at, 'ext');
          const len = lenBytes === 1 ? bytes[pos]! : lenBytes === 2 ? view.getUint16(pos) : view.getUint32(pos);
          pos += lenBytes;
          extType(view.getInt8(pos), at, what);
          pos += 1;
          need(len, at, 'ext');
          pos += len;
          break;
        }
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8: {
          const len = 1 << (b - 0xd4);
          need(1 + len, at, 'fixext');
          extType(view.getInt8(pos), at, what);
          pos += 1 + len;
          break;
        }
        case 0xca:
        case 0xcb:
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3: {
          const len = SCALAR_BYTES[b - 0xca]!;
          need(len, at, 'number');
          pos += len;
          break;
        }
        case 0xdc:
          need(2, at, 'array');
          items = view.getUint16(pos);
          pos += 2;
          break;
        case 0xdd:
          need(4, at, 'array');
          items = view.getUint32(pos);
          pos += 4;
          break;
        case 0xde:
          need(2, at, 'map');
          items = view.getUint16(pos) * 2;
          pos += 2;
          map = true;
          break;
        case 0xdf:
          need(4, at, 'map');
          items = view.getUint32(pos) * 2;
          pos += 4;
          map = true;
          break;
      }
    }

    if (items >= 0) {
      if (level + 1 > limits.depthMax) refuse(`${what} nests containers deeper than ${limits.depthMax} (depthMax) at offset ${at}`);
      deepest = Math.max(deepest, level + 1);
    }
    if (items > 0) {
      // Refuse a declared count at once rather than walking towards it: every item takes at
      // least one byte, and every one is an element.
      const declared = `${map ? 'map' : 'array'} at offset ${at} declares ${map ? items / 2 : items} ${map ? 'entries' : 'items'}`;
      if (items > end - pos) refuse(`${what} is truncated: ${declared}, ${end - pos} bytes remain`);
      if (items > limits.elementsMax - elements) refuse(`${what} holds more than ${limits.elementsMax} values (elementsMax): ${declared}`);
      level++;
      remaining[level] = items;
      isMap[level] = map ? 1 : 0;
      continue;
    }
    // A value is complete: close every container it completes.
    remaining[level]!--;
    while (level >= 0 && remaining[level] === 0) {
      level--;
      if (level >= 0) remaining[level]!--;
    }
  }
  if (pos !== end) refuse(`${what} has ${end - pos} bytes after its value (offset ${pos} of ${end})`);
  return { elements, depth: deepest };
}

/** Payload bytes of 0xca (float 32) … 0xd3 (int 64). */
const SCALAR_BYTES = [4, 8, 1, 2, 4, 8, 1, 2, 4, 8];

function extType(type: number, at: number, what: string): void {
  if (!ACCEPTED_EXT_TYPES.has(type)) refuse(`${what}: extension type ${type} at offset ${at} is not accepted`);
}
