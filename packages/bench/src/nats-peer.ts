// The peer's figures for the latency phases: a three-node NATS JetStream cluster (Debian's
// nats-server) on this machine's loopback, a stream with 3 replicas, measured the way
// latency.ts measures Tributary: one 100-byte message in flight, publish → acknowledged (a
// JetStream publish is acknowledged once the stream's replicas have it, like acks=all); then
// publishes at a fixed rate read back by one consumer, publish → received.
//
//   pnpm bench:nats [--quick] [--json]
//
// `pnpm bench` runs it as its latency-peer phase, right after the latency phase. Prints the two
// phases in the bench's table format, then one JSON line (NatsPeerResult); with --json only that.
// Exits 2 when nats-server is missing.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, DeliverPolicy, type JetStreamClient, type NatsConnection, StorageType } from 'nats';
import type { AckLatencyResult, E2eLatencyResult } from './latency.ts';
import type { NatsPeerResult } from './peer.ts';
import { type LatencyHistogram, latencyHistogram, round } from './stats.ts';
import { VALUE_BYTES, sleep } from './workload.ts';

const quick = process.argv.includes('--quick');
const jsonOnly = process.argv.includes('--json');
const ACK_RECORDS = 5000;
const E2E_RATE = 10_000;
const E2E_SECONDS = quick ? 5 : 20;
const NODES = 3;
const CLIENT_PORT = 32422;
const ROUTE_PORT = 32522;
const STREAM = 'TRIBUTARY_PEER';
const SUBJECT = 'peer.latency';
const MAGIC = 0xbe4c0de;

const server = process.env.NATS_SERVER ?? 'nats-server';
if (spawnSync(server, ['--version'], { stdio: 'ignore' }).error !== undefined) {
  process.stderr.write(`${server} not found: install Debian's nats-server (apt-get install nats-server) or set NATS_SERVER to its path\n`);
  process.exit(2);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-nats-peer-'));
const servers: ChildProcess[] = [];
const routes = Array.from({ length: NODES }, (_, i) => `nats://127.0.0.1:${ROUTE_PORT + i}`).join(',');
for (let i = 0; i < NODES; i++) {
  const args = ['-n', `n${i}`, '-a', '127.0.0.1', '-p', String(CLIENT_PORT + i), '-js', '-sd', path.join(dir, `n${i}`)];
  args.push('--cluster_name', 'tributary-peer', '--cluster', `nats://127.0.0.1:${ROUTE_PORT + i}`, '--routes', routes);
  const child = spawn(server, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', () => {}); // nats-server logs to stderr; kept out of the table
  servers.push(child);
}
const stop = (): void => {
  for (const s of servers) s.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
};
process.once('exit', stop);
process.once('SIGINT', () => process.exit(130));

const nc = await connect({ servers: Array.from({ length: NODES }, (_, i) => `127.0.0.1:${CLIENT_PORT + i}`), waitOnFirstConnect: true });
try {
  // The stream can be created once the cluster has elected its JetStream meta leader.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const jsm = await nc.jetstreamManager({ timeout: 1000 });
      await jsm.streams.add({ name: STREAM, subjects: [SUBJECT], num_replicas: NODES, storage: StorageType.File });
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the NATS cluster did not take a ${NODES}-replica stream within 30 s: ${String(err)}`);
      await sleep(250);
    }
  }
  const js = nc.jetstream();
  const ack = await ackLatency(js);
  const e2e = await endToEndLatency(nc, js);
  const rows: [string, string, string][] = [
    [
      'nats: ack latency (1 in flight)',
      `p99 ${ack.p99Ms} ms`,
      `p50 ${ack.p50Ms} / p99 ${ack.p99Ms} / max ${ack.maxMs} ms over ${ACK_RECORDS.toLocaleString('en-US')} messages, JetStream R${NODES} publish → ack`,
    ],
    [
      'nats: end-to-end latency',
      `p99 ${e2e.p99Ms} ms`,
      `p50 ${e2e.p50Ms} / p99 ${e2e.p99Ms} / p99.9 ${e2e.p999Ms} / max ${e2e.maxMs} ms at ${E2E_RATE.toLocaleString('en-US')} msg/s for ${E2E_SECONDS} s (${e2e.received.toLocaleString('en-US')}/${e2e.sent.toLocaleString('en-US')} received; publish → ack p50 ${e2e.ackedP50Ms} / p99 ${e2e.ackedP99Ms} ms)`,
    ],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  if (!jsonOnly) for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}\n`);
  const result: NatsPeerResult = { natsServer: serverVersion(), nodes: NODES, ack, e2e };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await nc.close();
}
process.exit(0);

function serverVersion(): string {
  return spawnSync(server, ['--version'], { encoding: 'utf8' }).stdout.trim();
}

function summary(h: LatencyHistogram): { p50Ms: number; p99Ms: number; maxMs: number } {
  return { p50Ms: round(h.percentileMs(50), 3), p99Ms: round(h.percentileMs(99), 3), maxMs: round(h.maxMs(), 3) };
}

async function ackLatency(js: JetStreamClient): Promise<AckLatencyResult> {
  const value = Buffer.alloc(VALUE_BYTES, 7);
  const h = latencyHistogram();
  for (let i = 0; i < 200; i++) await js.publish(SUBJECT, value); // warm-up, as latency.ts does
  for (let i = 0; i < ACK_RECORDS; i++) {
    const t = performance.now();
    await js.publish(SUBJECT, value);
    h.recordMs(performance.now() - t);
  }
  return { records: ACK_RECORDS, ...summary(h) };
}

async function endToEndLatency(nc: NatsConnection, js: JetStreamClient): Promise<E2eLatencyResult> {
  const consumer = await js.consumers.get(STREAM, { deliver_policy: DeliverPolicy.New });
  const messages = await consumer.consume();
  const h = latencyHistogram();
  const acked = latencyHistogram();
  let received = 0;
  let sent = 0;
  let failed = 0;
  const total = E2E_RATE * E2E_SECONDS;
  const reader = (async () => {
    for await (const m of messages) {
      const now = performance.now();
      const v = Buffer.from(m.data);
      if (v.length === VALUE_BYTES && v.readUInt32BE(8) === MAGIC) {
        h.recordMs(now - v.readDoubleBE(0));
        if (++received >= total - failed) break;
      }
    }
  })();
  await nc.flush();
  const t0 = performance.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * E2E_RATE));
    while (sent < due) {
      const value = Buffer.alloc(VALUE_BYTES);
      value.writeUInt32BE(MAGIC, 8);
      const sentMs = performance.now();
      value.writeDoubleBE(sentMs, 0);
      js.publish(SUBJECT, value).then(
        () => acked.recordMs(performance.now() - sentMs),
        () => failed++,
      );
      sent++;
    }
    await sleep(1);
  }
  await Promise.race([reader, sleep(10_000)]);
  messages.stop();
  return {
    ratePerSec: E2E_RATE,
    seconds: E2E_SECONDS,
    sent,
    received,
    ...summary(h),
    p999Ms: round(h.percentileMs(99.9), 3),
    ackedP50Ms: round(acked.percentileMs(50), 3),
    ackedP99Ms: round(acked.percentileMs(99), 3),
    ackedP999Ms: round(acked.percentileMs(99.9), 3),
  };
}
