import { describe, expect, it } from 'vitest';
import { clusterLayout, layoutPorts } from './layout.ts';

describe('clusterLayout', () => {
  it('is the seed topology by default: 6 brokers, rack-1 = 0,1,2 and rack-2 = 3,4,5, fixed ports, Kafka on 9092 + id', () => {
    const layout = clusterLayout();
    expect(layout.controllerPort).toBe(19090);
    expect(layout.controllerInternalPort).toBe(19091);
    expect(layout.brokers).toEqual([
      { id: 0, rack: 'rack-1', port: 19092, internalPort: 19192, kafkaPort: 9092 },
      { id: 1, rack: 'rack-1', port: 19093, internalPort: 19193, kafkaPort: 9093 },
      { id: 2, rack: 'rack-1', port: 19094, internalPort: 19194, kafkaPort: 9094 },
      { id: 3, rack: 'rack-2', port: 19095, internalPort: 19195, kafkaPort: 9095 },
      { id: 4, rack: 'rack-2', port: 19096, internalPort: 19196, kafkaPort: 9096 },
      { id: 5, rack: 'rack-2', port: 19097, internalPort: 19197, kafkaPort: 9097 },
    ]);
  });

  it('moves every port with the base port and spreads other sizes over racks', () => {
    const layout = clusterLayout({ basePort: 30000, brokers: 3, racks: 3 });
    expect(layout.controllerPort).toBe(30000);
    expect(layout.brokers.map((b) => [b.rack, b.port, b.internalPort])).toEqual([
      ['rack-1', 30002, 30102],
      ['rack-2', 30003, 30103],
      ['rack-3', 30004, 30104],
    ]);
    expect(layout.brokers.map((b) => b.kafkaPort)).toEqual([30202, 30203, 30204]);
    expect(layoutPorts(layout)).toEqual([30000, 30001, 30002, 30102, 30202, 30003, 30103, 30203, 30004, 30104, 30204]);
  });

  it('refuses ports and sizes that cannot work, saying what to change', () => {
    expect(() => clusterLayout({ basePort: 80 })).toThrow(/--base-port/);
    expect(() => clusterLayout({ brokers: 0 })).toThrow(/--brokers/);
  });
});
