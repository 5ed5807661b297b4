// @tributary/coordinator: consumer groups under Kafka's classic group protocol, sans-I/O. The
// broker hosts a GroupCoordinator for the `__consumer_offsets` partitions it leads; this package
// holds the rules (group state machine, offset cache, record formats, loader), the broker the I/O.

export { javaStringHashCode, kafkaAbs, partitionForGroup } from './hash.ts';
export {
  decodeRecord,
  encodeRecord,
  encodeGroupMetadataValue,
  encodeOffsetCommitValue,
  groupMetadataKey,
  offsetCommitKey,
  type GroupMetadataValue,
  type MemberMetadataValue,
  type OffsetCommitValue,
  type OffsetsRecord,
} from './records.ts';
export { GroupLoader, tpKey, type LoadedGroup, type LoadedOffset, type LoadStats } from './loader.ts';
export { OffsetTable, type CommittedOffsetEntry, type ExpiryBase } from './offset-table.ts';
export {
  GroupMember,
  GroupState,
  newGroupOutput,
  type GroupConfig,
  type GroupOutput,
  type GroupStore,
  type JoinInput,
  type Reply,
  type RequestId,
} from './group.ts';
export {
  DEFAULT_GROUP_COORDINATOR_CONFIG,
  GROUP_ID_LENGTH_MAX,
  GroupCoordinator,
  appendErrorCode,
  type AppendOutcome,
  type AppendRequest,
  type CommitInput,
  type CoordinatorOutput,
  type GroupCoordinatorConfig,
  type GroupCoordinatorOptions,
  type JoinRequestInput,
} from './group-coordinator.ts';
