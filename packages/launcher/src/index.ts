export { clusterLayout } from './layout.ts';
export type { BrokerSpec, ClusterLayout } from './layout.ts';
export {
  LocalClusterError,
  localDown,
  localKill,
  localPause,
  localRestart,
  localResume,
  localStatus,
  localStop,
  localUp,
  localWipe,
  processStatus,
  readState,
  waitUntilReady,
} from './local-cluster.ts';
export type { ClusterStateFile, LocalCluster, LocalUpOptions, ProcessInfo, ProcessName, ProcessRecord } from './local-cluster.ts';
export { freePortBlock } from './ports.ts';
