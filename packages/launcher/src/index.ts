export { DEFAULT_KAFKA_PORT, INTERNAL_PORT_OFFSET, brokerKafkaPort, clusterLayout, kafkaPortOf, layoutPorts } from './layout.ts';
export type { BrokerSpec, ClusterLayout } from './layout.ts';
export {
  LocalClusterError,
  localAddBroker,
  localDown,
  localKill,
  localPause,
  localRestart,
  localResume,
  localStatus,
  localStop,
  localUp,
  localWipe,
  offsetsTopicArgs,
  processStatus,
  readState,
  waitForClusterStop,
  waitUntilReady,
} from './local-cluster.ts';
export type { ClusterStateFile, ClusterStopCause, LocalCluster, LocalUpOptions, ProcessInfo, ProcessName, ProcessRecord } from './local-cluster.ts';
export { freeClusterBasePort, freePortBlock, isPortFree } from './ports.ts';
export {
  SECRETS_DIR,
  SUPER_USER,
  certificateFiles,
  ensureCertificates,
  ensureSuperUserPassword,
  launcherTls,
  localCredentials,
  secretsDir,
} from './secrets.ts';
export type { LocalCredentials } from './secrets.ts';
