// A real local cluster for a test file: controller and brokers as OS processes on free ports in a
// temp dir, started by the launcher exactly as `tributary local up --detach` starts them.

import { readFileSync } from 'node:fs';
import { Admin, type ClientOptions } from '@tributary/client';
import { brokerKafkaPort, localCredentials, localDown, localStatus, localUp, type LocalUpOptions } from '@tributary/launcher';
import { freeClusterBasePort } from '@tributary/testkit';
import { e2eTempDir } from './temp-dir.ts';

export interface TestCluster {
  dataDir: string;
  basePort: number;
  controllerPort: number;
  /** The controller's broker-facing listener (registration, heartbeats, metadata, AlterPartition). */
  controllerInternalPort: number;
  brokerPorts: number[];
  /** Each broker's internal listener (replica fetches), by broker id. */
  brokerInternalPorts: number[];
  bootstrap: string[];
  /** Each broker's Kafka-protocol port (issue 19), by broker id. */
  kafkaPorts: number[];
  /** The Kafka listeners as a Kafka client's bootstrap.servers: `127.0.0.1:p0,127.0.0.1:p1,…`. */
  kafkaBootstrap: string;
  /** TLS and the super user's credentials of a secure cluster (`secure: true`); {} otherwise. */
  security: Pick<ClientOptions, 'ca' | 'credentials'>;
  admin: Admin;
  stop(): Promise<void>;
}

/**
 * `spareBrokers`: also keep the ports of that many more brokers free, for brokers a test adds
 * later (localAddBroker).
 */
export async function startTestCluster(options: Partial<LocalUpOptions> & { spareBrokers?: number } = {}): Promise<TestCluster> {
  const { dir, cleanup } = e2eTempDir('e2e');
  const { spareBrokers = 0, ...upOptions } = options;
  const brokers = upOptions.brokers ?? 6;
  const basePort = await freeClusterBasePort(brokers + spareBrokers);
  const cluster = await localUp({ ...upOptions, dataDir: dir, basePort, brokers, mode: 'detach', readyTimeoutMs: upOptions.readyTimeoutMs ?? 90_000 });
  const brokerPorts = cluster.state.layout.brokers.map((b) => b.port);
  const bootstrap = brokerPorts.map((p) => `127.0.0.1:${p}`);
  const local = upOptions.secure === true ? localCredentials(dir) : undefined;
  const security: Pick<ClientOptions, 'ca' | 'credentials'> =
    local === undefined ? {} : { ca: readFileSync(local.caFile), credentials: { user: local.user, password: local.password } };
  const admin = new Admin({ bootstrap, ...security });
  const kafkaPorts = cluster.state.layout.brokers.map((b) => brokerKafkaPort(cluster.state.layout, b));
  return {
    security,
    kafkaPorts,
    kafkaBootstrap: kafkaPorts.map((p) => `127.0.0.1:${p}`).join(','),
    dataDir: dir,
    basePort,
    controllerPort: cluster.state.layout.controllerPort,
    controllerInternalPort: cluster.state.layout.controllerInternalPort,
    brokerPorts,
    brokerInternalPorts: cluster.state.layout.brokers.map((b) => b.internalPort),
    bootstrap,
    admin,
    async stop() {
      await admin.close().catch(() => undefined);
      await localDown(dir, { timeoutMs: 10_000 }).catch(() => undefined);
      if (process.env.TRIBUTARY_KEEP_TEST_DATA) {
        console.log(`kept test data in ${dir}`);
      } else {
        cleanup();
      }
    },
  };
}

/** Every process of the cluster is still running (not crashed by what the test did). */
export function allRunning(dataDir: string): boolean {
  return localStatus(dataDir).processes.every((p) => p.status === 'running');
}

/** The seed's placement for 6 brokers in 2 racks, 10 partitions, RF 3 (leader first). */
export const SEED_PLACEMENT = [
  [0, 3, 1],
  [3, 1, 4],
  [1, 4, 2],
  [4, 2, 5],
  [2, 5, 0],
  [5, 0, 3],
  [0, 3, 1],
  [3, 1, 4],
  [1, 4, 2],
  [4, 2, 5],
];
