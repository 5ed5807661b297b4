// Issue 19, conformance with librdkafka as an application uses it (Debian's
// python3-confluent-kafka): an idempotent acks=all producer whose partition leader is killed with
// -9 under it loses no acknowledged record, duplicates none and keeps their order.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localKill } from '@tributary/launcher';
import { DEBIAN_PYTHON, SEED_PLACEMENT, requireTool, run, startTestCluster, type TestCluster } from '../src/index.ts';

const SCRIPT = fileURLToPath(new URL('../src/rdkafka-producer.py', import.meta.url));
const COUNT = 20_000;

describe('Kafka listener: librdkafka (python3-confluent-kafka)', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    requireTool('confluent-kafka');
    requireTool('kcat');
    cluster = await startTestCluster();
    await cluster.admin.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a producer with its leader killed under it: zero acknowledged records lost, none duplicated, in order', async () => {
    const partition = 0;
    const leader = SEED_PLACEMENT[partition]![0]!;
    const child = spawn(DEBIAN_PYTHON, [SCRIPT, cluster.kafkaBootstrap, 'demo', String(partition), String(COUNT)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let killed = false;
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (!killed && out.includes('HALF')) {
        killed = true;
        void localKill(cluster.dataDir, String(leader));
      }
    });
    const code = await exited;
    expect(code, err).toBe(0);
    expect(killed).toBe(true);
    const result = JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!) as { acked: string[]; failed: number; undelivered: number };
    console.log({ acked: result.acked.length, failed: result.failed, undelivered: result.undelivered });
    expect(result.acked.length).toBeGreaterThan(COUNT / 2);

    const read = await run('kcat', ['-b', cluster.kafkaBootstrap, '-C', '-t', 'demo', '-p', String(partition), '-o', 'beginning', '-e', '-q']);
    expect(read.code, read.stderr).toBe(0);
    const stored = read.stdout.split('\n').filter((l) => l !== '');
    expect(new Set(stored).size).toBe(stored.length);
    const have = new Set(stored);
    expect(result.acked.filter((v) => !have.has(v))).toEqual([]);
    // In the order sent: the stored sequence numbers only increase.
    const seq = stored.map((v) => Number(v.slice('rd-'.length)));
    expect(seq.every((n, i) => i === 0 || n > seq[i - 1]!)).toBe(true);
  });
});
