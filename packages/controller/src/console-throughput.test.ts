import { describe, expect, it } from 'vitest';
import { TributaryError } from '@tributary/protocol';
import { ThroughputState, chartScale, chartStartMs, formatBytesPerSec, parseBrokerCounters, type BrokerCounters } from './console-throughput.ts';

/** A broker's /metrics text as prom-client writes it (default labels broker_id and rack). */
function metricsText(brokerId: number, bytesIn: number, replicationBytesIn: number): string {
  const labels = `{broker_id="${brokerId}",rack="rack-1"}`;
  return [
    '# HELP tributary_bytes_in_total Record bytes appended from producers',
    '# TYPE tributary_bytes_in_total counter',
    `tributary_bytes_in_total${labels} ${bytesIn}`,
    `tributary_bytes_in_total_created${labels} 1700000000`,
    `tributary_bytes_out_total${labels} 999999`,
    '# TYPE tributary_replication_bytes_in_total counter',
    `tributary_replication_bytes_in_total${labels} ${replicationBytesIn}`,
    '',
  ].join('\n');
}

const c = (bytesIn: number, replicationBytesIn: number): BrokerCounters => ({ bytesIn, replicationBytesIn });
const options = { windowMs: 10_000, samplesMax: 20, sampleGapMaxMs: 3000 };

describe('parseBrokerCounters', () => {
  it('reads the two counters of the broker asked, and nothing that only starts like them', () => {
    expect(parseBrokerCounters(metricsText(3, 1024, 2048), 3)).toEqual(c(1024, 2048));
    expect(parseBrokerCounters('tributary_bytes_in_total 5\ntributary_replication_bytes_in_total 6e3\n', 0)).toEqual(c(5, 6000));
  });

  it.each([
    ['another broker behind the address', metricsText(4, 1, 2), 3, 'metrics of broker 4 where broker 3 was asked'],
    ['a counter missing', 'tributary_bytes_in_total 5\n', 0, 'metrics lack tributary_replication_bytes_in_total'],
    ['not a number', 'tributary_bytes_in_total x\ntributary_replication_bytes_in_total 1\n', 0, 'not a counter value'],
    ['negative', 'tributary_bytes_in_total -1\ntributary_replication_bytes_in_total 1\n', 0, 'not a counter value'],
    ['an HTML page', '<html>not metrics</html>', 0, 'metrics lack tributary_bytes_in_total'],
  ])('refuses %s', (_what, text, brokerId, message) => {
    expect(() => parseBrokerCounters(text, brokerId)).toThrow(message);
  });
});

describe('ThroughputState', () => {
  it('draws a rate only between two answers in a row; a missing answer is a gap, not a zero', () => {
    const state = new ThroughputState(options);
    state.record(
      1000,
      new Map([
        [0, c(0, 0)],
        [3, c(100, 0)],
      ]),
    );
    state.record(
      2000,
      new Map([
        [0, c(1000, 500)],
        [3, c(100, 4000)],
      ]),
    );
    state.record(
      3000,
      new Map<number, BrokerCounters | Error>([
        [0, new TributaryError('REQUEST_TIMED_OUT', 'paused')],
        [3, c(600, 4000)],
      ]),
    );
    state.record(
      4000,
      new Map([
        [0, c(5000, 500)],
        [3, c(600, 4000)],
      ]),
    );
    state.record(
      4500,
      new Map([
        [0, c(6000, 1500)],
        [3, c(700, 4000)],
      ]),
    );
    const view = state.view(5000, [0, 3]);
    expect(view.times).toEqual([1000, 2000, 3000, 4000, 4500]);
    expect(view.brokers.map((b) => [b.label, b.produce, b.replication])).toEqual([
      ['B0', [null, 1000, null, null, 2000], [null, 500, null, null, 2000]],
      ['B3', [null, 0, 500, 0, 200], [null, 4000, 0, 0, 0]],
    ]);
    expect(view.brokers[0]!.latest).toEqual({ state: 'ok', produce: 2000, replication: 2000, produceText: '2 kB/s', replicationText: '2 kB/s' });
    expect(view.produceScale.max).toBe(2000);
    expect(view.replicationScale.max).toBe(5000);
  });

  it('says why the last sample is unknown, and measuring after a first answer', () => {
    const state = new ThroughputState(options);
    state.record(
      1000,
      new Map<number, BrokerCounters | Error>([
        [0, c(0, 0)],
        [1, new TributaryError('BROKER_NOT_AVAILABLE', 'refused')],
        [2, new Error('HTTP 500')],
        [3, new TributaryError('REQUEST_TIMED_OUT', 'paused')],
      ]),
    );
    expect(state.view(1000, [3]).brokers[0]!.latest).toEqual({ state: 'unknown', reason: 'REQUEST_TIMED_OUT', words: 'not answering' });
    const latest = state.view(1000, [0, 1, 2, 5]).brokers.map((b) => b.latest);
    expect(latest).toEqual([
      { state: 'measuring' },
      { state: 'unknown', reason: 'BROKER_NOT_AVAILABLE', words: 'unreachable' },
      { state: 'unknown', reason: 'HTTP 500', words: 'bad answer' },
      { state: 'unknown', reason: 'not asked', words: 'not asked' },
    ]);
  });

  it('counts a counter that went down as a restarted broker counting from zero (Prometheus rate)', () => {
    const state = new ThroughputState(options);
    state.record(1000, new Map([[0, c(50_000, 9000)]]));
    state.record(2000, new Map([[0, c(300, 100)]]));
    expect(state.view(2000, [0]).brokers[0]!.produce).toEqual([null, 300]);
    expect(state.view(2000, [0]).brokers[0]!.replication).toEqual([null, 100]);
  });

  it('starts a new line after a hole longer than sampleGapMaxMs (no one was watching)', () => {
    const state = new ThroughputState(options);
    state.record(1000, new Map([[0, c(0, 0)]]));
    state.record(5000, new Map([[0, c(4000, 0)]]));
    state.record(6000, new Map([[0, c(5000, 0)]]));
    expect(state.view(6000, [0]).brokers[0]!.produce).toEqual([null, null, 1000]);
  });

  it('keeps the window and at most samplesMax samples', () => {
    const state = new ThroughputState({ windowMs: 10_000, samplesMax: 5, sampleGapMaxMs: 3000 });
    for (let t = 1000; t <= 9000; t += 1000) state.record(t, new Map([[0, c(t, 0)]]));
    expect(state.size).toBe(5);
    expect(state.view(9000, [0]).times).toEqual([5000, 6000, 7000, 8000, 9000]);
    const wide = new ThroughputState({ windowMs: 3000, samplesMax: 100, sampleGapMaxMs: 3000 });
    for (let t = 1000; t <= 9000; t += 1000) wide.record(t, new Map([[0, c(t, 0)]]));
    expect(wide.size).toBe(4);
    // The view cuts at the window's start even between two records.
    expect(wide.view(9500, [0]).times).toEqual([7000, 8000, 9000]);
    expect(() => wide.record(9000, new Map())).toThrow('samples out of order');
  });
});

describe('chartStartMs', () => {
  const limits = { windowMs: 300_000, spanMinMs: 60_000 };
  it.each([
    ['nothing to show: the shortest axis', [], 940_000],
    ['a sample 10 s old: still the shortest axis', [990_000], 940_000],
    ['an event 2 min old: from it', [990_000, 880_000], 880_000],
    ['an event an hour old: the whole window', [undefined, -2_600_000], 700_000],
  ])('%s', (_what, oldest, start) => {
    expect(chartStartMs(1_000_000, limits, oldest)).toBe(start);
  });

  it('cuts the bytes/s view at the start it is given, never before the window', () => {
    const state = new ThroughputState(options);
    for (const t of [1000, 2000, 3000, 4000]) state.record(t, new Map([[0, c(t, 0)]]));
    expect(state.oldestMs()).toBe(1000);
    expect(state.view(4000, [0], 2500)).toMatchObject({ startMs: 2500, times: [3000, 4000] });
    expect(state.view(12_000, [0], 0)).toMatchObject({ startMs: 2000, times: [2000, 3000, 4000] });
  });
});

describe('chart scale and units', () => {
  it.each([
    [0, 1000, ['0 B/s', '500 B/s', '1 kB/s']],
    [999, 1000, ['0 B/s', '500 B/s', '1 kB/s']],
    [1001, 2000, ['0 B/s', '1 kB/s', '2 kB/s']],
    [4100, 5000, ['0 B/s', '2.5 kB/s', '5 kB/s']],
    [7_300_000, 10_000_000, ['0 B/s', '5 MB/s', '10 MB/s']],
    [20_000_000, 20_000_000, ['0 B/s', '10 MB/s', '20 MB/s']],
  ])('chartScale(%i) tops at %i', (max, top, labels) => {
    const scale = chartScale(max);
    expect(scale.max).toBe(top);
    expect(scale.ticks.map((t) => t.label)).toEqual(labels);
  });

  it.each([
    [0, '0 B/s'],
    [999, '999 B/s'],
    [1000, '1 kB/s'],
    [1234, '1.2 kB/s'],
    [12_345, '12 kB/s'],
    [1_500_000, '1.5 MB/s'],
    [3e12, '3000 GB/s'],
  ])('formatBytesPerSec(%d) = %s', (value, text) => {
    expect(formatBytesPerSec(value)).toBe(text);
  });
});
