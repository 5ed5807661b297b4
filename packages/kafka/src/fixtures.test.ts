// Byte captures from real clients (packages/kafka/fixtures/*.json: request frames kcat and KafkaJS
// sent to a Tributary broker, recorded by a TCP proxy): each decodes whole with the generic codec,
// and encodes back to the very same bytes.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Writer, decodeMessage, encodeMessage } from './codec.ts';
import { readRequestHeader, requestHeaderVersion } from './frame.ts';
import { MESSAGES, RequestHeader } from './messages.ts';

const DIR = new URL('../fixtures/', import.meta.url);

interface Capture {
  client: string;
  frames: { apiKey: number; apiVersion: number; hex: string }[];
}

const CASES = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .flatMap((file) => {
    const capture = JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as Capture;
    return capture.frames.map((frame) => ({ name: `${capture.client}: ${MESSAGES.get(frame.apiKey)?.name ?? frame.apiKey} v${frame.apiVersion}`, ...frame }));
  });

describe('frames captured from real clients', () => {
  it('has captures of both clients', () => {
    expect(CASES.filter((c) => c.name.startsWith('kcat')).length).toBeGreaterThanOrEqual(12);
    expect(CASES.filter((c) => c.name.startsWith('KafkaJS')).length).toBeGreaterThanOrEqual(15);
  });

  it.each(CASES)('$name decodes whole and re-encodes to the same bytes', ({ apiKey, apiVersion, hex }) => {
    const frame = Buffer.from(hex, 'hex');
    const { header, reader } = readRequestHeader(frame);
    expect(header).toMatchObject({ apiKey, apiVersion });
    const body = decodeMessage(MESSAGES.get(apiKey)!.request, apiVersion, reader);
    expect(reader.remaining).toBe(0);
    const w = new Writer();
    encodeMessage(RequestHeader, requestHeaderVersion(apiKey, apiVersion), { ...header, requestApiKey: apiKey, requestApiVersion: apiVersion }, w);
    encodeMessage(MESSAGES.get(apiKey)!.request, apiVersion, body, w);
    expect(w.toBuffer().toString('hex')).toBe(hex);
  });
});
