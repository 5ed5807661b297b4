// The local cluster's shape: which process runs where. Pure, so the CLI, tests and benchmarks
// agree on ports and racks without starting anything.

import { DEFAULT_CONTROLLER_PORT } from '@tributary/protocol';

export interface BrokerSpec {
  id: number;
  rack: string;
  /** Clients: basePort + 2 + id (19092 + id). */
  port: number;
  /** Broker to broker (replica fetches): basePort + 102 + id (19192 + id). */
  internalPort: number;
  /** Kafka-protocol clients (issue 19): 9092 + id on the default ports, else basePort + 202 + id. */
  kafkaPort?: number;
}

export interface ClusterLayout {
  /** The controller's port; broker i listens on basePort + 2 + i (19090 -> 19092 + i). */
  basePort: number;
  /** Clients, admin, the web console: basePort (19090). */
  controllerPort: number;
  /** Brokers only (registration, heartbeats, metadata, AlterPartition): basePort + 1 (19091). */
  controllerInternalPort: number;
  brokers: BrokerSpec[];
}

/**
 * Internal listeners sit this far above the client ones, so a layout's ports are two blocks:
 * [base, base + 2 + brokers) and [base + 100 + 2, ...). Room for 64 brokers below it.
 */
export const INTERNAL_PORT_OFFSET = 100;

/** The Kafka listener of broker 0 in the default cluster: `kcat -b localhost:9092` just works. */
export const DEFAULT_KAFKA_PORT = 9092;

/**
 * Broker `id`'s Kafka-protocol port: 9092 + id in the default cluster (base port 19090), else a
 * third block, basePort + 202 + id, so clusters on other base ports (tests) do not collide.
 */
export function kafkaPortOf(basePort: number, id: number): number {
  return basePort === DEFAULT_CONTROLLER_PORT ? DEFAULT_KAFKA_PORT + id : basePort + 2 * INTERNAL_PORT_OFFSET + 2 + id;
}

/** A broker's Kafka port, also for a cluster.json written before Kafka listeners existed. */
export function brokerKafkaPort(layout: { basePort: number }, broker: BrokerSpec): number {
  return broker.kafkaPort ?? kafkaPortOf(layout.basePort, broker.id);
}

/** Every port a layout listens on (for finding a free block). */
export function layoutPorts(layout: ClusterLayout): number[] {
  return [layout.controllerPort, layout.controllerInternalPort, ...layout.brokers.flatMap((b) => [b.port, b.internalPort, brokerKafkaPort(layout, b)])];
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
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 2 * INTERNAL_PORT_OFFSET + 2 + count > 65535) {
    throw new Error(`--base-port ${basePort} leaves no room for ${count} brokers (use 1024..${65535 - 2 * INTERNAL_PORT_OFFSET - 2 - count})`);
  }
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new Error(`--brokers must be 1..64, got ${count}`);
  }
  return {
    basePort,
    controllerPort: basePort,
    controllerInternalPort: basePort + 1,
    brokers: Array.from({ length: count }, (_, id) => ({
      id,
      rack: `rack-${Math.floor(id / perRack) + 1}`,
      port: basePort + 2 + id,
      internalPort: basePort + INTERNAL_PORT_OFFSET + 2 + id,
      kafkaPort: kafkaPortOf(basePort, id),
    })),
  };
}
