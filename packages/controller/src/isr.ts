// AlterPartition (KIP-497, DESIGN.md § ISR): only the partition's leader may change its ISR, and
// only from the state it last saw. The controller checks, in order:
//   1. the broker epoch is current                         else STALE_BROKER_EPOCH
//   2. the partition exists                                else UNKNOWN_TOPIC_OR_PARTITION
//   3. the sender leads it, at the current leader epoch    else FENCED_LEADER_EPOCH
//   4. the partition epoch is the current one              else FENCED_LEADER_EPOCH (Kafka
//      answers INVALID_UPDATE_VERSION; the leader's remedy, fetching metadata, is the same)
//   5. the new ISR holds the leader, only replicas, no duplicates     else INVALID_REQUEST
//   6. every broker it adds is alive, not shutting down (KIP-841), and fetched under its current
//      broker epoch (KIP-903: a broker that registered again since, maybe without its data, must
//      catch up anew)                                      else INELIGIBLE_REPLICA
// then persists the change with partitionEpoch + 1. A proposal equal to the current ISR changes
// nothing and is answered with the current state. During a reassignment (KIP-455) an expansion
// that brings the last target replica into the ISR completes it in the same decision
// (reassignment.ts): the answer is then the partition as completed.
//
// Batched (alterPartitions): one request carries the proposals of many partitions of one
// leader, as Kafka's AlterPartition does. The broker epoch is checked once (a stale one refuses
// the whole request); each partition is then decided on its own, a refusal being that
// partition's answer; the accepted changes are one decision, so the controller appends them as
// one batch — one fsync of the metadata log for the request, not one per partition.

import {
  TributaryError,
  type AlterPartitionBatchRequest,
  type AlterPartitionBatchResponse,
  type AlterPartitionRequest,
  type PartitionState,
} from '@tributary/protocol';
import type { MetadataRecord } from './records.ts';
import { clonePartition, type ClusterState } from './cluster-state.ts';
import { checkBrokerEpoch, type Decision } from './broker-registry.ts';
import { partitionChange } from './election.ts';
import { completionRecord } from './reassignment.ts';

export function alterPartition(state: ClusterState, request: AlterPartitionRequest): Decision<PartitionState> {
  checkBrokerEpoch(state, request.brokerId, request.brokerEpoch);
  const topic = state.topics.get(request.topic);
  const partition = topic?.partitions[request.partition];
  if (topic === undefined || partition === undefined) {
    throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `${request.topic}-${request.partition} does not exist`);
  }
  const where = `${request.topic}-${request.partition}`;
  if (partition.leader !== request.brokerId) {
    throw new TributaryError(
      'FENCED_LEADER_EPOCH',
      `broker ${request.brokerId} is not the leader of ${where} (leader ${partition.leader}, epoch ${partition.leaderEpoch})`,
    );
  }
  if (request.leaderEpoch !== partition.leaderEpoch) {
    throw new TributaryError('FENCED_LEADER_EPOCH', `leader epoch ${request.leaderEpoch} of ${where} is not the current ${partition.leaderEpoch}`);
  }
  if (request.partitionEpoch !== partition.partitionEpoch) {
    throw new TributaryError(
      'FENCED_LEADER_EPOCH',
      `partition epoch ${request.partitionEpoch} of ${where} is not the current ${partition.partitionEpoch}; fetch metadata and retry`,
    );
  }
  const newIsr = request.newIsr;
  if (!newIsr.includes(partition.leader)) {
    throw new TributaryError('INVALID_REQUEST', `new ISR ${JSON.stringify(newIsr)} of ${where} leaves out the leader ${partition.leader}`);
  }
  if (new Set(newIsr).size !== newIsr.length) {
    throw new TributaryError('INVALID_REQUEST', `new ISR ${JSON.stringify(newIsr)} of ${where} repeats a broker`);
  }
  for (const id of newIsr) {
    if (!partition.replicas.includes(id)) {
      throw new TributaryError('INVALID_REQUEST', `broker ${id} in the new ISR of ${where} is not a replica (${JSON.stringify(partition.replicas)})`);
    }
    if (partition.isr.includes(id)) continue;
    if (!state.isEligible(id)) {
      throw new TributaryError('INELIGIBLE_REPLICA', `broker ${id} cannot join the ISR of ${where}: it is fenced or shutting down`);
    }
    const fetchedUnder = request.joiningEpochs?.find((m) => m.brokerId === id)?.brokerEpoch;
    const current = state.brokers.get(id)!.epoch;
    if (fetchedUnder !== current) {
      throw new TributaryError(
        'INELIGIBLE_REPLICA',
        `broker ${id} cannot join the ISR of ${where}: ${fetchedUnder === undefined ? 'the proposal carries no broker epoch for it' : `it fetched under broker epoch ${fetchedUnder}`}, its registration is at epoch ${current}`,
      );
    }
  }
  if (newIsr.length === partition.isr.length && newIsr.every((id) => partition.isr.includes(id))) {
    return { records: [], reply: clonePartition(partition) };
  }
  const record = partitionChange(topic, partition, partition.leader, [...newIsr]);
  const changed: PartitionState = { ...clonePartition(partition), isr: [...record.isr], partitionEpoch: record.partitionEpoch };
  // The expansion that brings the last target replica in completes a reassignment at once.
  const completion = completionRecord(state, topic, changed);
  if (completion === undefined) return { records: [record], reply: changed };
  const completed: PartitionState = {
    ...changed,
    leader: completion.leader,
    leaderEpoch: completion.leaderEpoch,
    partitionEpoch: completion.partitionEpoch,
    isr: [...completion.isr],
    replicas: [...completion.replicas!],
    addingReplicas: [],
    removingReplicas: [],
  };
  return { records: [record, completion], reply: completed };
}

export interface BatchDecision {
  records: MetadataRecord[];
  reply: AlterPartitionBatchResponse;
}

/**
 * AlterPartition for many partitions of one leader: checks the broker epoch once, then decides
 * each partition with alterPartition against the same state (each touches only its own
 * partition, so the decisions are independent). A partition named twice is refused the second
 * time (INVALID_REQUEST): its first proposal stands.
 */
export function alterPartitions(state: ClusterState, request: AlterPartitionBatchRequest): BatchDecision {
  checkBrokerEpoch(state, request.brokerId, request.brokerEpoch);
  const records: MetadataRecord[] = [];
  const seen = new Set<string>();
  const partitions: AlterPartitionBatchResponse['partitions'] = request.partitions.map((item) => {
    const answer = { topic: item.topic, partition: item.partition };
    const key = `${item.topic}\u0000${item.partition}`;
    if (seen.has(key)) {
      return { ...answer, error: new TributaryError('INVALID_REQUEST', `${item.topic}-${item.partition} is named twice in one AlterPartition`).toWire() };
    }
    seen.add(key);
    try {
      const decision = alterPartition(state, { ...item, brokerId: request.brokerId, brokerEpoch: request.brokerEpoch });
      records.push(...decision.records);
      return { ...answer, state: decision.reply };
    } catch (err) {
      if (!(err instanceof TributaryError)) throw err;
      return { ...answer, error: err.toWire() };
    }
  });
  return { records, reply: { partitions } };
}
