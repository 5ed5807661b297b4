// @tributary/client: Producer, Consumer and Admin over msgpack/HTTP (undici; never fastify).
export { Admin, DESCRIBE_REPLICAS_TIMEOUT_MS } from './admin.ts';
export { GroupClient } from './group-client.ts';
export type { GroupCallOptions, GroupClientOptions, GroupListing } from './group-client.ts';
export type {
  AdminOptions,
  GroupPartitionOffset,
  GroupMemberView,
  GroupView,
  OffsetResetPlanEntry,
  OffsetResetSpec,
  ClusterDescription,
  CreateTopicOptions,
  PartitionReassignment,
  PartitionReassignmentResult,
  ReplicaDescription,
  TopicDescription,
  VerbosePartitionDescription,
  VerboseTopicDescription,
} from './admin.ts';
export { Producer } from './producer.ts';
export type { HeadersInput, ProducerOptions, ProducerRecord, RecordMetadata } from './producer.ts';
export { Consumer } from './consumer.ts';
export type { ConsumerOptions, ConsumerRecord, OffsetSpec, RebalanceListener, SubscribeOptions, TopicPartitionOffset } from './consumer.ts';
export {
  ASSIGNORS,
  cooperativeStickyAssignor,
  isAssignorName,
  rangeAssignor,
  rebalanceProtocolOf,
  roundRobinAssignor,
  withoutTransfers,
} from './assignors.ts';
export type { AssignorName, MemberSubscription, PartitionAssignor, RebalanceProtocol } from './assignors.ts';
export { MemberState, groupErrorAction, leaderAssignment } from './member-state.ts';
export type { GroupErrorAction, MemberAction, MemberConfig, MemberPhase } from './member-state.ts';
export { murmur2, toPositive } from './murmur2.ts';
export { partitionForKey, nextStickyPartition } from './partitioner.ts';
export { retryBackoffMs, produceErrorAction, RETRY_BACKOFF_INITIAL_MS, RETRY_BACKOFF_MAX_MS } from './retry.ts';
export type { ProduceErrorAction } from './retry.ts';
export { normalizeBootstrap, formatEndpoints } from './internal/cluster-client.ts';
export type { BrokerInfo, ClientOptions, PartitionInfo, TopicInfo } from './internal/cluster-client.ts';
export type { Logger } from './internal/logger.ts';
export type { Credentials } from './internal/scram-auth.ts';
export type { AclBinding, AclBindingFilter, AclOperation } from '@tributary/protocol';
export { TributaryError, isRetriable, isStaleMetadata, shouldFindCoordinator } from '@tributary/protocol';
export type {
  CommittedOffset,
  ConfigEntry,
  ConfigResource,
  ConfigValue,
  DescribedGroup,
  DescribedGroupMember,
  ErrorCode,
  FindCoordinatorResponse,
  GroupOffsetRow,
  GroupProtocol,
  GroupStateName,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OngoingReassignment,
  SyncGroupRequest,
  SyncGroupResponse,
  TopicPartition,
  WireError,
} from '@tributary/protocol';
