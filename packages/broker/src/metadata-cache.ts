// The broker's copy of the controller's cluster metadata, indexed for lookups on the hot path.
// Replaced whole on every newer version the long poll brings (never mutated in place).

import type {
  AclBinding,
  BrokerId,
  BrokerRegistration,
  ClusterMetadata,
  PartitionState,
  ScramCredentialEntry,
  ScramMechanismName,
  TopicState,
} from '@tributary/protocol';

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
