import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RpcClient } from '../src/client.ts';
import { createMsgpackServer } from '../src/server.ts';
const ANSWER = { partitions: [{ topic: 'bench', partition: 3, baseOffset: 5, error: undefined }] };
const WAIT = Number(process.env.XP_WAIT ?? 20);
if (process.argv.includes('--serve')) {
  const app = createMsgpackServer();
  app.post('/produce', async () => ANSWER);
  app.post('/wait', async () => { await new Promise((r) => setTimeout(r, Math.random() * WAIT)); return ANSWER; });
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.send!({ port: (app.server.address() as { port: number }).port });
  process.on('message', (m) => {
    if (m === 'cpu') { const c = process.cpuUsage(); process.send!({ cpuUs: c.user + c.system }); }
    if (typeof m === 'object' && m !== null && 'peer' in m) {
      // Act as a client too (as a follower's replica fetcher does): long polls to a peer server.
      const peer = new RpcClient({ host: '127.0.0.1', port: (m as { peer: number }).peer });
      const b = { acks: -1, timeoutMs: 30_000, partitions: [{ topic: 'bench', partition: 3, records: Buffer.alloc(300, 1) }] };
      for (let i = 0; i < Number(process.env.XP_PEER_LOOPS ?? 5); i++) {
        const ac = new AbortController();
        void (async () => { for (;;) await peer.call('/wait', b, process.env.XP_SIGNAL ? { signal: ac.signal } : {}); })();
      }
    }
  });
} else {
  const seconds = Number(process.env.XP_SECONDS ?? 15);
  const loops = Number(process.env.XP_LOOPS ?? 20);
  const server = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: process.env.XP_SERVER_ARGV ? process.env.XP_SERVER_ARGV.split(' ') : [] });
  const ask = <T,>(msg?: string): Promise<T> => new Promise((resolve) => { server.once('message', (m) => resolve(m as T)); if (msg !== undefined) server.send(msg); });
  const { port } = await ask<{ port: number }>();
  if (process.env.XP_PEER) {
    const other = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const peerPort = await new Promise<number>((r) => other.once('message', (m) => r((m as { port: number }).port)));
    server.send({ peer: peerPort });
    process.on('exit', () => other.kill());
  }
  const client = new RpcClient({ host: '127.0.0.1', port });
  const body = { acks: -1, timeoutMs: 30_000, partitions: [{ topic: 'bench', partition: 3, records: Buffer.alloc(300, 1) }] };
  const end = performance.now() + seconds * 1000; let calls = 0;
  const loop = async (path: string) => { while (performance.now() < end) { await client.call(path, body); calls++; } };
  await Promise.all([loop('/produce'), ...Array.from({ length: loops }, () => loop('/wait'))]);
  await client.close(); server.kill();
  console.log(`calls ${calls}`);
  process.exit(0);
}
