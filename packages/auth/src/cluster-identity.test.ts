import { describe, expect, it } from 'vitest';
import { authorizeClusterCall, clusterRole, type ClusterCall, type ClusterRole } from './cluster-identity.ts';
import { ANONYMOUS, userPrincipal, type Principal } from './principal.ts';

const cert = (name: string): Principal => userPrincipal(name, 'certificate');

const BROKER_ROUTES = ['/broker/register', '/broker/heartbeat', '/broker/controlled-shutdown', '/partition/alter', '/replica/fetch'] as const;

interface Case {
  name: string;
  principal: Principal;
  call: ClusterCall;
  allowed: boolean;
  /** A part of the refusal's message. */
  reason?: RegExp;
}

// The table: one row per rule, every broker route for the rows that name a broker.
const CASES: Case[] = [
  ...BROKER_ROUTES.flatMap((route): Case[] => [
    { name: `broker-1 as broker 1: ${route}`, principal: cert('broker-1'), call: { route, brokerId: 1 }, allowed: true },
    {
      name: `broker-1 as broker 2: ${route}`,
      principal: cert('broker-1'),
      call: { route, brokerId: 2 },
      allowed: false,
      reason: /broker-1's certificate cannot act as broker 2 .*may act as broker 1 only/,
    },
    {
      name: `the controller as a broker: ${route}`,
      principal: cert('controller'),
      call: { route, brokerId: 0 },
      allowed: false,
      reason: /controller's certificate .* no broker/,
    },
    { name: `the launcher as a broker: ${route}`, principal: cert('launcher'), call: { route, brokerId: 0 }, allowed: false, reason: /launcher's certificate/ },
    { name: `another name as a broker: ${route}`, principal: cert('alice'), call: { route, brokerId: 0 }, allowed: false, reason: /certificate 'alice'/ },
    {
      name: `a user (SCRAM) as a broker: ${route}`,
      principal: userPrincipal('broker-0', 'scram'),
      call: { route, brokerId: 0 },
      allowed: false,
      reason: /cluster CA/,
    },
    {
      name: `a user (Basic) as a broker: ${route}`,
      principal: userPrincipal('broker-0', 'plain'),
      call: { route, brokerId: 0 },
      allowed: false,
      reason: /cluster CA/,
    },
    { name: `anonymous: ${route}`, principal: ANONYMOUS, call: { route, brokerId: 0 }, allowed: false, reason: /cluster CA/ },
  ]),
  { name: 'broker 0 is not broker 10 (no prefix match)', principal: cert('broker-1'), call: { route: '/broker/register', brokerId: 10 }, allowed: false },
  { name: 'broker-10 as broker 10', principal: cert('broker-10'), call: { route: '/broker/heartbeat', brokerId: 10 }, allowed: true },
  { name: 'broker-01 is no broker (leading zero)', principal: cert('broker-01'), call: { route: '/broker/heartbeat', brokerId: 1 }, allowed: false },
  { name: 'a broker polls metadata', principal: cert('broker-4'), call: { route: '/metadata/poll' }, allowed: true },
  { name: 'the launcher polls metadata', principal: cert('launcher'), call: { route: '/metadata/poll' }, allowed: true },
  {
    name: 'the controller does not poll metadata',
    principal: cert('controller'),
    call: { route: '/metadata/poll' },
    allowed: false,
    reason: /only brokers and the launcher/,
  },
  { name: 'another name does not poll metadata', principal: cert('mallory'), call: { route: '/metadata/poll' }, allowed: false },
  {
    name: 'a user does not poll metadata',
    principal: userPrincipal('admin', 'scram'),
    call: { route: '/metadata/poll' },
    allowed: false,
    reason: /cluster CA/,
  },
];

describe('authorizeClusterCall: a certificate acts only as the process it was made for', () => {
  it.each(CASES)('$name', ({ principal, call, allowed, reason }) => {
    const decision = authorizeClusterCall(principal, call);
    expect(decision.allowed).toBe(allowed);
    if (!decision.allowed && reason !== undefined) expect(decision.reason).toMatch(reason);
  });

  it('every broker id of a certificate acts as that id and no neighbour', () => {
    for (const id of [0, 1, 5, 9, 99, 2 ** 31 - 1]) {
      for (const route of BROKER_ROUTES) {
        expect(authorizeClusterCall(cert(`broker-${id}`), { route, brokerId: id }).allowed).toBe(true);
        expect(authorizeClusterCall(cert(`broker-${id}`), { route, brokerId: id + 1 }).allowed).toBe(false);
        if (id > 0) expect(authorizeClusterCall(cert(`broker-${id}`), { route, brokerId: id - 1 }).allowed).toBe(false);
      }
    }
  });
});

describe('clusterRole: what certs create names', () => {
  const ROLES: [string, ClusterRole][] = [
    ['controller', { kind: 'controller' }],
    ['launcher', { kind: 'launcher' }],
    ['broker-0', { kind: 'broker', brokerId: 0 }],
    ['broker-42', { kind: 'broker', brokerId: 42 }],
    ['broker-2147483647', { kind: 'broker', brokerId: 2147483647 }],
    ['broker-2147483648', { kind: 'other', name: 'broker-2147483648' }],
    ['broker-', { kind: 'other', name: 'broker-' }],
    ['broker--1', { kind: 'other', name: 'broker--1' }],
    ['broker-1x', { kind: 'other', name: 'broker-1x' }],
    ['broker-07', { kind: 'other', name: 'broker-07' }],
    ['Broker-1', { kind: 'other', name: 'Broker-1' }],
    ['controller-2', { kind: 'other', name: 'controller-2' }],
  ];
  it.each(ROLES)('%s', (name, role) => expect(clusterRole(name)).toEqual(role));
});
