// Kafka's ACLs (AclAuthorizer / StandardAuthorizer semantics) as pure functions: who (principal,
// host) may do what (operation) to which resource (Topic, Group, Cluster; literal or prefixed
// names). No I/O, no clock: the callers hold the bindings (the controller's metadata) and ask.
//
// The rules, as Kafka's:
// - a super user (super.users) may do anything;
// - a binding applies when its principal is the caller's or `User:*`, its host the caller's or
//   `*`, and its pattern covers the resource: Literal with the same name or `*`, Prefixed with a
//   prefix of the name;
// - any applying Deny for the operation (or All) refuses, whatever allows it: deny wins;
// - else an applying Allow for the operation (or All) allows; Describe is also allowed by Read,
//   Write, Delete and Alter, DescribeConfigs by AlterConfigs (Kafka's implied operations);
// - else nothing is allowed (allow.everyone.if.no.acl.found=false).

import {
  ACL_OPERATIONS,
  TributaryError,
  type AclBinding,
  type AclOperation,
  type AclPatternType,
  type AclPermission,
  type AclResourceType,
  type ErrorCode,
} from '@tributary/protocol';

export type { AclBinding, AclOperation };

export { ACL_OPERATIONS };
/** What a request asks for: one operation, never All (All is for bindings). */
export type Operation = Exclude<AclOperation, 'All'>;

export const RESOURCE_TYPES = ['Topic', 'Group', 'Cluster'] as const satisfies readonly AclResourceType[];
export type ResourceType = AclResourceType;

export const PATTERN_TYPES = ['Literal', 'Prefixed'] as const satisfies readonly AclPatternType[];
export type PatternType = AclPatternType;

export const PERMISSIONS = ['Allow', 'Deny'] as const satisfies readonly AclPermission[];
export type Permission = AclPermission;

/** Kafka's one cluster resource name. */
export const CLUSTER_RESOURCE = 'kafka-cluster';
/** The wildcard resource name (Literal) and host. */
export const WILDCARD = '*';
/** The wildcard principal. */
export const WILDCARD_PRINCIPAL = 'User:*';

export interface AuthorizationRequest {
  principal: string;
  host: string;
  operation: Operation;
  resourceType: ResourceType;
  resourceName: string;
}

export type AuthorizationReason = 'super-user' | 'allowed' | 'denied' | 'no-acl';

export interface AuthorizationResult {
  allowed: boolean;
  reason: AuthorizationReason;
  /** The binding that decided (the Deny that refused, or the Allow that allowed). */
  binding?: AclBinding;
}

/** The operations whose Allow also allows `operation` (Kafka's implied operations), All aside. */
export function impliedBy(operation: Operation): readonly Operation[] {
  switch (operation) {
    case 'Describe':
      return ['Describe', 'Read', 'Write', 'Delete', 'Alter'];
    case 'DescribeConfigs':
      return ['DescribeConfigs', 'AlterConfigs'];
    default:
      return [operation];
  }
}

function principalMatches(binding: AclBinding, principal: string): boolean {
  return binding.principal === principal || (binding.principal === WILDCARD_PRINCIPAL && principal.startsWith('User:'));
}

function hostMatches(binding: AclBinding, host: string): boolean {
  return binding.host === WILDCARD || binding.host === host;
}

/** Whether a binding's resource pattern covers the named resource. */
export function patternCovers(binding: Pick<AclBinding, 'resourceType' | 'resourceName' | 'patternType'>, type: ResourceType, name: string): boolean {
  if (binding.resourceType !== type) return false;
  if (binding.patternType === 'Literal') return binding.resourceName === name || binding.resourceName === WILDCARD;
  return name.startsWith(binding.resourceName);
}

/** The one authorization decision (see the rules at the top). */
export function authorize(acls: Iterable<AclBinding>, superUsers: ReadonlySet<string>, request: AuthorizationRequest): AuthorizationResult {
  if (superUsers.has(request.principal)) return { allowed: true, reason: 'super-user' };
  const allowing = impliedBy(request.operation);
  let allow: AclBinding | undefined;
  for (const binding of acls) {
    if (!patternCovers(binding, request.resourceType, request.resourceName)) continue;
    if (!principalMatches(binding, request.principal) || !hostMatches(binding, request.host)) continue;
    if (binding.permission === 'Deny') {
      // A Deny refuses its own operation (or everything, All): not the operations it would imply.
      if (binding.operation === 'All' || binding.operation === request.operation) return { allowed: false, reason: 'denied', binding };
    } else if (allow === undefined && (binding.operation === 'All' || (allowing as readonly string[]).includes(binding.operation))) {
      allow = binding;
    }
  }
  return allow === undefined ? { allowed: false, reason: 'no-acl' } : { allowed: true, reason: 'allowed', binding: allow };
}

/**
 * Kafka's authorizeByResourceType (KIP-679): may the principal do `operation` on *some* resource
 * of the type? True for a super user, or when an Allow binding (the operation or All, the
 * principal or User:*, the host or *) exists whose pattern no applying Deny covers whole: a Deny
 * on `*`, a Literal Deny of the same name, or a Prefixed Deny on a prefix of the Allow's name.
 * InitProducerId asks it: IdempotentWrite on the cluster, or Write on any topic.
 */
export function authorizeAny(acls: Iterable<AclBinding>, superUsers: ReadonlySet<string>, request: Omit<AuthorizationRequest, 'resourceName'>): boolean {
  if (superUsers.has(request.principal)) return true;
  const applying: AclBinding[] = [];
  for (const b of acls) {
    if (b.resourceType !== request.resourceType || !principalMatches(b, request.principal) || !hostMatches(b, request.host)) continue;
    applying.push(b);
  }
  const denies = applying.filter((b) => b.permission === 'Deny' && (b.operation === 'All' || b.operation === request.operation));
  if (denies.some((d) => d.patternType === 'Literal' && d.resourceName === WILDCARD)) return false;
  const allowing = impliedBy(request.operation) as readonly string[];
  for (const a of applying) {
    if (a.permission !== 'Allow' || !(a.operation === 'All' || allowing.includes(a.operation))) continue;
    const covered = denies.some((d) =>
      d.patternType === 'Prefixed' ? a.resourceName.startsWith(d.resourceName) : a.patternType === 'Literal' && d.resourceName === a.resourceName,
    );
    if (!covered) return true;
  }
  return false;
}

/** The error Kafka answers when `operation` on a resource of this type is refused. */
export function authorizationErrorCode(type: ResourceType): ErrorCode {
  return type === 'Topic' ? 'TOPIC_AUTHORIZATION_FAILED' : type === 'Group' ? 'GROUP_AUTHORIZATION_FAILED' : 'CLUSTER_AUTHORIZATION_FAILED';
}

export function authorizationError(request: Omit<AuthorizationRequest, 'host'>): TributaryError {
  const what = request.resourceType === 'Cluster' ? 'the cluster' : `${request.resourceType.toLowerCase()} '${request.resourceName}'`;
  return new TributaryError(authorizationErrorCode(request.resourceType), `${request.principal} is not authorized to ${request.operation} ${what}`);
}

// ---------------------------------------------------------------------------------------------
// Bindings as users write them, and filters (describe-acls, delete-acls).

/** `User:alice`: Kafka's principal type and a non-empty name. */
export function isValidPrincipal(principal: string): boolean {
  return /^User:.+$/.test(principal) && principal.length <= 512;
}

/** Checks a binding as a create-acls request gives it; INVALID_REQUEST naming the problem. */
export function validateBinding(binding: AclBinding): AclBinding {
  const bad = (what: string) => new TributaryError('INVALID_REQUEST', `invalid ACL: ${what}`);
  if (!isValidPrincipal(binding.principal)) throw bad(`principal must be User:<name> or User:*, got '${binding.principal}'`);
  if (typeof binding.host !== 'string' || binding.host.length === 0 || binding.host.length > 255)
    throw bad(`host must be an address or *, got '${binding.host}'`);
  if (!(ACL_OPERATIONS as readonly string[]).includes(binding.operation)) throw bad(`operation must be one of ${ACL_OPERATIONS.join(', ')}`);
  if (!(PERMISSIONS as readonly string[]).includes(binding.permission)) throw bad(`permission must be Allow or Deny`);
  if (!(RESOURCE_TYPES as readonly string[]).includes(binding.resourceType)) throw bad(`resource type must be one of ${RESOURCE_TYPES.join(', ')}`);
  if (!(PATTERN_TYPES as readonly string[]).includes(binding.patternType)) throw bad(`pattern type must be Literal or Prefixed`);
  if (typeof binding.resourceName !== 'string' || binding.resourceName.length === 0 || binding.resourceName.length > 1024)
    throw bad('resource name must not be empty');
  if (binding.resourceType === 'Cluster' && (binding.resourceName !== CLUSTER_RESOURCE || binding.patternType !== 'Literal'))
    throw bad(`the cluster resource is Literal '${CLUSTER_RESOURCE}'`);
  if (binding.patternType === 'Prefixed' && binding.resourceName === WILDCARD) throw bad("a Prefixed pattern cannot be '*' (use Literal '*')");
  return {
    principal: binding.principal,
    host: binding.host,
    operation: binding.operation,
    permission: binding.permission,
    resourceType: binding.resourceType,
    resourceName: binding.resourceName,
    patternType: binding.patternType,
  };
}

/** Kafka's AclBindingFilter with exact matches: a field left out matches any value. */
export type AclFilter = Partial<AclBinding>;

export function filterMatches(filter: AclFilter, binding: AclBinding): boolean {
  for (const key of ['principal', 'host', 'operation', 'permission', 'resourceType', 'resourceName', 'patternType'] as const) {
    const want = filter[key];
    if (want !== undefined && want !== binding[key]) return false;
  }
  return true;
}

export function sameBinding(a: AclBinding, b: AclBinding): boolean {
  return filterMatches(a, b);
}
