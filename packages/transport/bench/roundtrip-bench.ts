// `pnpm bench:transport`: what one msgpack-over-HTTP round trip costs on this machine, the floor
// under every produce, fetch and replica fetch. A server process (this file with --serve) answers
// a produce-sized request; the client sends N calls one at a time and prints wall time and the
// CPU time of both processes per call.
//
// With --floors it then measures the same exchange, the same bytes, twice more: node:http's
// server with undici's `Pool.request` (HTTP/1.1 with nothing of ours: the floor under this
// transport), and one TCP connection carrying the raw bytes (what any protocol over TCP pays on
// this machine). The acks=all path holds two round trips in sequence (produce, then a
// follower's fetch answer and its next fetch), so these figures bound the latency phases.
//
//   node packages/transport/bench/roundtrip-bench.ts [--calls N] [--floors]

import { fork } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { MSGPACK_CONTENT_TYPE, encodeMsgpack } from '@tributary/protocol';
import { Pool } from 'undici';
import { RpcClient } from '../src/client.ts';
import { createMsgpackServer } from '../src/server.ts';

type Kind = 'tributary' | 'node-http' | 'tcp';

const ANSWER = { partitions: [{ topic: 'bench', partition: 3, baseOffset: 5, error: undefined }] };
const BODY = { acks: -1, timeoutMs: 30_000, partitions: [{ topic: 'bench', partition: 3, records: Buffer.alloc(300, 1) }] };

async function serve(kind: Kind): Promise<number> {
  if (kind === 'tributary') {
    const app = createMsgpackServer();
    app.post('/produce', async () => ANSWER);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return (app.server.address() as net.AddressInfo).port;
  }
  const answer = encodeMsgpack(ANSWER);
  const server =
    kind === 'node-http'
      ? http.createServer((req, res) => {
          req.on('data', () => {});
          req.on('end', () => {
            res.writeHead(200, { 'content-type': MSGPACK_CONTENT_TYPE, 'content-length': answer.length });
            res.end(answer);
          });
        })
      : // Requests have a known size (one call in flight): answered once each has fully arrived.
        net.createServer((socket) => {
          socket.setNoDelay(true);
          const requestBytes = encodeMsgpack(BODY).length;
          let received = 0;
          socket.on('data', (chunk: Buffer) => {
            received += chunk.length;
            for (; received >= requestBytes; received -= requestBytes) socket.write(answer);
          });
        });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A function making one call, and one closing the connection. */
async function connect(kind: Kind, port: number): Promise<{ call: () => Promise<unknown>; close: () => Promise<void> }> {
  if (kind === 'tributary') {
    const client = new RpcClient({ host: '127.0.0.1', port });
    return { call: () => client.call('/produce', BODY), close: () => client.close() };
  }
  const request = encodeMsgpack(BODY);
  if (kind === 'node-http') {
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
    return {
      call: async () => {
        const res = await pool.request({ path: '/produce', method: 'POST', body: request, headers: { 'content-type': MSGPACK_CONTENT_TYPE } });
        return res.body.arrayBuffer();
      },
      close: () => pool.close(),
    };
  }
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once('connect', resolve));
  // An answer may arrive in more than one chunk: a call ends once all of its bytes have.
  const answerBytes = encodeMsgpack(ANSWER).length;
  let received = 0;
  let waiting: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received < answerBytes) return;
    received -= answerBytes;
    const w = waiting;
    waiting = undefined;
    w?.();
  });
  return {
    call: () =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        socket.write(request);
      }),
    close: async () => {
      socket.destroy();
    },
  };
}

if (process.argv.includes('--serve')) {
  const port = await serve(process.argv[process.argv.indexOf('--serve') + 1] as Kind);
  process.send!({ port });
  process.on('message', (m) => {
    if (m === 'cpu') {
      const c = process.cpuUsage();
      process.send!({ cpuUs: c.user + c.system });
    }
  });
} else {
  const callsArg = process.argv.indexOf('--calls');
  const calls = callsArg > 0 ? Number(process.argv[callsArg + 1]) : 20_000;
  const kinds: Kind[] = process.argv.includes('--floors') ? ['tributary', 'node-http', 'tcp'] : ['tributary'];
  const label: Record<Kind, string> = {
    tributary: 'this transport (fastify, RpcClient)',
    'node-http': 'node:http server, undici Pool.request',
    tcp: 'one TCP connection, raw bytes',
  };
  console.log(`${calls} sequential round trips, client and server in two processes on loopback:`);
  for (const kind of kinds) {
    const server = fork(fileURLToPath(import.meta.url), ['--serve', kind], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ask = <T>(msg?: string): Promise<T> =>
      new Promise((resolve) => {
        server.once('message', (m) => resolve(m as T));
        if (msg !== undefined) server.send(msg);
      });
    const { port } = await ask<{ port: number }>();
    const { call, close } = await connect(kind, port);
    for (let i = 0; i < 2_000; i++) await call(); // warm-up: JIT, connection
    const serverCpu0 = (await ask<{ cpuUs: number }>('cpu')).cpuUs;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) await call();
    const wallUs = (performance.now() - t0) * 1000;
    const cpu = process.cpuUsage(cpu0);
    const serverCpu = (await ask<{ cpuUs: number }>('cpu')).cpuUs - serverCpu0;
    await close();
    server.kill();
    const per = (us: number) => (us / calls).toFixed(1);
    console.log(
      `  ${label[kind].padEnd(38)} wall ${per(wallUs)} µs, client CPU ${per(cpu.user + cpu.system)} µs, server CPU ${per(serverCpu)} µs per round trip`,
    );
  }
}
