import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { RpcClient } from '../src/client.ts';
import { decodeMsgpack, encodeMsgpackParts, joinMsgpackParts } from '@tributary/protocol';
const ANSWER = { partitions: [{ topic: 'bench', partition: 3, baseOffset: 5, error: undefined }] };
if (process.argv.includes('--serve')) {
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      decodeMsgpack(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      const out = joinMsgpackParts(encodeMsgpackParts(ANSWER));
      res.writeHead(200, { 'content-type': 'application/msgpack', 'content-length': out.length });
      res.end(out);
    });
  });
  srv.keepAliveTimeout = 60000;
  srv.listen(0, '127.0.0.1', () => process.send!({ port: (srv.address() as { port: number }).port }));
  process.on('message', (m) => { if (m === 'cpu') { const c = process.cpuUsage(); process.send!({ cpuUs: c.user + c.system }); } });
} else {
  const calls = 20000;
  const server = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = <T,>(msg?: string): Promise<T> => new Promise((resolve) => { server.once('message', (m) => resolve(m as T)); if (msg !== undefined) server.send(msg); });
  const { port } = await ask<{ port: number }>();
  const client = new RpcClient({ host: '127.0.0.1', port });
  const body = { acks: -1, timeoutMs: 30_000, partitions: [{ topic: 'bench', partition: 3, records: Buffer.alloc(300, 1) }] };
  for (let i = 0; i < 2_000; i++) await client.call('/produce', body);
  const s0 = (await ask<{ cpuUs: number }>('cpu')).cpuUs; const cpu0 = process.cpuUsage(); const t0 = performance.now();
  for (let i = 0; i < calls; i++) await client.call('/produce', body);
  const wall = (performance.now() - t0) * 1000; const cpu = process.cpuUsage(cpu0); const s = (await ask<{ cpuUs: number }>('cpu')).cpuUs - s0;
  await client.close(); server.kill();
  console.log(`bare: wall ${(wall / calls).toFixed(1)} client ${((cpu.user + cpu.system) / calls).toFixed(1)} server ${(s / calls).toFixed(1)}`);
}
