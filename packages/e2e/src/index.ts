export { SEED_PLACEMENT, allRunning, startTestCluster } from './cluster.ts';
export type { TestCluster } from './cluster.ts';
export { readAll } from './read-all.ts';
