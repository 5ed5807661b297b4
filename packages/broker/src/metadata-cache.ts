// The broker's copy of the controller's cluster metadata, indexed for lookups on the hot path.
// Never mutated in place: each newer version the long poll brings makes a new cache, either from
// the whole metadata or from the last cache and a delta (what changed since its version, sharing
// every topic the delta does not touch), which also says which partitions changed so the
// ReplicaManager walks only those.

import {
  TributaryError,
  type AclBinding,
  type BrokerId,
  type BrokerRegistration,
  type ClusterMetadata,
  type MetadataDeltaResponse,
  type PartitionState,
  type ScramCredentialEntry,
  type ScramMechanismName,
  type TopicState,
} from '@tributary/protocol';

/** What a delta changed: the partitions to look at again, and topics gone or replaced. */
export interface MetadataChanges {
  /** Partitions created, changed, or of a topic whose configs changed, keyed `${topic}-${partition}`. */
  partitions: Map<string, { topic: string; partition: number }>;
  /** Names of topics deleted or re-created (their old partitions held here must go). */
  replacedTopics: Set<string>;
}

export class MetadataCache {
  readonly metadata: ClusterMetadata;
  private readonly topics = new Map<string, TopicState>();
  private readonly brokers = new Map<BrokerId, BrokerRegistration>();
  /** SCRAM credentials by `user\u0000mechanism`, built on first use. */
  private credentials: Map<string, ScramCredentialEntry> | undefined;

  constructor(metadata: ClusterMetadata) {
    this.metadata = metadata;
    for (const t of metadata.topics) this.topics.set(t.name, t);
    for (const b of metadata.brokers) this.brokers.set(b.id, b);
  }

  /**
   * The cache at the delta's version: this cache's metadata with the delta applied. Throws
   * (INVALID_REQUEST) when the delta does not start at this version or names a topic it cannot
   * patch; the caller then asks for the whole metadata.
   */
  withDelta(response: MetadataDeltaResponse): { cache: MetadataCache; changes: MetadataChanges } {
    const { delta } = response;
    if (delta.fromVersion !== this.version) {
      throw new TributaryError('INVALID_REQUEST', `metadata delta from version ${delta.fromVersion} does not apply to version ${this.version}`);
    }
    const changes: MetadataChanges = { partitions: new Map(), replacedTopics: new Set() };
    const brokers = new Map(this.brokers);
    for (const b of delta.brokers) brokers.set(b.id, b);
    const topics = new Map(this.topics);
    for (const gone of delta.deletedTopics) {
      if (topics.get(gone.name)?.topicId === gone.topicId) topics.delete(gone.name);
      changes.replacedTopics.add(gone.name);
    }
    const touch = (topic: string, partition: number) => changes.partitions.set(`${topic}-${partition}`, { topic, partition });
    for (const t of delta.topics) {
      const existing = topics.get(t.name);
      if (t.full || existing === undefined) {
        if (!t.full) throw new TributaryError('INVALID_REQUEST', `metadata delta changes topic ${t.name}, which this broker does not hold`);
        if (existing !== undefined && existing.topicId !== t.topicId) changes.replacedTopics.add(t.name);
        topics.set(t.name, { name: t.name, topicId: t.topicId, configs: t.configs, partitions: t.partitions });
        for (const p of t.partitions) touch(t.name, p.partition);
        continue;
      }
      if (existing.topicId !== t.topicId) throw new TributaryError('INVALID_REQUEST', `metadata delta patches topic ${t.name} under another topic id`);
      const partitions = existing.partitions.slice();
      for (const p of t.partitions) {
        if (p.partition > partitions.length) throw new TributaryError('INVALID_REQUEST', `metadata delta adds ${t.name}-${p.partition} past the end`);
        partitions[p.partition] = p;
        touch(t.name, p.partition);
      }
      // A config change concerns every partition of the topic (min ISR, throttled replicas).
      if (t.configsChanged) for (const p of partitions) touch(t.name, p.partition);
      topics.set(t.name, { ...existing, configs: t.configs, partitions });
    }
    const metadata: ClusterMetadata = {
      clusterId: response.clusterId,
      version: response.version,
      brokers: [...brokers.values()].sort((a, b) => a.id - b.id),
      topics: [...topics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    };
    // Credentials and ACLs come whole when they changed; otherwise this cache's stand.
    const scramCredentials = delta.scramCredentials ?? this.metadata.scramCredentials;
    const acls = delta.acls ?? this.metadata.acls;
    if (scramCredentials !== undefined && scramCredentials.length > 0) metadata.scramCredentials = scramCredentials;
    if (acls !== undefined && acls.length > 0) metadata.acls = acls;
    return { cache: new MetadataCache(metadata), changes };
  }

  static empty(): MetadataCache {
    return new MetadataCache({ clusterId: '', version: -1, brokers: [], topics: [] });
  }

  get version(): number {
    return this.metadata.version;
  }

  topic(name: string): TopicState | undefined {
    return this.topics.get(name);
  }

  partition(topic: string, partition: number): PartitionState | undefined {
    const t = this.topics.get(topic);
    if (t === undefined) return undefined;
    const p = t.partitions[partition];
    return p !== undefined && p.partition === partition ? p : t.partitions.find((x) => x.partition === partition);
  }

  broker(id: BrokerId): BrokerRegistration | undefined {
    return this.brokers.get(id);
  }

  isAlive(id: BrokerId): boolean {
    return this.brokers.get(id)?.alive === true;
  }

  allTopics(): readonly TopicState[] {
    return this.metadata.topics;
  }

  allBrokers(): readonly BrokerRegistration[] {
    return this.metadata.brokers;
  }

  /** A user's SCRAM credential (issue 20): what clients authenticate against. */
  scramCredential(user: string, mechanism: ScramMechanismName): ScramCredentialEntry | undefined {
    if (this.credentials === undefined) {
      this.credentials = new Map();
      for (const c of this.metadata.scramCredentials ?? []) this.credentials.set(`${c.name}\u0000${c.mechanism}`, c);
    }
    return this.credentials.get(`${user}\u0000${mechanism}`);
  }

  /** The ACLs; they change only with the metadata version. */
  acls(): readonly AclBinding[] {
    return this.metadata.acls ?? [];
  }
}
