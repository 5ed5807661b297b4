// @tributary/controller: cluster metadata (broker registry, placement, leader election, ISR
// changes) as a pure state machine, its metadata log, and the fastify service around it.

export { ClusterState, Draft, type BrokerSession } from './cluster-state.ts';
export type * from './records.ts';
export { encodeRecord, decodeRecord } from './records.ts';
export { assignReplicas, rackAlternatedOrder, type PlacementBroker } from './placement.ts';
export {
  registerBroker,
  heartbeat,
  checkBrokerEpoch,
  fenceBroker,
  expireSessions,
  expiredSessions,
  sessionSilenceMs,
  controlledShutdown,
  setBrokerConfig,
  BROKER_DYNAMIC_CONFIGS,
  type Decision,
} from './broker-registry.ts';
export { SessionClock } from './session-clock.ts';
export { createTopic, deleteTopic, PARTITIONS_MAX } from './topics.ts';
export { onBrokerLost, onBrokerAlive, electPreferredLeaders, firstEligibleInIsr } from './election.ts';
export { alterPartition } from './isr.ts';
export { initProducerId, PRODUCER_ID_BLOCK_SIZE } from './producer-ids.ts';
export { MemoryMetadataLog, encodeRecordBatch, decodeRecordBatches, type MetadataLog } from './metadata-log.ts';
export { SegmentMetadataLog, openMetadataLog, METADATA_LOG_CONFIG } from './segment-metadata-log.ts';
export { ClusterController, generateClusterId, type ClusterControllerOptions, type AppliedRecord, type CommitListener } from './cluster-controller.ts';
export { ControllerMetrics } from './metrics.ts';
export { createControllerService, POLL_WAIT_MAX_MS, type ControllerService, type ControllerServiceOptions } from './controller-service.ts';
export { parseControllerConfig, ConfigError, USAGE, type ControllerConfig, type ControllerRequestLimits } from './config.ts';
export { startController, createControllerLogger, metadataLogDir, type RunningController, type StartControllerOptions } from './start.ts';
export { createPartitions } from './topics.ts';
export { describeConfigs, alterConfigs, brokerConfigValue } from './configs.ts';
export {
  alterPartitionReassignments,
  cancelReassignment,
  completeReassignments,
  completionRecord,
  isReassigning,
  listPartitionReassignments,
  maybeCompleteReassignment,
  originalReplicas,
  reassignmentReplicas,
  startReassignment,
  targetReplicas,
} from './reassignment.ts';
