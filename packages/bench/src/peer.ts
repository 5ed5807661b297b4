// The latency-peer phase: nats-peer.ts (a three-node NATS JetStream cluster, the same two latency
// measurements) in a process of its own, so `pnpm bench` prints the peer's figures beside
// Tributary's, taken minutes apart on the same machine.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AckLatencyResult, E2eLatencyResult } from './latency.ts';

/** The same figures as the latency phase's, measured on the peer. */
export interface NatsPeerResult {
  natsServer: string;
  nodes: number;
  ack: AckLatencyResult;
  e2e: E2eLatencyResult;
}

/** nats-peer.ts's exit code when nats-server is not installed. */
const NOT_INSTALLED = 2;

/** Runs nats-peer.ts --json; undefined when nats-server is not installed (it says so on stderr). */
export function natsPeerInChildProcess(quick: boolean): Promise<NatsPeerResult | undefined> {
  const script = fileURLToPath(new URL('./nats-peer.ts', import.meta.url));
  const child = spawn(process.execPath, [script, '--json', ...(quick ? ['--quick'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === NOT_INSTALLED) return resolve(undefined);
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) return reject(new Error(`the NATS peer phase failed (${signal ?? `exit code ${code}`}): ${last}`));
      resolve(JSON.parse(last) as NatsPeerResult);
    });
  });
}
