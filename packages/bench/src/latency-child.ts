// The latency phases run here, in a child process of the bench, so they measure on a V8 heap of
// their own.
//
// In the bench's own process they ran after the throughput phases had pushed millions of records
// through the same heap, and V8 kept the sizing it chose then (a 64 MB young generation): it then
// ran a full mark-compact about every 360 ms and no scavenge at all, 2-8 ms pauses of the very
// thread that timestamps sends and receipts. On one warm cluster, alternated (session 14):
// end-to-end p99 after a produce phase 10.1-10.8 ms in the bench's process, 6.4-7.4 ms here; with
// no phase before it, 5.2-5.3 ms in a fresh bench process and 5.4-6.1 ms here. Kafka's latency
// tools, likewise, run in a JVM of their own.
//
//   node latency-child.ts '<LatencyJob as JSON>'   (spawned by inChildProcess over an IPC channel)

import { ackLatency, endToEndLatency, type LatencyJob } from './latency.ts';

const send = (message: unknown): Promise<void> =>
  new Promise((resolve, reject) => process.send!(message, (err: Error | null) => (err ? reject(err) : resolve())));

const job = JSON.parse(process.argv[2]!) as LatencyJob;
let sentProgress = Promise.resolve();
let lastProgressMs = 0;
const progress = {
  // At most every 100 ms: each message wakes the parent, on the cores the cluster runs on.
  update: (done: number) => {
    const now = performance.now();
    if (now - lastProgressMs < 100) return;
    lastProgressMs = now;
    sentProgress = send({ progress: done });
  },
};
try {
  const result =
    job.kind === 'ack'
      ? await ackLatency(job.bootstrap, job.topic, job.count, progress)
      : await endToEndLatency(job.bootstrap, job.topic, job.ratePerSec, job.seconds, progress);
  await sentProgress;
  await send({ result });
} catch (err) {
  await send({ error: (err as Error).message });
  process.exitCode = 1;
}
process.disconnect();
