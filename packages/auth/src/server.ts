// The security edge of a process (broker or controller): what its HTTP listeners need from
// @tributary/auth, wired once. `@tributary/auth/server` (it pulls in fastify's types through
// @tributary/transport/server; the client never loads it).
//
// A secure process (TLS configured):
// - every listener speaks TLS and asks for a client certificate;
// - a client certificate signed by the cluster CA authenticates a cluster process, principal
//   `User:<CN>` (brokers `broker-<id>`, the controller `controller`); cluster processes may do
//   anything (as Kafka's brokers are super users);
// - the cluster-internal routes (registration, heartbeats, controlled shutdown, metadata poll,
//   AlterPartition, replica fetch) accept nothing else: UNAUTHORIZED; and, once the route has
//   read its body, a certificate acts only as the process it was made for (broker-3's as broker 3:
//   `requireClusterCall`, cluster-identity.ts), else UNAUTHORIZED too;
// - every other route needs a principal: a certificate, a SCRAM session's bearer token, or Basic
//   credentials (SASL_AUTHENTICATION_FAILED otherwise), and then the ACLs decide;
// - `POST /auth/scram` is open: it is how a client gets a token.
// A process without TLS checks nothing: every caller is User:ANONYMOUS and allowed (the demo).

import { X509Certificate } from 'node:crypto';
import { TributaryError, asBody, type ScramAuthResponse } from '@tributary/protocol';
import { peerCertificate, principalOf, type FastifyInstance, type FastifyRequest, type MsgpackServerOptions } from '@tributary/transport/server';
import type { TlsClientOptions } from '@tributary/transport/client';
import { CLUSTER_RESOURCE, type AclBinding, type ResourceType, type Operation } from './acl.ts';
import { Authorizer, type Denial } from './authorizer.ts';
import { authorizeClusterCall, type ClusterCall } from './cluster-identity.ts';
import { ANONYMOUS, userPrincipal, type Principal } from './principal.ts';
import { ScramSessions, type CredentialLookup } from './sessions.ts';

/** PEM contents of the process's key and certificate and of the cluster CA. */
export interface TlsFiles {
  key: string;
  cert: string;
  ca: string;
}

export interface SecurityConfig {
  tls: TlsFiles;
  /** Kafka's super.users (`User:admin`). */
  superUsers: ReadonlySet<string>;
}

export interface ProcessSecurityOptions {
  /** undefined: a plaintext process, no checks. */
  config: SecurityConfig | undefined;
  credentials: CredentialLookup;
  acls: () => { version: number; bindings: Iterable<AclBinding> };
  /** Routes only cluster processes may call. */
  internalPaths: readonly string[];
  logger: { warn(obj: object, msg: string): void };
  /** Counted in /metrics. */
  onAuthenticationFailure?: (reason: 'sasl' | 'certificate') => void;
  onAuthorizationFailure?: (denial: Denial) => void;
}

export const AUTH_ROUTE = '/auth/scram';

/** What the audit log says of a SASL exchange a Kafka listener refused. */
export interface KafkaAuthenticationRefusal {
  host: string;
  listener: string;
  mechanism?: string;
  user?: string;
  /** Kafka's error name answered. */
  code: string;
  reason: string;
}

/** A PEM certificate's subject common name (the principal it stands for), if it has one. */
export function certificateCommonName(pem: string): string | undefined {
  const subject = new X509Certificate(pem).subject;
  return /^CN=(.*)$/m.exec(subject)?.[1];
}

/**
 * Throws unless a process's own certificate is the one made for it (`broker-<id>` for a broker,
 * `controller` for the controller): the peers would refuse it as anything else
 * (cluster-identity.ts), so a process started with another's certificate says so at once.
 */
export function requireOwnCertificate(pem: string, expected: string, file: string): void {
  const name = certificateCommonName(pem);
  if (name !== expected)
    throw new Error(
      `${file} is the certificate of '${name ?? '(no common name)'}', not of '${expected}': a cluster certificate acts only as the process it was made for (tributary certs create --names ${expected})`,
    );
}

/** The caller's IP as Kafka's ACL hosts name it (an IPv4-mapped address as plain IPv4). */
export function clientHost(request: FastifyRequest): string {
  const ip = request.ip ?? '';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

export class ProcessSecurity {
  readonly enabled: boolean;
  readonly sessions: ScramSessions;
  readonly authorizer: Authorizer;
  private readonly options: ProcessSecurityOptions;
  private readonly internal: ReadonlySet<string>;

  constructor(options: ProcessSecurityOptions) {
    this.options = options;
    this.enabled = options.config !== undefined;
    this.internal = new Set(options.internalPaths);
    this.sessions = new ScramSessions({ credentials: options.credentials });
    this.authorizer = new Authorizer({
      enabled: this.enabled,
      acls: options.acls,
      superUsers: options.config?.superUsers ?? new Set(),
      onDenied: (denial) => {
        options.logger.warn({ ...denial }, 'authorization refused');
        options.onAuthorizationFailure?.(denial);
      },
    });
  }

  /** A process without security and without users (tests, embedding). */
  static plaintext(): ProcessSecurity {
    return new ProcessSecurity({
      config: undefined,
      credentials: () => undefined,
      acls: () => ({ version: 0, bindings: [] }),
      internalPaths: [],
      logger: { warn() {} },
    });
  }

  /** createMsgpackServer's options: TLS, the authentication hook and the open route. */
  serverOptions(): Pick<MsgpackServerOptions, 'tls' | 'authenticate' | 'publicPaths'> {
    const config = this.options.config;
    if (config === undefined) return {};
    return { tls: config.tls, authenticate: (request) => this.authenticate(request), publicPaths: [AUTH_ROUTE] };
  }

  /** Outgoing calls to other cluster processes: the CA, and our certificate (mutual TLS). */
  clientTls(): TlsClientOptions | undefined {
    const tls = this.options.config?.tls;
    return tls === undefined ? undefined : { ca: tls.ca, cert: tls.cert, key: tls.key };
  }

  /**
   * Registers POST /auth/scram (both steps of the exchange) on a listener. A plaintext process
   * serves it too (every process serves the same routes), with credentials if it has any.
   */
  registerAuthRoute(app: FastifyInstance): void {
    app.post(AUTH_ROUTE, async (request): Promise<ScramAuthResponse> => {
      const body = asBody(request.body);
      try {
        if (body.exchangeId === undefined || body.exchangeId === null) return this.sessions.start(body.mechanism, body.message);
        const done = this.sessions.finish(body.exchangeId, body.message);
        return { message: done.message, token: done.token, lifetimeMs: done.lifetimeMs };
      } catch (err) {
        this.refused(request, err, 'sasl');
        throw err;
      }
    });
  }

  /** Who the request comes from (ANONYMOUS on a plaintext process). */
  principal(request: FastifyRequest): Principal {
    return principalOf<Principal>(request) ?? ANONYMOUS;
  }

  /** Throws Kafka's authorization error unless the caller may. */
  require(request: FastifyRequest, operation: Operation, resourceType: ResourceType, resourceName?: string): void {
    this.authorizer.require(this.principal(request), clientHost(request), operation, resourceType, resourceName);
  }

  allows(request: FastifyRequest, operation: Operation, resourceType: ResourceType, resourceName?: string, report = true): boolean {
    return this.authorizer.allows(this.principal(request), clientHost(request), operation, resourceType, resourceName, report);
  }

  /**
   * One answer per resource name for a request that names many (a produce's partitions): each
   * name is asked once, and a refusal reported once.
   */
  checker(request: FastifyRequest, operation: Operation, resourceType: ResourceType): (name: string) => boolean {
    if (!this.enabled) return () => true;
    const answers = new Map<string, boolean>();
    return (name) => {
      let allowed = answers.get(name);
      if (allowed === undefined) {
        allowed = this.allows(request, operation, resourceType, name);
        answers.set(name, allowed);
      }
      return allowed;
    };
  }

  /**
   * A cluster-internal route, its body parsed: throws UNAUTHORIZED unless the caller's certificate
   * is the process the call acts as (cluster-identity.ts). The refusal is logged and counted as
   * an authorization failure (ClusterAction on the cluster, as Kafka names what brokers do).
   */
  requireClusterCall(request: FastifyRequest, call: ClusterCall): void {
    if (!this.enabled) return;
    const principal = this.principal(request);
    const decision = authorizeClusterCall(principal, call);
    if (decision.allowed) return;
    const denial: Denial = {
      principal: principal.name,
      host: clientHost(request),
      operation: 'ClusterAction',
      resourceType: 'Cluster',
      resourceName: CLUSTER_RESOURCE,
      reason: 'identity',
    };
    this.options.logger.warn(
      { ...denial, route: call.route, ...('brokerId' in call ? { brokerId: call.brokerId } : {}), detail: decision.reason },
      'authorization refused',
    );
    this.options.onAuthorizationFailure?.(denial);
    throw new TributaryError('UNAUTHORIZED', decision.reason);
  }

  private authenticate(request: FastifyRequest): Principal {
    const cert = peerCertificate(request);
    if (cert?.authorized && cert.commonName !== undefined) return userPrincipal(cert.commonName, 'certificate');
    const path = request.routeOptions.url ?? '';
    if (this.internal.has(path)) {
      const err = new TributaryError(
        'UNAUTHORIZED',
        `${path} is for cluster processes: it needs a client certificate signed by the cluster CA (${cert?.error ?? 'none given'})`,
      );
      this.refused(request, err, 'certificate');
      throw err;
    }
    try {
      return this.sessions.authenticate(request.headers.authorization);
    } catch (err) {
      this.refused(request, err, 'sasl');
      throw err;
    }
  }

  /** A refused authentication on a Kafka listener (SASL): logged with the caller and counted, as on HTTP. */
  kafkaAuthenticationRefused(refusal: KafkaAuthenticationRefusal): void {
    this.options.logger.warn({ ...refusal }, 'authentication refused');
    this.options.onAuthenticationFailure?.('sasl');
  }

  private refused(request: FastifyRequest, err: unknown, reason: 'sasl' | 'certificate'): void {
    this.options.logger.warn(
      { host: clientHost(request), route: request.routeOptions.url ?? request.url, code: (err as TributaryError).code, reason: (err as Error).message },
      'authentication refused',
    );
    this.options.onAuthenticationFailure?.(reason);
  }
}
