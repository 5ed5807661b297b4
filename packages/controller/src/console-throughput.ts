// The console's bytes/s charts: produce bytes in and replication bytes in, per broker, for the
// last few minutes. While a console is open the controller reads every broker's two Prometheus
// counters (`tributary_bytes_in_total`, `tributary_replication_bytes_in_total`, Kafka's
// BytesInPerSec and ReplicationBytesInPerSec) about once a second; this file turns those samples
// into rates. Pure: the sampler passes the time and what each broker answered, so the rules
// (a rate only between two answers in a row, a counter that went down is a restarted broker,
// a broker that did not answer is a gap, not a zero) are tested without sockets.

import type { BrokerId } from '@tributary/protocol';

export interface BrokerCounters {
  /** tributary_bytes_in_total: record bytes appended from producers. */
  bytesIn: number;
  /** tributary_replication_bytes_in_total: record bytes copied from leaders. */
  replicationBytesIn: number;
}

/** Bytes per second over the interval that ended at a sample. */
export interface BrokerRates {
  produce: number;
  replication: number;
}

const COUNTERS: Readonly<Record<keyof BrokerCounters, string>> = {
  bytesIn: 'tributary_bytes_in_total',
  replicationBytesIn: 'tributary_replication_bytes_in_total',
};

/**
 * Reads the two counters from a broker's `GET /metrics` text (Prometheus exposition format). The
 * `broker_id` label must be the broker that was asked: after restarts on other ports, an address
 * can belong to another broker, whose bytes must not be drawn as this one's.
 */
export function parseBrokerCounters(text: string, brokerId: BrokerId): BrokerCounters {
  const found: Partial<BrokerCounters> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    for (const [key, name] of Object.entries(COUNTERS) as [keyof BrokerCounters, string][]) {
      if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
      const match = /^[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
      if (match === null) throw new Error(`unreadable metrics line: ${line.slice(0, 200)}`);
      const labelled = /(?:^|,)broker_id="([^"]*)"/.exec(match[1] ?? '')?.[1];
      if (labelled !== undefined && labelled !== String(brokerId)) {
        throw new Error(`metrics of broker ${labelled} where broker ${brokerId} was asked`);
      }
      const value = Number(match[2]);
      if (!Number.isFinite(value) || value < 0) throw new Error(`${name} is not a counter value: ${match[2]}`);
      found[key] = value;
    }
  }
  if (found.bytesIn === undefined || found.replicationBytesIn === undefined) {
    throw new Error(`metrics lack ${found.bytesIn === undefined ? COUNTERS.bytesIn : COUNTERS.replicationBytesIn}`);
  }
  return { bytesIn: found.bytesIn, replicationBytesIn: found.replicationBytesIn };
}

export interface ThroughputOptions {
  /** How far back the charts reach; older samples are dropped. */
  windowMs: number;
  /** Samples kept at most (the window over the sampling interval, plus slack). */
  samplesMax: number;
  /**
   * Two answers further apart than this are not one interval (no one was watching, or the
   * sampler stalled): the later one starts a new line instead of averaging over the hole.
   */
  sampleGapMaxMs: number;
}

/** What one broker's sample came to: a rate, the first sample of a line, or no answer. */
type Point = BrokerRates | 'start' | { unknown: string };

interface Sample {
  timeMs: number;
  points: Map<BrokerId, Point>;
}

export interface ThroughputBroker {
  brokerId: BrokerId;
  /** `B0`. */
  label: string;
  /** Bytes/s per sample time, null where unknown (no answer, or the first answer of a line). */
  produce: (number | null)[];
  replication: (number | null)[];
  /** The last sample: a rate, `measuring` (one answer so far), or why it is unknown. */
  latest:
    | { state: 'ok'; produce: number; replication: number; produceText: string; replicationText: string }
    | { state: 'measuring' }
    /** `reason` as the call failed (an error code), `words` short enough for a broker's card. */
    | { state: 'unknown'; reason: string; words: string };
}

export interface ChartScale {
  /** The top of the y axis, a round number at or above the largest value. */
  max: number;
  ticks: { value: number; label: string }[];
}

export interface ThroughputView {
  startMs: number;
  endMs: number;
  /** Sample times, shared by every broker's series. */
  times: number[];
  /** Brokers in the order asked for (the seed's row order). */
  brokers: ThroughputBroker[];
  produceScale: ChartScale;
  replicationScale: ChartScale;
}

export class ThroughputState {
  private readonly options: ThroughputOptions;
  private readonly samples: Sample[] = [];
  /** Each broker's last answer, the base of its next rate; only brokers of the last sample. */
  private readonly last = new Map<BrokerId, { timeMs: number; counters: BrokerCounters }>();

  constructor(options: ThroughputOptions) {
    if (!(options.samplesMax >= 2 && options.windowMs > 0 && options.sampleGapMaxMs > 0)) {
      throw new Error(`bad throughput options ${JSON.stringify(options)}`);
    }
    this.options = options;
  }

  /** One round of asking: each broker's counters, or the error that stood for them. */
  record(timeMs: number, answers: ReadonlyMap<BrokerId, BrokerCounters | Error>): void {
    const previous = this.samples.at(-1);
    if (previous !== undefined && timeMs <= previous.timeMs) throw new Error(`samples out of order: ${timeMs} after ${previous.timeMs}`);
    const points = new Map<BrokerId, Point>();
    for (const [id, answer] of answers) {
      if (answer instanceof Error) {
        // No answer breaks the line: the next rate starts from the next answer, not from before the hole.
        const code = (answer as Error & { code?: unknown }).code;
        points.set(id, { unknown: typeof code === 'string' ? code : answer.message });
        this.last.delete(id);
        continue;
      }
      const before = this.last.get(id);
      this.last.set(id, { timeMs, counters: answer });
      if (before === undefined || timeMs - before.timeMs > this.options.sampleGapMaxMs) {
        points.set(id, 'start');
        continue;
      }
      const seconds = (timeMs - before.timeMs) / 1000;
      points.set(id, {
        produce: Math.round(increase(before.counters.bytesIn, answer.bytesIn) / seconds),
        replication: Math.round(increase(before.counters.replicationBytesIn, answer.replicationBytesIn) / seconds),
      });
    }
    for (const id of [...this.last.keys()]) if (!answers.has(id)) this.last.delete(id);
    this.samples.push({ timeMs, points });
    const oldestMs = timeMs - this.options.windowMs;
    let drop = Math.max(0, this.samples.length - this.options.samplesMax);
    while (drop < this.samples.length && this.samples[drop]!.timeMs < oldestMs) drop++;
    this.samples.splice(0, drop);
  }

  get size(): number {
    return this.samples.length;
  }

  /** The time of the oldest sample kept, if any. */
  oldestMs(): number | undefined {
    return this.samples[0]?.timeMs;
  }

  /**
   * The charts' data from `startMs` (at most the window back; see chartStartMs) to `nowMs`,
   * brokers in `brokers` order.
   */
  view(nowMs: number, brokers: readonly BrokerId[], startMs = nowMs - this.options.windowMs): ThroughputView {
    startMs = Math.max(startMs, nowMs - this.options.windowMs);
    const shown = this.samples.filter((s) => s.timeMs >= startMs && s.timeMs <= nowMs);
    const last = this.samples.at(-1);
    let produceMax = 0;
    let replicationMax = 0;
    const series = brokers.map((brokerId): ThroughputBroker => {
      const produce: (number | null)[] = [];
      const replication: (number | null)[] = [];
      for (const s of shown) {
        const p = s.points.get(brokerId);
        const rates = typeof p === 'object' && 'produce' in p ? p : undefined;
        produce.push(rates?.produce ?? null);
        replication.push(rates?.replication ?? null);
        if (rates !== undefined) {
          produceMax = Math.max(produceMax, rates.produce);
          replicationMax = Math.max(replicationMax, rates.replication);
        }
      }
      return { brokerId, label: `B${brokerId}`, produce, replication, latest: latestOf(last?.points.get(brokerId)) };
    });
    return {
      startMs,
      endMs: nowMs,
      times: shown.map((s) => s.timeMs),
      brokers: series,
      produceScale: chartScale(produceMax),
      replicationScale: chartScale(replicationMax),
    };
  }
}

/**
 * Where both charts' time axis starts: at the oldest thing they have to show (a sample, an
 * event), but never more than `windowMs` back, and at least `spanMinMs` back so a minute-old
 * cluster is not stretched over the whole width. Shared, so bytes/s and the timeline line up.
 */
export function chartStartMs(
  nowMs: number,
  { windowMs, spanMinMs }: { windowMs: number; spanMinMs: number },
  oldestMs: readonly (number | undefined)[],
): number {
  const oldest = Math.min(nowMs - spanMinMs, ...oldestMs.filter((t): t is number => t !== undefined));
  return Math.max(nowMs - windowMs, oldest);
}

/** Prometheus's rule for a counter that went down: the process restarted and counted from 0. */
function increase(before: number, after: number): number {
  return after >= before ? after - before : after;
}

/** The transport's two ways a broker fails to answer, in words: nothing listens, or nothing answers (paused). */
const REASON_WORDS: Readonly<Record<string, string>> = {
  BROKER_NOT_AVAILABLE: 'unreachable',
  REQUEST_TIMED_OUT: 'not answering',
};

function latestOf(point: Point | undefined): ThroughputBroker['latest'] {
  if (point === undefined) return { state: 'unknown', reason: 'not asked', words: 'not asked' };
  if (point === 'start') return { state: 'measuring' };
  if ('unknown' in point) return { state: 'unknown', reason: point.unknown, words: REASON_WORDS[point.unknown] ?? 'bad answer' };
  return { state: 'ok', ...point, produceText: formatBytesPerSec(point.produce), replicationText: formatBytesPerSec(point.replication) };
}

/** A y axis from 0 to the first 1, 2 or 5 × 10^k at or above `max` (1 kB/s for an idle chart). */
export function chartScale(max: number): ChartScale {
  let top = 1000;
  if (max > top) {
    const magnitude = 10 ** Math.floor(Math.log10(max));
    top = [1, 2, 5, 10].map((m) => m * magnitude).find((v) => v >= max)!;
  }
  return { max: top, ticks: [0, top / 2, top].map((value) => ({ value, label: formatBytesPerSec(value) })) };
}

/** `0 B/s`, `512 B/s`, `2.5 kB/s`, `12 MB/s` (decimal units, as Kafka's BytesInPerSec is read). */
export function formatBytesPerSec(bytesPerSec: number): string {
  const units = ['B/s', 'kB/s', 'MB/s', 'GB/s'];
  let value = bytesPerSec;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${Number(value.toFixed(digits))} ${units[unit]}`;
}
