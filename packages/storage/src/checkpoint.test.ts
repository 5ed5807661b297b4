import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OffsetCheckpointFile, parseTopicPartition } from './checkpoint.ts';
import { FaultyFs, removeTempDirs, tempDir } from './internal/test-support.ts';

afterEach(removeTempDirs);

describe('OffsetCheckpointFile', () => {
  it('round-trips topics with dashes and dots in Kafka format', () => {
    const file = path.join(tempDir(), 'replication-offset-checkpoint');
    const cp = new OffsetCheckpointFile(file);
    expect(cp.read()).toEqual(new Map());
    const entries = new Map([
      ['orders-eu.v2-3', 42],
      ['a-0', 0],
      ['x.y-12', 9_007_199_254_740_000],
    ]);
    cp.write(entries);
    expect(fs.readFileSync(file, 'utf8')).toBe('0\n3\norders-eu.v2 3 42\na 0 0\nx.y 12 9007199254740000\n');
    expect(cp.read()).toEqual(entries);
  });

  it('writes in the background: the same file, one write in flight at a time, a later synchronous write wins', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'replication-offset-checkpoint');
    const cp = new OffsetCheckpointFile(file);
    await cp.writeInBackground(new Map([['a-0', 1]]));
    expect(fs.readFileSync(file, 'utf8')).toBe('0\n1\na 0 1\n');

    // A second background write while one is in flight joins it rather than racing it.
    const first = cp.writeInBackground(new Map([['a-0', 2]]));
    const second = cp.writeInBackground(new Map([['a-0', 3]]));
    expect(second).toBe(first);
    await first;
    expect(cp.read()).toEqual(new Map([['a-0', 2]]));

    // A synchronous write (shutdown) made while a background one waits on its fsync is the one
    // that stays: the background write must not rename its older entries over it.
    const background = cp.writeInBackground(new Map([['a-0', 4]]));
    cp.write(new Map([['a-0', 5]]));
    await background;
    await cp.settled();
    expect(cp.read()).toEqual(new Map([['a-0', 5]]));
    expect(fs.readdirSync(dir).sort()).toEqual(['replication-offset-checkpoint']);
  });

  it('rejects malformed files', () => {
    const file = path.join(tempDir(), 'cp');
    for (const text of ['0\n2\nt 0 1\n', '0\n1\nt x 1\n', '0\n1\nt 0\n', '7\n0\n', '']) {
      fs.writeFileSync(file, text);
      expect(() => new OffsetCheckpointFile(file).read(), JSON.stringify(text)).toThrow(expect.objectContaining({ code: 'KAFKA_STORAGE_ERROR' }));
    }
  });

  it.each(['writeSync', 'fsyncSync', 'renameSync'] as const)('is never half-written when %s fails', (op) => {
    const faulty = new FaultyFs();
    const file = path.join(tempDir(), 'cp');
    const cp = new OffsetCheckpointFile(file, faulty);
    cp.write(new Map([['t-0', 1]]));
    faulty.failOn(op, 'EIO', op === 'writeSync' ? { partialBytes: 3 } : {});
    expect(() =>
      cp.write(
        new Map([
          ['t-0', 2],
          ['t-1', 3],
        ]),
      ),
    ).toThrow(expect.objectContaining({ code: 'KAFKA_STORAGE_ERROR' }));
    expect(cp.read()).toEqual(new Map([['t-0', 1]]));
    expect(fs.existsSync(`${file}.tmp`)).toBe(false);
    cp.write(new Map([['t-0', 2]]));
    expect(cp.read()).toEqual(new Map([['t-0', 2]]));
  });

  it('parses <topic>-<partition> at the last dash', () => {
    expect(parseTopicPartition('my-topic.v1-7')).toEqual({ topic: 'my-topic.v1', partition: 7 });
    expect(() => parseTopicPartition('nopartition')).toThrow();
    expect(() => parseTopicPartition('-3')).toThrow();
    expect(() => parseTopicPartition('t-x')).toThrow();
  });
});
