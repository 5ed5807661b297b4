// The I/O edge of `tributary reassign …` and `brokers decommission`: reads the cluster through
// the Admin client, calls the pure rules (reassign-validate.ts, reassign-throttle.ts,
// reassign-progress.ts) and makes the changes they decide. Kept thin; the rules are tested on
// their own.

import { TributaryError, type ErrorCode, type OngoingReassignment } from '@tributary/client';
import { encodeMsgpack } from '@tributary/protocol';
import type { Admin, PartitionReassignment, TopicDescription, VerboseTopicDescription } from '@tributary/client';
import type { PlanEntry } from './reassign-plan.ts';
import type { ProgressPartition, ProgressSample } from './reassign-progress.ts';
import {
  FOLLOWER_LIST,
  FOLLOWER_RATE,
  LEADER_LIST,
  LEADER_RATE,
  throttleCleanup,
  throttleSettings,
  type ThrottleSettings,
  type ThrottleTopic,
} from './reassign-throttle.ts';
import { checkPlan, type CheckedPlan } from './reassign-validate.ts';

/**
 * What one alter-partition-reassignments call may carry. The brokers' and the controller's admin
 * request limits (broker `adminBodyBytesMax`, controller `bodyBytesMax`: 64 KiB; `elementsMax`:
 * 16,384 msgpack values, keys included) hold about 1,500 partitions of a short topic name and RF
 * 3 (about 40 bytes and 10 values each), fewer with long names. A plan is sent in calls of at most
 * PLAN_CALL_PARTITIONS_MAX partitions and three quarters of both limits, each checked before the
 * next (planChunks); raising the admin limits would widen every admin route for this one.
 */
export const PLAN_CALL_PARTITIONS_MAX = 1000;
export const ADMIN_BODY_BYTES_MAX = 64 * 1024;
export const ADMIN_ELEMENTS_MAX = 16_384;

/** Splits reassignment entries into calls within the limits above (pure; sizes are msgpack's, exactly). */
export function planChunks<T extends { topic: string; partition: number; replicas: readonly number[] | null }>(entries: readonly T[]): T[][] {
  const bytesMax = (ADMIN_BODY_BYTES_MAX * 3) / 4;
  const elementsMax = (ADMIN_ELEMENTS_MAX * 3) / 4;
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let bytes = 0;
  let elements = 0;
  for (const e of entries) {
    const encoded = encodeMsgpack({ topic: e.topic, partition: e.partition, replicas: e.replicas });
    // The entry's map, its three keys and values, and each replica.
    const values = 7 + (e.replicas?.length ?? 0);
    if (chunk.length > 0 && (chunk.length >= PLAN_CALL_PARTITIONS_MAX || bytes + encoded.length > bytesMax || elements + values > elementsMax)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
      elements = 0;
    }
    chunk.push(e);
    bytes += encoded.length;
    elements += values;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** How long status waits for a leader's /describe-replicas before it shows that partition as unknown. */
const LEADER_TIMEOUT_MS = 1500;

export interface ClusterView {
  brokers: { id: number; rack: string; alive: boolean }[];
  topics: TopicDescription[];
  reassigning: OngoingReassignment[];
}

export async function readCluster(admin: Admin): Promise<ClusterView> {
  const [cluster, topics, reassigning] = await Promise.all([admin.describeCluster(), admin.describeTopics(), admin.listPartitionReassignments()]);
  return { brokers: cluster.brokers.map((b) => ({ id: b.id, rack: b.rack, alive: b.alive })), topics, reassigning };
}

function throttleTopics(topics: readonly TopicDescription[]): ThrottleTopic[] {
  return topics.map((t) => ({
    name: t.name,
    leaderList: String(t.configs?.[LEADER_LIST] ?? ''),
    followerList: String(t.configs?.[FOLLOWER_LIST] ?? ''),
    partitions: t.partitions,
  }));
}

export interface Execution extends CheckedPlan {
  /** The throttle set, when asked for. */
  throttle?: ThrottleSettings & { rateBytesPerSec: number };
}

/**
 * Checks the plan against the cluster (the whole plan refused, nothing changed, on any problem),
 * sets the throttle when asked (before the copies start, so no byte goes unthrottled), then starts
 * the moves, PLAN_CALL_PARTITIONS_MAX at a time. If the controller refuses a partition anyway (a
 * reassignment started elsewhere since the check), the moves this call started are cancelled and
 * a throttle left without a reassignment is removed, so the plan still changes nothing.
 */
export async function executePlan(
  admin: Admin,
  entries: readonly PlanEntry[],
  source: string,
  options: { throttleBytesPerSec?: number } = {},
): Promise<Execution> {
  const cluster = await readCluster(admin);
  const checked = checkPlan(entries, cluster, source);
  const execution: Execution = { ...checked };
  if (checked.start.length === 0) return execution;
  if (options.throttleBytesPerSec !== undefined) {
    const settings = throttleSettings(checked.start, throttleTopics(cluster.topics));
    const rate = options.throttleBytesPerSec;
    for (const t of settings.topics) await admin.alterConfigs({ topic: t.topic }, { set: { [LEADER_LIST]: t.leaderList, [FOLLOWER_LIST]: t.followerList } });
    for (const broker of settings.brokers) await admin.alterConfigs({ broker }, { set: { [LEADER_RATE]: rate, [FOLLOWER_RATE]: rate } });
    execution.throttle = { ...settings, rateBytesPerSec: rate };
  }
  const started: PartitionReassignment[] = [];
  const refused: string[] = [];
  let refusedCode: ErrorCode | undefined;
  for (const entries of planChunks(checked.start)) {
    if (refused.length > 0) break;
    const chunk = entries.map((e) => ({ topic: e.topic, partition: e.partition, replicas: e.replicas }));
    const results = await admin.alterPartitionReassignments(chunk);
    results.forEach((r, k) => {
      if (r.error === undefined) started.push(chunk[k]!);
      else {
        refusedCode ??= r.error.code;
        refused.push(`${r.topic}-${r.partition}: ${r.error.code}: ${r.error.message}`);
      }
    });
  }
  if (refused.length > 0) {
    const undone = await cancelPartitions(admin, started);
    await removeFinishedThrottles(admin);
    const left = undone.filter((u) => u.error !== undefined);
    throw new TributaryError(
      refusedCode ?? 'INVALID_REPLICA_ASSIGNMENT',
      `the controller refused ${refused.length} partition${refused.length > 1 ? 's' : ''} of ${source} (${refused.join('; ')}); ` +
        (left.length === 0
          ? `the ${started.length} it had started ${started.length === 1 ? 'was' : 'were'} cancelled, nothing changed`
          : `cancelling the ones it had started failed for ${left.map((u) => `${u.topic}-${u.partition} (${u.error})`).join(', ')}: see 'tributary reassign status'`),
    );
  }
  return execution;
}

/** Cancels the given partitions' reassignments; per partition, the refusal if any. */
export async function cancelPartitions(
  admin: Admin,
  partitions: readonly { topic: string; partition: number }[],
): Promise<{ topic: string; partition: number; error?: string }[]> {
  const out: { topic: string; partition: number; error?: string }[] = [];
  for (const chunk of planChunks(partitions.map((p) => ({ topic: p.topic, partition: p.partition, replicas: null })))) {
    for (const r of await admin.alterPartitionReassignments(chunk)) {
      out.push(
        r.error === undefined
          ? { topic: r.topic, partition: r.partition }
          : { topic: r.topic, partition: r.partition, error: `${r.error.code}: ${r.error.message}` },
      );
    }
  }
  return out;
}

/**
 * Kafka's `--verify` clean-up: deletes the throttled-replica lists of every topic no longer being
 * reassigned and the rates of the brokers only those lists named (reassign-throttle.ts). Returns
 * what it removed.
 */
export async function removeFinishedThrottles(admin: Admin): Promise<{ topics: string[]; brokers: number[] }> {
  const [topics, reassigning, cluster] = await Promise.all([admin.describeTopics(), admin.listPartitionReassignments(), admin.describeCluster()]);
  const cleanup = throttleCleanup(throttleTopics(topics), reassigning);
  // A broker that has left the cluster has no configs to remove.
  const registered = new Set(cluster.brokers.map((b) => b.id));
  const brokers = cleanup.brokers.filter((b) => registered.has(b));
  // Rates first: a rate left while no topic names throttled replicas covers all of that broker's
  // replication (throttle.ts), so removing the lists first would throttle everything for a moment.
  for (const broker of brokers) await admin.alterConfigs({ broker }, { delete: [LEADER_RATE, FOLLOWER_RATE] });
  for (const topic of cleanup.topics) await admin.alterConfigs({ topic }, { delete: [LEADER_LIST, FOLLOWER_LIST] });
  return { topics: cleanup.topics, brokers };
}

/** One sample of every reassignment in progress (of `topics`, or all), for reassign-progress.ts. */
export async function sampleProgress(admin: Admin, nowMs: () => number, topics?: readonly string[]): Promise<ProgressSample> {
  const reassigning = await admin.listPartitionReassignments(topics);
  const timeMs = nowMs();
  const names = [...new Set(reassigning.map((r) => r.topic))];
  const views = new Map<string, VerboseTopicDescription | Error>();
  await Promise.all(
    names.map(async (name) => {
      try {
        views.set(name, await admin.describeTopicVerbose(name, { leaderTimeoutMs: LEADER_TIMEOUT_MS }));
      } catch (err) {
        views.set(name, err as Error);
      }
    }),
  );
  const partitions = reassigning.map((r): ProgressPartition => {
    const view = views.get(r.topic);
    const base = { topic: r.topic, partition: r.partition, replicas: r.replicas, addingReplicas: r.addingReplicas, removingReplicas: r.removingReplicas };
    if (view === undefined || view instanceof Error) return { ...base, leader: -1, error: view?.message ?? 'not described' };
    const p = view.partitions.find((x) => x.partition === r.partition);
    if (p === undefined) return { ...base, leader: -1, error: `${r.topic}-${r.partition} is not in the metadata yet` };
    if (p.logEndOffset === undefined || p.replicaStates === undefined)
      return { ...base, leader: p.leader, error: p.error ?? `leader B${p.leader} did not say` };
    return {
      ...base,
      leader: p.leader,
      logStartOffset: p.logStartOffset!,
      logEndOffset: p.logEndOffset,
      logSizeBytes: p.logSizeBytes ?? 0,
      replicaEnds: p.replicaStates.map((s) => ({ brokerId: s.brokerId, logEndOffset: s.logEndOffset })),
    };
  });
  return { timeMs, partitions };
}
