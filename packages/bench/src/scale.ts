// Issue 21's phases: a broker that leads a sixth of a big topic killed with kill -9 (how soon
// every partition has a leader again, and how soon the restarted broker is back in every ISR),
// and a controller restarted over a metadata log of a million records (how soon it serves).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Admin } from '@tributary/client';
import { localKill, localRestart, localStop, type ClusterStateFile } from '@tributary/launcher';
import { MSGPACK_CONTENT_TYPE, decodeMsgpack, encodeMsgpack, type ClusterMetadata } from '@tributary/protocol';
import { createBenchTopic, sleep } from './workload.ts';

/** How long the broker-death phase waits for the restarted broker to be back in every ISR. */
export const REJOIN_WAIT_MS = 300_000;

const FILL_SCRIPT = fileURLToPath(new URL('../../controller/bench/metadata-fill.ts', import.meta.url));

/** The controller's own metadata, whole, from its broker-facing listener. */
export async function controllerMetadata(state: ClusterStateFile): Promise<ClusterMetadata> {
  const res = await fetch(`http://127.0.0.1:${state.layout.controllerInternalPort}/metadata/poll`, {
    method: 'POST',
    headers: { 'content-type': MSGPACK_CONTENT_TYPE },
    body: encodeMsgpack({ sinceVersion: -1, maxWaitMs: 0 }),
    signal: AbortSignal.timeout(10_000),
  });
  return decodeMsgpack(Buffer.from(await res.arrayBuffer())) as ClusterMetadata;
}

export async function until<T>(what: string, fn: () => Promise<T | false>, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => false as const);
    if (value !== false) return value;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

export interface BrokerDeathResult {
  partitions: number;
  topicReadySeconds: number;
  victim: number;
  /** Partitions the victim led when it was killed. */
  led: number;
  /** kill -9 → the controller's metadata shows every partition of the topic led by a live broker. */
  leadersMovedMs: number;
  /** Where the victim's leaderships went: broker id → partitions. */
  successors: Record<string, number>;
  /** Partitions the victim holds a replica of. */
  held: number;
  /** Restart (process spawn) → the victim is in the ISR of every partition it holds; null: not within REJOIN_WAIT_MS. */
  rejoinIsrMs: number | null;
  /** Metadata records the controller wrote from the kill until the victim was back everywhere. */
  metadataRecords: number;
}

export async function brokerDeathPhase(admin: Admin, topic: string, partitions: number, state: ClusterStateFile): Promise<BrokerDeathResult> {
  // Every broker alive first: a topic created while one is fenced is placed without it.
  await until('every broker alive', async () => (await controllerMetadata(state)).brokers.every((b) => b.alive), 120_000, 250);
  const topicReadySeconds = await createBenchTopic(admin, topic, partitions);
  const wide = async () => (await controllerMetadata(state)).topics.find((t) => t.name === topic)!;
  await until('every replica in sync before the kill', async () => (await wide()).partitions.every((p) => p.isr.length === p.replicas.length), 300_000, 250);
  const before = await controllerMetadata(state);
  const t = before.topics.find((x) => x.name === topic)!;
  // The broker that leads the most of the topic (a sixth of it when placement is balanced).
  const counts = new Map<number, number>();
  for (const p of t.partitions) counts.set(p.leader, (counts.get(p.leader) ?? 0) + 1);
  const victim = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
  const led = t.partitions.filter((p) => p.leader === victim).map((p) => p.partition);
  const held = t.partitions.filter((p) => p.replicas.includes(victim)).map((p) => p.partition);
  const killedAt = performance.now();
  await localKill(state.dataDir, String(victim));
  const moved = await until(
    'every partition led again',
    async () => {
      const w = await wide();
      return w.partitions.every((p) => p.leader >= 0 && p.leader !== victim) ? w : false;
    },
    120_000,
  );
  const leadersMovedMs = performance.now() - killedAt;
  const successors: Record<string, number> = {};
  for (const p of led) {
    const leader = String(moved.partitions[p]!.leader);
    successors[leader] = (successors[leader] ?? 0) + 1;
  }
  // As in the failover phase: the dead broker stays down until it has left the ISRs it followed in.
  await until(
    'the dead broker out of every ISR',
    async () => (await wide()).partitions.every((p) => !p.isr.includes(victim) || p.isr.length === 1),
    60_000,
    250,
  );
  const restartedAt = performance.now();
  await localRestart(state.dataDir, String(victim), { readyTimeoutMs: 300_000 });
  // Not back within REJOIN_WAIT_MS: reported as null (the phase goes on to the next).
  let rejoinIsrMs: number | null = null;
  try {
    await until(
      'the restarted broker back in every ISR',
      async () => {
        const w = await wide();
        return held.every((p) => w.partitions[p]!.isr.includes(victim));
      },
      REJOIN_WAIT_MS,
      100,
    );
    rejoinIsrMs = performance.now() - restartedAt;
  } catch {
    rejoinIsrMs = null;
  }
  const after = await controllerMetadata(state);
  return {
    partitions,
    topicReadySeconds,
    victim,
    led: led.length,
    leadersMovedMs,
    successors,
    held: held.length,
    rejoinIsrMs,
    metadataRecords: after.version - before.version,
  };
}

export interface ControllerRestartResult {
  /** Records written into the metadata log while the controller was stopped. */
  filledRecords: number;
  /** The controller's metadata version after the restart (records in its history). */
  metadataVersion: number;
  snapshots: boolean;
  /** Restart (process spawn) → /health answers 200: replayed, listening. */
  restartToServingMs: number;
  /** What the controller logged: the snapshot it loaded (-1: none) and the records it replayed after it, and how long that took. */
  snapshotVersion: number | null;
  replayedRecords: number | null;
  replayMs: number | null;
  fillSeconds: number;
}

export async function controllerRestartPhase(state: ClusterStateFile, records: number, snapshots: boolean): Promise<ControllerRestartResult> {
  const controller = state.processes.find((p) => p.name === 'controller')!;
  const at = controller.args.indexOf('--data-dir');
  const dataDir = controller.args[at + 1]!;
  await localStop(state.dataDir, 'controller');
  const fill = spawnSync(process.execPath, [FILL_SCRIPT, '--data-dir', dataDir, '--records', String(records), '--snapshots', snapshots ? 'on' : 'off'], {
    encoding: 'utf8',
    timeout: 1_800_000,
  });
  if (fill.status !== 0) throw new Error(`metadata fill failed: ${fill.stderr.slice(-2000)}`);
  const filled = JSON.parse(fill.stdout.trim().split('\n').at(-1)!) as { version: number; seconds: number };
  const started = performance.now();
  await localRestart(state.dataDir, 'controller', { readyTimeoutMs: 600_000 });
  const restartToServingMs = performance.now() - started;
  const lines = readFileSync(join(state.dataDir, 'logs', 'controller.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"metadata log replayed"'));
  const replayed = lines.length > 0 ? (JSON.parse(lines.at(-1)!) as { snapshotVersion?: number; records?: number; replayMs?: number }) : undefined;
  // Let the brokers find the controller again before the next phase.
  await sleep(2000);
  return {
    filledRecords: records,
    metadataVersion: filled.version,
    snapshots,
    restartToServingMs,
    snapshotVersion: replayed?.snapshotVersion ?? null,
    replayedRecords: replayed?.records ?? null,
    replayMs: replayed?.replayMs ?? null,
    fillSeconds: filled.seconds,
  };
}
