// @tributary/broker: partition replicas (leader/follower, ISR, HW, epochs), the produce/fetch
// service, replica fetchers and metrics. `startBroker` runs one broker; the pure rules are
// exported for tests and a later deterministic simulation.

export { startBroker, FOLLOWER_THROTTLE_CONFIG, LEADER_THROTTLE_CONFIG, type BrokerHandle, type StartBrokerOptions } from './broker.ts';
export { loadBrokerConfig, brokerConfig, ConfigError, USAGE, type BrokerConfig } from './config.ts';
export { ReplicaManager, type ProduceInput, type FetchInput, type ReplicaFetchInput } from './replica-manager.ts';
export { Partition, type PartitionLog } from './partition.ts';
export { LeaderState, effectiveMinIsr, followerHighWatermark, type IsrProposal, type FollowerProgress } from './partition-state.ts';
export { ProducerStateTable, PRODUCER_BATCHES_MAX } from './producer-state.ts';
export { checkFetchPosition, truncationOffset } from './divergence.ts';
export { TokenBucket, ReplicationQuota, throttleDecision, throttledReplicaSet, type ThrottleDecision, type ThrottleInput } from './throttle.ts';
export { ReplicaFetcher, ReplicaFetcherManager } from './replica-fetcher.ts';
export { ControllerChannel } from './controller-channel.ts';
export { BrokerMetrics } from './metrics.ts';
export { LogCleaner, type CleanableLog, type CleaningResult, type LogCleanerConfig } from './log-cleaner.ts';
export { MetadataCache } from './metadata-cache.ts';
export { brokerRouteLimits, registerBrokerRoutes, REQUEST_LIMITS } from './broker-service.ts';
export type { BrokerRouteLimits } from './broker-service.ts';
