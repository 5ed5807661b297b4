// The cluster under test: a local one the bench starts in a temp dir on free ports (the default
// topology, 6 brokers in 2 racks, exactly as `tributary local up` starts it), or a running one
// given by --bootstrap (plus --data-dir when it is a launcher cluster, for kill/restart/RSS).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientOptions } from '@tributary/client';
import {
  freeClusterBasePort,
  localCredentials,
  localDown,
  localUp,
  processStatus,
  readState,
  type ClusterStateFile,
  type ProcessRecord,
} from '@tributary/launcher';

/** What a client needs for a secure cluster: its CA and a user (admin, a super user); {} otherwise. */
export type ClientSecurity = Pick<ClientOptions, 'ca' | 'credentials'>;

export interface BenchCluster {
  bootstrap: string;
  /** TLS and credentials for every client of the bench; {} for a plaintext cluster. */
  client: ClientSecurity;
  /** The launcher data dir, when the bench can kill, restart and measure processes. */
  dataDir: string | undefined;
  started: boolean;
  state(): ClusterStateFile | undefined;
  stop(): Promise<void>;
}

export async function startCluster(options: { keep: boolean; log: (line: string) => void; secure?: boolean }): Promise<BenchCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-bench-'));
  const basePort = await freeClusterBasePort(6);
  const secure = options.secure === true;
  options.log(`starting a local${secure ? ' secure' : ''} cluster (controller + 6 brokers, 2 racks) in ${dataDir}, ports ${basePort}..${basePort + 7}`);
  const cluster = await localUp({ dataDir, basePort, mode: 'detach', readyTimeoutMs: 90_000, ...(secure ? { secure: true } : {}) });
  const bootstrap = cluster.state.layout.brokers.map((b) => `127.0.0.1:${b.port}`).join(',');
  let client: ClientSecurity = {};
  if (secure) {
    const credentials = localCredentials(dataDir);
    if (credentials === undefined) throw new Error(`the secure cluster in ${dataDir} has no CA or admin password`);
    client = { ca: readFileSync(credentials.caFile), credentials: { user: credentials.user, password: credentials.password } };
  }
  let stopped = false;
  return {
    bootstrap,
    client,
    dataDir,
    started: true,
    state: () => readState(dataDir),
    async stop() {
      if (stopped) return;
      stopped = true;
      await localDown(dataDir, { timeoutMs: 15_000 }).catch(() => undefined);
      if (options.keep) options.log(`kept the cluster data in ${dataDir}`);
      else rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function attachCluster(bootstrap: string, dataDir: string | undefined): BenchCluster {
  return {
    bootstrap,
    client: {},
    dataDir,
    started: false,
    state: () => (dataDir === undefined ? undefined : readState(dataDir)),
    async stop() {},
  };
}

export function brokerRecord(state: ClusterStateFile, brokerId: number): ProcessRecord | undefined {
  return state.processes.find((p) => p.brokerId === brokerId);
}

/** The broker's own data dir, from the arguments the launcher started it with. */
export function brokerDataDir(record: ProcessRecord): string | undefined {
  const i = record.args.indexOf('--data-dir');
  return i >= 0 ? record.args[i + 1] : undefined;
}

/** VmRSS of a process in bytes, from /proc/<pid>/status; undefined when it is not running. */
export function rssBytes(record: ProcessRecord): number | undefined {
  if (processStatus(record) === 'stopped') return undefined;
  try {
    const status = readFileSync(`/proc/${record.pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** RSS of every running broker of the cluster, in bytes, by broker id. */
export function brokerRss(state: ClusterStateFile): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of state.processes) {
    if (p.brokerId === undefined) continue;
    const rss = rssBytes(p);
    if (rss !== undefined) out.set(p.brokerId, rss);
  }
  return out;
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux x86 and arm). */
const USER_HZ = 100;

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which sits in parentheses and may itself hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return undefined;
  }
}

/**
 * Starts counting the CPU the cluster's processes (controller and brokers) use; the returned
 * function gives the CPU seconds since, or undefined without launcher state (a --bootstrap cluster
 * without --data-dir) or when a process restarted meanwhile.
 */
export function clusterCpuMeter(state: ClusterStateFile | undefined): () => number | undefined {
  if (state === undefined) return () => undefined;
  const start = new Map(state.processes.map((p) => [p.pid, cpuSeconds(p.pid)]));
  return () => {
    let total = 0;
    for (const [pid, before] of start) {
      const after = cpuSeconds(pid);
      if (before === undefined || after === undefined) return undefined;
      total += after - before;
    }
    return total;
  };
}
