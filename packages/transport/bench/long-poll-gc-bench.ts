// `pnpm bench:transport-gc`: what a process's young GCs keep while it serves long polls and makes
// them itself, as a broker does (a follower's replica fetchers long-poll their leaders). Three
// processes: this one sends calls to a server, and that server runs loops of long polls to a
// peer, each call carrying the same long-lived AbortSignal, as a replica fetcher's do. The
// server runs with --trace-gc-nvp; its scavenges are summarised: how much survived, how much
// was promoted, and the pause. A scavenge that keeps whole finished calls alive shows up here.
//
//   node packages/transport/bench/long-poll-gc-bench.ts [--seconds N] [--no-signal]

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RpcClient } from '../src/client.ts';
import { createMsgpackServer } from '../src/server.ts';

const ANSWER = { partitions: [{ topic: 'bench', partition: 3, baseOffset: 5, error: undefined }] };
const BODY = { acks: -1, timeoutMs: 30_000, partitions: [{ topic: 'bench', partition: 3, records: Buffer.alloc(300, 1) }] };
const LONG_POLL_MAX_MS = 20;
const LOOPS = 5;

if (process.argv.includes('--serve')) {
  const app = createMsgpackServer();
  app.post('/produce', async () => ANSWER);
  // A long poll: answered after up to LONG_POLL_MAX_MS, as a fetch waits for data.
  app.post('/wait', async () => {
    await new Promise((r) => setTimeout(r, Math.random() * LONG_POLL_MAX_MS));
    return ANSWER;
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.send!({ port: (app.server.address() as { port: number }).port });
  process.on('message', (m: { peer?: number; signal?: boolean }) => {
    if (m.peer === undefined) return;
    const peer = new RpcClient({ host: '127.0.0.1', port: m.peer });
    const controller = new AbortController();
    for (let i = 0; i < LOOPS; i++) {
      void (async () => {
        for (;;) await peer.call('/wait', BODY, m.signal ? { signal: controller.signal } : {});
      })();
    }
  });
} else {
  const secondsArg = process.argv.indexOf('--seconds');
  const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 15;
  const signal = !process.argv.includes('--no-signal');
  const self = fileURLToPath(import.meta.url);
  const portOf = (child: ChildProcess) => new Promise<number>((resolve) => child.once('message', (m) => resolve((m as { port: number }).port)));
  const peer = fork(self, ['--serve'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const server = fork(self, ['--serve'], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], execArgv: ['--trace-gc-nvp'] });
  let trace = '';
  server.stdout!.on('data', (chunk: Buffer) => (trace += chunk.toString('utf8')));
  const [peerPort, port] = await Promise.all([portOf(peer), portOf(server)]);
  server.send({ peer: peerPort, signal });
  const client = new RpcClient({ host: '127.0.0.1', port });
  const end = performance.now() + seconds * 1000;
  let calls = 0;
  const loop = async (path: string) => {
    while (performance.now() < end) {
      await client.call(path, BODY);
      calls++;
    }
  };
  await Promise.all([loop('/produce'), ...Array.from({ length: 20 }, () => loop('/wait'))]);
  await client.close();
  server.kill();
  peer.kill();
  // Scavenges after the first two (start-up: modules and JIT code survive them for good).
  const scavenges = trace
    .split('\n')
    .filter((l) => l.includes(' gc=s '))
    .slice(2);
  const field = (line: string, name: string) => Number(new RegExp(` ${name}=([0-9.]+)`).exec(line)?.[1] ?? NaN);
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const p90 = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length * 0.9)] ?? NaN;
  const kb = (x: number) => `${(x / 1024).toFixed(0)} KB`;
  const pauses = scavenges.map((l) => field(l, 'pause'));
  console.log(
    `${calls} calls in ${seconds} s; the server ran ${LOOPS} long-poll loops to a peer, ${signal ? 'all calls carrying one long-lived AbortSignal' : 'without a signal'}`,
  );
  console.log(
    `  server scavenges: ${scavenges.length}, survived p50 ${kb(median(scavenges.map((l) => field(l, 'new_space_survived'))))}, promoted p50 ${kb(median(scavenges.map((l) => field(l, 'promoted'))))}, pause p50 ${median(pauses)} / p90 ${p90(pauses)} ms`,
  );
}
