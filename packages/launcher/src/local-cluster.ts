// Starts, stops, kills, pauses and restarts a local cluster of Tributary processes (one
// controller, N brokers) on 127.0.0.1. Processes are real OS processes so that kill -9 and
// SIGSTOP mean what they mean in production; their pids live in a state file in the data dir so
// that any later `tributary local …` command can act on them. This package spawns the broker and
// controller but imports neither (DESIGN.md § Processes and packages).

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterMetadata } from '@tributary/protocol';
import { RpcClient } from '@tributary/transport/client';
import { INTERNAL_PORT_OFFSET, brokerKafkaPort, clusterLayout, kafkaPortOf, type BrokerSpec, type ClusterLayout } from './layout.ts';
import { LogFollower } from './log-follower.ts';
import { isPortFree } from './ports.ts';
import { SUPER_USER, certificateFiles, ensureCertificates, ensureSuperUserPassword, launcherTls, secretsDir } from './secrets.ts';

const BROKER_MAIN = fileURLToPath(new URL('../../broker/src/main.ts', import.meta.url));
const CONTROLLER_MAIN = fileURLToPath(new URL('../../controller/src/main.ts', import.meta.url));
const STATE_FILE = 'cluster.json';

export type ProcessName = 'controller' | `broker-${number}`;

export interface ProcessRecord {
  name: ProcessName;
  pid: number;
  port: number;
  args: string[];
  logFile: string;
  rack?: string;
  brokerId?: number;
}

export interface ClusterStateFile {
  dataDir: string;
  layout: ClusterLayout;
  processes: ProcessRecord[];
  /** Extra arguments given at `up`, reused by `restart`. */
  brokerArgs: string[];
  controllerArgs: string[];
  /** Set by `localDown` before it signals anything, so a foreground `local up` can tell who stopped it. */
  downRequestedMs?: number;
  /** A secure cluster (`local up --secure`): TLS, SCRAM users, ACLs; secrets under <dataDir>/secrets. */
  secure?: boolean;
}

export interface LocalUpOptions {
  dataDir: string;
  basePort?: number;
  brokers?: number;
  racks?: number;
  /** Extra flags for every broker / the controller (tests shorten timeouts with these). */
  brokerArgs?: string[];
  controllerArgs?: string[];
  /** How long to wait for every broker to register. */
  readyTimeoutMs?: number;
  /**
   * 'detach': processes outlive this one, logs go to <dataDir>/logs/*.log.
   * 'attach': the log files' new lines are also passed to `onLog` (until `stopLogs`), and the
   * caller stops the cluster on exit.
   */
  mode?: 'detach' | 'attach';
  onLog?: (name: ProcessName, line: string) => void;
  /**
   * A secure cluster (issue 20): makes (once) a CA, a certificate per process and a super user
   * `admin` with a random password under <dataDir>/secrets (mode 0600), and starts every process
   * with TLS and authentication. A data dir that ran secure stays secure when started again.
   */
  secure?: boolean;
}

export class LocalClusterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalClusterError';
  }
}

function statePath(dataDir: string): string {
  return join(resolve(dataDir), STATE_FILE);
}

export function readState(dataDir: string): ClusterStateFile | undefined {
  const path = statePath(dataDir);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as ClusterStateFile;
}

function writeState(state: ClusterStateFile): void {
  const path = statePath(state.dataDir);
  writeFileSync(`${path}.tmp`, JSON.stringify(state, null, 2));
  renameSync(`${path}.tmp`, path);
}

/** The last lines of a process's log, so a start-up failure says why without a second look. */
function logTail(logFile: string, lines = 5): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join(' | ');
  } catch {
    return '(no log)';
  }
}

/**
 * Whether a process we may just have spawned has exited. With the child's handle, only its exit
 * counts: between fork and exec its /proc cmdline is still ours, which processStatus would
 * read as "not our process".
 */
function hasExited(record: ProcessRecord, child: ChildProcess | undefined): boolean {
  if (child) return child.exitCode !== null || child.signalCode !== null;
  return processStatus(record) === 'stopped';
}

/** 'running', 'paused' (SIGSTOP), or 'stopped'. Checks the command line so a reused pid is not ours. */
export function processStatus(record: ProcessRecord): 'running' | 'paused' | 'stopped' {
  try {
    const cmdline = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8');
    if (!cmdline.includes(record.name === 'controller' ? CONTROLLER_MAIN : BROKER_MAIN)) return 'stopped';
    const stat = readFileSync(`/proc/${record.pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return 'stopped';
    return state === 'T' ? 'paused' : 'running';
  } catch {
    return 'stopped';
  }
}

function logFileOf(state: ClusterStateFile, name: ProcessName): string {
  return join(state.dataDir, 'logs', `${name}.log`);
}

function startProcess(
  state: ClusterStateFile,
  spec: { name: ProcessName; script: string; args: string[]; port: number; rack?: string; brokerId?: number },
  options: LocalUpOptions,
): { record: ProcessRecord; child: ChildProcess } {
  const logFile = logFileOf(state, spec.name);
  mkdirSync(join(state.dataDir, 'logs'), { recursive: true });
  const attach = options.mode === 'attach';
  // In the foreground ('attach') the brokers stay in this process's group: a terminal's Ctrl-C
  // (SIGINT to the whole group) starts their controlled shutdowns at once, and they go with the
  // terminal. The controller gets a group of its own, because those controlled shutdowns need
  // it: stopped by the same Ctrl-C, it would leave every broker retrying until
  // controlled-shutdown-max-ms. The caller stops it last (localDown), or this process's exit does.
  const ownGroup = !attach || spec.name === 'controller';
  // Output goes to the log file in both modes; the foreground shows it by following the file
  // (LogFollower), which also shows the processes a later `local restart` starts.
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [spec.script, ...spec.args], {
    detached: ownGroup,
    stdio: ['ignore', fd, fd],
    env: { ...process.env },
  });
  closeSync(fd);
  if (attach) {
    if (ownGroup) stopOnExit(child);
  } else {
    child.unref();
  }
  if (child.pid === undefined) throw new LocalClusterError(`could not start ${spec.name}`);
  const record: ProcessRecord = { name: spec.name, pid: child.pid, port: spec.port, args: spec.args, logFile };
  if (spec.rack !== undefined) record.rack = spec.rack;
  if (spec.brokerId !== undefined) record.brokerId = spec.brokerId;
  return { record, child };
}

/**
 * A foreground child in a process group of its own gets no signal from the terminal: should this
 * process exit without stopping it (a second Ctrl-C, an error), it is stopped on the way out; and
 * when the terminal hangs up (SIGHUP to its group, the brokers and this process), it is stopped
 * and this process exits as SIGHUP's default action would.
 */
function stopOnExit(child: ChildProcess): void {
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  const hangup = () => {
    stop();
    process.exit(129);
  };
  process.once('exit', stop);
  process.once('SIGHUP', hangup);
  child.once('exit', () => {
    process.off('exit', stop);
    process.off('SIGHUP', hangup);
  });
}

// A cluster.json written before internal listeners existed lacks their ports: they follow the layout.
function controllerInternalPort(layout: ClusterLayout): number {
  return layout.controllerInternalPort ?? layout.controllerPort + 1;
}

function internalPort(broker: BrokerSpec): number {
  return broker.internalPort ?? broker.port + INTERNAL_PORT_OFFSET;
}

function controllerSpec(state: ClusterStateFile) {
  const port = state.layout.controllerPort;
  return {
    name: 'controller' as const,
    script: CONTROLLER_MAIN,
    port,
    args: [
      '--listen',
      `127.0.0.1:${port}`,
      '--internal-listen',
      `127.0.0.1:${controllerInternalPort(state.layout)}`,
      '--data-dir',
      join(state.dataDir, 'controller'),
      ...securityArgs(state, 'controller'),
      ...state.controllerArgs,
    ],
  };
}

/** The flags of a secure process: its certificate, the CA, the super user (and, for the controller, who to create). */
function securityArgs(state: ClusterStateFile, name: ProcessName): string[] {
  if (state.secure !== true) return [];
  const dir = secretsDir(state.dataDir);
  const files = certificateFiles(dir, name);
  const args = ['--tls-cert', files.cert, '--tls-key', files.key, '--tls-ca', join(dir, 'ca.pem'), '--super-users', `User:${SUPER_USER}`];
  if (name === 'controller') args.push('--bootstrap-user', `${SUPER_USER}:${join(dir, `${SUPER_USER}.password`)}`);
  return args;
}

/** Certificates for every process of the layout (and the launcher), and the super user's password. */
async function ensureSecrets(state: ClusterStateFile): Promise<void> {
  if (state.secure !== true) return;
  const dir = secretsDir(state.dataDir);
  await ensureCertificates(dir, ['controller', 'launcher', ...state.layout.brokers.map((b) => `broker-${b.id}`)]);
  ensureSuperUserPassword(dir);
}

function launcherClientOptions(state: ClusterStateFile): { tls?: { ca: string; cert: string; key: string } } {
  const tls = state.secure === true ? launcherTls(state.dataDir) : undefined;
  return tls === undefined ? {} : { tls };
}

/**
 * `__consumer_offsets` gets offsets.topic.replication.factor replicas (3), and brokers refuse to
 * create it while fewer are live (Kafka's rule). A local cluster of one or two brokers could then
 * never use consumer groups, so its brokers are given the cluster's size instead; a later
 * `--offsets-topic-replication-factor` in the broker args still wins.
 */
export function offsetsTopicArgs(brokers: number): string[] {
  return brokers < 3 ? ['--offsets-topic-replication-factor', String(brokers)] : [];
}

function brokerSpec(state: ClusterStateFile, broker: BrokerSpec) {
  return {
    name: `broker-${broker.id}` as ProcessName,
    script: BROKER_MAIN,
    port: broker.port,
    rack: broker.rack,
    brokerId: broker.id,
    args: [
      '--id',
      String(broker.id),
      '--rack',
      broker.rack,
      '--data-dir',
      join(state.dataDir, `broker-${broker.id}`),
      // Clients on the layout's port; replica fetches and the controller's routes on the internal one.
      '--listen',
      `127.0.0.1:${internalPort(broker)}`,
      '--external-listen',
      `127.0.0.1:${broker.port}`,
      // Kafka-protocol clients (issue 19): kcat -b 127.0.0.1:9092 (SASL_SSL on a secure cluster).
      '--kafka-listen',
      `127.0.0.1:${brokerKafkaPort(state.layout, broker)}`,
      '--controller',
      `127.0.0.1:${controllerInternalPort(state.layout)}`,
      ...offsetsTopicArgs(state.layout.brokers.length),
      ...securityArgs(state, `broker-${broker.id}`),
      ...state.brokerArgs,
    ],
  };
}

export interface LocalCluster {
  state: ClusterStateFile;
  /** Children started by this call (attach mode keeps handles to them). */
  children: Map<ProcessName, ChildProcess>;
  /** Attach mode: passes on the lines the processes wrote last and stops following their logs. */
  stopLogs(): void;
}

/**
 * Starts the controller and brokers, waits until every broker is registered and healthy, and
 * records the pids. Refuses to start twins on a data dir whose cluster is still running.
 */
export async function localUp(options: LocalUpOptions): Promise<LocalCluster> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const existing = readState(dataDir);
  if (existing?.processes.some((p) => processStatus(p) !== 'stopped')) {
    throw new LocalClusterError(
      `a cluster is already running from ${dataDir} (controller on port ${existing.layout.controllerPort}); use 'tributary local status' or 'tributary local down'`,
    );
  }
  // A cluster started again as it was keeps its layout, brokers added later (localAddBroker) with
  // their racks included; asking for another shape lays it out afresh.
  const sameShape =
    existing !== undefined &&
    options.brokers === undefined &&
    options.racks === undefined &&
    (options.basePort === undefined || options.basePort === existing.layout.basePort);
  const layout = sameShape
    ? existing.layout
    : clusterLayout({
        basePort: options.basePort ?? existing?.layout.basePort,
        brokers: options.brokers ?? existing?.layout.brokers.length,
        racks: options.racks,
      });
  const state: ClusterStateFile = {
    dataDir,
    layout,
    processes: [],
    brokerArgs: options.brokerArgs ?? [],
    controllerArgs: options.controllerArgs ?? [],
  };
  if (options.secure === true || existing?.secure === true) state.secure = true;
  await ensureSecrets(state);
  const children = new Map<ProcessName, ChildProcess>();
  const onLog = options.onLog;
  const follower = options.mode === 'attach' && onLog ? new LogFollower((name, line) => onLog(name as ProcessName, line)) : undefined;
  const startOne = (spec: Parameters<typeof startProcess>[1]) => {
    // From the file's end before the process starts: all it writes, nothing of earlier runs.
    follower?.follow(spec.name, logFileOf(state, spec.name));
    const { record, child } = startProcess(state, spec, options);
    state.processes.push(record);
    children.set(record.name, child);
    writeState(state);
  };
  startOne(controllerSpec(state));
  for (const broker of layout.brokers) startOne(brokerSpec(state, broker));
  const stopLogs = () => follower?.stop();
  try {
    await waitUntilReady(state, options.readyTimeoutMs ?? 60_000, children);
  } catch (err) {
    await localDown(dataDir).catch(() => undefined);
    stopLogs();
    throw err;
  }
  return { state, children, stopLogs };
}

/** Waits until the controller sees every broker alive and every broker answers /health. */
export async function waitUntilReady(state: ClusterStateFile, timeoutMs: number, children?: ReadonlyMap<ProcessName, ChildProcess>): Promise<ClusterMetadata> {
  const deadline = Date.now() + timeoutMs;
  // The metadata poll is a broker route: the controller serves it on its internal listener.
  const security = launcherClientOptions(state);
  const controller = new RpcClient({ host: '127.0.0.1', port: controllerInternalPort(state.layout) }, { timeoutMs: 2000, ...security });
  const brokers = state.layout.brokers.map((b) => new RpcClient({ host: '127.0.0.1', port: b.port }, { timeoutMs: 2000, ...security }));
  let last = 'the controller has not answered yet';
  try {
    for (;;) {
      for (const p of state.processes) {
        if (hasExited(p, children?.get(p.name))) {
          throw new LocalClusterError(`${p.name} exited during start-up; see ${p.logFile}: ${logTail(p.logFile)}`);
        }
      }
      try {
        const metadata = await controller.call<ClusterMetadata>('/metadata/poll', { sinceVersion: -1, maxWaitMs: 0 });
        const alive = metadata.brokers.filter((b) => b.alive).length;
        last = `${alive} of ${state.layout.brokers.length} brokers registered`;
        if (alive === state.layout.brokers.length) {
          const healths = await Promise.all(brokers.map((b) => b.getText('/health').catch(() => ({ status: 0, text: '' }))));
          const healthy = healths.filter((h) => h.status === 200).length;
          last = `${healthy} of ${brokers.length} brokers healthy`;
          if (healthy === brokers.length) return metadata;
        }
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new LocalClusterError(`cluster not ready after ${timeoutMs} ms: ${last}; logs in ${join(state.dataDir, 'logs')}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  } finally {
    await Promise.all([controller.close(), ...brokers.map((b) => b.close())]);
  }
}

function requireState(dataDir: string): ClusterStateFile {
  const state = readState(dataDir);
  if (!state) throw new LocalClusterError(`no local cluster in ${resolve(dataDir)}; start one with 'pnpm start' or 'tributary local up --detach'`);
  return state;
}

function findProcess(state: ClusterStateFile, target: string): ProcessRecord {
  const name = target === 'controller' ? 'controller' : /^\d+$/.test(target) ? `broker-${target}` : target;
  const record = state.processes.find((p) => p.name === name);
  if (!record) {
    throw new LocalClusterError(
      `no process '${target}' in this cluster; use 'controller' or a broker id (${state.layout.brokers.map((b) => b.id).join(', ')})`,
    );
  }
  return record;
}

export interface ProcessInfo {
  name: ProcessName;
  pid: number;
  port: number;
  rack?: string;
  status: 'running' | 'paused' | 'stopped';
}

export function localStatus(dataDir: string): { dataDir: string; processes: ProcessInfo[] } {
  const state = requireState(dataDir);
  return {
    dataDir: state.dataDir,
    processes: state.processes.map((p) => ({ name: p.name, pid: p.pid, port: p.port, ...(p.rack ? { rack: p.rack } : {}), status: processStatus(p) })),
  };
}

function signal(record: ProcessRecord, sig: NodeJS.Signals): void {
  try {
    process.kill(record.pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitForExit(record: ProcessRecord, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processStatus(record) !== 'stopped') {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** kill -9: the process dies without a word, as in a crash. */
export async function localKill(dataDir: string, target: string): Promise<ProcessRecord> {
  const record = findProcess(requireState(dataDir), target);
  signal(record, 'SIGCONT');
  signal(record, 'SIGKILL');
  await waitForExit(record, 5000);
  return record;
}

/** SIGTERM: a graceful stop (a broker moves its leaderships away first). */
export async function localStop(dataDir: string, target: string, timeoutMs = 20_000): Promise<ProcessRecord> {
  const record = findProcess(requireState(dataDir), target);
  signal(record, 'SIGCONT');
  signal(record, 'SIGTERM');
  if (!(await waitForExit(record, timeoutMs))) {
    signal(record, 'SIGKILL');
    await waitForExit(record, 5000);
  }
  return record;
}

export async function localPause(dataDir: string, target: string): Promise<ProcessRecord> {
  const record = findProcess(requireState(dataDir), target);
  if (processStatus(record) === 'stopped') throw new LocalClusterError(`${record.name} is not running`);
  signal(record, 'SIGSTOP');
  return record;
}

export async function localResume(dataDir: string, target: string): Promise<ProcessRecord> {
  const record = findProcess(requireState(dataDir), target);
  signal(record, 'SIGCONT');
  return record;
}

/**
 * Deletes a stopped process's data dir, as when its disk is lost; it starts empty on the next
 * restart (a broker then has to copy every replica again from the leaders). Refuses a process
 * that is running or paused. Returns the directory deleted.
 */
export function localWipe(dataDir: string, target: string): string {
  const record = findProcess(requireState(dataDir), target);
  if (processStatus(record) !== 'stopped') throw new LocalClusterError(`${record.name} is ${processStatus(record)}; stop it before deleting its data`);
  const at = record.args.indexOf('--data-dir');
  const dir = at >= 0 ? record.args[at + 1] : undefined;
  if (dir === undefined) throw new LocalClusterError(`${record.name} was started without --data-dir`);
  rmSync(dir, { recursive: true, force: true });
  return dir;
}

/**
 * Starts a stopped process again with its old arguments and data (a running one is stopped
 * gracefully first, or killed with `kill: true`). Waits until it answers /health.
 */
export async function localRestart(dataDir: string, target: string, options: { kill?: boolean; readyTimeoutMs?: number } = {}): Promise<ProcessRecord> {
  const state = requireState(dataDir);
  const old = findProcess(state, target);
  if (processStatus(old) !== 'stopped') {
    if (options.kill) await localKill(dataDir, target);
    else await localStop(dataDir, target);
  }
  const spec = old.name === 'controller' ? controllerSpec(state) : brokerSpec(state, state.layout.brokers.find((b) => `broker-${b.id}` === old.name)!);
  const { record, child } = startProcess(state, spec, { dataDir, mode: 'detach' });
  state.processes = state.processes.map((p) => (p.name === record.name ? record : p));
  // Running again: no longer a cluster that `local down` stopped.
  delete state.downRequestedMs;
  writeState(state);
  await waitForHealth(record, options.readyTimeoutMs ?? 30_000, child, state);
  return record;
}

/** The rack with the fewest brokers (ties: the first by name), where a new broker evens them out. */
function leastPopulatedRack(layout: ClusterLayout): string {
  const counts = new Map<string, number>();
  for (const b of layout.brokers) counts.set(b.rack, (counts.get(b.rack) ?? 0) + 1);
  const racks = [...counts.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return racks[0]?.[0] ?? 'rack-1';
}

/**
 * Starts one more broker in a running local cluster (the next free id, the layout's ports for
 * that id: clients on basePort + 2 + id, replication on basePort + 102 + id), in `rack` or, by
 * default, the rack with the fewest brokers. It is recorded in the state file like the others,
 * so status, kill, restart and down treat it alike. Waits until it answers /health (registered,
 * holding metadata). It holds no partitions until a reassignment or a new topic puts some there.
 */
export async function localAddBroker(dataDir: string, options: { rack?: string; readyTimeoutMs?: number } = {}): Promise<ProcessRecord> {
  const state = requireState(dataDir);
  const controller = state.processes.find((p) => p.name === 'controller');
  if (controller === undefined || processStatus(controller) !== 'running') {
    throw new LocalClusterError(`the controller of the cluster in ${state.dataDir} is not running; start the cluster first`);
  }
  const rack = options.rack ?? leastPopulatedRack(state.layout);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(rack)) throw new LocalClusterError(`invalid rack name '${rack}': use 1-64 characters of [A-Za-z0-9._-]`);
  const id = Math.max(-1, ...state.layout.brokers.map((b) => b.id)) + 1;
  if (id >= INTERNAL_PORT_OFFSET - 2)
    throw new LocalClusterError(`no room for broker ${id}: a local cluster holds at most ${INTERNAL_PORT_OFFSET - 2} brokers`);
  const broker: BrokerSpec = {
    id,
    rack,
    port: state.layout.basePort + 2 + id,
    internalPort: state.layout.basePort + INTERNAL_PORT_OFFSET + 2 + id,
    kafkaPort: kafkaPortOf(state.layout.basePort, id),
  };
  const taken = [];
  for (const port of [broker.port, broker.internalPort, broker.kafkaPort!]) if (!(await isPortFree(port))) taken.push(port);
  if (taken.length > 0)
    throw new LocalClusterError(
      `broker ${id} would listen on ${broker.port}, ${broker.internalPort} and ${broker.kafkaPort} (Kafka), but ${taken.join(' and ')} ${taken.length > 1 ? 'are' : 'is'} in use`,
    );
  state.layout.brokers.push(broker);
  await ensureSecrets(state);
  const { record, child } = startProcess(state, brokerSpec(state, broker), { dataDir, mode: 'detach' });
  state.processes.push(record);
  writeState(state);
  await waitForHealth(record, options.readyTimeoutMs ?? 30_000, child, state);
  return record;
}

async function waitForHealth(record: ProcessRecord, timeoutMs: number, child?: ChildProcess, state?: ClusterStateFile): Promise<void> {
  const client = new RpcClient({ host: '127.0.0.1', port: record.port }, { timeoutMs: 1000, ...(state ? launcherClientOptions(state) : {}) });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (hasExited(record, child)) throw new LocalClusterError(`${record.name} exited during start-up; see ${record.logFile}: ${logTail(record.logFile)}`);
      const health = await client.getText('/health').catch(() => ({ status: 0, text: '' }));
      if (health.status === 200) return;
      if (Date.now() > deadline) throw new LocalClusterError(`${record.name} not healthy after ${timeoutMs} ms; see ${record.logFile}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await client.close();
  }
}

/** Stops every process: brokers first (gracefully, in parallel), then the controller. */
export async function localDown(dataDir: string, options: { timeoutMs?: number } = {}): Promise<ProcessInfo[]> {
  const state = requireState(dataDir);
  const timeoutMs = options.timeoutMs ?? 20_000;
  const stopAll = async (records: ProcessRecord[]) => {
    for (const r of records) {
      signal(r, 'SIGCONT');
      signal(r, 'SIGTERM');
    }
    await Promise.all(
      records.map(async (r) => {
        if (!(await waitForExit(r, timeoutMs))) {
          signal(r, 'SIGKILL');
          await waitForExit(r, 5000);
        }
      }),
    );
  };
  state.downRequestedMs = Date.now();
  writeState(state);
  const running = state.processes.filter((p) => processStatus(p) !== 'stopped');
  await stopAll(running.filter((p) => p.name !== 'controller'));
  await stopAll(running.filter((p) => p.name === 'controller'));
  return localStatus(dataDir).processes;
}

/** Why `waitForClusterStop` returned. */
export type ClusterStopCause = 'aborted' | 'down' | 'exited';

/**
 * Waits until every process of the cluster has stopped, for a foreground `local up` whose
 * cluster may be stopped from elsewhere: 'down' when `localDown` (another terminal's
 * `tributary local down`) stopped it, 'exited' when the processes ended on their own or were
 * killed, 'aborted' as soon as `signal` fires (Ctrl-C). It polls the state file rather than
 * watching its own children, because `local restart` replaces them with processes it does not
 * own; the poll also keeps the caller's event loop alive while it waits.
 */
export function waitForClusterStop(dataDir: string, options: { signal?: AbortSignal; pollMs?: number } = {}): Promise<ClusterStopCause> {
  const { signal, pollMs = 250 } = options;
  return new Promise((resolveStop) => {
    if (signal?.aborted) return resolveStop('aborted');
    const finish = (cause: ClusterStopCause) => {
      clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      resolveStop(cause);
    };
    const onAbort = () => finish('aborted');
    const timer = setInterval(() => {
      let state: ClusterStateFile | undefined;
      try {
        state = readState(dataDir);
      } catch {
        return; // Being replaced (it is written by rename, so this is rare): look again next time.
      }
      if (!state) return finish('exited');
      if (state.processes.every((p) => processStatus(p) === 'stopped')) finish(state.downRequestedMs !== undefined ? 'down' : 'exited');
    }, pollMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
