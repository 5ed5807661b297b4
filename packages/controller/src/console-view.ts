// What the web console shows, computed from the published metadata: brokers by rack with their
// leader counts, and per topic the seed's picture (a box per rack, each broker in its rack with
// the partitions it leads and follows), the seed's table (one row per broker in rack-alternated
// order, followers outside the ISR marked) and the partitions with their status in words. Pure,
// so the rules are tested without a browser; ui/console.js only renders it. The by-broker rule is
// the CLI's (`topics describe --by-broker`): followers are listed first where the broker is the
// first follower, then the second, each by partition. During a reassignment (KIP-455) a broker's
// replicas being added and removed are listed apart, and the stats carry each added replica's copy
// progress, measured as `tributary reassign status` measures it (packages/cli/src/reassign-progress.ts).

import { DEFAULT_TOPIC_CONFIGS, NO_LEADER, type BrokerId, type ClusterMetadata, type DescribeReplicasResponse } from '@tributary/protocol';
import { rackAlternatedOrder } from './placement.ts';

export type PartitionStatus = 'ok' | 'under-replicated' | 'under-min-isr' | 'offline';

export interface ConsoleBroker {
  id: BrokerId;
  rack: string;
  alive: boolean;
  epoch: number;
  /** The external listener, as clients on the host reach it. */
  address: string;
  leaderCount: number;
  replicaCount: number;
}

export interface ConsolePartition {
  partition: number;
  leader: BrokerId;
  leaderEpoch: number;
  replicas: BrokerId[];
  isr: BrokerId[];
  /** A reassignment in progress: the replicas it adds (copying) and removes; empty when none. */
  addingReplicas: BrokerId[];
  removingReplicas: BrokerId[];
  /** Every status that applies, `ok` alone when none does. */
  status: PartitionStatus[];
}

export interface ConsoleByBrokerRow {
  brokerId: BrokerId;
  rack: string;
  /** e.g. `rack-1/B0`, the seed's row name. */
  label: string;
  fenced: boolean;
  leads: number[];
  follows: { partition: number; inIsr: boolean }[];
  /** Partitions a reassignment is adding this broker to (it copies them), and removing it from. */
  adding: number[];
  removing: number[];
}

/** One rack's box in the seed's picture: its brokers by id, each with what it leads and follows. */
export interface ConsoleRackBox {
  rack: string;
  brokers: ConsoleByBrokerRow[];
}

export interface ConsoleTopic {
  name: string;
  replicationFactor: number;
  minInsyncReplicas: number;
  partitions: ConsolePartition[];
  byBroker: ConsoleByBrokerRow[];
  /** The seed's picture: racks by name (rack-1 = B0, B1, B2; rack-2 = B3, B4, B5). */
  rackBoxes: ConsoleRackBox[];
}

export interface ConsoleView {
  clusterId: string;
  version: number;
  /** Rack-alternated broker order (the seed's row order). */
  order: BrokerId[];
  racks: { rack: string; brokers: ConsoleBroker[] }[];
  topics: ConsoleTopic[];
}

/** A leader's answer to /describe-replicas, or why its numbers are unknown. */
export interface ConsoleStats {
  topic: string;
  timeMs: number;
  partitions: {
    partition: number;
    leader: BrokerId;
    highWatermark?: number;
    logEndOffset?: number;
    /** Per follower: records behind the leader's LEO, and ms since it was last caught up. */
    lag?: { brokerId: BrokerId; records: number; msSinceCaughtUp: number }[];
    /** Per replica a reassignment adds: how much of the leader's log it holds. */
    copies?: CopyProgress[];
    /** Set instead of the numbers: why they are unknown (offline, the leader's error, no answer yet). */
    unknown?: string;
  }[];
}

/**
 * An added replica's copy progress: of the leader's offsets [log start, LEO) it holds those below
 * its own LEO (as the leader last saw it); bytes are that fraction of the leader's log size.
 * `percent` is rounded down to 0.1, so 100 means caught up.
 */
export interface CopyProgress {
  brokerId: BrokerId;
  percent: number;
  copiedBytes: number;
  totalBytes: number;
}

export function copyProgress(
  leader: { logStartOffset: number; logEndOffset: number; logSizeBytes: number },
  brokerId: BrokerId,
  replicaLeo: number,
): CopyProgress {
  const span = leader.logEndOffset - leader.logStartOffset;
  const held = Math.min(leader.logEndOffset, Math.max(replicaLeo, leader.logStartOffset));
  const fraction = span > 0 ? (held - leader.logStartOffset) / span : replicaLeo >= leader.logEndOffset ? 1 : 0;
  return {
    brokerId,
    percent: Math.floor(fraction * 1000 + 1e-9) / 10,
    copiedBytes: Math.round(fraction * leader.logSizeBytes),
    totalBytes: leader.logSizeBytes,
  };
}

/**
 * What the console knows of one leader's replica states when it draws: its answer, the error
 * that ended the call, or `pending` (asked, no answer yet: a paused broker looks like this).
 */
export type ReplicaStatesAnswer = DescribeReplicasResponse | Error | 'pending';

export function partitionStatus(
  p: { leader: BrokerId; replicas: readonly BrokerId[]; isr: readonly BrokerId[]; addingReplicas?: readonly BrokerId[] },
  minInsyncReplicas: number,
): PartitionStatus[] {
  if (p.leader === NO_LEADER) return ['offline'];
  const status: PartitionStatus[] = [];
  // As the leader counts both: during a reassignment the replicas being added are not counted yet.
  const replicationFactor = p.replicas.length - (p.addingReplicas?.length ?? 0);
  if (p.isr.length < replicationFactor) status.push('under-replicated');
  // Kafka's UnderMinIsrPartitionCount: min.insync.replicas capped by RF.
  if (p.isr.length < Math.max(1, Math.min(minInsyncReplicas, replicationFactor))) status.push('under-min-isr');
  return status.length === 0 ? ['ok'] : status;
}

export function consoleView(metadata: ClusterMetadata): ConsoleView {
  const order = rackAlternatedOrder(metadata.brokers.map((b) => ({ id: b.id, rack: b.rack })));
  const leaderCount = new Map<BrokerId, number>();
  const replicaCount = new Map<BrokerId, number>();
  for (const t of metadata.topics) {
    for (const p of t.partitions) {
      if (p.leader !== NO_LEADER) leaderCount.set(p.leader, (leaderCount.get(p.leader) ?? 0) + 1);
      for (const id of p.replicas) replicaCount.set(id, (replicaCount.get(id) ?? 0) + 1);
    }
  }
  const brokers: ConsoleBroker[] = [...metadata.brokers]
    .sort((a, b) => a.rack.localeCompare(b.rack) || a.id - b.id)
    .map((b) => ({
      id: b.id,
      rack: b.rack,
      alive: b.alive,
      epoch: b.epoch,
      address: `${b.external.host}:${b.external.port}`,
      leaderCount: leaderCount.get(b.id) ?? 0,
      replicaCount: replicaCount.get(b.id) ?? 0,
    }));
  const racks: ConsoleView['racks'] = [];
  for (const b of brokers) {
    const last = racks.at(-1);
    if (last?.rack === b.rack) last.brokers.push(b);
    else racks.push({ rack: b.rack, brokers: [b] });
  }
  const brokerById = new Map(brokers.map((b) => [b.id, b]));
  const topics = [...metadata.topics]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((t): ConsoleTopic => {
      const minInsyncReplicas = t.configs['min.insync.replicas'] ?? DEFAULT_TOPIC_CONFIGS['min.insync.replicas'];
      const partitions = [...t.partitions]
        .sort((a, b) => a.partition - b.partition)
        .map((p) => ({
          partition: p.partition,
          leader: p.leader,
          leaderEpoch: p.leaderEpoch,
          replicas: [...p.replicas],
          isr: [...p.isr],
          addingReplicas: [...(p.addingReplicas ?? [])],
          removingReplicas: [...(p.removingReplicas ?? [])],
          status: partitionStatus(p, minInsyncReplicas),
        }));
      const byBroker = byBrokerRows(order, brokerById, partitions);
      return {
        name: t.name,
        // During a reassignment a partition's list also holds the replicas being added.
        replicationFactor: partitions[0] === undefined ? 0 : partitions[0].replicas.length - partitions[0].addingReplicas.length,
        minInsyncReplicas,
        partitions,
        byBroker,
        rackBoxes: rackBoxes(byBroker),
      };
    });
  return { clusterId: metadata.clusterId, version: metadata.version, order, racks, topics };
}

function byBrokerRows(
  order: readonly BrokerId[],
  brokers: ReadonlyMap<BrokerId, ConsoleBroker>,
  partitions: readonly ConsolePartition[],
): ConsoleByBrokerRow[] {
  const ids = [...order];
  // A replica on a broker the metadata no longer lists still gets a row, so nothing is hidden.
  for (const p of partitions) for (const id of p.replicas) if (!ids.includes(id)) ids.push(id);
  return ids.map((id) => {
    const broker = brokers.get(id);
    const rack = broker?.rack ?? '?';
    const leads = partitions.filter((p) => p.leader === id).map((p) => p.partition);
    const follows: { partition: number; inIsr: boolean; position: number }[] = [];
    for (const p of partitions) {
      const position = p.replicas.indexOf(id);
      if (position < 0 || p.leader === id) continue;
      follows.push({ partition: p.partition, inIsr: p.isr.includes(id), position });
    }
    follows.sort((x, y) => x.position - y.position || x.partition - y.partition);
    return {
      brokerId: id,
      rack,
      label: `${rack}/B${id}`,
      fenced: broker === undefined || !broker.alive,
      leads,
      follows: follows.map(({ partition, inIsr }) => ({ partition, inIsr })),
      adding: partitions.filter((p) => p.addingReplicas.includes(id)).map((p) => p.partition),
      removing: partitions.filter((p) => p.removingReplicas.includes(id)).map((p) => p.partition),
    };
  });
}

/**
 * The seed's picture: one box per rack (racks by name), its brokers by id, each with the same
 * leads and follows as its row of the seed's table. A broker the metadata does not list (rack
 * `?`) gets a box of its own rather than disappearing.
 */
export function rackBoxes(rows: readonly ConsoleByBrokerRow[]): ConsoleRackBox[] {
  const byRack = new Map<string, ConsoleByBrokerRow[]>();
  for (const row of rows) {
    const list = byRack.get(row.rack);
    if (list === undefined) byRack.set(row.rack, [row]);
    else list.push(row);
  }
  return [...byRack.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([rack, brokers]) => ({ rack, brokers: [...brokers].sort((x, y) => x.brokerId - y.brokerId) }));
}

/**
 * Turns the leaders' /describe-replicas answers into the console's HW and lag columns. A leader
 * that has not answered yet (`pending`) is drawn as unknown now, not waited for: one paused
 * broker must not hold back the numbers of the others. `answerWaitMs` is how long it was given.
 */
export function consoleStats(
  topic: string,
  timeMs: number,
  partitions: readonly { partition: number; leader: BrokerId; addingReplicas?: readonly BrokerId[] }[],
  answers: ReadonlyMap<BrokerId, ReplicaStatesAnswer>,
  answerWaitMs?: number,
): ConsoleStats {
  return {
    topic,
    timeMs,
    partitions: partitions.map(({ partition, leader, addingReplicas = [] }) => {
      if (leader === NO_LEADER) return { partition, leader, unknown: 'offline' };
      const answer = answers.get(leader);
      if (answer === undefined) return { partition, leader, unknown: `leader B${leader} not asked` };
      if (answer === 'pending') {
        return { partition, leader, unknown: `leader B${leader} has not answered${answerWaitMs === undefined ? '' : ` within ${answerWaitMs} ms`}` };
      }
      if (answer instanceof Error) {
        // A TributaryError's code (BROKER_NOT_AVAILABLE, REQUEST_TIMED_OUT) reads better in a cell than its message.
        const code = (answer as Error & { code?: unknown }).code;
        return { partition, leader, unknown: `leader B${leader}: ${typeof code === 'string' ? code : answer.message}` };
      }
      const state = answer.partitions.find((s) => s.partition === partition);
      if (state === undefined) return { partition, leader, unknown: `leader B${leader} does not report it yet` };
      const stats: ConsoleStats['partitions'][number] = {
        partition,
        leader,
        highWatermark: state.highWatermark,
        logEndOffset: state.logEndOffset,
        lag: state.replicas
          .filter((r) => r.brokerId !== leader)
          .map((r) => ({ brokerId: r.brokerId, records: r.lagRecords, msSinceCaughtUp: r.lastCaughtUpMsAgo })),
      };
      if (addingReplicas.length > 0) {
        stats.copies = addingReplicas.map((id) => copyProgress(state, id, state.replicas.find((r) => r.brokerId === id)?.logEndOffset ?? -1));
      }
      return stats;
    }),
  };
}
