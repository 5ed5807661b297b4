import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendErrorCode } from './group-coordinator.ts';
import { expectError, Harness } from './internal/test-support.ts';
import { decodeRecord } from './records.ts';

const G = 'g';

/** One member, joined and synced: a Stable group of generation 1. */
function oneMember(h: Harness, groupId = G): { memberId: string; generationId: number } {
  const { memberId, request } = h.joinNew(groupId, 'c');
  const { generationId } = h.joinResult(request);
  h.sync(groupId, memberId, generationId, { [memberId]: 'a' });
  return { memberId, generationId };
}

describe('OffsetCommit and OffsetFetch', () => {
  it('commits for a consumer outside group management (generation -1), creating an Empty group', () => {
    const h = new Harness();
    const id = h.commit(G, '', -1, { 't:0': 10, 't:1': 20 }, 'meta');
    expect(h.valueOf(id)).toEqual({
      partitions: [
        { topic: 't', partition: 0 },
        { topic: 't', partition: 1 },
      ],
    });
    expect(h.coordinator.fetchOffsets(G, undefined).offsets).toEqual([
      { topic: 't', partition: 0, offset: 10, metadata: 'meta' },
      { topic: 't', partition: 1, offset: 20, metadata: 'meta' },
    ]);
    expect(h.coordinator.group(G)!.state).toBe('Empty');
    expect(h.coordinator.group(G)!.protocolType).toBeUndefined();
  });

  it('answers a commit only once its records are acknowledged, and keeps nothing of one that failed', () => {
    const h = new Harness();
    h.holdAppends = true;
    const id = h.commit(G, '', -1, { 't:0': 10 });
    expect(h.outcome(id)).toBe('waiting');
    expect(h.coordinator.fetchOffsets(G, [{ topic: 't', partition: 0 }]).offsets[0]!.offset).toBe(-1);
    h.completeHeld('NOT_ENOUGH_REPLICAS_AFTER_APPEND');
    expect(h.outcome(id)).toBe('COORDINATOR_NOT_AVAILABLE');
    expect(h.committed(G)).toEqual({});
    const again = h.commit(G, '', -1, { 't:0': 11 });
    h.completeHeld();
    expect(h.outcome(again)).toBe('ok');
    expect(h.committed(G)).toEqual({ 't:0': 11 });
  });

  it('answers -1 for asked partitions without a commit, and for a group that does not exist', () => {
    const h = new Harness();
    h.commit(G, '', -1, { 't:0': 3 });
    expect(
      h.coordinator.fetchOffsets(G, [
        { topic: 't', partition: 0 },
        { topic: 't', partition: 9 },
      ]).offsets,
    ).toEqual([
      { topic: 't', partition: 0, offset: 3, metadata: '' },
      { topic: 't', partition: 9, offset: -1, metadata: '' },
    ]);
    expect(h.coordinator.fetchOffsets('nobody', [{ topic: 't', partition: 0 }]).offsets).toEqual([{ topic: 't', partition: 0, offset: -1, metadata: '' }]);
    expect(h.coordinator.fetchOffsets('nobody', undefined).offsets).toEqual([]);
  });

  it('answers per partition: too much metadata and unknown partitions are refused, the rest committed', () => {
    const h = new Harness({ offsetMetadataMaxBytes: 4 });
    const id = h.request((rid) =>
      h.coordinator.commitOffsets(
        rid,
        {
          groupId: G,
          generationId: -1,
          memberId: '',
          groupInstanceId: undefined,
          offsets: [
            { topic: 't', partition: 0, offset: 1, leaderEpoch: 3, metadata: 'ok' },
            { topic: 't', partition: 1, offset: 2, leaderEpoch: undefined, metadata: 'ééé' },
            { topic: 'gone', partition: 0, offset: 3, leaderEpoch: undefined, metadata: '' },
          ],
        },
        h.nowMs,
        (topic) => topic !== 'gone',
      ),
    );
    const answer = h.valueOf<{ partitions: { topic: string; partition: number; error?: { code: string } }[] }>(id).partitions;
    expect(answer.map((p) => p.error?.code)).toEqual([undefined, 'OFFSET_METADATA_TOO_LARGE', 'UNKNOWN_TOPIC_OR_PARTITION']);
    expect(h.coordinator.fetchOffsets(G, undefined).offsets).toEqual([{ topic: 't', partition: 0, offset: 1, leaderEpoch: 3, metadata: 'ok' }]);
  });

  it.each([
    { name: 'generation -1 while the group has members', member: '', gen: -1, code: 'UNKNOWN_MEMBER_ID' },
    { name: 'an unknown member', member: 'ghost', gen: 1, code: 'UNKNOWN_MEMBER_ID' },
    { name: 'a stale generation', member: 'm', gen: 0, code: 'ILLEGAL_GENERATION' },
  ] as const)('refuses a commit by $name with $code', ({ member, gen, code }) => {
    const h = new Harness();
    const { memberId } = oneMember(h);
    expect(h.outcome(h.commit(G, member === 'm' ? memberId : member, gen, { 't:0': 5 }))).toBe(code);
    expect(h.committed(G)).toEqual({});
  });

  it('refuses a commit naming a generation of a group that does not exist (ILLEGAL_GENERATION)', () => {
    const h = new Harness();
    expect(h.outcome(h.commit(G, 'm', 3, { 't:0': 5 }))).toBe('ILLEGAL_GENERATION');
    expect(h.coordinator.group(G)).toBeUndefined();
  });

  it('commits a member\u2019s offsets in its generation and extends its session', () => {
    const h = new Harness();
    const { memberId, generationId } = oneMember(h);
    h.advance(9000);
    expect(h.outcome(h.commit(G, memberId, generationId, { 't:0': 5 }))).toBe('ok');
    h.advance(9000);
    expect(h.coordinator.group(G)!.members.has(memberId)).toBe(true);
  });
});

describe('DeleteGroups and reset-offsets', () => {
  it('deletes an Empty group and its offsets with tombstones, and answers each group on its own', () => {
    const h = new Harness();
    h.commit(G, '', -1, { 't:0': 1, 't:1': 2 });
    oneMember(h, 'busy');
    const id = h.request((rid) => h.coordinator.deleteGroups(rid, [G, 'busy', 'nobody', ''], h.nowMs));
    expect(h.valueOf<{ groups: { groupId: string; error?: { code: string } }[] }>(id).groups.map((g) => [g.groupId, g.error?.code])).toEqual([
      [G, undefined],
      ['busy', 'NON_EMPTY_GROUP'],
      ['nobody', 'GROUP_ID_NOT_FOUND'],
      ['', 'INVALID_GROUP_ID'],
    ]);
    expect(h.coordinator.group(G)).toBeUndefined();
    expect(h.committed(G)).toEqual({});
    // The tombstones are what the next leader sees.
    const next = h.failover();
    expect(next.group(G)).toBeUndefined();
    expect(next.fetchOffsets(G, undefined).offsets).toEqual([]);
    expect(next.group('busy')).toBeDefined();
  });

  it('keeps a group whose deletion could not be written, and refuses joins and commits while it is written', () => {
    const h = new Harness();
    h.commit(G, '', -1, { 't:0': 1 });
    h.holdAppends = true;
    const del = h.request((rid) => h.coordinator.deleteGroups(rid, [G], h.nowMs));
    expect(h.coordinator.group(G)!.state).toBe('Dead');
    expect(h.outcome(h.join(G, ''))).toBe('COORDINATOR_NOT_AVAILABLE');
    expect(h.outcome(h.commit(G, '', -1, { 't:0': 2 }))).toBe('COORDINATOR_NOT_AVAILABLE');
    h.completeHeld('NOT_LEADER_OR_FOLLOWER');
    expect(h.valueOf<{ groups: { error?: { code: string } }[] }>(del).groups[0]!.error?.code).toBe('NOT_COORDINATOR');
    expect(h.coordinator.group(G)!.state).toBe('Empty');
    expect(h.committed(G)).toEqual({ 't:0': 1 });
  });

  it('writes tombstones for a commit still in flight when the group is deleted', () => {
    const h = new Harness();
    h.holdAppends = true;
    const commit = h.commit(G, '', -1, { 't:7': 1 });
    h.request((rid) => h.coordinator.deleteGroups(rid, [G], h.nowMs));
    h.completeHeld();
    h.completeHeld();
    expect(h.outcome(commit)).toBe('ok');
    // The commit landed before the tombstones: neither this coordinator nor the next has it.
    expect(h.committed(G)).toEqual({});
    expect(h.failover().fetchOffsets(G, undefined).offsets).toEqual([]);
  });

  it('resets the offsets of an Empty group (creating it if needed) and refuses a group with members (NON_EMPTY_GROUP)', () => {
    const h = new Harness();
    const reset = (groupId: string) =>
      h.request((rid) =>
        h.coordinator.resetOffsets(rid, { groupId, offsets: [{ topic: 't', partition: 0, offset: 0, leaderEpoch: undefined, metadata: '' }] }, h.nowMs),
      );
    expect(h.outcome(reset('fresh'))).toBe('ok');
    expect(h.committed('fresh')).toEqual({ 't:0': 0 });
    const { memberId, generationId } = oneMember(h);
    h.commit(G, memberId, generationId, { 't:0': 50 });
    expect(h.outcome(reset(G))).toBe('NON_EMPTY_GROUP');
    expect(h.committed(G)).toEqual({ 't:0': 50 });
    h.leave(G, [{ memberId }]);
    expect(h.coordinator.group(G)!.state).toBe('Empty');
    expect(h.outcome(reset(G))).toBe('ok');
    expect(h.committed(G)).toEqual({ 't:0': 0 });
  });
});

describe('loading after a failover', () => {
  it('rebuilds groups and offsets from the partition\u2019s records: Stable groups keep generation, leader, members and assignments', () => {
    const h = new Harness();
    const a = h.joinNew(G, 'a');
    const b = h.joinNew(G, 'b');
    h.join(G, a.memberId);
    const { generationId, leader } = h.joinResult(b.request);
    h.sync(G, b.memberId, generationId);
    h.sync(G, leader, generationId, { [a.memberId]: 'A', [b.memberId]: 'B' });
    h.commit(G, a.memberId, generationId, { 't:0': 100 });
    h.commit(G, b.memberId, generationId, { 't:1': 200 });
    h.commit(G, a.memberId, generationId, { 't:0': 150 });
    h.commit('simple', '', -1, { 'u:0': 7 });

    const next = h.failover();
    const group = next.group(G)!;
    expect(group.state).toBe('Stable');
    expect(group.generationId).toBe(generationId);
    expect(group.leaderId).toBe(leader);
    expect(Object.fromEntries([...group.members].map(([id, m]) => [id, m.assignment.toString()]))).toEqual({ [a.memberId]: 'A', [b.memberId]: 'B' });
    expect(next.fetchOffsets(G, undefined).offsets.map((o) => o.offset)).toEqual([150, 200]);
    expect(next.fetchOffsets('simple', undefined).offsets.map((o) => o.offset)).toEqual([7]);
    expect(next.group('simple')!.state).toBe('Empty');
  });

  it('lets the members of a loaded group heartbeat and sync in their generation, and expires the ones that never come', () => {
    const h = new Harness();
    const a = h.joinNew(G, 'a', { sessionTimeoutMs: 10_000 });
    const b = h.joinNew(G, 'b', { sessionTimeoutMs: 10_000 });
    h.join(G, a.memberId, { sessionTimeoutMs: 10_000 });
    const { generationId } = h.joinResult(b.request);
    h.sync(G, b.memberId, generationId);
    h.sync(G, a.memberId, generationId, { [a.memberId]: 'A', [b.memberId]: 'B' });
    h.advance(9000);
    // The new coordinator gives every loaded member a whole session to find it.
    const next = h.failoverHarness();
    for (let i = 0; i < 2; i++) {
      next.advance(4000);
      expect(next.outcome(next.heartbeat(G, a.memberId, generationId))).toBe('ok');
    }
    expect(next.valueOf<{ assignment: Buffer }>(next.sync(G, a.memberId, generationId)).assignment.toString()).toBe('A');
    next.advance(2000);
    // b never found the new coordinator: its session there has expired, and a is told to rejoin.
    expect(next.coordinator.group(G)!.members.has(b.memberId)).toBe(false);
    expect(next.outcome(next.heartbeat(G, a.memberId, generationId))).toBe('REBALANCE_IN_PROGRESS');
  });

  it('answers COORDINATOR_LOAD_IN_PROGRESS until completeLoad, and refuses records of another epoch', () => {
    const h = new Harness();
    h.commit(G, '', -1, { 't:0': 1 });
    h.apply(h.coordinator.beginLoad(0, 5, h.nowMs));
    expectError(() => h.coordinator.fetchOffsets(G, undefined), 'COORDINATOR_LOAD_IN_PROGRESS');
    expectError(() => h.coordinator.loadRecords(0, 4, []), 'NOT_COORDINATOR');
    h.coordinator.loadRecords(
      0,
      5,
      h.log.filter((r) => r.partition === 0),
    );
    h.apply(h.coordinator.completeLoad(0, 5, h.nowMs));
    expect(h.committed(G)).toEqual({ 't:0': 1 });
  });

  it('keeps what a random history of joins, syncs, commits, leaves, expiries and deletions committed (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('join' as const), who: fc.integer({ min: 0, max: 3 }) }),
            fc.record({ op: fc.constant('sync' as const), who: fc.integer({ min: 0, max: 3 }) }),
            fc.record({ op: fc.constant('commit' as const), who: fc.integer({ min: 0, max: 3 }), p: fc.integer({ min: 0, max: 2 }), offset: fc.nat(1000) }),
            fc.record({ op: fc.constant('simple' as const), p: fc.integer({ min: 0, max: 2 }), offset: fc.nat(1000) }),
            fc.record({ op: fc.constant('leave' as const), who: fc.integer({ min: 0, max: 3 }) }),
            fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 20_000 }) }),
            fc.record({ op: fc.constant('delete' as const) }),
          ),
          { maxLength: 60 },
        ),
        (ops) => {
          const h = new Harness({}, 2);
          const ids: (string | undefined)[] = [undefined, undefined, undefined, undefined];
          for (const op of ops) {
            const groupId = `group-${op.op === 'simple' ? 'simple' : 'managed'}`;
            const group = h.coordinator.group(groupId);
            switch (op.op) {
              case 'join': {
                const r = h.join(groupId, ids[op.who] ?? '', { clientId: `c${op.who}` });
                const err = h.answers.get(r)?.error;
                if (err?.code === 'MEMBER_ID_REQUIRED') ids[op.who] = err.memberId;
                else if (err?.code === 'UNKNOWN_MEMBER_ID') ids[op.who] = undefined;
                break;
              }
              case 'sync': {
                const id = ids[op.who];
                if (id !== undefined && group !== undefined) {
                  const assignments = group.leaderId === id ? Object.fromEntries([...group.members.keys()].map((m) => [m, `a-${m}`])) : {};
                  h.sync(groupId, id, group.generationId, assignments);
                }
                break;
              }
              case 'commit':
                if (ids[op.who] !== undefined && group !== undefined) h.commit(groupId, ids[op.who]!, group.generationId, { [`t:${op.p}`]: op.offset });
                break;
              case 'simple':
                h.commit(groupId, '', -1, { [`t:${op.p}`]: op.offset });
                break;
              case 'leave':
                if (ids[op.who] !== undefined) h.leave(groupId, [{ memberId: ids[op.who]! }]);
                break;
              case 'advance':
                h.advance(op.ms);
                break;
              case 'delete':
                h.request((rid) => h.coordinator.deleteGroups(rid, ['group-managed', 'group-simple'], h.nowMs));
                break;
            }
          }
          const next = h.failover();
          for (const groupId of ['group-managed', 'group-simple']) {
            // Every acknowledged offset is what the next coordinator loads.
            expect(next.fetchOffsets(groupId, undefined)).toEqual(h.coordinator.fetchOffsets(groupId, undefined));
            const before = h.coordinator.group(groupId);
            const after = next.group(groupId);
            // A Stable group comes back as it was; other states come back as their last stored
            // generation (a rebalance in progress is not stored, as in Kafka).
            if (before?.state === 'Stable') {
              expect(after?.state).toBe('Stable');
              expect(after?.generationId).toBe(before.generationId);
              expect(after?.leaderId).toBe(before.leaderId);
              expect([...after!.members.keys()]).toEqual([...before.members.keys()]);
              expect([...after!.members.values()].map((m) => m.assignment.toString())).toEqual(
                [...before.members.values()].map((m) => m.assignment.toString()),
              );
            }
            if (before?.state === 'Empty' && before.protocolType !== undefined) expect(after?.generationId).toBe(before.generationId);
            if (before === undefined) expect(after).toBeUndefined();
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('offset retention (offsets.retention.minutes, KIP-211)', () => {
  const DAY = 24 * 3600 * 1000;

  it('expires the offsets of an Empty group retention after it became Empty, then the group itself, with tombstones', () => {
    const h = new Harness();
    const { memberId, generationId } = oneMember(h);
    h.commit(G, memberId, generationId, { 't:0': 5 });
    h.advance(3 * DAY); // its session expired long ago: Empty since then
    expect(h.coordinator.group(G)!.state).toBe('Empty');
    h.apply(h.coordinator.expireOffsets(h.nowMs));
    expect(h.committed(G)).toEqual({ 't:0': 5 });
    h.advance(7 * DAY);
    h.apply(h.coordinator.expireOffsets(h.nowMs));
    expect(h.committed(G)).toEqual({});
    expect(h.coordinator.group(G)).toBeUndefined();
    const last = h.log.slice(-2).map((r) => decodeRecord(r.key, r.value));
    expect(last).toEqual([
      { type: 'offset', groupId: G, topic: 't', partition: 0, value: null },
      { type: 'group', groupId: G, value: null },
    ]);
    expect(h.failover().group(G)).toBeUndefined();
  });

  it('never expires the offsets of a group with members', () => {
    // Session timeouts are int32s, as in Kafka: 2e9 ms is 23 days.
    const h = new Harness({ groupMaxSessionTimeoutMs: 2_000_000_000 });
    const { memberId, request } = h.joinNew(G, 'c', { sessionTimeoutMs: 2_000_000_000 });
    const { generationId } = h.joinResult(request);
    h.sync(G, memberId, generationId);
    h.commit(G, memberId, generationId, { 't:0': 5 });
    h.advance(20 * DAY);
    h.apply(h.coordinator.expireOffsets(h.nowMs));
    expect(h.committed(G)).toEqual({ 't:0': 5 });
  });

  it('expires offsets-only groups per commit', () => {
    const h = new Harness();
    h.commit(G, '', -1, { 't:0': 1 });
    h.advance(4 * DAY);
    h.commit(G, '', -1, { 't:1': 2 });
    h.advance(3 * DAY);
    h.apply(h.coordinator.expireOffsets(h.nowMs));
    expect(h.committed(G)).toEqual({ 't:1': 2 });
  });
});

describe('append errors', () => {
  it.each([
    ['NOT_ENOUGH_REPLICAS', 'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_NOT_AVAILABLE'],
    ['NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_NOT_AVAILABLE'],
    ['REQUEST_TIMED_OUT', 'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_NOT_AVAILABLE'],
    ['UNKNOWN_TOPIC_OR_PARTITION', 'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_NOT_AVAILABLE'],
    ['NOT_LEADER_OR_FOLLOWER', 'NOT_COORDINATOR', 'NOT_COORDINATOR'],
    ['KAFKA_STORAGE_ERROR', 'NOT_COORDINATOR', 'NOT_COORDINATOR'],
    ['MESSAGE_TOO_LARGE', 'INVALID_COMMIT_OFFSET_SIZE', 'UNKNOWN_SERVER_ERROR'],
  ] as const)('maps %s to %s for offsets and %s for group metadata (Kafka)', (code, offsets, group) => {
    expect(appendErrorCode(code, true)).toBe(offsets);
    expect(appendErrorCode(code, false)).toBe(group);
  });

  it('answers NOT_COORDINATOR to a commit in flight when the partition is unloaded, and ignores its late acknowledgement', () => {
    const h = new Harness();
    h.holdAppends = true;
    const id = h.commit(G, '', -1, { 't:0': 1 });
    h.apply(h.coordinator.unload(0, h.nowMs));
    expect(h.outcome(id)).toBe('NOT_COORDINATOR');
    h.completeHeld();
    expect(h.coordinator.appendsInFlight).toBe(0);
  });
});
