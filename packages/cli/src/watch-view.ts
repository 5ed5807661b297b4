// `tributary watch`'s pure parts: a metadata snapshot as the client sees it, the events between
// two snapshots (leader changes, ISR shrinks and expansions, brokers fenced and back, topics
// created and deleted, reassignments started, completed and cancelled), the partitions that need
// attention, the reassignments' copy progress, and the frame drawn on screen. The command only
// fetches snapshots and prints frames; everything here is tested without a cluster.

import { byBrokerView, renderByBroker, type ViewBroker, type ViewPartition } from './by-broker.ts';
import { renderProgress, selectProgress, type ProgressReport } from './reassign-progress.ts';
import { renderTable } from './table.ts';

export interface WatchPartition extends ViewPartition {
  leaderEpoch: number;
}

export interface WatchTopic {
  name: string;
  minInsyncReplicas: number;
  partitions: readonly WatchPartition[];
}

/** A consumer group as `groups describe` reads it (Admin.describeGroup's GroupView). */
export interface WatchGroup {
  groupId: string;
  state: string;
  members: readonly { memberId: string; clientId: string; clientHost: string; assignment: readonly { topic: string; partition: number }[] | null }[];
  offsets: readonly {
    topic: string;
    partition: number;
    committedOffset: number | null;
    logEndOffset: number | null;
    lag: number | null;
    memberId: string | null;
  }[];
}

export interface WatchSnapshot {
  timeMs: number;
  brokers: readonly ViewBroker[];
  topics: readonly WatchTopic[];
  /** Consumer groups (undefined: they could not be read this time). */
  groups?: readonly WatchGroup[];
}

export type WatchEventKind =
  | 'broker-added'
  | 'broker-fenced'
  | 'broker-alive'
  | 'broker-removed'
  | 'topic-created'
  | 'topic-deleted'
  | 'leader-changed'
  | 'partition-offline'
  | 'isr-shrunk'
  | 'isr-expanded'
  | 'reassignment-started'
  | 'reassignment-completed'
  | 'reassignment-cancelled'
  | 'group-state';

export interface WatchEvent {
  timeMs: number;
  kind: WatchEventKind;
  text: string;
}

/** What changed from `prev` to `next`, stamped with `next`'s time. Empty for the first snapshot. */
export function diffSnapshots(prev: WatchSnapshot | undefined, next: WatchSnapshot): WatchEvent[] {
  if (prev === undefined) return [];
  const events: WatchEvent[] = [];
  const push = (kind: WatchEventKind, text: string) => events.push({ timeMs: next.timeMs, kind, text });
  const before = new Map(prev.brokers.map((b) => [b.id, b]));
  const after = new Map(next.brokers.map((b) => [b.id, b]));
  for (const b of [...next.brokers].sort((x, y) => x.id - y.id)) {
    const old = before.get(b.id);
    if (old === undefined) push('broker-added', `broker B${b.id} (${b.rack}) registered${b.alive ? '' : ', fenced'}`);
    else if (old.alive && !b.alive) push('broker-fenced', `broker B${b.id} (${b.rack}) fenced`);
    else if (!old.alive && b.alive) push('broker-alive', `broker B${b.id} (${b.rack}) alive again`);
  }
  for (const b of prev.brokers) if (!after.has(b.id)) push('broker-removed', `broker B${b.id} (${b.rack}) no longer listed`);

  const oldTopics = new Map(prev.topics.map((t) => [t.name, t]));
  const newTopics = new Set(next.topics.map((t) => t.name));
  for (const t of next.topics) {
    const old = oldTopics.get(t.name);
    if (old === undefined) {
      push('topic-created', `topic ${t.name} created: ${t.partitions.length} partitions, replication factor ${replicationFactor(t.partitions[0])}`);
      continue;
    }
    const oldPartitions = new Map(old.partitions.map((p) => [p.partition, p]));
    for (const p of [...t.partitions].sort((x, y) => x.partition - y.partition)) {
      const o = oldPartitions.get(p.partition);
      if (o === undefined) continue;
      const name = `${t.name}-${p.partition}`;
      if (o.leader !== p.leader) {
        if (p.leader < 0) push('partition-offline', `${name}: offline, leader B${o.leader} lost (epoch ${p.leaderEpoch})`);
        else push('leader-changed', `${name}: leader ${o.leader < 0 ? 'none' : `B${o.leader}`} -> B${p.leader} (epoch ${p.leaderEpoch})`);
      }
      const left = o.isr.filter((id) => !p.isr.includes(id));
      const joined = p.isr.filter((id) => !o.isr.includes(id));
      const isrs = `ISR ${o.isr.join(',')} -> ${p.isr.join(',')}`;
      if (left.length > 0) push('isr-shrunk', `${name}: ISR shrank, ${left.map((id) => `B${id}`).join(', ')} left (${isrs})`);
      // A replica a reassignment added joins the ISR for the first time; any other rejoins it.
      const verb = joined.every((id) => o.addingReplicas?.includes(id)) ? 'joined' : 'rejoined';
      if (joined.length > 0) push('isr-expanded', `${name}: ISR expanded, ${joined.map((id) => `B${id}`).join(', ')} ${verb} (${isrs})`);
      const wasMoving = isMoving(o);
      if (!wasMoving && isMoving(p)) {
        push(
          'reassignment-started',
          `${name}: reassignment to [${target(p).join(',')}] started, adding ${ids(p.addingReplicas)}, removing ${ids(p.removingReplicas)}`,
        );
      } else if (wasMoving && !isMoving(p)) {
        // Completed: the list is the target it moved to; cancelled: anything else (the original list back).
        const done = sameSet(p.replicas, target(o));
        push(
          done ? 'reassignment-completed' : 'reassignment-cancelled',
          done
            ? `${name}: reassignment completed, replicas [${p.replicas.join(',')}]`
            : `${name}: reassignment cancelled, replicas back to [${p.replicas.join(',')}]`,
        );
      }
    }
  }
  for (const t of prev.topics) if (!newTopics.has(t.name)) push('topic-deleted', `topic ${t.name} deleted`);
  if (prev.groups !== undefined && next.groups !== undefined) {
    const was = new Map(prev.groups.map((g) => [g.groupId, g]));
    for (const g of next.groups) {
      const old = was.get(g.groupId);
      if (old === undefined) push('group-state', `group ${g.groupId} appeared (${g.state}, ${g.members.length} members)`);
      else if (old.state !== g.state || old.members.length !== g.members.length)
        push('group-state', `group ${g.groupId}: ${old.state} → ${g.state}, ${old.members.length} → ${g.members.length} members`);
    }
  }
  return events;
}

/** A partition's replication factor: during a reassignment its list also holds the replicas being added. */
export function replicationFactor(p: ViewPartition | undefined): number {
  return p === undefined ? 0 : p.replicas.length - (p.addingReplicas?.length ?? 0);
}

function isMoving(p: ViewPartition): boolean {
  return (p.addingReplicas?.length ?? 0) > 0 || (p.removingReplicas?.length ?? 0) > 0;
}

function target(p: ViewPartition): number[] {
  return p.replicas.filter((r) => !p.removingReplicas?.includes(r));
}

function ids(list: readonly number[] | undefined): string {
  return list && list.length > 0 ? list.map((id) => `B${id}`).join(', ') : 'none';
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export interface PartitionProblem {
  topic: string;
  partition: number;
  /** Every problem that applies: offline alone, or under-replicated and/or under min ISR. */
  problems: ('offline' | 'under-replicated' | 'under-min-isr')[];
  leader: number;
  replicas: readonly number[];
  isr: readonly number[];
}

/** Partitions offline, under-replicated (ISR < replicas) or under min ISR (as the leader counts it). */
export function partitionProblems(topics: readonly WatchTopic[]): PartitionProblem[] {
  const out: PartitionProblem[] = [];
  for (const t of topics) {
    for (const p of t.partitions) {
      const problems: PartitionProblem['problems'] = [];
      // As the leader counts both: the replicas a reassignment is adding do not count yet.
      const replicationFactor = p.replicas.length - (p.addingReplicas?.length ?? 0);
      if (p.leader < 0) problems.push('offline');
      else {
        if (p.isr.length < replicationFactor) problems.push('under-replicated');
        if (p.isr.length < Math.max(1, Math.min(t.minInsyncReplicas, replicationFactor))) problems.push('under-min-isr');
      }
      if (problems.length > 0) out.push({ topic: t.name, partition: p.partition, problems, leader: p.leader, replicas: p.replicas, isr: p.isr });
    }
  }
  return out;
}

export interface FrameOptions {
  /** The topic asked for, or every topic. */
  topic?: string;
  /** e.g. the bootstrap servers, shown in the title. */
  source: string;
  /** Events shown at the bottom, newest last. */
  eventsShownMax?: number;
  /** Time zone for timestamps; default the machine's. Tests pass 'UTC'. */
  timeZone?: string;
  /** The reassignments in progress with their copy progress, when any (drawn with bars on a terminal). */
  reassignments?: ProgressReport;
  bars?: boolean;
}

export function formatTime(timeMs: number, timeZone?: string): string {
  const time = new Date(timeMs).toLocaleTimeString('en-GB', { hour12: false, ...(timeZone ? { timeZone } : {}) });
  return `${time}.${String(timeMs % 1000).padStart(3, '0')}`;
}

/** One screenful: title, the seed's table per topic, problem partitions, the last events. */
export function renderFrame(snapshot: WatchSnapshot, events: readonly WatchEvent[], options: FrameOptions): string[] {
  const lines: string[] = [];
  const alive = snapshot.brokers.filter((b) => b.alive).length;
  lines.push(
    `tributary watch ${options.topic ?? '(all topics)'}  ${options.source}  ${formatTime(snapshot.timeMs, options.timeZone)}  brokers ${alive}/${snapshot.brokers.length} alive`,
  );
  const topics = options.topic === undefined ? snapshot.topics : snapshot.topics.filter((t) => t.name === options.topic);
  if (topics.length === 0) {
    lines.push('', options.topic === undefined ? 'no topics yet' : `topic '${options.topic}' does not exist (yet)`);
  }
  const legend = new Set<string>();
  for (const t of topics) {
    lines.push(
      '',
      `${t.name}  partitions ${t.partitions.length}  replication-factor ${replicationFactor(t.partitions[0])}  min.insync.replicas ${t.minInsyncReplicas}`,
    );
    const rendered = renderByBroker(byBrokerView(snapshot, t));
    lines.push(...renderTable(rendered.cells).map((l) => `  ${l}`));
    for (const l of rendered.legend) legend.add(l);
  }
  if (legend.size > 0) lines.push(`  ${[...legend].join('; ')}`);

  const problems = partitionProblems(topics);
  lines.push('', problems.length === 0 ? 'partitions needing attention: none' : `partitions needing attention: ${problems.length}`);
  if (problems.length > 0) {
    const rows = problems.map((p) => [
      `${p.topic}-${p.partition}`,
      p.problems.join(', '),
      p.leader < 0 ? 'leader none' : `leader B${p.leader}`,
      `replicas ${p.replicas.join(',')}`,
      `isr ${p.isr.join(',')}`,
    ]);
    lines.push(...renderTable(rows).map((l) => `  ${l}`));
  }

  const moving =
    options.reassignments === undefined ? undefined : selectProgress(options.reassignments, (p) => options.topic === undefined || p.topic === options.topic);
  if (moving !== undefined && moving.partitions.length > 0) {
    lines.push('', ...renderProgress(moving, { bar: options.bars === true }).map((l, i) => (i === 0 ? l : `  ${l}`)));
  }

  if (snapshot.groups !== undefined) lines.push('', ...renderGroups(snapshot.groups, options.topic));

  const shown = events.slice(-(options.eventsShownMax ?? 10));
  lines.push('', shown.length === 0 ? 'events: none since the watch started' : 'events (newest last):');
  for (const e of shown) lines.push(`  ${formatTime(e.timeMs, options.timeZone)}  ${e.text}`);
  return lines;
}

/**
 * The groups section: per group its state, members and total lag; per member its partitions and
 * their lag; then every partition's lag. With a topic, only the groups and partitions of it.
 */
export function renderGroups(groups: readonly WatchGroup[], topic?: string): string[] {
  const onTopic = (tp: { topic: string }) => topic === undefined || tp.topic === topic;
  const shown = groups
    .filter((g) => topic === undefined || g.offsets.some(onTopic) || g.members.some((m) => (m.assignment ?? []).some(onTopic)))
    .sort((a, b) => a.groupId.localeCompare(b.groupId));
  const lines = [shown.length === 0 ? 'consumer groups: none' : `consumer groups: ${shown.length}`];
  for (const g of shown) {
    const offsets = g.offsets.filter(onTopic);
    const lag = offsets.reduce((n, o) => n + (o.lag ?? 0), 0);
    lines.push(`  ${g.groupId}  ${g.state}  ${g.members.length} member${g.members.length === 1 ? '' : 's'}  lag ${lag}`);
    const rows = g.members.map((m) => {
      const mine = (m.assignment ?? []).filter(onTopic);
      const lagOf = offsets.filter((o) => o.memberId === m.memberId).reduce((n, o) => n + (o.lag ?? 0), 0);
      const parts = m.assignment === null ? '?' : mine.length === 0 ? '-' : mine.map((tp) => `${tp.topic}-${tp.partition}`).join(' ');
      return [m.clientId, m.clientHost, parts, `lag ${lagOf}`];
    });
    lines.push(...renderTable(rows).map((l) => `    ${l}`));
    if (offsets.length > 0) lines.push(`    lag by partition: ${offsets.map((o) => `${o.topic}-${o.partition} ${o.lag ?? '?'}`).join('  ')}`);
  }
  return lines;
}
