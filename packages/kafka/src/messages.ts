// The schemas of every API the listener speaks, transcribed from Apache Kafka's message
// definitions (clients/src/main/resources/common/message/<Name>Request.json and
// <Name>Response.json; the protocol guide at kafka.apache.org/protocol): field names in
// camelCase, each field's versions, nullable versions and tags as there. Each message is listed
// with every version Kafka defines up to the newest the listener could reach in milestone 2, but
// only the ranges in API_VERSIONS (api-versions.ts) are advertised and served.

import { field as f, message, structs, type MessageSpec } from './schema.ts';

// ------------------------------------------------------------------------------------- headers

/** Request header v0-2: v1 adds the client id (a non-compact nullable string even in v2), v2 tagged fields. */
export const RequestHeader = message(-1, 'RequestHeader', 'header', '0-2', '2+', [
  f('requestApiKey', 'int16', '0+'),
  f('requestApiVersion', 'int16', '0+'),
  f('correlationId', 'int32', '0+'),
  f('clientId', 'string', '1+', { nullable: '1+', default: null, neverCompact: true }),
]);

/** Response header v0-1: v1 adds tagged fields. */
export const ResponseHeader = message(-1, 'ResponseHeader', 'header', '0-1', '1+', [f('correlationId', 'int32', '0+')]);

// ------------------------------------------------------------------------------- 18 ApiVersions

export const ApiVersionsRequest = message(18, 'ApiVersionsRequest', 'request', '0-3', '3+', [
  f('clientSoftwareName', 'string', '3+'),
  f('clientSoftwareVersion', 'string', '3+'),
]);

export const ApiVersionsResponse = message(18, 'ApiVersionsResponse', 'response', '0-3', '3+', [
  f('errorCode', 'int16', '0+'),
  structs('apiKeys', '0+', [f('apiKey', 'int16', '0+'), f('minVersion', 'int16', '0+'), f('maxVersion', 'int16', '0+')]),
  f('throttleTimeMs', 'int32', '1+'),
  structs('supportedFeatures', '3+', [f('name', 'string', '3+'), f('minVersion', 'int16', '3+'), f('maxVersion', 'int16', '3+')], {
    tag: 0,
    tagged: '3+',
  }),
  f('finalizedFeaturesEpoch', 'int64', '3+', { tag: 1, tagged: '3+', default: -1 }),
  structs('finalizedFeatures', '3+', [f('name', 'string', '3+'), f('maxVersionLevel', 'int16', '3+'), f('minVersionLevel', 'int16', '3+')], {
    tag: 2,
    tagged: '3+',
  }),
  f('zkMigrationReady', 'bool', '3+', { tag: 3, tagged: '3+' }),
]);

// ------------------------------------------------------------------------------------ 3 Metadata

export const MetadataRequest = message(3, 'MetadataRequest', 'request', '0-12', '9+', [
  // v0: an empty array means every topic; v1+: null means every topic, empty none.
  structs('topics', '0+', [f('topicId', 'uuid', '10+'), f('name', 'string', '0+', { nullable: '10+' })], { nullable: '1+' }),
  f('allowAutoTopicCreation', 'bool', '4+', { default: true }),
  f('includeClusterAuthorizedOperations', 'bool', '8-10'),
  f('includeTopicAuthorizedOperations', 'bool', '8+'),
]);

export const MetadataResponse = message(3, 'MetadataResponse', 'response', '0-12', '9+', [
  f('throttleTimeMs', 'int32', '3+'),
  structs('brokers', '0+', [
    f('nodeId', 'int32', '0+'),
    f('host', 'string', '0+'),
    f('port', 'int32', '0+'),
    f('rack', 'string', '1+', { nullable: '1+', default: null }),
  ]),
  f('clusterId', 'string', '2+', { nullable: '2+', default: null }),
  f('controllerId', 'int32', '1+', { default: -1 }),
  structs('topics', '0+', [
    f('errorCode', 'int16', '0+'),
    f('name', 'string', '0+', { nullable: '12+' }),
    f('topicId', 'uuid', '10+'),
    f('isInternal', 'bool', '1+'),
    structs('partitions', '0+', [
      f('errorCode', 'int16', '0+'),
      f('partitionIndex', 'int32', '0+'),
      f('leaderId', 'int32', '0+'),
      f('leaderEpoch', 'int32', '7+', { default: -1 }),
      f('replicaNodes', '[]int32', '0+'),
      f('isrNodes', '[]int32', '0+'),
      f('offlineReplicas', '[]int32', '5+'),
    ]),
    f('topicAuthorizedOperations', 'int32', '8+', { default: -2147483648 }),
  ]),
  f('clusterAuthorizedOperations', 'int32', '8-10', { default: -2147483648 }),
]);

// ------------------------------------------------------------------------------------- 0 Produce

export const ProduceRequest = message(0, 'ProduceRequest', 'request', '0-9', '9+', [
  f('transactionalId', 'string', '3+', { nullable: '3+', default: null }),
  f('acks', 'int16', '0+'),
  f('timeoutMs', 'int32', '0+'),
  structs('topicData', '0+', [
    f('name', 'string', '0+'),
    structs('partitionData', '0+', [f('index', 'int32', '0+'), f('records', 'records', '0+', { nullable: '0+' })]),
  ]),
]);

export const ProduceResponse = message(0, 'ProduceResponse', 'response', '0-9', '9+', [
  structs('responses', '0+', [
    f('name', 'string', '0+'),
    structs('partitionResponses', '0+', [
      f('index', 'int32', '0+'),
      f('errorCode', 'int16', '0+'),
      f('baseOffset', 'int64', '0+'),
      f('logAppendTimeMs', 'int64', '2+', { default: -1 }),
      f('logStartOffset', 'int64', '5+', { default: -1 }),
      structs('recordErrors', '8+', [f('batchIndex', 'int32', '8+'), f('batchIndexErrorMessage', 'string', '8+', { nullable: '8+', default: null })]),
      f('errorMessage', 'string', '8+', { nullable: '8+', default: null }),
    ]),
  ]),
  f('throttleTimeMs', 'int32', '1+'),
]);

// --------------------------------------------------------------------------------------- 1 Fetch

export const FetchRequest = message(1, 'FetchRequest', 'request', '0-13', '12+', [
  f('clusterId', 'string', '12+', { nullable: '12+', default: null, tag: 0, tagged: '12+' }),
  f('replicaId', 'int32', '0-14', { default: -1 }),
  f('maxWaitMs', 'int32', '0+'),
  f('minBytes', 'int32', '0+'),
  f('maxBytes', 'int32', '3+', { default: 0x7fffffff }),
  f('isolationLevel', 'int8', '4+'),
  f('sessionId', 'int32', '7+'),
  f('sessionEpoch', 'int32', '7+', { default: -1 }),
  structs('topics', '0+', [
    f('topic', 'string', '0-12'),
    f('topicId', 'uuid', '13+'),
    structs('partitions', '0+', [
      f('partition', 'int32', '0+'),
      f('currentLeaderEpoch', 'int32', '9+', { default: -1 }),
      f('fetchOffset', 'int64', '0+'),
      f('lastFetchedEpoch', 'int32', '12+', { default: -1 }),
      f('logStartOffset', 'int64', '5+', { default: -1 }),
      f('partitionMaxBytes', 'int32', '0+'),
    ]),
  ]),
  structs('forgottenTopicsData', '7+', [f('topic', 'string', '7-12'), f('topicId', 'uuid', '13+'), f('partitions', '[]int32', '7+')]),
  f('rackId', 'string', '11+'),
]);

export const FetchResponse = message(1, 'FetchResponse', 'response', '0-13', '12+', [
  f('throttleTimeMs', 'int32', '1+'),
  f('errorCode', 'int16', '7+'),
  f('sessionId', 'int32', '7+'),
  structs('responses', '0+', [
    f('topic', 'string', '0-12'),
    f('topicId', 'uuid', '13+'),
    structs('partitions', '0+', [
      f('partitionIndex', 'int32', '0+'),
      f('errorCode', 'int16', '0+'),
      f('highWatermark', 'int64', '0+'),
      f('lastStableOffset', 'int64', '4+', { default: -1 }),
      f('logStartOffset', 'int64', '5+', { default: -1 }),
      // KIP-595 / KIP-320: where the fetcher's log diverges from the leader's, and who leads now.
      f('divergingEpoch', 'struct', '12+', {
        tag: 0,
        tagged: '12+',
        fields: [f('epoch', 'int32', '12+', { default: -1 }), f('endOffset', 'int64', '12+', { default: -1 })],
      }),
      f('currentLeader', 'struct', '12+', {
        tag: 1,
        tagged: '12+',
        fields: [f('leaderId', 'int32', '12+', { default: -1 }), f('leaderEpoch', 'int32', '12+', { default: -1 })],
      }),
      f('snapshotId', 'struct', '12+', {
        tag: 2,
        tagged: '12+',
        fields: [f('endOffset', 'int64', '12+', { default: -1 }), f('epoch', 'int32', '12+', { default: -1 })],
      }),
      structs('abortedTransactions', '4+', [f('producerId', 'int64', '4+'), f('firstOffset', 'int64', '4+')], { nullable: '4+', default: null }),
      f('preferredReadReplica', 'int32', '11+', { default: -1 }),
      f('records', 'records', '0+', { nullable: '0+' }),
    ]),
  ]),
]);

// --------------------------------------------------------------------------------- 2 ListOffsets

export const ListOffsetsRequest = message(2, 'ListOffsetsRequest', 'request', '0-6', '6+', [
  f('replicaId', 'int32', '0+'),
  f('isolationLevel', 'int8', '2+'),
  structs('topics', '0+', [
    f('name', 'string', '0+'),
    structs('partitions', '0+', [
      f('partitionIndex', 'int32', '0+'),
      f('currentLeaderEpoch', 'int32', '4+', { default: -1 }),
      f('timestamp', 'int64', '0+'),
      f('maxNumOffsets', 'int32', '0', { default: 1 }),
    ]),
  ]),
]);

export const ListOffsetsResponse = message(2, 'ListOffsetsResponse', 'response', '0-6', '6+', [
  f('throttleTimeMs', 'int32', '2+'),
  structs('topics', '0+', [
    f('name', 'string', '0+'),
    structs('partitions', '0+', [
      f('partitionIndex', 'int32', '0+'),
      f('errorCode', 'int16', '0+'),
      f('oldStyleOffsets', '[]int64', '0'),
      f('timestamp', 'int64', '1+', { default: -1 }),
      f('offset', 'int64', '1+', { default: -1 }),
      f('leaderEpoch', 'int32', '4+', { default: -1 }),
    ]),
  ]),
]);

// ----------------------------------------------------------------------------- 22 InitProducerId

export const InitProducerIdRequest = message(22, 'InitProducerIdRequest', 'request', '0-4', '2+', [
  f('transactionalId', 'string', '0+', { nullable: '0+' }),
  f('transactionTimeoutMs', 'int32', '0+'),
  // KIP-360: the producer's current id and epoch, to bump the epoch (-1 / -1 for a new producer).
  f('producerId', 'int64', '3+', { default: -1 }),
  f('producerEpoch', 'int16', '3+', { default: -1 }),
]);

export const InitProducerIdResponse = message(22, 'InitProducerIdResponse', 'response', '0-4', '2+', [
  f('throttleTimeMs', 'int32', '0+'),
  f('errorCode', 'int16', '0+'),
  f('producerId', 'int64', '0+', { default: -1 }),
  f('producerEpoch', 'int16', '0+'),
]);

// ---------------------------------------------------------------------------- 10 FindCoordinator

export const FindCoordinatorRequest = message(10, 'FindCoordinatorRequest', 'request', '0-4', '3+', [
  f('key', 'string', '0-3'),
  f('keyType', 'int8', '1+'),
  // KIP-699: v4 asks for several keys at once.
  f('coordinatorKeys', '[]string', '4+'),
]);

export const FindCoordinatorResponse = message(10, 'FindCoordinatorResponse', 'response', '0-4', '3+', [
  f('throttleTimeMs', 'int32', '1+'),
  f('errorCode', 'int16', '0-3'),
  f('errorMessage', 'string', '1-3', { nullable: '1-3', default: null }),
  f('nodeId', 'int32', '0-3'),
  f('host', 'string', '0-3'),
  f('port', 'int32', '0-3'),
  structs('coordinators', '4+', [
    f('key', 'string', '4+'),
    f('nodeId', 'int32', '4+'),
    f('host', 'string', '4+'),
    f('port', 'int32', '4+'),
    f('errorCode', 'int16', '4+'),
    f('errorMessage', 'string', '4+', { nullable: '4+', default: null }),
  ]),
]);

// ---------------------------------------------------------------------------- 11 JoinGroup

export const JoinGroupRequest = message(11, 'JoinGroupRequest', 'request', '0-7', '6+', [
  f('groupId', 'string', '0+'),
  f('sessionTimeoutMs', 'int32', '0+'),
  f('rebalanceTimeoutMs', 'int32', '1+', { default: -1 }),
  f('memberId', 'string', '0+'),
  f('groupInstanceId', 'string', '5+', { nullable: '5+', default: null }),
  f('protocolType', 'string', '0+'),
  structs('protocols', '0+', [f('name', 'string', '0+'), f('metadata', 'bytes', '0+')]),
]);

export const JoinGroupResponse = message(11, 'JoinGroupResponse', 'response', '0-7', '6+', [
  f('throttleTimeMs', 'int32', '2+'),
  f('errorCode', 'int16', '0+'),
  f('generationId', 'int32', '0+', { default: -1 }),
  f('protocolType', 'string', '7+', { nullable: '7+', default: null }),
  f('protocolName', 'string', '0+', { nullable: '7+' }),
  f('leader', 'string', '0+'),
  f('memberId', 'string', '0+'),
  structs('members', '0+', [
    f('memberId', 'string', '0+'),
    f('groupInstanceId', 'string', '5+', { nullable: '5+', default: null }),
    f('metadata', 'bytes', '0+'),
  ]),
]);

// ---------------------------------------------------------------------------- 14 SyncGroup

export const SyncGroupRequest = message(14, 'SyncGroupRequest', 'request', '0-5', '4+', [
  f('groupId', 'string', '0+'),
  f('generationId', 'int32', '0+'),
  f('memberId', 'string', '0+'),
  f('groupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
  f('protocolType', 'string', '5+', { nullable: '5+', default: null }),
  f('protocolName', 'string', '5+', { nullable: '5+', default: null }),
  structs('assignments', '0+', [f('memberId', 'string', '0+'), f('assignment', 'bytes', '0+')]),
]);

export const SyncGroupResponse = message(14, 'SyncGroupResponse', 'response', '0-5', '4+', [
  f('throttleTimeMs', 'int32', '1+'),
  f('errorCode', 'int16', '0+'),
  f('protocolType', 'string', '5+', { nullable: '5+', default: null }),
  f('protocolName', 'string', '5+', { nullable: '5+', default: null }),
  f('assignment', 'bytes', '0+'),
]);

// ---------------------------------------------------------------------------- 12 Heartbeat

export const HeartbeatRequest = message(12, 'HeartbeatRequest', 'request', '0-4', '4+', [
  f('groupId', 'string', '0+'),
  f('generationId', 'int32', '0+'),
  f('memberId', 'string', '0+'),
  f('groupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
]);

export const HeartbeatResponse = message(12, 'HeartbeatResponse', 'response', '0-4', '4+', [f('throttleTimeMs', 'int32', '1+'), f('errorCode', 'int16', '0+')]);

// ---------------------------------------------------------------------------- 13 LeaveGroup

export const LeaveGroupRequest = message(13, 'LeaveGroupRequest', 'request', '0-5', '4+', [
  f('groupId', 'string', '0+'),
  f('memberId', 'string', '0-2'),
  structs('members', '3+', [
    f('memberId', 'string', '3+'),
    f('groupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
    // KIP-800: why the member leaves (logged, as Kafka does).
    f('reason', 'string', '5+', { nullable: '5+', default: null }),
  ]),
]);

export const LeaveGroupResponse = message(13, 'LeaveGroupResponse', 'response', '0-5', '4+', [
  f('throttleTimeMs', 'int32', '1+'),
  f('errorCode', 'int16', '0+'),
  structs('members', '3+', [
    f('memberId', 'string', '3+'),
    f('groupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
    f('errorCode', 'int16', '3+'),
  ]),
]);

// ---------------------------------------------------------------------------- 8 OffsetCommit

export const OffsetCommitRequest = message(8, 'OffsetCommitRequest', 'request', '0-8', '8+', [
  f('groupId', 'string', '0+'),
  f('generationId', 'int32', '1+', { default: -1 }),
  f('memberId', 'string', '1+'),
  f('groupInstanceId', 'string', '7+', { nullable: '7+', default: null }),
  f('retentionTimeMs', 'int64', '2-4', { default: -1 }),
  structs('topics', '0+', [
    f('name', 'string', '0+'),
    structs('partitions', '0+', [
      f('partitionIndex', 'int32', '0+'),
      f('committedOffset', 'int64', '0+'),
      f('committedLeaderEpoch', 'int32', '6+', { default: -1 }),
      f('commitTimestamp', 'int64', '1', { default: -1 }),
      f('committedMetadata', 'string', '0+', { nullable: '0+' }),
    ]),
  ]),
]);

export const OffsetCommitResponse = message(8, 'OffsetCommitResponse', 'response', '0-8', '8+', [
  f('throttleTimeMs', 'int32', '3+'),
  structs('topics', '0+', [f('name', 'string', '0+'), structs('partitions', '0+', [f('partitionIndex', 'int32', '0+'), f('errorCode', 'int16', '0+')])]),
]);

// ---------------------------------------------------------------------------- 9 OffsetFetch

export const OffsetFetchRequest = message(9, 'OffsetFetchRequest', 'request', '0-8', '6+', [
  f('groupId', 'string', '0-7'),
  // v2+: null means every partition the group has an offset for.
  structs('topics', '0-7', [f('name', 'string', '0-7'), f('partitionIndexes', '[]int32', '0-7')], { nullable: '2-7' }),
  // KIP-709: v8 asks for several groups at once.
  structs('groups', '8+', [
    f('groupId', 'string', '8+'),
    structs('topics', '8+', [f('name', 'string', '8+'), f('partitionIndexes', '[]int32', '8+')], { nullable: '8+' }),
  ]),
  f('requireStable', 'bool', '7+'),
]);

export const OffsetFetchResponse = message(9, 'OffsetFetchResponse', 'response', '0-8', '6+', [
  f('throttleTimeMs', 'int32', '3+'),
  structs('topics', '0-7', [
    f('name', 'string', '0-7'),
    structs('partitions', '0-7', [
      f('partitionIndex', 'int32', '0-7'),
      f('committedOffset', 'int64', '0-7'),
      f('committedLeaderEpoch', 'int32', '5-7', { default: -1 }),
      f('metadata', 'string', '0-7', { nullable: '0-7' }),
      f('errorCode', 'int16', '0-7'),
    ]),
  ]),
  f('errorCode', 'int16', '2-7'),
  structs('groups', '8+', [
    f('groupId', 'string', '8+'),
    structs('topics', '8+', [
      f('name', 'string', '8+'),
      structs('partitions', '8+', [
        f('partitionIndex', 'int32', '8+'),
        f('committedOffset', 'int64', '8+'),
        f('committedLeaderEpoch', 'int32', '8+', { default: -1 }),
        f('metadata', 'string', '8+', { nullable: '8+' }),
        f('errorCode', 'int16', '8+'),
      ]),
    ]),
    f('errorCode', 'int16', '8+'),
  ]),
]);

// ---------------------------------------------------------------------------- 19 CreateTopics

export const CreateTopicsRequest = message(19, 'CreateTopicsRequest', 'request', '0-7', '5+', [
  structs('topics', '0+', [
    f('name', 'string', '0+'),
    f('numPartitions', 'int32', '0+'),
    f('replicationFactor', 'int16', '0+'),
    structs('assignments', '0+', [f('partitionIndex', 'int32', '0+'), f('brokerIds', '[]int32', '0+')]),
    structs('configs', '0+', [f('name', 'string', '0+'), f('value', 'string', '0+', { nullable: '0+' })]),
  ]),
  f('timeoutMs', 'int32', '0+', { default: 60000 }),
  f('validateOnly', 'bool', '1+'),
]);

export const CreateTopicsResponse = message(19, 'CreateTopicsResponse', 'response', '0-7', '5+', [
  f('throttleTimeMs', 'int32', '2+'),
  structs('topics', '0+', [
    f('name', 'string', '0+'),
    f('topicId', 'uuid', '7+'),
    f('errorCode', 'int16', '0+'),
    f('errorMessage', 'string', '1+', { nullable: '0+', default: null }),
    f('topicConfigErrorCode', 'int16', '5+', { tag: 0, tagged: '5+' }),
    f('numPartitions', 'int32', '5+', { default: -1 }),
    f('replicationFactor', 'int16', '5+', { default: -1 }),
    structs(
      'configs',
      '5+',
      [
        f('name', 'string', '5+'),
        f('value', 'string', '5+', { nullable: '5+' }),
        f('readOnly', 'bool', '5+'),
        f('configSource', 'int8', '5+', { default: -1 }),
        f('isSensitive', 'bool', '5+'),
      ],
      { nullable: '5+', default: null },
    ),
  ]),
]);

// ---------------------------------------------------------------------------- 20 DeleteTopics

export const DeleteTopicsRequest = message(20, 'DeleteTopicsRequest', 'request', '0-6', '4+', [
  // v6: by name or by topic id (KIP-516), one of the two per topic.
  structs('topics', '6+', [f('name', 'string', '6+', { nullable: '6+', default: null }), f('topicId', 'uuid', '6+')]),
  f('topicNames', '[]string', '0-5'),
  f('timeoutMs', 'int32', '0+'),
]);

export const DeleteTopicsResponse = message(20, 'DeleteTopicsResponse', 'response', '0-6', '4+', [
  f('throttleTimeMs', 'int32', '1+'),
  structs('responses', '0+', [
    f('name', 'string', '0+', { nullable: '6+' }),
    f('topicId', 'uuid', '6+'),
    f('errorCode', 'int16', '0+'),
    f('errorMessage', 'string', '5+', { nullable: '5+', default: null }),
  ]),
]);

// ---------------------------------------------------------------------------- 32 DescribeConfigs

export const DescribeConfigsRequest = message(32, 'DescribeConfigsRequest', 'request', '0-4', '4+', [
  structs('resources', '0+', [
    f('resourceType', 'int8', '0+'),
    f('resourceName', 'string', '0+'),
    f('configurationKeys', '[]string', '0+', { nullable: '0+', default: null }),
  ]),
  f('includeSynonyms', 'bool', '1+'),
  f('includeDocumentation', 'bool', '3+'),
]);

export const DescribeConfigsResponse = message(32, 'DescribeConfigsResponse', 'response', '0-4', '4+', [
  f('throttleTimeMs', 'int32', '0+'),
  structs('results', '0+', [
    f('errorCode', 'int16', '0+'),
    f('errorMessage', 'string', '0+', { nullable: '0+', default: null }),
    f('resourceType', 'int8', '0+'),
    f('resourceName', 'string', '0+'),
    structs('configs', '0+', [
      f('name', 'string', '0+'),
      f('value', 'string', '0+', { nullable: '0+' }),
      f('readOnly', 'bool', '0+'),
      f('isDefault', 'bool', '0'),
      f('configSource', 'int8', '1+', { default: -1 }),
      f('isSensitive', 'bool', '0+'),
      structs('synonyms', '1+', [f('name', 'string', '1+'), f('value', 'string', '1+', { nullable: '1+' }), f('source', 'int8', '1+')]),
      f('configType', 'int8', '3+'),
      f('documentation', 'string', '3+', { nullable: '3+', default: null }),
    ]),
  ]),
]);

// ----------------------------------------------------------------------- 23 OffsetForLeaderEpoch

/** KIP-101 / KIP-320: the end offset of a leader epoch, for followers and for consumers validating their position. */
export const OffsetForLeaderEpochRequest = message(23, 'OffsetForLeaderEpochRequest', 'request', '0-4', '4+', [
  // -1 a consumer, -2 (v0-2's implicit value) a debugging tool that may ask a follower, >= 0 a follower.
  f('replicaId', 'int32', '3+', { default: -2 }),
  structs('topics', '0+', [
    f('topic', 'string', '0+'),
    structs('partitions', '0+', [f('partition', 'int32', '0+'), f('currentLeaderEpoch', 'int32', '2+', { default: -1 }), f('leaderEpoch', 'int32', '0+')]),
  ]),
]);

export const OffsetForLeaderEpochResponse = message(23, 'OffsetForLeaderEpochResponse', 'response', '0-4', '4+', [
  f('throttleTimeMs', 'int32', '2+'),
  structs('topics', '0+', [
    f('topic', 'string', '0+'),
    structs('partitions', '0+', [
      f('errorCode', 'int16', '0+'),
      f('partition', 'int32', '0+'),
      f('leaderEpoch', 'int32', '1+', { default: -1 }),
      f('endOffset', 'int64', '0+', { default: -1 }),
    ]),
  ]),
]);

// ------------------------------------------------------------------ 17 / 36 SASL (secure listeners)

/** After v0 the mechanism's tokens travel as bare size-prefixed frames; after v1 in SaslAuthenticate requests. */
export const SaslHandshakeRequest = message(17, 'SaslHandshakeRequest', 'request', '0-1', 'none', [f('mechanism', 'string', '0+')]);

export const SaslHandshakeResponse = message(17, 'SaslHandshakeResponse', 'response', '0-1', 'none', [
  f('errorCode', 'int16', '0+'),
  f('mechanisms', '[]string', '0+'),
]);

export const SaslAuthenticateRequest = message(36, 'SaslAuthenticateRequest', 'request', '0-2', '2+', [f('authBytes', 'bytes', '0+')]);

export const SaslAuthenticateResponse = message(36, 'SaslAuthenticateResponse', 'response', '0-2', '2+', [
  f('errorCode', 'int16', '0+'),
  f('errorMessage', 'string', '0+', { nullable: '0+', default: null }),
  f('authBytes', 'bytes', '0+'),
  f('sessionLifetimeMs', 'int64', '1+', { default: 0 }),
]);

/** Request and response schema by API key. */
export const MESSAGES: ReadonlyMap<number, { name: string; request: MessageSpec; response: MessageSpec }> = new Map([
  [0, { name: 'Produce', request: ProduceRequest, response: ProduceResponse }],
  [1, { name: 'Fetch', request: FetchRequest, response: FetchResponse }],
  [2, { name: 'ListOffsets', request: ListOffsetsRequest, response: ListOffsetsResponse }],
  [3, { name: 'Metadata', request: MetadataRequest, response: MetadataResponse }],
  [8, { name: 'OffsetCommit', request: OffsetCommitRequest, response: OffsetCommitResponse }],
  [9, { name: 'OffsetFetch', request: OffsetFetchRequest, response: OffsetFetchResponse }],
  [10, { name: 'FindCoordinator', request: FindCoordinatorRequest, response: FindCoordinatorResponse }],
  [11, { name: 'JoinGroup', request: JoinGroupRequest, response: JoinGroupResponse }],
  [12, { name: 'Heartbeat', request: HeartbeatRequest, response: HeartbeatResponse }],
  [13, { name: 'LeaveGroup', request: LeaveGroupRequest, response: LeaveGroupResponse }],
  [14, { name: 'SyncGroup', request: SyncGroupRequest, response: SyncGroupResponse }],
  [18, { name: 'ApiVersions', request: ApiVersionsRequest, response: ApiVersionsResponse }],
  [19, { name: 'CreateTopics', request: CreateTopicsRequest, response: CreateTopicsResponse }],
  [20, { name: 'DeleteTopics', request: DeleteTopicsRequest, response: DeleteTopicsResponse }],
  [22, { name: 'InitProducerId', request: InitProducerIdRequest, response: InitProducerIdResponse }],
  [23, { name: 'OffsetForLeaderEpoch', request: OffsetForLeaderEpochRequest, response: OffsetForLeaderEpochResponse }],
  [32, { name: 'DescribeConfigs', request: DescribeConfigsRequest, response: DescribeConfigsResponse }],
  [17, { name: 'SaslHandshake', request: SaslHandshakeRequest, response: SaslHandshakeResponse }],
  [36, { name: 'SaslAuthenticate', request: SaslAuthenticateRequest, response: SaslAuthenticateResponse }],
]);
