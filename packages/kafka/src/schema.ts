// The declarative message schemas' vocabulary, after Kafka's own message definitions
// (clients/src/main/resources/common/message/*.json in Apache Kafka): a message has valid and
// flexible version ranges and a list of fields; a field has a type, the versions it exists in,
// the versions in which it may be null, and, in flexible versions, may be a tagged field
// (KIP-482). Types: int8 int16 int32 int64 uint16 float64 bool string bytes records uuid, arrays
// of those ("[]int32") and arrays of structs ("[]" with `fields`). A string, bytes or array field
// of a flexible version is sent in its compact form (unsigned varint length + 1).

/** An inclusive version range; `max` undefined = no upper bound ("3+"). */
export interface VersionRange {
  readonly min: number;
  readonly max: number | undefined;
}

export type PrimitiveType = 'int8' | 'int16' | 'int32' | 'int64' | 'uint16' | 'float64' | 'bool' | 'string' | 'bytes' | 'records' | 'uuid';

export interface FieldSpec {
  readonly name: string;
  /** A primitive, `[]primitive`, or `[]` with `fields` (an array of structs), or `struct` with `fields`. */
  readonly type: PrimitiveType | `[]${PrimitiveType}` | '[]' | 'struct';
  readonly versions: VersionRange;
  readonly nullableVersions?: VersionRange;
  /** A tagged field (flexible versions only): its tag, and the versions it may be sent in. */
  readonly tag?: number;
  readonly taggedVersions?: VersionRange;
  /** The value a decoder gives when the field is absent from the version (and a tagged field's "not sent"). */
  readonly default?: unknown;
  readonly fields?: readonly FieldSpec[];
  /** Kafka's field-level `"flexibleVersions": "none"`: sent non-compact even in flexible versions (the request header's client id). */
  readonly neverCompact?: boolean;
}

export interface MessageSpec {
  readonly apiKey: number;
  readonly name: string;
  readonly type: 'request' | 'response' | 'header';
  readonly validVersions: VersionRange;
  /** Versions using compact strings, bytes and arrays, and tagged fields; 'none' = never. */
  readonly flexibleVersions: VersionRange | 'none';
  readonly fields: readonly FieldSpec[];
}

/** Parses Kafka's version notation: "3+", "0-8", "5", "none". */
export function versions(text: string): VersionRange {
  const plus = /^(\d+)\+$/.exec(text);
  if (plus) return { min: Number(plus[1]), max: undefined };
  const range = /^(\d+)-(\d+)$/.exec(text);
  if (range) return { min: Number(range[1]), max: Number(range[2]) };
  if (/^\d+$/.test(text)) return { min: Number(text), max: Number(text) };
  if (text === 'none') return { min: 1, max: 0 };
  throw new Error(`bad version range '${text}'`);
}

export function inRange(range: VersionRange | 'none' | undefined, version: number): boolean {
  if (range === undefined || range === 'none') return false;
  return version >= range.min && (range.max === undefined || version <= range.max);
}

type FieldOptions = Partial<Omit<FieldSpec, 'name' | 'type' | 'versions' | 'nullableVersions' | 'taggedVersions'>> & {
  nullable?: string;
  tagged?: string;
};

/** A field: `field('Leader', 'int32', '0+')`; nullable and tagged versions as Kafka writes them. */
export function field(name: string, type: FieldSpec['type'], versionText: string, options: FieldOptions = {}): FieldSpec {
  const { nullable, tagged, ...rest } = options;
  return {
    name,
    type,
    versions: versions(versionText),
    ...(nullable !== undefined ? { nullableVersions: versions(nullable) } : {}),
    ...(tagged !== undefined ? { taggedVersions: versions(tagged) } : {}),
    ...rest,
  };
}

/** An array of structs. */
export function structs(name: string, versionText: string, fields: readonly FieldSpec[], options: FieldOptions = {}): FieldSpec {
  return field(name, '[]', versionText, { ...options, fields });
}

export function message(apiKey: number, name: string, type: MessageSpec['type'], valid: string, flexible: string, fields: readonly FieldSpec[]): MessageSpec {
  return { apiKey, name, type, validVersions: versions(valid), flexibleVersions: flexible === 'none' ? 'none' : versions(flexible), fields };
}
