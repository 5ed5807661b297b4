import { describe, expect, it } from 'vitest';
import type { ConsoleEvent } from './console-events.ts';
import { consoleTimeline, type TimelineOptions } from './console-timeline.ts';

const ORDER = [0, 3, 1, 4, 2, 5];
const brokers = (fenced: number[] = []) => ORDER.map((id) => ({ id, label: `${id < 3 ? 'rack-1' : 'rack-2'}/B${id}`, fenced: fenced.includes(id) }));
const base: TimelineOptions = { nowMs: 100_000, startMs: 40_000, bucketMs: 2000, brokers: brokers(), topic: 'seed' };

let version = 0;
const ev = (timeMs: number, kind: ConsoleEvent['kind'], fields: Partial<ConsoleEvent> = {}): ConsoleEvent => ({
  timeMs,
  version: ++version,
  kind,
  text: `${kind} at ${timeMs}`,
  ...fields,
});

/** `kill -9` of B0 at 70 s: fenced, B3 takes P0 and P6, B0 leaves their ISRs; back at 90 s. */
const FAILOVER: ConsoleEvent[] = [
  ev(10_000, 'broker-registered', { brokerId: 0 }),
  ev(70_000, 'broker-fenced', { brokerId: 0 }),
  ev(70_000, 'leader-changed', { topic: 'seed', partition: 0, brokerId: 3 }),
  ev(70_000, 'isr-shrunk', { topic: 'seed', partition: 0, brokerId: 0, brokers: [0] }),
  ev(70_000, 'leader-changed', { topic: 'seed', partition: 6, brokerId: 3 }),
  ev(70_000, 'isr-shrunk', { topic: 'seed', partition: 6, brokerId: 0, brokers: [0] }),
  ev(80_500, 'isr-shrunk', { topic: 'seed', partition: 5, brokerId: 0, brokers: [0] }),
  ev(90_000, 'broker-registered', { brokerId: 0 }),
  ev(95_000, 'isr-expanded', { topic: 'seed', partition: 0, brokerId: 0, brokers: [0] }),
  ev(96_000, 'leader-changed', { topic: 'other', partition: 1, brokerId: 1 }),
  ev(97_000, 'topic-created', { topic: 'seed' }),
];

describe('consoleTimeline', () => {
  it('puts a failover on the lanes of the brokers it concerns, one lane per broker in the seed order', () => {
    const view = consoleTimeline(FAILOVER, base);
    expect(view).toMatchObject({ startMs: 40_000, endMs: 100_000, topic: 'seed' });
    expect(view.lanes.map((l) => l.label)).toEqual(['rack-1/B0', 'rack-2/B3', 'rack-1/B1', 'rack-2/B4', 'rack-1/B2', 'rack-2/B5']);
    const lane = (id: number) => view.lanes.find((l) => l.brokerId === id)!;
    // The registration at 10 s is before the window; the other topic's leader change is not this topic's.
    expect(lane(0).marks.map((m) => [m.kind, m.timeMs, m.count, m.partitions])).toEqual([
      ['fenced', 70_000, 1, []],
      ['isr-out', 70_000, 2, [0, 6]],
      ['isr-out', 80_500, 1, [5]],
      ['alive', 90_000, 1, []],
      ['isr-in', 95_000, 1, [0]],
    ]);
    expect(lane(0).fenced).toEqual([{ fromMs: 70_000, toMs: 90_000, open: false }]);
    expect(lane(3).marks.map((m) => [m.kind, m.count, m.partitions, m.texts])).toEqual([
      ['leader', 2, [0, 6], ['leader-changed at 70000', 'leader-changed at 70000']],
    ]);
    expect(lane(1).marks).toEqual([]);
  });

  it("without a topic shows every topic's partition events", () => {
    const view = consoleTimeline(FAILOVER, { ...base, topic: undefined });
    expect(view.lanes.find((l) => l.brokerId === 1)!.marks.map((m) => m.kind)).toEqual(['leader']);
  });

  it('draws a broker fenced now to the end of the window, from before the window if need be', () => {
    const stillFenced = consoleTimeline([ev(70_000, 'broker-fenced', { brokerId: 4 })], { ...base, brokers: brokers([4, 5]) });
    expect(stillFenced.lanes.find((l) => l.brokerId === 4)!.fenced).toEqual([{ fromMs: 70_000, toMs: 100_000, open: true }]);
    // B5's fence event is not in the list (before the controller started): fenced all window long.
    expect(stillFenced.lanes.find((l) => l.brokerId === 5)!.fenced).toEqual([{ fromMs: 40_000, toMs: 100_000, open: true }]);
    expect(stillFenced.lanes.find((l) => l.brokerId === 5)!.fencedNow).toBe(true);
    // Fenced at 20 s (before the window) and back at 50 s: the bar starts at the window's start.
    const clipped = consoleTimeline(
      [
        ev(20_000, 'broker-fenced', { brokerId: 2 }),
        ev(50_000, 'broker-unfenced', { brokerId: 2 }),
        ev(30_000, 'broker-fenced', { brokerId: 1 }),
        ev(35_000, 'broker-registered', { brokerId: 1 }),
      ],
      base,
    );
    expect(clipped.lanes.find((l) => l.brokerId === 2)!.fenced).toEqual([{ fromMs: 40_000, toMs: 50_000, open: false }]);
    expect(clipped.lanes.find((l) => l.brokerId === 1)!.fenced).toEqual([]);
    expect(clipped.lanes.find((l) => l.brokerId === 2)!.marks.map((m) => m.kind)).toEqual(['alive']);
  });

  it('merges marks of a kind on a lane per aligned bucket and keeps textsMax sentences', () => {
    const many = Array.from({ length: 12 }, (_, p) => ev(72_000 + p * 100, 'leader-changed', { topic: 'seed', partition: 11 - p, brokerId: 3 }));
    const view = consoleTimeline([...many, ev(74_000, 'leader-changed', { topic: 'seed', partition: 20, brokerId: 3 })], { ...base, textsMax: 3 });
    const marks = view.lanes.find((l) => l.brokerId === 3)!.marks;
    expect(marks.map((m) => [m.timeMs, m.count, m.partitions.length, m.texts.length])).toEqual([
      [72_000, 12, 12, 3],
      [74_000, 1, 1, 1],
    ]);
    expect(marks[0]!.partitions.slice(0, 3)).toEqual([0, 1, 2]);
  });

  it('ignores events of brokers with no lane and events after now', () => {
    const view = consoleTimeline([ev(80_000, 'broker-fenced', { brokerId: 9 }), ev(100_001, 'broker-fenced', { brokerId: 0 })], base);
    expect(view.lanes.every((l) => l.marks.length === 0)).toBe(true);
  });

  it('draws a reassignment on the lanes of the brokers it adds and removes', () => {
    const events = [
      ev(50_000, 'reassignment-started', { topic: 'seed', partition: 6, brokerId: 2, brokers: [2, 0] }),
      ev(60_000, 'reassignment-completed', { topic: 'seed', partition: 6, brokerId: 2, brokers: [2, 0] }),
      ev(61_000, 'reassignment-cancelled', { topic: 'seed', partition: 5, brokerId: 1, brokers: [1] }),
      ev(62_000, 'partitions-created', { topic: 'seed' }),
    ];
    const view = consoleTimeline(events, base);
    const marks = (id: number) => view.lanes.find((l) => l.brokerId === id)!.marks.map((m) => [m.kind, m.timeMs, m.partitions]);
    expect(marks(2)).toEqual([
      ['move-start', 50_000, [6]],
      ['move-done', 60_000, [6]],
    ]);
    expect(marks(0)).toEqual([
      ['move-start', 50_000, [6]],
      ['move-done', 60_000, [6]],
    ]);
    expect(marks(1)).toEqual([['move-cancel', 61_000, [5]]]);
    expect(marks(3)).toEqual([]);
  });
});
