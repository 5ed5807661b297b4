// Metadata passes that open partition logs a few at a time (openBudgetMs), so that a broker keeps
// serving (and heartbeating) while it creates the logs of a big topic.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBatch, type TopicConfigs } from '@tributary/protocol';
import { eventually, tempDir } from '@tributary/testkit';
import { batch, brokerReg, makeCore, topicState, type Core } from '../test/helpers.ts';

const PARTITIONS = 6;

function md(version: number, withTopic = true) {
  const topics = withTopic
    ? [
        topicState(
          'big',
          Array.from({ length: PARTITIONS }, () => ({ replicas: [0] })),
        ),
      ]
    : [];
  return { clusterId: 'c1', version, brokers: [brokerReg(0)], topics };
}

describe('opening the logs of a big topic over several passes', () => {
  let core: Core;
  afterEach(async () => {
    await core.close();
  });

  it('opens one log per pass with no budget left, answers NOT_LEADER_OR_FOLLOWER for the rest meanwhile, then all', async () => {
    core = await makeCore({ openBudgetMs: 0 });
    core.rm.applyMetadata(md(1));
    expect(core.rm.partitionCount).toBe(1);
    const early = await core.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: 'big', partition: PARTITIONS - 1, records: batch(['x']) }] });
    expect(early.body.partitions[0].error.code).toBe('NOT_LEADER_OR_FOLLOWER');
    await eventually(() => core.rm.partitionCount === PARTITIONS);
    for (let p = 0; p < PARTITIONS; p++) expect(core.rm.getPartition('big', p)!.isLeader).toBe(true);
    const later = await core.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: 'big', partition: PARTITIONS - 1, records: batch(['x']) }] });
    expect(later.body.partitions[0]).toEqual({ topic: 'big', partition: PARTITIONS - 1, baseOffset: 0 });
  });

  it('a newer version (the topic deleted) stops the passes of the older one: nothing is left open or on disk', async () => {
    core = await makeCore({ openBudgetMs: 0 });
    core.rm.applyMetadata(md(1));
    expect(core.rm.partitionCount).toBe(1);
    core.rm.applyMetadata(md(2, false));
    expect(core.rm.partitionCount).toBe(0);
    await new Promise((r) => setTimeout(r, 50)); // the older version's scheduled passes have run
    expect(core.rm.partitionCount).toBe(0);
    for (let p = 0; p < PARTITIONS; p++) expect(existsSync(join(core.dir, `big-${p}`))).toBe(false);
  });

  it('with the default budget a small topic opens in one pass', async () => {
    core = await makeCore();
    core.rm.applyMetadata(md(1));
    expect(core.rm.partitionCount).toBe(PARTITIONS);
  });
});

describe("logs that no longer belong to the metadata (KRaft's stray logs)", () => {
  const topic = (id: string) => ({ ...topicState('t', [{ replicas: [0] }]), topicId: id });
  const meta = (version: number, topics: ReturnType<typeof topic>[]) => ({ clusterId: 'c1', version, brokers: [brokerReg(0)], topics });
  const strays = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('-stray'));
  const produce = (core: Core, value: string) =>
    core.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: 't', partition: 0, records: batch([value]) }] });
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });
  function dataDir(): string {
    const { dir, cleanup } = tempDir('tributary-stray-');
    cleanups.push(cleanup);
    return dir;
  }

  it('a topic deleted while this broker serves it: its log is deleted', async () => {
    const core = await makeCore();
    core.rm.applyMetadata(meta(1, [topic('A')]));
    await produce(core, 'a');
    core.rm.applyMetadata(meta(2, []));
    // Deleted from disk on a later turn of the event loop (a few at a time).
    await eventually(() => !existsSync(join(core.dir, 't-0')));
    expect(strays(core.dir)).toEqual([]);
    await core.close();
  });

  it('a topic re-created under a new id while this broker serves it: the old log is set aside, the new one starts empty', async () => {
    const core = await makeCore();
    core.rm.applyMetadata(meta(1, [topic('A')]));
    await produce(core, 'a');
    core.rm.applyMetadata(meta(2, [topic('B')]));
    expect(core.rm.getPartition('t', 0)!.log.logEndOffset).toBe(0);
    expect(strays(core.dir)).toHaveLength(1);
    expect(readdirSync(join(core.dir, strays(core.dir)[0]!)).some((f) => f.endsWith('.log'))).toBe(true);
    await core.close();
  });

  it('after a restart: a log no partition claims, and one of another topic id, are set aside, never deleted', async () => {
    const dir = dataDir();
    const before = await makeCore({ dataDir: dir });
    before.rm.applyMetadata(meta(1, [topic('A'), { ...topicState('gone', [{ replicas: [0] }]), topicId: 'G' }]));
    await produce(before, 'a');
    await before.close();
    // The controller now knows 't' under another id and no 'gone' at all (its metadata was lost
    // and rebuilt, say): nothing this broker held is deleted.
    const after = await makeCore({ dataDir: dir });
    after.rm.applyMetadata(meta(1, [topic('B')]));
    expect(after.rm.getPartition('t', 0)!.log.logEndOffset).toBe(0);
    expect(
      strays(dir)
        .map((n) => n.split('.')[0])
        .sort(),
    ).toEqual(['gone-0', 't-0']);
    await after.close();
    // Set-aside logs stay out of the way of the next start.
    const again = await makeCore({ dataDir: dir });
    again.rm.applyMetadata(meta(1, [topic('B')]));
    expect(again.rm.partitionCount).toBe(1);
    expect(strays(dir)).toHaveLength(2);
    await again.close();
  });
});

describe('compacted topics (cleanup.policy=compact), configs applied live', () => {
  let core: Core;
  afterEach(async () => {
    await core.close();
  });

  const keyed = (key: string | null, value: string) => encodeBatch([{ key: key === null ? null : Buffer.from(key), value: Buffer.from(value) }]);
  const produce = (records: Buffer) => core.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: 'c', partition: 0, records }] });

  it('hands compacted replicas to the cleaner with their HW, and refuses keyless records, from the metadata version that says so', async () => {
    core = await makeCore();
    const version = (v: number, configs: Partial<TopicConfigs>) => ({
      clusterId: 'c1',
      version: v,
      brokers: [brokerReg(0)],
      topics: [topicState('c', [{ replicas: [0] }], configs)],
    });
    core.rm.applyMetadata(version(1, {}));
    expect(core.rm.compactedLogs()).toEqual([]);
    expect((await produce(batch(['no key']))).body.partitions[0]).toMatchObject({ baseOffset: 0 });
    core.rm.applyMetadata(version(2, { 'cleanup.policy': 'compact' }));
    expect(core.rm.compactedLogs()).toMatchObject([{ topic: 'c', partition: 0, highWatermark: 1 }]);
    const refused = (await produce(batch(['no key']))).body.partitions[0];
    expect(refused.error).toMatchObject({ code: 'INVALID_RECORD', message: expect.stringContaining('cleanup.policy=compact') });
    expect((await produce(keyed('k', 'v'))).body.partitions[0]).toMatchObject({ baseOffset: 1 });
    // Back to delete: the cleaner lets it go, keyless records are welcome again.
    core.rm.applyMetadata(version(3, { 'cleanup.policy': 'delete' }));
    expect(core.rm.compactedLogs()).toEqual([]);
    expect((await produce(keyed(null, 'v'))).body.partitions[0]).toMatchObject({ baseOffset: 2 });
  });
});

describe('metadata deltas: only the partitions a delta changed are walked', () => {
  let core: Core;
  afterEach(async () => {
    await core.close();
  });

  const full = (version: number) => ({
    clusterId: 'c1',
    version,
    brokers: [brokerReg(0), brokerReg(1)],
    topics: [
      topicState(
        'big',
        Array.from({ length: 50 }, () => ({ replicas: [0, 1] })),
      ),
      topicState('other', [{ replicas: [1, 0], leader: 1 }]),
    ],
  });

  it('applies a delta: the changed partition moves, the others are not looked at, a new topic opens, a deleted one goes', async () => {
    core = await makeCore({ openBudgetMs: 60_000 });
    core.rm.applyMetadata(full(1));
    expect(core.rm.partitionCount).toBe(51);
    const applied: string[] = [];
    for (const p of core.rm.allPartitions()) {
      const original = p.applyState.bind(p);
      p.applyState = (...args) => {
        applied.push(p.key);
        return original(...args);
      };
    }
    const moved = { ...full(1).topics[0]!.partitions[7]!, leader: 1, leaderEpoch: 1, partitionEpoch: 1, isr: [1, 0] };
    const ok = core.rm.applyMetadata({
      clusterId: 'c1',
      version: 4,
      delta: {
        fromVersion: 1,
        brokers: [{ ...brokerReg(1), alive: false }],
        deletedTopics: [{ name: 'other', topicId: 'other-id' }],
        topics: [
          { name: 'big', topicId: 'big-id', full: false, configsChanged: false, configs: full(1).topics[0]!.configs, partitions: [moved] },
          { ...topicState('fresh', [{ replicas: [0] }]), full: true, configsChanged: true },
        ],
      },
    });
    expect(ok).toBe(true);
    expect(applied).toEqual(['big-7']);
    expect(core.rm.getPartition('big', 7)).toMatchObject({ role: 'follower', leaderId: 1, leaderEpoch: 1 });
    expect(core.rm.getPartition('big', 8)).toMatchObject({ role: 'leader' });
    expect(core.rm.getPartition('other', 0)).toBeUndefined();
    expect(core.rm.getPartition('fresh', 0)?.isLeader).toBe(true);
    expect(core.rm.metadata.version).toBe(4);
    expect(core.rm.metadata.isAlive(1)).toBe(false);
    expect(core.rm.metadata.allTopics().map((t) => t.name)).toEqual(['big', 'fresh']);
    expect(core.rm.metadata.partition('big', 7)).toEqual(moved);
  });

  it('a delta that does not start at the version held is refused (false): the channel then asks for the whole metadata', async () => {
    core = await makeCore({ openBudgetMs: 60_000 });
    core.rm.applyMetadata(full(1));
    const answer = core.rm.applyMetadata({ clusterId: 'c1', version: 9, delta: { fromVersion: 5, brokers: [], deletedTopics: [], topics: [] } });
    expect(answer).toBe(false);
    expect(core.rm.metadata.version).toBe(1);
    expect(core.rm.applyMetadata(full(9))).toBe(true);
    expect(core.rm.metadata.version).toBe(9);
  });

  it('a config change walks every partition of that topic', async () => {
    core = await makeCore({ openBudgetMs: 60_000 });
    core.rm.applyMetadata(full(1));
    const t = full(1).topics[0]!;
    core.rm.applyMetadata({
      clusterId: 'c1',
      version: 2,
      delta: {
        fromVersion: 1,
        brokers: [],
        deletedTopics: [],
        topics: [{ name: 'big', topicId: 'big-id', full: false, configsChanged: true, configs: { ...t.configs, 'min.insync.replicas': 2 }, partitions: [] }],
      },
    });
    for (const p of core.rm.allPartitions()) if (p.topic === 'big') expect(p.configs['min.insync.replicas']).toBe(2);
  });
});
