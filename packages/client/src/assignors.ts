// The partition assignors a group leader runs (Kafka's ConsumerPartitionAssignor implementations),
// pure functions of the topics' partition counts and the members' subscriptions:
//
// - `range` (Kafka's RangeAssignor): per topic, the members subscribed to it in order, each given a
//   contiguous range; the first n % m members one partition more.
// - `round-robin` (RoundRobinAssignor): every subscribed partition in topic-partition order, dealt
//   out to the members in turn, skipping members not subscribed to its topic.
// - `cooperative-sticky` (CooperativeStickyAssignor, KIP-429, on AbstractStickyAssignor's rules):
//   as balanced as the subscriptions allow, moving as few partitions as that needs, and never
//   handing a partition straight from one member to another in one rebalance: the one that owns it
//   revokes it first, and the follow-up rebalance it asks for assigns it. Members keep consuming
//   the partitions a rebalance does not move.
//
// Members are ordered as Kafka's MemberInfo orders them (group instance id when present, then
// member id), so every leader computes the same assignment from the same inputs.

import { sortTopicPartitions, type TopicPartition } from '@tributary/protocol';

/** Kafka's RebalanceProtocol: what a member does with its partitions when a rebalance starts. */
export type RebalanceProtocol = 'eager' | 'cooperative';

/** One member as the leader sees it in JoinGroup's answer (its Subscription decoded). */
export interface MemberSubscription {
  memberId: string;
  groupInstanceId?: string;
  topics: readonly string[];
  /** What it owns as it joins (cooperative members; eager ones have revoked everything). */
  ownedPartitions: readonly TopicPartition[];
  /** The generation it owned them in (-1: unknown). */
  generationId: number;
}

export interface PartitionAssignor {
  /** The protocol name in JoinGroup (Kafka's assignor names). */
  readonly name: string;
  /** Kafka's supportedProtocols(): an assignor that can be run without members revoking first. */
  readonly protocols: readonly RebalanceProtocol[];
  /** Member id → its partitions. Every member gets an entry, possibly empty. */
  assign(partitionsPerTopic: ReadonlyMap<string, number>, members: readonly MemberSubscription[]): Map<string, TopicPartition[]>;
}

export type AssignorName = 'range' | 'round-robin' | 'cooperative-sticky';

function compareMembers(a: MemberSubscription, b: MemberSubscription): number {
  // Kafka's MemberInfo.compareTo: static members by instance id first, then by member id.
  const ai = a.groupInstanceId;
  const bi = b.groupInstanceId;
  if (ai !== undefined && bi !== undefined && ai !== bi) return ai < bi ? -1 : 1;
  if (ai !== undefined && bi === undefined) return -1;
  if (ai === undefined && bi !== undefined) return 1;
  return a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0;
}

function emptyAssignment(members: readonly MemberSubscription[]): Map<string, TopicPartition[]> {
  return new Map(members.map((m) => [m.memberId, []]));
}

function key(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

/** The subscribed topics that exist, sorted. */
function subscribedTopics(partitionsPerTopic: ReadonlyMap<string, number>, members: readonly MemberSubscription[]): string[] {
  const topics = new Set<string>();
  for (const m of members) for (const t of m.topics) if ((partitionsPerTopic.get(t) ?? 0) > 0) topics.add(t);
  return [...topics].sort();
}

export const rangeAssignor: PartitionAssignor = {
  name: 'range',
  protocols: ['eager'],
  assign(partitionsPerTopic, members) {
    const out = emptyAssignment(members);
    for (const topic of subscribedTopics(partitionsPerTopic, members)) {
      const n = partitionsPerTopic.get(topic)!;
      const consumers = members.filter((m) => m.topics.includes(topic)).sort(compareMembers);
      const per = Math.floor(n / consumers.length);
      const extra = n % consumers.length;
      consumers.forEach((m, i) => {
        const start = per * i + Math.min(i, extra);
        const length = per + (i < extra ? 1 : 0);
        for (let p = start; p < start + length; p++) out.get(m.memberId)!.push({ topic, partition: p });
      });
    }
    return out;
  },
};

export const roundRobinAssignor: PartitionAssignor = {
  name: 'round-robin',
  protocols: ['eager'],
  assign(partitionsPerTopic, members) {
    const out = emptyAssignment(members);
    const consumers = [...members].sort(compareMembers);
    if (consumers.length === 0) return out;
    let next = 0;
    for (const topic of subscribedTopics(partitionsPerTopic, members)) {
      for (let partition = 0; partition < partitionsPerTopic.get(topic)!; partition++) {
        // Kafka's CircularIterator: on to the next member subscribed to this topic.
        while (!consumers[next % consumers.length]!.topics.includes(topic)) next++;
        out.get(consumers[next % consumers.length]!.memberId)!.push({ topic, partition });
        next++;
      }
    }
    return out;
  },
};

/**
 * Which member validly owns each partition: one that exists, that the member still subscribes to,
 * claimed in the highest generation among its claimants; a partition two members claim in the
 * same generation is owned by neither (AbstractStickyAssignor's rule: one of them is out of date,
 * and which one is not known).
 */
export function validOwners(partitionsPerTopic: ReadonlyMap<string, number>, members: readonly MemberSubscription[]): Map<string, string> {
  const best = new Map<string, { memberId: string; generationId: number; conflict: boolean }>();
  for (const m of [...members].sort(compareMembers)) {
    for (const tp of m.ownedPartitions) {
      if (!m.topics.includes(tp.topic) || tp.partition >= (partitionsPerTopic.get(tp.topic) ?? 0)) continue;
      const k = key(tp);
      const prev = best.get(k);
      if (prev === undefined || m.generationId > prev.generationId) best.set(k, { memberId: m.memberId, generationId: m.generationId, conflict: false });
      else if (m.generationId === prev.generationId) prev.conflict = true;
    }
  }
  const owners = new Map<string, string>();
  for (const [k, b] of best) if (!b.conflict) owners.set(k, b.memberId);
  return owners;
}

/**
 * The sticky assignment: every member keeps what it validly owns, the rest goes to the members
 * with the fewest partitions (partitions few members can take first), then partitions move, one
 * at a time, from a member with more than one above another that can take them — preferring
 * partitions it did not own before — until no such move is left. Each move lowers the sum of the
 * squared counts, so this ends; with equal subscriptions every member ends with ⌊P/M⌋ or ⌈P/M⌉
 * partitions and only as many partitions move as that balance needs.
 */
export function stickyAssign(partitionsPerTopic: ReadonlyMap<string, number>, members: readonly MemberSubscription[]): Map<string, TopicPartition[]> {
  const ordered = [...members].sort(compareMembers);
  const order = new Map(ordered.map((m, i) => [m.memberId, i]));
  const subscribes = new Map(ordered.map((m) => [m.memberId, new Set(m.topics)]));
  const owners = validOwners(partitionsPerTopic, members);
  const held = new Map<string, TopicPartition[]>(ordered.map((m) => [m.memberId, []]));
  const all: TopicPartition[] = [];
  for (const topic of subscribedTopics(partitionsPerTopic, members)) {
    for (let partition = 0; partition < partitionsPerTopic.get(topic)!; partition++) all.push({ topic, partition });
  }
  const unassigned: TopicPartition[] = [];
  for (const tp of all) {
    const owner = owners.get(key(tp));
    if (owner !== undefined) held.get(owner)!.push(tp);
    else unassigned.push(tp);
  }
  const eligible = (tp: TopicPartition) => ordered.filter((m) => subscribes.get(m.memberId)!.has(tp.topic));
  const fewest = (candidates: readonly MemberSubscription[]) =>
    candidates.reduce((a, b) => (held.get(b.memberId)!.length < held.get(a.memberId)!.length ? b : a));
  // Partitions with the fewest possible members first, so that they are not crowded out.
  const withCounts = unassigned.map((tp) => ({ tp, members: eligible(tp) }));
  withCounts.sort(
    (a, b) => a.members.length - b.members.length || (a.tp.topic < b.tp.topic ? -1 : a.tp.topic > b.tp.topic ? 1 : a.tp.partition - b.tp.partition),
  );
  for (const { tp, members: candidates } of withCounts) held.get(fewest(candidates).memberId)!.push(tp);

  const ownedBy = (memberId: string, tp: TopicPartition) => owners.get(key(tp)) === memberId;
  for (;;) {
    const bySize = [...ordered].sort((a, b) => held.get(b.memberId)!.length - held.get(a.memberId)!.length || order.get(a.memberId)! - order.get(b.memberId)!);
    let moved = false;
    search: for (const from of bySize) {
      const fromHeld = held.get(from.memberId)!;
      for (let i = bySize.length - 1; i >= 0; i--) {
        const to = bySize[i]!;
        const toHeld = held.get(to.memberId)!;
        if (fromHeld.length - toHeld.length <= 1) break;
        const canTake = subscribes.get(to.memberId)!;
        // A partition it did not own before, the last such; else its last owned one.
        let pick = -1;
        for (let j = fromHeld.length - 1; j >= 0; j--) {
          if (!canTake.has(fromHeld[j]!.topic)) continue;
          if (!ownedBy(from.memberId, fromHeld[j]!)) {
            pick = j;
            break;
          }
          if (pick < 0) pick = j;
        }
        if (pick < 0) continue;
        toHeld.push(fromHeld.splice(pick, 1)[0]!);
        moved = true;
        break search;
      }
    }
    if (!moved) break;
  }
  for (const list of held.values()) sortTopicPartitions(list);
  return held;
}

/**
 * KIP-429's rule for members that keep their partitions through a rebalance: a partition another
 * member still owns is not handed to its new owner in this generation. The owner, not finding it
 * in its assignment, revokes it and rejoins; the follow-up rebalance assigns it, unowned by then.
 * (CooperativeStickyAssignor.adjustAssignment; the leader applies it to every assignor's result,
 * so that a group can never have two members consuming one partition at once.)
 * Returns the adjusted assignment and the partitions held back.
 */
export function withoutTransfers(
  assignment: ReadonlyMap<string, readonly TopicPartition[]>,
  members: readonly MemberSubscription[],
): { assignment: Map<string, TopicPartition[]>; withheld: TopicPartition[] } {
  // Every claim, of any generation: a member that claims a partition may still be consuming it.
  const claims = new Map<string, { memberId: string; generationId: number }[]>();
  for (const m of members) {
    for (const tp of m.ownedPartitions) {
      let list = claims.get(key(tp));
      if (list === undefined) {
        list = [];
        claims.set(key(tp), list);
      }
      list.push({ memberId: m.memberId, generationId: m.generationId });
    }
  }
  const out = new Map<string, TopicPartition[]>();
  const withheld: TopicPartition[] = [];
  for (const [memberId, tps] of assignment) {
    const kept: TopicPartition[] = [];
    for (const tp of tps) {
      const list = claims.get(key(tp)) ?? [];
      const own = list.find((c) => c.memberId === memberId);
      // It stays with a member that claims it in a newer generation than any other claimant (the
      // others are out of date and revoke it); it is held back while anyone else may own it.
      const someoneElse = list.some((c) => c.memberId !== memberId && (own === undefined || c.generationId >= own.generationId));
      if (someoneElse) withheld.push(tp);
      else kept.push(tp);
    }
    out.set(memberId, kept);
  }
  return { assignment: out, withheld: sortTopicPartitions(withheld) };
}

export const cooperativeStickyAssignor: PartitionAssignor = {
  name: 'cooperative-sticky',
  protocols: ['cooperative', 'eager'],
  assign(partitionsPerTopic, members) {
    return withoutTransfers(stickyAssign(partitionsPerTopic, members), members).assignment;
  },
};

export const ASSIGNORS: Readonly<Record<AssignorName, PartitionAssignor>> = Object.freeze({
  range: rangeAssignor,
  'round-robin': roundRobinAssignor,
  'cooperative-sticky': cooperativeStickyAssignor,
});

export function isAssignorName(name: string): name is AssignorName {
  return Object.hasOwn(ASSIGNORS, name);
}

/**
 * The rebalance protocol of a set of assignors: cooperative when the one used supports it. A
 * member decides how to behave when a rebalance starts by the assignor its group chose last (or,
 * before its first generation, by its own first choice): see Consumer's README section.
 */
export function rebalanceProtocolOf(assignor: PartitionAssignor): RebalanceProtocol {
  return assignor.protocols.includes('cooperative') ? 'cooperative' : 'eager';
}
