// The broker's log cleaner loop over real logs: which log goes first, the throttle, uncleanable
// partitions, and stopping mid-cleaning.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeBatches, DEFAULT_TOPIC_CONFIGS, encodeBatch, iterateBatches, readBatchHeader, type BatchHeader, type TopicConfigs } from '@tributary/protocol';
import { logConfigFromTopic, LogManager, type Log } from '@tributary/storage';
import { tempDir } from '@tributary/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogCleaner, type CleanableLog, type LogCleanerConfig } from './log-cleaner.ts';
import { ProducerStateTable } from './producer-state.ts';

const silent = { info() {}, warn() {}, error() {} };
const cleanups: (() => void)[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0)) c();
});

const COMPACT: TopicConfigs = { ...DEFAULT_TOPIC_CONFIGS, 'cleanup.policy': 'compact', 'segment.bytes': 2048, 'min.cleanable.dirty.ratio': 0.1 };

function manager(): LogManager {
  const { dir, cleanup } = tempDir('tributary-cleaner-');
  const logs = new LogManager(dir);
  cleanups.push(() => {
    logs.close();
    cleanup();
  });
  return logs;
}

/** `updates` single-record batches over `keys` keys, then a roll so all of it is cleanable. */
function fill(log: Log, updates: number, keys: number): void {
  for (let i = 0; i < updates; i++) {
    log.appendAsLeader(encodeBatch([{ key: Buffer.from(`k${i % keys}`), value: Buffer.from(`value-${i}`.padEnd(40, '.')) }]), 1);
  }
  log.maybeRoll(Number.MAX_SAFE_INTEGER);
}

/** Every record as `key=value`, oldest first. */
function values(log: Log): string[] {
  const out: string[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const buf = log.read(offset, 1 << 20);
    for (const r of decodeBatches(buf)) out.push(`${r.key}=${r.value}`);
    for (let pos = 0; pos < buf.length; pos += buf.readInt32BE(pos + 8) + 12) offset = Number(buf.readBigInt64BE(pos)) + buf.readInt32BE(pos + 23) + 1;
  }
  return out;
}

/** With fake setTimeout: runs the next timer if one is pending (a throttle wait), else gives real I/O a turn. */
async function turn(): Promise<void> {
  if (vi.getTimerCount() > 0) await vi.advanceTimersToNextTimerAsync();
  else await new Promise((r) => setImmediate(r));
}

function config(overrides: Partial<LogCleanerConfig> = {}): LogCleanerConfig {
  return {
    enable: true,
    ioMaxBytesPerSecond: Number.MAX_SAFE_INTEGER,
    dedupeBufferBytes: 1 << 20,
    ioBufferBytes: 4096,
    backoffMs: 15_000,
    producerIdExpirationMs: 86_400_000,
    ...overrides,
  };
}

describe('LogCleaner', () => {
  it('cleans the dirtiest compacted log first, leaves other policies alone, and idles when nothing is dirty enough', async () => {
    const logs = manager();
    const a = logs.getOrCreate('a', 0, logConfigFromTopic(COMPACT));
    const b = logs.getOrCreate('b', 0, logConfigFromTopic(COMPACT));
    const plain = logs.getOrCreate('plain', 0, logConfigFromTopic(DEFAULT_TOPIC_CONFIGS));
    fill(a, 100, 50); // half of it superseded
    fill(b, 100, 2); // nearly all of it superseded
    fill(plain, 100, 2);
    const entries = (): CleanableLog[] =>
      [
        { topic: 'a', partition: 0, log: a, highWatermark: a.logEndOffset },
        { topic: 'b', partition: 0, log: b, highWatermark: b.logEndOffset },
        { topic: 'plain', partition: 0, log: plain, highWatermark: plain.logEndOffset },
      ].filter((e) => e.log.currentConfig.compact);
    const cleaner = new LogCleaner({ config: config(), logs: entries, logger: silent });
    // Both are wholly dirty (ratio 1): the first of equals goes first.
    const first = await cleaner.cleanFilthiest();
    expect(first).toMatchObject({ topic: 'a', state: 'done' });
    const second = await cleaner.cleanFilthiest();
    expect(second).toMatchObject({ topic: 'b', state: 'done' });
    expect(values(b)).toEqual([`k0=${'value-98'.padEnd(40, '.')}`, `k1=${'value-99'.padEnd(40, '.')}`]);
    expect(values(a)).toHaveLength(50);
    expect(cleaner.recordsRemoved).toBe(50 + 98);
    expect(cleaner.bytesWritten).toBeLessThan(cleaner.bytesRead);
    expect(cleaner.cleanings).toEqual({ done: 2, aborted: 0, failed: 0 });
    // Nothing dirty now: no cleaning, and the max dirty ratio says so.
    expect(await cleaner.cleanFilthiest()).toBeUndefined();
    expect(cleaner.maxDirtyRatio).toBe(0);
    expect(values(plain)).toHaveLength(100);
  });

  it('a new leader rebuilds the same producer state from a cleaned log: retries of the last five batches are still duplicates', async () => {
    const logs = manager();
    const log = logs.getOrCreate('t', 0, logConfigFromTopic(COMPACT));
    // One idempotent producer rewrites the same few keys batch after batch: compaction removes
    // every record of all but its last batches.
    const sent: { batch: Buffer; baseOffset: number; lastOffset: number }[] = [];
    for (let i = 0; i < 30; i++) {
      const batch = encodeBatch(
        ['a', 'b', 'c'].map((k) => ({ key: Buffer.from(k), value: Buffer.from(`${k}-${i}`) })),
        { producerId: 42, producerEpoch: 0, baseSequence: 3 * i },
      );
      sent.push({ batch: Buffer.from(batch), ...log.appendAsLeader(batch, 1) });
    }
    log.maybeRoll(Number.MAX_SAFE_INTEGER);
    const rebuild = () => {
      const table = new ProducerStateTable();
      let offset = log.logStartOffset;
      while (offset < log.logEndOffset) {
        for (const b of iterateBatches(log.read(offset, 1 << 20))) {
          const h: BatchHeader = readBatchHeader(b);
          table.record(h, h.baseOffset, h.baseOffset + h.lastOffsetDelta, 0);
          offset = h.baseOffset + h.lastOffsetDelta + 1;
        }
      }
      return table;
    };
    const before = rebuild().batchesOf(42);
    const cleaner = new LogCleaner({ config: config(), logs: () => [{ topic: 't', partition: 0, log, highWatermark: log.logEndOffset }], logger: silent });
    expect(await cleaner.cleanFilthiest()).toMatchObject({ state: 'done' });
    expect(values(log)).toEqual(['a=a-29', 'b=b-29', 'c=c-29']);
    const after = rebuild();
    expect(after.batchesOf(42)).toEqual(before);
    for (const s of sent.slice(-5)) {
      expect(after.check(readBatchHeader(s.batch))).toEqual({ kind: 'duplicate', baseOffset: s.baseOffset, lastOffset: s.lastOffset });
    }
  });

  it('never cleans past the high watermark it is given', async () => {
    const logs = manager();
    const log = logs.getOrCreate('t', 0, logConfigFromTopic(COMPACT));
    fill(log, 100, 2);
    const hw = 40;
    const cleaner = new LogCleaner({ config: config(), logs: () => [{ topic: 't', partition: 0, log, highWatermark: hw }], logger: silent });
    const result = await cleaner.cleanFilthiest();
    expect(result?.endOffset).toBeLessThanOrEqual(hw);
    // Every record at or above the HW is still there.
    expect(values(log).filter((v) => Number(v.slice(v.indexOf('value-') + 6, v.indexOf('.'))) >= hw)).toHaveLength(60);
  });

  it('marks a partition uncleanable when its cleaning fails, and skips it after', async () => {
    const logs = manager();
    const log = logs.getOrCreate('t', 0, logConfigFromTopic(COMPACT));
    fill(log, 100, 2);
    // Corrupt a record inside the first segment, under the open log (the CRC catches it).
    const first = path.join(log.dir, '00000000000000000000.log');
    const bytes = fs.readFileSync(first);
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff;
    fs.writeFileSync(first, bytes);
    const errors: object[] = [];
    const cleaner = new LogCleaner({
      config: config(),
      logs: () => [{ topic: 't', partition: 0, log, highWatermark: log.logEndOffset }],
      logger: { ...silent, error: (o: object) => errors.push(o) },
    });
    expect(await cleaner.cleanFilthiest()).toMatchObject({ state: 'failed' });
    expect(cleaner.uncleanableCount).toBe(1);
    expect(errors).toHaveLength(1);
    expect(fs.readdirSync(log.dir).filter((f) => f.endsWith('.cleaned'))).toEqual([]);
    expect(await cleaner.cleanFilthiest()).toBeUndefined();
    expect(cleaner.cleanings.failed).toBe(1);
  });

  it('holds to log.cleaner.io.max.bytes.per.second', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const logs = manager();
    const log = logs.getOrCreate('t', 0, logConfigFromTopic(COMPACT));
    fill(log, 400, 4);
    const rate = 16 * 1024;
    const cleaner = new LogCleaner({
      config: config({ ioMaxBytesPerSecond: rate, ioBufferBytes: 4096 }),
      logs: () => [{ topic: 't', partition: 0, log, highWatermark: log.logEndOffset }],
      logger: silent,
    });
    const started = Date.now();
    let result: Awaited<ReturnType<LogCleaner['cleanFilthiest']>> | 'pending' = 'pending';
    const running = cleaner.cleanFilthiest().then((r) => {
      result = r;
    });
    // Fake time moves only to the throttle's own waits; fsyncs and event-loop turns are real.
    while (result === 'pending') await turn();
    await running;
    const elapsedMs = Date.now() - started;
    const bytes = cleaner.bytesRead + cleaner.bytesWritten;
    expect(bytes).toBeGreaterThan(3 * rate);
    // The bucket starts with one second of tokens; the rest waits for the rate.
    expect(elapsedMs).toBeGreaterThanOrEqual(((bytes - rate - 4096) * 1000) / rate);
    expect(elapsedMs).toBeLessThanOrEqual(((bytes + 4096) * 1000) / rate);
  });

  it('stop() aborts a cleaning in progress and leaves no cleaned file behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const logs = manager();
    const log = logs.getOrCreate('t', 0, logConfigFromTopic(COMPACT));
    fill(log, 400, 4);
    const before = values(log);
    const cleaner = new LogCleaner({
      config: config({ ioMaxBytesPerSecond: 4096, ioBufferBytes: 4096 }),
      logs: () => [{ topic: 't', partition: 0, log, highWatermark: log.logEndOffset }],
      logger: silent,
    });
    const running = cleaner.cleanFilthiest();
    // Into the rewrite: a cleaned file exists.
    while (!fs.readdirSync(log.dir).some((f) => f.endsWith('.cleaned'))) await turn();
    const stopping = cleaner.stop();
    let stopped = false;
    void stopping.then(() => {
      stopped = true;
    });
    while (!stopped) await turn();
    expect(await running).toMatchObject({ state: 'aborted' });
    expect(fs.readdirSync(log.dir).filter((f) => f.endsWith('.cleaned') || f.endsWith('.swap'))).toEqual([]);
    // Whatever was swapped in before it stopped holds the same latest values.
    const latest = (vs: string[]) => Object.fromEntries(vs.map((v) => v.split('=')));
    expect(latest(values(log))).toEqual(latest(before));
  });
});
