import { describe, expect, it } from 'vitest';
import { CONSUMER_OFFSETS_TOPIC, cleanupPolicyOf, DEFAULT_TOPIC_CONFIGS, isInternalTopic, resolveTopicConfigs, retentionDeletes } from './config.ts';

describe('cleanup.policy', () => {
  it.each([
    ['delete', 'delete'],
    ['compact', 'compact'],
    ['compact,delete', 'compact,delete'],
    ['delete, compact', 'compact,delete'],
  ])('accepts %j as %j', (raw, canonical) => {
    expect(resolveTopicConfigs({ 'cleanup.policy': raw })['cleanup.policy']).toBe(canonical);
  });

  it.each(['', 'compacted', 'delete,delete', 'compact,', 7])('refuses %j with INVALID_CONFIG', (raw) => {
    expect(() => resolveTopicConfigs({ 'cleanup.policy': raw as string })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });

  it('defaults to delete, as Kafka; only a policy with delete lets retention delete segments', () => {
    expect(resolveTopicConfigs({})['cleanup.policy']).toBe('delete');
    expect(retentionDeletes(resolveTopicConfigs({}))).toBe(true);
    expect(retentionDeletes(resolveTopicConfigs({ 'cleanup.policy': 'compact' }))).toBe(false);
    expect(retentionDeletes(resolveTopicConfigs({ 'cleanup.policy': 'compact,delete' }))).toBe(true);
    // Metadata of a topic created before the config existed.
    expect(retentionDeletes({} as never)).toBe(true);
  });
});

describe('internal topics', () => {
  it('knows __consumer_offsets as internal, and nothing else', () => {
    expect(isInternalTopic(CONSUMER_OFFSETS_TOPIC)).toBe(true);
    expect(isInternalTopic('demo')).toBe(false);
    expect(isInternalTopic('__consumer_offsets2')).toBe(false);
  });
});

describe('topic configs: log compaction', () => {
  it("has Kafka's defaults", () => {
    expect(DEFAULT_TOPIC_CONFIGS).toMatchObject({
      'cleanup.policy': 'delete',
      'delete.retention.ms': 86_400_000,
      'min.cleanable.dirty.ratio': 0.5,
      'min.compaction.lag.ms': 0,
      'max.compaction.lag.ms': Number.MAX_SAFE_INTEGER,
    });
  });

  it.each([
    ['compact', 'compact'],
    ['delete', 'delete'],
    ['compact,delete', 'compact,delete'],
    ['delete,compact', 'compact,delete'],
    [' compact , delete ', 'compact,delete'],
  ])('normalizes cleanup.policy=%j to %j', (raw, expected) => {
    expect(resolveTopicConfigs({ 'cleanup.policy': raw })['cleanup.policy']).toBe(expected);
  });

  it.each([
    ['cleanup.policy', ''],
    ['cleanup.policy', 'compact,compact'],
    ['cleanup.policy', 'compaction'],
    ['cleanup.policy', 'Compact'],
    ['cleanup.policy', 'compact,'],
    ['cleanup.policy', 7],
    ['min.cleanable.dirty.ratio', '1.5'],
    ['min.cleanable.dirty.ratio', '-0.1'],
    ['min.cleanable.dirty.ratio', 'half'],
    ['delete.retention.ms', '-1'],
    ['min.compaction.lag.ms', '1.5'],
    ['max.compaction.lag.ms', '0'],
  ])('refuses %s=%j with INVALID_CONFIG naming it', (name, raw) => {
    expect(() => resolveTopicConfigs({ [name]: raw })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining(`'${name}'`) }),
    );
  });

  it('reads ratios as numbers and refuses a minimum lag above the maximum', () => {
    expect(resolveTopicConfigs({ 'min.cleanable.dirty.ratio': '0.01' })['min.cleanable.dirty.ratio']).toBe(0.01);
    expect(resolveTopicConfigs({ 'min.cleanable.dirty.ratio': 0 })['min.cleanable.dirty.ratio']).toBe(0);
    expect(() => resolveTopicConfigs({ 'min.compaction.lag.ms': '5000', 'max.compaction.lag.ms': '1000' })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining("'min.compaction.lag.ms'") }),
    );
  });

  it.each([
    ['delete', { compact: false, delete: true }],
    ['compact', { compact: true, delete: false }],
    ['compact,delete', { compact: true, delete: true }],
    [undefined, { compact: false, delete: true }],
  ] as const)('cleanup.policy %j turns on %j', (policy, expected) => {
    expect(cleanupPolicyOf(policy)).toEqual(expected);
  });
});
