// @tributary/chaos: a Jepsen-style test as a library (the `tributary chaos` command drives it).
export { check, faultWindows, ANOMALY_KINDS } from './checker.ts';
export type { Anomaly, AnomalyKind, CheckOptions, CheckResult, FaultWindow, PartitionReport } from './checker.ts';
export { HistoryRecorder, emptyHistory, parseHistory, readHistoryFile } from './history.ts';
export type { ConvergenceOp, FaultOp, FinalReadOp, History, HistoryEntry, Outcome, ReadOp, RunHeader, SendOp } from './history.ts';
export {
  FAULT_KINDS,
  DOCKER_ONLY_FAULTS,
  LAG_TIME_MAX_MS,
  STEP_ALLOWANCE_MS,
  buildSchedule,
  describeFault,
  holdAfterInjectMs,
  parseFaults,
} from './schedule.ts';
export type { CompoundFault, DisklossFault, FaultKind, ScheduledFault, ScheduleOptions, TargetRole } from './schedule.ts';
export { injectSequence } from './sequences.ts';
export type { BrokerControl, InjectedSequence, SequenceContext } from './sequences.ts';
export { LocalNemesis } from './nemesis.ts';
export { partitionsOf, resolveRole } from './targets.ts';
export { DockerNemesis, discoverDockerCluster } from './docker-nemesis.ts';
export type { DockerCluster, DockerContainer } from './docker-nemesis.ts';
export type { Nemesis } from './nemesis.ts';
export { Workload, classifyFailure, INDETERMINATE_CODES } from './workload.ts';
export { runChaos, ChaosUsageError, TOPIC_PARTITIONS, TOPIC_REPLICATION_FACTOR, TOPIC_MIN_ISR } from './run.ts';
export type { ChaosRunOptions, ChaosRunResult } from './run.ts';
export {
  ABUSE_KINDS,
  GARBAGE_CONCURRENCY,
  GARBAGE_SLOW_CONCURRENCY,
  SLOW_ABUSE_KINDS,
  abuseRequests,
  abuseUntil,
  judgeAbuse,
  localAbuseTargets,
  runAbuse,
  sendAbuse,
  startGarbage,
} from './abuse.ts';
export type { AbuseKind, AbuseOptions, AbuseOutcome, AbuseRequest, AbuseRunOptions, AbuseTarget } from './abuse.ts';
export { describeAnomaly, renderReport, reportJson } from './report.ts';
export { CLUSTER_WIDE, evaluateConvergence } from './convergence.ts';
export type { ConvergenceAnomaly, ConvergenceKind, ConvergenceResult } from './convergence.ts';
export { takeSnapshot, waitConverged } from './settle.ts';
export type { SettledPartition, SettleOptions, SettleResult } from './settle.ts';
export { GroupWorkload, checkGroup } from './group-workload.ts';
export type { CommittedObservation, GroupAnomaly, GroupAnomalyKind, GroupCheckResult, GroupDelivery, GroupWorkloadOptions } from './group-workload.ts';
