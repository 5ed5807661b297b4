// ControllerService: the fastify edge of the controller, serving exactly api.ts's controller
// routes over msgpack. Every body is checked with protocol's field validators before it reaches
// the ClusterController, so malformed input answers INVALID_REQUEST and never reaches the core.
// It also owns the metadata long polls: a poll waits until the version passes sinceVersion or
// its wait (capped at pollWaitMaxMs) ends, and is woken by commits, not by polling.

import type { Logger } from 'pino';
import {
  ADMIN_OPS,
  TributaryError,
  arrayField,
  asBody,
  endpointField,
  intArrayField,
  intField,
  stringField,
  type AclBinding,
  type AclBindingFilter,
  type AdminOp,
  type AlterUserScramCredentialsRequest,
  type Body,
  type ScramMechanismName,
  bytesField,
  type MetadataPollResponse,
  type ConfigResource,
  type ConfigValue,
  type HealthResponse,
  type TopicConfigInput,
  CONTROLLER_INTERNAL_PATHS,
  FORWARDED_HOST_HEADER,
  FORWARDED_PRINCIPAL_HEADER,
} from '@tributary/protocol';
import { PROMETHEUS_CONTENT_TYPE, createMsgpackServer, createServerBudget, type FastifyRequest, type MsgpackServer } from '@tributary/transport/server';
import { isClusterProcess, type Principal } from '@tributary/auth';
import { ProcessSecurity, clientHost, type SecurityConfig } from '@tributary/auth/server';
import type { ClusterController } from './cluster-controller.ts';
import { registerConsoleRoutes, type ConsoleHandle, type ConsoleOptions } from './console-service.ts';
import { parseControllerConfig, type ControllerRequestLimits } from './config.ts';
import { ControllerMetrics } from './metrics.ts';

const DEFAULT_REQUEST_LIMITS = parseControllerConfig([], {}).requestLimits;

export const POLL_WAIT_MAX_MS = 30_000;
const BROKER_ID_MAX = 0x7fffffff;
const EPOCH_MAX = 0x7fffffff;
const ISR_LENGTH_MAX = 1000;
const CONFIGS_MAX = 100;
const REASSIGNMENT_PARTITIONS_MAX = 10_000;
const TOPICS_MAX = 10_000;
const USERS_MAX = 1000;
const ACLS_MAX = 1000;
const ACL_FIELDS = ['principal', 'host', 'operation', 'permission', 'resourceType', 'resourceName', 'patternType'] as const;
/** Partitions in one AlterPartition request (the body limits bound it further: about 800 of RF 3). */
export const ALTER_PARTITION_BATCH_MAX = 10_000;

export interface ControllerServiceOptions {
  controller: ClusterController;
  logger: Logger;
  metrics?: ControllerMetrics;
  pollWaitMaxMs?: number;
  /** Request limits; default: the controller config's defaults. */
  requestLimits?: ControllerRequestLimits;
  /** A route threw something other than a TributaryError (a bug): default logs it; the process passes a crash. */
  onUnexpectedError?: (err: unknown) => void;
  /** The web console at /ui (on by default); false leaves it out. */
  console?: Omit<ConsoleOptions, 'controller' | 'logger'> | false;
  /**
   * Serve the broker-facing routes (register, heartbeat, controlled shutdown, metadata poll,
   * AlterPartition) on a second app of their own, the internal listener, and not on `app`
   * (DESIGN.md § Listeners). Off: one app serves everything (tests, embedding).
   */
  internalListener?: boolean;
  /**
   * A secure controller (issue 20): TLS on both listeners, clients authenticated (SCRAM, Basic,
   * or a cluster certificate), broker routes for cluster certificates only, admin calls checked
   * against the ACLs. Absent: plaintext, nothing checked.
   */
  security?: SecurityConfig;
}

export interface ControllerService {
  /** Clients, the web console and metrics; and the broker-facing routes unless `internalApp` exists. */
  app: MsgpackServer;
  /** The internal listener's app (broker-facing routes, admin, health), when asked for. */
  internalApp: MsgpackServer | undefined;
  metrics: ControllerMetrics;
  /** The web console (/ui), unless turned off. */
  console: ConsoleHandle | undefined;
  /** Authentication and authorization (a no-op on a plaintext controller). */
  security: ProcessSecurity;
  /** Number of metadata polls currently waiting (for tests). */
  waitingPolls(): number;
  /** Answers waiting polls at once and closes the server. */
  close(): Promise<void>;
}

interface Waiter {
  sinceVersion: number;
  wake: () => void;
}

export function createControllerService(options: ControllerServiceOptions): ControllerService {
  const { controller, logger } = options;
  const pollWaitMaxMs = options.pollWaitMaxMs ?? POLL_WAIT_MAX_MS;
  const metrics = options.metrics ?? new ControllerMetrics(controller);
  const limits = options.requestLimits ?? DEFAULT_REQUEST_LIMITS;
  // One budget (connections, request bytes in flight) for both listeners: it bounds the process.
  const budget = createServerBudget(limits);
  metrics.watchBudget(budget);
  const security = new ProcessSecurity({
    config: options.security,
    credentials: (user, mechanism) => controller.state.scramCredential(user, mechanism),
    acls: () => ({ version: controller.state.aclsVersion, bindings: controller.state.acls.values() }),
    internalPaths: CONTROLLER_INTERNAL_PATHS,
    logger: logger.child({ module: 'security' }),
    onAuthenticationFailure: (reason) => metrics.authenticationFailures.inc({ reason }),
    onAuthorizationFailure: (d) => metrics.authorizationFailures.inc({ operation: d.operation, resource_type: d.resourceType }),
  });
  const serverOptions = {
    ...security.serverOptions(),
    budget,
    logger,
    limits: {
      body: { bodyBytesMax: limits.bodyBytesMax, elementsMax: limits.elementsMax, depthMax: limits.depthMax },
      requestTimeoutMs: limits.requestTimeoutMs,
      headersTimeoutMs: limits.headersTimeoutMs,
      idleTimeoutMs: limits.idleTimeoutMs,
    },
    ...(options.onUnexpectedError ? { onUnexpectedError: options.onUnexpectedError } : {}),
  };
  const app = createMsgpackServer(serverOptions);
  const internalApp = options.internalListener ? createMsgpackServer(serverOptions) : undefined;
  // Broker-facing routes: only on the internal listener when there is one.
  const brokerApp = internalApp ?? app;
  const waiters = new Set<Waiter>();
  let closing = false;

  const unsubscribe = controller.subscribe(() => {
    for (const waiter of waiters) {
      if (controller.version > waiter.sinceVersion) waiter.wake();
    }
  });

  for (const served of internalApp ? [app, internalApp] : [app]) {
    served.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unknown';
      metrics.requests.inc({ route, status: String(reply.statusCode) });
      metrics.requestDuration.observe({ route }, reply.elapsedTime / 1000);
    });
  }

  // Each broker route checks, once its body is parsed and before it acts, that the caller's
  // certificate is the broker the body names (a secure cluster; cluster-identity.ts).
  brokerApp.post('/broker/register', async (request) => {
    const body = asBody(request.body);
    const registration = {
      brokerId: intField(body, 'brokerId', { min: 0, max: BROKER_ID_MAX }),
      rack: stringField(body, 'rack', 255),
      incarnationId: nonEmpty(body, 'incarnationId', 255),
      internal: endpointField(body, 'internal'),
      external: endpointField(body, 'external'),
      ...kafkaListenersField(body),
      logDirId: nonEmpty(body, 'logDirId', 64),
      clusterId: stringField(body, 'clusterId', 64),
    };
    security.requireClusterCall(request, { route: '/broker/register', brokerId: registration.brokerId });
    return controller.registerBroker(registration);
  });

  brokerApp.post('/broker/heartbeat', async (request) => {
    const body = asBody(request.body);
    const heartbeat = {
      brokerId: intField(body, 'brokerId', { min: 0, max: BROKER_ID_MAX }),
      brokerEpoch: intField(body, 'brokerEpoch', { min: 0, max: EPOCH_MAX }),
    };
    security.requireClusterCall(request, { route: '/broker/heartbeat', brokerId: heartbeat.brokerId });
    return controller.heartbeat(heartbeat);
  });

  brokerApp.post('/broker/controlled-shutdown', async (request) => {
    const body = asBody(request.body);
    const shutdown = {
      brokerId: intField(body, 'brokerId', { min: 0, max: BROKER_ID_MAX }),
      brokerEpoch: intField(body, 'brokerEpoch', { min: 0, max: EPOCH_MAX }),
    };
    security.requireClusterCall(request, { route: '/broker/controlled-shutdown', brokerId: shutdown.brokerId });
    return controller.controlledShutdown(shutdown);
  });

  brokerApp.post('/metadata/poll', async (request, reply): Promise<MetadataPollResponse> => {
    const body = asBody(request.body);
    security.requireClusterCall(request, { route: '/metadata/poll' });
    const sinceVersion = intField(body, 'sinceVersion', { min: -1 });
    const maxWaitMs = Math.min(intField(body, 'maxWaitMs', { min: 0 }), pollWaitMaxMs);
    if (body.deltas !== undefined && typeof body.deltas !== 'boolean') throw new TributaryError('INVALID_REQUEST', "field 'deltas' must be a boolean");
    const deltas = body.deltas === true;
    if (controller.version > sinceVersion || maxWaitMs === 0 || closing) return controller.metadataSince(sinceVersion, deltas);
    await new Promise<void>((resolve) => {
      const waiter: Waiter = {
        sinceVersion,
        wake: () => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, maxWaitMs);
      waiters.add(waiter);
      reply.raw.once('close', () => {
        // The poller went away before its answer: free the slot now, not at the end of its wait.
        if (!reply.raw.writableFinished) waiter.wake();
      });
    });
    return controller.metadataSince(sinceVersion, deltas);
  });

  brokerApp.post('/partition/alter', async (request) => {
    const body = asBody(request.body);
    const brokerId = intField(body, 'brokerId', { min: 0, max: BROKER_ID_MAX });
    security.requireClusterCall(request, { route: '/partition/alter', brokerId });
    return controller.alterPartitions({
      brokerId,
      brokerEpoch: intField(body, 'brokerEpoch', { min: 0, max: EPOCH_MAX }),
      partitions: arrayField(body, 'partitions', ALTER_PARTITION_BATCH_MAX).map((e, i) => {
        const item = asBody(e, `partitions[${i}]`);
        return {
          topic: stringField(item, 'topic', 249),
          partition: intField(item, 'partition', { min: 0, max: BROKER_ID_MAX }),
          leaderEpoch: intField(item, 'leaderEpoch', { min: 0, max: EPOCH_MAX }),
          partitionEpoch: intField(item, 'partitionEpoch', { min: 0, max: EPOCH_MAX }),
          newIsr: intArrayField(item, 'newIsr', { min: 0, max: BROKER_ID_MAX }, ISR_LENGTH_MAX),
          joiningEpochs:
            item.joiningEpochs === undefined || item.joiningEpochs === null
              ? []
              : arrayField(item, 'joiningEpochs', ISR_LENGTH_MAX).map((j, k) => {
                  const entry = asBody(j, `partitions[${i}].joiningEpochs[${k}]`);
                  return {
                    brokerId: intField(entry, 'brokerId', { min: 0, max: BROKER_ID_MAX }),
                    brokerEpoch: intField(entry, 'brokerEpoch', { min: 0, max: EPOCH_MAX }),
                  };
                }),
        };
      }),
    });
  });

  // Admin on both listeners: clients call it directly, brokers forward their clients' calls.
  const adminRoute = async (request: FastifyRequest) => {
    const op = (request.params as { op: string }).op;
    if (!(ADMIN_OPS as readonly string[]).includes(op)) {
      throw new TributaryError('INVALID_REQUEST', `unknown admin operation '${op}'; known: ${ADMIN_OPS.join(', ')}`);
    }
    // init-producer-id takes no fields: an absent body is fine there.
    const body = op === 'init-producer-id' && request.body === undefined ? {} : asBody(request.body);
    if (security.enabled) authorizeAdmin(op as AdminOp, body, caller(request));
    return admin(op as AdminOp, body);
  };
  security.registerAuthRoute(app);
  if (internalApp) security.registerAuthRoute(internalApp);

  /**
   * Who an admin call is for: its caller, or, when a broker forwards a client's call (Kafka's
   * EnvelopeRequest), the client the broker authenticated: honoured from cluster processes only.
   */
  function caller(request: FastifyRequest): { principal: Principal; host: string } {
    const principal = security.principal(request);
    const forwarded = request.headers[FORWARDED_PRINCIPAL_HEADER];
    if (isClusterProcess(principal) && typeof forwarded === 'string' && /^User:.+$/.test(forwarded)) {
      const host = request.headers[FORWARDED_HOST_HEADER];
      return { principal: { name: forwarded, via: 'scram' }, host: typeof host === 'string' ? host : '' };
    }
    return { principal, host: clientHost(request) };
  }

  /** Kafka's ACLs per admin operation (ours are Kafka's requests of the same purpose). */
  function authorizeAdmin(op: AdminOp, body: Body, who: { principal: Principal; host: string }): void {
    const authz = security.authorizer;
    const need = (operation: Parameters<typeof authz.require>[2], type: Parameters<typeof authz.require>[3], name?: string) =>
      authz.require(who.principal, who.host, operation, type, name);
    const topic = (field: string) => (typeof body[field] === 'string' ? (body[field] as string) : '');
    const resource = (): { type: 'Topic' | 'Cluster'; name?: string } => {
      const r = body.resource as { topic?: unknown } | undefined;
      return typeof r?.topic === 'string' ? { type: 'Topic', name: r.topic } : { type: 'Cluster' };
    };
    switch (op) {
      case 'create-topic':
        // CreateTopics: Create on the cluster, or on the topic.
        if (!authz.allows(who.principal, who.host, 'Create', 'Cluster')) need('Create', 'Topic', topic('name'));
        return;
      case 'delete-topic':
        return need('Delete', 'Topic', topic('name'));
      case 'create-partitions':
        return need('Alter', 'Topic', topic('topic'));
      case 'elect-leaders':
      case 'alter-partition-reassignments':
        return need('Alter', 'Cluster');
      case 'list-partition-reassignments':
        return need('Describe', 'Cluster');
      case 'set-broker-config':
        return need('AlterConfigs', 'Cluster');
      case 'describe-configs': {
        const r = resource();
        return need('DescribeConfigs', r.type, r.name);
      }
      case 'alter-configs': {
        const r = resource();
        return need('AlterConfigs', r.type, r.name);
      }
      case 'init-producer-id':
        // InitProducerId (KIP-679): IdempotentWrite on the cluster, or Write on any topic.
        if (!authz.allowsAny(who.principal, who.host, 'Write', 'Topic')) need('IdempotentWrite', 'Cluster');
        return;
      case 'alter-user-scram-credentials':
      case 'create-acls':
      case 'delete-acls':
        return need('Alter', 'Cluster');
      case 'describe-user-scram-credentials':
      case 'describe-acls':
        return need('Describe', 'Cluster');
    }
  }
  app.post('/admin/:op', adminRoute);
  internalApp?.post('/admin/:op', adminRoute);

  function admin(op: AdminOp, body: Body): unknown {
    switch (op) {
      case 'create-topic':
        return controller.createTopic({
          name: stringField(body, 'name', 1024),
          partitions: numberField(body, 'partitions'),
          replicationFactor: numberField(body, 'replicationFactor'),
          configs: topicConfigsField(body, 'configs'),
          validateOnly: body.validateOnly === true,
        });
      case 'delete-topic':
        return controller.deleteTopic(stringField(body, 'name', 1024));
      case 'init-producer-id':
        return controller.initProducerId();
      case 'elect-leaders': {
        const topic = stringField(body, 'topic', 1024);
        const partitions =
          body.partitions === undefined || body.partitions === null ? undefined : intArrayField(body, 'partitions', { min: 0, max: BROKER_ID_MAX });
        return controller.electLeaders(partitions === undefined ? { topic } : { topic, partitions });
      }
      case 'set-broker-config':
        return controller.setBrokerConfig({
          brokerId: intField(body, 'brokerId', { min: 0, max: BROKER_ID_MAX }),
          configs: numberMapField(body, 'configs'),
        });
      case 'alter-partition-reassignments':
        return controller.alterPartitionReassignments({
          partitions: arrayField(body, 'partitions', REASSIGNMENT_PARTITIONS_MAX).map((e, i) => {
            const entry = asBody(e, `partitions[${i}]`);
            const replicas = entry.replicas;
            return {
              topic: stringField(entry, 'topic', 249),
              partition: intField(entry, 'partition', { min: 0, max: BROKER_ID_MAX }),
              // null (or absent) cancels; an empty list reaches the core, which names the problem.
              replicas: replicas === undefined || replicas === null ? null : intArrayField(entry, 'replicas', { min: 0, max: BROKER_ID_MAX }, ISR_LENGTH_MAX),
            };
          }),
        });
      case 'list-partition-reassignments': {
        const topics = body.topics === undefined || body.topics === null ? undefined : stringArrayField(body, 'topics', TOPICS_MAX);
        return controller.listPartitionReassignments(topics);
      }
      case 'create-partitions':
        return controller.createPartitions({ topic: stringField(body, 'topic', 1024), totalCount: numberField(body, 'totalCount') });
      case 'describe-configs':
        return controller.describeConfigs(resourceField(body));
      case 'alter-configs': {
        const set = body.set === undefined || body.set === null ? {} : configValuesField(body, 'set');
        const deletes = body.delete === undefined || body.delete === null ? [] : stringArrayField(body, 'delete', CONFIGS_MAX);
        return controller.alterConfigs({ resource: resourceField(body), set, delete: deletes });
      }
      case 'alter-user-scram-credentials':
        return controller.alterUserScramCredentials(parseAlterUserScramCredentials(body));
      case 'describe-user-scram-credentials':
        return controller.describeUserScramCredentials(
          body.users === undefined || body.users === null ? undefined : stringArrayField(body, 'users', USERS_MAX),
        );
      case 'create-acls':
        return controller.createAcls({ creations: arrayField(body, 'creations', ACLS_MAX).map((e, i) => aclFilterField(e, `creations[${i}]`) as AclBinding) });
      case 'describe-acls':
        return controller.describeAcls(body.filter === undefined || body.filter === null ? {} : aclFilterField(body.filter, 'filter'));
      case 'delete-acls':
        return controller.deleteAcls({ filters: arrayField(body, 'filters', ACLS_MAX).map((e, i) => aclFilterField(e, `filters[${i}]`)) });
    }
  }

  const consoleTls = security.clientTls();
  const consoleHandle =
    options.console === false ? undefined : registerConsoleRoutes(app, { controller, logger, ...(consoleTls ? { tls: consoleTls } : {}), ...options.console });

  const health = async (): Promise<HealthResponse> => ({
    status: 'ok',
    role: 'controller',
    metadataVersion: controller.version,
  });
  app.get('/health', health);
  internalApp?.get('/health', health);

  app.get('/metrics', async (_request, reply) => {
    // A Buffer, not a string: the msgpack reply serializer would wrap a string in a msgpack header.
    const text = await metrics.registry.metrics();
    return reply.type(PROMETHEUS_CONTENT_TYPE).send(Buffer.from(text));
  });

  return {
    app,
    internalApp,
    metrics,
    console: consoleHandle,
    security,
    waitingPolls: () => waiters.size,
    async close() {
      closing = true;
      unsubscribe();
      for (const waiter of [...waiters]) waiter.wake();
      await Promise.all([app.close(), internalApp?.close()]);
    },
  };
}

function nonEmpty(body: Body, name: string, maxLength: number): string {
  const value = stringField(body, name, maxLength);
  if (value.length === 0) throw new TributaryError('INVALID_REQUEST', `field '${name}' must not be empty`);
  return value;
}

/** A number whose range the core checks (so a bad count is INVALID_PARTITIONS, not INVALID_REQUEST). */
function numberField(body: Body, name: string): number {
  const value = body[name];
  if (typeof value !== 'number') {
    throw new TributaryError('INVALID_REQUEST', `field '${name}' must be a number, got ${JSON.stringify(value) ?? 'nothing'}`);
  }
  return value;
}

function topicConfigsField(body: Body, name: string): TopicConfigInput | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  const map = asBody(value, `field '${name}'`);
  const entries = Object.entries(map);
  if (entries.length > CONFIGS_MAX) throw new TributaryError('INVALID_REQUEST', `field '${name}' has more than ${CONFIGS_MAX} entries`);
  for (const [key, v] of entries) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new TributaryError('INVALID_REQUEST', `config '${key}' must be a string, number or boolean`);
    }
  }
  return map as TopicConfigInput;
}

/** `resource`: exactly one of { topic } or { broker }. */
function resourceField(body: Body): ConfigResource {
  const resource = asBody(body.resource, "field 'resource'");
  const hasTopic = resource.topic !== undefined && resource.topic !== null;
  const hasBroker = resource.broker !== undefined && resource.broker !== null;
  if (hasTopic === hasBroker) throw new TributaryError('INVALID_REQUEST', "field 'resource' must name exactly one of 'topic' or 'broker'");
  return hasTopic ? { topic: stringField(resource, 'topic', 1024) } : { broker: intField(resource, 'broker', { min: 0, max: BROKER_ID_MAX }) };
}

function stringArrayField(body: Body, name: string, maxLength: number): string[] {
  return arrayField(body, name, maxLength).map((item, i) => stringField({ [`${name}[${i}]`]: item }, `${name}[${i}]`, 1024));
}

function configValuesField(body: Body, name: string): Record<string, ConfigValue> {
  const map = asBody(body[name], `field '${name}'`);
  const entries = Object.entries(map);
  if (entries.length > CONFIGS_MAX) throw new TributaryError('INVALID_REQUEST', `field '${name}' has more than ${CONFIGS_MAX} entries`);
  for (const [key, v] of entries) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new TributaryError('INVALID_REQUEST', `config '${key}' must be a string, number or boolean`);
    }
  }
  return map as Record<string, ConfigValue>;
}

function numberMapField(body: Body, name: string): Record<string, number> {
  const map = asBody(body[name], `field '${name}'`);
  const entries = Object.entries(map);
  if (entries.length > CONFIGS_MAX) throw new TributaryError('INVALID_REQUEST', `field '${name}' has more than ${CONFIGS_MAX} entries`);
  for (const [key, v] of entries) {
    if (typeof v !== 'number') throw new TributaryError('INVALID_REQUEST', `config '${key}' must be a number`);
  }
  return map as Record<string, number>;
}

/** A registration's optional Kafka listeners (issue 19): `{ kafka: { internal, external } }` or nothing. */
function kafkaListenersField(body: Body): { kafka?: { internal: { host: string; port: number }; external: { host: string; port: number } } } {
  if (body.kafka === undefined || body.kafka === null) return {};
  const kafka = asBody(body.kafka, "field 'kafka'");
  return { kafka: { internal: endpointField(kafka, 'internal'), external: endpointField(kafka, 'external') } };
}

/** An ACL binding or filter: string fields only, each optional here (the core checks a binding whole). */
function aclFilterField(value: unknown, what: string): AclBindingFilter {
  const body = asBody(value, `field '${what}'`);
  const filter: Record<string, string> = {};
  for (const key of ACL_FIELDS) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    filter[key] = stringField(body, key, 1024);
  }
  return filter as AclBindingFilter;
}

function parseAlterUserScramCredentials(body: Body): AlterUserScramCredentialsRequest {
  const list = (name: string) =>
    body[name] === undefined || body[name] === null ? [] : arrayField(body, name, USERS_MAX).map((e, i) => asBody(e, `${name}[${i}]`));
  return {
    upsertions: list('upsertions').map((u) => ({
      name: stringField(u, 'name', 255),
      mechanism: stringField(u, 'mechanism', 32) as ScramMechanismName,
      iterations: intField(u, 'iterations', { min: 1, max: 1_000_000 }),
      salt: bytesField(u, 'salt'),
      saltedPassword: bytesField(u, 'saltedPassword'),
    })),
    deletions: list('deletions').map((d) => ({ name: stringField(d, 'name', 255), mechanism: stringField(d, 'mechanism', 32) as ScramMechanismName })),
  };
}
