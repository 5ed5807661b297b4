// Broker registry decisions: registration and broker epochs, heartbeats, session expiry
// (broker.session.timeout.ms), controlled shutdown and dynamic broker configs. Each takes the
// state, the input and the time, and returns the records to append plus the answer; refusals
// throw a TributaryError. None mutates the state: the caller appends the records, then applies.
//
// Broker epochs: a registration with a new incarnation id gets epoch + 1 (a restarted process);
// the same incarnation registering again gets its current epoch (a retried request, or a broker
// that was fenced while paused and comes back). Heartbeats and AlterPartition must carry the
// current epoch. A fenced broker's heartbeat is refused with STALE_BROKER_EPOCH so that it
// registers again: registration, not a heartbeat, makes a broker alive (Kafka: unfencing waits
// for the broker to ask).
//
// A new incarnation (KIP-903) leaves every ISR it was in and rejoins each by catching up under its
// new epoch (onBrokerRestarted, election.ts); a broker whose data dir holds another cluster's id
// is refused (INCONSISTENT_CLUSTER_ID).

import {
  TributaryError,
  type BrokerId,
  type ControlledShutdownResponse,
  type HeartbeatRequest,
  type RegisterBrokerRequest,
  type RegisterBrokerResponse,
  type SetBrokerConfigRequest,
} from '@tributary/protocol';
import { Draft, type ClusterState } from './cluster-state.ts';
import { brokerConfigValue } from './configs.ts';

/** The broker configs that can change at run time (the replication rates); defined in protocol. */
export { BROKER_DYNAMIC_CONFIGS } from '@tributary/protocol';
import { onBrokerAlive, onBrokerLost, onBrokerRestarted } from './election.ts';
import type { MetadataRecord } from './records.ts';

export interface Decision<T> {
  records: MetadataRecord[];
  reply: T;
}

export function registerBroker(state: ClusterState, request: RegisterBrokerRequest): Decision<RegisterBrokerResponse> {
  if (request.clusterId !== '' && request.clusterId !== state.clusterId) {
    throw new TributaryError(
      'INCONSISTENT_CLUSTER_ID',
      `broker ${request.brokerId}'s data dir belongs to cluster ${request.clusterId}, this controller's cluster is ${state.clusterId}; give the broker an empty data dir or point it at its own cluster's controller`,
    );
  }
  const existing = state.brokers.get(request.brokerId);
  const sameIncarnation = existing !== undefined && existing.incarnationId === request.incarnationId;
  const sameListeners =
    existing !== undefined &&
    existing.rack === request.rack &&
    sameEndpoint(existing.internal, request.internal) &&
    sameEndpoint(existing.external, request.external) &&
    sameKafka(existing.kafka, request.kafka) &&
    existing.logDirId === request.logDirId;
  if (existing && sameIncarnation && existing.alive && sameListeners) {
    return { records: [], reply: { brokerEpoch: existing.epoch } };
  }
  const draft = new Draft(state);
  if (existing && !sameIncarnation && existing.alive) {
    // A new process took over the id before the old one's session expired (a fast restart):
    // the old incarnation is gone with whatever it had not flushed, so it is handled exactly as
    // if it had been fenced, before the new one registers.
    fenceInDraft(draft, existing.id, existing.epoch);
  }
  const brokerEpoch = existing === undefined ? 0 : sameIncarnation ? existing.epoch : existing.epoch + 1;
  if (existing && sameIncarnation && sameListeners) {
    draft.push({ type: 'UnfenceBroker', brokerId: existing.id, brokerEpoch });
  } else {
    draft.push({
      type: 'RegisterBroker',
      brokerId: request.brokerId,
      brokerEpoch,
      incarnationId: request.incarnationId,
      rack: request.rack,
      internal: { ...request.internal },
      external: { ...request.external },
      ...(request.kafka ? { kafka: { internal: { ...request.kafka.internal }, external: { ...request.kafka.external } } } : {}),
      logDirId: request.logDirId,
    });
  }
  // A data dir id we did not know before under a known broker: its disk was lost or replaced.
  // ('' was recorded by a controller that did not track data dirs: unknown, not lost.)
  const lostData = existing !== undefined && existing.logDirId !== '' && existing.logDirId !== request.logDirId;
  if (existing && !sameIncarnation) onBrokerRestarted(draft, request.brokerId, { lostData });
  onBrokerAlive(draft, request.brokerId, { lostData });
  return { records: draft.records, reply: { brokerEpoch } };
}

/**
 * Checks a broker's epoch; throws STALE_BROKER_EPOCH for an unknown broker or another epoch.
 * Used by heartbeats, controlled shutdown and AlterPartition.
 */
export function checkBrokerEpoch(state: ClusterState, brokerId: BrokerId, brokerEpoch: number): void {
  const broker = state.brokers.get(brokerId);
  if (broker === undefined) {
    throw new TributaryError('STALE_BROKER_EPOCH', `broker ${brokerId} is not registered; register first`);
  }
  if (broker.epoch !== brokerEpoch) {
    throw new TributaryError('STALE_BROKER_EPOCH', `broker ${brokerId} epoch ${brokerEpoch} is not the current epoch ${broker.epoch}`);
  }
}

/**
 * A heartbeat changes no logged state; on success the caller records the time. A fenced broker
 * in a controlled shutdown may keep heartbeating until it exits (ignored); any other fenced
 * broker is told to register again.
 */
export function heartbeat(state: ClusterState, request: HeartbeatRequest): { accepted: boolean } {
  checkBrokerEpoch(state, request.brokerId, request.brokerEpoch);
  if (state.isAlive(request.brokerId)) return { accepted: true };
  if (state.isShuttingDown(request.brokerId)) return { accepted: false };
  throw new TributaryError('STALE_BROKER_EPOCH', `broker ${request.brokerId} was fenced (session expired); register again`);
}

/** Fences `brokerId` and moves its leaderships and ISR memberships away. */
export function fenceBroker(state: ClusterState, brokerId: BrokerId): MetadataRecord[] {
  const broker = state.brokers.get(brokerId);
  if (broker === undefined || !broker.alive) return [];
  const draft = new Draft(state);
  fenceInDraft(draft, brokerId, broker.epoch);
  return draft.records;
}

/** The FenceBroker record, then its consequences: leaderships and ISR memberships move away. */
function fenceInDraft(draft: Draft, brokerId: BrokerId, brokerEpoch: number): void {
  draft.push({ type: 'FenceBroker', brokerId, brokerEpoch });
  onBrokerLost(draft, brokerId, 'fenced');
}

/**
 * How long a broker has been silent as far as the controller could tell: the time since its last
 * heartbeat, less the time the controller itself was stalled since then (`stalledMs` is the
 * controller's stalled-time clock, session-clock.ts). Infinite for a broker never heard from.
 */
export function sessionSilenceMs(state: ClusterState, brokerId: BrokerId, nowMs: number, stalledMs = 0): number {
  const session = state.sessions.get(brokerId);
  if (session === undefined) return Number.POSITIVE_INFINITY;
  return nowMs - session.lastHeartbeatMs - Math.max(0, stalledMs - session.stalledMsAtHeartbeat);
}

/**
 * Live brokers silent for longer than the session timeout. A session only expires on heartbeats
 * the controller was able to receive: time its own loop was stalled (`stalledMs`) does not count.
 */
export function expiredSessions(state: ClusterState, nowMs: number, sessionTimeoutMs: number, stalledMs = 0): BrokerId[] {
  const expired: BrokerId[] = [];
  for (const broker of state.brokers.values()) {
    if (!broker.alive) continue;
    if (sessionSilenceMs(state, broker.id, nowMs, stalledMs) > sessionTimeoutMs) expired.push(broker.id);
  }
  return expired.sort((a, b) => a - b);
}

/** Fences every broker whose session expired, in id order, each seeing the previous. */
export function expireSessions(state: ClusterState, nowMs: number, sessionTimeoutMs: number, stalledMs = 0): MetadataRecord[] {
  const expired = expiredSessions(state, nowMs, sessionTimeoutMs, stalledMs);
  if (expired.length === 0) return [];
  const draft = new Draft(state);
  for (const brokerId of expired) {
    fenceInDraft(draft, brokerId, draft.state.brokers.get(brokerId)!.epoch);
  }
  return draft.records;
}

/** A controlled shutdown's decision, with what the controller logs beside the reply. */
export interface ControlledShutdownDecision extends Decision<ControlledShutdownResponse> {
  /** Leaderships no one could take over: they went offline with the fence, as if it had died. */
  offlineLeaderships: number;
}

/**
 * Controlled shutdown: every leadership that another ISR member, alive and not shutting down
 * itself, can take moves to it, and the broker leaves every ISR where others remain. Whatever it
 * still leads has no one to take it, and waiting would not change that: the other ISR members
 * are shutting down (they leave for good) or fenced (one that comes back takes the partition
 * over from offline, onBrokerAlive). So nothing holds the broker back, as in KRaft, where a
 * broker in controlled shutdown may stop once every leadership that can move has moved (the
 * ZooKeeper-era controller made it retry controlled.shutdown.max.retries times instead). It is
 * fenced at once, in the same records as the moves, so metadata shows it gone before the process
 * exits (its later heartbeats are ignored), and the partitions no one could take go offline with
 * it, exactly as if it had died. The reply counts the leaderships that must still move before
 * the broker may stop: 0, as the moves are decided; the broker then waits only until its
 * metadata shows them (broker package, controlled-shutdown.ts). The caller marks the broker as
 * shutting down (an unlogged flag) whether or not records follow.
 */
export function controlledShutdown(state: ClusterState, brokerId: BrokerId, brokerEpoch: number): ControlledShutdownDecision {
  checkBrokerEpoch(state, brokerId, brokerEpoch);
  if (!state.isAlive(brokerId)) return { records: [], reply: { remainingLeaderships: 0 }, offlineLeaderships: 0 };
  const draft = new Draft(state);
  const session = draft.state.sessions.get(brokerId) ?? { lastHeartbeatMs: 0, stalledMsAtHeartbeat: 0, shuttingDown: false };
  session.shuttingDown = true;
  draft.state.sessions.set(brokerId, session);
  const { remainingLeaderships: stuck } = onBrokerLost(draft, brokerId, 'shutdown');
  fenceInDraft(draft, brokerId, brokerEpoch);
  return { records: draft.records, reply: { remainingLeaderships: 0 }, offlineLeaderships: stuck };
}

/**
 * Sets broker-level dynamic configs (BROKER_DYNAMIC_CONFIGS: Kafka's replication quotas, KIP-73):
 * an integer >= 1 bytes/s, or -1 to remove the setting (configs.ts's brokerConfigValue).
 */
export function setBrokerConfig(state: ClusterState, request: SetBrokerConfigRequest): MetadataRecord[] {
  const broker = state.brokers.get(request.brokerId);
  if (broker === undefined) {
    throw new TributaryError('INVALID_REQUEST', `broker ${request.brokerId} is not registered`);
  }
  const configs: Record<string, number> = { ...broker.configs };
  for (const [name, value] of Object.entries(request.configs)) {
    if (typeof value !== 'number') {
      throw new TributaryError('INVALID_CONFIG', `broker config '${name}' must be an integer >= 1 (bytes/s), or -1 to remove it; got ${JSON.stringify(value)}`);
    }
    const parsed = brokerConfigValue(name, value);
    if (parsed === undefined) delete configs[name];
    else configs[name] = parsed;
  }
  return [{ type: 'BrokerConfig', brokerId: broker.id, configs }];
}

function sameKafka(a: RegisterBrokerRequest['kafka'], b: RegisterBrokerRequest['kafka']): boolean {
  if (a === undefined || b === undefined) return a === b;
  return sameEndpoint(a.internal, b.internal) && sameEndpoint(a.external, b.external);
}

function sameEndpoint(a: { host: string; port: number }, b: { host: string; port: number }): boolean {
  return a.host === b.host && a.port === b.port;
}
