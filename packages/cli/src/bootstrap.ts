// Where the CLI finds the cluster when neither --bootstrap nor $TRIBUTARY_BOOTSTRAP says: every
// broker of the local cluster, as Kafka users list several bootstrap servers, so that the one
// broker that is down (`tributary local kill 0`, `docker compose kill broker-0`) does not hide
// the others.

import { resolve } from 'node:path';
import { clusterLayout, processStatus, readState, type ClusterLayout } from '@tributary/launcher';

type Env = Record<string, string | undefined>;

/** The data dir of `pnpm start` and `tributary local …`: $TRIBUTARY_DATA_DIR, else ./.tributary. */
export function localDataDir(env: Env, flag?: string): string {
  return resolve(flag ?? env.TRIBUTARY_DATA_DIR ?? '.tributary');
}

/**
 * The brokers of the cluster running from the local data dir (it may have been started on other
 * ports, `local up --base-port`), else those of the default layout, 127.0.0.1:19092…19097, which
 * compose publishes on the host as well.
 */
export function defaultBootstrap(env: Env): string[] {
  const layout = runningLocalLayout(localDataDir(env)) ?? clusterLayout();
  return layout.brokers.map((b) => `127.0.0.1:${b.port}`);
}

function runningLocalLayout(dataDir: string): ClusterLayout | undefined {
  try {
    const state = readState(dataDir);
    if (state?.processes.some((p) => processStatus(p) !== 'stopped')) return state.layout;
  } catch {
    // An unreadable state file is no running cluster; the default layout is the best guess.
  }
  return undefined;
}

/**
 * A bootstrap list for a title line: consecutive ports on one host collapse into a range
 * (127.0.0.1:19092-19097), the way the layout assigns them.
 */
export function compactBootstrap(bootstrap: readonly string[]): string {
  const parts: string[] = [];
  let run: { host: string; first: number; last: number } | undefined;
  const flush = () => {
    if (run) parts.push(run.first === run.last ? `${run.host}:${run.first}` : `${run.host}:${run.first}-${run.last}`);
    run = undefined;
  };
  for (const address of bootstrap) {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon);
    const port = Number(address.slice(colon + 1));
    if (run && run.host === host && port === run.last + 1) {
      run.last = port;
      continue;
    }
    flush();
    if (colon < 0 || !Number.isInteger(port)) parts.push(address);
    else run = { host, first: port, last: port };
  }
  flush();
  return parts.join(',');
}
