// The authorizer a process holds: the pure `authorize` over its current bindings and super users,
// with a cache per question (cleared when the bindings change), and a hook told of every refusal
// (the process logs it with the principal and operation and counts it in /metrics). The Kafka
// listener asks the same object.

import { authorizationError, authorize, authorizeAny, CLUSTER_RESOURCE, type AclBinding, type Operation, type ResourceType } from './acl.ts';
import { isClusterProcess, type Principal } from './principal.ts';

export interface AuthorizerOptions {
  /** false: a cluster without security; everything is allowed and nothing is checked. */
  enabled: boolean;
  /** The current bindings, and a version that changes whenever they do (the metadata version). */
  acls: () => { version: number; bindings: Iterable<AclBinding> };
  superUsers: ReadonlySet<string>;
  /** Told of every refusal. */
  onDenied?: (denial: Denial) => void;
}

export interface Denial {
  principal: string;
  host: string;
  operation: Operation;
  resourceType: ResourceType;
  resourceName: string;
  /** 'identity': a cluster certificate acting as another process (cluster-identity.ts). */
  reason: 'denied' | 'no-acl' | 'identity';
}

const CACHE_MAX = 10_000;

export class Authorizer {
  readonly enabled: boolean;
  private readonly options: AuthorizerOptions;
  private cacheVersion = Number.NaN;
  private readonly cache = new Map<string, boolean>();

  constructor(options: AuthorizerOptions) {
    this.options = options;
    this.enabled = options.enabled;
  }

  /**
   * Whether the principal may; a refusal is reported to onDenied unless `report` is false (a
   * listing filtered to what the caller may see: Kafka does not log those either).
   */
  allows(
    principal: Principal,
    host: string,
    operation: Operation,
    resourceType: ResourceType,
    resourceName: string = CLUSTER_RESOURCE,
    report = true,
  ): boolean {
    if (!this.enabled || isClusterProcess(principal)) return true;
    const { version, bindings } = this.options.acls();
    if (version !== this.cacheVersion) {
      this.cache.clear();
      this.cacheVersion = version;
    }
    const key = `${principal.name}\u0000${host}\u0000${operation}\u0000${resourceType}\u0000${resourceName}`;
    let allowed = this.cache.get(key);
    let reason: 'denied' | 'no-acl' = 'no-acl';
    if (allowed === undefined) {
      const result = authorize(bindings, this.options.superUsers, { principal: principal.name, host, operation, resourceType, resourceName });
      allowed = result.allowed;
      if (!allowed) reason = result.reason === 'denied' ? 'denied' : 'no-acl';
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      // Only allows are cached: every refusal goes through onDenied with its reason.
      if (allowed) this.cache.set(key, true);
    }
    if (!allowed && report) this.options.onDenied?.({ principal: principal.name, host, operation, resourceType, resourceName, reason });
    return allowed;
  }

  /** As allows, but throws Kafka's authorization error for the resource type. */
  require(principal: Principal, host: string, operation: Operation, resourceType: ResourceType, resourceName: string = CLUSTER_RESOURCE): void {
    if (!this.allows(principal, host, operation, resourceType, resourceName))
      throw authorizationError({ principal: principal.name, operation, resourceType, resourceName });
  }

  /** Kafka's authorizeByResourceType: `operation` on some resource of the type. */
  allowsAny(principal: Principal, host: string, operation: Operation, resourceType: ResourceType): boolean {
    if (!this.enabled || isClusterProcess(principal)) return true;
    return authorizeAny(this.options.acls().bindings, this.options.superUsers, { principal: principal.name, host, operation, resourceType });
  }

  /** Whether the principal is a super user (or a cluster process), for routes Kafka reserves to them. */
  isSuperUser(principal: Principal): boolean {
    return !this.enabled || isClusterProcess(principal) || this.options.superUsers.has(principal.name);
  }
}
