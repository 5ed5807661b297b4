// The data dir's identity, Kafka's `meta.properties`:
//
//   version=1
//   node.id=3
//   directory.id=Fq1c2Sg8QiO6lPkd_5YvOw     made once, when the data dir is first used (KIP-858)
//   cluster.id=hB3y0b2lS0W2pX6T4S2WnA       the cluster it joined ('' until its first metadata)
//
// A broker registers with its directory id, so the controller can tell a restart (same disk)
// from a disk that was lost or replaced (a new id: whatever the broker held is gone, KIP-903).
// It refuses to start on another node's data dir, and refuses metadata from another cluster.

import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TributaryError } from '@tributary/protocol';

export const META_PROPERTIES_FILE = 'meta.properties';

export interface MetaProperties {
  nodeId: number;
  directoryId: string;
  clusterId: string;
}

/** Parses the file's `key=value` lines; undefined when a required key is missing or malformed. */
export function parseMetaProperties(text: string): MetaProperties | undefined {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    if (eq > 0) values.set(trimmed.slice(0, eq).trim(), trimmed.slice(eq + 1).trim());
  }
  const nodeId = Number(values.get('node.id'));
  const directoryId = values.get('directory.id') ?? '';
  if (values.get('version') !== '1' || !Number.isSafeInteger(nodeId) || nodeId < 0 || !/^[A-Za-z0-9_-]{8,64}$/.test(directoryId)) return undefined;
  return { nodeId, directoryId, clusterId: values.get('cluster.id') ?? '' };
}

export function formatMetaProperties(meta: MetaProperties): string {
  return `version=1\nnode.id=${meta.nodeId}\ndirectory.id=${meta.directoryId}\ncluster.id=${meta.clusterId}\n`;
}

/** A new directory id: 16 random bytes, base64url, as Kafka's Uuid prints. */
export function newDirectoryId(): string {
  return randomBytes(16).toString('base64url');
}

/** The data dir's meta.properties: read or made at start, and updated once with the cluster id. */
export class DataDirIdentity {
  readonly path: string;
  private meta: MetaProperties;
  /** True when this start made the file: the data dir is new (first start, or its disk was lost). */
  readonly created: boolean;

  /**
   * Reads `<dataDir>/meta.properties`, or writes a new one with a fresh directory id when there is
   * none. Throws KAFKA_STORAGE_ERROR when it cannot be read or written, or belongs to another node.
   */
  constructor(dataDir: string, nodeId: number) {
    this.path = join(dataDir, META_PROPERTIES_FILE);
    let text: string | undefined;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new TributaryError('KAFKA_STORAGE_ERROR', `reading ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    if (text === undefined) {
      this.meta = { nodeId, directoryId: newDirectoryId(), clusterId: '' };
      this.write();
      this.created = true;
      return;
    }
    const parsed = parseMetaProperties(text);
    if (parsed === undefined) {
      throw new TributaryError(
        'KAFKA_STORAGE_ERROR',
        `${this.path} is not a valid meta.properties (version=1, node.id, directory.id, cluster.id); fix or remove it`,
      );
    }
    if (parsed.nodeId !== nodeId) {
      throw new TributaryError(
        'KAFKA_STORAGE_ERROR',
        `${this.path} says this data dir belongs to broker ${parsed.nodeId}, not ${nodeId}; give broker ${nodeId} its own data dir`,
      );
    }
    this.meta = parsed;
    this.created = false;
  }

  get directoryId(): string {
    return this.meta.directoryId;
  }

  /** '' until the broker has joined a cluster. */
  get clusterId(): string {
    return this.meta.clusterId;
  }

  /** Records the cluster this data dir joined (once; a different one is the caller's to refuse). */
  joinCluster(clusterId: string): void {
    if (this.meta.clusterId === clusterId) return;
    this.meta = { ...this.meta, clusterId };
    this.write();
  }

  /** Temp file, fsync, rename, fsync of the directory: the file is either the old or the new one. */
  private write(): void {
    const tmp = `${this.path}.tmp`;
    try {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, formatMetaProperties(this.meta));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
      const dir = openSync(dirname(this.path), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch (err) {
      throw new TributaryError('KAFKA_STORAGE_ERROR', `writing ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }
}
