// Latency histograms (hdr-histogram-js, microsecond resolution) and small helpers.

import * as hdr from 'hdr-histogram-js';

export interface LatencyHistogram {
  /** Records one latency in milliseconds. */
  recordMs(ms: number): void;
  percentileMs(p: number): number;
  maxMs(): number;
  count(): number;
}

export function latencyHistogram(): LatencyHistogram {
  // 1 µs .. 10 min, 3 significant digits.
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
  return {
    recordMs: (ms) => h.recordValue(Math.max(1, Math.min(600_000_000, Math.round(ms * 1000)))),
    percentileMs: (p) => h.getValueAtPercentile(p) / 1000,
    maxMs: () => h.maxValue / 1000,
    count: () => h.totalCount,
  };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const MB = 1_000_000;
