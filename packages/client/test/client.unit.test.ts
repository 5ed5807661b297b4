// Producer, Consumer and Admin against a fake cluster of real HTTP servers (test/fake-cluster.ts).
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '@tributary/testkit';
import { readBatchHeader } from '@tributary/protocol';
import { Admin, Consumer, Producer, partitionForKey, type ConsumerRecord } from '../src/index.ts';
import { FakeCluster } from './fake-cluster.ts';

let cluster: FakeCluster;
const closers: { close(): Promise<void> }[] = [];
function track<T extends { close(): Promise<void> }>(c: T): T {
  closers.push(c);
  return c;
}

beforeEach(async () => {
  cluster = await FakeCluster.start(3);
  cluster.createTopic('t', 3);
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close().catch(() => {})));
  await cluster.close();
});

describe('Producer', () => {
  it('sends keyed records to the murmur2 partition with consecutive offsets', async () => {
    const producer = track(new Producer({ bootstrap: cluster.bootstrap }));
    const results = await Promise.all(['a', 'b', 'c', 'a', 'a'].map((key, i) => producer.send({ topic: 't', key, value: `v${i}` })));
    const keys = ['a', 'b', 'c', 'a', 'a'];
    for (const [i, key] of keys.entries()) expect(results[i]!.partition).toBe(partitionForKey(Buffer.from(key), 3));
    const pa = partitionForKey(Buffer.from('a'), 3);
    const onPa = keys.map((k, i) => ({ k, i })).filter(({ k }) => partitionForKey(Buffer.from(k), 3) === pa);
    expect(results.filter((r) => r.partition === pa).map((r) => r.offset)).toEqual(onPa.map((_, n) => n));
    expect(cluster.values('t', pa)).toEqual(onPa.map(({ i }) => `v${i}`));
  });

  it('groups the batches of every partition a broker leads into one produce request', async () => {
    const producer = track(new Producer({ bootstrap: cluster.bootstrap, lingerMs: 20 }));
    cluster.createTopic('g', 6);
    await producer.send({ topic: 'g', value: 'warm-up', partition: 0 });
    cluster.produceCalls.length = 0;
    await Promise.all(Array.from({ length: 60 }, (_, i) => producer.send({ topic: 'g', value: `v${i}`, partition: i % 6 })));
    expect(cluster.produceCalls).toHaveLength(3);
    for (const call of cluster.produceCalls) {
      expect(call.request.partitions.map((p) => p.partition).sort()).toEqual([call.broker, call.broker + 3]);
      expect(call.request.acks).toBe(-1);
    }
  });

  it('pipelines the requests to a broker on one connection, so batches arrive in the order they were made', async () => {
    // One record per batch, each sent while earlier ones wait 5 ms for their answer: several
    // requests in flight at once, which over a pool of connections could overtake each other.
    const producer = track(new Producer({ bootstrap: cluster.bootstrap, lingerMs: 0, batchSize: 1 }));
    await producer.send({ topic: 't', value: 'warm-up', partition: 0 });
    cluster.produceCalls.length = 0;
    cluster.produceDelayMs = 5;
    const values = Array.from({ length: 100 }, (_, i) => `v${i}`);
    const sends: Promise<unknown>[] = [];
    for (const value of values) {
      sends.push(producer.send({ topic: 't', value, partition: 0 }));
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(sends);
    expect(cluster.produceInFlightMax).toBeGreaterThan(1);
    expect(new Set(cluster.produceCalls.map((c) => c.connection)).size).toBe(1);
    const sequences = cluster.produceCalls.flatMap((c) => c.request.partitions.map((p) => readBatchHeader(p.records).baseSequence));
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(sequences.length); // nothing was refused and sent again
    expect(cluster.values('t', 0)).toEqual(['warm-up', ...values]);
  });

  it('with lingerMs 0 sends a new batch in the same turn of the event loop, not on a timer', async () => {
    // Node fires a 0 ms timer after 1 ms at the earliest, most of the median end-to-end latency at
    // 10,000 records/s. A drain on setImmediate runs before this test's own setImmediate, and no
    // timer can fire in between.
    const producer = track(new Producer({ bootstrap: cluster.bootstrap, lingerMs: 0 }));
    await producer.send({ topic: 't', value: 'warm-up', partition: 0 });
    const inflight = (producer as unknown as { inflightRequests: Map<unknown, unknown> }).inflightRequests;
    await eventually(() => expect(inflight.size).toBe(0)); // the warm-up's request is forgotten after its send resolves
    const sent = producer.send({ topic: 't', value: 'now', partition: 1 });
    await new Promise((r) => setImmediate(r));
    expect(inflight.size).toBe(1);
    await sent;
    expect(cluster.values('t', 1)).toEqual(['now']);
  });

  it('sticks unkeyed records to one partition per batch', async () => {
    const producer = track(new Producer({ bootstrap: cluster.bootstrap }));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => producer.send({ topic: 't', value: `v${i}` })));
    expect(new Set(results.map((r) => r.partition)).size).toBe(1);
    expect(results.map((r) => r.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('refreshes metadata and retries on NOT_LEADER_OR_FOLLOWER, then succeeds on the new leader', async () => {
    const producer = track(new Producer({ bootstrap: cluster.bootstrap }));
    await producer.send({ topic: 't', value: 'first', partition: 0 });
    cluster.moveLeader('t', 0, 2); // the producer's metadata still says broker 0
    const result = await producer.send({ topic: 't', value: 'second', partition: 0 });
    expect(result).toEqual({ topic: 't', partition: 0, offset: 1 });
    const brokers = cluster.produceCalls.filter((c) => c.request.partitions.some((p) => p.partition === 0)).map((c) => c.broker);
    expect(brokers).toEqual([0, 0, 2]);
  });

  it('abandons a hung request once the metadata shows another leader, and retries there', async () => {
    const producer = track(new Producer({ bootstrap: cluster.bootstrap }));
    await producer.send({ topic: 't', value: 'first', partition: 0 });
    cluster.onProduce = (broker) => (broker === 0 ? 'hang' : undefined);
    const sent = producer.send({ topic: 't', value: 'second', partition: 0 });
    await eventually(() => cluster.produceCalls.length === 2, { timeoutMs: 2000, intervalMs: 10 });
    cluster.moveLeader('t', 0, 2); // e.g. broker 0 was paused and fenced
    const started = Date.now();
    await expect(sent).resolves.toEqual({ topic: 't', partition: 0, offset: 1 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(cluster.produceCalls.at(-1)!.broker).toBe(2);
  });

  it('fails at once with the code of a non-retriable error, naming the partition', async () => {
    const producer = track(new Producer({ bootstrap: cluster.bootstrap }));
    cluster.onProduce = () => ({ code: 'CORRUPT_MESSAGE', message: 'bad crc' });
    const err = await producer.send({ topic: 't', value: 'x', partition: 1 }).catch((e) => e);
    expect(err).toMatchObject({ name: 'TributaryError', code: 'CORRUPT_MESSAGE' });
    expect(err.message).toContain('t-1');
    expect(err.message).toContain('attempt 1');
    expect(cluster.produceCalls).toHaveLength(1);
  });

  it('re-sends a retried batch with the same bytes and sequence so the leader de-duplicates it', async () => {
    const producer = track(new Producer({ bootstrap: cluster.bootstrap }));
    await producer.send({ topic: 't', value: 'a', partition: 0 });
    // The leader appends the next batch but the answer is lost (a timeout): the retry is a duplicate.
    cluster.onProduce = (_b, _t, partition, attempt) => (partition === 0 && attempt === 2 ? 'append-then-timeout' : undefined);
    const result = await producer.send({ topic: 't', value: 'b', partition: 0 });
    expect(result.offset).toBe(1);
    const sent = cluster.produceCalls.map((c) => c.request.partitions[0]!.records);
    expect(sent).toHaveLength(3);
    expect(sent[2]!.equals(sent[1]!)).toBe(true);
    expect(readBatchHeader(sent[1]!)).toMatchObject({ producerId: 1000, baseSequence: 1 });
    expect(readBatchHeader(sent[0]!).baseSequence).toBe(0);
    expect(cluster.values('t', 0)).toEqual(['a', 'b']);
  });

  it('rejects with the last error code once the delivery timeout passes', async () => {
    const producer = track(new Producer({ bootstrap: cluster.bootstrap, deliveryTimeoutMs: 700 }));
    cluster.onProduce = () => ({ code: 'NOT_ENOUGH_REPLICAS', message: 'isr 1 < min.insync.replicas 2' });
    const started = Date.now();
    const err = await producer.send({ topic: 't', value: 'x', partition: 2 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'NOT_ENOUGH_REPLICAS' });
    expect(err.message).toMatch(/delivery timeout.*t-2.*attempt/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(cluster.produceCalls.length).toBeGreaterThanOrEqual(3);
  });

  it('with acks=0 resolves with offset -1', async () => {
    const producer = track(new Producer({ bootstrap: cluster.bootstrap, acks: 0 }));
    await expect(producer.send({ topic: 't', value: 'x', partition: 0 })).resolves.toEqual({ topic: 't', partition: 0, offset: -1 });
    await producer.close();
    expect(cluster.produceCalls[0]!.request.acks).toBe(0);
    expect(readBatchHeader(cluster.produceCalls[0]!.request.partitions[0]!.records).producerId).toBe(-1);
  });

  it('refuses a topic that does not exist after maxBlockMs, and a partition out of range', async () => {
    const producer = track(new Producer({ bootstrap: cluster.bootstrap, maxBlockMs: 300 }));
    await expect(producer.send({ topic: 'nope', value: 'x' })).rejects.toMatchObject({
      code: 'UNKNOWN_TOPIC_OR_PARTITION',
      message: expect.stringContaining("'nope'"),
    });
    await expect(producer.send({ topic: 't', value: 'x', partition: 9 })).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });

  it('reports an unreachable cluster as BROKER_NOT_AVAILABLE naming the address', async () => {
    const producer = track(new Producer({ bootstrap: ['127.0.0.1:1'], maxBlockMs: 200 }));
    await expect(producer.send({ topic: 't', value: 'x' })).rejects.toMatchObject({
      code: 'BROKER_NOT_AVAILABLE',
      message: expect.stringContaining('127.0.0.1:1'),
    });
  });

  it('flush waits for buffered records; send waits for room when the buffer is full', async () => {
    const producer = track(new Producer({ bootstrap: cluster.bootstrap, lingerMs: 1000, bufferMemoryBytes: 2000 }));
    const sends = Array.from({ length: 50 }, (_, i) => producer.send({ topic: 't', value: Buffer.alloc(100, i), partition: i % 3 }));
    await producer.flush();
    const results = await Promise.all(sends);
    expect(results.filter((r) => r.partition === 1).map((r) => r.offset)).toEqual(Array.from({ length: 17 }, (_, i) => i));
  });
});

describe('Consumer', () => {
  async function fill(n: number, partition = 0): Promise<void> {
    const producer = new Producer({ bootstrap: cluster.bootstrap });
    await Promise.all(Array.from({ length: n }, (_, i) => producer.send({ topic: 't', value: `v${i}`, key: `k${i}`, partition, headers: { h: 'x' } })));
    await producer.close();
  }

  async function collect(consumer: Consumer, n: number): Promise<ConsumerRecord[]> {
    const out: ConsumerRecord[] = [];
    await eventually(
      async () => {
        out.push(...(await consumer.poll()));
        return out.length >= n;
      },
      { timeoutMs: 5000, intervalMs: 1 },
    );
    return out;
  }

  it('reads a partition from the earliest offset, records in order with keys and headers', async () => {
    await fill(10);
    const consumer = track(new Consumer({ bootstrap: cluster.bootstrap }));
    consumer.assign([{ topic: 't', partition: 0, offset: 'earliest' }]);
    const records = await collect(consumer, 10);
    expect(records.map((r) => r.value!.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`));
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(records[3]).toMatchObject({ topic: 't', partition: 0, key: Buffer.from('k3') });
    expect(records[3]!.headers[0]!.value!.toString()).toBe('x');
  });

  it('skips records below the requested offset inside a batch', async () => {
    await fill(10);
    const consumer = track(new Consumer({ bootstrap: cluster.bootstrap }));
    consumer.assign([{ topic: 't', partition: 0, offset: 7 }]);
    expect((await collect(consumer, 3)).map((r) => r.offset)).toEqual([7, 8, 9]);
  });

  it("starts at the end with 'latest' and iterates with for await", async () => {
    await fill(5);
    const consumer = track(new Consumer({ bootstrap: cluster.bootstrap, maxWaitMs: 100 }));
    consumer.subscribe('t');
    await consumer.poll();
    expect(consumer.position('t', 0)).toBe(5);
    const producer = track(new Producer({ bootstrap: cluster.bootstrap }));
    await producer.send({ topic: 't', value: 'new', partition: 0 });
    for await (const record of consumer) {
      expect(record).toMatchObject({ partition: 0, offset: 5 });
      expect(record.value!.toString()).toBe('new');
      break;
    }
  });

  it('sends one fetch per broker for all its partitions', async () => {
    const consumer = track(new Consumer({ bootstrap: cluster.bootstrap, maxWaitMs: 50 }));
    consumer.subscribe('t', { from: 'earliest' });
    await consumer.poll();
    await consumer.poll();
    const first = cluster.fetchCalls.slice(0, 3);
    expect(first.map((c) => c.broker).sort()).toEqual([0, 1, 2]);
    for (const c of first) expect(c.request.partitions.map((p) => p.partition)).toEqual([c.broker]);
  });

  it('resets to the earliest offset on OFFSET_OUT_OF_RANGE', async () => {
    await fill(3);
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (_o: object, m: string) => warnings.push(m), error() {} };
    const consumer = track(new Consumer({ bootstrap: cluster.bootstrap, logger }));
    consumer.assign([{ topic: 't', partition: 0, offset: 99 }]);
    expect((await collect(consumer, 3)).map((r) => r.offset)).toEqual([0, 1, 2]);
    expect(warnings).toContain('offset out of range; resetting to earliest');
  });

  it('follows preferredReadReplica (rack-aware), and falls back to the leader when it fails', async () => {
    await fill(4);
    cluster.onFetch = (broker) => (broker === 0 ? { preferredReadReplica: 1 } : undefined);
    const consumer = track(new Consumer({ bootstrap: cluster.bootstrap, rack: 'rack-2', maxWaitMs: 50 }));
    consumer.assign([{ topic: 't', partition: 0, offset: 'earliest' }]);
    await collect(consumer, 4);
    await consumer.poll();
    expect(cluster.fetchCalls[0]).toMatchObject({ broker: 0, request: { rack: 'rack-2' } });
    expect(cluster.fetchCalls.at(-1)!.broker).toBe(1);
    cluster.onFetch = (broker) => (broker === 1 ? { error: { code: 'NOT_LEADER_OR_FOLLOWER', message: 'gone' } } : undefined);
    const calls = cluster.fetchCalls.length;
    await eventually(
      async () => {
        await consumer.poll();
        return cluster.fetchCalls.slice(calls).some((c) => c.broker === 0);
      },
      { timeoutMs: 3000, intervalMs: 1 },
    );
  });

  it('backs off failing fetches without piling listeners onto its signal, and close() ends a long poll at once', async () => {
    cluster.onFetch = () => ({ error: { code: 'NOT_LEADER_OR_FOLLOWER', message: 'moving' } });
    const consumer = track(new Consumer({ bootstrap: cluster.bootstrap, maxWaitMs: 50 }));
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const signal = (consumer as unknown as { abort: AbortController }).abort.signal;
    const calls = cluster.fetchCalls.length;
    // Each poll that finds nothing fetchable sleeps until the backoff ends.
    await eventually(
      async () => {
        await consumer.poll();
        return cluster.fetchCalls.length - calls >= 4;
      },
      { timeoutMs: 5000, intervalMs: 1 },
    );
    expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
    cluster.onFetch = undefined;
    // A fetch waiting on the broker (maxWaitMs 5 s, nothing to read) ends with close().
    const waiting = track(new Consumer({ bootstrap: cluster.bootstrap, maxWaitMs: 5000 }));
    waiting.assign([{ topic: 't', partition: 0, offset: 'latest' }]);
    const poll = waiting.poll();
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    await waiting.close();
    await poll.catch(() => undefined);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses a topic that does not exist', async () => {
    const consumer = track(new Consumer({ bootstrap: cluster.bootstrap, topicWaitMs: 0 }));
    consumer.subscribe('nope');
    await expect(consumer.poll()).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });
});

describe('Admin', () => {
  it('creates a topic and waits for its leaders; refuses a duplicate with TOPIC_ALREADY_EXISTS', async () => {
    const admin = track(new Admin({ bootstrap: cluster.bootstrap }));
    const created = await admin.createTopic({ name: 'new', partitions: 4, replicationFactor: 2 });
    expect(created.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    await expect(admin.createTopic({ name: 'new', partitions: 1, replicationFactor: 1 })).rejects.toMatchObject({ code: 'TOPIC_ALREADY_EXISTS' });
    expect(await admin.listTopics()).toEqual(['new', 't']);
  });

  it("describes topics, the cluster, and the leaders' replica views", async () => {
    const admin = track(new Admin({ bootstrap: cluster.bootstrap }));
    const topic = await admin.describeTopic('t');
    expect(topic.partitions[1]).toMatchObject({ partition: 1, leader: 1, leaderEpoch: 0, replicas: [1, 2], isr: [1, 2] });
    await expect(admin.describeTopic('nope')).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION', message: "topic 'nope' does not exist" });
    const verbose = await admin.describeTopicVerbose('t');
    expect(verbose.partitions[2]).toMatchObject({ highWatermark: 0, logEndOffset: 0, replicaStates: [{ brokerId: 2 }, { brokerId: 0 }] });
    const described = await admin.describeCluster();
    expect(described.brokers.map((b) => [b.id, b.rack, b.alive])).toEqual([
      [0, 'rack-1', true],
      [1, 'rack-2', true],
      [2, 'rack-1', true],
    ]);
    await admin.deleteTopic('t');
    expect(await admin.listTopics()).toEqual([]);
  });
});

describe('Admin: reassignments, partitions and configs', () => {
  it("sends each partition's target or cancel and returns the per-partition answers in order", async () => {
    const admin = track(new Admin({ bootstrap: cluster.bootstrap }));
    const results = await admin.alterPartitionReassignments([
      { topic: 't', partition: 0, replicas: [2, 1] },
      { topic: 't', partition: 1, replicas: [1, 9] },
      { topic: 't', partition: 2, replicas: null },
    ]);
    expect(results).toEqual([
      { topic: 't', partition: 0 },
      { topic: 't', partition: 1, error: { code: 'INVALID_REPLICA_ASSIGNMENT', message: 'broker 9 is not registered' } },
      { topic: 't', partition: 2 },
    ]);
    expect(cluster.adminCalls.at(-1)).toEqual({
      op: 'alter-partition-reassignments',
      body: {
        partitions: [
          { topic: 't', partition: 0, replicas: [2, 1] },
          { topic: 't', partition: 1, replicas: [1, 9] },
          { topic: 't', partition: 2, replicas: null },
        ],
      },
    });
  });

  it('lists reassignments in progress, of some topics or all', async () => {
    const admin = track(new Admin({ bootstrap: cluster.bootstrap }));
    cluster.reassignments = [{ topic: 't', partition: 0, replicas: [2, 1, 0], addingReplicas: [2], removingReplicas: [0] }];
    expect(await admin.listPartitionReassignments()).toEqual(cluster.reassignments);
    expect(cluster.adminCalls.at(-1)).toEqual({ op: 'list-partition-reassignments', body: {} });
    expect(await admin.listPartitionReassignments(['other'])).toEqual([]);
    expect(cluster.adminCalls.at(-1)).toEqual({ op: 'list-partition-reassignments', body: { topics: ['other'] } });
  });

  it('createPartitions waits until every broker shows the new partitions led; a refusal surfaces its code', async () => {
    const admin = track(new Admin({ bootstrap: cluster.bootstrap }));
    const grown = await admin.createPartitions('t', 5);
    expect(grown.partitions.map((p) => [p.partition, p.leader >= 0])).toEqual([
      [0, true],
      [1, true],
      [2, true],
      [3, true],
      [4, true],
    ]);
    await expect(admin.createPartitions('t', 2)).rejects.toMatchObject({ code: 'INVALID_PARTITIONS' });
  });

  it('describes and alters the configs of a topic or a broker', async () => {
    const admin = track(new Admin({ bootstrap: cluster.bootstrap }));
    expect(await admin.describeConfigs({ topic: 't' })).toEqual([{ name: 'retention.ms', value: 1000, isDefault: false, doc: '' }]);
    expect(cluster.adminCalls.at(-1)).toEqual({ op: 'describe-configs', body: { resource: { topic: 't' } } });
    await admin.alterConfigs({ broker: 1 }, { set: { 'leader.replication.throttled.rate': 1024 }, delete: ['follower.replication.throttled.rate'] });
    expect(cluster.adminCalls.at(-1)).toEqual({
      op: 'alter-configs',
      body: { resource: { broker: 1 }, set: { 'leader.replication.throttled.rate': 1024 }, delete: ['follower.replication.throttled.rate'] },
    });
  });
});
