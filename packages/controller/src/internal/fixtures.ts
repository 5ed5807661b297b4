// Test fixtures: states built by applying records, the way the controller builds them.

import type { BrokerId, CreateTopicRequest, RegisterBrokerRequest } from '@tributary/protocol';
import { registerBroker } from '../broker-registry.ts';
import { ClusterState } from '../cluster-state.ts';
import type { MetadataRecord } from '../records.ts';
import { assignReplicas } from '../placement.ts';
import { createTopic } from '../topics.ts';

/** The seed's cluster: rack-1 = {0,1,2}, rack-2 = {3,4,5}. */
export const SEED_BROKERS: readonly [BrokerId, string][] = [
  [0, 'rack-1'],
  [1, 'rack-1'],
  [2, 'rack-1'],
  [3, 'rack-2'],
  [4, 'rack-2'],
  [5, 'rack-2'],
];

export function registration(id: BrokerId, rack: string, incarnationId = `inc-${id}`, logDirId = `dir-${id}`): RegisterBrokerRequest {
  return {
    brokerId: id,
    rack,
    incarnationId,
    internal: { host: `broker-${id}`, port: 9092 },
    external: { host: '127.0.0.1', port: 19092 + id },
    logDirId,
    clusterId: '',
  };
}

export function apply(state: ClusterState, records: readonly MetadataRecord[]): ClusterState {
  for (const record of records) state.apply(record);
  return state;
}

export function clusterOf(brokers: readonly [BrokerId, string][] = SEED_BROKERS, nowMs = 0): ClusterState {
  const state = new ClusterState();
  state.apply({ type: 'ClusterId', clusterId: 'test-cluster' });
  for (const [id, rack] of brokers) {
    apply(state, registerBroker(state, registration(id, rack)).records);
    state.touch(id, nowMs);
  }
  return state;
}

/**
 * Creates a topic through the createTopic decision. With `placement: 'seed'` (the default) its
 * replicas are then laid out as the seed's table whatever its name (placement.ts gives that
 * layout to `demo` only), so tests of elections and ISRs can name the replicas they expect;
 * `'topic'` keeps the placement createTopic chose.
 */
export function withTopic(
  state: ClusterState,
  request: Partial<CreateTopicRequest> & { name: string },
  topicId = `id-${request.name}`,
  placement: 'seed' | 'topic' = 'seed',
): ClusterState {
  const full: CreateTopicRequest = { partitions: 1, replicationFactor: 3, ...request };
  const records = createTopic(state, full, topicId).records;
  if (placement === 'seed') {
    const live = state.liveBrokers().filter((b) => state.isEligible(b.id));
    const seed = assignReplicas(live, full.partitions, full.replicationFactor);
    for (const p of records[0].partitions) {
      const replicas = seed[p.partition]!;
      Object.assign(p, { replicas: [...replicas], isr: [...replicas], leader: replicas[0]! });
    }
  }
  return apply(state, records);
}

/** Runs `fn` and returns the TributaryError code it threw (or 'no error'). */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code ?? `not a TributaryError: ${String(err)}`;
  }
  return 'no error';
}
