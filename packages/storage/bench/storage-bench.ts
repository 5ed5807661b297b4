// Storage benchmark: Log.appendAsLeader / Log.read against raw fs.writeSync / fs.readSync of the
// identical bytes on the same disk (same temp dir), in the same run. Appends are measured with
// the validator thread checking each batch while it is written (`validator:
// sharedBatchValidator()`, started before timing) and with every batch checked inline (the
// default).
//
//   node packages/storage/bench/storage-bench.ts [--quick]
//
// 100-byte records in 16 KiB batches, built with BatchBuilder before timing; 1 GiB in total
// (64 MiB with --quick); reads in 1 MiB chunks. No fsync on either side: the log does not fsync
// per write by default (durability comes from replication), so both measure the page cache path.
// Each figure is the median of 3 rounds, after one warm-up round. Prints a table, then one JSON line.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchBuilder, DEFAULT_TOPIC_CONFIGS, validateBatch } from '@tributary/protocol';
import { Log, logConfigFromTopic, sharedBatchValidator } from '../src/index.ts';

const quick = process.argv.includes('--quick');
const TOTAL_BYTES = quick ? 64 * 1024 * 1024 : 1024 * 1024 * 1024;
const BATCH_BYTES = 16 * 1024;
const RECORD_VALUE_BYTES = 100;
const READ_CHUNK_BYTES = 1024 * 1024;
const MiB = 1024 * 1024;
const ROUNDS = 3;

function buildBatches(): { batches: Buffer[]; records: number; bytes: number } {
  const batches: Buffer[] = [];
  let records = 0;
  let bytes = 0;
  const value = Buffer.alloc(RECORD_VALUE_BYTES, 'x');
  let ts = Date.now();
  while (bytes < TOTAL_BYTES) {
    const builder = new BatchBuilder(ts++, BATCH_BYTES);
    const record = { value };
    const size = BatchBuilder.recordSize(record, 0, 200);
    while (builder.sizeInBytes + size <= BATCH_BYTES) {
      value.writeUInt32BE(records, 0); // distinct values, same size
      builder.append(record);
      records++;
    }
    const batch = Buffer.from(builder.build()); // own copy: build() returns a view of the builder
    batches.push(batch);
    bytes += batch.length;
  }
  return { batches, records, bytes };
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-bench-'));
try {
  process.stderr.write(`building ${(TOTAL_BYTES / MiB).toFixed(0)} MiB of batches...\n`);
  const { batches, records, bytes } = buildBatches();

  // Each measurement runs ROUNDS times, log and raw alternating which goes first, and the
  // medians are reported: on a small VM the first pass over freshly written pages and the
  // first large allocations cost far more than later ones, whichever side happens to run first.
  const config = logConfigFromTopic(DEFAULT_TOPIC_CONFIGS);
  const log = Log.open(path.join(dir, 'bench-0'), config, { validator: sharedBatchValidator() });
  const inlineLog = Log.open(path.join(dir, 'bench-inline-0'), config);
  const threadStarted = await sharedBatchValidator().start();
  if (!threadStarted) process.stderr.write('the validator thread did not start: appends check inline\n');
  const rawPath = path.join(dir, 'raw.bin');
  const rawFd = fs.openSync(rawPath, 'w+');
  const rounds = {
    append: [] as number[],
    appendInline: [] as number[],
    rawWrite: [] as number[],
    read: [] as number[],
    rawRead: [] as number[],
    rawReuse: [] as number[],
    validate: [] as number[],
  };
  let t: bigint;

  const appendLog = () => {
    log.truncateFullyAndStartAt(0);
    t = process.hrtime.bigint();
    for (const b of batches) log.appendAsLeader(b, 1);
    rounds.append.push(seconds(t));
  };
  const appendInline = () => {
    inlineLog.truncateFullyAndStartAt(0);
    t = process.hrtime.bigint();
    for (const b of batches) inlineLog.appendAsLeader(b, 1);
    rounds.appendInline.push(seconds(t));
    inlineLog.truncateFullyAndStartAt(0); // its pages go, so both appends find the same free memory
  };
  const writeRaw = () => {
    fs.ftruncateSync(rawFd, 0);
    t = process.hrtime.bigint();
    let pos = 0;
    for (const b of batches) {
      fs.writeSync(rawFd, b, 0, b.length, pos);
      pos += b.length;
    }
    rounds.rawWrite.push(seconds(t));
  };
  const readLog = () => {
    t = process.hrtime.bigint();
    let offset = log.logStartOffset;
    let readBytes = 0;
    while (offset < log.logEndOffset) {
      const buf = log.read(offset, READ_CHUNK_BYTES);
      readBytes += buf.length;
      // Find the next offset from the last batch's header, as a consumer would.
      let at = 0;
      let last = offset;
      while (at < buf.length) {
        last = Number(buf.readBigInt64BE(at)) + buf.readInt32BE(at + 23);
        at += buf.readInt32BE(at + 8) + 12;
      }
      offset = last + 1;
    }
    rounds.read.push(seconds(t));
    if (readBytes !== bytes) throw new Error(`Log.read returned ${readBytes} bytes, wrote ${bytes}`);
  };
  // A fresh buffer per chunk, as any reader that hands the data on must allocate.
  const readRaw = () => {
    t = process.hrtime.bigint();
    let done = 0;
    while (done < bytes) {
      const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, bytes - done));
      done += fs.readSync(rawFd, buf, 0, buf.length, done);
    }
    rounds.rawRead.push(seconds(t));
  };
  // One reused buffer: a floor that no API returning fresh data can reach; shown for context.
  const readRawReused = () => {
    t = process.hrtime.bigint();
    const reused = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    let done = 0;
    while (done < bytes) done += fs.readSync(rawFd, reused, 0, Math.min(READ_CHUNK_BYTES, bytes - done), done);
    rounds.rawReuse.push(seconds(t));
  };
  // validateBatch alone: the leader's full per-record check, the floor under appendAsLeader.
  const validate = () => {
    t = process.hrtime.bigint();
    for (const b of batches) validateBatch(b);
    rounds.validate.push(seconds(t));
  };

  // Round 0 warms up and is not counted: the JIT (of both threads), first allocations and the
  // first pass over the page cache cost every side alike, and 3 rounds are too few to outvote it.
  for (let r = 0; r <= ROUNDS; r++) {
    process.stderr.write(r === 0 ? 'warm-up round\n' : `round ${r}/${ROUNDS}\n`);
    if (r % 2 === 1) {
      appendLog();
      writeRaw();
      readLog();
      readRaw();
    } else {
      writeRaw();
      appendLog();
      readRaw();
      readLog();
    }
    appendInline();
    readRawReused();
    validate();
    if (r === 0) for (const xs of Object.values(rounds)) xs.length = 0;
  }
  fs.closeSync(rawFd);
  const segments = log.segmentCount;
  log.close();
  inlineLog.close();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const appendSec = median(rounds.append);
  const appendInlineSec = median(rounds.appendInline);
  const rawWriteSec = median(rounds.rawWrite);
  const readSec = median(rounds.read);
  const rawReadSec = median(rounds.rawRead);
  const rawReuseSec = median(rounds.rawReuse);
  const validateSec = median(rounds.validate);

  const mbps = (n: number, s: number) => n / MiB / s;
  const result = {
    totalBytes: bytes,
    records,
    batches: batches.length,
    segments,
    appendMBps: +mbps(bytes, appendSec).toFixed(1),
    rawWriteMBps: +mbps(bytes, rawWriteSec).toFixed(1),
    appendVsRaw: +(rawWriteSec / appendSec).toFixed(3),
    validatorThread: threadStarted,
    appendInlineMBps: +mbps(bytes, appendInlineSec).toFixed(1),
    appendInlineVsRaw: +(rawWriteSec / appendInlineSec).toFixed(3),
    validateBatchMBps: +mbps(bytes, validateSec).toFixed(1),
    // What the log adds beyond validateBatch (stamping, roll checks, the write): inline append time minus validation time.
    appendExcludingValidationMBps: +mbps(bytes, Math.max(appendInlineSec - validateSec, 1e-9)).toFixed(1),
    readMBps: +mbps(bytes, readSec).toFixed(1),
    rawReadMBps: +mbps(bytes, rawReadSec).toFixed(1),
    readVsRaw: +(rawReadSec / readSec).toFixed(3),
    rawReadReusedBufferMBps: +mbps(bytes, rawReuseSec).toFixed(1),
    appendRecordsPerSec: Math.round(records / appendSec),
    nproc: os.availableParallelism(),
    memoryMB: Math.round(os.totalmem() / MiB),
    node: process.version,
    rounds: ROUNDS,
    roundsMBps: Object.fromEntries(Object.entries(rounds).map(([k, xs]) => [k, xs.map((x) => +mbps(bytes, x).toFixed(0))])),
    quick,
  };
  const rows: [string, string][] = [
    ['total', `${(bytes / MiB).toFixed(0)} MiB, ${records} records, ${batches.length} batches, ${segments} segment(s)`],
    ['Log.appendAsLeader', `${result.appendMBps} MB/s (${result.appendRecordsPerSec} records/s)`],
    ['raw fs.writeSync', `${result.rawWriteMBps} MB/s`],
    ['append / raw', `${(result.appendVsRaw * 100).toFixed(1)} % (target >= 80 %, issue 21)${threadStarted ? '' : ' (no validator thread)'}`],
    ['append, checked inline', `${result.appendInlineMBps} MB/s (${(result.appendInlineVsRaw * 100).toFixed(1)} % of raw)`],
    ['validateBatch alone', `${result.validateBatchMBps} MB/s`],
    ['inline append minus validate', `${result.appendExcludingValidationMBps} MB/s`],
    ['Log.read (1 MiB)', `${result.readMBps} MB/s`],
    ['raw fs.readSync (1 MiB)', `${result.rawReadMBps} MB/s`],
    ['read / raw', `${(result.readVsRaw * 100).toFixed(1)} %`],
    ['raw readSync, reused buffer', `${result.rawReadReusedBufferMBps} MB/s`],
    [
      'rounds (MB/s each)',
      Object.entries(result.roundsMBps)
        .map(([k, xs]) => `${k} ${xs.join('/')}`)
        .join(', '),
    ],
    ['machine', `${result.nproc} cpus, ${result.memoryMB} MiB, node ${process.version}`],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(30)} ${v}`);
  console.log(JSON.stringify(result));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
