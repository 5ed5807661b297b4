// One chaos run, start to verdict: start (or attach to) a cluster, create a fresh topic, run the
// workload while the nemesis follows its schedule, heal everything, wait until every partition's
// ISR is full and all is committed, let the consumers catch up, read every partition from its
// start to its end, and check the history.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Admin, Consumer, type ClientOptions, type TopicDescription } from '@tributary/client';
import { freeClusterBasePort, localCredentials, localDown, localUp, processStatus, readState } from '@tributary/launcher';
import { check, type CheckResult } from './checker.ts';
import { HistoryRecorder, type FaultOp, type History } from './history.ts';
import { discoverDockerCluster, DockerNemesis } from './docker-nemesis.ts';
import { LocalNemesis, type Nemesis } from './nemesis.ts';
import { DOCKER_ONLY_FAULTS, FAULT_KINDS, buildSchedule, describeFault, holdAfterInjectMs, type FaultKind, type ScheduledFault } from './schedule.ts';
import { waitConverged, type SettledPartition } from './settle.ts';
import { Workload } from './workload.ts';
import { GroupWorkload, checkGroup, type GroupCheckResult } from './group-workload.ts';

export const TOPIC_PARTITIONS = 10;
export const TOPIC_REPLICATION_FACTOR = 3;
export const TOPIC_MIN_ISR = 2;

export interface ChaosRunOptions {
  target: 'local' | 'docker';
  durationMs: number;
  seed: number;
  faults: FaultKind[];
  producers: number;
  /** A send not acknowledged within this fails (the producer's deliveryTimeoutMs). Default 10000. */
  deliveryTimeoutMs?: number;
  historyPath?: string;
  /**
   * local: attach to the cluster running from this dir, or start one there (default: a fresh
   * temp dir). docker: unused; the compose cluster is found by its labels.
   */
  dataDir?: string;
  basePort?: number;
  /** local: start the cluster in secure mode (`local up --secure`); an attached one is as it is. */
  secure?: boolean;
  /**
   * TLS and SCRAM for the workload's clients; default: none, or, on a secure local cluster, its
   * CA and super user (as the CLI does).
   */
  client?: Pick<ClientOptions, 'ca' | 'credentials'>;
  /** Progress lines (the CLI prints them unless --json). */
  log?: (line: string) => void;
  /** Aborting ends the workload early; the run still heals, checks and tears down. */
  signal?: AbortSignal;
  /** How long the cluster has after the final heal to converge (full ISRs, HW = LEO, identical replicas). Default 120000. */
  settleTimeoutMs?: number;
  /**
   * Members of one consumer group reading the topic through the faults (0: none, the default):
   * every acknowledged record must reach the group, committed offsets never go back, and the
   * lag is 0 after the heal (checkGroup).
   */
  groupConsumers?: number;
}

export interface ChaosRunResult {
  topic: string;
  seed: number;
  durationMs: number;
  faults: FaultKind[];
  schedule: ScheduledFault[];
  injected: FaultOp[];
  check: CheckResult;
  history: History;
  /** What the final heal had to do. */
  healed: string[];
  /**
   * Whether the cluster converged within the settle timeout (every process back, full ISRs,
   * HW = LEO, identical replicas); when not, the checker reports liveness or divergent-replicas.
   */
  settled: boolean;
  consumersCaughtUp: boolean;
  /** The group-consumer workload's verdict (with groupConsumers > 0). */
  group?: GroupCheckResult;
  dataDir: string;
  /** True when the data dir was kept (we attached, or the run found violations). */
  keptDataDir: boolean;
}

export class ChaosUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChaosUsageError';
  }
}

export async function runChaos(options: ChaosRunOptions): Promise<ChaosRunResult> {
  const log = options.log ?? (() => {});
  const dockerOnly = options.faults.filter((f) => DOCKER_ONLY_FAULTS.includes(f));
  if (options.target === 'local' && dockerOnly.length > 0) {
    const local = FAULT_KINDS.filter((k) => !DOCKER_ONLY_FAULTS.includes(k));
    throw new ChaosUsageError(`faults ${dockerOnly.join(', ')} need --target docker; the local target knows ${local.join(', ')}`);
  }

  let dataDir = '';
  let started = false;
  let tempCreated = false;
  let bootstrap: string[];
  let nemesis: Nemesis;
  let client = options.client ?? {};
  if (options.target === 'docker') {
    // Attach to the compose cluster; it is never started or removed here.
    const cluster = await discoverDockerCluster(process.env.TRIBUTARY_CHAOS_PROJECT || undefined);
    log(`attaching to compose project ${cluster.project}: ${cluster.brokers.map((b) => b.name).join(', ')}, ${cluster.controller.name}`);
    bootstrap = cluster.bootstrap;
    nemesis = new DockerNemesis(cluster);
  } else {
    // The cluster: attach to one running from --data-dir, else start one.
    const existing = options.dataDir ? readState(options.dataDir) : undefined;
    if (options.dataDir && existing?.processes.some((p) => processStatus(p) !== 'stopped')) {
      dataDir = resolve(options.dataDir);
      log(`attaching to the cluster running from ${dataDir}`);
    } else {
      dataDir = options.dataDir ? resolve(options.dataDir) : mkdtempSync(join(tmpdir(), 'tributary-chaos-'));
      tempCreated = options.dataDir === undefined;
      const basePort = options.basePort ?? (await freeClusterBasePort(6));
      log(`starting a controller and 6 brokers in ${dataDir} (ports ${basePort}…${basePort + 7})${options.secure ? ', secure' : ''}`);
      await localUp({ dataDir, basePort, mode: 'detach', readyTimeoutMs: 120_000, ...(options.secure ? { secure: true } : {}) });
      started = true;
    }
    bootstrap = readState(dataDir)!.layout.brokers.map((b) => `127.0.0.1:${b.port}`);
    const local = options.client === undefined && readState(dataDir)?.secure === true ? localCredentials(dataDir) : undefined;
    if (local !== undefined) client = { ca: readFileSync(local.caFile), credentials: { user: local.user, password: local.password } };
    nemesis = new LocalNemesis(dataDir);
  }
  const admin = new Admin({ bootstrap, ...client, requestTimeoutMs: 10_000 });
  const recorder = new HistoryRecorder(options.historyPath);
  let result: ChaosRunResult | undefined;
  let healed: string[] = [];
  let groupWorkload: GroupWorkload | undefined;
  try {
    const topic = `chaos-${options.seed}-${Date.now()}`;
    await admin.createTopic({
      name: topic,
      partitions: TOPIC_PARTITIONS,
      replicationFactor: TOPIC_REPLICATION_FACTOR,
      configs: { 'min.insync.replicas': TOPIC_MIN_ISR },
      timeoutMs: 60_000,
    });
    const schedule = buildSchedule({ seed: options.seed, durationMs: options.durationMs, faults: options.faults, partitions: TOPIC_PARTITIONS });
    log(
      `topic ${topic}: ${TOPIC_PARTITIONS} partitions, RF ${TOPIC_REPLICATION_FACTOR}, min.insync.replicas=${TOPIC_MIN_ISR}; seed ${options.seed}; ${schedule.length} faults planned:`,
    );
    for (const f of schedule) log(`  ${describeFault(f)}`);
    const startMs = Date.now();
    recorder.record({
      kind: 'header',
      topic,
      partitions: TOPIC_PARTITIONS,
      seed: options.seed,
      durationMs: options.durationMs,
      faults: options.faults,
      target: options.target,
      startedMs: startMs,
      schedule,
    });

    const workload = new Workload({
      bootstrap,
      client,
      topic,
      partitions: TOPIC_PARTITIONS,
      producers: options.producers,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? 10_000,
      recorder,
    });
    workload.start();
    const groupConsumers = options.groupConsumers ?? 0;
    if (groupConsumers > 0) {
      groupWorkload = new GroupWorkload({ bootstrap, client, topic, groupId: `${topic}-group`, members: groupConsumers });
      groupWorkload.start();
      log(`group ${topic}-group: ${groupConsumers} members reading ${topic}`);
    }
    const injected: FaultOp[] = [];
    const progress = setInterval(
      () => log(`t+${((Date.now() - startMs) / 1000).toFixed(0)}s: ${workload.sendsStarted} sends, ${workload.acked} acknowledged`),
      15_000,
    );
    try {
      for (const fault of schedule) {
        if (!(await sleepUntil(startMs + fault.atMs, options.signal))) break;
        let op: FaultOp;
        try {
          const description = await describeWithRetry(admin, topic);
          op = await nemesis.inject(fault, description, Date.now(), () => describeWithRetry(admin, topic));
        } catch (err) {
          log(`t+${secs(startMs)}: fault ${fault.id} (${fault.action}) not injected: ${(err as Error).message}`);
          continue;
        }
        recorder.startFault(op);
        injected.push(op);
        for (const step of op.steps ?? []) log(`t+${((step.atMs - startMs) / 1000).toFixed(1)}s:   ${step.what}`);
        log(`t+${secs(startMs)}: ${op.fault} ${op.targets.join(', ')}${op.note ? ` (${op.note})` : ''}; partitions ${op.partitions.join(',')}`);
        // A fault made of steps holds its last state for its own time once the steps have run.
        const hold = holdAfterInjectMs(fault);
        await sleepUntil(hold === undefined ? op.startMs + fault.durationMs : Date.now() + hold, options.signal);
        try {
          await nemesis.heal(op);
          log(`t+${secs(startMs)}: healed ${op.fault} ${op.targets.join(', ')}${op.fault === 'garbage' && op.note ? `: ${op.note}` : ''}`);
        } catch (err) {
          log(`t+${secs(startMs)}: healing ${op.fault} ${op.targets.join(', ')} failed: ${(err as Error).message}`);
        }
        op.healedMs = Date.now();
        recorder.finishFault(op);
      }
      await sleepUntil(startMs + options.durationMs, options.signal);
    } finally {
      clearInterval(progress);
      healed = await nemesis.healAll().catch((err: Error) => [`heal failed: ${err.message}`]);
      for (const op of injected)
        if (op.healedMs === undefined) {
          op.healedMs = Date.now();
          recorder.finishFault(op);
        }
      if (healed.length > 0) log(`healed: ${healed.join(', ')}`);
    }
    log(`workload stopping: waiting for outstanding sends`);
    await workload.stopProducers();

    const settleTimeoutMs = options.settleTimeoutMs ?? 120_000;
    log(`waiting up to ${settleTimeoutMs / 1000} s for every partition to have its full ISR, HW = LEO and identical replicas`);
    const settle = await waitConverged({ admin, topic, partitions: TOPIC_PARTITIONS, timeoutMs: settleTimeoutMs, processes: () => nemesis.processes() });
    if (options.target === 'local') {
      const crashes = crashesIn(join(dataDir, 'logs'), startMs);
      if (crashes.length > 0) {
        settle.snapshot.crashes = crashes;
        for (const c of crashes) log(`${c.process} crashed during the run: ${c.message}`);
      }
    }
    recorder.record(settle.snapshot);
    if (!settle.converged) log(`not converged ${settleTimeoutMs / 1000} s after the heal: ${settle.why}`);
    const ends = new Map(settle.partitions.map((p) => [p.partition, p.highWatermark]));
    const consumersCaughtUp = await workload.stopConsumers(ends, 30_000);
    if (!consumersCaughtUp) log('consumers did not reach the end of every partition within 30 s');
    let group: GroupCheckResult | undefined;
    if (groupWorkload !== undefined) {
      log('waiting up to 60 s for the group to commit the end of every partition');
      const final = await groupWorkload.finish(ends, 60_000);
      const acked = recorder.history.sends.flatMap((s) =>
        s.outcome.type === 'ok' ? [{ partition: s.partition, offset: s.outcome.offset, value: s.value }] : [],
      );
      group = checkGroup({ acked, delivered: groupWorkload.delivered, observations: groupWorkload.observations, final });
      groupWorkload = undefined;
      log(
        `group: ${group.distinctDelivered} records delivered (${group.redelivered} again), ${group.acknowledged} acknowledged, ${group.observations} committed offsets observed, violations ${group.violations}`,
      );
    }

    log('reading every partition from its start');
    for (const final of await finalRead(bootstrap, client, topic, settle.partitions)) recorder.record(final);

    const verdict = check(recorder.history);
    const keep = !started || verdict.violations > 0 || (group !== undefined && !group.valid);
    result = {
      topic,
      seed: options.seed,
      durationMs: options.durationMs,
      faults: options.faults,
      schedule,
      injected,
      check: verdict,
      history: recorder.history,
      healed,
      settled: settle.converged,
      consumersCaughtUp,
      ...(group !== undefined ? { group } : {}),
      dataDir,
      keptDataDir: keep,
    };
    return result;
  } finally {
    // A run that ended early (aborted, failed) still stops its group members.
    await groupWorkload?.finish(new Map(), 0).catch(() => undefined);
    await admin.close().catch(() => undefined);
    await recorder.close().catch(() => undefined);
    if (started) {
      await localDown(dataDir, { timeoutMs: 15_000 }).catch(() => undefined);
      if (tempCreated && !(result?.keptDataDir ?? true)) rmSync(dataDir, { recursive: true, force: true });
    }
  }
}

function secs(startMs: number): string {
  return `${((Date.now() - startMs) / 1000).toFixed(1)}s`;
}

/** Sleeps until `atMs`; false when aborted first. */
function sleepUntil(atMs: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  const ms = atMs - Date.now();
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolveSleep) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolveSleep(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolveSleep(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function describeWithRetry(admin: Admin, topic: string): Promise<TopicDescription> {
  let last: unknown;
  for (let i = 0; i < 10; i++) {
    try {
      return await admin.describeTopic(topic);
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw last;
}

/**
 * Fatal lines (pino level 60: an uncaught exception, a storage failure) the cluster's processes
 * logged since `sinceMs`: each a crash, since no fault makes a process log one (kill -9 leaves no
 * line, a pause none either).
 */
export function crashesIn(logDir: string, sinceMs: number): { process: string; atMs: number; message: string }[] {
  if (!existsSync(logDir)) return [];
  const out: { process: string; atMs: number; message: string }[] = [];
  for (const file of readdirSync(logDir).filter((f) => f.endsWith('.log'))) {
    for (const line of readFileSync(join(logDir, file), 'utf8').split('\n')) {
      if (!line.includes('"level":60')) continue;
      try {
        const entry = JSON.parse(line) as { time?: number; msg?: string; err?: { message?: string } };
        if ((entry.time ?? 0) < sinceMs) continue;
        out.push({ process: file.slice(0, -'.log'.length), atMs: entry.time ?? 0, message: [entry.msg, entry.err?.message].filter(Boolean).join(': ') });
      } catch {
        // A torn last line of a killed process: not a fatal line we can read.
      }
    }
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

/** Reads each partition from its log start to its high watermark with a fresh consumer. */
async function finalRead(bootstrap: string[], client: Pick<ClientOptions, 'ca' | 'credentials'>, topic: string, partitions: SettledPartition[]) {
  const consumer = new Consumer({ bootstrap, ...client, maxWaitMs: 200, requestTimeoutMs: 10_000 });
  const records = new Map<number, [number, string][]>(partitions.map((p) => [p.partition, []]));
  consumer.assign(partitions.map((p) => ({ topic, partition: p.partition, offset: p.logStartOffset })));
  const ends = new Map(partitions.map((p) => [p.partition, p.highWatermark]));
  const deadline = Date.now() + 60_000;
  let idleSince = Date.now();
  try {
    const done = () => partitions.every((p) => (consumer.position(topic, p.partition) ?? 0) >= ends.get(p.partition)!);
    while (!done() && Date.now() < deadline) {
      let batch: Awaited<ReturnType<typeof consumer.poll>>;
      try {
        batch = await consumer.poll();
      } catch {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (batch.length > 0) idleSince = Date.now();
      // An unsettled partition's end is unknown: stop once nothing has come for 5 s.
      else if (Date.now() - idleSince > 5000 && [...ends.values()].includes(Number.MAX_SAFE_INTEGER)) break;
      for (const r of batch) if (r.offset < ends.get(r.partition)!) records.get(r.partition)!.push([r.offset, r.value?.toString('utf8') ?? '']);
    }
  } finally {
    await consumer.close();
  }
  return partitions.map((p) => ({
    kind: 'final' as const,
    partition: p.partition,
    logStartOffset: p.logStartOffset,
    highWatermark: p.highWatermark === Number.MAX_SAFE_INTEGER ? -1 : p.highWatermark,
    records: records.get(p.partition)!,
  }));
}
