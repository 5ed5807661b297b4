// What `tributary reassign execute FILE` checks before it changes anything. The controller decides
// each partition of a reassignment on its own (KIP-455): a bad entry is refused and the good ones
// start. A plan is meant as a whole, so the CLI checks every entry against the cluster first and
// refuses the whole file, naming every problem, when any entry is bad. Pure: the file's text and a
// snapshot of the cluster in, the entries to start (or the problems) out.

import { TributaryError, type ErrorCode } from '@tributary/protocol';
import type { PlanEntry } from './reassign-plan.ts';

export interface ValidationCluster {
  /** Registered brokers, fenced ones included (the controller accepts them; the move waits for them). */
  brokers: readonly { id: number; alive: boolean }[];
  topics: readonly { name: string; partitions: readonly { partition: number; replicas: readonly number[] }[] }[];
  /** Partitions being reassigned now (listPartitionReassignments). */
  reassigning: readonly {
    topic: string;
    partition: number;
    replicas: readonly number[];
    addingReplicas: readonly number[];
    removingReplicas: readonly number[];
  }[];
}

export interface PlanProblem {
  code: ErrorCode;
  /** `demo-3`, or `entry 4` when the entry names no partition. */
  where: string;
  message: string;
}

export interface CheckedPlan {
  /** Entries whose target differs from the current list: what execute starts. */
  start: PlanEntry[];
  /** Entries already as the plan wants them: nothing to do. */
  unchanged: PlanEntry[];
  /** Accepted, but worth saying: a fenced broker (the move waits for it), a changed replication factor. */
  notes: string[];
}

/**
 * Parses a plan file: Kafka's reassignment JSON, `{"version":1,"partitions":[{"topic","partition",
 * "replicas"[, "log_dirs"]}]}`, also with the extra keys `reassign generate --json` prints
 * (`current`, `summary`). Throws INVALID_REQUEST naming every malformed entry.
 */
export function parsePlan(text: string, source: string): PlanEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TributaryError(
      'INVALID_REQUEST',
      `${source} is not JSON (${(err as Error).message}); expected {"version":1,"partitions":[{"topic":…,"partition":…,"replicas":[…]}]}`,
    );
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { partitions?: unknown }).partitions)) {
    throw new TributaryError(
      'INVALID_REQUEST',
      `${source} has no "partitions" list; expected {"version":1,"partitions":[{"topic":…,"partition":…,"replicas":[…]}]}`,
    );
  }
  const version = (doc as { version?: unknown }).version;
  if (version !== undefined && version !== 1)
    throw new TributaryError('INVALID_REQUEST', `${source} has version ${JSON.stringify(version)}; only version 1 is known`);
  const problems: string[] = [];
  const entries: PlanEntry[] = [];
  (doc as { partitions: unknown[] }).partitions.forEach((raw, i) => {
    const where = `entry ${i + 1}`;
    if (typeof raw !== 'object' || raw === null) {
      problems.push(`${where} is not an object`);
      return;
    }
    const { topic, partition, replicas } = raw as Record<string, unknown>;
    if (typeof topic !== 'string' || topic.length === 0) problems.push(`${where}: "topic" must be a topic name, got ${JSON.stringify(topic)}`);
    else if (!Number.isSafeInteger(partition) || (partition as number) < 0)
      problems.push(`${where} (${topic}): "partition" must be an integer >= 0, got ${JSON.stringify(partition)}`);
    else if (!Array.isArray(replicas) || !replicas.every((r) => Number.isSafeInteger(r) && r >= 0)) {
      problems.push(`${where} (${topic}-${partition}): "replicas" must be a list of broker ids, got ${JSON.stringify(replicas)}`);
    } else entries.push({ topic, partition: partition as number, replicas: [...(replicas as number[])] });
  });
  if (problems.length > 0) throw new TributaryError('INVALID_REQUEST', `${source}: ${problems.join('; ')}`);
  return entries;
}

/** Every problem of the plan against the cluster; empty when the whole plan can start. */
export function planProblems(entries: readonly PlanEntry[], cluster: ValidationCluster): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const registered = [...cluster.brokers].map((b) => b.id).sort((a, b) => a - b);
  const known = new Set(registered);
  const seen = new Set<string>();
  const reassigning = new Map(cluster.reassigning.map((r) => [`${r.topic}-${r.partition}`, r]));
  for (const e of entries) {
    const where = `${e.topic}-${e.partition}`;
    const add = (code: ErrorCode, message: string) => problems.push({ code, where, message });
    if (seen.has(where)) {
      add('INVALID_REQUEST', `${where} appears more than once in the plan`);
      continue;
    }
    seen.add(where);
    const topic = cluster.topics.find((t) => t.name === e.topic);
    if (topic === undefined) {
      add('UNKNOWN_TOPIC_OR_PARTITION', `topic '${e.topic}' does not exist`);
      continue;
    }
    if (!topic.partitions.some((p) => p.partition === e.partition)) {
      add('UNKNOWN_TOPIC_OR_PARTITION', `${where} does not exist: '${e.topic}' has partitions 0-${topic.partitions.length - 1}`);
      continue;
    }
    if (e.replicas.length > registered.length) {
      add('INVALID_REPLICATION_FACTOR', `${where} asks for ${e.replicas.length} replicas but only ${registered.length} brokers are registered`);
    }
    if (e.replicas.length === 0) add('INVALID_REPLICA_ASSIGNMENT', `${where} has an empty replica list; a partition needs at least one replica`);
    const twice = e.replicas.filter((r, i) => e.replicas.indexOf(r) !== i);
    if (twice.length > 0) add('INVALID_REPLICA_ASSIGNMENT', `${where} names broker ${[...new Set(twice)].join(', ')} twice in ${JSON.stringify(e.replicas)}`);
    const unknown = [...new Set(e.replicas.filter((r) => !known.has(r)))];
    if (unknown.length > 0) {
      add(
        'INVALID_REPLICA_ASSIGNMENT',
        `${where} names broker${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}, not registered (registered: ${registered.join(', ')})`,
      );
    }
    const running = reassigning.get(where);
    if (running !== undefined) {
      const target = running.replicas.filter((r) => !running.removingReplicas.includes(r));
      add(
        'REASSIGNMENT_IN_PROGRESS',
        `${where} is already being reassigned to ${JSON.stringify(target)} (adding ${JSON.stringify(running.addingReplicas)}); wait for it (tributary reassign status) or cancel it (tributary reassign cancel) first`,
      );
    }
  }
  return problems;
}

/**
 * Checks the whole plan: throws, naming every problem, when any entry is bad (code: the first
 * problem's, from protocol's table); else splits it into the entries to start and those
 * already in place.
 */
export function checkPlan(entries: readonly PlanEntry[], cluster: ValidationCluster, source: string): CheckedPlan {
  const problems = planProblems(entries, cluster);
  if (problems.length > 0) {
    const first = problems[0]!;
    throw new TributaryError(
      first.code,
      `${source}: ${problems.length} problem${problems.length > 1 ? 's' : ''}, nothing was changed: ${problems.map((p) => p.message).join('; ')}`,
    );
  }
  const start: PlanEntry[] = [];
  const unchanged: PlanEntry[] = [];
  const notes: string[] = [];
  const fenced = new Set(cluster.brokers.filter((b) => !b.alive).map((b) => b.id));
  for (const e of entries) {
    const current = cluster.topics.find((t) => t.name === e.topic)!.partitions.find((p) => p.partition === e.partition)!.replicas;
    if (current.length === e.replicas.length && current.every((r, i) => r === e.replicas[i])) {
      unchanged.push(e);
      continue;
    }
    start.push(e);
    const where = `${e.topic}-${e.partition}`;
    const waiting = e.replicas.filter((r) => fenced.has(r) && !current.includes(r));
    if (waiting.length > 0) notes.push(`${where}: broker ${waiting.join(', ')} is fenced; its copy starts when it is back`);
    if (current.length !== e.replicas.length) notes.push(`${where}: replication factor ${current.length} -> ${e.replicas.length}`);
  }
  return { start, unchanged, notes };
}
