// @tributary/e2e-containers: container tests (test/*.container.test.ts, run by
// `vitest run --project containers`) and the cluster-of-containers helpers they share.
export { BROKER_COUNT, ContainerCluster, IMAGE, SEED_PLACEMENT, TEST_LABEL, docker, rackOf } from './container-cluster.ts';
export type { BrokerContainer, ContainerClusterOptions } from './container-cluster.ts';
export { ComposeProject, composeCommand, type ComposeProjectOptions } from './compose.ts';
