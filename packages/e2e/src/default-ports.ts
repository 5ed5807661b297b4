// The README's walkthroughs take no flags, so their cluster listens on the default ports
// (controller 19090 and 19091, brokers 19092-19097 and 19192-19197; compose publishes
// 19090-19097 on the host). A test that runs them needs those ports to itself: a developer's own
// cluster there would answer the walkthrough's commands instead, and two runs at once would
// start two clusters on one set of ports. So it takes a lock file naming its pid, then checks
// every port, and fails with what to do instead of skipping or picking other ports.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterLayout, isPortFree, layoutPorts } from '@tributary/launcher';

/** One lock for every run on this machine, whichever checkout it comes from. */
export const DEFAULT_PORTS_LOCK = join(tmpdir(), 'tributary-default-ports.lock');

/** Every port of the default layout, in the order the layout lists them. */
export function defaultPorts(): number[] {
  return layoutPorts(clusterLayout());
}

/**
 * Takes the lock and checks that every default port is free; returns the release. Throws, with
 * the port and how to free it, when one is taken or another run holds the lock. `clearOwn`, run
 * under the lock before the check, removes what an earlier run of the same test left behind.
 */
export async function claimDefaultPorts(user: string, clearOwn?: () => Promise<void>): Promise<() => void> {
  takeLock(user);
  const release = () => rmSync(DEFAULT_PORTS_LOCK, { force: true });
  try {
    await clearOwn?.();
    for (const port of defaultPorts()) {
      if (await isPortFree(port)) continue;
      throw new Error(
        `port ${port} on 127.0.0.1 is in use, and ${user} runs the README's commands as written, on the default ports ` +
          `(${portRanges(defaultPorts())}). Stop what listens there and run again: your own local cluster ` +
          `(pnpm tributary local down), the compose cluster (docker compose down), or whatever \`ss -ltnp 'sport = :${port}'\` shows.`,
      );
    }
  } catch (err) {
    release();
    throw err;
  }
  return release;
}

function takeLock(user: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(DEFAULT_PORTS_LOCK, `${process.pid} ${user}\n`, { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const [pidText, ...holder] = readFileSync(DEFAULT_PORTS_LOCK, 'utf8').trim().split(' ');
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
      throw new Error(
        `the default ports are taken by another run of ${holder.join(' ') || 'a README test'} (pid ${pid}, lock ${DEFAULT_PORTS_LOCK}); wait for it to finish`,
      );
    }
    // The run that wrote it is gone (killed before it could release): the lock is stale.
    rmSync(DEFAULT_PORTS_LOCK, { force: true });
  }
  throw new Error(`could not take ${DEFAULT_PORTS_LOCK}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** 19090-19097, 19192-19197. */
function portRanges(ports: number[]): string {
  const sorted = [...ports].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}
