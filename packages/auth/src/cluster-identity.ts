// Which process a cluster certificate is (issue 20): a certificate signed by the cluster CA proves
// that its holder is a cluster process, and its common name says which one. `tributary certs
// create` and `local up --secure` name them `controller`, `broker-<id>` and `launcher`. A
// certificate acts only as the process it was made for: broker-3's may register, heartbeat, shut
// down, change an ISR and fetch as a replica as broker 3 and as no other broker; the controller's
// as no broker at all. Without this any one certificate could register as every broker (fencing
// the real one and advertising its own address), heartbeat for them, or fetch as their replica.
// Pure: the routes parse the body, then ask.

import { isClusterProcess, type Principal } from './principal.ts';

/** What a cluster certificate's common name makes its holder. */
export type ClusterRole =
  | { kind: 'controller' }
  | { kind: 'broker'; brokerId: number }
  /** The local launcher's own identity: it waits for the cluster with a metadata poll. */
  | { kind: 'launcher' }
  /** Signed by the cluster CA under another name: a cluster process, but none of these. */
  | { kind: 'other'; name: string };

/** Broker ids are 31-bit (Kafka's int32, non-negative). */
const BROKER_ID_MAX = 2 ** 31 - 1;

/** `controller`, `broker-<id>` (decimal, no leading zero), `launcher`; anything else is 'other'. */
export function clusterRole(commonName: string): ClusterRole {
  if (commonName === 'controller') return { kind: 'controller' };
  if (commonName === 'launcher') return { kind: 'launcher' };
  const broker = /^broker-(0|[1-9][0-9]{0,9})$/.exec(commonName);
  if (broker !== null) {
    const brokerId = Number(broker[1]);
    if (brokerId <= BROKER_ID_MAX) return { kind: 'broker', brokerId };
  }
  return { kind: 'other', name: commonName };
}

/** The certificate's common name, from its principal (`User:broker-3` → `broker-3`). */
export function commonNameOf(principal: Principal): string {
  return principal.name.startsWith('User:') ? principal.name.slice(5) : principal.name;
}

/** A cluster-internal call, as the route parsed it: the broker it acts as, where it names one. */
export type ClusterCall =
  | {
      route: '/broker/register' | '/broker/heartbeat' | '/broker/controlled-shutdown' | '/partition/alter' | '/replica/fetch';
      brokerId: number;
    }
  | { route: '/metadata/poll' };

export type ClusterCallDecision = { allowed: true } | { allowed: false; reason: string };

function holder(role: ClusterRole): string {
  switch (role.kind) {
    case 'controller':
      return "the controller's certificate";
    case 'launcher':
      return "the launcher's certificate";
    case 'broker':
      return `broker-${role.brokerId}'s certificate`;
    case 'other':
      return `the certificate '${role.name}'`;
  }
}

/**
 * Whether the caller may make this cluster-internal call:
 * 1. only a cluster process (a certificate signed by the cluster CA);
 * 2. a call that acts as a broker (registration, heartbeat, controlled shutdown, AlterPartition,
 *    replica fetch) only from that broker's certificate: `broker-<id>` with the body's brokerId;
 * 3. the metadata poll from any broker's certificate, or the launcher's (it carries the SCRAM
 *    credentials: the controller, which holds them, has no need of it, nor has any other name).
 */
export function authorizeClusterCall(principal: Principal, call: ClusterCall): ClusterCallDecision {
  if (!isClusterProcess(principal))
    return { allowed: false, reason: `${call.route} is for cluster processes: it needs a client certificate signed by the cluster CA` };
  const role = clusterRole(commonNameOf(principal));
  if (call.route === '/metadata/poll') {
    if (role.kind === 'broker' || role.kind === 'launcher') return { allowed: true };
    return { allowed: false, reason: `${holder(role)} may not poll the cluster metadata: only brokers and the launcher do` };
  }
  if (role.kind === 'broker' && role.brokerId === call.brokerId) return { allowed: true };
  const may = role.kind === 'broker' ? `: it may act as broker ${role.brokerId} only` : ': it is no broker';
  return { allowed: false, reason: `${holder(role)} cannot act as broker ${call.brokerId} (${call.route})${may}` };
}
