import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LeaderEpochCache } from './leader-epoch-cache.ts';
import { FaultyFs, removeTempDirs, tempDir } from './internal/test-support.ts';

afterEach(removeTempDirs);

/** A cache on a FaultyFs, loaded (so its checkpoint file exists, empty). */
function loadedOnFaultyFs(): { faulty: FaultyFs; file: string; cache: LeaderEpochCache } {
  const faulty = new FaultyFs();
  const file = path.join(tempDir(), 'leader-epoch-checkpoint');
  const cache = new LeaderEpochCache(file, faulty);
  cache.load();
  return { faulty, file, cache };
}

function cacheWith(entries: [number, number][]): LeaderEpochCache {
  const cache = new LeaderEpochCache(path.join(tempDir(), 'leader-epoch-checkpoint'));
  for (const [epoch, start] of entries) cache.assign(epoch, start);
  return cache;
}

describe('LeaderEpochCache.endOffsetFor (KIP-101/279)', () => {
  const entries: [number, number][] = [
    [1, 0],
    [3, 10],
    [4, 25],
    [7, 40],
  ];
  const leo = 55;
  it.each([
    // requested, expected epoch, expected end offset
    [0, -1, -1], // below the first epoch
    [1, 1, 10],
    [2, 1, 10], // unknown epoch between 1 and 3: answer for 1
    [3, 3, 25],
    [4, 4, 40],
    [5, 4, 40],
    [6, 4, 40],
    [7, 7, leo], // the latest: its end is the log end
    [100, 7, leo],
  ])('epoch %i -> { epoch %i, endOffset %i }', (requested, epoch, endOffset) => {
    expect(cacheWith(entries).endOffsetFor(requested, leo)).toEqual({ epoch, endOffset });
  });

  it('answers -1/-1 when empty', () => {
    expect(cacheWith([]).endOffsetFor(5, 10)).toEqual({ epoch: -1, endOffset: -1 });
  });
});

describe('LeaderEpochCache', () => {
  it('ignores epochs at or below the latest', () => {
    const cache = cacheWith([
      [2, 0],
      [5, 10],
    ]);
    cache.assign(5, 20);
    cache.assign(3, 30);
    expect(cache.entries()).toEqual([
      { epoch: 2, startOffset: 0 },
      { epoch: 5, startOffset: 10 },
    ]);
    expect(cache.latestEpoch).toBe(5);
    expect(cache.startOffsetOf(5)).toBe(10);
    expect(cache.startOffsetOf(4)).toBeUndefined();
  });

  it('drops stale entries when a new epoch starts below them', () => {
    const cache = cacheWith([
      [2, 0],
      [5, 10],
    ]);
    cache.assign(6, 5);
    expect(cache.entries()).toEqual([
      { epoch: 2, startOffset: 0 },
      { epoch: 6, startOffset: 5 },
    ]);
  });

  it.each([
    [
      10,
      [
        [1, 0],
        [3, 10],
      ],
      [[1, 0]],
    ],
    [
      11,
      [
        [1, 0],
        [3, 10],
      ],
      [
        [1, 0],
        [3, 10],
      ],
    ],
    [
      0,
      [
        [1, 0],
        [3, 10],
      ],
      [],
    ],
  ] as [number, [number, number][], [number, number][]][])('truncateFromEnd(%i)', (offset, before, after) => {
    const cache = cacheWith(before);
    cache.truncateFromEnd(offset);
    expect(cache.entries()).toEqual(after.map(([epoch, startOffset]) => ({ epoch, startOffset })));
  });

  it.each([
    [
      0,
      [
        [1, 0],
        [3, 10],
        [4, 20],
      ],
      [
        [1, 0],
        [3, 10],
        [4, 20],
      ],
    ],
    [
      5,
      [
        [1, 0],
        [3, 10],
        [4, 20],
      ],
      [
        [1, 5],
        [3, 10],
        [4, 20],
      ],
    ],
    [
      10,
      [
        [1, 0],
        [3, 10],
        [4, 20],
      ],
      [
        [3, 10],
        [4, 20],
      ],
    ],
    [
      15,
      [
        [1, 0],
        [3, 10],
        [4, 20],
      ],
      [
        [3, 15],
        [4, 20],
      ],
    ],
    [
      30,
      [
        [1, 0],
        [3, 10],
        [4, 20],
      ],
      [[4, 30]],
    ],
    [3, [[2, 5]], [[2, 5]]],
  ] as [number, [number, number][], [number, number][]][])('truncateFromStart(%i)', (offset, before, after) => {
    const cache = cacheWith(before);
    cache.truncateFromStart(offset);
    expect(cache.entries()).toEqual(after.map(([epoch, startOffset]) => ({ epoch, startOffset })));
  });

  it('persists in Kafka format and reloads', () => {
    const file = path.join(tempDir(), 'leader-epoch-checkpoint');
    const cache = new LeaderEpochCache(file);
    cache.assign(0, 0);
    cache.assign(4, 17);
    expect(fs.readFileSync(file, 'utf8')).toBe('0\n2\n0 0\n4 17\n');
    const again = new LeaderEpochCache(file);
    again.load();
    expect(again.entries()).toEqual(cache.entries());
  });

  it('rejects a malformed checkpoint', () => {
    const file = path.join(tempDir(), 'leader-epoch-checkpoint');
    for (const text of ['0\n2\n1 0\n', '1\n0\n', '0\n2\n3 10\n2 20\n', 'garbage']) {
      fs.writeFileSync(file, text);
      expect(() => new LeaderEpochCache(file).load(), text).toThrow(expect.objectContaining({ code: 'KAFKA_STORAGE_ERROR' }));
    }
  });

  it('leaves memory and file unchanged when the checkpoint write fails', () => {
    const { faulty, file, cache } = loadedOnFaultyFs();
    cache.assign(1, 0);
    cache.assign(2, 5);
    cache.flush();
    // assign writes in place (a failed write is put back); a truncation goes through a temp file,
    // fsynced, and a rename. assign(3, 0) drops both entries: the file shrinks, so it ftruncates.
    const changes = [
      ['writeSync', { partialBytes: 6 }, () => cache.assign(3, 10)],
      ['openSync', {}, () => cache.assign(3, 10)],
      ['ftruncateSync', {}, () => cache.assign(3, 0)],
      ['renameSync', {}, () => cache.truncateFromEnd(5)],
      ['fsyncSync', {}, () => cache.truncateFromEnd(5)],
    ] as const;
    for (const [op, options, change] of changes) {
      faulty.failOn(op, 'ENOSPC', { when: (p) => p.startsWith(file), ...options });
      expect(change, op).toThrow(expect.objectContaining({ code: 'KAFKA_STORAGE_ERROR' }));
      expect(cache.entries()).toEqual([
        { epoch: 1, startOffset: 0 },
        { epoch: 2, startOffset: 5 },
      ]);
      expect(fs.readFileSync(file, 'utf8')).toBe('0\n2\n1 0\n2 5\n');
      expect(fs.existsSync(`${file}.tmp`)).toBe(false);
    }
    cache.assign(3, 10);
    expect(fs.readFileSync(file, 'utf8')).toBe('0\n3\n1 0\n2 5\n3 10\n');
  });

  it('writes a new epoch in place: no new inode, no rename', () => {
    const { faulty, file, cache } = loadedOnFaultyFs();
    // The file exists from the start (created empty when the log opens, as Kafka does).
    expect(fs.readFileSync(file, 'utf8')).toBe('0\n0\n');
    const inode = fs.statSync(file).ino;
    faulty.failOn('renameSync', 'EIO');
    cache.assign(1, 0);
    cache.assign(2, 100);
    cache.assign(3, 5); // drops epoch 2: the file shrinks
    expect(faulty.failures).toBe(0);
    expect(fs.statSync(file).ino).toBe(inode);
    expect(fs.readFileSync(file, 'utf8')).toBe('0\n2\n1 0\n3 5\n');
    const again = new LeaderEpochCache(file);
    again.load();
    expect(again.entries()).toEqual(cache.entries());
  });

  it('removes the file when a failed in-place write cannot be put back', () => {
    const { faulty, file, cache } = loadedOnFaultyFs();
    cache.assign(1, 100);
    // "0\n1\n2 5\n" written 6 bytes deep over "0\n1\n1 100\n" reads as epoch 2 from offset 100:
    // well-formed and wrong. With the put-back failing too, the file must go.
    faulty.failOn('writeSync', 'EIO', { when: (p) => p === file, partialBytes: 6 });
    faulty.failOn('renameSync', 'EIO');
    expect(() => cache.assign(2, 5)).toThrow(expect.objectContaining({ code: 'KAFKA_STORAGE_ERROR' }));
    expect(fs.existsSync(file)).toBe(false);
    expect(cache.entries()).toEqual([{ epoch: 1, startOffset: 100 }]);
    // The next change writes the whole list again.
    cache.assign(2, 200);
    expect(fs.readFileSync(file, 'utf8')).toBe('0\n2\n1 100\n2 200\n');
  });

  it('reads a file that does not end in a newline as torn', () => {
    const file = path.join(tempDir(), 'leader-epoch-checkpoint');
    // A cut "0\n1\n1 100\n": well-formed but for the missing newline, and wrong.
    fs.writeFileSync(file, '0\n1\n1 10');
    expect(() => new LeaderEpochCache(file).load()).toThrow(expect.objectContaining({ code: 'KAFKA_STORAGE_ERROR' }));
  });

  it('writes a new epoch without fsync and makes it durable on flush() (KAFKA-15046)', () => {
    const faulty = new FaultyFs();
    const file = path.join(tempDir(), 'leader-epoch-checkpoint');
    const cache = new LeaderEpochCache(file, faulty);
    // An armed fsync failure that assign never trips: it does not fsync.
    faulty.failOn('fsyncSync', 'EIO');
    cache.assign(1, 0);
    cache.assign(2, 10);
    expect(fs.readFileSync(file, 'utf8')).toBe('0\n2\n1 0\n2 10\n');
    expect(faulty.failures).toBe(0);
    // flush() does fsync: the armed failure surfaces, and the cache stays unsynced for a retry.
    expect(() => cache.flush()).toThrow(expect.objectContaining({ code: 'KAFKA_STORAGE_ERROR' }));
    expect(faulty.failures).toBe(1);
    expect(cache.entries()).toHaveLength(2);
    cache.flush();
    expect(faulty.failures).toBe(1);
    // Nothing unsynced any more: flush() is a no-op (an armed failure stays unused).
    faulty.failOn('fsyncSync', 'EIO');
    cache.flush();
    expect(faulty.failures).toBe(1);
  });
});
