// Free ports for a local cluster that must not collide with another one (tests, benchmarks and
// chaos runs start clusters side by side; the defaults 19090… are for the user's own cluster).

import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { INTERNAL_PORT_OFFSET, clusterLayout, layoutPorts } from './layout.ts';

/**
 * The first port of a block of `count` consecutive free TCP ports on 127.0.0.1, below the
 * kernel's ephemeral range: a killed process's port must still be free when it restarts, and a
 * port inside the ephemeral range can meanwhile be taken as the source port of some outgoing
 * connection (the restarted controller would then fail with EADDRINUSE).
 */
export async function freePortBlock(count: number): Promise<number> {
  return freeBasePort((base) => Array.from({ length: count }, (_, i) => base + i), count);
}

/**
 * A base port for a local cluster of `brokers` brokers whose every port (client and internal
 * listeners, layout.ts) is free, by the same rules as freePortBlock.
 */
export async function freeClusterBasePort(brokers: number): Promise<number> {
  return freeBasePort((base) => layoutPorts(clusterLayout({ basePort: base, brokers })), 2 * INTERNAL_PORT_OFFSET + 2 + brokers);
}

async function freeBasePort(portsAt: (base: number) => number[], span: number): Promise<number> {
  const low = 10_000;
  const high = Math.max(low + 1000, ephemeralRangeStart()) - span;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low));
    const ports = portsAt(base);
    // Browsers' and undici's fetch() refuse some ports outright ("bad port"); a cluster on one
    // could not be reached from the web console or a test using fetch. Above 10000 that is 10080.
    if (ports.some((p) => FETCH_BLOCKED_PORTS.includes(p))) continue;
    const ok = await Promise.all(ports.map((p) => isPortFree(p)));
    if (ok.every(Boolean)) return base;
  }
  throw new Error(`no free block of ports found for ${JSON.stringify(portsAt(low).length)} listeners`);
}

/** The Fetch standard's blocked ports at or above freePortBlock's lower bound. */
const FETCH_BLOCKED_PORTS = [10080];

function ephemeralRangeStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 1024 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

/** Whether nothing listens on `port` of 127.0.0.1 (we could bind it). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
