// The local cluster's shape: which process runs where. Pure, so the CLI, tests and benchmarks
// agree on ports and racks without starting anything.

import { DEFAULT_CONTROLLER_PORT } from '@tributary/protocol';

export interface BrokerSpec {
  id: number;
  rack: string;
  port: number;
}

export interface ClusterLayout {
  /** The controller's port; broker i listens on basePort + 2 + i (19090 -> 19092 + i). */
  basePort: number;
  controllerPort: number;
  brokers: BrokerSpec[];
}

/**
 * The seed's topology: `brokers` brokers split over `racks` racks in order of id (6 and 2 give
 * rack-1 = 0,1,2 and rack-2 = 3,4,5).
 */
export function clusterLayout(options: { basePort?: number; brokers?: number; racks?: number } = {}): ClusterLayout {
  const basePort = options.basePort ?? DEFAULT_CONTROLLER_PORT;
  const count = options.brokers ?? 6;
  const racks = Math.max(1, Math.min(options.racks ?? 2, count));
  const perRack = Math.ceil(count / racks);
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 2 + count > 65535) {
    throw new Error(`--base-port ${basePort} leaves no room for ${count} brokers (use 1024..${65535 - 2 - count})`);
  }
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new Error(`--brokers must be 1..64, got ${count}`);
  }
  return {
    basePort,
    controllerPort: basePort,
    brokers: Array.from({ length: count }, (_, id) => ({ id, rack: `rack-${Math.floor(id / perRack) + 1}`, port: basePort + 2 + id })),
  };
}
