// The Kafka listener's edge on its own (a stub in place of KafkaApis): answers in order, KIP-511,
// bad frames closing the connection, the shared connection and bytes-in-flight limits, and a
// frame that never completes.

import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameDecoder, decodeResponse, encodeRequest, type Message, type RequestHeaderValue } from '@tributary/kafka';
import { createServerBudget, type ServerBudget } from '@tributary/transport/server';
import { API_VERSIONS_BODY, type KafkaApis } from './kafka-apis.ts';
import { KafkaListener } from './kafka-listener.ts';

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const listeners: KafkaListener[] = [];

afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});

async function start(options: {
  budget?: ServerBudget;
  handle?: (h: RequestHeaderValue, body: Message) => Promise<Message | undefined>;
  requestTimeoutMs?: number;
}) {
  const apis = {
    handle: options.handle ?? (async (h: RequestHeaderValue) => (h.apiKey === 18 ? API_VERSIONS_BODY : { throttleTimeMs: 0, errorCode: 0 })),
  } as unknown as KafkaApis;
  const listener = new KafkaListener({
    name: 'internal',
    apis,
    budget: options.budget ?? createServerBudget({ connectionsMax: 100, requestBytesInFlightMax: 1 << 20 }),
    frameBytesMax: 64 * 1024,
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    idleTimeoutMs: 60_000,
    logger: silent,
    onUnexpectedError: (err) => {
      throw err;
    },
  });
  listeners.push(listener);
  const { port } = await listener.listen({ host: '127.0.0.1', port: 0 });
  return port;
}

/** A client connection collecting response frames, and whether the server closed it. */
function client(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  const decoder = new FrameDecoder(1 << 24);
  const frames: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (let f = decoder.next(); f !== undefined; f = decoder.next()) frames.push(f);
  });
  socket.on('error', () => {});
  const closedP = new Promise<void>((resolve) =>
    socket.on('close', () => {
      closed = true;
      resolve();
    }),
  );
  return { socket, frames, closed: () => closed, closedP };
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const heartbeat = (correlationId: number) =>
  encodeRequest({ apiKey: 12, apiVersion: 3, correlationId, clientId: 'c' }, { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null });

describe('KafkaListener', () => {
  it('answers pipelined requests one at a time, in the order sent, whatever each takes', async () => {
    const started: number[] = [];
    const port = await start({
      handle: async (h) => {
        started.push(h.correlationId);
        await new Promise((r) => setTimeout(r, (h.correlationId % 3) * 15));
        return { throttleTimeMs: 0, errorCode: 0 };
      },
    });
    const c = client(port);
    c.socket.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => heartbeat(i))));
    await until(() => c.frames.length === 10);
    expect(c.frames.map((f) => decodeResponse(12, 3, f).correlationId)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    c.socket.destroy();
  });

  it('answers an ApiVersions of an unknown version in v0 with UNSUPPORTED_VERSION (KIP-511), and closes on other unadvertised versions', async () => {
    const port = await start({});
    const c = client(port);
    const future = encodeRequest({ apiKey: 18, apiVersion: 3, correlationId: 4, clientId: 'c' }, { clientSoftwareName: 'a', clientSoftwareVersion: 'b' });
    future.writeInt16BE(42, 6);
    c.socket.write(future);
    await until(() => c.frames.length === 1);
    expect(decodeResponse(18, 0, c.frames[0]!).body.errorCode).toBe(35);
    // Metadata v13, one past the advertised 0-12.
    const unadvertised = encodeRequest({ apiKey: 3, apiVersion: 12, correlationId: 5, clientId: null }, { topics: null });
    unadvertised.writeInt16BE(13, 6);
    c.socket.write(unadvertised);
    await c.closedP;
  });

  it.each([
    ['a 2 GB size prefix', Buffer.from('7fffffff00000000', 'hex')],
    ['a negative size', Buffer.from('ffffffff', 'hex')],
    ['a size past the frame limit', Buffer.from('00010001', 'hex')],
    ['an unknown api key', Buffer.from('0000000800630000000000010000', 'hex')],
  ])('closes the connection on %s', async (_name, bytes) => {
    const port = await start({});
    const c = client(port);
    c.socket.write(bytes);
    await c.closedP;
    expect(c.frames).toEqual([]);
  });

  it('closes a connection whose frame does not complete within the request timeout', async () => {
    const port = await start({ requestTimeoutMs: 200 });
    const c = client(port);
    c.socket.write(heartbeat(1).subarray(0, 10));
    const t0 = Date.now();
    await c.closedP;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
  });

  it('refuses connections past connectionsMax, shared with the other listeners', async () => {
    const budget = createServerBudget({ connectionsMax: 16, requestBytesInFlightMax: 1 << 20 });
    for (let i = 0; i < 15; i++) expect(budget.connections.tryOpen()).toBe(true);
    const port = await start({ budget });
    const first = client(port);
    first.socket.write(heartbeat(1));
    await until(() => first.frames.length === 1);
    const second = client(port);
    await second.closedP;
    first.socket.destroy();
    await until(() => budget.connections.open === 15);
  });

  it("holds a frame's bytes against the budget until it is handled, and reads no further while the budget is full", async () => {
    const budget = createServerBudget({ connectionsMax: 100, requestBytesInFlightMax: 1 << 20 });
    // Someone else holds all but 100 bytes of the budget.
    const held = budget.bytes.acquire((1 << 20) - 100, () => {});
    const handled: number[] = [];
    const port = await start({
      budget,
      handle: async (h) => {
        handled.push(h.correlationId);
        return { throttleTimeMs: 0, errorCode: 0 };
      },
    });
    const c = client(port);
    const big = encodeRequest(
      { apiKey: 12, apiVersion: 3, correlationId: 7, clientId: 'x'.repeat(2000) },
      { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null },
    );
    c.socket.write(big);
    await new Promise((r) => setTimeout(r, 200));
    expect(handled).toEqual([]);
    expect(budget.bytes.waiting).toBe(1);
    held.release();
    await until(() => c.frames.length === 1);
    expect(handled).toEqual([7]);
    await until(() => budget.bytes.inFlight === 0);
    c.socket.destroy();
  });

  it('gives a waiting claim back when its connection closes, so it holds no one else up', async () => {
    const budget = createServerBudget({ connectionsMax: 100, requestBytesInFlightMax: 1 << 20 });
    const held = budget.bytes.acquire((1 << 20) - 100, () => {});
    const port = await start({ budget });
    const c = client(port);
    c.socket.write(
      encodeRequest(
        { apiKey: 12, apiVersion: 3, correlationId: 7, clientId: 'x'.repeat(2000) },
        { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null },
      ),
    );
    await until(() => budget.bytes.waiting === 1);
    c.socket.destroy();
    await until(() => budget.bytes.waiting === 0);
    held.release();
    expect(budget.bytes.inFlight).toBe(0);
  });
});
