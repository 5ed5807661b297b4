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
   * Kafka's cleanup.policy: what happens to old segments. `delete`: retention.ms / retention.bytes
   * delete whole segments. `compact`: the log cleaner keeps the latest record per key and
   * retention does not apply. `compact,delete`: both. Normalized to one of these three strings.
   */
  'cleanup.policy': CleanupPolicy;
  'delete.retention.ms': number;
  'min.cleanable.dirty.ratio': number;
  'min.compaction.lag.ms': number;
  'max.compaction.lag.ms': number;
}

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

/** What a cleanup.policy value turns on. */
export function cleanupPolicyOf(policy: string | undefined): { compact: boolean; delete: boolean } {
  const parts = (policy ?? 'delete').split(',').map((p) => p.trim());
  return { compact: parts.includes('compact'), delete: parts.includes('delete') };
}

type ConfigSpec =
  | { type: 'int'; default: number; min: number; max?: number; doc: string }
  | { type: 'ratio'; default: number; doc: string }
  | { type: 'bool'; default: boolean; doc: string }
  | { type: 'replica-list'; default: string; doc: string }
  | { type: 'cleanup-policy'; default: CleanupPolicy; doc: string };

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
  // Log compaction (Kafka's LogCleaner): the names, defaults and meanings are Kafka's.
  'cleanup.policy': {
    type: 'cleanup-policy',
    default: 'delete',
    doc: 'delete (retention removes old segments), compact (the log cleaner keeps the latest record per key), or compact,delete (both)',
  },
  'delete.retention.ms': {
    type: 'int',
    default: 24 * 3600 * 1000,
    min: 0,
    doc: 'how long a tombstone (a record with a key and a null value) stays after the cleaner first kept it, so readers can see the delete',
  },
  'min.cleanable.dirty.ratio': {
    type: 'ratio',
    default: 0.5,
    doc: 'the cleaner takes a log once its uncleaned share of bytes exceeds this (0..1)',
  },
  'min.compaction.lag.ms': {
    type: 'int',
    default: 0,
    min: 0,
    doc: 'a record stays uncompacted at least this long after it was appended',
  },
  'max.compaction.lag.ms': {
    type: 'int',
    default: NEVER,
    min: 1,
    doc: 'a record becomes eligible for compaction at most this long after it was appended, whatever the dirty ratio (also caps segment.ms)',
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
  const configs = out as unknown as TopicConfigs;
  // Kafka's LogConfig check: a record must become cleanable no later than it is guaranteed to
  // stay uncompacted, or the two promises contradict each other.
  if (configs['min.compaction.lag.ms'] > configs['max.compaction.lag.ms']) {
    throw new TributaryError(
      'INVALID_CONFIG',
      `config 'min.compaction.lag.ms' (${configs['min.compaction.lag.ms']}) must not exceed 'max.compaction.lag.ms' (${configs['max.compaction.lag.ms']})`,
    );
  }
  return configs;
}

/**
 * Kafka's cleanup.policy is a list of `delete` and `compact`, in any order; here it is normalized
 * to `delete`, `compact` or `compact,delete`. Anything else (an unknown word, a repeat, an empty
 * list) is INVALID_CONFIG naming the config.
 */
export function normalizeCleanupPolicy(name: string, raw: unknown): CleanupPolicy {
  const bad = () =>
    new TributaryError('INVALID_CONFIG', `config '${name}' must be delete, compact or compact,delete (a comma-separated list), got ${JSON.stringify(raw)}`);
  if (typeof raw !== 'string') throw bad();
  // Case-sensitive, as Kafka's ValidList.in(compact, delete).
  const parts = raw.split(',').map((p) => p.trim());
  if (parts.some((p) => p !== 'delete' && p !== 'compact') || new Set(parts).size !== parts.length) throw bad();
  const { compact, delete: del } = cleanupPolicyOf(parts.join(','));
  return compact && del ? 'compact,delete' : compact ? 'compact' : 'delete';
}

function parseConfigValue(name: string, spec: ConfigSpec, raw: unknown): number | boolean | string {
  if (spec.type === 'cleanup-policy') return normalizeCleanupPolicy(name, raw);
  if (spec.type === 'ratio') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(n) || n < 0 || n > 1) {
      throw new TributaryError('INVALID_CONFIG', `config '${name}' must be a number between 0 and 1, got ${JSON.stringify(raw)}`);
    }
    return n;
  }
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

/** Whether a topic's cleanup.policy lets retention delete old segments (Kafka's `delete`). */
export function retentionDeletes(configs: Pick<TopicConfigs, 'cleanup.policy'> | undefined): boolean {
  return cleanupPolicyOf(configs?.['cleanup.policy']).delete;
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
