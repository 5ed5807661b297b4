// One consumer of the rebalance phase, in a process of its own so that the phase can kill -9 it
// and so that each member has a core's worth of event loop, as separate application instances
// would. It reads `topic` as a member of `groupId` (or, with `assign`, every partition from the
// earliest offset) and reports to the bench over IPC: its assignment as it changes, and at most
// every 100 ms how many records it read of which partitions since the last report.
//
//   node rebalance-child.ts '<MemberJob as JSON>'   (forked by rebalance.ts)

import { Consumer } from '@tributary/client';

export interface MemberJob {
  bootstrap: string;
  topic: string;
  /** 'group': subscribe as a member of groupId; 'assign': every partition, from the earliest offset. */
  mode: 'group' | 'assign';
  groupId: string;
  partitions: number;
  sessionTimeoutMs: number;
  clientId: string;
}

export type MemberMessage =
  | { kind: 'assigned'; partitions: number[] }
  | { kind: 'revoked'; partitions: number[] }
  /** Records read per partition since the last report, and when the last of them arrived (epoch ms). */
  | { kind: 'read'; counts: Record<number, number>; atMs: number }
  | { kind: 'closed' };

const job = JSON.parse(process.argv[2]!) as MemberJob;
const send = (m: MemberMessage): void => void process.send?.(m);

const consumer =
  job.mode === 'group'
    ? new Consumer({
        bootstrap: job.bootstrap,
        groupId: job.groupId,
        clientId: job.clientId,
        sessionTimeoutMs: job.sessionTimeoutMs,
        autoCommitIntervalMs: 1000,
      })
    : new Consumer({ bootstrap: job.bootstrap });
if (job.mode === 'group') {
  consumer.subscribe(job.topic, {
    from: 'earliest',
    onPartitionsAssigned: (tps) => send({ kind: 'assigned', partitions: tps.map((t) => t.partition) }),
    onPartitionsRevoked: (tps) => send({ kind: 'revoked', partitions: tps.map((t) => t.partition) }),
  });
} else {
  consumer.assign(Array.from({ length: job.partitions }, (_, partition) => ({ topic: job.topic, partition, offset: 'earliest' as const })));
  send({ kind: 'assigned', partitions: Array.from({ length: job.partitions }, (_, p) => p) });
}

let stopping = false;
const stop = (): void => {
  stopping = true;
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);

let counts: Record<number, number> = {};
let pending = false;
let lastReportMs = 0;
let lastAtMs = 0;
while (!stopping) {
  const records = await consumer.poll();
  if (records.length > 0) {
    lastAtMs = Date.now();
    for (const r of records) counts[r.partition] = (counts[r.partition] ?? 0) + 1;
    pending = true;
  }
  if (pending && performance.now() - lastReportMs >= 100) {
    send({ kind: 'read', counts, atMs: lastAtMs });
    counts = {};
    pending = false;
    lastReportMs = performance.now();
  }
}
if (pending) send({ kind: 'read', counts, atMs: lastAtMs });
await consumer.close();
send({ kind: 'closed' });
process.exit(0);
