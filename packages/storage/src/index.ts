// @tributary/storage: the append-only segment log (DESIGN.md § Storage). Knows files, not networks.

export { Log, logConfigFromTopic, LEADER_EPOCH_CHECKPOINT, type LogConfig, type LogOptions, type StorageLogger } from './log.ts';
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
