// The broker's per-node configuration: read from flags and environment here and nowhere else,
// validated, frozen, passed down (STYLE.md § Shape). Cluster-wide settings (topic configs,
// follower throttles) come from the controller's metadata instead.

import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { CLUSTER_DEFAULTS, DEFAULT_BROKER_BASE_PORT, DEFAULT_CONTROLLER_PORT, type Endpoint } from '@tributary/protocol';

export interface BrokerConfig {
  readonly brokerId: number;
  readonly rack: string;
  readonly dataDir: string;
  /** Internal listener: bind address and what is advertised for it. */
  readonly listen: Endpoint;
  readonly advertise: Endpoint;
  /** Optional external listener (clients on the host); absent: the internal one serves all. */
  readonly externalListen: Endpoint | undefined;
  readonly externalAdvertise: Endpoint | undefined;
  /**
   * The Kafka-protocol listener (issue 19): bind address and what Metadata advertises for it.
   * Absent: no Kafka listener. The external one (optional) serves clients on the host when the
   * first serves the broker's network (compose); each advertises its own addresses.
   */
  readonly kafkaListen: Endpoint | undefined;
  readonly kafkaAdvertise: Endpoint | undefined;
  readonly kafkaExternalListen: Endpoint | undefined;
  readonly kafkaExternalAdvertise: Endpoint | undefined;
  /** Largest Kafka request frame accepted (Kafka's socket.request.max.bytes): a larger size prefix closes the connection. */
  readonly kafkaFrameBytesMax: number;
  readonly controller: Endpoint;
  readonly replicaLagTimeMaxMs: number;
  readonly heartbeatIntervalMs: number;
  readonly metadataMaxWaitMs: number;
  /** How long a follower's /replica/fetch waits at the leader for data. */
  readonly replicaFetchMaxWaitMs: number;
  readonly replicaFetchMaxBytes: number;
  /** Followers fetch in incremental fetch sessions (KIP-227); false: every fetch names every partition. */
  readonly replicaFetchSessions: boolean;
  /**
   * Leader batches of 8 KiB or more are checked on a second thread while they are written
   * (packages/storage/README.md § Leader appends beside their check). Off by default: with seven
   * processes on two cores it cost CPU and throughput (docs/performance.md).
   */
  readonly validatorThread: boolean;
  /** Kafka's max.incremental.fetch.session.cache.slots: fetch sessions kept as leader. */
  readonly fetchSessionCacheSlots: number;
  /** High-watermark and recovery-point checkpoints. */
  readonly checkpointIntervalMs: number;
  /** Retention (deleteOldSegments), segment.ms rolls and producer-state expiry. */
  readonly retentionCheckIntervalMs: number;
  /** Kafka's producer.id.expiration.ms: idempotent-producer state is forgotten this long after the producer's last append. */
  readonly producerIdExpirationMs: number;
  /** Upper bound on a controlled shutdown before the broker stops anyway. */
  readonly controlledShutdownMaxMs: number;
  // The log cleaner (Kafka's log.cleaner.* broker configs; log-cleaner.ts).
  /** log.cleaner.enable: compacted topics are cleaned. */
  readonly logCleanerEnable: boolean;
  /** log.cleaner.io.max.bytes.per.second: bytes the cleaner reads and writes per second (MAX_SAFE_INTEGER: unthrottled). */
  readonly logCleanerIoMaxBytesPerSecond: number;
  /** log.cleaner.dedupe.buffer.size: the memory bound of one cleaning's key -> offset map. */
  readonly logCleanerDedupeBufferBytes: number;
  /** log.cleaner.io.buffer.size: bytes read per slice before the event loop gets its turn. */
  readonly logCleanerIoBufferBytes: number;
  /** log.cleaner.backoff.ms: how long the cleaner sleeps when no log needs cleaning. */
  readonly logCleanerBackoffMs: number;
  // Request limits (DESIGN.md § Limits). Each route's body limits are derived from these in
  // broker-service.ts (`brokerRouteLimits`).
  /** Time to receive a whole request, headers and body (Node's requestTimeout); a trickled request is cut off (408). */
  readonly requestTimeoutMs: number;
  /** Time to receive a request's headers; also closes a connection that never sends one. */
  readonly requestHeadersTimeoutMs: number;
  /** A keep-alive connection idle this long is closed (Kafka's connections.max.idle.ms). */
  readonly connectionIdleTimeoutMs: number;
  /** Open connections over all listeners (Kafka's max.connections); more are refused. */
  readonly connectionsMax: number;
  /** Request bytes admitted and not yet handled (Kafka's queued.max.request.bytes); more wait, unread. */
  readonly requestBytesInFlightMax: number;
  /** Largest /produce body: a producer request (the client's 8 MiB requestBytesMax) with room to spare. */
  readonly produceBodyBytesMax: number;
  /** Largest /fetch, /replica/fetch, /list-offsets and /metadata body: partitionsMax entries with 249-character topics. */
  readonly fetchBodyBytesMax: number;
  /** Largest /describe-replicas and /admin/<op> body (admin bodies go on to the controller, which has the same limit). */
  readonly adminBodyBytesMax: number;
  /** fetch.max.bytes: what one fetch answer (consumer or follower) may carry; larger asks are clamped to it, as Kafka does. */
  readonly fetchBytesMax: number;
  readonly logLevel: string;
  // Consumer groups (issue 18): Kafka's group coordinator configs, same names, same defaults
  // (group.max.size aside). Per broker, as in Kafka: every broker should be given the same.
  /** group.min.session.timeout.ms / group.max.session.timeout.ms: the session timeouts members may ask for. */
  readonly groupMinSessionTimeoutMs: number;
  readonly groupMaxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms: how long the first rebalance of an empty group waits for more members. */
  readonly groupInitialRebalanceDelayMs: number;
  /** group.max.size (Kafka: unbounded; here 1000 by default). */
  readonly groupMaxSize: number;
  /** offsets.topic.num.partitions: partitions of __consumer_offsets when this broker creates it. */
  readonly offsetsTopicPartitions: number;
  /** offsets.topic.replication.factor: its replication factor; creation is refused while fewer brokers are live. */
  readonly offsetsTopicReplicationFactor: number;
  /** offsets.retention.minutes, in ms. */
  readonly offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms. */
  readonly offsetsRetentionCheckIntervalMs: number;
  /** offsets.commit.timeout.ms: how long a commit (or a group write) waits for acks=all. */
  readonly offsetsCommitTimeoutMs: number;
  /** offset.metadata.max.bytes. */
  readonly offsetMetadataMaxBytes: number;
  /** offsets.load.buffer.size: bytes read at a time while loading a partition's groups. */
  readonly offsetsLoadBufferBytes: number;
  /**
   * Security (issue 20): TLS on every listener with this key and certificate, the cluster CA
   * for peers (mutual TLS with the controller and other brokers), and Kafka's super.users.
   * Absent: plaintext, nothing checked.
   */
  readonly security: { readonly tlsCertFile: string; readonly tlsKeyFile: string; readonly tlsCaFile: string; readonly superUsers: string } | undefined;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const FLAGS = {
  id: { type: 'string', env: 'TRIBUTARY_BROKER_ID' },
  rack: { type: 'string', env: 'TRIBUTARY_RACK' },
  'data-dir': { type: 'string', env: 'TRIBUTARY_DATA_DIR' },
  listen: { type: 'string', env: 'TRIBUTARY_LISTEN' },
  advertise: { type: 'string', env: 'TRIBUTARY_ADVERTISE' },
  'external-listen': { type: 'string', env: 'TRIBUTARY_EXTERNAL_LISTEN' },
  'external-advertise': { type: 'string', env: 'TRIBUTARY_EXTERNAL_ADVERTISE' },
  'kafka-listen': { type: 'string', env: 'TRIBUTARY_KAFKA_LISTEN' },
  'kafka-advertise': { type: 'string', env: 'TRIBUTARY_KAFKA_ADVERTISE' },
  'kafka-external-listen': { type: 'string', env: 'TRIBUTARY_KAFKA_EXTERNAL_LISTEN' },
  'kafka-external-advertise': { type: 'string', env: 'TRIBUTARY_KAFKA_EXTERNAL_ADVERTISE' },
  controller: { type: 'string', env: 'TRIBUTARY_CONTROLLER' },
  'replica-lag-time-max-ms': { type: 'string', env: 'TRIBUTARY_REPLICA_LAG_TIME_MAX_MS' },
  'heartbeat-interval-ms': { type: 'string', env: 'TRIBUTARY_HEARTBEAT_INTERVAL_MS' },
  'replica-fetch-max-wait-ms': { type: 'string', env: 'TRIBUTARY_REPLICA_FETCH_MAX_WAIT_MS' },
  'replica-fetch-max-bytes': { type: 'string', env: 'TRIBUTARY_REPLICA_FETCH_MAX_BYTES' },
  'replica-fetch-sessions': { type: 'string', env: 'TRIBUTARY_REPLICA_FETCH_SESSIONS' },
  'validator-thread': { type: 'string', env: 'TRIBUTARY_VALIDATOR_THREAD' },
  'max-incremental-fetch-session-cache-slots': { type: 'string', env: 'TRIBUTARY_MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS' },
  'checkpoint-interval-ms': { type: 'string', env: 'TRIBUTARY_CHECKPOINT_INTERVAL_MS' },
  'retention-check-interval-ms': { type: 'string', env: 'TRIBUTARY_RETENTION_CHECK_INTERVAL_MS' },
  'producer-id-expiration-ms': { type: 'string', env: 'TRIBUTARY_PRODUCER_ID_EXPIRATION_MS' },
  'controlled-shutdown-max-ms': { type: 'string', env: 'TRIBUTARY_CONTROLLED_SHUTDOWN_MAX_MS' },
  'log-cleaner-enable': { type: 'string', env: 'TRIBUTARY_LOG_CLEANER_ENABLE' },
  'log-cleaner-io-max-bytes-per-second': { type: 'string', env: 'TRIBUTARY_LOG_CLEANER_IO_MAX_BYTES_PER_SECOND' },
  'log-cleaner-dedupe-buffer-size': { type: 'string', env: 'TRIBUTARY_LOG_CLEANER_DEDUPE_BUFFER_SIZE' },
  'log-cleaner-io-buffer-size': { type: 'string', env: 'TRIBUTARY_LOG_CLEANER_IO_BUFFER_SIZE' },
  'log-cleaner-backoff-ms': { type: 'string', env: 'TRIBUTARY_LOG_CLEANER_BACKOFF_MS' },
  'request-timeout-ms': { type: 'string', env: 'TRIBUTARY_REQUEST_TIMEOUT_MS' },
  'connections-max': { type: 'string', env: 'TRIBUTARY_CONNECTIONS_MAX' },
  'request-bytes-in-flight-max': { type: 'string', env: 'TRIBUTARY_REQUEST_BYTES_IN_FLIGHT_MAX' },
  'produce-body-bytes-max': { type: 'string', env: 'TRIBUTARY_PRODUCE_BODY_BYTES_MAX' },
  'fetch-bytes-max': { type: 'string', env: 'TRIBUTARY_FETCH_BYTES_MAX' },
  'log-level': { type: 'string', env: 'TRIBUTARY_LOG_LEVEL' },
  'group-min-session-timeout-ms': { type: 'string', env: 'TRIBUTARY_GROUP_MIN_SESSION_TIMEOUT_MS' },
  'group-max-session-timeout-ms': { type: 'string', env: 'TRIBUTARY_GROUP_MAX_SESSION_TIMEOUT_MS' },
  'group-initial-rebalance-delay-ms': { type: 'string', env: 'TRIBUTARY_GROUP_INITIAL_REBALANCE_DELAY_MS' },
  'group-max-size': { type: 'string', env: 'TRIBUTARY_GROUP_MAX_SIZE' },
  'offsets-topic-num-partitions': { type: 'string', env: 'TRIBUTARY_OFFSETS_TOPIC_NUM_PARTITIONS' },
  'offsets-topic-replication-factor': { type: 'string', env: 'TRIBUTARY_OFFSETS_TOPIC_REPLICATION_FACTOR' },
  'offsets-retention-minutes': { type: 'string', env: 'TRIBUTARY_OFFSETS_RETENTION_MINUTES' },
  'offsets-retention-check-interval-ms': { type: 'string', env: 'TRIBUTARY_OFFSETS_RETENTION_CHECK_INTERVAL_MS' },
  'offsets-commit-timeout-ms': { type: 'string', env: 'TRIBUTARY_OFFSETS_COMMIT_TIMEOUT_MS' },
  'offset-metadata-max-bytes': { type: 'string', env: 'TRIBUTARY_OFFSET_METADATA_MAX_BYTES' },
  'tls-cert': { type: 'string', env: 'TRIBUTARY_TLS_CERT' },
  'tls-key': { type: 'string', env: 'TRIBUTARY_TLS_KEY' },
  'tls-ca': { type: 'string', env: 'TRIBUTARY_TLS_CA' },
  'super-users': { type: 'string', env: 'TRIBUTARY_SUPER_USERS' },
} as const;

type FlagName = keyof typeof FLAGS;

export const USAGE = `usage: tributary-broker --id <0..1000000> [--rack rack-1] [--data-dir dir] [--listen host:port]
  [--advertise host:port] [--external-listen host:port] [--external-advertise host:port]
  [--kafka-listen host:port] [--kafka-advertise host:port] [--kafka-external-listen host:port] [--kafka-external-advertise host:port]
  [--controller host:port] [--replica-lag-time-max-ms 10000] [--log-level info]
  [--request-timeout-ms 30000] [--connections-max 1000] [--request-bytes-in-flight-max 134217728]
  [--produce-body-bytes-max 16777216] [--fetch-bytes-max 57671680]
  [--replica-fetch-sessions true] [--max-incremental-fetch-session-cache-slots 1000] [--validator-thread false]
  [--group-min-session-timeout-ms 6000] [--group-max-session-timeout-ms 1800000]
  [--group-initial-rebalance-delay-ms 3000] [--group-max-size 1000]
  [--offsets-topic-num-partitions 50] [--offsets-topic-replication-factor 3]
  [--offsets-retention-minutes 10080] [--offsets-retention-check-interval-ms 600000]
  [--offsets-commit-timeout-ms 5000] [--offset-metadata-max-bytes 4096]
  [--log-cleaner-enable true] [--log-cleaner-io-max-bytes-per-second N] [--log-cleaner-dedupe-buffer-size 134217728]
  [--log-cleaner-io-buffer-size 524288] [--log-cleaner-backoff-ms 15000]
  [--tls-cert file --tls-key file --tls-ca file] [--super-users 'User:admin;User:ops']
Every flag has an environment variable: TRIBUTARY_BROKER_ID, TRIBUTARY_RACK, TRIBUTARY_DATA_DIR, ...`;

/** An offset commit's acks=all wait is a produce timeout: the broker's produce bound (REQUEST_LIMITS.timeoutMsMax). */
const REQUEST_TIMEOUT_CAP_MS = 300_000;

/** Parses and validates flags (over env); throws ConfigError with one clear line. */
export function loadBrokerConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(Object.keys(FLAGS).map((k) => [k, { type: 'string' as const }]));
    ({ values } = parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message.split('\n')[0]}`);
  }
  if (values.help) throw new ConfigError(USAGE);
  const get = (name: FlagName): string | undefined => {
    const v = values[name];
    if (typeof v === 'string') return v;
    const e = env[FLAGS[name].env];
    return e === undefined || e === '' ? undefined : e;
  };
  const where = (name: FlagName) => `--${name} (${FLAGS[name].env})`;
  const int = (name: FlagName, fallback: number | undefined, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined) {
      if (fallback === undefined) throw new ConfigError(`${where(name)} is required`);
      return fallback;
    }
    const n = /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new ConfigError(`${where(name)} must be an integer in [${min}, ${max}], got '${raw}'`);
    return n;
  };
  const endpoint = (name: FlagName, fallback: Endpoint | undefined): Endpoint | undefined => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const match = /^\[?([^\]\s]+?)\]?:(\d+)$/.exec(raw.trim());
    const port = match ? Number(match[2]) : NaN;
    if (!match || !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new ConfigError(`${where(name)} must be host:port, got '${raw}'`);
    return { host: match[1]!, port };
  };

  const brokerId = int('id', undefined, 0, 1_000_000);
  const rack = get('rack') ?? 'rack-1';
  if (!/^[a-zA-Z0-9._-]{1,64}$/.test(rack)) throw new ConfigError(`${where('rack')} must be 1-64 characters of [a-zA-Z0-9._-], got '${rack}'`);
  const listen = endpoint('listen', { host: '127.0.0.1', port: DEFAULT_BROKER_BASE_PORT + brokerId })!;
  if (listen.port > 65535) throw new ConfigError(`default port ${listen.port} for broker ${brokerId} is out of range; pass --listen`);
  const advertise = endpoint('advertise', listen)!;
  const externalListen = endpoint('external-listen', undefined);
  const externalAdvertise = endpoint('external-advertise', externalListen);
  if (externalAdvertise !== undefined && externalListen === undefined) throw new ConfigError(`${where('external-advertise')} needs --external-listen`);
  const kafkaListen = endpoint('kafka-listen', undefined);
  const kafkaAdvertise = endpoint('kafka-advertise', kafkaListen);
  const kafkaExternalListen = endpoint('kafka-external-listen', undefined);
  const kafkaExternalAdvertise = endpoint('kafka-external-advertise', kafkaExternalListen);
  if (kafkaAdvertise !== undefined && kafkaListen === undefined) throw new ConfigError(`${where('kafka-advertise')} needs --kafka-listen`);
  if (kafkaExternalListen !== undefined && kafkaListen === undefined) throw new ConfigError(`${where('kafka-external-listen')} needs --kafka-listen`);
  if (kafkaExternalAdvertise !== undefined && kafkaExternalListen === undefined)
    throw new ConfigError(`${where('kafka-external-advertise')} needs --kafka-external-listen`);
  // Port 0 (tests): bind anywhere; an advertised port 0 is replaced by the bound one at start.
  const controller = endpoint('controller', { host: '127.0.0.1', port: DEFAULT_CONTROLLER_PORT })!;
  if (controller.port === 0) throw new ConfigError(`${where('controller')} port must not be 0`);
  const bool = (name: FlagName, fallback: boolean): boolean => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    if (raw.trim() === 'true') return true;
    if (raw.trim() === 'false') return false;
    throw new ConfigError(`${where(name)} must be true or false, got '${raw}'`);
  };
  const logLevel = get('log-level') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel))
    throw new ConfigError(`${where('log-level')} must be one of fatal, error, warn, info, debug, trace, silent`);

  const requestTimeoutMs = int('request-timeout-ms', 30_000, 1000, 3_600_000);
  const produceBodyBytesMax = int('produce-body-bytes-max', 16 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024);
  const requestBytesInFlightMax = int('request-bytes-in-flight-max', 128 * 1024 * 1024, 1024 * 1024, 16 * 1024 * 1024 * 1024);
  const fetchBodyBytesMax = 4 * 1024 * 1024;
  // Every route's largest body must fit the budget, else its largest requests would wait for ever.
  if (requestBytesInFlightMax < Math.max(produceBodyBytesMax, fetchBodyBytesMax)) {
    throw new ConfigError(
      `${where('request-bytes-in-flight-max')} (${requestBytesInFlightMax}) must be at least the largest request body, ${where('produce-body-bytes-max')} (${produceBodyBytesMax}) and the fetch body limit (${fetchBodyBytesMax})`,
    );
  }

  const INT32_MAX = 2_147_483_647;
  const groupMinSessionTimeoutMs = int('group-min-session-timeout-ms', 6000, 1, INT32_MAX);
  const groupMaxSessionTimeoutMs = int('group-max-session-timeout-ms', 1_800_000, 1, INT32_MAX);
  if (groupMaxSessionTimeoutMs < groupMinSessionTimeoutMs)
    throw new ConfigError(
      `${where('group-max-session-timeout-ms')} (${groupMaxSessionTimeoutMs}) is below ${where('group-min-session-timeout-ms')} (${groupMinSessionTimeoutMs})`,
    );

  const tlsFiles = (['tls-cert', 'tls-key', 'tls-ca'] as const).map((name) => get(name));
  if (tlsFiles.some((f) => f !== undefined) && tlsFiles.some((f) => f === undefined))
    throw new ConfigError('--tls-cert, --tls-key and --tls-ca go together: give all three (a secure cluster) or none');
  const superUsers = get('super-users') ?? '';
  for (const u of superUsers
    .split(/[;,]/)
    .map((x) => x.trim())
    .filter((x) => x !== '')) {
    if (!/^User:.+$/.test(u)) throw new ConfigError(`${where('super-users')} must list User:<name> principals separated by ';', got '${u}'`);
  }
  const security =
    tlsFiles[0] === undefined ? undefined : Object.freeze({ tlsCertFile: tlsFiles[0], tlsKeyFile: tlsFiles[1]!, tlsCaFile: tlsFiles[2]!, superUsers });
  return Object.freeze({
    security,
    brokerId,
    rack,
    dataDir: get('data-dir') ?? join('data', `broker-${brokerId}`),
    listen,
    advertise,
    externalListen,
    externalAdvertise,
    kafkaListen,
    kafkaAdvertise,
    kafkaExternalListen,
    kafkaExternalAdvertise,
    // A produce request of produceBodyBytesMax with room for its header and topic names.
    kafkaFrameBytesMax: Math.max(produceBodyBytesMax, fetchBodyBytesMax) + 64 * 1024,
    controller,
    replicaLagTimeMaxMs: int('replica-lag-time-max-ms', CLUSTER_DEFAULTS.replicaLagTimeMaxMs, 100, 3_600_000),
    heartbeatIntervalMs: int('heartbeat-interval-ms', CLUSTER_DEFAULTS.brokerHeartbeatIntervalMs, 10, 60_000),
    metadataMaxWaitMs: CLUSTER_DEFAULTS.metadataMaxWaitMs,
    replicaFetchMaxWaitMs: int('replica-fetch-max-wait-ms', 500, 0, 30_000),
    replicaFetchMaxBytes: int('replica-fetch-max-bytes', 10 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    replicaFetchSessions: bool('replica-fetch-sessions', true),
    validatorThread: bool('validator-thread', false),
    fetchSessionCacheSlots: int('max-incremental-fetch-session-cache-slots', 1000, 0, 1_000_000),
    checkpointIntervalMs: int('checkpoint-interval-ms', 5000, 10, 3_600_000),
    retentionCheckIntervalMs: int('retention-check-interval-ms', 5000, 10, 3_600_000),
    producerIdExpirationMs: int('producer-id-expiration-ms', CLUSTER_DEFAULTS.producerIdExpirationMs, 1, Number.MAX_SAFE_INTEGER),
    controlledShutdownMaxMs: int('controlled-shutdown-max-ms', 10_000, 0, 600_000),
    // Kafka's defaults: enabled, unthrottled, a 128 MiB dedupe buffer, 512 KiB reads, 15 s back-off.
    logCleanerEnable: bool('log-cleaner-enable', true),
    logCleanerIoMaxBytesPerSecond: int('log-cleaner-io-max-bytes-per-second', Number.MAX_SAFE_INTEGER, 1024, Number.MAX_SAFE_INTEGER),
    logCleanerDedupeBufferBytes: int('log-cleaner-dedupe-buffer-size', 128 * 1024 * 1024, 64 * 1024, 16 * 1024 * 1024 * 1024),
    logCleanerIoBufferBytes: int('log-cleaner-io-buffer-size', 512 * 1024, 4096, 64 * 1024 * 1024),
    logCleanerBackoffMs: int('log-cleaner-backoff-ms', 15_000, 10, 3_600_000),
    requestTimeoutMs,
    // Headers come in one or two packets; 10 s is generous and still cuts a silent connection.
    requestHeadersTimeoutMs: Math.min(10_000, requestTimeoutMs),
    connectionIdleTimeoutMs: 60_000,
    connectionsMax: int('connections-max', 1000, 16, 1_000_000),
    requestBytesInFlightMax,
    produceBodyBytesMax,
    fetchBodyBytesMax,
    adminBodyBytesMax: 64 * 1024,
    // Kafka's broker default for fetch.max.bytes: 55 MiB.
    fetchBytesMax: int('fetch-bytes-max', 55 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    logLevel,
    groupMinSessionTimeoutMs,
    groupMaxSessionTimeoutMs,
    groupInitialRebalanceDelayMs: int('group-initial-rebalance-delay-ms', 3000, 0, INT32_MAX),
    groupMaxSize: int('group-max-size', 1000, 1, 100_000),
    offsetsTopicPartitions: int('offsets-topic-num-partitions', 50, 1, 1000),
    offsetsTopicReplicationFactor: int('offsets-topic-replication-factor', 3, 1, 100),
    offsetsRetentionMs: int('offsets-retention-minutes', 7 * 24 * 60, 1, 100 * 365 * 24 * 60) * 60_000,
    offsetsRetentionCheckIntervalMs: int('offsets-retention-check-interval-ms', 600_000, 10, INT32_MAX),
    offsetsCommitTimeoutMs: int('offsets-commit-timeout-ms', 5000, 1, REQUEST_TIMEOUT_CAP_MS),
    offsetMetadataMaxBytes: int('offset-metadata-max-bytes', 4096, 0, 32_767),
    offsetsLoadBufferBytes: 5 * 1024 * 1024,
  });
}

/** A config for tests and embedding: defaults plus overrides. */
export function brokerConfig(overrides: Partial<BrokerConfig> & { brokerId: number; dataDir: string }): BrokerConfig {
  const base = loadBrokerConfig(['--id', String(overrides.brokerId), '--data-dir', overrides.dataDir, '--listen', '127.0.0.1:0'], {});
  return Object.freeze({ ...base, ...overrides });
}
