// Test-only: drives a GroupCoordinator the way the broker's host does — numbers requests, keeps
// the answers, "appends" records to an in-memory log (acknowledged at once, or held to complete
// later), and runs each group's timer when a fake clock reaches it — so that tests read as the
// conversation between clients and a coordinator.

import { TributaryError, type ErrorCode, type GroupProtocol, type JoinGroupResponse } from '@tributary/protocol';
import type { Reply, RequestId } from '../group.ts';
import { GroupCoordinator, type AppendOutcome, type AppendRequest, type CoordinatorOutput, type GroupCoordinatorConfig } from '../group-coordinator.ts';

export interface LoggedRecord {
  partition: number;
  offset: number;
  key: Buffer;
  value: Buffer | null;
}

export function protocols(...names: string[]): GroupProtocol[] {
  return names.map((name) => ({ name, metadata: Buffer.from(`${name}-meta`) }));
}

export class Harness {
  coordinator: GroupCoordinator;
  nowMs = 1_000_000;
  /** Every record appended and acknowledged, per partition, in log order. */
  readonly log: LoggedRecord[] = [];
  readonly answers = new Map<RequestId, Reply>();
  /** Appends not acknowledged yet (holdAppends). */
  readonly held: AppendRequest[] = [];
  holdAppends = false;
  readonly timers = new Map<string, number>();
  readonly events: CoordinatorOutput['events'] = [];
  private nextRequest = 1;
  private ids = 0;
  private readonly partitionCount: number;
  readonly config: Partial<GroupCoordinatorConfig>;

  constructor(config: Partial<GroupCoordinatorConfig> = {}, partitionCount = 1, options: { load?: boolean } = {}) {
    this.config = { groupInitialRebalanceDelayMs: 0, ...config };
    this.partitionCount = partitionCount;
    this.coordinator = this.newCoordinator();
    for (let p = 0; p < (options.load === false ? 0 : partitionCount); p++) {
      this.apply(this.coordinator.beginLoad(p, 0, this.nowMs));
      this.apply(this.coordinator.completeLoad(p, 0, this.nowMs));
    }
  }

  private newCoordinator(): GroupCoordinator {
    return new GroupCoordinator({ config: this.config, newId: () => `uuid${++this.ids}`, partitionCount: this.partitionCount });
  }

  apply(out: CoordinatorOutput): void {
    for (const r of out.replies) {
      if (this.answers.has(r.to)) throw new Error(`request ${r.to} answered twice`);
      this.answers.set(r.to, r);
    }
    for (const [groupId, at] of out.timers) {
      if (at === undefined) this.timers.delete(groupId);
      else this.timers.set(groupId, at);
    }
    this.events.push(...out.events);
    for (const a of out.appends) {
      if (this.holdAppends) this.held.push(a);
      else this.acknowledge(a);
    }
  }

  private acknowledge(a: AppendRequest): void {
    const base = this.log.filter((r) => r.partition === a.partition).length;
    a.records.forEach((r, i) => {
      this.log.push({ partition: a.partition, offset: base + i, key: r.key, value: r.value });
    });
    this.apply(this.coordinator.appendCompleted(a.id, { baseOffset: base }, this.nowMs));
  }

  /** Completes the oldest held append, with `error` or successfully. */
  completeHeld(error?: ErrorCode): void {
    const a = this.held.shift();
    if (a === undefined) throw new Error('no held append');
    if (error === undefined) this.acknowledge(a);
    else this.apply(this.coordinator.appendCompleted(a.id, { error, message: 'test' } satisfies AppendOutcome, this.nowMs));
  }

  request(fn: (id: RequestId) => CoordinatorOutput): RequestId {
    const id = this.nextRequest++;
    this.apply(fn(id));
    return id;
  }

  join(
    groupId: string,
    memberId: string,
    options: Partial<{
      clientId: string;
      groupInstanceId: string;
      protocols: GroupProtocol[];
      protocolType: string;
      sessionTimeoutMs: number;
      rebalanceTimeoutMs: number;
    }> = {},
  ): RequestId {
    return this.request((id) =>
      this.coordinator.join(
        id,
        {
          groupId,
          memberId,
          groupInstanceId: options.groupInstanceId,
          clientId: options.clientId ?? 'client',
          clientHost: '/127.0.0.1',
          sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
          rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 30_000,
          protocolType: options.protocolType ?? 'consumer',
          protocols: options.protocols ?? protocols('range'),
        },
        this.nowMs,
      ),
    );
  }

  /** A first join (MEMBER_ID_REQUIRED) and the join with the assigned id; returns that id and the second request. */
  joinNew(groupId: string, clientId: string, options: Parameters<Harness['join']>[2] = {}): { memberId: string; request: RequestId } {
    const first = this.join(groupId, '', { ...options, clientId });
    const memberId = this.errorOf(first, 'MEMBER_ID_REQUIRED').memberId!;
    return { memberId, request: this.join(groupId, memberId, { ...options, clientId }) };
  }

  sync(groupId: string, memberId: string, generationId: number, assignments: Record<string, string> = {}, groupInstanceId?: string): RequestId {
    const map = new Map(Object.entries(assignments).map(([k, v]) => [k, Buffer.from(v)]));
    return this.request((id) => this.coordinator.sync(id, { groupId, memberId, generationId, groupInstanceId, assignments: map }, this.nowMs));
  }

  heartbeat(groupId: string, memberId: string, generationId: number, groupInstanceId?: string): RequestId {
    return this.request((id) => this.coordinator.heartbeat(id, { groupId, memberId, generationId, groupInstanceId }, this.nowMs));
  }

  leave(groupId: string, members: { memberId: string; groupInstanceId?: string }[]): RequestId {
    return this.request((id) =>
      this.coordinator.leave(id, { groupId, members: members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })) }, this.nowMs),
    );
  }

  commit(groupId: string, memberId: string, generationId: number, offsets: Record<string, number>, metadata = ''): RequestId {
    return this.request((id) =>
      this.coordinator.commitOffsets(
        id,
        {
          groupId,
          generationId,
          memberId,
          groupInstanceId: undefined,
          offsets: Object.entries(offsets).map(([tp, offset]) => {
            const [topic, partition] = tp.split(':');
            return { topic: topic!, partition: Number(partition), offset, leaderEpoch: undefined, metadata };
          }),
        },
        this.nowMs,
      ),
    );
  }

  committed(groupId: string): Record<string, number> {
    return Object.fromEntries(this.coordinator.fetchOffsets(groupId, undefined).offsets.map((o) => [`${o.topic}:${o.partition}`, o.offset]));
  }

  answered(id: RequestId): boolean {
    return this.answers.has(id);
  }

  valueOf<T>(id: RequestId): T {
    const r = this.answers.get(id);
    if (r === undefined) throw new Error(`request ${id} is not answered`);
    if (r.error !== undefined) throw new Error(`request ${id} failed: ${r.error.code} ${r.error.message}`);
    return r.value as T;
  }

  joinResult(id: RequestId): JoinGroupResponse {
    return this.valueOf<JoinGroupResponse>(id);
  }

  errorOf(id: RequestId, code?: ErrorCode): TributaryError {
    const r = this.answers.get(id);
    if (r === undefined) throw new Error(`request ${id} is not answered`);
    if (r.error === undefined) throw new Error(`request ${id} succeeded: ${JSON.stringify(r.value)}`);
    if (code !== undefined && r.error.code !== code) throw new Error(`request ${id} failed with ${r.error.code} (${r.error.message}), not ${code}`);
    return r.error;
  }

  /** The answer's error code, 'ok', or 'waiting'. */
  outcome(id: RequestId): ErrorCode | 'ok' | 'waiting' {
    const r = this.answers.get(id);
    if (r === undefined) return 'waiting';
    return r.error === undefined ? 'ok' : r.error.code;
  }

  /** Moves the clock forward, running each group's timer when it is due, in time order. */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      let next: [string, number] | undefined;
      for (const entry of this.timers) if (entry[1] <= target && (next === undefined || entry[1] < next[1])) next = entry;
      if (next === undefined) break;
      this.nowMs = Math.max(this.nowMs, next[1]);
      this.timers.delete(next[0]);
      this.apply(this.coordinator.onGroupTimer(next[0], this.nowMs));
    }
    this.nowMs = target;
  }

  /** A new coordinator that loads this one's log, as the next leader of the partitions would. */
  failover(): GroupCoordinator {
    return this.failoverHarness().coordinator;
  }

  /** The next leader's coordinator in a harness of its own, at this one's time, its timers set. */
  failoverHarness(): Harness {
    const next = new Harness(this.config, this.partitionCount, { load: false });
    next.nowMs = this.nowMs;
    for (let p = 0; p < this.partitionCount; p++) {
      next.apply(next.coordinator.beginLoad(p, 1, next.nowMs));
      next.coordinator.loadRecords(
        p,
        1,
        this.log.filter((r) => r.partition === p),
      );
      next.apply(next.coordinator.completeLoad(p, 1, next.nowMs));
    }
    return next;
  }
}

export function expectError(fn: () => unknown, code: ErrorCode): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof TributaryError && err.code === code) return;
    throw err;
  }
  throw new Error(`expected ${code}`);
}
