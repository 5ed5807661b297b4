// Leader election (DESIGN.md § Replication): what happens to partitions when a broker is fenced,
// shuts down, or comes back, and preferred-replica election (auto.leader.rebalance.enable).
//
// - A partition's leader is the first replica, in replica-list order, that is in the ISR and
//   eligible (alive, not in a controlled shutdown).
// - A lost broker leaves every ISR, except that an ISR never becomes empty: when the lost broker
//   is the last member it stays, so the controller remembers who holds all committed data, and
//   the partition goes offline (leader -1) until that broker returns (Kafka without ELR, KIP-966).
// - A broker that registers as a new process leaves every ISR where others remain and rejoins by
//   catching up under its new broker epoch (KIP-903). As the last member it stays and leads again
//   (KIP-966's "last known leader"), unless its data dir is new: then the ISR becomes empty and
//   the partition stays offline, since electing an empty log would erase what others hold.
// - With no eligible ISR member, unclean.leader.election.enable elects any eligible replica and
//   makes it the whole ISR: records only it holds become the truth, others may be lost.
// - Every leader change bumps the leader epoch; every change bumps the partition epoch.
// - During a reassignment (KIP-455, reassignment.ts) the replica list is the target followed by
//   the replicas leaving, so a target replica in the ISR is preferred; a replica being added
//   leads only once it is in the ISR, and never by unclean election (its log may be empty).

import { NO_LEADER, type BrokerId, type PartitionState, type TopicState } from '@tributary/protocol';
import type { ClusterState, Draft } from './cluster-state.ts';
import type { PartitionChangeRecord } from './records.ts';

/** First replica that is in `isr` and eligible, or -1. */
export function firstEligibleInIsr(state: ClusterState, replicas: readonly BrokerId[], isr: readonly BrokerId[]): BrokerId {
  return replicas.find((r) => isr.includes(r) && state.isEligible(r)) ?? NO_LEADER;
}

/** A new replica assignment for partitionChange: the full list and its adding / removing replicas. */
export interface ReplicaAssignment {
  replicas: BrokerId[];
  addingReplicas: BrokerId[];
  removingReplicas: BrokerId[];
}

export function partitionChange(
  topic: TopicState,
  partition: PartitionState,
  leader: BrokerId,
  isr: BrokerId[],
  assignment?: ReplicaAssignment,
): PartitionChangeRecord {
  return {
    type: 'PartitionChange',
    topic: topic.name,
    topicId: topic.topicId,
    partition: partition.partition,
    leader,
    leaderEpoch: leader === partition.leader ? partition.leaderEpoch : partition.leaderEpoch + 1,
    partitionEpoch: partition.partitionEpoch + 1,
    isr,
    ...(assignment
      ? { replicas: [...assignment.replicas], addingReplicas: [...assignment.addingReplicas], removingReplicas: [...assignment.removingReplicas] }
      : {}),
  };
}

/** Replicas an unclean election may pick: eligible, and not being added by a reassignment. */
function uncleanCandidates(state: ClusterState, partition: PartitionState): BrokerId[] {
  return partition.replicas.filter((r) => !partition.addingReplicas.includes(r) && state.isEligible(r));
}

function sameMembers(a: readonly BrokerId[], b: readonly BrokerId[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export interface BrokerLossOutcome {
  /**
   * Partitions the broker still leads (mode 'shutdown': no other ISR member is alive and not
   * shutting down, so no one can take over).
   */
  remainingLeaderships: number;
  /** Partitions taken by unclean election, for the warning log. */
  uncleanElections: { topic: string; partition: number; leader: BrokerId }[];
}

/**
 * Pushes the partition changes that follow from `brokerId` no longer being eligible.
 *
 * A fenced broker is taken out of the ISR only of the partitions it led, as part of electing
 * their new leader. Where it follows, the leader's lag rule removes it once it has not caught up
 * for replica.lag.time.max.ms (DESIGN.md § ISR): a SIGSTOPped follower leaves the ISR after the
 * seed's 10 s, not after the 3 s session timeout. A controlled shutdown, by contrast, leaves
 * every ISR it can at once, so that no acks=all write waits for a broker that is going away.
 *
 * The draft
 * state must already show it fenced (mode 'fenced') or shutting down (mode 'shutdown'). In a
 * controlled shutdown a partition it leads with no one to take over is left as it is and counted
 * in remainingLeaderships; controlledShutdown (broker-registry.ts) then fences the broker, which
 * takes such a partition offline as if the broker had died.
 */
export function onBrokerLost(draft: Draft, brokerId: BrokerId, mode: 'fenced' | 'shutdown'): BrokerLossOutcome {
  const outcome: BrokerLossOutcome = { remainingLeaderships: 0, uncleanElections: [] };
  for (const { topic, partition } of [...draft.state.allPartitions()]) {
    if (partition.leader !== brokerId && !partition.isr.includes(brokerId)) continue;
    if (mode === 'fenced' && partition.leader !== brokerId) continue;
    let isr = partition.isr.filter((r) => r !== brokerId);
    if (isr.length === 0) isr = [...partition.isr];
    let leader = partition.leader;
    if (leader === brokerId) {
      leader = firstEligibleInIsr(draft.state, partition.replicas, isr);
      if (leader === NO_LEADER) {
        if (mode === 'shutdown') {
          outcome.remainingLeaderships += 1;
          continue;
        }
        if (topic.configs['unclean.leader.election.enable']) {
          const unclean = uncleanCandidates(draft.state, partition).find((r) => r !== brokerId);
          if (unclean !== undefined) {
            leader = unclean;
            isr = [unclean];
            outcome.uncleanElections.push({ topic: topic.name, partition: partition.partition, leader });
          }
        }
      }
    }
    if (leader === partition.leader && sameMembers(isr, partition.isr)) continue;
    draft.push(partitionChange(topic, partition, leader, isr));
  }
  return outcome;
}

/**
 * `brokerId` registered as a new process (a new incarnation: a restart, or a disk that was lost).
 * KIP-903: its log may hold less than its ISR memberships promise, so it leaves every ISR where
 * other members remain, and joins again only through an AlterPartition that carries its new
 * broker epoch, once it has caught up. Where it is the last member (the partition went offline
 * when it was fenced):
 *
 * - its data dir is the one it had (a kill -9 or a clean restart): it stays, and onBrokerAlive
 *   makes it leader again. Its log is the one that made it the last member; a process that dies
 *   loses nothing the page cache held. This is Kafka's "last known leader" rule (KIP-966 elects it
 *   when ISR and ELR are empty, as Kafka did before ELR).
 * - its data dir is new (`lostData`): whatever made it the last member is gone. It leaves, the
 *   ISR is empty and the partition stays offline (leader -1): an empty replica leading would make
 *   every other replica truncate to nothing. Only unclean.leader.election.enable (opt-in) brings
 *   it back, from another replica when one is eligible.
 */
export function onBrokerRestarted(draft: Draft, brokerId: BrokerId, options: { lostData: boolean }): void {
  for (const { topic, partition } of [...draft.state.allPartitions()]) {
    if (!partition.isr.includes(brokerId)) continue;
    const isr = partition.isr.filter((r) => r !== brokerId);
    if (isr.length === 0 && !options.lostData) continue;
    // It cannot be leading: a new incarnation registers only after the old one was fenced.
    const leader = partition.leader === brokerId ? NO_LEADER : partition.leader;
    draft.push(partitionChange(topic, partition, leader, isr));
  }
}

/**
 * Pushes elections for offline partitions now that `brokerId` is eligible again: a returning ISR
 * member leads again (its ISR kept), or, with unclean election on, an eligible replica does — not
 * `brokerId` itself when it comes back without its data and another replica is eligible.
 */
export function onBrokerAlive(draft: Draft, brokerId: BrokerId, options: { lostData?: boolean } = {}): BrokerLossOutcome['uncleanElections'] {
  const unclean: BrokerLossOutcome['uncleanElections'] = [];
  for (const { topic, partition } of [...draft.state.allPartitions()]) {
    if (partition.leader !== NO_LEADER || !partition.replicas.includes(brokerId)) continue;
    const leader = firstEligibleInIsr(draft.state, partition.replicas, partition.isr);
    if (leader !== NO_LEADER) {
      draft.push(partitionChange(topic, partition, leader, [...partition.isr]));
    } else if (topic.configs['unclean.leader.election.enable'] && uncleanCandidates(draft.state, partition).includes(brokerId)) {
      const chosen = options.lostData ? (uncleanCandidates(draft.state, partition).find((r) => r !== brokerId) ?? brokerId) : brokerId;
      draft.push(partitionChange(topic, partition, chosen, [chosen]));
      unclean.push({ topic: topic.name, partition: partition.partition, leader: chosen });
    }
  }
  return unclean;
}

/**
 * Whether any partition would get its preferred leader back (electPreferredLeaders would push a
 * record): read-only, so the rebalance timer does not copy the whole state every interval to
 * find, most of the time, nothing to do.
 */
export function preferredLeaderElectionPending(state: ClusterState): boolean {
  for (const { partition } of state.allPartitions()) {
    const preferred = partition.replicas[0];
    if (preferred !== undefined && partition.leader !== preferred && partition.isr.includes(preferred) && state.isEligible(preferred)) return true;
  }
  return false;
}

/**
 * Preferred-replica election: every selected partition whose first replica is eligible and in
 * the ISR but not leading gets it back as leader. `select` limits the partitions considered.
 */
export function electPreferredLeaders(
  draft: Draft,
  select: (topic: TopicState, partition: PartitionState) => boolean = () => true,
): { topic: string; partition: number; leader: BrokerId }[] {
  const elected: { topic: string; partition: number; leader: BrokerId }[] = [];
  for (const { topic, partition } of [...draft.state.allPartitions()]) {
    if (!select(topic, partition)) continue;
    const preferred = partition.replicas[0];
    if (preferred === undefined || partition.leader === preferred) continue;
    if (!partition.isr.includes(preferred) || !draft.state.isEligible(preferred)) continue;
    draft.push(partitionChange(topic, partition, preferred, [...partition.isr]));
    elected.push({ topic: topic.name, partition: partition.partition, leader: preferred });
  }
  return elected;
}
