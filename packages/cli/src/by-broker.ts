// The seed's view of a topic: one row per broker, in rack-alternated order (DESIGN.md §
// Placement: racks sorted, ids sorted within each, interleaved -> B0 B3 B1 B4 B2 B5), with the
// partitions it leads and the ones it follows. Followers are listed as the seed's table lists
// them: first the partitions where the broker is the first follower, then the second, each by
// partition number (R1-B0: leaders P0 P6, followers P5 P4). During a reassignment (KIP-455) a
// replica being added is marked `P6+` (it copies, outside the ISR, until the move completes) and
// one being removed `P6-` (it serves until then). Pure: tested without a cluster.

export interface ViewBroker {
  id: number;
  rack: string;
  alive: boolean;
}

export interface ViewPartition {
  partition: number;
  leader: number;
  replicas: readonly number[];
  isr: readonly number[];
  /** A reassignment in progress: the replicas it adds and removes (absent or empty: none). */
  addingReplicas?: readonly number[];
  removingReplicas?: readonly number[];
}

export interface BrokerRow {
  brokerId: number;
  rack: string;
  /** e.g. `rack-1/B0`. */
  label: string;
  fenced: boolean;
  /** Partitions this broker currently leads, by number. */
  leads: number[];
  /** Partitions it follows (a replica, not the leader), in the seed's column order. */
  follows: { partition: number; inIsr: boolean }[];
  /** Partitions a reassignment is adding it to (copying), and removing it from. */
  adding: number[];
  removing: number[];
}

/** Racks sorted, ids sorted within each rack, then interleaved. */
export function rackAlternated<T extends { id: number; rack: string }>(brokers: readonly T[]): T[] {
  const byRack = new Map<string, T[]>();
  for (const b of brokers) {
    const list = byRack.get(b.rack) ?? [];
    list.push(b);
    byRack.set(b.rack, list);
  }
  const racks = [...byRack.keys()].sort().map((r) => byRack.get(r)!.sort((a, b) => a.id - b.id));
  const out: T[] = [];
  for (let i = 0; out.length < brokers.length; i++) for (const list of racks) if (i < list.length) out.push(list[i]!);
  return out;
}

export function byBrokerView(cluster: { brokers: readonly ViewBroker[] }, topic: { partitions: readonly ViewPartition[] }): BrokerRow[] {
  const brokers = new Map<number, ViewBroker>(cluster.brokers.map((b) => [b.id, b]));
  // A replica on a broker the cluster no longer lists still gets a row, so nothing is hidden.
  for (const p of topic.partitions) for (const id of p.replicas) if (!brokers.has(id)) brokers.set(id, { id, rack: '?', alive: false });
  return rackAlternated([...brokers.values()]).map((b) => {
    const leads = topic.partitions
      .filter((p) => p.leader === b.id)
      .map((p) => p.partition)
      .sort((x, y) => x - y);
    const follows: { partition: number; inIsr: boolean; position: number }[] = [];
    for (const p of topic.partitions) {
      const position = p.replicas.indexOf(b.id);
      if (position < 0 || p.leader === b.id) continue;
      follows.push({ partition: p.partition, inIsr: p.isr.includes(b.id), position });
    }
    follows.sort((x, y) => x.position - y.position || x.partition - y.partition);
    return {
      brokerId: b.id,
      rack: b.rack,
      label: `${b.rack}/B${b.id}`,
      fenced: !b.alive,
      leads,
      follows: follows.map(({ partition, inIsr }) => ({ partition, inIsr })),
      adding: topic.partitions.filter((p) => p.addingReplicas?.includes(b.id)).map((p) => p.partition),
      removing: topic.partitions.filter((p) => p.removingReplicas?.includes(b.id)).map((p) => p.partition),
    };
  });
}

/** Text rows: `rack-1/B0  leads P0 P6  follows P5 P4*`, plus a legend when marks appear. */
export function renderByBroker(rows: readonly BrokerRow[]): { cells: string[][]; legend: string[] } {
  const mark = (r: BrokerRow, partition: number, inIsr: boolean) =>
    `P${partition}${r.adding.includes(partition) ? '+' : r.removing.includes(partition) ? '-' : inIsr ? '' : '*'}`;
  const cells = rows.map((r) => [
    r.fenced ? `${r.label} (fenced)` : r.label,
    `leads ${r.leads.map((p) => mark(r, p, true)).join(' ') || '-'}`,
    `follows ${r.follows.map((f) => mark(r, f.partition, f.inIsr)).join(' ') || '-'}`,
  ]);
  const legend: string[] = [];
  if (rows.some((r) => r.follows.some((f) => !f.inIsr && !r.adding.includes(f.partition) && !r.removing.includes(f.partition)))) {
    legend.push('* = follower not in the ISR');
  }
  if (rows.some((r) => r.adding.length > 0)) legend.push('+ = replica being added by a reassignment (copying)');
  if (rows.some((r) => r.removing.length > 0)) legend.push('- = replica a reassignment removes once the new ones are in sync');
  if (rows.some((r) => r.fenced)) legend.push('(fenced) = broker fenced by the controller (heartbeats stopped or shut down)');
  return { cells, legend };
}
