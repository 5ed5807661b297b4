import { describe, expect, it } from 'vitest';
import {
  FrameDecoder,
  FrameError,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  readRequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from './frame.ts';
import { KafkaDecodeError, decodeMessage } from './codec.ts';
import { MESSAGES } from './messages.ts';
import { kafkaErrorCode } from './errors.ts';
import { ERRORS } from '@tributary/protocol';

function sized(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}

describe('FrameDecoder', () => {
  it('cuts frames out of arbitrarily split chunks', () => {
    const a = encodeRequest({ apiKey: 18, apiVersion: 3, correlationId: 1, clientId: 'x' }, { clientSoftwareName: 'n', clientSoftwareVersion: '1' });
    const b = encodeRequest({ apiKey: 3, apiVersion: 1, correlationId: 2, clientId: null }, { topics: null });
    const stream = Buffer.concat([a, b]);
    for (let split = 0; split <= stream.length; split++) {
      const d = new FrameDecoder(1024);
      const frames: Buffer[] = [];
      for (const part of [stream.subarray(0, split), stream.subarray(split)]) {
        d.push(part);
        for (let f = d.next(); f !== undefined; f = d.next()) frames.push(f);
      }
      expect(frames.map((f) => f.length)).toEqual([a.length - 4, b.length - 4]);
      expect(readRequestHeader(frames[1]!).header).toEqual({ apiKey: 3, apiVersion: 1, correlationId: 2, clientId: null });
    }
  });

  it.each([
    ['a 2 GB length prefix', 0x7fffffff],
    ['a negative length', -1],
    ['a length below the smallest header', 7],
    ['a length above the limit', 1025],
  ])('refuses %s before allocating anything', (_name, size) => {
    const d = new FrameDecoder(1024);
    d.push(sized(size));
    expect(() => d.next()).toThrow(FrameError);
  });

  it('waits for a truncated frame without allocating it', () => {
    const d = new FrameDecoder(1 << 20);
    d.push(sized(1 << 20));
    d.push(Buffer.alloc(10));
    expect(d.next()).toBeUndefined();
    expect(d.pendingFrameSize).toBe(1 << 20);
    expect(d.bufferedBytes).toBe(10);
  });
});

describe('headers', () => {
  it('request header v2 and response header v1 in flexible versions; ApiVersions answers with v0', () => {
    expect(requestHeaderVersion(18, 3)).toBe(2);
    expect(requestHeaderVersion(18, 2)).toBe(1);
    expect(requestHeaderVersion(18, 9)).toBe(2);
    expect(requestHeaderVersion(3, 8)).toBe(1);
    expect(requestHeaderVersion(3, 9)).toBe(2);
    expect(responseHeaderVersion(18, 3)).toBe(0);
    expect(responseHeaderVersion(3, 9)).toBe(1);
    expect(responseHeaderVersion(3, 8)).toBe(0);
  });

  it('a response frame decodes back with its correlation id', () => {
    const chunks = encodeResponse(12, 3, 42, { throttleTimeMs: 0, errorCode: 27 });
    const frame = Buffer.concat(chunks);
    expect(frame.readInt32BE(0)).toBe(frame.length - 4);
    expect(decodeResponse(12, 3, frame.subarray(4))).toEqual({ correlationId: 42, body: { throttleTimeMs: 0, errorCode: 27 } });
  });

  it('an ApiVersions request of a version we do not know still yields its header', () => {
    const frame = encodeRequest({ apiKey: 18, apiVersion: 3, correlationId: 9, clientId: 'c' }, { clientSoftwareName: 'a', clientSoftwareVersion: 'b' });
    frame.writeInt16BE(7, 6); // api version 7
    const { header, reader } = readRequestHeader(frame.subarray(4));
    expect(header).toEqual({ apiKey: 18, apiVersion: 7, correlationId: 9, clientId: 'c' });
    expect(() => decodeMessage(MESSAGES.get(18)!.request, 7, reader)).toThrow(KafkaDecodeError);
  });
});

describe('error codes', () => {
  it("every Tributary error name has Kafka's number", () => {
    for (const name of Object.keys(ERRORS)) {
      if (name !== 'UNKNOWN_SERVER_ERROR') expect(kafkaErrorCode(name as keyof typeof ERRORS), name).toBeGreaterThan(0);
    }
    expect(kafkaErrorCode('NOT_LEADER_OR_FOLLOWER')).toBe(6);
    expect(kafkaErrorCode('MEMBER_ID_REQUIRED')).toBe(79);
    expect(kafkaErrorCode('UNKNOWN_SERVER_ERROR')).toBe(-1);
    expect(kafkaErrorCode(undefined)).toBe(0);
  });
});
