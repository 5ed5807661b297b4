// Metadata snapshots (KRaft's `<offset>-<epoch>.checkpoint` under __cluster_metadata-0): the whole
// ClusterState at a version, so a controller start loads the newest snapshot and replays only the
// records after it, and the metadata log can drop the segments a snapshot covers.
//
// A snapshot file is one v2 record batch (the log's own codec: its CRC-32C covers the bytes)
// whose base offset is the version and whose one record's value is the msgpack of the state:
//
//   <dir>/<version, 20 digits>.snapshot
//
// Written crash-safely: to `<name>.tmp`, fsynced, renamed over, then the directory fsynced. A
// crash at any point leaves the older snapshots and the log as they were (a `.tmp` is ignored and
// removed on the next load), or the new snapshot complete. A snapshot that does not read back
// whole (torn, bit rot) is skipped for the next older one: the newest two are kept, and the log is
// only truncated below the older of them (cluster-controller.ts), so one bad file costs a longer
// replay, not the metadata.

import { join } from 'node:path';
import {
  assert,
  checkBatchCrc,
  decodeBatches,
  decodeMsgpack,
  encodeBatch,
  encodeMsgpack,
  LOG_OVERHEAD,
  type AclBinding,
  type BrokerId,
  type BrokerRegistration,
  type ScramCredentialEntry,
  type TopicState,
} from '@tributary/protocol';
import { nodeFs, type StorageFs } from '@tributary/storage';
import { ClusterState, clonePartition } from './cluster-state.ts';

/** The state a snapshot holds: everything ClusterState.apply builds (sessions are not logged). */
export interface MetadataSnapshot {
  format: 1;
  version: number;
  clusterId: string;
  brokers: BrokerRegistration[];
  topics: TopicState[];
  producerIdBlockFirst: number;
  producerIdBlockEnd: number;
  reassigning: { topic: string; partition: number; originalReplicas: BrokerId[] }[];
  /** Security (issue 20); absent in snapshots written before it: none. */
  scramCredentials?: ScramCredentialEntry[];
  acls?: { id: string; binding: AclBinding }[];
  aclsVersion?: number;
}

export function snapshotOf(state: ClusterState): MetadataSnapshot {
  return {
    format: 1,
    version: state.version,
    clusterId: state.clusterId,
    brokers: [...state.brokers.values()].sort((a, b) => a.id - b.id),
    topics: [...state.topics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    producerIdBlockFirst: state.producerIdBlockFirst,
    producerIdBlockEnd: state.producerIdBlockEnd,
    reassigning: [...state.reassigning.values()],
    scramCredentials: [...state.scramCredentials.values()].flatMap((m) => [...m.values()]),
    acls: [...state.acls].map(([id, binding]) => ({ id, binding })),
    aclsVersion: state.aclsVersion,
  };
}

/** A ClusterState exactly as replaying the records up to the snapshot's version built it. */
export function stateFromSnapshot(snapshot: MetadataSnapshot): ClusterState {
  assert(snapshot.format === 1, `unknown metadata snapshot format ${String(snapshot.format)}`);
  const state = new ClusterState();
  state.clusterId = snapshot.clusterId;
  state.version = snapshot.version;
  for (const b of snapshot.brokers) state.brokers.set(b.id, { ...b, internal: { ...b.internal }, external: { ...b.external }, configs: { ...b.configs } });
  for (const t of snapshot.topics) state.topics.set(t.name, { ...t, configs: { ...t.configs }, partitions: t.partitions.map((p) => clonePartition(p)) });
  state.producerIdBlockFirst = snapshot.producerIdBlockFirst;
  state.producerIdBlockEnd = snapshot.producerIdBlockEnd;
  state.nextProducerId = snapshot.producerIdBlockFirst;
  for (const r of snapshot.reassigning) state.reassigning.set(`${r.topic}\u0000${r.partition}`, { ...r, originalReplicas: [...r.originalReplicas] });
  for (const c of snapshot.scramCredentials ?? []) {
    let byMechanism = state.scramCredentials.get(c.name);
    if (byMechanism === undefined) {
      byMechanism = new Map();
      state.scramCredentials.set(c.name, byMechanism);
    }
    byMechanism.set(c.mechanism, Object.freeze({ ...c, salt: Buffer.from(c.salt), storedKey: Buffer.from(c.storedKey), serverKey: Buffer.from(c.serverKey) }));
  }
  for (const { id, binding } of snapshot.acls ?? []) state.acls.set(id, Object.freeze({ ...binding }));
  state.aclsVersion = snapshot.aclsVersion ?? 0;
  return state;
}

export function encodeSnapshot(snapshot: MetadataSnapshot, nowMs = Date.now()): Buffer {
  return encodeBatch([{ key: null, value: encodeMsgpack(snapshot), timestamp: nowMs }], { baseOffset: snapshot.version, baseTimestamp: nowMs });
}

/** Decodes a snapshot file's bytes; throws when they are not exactly one whole, intact batch. */
export function decodeSnapshot(bytes: Buffer): MetadataSnapshot {
  const header = checkBatchCrc(bytes);
  if (header.batchLength + LOG_OVERHEAD !== bytes.length)
    throw new Error(`snapshot holds ${bytes.length} bytes, its batch ${header.batchLength + LOG_OVERHEAD}`);
  const records = decodeBatches(bytes);
  if (records.length !== 1 || records[0]!.value === null) throw new Error(`snapshot holds ${records.length} records, expected one`);
  const snapshot = decodeMsgpack(records[0]!.value) as MetadataSnapshot;
  if (snapshot?.format !== 1 || snapshot.version !== header.baseOffset) throw new Error(`snapshot format or version does not match its batch`);
  return snapshot;
}

const SUFFIX = '.snapshot';
const TMP = '.tmp';

function fileName(version: number): string {
  return `${String(version).padStart(20, '0')}${SUFFIX}`;
}

export interface SnapshotLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** The snapshot files of one controller. */
export class SnapshotStore {
  readonly dir: string;
  private readonly fs: StorageFs;
  private readonly logger: SnapshotLogger | undefined;
  /** Snapshots kept: the newest and the one before (the log keeps the records since the older). */
  static readonly KEEP = 2;

  constructor(dir: string, options: { fs?: StorageFs; logger?: SnapshotLogger } = {}) {
    this.dir = dir;
    this.fs = options.fs ?? nodeFs;
    this.logger = options.logger;
    if (!this.fs.existsSync(dir)) this.fs.mkdirSync(dir);
  }

  /** Versions of the complete snapshot files, newest first (not checked: load does that). */
  versions(): number[] {
    return this.fs
      .readdirSync(this.dir)
      .filter((n) => n.endsWith(SUFFIX) && /^\d{20}\.snapshot$/.test(n))
      .map((n) => Number(n.slice(0, 20)))
      .sort((a, b) => b - a);
  }

  /**
   * The newest snapshot that reads back whole, or undefined when there is none. Leftover `.tmp`
   * files (a crash while writing) are removed; unreadable snapshots are skipped, with a warning.
   */
  loadLatest(): MetadataSnapshot | undefined {
    for (const name of this.fs.readdirSync(this.dir)) {
      if (name.endsWith(TMP)) {
        this.fs.unlinkSync(join(this.dir, name));
        this.logger?.info({ file: name }, 'removed an unfinished metadata snapshot');
      }
    }
    for (const version of this.versions()) {
      const path = join(this.dir, fileName(version));
      try {
        return decodeSnapshot(this.fs.readFileSync(path));
      } catch (err) {
        this.logger?.warn({ file: path, err }, 'metadata snapshot unreadable; trying the one before');
      }
    }
    return undefined;
  }

  /**
   * Writes `snapshot` durably (temp file, fsync, rename, directory fsync), then removes all but
   * the newest KEEP. Returns the versions kept, newest first.
   */
  write(snapshot: MetadataSnapshot, nowMs = Date.now()): number[] {
    const bytes = encodeSnapshot(snapshot, nowMs);
    const final = join(this.dir, fileName(snapshot.version));
    const tmp = `${final}${TMP}`;
    const fd = this.fs.openSync(tmp, 'w');
    try {
      let done = 0;
      while (done < bytes.length) {
        const n = this.fs.writeSync(fd, bytes, done, bytes.length - done, done);
        assert(n > 0, `short write of ${tmp}`);
        done += n;
      }
      this.fs.fsyncSync(fd);
    } finally {
      this.fs.closeSync(fd);
    }
    this.fs.renameSync(tmp, final);
    this.syncDir();
    const versions = this.versions();
    for (const old of versions.slice(SnapshotStore.KEEP)) this.fs.unlinkSync(join(this.dir, fileName(old)));
    return versions.slice(0, SnapshotStore.KEEP);
  }

  private syncDir(): void {
    const fd = this.fs.openSync(this.dir, 'r');
    try {
      this.fs.fsyncSync(fd);
    } finally {
      this.fs.closeSync(fd);
    }
  }
}
