import { describe, expect, it } from 'vitest';
import { consoleGroups, parseGroupMetrics } from './console-groups.ts';

const COORDINATOR = `# HELP tributary_group_committed_offset x
# TYPE tributary_group_committed_offset gauge
tributary_group_committed_offset{group="billing",topic="demo",partition="0",broker_id="1",rack="rack-1"} 5
tributary_group_committed_offset{group="billing",topic="demo",partition="1",broker_id="1",rack="rack-1"} 7
tributary_group_committed_offset{group="billing",topic="other",partition="0",broker_id="1",rack="rack-1"} 1
tributary_group_members{group="billing",broker_id="1",rack="rack-1"} 2
tributary_group_members{group="idle",broker_id="1",rack="rack-1"} 0
tributary_high_watermark{topic="demo",partition="0",broker_id="1",rack="rack-1"} 8
tributary_bytes_in_total{broker_id="1",rack="rack-1"} 100
`;
// Another broker: a follower's HW behind the leader's, and the leader of partition 1.
const OTHER = `tributary_high_watermark{topic="demo",partition="0",broker_id="2",rack="rack-2"} 6
tributary_high_watermark{topic="demo",partition="1",broker_id="2",rack="rack-2"} 7
`;

describe('consoleGroups', () => {
  it('reads the group and high-watermark lines of a metrics text', () => {
    expect(parseGroupMetrics(COORDINATOR)).toEqual({
      committed: [
        { group: 'billing', topic: 'demo', partition: 0, offset: 5 },
        { group: 'billing', topic: 'demo', partition: 1, offset: 7 },
        { group: 'billing', topic: 'other', partition: 0, offset: 1 },
      ],
      members: [
        { group: 'billing', members: 2 },
        { group: 'idle', members: 0 },
      ],
      highWatermarks: [{ topic: 'demo', partition: 0, highWatermark: 8 }],
    });
  });

  it('lists each group with its members and the lag of every partition of the topic against the highest high watermark', () => {
    const samples = [parseGroupMetrics(COORDINATOR), parseGroupMetrics(OTHER)];
    expect(consoleGroups(samples, 'demo')).toEqual([
      {
        groupId: 'billing',
        members: 2,
        totalLag: 3,
        partitions: [
          { topic: 'demo', partition: 0, committedOffset: 5, logEndOffset: 8, lag: 3 },
          { topic: 'demo', partition: 1, committedOffset: 7, logEndOffset: 7, lag: 0 },
        ],
      },
      { groupId: 'idle', members: 0, totalLag: 0, partitions: [] },
    ]);
    expect(consoleGroups(samples)[0]!.partitions.at(-1)).toEqual({ topic: 'other', partition: 0, committedOffset: 1, logEndOffset: null, lag: null });
    // After a coordinator moved, two brokers may report one group: the later offset counts.
    const old = parseGroupMetrics('tributary_group_committed_offset{group="billing",topic="demo",partition="0"} 3\n');
    expect(consoleGroups([old, ...samples], 'demo')[0]!.partitions[0]!.committedOffset).toBe(5);
    expect(consoleGroups([])).toEqual([]);
  });
});
