// Field checks for request bodies. Every route validates what it reads, so malformed input
// (wrong types, negative or huge numbers, missing fields) answers INVALID_REQUEST naming the field
// instead of reaching the core as garbage.

import { TributaryError } from './errors.ts';

function invalid(message: string): TributaryError {
  return new TributaryError('INVALID_REQUEST', message);
}

export type Body = Record<string, unknown>;

export function asBody(value: unknown, what = 'request body'): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value)) {
    throw invalid(`${what} must be a map`);
  }
  return value as Body;
}

export interface IntLimits {
  min?: number;
  max?: number;
}

export function intField(body: Body, name: string, limits: IntLimits = {}): number {
  const value = body[name];
  const min = limits.min ?? Number.MIN_SAFE_INTEGER;
  const max = limits.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`field '${name}' must be an integer in [${min}, ${max}], got ${describe(value)}`);
  }
  return value;
}

export function optionalIntField(body: Body, name: string, fallback: number, limits: IntLimits = {}): number {
  return body[name] === undefined || body[name] === null ? fallback : intField(body, name, limits);
}

export function stringField(body: Body, name: string, maxLength = 4096): string {
  const value = body[name];
  if (typeof value !== 'string' || value.length > maxLength) {
    throw invalid(`field '${name}' must be a string of at most ${maxLength} characters, got ${describe(value)}`);
  }
  return value;
}

export function optionalStringField(body: Body, name: string, maxLength = 4096): string | undefined {
  return body[name] === undefined || body[name] === null ? undefined : stringField(body, name, maxLength);
}

export function boolField(body: Body, name: string, fallback: boolean): boolean {
  const value = body[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw invalid(`field '${name}' must be a boolean, got ${describe(value)}`);
  return value;
}

export function bytesField(body: Body, name: string): Buffer {
  const value = body[name];
  if (!(value instanceof Uint8Array)) {
    throw invalid(`field '${name}' must be binary, got ${describe(value)}`);
  }
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

export function arrayField(body: Body, name: string, maxLength = 100_000): unknown[] {
  const value = body[name];
  if (!Array.isArray(value) || value.length > maxLength) {
    throw invalid(`field '${name}' must be an array of at most ${maxLength} items, got ${describe(value)}`);
  }
  return value;
}

export function intArrayField(body: Body, name: string, limits: IntLimits = {}, maxLength = 10_000): number[] {
  return arrayField(body, name, maxLength).map((item, i) => intField({ [`${name}[${i}]`]: item }, `${name}[${i}]`, limits));
}

export function endpointField(body: Body, name: string): { host: string; port: number } {
  const value = asBody(body[name], `field '${name}'`);
  return { host: stringField(value, 'host', 255), port: intField(value, 'port', { min: 1, max: 65535 }) };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `${value.length} bytes of binary`;
  const text = JSON.stringify(value);
  return text === undefined ? typeof value : text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
