// Kafka's framing: every request and response is an int32 size followed by that many bytes,
// a header and a body. FrameDecoder cuts frames out of a byte stream without trusting the size:
// one below the smallest header or above `maxFrameBytes` is a FrameError (the listener closes
// the connection, as Kafka does with an InvalidReceiveException), and nothing is allocated for a
// frame until the bytes it claims have arrived. The headers' versions follow the API's flexible
// versions (KIP-482), ApiVersions' response header staying v0 (KIP-511).

import { Reader, Writer, decodeMessage, encodeMessage, isFlexible, type Message } from './codec.ts';
import { MESSAGES, RequestHeader, ResponseHeader } from './messages.ts';
import { inRange } from './schema.ts';

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** api key (2) + api version (2) + correlation id (4): the smallest request header. */
export const MIN_REQUEST_FRAME_BYTES = 8;
export const API_VERSIONS_KEY = 18;
export const SASL_HANDSHAKE_KEY = 17;
export const SASL_AUTHENTICATE_KEY = 36;

/** Cuts a byte stream into frames (without their size prefix). Chunks are copied out once. */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private size = -1;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held that are not yet a whole frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The size of the frame being received, once its prefix has arrived; -1 before. */
  get pendingFrameSize(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next whole frame, or undefined until more bytes arrive. Throws FrameError for a bad size. */
  next(): Buffer | undefined {
    if (this.size < 0) {
      if (this.buffered < 4) return undefined;
      const size = this.take(4).readInt32BE(0);
      if (size < MIN_REQUEST_FRAME_BYTES || size > this.maxFrameBytes) {
        throw new FrameError(`frame size ${size} is outside [${MIN_REQUEST_FRAME_BYTES}, ${this.maxFrameBytes}]`);
      }
      this.size = size;
    }
    if (this.buffered < this.size) return undefined;
    const frame = this.take(this.size);
    this.size = -1;
    return frame;
  }

  /** Removes `n` buffered bytes into a buffer of their own. */
  private take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0]!;
      const want = n - filled;
      if (head.length <= want) {
        head.copy(out, filled);
        filled += head.length;
        this.chunks.shift();
      } else {
        head.copy(out, filled, 0, want);
        this.chunks[0] = head.subarray(want);
        filled += want;
      }
    }
    this.buffered -= n;
    return out;
  }
}

export interface RequestHeaderValue {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** The request header version for an API version: v2 in flexible versions, else v1. */
export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  const spec = MESSAGES.get(apiKey);
  if (spec === undefined) return 1;
  // KIP-511: a newer ApiVersions than we know is assumed flexible; its header still parses.
  if (apiKey === API_VERSIONS_KEY && apiVersion > (spec.request.validVersions.max ?? apiVersion)) return 2;
  return inRange(spec.request.validVersions, apiVersion) && isFlexible(spec.request, apiVersion) ? 2 : 1;
}

/** The response header version: v1 in flexible versions, but always v0 for ApiVersions. */
export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === API_VERSIONS_KEY) return 0;
  const spec = MESSAGES.get(apiKey);
  return spec !== undefined && inRange(spec.response.validVersions, apiVersion) && isFlexible(spec.response, apiVersion) ? 1 : 0;
}

/**
 * Reads a request's header; `reader` is left at the body. The api key and version are read
 * first, so an unknown key or version still yields its correlation id (header v1 is assumed).
 */
export function readRequestHeader(frame: Buffer): { header: RequestHeaderValue; reader: Reader } {
  const reader = new Reader(frame);
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const headerVersion = requestHeaderVersion(apiKey, apiVersion);
  const h = decodeMessage(RequestHeader, headerVersion, reader);
  return {
    header: { apiKey, apiVersion, correlationId: h.correlationId as number, clientId: h.clientId as string | null },
    reader,
  };
}

/** A request frame (size prefix included): header then body. For tests, the bench and tools. */
export function encodeRequest(header: RequestHeaderValue, body: Message): Buffer {
  const spec = MESSAGES.get(header.apiKey);
  if (spec === undefined) throw new RangeError(`unknown api key ${header.apiKey}`);
  const w = new Writer();
  w.int32(0);
  encodeMessage(
    RequestHeader,
    requestHeaderVersion(header.apiKey, header.apiVersion),
    { ...header, requestApiKey: header.apiKey, requestApiVersion: header.apiVersion },
    w,
  );
  encodeMessage(spec.request, header.apiVersion, body, w);
  const out = w.toBuffer();
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

/** A response frame as chunks (size prefix first); record batches are passed by reference. */
export function encodeResponse(apiKey: number, apiVersion: number, correlationId: number, body: Message): Buffer[] {
  const spec = MESSAGES.get(apiKey);
  if (spec === undefined) throw new RangeError(`unknown api key ${apiKey}`);
  const head = new Writer(64);
  head.int32(0);
  encodeMessage(ResponseHeader, responseHeaderVersion(apiKey, apiVersion), { correlationId }, head);
  const bodyWriter = encodeMessage(spec.response, apiVersion, body);
  const headBuf = head.toBuffer();
  headBuf.writeInt32BE(headBuf.length - 4 + bodyWriter.length, 0);
  return [headBuf, ...bodyWriter.toChunks()];
}

/** Decodes a response frame (without its size prefix). For tests, the bench and tools. */
export function decodeResponse(apiKey: number, apiVersion: number, frame: Buffer): { correlationId: number; body: Message } {
  const spec = MESSAGES.get(apiKey);
  if (spec === undefined) throw new RangeError(`unknown api key ${apiKey}`);
  const reader = new Reader(frame);
  const h = decodeMessage(ResponseHeader, responseHeaderVersion(apiKey, apiVersion), reader);
  const body = decodeMessage(spec.response, apiVersion, reader);
  return { correlationId: h.correlationId as number, body };
}
