// The group-consumer workload (`tributary chaos --group-consumers N`): N members of one consumer
// group read the chaos topic through faults (auto-commit every second), while an observer reads
// the group's committed offsets twice a second. After the heal, the members must reach the end
// of every partition and commit it. The verdict (pure, checkGroup): every acknowledged record was
// delivered to the group at least once; no committed offset the observer saw went backwards; the
// lag reached 0 after the heal.

import { Admin, Consumer, type ClientOptions } from '@tributary/client';

export interface GroupDelivery {
  partition: number;
  offset: number;
  value: string;
}

export interface CommittedObservation {
  atMs: number;
  partition: number;
  offset: number;
}

export type GroupAnomalyKind = 'undelivered' | 'committed-offset-decreased' | 'lag-not-zero';

export interface GroupAnomaly {
  kind: GroupAnomalyKind;
  partition: number;
  detail: string;
}

export interface GroupCheckResult {
  valid: boolean;
  violations: number;
  counts: Record<GroupAnomalyKind, number>;
  /** Records the members were handed (with repeats), and distinct ones. */
  delivered: number;
  distinctDelivered: number;
  /** Acknowledged records, each of which must have been delivered. */
  acknowledged: number;
  /** Records delivered more than once (at-least-once: allowed, counted). */
  redelivered: number;
  observations: number;
  /** Per partition, the final committed offset and the end it had to reach. */
  final: { partition: number; committed: number | null; end: number }[];
  examples: GroupAnomaly[];
}

/**
 * The verdict. `acked`: the sends the cluster acknowledged (partition, offset, value); `delivered`:
 * every record a member was handed; `observations`: committed offsets in the order seen; `final`:
 * each partition's committed offset after the heal against its high watermark.
 */
export function checkGroup(input: {
  acked: readonly GroupDelivery[];
  delivered: readonly GroupDelivery[];
  observations: readonly CommittedObservation[];
  final: readonly { partition: number; committed: number | null; end: number }[];
  examplesMax?: number;
}): GroupCheckResult {
  const examplesMax = input.examplesMax ?? 20;
  const counts: Record<GroupAnomalyKind, number> = { undelivered: 0, 'committed-offset-decreased': 0, 'lag-not-zero': 0 };
  const examples: GroupAnomaly[] = [];
  const flag = (a: GroupAnomaly) => {
    counts[a.kind]++;
    if (examples.length < examplesMax) examples.push(a);
  };
  const seen = new Map<string, string>();
  let redelivered = 0;
  for (const d of input.delivered) {
    const key = `${d.partition}:${d.offset}`;
    if (seen.has(key)) redelivered++;
    else seen.set(key, d.value);
  }
  for (const a of [...input.acked].sort((x, y) => x.partition - y.partition || x.offset - y.offset)) {
    const got = seen.get(`${a.partition}:${a.offset}`);
    if (got !== a.value)
      flag({
        kind: 'undelivered',
        partition: a.partition,
        detail:
          got === undefined
            ? `acknowledged ${JSON.stringify(a.value)} at offset ${a.offset} was never delivered to the group`
            : `offset ${a.offset} was delivered as ${JSON.stringify(got)}, acknowledged as ${JSON.stringify(a.value)}`,
      });
  }
  const last = new Map<number, CommittedObservation>();
  for (const o of input.observations) {
    const before = last.get(o.partition);
    if (before !== undefined && o.offset < before.offset)
      flag({
        kind: 'committed-offset-decreased',
        partition: o.partition,
        detail: `committed offset went from ${before.offset} to ${o.offset} (${o.atMs - before.atMs} ms apart)`,
      });
    if (before === undefined || o.offset >= before.offset) last.set(o.partition, o);
  }
  for (const f of input.final) {
    if (f.committed === null || f.committed < f.end)
      flag({ kind: 'lag-not-zero', partition: f.partition, detail: `committed ${f.committed ?? 'nothing'} after the heal, the end is ${f.end}` });
  }
  const violations = counts.undelivered + counts['committed-offset-decreased'] + counts['lag-not-zero'];
  return {
    valid: violations === 0,
    violations,
    counts,
    delivered: input.delivered.length,
    distinctDelivered: seen.size,
    acknowledged: input.acked.length,
    redelivered,
    observations: input.observations.length,
    final: [...input.final],
    examples,
  };
}

export interface GroupWorkloadOptions {
  bootstrap: string[];
  /** TLS and SCRAM of a secure cluster. */
  client?: Pick<ClientOptions, 'ca' | 'credentials'>;
  topic: string;
  groupId: string;
  members: number;
  /** Default 10000 (the brokers' group.min.session.timeout.ms is 6000). */
  sessionTimeoutMs?: number;
  /** How often the observer reads the committed offsets. Default 500. */
  observeIntervalMs?: number;
  now?: () => number;
}

export class GroupWorkload {
  private readonly options: GroupWorkloadOptions;
  private readonly now: () => number;
  private consuming = true;
  private observing = true;
  private readonly loops: Promise<void>[] = [];
  private readonly consumers: Consumer[] = [];
  private observer: Promise<void> | undefined;
  private readonly admin: Admin;
  readonly delivered: GroupDelivery[] = [];
  readonly observations: CommittedObservation[] = [];
  /** Rebalance callbacks heard, over all members. */
  rebalances = 0;

  constructor(options: GroupWorkloadOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.admin = new Admin({ bootstrap: options.bootstrap, ...options.client, requestTimeoutMs: 5000 });
  }

  start(): void {
    for (let i = 0; i < this.options.members; i++) this.loops.push(this.runMember(i));
    this.observer = this.observe();
  }

  private async runMember(index: number): Promise<void> {
    const consumer = new Consumer({
      bootstrap: this.options.bootstrap,
      ...this.options.client,
      groupId: this.options.groupId,
      clientId: `chaos-member-${index}`,
      sessionTimeoutMs: this.options.sessionTimeoutMs ?? 10_000,
      autoCommitIntervalMs: 1000,
      maxWaitMs: 300,
      requestTimeoutMs: 10_000,
    });
    this.consumers.push(consumer);
    consumer.subscribe(this.options.topic, {
      from: 'earliest',
      onPartitionsAssigned: () => void this.rebalances++,
    });
    while (this.consuming) {
      try {
        for (const r of await consumer.poll()) this.delivered.push({ partition: r.partition, offset: r.offset, value: r.value?.toString('utf8') ?? '' });
      } catch {
        // A fault the member reports (its group moved on, a coordinator gone): it rejoins on the next poll.
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private async observe(): Promise<void> {
    const interval = this.options.observeIntervalMs ?? 500;
    while (this.observing) {
      try {
        const offsets = await this.admin.groups.fetchOffsets(this.options.groupId, undefined, { timeoutMs: 5000 });
        const atMs = this.now();
        for (const o of offsets) if (o.offset >= 0) this.observations.push({ atMs, partition: o.partition, offset: o.offset });
      } catch {
        // The coordinator may be down or loading: the next read tells.
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  }

  /**
   * Waits until the group's committed offset of every partition reaches `ends` (its high
   * watermark after the heal) or `timeoutMs` passes, then stops the members (close: commit and
   * leave) and the observer; returns each partition's last committed offset against its end.
   */
  async finish(ends: Map<number, number>, timeoutMs: number): Promise<{ partition: number; committed: number | null; end: number }[]> {
    const deadline = this.now() + timeoutMs;
    let committed = new Map<number, number>();
    while (this.now() < deadline) {
      try {
        const offsets = await this.admin.groups.fetchOffsets(this.options.groupId, undefined, { timeoutMs: 5000 });
        committed = new Map(offsets.filter((o) => o.offset >= 0).map((o) => [o.partition, o.offset]));
        if ([...ends].every(([p, end]) => (committed.get(p) ?? -1) >= end)) break;
      } catch {
        // Retried until the deadline.
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    this.consuming = false;
    await Promise.all(this.consumers.map((c) => c.close({ timeoutMs: 10_000 }).catch(() => undefined)));
    await Promise.all(this.loops);
    this.observing = false;
    await this.observer;
    await this.admin.close().catch(() => undefined);
    return [...ends].sort((a, b) => a[0] - b[0]).map(([partition, end]) => ({ partition, committed: committed.get(partition) ?? null, end }));
  }
}
