import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { API_VERSIONS } from './api-versions.ts';
import { KafkaDecodeError, Reader, decodeMessage, encodeMessage, fieldDefault, isFlexible, type Message } from './codec.ts';
import { MESSAGES, RequestHeader, ResponseHeader } from './messages.ts';
import { inRange, type FieldSpec, type MessageSpec, type PrimitiveType } from './schema.ts';

const INT64 = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });

function primitive(type: PrimitiveType, nullable: boolean): fc.Arbitrary<unknown> {
  const base = (() => {
    switch (type) {
      case 'int8':
        return fc.integer({ min: -128, max: 127 });
      case 'int16':
        return fc.integer({ min: -32768, max: 32767 });
      case 'uint16':
        return fc.integer({ min: 0, max: 65535 });
      case 'int32':
        return fc.integer({ min: -2147483648, max: 2147483647 });
      case 'int64':
        return INT64;
      case 'float64':
        return fc.double({ noNaN: true });
      case 'bool':
        return fc.boolean();
      case 'string':
        return fc.string({ maxLength: 12, unit: 'grapheme' });
      case 'bytes':
      case 'records':
        return fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a));
      case 'uuid':
        return fc.uuid({ version: 4 });
    }
  })() as fc.Arbitrary<unknown>;
  return nullable || type === 'records' ? fc.option(base, { nil: null }) : base;
}

function fieldArbitrary(f: FieldSpec, version: number, depth: number): fc.Arbitrary<unknown> {
  const nullable = inRange(f.nullableVersions, version);
  if (f.type === 'struct') return structArbitrary(f.fields ?? [], version, depth + 1);
  if (f.type.startsWith('[]')) {
    const element = f.type.slice(2) as PrimitiveType | '';
    const item = element === '' ? structArbitrary(f.fields ?? [], version, depth + 1) : primitive(element, false);
    const list = fc.array(item, { maxLength: depth > 2 ? 1 : 3 });
    return nullable ? fc.option(list, { nil: null }) : list;
  }
  return primitive(f.type as PrimitiveType, nullable);
}

function structArbitrary(fields: readonly FieldSpec[], version: number, depth: number): fc.Arbitrary<Message> {
  const present = fields.filter((f) => inRange(f.versions, version));
  return fc.record(Object.fromEntries(present.map((f) => [f.name, fieldArbitrary(f, version, depth)]))) as fc.Arbitrary<Message>;
}

/** What the decoder gives for `value`: every field, the version's absent ones at their defaults. */
function expected(fields: readonly FieldSpec[], value: Message, version: number): Message {
  const out: Message = {};
  for (const f of fields) {
    if (!inRange(f.versions, version)) {
      out[f.name] = fieldDefault(f);
      continue;
    }
    const v = value[f.name];
    if (f.type === '[]' && Array.isArray(v)) out[f.name] = v.map((item) => expected(f.fields ?? [], item as Message, version));
    else if (f.type === 'struct') out[f.name] = expected(f.fields ?? [], v as Message, version);
    else out[f.name] = v;
  }
  return out;
}

function allVersions(spec: MessageSpec): number[] {
  const out: number[] = [];
  for (let v = spec.validVersions.min; v <= (spec.validVersions.max ?? spec.validVersions.min); v++) out.push(v);
  return out;
}

const CASES = [...MESSAGES.values()].flatMap((m) =>
  [m.request, m.response].flatMap((spec) => allVersions(spec).map((version) => ({ name: `${spec.name} v${version}`, spec, version }))),
);

describe('generic codec: every API, every version, both directions', () => {
  it('knows a schema for every advertised API and version', () => {
    for (const a of API_VERSIONS) {
      const m = MESSAGES.get(a.apiKey);
      expect(m, a.name).toBeDefined();
      for (let v = a.minVersion; v <= a.maxVersion; v++) {
        expect(inRange(m!.request.validVersions, v), `${a.name} request v${v}`).toBe(true);
        expect(inRange(m!.response.validVersions, v), `${a.name} response v${v}`).toBe(true);
      }
    }
  });

  it.each(CASES)('$name round-trips (decode(encode(x)) = x, encode is stable)', ({ spec, version }) => {
    fc.assert(
      fc.property(structArbitrary(spec.fields, version, 0), (value) => {
        const bytes = encodeMessage(spec, version, value).toBuffer();
        const reader = new Reader(bytes);
        const decoded = decodeMessage(spec, version, reader);
        expect(reader.remaining).toBe(0);
        expect(decoded).toEqual(expected(spec.fields, value, version));
        expect(encodeMessage(spec, version, decoded).toBuffer().equals(bytes)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it.each(CASES)('$name: every truncation is a KafkaDecodeError, never another error', ({ spec, version }) => {
    fc.assert(
      fc.property(structArbitrary(spec.fields, version, 0), (value) => {
        const bytes = encodeMessage(spec, version, value).toBuffer();
        for (let cut = 0; cut < bytes.length; cut++) {
          try {
            decodeMessage(spec, version, new Reader(bytes.subarray(0, cut)));
          } catch (err) {
            expect(err).toBeInstanceOf(KafkaDecodeError);
          }
        }
      }),
      { numRuns: 10 },
    );
  });

  it.each(CASES.filter((c) => c.spec.type === 'request'))('$name: random bytes give a value or a KafkaDecodeError', ({ spec, version }) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => {
        try {
          decodeMessage(spec, version, new Reader(Buffer.from(raw)));
        } catch (err) {
          expect(err).toBeInstanceOf(KafkaDecodeError);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('headers: request v0-2 and response v0-1 round-trip; the client id stays non-compact in v2', () => {
    for (const v of [0, 1, 2]) {
      const value = { requestApiKey: 3, requestApiVersion: 8, correlationId: 7, clientId: v === 0 ? null : 'rdkafka' };
      const bytes = encodeMessage(RequestHeader, v, value).toBuffer();
      expect(decodeMessage(RequestHeader, v, new Reader(bytes))).toEqual(value);
      if (v === 2) expect(bytes.toString('hex')).toBe(`000300080000000700077264${Buffer.from('kafka').toString('hex')}00`);
    }
    expect(encodeMessage(ResponseHeader, 1, { correlationId: 1 }).toBuffer().toString('hex')).toBe('0000000100');
  });

  it('a huge array count cannot allocate beyond the bytes that arrived', () => {
    // Metadata v1 request: topics array of 2^31-1 entries in 4 bytes.
    const bytes = Buffer.from('7fffffff', 'hex');
    expect(() => decodeMessage(MESSAGES.get(3)!.request, 1, new Reader(bytes))).toThrow(KafkaDecodeError);
  });

  it('flexible versions write compact lengths and an empty tag buffer', () => {
    const spec = MESSAGES.get(18)!.request;
    expect(isFlexible(spec, 3)).toBe(true);
    const bytes = encodeMessage(spec, 3, { clientSoftwareName: 'a', clientSoftwareVersion: '' }).toBuffer();
    expect(bytes.toString('hex')).toBe('02610100');
  });

  it('a tagged struct (Fetch v12 divergingEpoch, tag 0) is left out at its defaults and sent otherwise', () => {
    const spec = MESSAGES.get(1)!.response;
    const partition = (divergingEpoch: { epoch: number; endOffset: number }) => ({
      partitionIndex: 0,
      errorCode: 0,
      highWatermark: 5,
      lastStableOffset: 5,
      logStartOffset: 0,
      divergingEpoch,
      currentLeader: { leaderId: -1, leaderEpoch: -1 },
      snapshotId: { endOffset: -1, epoch: -1 },
      abortedTransactions: null,
      preferredReadReplica: -1,
      records: Buffer.alloc(0),
    });
    const body = (p: Message) => ({
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [{ topic: 't', topicId: '00000000-0000-0000-0000-000000000000', partitions: [p] }],
    });
    const plain = encodeMessage(spec, 12, body(partition({ epoch: -1, endOffset: -1 }))).toBuffer();
    const diverging = encodeMessage(spec, 12, body(partition({ epoch: 3, endOffset: 42 }))).toBuffer();
    // The partition's tag section: 0 tags, or 1 tag (0) of 13 bytes (int32 epoch, int64 end offset, its own empty tag section).
    expect(diverging.length - plain.length).toBe(1 + 1 + 13);
    expect(diverging.toString('hex')).toContain(`01000d${'00000003'}${'000000000000002a'}00`);
    expect(decodeMessage(spec, 12, new Reader(diverging))).toEqual(body(partition({ epoch: 3, endOffset: 42 })));
    expect(decodeMessage(spec, 12, new Reader(plain))).toEqual(body(partition({ epoch: -1, endOffset: -1 })));
  });

  it('tagged fields: sent when not default, unknown tags skipped', () => {
    const spec = MESSAGES.get(18)!.response;
    const value = {
      errorCode: 0,
      apiKeys: [],
      throttleTimeMs: 0,
      finalizedFeaturesEpoch: 5,
      supportedFeatures: [],
      finalizedFeatures: [],
      zkMigrationReady: false,
    };
    const bytes = encodeMessage(spec, 3, value).toBuffer();
    expect(decodeMessage(spec, 3, new Reader(bytes))).toEqual(value);
    // The tag section is 01 (count) 01 (tag) 08 (size) + 8 bytes; add an unknown tag 9 after it.
    const tags = bytes.subarray(bytes.length - 11);
    expect(tags.subarray(0, 3).toString('hex')).toBe('010108');
    const withUnknown = Buffer.concat([bytes.subarray(0, bytes.length - 11), Buffer.from('02', 'hex'), tags.subarray(1), Buffer.from('0902aabb', 'hex')]);
    expect(decodeMessage(spec, 3, new Reader(withUnknown))).toEqual(value);
  });
});
