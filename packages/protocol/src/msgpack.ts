// MessagePack bodies (DESIGN.md § Wire). Record data rides as `bin` blobs holding record batches
// in their on-disk bytes; everything else is plain maps. Offsets are JS numbers (< 2^53).

import { Packr } from 'msgpackr';

export const MSGPACK_CONTENT_TYPE = 'application/msgpack';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', variableMapSize: true });

export function encodeMsgpack(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes a body. Throws on malformed input; transport maps that to INVALID_REQUEST. */
export function decodeMsgpack(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
