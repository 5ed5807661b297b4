// The controller process's configuration: the only place that reads flags and the environment.
// Flags win over env, env over defaults; the result is validated and frozen, then passed down.
//
//   --listen host:port                      TRIBUTARY_LISTEN                         127.0.0.1:19090
//   --internal-listen host:port             TRIBUTARY_INTERNAL_LISTEN                (none: --listen serves brokers too)
//   --data-dir dir                          TRIBUTARY_DATA_DIR                       ./.tributary/controller
//   --session-timeout-ms n                  TRIBUTARY_BROKER_SESSION_TIMEOUT_MS      3000
//   --cluster-id id                         TRIBUTARY_CLUSTER_ID                     generated once, kept in the log
//   --auto-leader-rebalance-enable bool     TRIBUTARY_AUTO_LEADER_REBALANCE_ENABLE   true
//   --leader-imbalance-check-interval-ms n  TRIBUTARY_LEADER_IMBALANCE_CHECK_INTERVAL_MS 5000
//   --log-level level                       TRIBUTARY_LOG_LEVEL                      info
//   --request-timeout-ms n                  TRIBUTARY_REQUEST_TIMEOUT_MS             30000
//   --connections-max n                     TRIBUTARY_CONNECTIONS_MAX                1000
//   --request-bytes-in-flight-max n         TRIBUTARY_REQUEST_BYTES_IN_FLIGHT_MAX    16777216
//   --tls-cert file --tls-key file          TRIBUTARY_TLS_CERT, TRIBUTARY_TLS_KEY    (none: plaintext, no security)
//   --tls-ca file                           TRIBUTARY_TLS_CA                         the cluster CA (all three or none)
//   --super-users User:a;User:b             TRIBUTARY_SUPER_USERS                    (none)
//   --bootstrap-user name:password-file     TRIBUTARY_BOOTSTRAP_USER                 (none): created at start if absent

import { resolve } from 'node:path';
import { CLUSTER_DEFAULTS, DEFAULT_CONTROLLER_PORT } from '@tributary/protocol';

export interface ControllerConfig {
  /** Clients, admin, the web console, metrics (and brokers, unless internalListen is set). */
  readonly listen: { readonly host: string; readonly port: number };
  /** The internal listener: the only one serving broker registration, heartbeats, metadata and AlterPartition. */
  readonly internalListen: { readonly host: string; readonly port: number } | undefined;
  readonly dataDir: string;
  /** broker.session.timeout.ms: a broker silent this long is fenced. */
  readonly sessionTimeoutMs: number;
  /** How often sessions are checked (not a flag: a quarter of a second keeps fencing prompt). */
  readonly sessionCheckIntervalMs: number;
  readonly clusterId: string | undefined;
  readonly autoLeaderRebalanceEnable: boolean;
  readonly leaderImbalanceCheckIntervalMs: number;
  readonly logLevel: string;
  /** Request limits (DESIGN.md § Limits): see ControllerRequestLimits. */
  readonly requestLimits: ControllerRequestLimits;
  /** Security (issue 20): TLS files, super users, a user to create at start. Absent: plaintext. */
  readonly security: ControllerSecurityConfig | undefined;
  /**
   * A metadata snapshot is written once this many records were appended since the last one
   * (KRaft's metadata.log.max.record.bytes.between.snapshots, counted in records).
   */
  readonly metadataSnapshotIntervalRecords: number;
}

export interface ControllerSecurityConfig {
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly tlsCaFile: string;
  /** Kafka's super.users, `User:admin;User:ops`. */
  readonly superUsers: string;
  /** `name` and the file holding its password: the user is created at start unless it exists. */
  readonly bootstrapUser: { readonly name: string; readonly passwordFile: string } | undefined;
}

/**
 * What one request, and all requests together, may make the controller hold. Every controller
 * request is small (the largest legitimate ones: create-topic with 100 configs, an AlterPartition
 * with a 1000-member ISR, elect-leaders naming 10,000 partitions, all well under 64 KiB), and the
 * controller's loop is every broker's session clock, so its limits are tight.
 */
export interface ControllerRequestLimits {
  /** Largest request body. */
  readonly bodyBytesMax: number;
  /** Values in a body, map keys included (elect-leaders' 10,000 partitions and room). */
  readonly elementsMax: number;
  /** Containers in containers (create-topic: body → configs). */
  readonly depthMax: number;
  /** Time to receive a whole request; a trickled one is cut off (408). */
  readonly requestTimeoutMs: number;
  /** Time to receive a request's headers; also closes a connection that never sends one. */
  readonly headersTimeoutMs: number;
  /** A keep-alive connection idle this long is closed (Kafka's connections.max.idle.ms). */
  readonly idleTimeoutMs: number;
  /** Open connections (Kafka's max.connections); more are refused. */
  readonly connectionsMax: number;
  /** Request bytes admitted and not yet handled (Kafka's queued.max.request.bytes); more wait, unread. */
  readonly requestBytesInFlightMax: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface FlagSpec {
  env: string;
}

const FLAGS: Record<string, FlagSpec> = {
  listen: { env: 'TRIBUTARY_LISTEN' },
  'internal-listen': { env: 'TRIBUTARY_INTERNAL_LISTEN' },
  'data-dir': { env: 'TRIBUTARY_DATA_DIR' },
  'session-timeout-ms': { env: 'TRIBUTARY_BROKER_SESSION_TIMEOUT_MS' },
  'cluster-id': { env: 'TRIBUTARY_CLUSTER_ID' },
  'auto-leader-rebalance-enable': { env: 'TRIBUTARY_AUTO_LEADER_REBALANCE_ENABLE' },
  'leader-imbalance-check-interval-ms': { env: 'TRIBUTARY_LEADER_IMBALANCE_CHECK_INTERVAL_MS' },
  'log-level': { env: 'TRIBUTARY_LOG_LEVEL' },
  'request-timeout-ms': { env: 'TRIBUTARY_REQUEST_TIMEOUT_MS' },
  'connections-max': { env: 'TRIBUTARY_CONNECTIONS_MAX' },
  'request-bytes-in-flight-max': { env: 'TRIBUTARY_REQUEST_BYTES_IN_FLIGHT_MAX' },
  'tls-cert': { env: 'TRIBUTARY_TLS_CERT' },
  'tls-key': { env: 'TRIBUTARY_TLS_KEY' },
  'tls-ca': { env: 'TRIBUTARY_TLS_CA' },
  'super-users': { env: 'TRIBUTARY_SUPER_USERS' },
  'bootstrap-user': { env: 'TRIBUTARY_BOOTSTRAP_USER' },
  'metadata-snapshot-interval-records': { env: 'TRIBUTARY_METADATA_SNAPSHOT_INTERVAL_RECORDS' },
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const USAGE = `usage: tributary-controller [--listen host:port] [--internal-listen host:port] [--data-dir dir] [--session-timeout-ms n] [--cluster-id id]
                            [--auto-leader-rebalance-enable true|false] [--leader-imbalance-check-interval-ms n] [--log-level level]
                            [--request-timeout-ms n] [--connections-max n] [--request-bytes-in-flight-max n]
                            [--tls-cert file --tls-key file --tls-ca file] [--super-users User:a;User:b] [--bootstrap-user name:password-file]
                            [--metadata-snapshot-interval-records n]`;

/** Parses argv (without node and script) and env. Throws ConfigError with a one-line reason. */
export function parseControllerConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ControllerConfig {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (!Object.hasOwn(FLAGS, name)) throw new ConfigError(`unknown flag --${name}`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i += 1;
    }
    if (value === undefined) throw new ConfigError(`flag --${name} needs a value`);
    values.set(name, value);
  }
  const get = (name: string): string | undefined => {
    if (values.has(name)) return values.get(name);
    const fromEnv = env[FLAGS[name]!.env];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };

  const listen = parseHostPort('listen', get('listen') ?? `127.0.0.1:${DEFAULT_CONTROLLER_PORT}`);
  const internalRaw = get('internal-listen');
  const internalListen = internalRaw === undefined ? undefined : parseHostPort('internal-listen', internalRaw);
  if (internalListen !== undefined && internalListen.port !== 0 && internalListen.port === listen.port && internalListen.host === listen.host) {
    throw new ConfigError(`--internal-listen must differ from --listen (both ${listen.host}:${listen.port})`);
  }
  const dataDir = resolve(get('data-dir') ?? './.tributary/controller');
  const sessionTimeoutMs = parseInteger('session-timeout-ms', get('session-timeout-ms'), CLUSTER_DEFAULTS.brokerSessionTimeoutMs, 100, 3_600_000);
  const clusterId = get('cluster-id');
  if (clusterId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(clusterId)) {
    throw new ConfigError(`--cluster-id must be 1-64 characters of [A-Za-z0-9_-], got '${clusterId}'`);
  }
  const rebalance = get('auto-leader-rebalance-enable') ?? String(CLUSTER_DEFAULTS.autoLeaderRebalanceEnable);
  if (rebalance !== 'true' && rebalance !== 'false') {
    throw new ConfigError(`--auto-leader-rebalance-enable must be true or false, got '${rebalance}'`);
  }
  const leaderImbalanceCheckIntervalMs = parseInteger(
    'leader-imbalance-check-interval-ms',
    get('leader-imbalance-check-interval-ms'),
    CLUSTER_DEFAULTS.leaderImbalanceCheckIntervalMs,
    100,
    86_400_000,
  );
  const logLevel = get('log-level') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`);

  const requestTimeoutMs = parseInteger('request-timeout-ms', get('request-timeout-ms'), 30_000, 1000, 3_600_000);
  const bodyBytesMax = 64 * 1024;
  const requestLimits: ControllerRequestLimits = Object.freeze({
    bodyBytesMax,
    elementsMax: 16_384,
    depthMax: 8,
    requestTimeoutMs,
    headersTimeoutMs: Math.min(10_000, requestTimeoutMs),
    idleTimeoutMs: 60_000,
    connectionsMax: parseInteger('connections-max', get('connections-max'), 1000, 16, 1_000_000),
    requestBytesInFlightMax: parseInteger(
      'request-bytes-in-flight-max',
      get('request-bytes-in-flight-max'),
      16 * 1024 * 1024,
      bodyBytesMax,
      1024 * 1024 * 1024,
    ),
  });

  const tlsFiles = (['tls-cert', 'tls-key', 'tls-ca'] as const).map((name) => get(name));
  if (tlsFiles.some((f) => f !== undefined) && tlsFiles.some((f) => f === undefined)) {
    throw new ConfigError('--tls-cert, --tls-key and --tls-ca go together: give all three (a secure cluster) or none');
  }
  const superUsers = get('super-users') ?? '';
  for (const u of superUsers
    .split(/[;,]/)
    .map((x) => x.trim())
    .filter((x) => x !== '')) {
    if (!/^User:.+$/.test(u)) throw new ConfigError(`--super-users must list User:<name> principals separated by ';', got '${u}'`);
  }
  const bootstrapRaw = get('bootstrap-user');
  const bootstrapMatch = bootstrapRaw === undefined ? null : /^([^:]{1,255}):(.+)$/.exec(bootstrapRaw);
  if (bootstrapRaw !== undefined && bootstrapMatch === null) throw new ConfigError(`--bootstrap-user must be name:password-file, got '${bootstrapRaw}'`);
  if (bootstrapRaw !== undefined && tlsFiles[0] === undefined)
    throw new ConfigError('--bootstrap-user needs a secure controller (--tls-cert, --tls-key, --tls-ca)');
  const security: ControllerSecurityConfig | undefined =
    tlsFiles[0] === undefined
      ? undefined
      : Object.freeze({
          tlsCertFile: resolve(tlsFiles[0]),
          tlsKeyFile: resolve(tlsFiles[1]!),
          tlsCaFile: resolve(tlsFiles[2]!),
          superUsers,
          bootstrapUser: bootstrapMatch === null ? undefined : Object.freeze({ name: bootstrapMatch[1]!, passwordFile: resolve(bootstrapMatch[2]!) }),
        });

  return Object.freeze({
    security,
    listen: Object.freeze(listen),
    internalListen: internalListen === undefined ? undefined : Object.freeze(internalListen),
    dataDir,
    sessionTimeoutMs,
    sessionCheckIntervalMs: 250,
    clusterId,
    autoLeaderRebalanceEnable: rebalance === 'true',
    leaderImbalanceCheckIntervalMs,
    logLevel,
    requestLimits,
    metadataSnapshotIntervalRecords: parseInteger('metadata-snapshot-interval-records', get('metadata-snapshot-interval-records'), 20_000, 1, 100_000_000),
  });
}

function parseHostPort(flag: string, text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`--${flag} must be host:port (port 0-65535), got '${text}'`);
  }
  return { host: (match[1] ?? match[2])!, port };
}

function parseInteger(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`--${name} must be an integer between ${min} and ${max}, got '${text}'`);
  }
  return n;
}
