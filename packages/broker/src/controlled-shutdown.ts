// Controlled shutdown, the broker's side (DESIGN.md § Replication, Leader election): once the
// controller has decided the moves, the broker waits until its metadata shows them, so no
// request is lost to a broker that stops while clients still think it leads. It waits only for
// leaderships that can move. A partition whose other ISR members are all fenced or themselves
// shutting down has no one to take it: the controller takes it offline when it fences this
// broker, and waiting for it would only run out controlledShutdownMaxMs (the whole cluster
// stopping at once used to wait 10 s per broker so).

import type { BrokerId, BrokerRegistration } from '@tributary/protocol';

/** What the wait needs to know of a partition replica on this broker. */
export interface LeadershipView {
  readonly topic: string;
  readonly partition: number;
  readonly isLeader: boolean;
  readonly isr: readonly BrokerId[];
}

/**
 * Partitions this broker still leads that have an ISR peer alive in its metadata: the controller
 * moves each such leadership, so the broker waits until metadata shows it gone. A peer in a
 * controlled shutdown leaves every ISR where others remain and is fenced in the same records, so
 * "alive in metadata" stands for "alive and not shutting down" here, up to metadata lag (which
 * only makes the broker wait longer).
 */
export function leadershipsToHandOver(partitions: Iterable<LeadershipView>, brokerId: BrokerId, isAlive: (id: BrokerId) => boolean): LeadershipView[] {
  const left: LeadershipView[] = [];
  for (const p of partitions) {
    if (p.isLeader && p.isr.some((id) => id !== brokerId && isAlive(id))) left.push(p);
  }
  return left;
}

/** What the broker's metadata says, as far as the wait is concerned (MetadataCache fits). */
export interface ShutdownMetadataView {
  readonly version: number;
  broker(id: BrokerId): BrokerRegistration | undefined;
  isAlive(id: BrokerId): boolean;
}

/**
 * Whether the broker may stop after the controller answered that nothing it must move remains.
 * Yes once its metadata, newer than the version it had when it asked, shows this incarnation
 * fenced: the controller fences it in the same records as the moves, so every move is visible.
 * Yes, too, once it leads no partition with a live ISR peer (leadershipsToHandOver): a broker
 * whose every leadership was stuck need not wait for metadata at all.
 */
export function handOverComplete(
  metadata: ShutdownMetadataView,
  askedAtVersion: number,
  brokerId: BrokerId,
  brokerEpoch: number,
  partitions: Iterable<LeadershipView>,
): boolean {
  const self = metadata.broker(brokerId);
  if (metadata.version > askedAtVersion && self !== undefined && self.epoch === brokerEpoch && !self.alive) return true;
  return leadershipsToHandOver(partitions, brokerId, (id) => metadata.isAlive(id)).length === 0;
}
