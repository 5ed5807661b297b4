// `pnpm bench:transport`: what one msgpack-over-HTTP round trip costs on this machine, the floor
// under every produce, fetch and replica fetch. A server process (this file with --serve) answers
// a produce-sized request; the client sends N calls one at a time and prints wall time and the
// CPU time of both processes per call.
//
//   node packages/transport/bench/roundtrip-bench.ts [--calls N]

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RpcClient } from '../src/client.ts';
import { createMsgpackServer } from '../src/server.ts';

const ANSWER = { partitions: [{ topic: 'bench', partition: 3, baseOffset: 5, error: undefined }] };

if (process.argv.includes('--serve')) {
  const { pino } = await import('../../broker/node_modules/pino/pino.js'); const app = createMsgpackServer(process.env.XP_LOG ? { logger: pino({ level: 'info' }, pino.destination('/dev/null')) } : {});
  app.post('/produce', async () => ANSWER);
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.send!({ port: (app.server.address() as { port: number }).port });
  process.on('message', (m) => {
    if (m === 'cpu') {
      const c = process.cpuUsage();
      process.send!({ cpuUs: c.user + c.system });
    }
  });
} else {
  const callsArg = process.argv.indexOf('--calls');
  const calls = callsArg > 0 ? Number(process.argv[callsArg + 1]) : 20_000;
  const server = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: process.env.XP_SERVER_ARGV ? process.env.XP_SERVER_ARGV.split(' ') : [] });
  const ask = <T>(msg?: string): Promise<T> =>
    new Promise((resolve) => {
      server.once('message', (m) => resolve(m as T));
      if (msg !== undefined) server.send(msg);
    });
  const { port } = await ask<{ port: number }>();
  const client = new RpcClient({ host: '127.0.0.1', port });
  const body = { acks: -1, timeoutMs: 30_000, partitions: [{ topic: 'bench', partition: 3, records: Buffer.alloc(300, 1) }] };
  for (let i = 0; i < 2_000; i++) await client.call('/produce', body); // warm-up: JIT, connection
  const serverCpu0 = (await ask<{ cpuUs: number }>('cpu')).cpuUs;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await client.call('/produce', body);
  const wallUs = (performance.now() - t0) * 1000;
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = (await ask<{ cpuUs: number }>('cpu')).cpuUs - serverCpu0;
  await client.close();
  server.kill();
  const per = (us: number) => (us / calls).toFixed(1);
  console.log(`${calls} sequential round trips, client and server in two processes on loopback:`);
  console.log(`  wall ${per(wallUs)} µs, client CPU ${per(cpu.user + cpu.system)} µs, server CPU ${per(serverCpu)} µs per round trip`);
}
