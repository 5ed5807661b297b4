import { describe, expect, it } from 'vitest';
import { byBrokerView, rackAlternated, renderByBroker } from './by-broker.ts';
import { renderTable } from './table.ts';

// The seed's placement (DESIGN.md): 6 brokers, rack-1 = 0,1,2 and rack-2 = 3,4,5, 10 partitions, RF 3.
const PLACEMENT = [
  [0, 3, 1],
  [3, 1, 4],
  [1, 4, 2],
  [4, 2, 5],
  [2, 5, 0],
  [5, 0, 3],
  [0, 3, 1],
  [3, 1, 4],
  [1, 4, 2],
  [4, 2, 5],
];
const brokers = [0, 1, 2, 3, 4, 5].map((id) => ({ id, rack: id < 3 ? 'rack-1' : 'rack-2', alive: true }));
const topic = { partitions: PLACEMENT.map((replicas, partition) => ({ partition, leader: replicas[0]!, replicas, isr: replicas })) };

describe('byBrokerView', () => {
  it('orders brokers rack-alternated: racks sorted, ids sorted within, interleaved', () => {
    expect(rackAlternated([...brokers].reverse()).map((b) => b.id)).toEqual([0, 3, 1, 4, 2, 5]);
    expect(
      rackAlternated([
        { id: 7, rack: 'b' },
        { id: 1, rack: 'a' },
        { id: 2, rack: 'a' },
        { id: 3, rack: 'a' },
      ]).map((b) => b.id),
    ).toEqual([1, 7, 2, 3]);
  });

  it("reproduces the seed's broker table (leaders, then first and second follower columns)", () => {
    const rows = byBrokerView({ brokers }, topic);
    expect(rows.map((r) => [r.label, r.leads, r.follows.map((f) => f.partition)])).toEqual([
      ['rack-1/B0', [0, 6], [5, 4]],
      ['rack-2/B3', [1, 7], [0, 6, 5]],
      ['rack-1/B1', [2, 8], [1, 7, 0, 6]],
      ['rack-2/B4', [3, 9], [2, 8, 1, 7]],
      ['rack-1/B2', [4], [3, 9, 2, 8]],
      ['rack-2/B5', [5], [4, 3, 9]],
    ]);
    expect(renderTable(renderByBroker(rows).cells)).toEqual([
      'rack-1/B0  leads P0 P6  follows P5 P4',
      'rack-2/B3  leads P1 P7  follows P0 P6 P5',
      'rack-1/B1  leads P2 P8  follows P1 P7 P0 P6',
      'rack-2/B4  leads P3 P9  follows P2 P8 P1 P7',
      'rack-1/B2  leads P4     follows P3 P9 P2 P8',
      'rack-2/B5  leads P5     follows P4 P3 P9',
    ]);
    expect(renderByBroker(rows).legend).toEqual([]);
  });

  it('shows the current leader after a failover, marks followers out of the ISR and fenced brokers', () => {
    // Broker 0 died: P0 and P6 moved to B3, B0 left their ISRs and those of P4 and P5.
    const after = {
      partitions: topic.partitions.map((p) => {
        if (!p.replicas.includes(0)) return p;
        const isr = p.isr.filter((b) => b !== 0);
        return { ...p, leader: p.leader === 0 ? 3 : p.leader, isr };
      }),
    };
    const rows = byBrokerView({ brokers: brokers.map((b) => (b.id === 0 ? { ...b, alive: false } : b)) }, after);
    const { cells, legend } = renderByBroker(rows);
    expect(cells.slice(0, 2)).toEqual([
      ['rack-1/B0 (fenced)', 'leads -', 'follows P0* P6* P5* P4*'],
      ['rack-2/B3', 'leads P0 P1 P6 P7', 'follows P5'],
    ]);
    expect(rows[0]!.follows.every((f) => !f.inIsr)).toBe(true);
    expect(rows[1]).toMatchObject({ label: 'rack-2/B3', leads: [0, 1, 6, 7], follows: [{ partition: 5, inIsr: true }] });
    expect(legend).toEqual(['* = follower not in the ISR', '(fenced) = broker fenced by the controller (heartbeats stopped or shut down)']);
  });

  it('gives a row to a replica on a broker the cluster does not list', () => {
    const rows = byBrokerView({ brokers: [] }, { partitions: [{ partition: 0, leader: 9, replicas: [9], isr: [9] }] });
    expect(rows).toEqual([{ brokerId: 9, rack: '?', label: '?/B9', fenced: true, leads: [0], follows: [], adding: [], removing: [] }]);
  });

  it('marks a reassignment in progress: the replica being added P6+, the ones being removed P6-', () => {
    // P6 moving from [0,3,1] to [6,3,1]: the merged list is the target, then B0, which still leads.
    const moving = {
      partitions: topic.partitions.map((p) =>
        p.partition === 6 ? { ...p, replicas: [6, 3, 1, 0], isr: [0, 3, 1], addingReplicas: [6], removingReplicas: [0] } : p,
      ),
    };
    const rows = byBrokerView({ brokers: [...brokers, { id: 6, rack: 'rack-1', alive: true }] }, moving);
    const { cells, legend } = renderByBroker(rows);
    expect(renderTable(cells)).toEqual([
      'rack-1/B0  leads P0 P6-  follows P5 P4',
      'rack-2/B3  leads P1 P7   follows P0 P6 P5',
      'rack-1/B1  leads P2 P8   follows P1 P7 P0 P6',
      'rack-2/B4  leads P3 P9   follows P2 P8 P1 P7',
      'rack-1/B2  leads P4      follows P3 P9 P2 P8',
      'rack-2/B5  leads P5      follows P4 P3 P9',
      'rack-1/B6  leads -       follows P6+',
    ]);
    expect(legend).toEqual(['+ = replica being added by a reassignment (copying)', '- = replica a reassignment removes once the new ones are in sync']);
    expect(rows.find((r) => r.brokerId === 6)).toMatchObject({ adding: [6], removing: [] });
  });
});
