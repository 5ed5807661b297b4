import { describe, expect, it } from 'vitest';
import {
  ACL_OPERATIONS,
  authorizationError,
  authorize,
  authorizeAny,
  filterMatches,
  validateBinding,
  type AclBinding,
  type AuthorizationReason,
  type Operation,
  type ResourceType,
} from './acl.ts';

function acl(p: Partial<AclBinding> & Pick<AclBinding, 'operation'>): AclBinding {
  return { principal: 'User:alice', host: '*', permission: 'Allow', resourceType: 'Topic', resourceName: 'orders', patternType: 'Literal', ...p };
}

const SUPER = new Set(['User:admin']);

interface Case {
  name: string;
  acls: AclBinding[];
  principal?: string;
  host?: string;
  operation: Operation;
  type?: ResourceType;
  resource?: string;
  allowed: boolean;
  reason: AuthorizationReason;
}

// The table: one row per rule of Kafka's authorizer.
const CASES: Case[] = [
  { name: 'nothing allowed without ACLs', acls: [], operation: 'Read', allowed: false, reason: 'no-acl' },
  { name: 'super user without ACLs', acls: [], principal: 'User:admin', operation: 'Delete', allowed: true, reason: 'super-user' },
  {
    name: 'super user even against a Deny',
    acls: [acl({ principal: 'User:admin', operation: 'All', permission: 'Deny' })],
    principal: 'User:admin',
    operation: 'Write',
    allowed: true,
    reason: 'super-user',
  },
  { name: 'literal Allow of the operation', acls: [acl({ operation: 'Read' })], operation: 'Read', allowed: true, reason: 'allowed' },
  { name: 'Allow of another operation', acls: [acl({ operation: 'Read' })], operation: 'Write', allowed: false, reason: 'no-acl' },
  { name: 'Allow for another principal', acls: [acl({ principal: 'User:bob', operation: 'Read' })], operation: 'Read', allowed: false, reason: 'no-acl' },
  { name: 'literal names match exactly', acls: [acl({ operation: 'Read', resourceName: 'order' })], operation: 'Read', allowed: false, reason: 'no-acl' },
  { name: 'literal * covers every topic', acls: [acl({ operation: 'Read', resourceName: '*' })], operation: 'Read', allowed: true, reason: 'allowed' },
  {
    name: 'prefixed covers names starting with it',
    acls: [acl({ operation: 'Write', resourceName: 'ord', patternType: 'Prefixed' })],
    operation: 'Write',
    allowed: true,
    reason: 'allowed',
  },
  {
    name: 'prefixed does not cover other names',
    acls: [acl({ operation: 'Write', resourceName: 'orders-', patternType: 'Prefixed' })],
    operation: 'Write',
    allowed: false,
    reason: 'no-acl',
  },
  {
    name: 'prefixed * is a literal prefix, not a wildcard',
    acls: [acl({ operation: 'Write', resourceName: 'x', patternType: 'Prefixed' })],
    resource: 'orders',
    operation: 'Write',
    allowed: false,
    reason: 'no-acl',
  },
  {
    name: 'wildcard principal User:*',
    acls: [acl({ principal: 'User:*', operation: 'Read' })],
    principal: 'User:carol',
    operation: 'Read',
    allowed: true,
    reason: 'allowed',
  },
  { name: 'host must match', acls: [acl({ host: '10.0.0.1', operation: 'Read' })], host: '10.0.0.2', operation: 'Read', allowed: false, reason: 'no-acl' },
  { name: 'host matches exactly', acls: [acl({ host: '10.0.0.1', operation: 'Read' })], host: '10.0.0.1', operation: 'Read', allowed: true, reason: 'allowed' },
  { name: 'host * matches any', acls: [acl({ host: '*', operation: 'Read' })], host: '192.168.1.9', operation: 'Read', allowed: true, reason: 'allowed' },
  { name: 'All allows every operation', acls: [acl({ operation: 'All' })], operation: 'Delete', allowed: true, reason: 'allowed' },
  {
    name: 'Deny wins over Allow',
    acls: [acl({ operation: 'Read' }), acl({ operation: 'Read', permission: 'Deny' })],
    operation: 'Read',
    allowed: false,
    reason: 'denied',
  },
  {
    name: 'Deny on a prefix wins over a literal Allow',
    acls: [acl({ operation: 'Write' }), acl({ operation: 'Write', permission: 'Deny', resourceName: 'ord', patternType: 'Prefixed' })],
    operation: 'Write',
    allowed: false,
    reason: 'denied',
  },
  {
    name: 'Deny for User:* wins over the named principal’s Allow',
    acls: [acl({ operation: 'Read' }), acl({ principal: 'User:*', operation: 'Read', permission: 'Deny' })],
    operation: 'Read',
    allowed: false,
    reason: 'denied',
  },
  {
    name: 'Deny from one host only',
    acls: [acl({ operation: 'Read' }), acl({ operation: 'Read', permission: 'Deny', host: '10.0.0.66' })],
    host: '10.0.0.1',
    operation: 'Read',
    allowed: true,
    reason: 'allowed',
  },
  {
    name: 'Deny All refuses everything',
    acls: [acl({ operation: 'Read' }), acl({ operation: 'All', permission: 'Deny' })],
    operation: 'Read',
    allowed: false,
    reason: 'denied',
  },
  {
    name: 'Deny of another operation does not refuse',
    acls: [acl({ operation: 'Read' }), acl({ operation: 'Write', permission: 'Deny' })],
    operation: 'Read',
    allowed: true,
    reason: 'allowed',
  },
  { name: 'Read implies Describe', acls: [acl({ operation: 'Read' })], operation: 'Describe', allowed: true, reason: 'allowed' },
  { name: 'Write implies Describe', acls: [acl({ operation: 'Write' })], operation: 'Describe', allowed: true, reason: 'allowed' },
  { name: 'Delete implies Describe', acls: [acl({ operation: 'Delete' })], operation: 'Describe', allowed: true, reason: 'allowed' },
  { name: 'Alter implies Describe', acls: [acl({ operation: 'Alter' })], operation: 'Describe', allowed: true, reason: 'allowed' },
  { name: 'Create does not imply Describe', acls: [acl({ operation: 'Create' })], operation: 'Describe', allowed: false, reason: 'no-acl' },
  { name: 'AlterConfigs implies DescribeConfigs', acls: [acl({ operation: 'AlterConfigs' })], operation: 'DescribeConfigs', allowed: true, reason: 'allowed' },
  {
    name: 'DescribeConfigs does not imply AlterConfigs',
    acls: [acl({ operation: 'DescribeConfigs' })],
    operation: 'AlterConfigs',
    allowed: false,
    reason: 'no-acl',
  },
  { name: 'Describe does not imply Read', acls: [acl({ operation: 'Describe' })], operation: 'Read', allowed: false, reason: 'no-acl' },
  { name: 'Write does not imply Read', acls: [acl({ operation: 'Write' })], operation: 'Read', allowed: false, reason: 'no-acl' },
  {
    name: 'Deny Read does not deny the Describe a Write implies',
    acls: [acl({ operation: 'Write' }), acl({ operation: 'Read', permission: 'Deny' })],
    operation: 'Describe',
    allowed: true,
    reason: 'allowed',
  },
  {
    name: 'Deny Describe refuses Describe even with Read',
    acls: [acl({ operation: 'Read' }), acl({ operation: 'Describe', permission: 'Deny' })],
    operation: 'Describe',
    allowed: false,
    reason: 'denied',
  },
  {
    name: 'a topic ACL says nothing of the group of the same name',
    acls: [acl({ operation: 'Read' })],
    type: 'Group',
    operation: 'Read',
    allowed: false,
    reason: 'no-acl',
  },
  {
    name: 'group ACL',
    acls: [acl({ operation: 'Read', resourceType: 'Group', resourceName: 'billing' })],
    type: 'Group',
    resource: 'billing',
    operation: 'Read',
    allowed: true,
    reason: 'allowed',
  },
  {
    name: 'prefixed group ACL',
    acls: [acl({ operation: 'Read', resourceType: 'Group', resourceName: 'bill', patternType: 'Prefixed' })],
    type: 'Group',
    resource: 'billing-eu',
    operation: 'Read',
    allowed: true,
    reason: 'allowed',
  },
  {
    name: 'cluster ACL',
    acls: [acl({ operation: 'Alter', resourceType: 'Cluster', resourceName: 'kafka-cluster' })],
    type: 'Cluster',
    resource: 'kafka-cluster',
    operation: 'Alter',
    allowed: true,
    reason: 'allowed',
  },
  {
    name: 'ClusterAction is its own operation',
    acls: [acl({ operation: 'Alter', resourceType: 'Cluster', resourceName: 'kafka-cluster' })],
    type: 'Cluster',
    resource: 'kafka-cluster',
    operation: 'ClusterAction',
    allowed: false,
    reason: 'no-acl',
  },
  {
    name: 'IdempotentWrite on the cluster',
    acls: [acl({ operation: 'IdempotentWrite', resourceType: 'Cluster', resourceName: 'kafka-cluster' })],
    type: 'Cluster',
    resource: 'kafka-cluster',
    operation: 'IdempotentWrite',
    allowed: true,
    reason: 'allowed',
  },
];

describe('authorize (Kafka ACL semantics)', () => {
  it.each(CASES)('$name', (c) => {
    const result = authorize(c.acls, SUPER, {
      principal: c.principal ?? 'User:alice',
      host: c.host ?? '127.0.0.1',
      operation: c.operation,
      resourceType: c.type ?? 'Topic',
      resourceName: c.resource ?? 'orders',
    });
    expect({ allowed: result.allowed, reason: result.reason }).toEqual({ allowed: c.allowed, reason: c.reason });
  });

  it('names the deciding binding', () => {
    const deny = acl({ operation: 'Read', permission: 'Deny' });
    expect(
      authorize([acl({ operation: 'Read' }), deny], SUPER, {
        principal: 'User:alice',
        host: 'h',
        operation: 'Read',
        resourceType: 'Topic',
        resourceName: 'orders',
      }).binding,
    ).toEqual(deny);
  });

  it('an ACL whose every field but one matches never allows (each field matters)', () => {
    const base = acl({ operation: 'Read' });
    const request = { principal: 'User:alice', host: '10.0.0.1', operation: 'Read' as const, resourceType: 'Topic' as const, resourceName: 'orders' };
    const variants: Partial<AclBinding>[] = [
      { principal: 'User:bob' },
      { host: '10.0.0.2' },
      { operation: 'Write' },
      { resourceType: 'Group' },
      { resourceName: 'payments' },
      { resourceName: 'orders-eu', patternType: 'Prefixed' },
    ];
    expect(authorize([base], SUPER, request).allowed).toBe(true);
    for (const v of variants) expect(authorize([{ ...base, ...v }], SUPER, request).allowed, JSON.stringify(v)).toBe(false);
  });

  it('All as an Allow covers every requested operation; as a Deny refuses every one', () => {
    for (const op of ACL_OPERATIONS.filter((o) => o !== 'All') as Operation[]) {
      const request = { principal: 'User:alice', host: 'h', operation: op, resourceType: 'Topic' as const, resourceName: 'orders' };
      expect(authorize([acl({ operation: 'All' })], SUPER, request).allowed, op).toBe(true);
      expect(authorize([acl({ operation: 'All' }), acl({ operation: 'All', permission: 'Deny' })], SUPER, request).allowed, op).toBe(false);
    }
  });
});

describe('authorizeAny (authorizeByResourceType)', () => {
  const ask = (acls: AclBinding[], principal = 'User:alice') => authorizeAny(acls, SUPER, { principal, host: 'h', operation: 'Write', resourceType: 'Topic' });
  it.each([
    ['no ACL', [], false],
    ['a literal Write', [acl({ operation: 'Write' })], true],
    ['Write on *', [acl({ operation: 'Write', resourceName: '*' })], true],
    ['a prefixed Write', [acl({ operation: 'Write', resourceName: 'ord', patternType: 'Prefixed' })], true],
    ['Read only', [acl({ operation: 'Read' })], false],
    ['Write denied on *', [acl({ operation: 'Write' }), acl({ operation: 'Write', permission: 'Deny', resourceName: '*' })], false],
    ['Write denied on the same literal', [acl({ operation: 'Write' }), acl({ operation: 'Write', permission: 'Deny' })], false],
    [
      'Write denied on a prefix of it',
      [acl({ operation: 'Write' }), acl({ operation: 'Write', permission: 'Deny', resourceName: 'or', patternType: 'Prefixed' })],
      false,
    ],
    [
      'a literal deny does not cover a prefixed allow',
      [acl({ operation: 'Write', resourceName: 'ord', patternType: 'Prefixed' }), acl({ operation: 'Write', permission: 'Deny', resourceName: 'ord' })],
      true,
    ],
    ['Write denied elsewhere', [acl({ operation: 'Write' }), acl({ operation: 'Write', permission: 'Deny', resourceName: 'payments' })], true],
    ['Write for someone else', [acl({ operation: 'Write', principal: 'User:bob' })], false],
  ] as [string, AclBinding[], boolean][])('%s', (_name, acls, expected) => {
    expect(ask(acls)).toBe(expected);
  });
  it('super users always', () => expect(ask([], 'User:admin')).toBe(true));
});

describe('bindings and filters', () => {
  it('refuses malformed bindings with INVALID_REQUEST', () => {
    const good = acl({ operation: 'Read' });
    expect(validateBinding(good)).toEqual(good);
    for (const bad of [
      { principal: 'alice' },
      { principal: 'User:' },
      { host: '' },
      { operation: 'Fly' },
      { permission: 'Maybe' },
      { resourceType: 'Broker' },
      { patternType: 'Match' },
      { resourceName: '' },
      { resourceType: 'Cluster', resourceName: 'other' },
      { resourceName: '*', patternType: 'Prefixed' },
    ]) {
      expect(() => validateBinding({ ...good, ...bad } as AclBinding), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    }
  });

  it('a filter matches on the fields it names', () => {
    const b = acl({ operation: 'Read' });
    expect(filterMatches({}, b)).toBe(true);
    expect(filterMatches({ principal: 'User:alice', operation: 'Read' }, b)).toBe(true);
    expect(filterMatches({ principal: 'User:alice', operation: 'Write' }, b)).toBe(false);
  });

  it("errors use Kafka's names per resource type", () => {
    expect(authorizationError({ principal: 'User:a', operation: 'Write', resourceType: 'Topic', resourceName: 't' }).code).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(authorizationError({ principal: 'User:a', operation: 'Read', resourceType: 'Group', resourceName: 'g' }).code).toBe('GROUP_AUTHORIZATION_FAILED');
    expect(authorizationError({ principal: 'User:a', operation: 'Alter', resourceType: 'Cluster', resourceName: 'kafka-cluster' }).code).toBe(
      'CLUSTER_AUTHORIZATION_FAILED',
    );
  });
});
