// The history of a chaos run: every operation the workload made, every fault the nemesis
// injected, and the final read, one JSON object per line (`--history FILE`). The checker needs
// nothing else, so `tributary chaos check FILE` re-checks a run without a cluster.
//
// Outcomes follow Jepsen's three kinds: `ok` (the cluster said yes, with the offset), `fail` (the
// cluster said a definite no: nothing was appended), `info` (indeterminate: a timeout, a lost
// connection, an error after earlier attempts whose fate is unknown). An `info` write may or may
// not be in the log; a `fail` write must never be.

import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import type { ReplicaDigest } from '@tributary/protocol';

export type Outcome = { type: 'ok'; offset: number } | { type: 'fail'; code: string } | { type: 'info'; code: string };

/** One send of one unique value to one partition (acks=all). Times are ms since the epoch. */
export interface SendOp {
  kind: 'send';
  /** The workload process (producer) that made it: `producer-0` … */
  process: string;
  partition: number;
  value: string;
  startMs: number;
  endMs: number;
  outcome: Outcome;
  /** Produce attempts the client made for the batch (when it said so). */
  attempts?: number;
}

/** One record a consumer received, in the order it received them. */
export interface ReadOp {
  kind: 'read';
  process: string;
  partition: number;
  offset: number;
  value: string;
  atMs: number;
}

/** A fault as injected: what, on whom, when, and which partitions' replica sets it hit. */
export interface FaultOp {
  kind: 'fault';
  /** The schedule entry's id. */
  id: number;
  fault: string;
  /** The processes acted on (`broker-3`, `controller`). */
  targets: string[];
  startMs: number;
  /** When it was healed; undefined while it lasts (or if healing failed). */
  healedMs?: number;
  /** Partitions whose replica set holds a target (every partition for the controller). */
  partitions: number[];
  note?: string;
  /** A fault made of steps (diskloss, compound): each step as it happened. */
  steps?: { atMs: number; what: string }[];
}

/** The whole of one partition after heal, read from its log start to its end. */
export interface FinalReadOp {
  kind: 'final';
  partition: number;
  logStartOffset: number;
  highWatermark: number;
  /** [offset, value] in log order. */
  records: [number, string][];
}

/** The run's parameters, first line of the file. */
export interface RunHeader {
  kind: 'header';
  topic: string;
  partitions: number;
  seed: number;
  durationMs: number;
  faults: string[];
  target: string;
  startedMs: number;
  schedule?: unknown;
}

/**
 * The cluster after the final heal, when it converged or at the settle deadline: every process,
 * the topic's leaders and ISRs, and what each broker holds of every partition (offsets and batch
 * digests, `POST /replica-digests`). The checker judges convergence from this alone.
 */
export interface ConvergenceOp {
  kind: 'convergence';
  atMs: number;
  /** How long the run gave the cluster to converge after the final heal. */
  settleTimeoutMs: number;
  /** Every process of the cluster as the nemesis sees it (`running`, `paused`, `stopped`, …). */
  processes: { name: string; status: string }[];
  /** The topic's partitions in the metadata (leader -1: offline). Empty when it could not be read. */
  partitions: { partition: number; leader: number; leaderEpoch: number; replicas: number[]; isr: number[] }[];
  /** Each broker of the cluster: whether the metadata has it alive, and its replicas of the topic or why it did not answer. */
  brokers: { brokerId: number; alive: boolean; replicas?: ReplicaDigest[]; error?: string }[];
  /** Why the metadata could not be read, when it could not. */
  error?: string;
  /**
   * Processes that ended on their own during the run: a fatal line in their log (an uncaught
   * exception, a storage failure), which no fault of the nemesis writes. Local target only.
   */
  crashes?: { process: string; atMs: number; message: string }[];
}

export type HistoryEntry = SendOp | ReadOp | FaultOp | FinalReadOp | RunHeader | ConvergenceOp;

export interface History {
  header?: RunHeader;
  sends: SendOp[];
  reads: ReadOp[];
  faults: FaultOp[];
  finals: FinalReadOp[];
  /** The last convergence snapshot (absent in histories written before it existed). */
  convergence?: ConvergenceOp;
}

export function emptyHistory(): History {
  return { sends: [], reads: [], faults: [], finals: [] };
}

export function addEntry(history: History, entry: HistoryEntry): void {
  switch (entry.kind) {
    case 'header':
      history.header = entry;
      break;
    case 'send':
      history.sends.push(entry);
      break;
    case 'read':
      history.reads.push(entry);
      break;
    case 'fault':
      history.faults.push(entry);
      break;
    case 'final':
      history.finals.push(entry);
      break;
    case 'convergence':
      history.convergence = entry;
      break;
  }
}

/** Parses a JSON-lines history; a malformed line is an error naming its line number. */
export function parseHistory(text: string): History {
  const history = emptyHistory();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let entry: HistoryEntry;
    try {
      entry = JSON.parse(line) as HistoryEntry;
    } catch (err) {
      throw new Error(`history line ${i + 1} is not JSON: ${(err as Error).message}`);
    }
    if (!entry || typeof entry !== 'object' || !['header', 'send', 'read', 'fault', 'final', 'convergence'].includes((entry as { kind?: string }).kind ?? '')) {
      throw new Error(`history line ${i + 1} has no known kind`);
    }
    addEntry(history, entry);
  }
  return history;
}

export function readHistoryFile(path: string): History {
  return parseHistory(readFileSync(path, 'utf8'));
}

/**
 * Collects a run's history in memory and, when given a path, appends every entry to it as it
 * happens, so a run that dies half-way still leaves what it did. A fault is written when healed
 * (its heal time is part of the entry).
 */
export class HistoryRecorder {
  readonly history: History = emptyHistory();
  private readonly stream: WriteStream | undefined;

  constructor(path?: string) {
    this.stream = path ? createWriteStream(path, { flags: 'w' }) : undefined;
  }

  record(entry: HistoryEntry): void {
    addEntry(this.history, entry);
    this.stream?.write(`${JSON.stringify(entry)}\n`);
  }

  /** A fault entry is kept in memory at once but written to the file only when finished. */
  startFault(entry: FaultOp): FaultOp {
    this.history.faults.push(entry);
    return entry;
  }

  finishFault(entry: FaultOp): void {
    this.stream?.write(`${JSON.stringify(entry)}\n`);
  }

  async close(): Promise<void> {
    const stream = this.stream;
    if (!stream) return;
    await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}
