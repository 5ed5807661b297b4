// `pnpm bench --only kafka` (issue 19): produce and consume throughput through the brokers'
// Kafka listeners with a real Kafka client (librdkafka, as kcat, reading records from a file)
// side by side with the bundled client over HTTP, in the same run on the same cluster, with the
// cluster's CPU per record for each path; then both again with compressible values and lz4.

import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from '@tributary/client';
import { brokerKafkaPort, type ClusterStateFile } from '@tributary/launcher';
import type { Progress } from './progress.ts';
import { round } from './stats.ts';
import { consumeAll, createBenchTopic, produceThroughput, VALUE_BYTES, type ConsumeResult, type ThroughputResult } from './workload.ts';

export interface KafkaPathResult {
  records: number;
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
  clusterCpuUsPerRecord: number | undefined;
}

export interface KafkaPhaseResult {
  kcatVersion: string;
  kcatProduce: KafkaPathResult;
  bundledProduce: KafkaPathResult;
  kcatConsume: KafkaPathResult;
  bundledConsume: KafkaPathResult;
  kcatProduceLz4: KafkaPathResult;
  bundledProduceLz4: KafkaPathResult;
}

/** 100-byte values, as the other phases send; compressible: text that repeats in most of its bytes. */
export function compressibleValue(i: number): string {
  const head = `{"id":${String(i).padStart(9, '0')},"user":"user-${String(i % 5000).padStart(4, '0')}","event":"page_view","path":"/`;
  return (head + 'products/catalogue/items'.repeat(4)).slice(0, VALUE_BYTES);
}

async function writeValues(file: string, count: number): Promise<void> {
  const out = createWriteStream(file);
  let chunk = '';
  for (let i = 0; i < count; i++) {
    chunk += `${compressibleValue(i)}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      chunk = '';
    }
  }
  out.end(chunk);
  await new Promise<void>((r) => out.once('finish', () => r()));
}

function runKcat(args: string[], options: { countLines?: boolean } = {}): Promise<{ code: number | null; lines: number; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      if (options.countLines) {
        for (let i = 0; i < b.length; i++) if (b[i] === 10) lines++;
      } else stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < 4096) stderr += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, lines, stderr, stdout }));
  });
}

export async function kafkaPhase(options: {
  bootstrap: string;
  state: ClusterStateFile;
  admin: Admin;
  records: number;
  topicName: (what: string) => string;
  meterCluster: () => (records: number) => number | undefined;
  progress: (label: string, total: number) => Progress;
}): Promise<KafkaPhaseResult> {
  const { state, admin, records, topicName, meterCluster } = options;
  const kafkaBootstrap = state.layout.brokers.map((b) => `127.0.0.1:${brokerKafkaPort(state.layout, b)}`).join(',');
  const version = await runKcat(['-V']).catch(() => undefined);
  if (version === undefined || version.code !== 0) throw new Error('kcat is not installed: apt-get install -y kcat');
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-kafka-'));
  const file = join(dir, 'values.txt');
  try {
    await writeValues(file, records);
    const path = (r: { records: number; seconds: number }, cpu: number | undefined): KafkaPathResult => ({
      records: r.records,
      seconds: round(r.seconds, 2),
      recordsPerSec: Math.round(r.records / r.seconds),
      mbPerSec: round((r.records * VALUE_BYTES) / r.seconds / 1e6, 1),
      clusterCpuUsPerRecord: cpu,
    });
    const kcatProduce = async (topic: string, codec: 'none' | 'lz4'): Promise<KafkaPathResult> => {
      const cpu = meterCluster();
      const t0 = performance.now();
      const r = await runKcat(['-b', kafkaBootstrap, '-P', '-t', topic, '-z', codec, '-X', 'enable.idempotence=true', '-X', 'acks=all', '-l', file]);
      const seconds = (performance.now() - t0) / 1000;
      if (r.code !== 0) throw new Error(`kcat -P failed (${r.code}): ${r.stderr}`);
      return path({ records, seconds }, cpu(records));
    };
    const bundledProduce = async (topic: string, codec: 'none' | 'lz4'): Promise<KafkaPathResult> => {
      const cpu = meterCluster();
      const r: ThroughputResult = await produceThroughput(
        options.bootstrap,
        topic,
        records,
        { acks: 'all', idempotent: true, compression: codec },
        options.progress(`kafka: bundled produce ${codec}`, records),
        (i) => compressibleValue(i),
      );
      return path(r, cpu(r.records));
    };

    const kcatTopic = topicName('kafka-kcat');
    const bundledTopic = topicName('kafka-bundled');
    await createBenchTopic(admin, kcatTopic, 10);
    await createBenchTopic(admin, bundledTopic, 10);
    const kcatP = await kcatProduce(kcatTopic, 'none');
    const bundledP = await bundledProduce(bundledTopic, 'none');

    const cpuKcatC = meterCluster();
    const t0 = performance.now();
    const consumed = await runKcat(['-b', kafkaBootstrap, '-C', '-t', kcatTopic, '-o', 'beginning', '-e', '-q'], { countLines: true });
    const kcatSeconds = (performance.now() - t0) / 1000;
    if (consumed.code !== 0 || consumed.lines !== records)
      throw new Error(`kcat -C read ${consumed.lines} of ${records} records (${consumed.code}): ${consumed.stderr}`);
    const kcatC = path({ records, seconds: kcatSeconds }, cpuKcatC(records));
    const cpuBundledC = meterCluster();
    const c: ConsumeResult = await consumeAll(options.bootstrap, bundledTopic, records + 1, options.progress('kafka: bundled consume', records + 1));
    const bundledC = path(c, cpuBundledC(c.records));
    await admin.deleteTopic(kcatTopic).catch(() => undefined);
    await admin.deleteTopic(bundledTopic).catch(() => undefined);

    const kcatLz4Topic = topicName('kafka-kcat-lz4');
    const bundledLz4Topic = topicName('kafka-bundled-lz4');
    await createBenchTopic(admin, kcatLz4Topic, 10);
    await createBenchTopic(admin, bundledLz4Topic, 10);
    const kcatLz4 = await kcatProduce(kcatLz4Topic, 'lz4');
    const bundledLz4 = await bundledProduce(bundledLz4Topic, 'lz4');
    await admin.deleteTopic(kcatLz4Topic).catch(() => undefined);
    await admin.deleteTopic(bundledLz4Topic).catch(() => undefined);

    return {
      kcatVersion: version.stdout.split('\n')[0]?.trim() ?? 'kcat',
      kcatProduce: kcatP,
      bundledProduce: bundledP,
      kcatConsume: kcatC,
      bundledConsume: bundledC,
      kcatProduceLz4: kcatLz4,
      bundledProduceLz4: bundledLz4,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
