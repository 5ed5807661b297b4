// Wires a controller process together: metadata log -> ClusterController -> ControllerService,
// the two timers (session expiry and reassignment completion every sessionCheckIntervalMs,
// preferred-leader election every leaderImbalanceCheckIntervalMs), and the listening socket. main.ts adds flags and signals;
// tests call startController directly with port 0.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSuperUsers } from '@tributary/auth';
import { requireOwnCertificate, type SecurityConfig } from '@tributary/auth/server';
import { pino, type Logger } from 'pino';
import { TributaryError } from '@tributary/protocol';
import { ClusterController } from './cluster-controller.ts';
import type { ControllerConfig } from './config.ts';
import { createControllerService, type ControllerService } from './controller-service.ts';
import { openMetadataLog } from './segment-metadata-log.ts';
import type { MetadataLog } from './metadata-log.ts';
import { SnapshotStore } from './metadata-snapshot.ts';

export interface StartControllerOptions {
  logger?: Logger;
  /** Clock for session expiry; defaults to Date.now. */
  now?: () => number;
  /** A ready metadata log (tests); default: the one under config.dataDir. */
  log?: MetadataLog;
  /** Snapshots (tests); default: under config.dataDir, unless a log was given. */
  snapshots?: SnapshotStore | null;
  /**
   * Called with a programmer error (a broken invariant, a bug) from a route or a timer. The
   * default logs it at fatal and exits: a controller whose state may be wrong must stop, not serve.
   */
  onFatal?: (err: unknown) => void;
}

export interface RunningController {
  /** Where the service listens (port resolved when config asked for 0). */
  address: { host: string; port: number };
  /** Where brokers reach it, when an internal listener was asked for (port resolved). */
  internalAddress: { host: string; port: number } | undefined;
  controller: ClusterController;
  service: ControllerService;
  logger: Logger;
  close(): Promise<void>;
}

/** The metadata log's directory under the data dir (Kafka's name for it). */
export function metadataLogDir(dataDir: string): string {
  return join(dataDir, '__cluster_metadata-0');
}

/** The metadata snapshots' directory, beside the log's (metadata-snapshot.ts). */
export function metadataSnapshotDir(dataDir: string): string {
  return join(dataDir, '__cluster_metadata-snapshots');
}

export function createControllerLogger(level = 'info'): Logger {
  return pino({ level, base: { role: 'controller', pid: process.pid } });
}

export async function startController(config: ControllerConfig, options: StartControllerOptions = {}): Promise<RunningController> {
  const logger = options.logger ?? createControllerLogger(config.logLevel);
  const log = options.log ?? openMetadataLog(metadataLogDir(config.dataDir), logger);
  const snapshots =
    options.snapshots === null
      ? undefined
      : (options.snapshots ??
        (options.log === undefined
          ? new SnapshotStore(metadataSnapshotDir(config.dataDir), { logger: logger.child({ module: 'metadata-snapshot' }) })
          : undefined));
  let controller: ClusterController;
  try {
    controller = new ClusterController({
      log,
      logger: logger.child({ module: 'controller' }),
      ...(options.now ? { now: options.now } : {}),
      ...(config.clusterId !== undefined ? { clusterId: config.clusterId } : {}),
      sessionTimeoutMs: config.sessionTimeoutMs,
      sessionCheckIntervalMs: config.sessionCheckIntervalMs,
      autoLeaderRebalanceEnable: config.autoLeaderRebalanceEnable,
      ...(snapshots ? { snapshots, snapshotIntervalRecords: config.metadataSnapshotIntervalRecords } : {}),
    });
  } catch (err) {
    log.close();
    throw err;
  }
  const fatal =
    options.onFatal ??
    ((err: unknown) => {
      logger.fatal({ err }, 'unexpected error; exiting');
      process.exit(1);
    });
  let security: SecurityConfig | undefined;
  if (config.security !== undefined) {
    try {
      const s = config.security;
      security = {
        tls: { cert: readFileSync(s.tlsCertFile, 'utf8'), key: readFileSync(s.tlsKeyFile, 'utf8'), ca: readFileSync(s.tlsCaFile, 'utf8') },
        superUsers: parseSuperUsers(s.superUsers),
      };
      requireOwnCertificate(security.tls.cert, 'controller', s.tlsCertFile);
      if (s.bootstrapUser !== undefined) {
        const password = readFileSync(s.bootstrapUser.passwordFile, 'utf8').trim();
        if (controller.bootstrapUser(s.bootstrapUser.name, password)) logger.info({ user: s.bootstrapUser.name }, 'bootstrap user created');
      }
    } catch (err) {
      controller.close();
      throw err;
    }
  }
  const service = createControllerService({
    controller,
    logger,
    ...(security ? { security } : {}),
    onUnexpectedError: fatal,
    requestLimits: config.requestLimits,
    internalListener: config.internalListen !== undefined,
  });
  // An operating error in a timer (the metadata log failed) is already logged by the controller
  // and stops further changes; anything else is a bug.
  const guarded = (what: string, fn: () => void) => () => {
    try {
      fn();
    } catch (err) {
      if (err instanceof TributaryError) logger.error({ err }, `${what} failed`);
      else fatal(err);
    }
  };
  const sessionTimer = setInterval(() => {
    guarded('session check', () => controller.checkSessions())();
    guarded('reassignment check', () => controller.resumeReassignments())();
  }, config.sessionCheckIntervalMs);
  const rebalanceTimer = setInterval(
    guarded('preferred leader election', () => controller.rebalanceLeaders()),
    config.leaderImbalanceCheckIntervalMs,
  );

  const listen = async (app: typeof service.app, at: { host: string; port: number }) => {
    await app.listen({ host: at.host, port: at.port });
    const bound = app.server.address();
    return typeof bound === 'object' && bound !== null ? { host: at.host, port: bound.port } : { ...at };
  };
  let address: { host: string; port: number };
  let internalAddress: { host: string; port: number } | undefined;
  try {
    address = await listen(service.app, config.listen);
    if (service.internalApp && config.internalListen) internalAddress = await listen(service.internalApp, config.internalListen);
  } catch (err) {
    clearInterval(sessionTimer);
    clearInterval(rebalanceTimer);
    await service.close().catch(() => {});
    controller.close();
    throw err;
  }
  logger.info(
    {
      listen: address,
      internalListen: internalAddress,
      dataDir: config.dataDir,
      clusterId: controller.clusterId,
      metadataVersion: controller.version,
      sessionTimeoutMs: config.sessionTimeoutMs,
      secure: security !== undefined,
      superUsers: config.security?.superUsers,
    },
    'controller started',
  );

  let closing: Promise<void> | null = null;
  return {
    address,
    internalAddress,
    controller,
    service,
    logger,
    close() {
      closing ??= (async () => {
        clearInterval(sessionTimer);
        clearInterval(rebalanceTimer);
        await service.close();
        controller.close();
        logger.info({ metadataVersion: controller.version }, 'controller stopped');
      })();
      return closing;
    },
  };
}
