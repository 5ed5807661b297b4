// The reassignment plan generator behind `tributary reassign generate` and `brokers decommission`.
// Pure and deterministic: the same cluster and the same request always give the same plan.
//
// Objective, in order (each one only breaks the ties of the one before):
//
//   1. Valid (hard). Every replica on one of the brokers given; each partition keeps its
//      replication factor, with no broker twice; and no two replicas of a partition in one rack
//      while a rack of the given brokers holds none of it (a partition spans min(RF, racks)
//      racks), the rule of DESIGN.md § Placement.
//   2. Balanced replicas: every given broker holds, of each planned topic, a number of replicas
//      within one of the average (replicas / brokers): with an average of 5, anything from 4 to
//      6; with 4.29, 4 or 5. The seed's table (4, 5, 6, 6, 5, 4 replicas of `demo` over six
//      brokers) is balanced by this rule, so a plan for it moves nothing. Where the racks make
//      it impossible (racks of unequal size and every partition in every rack: a broker of the
//      smaller rack must hold more), every broker within one of its own rack's average instead,
//      and the plan says so in a warning.
//   3. Fewest replica moves: a move is a broker added to a partition's replica list (it copies
//      the log). Replicas already in place stay, so the plan is the current assignment plus the
//      fewest changes that reach 1 and 2.
//   4. Leaders spread: every given broker is the preferred leader (first replica) of as even a
//      share of the topic's partitions as there is (the average rounded down or up: 1 or 2 of
//      10 over six or seven brokers), with the fewest preferred-leader changes. Leaderships copy
//      nothing, so this band is tight where the replicas' is loose.
//
// How it gets there (a and b greedy, each step the cheapest that makes progress; the tests
// compare its moves with a brute-force search of every placement on thousands of small random
// clusters, and it matches them):
//
//   a. Replicas on brokers not given are removed, and where a partition spans too few racks the
//      surplus replicas of its most crowded rack are removed (the one on the broker holding the
//      most of the topic). The empty slots are filled, in place, most constrained first (the slot
//      with the fewest brokers that keep or restore its partition's rack spread), each with the
//      qualifying broker holding the fewest replicas of the topic, of those the one the fewest
//      other open slots could take.
//   b. While a broker is outside the band of 2, one replica moves off a broker above the band's
//      floor onto one under its ceiling, such that the move takes a replica off a broker above
//      the band or puts one on a broker below it. Of all such moves that keep the partition's
//      rack spread, the one taken adds the fewest moves (moving a replica this plan already moved
//      costs nothing more), then brings the most into the band (from above it to below it counts
//      twice), then leaves the leadership alone (the donor follows) or hands it over where that
//      brings the leader counts nearer their band, then has the donor with the most replicas, the
//      receiver with the fewest, the lowest partition number. The receiver takes the donor's place
//      in the list. When no such move exists the racks forbid the band (see 2), and the same rule
//      runs within each rack, with that rack's band, moving replicas only between its brokers.
//   c. The preferred leaders are chosen all at once, among each partition's replicas, as a
//      min-cost flow (`assignLeaders`): every broker within the leader band where any choice
//      allows it, then the fewest partitions whose first replica changes. The chosen leader
//      swaps places with the first replica. This is exact, where swapping one leadership at a
//      time can get stuck (a broker that only shares partitions with brokers already at the
//      band's ceiling).
//
// Tie-breaks, after the counts of the topic: in a and b the broker fewer other slots or moves
// could serve first; then the broker's replicas (in c, leaderships) over the whole cluster, fewer
// first for a receiver and more first for a donor, so topics of one partition spread over the
// cluster rather than pile onto broker 0; then the rack-alternated order of the given brokers
// (DESIGN.md § Placement), earlier first. Topics are planned one at a time,
// by name, each balanced on its own (as Kafka's tool proposes per topic), counting the topics
// planned before it in the cluster-wide tie-break.
//
// Partitions whose list comes out unchanged are left out of the plan; a partition whose brokers
// stay but whose order changes (a preferred-leader swap) is in it: it completes at once.

import { TributaryError } from '@tributary/protocol';
import { rackAlternated } from './by-broker.ts';

export interface PlanBroker {
  id: number;
  rack: string;
}

export interface PlanPartition {
  topic: string;
  partition: number;
  replicas: readonly number[];
}

export interface PlanRequest {
  /** The brokers the plan may place replicas on (every other broker ends up holding none of the planned topics). */
  brokers: readonly PlanBroker[];
  /** Every partition of the cluster as it is now; those of `topics` are planned, the rest count as load. */
  partitions: readonly PlanPartition[];
  /** The topics to plan. */
  topics: readonly string[];
}

/** One entry of a plan file, in Kafka's reassignment JSON format (`log_dirs` left out). */
export interface PlanEntry {
  topic: string;
  partition: number;
  replicas: number[];
}

/** Kafka's reassignment JSON: `{"version":1,"partitions":[{"topic","partition","replicas"}]}`. */
export interface ReassignmentPlan {
  version: 1;
  partitions: PlanEntry[];
}

export interface BrokerLoad {
  brokerId: number;
  rack: string;
  replicasBefore: number;
  replicasAfter: number;
  leadersBefore: number;
  leadersAfter: number;
}

export interface ProposedPlan {
  /** The partitions whose replica list changes, by topic and partition. */
  plan: ReassignmentPlan;
  /** The same partitions as they are now: the plan that would put them back. */
  current: ReassignmentPlan;
  /** Brokers added to replica lists (each copies the partition's log). */
  moves: number;
  /** Partitions whose preferred leader (first replica) changes. */
  leaderChanges: number;
  /** Per topic planned, per broker (given, or holding a replica now), replicas and preferred leaderships before and after. */
  load: { topic: string; brokers: BrokerLoad[] }[];
  /** What the plan could not achieve (e.g. a band no placement meets), in words; empty when it met every objective. */
  warnings: string[];
}

/** The replica band, "within one of the average": [ceil(mean − 1), floor(mean + 1)]. */
export function balanceBand(total: number, brokers: number): { lo: number; hi: number } {
  const mean = total / brokers;
  return { lo: Math.max(0, Math.ceil(mean - 1)), hi: Math.floor(mean + 1) };
}

/** The preferred-leader band, as even as it gets: [floor(mean), ceil(mean)]. Leaderships cost no copying. */
export function leaderBand(partitions: number, brokers: number): { lo: number; hi: number } {
  const mean = partitions / brokers;
  return { lo: Math.floor(mean), hi: Math.ceil(mean) };
}

/**
 * The least number of moves any valid plan for one topic needs to reach the replica band: every
 * replica on a broker not given must move, every replica above the band's ceiling must leave, and
 * every slot below its floor must be filled by a move. Rack rules can only raise it. Exposed for
 * the tests' minimality checks and the summary.
 */
export function movesLowerBound(brokers: readonly PlanBroker[], partitions: readonly PlanPartition[]): number {
  const eligible = new Set(brokers.map((b) => b.id));
  const count = new Map(brokers.map((b) => [b.id, 0]));
  let forced = 0;
  let total = 0;
  for (const p of partitions) {
    total += p.replicas.length;
    for (const r of p.replicas) {
      if (eligible.has(r)) count.set(r, count.get(r)! + 1);
      else forced++;
    }
  }
  const { lo, hi } = balanceBand(total, brokers.length);
  let excess = 0;
  let deficit = 0;
  for (const c of count.values()) {
    excess += Math.max(0, c - hi);
    deficit += Math.max(0, lo - c);
  }
  return Math.max(forced + excess, deficit);
}

/** Proposes a plan (see the file comment). Throws INVALID_REPLICATION_FACTOR / UNKNOWN_TOPIC_OR_PARTITION / INVALID_REQUEST on requests no plan can meet. */
export function proposePlan(request: PlanRequest): ProposedPlan {
  if (request.brokers.length === 0) throw new TributaryError('INVALID_REQUEST', 'no brokers given: a plan needs at least one broker to place replicas on');
  const ids = request.brokers.map((b) => b.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice !== undefined) throw new TributaryError('INVALID_REQUEST', `broker ${twice} is given twice`);
  const topics = [...new Set(request.topics)].sort();
  if (topics.length === 0) throw new TributaryError('INVALID_REQUEST', 'no topics given: name the topics to plan');
  const known = new Set(request.partitions.map((p) => p.topic));
  const missing = topics.filter((t) => !known.has(t));
  if (missing.length > 0) {
    throw new TributaryError(
      'UNKNOWN_TOPIC_OR_PARTITION',
      `topic${missing.length > 1 ? 's' : ''} ${missing.map((t) => `'${t}'`).join(', ')} do${missing.length > 1 ? '' : 'es'} not exist`,
    );
  }

  const order = rackAlternated(request.brokers).map((b) => b.id);
  const rank = new Map(order.map((id, i) => [id, i]));
  const rackOf = new Map(request.brokers.map((b) => [b.id, b.rack]));
  const rackCount = new Set(request.brokers.map((b) => b.rack)).size;

  // Cluster-wide load for tie-breaks, kept current as topics are planned.
  const clusterReplicas = new Map<number, number>();
  const clusterLeaders = new Map<number, number>();
  const add = (map: Map<number, number>, id: number, by: number) => map.set(id, (map.get(id) ?? 0) + by);
  for (const p of request.partitions) {
    for (const r of p.replicas) add(clusterReplicas, r, 1);
    if (p.replicas[0] !== undefined) add(clusterLeaders, p.replicas[0], 1);
  }

  const entries: PlanEntry[] = [];
  const currents: PlanEntry[] = [];
  const load: ProposedPlan['load'] = [];
  const warnings: string[] = [];
  let moves = 0;
  let leaderChanges = 0;

  for (const topic of topics) {
    const partitions = request.partitions.filter((p) => p.topic === topic).sort((a, b) => a.partition - b.partition);
    for (const p of partitions) {
      if (p.replicas.length > request.brokers.length) {
        throw new TributaryError(
          'INVALID_REPLICATION_FACTOR',
          `${topic}-${p.partition} has ${p.replicas.length} replicas but only ${request.brokers.length} broker${request.brokers.length === 1 ? ' is' : 's are'} given (${ids.join(',')}); give at least ${p.replicas.length}`,
        );
      }
    }
    const planned = planTopic(partitions, { order, rank, rackOf, rackCount, clusterReplicas, clusterLeaders }, warnings, topic);

    const before = loadOf(partitions.map((p) => p.replicas));
    const after = loadOf(planned);
    const shown = new Set([...ids, ...before.replicas.keys()]);
    load.push({
      topic,
      brokers: [...shown]
        .sort((a, b) => (rank.get(a) ?? Number.MAX_SAFE_INTEGER) - (rank.get(b) ?? Number.MAX_SAFE_INTEGER) || a - b)
        .map((id) => ({
          brokerId: id,
          rack: rackOf.get(id) ?? '?',
          replicasBefore: before.replicas.get(id) ?? 0,
          replicasAfter: after.replicas.get(id) ?? 0,
          leadersBefore: before.leaders.get(id) ?? 0,
          leadersAfter: after.leaders.get(id) ?? 0,
        })),
    });

    partitions.forEach((p, i) => {
      const next = planned[i]!;
      // The cluster-wide load follows the plan, for the next topic's tie-breaks.
      for (const r of p.replicas) add(clusterReplicas, r, -1);
      for (const r of next) add(clusterReplicas, r, 1);
      if (p.replicas[0] !== undefined) add(clusterLeaders, p.replicas[0], -1);
      add(clusterLeaders, next[0]!, 1);
      if (sameList(p.replicas, next)) return;
      moves += next.filter((r) => !p.replicas.includes(r)).length;
      if (p.replicas[0] !== next[0]) leaderChanges++;
      entries.push({ topic, partition: p.partition, replicas: [...next] });
      currents.push({ topic, partition: p.partition, replicas: [...p.replicas] });
    });
  }
  return { plan: { version: 1, partitions: entries }, current: { version: 1, partitions: currents }, moves, leaderChanges, load, warnings };
}

interface Context {
  order: readonly number[];
  rank: ReadonlyMap<number, number>;
  rackOf: ReadonlyMap<number, string>;
  rackCount: number;
  clusterReplicas: ReadonlyMap<number, number>;
  clusterLeaders: ReadonlyMap<number, number>;
}

function loadOf(lists: readonly (readonly number[])[]): { replicas: Map<number, number>; leaders: Map<number, number> } {
  const replicas = new Map<number, number>();
  const leaders = new Map<number, number>();
  for (const list of lists) {
    for (const r of list) replicas.set(r, (replicas.get(r) ?? 0) + 1);
    if (list[0] !== undefined) leaders.set(list[0], (leaders.get(list[0]) ?? 0) + 1);
  }
  return { replicas, leaders };
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The new replica lists of one topic's partitions (same order as given). */
function planTopic(partitions: readonly PlanPartition[], ctx: Context, warnings: string[], topic: string): number[][] {
  const { order, rank, rackOf, rackCount, clusterReplicas, clusterLeaders } = ctx;
  const eligible = new Set(order);
  const racksOf = (list: readonly number[]) => new Set(list.map((r) => rackOf.get(r)));
  const racksNeeded = (rf: number) => Math.min(rf, rackCount);
  const lists: (number | null)[][] = partitions.map((p) => p.replicas.map((r) => (eligible.has(r) ? r : null)));
  const original = partitions.map((p) => p.replicas);

  const count = new Map(order.map((id) => [id, 0]));
  for (const list of lists) for (const r of list) if (r !== null) count.set(r, count.get(r)! + 1);
  const total = partitions.reduce((n, p) => n + p.replicas.length, 0);
  const band = balanceBand(total, order.length);
  // Fewer first: replicas of the topic, then of the cluster, then rack-alternated order.
  const lighter = (a: number, b: number) =>
    count.get(a)! - count.get(b)! || (clusterReplicas.get(a) ?? 0) - (clusterReplicas.get(b) ?? 0) || rank.get(a)! - rank.get(b)!;
  const heavier = (a: number, b: number) =>
    count.get(b)! - count.get(a)! || (clusterReplicas.get(b) ?? 0) - (clusterReplicas.get(a) ?? 0) || rank.get(a)! - rank.get(b)!;

  // a. Forced moves: brokers not given, and racks over-represented while a rack is missing.
  for (const list of lists) {
    const rf = list.length;
    const kept = list.filter((r): r is number => r !== null);
    const racks = racksOf(kept);
    let surplus = racksNeeded(rf) - racks.size - (rf - kept.length);
    while (surplus > 0) {
      // The most crowded rack's replica on the broker holding the most of the topic (not the leader on a tie).
      const perRack = new Map<string | undefined, number[]>();
      for (const r of list) if (r !== null) perRack.set(rackOf.get(r), [...(perRack.get(rackOf.get(r)) ?? []), r]);
      const crowded = [...perRack.values()].filter((rs) => rs.length > 1).sort((a, b) => b.length - a.length)[0]!;
      const victim = [...crowded].sort((a, b) => heavier(a, b) || (list.indexOf(a) === 0 ? 1 : 0) - (list.indexOf(b) === 0 ? 1 : 0))[0]!;
      list[list.indexOf(victim)] = null;
      count.set(victim, count.get(victim)! - 1);
      surplus--;
    }
  }
  // The brokers that may fill a partition's next open slot: not in it already, and, while the racks
  // it still misses need every open slot, only from those racks.
  const candidatesFor = (list: readonly (number | null)[]): number[] => {
    const present = list.filter((r): r is number => r !== null);
    const used = racksOf(present);
    const mustSpread = racksNeeded(list.length) - used.size >= list.length - present.length;
    return order.filter((b) => !present.includes(b) && (!mustSpread || !used.has(rackOf.get(b))));
  };
  // The most constrained slot first (fewest candidates, then the lowest partition), with the
  // lightest candidate: a partition free to take any broker does not take the one a constrained
  // partition needs.
  const open = new Set(lists.flatMap((list, i) => (list.includes(null) ? [i] : [])));
  while (open.size > 0) {
    let best: { i: number; candidates: number[] } | undefined;
    for (const i of open) {
      const candidates = candidatesFor(lists[i]!);
      if (best === undefined || candidates.length < best.candidates.length || (candidates.length === best.candidates.length && i < best.i))
        best = { i, candidates };
    }
    const list = lists[best!.i]!;
    // Among the lightest, the broker fewest other open slots could take: a broker only this slot
    // can take gets it, rather than waiting for a slot it cannot fill.
    const elsewhere = (b: number) => [...open].filter((j) => j !== best!.i && candidatesFor(lists[j]!).includes(b)).length;
    const lightest = [...best!.candidates].sort(lighter);
    const floor = count.get(lightest[0]!)!;
    const pick = lightest.filter((b) => count.get(b)! === floor).sort((a, b) => elsewhere(a) - elsewhere(b) || lighter(a, b))[0]!;
    list[list.indexOf(null)] = pick;
    count.set(pick, count.get(pick)! + 1);
    if (!list.includes(null)) open.delete(best!.i);
  }
  const placed = lists as number[][];

  // b. Balance the replica counts.
  const leaders = new Map(order.map((id) => [id, 0]));
  for (const list of placed) leaders.set(list[0]!, leaders.get(list[0]!)! + 1);
  const leaderRange = leaderBand(placed.length, order.length);
  const apply = ({ partition: i, donor, receiver }: { partition: number; donor: number; receiver: number }) => {
    const list = placed[i]!;
    const at = list.indexOf(donor);
    if (at === 0) {
      leaders.set(donor, leaders.get(donor)! - 1);
      leaders.set(receiver, leaders.get(receiver)! + 1);
    }
    list[at] = receiver;
    count.set(donor, count.get(donor)! - 1);
    count.set(receiver, count.get(receiver)! + 1);
  };
  const warningsBefore = warnings.length;
  for (;;) {
    const over = order.filter((b) => count.get(b)! > band.hi);
    const under = order.filter((b) => count.get(b)! < band.lo);
    if (over.length === 0 && under.length === 0) break;
    // Any move that takes a replica off a broker above the band or onto one below it, without
    // pushing the other broker out of the band: donors above the floor, receivers under the ceiling.
    const donors = order.filter((b) => count.get(b)! > band.lo).sort(heavier);
    const receivers = order.filter((b) => count.get(b)! < band.hi).sort(lighter);
    const reduction = (donor: number, receiver: number) => (count.get(donor)! > band.hi ? 1 : 0) + (count.get(receiver)! < band.lo ? 1 : 0);
    const move = bestMove(placed, original, donors, receivers, reduction, rackOf, racksNeeded, leaders, leaderRange);
    if (move === undefined) {
      warnings.push(
        `${topic}: the racks allow no placement with ${[...over, ...under].map((b) => `B${b}`).join(', ')} within ${band.lo}-${band.hi} replicas; balanced within each rack instead`,
      );
      break;
    }
    apply(move);
  }
  // Where the racks force uneven counts (racks of unequal size, every partition in every rack),
  // each rack is balanced within itself: a replica moved to a broker of the same rack keeps every
  // partition's rack spread.
  if (warnings.length > warningsBefore) {
    for (const rack of [...new Set(order.map((b) => rackOf.get(b)))]) {
      const members = order.filter((b) => rackOf.get(b) === rack);
      const rackBand = balanceBand(
        members.reduce((n, b) => n + count.get(b)!, 0),
        members.length,
      );
      for (;;) {
        const donors = members.filter((b) => count.get(b)! > rackBand.lo).sort(heavier);
        const receivers = members.filter((b) => count.get(b)! < rackBand.hi).sort(lighter);
        const reduction = (donor: number, receiver: number) => (count.get(donor)! > rackBand.hi ? 1 : 0) + (count.get(receiver)! < rackBand.lo ? 1 : 0);
        const move = bestMove(placed, original, donors, receivers, reduction, rackOf, racksNeeded, leaders, leaderRange);
        if (move === undefined) break;
        apply(move);
      }
    }
  }

  // c. Spread the preferred leaders: an exact assignment (min-cost flow, `assignLeaders`).
  const chosen = assignLeaders(placed, original, order, leaderRange, (id) => clusterLeaders.get(id) ?? 0);
  placed.forEach((list, i) => {
    const leader = chosen[i]!;
    const at = list.indexOf(leader);
    if (at > 0) [list[0], list[at]] = [leader, list[0]!];
  });
  const leads = new Map(order.map((id) => [id, 0]));
  for (const list of placed) leads.set(list[0]!, leads.get(list[0]!)! + 1);
  const outside = order.filter((b) => leads.get(b)! < leaderRange.lo || leads.get(b)! > leaderRange.hi);
  if (outside.length > 0) {
    warnings.push(
      `${topic}: with the replicas where they are, no choice of leaders lets ${outside.map((b) => `B${b}`).join(', ')} lead ${leaderRange.lo}-${leaderRange.hi} partitions (more would take replica moves)`,
    );
  }
  return placed;
}

/**
 * The best single move of a replica from one of `donors` to one of `receivers` (both sorted, best
 * first) that brings a broker nearer the band (`reduction` > 0), or undefined when none keeps its
 * partition's rack spread. Lexicographically: fewest moves added (undoing an earlier move of this
 * plan costs nothing, moving back saves one), then the most brought into the band (a move from
 * above the band to below it counts twice), then the leadership (a follower's move leaves it alone; a leader's hands it to the receiver, better
 * when that brings the leader counts nearer their band, worse when it takes one out of it), then
 * the donor's and the receiver's rank, then the partition. One pass over the partitions.
 */
function bestMove(
  lists: readonly number[][],
  original: readonly (readonly number[])[],
  donors: readonly number[],
  receivers: readonly number[],
  reduction: (donor: number, receiver: number) => number,
  rackOf: ReadonlyMap<number, string>,
  racksNeeded: (rf: number) => number,
  leaders: ReadonlyMap<number, number>,
  range: { lo: number; hi: number },
): { partition: number; donor: number; receiver: number } | undefined {
  const donorRank = new Map(donors.map((id, i) => [id, i]));
  const candidates: { i: number; donor: number; receiver: number; dr: number; rr: number; gain: number }[] = [];
  lists.forEach((list, i) => {
    for (const donor of list) {
      const dr = donorRank.get(donor);
      if (dr === undefined) continue;
      receivers.forEach((receiver, rr) => {
        if (receiver === donor || list.includes(receiver)) return;
        const gain = reduction(donor, receiver);
        if (gain === 0) return;
        const next = list.map((r) => (r === donor ? receiver : r));
        if (new Set(next.map((r) => rackOf.get(r))).size < racksNeeded(next.length)) return;
        candidates.push({ i, donor, receiver, dr, rr, gain });
      });
    }
  });
  // How many moves each receiver and donor could take part in: the least flexible goes first, so a
  // broker only a few partitions (racks) can serve is not left without one.
  const receiverOptions = new Map<number, number>();
  const donorOptions = new Map<number, number>();
  for (const c of candidates) {
    receiverOptions.set(c.receiver, (receiverOptions.get(c.receiver) ?? 0) + 1);
    donorOptions.set(c.donor, (donorOptions.get(c.donor) ?? 0) + 1);
  }
  let best: { partition: number; donor: number; receiver: number; score: number[] } | undefined;
  for (const { i, donor, receiver, dr, rr, gain } of candidates) {
    const list = lists[i]!;
    const was = original[i]!;
    const movesDelta = (was.includes(receiver) ? -1 : 0) + (was.includes(donor) ? 1 : 0);
    let leadership = 0;
    if (list[0] === donor) {
      const d = leaders.get(donor)!;
      const r = leaders.get(receiver)!;
      if (d > range.hi || r < range.lo) leadership = -1;
      else if (d - 1 < range.lo || r + 1 > range.hi) leadership = 1;
      else leadership = 0.5;
    }
    const score = [movesDelta, -gain, receiverOptions.get(receiver)!, donorOptions.get(donor)!, leadership, dr, rr, i];
    if (best === undefined || lexLess(score, best.score)) best = { partition: i, donor, receiver, score };
  }
  return best === undefined ? undefined : { partition: best.partition, donor: best.donor, receiver: best.receiver };
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/**
 * The preferred leader of each partition, among its replicas, with every broker leading between
 * `range.lo` and `range.hi` partitions where any choice allows it, and the fewest partitions whose
 * first replica changes from before the plan. A min-cost flow (successive shortest paths,
 * Bellman-Ford, deterministic): source → partition (1) → each of its replicas → broker → sink,
 * the broker's first `lo` units worth a large reward, the next up to `hi` free, more a large
 * penalty; a partition's edge costs nothing to its original leader, 1000 to any other, plus 1 to
 * any but the replica now first in its list (the one that took a leaving leader's place) and the
 * broker's rank, so ties break the same way every time. Exact, since every partition and broker
 * is a node of one network and the costs are integers.
 */
export function assignLeaders(
  lists: readonly (readonly number[])[],
  original: readonly (readonly number[])[],
  order: readonly number[],
  range: { lo: number; hi: number },
  clusterLeaders: (id: number) => number = () => 0,
): number[] {
  const P = lists.length;
  const brokerIndex = new Map(order.map((id, k) => [id, k]));
  const source = 0;
  const sink = 1;
  const partitionNode = (i: number) => 2 + i;
  const brokerNode = (k: number) => 2 + P + k;
  const nodes = 2 + P + order.length;
  const BIG = 1e7;
  // Edge arrays: to, capacity, cost, and the index of the reverse edge.
  const to: number[] = [];
  const cap: number[] = [];
  const cost: number[] = [];
  const adj: number[][] = Array.from({ length: nodes }, () => []);
  const edge = (u: number, v: number, c: number, w: number) => {
    adj[u]!.push(to.length);
    to.push(v);
    cap.push(c);
    cost.push(w);
    adj[v]!.push(to.length);
    to.push(u);
    cap.push(0);
    cost.push(-w);
  };
  // Ties between equally good leaders: fewer leaderships over the cluster, then rank.
  const tieRank = [...order].sort((a, b) => clusterLeaders(a) - clusterLeaders(b) || brokerIndex.get(a)! - brokerIndex.get(b)!);
  const tie = new Map(tieRank.map((id, k) => [id, k]));
  const scale = order.length + 2;
  const firstEdge: number[] = [];
  lists.forEach((list, i) => {
    edge(source, partitionNode(i), 1, 0);
    firstEdge.push(to.length);
    for (const b of list) {
      const k = brokerIndex.get(b);
      if (k === undefined) continue;
      const w = (b === original[i]![0] ? 0 : 1000 * scale) + (b === list[0] ? 0 : scale) + tie.get(b)!;
      edge(partitionNode(i), brokerNode(k), 1, w);
    }
  });
  order.forEach((_, k) => {
    if (range.lo > 0) edge(brokerNode(k), sink, range.lo, -BIG);
    if (range.hi > range.lo) edge(brokerNode(k), sink, range.hi - range.lo, 0);
    edge(brokerNode(k), sink, P, BIG);
  });
  // P augmentations of one unit each along a cheapest path (Bellman-Ford: costs may be negative).
  for (let unit = 0; unit < P; unit++) {
    const dist = new Array<number>(nodes).fill(Number.POSITIVE_INFINITY);
    const via = new Array<number>(nodes).fill(-1);
    const inQueue = new Array<boolean>(nodes).fill(false);
    dist[source] = 0;
    const queue = [source];
    inQueue[source] = true;
    for (let head = 0; head < queue.length; head++) {
      const u = queue[head]!;
      inQueue[u] = false;
      for (const e of adj[u]!) {
        if (cap[e]! <= 0) continue;
        const v = to[e]!;
        const d = dist[u]! + cost[e]!;
        if (d < dist[v]!) {
          dist[v] = d;
          via[v] = e;
          if (!inQueue[v]) {
            inQueue[v] = true;
            queue.push(v);
          }
        }
      }
    }
    if (via[sink] === -1) break;
    for (let v = sink; v !== source; v = to[via[v]! ^ 1]!) {
      cap[via[v]!]!--;
      cap[via[v]! ^ 1]!++;
    }
  }
  return lists.map((list, i) => {
    // The partition's edge that carries its unit names its leader.
    for (let e = firstEdge[i]!; e < firstEdge[i]! + 2 * list.length; e += 2) if (cap[e] === 0 && to[e]! >= 2 + P) return order[to[e]! - 2 - P]!;
    return list[0]!;
  });
}
