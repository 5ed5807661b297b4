// Topic decisions: create (name, partition count, replication factor and configs checked in
// that order, as Kafka does), delete, and add partitions. New partitions start at leader epoch 0
// and partition epoch 0, with the first replica leading and every replica in the ISR.

import {
  TributaryError,
  resolveTopicConfigs,
  validateTopicName,
  type CreatePartitionsRequest,
  type CreatePartitionsResponse,
  type CreateTopicRequest,
  type PartitionState,
  type TopicState,
} from '@tributary/protocol';
import type { ClusterState } from './cluster-state.ts';
import { assignTopicReplicas } from './placement.ts';
import type { CreatePartitionsRecord, CreateTopicRecord, DeleteTopicRecord } from './records.ts';
import { targetReplicas } from './reassignment.ts';

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
  const assignments = assignTopicReplicas(name, live, count, request.replicationFactor);
  const configs = resolveTopicConfigs(request.configs);
  const partitions = assignments.map((replicas, partition) => newPartition(name, partition, replicas));
  const record: CreateTopicRecord = { type: 'CreateTopic', name, topicId, configs, partitions };
  return { records: [record], reply: { topic: { name, topicId, configs, partitions } } };
}

function newPartition(topic: string, partition: number, replicas: number[]): PartitionState {
  return { topic, partition, replicas, addingReplicas: [], removingReplicas: [], leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0, isr: [...replicas] };
}

/**
 * Kafka's CreatePartitions: grows a topic to `totalCount` partitions. The new ones are placed by
 * the rack-aware rule over the live brokers (placement.ts: the seed's layout for `demo`, Kafka's
 * with the topic's start and shift for others), numbered on from the existing ones as if the
 * topic had been created that large, with the
 * replication factor of partition 0's target replicas. Fewer or as many as now: INVALID_PARTITIONS
 * (partitions are never removed: keys would map elsewhere and data be lost).
 */
export function createPartitions(
  state: ClusterState,
  request: CreatePartitionsRequest,
): { records: [CreatePartitionsRecord]; reply: CreatePartitionsResponse } {
  const topic = state.topics.get(request.topic);
  if (topic === undefined) {
    throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${request.topic}' does not exist`);
  }
  const current = topic.partitions.length;
  const total = request.totalCount;
  if (!Number.isSafeInteger(total) || total < 1 || total > PARTITIONS_MAX) {
    throw new TributaryError('INVALID_PARTITIONS', `partition count must be an integer between 1 and ${PARTITIONS_MAX}, got ${JSON.stringify(total)}`);
  }
  if (total < current) {
    throw new TributaryError('INVALID_PARTITIONS', `topic '${topic.name}' has ${current} partitions; the count can only grow (asked for ${total})`);
  }
  if (total === current) {
    throw new TributaryError('INVALID_PARTITIONS', `topic '${topic.name}' already has ${current} partitions`);
  }
  const replicationFactor = targetReplicas(topic.partitions[0]!).length;
  const live = state.liveBrokers().filter((b) => state.isEligible(b.id));
  const assignments = assignTopicReplicas(topic.name, live, total - current, replicationFactor, current);
  const partitions = assignments.map((replicas, i) => newPartition(topic.name, current + i, replicas));
  return { records: [{ type: 'CreatePartitions', topic: topic.name, topicId: topic.topicId, partitions }], reply: { partitions } };
}

export function deleteTopic(state: ClusterState, name: string): [DeleteTopicRecord] {
  const topic = state.topics.get(name);
  if (topic === undefined) {
    throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${name}' does not exist`);
  }
  return [{ type: 'DeleteTopic', name, topicId: topic.topicId }];
}
