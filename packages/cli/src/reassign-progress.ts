// How far the reassignments in progress have come: `tributary reassign status`, `brokers
// decommission` and `watch`. Pure: two samples of the cluster in, the progress out.
//
// A sample is, per reassigning partition, its lists (target, adding, removing) and what its leader
// answers to /describe-replicas: log start, log end (LEO) and size in bytes of the leader's log,
// and each replica's LEO as the leader last saw it in that replica's fetches. A replica being
// added copies the leader's log from its start, so of the offsets [log start, leader LEO) it holds
// those below its own LEO:
//
//   copied fraction = (replica LEO − log start) / (leader LEO − log start), clamped to [0, 1]
//   bytes copied    = fraction × the leader's log size   (the bytes per offset of the log as a whole)
//   percent         = the fraction, rounded down to 0.1 %, so 100 % means caught up
//
// The rate comes from two samples: bytes/s copied = offsets copied between them × bytes per
// offset / the time between them. The ETA is the offsets still behind divided by how fast that
// gap closed between the samples — not by the copy rate, since producers keep appending to the
// partition while it copies; a gap that did not close has no ETA. A partition is done when every
// target replica is in the ISR (the controller completes it); a replica that caught up waits for
// the leader to add it, which the report says.

import { renderTable } from './table.ts';

export interface ProgressPartition {
  topic: string;
  partition: number;
  /** The merged list: the target, then the replicas being removed. */
  replicas: readonly number[];
  addingReplicas: readonly number[];
  removingReplicas: readonly number[];
  leader: number;
  /** The leader's view; absent when it could not be asked (`error` says why). */
  logStartOffset?: number;
  logEndOffset?: number;
  logSizeBytes?: number;
  replicaEnds?: readonly { brokerId: number; logEndOffset: number }[];
  error?: string;
}

export interface ProgressSample {
  timeMs: number;
  partitions: readonly ProgressPartition[];
}

export interface ReplicaCopy {
  brokerId: number;
  copiedBytes?: number;
  totalBytes?: number;
  percent?: number;
  /** Bytes/s copied between the two samples. */
  rateBytesPerSec?: number;
  /** Until caught up, at the rate the gap closed between the samples; 0 when caught up. */
  etaMs?: number;
}

export interface PartitionProgress {
  topic: string;
  partition: number;
  target: number[];
  adding: number[];
  removing: number[];
  leader: number;
  copies: ReplicaCopy[];
  copiedBytes?: number;
  totalBytes?: number;
  percent?: number;
  rateBytesPerSec?: number;
  etaMs?: number;
  /** Why numbers are missing, or what it waits for once copied. */
  note?: string;
}

export interface ProgressReport {
  timeMs: number;
  /** Time between the two samples the rates come from (absent with one sample). */
  intervalMs?: number;
  partitions: PartitionProgress[];
  copiedBytes: number;
  totalBytes: number;
  percent: number;
  rateBytesPerSec?: number;
  etaMs?: number;
}

/** The progress at `next`, with rates and ETAs from `prev` when given. */
export function reassignmentProgress(prev: ProgressSample | undefined, next: ProgressSample): ProgressReport {
  const dtMs = prev === undefined ? undefined : next.timeMs - prev.timeMs;
  const before = new Map(prev?.partitions.map((p) => [`${p.topic}-${p.partition}`, p]));
  const partitions = [...next.partitions]
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
    .map((p) => partitionProgress(before.get(`${p.topic}-${p.partition}`), p, dtMs));
  return summarize(next.timeMs, dtMs, partitions);
}

/** A report of some of another's partitions (one topic's, for `watch TOPIC`), its totals summed again. */
export function selectProgress(report: ProgressReport, keep: (p: PartitionProgress) => boolean): ProgressReport {
  return summarize(report.timeMs, report.intervalMs, report.partitions.filter(keep));
}

function summarize(timeMs: number, dtMs: number | undefined, partitions: PartitionProgress[]): ProgressReport {
  let copiedBytes = 0;
  let totalBytes = 0;
  let rate: number | undefined = 0;
  let eta: number | undefined = 0;
  for (const p of partitions) {
    copiedBytes += p.copiedBytes ?? 0;
    totalBytes += p.totalBytes ?? 0;
    rate = rate === undefined || p.rateBytesPerSec === undefined ? undefined : rate + p.rateBytesPerSec;
    eta = eta === undefined || p.etaMs === undefined ? undefined : Math.max(eta, p.etaMs);
  }
  const report: ProgressReport = {
    timeMs,
    partitions,
    copiedBytes,
    totalBytes,
    percent: totalBytes > 0 ? floorTenth((100 * copiedBytes) / totalBytes) : partitions.every((p) => p.percent === 100) ? 100 : 0,
  };
  if (dtMs !== undefined) report.intervalMs = dtMs;
  if (rate !== undefined && dtMs !== undefined && partitions.length > 0) report.rateBytesPerSec = rate;
  if (eta !== undefined && partitions.length > 0) report.etaMs = eta;
  return report;
}

function partitionProgress(prev: ProgressPartition | undefined, p: ProgressPartition, dtMs: number | undefined): PartitionProgress {
  const out: PartitionProgress = {
    topic: p.topic,
    partition: p.partition,
    target: p.replicas.filter((r) => !p.removingReplicas.includes(r)),
    adding: [...p.addingReplicas],
    removing: [...p.removingReplicas],
    leader: p.leader,
    copies: [],
  };
  if (p.addingReplicas.length === 0) {
    // Only removals or a new order: nothing to copy, it completes once the target is in sync.
    out.percent = 100;
    out.copiedBytes = 0;
    out.totalBytes = 0;
    out.etaMs = 0;
    out.rateBytesPerSec = 0;
    out.note = 'nothing to copy; completes once the target replicas are in the ISR';
    return out;
  }
  const start = p.logStartOffset;
  const end = p.logEndOffset;
  const size = p.logSizeBytes;
  if (start === undefined || end === undefined || size === undefined || p.replicaEnds === undefined) {
    out.note = p.error ?? (p.leader < 0 ? 'offline: no leader to copy from' : `leader B${p.leader} not asked`);
    out.copies = p.addingReplicas.map((brokerId) => ({ brokerId }));
    return out;
  }
  const span = end - start;
  const bytesPerOffset = span > 0 ? size / span : 0;
  const prevUsable =
    prev !== undefined &&
    dtMs !== undefined &&
    dtMs > 0 &&
    prev.logStartOffset !== undefined &&
    prev.logEndOffset !== undefined &&
    prev.replicaEnds !== undefined;
  let caughtUp = 0;
  for (const brokerId of p.addingReplicas) {
    const leo = p.replicaEnds.find((r) => r.brokerId === brokerId)?.logEndOffset ?? -1;
    const held = Math.min(end, Math.max(leo, start));
    const fraction = span > 0 ? (held - start) / span : leo >= end ? 1 : 0;
    const copy: ReplicaCopy = { brokerId, copiedBytes: Math.round(fraction * size), totalBytes: size, percent: floorTenth(100 * fraction) };
    const behind = end - held;
    if (behind <= 0 && (span > 0 || leo >= end)) caughtUp++;
    if (prevUsable) {
      const prevLeo = prev!.replicaEnds!.find((r) => r.brokerId === brokerId)?.logEndOffset ?? -1;
      const prevHeld = Math.min(prev!.logEndOffset!, Math.max(prevLeo, prev!.logStartOffset!));
      const prevBehind = prev!.logEndOffset! - prevHeld;
      copy.rateBytesPerSec = Math.max(0, Math.round(((held - prevHeld) * bytesPerOffset * 1000) / dtMs!));
      const closingPerMs = (prevBehind - behind) / dtMs!;
      if (behind <= 0) copy.etaMs = 0;
      else if (closingPerMs > 0) copy.etaMs = Math.round(behind / closingPerMs);
    } else if (behind <= 0) copy.etaMs = 0;
    out.copies.push(copy);
  }
  out.copiedBytes = out.copies.reduce((n, c) => n + c.copiedBytes!, 0);
  out.totalBytes = size * out.copies.length;
  out.percent = out.totalBytes > 0 ? floorTenth((100 * out.copiedBytes) / out.totalBytes) : Math.min(...out.copies.map((c) => c.percent!));
  if (out.copies.every((c) => c.rateBytesPerSec !== undefined)) out.rateBytesPerSec = out.copies.reduce((n, c) => n + c.rateBytesPerSec!, 0);
  if (out.copies.every((c) => c.etaMs !== undefined)) out.etaMs = Math.max(...out.copies.map((c) => c.etaMs!));
  if (caughtUp === p.addingReplicas.length) out.note = 'copied; completes once the leader adds the new replicas to the ISR';
  return out;
}

function floorTenth(x: number): number {
  return Math.floor(x * 10 + 1e-9) / 10;
}

/** 1234567 -> `1.2 MB` (SI units, as the bench's MB/s). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 'B';
  for (const u of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = u;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${unit}`;
}

/** 75000 -> `1 min 15 s`; undefined -> `?`. */
export function formatEta(ms: number | undefined): string {
  if (ms === undefined) return '?';
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** `[#########...........]`: `width` cells, a cell filled per 100/width %. */
export function progressBar(percent: number, width = 20): string {
  const filled = Math.max(0, Math.min(width, Math.floor((percent / 100) * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/**
 * The status view: a summary line, then one row per partition — target, adding, removing, leader,
 * bytes copied of the bytes to copy, percent (with a bar on a terminal), ETA and what it waits for.
 */
export function renderProgress(report: ProgressReport, options: { bar: boolean }): string[] {
  if (report.partitions.length === 0) return ['no reassignment in progress'];
  const n = report.partitions.length;
  const rate = report.rateBytesPerSec === undefined ? '' : ` at ${formatBytes(report.rateBytesPerSec)}/s`;
  const lines = [
    `${n} partition${n > 1 ? 's' : ''} being reassigned: ${formatBytes(report.copiedBytes)} of ${formatBytes(report.totalBytes)} copied (${report.percent.toFixed(1)}%)${rate}, ETA ${formatEta(report.etaMs)}`,
  ];
  const rows = report.partitions.map((p) => [
    `${p.topic}-${p.partition}`,
    p.target.join(','),
    p.adding.join(',') || '-',
    p.removing.join(',') || '-',
    p.leader < 0 ? 'none' : `B${p.leader}`,
    p.copiedBytes === undefined ? '?' : `${formatBytes(p.copiedBytes)} / ${formatBytes(p.totalBytes!)}`,
    p.percent === undefined ? '?' : `${options.bar ? `${progressBar(p.percent)} ` : ''}${p.percent.toFixed(1)}%`,
    formatEta(p.etaMs),
    p.note ?? '',
  ]);
  lines.push(...renderTable(rows, { header: ['PARTITION', 'TARGET', 'ADDING', 'REMOVING', 'LEADER', 'COPIED', 'PROGRESS', 'ETA', ''] }));
  return lines;
}
