// Log cleaner benchmark: how fast one cleaning compacts a log, and how long one slice holds the
// event loop (the broker's LogCleaner gives it back between slices).
//
//   node packages/storage/bench/cleaner-bench.ts [--records N] [--keys K] [--per-batch B] [--slice-bytes S]
//
// Defaults: 200,000 records of 100-byte values over 10,000 keys (so 95% of them are superseded),
// in batches of 10 records, 8 MiB segments, slices of 512 KiB (log.cleaner.io.buffer.size), no
// throttle. The log is flushed before the cleaning; the cleaning's fsyncs are in the figure.
// Prints one line of results, then the same as JSON.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_TOPIC_CONFIGS, encodeBatch } from '@tributary/protocol';
import { Cleaner, cleanableOffsets, Log, logConfigFromTopic } from '../src/index.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    keys: { type: 'string', default: '10000' },
    'per-batch': { type: 'string', default: '10' },
    'slice-bytes': { type: 'string', default: String(512 * 1024) },
  },
});
const records = Number(values.records);
const keys = Number(values.keys);
const perBatch = Number(values['per-batch']);
const sliceBytes = Number(values['slice-bytes']);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-cleaner-bench-'));
try {
  const config = logConfigFromTopic({ ...DEFAULT_TOPIC_CONFIGS, 'cleanup.policy': 'compact', 'segment.bytes': 8 * 1024 * 1024 });
  const log = Log.open(path.join(root, 'bench-0'), config);
  const value = Buffer.alloc(100, 'v');
  for (let i = 0; i < records; i += perBatch) {
    log.appendAsLeader(
      encodeBatch(Array.from({ length: Math.min(perBatch, records - i) }, (_, j) => ({ key: Buffer.from(`key-${(i + j) % keys}`), value }))),
      1,
    );
  }
  log.maybeRoll(Number.MAX_SAFE_INTEGER);
  log.flush();
  const before = log.sizeInBytes;
  const nowMs = Date.now();
  const offsets = cleanableOffsets(log.compactionView(log.logEndOffset), nowMs);
  const cleaner = new Cleaner(log, { nowMs, ...offsets, dedupeBufferBytes: 128 * 1024 * 1024, producerIdExpirationMs: 86_400_000, ioBufferBytes: sliceBytes });
  const started = performance.now();
  let slices = 0;
  let longestSliceMs = 0;
  for (;;) {
    const sliceStart = performance.now();
    const state = cleaner.step(sliceBytes);
    longestSliceMs = Math.max(longestSliceMs, performance.now() - sliceStart);
    slices++;
    if (state === 'waiting') await cleaner.waiting;
    else if (state !== 'running') break;
  }
  const ms = performance.now() - started;
  const result = {
    records,
    keys,
    perBatch,
    logMB: before / 1e6,
    cleanedMB: log.sizeInBytes / 1e6,
    recordsRemoved: cleaner.stats.recordsRemoved,
    ms: Math.round(ms),
    logMBPerSec: before / 1e6 / (ms / 1000),
    slices,
    longestSliceMs,
  };
  console.log(
    `${records} records (${perBatch}/batch, ${keys} keys): ${result.logMB.toFixed(1)} MB -> ${result.cleanedMB.toFixed(2)} MB in ${result.ms} ms ` +
      `(${result.logMBPerSec.toFixed(0)} MB/s of log), ${slices} slices, longest ${longestSliceMs.toFixed(1)} ms`,
  );
  console.log(JSON.stringify(result));
  log.close();
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
