// The console's consumer groups: each group with its member count and, per partition of the topic
// shown, the committed offset, the log end (high watermark) and the lag. Read from the brokers'
// `GET /metrics`, which the console samples once a second anyway for its charts: the broker
// coordinating a group exports its committed offsets (`tributary_group_committed_offset`) and
// member count (`tributary_group_members`), every broker the high watermark of each replica it
// holds (`tributary_high_watermark`; the leader's is the highest). Pure, so the rules are tested
// without sockets.

export interface GroupMetricsSample {
  committed: { group: string; topic: string; partition: number; offset: number }[];
  members: { group: string; members: number }[];
  highWatermarks: { topic: string; partition: number; highWatermark: number }[];
}

export interface ConsoleGroupPartition {
  topic: string;
  partition: number;
  committedOffset: number;
  /** The highest high watermark any broker reported; null when none holds the partition's numbers. */
  logEndOffset: number | null;
  lag: number | null;
}

export interface ConsoleGroup {
  groupId: string;
  members: number;
  /** The sum of the known lags. */
  totalLag: number;
  partitions: ConsoleGroupPartition[];
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+(\S+)/;

function labels(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
    out.set(
      m[1]!,
      m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)),
    );
  return out;
}

/** The group and high-watermark lines of one broker's metrics text; other lines are skipped. */
export function parseGroupMetrics(text: string): GroupMetricsSample {
  const sample: GroupMetricsSample = { committed: [], members: [], highWatermarks: [] };
  for (const line of text.split('\n')) {
    if (!line.startsWith('tributary_group_committed_offset{') && !line.startsWith('tributary_group_members{') && !line.startsWith('tributary_high_watermark{'))
      continue;
    const m = LINE.exec(line);
    if (m === null) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const l = labels(m[2]!);
    const topic = l.get('topic');
    const partition = Number(l.get('partition'));
    const group = l.get('group');
    switch (m[1]) {
      case 'tributary_group_committed_offset':
        if (group !== undefined && topic !== undefined && Number.isInteger(partition)) sample.committed.push({ group, topic, partition, offset: value });
        break;
      case 'tributary_group_members':
        if (group !== undefined) sample.members.push({ group, members: value });
        break;
      case 'tributary_high_watermark':
        if (topic !== undefined && Number.isInteger(partition)) sample.highWatermarks.push({ topic, partition, highWatermark: value });
        break;
    }
  }
  return sample;
}

/**
 * Every group some broker reported, by name, with the partitions of `topic` (all topics without
 * one) it committed. A group with offsets only on other topics is still listed, with none.
 */
export function consoleGroups(samples: readonly GroupMetricsSample[], topic?: string): ConsoleGroup[] {
  const hw = new Map<string, number>();
  for (const s of samples)
    for (const h of s.highWatermarks) {
      const key = `${h.topic}\u0000${h.partition}`;
      hw.set(key, Math.max(hw.get(key) ?? 0, h.highWatermark));
    }
  const groups = new Map<string, { members: number; partitions: Map<string, ConsoleGroupPartition> }>();
  const group = (id: string) => {
    let g = groups.get(id);
    if (g === undefined) {
      g = { members: 0, partitions: new Map() };
      groups.set(id, g);
    }
    return g;
  };
  for (const s of samples) {
    for (const m of s.members) {
      const g = group(m.group);
      g.members = Math.max(g.members, m.members);
    }
    for (const c of s.committed) {
      const g = group(c.group);
      if (topic !== undefined && c.topic !== topic) continue;
      const key = `${c.topic}\u0000${c.partition}`;
      const before = g.partitions.get(key);
      // Two brokers may both report a group for a moment after its coordinator moved: the later offset wins.
      if (before !== undefined && before.committedOffset >= c.offset) continue;
      const end = hw.get(key) ?? null;
      g.partitions.set(key, {
        topic: c.topic,
        partition: c.partition,
        committedOffset: c.offset,
        logEndOffset: end,
        lag: end === null ? null : Math.max(0, end - c.offset),
      });
    }
  }
  return [...groups]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([groupId, g]) => {
      const partitions = [...g.partitions.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
      return { groupId, members: g.members, totalLag: partitions.reduce((n, p) => n + (p.lag ?? 0), 0), partitions };
    });
}
