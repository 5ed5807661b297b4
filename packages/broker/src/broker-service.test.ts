import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BROKER_ROUTES, listenerRoutes, decodeBatches, MSGPACK_CONTENT_TYPE, decodeMsgpack, encodeMsgpack } from '@tributary/protocol';
import { createServerBudget, registeredRoutes } from '@tributary/transport/server';
import { batch, brokerReg, faultyFs, makeCore, topicState, type Core } from '../test/helpers.ts';
import { REQUEST_LIMITS, parseFetch, parseReplicaFetch } from './broker-service.ts';
import { BrokerMetrics } from './metrics.ts';

function md(version = 1) {
  return {
    clusterId: 'c1',
    version,
    brokers: [brokerReg(0, 'rack-1'), brokerReg(1, 'rack-2'), brokerReg(2, 'rack-1')],
    topics: [
      topicState('solo', [{ replicas: [0] }, { replicas: [0] }]),
      topicState('small', [{ replicas: [0] }], { 'max.message.bytes': 200 }),
      topicState('r3', [{ replicas: [0, 1, 2], leaderEpoch: 4 }], { 'min.insync.replicas': 2 }),
      topicState('lonely', [{ replicas: [0, 1, 2], isr: [0], leaderEpoch: 1 }], { 'min.insync.replicas': 2 }),
      topicState('elsewhere', [{ replicas: [1] }]),
      topicState('followed', [{ replicas: [1, 0], leader: 1, leaderEpoch: 2 }]),
    ],
  };
}

describe('broker routes', () => {
  let core: Core;
  beforeEach(async () => {
    core = await makeCore();
    core.rm.applyMetadata(md());
  });
  afterEach(async () => {
    await core.close();
  });

  const produce = (topic: string, records: Buffer, acks = 1, timeoutMs = 5000, partition = 0) =>
    core.post('/produce', { acks, timeoutMs, partitions: [{ topic, partition, records }] });

  it('produces with acks=1 and fetches the same bytes back', async () => {
    const a = await produce('solo', batch(['a']));
    expect(a.status).toBe(200);
    expect(a.body.partitions[0]).toMatchObject({ topic: 'solo', partition: 0, baseOffset: 0 });
    const b = await produce('solo', batch(['b', 'c', 'd']));
    expect(b.body.partitions[0].baseOffset).toBe(1);
    const f = await core.post('/fetch', {
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      partitions: [{ topic: 'solo', partition: 0, offset: 0, maxBytes: 1 << 20 }],
    });
    expect(f.body.partitions[0]).toMatchObject({ highWatermark: 4, logStartOffset: 0 });
    expect(decodeBatches(Buffer.from(f.body.partitions[0].records)).map((r) => r.value!.toString())).toEqual(['a', 'b', 'c', 'd']);
    const mid = await core.post('/fetch', {
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      partitions: [{ topic: 'solo', partition: 0, offset: 2, maxBytes: 1 << 20 }],
    });
    // Whole batches: the batch holding offset 2 starts at 1.
    expect(decodeBatches(Buffer.from(mid.body.partitions[0].records)).map((r) => r.offset)).toEqual([1, 2, 3]);
  });

  it('produce with acks=-1 on a single-replica partition commits at once', async () => {
    const a = await produce('solo', batch(['a']), -1);
    expect(a.body.partitions[0]).toEqual({ topic: 'solo', partition: 0, baseOffset: 0 });
  });

  it.each([
    ['an unknown topic', 'nope', 0, 'UNKNOWN_TOPIC_OR_PARTITION'],
    ['an unknown partition', 'solo', 7, 'UNKNOWN_TOPIC_OR_PARTITION'],
    ['a partition hosted elsewhere', 'elsewhere', 0, 'NOT_LEADER_OR_FOLLOWER'],
    ['a partition this broker follows', 'followed', 0, 'NOT_LEADER_OR_FOLLOWER'],
  ])('refuses produce to %s', async (_name, topic, partition, code) => {
    const r = await produce(topic as string, batch(['x']), 1, 1000, partition as number);
    expect(r.status).toBe(200);
    expect(r.body.partitions[0]).toMatchObject({ baseOffset: -1, error: { code } });
  });

  it('refuses a corrupt batch (CRC) and a too-large one, writing nothing', async () => {
    const bad = batch(['hello']);
    bad[bad.length - 2] = bad[bad.length - 2]! ^ 0xff;
    expect((await produce('solo', bad)).body.partitions[0].error.code).toBe('CORRUPT_MESSAGE');
    expect((await produce('solo', Buffer.from('not a batch'))).body.partitions[0].error.code).toBe('CORRUPT_MESSAGE');
    const big = batch(['x'.repeat(300)]);
    expect((await produce('small', big)).body.partitions[0].error.code).toBe('MESSAGE_TOO_LARGE');
    expect(core.rm.getPartition('solo', 0)!.log.logEndOffset).toBe(0);
    expect(core.rm.getPartition('small', 0)!.log.logEndOffset).toBe(0);
  });

  it.each([
    ['acks not in {-1,0,1}', { acks: 2, timeoutMs: 100, partitions: [] }],
    ['negative timeout', { acks: 1, timeoutMs: -1, partitions: [] }],
    ['huge timeout', { acks: 1, timeoutMs: 10 ** 12, partitions: [] }],
    ['records as a string', { acks: 1, timeoutMs: 100, partitions: [{ topic: 'solo', partition: 0, records: 'abc' }] }],
    ['negative partition', { acks: 1, timeoutMs: 100, partitions: [{ topic: 'solo', partition: -1, records: Buffer.alloc(0) }] }],
    ['missing partitions', { acks: 1, timeoutMs: 100 }],
    ['a body that is not a map', [1, 2, 3]],
  ])('answers INVALID_REQUEST to a produce with %s, and writes nothing', async (_name, body) => {
    const r = await core.post('/produce', body);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('INVALID_REQUEST');
    expect(core.rm.getPartition('solo', 0)!.log.logEndOffset).toBe(0);
  });

  it.each([
    ['negative offset', { partitions: [{ topic: 'solo', partition: 0, offset: -5, maxBytes: 100 }] }],
    ['offset beyond 2^53', { partitions: [{ topic: 'solo', partition: 0, offset: 2 ** 60, maxBytes: 100 }] }],
    ['maxWaitMs out of range', { maxWaitMs: 10 ** 9, partitions: [] }],
    ['maxBytes 0', { maxBytes: 0, partitions: [] }],
    ['a float partition', { partitions: [{ topic: 'solo', partition: 0.5, offset: 0 }] }],
  ])('answers INVALID_REQUEST to a fetch with %s', async (_name, body) => {
    const r = await core.post('/fetch', body);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('INVALID_REQUEST');
  });

  it('refuses garbage bytes as a body and keeps serving', async () => {
    const res = await core.app.inject({
      method: 'POST',
      url: '/produce',
      headers: { 'content-type': MSGPACK_CONTENT_TYPE },
      payload: Buffer.from([0xc1, 0xc1, 0xc1]),
    });
    expect(res.statusCode).toBe(400);
    expect((decodeMsgpack(res.rawPayload) as any).code).toBe('INVALID_REQUEST');
    expect((await produce('solo', batch(['ok']))).body.partitions[0].baseOffset).toBe(0);
  });

  it('checks the leader epoch a fetch carries', async () => {
    await produce('r3', batch(['a']));
    const at = (currentLeaderEpoch: number) =>
      core.post('/fetch', { maxWaitMs: 0, partitions: [{ topic: 'r3', partition: 0, offset: 0, currentLeaderEpoch }] });
    expect((await at(3)).body.partitions[0].error.code).toBe('FENCED_LEADER_EPOCH');
    expect((await at(5)).body.partitions[0].error.code).toBe('UNKNOWN_LEADER_EPOCH');
    expect((await at(4)).body.partitions[0].error).toBeUndefined();
    expect((await at(-1)).body.partitions[0].error).toBeUndefined();
  });

  it('answers OFFSET_OUT_OF_RANGE past the log end', async () => {
    await produce('solo', batch(['a']));
    const r = await core.post('/fetch', { maxWaitMs: 0, partitions: [{ topic: 'solo', partition: 0, offset: 5 }] });
    expect(r.body.partitions[0].error.code).toBe('OFFSET_OUT_OF_RANGE');
  });

  it('never serves consumers past the high watermark', async () => {
    await produce('r3', batch(['a', 'b']));
    const r = await core.post('/fetch', { maxWaitMs: 0, partitions: [{ topic: 'r3', partition: 0, offset: 0 }] });
    expect(r.body.partitions[0]).toMatchObject({ highWatermark: 0 });
    expect(r.body.partitions[0].records.length).toBe(0);
    const latest = await core.post('/list-offsets', { partitions: [{ topic: 'r3', partition: 0, timestamp: -1 }] });
    expect(latest.body.partitions[0].offset).toBe(0);
  });

  it('wakes a waiting fetch when an append happens', async () => {
    const started = Date.now();
    const pending = core.post('/fetch', { maxWaitMs: 10_000, minBytes: 1, partitions: [{ topic: 'solo', partition: 0, offset: 0 }] });
    await new Promise((r) => setTimeout(r, 50));
    await produce('solo', batch(['late']));
    const r = await pending;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(decodeBatches(Buffer.from(r.body.partitions[0].records))[0]!.value!.toString()).toBe('late');
  });

  it('a fetch with nothing to read waits maxWaitMs and answers empty', async () => {
    const started = Date.now();
    const r = await core.post('/fetch', { maxWaitMs: 150, minBytes: 1, partitions: [{ topic: 'solo', partition: 0, offset: 0 }] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(r.body.partitions[0].records.length).toBe(0);
  });

  it('caps a fetch at maxBytes per request, yet always returns a first whole batch', async () => {
    for (let i = 0; i < 5; i++) await produce('solo', batch(['x'.repeat(100)]));
    const one = await core.post('/fetch', { maxWaitMs: 0, maxBytes: 1, partitions: [{ topic: 'solo', partition: 0, offset: 0, maxBytes: 1 }] });
    expect(decodeBatches(Buffer.from(one.body.partitions[0].records))).toHaveLength(1);
    await produce('solo', batch(['y']), 1, 1000, 1);
    const two = await core.post('/fetch', {
      maxWaitMs: 0,
      maxBytes: 200,
      partitions: [
        { topic: 'solo', partition: 0, offset: 0, maxBytes: 10_000 },
        { topic: 'solo', partition: 1, offset: 0, maxBytes: 10_000 },
      ],
    });
    expect(decodeBatches(Buffer.from(two.body.partitions[0].records)).length).toBeLessThan(5);
  });

  it('lists earliest, latest and by-timestamp offsets', async () => {
    await produce('solo', batch(['a'], { timestamp: 1000 }));
    await produce('solo', batch(['b'], { timestamp: 2000 }));
    const r = await core.post('/list-offsets', {
      partitions: [
        { topic: 'solo', partition: 0, timestamp: -2 },
        { topic: 'solo', partition: 0, timestamp: -1 },
        { topic: 'solo', partition: 0, timestamp: 1500 },
        { topic: 'solo', partition: 0, timestamp: 9999 },
        { topic: 'elsewhere', partition: 0, timestamp: -1 },
      ],
    });
    expect(r.body.partitions.map((p: any) => p.offset)).toEqual([0, 2, 1, -1, -1]);
    expect(r.body.partitions[4].error.code).toBe('NOT_LEADER_OR_FOLLOWER');
  });

  it('answers metadata with the addresses of the listener', async () => {
    const r = await core.post('/metadata', { topics: ['solo', 'ghost'] });
    expect(r.body).toMatchObject({ clusterId: 'c1', version: 1, brokerId: 0, unknownTopics: ['ghost'] });
    expect(r.body.brokers[0]).toEqual({ id: 0, rack: 'rack-1', host: 'broker-0', port: 9092, alive: true });
    expect(r.body.topics).toHaveLength(1);
    const all = await core.post('/metadata', {});
    expect(all.body.topics.length).toBe(6);
  });

  it('forwards admin operations and relays errors', async () => {
    expect((await core.post('/admin/create-topic', { name: 't' })).body).toEqual({ echoed: { name: 't' } });
    const err = await core.post('/admin/delete-topic', { name: 't' });
    expect(err.status).toBe(409);
    expect(err.body.code).toBe('TOPIC_ALREADY_EXISTS');
    expect((await core.post('/admin/format-disk', {})).body.code).toBe('INVALID_REQUEST');
  });

  it('serves health and metrics', async () => {
    const h = await core.app.inject({ method: 'GET', url: '/health' });
    expect(h.statusCode).toBe(200);
    expect(decodeMsgpack(h.rawPayload)).toMatchObject({ status: 'ok', role: 'broker', brokerId: 0, metadataVersion: 1 });
    await produce('solo', batch(['a']));
    const m = await core.app.inject({ method: 'GET', url: '/metrics' });
    expect(m.statusCode).toBe(200);
    expect(m.headers['content-type']).toMatch(/text\/plain/);
    // Plain Prometheus text, not a msgpack string: the first byte is the '#' of '# HELP'.
    expect(m.payload.startsWith('# HELP ')).toBe(true);
    for (const name of [
      'tributary_requests_total',
      'tributary_leader_count',
      'tributary_under_replicated_partitions',
      'tributary_under_min_isr_partitions',
      'tributary_high_watermark',
      'tributary_log_end_offset',
      'tributary_isr_shrinks_total',
      'tributary_batch_validator_handoffs_total',
      'tributary_max_follower_lag_records',
      'tributary_request_latency_seconds',
      'tributary_broker_process_cpu_user_seconds_total',
    ]) {
      expect(m.payload).toContain(name);
    }
    expect(m.payload).toMatch(/tributary_requests_total\{api="produce",error="none".*\} 1/);
  });
});

describe('health before metadata', () => {
  it('answers 503 starting', async () => {
    const core = await makeCore({ ready: false });
    const h = await core.app.inject({ method: 'GET', url: '/health' });
    expect(h.statusCode).toBe(503);
    expect(decodeMsgpack(h.rawPayload)).toMatchObject({ status: 'starting' });
    await core.close();
  });
});

describe('a failing disk', () => {
  it('answers KAFKA_STORAGE_ERROR per partition and keeps serving', async () => {
    const fs = faultyFs();
    const core = await makeCore({ fs });
    core.rm.applyMetadata(md());
    const send = () => core.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: 'solo', partition: 0, records: batch(['a']) }] });
    expect((await send()).body.partitions[0].baseOffset).toBe(0);
    fs.failing = true;
    const r = await send();
    expect(r.status).toBe(200);
    expect(r.body.partitions[0]).toMatchObject({ baseOffset: -1, error: { code: 'KAFKA_STORAGE_ERROR' } });
    fs.failing = false;
    const h = await core.app.inject({ method: 'GET', url: '/health' });
    expect(h.statusCode).toBe(200);
    const f = await core.post('/fetch', { maxWaitMs: 0, partitions: [{ topic: 'solo', partition: 0, offset: 0 }] });
    expect(decodeBatches(Buffer.from(f.body.partitions[0].records)).map((x) => x.value!.toString())).toEqual(['a']);
    await core.close();
  });
});

describe('garbage on every route', () => {
  it('answers 4xx with an error code, never 5xx, and keeps serving', async () => {
    const fc = await import('fast-check');
    const core = await makeCore();
    core.rm.applyMetadata(md());
    const routes = ['/metadata', '/produce', '/fetch', '/list-offsets', '/replica/fetch', '/describe-replicas'];
    const partitionLike = fc.record(
      {
        topic: fc.oneof(fc.constantFrom('solo', 'r3', 'nope'), fc.string(), fc.integer()),
        partition: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.double(), fc.string()),
        offset: fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 60)),
        fetchOffset: fc.oneof(fc.integer(), fc.constant(-1)),
        lastFetchedEpoch: fc.integer({ min: -5, max: 5 }),
        currentLeaderEpoch: fc.integer({ min: -5, max: 5 }),
        timestamp: fc.integer(),
        maxBytes: fc.integer(),
        records: fc.oneof(
          fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)),
          fc.string(),
        ),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fc.anything(),
      fc.record(
        {
          acks: fc.integer({ min: -2, max: 2 }),
          timeoutMs: fc.integer({ min: -1, max: 50 }),
          maxWaitMs: fc.integer({ min: -1, max: 20 }),
          minBytes: fc.integer(),
          maxBytes: fc.integer(),
          brokerId: fc.integer({ min: -1, max: 3 }),
          brokerEpoch: fc.integer({ min: -2, max: 2 }),
          topic: fc.oneof(fc.string(), fc.constant('r3')),
          topics: fc.oneof(fc.array(fc.string()), fc.string()),
          partitions: fc.oneof(fc.array(partitionLike, { maxLength: 4 }), fc.anything()),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, async (route, b) => {
        const r = await core.post(route, b);
        expect(r.status, JSON.stringify(r.body)).toBeLessThan(500);
        if (r.status !== 200) expect(typeof r.body.code).toBe('string');
      }),
      { numRuns: 300, seed: 42 },
    );
    expect((await core.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    await core.close();
  });
});

describe('request limits (DESIGN.md § Limits)', () => {
  let core: Core;
  beforeEach(async () => {
    core = await makeCore();
    core.rm.applyMetadata(md());
  });
  afterEach(async () => {
    await core.close();
  });

  const raw = async (url: string, payload: Buffer) => {
    const res = await core.app.inject({ method: 'POST', url, headers: { 'content-type': MSGPACK_CONTENT_TYPE }, payload });
    return { status: res.statusCode, body: decodeMsgpack(res.rawPayload) as { code: string; message: string } };
  };
  const longTopic = (i: number) => `${'t'.repeat(240)}-${String(i).padStart(5, '0')}`.slice(0, REQUEST_LIMITS.topicNameMax);
  const many = <T>(make: (i: number) => T) => Array.from({ length: REQUEST_LIMITS.partitionsMax }, (_, i) => make(i));

  it.each([
    [
      '/fetch',
      {
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1,
        rack: 'rack-1',
        partitions: many((i) => ({ topic: longTopic(i), partition: 999_999, offset: 2 ** 52, maxBytes: 0x7fffffff, currentLeaderEpoch: 0x7fffffff })),
      },
    ],
    [
      '/replica/fetch',
      {
        brokerId: 1,
        brokerEpoch: 0x7fffffff,
        maxWaitMs: 0,
        maxBytes: 1,
        partitions: many((i) => ({
          topic: longTopic(i),
          partition: 999_999,
          fetchOffset: 2 ** 52,
          lastFetchedEpoch: 0x7fffffff,
          currentLeaderEpoch: 0x7fffffff,
        })),
      },
    ],
    ['/list-offsets', { partitions: many((i) => ({ topic: longTopic(i), partition: 999_999, timestamp: 2 ** 52 })) }],
    ['/metadata', { topics: many(longTopic) }],
    ['/produce', { acks: 1, timeoutMs: 300_000, partitions: many((i) => ({ topic: longTopic(i), partition: 999_999, records: batch(['x']) })) }],
  ])('accepts the largest legitimate %s body (partitionsMax entries, longest topic names)', async (url, body) => {
    const r = await raw(url, encodeMsgpack(body));
    expect(r.status, JSON.stringify(r.body).slice(0, 200)).toBe(200);
  });

  it('accepts a produce body of a whole producer request (8 MiB of batches)', async () => {
    const records = batch(['x'.repeat(1024 * 1024 - 200)]);
    const body = { acks: 1, timeoutMs: 1000, partitions: Array.from({ length: 8 }, () => ({ topic: 'solo', partition: 0, records })) };
    const r = await core.post('/produce', body);
    expect(r.status).toBe(200);
    expect(r.body.partitions.every((p: { error?: unknown }) => p.error === undefined)).toBe(true);
  });

  const tinyMaps = (n: number) =>
    Buffer.concat([
      Buffer.from([0x81, 0xaa]),
      Buffer.from('partitions'),
      Buffer.from([0xdd, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]),
      Buffer.alloc(n, 0x80),
    ]);
  const nested = (n: number) => Buffer.concat([Buffer.alloc(n, 0x91), Buffer.from([0xc0])]);

  it.each(['/produce', '/fetch', '/replica/fetch', '/list-offsets', '/metadata', '/describe-replicas', '/admin/create-topic'])(
    '%s refuses many tiny values, deep nesting and an oversize body, naming the limit, and writes nothing',
    async (url) => {
      const tiny = await raw(url, tinyMaps(url === '/describe-replicas' || url.startsWith('/admin') ? 60_000 : 1_000_000));
      expect(tiny).toMatchObject({
        status: 400,
        body: { code: 'INVALID_REQUEST', message: expect.stringMatching(/holds more than \d+ values \(elementsMax\)/) },
      });
      expect(tiny.body.message).toContain(url.startsWith('/admin') ? 'POST /admin/:op' : `POST ${url}`);
      const deep = await raw(url, nested(10_000));
      expect(deep).toMatchObject({ status: 400, body: { code: 'INVALID_REQUEST', message: expect.stringContaining('deeper than 8 (depthMax)') } });
      const big = await raw(url, encodeMsgpack({ blob: Buffer.alloc(url === '/produce' ? 16 * 1024 * 1024 : 4 * 1024 * 1024) }));
      expect(big).toMatchObject({ status: 413, body: { code: 'MESSAGE_TOO_LARGE', message: expect.stringContaining('bodyBytesMax') } });
      expect(core.rm.getPartition('solo', 0)!.log.logEndOffset).toBe(0);
      expect((await produce1()).status).toBe(200);
    },
  );
  const produce1 = () => core.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: 'solo', partition: 0, records: batch(['after']) }] });
});

describe('limit metrics', () => {
  it('exports the process budget: open and refused connections, bytes in flight, requests waiting', async () => {
    const budget = createServerBudget({ connectionsMax: 2, requestBytesInFlightMax: 100 });
    const metrics = new BrokerMetrics({ brokerId: 7, rack: 'rack-1' }, () => undefined);
    metrics.watchBudget(budget);
    budget.connections.tryOpen();
    budget.connections.tryOpen();
    budget.connections.tryOpen();
    budget.bytes.acquire(80, () => {});
    budget.bytes.acquire(30, () => {});
    const text = await metrics.text();
    expect(text).toMatch(/^tributary_connections_open\{.*\} 2$/m);
    expect(text).toMatch(/^tributary_connections_refused_total\{.*\} 1$/m);
    expect(text).toMatch(/^tributary_request_bytes_in_flight\{.*\} 80$/m);
    expect(text).toMatch(/^tributary_requests_waiting_for_bytes\{.*\} 1$/m);
  });
});

describe('fetch sizes: Kafka clamps to fetch.max.bytes rather than refusing', () => {
  const FETCH_BYTES_MAX = 55 * 1024 * 1024;
  it.each([
    ['defaults: fetch.max.bytes 50 MiB, max.partition.fetch.bytes 1 MiB', {}, {}, { minBytes: 1, maxBytes: 50 * 1024 * 1024, partition: 1024 * 1024 }],
    [
      'a 256 MiB ask is clamped to 55 MiB',
      { maxBytes: 256 * 1024 * 1024, minBytes: 256 * 1024 * 1024 },
      { maxBytes: 256 * 1024 * 1024 },
      { minBytes: FETCH_BYTES_MAX, maxBytes: FETCH_BYTES_MAX, partition: FETCH_BYTES_MAX },
    ],
    [
      'the int32 maximum is clamped too',
      { maxBytes: 0x7fffffff },
      { maxBytes: 0x7fffffff },
      { minBytes: 1, maxBytes: FETCH_BYTES_MAX, partition: FETCH_BYTES_MAX },
    ],
    ['smaller asks are kept', { maxBytes: 1000, minBytes: 10 }, { maxBytes: 100 }, { minBytes: 10, maxBytes: 1000, partition: 100 }],
  ])('%s', (_name, top, entry, expected) => {
    const input = parseFetch({ ...top, partitions: [{ topic: 't', partition: 0, offset: 0, ...entry }] }, FETCH_BYTES_MAX);
    expect({ minBytes: input.minBytes, maxBytes: input.maxBytes, partition: input.partitions[0]!.maxBytes }).toEqual(expected);
  });

  it('clamps a follower fetch as well, and still refuses what is not an int32', () => {
    const body = { brokerId: 1, brokerEpoch: 0, maxBytes: 0x7fffffff, partitions: [] };
    expect(parseReplicaFetch(body, FETCH_BYTES_MAX).maxBytes).toBe(FETCH_BYTES_MAX);
    expect(() => parseReplicaFetch({ ...body, maxBytes: 2 ** 31 }, FETCH_BYTES_MAX)).toThrow(/'maxBytes' must be an integer in \[1, 2147483647\]/);
    expect(() => parseFetch({ maxBytes: 2 ** 40, partitions: [] }, FETCH_BYTES_MAX)).toThrow(/'maxBytes'/);
  });
});

describe('route table', () => {
  it('registers exactly the routes protocol lists in BROKER_ROUTES (the abuse suite walks that table)', async () => {
    const core = await makeCore();
    try {
      expect(
        registeredRoutes(core.app)
          .map((r) => `${r.method} ${r.url}`)
          .sort(),
      ).toEqual(BROKER_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    } finally {
      await core.close();
    }
  });

  it("an external listener registers every route but the followers' (listenerRoutes)", async () => {
    const core = await makeCore({ listener: 'external' });
    try {
      expect(
        registeredRoutes(core.app)
          .map((r) => `${r.method} ${r.url}`)
          .sort(),
      ).toEqual(
        listenerRoutes('broker', 'external')
          .map((r) => `${r.method} ${r.path}`)
          .sort(),
      );
      expect(listenerRoutes('broker', 'external').some((r) => r.path === '/replica/fetch')).toBe(false);
    } finally {
      await core.close();
    }
  });
});
