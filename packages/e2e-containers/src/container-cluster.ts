// A Tributary cluster as containers, for tests: the controller and six brokers (racks as in the
// seed: rack-1 = 0,1,2, rack-2 = 3,4,5) from the local image `tributary:dev` on one Docker
// network, each broker's external listener published on a fixed host port and advertised as
// 127.0.0.1:<port>, so the client on the host reaches every broker directly.
//
// testcontainers' GenericContainer and Network start them (its compose module needs Compose v2);
// faults are injected with the docker CLI (kill, start, pause, network disconnect) and, for a
// follower cut off from its leader alone, an iptables rule inside the follower's network
// namespace. Nothing is pulled: the image must have been built (see .ci/docker.sh).

import { execFile, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GenericContainer, Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';

const execFileAsync = promisify(execFile);

export const IMAGE = process.env.TRIBUTARY_IMAGE ?? 'tributary:dev';
export const BROKER_COUNT = 6;
export const INTERNAL_PORT = 9092;
export const CONTROLLER_PORT = 9090;
/** The controller's broker-facing listener (the image's default: TRIBUTARY_INTERNAL_LISTEN). */
export const CONTROLLER_INTERNAL_PORT = 9091;
/** Label on everything these tests start, so CI can sweep leftovers. */
export const TEST_LABEL = 'tributary.test';

/** The seed's table: replica lists of P0…P9 (leader first) for 10 partitions, RF 3. */
export const SEED_PLACEMENT: readonly (readonly number[])[] = [
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

export function rackOf(brokerId: number): string {
  return brokerId < 3 ? 'rack-1' : 'rack-2';
}

export interface BrokerContainer {
  readonly brokerId: number;
  readonly rack: string;
  readonly container: StartedTestContainer;
  readonly containerId: string;
  /** Host port = container port of the external listener. */
  readonly hostPort: number;
}

export interface ContainerClusterOptions {
  /** First of BROKER_COUNT consecutive free host ports. */
  basePort: number;
  /** Container logs go to <logDir>/<name>.log. */
  logDir: string;
  /** Extra environment for every broker (e.g. TRIBUTARY_LOG_LEVEL). */
  brokerEnv?: Record<string, string>;
}

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('docker', args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

function logConsumer(logDir: string, name: string) {
  return (stream: NodeJS.ReadableStream) => {
    // Restarts of the same container append to the same file.
    stream.pipe(createWriteStream(join(logDir, `${name}.log`), { flags: 'a' }));
  };
}

/** A one-second health check: the image's default interval (5 s) would slow every start. */
const FAST_HEALTHCHECK = {
  test: ['CMD', 'node', '/opt/tributary/healthcheck.mjs'] as ['CMD', ...string[]],
  interval: 1000,
  timeout: 3000,
  retries: 3,
  startPeriod: 1000,
};

export class ContainerCluster {
  readonly brokers = new Map<number, BrokerContainer>();
  readonly bootstrap: string[];
  readonly network: StartedNetwork;
  readonly controller: StartedTestContainer;
  private readonly options: ContainerClusterOptions;

  private constructor(network: StartedNetwork, controller: StartedTestContainer, options: ContainerClusterOptions) {
    this.network = network;
    this.controller = controller;
    this.options = options;
    this.bootstrap = Array.from({ length: BROKER_COUNT }, (_, i) => `127.0.0.1:${options.basePort + i}`);
  }

  static async start(options: ContainerClusterOptions): Promise<ContainerCluster> {
    mkdirSync(options.logDir, { recursive: true });
    const network = await new Network().start();
    let controller: StartedTestContainer | undefined;
    try {
      controller = await new GenericContainer(IMAGE)
        .withCommand(['controller'])
        .withNetwork(network)
        .withNetworkAliases('controller')
        .withHostname('controller')
        .withLabels({ [TEST_LABEL]: 'containers', 'tributary.role': 'controller' })
        .withHealthCheck(FAST_HEALTHCHECK)
        .withWaitStrategy(Wait.forHealthCheck())
        .withStartupTimeout(60_000)
        .withLogConsumer(logConsumer(options.logDir, 'controller'))
        .start();
      const cluster = new ContainerCluster(network, controller, options);
      await Promise.all(Array.from({ length: BROKER_COUNT }, (_, id) => cluster.startBroker(id)));
      return cluster;
    } catch (err) {
      await docker('rm', '-fv', ...(await listContainers(network.getName()))).catch(() => {});
      await network.stop().catch(() => {});
      throw err;
    }
  }

  private async startBroker(brokerId: number): Promise<void> {
    const hostPort = this.options.basePort + brokerId;
    const rack = rackOf(brokerId);
    const name = `broker-${brokerId}`;
    const container = await new GenericContainer(IMAGE)
      .withCommand(['broker'])
      .withNetwork(this.network)
      .withNetworkAliases(name)
      .withHostname(name)
      .withEnvironment({
        TRIBUTARY_BROKER_ID: String(brokerId),
        TRIBUTARY_RACK: rack,
        TRIBUTARY_LISTEN: `0.0.0.0:${INTERNAL_PORT}`,
        TRIBUTARY_ADVERTISE: `${name}:${INTERNAL_PORT}`,
        TRIBUTARY_EXTERNAL_LISTEN: `0.0.0.0:${hostPort}`,
        TRIBUTARY_EXTERNAL_ADVERTISE: `127.0.0.1:${hostPort}`,
        TRIBUTARY_CONTROLLER: `controller:${CONTROLLER_INTERNAL_PORT}`,
        ...this.options.brokerEnv,
      })
      .withLabels({ [TEST_LABEL]: 'containers', 'tributary.role': 'broker', 'tributary.broker-id': String(brokerId), 'tributary.rack': rack })
      .withExposedPorts({ container: hostPort, host: hostPort })
      .withHealthCheck(FAST_HEALTHCHECK)
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(60_000)
      .withLogConsumer(logConsumer(this.options.logDir, name))
      .start();
    this.brokers.set(brokerId, { brokerId, rack, container, containerId: container.getId(), hostPort });
  }

  broker(brokerId: number): BrokerContainer {
    const broker = this.brokers.get(brokerId);
    if (!broker) throw new Error(`no broker ${brokerId}`);
    return broker;
  }

  /** SIGKILL: no controlled shutdown, the controller notices by the missing heartbeats. */
  async kill(brokerId: number): Promise<void> {
    await docker('kill', this.broker(brokerId).containerId);
  }

  /** Starts a killed or stopped broker again: same container, so the same data volume. */
  async restart(brokerId: number): Promise<void> {
    const { containerId } = this.broker(brokerId);
    const since = Math.floor(Date.now() / 1000).toString();
    await docker('start', containerId);
    // testcontainers' log stream ended with the old run; follow the new one into the same file.
    const follower = spawn('docker', ['logs', '--follow', '--since', since, containerId], { stdio: ['ignore', 'pipe', 'pipe'] });
    const file = createWriteStream(join(this.options.logDir, `broker-${brokerId}.log`), { flags: 'a' });
    follower.stdout.pipe(file);
    follower.stderr.pipe(file);
    follower.unref();
    await this.waitHealthy(brokerId);
  }

  async waitHealthy(brokerId: number, timeoutMs = 60_000): Promise<void> {
    const { containerId } = this.broker(brokerId);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await docker('inspect', '-f', '{{.State.Health.Status}}', containerId);
      if (status === 'healthy') return;
      if (Date.now() > deadline) throw new Error(`broker ${brokerId} not healthy within ${timeoutMs} ms (status ${status})`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async pause(brokerId: number): Promise<void> {
    await docker('pause', this.broker(brokerId).containerId);
  }

  async unpause(brokerId: number): Promise<void> {
    await docker('unpause', this.broker(brokerId).containerId);
  }

  /** Cuts a broker off the cluster network: no peer, no controller, no client reaches it. */
  async disconnect(brokerId: number): Promise<void> {
    await docker('network', 'disconnect', this.network.getName(), this.broker(brokerId).containerId);
  }

  /** Reconnects it under its alias, so peers find it by name again. */
  async reconnect(brokerId: number): Promise<void> {
    await docker('network', 'connect', '--alias', `broker-${brokerId}`, this.network.getName(), this.broker(brokerId).containerId);
  }

  /** The broker's address on the cluster network (changes on reconnect). */
  async ipAddress(brokerId: number): Promise<string> {
    return docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${this.network.getName()}").IPAddress}}`, this.broker(brokerId).containerId);
  }

  /**
   * Drops every packet from `brokerId` to `peerId` (iptables in the broker's network namespace):
   * its fetches from that leader stall while its heartbeats to the controller still flow.
   */
  async blockPeer(brokerId: number, peerId: number): Promise<void> {
    await this.iptables(brokerId, '-A', await this.ipAddress(peerId));
  }

  async unblockPeer(brokerId: number, peerId: number): Promise<void> {
    await this.iptables(brokerId, '-D', await this.ipAddress(peerId));
  }

  private async iptables(brokerId: number, op: '-A' | '-D', peerIp: string): Promise<void> {
    const pid = await docker('inspect', '-f', '{{.State.Pid}}', this.broker(brokerId).containerId);
    await execFileAsync('nsenter', ['-t', pid, '-n', 'iptables', op, 'OUTPUT', '-d', peerIp, '-j', 'DROP'], { timeout: 30_000 });
  }

  /** Runs the CLI inside a broker's container (its own loopback, its own network view). */
  async cliInside(brokerId: number, args: string[], input?: string): Promise<{ exitCode: number; output: string }> {
    const { containerId } = this.broker(brokerId);
    const command =
      input === undefined
        ? ['tributary-entrypoint', 'tributary', ...args]
        : ['sh', '-c', `printf '%s' "$0" | tributary-entrypoint tributary "$@"`, input, ...args];
    try {
      const { stdout, stderr } = await execFileAsync('docker', ['exec', '-i', containerId, ...command], { timeout: 60_000 });
      return { exitCode: 0, output: stdout + stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { exitCode: typeof e.code === 'number' ? e.code : 1, output: (e.stdout ?? '') + (e.stderr ?? '') };
    }
  }

  /** Removes every container (with its anonymous volume) and the network. */
  async stop(): Promise<void> {
    // Containers cut off the network are not found through it: remove what we know by id too.
    const known = [this.controller.getId(), ...[...this.brokers.values()].map((b) => b.containerId)];
    const attached = await listContainers(this.network.getName()).catch(() => [] as string[]);
    const ids = [...new Set([...known, ...attached])];
    await docker('rm', '-fv', ...ids).catch(() => {});
    await this.network.stop().catch(() => {});
  }
}

async function listContainers(networkName: string): Promise<string[]> {
  const out = await docker('ps', '-aq', '--filter', `network=${networkName}`);
  return out.split('\n').filter(Boolean);
}
