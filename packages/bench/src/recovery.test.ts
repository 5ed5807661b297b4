import { describe, expect, it } from 'vitest';
import { EVENT_LOOP_MAX_METRIC, logEvents, metricValue, summarizeRestartLog } from './recovery.ts';

describe('metricValue', () => {
  const text = [
    '# HELP tributary_broker_nodejs_eventloop_lag_max_seconds The maximum recorded event loop delay.',
    '# TYPE tributary_broker_nodejs_eventloop_lag_max_seconds gauge',
    'tributary_broker_nodejs_eventloop_lag_max_seconds_total{broker_id="0"} 99',
    'tributary_broker_nodejs_eventloop_lag_max_seconds{broker_id="0",rack="rack-1"} 0.029425663',
    'tributary_broker_nodejs_eventloop_lag_min_seconds{broker_id="0",rack="rack-1"} 0.009183232',
    'plain_metric 12.5',
  ].join('\n');

  it('reads the sample of the metric named, not of a longer name nor a comment', () => {
    expect(metricValue(text, EVENT_LOOP_MAX_METRIC)).toBeCloseTo(0.029425663, 9);
    expect(metricValue(text, 'tributary_broker_nodejs_eventloop_lag_min_seconds')).toBeCloseTo(0.009183232, 9);
    expect(metricValue(text, 'plain_metric')).toBe(12.5);
  });

  it('is undefined when the metric is absent', () => {
    expect(metricValue(text, 'plain')).toBeUndefined();
    expect(metricValue('', EVENT_LOOP_MAX_METRIC)).toBeUndefined();
  });
});

describe('summarizeRestartLog', () => {
  const line = (time: number, msg: string, extra: Record<string, unknown> = {}, level = 30) => JSON.stringify({ level, time, msg, ...extra });
  const since = 1_000_000;
  const log = [
    // The previous incarnation: before the spawn, ignored.
    line(since - 5000, 'loaded logs', { logs: 1 }),
    line(since - 4000, 'recovery truncated segment', {}, 40),
    'not json',
    line(since + 900, 'data dir is new: made its meta.properties'),
    line(since + 950, 'opened log', { dir: '/d/broker-0/t-0', logEndOffset: 100, segments: 2, recoveryPoint: 50 }),
    line(since + 960, 'opened log', { dir: '/d/broker-0/other-0', logEndOffset: 7, segments: 1, recoveryPoint: 0 }),
    line(since + 970, 'recovery truncated segment', { dir: '/d/broker-0/t-0' }, 40),
    line(since + 1000, 'loaded logs', { logs: 2 }),
    line(since + 1020, 'broker listening'),
    line(since + 1030, 'registered with the controller'),
    line(since + 1040, 'became leader', { topic: 't', partition: 0 }),
    line(since + 1090, 'became leader', { topic: 'other', partition: 0 }),
  ].join('\n');

  it('gives the milestones of the incarnation started at sinceMs, relative to it', () => {
    const s = summarizeRestartLog(log, since, 't');
    expect(s).toMatchObject({ firstLineMs: 900, loadedLogsMs: 1000, logsLoaded: 2, listeningMs: 1020, registeredMs: 1030, lastBecameLeaderMs: 1040 });
    expect(s.openedLogs).toEqual([{ logEndOffset: 100, segments: 2, recoveryPoint: 50 }]);
    expect(s.warnings).toEqual({ 'recovery truncated segment': 1 });
  });

  it('is empty when the broker logged nothing since', () => {
    const s = summarizeRestartLog(log, since + 10_000, 't');
    expect([s.firstLineMs, s.loadedLogsMs, s.lastBecameLeaderMs]).toEqual([null, null, null]);
    expect(s.warnings).toEqual({});
  });
});

describe('logEvents', () => {
  const text = [
    JSON.stringify({ time: 10, msg: 'producer state rebuilt', topic: 't', ms: 1 }),
    JSON.stringify({ time: 20, msg: 'producer state rebuilt', topic: 'u', ms: 2 }),
    JSON.stringify({ time: 30, msg: 'producer state rebuilt', topic: 't', ms: 3 }),
    JSON.stringify({ time: 40, msg: 'producer state rebuilt twice', topic: 't', ms: 4 }),
    '{"msg":"producer state rebuilt", broken',
  ].join('\n');

  it('keeps the lines with exactly that message, from sinceMs on, of the topic', () => {
    expect(logEvents(text, 15, 'producer state rebuilt', 't').map((e) => e.ms)).toEqual([3]);
    expect(logEvents(text, 0, 'producer state rebuilt').map((e) => e.ms)).toEqual([1, 2, 3]);
    expect(logEvents(text, 50, 'producer state rebuilt')).toEqual([]);
  });
});
