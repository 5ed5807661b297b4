// The abuse phase (issue 16 §4): what abusive clients cost well-behaved ones. The acks=all
// latency of one record in flight (the `latency` phase's ack measurement, in a child process of
// its own) is taken twice on the same topic: once on a quiet cluster, once while the abuse suite
// (packages/chaos abuse.ts) sends oversized, nested, many-tiny-element, truncated, cut-off,
// garbage and trickled requests to every route of every process from this process.

import { abuseRequests, abuseUntil, judgeAbuse, SLOW_ABUSE_KINDS, type AbuseOutcome, type AbuseTarget } from '@tributary/chaos';
import type { Admin } from '@tributary/client';
import { BROKER_ROUTES, CONTROLLER_ROUTES } from '@tributary/protocol';
import { inChildProcess, type AckLatencyResult } from './latency.ts';
import { Progress } from './progress.ts';

/** Abusive requests in flight at once: fast kinds (answered at once) and slow ones (held until the server cuts them). */
export const ABUSE_FAST_CONCURRENCY = 8;
export const ABUSE_SLOW_CONCURRENCY = 32;

export interface AbusePhaseResult {
  records: number;
  quiet: AckLatencyResult;
  abused: AckLatencyResult;
  /** Abusive requests completed during the abused run, and per second. */
  abuseRequests: number;
  abuseRequestsPerSec: number;
  /** Those not answered as a well-behaved server answers (judgeAbuse); the first few reasons. */
  badlyHandled: number;
  badlyHandledExamples: string[];
  /** Outcomes by status (or 'closed' when the server cut the connection without an answer). */
  byStatus: Record<string, number>;
}

/** Every process of the cluster, from its metadata: the brokers and the controller they name. */
export async function abuseTargets(admin: Admin): Promise<AbuseTarget[]> {
  const cluster = await admin.describeCluster();
  const brokers: AbuseTarget[] = cluster.brokers.map((b) => ({ name: `broker-${b.id}`, host: b.host, port: b.port, routes: BROKER_ROUTES }));
  const controller = cluster.controller;
  return controller === undefined ? brokers : [{ name: 'controller', host: controller.host, port: controller.port, routes: CONTROLLER_ROUTES }, ...brokers];
}

export async function abusePhase(bootstrap: string, admin: Admin, topic: string, records: number): Promise<AbusePhaseResult> {
  const quiet = await inChildProcess({ kind: 'ack', bootstrap, topic, count: records }, new Progress('produce p99, quiet', records));

  const requests = abuseRequests(await abuseTargets(admin));
  const stop = new AbortController();
  const startedMs = performance.now();
  const seen: AbuseOutcome[] = [];
  const onOutcome = (o: AbuseOutcome) => seen.push(o);
  const running = Promise.all([
    abuseUntil(
      requests.filter((r) => !SLOW_ABUSE_KINDS.includes(r.kind)),
      stop.signal,
      { concurrency: ABUSE_FAST_CONCURRENCY, seed: 1, onOutcome },
    ),
    abuseUntil(
      requests.filter((r) => SLOW_ABUSE_KINDS.includes(r.kind)),
      stop.signal,
      { concurrency: ABUSE_SLOW_CONCURRENCY, seed: 2, onOutcome },
    ),
  ]);
  let abused: AckLatencyResult;
  try {
    abused = await inChildProcess({ kind: 'ack', bootstrap, topic, count: records }, new Progress('produce p99, abused', records));
  } finally {
    stop.abort();
  }
  const seconds = (performance.now() - startedMs) / 1000;
  await running;
  const bad = seen.map(judgeAbuse).filter((v): v is string => v !== undefined);
  const byStatus: Record<string, number> = {};
  for (const o of seen) {
    const key = o.status !== undefined ? String(o.status) : o.closedByServer ? 'closed' : 'none';
    byStatus[key] = (byStatus[key] ?? 0) + 1;
  }
  return {
    records,
    quiet,
    abused,
    abuseRequests: seen.length,
    abuseRequestsPerSec: Math.round(seen.length / seconds),
    badlyHandled: bad.length,
    badlyHandledExamples: bad.slice(0, 5),
    byStatus,
  };
}
