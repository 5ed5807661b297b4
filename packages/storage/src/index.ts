// @tributary/storage: the append-only segment log (DESIGN.md § Storage). Knows files, not networks.

export {
  Log,
  logConfigFromTopic,
  CLEANER_OFFSET_CHECKPOINT,
  LEADER_EPOCH_CHECKPOINT,
  type CleanerCheckpoint,
  type LogConfig,
  type LogOptions,
  type StorageLogger,
} from './log.ts';
export { Cleaner, type CleanerOptions, type CleanerState, type CleanerStats } from './cleaner.ts';
export {
  cleanableOffsets,
  grabFilthiestLog,
  logToClean,
  type CompactionView,
  type LogToClean,
  type OffsetsToClean,
  type SegmentFacts,
} from './compaction.ts';
export { LeaderEpochCache, type EpochEntry } from './leader-epoch-cache.ts';
export { OffsetCheckpointFile, parseTopicPartition } from './checkpoint.ts';
export {
  LogManager,
  parseStrayDirName,
  RECOVERY_POINT_CHECKPOINT,
  REPLICATION_OFFSET_CHECKPOINT,
  STRAY_DIR_SUFFIX,
  type LogManagerOptions,
  type StrayDir,
} from './log-manager.ts';
export { nodeFs, type StorageFs, type StorageStats } from './fs.ts';
export { BatchValidatorThread, sharedBatchValidator, sharedBatchValidatorHandoffs, type BatchValidator } from './batch-validator-thread.ts';
