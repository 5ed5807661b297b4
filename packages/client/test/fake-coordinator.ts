// The fake cluster's consumer-group coordinator: the real GroupCoordinator (sans-I/O, from
// @tributary/coordinator) hosted in memory by broker `brokerId`, as the broker's CoordinatorHost
// hosts it, with appends to __consumer_offsets that succeed at once (nothing is replicated or
// reloaded). Group timers run on real time, so session timeouts and the initial rebalance delay
// are the config's.

import { TributaryError } from '@tributary/protocol';
import { GroupCoordinator, type CoordinatorOutput, type GroupCoordinatorConfig, type RequestId } from '@tributary/coordinator';
import type { MsgpackServer } from '@tributary/transport/server';

export class FakeCoordinator {
  readonly coordinator: GroupCoordinator;
  /** The broker that coordinates every group (FindCoordinator answers it). */
  brokerId = 0;
  private readonly waiters = new Map<RequestId, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private nextRequest = 1;
  private nextId = 1;
  private offset = 0;
  /** Calls by path, in order (for assertions). */
  readonly calls: { path: string; body: any }[] = [];

  constructor(config: Partial<GroupCoordinatorConfig> = {}) {
    this.coordinator = new GroupCoordinator({
      config: { groupInitialRebalanceDelayMs: 0, groupMinSessionTimeoutMs: 100, ...config },
      newId: () => `m${this.nextId++}`,
      partitionCount: 1,
    });
    this.coordinator.beginLoad(0, 0, Date.now());
    this.coordinator.completeLoad(0, 0, Date.now());
  }

  private run(out: CoordinatorOutput): void {
    for (const r of out.replies) {
      const w = this.waiters.get(r.to);
      if (w === undefined) continue;
      this.waiters.delete(r.to);
      if (r.error !== undefined) w.reject(r.error);
      else w.resolve(r.value);
    }
    for (const [groupId, at] of out.timers) {
      const existing = this.timers.get(groupId);
      if (existing !== undefined) clearTimeout(existing);
      this.timers.delete(groupId);
      if (at === undefined) continue;
      const t = setTimeout(
        () => {
          this.timers.delete(groupId);
          this.run(this.coordinator.onGroupTimer(groupId, Date.now()));
        },
        Math.max(0, at - Date.now()),
      );
      t.unref();
      this.timers.set(groupId, t);
    }
    for (const a of out.appends) {
      const baseOffset = this.offset;
      this.offset += a.records.length;
      queueMicrotask(() => this.run(this.coordinator.appendCompleted(a.id, { baseOffset }, Date.now())));
    }
  }

  private request<T>(fn: (id: RequestId) => CoordinatorOutput): Promise<T> {
    const id = this.nextRequest++;
    const p = new Promise<T>((resolve, reject) => this.waiters.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    this.run(fn(id));
    return p;
  }

  /** The group routes on one broker's server; every broker but `brokerId` answers NOT_COORDINATOR. */
  routes(app: MsgpackServer, broker: number, port: () => number, knownPartition: (topic: string, partition: number) => boolean): void {
    const c = this.coordinator;
    const now = () => Date.now();
    const mine = (path: string, body: any) => {
      this.calls.push({ path, body });
      if (broker !== this.brokerId) throw new TributaryError('NOT_COORDINATOR', `broker ${broker} is not the coordinator`);
    };
    const member = (b: any) => ({ groupId: b.groupId, generationId: b.generationId, memberId: b.memberId, groupInstanceId: b.groupInstanceId ?? undefined });
    const offsets = (b: any) =>
      (b.offsets as any[]).map((o) => ({
        topic: o.topic,
        partition: o.partition,
        offset: o.offset,
        leaderEpoch: o.leaderEpoch ?? undefined,
        metadata: o.metadata ?? '',
      }));
    app.post('/find-coordinator', async (req) => {
      this.calls.push({ path: '/find-coordinator', body: req.body });
      return { brokerId: this.brokerId, host: '127.0.0.1', port: port() };
    });
    app.post('/group/join', async (req) => {
      const b = req.body as any;
      mine('/group/join', b);
      return this.request((id) =>
        c.join(
          id,
          {
            groupId: b.groupId,
            memberId: b.memberId,
            groupInstanceId: b.groupInstanceId ?? undefined,
            clientId: b.clientId,
            clientHost: '/127.0.0.1',
            sessionTimeoutMs: b.sessionTimeoutMs,
            rebalanceTimeoutMs: b.rebalanceTimeoutMs,
            protocolType: b.protocolType,
            protocols: (b.protocols as any[]).map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
          },
          now(),
        ),
      );
    });
    app.post('/group/sync', async (req) => {
      const b = req.body as any;
      mine('/group/sync', b);
      const assignments = new Map<string, Buffer>(((b.assignments ?? []) as any[]).map((a) => [a.memberId, Buffer.from(a.assignment)]));
      return this.request((id) => c.sync(id, { ...member(b), assignments }, now()));
    });
    app.post('/group/heartbeat', async (req) => {
      mine('/group/heartbeat', req.body);
      return this.request((id) => c.heartbeat(id, member(req.body), now()));
    });
    app.post('/group/leave', async (req) => {
      const b = req.body as any;
      mine('/group/leave', b);
      const members = (b.members as any[]).map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? undefined }));
      return this.request((id) => c.leave(id, { groupId: b.groupId, members }, now()));
    });
    app.post('/offsets/commit', async (req) => {
      const b = req.body as any;
      mine('/offsets/commit', b);
      return this.request((id) => c.commitOffsets(id, { ...member(b), offsets: offsets(b) }, now(), knownPartition));
    });
    app.post('/groups/reset-offsets', async (req) => {
      const b = req.body as any;
      mine('/groups/reset-offsets', b);
      return this.request((id) => c.resetOffsets(id, { groupId: b.groupId, offsets: offsets(b) }, now(), knownPartition));
    });
    app.post('/offsets/fetch', async (req) => {
      const b = req.body as any;
      mine('/offsets/fetch', b);
      return c.fetchOffsets(b.groupId, b.partitions ?? undefined);
    });
    app.post('/groups/list', async (req) => {
      this.calls.push({ path: '/groups/list', body: req.body });
      if (broker !== this.brokerId) return { groups: [] };
      return c.listGroups((req.body as any).states ?? undefined);
    });
    app.post('/groups/describe', async (req) => {
      mine('/groups/describe', req.body);
      return { groups: c.describeGroups((req.body as any).groupIds) };
    });
    app.post('/groups/delete', async (req) => {
      mine('/groups/delete', req.body);
      return this.request((id) => c.deleteGroups(id, (req.body as any).groupIds, now()));
    });
  }

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
