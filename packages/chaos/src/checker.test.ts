import { describe, expect, it } from 'vitest';
import { ANOMALY_KINDS, check, type AnomalyKind } from './checker.ts';
import { emptyHistory, parseHistory, type FinalReadOp, type History, type Outcome, type ReadOp, type SendOp } from './history.ts';

// A tiny history builder: sends to partition 0 unless told otherwise, times counting up.
let clock = 1000;
function send(value: string, outcome: Outcome, partition = 0, process = 'producer-0'): SendOp {
  clock += 10;
  return { kind: 'send', process, partition, value, startMs: clock, endMs: clock + 5, outcome };
}
const ok = (offset: number): Outcome => ({ type: 'ok', offset });
const fail = (code = 'NOT_ENOUGH_REPLICAS'): Outcome => ({ type: 'fail', code });
const info = (code = 'REQUEST_TIMED_OUT'): Outcome => ({ type: 'info', code });
function read(offset: number, value: string, process = 'consumer-0', partition = 0): ReadOp {
  return { kind: 'read', process, partition, offset, value, atMs: ++clock };
}
function final(records: [number, string][], partition = 0): FinalReadOp {
  return { kind: 'final', partition, logStartOffset: 0, highWatermark: records.length, records };
}
function history(parts: { sends?: SendOp[]; reads?: ReadOp[]; finals?: FinalReadOp[] }): History {
  return { ...emptyHistory(), sends: parts.sends ?? [], reads: parts.reads ?? [], finals: parts.finals ?? [] };
}

/** A correct run: three acknowledged writes, read in order by two consumers. */
function correct(): History {
  return history({
    sends: [send('a', ok(0)), send('b', ok(1)), send('c', ok(2))],
    reads: [read(0, 'a'), read(1, 'b'), read(2, 'c'), read(0, 'a', 'consumer-1'), read(1, 'b', 'consumer-1')],
    finals: [
      final([
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
      ]),
    ],
  });
}

function only(result: ReturnType<typeof check>, kind: AnomalyKind): void {
  expect(result.valid).toBe(false);
  expect(result.counts[kind], `${kind} not reported: ${JSON.stringify(result.counts)}`).toBeGreaterThan(0);
  expect(result.examples.some((a) => a.kind === kind)).toBe(true);
}

describe('check', () => {
  it('reports nothing for a correct history', () => {
    const result = check(correct());
    expect(result.valid).toBe(true);
    expect(result.violations).toBe(0);
    for (const k of ANOMALY_KINDS) expect(result.counts[k]).toBe(0);
    expect(result.sends).toEqual({ total: 3, ok: 3, failed: 0, indeterminate: 0 });
    expect(result.availability).toBe(1);
    // consumer-1 never read 'c': liveness, not a violation... but consumer-0 did, so it is seen.
    expect(result.counts.unseen).toBe(0);
  });

  it('reports a lost write: acknowledged, absent from the final log', () => {
    const h = correct();
    h.finals = [
      final([
        [0, 'a'],
        [1, 'b'],
      ]),
    ];
    h.reads = h.reads.filter((r) => r.value !== 'c');
    const result = check(h);
    only(result, 'lost-write');
    expect(result.examples.find((a) => a.kind === 'lost-write')?.value).toBe('c');
  });

  it('reports a lost write: acknowledged at one offset, found at another', () => {
    const h = history({
      sends: [send('a', ok(0)), send('b', ok(1))],
      finals: [
        final([
          [0, 'b'],
          [1, 'a'],
        ]),
      ],
    });
    only(check(h), 'lost-write');
  });

  it('reports a duplicate in the final log', () => {
    const h = correct();
    h.finals = [
      final([
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
        [3, 'b'],
      ]),
    ];
    only(check(h), 'duplicate');
  });

  it('reports a duplicate seen only by a consumer', () => {
    const h = correct();
    h.reads.push(read(5, 'a', 'consumer-2'));
    only(check(h), 'duplicate');
  });

  it('reports inconsistent offsets: two readers see different values at one offset', () => {
    const h = history({
      sends: [send('a', ok(0)), send('b', info()), send('x', info())],
      reads: [read(0, 'a'), read(1, 'b'), read(0, 'a', 'consumer-1'), read(1, 'x', 'consumer-1')],
      finals: [
        final([
          [0, 'a'],
          [1, 'b'],
        ]),
      ],
    });
    const result = check(h);
    only(result, 'inconsistent-offsets');
  });

  it('reports nonmonotonic reads: a consumer goes back', () => {
    const h = correct();
    h.reads = [read(0, 'a'), read(1, 'b'), read(0, 'a'), read(2, 'c')];
    only(check(h), 'nonmonotonic');
  });

  it('reports a skip: a consumer jumps over committed records', () => {
    const h = correct();
    h.reads = [read(0, 'a'), read(2, 'c')];
    only(check(h), 'skip');
  });

  it('reports a skip at the start: a consumer from the beginning misses offset 0', () => {
    const h = correct();
    h.reads = [read(1, 'b'), read(2, 'c')];
    only(check(h), 'skip');
  });

  it('reports a precommitted read: a consumer saw a record later truncated away', () => {
    const h = history({
      sends: [send('a', ok(0)), send('b', info()), send('c', ok(1))],
      reads: [read(0, 'a'), read(1, 'b')],
      finals: [
        final([
          [0, 'a'],
          [1, 'c'],
        ]),
      ],
    });
    const result = check(h);
    only(result, 'precommitted-read');
  });

  it('reports a precommitted read past the final end of the log', () => {
    const h = history({ sends: [send('a', ok(0)), send('b', info())], reads: [read(0, 'a'), read(1, 'b')], finals: [final([[0, 'a']])] });
    only(check(h), 'precommitted-read');
  });

  it('reports a definitely failed write that appears in the log', () => {
    const h = correct();
    h.sends.push(send('d', fail()));
    h.finals = [
      final([
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
        [3, 'd'],
      ]),
    ];
    only(check(h), 'failed-write-visible');
  });

  it('reports a definitely failed write that only a consumer saw', () => {
    const h = correct();
    h.sends.push(send('d', fail()));
    h.reads.push(read(3, 'd'));
    const result = check(h);
    only(result, 'failed-write-visible');
  });

  it('reports a phantom: a value nobody sent to the partition', () => {
    const h = correct();
    h.finals = [
      final([
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
        [3, 'zzz'],
      ]),
    ];
    only(check(h), 'phantom');
  });

  it('accepts indeterminate writes whether they appear or not', () => {
    const appears = correct();
    appears.sends.push(send('d', info()), send('e', info('BROKER_NOT_AVAILABLE')));
    appears.finals = [
      final([
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
        [3, 'd'],
      ]),
    ];
    appears.reads.push(read(3, 'd'));
    const r1 = check(appears);
    expect(r1.valid).toBe(true);
    expect(r1.partitions[0]!.indeterminateVisible).toBe(1);
    expect(r1.sends.indeterminate).toBe(2);
    expect(r1.availability).toBeCloseTo(3 / 5);

    const missing = correct();
    missing.sends.push(send('d', info()));
    expect(check(missing).valid).toBe(true);
  });

  it('accepts a definite failure that does not appear', () => {
    const h = correct();
    h.sends.push(send('d', fail()));
    expect(check(h).valid).toBe(true);
  });

  it('counts unseen records as liveness, not as a violation', () => {
    const h = correct();
    h.reads = [read(0, 'a')];
    const result = check(h);
    expect(result.valid).toBe(true);
    expect(result.counts.unseen).toBe(2);
  });

  it('keeps partitions apart', () => {
    const h = history({
      sends: [send('a', ok(0), 0), send('b', ok(0), 1)],
      finals: [final([[0, 'a']], 0), final([[0, 'b']], 1)],
      reads: [read(0, 'a', 'consumer-0', 0), read(0, 'b', 'consumer-0', 1)],
    });
    expect(check(h).valid).toBe(true);
    // The same value in the other partition is a phantom there and lost here.
    h.finals = [
      final([], 0),
      final(
        [
          [0, 'b'],
          [1, 'a'],
        ],
        1,
      ),
    ];
    h.reads = [];
    const result = check(h);
    expect(result.counts['lost-write']).toBe(1);
    expect(result.counts.phantom).toBe(1);
  });

  it('cannot judge a partition written to but never read at the end', () => {
    const h = correct();
    h.finals = [];
    const result = check(h);
    expect(result.valid).toBe(false);
    expect(result.missingFinalReads).toEqual([0]);
  });

  it("measures each fault's unavailability window on the partitions it hit", () => {
    const sends: SendOp[] = [
      { kind: 'send', process: 'p', partition: 0, value: 'a', startMs: 100, endMs: 110, outcome: ok(0) },
      // Started before the fault: does not count as recovery.
      { kind: 'send', process: 'p', partition: 0, value: 'b', startMs: 990, endMs: 1500, outcome: ok(1) },
      { kind: 'send', process: 'p', partition: 0, value: 'c', startMs: 1100, endMs: 4000, outcome: ok(2) },
      { kind: 'send', process: 'p', partition: 1, value: 'd', startMs: 1200, endMs: 2000, outcome: ok(0) },
      { kind: 'send', process: 'p', partition: 1, value: 'e', startMs: 1300, endMs: 1800, outcome: fail() },
    ];
    const h = history({ sends });
    h.faults = [
      { kind: 'fault', id: 0, fault: 'kill', targets: ['broker-0'], startMs: 1000, healedMs: 3000, partitions: [0, 1] },
      { kind: 'fault', id: 1, fault: 'pause', targets: ['broker-1'], startMs: 5000, healedMs: 6000, partitions: [1] },
    ];
    const [w0, w1] = check(h).windows;
    expect(w0).toMatchObject({ id: 0, unavailableMs: 3000, slowestPartition: 0 });
    expect(w1!.unavailableMs).toBeUndefined();
    expect(w1!.slowestPartition).toBe(1);
  });

  it('round-trips a history through JSON lines', () => {
    const h = correct();
    const text = [...h.sends, ...h.reads, ...h.finals].map((e) => JSON.stringify(e)).join('\n');
    const parsed = parseHistory(`${text}\n`);
    expect(check(parsed)).toEqual(check(h));
    expect(() => parseHistory('{"kind":"nope"}')).toThrow(/line 1/);
  });
});
