// ClusterState: the controller's in-memory view of the cluster, built only by applying metadata
// records (plus two unlogged facts per broker: when it last heartbeated and whether it is in a
// controlled shutdown). It makes no decisions and does no I/O; decisions live in
// broker-registry.ts, topics.ts, election.ts, isr.ts and producer-ids.ts, and read it.

import {
  assert,
  DEFAULT_TOPIC_CONFIGS,
  NO_LEADER,
  type AclBinding,
  type BrokerId,
  type BrokerRegistration,
  type ScramCredentialEntry,
  type ScramMechanismName,
  type ClusterMetadata,
  type PartitionState,
  type TopicState,
} from '@tributary/protocol';
import type { MetadataRecord } from './records.ts';

/** What the controller knows of a broker's session; never logged (rebuilt after a restart). */
export interface BrokerSession {
  lastHeartbeatMs: number;
  /**
   * The controller's stalled-time clock (session-clock.ts) at that heartbeat: the stall since
   * then does not count as the broker's silence.
   */
  stalledMsAtHeartbeat: number;
  /** Set by a controlled shutdown: the broker may not lead or join an ISR until it registers again. */
  shuttingDown: boolean;
}

export class ClusterState {
  clusterId = '';
  /** Bumped once per applied record: equals the number of records in the metadata log. */
  version = 0;
  readonly brokers = new Map<BrokerId, BrokerRegistration>();
  readonly topics = new Map<string, TopicState>();
  /** The newest reserved block of producer ids, [first, end). */
  producerIdBlockFirst = 0;
  producerIdBlockEnd = 0;
  /** The next id to hand out from the block (unlogged: a restart treats the block as spent). */
  nextProducerId = 0;
  readonly sessions = new Map<BrokerId, BrokerSession>();
  /**
   * Partitions with a reassignment in progress (KIP-455), kept by apply so the timers need not
   * scan, with the replica list they had before it started (in order: a cancel restores it). Both
   * follow from the records alone, so a replay rebuilds them.
   */
  readonly reassigning = new Map<string, { topic: string; partition: number; originalReplicas: BrokerId[] }>();
  /**
   * SCRAM credentials by user, then mechanism (issue 20). Entries are replaced, never changed in
   * place, so copies may share them.
   */
  readonly scramCredentials = new Map<string, Map<ScramMechanismName, ScramCredentialEntry>>();
  /** ACLs by id, in creation order. Entries are never changed in place. */
  readonly acls = new Map<string, AclBinding>();
  /** Bumped whenever an ACL is created or deleted (the authorizer's cache key). */
  aclsVersion = 0;

  apply(record: MetadataRecord): void {
    switch (record.type) {
      case 'ClusterId': {
        assert(this.clusterId === '' || this.clusterId === record.clusterId, `cluster id ${record.clusterId} after ${this.clusterId}`);
        this.clusterId = record.clusterId;
        break;
      }
      case 'RegisterBroker': {
        const previous = this.brokers.get(record.brokerId);
        assert(previous === undefined || record.brokerEpoch >= previous.epoch, `broker ${record.brokerId} epoch going backwards`);
        this.brokers.set(record.brokerId, {
          id: record.brokerId,
          rack: record.rack,
          epoch: record.brokerEpoch,
          incarnationId: record.incarnationId,
          internal: { ...record.internal },
          external: { ...record.external },
          ...(record.kafka ? { kafka: { internal: { ...record.kafka.internal }, external: { ...record.kafka.external } } } : {}),
          logDirId: record.logDirId ?? '',
          alive: true,
          // Dynamic broker configs outlive restarts, as in Kafka.
          configs: { ...(previous?.configs ?? {}) },
        });
        this.endShutdown(record.brokerId);
        break;
      }
      case 'FenceBroker':
      case 'UnfenceBroker': {
        const broker = this.brokers.get(record.brokerId);
        assert(broker !== undefined && broker.epoch === record.brokerEpoch, `${record.type} for unknown broker ${record.brokerId} epoch ${record.brokerEpoch}`);
        broker.alive = record.type === 'UnfenceBroker';
        if (broker.alive) this.endShutdown(record.brokerId);
        break;
      }
      case 'CreateTopic': {
        assert(!this.topics.has(record.name), `topic ${record.name} created twice`);
        this.topics.set(record.name, {
          name: record.name,
          topicId: record.topicId,
          // Logs written before a config existed replay with its default.
          configs: { ...DEFAULT_TOPIC_CONFIGS, ...record.configs },
          partitions: record.partitions.map((p) => clonePartition(p)),
        });
        break;
      }
      case 'DeleteTopic': {
        const topic = this.topics.get(record.name);
        assert(topic?.topicId === record.topicId, `delete of unknown topic ${record.name}`);
        for (const p of topic.partitions) this.reassigning.delete(reassignmentKey(record.name, p.partition));
        this.topics.delete(record.name);
        break;
      }
      case 'CreatePartitions': {
        const topic = this.topics.get(record.topic);
        assert(topic !== undefined && topic.topicId === record.topicId, `partitions created for unknown topic ${record.topic}`);
        record.partitions.forEach((p, i) => {
          assert(
            p.partition === topic.partitions.length + i,
            `new partition ${record.topic}-${p.partition} does not follow the ${topic.partitions.length} there`,
          );
          assert(p.replicas.length > 0 && p.isr.every((r) => p.replicas.includes(r)), `new partition ${record.topic}-${p.partition} has a bad replica set`);
        });
        for (const p of record.partitions) topic.partitions.push(clonePartition(p));
        break;
      }
      case 'TopicConfig': {
        const topic = this.topics.get(record.topic);
        assert(topic !== undefined && topic.topicId === record.topicId, `config for unknown topic ${record.topic}`);
        topic.configs = { ...DEFAULT_TOPIC_CONFIGS, ...record.configs };
        break;
      }
      case 'PartitionChange': {
        const topic = this.topics.get(record.topic);
        assert(topic !== undefined && topic.topicId === record.topicId, `partition change for unknown topic ${record.topic}`);
        const partition = topic.partitions[record.partition];
        assert(partition !== undefined, `partition change for unknown partition ${record.topic}-${record.partition}`);
        assert(record.partitionEpoch > partition.partitionEpoch, `partition epoch of ${record.topic}-${record.partition} not increasing`);
        assert(record.leaderEpoch >= partition.leaderEpoch, `leader epoch of ${record.topic}-${record.partition} going backwards`);
        // Empty only while offline: the last member came back without its data (KIP-903).
        assert(record.isr.length > 0 || record.leader === NO_LEADER, `empty ISR for ${record.topic}-${record.partition} with leader ${record.leader}`);
        assert(
          record.leader === NO_LEADER || record.isr.includes(record.leader),
          `leader ${record.leader} outside the ISR of ${record.topic}-${record.partition}`,
        );
        const previousReplicas = partition.replicas;
        const replicas = record.replicas ?? partition.replicas;
        const adding = record.addingReplicas ?? partition.addingReplicas;
        const removing = record.removingReplicas ?? partition.removingReplicas;
        assert(
          replicas.length > 0 && new Set(replicas).size === replicas.length,
          `bad replica list ${JSON.stringify(replicas)} for ${record.topic}-${record.partition}`,
        );
        assert(
          record.isr.every((r) => replicas.includes(r)),
          `ISR ${JSON.stringify(record.isr)} of ${record.topic}-${record.partition} outside its replicas ${JSON.stringify(replicas)}`,
        );
        assert(
          adding.every((r) => replicas.includes(r) && !removing.includes(r)) && removing.every((r) => replicas.includes(r)),
          `adding ${JSON.stringify(adding)} / removing ${JSON.stringify(removing)} of ${record.topic}-${record.partition} do not fit its replicas ${JSON.stringify(replicas)}`,
        );
        partition.leader = record.leader;
        partition.leaderEpoch = record.leaderEpoch;
        partition.partitionEpoch = record.partitionEpoch;
        partition.isr = [...record.isr];
        partition.replicas = [...replicas];
        partition.addingReplicas = [...adding];
        partition.removingReplicas = [...removing];
        this.noteReassignment(record.topic, partition, previousReplicas);
        break;
      }
      case 'ProducerIdBlock': {
        assert(record.firstProducerId >= this.producerIdBlockEnd && record.size > 0, 'producer id blocks overlap');
        this.producerIdBlockFirst = record.firstProducerId;
        this.producerIdBlockEnd = record.firstProducerId + record.size;
        this.nextProducerId = record.firstProducerId;
        break;
      }
      case 'BrokerConfig': {
        const broker = this.brokers.get(record.brokerId);
        assert(broker !== undefined, `config for unknown broker ${record.brokerId}`);
        broker.configs = { ...record.configs };
        break;
      }
      case 'UserScramCredential': {
        assert(record.name.length > 0 && record.iterations > 0, `bad SCRAM credential for '${record.name}'`);
        const { type: _type, ...entry } = record;
        let byMechanism = this.scramCredentials.get(record.name);
        if (byMechanism === undefined) {
          byMechanism = new Map();
          this.scramCredentials.set(record.name, byMechanism);
        }
        byMechanism.set(
          record.mechanism,
          Object.freeze({ ...entry, salt: Buffer.from(entry.salt), storedKey: Buffer.from(entry.storedKey), serverKey: Buffer.from(entry.serverKey) }),
        );
        break;
      }
      case 'RemoveUserScramCredential': {
        const byMechanism = this.scramCredentials.get(record.name);
        assert(byMechanism?.has(record.mechanism) === true, `removal of unknown SCRAM credential ${record.name}/${record.mechanism}`);
        byMechanism.delete(record.mechanism);
        if (byMechanism.size === 0) this.scramCredentials.delete(record.name);
        break;
      }
      case 'AccessControlEntry': {
        assert(!this.acls.has(record.id), `ACL ${record.id} created twice`);
        const { type: _type, id: _id, ...binding } = record;
        this.acls.set(record.id, Object.freeze(binding));
        this.aclsVersion += 1;
        break;
      }
      case 'RemoveAccessControlEntry': {
        assert(this.acls.has(record.id), `removal of unknown ACL ${record.id}`);
        this.acls.delete(record.id);
        this.aclsVersion += 1;
        break;
      }
      default: {
        const never: never = record;
        assert(false, `unhandled record ${JSON.stringify(never)}`);
      }
    }
    this.version += 1;
  }

  private noteReassignment(topic: string, p: PartitionState, previousReplicas: BrokerId[]): void {
    const key = reassignmentKey(topic, p.partition);
    if (p.addingReplicas.length === 0 && p.removingReplicas.length === 0) this.reassigning.delete(key);
    else if (!this.reassigning.has(key)) this.reassigning.set(key, { topic, partition: p.partition, originalReplicas: [...previousReplicas] });
  }

  /** The reassignment in progress on a partition, with its replica list from before it started. */
  reassignment(topic: string, partition: number): { originalReplicas: readonly BrokerId[] } | undefined {
    return this.reassigning.get(reassignmentKey(topic, partition));
  }

  /**
   * Called once the log has been replayed at start: ids of the producer-id block in use before
   * the restart may have been handed out, so that block is spent; and every live broker gets a
   * fresh session (heartbeat times are not logged), so it has a full timeout to check in.
   */
  finishReplay(nowMs: number): void {
    this.nextProducerId = this.producerIdBlockEnd;
    for (const broker of this.brokers.values()) {
      if (broker.alive) this.sessions.set(broker.id, { lastHeartbeatMs: nowMs, stalledMsAtHeartbeat: 0, shuttingDown: false });
    }
  }

  /** A heartbeat (or registration) at `nowMs`, with the controller's stalled-time clock then. */
  touch(brokerId: BrokerId, nowMs: number, stalledMs = 0): void {
    const session = this.sessions.get(brokerId);
    if (session) {
      session.lastHeartbeatMs = nowMs;
      session.stalledMsAtHeartbeat = stalledMs;
    } else {
      this.sessions.set(brokerId, { lastHeartbeatMs: nowMs, stalledMsAtHeartbeat: stalledMs, shuttingDown: false });
    }
  }

  private endShutdown(brokerId: BrokerId): void {
    const session = this.sessions.get(brokerId);
    if (session) session.shuttingDown = false;
  }

  isAlive(brokerId: BrokerId): boolean {
    return this.brokers.get(brokerId)?.alive === true;
  }

  isShuttingDown(brokerId: BrokerId): boolean {
    return this.sessions.get(brokerId)?.shuttingDown === true;
  }

  /** May lead a partition or be added to an ISR: alive and not in a controlled shutdown. */
  isEligible(brokerId: BrokerId): boolean {
    return this.isAlive(brokerId) && !this.isShuttingDown(brokerId);
  }

  liveBrokers(): BrokerRegistration[] {
    return [...this.brokers.values()].filter((b) => b.alive);
  }

  partition(topic: string, partition: number): PartitionState | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  *allPartitions(): Generator<{ topic: TopicState; partition: PartitionState }> {
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) yield { topic, partition };
    }
  }

  /** A deep copy: decisions apply their records to a copy to compute follow-on records. */
  clone(): ClusterState {
    const copy = new ClusterState();
    copy.clusterId = this.clusterId;
    copy.version = this.version;
    for (const [id, broker] of this.brokers) copy.brokers.set(id, structuredClone(broker));
    for (const [name, topic] of this.topics) copy.topics.set(name, structuredClone(topic));
    copy.producerIdBlockFirst = this.producerIdBlockFirst;
    copy.producerIdBlockEnd = this.producerIdBlockEnd;
    copy.nextProducerId = this.nextProducerId;
    for (const [id, session] of this.sessions) copy.sessions.set(id, { ...session });
    for (const [key, value] of this.reassigning) copy.reassigning.set(key, { ...value, originalReplicas: [...value.originalReplicas] });
    for (const [name, byMechanism] of this.scramCredentials) copy.scramCredentials.set(name, new Map(byMechanism));
    for (const [id, acl] of this.acls) copy.acls.set(id, acl);
    copy.aclsVersion = this.aclsVersion;
    return copy;
  }

  /** A user's SCRAM credential for a mechanism. */
  scramCredential(user: string, mechanism: ScramMechanismName): ScramCredentialEntry | undefined {
    return this.scramCredentials.get(user)?.get(mechanism);
  }

  /**
   * The published form (api.ts), a deep copy with brokers by id and topics by name; SCRAM
   * credentials and ACLs only when there are some (their entries are immutable and shared).
   */
  toMetadata(): ClusterMetadata {
    const metadata: ClusterMetadata = {
      clusterId: this.clusterId,
      version: this.version,
      brokers: [...this.brokers.values()].sort((a, b) => a.id - b.id).map((b) => structuredClone(b)),
      topics: [...this.topics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((t) => structuredClone(t)),
    };
    if (this.scramCredentials.size > 0) metadata.scramCredentials = [...this.scramCredentials.values()].flatMap((m) => [...m.values()]);
    if (this.acls.size > 0) metadata.acls = [...this.acls.values()];
    return metadata;
  }
}

/** A copy; adding / removing replicas default to none (records written before they existed). */
export function clonePartition(p: PartitionState): PartitionState {
  return { ...p, replicas: [...p.replicas], isr: [...p.isr], addingReplicas: [...(p.addingReplicas ?? [])], removingReplicas: [...(p.removingReplicas ?? [])] };
}

function reassignmentKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** Builds a decision's records against a private copy of the state, so each sees the last. */
export class Draft {
  readonly state: ClusterState;
  readonly records: MetadataRecord[] = [];

  constructor(base: ClusterState) {
    this.state = base.clone();
  }

  push(record: MetadataRecord): void {
    this.state.apply(record);
    this.records.push(record);
  }
}
