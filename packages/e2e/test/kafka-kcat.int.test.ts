// Issue 19, conformance with librdkafka through kcat (a client nobody here wrote): metadata with
// the seed's placement, idempotent acks=all produce and read-back in order, plain and compressed
// (zstd, lz4, snappy, gzip: stored as they came), kcat as a consumer-group member; and what the
// listener does with frames no client sends (KIP-511, Produce v0-2, bad sizes, unknown keys).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest } from '@tributary/kafka';
import { readBatchHeader } from '@tributary/protocol';
import { SEED_PLACEMENT, allRunning, exchange, kafkaRequest, requireTool, run, startTestCluster, type TestCluster } from '../src/index.ts';

const RECORDS = Array.from({ length: 10_000 }, (_, i) => `record-${i}`);

describe('Kafka listener: kcat (librdkafka)', () => {
  let cluster: TestCluster;
  const kcat = (args: string[], input?: string) => run('kcat', ['-b', cluster.kafkaBootstrap, ...args], { input, timeoutMs: 120_000 });

  beforeAll(async () => {
    requireTool('kcat');
    cluster = await startTestCluster();
    await cluster.admin.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('kcat -L -J lists the six brokers and demo placed as the seed; Metadata carries racks and a live controller id', async () => {
    const result = await kcat(['-L', '-J']);
    expect(result.code, result.stderr).toBe(0);
    const md = JSON.parse(result.stdout) as {
      brokers: { id: number; name: string }[];
      topics: { topic: string; partitions: { partition: number; leader: number; replicas: { id: number }[] }[] }[];
    };
    expect(md.brokers.map((b) => b.id).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const b of md.brokers) expect(b.name).toBe(`127.0.0.1:${cluster.kafkaPorts[b.id]}`);
    const demo = md.topics.find((t) => t.topic === 'demo')!;
    const placement = demo.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.replicas.map((r) => r.id));
    expect(placement).toEqual(SEED_PLACEMENT);
    expect(demo.partitions.map((p) => p.leader)).toEqual(SEED_PLACEMENT.map((r) => r[0]));

    const raw = await kafkaRequest(cluster.kafkaPorts[2]!, 3, 8, { topics: [{ name: 'demo' }], allowAutoTopicCreation: false });
    const racks = Object.fromEntries((raw.brokers as { nodeId: number; rack: string }[]).map((b) => [b.nodeId, b.rack]));
    expect(racks).toEqual({ 0: 'rack-1', 1: 'rack-1', 2: 'rack-1', 3: 'rack-2', 4: 'rack-2', 5: 'rack-2' });
    expect([0, 1, 2, 3, 4, 5]).toContain(raw.controllerId);
    const p0 = (raw.topics as { partitions: { partitionIndex: number; leaderEpoch: number }[] }[])[0]!.partitions.find((p) => p.partitionIndex === 0)!;
    expect(p0.leaderEpoch).toBeGreaterThanOrEqual(0);
  });

  it.each([
    { codec: 'none', partition: 0 },
    { codec: 'zstd', partition: 1 },
    { codec: 'lz4', partition: 2 },
    { codec: 'snappy', partition: 3 },
    { codec: 'gzip', partition: 4 },
  ])(
    'kcat -P of 10,000 records (idempotent, acks=all, -z $codec), then kcat -C -o beginning -e reads exactly those, in order',
    async ({ codec, partition }) => {
      const produced = await kcat(
        ['-P', '-t', 'demo', '-p', String(partition), '-z', codec, '-X', 'enable.idempotence=true', '-X', 'acks=all'],
        `${RECORDS.join('\n')}\n`,
      );
      expect(produced.code, produced.stderr).toBe(0);
      const consumed = await kcat(['-C', '-t', 'demo', '-p', String(partition), '-o', 'beginning', '-e', '-q']);
      expect(consumed.code, consumed.stderr).toBe(0);
      expect(consumed.stdout.split('\n').slice(0, -1)).toEqual(RECORDS);
      // Stored as they came: the leader serves the producer's compressed batches.
      const leader = SEED_PLACEMENT[partition]![0]!;
      const fetched = await kafkaRequest(cluster.kafkaPorts[leader]!, 1, 11, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: 'demo', partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
        forgottenTopicsData: [],
        rackId: '',
      });
      const answer = (fetched.responses as { partitions: { errorCode: number; highWatermark: number; lastStableOffset: number; records: Buffer }[] }[])[0]!
        .partitions[0]!;
      expect(answer.errorCode).toBe(0);
      expect(answer.highWatermark).toBe(10_000);
      expect(answer.lastStableOffset).toBe(10_000);
      expect(readBatchHeader(answer.records).attributes & 0x07).toBe(['none', 'gzip', 'snappy', 'lz4', 'zstd'].indexOf(codec));
    },
  );

  it("Fetch v11 names a follower in the consumer's rack as its preferred read replica (KIP-392), which then serves it; ListOffsets finds earliest, latest and by time", async () => {
    const fetch = (broker: number) =>
      kafkaRequest(cluster.kafkaPorts[broker]!, 1, 11, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        isolationLevel: 1,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: 'demo', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
        forgottenTopicsData: [],
        rackId: 'rack-2',
      });
    type FetchAnswer = { partitions: { errorCode: number; preferredReadReplica: number; records: Buffer; abortedTransactions: unknown[] | null }[] }[];
    // P0: replicas 0,3,1, led by B0 in rack-1; B3 is its in-sync replica in rack-2.
    const atLeader = (await fetch(0)).responses as FetchAnswer;
    expect(atLeader[0]!.partitions[0]).toMatchObject({ errorCode: 0, preferredReadReplica: 3, abortedTransactions: [] });
    expect(atLeader[0]!.partitions[0]!.records.length).toBe(0);
    const atFollower = (await fetch(3)).responses as FetchAnswer;
    expect(atFollower[0]!.partitions[0]!.errorCode).toBe(0);
    expect(readBatchHeader(atFollower[0]!.partitions[0]!.records).baseOffset).toBe(0);

    const listed = await kafkaRequest(cluster.kafkaPorts[0]!, 2, 5, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: 'demo',
          partitions: [-2, -1, 0].map((timestamp) => ({ partitionIndex: 0, currentLeaderEpoch: -1, timestamp })),
        },
      ],
    });
    const offsets = (listed.topics as { partitions: { errorCode: number; offset: number; leaderEpoch: number }[] }[])[0]!.partitions;
    expect(offsets.map((p) => [p.errorCode, p.offset])).toEqual([
      [0, 0],
      [0, 10_000],
      [0, 0],
    ]);
    expect(offsets[1]!.leaderEpoch).toBeGreaterThanOrEqual(0);
  });

  it('kcat -G consumes as a member of a group, and commits: a second run finds nothing new', async () => {
    const first = await kcat(['-G', 'kcat-group', '-X', 'auto.offset.reset=earliest', '-e', '-q', '-f', '%p %o\n', 'demo']);
    expect(first.code, first.stderr).toBe(0);
    const lines = first.stdout.split('\n').filter((l) => l !== '');
    // Every record kcat -P wrote above (5 partitions of 10,000), each once.
    expect(lines.length).toBe(50_000);
    expect(new Set(lines).size).toBe(50_000);
    const second = await kcat(['-G', 'kcat-group', '-X', 'auto.offset.reset=earliest', '-e', '-q', 'demo']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe('');
  });

  it('ApiVersions: v3 lists the milestone-2 table; an unknown version is answered in v0 with UNSUPPORTED_VERSION and the table (KIP-511)', async () => {
    const v3 = await kafkaRequest(cluster.kafkaPorts[0]!, 18, 3, { clientSoftwareName: 'e2e', clientSoftwareVersion: '1' });
    expect(v3.errorCode).toBe(0);
    const table = Object.fromEntries(
      (v3.apiKeys as { apiKey: number; minVersion: number; maxVersion: number }[]).map((a) => [a.apiKey, [a.minVersion, a.maxVersion]]),
    );
    expect(table).toEqual({
      0: [0, 9],
      1: [4, 13],
      2: [1, 6],
      3: [0, 12],
      8: [2, 8],
      9: [1, 8],
      10: [0, 4],
      11: [0, 7],
      12: [0, 4],
      13: [0, 5],
      14: [0, 5],
      18: [0, 3],
      19: [0, 7],
      20: [0, 6],
      22: [0, 4],
      23: [0, 4],
      32: [0, 4],
    });
    const future = encodeRequest({ apiKey: 18, apiVersion: 3, correlationId: 5, clientId: 'future' }, { clientSoftwareName: 'x', clientSoftwareVersion: 'y' });
    future.writeInt16BE(9, 6);
    const answer = await exchange(cluster.kafkaPorts[0]!, future);
    expect(Buffer.isBuffer(answer)).toBe(true);
    const { decodeResponse } = await import('@tributary/kafka');
    const v0 = decodeResponse(18, 0, answer as Buffer);
    expect(v0.correlationId).toBe(5);
    expect(v0.body.errorCode).toBe(35);
    expect((v0.body.apiKeys as unknown[]).length).toBe(17);
  });

  it('Produce v0-2 is advertised but answered UNSUPPORTED_VERSION', async () => {
    const answer = await kafkaRequest(cluster.kafkaPorts[0]!, 0, 2, {
      acks: 1,
      timeoutMs: 1000,
      topicData: [{ name: 'demo', partitionData: [{ index: 0, records: Buffer.alloc(70) }] }],
    });
    const p = (answer.responses as { partitionResponses: { errorCode: number; baseOffset: number }[] }[])[0]!.partitionResponses[0]!;
    expect(p).toMatchObject({ errorCode: 35, baseOffset: -1 });
  });

  it('bad frames close the connection, never the broker: a 2 GB length, a negative one, an unknown key, an unadvertised version, a truncated body', async () => {
    const port = cluster.kafkaPorts[1]!;
    const sized = (n: number, rest: Buffer = Buffer.alloc(0)) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n, 0);
      return Buffer.concat([b, rest]);
    };
    expect(await exchange(port, sized(0x7fffffff, Buffer.alloc(64)))).toBe('closed');
    expect(await exchange(port, sized(-5))).toBe('closed');
    expect(await exchange(port, sized(3, Buffer.alloc(3)))).toBe('closed');
    const unknownKey = encodeRequest({ apiKey: 3, apiVersion: 1, correlationId: 1, clientId: null }, { topics: null });
    unknownKey.writeInt16BE(99, 4);
    expect(await exchange(port, unknownKey)).toBe('closed');
    // Metadata v13, one past the advertised 0-12.
    const metadataV13 = encodeRequest({ apiKey: 3, apiVersion: 12, correlationId: 1, clientId: null }, { topics: null });
    metadataV13.writeInt16BE(13, 6);
    expect(await exchange(port, metadataV13)).toBe('closed');
    // Metadata v1 claiming a million topics in a 20-byte frame.
    const truncated = encodeRequest({ apiKey: 3, apiVersion: 1, correlationId: 1, clientId: null }, { topics: [] });
    truncated.writeInt32BE(1_000_000, truncated.length - 4);
    expect(await exchange(port, truncated)).toBe('closed');
    expect(allRunning(cluster.dataDir)).toBe(true);
    const md = await kafkaRequest(port, 3, 1, { topics: null });
    expect((md.brokers as unknown[]).length).toBe(6);
  });

  it('a storm of bad frames on every broker while kcat produces 10,000 idempotent acks=all records: every record lands, no process falls', async () => {
    const sized = (n: number, rest: Buffer = Buffer.alloc(0)) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n, 0);
      return Buffer.concat([b, rest]);
    };
    const garbage = (i: number): Buffer => {
      switch (i % 6) {
        case 0:
          return sized(0x7fffffff, Buffer.alloc(1024));
        case 1:
          return sized(-1);
        case 2:
          return sized(1024, Buffer.from(Array.from({ length: 1024 }, (_, j) => (i * 31 + j * 7) & 0xff)));
        case 3: {
          // A Produce v7 whose records claim far more bytes than the frame holds.
          const frame = encodeRequest(
            { apiKey: 0, apiVersion: 7, correlationId: i, clientId: 'storm' },
            {
              transactionalId: null,
              acks: -1,
              timeoutMs: 1000,
              topicData: [{ name: 'demo', partitionData: [{ index: 5, records: Buffer.alloc(100) }] }],
            },
          );
          frame.writeInt32BE(0x7ffffff0, frame.length - 104);
          return frame;
        }
        case 4:
          // A whole Produce of a corrupt batch: answered CORRUPT_MESSAGE, the connection kept.
          return encodeRequest(
            { apiKey: 0, apiVersion: 7, correlationId: i, clientId: 'storm' },
            {
              transactionalId: null,
              acks: -1,
              timeoutMs: 1000,
              topicData: [{ name: 'demo', partitionData: [{ index: 5, records: Buffer.alloc(100, 1) }] }],
            },
          );
        default:
          // The first half of a Metadata request, then the connection closes.
          return encodeRequest({ apiKey: 3, apiVersion: 8, correlationId: i, clientId: 'storm' }, { topics: null, allowAutoTopicCreation: false }).subarray(
            0,
            12,
          );
      }
    };
    let stop = false;
    const storm = (async () => {
      let sent = 0;
      while (!stop) {
        await Promise.all(Array.from({ length: 30 }, (_, k) => exchange(cluster.kafkaPorts[(sent + k) % 6]!, garbage(sent + k), 2000)));
        sent += 30;
      }
      return sent;
    })();
    await new Promise((r) => setTimeout(r, 200));
    const storming = 'storm-';
    const produced = await kcat(
      ['-P', '-t', 'demo', '-p', '5', '-X', 'enable.idempotence=true', '-X', 'acks=all'],
      `${RECORDS.map((r) => storming + r).join('\n')}\n`,
    );
    stop = true;
    const frames = await storm;
    expect(produced.code, produced.stderr).toBe(0);
    expect(frames).toBeGreaterThanOrEqual(30);
    const consumed = await kcat(['-C', '-t', 'demo', '-p', '5', '-o', 'beginning', '-e', '-q']);
    expect(consumed.stdout.split('\n').filter((l) => l.startsWith(storming))).toEqual(RECORDS.map((r) => storming + r));
    expect(allRunning(cluster.dataDir)).toBe(true);
  });
});
