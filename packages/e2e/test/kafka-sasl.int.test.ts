// Issues 19 + 20: the Kafka listeners of a secure cluster (`local up --secure`) are SASL_SSL —
// TLS with the cluster CA, then SASL/SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN against the users the
// controller keeps — and the ACLs decide every Kafka API as they do the HTTP routes. Checked with
// clients nobody here wrote: kcat (librdkafka 2.0.2), python3-confluent-kafka and KafkaJS.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { encodeRequest } from '@tributary/kafka';
import { localKill, localRestart, secretsDir } from '@tributary/launcher';
import { RpcClient } from '@tributary/transport/client';
import { eventually } from '@tributary/testkit';
import { DEBIAN_PYTHON, exchange, requireTool, run, startTestCluster, type TestCluster } from '../src/index.ts';

const PRODUCER_SCRIPT = fileURLToPath(new URL('../src/rdkafka-producer.py', import.meta.url));
const RECORDS = Array.from({ length: 2000 }, (_, i) => `secure-${i}`);

/** Sends one frame over TLS (no SASL) and resolves with the answer frame, or 'closed'. */
function tlsExchange(port: number, ca: Buffer, bytes: Buffer): Promise<Buffer | 'closed'> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: '127.0.0.1' }, () => socket.write(bytes));
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('closed');
    }, 10_000);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 4 && received.length >= 4 + received.readInt32BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(received.subarray(4, 4 + received.readInt32BE(0)));
      }
    });
    const closed = () => {
      clearTimeout(timer);
      resolve('closed');
    };
    socket.on('error', closed);
    socket.on('close', closed);
  });
}

describe('Kafka listener on a secure cluster: SASL_SSL and ACLs', () => {
  let cluster: TestCluster;
  let caFile: string;
  let ca: Buffer;
  let adminPassword: string;
  const sasl = (mechanism: string, user: string, password: string) => [
    '-X',
    'security.protocol=SASL_SSL',
    '-X',
    `ssl.ca.location=${caFile}`,
    '-X',
    `sasl.mechanisms=${mechanism}`,
    '-X',
    `sasl.username=${user}`,
    '-X',
    `sasl.password=${password}`,
  ];
  const kcat = (args: string[], input?: string, bootstrap = cluster.kafkaBootstrap) => run('kcat', ['-b', bootstrap, ...args], { input, timeoutMs: 120_000 });

  beforeAll(async () => {
    requireTool('kcat');
    requireTool('confluent-kafka');
    cluster = await startTestCluster({ secure: true });
    caFile = join(secretsDir(cluster.dataDir), 'ca.pem');
    ca = readFileSync(caFile);
    adminPassword = cluster.security.credentials!.password;
    await cluster.admin.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('kcat with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN: metadata lists the six brokers; idempotent acks=all records written with one are read back exactly with another', async () => {
    const md = await kcat([...sasl('SCRAM-SHA-256', 'admin', adminPassword), '-L', '-J']);
    expect(md.code, md.stderr).toBe(0);
    const metadata = JSON.parse(md.stdout) as { brokers: { id: number }[]; topics: { topic: string }[] };
    expect(metadata.brokers.map((b) => b.id).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(metadata.topics.map((t) => t.topic)).toContain('demo');

    const produced = await kcat(
      [...sasl('SCRAM-SHA-512', 'admin', adminPassword), '-P', '-t', 'demo', '-p', '1', '-X', 'enable.idempotence=true', '-X', 'acks=all'],
      `${RECORDS.join('\n')}\n`,
    );
    expect(produced.code, produced.stderr).toBe(0);
    const read = await kcat([...sasl('PLAIN', 'admin', adminPassword), '-C', '-t', 'demo', '-p', '1', '-o', 'beginning', '-e', '-q']);
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout.split('\n').filter((l) => l !== '')).toEqual(RECORDS);
  });

  it('refuses what is not authenticated: a wrong password (said, logged and counted), a plaintext client, a request before SASL', async () => {
    // Broker 0 only, whose /metrics and log are read below.
    const broker0 = `127.0.0.1:${cluster.kafkaPorts[0]}`;
    const wrong = await kcat([...sasl('SCRAM-SHA-256', 'admin', 'not-the-password'), '-L', '-m', '5'], undefined, broker0);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/SASL authentication error: authentication failed/);
    const wrongPlain = await kcat([...sasl('PLAIN', 'nobody', 'x'), '-L', '-m', '5'], undefined, broker0);
    expect(wrongPlain.code).not.toBe(0);
    expect(wrongPlain.stderr).toMatch(/SASL authentication error/);

    // A plaintext Kafka client on the TLS listener gets no answer; the listener lives on.
    const metadataV1 = encodeRequest({ apiKey: 3, apiVersion: 1, correlationId: 7, clientId: 'e2e' }, { topics: null });
    expect(await exchange(cluster.kafkaPorts[0]!, metadataV1, 5000)).not.toBeInstanceOf(Buffer);
    // Over TLS but before SASL: ApiVersions is answered (with the SASL APIs), anything else closes the connection.
    const versions = await tlsExchange(cluster.kafkaPorts[0]!, ca, encodeRequest({ apiKey: 18, apiVersion: 0, correlationId: 1, clientId: 'e2e' }, {}));
    expect(versions).toBeInstanceOf(Buffer);
    expect(await tlsExchange(cluster.kafkaPorts[0]!, ca, metadataV1)).toBe('closed');

    const metrics = new RpcClient(
      { host: '127.0.0.1', port: cluster.brokerPorts[0]! },
      { tls: { ca }, authenticator: { authorize: async () => ({ value: `Basic ${Buffer.from(`admin:${adminPassword}`).toString('base64')}` }) } },
    );
    try {
      const text = (await metrics.getText('/metrics')).text;
      const failures = /tributary_authentication_failures_total\{reason="sasl"[^}]*\} (\d+)/.exec(text);
      expect(Number(failures?.[1] ?? 0)).toBeGreaterThan(0);
    } finally {
      await metrics.close();
    }
    const log = readFileSync(join(cluster.dataDir, 'logs', 'broker-0.log'), 'utf8');
    expect(log).toMatch(/"listener":"kafka-internal".*"user":"admin".*"msg":"authentication refused"/);
  });

  it('a user without ACLs sees no topics and can neither produce nor consume; Write lets it produce, Read consume', async () => {
    await cluster.admin.upsertUser('carol', 'carol-secret');
    const kafka = new Kafka({
      clientId: 'e2e-carol',
      brokers: cluster.kafkaBootstrap.split(','),
      ssl: { ca: [ca] },
      sasl: { mechanism: 'scram-sha-256', username: 'carol', password: 'carol-secret' },
      logLevel: logLevel.NOTHING,
      retry: { retries: 2, initialRetryTime: 100 },
    });
    const admin = kafka.admin();
    const producer = kafka.producer();
    await eventually(async () => {
      await admin.connect();
    });
    try {
      // Metadata of all topics lists only those carol may Describe: none.
      expect((await admin.fetchTopicMetadata()).topics).toEqual([]);
      await producer.connect();
      const refused = await producer.send({ topic: 'demo', acks: -1, messages: [{ partition: 2, value: 'denied' }] }).then(
        () => undefined,
        (err: Error & { type?: string; cause?: { type?: string } }) => err,
      );
      expect(refused?.type ?? refused?.cause?.type ?? refused?.message).toMatch(/TOPIC_AUTHORIZATION_FAILED|Not authorized/);

      await cluster.admin.createAcls([
        { principal: 'User:carol', host: '*', operation: 'Write', permission: 'Allow', resourceType: 'Topic', resourceName: 'demo', patternType: 'Literal' },
      ]);
      await eventually(async () => {
        const sent = await producer.send({ topic: 'demo', acks: -1, messages: [{ partition: 2, value: 'granted' }] });
        expect(sent[0]!.errorCode).toBe(0);
      });
      // Write is not Read.
      const carol = sasl('SCRAM-SHA-256', 'carol', 'carol-secret');
      const denied = await kcat([...carol, '-C', '-t', 'demo', '-p', '2', '-o', 'beginning', '-e', '-q']);
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toMatch(/[Aa]uthoriz/);

      await cluster.admin.createAcls([
        { principal: 'User:carol', host: '*', operation: 'Read', permission: 'Allow', resourceType: 'Topic', resourceName: 'demo', patternType: 'Literal' },
      ]);
      await eventually(async () => {
        const read = await kcat([...carol, '-C', '-t', 'demo', '-p', '2', '-o', 'beginning', '-e', '-q']);
        expect(read.code, read.stderr).toBe(0);
        expect(read.stdout.split('\n')).toContain('granted');
      });
      // Creating topics is the cluster's business.
      const created = await admin.createTopics({ topics: [{ topic: 'carols', numPartitions: 1, replicationFactor: 1 }] }).then(
        () => undefined,
        (err: Error & { errors?: { type?: string }[] }) => err,
      );
      expect(created?.errors?.map((e) => e.type)).toEqual(['TOPIC_AUTHORIZATION_FAILED']);
      expect(await cluster.admin.listTopics()).not.toContain('carols');
    } finally {
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    }
  });

  it('a librdkafka producer over SASL_SSL with its leader killed under it: zero acknowledged records lost, none duplicated, in order', async () => {
    const partition = 3;
    const leader = (await cluster.admin.describeTopic('demo')).partitions.find((p) => p.partition === partition)!.leader;
    const child = spawn(DEBIAN_PYTHON, [PRODUCER_SCRIPT, cluster.kafkaBootstrap, 'demo', String(partition), '10000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        RDKAFKA_CONFIG: JSON.stringify({
          'security.protocol': 'SASL_SSL',
          'ssl.ca.location': caFile,
          'sasl.mechanisms': 'SCRAM-SHA-512',
          'sasl.username': 'admin',
          'sasl.password': adminPassword,
        }),
      },
    });
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
    expect(result.acked.length).toBeGreaterThan(5000);

    const read = await kcat([...sasl('SCRAM-SHA-256', 'admin', adminPassword), '-C', '-t', 'demo', '-p', String(partition), '-o', 'beginning', '-e', '-q']);
    expect(read.code, read.stderr).toBe(0);
    const stored = read.stdout.split('\n').filter((l) => l !== '');
    expect(new Set(stored).size).toBe(stored.length);
    const have = new Set(stored);
    expect(result.acked.filter((v) => !have.has(v))).toEqual([]);
    const seq = stored.map((v) => Number(v.slice('rd-'.length)));
    expect(seq.every((n, i) => i === 0 || n > seq[i - 1]!)).toBe(true);
    await localRestart(cluster.dataDir, String(leader));
    await eventually(async () => expect((await cluster.admin.describeTopic('demo')).partitions.find((p) => p.partition === partition)!.isr).toHaveLength(3), {
      timeoutMs: 30_000,
    });
  });
});
