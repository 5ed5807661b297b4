import { describe, expect, it } from 'vitest';
import { formatBytes, formatEta, progressBar, reassignmentProgress, renderProgress, type ProgressPartition } from './reassign-progress.ts';

/** demo-6 moving from [0,3,1] to [6,3,1]: B6 copies from leader B0; the log holds offsets 0..end, `bytes` in all. */
function p6(end: number, b6: number, bytes = end * 100, extra: Partial<ProgressPartition> = {}): ProgressPartition {
  return {
    topic: 'demo',
    partition: 6,
    replicas: [6, 3, 1, 0],
    addingReplicas: [6],
    removingReplicas: [0],
    leader: 0,
    logStartOffset: 0,
    logEndOffset: end,
    logSizeBytes: bytes,
    replicaEnds: [
      { brokerId: 0, logEndOffset: end },
      { brokerId: 3, logEndOffset: end },
      { brokerId: 1, logEndOffset: end },
      { brokerId: 6, logEndOffset: b6 },
    ],
    ...extra,
  };
}

describe('reassignmentProgress', () => {
  it.each([
    // [what, prev sample, next sample, expected copy of B6]
    ['one sample: bytes and percent, no rate or ETA', undefined, p6(1000, 250), { copiedBytes: 25_000, totalBytes: 100_000, percent: 25 }],
    [
      'two samples a second apart, quiet partition: rate = bytes copied per second, ETA = gap / how fast it closes',
      p6(1000, 250),
      p6(1000, 500),
      { copiedBytes: 50_000, totalBytes: 100_000, percent: 50, rateBytesPerSec: 25_000, etaMs: 2000 },
    ],
    [
      'producers append meanwhile: the gap closes slower than the copy runs, and the ETA says so',
      p6(1000, 250),
      p6(1100, 500),
      { copiedBytes: 50_000, totalBytes: 110_000, percent: 45.4, rateBytesPerSec: 25_000, etaMs: 4000 },
    ],
    [
      'a gap that does not close has no ETA',
      p6(1000, 250),
      p6(1300, 500),
      { copiedBytes: 50_000, totalBytes: 130_000, percent: 38.4, rateBytesPerSec: 25_000 },
    ],
    ['not fetched yet (LEO -1): nothing copied', undefined, p6(1000, -1), { copiedBytes: 0, totalBytes: 100_000, percent: 0 }],
    ['caught up: 100 %, ETA 0', p6(1000, 900), p6(1000, 1000), { copiedBytes: 100_000, totalBytes: 100_000, percent: 100, rateBytesPerSec: 10_000, etaMs: 0 }],
    ['one offset short is not 100 %', undefined, p6(1000, 999), { copiedBytes: 99_900, totalBytes: 100_000, percent: 99.9 }],
    [
      'a log whose start moved (retention): counted from the log start',
      undefined,
      p6(1000, 600, 50_000, { logStartOffset: 500 }),
      { copiedBytes: 10_000, totalBytes: 50_000, percent: 20 },
    ],
  ])('%s', (_what, prev, next, copy) => {
    const report = reassignmentProgress(prev === undefined ? undefined : { timeMs: 0, partitions: [prev] }, { timeMs: 1000, partitions: [next] });
    expect(report.partitions[0]!.copies).toEqual([{ brokerId: 6, ...copy }]);
    expect(report.partitions[0]).toMatchObject({
      target: [6, 3, 1],
      adding: [6],
      removing: [0],
      leader: 0,
      copiedBytes: copy.copiedBytes,
      percent: copy.percent,
    });
  });

  it('sums partitions; the ETA is the slowest; a leader that did not answer leaves its numbers unknown', () => {
    const quick = { ...p6(1000, 500), partition: 3 };
    const slow = p6(1000, 250);
    const report = reassignmentProgress(
      {
        timeMs: 0,
        partitions: [{ ...p6(1000, 400), partition: 3 }, p6(1000, 200)],
      },
      { timeMs: 1000, partitions: [slow, quick] },
    );
    expect(report.partitions.map((p) => [p.partition, p.etaMs])).toEqual([
      [3, 5000],
      [6, 15_000],
    ]);
    expect(report).toMatchObject({ copiedBytes: 75_000, totalBytes: 200_000, percent: 37.5, rateBytesPerSec: 15_000, etaMs: 15_000, intervalMs: 1000 });
    const silent = reassignmentProgress(undefined, {
      timeMs: 0,
      partitions: [
        {
          ...p6(0, 0),
          logStartOffset: undefined,
          logEndOffset: undefined,
          logSizeBytes: undefined,
          replicaEnds: undefined,
          error: 'leader 0 did not answer within 1500 ms',
        },
      ],
    });
    expect(silent.partitions[0]).toMatchObject({ copies: [{ brokerId: 6 }], note: 'leader 0 did not answer within 1500 ms' });
    expect(silent.partitions[0]!.percent).toBeUndefined();
  });

  it('a move that adds nothing (removal or new order) has nothing to copy', () => {
    const report = reassignmentProgress(undefined, {
      timeMs: 0,
      partitions: [{ ...p6(10, 10), replicas: [3, 1, 0], addingReplicas: [], removingReplicas: [0] }],
    });
    expect(report.partitions[0]).toMatchObject({ percent: 100, copiedBytes: 0, totalBytes: 0, note: expect.stringMatching(/nothing to copy/) });
  });
});

describe('rendering', () => {
  it.each([
    [999, '999 B'],
    [1000, '1.00 kB'],
    [1_536_000, '1.54 MB'],
    [52_428_800, '52.4 MB'],
    [1_073_741_824, '1.07 GB'],
  ])('formatBytes(%i) = %s', (n, text) => expect(formatBytes(n)).toBe(text));

  it.each([
    [undefined, '?'],
    [0, '0 s'],
    [1200, '2 s'],
    [75_000, '1 min 15 s'],
    [7_300_000, '2 h 1 min'],
  ])('formatEta(%j) = %s', (ms, text) => expect(formatEta(ms)).toBe(text));

  it('draws a bar of 20 cells', () => {
    expect(progressBar(0)).toBe('[....................]');
    expect(progressBar(52.5)).toBe('[##########..........]');
    expect(progressBar(100)).toBe('[####################]');
  });

  it('the status view: a summary, then one row per partition, with a bar only on a terminal', () => {
    const report = reassignmentProgress({ timeMs: 0, partitions: [p6(1000, 250)] }, { timeMs: 1000, partitions: [p6(1000, 500)] });
    expect(renderProgress(report, { bar: false })).toEqual([
      '1 partition being reassigned: 50.0 kB of 100.0 kB copied (50.0%) at 25.0 kB/s, ETA 2 s',
      'PARTITION  TARGET  ADDING  REMOVING  LEADER  COPIED              PROGRESS  ETA',
      'demo-6     6,3,1   6       0         B0      50.0 kB / 100.0 kB  50.0%     2 s',
    ]);
    expect(renderProgress(report, { bar: true })[2]).toContain('[##########..........] 50.0%');
    expect(renderProgress(reassignmentProgress(undefined, { timeMs: 0, partitions: [] }), { bar: true })).toEqual(['no reassignment in progress']);
  });
});
