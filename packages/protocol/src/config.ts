// Topic configs (Kafka's names) and cluster-wide defaults. One schema validates create-topic
// requests on the controller, CLI `--config k=v` input, and what brokers read from metadata.

import { TributaryError } from './errors.ts';

export interface TopicConfigs {
  'min.insync.replicas': number;
  'retention.ms': number;
  'retention.bytes': number;
  'segment.bytes': number;
  'segment.ms': number;
  'unclean.leader.election.enable': boolean;
  'max.message.bytes': number;
  'index.interval.bytes': number;
  'flush.messages': number;
  'flush.ms': number;
  /**
   * Kafka's throttled-replica lists (KIP-73): `partition:broker` pairs separated by commas, `*`
   * for every replica of the topic, '' for none. Set by whoever starts a throttled
   * reassignment; the brokers' replication rates apply to the replicas listed here.
   */
  'leader.replication.throttled.replicas': string;
  'follower.replication.throttled.replicas': string;
  /**
   * Kafka's cleanup.policy: `delete` (retention removes old segments), `compact` (the cleaner
   * keeps the latest record per key; retention does not delete), or both (`compact,delete`).
   */
  'cleanup.policy': string;
}

type ConfigSpec =
  | { type: 'int'; default: number; min: number; max?: number; doc: string }
  | { type: 'bool'; default: boolean; doc: string }
  | { type: 'replica-list'; default: string; doc: string }
  | { type: 'cleanup-policy'; default: string; doc: string };

const NEVER = Number.MAX_SAFE_INTEGER;

export const TOPIC_CONFIG_SPECS: { readonly [K in keyof TopicConfigs]: ConfigSpec } = {
  'min.insync.replicas': { type: 'int', default: 2, min: 1, doc: 'replicas that must hold a record before acks=all succeeds' },
  'retention.ms': { type: 'int', default: 7 * 24 * 3600 * 1000, min: -1, doc: 'age after which whole segments are deleted (-1: forever)' },
  'retention.bytes': { type: 'int', default: -1, min: -1, doc: 'partition size above which old segments are deleted (-1: no limit)' },
  'segment.bytes': { type: 'int', default: 1024 * 1024 * 1024, min: 1024, doc: 'size at which the active segment rolls' },
  'segment.ms': { type: 'int', default: 7 * 24 * 3600 * 1000, min: 1, doc: 'age at which the active segment rolls' },
  'unclean.leader.election.enable': { type: 'bool', default: false, doc: 'elect an out-of-sync replica when no ISR member lives (may lose data)' },
  'max.message.bytes': { type: 'int', default: 1024 * 1024, min: 64, doc: 'largest record batch accepted' },
  'index.interval.bytes': { type: 'int', default: 4096, min: 1, doc: 'bytes between sparse offset-index entries' },
  'flush.messages': { type: 'int', default: NEVER, min: 1, doc: 'fsync after this many records (default: never force)' },
  'flush.ms': { type: 'int', default: NEVER, min: 0, doc: 'fsync after this many ms (default: never force)' },
  'leader.replication.throttled.replicas': {
    type: 'replica-list',
    default: '',
    doc: "replicas whose copying is limited by their leader's leader.replication.throttled.rate: partition:broker pairs, or * for all",
  },
  'follower.replication.throttled.replicas': {
    type: 'replica-list',
    default: '',
    doc: "replicas whose copying is limited by the follower's follower.replication.throttled.rate: partition:broker pairs, or * for all",
  },
  'cleanup.policy': {
    type: 'cleanup-policy',
    default: 'delete',
    doc: 'delete: retention removes old segments; compact: keep the latest record per key; or compact,delete',
  },
};

export const DEFAULT_TOPIC_CONFIGS: Readonly<TopicConfigs> = Object.freeze(
  Object.fromEntries(Object.entries(TOPIC_CONFIG_SPECS).map(([k, spec]) => [k, spec.default])) as unknown as TopicConfigs,
);

export type TopicConfigInput = Partial<Record<string, string | number | boolean>>;

/**
 * Validates user-supplied topic configs (strings from the CLI or typed values) and merges them
 * over the defaults. Unknown names and bad values give INVALID_CONFIG naming the culprit.
 */
export function resolveTopicConfigs(input: TopicConfigInput | undefined): TopicConfigs {
  const out: Record<string, number | boolean | string> = { ...DEFAULT_TOPIC_CONFIGS };
  for (const [name, raw] of Object.entries(input ?? {})) {
    if (!Object.hasOwn(TOPIC_CONFIG_SPECS, name)) {
      throw new TributaryError('INVALID_CONFIG', `unknown topic config '${name}'; known: ${Object.keys(TOPIC_CONFIG_SPECS).join(', ')}`);
    }
    const spec = TOPIC_CONFIG_SPECS[name as keyof TopicConfigs];
    out[name] = parseConfigValue(name, spec, raw);
  }
  return out as unknown as TopicConfigs;
}

function parseConfigValue(name: string, spec: ConfigSpec, raw: unknown): number | boolean | string {
  if (spec.type === 'cleanup-policy') return normalizeCleanupPolicy(name, raw);
  if (spec.type === 'replica-list') {
    if (typeof raw !== 'string')
      throw new TributaryError('INVALID_CONFIG', `config '${name}' must be a string of partition:broker pairs or *, got ${JSON.stringify(raw)}`);
    return normalizeThrottledReplicas(name, raw);
  }
  if (spec.type === 'bool') {
    if (raw === true || raw === 'true') return true;
    if (raw === false || raw === 'false') return false;
    throw new TributaryError('INVALID_CONFIG', `config '${name}' must be true or false, got ${JSON.stringify(raw)}`);
  }
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < spec.min || (spec.max !== undefined && n > spec.max)) {
    throw new TributaryError(
      'INVALID_CONFIG',
      `config '${name}' must be an integer >= ${spec.min}${spec.max !== undefined ? ` and <= ${spec.max}` : ''}, got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

const CLEANUP_POLICIES = ['compact', 'delete'] as const;

/**
 * Kafka's cleanup.policy is a list of `compact` and `delete`: '', a duplicate or anything else
 * is INVALID_CONFIG. Canonical form: the policies sorted and joined by ',' ('compact,delete').
 */
export function normalizeCleanupPolicy(name: string, raw: unknown): string {
  if (typeof raw !== 'string')
    throw new TributaryError('INVALID_CONFIG', `config '${name}' must be delete, compact or compact,delete, got ${JSON.stringify(raw)}`);
  const policies = raw.split(',').map((p) => p.trim());
  const known = new Set<string>(CLEANUP_POLICIES);
  if (policies.some((p) => !known.has(p)) || new Set(policies).size !== policies.length) {
    throw new TributaryError('INVALID_CONFIG', `config '${name}' must be delete, compact or compact,delete, got ${JSON.stringify(raw)}`);
  }
  return policies.sort().join(',');
}

/** Whether a topic's cleanup.policy lets retention delete old segments (Kafka's `delete`). */
export function retentionDeletes(configs: Pick<TopicConfigs, 'cleanup.policy'> | undefined): boolean {
  return (configs?.['cleanup.policy'] ?? 'delete').split(',').includes('delete');
}

/**
 * The internal topic holding consumer groups' offsets and metadata (Kafka's
 * GROUP_METADATA_TOPIC_NAME). The group coordinator of group G is the leader of its partition
 * abs(javaHashCode(G)) % partitions.
 */
export const CONSUMER_OFFSETS_TOPIC = '__consumer_offsets';

/** Topics of Tributary's own (Kafka's Topic.isInternal): hidden from topic lists unless asked for. */
export function isInternalTopic(name: string): boolean {
  return name === CONSUMER_OFFSETS_TOPIC;
}

/** A parsed throttled-replicas list: every replica of the topic, or these (partition, broker) pairs. */
export interface ThrottledReplicas {
  all: boolean;
  pairs: { partition: number; brokerId: number }[];
}

const THROTTLED_PAIR = /^(\d{1,9}):(\d{1,9})$/;

/**
 * Kafka's format for leader/follower.replication.throttled.replicas: '*', or `partition:broker`
 * pairs separated by commas (spaces allowed around them), or '' for none. Returns the canonical
 * form ('*', or pairs joined by ',' without spaces); INVALID_CONFIG names the bad entry.
 */
export function normalizeThrottledReplicas(name: string, raw: string): string {
  const trimmed = raw.trim();
  if (trimmed === '' || trimmed === '*') return trimmed;
  const entries = trimmed.split(',').map((e) => e.trim());
  for (const entry of entries) {
    if (!THROTTLED_PAIR.test(entry)) {
      throw new TributaryError(
        'INVALID_CONFIG',
        `config '${name}' must be * or partition:broker pairs separated by commas (e.g. 0:6,1:6); '${entry}' is neither`,
      );
    }
  }
  return entries.join(',');
}

/** Parses a list already checked by normalizeThrottledReplicas (a topic config from metadata). */
export function parseThrottledReplicas(value: string | undefined): ThrottledReplicas {
  const trimmed = (value ?? '').trim();
  if (trimmed === '*') return { all: true, pairs: [] };
  const pairs: ThrottledReplicas['pairs'] = [];
  if (trimmed === '') return { all: false, pairs };
  for (const entry of trimmed.split(',')) {
    const m = THROTTLED_PAIR.exec(entry.trim());
    if (m) pairs.push({ partition: Number(m[1]), brokerId: Number(m[2]) });
  }
  return { all: false, pairs };
}

/**
 * Broker configs that can be changed while the cluster runs (Kafka's dynamic broker configs),
 * stored in the controller's metadata and read by the broker they name: the replication quotas
 * of KIP-73, in bytes/s. Unset means unlimited.
 */
export const BROKER_DYNAMIC_CONFIG_SPECS: { readonly [name: string]: { doc: string } } = {
  'leader.replication.throttled.rate': {
    doc: "bytes/s this broker sends, as leader, to followers of the replicas in topics' leader.replication.throttled.replicas",
  },
  'follower.replication.throttled.rate': {
    doc: "bytes/s this broker fetches, as follower, for the replicas in topics' follower.replication.throttled.replicas",
  },
};

export const BROKER_DYNAMIC_CONFIGS: readonly string[] = Object.keys(BROKER_DYNAMIC_CONFIG_SPECS);

/** Kafka's topic-name rule: 1-249 chars of [a-zA-Z0-9._-], and not '.' or '..'. */
export function validateTopicName(name: unknown): string {
  if (typeof name !== 'string' || name.length < 1 || name.length > 249 || !/^[a-zA-Z0-9._-]+$/.test(name) || name === '.' || name === '..') {
    throw new TributaryError('INVALID_TOPIC', `invalid topic name ${JSON.stringify(name)}: use 1-249 characters of [a-zA-Z0-9._-], not '.' or '..'`);
  }
  return name;
}

/** Cluster-wide timing defaults (DESIGN.md § Replication, § Controller). */
export const CLUSTER_DEFAULTS = Object.freeze({
  brokerSessionTimeoutMs: 3000,
  brokerHeartbeatIntervalMs: 500,
  replicaLagTimeMaxMs: 10_000,
  metadataMaxWaitMs: 5000,
  autoLeaderRebalanceEnable: true,
  leaderImbalanceCheckIntervalMs: 5000,
  /**
   * Kafka's producer.id.expiration.ms (KIP-854): a leader forgets an idempotent producer's
   * sequence state this long after its last append to the partition. Per broker
   * (--producer-id-expiration-ms).
   */
  producerIdExpirationMs: 86_400_000,
});

/** Fixed local ports: controller 19090, broker i on 19092 + i (DESIGN.md § Listeners). */
export const DEFAULT_CONTROLLER_PORT = 19090;
export const DEFAULT_BROKER_BASE_PORT = 19092;
