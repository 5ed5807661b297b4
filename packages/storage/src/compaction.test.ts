// Table tests of the cleaning decisions (compaction.ts): which offsets a cleaning may touch,
// which log goes first, how segments are grouped, what a record and a batch become.

import { describe, expect, it } from 'vitest';
import {
  batchOutcome,
  cleanableOffsets,
  grabFilthiestLog,
  groupSegments,
  logToClean,
  recordRetained,
  type CompactionView,
  type LogToClean,
  type SegmentFacts,
} from './compaction.ts';

/** Closed segments of 100 offsets and `size` bytes each from offset 0, appended at 1000, 2000, …. */
function segments(n: number, size = 1000): SegmentFacts[] {
  return Array.from({ length: n }, (_, i) => ({
    baseOffset: i * 100,
    nextOffset: (i + 1) * 100,
    sizeBytes: size,
    rollBaseMs: (i + 1) * 1000,
    lastAppendMs: (i + 1) * 1000 + 500,
  }));
}

function view(overrides: Partial<CompactionView> = {}): CompactionView {
  const closed = overrides.closed ?? segments(4);
  return {
    logStartOffset: closed[0]?.baseOffset ?? 0,
    logEndOffset: 450,
    highWatermark: 450,
    closed,
    activeBaseOffset: closed.at(-1)?.nextOffset ?? 0,
    firstDirtyCheckpoint: undefined,
    config: { minCleanableDirtyRatio: 0.5, minCompactionLagMs: 0, maxCompactionLagMs: Number.MAX_SAFE_INTEGER },
    ...overrides,
  };
}

const NOW = 100_000;

describe('cleanableOffsets (Kafka LogCleanerManager.cleanableOffsets)', () => {
  it.each([
    // name, view overrides, expected [firstDirty, firstUncleanable, forceUpdate]
    ['never cleaned: from the log start to the active segment', {}, [0, 400, false]],
    ['from the checkpoint', { firstDirtyCheckpoint: 200 }, [200, 400, false]],
    ['never past the high watermark', { highWatermark: 250 }, [0, 250, false]],
    ['a high watermark below the checkpoint cleans nothing', { firstDirtyCheckpoint: 300, highWatermark: 250 }, [300, 300, false]],
    [
      'a checkpoint below the log start (retention) is reset',
      { firstDirtyCheckpoint: 50, logStartOffset: 100, closed: segments(4).slice(1) },
      [100, 400, true],
    ],
    ['a checkpoint past the log end (a truncation) is reset', { firstDirtyCheckpoint: 900 }, [0, 400, true]],
    [
      'min.compaction.lag.ms stops at the first dirty segment appended to within it',
      { config: { minCleanableDirtyRatio: 0.5, minCompactionLagMs: NOW - 2600, maxCompactionLagMs: Number.MAX_SAFE_INTEGER } },
      [0, 200, false],
    ],
    [
      'min.compaction.lag.ms only looks at dirty segments',
      { firstDirtyCheckpoint: 300, config: { minCleanableDirtyRatio: 0.5, minCompactionLagMs: NOW - 2600, maxCompactionLagMs: Number.MAX_SAFE_INTEGER } },
      [300, 300, false],
    ],
    [
      'min.compaction.lag.ms longer than the log is old: nothing',
      { config: { minCleanableDirtyRatio: 0.5, minCompactionLagMs: NOW, maxCompactionLagMs: Number.MAX_SAFE_INTEGER } },
      [0, 0, false],
    ],
  ] as const)('%s', (_name, overrides, [firstDirty, firstUncleanable, force]) => {
    expect(cleanableOffsets(view(overrides as Partial<CompactionView>), NOW)).toEqual({
      firstDirtyOffset: firstDirty,
      firstUncleanableOffset: firstUncleanable,
      forceUpdateCheckpoint: force,
    });
  });
});

describe('logToClean: dirty ratio and max.compaction.lag.ms', () => {
  it.each([
    ['never cleaned: all dirty', {}, { cleanBytes: 0, cleanableBytes: 4000, cleanableRatio: 1 }],
    ['half cleaned', { firstDirtyCheckpoint: 200 }, { cleanBytes: 2000, cleanableBytes: 2000, cleanableRatio: 0.5 }],
    [
      'a high watermark inside a segment: only the whole segments below it count',
      { firstDirtyCheckpoint: 100, highWatermark: 250 },
      { cleanBytes: 1000, cleanableBytes: 1000, cleanableRatio: 0.5 },
    ],
    ['all clean', { firstDirtyCheckpoint: 400 }, { cleanBytes: 4000, cleanableBytes: 0, cleanableRatio: 0 }],
    [
      'nothing but the active segment',
      { closed: [], logEndOffset: 30, activeBaseOffset: 0 },
      { cleanBytes: 0, cleanableBytes: 0, cleanableRatio: 0, totalBytes: 0 },
    ],
  ] as const)('%s', (_name, overrides, expected) => {
    expect(logToClean(view(overrides as Partial<CompactionView>), NOW)).toMatchObject(expected);
  });

  it('max.compaction.lag.ms: due once the oldest dirty segment is older than the lag, counted from its first append', () => {
    const config = { minCleanableDirtyRatio: 0.5, minCompactionLagMs: 0, maxCompactionLagMs: 10_000 };
    // Dirty from 300: that segment's first append was at 4000.
    expect(logToClean(view({ firstDirtyCheckpoint: 300, config }), 14_000)).toMatchObject({ needCompactionNow: false, compactionDelayMs: 0 });
    expect(logToClean(view({ firstDirtyCheckpoint: 300, config }), 14_001)).toMatchObject({ needCompactionNow: true, compactionDelayMs: 1 });
    // Clean segments do not count, however old.
    expect(logToClean(view({ firstDirtyCheckpoint: 400, config }), 14_001)).toMatchObject({ needCompactionNow: false });
  });
});

function toClean(cleanableRatio: number, extra: Partial<LogToClean> = {}): LogToClean {
  return {
    firstDirtyOffset: 0,
    firstUncleanableOffset: 100,
    forceUpdateCheckpoint: false,
    cleanBytes: 1000 * (1 - cleanableRatio),
    cleanableBytes: 1000 * cleanableRatio,
    totalBytes: 1000,
    cleanableRatio,
    compactionDelayMs: 0,
    needCompactionNow: false,
    ...extra,
  };
}

describe('grabFilthiestLog (Kafka grabFilthiestCompactedLog)', () => {
  it.each([
    [
      'the dirtiest above its ratio',
      [
        ['a', 0.6, 0.5],
        ['b', 0.9, 0.5],
        ['c', 0.7, 0.5],
      ],
      'b',
      0.9,
    ],
    ['strictly above: at the ratio is not enough', [['a', 0.5, 0.5]], undefined, 0.5],
    [
      'each log its own ratio',
      [
        ['a', 0.3, 0.2],
        ['b', 0.4, 0.5],
      ],
      'a',
      0.4,
    ],
    ['none', [], undefined, 0],
  ] as const)('%s', (_name, logs, chosen, max) => {
    const got = grabFilthiestLog(logs.map(([id, ratio, min]) => ({ id, toClean: toClean(ratio), minCleanableDirtyRatio: min })));
    expect(got.chosen?.id).toBe(chosen);
    expect(got.maxDirtyRatio).toBe(max);
  });

  it('takes a log past max.compaction.lag.ms whatever its ratio, if anything is cleanable', () => {
    const due = toClean(0.1, { needCompactionNow: true, compactionDelayMs: 5 });
    expect(grabFilthiestLog([{ id: 'a', toClean: due, minCleanableDirtyRatio: 0.5 }]).chosen?.id).toBe('a');
    const dueButEmpty = toClean(0, { needCompactionNow: true, cleanableBytes: 0 });
    expect(grabFilthiestLog([{ id: 'a', toClean: dueButEmpty, minCleanableDirtyRatio: 0.5 }]).chosen).toBeUndefined();
  });

  it('skips empty logs', () => {
    expect(grabFilthiestLog([{ id: 'a', toClean: toClean(0, { totalBytes: 0 }), minCleanableDirtyRatio: 0 }])).toEqual({ chosen: undefined, maxDirtyRatio: 0 });
  });
});

describe('groupSegments (Kafka groupSegmentsBySize)', () => {
  it.each([
    [
      'all below the end, grouped by size',
      segments(5, 400),
      1000,
      500,
      [
        [0, 2],
        [2, 4],
        [4, 5],
      ],
    ],
    [
      'only segments starting below the end',
      segments(5, 400),
      1000,
      250,
      [
        [0, 2],
        [2, 3],
      ],
    ],
    [
      'a segment bigger than the limit is a group of its own',
      segments(3, 1500),
      1000,
      300,
      [
        [0, 1],
        [1, 2],
        [2, 3],
      ],
    ],
    ['nothing below the end', segments(3), 1000, 0, []],
  ] as const)('%s', (_name, segs, maxBytes, end, expected) => {
    expect(groupSegments(segs, maxBytes, end).map((g) => [g.from, g.to])).toEqual(expected);
  });

  it('never spans more than INT32_MAX offsets in one group (the index stores them relative)', () => {
    const huge: SegmentFacts[] = [
      { baseOffset: 0, nextOffset: 2 ** 30, sizeBytes: 10, rollBaseMs: 1, lastAppendMs: 1 },
      { baseOffset: 2 ** 30, nextOffset: 2 ** 31 + 10, sizeBytes: 10, rollBaseMs: 1, lastAppendMs: 1 },
    ];
    expect(groupSegments(huge, 1000, 2 ** 32).map((g) => [g.from, g.to])).toEqual([
      [0, 1],
      [1, 2],
    ]);
  });
});

describe('recordRetained (Kafka shouldRetainRecord, KIP-534)', () => {
  const latest = new Map([
    ['k', 50],
    ['t', 60],
  ]);
  const ctx = (deleteHorizonMs?: number) => ({ endOffset: 100, latestOffsetOf: (key: string) => latest.get(key), deleteHorizonMs, nowMs: 5000 });
  it.each([
    ['an older record of a key', { offset: 10, key: 'k', tombstone: false }, undefined, false],
    ['the latest record of a key', { offset: 50, key: 'k', tombstone: false }, undefined, true],
    ['a key the dirty part never wrote (clean already)', { offset: 5, key: 'x', tombstone: false }, undefined, true],
    ['a record without a key', { offset: 5, key: null, tombstone: false }, undefined, false],
    ['a tombstone not yet stamped', { offset: 60, key: 't', tombstone: true }, undefined, true],
    ['a tombstone before its horizon', { offset: 60, key: 't', tombstone: true }, 5001, true],
    ['a tombstone at its horizon', { offset: 60, key: 't', tombstone: true }, 5000, false],
    ['a value in a batch past its horizon (only tombstones go)', { offset: 50, key: 'k', tombstone: false }, 10, true],
    ['an older tombstone', { offset: 20, key: 't', tombstone: true }, undefined, false],
    ['anything at or past the end', { offset: 100, key: null, tombstone: true }, 10, true],
  ] as const)('%s', (_name, record, horizon, expected) => {
    expect(recordRetained(record, ctx(horizon))).toBe(expected);
  });
});

describe('batchOutcome', () => {
  it.each([
    ['every record kept', [5, 5, false, false], 'keep'],
    ['every record kept, a tombstone to stamp', [5, 5, true, false], 'rewrite'],
    ['some records kept', [5, 2, false, false], 'rewrite'],
    ['none kept', [5, 0, false, false], 'drop'],
    ['none kept, its producer’s last batch', [5, 0, false, true], 'empty'],
    ['an empty header, still its producer’s last', [0, 0, false, true], 'keep'],
    ['an empty header, producer moved on or expired', [0, 0, false, false], 'drop'],
  ] as const)('%s', (_name, [count, kept, horizon, last], expected) => {
    expect(batchOutcome(count, kept, horizon, last)).toBe(expected);
  });
});
