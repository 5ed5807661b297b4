// Partition reassignment (KIP-455): changing a partition's replica list while it serves traffic.
// A pure state machine over ClusterState, beside election.ts; every step is one PartitionChange
// record carrying the full replica list, so a controller that restarts between steps replays into
// the step it was at and goes on from there.
//
//   start     replicas = target followed by the original replicas not in it,
//             adding = target − original (they follow the leader from outside the ISR),
//             removing = original − target. Leader and ISR unchanged.
//   copying   the leader proposes an adding replica for the ISR by the usual catch-up rule
//             (AlterPartition, KIP-497), with the broker epoch it fetched under (KIP-903).
//   complete  once every target replica is in the ISR: replicas = target, ISR = ISR ∩ target
//             (= the target, so never below min.insync.replicas), adding / removing cleared, and
//             the leader moves to the first eligible target replica in the ISR if it is leaving.
//             One record. Brokers delete the logs of replicas no longer assigned to them.
//   cancel    back to the original replica list, in its original order (the state remembers it
//             from the start record; Kafka's PartitionReassignmentRevert keeps the merged order,
//             which would hand the preferred leadership to another replica), ISR − adding;
//             refused when no original replica is in sync, or when it would shrink the ISR
//             below min.insync.replicas.
//
// Completion is attempted after an ISR expansion commits (isr.ts, in the same decision), and over
// every reassigning partition on broker changes, at controller start and on its timer
// (completeReassignments), so a crash between the ISR change and completion resumes.
//
// Kafka waits only for the adding replicas to join; waiting for the whole target keeps the ISR
// after completion as large as the target, so a reassignment never shrinks it below min ISR by
// itself. Unlike Kafka, a partition already being reassigned is refused (REASSIGNMENT_IN_PROGRESS)
// rather than redirected: cancel it first.

import {
  NO_LEADER,
  TributaryError,
  type AlterPartitionReassignmentsRequest,
  type AlterPartitionReassignmentsResponse,
  type BrokerId,
  type OngoingReassignment,
  type PartitionState,
  type TopicState,
} from '@tributary/protocol';
import { Draft, type ClusterState } from './cluster-state.ts';
import type { Decision } from './broker-registry.ts';
import { firstEligibleInIsr, partitionChange } from './election.ts';
import type { MetadataRecord, PartitionChangeRecord } from './records.ts';

/** Kafka's PartitionReassignmentReplicas: the merged list and what it adds and removes. */
export function reassignmentReplicas(
  current: readonly BrokerId[],
  target: readonly BrokerId[],
): { replicas: BrokerId[]; adding: BrokerId[]; removing: BrokerId[] } {
  const removing = current.filter((r) => !target.includes(r));
  const adding = target.filter((r) => !current.includes(r));
  return { replicas: [...target, ...removing], adding, removing };
}

export function isReassigning(p: PartitionState): boolean {
  return p.addingReplicas.length > 0 || p.removingReplicas.length > 0;
}

/** The replicas before the reassignment: replicas − adding. */
export function originalReplicas(p: PartitionState): BrokerId[] {
  return p.replicas.filter((r) => !p.addingReplicas.includes(r));
}

/** The replicas after it: replicas − removing, in target order. */
export function targetReplicas(p: PartitionState): BrokerId[] {
  return p.replicas.filter((r) => !p.removingReplicas.includes(r));
}

/** min.insync.replicas capped at the replication factor (Kafka >= 3.7, as the brokers apply it). */
function effectiveMinIsr(topic: TopicState, replicationFactor: number): number {
  return Math.max(1, Math.min(topic.configs['min.insync.replicas'], replicationFactor));
}

function locate(state: ClusterState, topicName: string, partition: number): { topic: TopicState; p: PartitionState } {
  const topic = state.topics.get(topicName);
  const p = topic?.partitions[partition];
  if (topic === undefined || p === undefined) {
    throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `${topicName}-${partition} does not exist`);
  }
  return { topic, p };
}

/** The checks of a target list (Kafka's validateManualPartitionAssignment, plus the broker count). */
function checkTarget(state: ClusterState, where: string, target: readonly BrokerId[]): void {
  if (target.length === 0) {
    throw new TributaryError('INVALID_REPLICA_ASSIGNMENT', `the target replica list of ${where} is empty; a partition needs at least one replica`);
  }
  if (target.length > state.brokers.size) {
    throw new TributaryError(
      'INVALID_REPLICATION_FACTOR',
      `the target of ${where} has ${target.length} replicas, more than the ${state.brokers.size} registered brokers`,
    );
  }
  const seen = new Set<BrokerId>();
  for (const id of target) {
    if (seen.has(id)) throw new TributaryError('INVALID_REPLICA_ASSIGNMENT', `the target ${JSON.stringify(target)} of ${where} names broker ${id} twice`);
    seen.add(id);
  }
  const unknown = target.filter((id) => !state.brokers.has(id));
  if (unknown.length > 0) {
    const known = [...state.brokers.keys()].sort((a, b) => a - b);
    throw new TributaryError(
      'INVALID_REPLICA_ASSIGNMENT',
      `the target ${JSON.stringify(target)} of ${where} names broker${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}, not registered (registered: ${known.join(', ')})`,
    );
  }
}

/**
 * Starts a reassignment of one partition, and completes it at once when the target is already
 * in sync (a reordering, or only removals). Throws, having pushed nothing, on a bad target.
 */
export function startReassignment(draft: Draft, topicName: string, partition: number, target: readonly BrokerId[]): void {
  const { topic, p } = locate(draft.state, topicName, partition);
  const where = `${topicName}-${partition}`;
  checkTarget(draft.state, where, target);
  if (isReassigning(p)) {
    throw new TributaryError(
      'REASSIGNMENT_IN_PROGRESS',
      `${where} is already being reassigned to ${JSON.stringify(targetReplicas(p))} (adding ${JSON.stringify(p.addingReplicas)}, removing ${JSON.stringify(p.removingReplicas)}); cancel it first`,
    );
  }
  if (target.length === p.replicas.length && target.every((r, i) => p.replicas[i] === r)) return;
  const { replicas, adding, removing } = reassignmentReplicas(p.replicas, target);
  draft.push(partitionChange(topic, p, p.leader, [...p.isr], { replicas, addingReplicas: adding, removingReplicas: removing }));
  maybeCompleteReassignment(draft, topicName, partition);
}

/**
 * The record that completes the reassignment of `p`, or undefined while it must wait: until
 * every target replica is in the ISR and, when the leader is leaving (or the partition is
 * offline), a target replica in the ISR can lead. `p` may be a state not applied yet (the
 * AlterPartition that just changed the ISR); nothing is cloned, so the timer can ask often.
 */
export function completionRecord(state: ClusterState, topic: TopicState, p: PartitionState): PartitionChangeRecord | undefined {
  if (!isReassigning(p)) return undefined;
  const target = targetReplicas(p);
  if (!target.every((r) => p.isr.includes(r))) return undefined;
  const isr = p.isr.filter((r) => target.includes(r));
  let leader = p.leader;
  if (!target.includes(leader)) {
    leader = firstEligibleInIsr(state, target, isr);
    if (leader === NO_LEADER) return undefined;
  }
  return partitionChange(topic, p, leader, isr, { replicas: target, addingReplicas: [], removingReplicas: [] });
}

/** Pushes the completing record of one partition's reassignment if it can complete now. */
export function maybeCompleteReassignment(draft: Draft, topicName: string, partition: number): boolean {
  const topic = draft.state.topics.get(topicName);
  const p = topic?.partitions[partition];
  if (topic === undefined || p === undefined) return false;
  const record = completionRecord(draft.state, topic, p);
  if (record !== undefined) draft.push(record);
  return record !== undefined;
}

/** Cancels the reassignment of one partition: back to the original replicas. */
export function cancelReassignment(draft: Draft, topicName: string, partition: number): void {
  const { topic, p } = locate(draft.state, topicName, partition);
  const where = `${topicName}-${partition}`;
  if (!isReassigning(p)) {
    throw new TributaryError('NO_REASSIGNMENT_IN_PROGRESS', `${where} is not being reassigned; nothing to cancel`);
  }
  // The list as it was before the start, order included; the merged list minus the adding
  // replicas holds the same brokers, and serves should the two ever disagree.
  const merged = originalReplicas(p);
  const remembered = draft.state.reassignment(topicName, partition)?.originalReplicas;
  const original = remembered !== undefined && remembered.length === merged.length && remembered.every((r) => merged.includes(r)) ? [...remembered] : merged;
  const isr = p.isr.filter((r) => !p.addingReplicas.includes(r));
  if (isr.length === 0) {
    throw new TributaryError(
      'INVALID_REPLICA_ASSIGNMENT',
      `cannot cancel the reassignment of ${where}: none of its original replicas ${JSON.stringify(original)} is in the ISR ${JSON.stringify(p.isr)}, so going back would lose committed records; let it complete, or wait until an original replica catches up`,
    );
  }
  const minIsr = effectiveMinIsr(topic, original.length);
  if (isr.length < p.isr.length && isr.length < minIsr) {
    throw new TributaryError(
      'INVALID_REPLICA_ASSIGNMENT',
      `cannot cancel the reassignment of ${where} now: the ISR would shrink from ${JSON.stringify(p.isr)} to ${JSON.stringify(isr)}, below min.insync.replicas ${minIsr}, and acks=all writes would stop; wait until more original replicas are in sync`,
    );
  }
  let leader = p.leader;
  if (leader !== NO_LEADER && !original.includes(leader)) {
    leader = firstEligibleInIsr(draft.state, original, isr);
    if (leader === NO_LEADER) {
      throw new TributaryError(
        'INVALID_REPLICA_ASSIGNMENT',
        `cannot cancel the reassignment of ${where}: its leader ${p.leader} is being added and no original replica in the ISR ${JSON.stringify(isr)} is alive to take over`,
      );
    }
  }
  draft.push(partitionChange(topic, p, leader, isr, { replicas: original, addingReplicas: [], removingReplicas: [] }));
}

/**
 * Admin alter-partition-reassignments: each partition started (a target list) or cancelled
 * (null) on its own, as Kafka does; a refused one changes nothing and carries its error. The same
 * partition twice in one request is refused whole (INVALID_REQUEST): which should win is unclear.
 */
export function alterPartitionReassignments(state: ClusterState, request: AlterPartitionReassignmentsRequest): Decision<AlterPartitionReassignmentsResponse> {
  const seen = new Set<string>();
  for (const { topic, partition } of request.partitions) {
    const key = `${topic}-${partition}`;
    if (seen.has(key)) throw new TributaryError('INVALID_REQUEST', `${key} appears twice in one reassignment request`);
    seen.add(key);
  }
  const draft = new Draft(state);
  const partitions: AlterPartitionReassignmentsResponse['partitions'] = [];
  for (const entry of request.partitions) {
    const result: AlterPartitionReassignmentsResponse['partitions'][number] = { topic: entry.topic, partition: entry.partition };
    try {
      if (entry.replicas === null) cancelReassignment(draft, entry.topic, entry.partition);
      else startReassignment(draft, entry.topic, entry.partition, entry.replicas);
    } catch (err) {
      if (!(err instanceof TributaryError)) throw err;
      result.error = err.toWire();
    }
    partitions.push(result);
  }
  return { records: draft.records, reply: { partitions } };
}

/**
 * Completes every reassignment that can complete: at controller start (a crash between the ISR
 * change and the completion), after broker changes (a target replica that can lead came back),
 * and on the controller's timer.
 */
export function completeReassignments(state: ClusterState): MetadataRecord[] {
  const records: MetadataRecord[] = [];
  // Partitions are independent here: each completion reads only its own partition and the brokers.
  for (const { topic, partition } of state.reassigning.values()) {
    const t = state.topics.get(topic);
    const p = t?.partitions[partition];
    const record = t && p ? completionRecord(state, t, p) : undefined;
    if (record !== undefined) records.push(record);
  }
  return records;
}

/** Admin list-partition-reassignments: the reassignments in progress, of `topics` or of all. */
export function listPartitionReassignments(state: ClusterState, topics?: readonly string[]): OngoingReassignment[] {
  const wanted = topics === undefined ? undefined : new Set(topics);
  const out: OngoingReassignment[] = [];
  for (const { topic, partition } of state.reassigning.values()) {
    if (wanted !== undefined && !wanted.has(topic)) continue;
    const p = state.partition(topic, partition)!;
    out.push({ topic, partition, replicas: [...p.replicas], addingReplicas: [...p.addingReplicas], removingReplicas: [...p.removingReplicas] });
  }
  return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}
