import { describe, expect, it } from 'vitest';
import { DEFAULT_TOPIC_CONFIGS, type BrokerMetadataResponse } from '@tributary/protocol';
import { MetadataTable } from './cluster-client.ts';

function answer(leaders: number[], deadBrokers: number[] = []): BrokerMetadataResponse {
  return {
    clusterId: 'c',
    version: 1,
    brokerId: 0,
    controller: { host: '127.0.0.1', port: 1 },
    brokers: [0, 1, 2].map((id) => ({ id, rack: 'r', host: '127.0.0.1', port: 9000 + id, alive: !deadBrokers.includes(id) })),
    topics: [
      {
        name: 't',
        configs: { ...DEFAULT_TOPIC_CONFIGS },
        partitions: leaders.map((leader, partition) => ({ partition, leader, leaderEpoch: 0, replicas: [0, 1, 2], isr: [0, 1, 2] })),
      },
    ],
    unknownTopics: [],
  };
}

describe('MetadataTable.availablePartitions', () => {
  it('lists the partitions with a live leader, and follows every new answer', () => {
    const table = new MetadataTable();
    table.apply(answer([0, -1, 2, 1]), 1, undefined);
    expect(table.availablePartitions('t')).toEqual([0, 2, 3]);
    // Cached until the next answer: the same array.
    expect(table.availablePartitions('t')).toBe(table.availablePartitions('t'));
    table.apply(answer([0, 1, 2, 1]), 2, ['t']);
    expect(table.availablePartitions('t')).toEqual([0, 1, 2, 3]);
    // A leader on a broker the metadata calls dead is no leader to send to.
    table.apply(answer([0, 1, 2, 1], [1]), 3, ['t']);
    expect(table.availablePartitions('t')).toEqual([0, 2]);
    expect(table.availablePartitions('unknown')).toEqual([]);
  });
});
