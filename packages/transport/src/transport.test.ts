import { getEventListeners } from 'node:events';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MSGPACK_CONTENT_TYPE, TributaryError, decodeMsgpack, encodeMsgpack, asBody, intField } from '@tributary/protocol';
import { createMsgpackServer, type MsgpackServer } from './server.ts';
import { RpcClient, parseEndpoint } from './client.ts';

describe('msgpack over HTTP', () => {
  let app: MsgpackServer;
  let client: RpcClient;
  let hits = 0;

  beforeAll(async () => {
    app = createMsgpackServer({ limits: { body: { bodyBytesMax: 1024 } } });
    app.post('/echo', async (request) => {
      const body = asBody(request.body);
      return { n: intField(body, 'n', { min: 0 }), blob: body.blob };
    });
    app.post('/fail', async () => {
      throw new TributaryError('NOT_ENOUGH_REPLICAS', 'isr 1 < min.insync.replicas 2');
    });
    app.post('/slow', async () => new Promise((resolve) => setTimeout(() => resolve({}), 500)));
    app.post('/hit', async () => ({ hits: ++hits }));
    app.post('/bug', async () => {
      throw new Error('boom');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address() as { port: number };
    client = new RpcClient({ host: '127.0.0.1', port: address.port });
  });
  afterAll(async () => {
    await client.close();
    await app.close();
  });

  it('round-trips a body with binary data', async () => {
    const res = await client.call<{ n: number; blob: Buffer }>('/echo', { n: 7, blob: Buffer.from([1, 2, 3]) });
    expect(res.n).toBe(7);
    expect(Buffer.from(res.blob)).toEqual(Buffer.from([1, 2, 3]));
  });

  it('turns a server error into a TributaryError with its code', async () => {
    await expect(client.call('/fail', {})).rejects.toMatchObject({ code: 'NOT_ENOUGH_REPLICAS', retriable: true });
  });

  it('answers wrong field types with INVALID_REQUEST naming the field', async () => {
    await expect(client.call('/echo', { n: 'seven' })).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining("'n'") });
    await expect(client.call('/echo', [1, 2])).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('refuses malformed msgpack, other content types and oversize bodies', async () => {
    const garbage = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': MSGPACK_CONTENT_TYPE },
      payload: Buffer.from([0xc1, 0xff, 0x00]),
    });
    expect(garbage.statusCode).toBe(400);
    expect(decodeMsgpack(garbage.rawPayload)).toMatchObject({ code: 'INVALID_REQUEST' });
    const json = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"n":1}' });
    expect(decodeMsgpack(json.rawPayload)).toMatchObject({ code: 'INVALID_REQUEST' });
    const big = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': MSGPACK_CONTENT_TYPE },
      payload: encodeMsgpack({ n: 1, blob: Buffer.alloc(4096) }),
    });
    expect(decodeMsgpack(big.rawPayload)).toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    const missing = await app.inject({ method: 'POST', url: '/nope', headers: { 'content-type': MSGPACK_CONTENT_TYPE }, payload: encodeMsgpack({}) });
    expect(missing.statusCode).toBe(404);
  });

  it('refuses a streamed (chunked) body that grows past the limit, and keeps serving', async () => {
    const { port } = app.server.address() as { port: number };
    const answer = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/echo', headers: { 'content-type': MSGPACK_CONTENT_TYPE } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      // No content-length: the limit is only found out while reading, chunk by chunk.
      const body = encodeMsgpack({ n: 1, blob: Buffer.alloc(3000) });
      for (let i = 0; i < body.length; i += 500) req.write(body.subarray(i, i + 500));
      req.end();
    });
    expect(answer.status).toBe(413);
    expect(decodeMsgpack(answer.body)).toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    // A body in several chunks under the limit is joined whole.
    const blob = Buffer.from(Array.from({ length: 900 }, (_, i) => i & 0xff));
    const res = await client.call<{ n: number; blob: Buffer }>('/echo', { n: 2, blob });
    expect(Buffer.from(res.blob)).toEqual(blob);
  });

  it('reports an unexpected server error as UNKNOWN_SERVER_ERROR and keeps serving', async () => {
    await expect(client.call('/bug', {})).rejects.toMatchObject({ code: 'UNKNOWN_SERVER_ERROR' });
    await expect(client.call('/echo', { n: 1 })).resolves.toMatchObject({ n: 1 });
  });

  it('times out with REQUEST_TIMED_OUT and reports a dead peer as BROKER_NOT_AVAILABLE', async () => {
    await expect(client.call('/slow', {}, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'REQUEST_TIMED_OUT' });
    const dead = new RpcClient({ host: '127.0.0.1', port: 1 });
    await expect(dead.call('/echo', {})).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
    await dead.close();
  });

  it('a call queued behind a busy connection meets its deadline, and is never sent', async () => {
    const single = new RpcClient({ host: '127.0.0.1', port: (app.server.address() as { port: number }).port }, { connectionsMax: 1 });
    try {
      const before = hits;
      const slow = single.call('/slow', {});
      const started = performance.now();
      await expect(single.call('/hit', {}, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'REQUEST_TIMED_OUT' });
      expect(performance.now() - started).toBeLessThan(400);
      await slow;
      await expect(single.call<{ hits: number }>('/hit', {})).resolves.toEqual({ hits: before + 1 });
    } finally {
      await single.close();
    }
  });

  it('a caller abort mid-call rejects at once, and the client keeps working', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const call = client.call('/slow', {}, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop')), 20);
    await expect(call).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
    expect(performance.now() - started).toBeLessThan(400);
    await expect(client.call('/echo', { n: 2 })).resolves.toMatchObject({ n: 2 });
  });

  it('a long-lived signal carried by many calls: one listener on it, and aborting it stops every call still in flight', async () => {
    const controller = new AbortController();
    for (let i = 0; i < 50; i++) await client.call('/echo', { n: i }, { signal: controller.signal });
    // However many calls it carried, the signal has one listener (added on its first call).
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    const slow = [client.call('/slow', {}, { signal: controller.signal }), client.call('/slow', {}, { signal: controller.signal })];
    const done = client.call('/echo', { n: 7 }, { signal: controller.signal });
    await expect(done).resolves.toMatchObject({ n: 7 });
    setTimeout(() => controller.abort(new Error('stop')), 20);
    for (const call of slow) await expect(call).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
    // An aborted signal fails a new call at once.
    await expect(client.call('/echo', { n: 1 }, { signal: controller.signal })).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
    await expect(client.call('/echo', { n: 2 })).resolves.toMatchObject({ n: 2 });
  });

  it('parses host:port and rejects anything else', () => {
    expect(parseEndpoint('127.0.0.1:19092')).toEqual({ host: '127.0.0.1', port: 19092 });
    expect(parseEndpoint('broker-3:9092')).toEqual({ host: 'broker-3', port: 9092 });
    expect(() => parseEndpoint('localhost')).toThrow(TributaryError);
    expect(() => parseEndpoint('h:99999')).toThrow(/host:port/);
    // Two brokers in one entry, or a URL, is not one host:port.
    expect(() => parseEndpoint('a:1,b:2')).toThrow(/'a:1,b:2' is not host:port/);
    expect(() => parseEndpoint('http://h:1')).toThrow(/host:port/);
  });
});

describe('msgpack over HTTP with large binary parts', () => {
  let app: MsgpackServer;
  let client: RpcClient;

  beforeAll(async () => {
    app = createMsgpackServer({ limits: { body: { bodyBytesMax: 8 * 1024 * 1024 } } });
    // Large answers travel as parts (a streamed answer with a content-length): the bytes must
    // arrive whole and in order, and the caller's signal still aborts.
    app.post('/echo', async (request) => {
      const body = asBody(request.body);
      return { blobs: body.blobs, tail: 'end' };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    client = new RpcClient({ host: '127.0.0.1', port: (app.server.address() as { port: number }).port });
  });
  afterAll(async () => {
    await client.close();
    await app.close();
  });

  it('round-trips several large blobs byte for byte', async () => {
    const blobs = [300_000, 5, 70_000, 2_048, 1_000_000].map((n, i) => Buffer.alloc(n, i + 1));
    blobs[4]!.writeUInt32BE(0xdeadbeef, 999_000);
    const res = await client.call<{ blobs: Buffer[]; tail: string }>('/echo', { blobs });
    expect(res.tail).toBe('end');
    expect(res.blobs.map((b) => Buffer.from(b))).toEqual(blobs);
    const raw = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': MSGPACK_CONTENT_TYPE }, payload: encodeMsgpack({ blobs }) });
    expect(Number(raw.headers['content-length'])).toBe(raw.rawPayload.length);
    expect(raw.headers['content-type']).toBe(MSGPACK_CONTENT_TYPE);
    expect((decodeMsgpack(raw.rawPayload) as { blobs: Buffer[] }).blobs.map((b) => Buffer.from(b))).toEqual(blobs);
  });

  it('settles a call whose answer stops half-way: the peer dies, or the deadline passes mid-body', async () => {
    const { createServer } = await import('node:net');
    // A raw peer that sends headers and part of a 64 KiB body, then either hangs or hangs up.
    const serve = (hangUp: boolean) =>
      createServer((socket) => {
        socket.once('data', () => {
          socket.write(`HTTP/1.1 200 OK\r\ncontent-type: ${MSGPACK_CONTENT_TYPE}\r\ncontent-length: 65536\r\n\r\n`);
          socket.write(Buffer.alloc(1000, 0xc4));
          if (hangUp) setTimeout(() => socket.destroy(), 50);
        });
      }).listen(0, '127.0.0.1');
    for (const hangUp of [true, false]) {
      const server = serve(hangUp);
      await new Promise((r) => server.once('listening', r));
      const peer = new RpcClient({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
      await expect(peer.call('/x', {}, { timeoutMs: 1000 })).rejects.toMatchObject({ code: hangUp ? 'BROKER_NOT_AVAILABLE' : 'REQUEST_TIMED_OUT' });
      await peer.close();
      server.close();
    }
  });

  it('aborts on the caller signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(client.call('/echo', { blobs: [] }, { signal: controller.signal })).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
  });
});

describe('the ordered lane (one connection, pipelined)', () => {
  let app: MsgpackServer;
  let client: RpcClient;
  let arrivals: number[] = [];
  let connections = 0;
  let killNext = false;

  beforeAll(async () => {
    app = createMsgpackServer({ limits: { body: { bodyBytesMax: 4 * 1024 * 1024 } } });
    app.server.on('connection', () => connections++);
    // Records the order handlers see the calls in, then answers after a random pause, so that
    // later calls are handled while earlier ones still wait (as acks=all produce requests do).
    app.post('/append', async (request) => {
      const n = intField(asBody(request.body), 'n', { min: 0 });
      arrivals.push(n);
      if (killNext) {
        killNext = false;
        request.raw.socket.destroy();
        return new Promise(() => {});
      }
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 4)));
      return { n };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    client = new RpcClient({ host: '127.0.0.1', port: (app.server.address() as { port: number }).port }, { orderedInFlightMax: 5 });
  });
  afterAll(async () => {
    await client.close();
    await app.close();
  });

  it('delivers calls in the order they were made, over one connection, small and large bodies alike', async () => {
    arrivals = [];
    connections = 0;
    const calls = Array.from({ length: 300 }, (_, n) =>
      client.call<{ n: number }>('/append', { n, blob: Buffer.alloc(n % 7 === 0 ? 300_000 : 100, n) }, { ordered: true }),
    );
    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.n)).toEqual(Array.from({ length: 300 }, (_, n) => n));
    expect(arrivals).toEqual(Array.from({ length: 300 }, (_, n) => n));
    expect(connections).toBe(1);
  });

  it('when the connection drops, the oldest call fails and the rest go again, in order, on a new one', async () => {
    await client.call('/append', { n: 0 }, { ordered: true }); // the lane's connection is open
    arrivals = [];
    connections = 0;
    killNext = true;
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, n) => client.call<{ n: number }>('/append', { n }, { ordered: true, timeoutMs: 5000 })),
    );
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { code: 'BROKER_NOT_AVAILABLE' } });
    expect(results.slice(1).map((r) => (r.status === 'fulfilled' ? r.value.n : r.reason))).toEqual([1, 2, 3, 4]);
    expect(connections).toBe(1);
    // Whatever the first connection had read before it died, the new one saw 1..4 in order.
    const retried = arrivals.slice(arrivals.lastIndexOf(1));
    expect(retried).toEqual([1, 2, 3, 4]);
  });
});
