import { describe, expect, it } from 'vitest';
import { CONSUMER_OFFSETS_TOPIC, isInternalTopic, resolveTopicConfigs, retentionDeletes } from './config.ts';

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
