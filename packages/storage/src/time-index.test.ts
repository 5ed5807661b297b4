import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Log } from './log.ts';
import { TimeIndex } from './segment.ts';
import { batch, removeTempDirs, tempDir, testConfig } from './internal/test-support.ts';

afterEach(removeTempDirs);

describe('TimeIndex', () => {
  it('marks, every index.interval.bytes, where every earlier batch is older than a target', () => {
    const t = new TimeIndex();
    // Batches of 100 bytes with these max timestamps; an entry every 200 bytes.
    const stamps = [10, 30, 20, 50, 40, 40, 90, 60];
    for (const [i, ts] of stamps.entries()) t.add(i * 100, 100, ts, 200);
    expect(t.entryCount).toBe(3); // at 200 (max before 30), 400 (50), 600 (50)
    expect(t.lookup(5)).toBe(0);
    expect(t.lookup(30)).toBe(0); // the batch at 100 holds 30
    expect(t.lookup(31)).toBe(200);
    expect(t.lookup(50)).toBe(200);
    expect(t.lookup(51)).toBe(600);
    expect(t.lookup(1000)).toBe(600);
    expect(new TimeIndex().lookup(7)).toBe(0);
  });
});

describe('Log.offsetForTimestamp with the time index', () => {
  it('forgets what a truncation removed: a lookup after new appends finds the new records', () => {
    const log = Log.open(path.join(tempDir(), 't-0'), testConfig({ indexIntervalBytes: 64 }));
    for (let i = 0; i < 10; i++) log.appendAsLeader(batch([`old-${i}`], { timestamp: 1000 + i }), 1);
    expect(log.offsetForTimestamp(1009)).toBe(9); // the index is built
    log.truncateTo(4);
    // Bigger batches than before, so old index positions fall inside them.
    for (let i = 0; i < 4; i++) log.appendAsLeader(batch([`new-${i}-`.padEnd(45 + i * 7, 'x'), 'y'], { timestamp: 2000 + i * 10 }), 2);
    expect(log.offsetForTimestamp(1003)).toBe(3);
    expect(log.offsetForTimestamp(1004)).toBe(4);
    for (const gone of [1005, 1006, 1007, 1008, 1009, 1010]) expect([gone, log.offsetForTimestamp(gone)]).toEqual([gone, 4]);
    expect(log.offsetForTimestamp(2000)).toBe(4);
    expect(log.offsetForTimestamp(2001)).toBe(5);
    expect(log.offsetForTimestamp(2011)).toBe(7);
    expect(log.offsetForTimestamp(2021)).toBe(9);
    expect(log.offsetForTimestamp(2030)).toBe(10);
    expect(log.offsetForTimestamp(2032)).toBeNull();
    log.close();
  });

  it('agrees with a scan of every record over random timestamps, appends after lookups, truncation and reopening', () => {
    let seed = 11;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const dir = path.join(tempDir(), 't-0');
    const config = testConfig({ indexIntervalBytes: 128, segmentBytes: 1024 });
    let log = Log.open(dir, config);
    // The model: each record's timestamp, by offset. Producers choose timestamps, so they jump around.
    let stamps: number[] = [];
    const expected = (ts: number): number | null => {
      const i = stamps.findIndex((s) => s >= ts);
      return i < 0 ? null : i;
    };
    const check = () => {
      for (let k = 0; k < 8; k++) {
        const ts = 995 + rand(10_010);
        expect([ts, log.offsetForTimestamp(ts)]).toEqual([ts, expected(ts)]);
      }
    };
    for (let round = 0; round < 60; round++) {
      const n = 1 + rand(3);
      const base = 1000 + rand(10_000);
      log.appendAsLeader(
        batch(
          Array.from({ length: n }, (_, i) => `r${stamps.length + i}`),
          { timestamp: base },
        ),
        1,
      );
      for (let i = 0; i < n; i++) stamps.push(base + i);
      check();
      if (round % 7 === 6) {
        // A follower's truncation: a few records off the tail, often inside the indexed segment.
        log.truncateTo(Math.max(0, stamps.length - 1 - rand(6)));
        stamps = stamps.slice(0, log.logEndOffset);
        check();
      }
      if (round === 45) {
        log.close();
        log = Log.open(dir, config);
        check();
      }
    }
    expect(log.segmentCount).toBeGreaterThan(2);
    check();
    log.close();
  });
});
