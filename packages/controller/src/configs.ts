// Config decisions (Kafka's DescribeConfigs and IncrementalAlterConfigs with SET and DELETE) for
// the two kinds of resource: a topic's configs, validated exactly as at creation
// (resolveTopicConfigs) and applied live by the brokers that hold the topic, and a broker's
// dynamic configs (the replication quotas), validated as set-broker-config validates them. A
// change writes the resource's complete config set as one record (TopicConfig / BrokerConfig); a
// request with any bad entry is refused whole and writes nothing.

import {
  BROKER_DYNAMIC_CONFIG_SPECS,
  DEFAULT_TOPIC_CONFIGS,
  TOPIC_CONFIG_SPECS,
  TributaryError,
  resolveTopicConfigs,
  type AlterConfigsRequest,
  type ConfigEntry,
  type ConfigResource,
  type ConfigValue,
  type DescribeConfigsResponse,
  type TopicConfigInput,
  type TopicConfigs,
  type TopicState,
} from '@tributary/protocol';
import type { Decision } from './broker-registry.ts';
import type { ClusterState } from './cluster-state.ts';

function topicOf(state: ClusterState, name: string): TopicState {
  const topic = state.topics.get(name);
  if (topic === undefined) throw new TributaryError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${name}' does not exist`);
  return topic;
}

function brokerConfigsOf(state: ClusterState, id: number): Record<string, number> {
  const broker = state.brokers.get(id);
  if (broker === undefined) throw new TributaryError('INVALID_REQUEST', `broker ${id} is not registered`);
  return broker.configs;
}

function topicEntries(configs: TopicConfigs): ConfigEntry[] {
  return Object.keys(TOPIC_CONFIG_SPECS)
    .sort()
    .map((name) => {
      const key = name as keyof TopicConfigs;
      const value = configs[key] ?? DEFAULT_TOPIC_CONFIGS[key];
      return { name, value, isDefault: value === DEFAULT_TOPIC_CONFIGS[key], doc: TOPIC_CONFIG_SPECS[key].doc };
    });
}

function brokerEntries(configs: Record<string, number>): ConfigEntry[] {
  return Object.keys(BROKER_DYNAMIC_CONFIG_SPECS)
    .sort()
    .map((name) => {
      const value = configs[name];
      return { name, value: value ?? null, isDefault: value === undefined, doc: BROKER_DYNAMIC_CONFIG_SPECS[name]!.doc };
    });
}

export function describeConfigs(state: ClusterState, resource: ConfigResource): DescribeConfigsResponse {
  if ('topic' in resource) return { resource: { topic: resource.topic }, configs: topicEntries(topicOf(state, resource.topic).configs) };
  return { resource: { broker: resource.broker }, configs: brokerEntries(brokerConfigsOf(state, resource.broker)) };
}

/**
 * A broker dynamic config's value: an integer >= 1 (bytes/s), as a number or a decimal string;
 * -1 removes the setting (set-broker-config's convention). Anything else is INVALID_CONFIG.
 */
export function brokerConfigValue(name: string, raw: unknown): number | undefined {
  if (!Object.hasOwn(BROKER_DYNAMIC_CONFIG_SPECS, name)) {
    throw new TributaryError('INVALID_CONFIG', `unknown broker config '${name}'; known: ${Object.keys(BROKER_DYNAMIC_CONFIG_SPECS).join(', ')}`);
  }
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (n === -1) return undefined;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new TributaryError('INVALID_CONFIG', `broker config '${name}' must be an integer >= 1 (bytes/s), or -1 to remove it; got ${JSON.stringify(raw)}`);
  }
  return n;
}

function checkDeletes(names: readonly string[], set: Record<string, ConfigValue>, known: readonly string[], kind: string): void {
  for (const name of names) {
    if (!known.includes(name)) throw new TributaryError('INVALID_CONFIG', `unknown ${kind} config '${name}'; known: ${known.join(', ')}`);
    if (Object.hasOwn(set, name)) throw new TributaryError('INVALID_REQUEST', `config '${name}' is both set and deleted`);
  }
}

/** Admin alter-configs: all entries checked first, then one record with the complete new set. */
export function alterConfigs(state: ClusterState, request: AlterConfigsRequest): Decision<DescribeConfigsResponse> {
  const set = request.set ?? {};
  const deletes = request.delete ?? [];
  const { resource } = request;
  if ('topic' in resource) {
    const topic = topicOf(state, resource.topic);
    checkDeletes(deletes, set, Object.keys(TOPIC_CONFIG_SPECS), 'topic');
    const input: TopicConfigInput = { ...topic.configs, ...set };
    for (const name of deletes) delete input[name];
    // Exactly the creation-time validation: unknown names and bad values are INVALID_CONFIG.
    const configs = resolveTopicConfigs(input);
    return {
      records: [{ type: 'TopicConfig', topic: topic.name, topicId: topic.topicId, configs }],
      reply: { resource: { topic: topic.name }, configs: topicEntries(configs) },
    };
  }
  const configs = { ...brokerConfigsOf(state, resource.broker) };
  checkDeletes(deletes, set, Object.keys(BROKER_DYNAMIC_CONFIG_SPECS), 'broker');
  for (const [name, raw] of Object.entries(set)) {
    const value = brokerConfigValue(name, raw);
    if (value === undefined) delete configs[name];
    else configs[name] = value;
  }
  for (const name of deletes) delete configs[name];
  return {
    records: [{ type: 'BrokerConfig', brokerId: resource.broker, configs }],
    reply: { resource: { broker: resource.broker }, configs: brokerEntries(configs) },
  };
}
