export { SEED_PLACEMENT, allRunning, startTestCluster } from './cluster.ts';
export { e2eTempDir } from './temp-dir.ts';
export type { TestCluster } from './cluster.ts';
export { readAll } from './read-all.ts';
export { partitionInfo, startProducerLoop } from './workload.ts';
export type { Ack, Failure, ProducerLoop } from './workload.ts';
export { checkAcknowledged } from './verify.ts';
export { exchange, kafkaRequest } from './kafka-wire.ts';
export { DEBIAN_PYTHON, requireTool, run, type RunResult } from './tools.ts';
