// Wires one broker together: logs, replica manager, fetchers, the controller channel, one
// fastify app per listener, metrics and the housekeeping timers. `startBroker` is what main.ts
// and in-process tests call.

import { readFileSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { parseSuperUsers } from '@tributary/auth';
import { ProcessSecurity, requireOwnCertificate } from '@tributary/auth/server';
import { LogManager, sharedBatchValidator } from '@tributary/storage';
import { RpcClientPool } from '@tributary/transport';
import { createMsgpackServer, createServerBudget, type FastifyInstance } from '@tributary/transport/server';
import { AssertionError, BROKER_INTERNAL_PATHS, type Endpoint, type MetadataPollResponse } from '@tributary/protocol';
import { AlterPartitionManager } from './alter-partition-manager.ts';
import { brokerRouteLimits, registerBrokerRoutes } from './broker-service.ts';
import type { BrokerConfig } from './config.ts';
import { ControllerChannel } from './controller-channel.ts';
import { CoordinatorHost } from './coordinator-host.ts';
import { registerGroupRoutes } from './group-service.ts';
import { KafkaApis } from './kafka-apis.ts';
import { KafkaListener } from './kafka-listener.ts';
import { DataDirIdentity } from './meta-properties.ts';
import { handOverComplete, leadershipsToHandOver } from './controlled-shutdown.ts';
import { LogCleaner } from './log-cleaner.ts';
import { BrokerMetrics } from './metrics.ts';
import { ReplicaFetcherManager } from './replica-fetcher.ts';
import { FOLLOWER_THROTTLE_CONFIG, ReplicaManager } from './replica-manager.ts';
import { ReplicationQuota } from './throttle.ts';

export { FOLLOWER_THROTTLE_CONFIG, LEADER_THROTTLE_CONFIG } from './replica-manager.ts';

export interface BrokerHandle {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly replicas: ReplicaManager;
  readonly channel: ControllerChannel;
  readonly metrics: BrokerMetrics;
  /** The group coordinator of the __consumer_offsets partitions this broker leads. */
  readonly coordinator: CoordinatorHost;
  readonly cleaner: LogCleaner;
  readonly apps: { internal: FastifyInstance; external: FastifyInstance | undefined };
  /**
   * Authentication and authorization (issue 20): its `authorizer` (Kafka's ACLs over this
   * broker's metadata) and `sessions` (SCRAM exchanges and SASL/PLAIN against the credentials in
   * the metadata) are what the Kafka listener calls for SASL and ACL checks.
   */
  readonly security: ProcessSecurity;
  /** Bound addresses (port 0 resolved). */
  readonly addresses: { internal: Endpoint; external: Endpoint | undefined };
  /** The Kafka-protocol listeners' bound addresses (issue 19), when configured. */
  readonly kafkaAddresses: { internal: Endpoint; external: Endpoint | undefined } | undefined;
  /** Asks the controller to move leaderships away, and waits until they have moved (SIGTERM). */
  controlledShutdown(): Promise<void>;
  close(): Promise<void>;
}

export interface StartBrokerOptions {
  logger?: Logger;
  /**
   * Called with a programmer error (a broken invariant) raised while serving a request, after
   * it was answered UNKNOWN_SERVER_ERROR. main.ts exits: a wrong broker must stop, not serve.
   */
  onFatal?: (err: unknown) => void;
}

export async function startBroker(config: BrokerConfig, options: StartBrokerOptions = {}): Promise<BrokerHandle> {
  const logger = options.logger ?? pino({ level: config.logLevel, base: { role: 'broker', brokerId: config.brokerId, rack: config.rack } });
  // A secure broker's files, read and checked before anything is opened: its certificate must be
  // broker-<id>'s, the only one the controller and the other brokers accept as this broker.
  const tls =
    config.security === undefined
      ? undefined
      : {
          cert: readFileSync(config.security.tlsCertFile, 'utf8'),
          key: readFileSync(config.security.tlsKeyFile, 'utf8'),
          ca: readFileSync(config.security.tlsCaFile, 'utf8'),
        };
  if (tls !== undefined) requireOwnCertificate(tls.cert, `broker-${config.brokerId}`, config.security!.tlsCertFile);
  // --validator-thread: big leader batches are checked on a second thread while written
  // (Log.appendOverlapped), started by the first; if it cannot run, they are checked inline.
  const validator = config.validatorThread ? sharedBatchValidator() : null;
  if (validator !== null) validator.onFailure = (err) => logger.warn({ err }, 'batch validator thread unavailable: leader batches are checked inline');
  const logs = new LogManager(config.dataDir, { logger: logger.child({ module: 'storage' }), validator });
  let identity: DataDirIdentity;
  try {
    identity = new DataDirIdentity(config.dataDir, config.brokerId);
  } catch (err) {
    logs.close();
    throw err;
  }
  logger.info(
    { dataDir: config.dataDir, directoryId: identity.directoryId, clusterId: identity.clusterId, newDataDir: identity.created },
    identity.created ? 'data dir is new: made its meta.properties' : 'data dir identity read',
  );
  let metrics!: BrokerMetrics;
  let replicas!: ReplicaManager;
  const security = new ProcessSecurity({
    config: config.security === undefined || tls === undefined ? undefined : { tls, superUsers: parseSuperUsers(config.security.superUsers) },
    credentials: (user, mechanism) => replicas?.metadata.scramCredential(user, mechanism),
    acls: () => ({ version: replicas?.metadata.version ?? -1, bindings: replicas?.metadata.acls() ?? [] }),
    internalPaths: BROKER_INTERNAL_PATHS,
    logger: logger.child({ module: 'security' }),
    onAuthenticationFailure: (reason) => metrics?.authenticationFailures.inc({ reason }),
    onAuthorizationFailure: (d) => metrics?.authorizationFailures.inc({ operation: d.operation, resource_type: d.resourceType }),
  });
  const clientTls = security.clientTls();
  const clients = new RpcClientPool({ connectionsMax: 2, timeoutMs: 30_000, ...(clientTls ? { tls: clientTls } : {}) });
  let channel!: ControllerChannel;
  let metadataSeen = false;

  // Listeners first: the controller must be told where we listen (port 0 resolved). Both share
  // one budget: connectionsMax and requestBytesInFlightMax are per process, not per listener.
  const routeLimits = brokerRouteLimits(config);
  const budget = createServerBudget(config);
  const serverOptions = {
    ...security.serverOptions(),
    logger,
    limits: {
      body: routeLimits.admin,
      requestTimeoutMs: config.requestTimeoutMs,
      headersTimeoutMs: config.requestHeadersTimeoutMs,
      idleTimeoutMs: config.connectionIdleTimeoutMs,
    },
    budget,
    onUnexpectedError: (err: unknown) => {
      logger.error({ err }, 'unexpected error while serving a request');
      if (err instanceof AssertionError) options.onFatal?.(err);
    },
  };
  const apps: { internal: FastifyInstance; external: FastifyInstance | undefined } = {
    internal: createMsgpackServer(serverOptions),
    external: config.externalListen !== undefined ? createMsgpackServer(serverOptions) : undefined,
  };

  const fetchers = new ReplicaFetcherManager({
    brokerId: config.brokerId,
    brokerEpoch: () => channel.brokerEpoch,
    clients,
    endpointOf: (id) => replicas.metadata.broker(id)?.internal,
    throttleRate: () => {
      const rate = replicas.metadata.broker(config.brokerId)?.configs?.[FOLLOWER_THROTTLE_CONFIG];
      return rate !== undefined && rate > 0 ? rate : undefined;
    },
    followerQuota: new ReplicationQuota(),
    throttleListsInUse: () => replicas.throttleListsInUse,
    maxWaitMs: config.replicaFetchMaxWaitMs,
    maxBytes: config.replicaFetchMaxBytes,
    fetchSessions: config.replicaFetchSessions,
    logger: logger.child({ module: 'fetcher' }),
    onFetched: (bytes, _latencyMs, reassignmentBytes) => {
      metrics.replicationBytesIn.inc(bytes);
      if (reassignmentBytes > 0) metrics.reassignmentBytesIn.inc(reassignmentBytes);
    },
  });

  // ISR proposals leave batched: one AlterPartition (one controller fsync) per burst.
  const alterPartitions = new AlterPartitionManager({ send: (partitions) => channel.alterPartitions(partitions) });
  let coordinator: CoordinatorHost | undefined;
  replicas = new ReplicaManager({
    brokerId: config.brokerId,
    rack: config.rack,
    logs,
    replicaLagTimeMaxMs: config.replicaLagTimeMaxMs,
    producerIdExpirationMs: config.producerIdExpirationMs,
    logger: logger.child({ module: 'replicas' }),
    alterPartition: (request) => alterPartitions.submit(request),
    onFollowersChanged: (byLeader) => fetchers.update(byLeader),
    onRolesChanged: () => coordinator?.onRolesChanged(),
    onIsrChange: (kind) => (kind === 'shrink' ? metrics.isrShrinks : metrics.isrExpands).inc(),
    fetchSessionCacheSlots: config.fetchSessionCacheSlots,
  });
  metrics = new BrokerMetrics({ brokerId: config.brokerId, rack: config.rack }, () => replicas);
  metrics.watchBudget(budget);
  replicas.loadLogs();
  const groups = new CoordinatorHost({
    brokerId: config.brokerId,
    replicas,
    logger: logger.child({ module: 'coordinator' }),
    coordinator: {
      groupMinSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      groupMaxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      groupInitialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      groupMaxSize: config.groupMaxSize,
      offsetMetadataMaxBytes: config.offsetMetadataMaxBytes,
      offsetsRetentionMs: config.offsetsRetentionMs,
    },
    offsetsTopicPartitions: config.offsetsTopicPartitions,
    offsetsTopicReplicationFactor: config.offsetsTopicReplicationFactor,
    offsetsCommitTimeoutMs: config.offsetsCommitTimeoutMs,
    offsetsRetentionCheckIntervalMs: config.offsetsRetentionCheckIntervalMs,
    offsetsLoadBufferBytes: config.offsetsLoadBufferBytes,
    createTopic: (request) => channel.forwardAdmin('create-topic', request),
    ...(options.onFatal ? { onFatal: options.onFatal } : {}),
  });
  coordinator = groups;
  metrics.watchCoordinator(groups, () => replicas);
  const cleaner = new LogCleaner({
    config: {
      enable: config.logCleanerEnable,
      ioMaxBytesPerSecond: config.logCleanerIoMaxBytesPerSecond,
      dedupeBufferBytes: config.logCleanerDedupeBufferBytes,
      ioBufferBytes: config.logCleanerIoBufferBytes,
      backoffMs: config.logCleanerBackoffMs,
      producerIdExpirationMs: config.producerIdExpirationMs,
    },
    logs: () => replicas.compactedLogs(),
    logger: logger.child({ module: 'log-cleaner' }),
  });
  metrics.watchCleaner(cleaner);

  const ready = () => channel.registered && metadataSeen;
  for (const [listener, app] of Object.entries(apps) as ['internal' | 'external', FastifyInstance | undefined][]) {
    if (app === undefined) continue;
    registerBrokerRoutes(app, {
      brokerId: config.brokerId,
      listener,
      replicas,
      metrics,
      controller: config.controller,
      isReady: ready,
      forwardAdmin: (op, body, principal) => channel.forwardAdmin(op, body, principal),
      routeLimits,
      fetchBytesMax: config.fetchBytesMax,
      security,
    });
    registerGroupRoutes(app, { listener, host: groups, metrics, routeLimits, security });
  }

  // The Kafka-protocol listeners (issue 19): the same replicas and coordinator, the same budget;
  // SASL_SSL with the same credentials and ACLs on a secure cluster (issue 20).
  const kafkaListeners: { internal: KafkaListener; external: KafkaListener | undefined } | undefined =
    config.kafkaListen === undefined
      ? undefined
      : (() => {
          const make = (name: 'internal' | 'external') =>
            new KafkaListener({
              name,
              apis: new KafkaApis({
                brokerId: config.brokerId,
                listener: name,
                replicas,
                groups,
                metrics,
                forwardAdmin: (op, body, principal) => channel.forwardAdmin(op, body, principal),
                authorizer: security.authorizer,
                fetchBytesMax: config.fetchBytesMax,
              }),
              ...(tls === undefined
                ? {}
                : { security: { tls, sessions: security.sessions, onRefused: (refusal) => security.kafkaAuthenticationRefused(refusal) } }),
              budget,
              frameBytesMax: config.kafkaFrameBytesMax,
              requestTimeoutMs: config.requestTimeoutMs,
              // Kafka's connections.max.idle.ms default: clients keep idle connections to every broker.
              idleTimeoutMs: 10 * 60_000,
              logger: logger.child({ module: `kafka-${name}` }),
              onUnexpectedError: serverOptions.onUnexpectedError,
            });
          return { internal: make('internal'), external: config.kafkaExternalListen === undefined ? undefined : make('external') };
        })();

  const bound = async (app: FastifyInstance, listen: Endpoint): Promise<Endpoint> => {
    await app.listen({ host: listen.host, port: listen.port });
    const address = app.server.address();
    return { host: listen.host, port: typeof address === 'object' && address !== null ? address.port : listen.port };
  };
  let internal: Endpoint;
  let external: Endpoint | undefined;
  let kafkaAddresses: { internal: Endpoint; external: Endpoint | undefined } | undefined;
  try {
    internal = await bound(apps.internal, config.listen);
    external = apps.external !== undefined ? await bound(apps.external, config.externalListen!) : undefined;
    if (kafkaListeners !== undefined) {
      kafkaAddresses = {
        internal: await kafkaListeners.internal.listen(config.kafkaListen!),
        external: kafkaListeners.external === undefined ? undefined : await kafkaListeners.external.listen(config.kafkaExternalListen!),
      };
    }
  } catch (err) {
    await Promise.allSettled([apps.internal.close(), apps.external?.close(), kafkaListeners?.internal.close(), kafkaListeners?.external?.close()]);
    logs.close();
    throw err;
  }
  const advertise = { host: config.advertise.host, port: config.advertise.port === 0 ? internal.port : config.advertise.port };
  const externalAdvertise =
    external === undefined
      ? advertise
      : {
          host: config.externalAdvertise!.host,
          port: config.externalAdvertise!.port === 0 ? external.port : config.externalAdvertise!.port,
        };

  const advertised = (at: Endpoint | undefined, boundTo: Endpoint | undefined): Endpoint | undefined =>
    at === undefined || boundTo === undefined ? undefined : { host: at.host, port: at.port === 0 ? boundTo.port : at.port };
  const kafkaInternal = advertised(config.kafkaAdvertise, kafkaAddresses?.internal);
  const kafka =
    kafkaInternal === undefined
      ? undefined
      : { internal: kafkaInternal, external: advertised(config.kafkaExternalAdvertise, kafkaAddresses?.external) ?? kafkaInternal };

  channel = new ControllerChannel({
    brokerId: config.brokerId,
    rack: config.rack,
    controller: config.controller,
    internal: advertise,
    external: externalAdvertise,
    ...(kafka ? { kafka } : {}),
    logDirId: identity.directoryId,
    clusterId: () => identity.clusterId,
    ...(clientTls ? { tls: clientTls } : {}),
    ...(options.onFatal ? { onFatal: options.onFatal } : {}),
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    metadataMaxWaitMs: config.metadataMaxWaitMs,
    logger: logger.child({ module: 'controller-channel' }),
    onMetadata: (md: MetadataPollResponse) => {
      // The first metadata names the cluster this data dir joins; later ones must match it
      // (the channel refuses others).
      identity.joinCluster(md.clusterId);
      if (!replicas.applyMetadata(md)) return false;
      groups.onRolesChanged();
      if (!metadataSeen) logger.info({ metadataVersion: md.version, partitions: replicas.partitionCount }, 'metadata loaded');
      metadataSeen = true;
      return true;
    },
  });
  channel.start();
  logger.info(
    {
      internal,
      external,
      advertise,
      externalAdvertise,
      kafka: kafkaAddresses,
      kafkaAdvertise: kafka,
      controller: config.controller,
      dataDir: config.dataDir,
      secure: security.enabled,
    },
    'broker listening',
  );

  // Housekeeping. Timers are unref'd: the listeners keep the process alive.
  const timers = [
    setInterval(() => replicas.checkIsr(), Math.max(1, Math.floor(config.replicaLagTimeMaxMs / 2))),
    setInterval(() => {
      replicas.checkpointInBackground().catch((err: unknown) => logger.error({ err }, 'checkpoint failed'));
    }, config.checkpointIntervalMs),
    setInterval(() => replicas.runRetention(), config.retentionCheckIntervalMs),
  ];
  for (const t of timers) t.unref();
  cleaner.start();

  let closing: Promise<void> | undefined;
  const handle: BrokerHandle = {
    config,
    logger,
    replicas,
    channel,
    metrics,
    coordinator: groups,
    cleaner,
    apps,
    security,
    addresses: { internal, external },
    kafkaAddresses,

    async controlledShutdown() {
      const startedMs = Date.now();
      const deadline = startedMs + config.controlledShutdownMaxMs;
      logger.info({}, 'controlled shutdown: moving leaderships away');
      let lastError: string | undefined;
      let askedAtVersion = replicas.metadata.version;
      while (Date.now() < deadline && channel.registered) {
        try {
          askedAtVersion = replicas.metadata.version;
          const res = await channel.controlledShutdown();
          if (res.remainingLeaderships === 0) break;
          logger.info({ remainingLeaderships: res.remainingLeaderships }, 'controlled shutdown: leaderships remain');
        } catch (err) {
          if ((err as Error).message !== lastError) logger.warn({ err }, 'controlled shutdown request failed; retrying');
          lastError = (err as Error).message;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      // Wait for the metadata that shows the moved leaderships gone, so no request is lost. A
      // leadership no live ISR peer can take does not hold the broker back (controlled-shutdown.ts).
      const done = () => handOverComplete(replicas.metadata, askedAtVersion, config.brokerId, channel.brokerEpoch, replicas.allPartitions());
      while (Date.now() < deadline && !done()) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const left = [...replicas.allPartitions()].filter((p) => p.isLeader).length;
      const durationMs = Date.now() - startedMs;
      if (!done()) {
        const waitingFor = leadershipsToHandOver(replicas.allPartitions(), config.brokerId, (id) => replicas.metadata.isAlive(id)).map(
          (p) => `${p.topic}-${p.partition}`,
        );
        logger.warn(
          { remainingLeaderships: left, waitingFor, controlledShutdownMaxMs: config.controlledShutdownMaxMs },
          'controlled shutdown deadline reached; stopping anyway',
        );
      }
      logger.info({ remainingLeaderships: left, durationMs }, 'controlled shutdown done');
    },

    close() {
      closing ??= (async () => {
        for (const t of timers) clearInterval(t);
        // A cleaning in progress is aborted (its uncommitted files deleted) before the logs close.
        await cleaner.stop();
        alterPartitions.close();
        await channel.close();
        await fetchers.close();
        groups.close();
        replicas.stopServing();
        await Promise.allSettled([apps.internal.close(), apps.external?.close(), kafkaListeners?.internal.close(), kafkaListeners?.external?.close()]);
        // The last periodic checkpoint finishes before close writes the final ones.
        await replicas.checkpointsSettled();
        replicas.close();
        await clients.close();
        logger.info({}, 'broker stopped');
      })();
      return closing;
    },
  };
  return handle;
}
