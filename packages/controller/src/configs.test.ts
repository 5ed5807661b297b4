import { describe, expect, it } from 'vitest';
import { DEFAULT_TOPIC_CONFIGS } from '@tributary/protocol';
import { alterConfigs, describeConfigs } from './configs.ts';
import { apply, clusterOf, codeOf, withTopic } from './internal/fixtures.ts';

const state0 = () => withTopic(clusterOf(), { name: 't', partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
const entry = (state: ReturnType<typeof state0>, name: string) => describeConfigs(state, { topic: 't' }).configs.find((c) => c.name === name);

describe('topic configs', () => {
  it('describes every topic config, with whether it is the default', () => {
    const state = state0();
    const { configs } = describeConfigs(state, { topic: 't' });
    expect(configs.map((c) => c.name)).toEqual(Object.keys(DEFAULT_TOPIC_CONFIGS).sort());
    expect(entry(state, 'retention.ms')).toMatchObject({ value: 7 * 24 * 3600 * 1000, isDefault: true });
    expect(codeOf(() => describeConfigs(state, { topic: 'nope' }))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('sets values validated as at creation (strings parsed), and deletes back to the default, in one record', () => {
    const state = state0();
    const set = alterConfigs(state, {
      resource: { topic: 't' },
      set: { 'retention.ms': '60000', 'unclean.leader.election.enable': true, 'follower.replication.throttled.replicas': ' 0:6 , 1:6' },
    });
    expect(set.records).toHaveLength(1);
    expect(set.records[0]).toMatchObject({ type: 'TopicConfig', topic: 't', topicId: 'id-t' });
    apply(state, set.records);
    expect(state.topics.get('t')!.configs).toMatchObject({
      'retention.ms': 60000,
      'unclean.leader.election.enable': true,
      'follower.replication.throttled.replicas': '0:6,1:6',
      'min.insync.replicas': 2,
    });
    expect(entry(state, 'retention.ms')).toMatchObject({ value: 60000, isDefault: false });
    expect(set.reply.configs.find((c) => c.name === 'retention.ms')!.value).toBe(60000);
    apply(state, alterConfigs(state, { resource: { topic: 't' }, delete: ['retention.ms', 'follower.replication.throttled.replicas'] }).records);
    expect(entry(state, 'retention.ms')).toMatchObject({ isDefault: true });
    expect(state.topics.get('t')!.configs['follower.replication.throttled.replicas']).toBe('');
    expect(state.topics.get('t')!.configs['unclean.leader.election.enable']).toBe(true);
  });

  it.each([
    ['an unknown config', { set: { 'retention.hours': 1 } }, 'INVALID_CONFIG'],
    ['a value out of range', { set: { 'retention.ms': -5 } }, 'INVALID_CONFIG'],
    ['a bad boolean', { set: { 'unclean.leader.election.enable': 'yes' } }, 'INVALID_CONFIG'],
    ['a bad throttled-replica list', { set: { 'leader.replication.throttled.replicas': '0:1,two' } }, 'INVALID_CONFIG'],
    ['deleting an unknown config', { delete: ['nope'] }, 'INVALID_CONFIG'],
    ['setting and deleting the same config', { set: { 'retention.ms': 1 }, delete: ['retention.ms'] }, 'INVALID_REQUEST'],
  ] as const)('refuses %s whole, even beside a good entry', (_name, change, code) => {
    const state = state0();
    const before = structuredClone(state.topics.get('t')!.configs);
    const request = { resource: { topic: 't' }, ...change, set: { 'segment.bytes': 4096, ...('set' in change ? change.set : {}) } };
    expect(codeOf(() => alterConfigs(state, request))).toBe(code);
    expect(state.topics.get('t')!.configs).toEqual(before);
  });
});

describe('broker configs', () => {
  it('sets and deletes the replication rates; unset ones describe as null and default', () => {
    const state = clusterOf();
    expect(describeConfigs(state, { broker: 1 }).configs).toEqual([
      { name: 'follower.replication.throttled.rate', value: null, isDefault: true, doc: expect.any(String) },
      { name: 'leader.replication.throttled.rate', value: null, isDefault: true, doc: expect.any(String) },
    ]);
    apply(
      state,
      alterConfigs(state, { resource: { broker: 1 }, set: { 'leader.replication.throttled.rate': '2048', 'follower.replication.throttled.rate': 1024 } })
        .records,
    );
    expect(state.brokers.get(1)!.configs).toEqual({ 'leader.replication.throttled.rate': 2048, 'follower.replication.throttled.rate': 1024 });
    apply(state, alterConfigs(state, { resource: { broker: 1 }, delete: ['leader.replication.throttled.rate'] }).records);
    expect(state.brokers.get(1)!.configs).toEqual({ 'follower.replication.throttled.rate': 1024 });
  });

  it.each([
    ['an unknown broker', { resource: { broker: 9 }, set: { 'leader.replication.throttled.rate': 1 } }, 'INVALID_REQUEST'],
    ['an unknown config', { resource: { broker: 1 }, set: { 'log.retention.ms': 1 } }, 'INVALID_CONFIG'],
    ['zero bytes/s', { resource: { broker: 1 }, set: { 'leader.replication.throttled.rate': 0 } }, 'INVALID_CONFIG'],
    ['a fraction', { resource: { broker: 1 }, set: { 'leader.replication.throttled.rate': '1.5' } }, 'INVALID_CONFIG'],
    ['a boolean', { resource: { broker: 1 }, set: { 'leader.replication.throttled.rate': true } }, 'INVALID_CONFIG'],
  ] as const)('refuses %s and changes nothing', (_name, request, code) => {
    const state = clusterOf();
    expect(codeOf(() => alterConfigs(state, request))).toBe(code);
    expect(state.brokers.get(1)!.configs).toEqual({});
  });
});
