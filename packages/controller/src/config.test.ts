import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseControllerConfig } from './config.ts';

describe('parseControllerConfig', () => {
  it('has the documented defaults and is frozen', () => {
    const config = parseControllerConfig([], {});
    expect(config).toEqual({
      listen: { host: '127.0.0.1', port: 19090 },
      dataDir: resolve('./.tributary/controller'),
      sessionTimeoutMs: 3000,
      sessionCheckIntervalMs: 250,
      clusterId: undefined,
      autoLeaderRebalanceEnable: true,
      leaderImbalanceCheckIntervalMs: 5000,
      logLevel: 'info',
      requestLimits: {
        bodyBytesMax: 65_536,
        elementsMax: 16_384,
        depthMax: 8,
        requestTimeoutMs: 30_000,
        headersTimeoutMs: 10_000,
        idleTimeoutMs: 60_000,
        connectionsMax: 1000,
        requestBytesInFlightMax: 16 * 1024 * 1024,
      },
      metadataSnapshotIntervalRecords: 20_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.requestLimits)).toBe(true);
    expect(Object.isFrozen(config.listen)).toBe(true);
  });

  it('reads env, and flags win over env', () => {
    const env = { TRIBUTARY_LISTEN: '0.0.0.0:9000', TRIBUTARY_DATA_DIR: '/tmp/c', TRIBUTARY_BROKER_SESSION_TIMEOUT_MS: '6000', TRIBUTARY_CLUSTER_ID: 'abc' };
    expect(parseControllerConfig([], env)).toMatchObject({
      listen: { host: '0.0.0.0', port: 9000 },
      dataDir: '/tmp/c',
      sessionTimeoutMs: 6000,
      clusterId: 'abc',
    });
    const flags = [
      '--listen',
      '[::1]:0',
      '--data-dir=/tmp/d',
      '--session-timeout-ms',
      '1000',
      '--cluster-id',
      'xyz',
      '--auto-leader-rebalance-enable',
      'false',
      '--leader-imbalance-check-interval-ms',
      '300',
      '--log-level',
      'warn',
    ];
    expect(parseControllerConfig(flags, env)).toMatchObject({
      listen: { host: '::1', port: 0 },
      dataDir: '/tmp/d',
      sessionTimeoutMs: 1000,
      clusterId: 'xyz',
      autoLeaderRebalanceEnable: false,
      leaderImbalanceCheckIntervalMs: 300,
      logLevel: 'warn',
    });
    const limits = ['--request-timeout-ms', '5000', '--connections-max', '64', '--request-bytes-in-flight-max', '1048576'];
    expect(parseControllerConfig(limits, {}).requestLimits).toMatchObject({
      requestTimeoutMs: 5000,
      headersTimeoutMs: 5000,
      connectionsMax: 64,
      requestBytesInFlightMax: 1_048_576,
    });
  });

  it.each([
    [['--bogus', '1'], /unknown flag --bogus/],
    [['stray'], /unexpected argument 'stray'/],
    [['--listen'], /needs a value/],
    [['--listen', 'localhost'], /host:port/],
    [['--listen', 'h:70000'], /host:port/],
    [['--session-timeout-ms', 'soon'], /session-timeout-ms must be an integer/],
    [['--session-timeout-ms', '5'], /between 100/],
    [['--cluster-id', 'a b'], /cluster-id/],
    [['--auto-leader-rebalance-enable', 'yes'], /true or false/],
    [['--log-level', 'loud'], /log-level/],
    [['--connections-max', '0'], /connections-max must be an integer between 16/],
    [['--request-bytes-in-flight-max', '1000'], /request-bytes-in-flight-max must be an integer between 65536/],
  ])('%j -> ConfigError %s', (argv, message) => {
    expect(() => parseControllerConfig(argv, {})).toThrow(ConfigError);
    expect(() => parseControllerConfig(argv, {})).toThrow(message);
  });
});
