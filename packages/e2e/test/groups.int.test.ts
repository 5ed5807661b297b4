// Issue 18, the brokers' side of consumer groups on real processes: __consumer_offsets created on
// first use without touching the seed's table, three clients joining one group through the raw
// calls, and a kill -9 of the broker coordinating a group while offsets are committed.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GroupClient, TributaryError, type JoinGroupResponse } from '@tributary/client';
import { localKill, localRestart, localStatus } from '@tributary/launcher';
import { CONSUMER_OFFSETS_TOPIC } from '@tributary/protocol';
import { eventually } from '@tributary/testkit';
import { SEED_PLACEMENT, startTestCluster, type TestCluster } from '../src/index.ts';

/** A first join (MEMBER_ID_REQUIRED) and the join with the id the coordinator handed out. */
async function joinNew(client: GroupClient, groupId: string, clientId: string, metadata: string, rebalanceTimeoutMs = 30_000): Promise<JoinGroupResponse> {
  const request = {
    groupId,
    memberId: '',
    clientId,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from(metadata) }],
  };
  try {
    await client.joinGroup(request);
  } catch (err) {
    if (!(err instanceof TributaryError) || err.code !== 'MEMBER_ID_REQUIRED') throw err;
    return client.joinGroup({ ...request, memberId: err.memberId! });
  }
  throw new Error('a first join without a member id was not answered MEMBER_ID_REQUIRED');
}

describe('consumer groups (brokers)', () => {
  let cluster: TestCluster;
  const clients: GroupClient[] = [];
  const client = () => {
    const c = new GroupClient({ bootstrap: cluster.bootstrap });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.admin.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster?.stop();
  });
  afterEach(async () => {
    for (const p of localStatus(cluster.dataDir).processes) {
      if (p.status === 'stopped') await localRestart(cluster.dataDir, p.name.slice('broker-'.length));
    }
  });

  it('creates __consumer_offsets on the first FindCoordinator (50 partitions, RF 3, min ISR 2, compacted), hidden from topic lists, and leaves the seed table of demo as it was', async () => {
    expect(await cluster.admin.listTopics({ includeInternal: true })).toEqual(['demo']);
    const found = await client().findCoordinator('my-group');
    const offsets = await cluster.admin.describeTopic(CONSUMER_OFFSETS_TOPIC);
    expect(offsets.partitions).toHaveLength(50);
    expect(offsets.configs).toMatchObject({ 'cleanup.policy': 'compact', 'min.insync.replicas': 2 });
    for (const p of offsets.partitions) expect(new Set(p.replicas).size).toBe(3);
    // Java's "my-group".hashCode() = -1906497762: partition 12 (GroupMetadataManager.partitionFor).
    expect(found.brokerId).toBe(offsets.partitions[12]!.leader);
    // Kafka hides internal topics unless asked.
    expect(await cluster.admin.listTopics()).toEqual(['demo']);
    expect((await cluster.admin.describeTopics()).map((t) => t.name)).toEqual(['demo']);
    expect(await cluster.admin.listTopics({ includeInternal: true })).toEqual([CONSUMER_OFFSETS_TOPIC, 'demo']);
    const demo = await cluster.admin.describeTopic('demo');
    expect(demo.partitions.map((p) => p.replicas)).toEqual(SEED_PLACEMENT);
    expect(demo.partitions.map((p) => p.leader)).toEqual(SEED_PLACEMENT.map((r) => r[0]));
  });

  it('three clients joining one group through the raw calls get one generation and one leader, then their own assignments', async () => {
    const [a, b, c] = [client(), client(), client()];
    // The initial rebalance delay (group.initial.rebalance.delay.ms, 3 s) gathers all three.
    const results = await Promise.all([joinNew(a, 'three', 'a', 'meta-a'), joinNew(b, 'three', 'b', 'meta-b'), joinNew(c, 'three', 'c', 'meta-c')]);
    const generationId = results[0]!.generationId;
    const leaderId = results[0]!.leader;
    expect(results.map((r) => r.generationId)).toEqual([generationId, generationId, generationId]);
    expect(results.map((r) => r.leader)).toEqual([leaderId, leaderId, leaderId]);
    expect(results.map((r) => r.protocolName)).toEqual(['range', 'range', 'range']);
    const leaderIndex = results.findIndex((r) => r.memberId === leaderId);
    expect(leaderIndex).toBeGreaterThanOrEqual(0);
    const leader = results[leaderIndex]!;
    expect(leader.members.map((m) => m.metadata.toString()).sort()).toEqual(['meta-a', 'meta-b', 'meta-c']);
    for (const [i, r] of results.entries()) if (i !== leaderIndex) expect(r.members).toEqual([]);

    const clientsOf = [a, b, c];
    const syncs = results.map((r, i) =>
      clientsOf[i]!.syncGroup({
        groupId: 'three',
        generationId,
        memberId: r.memberId,
        assignments: r.memberId === leaderId ? results.map((x) => ({ memberId: x.memberId, assignment: Buffer.from(`for-${x.memberId}`) })) : [],
      }),
    );
    const assignments = await Promise.all(syncs);
    expect(assignments.map((s) => s.assignment.toString())).toEqual(results.map((r) => `for-${r.memberId}`));
    for (const [i, r] of results.entries()) await clientsOf[i]!.heartbeat({ groupId: 'three', generationId, memberId: r.memberId });
    const [described] = await cluster.admin.describeGroups(['three']);
    expect(described).toMatchObject({ groupId: 'three', state: 'Stable', protocolType: 'consumer', protocol: 'range' });
    expect(described!.members.map((m) => m.clientId).sort()).toEqual(['a', 'b', 'c']);

    // One leaves: the others are told to rejoin, and form the next generation.
    const leaving = results[(leaderIndex + 1) % 3]!;
    const left = await clientsOf[(leaderIndex + 1) % 3]!.leaveGroup({ groupId: 'three', members: [{ memberId: leaving.memberId }] });
    expect(left.members).toEqual([{ memberId: leaving.memberId }]);
    const stay = results.map((r, i) => ({ r, c: clientsOf[i]! })).filter(({ r }) => r.memberId !== leaving.memberId);
    await expect(stay[0]!.c.heartbeat({ groupId: 'three', generationId, memberId: stay[0]!.r.memberId })).rejects.toMatchObject({
      code: 'REBALANCE_IN_PROGRESS',
    });
    const rejoined = await Promise.all(
      stay.map(({ r, c: gc }) =>
        gc.joinGroup({
          groupId: 'three',
          memberId: r.memberId,
          clientId: 'x',
          sessionTimeoutMs: 10_000,
          rebalanceTimeoutMs: 30_000,
          protocolType: 'consumer',
          protocols: [{ name: 'range', metadata: Buffer.from('again') }],
        }),
      ),
    );
    expect(rejoined.map((r) => r.generationId)).toEqual([generationId + 1, generationId + 1]);
    expect(stay.map(({ r }) => r.memberId)).toContain(rejoined[0]!.leader);
    const groups = await cluster.admin.listGroups();
    expect(groups.errors).toEqual([]);
    expect(groups.groups.find((g) => g.groupId === 'three')).toMatchObject({ state: 'CompletingRebalance', protocolType: 'consumer' });
  });

  it('kill -9 of the coordinator while offsets are committed: the group is found again under a new coordinator, no acknowledged offset lost or going backwards', async () => {
    const gc = client();
    const groupId = 'failover-group';
    const joined = await joinNew(gc, groupId, 'solo', 'm', 10_000);
    await gc.syncGroup({
      groupId,
      generationId: joined.generationId,
      memberId: joined.memberId,
      assignments: [{ memberId: joined.memberId, assignment: Buffer.from('all') }],
    });
    const member = { groupId, generationId: joined.generationId, memberId: joined.memberId };
    const before = await gc.findCoordinator(groupId, { refresh: true });

    // Commit ever-growing offsets for the 10 partitions of demo; read them back between commits.
    const acked = new Map<number, number>();
    const problems: string[] = [];
    const coordinatorsSeen = new Set<number>();
    let next = 1;
    let stop = false;
    let commits = 0;
    const loop = (async () => {
      while (!stop) {
        const offset = next++;
        const partition = offset % 10;
        const answer = await gc.commitOffsets({ ...member, offsets: [{ topic: 'demo', partition, offset, metadata: '' }] });
        if (answer.partitions[0]!.error !== undefined) {
          problems.push(`commit ${offset} to demo-${partition}: ${answer.partitions[0]!.error.code}`);
          continue;
        }
        acked.set(partition, offset);
        commits++;
        coordinatorsSeen.add((await gc.findCoordinator(groupId)).brokerId);
        // Between commits, a heartbeat keeps the member's session at whichever coordinator holds it.
        await gc.heartbeat(member).catch((err: unknown) => problems.push(`heartbeat: ${(err as TributaryError).code}`));
        const snapshot = new Map(acked);
        const fetched = await gc.fetchOffsets(groupId);
        for (const [p, o] of snapshot) {
          const got = fetched.find((f) => f.topic === 'demo' && f.partition === p)?.offset ?? -1;
          if (got < o) problems.push(`demo-${p}: fetched ${got} after ${o} was acknowledged`);
        }
      }
    })();
    await eventually(() => commits >= 50, { timeoutMs: 30_000 });
    const killedAtCommit = commits;
    await localKill(cluster.dataDir, String(before.brokerId));
    // The coordinator moves to another replica of the group's __consumer_offsets partition.
    await eventually(() => [...coordinatorsSeen].some((id) => id !== before.brokerId) && commits >= killedAtCommit + 50, { timeoutMs: 60_000 });
    stop = true;
    await loop;
    expect(problems).toEqual([]);

    const after = await gc.findCoordinator(groupId, { refresh: true });
    expect(after.brokerId).not.toBe(before.brokerId);
    const fetched = await gc.fetchOffsets(groupId);
    for (const [p, o] of acked) expect(fetched.find((f) => f.partition === p)?.offset).toBe(o);
    // The group's metadata came through too: the member goes on in its generation.
    await gc.heartbeat(member);
    const [described] = await cluster.admin.describeGroups([groupId]);
    expect(described).toMatchObject({ state: 'Stable', members: [{ memberId: joined.memberId, assignment: Buffer.from('all') }] });
    const lag = await cluster.admin.listGroupOffsets(groupId);
    expect(lag.map((l) => l.committedOffset)).toEqual([...acked.entries()].sort((x, y) => x[0] - y[0]).map(([, o]) => o));
  });
});

describe('consumer groups on a one-broker cluster', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster({ brokers: 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('creates __consumer_offsets with one replica (the launcher gives the brokers the cluster\u2019s size) and commits there', async () => {
    const gc = new GroupClient({ bootstrap: cluster.bootstrap });
    try {
      await cluster.admin.createTopic({ name: 'solo', partitions: 1, replicationFactor: 1 });
      expect((await gc.findCoordinator('g')).brokerId).toBe(0);
      const offsets = await cluster.admin.describeTopic(CONSUMER_OFFSETS_TOPIC);
      expect(offsets.partitions.every((p) => p.replicas.length === 1)).toBe(true);
      const answer = await gc.commitOffsets({
        groupId: 'g',
        generationId: -1,
        memberId: '',
        offsets: [{ topic: 'solo', partition: 0, offset: 3, metadata: '' }],
      });
      expect(answer.partitions).toEqual([{ topic: 'solo', partition: 0 }]);
      expect(await gc.fetchOffsets('g')).toEqual([{ topic: 'solo', partition: 0, offset: 3, metadata: '' }]);
    } finally {
      await gc.close();
    }
  });
});
