import { describe, expect, it } from 'vitest';
import type { PartitionState } from '@tributary/protocol';
import type { AppliedRecord } from './cluster-controller.ts';
import { consoleEvents } from './console-events.ts';
import type { PartitionChangeRecord } from './records.ts';

const before: PartitionState = {
  topic: 'demo',
  partition: 3,
  replicas: [4, 2, 5],
  addingReplicas: [],
  removingReplicas: [],
  leader: 4,
  leaderEpoch: 1,
  partitionEpoch: 1,
  isr: [4, 2, 5],
};
const change = (leader: number, leaderEpoch: number, isr: number[]): AppliedRecord => ({
  record: { type: 'PartitionChange', topic: 'demo', topicId: 't', partition: 3, leader, leaderEpoch, partitionEpoch: 2, isr },
  before,
});
const context = { timeMs: 1000, versionAfter: 10, rackOf: (id: number) => (id < 3 ? 'rack-1' : 'rack-2') };

describe('consoleEvents', () => {
  it('a failover: leader change and the dead leader leaving the ISR', () => {
    expect(consoleEvents([change(2, 2, [2, 5])], context)).toEqual([
      { timeMs: 1000, version: 10, kind: 'leader-changed', topic: 'demo', partition: 3, brokerId: 2, text: 'demo-3: leader B4 -> B2 (epoch 2)' },
      {
        timeMs: 1000,
        version: 10,
        kind: 'isr-shrunk',
        topic: 'demo',
        partition: 3,
        brokerId: 4,
        brokers: [4],
        text: 'demo-3: ISR shrank, B4 left (ISR 4,2,5 -> 2,5)',
      },
    ]);
  });

  it('offline, expansion, brokers and topics, with one version per record', () => {
    const events = consoleEvents(
      [
        { record: { type: 'FenceBroker', brokerId: 4, brokerEpoch: 0 } },
        change(-1, 2, [4]),
        {
          record: {
            type: 'RegisterBroker',
            brokerId: 4,
            brokerEpoch: 1,
            incarnationId: 'x',
            rack: 'rack-2',
            internal: { host: 'h', port: 1 },
            external: { host: 'h', port: 2 },
          },
        },
        {
          record: { type: 'PartitionChange', topic: 'demo', topicId: 't', partition: 3, leader: 4, leaderEpoch: 1, partitionEpoch: 2, isr: [4, 2, 5, 1] },
          before: { ...before, isr: [4, 2, 5] },
        },
        { record: { type: 'DeleteTopic', name: 'old', topicId: 'o' } },
        { record: { type: 'ProducerIdBlock', firstProducerId: 0, size: 1000 } },
      ],
      context,
    );
    // The timeline draws each event on the lanes of the brokers it names.
    expect(events.map((e) => [e.kind, e.brokerId, e.brokers])).toEqual([
      ['broker-fenced', 4, undefined],
      ['partition-offline', 4, undefined],
      ['isr-shrunk', 2, [2, 5]],
      ['broker-registered', 4, undefined],
      ['isr-expanded', 1, [1]],
      ['topic-deleted', undefined, undefined],
    ]);
    expect(events.map((e) => [e.version, e.kind, e.text])).toEqual([
      [5, 'broker-fenced', 'broker B4 (rack-2) fenced'],
      [6, 'partition-offline', 'demo-3: offline, leader B4 lost and no live in-sync replica (epoch 2)'],
      [6, 'isr-shrunk', 'demo-3: ISR shrank, B2, B5 left (ISR 4,2,5 -> 4)'],
      [7, 'broker-registered', 'broker B4 (rack-2) registered, epoch 1'],
      [8, 'isr-expanded', 'demo-3: ISR expanded, B1 rejoined (ISR 4,2,5 -> 4,2,5,1)'],
      [9, 'topic-deleted', 'topic old deleted'],
    ]);
  });

  it('a reassignment: started, the added replica joining the ISR, completed; another cancelled; partitions added', () => {
    const p6: PartitionState = { ...before, partition: 6, replicas: [0, 3, 1], leader: 0, isr: [0, 3, 1] };
    const moving: PartitionState = { ...p6, replicas: [2, 3, 1, 0], addingReplicas: [2], removingReplicas: [0] };
    const record = (fields: Partial<PartitionChangeRecord> & Pick<PartitionChangeRecord, 'leader' | 'isr'>): PartitionChangeRecord => ({
      type: 'PartitionChange',
      topic: 'demo',
      topicId: 't',
      partition: 6,
      leaderEpoch: 1,
      partitionEpoch: 3,
      ...fields,
    });
    const events = consoleEvents(
      [
        { record: record({ leader: 0, isr: [0, 3, 1], replicas: [2, 3, 1, 0], addingReplicas: [2], removingReplicas: [0] }), before: p6 },
        { record: record({ leader: 0, isr: [0, 3, 1, 2] }), before: moving },
        {
          record: record({ leader: 2, leaderEpoch: 2, isr: [3, 1, 2], replicas: [2, 3, 1], addingReplicas: [], removingReplicas: [] }),
          before: { ...moving, isr: [0, 3, 1, 2] },
        },
        { record: record({ leader: 0, isr: [0, 3, 1], replicas: [0, 3, 1], addingReplicas: [], removingReplicas: [] }), before: moving },
        {
          record: {
            type: 'CreatePartitions',
            topic: 'demo',
            topicId: 't',
            partitions: [
              { ...p6, partition: 10 },
              { ...p6, partition: 11 },
            ],
          },
        },
      ],
      context,
    );
    expect(events.map((e) => [e.kind, e.brokerId, e.brokers, e.text])).toEqual([
      ['reassignment-started', 2, [2, 0], 'demo-6: reassignment to [2,3,1] started, adding B2, removing B0'],
      ['isr-expanded', 2, [2], 'demo-6: ISR expanded, B2 joined (ISR 0,3,1 -> 0,3,1,2)'],
      ['leader-changed', 2, undefined, 'demo-6: leader B0 -> B2 (epoch 2)'],
      ['isr-shrunk', 0, [0], 'demo-6: ISR shrank, B0 left (ISR 0,3,1,2 -> 3,1,2)'],
      ['reassignment-completed', 2, [2, 0], 'demo-6: reassignment completed, replicas [2,3,1] (added B2, removed B0)'],
      ['reassignment-cancelled', 2, [2, 0], 'demo-6: reassignment cancelled, replicas back to [0,3,1]'],
      ['partitions-created', undefined, undefined, 'topic demo: 2 partitions added (P10 P11)'],
    ]);
  });
});
