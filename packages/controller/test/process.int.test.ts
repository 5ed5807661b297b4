// The tributary-controller process: flags, start, serve, SIGTERM, restart from its data dir.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterMetadata, RegisterBrokerResponse } from '@tributary/protocol';
import { RpcClient } from '@tributary/transport';
import { tempDir } from '@tributary/testkit';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

interface Started {
  child: ChildProcess;
  port: number;
  lines: string[];
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const c of cleanups.splice(0)) c();
});

function run(args: string[]): Started & { stderr: () => string } {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, port: 0, lines, exited, stderr: () => stderr };
}

async function start(dataDir: string): Promise<Started> {
  const started = run(['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const line = started.lines.map((l) => JSON.parse(l) as { msg: string; listen?: { port: number } }).find((l) => l.msg === 'controller started');
    if (line) return { ...started, port: line.listen!.port };
    if (started.child.exitCode !== null) throw new Error(`controller exited: ${started.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('controller did not start');
}

describe('tributary-controller process', () => {
  it('kill -9 loses nothing: restarted, it replays the metadata log to identical metadata and version', async () => {
    const { dir, cleanup } = tempDir('tributary-controller-kill-');
    cleanups.push(cleanup);
    const first = await start(dir);
    const client = new RpcClient({ host: '127.0.0.1', port: first.port }, { timeoutMs: 5000 });
    for (const id of [0, 1, 2, 3]) {
      await client.call<RegisterBrokerResponse>('/broker/register', {
        brokerId: id,
        rack: id < 2 ? 'rack-1' : 'rack-2',
        incarnationId: `i${id}`,
        internal: { host: `b${id}`, port: 9092 },
        external: { host: '127.0.0.1', port: 19092 + id },
        logDirId: `dir-${id}`,
        clusterId: '',
      });
    }
    await client.call('/admin/create-topic', { name: 'orders', partitions: 4, replicationFactor: 3, configs: { 'retention.ms': 60000 } });
    await client.call('/admin/create-topic', { name: 'audit', partitions: 1, replicationFactor: 2 });
    await client.call('/admin/delete-topic', { name: 'audit' });
    const before = await client.call<ClusterMetadata>('/metadata/poll', { sinceVersion: -1, maxWaitMs: 0 });
    await client.close();
    // Every change was fsynced before it was answered, so a crash right after loses none of them.
    first.child.kill('SIGKILL');
    await first.exited;
    const second = await start(dir);
    const again = new RpcClient({ host: '127.0.0.1', port: second.port }, { timeoutMs: 5000 });
    const after = await again.call<ClusterMetadata>('/metadata/poll', { sinceVersion: -1, maxWaitMs: 0 });
    expect(after.version).toBe(before.version);
    expect(after.topics).toEqual(before.topics);
    expect(after.brokers.map((b) => [b.id, b.rack, b.epoch])).toEqual(before.brokers.map((b) => [b.id, b.rack, b.epoch]));
    await again.close();
    second.child.kill('SIGTERM');
    await second.exited;
  });

  it('prints one line on stderr and exits 2 on a bad flag', async () => {
    const p = run(['--listen', 'nowhere']);
    expect(await p.exited).toBe(2);
    expect(p.stderr().trim().split('\n')).toHaveLength(1);
    expect(p.stderr()).toMatch(/--listen must be host:port/);
  });

  it('serves, logs JSON with role controller, stops on SIGTERM and replays on restart', async () => {
    const { dir, cleanup } = tempDir('tributary-controller-proc-');
    cleanups.push(cleanup);
    const first = await start(dir);
    const client = new RpcClient({ host: '127.0.0.1', port: first.port }, { timeoutMs: 5000 });
    const reg = await client.call<RegisterBrokerResponse>('/broker/register', {
      brokerId: 0,
      rack: 'rack-1',
      incarnationId: 'a',
      internal: { host: 'b0', port: 9092 },
      external: { host: '127.0.0.1', port: 19092 },
      logDirId: 'dir-0',
      clusterId: '',
    });
    expect(reg.brokerEpoch).toBe(0);
    await client.call('/admin/create-topic', { name: 'orders', partitions: 3, replicationFactor: 1 });
    const before = await client.call<ClusterMetadata>('/metadata/poll', { sinceVersion: -1, maxWaitMs: 0 });
    await client.close();
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const logged = first.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.every((l) => l.role === 'controller')).toBe(true);
    expect(logged.find((l) => l.msg === 'topic created')).toMatchObject({ topic: 'orders', partitions: 3 });

    const second = await start(dir);
    const again = new RpcClient({ host: '127.0.0.1', port: second.port }, { timeoutMs: 5000 });
    const after = await again.call<ClusterMetadata>('/metadata/poll', { sinceVersion: -1, maxWaitMs: 0 });
    expect(after).toEqual(before);
    await again.close();
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });
});
