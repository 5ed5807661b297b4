import { describe, expect, it } from 'vitest';
import { ConfigError, loadBrokerConfig } from './config.ts';

describe('broker config', () => {
  it('applies defaults from the id', () => {
    const c = loadBrokerConfig(['--id', '3']);
    expect(c).toMatchObject({
      brokerId: 3,
      rack: 'rack-1',
      listen: { host: '127.0.0.1', port: 19095 },
      advertise: { host: '127.0.0.1', port: 19095 },
      externalListen: undefined,
      controller: { host: '127.0.0.1', port: 19090 },
      replicaLagTimeMaxMs: 10_000,
      producerIdExpirationMs: 86_400_000, // Kafka's producer.id.expiration.ms default
    });
    expect(loadBrokerConfig(['--id', '3', '--producer-id-expiration-ms', '60000']).producerIdExpirationMs).toBe(60_000);
    expect(loadBrokerConfig(['--id', '3'], { TRIBUTARY_PRODUCER_ID_EXPIRATION_MS: '5000' }).producerIdExpirationMs).toBe(5000);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('takes the Kafka listeners (issue 19), each advertised as bound by default, and refuses them on a secure broker', () => {
    expect(loadBrokerConfig(['--id', '0'])).toMatchObject({ kafkaListen: undefined, kafkaAdvertise: undefined, kafkaExternalListen: undefined });
    const c = loadBrokerConfig(['--id', '0', '--kafka-listen', '0.0.0.0:29092', '--kafka-advertise', 'broker-0:29092'], {
      TRIBUTARY_KAFKA_EXTERNAL_LISTEN: '0.0.0.0:29093',
      TRIBUTARY_KAFKA_EXTERNAL_ADVERTISE: '127.0.0.1:9092',
    });
    expect(c).toMatchObject({
      kafkaListen: { host: '0.0.0.0', port: 29092 },
      kafkaAdvertise: { host: 'broker-0', port: 29092 },
      kafkaExternalListen: { host: '0.0.0.0', port: 29093 },
      kafkaExternalAdvertise: { host: '127.0.0.1', port: 9092 },
    });
    expect(loadBrokerConfig(['--id', '0', '--kafka-listen', '127.0.0.1:9092']).kafkaAdvertise).toEqual({ host: '127.0.0.1', port: 9092 });
    expect(() => loadBrokerConfig(['--id', '0', '--kafka-advertise', 'h:1'])).toThrow(/needs --kafka-listen/);
    expect(() => loadBrokerConfig(['--id', '0', '--kafka-external-listen', 'h:1'])).toThrow(/needs --kafka-listen/);
    // A secure broker's Kafka listener is SASL_SSL (kafka-sasl.ts).
    expect(loadBrokerConfig(['--id', '0', '--kafka-listen', '127.0.0.1:9092', '--tls-cert', 'c', '--tls-key', 'k', '--tls-ca', 'a']).security).toMatchObject({
      tlsCertFile: 'c',
    });
  });

  it('has Kafka\u2019s group coordinator defaults, and takes them from flags and env', () => {
    expect(loadBrokerConfig(['--id', '0'], {})).toMatchObject({
      groupMinSessionTimeoutMs: 6000,
      groupMaxSessionTimeoutMs: 1_800_000,
      groupInitialRebalanceDelayMs: 3000,
      groupMaxSize: 1000,
      offsetsTopicPartitions: 50,
      offsetsTopicReplicationFactor: 3,
      offsetsRetentionMs: 7 * 24 * 3600 * 1000,
      offsetsRetentionCheckIntervalMs: 600_000,
      offsetsCommitTimeoutMs: 5000,
      offsetMetadataMaxBytes: 4096,
    });
    const c = loadBrokerConfig(['--id', '0', '--offsets-topic-replication-factor', '1', '--group-initial-rebalance-delay-ms', '0'], {
      TRIBUTARY_GROUP_MIN_SESSION_TIMEOUT_MS: '1000',
      TRIBUTARY_OFFSETS_RETENTION_MINUTES: '2',
    });
    expect(c).toMatchObject({ offsetsTopicReplicationFactor: 1, groupInitialRebalanceDelayMs: 0, groupMinSessionTimeoutMs: 1000, offsetsRetentionMs: 120_000 });
    expect(() => loadBrokerConfig(['--id', '0', '--group-min-session-timeout-ms', '9000', '--group-max-session-timeout-ms', '8000'], {})).toThrow(ConfigError);
    expect(() => loadBrokerConfig(['--id', '0', '--offsets-topic-replication-factor', '0'], {})).toThrow(/offsets-topic-replication-factor/);
  });

  it('has Kafka-sized request limits by default, and takes them from flags', () => {
    expect(loadBrokerConfig(['--id', '0'], {})).toMatchObject({
      requestTimeoutMs: 30_000,
      requestHeadersTimeoutMs: 10_000,
      connectionIdleTimeoutMs: 60_000,
      connectionsMax: 1000,
      requestBytesInFlightMax: 128 * 1024 * 1024,
      produceBodyBytesMax: 16 * 1024 * 1024,
      fetchBodyBytesMax: 4 * 1024 * 1024,
      adminBodyBytesMax: 64 * 1024,
      fetchBytesMax: 55 * 1024 * 1024,
    });
    const flags = [
      '--id',
      '0',
      '--request-timeout-ms',
      '5000',
      '--connections-max',
      '64',
      '--request-bytes-in-flight-max',
      '33554432',
      '--produce-body-bytes-max',
      '1048576',
      '--fetch-bytes-max',
      '1048576',
    ];
    expect(loadBrokerConfig(flags, {})).toMatchObject({
      requestTimeoutMs: 5000,
      requestHeadersTimeoutMs: 5000,
      connectionsMax: 64,
      requestBytesInFlightMax: 33_554_432,
      produceBodyBytesMax: 1_048_576,
      fetchBytesMax: 1_048_576,
    });
  });

  it("has Kafka's log.cleaner.* defaults, takes them from flags and env, and names a bad one", () => {
    expect(loadBrokerConfig(['--id', '0'], {})).toMatchObject({
      logCleanerEnable: true,
      logCleanerIoMaxBytesPerSecond: Number.MAX_SAFE_INTEGER,
      logCleanerDedupeBufferBytes: 128 * 1024 * 1024,
      logCleanerIoBufferBytes: 512 * 1024,
      logCleanerBackoffMs: 15_000,
    });
    const flags = ['--id', '0', '--log-cleaner-enable', 'false', '--log-cleaner-io-max-bytes-per-second', '1048576', '--log-cleaner-backoff-ms', '200'];
    expect(loadBrokerConfig(flags, { TRIBUTARY_LOG_CLEANER_DEDUPE_BUFFER_SIZE: '1048576' })).toMatchObject({
      logCleanerEnable: false,
      logCleanerIoMaxBytesPerSecond: 1_048_576,
      logCleanerDedupeBufferBytes: 1_048_576,
      logCleanerBackoffMs: 200,
    });
    expect(() => loadBrokerConfig(['--id', '0', '--log-cleaner-enable', 'yes'], {})).toThrow(
      /--log-cleaner-enable \(TRIBUTARY_LOG_CLEANER_ENABLE\) must be true or false/,
    );
    expect(() => loadBrokerConfig(['--id', '0', '--log-cleaner-dedupe-buffer-size', '10'], {})).toThrow(
      /--log-cleaner-dedupe-buffer-size .* must be an integer/,
    );
  });

  it('checks leader batches inline unless --validator-thread (or its env) is true, and names a bad value', () => {
    expect(loadBrokerConfig(['--id', '0'], {}).validatorThread).toBe(false);
    expect(loadBrokerConfig(['--id', '0', '--validator-thread', 'true'], {}).validatorThread).toBe(true);
    expect(loadBrokerConfig(['--id', '0'], { TRIBUTARY_VALIDATOR_THREAD: 'true' }).validatorThread).toBe(true);
    expect(() => loadBrokerConfig(['--id', '0', '--validator-thread', 'on'], {})).toThrow(
      /--validator-thread \(TRIBUTARY_VALIDATOR_THREAD\) must be true or false, got 'on'/,
    );
  });

  it('reads env, and flags win over env', () => {
    const env = {
      TRIBUTARY_BROKER_ID: '4',
      TRIBUTARY_RACK: 'rack-2',
      TRIBUTARY_LISTEN: '0.0.0.0:9092',
      TRIBUTARY_ADVERTISE: 'broker-4:9092',
      TRIBUTARY_EXTERNAL_LISTEN: '0.0.0.0:19096',
      TRIBUTARY_EXTERNAL_ADVERTISE: '127.0.0.1:19096',
      TRIBUTARY_CONTROLLER: 'controller:19090',
    };
    const c = loadBrokerConfig(['--rack', 'rack-9'], env);
    expect(c).toMatchObject({
      brokerId: 4,
      rack: 'rack-9',
      listen: { host: '0.0.0.0', port: 9092 },
      advertise: { host: 'broker-4', port: 9092 },
      externalListen: { host: '0.0.0.0', port: 19096 },
      externalAdvertise: { host: '127.0.0.1', port: 19096 },
      controller: { host: 'controller', port: 19090 },
    });
  });

  it.each([
    [[], /--id .* is required/],
    [['--id', '-1'], /--id/],
    [['--id', '1000001'], /--id/],
    [['--id', 'x'], /--id/],
    [['--id', '1', '--listen', 'nohost'], /--listen .* host:port/],
    [['--id', '1', '--controller', 'h:99999'], /--controller/],
    [['--id', '1', '--replica-lag-time-max-ms', '5'], /replica-lag-time-max-ms/],
    [['--id', '1', '--external-advertise', 'h:1'], /needs --external-listen/],
    [['--id', '1', '--nope', '1'], /nope/],
    [['--id', '1', '--log-level', 'loud'], /log-level/],
    [['--id', '1', '--producer-id-expiration-ms', '0'], /producer-id-expiration-ms/],
    [['--id', '1', '--connections-max', '3'], /connections-max/],
    [
      ['--id', '1', '--produce-body-bytes-max', '33554432', '--request-bytes-in-flight-max', '16777216'],
      /request-bytes-in-flight-max .* must be at least the largest request body/,
    ],
  ])('refuses %j with one clear line', (argv, message) => {
    expect(() => loadBrokerConfig(argv as string[], {})).toThrow(ConfigError);
    expect(() => loadBrokerConfig(argv as string[], {})).toThrow(message);
  });
});
