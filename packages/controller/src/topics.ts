// Topic decisions: create (name, partition count, replication factor and configs checked in
// that order, as Kafka does) and delete. New partitions start at leader epoch 0 and partition
// epoch 0, with the first replica leading and every replica in the ISR.

import {
  TributaryError,
  resolveTopicConfigs,
  validateTopicName,
  type CreateTopicRequest,
  type PartitionState,
  type TopicState,
} from '@tributary/protocol';
import type { ClusterState } from './cluster-state.ts';
import { assignReplicas } from './placement.ts';
import type { CreateTopicRecord, DeleteTopicRecord } from './records.ts';

export const PARTITIONS_MAX = 10_000;

export function createTopic(state: ClusterState, request: CreateTopicRequest, topicId: string): { records: [CreateTopicRecord]; reply: { topic: TopicState } } {
  const name = validateTopicName(request.name);
  if (state.topics.has(name)) {
    throw new TributaryError('TOPIC_ALREADY_EXISTS', `topic '${name}' already exists`);
  }
  const count = request.partitions;
  if (!Number.isSafeInteger(count) || count < 1 || count > PARTITIONS_MAX) {
    throw new TributaryError('INVALID_PARTITIONS', `partitions must be an integer between 1 and ${PARTITIONS_MAX}, got ${JSON.stringify(count)}`);
  }
  const live = state.liveBrokers().filter((b) => state.isEligible(b.id));
  const assignments = assignReplicas(live, count, request.replicationFactor);
  const configs = resolveTopicConfigs(request.configs);
  const partitions: PartitionState[] = assignments.map((replicas, partition) => ({
    topic: name,
    partition,
    replicas,
    leader: replicas[0]!,
    leaderEpoch: 0,
    partitionEpoch: 0,
    isr: [...replicas],
  }));
  const record: CreateTopicRecord = { type: 'CreateTopic', name, topicId, configs, partitions };
  return { records: [record], reply: { topic: { name, topicId, configs, partitions } } };
}

export function deleteTopic(state: ClusterState, name: string): [DeleteTopicRecord] {
  const topic = state.topics.get(name);
  if (topic === undefined) {
    throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${name}' does not exist`);
  }
  return [{ type: 'DeleteTopic', name, topicId: topic.topicId }];
}
