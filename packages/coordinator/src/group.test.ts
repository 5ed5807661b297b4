import { describe, expect, it } from 'vitest';
import { Harness, protocols } from './internal/test-support.ts';

const G = 'g';

/** A Stable group of the given clients (joined one by one, each rebalance completed and synced). */
function stableGroup(h: Harness, clients: string[], options: Parameters<Harness['join']>[2] = {}): { members: string[]; generationId: number; leader: string } {
  const members: string[] = [];
  for (const clientId of clients) {
    const { memberId, request } = h.joinNew(G, clientId, options);
    members.push(memberId);
    // The others rejoin the rebalance the newcomer started.
    const rejoins = members.slice(0, -1).map((m) => h.join(G, m, options));
    const all = [...rejoins, request];
    const results = all.map((r) => h.joinResult(r));
    const { generationId, leader } = results[0]!;
    const syncs = members.map((m) => h.sync(G, m, generationId, m === leader ? Object.fromEntries(members.map((x) => [x, `assignment-of-${x}`])) : {}));
    for (const s of syncs) expect(h.outcome(s)).toBe('ok');
  }
  const group = h.coordinator.group(G)!;
  return { members, generationId: group.generationId, leader: group.leaderId! };
}

describe('JoinGroup', () => {
  it('answers a first join without member id MEMBER_ID_REQUIRED with a new id, and takes the join with it (KIP-394)', () => {
    const h = new Harness();
    const first = h.join(G, '', { clientId: 'c1' });
    const err = h.errorOf(first, 'MEMBER_ID_REQUIRED');
    expect(err.memberId).toBe('c1-uuid1');
    expect(h.coordinator.group(G)!.pendingMembers.has('c1-uuid1')).toBe(true);
    expect(h.coordinator.group(G)!.size).toBe(0);

    const second = h.join(G, 'c1-uuid1', { clientId: 'c1' });
    const result = h.joinResult(second);
    expect(result).toMatchObject({ generationId: 1, protocolName: 'range', leader: 'c1-uuid1', memberId: 'c1-uuid1' });
    expect(result.members).toEqual([{ memberId: 'c1-uuid1', metadata: Buffer.from('range-meta') }]);
    expect(h.coordinator.group(G)!.state).toBe('CompletingRebalance');
  });

  it('hands the member list to the leader only, and the same generation to everyone', () => {
    const h = new Harness({ groupInitialRebalanceDelayMs: 3000 });
    const a = h.joinNew(G, 'a');
    const b = h.joinNew(G, 'b');
    const c = h.joinNew(G, 'c');
    // The initial rebalance delay holds the first generation for more members.
    expect([a.request, b.request, c.request].map((r) => h.outcome(r))).toEqual(['waiting', 'waiting', 'waiting']);
    h.advance(3000);
    // b and c arrived during the first delay: another one starts (Kafka's InitialDelayedJoin).
    expect(h.outcome(a.request)).toBe('waiting');
    h.advance(3000);
    const results = [a, b, c].map((x) => h.joinResult(x.request));
    expect(new Set(results.map((r) => r.generationId))).toEqual(new Set([1]));
    expect(new Set(results.map((r) => r.leader))).toEqual(new Set([a.memberId]));
    expect(results[0]!.members.map((m) => m.memberId)).toEqual([a.memberId, b.memberId, c.memberId]);
    expect(results[1]!.members).toEqual([]);
    expect(results[2]!.members).toEqual([]);
  });

  it('extends the initial rebalance delay for each member that arrives, up to the rebalance timeout', () => {
    const h = new Harness({ groupInitialRebalanceDelayMs: 3000 });
    const a = h.joinNew(G, 'a', { rebalanceTimeoutMs: 7000 });
    h.advance(2000);
    const b = h.joinNew(G, 'b', { rebalanceTimeoutMs: 7000 });
    h.advance(1000); // the first delay ends: b arrived, so another one starts
    expect(h.outcome(a.request)).toBe('waiting');
    h.advance(2000);
    const c = h.joinNew(G, 'c', { rebalanceTimeoutMs: 7000 });
    h.advance(1000); // the second delay ends: c arrived, 1000 ms of the budget remain
    expect(h.outcome(a.request)).toBe('waiting');
    h.advance(1000);
    expect(h.joinResult(a.request).members).toHaveLength(3);
    expect(h.joinResult(b.request).generationId).toBe(1);
    expect(h.joinResult(c.request).generationId).toBe(1);
  });

  it.each([
    { name: 'another protocol type', join: { protocolType: 'connect' }, code: 'INCONSISTENT_GROUP_PROTOCOL' },
    { name: 'no protocol in common', join: { protocols: protocols('sticky') }, code: 'INCONSISTENT_GROUP_PROTOCOL' },
    { name: 'a session timeout below group.min.session.timeout.ms', join: { sessionTimeoutMs: 5999 }, code: 'INVALID_SESSION_TIMEOUT' },
    { name: 'a session timeout above group.max.session.timeout.ms', join: { sessionTimeoutMs: 1_800_001 }, code: 'INVALID_SESSION_TIMEOUT' },
  ] as const)('refuses a member with $name ($code) and changes nothing', ({ join, code }) => {
    const h = new Harness();
    const { members, generationId } = stableGroup(h, ['a']);
    const id = h.join(G, '', { clientId: 'b', ...join });
    expect(h.outcome(id)).toBe(code);
    const group = h.coordinator.group(G)!;
    expect(group.state).toBe('Stable');
    expect([...group.members.keys()]).toEqual(members);
    expect(group.generationId).toBe(generationId);
    expect(group.pendingMembers.size).toBe(0);
  });

  it.each([
    { groupId: '', code: 'INVALID_GROUP_ID' },
    { groupId: 'x'.repeat(256), code: 'INVALID_GROUP_ID' },
  ] as const)('refuses group id of $groupId.length characters with $code', ({ groupId, code }) => {
    const h = new Harness();
    expect(h.outcome(h.join(groupId, ''))).toBe(code);
    expect(h.coordinator.group(groupId)).toBeUndefined();
  });

  it('answers UNKNOWN_MEMBER_ID to a member id the group does not know, or of a group that does not exist', () => {
    const h = new Harness();
    expect(h.outcome(h.join(G, 'ghost'))).toBe('UNKNOWN_MEMBER_ID');
    expect(h.coordinator.group(G)).toBeUndefined();
    stableGroup(h, ['a']);
    expect(h.outcome(h.join(G, 'ghost'))).toBe('UNKNOWN_MEMBER_ID');
  });

  it('gives a follower that rejoins a Stable group with unchanged metadata the current generation, without a rebalance', () => {
    const h = new Harness();
    const { members, generationId, leader } = stableGroup(h, ['a', 'b']);
    const follower = members.find((m) => m !== leader)!;
    const r = h.joinResult(h.join(G, follower));
    expect(r).toMatchObject({ generationId, leader, memberId: follower, members: [] });
    expect(h.coordinator.group(G)!.state).toBe('Stable');
  });

  it('rebalances when the leader rejoins a Stable group, or a member changes its metadata', () => {
    const h = new Harness();
    const { members, generationId, leader } = stableGroup(h, ['a', 'b']);
    const follower = members.find((m) => m !== leader)!;
    const first = h.join(G, follower, { protocols: [{ name: 'range', metadata: Buffer.from('new topics') }] });
    expect(h.outcome(first)).toBe('waiting');
    expect(h.coordinator.group(G)!.state).toBe('PreparingRebalance');
    const second = h.join(G, leader);
    expect(h.joinResult(second).generationId).toBe(generationId + 1);
    expect(h.joinResult(first).generationId).toBe(generationId + 1);

    const h2 = new Harness();
    const s = stableGroup(h2, ['a', 'b']);
    h2.join(G, s.leader);
    expect(h2.coordinator.group(G)!.state).toBe('PreparingRebalance');
  });

  it('answers a later JoinGroup of the same member and parks the new one (the old one is superseded)', () => {
    const h = new Harness();
    const { members } = stableGroup(h, ['a', 'b']);
    const j1 = h.join(G, members[0]!, { protocols: [{ name: 'range', metadata: Buffer.from('v2') }] });
    const j2 = h.join(G, members[0]!, { protocols: [{ name: 'range', metadata: Buffer.from('v2') }] });
    expect(h.outcome(j1)).toBe('REBALANCE_IN_PROGRESS');
    expect(h.outcome(j2)).toBe('waiting');
    h.join(G, members[1]!);
    expect(h.outcome(j2)).toBe('ok');
  });

  it('selects the protocol most members prefer among those every member supports', () => {
    const h = new Harness({ groupInitialRebalanceDelayMs: 1000 });
    const a = h.joinNew(G, 'a', { protocols: protocols('range', 'roundrobin', 'sticky') });
    const b = h.joinNew(G, 'b', { protocols: protocols('roundrobin', 'range') });
    const c = h.joinNew(G, 'c', { protocols: protocols('sticky', 'roundrobin', 'range') });
    h.advance(2000);
    // Candidates: range and roundrobin (sticky is not b's). Votes: a range, b roundrobin, c roundrobin.
    expect(h.joinResult(a.request).protocolName).toBe('roundrobin');
    expect(h.joinResult(a.request).members.map((m) => m.metadata.toString())).toEqual(['roundrobin-meta', 'roundrobin-meta', 'roundrobin-meta']);
    expect(h.joinResult(b.request).protocolName).toBe('roundrobin');
    expect(h.joinResult(c.request).protocolName).toBe('roundrobin');
  });

  it('refuses a new member past group.max.size', () => {
    const h = new Harness({ groupMaxSize: 2 });
    stableGroup(h, ['a', 'b']);
    const id = h.join(G, '', { clientId: 'c' });
    expect(h.outcome(id)).toBe('GROUP_MAX_SIZE_REACHED');
    expect(h.coordinator.group(G)!.state).toBe('Stable');
  });
});

describe('rebalances', () => {
  it('lets a member join during CompletingRebalance: the waiting syncs are answered REBALANCE_IN_PROGRESS and a new generation follows', () => {
    const h = new Harness();
    const a = h.joinNew(G, 'a');
    const gen1 = h.joinResult(a.request).generationId;
    // a (follower of nothing: it is the leader) has not synced yet; b arrives.
    const b = h.joinNew(G, 'b');
    expect(h.coordinator.group(G)!.state).toBe('PreparingRebalance');
    const lateSync = h.sync(G, a.memberId, gen1, { [a.memberId]: 'x' });
    expect(h.outcome(lateSync)).toBe('REBALANCE_IN_PROGRESS');
    const rejoin = h.join(G, a.memberId);
    expect(h.joinResult(rejoin).generationId).toBe(gen1 + 1);
    expect(h.joinResult(b.request).generationId).toBe(gen1 + 1);
  });

  it('answers followers that synced before the leader once the leader sync is committed', () => {
    const h = new Harness();
    const { members, generationId, leader } = stableGroup(h, ['a', 'b', 'c']);
    const followers = members.filter((m) => m !== leader);
    // Start a new generation: the leader rejoins, everyone follows.
    const joins = [leader, ...followers].map((m) => h.join(G, m));
    const gen = h.joinResult(joins[0]!).generationId;
    expect(gen).toBe(generationId + 1);
    const followerSyncs = followers.map((m) => h.sync(G, m, gen));
    expect(followerSyncs.map((s) => h.outcome(s))).toEqual(['waiting', 'waiting']);
    h.holdAppends = true;
    const leaderSync = h.sync(G, leader, gen, { [followers[0]!]: 'p0,p1', [leader]: 'p2' });
    // Not before the assignment is committed on __consumer_offsets.
    expect(h.outcome(leaderSync)).toBe('waiting');
    expect(h.coordinator.group(G)!.state).toBe('CompletingRebalance');
    h.completeHeld();
    expect(h.valueOf<{ assignment: Buffer }>(leaderSync).assignment.toString()).toBe('p2');
    expect(h.valueOf<{ assignment: Buffer }>(followerSyncs[0]!).assignment.toString()).toBe('p0,p1');
    // A member the leader left out gets an empty assignment.
    expect(h.valueOf<{ assignment: Buffer }>(followerSyncs[1]!).assignment.length).toBe(0);
    expect(h.coordinator.group(G)!.state).toBe('Stable');
  });

  it('propagates a failed assignment write to every waiting member and rebalances', () => {
    const h = new Harness();
    const a = h.joinNew(G, 'a');
    const b = h.joinNew(G, 'b');
    h.join(G, a.memberId);
    const gen = h.joinResult(b.request).generationId;
    h.holdAppends = true;
    const sb = h.sync(G, b.memberId, gen);
    const sa = h.sync(G, a.memberId, gen, { [a.memberId]: 'x', [b.memberId]: 'y' });
    h.completeHeld('NOT_ENOUGH_REPLICAS');
    expect(h.outcome(sa)).toBe('COORDINATOR_NOT_AVAILABLE');
    expect(h.outcome(sb)).toBe('COORDINATOR_NOT_AVAILABLE');
    expect(h.coordinator.group(G)!.state).toBe('PreparingRebalance');
  });

  it('elects a new leader when the leader leaves', () => {
    const h = new Harness();
    const { members, generationId, leader } = stableGroup(h, ['a', 'b', 'c']);
    const others = members.filter((m) => m !== leader);
    const left = h.leave(G, [{ memberId: leader }]);
    expect(h.valueOf<{ members: unknown[] }>(left).members).toEqual([{ memberId: leader }]);
    expect(h.coordinator.group(G)!.state).toBe('PreparingRebalance');
    const joins = others.map((m) => h.join(G, m));
    const r = h.joinResult(joins[0]!);
    expect(r.generationId).toBe(generationId + 1);
    expect(others).toContain(r.leader);
    expect(h.joinResult(joins[1]!).leader).toBe(r.leader);
    expect(r.leader === others[0] ? r.members : h.joinResult(joins[1]!).members).toHaveLength(2);
  });

  it('elects a leader among the members that rejoined when the leader does not rejoin before the rebalance timeout', () => {
    const h = new Harness();
    const { members, generationId, leader } = stableGroup(h, ['a', 'b', 'c'], { rebalanceTimeoutMs: 20_000 });
    const others = members.filter((m) => m !== leader);
    // A follower changes its metadata: a rebalance starts; the leader keeps heartbeating but never rejoins.
    const j1 = h.join(G, others[0]!, { protocols: [{ name: 'range', metadata: Buffer.from('more') }], rebalanceTimeoutMs: 20_000 });
    const j2 = h.join(G, others[1]!, { rebalanceTimeoutMs: 20_000 });
    // The leader keeps heartbeating (told to rejoin each time) but never rejoins.
    for (let t = 0; t < 18_000; t += 3000) {
      expect(h.outcome(h.heartbeat(G, leader, generationId))).toBe('REBALANCE_IN_PROGRESS');
      h.advance(3000);
    }
    h.advance(1999);
    expect(h.outcome(j1)).toBe('waiting');
    h.advance(1);
    const r = h.joinResult(j1);
    expect(r.generationId).toBe(generationId + 1);
    expect(r.leader).toBe(others[0]);
    expect(r.members.map((m) => m.memberId)).toEqual(others);
    expect(h.joinResult(j2).leader).toBe(others[0]);
    expect(h.coordinator.group(G)!.members.has(leader)).toBe(false);
    // The dropped leader learns it on its next heartbeat.
    expect(h.outcome(h.heartbeat(G, leader, generationId))).toBe('UNKNOWN_MEMBER_ID');
  });

  it('expires a member whose heartbeats stop, and rebalances the others', () => {
    const h = new Harness();
    const { members, generationId } = stableGroup(h, ['a', 'b'], { sessionTimeoutMs: 10_000 });
    const [a, b] = members as [string, string];
    for (let i = 0; i < 3; i++) {
      h.advance(3000);
      expect(h.outcome(h.heartbeat(G, a, generationId))).toBe('ok');
    }
    expect(h.coordinator.group(G)!.members.has(b)).toBe(true);
    h.advance(1000);
    // b's last sign of life was its sync, 10 s ago.
    expect(h.coordinator.group(G)!.members.has(b)).toBe(false);
    expect(h.outcome(h.heartbeat(G, a, generationId))).toBe('REBALANCE_IN_PROGRESS');
    expect(h.joinResult(h.join(G, a)).generationId).toBe(generationId + 1);
  });

  it('becomes Empty (and stores that) when its last member expires', () => {
    const h = new Harness();
    const { generationId } = stableGroup(h, ['a'], { sessionTimeoutMs: 10_000 });
    h.advance(10_000);
    const group = h.coordinator.group(G)!;
    expect(group.state).toBe('Empty');
    expect(group.generationId).toBe(generationId + 1);
    const reloaded = h.failover().group(G)!;
    expect(reloaded.state).toBe('Empty');
    expect(reloaded.generationId).toBe(generationId + 1);
  });

  it('drops a member that does not send its SyncGroup within the rebalance timeout', () => {
    const h = new Harness();
    const a = h.joinNew(G, 'a', { rebalanceTimeoutMs: 15_000, sessionTimeoutMs: 60_000 });
    const b = h.joinNew(G, 'b', { rebalanceTimeoutMs: 15_000, sessionTimeoutMs: 60_000 });
    h.join(G, a.memberId, { rebalanceTimeoutMs: 15_000, sessionTimeoutMs: 60_000 });
    const gen = h.joinResult(b.request).generationId;
    const leader = h.joinResult(b.request).leader;
    const other = leader === a.memberId ? b.memberId : a.memberId;
    h.sync(G, leader, gen, {});
    // The other member never syncs.
    h.advance(15_000);
    expect(h.coordinator.group(G)!.members.has(other)).toBe(false);
    expect(h.coordinator.group(G)!.state).toBe('PreparingRebalance');
  });

  it('drops a new member whose pending id is never used, after its session timeout', () => {
    const h = new Harness();
    stableGroup(h, ['a'], { sessionTimeoutMs: 30_000 });
    h.join(G, '', { clientId: 'b', sessionTimeoutMs: 10_000 });
    expect(h.coordinator.group(G)!.pendingMembers.size).toBe(1);
    h.advance(10_000);
    expect(h.coordinator.group(G)!.pendingMembers.size).toBe(0);
    expect(h.coordinator.group(G)!.state).toBe('Stable');
  });

  it('keeps a member that waits in its join past its session timeout (the rebalance timeout bounds the wait)', () => {
    const h = new Harness();
    const { members, generationId } = stableGroup(h, ['a', 'b'], { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 60_000 });
    const ja = h.join(G, members[0]!, { protocols: [{ name: 'range', metadata: Buffer.from('x') }], sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 60_000 });
    // b keeps heartbeating for a while, then rejoins after 30 s: a waited 30 s in its join.
    for (let t = 0; t < 30_000; t += 5000) {
      h.advance(5000);
      h.heartbeat(G, members[1]!, generationId);
    }
    const jb = h.join(G, members[1]!, { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 60_000 });
    expect(h.joinResult(ja).generationId).toBe(generationId + 1);
    expect(h.joinResult(jb).generationId).toBe(generationId + 1);
    expect(h.coordinator.group(G)!.members.size).toBe(2);
  });
});

describe('SyncGroup and Heartbeat errors', () => {
  it.each([
    { name: 'an unknown member', member: 'ghost', gen: 0, code: 'UNKNOWN_MEMBER_ID' },
    { name: 'an old generation', member: 'a', gen: -1, code: 'ILLEGAL_GENERATION' },
    { name: 'a future generation', member: 'a', gen: 1, code: 'ILLEGAL_GENERATION' },
  ] as const)('sync and heartbeat answer $name with $code', ({ member, gen, code }) => {
    const h = new Harness();
    const { members, generationId } = stableGroup(h, ['a']);
    const id = member === 'a' ? members[0]! : member;
    expect(h.outcome(h.heartbeat(G, id, generationId + gen))).toBe(code);
    expect(h.outcome(h.sync(G, id, generationId + gen))).toBe(code);
  });

  it.each([
    { state: 'PreparingRebalance', heartbeat: 'REBALANCE_IN_PROGRESS', sync: 'REBALANCE_IN_PROGRESS' },
    { state: 'CompletingRebalance', heartbeat: 'ok', sync: 'waiting' },
    { state: 'Stable', heartbeat: 'ok', sync: 'ok' },
  ] as const)('in $state a member of the generation gets heartbeat $heartbeat, sync $sync', ({ state, heartbeat, sync }) => {
    const h = new Harness();
    const { members, generationId, leader } = stableGroup(h, ['a', 'b']);
    const follower = members.find((m) => m !== leader)!;
    let gen = generationId;
    if (state === 'PreparingRebalance') h.join(G, leader);
    if (state === 'CompletingRebalance') {
      h.join(G, leader);
      gen = h.joinResult(h.join(G, follower)).generationId;
    }
    expect(h.coordinator.group(G)!.state).toBe(state);
    expect(h.outcome(h.heartbeat(G, follower, gen))).toBe(heartbeat);
    expect(h.outcome(h.sync(G, follower, gen))).toBe(sync);
  });

  it('answers NOT_COORDINATOR for a group of a partition this broker does not lead, COORDINATOR_LOAD_IN_PROGRESS while it loads', () => {
    const h = new Harness({}, 2);
    // 'a' hashes to partition 97 % 2 = 1, 'b' to 98 % 2 = 0.
    h.apply(h.coordinator.unload(1, h.nowMs));
    expect(h.outcome(h.join('a', ''))).toBe('NOT_COORDINATOR');
    expect(h.outcome(h.heartbeat('a', 'x', 1))).toBe('NOT_COORDINATOR');
    h.apply(h.coordinator.beginLoad(1, 3, h.nowMs));
    expect(h.outcome(h.join('a', ''))).toBe('COORDINATOR_LOAD_IN_PROGRESS');
    expect(h.outcome(h.commit('a', '', -1, { 't:0': 1 }))).toBe('COORDINATOR_LOAD_IN_PROGRESS');
    expect(h.outcome(h.join('b', ''))).toBe('MEMBER_ID_REQUIRED');
    h.apply(h.coordinator.completeLoad(1, 3, h.nowMs));
    expect(h.outcome(h.join('a', ''))).toBe('MEMBER_ID_REQUIRED');
  });

  it('answers parked joins and syncs NOT_COORDINATOR when the partition leaves this broker', () => {
    const h = new Harness();
    const { members, leader } = stableGroup(h, ['a', 'b']);
    const follower = members.find((m) => m !== leader)!;
    const j = h.join(G, leader);
    h.apply(h.coordinator.unload(0, h.nowMs));
    expect(h.outcome(j)).toBe('NOT_COORDINATOR');
    expect(h.coordinator.group(G)).toBeUndefined();
    expect(h.outcome(h.heartbeat(G, follower, 1))).toBe('NOT_COORDINATOR');
  });
});

describe('LeaveGroup', () => {
  it('answers each member on its own; a pending member can leave; an unknown one gets UNKNOWN_MEMBER_ID', () => {
    const h = new Harness();
    const { members } = stableGroup(h, ['a', 'b']);
    const pending = h.errorOf(h.join(G, '', { clientId: 'c' }), 'MEMBER_ID_REQUIRED').memberId!;
    const id = h.leave(G, [{ memberId: members[0]! }, { memberId: 'ghost' }, { memberId: pending }]);
    const answer = h.valueOf<{ members: { memberId: string; error?: { code: string } }[] }>(id).members;
    expect(answer.map((m) => [m.memberId, m.error?.code])).toEqual([
      [members[0], undefined],
      ['ghost', 'UNKNOWN_MEMBER_ID'],
      [pending, undefined],
    ]);
    expect(h.coordinator.group(G)!.pendingMembers.size).toBe(0);
  });

  it('answers a leaving member parked join UNKNOWN_MEMBER_ID', () => {
    const h = new Harness();
    const { members } = stableGroup(h, ['a', 'b']);
    const j = h.join(G, members[0]!, { protocols: [{ name: 'range', metadata: Buffer.from('z') }] });
    h.leave(G, [{ memberId: members[0]! }]);
    expect(h.outcome(j)).toBe('UNKNOWN_MEMBER_ID');
  });
});

describe('cooperative rebalancing (KIP-429): what the coordinator must allow', () => {
  it('takes commits of the current generation during PreparingRebalance, refuses them during CompletingRebalance', () => {
    const h = new Harness();
    const { members, generationId, leader } = stableGroup(h, ['a', 'b']);
    const follower = members.find((m) => m !== leader)!;
    h.join(G, leader);
    expect(h.coordinator.group(G)!.state).toBe('PreparingRebalance');
    // A cooperative member keeps consuming its partitions through the rebalance and commits them.
    expect(h.outcome(h.commit(G, follower, generationId, { 't:0': 42 }))).toBe('ok');
    expect(h.committed(G)).toEqual({ 't:0': 42 });
    const gen = h.joinResult(h.join(G, follower)).generationId;
    expect(h.outcome(h.commit(G, follower, gen, { 't:0': 43 }))).toBe('REBALANCE_IN_PROGRESS');
    expect(h.outcome(h.commit(G, follower, generationId, { 't:0': 43 }))).toBe('ILLEGAL_GENERATION');
  });

  it('lets a member rejoin right after its sync with new metadata (its owned partitions), starting the follow-up rebalance', () => {
    const h = new Harness();
    const { members, generationId, leader } = stableGroup(h, ['a', 'b']);
    const follower = members.find((m) => m !== leader)!;
    // The leader's assignment revoked a partition from the follower; it rejoins at once.
    const j = h.join(G, follower, { protocols: [{ name: 'range', metadata: Buffer.from('owned: t-1') }] });
    expect(h.coordinator.group(G)!.state).toBe('PreparingRebalance');
    const jl = h.join(G, leader);
    const r = h.joinResult(jl);
    expect(r.generationId).toBe(generationId + 1);
    // The leader sees the follower's owned partitions in its metadata, opaque to the coordinator.
    expect(r.members.find((m) => m.memberId === follower)!.metadata.toString()).toBe('owned: t-1');
    expect(h.outcome(j)).toBe('ok');
  });
});

describe('static membership (KIP-345)', () => {
  it('replaces a restarted static member without a rebalance and fences the old member id', () => {
    const h = new Harness();
    const { members, generationId, leader } = stableGroup(h, ['a', 'b'], {});
    expect(leader).toBe(members[0]);
    // a third, static member
    const s1 = h.join(G, '', { clientId: 's', groupInstanceId: 'instance-1' });
    h.join(G, members[0]!);
    h.join(G, members[1]!);
    const r = h.joinResult(s1);
    expect(r.memberId).toBe('instance-1-uuid3');
    const gen = r.generationId;
    h.sync(G, members[0]!, gen, { [r.memberId]: 'static-assignment' });
    h.sync(G, members[1]!, gen);
    expect(h.valueOf<{ assignment: Buffer }>(h.sync(G, r.memberId, gen, {}, 'instance-1')).assignment.toString()).toBe('static-assignment');
    expect(gen).toBe(generationId + 1);

    // The instance restarts: it joins with no member id and the same instance id.
    const again = h.join(G, '', { clientId: 's', groupInstanceId: 'instance-1' });
    const r2 = h.joinResult(again);
    expect(r2).toMatchObject({ generationId: gen, memberId: 'instance-1-uuid4', leader: members[0], members: [] });
    expect(h.coordinator.group(G)!.state).toBe('Stable');
    expect(h.valueOf<{ assignment: Buffer }>(h.sync(G, r2.memberId, gen, {}, 'instance-1')).assignment.toString()).toBe('static-assignment');
    // The old incarnation is fenced.
    expect(h.outcome(h.heartbeat(G, r.memberId, gen, 'instance-1'))).toBe('FENCED_INSTANCE_ID');
    expect(h.outcome(h.commit(G, r.memberId, gen, { 't:0': 1 }))).toBe('UNKNOWN_MEMBER_ID');
    // The replacement was stored: a failover keeps the new member id.
    expect([...h.failover().group(G)!.members.keys()]).toContain('instance-1-uuid4');
  });

  it('tells a replaced leader\u2019s successor the old leader id, so it does not compute an assignment', () => {
    const h = new Harness();
    const s = h.join(G, '', { clientId: 's', groupInstanceId: 'i1' });
    const r = h.joinResult(s);
    expect(r.leader).toBe(r.memberId);
    h.sync(G, r.memberId, r.generationId, { [r.memberId]: 'all' }, 'i1');
    const again = h.joinResult(h.join(G, '', { clientId: 's', groupInstanceId: 'i1' }));
    expect(again.leader).toBe(r.memberId);
    expect(again.memberId).not.toBe(r.memberId);
    expect(h.coordinator.group(G)!.leaderId).toBe(again.memberId);
  });

  it('keeps a static member that did not rejoin in the generation (its session, not the rebalance, removes it)', () => {
    const h = new Harness();
    const s = h.joinResult(h.join(G, '', { clientId: 's', groupInstanceId: 'i1', rebalanceTimeoutMs: 10_000, sessionTimeoutMs: 60_000 }));
    h.sync(G, s.memberId, s.generationId, {}, 'i1');
    const d = h.joinNew(G, 'd', { rebalanceTimeoutMs: 10_000, sessionTimeoutMs: 60_000 });
    h.advance(10_000);
    const r = h.joinResult(d.request);
    expect(r.generationId).toBe(s.generationId + 1);
    expect(h.coordinator.group(G)!.members.has(s.memberId)).toBe(true);
    expect(r.leader).toBe(d.memberId);
  });
});
