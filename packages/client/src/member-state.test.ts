import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  TributaryError,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  type ErrorCode,
  type TopicPartition,
} from '@tributary/protocol';
import { MemberState, groupErrorAction, leaderAssignment, type MemberAction, type MemberConfig } from './member-state.ts';

const config: MemberConfig = {
  groupId: 'g',
  clientId: 'c',
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 60_000,
  assignors: ['cooperative-sticky', 'range'],
};
const tps = (...ps: number[]): TopicPartition[] => ps.map((partition) => ({ topic: 'demo', partition }));
const assignmentOf = (...ps: number[]) => encodeAssignment({ partitions: tps(...ps), userData: null });
const err = (code: ErrorCode, memberId?: string) => new TributaryError(code, `scripted ${code}`, memberId === undefined ? undefined : { memberId });

function expectKind<K extends MemberAction['kind']>(action: MemberAction, kind: K): Extract<MemberAction, { kind: K }> {
  expect(action.kind).toBe(kind);
  return action as Extract<MemberAction, { kind: K }>;
}

/** A member taken through a first rebalance as a follower, owning `owned` in generation 1. */
function stableMember(owned: number[], cfg: MemberConfig = config, protocolName = 'cooperative-sticky'): MemberState {
  const m = new MemberState(cfg);
  m.subscribe(['demo']);
  const join = expectKind(m.next(0), 'join');
  m.joinSucceeded(join.seq, { generationId: 1, protocolName, leader: 'other', memberId: 'me', members: [] });
  const sync = expectKind(m.next(0), 'sync');
  m.syncSucceeded(sync.seq, assignmentOf(...owned));
  expectKind(m.next(0), 'assign');
  expect(m.phase).toBe('stable');
  return m;
}

describe('groupErrorAction (what a member does about an error, as ConsumerCoordinator)', () => {
  it.each<[ErrorCode, string]>([
    ['MEMBER_ID_REQUIRED', 'join-with-new-id'],
    ['REBALANCE_IN_PROGRESS', 'rejoin'],
    ['ILLEGAL_GENERATION', 'reset-generation'],
    ['UNKNOWN_MEMBER_ID', 'reset-member'],
    ['FENCED_INSTANCE_ID', 'fatal'],
    ['INCONSISTENT_GROUP_PROTOCOL', 'fatal'],
    ['INVALID_SESSION_TIMEOUT', 'fatal'],
    ['GROUP_MAX_SIZE_REACHED', 'fatal'],
    ['INVALID_GROUP_ID', 'fatal'],
    ['UNAUTHORIZED', 'fatal'],
    ['NOT_COORDINATOR', 'retry'],
    ['COORDINATOR_NOT_AVAILABLE', 'retry'],
    ['COORDINATOR_LOAD_IN_PROGRESS', 'retry'],
    ['REQUEST_TIMED_OUT', 'retry'],
    ['BROKER_NOT_AVAILABLE', 'retry'],
  ])('%s → %s', (code, action) => {
    expect(groupErrorAction(code)).toBe(action);
  });
});

describe('MemberState: joining', () => {
  it('refuses no assignor, an unknown one or one named twice', () => {
    expect(() => new MemberState({ ...config, assignors: [] })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    expect(() => new MemberState({ ...config, assignors: ['sticky' as never] })).toThrow(/unknown assignor 'sticky'/);
    expect(() => new MemberState({ ...config, assignors: ['range', 'range'] })).toThrow(/named twice/);
  });

  it('does nothing before it subscribes; then joins with one protocol per assignor, each carrying its v3 Subscription', () => {
    const m = new MemberState({ ...config, rackId: 'rack-2' });
    expect(m.next(0)).toEqual({ kind: 'wait' });
    m.subscribe(['demo', 'b', 'demo']);
    const join = expectKind(m.next(0), 'join');
    expect(join.request).toMatchObject({
      groupId: 'g',
      memberId: '',
      clientId: 'c',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 60_000,
      protocolType: 'consumer',
    });
    expect(join.request.protocols.map((p) => p.name)).toEqual(['cooperative-sticky', 'range']);
    expect(decodeSubscription(join.request.protocols[0]!.metadata)).toEqual({
      version: 3,
      topics: ['b', 'demo'],
      userData: null,
      ownedPartitions: [],
      generationId: -1,
      rackId: 'rack-2',
    });
    // One network step at a time.
    expect(m.next(0)).toEqual({ kind: 'wait' });
  });

  it('joins again at once with the member id MEMBER_ID_REQUIRED hands out (KIP-394)', () => {
    const m = new MemberState(config);
    m.subscribe(['demo']);
    const first = expectKind(m.next(0), 'join');
    m.joinFailed(first.seq, err('MEMBER_ID_REQUIRED', 'c-123'), 0);
    const second = expectKind(m.next(0), 'join');
    expect(second.request.memberId).toBe('c-123');
  });

  it('a follower syncs with no assignments and takes what it is given; then heartbeats', () => {
    const m = stableMember([1, 3]);
    expect(m.owned).toEqual(tps(1, 3));
    expect(m.heartbeatRequest()).toEqual({ groupId: 'g', generationId: 1, memberId: 'me' });
    expect(m.next(0)).toEqual({ kind: 'wait' });
  });

  it('the leader fetches the subscribed topics’ partition counts, assigns every member and syncs with the plan', () => {
    const m = new MemberState(config);
    m.subscribe(['demo']);
    const join = expectKind(m.next(0), 'join');
    const sub = (topics: string[]) => encodeSubscription({ topics, userData: null, ownedPartitions: [], generationId: -1, rackId: null });
    m.joinSucceeded(join.seq, {
      generationId: 4,
      protocolName: 'range',
      leader: 'a',
      memberId: 'a',
      members: [
        { memberId: 'a', metadata: sub(['demo']) },
        { memberId: 'b', metadata: sub(['demo', 'other']) },
      ],
    });
    const meta = expectKind(m.next(0), 'metadata');
    expect(meta.topics).toEqual(['demo', 'other']);
    m.metadataReady(
      meta.seq,
      new Map([
        ['demo', 4],
        ['other', 1],
      ]),
    );
    const sync = expectKind(m.next(0), 'sync');
    expect(sync.request.generationId).toBe(4);
    expect(sync.request.assignments.map((a) => [a.memberId, decodeAssignment(a.assignment).partitions])).toEqual([
      ['a', tps(0, 1)],
      [
        'b',
        [
          { topic: 'demo', partition: 2 },
          { topic: 'demo', partition: 3 },
          { topic: 'other', partition: 0 },
        ],
      ],
    ]);
    m.syncSucceeded(sync.seq, sync.request.assignments[0]!.assignment);
    expect(expectKind(m.next(0), 'assign').partitions).toEqual(tps(0, 1));
  });

  it('a leader that cannot read the metadata gives the round up and joins again after a backoff', () => {
    const m = new MemberState(config);
    m.subscribe(['demo']);
    const join = expectKind(m.next(0), 'join');
    m.joinSucceeded(join.seq, { generationId: 1, protocolName: 'range', leader: 'me', memberId: 'me', members: [] });
    const meta = expectKind(m.next(0), 'metadata');
    m.metadataFailed(meta.seq, err('BROKER_NOT_AVAILABLE'), 1000);
    expect(m.next(1000)).toEqual({ kind: 'wait', untilMs: 1100 });
    expectKind(m.next(1100), 'join');
  });

  it('backs off on coordinator trouble GroupClient could not get past, doubling, and fails on what it cannot fix', () => {
    const m = new MemberState(config);
    m.subscribe(['demo']);
    let join = expectKind(m.next(0), 'join');
    m.joinFailed(join.seq, err('COORDINATOR_NOT_AVAILABLE'), 0);
    expect(m.next(50)).toEqual({ kind: 'wait', untilMs: 100 });
    join = expectKind(m.next(100), 'join');
    m.joinFailed(join.seq, err('REQUEST_TIMED_OUT'), 100);
    expect(m.next(100)).toEqual({ kind: 'wait', untilMs: 300 });
    join = expectKind(m.next(300), 'join');
    m.joinFailed(join.seq, err('INCONSISTENT_GROUP_PROTOCOL'), 300);
    const failed = expectKind(m.next(300), 'failed');
    expect(failed.error.code).toBe('INCONSISTENT_GROUP_PROTOCOL');
    expect(failed.error.message).toMatch(/consumer group g: join failed/);
  });

  it('ignores an answer to a step it no longer waits for', () => {
    const m = new MemberState(config);
    m.subscribe(['demo']);
    const join = expectKind(m.next(0), 'join');
    m.joinSucceeded(join.seq + 7, { generationId: 9, protocolName: 'range', leader: 'x', memberId: 'x', members: [] });
    expect(m.generationId).toBe(-1);
    expect(m.next(0)).toEqual({ kind: 'wait' });
  });
});

describe('MemberState: rebalancing', () => {
  it('cooperative (KIP-429): keeps its partitions through the join, revokes only what it lost after the sync, then rejoins for the hand-over', () => {
    const m = stableMember([0, 1, 2, 3, 4]);
    m.groupCallFailed({ generationId: 1, memberId: 'me' }, err('REBALANCE_IN_PROGRESS'), 0);
    const join = expectKind(m.next(0), 'join');
    // No revocation before the join; the Subscription names what it owns, and since when.
    expect(m.owned).toEqual(tps(0, 1, 2, 3, 4));
    const sub = decodeSubscription(join.request.protocols[0]!.metadata);
    expect(sub.ownedPartitions).toEqual(tps(0, 1, 2, 3, 4));
    expect(sub.generationId).toBe(1);
    m.joinSucceeded(join.seq, { generationId: 2, protocolName: 'cooperative-sticky', leader: 'other', memberId: 'me', members: [] });
    const sync = expectKind(m.next(0), 'sync');
    m.syncSucceeded(sync.seq, assignmentOf(0, 1, 2));
    const revoke = expectKind(m.next(0), 'revoke');
    expect(revoke).toMatchObject({ partitions: tps(3, 4), lost: false });
    m.revoked(revoke.partitions, false);
    expect(expectKind(m.next(0), 'assign').partitions).toEqual([]);
    expect(m.owned).toEqual(tps(0, 1, 2));
    // The follow-up rebalance, at once.
    expect(m.rejoinReason).toBe('revoked partitions to hand over');
    expectKind(m.next(0), 'join');
  });

  it('eager (the group chose range): revokes everything before it joins, and joins owning nothing', () => {
    const m = stableMember([0, 1], config, 'range');
    expect(m.rebalanceProtocol()).toBe('eager');
    m.requestRejoin('test');
    const revoke = expectKind(m.next(0), 'revoke');
    expect(revoke).toMatchObject({ partitions: tps(0, 1), lost: false, reason: 'rebalance (eager)' });
    m.revoked(revoke.partitions, false);
    const join = expectKind(m.next(0), 'join');
    expect(decodeSubscription(join.request.protocols[0]!.metadata)).toMatchObject({ ownedPartitions: [], generationId: -1 });
  });

  it('a consumer offering only range is eager from its first join', () => {
    expect(new MemberState({ ...config, assignors: ['range', 'cooperative-sticky'] }).rebalanceProtocol()).toBe('eager');
    expect(new MemberState(config).rebalanceProtocol()).toBe('cooperative');
  });

  it.each<[ErrorCode, string]>([
    ['UNKNOWN_MEMBER_ID', ''],
    ['ILLEGAL_GENERATION', 'me'],
  ])('%s from a heartbeat: its partitions are lost (nothing committed) and it joins again with member id %j', (code, memberId) => {
    const m = stableMember([2, 5]);
    m.groupCallFailed({ generationId: 1, memberId: 'me' }, err(code), 0);
    const lost = expectKind(m.next(0), 'revoke');
    expect(lost).toMatchObject({ partitions: tps(2, 5), lost: true });
    m.revoked(lost.partitions, true);
    const join = expectKind(m.next(0), 'join');
    expect(join.request.memberId).toBe(memberId);
    expect(decodeSubscription(join.request.protocols[0]!.metadata).ownedPartitions).toEqual([]);
  });

  it('ignores heartbeat and commit answers about another generation, and retriable ones', () => {
    const m = stableMember([1]);
    m.groupCallFailed({ generationId: 0, memberId: 'me' }, err('UNKNOWN_MEMBER_ID'), 0);
    m.groupCallFailed({ generationId: 1, memberId: 'someone' }, err('ILLEGAL_GENERATION'), 0);
    m.groupCallFailed({ generationId: 1, memberId: 'me' }, err('COORDINATOR_NOT_AVAILABLE'), 0);
    expect(m.next(0)).toEqual({ kind: 'wait' });
    expect(m.owned).toEqual(tps(1));
  });

  it('FENCED_INSTANCE_ID from a heartbeat is fatal (another instance took over, KIP-345)', () => {
    const m = stableMember([1]);
    m.groupCallFailed({ generationId: 1, memberId: 'me' }, err('FENCED_INSTANCE_ID'), 0);
    expect(expectKind(m.next(0), 'failed').error.code).toBe('FENCED_INSTANCE_ID');
  });

  it('a new subscription rejoins; a cooperative member first revokes the topics it dropped', () => {
    const m = new MemberState(config);
    m.subscribe(['demo', 'old']);
    const join = expectKind(m.next(0), 'join');
    m.joinSucceeded(join.seq, { generationId: 1, protocolName: 'cooperative-sticky', leader: 'x', memberId: 'me', members: [] });
    const sync = expectKind(m.next(0), 'sync');
    m.syncSucceeded(
      sync.seq,
      encodeAssignment({
        partitions: [
          { topic: 'demo', partition: 0 },
          { topic: 'old', partition: 0 },
        ],
        userData: null,
      }),
    );
    expectKind(m.next(0), 'assign');
    m.subscribe(['demo']);
    const revoke = expectKind(m.next(0), 'revoke');
    expect(revoke).toMatchObject({ partitions: [{ topic: 'old', partition: 0 }], reason: 'no longer subscribed' });
    m.revoked(revoke.partitions, false);
    expect(decodeSubscription(expectKind(m.next(0), 'join').request.protocols[0]!.metadata)).toMatchObject({ topics: ['demo'], ownedPartitions: tps(0) });
  });

  it('the leader rejoins when a subscribed topic’s partition count changes (Kafka’s metadata snapshot); followers do not', () => {
    const m = new MemberState(config);
    m.subscribe(['demo']);
    const join = expectKind(m.next(0), 'join');
    m.joinSucceeded(join.seq, {
      generationId: 1,
      protocolName: 'cooperative-sticky',
      leader: 'me',
      memberId: 'me',
      members: [{ memberId: 'me', metadata: encodeSubscription({ topics: ['demo'], userData: null, ownedPartitions: [], generationId: -1, rackId: null }) }],
    });
    const meta = expectKind(m.next(0), 'metadata');
    m.metadataReady(meta.seq, new Map([['demo', 2]]));
    const sync = expectKind(m.next(0), 'sync');
    m.syncSucceeded(sync.seq, sync.request.assignments[0]!.assignment);
    expectKind(m.next(0), 'assign');
    m.metadataChanged(new Map([['demo', 2]]));
    expect(m.rejoinReason).toBeUndefined();
    m.metadataChanged(new Map([['demo', 3]]));
    expect(m.rejoinReason).toBe('partitions of demo changed from 2 to 3');
    const follower = stableMember([0]);
    follower.metadataChanged(new Map([['demo', 3]]));
    expect(follower.rejoinReason).toBeUndefined();
  });
});

describe('MemberState: leaving', () => {
  it('close: revokes (committing) what it owns, then LeaveGroup, then done', () => {
    const m = stableMember([0, 1]);
    m.close();
    const revoke = expectKind(m.next(0), 'revoke');
    expect(revoke).toMatchObject({ partitions: tps(0, 1), lost: false, reason: 'closing' });
    m.revoked(revoke.partitions, false);
    const leave = expectKind(m.next(0), 'leave');
    expect(leave.request).toEqual({ groupId: 'g', members: [{ memberId: 'me' }] });
    expect(m.next(0)).toEqual({ kind: 'wait' });
    m.left(leave.seq);
    expect(m.next(0)).toEqual({ kind: 'done' });
    expect(m.heartbeatRequest()).toBeUndefined();
  });

  it('close while a join is parked does not wait for it: it leaves with its member id, and the late answer changes nothing', () => {
    const m = new MemberState(config);
    m.subscribe(['demo']);
    const first = expectKind(m.next(0), 'join');
    m.joinFailed(first.seq, err('MEMBER_ID_REQUIRED', 'c-1'), 0);
    const join = expectKind(m.next(0), 'join');
    m.close();
    const leave = expectKind(m.next(0), 'leave');
    expect(leave.request.members).toEqual([{ memberId: 'c-1' }]);
    m.joinSucceeded(join.seq, { generationId: 3, protocolName: 'range', leader: 'c-1', memberId: 'c-1', members: [] });
    expect(m.generationId).toBe(-1);
    m.left(leave.seq);
    expect(m.next(0)).toEqual({ kind: 'done' });
  });

  it('close before ever joining is done at once', () => {
    const m = new MemberState(config);
    m.close();
    expect(m.next(0)).toEqual({ kind: 'done' });
  });

  it('KIP-62: not polled within max.poll.interval.ms, it leaves and loses its partitions, and joins again only when polled', () => {
    const m = stableMember([4]);
    expect(m.pollTimeoutExpired()).toEqual({ groupId: 'g', members: [{ memberId: 'me' }] });
    expect(m.pollTimeoutExpired()).toBeUndefined();
    const lost = expectKind(m.next(0), 'revoke');
    expect(lost).toMatchObject({ partitions: tps(4), lost: true });
    m.revoked(lost.partitions, true);
    expect(m.next(0)).toEqual({ kind: 'wait' });
    m.polled();
    expect(expectKind(m.next(0), 'join').request.memberId).toBe('');
  });
});

describe('leaderAssignment', () => {
  const sub = (topics: string[], owned: TopicPartition[] = [], generationId = -1) =>
    encodeSubscription({ topics, userData: null, ownedPartitions: owned, generationId, rackId: null });

  it('holds back, for any assignor, a partition another member still owns; a member with unreadable metadata gets nothing', () => {
    const { plan, withheld } = leaderAssignment(
      'range',
      [
        { memberId: 'a', metadata: sub(['demo']) },
        { memberId: 'b', metadata: sub(['demo'], tps(0, 1), 3) },
        { memberId: 'z', metadata: Buffer.from('garbage') },
      ],
      new Map([['demo', 4]]),
    );
    // range gives a demo-0, demo-1 (owned by b: held back), b demo-2, demo-3.
    expect(Object.fromEntries(plan)).toEqual({ a: [], b: tps(2, 3), z: [] });
    expect(withheld).toEqual(tps(0, 1));
  });

  it('refuses an assignor it does not have', () => {
    expect(() => leaderAssignment('sticky', [], new Map())).toThrow(expect.objectContaining({ code: 'INCONSISTENT_GROUP_PROTOCOL' }));
  });
});

describe('MemberState: any sequence of answers (property)', () => {
  /** Random answers to whatever the member asks, and random events between. */
  const event = fc.oneof(
    fc.record({
      kind: fc.constant('answer' as const),
      ok: fc.boolean(),
      code: fc.constantFrom<ErrorCode>('REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'NOT_COORDINATOR', 'MEMBER_ID_REQUIRED'),
      parts: fc.subarray([0, 1, 2, 3, 4, 5]),
    }),
    fc.record({
      kind: fc.constant('heartbeat' as const),
      code: fc.constantFrom<ErrorCode>('REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'COORDINATOR_NOT_AVAILABLE'),
    }),
    fc.record({ kind: fc.constant('poll-timeout' as const) }),
    fc.record({ kind: fc.constant('polled' as const) }),
    fc.record({ kind: fc.constant('close' as const) }),
  );

  it('never owns a partition twice, only revokes what it owns or lost, never has two steps out, and after close ends in done', () => {
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 60 }),
        fc.constantFrom<MemberConfig['assignors']>(['cooperative-sticky', 'range'], ['range']),
        (events, assignors) => {
          const m = new MemberState({ ...config, assignors });
          m.subscribe(['demo']);
          let now = 0;
          let pending: MemberAction | undefined;
          const lost = new Set<number>();
          const drive = () => {
            for (let i = 0; i < 20; i++) {
              const a = m.next(now);
              if (a.kind === 'wait') {
                if (a.untilMs !== undefined) now = a.untilMs;
                return;
              }
              if (a.kind === 'done' || a.kind === 'failed') return;
              if (a.kind === 'revoke') {
                for (const tp of a.partitions) {
                  if (a.lost) expect(lost.has(tp.partition)).toBe(true);
                  else expect(m.owned.some((o) => o.partition === tp.partition)).toBe(true);
                }
                m.revoked(a.partitions, a.lost);
                for (const tp of a.partitions) lost.delete(tp.partition);
                continue;
              }
              if (a.kind === 'assign') continue;
              expect(pending).toBeUndefined();
              pending = a;
              return;
            }
          };
          for (const e of events) {
            drive();
            if (e.kind === 'answer' && pending !== undefined) {
              const p = pending;
              pending = undefined;
              const failure = e.code === 'MEMBER_ID_REQUIRED' ? err(e.code, 'id-1') : err(e.code);
              if (p.kind === 'join') {
                if (e.ok)
                  m.joinSucceeded(p.seq, {
                    generationId: m.generationId + 1,
                    protocolName: assignors[0]!,
                    leader: 'other',
                    memberId: m.memberId || 'id-1',
                    members: [],
                  });
                else m.joinFailed(p.seq, failure, now);
              } else if (p.kind === 'sync') {
                if (e.ok) m.syncSucceeded(p.seq, assignmentOf(...e.parts));
                else m.syncFailed(p.seq, failure, now);
              } else if (p.kind === 'leave') {
                m.left(p.seq);
              }
            } else if (e.kind === 'heartbeat') {
              const owned = m.owned.map((o) => o.partition);
              m.groupCallFailed({ generationId: m.generationId, memberId: m.memberId }, err(e.code), now);
              if (e.code === 'UNKNOWN_MEMBER_ID' || e.code === 'ILLEGAL_GENERATION') for (const p of owned) if (m.owned.length === 0) lost.add(p);
            } else if (e.kind === 'poll-timeout') {
              const owned = m.owned.map((o) => o.partition);
              if (m.pollTimeoutExpired() !== undefined) for (const p of owned) lost.add(p);
              if (pending?.kind !== 'leave') pending = undefined;
            } else if (e.kind === 'polled') {
              m.polled();
            } else if (e.kind === 'close') {
              m.close();
              if (pending?.kind !== 'leave') pending = undefined;
            }
            expect(new Set(m.owned.map((o) => o.partition)).size).toBe(m.owned.length);
          }
          m.close();
          if (pending?.kind !== 'leave') pending = undefined;
          for (let i = 0; i < 10; i++) {
            drive();
            if (pending?.kind === 'leave') {
              m.left(pending.seq);
              pending = undefined;
            }
          }
          const end = m.next(now);
          expect(['done', 'failed']).toContain(end.kind);
          if (end.kind === 'done') expect(m.owned).toEqual([]);
        },
      ),
    );
  });
});
