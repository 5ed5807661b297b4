import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import fc from 'fast-check';
import { FakeClock } from '@tributary/testkit';
import type { ClusterMetadata, MetadataDelta, TopicState } from '@tributary/protocol';
import { ClusterController } from './cluster-controller.ts';
import { SEED_BROKERS, registration } from './internal/fixtures.ts';
import { MemoryMetadataLog } from './metadata-log.ts';

function controller(clock = new FakeClock(), deltaRecordsMax?: number): ClusterController {
  let n = 0;
  return new ClusterController({
    log: new MemoryMetadataLog(),
    logger: pino({ level: 'silent' }),
    now: clock.now,
    newId: () => `id-${n++}`,
    clusterId: 'c',
    sessionTimeoutMs: 3000,
    autoLeaderRebalanceEnable: false,
    ...(deltaRecordsMax === undefined ? {} : { deltaRecordsMax }),
  });
}

/** What a broker does with a delta (the broker's MetadataCache.withDelta, in plain form). */
function applyDelta(held: ClusterMetadata, version: number, delta: MetadataDelta): ClusterMetadata {
  expect(delta.fromVersion).toBe(held.version);
  const brokers = new Map(held.brokers.map((b) => [b.id, b]));
  for (const b of delta.brokers) brokers.set(b.id, b);
  const topics = new Map(held.topics.map((t) => [t.name, t]));
  for (const gone of delta.deletedTopics) if (topics.get(gone.name)?.topicId === gone.topicId) topics.delete(gone.name);
  for (const t of delta.topics) {
    const existing = topics.get(t.name);
    if (t.full) {
      topics.set(t.name, { name: t.name, topicId: t.topicId, configs: t.configs, partitions: t.partitions });
      continue;
    }
    expect(existing?.topicId).toBe(t.topicId);
    const partitions = existing!.partitions.slice();
    for (const p of t.partitions) partitions[p.partition] = p;
    topics.set(t.name, { ...existing!, configs: t.configs, partitions } as TopicState);
  }
  const out: ClusterMetadata = {
    clusterId: held.clusterId,
    version,
    brokers: [...brokers.values()].sort((a, b) => a.id - b.id),
    topics: [...topics.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
  // Credentials and ACLs come whole when they changed.
  const credentials = delta.scramCredentials ?? held.scramCredentials ?? [];
  const acls = delta.acls ?? held.acls ?? [];
  if (credentials.length > 0) out.scramCredentials = credentials;
  if (acls.length > 0) out.acls = acls;
  return out;
}

type Op =
  | { kind: 'create'; topic: number; partitions: number }
  | { kind: 'delete'; topic: number }
  | { kind: 'grow'; topic: number }
  | { kind: 'config'; topic: number }
  | { kind: 'fence'; broker: number }
  | { kind: 'register'; broker: number }
  | { kind: 'shrink'; topic: number; partition: number }
  | { kind: 'producer-ids' }
  | { kind: 'user'; user: number; remove: boolean }
  | { kind: 'acl'; user: number; remove: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), topic: fc.integer({ min: 0, max: 3 }), partitions: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('delete' as const), topic: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('grow' as const), topic: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('config' as const), topic: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('fence' as const), broker: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant('register' as const), broker: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant('shrink' as const), topic: fc.integer({ min: 0, max: 3 }), partition: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant('producer-ids' as const) }),
  fc.record({ kind: fc.constant('user' as const), user: fc.integer({ min: 0, max: 2 }), remove: fc.boolean() }),
  fc.record({ kind: fc.constant('acl' as const), user: fc.integer({ min: 0, max: 2 }), remove: fc.boolean() }),
);

function run(c: ClusterController, o: Op, clock: FakeClock): void {
  const name = `t${'topic' in o ? o.topic : 0}`;
  try {
    switch (o.kind) {
      case 'create':
        c.createTopic({ name, partitions: o.partitions, replicationFactor: 2 });
        break;
      case 'delete':
        c.deleteTopic(name);
        break;
      case 'grow':
        c.createPartitions({ topic: name, totalCount: (c.state.topics.get(name)?.partitions.length ?? 0) + 1 });
        break;
      case 'config':
        c.alterConfigs({ resource: { topic: name }, set: { 'retention.ms': 1000 + clock.now() }, delete: [] });
        break;
      case 'fence': {
        const epoch = c.state.brokers.get(o.broker)!.epoch;
        c.controlledShutdown({ brokerId: o.broker, brokerEpoch: epoch });
        break;
      }
      case 'register':
        c.registerBroker(registration(o.broker, SEED_BROKERS[o.broker]![1], `inc-${o.broker}-${clock.now()}`));
        break;
      case 'shrink': {
        const p = c.state.partition(name, o.partition);
        if (p === undefined || p.leader < 0 || p.isr.length < 2) break;
        c.alterPartitions({
          brokerId: p.leader,
          brokerEpoch: c.state.brokers.get(p.leader)!.epoch,
          partitions: [{ topic: name, partition: o.partition, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [p.leader] }],
        });
        break;
      }
      case 'producer-ids':
        for (let i = 0; i < 1001; i++) c.initProducerId();
        break;
      case 'user': {
        const name = `u${o.user}`;
        if (o.remove) c.alterUserScramCredentials({ deletions: [{ name, mechanism: 'SCRAM-SHA-256' }] });
        else
          c.alterUserScramCredentials({
            upsertions: [
              {
                name,
                mechanism: 'SCRAM-SHA-256',
                iterations: 4096,
                salt: Buffer.from(`salt-${clock.now()}`),
                saltedPassword: Buffer.alloc(32, clock.now() % 256),
              },
            ],
          });
        break;
      }
      case 'acl': {
        const binding = {
          principal: `User:u${o.user}`,
          host: '*',
          operation: 'Write',
          permission: 'Allow',
          resourceType: 'Topic',
          resourceName: 't0',
          patternType: 'Literal',
        } as const;
        if (o.remove) c.deleteAcls({ filters: [{ principal: binding.principal }] });
        else c.createAcls({ creations: [binding] });
        break;
      }
    }
  } catch (err) {
    if ((err as { code?: string }).code === undefined) throw err;
  }
  clock.advance(1);
}

describe('metadata deltas', () => {
  it('a delta from any remembered version, applied to the metadata of that version, gives the current metadata (property)', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const clock = new FakeClock();
        const c = controller(clock);
        for (const [id, rack] of SEED_BROKERS) c.registerBroker(registration(id, rack));
        const held: ClusterMetadata[] = [c.metadata()];
        for (const o of ops) {
          run(c, o, clock);
          held.push(c.metadata());
        }
        for (const before of held) {
          const answer = c.metadataSince(before.version, true);
          expect('delta' in answer).toBe(true);
          if (!('delta' in answer)) continue;
          expect(applyDelta(before, answer.version, answer.delta)).toEqual(c.metadata());
        }
      }),
      { numRuns: 60 },
    );
  });

  it('carries only what changed: one ISR change is one partition of one topic', () => {
    const c = controller();
    for (const [id, rack] of SEED_BROKERS) c.registerBroker(registration(id, rack));
    c.createTopic({ name: 'big', partitions: 1000, replicationFactor: 3 });
    const v = c.version;
    const p = c.state.partition('big', 7)!;
    c.alterPartitions({
      brokerId: p.leader,
      brokerEpoch: 0,
      partitions: [{ topic: 'big', partition: 7, leaderEpoch: 0, partitionEpoch: 0, newIsr: p.isr.slice(0, 2) }],
    });
    const answer = c.metadataSince(v, true);
    expect(answer).toMatchObject({ version: v + 1, delta: { fromVersion: v, brokers: [], deletedTopics: [] } });
    const delta = (answer as { delta: MetadataDelta }).delta;
    expect(delta.topics).toHaveLength(1);
    expect(delta.topics[0]).toMatchObject({ name: 'big', full: false, configsChanged: false });
    expect(delta.topics[0]!.partitions.map((x) => [x.partition, x.isr])).toEqual([[7, p.isr.slice(0, 2)]]);
    // Nothing new: an empty delta at the same version.
    expect(c.metadataSince(c.version, true)).toMatchObject({ version: c.version, delta: { brokers: [], topics: [], deletedTopics: [] } });
  });

  it('answers the whole metadata on first contact, without deltas, and past what it remembers', () => {
    const c = controller(new FakeClock(), 5);
    for (const [id, rack] of SEED_BROKERS) c.registerBroker(registration(id, rack));
    expect(c.metadataSince(-1, true)).toEqual(c.metadata());
    expect(c.metadataSince(c.version - 1, false)).toEqual(c.metadata());
    expect('delta' in c.metadataSince(c.version - 3, true)).toBe(true);
    for (let i = 0; i < 20; i++) c.createTopic({ name: `x${i}`, partitions: 1, replicationFactor: 1 });
    expect(c.metadataSince(c.version - 20, true)).toEqual(c.metadata());
    expect('delta' in c.metadataSince(c.version - 5, true)).toBe(true);
  });
});
