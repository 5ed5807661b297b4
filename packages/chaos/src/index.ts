// @tributary/chaos: a Jepsen-style test as a library (the `tributary chaos` command drives it).
export { check, faultWindows, ANOMALY_KINDS } from './checker.ts';
export type { Anomaly, AnomalyKind, CheckOptions, CheckResult, FaultWindow, PartitionReport } from './checker.ts';
export { HistoryRecorder, emptyHistory, parseHistory, readHistoryFile } from './history.ts';
export type { FaultOp, FinalReadOp, History, HistoryEntry, Outcome, ReadOp, RunHeader, SendOp } from './history.ts';
export { FAULT_KINDS, DOCKER_ONLY_FAULTS, LAG_TIME_MAX_MS, buildSchedule, describeFault, parseFaults } from './schedule.ts';
export type { FaultKind, ScheduledFault, ScheduleOptions, TargetRole } from './schedule.ts';
export { LocalNemesis, partitionsOf, resolveRole } from './nemesis.ts';
export { DockerNemesis, discoverDockerCluster } from './docker-nemesis.ts';
export type { DockerCluster, DockerContainer } from './docker-nemesis.ts';
export type { Nemesis } from './nemesis.ts';
export { Workload, classifyFailure, INDETERMINATE_CODES } from './workload.ts';
export { runChaos, ChaosUsageError, TOPIC_PARTITIONS, TOPIC_REPLICATION_FACTOR, TOPIC_MIN_ISR } from './run.ts';
export type { ChaosRunOptions, ChaosRunResult } from './run.ts';
export { renderReport, reportJson } from './report.ts';
export { ABUSE_KINDS, GARBAGE_CONCURRENCY, GARBAGE_SLOW_CONCURRENCY, SLOW_ABUSE_KINDS, abuseRequests, abuseUntil, judgeAbuse, localAbuseTargets, runAbuse, sendAbuse, startGarbage } from './abuse.ts';
export type { AbuseKind, AbuseOptions, AbuseOutcome, AbuseRequest, AbuseRunOptions, AbuseTarget } from './abuse.ts';
