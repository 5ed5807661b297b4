// Free ports for a local cluster that must not collide with another one (tests, benchmarks and
// chaos runs start clusters side by side; the defaults 19090… are for the user's own cluster).

import { createServer } from 'node:net';

/** The first port of a block of `count` consecutive free TCP ports on 127.0.0.1. */
export async function freePortBlock(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const ok = await Promise.all(Array.from({ length: count }, (_, i) => isPortFree(base + i)));
    if (ok.every(Boolean)) return base;
  }
  throw new Error(`no block of ${count} free ports found`);
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
