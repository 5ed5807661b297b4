// The metadata records: every change to the cluster metadata is one of these, appended (and
// fsynced) to the controller's metadata log before it takes effect, and replayed on start
// (DESIGN.md § Controller). Records carry full new values, never deltas, so applying one is a
// plain assignment. Each record is stored as the msgpack value of one record in a v2 record batch;
// one decision's records go into one batch, so a torn write loses a whole decision, never half.

import {
  assert,
  decodeMsgpack,
  encodeMsgpack,
  type AclBinding,
  type BrokerId,
  type Endpoint,
  type KafkaListeners,
  type PartitionState,
  type ScramMechanismName,
  type TopicConfigs,
} from '@tributary/protocol';

/** The cluster id, written once when the log is empty. */
export interface ClusterIdRecord {
  type: 'ClusterId';
  clusterId: string;
}

/** A broker registered (new incarnation: new epoch) and is alive. */
export interface RegisterBrokerRecord {
  type: 'RegisterBroker';
  brokerId: BrokerId;
  brokerEpoch: number;
  incarnationId: string;
  rack: string;
  internal: Endpoint;
  external: Endpoint;
  /** Its Kafka-protocol listeners (absent: none, or a log written before they existed). */
  kafka?: KafkaListeners;
  /** Its data dir's id (absent in logs written before it was recorded: treated as unknown). */
  logDirId?: string;
}

/** A broker's session expired or it finished a controlled shutdown: alive = false. */
export interface FenceBrokerRecord {
  type: 'FenceBroker';
  brokerId: BrokerId;
  brokerEpoch: number;
}

/** A fenced broker re-registered with the same incarnation: alive again, epoch unchanged. */
export interface UnfenceBrokerRecord {
  type: 'UnfenceBroker';
  brokerId: BrokerId;
  brokerEpoch: number;
}

export interface CreateTopicRecord {
  type: 'CreateTopic';
  name: string;
  topicId: string;
  configs: TopicConfigs;
  /** Full initial state of every partition, in partition order. */
  partitions: PartitionState[];
}

export interface DeleteTopicRecord {
  type: 'DeleteTopic';
  name: string;
  topicId: string;
}

/**
 * New leader / ISR of one partition (KRaft's PartitionChangeRecord, with full values). A
 * reassignment's steps (KIP-455: start, completion, cancel) also carry the full new replica
 * list and its adding / removing replicas; absent means unchanged (and so in every record written
 * before reassignments existed).
 */
export interface PartitionChangeRecord {
  type: 'PartitionChange';
  topic: string;
  topicId: string;
  partition: number;
  leader: BrokerId;
  leaderEpoch: number;
  partitionEpoch: number;
  isr: BrokerId[];
  replicas?: BrokerId[];
  addingReplicas?: BrokerId[];
  removingReplicas?: BrokerId[];
}

/** Partitions added to an existing topic (Kafka's CreatePartitions; one PartitionRecord each there). */
export interface CreatePartitionsRecord {
  type: 'CreatePartitions';
  topic: string;
  topicId: string;
  /** Full initial state of each new partition, numbered on from the topic's current count. */
  partitions: PartitionState[];
}

/** The complete config set of a topic after an alter-configs (Kafka's ConfigRecord, whole). */
export interface TopicConfigRecord {
  type: 'TopicConfig';
  topic: string;
  topicId: string;
  configs: TopicConfigs;
}

/** A block of producer ids [firstProducerId, firstProducerId + size) now reserved. */
export interface ProducerIdBlockRecord {
  type: 'ProducerIdBlock';
  firstProducerId: number;
  size: number;
}

/** The complete set of dynamic configs of one broker after an Admin change. */
export interface BrokerConfigRecord {
  type: 'BrokerConfig';
  brokerId: BrokerId;
  configs: Record<string, number>;
}

/** A user's SCRAM credential for one mechanism, created or replaced (Kafka's UserScramCredentialRecord). */
export interface UserScramCredentialRecord {
  type: 'UserScramCredential';
  name: string;
  mechanism: ScramMechanismName;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
  iterations: number;
}

/** A user's SCRAM credential for one mechanism, deleted (Kafka's RemoveUserScramCredentialRecord). */
export interface RemoveUserScramCredentialRecord {
  type: 'RemoveUserScramCredential';
  name: string;
  mechanism: ScramMechanismName;
}

/** An ACL created, with its id (Kafka's AccessControlEntryRecord). */
export interface AccessControlEntryRecord extends AclBinding {
  type: 'AccessControlEntry';
  id: string;
}

/** An ACL deleted (Kafka's RemoveAccessControlEntryRecord). */
export interface RemoveAccessControlEntryRecord {
  type: 'RemoveAccessControlEntry';
  id: string;
}

export type MetadataRecord =
  | ClusterIdRecord
  | RegisterBrokerRecord
  | FenceBrokerRecord
  | UnfenceBrokerRecord
  | CreateTopicRecord
  | DeleteTopicRecord
  | PartitionChangeRecord
  | CreatePartitionsRecord
  | TopicConfigRecord
  | ProducerIdBlockRecord
  | BrokerConfigRecord
  | UserScramCredentialRecord
  | RemoveUserScramCredentialRecord
  | AccessControlEntryRecord
  | RemoveAccessControlEntryRecord;

export type MetadataRecordType = MetadataRecord['type'];

const RECORD_TYPES: ReadonlySet<string> = new Set<MetadataRecordType>([
  'ClusterId',
  'RegisterBroker',
  'FenceBroker',
  'UnfenceBroker',
  'CreateTopic',
  'DeleteTopic',
  'PartitionChange',
  'CreatePartitions',
  'TopicConfig',
  'ProducerIdBlock',
  'BrokerConfig',
  'UserScramCredential',
  'RemoveUserScramCredential',
  'AccessControlEntry',
  'RemoveAccessControlEntry',
]);

export function encodeRecord(record: MetadataRecord): Buffer {
  return encodeMsgpack(record);
}

/**
 * Decodes a record read back from the metadata log. The batch CRC already vouched for the
 * bytes, so an unknown type means a bug (or a log from a newer version): crash, do not guess.
 */
export function decodeRecord(bytes: Buffer): MetadataRecord {
  const value = decodeMsgpack(bytes) as { type?: unknown } | null;
  assert(value !== null && typeof value === 'object' && RECORD_TYPES.has(String(value.type)), `unknown metadata record ${JSON.stringify(value)}`);
  return value as MetadataRecord;
}
