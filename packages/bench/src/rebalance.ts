// The rebalance phase (issue 18): consumer groups under a join and a crash, and what a group
// costs in throughput. Members are child processes (rebalance-child.ts), so the crash is a real
// kill -9 and each member has an event loop of its own.
//
// (1) Ten members of one group join a 100-partition topic that a producer keeps writing to (every
//     partition gets a record about every 50 ms): time from starting them until every partition is
//     assigned to exactly one member and read. Then one member is killed with SIGKILL: time until
//     the nine others own every partition again, and until each of the killed member's partitions
//     was read again by one of them. The group's session timeout bounds the second: the
//     coordinator notices the dead member only when its session expires.
// (2) Consume throughput of the same kind of topic filled beforehand: one consumer with assign()
//     against a group of three, each from its first assignment until every record was read.

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Admin, Producer } from '@tributary/client';
import { Progress } from './progress.ts';
import type { MemberJob, MemberMessage } from './rebalance-child.ts';
import { createBenchTopic, produceThroughput, sleep } from './workload.ts';

const CHILD = fileURLToPath(new URL('./rebalance-child.ts', import.meta.url));

export interface RebalancePhaseResult {
  partitions: number;
  members: number;
  sessionTimeoutMs: number;
  /** Start of the ten members → every partition assigned once and read. */
  joinMs: number;
  /** Partitions the killed member owned. */
  killedPartitions: number;
  /** kill -9 → the nine others own every partition. */
  reassignedMs: number;
  /** kill -9 → every partition of the killed member read again by another member. */
  consumedAgainMs: number;
  /** Records filled for the throughput comparison. */
  throughputRecords: number;
  assignRecordsPerSec: number;
  groupOfThreeRecordsPerSec: number;
  /** Start of the three members → the first assignment (the group's join, incl. the broker's initial rebalance delay). */
  groupOfThreeJoinMs: number;
}

interface Member {
  child: ChildProcess;
  owned: Set<number>;
  /** Per partition, when this member last read a record of it (epoch ms). */
  readAt: Map<number, number>;
  records: number;
  firstAssignedMs: number | undefined;
  exited: Promise<void>;
}

function startMember(job: MemberJob): Member {
  const child = fork(CHILD, [JSON.stringify(job)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const m: Member = {
    child,
    owned: new Set(),
    readAt: new Map(),
    records: 0,
    firstAssignedMs: undefined,
    exited: new Promise((resolve) => child.once('exit', () => resolve())),
  };
  child.on('message', (msg: MemberMessage) => {
    if (msg.kind === 'assigned') {
      m.firstAssignedMs ??= Date.now();
      for (const p of msg.partitions) m.owned.add(p);
    } else if (msg.kind === 'revoked') {
      for (const p of msg.partitions) m.owned.delete(p);
    } else if (msg.kind === 'read') {
      for (const [p, n] of Object.entries(msg.counts)) {
        m.readAt.set(Number(p), msg.atMs);
        m.records += n;
      }
    }
  });
  return m;
}

async function stopMembers(list: readonly Member[]): Promise<void> {
  // A copy: the caller reuses its array for the next members, which the timer must not kill.
  const members = [...list];
  for (const m of members) if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGTERM');
  const all = Promise.all(members.map((m) => m.exited));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      for (const m of members) if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
      resolve();
    }, 15_000);
  });
  await Promise.race([all, late]);
  clearTimeout(timer);
  await all;
}

/** Waits until `done()` holds (polled every 20 ms); throws after `timeoutMs` with `what`. */
async function until(done: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`rebalance phase: ${what()} after ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Every partition owned by exactly one of `members`. */
function coversOnce(members: readonly Member[], partitions: number): boolean {
  const seen = new Set<number>();
  for (const m of members)
    for (const p of m.owned) {
      if (seen.has(p)) return false;
      seen.add(p);
    }
  return seen.size === partitions;
}

export async function rebalancePhase(
  bootstrap: string,
  admin: Admin,
  topicName: (what: string) => string,
  options: { quick: boolean; progress: Progress },
): Promise<RebalancePhaseResult> {
  const partitions = 100;
  const membersCount = 10;
  const sessionTimeoutMs = 10_000;
  const { progress } = options;

  // ---- (1) ten members join; one is killed
  const topic = topicName('rebalance');
  await createBenchTopic(admin, topic, partitions);
  const producer = new Producer({ bootstrap, lingerMs: 5 });
  let producing = true;
  const ratePerSec = 2000;
  const producing$ = (async () => {
    const t0 = performance.now();
    let sent = 0;
    const inflight = new Set<Promise<unknown>>();
    while (producing) {
      const due = ((performance.now() - t0) / 1000) * ratePerSec;
      while (sent < due && inflight.size < 500) {
        const p = producer.send({ topic, partition: sent % partitions, value: `r${sent}` }).catch(() => undefined);
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
        sent++;
      }
      await sleep(10);
    }
    await Promise.all(inflight);
  })();
  const groupId = `${topic}-group`;
  const members: Member[] = [];
  try {
    const joinStarted = Date.now();
    for (let i = 0; i < membersCount; i++)
      members.push(startMember({ bootstrap, topic, mode: 'group', groupId, partitions, sessionTimeoutMs, clientId: `bench-member-${i}` }));
    progress.update(1, 'ten members joining');
    await until(
      () =>
        coversOnce(members, partitions) &&
        Array.from({ length: partitions }, (_, p) => p).every((p) => members.some((m) => (m.readAt.get(p) ?? 0) >= joinStarted)),
      90_000,
      () => `the ten members did not own and read every partition (${members.map((m) => m.owned.size).join(',')} owned)`,
    );
    const joinMs = Date.now() - joinStarted;
    progress.update(2, `joined in ${joinMs} ms; letting them commit`);
    await sleep(3000);

    const victim = members[0]!;
    const lost = [...victim.owned];
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    progress.update(3, `killed a member owning ${lost.length} partitions`);
    const survivors = members.slice(1);
    let reassignedMs: number | undefined;
    await until(
      () => {
        if (reassignedMs === undefined && coversOnce(survivors, partitions)) reassignedMs = Date.now() - killedAt;
        return reassignedMs !== undefined && lost.every((p) => survivors.some((m) => (m.readAt.get(p) ?? 0) > killedAt));
      },
      sessionTimeoutMs + 60_000,
      () => `the survivors did not take over every partition of the killed member (${survivors.map((m) => m.owned.size).join(',')} owned)`,
    );
    const consumedAgainMs = Date.now() - killedAt;
    progress.update(4, `reassigned in ${reassignedMs} ms, read again in ${consumedAgainMs} ms`);
    producing = false;
    await producing$;
    await stopMembers(members);
    members.length = 0;
    await admin.deleteTopic(topic).catch(() => undefined);

    // ---- (2) consume throughput: assign() against a group of three
    const records = options.quick ? 200_000 : 1_000_000;
    const filled = topicName('rebalance-fill');
    await createBenchTopic(admin, filled, partitions);
    await produceThroughput(bootstrap, filled, records, { acks: 1, idempotent: false }, new Progress('rebalance fill', records));
    progress.update(5, `filled ${records} records; one consumer with assign()`);
    const readAll = async (group: Member[]): Promise<number> => {
      await until(
        () => group.reduce((n, m) => n + m.records, 0) >= records,
        300_000,
        () => `read ${group.reduce((n, m) => n + m.records, 0)} of ${records} records`,
      );
      const start = Math.min(...group.map((m) => m.firstAssignedMs ?? Number.POSITIVE_INFINITY));
      const end = Math.max(...group.flatMap((m) => [...m.readAt.values()]));
      return (records / Math.max(1, end - start)) * 1000;
    };
    const single = [startMember({ bootstrap, topic: filled, mode: 'assign', groupId: '', partitions, sessionTimeoutMs, clientId: 'bench-assign' })];
    members.push(...single);
    const assignRecordsPerSec = await readAll(single);
    await stopMembers(single);
    members.length = 0;
    progress.update(6, 'a group of three');
    const threeStarted = Date.now();
    const three = [0, 1, 2].map((i) =>
      startMember({ bootstrap, topic: filled, mode: 'group', groupId: `${filled}-group`, partitions, sessionTimeoutMs, clientId: `bench-three-${i}` }),
    );
    members.push(...three);
    const groupOfThreeRecordsPerSec = await readAll(three);
    const groupOfThreeJoinMs = Math.min(...three.map((m) => m.firstAssignedMs ?? Number.POSITIVE_INFINITY)) - threeStarted;
    await stopMembers(three);
    members.length = 0;
    await admin.deleteTopic(filled).catch(() => undefined);
    return {
      partitions,
      members: membersCount,
      sessionTimeoutMs,
      joinMs,
      killedPartitions: lost.length,
      reassignedMs: reassignedMs!,
      consumedAgainMs,
      throughputRecords: records,
      assignRecordsPerSec: Math.round(assignRecordsPerSec),
      groupOfThreeRecordsPerSec: Math.round(groupOfThreeRecordsPerSec),
      groupOfThreeJoinMs,
    };
  } finally {
    producing = false;
    await producing$.catch(() => undefined);
    await producer.close().catch(() => undefined);
    await stopMembers(members);
  }
}
