// Issue 21's two recovery targets on big logs:
//
//   broker-restart: a broker holding `gb` GB of log (a topic of RF 1 whose partitions all live on
//     it) is killed with kill -9 and started again; timed from the process spawn until it serves:
//     its /health answers 200 and a consumer reads a record of each of its partitions from it.
//     Target: ≤ 5000 ms at 10 GB.
//   leader-change-stall: one partition (RF 3) holding `gb` GB written by an idempotent producer
//     (so the new leader must know that producer's sequences); its leader is killed with kill -9
//     while another idempotent producer keeps writing to it; the largest event-loop delay of every
//     live broker over the change is read from their /metrics. Target: ≤ 50 ms at 2 GB.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { type Admin, Consumer, Producer } from '@tributary/client';
import { localKill, localRestart, type ClusterStateFile } from '@tributary/launcher';
import { Progress } from './progress.ts';
import { controllerMetadata, until } from './scale.ts';
import { VALUE_BYTES, sleep, topicReplicating, waitFor } from './workload.ts';

const FILL_VALUE_BYTES = 64 * 1024;
/** Fill records in flight: 16 MiB. */
const FILL_INFLIGHT_MAX = 256;
/** The event-loop figure the brokers export (prom-client's default metrics, prefix tributary_broker_). */
export const EVENT_LOOP_MAX_METRIC = 'tributary_broker_nodejs_eventloop_lag_max_seconds';
/** How long the window of the leader-change phase lasts after the producer's first acknowledgement from the new leader. */
const SETTLE_MS = 5000;

/**
 * Writes `bytes` of 64 KiB values round-robin over the given partitions of `topic`, as fast as the
 * cluster takes them (big batches, a window of FILL_INFLIGHT_MAX records); any record refused fails it.
 */
async function fill(
  bootstrap: string,
  topic: string,
  partitions: readonly number[],
  bytes: number,
  options: { acks: 'all' | 1; idempotent: boolean },
  label: string,
): Promise<{ seconds: number; records: number; bytes: number }> {
  const count = Math.ceil(bytes / FILL_VALUE_BYTES);
  const progress = new Progress(label, count);
  const value = randomBytes(FILL_VALUE_BYTES);
  const producer = new Producer({ bootstrap, ...options, lingerMs: 5, batchSize: 1024 * 1024, batchSizeMax: 1024 * 1024, bufferMemoryBytes: 64 * 1024 * 1024 });
  const t0 = performance.now();
  let failed = 0;
  let firstError: unknown;
  try {
    const inflight = new Set<Promise<unknown>>();
    for (let i = 0; i < count; i++) {
      const send = producer
        .send({ topic, partition: partitions[i % partitions.length]!, value })
        .catch((err: unknown) => {
          failed++;
          firstError ??= err;
        })
        .finally(() => inflight.delete(send));
      inflight.add(send);
      if (inflight.size >= FILL_INFLIGHT_MAX) await Promise.race(inflight);
      if ((i & 63) === 0) progress.update(i, `${((i * FILL_VALUE_BYTES) / 1e6).toFixed(0)} MB`);
    }
    await Promise.all(inflight);
  } finally {
    await producer.close();
  }
  if (failed > 0) throw new Error(`filling ${topic}: ${failed} of ${count} records failed, the first: ${(firstError as Error)?.message ?? firstError}`);
  const seconds = (performance.now() - t0) / 1000;
  progress.finish(`${((count * FILL_VALUE_BYTES) / 1e9).toFixed(2)} GB in ${seconds.toFixed(1)} s`);
  return { seconds, records: count, bytes: count * FILL_VALUE_BYTES };
}

/** Bytes of the log directories of `topic` under a broker's data dir (`<topic>-<partition>`). */
function logBytes(brokerDataDir: string, topic: string): number {
  let total = 0;
  for (const name of readdirSync(brokerDataDir)) {
    if (!name.startsWith(`${topic}-`) || !/^\d+$/.test(name.slice(topic.length + 1))) continue;
    for (const file of readdirSync(join(brokerDataDir, name))) total += statSync(join(brokerDataDir, name, file)).size;
  }
  return total;
}

/** What a restarted broker logged; times in ms from its spawn, null when it did not log it. */
export interface RestartLogSummary {
  firstLineMs: number | null;
  loadedLogsMs: number | null;
  logsLoaded: number | null;
  listeningMs: number | null;
  registeredMs: number | null;
  lastBecameLeaderMs: number | null;
  /** Segments of the topic's logs, and the segments opened past their recovery point (scanned). */
  openedLogs: { logEndOffset: number; segments: number; recoveryPoint: number }[];
  warnings: Record<string, number>;
}

/**
 * What a restarted broker logged from `sinceMs` (wall clock) on: milliseconds from `sinceMs` to
 * each milestone (its first line, 'loaded logs', 'broker listening', 'registered with the
 * controller', the last 'became leader' of `topic`), the logs of `topic` it opened, and its
 * warnings (e.g. 'recovery truncated segment'), counted by message. Pure over the log text (pino
 * JSON lines).
 */
export function summarizeRestartLog(text: string, sinceMs: number, topic: string): RestartLogSummary {
  const out: RestartLogSummary = {
    firstLineMs: null,
    loadedLogsMs: null,
    logsLoaded: null,
    listeningMs: null,
    registeredMs: null,
    lastBecameLeaderMs: null,
    openedLogs: [],
    warnings: {},
  };
  const ofTopic = (dir: unknown) => typeof dir === 'string' && new RegExp(`/${escapeRegExp(topic)}-\\d+$`).test(dir);
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const time = typeof e.time === 'number' ? e.time : Number.NaN;
    if (!(time >= sinceMs)) continue;
    const at = time - sinceMs;
    out.firstLineMs ??= at;
    switch (e.msg) {
      case 'loaded logs':
        out.loadedLogsMs = at;
        out.logsLoaded = typeof e.logs === 'number' ? e.logs : null;
        break;
      case 'broker listening':
        out.listeningMs ??= at;
        break;
      case 'registered with the controller':
        out.registeredMs ??= at;
        break;
      case 'became leader':
        if (e.topic === topic) out.lastBecameLeaderMs = at;
        break;
      case 'opened log':
        if (ofTopic(e.dir)) out.openedLogs.push({ logEndOffset: Number(e.logEndOffset), segments: Number(e.segments), recoveryPoint: Number(e.recoveryPoint) });
        break;
    }
    if (typeof e.level === 'number' && e.level >= 40 && typeof e.msg === 'string') out.warnings[e.msg] = (out.warnings[e.msg] ?? 0) + 1;
  }
  return out;
}

/** The JSON lines of a pino log with this message, logged at or after `sinceMs` (wall clock), about `topic` when given. Pure. */
export function logEvents(text: string, sinceMs: number, msg: string, topic?: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{') || !line.includes(msg)) continue;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (e.msg === msg && typeof e.time === 'number' && e.time >= sinceMs && (topic === undefined || e.topic === topic)) out.push(e);
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface BrokerRestartResult {
  broker: number;
  partitions: number;
  /** Bytes the fill wrote (values), and the bytes of the topic's log files on the broker before the kill. */
  filledBytes: number;
  logBytes: number;
  fillSeconds: number;
  /** Spawn → /health 200 (the launcher's check, every 100 ms). */
  restartToHealthMs: number;
  /** Spawn → /health 200 and a record of every partition of the topic read from the broker. */
  restartToServingMs: number;
  /** kill -9 → the controller shows the broker fenced (waited for before the restart, not timed in the figures above). */
  fencedAfterKillMs: number;
  log: RestartLogSummary;
}

/**
 * The broker-restart phase. `topic` gets `partitions` partitions of RF 1, all moved onto one broker
 * (the lowest id) before the fill; the topic is deleted afterwards.
 */
export async function brokerRestartPhase(
  bootstrap: string,
  admin: Admin,
  state: ClusterStateFile,
  topic: string,
  gb: number,
  partitions = 4,
): Promise<BrokerRestartResult> {
  await until('every broker alive', async () => (await controllerMetadata(state)).brokers.every((b) => b.alive), 120_000, 250);
  const broker = Math.min(...state.layout.brokers.map((b) => b.id));
  try {
    await admin.createTopic({ name: topic, partitions, replicationFactor: 1, timeoutMs: 120_000 });
    const all = Array.from({ length: partitions }, (_, p) => p);
    const moves = (await admin.describeTopic(topic)).partitions.filter((p) => p.replicas[0] !== broker);
    if (moves.length > 0) {
      const answers = await admin.alterPartitionReassignments(moves.map((p) => ({ topic, partition: p.partition, replicas: [broker] })));
      const refused = answers.filter((a) => a.error !== undefined);
      if (refused.length > 0) throw new Error(`moving ${topic} onto broker ${broker}: ${JSON.stringify(refused)}`);
    }
    const placed = await waitFor(
      async () => {
        if ((await admin.listPartitionReassignments([topic])).length > 0) return false;
        const d = await admin.describeTopic(topic);
        return d.partitions.every((p) => p.leader === broker && p.replicas.length === 1 && p.replicas[0] === broker) && (await topicReplicating(admin, topic));
      },
      120_000,
      250,
    );
    if (!placed) throw new Error(`${topic}: its partitions did not all move onto broker ${broker} within 120 s`);

    const filled = await fill(bootstrap, topic, all, gb * 1e9, { acks: 1, idempotent: false }, `restart: fill B${broker}`);
    const record = state.processes.find((p) => p.brokerId === broker)!;
    const dataDirAt = record.args.indexOf('--data-dir');
    const bytesOnDisk = dataDirAt >= 0 ? logBytes(record.args[dataDirAt + 1]!, topic) : 0;

    const killedAt = performance.now();
    await localKill(state.dataDir, String(broker));
    // Restarted once the controller has fenced it, as after a crash a while ago: the figure is the
    // broker's own start, not the controller's session timeout.
    await until('the killed broker fenced', async () => (await controllerMetadata(state)).brokers.some((b) => b.id === broker && !b.alive), 60_000, 50);
    const fencedAfterKillMs = performance.now() - killedAt;
    const spawnWallMs = Date.now();
    const spawnedAt = performance.now();
    await localRestart(state.dataDir, String(broker), { readyTimeoutMs: 600_000 });
    const restartToHealthMs = performance.now() - spawnedAt;
    // Serving: a consumer (bootstrapped from the broker itself) reads one record of every partition.
    const consumer = new Consumer({ bootstrap: `127.0.0.1:${record.port}`, maxWaitMs: 100, partitionMaxBytes: FILL_VALUE_BYTES * 2 });
    try {
      consumer.assign(all.map((partition) => ({ topic, partition, offset: 'earliest' as const })));
      const read = new Set<number>();
      const deadline = performance.now() + 600_000;
      while (read.size < partitions) {
        if (performance.now() > deadline) throw new Error(`restarted broker ${broker} served only partitions ${[...read].join(', ')} of ${topic} within 600 s`);
        const records = await consumer.poll().catch(() => undefined);
        if (records === undefined) await sleep(20);
        else for (const r of records) read.add(r.partition);
      }
    } finally {
      await consumer.close().catch(() => undefined);
    }
    const restartToServingMs = performance.now() - spawnedAt;
    const log = summarizeRestartLog(readFileSync(record.logFile, 'utf8'), spawnWallMs, topic);
    return {
      broker,
      partitions,
      filledBytes: filled.bytes,
      logBytes: bytesOnDisk,
      fillSeconds: filled.seconds,
      restartToHealthMs,
      restartToServingMs,
      fencedAfterKillMs,
      log,
    };
  } finally {
    // A failure half-way leaves no broker down for the next phase, nor the topic.
    if (!(await brokerAnswers(state, broker))) await localRestart(state.dataDir, String(broker), { readyTimeoutMs: 600_000 }).catch(() => undefined);
    await admin.deleteTopic(topic).catch(() => undefined);
    await sleep(1000);
  }
}

/** The broker answers /health with 200. */
async function brokerAnswers(state: ClusterStateFile, broker: number): Promise<boolean> {
  const port = state.layout.brokers.find((b) => b.id === broker)?.port;
  if (port === undefined) return false;
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
  return res?.status === 200;
}

/** The value of `metric` in a Prometheus text exposition (first sample, any labels); undefined if absent. Pure. */
export function metricValue(text: string, metric: string): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const rest = line.slice(metric.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) return value;
  }
  return undefined;
}

/**
 * The largest event-loop delay of a broker since its previous /metrics scrape, in ms: prom-client
 * reads it from a monitorEventLoopDelay histogram (10 ms resolution, so an idle loop reads about
 * 10-12 ms and a stall of S ms up to S + 10) and resets the histogram on every scrape.
 */
async function eventLoopMaxMs(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET /metrics on port ${port}: ${res.status}`);
  const seconds = metricValue(await res.text(), EVENT_LOOP_MAX_METRIC);
  if (seconds === undefined) throw new Error(`no ${EVENT_LOOP_MAX_METRIC} on port ${port}`);
  return seconds * 1000;
}

export interface LeaderChangeStallResult {
  filledBytes: number;
  fillSeconds: number;
  oldLeader: number;
  newLeader: number;
  /** kill -9 → the controller shows another leader. */
  leaderMovedMs: number;
  /** kill -9 → the load producer's first acknowledgement of a record sent after the kill. */
  produceResumedMs: number;
  /** The window over which the stalls are read: kill → produceResumedMs + SETTLE_MS. */
  windowMs: number;
  /** The largest event-loop delay over the window, ms, by live broker id. */
  maxStallMsByBroker: Record<string, number>;
  /** The largest of them, and the broker. */
  maxStallMs: number;
  maxStallBroker: number;
  /**
   * What the brokers logged rebuilding the partition's producer state after the kill (the new
   * leader does on the first idempotent batch when it has no table): how long it took and what it read.
   */
  producerStateRebuilds: { broker: number; ms: number; bytesRead: number; fromSnapshot: number | null; fromOffset: number; logEndOffset: number }[];
  /** The same, over an equally long quiet window before the kill (the load producer running): the floor. */
  baselineMaxStallMs: number;
  loadAcked: number;
  loadFailed: number;
}

export async function leaderChangeStallPhase(
  bootstrap: string,
  admin: Admin,
  state: ClusterStateFile,
  topic: string,
  gb: number,
): Promise<LeaderChangeStallResult> {
  await until('every broker alive', async () => (await controllerMetadata(state)).brokers.every((b) => b.alive), 120_000, 250);
  await admin.createTopic({ name: topic, partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': 2 }, timeoutMs: 120_000 });
  if (!(await waitFor(() => topicReplicating(admin, topic), 120_000, 50))) throw new Error(`topic ${topic} did not replicate within 120 s`);
  const filled = await fill(bootstrap, topic, [0], gb * 1e9, { acks: 'all', idempotent: true }, 'leader change: fill P0');
  const inSync = await waitFor(
    async () => {
      const p = (await admin.describeTopicVerbose(topic)).partitions[0]!;
      return p.isr.length === 3 && (p.replicaStates ?? []).every((r) => r.logEndOffset === p.logEndOffset);
    },
    300_000,
    250,
  );
  if (!inSync) throw new Error(`${topic}-0 did not get back in sync after the fill`);
  const oldLeader = (await admin.describeTopic(topic)).partitions[0]!.leader;
  const portOf = new Map(state.layout.brokers.map((b) => [b.id, b.port]));
  const survivors = state.layout.brokers.map((b) => b.id).filter((id) => id !== oldLeader);

  // The load: an idempotent producer (acks=all) sending 100-byte records to the partition, 64 in flight, through the change.
  const load = new Producer({ bootstrap, acks: 'all', idempotent: true, lingerMs: 2 });
  const value = randomBytes(VALUE_BYTES);
  let running = true;
  let acked = 0;
  let failed = 0;
  let killedAt = Number.POSITIVE_INFINITY;
  let resumedAt: number | undefined;
  const loop = (async () => {
    const inflight = new Set<Promise<unknown>>();
    while (running) {
      const sentAt = performance.now();
      const send = load
        .send({ topic, partition: 0, value })
        .then(
          () => {
            acked++;
            if (sentAt > killedAt && resumedAt === undefined) resumedAt = performance.now();
          },
          () => {
            failed++;
          },
        )
        .finally(() => inflight.delete(send));
      inflight.add(send);
      if (inflight.size >= 64) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  })();

  try {
    await sleep(3000);
    // The quiet baseline: as long a window as the change gets at least, load running.
    await Promise.all(survivors.map((id) => eventLoopMaxMs(portOf.get(id)!)));
    const baselineStart = performance.now();
    await sleep(SETTLE_MS);
    const baseline = await Promise.all(survivors.map((id) => eventLoopMaxMs(portOf.get(id)!)));
    const baselineMs = performance.now() - baselineStart;
    // Reset every survivor's histogram, then the change.
    await Promise.all(survivors.map((id) => eventLoopMaxMs(portOf.get(id)!)));
    killedAt = performance.now();
    const killedWallMs = Date.now();
    await localKill(state.dataDir, String(oldLeader));
    const moved = await until(
      'a new leader',
      async () => {
        const p = (await controllerMetadata(state)).topics.find((t) => t.name === topic)!.partitions[0]!;
        return p.leader >= 0 && p.leader !== oldLeader ? p.leader : false;
      },
      120_000,
      20,
    );
    const leaderMovedMs = performance.now() - killedAt;
    await until('the producer acknowledged again', async () => resumedAt !== undefined, 120_000, 20);
    const produceResumedMs = resumedAt! - killedAt;
    await sleep(Math.max(SETTLE_MS, baselineMs - (performance.now() - killedAt)));
    const stalls = await Promise.all(survivors.map((id) => eventLoopMaxMs(portOf.get(id)!)));
    const windowMs = performance.now() - killedAt;
    running = false;
    await loop;
    const maxStallMsByBroker: Record<string, number> = {};
    for (const [i, id] of survivors.entries()) maxStallMsByBroker[String(id)] = Math.round(stalls[i]! * 10) / 10;
    const worst = survivors[stalls.indexOf(Math.max(...stalls))]!;
    const producerStateRebuilds: LeaderChangeStallResult['producerStateRebuilds'] = [];
    for (const id of survivors) {
      const logFile = state.processes.find((p) => p.brokerId === id)?.logFile;
      if (logFile === undefined) continue;
      for (const e of logEvents(readFileSync(logFile, 'utf8'), killedWallMs, 'producer state rebuilt', topic)) {
        producerStateRebuilds.push({
          broker: id,
          ms: Number(e.ms),
          bytesRead: Number(e.bytesRead),
          fromSnapshot: typeof e.fromSnapshot === 'number' ? e.fromSnapshot : null,
          fromOffset: Number(e.fromOffset),
          logEndOffset: Number(e.logEndOffset),
        });
      }
    }
    // The killed broker back, in sync, before the next phase.
    await localRestart(state.dataDir, String(oldLeader), { readyTimeoutMs: 300_000 });
    await waitFor(async () => (await admin.describeTopic(topic)).partitions[0]!.isr.length === 3, 300_000, 250);
    return {
      filledBytes: filled.bytes,
      fillSeconds: filled.seconds,
      oldLeader,
      newLeader: moved,
      leaderMovedMs,
      produceResumedMs,
      windowMs,
      maxStallMsByBroker,
      maxStallMs: Math.round(Math.max(...stalls) * 10) / 10,
      maxStallBroker: worst,
      producerStateRebuilds,
      baselineMaxStallMs: Math.round(Math.max(...baseline) * 10) / 10,
      loadAcked: acked,
      loadFailed: failed,
    };
  } finally {
    running = false;
    await loop.catch(() => undefined);
    await load.close().catch(() => undefined);
    if (!(await brokerAnswers(state, oldLeader))) await localRestart(state.dataDir, String(oldLeader), { readyTimeoutMs: 300_000 }).catch(() => undefined);
    await admin.deleteTopic(topic).catch(() => undefined);
  }
}
